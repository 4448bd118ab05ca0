/* SPDX-License-Identifier: MIT */
/*
 * Program activation off the caller's thread: proving a program safe can take the verifier its
 * whole time limit, and the caller is the transport's network thread, which every other host's
 * commands go through. Activations queue here and one worker thread builds and verifies them,
 * then completes the command (as the engine completes Executes). A controller that goes away
 * takes its queued activations with it and waits for the one being verified.
 */
#include <errno.h>
#include <stdlib.h>

#include "device_internal.h"

static void *verifier_main(void *arg)
{
	struct csd_subsys *s = arg;
	struct csd_verifier *w = &s->verifier;

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
		w->busy_ctrl = req->ctrl;
		pthread_mutex_unlock(&w->lock);
		csd_program_activate_finish(req);
		pthread_mutex_lock(&w->lock);
		w->busy_ctrl = NULL;
		pthread_cond_broadcast(&w->cond);	/* verifier_abort_ctrl may be waiting */
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int csd_verifier_start(struct csd_subsys *s)
{
	struct csd_verifier *w = &s->verifier;
	int err;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	err = pthread_create(&w->thread, NULL, verifier_main, s);
	if (err) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		return -err;
	}
	w->started = true;
	return 0;
}

void csd_verifier_stop(struct csd_subsys *s)
{
	struct csd_verifier *w = &s->verifier;

	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	w->started = false;
}

void csd_verifier_queue(struct csd_subsys *s, struct csd_req *req)
{
	struct csd_verifier *w = &s->verifier;

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

void csd_verifier_abort_ctrl(struct csd_subsys *s, struct csd_ctrl *ctrl)
{
	struct csd_verifier *w = &s->verifier;
	struct csd_req *taken = NULL, **link;

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
	while (w->busy_ctrl == ctrl)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	while (taken) {
		struct csd_req *r = taken;

		taken = r->next;
		csd_program_activate_cancel(r);
	}
}
