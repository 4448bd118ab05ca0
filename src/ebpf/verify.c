/* SPDX-License-Identifier: MIT */
/*
 * The static verifier: abstract interpretation of a loaded program over its control-flow graph,
 * in the manner of PREVAIL (Gershuni et al., PLDI 2019), so that a drive can run the program
 * without a check per memory access and still never read outside its data, crash or spin.
 *
 * What it tracks, per program point:
 *   - each register's kind: uninitialised, scalar, pointer into the input, into a stack frame,
 *     into a map value, a map lookup result that may be NULL, or a map reference;
 *   - one octagon (octagon.c) over the input length `len`, each register's value (a pointer's
 *     offset) and its rest `len - value`, the 8-byte stack slots the program saves registers
 *     to, and one counter per loop, so `i < len` bounds an access `data[i]`; sums x = y + z
 *     are remembered beside it while y and z live (see sums_propagate);
 *   - known bits of scalars (tnum.h);
 *   - per stack frame, which bytes were written and which 8-byte slots hold a saved register.
 *
 * Loops: every retreating edge of a depth-first walk closes a loop; its head gets a counter that
 * is 0 when the head is entered from outside and grows by one on each retreating edge. After the
 * fixpoint every head's counter must have a finite bound, otherwise the loop is refused. (Why
 * this is enough: the node first discovered among those an endless run visits forever is a DFS
 * ancestor of all of them, so every later arrival there is along a retreating edge and its
 * counter would have to grow without bound.)
 *
 * Calls: a bpf-to-bpf call analyses the callee with the caller's state (context-sensitive, as
 * deep as the runtime allows frames); recursion is refused.
 *
 * Refusals name the instruction, the C line when the object has BTF line info, the blocks that
 * led there and the reason; CSD_VERIFY_TRACE=1 prints every step with the registers' bounds.
 *
 * Values are integers in the octagon, so wrap-around is the one thing to be careful about: a
 * relation x = y + c is recorded only when y's bounds show that the addition cannot wrap, and
 * any bound beyond 2^60 counts as none.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ebpf_internal.h"
#include "octagon.h"
#include "tnum.h"

#define MAX_LOOPS	16
#define MAX_SLOT_VARS	8
/*
 * Giving up: a step costs about (2 nvars)^2 (the octagon's incremental closure), so the limit
 * is on their sum, about 2.5 s here whatever the program's shape; the same for every machine.
 */
#define MAX_WORK	(UINT64_C(1) << 32)
#define WIDEN_AFTER	2		/* joins at a loop head before widening */
#define MAX_HEAD_UPDATES 200
#define SLOTS		(CSD_EBPF_STACK_SIZE / 8)

/*
 * Octagon variables: len, each register's value (a pointer's offset), each register's
 * "rest" len - value, and the loop counters. The rest makes two-variable facts of what would
 * otherwise need three: a pointer walking forward while a count walks down,
 * off + n == len - 2, is off - rest(n) == -2.
 */
#define VAR_LEN		0u
#define VAR_REG(r)	(1u + (r))
#define VAR_REST(r)	(1u + EBPF_NREGS + (r))
#define VAR_LOOP(q)	(1u + 2 * EBPF_NREGS + (q))

enum vtype {
	V_UNINIT,
	V_SCALAR,
	V_PTR_INPUT,
	V_PTR_STACK,		/* frame: which call frame */
	V_PTR_MAP,		/* map: which map; points into one value */
	V_PTR_MAP_OR_NULL,
	V_MAP_REF,		/* what lddw of a map gives, for the helpers' first argument */
	V_CONFLICT,		/* a pointer on one path, something else on another */
};

static const char *const vtype_names[] = {
	[V_UNINIT] = "uninitialised",
	[V_SCALAR] = "a scalar",
	[V_PTR_INPUT] = "a pointer into the input",
	[V_PTR_STACK] = "a pointer into the stack",
	[V_PTR_MAP] = "a pointer to a map value",
	[V_PTR_MAP_OR_NULL] = "a map lookup result that may be NULL",
	[V_MAP_REF] = "a map reference",
	[V_CONFLICT] = "a pointer on one path and something else on another",
};

struct vreg {
	uint8_t type;
	uint8_t frame;
	uint16_t map;
	uint32_t id;		/* lookup results: copies share it, so one NULL check covers all */
	uint8_t sum_y1, sum_z1;	/* this register = r(sum_y1-1) + r(sum_z1-1); 0: no such fact */
	struct tnum tn;		/* scalars: known bits */
};

struct vslot {
	bool spilled;		/* holds a whole saved register (8-byte store of a register) */
	struct vreg reg;
	int64_t lo, hi;		/* its value (scalar) or offset (pointer) */
};

struct vframe {
	uint64_t init[SLOTS / 8];	/* one bit per byte written */
	/*
	 * One bit per byte some path may have written (a store at an offset the verifier knows
	 * only as a range, a store on one side of a join). Both engines zero every frame at the
	 * start of a run and the main frame is not reused by calls, so such a byte of the main
	 * frame holds 0 or what this run stored there: it may be read (the 64-byte buffer a
	 * loop fills). Bytes that may hold part of a saved pointer stay unreadable (ptr).
	 */
	uint64_t maybe[SLOTS / 8];
	/*
	 * One bit per byte that may hold part of a saved pointer: such bytes are read back only
	 * as the whole register they came from (an exact 8-byte fill of a spilled slot), never
	 * as data, by a helper or by an atomic: that would hand the drive's address to the host.
	 */
	uint64_t ptr[SLOTS / 8];
	struct vslot slot[SLOTS];
};

/*
 * Facts the octagon cannot hold, one per register: its value is base + stride * (a loop's
 * counter), the way a pointer walks records of `stride` bytes (p = data + 16 * i); and its
 * value is len / div rounded down (n = len >> 4). Together they bound p + 16 <= len after
 * i < n, a relation through a multiplication (see lin_reduce).
 */
struct vlin {
	uint8_t loop1;		/* value = [lo, hi] + stride * counter(loop1 - 1); 0: none */
	int64_t stride, lo, hi;
	uint64_t div;		/* value = floor(len / div); 0: none */
};

struct vstate {
	unsigned depth;
	unsigned pred;		/* the block this state last came from, for messages */
	struct vreg reg[EBPF_NREGS];
	struct vlin lin[EBPF_NREGS];
	struct vframe frame[CSD_EBPF_MAX_FRAMES];
	/* followed by the octagon */
};

static struct octagon *OCT(struct vstate *st) { return (struct octagon *)(st + 1); }

