/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP end to end, in one process: the target serves a drive on a loopback port from its
 * own thread, csdlab's initiator (and raw sockets, for what a well-behaved initiator never
 * sends) talk to it. Digests, R2T, queue depth, the offload over the link, discovery,
 * malformed PDUs, keep alive, many connections, a peer that stops reading, and byte counts
 * checked against the kernel's TCP_INFO.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <nvme/types.h>
#include <pthread.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../src/transport/tcp/pdu.h"
#include "crc32c.h"
#include "csd/device.h"
#include "csd/ebpf.h"
#include "csd/tcp.h"
#include "failing_pread.h"
#include "tcp_harness.h"
#include "tcp_host.h"

static uint32_t handshake_ms, pdu_ms;	/* the next server's slow client limits (0: default) */
static uint32_t idle_ms;		/* ... its idle limit without keep alive */
static unsigned max_connections;	/* ... its connection cap */

static void server_start(uint32_t kato_unused)
{
	struct csd_tcp_target_config tc = { .sz = sizeof(tc), .maxh2cdata = 32768,
					    .handshake_ms = handshake_ms, .pdu_ms = pdu_ms,
					    .idle_ms = idle_ms, .max_connections = max_connections };

	(void)kato_unused;
	server_start_with(&tc);
}

static int setup(void **state)
{
	(void)state;
	server_start(0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	server_stop();
	return 0;
}

static struct tcp_host *host(bool digests, unsigned nio)
{
	struct tcp_host_opts o = { .port = srv.port, .hdgst = digests, .ddgst = digests,
				   .nr_io_queues = nio };
	struct tcp_host *h;
	char err[256];

	if (tcp_host_connect(&o, &h, err, sizeof(err)))
		fail_msg("connect: %s", err);
	return h;
}

static uint16_t status(const struct csd_nvme_cqe *cqe)
{
	return cqe->status >> 1;
}

static void rw(struct tcp_host *h, uint16_t qid, uint8_t opcode, uint64_t slba, void *buf,
	       uint32_t nlb)
{
	struct csd_nvme_sqe c = { .opcode = opcode, .nsid = 1, .cdw10 = (uint32_t)slba,
				  .cdw11 = (uint32_t)(slba >> 32), .cdw12 = nlb - 1 };
	struct csd_nvme_cqe cqe;

	assert_int_equal(tcp_host_cmd(h, qid, &c, buf, nlb * 512, &cqe), 0);
	assert_int_equal(status(&cqe), 0);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + i / 4096);
}

static void identify_and_io(bool digests)
{
	struct tcp_host *h = host(digests, 2);
	struct nvme_id_ctrl id;
	struct csd_nvme_sqe c = { .opcode = nvme_admin_identify, .cdw10 = 1 };
	struct csd_nvme_cqe cqe;
	const size_t big = 1u << 20;
	uint8_t *out = malloc(big), *in = malloc(big);

	assert_int_equal(tcp_host_cmd(h, 0, &c, &id, sizeof(id), &cqe), 0);
	assert_int_equal(status(&cqe), 0);
	assert_memory_equal(id.mn, "csdlab", 6);
	assert_int_equal(id.cntlid, tcp_host_cntlid(h));
	/* in-capsule (4 KiB) and R2T (1 MiB, 32 R2Ts of MAXH2CDATA 32 KiB) writes */
	fill(out, big, digests);
	rw(h, 1, nvme_cmd_write, 0, out, 8);
	rw(h, 2, nvme_cmd_write, 100, out, (uint32_t)(big / 512));
	memset(in, 0, big);
	rw(h, 1, nvme_cmd_read, 100, in, (uint32_t)(big / 512));
	assert_memory_equal(in, out, big);
	rw(h, 2, nvme_cmd_read, 0, in, 8);
	assert_memory_equal(in, out, 4096);
	tcp_host_disconnect(h);
	free(out);
	free(in);
}

static void test_io(void **state)
{
	(void)state;
	identify_and_io(false);
}

static void test_io_with_digests(void **state)
{
	(void)state;
	identify_and_io(true);
}

/*
 * A namespace in memory: reads are sent from it (1 MiB as eight C2HData PDUs pointing into
 * it), or copied when the host asked for data digests (computed when queued).
 */
static void test_io_in_memory(void **state)
{
	(void)state;
	server_stop();
	server_nvm_in_memory = true;
	server_start(0);
	identify_and_io(false);
	identify_and_io(true);
	server_stop();
	server_nvm_in_memory = false;
	server_start(0);
}

static void test_queue_depth(void **state)
{
	struct tcp_host *h = host(false, 1);
	struct tcp_host_cmd cmds[64];
	uint8_t bufs[64][512], pattern[64 * 512];
	int err = 0;

	(void)state;
	fill(pattern, sizeof(pattern), 9);
	rw(h, 1, nvme_cmd_write, 5000, pattern, 64);
	for (int i = 0; i < 64; i++) {
		cmds[i] = (struct tcp_host_cmd){ .sqe = { .opcode = nvme_cmd_read, .nsid = 1,
							  .cdw10 = 5000 + (uint32_t)i },
						 .data = bufs[i], .len = 512 };
		assert_int_equal(tcp_host_submit(h, 1, &cmds[i]), 0);
	}
	for (int done = 0; done < 64; done++)
		assert_non_null(tcp_host_reap(h, 1, &err));
	for (int i = 0; i < 64; i++) {
		assert_true(cmds[i].done);
		assert_int_equal(status(&cmds[i].cqe), 0);
		assert_memory_equal(bufs[i], pattern + i * 512, 512);
	}
	tcp_host_disconnect(h);
}

