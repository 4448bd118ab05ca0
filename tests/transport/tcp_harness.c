/* SPDX-License-Identifier: MIT */
/* The NVMe/TCP tests' harness (tcp_harness.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../src/transport/tcp/pdu.h"
#include "tcp_harness.h"

struct server srv;
bool server_nvm_in_memory;

static void *serve(void *arg)
{
	csd_tcp_target_run(arg);
	return NULL;
}

void server_start_with(const struct csd_tcp_target_config *config)
{
	struct csd_tcp_target_config tc = *config;
	struct csd_dev_config cfg;
	char err[256];
	int fd;

	tc.port = 0;
	memset(&srv, 0, sizeof(srv));
	csd_dev_config_defaults(&cfg);
	if (server_nvm_in_memory) {
		cfg.nvm_in_memory = true;
	} else {
		snprintf(srv.path, sizeof(srv.path), "/tmp/csd-tcp-test-XXXXXX");
		fd = mkstemp(srv.path);
		close(fd);
		cfg.backing_path = srv.path;
	}
	cfg.nvm_bytes = 64u << 20;
	cfg.slm_bytes = 16u << 20;
	if (csd_subsys_create(&cfg, &srv.subsys, err, sizeof(err)) ||
	    csd_tcp_target_create(srv.subsys, &tc, &srv.target, err, sizeof(err))) {
		fprintf(stderr, "server: %s\n", err);
		abort();
	}
	srv.port = csd_tcp_target_port(srv.target);
	pthread_create(&srv.thread, NULL, serve, srv.target);
}

void server_stop(void)
{
	csd_tcp_target_stop(srv.target);
	pthread_join(srv.thread, NULL);
	csd_tcp_target_destroy(srv.target);
	csd_subsys_destroy(srv.subsys);
	if (srv.path[0])
		unlink(srv.path);
}

int raw_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(srv.port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { .tv_sec = 5 };

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int expect_term(int fd, uint16_t *fes)
{
	uint8_t buf[512];
	size_t have = 0;
	ssize_t n;

	while ((n = recv(fd, buf + have, sizeof(buf) - have, 0)) > 0)
		have += (size_t)n;
	close(fd);
	/* skip an ICResp if the connection got that far */
	if (have >= 128 + 24 && buf[0] == TCP_PDU_ICRESP) {
		memmove(buf, buf + 128, have - 128);
		have -= 128;
	}
	if (have < 24 || buf[0] != TCP_PDU_C2H_TERM)
		return -1;
	memcpy(fes, buf + 8, 2);
	return buf[0];
}

void send_icreq(int fd, uint8_t digest)
{
	struct tcp_icreq req = { .hdr = { .type = TCP_PDU_ICREQ, .hlen = 128, .plen = 128 },
				 .digest = digest };
	uint8_t rsp[128];

	assert_int_equal(send(fd, &req, sizeof(req), 0), 128);
	assert_int_equal(recv(fd, rsp, sizeof(rsp), MSG_WAITALL), 128);
	assert_int_equal(rsp[0], TCP_PDU_ICRESP);
}

bool closed_within(int fd, int ms)
{
	char b[256];

	for (int waited = 0; waited < ms; waited += 10) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return true;
		usleep(10000);
	}
	return false;
}

void raw_send(int fd, const struct csd_nvme_sqe *sqe, const void *data, uint32_t len)
{
	bool to_ctrl = csd_nvme_data_dir(sqe) == 1;
	uint32_t incapsule = to_ctrl ? len : 0;
	struct tcp_cmd_pdu p = { .hdr = { .type = TCP_PDU_CMD, .hlen = 72, .pdo = incapsule ? 72 : 0,
					  .plen = 72 + incapsule } };
	struct tcp_sgl *sgl = (struct tcp_sgl *)p.cmd.dptr;
	/* one send: a header alone would wait for a delayed ACK (Nagle) */
	static uint8_t capsule[72 + 8192];

	assert_true(incapsule <= 8192);
	p.cmd = *sqe;
	sgl->type = incapsule ? SGL_DATA_BLOCK_OFFSET : SGL_TRANSPORT_DATA;
	sgl->length = len;
	memcpy(capsule, &p, 72);
	if (incapsule)
		memcpy(capsule + 72, data, incapsule);
	assert_int_equal(send(fd, capsule, 72 + incapsule, MSG_NOSIGNAL), (ssize_t)(72 + incapsule));
}

struct csd_nvme_cqe raw_wait(int fd, void *data, uint32_t len)
{
	uint8_t hdr[24];

	for (;;) {
		assert_int_equal(recv(fd, hdr, sizeof(hdr), MSG_WAITALL), 24);
		if (hdr[0] == TCP_PDU_RSP)
			return ((struct tcp_rsp_pdu *)hdr)->cqe;
		assert_int_equal(hdr[0], TCP_PDU_C2H_DATA);
		{
			const struct tcp_data_pdu *d = (const void *)hdr;

			assert_true(d->datao + (uint64_t)d->datal <= len);
			assert_int_equal(recv(fd, (uint8_t *)data + d->datao, d->datal, MSG_WAITALL),
					 (ssize_t)d->datal);
		}
	}
}

struct csd_nvme_cqe raw_cmd(int fd, struct csd_nvme_sqe *sqe, void *data, uint32_t len)
{
	raw_send(fd, sqe, data, len);
	return raw_wait(fd, data, len);
}
