/* SPDX-License-Identifier: MIT */
/*
 * The streaming Execute (vendor opcode 81h): the drive reads NVM ranges window by window into
 * an internal buffer, puts the last `overlap` bytes of each window in front of the next, runs
 * the program over each and combines the results (sum, min or max, as the command says).
 *
 * A program without state of its own (no map or global it could write) gives the same answer
 * whatever order its windows run in, so a long stream is cut into parts that run on engine
 * threads that are idle, within the host's share of them: part k starts at a window whose
 * predecessor is at least `overlap` bytes long, and begins with that predecessor's last
 * `overlap` bytes read again, so every part sees exactly the windows a single run would.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"

#define MAX_STREAM_PARTS	64	/* at most this many engine threads lend a hand */

/* Where a window starts: which range, which block of it. */
struct window_cursor {
	unsigned range;
	uint64_t lba, left;	/* next block, blocks left in this range */
};

static uint64_t window_blocks(const struct csd_subsys *s, const struct csd_exec *x)
{
	return x->window / s->nvm.lba_size;
}

/* The first window of the stream. */
static void cursor_start(const struct csd_exec *x, struct window_cursor *c)
{
	c->range = 0;
	c->lba = x->stream_ranges[0].slba;
	c->left = (uint64_t)x->stream_ranges[0].nlb + 1;
}

/* The window at the cursor (its first block and block count), and the cursor past it. */
static void cursor_next(const struct csd_exec *x, uint64_t wblocks, struct window_cursor *c,
			uint64_t *lba, uint64_t *nlb)
{
	*lba = c->lba;
	*nlb = c->left < wblocks ? c->left : wblocks;
	c->lba += *nlb;
	c->left -= *nlb;
	if (!c->left && c->range + 1 < x->nstream) {
		c->range++;
		c->lba = x->stream_ranges[c->range].slba;
		c->left = (uint64_t)x->stream_ranges[c->range].nlb + 1;
	}
}

static uint64_t window_count(const struct csd_exec *x, uint64_t wblocks)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < x->nstream; i++)
		n += ((uint64_t)x->stream_ranges[i].nlb + wblocks) / wblocks;
	return n;
}

uint64_t csd_stream_combine(unsigned op, uint64_t a, uint64_t b)
{
	switch (op) {
	case CSD_STREAM_MIN:
		return a < b ? a : b;
	case CSD_STREAM_MAX:
		return a > b ? a : b;
	default:
		return a + b;
	}
}

/* Windows [first, end) of the stream, on this engine thread. */
void csd_stream_part_run(struct csd_subsys *s, struct csd_stream_part *part, unsigned worker)
{
	struct csd_req *req = part->req;
	struct csd_exec *x = req->exec;
	const uint32_t lba_size = s->nvm.lba_size;
	uint64_t wblocks = window_blocks(s, x), carry = 0, lba, nlb;
	struct window_cursor cur;
	bool sandboxed;
	uint8_t *buf = csd_input_alloc((size_t)x->overlap + x->window, &sandboxed);

	part->bytes = 0;
	if (!buf) {
		part->res.err = -ENOMEM;
		return;
	}
	cursor_start(x, &cur);
	for (uint64_t w = 0; w + 1 < part->first; w++)
		cursor_next(x, wblocks, &cur, &lba, &nlb);
	if (part->first && x->overlap) {
		/* the tail of the window before: read again, as the run before it saw it */
		uint64_t tail = (x->overlap + lba_size - 1) / lba_size;

		cursor_next(x, wblocks, &cur, &lba, &nlb);
		if (csd_nvm_read_internal(req, lba + nlb - tail, tail, buf)) {
			part->res.err = -EIO;
			goto out;
		}
		carry = x->overlap;
		memmove(buf, buf + tail * lba_size - carry, carry);
	} else if (part->first) {
		cursor_next(x, wblocks, &cur, &lba, &nlb);
	}
	for (uint64_t w = part->first; w < part->end && !part->res.err; w++) {
		uint64_t len;

		if (req->abort) {
			part->res.err = -ECANCELED;
			break;
		}
		cursor_next(x, wblocks, &cur, &lba, &nlb);
		len = carry + nlb * lba_size;
		if (csd_nvm_read_internal(req, lba, nlb, buf + carry)) {
			part->res.err = -EIO;
			break;
		}
		REQ_STAT(req, internal_bytes_moved, nlb * lba_size);
		part->bytes += nlb * lba_size;
		csd_run_once(s, req, worker, buf, len, &part->res);
		/* the window's tail opens the next one: a match across the edge is seen whole */
		carry = len < x->overlap ? len : x->overlap;
		memmove(buf, buf + len - carry, carry);
	}
out:
	csd_input_free(buf, sandboxed);
}

