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
 * A byte map (a loop storing a function of each byte) follows the byte as a program over
 * 8-bit lanes (reduction.h): arithmetic on it, and conditional jumps whose two ways only
 * compute in registers and meet again, as selects.
 */
#include <string.h>

#include "reduction.h"

#define RED_TRACE_LANES	32

enum sym_kind {
	SYM_IND,	/* the value of reg at the start, plus k */
	SYM_CONST,	/* k */
	SYM_ADDR,	/* reg + reg2 at the start, plus k */
	SYM_LOAD,	/* the element loaded this iteration */
	SYM_TEST,	/* the element compared with the k of `test`: 1 or 0 */
	SYM_ACC,	/* reg at the start, accumulated with `kind` */
	SYM_LANE,	/* node `node` of the byte map in its low 8 bits */
	SYM_OTHER,	/* anything else */
};

struct sym {
	enum sym_kind kind;
	uint8_t reg, reg2;
	int64_t k;
	struct red_term test;	/* SYM_TEST (its kind and k), SYM_ACC (kind, acc32, k) */
	uint8_t node;		/* SYM_LANE */
	bool exact;		/* ... the register holds the byte and nothing above it */
};

struct trace_state {
	struct sym r[EBPF_NREGS];
	bool loaded, tested;
	uint8_t base, index;
	int32_t off;
	unsigned size;
	uint8_t counter, bound_reg;
	uint64_t bound_imm;
	bool stored;
	uint8_t store_index, value;
	int32_t store_off;
	unsigned nlanes;
	struct red_lane lanes[RED_TRACE_LANES];	/* the trace's, some of them dead */
	size_t ntrace;
	size_t trace[RED_MAX_TRACE];
};

static struct sym other(void) { return (struct sym){ .kind = SYM_OTHER }; }

static bool same_sym(const struct sym *a, const struct sym *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case SYM_IND: case SYM_CONST: case SYM_ADDR:
		return a->reg == b->reg && a->reg2 == b->reg2 && a->k == b->k;
	case SYM_LOAD:
		return true;
	case SYM_LANE:
		return a->node == b->node && a->exact == b->exact;
	default:	/* tests and accumulators: taken as different, which only refuses */
		return false;
	}
}

/* The node n, or an equal one made before: loops have few, and repeat them (`c - 65` twice) */
static int lane_node(struct trace_state *st, struct red_lane n)
{
	for (unsigned i = 0; i < st->nlanes; i++) {
		const struct red_lane *o = &st->lanes[i];

		if (o->op == n.op && o->a == n.a && o->b == n.b && o->c == n.c && o->k == n.k &&
		    o->reg == n.reg && o->reg32 == n.reg32)
			return (int)i;
	}
	if (st->nlanes == RED_TRACE_LANES)
		return -1;
	st->lanes[st->nlanes] = n;
	return (int)st->nlanes++;
}

static struct sym lane_sym(int node, bool exact)
{
	return node < 0 ? other() : (struct sym){ .kind = SYM_LANE, .node = (uint8_t)node,
						  .exact = exact };
}

/* A value as a lane: the byte, a lane, a constant, or a register the loop must not change */
static bool lane_of(struct trace_state *st, struct sym v, uint8_t *node, bool *exact)
{
	int n;

	switch (v.kind) {
	case SYM_LOAD:
		if (st->size != 1)
			return false;
		*node = 0;
		*exact = true;
		return true;
	case SYM_LANE:
		*node = v.node;
		*exact = v.exact;
		return true;
	case SYM_ACC:	/* r ^ byte, r + byte: a lane too, where it is not an accumulator */
		if (st->size != 1 || v.test.k_reg != RED_NO_REG ||
		    (v.test.kind != RED_SUM_WORDS && v.test.kind != RED_XOR_WORDS))
			return false;
		n = lane_node(st, (struct red_lane){ .op = LANE_REG, .reg = v.test.acc });
		if (n < 0)
			return false;
		n = lane_node(st, (struct red_lane){ .op = v.test.kind == RED_SUM_WORDS ? LANE_ADD :
							   LANE_XOR, .a = (uint8_t)n, .b = 0 });
		*exact = false;
		break;
	case SYM_CONST:
		n = lane_node(st, (struct red_lane){ .op = LANE_IMM, .k = (uint8_t)v.k });
		*exact = (uint64_t)v.k <= 0xff;
		break;
	case SYM_IND:
		if (v.k)
			return false;
		n = lane_node(st, (struct red_lane){ .op = LANE_REG, .reg = v.reg });
		*exact = false;
		break;
	default:
		return false;
	}
	if (n < 0)
		return false;
	*node = (uint8_t)n;
	return true;
}

