/* SPDX-License-Identifier: MIT */
/*
 * Which loops reduction.c calls reduction loops (the JIT runs those 32 bytes at a time, so a
 * loop wrongly taken for one computes a wrong result): the shapes clang gives counts, byte
 * sums and word sums, described exactly; and, one rule each, loops that look alike but carry
 * a value, move their address by another step, change their bound or the byte they count,
 * load two places, store, leave twice or accumulate twice, none of which may match. Byte maps
 * (a loop storing a function of each byte in the stack): their lanes evaluated against the
 * C they were compiled from for every byte, the forms that must not match, and random ones
 * run by the JIT (32 bytes at a time, sandboxed) against the interpreter.
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

/* A byte map's lanes for one input byte, as reduction.h defines them */
static uint8_t eval_lanes(const struct red_loop *l, uint8_t in, const uint64_t *regs)
{
	uint8_t v[RED_MAX_LANES];

	for (unsigned i = 0; i < l->nlanes; i++) {
		const struct red_lane *n = &l->lanes[i];
		uint8_t a = v[n->a], b = v[n->b];

		switch (n->op) {
		case LANE_IN: v[i] = in; break;
		case LANE_IMM: v[i] = n->k; break;
		case LANE_REG: case LANE_REG_BYTE: v[i] = (uint8_t)regs[n->reg]; break;
		case LANE_ADD: v[i] = (uint8_t)(a + b); break;
		case LANE_SUB: v[i] = (uint8_t)(a - b); break;
		case LANE_AND: v[i] = a & b; break;
		case LANE_OR: v[i] = a | b; break;
		case LANE_XOR: v[i] = a ^ b; break;
		case LANE_GE: v[i] = a >= b ? 0xff : 0; break;
		case LANE_EQ: v[i] = a == b ? 0xff : 0; break;
		case LANE_SELECT: v[i] = v[n->c] & 0x80 ? a : b; break;
		}
	}
	return v[l->value];
}

/* header_copy.bpf.c's loop as clang -O2 builds it for v1 (r3 = 26) and v3 (w registers) */
#define HEADER_COPY(setup, fold)							\
	"mov %r0, 0\njlt %r2, 64, out\nmov %r2, 0\n" setup "ja body\nlatch:\n"		\
	"mov %r4, %r10\nadd %r4, -64\nadd %r4, %r2\nstxb [%r4], %r5\nadd %r2, 1\n"		\
	"jne %r2, 64, body\nldxb %r0, [%r10-60]\nout:\nexit\nbody:\nmov %r4, %r1\n"	\
	"add %r4, %r2\nldxb %r4, [%r4]\n" fold "ja latch\n"

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int upper_if_even(int c) { return c % 2 ? c : c & 0xdf; }
static int clamp_digit(int c) { return c > '9' ? '9' : c < '0' ? '0' : c; }
static int zero(int c) { (void)c; return 0; }
static int same(int c) { return c; }
static int flip_high(int c) { return c & 0x80 ? ((c ^ 0x1f) + 3) & 0xff : c; }

