/* SPDX-License-Identifier: MIT */
/*
 * Which loops reduction.c calls reduction loops (the JIT runs those 32 bytes at a time, so a
 * loop wrongly taken for one computes a wrong result): the shapes clang gives counts, byte
 * sums and word sums, described exactly; and, one rule each, loops that look alike but carry
 * a value, move their address by another step, change their bound or the byte they count,
 * load two places, store, leave twice or accumulate twice, none of which may match.
 */
#include "test_helpers.h"
#include "../../src/ebpf/reduction.h"

/* The program, its liveness, and the pc of the line "label:" (no lddw before it). */
static struct csd_ebpf_prog *load_with_liveness(const char *text, uint16_t **live)
{
	struct csd_ebpf_prog *prog;
	char log[256];

	if (asm_load(text, &prog, log, sizeof(log)))
		fail_msg("refused: %s", log);
	*live = calloc(prog->insn_cnt, sizeof(**live));
	assert_non_null(*live);
	ebpf_liveness(prog, *live);
	return prog;
}

static size_t label_pc(const char *text, const char *label)
{
	size_t pc = 0, n = strlen(label);

	for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
		const char *colon = strchr(line, ':');

		if (!strncmp(line, label, n) && line[n] == ':')
			return pc;
		if (!colon || colon > strchr(line, '\n'))
			pc++;
	}
	fail_msg("no label %s", label);
	return 0;
}

#define COUNT(op, one, zero, add, extra)						\
	"mov %r6, %r4\nmov %r0, 0\njeq %r2, 0, out\nmov %r3, 0\n"			\
	"ja body\nlatch:\n" add " %r0, %r4\nadd %r3, 1\njgt %r2, %r3, body\nout:\nexit\n"	\
	"body:\nmov %r4, %r1\nadd %r4, %r3\nldxb %r5, [%r4]\n" extra "mov32 %r4, " one "\n"	\
	op ", latch\nmov32 %r4, " zero "\nja latch\n"

