/* SPDX-License-Identifier: MIT */
/*
 * What authentication costs a host: the time to connect (ICReq, Connect, DH-HMAC-CHAP on the
 * admin queue and each I/O queue, controller enable) to an in-process csd-target on loopback,
 * per hash and DH group the target prefers, against an unauthenticated connect measured in
 * the same run. Median of N connects each. Then what it costs everyone else: the latency of
 * another host's reads while one host keeps authenticating with ffdhe8192, against the same
 * reads with nobody authenticating.
 *   build/bench/auth [N] [--chart BASE]   (N default 40; BASE.png/.svg with gnuplot)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csd/device.h"
#include "csd/dhchap.h"
#include "csd/tcp.h"
#include "tcp_host.h"

#define HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:csdlab-bench-auth"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *serve(void *t)
{
	csd_tcp_target_run(t);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median connect time (ms) of n connects; secret NULL: a host without one. */
static double median_connect(uint16_t port, const char *secret, unsigned n)
{
	double *t = calloc(n, sizeof(*t)), m;
	struct tcp_host_opts o = { .port = port, .nr_io_queues = 2,
				   .hostnqn = secret ? HOSTNQN : "nqn.2014-08.org.nvmexpress:uuid:plain",
				   .dhchap_secret = secret };

	for (unsigned i = 0; i < n; i++) {
		struct tcp_host *h;
		char err[256];
		double t0 = now_ms();

		if (tcp_host_connect(&o, &h, err, sizeof(err))) {
			fprintf(stderr, "bench/auth: %s\n", err);
			exit(1);
		}
		t[i] = now_ms() - t0;
		tcp_host_disconnect(h);
	}
	qsort(t, n, sizeof(*t), cmp);
	m = t[n / 2];
	free(t);
	return m;
}

/* Connect times per group as a chart (log scale), when gnuplot is there. */
static void chart(const char *base, const char *const names[], const double *plain,
		  const double *authed, size_t n)
{
	char path[600], cmd[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s.dat", base);
	if (!(f = fopen(path, "w")))
		return;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "\"%s\" %.3f %.3f\n", names[i], plain[i], authed[i]);
	fclose(f);
	snprintf(path, sizeof(path), "%s.gp", base);
	if (!(f = fopen(path, "w")))
		return;
	fprintf(f,
		"set style data histograms\nset style histogram clustered gap 1\n"
		"set style fill solid 0.8\nset logscale y\nset grid ytics\nset xtics noenhanced\n"
		"set key top left\nset ylabel \"connect time, ms (log)\"\nset yrange [0.1:*]\n"
		"set title \"Connecting (admin + 2 I/O queues): no secret vs DH-HMAC-CHAP, per "
		"hash and DH group\"\n"
		"do for [t in \"png svg\"] {\n"
		"  if (t eq \"png\") { set terminal png size 900,450 } else { set terminal svg size 900,450 }\n"
		"  set output sprintf(\"%s.%%s\", t)\n"
		"  plot \"%s.dat\" using 2:xtic(1) title \"no secret\" lc rgb \"#3366cc\", "
		"\"\" using 3 title \"authenticated\" lc rgb \"#dc3912\"\n}\n", base, base);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>/dev/null", path);
	if (system(cmd) != 0)
		fprintf(stderr, "bench/auth: gnuplot failed or is missing: no chart\n");
}

struct hammer {
	uint16_t port;
	const char *secret;
	volatile int stop;
	unsigned connects;
};

/* One host authenticating again and again (each connect: 3 queues, each a DH exchange). */
static void *hammer_main(void *arg)
{
	struct hammer *hm = arg;
	struct tcp_host_opts o = { .port = hm->port, .nr_io_queues = 2, .hostnqn = HOSTNQN,
				   .dhchap_secret = hm->secret };

	while (!hm->stop) {
		struct tcp_host *h;
		char err[256];

		if (tcp_host_connect(&o, &h, err, sizeof(err))) {
			fprintf(stderr, "bench/auth: %s\n", err);
			exit(1);
		}
		tcp_host_disconnect(h);
		hm->connects++;
	}
	return NULL;
}

/* p50, p99 and max (ms) of n one-block reads by a host without a secret. */
static void read_latency(uint16_t port, unsigned n, double out[3])
{
	struct tcp_host_opts o = { .port = port, .hostnqn = "nqn.2014-08.org.nvmexpress:uuid:plain" };
	double *t = calloc(n, sizeof(*t));
	uint8_t block[512];
	struct tcp_host *h;
	char err[256];

	if (tcp_host_connect(&o, &h, err, sizeof(err))) {
		fprintf(stderr, "bench/auth: %s\n", err);
		exit(1);
	}
	for (unsigned i = 0; i < n; i++) {
		struct csd_nvme_sqe rd = { .opcode = 0x02, .nsid = 1 };
		struct csd_nvme_cqe cqe;
		double t0 = now_ms();

		if (tcp_host_cmd(h, 1, &rd, block, sizeof(block), &cqe) || (cqe.status >> 1)) {
			fprintf(stderr, "bench/auth: a read failed\n");
			exit(1);
		}
		t[i] = now_ms() - t0;
		usleep(1000);
	}
	tcp_host_disconnect(h);
	qsort(t, n, sizeof(*t), cmp);
	out[0] = t[n / 2];
	out[1] = t[n * 99 / 100];
	out[2] = t[n - 1];
	free(t);
}

