/* SPDX-License-Identifier: MIT */
/*
 * The target's output: PDUs queued per connection and sent in batches, one sendmsg() for as
 * many as fit in TCP_TX_IOVS pieces. A command's data is not copied: its PDU points into the
 * command's buffer, and the command is released once that data has left. Queues are flushed
 * when the loop has handled an event (tcp_flush_scheduled), so the responses to every command
 * found in one receive go out together, and EPOLLOUT is asked for only while the socket is
 * full (no epoll_ctl per command).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "crc32c.h"
#include "target_internal.h"

#define TCP_TX_IOVS		64
#define TCP_TX_FLUSH_AT		(256u << 10)	/* queued bytes that are sent without waiting */
#define TCP_TX_SPARE_PDUS	64		/* kept per connection for reuse */

/* EPOLLIN while the peer reads what we send; EPOLLOUT while the socket is full. */
void tcp_queue_update_events(struct tcp_queue *q)
{
	uint32_t want = (q->out_bytes < TCP_OUT_LIMIT ? EPOLLIN : 0) |
			(q->out_head ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = want, .data.ptr = q };

	if (want == q->ev_mask)
		return;
	epoll_ctl(q->t->epfd, EPOLL_CTL_MOD, q->fd, &ev);
	q->ev_mask = want;
}

static struct tcp_out_pdu *pdu_get(struct tcp_queue *q, size_t copy)
{
	struct tcp_out_pdu *p;

	if (!copy && q->spare_pdus) {
		p = q->spare_pdus;
		q->spare_pdus = p->next;
		q->nspare_pdus--;
	} else if (!(p = malloc(sizeof(*p) + copy))) {
		return NULL;
	}
	p->next = NULL;
	p->release = NULL;
	p->copied = copy != 0;
	p->sent = 0;
	return p;
}

static void pdu_put(struct tcp_queue *q, struct tcp_out_pdu *p)
{
	if (p->copied || q->nspare_pdus >= TCP_TX_SPARE_PDUS) {
		free(p);
		return;
	}
	p->next = q->spare_pdus;
	q->spare_pdus = p;
	q->nspare_pdus++;
}

/* Everything queued goes (the connection is closing; it frees the commands themselves). */
void tcp_queue_drop_output(struct tcp_queue *q)
{
	while (q->out_head) {
		struct tcp_out_pdu *p = q->out_head;

		q->out_head = p->next;
		free(p);
	}
	q->out_tail = NULL;
	q->out_bytes = 0;
	while (q->spare_pdus) {
		struct tcp_out_pdu *p = q->spare_pdus;

		q->spare_pdus = p->next;
		free(p);
	}
	q->nspare_pdus = 0;
}

/* The pieces of the queued PDUs not yet sent, in order, at most TCP_TX_IOVS of them. */
static int gather(struct tcp_queue *q, struct iovec *iov)
{
	int n = 0;

	for (struct tcp_out_pdu *p = q->out_head; p && n + 3 <= TCP_TX_IOVS; p = p->next) {
		const uint8_t *part[3] = { p->head, p->data, p->ddgst };
		uint32_t len[3] = { p->head_len, p->dlen, p->ddgst_len };
		uint32_t skip = p->sent;

		for (int i = 0; i < 3; i++) {
			if (skip >= len[i]) {
				skip -= len[i];
				continue;
			}
			iov[n].iov_base = (void *)(part[i] + skip);
			iov[n].iov_len = len[i] - skip;
			n++;
			skip = 0;
		}
	}
	return n;
}

/* Send what the socket takes now; false if the connection closed. */
bool tcp_queue_flush(struct tcp_queue *q)
{
	struct iovec iov[TCP_TX_IOVS];

	while (q->out_head && !q->dead) {
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)gather(q, iov) };
		ssize_t n = sendmsg(q->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		size_t left;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			tcp_queue_close(q);
			return false;
		}
		q->traffic.bytes_out += (uint64_t)n;
		q->out_bytes -= (size_t)n;
		for (left = (size_t)n; left && q->out_head;) {
			struct tcp_out_pdu *p = q->out_head;
			size_t rest = p->total - p->sent;

			if (left < rest) {
				p->sent += (uint32_t)left;
				break;
			}
			left -= rest;
			q->out_head = p->next;
			if (!q->out_head)
				q->out_tail = NULL;
			if (p->release)
				tcp_cmd_release(p->release);
			pdu_put(q, p);
		}
		if (q->out_head && q->out_head->sent)
			break;	/* the socket took part of it: it is full */
	}
	if (q->dead)
		return false;
	tcp_queue_update_events(q);
	return true;
}