static void test_reduction_shapes(void **state)
{
	static const struct {
		const char *text;
		struct red_loop want;	/* the fields compared */
	} shapes[] = {
		{ COUNT("jeq %r5, 10", "1", "0", "add", ""),
		  { .size = 1, .base = 1, .index = 3, .off = 0, .counter = 3, .bound_reg = 2,
		    .nind = 1, .ind = { { 3, 1 } }, .nterms = 1,
		    .term = { { RED_COUNT_EQ, 0, false, RED_NO_REG, false, 10 } } } },
		{ COUNT("jeq32 %r5, %r6", "0", "1", "add32", ""),
		  { .size = 1, .base = 1, .index = 3, .off = 0, .counter = 3, .bound_reg = 2,
		    .nind = 1, .ind = { { 3, 1 } }, .nterms = 1,
		    .term = { { RED_COUNT_NE, 0, true, 6, true, 0 } } } },
		/* a byte sum from data + 3, leaving when the counter reaches 512 */
		{ "mov %r0, 0\nmov %r3, 0\nbody:\nmov %r6, %r1\nadd %r6, %r3\nldxb %r6, [%r6+3]\n"
		  "add %r0, %r6\nadd %r3, 1\njeq %r3, 512, out\nja body\nout:\nexit\n",
		  { .size = 1, .base = 1, .index = 3, .off = 3, .counter = 3,
		    .bound_reg = RED_NO_REG, .bound_imm = 512, .nind = 1, .ind = { { 3, 1 } },
		    .nterms = 1, .term = { { RED_SUM_BYTES, 0, false, RED_NO_REG, false, 0 } } } },
		/* the xor and the sum of words through a pointer, a separate counter */
		{ "mov %r5, 0\nmov %r0, 0\nmov %r6, 0\nbody:\nldxdw %r3, [%r1]\nmov %r4, %r3\n"
		  "add %r4, %r0\nxor %r3, %r6\nadd %r1, 8\nadd %r5, 1\nmov %r0, %r4\nmov %r6, %r3\n"
		  "jgt %r2, %r5, body\nexit\n",
		  { .size = 8, .base = 1, .index = RED_NO_REG, .off = 0, .counter = 5,
		    .bound_reg = 2, .nind = 2, .ind = { { 1, 8 }, { 5, 1 } }, .nterms = 2,
		    .term = { { RED_SUM_WORDS, 0, false, RED_NO_REG, false, 0 },
			      { RED_XOR_WORDS, 6, false, RED_NO_REG, false, 0 } } } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct red_loop *w = &shapes[i].want;
		uint16_t *live;
		struct csd_ebpf_prog *prog = load_with_liveness(shapes[i].text, &live);
		size_t body = label_pc(shapes[i].text, "body");
		struct red_loop got;

		if (!ebpf_reduction_match(prog, live, body, &got))
			fail_msg("shape %zu: not a reduction loop", i);
		assert_int_equal(got.start, body);
		assert_int_equal(got.size, w->size);
		assert_int_equal(got.base, w->base);
		assert_int_equal(got.index, w->index);
		assert_int_equal(got.off, w->off);
		assert_int_equal(got.counter, w->counter);
		assert_int_equal(got.bound_reg, w->bound_reg);
		if (w->bound_reg == RED_NO_REG)
			assert_int_equal(got.bound_imm, w->bound_imm);
		assert_int_equal(got.nind, w->nind);
		for (unsigned k = 0; k < w->nind; k++) {
			assert_int_equal(got.ind[k].reg, w->ind[k].reg);
			assert_int_equal(got.ind[k].step, w->ind[k].step);
		}
		assert_int_equal(got.nterms, w->nterms);
		for (unsigned k = 0; k < w->nterms; k++) {
			const struct red_term *a = &got.term[k], *b = &w->term[k];

			assert_int_equal(a->kind, b->kind);
			assert_int_equal(a->acc, b->acc);
			assert_int_equal(a->acc32, b->acc32);
			assert_int_equal(a->k_reg, b->k_reg);
			if (b->k_reg != RED_NO_REG)
				assert_int_equal(a->k32, b->k32);
			else if (b->kind == RED_COUNT_EQ || b->kind == RED_COUNT_NE)
				assert_int_equal(a->k_imm, b->k_imm);
		}
		free(live);
		csd_ebpf_prog__free(prog);
	}
}

#define SUM_LOOP(before, after, test)							\
	"mov %r0, 0\nmov %r3, 0\nmov %r7, 0\nmov %r8, 0\njeq %r2, 0, out\nbody:\n" before	\
	"mov %r4, %r1\nadd %r4, %r3\nldxb %r5, [%r4]\nadd %r0, %r5\n" after		\
	"add %r3, 1\n" test "\nout:\nmul %r7, 1000\nadd %r0, %r7\nexit\n"
/* ... with `after` in the body and the usual test */
#define SUM_WITH(after)	SUM_LOOP("", after, "jgt %r2, %r3, body")

static void test_not_reduction_loops(void **state)
{
	static const char *const loops[] = {
		/* the previous byte carried into the next iteration */
		SUM_LOOP("mov %r7, %r8\n", "mov %r8, %r5\n", "jgt %r2, %r3, body"),
		/* the base moves too: every other byte */
		SUM_WITH("add %r1, 1\n"),
		/* the counter steps by 2 */
		SUM_WITH("add %r3, 1\n"),
		/* the bound comes closer */
		SUM_WITH("sub %r2, 1\n"),
		/* ... once more after its test (words through a pointer: the address is right) */
		"mov %r5, 0\nmov %r0, 0\nbody:\nldxdw %r3, [%r1]\nadd %r0, %r3\nadd %r1, 8\n"
		"add %r5, 1\njgt %r2, %r5, more\nja out\nmore:\nadd %r5, 1\nja body\nout:\nexit\n",
		/* the byte counted changes, before its compare and after */
		COUNT("jeq %r5, %r6", "1", "0", "add", "add %r6, 1\n"),
		"mov %r6, %r4\nmov %r0, 0\njeq %r2, 0, out\nmov %r3, 0\nja body\nlatch:\n"
		"add %r0, %r4\nadd %r3, 1\nadd %r6, 1\njgt %r2, %r3, body\nout:\nexit\nbody:\n"
		"mov %r4, %r1\nadd %r4, %r3\nldxb %r5, [%r4]\nmov32 %r4, 1\njeq %r5, %r6, latch\n"
		"mov32 %r4, 0\nja latch\n",
		/* two places loaded, into one sum and into two */
		SUM_WITH("ldxb %r5, [%r4+1]\nadd %r0, %r5\n"),
		SUM_WITH("ldxb %r5, [%r4+1]\nadd %r8, %r5\n"),
		/* comparisons xored */
		COUNT("jeq %r5, 10", "1", "0", "xor", ""),
		/* a store */
		SUM_WITH("stxb [%r10-8], %r5\n"),
		/* a second way out, on the byte and on the counter */
		SUM_WITH("jeq %r5, 0, out\n"),
		SUM_LOOP("", "", "jeq %r3, 100, out\njgt %r2, %r3, body"),
		/* the same byte added twice */
		SUM_WITH("add %r0, %r5\n"),
		/* bytes xored */
		SUM_WITH("xor %r7, %r5\n"),
		/* the sum in the test */
		SUM_LOOP("", "", "jgt %r0, %r3, body"),
		/* 4-byte elements */
		"mov %r0, 0\nmov %r3, 0\njlt %r2, 4, out\nrsh %r2, 2\nbody:\nldxw %r5, [%r1]\n"
		"add %r0, %r5\nadd %r1, 4\nadd %r3, 1\njgt %r2, %r3, body\nout:\nexit\n",
		/* the sum shifted each time */
		SUM_WITH("lsh %r0, 1\n"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
		uint16_t *live;
		struct csd_ebpf_prog *prog = load_with_liveness(loops[i], &live);

		for (size_t pc = 0; pc < prog->insn_cnt; pc++) {
			struct red_loop got;

			if (ebpf_reduction_match(prog, live, pc, &got))
				fail_msg("loop %zu: taken for a reduction loop at pc %zu", i, pc);
		}
		free(live);
		csd_ebpf_prog__free(prog);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reduction_shapes),
		cmocka_unit_test(test_not_reduction_loops),
	};

	return cmocka_run_group_tests_name("reduction loops", tests, NULL, NULL);
}
