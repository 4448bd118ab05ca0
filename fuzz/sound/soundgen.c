/* SPDX-License-Identifier: MIT */
/*
 * The generator (soundgen.h). A program is built function by function from snippets; each
 * snippet is a shape verifiers get wrong. A rough model of what each register holds (a scalar,
 * a pointer into the input, the stack or a map value, a lookup result) steers the choices so
 * that a good share of the programs are ones a verifier might accept: a generator whose
 * programs are all refused for reading uninitialised registers tests nothing.
 */
#include <linux/bpf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "soundgen.h"
#include "../../src/ebpf/ebpf_internal.h"
#include "util/util.h"

enum kind { K_NONE, K_SCALAR, K_INPUT, K_STACK, K_MAP, K_NULLABLE, K_MAPREF };

#define MAX_FUNCS	3
#define FUNC_INSNS	200
#define MAX_FIX		48

struct func {
	struct csd_ebpf_insn insns[FUNC_INSNS];
	size_t cnt;
	/* conditional jumps to this function's `out` block */
	size_t out_fix[MAX_FIX];
	unsigned nout;
	/* local calls: pc and the callee's function index */
	size_t call_pc[8];
	unsigned call_to[8], ncalls;
	bool full;
};

struct gen {
	uint64_t rng;
	struct soundgen_prog *p;
	struct func fn[MAX_FUNCS];
	unsigned nfn, cur;
	uint8_t kind[EBPF_NREGS];
	int64_t guard;		/* the input length the prologue proved, 0 if none */
	/* forward branches waiting for their target: pc and the snippet they land before */
	size_t fwd_pc[MAX_FIX];
	unsigned fwd_at[MAX_FIX], nfwd, snippet;
	uint8_t spilled[64];	/* main frame: 8-byte slots written whole (1) or in part (2) */
	int depth;		/* call nesting of the function being generated */
	int cursor_step;	/* > INT_MIN: the next callee is a cursor (s_cursor_call) */
	bool focus;		/* SOUNDGEN_FOCUS=precision: mostly the verifier's newer shapes */
};

static uint64_t rnd(struct gen *g) { return csd_xorshift64(&g->rng); }
static unsigned below(struct gen *g, unsigned n) { return n ? (unsigned)(rnd(g) % n) : 0; }
static bool chance(struct gen *g, unsigned pct) { return below(g, 100) < pct; }

static const int64_t interesting[] = {
	0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 255, 256, 511,
	512, 513, 1023, 4095, 4096, 65535, 65536, 0x7fffffff, 0x80000000ll, 0xffffffffll,
	0x100000000ll, -1, -2, -4, -8, -16, -64, -255, -256, -512, -513, INT32_MIN,
	(int64_t)1 << 40, (int64_t)1 << 56, (int64_t)1 << 62, INT64_MAX, INT64_MIN,
};

static void note_const(struct gen *g, int64_t c)
{
	if (g->p->nconsts < SOUNDGEN_MAX_CONSTS)
		g->p->consts[g->p->nconsts++] = c;
}

static int64_t pick_const(struct gen *g)
{
	int64_t c;

	switch (below(g, 6)) {
	case 0:
		c = (int64_t)below(g, 600) - 40;
		break;
	case 1:
		c = g->guard + (int64_t)below(g, 9) - 4;
		break;
	case 2:
		c = (int64_t)rnd(g);
		break;
	default:
		c = interesting[below(g, sizeof(interesting) / sizeof(interesting[0]))];
	}
	return c;
}

/* An immediate field holds 32 bits, sign-extended. */
static int32_t pick_imm(struct gen *g)
{
	int64_t c = pick_const(g);
	int32_t imm = (int32_t)c;

	note_const(g, imm);
	note_const(g, (uint32_t)imm);
	return imm;
}

static struct func *F(struct gen *g) { return &g->fn[g->cur]; }

static void emit(struct gen *g, uint8_t code, unsigned dst, unsigned src, int16_t off, int32_t imm)
{
	struct func *f = F(g);

	if (f->cnt + 2 >= FUNC_INSNS) {
		f->full = true;
		return;
	}
	f->insns[f->cnt++] = (struct csd_ebpf_insn){ code, (uint8_t)dst, (uint8_t)src, off, imm };
}

static void emit_lddw(struct gen *g, unsigned dst, unsigned src, int32_t lo, int32_t hi)
{
	emit(g, BPF_OP_LDDW, dst, src, 0, lo);
	emit(g, 0, 0, 0, 0, hi);
}

/* A conditional jump to the function's `out` block. */
static void emit_to_out(struct gen *g, uint8_t code, unsigned dst, unsigned src, int32_t imm)
{
	struct func *f = F(g);

	if (f->nout < MAX_FIX && !f->full) {
		f->out_fix[f->nout++] = f->cnt;
		emit(g, code, dst, src, 0, imm);
	}
}

static int pick_reg(struct gen *g, unsigned kind_mask)
{
	unsigned cand[EBPF_NREGS], n = 0;

	for (unsigned r = 0; r < 10; r++)
		if (kind_mask >> g->kind[r] & 1)
			cand[n++] = r;
	return n ? (int)cand[below(g, n)] : -1;
}

#define M(k)	(1u << (k))
#define M_PTR	(M(K_INPUT) | M(K_STACK) | M(K_MAP))

/* A register to write: mostly not the ones holding the input pointer and its length. */
static unsigned pick_dst(struct gen *g)
{
	for (int tries = 0; tries < 4; tries++) {
		unsigned r = below(g, 10);

		if ((r != 6 && r != 7) || chance(g, 10))
			return r;
	}
	return below(g, 2) ? 0 : 8;
}

static int pick_scalar(struct gen *g) { return pick_reg(g, M(K_SCALAR)); }

static const uint8_t sizes[] = { BPF_B, BPF_H, BPF_W, BPF_DW };
static unsigned size_bytes(uint8_t sz) { return sz == BPF_B ? 1 : sz == BPF_H ? 2 : sz == BPF_W ? 4 : 8; }