/* d op= s on lanes: the low 8 bits of add, sub, and, or and xor depend on theirs alone */
static struct sym lane_alu(struct trace_state *st, unsigned op, struct sym d, struct sym s)
{
	static const enum lane_op ops[] = {
		[BPF_ADD >> 4] = LANE_ADD, [BPF_SUB >> 4] = LANE_SUB, [BPF_AND >> 4] = LANE_AND,
		[BPF_OR >> 4] = LANE_OR, [BPF_XOR >> 4] = LANE_XOR,
	};
	uint8_t a, b;
	bool ea, eb;

	if ((d.kind != SYM_LANE && d.kind != SYM_LOAD && s.kind != SYM_LANE &&
	     s.kind != SYM_LOAD) || !lane_of(st, d, &a, &ea) || !lane_of(st, s, &b, &eb))
		return other();
	if (op == BPF_AND) {	/* exact when either side is; & 0xff is no operation on a lane */
		if (st->lanes[b].op == LANE_IMM && st->lanes[b].k == 0xff)
			return lane_sym(a, ea || eb);
		return lane_sym(lane_node(st, (struct red_lane){ .op = LANE_AND, .a = a, .b = b }),
				ea || eb);
	}
	if (op != BPF_ADD && op != BPF_SUB && op != BPF_OR && op != BPF_XOR)
		return other();
	/* or and xor of two bytes are a byte; a sum may carry past 8 bits */
	return lane_sym(lane_node(st, (struct red_lane){ .op = ops[op >> 4], .a = a, .b = b }),
			(op == BPF_OR || op == BPF_XOR) && ea && eb);
}

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
	struct sym *d = &st->r[insn->dst_reg], s, acc;
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
		else if (imm || w64 || s.kind == SYM_TEST || s.kind == SYM_LANE ||
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
		else if (!imm && (acc = accumulate(*d, s, false, !w64)).kind != SYM_OTHER)
			*d = acc;
		else
			*d = lane_alu(st, op, *d, s);
		return true;
	case BPF_XOR:
		if (!imm && w64 && (acc = accumulate(*d, s, true, false)).kind != SYM_OTHER)
			*d = acc;
		else
			*d = lane_alu(st, op, *d, s);
		return true;
	case BPF_SUB:
	case BPF_AND:
	case BPF_OR:
		*d = lane_alu(st, op, *d, s);
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

/* A compare's operand: a lane that is its register's whole value, or an unchanged register
 * that the vector code checks is at most 255 before it runs */
static bool compare_operand(struct trace_state *st, struct sym v, bool w32, uint8_t *node)
{
	bool exact;
	int n;

	if (v.kind == SYM_IND && !v.k) {
		n = lane_node(st, (struct red_lane){ .op = LANE_REG_BYTE, .reg = v.reg,
						     .reg32 = w32 });
		*node = (uint8_t)n;
		return n >= 0;
	}
	return lane_of(st, v, node, &exact) && exact;
}

/*
 * A byte against a constant beyond 0..255, in the compare's width: below it unsigned, and
 * signed below it when it is positive, above it when negative, whatever the byte.
 */
static bool constant_cond(struct trace_state *st, const struct csd_ebpf_insn *insn,
			  uint8_t *mask, bool *neg)
{
	bool below_signed = BPF_CLASS(insn->code) == BPF_JMP32 ? (int32_t)insn->imm > 0 :
				insn->imm > 0;
	bool holds;
	int m;

	switch (BPF_OP(insn->code)) {
	case BPF_JEQ: case BPF_JGT: case BPF_JGE: holds = false; break;
	case BPF_JNE: case BPF_JLT: case BPF_JLE: holds = true; break;
	case BPF_JSLT: case BPF_JSLE: holds = below_signed; break;
	case BPF_JSGT: case BPF_JSGE: holds = !below_signed; break;
	default: return false;
	}
	m = lane_node(st, (struct red_lane){ .op = LANE_IMM, .k = holds ? 0xff : 0 });
	*mask = (uint8_t)m;
	*neg = false;
	return m >= 0;
}

/* The condition of jump insn as a mask node, which is 0 where it holds when *neg */
static bool lane_cond(struct trace_state *st, const struct csd_ebpf_insn *insn, uint8_t *mask,
		      bool *neg)
{
	bool w32 = BPF_CLASS(insn->code) == BPF_JMP32;
	struct red_lane n = { .op = LANE_GE };
	uint8_t a, b;
	int m;

	if (insn->dst_reg >= 10 || !compare_operand(st, st->r[insn->dst_reg], w32, &a))
		return false;
	if (BPF_SRC(insn->code) == BPF_X) {
		if (insn->src_reg >= 10 || !compare_operand(st, st->r[insn->src_reg], w32, &b))
			return false;
	} else if ((insn->imm < 0 || insn->imm > 0xff) && BPF_OP(insn->code) != BPF_JSET) {
		return constant_cond(st, insn, mask, neg);
	} else {
		/* (a jset's high bits meet none of a byte's) */
		if (!compare_operand(st, (struct sym){ .kind = SYM_CONST, .k = insn->imm & 0xff },
				     w32, &b))
			return false;
	}
	switch (BPF_OP(insn->code)) {
	case BPF_JEQ: case BPF_JNE:
		n = (struct red_lane){ .op = LANE_EQ, .a = a, .b = b };
		*neg = BPF_OP(insn->code) == BPF_JNE;
		break;
	case BPF_JGE: case BPF_JSGE: case BPF_JLT: case BPF_JSLT:	/* bytes: signed alike */
		n.a = a, n.b = b;
		*neg = BPF_OP(insn->code) == BPF_JLT || BPF_OP(insn->code) == BPF_JSLT;
		break;
	case BPF_JLE: case BPF_JSLE: case BPF_JGT: case BPF_JSGT:
		n.a = b, n.b = a;
		*neg = BPF_OP(insn->code) == BPF_JGT || BPF_OP(insn->code) == BPF_JSGT;
		break;
	case BPF_JSET:		/* (a & b) != 0 */
		m = lane_node(st, (struct red_lane){ .op = LANE_AND, .a = a, .b = b });
		if (m < 0 || !compare_operand(st, (struct sym){ .kind = SYM_CONST }, w32, &b))
			return false;
		n = (struct red_lane){ .op = LANE_EQ, .a = (uint8_t)m, .b = b };
		*neg = true;
		break;
	default:
		return false;
	}
	m = lane_node(st, n);
	*mask = (uint8_t)m;
	return m >= 0;
}

/*
 * One way of a select: register arithmetic from pc on, until it reaches `join` or a ja
 * (whose target *end then is). Its pcs go into the trace.
 */
static bool run_arm(struct trace_state *st, const struct csd_ebpf_prog *prog, size_t start,
		    size_t pc, size_t join, size_t *end)
{
	for (unsigned n = 0; n <= 8; n++) {
		const struct csd_ebpf_insn *insn;
		unsigned cls;

		if (pc == join) {
			*end = pc;
			return true;
		}
		if (pc >= prog->insn_cnt || pc == start || st->ntrace == RED_MAX_TRACE)
			return false;
		insn = &prog->insns[pc];
		cls = BPF_CLASS(insn->code);
		st->trace[st->ntrace++] = pc;
		if (insn->code == (BPF_JMP | BPF_JA)) {
			*end = pc + 1 + (size_t)(ptrdiff_t)insn->off;
			return true;
		}
		if ((cls != BPF_ALU && cls != BPF_ALU64) || !alu_step(st, insn))
			return false;
		pc++;
	}
	return false;
}

/*
 * The conditional jump at pc as a select of lanes: both its ways run register arithmetic
 * only and meet at *next; every register they leave different is the select of its two
 * values (the arithmetic of both ways runs, on lanes, which has no effect but the values).
 */
static bool select_diamond(struct trace_state *st, const struct csd_ebpf_prog *prog,
			   size_t start, size_t pc, size_t *next)
{
	const struct csd_ebpf_insn *insn = &prog->insns[pc];
	size_t taken = pc + 1 + (size_t)(ptrdiff_t)insn->off, join, end;
	struct sym before[EBPF_NREGS], fall[EBPF_NREGS];
	uint8_t mask;
	bool neg;

	if (!lane_cond(st, insn, &mask, &neg))
		return false;
	memcpy(before, st->r, sizeof(before));
	if (!run_arm(st, prog, start, pc + 1, taken, &join))
		return false;
	memcpy(fall, st->r, sizeof(fall));
	memcpy(st->r, before, sizeof(before));
	if (join != taken && (!run_arm(st, prog, start, taken, join, &end) || end != join))
		return false;
	for (unsigned r = 0; r < 10; r++) {
		struct sym *t = &st->r[r], *f = &fall[r];
		uint8_t a, b;
		bool ea, eb;

		if (same_sym(t, f))
			continue;
		if (!lane_of(st, *t, &a, &ea) || !lane_of(st, *f, &b, &eb)) {
			*t = other();
			continue;
		}
		*t = lane_sym(lane_node(st, (struct red_lane){ .op = LANE_SELECT, .c = mask,
				.a = neg ? b : a, .b = neg ? a : b }), ea && eb);
	}
	*next = join;
	return true;
}

/* A byte stored at r10 + index + k: the one store an iteration, of a lane */
static bool record_store(struct trace_state *st, const struct csd_ebpf_insn *insn)
{
	struct sym addr = st->r[insn->dst_reg];
	struct sym v = BPF_CLASS(insn->code) == BPF_ST ?
		(struct sym){ .kind = SYM_CONST, .k = insn->imm } : st->r[insn->src_reg];
	int64_t total = addr.k + insn->off;
	bool exact;

	if (st->stored || BPF_SIZE(insn->code) != BPF_B || addr.kind != SYM_ADDR ||
	    (addr.reg != EBPF_REG_FP && addr.reg2 != EBPF_REG_FP) ||
	    total < INT32_MIN || total > INT32_MAX || !lane_of(st, v, &st->value, &exact))
		return false;
	st->stored = true;
	st->store_index = addr.reg == EBPF_REG_FP ? addr.reg2 : addr.reg;
	st->store_off = (int32_t)total;
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
		} else if ((cls == BPF_STX || cls == BPF_ST) && BPF_MODE(insn->code) == BPF_MEM) {
			if (insn->dst_reg >= 10 || !record_store(st, insn))
				return false;
		} else if (insn->code == (BPF_JMP | BPF_JA)) {
			next = pc + 1 + (size_t)(ptrdiff_t)insn->off;
		} else if ((cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_JA && op != BPF_CALL &&
			   op != BPF_EXIT) {
			/* the exit test: try staying on the taken side, then on the other; else
			 * a select */
			struct trace_state before = *st;

			if (exit_step(st, insn, pc, true, &next) &&
			    trace(prog, st, start, next))
				return true;
			*st = before;
			if (exit_step(st, insn, pc, false, &next) && trace(prog, st, start, next))
				return true;
			*st = before;
			if (!select_diamond(st, prog, start, pc, &next))
				return false;
		} else {
			return false;	/* stores, calls, exits, 64-bit constants */
		}
		pc = next;
	}
	return pc == start && st->tested;
}

