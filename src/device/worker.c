/* SPDX-License-Identifier: MIT */
/*
 * Work that must not run on the caller's thread: the caller is the transport's network thread,
 * which every other host's commands go through. Proving a program safe can take the verifier
 * its whole time limit; fdatasync, Write Zeroes, Copy and Memory Copy can take as long as the
 * disk wants (Linux's nvmet runs such work on workqueues for the same reason). A request
 * queued here is run by one of the worker's threads, which completes it. A controller that
 * goes away takes its queued requests with it (completed as aborted) and waits for those being
 * worked on.
 */
#include <errno.h>
#include <stdlib.h>

#include "device_internal.h"

struct worker_arg {
	struct csd_worker *w;
	unsigned index;
};

static void *worker_main(void *argp)
{
	struct worker_arg *arg = argp;
	struct csd_worker *w = arg->w;
	unsigned index = arg->index;

	free(arg);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct csd_req *req;

		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->head)
			break;
		req = w->head;
		w->head = req->next;
		if (!w->head)
			w->tail = NULL;
		w->busy_ctrl[index] = req->ctrl;
		pthread_mutex_unlock(&w->lock);
		req->deferred(req);	/* completes req */
		pthread_mutex_lock(&w->lock);
		w->busy_ctrl[index] = NULL;
		pthread_cond_broadcast(&w->cond);	/* csd_worker_abort_ctrl may be waiting */
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int csd_worker_start(struct csd_worker *w, unsigned nthreads)
{
	int err = 0;

	w->busy_ctrl = calloc(nthreads, sizeof(*w->busy_ctrl));
	w->threads = calloc(nthreads, sizeof(*w->threads));
	if (!w->busy_ctrl || !w->threads) {
		free(w->busy_ctrl);
		free(w->threads);
		w->busy_ctrl = NULL;
		w->threads = NULL;
		return -ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->started = true;
	for (unsigned i = 0; i < nthreads && !err; i++) {
		struct worker_arg *arg = malloc(sizeof(*arg));

		if (!arg) {
			err = -ENOMEM;
			break;
		}
		arg->w = w;
		arg->index = i;
		err = -pthread_create(&w->threads[i], NULL, worker_main, arg);
		if (err)
			free(arg);
		else
			w->nthreads++;
	}
	if (err)
		csd_worker_stop(w);	/* the threads already started stop before we return */
	return err;
}

void csd_worker_stop(struct csd_worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->threads);
	free(w->busy_ctrl);
	w->threads = NULL;
	w->busy_ctrl = NULL;
	w->nthreads = 0;
	w->started = false;
}

void csd_worker_queue(struct csd_worker *w, struct csd_req *req, void (*fn)(struct csd_req *))
{
	req->deferred = fn;
	req->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = req;
	else
		w->head = req;
	w->tail = req;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void csd_worker_abort_ctrl(struct csd_worker *w, struct csd_ctrl *ctrl,
			   void (*cancel)(struct csd_req *))
{
	struct csd_req *taken = NULL, **link;
	bool busy = true;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	for (link = &w->head, w->tail = NULL; *link;) {
		struct csd_req *r = *link;

		if (r->ctrl == ctrl) {
			*link = r->next;
			r->next = taken;
			taken = r;
		} else {
			w->tail = r;
			link = &r->next;
		}
	}
	while (busy) {
		busy = false;
		for (unsigned i = 0; i < w->nthreads; i++)
			busy |= w->busy_ctrl[i] == ctrl;
		if (busy)
			pthread_cond_wait(&w->cond, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	while (taken) {
		struct csd_req *r = taken;

		taken = r->next;
		cancel(r);
	}
}
