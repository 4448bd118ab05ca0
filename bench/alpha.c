/* SPDX-License-Identifier: MIT */
/*
 * The Alpha experiment: count "Alpha" in a text file on the drive (1) the standard way, by
 * reading it all over the link and counting on the host, and (2) by pushing count_alpha into
 * the drive through TP4091 (host-driven: Memory Copy NVM -> SLM and Execute, window by window;
 * and the drive's streaming Execute), getting only the count back. The bytes on the link are
 * measured at both ends of the socket (the host's counters and the target's, log C2h) and
 * must agree; all three counts must equal the generator's.
 *
 *   alpha [--size 1G] [--seed 1] [--rate 5] [--queues 2] [--depth 16] [--window 1M]
 *         [--out results/alpha] [--target PATH] [--program PATH] [--link BUS] [--direct]
 *         [--quiet]
 *
 * --link shapes the link (both ways) to a bus's bandwidth in the initiator, to show what the
 * byte reduction means for time on a slower bus; the output says when it is on.
 *
 * It starts csd-target itself (a temporary backing file on 127.0.0.1, a free port) and stops
 * it at the end. Output: a table, <out>/<timestamp>.json and latest.json, and a chart
 * (<out>/<timestamp>.png and .svg) when gnuplot is there.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "csd/csd.h"
#include "csd/textgen.h"
#include "util.h"

#ifndef CSD_TARGET_EXE
#define CSD_TARGET_EXE "tools/csd-target"
#endif
#ifndef CSD_SPDK_TGT_EXE
#define CSD_SPDK_TGT_EXE ""	/* this build has no SPDK (make spdk) */
#endif
#ifndef COUNT_ALPHA_OBJ
#define COUNT_ALPHA_OBJ "programs/count_alpha.bpf.o"
#endif
#ifndef GREP_ALPHA_OBJ
#define GREP_ALPHA_OBJ "programs/grep_alpha.bpf.o"
#endif

#define CHUNK		(1u << 20)	/* one NVMe command's data (MDTS) */
/*
 * A read buffer: 64 bytes whose last 4 take the previous chunk's tail, then the chunk, on a
 * cache line as the loopback stream's buffer is (the data used to start 4 bytes in).
 */
#define SLOT		(CHUNK + 64)
#define LBA		512u
#define MAX_REPEAT	20
#define PIND		2

extern char **environ;

struct opts {
	uint64_t size, seed, rate, queues, depth, window;
	uint64_t link;			/* shaped link bandwidth, bytes/s; 0: unshaped */
	bool direct;			/* generate into the backing file, not over the link */
	const char *link_name;
	const char *out, *target, *program, *grep_program;
	const char *engine;		/* passed to csd-target --engine; NULL: its default */
	uint64_t engines;		/* engine threads of the drive */
	uint64_t repeat;		/* rounds of the queries */
	bool quiet;
	bool transfer_only;		/* only the transfer against loopback TCP */
};

/* What one query cost. */
struct query {
	const char *name;
	const char *label;			/* short, for the chart */
	uint64_t count;
	uint64_t host_out, host_in;		/* the host's socket counters */
	uint64_t target_in, target_out;		/* the target's, for this association */
	uint64_t commands;
	double seconds;
	uint64_t moved_inside, insns;
	double seconds_min, seconds_max;	/* of the --repeat runs (seconds: the median) */
	unsigned runs;
};

/* `grep Alpha`, line by line across chunks: matching lines counted, summed and hashed. */
struct grep_result {
	uint64_t lines, bytes, hash;
};

struct grep_state {
	uint8_t line[4096];
	size_t len;
	bool overflow;
	struct grep_result r;
	double seconds;		/* spent grepping, inside the baseline's read loop */
};

static void grep_emit(struct grep_result *r, const uint8_t *line, size_t n)
{
	if (!r->hash)
		r->hash = 0xcbf29ce484222325ull;	/* FNV-1a */
	for (size_t i = 0; i < n; i++)
		r->hash = (r->hash ^ line[i]) * 0x100000001b3ull;
	r->lines++;
	r->bytes += n;
}

static void grep_feed(struct grep_state *g, const uint8_t *p, size_t n)
{
	while (n) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;

		if (g->len + take <= sizeof(g->line))
			memcpy(g->line + g->len, p, take);
		else
			g->overflow = true;	/* longer than any generated line: not matched */
		g->len += take;
		if (nl) {
			if (!g->overflow && memmem(g->line, g->len, "Alpha", 5))
				grep_emit(&g->r, g->line, g->len);
			g->len = 0;
			g->overflow = false;
		}
		p += take;
		n -= take;
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int ret)
{
	char buf[160];

	fprintf(stderr, "alpha: %s: %s\n", what, csd_strerror(ret, buf, sizeof(buf)));
	exit(1);
}

/* csd-target as a child process; its first line names the port. */
static pid_t start_target(const struct opts *o, const char *file, uint16_t *port)
{
	char size[32], line[512], engines[24];
	int pipefd[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	FILE *f;
	char *argv[] = { (char *)o->target, "-p", "0", "--file", (char *)file, "--size", size,
			 "--slm-size", "64M", "--threads", engines,
			 /* one stream over 10 GB in the interpreter outlasts the default limit */
			 "--time-limit-ms", "0", o->engine ? "--engine" : NULL, (char *)o->engine, NULL };

	snprintf(size, sizeof(size), "%" PRIu64, (o->size + CHUNK - 1) / CHUNK * CHUNK);
	snprintf(engines, sizeof(engines), "%" PRIu64, o->engines);
	if (pipe(pipefd))
		die("pipe", -errno);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, pipefd[0]);
	/* its own report on exit is not part of ours */
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, o->target, &fa, NULL, argv, environ))
		die(o->target, -errno);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	if (!f || !fgets(line, sizeof(line), f) ||
	    sscanf(strstr(line, " on ") ? strstr(line, " on ") : "", " on %*[^:]:%hu", port) != 1) {
		fprintf(stderr, "alpha: csd-target did not start\n");
		kill(pid, SIGKILL);
		exit(1);
	}
	fclose(f);
	return pid;
}

/* A TCP port nobody listens on now (the kernel's pick). */
static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		die("a free port", -errno);
	close(fd);
	return ntohs(a.sin_port);
}

static bool port_listens(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool up = fd >= 0 && !connect(fd, (struct sockaddr *)&a, sizeof(a));

	if (fd >= 0)
		close(fd);
	return up;
}

/*
 * --target spdk: the same drive inside SPDK's nvmf_tgt (csd-spdk-tgt), configured by a JSON
 * config as SPDK users do; its transport takes 1 MiB commands, as csd-target does.
 */