/* Load, activate and run a program over the link: only the answer comes back. */
static void test_offload_over_the_link(void **state)
{
	static const char *text = "AlphaxxAlphaAlp\nAlpha.";	/* 3 */
	struct tcp_host *h = host(true, 1);
	struct csd_ebpf_insn *insns;
	struct csd_mem_range r = { .nsid = 2, .sb = 0, .len = 24 };
	struct csd_nvme_cqe cqe;
	uint8_t mem[24] = { 0 };
	char err[128];
	size_t cnt;
	/* count "Alpha" the slow way, in assembler: r0 = matches of 'A','l','p','h','a' */
	const char *prog =
		"mov %r0, 0\nmov %r3, 0\n"
		"loop:\nmov %r4, %r3\nadd %r4, 5\njgt %r4, %r2, done\n"
		"mov %r5, %r1\nadd %r5, %r3\nldxb %r6, [%r5+0]\njne %r6, 65, next\n"
		"ldxw %r6, [%r5+1]\njne %r6, 0x6168706c, next\nadd %r0, 1\n"
		"next:\nadd %r3, 1\nja loop\ndone:\nexit\n";

	(void)state;
	memcpy(mem, text, strlen(text));
	assert_int_equal(csd_ebpf_asm(prog, &insns, &cnt, err, sizeof(err)), 0);
	{
		struct csd_nvme_sqe load = { .opcode = CSD_ADMIN_LOAD_PROGRAM, .nsid = 3,
					     .cdw10 = 5 | (CSD_PTYPE_EBPF_RAW << 16),
					     .cdw11 = (uint32_t)(cnt * 8), .cdw14 = (uint32_t)(cnt * 8) };
		struct csd_nvme_sqe act = { .opcode = CSD_ADMIN_PROGRAM_ACTIVATION, .nsid = 3,
					    .cdw10 = 5 | (1u << 16) };
		struct csd_nvme_sqe mw = { .opcode = CSD_IO_MEMORY_WRITE, .nsid = 2, .cdw12 = 24 };
		struct csd_nvme_sqe ex = { .opcode = CSD_IO_EXECUTE_PROGRAM, .nsid = 3, .cdw2 = 5,
					   .cdw3 = 1 };

		assert_int_equal(tcp_host_cmd(h, 0, &load, insns, (uint32_t)(cnt * 8), &cqe), 0);
		assert_int_equal(status(&cqe), 0);
		assert_int_equal(tcp_host_cmd(h, 0, &act, NULL, 0, &cqe), 0);
		assert_int_equal(status(&cqe), 0);
		assert_int_equal(tcp_host_cmd(h, 1, &mw, mem, 24, &cqe), 0);
		assert_int_equal(status(&cqe), 0);
		assert_int_equal(tcp_host_cmd(h, 1, &ex, &r, sizeof(r), &cqe), 0);
		assert_int_equal(status(&cqe), 0);
		assert_int_equal(cqe.dw0, 3);
	}
	free(insns);
	tcp_host_disconnect(h);
}

static void test_discovery(void **state)
{
	struct tcp_host_opts o = { .port = srv.port, .subnqn = NVME_DISC_SUBSYS_NAME };
	uint8_t buf[2048];
	struct nvmf_discovery_log *log = (struct nvmf_discovery_log *)buf;
	struct csd_nvme_sqe c = { .opcode = nvme_admin_get_log_page,
				  .cdw10 = NVME_LOG_LID_DISCOVER | ((2048 / 4 - 1) << 16) };
	struct csd_nvme_cqe cqe;
	struct tcp_host *h;
	char err[256], port[8];

	(void)state;
	assert_int_equal(tcp_host_connect(&o, &h, err, sizeof(err)), 0);
	assert_int_equal(tcp_host_cmd(h, 0, &c, buf, sizeof(buf), &cqe), 0);
	assert_int_equal(status(&cqe), 0);
	assert_int_equal(log->numrec, 1);
	assert_int_equal(log->entries[0].trtype, NVMF_TRTYPE_TCP);
	assert_string_equal(log->entries[0].subnqn, "nqn.2026-01.io.csdlab:drive0");
	assert_string_equal(log->entries[0].traddr, "127.0.0.1");
	snprintf(port, sizeof(port), "%u", srv.port);
	assert_string_equal(log->entries[0].trsvcid, port);
	tcp_host_disconnect(h);
}

/*
 * Connect Invalid Parameters says which field, as Linux's nvmet does: IATTR in DW0 bit 16
 * (1: the Connect data), the byte offset (IPO) in bits 15:0. The host turns it into words.
 */
