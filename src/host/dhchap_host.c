/* SPDX-License-Identifier: MIT */
/*
 * The host's side of DH-HMAC-CHAP on one queue, as the Linux host runs it: Negotiate (every
 * hash and DH group), Challenge, Reply (with C2 when the controller must prove itself too),
 * Success1, then Success2 or Failure2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <nvme/types.h>

#include "../auth/dhchap_proto.h"
#include "tcp_host.h"

struct host_chap {
	const struct dhchap_host_creds *cr;
	struct tcp_host *h;
	uint16_t qid, tid;
	unsigned hash_id, dhgroup;
	size_t hl;
	uint32_t s2;
	uint8_t c2[DHCHAP_MAX_HASH_LEN];
	struct dhchap_dh *dh;
	uint8_t sess_key[DHCHAP_MAX_DH_LEN];
	size_t sess_key_len;
	uint8_t *buf;		/* DHCHAP_MSG_MAX */
};

static int auth_cmd(struct host_chap *x, bool send, uint32_t len, struct csd_nvme_cqe *cqe)
{
	struct csd_nvme_sqe c = {
		.opcode = nvme_admin_fabrics,
		.nsid = send ? nvme_fabrics_type_auth_send : nvme_fabrics_type_auth_receive,
		.cdw10 = (uint32_t)DHCHAP_SECP << 24 | DHCHAP_SPSP << 16 | DHCHAP_SPSP << 8,
		.cdw11 = len,
	};

	return tcp_host_cmd(x->h, x->qid, &c, x->buf, len, cqe);
}

/* Send buf's first len bytes; -EIO with a message if the command fails. */
static int send_msg(struct host_chap *x, uint32_t len, const char *what, char *err,
		    size_t err_size)
{
	struct csd_nvme_cqe cqe;
	int ret = auth_cmd(x, true, len, &cqe);

	if (ret || cqe.status >> 1) {
		snprintf(err, err_size, "queue %u: Authentication Send (%s) failed: %s (status 0x%x)",
			 x->qid, what, ret ? strerror(-ret) : "refused", cqe.status >> 1);
		return ret ? ret : -EIO;
	}
	return 0;
}

/* Receive the controller's next message and check it is the one expected. */
static int receive_msg(struct host_chap *x, uint8_t expect, char *err, size_t err_size)
{
	const struct dhchap_failure *f = (const void *)x->buf;
	struct csd_nvme_cqe cqe;
	int ret;

	memset(x->buf, 0, DHCHAP_MSG_MAX);
	ret = auth_cmd(x, false, DHCHAP_MSG_MAX, &cqe);
	if (ret || cqe.status >> 1) {
		snprintf(err, err_size, "queue %u: Authentication Receive failed: %s (status 0x%x)",
			 x->qid, ret ? strerror(-ret) : "refused", cqe.status >> 1);
		return ret ? ret : -EIO;
	}
	if (f->auth_type == DHCHAP_TYPE_COMMON && f->auth_id == DHCHAP_MSG_FAILURE1) {
		snprintf(err, err_size, "queue %u: the target refused authentication: %s%s", x->qid,
			 dhchap_failure_name(f->rescode_exp),
			 f->rescode_exp == DHCHAP_FAIL_FAILED ? " (wrong secret?)" : "");
		return -EACCES;
	}
	if (f->auth_type != DHCHAP_TYPE_DHCHAP || f->auth_id != expect || f->t_id != x->tid) {
		snprintf(err, err_size, "queue %u: unexpected authentication message %02x/%02x "
			 "(transaction %u)", x->qid, f->auth_type, f->auth_id, f->t_id);
		return -EPROTO;
	}
	return 0;
}