static const uint8_t alu_ops[] = { BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH,
				   BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH };
static const uint8_t jmp_ops[] = { BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT,
				   BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE };

/* ---- snippets ---------------------------------------------------------------------------- */

static void s_mov_const(struct gen *g)
{
	unsigned d = pick_dst(g);

	if (chance(g, 20)) {
		int64_t c = pick_const(g);

		note_const(g, c);
		emit_lddw(g, d, 0, (int32_t)c, (int32_t)((uint64_t)c >> 32));
	} else {
		emit(g, BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, pick_imm(g));
	}
	g->kind[d] = K_SCALAR;
}

static void s_load_input(struct gen *g)
{
	int p = pick_reg(g, M(K_INPUT));
	uint8_t sz = sizes[below(g, 4)];
	unsigned d = pick_dst(g);
	int64_t off;

	if (p < 0)
		return;
	off = chance(g, 85) && g->guard > 0 ? (int64_t)below(g, (unsigned)g->guard) :
	      (int64_t)below(g, 80) - 8;
	emit(g, BPF_LDX | BPF_MEM | sz, d, (unsigned)p, (int16_t)off, 0);
	if (chance(g, 10))	/* sign-extending load */
		F(g)->insns[F(g)->cnt - 1].code = (uint8_t)(BPF_LDX | BPF_MEMSX | sizes[below(g, 3)]);
	g->kind[d] = K_SCALAR;
}

static void s_alu(struct gen *g)
{
	uint8_t op = alu_ops[below(g, sizeof(alu_ops))];
	bool is64 = chance(g, 60), reg = chance(g, 40);
	uint8_t cls = is64 ? BPF_ALU64 : BPF_ALU;
	int d = op == BPF_MOV ? (int)pick_dst(g) : pick_scalar(g), s = -1;
	int16_t off = 0;

	if (d < 0)
		return;
	if (reg) {
		s = chance(g, 15) ? d : pick_scalar(g);
		if (s < 0)
			reg = false;
	}
	if (op == BPF_NEG) {
		reg = false;
		if (!is64 && chance(g, 50))
			cls = BPF_ALU;
	}
	if ((op == BPF_DIV || op == BPF_MOD) && chance(g, 25))
		off = 1;	/* signed division */
	if (op == BPF_MOV && reg && chance(g, 20)) {
		static const int16_t widths[] = { 8, 16, 32 };

		off = widths[below(g, is64 ? 3 : 2)];	/* movsx */
	}
	if (op == BPF_NEG)
		emit(g, (uint8_t)(cls | op), (unsigned)d, 0, 0, 0);
	else if (reg)
		emit(g, (uint8_t)(cls | op | BPF_X), (unsigned)d, (unsigned)s, off, 0);
	else {
		int32_t imm = pick_imm(g);

		if ((op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH) && chance(g, 80))
			imm = (int32_t)below(g, is64 ? 64 : 32);
		emit(g, (uint8_t)(cls | op | BPF_K), (unsigned)d, 0, off, imm);
	}
	g->kind[d] = K_SCALAR;
}

static void s_byteswap(struct gen *g)
{
	int d = pick_scalar(g);
	static const int32_t widths[] = { 16, 32, 64 };

	if (d < 0)
		return;
	switch (below(g, 3)) {
	case 0:
		emit(g, BPF_ALU | BPF_END | BPF_TO_LE, (unsigned)d, 0, 0, widths[below(g, 3)]);
		break;
	case 1:
		emit(g, BPF_ALU | BPF_END | BPF_TO_BE, (unsigned)d, 0, 0, widths[below(g, 3)]);
		break;
	default:
		emit(g, BPF_OP_END_BSWAP, (unsigned)d, 0, 0, widths[below(g, 3)]);
	}
}

/*
 * x <<= k; x >>= k (or s>>=): compilers' zero- and sign-extension, which the verifier takes
 * as nothing when x already fits (its relations kept), and now and then a jump lands between.
 */
static void s_extend(struct gen *g)
{
	static const int32_t widths[] = { 32, 32, 48, 56, 24, 8 };
	int d = pick_scalar(g);
	int32_t k = widths[below(g, sizeof(widths) / sizeof(widths[0]))];

	if (d < 0)
		return;
	emit(g, BPF_ALU64 | BPF_LSH | BPF_K, (unsigned)d, 0, 0, k);
	if (chance(g, 10))
		emit(g, BPF_JMP | BPF_JEQ | BPF_K, (unsigned)d, 0, 0, 0);	/* lands on the next */
	emit(g, (uint8_t)(BPF_ALU64 | (chance(g, 60) ? BPF_RSH : BPF_ARSH) | BPF_K), (unsigned)d, 0,
	     0, chance(g, 90) ? k : k - 1);
}

static void s_alu_chain(struct gen *g)
{
	unsigned n = 2 + below(g, 3);

	if (chance(g, 30))
		s_extend(g);
	for (unsigned i = 0; i < n; i++)
		s_alu(g);
}

/* A pointer plus (or minus) a scalar the program derived: where verifiers go wrong. */
static void s_ptr_arith(struct gen *g)
{
	int base = pick_reg(g, M_PTR), s = pick_scalar(g);
	unsigned d = pick_dst(g);

	if (base < 0)
		return;
	if ((unsigned)base != d)
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, d, (unsigned)base, 0, 0);
	g->kind[d] = g->kind[base];
	switch (below(g, 5)) {
	case 0:
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, pick_imm(g));
		break;
	case 1:
		if (s >= 0 && (unsigned)s != d) {
			emit(g, BPF_ALU64 | BPF_SUB | BPF_X, d, (unsigned)s, 0, 0);
			break;
		}
		/* fall through */
	case 2:
		if (s >= 0 && (unsigned)s != d && chance(g, 50)) {
			/* scalar += pointer: the scalar register becomes the pointer */
			emit(g, BPF_ALU64 | BPF_ADD | BPF_X, (unsigned)s, d, 0, 0);
			g->kind[s] = g->kind[d];
			break;
		}
		/* fall through */
	default:
		if (s >= 0 && (unsigned)s != d)
			emit(g, BPF_ALU64 | BPF_ADD | BPF_X, d, (unsigned)s, 0, 0);
		else
			emit(g, BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, pick_imm(g));
	}
}