static void test_connect_invalid_parameters_say_where(void **state)
{
	struct nvmf_connect_data d = { .cntlid = 0xffff };
	struct csd_nvme_sqe connect = { .opcode = nvme_admin_fabrics,
					.nsid = nvme_fabrics_type_connect, .cdw11 = 31 };
	struct tcp_host_opts o = { .port = srv.port, .subnqn = "nqn.2026-01.io.csdlab:nobody" };
	struct csd_nvme_cqe cqe;
	struct tcp_host *h;
	char err[256];
	int fd = raw_connect();

	(void)state;
	send_icreq(fd, 0);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "nqn.2026-01.io.csdlab:nobody");
	snprintf(d.hostnqn, sizeof(d.hostnqn), "nqn.2014-08.org.nvmexpress:uuid:where");
	cqe = raw_cmd(fd, &connect, &d, sizeof(d));
	assert_int_equal(cqe.status >> 1 & 0x7ff, 0x182);
	assert_int_equal(cqe.dw0, 1u << 16 | offsetof(struct nvmf_connect_data, subsysnqn));
	/* SQSIZE 0 is in the command (IATTR 0), at byte 44 */
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "nqn.2026-01.io.csdlab:drive0");
	connect.cdw11 = 0;
	cqe = raw_cmd(fd, &connect, &d, sizeof(d));
	assert_int_equal(cqe.status >> 1 & 0x7ff, 0x182);
	assert_int_equal(cqe.dw0, 44);
	close(fd);
	assert_int_not_equal(tcp_host_connect(&o, &h, err, sizeof(err)), 0);
	if (!strstr(err, "no subsystem nqn.2026-01.io.csdlab:nobody at this address"))
		fail_msg("the refusal: %s", err);
}

/* Issue 17: hosts without a host NQN would all share one identity (programs, SLM): refused. */
static void test_empty_host_nqn_refused(void **state)
{
	static const uint8_t no_id[16], id[16] = { 0x12, 0x34, [15] = 0xef };
	struct tcp_host_opts o = { .port = srv.port, .hostnqn = "", .hostid = no_id };
	struct tcp_host *h;
	char err[256];

	(void)state;
	assert_int_not_equal(tcp_host_connect(&o, &h, err, sizeof(err)), 0);
	if (!strstr(err, "Connect Invalid Parameters"))
		fail_msg("the refusal: %s", err);
	o.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:someone";
	assert_int_equal(tcp_host_connect(&o, &h, err, sizeof(err)), 0);
	tcp_host_disconnect(h);
	/*
	 * No NQN but a Host Identifier (SPDK's spdk_nvme_perf): the host is named by it, and
	 * an allow list that names that NQN lets it in.
	 */
	o.hostnqn = "";
	o.hostid = id;
	assert_int_equal(tcp_host_connect(&o, &h, err, sizeof(err)), 0);
	tcp_host_disconnect(h);
	server_stop();
	{
		static const char *const allowed[] = {
			"nqn.2014-08.org.nvmexpress:uuid:12340000-0000-0000-0000-0000000000ef"
		};
		struct csd_tcp_target_config tc = { .sz = sizeof(tc), .allowed_hosts = allowed,
						    .nallowed = 1 };

		server_start_with(&tc);
		o.port = srv.port;
		assert_int_equal(tcp_host_connect(&o, &h, err, sizeof(err)), 0);
		tcp_host_disconnect(h);
		o.hostid = (const uint8_t *)"another-host-id!";
		assert_int_not_equal(tcp_host_connect(&o, &h, err, sizeof(err)), 0);
		if (!strstr(err, "Connect Invalid Host"))
			fail_msg("the refusal: %s", err);
		server_stop();
	}
	server_start(0);
}

/* Issue 17: H2CData flagged LAST with less than the R2T asked for ends the connection. */
static void test_short_last_h2c_data(void **state)
{
	struct tcp_host *other = host(false, 1);	/* must keep working throughout */
	struct nvmf_connect_data d = { .cntlid = 0xffff };
	struct csd_nvme_sqe connect = { .opcode = nvme_admin_fabrics,
					.nsid = nvme_fabrics_type_connect, .cdw11 = 31 };
	struct tcp_cmd_pdu p = { .hdr = { .type = TCP_PDU_CMD, .hlen = 72, .plen = 72 },
				 .cmd = { .opcode = nvme_admin_set_features, .cid = 5,
					  .cdw10 = NVME_FEAT_FID_HOST_BEHAVIOR } };
	struct tcp_sgl *sgl = (struct tcp_sgl *)p.cmd.dptr;
	struct tcp_r2t_pdu r2t;
	uint8_t block[512], h2c[24 + 512] = { 0 };
	struct tcp_data_pdu *dp = (struct tcp_data_pdu *)h2c;
	uint16_t fes = 0;
	int fd = raw_connect();

	(void)state;
	send_icreq(fd, 0);
	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "nqn.2026-01.io.csdlab:drive0");
	snprintf(d.hostnqn, sizeof(d.hostnqn), "nqn.2014-08.org.nvmexpress:uuid:short-h2c");
	assert_int_equal(raw_cmd(fd, &connect, &d, sizeof(d)).status >> 1, 0);
	/* 4 KiB of data asked for with an R2T, 512 bytes sent as the last of it */
	sgl->type = SGL_TRANSPORT_DATA;
	sgl->length = 4096;
	assert_int_equal(send(fd, &p, sizeof(p), 0), 72);
	assert_int_equal(recv(fd, &r2t, sizeof(r2t), MSG_WAITALL), (ssize_t)sizeof(r2t));
	assert_int_equal(r2t.hdr.type, TCP_PDU_R2T);
	assert_int_equal(r2t.r2tl, 4096);
	*dp = (struct tcp_data_pdu){ .hdr = { .type = TCP_PDU_H2C_DATA, .flags = TCP_F_DATA_LAST,
					      .hlen = 24, .pdo = 24, .plen = 24 + 512 },
				     .cccid = 5, .ttag = r2t.ttag, .datao = 0, .datal = 512 };
	assert_int_equal(send(fd, h2c, sizeof(h2c), 0), (ssize_t)sizeof(h2c));
	assert_int_equal(expect_term(fd, &fes), TCP_PDU_C2H_TERM);
	assert_int_equal(fes, TCP_FES_PDU_SEQ_ERR);
	rw(other, 1, nvme_cmd_read, 0, block, 1);
	tcp_host_disconnect(other);
}

