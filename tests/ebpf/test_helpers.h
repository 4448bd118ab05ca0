/* SPDX-License-Identifier: MIT */
/* Shared by the eBPF unit tests: assemble-and-load, and read a file. */
#ifndef CSD_TEST_HELPERS_H
#define CSD_TEST_HELPERS_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "csd/ebpf.h"
#include "util.h"

/* Assemble `text` (must succeed) and load it; returns the load result, log in `log`. */
static inline int asm_load(const char *text, struct csd_ebpf_prog **prog, char *log, size_t size)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, opts, .log_buf = log, .log_size = size);
	struct csd_ebpf_insn *insns;
	size_t cnt;
	int err;

	log[0] = '\0';
	err = csd_ebpf_asm(text, &insns, &cnt, log, size);
	assert_int_equal(err, 0);
	err = csd_ebpf_prog__load(insns, cnt, &opts, prog);
	free(insns);
	return err;
}

static inline int raw_load(const struct csd_ebpf_insn *insns, size_t cnt,
			   struct csd_ebpf_prog **prog, char *log, size_t size)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, opts, .log_buf = log, .log_size = size);

	log[0] = '\0';
	return csd_ebpf_prog__load(insns, cnt, &opts, prog);
}

#endif
