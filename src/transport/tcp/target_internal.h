/* SPDX-License-Identifier: MIT */
/* Private to the NVMe/TCP target: connections (queues), associations, the event loop. */
#ifndef CSD_TCP_TARGET_INTERNAL_H
#define CSD_TCP_TARGET_INTERNAL_H

#include <nvme/types.h>
#include <pthread.h>
#include <time.h>

#include "csd/dhchap.h"
#include "csd/tcp.h"
#include "pdu.h"

#define TCP_INLINE_DATA		8192		/* in-capsule data accepted (IOCCSZ) */
#define TCP_MAX_DATA		(1u << 20)	/* a command's data: the drive's MDTS */
#define TCP_C2H_CHUNK		(128u << 10)
#define TCP_OUT_LIMIT		(8u << 20)	/* queued output before we stop reading */
#define TCP_RX_BUF		(256u << 10)	/* one recv() */
#define TCP_RX_DIRECT		(16u << 10)	/* data this large is received into place */
#define TCP_POOL_LIMIT		(16u << 20)	/* command buffers a connection keeps */
#define TCP_MAX_HDR		(128 + TCP_DIGEST_LEN)
#define CSD_MAX_QUEUE_SIZE_TCP	1024	/* the drive's MQES + 1 */

struct tcp_queue;
struct tcp_target;
struct tcp_auth;
struct tcp_auth_worker;

/* A host's DH-HMAC-CHAP secrets, parsed. */
struct tcp_host_key {
	char hostnqn[NVME_NQN_LENGTH];
	struct csd_dhchap_key host, ctrl;
	bool has_ctrl;
	uint8_t hash, dhgroup;	/* preferred for this host */
};

/* One command in flight on a queue; req first so that done() can find it. */
struct tcp_cmd {
	struct csd_req req;
	struct tcp_queue *q;
	uint8_t *buf;
	uint32_t len;		/* the SGL's data length */
	uint32_t h2c_received;
	uint32_t r2t_end;	/* end of the data the outstanding R2T asked for */
	uint32_t cap;		/* of buf, kept from command to command (tcp_cmd_buf) */
	bool in_use;
	bool submitted;		/* owned by the drive (or the auth worker) until done() */
	bool sending;		/* its data is queued to be sent from buf */
	uint32_t c2h_sent;	/* read data queued before the completion (cmd_c2h_ready) */
	void (*finish)(struct tcp_cmd *c);	/* on the loop after done(), before the response */
	struct tcp_cmd *next_done;
};

/* The queues of one host's controller: the admin queue's Connect creates it. */
struct tcp_assoc {
	struct tcp_target *t;
	struct csd_ctrl *ctrl;		/* NULL for the discovery controller */
	bool discovery;
	uint16_t cntlid;
	char hostnqn[NVME_NQN_LENGTH];
	uint8_t hostid[16];
	struct tcp_queue *queues[65];
	struct csd_tcp_traffic closed;	/* of its queues that closed */
	/* discovery controller state */
	uint32_t cc, csts, kato_ms;
	uint64_t last_ka_ms;
	uint64_t last_cmd_ms;		/* for the idle limit of hosts without keep alive */
	struct tcp_assoc *next;
};

/* A PDU queued to be sent (tx.c): header part, data (copied or in a command's buffer), digest. */
struct tcp_out_pdu {
	struct tcp_out_pdu *next;
	struct tcp_cmd *release;	/* released once this PDU is sent */
	const uint8_t *data;
	uint32_t head_len, dlen, ddgst_len, total, sent;
	bool copied;			/* data is in data_copy (then never kept for reuse) */
	uint8_t ddgst[TCP_DIGEST_LEN];
	uint8_t head[256] __attribute__((aligned(8)));	/* header, its digest, padding */
	uint8_t data_copy[];
};

enum rx_state { RX_HDR, RX_PAD, RX_DATA, RX_DDGST };

struct tcp_queue {
	struct tcp_target *t;
	int fd;
	bool ready;		/* ICReq done */
	bool dead;		/* closed; freed when nothing is outstanding */
	bool hdgst, ddgst;
	uint8_t hpda;
	uint16_t qid, sqsize;
	bool sqflow_disabled;	/* Connect CATTR: a read may end in a C2HData with SUCCESS */
	struct tcp_assoc *assoc;
	struct tcp_auth *auth;	/* DH-HMAC-CHAP state; NULL until the queue needs it */
	char peer[64];

	/* receive */
	enum rx_state rx;
	uint8_t hdr[TCP_MAX_HDR] __attribute__((aligned(8)));	/* read as PDU structs */
	uint32_t hdr_have, hdr_need;
	uint32_t rx_left;	/* bytes left in the current state */
	uint8_t *rx_dst;
	uint32_t rx_crc;
	uint8_t rx_ddgst[TCP_DIGEST_LEN];
	struct tcp_cmd *rx_cmd;	/* receiving data for it */
	uint8_t rx_type;	/* of the PDU being received */
	uint32_t rx_plen;
	uint64_t pdus_started;	/* PDU boundaries reached (for the slow client check) */
	uint64_t connected_ms;	/* when the connection was accepted */
	uint64_t auth_ms;	/* Connect or the last authentication message (its time limit) */
	uint64_t stalled_since_ms;	/* a PDU is half received and none completed since; 0: not */

