/* SPDX-License-Identifier: MIT */
/*
 * csd-soundness: the verifier's soundness fuzzer. Generates programs (soundgen.c), has the
 * verifier judge each, and runs every accepted one through the differential oracle (oracle.c).
 *
 *   csd-soundness [-n PROGRAMS] [-s FIRST_SEED] [-j THREADS] [-o DIR] [--tap]
 *   csd-soundness --replay FILE...     programs saved as raw instructions (.bin)
 *
 * Prints how many programs were generated, loaded, accepted and found unsound; each unsound
 * one is printed (seed, reason, listing) and, with -o, saved as DIR/sound-SEED.bin for the
 * regression corpus (fuzz/corpus/sound/). Exits 1 when any was unsound.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oracle.h"
#include "soundgen.h"
#include "util/util.h"

struct run {
	uint64_t first, count;
	unsigned threads;
	const char *out_dir;
	atomic_uint_fast64_t next, done, loaded, accepted, faults, leaks, differ;
	pthread_mutex_t print_lock;
	struct csd_progress progress;
};

/* Ctrl-C or SIGTERM: stop taking new programs, and report those judged. */
static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static void print_listing(const struct csd_ebpf_insn *insns, size_t cnt)
{
	char line[128];

	for (size_t pc = 0; pc < cnt; pc++) {
		int n = csd_ebpf_disasm_insn(&insns[pc], cnt - pc, line, sizeof(line));

		printf("#   %3zu: %s\n", pc, line);
		if (n == 2)
			pc++;
	}
}

static void save(const char *dir, const char *name, const struct csd_ebpf_insn *insns, size_t cnt)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(insns, sizeof(*insns), cnt, f) != cnt)
		fprintf(stderr, "csd-soundness: cannot write %s: %s\n", path, strerror(errno));
	if (f)
		fclose(f);
}

static void report(struct run *r, const char *what, const struct csd_ebpf_insn *insns, size_t cnt,
		   const struct oracle_report *rep)
{
	pthread_mutex_lock(&r->print_lock);
	printf("# UNSOUND %s: %s\n", what, rep->msg);
	print_listing(insns, cnt);
	fflush(stdout);
	pthread_mutex_unlock(&r->print_lock);
}

static void count(struct run *r, enum oracle_verdict v)
{
	if (v != ORACLE_NOT_LOADED)
		atomic_fetch_add(&r->loaded, 1);
	if (v >= ORACLE_SOUND)
		atomic_fetch_add(&r->accepted, 1);
	if (v == ORACLE_FAULT)
		atomic_fetch_add(&r->faults, 1);
	if (v == ORACLE_LEAK)
		atomic_fetch_add(&r->leaks, 1);
	if (v == ORACLE_ENGINES_DIFFER)
		atomic_fetch_add(&r->differ, 1);
}

static void *worker(void *arg)
{
	struct run *r = arg;
	struct oracle *o = oracle_new();
	struct soundgen_prog *p = malloc(sizeof(*p));
	struct oracle_report rep;

	if (!o || !p) {
		fprintf(stderr, "csd-soundness: out of memory\n");
		exit(2);
	}
	for (;;) {
		uint64_t i = atomic_fetch_add(&r->next, 1), seed, done;
		enum oracle_verdict v;

		if (i >= r->count || stopping)
			break;
		seed = r->first + i;
		soundgen_generate(seed, p);
		v = p->cnt ? oracle_judge(o, p->insns, p->cnt, p->consts, p->nconsts, seed, &rep) :
		    ORACLE_NOT_LOADED;
		count(r, v);
		if (v >= ORACLE_FAULT) {
			char what[64];

			snprintf(what, sizeof(what), "seed %llu", (unsigned long long)seed);
			report(r, what, p->insns, p->cnt, &rep);
			if (r->out_dir) {
				snprintf(what, sizeof(what), "sound-%llu", (unsigned long long)seed);
				save(r->out_dir, what, p->insns, p->cnt);
			}
		}
		done = atomic_fetch_add(&r->done, 1) + 1;
		if (done % 1024 == 0) {
			pthread_mutex_lock(&r->print_lock);
			csd_progress_update(&r->progress, done);
			pthread_mutex_unlock(&r->print_lock);
		}
	}
	oracle_free(o);
	free(p);
	return NULL;
}

