/* SPDX-License-Identifier: MIT */
/*
 * The built-in NVMe/TCP initiator (libcsd's first backend): one TCP connection per queue,
 * ICReq/ICResp, fabrics Connect and controller enable, then commands with in-capsule data,
 * R2T-driven H2CData, and C2HData, with digests when asked. Each queue keeps up to its size of
 * commands in flight (tcp_host_submit/tcp_host_reap); tcp_host_cmd is the one-at-a-time form.
 * Every byte sent and received is counted, by PDU type.
 */
#ifndef CSD_TCP_HOST_H
#define CSD_TCP_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "csd/dhchap.h"
#include "csd/nvme_cs.h"
#include "csd/tcp.h"

struct tcp_host_opts {
	const char *addr;		/* default 127.0.0.1 */
	uint16_t port;			/* default 4420 */
	const char *subnqn;		/* default the csdlab drive's */
	const char *hostnqn;		/* default nqn.2014-08.org.nvmexpress:uuid:csdlab-host */
	const uint8_t *hostid;		/* 16 bytes; default "csdlab-host-id-0" */
	bool hdgst, ddgst;
	unsigned nr_io_queues;		/* default 1 */
	uint16_t queue_size;		/* default 128 */
	uint32_t kato_ms;		/* default 0: no keep alive */
	/*
	 * Shape the link to this many bytes per second each way (0: as fast as the socket goes),
	 * as if the bytes had to cross a slower bus: each send and receive waits for its share.
	 */
	uint64_t link_bytes_per_s;
	/*
	 * DH-HMAC-CHAP secrets (DHHC-1 form), used when the target asks for authentication:
	 * the host's, and the controller's to authenticate the controller too (bidirectional).
	 */
	const char *dhchap_secret;
	const char *dhchap_ctrl_secret;
	/*
	 * How long to wait, in ms (0: the defaults, TCP_HOST_NO_TIMEOUT: forever): for the TCP
	 * connection and each queue's ICReq/Connect exchange (default 10 s), and then for each
	 * answer on the admin queue (60 s) and on an I/O queue (30 s), as the Linux host's
	 * admin_timeout and io_timeout. A timeout is -ETIMEDOUT.
	 */
	uint32_t connect_timeout_ms;
	uint32_t admin_timeout_ms;
	uint32_t io_timeout_ms;
};
#define TCP_HOST_NO_TIMEOUT	UINT32_MAX

struct tcp_host;

/* A command for tcp_host_submit: data direction follows the opcode (fabrics: fctype). */
struct tcp_host_cmd {
	struct csd_nvme_sqe sqe;
	void *data;
	uint32_t len;
	struct csd_nvme_cqe cqe;	/* filled on completion */
	void *user;
	bool done;
};

int tcp_host_connect(const struct tcp_host_opts *opts, struct tcp_host **out, char *err,
		     size_t err_size);
void tcp_host_disconnect(struct tcp_host *h);
uint16_t tcp_host_cntlid(const struct tcp_host *h);
unsigned tcp_host_nr_io_queues(const struct tcp_host *h);

/* One command, waiting for it: 0 with cqe filled (status may be non-zero), or -errno. */
int tcp_host_cmd(struct tcp_host *h, uint16_t qid, struct csd_nvme_sqe *sqe, void *data,
		 uint32_t len, struct csd_nvme_cqe *cqe);

/* Queue depth > 1: submit without waiting (-EBUSY when the queue is full), then reap. */
int tcp_host_submit(struct tcp_host *h, uint16_t qid, struct tcp_host_cmd *cmd);
/* Wait for at least one completion on qid; returns the command or NULL with *err set. */
struct tcp_host_cmd *tcp_host_reap(struct tcp_host *h, uint16_t qid, int *err);

/* Traffic of all this host's connections (closed ones included). */
void tcp_host_traffic(struct tcp_host *h, struct csd_tcp_traffic *out);
/* The socket of a queue, for TCP_INFO cross-checks. */
int tcp_host_queue_fd(struct tcp_host *h, uint16_t qid);

/* dhchap_host.c: authenticate one queue (after its Connect asked for it). */
struct dhchap_host_creds {
	const char *hostnqn, *subnqn;
	struct csd_dhchap_key key, ctrl_key;
	bool has_ctrl_key;
};
int dhchap_host_authenticate(struct tcp_host *h, uint16_t qid, uint16_t tid,
			     const struct dhchap_host_creds *cr, char *err, size_t err_size);

#endif
