/* SPDX-License-Identifier: MIT */
/*
 * The JIT's vector loops: reduction loops and byte maps (reduction.h) run 32 bytes at a time
 * with AVX2, in sandboxed code through GS, before the loop's own code, which then runs the
 * last iteration (or all of them, where the vector code does not apply).
 */
#include "jit_x86_64.h"

/*
 * CSD_JIT_NO_VECTOR set: reduction loops run as the scalar code they are, so that a test
 * compares both. AVX2 as the CPU and the kernel (XSAVE of the YMM state) allow it.
 */
bool jit_has_avx2(void)
{
	return __builtin_cpu_supports("avx2") && !getenv("CSD_JIT_NO_VECTOR");
}

/* The code for a jump from from_pc to target_pc: a reduction loop's own iterations skip its
 * vector code (they come after it ran, or it did not apply). */
size_t jit_code_of(const struct jit *j, size_t target_pc, size_t from_pc)
{
	for (size_t i = 0; i < j->nvloops; i++) {
		const struct vloop *v = &j->vloops[i];

		if (!v->emitted || v->loop.start != target_pc)
			continue;
		for (size_t k = 0; k < v->loop.ntrace; k++)
			if (v->loop.trace[k] == from_pc)
				return v->scalar_off;
	}
	return j->pc_off[target_pc];
}

struct vloop *jit_vloop_at(struct jit *j, size_t pc)
{
	for (size_t i = 0; i < j->nvloops; i++)
		if (j->vloops[i].loop.start == pc)
			return &j->vloops[i];
	return NULL;
}

/*
 * The reduction loops, in sandboxed code through GS only: its 32-byte loads are
 * gs:[32-bit address], confined as its scalar loads are. One a loop (the first start found
 * on it), each with a register that is dead where it starts for the vector code's use.
 */
void jit_find_vector_loops(struct jit *j)
{
	for (size_t pc = 0; pc < j->prog->insn_cnt && j->nvloops < MAX_VLOOPS; pc++) {
		struct vloop *v = &j->vloops[j->nvloops];
		bool refused = false;
		int tmp = -1;

		if (!j->target[pc] && !j->loop_head[pc])
			continue;
		if (!ebpf_reduction_match(j->prog, j->live, pc, &v->loop))
			continue;
		for (size_t k = 0; k < v->loop.ntrace && !refused; k++) {
			size_t at = v->loop.trace[k];
			unsigned cls = BPF_CLASS(j->prog->insns[at].code);
			uint8_t guard = j->prog->guard ? j->prog->guard[at] : EBPF_GUARD_ANY;

			/* one loop one vector code; the loads the input's, the stores the stack's */
			refused = jit_vloop_at(j, at) != NULL ||
				  (cls == BPF_LDX && guard != EBPF_GUARD_INPUT) ||
				  ((cls == BPF_STX || cls == BPF_ST) && guard != EBPF_GUARD_STACK);
		}
		for (int r = 0; r < 10 && tmp < 0; r++)
			if (!(j->live[pc] & (1u << r)))
				tmp = r;
		if (refused || tmp < 0)
			continue;
		v->tmp = reg_map[tmp];
		v->emitted = false;
		j->nvloops++;
	}
}

/* VEX 66 0F op, registers only: reg := vvvv op rm, 256 or 128 bits */
static void vop(struct jit *j, uint8_t op, bool l256, unsigned reg, unsigned vvvv, unsigned rm)
{
	vex3(j, 1, reg, rm, 0, vvvv, false, l256, 1);
	emit1(j, op);
	modrm_rr(j, reg, rm);
}

#define VPCMPEQB	0x74
#define VPAND		0xdb
#define VPADDQ		0xd4
#define VPSADBW		0xf6
#define VPXOR		0xef
#define VPOR		0xeb
#define VPADDB		0xfc
#define VPSUBB		0xf8
#define VPMAXUB		0xde
#define YMM_ZERO	12
#define YMM_T		13	/* a term's compare or byte sums */
#define YMM_MASK	14	/* the partial vector's mask; then the fold's upper half */
#define YMM_IN		15	/* the 32 input bytes */
#define YMM_K(i)	(4 + (i))	/* term i's byte, broadcast */