struct verifier {
	const struct csd_ebpf_prog *prog;
	const struct csd_ebpf_insn *insns;
	size_t cnt;
	const struct ebpf_map *maps;
	size_t map_cnt;
	unsigned nvars;
	size_t state_size;
	bool *leader;
	int64_t *edge_hi;	/* per edge (2 pc + is_jump): the loop counter's bound when taken */
	uint8_t *retreat;	/* bit 0: the fall-through edge retreats, bit 1: the jump edge */
	/*
	 * The state kept at this pc was widened, and may be unclosed: every other state is
	 * closed already (the octagon's operations keep closure, and a join of closed ones is
	 * closed; tests/ebpf/test_octagon.c), so a block's start closes only these: the corpus
	 * verifies twice as fast, every state as before. Only bounds near the clamp at 2^61,
	 * where sums saturate, can be looser than a closure would make them: still true.
	 */
	bool *widened;
	int *loop_of;		/* loop index of a head, -1 elsewhere */
	unsigned nloops;
	int slot_var[SLOTS];	/* octagon variable pair of a stack slot, -1: none */
	int word_var[2 * SLOTS];	/* ... of a 4-byte word saved with stxw (its value zero-extended) */
	int64_t **thresholds;	/* per loop: widening's stops before 2^58, ascending */
	size_t *nthresholds;
	unsigned nslot_vars;
	bool has_calls;		/* bpf-to-bpf calls: VAR_ARG exists */
	unsigned chain[CSD_EBPF_MAX_FRAMES];	/* entries of the functions being analysed */
	unsigned long visits;
	uint64_t work;		/* the sum of the steps' costs, bounded by MAX_WORK */
	uint64_t deadline_ns;	/* CLOCK_MONOTONIC; 0: no time limit */
	uint32_t time_limit_ms;
	uint32_t next_id;
	bool writes_input;
	uint8_t *guard;		/* per pc: the region its access reaches (enum ebpf_guard) */
	bool trace;		/* CSD_VERIFY_TRACE set: every step to stderr */
	char *log;
	size_t log_size;
	/* the block being analysed and where states are kept, for the path in messages */
	struct vstate **at;
	unsigned block;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct vstate *state_new(const struct verifier *v)
{
	return malloc(v->state_size);
}

static void state_copy(const struct verifier *v, struct vstate *dst, const struct vstate *src)
{
	memcpy(dst, src, v->state_size);
}

static unsigned insn_size(const struct csd_ebpf_insn *insn)
{
	return insn->code == BPF_OP_LDDW ? 2 : 1;
}

/* ---- messages ---------------------------------------------------------------------------- */

static int path_to(const struct verifier *v, unsigned block, unsigned *out, int max)
{
	int n = 0;

	out[n++] = block;
	while (n < max && v->at && v->at[block] && v->at[block]->pred != block &&
	       v->at[block]->pred != UINT32_MAX) {
		block = v->at[block]->pred;
		out[n++] = block;
	}
	return n;
}

__attribute__((format(printf, 3, 4)))
static int refuse(struct verifier *v, unsigned pc, const char *fmt, ...)
{
	unsigned path[12];
	char why[384], text[96], route[192] = "", where[80];
	size_t used = 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	csd_ebpf_disasm_insn(&v->insns[pc], v->cnt - pc, text, sizeof(text));
	/* the blocks that led here, oldest first, then pc itself */
	n = path_to(v, v->block, path, 12);
	for (int i = n - 1; i >= 0 && used < sizeof(route); i--)
		used += (size_t)snprintf(route + used, sizeof(route) - used, "%s%s%u",
					 i == n - 1 && n == 12 ? "... " : "",
					 i == n - 1 ? "" : " -> ", path[i]);
	if (path[0] != pc && used < sizeof(route))
		snprintf(route + used, sizeof(route) - used, " -> %u", pc);
	if (v->prog && ebpf_source_line(v->prog, pc, where, sizeof(where)))
		ebpf_logf(v->log, v->log_size, "pc %u (%s) at %s: %s [path: %s]", pc, text, where,
			  why, route);
	else
		ebpf_logf(v->log, v->log_size, "pc %u (%s): %s [path: %s]", pc, text, why, route);
	return -EACCES;
}

/* A bound for a message: "len-3", "7", "+inf". */
static const char *fmt_bound(char *buf, size_t size, int64_t b)
{
	if (b == OCT_INF)
		snprintf(buf, size, "+inf");
	else if (b == INT64_MIN)
		snprintf(buf, size, "-inf");
	else
		snprintf(buf, size, "%lld", (long long)b);
	return buf;
}

static bool fits(int64_t lo, int64_t hi)
{
	return lo != INT64_MIN && hi != OCT_INF && lo > -OCT_LIMIT && hi < OCT_LIMIT;
}

/* ---- a register in the octagon: its value and its rest, kept in step --------------------- */

static void rv_forget(struct vstate *st, unsigned r)
{
	oct_forget(OCT(st), VAR_REG(r));
	oct_forget(OCT(st), VAR_REST(r));
}

/* rest(r) from r's bounds alone: len - hi <= rest <= len - lo */
static void rv_rest_from_bounds(struct vstate *st, unsigned r)
{
	struct octagon *o = OCT(st);
	int64_t lo, hi;

	oct_bounds(o, VAR_REG(r), &lo, &hi);
	oct_forget(o, VAR_REST(r));
	if (lo > -OCT_LIMIT)
		oct_set_diff(o, VAR_REST(r), VAR_LEN, -lo);
	if (hi < OCT_LIMIT)
		oct_set_diff(o, VAR_LEN, VAR_REST(r), hi);
}

static void rv_interval(struct vstate *st, unsigned r, int64_t lo, int64_t hi)
{
	rv_forget(st, r);
	oct_set_interval(OCT(st), VAR_REG(r), lo, hi);
	rv_rest_from_bounds(st, r);
}

/* dst := src + c (a shift when dst == src) */
static void rv_copy_plus(struct vstate *st, unsigned dst, unsigned src, int64_t c)
{
	struct octagon *o = OCT(st);

	if (dst == src) {
		oct_assign_var(o, VAR_REG(dst), VAR_REG(dst), c);
		oct_assign_var(o, VAR_REST(dst), VAR_REST(dst), -c);
		return;
	}
	rv_forget(st, dst);
	oct_set_diff(o, VAR_REG(dst), VAR_REG(src), c);
	oct_set_diff(o, VAR_REG(src), VAR_REG(dst), -c);
	oct_set_diff(o, VAR_REST(dst), VAR_REST(src), -c);
	oct_set_diff(o, VAR_REST(src), VAR_REST(dst), c);
}

/* dst := c - src */
static void rv_neg_plus(struct vstate *st, unsigned dst, unsigned src, int64_t c)
{
	oct_assign_neg_var(OCT(st), VAR_REG(dst), VAR_REG(src), c);
	rv_rest_from_bounds(st, dst);
}

/* a - b <= k, a <= c, a >= c */
static void rv_guard_diff(struct vstate *st, unsigned a, unsigned b, int64_t k)
{
	oct_set_diff(OCT(st), VAR_REG(a), VAR_REG(b), k);
	oct_set_diff(OCT(st), VAR_REST(b), VAR_REST(a), k);
}

static void rv_guard_upper(struct vstate *st, unsigned a, int64_t c)
{
	if (c >= OCT_LIMIT)
		return;
	oct_set_interval(OCT(st), VAR_REG(a), INT64_MIN, c);
	oct_set_diff(OCT(st), VAR_LEN, VAR_REST(a), c);
}

static void rv_guard_lower(struct vstate *st, unsigned a, int64_t c)
{
	if (c <= -OCT_LIMIT)
		return;
	oct_set_interval(OCT(st), VAR_REG(a), c, OCT_INF);
	oct_set_diff(OCT(st), VAR_REST(a), VAR_LEN, -c);
}

/*
 * dst := dst + src, both variable: a sum of three terms (x = y + z) is beyond the octagon, but
 * what it knows of y - rest(z) is x - len, and that is what an access through x needs:
 * `base + i` inside the input when base + n <= len and i < n.
 */
static void rv_add_vars(struct vstate *st, unsigned dst, unsigned src)
{
	struct octagon *o = OCT(st);
	int64_t ylo, yhi, zlo, zhi, above, below, a1, a2, b1, b2;

	oct_bounds(o, VAR_REG(dst), &ylo, &yhi);
	oct_bounds(o, VAR_REG(src), &zlo, &zhi);
	/* x - len = y - rest(z) = z - rest(y): the tighter of each bound */
	a1 = oct_diff_max(o, VAR_REG(dst), VAR_REST(src));
	a2 = oct_diff_max(o, VAR_REG(src), VAR_REST(dst));
	b1 = oct_diff_max(o, VAR_REST(src), VAR_REG(dst));
	b2 = oct_diff_max(o, VAR_REST(dst), VAR_REG(src));
	above = a1 < a2 ? a1 : a2;
	below = b1 < b2 ? b1 : b2;	/* len - x <= below */
	/* remember x = y + z when another register still holds y (mov x, y; add x, z) */
	st->reg[dst].sum_y1 = st->reg[dst].sum_z1 = 0;
	for (unsigned r = 0; r < EBPF_NREGS; r++)
		if (r != dst && st->reg[r].type != V_UNINIT &&
		    oct_diff_max(o, VAR_REG(dst), VAR_REG(r)) == 0 &&
		    oct_diff_max(o, VAR_REG(r), VAR_REG(dst)) == 0) {
			st->reg[dst].sum_y1 = (uint8_t)(r + 1);
			st->reg[dst].sum_z1 = (uint8_t)(src + 1);
			break;
		}
	rv_forget(st, dst);
	oct_set_interval(o, VAR_REG(dst), ylo + zlo, yhi + zhi);
	oct_set_diff(o, VAR_REG(dst), VAR_REG(src), yhi);
	oct_set_diff(o, VAR_REG(src), VAR_REG(dst), -ylo);
	if (ylo != INT64_MIN)
		oct_set_diff(o, VAR_REST(dst), VAR_REST(src), -ylo);	/* rest(x) = rest(z) - y */
	if (yhi != OCT_INF)
		oct_set_diff(o, VAR_REST(src), VAR_REST(dst), yhi);
	if (above != OCT_INF) {
		oct_set_diff(o, VAR_REG(dst), VAR_LEN, above);
		oct_set_interval(o, VAR_REST(dst), -above, OCT_INF);
	}
	if (below != OCT_INF) {
		oct_set_diff(o, VAR_LEN, VAR_REG(dst), below);
		oct_set_interval(o, VAR_REST(dst), INT64_MIN, below);
	}
}

/* dst := dst - src, both variable: the octagon knows y - z directly, which bounds x. */
static void rv_sub_vars(struct vstate *st, unsigned dst, unsigned src)
{
	struct octagon *o = OCT(st);
	int64_t ylo, yhi, zlo, zhi, lo, hi, d, ylen_hi, ylen_lo, rlo, rhi;

	oct_bounds(o, VAR_REG(dst), &ylo, &yhi);
	oct_bounds(o, VAR_REG(src), &zlo, &zhi);
	lo = ylo == INT64_MIN || zhi == OCT_INF ? INT64_MIN : ylo - zhi;
	hi = yhi == OCT_INF || zlo == INT64_MIN ? OCT_INF : yhi - zlo;
	d = oct_diff_max(o, VAR_REG(src), VAR_REG(dst));	/* z - y <= d: x >= -d */
	if (d != OCT_INF && -d > lo)
		lo = -d;
	d = oct_diff_max(o, VAR_REG(dst), VAR_REG(src));
	if (d != OCT_INF && d < hi)
		hi = d;
	/* x - rest(z) = y - len and rest(x) - z = rest(y): y's distance to len carries over */
	ylen_hi = oct_diff_max(o, VAR_REG(dst), VAR_LEN);
	ylen_lo = oct_diff_max(o, VAR_LEN, VAR_REG(dst));
	oct_bounds(o, VAR_REST(dst), &rlo, &rhi);
	rv_forget(st, dst);
	oct_set_diff(o, VAR_REG(dst), VAR_REST(src), ylen_hi);
	oct_set_diff(o, VAR_REST(src), VAR_REG(dst), ylen_lo);
	if (rhi != OCT_INF)
		oct_set_diff(o, VAR_REST(dst), VAR_REG(src), rhi);
	if (rlo != INT64_MIN)
		oct_set_diff(o, VAR_REG(src), VAR_REST(dst), -rlo);
	oct_set_interval(o, VAR_REG(dst), lo, hi);
	if (fits(zlo, zhi) && fits(ylo, yhi)) {
		oct_set_diff(o, VAR_REG(dst), VAR_REG(src), yhi - 2 * zlo);	/* x - z = y - 2z */
		oct_set_sum(o, VAR_REG(dst), VAR_REG(src), yhi);		/* x + z = y */
	}
	{
		int64_t xlo, xhi;

		oct_bounds(o, VAR_REG(dst), &xlo, &xhi);
		if (xlo > -OCT_LIMIT)
			oct_set_diff(o, VAR_REST(dst), VAR_LEN, -xlo);
		if (xhi < OCT_LIMIT)
			oct_set_diff(o, VAR_LEN, VAR_REST(dst), xhi);
	}
}

/* ---- registers --------------------------------------------------------------------------- */

static void reg_bounds(struct vstate *st, unsigned r, int64_t *lo, int64_t *hi)
{
	oct_bounds(OCT(st), VAR_REG(r), lo, hi);
}

static bool reg_const(struct vstate *st, unsigned r, int64_t *c)
{
	int64_t lo, hi;

	if (st->reg[r].type != V_SCALAR)
		return false;
	reg_bounds(st, r, &lo, &hi);
	if (lo == hi) {
		*c = lo;
		return true;
	}
	if (tnum_is_const(st->reg[r].tn)) {
		*c = (int64_t)st->reg[r].tn.value;
		return true;
	}
	return false;
}

static bool is_pointer(enum vtype t)
{
	return t == V_PTR_INPUT || t == V_PTR_STACK || t == V_PTR_MAP || t == V_PTR_MAP_OR_NULL ||
	       t == V_MAP_REF;
}

static void set_uninit(struct vstate *st, unsigned r)
{
	st->reg[r] = (struct vreg){ .type = V_UNINIT };
	rv_forget(st, r);
}

/*
 * Make r a scalar in [lo, hi] with known bits tn, each narrowing the other where it can
 * (tn's unsigned range is a signed range too when its top bit is known to be 0).
 */
static void set_scalar(struct vstate *st, unsigned r, int64_t lo, int64_t hi, struct tnum tn)
{
	if (tnum_umax(tn) <= (uint64_t)INT64_MAX) {
		if ((int64_t)tnum_umin(tn) > lo)
			lo = (int64_t)tnum_umin(tn);
		if ((int64_t)tnum_umax(tn) < hi)
			hi = (int64_t)tnum_umax(tn);
	}
	if (lo >= 0 && hi != OCT_INF) {
		bool empty;
		struct tnum t = tnum_intersect(tn, tnum_range((uint64_t)lo, (uint64_t)hi), &empty);

		if (!empty)
			tn = t;
	}
	st->reg[r] = (struct vreg){ .type = V_SCALAR, .tn = tn };
	rv_interval(st, r, lo, hi);
}

/* Narrow r's bounds by its known bits without losing its relations. */
static void tighten(struct vstate *st, unsigned r)
{
	struct tnum tn = st->reg[r].tn;
	int64_t lo, hi;

	if (tnum_umax(tn) > (uint64_t)INT64_MAX)
		return;
	reg_bounds(st, r, &lo, &hi);
	if ((int64_t)tnum_umin(tn) > lo)
		rv_guard_lower(st, r, (int64_t)tnum_umin(tn));
	if ((int64_t)tnum_umax(tn) < hi)
		rv_guard_upper(st, r, (int64_t)tnum_umax(tn));
}

static void set_unknown(struct vstate *st, unsigned r)
{
	set_scalar(st, r, INT64_MIN, OCT_INF, tnum_unknown());
}

/* A scalar of `bytes` bytes, zero-extended (or sign-extended when `sx`). */
static void set_unknown_width(struct vstate *st, unsigned r, unsigned bytes, bool sx)
{
	if (bytes >= 8)
		set_unknown(st, r);
	else if (sx)
		set_scalar(st, r, -(INT64_C(1) << (bytes * 8 - 1)), (INT64_C(1) << (bytes * 8 - 1)) - 1,
			   tnum_unknown());
	else
		set_scalar(st, r, 0, (INT64_C(1) << (bytes * 8)) - 1, tnum_cast(tnum_unknown(), bytes));
}

static void set_const(struct vstate *st, unsigned r, uint64_t value)
{
	int64_t s = (int64_t)value;

	if (s > -OCT_LIMIT && s < OCT_LIMIT)
		set_scalar(st, r, s, s, tnum_const(value));
	else
		set_scalar(st, r, INT64_MIN, OCT_INF, tnum_const(value));
}

static int use_reg(struct verifier *v, struct vstate *st, unsigned pc, unsigned r)
{
	if (st->reg[r].type == V_UNINIT)
		return refuse(v, pc, "r%u is read before it is written", r);
	if (st->reg[r].type == V_CONFLICT)
		return refuse(v, pc, "r%u is %s", r, vtype_names[V_CONFLICT]);
	return 0;
}

static int use_scalar(struct verifier *v, struct vstate *st, unsigned pc, unsigned r,
		      const char *what)
{
	int err = use_reg(v, st, pc, r);

	if (!err && st->reg[r].type != V_SCALAR)
		return refuse(v, pc, "%s: r%u is %s, not a scalar", what, r,
			      vtype_names[st->reg[r].type]);
	return err;
}

/* ---- memory ------------------------------------------------------------------------------ */

static bool byte_init(const struct vframe *f, int byte)
{
	return f->init[byte / 64] >> (byte % 64) & 1;
}

static void mark_init(struct vframe *f, int byte)
{
	f->init[byte / 64] |= UINT64_C(1) << (byte % 64);
}

static bool byte_maybe(const struct vframe *f, int byte)
{
	return f->maybe[byte / 64] >> (byte % 64) & 1;
}

static void mark_maybe(struct vframe *f, int byte)
{
	f->maybe[byte / 64] |= UINT64_C(1) << (byte % 64);
}

static bool byte_ptr(const struct vframe *f, int byte)
{
	return f->ptr[byte / 64] >> (byte % 64) & 1;
}

static void mark_ptr(struct vframe *f, int byte, bool is_ptr)
{
	if (is_ptr)
		f->ptr[byte / 64] |= UINT64_C(1) << (byte % 64);
	else
		f->ptr[byte / 64] &= ~(UINT64_C(1) << (byte % 64));
}

/* Stack bytes are indexed 0..511 from the frame's bottom; offsets from fp are -512..-1. */
static int stack_index(int64_t off) { return (int)(off + CSD_EBPF_STACK_SIZE); }

struct access {
	unsigned pc;
	unsigned ptr;		/* the register holding the pointer */
	int16_t off;
	unsigned size;
	bool write;
	const char *verb;	/* "read", "write", ... */
	bool by_helper;		/* a helper's argument: the helper checks it at run time too */
};

/* The pointer's offset + off as [lo, hi], and lo..hi+size must lie in [min, max_end]. */
static int check_range(struct verifier *v, struct vstate *st, const struct access *a,
		       const char *region, int64_t min, int64_t max_end)
{
	int64_t lo, hi;
	char b1[24], b2[24];

	reg_bounds(st, a->ptr, &lo, &hi);
	if (lo != INT64_MIN)
		lo += a->off;
	if (hi != OCT_INF)
		hi += a->off;
	if (lo == INT64_MIN || lo < min || hi == OCT_INF || hi + (int64_t)a->size > max_end)
		return refuse(v, a->pc, "%u-byte %s at r%u%+d: r%u%+d is %s+[%s, %s], the %s is "
			      "[%lld, %lld): a compare or mask keeping r%u%+d in [%lld, %lld] would prove it",
			      a->size, a->verb, a->ptr, a->off, a->ptr, a->off, region,
			      fmt_bound(b1, sizeof(b1), lo), fmt_bound(b2, sizeof(b2), hi), region,
			      (long long)min, (long long)max_end, a->ptr, a->off, (long long)min,
			      (long long)(max_end - (int64_t)a->size));
	return 0;
}

static int check_input_access(struct verifier *v, struct vstate *st, const struct access *a)
{
	struct octagon *o = OCT(st);
	int64_t lo, hi, above;
	char b1[24], b2[24], b3[24];

	reg_bounds(st, a->ptr, &lo, &hi);
	/* offset + off + size <= len, i.e. offset - len <= -(off + size) */
	above = oct_diff_max(o, VAR_REG(a->ptr), VAR_LEN);
	{
		/* rest = len - offset >= r means offset - len <= -r */
		int64_t rlo, rhi;

		oct_bounds(o, VAR_REST(a->ptr), &rlo, &rhi);
		if (rlo != INT64_MIN && -rlo < above)
			above = -rlo;
	}
	if (lo == INT64_MIN || lo + a->off < 0 || above == OCT_INF ||
	    above + a->off + (int64_t)a->size > 0) {
		long long reach = (long long)a->off + a->size;	/* bytes from the index on */
		char hint[160];

		if (lo != INT64_MIN)
			lo += a->off;
		if (hi != OCT_INF)
			hi += a->off;
		if (above != OCT_INF)
			above += a->off;
		/* what would make it provable, short: the drive's reason log keeps 255 bytes */
		if (lo == INT64_MIN || lo < 0)
			snprintf(hint, sizeof(hint), "an unsigned compare with len (i < len)");
		else if (lo == hi)
			snprintf(hint, sizeof(hint), "`if (len < %lld) return`",
				 (long long)(lo + (int64_t)a->size));
		else
			snprintf(hint, sizeof(hint), "`if (len - i < %lld) return` (i: r%u's index)",
				 reach, a->ptr);
		return refuse(v, a->pc, "%u-byte %s at r%u%+d: r%u%+d is input+[%s, %s] (at most "
			      "len%s%s), but the input is [0, len): not proven inside it; %s before "
			      "it would prove it", a->size, a->verb, a->ptr, a->off, a->ptr, a->off,
			      fmt_bound(b1, sizeof(b1), lo), fmt_bound(b2, sizeof(b2), hi),
			      above != OCT_INF && above >= 0 ? "+" : "",
			      above == OCT_INF ? "+inf" : fmt_bound(b3, sizeof(b3), above), hint);
	}
	if (a->write)
		v->writes_input = true;
	return 0;
}

/* Every byte a read may touch was written (checked over the whole possible range). */
static int check_stack_init(struct verifier *v, struct vstate *st, const struct access *a,
			    int64_t lo, int64_t hi)
{
	unsigned frame = st->reg[a->ptr].frame;
	struct vframe *f = &st->frame[frame];

	for (int64_t b = lo; b < hi + (int64_t)a->size; b++)
		if (!byte_init(f, stack_index(b)) && !(frame == 0 && byte_maybe(f, stack_index(b))))
			return refuse(v, a->pc, "%u-byte %s at r%u%+d reads stack byte fp%lld, "
				      "which is never written on this path", a->size, a->verb,
				      a->ptr, a->off, (long long)b);
	return 0;
}

/* No byte a read may touch holds part of a saved pointer (unless `whole`: an exact fill). */
static int check_stack_no_ptr(struct verifier *v, struct vstate *st, const struct access *a,
			      int64_t lo, int64_t hi, bool whole)
{
	const struct vframe *f = &st->frame[st->reg[a->ptr].frame];

	if (whole)
		return 0;
	for (int64_t b = lo; b < hi + (int64_t)a->size; b++)
		if (byte_ptr(f, stack_index(b)))
			return refuse(v, a->pc, "%u-byte %s at r%u%+d takes part of a pointer "
				      "saved at fp%lld: a saved pointer is read back only whole, "
				      "by an 8-byte load of its slot", a->size, a->verb, a->ptr,
				      a->off, (long long)(b & ~INT64_C(7)));
	return 0;
}

/* The region an access at pc reaches, the same on every path or EBPF_GUARD_ANY. */
static void note_guard(struct verifier *v, unsigned pc, const struct vreg *p)
{
	uint8_t g = p->type == V_PTR_INPUT ? EBPF_GUARD_INPUT :
		    p->type == V_PTR_STACK ? EBPF_GUARD_STACK :
		    p->type == V_PTR_MAP && p->map < EBPF_GUARD_MAX_MAPS ?
		    (uint8_t)(EBPF_GUARD_MAP + p->map) : EBPF_GUARD_ANY;

	if (v->guard[pc] == 0xff)
		v->guard[pc] = g;
	else if (v->guard[pc] != g)
		v->guard[pc] = EBPF_GUARD_ANY;
}

/* ---- stride and division facts (struct vlin) --------------------------------------------- */

#define LIN_LIMIT	(INT64_C(1) << 40)	/* every number of a fact stays below this */

static bool lin_fits(int64_t x) { return x > -LIN_LIMIT && x < LIN_LIMIT; }

/* *out = a * b, when that is below LIN_LIMIT (and so did not wrap) */
static bool lin_mul(int64_t a, int64_t b, int64_t *out)
{
	return !__builtin_mul_overflow(a, b, out) && lin_fits(*out);
}

/* n = len / div, for each register n with such a fact: div * n <= len <= div * n + div - 1. */
static void lin_len_from_divs(struct vstate *st)
{
	struct octagon *o = OCT(st);

	for (unsigned n = 0; n < EBPF_NREGS && !o->empty; n++) {
		int64_t d = (int64_t)st->lin[n].div, nlo, nhi;

		if (!d || st->reg[n].type != V_SCALAR)
			continue;
		reg_bounds(st, n, &nlo, &nhi);
		if (nlo > 0 && nlo < LIN_LIMIT / d)
			oct_add_lower(o, VAR_LEN, d * nlo);
		if (nhi >= 0 && nhi < LIN_LIMIT / d)
			oct_add_upper(o, VAR_LEN, d * nhi + d - 1);
	}
}

/*
 * Narrow register r's value (a pointer's offset) by its stride fact: base + stride * counter
 * for the counter's bounds; and for a pointer into the input walking by `stride` beside a
 * count n = len / div (div >= stride) with counter - n <= d: offset - len <= hi + stride * d,
 * as stride * counter - len <= stride * counter - div * n <= stride * (counter - n).
 */
static void lin_reduce(struct vstate *st, unsigned r)
{
	const struct vlin *f = &st->lin[r];
	struct octagon *o = OCT(st);
	int64_t s = f->stride, llo, lhi;
	unsigned q;

	if (!f->loop1 || o->empty)
		return;
	q = f->loop1 - 1u;
	oct_bounds(o, VAR_LOOP(q), &llo, &lhi);
	if (llo >= 0 && lhi != OCT_INF && lhi < LIN_LIMIT / (s < 0 ? -s : s)) {
		oct_add_upper(o, VAR_REG(r), f->hi + s * (s > 0 ? lhi : llo));
		oct_add_lower(o, VAR_REG(r), f->lo + s * (s > 0 ? llo : lhi));
	}
	if (st->reg[r].type != V_PTR_INPUT || s <= 0)
		return;
	for (unsigned n = 0; n < EBPF_NREGS && !o->empty; n++) {
		int64_t d;

		if (st->reg[n].type != V_SCALAR || !st->lin[n].div || st->lin[n].div < (uint64_t)s)
			continue;
		d = oct_diff_max(o, VAR_LOOP(q), VAR_REG(n));
		if (d != OCT_INF && lin_mul(s, d, &d)) {
			oct_add_diff(o, VAR_REG(r), VAR_LEN, f->hi + d);
			oct_add_lower(o, VAR_REST(r), -(f->hi + d));
		}
	}
}

/* A register's value as one number with its loop's counter as one number, if both are. */
static bool lin_point(struct vstate *st, unsigned r, unsigned q, int64_t *x, int64_t *l)
{
	int64_t lo, hi, llo, lhi;

	if (st->reg[r].type == V_UNINIT || st->reg[r].type == V_CONFLICT)
		return false;
	reg_bounds(st, r, &lo, &hi);
	oct_bounds(OCT(st), VAR_LOOP(q), &llo, &lhi);
	*x = lo;
	*l = llo;
	return lo == hi && llo == lhi && lin_fits(lo) && lin_fits(llo);
}

/*
 * The facts of r after a join of `in` into `old` (at the head of loop head_q, or -1). Two
 * points (value, counter) on the two sides make a stride: x = x_a + (x_b - x_a) / (l_b - l_a)
 * * (counter - l_a), which holds on both. Under widening a base that grew is given up.
 */
static bool lin_join(struct vstate *old, struct vstate *in, unsigned r, int head_q, bool widen)
{
	struct vlin *a = &old->lin[r], res = { 0 };
	const struct vlin *b = &in->lin[r];
	int q = a->loop1 ? a->loop1 - 1 : b->loop1 ? b->loop1 - 1 : head_q;
	bool changed;

	if (a->div == b->div)
		res.div = a->div;
	if (q >= 0 && (!a->loop1 || a->loop1 == q + 1) && (!b->loop1 || b->loop1 == q + 1) &&
	    old->reg[r].type == in->reg[r].type) {
		int64_t xa = 0, la = 0, xb = 0, lb = 0, st, sa = 0, sb = 0;
		bool pa = !a->loop1 && lin_point(old, r, (unsigned)q, &xa, &la);
		bool pb = !b->loop1 && lin_point(in, r, (unsigned)q, &xb, &lb);

		st = a->loop1 ? a->stride : b->loop1 ? b->stride : 0;
		if (pa && pb && la != lb && (xb - xa) % (lb - la) == 0)
			st = (xb - xa) / (lb - la);
		if (st && (a->loop1 || pa) && (b->loop1 || pb) &&
		    (!a->loop1 || !b->loop1 || a->stride == b->stride) && lin_fits(st) &&
		    lin_mul(st, la, &sa) && lin_mul(st, lb, &sb)) {
			int64_t alo = a->loop1 ? a->lo : xa - sa, ahi = a->loop1 ? a->hi : alo;
			int64_t blo = b->loop1 ? b->lo : xb - sb, bhi = b->loop1 ? b->hi : blo;

			res.loop1 = (uint8_t)(q + 1);
			res.stride = st;
			res.lo = alo < blo ? alo : blo;
			res.hi = ahi > bhi ? ahi : bhi;
			if (widen && a->loop1 && (res.lo != a->lo || res.hi != a->hi))
				res.loop1 = 0, res.stride = res.lo = res.hi = 0;
		}
	}
	if (!res.loop1)
		res.stride = res.lo = res.hi = 0;
	changed = memcmp(a, &res, sizeof(res)) != 0;
	*a = res;
	return changed;
}

/* The counter of loop q went up by one (a retreating edge) or restarted at 0 (entering it). */
static void lin_counter_moved(struct vstate *st, unsigned q, bool restarted)
{
	for (unsigned r = 0; r < EBPF_NREGS; r++) {
		struct vlin *f = &st->lin[r];

		if (f->loop1 != q + 1)
			continue;
		if (restarted || !lin_fits(f->lo - f->stride) || !lin_fits(f->hi - f->stride)) {
			f->loop1 = 0;
			f->stride = f->lo = f->hi = 0;
		} else {
			f->lo -= f->stride;
			f->hi -= f->stride;
		}
	}
}

/* What a register's facts become through a 64-bit ALU instruction (before it: pre). */
struct lin_pre {
	struct vlin dst, src;		/* the operands' facts */
	uint8_t dst_type, src_type;
	int64_t dlo, dhi, slo, shi;	/* the operands' bounds */
	bool dst_is_len;
};

static void lin_before(struct vstate *st, const struct csd_ebpf_insn *insn, struct lin_pre *pre)
{
	unsigned op = BPF_OP(insn->code);

	if (BPF_CLASS(insn->code) != BPF_ALU64)
		return;
	/* the operations whose facts need the operands' bounds (lin_after: no wrap) */
	if (op == BPF_ADD || op == BPF_SUB || op == BPF_MUL || op == BPF_LSH) {
		lin_reduce(st, insn->dst_reg);
		if (BPF_SRC(insn->code) == BPF_X)
			lin_reduce(st, insn->src_reg);
	}
	pre->dst = st->lin[insn->dst_reg];
	pre->src = st->lin[insn->src_reg];
	pre->dst_type = st->reg[insn->dst_reg].type;
	pre->src_type = st->reg[insn->src_reg].type;
	reg_bounds(st, insn->dst_reg, &pre->dlo, &pre->dhi);
	reg_bounds(st, insn->src_reg, &pre->slo, &pre->shi);
	pre->dst_is_len = (op == BPF_RSH || op == BPF_DIV) &&
			  oct_diff_max(OCT(st), VAR_REG(insn->dst_reg), VAR_LEN) == 0 &&
			  oct_diff_max(OCT(st), VAR_LEN, VAR_REG(insn->dst_reg)) == 0;
}

/* dst := dst + sign * src, on facts: a stride survives adding a bounded value to its base. */
static struct vlin lin_add(struct vlin a, int64_t alo, int64_t ahi, struct vlin b, int64_t blo,
			   int64_t bhi, int sign)
{
	struct vlin none = { 0 };

	if (sign < 0) {
		int64_t t = b.lo;

		b.lo = -b.hi, b.hi = -t, b.stride = -b.stride;
		t = blo, blo = -bhi, bhi = -t;
	}
	if (a.loop1 && b.loop1 && a.loop1 == b.loop1) {
		a.stride += b.stride;
		a.lo += b.lo;
		a.hi += b.hi;
	} else if (a.loop1 && (!b.loop1 || (a.stride < 0 ? -a.stride : a.stride) >=
					     (b.stride < 0 ? -b.stride : b.stride))) {
		if (blo == INT64_MIN || bhi == OCT_INF)
			return none;
		a.lo += blo;
		a.hi += bhi;
	} else if (b.loop1) {
		if (alo == INT64_MIN || ahi == OCT_INF)
			return none;
		b.lo += alo;
		b.hi += ahi;
		a = b;
	} else {
		return none;
	}
	a.div = 0;
	if (!a.stride || !lin_fits(a.lo) || !lin_fits(a.hi) || !lin_fits(a.stride))
		return none;
	return a;
}

static void lin_after(struct vstate *st, const struct csd_ebpf_insn *insn,
		      const struct lin_pre *pre, uint32_t written)
{
	unsigned op = BPF_OP(insn->code), dst = insn->dst_reg;
	bool x = BPF_SRC(insn->code) == BPF_X;
	struct vlin f = { 0 }, d;
	int64_t k = insn->imm;

	if (BPF_CLASS(insn->code) == BPF_ALU64 && !insn->off) {
		d = pre->dst;
		bool operands_fit = fits(pre->dlo, pre->dhi) && (!x || fits(pre->slo, pre->shi));

		switch (op) {
		case BPF_MOV:
			if (x)
				f = pre->src;
			break;
		case BPF_ADD:
		case BPF_SUB:
			/*
			 * A pointer's offset moves by a scalar (p += n, or n += p, which makes n the
			 * pointer): integer addition either way. Pointer - pointer and the like not.
			 */
			if (!operands_fit)
				break;
			if (!(st->reg[dst].type == pre->dst_type &&
			      (!x || pre->src_type == V_SCALAR)) &&
			    !(op == BPF_ADD && x && pre->dst_type == V_SCALAR &&
			      is_pointer(pre->src_type) && st->reg[dst].type == pre->src_type))
				break;
			if (x)
				f = lin_add(d, pre->dlo, pre->dhi, pre->src, pre->slo, pre->shi,
					    op == BPF_ADD ? 1 : -1);
			else
				f = lin_add(d, pre->dlo, pre->dhi, (struct vlin){ 0 }, k, k,
					    op == BPF_ADD ? 1 : -1);
			break;
		case BPF_MUL:
		case BPF_LSH:
			if (x || pre->dst_type != V_SCALAR || !d.loop1 || !operands_fit)
				break;
			if (op == BPF_LSH && (k < 0 || k > 20))
				break;
			if (op == BPF_LSH)
				k = INT64_C(1) << k;
			/* the value and the fact's numbers times k stay below LIN_LIMIT: no wrap */
			if (k <= 0 || k > (1 << 20) || !lin_fits(pre->dlo) || !lin_fits(pre->dhi) ||
			    !lin_fits(pre->dlo * k) || !lin_fits(pre->dhi * k))
				break;
			f = d;
			f.div = 0;
			f.stride *= k, f.lo *= k, f.hi *= k;
			if (!lin_fits(f.stride) || !lin_fits(f.lo) || !lin_fits(f.hi))
				f = (struct vlin){ 0 };
			break;
		case BPF_RSH:
		case BPF_DIV:
			if (x || pre->dst_type != V_SCALAR || (op == BPF_RSH && (k <= 0 || k > 40)) ||
			    (op == BPF_DIV && k <= 0))
				break;
			if (op == BPF_RSH)
				k = INT64_C(1) << k;
			if (pre->dst_is_len)
				f.div = (uint64_t)k;
			else if (d.div && d.div < (uint64_t)LIN_LIMIT / (uint64_t)k)
				f.div = d.div * (uint64_t)k;	/* floor(floor(l / a) / b) = floor(l / ab) */
			break;
		}
	}
	for (unsigned r = 0; r < EBPF_NREGS; r++)
		if (written >> r & 1)
			st->lin[r] = (struct vlin){ 0 };
	if (written >> dst & 1)
		st->lin[dst] = f;
}

static int check_ptr_access(struct verifier *v, struct vstate *st, const struct access *a)
{
	const struct vreg *p = &st->reg[a->ptr];
	int err = use_reg(v, st, a->pc, a->ptr);

	if (err)
		return err;
	lin_len_from_divs(st);
	lin_reduce(st, a->ptr);
	if (!a->by_helper)
		note_guard(v, a->pc, p);
	switch (p->type) {
	case V_PTR_INPUT:
		return check_input_access(v, st, a);
	case V_PTR_STACK:
		return check_range(v, st, a, "stack frame (fp-relative)", -CSD_EBPF_STACK_SIZE, 0);
	case V_PTR_MAP: {
		const struct ebpf_map *m = &v->maps[p->map];

		if (a->write && m->readonly)
			return refuse(v, a->pc, "%u-byte %s into %s, which is read-only", a->size,
				      a->verb, m->name);
		return check_range(v, st, a, m->name, 0, m->value_size);
	}
	case V_PTR_MAP_OR_NULL:
		return refuse(v, a->pc, "%u-byte %s at r%u%+d: r%u may be NULL (check the map "
			      "lookup's result first)", a->size, a->verb, a->ptr, a->off, a->ptr);
	default:
		return refuse(v, a->pc, "%u-byte %s at r%u%+d: r%u is %s, not a pointer to memory",
			      a->size, a->verb, a->ptr, a->off, a->ptr, vtype_names[p->type]);
	}
}

/*
 * Saved registers keep their relations: the 8-byte stack slots a program saves registers to
 * (stxdw [r10-off], found by a scan of the program) get octagon variables of their own, for
 * the frame being analysed. Compilers save `len` there when registers run short.
 */
static int slot_var(const struct verifier *v, const struct vstate *st, unsigned frame, int64_t at)
{
	if (frame != st->depth || (at & 7) || at < -CSD_EBPF_STACK_SIZE || at >= 0)
		return -1;
	return v->slot_var[stack_index(at) / 8];
}

/* The variable pair of the aligned 4-byte word at `at`, -1: none. */
static int word_var(const struct verifier *v, const struct vstate *st, unsigned frame, int64_t at)
{
	if (frame != st->depth || (at & 3) || at < -CSD_EBPF_STACK_SIZE || at >= 0)
		return -1;
	return v->word_var[stack_index(at) / 4];
}

#define VAR_SVAL(v, k)	(1u + 2 * EBPF_NREGS + (v)->nloops + 2 * (unsigned)(k))
#define VAR_SREST(v, k)	(VAR_SVAL(v, k) + 1)
/* A function's arguments as they were at its entry (r1-r5, k = 1..5), when it has callers. */
#define VAR_ARG(v, k)	(VAR_SVAL(v, (v)->nslot_vars) + (unsigned)(k) - 1u)

static void slot_forget(const struct verifier *v, struct vstate *st, int k)
{
	if (k < 0)
		return;
	oct_forget(OCT(st), VAR_SVAL(v, k));
	oct_forget(OCT(st), VAR_SREST(v, k));
}

static void slots_forget_all(const struct verifier *v, struct vstate *st)
{
	for (unsigned k = 0; k < v->nslot_vars; k++)
		slot_forget(v, st, (int)k);
}

/* After a store to the stack at a range of offsets: saved registers there are gone. */
static void stack_clobber(const struct verifier *v, struct vstate *st, unsigned frame,
			  int64_t lo, int64_t end)
{
	for (int64_t b = lo; b < end; b++) {
		st->frame[frame].slot[stack_index(b) / 8].spilled = false;
		slot_forget(v, st, slot_var(v, st, frame, b & ~INT64_C(7)));
		slot_forget(v, st, word_var(v, st, frame, b & ~INT64_C(3)));
	}
}

/* The value of register `src` (or the constant) goes to the stack at const offset `at`. */
static void stack_store(const struct verifier *v, struct vstate *st, unsigned frame, int64_t at,
			unsigned size, int src, int64_t imm)
{
	struct vframe *f = &st->frame[frame];

	stack_clobber(v, st, frame, at, at + size);
	for (unsigned i = 0; i < size; i++) {
		mark_init(f, stack_index(at + i));
		mark_maybe(f, stack_index(at + i));
		mark_ptr(f, stack_index(at + i), src >= 0 && is_pointer(st->reg[src].type));
	}
	if (size == 8 && (at & 7) == 0) {
		struct vslot *s = &f->slot[stack_index(at) / 8];
		int k = slot_var(v, st, frame, at);
		struct octagon *o = OCT(st);

		s->spilled = true;
		if (src >= 0) {
			s->reg = st->reg[src];
			reg_bounds(st, (unsigned)src, &s->lo, &s->hi);
		} else {
			s->reg = (struct vreg){ .type = V_SCALAR, .tn = tnum_const((uint64_t)imm) };
			s->lo = s->hi = imm;
		}
		if (k >= 0 && src >= 0) {
			oct_set_diff(o, VAR_SVAL(v, k), VAR_REG(src), 0);
			oct_set_diff(o, VAR_REG(src), VAR_SVAL(v, k), 0);
			oct_set_diff(o, VAR_SREST(v, k), VAR_REST(src), 0);
			oct_set_diff(o, VAR_REST(src), VAR_SREST(v, k), 0);
		} else if (k >= 0) {
			oct_set_interval(o, VAR_SVAL(v, k), imm, imm);
			oct_set_diff(o, VAR_SREST(v, k), VAR_LEN, -imm);
			oct_set_diff(o, VAR_LEN, VAR_SREST(v, k), imm);
		}
	}
	if (size == 4 && (at & 3) == 0) {
		/* a 32-bit counter kept in memory (its address taken): its value, if it fits */
		int k = word_var(v, st, frame, at);
		int64_t lo, hi;

		if (k < 0)
			return;
		if (src < 0) {
			oct_assign_interval(OCT(st), VAR_SVAL(v, k), (uint32_t)imm, (uint32_t)imm);
			return;
		}
		reg_bounds(st, (unsigned)src, &lo, &hi);
		if (st->reg[src].type == V_SCALAR && lo >= 0 && hi <= UINT32_MAX)
			oct_assign_var(OCT(st), VAR_SVAL(v, k), VAR_REG(src), 0);
	}
}

static int do_store(struct verifier *v, struct vstate *st, const struct access *a, int src,
		    int64_t imm)
{
	const struct vreg *p = &st->reg[a->ptr];
	int err;

	if (src >= 0) {
		err = use_reg(v, st, a->pc, (unsigned)src);
		if (err)
			return err;
		if (is_pointer(st->reg[src].type) && p->type != V_PTR_STACK)
			return refuse(v, a->pc, "stores r%u, %s, into memory the host can read: "
				      "that would leak a drive address", (unsigned)src,
				      vtype_names[st->reg[src].type]);
		if (is_pointer(st->reg[src].type) && a->size != 8)
			return refuse(v, a->pc, "saves only %u bytes of r%u, %s: pointers are "
				      "saved whole", a->size, (unsigned)src,
				      vtype_names[st->reg[src].type]);
	}
	err = check_ptr_access(v, st, a);
	if (err || p->type != V_PTR_STACK)
		return err;
	{
		int64_t lo, hi;

		reg_bounds(st, a->ptr, &lo, &hi);
		lo += a->off;
		hi += a->off;
		if (src >= 0 && is_pointer(st->reg[src].type) && (lo != hi || (lo & 7)))
			return refuse(v, a->pc, "saves r%u, %s, at a stack offset that is not a "
				      "fixed multiple of 8", (unsigned)src,
				      vtype_names[st->reg[src].type]);
		if (lo == hi) {
			stack_store(v, st, p->frame, lo, a->size, src, imm);
		} else {
			/* a store somewhere in [lo, hi]: no byte is known written, each may be */
			stack_clobber(v, st, p->frame, lo, hi + a->size);
			for (int64_t b = lo; b < hi + (int64_t)a->size; b++)
				mark_maybe(&st->frame[p->frame], stack_index(b));
		}
	}
	return 0;
}

static int do_load(struct verifier *v, struct vstate *st, const struct access *a, unsigned dst,
		   bool sx)
{
	const struct vreg p = st->reg[a->ptr];
	int64_t lo, hi;
	int err = check_ptr_access(v, st, a);

	if (err)
		return err;
	if (p.type != V_PTR_STACK) {
		set_unknown_width(st, dst, a->size, sx);
		return 0;
	}
	reg_bounds(st, a->ptr, &lo, &hi);
	lo += a->off;
	hi += a->off;
	err = check_stack_init(v, st, a, lo, hi);
	if (!err) {
		const struct vslot *s = &st->frame[p.frame].slot[stack_index(lo) / 8];
		bool whole = lo == hi && a->size == 8 && !(lo & 7) && s->spilled &&
			     is_pointer(s->reg.type);

		err = check_stack_no_ptr(v, st, a, lo, hi, whole);
	}
	if (err)
		return err;
	if (lo == hi && a->size == 8 && !(lo & 7)) {
		const struct vslot *s = &st->frame[p.frame].slot[stack_index(lo) / 8];

		if (s->spilled) {
			int k = slot_var(v, st, p.frame, lo);

			st->reg[dst] = s->reg;
			st->reg[dst].sum_y1 = st->reg[dst].sum_z1 = 0;
			rv_interval(st, dst, s->lo, s->hi);
			if (k >= 0) {
				struct octagon *o = OCT(st);

				oct_set_diff(o, VAR_SVAL(v, k), VAR_REG(dst), 0);
				oct_set_diff(o, VAR_REG(dst), VAR_SVAL(v, k), 0);
				oct_set_diff(o, VAR_SREST(v, k), VAR_REST(dst), 0);
				oct_set_diff(o, VAR_REST(dst), VAR_SREST(v, k), 0);
			}
			return 0;
		}
	}
	if (lo == hi && a->size == 4 && !(lo & 3) && !sx) {
		int k = word_var(v, st, p.frame, lo);
		int64_t wlo, whi;

		if (k >= 0) {
			oct_bounds(OCT(st), VAR_SVAL(v, k), &wlo, &whi);
			if (wlo >= 0 && whi <= UINT32_MAX) {
				set_unknown_width(st, dst, 4, false);
				oct_assign_var(OCT(st), VAR_REG(dst), VAR_SVAL(v, k), 0);
				rv_rest_from_bounds(st, dst);
				return 0;
			}
		}
	}
	set_unknown_width(st, dst, a->size, sx);
	return 0;
}

/* A helper reads `size` bytes at register r (a key, a value, a format string). */
static int check_helper_mem(struct verifier *v, struct vstate *st, unsigned pc, unsigned r,
			    int64_t size, bool write)
{
	struct access a = { pc, r, 0, (unsigned)size, write, write ? "helper write" : "helper read",
			    true };
	int err;

	if (size <= 0)
		return 0;
	err = check_ptr_access(v, st, &a);
	if (!err && st->reg[r].type == V_PTR_STACK) {
		int64_t lo, hi;

		reg_bounds(st, r, &lo, &hi);
		err = check_stack_init(v, st, &a, lo, hi);
		if (!err)
			err = check_stack_no_ptr(v, st, &a, lo, hi, false);
	}
	return err;
}

/* ---- arithmetic -------------------------------------------------------------------------- */


/* x := x + c (or x := y + c) in the octagon only when it cannot wrap around 2^64. */
static void add_const(struct vstate *st, unsigned dst, unsigned src, int64_t c)
{
	int64_t lo, hi;

	reg_bounds(st, src, &lo, &hi);
	/* only the side c moves towards can wrap: that bound must be known */
	if (c > -OCT_LIMIT && c < OCT_LIMIT &&
	    (c == 0 || (c > 0 && hi < OCT_LIMIT) || (c < 0 && lo > -OCT_LIMIT)))
		rv_copy_plus(st, dst, src, c);
	else
		rv_forget(st, dst);
}

/* dst := dst + sign * (src or imm): shared by scalars and pointer offsets. */
static void add_values(struct vstate *st, unsigned dst, int src, int64_t imm, int sign)
{
	int64_t dlo, dhi, slo = imm, shi = imm;

	if (src >= 0 && (unsigned)src == dst) {
		/* x + x and x - x: the relational transfers below take two distinct registers */
		reg_bounds(st, dst, &dlo, &dhi);
		if (sign < 0)
			rv_interval(st, dst, 0, 0);
		else if (fits(dlo, dhi))
			rv_interval(st, dst, 2 * dlo, 2 * dhi);
		else
			rv_forget(st, dst);
		return;
	}
	if (src >= 0)
		reg_bounds(st, (unsigned)src, &slo, &shi);
	if (slo == shi && (sign > 0 || slo != INT64_MIN)) {
		/* adding a constant (or a pointer at a known offset) keeps every relation */
		add_const(st, dst, dst, sign > 0 ? slo : -slo);
		return;
	}
	reg_bounds(st, dst, &dlo, &dhi);
	if (!fits(slo, shi) || !fits(dlo, dhi)) {
		rv_forget(st, dst);
		return;
	}
	if (dlo == dhi) {
		if (sign > 0)
			rv_copy_plus(st, dst, (unsigned)src, dlo);
		else
			rv_neg_plus(st, dst, (unsigned)src, dlo);
		return;
	}
	if (sign > 0)
		rv_add_vars(st, dst, (unsigned)src);
	else
		rv_sub_vars(st, dst, (unsigned)src);
}

/* The result's known bits and bounds for the non-relational operations, 64-bit. */
static void alu_bits(struct vstate *st, unsigned op, unsigned dst, struct tnum b, int64_t blo,
		     int64_t bhi, bool bconst, bool is_signed)
{
	struct tnum a = st->reg[dst].tn, r = tnum_unknown();
	int64_t alo, ahi, lo = INT64_MIN, hi = OCT_INF;
	unsigned sh = (unsigned)(b.value & 63);

	reg_bounds(st, dst, &alo, &ahi);
	switch (op) {
	case BPF_MUL:
		if (tnum_is_const(a) && bconst) {
			set_const(st, dst, a.value * b.value);
			return;
		}
		if (alo >= 0 && blo >= 0 && fits(alo, ahi) && fits(blo, bhi) &&
		    (ahi == 0 || bhi <= OCT_LIMIT / ahi)) {
			lo = alo * blo;
			hi = ahi * bhi;
		}
		break;
	case BPF_DIV:
	case BPF_MOD:
		if (tnum_is_const(a) && bconst) {
			uint64_t x = a.value, y = b.value;

			if (is_signed)
				set_const(st, dst, (uint64_t)(op == BPF_DIV ?
					  (y == 0 ? 0 : (int64_t)y == -1 ? -x : (uint64_t)((int64_t)x / (int64_t)y)) :
					  (y == 0 ? x : (int64_t)y == -1 ? 0 : (uint64_t)((int64_t)x % (int64_t)y))));
			else
				set_const(st, dst, op == BPF_DIV ? (y ? x / y : 0) : (y ? x % y : x));
			return;
		}
		if (!is_signed && alo >= 0 && ahi != OCT_INF && blo != INT64_MIN) {
			lo = 0;
			hi = ahi;
			if (op == BPF_DIV && blo > 0)
				lo = bhi == OCT_INF ? 0 : alo / bhi, hi = ahi / blo;
			if (op == BPF_MOD && blo > 0 && bhi != OCT_INF && bhi - 1 < hi)
				hi = bhi - 1;
		}
		break;
	case BPF_AND:
		r = tnum_and(a, b);
		if (alo >= 0 && ahi != OCT_INF)
			lo = 0, hi = ahi;
		if (blo >= 0 && bhi != OCT_INF)
			lo = 0, hi = hi < bhi ? hi : bhi;
		break;
	case BPF_OR:
		r = tnum_or(a, b);
		break;
	case BPF_XOR:
		r = tnum_xor(a, b);
		break;
	case BPF_LSH:
		if (!bconst)
			break;
		r = tnum_lshift(a, sh);
		if (alo >= 0 && fits(alo, ahi) && sh < 60 && ahi <= (OCT_LIMIT >> sh))
			lo = alo << sh, hi = ahi << sh;
		break;
	case BPF_RSH:
		if (!bconst) {
			if (alo >= 0 && ahi != OCT_INF)
				lo = 0, hi = ahi;
			break;
		}
		r = tnum_rshift(a, sh);
		if (alo >= 0 && ahi != OCT_INF)
			lo = alo >> sh, hi = ahi >> sh;
		break;
	case BPF_ARSH:
		if (!bconst)
			break;
		r = tnum_arshift(a, sh);
		if (alo != INT64_MIN && ahi != OCT_INF)
			lo = alo >> sh, hi = ahi >> sh;
		break;
	}
	set_scalar(st, dst, lo, hi, r);
}

/* ---- the transfer function --------------------------------------------------------------- */

/*
 * Do two pointers point into the same object, so that their offsets compare and subtract like
 * their addresses? The input, one stack frame, a map of one value (global data); but two map
 * values only when they come from the same lookup (same id): two lookups of one map give two
 * elements, whose offsets from their own starts say nothing of where they lie.
 */
static bool same_object(const struct verifier *v, const struct vreg *a, const struct vreg *b)
{
	if (a->type != b->type || a->frame != b->frame || a->map != b->map ||
	    a->type == V_PTR_MAP_OR_NULL || a->type == V_MAP_REF)
		return false;
	return a->type != V_PTR_MAP || v->maps[a->map].max_entries <= 1 ||
	       (a->id && a->id == b->id);
}

static int alu_pointer(struct verifier *v, struct vstate *st, unsigned pc,
		       const struct csd_ebpf_insn *insn)
{
	unsigned op = BPF_OP(insn->code), dst = insn->dst_reg, src = insn->src_reg;
	bool x = BPF_SRC(insn->code) == BPF_X;
	struct vreg *d = &st->reg[dst], *s = x ? &st->reg[src] : NULL;

	if (BPF_CLASS(insn->code) == BPF_ALU)
		return refuse(v, pc, "32-bit arithmetic on r%u, %s, would cut the pointer",
			      is_pointer(d->type) ? dst : src,
			      vtype_names[is_pointer(d->type) ? d->type : s->type]);
	if (d->type == V_PTR_MAP_OR_NULL || (s && s->type == V_PTR_MAP_OR_NULL))
		return refuse(v, pc, "arithmetic on a map lookup result before its NULL check");
	if (d->type == V_MAP_REF || (s && s->type == V_MAP_REF))
		return refuse(v, pc, "arithmetic on a map reference");
	if (op == BPF_ADD && is_pointer(d->type) && (!s || s->type == V_SCALAR)) {
		add_values(st, dst, x ? (int)src : -1, insn->imm, 1);
		return 0;
	}
	if (op == BPF_ADD && d->type == V_SCALAR && s && is_pointer(s->type)) {
		struct vreg ptr = *s;

		add_values(st, dst, (int)src, 0, 1);
		*d = ptr;
		return 0;
	}
	if (op == BPF_SUB && is_pointer(d->type) && (!s || s->type == V_SCALAR)) {
		add_values(st, dst, x ? (int)src : -1, insn->imm, -1);
		return 0;
	}
	if (op == BPF_SUB && s && same_object(v, d, s)) {
		add_values(st, dst, (int)src, 0, -1);
		{
			int64_t lo, hi;

			reg_bounds(st, dst, &lo, &hi);
			set_scalar(st, dst, lo, hi, tnum_unknown());
		}
		return 0;
	}
	return refuse(v, pc, "this operation on %s is not allowed (only adding or subtracting "
		      "a scalar, or subtracting two pointers into the same memory)",
		      vtype_names[is_pointer(d->type) ? d->type : s->type]);
}

static int alu64(struct verifier *v, struct vstate *st, unsigned pc,
		 const struct csd_ebpf_insn *insn)
{
	unsigned op = BPF_OP(insn->code), dst = insn->dst_reg, src = insn->src_reg;
	bool x = BPF_SRC(insn->code) == BPF_X;
	int64_t blo, bhi, c;
	struct tnum b;
	int err;

	if (op == BPF_MOV) {
		if (!x) {
			set_const(st, dst, (uint64_t)(int64_t)insn->imm);
			return 0;
		}
		err = use_reg(v, st, pc, src);
		if (err)
			return err;
		if (insn->off) {	/* movsx: sign-extend the low 8/16/32 bits */
			int64_t half = INT64_C(1) << (insn->off - 1), lo, hi;

			if (st->reg[src].type != V_SCALAR)
				return refuse(v, pc, "sign-extending r%u, %s", src,
					      vtype_names[st->reg[src].type]);
			reg_bounds(st, src, &lo, &hi);
			if (lo >= -half && hi < half && hi != OCT_INF) {
				st->reg[dst] = st->reg[src];
				rv_copy_plus(st, dst, src, 0);
			} else {
				set_scalar(st, dst, -half, half - 1, tnum_unknown());
			}
			return 0;
		}
		st->reg[dst] = st->reg[src];
		if (dst != src)
			rv_copy_plus(st, dst, src, 0);
		return 0;
	}
	err = use_reg(v, st, pc, dst);
	if (!err && x && op != BPF_END)
		err = use_reg(v, st, pc, src);
	if (err)
		return err;
	if (op == BPF_END) {
		/* unconditional byte swap (0xd7) */
		if (st->reg[dst].type != V_SCALAR)
			return refuse(v, pc, "byte swap of r%u, %s", dst, vtype_names[st->reg[dst].type]);
		if (tnum_is_const(st->reg[dst].tn)) {
			uint64_t val = st->reg[dst].tn.value;

			set_const(st, dst, insn->imm == 16 ? __builtin_bswap16((uint16_t)val) :
				  insn->imm == 32 ? __builtin_bswap32((uint32_t)val) :
				  __builtin_bswap64(val));
		} else {
			set_unknown_width(st, dst, (unsigned)insn->imm / 8, false);
		}
		return 0;
	}
	if (is_pointer(st->reg[dst].type) || (x && is_pointer(st->reg[src].type)))
		return alu_pointer(v, st, pc, insn);
	if (op == BPF_ADD || op == BPF_SUB) {
		add_values(st, dst, x ? (int)src : -1, insn->imm, op == BPF_ADD ? 1 : -1);
		/* known bits follow the same arithmetic */
		b = x ? st->reg[src].tn : tnum_const((uint64_t)(int64_t)insn->imm);
		st->reg[dst].tn = op == BPF_ADD ? tnum_add(st->reg[dst].tn, b) :
				  tnum_sub(st->reg[dst].tn, b);
		tighten(st, dst);
		return 0;
	}
	if (op == BPF_NEG) {
		int64_t lo, hi;

		reg_bounds(st, dst, &lo, &hi);
		if (fits(lo, hi))
			rv_neg_plus(st, dst, dst, 0);
		else
			rv_forget(st, dst);
		st->reg[dst].tn = tnum_sub(tnum_const(0), st->reg[dst].tn);
		return 0;
	}
	if (x) {
		/* a constant known from the bounds alone is a constant too: the bits say so */
		b = reg_const(st, src, &c) ? tnum_const((uint64_t)c) : st->reg[src].tn;
		reg_bounds(st, src, &blo, &bhi);
	} else {
		b = tnum_const((uint64_t)(int64_t)insn->imm);
		blo = bhi = insn->imm;
	}
	alu_bits(st, op, dst, b, blo, bhi, tnum_is_const(b), insn->off != 0);
	return 0;
}

/*
 * 32-bit operations equal the 64-bit ones when both operands are in [0, 2^32) and so is the
 * result (and, for the signed ones, below 2^31); otherwise the result is some 32-bit value.
 */
static int alu32(struct verifier *v, struct vstate *st, unsigned pc,
		 const struct csd_ebpf_insn *insn)
{
	unsigned op = BPF_OP(insn->code), dst = insn->dst_reg, src = insn->src_reg;
	bool x = BPF_SRC(insn->code) == BPF_X;
	const int64_t u32max = UINT32_MAX;
	bool signed_op = op == BPF_ARSH || ((op == BPF_DIV || op == BPF_MOD) && insn->off) ||
			 (op == BPF_MOV && insn->off);
	int64_t limit = signed_op ? INT32_MAX : u32max;
	int64_t dlo = 0, dhi = 0, slo, shi, rlo, rhi;
	struct tnum before, src_tn;
	int err;

	if (op == BPF_END) {	/* to little-endian (a truncation here) or big-endian */
		err = use_scalar(v, st, pc, dst, "byte order conversion");
		if (err)
			return err;
		if (BPF_SRC(insn->code) == BPF_TO_LE && insn->imm == 64)
			return 0;
		if (BPF_SRC(insn->code) == BPF_TO_LE) {
			int64_t lo, hi;

			reg_bounds(st, dst, &lo, &hi);
			if (lo >= 0 && hi != OCT_INF && hi < (INT64_C(1) << insn->imm))
				return 0;
			set_scalar(st, dst, 0, (INT64_C(1) << insn->imm) - 1,
				   tnum_cast(st->reg[dst].tn, (unsigned)insn->imm / 8));
			return 0;
		}
		{
			struct csd_ebpf_insn swap = *insn;

			swap.code = BPF_OP_END_BSWAP;
			return alu64(v, st, pc, &swap);
		}
	}
	if (op != BPF_MOV) {
		err = use_reg(v, st, pc, dst);
		if (err)
			return err;
	}
	if (x) {
		err = use_reg(v, st, pc, src);
		if (err)
			return err;
	}
	if ((op != BPF_MOV && is_pointer(st->reg[dst].type)) || (x && is_pointer(st->reg[src].type)))
		return alu_pointer(v, st, pc, insn);
	if (op != BPF_MOV)
		reg_bounds(st, dst, &dlo, &dhi);
	if (x)
		reg_bounds(st, src, &slo, &shi);
	else
		slo = shi = (int64_t)(uint32_t)insn->imm;
	before = op == BPF_MOV ? tnum_const(0) : st->reg[dst].tn;
	src_tn = x ? st->reg[src].tn : tnum_const((uint32_t)insn->imm);
	if (op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH) {
		/* 32-bit shifts take the amount modulo 32, 64-bit ones modulo 64 */
		if (!x)
			slo = shi = slo & 31;
		else if (shi > 31 || shi == OCT_INF)
			goto any32;
	}
	if (dlo >= 0 && dhi <= limit && slo >= 0 && shi <= limit && dhi != OCT_INF &&
	    shi != OCT_INF) {
		struct csd_ebpf_insn wide = *insn;

		wide.code = (uint8_t)(BPF_ALU64 | BPF_OP(insn->code) | BPF_SRC(insn->code));
		if (!x)
			wide.imm = (int32_t)slo;	/* the same value, now known non-negative */
		if (!x && slo > INT32_MAX) {
			/* the immediate as an unsigned 32-bit value does not fit an imm field */
			goto any32;
		}
		err = alu64(v, st, pc, &wide);
		if (err)
			return err;
		reg_bounds(st, dst, &rlo, &rhi);
		if (st->reg[dst].type == V_SCALAR && rlo >= 0 && rhi <= u32max)
			return 0;
	}
any32:
	{
		/* the low halves through the 64-bit known-bits arithmetic, then cut */
		struct tnum a = tnum_cast(before, 4);
		struct tnum b = tnum_cast(src_tn, 4);
		struct tnum r = tnum_unknown();

		switch (op) {
		case BPF_MOV: r = insn->off ? tnum_unknown() : b; break;
		case BPF_ADD: r = tnum_add(a, b); break;
		case BPF_SUB: r = tnum_sub(a, b); break;
		case BPF_AND: r = tnum_and(a, b); break;
		case BPF_OR: r = tnum_or(a, b); break;
		case BPF_XOR: r = tnum_xor(a, b); break;
		case BPF_LSH: if (tnum_is_const(b)) r = tnum_lshift(a, b.value & 31); break;
		case BPF_RSH: if (tnum_is_const(b)) r = tnum_rshift(a, b.value & 31); break;
		}
		set_scalar(st, dst, 0, u32max, tnum_cast(r, 4));
	}
	return 0;
}

/* ---- branches ---------------------------------------------------------------------------- */

/* Is `op a b` certainly true (1), certainly false (0) or unknown (-1) for constants? */
static int eval_const(unsigned op, uint64_t a, uint64_t b)
{
	switch (op) {
	case BPF_JEQ: return a == b;
	case BPF_JNE: return a != b;
	case BPF_JGT: return a > b;
	case BPF_JGE: return a >= b;
	case BPF_JLT: return a < b;
	case BPF_JLE: return a <= b;
	case BPF_JSGT: return (int64_t)a > (int64_t)b;
	case BPF_JSGE: return (int64_t)a >= (int64_t)b;
	case BPF_JSLT: return (int64_t)a < (int64_t)b;
	case BPF_JSLE: return (int64_t)a <= (int64_t)b;
	case BPF_JSET: return (a & b) != 0;
	}
	return -1;
}

static unsigned negate(unsigned op)
{
	switch (op) {
	case BPF_JEQ: return BPF_JNE;
	case BPF_JNE: return BPF_JEQ;
	case BPF_JGT: return BPF_JLE;
	case BPF_JGE: return BPF_JLT;
	case BPF_JLT: return BPF_JGE;
	case BPF_JLE: return BPF_JGT;
	case BPF_JSGT: return BPF_JSLE;
	case BPF_JSGE: return BPF_JSLT;
	case BPF_JSLT: return BPF_JSGE;
	case BPF_JSLE: return BPF_JSGT;
	}
	return 0;
}

/*
 * After a comparison: what is now known of a sum x = y + z against len is a two-variable fact
 * about y and z (x - len <= c is y - rest(z) <= c), which the octagon can keep once x is gone.
 */
static void sums_propagate(struct vstate *st)
{
	struct octagon *o = OCT(st);

	for (unsigned x = 0; x < EBPF_NREGS && !o->empty; x++) {
		unsigned y, z;
		int64_t c, lo, hi;

		if (!st->reg[x].sum_y1)
			continue;
		y = st->reg[x].sum_y1 - 1u;
		z = st->reg[x].sum_z1 - 1u;
		c = oct_diff_max(o, VAR_REG(x), VAR_LEN);
		if (c != OCT_INF) {
			oct_set_diff(o, VAR_REG(y), VAR_REST(z), c);
			oct_set_diff(o, VAR_REG(z), VAR_REST(y), c);
		}
		oct_bounds(o, VAR_REG(x), &lo, &hi);
		if (hi != OCT_INF)
			oct_set_sum(o, VAR_REG(y), VAR_REG(z), hi);
	}
}

/*
 * Narrow st to where `a op b` holds (a, b: octagon variables; b = -1 with the constant c).
 * Unsigned comparisons narrow only when the side that must be larger is known non-negative,
 * where unsigned and signed order agree.
 */
static void refine(struct vstate *st, unsigned op, unsigned a, int b, int64_t c)
{
	struct octagon *o = OCT(st);
	int64_t alo, ahi, blo = c, bhi = c;

	reg_bounds(st, a, &alo, &ahi);
	if (b >= 0)
		reg_bounds(st, (unsigned)b, &blo, &bhi);
	else if (c <= -OCT_LIMIT || c >= OCT_LIMIT)
		return;

/* a - b <= k */
#define LE(k) do {								\
		if (b >= 0) rv_guard_diff(st, a, (unsigned)b, k);		\
		else rv_guard_upper(st, a, c + (k));				\
	} while (0)
/* b - a <= k, i.e. a >= b - k */
#define GE(k) do {								\
		if (b >= 0) rv_guard_diff(st, (unsigned)b, a, k);		\
		else rv_guard_lower(st, a, c - (k));				\
	} while (0)

	switch (op) {
	case BPF_JEQ:
		LE(0);
		GE(0);
		break;
	case BPF_JNE:
		if (b < 0 || blo == bhi) {
			int64_t k = b < 0 ? c : blo;

			if (alo == k && ahi == k)
				o->empty = true;
			else if (alo == k)
				rv_guard_lower(st, a, k + 1);
			else if (ahi == k)
				rv_guard_upper(st, a, k - 1);
		} else if (oct_diff_max(o, VAR_REG(a), VAR_REG((unsigned)b)) == 0) {
			rv_guard_diff(st, a, (unsigned)b, -1);	/* a <= b and a != b */
		} else if (oct_diff_max(o, VAR_REG((unsigned)b), VAR_REG(a)) == 0) {
			rv_guard_diff(st, (unsigned)b, a, -1);
		}
		break;
	case BPF_JSGT: GE(-1); break;
	case BPF_JSGE: GE(0); break;
	case BPF_JSLT: LE(-1); break;
	case BPF_JSLE: LE(0); break;
	case BPF_JLT:
	case BPF_JLE:
		if (blo >= 0) {
			rv_guard_lower(st, a, 0);
			LE(op == BPF_JLT ? -1 : 0);
		}
		break;
	case BPF_JGT:
	case BPF_JGE:
		if (alo >= 0) {
			if (b >= 0)
				rv_guard_lower(st, (unsigned)b, 0);
			else if (c < 0)
				o->empty = true;	/* a >=u (huge) with a < 2^63 */
			if (!o->empty)
				GE(op == BPF_JGT ? -1 : 0);
		}
		break;
	}
