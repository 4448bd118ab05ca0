/* SPDX-License-Identifier: MIT */
/*
 * bench/corpus: the corpus of realistic drive programs (programs/corpus/) in csdlab's JIT
 * against the very same C file built for the host by gcc -O2 and by clang -O2, over the same
 * input in the same run, warm (each variant run once before timing), in turns, median of
 * --repeat rounds. JIT code runs as the drive runs it: verified, the input in a sandbox; the
 * programs built for eBPF v3 (-mcpu=v3: 32-bit jumps, ALU32) are measured too. Every result
 * must equal the host build's. Also reports how long each program took to verify.
 *
 *   corpus [--size 16M] [--repeat 5] [--only NAME] [--out results/corpus]
 *
 * Output: a table, <out>/latest.json and, when gnuplot is there, <out>/latest.png/.svg.
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "corpus.h"
#include "csd/ebpf.h"
#include "util.h"

#ifndef CORPUS_DIR
#define CORPUS_DIR "programs/corpus"
#endif
#define MAX_REPEAT	31

/* V_JIT_CALL: the JIT's code called once per run, as the other variants are */
enum variant { V_JIT, V_JIT_V3, V_GCC, V_CLANG, V_JIT_CALL, NVARIANTS };
static const char *const variant_names[] = { "JIT", "JIT (v3)", "gcc -O2", "clang -O2",
					     "JIT, a call a run" };

struct row {
	const struct corpus_prog *c;
	double verify_ms[2];		/* v1/v2 object, v3 object */
	double secs[NVARIANTS];		/* median */
	uint64_t result;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * `calls` runs of variant v, timed together (*secs: per run); false (with a message) on a
 * fault. A program that reads only a header takes nanoseconds: it runs many times, the JIT's
 * as one call with that many repeats (csd_ebpf_run_opts.repeat, as BPF_PROG_TEST_RUN's:
 * the runs without a call's setup each), and as that many calls (V_JIT_CALL).
 */
static bool run_once(struct row *r, enum variant v, struct csd_ebpf_prog *const *progs,
		     corpus_native_fn const *natives, uint8_t *box, size_t len, unsigned calls,
		     double *secs, uint64_t *res)
{
	double t0 = now();

	bool repeats = v == V_JIT || v == V_JIT_V3;

	for (unsigned k = 0; k < (repeats ? 1 : calls); k++) {
		if (v != V_GCC && v != V_CLANG) {
			CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts, .engine = CSD_EBPF_ENGINE_JIT,
				      .budget = UINT64_C(1) << 50, .mem_readonly = true,
				      .args = { r->c->p1, r->c->p2 }, .repeat = repeats ? calls : 1);

			if (csd_ebpf_prog__run(progs[v == V_JIT_V3], box, len, &ropts, res)) {
				fprintf(stderr, "corpus: %s (%s): %s\n", r->c->name,
					variant_names[v], ropts.fault.msg);
				return false;
			}
		} else {
			*res = natives[v == V_CLANG](box, len, r->c->p1, r->c->p2);
		}
	}
	*secs = (now() - t0) / calls;
	return true;
}

static int bench_one(struct row *r, size_t size, int repeat)
{
	static const char *const suffixes[2] = { ".bpf.o", ".v3.bpf.o" };
	static const char *const compilers[2] = { "gcc", "clang" };
	char log[1024];
	uint64_t steps;
	struct csd_ebpf_prog *progs[2] = { NULL, NULL };
	corpus_native_fn natives[2] = { NULL, NULL };
	void *libs[2] = { NULL, NULL };
	double t[NVARIANTS][MAX_REPEAT];
	unsigned calls[NVARIANTS] = { 1, 1, 1, 1, 1 };
	uint8_t *box = NULL;
	int rc = 1;

	for (int i = 0; i < 2; i++) {
		progs[i] = corpus_load(CORPUS_DIR, r->c->name, suffixes[i], &steps,
				       &r->verify_ms[i], log, sizeof(log));
		if (progs[i])
			natives[i] = corpus_native(CORPUS_DIR, r->c->name, compilers[i], &libs[i],
						   log, sizeof(log));
		if (!progs[i] || !natives[i]) {
			fprintf(stderr, "corpus: %s\n", log);
			goto out;
		}
	}
	box = csd_ebpf_sandbox_alloc(size);
	if (!box) {
		fprintf(stderr, "corpus: no sandbox of %zu bytes\n", size);
		goto out;
	}
	corpus_gen(r->c->input, 1, box, size);
	/*
	 * a warm-up round (JIT compilation, page faults, caches), one that times a call to
	 * know how many make 5 ms, then the rounds in turns
	 */
	for (int round = -2; round < repeat; round++)
		for (int v = 0; v < NVARIANTS; v++) {
			double secs;
			uint64_t res;

			if (!run_once(r, (enum variant)v, progs, natives, box, size,
				      round < 0 ? 1 : calls[v], &secs, &res))
				goto out;
			if (round == -1)	/* enough calls for 5 ms a round */
				calls[v] = secs >= 5e-3 ? 1 : secs < 5e-8 ? 100000 :
					   (unsigned)(5e-3 / secs) + 1;
			if (round == -2 && v == 0)
				r->result = res;
			else if (res != r->result && !r->c->keeps_state) {	/* each call's */
				fprintf(stderr, "corpus: %s: %s computed %#" PRIx64 ", JIT %#" PRIx64
					"\n", r->c->name, variant_names[v], res, r->result);
				goto out;
			}
			if (round >= 0)
				t[v][round] = secs;
		}
	for (int v = 0; v < NVARIANTS; v++) {
		qsort(t[v], (size_t)repeat, sizeof(double), cmp_double);
		r->secs[v] = t[v][repeat / 2];
	}
	rc = 0;
out:
	csd_ebpf_sandbox_free(box);
	for (int i = 0; i < 2; i++) {
		csd_ebpf_prog__free(progs[i]);
		if (libs[i])
			dlclose(libs[i]);
	}
	return rc;
}

static double ratio(const struct row *r, enum variant jit)
{
	double best = r->secs[V_GCC] < r->secs[V_CLANG] ? r->secs[V_GCC] : r->secs[V_CLANG];

	return best / r->secs[jit];
}

static double median(double *x, size_t n)
{
	qsort(x, n, sizeof(*x), cmp_double);
	return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

static void write_json(const char *path, const struct row *rows, size_t n, size_t size,
		       int repeat)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "corpus: %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "{\n  \"size\": %zu,\n  \"repeat\": %d,\n  \"programs\": [\n", size, repeat);
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];

