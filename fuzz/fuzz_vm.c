/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: raw instructions through the loader and, when accepted, the interpreter, over
 * input memory between guard bytes that must come out untouched (no escape from memory).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csd/ebpf.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts);
	CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts, .budget = 20000);
	static uint8_t area[64 + 64 + 64];
	struct csd_ebpf_prog *prog;
	struct csd_ebpf_insn *insns;
	uint64_t r0;

	if (size < 8 || size % 8)
		return 0;
	insns = malloc(size);
	memcpy(insns, data, size);
	if (!csd_ebpf_prog__load(insns, size / 8, &lopts, &prog)) {
		memset(area, 0xa5, sizeof(area));
		csd_ebpf_prog__run(prog, area + 64, 64, &ropts, &r0);
		for (int i = 0; i < 64; i++)
			if (area[i] != 0xa5 || area[128 + i] != 0xa5)
				abort();	/* a write outside the input */
		csd_ebpf_prog__free(prog);
	}
	free(insns);
	return 0;
}