/* Raw sockets: what a proper initiator never sends. */

static void test_malformed_pdus(void **state)
{
	struct tcp_host *other = host(false, 1);	/* must keep working throughout */
	uint8_t block[512];
	uint16_t fes = 0;
	int fd;

	(void)state;
	/* an unknown PDU type */
	fd = raw_connect();
	assert_int_equal(send(fd, (uint8_t[8]){ 0x42, 0, 8, 0, 8, 0, 0, 0 }, 8, 0), 8);
	assert_int_equal(expect_term(fd, &fes), TCP_PDU_C2H_TERM);
	assert_int_equal(fes, TCP_FES_INVALID_PDU_HDR);
	/* a command before ICReq */
	fd = raw_connect();
	{
		struct tcp_cmd_pdu p = { .hdr = { .type = TCP_PDU_CMD, .hlen = 72, .plen = 72 } };

		assert_int_equal(send(fd, &p, sizeof(p), 0), 72);
	}
	assert_int_equal(expect_term(fd, &fes), TCP_PDU_C2H_TERM);
	assert_int_equal(fes, TCP_FES_PDU_SEQ_ERR);
	/* ICReq with a wrong header length */
	fd = raw_connect();
	assert_int_equal(send(fd, (uint8_t[8]){ 0, 0, 100, 0, 128, 0, 0, 0 }, 8, 0), 8);
	assert_int_equal(expect_term(fd, &fes), TCP_PDU_C2H_TERM);
	assert_int_equal(fes, TCP_FES_INVALID_PDU_HDR);
	/* plen shorter than the header */
	fd = raw_connect();
	send_icreq(fd, 0);
	assert_int_equal(send(fd, (uint8_t[8]){ TCP_PDU_CMD, 0, 72, 0, 10, 0, 0, 0 }, 8, 0), 8);
	assert_int_equal(expect_term(fd, &fes), TCP_PDU_C2H_TERM);
	assert_int_equal(fes, TCP_FES_INVALID_PDU_HDR);
	/* a wrong header digest */
	fd = raw_connect();
	send_icreq(fd, 1);
	{
		uint8_t p[76] = { TCP_PDU_CMD, TCP_F_HDGST, 72, 0, 76 };

		memset(p + 72, 0xab, 4);
		assert_int_equal(send(fd, p, sizeof(p), 0), 76);
	}
	assert_int_equal(expect_term(fd, &fes), TCP_PDU_C2H_TERM);
	assert_int_equal(fes, TCP_FES_HDR_DIGEST_ERR);
	/* ICReq one byte per segment, then a command before Connect: status, not termination */
	fd = raw_connect();
	{
		struct tcp_icreq req = { .hdr = { .type = TCP_PDU_ICREQ, .hlen = 128, .plen = 128 } };
		struct tcp_cmd_pdu p = { .hdr = { .type = TCP_PDU_CMD, .hlen = 72, .plen = 72 },
					 .cmd = { .opcode = nvme_admin_keep_alive, .cid = 7 } };
		uint8_t rsp[128];

		for (size_t i = 0; i < sizeof(req); i++) {
			assert_int_equal(send(fd, (uint8_t *)&req + i, 1, 0), 1);
			usleep(200);
		}
		assert_int_equal(recv(fd, rsp, 128, MSG_WAITALL), 128);
		assert_int_equal(rsp[0], TCP_PDU_ICRESP);
		assert_int_equal(send(fd, &p, sizeof(p), 0), 72);
		assert_int_equal(recv(fd, rsp, 24, MSG_WAITALL), 24);
		assert_int_equal(rsp[0], TCP_PDU_RSP);
		assert_int_equal(((struct tcp_rsp_pdu *)rsp)->cqe.cid, 7);
		assert_int_equal(((struct tcp_rsp_pdu *)rsp)->cqe.status >> 1, 0x400c);
		close(fd);
	}
	/* H2CData for a transfer tag nobody asked for */
	fd = raw_connect();
	send_icreq(fd, 0);
	{
		struct tcp_data_pdu d = { .hdr = { .type = TCP_PDU_H2C_DATA, .hlen = 24, .pdo = 24,
						   .plen = 28 }, .ttag = 9, .datal = 4 };
		uint8_t p[28] = { 0 };

		memcpy(p, &d, 24);
		assert_int_equal(send(fd, p, sizeof(p), 0), 28);
	}
	assert_int_equal(expect_term(fd, &fes), TCP_PDU_C2H_TERM);
	assert_int_equal(fes, TCP_FES_INVALID_PDU_HDR);
	/* the well-behaved host never noticed */
	rw(other, 1, nvme_cmd_read, 0, block, 1);
	tcp_host_disconnect(other);
}

