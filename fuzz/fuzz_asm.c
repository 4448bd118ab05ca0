/* SPDX-License-Identifier: MIT */
/* libFuzzer: the assembler on any text, and the disassembler on what it produces. */
#include <stdlib.h>
#include <string.h>

#include "csd/ebpf.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = malloc(size + 1), err[256], line[128];
	struct csd_ebpf_insn *insns;
	size_t cnt;

	memcpy(text, data, size);
	text[size] = '\0';
	if (!csd_ebpf_asm(text, &insns, &cnt, err, sizeof(err))) {
		for (size_t pc = 0; pc < cnt; pc++)
			csd_ebpf_disasm_insn(&insns[pc], cnt - pc, line, sizeof(line));
		free(insns);
	}
	free(text);
	return 0;
}