static pid_t start_spdk_target(const struct opts *o, const char *dir, const char *file,
			       uint16_t *port)
{
	char cfg[128], log[128], rpc[128];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	FILE *f;
	/* an RPC socket of its own: SPDK's default one may be another SPDK program's */
	char *argv[] = { CSD_SPDK_TGT_EXE, "--no-huge", "-s", "1024", "-m", "0x1",
			 "--disable-cpumask-locks", "--json", cfg, "-r", rpc, NULL };

	if (!CSD_SPDK_TGT_EXE[0]) {
		fprintf(stderr, "alpha: this build has no csd-spdk-tgt: run make spdk first\n");
		exit(2);
	}
	*port = free_port();
	snprintf(cfg, sizeof(cfg), "%s/csd-spdk-tgt.json", dir);
	snprintf(log, sizeof(log), "%s/csd-spdk-tgt.log", dir);
	snprintf(rpc, sizeof(rpc), "%s/rpc.sock", dir);
	f = fopen(cfg, "w");
	if (!f)
		die(cfg, -errno);
	fprintf(f, "{ \"subsystems\": [\n"
		"  { \"subsystem\": \"nvmf\", \"config\": [ { \"method\": \"nvmf_create_transport\",\n"
		"    \"params\": { \"trtype\": \"TCP\", \"max_io_size\": 1048576,\n"
		"                \"io_unit_size\": 131072, \"max_queue_depth\": 256 } } ] },\n"
		"  { \"subsystem\": \"csd\", \"config\": [\n"
		"    { \"method\": \"csd_drive_create\", \"params\": { \"nqn\": \"nqn.2026-01.io.csdlab:drive0\",\n"
		"      \"backing_file\": \"%s\", \"size\": %" PRIu64 ", \"slm_size\": 67108864,\n"
		"      \"engine_threads\": %" PRIu64 ", \"exec_time_ms\": 0%s%s%s } },\n"
		"    { \"method\": \"nvmf_subsystem_add_listener\", \"params\": {\n"
		"      \"nqn\": \"nqn.2026-01.io.csdlab:drive0\", \"listen_address\": { \"trtype\": \"TCP\",\n"
		"      \"adrfam\": \"IPv4\", \"traddr\": \"127.0.0.1\", \"trsvcid\": \"%u\" } } } ] } ] }\n",
		file, (o->size + CHUNK - 1) / CHUNK * CHUNK, o->engines,
		o->engine ? ", \"engine\": \"" : "",
		o->engine ? o->engine : "", o->engine ? "\"" : "", *port);
	fclose(f);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ))
		die(argv[0], -errno);
	posix_spawn_file_actions_destroy(&fa);
	/* DPDK's start takes seconds, and long on a loaded machine (make check beside it) */
	for (int i = 0; i < 2400 && !port_listens(*port); i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "alpha: csd-spdk-tgt stopped; its log is %s\n", log);
			exit(1);
		}
		usleep(50000);
	}
	if (!port_listens(*port)) {
		fprintf(stderr, "alpha: csd-spdk-tgt did not listen within 120 s; its log is %s\n", log);
		kill(pid, SIGKILL);
		exit(1);
	}
	return pid;
}

struct snapshot {
	struct csd_tcp_traffic host;
	struct csd_tcp_link_log target;
	struct csd_vendor_stats drive;
};

static void snap(struct csd_dev *dev, struct snapshot *s)
{
	int ret = csd_dev__stats(dev, &s->drive, &s->host);

	if (!ret)
		ret = csd_dev__target_link(dev, &s->target);
	if (ret)
		die("statistics", ret);
}

/*
 * The link cost of a query between two snapshots. A snapshot is itself two Get Log Page
 * commands; what a pair of them costs with nothing between (`ov`, measured once) is taken
 * out, so that only the query remains, as both ends counted it.
 */
static void cost(struct query *q, const struct snapshot *a, const struct snapshot *b,
		 const struct query *ov)
{
	q->host_out = b->host.bytes_out - a->host.bytes_out - ov->host_out;
	q->host_in = b->host.bytes_in - a->host.bytes_in - ov->host_in;
	q->target_in = b->target.association.bytes_in - a->target.association.bytes_in -
		       ov->target_in;
	q->target_out = b->target.association.bytes_out - a->target.association.bytes_out -
			ov->target_out;
	q->moved_inside = b->drive.internal_bytes_moved - a->drive.internal_bytes_moved;
	q->insns = b->drive.program_insns - a->drive.program_insns;
}

static void upload(struct csd_dev *dev, const struct opts *o, uint64_t *expected,
		   struct query *q)
{
	unsigned nq = csd_dev__nr_io_queues(dev), depth = (unsigned)o->depth;
	uint64_t chunks = (o->size + CHUNK - 1) / CHUNK, sent = 0, done = 0;
	struct csd_async *slots = calloc((size_t)nq * depth, sizeof(*slots));
	uint8_t *bufs = malloc((size_t)nq * depth * CHUNK);
	struct csd_progress bar;
	struct csd_textgen g;
	unsigned *inflight = calloc(nq, sizeof(*inflight));
	double t0 = now();

	csd_textgen_init(&g, o->seed, (uint32_t)o->rate);
	*expected = 0;
	csd_progress_start(&bar, "uploading", chunks);
	while (done < chunks) {
		/* fill every free slot, queue by queue */
		for (unsigned i = 0; i < nq * depth && sent < chunks; i++) {
			struct csd_async *a = &slots[i];
			unsigned qid = i / depth + 1;
			uint64_t len = o->size - sent * CHUNK < CHUNK ? o->size - sent * CHUNK : CHUNK;
			uint8_t *buf = bufs + (size_t)i * CHUNK;
			int ret;

			if (a->user)
				continue;
			*expected += csd_textgen_fill(&g, buf, len);
			memset(buf + len, ' ', CHUNK - len);	/* the file's tail: blanks */
			a->sqe = (struct csd_nvme_sqe){ .opcode = 0x01, .nsid = 1,
							.cdw10 = (uint32_t)(sent * (CHUNK / LBA)),
							.cdw11 = (uint32_t)((sent * (CHUNK / LBA)) >> 32),
							.cdw12 = CHUNK / LBA - 1 };
			a->data = buf;
			a->len = CHUNK;
			a->user = a;
			if ((ret = csd_dev__submit(dev, (uint16_t)qid, a)))
				die("write", ret);
			inflight[qid - 1]++;
			sent++;
			q->commands++;
		}
		for (unsigned qid = 1; qid <= nq; qid++) {
			int err = 0;
			struct csd_async *a;

			if (!inflight[qid - 1])
				continue;
			a = csd_dev__reap(dev, (uint16_t)qid, &err);
			if (!a)
				die("write", err);
			if (a->result)
				die("write", a->result);
			a->user = NULL;
			inflight[qid - 1]--;
			done++;
		}
		csd_progress_update(&bar, done);
	}
	csd_progress_end(&bar);
	q->seconds = now() - t0;
	free(slots);
	free(bufs);
	free(inflight);
}

