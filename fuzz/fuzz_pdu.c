/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: a byte stream from a client at csd-target's NVMe/TCP decoder, through a real
 * socket, so the PDU framing, ICReq, digests, capsules, H2CData and the Fabrics commands behind
 * them all see it (DH-HMAC-CHAP too, for one host NQN). After the client's end of stream the target must close the connection
 * within 5 s (a hang is a bug) and keep no connection open.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "csd/device.h"
#include "csd/tcp.h"
#include "fuzz_drive.h"

static struct csd_tcp_target *target;
static struct sockaddr_in target_addr;

static void *serve(void *arg)
{
	(void)arg;
	csd_tcp_target_run(target);
	return NULL;
}

static void setup(void)
{
	/* one host must authenticate (corpus/pdu/icreq-connect-auth), the others need not */
	static const struct csd_tcp_host_secret secret = {
		.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:csdlab-fuzz-auth",
		.secret = "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:",
		.ctrl_secret = "DHHC-1:01:vb3shNpwt6PnRJ3wYKwspZpHfeAH17cXc1fDwlzRPrxJu191:",
	};
	struct csd_tcp_target_config tcfg = { .sz = sizeof(tcfg), .addr = "127.0.0.1",
					      .host_secrets = &secret, .nhost_secrets = 1,
					      .dhchap_dhgroup = "null",
					      .allow_unauthenticated = true };
	pthread_t thread;
	char err[128];

	if (csd_tcp_target_create(fuzz_drive_create(), &tcfg, &target, err, sizeof(err))) {
		fprintf(stderr, "fuzz_pdu: %s\n", err);
		abort();
	}
	target_addr.sin_family = AF_INET;
	target_addr.sin_port = htons(csd_tcp_target_port(target));
	target_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (pthread_create(&thread, NULL, serve, NULL))
		abort();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads (and drops) what the target answers until it closes; false after 5 s. */
static bool drain_until_closed(int fd)
{
	double deadline = now_s() + 5;
	char buf[65536];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left_ms = (int)((deadline - now_s()) * 1000);

		if (left_ms <= 0 || poll(&p, 1, left_ms) <= 0)
			return false;
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			return true;	/* end of stream or reset: closed either way */
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	int fd;

	if (!target)
		setup();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&target_addr, sizeof(target_addr)))
		abort();
	/* the target may close early (a fatal PDU): a short write is then expected */
	for (size_t off = 0; off < size;) {
		ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	if (!drain_until_closed(fd)) {
		fprintf(stderr, "fuzz_pdu: the target kept the connection 5 s after end of stream\n");
		abort();
	}
	close(fd);
	/* the target notices the close on its loop thread: give it a moment, then insist */
	for (int i = 0; i < 500 && csd_tcp_target_connections(target); i++)
		usleep(1000);
	if (csd_tcp_target_connections(target)) {
		fprintf(stderr, "fuzz_pdu: a connection stayed open after the client left\n");
		abort();
	}
	return 0;
}
