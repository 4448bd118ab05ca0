/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 JIT's shared parts: its state while it compiles a program (struct jit), the
 * registers eBPF's map to, and the x86 encoders, each a few bytes into j->buf, for the
 * compiler (jit_x86_64.c) and its vector loops (jit_vector.c).
 */
#ifndef CSD_EBPF_JIT_X86_64_H
#define CSD_EBPF_JIT_X86_64_H

#include <stddef.h>
#include <stdlib.h>

#include "ebpf_internal.h"
#include "jit.h"
#include "reduction.h"

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

static const uint8_t reg_map[EBPF_NREGS] = { RAX, RDI, RSI, RDX, RCX, R8, RBX, R13, R14, R15, RBP };

#define CTX		R12
#define BUDGET		R9
#define CTX_OFF(f)	((int32_t)offsetof(struct jit_ctx, f))

enum stub_kind { STUB_MEM, STUB_MEM_R10, STUB_BUDGET, STUB_DEPTH, STUB_MISALIGNED, STUB_EXIT };

struct stub {
	enum stub_kind kind;
	uint32_t pc;
	size_t site;		/* the rel32 to patch to the stub */
	size_t resume;		/* where the stub returns to */
	uint32_t arg;		/* STUB_MEM: size | write << 8 */
	int32_t disp;		/* STUB_MEM_R10: the address is r10 + disp (made in the stub) */
};

struct fixup {
	size_t at;		/* a rel32 field */
	size_t target_pc;	/* eBPF pc */
	size_t src_pc;		/* the pc whose code jumps */
};

#define MAX_VLOOPS	8

/* A reduction loop (reduction.h) whose iterations but the last run 32 bytes at a time. */
struct vloop {
	struct red_loop loop;
	unsigned tmp;		/* an x86 register dead at the loop's start (its eBPF one is) */
	bool emitted;
	size_t scalar_off;	/* the loop's own code: where its iterations jump back to */
};

struct checked_address {
	bool valid;
	bool write;
	uint8_t base, guard;
	int16_t off;
	unsigned size;
};

struct jit {
	uint8_t *buf;
	size_t len, cap;
	bool oom;
	bool checked;
	bool sandboxed;		/* verified, input in a sandbox: r9 holds its base (sandbox.c) */
	bool gs;		/* ... and GS's base too: accesses are gs:[base32 + off] (jit_can_use_gs) */
	bool bmi2;		/* shlx/shrx/sarx and mulx (has_bmi2) */
	bool via_r11;		/* the access being compiled goes through [r11 + r11_off] */
	bool via_sib;		/* ... through [r9 + r11] (sandboxed: r11 the offset) */
	bool via_map;		/* ... through [map_base + map_off] (fuse_map_value_access) */
	bool via_gs;		/* ... through gs:[gs_base + gs_index + off], 32-bit (j->gs) */
	uint8_t gs_base, gs_index;	/* gs_index NO_INDEX: none */
	uint8_t map_base;
	int32_t map_off;
	bool sib_rex;		/* the next REX prefix is that access's: it needs REX.X */
	bool address_ready;	/* fuse_address_access() computed r11: address() keeps it */
	int16_t r11_off;
	/*
	 * base + off was checked for an access of `size` bytes to `guard`'s region, and nothing
	 * since has written base (reuse_checked_address()): a load-modify-store (`counts[b]++`)
	 * checks its address once.
	 */
	struct checked_address last_check;
	const struct csd_ebpf_prog *prog;
	size_t *pc_off;
	bool *loop_head;
	bool *moved;		/* an exit or ja emitted elsewhere (see emit_cond_jump) */
	bool *target;		/* some jump or call lands here */
	bool *own_code;		/* the compile loop began this pc's code (not fused into another's) */
	bool no_latch_copies;	/* compiling again after a copy's jump landed in a fusion */
	bool latch_shapes_unchecked;	/* CSD_JIT_LATCH_UNCHECKED: test the recompile alone */
	uint16_t *live;		/* registers live on entry to each pc */
	size_t cur_pc;		/* the instruction being compiled */
	bool flags_from;	/* the x86 flags hold the last ALU result's (for == 0 tests) */
	struct fixup *fix;
	size_t nfix, capfix;
	struct stub *stubs;
	size_t nstubs, capstubs;
	size_t epilogue, fault_common, abort_entry, body_start;
	struct vloop vloops[MAX_VLOOPS];
	size_t nvloops;
	size_t mask_table;	/* 32 zero bytes, 32 0xff: the vector code's partial masks */
};

