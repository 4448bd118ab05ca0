/* SPDX-License-Identifier: MIT */
/*
 * Octagons with a dense matrix, kept closed: the full closure (Floyd-Warshall, unary bounds
 * rounded to even since 2x <= c means x <= floor(c/2), then strengthening through the unary
 * bounds) only where a widening left the matrix open; every other operation adds constraints
 * one at a time with an O(n^2) incremental closure (Mine, 2006), which matters because a
 * program's state has some fifty variables.
 */
#include <stdlib.h>
#include <string.h>

#include "octagon.h"

#define N(o)		(2 * (o)->nvars)
#define M(o, i, j)	((o)->m[(size_t)(i) * N(o) + (j)])

static int64_t bound_add(int64_t a, int64_t b)
{
	int64_t s;

	if (a == OCT_INF || b == OCT_INF)
		return OCT_INF;
	s = a + b;	/* |a|, |b| <= OCT_LIMIT * 2: no overflow */
	if (s > OCT_LIMIT * 2)
		return OCT_INF;
	return s < -OCT_LIMIT * 2 ? -OCT_LIMIT * 2 : s;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* 2v, clamped (weakening a bound beyond the limits is always sound) */
static int64_t twice(int64_t v)
{
	if (v > OCT_LIMIT)
		return 2 * OCT_LIMIT;
	return v < -OCT_LIMIT ? -2 * OCT_LIMIT : 2 * v;
}

/* floor(a / 2) for a finite a */
static int64_t half_floor(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

size_t oct_size(unsigned nvars)
{
	return sizeof(struct octagon) + sizeof(int64_t) * 4 * nvars * nvars;
}

void oct_init_top(struct octagon *o, unsigned nvars)
{
	o->nvars = nvars;
	o->empty = false;
	for (unsigned i = 0; i < N(o); i++)
		for (unsigned j = 0; j < N(o); j++)
			M(o, i, j) = i == j ? 0 : OCT_INF;
}

void oct_copy(struct octagon *dst, const struct octagon *src)
{
	memcpy(dst, src, oct_size(src->nvars));
}

/* Integer tightening, strengthening through unary bounds, emptiness: after any relaxation. */
static void strengthen(struct octagon *o)
{
	unsigned n = N(o), bounded[n], nb = 0;

	for (unsigned i = 0; i < n; i++)
		if (M(o, i, i ^ 1) != OCT_INF) {
			M(o, i, i ^ 1) = 2 * half_floor(M(o, i, i ^ 1));
			bounded[nb++] = i;
		}
	/* m[i][j] <= (m[i][i^1] + m[j^1][j]) / 2 for every i and j with unary bounds */
	for (unsigned x = 0; x < nb; x++) {
		unsigned i = bounded[x];
		int64_t a = M(o, i, i ^ 1);

		for (unsigned y = 0; y < nb; y++) {
			unsigned j = bounded[y] ^ 1;
			int64_t b = M(o, j ^ 1, j);

			if (half_floor(a + b) < M(o, i, j))
				M(o, i, j) = half_floor(a + b);
		}
	}
	for (unsigned i = 0; i < n; i++)
		if (M(o, i, i) < 0) {
			o->empty = true;
			return;
		}
}

/*
 * Add v_j - v_i <= c (and its twin v_{i^1} - v_{j^1} <= c) to a closed matrix and keep it
 * closed in O(n^2): a new shortest path uses the new edge once, or both twins once each.
 * Those paths from a to b end either in j's row or in (i^1)'s: per row a, the best way to
 * reach each (via_j, via_tj), then one pass over b; rows that reach neither are skipped.
 */
static void set_bound(struct octagon *o, unsigned i, unsigned j, int64_t c)
{
	unsigned n = N(o), ti = j ^ 1, tj = i ^ 1;
	int64_t j_ti, tj_i;

	if (o->empty || c > OCT_LIMIT * 2)
		return;
	/*
	 * Every finite bound stays within ±2 OCT_LIMIT (bound_add relies on it): a bound below
	 * that (x >= 2^62 read from known bits) is kept as the weaker -2 OCT_LIMIT, still true.
	 */
	if (c < -OCT_LIMIT * 2)
		c = -OCT_LIMIT * 2;
	if (c >= M(o, i, j))
		return;
	{
		int64_t to_i[n], to_ti[n], from_j[n], from_tj[n];

		for (unsigned k = 0; k < n; k++) {
			to_i[k] = M(o, k, i);
			to_ti[k] = M(o, k, ti);
			from_j[k] = M(o, j, k);
			from_tj[k] = M(o, tj, k);
		}
		j_ti = M(o, j, ti);	/* from the end of one twin to the start of the other */
		tj_i = M(o, tj, i);
		for (unsigned a = 0; a < n; a++) {
			int64_t *row = &M(o, a, 0);
			int64_t via_j = bound_add(to_i[a], c), via_tj = bound_add(to_ti[a], c);
			int64_t twice_j = bound_add(bound_add(via_tj, tj_i), c);
			int64_t twice_tj = bound_add(bound_add(via_j, j_ti), c);

			via_j = twice_j < via_j ? twice_j : via_j;
			via_tj = twice_tj < via_tj ? twice_tj : via_tj;
			if (via_j == OCT_INF && via_tj == OCT_INF)
				continue;
			for (unsigned b = 0; b < n; b++) {
				int64_t p = bound_add(via_j, from_j[b]), q = bound_add(via_tj, from_tj[b]);

				p = q < p ? q : p;
				if (p < row[b])
					row[b] = p;
			}
		}
	}
	strengthen(o);
}

/* Floyd-Warshall over the finite entries only: a program's octagons are mostly unbounded. */
void oct_close(struct octagon *o)
{
	unsigned n = N(o), finite[n];

	if (o->empty)
		return;
	for (unsigned k = 0; k < n; k++) {
		const int64_t *row_k = &M(o, k, 0);
		unsigned nf = 0;

		/* (row k only falls where i == k and m[k][k] < 0: then o is empty anyway) */
		for (unsigned j = 0; j < n; j++)
			if (row_k[j] != OCT_INF)
				finite[nf++] = j;
		for (unsigned i = 0; i < n; i++) {
			int64_t ik = M(o, i, k), *row_i = &M(o, i, 0);

			if (ik == OCT_INF)
				continue;
			for (unsigned f = 0; f < nf; f++) {
				int64_t s = bound_add(ik, row_k[finite[f]]);

				if (s < row_i[finite[f]])
					row_i[finite[f]] = s;
			}
		}
	}
	strengthen(o);
}

void oct_forget(struct octagon *o, unsigned x)
{
	unsigned n = N(o);

	for (unsigned p = 2 * x; p <= 2 * x + 1; p++)
		for (unsigned i = 0; i < n; i++) {
			M(o, p, i) = p == i ? 0 : OCT_INF;
			M(o, i, p) = p == i ? 0 : OCT_INF;
		}
}

void oct_bounds(const struct octagon *o, unsigned x, int64_t *lo, int64_t *hi)
{
	int64_t up = M(o, 2 * x + 1, 2 * x), down = M(o, 2 * x, 2 * x + 1);

	*hi = up == OCT_INF ? OCT_INF : half_floor(up);
	*lo = down == OCT_INF ? INT64_MIN : -half_floor(down);
}

int64_t oct_diff_max(const struct octagon *o, unsigned x, unsigned y)
{
	return M(o, 2 * y, 2 * x);
}

void oct_set_diff(struct octagon *o, unsigned x, unsigned y, int64_t c)
{
	set_bound(o, 2 * y, 2 * x, c);
}

void oct_set_sum(struct octagon *o, unsigned x, unsigned y, int64_t c)
{
	set_bound(o, 2 * y + 1, 2 * x, c);
}

void oct_set_interval(struct octagon *o, unsigned x, int64_t lo, int64_t hi)
{
	if (hi < OCT_LIMIT)
		set_bound(o, 2 * x + 1, 2 * x, twice(hi));
	if (lo > -OCT_LIMIT)
		set_bound(o, 2 * x, 2 * x + 1, -twice(lo));
}

void oct_add_diff(struct octagon *o, unsigned x, unsigned y, int64_t c)
{
	set_bound(o, 2 * y, 2 * x, c);
}

void oct_add_sum(struct octagon *o, unsigned x, unsigned y, int64_t c)
{
	set_bound(o, 2 * y + 1, 2 * x, c);
}

void oct_add_upper(struct octagon *o, unsigned x, int64_t c)
{
	if (c < OCT_LIMIT)
		set_bound(o, 2 * x + 1, 2 * x, twice(c));
}

void oct_add_lower(struct octagon *o, unsigned x, int64_t c)
{
	if (c > -OCT_LIMIT)
		set_bound(o, 2 * x, 2 * x + 1, -twice(c));
}

void oct_assign_interval(struct octagon *o, unsigned x, int64_t lo, int64_t hi)
{
	oct_forget(o, x);
	if (hi < OCT_LIMIT)
		set_bound(o, 2 * x + 1, 2 * x, twice(hi));
	if (lo > -OCT_LIMIT)
		set_bound(o, 2 * x, 2 * x + 1, -twice(lo));
}

void oct_assign_var(struct octagon *o, unsigned x, unsigned y, int64_t c)
{
	unsigned n = N(o);

	if (x == y) {
		/* shift x by c: every bound on v_j - (+x) loses c, on (+x) - v_i gains c */
		if (c > OCT_LIMIT || c < -OCT_LIMIT) {
			oct_forget(o, x);
			return;
		}
		for (unsigned i = 0; i < n; i++) {
			if (i == 2 * x || i == 2 * x + 1)
				continue;
			M(o, i, 2 * x) = bound_add(M(o, i, 2 * x), c);
			M(o, 2 * x, i) = bound_add(M(o, 2 * x, i), -c);
			M(o, i, 2 * x + 1) = bound_add(M(o, i, 2 * x + 1), -c);
			M(o, 2 * x + 1, i) = bound_add(M(o, 2 * x + 1, i), c);
		}
		M(o, 2 * x + 1, 2 * x) = bound_add(M(o, 2 * x + 1, 2 * x), 2 * c);
		M(o, 2 * x, 2 * x + 1) = bound_add(M(o, 2 * x, 2 * x + 1), -2 * c);
		return;		/* a shift keeps a closed matrix closed */
	}
	oct_forget(o, x);
	if (c <= OCT_LIMIT && c >= -OCT_LIMIT) {
		set_bound(o, 2 * y, 2 * x, c);		/* x - y <= c */
		set_bound(o, 2 * x, 2 * y, -c);		/* y - x <= -c */
	}
}

void oct_assign_neg_var(struct octagon *o, unsigned x, unsigned y, int64_t c)
{
	if (x == y) {
		int64_t lo, hi;

		oct_bounds(o, y, &lo, &hi);
		oct_assign_interval(o, x, hi == OCT_INF ? INT64_MIN : c - hi,
				    lo == INT64_MIN ? OCT_INF : c - lo);
		return;
	}
	oct_forget(o, x);
	if (c <= OCT_LIMIT && c >= -OCT_LIMIT) {
		set_bound(o, 2 * y + 1, 2 * x, c);	/* x + y <= c */
		set_bound(o, 2 * y, 2 * x + 1, -c);	/* -x - y <= -c */
	}
}

/* A join or widening with an empty side gives the other side: true when that settled it. */
static bool merge_with_empty(struct octagon *a, const struct octagon *b)
{
	if (b->empty)
		return true;
	if (a->empty) {
		oct_copy(a, b);
		return true;
	}
	return false;
}

void oct_join(struct octagon *a, const struct octagon *b)
{
	if (merge_with_empty(a, b))
		return;
	for (size_t i = 0; i < (size_t)N(a) * N(a); i++)
		a->m[i] = max64(a->m[i], b->m[i]);
}

void oct_widen(struct octagon *a, const struct octagon *b, const int64_t *thresholds, size_t n)
{
	if (merge_with_empty(a, b))
		return;
	/*
	 * A bound that grew jumps to the next threshold above it: first the program's own
	 * constants (thresholds, ascending), so that a loop `for (k = 0; k != 64; k++)` stops at
	 * 64, where its test narrows it, instead of at infinity; then 2^58, so that a widened
	 * counter plus one still cannot wrap and keeps its relations; then none.
	 */
	for (size_t i = 0; i < (size_t)N(a) * N(a); i++) {
		int64_t want = b->m[i], to = OCT_INF;
		size_t lo = 0, hi = n, row = i / N(a), col = i % N(a);

		if (want <= a->m[i])
			continue;
		/* intervals only (x - (-x) <= 2c): relations widen straight on, or loops settle late */
		if ((row ^ 1) != col)
			lo = hi = n;
		while (lo < hi) {	/* the first threshold >= want */
			size_t mid = lo + (hi - lo) / 2;

			if (thresholds[mid] < want)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < n)
			to = thresholds[lo];
		else if (want < OCT_WIDEN_THRESHOLD)
			to = OCT_WIDEN_THRESHOLD;
		a->m[i] = to;
	}
}

bool oct_equal(const struct octagon *a, const struct octagon *b)
{
	if (a->empty || b->empty)
		return a->empty == b->empty;
	return !memcmp(a->m, b->m, sizeof(int64_t) * N(a) * N(a));
}
