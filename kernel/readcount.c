/* SPDX-License-Identifier: MIT */
/*
 * readcount: live read() counts per process, from readcount.bpf.c.
 *   readcount [--pid PID] [--duration SECONDS]      (Ctrl-C to stop)
 */
#include <errno.h>

#include "loop.h"
#include "readcount.skel.h"

struct read_count {
	unsigned long long reads;
	char comm[16];
};

static void print_top(void *arg)
{
	struct readcount_bpf *skel = arg;
	int fd = bpf_map__fd(skel->maps.counts);
	unsigned key, next, *prev = NULL;
	struct { unsigned pid; struct read_count c; } top[10] = { 0 };

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct read_count c;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &c))
			continue;
		for (int i = 0; i < 10; i++) {
			if (c.reads > top[i].c.reads) {
				memmove(&top[i + 1], &top[i], (size_t)(9 - i) * sizeof(top[0]));
				top[i].pid = key;
				top[i].c = c;
				break;
			}
		}
	}
	printf("%8s %-16s %12s\n", "PID", "COMM", "READS");
	for (int i = 0; i < 10 && top[i].c.reads; i++)
		printf("%8u %-16.16s %12llu\n", top[i].pid, top[i].c.comm, top[i].c.reads);
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned pid = 0, seconds = 0;
	struct readcount_bpf *skel;
	int err;

	if (loader_args(argc, argv, "usage: readcount [--pid PID] [--duration SECONDS]\n",
			&pid, &seconds))
		return 2;
	skel = readcount_bpf__open();
	if (!skel) {
		fprintf(stderr, "readcount: cannot open the BPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->target_tgid = pid;
	if ((err = readcount_bpf__load(skel)) || (err = readcount_bpf__attach(skel))) {
		fprintf(stderr, "readcount: cannot load or attach: %s (root and a kernel with BTF "
			"are needed)\n", strerror(-err));
		readcount_bpf__destroy(skel);
		return 1;
	}
	printf("counting read() calls%s; Ctrl-C to stop\n", pid ? " of one process" : "");
	run_loop(seconds, print_top, skel);
	readcount_bpf__destroy(skel);
	return 0;
}
