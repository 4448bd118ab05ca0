/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <nvme/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../transport/tcp/pdu.h"
#include "crc32c.h"
#include "tcp_host.h"

#define INLINE_DATA	8192	/* what csd-target and Linux targets take in a capsule */
#define MAX_QUEUES	65

/* A full-duplex link of a given bandwidth: when each direction is free again. */
struct pacer {
	uint64_t bytes_per_s;
	double free_out, free_in;
};

struct host_queue {
	int fd;
	struct pacer *pace;
	uint16_t qid, size;
	uint32_t maxh2cdata;
	struct tcp_host_cmd **slots;	/* by command id */
	unsigned inflight;
	struct csd_tcp_traffic traffic;
};

struct tcp_host {
	struct tcp_host_opts opts;
	char subnqn[NVME_NQN_LENGTH], hostnqn[NVME_NQN_LENGTH];
	uint8_t hostid[16];
	uint16_t cntlid;
	unsigned nio;
	struct host_queue q[MAX_QUEUES];
	struct csd_tcp_traffic closed;
	struct pacer pace;
	struct dhchap_host_creds creds;
	bool has_key;
	uint16_t auth_tid;	/* a new transaction id for each authentication */
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n bytes crossed in one direction: wait until a link of the shaped bandwidth would be done. */
static void pace(struct pacer *p, double *free_at, size_t n)
{
	double t, until;

	if (!p || !p->bytes_per_s)
		return;
	t = mono();
	until = (*free_at > t ? *free_at : t) + (double)n / (double)p->bytes_per_s;
	*free_at = until;
	if (until > t + 1e-6) {
		struct timespec d = { .tv_sec = (time_t)(until - t),
				      .tv_nsec = (long)((until - t - (double)(time_t)(until - t)) * 1e9) };

		nanosleep(&d, NULL);
	}
}

static int send_all(struct host_queue *q, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(q->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -ETIMEDOUT;	/* SO_SNDTIMEO: the target stopped reading */
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		q->traffic.bytes_out += (uint64_t)n;
		if (q->pace)
			pace(q->pace, &q->pace->free_out, (size_t)n);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_all(struct host_queue *q, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = recv(q->fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -ETIMEDOUT;	/* SO_RCVTIMEO: no answer in time */
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		q->traffic.bytes_in += (uint64_t)n;
		if (q->pace)
			pace(q->pace, &q->pace->free_in, (size_t)n);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Send one PDU: header (+digest), padding to pdo, data (+digest). */
static int send_pdu(struct tcp_host *h, struct host_queue *q, void *hdrp, size_t hlen,
		    const void *data, size_t dlen)
{
	struct tcp_hdr *hdr = hdrp;
	bool icreq = hdr->type == TCP_PDU_ICREQ;
	size_t hd = h->opts.hdgst && !icreq ? TCP_DIGEST_LEN : 0;
	size_t dd = h->opts.ddgst && dlen ? TCP_DIGEST_LEN : 0;
	uint8_t head[128 + TCP_DIGEST_LEN];
	uint32_t crc;
	int err;

	hdr->hlen = (uint8_t)hlen;
	hdr->pdo = dlen ? (uint8_t)(hlen + hd) : 0;
	hdr->plen = (uint32_t)(hlen + hd + dlen + dd);
	hdr->flags |= (hd ? TCP_F_HDGST : 0) | (dd ? TCP_F_DDGST : 0);
	memcpy(head, hdr, hlen);
	if (hd) {
		crc = csd_crc32c(0, head, hlen);
		memcpy(head + hlen, &crc, TCP_DIGEST_LEN);
	}
	q->traffic.pdus_out[hdr->type]++;
	q->traffic.pdu_bytes_out[hdr->type] += hdr->plen;
	if ((err = send_all(q, head, hlen + hd)))
		return err;
	if (dlen && (err = send_all(q, data, dlen)))
		return err;
	if (dd) {
		crc = csd_crc32c(0, data, dlen);
		return send_all(q, &crc, TCP_DIGEST_LEN);
	}
	return 0;
}

#define TCP_HOST_MIN_HLEN	24	/* CapsuleResp, C2HData, R2T, C2HTermReq; ICResp 128 */

/* Receive one PDU header (and its digest) into buf; returns its plen or -errno. */
static int recv_header(struct tcp_host *h, struct host_queue *q, uint8_t *buf, bool icresp)
{
	struct tcp_hdr *hdr = (struct tcp_hdr *)buf;
	size_t hd = h->opts.hdgst && !icresp ? TCP_DIGEST_LEN : 0;
	int err;

	/*
	 * Every PDU a controller sends has a header of at least 24 bytes: those are read in one
	 * call, the rest (and the digest) in another if there is more.
	 */
	if ((err = recv_all(q, buf, TCP_HOST_MIN_HLEN)))
		return err;
	if (hdr->type == TCP_PDU_C2H_TERM)
		return -ECONNRESET;
	if (hdr->hlen != tcp_pdu_hlen(hdr->type) || hdr->hlen < TCP_HOST_MIN_HLEN ||
	    hdr->plen < hdr->hlen + hd)
		return -EPROTO;
	if (hdr->hlen + hd > TCP_HOST_MIN_HLEN &&
	    (err = recv_all(q, buf + TCP_HOST_MIN_HLEN, hdr->hlen - TCP_HOST_MIN_HLEN + hd)))
		return err;
	if (hd) {
		uint32_t crc = csd_crc32c(0, buf, hdr->hlen), got;

		memcpy(&got, buf + hdr->hlen, TCP_DIGEST_LEN);
		if (crc != got)
			return -EBADMSG;
	}
	q->traffic.pdus_in[hdr->type]++;
	q->traffic.pdu_bytes_in[hdr->type] += hdr->plen;
	return (int)hdr->plen;
}

static int skip(struct host_queue *q, size_t n)
{
	uint8_t junk[256];

	while (n) {
		size_t k = n < sizeof(junk) ? n : sizeof(junk);
		int err = recv_all(q, junk, k);

		if (err)
			return err;
		n -= k;
	}
	return 0;
}

/* SO_RCVTIMEO and SO_SNDTIMEO of a queue's socket (TCP_HOST_NO_TIMEOUT: none). */
static void set_timeout(int fd, uint32_t ms)
{
	struct timeval tv = { 0, 0 };

	if (ms != TCP_HOST_NO_TIMEOUT) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* connect(), giving up after ms: 0 or -errno (-ETIMEDOUT). */
static int connect_within(int fd, const struct sockaddr_in *sa, uint32_t ms)
{
	int flags = fcntl(fd, F_GETFL), soerr = 0, ret = 0;
	socklen_t len = sizeof(soerr);
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK))
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa))) {
		if (errno != EINPROGRESS) {
			ret = -errno;
		} else {
			int n;

			do
				n = poll(&p, 1, ms == TCP_HOST_NO_TIMEOUT ? -1 : (int)ms);
			while (n < 0 && errno == EINTR);
			if (n == 0)
				ret = -ETIMEDOUT;
			else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
				ret = -errno;
			else if (soerr)
				ret = -soerr;
		}
	}
	if (fcntl(fd, F_SETFL, flags) && !ret)
		ret = -errno;
	return ret;
}

static int open_queue(struct tcp_host *h, struct host_queue *q, uint16_t qid, char *err,
		      size_t err_size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(h->opts.port) };
	struct tcp_icreq req = { .hdr.type = TCP_PDU_ICREQ };
	uint8_t buf[128 + TCP_DIGEST_LEN] __attribute__((aligned(8)));
	struct tcp_icresp *rsp = (struct tcp_icresp *)buf;
	int one = 1, ret = 0;

