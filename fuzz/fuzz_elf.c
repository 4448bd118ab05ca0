/* SPDX-License-Identifier: MIT */
/* libFuzzer: the ELF loader on any bytes; what loads is run with a small budget. */
#include <stdint.h>

#include "csd/ebpf.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts);
	CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts, .budget = 10000);
	struct csd_ebpf_prog *prog;
	uint8_t mem[64] = { 'A', 'l', 'p', 'h', 'a' };
	uint64_t r0;

	if (csd_ebpf_prog__load_elf(data, size, NULL, &lopts, &prog))
		return 0;
	csd_ebpf_prog__run(prog, mem, sizeof(mem), &ropts, &r0);
	csd_ebpf_prog__free(prog);
	return 0;
}
