/* SPDX-License-Identifier: MIT */
/*
 * The octagon abstract domain (Miné, 2006) over integer variables: constraints of the form
 * ±x ±y <= c, which hold both intervals (x <= c) and the relations a loop needs: `i < len`
 * (i - len <= -1) and, for a pointer walking forward while a counter walks down, `off + n == k`
 * (off + n <= k and -off - n <= -k), which a difference-only (zone) domain cannot hold.
 *
 * Variable k has two matrix indices, 2k (+x_k) and 2k+1 (-x_k); m[i][j] bounds v_j - v_i.
 * Bounds are int64 with OCT_INF for "none"; every finite bound is kept within ±OCT_LIMIT, so
 * sums of two never overflow and anything beyond is treated as unbounded (always sound).
 */
#ifndef CSD_EBPF_OCTAGON_H
#define CSD_EBPF_OCTAGON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCT_INF		INT64_MAX
#define OCT_LIMIT	(INT64_C(1) << 60)
#define OCT_WIDEN_THRESHOLD	(INT64_C(1) << 58)

struct octagon {
	unsigned nvars;
	bool empty;		/* bottom: no value satisfies the constraints */
	int64_t m[];		/* (2 nvars)^2, row-major */
};

size_t oct_size(unsigned nvars);
void oct_init_top(struct octagon *o, unsigned nvars);
void oct_copy(struct octagon *dst, const struct octagon *src);

/* Tight closure; sets o->empty when the constraints contradict each other. */
void oct_close(struct octagon *o);

void oct_forget(struct octagon *o, unsigned x);
/* [*lo, *hi] of x (INT64_MIN / OCT_INF when unbounded); o must be closed. */
void oct_bounds(const struct octagon *o, unsigned x, int64_t *lo, int64_t *hi);
/* Upper bound of x - y (OCT_INF if none); o must be closed. */
int64_t oct_diff_max(const struct octagon *o, unsigned x, unsigned y);

/* Add x - y <= c without closing (to add several and close once). */
void oct_set_diff(struct octagon *o, unsigned x, unsigned y, int64_t c);
void oct_set_sum(struct octagon *o, unsigned x, unsigned y, int64_t c);
void oct_set_interval(struct octagon *o, unsigned x, int64_t lo, int64_t hi);

/* Add a constraint and close: x - y <= c, x + y <= c, x <= c, x >= c. */
void oct_add_diff(struct octagon *o, unsigned x, unsigned y, int64_t c);
void oct_add_sum(struct octagon *o, unsigned x, unsigned y, int64_t c);
void oct_add_upper(struct octagon *o, unsigned x, int64_t c);
void oct_add_lower(struct octagon *o, unsigned x, int64_t c);

/* Assignments (the result is closed). */
void oct_assign_interval(struct octagon *o, unsigned x, int64_t lo, int64_t hi);
void oct_assign_var(struct octagon *o, unsigned x, unsigned y, int64_t c);	/* x := y + c */
void oct_assign_neg_var(struct octagon *o, unsigned x, unsigned y, int64_t c);	/* x := c - y */

/*
 * a := a ⊔ b; a := a ∇ b (widening with thresholds: n finite bounds in ascending order, all
 * below OCT_WIDEN_THRESHOLD, to try before that one and infinity); both arguments closed.
 */
void oct_join(struct octagon *a, const struct octagon *b);
void oct_widen(struct octagon *a, const struct octagon *b, const int64_t *thresholds, size_t n);
bool oct_equal(const struct octagon *a, const struct octagon *b);

#endif
