/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP target: an epoll loop over a listening socket and one connection per queue.
 * Each connection is a small state machine: ICReq first, then PDUs whose headers are checked
 * (type, length, digest) before anything else is read; command data arrives in the capsule or
 * through R2T/H2CData; responses go out as C2HData and CapsuleResp. Sockets are non-blocking,
 * output is queued per connection, and a connection whose peer stops reading stops being read
 * from, so no client can stall another. A protocol error ends only that connection, with a
 * C2HTermReq that says why.
 *
 * The drive completes most commands inside csd_ctrl_submit(); Execute Program completes on an
 * engine thread, which hands the command to the loop through a locked list and an eventfd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "target_internal.h"

__attribute__((format(printf, 2, 3)))
static void log_event(struct tcp_target *t, const char *fmt, ...)
{
	va_list ap;

	if (!t->cfg.verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/*
 * A fatal error on this connection: a C2HTermReq (24-byte header, then a copy of the offending
 * PDU header, never digests), then close.
 */
static void terminate(struct tcp_queue *q, uint16_t fes, uint32_t fei)
{
	struct {
		struct tcp_term_pdu term;
		uint8_t hdr[128];
	} pdu;
	size_t copy = q->hdr_have < 128 ? q->hdr_have : 128;
	ssize_t n;

	memset(&pdu, 0, sizeof(pdu));
	pdu.term.hdr.type = TCP_PDU_C2H_TERM;
	pdu.term.hdr.hlen = sizeof(pdu.term);
	pdu.term.hdr.plen = (uint32_t)(sizeof(pdu.term) + copy);
	pdu.term.fes = fes;
	pdu.term.fei = fei;
	memcpy(pdu.hdr, q->hdr, copy);
	log_event(q->t, "csd-target: %s: terminating the connection: %s\n", q->peer,
		  fes == TCP_FES_HDR_DIGEST_ERR ? "header digest" :
		  fes == TCP_FES_PDU_SEQ_ERR ? "PDU out of sequence" :
		  fes == TCP_FES_DATA_OUT_OF_RANGE ? "data out of range" :
		  fes == TCP_FES_DATA_LIMIT_EXCEEDED ? "data limit exceeded" :
		  fes == TCP_FES_UNSUPPORTED_PARAM ? "unsupported parameter" : "invalid PDU header");
	/* best effort: what is queued before it is dropped, the connection ends here; not in the
	 * middle of a PDU the socket took part of, where it would read as that PDU's bytes */
	tcp_queue_flush(q);
	if (!q->dead && !(q->out_head && q->out_head->sent)) {
		n = send(q->fd, &pdu, pdu.term.hdr.plen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			q->traffic.bytes_out += (uint64_t)n;
			q->traffic.pdus_out[TCP_PDU_C2H_TERM]++;
			q->traffic.pdu_bytes_out[TCP_PDU_C2H_TERM] += (uint64_t)n;
		}
	}
	tcp_queue_close(q);
}

/* Commands */

static struct tcp_cmd *cmd_alloc(struct tcp_queue *q)
{
	for (unsigned i = 0; i < q->ncmds; i++) {
		struct tcp_cmd *c = &q->cmds[i];

		if (!c->in_use) {
			uint8_t *buf = c->buf;
			uint32_t cap = c->cap;

			memset(c, 0, sizeof(*c));
			c->buf = buf;	/* kept from the slot's last command */
			c->cap = cap;
			c->q = q;
			c->in_use = true;
			return c;
		}
	}
	return NULL;
}

/*
 * A buffer of at least len bytes for the command. Slots keep theirs (up to TCP_POOL_LIMIT per
 * connection), so steady I/O allocates nothing and touches no new pages: a fresh 128 KiB
 * buffer per command cost 32 page faults, which under nested virtualisation took longer than
 * the data's copy.
 */
static bool cmd_buf(struct tcp_cmd *c, uint32_t len)
{
	struct tcp_queue *q = c->q;
	uint32_t cap = 4096;

	if (c->cap >= len)
		return true;
	while (cap < len)
		cap <<= 1;
	free(c->buf);
	q->pool_bytes -= c->cap;
	c->cap = 0;
	if (!(c->buf = malloc(cap)))
		return false;
	c->cap = cap;
	q->pool_bytes += cap;
	return true;
}

/* The slot is free again (tx.c calls it once a command's data has been sent). */
void tcp_cmd_release(struct tcp_cmd *c)
{
	struct tcp_queue *q = c->q;

	if (q->pool_bytes > TCP_POOL_LIMIT || q->dead) {
		free(c->buf);
		q->pool_bytes -= c->cap;
		c->buf = NULL;
		c->cap = 0;
	}
	c->finish = NULL;
	c->sending = false;
	c->in_use = false;
}

/* Send the response of a command (its data first) and release it. */
void tcp_cmd_respond(struct tcp_cmd *c)
{
	struct tcp_queue *q = c->q;
	struct tcp_rsp_pdu rsp = { .cqe = c->req.rsp };
	bool c2h = csd_nvme_data_dir(&c->req.cmd) == 2;
	/*
	 * A host that disabled SQ flow control needs no SQ head, so a plain success (no
	 * result dwords) rides on the last data PDU and the CapsuleResp is not sent.
	 */
	bool success_in_data = q->sqflow_disabled && !(c->req.rsp.status >> 1) &&
			       !c->req.rsp.dw0 && !c->req.rsp.dw1;
	const uint8_t *data = c->req.c2h_ref ? c->req.c2h_ref : c->buf;

	if (c2h && c->req.c2h_len && !(c->req.rsp.status >> 1)) {
		for (uint32_t off = c->c2h_sent; off < c->req.c2h_len; off += TCP_C2H_CHUNK) {
			uint32_t n = c->req.c2h_len - off < TCP_C2H_CHUNK ? c->req.c2h_len - off
									   : TCP_C2H_CHUNK;
			struct tcp_data_pdu d = { .cccid = c->req.cmd.cid, .datao = off, .datal = n };

			if (off + n == c->req.c2h_len)
				d.hdr.flags = TCP_F_DATA_LAST |
					      (success_in_data ? TCP_F_DATA_SUCCESS : 0);
			/* the last data PDU releases the command once it is sent */
			tcp_queue_send_ref(q, TCP_PDU_C2H_DATA, &d, sizeof(d), data + off, n,
					   off + n == c->req.c2h_len ? c : NULL);
		}
		c->sending = true;
	} else {
		success_in_data = false;
	}
	if (!success_in_data && c->c2h_sent && !c->sending) {
		/* a read that failed after part of it left: buf is free once those parts are */
		tcp_queue_send_ref(q, TCP_PDU_RSP, &rsp, sizeof(rsp), NULL, 0, c);
		c->sending = true;
	} else if (!success_in_data) {
		tcp_queue_send(q, TCP_PDU_RSP, &rsp, sizeof(rsp), NULL, 0);
	}
	if (!c->sending)
		tcp_cmd_release(c);
}

/*
 * The first `bytes` of a read's data are in buf while the drive reads the rest: the whole
 * C2HData PDUs they make are queued and flushed now, so that the host has them sooner. The
 * last PDU waits for the completion (it carries LAST, and SUCCESS when the response rides on
 * it); a failure after some have left is answered by tcp_cmd_respond().
 */
static void cmd_c2h_ready(struct csd_req *req, uint32_t bytes)
{
	struct tcp_cmd *c = (struct tcp_cmd *)req;

	if (bytes > req->data_len)
		return;
	while (bytes - c->c2h_sent >= TCP_C2H_CHUNK) {
		struct tcp_data_pdu d = { .cccid = c->req.cmd.cid, .datao = c->c2h_sent,
					  .datal = TCP_C2H_CHUNK };

		tcp_queue_send_ref(c->q, TCP_PDU_C2H_DATA, &d, sizeof(d), c->buf + c->c2h_sent,
				   TCP_C2H_CHUNK, NULL);
		c->c2h_sent += TCP_C2H_CHUNK;
	}
	tcp_queue_flush(c->q);
}

static void cmd_done(struct csd_req *req)
{
	struct tcp_cmd *c = (struct tcp_cmd *)req;
	struct tcp_target *t = c->q->t;

	if (pthread_equal(pthread_self(), t->loop_thread)) {
		struct tcp_queue *q = c->q;

		c->submitted = false;
		q->outstanding--;
		if (q->dead || req->no_response) {
			tcp_cmd_release(c);	/* the loop frees the queue once nothing is outstanding */
		} else {
			void (*finish)(struct tcp_cmd *) = c->finish;

			c->finish = NULL;
			if (finish)
				finish(c);
			tcp_cmd_respond(c);
		}
		return;
	}
	/* an engine thread: hand it to the loop */
	pthread_mutex_lock(&t->lock);
	c->next_done = t->done_head;
	t->done_head = c;
	pthread_mutex_unlock(&t->lock);
	{
		uint64_t one = 1;
		ssize_t n = write(t->evfd, &one, sizeof(one));

		(void)n;
	}
}

static void drain_done(struct tcp_target *t)
{
	struct tcp_cmd *list;
	uint64_t v;
	ssize_t n = read(t->evfd, &v, sizeof(v));

	(void)n;
	pthread_mutex_lock(&t->lock);
	list = t->done_head;
	t->done_head = NULL;
	pthread_mutex_unlock(&t->lock);
	while (list) {
		struct tcp_cmd *c = list;

		list = c->next_done;
		cmd_done(&c->req);	/* now on the loop thread */
	}
	tcp_flush_scheduled(t);
}

/* A command with all its data: Connect, the discovery controller, or the drive. */
static void dispatch(struct tcp_queue *q, struct tcp_cmd *c)
{
	bool fabrics = c->req.cmd.opcode == nvme_admin_fabrics;
	uint8_t fctype = c->req.cmd.nsid & 0xff;

	c->req.qid = q->qid;
	c->req.data = c->len ? c->buf : NULL;
	c->req.data_len = c->len;
	c->req.done = cmd_done;
	/*
	 * Read data is sent from wherever it is (tx.c), unless it has a digest: that is computed
	 * when queued, and data a racing write changes before it is sent would fail it.
	 */
	c->req.may_reference = !q->ddgst;
	c->req.c2h_ready = cmd_c2h_ready;
	if (fabrics && fctype == nvme_fabrics_type_connect) {
		tcp_handle_connect(q, c);
		return;
	}
	if (!q->assoc) {
		/* nothing but Connect before Connect */
		tcp_cmd_status(c, CSD_NVME_STATUS(0, NVME_SC_CMD_SEQ_ERROR) | CSD_NVME_DNR);
		tcp_cmd_respond(c);
		return;
	}
	q->assoc->last_cmd_ms = tcp_now_ms();
	if (fabrics && (fctype == nvme_fabrics_type_auth_send ||
			fctype == nvme_fabrics_type_auth_receive)) {
		tcp_auth_cmd(q, c);
		return;
	}
	if (tcp_auth_pending(q)) {
		/* a host with a secret does nothing before it has proven it holds it */
		tcp_cmd_status(c, CSD_NVME_STATUS(0, NVME_SC_AUTH_REQUIRED) | CSD_NVME_DNR);
		tcp_cmd_respond(c);
		return;
	}
	if (q->assoc->discovery) {
		tcp_discovery_cmd(q, c);
		return;
	}
	c->submitted = true;
	q->outstanding++;
	csd_ctrl_submit(q->assoc->ctrl, &c->req);
}

/* Receive */

static void rx_expect_header(struct tcp_queue *q)
{
	q->pdus_started++;
	q->rx = RX_HDR;
	q->hdr_have = 0;
	q->hdr_need = sizeof(struct tcp_hdr);
	q->rx_cmd = NULL;
}

/* After the header: padding, then `len` bytes of data into dst, then the data digest. */
static void rx_expect_data(struct tcp_queue *q, uint32_t pad, uint8_t *dst, uint32_t len)
{
	q->rx_dst = dst;
	q->rx_crc = 0;
	if (pad) {
		q->rx = RX_PAD;
		q->rx_left = pad;
	} else {
		q->rx = RX_DATA;
		q->rx_left = len;
	}
	q->rx_plen = len;	/* remembered for after the padding */
}

static void handle_icreq(struct tcp_queue *q)
{
	const struct tcp_icreq *req = (const struct tcp_icreq *)q->hdr;
	struct tcp_icresp rsp = { 0 };

	if (q->ready) {
		terminate(q, TCP_FES_PDU_SEQ_ERR, 0);
		return;
	}
	if (req->pfv != 0) {
		terminate(q, TCP_FES_UNSUPPORTED_PARAM, offsetof(struct tcp_icreq, pfv));
		return;
	}
	if (req->hpda > 31) {
		terminate(q, TCP_FES_UNSUPPORTED_PARAM, offsetof(struct tcp_icreq, hpda));
		return;
	}
	q->hpda = req->hpda;
	rsp.pfv = 0;
	rsp.cpda = 0;
	rsp.digest = req->digest & 3;
	rsp.maxdata = q->t->cfg.maxh2cdata;
	tcp_queue_send(q, TCP_PDU_ICRESP, &rsp, sizeof(rsp), NULL, 0);
	q->hdgst = req->digest & 1;
	q->ddgst = req->digest & 2;
	q->ready = true;
	rx_expect_header(q);
}

/*
 * Ask for the next part of a command's data: one R2T at a time, MAXH2CDATA at most, since a
 * host may take only one outstanding R2T per command (the Linux host says MAXR2T 0 in ICReq).
 */
static void send_r2t(struct tcp_queue *q, struct tcp_cmd *c)
{
	uint32_t off = c->h2c_received;
	uint32_t n = c->len - off < q->t->cfg.maxh2cdata ? c->len - off : q->t->cfg.maxh2cdata;
	struct tcp_r2t_pdu r2t = { .cccid = c->req.cmd.cid, .ttag = (uint16_t)(c - q->cmds),
				   .r2to = off, .r2tl = n };

	c->r2t_end = off + n;
	tcp_queue_send(q, TCP_PDU_R2T, &r2t, sizeof(r2t), NULL, 0);
}

static void handle_cmd_pdu(struct tcp_queue *q)
{
	const struct tcp_cmd_pdu *p = (const struct tcp_cmd_pdu *)q->hdr;
	const struct tcp_sgl *sgl = (const struct tcp_sgl *)p->cmd.dptr;
	uint32_t hd = q->hdgst ? TCP_DIGEST_LEN : 0, incapsule = 0, pad = 0;
	int dir = csd_nvme_data_dir(&p->cmd);
	struct tcp_cmd *c;

	if (p->hdr.plen > p->hdr.hlen + hd) {
		uint32_t dd = q->ddgst ? TCP_DIGEST_LEN : 0;

		if (p->hdr.pdo < p->hdr.hlen + hd || p->hdr.plen < (uint32_t)p->hdr.pdo + dd + 1) {
			terminate(q, TCP_FES_INVALID_PDU_HDR, offsetof(struct tcp_hdr, pdo));
			return;
		}
		incapsule = p->hdr.plen - p->hdr.pdo - dd;
		pad = p->hdr.pdo - p->hdr.hlen - hd;
	}
	if (incapsule > TCP_INLINE_DATA) {
		terminate(q, TCP_FES_DATA_LIMIT_EXCEEDED, offsetof(struct tcp_hdr, plen));
		return;
	}
	/* the data the command describes must be what the capsule carries, or come later */
	if (incapsule && (sgl->type != SGL_DATA_BLOCK_OFFSET || sgl->length != incapsule ||
			  sgl->addr != 0 || dir != 1)) {
		terminate(q, TCP_FES_INVALID_PDU_HDR, sizeof(struct tcp_hdr) +
			  offsetof(struct csd_nvme_sqe, dptr));
		return;
	}
	if (!incapsule && sgl->length && sgl->type != SGL_TRANSPORT_DATA) {
		terminate(q, TCP_FES_INVALID_PDU_HDR, sizeof(struct tcp_hdr) +
			  offsetof(struct csd_nvme_sqe, dptr));
		return;
	}
	c = cmd_alloc(q);
	if (!c) {
		/* more commands than the queue size the host connected with */
		terminate(q, TCP_FES_PDU_SEQ_ERR, 0);
		return;
	}
	c->req.cmd = p->cmd;
	c->len = sgl->length;
	if (c->len > TCP_MAX_DATA) {
		/* too much data for the drive: refuse the command, keep the connection */
		c->len = 0;
		tcp_cmd_status(c, CSD_NVME_STATUS(0, NVME_SC_SGL_INVALID_DATA) | CSD_NVME_DNR);
		if (incapsule) {
			rx_expect_data(q, pad, NULL, incapsule);
			q->rx_cmd = c;
			return;
		}
		tcp_cmd_respond(c);
		rx_expect_header(q);
		return;
	}
	if (c->len && !cmd_buf(c, c->len)) {
		tcp_cmd_release(c);
		terminate(q, TCP_FES_DATA_LIMIT_EXCEEDED, 0);
		return;
	}
	if (incapsule) {
		q->rx_cmd = c;
		rx_expect_data(q, pad, c->buf, incapsule);
		return;
	}
	rx_expect_header(q);
	if (dir == 1 && c->len) {
		send_r2t(q, c);
		return;
	}
	dispatch(q, c);
}

static void handle_h2c_data(struct tcp_queue *q)
{
	const struct tcp_data_pdu *p = (const struct tcp_data_pdu *)q->hdr;
	uint32_t hd = q->hdgst ? TCP_DIGEST_LEN : 0, dd = q->ddgst ? TCP_DIGEST_LEN : 0;
	struct tcp_cmd *c;

	if (p->ttag >= q->ncmds || !(c = &q->cmds[p->ttag])->in_use || c->submitted ||
	    c->sending || c->req.cmd.cid != p->cccid || !c->len) {
		terminate(q, TCP_FES_INVALID_PDU_HDR, offsetof(struct tcp_data_pdu, ttag));
		return;
	}
	if (p->datao != c->h2c_received || p->datal == 0 || p->datal > c->r2t_end - c->h2c_received ||
	    p->datal > q->t->cfg.maxh2cdata) {
		terminate(q, TCP_FES_DATA_OUT_OF_RANGE, offsetof(struct tcp_data_pdu, datao));
		return;
	}
	if (p->hdr.pdo < p->hdr.hlen + hd || p->hdr.plen != p->hdr.pdo + p->datal + dd) {
		terminate(q, TCP_FES_INVALID_PDU_HDR, offsetof(struct tcp_hdr, plen));
		return;
	}
	if ((p->hdr.flags & TCP_F_DATA_LAST) && p->datao + p->datal != c->r2t_end) {
		/* "the last of this R2T's data" with less than it asked for: nothing more comes */
		terminate(q, TCP_FES_PDU_SEQ_ERR, 0);
		return;
	}
	q->rx_cmd = c;
	rx_expect_data(q, p->hdr.pdo - p->hdr.hlen - hd, c->buf + p->datao, p->datal);
}

/* A whole header (and its digest) is in q->hdr. */
static void handle_header(struct tcp_queue *q)
{
	const struct tcp_hdr *h = (const struct tcp_hdr *)q->hdr;

	q->traffic.pdus_in[h->type]++;
	q->traffic.pdu_bytes_in[h->type] += h->plen;
	if (q->hdgst && h->type != TCP_PDU_ICREQ) {
		uint32_t want = csd_crc32c(0, q->hdr, h->hlen), got;

		memcpy(&got, q->hdr + h->hlen, TCP_DIGEST_LEN);
		if (want != got) {
			terminate(q, TCP_FES_HDR_DIGEST_ERR, 0);
			return;
		}
	}
	switch (h->type) {
	case TCP_PDU_ICREQ:
		handle_icreq(q);
		return;
	case TCP_PDU_CMD:
		handle_cmd_pdu(q);
		return;
	case TCP_PDU_H2C_DATA:
		handle_h2c_data(q);
		return;
	case TCP_PDU_H2C_TERM:
		log_event(q->t, "csd-target: %s: host terminated the connection%s\n", q->peer, "");
		tcp_queue_close(q);
		return;
	default:
		terminate(q, TCP_FES_INVALID_PDU_HDR, offsetof(struct tcp_hdr, type));
	}
}

/* The common header is in: check it before reading the rest. */
static bool check_common_header(struct tcp_queue *q)
{
	const struct tcp_hdr *h = (const struct tcp_hdr *)q->hdr;
	uint8_t hlen = tcp_pdu_hlen(h->type);
	uint32_t hd = q->hdgst && h->type != TCP_PDU_ICREQ ? TCP_DIGEST_LEN : 0;
	bool host_sends = h->type == TCP_PDU_ICREQ || h->type == TCP_PDU_CMD ||
			  h->type == TCP_PDU_H2C_DATA || h->type == TCP_PDU_H2C_TERM;

	if (!host_sends || hlen == 0) {
		terminate(q, TCP_FES_INVALID_PDU_HDR, offsetof(struct tcp_hdr, type));
		return false;
	}
	if (!q->ready && h->type != TCP_PDU_ICREQ) {
		terminate(q, TCP_FES_PDU_SEQ_ERR, 0);
		return false;
	}
	if (h->hlen != hlen) {
		terminate(q, TCP_FES_INVALID_PDU_HDR, offsetof(struct tcp_hdr, hlen));
		return false;
	}
	if (h->plen < hlen + hd || (h->type == TCP_PDU_ICREQ && h->plen != hlen) ||
	    h->plen > hlen + hd + 255 + TCP_MAX_DATA + TCP_DIGEST_LEN ||
	    (h->type == TCP_PDU_H2C_TERM && h->plen > TCP_MAX_TERM_PLEN)) {
		terminate(q, TCP_FES_INVALID_PDU_HDR, offsetof(struct tcp_hdr, plen));
		return false;
	}
	q->hdr_need = hlen + hd;
	return true;
}

/* A PDU's data (and its digest) are in: act on it. */
static void rx_data_complete(struct tcp_queue *q)
{
	struct tcp_cmd *c = q->rx_cmd;
	const struct tcp_hdr *h = (const struct tcp_hdr *)q->hdr;

	if (q->ddgst && q->rx_dst) {
		uint32_t got;

		memcpy(&got, q->rx_ddgst, TCP_DIGEST_LEN);
		if (got != q->rx_crc) {
			/* a data digest error fails the command, not the connection */
			tcp_cmd_status(c, CSD_NVME_STATUS(0, 0x22));
			c->len = 0;
			tcp_cmd_respond(c);
			rx_expect_header(q);
			return;
		}
	}
	rx_expect_header(q);
	if (!c) {
		return;
	} else if (c->req.rsp.status) {	/* refused at the header: answer now */
		tcp_cmd_respond(c);
	} else if (h->type == TCP_PDU_H2C_DATA) {
		c->h2c_received += ((const struct tcp_data_pdu *)h)->datal;
		if (c->h2c_received == c->len)
			dispatch(q, c);
		else if (c->h2c_received == c->r2t_end)
			send_r2t(q, c);	/* this R2T is done: the next */
	} else {
		dispatch(q, c);
	}
}

/* n bytes of the current PDU's data are in place at q->rx_dst (or skipped, if it is NULL). */
static void rx_data_in(struct tcp_queue *q, const uint8_t *p, size_t n)
{
	if (q->rx_dst) {
		if (p != q->rx_dst)
			memcpy(q->rx_dst, p, n);
		if (q->ddgst)
			q->rx_crc = csd_crc32c(q->rx_crc, q->rx_dst, n);
		q->rx_dst += n;
	}
	q->rx_left -= (uint32_t)n;
	if (q->rx_left)
		return;
	if (q->ddgst) {
		q->rx = RX_DDGST;
		q->rx_left = TCP_DIGEST_LEN;
		return;
	}
	rx_data_complete(q);
}

/* Feed received bytes through the state machine; false once the connection is gone. */
static bool rx_bytes(struct tcp_queue *q, const uint8_t *p, size_t n)
{
	while (n && !q->dead) {
		size_t take;

		switch (q->rx) {
		case RX_HDR:
			take = q->hdr_need - q->hdr_have < n ? q->hdr_need - q->hdr_have : n;
			memcpy(q->hdr + q->hdr_have, p, take);
			q->hdr_have += (uint32_t)take;
			p += take;
			n -= take;
			if (q->hdr_have < q->hdr_need)
				break;
			if (q->hdr_need == sizeof(struct tcp_hdr)) {
				if (!check_common_header(q))
					return false;
				if (q->hdr_have < q->hdr_need)
					break;
			}
			handle_header(q);
			/* H2CTermReq carries the host's copy of a header: skip it */
			break;
		case RX_PAD:
			take = q->rx_left < n ? q->rx_left : n;
			q->rx_left -= (uint32_t)take;
			p += take;
			n -= take;
			if (!q->rx_left) {
				q->rx = RX_DATA;
				q->rx_left = q->rx_plen;
			}
			break;
		case RX_DATA:
			take = q->rx_left < n ? q->rx_left : n;
			rx_data_in(q, p, take);
			p += take;
			n -= take;
			break;
		case RX_DDGST:
			take = q->rx_left < n ? q->rx_left : n;
			memcpy(q->rx_ddgst + TCP_DIGEST_LEN - q->rx_left, p, take);
			q->rx_left -= (uint32_t)take;
			p += take;
			n -= take;
			if (!q->rx_left)
				rx_data_complete(q);
			break;
		}
	}
	return !q->dead;
}

static void on_readable(struct tcp_queue *q)
{
	uint8_t *buf = q->t->rxbuf;

	for (int rounds = 0; rounds < 16 && !q->dead; rounds++) {
		/* a large piece of data goes straight into its command's buffer, copied once */
		bool direct = q->rx == RX_DATA && q->rx_dst && q->rx_left >= TCP_RX_DIRECT;
		uint8_t *dst = direct ? q->rx_dst : buf;
		ssize_t n = recv(q->fd, dst, direct ? q->rx_left : TCP_RX_BUF, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			log_event(q->t, "csd-target: %s: connection closed%s\n", q->peer, "");
			tcp_queue_close(q);
			return;
		}
		if (n < 0)
			return;
		uint64_t boundaries = q->pdus_started;
		bool mid_pdu;

		q->traffic.bytes_in += (uint64_t)n;
		if (direct)
			rx_data_in(q, dst, (size_t)n);
		else if (!rx_bytes(q, buf, (size_t)n))
			return;
		if (q->dead)
			return;
		/* the clock for the slow client check runs while no PDU completes */
		mid_pdu = !(q->rx == RX_HDR && q->hdr_have == 0);
		if (!mid_pdu)
			q->stalled_since_ms = 0;
		else if (q->pdus_started != boundaries || !q->stalled_since_ms)
			q->stalled_since_ms = tcp_now_ms();
		if (q->out_bytes >= TCP_OUT_LIMIT)
			return;	/* let the peer read first */
	}
}

/* Connections */

/*
 * Closed connections are freed here, between rounds of the loop, never while their own
 * events are being handled, and only once the drive has completed all their commands.
 */
static void reap_dead_queues(struct tcp_target *t)
{
	struct tcp_queue **pp = &t->queues;

	while (*pp) {
		struct tcp_queue *q = *pp;

		if (!q->dead || q->outstanding) {
			pp = &q->next;
			continue;
		}
		pthread_mutex_lock(&t->lock);	/* csd_tcp_target_traffic() walks the list */
		*pp = q->next;
		pthread_mutex_unlock(&t->lock);
		for (unsigned i = 0; i < CSD_MAX_QUEUE_SIZE_TCP; i++)
			free(q->cmds[i].buf);
		free(q->cmds);
		tcp_auth_queue_free(q);
		free(q);
	}
}

void tcp_queue_close(struct tcp_queue *q)
{
	struct tcp_target *t = q->t;
	struct tcp_assoc *a = q->assoc;

	if (q->dead)
		return;
	pthread_mutex_lock(&t->lock);	/* dead and counted as closed at once, for the reader */
	q->dead = true;
	tcp_traffic_add(&t->closed, &q->traffic);
	t->nconn--;
	pthread_mutex_unlock(&t->lock);
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, q->fd, NULL);
	close(q->fd);
	tcp_queue_drop_output(q);
	/* commands not yet with the drive go now; the others when the drive is done */
	for (unsigned i = 0; i < q->ncmds; i++)
		if (q->cmds[i].in_use && !q->cmds[i].submitted)
			tcp_cmd_release(&q->cmds[i]);
	if (a) {
		tcp_traffic_add(&a->closed, &q->traffic);
		a->queues[q->qid] = NULL;
		if (q->qid == 0)
			tcp_assoc_destroy(a);
		else if (a->ctrl)
			csd_ctrl_remove_queue(a->ctrl, q->qid);
	}
}

/* The admin queue went away: the controller and all its queues go. */
void tcp_assoc_destroy(struct tcp_assoc *a)
{
	struct tcp_target *t = a->t;
	struct tcp_assoc **pp;

	/* every queue of it goes too (the admin queue as well, when the target stops) */
	for (unsigned i = 0; i < 65; i++) {
		struct tcp_queue *q = a->queues[i];

		if (!q)
			continue;
		a->queues[i] = NULL;
		q->assoc = NULL;
		tcp_queue_close(q);
	}
	for (pp = &t->assocs; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	if (a->ctrl) {
		/* completes (aborts) what it still holds; those completions find dead queues */
		csd_ctrl_destroy(a->ctrl);
	}
	free(a);
}

/* Stop watching the listening socket for 100 ms, or watch it again (paused_until 0). */
static void pause_accepting(struct tcp_target *t, uint64_t until)
{
	struct epoll_event ev = { .events = until ? 0 : EPOLLIN, .data.ptr = &t->lfd };

	t->accept_paused_until = until;
	epoll_ctl(t->epfd, EPOLL_CTL_MOD, t->lfd, &ev);
}

/*
 * Out of descriptors (EMFILE, ENFILE): the pending connection would keep the listening socket
 * readable and the loop spinning. Shed it with the spare descriptor, and pause accepting.
 */
static void out_of_descriptors(struct tcp_target *t)
{
	int fd;

	if (t->spare_fd >= 0) {
		close(t->spare_fd);
		fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		t->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	log_event(t, "csd-target: out of file descriptors (%u connections): a new connection "
		  "shed, accepting paused\n", t->nconn);
	pause_accepting(t, tcp_now_ms() + 100);
}

static void accept_all(struct tcp_target *t)
{
	for (;;) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(t->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev;
		struct tcp_queue *q;
		int one = 1;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				out_of_descriptors(t);
			return;
		}
		if (t->nconn >= t->cfg.max_connections) {
			log_event(t, "csd-target: %s:%u: refused: %u connections already (the "
				  "connection cap)\n", inet_ntoa(sa.sin_addr), ntohs(sa.sin_port),
				  t->nconn);
			close(fd);
			continue;
		}
		q = calloc(1, sizeof(*q));
		if (!q) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		q->t = t;
		q->fd = fd;
		q->connected_ms = tcp_now_ms();
		snprintf(q->peer, sizeof(q->peer), "%s:%u", inet_ntoa(sa.sin_addr), ntohs(sa.sin_port));
		/* room for the largest queue; until Connect says its size, one command */
		q->ncmds = 1;
		q->cmds = calloc(CSD_MAX_QUEUE_SIZE_TCP, sizeof(*q->cmds));
		rx_expect_header(q);
		ev.events = q->ev_mask = EPOLLIN;
		ev.data.ptr = q;
		if (!q->cmds || epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(q->cmds);
			free(q);
			continue;
		}
		pthread_mutex_lock(&t->lock);
		q->next = t->queues;
		t->queues = q;
		t->nconn++;
		pthread_mutex_unlock(&t->lock);
		log_event(t, "csd-target: %s: connected%s\n", q->peer, "");
	}
}

/*
 * Slowloris: connections that take too long to say who they are, or that trickle a PDU and
 * never finish it, are closed so they cannot hold the target's descriptors and memory.
 */
static void check_slow_clients(struct tcp_target *t)
{
	uint64_t now = tcp_now_ms();

	for (struct tcp_queue *q = t->queues; q; q = q->next) {
		if (q->dead)
			continue;
		if (!q->assoc && now - q->connected_ms > t->cfg.handshake_ms) {
			log_event(t, "csd-target: %s: %s, closed\n", q->peer,
				  "no Connect in time (slow client)");
			tcp_queue_close(q);
		} else if (tcp_auth_pending(q) && now - q->auth_ms > t->cfg.handshake_ms) {
			log_event(t, "csd-target: %s: %s, closed\n", q->peer,
				  "not authenticated in time");
			tcp_queue_close(q);
		} else if (q->stalled_since_ms && now - q->stalled_since_ms > t->cfg.pdu_ms) {
			log_event(t, "csd-target: %s: %s, closed\n", q->peer,
				  "a PDU left unfinished (slow client)");
			tcp_queue_close(q);
		}
	}
}

static unsigned assoc_outstanding(const struct tcp_assoc *a)
{
	unsigned n = 0;

	for (unsigned i = 0; i < sizeof(a->queues) / sizeof(a->queues[0]); i++)
		if (a->queues[i])
			n += a->queues[i]->outstanding;
	return n;
}

static void check_keep_alive(struct tcp_target *t)
{
	uint64_t now = tcp_now_ms();
	struct tcp_assoc *a = t->assocs;

	while (a) {
		struct tcp_assoc *next = a->next;

		/* authentication stands in for keep alive (its own time limit applies) */
		if (a->ctrl && !(a->queues[0] && tcp_auth_pending(a->queues[0])) &&
		    csd_ctrl_keep_alive_expired(a->ctrl, now)) {
			log_event(t, "csd-target: %s: keep alive timeout%s\n", a->hostnqn, "");
			if (a->queues[0])
				tcp_queue_close(a->queues[0]);
			else
				tcp_assoc_destroy(a);
		} else if (a->ctrl && !csd_ctrl_kato_ms(a->ctrl) && now - a->last_cmd_ms > t->cfg.idle_ms &&
			   !assoc_outstanding(a)) {
			log_event(t, "csd-target: %s: idle for %u ms without keep alive, closed\n",
				  a->hostnqn, t->cfg.idle_ms);
			if (a->queues[0])
				tcp_queue_close(a->queues[0]);
			else
				tcp_assoc_destroy(a);
		}
		a = next;
	}
	tcp_discovery_check_keep_alive(t, now);
}

/* Log C2h, asked on the loop thread (Get Log Page runs inside csd_ctrl_submit). */
static size_t link_log(void *arg, struct csd_ctrl *ctrl, uint8_t lid, void *buf, size_t size)
{
	struct tcp_target *t = arg;
	struct csd_tcp_link_log *log = buf;

	if (lid != CSD_LOG_VENDOR_LINK || size < sizeof(*log))
		return 0;
	memset(log, 0, sizeof(*log));
	csd_tcp_target_traffic((struct csd_tcp_target *)t, &log->target);
	for (struct tcp_assoc *a = t->assocs; a; a = a->next) {
		if (a->ctrl != ctrl)
			continue;
		log->association = a->closed;
		for (unsigned i = 0; i < 65; i++)
			if (a->queues[i])
				tcp_traffic_add(&log->association, &a->queues[i]->traffic);
	}
	return sizeof(*log);
}

int csd_tcp_target_create(struct csd_subsys *subsys, const struct csd_tcp_target_config *cfg,
			  struct csd_tcp_target **out, char *err, size_t err_size)
{
	struct tcp_target *t = calloc(1, sizeof(*t));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1;

	if (!t)
		return -ENOMEM;
	if (cfg && cfg->sz >= sizeof(*cfg))
		t->cfg = *cfg;
	if (!t->cfg.addr)
		t->cfg.addr = "127.0.0.1";
	if (!cfg || !cfg->sz)
		t->cfg.port = 4420;
	if (!t->cfg.maxh2cdata)
		t->cfg.maxh2cdata = 128u << 10;
	if (!t->cfg.handshake_ms)
		t->cfg.handshake_ms = 10000;
	if (!t->cfg.pdu_ms)
		t->cfg.pdu_ms = 10000;
	if (!t->cfg.idle_ms)
		t->cfg.idle_ms = 120000;
	if (!t->cfg.max_connections) {
		struct rlimit rl;

		/* each connection is one descriptor; 64 for the files, epoll and the rest */
		if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
			rl.rlim_cur = 1 << 20;
		t->cfg.max_connections = rl.rlim_cur > 128 ? (unsigned)rl.rlim_cur - 64 :
					 (unsigned)rl.rlim_cur / 2;
	}
	if (t->cfg.maxh2cdata < 4096 || t->cfg.maxh2cdata % 4) {
		snprintf(err, err_size, "MAXH2CDATA %u: at least 4096, a multiple of 4",
			 t->cfg.maxh2cdata);
		free(t);
		return -EINVAL;
	}
	if (tcp_auth_configure(t, err, err_size)) {
		free(t);
		return -EINVAL;
	}
	t->rxbuf = malloc(TCP_RX_BUF);
	if (!t->rxbuf) {
		tcp_auth_unconfigure(t);
		free(t);
		return -ENOMEM;
	}
	t->subsys = subsys;
	t->lfd = t->epfd = t->evfd = -1;
	t->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	t->next_disc_cntlid = 1;
	pthread_mutex_init(&t->lock, NULL);
	if (inet_pton(AF_INET, t->cfg.addr, &sa.sin_addr) != 1) {
		snprintf(err, err_size, "'%s' is not an IPv4 address", t->cfg.addr);
		goto fail;
	}
	sa.sin_port = htons(t->cfg.port);
	t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->lfd < 0 || setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(t->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(t->lfd, 128) ||
	    getsockname(t->lfd, (struct sockaddr *)&sa, &sl)) {
		snprintf(err, err_size, "cannot listen on %s:%u: %s", t->cfg.addr, t->cfg.port,
			 strerror(errno));
		goto fail;
	}
	t->port = ntohs(sa.sin_port);
	snprintf(t->advertise, sizeof(t->advertise), "%s",
		 t->cfg.advertise_addr ? t->cfg.advertise_addr : t->cfg.addr);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->epfd < 0 || t->evfd < 0) {
		snprintf(err, err_size, "epoll/eventfd: %s", strerror(errno));
		goto fail;
	}
	ev.data.ptr = &t->lfd;
	epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->lfd, &ev);
	ev.data.ptr = &t->evfd;
	epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->evfd, &ev);
	csd_subsys_set_log_provider(subsys, link_log, t);
	*out = (struct csd_tcp_target *)t;
	return 0;