#undef LE
#undef GE
	sums_propagate(st);
}

/* JSET and its negation narrow the known bits of a. */
static void refine_jset(struct vstate *st, unsigned a, uint64_t mask, bool taken)
{
	struct tnum t = st->reg[a].tn;
	int64_t lo, hi;

	if (taken) {
		if (((t.value | t.mask) & mask) == 0)
			OCT(st)->empty = true;
		return;
	}
	if (t.value & mask) {
		OCT(st)->empty = true;
		return;
	}
	t.mask &= ~mask;
	reg_bounds(st, a, &lo, &hi);
	if (tnum_umax(t) <= (uint64_t)INT64_MAX && (int64_t)tnum_umax(t) < hi)
		rv_guard_upper(st, a, (int64_t)tnum_umax(t));
	st->reg[a].tn = t;
}

static bool fits32(struct vstate *st, unsigned r, int64_t limit)
{
	int64_t lo, hi;

	reg_bounds(st, r, &lo, &hi);
	return lo >= 0 && hi != OCT_INF && hi <= limit;
}

/* The known value of a register's low 32 bits, when known. */
static bool const32(struct vstate *st, unsigned r, uint32_t *c)
{
	struct tnum t = tnum_cast(st->reg[r].tn, 4);

	if (st->reg[r].type != V_SCALAR || !tnum_is_const(t))
		return false;
	*c = (uint32_t)t.value;
	return true;
}