	/* commands */
	struct tcp_cmd *cmds;
	unsigned ncmds;
	unsigned outstanding;

	uint64_t pool_bytes;	/* of command buffers kept for reuse (cap of each) */

	/* send (tx.c) */
	struct tcp_out_pdu *out_head, *out_tail;
	size_t out_bytes;
	struct tcp_out_pdu *spare_pdus;
	unsigned nspare_pdus;
	uint32_t ev_mask;	/* the epoll events asked for */
	bool flush_scheduled;
	struct tcp_queue *flush_next;

	struct csd_tcp_traffic traffic;
	struct tcp_queue *next;
};

struct tcp_target {
	struct csd_tcp_target_config cfg;
	struct csd_subsys *subsys;
	int lfd, epfd, evfd;
	uint16_t port;
	char advertise[64];
	_Atomic int stopping;		/* set from a signal handler or another thread */
	pthread_t loop_thread;
	struct tcp_queue *queues;
	struct tcp_queue *flush_head;	/* connections with output to send after this event */
	uint8_t *rxbuf;			/* TCP_RX_BUF: what one recv() takes */
	struct tcp_assoc *assocs;
	uint16_t next_disc_cntlid;
	pthread_mutex_t lock;		/* done list, totals */
	struct tcp_cmd *done_head;
	struct csd_tcp_traffic closed;	/* of connections that closed */
	unsigned nconn;
	int spare_fd;			/* given up to accept-and-close when descriptors run out */
	uint64_t accept_paused_until;	/* ms; 0: accepting */
	struct tcp_host_key *host_keys;	/* hosts that must authenticate */
	size_t nhost_keys;
	struct tcp_host_key *next_keys;	/* replacements, for the loop to take (under lock) */
	size_t nnext_keys;
	uint8_t dhchap_hash, dhchap_dhgroup;	/* preferred */
	struct tcp_auth_worker *auth_worker;	/* runs the Diffie-Hellman work */
};

/* tx.c: output */
void tcp_queue_send(struct tcp_queue *q, uint8_t type, const void *hdr, size_t hlen,
		    const void *data, size_t dlen);
/* The same without copying data (it stays in a command's buffer); release, if not NULL, is
 * released once this PDU has been sent. */
void tcp_queue_send_ref(struct tcp_queue *q, uint8_t type, const void *hdr, size_t hlen,
			const void *data, size_t dlen, struct tcp_cmd *release);
bool tcp_queue_flush(struct tcp_queue *q);
void tcp_flush_scheduled(struct tcp_target *t);
void tcp_queue_update_events(struct tcp_queue *q);
void tcp_queue_drop_output(struct tcp_queue *q);

/* target.c */
void tcp_cmd_respond(struct tcp_cmd *cmd);
void tcp_cmd_release(struct tcp_cmd *cmd);
void tcp_queue_close(struct tcp_queue *q);
void tcp_assoc_destroy(struct tcp_assoc *a);

/* fabrics.c: Connect and the discovery controller */
void tcp_handle_connect(struct tcp_queue *q, struct tcp_cmd *cmd);
void tcp_discovery_cmd(struct tcp_queue *q, struct tcp_cmd *cmd);
void tcp_discovery_check_keep_alive(struct tcp_target *t, uint64_t now_ms);

/* auth.c: DH-HMAC-CHAP, the controller's side */
int tcp_auth_configure(struct tcp_target *t, char *err, size_t err_size);
void tcp_auth_unconfigure(struct tcp_target *t);
const struct tcp_host_key *tcp_auth_host_key(const struct tcp_target *t, const char *hostnqn);
int tcp_auth_queue_init(struct tcp_queue *q, const struct tcp_host_key *key);
void tcp_auth_queue_free(struct tcp_queue *q);
/* The queue's host must authenticate and has not (yet). */
bool tcp_auth_pending(const struct tcp_queue *q);
/* On the loop: take the secrets csd_tcp_target_set_host_secrets() left, if any. */
void tcp_auth_take_new_keys(struct tcp_target *t);
/* Wait until the worker has handed back every command it holds (the target is stopping). */
void tcp_auth_quiesce(struct tcp_target *t);
/* Authentication Send / Receive: handles and responds (now, or after the worker). */
void tcp_auth_cmd(struct tcp_queue *q, struct tcp_cmd *cmd);

static inline uint64_t tcp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tcp_now_ms(void)
{
	return tcp_now_ns() / 1000000;
}

static inline void tcp_cmd_status(struct tcp_cmd *cmd, uint16_t status)
{
	cmd->req.rsp.cid = cmd->req.cmd.cid;
	cmd->req.rsp.sq_id = cmd->req.qid;
	cmd->req.rsp.status = (uint16_t)(status << 1);
}

#endif
