/* SPDX-License-Identifier: MIT */
/*
 * Finding reduction loops (reduction.h) by running one iteration symbolically: from the
 * loop's entry, each register holds an expression of the registers' values there, until the
 * path comes back to the entry. The loop qualifies when, back there, every register is
 * unchanged, an induction (its value plus a constant), an accumulator (its value plus or xor
 * an element, or a comparison of one) or dead; when exactly one address was loaded and it
 * moves by the element's size an iteration; and when exactly one test leaves the loop, on
 * the counter against a bound that does not change. Selects of 1 and 0 (clang's
 * `n += c == x`: a mov, a jump, a mov, a ja) are followed as the comparison they make.
 */
#include <string.h>

#include "reduction.h"

enum sym_kind {
	SYM_IND,	/* the value of reg at the start, plus k */
	SYM_CONST,	/* k */
	SYM_ADDR,	/* reg + reg2 at the start, plus k */
	SYM_LOAD,	/* the element loaded this iteration */
	SYM_TEST,	/* the element compared with the k of `test`: 1 or 0 */
	SYM_ACC,	/* reg at the start, accumulated with `kind` */
	SYM_OTHER,	/* anything else */
};

struct sym {
	enum sym_kind kind;
	uint8_t reg, reg2;
	int64_t k;
	struct red_term test;	/* SYM_TEST (its kind and k), SYM_ACC (kind, acc32, k) */
};

struct trace_state {
	struct sym r[EBPF_NREGS];
	bool loaded, tested;
	uint8_t base, index;
	int32_t off;
	unsigned size;
	uint8_t counter, bound_reg;
	uint64_t bound_imm;
	size_t ntrace;
	size_t trace[RED_MAX_TRACE];
};

static struct sym other(void) { return (struct sym){ .kind = SYM_OTHER }; }

/* `d += s` (or `d ^= s`) when one side is an untouched register and the other an element */
static struct sym accumulate(struct sym d, struct sym s, bool xor, bool w32)
{
	struct sym acc = { .kind = SYM_ACC };
	struct sym start = d, elem = s;

	if (elem.kind == SYM_IND)	/* commuted: t = x; t += acc */
		start = s, elem = d;
	if (start.kind != SYM_IND || start.k || (elem.kind != SYM_LOAD && elem.kind != SYM_TEST))
		return other();
	if (xor && (elem.kind != SYM_LOAD || w32))
		return other();
	acc.reg = start.reg;
	if (elem.kind == SYM_TEST)
		acc.test = elem.test;
	else	/* RED_SUM_BYTES for bytes: the element's size is known at the end */
		acc.test = (struct red_term){ .kind = xor ? RED_XOR_WORDS : RED_SUM_WORDS,
					      .k_reg = RED_NO_REG };
	acc.test.acc = start.reg;
	acc.test.acc32 = w32;
	return acc;
}

static bool record_load(struct trace_state *st, struct sym addr, int16_t off, unsigned size)
{
	uint8_t base, index = RED_NO_REG;
	int64_t total = addr.k + off;

	if (addr.kind == SYM_ADDR)
		base = addr.reg, index = addr.reg2;
	else if (addr.kind == SYM_IND)
		base = addr.reg;
	else
		return false;
	if (total < INT32_MIN || total > INT32_MAX || (size != 1 && size != 8))
		return false;
	if (st->loaded)		/* the same element again, or no reduction loop */
		return st->base == base && st->index == index && st->off == total &&
		       st->size == size;
	st->loaded = true;
	st->base = base;
	st->index = index;
	st->off = (int32_t)total;
	st->size = size;
	return true;
}

static bool alu_step(struct trace_state *st, const struct csd_ebpf_insn *insn)
{
	struct sym *d = &st->r[insn->dst_reg], s;
	bool w64 = BPF_CLASS(insn->code) == BPF_ALU64, imm = BPF_SRC(insn->code) == BPF_K;
	unsigned op = BPF_OP(insn->code);

	if (insn->dst_reg >= 10)
		return false;
	s = imm ? (struct sym){ .kind = SYM_CONST,
				.k = w64 ? (int64_t)insn->imm : (int64_t)(uint32_t)insn->imm } :
		  st->r[insn->src_reg];
	switch (op) {
	case BPF_MOV:
		if (insn->off)
			*d = other();
		else if (imm || w64 || s.kind == SYM_TEST ||
			 (s.kind == SYM_LOAD && st->size <= 4))
			*d = s;		/* a 32-bit mov keeps what fits in 32 bits */
		else
			*d = other();
		return true;
	case BPF_ADD:
		if (w64 && imm && d->kind == SYM_IND)
			d->k += insn->imm;
		else if (w64 && imm && d->kind == SYM_ADDR)
			d->k += insn->imm;
		else if (w64 && !imm && d->kind == SYM_IND && s.kind == SYM_IND)
			*d = (struct sym){ .kind = SYM_ADDR, .reg = d->reg, .reg2 = s.reg,
					   .k = d->k + s.k };
		else if (!imm)
			*d = accumulate(*d, s, false, !w64);
		else
			*d = other();
		return true;
	case BPF_XOR:
		*d = !imm && w64 ? accumulate(*d, s, true, false) : other();
		return true;
	default:
		*d = other();
		return true;
	}
}

