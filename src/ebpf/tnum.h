/* SPDX-License-Identifier: MIT */
/*
 * Known bits ("tristate numbers", as Linux's verifier calls them): a 64-bit value of which the
 * bits in `mask` are unknown and the others equal those of `value`. The verifier keeps one per
 * scalar register next to its octagon bounds, because masks and shifts (`i & 0xff`, `x >> 3`)
 * say more about bits than about ranges.
 */
#ifndef CSD_EBPF_TNUM_H
#define CSD_EBPF_TNUM_H

#include <stdbool.h>
#include <stdint.h>

struct tnum {
	uint64_t value;
	uint64_t mask;
};

static inline struct tnum tnum_const(uint64_t v) { return (struct tnum){ v, 0 }; }
static inline struct tnum tnum_unknown(void) { return (struct tnum){ 0, UINT64_MAX }; }
static inline bool tnum_is_const(struct tnum t) { return t.mask == 0; }

/* The values in [lo, hi] (unsigned) all share the bits above their highest differing bit. */
static inline struct tnum tnum_range(uint64_t lo, uint64_t hi)
{
	uint64_t chi = lo ^ hi;
	int bits = chi ? 64 - __builtin_clzll(chi) : 0;
	uint64_t delta = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;

	return (struct tnum){ lo & ~delta, delta };
}

static inline struct tnum tnum_add(struct tnum a, struct tnum b)
{
	uint64_t sm = a.mask + b.mask, sv = a.value + b.value, sigma = sm + sv;
	uint64_t chi = sigma ^ sv, mu = chi | a.mask | b.mask;

	return (struct tnum){ sv & ~mu, mu };
}

static inline struct tnum tnum_sub(struct tnum a, struct tnum b)
{
	uint64_t dv = a.value - b.value, alpha = dv + a.mask, beta = dv - b.mask;
	uint64_t chi = alpha ^ beta, mu = chi | a.mask | b.mask;

	return (struct tnum){ dv & ~mu, mu };
}

static inline struct tnum tnum_and(struct tnum a, struct tnum b)
{
	uint64_t alpha = a.value | a.mask, beta = b.value | b.mask, v = a.value & b.value;

	return (struct tnum){ v, alpha & beta & ~v };
}

static inline struct tnum tnum_or(struct tnum a, struct tnum b)
{
	uint64_t v = a.value | b.value, mu = a.mask | b.mask;

	return (struct tnum){ v, mu & ~v };
}

static inline struct tnum tnum_xor(struct tnum a, struct tnum b)
{
	uint64_t v = a.value ^ b.value, mu = a.mask | b.mask;

	return (struct tnum){ v & ~mu, mu };
}

static inline struct tnum tnum_lshift(struct tnum a, unsigned s)
{
	return (struct tnum){ a.value << s, a.mask << s };
}

static inline struct tnum tnum_rshift(struct tnum a, unsigned s)
{
	return (struct tnum){ a.value >> s, a.mask >> s };
}

static inline struct tnum tnum_arshift(struct tnum a, unsigned s)
{
	return (struct tnum){ (uint64_t)((int64_t)a.value >> s), (uint64_t)((int64_t)a.mask >> s) };
}

/* The low `bytes` bytes, upper bits known zero. */
static inline struct tnum tnum_cast(struct tnum a, unsigned bytes)
{
	uint64_t keep = bytes >= 8 ? UINT64_MAX : (UINT64_C(1) << (bytes * 8)) - 1;

	return (struct tnum){ a.value & keep, a.mask & keep };
}

/* Every value either a or b allows. */
static inline struct tnum tnum_union(struct tnum a, struct tnum b)
{
	uint64_t mu = a.mask | b.mask | (a.value ^ b.value);

	return (struct tnum){ a.value & ~mu, mu };
}

/* Values both allow; *empty when they contradict each other. */
static inline struct tnum tnum_intersect(struct tnum a, struct tnum b, bool *empty)
{
	uint64_t known_both = ~a.mask & ~b.mask;

	*empty = ((a.value ^ b.value) & known_both) != 0;
	return (struct tnum){ (a.value | b.value) & ~(a.mask & b.mask), a.mask & b.mask };
}

static inline uint64_t tnum_umin(struct tnum a) { return a.value; }
static inline uint64_t tnum_umax(struct tnum a) { return a.value | a.mask; }

static inline bool tnum_equal(struct tnum a, struct tnum b)
{
	return a.value == b.value && a.mask == b.mask;
}

#endif
