/* SPDX-License-Identifier: MIT */
/*
 * Bounded, seeded robustness: random instruction streams, and the conformance programs with
 * bits flipped, go through the loader and, when accepted, the interpreter with a small budget.
 * Nothing may crash, and no run may write outside what it was given: the input sits between
 * guard zones that are checked after every run (and ASan watches the rest under
 * `make check-sanitize`). Every program the verifier accepts must also never fault on memory
 * when run with the checks, and must give the same result and memory without them.
 * argv[1] = the bpf-conformance directory, argv[2] = iterations.
 */
#include <dirent.h>
#include <linux/bpf.h>
#include <stdio.h>

#include "conformance_runner.h"
#include "test_helpers.h"

#define GUARD 64
#define MEM_LEN 64

static const char *conformance_dir;
static unsigned long iterations = 20000;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next(void)
{
	return csd_xorshift64(&rng);
}

struct stats {
	unsigned long loaded, refused, ran, faulted, verified;
};

/* One run between guard zones; returns the run's result code, r0 and the memory after. */
static int run_guarded(struct csd_ebpf_prog *prog, enum csd_ebpf_engine engine,
		       bool force_checks, uint64_t *r0, uint8_t mem_after[MEM_LEN],
		       enum csd_ebpf_fault_kind *kind, char *msg)
{
	static uint8_t area[GUARD + MEM_LEN + GUARD];
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .budget = 5000, .force_checks = force_checks,
		      .engine = engine);
	int err;

	memset(area, 0xa5, sizeof(area));
	for (int i = 0; i < MEM_LEN; i++)
		area[GUARD + i] = (uint8_t)i;
	*r0 = 0;
	err = csd_ebpf_prog__run(prog, area + GUARD, MEM_LEN, &opts, r0);
	for (int i = 0; i < GUARD; i++) {
		if (area[i] != 0xa5 || area[GUARD + MEM_LEN + i] != 0xa5)
			fail_msg("a run wrote outside its input (guard byte %d)", i);
	}
	memcpy(mem_after, area + GUARD, MEM_LEN);
	*kind = opts.fault.kind;
	if (msg)
		snprintf(msg, 256, "%s", opts.fault.msg);
	return err;
}

static void print_program(const struct csd_ebpf_insn *insns, size_t cnt)
{
	char line[96];

	for (size_t pc = 0; pc < cnt; pc++) {
		csd_ebpf_disasm_insn(&insns[pc], cnt - pc, line, sizeof(line));
		print_message("#   %3zu: %s\n", pc, line);
	}
}

/* The clock and the random helper differ from run to run by design. */
static bool deterministic(const struct csd_ebpf_insn *insns, size_t cnt)
{
	for (size_t pc = 0; pc < cnt; pc++)
		if ((insns[pc].code == (BPF_JMP | BPF_CALL) && insns[pc].src_reg == 0 &&
		     (insns[pc].imm == CSD_EBPF_HELPER_KTIME_GET_NS ||
		      insns[pc].imm == CSD_EBPF_HELPER_GET_PRANDOM_U32)) ||
		    insns[pc].code == (BPF_JMP | BPF_CALL | BPF_X))	/* callx: any helper */
			return false;
	return true;
}

struct outcome {
	int err;
	uint64_t r0;
	uint8_t mem[MEM_LEN];
	enum csd_ebpf_fault_kind kind;
	char msg[256];
	/* r0 or the memory depend on where the stack is (an unverified program may use r10 as
	 * data): the engines place their stacks differently, so those are not compared */
	bool addr_dependent;
};

/* Two runs agree on result, fault kind and memory (budgets are counted differently). */
static void expect_same(const struct csd_ebpf_insn *insns, size_t cnt, const struct outcome *a,
			const struct outcome *b, const char *what)
{
	if (a->kind == CSD_EBPF_FAULT_BUDGET || b->kind == CSD_EBPF_FAULT_BUDGET)
		return;
	if (a->err != b->err || a->kind != b->kind ||
	    (!a->addr_dependent && memcmp(a->mem, b->mem, MEM_LEN)) ||
	    (deterministic(insns, cnt) && !a->addr_dependent && a->r0 != b->r0)) {
		print_program(insns, cnt);
		fail_msg("%s: %d/%llx (%s) vs %d/%llx (%s)", what, a->err, (unsigned long long)a->r0,
			 a->msg, b->err, (unsigned long long)b->r0, b->msg);
	}
}