/* --direct: the text goes straight into the backing file, before the target starts. */
static void generate_file(const char *path, const struct opts *o, uint64_t *expected,
			  struct query *q)
{
	uint64_t chunks = (o->size + CHUNK - 1) / CHUNK;
	uint8_t *buf = malloc(CHUNK);
	struct csd_progress bar;
	struct csd_textgen g;
	double t0 = now();
	FILE *f = fopen(path, "wb");

	if (!f || !buf)
		die(path, -errno);
	csd_textgen_init(&g, o->seed, (uint32_t)o->rate);
	*expected = 0;
	csd_progress_start(&bar, "generating", chunks);
	for (uint64_t c = 0; c < chunks; c++) {
		uint64_t len = o->size - c * CHUNK < CHUNK ? o->size - c * CHUNK : CHUNK;

		*expected += csd_textgen_fill(&g, buf, len);
		memset(buf + len, ' ', CHUNK - len);	/* the file's tail: blanks, as uploaded */
		if (fwrite(buf, 1, CHUNK, f) != CHUNK)
			die(path, -errno);
		csd_progress_update(&bar, c + 1);
	}
	csd_progress_end(&bar);
	if (fclose(f))
		die(path, -errno);
	free(buf);
	q->seconds = now() - t0;
}

/*
 * The baseline: read it all, deep queues, count on the host in file order. Without grep, only
 * the read (the transfer check below).
 */
static void baseline(struct csd_dev *dev, const struct opts *o, struct query *q,
		     struct grep_state *grep)
{
	unsigned nq = csd_dev__nr_io_queues(dev), depth = (unsigned)o->depth, n = nq * depth;
	uint64_t chunks = (o->size + CHUNK - 1) / CHUNK, sent = 0, counted = 0;
	struct csd_async *slots = calloc(n, sizeof(*slots));
	uint8_t *bufs = aligned_alloc(64, (size_t)n * SLOT);
	bool *ready = calloc(n, sizeof(*ready));
	unsigned *inflight = calloc(nq, sizeof(*inflight));
	uint8_t carry[4] = "    ";
	struct csd_progress bar;
	double t0;

	/*
	 * Touched before the clock starts, as the loopback's buffers are: a reader reuses its
	 * buffers, and a first touch of memory costs this hypervisor about 3 s per GiB.
	 */
	if (!slots || !bufs || !ready || !inflight)
		die("read buffers", -ENOMEM);
	memset(bufs, 0, (size_t)n * SLOT);
	t0 = now();
	csd_progress_start(&bar, grep ? "baseline: reading" : "reading only", chunks);
	while (counted < chunks) {
		/* chunk c lives in slot c % n: keeps the file order for counting */
		while (sent < chunks && sent < counted + n) {
			unsigned i = (unsigned)(sent % n), qid = (unsigned)(sent % nq) + 1;
			struct csd_async *a = &slots[i];
			int ret;

			a->sqe = (struct csd_nvme_sqe){ .opcode = 0x02, .nsid = 1,
							.cdw10 = (uint32_t)(sent * (CHUNK / LBA)),
							.cdw11 = (uint32_t)((sent * (CHUNK / LBA)) >> 32),
							.cdw12 = CHUNK / LBA - 1 };
			a->data = bufs + (size_t)i * SLOT + 64;
			a->len = CHUNK;
			a->user = (void *)(uintptr_t)sent;
			ready[i] = false;
			if ((ret = csd_dev__submit(dev, (uint16_t)qid, a)))
				die("read", ret);
			inflight[qid - 1]++;
			sent++;
			q->commands++;
		}
		/* the next chunk in order may be on any queue: reap the one it is on */
		{
			unsigned want = (unsigned)(counted % nq) + 1;
			int err = 0;
			struct csd_async *a = csd_dev__reap(dev, (uint16_t)want, &err);

			if (!a)
				die("read", err);
			if (a->result)
				die("read", a->result);
			inflight[want - 1]--;
			ready[(uint64_t)(uintptr_t)a->user % n] = true;
		}
		while (counted < chunks && ready[counted % n]) {
			unsigned i = (unsigned)(counted % n);
			uint8_t *p = bufs + (size_t)i * SLOT + 60;
			uint64_t len = o->size - counted * CHUNK < CHUNK ? o->size - counted * CHUNK : CHUNK;

			/* the last 4 bytes of the previous chunk: a match across the edge */
			memcpy(p, carry, 4);
			if (grep) {
				double g0;

				q->count += csd_count_alpha(p, len + 4);
				g0 = now();
				grep_feed(grep, p + 4, len);
				grep->seconds += now() - g0;
			}
			memcpy(carry, p + len, 4);
			ready[i] = false;
			counted++;
			csd_progress_update(&bar, counted);
		}
	}
	csd_progress_end(&bar);
	/* the count's time: the grep rides on the same read, its time is its own */
	q->seconds = now() - t0 - (grep ? grep->seconds : 0);
	free(slots);
	free(bufs);
	free(ready);
	free(inflight);
}

/*
 * What the link itself can carry: the same number of bytes over a plain loopback TCP
 * connection, a thread sending 1 MiB at a time, this one receiving, as csd-target and the
 * host do. Both cycle through as much memory as the host's read buffers (queues x depth
 * MiB), so that the copies at both ends touch memory as the real transfer's do, not one
 * cache-hot buffer. The NVMe/TCP read-only pass divided by this is the transport's share.
 */
struct loopback {
	int fd;
	uint64_t bytes;
	size_t ring;
	const uint8_t *buf;	/* the sender's ring, touched before the clock starts */
};