/* Judge saved programs: each must be refused, or accepted and sound. */
static int replay(char **files, int n, bool tap)
{
	struct oracle *o = oracle_new();
	struct csd_ebpf_insn insns[4096];
	int64_t consts[64];
	size_t nconsts;
	int bad = 0;

	if (!o)
		return 2;
	for (int i = 0; i < n; i++) {
		struct oracle_report rep;
		FILE *f = fopen(files[i], "rb");
		size_t cnt;
		enum oracle_verdict v;
		static const char *const names[] = { "not loaded", "refused", "accepted and sound",
						     "UNSOUND (fault)", "UNSOUND (leak)",
						     "WRONG (the JIT differs)" };

		if (!f) {
			printf("%s %d - %s: %s\n", tap ? "not ok" : "#", i + 1, files[i], strerror(errno));
			bad++;
			continue;
		}
		cnt = fread(insns, sizeof(insns[0]), 4096, f);
		fclose(f);
		/* the lengths tried are around the program's own constants, as when it was found */
		nconsts = 0;
		for (size_t pc = 0; pc < cnt && nconsts < 64; pc++) {
			consts[nconsts++] = insns[pc].imm;
			if (nconsts < 64)
				consts[nconsts++] = (uint32_t)insns[pc].imm;
		}
		v = oracle_judge(o, insns, cnt, consts, nconsts, (uint64_t)i, &rep);
		if (v >= ORACLE_FAULT)
			bad++;
		if (tap)
			printf("%s %d - %s: %s\n", v >= ORACLE_FAULT ? "not ok" : "ok", i + 1,
			       strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i], names[v]);
		else
			printf("%s: %s%s%s\n", files[i], names[v], rep.msg[0] ? ": " : "", rep.msg);
		if (v >= ORACLE_FAULT)
			print_listing(insns, cnt);
	}
	if (tap)
		printf("1..%d\n", n);
	oracle_free(o);
	return bad ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: csd-soundness [-n PROGRAMS] [-s FIRST_SEED] [-j THREADS] [-o DIR] [--tap]\n"
		   "       csd-soundness --replay FILE...\n"
		   "  Generates PROGRAMS programs (default 100000) from consecutive seeds, has the\n"
		   "  verifier judge each and runs every accepted one, checked, over many input\n"
		   "  lengths and at two sets of addresses. Any fault or address-dependent result\n"
		   "  is a hole in the verifier: printed, saved to DIR with -o, exit status 1.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "replay", no_argument, NULL, 'r' },
		{ "tap", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct run r = { .count = 100000, .first = 1, .threads = 0 };
	bool do_replay = false, tap = false;
	pthread_t tids[64];
	int c;

	while ((c = getopt_long(argc, argv, "n:s:j:o:h", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'n':
		case 's':
		case 'j': {
			unsigned long long val = strtoull(optarg, &end, 0);

			if (*end || end == optarg) {
				fprintf(stderr, "csd-soundness: -%c '%s' is not a number\n", c, optarg);
				return 2;
			}
			if (c == 'n')
				r.count = val;
			else if (c == 's')
				r.first = val;
			else if (val < 1 || val > 64) {
				fprintf(stderr, "csd-soundness: -j takes 1 to 64 threads\n");
				return 2;
			} else
				r.threads = (unsigned)val;
			break;
		}
		case 'o':
			r.out_dir = optarg;
			if (mkdir(optarg, 0755) && errno != EEXIST) {
				fprintf(stderr, "csd-soundness: cannot create %s: %s\n", optarg,
					strerror(errno));
				return 2;
			}
			break;
		case 'r':
			do_replay = true;
			break;
		case 't':
			tap = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/*
	 * Programs, maps and states come and go by the million: without this glibc gives memory
	 * back after each (madvise) and takes page faults to get it again, half the run's time.
	 */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	if (do_replay)
		return replay(argv + optind, argc - optind, tap);
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!r.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		r.threads = n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
	}
	pthread_mutex_init(&r.print_lock, NULL);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	csd_progress_start(&r.progress, "programs", r.count);
	for (unsigned t = 0; t < r.threads; t++)
		if (pthread_create(&tids[t], NULL, worker, &r)) {
			fprintf(stderr, "csd-soundness: cannot start a thread\n");
			return 2;
		}
	for (unsigned t = 0; t < r.threads; t++)
		pthread_join(tids[t], NULL);
	csd_progress_end(&r.progress);
	{
		uint64_t unsound = r.faults + r.leaks, bad = unsound + r.differ;

		if (stopping)
			r.count = r.done;	/* what was judged before the signal */
		if (tap)
			printf("%s 1 - seeds %llu..%llu: ", bad ? "not ok" : "ok",
			       (unsigned long long)r.first,
			       (unsigned long long)(r.first + r.count - 1));
		printf("%llu programs generated, %llu loaded, %llu accepted by the verifier, "
		       "%llu unsound (%llu faulted, %llu leaked an address), %llu run differently "
		       "by the JIT\n",
		       (unsigned long long)r.count, (unsigned long long)r.loaded,
		       (unsigned long long)r.accepted, (unsigned long long)unsound,
		       (unsigned long long)r.faults, (unsigned long long)r.leaks,
		       (unsigned long long)r.differ);
		if (tap)
			printf("1..1\n");
		return bad ? 1 : 0;
	}
}
