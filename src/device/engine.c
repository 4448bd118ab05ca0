/* SPDX-License-Identifier: MIT */
/*
 * The compute engine: Execute Program runs on worker threads, never on the thread that
 * submitted it, so reads and writes on other queues keep flowing while a program runs.
 * A run has a budget (instructions in the interpreter, loop iterations in the JIT's checked
 * code; none for a verified program in the JIT) and, with a watchdog thread, a wall-clock limit;
 * Abort (or a
 * controller going away) stops a waiting run at once and a running one within 65536
 * instructions. The streaming Execute reads NVM ranges in windows into a drive-internal
 * buffer, carrying `overlap` bytes from each window into the next, and adds up the results.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device_internal.h"

/* r0 of one more run, combined with those before as the command asked (a sum by default) */
static void add_value(struct csd_run_result *res, unsigned combine, uint64_t r0)
{
	res->value = res->nvalues ? csd_stream_combine(combine, res->value, r0) : r0;
	res->nvalues++;
}

void csd_run_once(struct csd_subsys *s, struct csd_req *req, unsigned worker, uint8_t *mem,
		  uint64_t len, struct csd_run_result *res)
{
	struct csd_program *p = &s->programs[req->exec->pind];
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .budget = s->cfg.exec_budget,
		      .abort = &req->abort, .cpu_id = worker, .engine = s->cfg.engine);
	uint64_t r0 = 0;
	int err;

	if (p->builtin) {
		add_value(res, req->exec->combine,
			  p->builtin->run(mem, len, req->exec->p1, req->exec->p2));
		return;
	}
	opts.args[0] = req->exec->p1;
	opts.args[1] = req->exec->p2;
	err = csd_ebpf_prog__run(p->prog, mem, len, &opts, &r0);
	res->insns += opts.insns_executed;
	if (err) {
		res->err = err;
		res->fault = opts.fault;
		return;
	}
	add_value(res, req->exec->combine, r0);
}

/*
 * Program input in a sandbox, so that verified programs run over it as sandboxed JIT code; in
 * ordinary memory (guarded JIT code) when it is too large for one (4 GiB).
 */
void *csd_input_alloc(size_t size, bool *sandboxed)
{
	void *p = csd_ebpf_sandbox_alloc(size);

	*sandboxed = p != NULL;
	return p ? p : malloc(size);
}

void csd_input_free(void *p, bool sandboxed)
{
	if (sandboxed)
		csd_ebpf_sandbox_free(p);
	else
		free(p);
}

/* The ranges as one region: in place when they follow each other in SLM, else gathered. */
static void run_ranges(struct csd_subsys *s, struct csd_req *req, unsigned worker,
		       struct csd_run_result *res, uint64_t *bytes)
{
	struct csd_exec *x = req->exec;
	uint64_t total = 0;
	bool contiguous = true;
	uint8_t *mem, *bounce = NULL, *slm = x->nranges ? csd_slm_of(req) : NULL;
	bool sandboxed = false;

	for (unsigned i = 0; i < x->nranges; i++) {
		total += x->ranges[i].len;
		if (i && x->ranges[i].sb != x->ranges[i - 1].sb + x->ranges[i - 1].len)
			contiguous = false;
	}
	*bytes = total;
	if (x->nranges && !slm) {
		res->err = -ENOMEM;
		return;
	}
	if (x->nranges == 0) {
		mem = NULL;
	} else if (contiguous) {
		mem = slm + x->ranges[0].sb;
	} else {
		uint64_t at = 0;

		bounce = csd_input_alloc(total, &sandboxed);
		if (!bounce) {
			res->err = -ENOMEM;
			return;
		}
		for (unsigned i = 0; i < x->nranges; i++) {
			memcpy(bounce + at, slm + x->ranges[i].sb, x->ranges[i].len);
			at += x->ranges[i].len;
		}
		mem = bounce;
	}
	csd_run_once(s, req, worker, mem, total, res);
	if (bounce) {
		uint64_t at = 0;

		/* what the program wrote goes back to its ranges */
		for (unsigned i = 0; i < x->nranges; i++) {
			memcpy(slm + x->ranges[i].sb, bounce + at, x->ranges[i].len);
			at += x->ranges[i].len;
		}
		csd_input_free(bounce, sandboxed);
	}
}