/*
 * Whether windows may run apart: a program whose maps or globals it can write would see
 * another order of updates, so only built-in programs and programs whose only data is in
 * .rodata sections (which the runtime keeps read-only: src/ebpf/elf.c marks exactly the
 * sections named .rodata*) are cut into parts.
 */
static bool stateless(const struct csd_program *p)
{
	size_t n;

	if (p->builtin)
		return true;
	n = csd_ebpf_prog__map_cnt(p->prog);
	for (size_t i = 0; i < n; i++) {
		const char *name = csd_ebpf_prog__map_name(p->prog, i);

		if (!name || strncmp(name, ".rodata", 7))
			return false;
	}
	return true;
}

/*
 * Cut the stream into parts, one per engine thread that may help (csd_engine_helpers) plus
 * this one, at windows whose predecessor holds a whole `overlap`; run them; combine in order.
 */
void csd_stream_run(struct csd_subsys *s, struct csd_req *req, unsigned worker,
		    struct csd_run_result *res, uint64_t *bytes)
{
	struct csd_exec *x = req->exec;
	uint64_t wblocks = window_blocks(s, x), nwin = window_count(x, wblocks);
	struct csd_stream_part parts[MAX_STREAM_PARTS];
	unsigned nparts = 1, helpers = 0;

	if (!x->sequential && nwin > 1 && stateless(&s->programs[x->pind]))
		helpers = csd_engine_helpers(s, req);
	if (helpers > MAX_STREAM_PARTS - 1)
		helpers = MAX_STREAM_PARTS - 1;
	if (helpers >= nwin)
		helpers = (unsigned)nwin - 1;
	memset(parts, 0, sizeof(parts));
	parts[0].req = req;
	parts[0].first = 0;
	if (helpers) {
		/* each window's length, to find cuts with a whole overlap before them */
		struct window_cursor cur;
		uint64_t w = 0, lba, nlb, prev_nlb = 0;
		unsigned k = 1;

		cursor_start(x, &cur);
		for (; w < nwin && k <= helpers; w++) {
			uint64_t want = nwin * k / (helpers + 1);

			cursor_next(x, wblocks, &cur, &lba, &nlb);
			if (w >= want && w > parts[k - 1].first &&
			    prev_nlb * s->nvm.lba_size >= x->overlap) {
				parts[k - 1].end = w;
				parts[k].req = req;
				parts[k].first = w;
				k++;
			}
			prev_nlb = nlb;
		}
		nparts = k;
	}
	parts[nparts - 1].end = nwin;
	if (nparts > 1)
		csd_engine_run_parts(s, worker, parts, nparts);
	else
		csd_stream_part_run(s, &parts[0], worker);
	*bytes = 0;
	for (unsigned k = 0; k < nparts; k++) {
		const struct csd_stream_part *p = &parts[k];

		*bytes += p->bytes;
		res->insns += p->res.insns;
		if (p->res.err && !res->err) {
			res->err = p->res.err;
			res->fault = p->res.fault;
		}
		if (p->res.nvalues)
			res->value = res->nvalues ? csd_stream_combine(x->combine, res->value,
								      p->res.value)
						  : p->res.value;
		res->nvalues += p->res.nvalues;
	}
}