/*
 * A lookup result's NULL check: every copy (same id) becomes a map pointer or 0. Id 0 is a
 * result whose copies were lost at a join: only the register checked learns anything.
 */
static void null_check(struct vstate *st, unsigned checked, bool is_null)
{
	uint32_t id = st->reg[checked].id;

	for (unsigned r = 0; r < EBPF_NREGS; r++)
		if (st->reg[r].type == V_PTR_MAP_OR_NULL &&
		    (r == checked || (id && st->reg[r].id == id))) {
			if (is_null)
				set_const(st, r, 0);
			else
				st->reg[r].type = V_PTR_MAP;
		}
	for (unsigned f = 0; f <= st->depth; f++)
		for (unsigned s = 0; s < SLOTS; s++) {
			struct vslot *slot = &st->frame[f].slot[s];

			if (id && slot->spilled && slot->reg.type == V_PTR_MAP_OR_NULL &&
			    slot->reg.id == id) {
				if (is_null)
					slot->reg = (struct vreg){ .type = V_SCALAR, .tn = tnum_const(0) },
					slot->lo = slot->hi = 0;
				else
					slot->reg.type = V_PTR_MAP;
			}
		}
}

/*
 * The state on each side of a conditional jump: *taken and *fallthrough (each may come out
 * empty, i.e. that side cannot happen).
 */