/*
 * The nodes the stored one is made of (the trace makes others: values it overwrites, a
 * select's dead side), numbered anew in their order, the byte first; false when more than
 * the JIT has registers for.
 */
static bool keep_used_lanes(const struct trace_state *st, struct red_loop *out)
{
	uint32_t used = 1u | 1u << st->value;
	uint8_t num[RED_TRACE_LANES] = { 0 };

	for (unsigned i = st->nlanes; i-- > 1;) {
		const struct red_lane *n = &st->lanes[i];

		if (!(used >> i & 1))
			continue;
		if (n->op >= LANE_ADD)
			used |= 1u << n->a | 1u << n->b;
		if (n->op == LANE_SELECT)
			used |= 1u << n->c;
	}
	out->nlanes = 0;
	for (unsigned i = 0; i < st->nlanes; i++) {
		struct red_lane n = st->lanes[i];

		if (!(used >> i & 1))
			continue;
		if (out->nlanes == RED_MAX_LANES)
			return false;
		n.a = num[n.a];
		n.b = num[n.b];
		n.c = num[n.c];
		num[i] = (uint8_t)out->nlanes;
		out->lanes[out->nlanes++] = n;
	}
	out->value = num[st->value];
	return true;
}

static int32_t step_of(const struct trace_state *st, uint8_t reg)
{
	const struct sym *s = &st->r[reg];

	return s->kind == SYM_IND && s->reg == reg ? (int32_t)s->k : INT32_MIN;
}

