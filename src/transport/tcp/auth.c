/* SPDX-License-Identifier: MIT */
/*
 * NVMe in-band authentication, the controller's side of DH-HMAC-CHAP, one transaction per
 * queue: Authentication Send carries the host's messages (Negotiate, Reply, Success2, Failure2),
 * Authentication Receive fetches the controller's (Challenge, Success1, Failure1). A queue of a
 * host that has a secret answers everything but these and Connect with Authentication Required
 * until its transaction succeeds. A protocol error is not a command error: the command
 * completes and the next Receive carries Failure1, as the Linux host expects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../../auth/dhchap_proto.h"
#include "target_internal.h"

#define SC_GEN(sc)	(CSD_NVME_STATUS(0, (sc)) | CSD_NVME_DNR)

struct tcp_auth {
	struct tcp_host_key key;	/* a copy: the target's keys may be replaced meanwhile */
	bool required;		/* the host has a secret: nothing else until authenticated */
	bool authenticated;
	bool busy;		/* a message is with the worker */
	uint16_t (*job)(struct tcp_queue *q, struct tcp_cmd *c);
	uint16_t job_status;
	uint8_t step;		/* the message expected next, or Failure1 to send */
	uint8_t status;		/* why it failed: enum dhchap_failure_reason */
	uint16_t tid;
	uint8_t hash_id, dhgroup;
	size_t hl;
	uint32_t s1, s2;
	uint8_t c1[DHCHAP_MAX_HASH_LEN], c2[DHCHAP_MAX_HASH_LEN];
	bool c2_valid;
	struct dhchap_dh *dh;
	uint8_t sess_key[DHCHAP_MAX_DH_LEN];
	size_t sess_key_len;
};

static int worker_start(struct tcp_target *t);
static void worker_stop(struct tcp_target *t);

static void free_keys(struct tcp_host_key *keys, size_t n)
{
	if (keys)
		OPENSSL_cleanse(keys, n * sizeof(*keys));
	free(keys);
}

/* A hash and a DH group by name (NULL: keep *hash, *group); -EINVAL naming the bad one. */
static int parse_prefs(const char *hash_name, const char *group_name, uint8_t *hash,
		       uint8_t *group, const char *who, char *err, size_t err_size)
{
	int id;

	if (hash_name) {
		if ((id = csd_dhchap_hash_id(hash_name)) < 0) {
			snprintf(err, err_size, "%sDH-HMAC-CHAP hash '%s': sha256, sha384 or sha512",
				 who, hash_name);
			return -EINVAL;
		}
		*hash = (uint8_t)id;
	}
	if (group_name) {
		if ((id = csd_dhchap_dhgroup_id(group_name)) < 0) {
			snprintf(err, err_size, "%sDH group '%s': null or ffdhe2048, 3072, 4096, "
				 "6144, 8192", who, group_name);
			return -EINVAL;
		}
		*group = (uint8_t)id;
	}
	return 0;
}

/* Host secrets in DHHC-1 form -> parsed keys; -EINVAL with the host and the problem named. */
static int parse_keys(const struct tcp_target *t, const struct csd_tcp_host_secret *secrets,
		      size_t n, struct tcp_host_key **out, char *err, size_t err_size)
{
	struct tcp_host_key *keys = calloc(n, sizeof(*keys));

	if (!keys) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct csd_tcp_host_secret *s = &secrets[i];
		struct tcp_host_key *k = &keys[i];
		char why[160];

		if (!s->hostnqn || !*s->hostnqn || strlen(s->hostnqn) >= sizeof(k->hostnqn)) {
			snprintf(err, err_size, "host secret %zu: a host NQN of 1 to %zu characters",
				 i + 1, sizeof(k->hostnqn) - 1);
			goto fail;
		}
		snprintf(k->hostnqn, sizeof(k->hostnqn), "%s", s->hostnqn);
		if (csd_dhchap_key_parse(s->secret, &k->host, why, sizeof(why))) {
			snprintf(err, err_size, "host %s: %s", s->hostnqn, why);
			goto fail;
		}
		if (s->ctrl_secret) {
			if (csd_dhchap_key_parse(s->ctrl_secret, &k->ctrl, why, sizeof(why))) {
				snprintf(err, err_size, "host %s, controller secret: %s", s->hostnqn,
					 why);
				goto fail;
			}
			k->has_ctrl = true;
		}
		k->hash = t->dhchap_hash;
		k->dhgroup = t->dhchap_dhgroup;
		snprintf(why, sizeof(why), "host %s: ", s->hostnqn);
		if (parse_prefs(s->dhchap_hash, s->dhchap_dhgroup, &k->hash, &k->dhgroup, why, err,
				err_size))
			goto fail;
	}
	*out = keys;
	return 0;