static int branch(struct verifier *v, struct vstate *st, unsigned pc,
		  const struct csd_ebpf_insn *insn, struct vstate *taken)
{
	unsigned op = BPF_OP(insn->code), a = insn->dst_reg, b = insn->src_reg;
	bool x = BPF_SRC(insn->code) == BPF_X, is32 = BPF_CLASS(insn->code) == BPF_JMP32;
	struct vreg *ra = &st->reg[a], *rb = x ? &st->reg[b] : NULL;
	int64_t imm = is32 ? (int64_t)(uint32_t)insn->imm : insn->imm, ca, cb;
	int err = use_reg(v, st, pc, a);

	if (!err && x)
		err = use_reg(v, st, pc, b);
	if (err)
		return err;
	state_copy(v, taken, st);

	/* NULL checks of a lookup result */
	if (ra->type == V_PTR_MAP_OR_NULL && !is32 && (op == BPF_JEQ || op == BPF_JNE) &&
	    ((!x && imm == 0) || (x && reg_const(st, b, &cb) && cb == 0))) {
		null_check(taken, a, op == BPF_JEQ);
		null_check(st, a, op != BPF_JEQ);
		return 0;
	}
	if (is_pointer(ra->type) || (rb && is_pointer(rb->type))) {
		bool same = rb && same_object(v, ra, rb);
		int64_t lo, hi, lo2, hi2;

		if (!same || is32 || op == BPF_JSET)
			return refuse(v, pc, "compares r%u, %s, with %s: only pointers into the same "
				      "memory may be compared%s", a, vtype_names[ra->type],
				      rb ? vtype_names[rb->type] : "a constant",
				      rb && ra->type == V_PTR_MAP && rb->type == V_PTR_MAP &&
				      ra->map == rb->map ? " (values of two lookups may be two "
				      "elements of the map)" : "");
		reg_bounds(st, a, &lo, &hi);
		reg_bounds(st, b, &lo2, &hi2);
		/*
		 * Offsets this small compare like the addresses they make, as long as no address
		 * wraps: signed compares wrap only at 2^63, far from any user address; unsigned
		 * ones wrap at 0, and the input may start at 0 (a run with no input: r1 - 1 is
		 * then the largest address there is). Below its base an offset is safe only
		 * where memory is known to exist: the stack frames under a frame pointer.
		 */
		int64_t floor = op == BPF_JSGT || op == BPF_JSGE || op == BPF_JSLT ||
				op == BPF_JSLE ? -(INT64_C(1) << 44) :
				ra->type == V_PTR_STACK ? -CSD_EBPF_STACK_SIZE * CSD_EBPF_MAX_FRAMES : 0;

		if (lo >= floor && hi < (INT64_C(1) << 44) &&
		    lo2 >= floor && hi2 < (INT64_C(1) << 44) && op != BPF_JEQ &&
		    op != BPF_JNE) {
			unsigned sop = op == BPF_JGT ? BPF_JSGT : op == BPF_JGE ? BPF_JSGE :
				       op == BPF_JLT ? BPF_JSLT : op == BPF_JLE ? BPF_JSLE : op;

			refine(taken, sop, a, (int)b, 0);
			refine(st, negate(sop), a, (int)b, 0);
		} else if (op == BPF_JEQ || op == BPF_JNE) {
			refine(taken, op, a, (int)b, 0);
			refine(st, negate(op), a, (int)b, 0);
		}
		return 0;
	}

	/* two scalars */
	if (is32) {
		uint32_t c32a, c32b;
		int res;

		if (const32(st, a, &c32a) && (x ? const32(st, b, &c32b) : (c32b = (uint32_t)imm, true))) {
			bool sgn = op == BPF_JSGT || op == BPF_JSGE || op == BPF_JSLT || op == BPF_JSLE;

			res = eval_const(op, sgn ? (uint64_t)(int64_t)(int32_t)c32a : c32a,
					 sgn ? (uint64_t)(int64_t)(int32_t)c32b : c32b);
			OCT(res ? st : taken)->empty = true;
			return 0;
		}
		if (fits32(st, a, INT32_MAX) && (x ? fits32(st, b, INT32_MAX) : imm <= INT32_MAX)) {
			/* equal to the 64-bit comparison */
		} else {
			return 0;	/* both sides stay possible, nothing learned */
		}
	}
	if (reg_const(st, a, &ca) && (x ? reg_const(st, b, &cb) : (cb = imm, true)) &&
	    (tnum_is_const(ra->tn) || (ca > -OCT_LIMIT && ca < OCT_LIMIT))) {
		int res = eval_const(op, (uint64_t)ca, (uint64_t)cb);

		OCT(res ? st : taken)->empty = true;
		return 0;
	}
	if (op == BPF_JSET) {
		if (x && !reg_const(st, b, &cb))
			return 0;
		cb = x ? cb : imm;
		refine_jset(taken, a, (uint64_t)cb, true);
		refine_jset(st, a, (uint64_t)cb, false);
		return 0;
	}
	refine(taken, op, a, x ? (int)b : -1, imm);
	refine(st, negate(op), a, x ? (int)b : -1, imm);
	if (op == BPF_JEQ && !x)
		taken->reg[a].tn = tnum_const((uint64_t)imm);
	return 0;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static int map_arg(struct verifier *v, struct vstate *st, unsigned pc, const struct ebpf_map **m)
{
	int err = use_reg(v, st, pc, 1);

	if (err)
		return err;
	if (st->reg[1].type != V_MAP_REF)
		return refuse(v, pc, "helper argument 1 must be a map (lddw of a map), r1 is %s",
			      vtype_names[st->reg[1].type]);
	*m = &v->maps[st->reg[1].map];
	return 0;
}

static int helper_call(struct verifier *v, struct vstate *st, unsigned pc, int32_t id)
{
	const struct ebpf_map *m = NULL;
	int64_t lo, hi;
	int err = 0;

	switch (id) {
	case CSD_EBPF_HELPER_MAP_LOOKUP_ELEM:
	case CSD_EBPF_HELPER_MAP_DELETE_ELEM:
	case CSD_EBPF_HELPER_MAP_UPDATE_ELEM:
		err = map_arg(v, st, pc, &m);
		if (!err)
			err = use_reg(v, st, pc, 2);
		if (!err)
			err = check_helper_mem(v, st, pc, 2, m->key_size, false);
		if (!err && id == CSD_EBPF_HELPER_MAP_LOOKUP_ELEM) {
			/*
			 * The map every path here looks up, when it is an array with a key in the
			 * stack: the JIT then indexes the array inline (prog->guard of a call).
			 */
			size_t idx = (size_t)(m - v->maps);
			uint8_t g = m->kind == EBPF_MAP_KIND_ARRAY && m->key_size == 4 &&
				    st->reg[2].type == V_PTR_STACK && idx < EBPF_GUARD_MAX_MAPS ?
				    (uint8_t)(EBPF_GUARD_MAP + idx) : EBPF_GUARD_ANY;

			if (v->guard[pc] == 0xff)
				v->guard[pc] = g;
			else if (v->guard[pc] != g)
				v->guard[pc] = EBPF_GUARD_ANY;
		}
		if (!err && id == CSD_EBPF_HELPER_MAP_UPDATE_ELEM) {
			err = use_reg(v, st, pc, 3);
			if (!err)
				err = check_helper_mem(v, st, pc, 3, m->value_size, false);
			if (!err)
				err = use_scalar(v, st, pc, 4, "map update flags");
			if (!err && m->readonly)
				err = refuse(v, pc, "map update of %s, which is read-only", m->name);
		}
		break;
	case CSD_EBPF_HELPER_TRACE_PRINTK:
		err = use_scalar(v, st, pc, 2, "trace_printk size");
		if (err)
			break;
		reg_bounds(st, 2, &lo, &hi);
		if (hi == OCT_INF || lo < 0)
			return refuse(v, pc, "trace_printk size r2 has no bound");
		err = use_reg(v, st, pc, 1);
		if (!err)
			err = check_helper_mem(v, st, pc, 1, hi, false);
		for (unsigned r = 3; !err && r <= 5; r++)
			if (is_pointer(st->reg[r].type))
				err = refuse(v, pc, "trace_printk argument r%u is %s: printing it "
					     "would leak a drive address", r,
					     vtype_names[st->reg[r].type]);
		break;
	case CSD_EBPF_HELPER_KTIME_GET_NS:
	case CSD_EBPF_HELPER_GET_PRANDOM_U32:
	case CSD_EBPF_HELPER_GET_SMP_PROCESSOR_ID:
		break;
	default:
		return refuse(v, pc, "helper %d is not known to the verifier", id);
	}
	if (err)
		return err;
	for (unsigned r = 1; r <= 5; r++)
		set_uninit(st, r);
	if (id == CSD_EBPF_HELPER_MAP_LOOKUP_ELEM) {
		st->reg[0] = (struct vreg){ .type = V_PTR_MAP_OR_NULL,
					    .map = (uint16_t)(m - v->maps), .id = ++v->next_id };
		rv_interval(st, 0, 0, 0);
	} else if (id == CSD_EBPF_HELPER_GET_PRANDOM_U32 ||
		   id == CSD_EBPF_HELPER_GET_SMP_PROCESSOR_ID) {
		set_unknown_width(st, 0, 4, false);
	} else {
		set_unknown(st, 0);
	}
	return 0;
}

/* ---- the fixpoint ------------------------------------------------------------------------ */

static int analyse_function(struct verifier *v, unsigned entry, struct vstate *in,
			    struct vstate *out, bool *returns);
static void successors(const struct verifier *v, unsigned pc, long *fall, long *jump);

static int local_call(struct verifier *v, struct vstate *st, unsigned pc, unsigned target)
{
	struct vstate *callee = state_new(v), *ret = state_new(v);
	bool returns = false;
	unsigned d = st->depth + 1;
	int err = 0;

	if (!callee || !ret) {
		free(callee);
		free(ret);
		return -ENOMEM;
	}
	if (d >= CSD_EBPF_MAX_FRAMES) {
		err = refuse(v, pc, "call depth: the runtime has %d stack frames of %d bytes, this "
			     "call needs one more", CSD_EBPF_MAX_FRAMES, CSD_EBPF_STACK_SIZE);
		goto out;
	}
	for (unsigned i = 0; i < d; i++)
		if (v->chain[i] == target) {
			err = refuse(v, pc, "recursive call to the function at pc %u", target);
			goto out;
		}
	state_copy(v, callee, st);
	/* the arguments kept aside: what the callee returns may be related to them */
	for (unsigned k = 1; k <= 5; k++)
		if (st->reg[k].type == V_UNINIT || st->reg[k].type == V_CONFLICT)
			oct_forget(OCT(callee), VAR_ARG(v, k));
		else
			oct_assign_var(OCT(callee), VAR_ARG(v, k), VAR_REG(k), 0);
	callee->depth = d;
	memset(&callee->frame[d], 0, sizeof(callee->frame[d]));
	slots_forget_all(v, callee);	/* they describe the callee's frame now */
	set_uninit(callee, 0);
	for (unsigned r = 6; r <= 9; r++)
		set_uninit(callee, r);
	callee->reg[10] = (struct vreg){ .type = V_PTR_STACK, .frame = (uint8_t)d };
	rv_interval(callee, 10, 0, 0);
	v->chain[d] = target;
	err = analyse_function(v, target, callee, ret, &returns);
	if (err)
		goto out;
	if (!returns) {
		OCT(st)->empty = true;	/* the callee never returns: nothing follows */
		goto out;
	}
	if (is_pointer(ret->reg[0].type) && ret->reg[0].type == V_PTR_STACK && ret->reg[0].frame == d) {
		err = refuse(v, pc, "the function at pc %u returns a pointer into its own stack frame",
			     target);
		goto out;
	}
	for (unsigned f = 0; f < d; f++)
		for (unsigned s = 0; s < SLOTS; s++) {
			const struct vslot *slot = &ret->frame[f].slot[s];

			if (slot->spilled && slot->reg.type == V_PTR_STACK && slot->reg.frame == d) {
				err = refuse(v, pc, "the function at pc %u leaves a pointer into its "
					     "own stack frame in its caller's frame", target);
				goto out;
			}
		}
	/* the caller's registers r6-r10 and relations, the callee's memory and r0 */
	{
		int64_t lo, hi;

		if (memcmp(&st->frame[d - 1], &ret->frame[d - 1], sizeof(st->frame[0])))
			slots_forget_all(v, st);	/* the callee wrote into this frame */
		memcpy(st->frame, ret->frame, sizeof(st->frame[0]) * d);
		oct_close(OCT(ret));
		oct_bounds(OCT(ret), VAR_REG(0), &lo, &hi);
		st->reg[0] = ret->reg[0];
		rv_interval(st, 0, lo, hi);
		/*
		 * r0 against the arguments (a parser returns its cursor, moved on): those facts
		 * carry over to the caller's copies of the arguments before r1-r5 are cleared,
		 * so that `pos = parse(.., pos)` keeps `pos` growing for the caller's loop.
		 */
		for (unsigned k = 1; k <= 5 && !OCT(st)->empty; k++) {
			int64_t up, down;

			if (st->reg[k].type == V_UNINIT || st->reg[k].type == V_CONFLICT)
				continue;
			up = oct_diff_max(OCT(ret), VAR_REG(0), VAR_ARG(v, k));
			down = oct_diff_max(OCT(ret), VAR_ARG(v, k), VAR_REG(0));
			if (up != OCT_INF)
				oct_add_diff(OCT(st), VAR_REG(0), VAR_REG(k), up);
			if (down != OCT_INF)
				oct_add_diff(OCT(st), VAR_REG(k), VAR_REG(0), down);
		}
		for (unsigned r = 1; r <= 5; r++)
			set_uninit(st, r);
	}
out:
	free(callee);
	free(ret);
	return err;
}

/* Registers an instruction writes, as a bit mask. */
static uint32_t insn_writes(const struct csd_ebpf_insn *insn)
{
	unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);

	switch (cls) {
	case BPF_ALU:
	case BPF_ALU64:
	case BPF_LDX:
	case BPF_LD:
		return 1u << insn->dst_reg;
	case BPF_STX:
		if (BPF_MODE(insn->code) != BPF_ATOMIC)
			return 0;
		return insn->imm == BPF_CMPXCHG ? 1u : (insn->imm & BPF_FETCH) ? 1u << insn->src_reg : 0;
	case BPF_JMP:
	case BPF_JMP32:
		return op == BPF_CALL ? 0x3fu : 0;
	}
	return 0;
}

