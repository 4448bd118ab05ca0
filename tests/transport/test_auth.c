/* SPDX-License-Identifier: MIT */
/*
 * DH-HMAC-CHAP: secrets in nvme-cli's form, Diffie-Hellman agreement, csdlab's initiator
 * against csd-target with every hash and group (right, wrong and missing secrets, both
 * directions), and raw connections that try to skip or break the protocol.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <nvme/types.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../src/auth/dhchap_proto.h"
#include "csd/dhchap.h"
#include "tcp_harness.h"
#include "tcp_host.h"

#define HOSTNQN		"nqn.2014-08.org.nvmexpress:uuid:csdlab-auth-test"
#define SUBNQN		"nqn.2026-01.io.csdlab:drive0"

/* nvme-cli 2.3: nvme gen-dhchap-key -n nqn.test -m 1 (and -m 0) -s 000102...1f */
#define NVME_CLI_KEY_M1	"DHHC-1:01:vb3shNpwt6PnRJ3wYKwspZpHfeAH17cXc1fDwlzRPrxJu191:"
#define NVME_CLI_KEY_M0	"DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"

static char host_secret[CSD_DHCHAP_SECRET_MAX], ctrl_secret[CSD_DHCHAP_SECRET_MAX];
static char wrong_secret[CSD_DHCHAP_SECRET_MAX];

static void new_secret(char *out, unsigned hmac, const char *nqn)
{
	struct csd_dhchap_key k;
	char err[160];

	assert_int_equal(csd_dhchap_key_generate(NULL, 0, hmac, nqn, &k, err, sizeof(err)), 0);
	assert_int_equal(csd_dhchap_key_format(&k, out, CSD_DHCHAP_SECRET_MAX), 0);
}

static bool others_allowed;	/* the next server lets hosts without a secret in */
static const char *host_hash, *host_group;	/* the next server's preferences for HOSTNQN */

static void start(const char *hash, const char *group, uint32_t handshake_ms)
{
	static struct csd_tcp_host_secret secrets[1];
	struct csd_tcp_target_config tc = { .sz = sizeof(tc), .host_secrets = secrets,
					    .nhost_secrets = 1, .dhchap_hash = hash,
					    .dhchap_dhgroup = group, .handshake_ms = handshake_ms,
					    .allow_unauthenticated = others_allowed };

	secrets[0] = (struct csd_tcp_host_secret){ .hostnqn = HOSTNQN, .secret = host_secret,
						   .ctrl_secret = ctrl_secret,
						   .dhchap_hash = host_hash,
						   .dhchap_dhgroup = host_group };
	server_start_with(&tc);
}

static int connect_host(const char *hostnqn, const char *secret, const char *ctrl,
			struct tcp_host **h, char *err, size_t err_size)
{
	struct tcp_host_opts o = { .port = srv.port, .hostnqn = hostnqn, .nr_io_queues = 2,
				   .dhchap_secret = secret, .dhchap_ctrl_secret = ctrl };

	return tcp_host_connect(&o, h, err, err_size);
}

/* Identify on the admin queue and a read on each I/O queue: the host is all the way in. */
static void use(struct tcp_host *h)
{
	struct csd_nvme_sqe id = { .opcode = nvme_admin_identify, .cdw10 = NVME_IDENTIFY_CNS_CTRL };
	struct nvme_id_ctrl ctrl;
	struct csd_nvme_cqe cqe;
	uint8_t block[512];

	assert_int_equal(tcp_host_cmd(h, 0, &id, &ctrl, sizeof(ctrl), &cqe), 0);
	assert_int_equal(cqe.status >> 1, 0);
	assert_memory_equal(ctrl.mn, "csdlab", 6);
	for (uint16_t q = 1; q <= tcp_host_nr_io_queues(h); q++) {
		struct csd_nvme_sqe rd = { .opcode = nvme_cmd_read, .nsid = 1 };

		assert_int_equal(tcp_host_cmd(h, q, &rd, block, sizeof(block), &cqe), 0);
		assert_int_equal(cqe.status >> 1, 0);
	}
}

