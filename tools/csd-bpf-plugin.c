/* SPDX-License-Identifier: MIT */
/*
 * The bpf_conformance plugin protocol, so that the public conformance runner can measure
 * csdlab's runtime directly (docs/ebpf-runtime.md):
 *   argv[1]  the input memory as hex bytes (absent when the test has none)
 *   stdin    the program as hex bytes ("b7  00  00 ...")
 *   stdout   r0 in hex on success, exit 0
 *   stderr   why the program was refused or faulted, exit 1
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "csd/ebpf.h"
#include "util.h"

int main(int argc, char **argv)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts);
	CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts);
	struct csd_ebpf_prog *prog;
	uint8_t *text, *code, *mem = NULL;
	long code_len, mem_len = 0;
	char log[512] = "";
	size_t text_len;
	uint64_t r0;
	int err;

	if (csd_read_file("-", &text, &text_len)) {
		fprintf(stderr, "cannot read the program from stdin\n");
		return 1;
	}
	code_len = csd_hex_parse((const char *)text, false, &code, log, sizeof(log));
	free(text);
	if (code_len < 0 || code_len % 8) {
		fprintf(stderr, "program: %s\n", code_len < 0 ? log : "not whole instructions");
		return 1;
	}
	if (argc > 1 && argv[1][0]) {
		mem_len = csd_hex_parse(argv[1], false, &mem, log, sizeof(log));
		if (mem_len < 0) {
			fprintf(stderr, "memory: %s\n", log);
			free(code);
			return 1;
		}
	}
	lopts.log_buf = log;
	lopts.log_size = sizeof(log);
	err = csd_ebpf_prog__load((const struct csd_ebpf_insn *)code, (size_t)code_len / 8,
				  &lopts, &prog);
	free(code);
	if (err) {
		fprintf(stderr, "refused: %s\n", log);
		free(mem);
		return 1;
	}
	err = csd_ebpf_prog__run(prog, mem, (size_t)mem_len, &ropts, &r0);
	if (err)
		fprintf(stderr, "fault: %s\n", ropts.fault.msg);
	else
		printf("0x%" PRIx64 "\n", r0);
	csd_ebpf_prog__free(prog);
	free(mem);
	return err ? 1 : 0;
}
