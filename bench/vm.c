/* SPDX-License-Identifier: MIT */
/*
 * bench/vm: count_alpha over the same generated text in csdlab's interpreter and in the same
 * loop written in C (compiled -O2 in this binary), each run several times, best time kept.
 * Both counts must equal the generator's. Prints MB/s for each and interpreter/native.
 *
 * usage: vm [count_alpha.bpf.o] [SIZE] [REPEATS]     (defaults: the built program, 256M, 3)
 */
#include <errno.h>
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

int main(int argc, char **argv)
{
	const char *obj_path = argc > 1 ? argv[1] : COUNT_ALPHA_OBJ;
	uint64_t size = 256ull << 20, repeats = 3, expected = 0, insns = 0;
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts);
	double best_vm = 1e30, best_native = 1e30;
	struct csd_ebpf_prog *prog;
	struct csd_progress bar;
	struct csd_textgen g;
	char log[512] = "";
	uint8_t *obj, *buf;
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
	lopts.log_buf = log;
	lopts.log_size = sizeof(log);
	if (csd_ebpf_prog__load_elf(obj, obj_len, "count_alpha", &lopts, &prog)) {
		fprintf(stderr, "vm: %s: %s\n", obj_path, log);
		return 1;
	}
	free(obj);
	buf = malloc(size);
	if (!buf) {
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

	for (uint64_t r = 0; r < repeats; r++) {
		CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts, .budget = UINT64_MAX, .mem_readonly = true);
		uint64_t vm_count, native_count;
		double t0, t1, t2;

		t0 = now();
		native_count = count_alpha_native(buf, size);
		t1 = now();
		if (csd_ebpf_prog__run(prog, buf, size, &ropts, &vm_count)) {
			fprintf(stderr, "vm: run failed: %s\n", ropts.fault.msg);
			return 1;
		}
		t2 = now();
		if (native_count != expected || vm_count != expected) {
			fprintf(stderr, "vm: counts differ: generator %" PRIu64 ", native %" PRIu64
				", interpreter %" PRIu64 "\n", expected, native_count, vm_count);
			return 1;
		}
		best_native = t1 - t0 < best_native ? t1 - t0 : best_native;
		best_vm = t2 - t1 < best_vm ? t2 - t1 : best_vm;
		insns = ropts.insns_executed;
	}
	printf("count_alpha over %" PRIu64 " MiB of generated text, best of %" PRIu64 " runs\n",
	       size >> 20, repeats);
	printf("  \"Alpha\" count        %" PRIu64 " (generator, native C and interpreter agree)\n",
	       expected);
	printf("  native C (-O2)       %8.1f MB/s\n", (double)size / 1e6 / best_native);
	printf("  csdlab interpreter   %8.1f MB/s   (%.2f instructions/byte, %.0f M insns/s)\n",
	       (double)size / 1e6 / best_vm, (double)insns / (double)size,
	       (double)insns / 1e6 / best_vm);
	printf("  interpreter/native   1/%.1f\n", best_vm / best_native);
	csd_ebpf_prog__free(prog);
	free(buf);
	return 0;
}