static int16_t pick_stack_off(struct gen *g, unsigned size)
{
	if (chance(g, 80))
		return (int16_t)(-8 * (int)(1 + below(g, 8)) + (chance(g, 85) ? 0 : (int)below(g, 8)));
	return (int16_t)(-(int)below(g, 530) + (int)below(g, 8) - (int)size + 1);
}

static void s_spill(struct gen *g)
{
	uint8_t sz = chance(g, 65) ? BPF_DW : sizes[below(g, 4)];
	int16_t off = pick_stack_off(g, size_bytes(sz));
	int s = pick_reg(g, M(K_SCALAR) | M_PTR | M(K_NULLABLE) | M(K_MAPREF));
	int fp = chance(g, 85) || pick_reg(g, M(K_STACK)) < 0 ? 10 : pick_reg(g, M(K_STACK));

	if (s < 0 || chance(g, 15)) {
		emit(g, BPF_ST | BPF_MEM | sz, (unsigned)fp, 0, off, pick_imm(g));
	} else {
		emit(g, BPF_STX | BPF_MEM | sz, (unsigned)fp, (unsigned)s, off, 0);
	}
	if (fp == 10 && off < 0 && off >= -512)
		g->spilled[(512 + off) / 8 % 64] = (sz == BPF_DW && !(off & 7)) ? 1 : 2;
}

static void s_fill(struct gen *g)
{
	unsigned cand[64], n = 0, d = pick_dst(g);
	uint8_t sz = chance(g, 70) ? BPF_DW : sizes[below(g, 4)];
	int16_t off;

	for (unsigned i = 0; i < 64; i++)
		if (g->spilled[i])
			cand[n++] = i;
	if (n && chance(g, 85))
		off = (int16_t)((int)cand[below(g, n)] * 8 - 512 + (chance(g, 80) ? 0 : (int)below(g, 8)));
	else
		off = pick_stack_off(g, size_bytes(sz));
	emit(g, BPF_LDX | BPF_MEM | sz, d, 10, off, 0);
	/* a whole slot may give back a pointer: the verifier knows, the model guesses */
	g->kind[d] = sz == BPF_DW && chance(g, 50) ? K_SCALAR : K_SCALAR;
	if (sz == BPF_DW && chance(g, 40)) {
		int k = pick_reg(g, M_PTR);

		if (k >= 0)
			g->kind[d] = g->kind[k];
	}
}

static void s_access(struct gen *g)
{
	int p = pick_reg(g, M_PTR | (chance(g, 10) ? M(K_NULLABLE) : 0));
	uint8_t sz = sizes[below(g, 4)];
	int16_t off;

	if (p < 0)
		return;
	if (g->kind[p] == K_STACK)
		off = pick_stack_off(g, size_bytes(sz));
	else if (g->kind[p] == K_INPUT && g->guard > 0 && chance(g, 80))
		off = (int16_t)below(g, (unsigned)g->guard);
	else
		off = (int16_t)((int)below(g, 48) - 4);
	switch (below(g, 3)) {
	case 0: {
		unsigned d = pick_dst(g);

		emit(g, BPF_LDX | BPF_MEM | sz, d, (unsigned)p, off, 0);
		g->kind[d] = K_SCALAR;
		break;
	}
	case 1: {
		int s = chance(g, 85) ? pick_scalar(g) : pick_reg(g, M_PTR);

		if (s >= 0)
			emit(g, BPF_STX | BPF_MEM | sz, (unsigned)p, (unsigned)s, off, 0);
		break;
	}
	default:
		emit(g, BPF_ST | BPF_MEM | sz, (unsigned)p, 0, off, pick_imm(g));
	}
}

static void s_atomic(struct gen *g)
{
	static const int32_t ops[] = { BPF_ADD, BPF_OR, BPF_AND, BPF_XOR, BPF_ADD | BPF_FETCH,
				       BPF_OR | BPF_FETCH, BPF_AND | BPF_FETCH,
				       BPF_XOR | BPF_FETCH, BPF_XCHG, BPF_CMPXCHG };
	int p = pick_reg(g, M(K_STACK) | M(K_MAP) | (chance(g, 10) ? M(K_INPUT) : 0));
	int s = pick_scalar(g);
	bool dw = chance(g, 60);
	int32_t op = ops[below(g, sizeof(ops) / sizeof(ops[0]))];
	int16_t off;

	if (p < 0 || s < 0)
		return;
	off = g->kind[p] == K_STACK ? (int16_t)(-8 * (int)(1 + below(g, 8)) + (dw ? 0 : 4 * (int)below(g, 2))) :
	      (int16_t)(dw ? 8 * below(g, 3) : 4 * below(g, 6));
	if (chance(g, 5))
		off = (int16_t)(off + 1 + (int)below(g, 3));
	if (op == BPF_CMPXCHG && g->kind[0] != K_SCALAR)
		emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, pick_imm(g)), g->kind[0] = K_SCALAR;
	emit(g, (uint8_t)(BPF_STX | BPF_ATOMIC | (dw ? BPF_DW : BPF_W)), (unsigned)p, (unsigned)s,
	     off, op);
	if (op == BPF_CMPXCHG)
		g->kind[0] = K_SCALAR;
	else if (op & BPF_FETCH)
		g->kind[s] = K_SCALAR;
}

/* After any call: r1-r5 are gone. */
static void clobber_args(struct gen *g)
{
	for (unsigned r = 1; r <= 5; r++)
		g->kind[r] = K_NONE;
	g->kind[0] = K_SCALAR;
}