static void *loopback_send(void *arg)
{
	struct loopback *l = arg;
	const uint8_t *buf = l->buf;

	for (uint64_t sent = 0; sent < l->bytes;) {
		size_t at = (size_t)(sent % l->ring), n = l->ring - at < CHUNK ? l->ring - at : CHUNK;
		ssize_t w;

		if (n > l->bytes - sent)
			n = (size_t)(l->bytes - sent);
		w = send(l->fd, buf + at, n, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		sent += (uint64_t)w;
	}
	return NULL;
}

static double loopback_seconds(uint64_t bytes, size_t ring)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rfd;
	uint8_t *buf = malloc(ring), *send_buf = malloc(ring);
	struct loopback l = { .bytes = bytes, .ring = ring, .buf = send_buf };
	uint64_t got = 0;
	pthread_t th;
	double t0;

	if (lfd < 0 || !buf || !send_buf || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl))
		die("loopback", -errno);
	l.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l.fd < 0 || connect(l.fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (rfd = accept(lfd, NULL, NULL)) < 0)
		die("loopback", -errno);
	setsockopt(l.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(buf, 0, ring);
	memset(send_buf, 'x', ring);
	t0 = now();
	if (pthread_create(&th, NULL, loopback_send, &l))
		die("loopback", -EAGAIN);
	while (got < bytes) {
		size_t at = (size_t)(got % ring);
		ssize_t n = recv(rfd, buf + at, ring - at < CHUNK ? ring - at : CHUNK, 0);

		if (n <= 0)
			die("loopback", n < 0 ? -errno : -EPIPE);
		got += (uint64_t)n;
	}
	t0 = now() - t0;
	pthread_join(th, NULL);
	close(rfd);
	close(l.fd);
	close(lfd);
	free(buf);
	free(send_buf);
	return t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of n values, which are left sorted (v[0] the least, v[n - 1] the greatest). */
static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return v[n / 2];
}

/*
 * The transfer alone against loopback TCP, in pairs run back to back: this shared machine's
 * speed drifts by a third between seconds, so each pair's ratio is taken and the median of
 * the ratios reported (with the medians of each side's rate).
 */
#define TRANSFER_PAIRS	7

struct transfer {
	uint64_t bytes;
	double read_s, loopback_s;	/* medians; loopback_s 0: not measured (shaped link) */
	double ratio, ratio_min, ratio_max;	/* loopback time / NVMe/TCP time, per pair */
	double host_cpu_s, target_cpu_s;	/* CPU time of one NVMe/TCP pass, medians */
};

/* CPU time (user and system) of a process so far, from /proc; 0 if it cannot be read. */
static double process_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* the fields after the command's name, which may hold spaces: state is field 3 */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
		   &stime) != 2)
		return 0;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double thread_cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void transfer_check(struct csd_dev *dev, const struct opts *o, pid_t target,
			   struct transfer *t)
{
	struct opts part = *o;
	double reads[TRANSFER_PAIRS], loops[TRANSFER_PAIRS], ratios[TRANSFER_PAIRS];
	double host_cpu[TRANSFER_PAIRS], target_cpu[TRANSFER_PAIRS];

	part.size = o->size < (1ull << 30) ? o->size : 1ull << 30;
	t->bytes = part.size;
	for (int i = 0; i < TRANSFER_PAIRS; i++) {
		struct query q = { 0 };
		double h0 = thread_cpu_seconds(), t0 = process_cpu_seconds(target);

		baseline(dev, &part, &q, NULL);
		reads[i] = q.seconds;
		host_cpu[i] = thread_cpu_seconds() - h0;
		target_cpu[i] = process_cpu_seconds(target) - t0;
		loops[i] = o->link ? 0 : loopback_seconds(part.size,
							  (size_t)(o->queues * o->depth) * CHUNK);
		ratios[i] = loops[i] / reads[i];
	}
	t->host_cpu_s = median(host_cpu, TRANSFER_PAIRS);
	t->target_cpu_s = median(target_cpu, TRANSFER_PAIRS);
	t->read_s = median(reads, TRANSFER_PAIRS);
	t->loopback_s = median(loops, TRANSFER_PAIRS);
	t->ratio = median(ratios, TRANSFER_PAIRS);
	t->ratio_min = ratios[0];
	t->ratio_max = ratios[TRANSFER_PAIRS - 1];
}

/*
 * Window w of the file into SLM at offset 0, inside the drive, with the block before it, so
 * that a match or a line across the window's left edge is seen whole (the window itself
 * starts at LBA in SLM, except the first, which has nothing before it).
 */
struct window {
	uint64_t start, len;	/* in the file */
	uint64_t staged;	/* bytes now in SLM */
};

static struct window stage_window(struct csd_dev *dev, const struct opts *o, uint64_t w)
{
	struct window win = { .start = w * o->window };
	uint64_t first = win.start ? win.start / LBA - 1 : 0, nlb;
	int ret;

	win.len = o->size - win.start < o->window ? o->size - win.start : o->window;
	nlb = (win.start + win.len + LBA - 1) / LBA - first;
	win.staged = nlb * LBA;
	if ((ret = csd_dev__mem_copy_from_nvm(dev, 0, first, (uint32_t)nlb)))
		die("memory copy", ret);
	return win;
}

/* Host-driven offload: per window, NVM -> SLM, then Execute over it. */
static void offload_windows(struct csd_dev *dev, const struct opts *o, struct query *q)
{
	uint64_t windows = (o->size + o->window - 1) / o->window;
	struct csd_progress bar;
	double t0 = now();
	int ret;

	csd_progress_start(&bar, "offload: windows", windows);
	for (uint64_t w = 0; w < windows; w++) {
		struct window win = stage_window(dev, o, w);
		/* from 4 bytes before the window: a match across its left edge is counted here */
		struct csd_mem_range r = { .nsid = 2, .sb = win.start ? LBA - 4 : 0,
					   .len = (uint32_t)(win.start ? win.len + 4 : win.len) };
		uint64_t result;

		if ((ret = csd_dev__exec(dev, PIND, 0, &r, 1, 0, 0, &result)))
			die("execute", ret);
		q->count += result;
		q->commands += 2;
		csd_progress_update(&bar, w + 1);
	}
	csd_progress_end(&bar);
	q->seconds = now() - t0;
}

/*
 * grep offloaded, host-driven: per window, NVM -> SLM with the block before it, run
 * grep_alpha with room for its output after the input, read back only the matching lines.
 */
static void offload_grep(struct csd_dev *dev, const struct opts *o, struct query *q,
			 struct grep_result *r)
{
	uint64_t windows = (o->size + o->window - 1) / o->window;
	uint8_t *out = malloc(o->window + 4);
	struct csd_progress bar;
	double t0 = now();
	int ret;