static void test_data_digest_error_fails_the_command_only(void **state)
{
	struct tcp_host *h = host(true, 1);
	uint8_t block[512], before[512];
	int fd;

	(void)state;
	fill(block, sizeof(block), 3);
	rw(h, 1, nvme_cmd_write, 77, block, 1);
	/* a raw connection that connects properly, then sends a write with a bad data digest */
	fd = tcp_host_queue_fd(h, 1);
	{
		struct {
			struct tcp_cmd_pdu p;
			uint32_t hcrc;
			uint8_t data[512];
			uint32_t dcrc;
		} __attribute__((packed)) w;
		struct tcp_sgl sgl = { .length = 512, .type = SGL_DATA_BLOCK_OFFSET };
		uint8_t rsp[28];

		memset(&w, 0, sizeof(w));
		w.p.hdr = (struct tcp_hdr){ .type = TCP_PDU_CMD, .flags = TCP_F_HDGST | TCP_F_DDGST,
					    .hlen = 72, .pdo = 76, .plen = sizeof(w) };
		w.p.cmd = (struct csd_nvme_sqe){ .opcode = nvme_cmd_write, .cid = 99, .nsid = 1,
						 .cdw10 = 77 };
		memcpy(w.p.cmd.dptr, &sgl, sizeof(sgl));
		w.hcrc = csd_crc32c(0, (const void *)&w, 72);
		memset(w.data, 0xee, 512);
		w.dcrc = 0x12345678;
		assert_int_equal(send(fd, &w, sizeof(w), 0), (ssize_t)sizeof(w));
		assert_int_equal(recv(fd, rsp, 28, MSG_WAITALL), 28);
		assert_int_equal(rsp[0], TCP_PDU_RSP);
		assert_int_equal(((struct tcp_rsp_pdu *)rsp)->cqe.status >> 1, 0x22);
	}
	/* nothing was written, and the connection still works */
	rw(h, 1, nvme_cmd_read, 77, before, 1);
	assert_memory_equal(before, block, 512);
	tcp_host_disconnect(h);
}

static void test_keep_alive_timeout(void **state)
{
	struct tcp_host_opts o = { .port = srv.port, .kato_ms = 300 };
	struct tcp_host *h;
	char err[256], b;
	int fd;

	(void)state;
	assert_int_equal(tcp_host_connect(&o, &h, err, sizeof(err)), 0);
	assert_int_equal(csd_tcp_target_connections(srv.target), 2);
	usleep(800000);		/* no keep alive: the target tears the association down */
	fd = tcp_host_queue_fd(h, 0);
	assert_int_equal(recv(fd, &b, 1, 0), 0);
	assert_int_equal(csd_tcp_target_connections(srv.target), 0);
	tcp_host_disconnect(h);
}

/* Issue 17: a host without keep alive may not hold its connections forever doing nothing. */
static void test_idle_without_keep_alive(void **state)
{
	struct tcp_host_opts o = { .port = 0 };
	struct tcp_host *idle, *busy;
	uint8_t block[512];
	char err[256], b;

	(void)state;
	server_stop();
	idle_ms = 500;
	server_start(0);
	o.port = srv.port;
	assert_int_equal(tcp_host_connect(&o, &idle, err, sizeof(err)), 0);
	busy = host(false, 1);
	for (int i = 0; i < 12; i++) {		/* 1.2 s: one idle, one reading every 100 ms */
		rw(busy, 1, nvme_cmd_read, 0, block, 1);
		usleep(100000);
	}
	assert_int_equal(recv(tcp_host_queue_fd(idle, 0), &b, 1, 0), 0);	/* closed */
	rw(busy, 1, nvme_cmd_read, 0, block, 1);				/* not */
	assert_int_equal(csd_tcp_target_connections(srv.target), 2);
	tcp_host_disconnect(idle);
	tcp_host_disconnect(busy);
	server_stop();
	idle_ms = 0;
	server_start(0);
}

/* Issue 17: past the connection cap, new connections are closed as they come. */
static void test_connection_cap(void **state)
{
	int fds[8];
	unsigned closed = 0;

	(void)state;
	server_stop();
	max_connections = 5;
	server_start(0);
	for (int i = 0; i < 8; i++)
		fds[i] = raw_connect();
	usleep(200000);
	for (int i = 0; i < 8; i++)
		closed += closed_within(fds[i], 50);
	assert_int_equal(closed, 3);
	assert_int_equal(csd_tcp_target_connections(srv.target), 5);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	server_stop();
	max_connections = 0;
	server_start(0);
}

/*
 * The target's connection count once it reaches `want`, or after `ms` (closes are seen when
 * its loop runs: under a sanitizer on a busy machine that took over 100 ms).
 */
static unsigned connections_within(unsigned want, int ms)
{
	for (int waited = 0; waited < ms && csd_tcp_target_connections(srv.target) != want;
	     waited += 10)
		usleep(10000);
	return csd_tcp_target_connections(srv.target);
}

static void test_many_connections(void **state)
{
	int fds[100];
	struct tcp_host *h;
	uint8_t block[512];

	(void)state;
	for (int i = 0; i < 100; i++) {
		fds[i] = raw_connect();
		send_icreq(fds[i], i % 4);
	}
	assert_int_equal(csd_tcp_target_connections(srv.target), 100);
	h = host(false, 1);
	rw(h, 1, nvme_cmd_read, 0, block, 1);
	tcp_host_disconnect(h);
	for (int i = 0; i < 100; i++)
		close(fds[i]);
	assert_int_equal(connections_within(0, 5000), 0);
}

/* A read command PDU for len bytes at slba, as the raw tests send it. */
static struct tcp_cmd_pdu read_capsule(uint16_t cid, uint64_t slba, uint32_t len)
{
	struct tcp_cmd_pdu p = { .hdr = { .type = TCP_PDU_CMD, .hlen = 72, .plen = 72 } };
	struct tcp_sgl sgl = { .length = len, .type = SGL_TRANSPORT_DATA };