fail:
	free_keys(keys, n);
	return -EINVAL;
}

int tcp_auth_configure(struct tcp_target *t, char *err, size_t err_size)
{
	const struct csd_tcp_target_config *cfg = &t->cfg;

	t->dhchap_hash = CSD_DHCHAP_SHA256;
	t->dhchap_dhgroup = CSD_DHCHAP_FFDHE2048;
	if (parse_prefs(cfg->dhchap_hash, cfg->dhchap_dhgroup, &t->dhchap_hash, &t->dhchap_dhgroup,
			"", err, err_size))
		return -EINVAL;
	if (!cfg->nhost_secrets)
		return 0;
	if (parse_keys(t, cfg->host_secrets, cfg->nhost_secrets, &t->host_keys, err, err_size))
		return -EINVAL;
	t->nhost_keys = cfg->nhost_secrets;
	if (worker_start(t)) {
		snprintf(err, err_size, "cannot start the authentication thread");
		tcp_auth_unconfigure(t);
		return -EINVAL;
	}
	return 0;
}

void tcp_auth_unconfigure(struct tcp_target *t)
{
	worker_stop(t);
	free_keys(t->host_keys, t->nhost_keys);
	t->host_keys = NULL;
	t->nhost_keys = 0;
	free_keys(t->next_keys, t->nnext_keys);
	t->next_keys = NULL;
}

int csd_tcp_target_set_host_secrets(struct csd_tcp_target *tt,
				    const struct csd_tcp_host_secret *secrets, size_t n, char *err,
				    size_t err_size)
{
	struct tcp_target *t = (struct tcp_target *)tt;
	struct tcp_host_key *keys, *old;
	size_t nold;
	uint64_t one = 1;
	ssize_t w;

	if (!t->auth_worker) {
		snprintf(err, err_size, "the target was started without host secrets");
		return -EINVAL;
	}
	if (!n) {
		snprintf(err, err_size, "no hosts: at least one host secret");
		return -EINVAL;
	}
	if (parse_keys(t, secrets, n, &keys, err, err_size))
		return -EINVAL;
	/* the loop takes them between two events (tcp_auth_take_new_keys) */
	pthread_mutex_lock(&t->lock);
	old = t->next_keys;
	nold = t->nnext_keys;
	t->next_keys = keys;
	t->nnext_keys = n;
	pthread_mutex_unlock(&t->lock);
	free_keys(old, nold);
	w = write(t->evfd, &one, sizeof(one));
	(void)w;
	return 0;
}

void tcp_auth_take_new_keys(struct tcp_target *t)
{
	struct tcp_host_key *keys;
	size_t n;

	pthread_mutex_lock(&t->lock);
	keys = t->next_keys;
	n = t->nnext_keys;
	t->next_keys = NULL;
	pthread_mutex_unlock(&t->lock);
	if (!keys)
		return;
	/* queues hold copies of their host's key: the old array has no other user */
	free_keys(t->host_keys, t->nhost_keys);
	t->host_keys = keys;
	t->nhost_keys = n;
}

const struct tcp_host_key *tcp_auth_host_key(const struct tcp_target *t, const char *hostnqn)
{
	for (size_t i = 0; i < t->nhost_keys; i++)
		if (!strcmp(t->host_keys[i].hostnqn, hostnqn))
			return &t->host_keys[i];
	return NULL;
}

int tcp_auth_queue_init(struct tcp_queue *q, const struct tcp_host_key *key)
{
	q->auth = calloc(1, sizeof(*q->auth));
	if (!q->auth)
		return -ENOMEM;
	if (key) {
		q->auth->key = *key;
		q->auth->required = true;
	}
	q->auth->step = DHCHAP_MSG_NEGOTIATE;
	return 0;
}

/* Forget the transaction's secrets; the queue keeps whether it is authenticated. */
static void transaction_end(struct tcp_auth *a, uint8_t next_step)
{
	dhchap_dh_free(a->dh);
	a->dh = NULL;
	OPENSSL_cleanse(a->sess_key, sizeof(a->sess_key));
	OPENSSL_cleanse(a->c1, sizeof(a->c1));
	OPENSSL_cleanse(a->c2, sizeof(a->c2));
	a->sess_key_len = 0;
	a->c2_valid = false;
	a->step = next_step;
}