	q->qid = qid;
	q->size = h->opts.queue_size;
	q->pace = h->opts.link_bytes_per_s ? &h->pace : NULL;
	q->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (inet_pton(AF_INET, h->opts.addr, &sa.sin_addr) != 1) {
		snprintf(err, err_size, "'%s' is not an IPv4 address", h->opts.addr);
		return -EINVAL;
	}
	if (q->fd < 0 || (ret = connect_within(q->fd, &sa, h->opts.connect_timeout_ms))) {
		/* the caller closes q->fd */
		ret = q->fd < 0 ? -errno : ret;
		if (ret == -ETIMEDOUT)
			snprintf(err, err_size, "cannot connect to %s:%u: no answer in %u ms (the "
				 "connect timeout)", h->opts.addr, h->opts.port,
				 h->opts.connect_timeout_ms);
		else
			snprintf(err, err_size, "cannot connect to %s:%u: %s", h->opts.addr,
				 h->opts.port, strerror(-ret));
		return ret;
	}
	set_timeout(q->fd, h->opts.connect_timeout_ms);
	setsockopt(q->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	q->slots = calloc(q->size, sizeof(*q->slots));
	if (!q->slots)
		return -ENOMEM;
	req.digest = (h->opts.hdgst ? 1 : 0) | (h->opts.ddgst ? 2 : 0);
	if ((ret = send_pdu(h, q, &req, sizeof(req), NULL, 0)) ||
	    (ret = recv_header(h, q, buf, true)) < 0) {
		if (ret == -ETIMEDOUT)
			snprintf(err, err_size, "%s:%u accepted the connection but sent no ICResp "
				 "in %u ms (the connect timeout): is it an NVMe/TCP target?",
				 h->opts.addr, h->opts.port, h->opts.connect_timeout_ms);
		else
			snprintf(err, err_size, "ICReq/ICResp failed: %s", strerror(-ret));
		return ret;
	}
	if (rsp->hdr.type != TCP_PDU_ICRESP || rsp->pfv != 0 || rsp->maxdata < 4096 ||
	    (rsp->digest & 3) != req.digest) {
		snprintf(err, err_size, "the target's ICResp is not acceptable");
		return -EPROTO;
	}
	q->maxh2cdata = rsp->maxdata;
	return 0;
}

int tcp_host_submit(struct tcp_host *h, uint16_t qid, struct tcp_host_cmd *cmd)
{
	struct host_queue *q = qid < MAX_QUEUES ? &h->q[qid] : NULL;
	struct tcp_cmd_pdu pdu = { .hdr.type = TCP_PDU_CMD };
	struct tcp_sgl *sgl = (struct tcp_sgl *)pdu.cmd.dptr;
	int dir = csd_nvme_data_dir(&cmd->sqe);
	bool incapsule = dir == 1 && cmd->len && cmd->len <= INLINE_DATA;
	uint16_t cid;

	if (!q || q->fd < 0)
		return -EINVAL;
	/* the last slot stays free: a queue of N entries holds N - 1 commands */
	if (q->inflight + 1 >= q->size)
		return -EBUSY;
	for (cid = 0; cid < q->size && q->slots[cid]; cid++)
		;
	cmd->done = false;
	q->slots[cid] = cmd;
	q->inflight++;
	pdu.cmd = cmd->sqe;
	pdu.cmd.cid = cid;
	pdu.cmd.flags = 0x40;	/* PSDT: SGL */
	memset(pdu.cmd.dptr, 0, sizeof(pdu.cmd.dptr));
	sgl->length = cmd->len;
	sgl->type = incapsule ? SGL_DATA_BLOCK_OFFSET : SGL_TRANSPORT_DATA;
	return send_pdu(h, q, &pdu, sizeof(pdu), incapsule ? cmd->data : NULL,
			incapsule ? cmd->len : 0);
}

struct tcp_host_cmd *tcp_host_reap(struct tcp_host *h, uint16_t qid, int *err)
{
	struct host_queue *q = &h->q[qid];
	uint8_t buf[128 + TCP_DIGEST_LEN] __attribute__((aligned(8)));
	const struct tcp_hdr *hdr = (const struct tcp_hdr *)buf;