static void run_one(struct csd_ebpf_prog *prog, enum csd_ebpf_engine engine, bool force_checks,
		    struct outcome *o)
{
	o->err = run_guarded(prog, engine, force_checks, &o->r0, o->mem, &o->kind, o->msg);
	o->addr_dependent = false;
}

/* The same run with the stack `depth` bytes further down (a multiple of 16). */
static __attribute__((noinline)) void run_deeper(struct csd_ebpf_prog *prog,
						 enum csd_ebpf_engine engine, bool force_checks,
						 size_t depth, struct outcome *o)
{
	volatile char pad[depth];

	pad[0] = 0;
	run_one(prog, engine, force_checks, o);
	(void)pad[0];
}

/* Whether r10 is read other than as a load's or a store's base: as data (`jset r10, 72`). */
static bool reads_r10_as_data(const struct csd_ebpf_insn *insns, size_t cnt)
{
	for (size_t pc = 0; pc < cnt; pc++) {
		unsigned cls = BPF_CLASS(insns[pc].code);

		if (insns[pc].code == (BPF_LD | BPF_IMM | BPF_DW)) {
			pc++;
			continue;
		}
		if (cls == BPF_LDX ? false : cls == BPF_ST ? false :
		    cls == BPF_STX ? insns[pc].src_reg == 10 :
		    insns[pc].dst_reg == 10 || (BPF_SRC(insns[pc].code) == BPF_X &&
						insns[pc].src_reg == 10))
			return true;
	}
	return false;
}

/*
 * Whether the interpreter's outcome depends on where its stack is: 4 KiB deeper changes
 * the address's bits from 12 on; a program that reads r10 as data also runs 16, 32, ...,
 * 2048 bytes deeper, each flipping one of bits 4 to 11 (the stack is 16-byte aligned), as
 * the JIT's stack, elsewhere, may differ from the interpreter's in any of them (as
 * fuzz/fuzz_vm.c does).
 */
static bool address_dependent(const struct csd_ebpf_insn *insns, size_t cnt,
			      struct csd_ebpf_prog *prog, const struct outcome *o)
{
	struct outcome deeper;
	bool as_data = reads_r10_as_data(insns, cnt);

	for (size_t depth = as_data ? 16 : 4096; depth <= 4096; depth *= 2) {
		run_deeper(prog, CSD_EBPF_ENGINE_INTERP, true, depth, &deeper);
		if (deeper.r0 != o->r0 || memcmp(deeper.mem, o->mem, MEM_LEN))
			return true;
	}
	return false;
}

/*
 * Every loaded program runs in the interpreter and the JIT, with checks: the two must agree.
 * A program the verifier accepts must not fault with the checks, and must give the same
 * without them, in both engines.
 */
static void run_and_check(const struct csd_ebpf_insn *insns, size_t cnt,
			  struct csd_ebpf_prog *prog, struct stats *st)
{
	CSD_EBPF_OPTS(csd_ebpf_verify_opts, vopts);
	struct outcome interp, jit, fast;
	bool jit_ok = csd_ebpf_jit_available();