static int setup(void **state)
{
	(void)state;
	new_secret(host_secret, 1, HOSTNQN);
	new_secret(ctrl_secret, 3, SUBNQN);
	new_secret(wrong_secret, 1, HOSTNQN);
	return 0;
}

static void test_secrets_as_nvme_cli_makes_them(void **state)
{
	static const uint8_t raw[32] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };
	struct csd_dhchap_key k, parsed, plain = { .hash = 1, .len = 32 };
	uint8_t t[CSD_DHCHAP_MAX_KEY];
	char s[CSD_DHCHAP_SECRET_MAX], err[160];
	size_t tlen;

	(void)state;
	assert_int_equal(csd_dhchap_key_generate(raw, 32, 1, "nqn.test", &k, err, sizeof(err)), 0);
	assert_int_equal(csd_dhchap_key_format(&k, s, sizeof(s)), 0);
	assert_string_equal(s, NVME_CLI_KEY_M1);
	assert_int_equal(csd_dhchap_key_generate(raw, 32, 0, NULL, &k, err, sizeof(err)), 0);
	assert_int_equal(csd_dhchap_key_format(&k, s, sizeof(s)), 0);
	assert_string_equal(s, NVME_CLI_KEY_M0);
	/* nvme-cli's transformed key is HMAC-SHA256(raw, NQN || "NVMe-over-Fabrics") */
	memcpy(plain.bytes, raw, 32);
	assert_int_equal(dhchap_transform_key(&plain, "nqn.test", t, &tlen), 0);
	assert_int_equal(csd_dhchap_key_parse(NVME_CLI_KEY_M1, &parsed, err, sizeof(err)), 0);
	assert_int_equal(tlen, 32);
	assert_int_equal(parsed.hash, 1);
	assert_memory_equal(parsed.bytes, t, 32);
	/* every length and hash survives format and parse */
	for (unsigned hash = 0; hash <= 3; hash++) {
		for (unsigned len = 32; len <= 64; len += 16) {
			struct csd_dhchap_key a = { .hash = (uint8_t)hash, .len = (uint8_t)len };

			for (unsigned i = 0; i < len; i++)
				a.bytes[i] = (uint8_t)(i * 7 + hash);
			assert_int_equal(csd_dhchap_key_format(&a, s, sizeof(s)), 0);
			assert_int_equal(csd_dhchap_key_parse(s, &parsed, err, sizeof(err)), 0);
			assert_int_equal(parsed.hash, hash);
			assert_int_equal(parsed.len, len);
			assert_memory_equal(parsed.bytes, a.bytes, len);
		}
	}
	/* nvme-cli's rule: a transformed key is as long as its hash */
	assert_int_equal(csd_dhchap_key_generate(NULL, 48, 1, "nqn.x", &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "does not suit sha256"));
}