	for (;;) {
		int plen = recv_header(h, q, buf, false);
		size_t hd = h->opts.hdgst ? TCP_DIGEST_LEN : 0, dd;
		struct tcp_host_cmd *cmd;

		if (plen < 0) {
			*err = plen;
			return NULL;
		}
		switch (hdr->type) {
		case TCP_PDU_RSP: {
			const struct tcp_rsp_pdu *rsp = (const struct tcp_rsp_pdu *)buf;

			if (rsp->cqe.cid >= q->size || !(cmd = q->slots[rsp->cqe.cid])) {
				*err = -EPROTO;
				return NULL;
			}
			cmd->cqe = rsp->cqe;
			cmd->done = true;
			q->slots[rsp->cqe.cid] = NULL;
			q->inflight--;
			return cmd;
		}
		case TCP_PDU_C2H_DATA: {
			const struct tcp_data_pdu *d = (const struct tcp_data_pdu *)buf;
			uint32_t crc;

			dd = (hdr->flags & TCP_F_DDGST) ? TCP_DIGEST_LEN : 0;
			if (d->cccid >= q->size || !(cmd = q->slots[d->cccid]) ||
			    d->datao > cmd->len || d->datal > cmd->len - d->datao ||
			    hdr->pdo < hdr->hlen + hd || (uint32_t)plen != hdr->pdo + d->datal + dd) {
				*err = -EPROTO;
				return NULL;
			}
			if ((*err = skip(q, hdr->pdo - hdr->hlen - hd)) ||
			    (*err = recv_all(q, (uint8_t *)cmd->data + d->datao, d->datal)))
				return NULL;
			if (dd) {
				if ((*err = recv_all(q, &crc, sizeof(crc))))
					return NULL;
				if (crc != csd_crc32c(0, (uint8_t *)cmd->data + d->datao, d->datal)) {
					*err = -EBADMSG;
					return NULL;
				}
			}
			if (!(hdr->flags & TCP_F_DATA_SUCCESS))
				break;
			/*
			 * The last data PDU may stand for a successful completion: no CapsuleResp
			 * follows (SPDK's nvmf_tgt does this by default). SUCCESS without LAST is
			 * a protocol error, as the Linux host treats it.
			 */
			if (!(hdr->flags & TCP_F_DATA_LAST)) {
				*err = -EPROTO;
				return NULL;
			}
			memset(&cmd->cqe, 0, sizeof(cmd->cqe));
			cmd->cqe.cid = d->cccid;
			cmd->done = true;
			q->slots[d->cccid] = NULL;
			q->inflight--;
			return cmd;
		}
		case TCP_PDU_R2T: {
			const struct tcp_r2t_pdu *r = (const struct tcp_r2t_pdu *)buf;

			if (r->cccid >= q->size || !(cmd = q->slots[r->cccid]) ||
			    r->r2to > cmd->len || r->r2tl > cmd->len - r->r2to) {
				*err = -EPROTO;
				return NULL;
			}
			/* answer with H2CData PDUs of at most MAXH2CDATA */
			for (uint32_t off = 0; off < r->r2tl; off += q->maxh2cdata) {
				uint32_t n = r->r2tl - off < q->maxh2cdata ? r->r2tl - off
									   : q->maxh2cdata;
				struct tcp_data_pdu d = { .hdr.type = TCP_PDU_H2C_DATA,
							  .cccid = r->cccid, .ttag = r->ttag,
							  .datao = r->r2to + off, .datal = n };

				if (off + n == r->r2tl)
					d.hdr.flags = TCP_F_DATA_LAST;
				if ((*err = send_pdu(h, q, &d, sizeof(d),
						     (uint8_t *)cmd->data + r->r2to + off, n)))
					return NULL;
			}
			break;
		}
		default:
			*err = -EPROTO;
			return NULL;
		}
	}
}

int tcp_host_cmd(struct tcp_host *h, uint16_t qid, struct csd_nvme_sqe *sqe, void *data,
		 uint32_t len, struct csd_nvme_cqe *cqe)
{
	struct tcp_host_cmd cmd = { .sqe = *sqe, .data = data, .len = len };
	int err = tcp_host_submit(h, qid, &cmd);

	while (!err && !cmd.done)
		if (!tcp_host_reap(h, qid, &err))
			break;
	if (!err)
		*cqe = cmd.cqe;
	return err;
}

/* Connect's own statuses (command specific, SCT 1h), else the generic ones by name. */
static const char *connect_status_name(uint16_t status)
{
	switch (status & 0x7ff) {
	case 0x180: return "Connect Incompatible Format";
	case 0x181: return "Connect Controller Busy";
	case 0x182: return "Connect Invalid Parameters";
	case 0x183: return "Connect Restart Discovery";
	case 0x184: return "Connect Invalid Host (not allowed, or no secret for it)";
	default: return csd_nvme_status_str(status);
	}
}

static int fabrics_connect(struct tcp_host *h, uint16_t qid, char *err, size_t err_size)
{
	struct nvmf_connect_data d;
	struct csd_nvme_sqe c = { .opcode = nvme_admin_fabrics,
				  .nsid = nvme_fabrics_type_connect,
				  .cdw10 = (uint32_t)qid << 16,
				  /* libcsd never reads the SQ head: reads may then end without a
				   * CapsuleResp (C2HData SUCCESS), one PDU fewer each */
				  .cdw11 = (uint32_t)(h->opts.queue_size - 1) |
					   CSD_NVMF_CONNECT_CATTR_DISABLE_SQFLOW << 16,
				  .cdw12 = qid ? 0 : h->opts.kato_ms };
	struct csd_nvme_cqe cqe;
	int ret;

	memset(&d, 0, sizeof(d));
	memcpy(d.hostid, h->hostid, sizeof(d.hostid));
	d.cntlid = qid ? h->cntlid : 0xffff;
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", h->subnqn);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", h->hostnqn);
	ret = tcp_host_cmd(h, qid, &c, &d, sizeof(d), &cqe);
	if (!ret && (cqe.status >> 1 & 0x7ff) == 0x182 && (cqe.dw0 >> 16 & 1) &&
	    (cqe.dw0 & 0xffff) == offsetof(struct nvmf_connect_data, subsysnqn)) {
		/* IATTR 1, IPO: the field of the Connect data the target refused */
		snprintf(err, err_size, "no subsystem %s at this address (Connect Invalid "
			 "Parameters on SUBNQN): csd discover lists the ones there", h->subnqn);
		return -ENOENT;
	}
	if (!ret && (cqe.status >> 1 & 0x7ff) == 0x184) {
		snprintf(err, err_size, "the target does not allow host %s (Connect Invalid Host): "
			 "it is not on the target's allow list, or it has no secret there", h->hostnqn);
		return -EACCES;
	}
	if (ret || cqe.status >> 1) {
		snprintf(err, err_size, "Connect of queue %u refused: %s (status 0x%x, DW0 0x%x)",
			 qid, ret ? strerror(-ret) : connect_status_name(cqe.status >> 1),
			 cqe.status >> 1, cqe.dw0);
		return ret ? ret : -ECONNREFUSED;
	}
	if (qid == 0)
		h->cntlid = (uint16_t)cqe.dw0;
	if (cqe.dw0 & CSD_NVMF_CONNECT_AUTHREQ_ATR) {
		if (!h->has_key) {
			snprintf(err, err_size, "the target requires authentication (DH-HMAC-CHAP) "
				 "of %s: give its secret (--dhchap-secret)", h->hostnqn);
			return -EACCES;
		}
		return dhchap_host_authenticate(h, qid, h->auth_tid++, &h->creds, err, err_size);
	}
	return 0;
}