static uint32_t negotiate(struct host_chap *x)
{
	struct dhchap_negotiate *n = (void *)x->buf;
	struct dhchap_protocol_desc *d = &n->desc[0];

	memset(x->buf, 0, sizeof(*n) + sizeof(*d));
	n->auth_type = DHCHAP_TYPE_COMMON;
	n->auth_id = DHCHAP_MSG_NEGOTIATE;
	n->t_id = x->tid;
	n->napd = 1;
	d->authid = DHCHAP_AUTH_ID;
	d->halen = 3;
	for (unsigned i = 0; i < 3; i++)
		d->idlist[i] = (uint8_t)(CSD_DHCHAP_SHA256 + i);
	d->dhlen = 6;
	for (unsigned i = 0; i < 6; i++)
		d->idlist[30 + i] = (uint8_t)(CSD_DHCHAP_DH_NULL + i);
	return sizeof(*n) + sizeof(*d);
}

/* Challenge in buf -> Reply in buf; its length, or -errno. */
static int reply(struct host_chap *x, char *err, size_t err_size)
{
	const struct dhchap_challenge *ch = (const void *)x->buf;
	uint8_t c1[DHCHAP_MAX_HASH_LEN], ctrl_pub[DHCHAP_MAX_DH_LEN], pub[DHCHAP_MAX_DH_LEN];
	struct dhchap_reply *r = (void *)x->buf;
	size_t pub_len = 0, dhvlen = ch->dhvlen;
	uint32_t s1 = ch->seqnum;
	int ret;

	x->hash_id = ch->hashid;
	x->hl = dhchap_hash_len(ch->hashid);
	x->dhgroup = ch->dhgid;
	if (!x->hl || ch->hl != x->hl) {
		snprintf(err, err_size, "queue %u: the target chose hash %u (length %u): unusable",
			 x->qid, ch->hashid, ch->hl);
		return -EPROTO;
	}
	if (!csd_dhchap_dhgroup_name(ch->dhgid) || dhvlen != dhchap_dh_len(ch->dhgid) ||
	    sizeof(*ch) + x->hl + dhvlen > DHCHAP_MSG_MAX) {
		snprintf(err, err_size, "queue %u: DH group %u with a %zu-byte value: unusable",
			 x->qid, ch->dhgid, dhvlen);
		return -EPROTO;
	}
	memcpy(c1, ch->cval, x->hl);
	memcpy(ctrl_pub, ch->cval + x->hl, dhvlen);
	if (dhvlen) {
		if ((ret = dhchap_dh_new(x->dhgroup, &x->dh, pub, &pub_len)) ||
		    (ret = dhchap_dh_derive(x->dh, ctrl_pub, dhvlen, x->sess_key,
					    &x->sess_key_len))) {
			snprintf(err, err_size, "queue %u: Diffie-Hellman (%s) failed", x->qid,
				 csd_dhchap_dhgroup_name(x->dhgroup));
			return -EPROTO;
		}
	}
	memset(r, 0, sizeof(*r) + 2 * x->hl + pub_len);
	{
		struct dhchap_response_in in = {
			.key = &x->cr->key, .hash_id = x->hash_id, .challenge = c1,
			.sess_key = x->dh ? x->sess_key : NULL, .sess_key_len = x->sess_key_len,
			.seqnum = s1, .tid = x->tid, .hostnqn = x->cr->hostnqn,
			.subnqn = x->cr->subnqn,
		};

		if (dhchap_response(&in, r->rval)) {
			snprintf(err, err_size, "queue %u: computing the response failed", x->qid);
			return -EIO;
		}
	}
	r->auth_type = DHCHAP_TYPE_DHCHAP;
	r->auth_id = DHCHAP_MSG_REPLY;
	r->t_id = x->tid;
	r->hl = (uint8_t)x->hl;
	r->dhvlen = (uint16_t)pub_len;
	if (x->cr->has_ctrl_key) {
		do {
			if (dhchap_random(&x->s2, sizeof(x->s2)) || dhchap_random(x->c2, x->hl))
				return -EIO;
		} while (x->s2 == 0);
		r->cvalid = 1;
		r->seqnum = x->s2;
		memcpy(r->rval + x->hl, x->c2, x->hl);
	}
	memcpy(r->rval + 2 * x->hl, pub, pub_len);
	return (int)(sizeof(*r) + 2 * x->hl + pub_len);
}