static void finish(struct csd_subsys *s, struct csd_req *req, unsigned worker,
		   const struct csd_run_result *res, uint64_t bytes, uint64_t ns)
{
	struct csd_exec *x = req->exec;
	unsigned pind = x->pind;
	uint16_t status = SC_OK;

	REQ_STAT(req, program_executions, 1);
	REQ_STAT(req, program_insns, res->insns);
	REQ_STAT(req, program_exec_ns, ns);
	REQ_STAT(req, program[pind].executions, 1);
	REQ_STAT(req, program[pind].insns, res->insns);
	REQ_STAT(req, program[pind].exec_ns, ns);
	REQ_STAT(req, program[pind].bytes_in, bytes);
	if (res->err == -ECANCELED && !x->timed_out) {
		status = SC_ABORTED;
	} else if (res->err == -EIO || res->err == -ENOMEM) {
		status = SC_INTERNAL;
	} else if (res->err) {
		REQ_STAT(req, program_faults, 1);
		req->rsp.dw0 = res->fault.pc;
		req->rsp.dw1 = x->timed_out ? CSD_EBPF_FAULT_ABORTED : res->fault.kind;
		csd_error_reason(req->ctrl, "program %u stopped: %s", pind,
				 x->timed_out ? "time limit reached" : res->fault.msg);
		status = SC_CS(CSD_SC_VENDOR_PROGRAM_FAULT);
	} else {
		req->rsp.dw0 = (uint32_t)res->value;
		req->rsp.dw1 = (uint32_t)(res->value >> 32);
	}
	/*
	 * Abort and the watchdog must not find the request any more before its execution state
	 * goes (the watchdog reads req->exec: fuzz_device caught it reading it after the
	 * release) nor once done() runs and the transport may free it. Its controller stays
	 * marked busy until the completion returns.
	 */
	pthread_mutex_lock(&s->engine.lock);
	s->engine.running[worker] = NULL;
	pthread_mutex_unlock(&s->engine.lock);
	csd_exec_release(s, req);
	csd_req_complete(req, status);
}

static void execute(struct csd_subsys *s, struct csd_req *req, unsigned worker)
{
	struct csd_run_result res = { 0 };
	uint64_t t0 = csd_now_ns(), bytes = 0;

	if (req->abort)
		res.err = -ECANCELED;
	else if (req->exec->stream)
		csd_stream_run(s, req, worker, &res, &bytes);
	else
		run_ranges(s, req, worker, &res, &bytes);
	finish(s, req, worker, &res, bytes, csd_now_ns() - t0);
}

/*
 * The engines' fair share: with one host connected it may use them all; with h hosts, each
 * may run at most max(1, n / h) at once, so that one host's endless programs leave engines to
 * the others (a run cannot be preempted: its share is kept before it starts). Requests over
 * their host's share wait in the queue, behind none: the first one within its share goes.
 */
static unsigned host_share(const struct csd_subsys *s)
{
	unsigned n = s->engine.nthreads, h = s->connected_hosts;

	return h <= 1 ? n : n / h ? n / h : 1;
}

/*
 * The next request to run (e->lock held), taken off the queue; NULL when none may run. When
 * the engine stops, what is left runs (and is aborted) whatever the shares.
 */
static struct csd_req *take_next(struct csd_subsys *s)
{
	struct csd_engine *e = &s->engine;
	unsigned share = e->stop ? UINT_MAX : host_share(s);
	struct csd_req **link = &e->head, *prev = NULL;

	for (; *link; prev = *link, link = &(*link)->next) {
		struct csd_req *req = *link;
		const struct csd_host_usage *host = req->exec->host;
		unsigned running = 0;

		for (unsigned i = 0; host && i < e->nthreads; i++)
			running += e->running_host[i] == host;
		if (host && running >= share)
			continue;
		*link = req->next;
		if (e->tail == req)
			e->tail = prev;
		req->next = NULL;
		return req;
	}
	return NULL;
}

/*
 * A part of another thread's stream (e->lock held, and again on return): run as that
 * request's, so that Abort, the watchdog and the host's share see this thread working on it.
 */
static void run_lent_part(struct csd_subsys *s, unsigned index)
{
	struct csd_engine *e = &s->engine;
	struct csd_stream_part *part = e->parts;
	struct csd_req *req = part->req;

	e->parts = part->next;
	part->taken = true;
	e->running[index] = req;
	e->busy_ctrl[index] = req->ctrl;
	e->running_host[index] = req->exec->host;
	pthread_mutex_unlock(&e->lock);
	REQ_STAT(req, stream_parts_lent, 1);
	csd_stream_part_run(s, part, index);
	pthread_mutex_lock(&e->lock);
	part->done = true;
	e->running[index] = NULL;
	e->busy_ctrl[index] = NULL;
	e->running_host[index] = NULL;
	pthread_cond_broadcast(&e->cond);
}

