/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: raw instructions through the loader and, when accepted, both engines with their
 * checks (they must agree), then the verifier: a program it accepts must not fault on memory
 * with the checks and must run the same without them (ASan watches the interpreter; the guard
 * bytes watch JIT code, which ASan does not instrument). The
 * input memory sits between guard bytes that must come out untouched. A program whose
 * outcome moves with its frame's address is run, but its engines are not compared.
 */
#include <alloca.h>
#include <stdbool.h>
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

/*
 * The interpreter's runs with its stack further down: a program whose outcome moves with it
 * computes with addresses (r10 ^ 64 lands inside the stack or past it as bit 6 of the frame
 * says), and the engines' frames lie at different addresses: such a program is not compared.
 * Several depths, so that each low bit of the frame's address flips in one of them.
 */
static __attribute__((noinline)) void run_deeper(struct csd_ebpf_prog *prog, size_t depth,
						 struct outcome *o)
{
	volatile char *pad = alloca(depth);

	pad[0] = 0;
	run(prog, CSD_EBPF_ENGINE_INTERP, true, o);
}

static bool address_dependent(struct csd_ebpf_prog *prog, const struct outcome *interp)
{
	static const size_t depths[] = { 16, 32, 64, 128, 256, 512, 1024, 2048, 4096 + 1712 };

	for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		struct outcome deeper;

		run_deeper(prog, depths[i], &deeper);
		if (deeper.err != interp->err || deeper.kind != interp->kind ||
		    deeper.r0 != interp->r0 || memcmp(deeper.mem, interp->mem, 64))
			return true;
	}
	return false;
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
	bool deterministic = true, moves;

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
		moves = deterministic && interp.kind != CSD_EBPF_FAULT_BUDGET &&
			address_dependent(prog, &interp);
		if (csd_ebpf_jit_available()) {
			run(prog, CSD_EBPF_ENGINE_JIT, true, &other);
			if (!moves)
				expect_same(&interp, &other, deterministic);
		}
		/* unchecked code has no budget: run it only when the checked run finished */
		if (interp.kind != CSD_EBPF_FAULT_BUDGET && !csd_ebpf_prog__verify(prog, NULL)) {
			if (interp.err)
				abort();	/* the verifier accepted a program that faults */
			run(prog, CSD_EBPF_ENGINE_INTERP, false, &other);
			if (!moves)
				expect_same(&interp, &other, deterministic);
			if (csd_ebpf_jit_available()) {
				run(prog, CSD_EBPF_ENGINE_JIT, false, &other);
				if (!moves)
					expect_same(&interp, &other, deterministic);
			}
		}
		csd_ebpf_prog__free(prog);
	}
	free(insns);
	return 0;
}