#define NO_INDEX	0xff

#define CC_B	0x2
#define CC_AE	0x3
#define CC_E	0x4
#define CC_NE	0x5
#define CC_BE	0x6
#define CC_A	0x7
#define CC_L	0xc
#define CC_GE	0xd
#define CC_LE	0xe
#define CC_G	0xf
#define JMP	16

/* ---- bytes ------------------------------------------------------------------------------ */

static inline void grow(struct jit *j, size_t n)
{
	if (j->len + n <= j->cap)
		return;
	while (j->len + n > j->cap)
		j->cap = j->cap ? j->cap * 2 : 4096;
	j->buf = realloc(j->buf, j->cap);
	if (!j->buf)
		j->oom = true;
}

static inline void emit1(struct jit *j, uint8_t b)
{
	grow(j, 1);
	if (!j->oom)
		j->buf[j->len++] = b;
	else
		j->len++;
}

static inline void emit4(struct jit *j, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		emit1(j, (uint8_t)(v >> (8 * i)));
}

static inline void emit8(struct jit *j, uint64_t v)
{
	emit4(j, (uint32_t)v);
	emit4(j, (uint32_t)(v >> 32));
}

static inline void patch4(struct jit *j, size_t at, uint32_t v)
{
	if (j->oom)
		return;
	for (int i = 0; i < 4; i++)
		j->buf[at + i] = (uint8_t)(v >> (8 * i));
}

/* REX with W, R (reg field), B (rm field); `force` for the byte registers sil/dil/bpl/spl. */
static inline void rex(struct jit *j, bool w, unsigned reg, unsigned rm, bool force)
{
	uint8_t r = (uint8_t)(0x40 | (w << 3) | ((reg >> 3) << 2) | (rm >> 3) |
			      (j->sib_rex ? 2 : 0));	/* r11 as the index */

	if (r != 0x40 || force)
		emit1(j, r);
}

static inline void modrm_rr(struct jit *j, unsigned reg, unsigned rm)
{
	emit1(j, (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7)));
}

/* [base + disp]: disp8 when it fits (shorter code decodes faster), else disp32 */
static inline void modrm_mem(struct jit *j, unsigned reg, unsigned base, int32_t disp)
{
	bool short_disp = disp >= -128 && disp <= 127;

	emit1(j, (uint8_t)((short_disp ? 0x40 : 0x80) | ((reg & 7) << 3) | (base & 7)));
	if ((base & 7) == RSP)
		emit1(j, 0x24);
	if (short_disp)
		emit1(j, (uint8_t)disp);
	else
		emit4(j, (uint32_t)disp);
}

static inline bool byte_reg_needs_rex(unsigned r) { return r >= RSP && r <= RDI; }

