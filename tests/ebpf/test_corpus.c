// SPDX-License-Identifier: MIT
/*
 * The corpus of realistic drive programs (programs/corpus/): each one, as written, must be
 * proven by the verifier, and must compute in every engine (the interpreter with checks, JIT
 * code with checks, verified JIT code sandboxed) exactly what the same C file computes built
 * by gcc for the host, over its kind of input at lengths around its edges.
 *
 * argv[1]: the directory with NAME.bpf.o and NAME.gcc.so (build/programs/corpus).
 */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "corpus.h"
#include "csd/ebpf.h"
#include "../../src/ebpf/ebpf_internal.h"

static const char *dir;

/* lengths around the programs' own constants (5, 16, 32, 64, 512) and some larger */
static const size_t lengths[] = { 0, 1, 4, 5, 15, 16, 17, 63, 64, 65, 511, 512, 513, 1000,
				  4099, 70001 };

static void test_program(void **state)
{
	const struct corpus_prog *c = *state;
	char log[1024] = "";
	struct csd_ebpf_prog *prog;
	uint8_t *input, *box;
	uint64_t steps;
	double ms;
	void *lib;
	corpus_native_fn native;

	prog = corpus_load(dir, c->name, ".bpf.o", &steps, &ms, log, sizeof(log));
	if (!prog)
		fail_msg("%s", log);
	print_message("# %s: verified in %llu steps, %.1f ms\n", c->name,
		      (unsigned long long)steps, ms);
	native = corpus_native(dir, c->name, "gcc", &lib, log, sizeof(log));
	if (!native)
		fail_msg("%s", log);

	input = malloc(lengths[sizeof(lengths) / sizeof(lengths[0]) - 1]);
	assert_non_null(input);
	for (size_t k = 0; k < sizeof(lengths) / sizeof(lengths[0]); k++) {
		size_t len = lengths[k];

		corpus_gen(c->input, 1 + k, input, len);
		box = csd_ebpf_sandbox_alloc(len ? len : 1);
		assert_non_null(box);
		for (int e = 0; e < 3; e++) {
			CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts,
				      .engine = e == 0 ? CSD_EBPF_ENGINE_INTERP : CSD_EBPF_ENGINE_JIT,
				      .force_checks = e == 1, .budget = UINT64_C(1) << 40,
				      .args = { c->p1, c->p2 });
			uint64_t want, got = 0;
			int err;

			if (e && !csd_ebpf_jit_available())
				continue;
			/* native first: a program that keeps state in a map sees the same history */
			want = native(input, len, c->p1, c->p2);
			memcpy(box, input, len);
			err = csd_ebpf_prog__run(prog, box, len, &ropts, &got);
			if (err)
				fail_msg("%s, %zu bytes, %s: run stopped: %s", c->name, len,
					 e == 0 ? "interpreter" : e == 1 ? "JIT, checked" :
					 "JIT, verified", ropts.fault.msg);
			if (got != want)
				fail_msg("%s, %zu bytes, %s: r0 = %#llx, the C build says %#llx",
					 c->name, len, e == 0 ? "interpreter" : e == 1 ?
					 "JIT, checked" : "JIT, verified", (unsigned long long)got,
					 (unsigned long long)want);
			assert_memory_equal(box, input, len);	/* none writes its input */
		}
		csd_ebpf_sandbox_free(box);
	}
	free(input);
	dlclose(lib);
	csd_ebpf_prog__free(prog);
}

/*
 * Defence in depth over a global array: histogram_global as verified, then its index made
 * wrong behind the verifier's back (`b << 3` turned into `b << 24`, 16 MiB past the 2 KiB
 * table for a byte of 1). Its JIT code checks the load of `hist[b]` against the table, and
 * the increment's store reuses that check: the run must end in a memory fault at the load,
 * nothing written, in both kinds of verified code.
 */
static void test_wrong_proof_of_a_global_index(void **state)
{
	char log[1024] = "";
	uint64_t steps;
	double ms;
	struct csd_ebpf_prog *prog = corpus_load(dir, "histogram_global", ".bpf.o", &steps, &ms,
						 log, sizeof(log));
	uint8_t *box = csd_ebpf_sandbox_alloc(64), plain[64];
	size_t shift_pc = 0;

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	if (!prog)
		fail_msg("histogram_global: %s", log);
	assert_non_null(box);
	while (shift_pc < prog->insn_cnt && !(prog->insns[shift_pc].code == (BPF_ALU64 | BPF_LSH |
						BPF_K) && prog->insns[shift_pc].imm == 3))
		shift_pc++;
	assert_true(shift_pc < 8);	/* the first loop's `b << 3` */
	prog->insns[shift_pc].imm = 24;
	for (int sandboxed = 0; sandboxed < 2; sandboxed++) {
		uint8_t *mem = sandboxed ? box : plain;
		CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .engine = CSD_EBPF_ENGINE_JIT);
		uint64_t r0 = 7;
		const uint64_t *hist = (const uint64_t *)(const void *)prog->maps[0].values;

		memset(mem, 1, 64);
		assert_int_equal(csd_ebpf_prog__run(prog, mem, 64, &opts, &r0), -EFAULT);
		assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_MEMORY);
		assert_int_equal(opts.fault.pc, shift_pc + 4);	/* the load: lddw, add, load */
		assert_int_equal(r0, 0);
		for (int b = 0; b < 256; b++)
			assert_int_equal(hist[b], 0);
		for (int i = 0; i < 64; i++)
			assert_int_equal(mem[i], 1);
	}
	csd_ebpf_sandbox_free(box);
	csd_ebpf_prog__free(prog);
}

int main(int argc, char **argv)
{
	struct CMUnitTest *tests;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: test_corpus DIR\n");
		return 2;
	}
	dir = argv[1];
	tests = calloc(corpus_prog_cnt + 1, sizeof(*tests));
	if (!tests)
		return 1;
	for (size_t i = 0; i < corpus_prog_cnt; i++)
		tests[i] = (struct CMUnitTest){ .name = corpus_progs[i].name,
						.test_func = test_program,
						.initial_state = (void *)&corpus_progs[i] };
	tests[corpus_prog_cnt] = (struct CMUnitTest){ .name = "wrong_proof_of_a_global_index",
						      .test_func = test_wrong_proof_of_a_global_index };
	rc = _cmocka_run_group_tests("ebpf-corpus", tests, corpus_prog_cnt + 1, NULL, NULL);
	free(tests);
	return rc;
}