	p.cmd = (struct csd_nvme_sqe){ .opcode = nvme_cmd_read, .nsid = 1, .cid = cid,
				       .cdw10 = (uint32_t)slba, .cdw11 = (uint32_t)(slba >> 32),
				       .cdw12 = len / 512 - 1 };
	memcpy(p.cmd.dptr, &sgl, sizeof(sgl));
	return p;
}

/*
 * A large read leaves in parts as the drive reads them. One whose disk fails after four of
 * its eight 128 KiB parts (pread failing from there on) has sent those four, none flagged
 * LAST, then its failure; its buffer stays its own until they have left: the read after it,
 * which would take the same buffer if it were free, changes none of their bytes. Four reads
 * go first so that A's parts wait in the target (the host reads nothing until all have run).
 */
static void test_read_failing_after_parts_left(void **state)
{
	enum { A = 0, B = 1, READS = 6 };
	const uint32_t part = 128u << 10, big = 1u << 20;
	struct tcp_host *h = host(false, 1);
	struct tcp_cmd_pdu caps[READS];
	uint8_t *a = malloc(big), *b = malloc(big), *in = calloc(READS, big);
	int fd = tcp_host_queue_fd(h, 1), a_parts = 0, done = 0;
	uint16_t status[READS];

	(void)state;
	fill(a, big, 5);
	fill(b, big, 6);
	rw(h, 1, nvme_cmd_write, 2048, a, big / 512);	/* A: bytes 1 MiB - 2 MiB */
	rw(h, 1, nvme_cmd_write, 0, b, big / 512);	/* B and the four before: 0 - 1 MiB */
	for (uint16_t i = 0; i < READS - 2; i++)
		caps[i] = read_capsule(i + 2, 0, big);
	caps[READS - 2] = read_capsule(A, 2048, big);
	caps[READS - 1] = read_capsule(B, 0, big);
	memset(status, 0xff, sizeof(status));
	failing_pread_from = big + 4 * part;
	assert_int_equal(send(fd, caps, sizeof(caps), 0), (ssize_t)sizeof(caps));
	usleep(200000);		/* all run; their data waits in the target */
	while (done < READS) {
		uint8_t hdr[24];
		const struct tcp_data_pdu *d = (const void *)hdr;
		const struct tcp_rsp_pdu *r = (const void *)hdr;

		assert_int_equal(recv(fd, hdr, sizeof(hdr), MSG_WAITALL), 24);
		if (hdr[0] == TCP_PDU_RSP) {
			assert_true(r->cqe.cid < READS && status[r->cqe.cid] == 0xffff);
			status[r->cqe.cid] = r->cqe.status >> 1;
			done++;
			continue;
		}
		assert_int_equal(hdr[0], TCP_PDU_C2H_DATA);
		assert_true(d->cccid < READS);
		assert_int_equal(d->datal, part);
		assert_true(d->datao + d->datal <= big);
		assert_int_equal(recv(fd, in + d->cccid * big + d->datao, d->datal, MSG_WAITALL),
				 (ssize_t)d->datal);
		if (d->cccid == A) {
			assert_int_equal(status[A], 0xffff);	/* its data before its failure */
			assert_int_equal(d->datao, a_parts * part);
			assert_false(d->hdr.flags & TCP_F_DATA_LAST);
			a_parts++;
		} else if (d->hdr.flags & TCP_F_DATA_SUCCESS) {
			status[d->cccid] = 0;
			done++;
		}
	}
	failing_pread_from = UINT64_MAX;
	assert_int_equal(a_parts, 4);
	assert_int_equal(status[A] & 0xff, NVME_SC_INTERNAL);
	assert_memory_equal(in + A * big, a, 4 * part);
	for (int i = B; i < READS; i++) {
		assert_int_equal(status[i], 0);
		assert_memory_equal(in + i * big, b, big);
	}
	/* the connection goes on: A reads back whole */
	memset(in, 0, big);
	rw(h, 1, nvme_cmd_read, 2048, in, big / 512);
	assert_memory_equal(in, a, big);
	tcp_host_disconnect(h);
	free(a);
	free(b);
	free(in);
}

/* A host that sends reads and never reads the answers does not stall another host. */
static void test_peer_that_stops_reading(void **state)
{
	struct tcp_host *greedy = host(false, 1), *other = host(false, 1);
	struct csd_nvme_sqe c = { .opcode = nvme_cmd_read, .nsid = 1, .cdw12 = 255 };
	struct tcp_cmd_pdu p = { .hdr = { .type = TCP_PDU_CMD, .hlen = 72, .plen = 72 } };
	struct tcp_sgl *sgl = (struct tcp_sgl *)p.cmd.dptr;
	int fd = tcp_host_queue_fd(greedy, 1), rcv = 4096;
	uint8_t block[512];

	(void)state;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	sgl->length = 128 * 1024;
	sgl->type = SGL_TRANSPORT_DATA;
	for (int i = 0; i < 100; i++) {
		p.cmd = c;
		p.cmd.cid = (uint16_t)i;
		memcpy(p.cmd.dptr, sgl, 16);
		if (send(fd, &p, sizeof(p), MSG_DONTWAIT) != sizeof(p))
			break;
	}
	for (int i = 0; i < 50; i++)
		rw(other, 1, nvme_cmd_read, (uint64_t)i, block, 1);
	tcp_host_disconnect(other);
	tcp_host_disconnect(greedy);
}

