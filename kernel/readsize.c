/* SPDX-License-Identifier: MIT */
/*
 * readsize: a log2 histogram of read() sizes, from readsize.bpf.c, printed as bars.
 *   readsize [--pid PID] [--duration SECONDS]       (Ctrl-C to stop)
 */
#include <errno.h>

#include "loop.h"
#include "readsize.skel.h"

static void print_hist(void *arg)
{
	struct readsize_bpf *skel = arg;
	int fd = bpf_map__fd(skel->maps.hist);
	unsigned long long v[32], max = 0;
	int last = -1;

	for (unsigned k = 0; k < 32; k++) {
		if (bpf_map_lookup_elem(fd, &k, &v[k]))
			v[k] = 0;
		if (v[k]) {
			last = (int)k;
			max = v[k] > max ? v[k] : max;
		}
	}
	printf("%22s : %-10s |%-40s|\n", "bytes", "count", "distribution");
	for (int k = 0; k <= last; k++) {
		int bars = max ? (int)(v[k] * 40 / max) : 0;
		char bar[41];

		memset(bar, '*', (size_t)bars);
		bar[bars] = '\0';
		printf("%10llu -> %-9llu : %-10llu |%-40s|\n", k ? 1ull << k : 0ull,
		       (1ull << (k + 1)) - 1, v[k], bar);
	}
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned pid = 0, seconds = 0;
	struct readsize_bpf *skel;
	int err;

	if (loader_args(argc, argv, "usage: readsize [--pid PID] [--duration SECONDS]\n", &pid,
			&seconds))
		return 2;
	skel = readsize_bpf__open();
	if (!skel) {
		fprintf(stderr, "readsize: cannot open the BPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->target_tgid = pid;
	if ((err = readsize_bpf__load(skel)) || (err = readsize_bpf__attach(skel))) {
		fprintf(stderr, "readsize: cannot load or attach: %s (root and a kernel with BTF "
			"are needed)\n", strerror(-err));
		readsize_bpf__destroy(skel);
		return 1;
	}
	printf("histogram of read() sizes; Ctrl-C to stop\n");
	run_loop(seconds, print_hist, skel);
	readsize_bpf__destroy(skel);
	return 0;
}