fail:
	if (t->lfd >= 0)
		close(t->lfd);
	if (t->spare_fd >= 0)
		close(t->spare_fd);
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->evfd >= 0)
		close(t->evfd);
	pthread_mutex_destroy(&t->lock);
	tcp_auth_unconfigure(t);
	free(t->rxbuf);
	free(t);
	return -EINVAL;
}

uint16_t csd_tcp_target_port(const struct csd_tcp_target *tt)
{
	return ((const struct tcp_target *)tt)->port;
}

int csd_tcp_target_run(struct csd_tcp_target *tt)
{
	struct tcp_target *t = (struct tcp_target *)tt;
	struct epoll_event events[64];
	uint64_t last_check = tcp_now_ms();

	uint64_t poll_ns = t->cfg.busy_poll_us < 0 ? 0 :
			   (uint64_t)(t->cfg.busy_poll_us ? t->cfg.busy_poll_us : 50) * 1000;
	uint64_t last_event_ns = 0;

	t->loop_thread = pthread_self();
	while (!t->stopping) {
		bool polling = poll_ns && tcp_now_ns() - last_event_ns < poll_ns;
		int n = epoll_wait(t->epfd, events, 64, polling ? 0 : 200);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			last_event_ns = tcp_now_ns();
		tcp_auth_take_new_keys(t);	/* before any Connect of this round */
		for (int i = 0; i < n && !t->stopping; i++) {
			void *ptr = events[i].data.ptr;
			struct tcp_queue *q = ptr;

			if (ptr == &t->lfd) {
				accept_all(t);
				continue;
			}
			if (ptr == &t->evfd) {
				drain_done(t);
				continue;
			}
			if (q->dead)
				continue;
			if (events[i].events & (EPOLLERR | EPOLLHUP) && !(events[i].events & EPOLLIN)) {
				tcp_queue_close(q);
				continue;
			}
			if (events[i].events & EPOLLOUT)
				tcp_queue_flush(q);
			if (!q->dead && (events[i].events & EPOLLIN))
				on_readable(q);
			tcp_flush_scheduled(t);
		}
		tcp_flush_scheduled(t);
		if (tcp_now_ms() - last_check >= 100) {
			last_check = tcp_now_ms();
			check_keep_alive(t);
			check_slow_clients(t);
			if (t->accept_paused_until && last_check >= t->accept_paused_until)
				pause_accepting(t, 0);
		}
		tcp_flush_scheduled(t);	/* before any closed connection is freed */
		reap_dead_queues(t);
	}
	/* stopping: every association and connection goes, completions are drained */
	while (t->assocs)
		tcp_assoc_destroy(t->assocs);
	for (struct tcp_queue *q = t->queues; q; q = q->next)
		tcp_queue_close(q);
	tcp_auth_quiesce(t);	/* what the auth worker holds comes back first */
	drain_done(t);
	reap_dead_queues(t);
	return 0;
}