static void test_bad_secrets_are_named(void **state)
{
	static const struct { const char *secret, *why; } bad[] = {
		{ "DHHC-2:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "starts with DHHC-1:" },
		{ "DHHC-1:04:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "hash 04" },
		{ "DHHC-1:0x:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "two digits" },
		{ "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaS:", "CRC mismatch" },
		{ "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+Kfia:", "47 base64" },
		{ "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+Kfi*R:", "not base64" },
		{ "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:x", "after the closing" },
		{ "", "starts with DHHC-1:" },
	};
	struct csd_dhchap_key k;
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(csd_dhchap_key_parse(bad[i].secret, &k, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("%s: '%s' does not say '%s'", bad[i].secret, err, bad[i].why);
	}
	assert_int_equal(csd_dhchap_hash_id("hmac(sha512)"), 3);
	assert_int_equal(csd_dhchap_hash_id("sha384"), 2);
	assert_int_equal(csd_dhchap_hash_id("md5"), -1);
	assert_int_equal(csd_dhchap_dhgroup_id("ffdhe6144"), 4);
	assert_int_equal(csd_dhchap_dhgroup_id("ffdhe1024"), -1);
}

static void test_dh_agreement_and_bad_public_values(void **state)
{
	static uint8_t a_pub[DHCHAP_MAX_DH_LEN], b_pub[DHCHAP_MAX_DH_LEN], bad[DHCHAP_MAX_DH_LEN];
	static uint8_t ka[DHCHAP_MAX_DH_LEN], kb[DHCHAP_MAX_DH_LEN];

	(void)state;
	for (unsigned g = CSD_DHCHAP_FFDHE2048; g <= CSD_DHCHAP_FFDHE8192; g++) {
		struct dhchap_dh *a, *b;
		size_t alen, blen, la, lb;

		assert_int_equal(dhchap_dh_new(g, &a, a_pub, &alen), 0);
		assert_int_equal(dhchap_dh_new(g, &b, b_pub, &blen), 0);
		assert_int_equal(alen, dhchap_dh_len(g));
		assert_int_equal(dhchap_dh_derive(a, b_pub, blen, ka, &la), 0);
		assert_int_equal(dhchap_dh_derive(b, a_pub, alen, kb, &lb), 0);
		assert_int_equal(la, alen);
		assert_int_equal(lb, la);
		assert_memory_equal(ka, kb, la);
		/* 0, 1, p - 1 and values past p are not public values; nor is a short one */
		memset(bad, 0, alen);
		assert_int_equal(dhchap_dh_derive(a, bad, alen, ka, &la), -EINVAL);
		bad[alen - 1] = 1;
		assert_int_equal(dhchap_dh_derive(a, bad, alen, ka, &la), -EINVAL);
		memset(bad, 0xff, alen);	/* the FFDHE primes start and end with 64 one bits */
		bad[alen - 1] = 0xfe;
		assert_int_equal(dhchap_dh_derive(a, bad, alen, ka, &la), -EINVAL);
		bad[alen - 1] = 0xff;
		assert_int_equal(dhchap_dh_derive(a, bad, alen, ka, &la), -EINVAL);
		assert_int_equal(dhchap_dh_derive(a, b_pub, blen - 1, ka, &la), -EINVAL);
		dhchap_dh_free(a);
		dhchap_dh_free(b);
	}
}

/* Every hash and group the target may prefer; both directions on the smaller groups. */
static void test_every_hash_and_group(void **state)
{
	(void)state;
	for (unsigned hash = 1; hash <= 3; hash++) {
		for (unsigned g = 0; g <= 5; g++) {
			struct tcp_host *h;
			char err[256];
			int ret;

			start(csd_dhchap_hash_name(hash), csd_dhchap_dhgroup_name(g), 0);
			ret = connect_host(HOSTNQN, host_secret, g <= 2 ? ctrl_secret : NULL, &h, err,
					   sizeof(err));
			if (ret)
				fail_msg("%s %s: %s", csd_dhchap_hash_name(hash),
					 csd_dhchap_dhgroup_name(g), err);
			use(h);
			tcp_host_disconnect(h);
			server_stop();
		}
	}
}

static void test_wrong_and_missing_secrets_are_refused(void **state)
{
	static const struct {
		const char *hostnqn, *secret, *ctrl, *says;
		int ret;
	} cases[] = {
		{ HOSTNQN, wrong_secret, NULL, "refused authentication: authentication failed",
		  -EACCES },
		{ HOSTNQN, NULL, NULL, "requires authentication", -EACCES },
		{ HOSTNQN, host_secret, wrong_secret, "did not prove it holds the controller secret",
		  -EACCES },
		{ "nqn.2014-08.org.nvmexpress:uuid:someone-else", host_secret, NULL,
		  "does not allow host nqn.2014-08.org.nvmexpress:uuid:someone-else (Connect Invalid Host)",
		  -EACCES },
		{ HOSTNQN, "DHHC-1:01:short:", NULL, "host secret: DHHC-1 secret", -EINVAL },
	};
	struct tcp_host *h;
	char err[256];

	(void)state;
	start(NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(connect_host(cases[i].hostnqn, cases[i].secret, cases[i].ctrl, &h, err,
					      sizeof(err)), cases[i].ret);
		if (!strstr(err, cases[i].says))
			fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].says);
	}
	/* and the right one still gets in, unharmed by the attempts */
	assert_int_equal(connect_host(HOSTNQN, host_secret, ctrl_secret, &h, err, sizeof(err)), 0);
	use(h);
	tcp_host_disconnect(h);
	server_stop();
}

/* Mixed: hosts without a secret may come in unauthenticated; those with one still must prove it. */
static void test_unauthenticated_hosts_allowed(void **state)
{
	struct tcp_host *h;
	char err[256];

	(void)state;
	others_allowed = true;
	start(NULL, NULL, 0);
	others_allowed = false;
	assert_int_equal(connect_host("nqn.2014-08.org.nvmexpress:uuid:no-secret", NULL, NULL, &h,
				      err, sizeof(err)), 0);
	use(h);
	tcp_host_disconnect(h);
	assert_int_equal(connect_host(HOSTNQN, NULL, NULL, &h, err, sizeof(err)), -EACCES);
	assert_int_equal(connect_host(HOSTNQN, wrong_secret, NULL, &h, err, sizeof(err)), -EACCES);
	assert_int_equal(connect_host(HOSTNQN, host_secret, NULL, &h, err, sizeof(err)), 0);
	use(h);
	tcp_host_disconnect(h);
	server_stop();
}

/* Secrets replaced while the target runs: new Connects use them, connected hosts stay. */
static void test_secrets_replaced_at_run_time(void **state)
{
	struct csd_tcp_host_secret rotated = { .hostnqn = HOSTNQN, .secret = wrong_secret };
	struct csd_tcp_host_secret other = { .hostnqn = "nqn.2014-08.org.nvmexpress:uuid:other",
					     .secret = host_secret };
	struct csd_tcp_host_secret bad = { .hostnqn = HOSTNQN, .secret = "DHHC-1:01:nope:" };
	struct tcp_host *before, *h;
	char err[256];

	(void)state;
	start(NULL, NULL, 0);
	assert_int_equal(connect_host(HOSTNQN, host_secret, NULL, &before, err, sizeof(err)), 0);
	assert_int_equal(csd_tcp_target_set_host_secrets(srv.target, &rotated, 1, err,
							 sizeof(err)), 0);
	assert_int_equal(connect_host(HOSTNQN, host_secret, NULL, &h, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "authentication failed"));
	assert_int_equal(connect_host(HOSTNQN, wrong_secret, NULL, &h, err, sizeof(err)), 0);
	use(h);
	tcp_host_disconnect(h);
	use(before);		/* authenticated before: still in */
	/* a bad file changes nothing */
	assert_int_equal(csd_tcp_target_set_host_secrets(srv.target, &bad, 1, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "host " HOSTNQN ": DHHC-1 secret"));
	assert_int_equal(csd_tcp_target_set_host_secrets(srv.target, &bad, 0, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(connect_host(HOSTNQN, wrong_secret, NULL, &h, err, sizeof(err)), 0);
	tcp_host_disconnect(h);
	/* a host taken out of the file may not connect again */
	assert_int_equal(csd_tcp_target_set_host_secrets(srv.target, &other, 1, err, sizeof(err)),
			 0);
	assert_int_equal(connect_host(HOSTNQN, wrong_secret, NULL, &h, err, sizeof(err)),
			 -EACCES);
	use(before);
	tcp_host_disconnect(before);
	server_stop();
	/* a target without secrets does not start asking for them */
	{
		struct csd_tcp_target_config tc = { .sz = sizeof(tc) };

		server_start_with(&tc);
		assert_int_equal(csd_tcp_target_set_host_secrets(srv.target, &rotated, 1, err,
								 sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "started without host secrets"));
		server_stop();
	}
}

/* A raw admin queue: ICReq and Connect; returns the Connect completion's DW0. */
static uint32_t raw_admin(int fd, const char *hostnqn, uint16_t qid, uint16_t cntlid)
{
	struct nvmf_connect_data d = { .cntlid = cntlid };
	struct csd_nvme_sqe c = { .opcode = nvme_admin_fabrics, .nsid = nvme_fabrics_type_connect,
				  .cdw10 = (uint32_t)qid << 16, .cdw11 = 31 };
	struct csd_nvme_cqe cqe;

	snprintf(d.subsysnqn, sizeof(d.subsysnqn), "%s", SUBNQN);
	snprintf(d.hostnqn, sizeof(d.hostnqn), "%s", hostnqn);
	cqe = raw_cmd(fd, &c, &d, sizeof(d));
	return (cqe.status >> 1) ? 0xffffffffu : cqe.dw0;
}

static uint16_t auth(int fd, bool send, uint8_t secp, void *msg, uint32_t len, uint32_t tl)
{
	struct csd_nvme_sqe c = {
		.opcode = nvme_admin_fabrics,
		.nsid = send ? nvme_fabrics_type_auth_send : nvme_fabrics_type_auth_receive,
		.cdw10 = (uint32_t)secp << 24 | 1u << 16 | 1u << 8, .cdw11 = tl,
	};
	struct csd_nvme_cqe cqe = raw_cmd(fd, &c, msg, len);

	return cqe.status >> 1;
}

static uint8_t rx[DHCHAP_MSG_MAX];	/* the controller's last message */

/* Send a message, then what the controller says: its auth_id, and the failure reason. */
static uint8_t exchange(int fd, void *msg, uint32_t len, uint8_t *reason)
{
	const struct dhchap_failure *f = (const void *)rx;

	assert_int_equal(auth(fd, true, DHCHAP_SECP, msg, len, len), 0);
	assert_int_equal(auth(fd, false, DHCHAP_SECP, rx, sizeof(rx), sizeof(rx)), 0);
	*reason = f->auth_id == DHCHAP_MSG_FAILURE1 ? f->rescode_exp : 0;
	return f->auth_id;
}

static uint32_t negotiate_msg(uint8_t *buf, uint8_t napd, uint8_t hash, uint8_t group)
{
	struct dhchap_negotiate *n = (void *)buf;

	memset(buf, 0, 8 + 64);
	n->auth_id = DHCHAP_MSG_NEGOTIATE;
	n->t_id = 7;
	n->napd = napd;
	n->desc[0].authid = DHCHAP_AUTH_ID;
	n->desc[0].halen = 1;
	n->desc[0].dhlen = 1;
	n->desc[0].idlist[0] = hash;
	n->desc[0].idlist[30] = group;
	return 8 + 64;
}

/* What no honest host does: skip authentication, or send it nonsense. */
static void test_queue_locked_until_authenticated(void **state)
{
	uint8_t msg[DHCHAP_MSG_MAX], why = 0;
	struct csd_nvme_sqe prop = { .opcode = nvme_admin_fabrics,
				     .nsid = nvme_fabrics_type_property_get, .cdw11 = NVME_REG_CAP };
	struct csd_nvme_sqe id = { .opcode = nvme_admin_identify, .cdw10 = NVME_IDENTIFY_CNS_CTRL };
	struct tcp_host *h;
	uint32_t dw0, len;
	char err[256];
	int fd, io;

	(void)state;
	start(NULL, "null", 0);
	fd = raw_connect();
	send_icreq(fd, 0);
	dw0 = raw_admin(fd, HOSTNQN, 0, 0xffff);
	assert_int_equal(dw0 & CSD_NVMF_CONNECT_AUTHREQ_ATR, CSD_NVMF_CONNECT_AUTHREQ_ATR);
	assert_int_equal(raw_cmd(fd, &prop, NULL, 0).status >> 1, 0x4091);	/* Auth Required */
	assert_int_equal(raw_cmd(fd, &id, msg, 4096).status >> 1, 0x4091);
	/* nor may it open I/O queues */
	io = raw_connect();
	send_icreq(io, 0);
	assert_int_equal(raw_admin(io, HOSTNQN, 1, (uint16_t)dw0), 0xffffffffu);
	close(io);
	/* the command's own fields */
	assert_int_equal(auth(fd, true, 0xea, msg, 72, 72), 0x4002);	/* SECP */
	assert_int_equal(auth(fd, true, DHCHAP_SECP, msg, 72, 0), 0x4002);	/* TL 0 */
	assert_int_equal(auth(fd, true, DHCHAP_SECP, msg, 72, 64), 0x400f);	/* TL != SGL */
	/* out of order, malformed, unusable: Failure1 with the reason */
	memset(msg, 0, 16);
	msg[0] = DHCHAP_TYPE_DHCHAP;
	msg[1] = DHCHAP_MSG_REPLY;
	assert_int_equal(exchange(fd, msg, 16, &why), DHCHAP_MSG_FAILURE1);
	assert_int_equal(why, DHCHAP_FAIL_INCORRECT_MESSAGE);
	len = negotiate_msg(msg, 0, CSD_DHCHAP_SHA256, 0);
	assert_int_equal(exchange(fd, msg, len, &why), DHCHAP_MSG_FAILURE1);
	assert_int_equal(why, DHCHAP_FAIL_INCORRECT_PAYLOAD);
	len = negotiate_msg(msg, 1, 9, 0);	/* a hash nobody defined */
	assert_int_equal(exchange(fd, msg, len, &why), DHCHAP_MSG_FAILURE1);
	assert_int_equal(why, DHCHAP_FAIL_HASH_UNUSABLE);
	len = negotiate_msg(msg, 1, CSD_DHCHAP_SHA256, CSD_DHCHAP_FFDHE2048);	/* not null */
	assert_int_equal(exchange(fd, msg, len, &why), DHCHAP_MSG_FAILURE1);
	assert_int_equal(why, DHCHAP_FAIL_DHGROUP_UNUSABLE);
	/* a good Negotiate, then a Reply that guesses the response */
	len = negotiate_msg(msg, 1, CSD_DHCHAP_SHA256, 0);
	assert_int_equal(exchange(fd, msg, len, &why), DHCHAP_MSG_CHALLENGE);
	{
		struct dhchap_reply *r = (void *)msg;

		memset(msg, 0, 16 + 64);
		r->auth_type = DHCHAP_TYPE_DHCHAP;
		r->auth_id = DHCHAP_MSG_REPLY;
		r->t_id = 7;
		r->hl = 32;
		assert_int_equal(exchange(fd, msg, 16 + 64, &why), DHCHAP_MSG_FAILURE1);
		assert_int_equal(why, DHCHAP_FAIL_FAILED);
	}
	assert_int_equal(raw_cmd(fd, &prop, NULL, 0).status >> 1, 0x4091);	/* still locked */
	/* random messages: answered, never a crash */
	srand(11);
	for (int i = 0; i < 2000; i++) {
		uint32_t n = 8 + (uint32_t)rand() % 600;

		for (uint32_t j = 0; j < n; j++)
			msg[j] = (uint8_t)rand();
		msg[0] = (uint8_t)(rand() % 2);
		msg[1] = (uint8_t)(rand() % 2 ? rand() % 5 : 0xf0 + rand() % 2);
		exchange(fd, msg, n, &why);
	}
	close(fd);
	/* the honest host gets in all the same */
	assert_int_equal(connect_host(HOSTNQN, host_secret, NULL, &h, err, sizeof(err)), 0);
	use(h);
	tcp_host_disconnect(h);
	server_stop();
}

/* The configured group bounds the target's work: a smaller one if the host insists, never bigger. */
static void test_no_bigger_group_than_configured(void **state)
{
	const struct dhchap_challenge *ch = (const void *)rx;
	uint8_t msg[128], why = 0;
	uint32_t len;
	int fd;

	(void)state;
	start("sha384", "ffdhe3072", 0);
	fd = raw_connect();
	send_icreq(fd, 0);
	raw_admin(fd, HOSTNQN, 0, 0xffff);
	len = negotiate_msg(msg, 1, CSD_DHCHAP_SHA256, CSD_DHCHAP_FFDHE8192);
	assert_int_equal(exchange(fd, msg, len, &why), DHCHAP_MSG_FAILURE1);
	assert_int_equal(why, DHCHAP_FAIL_DHGROUP_UNUSABLE);
	len = negotiate_msg(msg, 1, CSD_DHCHAP_SHA256, CSD_DHCHAP_DH_NULL);
	assert_int_equal(exchange(fd, msg, len, &why), DHCHAP_MSG_FAILURE1);
	assert_int_equal(why, DHCHAP_FAIL_DHGROUP_UNUSABLE);
	len = negotiate_msg(msg, 1, CSD_DHCHAP_SHA256, CSD_DHCHAP_FFDHE2048);
	assert_int_equal(exchange(fd, msg, len, &why), DHCHAP_MSG_CHALLENGE);
	assert_int_equal(ch->dhgid, CSD_DHCHAP_FFDHE2048);	/* smaller: taken */
	assert_int_equal(ch->hashid, CSD_DHCHAP_SHA256);	/* the host's only hash */
	assert_int_equal(ch->hl, 32);
	assert_int_equal(ch->dhvlen, 256);
	close(fd);
	server_stop();
}

/* One message at a time per queue: another, while the worker makes a Challenge, is refused. */
static void test_one_message_at_a_time(void **state)
{
	struct csd_nvme_sqe recv_cmd = {
		.opcode = nvme_admin_fabrics, .cid = 1, .nsid = nvme_fabrics_type_auth_receive,
		.cdw10 = (uint32_t)DHCHAP_SECP << 24 | 1u << 16 | 1u << 8, .cdw11 = DHCHAP_MSG_MAX,
	};
	struct csd_nvme_sqe send_cmd = recv_cmd;
	const struct dhchap_challenge *ch = (const void *)rx;
	struct csd_nvme_cqe first, second;
	uint8_t msg[128], why = 0;
	uint32_t len;
	int fd;

	(void)state;
	start(NULL, "ffdhe8192", 0);	/* its key pair takes milliseconds: long enough */
	fd = raw_connect();
	send_icreq(fd, 0);
	raw_admin(fd, HOSTNQN, 0, 0xffff);
	len = negotiate_msg(msg, 1, CSD_DHCHAP_SHA256, CSD_DHCHAP_FFDHE8192);
	assert_int_equal(auth(fd, true, DHCHAP_SECP, msg, len, len), 0);
	send_cmd.cid = 2;
	send_cmd.nsid = nvme_fabrics_type_auth_send;
	send_cmd.cdw11 = len;
	/* both in one segment, so the target reads the second while the first is with the worker */
	setsockopt(fd, IPPROTO_TCP, TCP_CORK, &(int){ 1 }, sizeof(int));
	raw_send(fd, &recv_cmd, NULL, DHCHAP_MSG_MAX);	/* the Challenge: to the worker */
	raw_send(fd, &send_cmd, msg, len);		/* a Negotiate meanwhile */
	setsockopt(fd, IPPROTO_TCP, TCP_CORK, &(int){ 0 }, sizeof(int));
	first = raw_wait(fd, rx, sizeof(rx));
	second = raw_wait(fd, rx, sizeof(rx));
	assert_int_equal(first.cid, 2);
	assert_int_equal(first.status >> 1, 0x400c);	/* Command Sequence Error */
	assert_int_equal(second.cid, 1);
	assert_int_equal(second.status >> 1, 0);
	assert_int_equal(ch->auth_id, DHCHAP_MSG_CHALLENGE);
	assert_int_equal(ch->dhgid, CSD_DHCHAP_FFDHE8192);
	assert_int_equal(ch->dhvlen, 1024);
	(void)why;
	close(fd);
	server_stop();
}

/* A host's own preferences (the keys file's hash= and dhgroup=) win over the target's. */
static void test_per_host_preferences(void **state)
{
	const struct dhchap_challenge *ch = (const void *)rx;
	uint8_t msg[128], why = 0;
	struct dhchap_negotiate *n = (void *)msg;
	struct tcp_host *h;
	char err[256];
	uint32_t len;
	int fd;

	(void)state;
	host_hash = "sha512";
	host_group = "null";
	start("sha256", "ffdhe2048", 0);
	host_hash = host_group = NULL;
	fd = raw_connect();
	send_icreq(fd, 0);
	raw_admin(fd, HOSTNQN, 0, 0xffff);
	len = negotiate_msg(msg, 1, CSD_DHCHAP_SHA256, CSD_DHCHAP_DH_NULL);
	n->desc[0].halen = 3;		/* everything, as Linux offers */
	n->desc[0].idlist[1] = CSD_DHCHAP_SHA384;
	n->desc[0].idlist[2] = CSD_DHCHAP_SHA512;
	n->desc[0].dhlen = 2;
	n->desc[0].idlist[31] = CSD_DHCHAP_FFDHE2048;
	assert_int_equal(exchange(fd, msg, len, &why), DHCHAP_MSG_CHALLENGE);
	assert_int_equal(ch->hashid, CSD_DHCHAP_SHA512);
	assert_int_equal(ch->dhgid, CSD_DHCHAP_DH_NULL);
	assert_int_equal(ch->dhvlen, 0);
	close(fd);
	assert_int_equal(connect_host(HOSTNQN, host_secret, ctrl_secret, &h, err, sizeof(err)), 0);
	use(h);
	tcp_host_disconnect(h);
	/* and a bad one is named at start */
	{
		struct csd_tcp_host_secret s = { .hostnqn = HOSTNQN, .secret = host_secret,
						 .dhchap_hash = "md5" };
		struct csd_tcp_target_config tc = { .sz = sizeof(tc), .host_secrets = &s,
						    .nhost_secrets = 1 };
		struct csd_tcp_target *t;

		assert_int_equal(csd_tcp_target_create(srv.subsys, &tc, &t, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "host " HOSTNQN ": DH-HMAC-CHAP hash 'md5': sha256, sha384 "
				    "or sha512");
	}
	server_stop();
}

/* A queue that does not authenticate within the slow-client limit is closed. */
static void test_no_authentication_in_time(void **state)
{
	int fd;

	(void)state;
	start(NULL, NULL, 500);
	fd = raw_connect();
	send_icreq(fd, 0);
	assert_int_equal(raw_admin(fd, HOSTNQN, 0, 0xffff) & CSD_NVMF_CONNECT_AUTHREQ_ATR,
			 CSD_NVMF_CONNECT_AUTHREQ_ATR);
	assert_false(closed_within(fd, 200));
	assert_true(closed_within(fd, 1500));
	close(fd);
	server_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secrets_as_nvme_cli_makes_them),
		cmocka_unit_test(test_bad_secrets_are_named),
		cmocka_unit_test(test_dh_agreement_and_bad_public_values),
		cmocka_unit_test(test_every_hash_and_group),
		cmocka_unit_test(test_wrong_and_missing_secrets_are_refused),
		cmocka_unit_test(test_unauthenticated_hosts_allowed),
		cmocka_unit_test(test_secrets_replaced_at_run_time),
		cmocka_unit_test(test_queue_locked_until_authenticated),
		cmocka_unit_test(test_no_bigger_group_than_configured),
		cmocka_unit_test(test_one_message_at_a_time),
		cmocka_unit_test(test_per_host_preferences),
		cmocka_unit_test(test_no_authentication_in_time),
	};

	return cmocka_run_group_tests_name("transport-auth", tests, setup, NULL);
}