static void s_map_lookup(struct gen *g)
{
	unsigned map = chance(g, 60) ? SOUNDGEN_MAP_ARRAY : SOUNDGEN_MAP_HASH;
	int16_t key_off = (int16_t)(-8 * (int)(1 + below(g, 4)));
	int s = pick_scalar(g);

	if (chance(g, 85)) {
		if (s >= 0 && chance(g, 50))
			emit(g, BPF_STX | BPF_MEM | BPF_DW, 10, (unsigned)s, key_off, 0);
		else
			emit(g, BPF_ST | BPF_MEM | BPF_DW, 10, 0, key_off, (int32_t)below(g, 6));
		g->spilled[(512 + key_off) / 8] = 1;
	}
	/* the map or the key first: clang writes both, and the JIT folds both into the lookup */
	bool map_first = chance(g, 50);

	if (map_first)
		emit_lddw(g, 1, BPF_PSEUDO_MAP_FD, (int32_t)map, 0);
	emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
	emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, key_off);
	if (!map_first)
		emit_lddw(g, 1, BPF_PSEUDO_MAP_FD, (int32_t)map, 0);
	emit(g, BPF_JMP | BPF_CALL, 0, 0, 0, CSD_EBPF_HELPER_MAP_LOOKUP_ELEM);
	clobber_args(g);
	g->kind[0] = K_NULLABLE;
	if (chance(g, 85)) {
		if (chance(g, 70))
			emit_to_out(g, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0);
		else {
			/* if (r0 != NULL) skip the next instruction, which gives up */
			emit(g, BPF_JMP | BPF_JNE | BPF_K, 0, 0, 1, 0);
			emit(g, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		}
		g->kind[0] = K_MAP;
	}
	if (chance(g, 50)) {
		unsigned d = 6 + below(g, 4);

		if (d == 6 && chance(g, 70))
			d = 8;
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, d, 0, 0, 0);
		g->kind[d] = g->kind[0];
	}
}

static void s_map_value(struct gen *g)
{
	unsigned d = pick_dst(g);
	unsigned map = chance(g, 70) ? SOUNDGEN_MAP_DATA : SOUNDGEN_MAP_RODATA;

	emit_lddw(g, d, BPF_PSEUDO_MAP_VALUE, (int32_t)map, (int32_t)(chance(g, 80) ? 8 * below(g, 3) : below(g, 48)));
	g->kind[d] = K_MAP;
}

static void s_helper(struct gen *g)
{
	switch (below(g, 3)) {
	case 0: {	/* map update: key and value from the stack */
		int16_t key_off = -8, val_off = (int16_t)(-40 + 8 * (int)below(g, 3));

		if (chance(g, 80))
			emit(g, BPF_ST | BPF_MEM | BPF_DW, 10, 0, key_off, (int32_t)below(g, 4));
		for (int i = 0; i < 3 && chance(g, 80); i++)
			emit(g, BPF_ST | BPF_MEM | BPF_DW, 10, 0, (int16_t)(val_off + 8 * i), pick_imm(g));
		emit_lddw(g, 1, BPF_PSEUDO_MAP_FD, (int32_t)(chance(g, 50) ? SOUNDGEN_MAP_ARRAY : SOUNDGEN_MAP_HASH), 0);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, key_off);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 3, 10, 0, 0);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, val_off);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0);
		emit(g, BPF_JMP | BPF_CALL, 0, 0, 0, CSD_EBPF_HELPER_MAP_UPDATE_ELEM);
		break;
	}
	case 1: {	/* trace_printk of the bytes at fp-16 (which may hold anything) */
		int a = pick_reg(g, M(K_SCALAR) | (chance(g, 10) ? M_PTR : 0));

		if (chance(g, 70))
			emit(g, BPF_ST | BPF_MEM | BPF_DW, 10, 0, -16, 0x7825);	/* "%x" */
		if (a >= 0 && a != 3)
			emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 3, (unsigned)a, 0, 0);
		else
			emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 7);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 1, 10, 0, 0);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -16);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, (int32_t)(1 + below(g, 8)));
		emit(g, BPF_JMP | BPF_CALL, 0, 0, 0, CSD_EBPF_HELPER_TRACE_PRINTK);
		break;
	}
	default:
		emit(g, BPF_JMP | BPF_CALL, 0, 0, 0, CSD_EBPF_HELPER_GET_SMP_PROCESSOR_ID);
	}
	clobber_args(g);
}

static void emit_compare(struct gen *g, bool to_out)
{
	uint8_t op = jmp_ops[below(g, sizeof(jmp_ops))];
	uint8_t cls = chance(g, 25) ? BPF_JMP32 : BPF_JMP;
	int a = chance(g, 85) ? pick_scalar(g) : pick_reg(g, M_PTR), b = -1;
	int32_t imm = 0;

	if (a < 0)
		return;
	if (chance(g, 45)) {
		if (g->kind[a] == K_SCALAR)
			b = chance(g, 30) && g->kind[7] == K_SCALAR ? 7 : pick_scalar(g);
		else
			b = pick_reg(g, 1u << g->kind[a]);
	}
	if (b < 0)
		imm = pick_imm(g);
	if (to_out)
		emit_to_out(g, (uint8_t)(cls | op | (b >= 0 ? BPF_X : BPF_K)), (unsigned)a,
			    b >= 0 ? (unsigned)b : 0, imm);
	else
		emit(g, (uint8_t)(cls | op | (b >= 0 ? BPF_X : BPF_K)), (unsigned)a,
		     b >= 0 ? (unsigned)b : 0, 0, imm);
}

/* A forward branch over the next few snippets: a diamond, joined where it lands. */
static void s_branch(struct gen *g)
{
	size_t pc = F(g)->cnt;

	emit_compare(g, false);
	if (F(g)->cnt == pc || g->nfwd == MAX_FIX)
		return;
	g->fwd_pc[g->nfwd] = pc;
	g->fwd_at[g->nfwd++] = g->snippet + 1 + below(g, 4);
}