void tcp_auth_queue_free(struct tcp_queue *q)
{
	if (!q->auth)
		return;
	transaction_end(q->auth, DHCHAP_MSG_NEGOTIATE);
	OPENSSL_cleanse(&q->auth->key, sizeof(q->auth->key));
	free(q->auth);
	q->auth = NULL;
}

bool tcp_auth_pending(const struct tcp_queue *q)
{
	return q->auth && q->auth->required && !q->auth->authenticated;
}

/*
 * The Diffie-Hellman work (a key pair for the Challenge, the shared secret for the Reply) runs
 * on one worker thread, not on the event loop: an ffdhe8192 exponentiation takes tens of
 * milliseconds, and a host that offers only the biggest group must not stall every other
 * host. The command goes back to the loop as a drive command does (cmd_done), where `finish`
 * applies the result to the queue's state.
 */
struct tcp_auth_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* work queued, or a job finished */
	struct tcp_cmd *head, *tail;	/* linked by next_done until run */
	unsigned pending;		/* queued or running */
	bool stop;
};

static void *worker_main(void *arg)
{
	struct tcp_auth_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct tcp_cmd *c;
		struct tcp_auth *a;

		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->head)
			break;
		c = w->head;
		w->head = c->next_done;
		if (!w->head)
			w->tail = NULL;
		pthread_mutex_unlock(&w->lock);
		a = c->q->auth;
		a->job_status = a->job(c->q, c);
		c->req.done(&c->req);	/* to the loop; neither c nor its queue is ours now */
		pthread_mutex_lock(&w->lock);
		w->pending--;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int worker_start(struct tcp_target *t)
{
	struct tcp_auth_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, worker_main, w)) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return -EAGAIN;
	}
	t->auth_worker = w;
	return 0;
}