/* vmovdqu ymm, gs:[r10d + index32]: 32 input bytes, the address mod 2^32 as scalar code's */
static void vload_input(struct jit *j, unsigned ymm, unsigned index)
{
	emit1(j, 0x65);
	emit1(j, 0x67);
	vex3(j, 1, ymm, R10, index, 0, false, true, 2);
	emit1(j, 0x6f);
	emit1(j, (uint8_t)(0x04 | ((ymm & 7) << 3)));		/* mod 00, SIB */
	emit1(j, (uint8_t)(((index & 7) << 3) | (R10 & 7)));
}

/*
 * Every byte of ymm := eBPF register reg's low byte, or k where reg is RED_NO_REG: through
 * r9 (free before a vector loop), vmovd and vpbroadcastb
 */
static void broadcast_byte(struct jit *j, unsigned ymm, uint8_t reg, uint8_t k)
{
	if (reg == RED_NO_REG)
		mov_ri64(j, R9, k);
	else
		mov_rr(j, false, reg_map[reg], R9);
	vex3(j, 1, ymm, R9, 0, 0, false, false, 1);
	emit1(j, 0x6e);
	modrm_rr(j, ymm, R9);
	vex3(j, 2, ymm, ymm, 0, 0, false, true, 1);
	emit1(j, 0x78);
	modrm_rr(j, ymm, ymm);
}

/* vmovdqu ymm, [base + index + disp], or the store: a disp8 always (r13 has no form without) */
static void vmovdqu_sib(struct jit *j, bool store, unsigned ymm, unsigned base, unsigned index,
			int8_t disp)
{
	vex3(j, 1, ymm, base, index, 0, false, true, 2);
	emit1(j, store ? 0x7f : 0x6f);
	emit1(j, (uint8_t)(0x44 | ((ymm & 7) << 3)));
	emit1(j, (uint8_t)(((index & 7) << 3) | (base & 7)));
	emit1(j, (uint8_t)disp);
}

/*
 * A byte map's constants in their registers (node i's lanes are ymm i), before its loop;
 * r9 is free then.
 */
static void emit_lane_constants(struct jit *j, const struct red_loop *l)
{
	for (unsigned i = 0; i < l->nlanes; i++) {
		const struct red_lane *n = &l->lanes[i];

		if (n->op == LANE_IMM)
			broadcast_byte(j, i, RED_NO_REG, n->k);
		else if (n->op == LANE_REG || n->op == LANE_REG_BYTE)
			broadcast_byte(j, i, n->reg, 0);
	}
}

/*
 * 32 iterations of a byte map from offset `index` (a register): the input's bytes there,
 * each node's lanes, and the stored node's written at [stores + index].
 */
static void emit_lanes(struct jit *j, const struct red_loop *l, unsigned index, unsigned stores)
{
	static const uint8_t ops[] = {
		[LANE_ADD] = VPADDB, [LANE_SUB] = VPSUBB, [LANE_AND] = VPAND, [LANE_OR] = VPOR,
		[LANE_XOR] = VPXOR, [LANE_EQ] = VPCMPEQB,
	};

	vload_input(j, 0, index);
	for (unsigned i = 1; i < l->nlanes; i++) {
		const struct red_lane *n = &l->lanes[i];

		switch (n->op) {
		case LANE_IN: case LANE_IMM: case LANE_REG: case LANE_REG_BYTE:
			break;
		case LANE_GE:		/* max(a, b) == a */
			vop(j, VPMAXUB, true, i, n->a, n->b);
			vop(j, VPCMPEQB, true, i, i, n->a);
			break;
		case LANE_SELECT:	/* vpblendvb: b's lanes, a's where c's top bit is set */
			vex3(j, 3, i, n->a, 0, n->b, false, true, 1);
			emit1(j, 0x4c);
			modrm_rr(j, i, n->a);
			emit1(j, (uint8_t)(n->c << 4));
			break;
		default:
			vop(j, ops[n->op], true, i, n->a, n->b);
			break;
		}
	}
	vmovdqu_sib(j, true, l->value, stores, index, 0);
}