static void s_guard(struct gen *g)
{
	emit_compare(g, true);
}

static void land_branches(struct gen *g, bool all)
{
	for (unsigned i = 0; i < g->nfwd;) {
		if (all || g->fwd_at[i] <= g->snippet) {
			struct csd_ebpf_insn *j = &F(g)->insns[g->fwd_pc[i]];

			j->off = (int16_t)(F(g)->cnt - g->fwd_pc[i] - 1);
			g->fwd_pc[i] = g->fwd_pc[--g->nfwd];
			g->fwd_at[i] = g->fwd_at[g->nfwd];
		} else {
			i++;
		}
	}
}

static void snippet(struct gen *g, bool in_loop);

/* The shape of issue 16's second program: a sum on one path, a load on the other, then a join. */
static void s_join_relation(struct gen *g)
{
	int y = pick_scalar(g), z = pick_scalar(g), p = pick_reg(g, M(K_INPUT));
	unsigned x = pick_dst(g);
	size_t br, skip;

	if (y < 0 || z < 0 || p < 0 || x == (unsigned)y || x == (unsigned)z || x == (unsigned)p)
		return;
	br = F(g)->cnt;
	emit(g, BPF_JMP | BPF_JGT | BPF_K, (unsigned)y, 0, 0, pick_imm(g));
	emit(g, BPF_ALU64 | BPF_MOV | BPF_X, x, (unsigned)y, 0, 0);
	emit(g, BPF_ALU64 | BPF_ADD | BPF_X, x, (unsigned)z, 0, 0);
	skip = F(g)->cnt;
	emit(g, BPF_JMP | BPF_JA, 0, 0, 0, 0);
	F(g)->insns[br].off = (int16_t)(F(g)->cnt - br - 1);
	emit(g, BPF_LDX | BPF_MEM | BPF_B, x, (unsigned)p, (int16_t)below(g, 8), 0);
	F(g)->insns[skip].off = (int16_t)(F(g)->cnt - skip - 1);
	g->kind[x] = K_SCALAR;
}

static void s_loop(struct gen *g)
{
	unsigned i = pick_dst(g), n = 1 + below(g, 3);
	size_t head;
	unsigned saved_nfwd = g->nfwd;

	if (i == 0)
		i = 9;
	emit(g, BPF_ALU64 | BPF_MOV | BPF_K, i, 0, 0, chance(g, 80) ? 0 : (int32_t)below(g, 8));
	g->kind[i] = K_SCALAR;
	head = F(g)->cnt;
	for (unsigned k = 0; k < n; k++)
		snippet(g, true);
	/* branches begun in the body land before the latch */
	for (unsigned k = saved_nfwd; k < g->nfwd; k++)
		g->fwd_at[k] = 0;
	land_branches(g, false);
	if (g->kind[i] != K_SCALAR)
		return;		/* the body reused the counter: leave the loop unclosed (no back edge) */
	emit(g, BPF_ALU64 | BPF_ADD | BPF_K, i, 0, 0, chance(g, 85) ? 1 : (int32_t)(1 + below(g, 8)));
	if (chance(g, 50) && g->kind[7] == K_SCALAR)
		emit(g, (uint8_t)(BPF_JMP | (chance(g, 80) ? BPF_JLT : BPF_JNE) | BPF_X), i, 7,
		     (int16_t)(head - F(g)->cnt - 1), 0);
	else {
		int32_t lim = chance(g, 70) ? (int32_t)(1 + below(g, 70)) : pick_imm(g);

		note_const(g, lim);
		emit(g, (uint8_t)(BPF_JMP | (chance(g, 80) ? BPF_JLT : chance(g, 50) ? BPF_JNE : BPF_JSLT) |
				  BPF_K), i, 0, (int16_t)(head - F(g)->cnt - 1), lim);
	}
}

/*
 * A walk in strides, the shape of record and word loops: n = len >> k (or len / k), a pointer
 * stepping `stride` bytes beside a counter tested against n (or, over the stack, against a
 * constant with jne), an access near each stride. The verifier relates the multiplication to
 * len here (stride and division facts) and widens the counter to the constant: now and then
 * the shift, the stride, the offset or n is off by a little, which it must refuse.
 */
