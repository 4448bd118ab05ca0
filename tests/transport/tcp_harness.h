/* SPDX-License-Identifier: MIT */
/*
 * The NVMe/TCP tests' harness: a target serving a drive from its own thread on a loopback
 * port, and raw sockets for what a well-behaved initiator never sends.
 */
#ifndef CSD_TCP_HARNESS_H
#define CSD_TCP_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "csd/device.h"
#include "csd/nvme_cs.h"
#include "csd/tcp.h"

struct server {
	struct csd_subsys *subsys;
	struct csd_tcp_target *target;
	pthread_t thread;
	char path[64];
	uint16_t port;
};

extern struct server srv;
/* The next server's NVM namespace is in memory (read data sent from it, tx.c), not a file. */
extern bool server_nvm_in_memory;

/* A 64 MiB drive on a free port with this transport configuration (its port is ignored). */
void server_start_with(const struct csd_tcp_target_config *tc);
void server_stop(void);

/* A TCP connection to the server (5 s receive timeout). */
int raw_connect(void);
/* ICReq (digest flags) and its ICResp. */
void send_icreq(int fd, uint8_t digest);
/* Read until EOF; returns the first PDU's type and its FES if a TermReq (else -1). */
int expect_term(int fd, uint16_t *fes);
/* Does the peer close fd within `ms`? (bytes it sends first are read and dropped) */
bool closed_within(int fd, int ms);
/*
 * One command on a raw connection (after send_icreq), no digests: data to the controller goes
 * in the capsule (at most 8 KiB), data from it (up to len bytes) is read from C2HData PDUs.
 * Returns the completion.
 */
struct csd_nvme_cqe raw_cmd(int fd, struct csd_nvme_sqe *sqe, void *data, uint32_t len);
/* raw_cmd in two halves, for commands in flight together: send, then wait for a response
 * (C2H data into data, up to len bytes). */
void raw_send(int fd, const struct csd_nvme_sqe *sqe, const void *data, uint32_t len);
struct csd_nvme_cqe raw_wait(int fd, void *data, uint32_t len);

#endif