/* pc..pc+3 a select of 1 and 0 on a loaded byte: its value in the register, and where it goes */
static bool select_step(struct trace_state *st, const struct csd_ebpf_insn *insns, size_t cnt,
			size_t pc, size_t *next)
{
	const struct csd_ebpf_insn *i = &insns[pc];
	struct red_term test = { .k_reg = RED_NO_REG };
	unsigned cls, op;
	size_t t;

	if (pc + 3 >= cnt || (i[0].code != (BPF_ALU64 | BPF_MOV | BPF_K) &&
			      i[0].code != (BPF_ALU | BPF_MOV | BPF_K)) ||
	    i[2].code != i[0].code || i[2].dst_reg != i[0].dst_reg ||
	    i[3].code != (BPF_JMP | BPF_JA) || i[0].dst_reg >= 10)
		return false;
	cls = BPF_CLASS(i[1].code);
	op = BPF_OP(i[1].code);
	if ((cls != BPF_JMP && cls != BPF_JMP32) || (op != BPF_JEQ && op != BPF_JNE) ||
	    !((i[0].imm == 1 && i[2].imm == 0) || (i[0].imm == 0 && i[2].imm == 1)))
		return false;
	t = pc + 2 + (size_t)(ptrdiff_t)i[1].off;
	if (t != pc + 4 + (size_t)(ptrdiff_t)i[3].off || i[1].dst_reg == i[0].dst_reg ||
	    st->r[i[1].dst_reg].kind != SYM_LOAD || st->size != 1)
		return false;
	/* 1 when equal: jeq with 1 on its taken side, or jne with 1 on the other */
	test.kind = (op == BPF_JEQ) == (i[0].imm == 1) ? RED_COUNT_EQ : RED_COUNT_NE;

	if (BPF_SRC(i[1].code) == BPF_X) {
		const struct sym *k = &st->r[i[1].src_reg];

		if (i[1].src_reg == i[0].dst_reg || i[1].src_reg >= 10 ||
		    k->kind != SYM_IND || k->k || k->reg != i[1].src_reg)
			return false;
		test.k_reg = i[1].src_reg;
		test.k32 = cls == BPF_JMP32;
	} else {
		if (i[1].imm < 0 || i[1].imm > 0xff)
			return false;
		test.k_imm = (uint8_t)i[1].imm;
	}
	st->r[i[0].dst_reg] = (struct sym){ .kind = SYM_TEST, .test = test };
	*next = t;
	return true;
}

/*
 * The loop's one exit test at pc: on the counter, after its increment, against an untouched
 * register or a constant. *next: the side that stays in the loop (`stay_taken` chooses).
 */
static bool exit_step(struct trace_state *st, const struct csd_ebpf_insn *insn, size_t pc,
		      bool stay_taken, size_t *next)
{
	unsigned op = BPF_OP(insn->code);
	const struct sym *dst = &st->r[insn->dst_reg];
	const struct sym *src = BPF_SRC(insn->code) == BPF_X ? &st->r[insn->src_reg] : NULL;
	const struct sym *ctr, *bound;

	if (st->tested || BPF_CLASS(insn->code) != BPF_JMP || insn->dst_reg >= 10 ||
	    (src && insn->src_reg >= 10))
		return false;
	/* while ctr < bound or ctr != bound: the op when the loop stays on the taken side, and not */
	if (stay_taken ? op == BPF_JGT && src : op == BPF_JLE && src)
		ctr = src, bound = dst;		/* bound > ctr */
	else if (stay_taken ? op == BPF_JLT || op == BPF_JNE : op == BPF_JGE || op == BPF_JEQ)
		ctr = dst, bound = src;
	else
		return false;
	if (ctr->kind != SYM_IND || ctr->k != 1 || ctr->reg != (ctr == dst ? insn->dst_reg :
								 insn->src_reg))
		return false;
	if (bound) {
		if (bound->kind != SYM_IND || bound->k ||
		    bound->reg != (bound == dst ? insn->dst_reg : insn->src_reg))
			return false;
		st->bound_reg = bound->reg;
	} else {
		st->bound_reg = RED_NO_REG;
		st->bound_imm = (uint64_t)(int64_t)insn->imm;
	}
	st->counter = ctr->reg;
	st->tested = true;
	*next = stay_taken ? pc + 1 + (size_t)(ptrdiff_t)insn->off : pc + 1;
	return true;
}