static void s_strided_walk(struct gen *g)
{
	static const int32_t strides[] = { 1, 2, 4, 8, 12, 16, 24, 32, 64, 512 };
	static const unsigned free_regs[] = { 3, 4, 5, 8, 9 };
	unsigned pick[3], nfree = 0, n, i, p;
	int32_t stride = strides[below(g, sizeof(strides) / sizeof(strides[0]))];
	int in = g->kind[6] == K_INPUT && chance(g, 80) ? 6 : pick_reg(g, M(K_INPUT));
	int len = g->kind[7] == K_SCALAR ? 7 : pick_scalar(g);
	uint8_t sz = sizes[below(g, 4)];
	bool on_stack = chance(g, 25), top_test = chance(g, 50), computed = chance(g, 30);
	size_t head, exit_br = 0;
	int32_t off;

	while (nfree < 3) {
		unsigned r = free_regs[below(g, 5)], k;

		for (k = 0; k < nfree && pick[k] != r; k++)
			;
		if (k == nfree)
			pick[nfree++] = r;
	}
	n = pick[0], i = pick[1], p = pick[2];
	while (size_bytes(sz) > (unsigned)stride && chance(g, 85))
		sz = sizes[below(g, 4)];
	if ((!on_stack && (in < 0 || len < 0)) || (unsigned)in == n || (unsigned)in == i ||
	    (unsigned)len == n || (unsigned)len == i || (unsigned)len == p)
		return;
	if (on_stack) {
		/* p = fp - count * stride, count constant: for (i = 0; i != count; i++) */
		int32_t count = (int32_t)(1 + below(g, 512 / stride < 64 ? 512 / stride : 64));

		if (chance(g, 10))
			count += 1;
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, p, 10, 0, 0);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, p, 0, 0, -count * stride);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_K, n, 0, 0, count);
		note_const(g, count);
		g->kind[p] = K_STACK;
	} else {
		int32_t k = stride;
		bool by_shift = !(stride & (stride - 1)) && chance(g, 60);

		if (by_shift)
			k = __builtin_ctz((unsigned)stride);
		if (chance(g, 12))
			k += (int32_t)below(g, 3) - 1;	/* one off, now and then */
		if (k <= 0 && !by_shift)
			k = 1;
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, n, (unsigned)len, 0, 0);
		if (chance(g, 8))
			emit(g, BPF_ALU64 | BPF_ADD | BPF_K, n, 0, 0, (int32_t)below(g, 3 * stride) - stride);
		emit(g, (uint8_t)(BPF_ALU64 | (by_shift ? BPF_RSH : BPF_DIV) | BPF_K), n, 0, 0,
		     by_shift && k < 0 ? 0 : k);
		if (chance(g, 8))
			emit(g, BPF_ALU64 | BPF_ADD | BPF_K, n, 0, 0, (int32_t)below(g, 5) - 2);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, p, (unsigned)in, 0, 0);
		g->kind[p] = K_INPUT;
	}
	g->kind[n] = K_SCALAR;
	emit(g, BPF_ALU64 | BPF_MOV | BPF_K, i, 0, 0, 0);
	g->kind[i] = K_SCALAR;
	/* tested at the top, or rotated as compilers do: tested once before, then at the bottom */
	if (!top_test && chance(g, 85)) {
		exit_br = F(g)->cnt;
		emit(g, (uint8_t)(BPF_JMP | (on_stack ? BPF_JEQ : BPF_JGE) | BPF_X), i, n, 0, 0);
	}
	head = F(g)->cnt;
	if (top_test) {
		exit_br = F(g)->cnt;
		emit(g, (uint8_t)(BPF_JMP | (on_stack ? BPF_JEQ : BPF_JGE) | BPF_X), i, n, 0, 0);
	}
	off = chance(g, 80) ? (int32_t)below(g, (unsigned)(stride >= (int32_t)size_bytes(sz) ?
					   stride - (int32_t)size_bytes(sz) + 1 : 1)) :
	      (int32_t)below(g, (unsigned)stride + 9) - 4;
	if (computed && !on_stack) {
		/* q = in + i * stride, the address made afresh each round */
		unsigned q = p;

		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, q, i, 0, 0);
		if (!(stride & (stride - 1)) && chance(g, 50))
			emit(g, BPF_ALU64 | BPF_LSH | BPF_K, q, 0, 0, __builtin_ctz((unsigned)stride));
		else
			emit(g, BPF_ALU64 | BPF_MUL | BPF_K, q, 0, 0, stride);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_X, q, (unsigned)in, 0, 0);
		g->kind[q] = K_INPUT;
	}
	if (on_stack || chance(g, 20))
		emit(g, BPF_ST | BPF_MEM | sz, p, 0, (int16_t)off, pick_imm(g));
	else
		emit(g, BPF_LDX | BPF_MEM | sz, 0, p, (int16_t)off, 0);
	g->kind[0] = K_SCALAR;
	if (!(computed && !on_stack))
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, p, 0, 0, chance(g, 8) ? stride + 1 : stride);
	emit(g, BPF_ALU64 | BPF_ADD | BPF_K, i, 0, 0, 1);
	if (top_test) {
		emit(g, BPF_JMP | BPF_JA, 0, 0, (int16_t)(head - F(g)->cnt - 1), 0);
		F(g)->insns[exit_br].off = (int16_t)(F(g)->cnt - exit_br - 1);
	} else {
		emit(g, (uint8_t)(BPF_JMP | (on_stack ? BPF_JNE : BPF_JLT) | BPF_X), i, n,
		     (int16_t)(head - F(g)->cnt - 1), 0);
		if (exit_br)
			F(g)->insns[exit_br].off = (int16_t)(F(g)->cnt - exit_br - 1);
	}
	if (on_stack && chance(g, 60)) {
		/* read back what the loop may have written (or bytes it never touched) */
		emit(g, BPF_LDX | BPF_MEM | sizes[below(g, 4)], 0, 10,
		     (int16_t)(-(int)(1 + below(g, 520))), 0);
		g->kind[0] = K_SCALAR;
	}
}

/*
 * A cursor callee (r1 input, r2 len, r3 position): returns r3 moved on by cursor_step, or,
 * with a step of 0, scans on while bytes are below 'm' and stops at len (always one step at
 * least). The caller relies on the relation of the result to its argument (the verifier
 * carries it across the call): for the step, an access just past the old position; for the
 * scan, its loop's progress.
 */
