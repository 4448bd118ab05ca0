/* SPDX-License-Identifier: MIT */
/*
 * The verifier's octagons (octagon.c). Every operation but widening keeps a closed matrix
 * closed, which the verifier relies on to close a block's state only where widening left it
 * open: after each of a random run of operations, closing changes nothing (bounds below
 * 2^50; near the clamp at 2^61 closing may tighten a bound that far out). And closing is
 * exact over the integers: on three variables in [-4, 4], every bound the closed matrix
 * holds is the largest v_j - v_i among the points that meet the constraints (no point is
 * cut off, none is left loose), and an octagon is empty exactly when no point meets them.
 */
#include "test_helpers.h"
#include "../../src/ebpf/octagon.h"

#define NV	5

static uint64_t rng = 0x243f6a8885a308d3u;

static int64_t small(void)
{
	/* (not near OCT_LIMIT: sums clamped at twice it no longer compose exactly, and a
	 * matrix kept closed one constraint at a time may hold a looser, still true, bound) */
	static const int64_t far[] = { 64, -64, 4096, INT64_C(1) << 40, -(INT64_C(1) << 40),
				       INT64_C(1) << 50, -(INT64_C(1) << 50) };
	uint64_t r = csd_xorshift64(&rng);

	return r % 4 ? (int64_t)(r >> 8) % 21 - 10 : far[(r >> 8) % 7];
}

/* One random operation on o (b: another closed octagon to join). */
static void random_op(struct octagon *o, const struct octagon *b)
{
	unsigned x = (unsigned)(csd_xorshift64(&rng) % NV), y = (unsigned)(csd_xorshift64(&rng) % NV);
	int64_t c = small(), d = small();

	switch (csd_xorshift64(&rng) % 11) {
	case 0: oct_set_diff(o, x, y, c); break;
	case 1: oct_set_sum(o, x, y, c); break;
	case 2: oct_set_interval(o, x, c < d ? c : d, c < d ? d : c); break;
	case 3: oct_add_upper(o, x, c); break;
	case 4: oct_add_lower(o, x, c); break;
	case 5: oct_assign_interval(o, x, c < d ? c : d, c < d ? d : c); break;
	case 6: oct_assign_var(o, x, y, c); break;
	case 7: oct_assign_var(o, x, x, c); break;
	case 8: oct_assign_neg_var(o, x, y, c); break;
	case 9: oct_forget(o, x); break;
	default: oct_join(o, b); break;
	}
}

static void test_operations_keep_closure(void **state)
{
	size_t size = oct_size(NV);
	struct octagon *o = malloc(size), *b = malloc(size), *closed = malloc(size);
	unsigned checked = 0;

	(void)state;
	assert_non_null(o);
	assert_non_null(b);
	assert_non_null(closed);
	for (int t = 0; t < 3000; t++) {
		oct_init_top(o, NV);
		oct_init_top(b, NV);
		for (int k = 0; k < 4; k++)
			random_op(b, o);	/* o is top: a join with it gives top */
		for (int k = 0; k < 12 && !o->empty; k++) {
			random_op(o, b);
			oct_copy(closed, o);
			oct_close(closed);
			if (closed->empty != o->empty ||
			    (!o->empty && memcmp(closed->m, o->m, 4 * NV * NV * sizeof(int64_t))))
				fail_msg("run %d, operation %d: closing changed the octagon", t, k);
			checked++;
		}
	}
	assert_true(checked > 20000);
	free(o);
	free(b);
	free(closed);
}

static void test_closure_exact(void **state)
{
	enum { V = 3, LO = -4, HI = 4 };
	struct octagon *o = malloc(oct_size(V));
	unsigned nonempty = 0, empty = 0;

	(void)state;
	assert_non_null(o);
	for (int t = 0; t < 2000; t++) {
		/* constraints as (kind, x, y, c): kind 0 x - y <= c, 1 x + y <= c, 2 x >= c */
		int cons[6][4];
		unsigned n = 1 + (unsigned)(csd_xorshift64(&rng) % 6);
		int64_t best[2 * V][2 * V];
		bool any = false;

		oct_init_top(o, V);
		for (unsigned x = 0; x < V; x++)
			oct_set_interval(o, x, LO, HI);
		for (unsigned k = 0; k < n; k++) {
			cons[k][0] = (int)(csd_xorshift64(&rng) % 3);
			cons[k][1] = (int)(csd_xorshift64(&rng) % V);
			cons[k][2] = (int)(csd_xorshift64(&rng) % V);
			cons[k][3] = (int)(csd_xorshift64(&rng) % 13) - 6;
		}
		for (unsigned k = 0; k < n; k++) {
			unsigned x = (unsigned)cons[k][1], y = (unsigned)cons[k][2];

			if (cons[k][0] == 0)
				oct_set_diff(o, x, y, cons[k][3]);
			else if (cons[k][0] == 1)
				oct_set_sum(o, x, y, cons[k][3]);
			else
				oct_add_lower(o, x, cons[k][3]);
		}
		if (csd_xorshift64(&rng) % 2)
			oct_close(o);	/* changes nothing (the test above), or should not */
		for (unsigned i = 0; i < 2 * V; i++)
			for (unsigned j = 0; j < 2 * V; j++)
				best[i][j] = INT64_MIN;
		for (int a = LO; a <= HI; a++)
			for (int b = LO; b <= HI; b++)
				for (int c = LO; c <= HI; c++) {
					int v[V] = { a, b, c }, sv[2 * V];
					bool ok = true;

					for (unsigned k = 0; k < n && ok; k++) {
						int x = v[cons[k][1]], y = v[cons[k][2]];

						ok = cons[k][0] == 0 ? x - y <= cons[k][3] :
						     cons[k][0] == 1 ? x + y <= cons[k][3] :
						     x >= cons[k][3];
					}
					if (!ok)
						continue;
					any = true;
					for (unsigned q = 0; q < V; q++)
						sv[2 * q] = v[q], sv[2 * q + 1] = -v[q];
					for (unsigned i = 0; i < 2 * V; i++)
						for (unsigned j = 0; j < 2 * V; j++)
							if (sv[j] - sv[i] > best[i][j])
								best[i][j] = sv[j] - sv[i];
				}
		if (!any) {
			if (!o->empty)
				fail_msg("constraint set %d: no point meets it, the octagon is not empty",
					 t);
			empty++;
			continue;
		}
		if (o->empty)
			fail_msg("constraint set %d: points meet it, the octagon is empty", t);
		nonempty++;
		for (unsigned i = 0; i < 2 * V; i++)
			for (unsigned j = 0; j < 2 * V; j++)
				if (o->m[i * 2 * V + j] != best[i][j])
					fail_msg("constraint set %d: m[%u][%u] = %lld, the points say %lld",
						 t, i, j, (long long)o->m[i * 2 * V + j],
						 (long long)best[i][j]);
	}
	assert_true(nonempty > 500);
	assert_true(empty > 50);
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operations_keep_closure),
		cmocka_unit_test(test_closure_exact),
	};

	return cmocka_run_group_tests_name("octagon", tests, NULL, NULL);
}