		fprintf(f, "    {\"name\": \"%s\", \"input\": \"%s\", \"verify_ms\": %.2f, "
			"\"verify_v3_ms\": %.2f, \"jit_s\": %.9f, \"jit_v3_s\": %.9f, "
			"\"gcc_s\": %.9f, \"clang_s\": %.9f, \"jit_call_s\": %.9f, "
			"\"jit_vs_native\": %.3f, \"jit_v3_vs_native\": %.3f, "
			"\"jit_call_vs_native\": %.3f, \"result\": %" PRIu64 "}%s\n",
			r->c->name, corpus_input_name(r->c->input), r->verify_ms[0],
			r->verify_ms[1], r->secs[V_JIT], r->secs[V_JIT_V3], r->secs[V_GCC],
			r->secs[V_CLANG], r->secs[V_JIT_CALL], ratio(r, V_JIT),
			ratio(r, V_JIT_V3), ratio(r, V_JIT_CALL), r->result, i + 1 < n ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	fclose(f);
}

static void chart(const char *out, const struct row *rows, size_t n, size_t size)
{
	char dat[1024], cmd[4096];
	FILE *f;

	snprintf(dat, sizeof(dat), "%s/latest.dat", out);
	f = fopen(dat, "w");
	if (!f)
		return;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s %.3f %.3f\n", rows[i].c->name, ratio(&rows[i], V_JIT),
			ratio(&rows[i], V_JIT_V3));
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "gnuplot -e '"
		 "do for [t in \"png svg\"] {"
		 " if (t eq \"png\") { set terminal png size 1300,560 } else { set terminal svg size 1300,560 };"
		 " set output \"%s/latest.\".t;"
		 " set title \"csdlab JIT vs the same C built for the host (faster of gcc -O2 and clang -O2), %zu MiB input, median\";"
		 " set style data histograms; set style histogram clustered gap 1; set style fill solid 0.8;"
		 " set xtics rotate by -50 noenhanced; set ylabel \"speed relative to native (1 = as fast)\";"
		 " set logscale y; set yrange [0.1:20]; set ytics (0.1, 0.2, 0.5, 0.9, 2, 5, 10, 20);"
		 " set grid ytics; set key top center;"
		 " set arrow from graph 0, first 0.9 to graph 1, first 0.9 nohead dt 2 lc rgb \"red\";"
		 " plot \"%s\" using 2:xtic(1) title \"JIT\", \"\" using 3 title \"JIT, -mcpu=v3\" }'"
		 " 2>/dev/null",
		 out, size >> 20, dat);
	if (system(cmd))
		fprintf(stderr, "corpus: gnuplot failed or is missing: no chart\n");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: corpus [--size 16M] [--repeat 5] [--only NAME] [--out results/corpus]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "only", required_argument, NULL, 'o' },
		{ "out", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size = 16u << 20, repeat = 5;
	const char *only = NULL, *out = "results/corpus";
	struct row *rows;
	double r1[64], r3[64], vmax = 0;
	size_t n = 0;
	char path[1024];
	int c;

	while ((c = getopt_long(argc, argv, "s:r:o:O:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (csd_parse_size(optarg, &size) || size < 4096 || size > (3ull << 30)) {
				fprintf(stderr, "corpus: --size '%s': 4K to 3G expected\n", optarg);
				return 2;
			}
			break;
		case 'r':
			if (csd_parse_u64(optarg, &repeat) || !repeat || repeat > MAX_REPEAT) {
				fprintf(stderr, "corpus: --repeat '%s': 1 to %d expected\n", optarg,
					MAX_REPEAT);
				return 2;
			}
			break;
		case 'o': only = optarg; break;
		case 'O': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!csd_ebpf_jit_available()) {
		fprintf(stderr, "corpus: this machine has no JIT\n");
		return 1;
	}
	rows = calloc(corpus_prog_cnt, sizeof(*rows));
	if (!rows)
		return 1;
	printf("%-18s %-7s %9s %10s %10s %10s %10s %7s %7s %7s\n", "program", "input", "verify",
	       "JIT", "JIT v3", "gcc", "clang", "JIT/nat", "v3/nat", "call/nat");
	for (size_t i = 0; i < corpus_prog_cnt; i++) {
		struct row *r = &rows[n];

		if (only && strcmp(only, corpus_progs[i].name))
			continue;
		r->c = &corpus_progs[i];
		if (bench_one(r, (size_t)size, (int)repeat))
			return 1;
		printf("%-18s %-7s %6.1f ms", r->c->name, corpus_input_name(r->c->input),
		       r->verify_ms[0]);
		for (int v = V_JIT; v <= V_CLANG; v++)
			printf(r->secs[v] < 1e-5 ? " %7.1f ns" : " %7.3f ms",
			       r->secs[v] * (r->secs[v] < 1e-5 ? 1e9 : 1e3));
		printf(" %6.2fx %6.2fx %6.2fx\n", ratio(r, V_JIT), ratio(r, V_JIT_V3),
		       ratio(r, V_JIT_CALL));
		fflush(stdout);
		r1[n] = ratio(r, V_JIT);
		r3[n] = ratio(r, V_JIT_V3);
		if (r->verify_ms[0] > vmax)
			vmax = r->verify_ms[0];
		n++;
	}
	if (!n) {
		fprintf(stderr, "corpus: no program named %s\n", only);
		return 2;
	}
	{
		double lo1 = r1[0], lo3 = r3[0];

		for (size_t i = 1; i < n; i++) {
			lo1 = r1[i] < lo1 ? r1[i] : lo1;
			lo3 = r3[i] < lo3 ? r3[i] : lo3;
		}
		printf("\n%zu programs, %" PRIu64 " MiB each, median of %" PRIu64 ": JIT/native median "
		       "%.2fx (lowest %.2fx), -mcpu=v3 median %.2fx (lowest %.2fx); the slowest "
		       "verification %.1f ms\n", n, size >> 20, repeat, median(r1, n), lo1,
		       median(r3, n), lo3, vmax);
	}
	mkdir("results", 0755);
	if (mkdir(out, 0755) && errno != EEXIST) {
		fprintf(stderr, "corpus: %s: %s\n", out, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/latest.json", out);
	write_json(path, rows, n, (size_t)size, (int)repeat);
	chart(out, rows, n, (size_t)size);
	printf("results: %s (and latest.png, latest.svg)\n", path);
	free(rows);
	return 0;
}
