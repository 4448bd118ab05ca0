/* SPDX-License-Identifier: MIT */
/*
 * Reduction loops (reduction.c): a loop that reads its input one element an iteration and
 * only folds what it read into accumulators (a byte count, a byte sum, the sum and xor of
 * 64-bit words), or maps each byte it read to a byte it stores in the stack (a header
 * lower-cased into a buffer), found in the eBPF so that the JIT can run most of its
 * iterations 32 bytes at a time, as compilers vectorise such loops for the host. Nothing
 * here is x86.
 */
#ifndef CSD_EBPF_REDUCTION_H
#define CSD_EBPF_REDUCTION_H

#include "ebpf_internal.h"

#define RED_MAX_TERMS	4
#define RED_MAX_INDS	4
#define RED_MAX_TRACE	64
#define RED_NO_REG	0xff
#define RED_MAX_LANES	12

enum red_kind {
	RED_SUM_BYTES,		/* acc += data[i] */
	RED_COUNT_EQ,		/* acc += data[i] == k (a register or a byte constant) */
	RED_COUNT_NE,		/* acc += data[i] != k */
	RED_SUM_WORDS,		/* acc += words[i] */
	RED_XOR_WORDS,		/* acc ^= words[i] */
};

struct red_term {
	enum red_kind kind;
	uint8_t acc;		/* the accumulator's register */
	bool acc32;		/* a 32-bit add: acc keeps the low 32 bits, zero-extended */
	uint8_t k_reg;		/* RED_COUNT_*: the register compared with, or RED_NO_REG */
	bool k32;		/* ... compared in 32 bits (jeq32) */
	uint8_t k_imm;		/* ... else this byte */
};

/*
 * A byte map computes, for each input byte, the byte it stores as a little program over
 * 8-bit lanes: node 0 is the byte loaded, every other node an operation on earlier nodes.
 * Only the low 8 bits of a node are its value (the eBPF's registers may hold more: a
 * `c + 32` whose carry only the store drops); comparisons are made only of nodes whose
 * register held exactly their byte, so they compare as the eBPF did.
 */
enum lane_op {
	LANE_IN,		/* the byte loaded this iteration */
	LANE_IMM,		/* the constant k */
	LANE_REG,		/* the low byte of register reg, which the loop does not change */
	LANE_REG_BYTE,		/* ... which must be at most 255 (in 32 bits: reg32) to compare */
	LANE_ADD,		/* a + b */
	LANE_SUB,		/* a - b */
	LANE_AND,
	LANE_OR,
	LANE_XOR,
	LANE_GE,		/* a >= b, unsigned: 0xff or 0 */
	LANE_EQ,		/* a == b: 0xff or 0 */
	LANE_SELECT,		/* c (a GE or EQ node) ? a : b */
};

struct red_lane {
	enum lane_op op;
	uint8_t a, b, c;	/* earlier nodes */
	uint8_t k;		/* LANE_IMM */
	uint8_t reg;		/* LANE_REG, LANE_REG_BYTE */
	bool reg32;		/* LANE_REG_BYTE: reg's low 32 bits are checked */
};

/*
 * A loop entered at `start` whose every iteration from there runs the same instructions: one
 * load of `size` bytes at (base + index + off) as the registers are at `start` plus `size`
 * per iteration done, the terms, the inductions (reg += step, once an iteration; `counter` among
 * them with step 1) and a test going on while counter < bound (as it is after its increment),
 * or counter != bound. Every other register the loop writes is dead at `start`.
 * Or, with no terms, a byte map: the one load is of a byte, and one store a byte an
 * iteration writes node `value` of lanes[] at (r10 + store_index + store_off) as the
 * registers are at `start`, plus 1 per iteration done (store_index among the inductions,
 * with step 1). A conditional jump whose both ways run register arithmetic only and meet
 * again is a select of lanes.
 */
struct red_loop {
	size_t start;
	unsigned size;			/* 1 or 8 */
	uint8_t base, index;		/* index RED_NO_REG: none */
	int32_t off;
	uint8_t counter;
	uint8_t bound_reg;		/* RED_NO_REG: bound_imm */
	uint64_t bound_imm;
	unsigned nind, nterms;
	struct { uint8_t reg; int32_t step; } ind[RED_MAX_INDS];
	struct red_term term[RED_MAX_TERMS];
	bool stores;			/* a byte map */
	uint8_t store_index;
	int32_t store_off;
	uint8_t value;			/* the node stored */
	unsigned nlanes;
	struct red_lane lanes[RED_MAX_LANES];
	size_t ntrace;			/* the pcs one iteration runs, start first */
	size_t trace[RED_MAX_TRACE];
};

/*
 * Whether the loop entered at `start` is a reduction loop (*out describes it). live: the
 * registers live on entry to each pc. A program the verifier proved or not: this is a
 * statement about the instructions alone.
 */
bool ebpf_reduction_match(const struct csd_ebpf_prog *prog, const uint16_t *live, size_t start,
			  struct red_loop *out);

#endif