void tcp_auth_quiesce(struct tcp_target *t)
{
	struct tcp_auth_worker *w = t->auth_worker;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	while (w->pending)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

static void worker_stop(struct tcp_target *t)
{
	struct tcp_auth_worker *w = t->auth_worker;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
	t->auth_worker = NULL;
}

/* Status of an authentication command; its step restarts the time limit, and on the admin
 * queue it counts as keep alive. */
static void auth_complete(struct tcp_queue *q, struct tcp_cmd *c, uint16_t status)
{
	if (status)
		c->req.c2h_len = 0;
	q->auth_ms = tcp_now_ms();
	if (q->qid == 0 && q->assoc && q->assoc->ctrl)
		csd_ctrl_set_kato(q->assoc->ctrl, csd_ctrl_kato_ms(q->assoc->ctrl));
	tcp_cmd_status(c, status);
}

/* Hand c to the worker: it runs job, then the loop runs finish and responds. */
static void to_worker(struct tcp_queue *q, struct tcp_cmd *c,
		      uint16_t (*job)(struct tcp_queue *, struct tcp_cmd *),
		      void (*finish)(struct tcp_cmd *))
{
	struct tcp_auth_worker *w = q->t->auth_worker;
	struct tcp_auth *a = q->auth;

	a->busy = true;
	a->job = job;
	c->finish = finish;
	c->submitted = true;
	q->outstanding++;
	/* w exists: a transaction gets this far only with a host key, and keys start the worker */
	c->next_done = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next_done = c;
	else
		w->head = c;
	w->tail = c;
	w->pending++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void authenticated(struct tcp_queue *q)
{
	struct tcp_auth *a = q->auth;

	a->authenticated = true;
	if (q->t->cfg.verbose)
		fprintf(stderr, "csd-target: %s: queue %u of %s authenticated (%s, %s%s)\n", q->peer,
			q->qid, a->key.hostnqn, csd_dhchap_hash_name(a->hash_id),
			csd_dhchap_dhgroup_name(a->dhgroup), a->c2_valid ? ", both ways" : "");
}

static void fail(struct tcp_queue *q, uint8_t why)
{
	struct tcp_auth *a = q->auth;

	a->authenticated = false;
	a->status = why;
	transaction_end(a, DHCHAP_MSG_FAILURE1);
	if (q->t->cfg.verbose)
		fprintf(stderr, "csd-target: %s: authentication of %s failed: %s\n", q->peer,
			q->assoc ? q->assoc->hostnqn : "?", dhchap_failure_name(why));
}

/*
 * The configured identifier if the host offers it, else the first offered in [lo, hi]; -1 if
 * none. DH groups are numbered by size: hi = the configured group means never a bigger one
 * (the configured group bounds what one authentication costs the target), lo = 1 means never
 * none when a group was configured.
 */
static int pick(const uint8_t *ids, unsigned n, unsigned preferred, unsigned lo, unsigned hi)
{
	int first = -1;

	for (unsigned i = 0; i < n; i++) {
		if (ids[i] == preferred)
			return ids[i];
		if (first < 0 && ids[i] >= lo && ids[i] <= hi)
			first = ids[i];
	}
	return first;
}

static void on_negotiate(struct tcp_queue *q, const uint8_t *msg, uint32_t len)
{
	const struct dhchap_negotiate *n = (const void *)msg;
	const struct dhchap_protocol_desc *d = NULL;
	const struct tcp_host_key *key;
	struct tcp_auth *a = q->auth;
	int hash, group;

	transaction_end(a, DHCHAP_MSG_NEGOTIATE);
	a->tid = n->t_id;
	/* each authentication takes the host's secret as it is now (reloaded keys included) */
	key = tcp_auth_host_key(q->t, q->assoc->hostnqn);
	if (!key) {
		fail(q, DHCHAP_FAIL_NOT_USABLE);	/* no secret for this host (now) */
		return;
	}
	a->key = *key;
	if (n->sc_c != 0) {
		fail(q, DHCHAP_FAIL_CONCAT_MISMATCH);	/* secure channels: not offered */
		return;
	}
	if (n->napd == 0 || len < sizeof(*n) + (size_t)n->napd * sizeof(*d)) {
		fail(q, DHCHAP_FAIL_INCORRECT_PAYLOAD);
		return;
	}
	for (unsigned i = 0; i < n->napd && !d; i++)
		if (n->desc[i].authid == DHCHAP_AUTH_ID)
			d = &n->desc[i];
	if (!d) {
		fail(q, DHCHAP_FAIL_NOT_USABLE);
		return;
	}
	if (d->halen > 30 || d->dhlen > 30) {
		fail(q, DHCHAP_FAIL_INCORRECT_PAYLOAD);
		return;
	}
	hash = pick(d->idlist, d->halen, a->key.hash, CSD_DHCHAP_SHA256, CSD_DHCHAP_SHA512);
	if (hash < 0) {
		fail(q, DHCHAP_FAIL_HASH_UNUSABLE);
		return;
	}
	group = pick(d->idlist + 30, d->dhlen, a->key.dhgroup,
		     a->key.dhgroup == CSD_DHCHAP_DH_NULL ? 0 : 1, a->key.dhgroup);
	if (group < 0) {
		fail(q, DHCHAP_FAIL_DHGROUP_UNUSABLE);
		return;
	}
	a->hash_id = (uint8_t)hash;
	a->hl = dhchap_hash_len((unsigned)hash);
	a->dhgroup = (uint8_t)group;
	a->step = DHCHAP_MSG_CHALLENGE;
}

/*
 * The Reply, on the worker: the session key, R1 checked in constant time; C2 kept when the host
 * wants the controller authenticated too. Returns the failure reason, 0 if the host is who it
 * says. Touches only the transaction (the loop leaves it alone while the queue is busy).
 */
static uint16_t check_reply(struct tcp_queue *q, struct tcp_cmd *c)
{
	const struct dhchap_reply *r = (const void *)c->buf;
	struct tcp_auth *a = q->auth;
	uint8_t expect[DHCHAP_MAX_HASH_LEN];
	struct dhchap_response_in in = {
		.key = &a->key.host, .hash_id = a->hash_id, .challenge = a->c1,
		.seqnum = a->s1, .tid = a->tid, .hostnqn = a->key.hostnqn,
		.subnqn = csd_subsys_nqn(q->t->subsys),
	};
	bool match;

	if (r->hl != a->hl || sizeof(*r) + 2 * (size_t)r->hl + r->dhvlen > c->len ||
	    (r->dhvlen != 0) != (a->dh != NULL))
		return DHCHAP_FAIL_INCORRECT_PAYLOAD;
	if (a->dh) {
		if (dhchap_dh_derive(a->dh, r->rval + 2 * a->hl, r->dhvlen, a->sess_key,
				     &a->sess_key_len))
			return DHCHAP_FAIL_DHGROUP_UNUSABLE;
		in.sess_key = a->sess_key;
		in.sess_key_len = a->sess_key_len;
	}
	match = !dhchap_response(&in, expect) && dhchap_equal(expect, r->rval, a->hl);
	OPENSSL_cleanse(expect, sizeof(expect));
	if (!match)
		return DHCHAP_FAIL_FAILED;
	if (r->cvalid) {
		/* the host authenticates the controller too: it needs our secret */
		if (!a->key.has_ctrl || r->seqnum == 0)
			return DHCHAP_FAIL_FAILED;
		memcpy(a->c2, r->rval + a->hl, a->hl);
		a->c2_valid = true;
		a->s2 = r->seqnum;
	}
	return 0;
}

/* Back on the loop: what the Reply decided. */
static void reply_checked(struct tcp_cmd *c)
{
	struct tcp_queue *q = c->q;
	struct tcp_auth *a = q->auth;

	a->busy = false;
	if (a->job_status) {
		fail(q, (uint8_t)a->job_status);
	} else {
		if (!a->c2_valid)
			authenticated(q);	/* else by Success2 */
		a->step = DHCHAP_MSG_SUCCESS1;
	}
	auth_complete(q, c, 0);
}

/* Authentication Send: a message from the host; true when it is a Reply for the worker. */
static bool auth_send(struct tcp_queue *q, struct tcp_cmd *c)
{
	const struct dhchap_failure *h = (const void *)c->buf;
	struct tcp_auth *a = q->auth;

	if (c->len < sizeof(*h)) {
		fail(q, DHCHAP_FAIL_INCORRECT_PAYLOAD);
		return false;
	}
	if (h->auth_type == DHCHAP_TYPE_COMMON && h->auth_id == DHCHAP_MSG_NEGOTIATE) {
		if (c->len < sizeof(struct dhchap_negotiate) + sizeof(struct dhchap_protocol_desc)) {
			fail(q, DHCHAP_FAIL_INCORRECT_PAYLOAD);
			return false;
		}
		on_negotiate(q, c->buf, c->len);
		return false;
	}
	if (h->auth_type == DHCHAP_TYPE_COMMON && h->auth_id == DHCHAP_MSG_FAILURE2) {
		/* the host refused us (a wrong controller response): the queue stays locked */
		if (h->t_id == a->tid)
			fail(q, h->rescode_exp);
		return false;
	}
	if (h->auth_type != DHCHAP_TYPE_DHCHAP || h->auth_id != a->step || h->t_id != a->tid) {
		fail(q, DHCHAP_FAIL_INCORRECT_MESSAGE);
		return false;
	}
	if (h->auth_id == DHCHAP_MSG_REPLY) {
		if (c->len < sizeof(struct dhchap_reply)) {
			fail(q, DHCHAP_FAIL_INCORRECT_PAYLOAD);
			return false;
		}
		return true;
	} else if (h->auth_id == DHCHAP_MSG_SUCCESS2) {
		authenticated(q);
		transaction_end(a, DHCHAP_MSG_NEGOTIATE);
	} else {
		fail(q, DHCHAP_FAIL_INCORRECT_MESSAGE);
	}
	return false;
}

/* The Challenge, on the worker: C1, S1 and a new DH key pair (the expensive part). */
static uint16_t send_challenge(struct tcp_queue *q, struct tcp_cmd *c)
{
	struct dhchap_challenge *m = (void *)c->buf;
	struct tcp_auth *a = q->auth;
	size_t dhlen = dhchap_dh_len(a->dhgroup), pub_len = 0;

	if (c->len < sizeof(*m) + a->hl + dhlen)
		return SC_GEN(NVME_SC_INVALID_FIELD);
	do {
		if (dhchap_random(&a->s1, sizeof(a->s1)) || dhchap_random(a->c1, a->hl))
			return SC_GEN(NVME_SC_INTERNAL);
	} while (a->s1 == 0);
	/* the public value goes straight into the message, after C1 */
	if (dhlen && dhchap_dh_new(a->dhgroup, &a->dh, m->cval + a->hl, &pub_len))
		return SC_GEN(NVME_SC_INTERNAL);
	m->auth_type = DHCHAP_TYPE_DHCHAP;
	m->auth_id = DHCHAP_MSG_CHALLENGE;
	m->t_id = a->tid;
	m->hl = (uint8_t)a->hl;
	m->hashid = a->hash_id;
	m->dhgid = a->dhgroup;
	m->dhvlen = (uint16_t)pub_len;
	m->seqnum = a->s1;
	memcpy(m->cval, a->c1, a->hl);
	return 0;
}

/* Back on the loop: the Challenge is made (or could not be). */
static void challenge_made(struct tcp_cmd *c)
{
	struct tcp_queue *q = c->q;
	struct tcp_auth *a = q->auth;

	a->busy = false;
	if (!a->job_status)
		a->step = DHCHAP_MSG_REPLY;
	auth_complete(q, c, a->job_status);
}

static uint16_t send_success1(struct tcp_queue *q, struct tcp_cmd *c)
{
	struct dhchap_success1 *m = (void *)c->buf;
	struct tcp_auth *a = q->auth;

	if (c->len < sizeof(*m) + (a->c2_valid ? a->hl : 0))
		return SC_GEN(NVME_SC_INVALID_FIELD);
	m->auth_type = DHCHAP_TYPE_DHCHAP;
	m->auth_id = DHCHAP_MSG_SUCCESS1;
	m->t_id = a->tid;
	m->hl = (uint8_t)a->hl;
	if (a->c2_valid) {
		struct dhchap_response_in in = {
			.key = &a->key.ctrl, .hash_id = a->hash_id, .challenge = a->c2,
			.sess_key = a->dh ? a->sess_key : NULL, .sess_key_len = a->sess_key_len,
			.seqnum = a->s2, .tid = a->tid, .controller = true,
			.hostnqn = q->assoc->hostnqn, .subnqn = csd_subsys_nqn(q->t->subsys),
		};

		if (dhchap_response(&in, m->rval))
			return SC_GEN(NVME_SC_INTERNAL);
		m->rvalid = 1;
		transaction_end(a, DHCHAP_MSG_SUCCESS2);	/* authenticated by Success2 */
	} else {
		transaction_end(a, DHCHAP_MSG_NEGOTIATE);
	}
	return 0;
}

/* Authentication Receive: the controller's next message. */
static uint16_t auth_receive(struct tcp_queue *q, struct tcp_cmd *c)
{
	struct tcp_auth *a = q->auth;
	struct dhchap_failure *f = (void *)c->buf;

	if (a->step == DHCHAP_MSG_SUCCESS1)
		return send_success1(q, c);
	if (c->len < sizeof(*f))
		return SC_GEN(NVME_SC_INVALID_FIELD);
	if (a->step != DHCHAP_MSG_FAILURE1)
		fail(q, DHCHAP_FAIL_INCORRECT_MESSAGE);	/* nothing to receive now */
	f->auth_type = DHCHAP_TYPE_COMMON;
	f->auth_id = DHCHAP_MSG_FAILURE1;
	f->t_id = a->tid;
	f->rescode = 0x01;
	f->rescode_exp = a->status;
	a->step = DHCHAP_MSG_NEGOTIATE;
	return 0;
}

void tcp_auth_cmd(struct tcp_queue *q, struct tcp_cmd *c)
{
	const struct csd_nvme_sqe *cmd = &c->req.cmd;
	bool send = (cmd->nsid & 0xff) == nvme_fabrics_type_auth_send;
	uint8_t secp = (uint8_t)(cmd->cdw10 >> 24), spsp0 = (uint8_t)(cmd->cdw10 >> 8);
	uint8_t spsp1 = (uint8_t)(cmd->cdw10 >> 16);
	uint16_t status = 0;

	if (secp != DHCHAP_SECP || spsp0 != DHCHAP_SPSP || spsp1 != DHCHAP_SPSP ||
	    cmd->cdw11 == 0) {
		status = SC_GEN(NVME_SC_INVALID_FIELD);
	} else if (cmd->cdw11 != c->len || cmd->cdw11 > DHCHAP_MSG_MAX) {
		status = SC_GEN(NVME_SC_SGL_INVALID_DATA);
	} else if (!q->auth && tcp_auth_queue_init(q, NULL)) {
		status = SC_GEN(NVME_SC_INTERNAL);
	} else if (q->auth->busy) {
		status = SC_GEN(NVME_SC_CMD_SEQ_ERROR);	/* one message at a time */
	} else if (send) {
		if (auth_send(q, c)) {
			to_worker(q, c, check_reply, reply_checked);
			return;
		}
	} else {
		memset(c->buf, 0, c->len);
		c->req.c2h_len = c->len;
		if (q->auth->step == DHCHAP_MSG_CHALLENGE) {
			to_worker(q, c, send_challenge, challenge_made);
			return;
		}
		status = auth_receive(q, c);
	}
	auth_complete(q, c, status);
	tcp_cmd_respond(c);
}