static void test_byte_map_shapes(void **state)
{
	static const struct {
		const char *text;
		int (*f)(int);
		uint8_t store_index;
		int32_t store_off;
	} shapes[] = {
		{ HEADER_COPY("mov %r3, 26\n", "mov %r0, %r4\nadd %r0, -65\nand %r0, 255\n"
			      "mov %r5, %r4\nadd %r5, 32\njgt %r3, %r0, latch\nmov %r5, %r4\n"),
		  lower, 2, -64 },
		{ HEADER_COPY("", "mov32 %r5, %r4\nadd32 %r5, -65\nand32 %r5, 255\n"
			      "mov32 %r5, %r5\nmov32 %r0, %r4\nadd32 %r0, 32\nmov32 %r5, %r5\n"
			      "jlt32 %r5, 26, fold\nmov32 %r0, %r4\nfold:\nmov %r5, %r0\n"),
		  lower, 2, -64 },
		/* if-else, a jset, the select's value itself masked */
		{ HEADER_COPY("", "mov %r5, %r4\njset %r4, 1, odd\nand %r5, 0xdf\nja joined\n"
			      "odd:\nor %r5, 0\njoined:\n"), upper_if_even, 2, -64 },
		/* two selects in a row, against constants on both sides */
		{ HEADER_COPY("", "mov %r5, %r4\njle %r4, 57, low\nmov %r5, 57\nlow:\n"
			      "jge %r5, 48, high\nmov %r5, 48\nhigh:\n"), clamp_digit, 2, -64 },
		/* a 32-bit jset on the byte, xor and add on the way */
		{ HEADER_COPY("", "mov %r5, %r4\nmov %r0, %r4\nxor %r0, 0x1f\nadd %r0, 3\n"
			      "jset32 %r4, 0x80, high\nja joined\nhigh:\nmov %r5, %r0\njoined:\n"),
		  flip_high, 2, -64 },
		/* against constants no byte reaches: the same way for all */
		{ HEADER_COPY("", "mov %r5, %r4\njgt %r5, 300, big\nmov %r5, 0\nbig:\n"), zero, 2,
		  -64 },
		{ HEADER_COPY("", "mov %r5, %r4\njsgt %r5, -1, big\nmov %r5, 0\nbig:\n"), same, 2,
		  -64 },
		{ HEADER_COPY("", "mov %r5, %r4\njlt32 %r5, -1, big\nmov %r5, 7\nbig:\n"), same, 2,
		  -64 },
	};
	const uint64_t regs[EBPF_NREGS] = { [3] = 26 };

	(void)state;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		uint16_t *live;
		struct csd_ebpf_prog *prog = load_with_liveness(shapes[i].text, &live);
		struct red_loop got;

		if (!ebpf_reduction_match(prog, live, label_pc(shapes[i].text, "body"), &got))
			fail_msg("shape %zu: not a byte map", i);
		assert_true(got.stores);
		assert_int_equal(got.nterms, 0);
		assert_int_equal(got.size, 1);
		assert_int_equal(got.base, 1);
		assert_int_equal(got.index, 2);
		assert_int_equal(got.counter, 2);
		assert_int_equal(got.bound_reg, RED_NO_REG);
		assert_int_equal(got.bound_imm, 64);
		assert_int_equal(got.store_index, shapes[i].store_index);
		assert_int_equal(got.store_off, shapes[i].store_off);
		for (int c = 0; c < 256; c++)
			if (eval_lanes(&got, (uint8_t)c, regs) != shapes[i].f(c))
				fail_msg("shape %zu: byte %#x maps to %#x, not %#x", i, c,
					 eval_lanes(&got, (uint8_t)c, regs), shapes[i].f(c));
		free(live);
		csd_ebpf_prog__free(prog);
	}
}

/* A byte map from body: ... with `fold` computing r5 from the byte in r4 */
#define MAP_WITH(fold, store)								\
	"mov %r6, %r3\nmov %r8, 0\nmov %r0, 0\njeq %r2, 0, out\nmov %r7, 0\nbody:\nmov %r4, %r1\n"	\
	"add %r4, %r7\nldxb %r4, [%r4]\n" fold "mov %r3, %r10\nadd %r3, -256\n"		\
	"add %r3, %r7\n" store "add %r7, 1\njgt %r2, %r7, body\nout:\nexit\n"
#define MAP(fold)	MAP_WITH(fold, "stxb [%r3], %r5\n")