	run_one(prog, CSD_EBPF_ENGINE_INTERP, true, &interp);
	interp.err ? st->faulted++ : st->ran++;
	interp.addr_dependent = address_dependent(insns, cnt, prog, &interp);
	if (jit_ok) {
		run_one(prog, CSD_EBPF_ENGINE_JIT, true, &jit);
		expect_same(insns, cnt, &interp, &jit, "interpreter and JIT disagree");
	}
	if (csd_ebpf_prog__verify(prog, &vopts))
		return;
	st->verified++;
	if (interp.err && interp.kind != CSD_EBPF_FAULT_BUDGET) {
		print_program(insns, cnt);
		fail_msg("a verified program faulted: %s", interp.msg);
	}
	if (interp.kind == CSD_EBPF_FAULT_BUDGET)
		return;		/* proven to end, but maybe after 2^32 rounds: unchecked code has no budget */
	run_one(prog, CSD_EBPF_ENGINE_INTERP, false, &fast);
	expect_same(insns, cnt, &interp, &fast, "verified, the interpreter ran it differently "
		    "without checks");
	if (jit_ok) {
		run_one(prog, CSD_EBPF_ENGINE_JIT, false, &fast);
		expect_same(insns, cnt, &interp, &fast, "verified, the JIT ran it differently "
			    "without checks");
	}
}

static void try_program(const struct csd_ebpf_insn *insns, size_t cnt, struct stats *st)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, opts);
	struct csd_ebpf_prog *prog;
	char log[256];
	char line[96];

	opts.log_buf = log;
	opts.log_size = sizeof(log);
	if (csd_ebpf_prog__load(insns, cnt, &opts, &prog)) {
		st->refused++;
		assert_true(log[0] != '\0');	/* a refusal always says why */
		return;
	}
	st->loaded++;
	for (size_t pc = 0; pc < cnt; pc++)	/* the disassembler copes with anything loaded */
		csd_ebpf_disasm_insn(&insns[pc], cnt - pc, line, sizeof(line));
	run_and_check(insns, cnt, prog, st);
	csd_ebpf_prog__free(prog);
}

/* Random streams biased towards valid opcodes, registers and short jumps. */
static void test_random_streams(void **state)
{
	static const uint8_t opcodes[] = {
		0x07, 0x0f, 0x04, 0x0c, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x57, 0x67,
		0x77, 0x87, 0x97, 0x9f, 0xa7, 0xb7, 0xbf, 0xbc, 0xc7, 0xd4, 0xdc, 0xd7, 0x05,
		0x06, 0x15, 0x1d, 0x25, 0x55, 0x5d, 0xa5, 0xad, 0x16, 0x85, 0x8d, 0x95, 0x18,
		0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b,
		0x73, 0x7b, 0xc3, 0xdb, 0x00, 0xff,
	};
	struct csd_ebpf_insn insns[10 + 24];
	struct stats st = { 0 };

	(void)state;
	/* a prologue that sets r0-r9 (to small numbers, or to r1/r10-based pointers) */
	for (int r = 0; r < 10; r++)
		insns[r] = (struct csd_ebpf_insn){ .code = 0xb7, .dst_reg = (uint8_t)r, .imm = r };
	for (unsigned long it = 0; it < iterations; it++) {
		size_t cnt = 10 + 1 + next() % 24;

		insns[3] = (struct csd_ebpf_insn){ .code = 0xbf, .dst_reg = 3,
						   .src_reg = next() % 2 ? 1 : 10 };
		for (size_t i = 10; i < cnt; i++) {
			uint64_t r = next();
			struct csd_ebpf_insn *in = &insns[i];
			uint8_t cls;

			in->code = opcodes[r % sizeof(opcodes)];
			in->dst_reg = (r >> 8) % 12;
			in->src_reg = (r >> 12) % 12;
			in->off = (int16_t)((int64_t)((r >> 16) % 17) - 8);
			in->imm = (r >> 40) % 4 ? (int32_t)((r >> 32) % 64) - 8 : (int32_t)(r >> 24);
			if ((r >> 60) == 0)
				continue;	/* one in sixteen keeps its random reserved fields */
			/* otherwise clear the fields the encoding reserves, so that most load */
			cls = in->code & 7;
			in->dst_reg %= 11;
			in->src_reg %= 11;
			if (cls == 4 || cls == 7)	/* ALU, ALU64 */
				in->off = 0;
			if ((cls == 4 || cls == 7 || cls == 5 || cls == 6) && !(in->code & 8))
				in->src_reg = 0;
			else if (cls == 4 || cls == 7 || cls == 5 || cls == 6 || cls == 1 ||
				 (cls == 3 && (in->code & 0xe0) == 0x60))
				in->imm = 0;
		}
		insns[cnt - 1] = (struct csd_ebpf_insn){ .code = 0x95 };
		try_program(insns, cnt, &st);
	}
	print_message("# random: %lu programs, %lu refused, %lu loaded: %lu ran to exit, "
		      "%lu stopped with a fault; %lu verified\n", iterations, st.refused, st.loaded,
		      st.ran, st.faulted, st.verified);
	assert_int_equal(st.refused + st.loaded, iterations);
	assert_true(st.loaded > iterations / 100);	/* the generator reaches the interpreter */
}