/* Pad with multi-byte NOPs to a multiple of `to`: loop heads start a fetch block. */
static inline void align_code(struct jit *j, size_t to)
{
	static const uint8_t nops[][9] = {
		{ 0x90 }, { 0x66, 0x90 }, { 0x0f, 0x1f, 0x00 }, { 0x0f, 0x1f, 0x40, 0x00 },
		{ 0x0f, 0x1f, 0x44, 0x00, 0x00 }, { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
		{ 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
		{ 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
		{ 0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
	};

	while (j->len % to) {
		size_t n = to - j->len % to;

		n = n > 9 ? 9 : n;
		for (size_t i = 0; i < n; i++)
			emit1(j, nops[n - 1][i]);
	}
}

/* C1 /ext ib: shl (4), shr (5), sar (7), ror (1) dst by count */
static inline void shift_ri(struct jit *j, bool w, unsigned ext, unsigned dst, unsigned count)
{
	rex(j, w, 0, dst, false);
	emit1(j, 0xc1);
	modrm_rr(j, ext, dst);
	emit1(j, (uint8_t)count);
}

/*
 * A 3-byte VEX prefix: map 1 (0F), 2 (0F38) or 3 (0F3A); reg, rm and a SIB index (0 for
 * none) as in ModRM, vvvv the third register, W for 64 bits, L for 256, pp the implied
 * prefix (1: 66, 2: F3, 3: F2)
 */
static inline void vex3(struct jit *j, unsigned map, unsigned reg, unsigned rm,
			unsigned index, unsigned vvvv, bool w, bool l256, unsigned pp)
{
	emit1(j, 0xc4);
	emit1(j, (uint8_t)((reg >> 3 ? 0 : 0x80) | (index >> 3 ? 0 : 0x40) |
			   (rm >> 3 ? 0 : 0x20) | map));
	emit1(j, (uint8_t)((w ? 0x80 : 0) | ((~vvvv & 15) << 3) | (l256 ? 4 : 0) | pp));
}

static inline void vex_0f38(struct jit *j, unsigned reg, unsigned rm, unsigned vvvv,
			    bool w, unsigned pp)
{
	vex3(j, 2, reg, rm, 0, vvvv, w, false, pp);
}

/* ---- instructions ----------------------------------------------------------------------- */

/* op r/m, r (add 01, or 09, and 21, sub 29, xor 31, cmp 39, mov 89, test 85) */
static inline void alu_rr(struct jit *j, bool w, uint8_t op, unsigned src, unsigned dst)
{
	rex(j, w, src, dst, false);
	emit1(j, op);
	modrm_rr(j, src, dst);
}

/* 81 /ext imm32 (add 0, or 1, and 4, sub 5, xor 6, cmp 7) */
static inline void alu_ri(struct jit *j, bool w, unsigned ext, unsigned dst, int32_t imm)
{
	rex(j, w, 0, dst, false);
	if (imm >= -128 && imm <= 127) {	/* 83 /ext ib: sign-extended the same way */
		emit1(j, 0x83);
		modrm_rr(j, ext, dst);
		emit1(j, (uint8_t)imm);
		return;
	}
	emit1(j, 0x81);
	modrm_rr(j, ext, dst);
	emit4(j, (uint32_t)imm);
}

/* setcc r8 */
static inline void setcc(struct jit *j, uint8_t cc, unsigned r)
{
	rex(j, false, 0, r, byte_reg_needs_rex(r));
	emit1(j, 0x0f);
	emit1(j, (uint8_t)(0x90 | cc));
	modrm_rr(j, 0, r);
}

/* cmovcc dst, src */
static inline void cmovcc(struct jit *j, bool w, uint8_t cc, unsigned dst, unsigned src)
{
	rex(j, w, dst, src, false);
	emit1(j, 0x0f);
	emit1(j, (uint8_t)(0x40 | cc));
	modrm_rr(j, dst, src);
}

/* imul dst, src, imm32 (the immediate sign-extended) */
static inline void imul_ri(struct jit *j, bool w, unsigned dst, unsigned src, int32_t imm)
{
	rex(j, w, dst, src, false);
	emit1(j, 0x69);
	modrm_rr(j, dst, src);
	emit4(j, (uint32_t)imm);
}

static inline void mov_rr(struct jit *j, bool w, unsigned src, unsigned dst)
{
	alu_rr(j, w, 0x89, src, dst);
}

static inline void mov_ri64(struct jit *j, unsigned dst, uint64_t imm)
{
	if (imm <= UINT32_MAX) {		/* mov r32, imm32 zero-extends */
		rex(j, false, 0, dst, false);
		emit1(j, (uint8_t)(0xb8 + (dst & 7)));
		emit4(j, (uint32_t)imm);
	} else if ((int64_t)imm == (int32_t)imm) {
		rex(j, true, 0, dst, false);
		emit1(j, 0xc7);
		modrm_rr(j, 0, dst);
		emit4(j, (uint32_t)imm);
	} else {
		rex(j, true, 0, dst, false);
		emit1(j, (uint8_t)(0xb8 + (dst & 7)));
		emit8(j, imm);
	}
}

/* mov r64, [base + disp] / mov [base + disp], r64 */
static inline void load_ctx(struct jit *j, unsigned dst, int32_t off)
{
	rex(j, true, dst, CTX, false);
	emit1(j, 0x8b);
	modrm_mem(j, dst, CTX, off);
}

static inline void store_ctx(struct jit *j, unsigned src, int32_t off)
{
	rex(j, true, src, CTX, false);
	emit1(j, 0x89);
	modrm_mem(j, src, CTX, off);
}

static inline void push(struct jit *j, unsigned r)
{
	rex(j, false, 0, r, false);
	emit1(j, (uint8_t)(0x50 + (r & 7)));
}

static inline void pop(struct jit *j, unsigned r)
{
	rex(j, false, 0, r, false);
	emit1(j, (uint8_t)(0x58 + (r & 7)));
}

/* A rel32 to a code offset known now. */
static inline void rel_to(struct jit *j, size_t target)
{
	emit4(j, (uint32_t)(int32_t)((int64_t)target - (int64_t)(j->len + 4)));
}

/* Jumps whose rel32 patch_to() sets later: its offset in the code */
static inline size_t jcc_forward(struct jit *j, uint8_t cc)
{
	emit1(j, 0x0f);
	emit1(j, (uint8_t)(0x80 | cc));
	emit4(j, 0);
	return j->len - 4;
}

static inline size_t jmp_forward(struct jit *j)
{
	emit1(j, 0xe9);
	emit4(j, 0);
	return j->len - 4;
}

static inline void patch_to(struct jit *j, size_t at, size_t target)
{
	patch4(j, at, (uint32_t)(int32_t)((int64_t)target - (int64_t)(at + 4)));
}

/* lea dst, [base + index << scale + disp] (no RSP as the index: eBPF registers never are) */
static inline void lea_sib(struct jit *j, bool w, unsigned dst, unsigned base,
			   unsigned index, unsigned scale, int32_t disp)
{
	/* rbp and r13 as a base have no form without a displacement */
	unsigned mod = disp < -128 || disp > 127 ? 0x80 : disp || (base & 7) == RBP ? 0x40 : 0;

	emit1(j, (uint8_t)(0x40 | (w ? 8 : 0) | ((dst >> 3) << 2) | ((index >> 3) << 1) |
			   (base >> 3)));
	emit1(j, 0x8d);
	emit1(j, (uint8_t)(mod | ((dst & 7) << 3) | 0x04));
	emit1(j, (uint8_t)((scale << 6) | ((index & 7) << 3) | (base & 7)));
	if (mod == 0x40)
		emit1(j, (uint8_t)disp);
	else if (mod == 0x80)
		emit4(j, (uint32_t)disp);
}

/*
 * Reduction loops and byte maps 32 bytes at a time (jit_vector.c): found before the
 * program is compiled, each emitted before its loop's own code.
 */
bool jit_has_avx2(void);
void jit_find_vector_loops(struct jit *j);
struct vloop *jit_vloop_at(struct jit *j, size_t pc);
size_t jit_code_of(const struct jit *j, size_t target_pc, size_t from_pc);
void jit_emit_vector_loop(struct jit *j, const struct vloop *v);

#endif