static void test_not_byte_maps(void **state)
{
	static const char *const loops[] = {
		/* the shape matches (so that the rest test one rule each) */
		MAP("mov %r5, %r4\nadd %r5, 1\n"),
		/* a compare of c + 1 whose register holds 9 bits */
		MAP("mov %r5, %r4\nadd %r5, 1\njgt %r5, 100, big\nmov %r5, 0\nbig:\n"),
		/* ... of a register above 255 (c | 256) */
		MAP("mov %r5, %r4\nor %r5, 256\njgt %r5, 100, big\nmov %r5, 0\nbig:\n"),
		/* ... with a constant above 255, and below 0 */
		MAP("mov %r5, %r4\nadd %r5, 1\njgt %r5, 255, big\nmov %r5, 0\nbig:\n"),
		MAP("mov %r5, %r4\nsub %r5, 1\njsgt %r5, -1, big\nmov %r5, 0\nbig:\n"),
		/* ... masked with all 64 bits (its low byte is 0xff, its value is not) */
		MAP("mov %r5, %r4\nadd %r5, 1\nand %r5, -1\njgt %r5, 100, big\nmov %r5, 0\n"
		    "big:\n"),
		/* the previous byte stored (a value carried over) */
		MAP("mov %r5, %r8\nmov %r8, %r4\n"),
		/* a register compared with that the loop changes */
		MAP("mov %r5, %r4\nadd %r6, 1\njgt %r5, %r6, big\nmov %r5, 0\nbig:\n"),
		/* ... or adds */
		MAP("mov %r5, %r4\nadd %r5, %r6\nadd %r6, 1\n"),
		/* a shift, a multiplication: not lanes */
		MAP("mov %r5, %r4\nlsh %r5, 1\n"),
		MAP("mov %r5, %r4\nmul %r5, 3\n"),
		MAP("mov %r5, %r4\nrsh %r5, 1\n"),
		/* a select whose one way stores, or loads, or goes elsewhere */
		MAP("mov %r5, %r4\njgt %r5, 100, big\nstb [%r10-300], 1\nbig:\n"),
		MAP("mov %r5, %r4\njgt %r5, 100, big\nldxb %r5, [%r1]\nbig:\n"),
		MAP("mov %r5, %r4\njgt %r5, 100, out\nmov %r5, 0\n"),
		/* two stores; one that does not move; one at r10 + 2i (not followed); one of 2 bytes */
		MAP_WITH("mov %r5, %r4\n", "stxb [%r3], %r5\nstxb [%r3+1], %r5\n"),
		MAP_WITH("mov %r5, %r4\n", "stxb [%r10-8], %r5\n"),
		MAP_WITH("mov %r5, %r4\n", "add %r3, %r7\nstxb [%r3], %r5\n"),
		MAP_WITH("mov %r5, %r4\n", "stxh [%r3], %r5\n"),
		/* ... through a register that stays, or steps by 2 */
		MAP_WITH("mov %r5, %r4\n", "mov %r3, %r10\nadd %r3, %r8\nstxb [%r3-256], %r5\n"),
		MAP_WITH("mov %r5, %r4\n", "add %r8, 2\nmov %r3, %r10\nadd %r3, %r8\n"
			 "stxb [%r3-256], %r5\n"),
		/* a store through the input's pointer, and a store and a sum */
		MAP_WITH("mov %r5, %r4\n", "mov %r3, %r7\nadd %r3, %r1\nstxb [%r3], %r5\n"),
		MAP("mov %r5, %r4\nadd %r0, %r4\n"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
		uint16_t *live;
		struct csd_ebpf_prog *prog = load_with_liveness(loops[i], &live);
		struct red_loop got;

		/* at the one jump target the JIT would try (the loop from its latch matches too) */
		if (ebpf_reduction_match(prog, live, label_pc(loops[i], "body"), &got) != !i)
			fail_msg("loop %zu: %s", i, i ? "taken for a byte map" : "not a byte map");
		free(live);
		csd_ebpf_prog__free(prog);
	}
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* One random byte map (into text): arithmetic and selects on r0, r3 and r5 from the byte,
 * against constants and r8 and r9 (from the arguments), one of them stored, the buffer's
 * 256 bytes hashed after. */
static void random_byte_map(char *text, size_t size)
{
	static const char *const ops[] = { "add", "sub", "and", "or", "xor", "mov" };
	static const char *const conds[] = { "jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt",
					     "jsge", "jslt", "jsle", "jset" };
	static const int32_t imms[] = { 0, 1, 26, 32, 48, 65, 90, 0x7f, 0x80, 0xdf, 0xff,
					0x100, -1, -65, 200 };
	static const char *const temps[] = { "%r0", "%r3", "%r5" };
	unsigned n = 1 + (unsigned)(csd_xorshift64(&rng) % 6), labels = 0;
	size_t len = 0;

#define ADD(...) (len += (size_t)snprintf(text + len, size - len, __VA_ARGS__))
#define PICK(a) (a)[csd_xorshift64(&rng) % (sizeof(a) / sizeof((a)[0]))]
	ADD("mov %%r8, %%r3\nmov %%r9, %%r4\n");
	for (int k = 8; k <= 256; k += 8)
		ADD("stdw [%%r10-%d], %d\n", k, k * 77);
	ADD("mov %%r6, %%r2\njle %%r6, 256, capped\nmov %%r6, 256\ncapped:\nmov %%r7, %%r8\n"
	    "and %%r7, 7\njge %%r7, %%r6, done\nbody:\nmov %%r4, %%r1\nadd %%r4, %%r7\n"
	    "ldxb %%r5, [%%r4]\nmov %%r0, %%r5\nmov %%r3, %%r5\n");
	for (unsigned k = 0; k < n; k++) {
		uint64_t r = csd_xorshift64(&rng);
		unsigned arms = r % 3 == 0 ? 1 + (unsigned)(r >> 2) % 2 : 0;

		if (arms) {	/* a select: `if c goto else; ..; goto join; else: ..; join:` */
			const char *a = PICK(temps);
			char b[16];

			if (r >> 4 & 3)		/* a compare of a whole byte, mostly */
				ADD("and %s, 255\n", a);
			if (r >> 5 & 1)
				snprintf(b, sizeof(b), "%d", (r >> 8) % 4 ? (int)((r >> 12) % 256) :
					 PICK(imms));
			else
				snprintf(b, sizeof(b), "%s", r >> 6 & 1 ? PICK(temps) :
					 r >> 7 & 1 ? "%r8" : "%r9");
			ADD("%s%s %s, %s, e%u\n", conds[(r >> 20) % 11], r >> 24 & 1 ? "32" : "", a,
			    b, labels);
		}
		for (unsigned arm = 0; arm < (arms ? arms : 1); arm++) {
			for (unsigned m = 0; m < 1 + (csd_xorshift64(&rng) % 2); m++) {
				uint64_t o = csd_xorshift64(&rng);
				const char *op = o % 32 == 0 ? "lsh" : o % 32 == 1 ? "mul" : PICK(ops);
				char src[16];

				if (o >> 8 & 1)
					snprintf(src, sizeof(src), "%d", PICK(imms));
				else
					snprintf(src, sizeof(src), "%s", o >> 9 & 1 ? PICK(temps) :
						 o >> 10 & 1 ? "%r8" : "%r9");
				if (!strcmp(op, "lsh") && !(o >> 8 & 1))
					snprintf(src, sizeof(src), "%d", (int)(o >> 12) % 8);
				ADD("%s%s %s, %s\n", op, o >> 11 & 1 ? "32" : "", PICK(temps), src);
			}
			if (arms == 2 && arm == 0)
				ADD("ja j%u\ne%u:\n", labels, labels);
		}
		if (arms)
			ADD("%s%u:\n", arms == 2 ? "j" : "e", labels), labels++;
	}
	ADD("mov %%r4, %%r10\nadd %%r4, -256\nadd %%r4, %%r7\nstxb [%%r4], %s\nadd %%r7, 1\n"
	    "jgt %%r6, %%r7, body\ndone:\nmov %%r0, 0\nmov %%r7, 0\nhash:\nmov %%r4, %%r10\n"
	    "add %%r4, -256\nadd %%r4, %%r7\nldxb %%r5, [%%r4]\nmul %%r0, 33\nadd %%r0, %%r5\n"
	    "add %%r7, 1\njlt %%r7, 256, hash\nexit\n", PICK(temps));
#undef PICK
#undef ADD
}

/*
 * Random byte maps, verified, run by the JIT over sandboxed input (where it runs byte maps
 * 32 bytes at a time) and by the interpreter: the same buffer's hash for every length around
 * multiples of 32, starts 0 to 7 and registers compared with below and above 255 (in 32 and
 * 64 bits). Most must be byte maps, or the test tests little.
 */
static void test_byte_maps_against_interpreter(void **state)
{
	static const size_t lens[] = { 0, 1, 7, 31, 32, 33, 39, 40, 41, 63, 64, 65, 71, 95, 96,
				       97, 127, 128, 200, 255, 256, 257, 300 };
	static const uint64_t ks[] = { 0, 3, 26, 90, 0xff, 0x100, 0x10000001a, (uint64_t)-1 };
	const size_t programs = 300, max = 300 + 64;
	uint8_t *box = csd_ebpf_sandbox_alloc(max);
	size_t maps = 0, verified = 0;

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	assert_non_null(box);
	for (size_t i = 0; i < max; i++)
		box[i] = (uint8_t)csd_xorshift64(&rng);
	for (size_t p = 0; p < programs; p++) {
		char text[8192], log[512];
		struct csd_ebpf_prog *prog;
		uint16_t *live;
		struct red_loop got;

		random_byte_map(text, sizeof(text));
		prog = load_with_liveness(text, &live);
		maps += ebpf_reduction_match(prog, live, label_pc(text, "body"), &got) && got.stores;
		free(live);
		if (csd_ebpf_prog__verify(prog, &(struct csd_ebpf_verify_opts){
			.sz = sizeof(struct csd_ebpf_verify_opts), .log_buf = log,
			.log_size = sizeof(log) })) {
			csd_ebpf_prog__free(prog);
			continue;
		}
		verified++;
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			uint64_t k1 = ks[csd_xorshift64(&rng) % 8], k2 = ks[csd_xorshift64(&rng) % 8];
			const uint8_t *in = box + csd_xorshift64(&rng) % 64;
			uint64_t r0[2];

			for (int e = 0; e < 2; e++) {
				CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .args = { k1, k2 },
					      .engine = e ? CSD_EBPF_ENGINE_JIT :
							    CSD_EBPF_ENGINE_INTERP);

				assert_int_equal(csd_ebpf_prog__run(prog, (void *)in, lens[l], &opts,
								    &r0[e]), 0);
			}
			if (r0[0] != r0[1])
				fail_msg("%slen %zu, r8 %#llx, r9 %#llx: the JIT's %#llx, the "
					 "interpreter's %#llx", text, lens[l], (unsigned long long)k1,
					 (unsigned long long)k2, (unsigned long long)r0[1],
					 (unsigned long long)r0[0]);
		}
		csd_ebpf_prog__free(prog);
	}
	print_message("# byte maps: %zu programs, %zu verified, %zu byte maps\n", programs,
		      verified, maps);
	assert_true(verified > programs * 9 / 10);
	assert_true(maps > programs / 2);
	csd_ebpf_sandbox_free(box);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reduction_shapes),
		cmocka_unit_test(test_not_reduction_loops),
		cmocka_unit_test(test_byte_map_shapes),
		cmocka_unit_test(test_not_byte_maps),
		cmocka_unit_test(test_byte_maps_against_interpreter),
	};

	return cmocka_run_group_tests_name("reduction loops", tests, NULL, NULL);
}
