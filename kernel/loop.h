/* SPDX-License-Identifier: MIT */
/* Shared by the loaders: run until Ctrl-C (or --duration), printing every second. */
#ifndef CSD_KERNEL_LOOP_H
#define CSD_KERNEL_LOOP_H

#include <bpf/bpf.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Call print() every second until Ctrl-C/SIGTERM or `seconds` (0: forever) have passed. */
static inline void run_loop(unsigned seconds, void (*print)(void *), void *arg)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (unsigned t = 0; !stop_requested && (!seconds || t < seconds); t++) {
		sleep(1);
		print(arg);
	}
}

/* --pid N and --duration N, the options every loader takes; -1 on a bad one. */
static inline int loader_args(int argc, char **argv, const char *usage, unsigned *pid,
			      unsigned *seconds)
{
	for (int i = 1; i < argc; i += 2) {
		char *end;
		unsigned long v;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("%s", usage);
			exit(0);
		}
		if (i + 1 >= argc || (strcmp(argv[i], "--pid") && strcmp(argv[i], "--duration"))) {
			fprintf(stderr, "%s", usage);
			return -1;
		}
		v = strtoul(argv[i + 1], &end, 10);
		if (*end || !argv[i + 1][0] || v > 0xffffffffu) {
			fprintf(stderr, "%s: '%s' is not a number\n", argv[i], argv[i + 1]);
			return -1;
		}
		if (!strcmp(argv[i], "--pid"))
			*pid = (unsigned)v;
		else
			*seconds = (unsigned)v;
	}
	return 0;
}

#endif