/* The terms over YMM_IN; `partial`: only the bytes YMM_MASK keeps count */
static void emit_vector_terms(struct jit *j, const struct red_loop *l, bool partial)
{
	bool masked = false;

	for (unsigned i = 0; i < l->nterms; i++) {
		const struct red_term *t = &l->term[i];

		if (t->kind != RED_COUNT_EQ && t->kind != RED_COUNT_NE)
			continue;
		/* 0xff where equal; summed by psadbw, 255 a match */
		vop(j, VPCMPEQB, true, YMM_T, YMM_IN, YMM_K(i));
		if (partial)
			vop(j, VPAND, true, YMM_T, YMM_T, YMM_MASK);
		vop(j, VPSADBW, true, YMM_T, YMM_T, YMM_ZERO);
		vop(j, VPADDQ, true, i, i, YMM_T);
	}
	for (unsigned i = 0; i < l->nterms; i++) {
		const struct red_term *t = &l->term[i];

		if (t->kind == RED_COUNT_EQ || t->kind == RED_COUNT_NE)
			continue;
		if (partial && !masked) {
			vop(j, VPAND, true, YMM_IN, YMM_IN, YMM_MASK);
			masked = true;
		}
		if (t->kind == RED_SUM_BYTES) {
			vop(j, VPSADBW, true, YMM_T, YMM_IN, YMM_ZERO);
			vop(j, VPADDQ, true, i, i, YMM_T);
		} else {
			vop(j, t->kind == RED_XOR_WORDS ? VPXOR : VPADDQ, true, i, i, YMM_IN);
		}
	}
}

/* term i's four 64-bit lanes folded (added, or xored) into r10 */
static void fold_lanes(struct jit *j, unsigned i, bool xor)
{
	uint8_t op = xor ? VPXOR : VPADDQ;

	vex3(j, 3, i, YMM_MASK, 0, 0, false, true, 1);	/* vextracti128 xmm14, ymm_i, 1 */
	emit1(j, 0x39);
	modrm_rr(j, i, YMM_MASK);
	emit1(j, 1);
	vop(j, op, false, i, i, YMM_MASK);
	vex3(j, 1, YMM_MASK, i, 0, 0, false, false, 1);	/* vpshufd xmm14, xmm_i, 0x4e */
	emit1(j, 0x70);
	modrm_rr(j, YMM_MASK, i);
	emit1(j, 0x4e);
	vop(j, op, false, i, i, YMM_MASK);
	vex3(j, 1, i, R10, 0, 0, true, false, 1);		/* vmovq r10, xmm_i */
	emit1(j, 0x7e);
	modrm_rr(j, i, R10);
}

/* The terms of the last 32 bytes, those done (32 - r9 of them) masked off */
static void emit_partial_terms(struct jit *j, const struct vloop *v)
{
	rex(j, true, 0, R9, false);
	emit1(j, 0xf7);
	modrm_rr(j, 3, R9);				/* neg r9 */
	rex(j, true, v->tmp, 0, false);
	emit1(j, 0x8d);					/* lea tmp, [rip + mask_table] */
	emit1(j, (uint8_t)(0x05 | ((v->tmp & 7) << 3)));
	rel_to(j, j->mask_table);
	vmovdqu_sib(j, false, YMM_MASK, v->tmp, R9, 32);	/* the mask: [tmp + r9 + 32] */
	vload_input(j, YMM_IN, R11);
	emit_vector_terms(j, &v->loop, true);
}