unsigned csd_engine_helpers(struct csd_subsys *s, const struct csd_req *req)
{
	struct csd_engine *e = &s->engine;
	unsigned idle = 0, mine = 0, share;

	pthread_mutex_lock(&e->lock);
	share = host_share(s);
	for (unsigned i = 0; i < e->nthreads; i++) {
		idle += !e->running[i] && !e->busy_ctrl[i];
		mine += req->exec->host && e->running_host[i] == req->exec->host;
	}
	/* requests waiting for a thread go first: no lending while the queue is not empty */
	if (e->head)
		idle = 0;
	pthread_mutex_unlock(&e->lock);
	if (req->exec->host && mine >= share)
		return 0;
	if (req->exec->host && idle > share - mine)
		idle = share - mine;
	return idle;
}

void csd_engine_run_parts(struct csd_subsys *s, unsigned worker, struct csd_stream_part *parts,
			  unsigned nparts)
{
	struct csd_engine *e = &s->engine;
	bool all_done;

	pthread_mutex_lock(&e->lock);
	for (unsigned k = nparts - 1; k >= 1; k--) {
		parts[k].next = e->parts;
		e->parts = &parts[k];
	}
	parts[0].taken = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	csd_stream_part_run(s, &parts[0], worker);
	/* parts no other thread took are run here; then wait for the others */
	pthread_mutex_lock(&e->lock);
	parts[0].done = true;
	for (;;) {
		struct csd_stream_part **pp = &e->parts, *mine = NULL;

		while (*pp) {
			if ((*pp)->req == parts[0].req) {
				mine = *pp;
				*pp = mine->next;
				break;
			}
			pp = &(*pp)->next;
		}
		if (mine) {
			mine->taken = true;
			pthread_mutex_unlock(&e->lock);
			csd_stream_part_run(s, mine, worker);
			pthread_mutex_lock(&e->lock);
			mine->done = true;
			continue;
		}
		all_done = true;
		for (unsigned k = 0; k < nparts; k++)
			all_done &= parts[k].done;
		if (all_done)
			break;
		pthread_cond_wait(&e->cond, &e->lock);
	}
	pthread_mutex_unlock(&e->lock);
}

struct worker_arg {
	struct csd_subsys *s;
	unsigned index;
};