static void others_while_authenticating(struct csd_subsys *subsys, const char *secret)
{
	struct csd_tcp_host_secret s = { .hostnqn = HOSTNQN, .secret = secret };
	struct csd_tcp_target_config tc = { .sz = sizeof(tc), .port = 0, .host_secrets = &s,
					    .nhost_secrets = 1, .allow_unauthenticated = true,
					    .dhchap_hash = "sha512", .dhchap_dhgroup = "ffdhe8192" };
	struct hammer hm = { 0 };
	struct csd_tcp_target *t;
	pthread_t th, hth;
	double idle[3], busy[3];
	char err[256];

	if (csd_tcp_target_create(subsys, &tc, &t, err, sizeof(err))) {
		fprintf(stderr, "bench/auth: %s\n", err);
		exit(1);
	}
	pthread_create(&th, NULL, serve, t);
	hm.port = csd_tcp_target_port(t);
	hm.secret = secret;
	read_latency(hm.port, 1000, idle);
	pthread_create(&hth, NULL, hammer_main, &hm);
	read_latency(hm.port, 1000, busy);
	hm.stop = 1;
	pthread_join(hth, NULL);
	printf("\nanother host's 512-byte reads (1000, 1 ms apart) while one host keeps "
	       "authenticating\n(sha512, ffdhe8192: %u connects meanwhile), against nobody "
	       "authenticating:\n", hm.connects);
	printf("%-10s %10s %10s %10s\n", "", "p50 ms", "p99 ms", "max ms");
	printf("%-10s %10.3f %10.3f %10.3f\n", "idle", idle[0], idle[1], idle[2]);
	printf("%-10s %10.3f %10.3f %10.3f\n", "auth load", busy[0], busy[1], busy[2]);
	printf("%-10s %10.1f %10.1f %10.1f\n", "ratio", busy[0] / idle[0], busy[1] / idle[1],
	       busy[2] / idle[2]);
	csd_tcp_target_stop(t);
	pthread_join(th, NULL);
	csd_tcp_target_destroy(t);
}

int main(int argc, char **argv)
{
	static const char *const configs[][2] = {
		{ "sha256", "null" }, { "sha256", "ffdhe2048" }, { "sha384", "ffdhe3072" },
		{ "sha512", "ffdhe4096" }, { "sha512", "ffdhe6144" }, { "sha512", "ffdhe8192" },
	};
	unsigned n = 40;
	const char *chart_base = NULL;
	const char *names[sizeof(configs) / sizeof(configs[0])];
	double plains[sizeof(configs) / sizeof(configs[0])], auths[sizeof(configs) / sizeof(configs[0])];
	char secret[CSD_DHCHAP_SECRET_MAX], path[] = "/tmp/csd-bench-auth-XXXXXX", err[256];
	struct csd_dhchap_key key;
	struct csd_dev_config cfg;
	struct csd_subsys *subsys;
	int fd = mkstemp(path);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--chart") && i + 1 < argc)
			chart_base = argv[++i];
		else if ((n = (unsigned)atoi(argv[i])) < 1 || n > 10000)
			fd = -1;
	}
	if (n < 1 || n > 10000 || fd < 0) {
		fprintf(stderr, "usage: bench/auth [N: 1-10000 connects per case] [--chart BASE]\n");
		return 2;
	}
	close(fd);
	if (csd_dhchap_key_generate(NULL, 0, 1, HOSTNQN, &key, err, sizeof(err)) ||
	    csd_dhchap_key_format(&key, secret, sizeof(secret)))
		return 1;
	csd_dev_config_defaults(&cfg);
	cfg.backing_path = path;
	cfg.nvm_bytes = 16u << 20;
	cfg.slm_bytes = 4u << 20;
	if (csd_subsys_create(&cfg, &subsys, err, sizeof(err))) {
		fprintf(stderr, "bench/auth: %s\n", err);
		return 1;
	}
	printf("connect (admin + 2 I/O queues) to csd-target on loopback, median of %u\n", n);
	printf("%-22s %12s %16s %8s\n", "target prefers", "no secret ms", "authenticated ms", "ratio");
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		struct csd_tcp_host_secret s = { .hostnqn = HOSTNQN, .secret = secret };
		struct csd_tcp_target_config tc = { .sz = sizeof(tc), .port = 0, .host_secrets = &s,
						    .nhost_secrets = 1, .allow_unauthenticated = true,
						    .dhchap_hash = configs[i][0],
						    .dhchap_dhgroup = configs[i][1] };
		struct csd_tcp_target *t;
		pthread_t th;
		double plain, authed;
		char name[32];

		if (csd_tcp_target_create(subsys, &tc, &t, err, sizeof(err))) {
			fprintf(stderr, "bench/auth: %s\n", err);
			return 1;
		}
		pthread_create(&th, NULL, serve, t);
		/* the baseline in the same run, on the same target */
		plain = median_connect(csd_tcp_target_port(t), NULL, n);
		authed = median_connect(csd_tcp_target_port(t), secret, n);
		snprintf(name, sizeof(name), "%s, %s", configs[i][0], configs[i][1]);
		printf("%-22s %12.3f %16.3f %8.1f\n", name, plain, authed, authed / plain);
		names[i] = configs[i][1];
		plains[i] = plain;
		auths[i] = authed;
		csd_tcp_target_stop(t);
		pthread_join(th, NULL);
		csd_tcp_target_destroy(t);
	}
	if (chart_base)
		chart(chart_base, names, plains, auths, sizeof(configs) / sizeof(configs[0]));
	others_while_authenticating(subsys, secret);
	csd_subsys_destroy(subsys);
	unlink(path);
	return 0;
}