#define MAX_SKIPS	(5 + RED_MAX_TERMS + RED_MAX_LANES)

/*
 * Before the loop's own code at its start: when at least 32 bytes of iterations remain
 * beyond the last one, run them 32 bytes at a time (the final partial vector masked, or a
 * byte map's last 32 bytes mapped again), add what they accumulate or store what they map,
 * and advance the inductions as that many iterations would; the loop's code then runs the
 * last iteration (or all of them, when fewer remain), which sets every other register it
 * writes as it always does. The counter is tested the loop's way: the iterations left are
 * bound - counter, when bound > counter.
 */
void jit_emit_vector_loop(struct jit *j, const struct vloop *v)
{
	const struct red_loop *l = &v->loop;
	unsigned ctr = reg_map[l->counter], shift = l->size == 8 ? 3 : 0;
	size_t skip[MAX_SKIPS], nskip = 0, loop, no_tail;

	if (l->bound_reg == RED_NO_REG)
		mov_ri64(j, R11, l->bound_imm);
	else
		mov_rr(j, true, reg_map[l->bound_reg], R11);
	alu_rr(j, true, 0x29, ctr, R11);		/* r11 = bound - counter */
	skip[nskip++] = jcc_forward(j, CC_BE);		/* none left, or bound <= counter */
	alu_ri(j, true, 5, R11, 1);			/* the iterations before the last */
	mov_rr(j, true, R11, R10);
	shift_ri(j, true, 5, R10, 32);			/* more than a sandbox holds: leave them */
	skip[nskip++] = jcc_forward(j, CC_NE);
	alu_ri(j, true, 7, R11, 32 >> shift);
	skip[nskip++] = jcc_forward(j, CC_B);
	for (unsigned i = 0; i < l->nterms; i++)	/* a byte never equals a k above 255 */
		if (l->term[i].k_reg != RED_NO_REG) {
			alu_ri(j, !l->term[i].k32, 7, reg_map[l->term[i].k_reg], 255);
			skip[nskip++] = jcc_forward(j, CC_A);
		}
	for (unsigned i = 0; l->stores && i < l->nlanes; i++)	/* ... nor compares to one */
		if (l->lanes[i].op == LANE_REG_BYTE) {
			alu_ri(j, !l->lanes[i].reg32, 7, reg_map[l->lanes[i].reg], 255);
			skip[nskip++] = jcc_forward(j, CC_A);
		}
	if (shift)
		shift_ri(j, true, 4, R11, shift);	/* bytes */
	if (l->stores) {
		/*
		 * The stores' first address as an offset in the stack, tmp = r10 + index + off
		 * - r9, and the r11 bytes from there inside it, or the loop runs as it is: the
		 * vector stores go where the scalar ones would, a wrong proof or not. Then tmp
		 * is their address.
		 */
		lea_sib(j, true, v->tmp, RBP, reg_map[l->store_index], 0, l->store_off);
		alu_rr(j, true, 0x29, BUDGET, v->tmp);
		alu_ri(j, true, 7, v->tmp, (int32_t)j->prog->stack_bytes);
		skip[nskip++] = jcc_forward(j, CC_A);
		lea_sib(j, true, R10, v->tmp, R11, 0, 0);
		alu_ri(j, true, 7, R10, (int32_t)j->prog->stack_bytes);
		skip[nskip++] = jcc_forward(j, CC_A);
		alu_rr(j, true, 0x01, BUDGET, v->tmp);
	}
	alu_ri(j, true, 5, R11, 32);			/* the last whole vector's offset */
	/* r10d: the first element's address as the loop forms it, mod 2^32 */
	if (l->index != RED_NO_REG) {
		lea_sib(j, false, R10, reg_map[l->base], reg_map[l->index], 0, l->off);
	} else {
		rex(j, false, R10, reg_map[l->base], false);
		emit1(j, 0x8d);
		modrm_mem(j, R10, reg_map[l->base], l->off);
	}
	vop(j, VPXOR, false, YMM_ZERO, YMM_ZERO, YMM_ZERO);
	for (unsigned i = 0; i < l->nterms; i++) {
		const struct red_term *t = &l->term[i];

		vop(j, VPXOR, false, i, i, i);
		if (t->kind != RED_COUNT_EQ && t->kind != RED_COUNT_NE)
			continue;
		broadcast_byte(j, YMM_K(i), t->k_reg, t->k_imm);
	}
	if (l->stores)
		emit_lane_constants(j, l);
	alu_rr(j, false, 0x31, R9, R9);			/* r9: the offset done */
	align_code(j, 16);
	loop = j->len;
	if (l->stores) {
		emit_lanes(j, l, R9, v->tmp);
	} else {
		vload_input(j, YMM_IN, R9);
		emit_vector_terms(j, l, false);
	}
	alu_ri(j, true, 0, R9, 32);
	alu_rr(j, true, 0x39, R11, R9);
	emit1(j, 0x0f);
	emit1(j, 0x80 | CC_BE);
	rel_to(j, loop);
	/* 0 to 31 bytes left: the last 32 again, those done masked off */
	alu_rr(j, true, 0x29, R11, R9);			/* r9 = 32 - left */
	alu_ri(j, true, 7, R9, 32);
	no_tail = jcc_forward(j, CC_E);
	if (l->stores)		/* a map's bytes may be mapped twice: the last 32 again */
		emit_lanes(j, l, R11, v->tmp);
	else
		emit_partial_terms(j, v);
	patch_to(j, no_tail, j->len);
	/* r9: the iterations done; the inductions advance by as many steps */
	rex(j, true, R9, R11, false);
	emit1(j, 0x8d);
	modrm_mem(j, R9, R11, 32);			/* lea r9, [r11 + 32]: bytes */
	if (shift)
		shift_ri(j, true, 5, R9, shift);
	for (unsigned i = 0; i < l->nind; i++) {
		unsigned r = reg_map[l->ind[i].reg];

		if (l->ind[i].step != 1) {
			imul_ri(j, true, R10, R9, l->ind[i].step);	/* r10 = r9 * step */
		}
		alu_rr(j, true, 0x01, l->ind[i].step != 1 ? R10 : R9, r);
	}
	for (unsigned i = 0; i < l->nterms; i++) {
		const struct red_term *t = &l->term[i];
		unsigned acc = reg_map[t->acc];

		fold_lanes(j, i, t->kind == RED_XOR_WORDS);
		if (t->kind == RED_COUNT_EQ || t->kind == RED_COUNT_NE) {
			/* the lanes hold 255 a match: times 255's inverse mod 2^64 divides exactly */
			mov_ri64(j, R11, UINT64_C(0xfefefefefefefeff));
			rex(j, true, R10, R11, false);
			emit1(j, 0x0f);
			emit1(j, 0xaf);
			modrm_rr(j, R10, R11);			/* imul r10, r11 */
		}
		if (t->kind == RED_COUNT_NE) {		/* r10 = iterations - matches */
			rex(j, true, 0, R10, false);
			emit1(j, 0xf7);
			modrm_rr(j, 3, R10);
			alu_rr(j, true, 0x01, R9, R10);
		}
		if (t->kind == RED_XOR_WORDS)
			alu_rr(j, true, 0x31, R10, acc);
		else
			alu_rr(j, !t->acc32, 0x01, R10, acc);	/* add acc32 zero-extends */
	}
	emit1(j, 0xc5);					/* vzeroupper */
	emit1(j, 0xf8);
	emit1(j, 0x77);
	load_ctx(j, BUDGET, CTX_OFF(stack_start));	/* r9 again (the prologue's) */
	for (size_t i = 0; i < nskip; i++)
		patch_to(j, skip[i], j->len);
}