/*
 * Programs shaped as the JIT compiles without jumps (jit_x86_64.c, fuse_branch_region):
 * conditional jumps over register arithmetic, every way out going to one join, straight or
 * in a loop whose latch is the join (after the region or before it, clang's two layouts).
 * Registers start from random values so that conditions go both ways; after the join some
 * registers are read and others not (a region writes a dead one whether or not its
 * instruction runs). Each goes through try_program(): the interpreter and the JIT agree,
 * with and without checks.
 */
static void test_branch_regions(void **state)
{
	static const char *const alu[] = {
		"add", "sub", "and", "or", "xor", "mov", "lsh", "rsh", "arsh", "mul",
	};
	static const char *const conds[] = {
		"jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jset",
	};
	static const int64_t values[] = { 0, 1, 2, 13, 32, -1, -2, 0x100000000, 0x80000000,
					  0x7fffffff, 0xff, 0x100 };
	struct stats st = { 0 };
	unsigned long programs = iterations / 50;

	(void)state;
	for (unsigned long it = 0; it < programs; it++) {
		char text[4096];
		size_t len = 0;
		unsigned layout = (unsigned)(next() % 3);	/* 0 straight, 1 and 2 loops */
		unsigned n = 3 + (unsigned)(next() % 10);
		struct csd_ebpf_insn *insns;
		size_t cnt;
		char log[256];

#define ADD(...) (len += (size_t)snprintf(text + len, sizeof(text) - len, __VA_ARGS__))
		for (int r = 0; r < 9; r++)
			ADD("lddw %%r%d, %lld\n", r, (long long)(next() % 2 ?
				values[next() % (sizeof(values) / sizeof(values[0]))] :
				(int64_t)next()));
		ADD("mov %%r9, 3\n");
		if (layout == 2)
			ADD("ja head\nl:\nadd %%r9, -1\njeq %%r9, 0, out\n");
		if (layout)	/* each trip changes the values (a short head: a latch copied) */
			ADD("head:\n%s", next() % 2 ? "xor %r1, %r9\nrsh %r3, 1\n" :
			    "mov %r8, %r9\nmul %r8, 0x9e3779b\nxor %r1, %r8\nadd %r2, %r8\n"
			    "rsh %r3, 1\n");
		if (next() % 2)	/* a flag cleared before the region (`in = 0`), set in it */
			ADD("mov %%r%u, 0\n", (unsigned)(next() % 4));
		for (unsigned k = 0; k < n; k++) {
			uint64_t r = next();
			/* mostly r0-r3, so that a register is written more than once */
			unsigned d = (unsigned)(r % 8) % ((r >> 60) % 4 ? 4 : 8);
			unsigned src = (unsigned)(r >> 8) % 8;
			bool imm = r >> 16 & 1, w32 = (r >> 17) % 4 == 0;
			char operand[32];

			if (imm)
				snprintf(operand, sizeof(operand), "%d", (int32_t)
					 values[(r >> 20) % (sizeof(values) / sizeof(values[0]))]);
			else
				snprintf(operand, sizeof(operand), "%%r%u", src);
			ADD("p%u:\n", k);
			if (k == 0 || (r >> 24) % 8 < 3) {
				/* to the join, or forward inside (the end's label is the join's) */
				unsigned to = (r >> 28) % 2 ? n : k + 1 + (unsigned)((r >> 32) % (n - k));
				char label[8] = "l";

				if (to < n)
					snprintf(label, sizeof(label), "p%u", to);
				ADD("%s%s %%r%u, %s, %s\n", conds[(r >> 40) % 11], w32 ? "32" : "",
				    d, operand, label);
			} else {
				/* one in four a flag's 0 or 1, one in sixteen a mul (no region) */
				const char *op = (r >> 44) % 4 == 0 ? "mov" :
						 alu[(r >> 40) % ((r >> 48) % 16 ? 9 : 10)];

				if ((r >> 44) % 4 == 0)
					snprintf(operand, sizeof(operand), "%u", (unsigned)(r >> 46) % 2);

				if (strstr(op, "sh"))
					snprintf(operand, sizeof(operand), imm ? "%u" : "%%r%u",
						 imm ? (unsigned)(r >> 52) % 64 : src);
				ADD("%s%s %%r%u, %s\n", op, w32 ? "32" : "", d, operand);
			}
		}
		if (layout == 2)
			ADD("ja l\nout:\n");
		else
			ADD("l:\n%s", layout ? "add %r9, -1\njne %r9, 0, head\n" : "");
		for (int r = 1; r < 8; r++)	/* some registers read after the join */
			if (next() % 2)
				ADD("xor %%r0, %%r%d\n", r);
		ADD("exit\n");
#undef ADD
		if (csd_ebpf_asm(text, &insns, &cnt, log, sizeof(log)))
			fail_msg("%s: %s", text, log);
		try_program(insns, cnt, &st);
		free(insns);
	}
	print_message("# branch regions: %lu programs, %lu loaded, %lu verified\n", programs,
		      st.loaded, st.verified);
	assert_int_equal(st.loaded, programs);
	assert_true(st.verified > programs / 2);
}