	csd_progress_start(&bar, "offload: grep", windows);
	for (uint64_t w = 0; w < windows; w++) {
		struct window win = stage_window(dev, o, w);
		uint64_t in_len = win.staged, bytes;
		/* the input, then room for the output: at most all of it */
		struct csd_mem_range range = { .nsid = 2, .sb = 0,
					       .len = (uint32_t)(in_len + o->window) };

		if ((ret = csd_dev__exec(dev, PIND + 1, 0, &range, 1, in_len, win.start ? LBA : 0,
					 &bytes)))
			die("execute grep", ret);
		if (bytes > o->window)
			die("grep output does not fit", -ENOSPC);
		q->commands += 2;
		if (bytes) {
			/* Memory Read takes whole dwords */
			if ((ret = csd_dev__mem_read(dev, in_len, out, (uint32_t)((bytes + 3) & ~3ull))))
				die("memory read", ret);
			q->commands++;
			for (const uint8_t *p = out, *end = out + bytes; p < end;) {
				const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
				size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

				grep_emit(r, p, n);
				p += n;
			}
		}
		csd_progress_update(&bar, w + 1);
	}
	csd_progress_end(&bar);
	q->count = r->lines;
	q->seconds = now() - t0;
	free(out);
}

static void offload_stream(struct csd_dev *dev, const struct opts *o, struct query *q)
{
	struct csd_stream_range r = { .slba = 0, .nlb = (uint32_t)((o->size + LBA - 1) / LBA - 1) };
	double t0 = now();
	int ret = csd_dev__exec_stream(dev, PIND, &r, 1, (uint32_t)o->window, 4, 0, 0, &q->count);

	if (ret)
		die("streaming execute", ret);
	q->commands = 1;
	q->seconds = now() - t0;
}

static void human(char *buf, size_t size, double bytes)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (bytes >= 1024 && u < 4)
		bytes /= 1024, u++;
	snprintf(buf, size, u ? "%.2f %s" : "%.0f %s", bytes, units[u]);
}

static void print_table(const struct opts *o, const struct query *qs, int n,
			const struct query *setup, const struct query *up, uint64_t expected)
{
	char a[32], b[32], c[32];

	human(a, sizeof(a), (double)o->size);
	printf("\n\"Alpha\" in %s of text: the generator wrote %" PRIu64 " of them\n", a, expected);
	if (o->link)
		printf("link SHAPED to %s (%.2f GB/s each way): times are those of that bus\n",
		       o->link_name, (double)o->link / 1e9);
	human(a, sizeof(a), (double)up->host_out);
	if (o->direct)
		printf("upload: none, the text was generated straight into the backing file (%.2f s)\n\n",
		       up->seconds);
	else
		printf("upload (not counted in the queries): %s host->drive, %" PRIu64
		       " commands, %.2f s\n\n", a, up->commands, up->seconds);
	printf("%-26s %12s %14s %14s %9s %8s %10s %10s\n", "query", "count", "host->drive",
	       "drive->host", "commands", "time s", "rate MB/s", "reduction");
	for (int i = 0; i < n; i++) {
		const struct query *q = &qs[i];
		double link = (double)(q->host_out + q->host_in);
		double base = (double)(qs[0].host_out + qs[0].host_in);

		human(a, sizeof(a), (double)q->host_out);
		human(b, sizeof(b), (double)q->host_in);
		snprintf(c, sizeof(c), "%.0fx", base / (link > 0 ? link : 1));
		printf("%-26s %12" PRIu64 " %14s %14s %9" PRIu64 " %8.2f %10.1f %10s\n", q->name,
		       q->count, a, b, q->commands, q->seconds,
		       (double)o->size / 1e6 / q->seconds, i ? c : "1x");
	}
	human(a, sizeof(a), (double)setup->host_out);
	human(b, sizeof(b), (double)setup->host_in);
	printf("%-26s %12s %14s %14s %9" PRIu64 "\n", "setup (load + activate)", "", a, b,
	       setup->commands);
	if (o->repeat > 1)
		printf("\ntimes: the median of %" PRIu64 " rounds of the queries (fastest and slowest "
		       "in the JSON and the chart); counts, bytes and commands: each round's\n",
		       o->repeat);
	printf("\nbytes on the link are counted at both ends of the socket and agree; inside the "
	       "drive:\n");
	for (int i = 1; i < n; i++) {
		if (!qs[i].moved_inside)
			continue;
		human(a, sizeof(a), (double)qs[i].moved_inside);
		if (qs[i].insns)
			printf("  %-24s %s moved NVM -> SLM, %" PRIu64 " program instructions\n",
			       qs[i].name, a, qs[i].insns);
		else	/* verified programs run as JIT code, which counts nothing */
			printf("  %-24s %s moved NVM -> SLM (the program ran as verified JIT code)\n",
			       qs[i].name, a);
	}
}