/* One iteration from pc on; true when it came back to start with the loop's shape. */
static bool trace(const struct csd_ebpf_prog *prog, struct trace_state *st, size_t start,
		  size_t pc)
{
	const struct csd_ebpf_insn *insns = prog->insns;
	size_t cnt = prog->insn_cnt;

	while (st->ntrace < RED_MAX_TRACE && pc < cnt) {
		const struct csd_ebpf_insn *insn = &insns[pc];
		unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);
		size_t next = pc + 1;

		if (pc == start && st->ntrace)
			return st->tested;
		st->trace[st->ntrace++] = pc;
		if (select_step(st, insns, cnt, pc, &next)) {
			for (size_t k = 1; k <= 3 && st->ntrace < RED_MAX_TRACE; k++)
				st->trace[st->ntrace++] = pc + k;
			pc = next;
			continue;
		}
		if (cls == BPF_ALU || cls == BPF_ALU64) {
			if (!alu_step(st, insn))
				return false;
		} else if (cls == BPF_LDX && BPF_MODE(insn->code) == BPF_MEM) {
			unsigned size = BPF_SIZE(insn->code) == BPF_B ? 1 :
					BPF_SIZE(insn->code) == BPF_DW ? 8 : 0;

			if (insn->dst_reg >= 10 || !size ||
			    !record_load(st, st->r[insn->src_reg], insn->off, size))
				return false;
			st->r[insn->dst_reg] = (struct sym){ .kind = SYM_LOAD };
		} else if (insn->code == (BPF_JMP | BPF_JA)) {
			next = pc + 1 + (size_t)(ptrdiff_t)insn->off;
		} else if ((cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_JA && op != BPF_CALL &&
			   op != BPF_EXIT) {
			/* the exit test: try staying on the taken side, then on the other */
			struct trace_state other_side = *st;

			if (exit_step(st, insn, pc, true, &next) &&
			    trace(prog, st, start, next))
				return true;
			*st = other_side;
			return exit_step(st, insn, pc, false, &next) && trace(prog, st, start, next);
		} else {
			return false;	/* stores, calls, exits, 64-bit constants */
		}
		pc = next;
	}
	return pc == start && st->tested;
}

static int32_t step_of(const struct trace_state *st, uint8_t reg)
{
	const struct sym *s = &st->r[reg];

	return s->kind == SYM_IND && s->reg == reg ? (int32_t)s->k : INT32_MIN;
}

bool ebpf_reduction_match(const struct csd_ebpf_prog *prog, const uint16_t *live, size_t start,
			  struct red_loop *out)
{
	struct trace_state st = { .loaded = false };
	int32_t base_step, index_step;

	if (start >= prog->insn_cnt || (start > 0 && prog->insns[start - 1].code == BPF_OP_LDDW))
		return false;
	for (uint8_t r = 0; r < EBPF_NREGS; r++)
		st.r[r] = (struct sym){ .kind = SYM_IND, .reg = r };
	if (!trace(prog, &st, start, start) || !st.loaded)
		return false;
	*out = (struct red_loop){ .start = start, .size = st.size, .base = st.base,
				  .index = st.index, .off = st.off, .counter = st.counter,
				  .bound_reg = st.bound_reg, .bound_imm = st.bound_imm,
				  .ntrace = st.ntrace };
	memcpy(out->trace, st.trace, st.ntrace * sizeof(st.trace[0]));
	for (uint8_t r = 0; r < 10; r++) {
		const struct sym *s = &st.r[r];

		if (s->kind == SYM_IND && s->reg == r && !s->k)
			continue;				/* unchanged */
		if (s->kind == SYM_IND && s->reg == r && s->k >= INT32_MIN && s->k <= INT32_MAX) {
			if (out->nind == RED_MAX_INDS)
				return false;
			out->ind[out->nind].reg = r;
			out->ind[out->nind++].step = (int32_t)s->k;
			continue;
		}
		if (s->kind == SYM_ACC && s->reg == r) {
			struct red_term t = s->test;

			if (out->nterms == RED_MAX_TERMS)
				return false;
			if (t.kind == RED_SUM_WORDS && st.size == 1)
				t.kind = RED_SUM_BYTES;
			if ((t.kind == RED_XOR_WORDS && st.size != 8) ||
			    (t.k_reg != RED_NO_REG && step_of(&st, t.k_reg) != 0 &&
			     (t.kind == RED_COUNT_EQ || t.kind == RED_COUNT_NE)))
				return false;
			out->term[out->nterms++] = t;
			continue;
		}
		if (live[start] & (1u << r))
			return false;	/* a value the next iteration reads: not a plain temporary */
	}
	/* the counter steps by 1, the bound stays, the address moves by one element */
	if (step_of(&st, st.counter) != 1 || !out->nterms ||
	    (st.bound_reg != RED_NO_REG && step_of(&st, st.bound_reg) != 0))
		return false;
	base_step = step_of(&st, st.base);
	index_step = st.index == RED_NO_REG ? 0 : step_of(&st, st.index);
	if (base_step == INT32_MIN || index_step == INT32_MIN ||
	    base_step + index_step != (int32_t)st.size)
		return false;
	return true;
}