/* Sum facts about registers an instruction overwrote no longer hold. */
static void sums_invalidate(struct vstate *st, uint32_t written, bool keep_new, unsigned dst)
{
	for (unsigned r = 0; r < EBPF_NREGS; r++) {
		struct vreg *g = &st->reg[r];

		if (!g->sum_y1 || (keep_new && r == dst))
			continue;
		if ((written >> r & 1) || (written >> (g->sum_y1 - 1) & 1) ||
		    (written >> (g->sum_z1 - 1) & 1))
			g->sum_y1 = g->sum_z1 = 0;
	}
}

/*
 * Atomic operations fault at run time when misaligned, so the verifier must see the address
 * aligned: a fixed offset in the stack, or in a map value whose every element is aligned.
 * The input's own alignment depends on the caller, so atomics there are refused.
 */
static int check_atomic_aligned(struct verifier *v, struct vstate *st, const struct access *a)
{
	const struct vreg *p = &st->reg[a->ptr];
	int64_t lo, hi;

	reg_bounds(st, a->ptr, &lo, &hi);
	if (p->type == V_PTR_INPUT)
		return refuse(v, a->pc, "atomic update of the input: its alignment is not known");
	if (lo != hi || (lo + a->off) % (int64_t)a->size ||
	    (p->type == V_PTR_MAP && v->maps[p->map].value_size % a->size))
		return refuse(v, a->pc, "%u-byte atomic update at r%u%+d is not proven aligned",
			      a->size, a->ptr, a->off);
	return 0;
}

/* The instruction at pc, in st; *next / *jump: where control goes (-1: nowhere). */
static int transfer_insn(struct verifier *v, struct vstate *st, unsigned pc, struct vstate *taken,
		    long *next, long *jump)
{
	const struct csd_ebpf_insn *insn = &v->insns[pc];
	unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);
	static const unsigned sizes[4] = { 4, 2, 1, 8 };
	unsigned size = sizes[BPF_SIZE(insn->code) >> 3];
	int err;

	*next = pc + insn_size(insn);
	*jump = -1;
	switch (cls) {
	case BPF_ALU64:
		return alu64(v, st, pc, insn);
	case BPF_ALU:
		return alu32(v, st, pc, insn);
	case BPF_LD:
		switch (insn->src_reg) {
		case BPF_PSEUDO_MAP_FD:
			st->reg[insn->dst_reg] = (struct vreg){ .type = V_MAP_REF,
								.map = (uint16_t)insn->imm };
			rv_forget(st, insn->dst_reg);
			return 0;
		case BPF_PSEUDO_MAP_VALUE:
			st->reg[insn->dst_reg] = (struct vreg){ .type = V_PTR_MAP,
								.map = (uint16_t)insn->imm };
			rv_interval(st, insn->dst_reg, (uint32_t)insn[1].imm, (uint32_t)insn[1].imm);
			return 0;
		}
		set_const(st, insn->dst_reg,
			  (uint32_t)insn->imm | ((uint64_t)(uint32_t)insn[1].imm << 32));
		return 0;
	case BPF_LDX: {
		struct access a = { pc, insn->src_reg, insn->off, size, false, "read", false };

		return do_load(v, st, &a, insn->dst_reg, BPF_MODE(insn->code) == BPF_MEMSX);
	}
	case BPF_ST: {
		struct access a = { pc, insn->dst_reg, insn->off, size, true, "write", false };

		return do_store(v, st, &a, -1, insn->imm);
	}
	case BPF_STX: {
		struct access a = { pc, insn->dst_reg, insn->off, size, true, "write", false };

		if (BPF_MODE(insn->code) != BPF_ATOMIC)
			return do_store(v, st, &a, insn->src_reg, 0);
		a.verb = "atomic update";
		err = use_scalar(v, st, pc, insn->src_reg, "atomic operand");
		if (!err && insn->imm == BPF_CMPXCHG)
			err = use_scalar(v, st, pc, 0, "compare-and-exchange's expected value");
		if (!err)
			err = check_ptr_access(v, st, &a);
		if (!err)
			err = check_atomic_aligned(v, st, &a);
		if (!err && st->reg[insn->dst_reg].type == V_PTR_STACK) {
			int64_t lo, hi;

			reg_bounds(st, insn->dst_reg, &lo, &hi);
			err = check_stack_init(v, st, &a, lo + a.off, hi + a.off);
			if (!err)
				err = check_stack_no_ptr(v, st, &a, lo + a.off, hi + a.off, false);
			if (!err)
				stack_clobber(v, st, st->reg[insn->dst_reg].frame, lo + a.off,
					      hi + a.off + size);
		}
		if (err)
			return err;
		if (insn->imm == BPF_CMPXCHG)
			set_unknown_width(st, 0, size, false);
		else if (insn->imm & BPF_FETCH)
			set_unknown_width(st, insn->src_reg, size, false);
		return 0;
	}
	}
	/* jumps */
	if (op == BPF_JA) {
		*next = -1;
		*jump = (long)pc + 1 + (cls == BPF_JMP32 ? insn->imm : insn->off);
		return 0;
	}
	if (op == BPF_EXIT) {
		*next = -1;
		return 0;	/* the caller looks at r0 */
	}
	if (op == BPF_CALL) {
		if (BPF_SRC(insn->code) == BPF_X)
			return refuse(v, pc, "an indirect call (callx) cannot be verified");
		if (insn->src_reg == BPF_PSEUDO_CALL)
			return local_call(v, st, pc, (unsigned)((long)pc + 1 + insn->imm));
		return helper_call(v, st, pc, insn->imm);
	}
	*jump = (long)pc + 1 + insn->off;
	return branch(v, st, pc, insn, taken);
}