/* Flush this connection when the loop is done with the current event. */
static void schedule_flush(struct tcp_queue *q)
{
	if (q->flush_scheduled)
		return;
	q->flush_scheduled = true;
	q->flush_next = q->t->flush_head;
	q->t->flush_head = q;
}

void tcp_flush_scheduled(struct tcp_target *t)
{
	while (t->flush_head) {
		struct tcp_queue *q = t->flush_head;

		t->flush_head = q->flush_next;
		q->flush_scheduled = false;
		if (!q->dead)
			tcp_queue_flush(q);
	}
}

/*
 * Queue one PDU: `hdr` (hlen bytes, its common header's plen/pdo filled in here), the header
 * digest, padding up to HPDA, the data and its digest, as the connection negotiated. The data
 * is copied, or (by_ref) left where it is, in a command's buffer; `release` (if any) is
 * released (tcp_cmd_release) once this PDU is sent.
 */
static void queue_pdu(struct tcp_queue *q, uint8_t type, const void *hdr, size_t hlen,
		      const void *data, size_t dlen, bool by_ref, struct tcp_cmd *release)
{
	size_t hd = q->hdgst && type != TCP_PDU_ICRESP ? TCP_DIGEST_LEN : 0;
	size_t dd = q->ddgst && dlen ? TCP_DIGEST_LEN : 0;
	size_t pdo = 0, pad = 0;
	struct tcp_out_pdu *p;
	struct tcp_hdr *h;

	if (q->dead) {
		if (release)
			tcp_cmd_release(release);
		return;
	}
	if (dlen) {
		size_t align = (size_t)(q->hpda + 1) * 4;

		pdo = (hlen + hd + align - 1) / align * align;
		pad = pdo - hlen - hd;
	}
	p = pdu_get(q, by_ref ? 0 : dlen);
	if (!p) {
		if (release)
			tcp_cmd_release(release);
		tcp_queue_close(q);
		return;
	}
	memcpy(p->head, hdr, hlen);
	h = (struct tcp_hdr *)p->head;
	h->type = type;
	h->hlen = (uint8_t)hlen;
	h->pdo = (uint8_t)pdo;
	h->plen = (uint32_t)(hlen + hd + pad + dlen + dd);
	h->flags = (uint8_t)((h->flags & ~(TCP_F_HDGST | TCP_F_DDGST)) |
			     (hd ? TCP_F_HDGST : 0) | (dd ? TCP_F_DDGST : 0));
	if (hd) {
		uint32_t crc = csd_crc32c(0, p->head, hlen);

		memcpy(p->head + hlen, &crc, TCP_DIGEST_LEN);
	}
	memset(p->head + hlen + hd, 0, pad);
	p->head_len = (uint32_t)(hlen + hd + pad);
	p->dlen = (uint32_t)dlen;
	p->release = release;
	if (by_ref) {
		p->data = data;
	} else {
		if (dlen)
			memcpy(p->data_copy, data, dlen);
		p->data = p->data_copy;
	}
	p->ddgst_len = (uint32_t)dd;
	if (dd) {
		uint32_t crc = csd_crc32c(0, data, dlen);

		memcpy(p->ddgst, &crc, TCP_DIGEST_LEN);
	}
	p->total = h->plen;
	q->traffic.pdus_out[type]++;
	q->traffic.pdu_bytes_out[type] += p->total;
	if (q->out_tail)
		q->out_tail->next = p;
	else
		q->out_head = p;
	q->out_tail = p;
	q->out_bytes += p->total;
	if (q->out_bytes >= TCP_TX_FLUSH_AT)
		tcp_queue_flush(q);
	else
		schedule_flush(q);
}

void tcp_queue_send(struct tcp_queue *q, uint8_t type, const void *hdr, size_t hlen,
		    const void *data, size_t dlen)
{
	queue_pdu(q, type, hdr, hlen, data, dlen, false, NULL);
}

void tcp_queue_send_ref(struct tcp_queue *q, uint8_t type, const void *hdr, size_t hlen,
			const void *data, size_t dlen, struct tcp_cmd *release)
{
	queue_pdu(q, type, hdr, hlen, data, dlen, true, release);
}