/* Every byte the target counted is a byte the kernel moved on that socket. */
static void test_byte_counts_match_tcp_info(void **state)
{
	struct csd_tcp_traffic before, after, mine;
	struct tcp_host *h;
	uint64_t acked = 0, received = 0;
	uint8_t *buf = malloc(256 * 1024);

	(void)state;
	usleep(100000);
	csd_tcp_target_traffic(srv.target, &before);
	h = host(true, 2);
	fill(buf, 256 * 1024, 1);
	for (int i = 0; i < 8; i++) {
		rw(h, 1, nvme_cmd_write, (uint64_t)i * 512, buf, 512);
		rw(h, 2, nvme_cmd_read, (uint64_t)i * 512, buf, 512);
	}
	tcp_host_traffic(h, &mine);
	/* the last ACKs may still be on their way on a busy machine: wait for them (2 s at most) */
	for (int tries = 0; tries < 200; tries++) {
		acked = received = 0;
		for (uint16_t q = 0; q <= 2; q++) {
			struct tcp_info ti;
			socklen_t len = sizeof(ti);

			assert_int_equal(getsockopt(tcp_host_queue_fd(h, q), IPPROTO_TCP, TCP_INFO, &ti,
						    &len), 0);
			acked += ti.tcpi_bytes_acked;
			received += ti.tcpi_bytes_received;
		}
		/* the target's loop counts a send just after it returns: let it catch up too */
		csd_tcp_target_traffic(srv.target, &after);
		if (acked - 3 == mine.bytes_out && after.bytes_out - before.bytes_out == received &&
		    after.bytes_in - before.bytes_in == acked - 3)
			break;
		usleep(10000);
	}
	tcp_host_traffic(h, &mine);
	csd_tcp_target_traffic(srv.target, &after);
	print_message("# host sent %llu (kernel: %llu acked), target received %llu; "
		      "target sent %llu, host received %llu (kernel: %llu)\n",
		      (unsigned long long)mine.bytes_out, (unsigned long long)acked,
		      (unsigned long long)(after.bytes_in - before.bytes_in),
		      (unsigned long long)(after.bytes_out - before.bytes_out),
		      (unsigned long long)mine.bytes_in, (unsigned long long)received);
	/* Linux counts the SYN as one acknowledged byte of each of the 3 connections */
	acked -= 3;
	assert_int_equal(mine.bytes_out, acked);
	assert_int_equal(mine.bytes_in, received);
	assert_int_equal(after.bytes_in - before.bytes_in, acked);
	assert_int_equal(after.bytes_out - before.bytes_out, received);
	/* and the per-type counts add up to the total */
	{
		uint64_t sum = 0;

		for (int i = 0; i < CSD_TCP_PDU_TYPES; i++)
			sum += mine.pdu_bytes_out[i];
		assert_int_equal(sum, mine.bytes_out);
	}
	tcp_host_disconnect(h);
	free(buf);
}

/* Log C2h: the target's count of this association equals the host's own count. */
static void test_link_log_page(void **state)
{
	struct tcp_host *h = host(false, 2);
	struct csd_tcp_link_log log;
	struct csd_tcp_traffic mine;
	struct csd_nvme_sqe c = { .opcode = nvme_admin_get_log_page, .nsid = 0xffffffff,
				  .cdw10 = CSD_LOG_VENDOR_LINK | ((sizeof(log) / 4 - 1) << 16) };
	struct csd_nvme_cqe cqe;
	uint8_t block[4096];

	struct csd_tcp_traffic connected;

	(void)state;
	tcp_host_traffic(h, &connected);
	rw(h, 1, nvme_cmd_write, 0, block, 8);
	rw(h, 2, nvme_cmd_read, 0, block, 8);
	assert_int_equal(tcp_host_cmd(h, 0, &c, &log, sizeof(log), &cqe), 0);
	assert_int_equal(status(&cqe), 0);
	tcp_host_traffic(h, &mine);
	/*
	 * The target counted the Get Log Page capsule, but not yet its own answer to it: one
	 * C2HData that carries the success too (libcsd disables SQ flow control), no CapsuleResp.
	 */
	assert_int_equal(log.association.bytes_in, mine.bytes_out);
	assert_int_equal(log.association.bytes_out, mine.bytes_in - (24 + sizeof(log)));
	assert_int_equal(log.association.pdus_out[TCP_PDU_RSP] + 0, mine.pdus_in[TCP_PDU_RSP]);
	assert_int_equal(log.association.pdus_out[TCP_PDU_C2H_DATA] + 1,
			 mine.pdus_in[TCP_PDU_C2H_DATA]);
	/* the read before it ended the same way; only the write had a CapsuleResp */
	assert_int_equal(mine.pdus_in[TCP_PDU_C2H_DATA] - connected.pdus_in[TCP_PDU_C2H_DATA], 2);
	assert_int_equal(mine.pdus_in[TCP_PDU_RSP] - connected.pdus_in[TCP_PDU_RSP], 1);
	assert_int_equal(log.association.pdus_in[TCP_PDU_CMD], mine.pdus_out[TCP_PDU_CMD]);
	assert_true(log.target.bytes_in >= log.association.bytes_in);
	tcp_host_disconnect(h);
}