static void write_json(FILE *f, const struct opts *o, const struct query *qs, int n,
		       const struct query *setup, const struct query *up, uint64_t expected,
		       const char *stamp, const struct transfer *t)
{
	fprintf(f, "{\n  \"timestamp\": \"%s\",\n  \"size\": %" PRIu64 ",\n  \"seed\": %" PRIu64
		",\n  \"rate_per_mille\": %" PRIu64 ",\n  \"window\": %" PRIu64 ",\n  \"queues\": %"
		PRIu64 ",\n  \"depth\": %" PRIu64 ",\n  \"expected_count\": %" PRIu64 ",\n"
		"  \"link_bytes_per_s\": %" PRIu64 ",\n  \"direct\": %s,\n", stamp,
		o->size, o->seed, o->rate, o->window, o->queues, o->depth, expected, o->link,
		o->direct ? "true" : "false");
	fprintf(f, "  \"upload\": {\"host_to_drive\": %" PRIu64 ", \"commands\": %" PRIu64
		", \"seconds\": %.3f},\n", up->host_out, up->commands, up->seconds);
	fprintf(f, "  \"setup\": {\"host_to_drive\": %" PRIu64 ", \"drive_to_host\": %" PRIu64
		", \"commands\": %" PRIu64 "},\n", setup->host_out, setup->host_in, setup->commands);
	fprintf(f, "  \"transfer\": {\"bytes\": %" PRIu64 ", \"pairs\": %d, "
		"\"read_only_seconds\": %.3f, \"read_only_mb_s\": %.1f, \"host_cpu_seconds\": %.3f, "
		"\"target_cpu_seconds\": %.3f", t->bytes, TRANSFER_PAIRS, t->read_s,
		(double)t->bytes / 1e6 / t->read_s, t->host_cpu_s, t->target_cpu_s);
	if (t->loopback_s > 0)	/* not measured on a shaped link */
		fprintf(f, ", \"loopback_tcp_seconds\": %.3f, \"loopback_tcp_mb_s\": %.1f, "
			"\"ratio\": %.3f, \"ratio_min\": %.3f, \"ratio_max\": %.3f", t->loopback_s,
			(double)t->bytes / 1e6 / t->loopback_s, t->ratio, t->ratio_min, t->ratio_max);
	fprintf(f, "},\n  \"queries\": [\n");
	for (int i = 0; i < n; i++) {
		const struct query *q = &qs[i];

		fprintf(f, "    {\"name\": \"%s\", \"count\": %" PRIu64 ", \"host_to_drive\": %" PRIu64
			", \"drive_to_host\": %" PRIu64 ", \"target_received\": %" PRIu64
			", \"target_sent\": %" PRIu64 ", \"commands\": %" PRIu64 ", \"seconds\": %.3f"
			", \"seconds_min\": %.3f, \"seconds_max\": %.3f, \"runs\": %u"
			", \"rate_mb_s\": %.1f, \"moved_inside\": %" PRIu64 ", \"instructions\": %"
			PRIu64 "}%s\n", q->name, q->count, q->host_out, q->host_in, q->target_in,
			q->target_out, q->commands, q->seconds, q->seconds_min, q->seconds_max, q->runs,
			(double)o->size / 1e6 / q->seconds, q->moved_inside, q->insns,
			i + 1 < n ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
}

/*
 * Two panels: bytes on the link per query (log: 112 bytes against a gibibyte) and time per
 * query (linear, median of the rounds with the fastest and slowest as error bars), each bar
 * with its value, and what was measured in the title.
 */
static void chart(const char *base, const struct query *qs, int n, const struct opts *o,
		  const char *stamp)
{
	char path[640], cmd[1400], size[32];
	double top = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s.dat", base);
	if (!(f = fopen(path, "w")))
		return;
	for (int i = 0; i < n; i++) {
		char b[32];

		human(b, sizeof(b), (double)(qs[i].host_out + qs[i].host_in));
		/* x, label, bytes, bytes as text, median, min, max */
		fprintf(f, "%d \"%s\" %" PRIu64 " \"%s\" %.3f %.3f %.3f\n", i, qs[i].label,
			qs[i].host_out + qs[i].host_in, b, qs[i].seconds, qs[i].seconds_min,
			qs[i].seconds_max);
		top = qs[i].seconds_max > top ? qs[i].seconds_max : top;
	}
	fclose(f);
	human(size, sizeof(size), (double)o->size);
	snprintf(path, sizeof(path), "%s.gp", base);
	if (!(f = fopen(path, "w")))
		return;
	fprintf(f,
		"set termoption noenhanced\nset style fill solid 0.8 border -1\nset boxwidth 0.7\n"
		"set grid ytics\nset key off\nset xrange [-0.6:%d.6]\n"
		"set xtics rotate by -20 left font \",9\"\n"
		"do for [t in \"png svg\"] {\n"
		"  if (t eq \"png\") { set terminal png size 1200,520 } else { set terminal svg size 1200,520 }\n"
		"  set output sprintf(\"%s.%%s\", t)\n"
		"  set multiplot layout 1,2 title \"Counting Alpha in %s of text over loopback NVMe/TCP (%s link, "
		"%s engine, %" PRIu64 " engine thread%s, %" PRIu64 " queues x %" PRIu64 "): median of %" PRIu64
		" rounds, %s\" font \",10\"\n"
		"  set logscale y\n  set yrange [10:*]\n  set ylabel \"bytes on the link (log)\"\n"
		"  plot \"%s.dat\" using 1:3:xtic(2) with boxes lc rgb \"#3366cc\", "
		"\"\" using 1:($3 * 2):4 with labels font \",8\"\n"
		"  unset logscale y\n  set yrange [0:%.3f]\n  set ylabel \"seconds\"\n"
		"  plot \"%s.dat\" using 1:5:xtic(2) with boxes lc rgb \"#dc3912\", "
		"\"\" using 1:5:6:7 with yerrorbars lc rgb \"#333333\" pt 0, "
		"\"\" using 1:($7 + %.3f):(sprintf(\"%%.2f s\", $5)) with labels font \",8\"\n"
		"  unset multiplot\n}\n",
		n - 1, base, size, o->link_name ? o->link_name : "unshaped",
		o->engine ? o->engine : "JIT", o->engines, o->engines == 1 ? "" : "s", o->queues,
		o->depth, o->repeat, stamp, base, top * 1.15 + 0.01, base, top * 0.04 + 0.001);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>/dev/null", path);
	if (system(cmd) != 0)
		fprintf(stderr, "alpha: gnuplot failed or is missing: no chart\n");
}

/* Both programs into the drive (Load Program in 8 KiB chunks, then activation). */
static void load_programs(struct csd_dev *dev, const struct opts *o, struct query *setup)
{
	const char *progs[2] = { o->program, o->grep_program };

	for (int k = 0; k < 2; k++) {
		struct stat st;
		int ret;

		if (stat(progs[k], &st))
			die(progs[k], -errno);
		if ((ret = csd_dev__program_load_file(dev, (uint16_t)(PIND + k), progs[k], NULL)) ||
		    (ret = csd_dev__program_activate(dev, (uint16_t)(PIND + k), true)))
			die(progs[k], ret);
		setup->commands += ((uint64_t)st.st_size + 8191) / 8192 + 1;
	}
}

/* The median of n times as the query's, with the fastest and slowest beside it. */
static void spread(struct query *q, double *t, unsigned n)
{
	q->seconds = median(t, n);
	q->seconds_min = t[0];
	q->seconds_max = t[n - 1];
	q->runs = n;
}

/* Named buses, in bytes per second of payload-capable bandwidth, or a number (500M). */
static int parse_link(const char *arg, uint64_t *bps)
{
	static const struct { const char *name; uint64_t bps; } buses[] = {
		{ "pcie3x4", 3940000000ull },	/* 8 GT/s x4, 128b/130b */
		{ "25gbe", 3125000000ull },
		{ "10gbe", 1250000000ull },
		{ "1gbe", 125000000ull },
	};

	for (size_t i = 0; i < sizeof(buses) / sizeof(buses[0]); i++) {
		if (!strcmp(arg, buses[i].name)) {
			*bps = buses[i].bps;
			return 0;
		}
	}
	return csd_parse_size(arg, bps) || !*bps ? -1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: alpha [--size 1G] [--seed 1] [--rate 5] [--queues 2] [--depth 16]\n"
		   "             [--window 1M] [--out results/alpha] [--target csd-target|spdk]\n"
		   "             [--program count_alpha.bpf.o] [--link pcie3x4|25gbe|10gbe|1gbe|BYTES/s]\n"
		   "             [--direct] [--engine interp|jit] [--engines 2] [--repeat 3] [--quiet]\n"
		   "             [--transfer-only]\n"
		   "  --direct: generate the text straight into the backing file (no upload)\n"
		   "  --transfer-only: only read it all without counting, against loopback TCP\n"
		   "  --engine: what runs the programs in the drive (default: the JIT)\n"
		   "  --engines: the drive's engine threads (a stream runs on all that are idle)\n"
		   "  --repeat: rounds of the queries; the median time is reported, with the spread\n"
		   "  --target spdk: the drive inside SPDK's nvmf_tgt (csd-spdk-tgt; make spdk)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' }, { "seed", required_argument, NULL, 'S' },
		{ "rate", required_argument, NULL, 'r' }, { "queues", required_argument, NULL, 'q' },
		{ "depth", required_argument, NULL, 'd' }, { "window", required_argument, NULL, 'w' },
		{ "out", required_argument, NULL, 'o' }, { "target", required_argument, NULL, 't' },
		{ "program", required_argument, NULL, 'p' }, { "quiet", no_argument, NULL, 'Q' },
		{ "link", required_argument, NULL, 'l' }, { "direct", no_argument, NULL, 'D' },
		{ "engine", required_argument, NULL, 'e' }, { "engines", required_argument, NULL, 'E' },
		{ "repeat", required_argument, NULL, 'R' },
		{ "transfer-only", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct opts o = { .size = 1ull << 30, .seed = 1, .rate = 5, .queues = 2, .depth = 16,
			  .window = 1u << 20, .engines = 2, .repeat = 3, .out = "results/alpha", .target = CSD_TARGET_EXE,
			  .program = COUNT_ALPHA_OBJ, .grep_program = GREP_ALPHA_OBJ };
	struct query qs[5] = { { .name = "baseline (read all)", .label = "baseline" },
			       { .name = "offload (host windows)", .label = "windows" },
			       { .name = "offload (drive streams)", .label = "streaming" },
			       { .name = "grep: baseline (same read)", .label = "grep host" },
			       { .name = "grep: offload (windows)", .label = "grep offload" } };
	struct grep_state host_grep = { 0 };
	struct grep_result drive_grep = { 0 };
	struct query setup = { .name = "setup" }, up = { .name = "upload" }, overhead = { 0 };
	struct transfer xfer = { 0 };
	struct snapshot s0, s1, s2;
	double times[5][MAX_REPEAT];
	bool mismatch = false;
	char dir[64], file[96], stamp[32], base[560], err[256];
	uint64_t expected = 0;
	uint16_t port;
	struct csd_dev *dev;
	pid_t pid;
	int c, status, ret;
	time_t t = time(NULL);

	while ((c = getopt_long(argc, argv, "s:S:r:q:d:w:o:t:p:Ql:De:E:R:Th", longopts, NULL)) != -1) {
		uint64_t v = 0;

		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (strchr("sSrqdwER", c) && (csd_parse_size(optarg, &v) || (!v && c != 'S' && c != 'r'))) {
			fprintf(stderr, "alpha: '%s' is not a valid value\n", optarg);
			return 2;
		}
		switch (c) {
		case 's': o.size = v; break;
		case 'S': o.seed = v; break;
		case 'r': o.rate = v; break;
		case 'q': o.queues = v; break;
		case 'd': o.depth = v; break;
		case 'w': o.window = v; break;
		case 'E': o.engines = v; break;
		case 'R': o.repeat = v; break;
		case 'o': o.out = optarg; break;
		case 't': o.target = optarg; break;
		case 'p': o.program = optarg; break;
		case 'Q': o.quiet = true; break;
		case 'D': o.direct = true; break;
		case 'T': o.transfer_only = true; break;
		case 'e':
			if (strcmp(optarg, "interp") && strcmp(optarg, "jit")) {
				fprintf(stderr, "alpha: --engine '%s': interp or jit\n", optarg);
				return 2;
			}
			o.engine = optarg;
			break;
		case 'l':
			if (parse_link(optarg, &o.link)) {
				fprintf(stderr, "alpha: --link '%s': pcie3x4, 25gbe, 10gbe, 1gbe or "
					"bytes per second (e.g. 500M)\n", optarg);
				return 2;
			}
			o.link_name = optarg;
			break;
		default: usage(stderr); return 2;
		}
	}
	if (o.window % LBA || o.window > (16u << 20) || o.window > (64u << 20) - LBA ||
	    o.queues > 64 || o.depth > 255 || o.rate > 1000 || o.size < 4096 || o.engines > 64 ||
	    o.repeat > MAX_REPEAT) {
		fprintf(stderr, "alpha: window: whole blocks up to 16M; queues up to 64; depth up to "
			"255; rate up to 1000; size at least 4K; engines and repeat up to 64 and 20\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "/tmp/csd-alpha-XXXXXX");
	if (!mkdtemp(dir))
		die("temporary directory", -errno);
	snprintf(file, sizeof(file), "%s/nvm.img", dir);
	if (o.direct)
		generate_file(file, &o, &expected, &up);
	pid = !strcmp(o.target, "spdk") ? start_spdk_target(&o, dir, file, &port)
					: start_target(&o, file, &port);
	{
		/* one streaming Execute over 10 GB in the interpreter takes minutes: no timeout */
		CSD_OPTS(csd_connect_opts, co, .port = port, .nr_io_queues = (unsigned)o.queues,
			 .queue_size = (uint16_t)(o.depth + 1), .link_bytes_per_s = o.link,
			 .timeout_ms = CSD_NO_TIMEOUT);

		if ((ret = csd_dev__connect(&co, &dev, err, sizeof(err)))) {
			fprintf(stderr, "alpha: %s\n", err);
			kill(pid, SIGKILL);
			return 1;
		}
	}
	/* what measuring costs, to take it out of every query */
	snap(dev, &s0);
	snap(dev, &s1);
	cost(&overhead, &s0, &s1, &(struct query){ 0 });

	snap(dev, &s0);
	if (!o.direct) {
		upload(dev, &o, &expected, &up);
		if ((ret = csd_dev__flush(dev)))
			die("flush", ret);
		up.commands++;
	}
	snap(dev, &s1);
	if (!o.direct)
		cost(&up, &s0, &s1, &overhead);

	/*
	 * The queries, --repeat times in turns: each round's counts and link bytes must be the
	 * first round's; the times are kept, and the median with its spread reported.
	 */
	for (unsigned rep = 0; rep < (o.transfer_only ? 0 : o.repeat); rep++) {
		struct query r[5];
		struct grep_state hg = { 0 };
		struct grep_result dg = { 0 };

		for (int i = 0; i < 5; i++)
			r[i] = (struct query){ .name = qs[i].name, .label = qs[i].label };
		snap(dev, &s0);
		baseline(dev, &o, &r[0], &hg);
		snap(dev, &s1);
		cost(&r[0], &s0, &s1, &overhead);
		/* grep on the host needs the same read: the same bytes, its own answer */
		r[3] = (struct query){ .name = r[3].name, .label = r[3].label,
				       .count = hg.r.lines, .host_out = r[0].host_out,
				       .host_in = r[0].host_in, .target_in = r[0].target_in,
				       .target_out = r[0].target_out, .commands = r[0].commands,
				       .seconds = r[0].seconds + hg.seconds };
		if (rep == 0) {
			load_programs(dev, &o, &setup);
			snap(dev, &s2);
			cost(&setup, &s1, &s2, &overhead);
		}
		snap(dev, &s0);
		offload_windows(dev, &o, &r[1]);
		snap(dev, &s1);
		cost(&r[1], &s0, &s1, &overhead);

		snap(dev, &s0);
		offload_stream(dev, &o, &r[2]);
		snap(dev, &s1);
		cost(&r[2], &s0, &s1, &overhead);

		snap(dev, &s0);
		offload_grep(dev, &o, &r[4], &dg);
		snap(dev, &s1);
		cost(&r[4], &s0, &s1, &overhead);
		r[4].count = dg.lines;
		for (int i = 0; i < 5; i++) {
			if (rep && r[i].count != qs[i].count) {
				fprintf(stderr, "alpha: MISMATCH: %s counted %" PRIu64 " in round %u, %"
					PRIu64 " in round 1\n", r[i].name, r[i].count, rep + 1,
					qs[i].count);
				mismatch = true;
			}
			times[i][rep] = r[i].seconds;
			if (rep == 0)
				qs[i] = r[i];
		}
		if (rep == 0) {
			host_grep = hg;
			drive_grep = dg;
		}
	}
	for (int i = 0; i < 5 && !o.transfer_only; i++)
		spread(&qs[i], times[i], o.repeat);
	/*
	 * The transfer alone (at most 1 GiB of it) against what loopback TCP carries, in turns,
	 * three times each: the medians (one pass takes half a second, which this shared
	 * machine's noise moves by a third).
	 */
	transfer_check(dev, &o, pid, &xfer);
	csd_dev__disconnect(dev);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	unlink(file);
	if (!strcmp(o.target, "spdk")) {
		static const char *const left[] = { "csd-spdk-tgt.json", "csd-spdk-tgt.log",
						    "rpc.sock", "rpc.sock.lock" };
		char path[128];

		for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, left[i]);
			unlink(path);
		}
	}
	rmdir(dir);

	if (!o.quiet && !o.transfer_only)
		print_table(&o, qs, 5, &setup, &up, expected);
	if (!o.quiet && xfer.loopback_s > 0)
		printf("transfer: reading %.0f MB over NVMe/TCP without counting: %.1f MB/s, %.0f%% "
		       "of what loopback TCP carried in this run (%.1f MB/s; the medians of %d pairs "
		       "in turns, the ratio of each pair: %.0f-%.0f%%)\n", (double)xfer.bytes / 1e6,
		       (double)xfer.bytes / 1e6 / xfer.read_s, 100.0 * xfer.ratio,
		       (double)xfer.bytes / 1e6 / xfer.loopback_s, TRANSFER_PAIRS,
		       100.0 * xfer.ratio_min, 100.0 * xfer.ratio_max);
	if (!o.quiet)
		printf("transfer: CPU time of one NVMe/TCP pass (medians): the host's reading thread "
		       "%.2f s, the target %.2f s\n", xfer.host_cpu_s, xfer.target_cpu_s);
	if (o.transfer_only)
		return 0;
	if (!o.quiet)
		printf("grep: %" PRIu64 " matching lines, %" PRIu64 " bytes of them (%.3f%% of the file)"
		       " returned by the drive\n", drive_grep.lines, drive_grep.bytes,
		       100.0 * (double)drive_grep.bytes / (double)o.size);
	ret = mismatch ? 3 : 0;
	if (host_grep.r.lines != drive_grep.lines || host_grep.r.bytes != drive_grep.bytes ||
	    host_grep.r.hash != drive_grep.hash) {
		fprintf(stderr, "alpha: MISMATCH: grep on the host found %" PRIu64 " lines (%" PRIu64
			" bytes), in the drive %" PRIu64 " lines (%" PRIu64 " bytes)\n",
			host_grep.r.lines, host_grep.r.bytes, drive_grep.lines, drive_grep.bytes);
		ret = 3;
	}
	for (int i = 0; i < 5; i++) {
		if (i < 3 && qs[i].count != expected) {
			fprintf(stderr, "alpha: MISMATCH: %s counted %" PRIu64 ", the generator %" PRIu64
				"\n", qs[i].name, qs[i].count, expected);
			ret = 3;
		}
		if (qs[i].host_out != qs[i].target_in || qs[i].host_in != qs[i].target_out) {
			fprintf(stderr, "alpha: MISMATCH: %s: host and target count the link differently "
				"(%" PRIu64 "/%" PRIu64 " vs %" PRIu64 "/%" PRIu64 ")\n", qs[i].name,
				qs[i].host_out, qs[i].host_in, qs[i].target_in, qs[i].target_out);
			ret = 3;
		}
	}
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", localtime(&t));
	mkdir("results", 0755);
	mkdir(o.out, 0755);
	snprintf(base, sizeof(base), "%s/%s", o.out, stamp);
	{
		char path[700];
		FILE *f;

		snprintf(path, sizeof(path), "%s.json", base);
		if ((f = fopen(path, "w"))) {
			write_json(f, &o, qs, 5, &setup, &up, expected, stamp, &xfer);
			fclose(f);
		}
		snprintf(path, sizeof(path), "%s/latest.json", o.out);
		if ((f = fopen(path, "w"))) {
			write_json(f, &o, qs, 5, &setup, &up, expected, stamp, &xfer);
			fclose(f);
		}
		chart(base, qs, 5, &o, stamp);
		if (!o.quiet)
			printf("\nresults: %s.json (and %s/latest.json), chart: %s.png, %s.svg\n", base,
			       o.out, base, base);
	}
	return ret;
}