bool ebpf_reduction_match(const struct csd_ebpf_prog *prog, const uint16_t *live, size_t start,
			  struct red_loop *out)
{
	struct trace_state st = { .loaded = false, .nlanes = 1, .lanes = { { .op = LANE_IN } } };
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
				  .stores = st.stored, .store_index = st.store_index,
				  .store_off = st.store_off, .ntrace = st.ntrace };
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
	/* and a reduction has terms, a byte map a store, never both */
	if (step_of(&st, st.counter) != 1 || (out->nterms != 0) == st.stored ||
	    (st.bound_reg != RED_NO_REG && step_of(&st, st.bound_reg) != 0))
		return false;
	if (st.stored) {	/* bytes in, bytes out, one further each; the registers read stay */
		if (st.size != 1 || step_of(&st, st.store_index) != 1 ||
		    !keep_used_lanes(&st, out))
			return false;
		for (unsigned i = 0; i < out->nlanes; i++)
			if ((out->lanes[i].op == LANE_REG || out->lanes[i].op == LANE_REG_BYTE) &&
			    step_of(&st, out->lanes[i].reg) != 0)
				return false;
	}
	base_step = step_of(&st, st.base);
	index_step = st.index == RED_NO_REG ? 0 : step_of(&st, st.index);
	if (base_step == INT32_MIN || index_step == INT32_MIN ||
	    base_step + index_step != (int32_t)st.size)
		return false;
	return true;
}