static int prop(struct tcp_host *h, bool set, uint32_t off, uint64_t *v)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_fabrics,
				  .nsid = set ? nvme_fabrics_type_property_set
					      : nvme_fabrics_type_property_get,
				  .cdw10 = off == 0 ? 1 : 0, .cdw11 = off,
				  .cdw12 = (uint32_t)*v, .cdw13 = (uint32_t)(*v >> 32) };
	struct csd_nvme_cqe cqe;
	int err = tcp_host_cmd(h, 0, &c, NULL, 0, &cqe);

	if (!err && cqe.status >> 1)
		err = -EIO;
	*v = cqe.dw0 | ((uint64_t)cqe.dw1 << 32);
	return err;
}

static int parse_secrets(struct tcp_host *h, char *err, size_t err_size)
{
	char why[160];

	h->creds.hostnqn = h->hostnqn;
	h->creds.subnqn = h->subnqn;
	if (h->opts.dhchap_secret) {
		if (csd_dhchap_key_parse(h->opts.dhchap_secret, &h->creds.key, why, sizeof(why))) {
			snprintf(err, err_size, "host secret: %s", why);
			return -EINVAL;
		}
		h->has_key = true;
	}
	if (h->opts.dhchap_ctrl_secret) {
		if (!h->has_key) {
			snprintf(err, err_size, "a controller secret needs the host's secret too");
			return -EINVAL;
		}
		if (csd_dhchap_key_parse(h->opts.dhchap_ctrl_secret, &h->creds.ctrl_key, why,
					 sizeof(why))) {
			snprintf(err, err_size, "controller secret: %s", why);
			return -EINVAL;
		}
		h->creds.has_ctrl_key = true;
	}
	return 0;
}