void csd_tcp_target_stop(struct csd_tcp_target *tt)
{
	struct tcp_target *t = (struct tcp_target *)tt;
	uint64_t one = 1;
	ssize_t n;

	t->stopping = 1;
	n = write(t->evfd, &one, sizeof(one));
	(void)n;
}

void csd_tcp_target_destroy(struct csd_tcp_target *tt)
{
	struct tcp_target *t = (struct tcp_target *)tt;

	if (!t)
		return;
	csd_subsys_set_log_provider(t->subsys, NULL, NULL);
	tcp_auth_unconfigure(t);
	close(t->lfd);
	if (t->spare_fd >= 0)
		close(t->spare_fd);
	close(t->epfd);
	close(t->evfd);
	pthread_mutex_destroy(&t->lock);
	free(t->rxbuf);
	free(t);
}

void csd_tcp_target_traffic(struct csd_tcp_target *tt, struct csd_tcp_traffic *out)
{
	struct tcp_target *t = (struct tcp_target *)tt;

	/* the list under the lock (the loop adds and frees queues); each queue's counters are
	 * the loop's, read as they are: they only grow */
	pthread_mutex_lock(&t->lock);
	*out = t->closed;
	for (struct tcp_queue *q = t->queues; q; q = q->next)
		if (!q->dead)
			tcp_traffic_add(out, &q->traffic);
	pthread_mutex_unlock(&t->lock);
}

unsigned csd_tcp_target_connections(struct csd_tcp_target *tt)
{
	struct tcp_target *t = (struct tcp_target *)tt;
	unsigned n;

	pthread_mutex_lock(&t->lock);
	n = t->nconn;
	pthread_mutex_unlock(&t->lock);
	return n;
}