static void cursor_body(struct gen *g)
{
	int step = g->cursor_step;

	g->cursor_step = INT_MIN;
	g->focus = getenv("SOUNDGEN_FOCUS") && !strcmp(getenv("SOUNDGEN_FOCUS"), "precision");
	emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 0, 3, 0, 0);
	if (step) {
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, step);
	} else {
		size_t head = F(g)->cnt, out;

		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, chance(g, 90) ? 1 : 0);
		out = F(g)->cnt;
		emit(g, BPF_JMP | BPF_JGE | BPF_X, 0, 2, 0, 0);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 4, 1, 0, 0);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_X, 4, 0, 0, 0);
		emit(g, BPF_LDX | BPF_MEM | BPF_B, 4, 4, 0, 0);
		emit(g, BPF_JMP | BPF_JLT | BPF_K, 4, 0, (int16_t)(head - F(g)->cnt - 1), 'm');
		F(g)->insns[out].off = (int16_t)(F(g)->cnt - out - 1);
	}
	emit(g, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

static void gen_function(struct gen *g, unsigned idx, const uint8_t *arg_kinds);

/* A call whose result is a cursor: in a loop `pos = scan(data, len, pos)`, or once with a step. */
static void s_cursor_call(struct gen *g)
{
	uint8_t arg_kinds[6] = { 0 };
	bool loop = chance(g, 50);
	size_t head = 0, exit_br = 0, pc;
	unsigned target;
	int32_t step = (int32_t)below(g, 9) - 2;

	if (g->depth >= 2 || g->nfn >= MAX_FUNCS || F(g)->ncalls >= 8 || g->kind[6] != K_INPUT ||
	    g->kind[7] != K_SCALAR || (loop && !step))
		return;
	if (loop)
		step = 0;
	emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 8, 0, 0, 0);
	g->kind[8] = K_SCALAR;
	if (loop) {
		head = F(g)->cnt;
		exit_br = F(g)->cnt;
		emit(g, BPF_JMP | BPF_JGE | BPF_X, 8, 7, 0, 0);
	} else {
		/* pos + 8 <= len, with pos from the input */
		emit(g, BPF_LDX | BPF_MEM | BPF_B, 8, 6, 0, 0);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 9, 8, 0, 0);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 9, 0, 0, 8);
		emit_to_out(g, BPF_JMP | BPF_JGT | BPF_X, 9, 7, 0);
		g->kind[9] = K_SCALAR;
	}
	emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0);
	emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 2, 7, 0, 0);
	emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 3, 8, 0, 0);
	arg_kinds[1] = K_INPUT;
	arg_kinds[2] = arg_kinds[3] = K_SCALAR;
	target = g->nfn++;
	pc = F(g)->cnt;
	emit(g, BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0);
	F(g)->call_pc[F(g)->ncalls] = pc;
	F(g)->call_to[F(g)->ncalls++] = target;
	g->cursor_step = step;
	gen_function(g, target, arg_kinds);
	clobber_args(g);
	if (loop) {
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 8, 0, 0, 0);
		emit(g, BPF_JMP | BPF_JA, 0, 0, (int16_t)(head - F(g)->cnt - 1), 0);
		F(g)->insns[exit_br].off = (int16_t)(F(g)->cnt - exit_br - 1);
	} else {
		/* safe while step + 4 < 8 */
		emit(g, BPF_ALU64 | BPF_ADD | BPF_X, 0, 6, 0, 0);
		emit(g, BPF_LDX | BPF_MEM | BPF_B, 0, 0, 4, 0);
	}
	g->kind[0] = K_SCALAR;
}


static void s_call(struct gen *g)
{
	uint8_t arg_kinds[6] = { 0 };
	unsigned target;
	size_t pc;

	if (g->depth >= 2 || g->nfn >= MAX_FUNCS || F(g)->ncalls >= 8)
		return;
	/* arguments: a pointer into this frame, the input, a scalar */
	switch (below(g, 3)) {
	case 0:
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 1, 10, 0, 0);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -8 * (int32_t)(1 + below(g, 4)));
		g->kind[1] = K_STACK;
		break;
	case 1:
		if (pick_reg(g, M(K_INPUT)) >= 0) {
			emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 1, (unsigned)pick_reg(g, M(K_INPUT)), 0, 0);
			g->kind[1] = K_INPUT;
			break;
		}
		/* fall through */
	default:
		emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, pick_imm(g));
		g->kind[1] = K_SCALAR;
	}
	if (pick_scalar(g) >= 0 && chance(g, 70))
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 2, (unsigned)pick_scalar(g), 0, 0);
	else
		emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, pick_imm(g));
	g->kind[2] = K_SCALAR;
	memcpy(arg_kinds, g->kind, sizeof(arg_kinds));
	target = g->nfn++;
	pc = F(g)->cnt;
	emit(g, BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0);
	F(g)->call_pc[F(g)->ncalls] = pc;
	F(g)->call_to[F(g)->ncalls++] = target;
	gen_function(g, target, arg_kinds);
	clobber_args(g);
	if (chance(g, 30))
		g->kind[0] = arg_kinds[1];	/* it may have returned its argument */
}

static void snippet(struct gen *g, bool in_loop)
{
	unsigned w = below(g, 100);

	g->snippet++;
	if (!in_loop)
		land_branches(g, false);
	if (g->focus && !in_loop && w < 70) {
		/* the shapes of issue 20's precision: strides, divisions, cursors, extensions */
		if (w < 40) s_strided_walk(g);
		else if (w < 55) s_cursor_call(g);
		else s_extend(g);
	} else if (w < 10) s_load_input(g);
	else if (w < 24) s_alu(g);
	else if (w < 30) s_alu_chain(g);
	else if (w < 32) s_byteswap(g);
	else if (w < 40) s_ptr_arith(g);
	else if (w < 50) s_access(g);
	else if (w < 58) s_branch(g);
	else if (w < 62) s_guard(g);
	else if (w < 67) s_spill(g);
	else if (w < 72) s_fill(g);
	else if (w < 76) s_atomic(g);
	else if (w < 80) s_map_lookup(g);
	else if (w < 83) s_map_value(g);
	else if (w < 85) s_helper(g);
	else if (w < 89) s_join_relation(g);
	else if (w < 92 && !in_loop) s_loop(g);
	else if (w < 94 && !in_loop) s_strided_walk(g);
	else if (w < 95 && !in_loop) s_cursor_call(g);
	else if (w < 96 && !in_loop) s_call(g);
	else s_mov_const(g);
}

/* r0 from some register, then exit; the `out` block; jumps to it patched. */
static void epilogue(struct gen *g)
{
	int r = chance(g, 85) ? pick_scalar(g) : pick_reg(g, M_PTR | M(K_NULLABLE) | M(K_SCALAR));
	size_t out;

	land_branches(g, true);
	if (r > 0)
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 0, (unsigned)r, 0, 0);
	else if (r < 0)
		emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	emit(g, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	out = F(g)->cnt;
	emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, (int32_t)below(g, 3));
	emit(g, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	for (unsigned i = 0; i < F(g)->nout; i++)
		F(g)->insns[F(g)->out_fix[i]].off = (int16_t)(out - F(g)->out_fix[i] - 1);
}