/* Every conformance program, with one to three bits flipped, many times over. */
static void test_mutated_conformance(void **state)
{
	char dir[4096];
	struct dirent *e;
	struct stats st = { 0 };
	unsigned long programs = 0, mutants = 0;
	DIR *d;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tests", conformance_dir);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		struct conf_outcome o;
		char path[4400];
		uint8_t *text;
		size_t len;

		if (!strstr(e->d_name, ".data"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(csd_read_file(path, &text, &len), 0);
		conf_run_text((const char *)text, false, &o);
		free(text);
		if (!o.insns) {
			conf_outcome_free(&o);
			continue;
		}
		programs++;
		for (unsigned long m = 0; m < iterations / 200; m++) {
			struct csd_ebpf_insn *copy = malloc(o.insn_cnt * 8);
			uint8_t *bytes = (uint8_t *)copy;

			memcpy(copy, o.insns, o.insn_cnt * 8);
			for (uint64_t flips = 1 + next() % 3; flips; flips--) {
				uint64_t bit = next() % (o.insn_cnt * 64);

				bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
			try_program(copy, o.insn_cnt, &st);
			mutants++;
			free(copy);
		}
		conf_outcome_free(&o);
	}
	closedir(d);
	print_message("# mutated: %lu mutants of %lu programs, %lu refused, %lu loaded: "
		      "%lu ran to exit, %lu faulted; %lu verified\n", mutants, programs, st.refused,
		      st.loaded, st.ran, st.faulted, st.verified);
	assert_true(programs >= 300);
	assert_int_equal(st.refused + st.loaded, mutants);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_streams),
		cmocka_unit_test(test_mutated_conformance),
		cmocka_unit_test(test_branch_regions),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s BPF_CONFORMANCE_DIR [ITERATIONS]\n", argv[0]);
		return 2;
	}
	conformance_dir = argv[1];
	if (argc > 2)
		iterations = strtoul(argv[2], NULL, 10);
	return cmocka_run_group_tests_name("ebpf-fuzz", tests, NULL, NULL);
}