static void *worker_main(void *argp)
{
	struct worker_arg *arg = argp;
	struct csd_subsys *s = arg->s;
	struct csd_engine *e = &s->engine;
	unsigned index = arg->index;

	free(arg);
	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct csd_req *req = NULL;

		if (e->parts) {
			run_lent_part(s, index);
			continue;
		}
		while (!e->parts && !(req = take_next(s)) && !e->stop)
			pthread_cond_wait(&e->cond, &e->lock);
		if (!req && e->parts)
			continue;
		if (!req)
			break;	/* stopping, and nothing left */
		e->running[index] = req;
		e->busy_ctrl[index] = req->ctrl;
		e->running_host[index] = req->exec->host;
		if (s->cfg.exec_time_ms)
			req->exec->deadline_ns = csd_now_ns() + s->cfg.exec_time_ms * 1000000ull;
		pthread_mutex_unlock(&e->lock);
		execute(s, req, index);
		pthread_mutex_lock(&e->lock);
		e->busy_ctrl[index] = NULL;
		e->running_host[index] = NULL;
		/* abort_ctrl may be waiting, and a request its host's share held back may go now */
		pthread_cond_broadcast(&e->cond);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

/*
 * Every 5 ms: runs past their deadline are aborted, and every run with its abort flag set is
 * interrupted (again, until it returns): the JIT's code for a verified program has no budget
 * checks in its loops and notices the flag only when interrupted.
 */
static void *watchdog_main(void *argp)
{
	struct csd_subsys *s = argp;
	struct csd_engine *e = &s->engine;

	pthread_mutex_lock(&e->lock);
	while (!e->stop) {
		uint64_t now = csd_now_ns();

		for (unsigned i = 0; i < e->nthreads; i++) {
			struct csd_req *r = e->running[i];

			if (r && r->exec->deadline_ns && now > r->exec->deadline_ns && !r->abort) {
				r->exec->timed_out = true;
				r->abort = true;
			}
			if (r && r->abort)
				csd_ebpf_run_interrupt(e->threads[i]);
		}
		pthread_mutex_unlock(&e->lock);
		usleep(5000);
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int csd_engine_start(struct csd_subsys *s)
{
	struct csd_engine *e = &s->engine;

	e->nthreads = s->cfg.engine_threads;
	e->threads = calloc(e->nthreads, sizeof(*e->threads));
	e->running = calloc(e->nthreads, sizeof(*e->running));
	e->busy_ctrl = calloc(e->nthreads, sizeof(*e->busy_ctrl));
	e->running_host = calloc(e->nthreads, sizeof(*e->running_host));
	if (!e->threads || !e->running || !e->busy_ctrl || !e->running_host) {
		free(e->threads);
		free(e->running);
		free(e->busy_ctrl);
		free(e->running_host);
		e->threads = NULL;
		e->running = NULL;
		e->busy_ctrl = NULL;
		e->running_host = NULL;
		return -ENOMEM;
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	for (unsigned i = 0; i < e->nthreads; i++) {
		struct worker_arg *arg = malloc(sizeof(*arg));
		int err;

		if (!arg) {
			/* the workers already started must stop before the subsystem goes */
			e->nthreads = i;
			csd_engine_stop(s);
			return -ENOMEM;
		}
		arg->s = s;
		arg->index = i;
		err = pthread_create(&e->threads[i], NULL, worker_main, arg);
		if (err) {
			free(arg);
			e->nthreads = i;
			csd_engine_stop(s);
			return -err;
		}
	}
	if (!pthread_create(&e->watchdog, NULL, watchdog_main, s))
		e->has_watchdog = true;
	return 0;
}

void csd_engine_stop(struct csd_subsys *s)
{
	struct csd_engine *e = &s->engine;

	if (!e->threads)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	for (unsigned i = 0; i < e->nthreads; i++)
		pthread_join(e->threads[i], NULL);
	if (e->has_watchdog)
		pthread_join(e->watchdog, NULL);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e->threads);
	free(e->running);
	free(e->busy_ctrl);
	free(e->running_host);
	e->threads = NULL;
}

void csd_engine_reconsider(struct csd_subsys *s)
{
	struct csd_engine *e = &s->engine;

	if (!e->threads)
		return;
	pthread_mutex_lock(&e->lock);
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

void csd_engine_queue(struct csd_subsys *s, struct csd_req *req)
{
	struct csd_engine *e = &s->engine;

	req->next = NULL;
	pthread_mutex_lock(&e->lock);
	if (e->tail)
		e->tail->next = req;
	else
		e->head = req;
	e->tail = req;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

/* Take matching waiting requests off the queue into `out`; flag matching running ones. */
static bool abort_matching(struct csd_engine *e, struct csd_ctrl *ctrl, bool all, uint16_t qid,
			   uint16_t cid, struct csd_req **out)
{
	struct csd_req **pp = &e->head, *prev = NULL;
	bool found = false;

	while (*pp) {
		struct csd_req *r = *pp;

		if (r->ctrl == ctrl && (all || (r->qid == qid && r->cmd.cid == cid))) {
			*pp = r->next;
			r->next = *out;
			*out = r;
			found = true;
			continue;
		}
		prev = r;
		pp = &r->next;
	}
	e->tail = prev;
	for (unsigned i = 0; i < e->nthreads; i++) {
		struct csd_req *r = e->running[i];

		if (r && r->ctrl == ctrl && (all || (r->qid == qid && r->cmd.cid == cid))) {
			r->abort = true;
			found = true;
		}
	}
	return found;
}

static void complete_aborted(struct csd_subsys *s, struct csd_req *list)
{
	while (list) {
		struct csd_req *r = list;

		list = r->next;
		csd_exec_release(s, r);
		csd_req_complete(r, SC_ABORTED);
	}
}

bool csd_engine_abort(struct csd_subsys *s, struct csd_ctrl *ctrl, uint16_t qid, uint16_t cid)
{
	struct csd_engine *e = &s->engine;
	struct csd_req *taken = NULL;
	bool found;

	pthread_mutex_lock(&e->lock);
	found = abort_matching(e, ctrl, false, qid, cid, &taken);
	pthread_mutex_unlock(&e->lock);
	complete_aborted(s, taken);
	return found;
}

void csd_engine_abort_ctrl(struct csd_subsys *s, struct csd_ctrl *ctrl)
{
	struct csd_engine *e = &s->engine;
	struct csd_req *taken = NULL;
	bool busy = true;

	pthread_mutex_lock(&e->lock);
	abort_matching(e, ctrl, true, 0, 0, &taken);
	pthread_mutex_unlock(&e->lock);
	complete_aborted(s, taken);
	/* the controller may be freed only once none of its runs is still completing */
	pthread_mutex_lock(&e->lock);
	while (busy) {
		busy = false;
		for (unsigned i = 0; i < e->nthreads; i++)
			busy |= e->busy_ctrl[i] == ctrl;
		if (busy)
			pthread_cond_wait(&e->cond, &e->lock);
	}
	pthread_mutex_unlock(&e->lock);
}