/* A host that goes away halfway through sending a write's data: nothing is written. */
static void test_disconnect_mid_write(void **state)
{
	struct tcp_host *h = host(false, 1), *other;
	uint8_t before[65536], after[65536], junk[32768];
	int fd;

	(void)state;
	fill(before, sizeof(before), 7);
	rw(h, 1, nvme_cmd_write, 9000, before, 128);
	fd = tcp_host_queue_fd(h, 1);
	{
		struct tcp_cmd_pdu p = { .hdr = { .type = TCP_PDU_CMD, .hlen = 72, .plen = 72 },
					 .cmd = { .opcode = nvme_cmd_write, .nsid = 1, .cid = 5,
						  .cdw10 = 9000, .cdw12 = 127 } };
		struct tcp_sgl sgl = { .length = 65536, .type = SGL_TRANSPORT_DATA };
		struct tcp_data_pdu d = { .hdr = { .type = TCP_PDU_H2C_DATA, .hlen = 24, .pdo = 24,
						   .plen = 24 + sizeof(junk) },
					  .cccid = 5, .datao = 0, .datal = sizeof(junk) };
		uint8_t r2t[24];

		memcpy(p.cmd.dptr, &sgl, sizeof(sgl));
		memset(junk, 0xdd, sizeof(junk));
		assert_int_equal(send(fd, &p, sizeof(p), 0), 72);
		assert_int_equal(recv(fd, r2t, 24, MSG_WAITALL), 24);
		assert_int_equal(r2t[0], TCP_PDU_R2T);
		d.ttag = ((struct tcp_r2t_pdu *)r2t)->ttag;
		assert_int_equal(send(fd, &d, 24, 0), 24);
		assert_int_equal(send(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	}
	tcp_host_disconnect(h);		/* half the data, then gone */
	usleep(50000);
	other = host(false, 1);
	rw(other, 1, nvme_cmd_read, 9000, after, 128);
	assert_memory_equal(after, before, sizeof(before));
	tcp_host_disconnect(other);
}

/*
 * Slowloris: a client that trickles an ICReq a byte at a time loses its connection once no
 * PDU has completed for 300 ms, one that connects and says nothing once 1000 ms pass without
 * a Connect; a real host, idle after Connect for longer than both, keeps working.
 */
static void test_slow_clients(void **state)
{
	static const uint8_t icreq[128] = { TCP_PDU_ICREQ, 0, 128, 0, 128 };
	struct tcp_host *h;
	uint8_t block[512];
	int silent, trickle, sent = 0;
	bool trickle_closed = false;
	struct timespec t0, t1;
	long ms;

	(void)state;
	server_stop();
	handshake_ms = 1000;
	pdu_ms = 300;
	server_start(0);
	silent = raw_connect();
	trickle = raw_connect();
	h = host(false, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 150 && !trickle_closed; i++) {	/* one byte every 10 ms */
		if (send(trickle, icreq + sent % 100, 1, MSG_NOSIGNAL) != 1)
			trickle_closed = true;
		sent++;
		usleep(10000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(trickle_closed);
	/* closed for the stalled PDU (300 ms, checked every 100), before the handshake limit */
	print_message("# trickling client closed after %ld ms, %d bytes\n", ms, sent);
	assert_true(sent < 128 && ms >= 250 && ms < 950);
	assert_false(closed_within(silent, 100));	/* not yet: 1000 ms for a Connect */
	assert_true(closed_within(silent, 1500));
	usleep(300000);			/* the host has been idle past both limits */
	rw(h, 1, nvme_cmd_read, 0, block, 1);
	assert_int_equal(csd_tcp_target_connections(srv.target), 2);
	tcp_host_disconnect(h);
	close(silent);
	close(trickle);
	server_stop();
	handshake_ms = pdu_ms = 0;
	server_start(0);
}

static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

/* 1000 hosts connect and go: no descriptor left behind (and, under LSan, no byte). */
static void test_connect_disconnect_cycles(void **state)
{
	int before;

	(void)state;
	usleep(100000);
	before = open_fds();
	for (int i = 0; i < 1000; i++) {
		struct tcp_host *h = host(i % 2, 1);

		tcp_host_disconnect(h);
	}
	assert_int_equal(connections_within(0, 5000), 0);
	assert_int_equal(open_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_io),
		cmocka_unit_test(test_io_with_digests),
		cmocka_unit_test(test_io_in_memory),
		cmocka_unit_test(test_queue_depth),
		cmocka_unit_test(test_offload_over_the_link),
		cmocka_unit_test(test_discovery),
		cmocka_unit_test(test_connect_invalid_parameters_say_where),
		cmocka_unit_test(test_empty_host_nqn_refused),
		cmocka_unit_test(test_short_last_h2c_data),
		cmocka_unit_test(test_malformed_pdus),
		cmocka_unit_test(test_data_digest_error_fails_the_command_only),
		cmocka_unit_test(test_keep_alive_timeout),
		cmocka_unit_test(test_idle_without_keep_alive),
		cmocka_unit_test(test_connection_cap),
		cmocka_unit_test(test_many_connections),
		cmocka_unit_test(test_read_failing_after_parts_left),
		cmocka_unit_test(test_peer_that_stops_reading),
		cmocka_unit_test(test_byte_counts_match_tcp_info),
		cmocka_unit_test(test_link_log_page),
		cmocka_unit_test(test_disconnect_mid_write),
		cmocka_unit_test(test_connect_disconnect_cycles),
		cmocka_unit_test(test_slow_clients),
	};

	return cmocka_run_group_tests_name("transport-tcp", tests, setup, teardown);
}