/*
 * `x <<= k; x >>= k` (or s>>=) is how compilers zero- (sign-) extend the low 64 - k bits of x:
 * 32-bit counters and lengths, signed chars. When x already lies in that range the pair
 * changes nothing, and taking it whole as nothing keeps x's relations (i < len), which the
 * two shifts one by one would lose. Only when no jump lands between the two.
 */
static bool is_identity_extension(const struct verifier *v, struct vstate *st, unsigned pc)
{
	const struct csd_ebpf_insn *a = &v->insns[pc], *b = a + 1;
	int64_t lo, hi, k = a->imm;

	if (pc + 1 >= v->cnt || v->leader[pc + 1] || a->code != (BPF_ALU64 | BPF_LSH | BPF_K) ||
	    (b->code != (BPF_ALU64 | BPF_RSH | BPF_K) && b->code != (BPF_ALU64 | BPF_ARSH | BPF_K)) ||
	    b->dst_reg != a->dst_reg || b->imm != a->imm || a->off || b->off || k < 8 || k > 56 ||
	    st->reg[a->dst_reg].type != V_SCALAR)
		return false;
	reg_bounds(st, a->dst_reg, &lo, &hi);
	if (BPF_OP(b->code) == BPF_RSH)
		return lo >= 0 && hi != OCT_INF && hi < (INT64_C(1) << (64 - k));
	return lo >= -(INT64_C(1) << (63 - k)) && hi != OCT_INF && hi < (INT64_C(1) << (63 - k));
}

static int transfer(struct verifier *v, struct vstate *st, unsigned pc, struct vstate *taken,
		    long *next, long *jump)
{
	const struct csd_ebpf_insn *insn = &v->insns[pc];
	uint32_t written = insn_writes(insn);
	struct lin_pre pre;
	int err;

	if (v->trace) {
		char text[96];

		csd_ebpf_disasm_insn(insn, v->cnt - pc, text, sizeof(text));
		fprintf(stderr, "%5u: %-28s", pc, text);
		for (unsigned r = 0; r < EBPF_NREGS; r++) {
			int64_t lo, hi, rlo, rhi;
			char b1[24], b2[24];

			if (st->reg[r].type == V_UNINIT)
				continue;
			reg_bounds(st, r, &lo, &hi);
			oct_bounds(OCT(st), VAR_REST(r), &rlo, &rhi);
			fprintf(stderr, " r%u=%c[%s,%s]", r, "?sISMNRC"[st->reg[r].type],
				fmt_bound(b1, sizeof(b1), lo), fmt_bound(b2, sizeof(b2), hi));
			if (rlo != INT64_MIN)
				fprintf(stderr, "(len-%lld)", (long long)rlo);
		}
		fprintf(stderr, "\n");
	}
	if (is_identity_extension(v, st, pc)) {
		*next = pc + 2;
		*jump = -1;
		return 0;
	}
	if (written & (1u << insn->dst_reg) && BPF_CLASS(insn->code) != BPF_JMP)
		st->reg[insn->dst_reg].sum_y1 = st->reg[insn->dst_reg].sum_z1 = 0;
	lin_before(st, insn, &pre);
	err = transfer_insn(v, st, pc, taken, next, jump);
	if (!err)
		lin_after(st, insn, &pre, written);
	/* a fact made by this very instruction (add x, z) stays */
	sums_invalidate(st, written, BPF_CLASS(insn->code) == BPF_ALU64, insn->dst_reg);
	return err;
}

/* Join (or widen) `in` into the state kept at pc; true when that state changed. */
static bool merge(struct verifier *v, struct vstate **at, unsigned *updates, unsigned pc,
		  struct vstate *in, int head_q, bool widen)
{
	struct vstate *old = at[pc];
	struct octagon *oo, *io = OCT(in);
	bool changed = false;

	if (io->empty)
		return false;
	if (!old) {
		at[pc] = state_new(v);
		if (!at[pc])
			return false;
		state_copy(v, at[pc], in);
		updates[pc] = 1;
		return true;
	}
	oo = OCT(old);
	/* before the registers' kinds are joined: a fact needs the same kind on both sides */
	for (unsigned r = 0; r < EBPF_NREGS; r++)
		if (lin_join(old, in, r, head_q, widen))
			changed = true;
	for (unsigned r = 0; r < EBPF_NREGS; r++) {
		struct vreg *a = &old->reg[r];
		const struct vreg *b = &in->reg[r];

		if (a->type == b->type && a->frame == b->frame && a->map == b->map) {
			struct tnum u = tnum_union(a->tn, b->tn);

			if (a->id != b->id && a->id)
				a->id = 0, changed = true;
			/* x = y + z must hold on both paths to hold after them */
			if ((a->sum_y1 != b->sum_y1 || a->sum_z1 != b->sum_z1) && a->sum_y1)
				a->sum_y1 = a->sum_z1 = 0, changed = true;
			/* known bits can be lost one at a time: widening gives them all up at once */
			if (!tnum_equal(u, a->tn))
				a->tn = widen ? tnum_unknown() : u, changed = true;
		} else if (a->type != V_UNINIT) {
			/* unusable from here on: reading it is refused, saying why */
			enum vtype t = b->type == V_UNINIT ? V_UNINIT : V_CONFLICT;

			if (a->type != t) {
				*a = (struct vreg){ .type = t };
				changed = true;
			}
		}
	}
	for (unsigned f = 0; f <= old->depth; f++) {
		struct vframe *fa = &old->frame[f];
		const struct vframe *fb = &in->frame[f];

		for (unsigned w = 0; w < SLOTS / 8; w++) {
			if ((fa->init[w] & fb->init[w]) != fa->init[w])
				fa->init[w] &= fb->init[w], changed = true;
			if ((fa->ptr[w] | fb->ptr[w]) != fa->ptr[w])
				fa->ptr[w] |= fb->ptr[w], changed = true;
			if ((fa->maybe[w] | fb->maybe[w]) != fa->maybe[w])
				fa->maybe[w] |= fb->maybe[w], changed = true;
		}
		for (unsigned s = 0; s < SLOTS; s++) {
			struct vslot *sa = &fa->slot[s];
			const struct vslot *sb = &fb->slot[s];

			if (!sa->spilled)
				continue;
			if (!sb->spilled || sa->reg.type != sb->reg.type ||
			    sa->reg.frame != sb->reg.frame || sa->reg.map != sb->reg.map) {
				sa->spilled = false;
				changed = true;
				continue;
			}
			if (sb->lo < sa->lo)
				sa->lo = widen ? INT64_MIN : sb->lo, changed = true;
			if (sb->hi > sa->hi)
				sa->hi = widen ? OCT_INF : sb->hi, changed = true;
			if (!tnum_equal(tnum_union(sa->reg.tn, sb->reg.tn), sa->reg.tn))
				sa->reg.tn = widen ? tnum_unknown() : tnum_union(sa->reg.tn, sb->reg.tn),
				changed = true;
			if (sa->reg.id != sb->reg.id && sa->reg.id)
				sa->reg.id = 0, changed = true;
		}
	}
	{
		struct octagon *tmp = malloc(oct_size(oo->nvars));

		if (!tmp)
			return false;
		oct_copy(tmp, oo);
		if (widen) {
			/* left unclosed: closing widened iterates can undo the widening forever */
			int q = v->loop_of[pc];

			v->widened[pc] = true;
			oct_widen(oo, io, v->thresholds[q], v->nthresholds[q]);
		} else {
			oct_join(oo, io);
		}
		if (!oct_equal(tmp, oo))
			changed = true;
		free(tmp);
	}
	if (changed) {
		old->pred = in->pred;
		updates[pc]++;
	}
	return changed;
}

struct worklist {
	unsigned char *queued;
	unsigned lo;		/* no queued pc below this */
};

static void push(struct worklist *w, unsigned pc)
{
	w->queued[pc] = 1;
	if (pc < w->lo)
		w->lo = pc;
}

static long pop(struct worklist *w, size_t cnt)
{
	for (unsigned pc = w->lo; pc < cnt; pc++)
		if (w->queued[pc]) {
			w->queued[pc] = 0;
			w->lo = pc;
			return pc;
		}
	return -1;
}

/* Entering `to` from `from`: the loop counter of a head starts or counts on. */
static void edge(struct verifier *v, struct vstate *st, unsigned from, unsigned to, bool is_jump)
{
	int q = v->loop_of[to];

	if (q < 0)
		return;
	if (v->retreat[from] & (is_jump ? 2 : 1)) {
		oct_assign_var(OCT(st), VAR_LOOP(q), VAR_LOOP(q), 1);
		lin_counter_moved(st, (unsigned)q, false);
	} else {
		oct_assign_interval(OCT(st), VAR_LOOP(q), 0, 0);
		lin_counter_moved(st, (unsigned)q, true);
	}
}

/* Control goes from `from` to `to` with state st: merge it there, queue `to` if it changed. */
static int propagate(struct verifier *v, struct vstate **at, unsigned *updates,
		     struct worklist *w, struct vstate *st, unsigned from, unsigned to, bool is_jump)
{
	int q = v->loop_of[to];

	edge(v, st, from, to, is_jump);
	if (q >= 0 && (v->retreat[from] & (is_jump ? 2 : 1))) {
		/* the counter as it goes round: bounded on every way back means a bounded loop */
		int64_t lo, hi;

		oct_bounds(OCT(st), VAR_LOOP(q), &lo, &hi);
		v->edge_hi[2 * from + is_jump] = hi;
	}
	if (merge(v, at, updates, to, st, q, q >= 0 && updates[to] >= WIDEN_AFTER))
		push(w, to);
	if (q >= 0 && updates[to] > MAX_HEAD_UPDATES + v->nthresholds[q]) {
		v->block = to;
		return refuse(v, to, "the analysis of the loop starting here does not settle");
	}
	return 0;
}

static int analyse_function(struct verifier *v, unsigned entry, struct vstate *in,
			    struct vstate *out, bool *returns)
{
	struct vstate **saved_at = v->at, *st = state_new(v), *taken = state_new(v);
	unsigned saved_block = v->block;
	struct vstate **at = calloc(v->cnt, sizeof(*at));
	unsigned *updates = calloc(v->cnt, sizeof(*updates));
	int64_t *saved_edge_hi = v->edge_hi, *edge_hi = malloc(2 * v->cnt * sizeof(*edge_hi));
	struct worklist w = { calloc(v->cnt, 1), (unsigned)v->cnt };
	long pc;
	int err = 0;

	if (!st || !taken || !at || !updates || !w.queued || !edge_hi) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t e = 0; e < 2 * v->cnt; e++)
		edge_hi[e] = INT64_MIN;	/* not taken */
	v->edge_hi = edge_hi;
	*returns = false;
	v->at = at;
	in->pred = UINT32_MAX;
	for (unsigned q = 0; q < v->nloops; q++)
		oct_assign_interval(OCT(in), VAR_LOOP(q), 0, 0);
	memset(in->lin, 0, sizeof(in->lin));	/* they counted the caller's loops */
	merge(v, at, updates, entry, in, -1, false);
	push(&w, entry);
	while (!err && (pc = pop(&w, v->cnt)) >= 0) {
		unsigned block = (unsigned)pc;

		v->block = block;
		state_copy(v, st, at[block]);
		if (v->widened[block])
			oct_close(OCT(st));
		st->pred = block;
		for (;;) {
			long next, jump;
			bool exits;

			v->visits++;
			v->work += 4ull * v->nvars * v->nvars;
			if (v->work > MAX_WORK) {
				err = refuse(v, (unsigned)pc, "the program is too complex to verify "
					     "(%lu steps analysed without reaching a fixpoint: the "
					     "verifier's work limit)", v->visits);
				break;
			}
			if (v->deadline_ns && (v->visits & 255) == 0 && now_ns() > v->deadline_ns) {
				err = refuse(v, (unsigned)pc, "the verification took longer than its "
					     "time limit of %u ms (%lu steps analysed)",
					     v->time_limit_ms, v->visits);
				break;
			}
			err = transfer(v, st, (unsigned)pc, taken, &next, &jump);
			if (err)
				break;
			exits = BPF_CLASS(v->insns[pc].code) == BPF_JMP &&
				BPF_OP(v->insns[pc].code) == BPF_EXIT;
			if (exits) {
				err = st->depth ? use_reg(v, st, (unsigned)pc, 0) :
				      use_scalar(v, st, (unsigned)pc, 0, "the program's result");
				if (err)
					break;
				if (*returns) {
					unsigned dummy = 0;

					merge(v, &out, &dummy, 0, st, -1, false);
				} else {
					state_copy(v, out, st);
					*returns = true;
				}
				break;
			}
			if (jump >= 0) {
				/* ja goes on with st itself, a conditional jump with `taken` */
				struct vstate *js = next < 0 ? st : taken;

				if (!OCT(js)->empty && (err = propagate(v, at, updates, &w, js,
									(unsigned)pc, (unsigned)jump,
									true)))
					break;
			}
			if (next < 0 || OCT(st)->empty)
				break;
			if (v->leader[next]) {
				err = propagate(v, at, updates, &w, st, (unsigned)pc, (unsigned)next,
						false);
				break;
			}
			pc = next;
		}
	}
	/*
	 * Termination: on every retreating edge the loop's counter is bounded (read there, where
	 * the loop's own test has narrowed it, not at the head, where widening overshoots).
	 */
	for (unsigned e = 0; !err && e < 2 * v->cnt; e++) {
		long fall, jump, to;

		if (v->edge_hi[e] != OCT_INF)
			continue;
		successors(v, e / 2, &fall, &jump);
		to = e & 1 ? jump : fall;
		v->block = (unsigned)to;
		err = refuse(v, (unsigned)to, "the loop starting here has no bound the verifier can "
			     "prove: it needs a counter compared with a bounded value");
	}
out:
	for (size_t i = 0; at && i < v->cnt; i++)
		free(at[i]);
	free(at);
	free(updates);
	free(w.queued);
	free(st);
	free(taken);
	free(edge_hi);
	v->edge_hi = saved_edge_hi;
	v->at = saved_at;
	v->block = saved_block;
	return err;
}

/* ---- the control-flow graph -------------------------------------------------------------- */

/* Successors of pc: fall-through (or -1) and jump target (or -1). */
static void successors(const struct verifier *v, unsigned pc, long *fall, long *jump)
{
	const struct csd_ebpf_insn *insn = &v->insns[pc];
	unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);

	*fall = pc + insn_size(insn);
	*jump = -1;
	if (cls != BPF_JMP && cls != BPF_JMP32)
		return;
	if (op == BPF_EXIT) {
		*fall = -1;
	} else if (op == BPF_JA) {
		*fall = -1;
		*jump = (long)pc + 1 + (cls == BPF_JMP32 ? insn->imm : insn->off);
	} else if (op != BPF_CALL) {
		*jump = (long)pc + 1 + insn->off;
	}
}

