/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: raw instructions through the loader and, when accepted, both engines with their
 * checks (they must agree), then the verifier: a program it accepts must not fault on memory
 * with the checks and must run the same without them (ASan watches the interpreter; the guard
 * bytes watch JIT code, which ASan does not instrument). The
 * input memory sits between guard bytes that must come out untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csd/ebpf.h"

struct outcome {
	int err;
	uint64_t r0;
	enum csd_ebpf_fault_kind kind;
	uint8_t mem[64];
};

static void run(struct csd_ebpf_prog *prog, enum csd_ebpf_engine engine, bool checks,
		struct outcome *o)
{
	CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts, .budget = 20000, .engine = engine,
		      .force_checks = checks);
	static uint8_t area[64 + 64 + 64];

	memset(area, 0xa5, sizeof(area));
	o->err = csd_ebpf_prog__run(prog, area + 64, 64, &ropts, &o->r0);
	o->kind = ropts.fault.kind;
	for (int i = 0; i < 64; i++)
		if (area[i] != 0xa5 || area[128 + i] != 0xa5)
			abort();	/* a write outside the input */
	memcpy(o->mem, area + 64, 64);
}

/* Same result unless a budget stopped either (the engines count budgets differently). */
static void expect_same(const struct outcome *a, const struct outcome *b, bool deterministic)
{
	if (a->kind == CSD_EBPF_FAULT_BUDGET || b->kind == CSD_EBPF_FAULT_BUDGET)
		return;
	if (a->err != b->err || a->kind != b->kind || memcmp(a->mem, b->mem, 64) ||
	    (deterministic && a->r0 != b->r0))
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts);
	struct outcome interp, other;
	struct csd_ebpf_prog *prog;
	struct csd_ebpf_insn *insns;
	bool deterministic = true;

	if (size < 8 || size % 8)
		return 0;
	insns = malloc(size);
	memcpy(insns, data, size);
	for (size_t i = 0; i < size / 8; i++)	/* the clock, random numbers, callx: vary */
		if ((insns[i].code == 0x85 && insns[i].src_reg == 0 &&
		     (insns[i].imm == CSD_EBPF_HELPER_KTIME_GET_NS ||
		      insns[i].imm == CSD_EBPF_HELPER_GET_PRANDOM_U32)) || insns[i].code == 0x8d)
			deterministic = false;
	if (!csd_ebpf_prog__load(insns, size / 8, &lopts, &prog)) {
		run(prog, CSD_EBPF_ENGINE_INTERP, true, &interp);
		if (csd_ebpf_jit_available()) {
			run(prog, CSD_EBPF_ENGINE_JIT, true, &other);
			expect_same(&interp, &other, deterministic);
		}
		/* unchecked code has no budget: run it only when the checked run finished */
		if (interp.kind != CSD_EBPF_FAULT_BUDGET && !csd_ebpf_prog__verify(prog, NULL)) {
			if (interp.err)
				abort();	/* the verifier accepted a program that faults */
			run(prog, CSD_EBPF_ENGINE_INTERP, false, &other);
			expect_same(&interp, &other, deterministic);
			if (csd_ebpf_jit_available()) {
				run(prog, CSD_EBPF_ENGINE_JIT, false, &other);
				expect_same(&interp, &other, deterministic);
			}
		}
		csd_ebpf_prog__free(prog);
	}
	free(insns);
	return 0;
}