static void gen_function(struct gen *g, unsigned idx, const uint8_t *arg_kinds)
{
	unsigned saved_cur = g->cur, saved_nfwd = g->nfwd, saved_snippet = g->snippet, n;
	uint8_t saved_kind[EBPF_NREGS], saved_spilled[64];
	size_t saved_fwd_pc[MAX_FIX];
	unsigned saved_fwd_at[MAX_FIX];

	memcpy(saved_kind, g->kind, sizeof(saved_kind));
	memcpy(saved_spilled, g->spilled, sizeof(saved_spilled));
	memcpy(saved_fwd_pc, g->fwd_pc, sizeof(saved_fwd_pc));
	memcpy(saved_fwd_at, g->fwd_at, sizeof(saved_fwd_at));
	g->cur = idx;
	g->depth++;
	g->nfwd = 0;
	memset(&g->fn[idx], 0, sizeof(g->fn[idx]));
	memset(g->kind, K_NONE, sizeof(g->kind));
	memcpy(g->kind, arg_kinds, 6);
	g->kind[0] = K_NONE;
	g->kind[10] = K_STACK;
	memset(g->spilled, 0, sizeof(g->spilled));
	if (g->cursor_step != INT_MIN) {
		cursor_body(g);
	} else {
		n = 1 + below(g, 6);
		for (unsigned k = 0; k < n; k++)
			snippet(g, false);
		epilogue(g);
	}
	g->depth--;
	g->cur = saved_cur;
	g->nfwd = saved_nfwd;
	g->snippet = saved_snippet;
	memcpy(g->kind, saved_kind, sizeof(saved_kind));
	memcpy(g->spilled, saved_spilled, sizeof(saved_spilled));
	memcpy(g->fwd_pc, saved_fwd_pc, sizeof(saved_fwd_pc));
	memcpy(g->fwd_at, saved_fwd_at, sizeof(saved_fwd_at));
}

static void prologue(struct gen *g)
{
	static const uint8_t guards[] = { BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE };
	int32_t k = chance(g, 70) ? (int32_t)(1 + below(g, 128)) : pick_imm(g);

	g->kind[1] = K_INPUT;
	g->kind[2] = K_SCALAR;
	for (unsigned r = 3; r <= 5; r++)
		g->kind[r] = K_SCALAR;
	g->kind[10] = K_STACK;
	if (chance(g, 85)) {
		uint8_t op = guards[below(g, 4)];
		uint8_t cls = chance(g, 20) ? BPF_JMP32 : BPF_JMP;

		emit_to_out(g, (uint8_t)(cls | op | BPF_K), 2, 0, k);
		note_const(g, k);
		g->guard = k > 0 && k < 4096 ? k : 0;
	}
	if (chance(g, 85)) {
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0);
		g->kind[6] = K_INPUT;
	}
	if (chance(g, 85)) {
		emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 7, 2, 0, 0);
		g->kind[7] = K_SCALAR;
	}
	emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	g->kind[0] = K_SCALAR;
}

void soundgen_generate(uint64_t seed, struct soundgen_prog *out)
{
	struct gen *g = calloc(1, sizeof(*g));
	size_t start[MAX_FUNCS];
	unsigned n;

	memset(out, 0, sizeof(*out));
	if (!g)
		return;
	g->rng = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	if (!g->rng)
		g->rng = 1;
	g->p = out;
	g->nfn = 1;
	g->cursor_step = INT_MIN;
	g->focus = getenv("SOUNDGEN_FOCUS") && !strcmp(getenv("SOUNDGEN_FOCUS"), "precision");
	prologue(g);
	n = 2 + below(g, 12);
	for (unsigned k = 0; k < n; k++)
		snippet(g, false);
	epilogue(g);
	/* lay the functions out one after another and link the calls */
	for (unsigned f = 0; f < g->nfn; f++) {
		start[f] = out->cnt;
		if (out->cnt + g->fn[f].cnt > SOUNDGEN_MAX_INSNS) {
			out->cnt = 0;
			break;
		}
		memcpy(out->insns + out->cnt, g->fn[f].insns, g->fn[f].cnt * sizeof(out->insns[0]));
		out->cnt += g->fn[f].cnt;
	}
	for (unsigned f = 0; f < g->nfn && out->cnt; f++)
		for (unsigned c = 0; c < g->fn[f].ncalls; c++) {
			size_t pc = start[f] + g->fn[f].call_pc[c];

			out->insns[pc].imm = (int32_t)((long)start[g->fn[f].call_to[c]] - (long)pc - 1);
		}
	free(g);
}

struct ebpf_map *soundgen_maps(size_t *cnt)
{
	struct ebpf_map *maps = calloc(SOUNDGEN_NMAPS, sizeof(*maps));

	if (!maps)
		return NULL;
	if (ebpf_map_init(&maps[SOUNDGEN_MAP_ARRAY], "array", EBPF_MAP_KIND_ARRAY, 4, 16, 4) ||
	    ebpf_map_init(&maps[SOUNDGEN_MAP_HASH], "hash", EBPF_MAP_KIND_HASH, 8, 24, 8) ||
	    ebpf_map_init(&maps[SOUNDGEN_MAP_DATA], ".data", EBPF_MAP_KIND_DATA, 4, 40, 1) ||
	    ebpf_map_init(&maps[SOUNDGEN_MAP_RODATA], ".rodata", EBPF_MAP_KIND_DATA, 4, 16, 1)) {
		for (unsigned i = 0; i < SOUNDGEN_NMAPS; i++)
			ebpf_map_destroy(&maps[i]);
		free(maps);
		return NULL;
	}
	maps[SOUNDGEN_MAP_RODATA].readonly = true;
	*cnt = SOUNDGEN_NMAPS;
	return maps;
}