/* Leaders, retreating edges (iterative depth-first walk) and loop heads. */
static int build_cfg(struct verifier *v)
{
	enum { WHITE, GREY, BLACK };
	unsigned char *colour = calloc(v->cnt, 1);
	unsigned *stack = malloc(v->cnt * sizeof(*stack));
	unsigned char *edge_done = calloc(v->cnt, 1);
	bool *is_entry = calloc(v->cnt, sizeof(*is_entry));
	size_t sp = 0;
	int err = 0;

	if (!colour || !stack || !edge_done || !is_entry) {
		err = -ENOMEM;
		goto out;
	}
	v->leader[0] = true;
	for (unsigned pc = 0; pc < v->cnt; pc += insn_size(&v->insns[pc])) {
		long fall, jump;
		const struct csd_ebpf_insn *insn = &v->insns[pc];

		successors(v, pc, &fall, &jump);
		if (jump >= 0) {
			v->leader[jump] = true;
			if (fall >= 0 && (size_t)fall < v->cnt)
				v->leader[fall] = true;
		}
		if (fall < 0 && pc + 1 < v->cnt)
			v->leader[pc + 1] = true;
		if (BPF_CLASS(insn->code) == BPF_JMP && BPF_OP(insn->code) == BPF_CALL &&
		    insn->src_reg == BPF_PSEUDO_CALL)
			v->leader[pc + 1 + insn->imm] = is_entry[pc + 1 + insn->imm] = true;
	}
	/* roots: the entry and every function's entry */
	for (unsigned root = 0; root < v->cnt && !err; root++) {
		if (colour[root] != WHITE || !(root == 0 || is_entry[root]))
			continue;
		stack[sp++] = root;
		colour[root] = GREY;
		while (sp) {
			unsigned u = stack[sp - 1];
			long fall, jump, t = -1;
			int which = 0;

			successors(v, u, &fall, &jump);
			if (!(edge_done[u] & 1) && fall >= 0)
				t = fall, which = 1;
			else if (!(edge_done[u] & 2) && jump >= 0)
				t = jump, which = 2;
			if (t < 0) {
				colour[u] = BLACK;
				sp--;
				continue;
			}
			edge_done[u] |= (unsigned char)which;
			if (colour[t] == GREY) {
				v->retreat[u] |= (uint8_t)which;
				if (v->loop_of[t] < 0) {
					if (v->nloops == MAX_LOOPS) {
						err = refuse(v, (unsigned)t, "more than %d loops",
							     MAX_LOOPS);
						break;
					}
					v->loop_of[t] = (int)v->nloops++;
				}
			} else if (colour[t] == WHITE) {
				colour[t] = GREY;
				stack[sp++] = (unsigned)t;
			}
		}
	}
out:
	free(colour);
	free(stack);
	free(edge_done);
	free(is_entry);
	return err;
}

/* ---- widening's thresholds ------------------------------------------------------------- */

/*
 * Widening's thresholds, per loop: the small constants the loop tests to leave (then those
 * moved into a register just before its head, then those its body compares with), one below
 * and one above, as the octagon stores an interval bound (2c for x <= c), both signs. A loop
 * `for (k = 0; k != 64; k++)` then widens k to [0, 64] rather than [0, 2^58], and its test
 * narrows that to what an access needs. A threshold is one more round for a bound that really
 * grows without limit, so only a loop's own constants, at most MAX_THRESHOLD_CONSTS, and only
 * for intervals (oct_widen). Thresholds change how soon the analysis settles and how precise it
 * is, never whether what it proves holds: a widened bound is still above both sides.
 */
#define MAX_THRESHOLD_CONSTS	6
#define THRESHOLD_LOOKBACK	8	/* instructions before a way in where its constants are set */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void add_constant(int64_t *consts, size_t *nc, int32_t imm)
{
	size_t k;

	if (imm == 0 || *nc == MAX_THRESHOLD_CONSTS)
		return;
	for (k = 0; k < *nc && consts[k] != imm; k++)
		;
	if (k == *nc)
		consts[(*nc)++] = imm;
}

static bool is_cond_jump_k(const struct csd_ebpf_insn *insn)
{
	unsigned cls = BPF_CLASS(insn->code), op = BPF_OP(insn->code);

	return (cls == BPF_JMP || cls == BPF_JMP32) && BPF_SRC(insn->code) == BPF_K &&
	       op != BPF_JA && op != BPF_CALL && op != BPF_EXIT;
}

static bool is_mov_k(const struct csd_ebpf_insn *insn)
{
	unsigned cls = BPF_CLASS(insn->code);

	return (cls == BPF_ALU64 || cls == BPF_ALU) && BPF_OP(insn->code) == BPF_MOV &&
	       BPF_SRC(insn->code) == BPF_K;
}

/*
 * Does the jump at pc test a value just read from memory (c == 'A', c - '0' > 9)? Such a value
 * is bounded by its width whatever the loop does: its constants would only be more rounds.
 */
static bool tests_loaded_byte(const struct verifier *v, unsigned pc)
{
	unsigned r = v->insns[pc].dst_reg;

	for (unsigned back = 1; back <= 6 && back <= pc && !v->leader[pc - back + 1]; back++) {
		const struct csd_ebpf_insn *d = &v->insns[pc - back];
		unsigned cls = BPF_CLASS(d->code);

		if (cls == BPF_LDX && d->dst_reg == r)
			return true;
		if ((cls == BPF_ALU || cls == BPF_ALU64) && d->dst_reg == r) {
			if (BPF_SRC(d->code) == BPF_K && BPF_OP(d->code) != BPF_MOV)
				continue;	/* r += k, r &= k: still the loaded value, reshaped */
			if (BPF_OP(d->code) == BPF_MOV && BPF_SRC(d->code) == BPF_X) {
				r = d->src_reg;
				continue;
			}
			return false;
		}
	}
	return false;
}

/* The natural loop of `head`: what reaches one of its retreating edges without passing it. */
static void loop_body(const struct verifier *v, unsigned head, const unsigned *pred_at,
		      const unsigned *preds, bool *body, unsigned *work)
{
	size_t n = 0;

	memset(body, 0, v->cnt * sizeof(*body));
	body[head] = true;
	for (unsigned pc = 0; pc < v->cnt; pc++) {
		long fall, jump;

		if (!v->retreat[pc])
			continue;
		successors(v, pc, &fall, &jump);
		if (((v->retreat[pc] & 1) && fall == head) || ((v->retreat[pc] & 2) && jump == head))
			if (!body[pc])
				body[pc] = true, work[n++] = pc;
	}
	while (n) {
		unsigned pc = work[--n];

		for (unsigned i = pred_at[pc]; i < pred_at[pc + 1]; i++)
			if (!body[preds[i]])
				body[preds[i]] = true, work[n++] = preds[i];
	}
}

static int widen_thresholds(struct verifier *v)
{
	unsigned *pred_at = calloc(v->cnt + 1, sizeof(*pred_at));
	unsigned *preds = malloc(2 * v->cnt * sizeof(*preds)), *work = malloc(v->cnt * sizeof(*work));
	bool *body = malloc(v->cnt * sizeof(*body));
	int err = 0;

	v->thresholds = calloc(v->nloops, sizeof(*v->thresholds));
	v->nthresholds = calloc(v->nloops, sizeof(*v->nthresholds));
	if (!pred_at || !preds || !work || !body || !v->thresholds || !v->nthresholds) {
		err = -ENOMEM;
		goto out;
	}
	/* predecessors, as one array indexed by pred_at */
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned pc = 0; pc < v->cnt; pc++) {
			long next[2];

			successors(v, pc, &next[0], &next[1]);
			for (int e = 0; e < 2; e++)
				if (next[e] >= 0 && (size_t)next[e] < v->cnt) {
					if (pass)
						preds[pred_at[next[e]]++] = pc;
					else
						pred_at[next[e] + 1]++;
				}
		}
		if (pass)	/* filling moved each start to the next one's: move back */
			memmove(pred_at + 1, pred_at, v->cnt * sizeof(*pred_at)), pred_at[0] = 0;
		else
			for (unsigned pc = 0; pc < v->cnt; pc++)
				pred_at[pc + 1] += pred_at[pc];
	}
	for (unsigned head = 0; head < v->cnt; head++) {
		int q = v->loop_of[head];
		int64_t consts[MAX_THRESHOLD_CONSTS], *t;
		size_t nc = 0, n = 0;

		if (q < 0)
			continue;
		loop_body(v, head, pred_at, preds, body, work);
		for (unsigned pc = 0; pc < v->cnt; pc++) {	/* the tests that leave */
			long fall, jump;

			if (!body[pc] || !is_cond_jump_k(&v->insns[pc]))
				continue;
			successors(v, pc, &fall, &jump);
			if (!body[fall] || !body[jump])
				add_constant(consts, &nc, v->insns[pc].imm);
		}
		/* constants moved just before the ways in, a fall-through's too (a bound kept in a
		 * register) */
		for (unsigned i = pred_at[head]; i < pred_at[head + 1]; i++) {
			unsigned in = preds[i];

			if (body[in])
				continue;
			for (unsigned pc = in > THRESHOLD_LOOKBACK ? in - THRESHOLD_LOOKBACK : 0;
			     pc <= in; pc++)
				if (!body[pc] && is_mov_k(&v->insns[pc]))
					add_constant(consts, &nc, v->insns[pc].imm);
		}
		for (unsigned pc = 0; pc < v->cnt; pc++)
			if (body[pc] && is_cond_jump_k(&v->insns[pc]) && !tests_loaded_byte(v, pc))
				add_constant(consts, &nc, v->insns[pc].imm);
		t = v->thresholds[q] = malloc((nc * 6 + 1) * sizeof(*t));
		if (!t) {
			err = -ENOMEM;
			goto out;
		}
		t[n++] = 0;
		for (size_t k = 0; k < nc; k++)
			for (int64_t d = -1; d <= 1; d++) {
				t[n++] = 2 * (consts[k] + d);
				t[n++] = -2 * (consts[k] + d);
			}
		qsort(t, n, sizeof(*t), cmp_i64);
		for (size_t k = 0; k < n; k++)
			if (!v->nthresholds[q] || t[v->nthresholds[q] - 1] != t[k])
				t[v->nthresholds[q]++] = t[k];
	}
out:
	free(pred_at);
	free(preds);
	free(work);
	free(body);
	return err;
}

/* ---- entry ------------------------------------------------------------------------------- */

#define VERIFY_MAX_INPUT	((int64_t)EBPF_VERIFY_MAX_INPUT)

#define VERIFY_MAX_INPUT	((int64_t)EBPF_VERIFY_MAX_INPUT)

int ebpf_verify(struct csd_ebpf_prog *prog, char *log, size_t log_size, uint32_t time_limit_ms,
		bool *writes_input, uint64_t *steps)
{
	struct verifier v = {
		.prog = prog, .insns = prog->insns, .cnt = prog->insn_cnt, .maps = prog->maps,
		.map_cnt = prog->map_cnt, .log = log, .log_size = log_size,
		.time_limit_ms = time_limit_ms,
		.deadline_ns = time_limit_ms ? now_ns() + time_limit_ms * UINT64_C(1000000) : 0,
	};
	struct vstate *st = NULL, *out = NULL;
	bool returns;
	int err;

	if (log && log_size)
		log[0] = 0;
	v.trace = getenv("CSD_VERIFY_TRACE") != NULL;
	v.leader = calloc(v.cnt, sizeof(*v.leader));
	v.retreat = calloc(v.cnt, 1);
	v.widened = calloc(v.cnt, sizeof(*v.widened));
	v.loop_of = malloc(v.cnt * sizeof(*v.loop_of));
	v.guard = malloc(v.cnt);
	if (!v.leader || !v.retreat || !v.widened || !v.loop_of || !v.guard) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < v.cnt; i++)
		v.loop_of[i] = -1;
	memset(v.guard, 0xff, v.cnt);
	err = build_cfg(&v);
	if (!err)
		err = widen_thresholds(&v);
	if (err)
		goto out;
	/* stack slots saved to with stxdw [r10-off], up to MAX_SLOT_VARS of them */
	for (unsigned i = 0; i < SLOTS; i++)
		v.slot_var[i] = -1;
	for (unsigned i = 0; i < 2 * SLOTS; i++)
		v.word_var[i] = -1;
	for (size_t pc = 0; pc < v.cnt; pc++) {
		const struct csd_ebpf_insn *insn = &v.insns[pc];
		int64_t at = insn->off;

		if (insn->code == (BPF_STX | BPF_MEM | BPF_DW) && insn->dst_reg == EBPF_REG_FP &&
		    !(at & 7) && at >= -CSD_EBPF_STACK_SIZE && at < 0 &&
		    v.slot_var[stack_index(at) / 8] < 0 && v.nslot_vars < MAX_SLOT_VARS)
			v.slot_var[stack_index(at) / 8] = (int)v.nslot_vars++;
		if (insn->code == (BPF_STX | BPF_MEM | BPF_W) && insn->dst_reg == EBPF_REG_FP &&
		    !(at & 3) && at >= -CSD_EBPF_STACK_SIZE && at < 0 &&
		    v.word_var[stack_index(at) / 4] < 0 && v.nslot_vars < MAX_SLOT_VARS)
			v.word_var[stack_index(at) / 4] = (int)v.nslot_vars++;
	}
	for (size_t pc = 0; pc < v.cnt; pc++)
		if (v.insns[pc].code == (BPF_JMP | BPF_CALL) && v.insns[pc].src_reg == BPF_PSEUDO_CALL)
			v.has_calls = true;
	v.nvars = 1 + 2 * EBPF_NREGS + v.nloops + 2 * v.nslot_vars + (v.has_calls ? 5 : 0);
	v.state_size = sizeof(struct vstate) + oct_size(v.nvars);
	st = calloc(1, v.state_size);
	out = calloc(1, v.state_size);
	if (!st || !out) {
		err = -ENOMEM;
		goto out;
	}
	oct_init_top(OCT(st), v.nvars);
	oct_assign_interval(OCT(st), VAR_LEN, 0, VERIFY_MAX_INPUT);
	st->reg[1] = (struct vreg){ .type = V_PTR_INPUT };
	rv_interval(st, 1, 0, 0);
	st->reg[2] = (struct vreg){ .type = V_SCALAR, .tn = tnum_range(0, VERIFY_MAX_INPUT) };
	oct_assign_var(OCT(st), VAR_REG(2), VAR_LEN, 0);
	oct_assign_interval(OCT(st), VAR_REST(2), 0, 0);
	for (unsigned r = 3; r <= 5; r++)
		set_unknown(st, r);
	st->reg[10] = (struct vreg){ .type = V_PTR_STACK, .frame = 0 };
	rv_interval(st, 10, 0, 0);
	v.chain[0] = 0;
	err = analyse_function(&v, 0, st, out, &returns);
	if (!err && !returns) {
		ebpf_logf(log, log_size, "the program never reaches an exit");
		err = -EACCES;
	}
	if (!err) {
		*writes_input = v.writes_input;
		for (size_t pc = 0; pc < v.cnt; pc++)
			if (v.guard[pc] == 0xff)
				v.guard[pc] = EBPF_GUARD_ANY;	/* never reached: any check will do */
		free(prog->guard);
		prog->guard = v.guard;
		v.guard = NULL;
	}
	*steps = v.visits;
out:
	free(st);
	free(out);
	free(v.leader);
	free(v.retreat);
	free(v.widened);
	free(v.loop_of);
	free(v.guard);
	for (unsigned q = 0; v.thresholds && q < v.nloops; q++)
		free(v.thresholds[q]);
	free(v.thresholds);
	free(v.nthresholds);
	return err;
}

int csd_ebpf_prog__verify(struct csd_ebpf_prog *prog, struct csd_ebpf_verify_opts *opts)
{
	CSD_EBPF_OPTS(csd_ebpf_verify_opts, defaults);
	struct timespec t0, t1;
	bool writes_input = false;
	uint64_t steps = 0;
	int err;

	if (!opts)
		opts = &defaults;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = ebpf_verify(prog, opts->log_buf, opts->log_size,
			  opts->sz > offsetof(struct csd_ebpf_verify_opts, time_limit_ms) ?
			  opts->time_limit_ms : 0, &writes_input, &steps);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	opts->ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
		   (uint64_t)t0.tv_nsec;
	opts->insns_analysed = steps;
	if (err)
		return err;
	prog->writes_input = writes_input;
	prog->verified = true;
	return 0;
}

bool csd_ebpf_prog__verified(const struct csd_ebpf_prog *prog)
{
	return prog->verified;
}