int tcp_host_connect(const struct tcp_host_opts *opts, struct tcp_host **out, char *err,
		     size_t err_size)
{
	struct tcp_host *h = calloc(1, sizeof(*h));
	bool discovery;
	uint64_t v;
	int ret;

	if (!h)
		return -ENOMEM;
	for (int i = 0; i < MAX_QUEUES; i++)
		h->q[i].fd = -1;
	h->opts = *opts;
	h->pace.bytes_per_s = opts->link_bytes_per_s;
	if (!h->opts.addr)
		h->opts.addr = "127.0.0.1";
	if (!h->opts.port)
		h->opts.port = 4420;
	if (!h->opts.queue_size)
		h->opts.queue_size = 128;
	if (!h->opts.connect_timeout_ms)
		h->opts.connect_timeout_ms = 10000;
	if (!h->opts.admin_timeout_ms)
		h->opts.admin_timeout_ms = 60000;
	if (!h->opts.io_timeout_ms)
		h->opts.io_timeout_ms = 30000;
	if (h->opts.queue_size < 2 || h->opts.queue_size > 1024) {
		snprintf(err, err_size, "queue size %u: 2 to 1024", h->opts.queue_size);
		free(h);
		return -EINVAL;
	}
	snprintf(h->subnqn, sizeof(h->subnqn), "%s",
		 opts->subnqn ? opts->subnqn : "nqn.2026-01.io.csdlab:drive0");
	snprintf(h->hostnqn, sizeof(h->hostnqn), "%s",
		 opts->hostnqn ? opts->hostnqn : "nqn.2014-08.org.nvmexpress:uuid:csdlab-host");
	memcpy(h->hostid, opts->hostid ? opts->hostid : (const uint8_t *)"csdlab-host-id-0", 16);
	if ((ret = parse_secrets(h, err, err_size))) {
		free(h);
		return ret;
	}
	discovery = !strcmp(h->subnqn, NVME_DISC_SUBSYS_NAME);
	h->nio = discovery ? 0 : (opts->nr_io_queues ? opts->nr_io_queues : 1);
	if (h->nio > 64) {
		snprintf(err, err_size, "%u I/O queues: at most 64", h->nio);
		free(h);
		return -EINVAL;
	}
	if ((ret = open_queue(h, &h->q[0], 0, err, err_size)) ||
	    (ret = fabrics_connect(h, 0, err, err_size)))
		goto fail;
	set_timeout(h->q[0].fd, h->opts.admin_timeout_ms);
	/* enable: all I/O command sets, 64-byte SQEs, 16-byte CQEs */
	v = 1 | ((discovery ? 0u : 6u) << 4) | (6 << 16) | (4 << 20);
	if ((ret = prop(h, true, 0x14, &v))) {
		snprintf(err, err_size, "enabling the controller failed");
		goto fail;
	}
	v = 0;
	if ((ret = prop(h, false, 0x1c, &v)) || !(v & 1)) {
		snprintf(err, err_size, "the controller did not become ready (CSTS 0x%llx)",
			 (unsigned long long)v);
		ret = ret ? ret : -EIO;
		goto fail;
	}
	if (h->nio) {
		struct csd_nvme_sqe c = { .opcode = nvme_admin_set_features,
					  .cdw10 = NVME_FEAT_FID_NUM_QUEUES,
					  .cdw11 = (h->nio - 1) | ((h->nio - 1) << 16) };
		struct csd_nvme_cqe cqe;

		if ((ret = tcp_host_cmd(h, 0, &c, NULL, 0, &cqe)) || (cqe.status >> 1)) {
			snprintf(err, err_size, "Set Features Number of Queues failed");
			ret = ret ? ret : -EIO;
			goto fail;
		}
		if ((cqe.dw0 & 0xffff) + 1 < h->nio)
			h->nio = (cqe.dw0 & 0xffff) + 1;
	}
	for (unsigned i = 1; i <= h->nio; i++)
		if ((ret = open_queue(h, &h->q[i], (uint16_t)i, err, err_size)) ||
		    (ret = fabrics_connect(h, (uint16_t)i, err, err_size)))
			goto fail;
		else
			set_timeout(h->q[i].fd, h->opts.io_timeout_ms);
	*out = h;
	return 0;
fail:
	tcp_host_disconnect(h);
	return ret;
}

void tcp_host_disconnect(struct tcp_host *h)
{
	if (!h)
		return;
	/* I/O queues first, then the admin queue, as a host tears an association down */
	for (int i = MAX_QUEUES - 1; i >= 0; i--) {
		struct host_queue *q = &h->q[i];

		if (q->fd >= 0)
			close(q->fd);
		free(q->slots);
	}
	explicit_bzero(&h->creds, sizeof(h->creds));
	free(h);
}

uint16_t tcp_host_cntlid(const struct tcp_host *h)
{
	return h->cntlid;
}

unsigned tcp_host_nr_io_queues(const struct tcp_host *h)
{
	return h->nio;
}

void tcp_host_traffic(struct tcp_host *h, struct csd_tcp_traffic *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < MAX_QUEUES; i++)
		tcp_traffic_add(out, &h->q[i].traffic);
}

int tcp_host_queue_fd(struct tcp_host *h, uint16_t qid)
{
	return qid < MAX_QUEUES ? h->q[qid].fd : -1;
}