/* Success1 in buf: does the controller know its secret? */
static int check_success1(struct host_chap *x, char *err, size_t err_size)
{
	const struct dhchap_success1 *s = (const void *)x->buf;
	uint8_t expect[DHCHAP_MAX_HASH_LEN];
	struct dhchap_response_in in = {
		.key = &x->cr->ctrl_key, .hash_id = x->hash_id, .challenge = x->c2,
		.sess_key = x->dh ? x->sess_key : NULL, .sess_key_len = x->sess_key_len,
		.seqnum = x->s2, .tid = x->tid, .controller = true, .hostnqn = x->cr->hostnqn,
		.subnqn = x->cr->subnqn,
	};
	bool ok;

	if (s->hl != x->hl) {
		snprintf(err, err_size, "queue %u: Success1 with hash length %u", x->qid, s->hl);
		return -EPROTO;
	}
	if (!x->cr->has_ctrl_key)
		return 0;
	ok = s->rvalid && !dhchap_response(&in, expect) && dhchap_equal(expect, s->rval, x->hl);
	OPENSSL_cleanse(expect, sizeof(expect));
	if (!ok) {
		snprintf(err, err_size, "queue %u: the controller did not prove it holds the "
			 "controller secret (wrong --dhchap-ctrl-secret?)", x->qid);
		return -EACCES;
	}
	return 0;
}

static void send_failure2(struct host_chap *x, uint8_t why)
{
	struct dhchap_failure *f = (void *)x->buf;
	char ignored[8];

	memset(f, 0, sizeof(*f));
	f->auth_type = DHCHAP_TYPE_COMMON;
	f->auth_id = DHCHAP_MSG_FAILURE2;
	f->t_id = x->tid;
	f->rescode = 0x01;
	f->rescode_exp = why;
	send_msg(x, sizeof(*f), "Failure2", ignored, sizeof(ignored));
}

int dhchap_host_authenticate(struct tcp_host *h, uint16_t qid, uint16_t tid,
			     const struct dhchap_host_creds *cr, char *err, size_t err_size)
{
	struct host_chap x = { .cr = cr, .h = h, .qid = qid, .tid = tid };
	int ret, len;

	x.buf = malloc(DHCHAP_MSG_MAX);
	if (!x.buf)
		return -ENOMEM;
	if ((ret = send_msg(&x, negotiate(&x), "Negotiate", err, err_size)) ||
	    (ret = receive_msg(&x, DHCHAP_MSG_CHALLENGE, err, err_size)))
		goto out;
	if ((len = reply(&x, err, err_size)) < 0) {
		ret = len;
		send_failure2(&x, DHCHAP_FAIL_INCORRECT_PAYLOAD);
		goto out;
	}
	if ((ret = send_msg(&x, (uint32_t)len, "Reply", err, err_size)) ||
	    (ret = receive_msg(&x, DHCHAP_MSG_SUCCESS1, err, err_size)))
		goto out;
	if ((ret = check_success1(&x, err, err_size))) {
		send_failure2(&x, DHCHAP_FAIL_FAILED);
		goto out;
	}
	if (cr->has_ctrl_key) {
		struct dhchap_success2 *s = (void *)x.buf;

		memset(s, 0, sizeof(*s));
		s->auth_type = DHCHAP_TYPE_DHCHAP;
		s->auth_id = DHCHAP_MSG_SUCCESS2;
		s->t_id = x.tid;
		ret = send_msg(&x, sizeof(*s), "Success2", err, err_size);
	}
out:
	dhchap_dh_free(x.dh);
	OPENSSL_cleanse(x.buf, DHCHAP_MSG_MAX);
	free(x.buf);
	OPENSSL_cleanse(&x, sizeof(x));
	return ret;
}
