/* SPDX-License-Identifier: MIT */
/*
 * bench/vm: count_alpha over the same generated text in csdlab's interpreter and in the same
 * loop written in C (compiled -O2 in this binary), each run several times, best time kept.
 * Every count must equal the generator's. Prints MB/s for each engine and its ratio to native C
 * (the interpreter with its per-access checks, and the same program once the verifier proved it).
 *
 * JIT code for a verified program runs sandboxed when its input is in a sandbox, as the drive
 * allocates it, and guarded (a check per access) over ordinary memory: both are measured.
 *
 * usage: vm [count_alpha.bpf.o] [SIZE] [REPEATS]     (defaults: the built program, 256M, 3; SIZE < 4G)
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csd/ebpf.h"
#include "csd/textgen.h"
#include "util.h"

#ifndef COUNT_ALPHA_OBJ
#define COUNT_ALPHA_OBJ "programs/count_alpha.bpf.o"
#endif

/* The same loop as programs/count_alpha.bpf.c. */
__attribute__((noinline)) static uint64_t count_alpha_native(const uint8_t *data, uint64_t len)
{
	uint64_t count = 0;

	if (len < 5)
		return 0;
	for (uint64_t i = 0; i <= len - 5; i++) {
		if (data[i] != 'A')
			continue;
		if (data[i + 1] == 'l' && data[i + 2] == 'p' && data[i + 3] == 'h' &&
		    data[i + 4] == 'a')
			count++;
	}
	return count;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One way of running the program: a loaded object and its best time. */
struct engine {
	const char *name;
	enum csd_ebpf_engine engine;
	bool verify;
	bool plain;		/* the input in ordinary memory, not in a sandbox */
	struct csd_ebpf_prog *prog;
	double best;
};

static int load(const uint8_t *obj, size_t obj_len, bool verify, struct csd_ebpf_prog **prog)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts);
	CSD_EBPF_OPTS(csd_ebpf_verify_opts, vopts);
	char log[512] = "";

	lopts.log_buf = vopts.log_buf = log;
	lopts.log_size = vopts.log_size = sizeof(log);
	if (csd_ebpf_prog__load_elf(obj, obj_len, "count_alpha", &lopts, prog) ||
	    (verify && csd_ebpf_prog__verify(*prog, &vopts))) {
		fprintf(stderr, "vm: count_alpha: %s\n", log);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *obj_path = argc > 1 ? argv[1] : COUNT_ALPHA_OBJ;
	uint64_t size = 256ull << 20, repeats = 3, expected = 0;
	struct engine engines[] = {
		{ "interpreter, checked", CSD_EBPF_ENGINE_INTERP, false, false, NULL, 1e30 },
		{ "interpreter, verified", CSD_EBPF_ENGINE_INTERP, true, false, NULL, 1e30 },
		{ "JIT, checked", CSD_EBPF_ENGINE_JIT, false, false, NULL, 1e30 },
		{ "JIT, verified, sandbox", CSD_EBPF_ENGINE_JIT, true, false, NULL, 1e30 },
		{ "JIT, verified, guarded", CSD_EBPF_ENGINE_JIT, true, true, NULL, 1e30 },
	};
	const size_t nengines = csd_ebpf_jit_available() ? sizeof(engines) / sizeof(engines[0]) : 2;
	double best_native = 1e30;
	struct csd_progress bar;
	struct csd_textgen g;
	uint8_t *obj, *buf, *plain;
	size_t obj_len;

	if ((argc > 2 && (csd_parse_size(argv[2], &size) || size < 16)) ||
	    (argc > 3 && (csd_parse_u64(argv[3], &repeats) || !repeats))) {
		fprintf(stderr, "usage: %s [count_alpha.bpf.o] [SIZE] [REPEATS]\n", argv[0]);
		return 2;
	}
	if (csd_read_file(obj_path, &obj, &obj_len)) {
		fprintf(stderr, "vm: %s: %s\n", obj_path, strerror(errno));
		return 1;
	}
	for (size_t e = 0; e < nengines; e++)
		if (load(obj, obj_len, engines[e].verify, &engines[e].prog))
			return 1;
	free(obj);
	/* the drive's way: program input in a sandbox (csd_ebpf_sandbox_alloc); a copy outside */
	buf = size <= (UINT64_C(1) << 32) - (UINT64_C(1) << 16) ? csd_ebpf_sandbox_alloc(size) : NULL;
	plain = malloc(size);
	if (!buf || !plain) {
		fprintf(stderr, "vm: cannot allocate %" PRIu64 " bytes\n", size);
		return 1;
	}
	csd_textgen_init(&g, 1, 5);
	csd_progress_start(&bar, "generating text", size);
	for (uint64_t off = 0; off < size; off += 16u << 20) {
		uint64_t n = size - off < (16u << 20) ? size - off : (16u << 20);

		expected += csd_textgen_fill(&g, buf + off, n);
		csd_progress_update(&bar, off + n);
	}
	csd_progress_end(&bar);
	memcpy(plain, buf, size);

	for (uint64_t r = 0; r < repeats; r++) {
		uint64_t native_count;
		double t0 = now();

		native_count = count_alpha_native(buf, size);
		t0 = now() - t0;
		best_native = t0 < best_native ? t0 : best_native;
		if (native_count != expected) {
			fprintf(stderr, "vm: native C counts %" PRIu64 ", the generator %" PRIu64 "\n",
				native_count, expected);
			return 1;
		}
		for (size_t e = 0; e < nengines; e++) {
			CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts, .budget = UINT64_MAX,
				      .mem_readonly = true, .engine = engines[e].engine);
			uint64_t count = 0;
			double t = now();

			if (csd_ebpf_prog__run(engines[e].prog, engines[e].plain ? plain : buf, size,
					       &ropts, &count)) {
				fprintf(stderr, "vm: %s: run failed: %s\n", engines[e].name,
					ropts.fault.msg);
				return 1;
			}
			t = now() - t;
			if (count != expected) {
				fprintf(stderr, "vm: %s counts %" PRIu64 ", the generator %" PRIu64 "\n",
					engines[e].name, count, expected);
				return 1;
			}
			engines[e].best = t < engines[e].best ? t : engines[e].best;
		}
	}
	printf("count_alpha over %" PRIu64 " MiB of generated text, best of %" PRIu64 " runs\n",
	       size >> 20, repeats);
	printf("  \"Alpha\" count          %" PRIu64 " (the generator's; every engine agrees)\n",
	       expected);
	printf("  native C (-O2)         %8.1f MB/s\n", (double)size / 1e6 / best_native);
	for (size_t e = 0; e < nengines; e++) {
		printf("  %-22s %8.1f MB/s   %.3f x native\n", engines[e].name,
		       (double)size / 1e6 / engines[e].best, best_native / engines[e].best);
		csd_ebpf_prog__free(engines[e].prog);
	}
	csd_ebpf_sandbox_free(buf);
	free(plain);
	return 0;
}
