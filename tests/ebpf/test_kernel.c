/* SPDX-License-Identifier: MIT */
/*
 * Cross-check against the Linux kernel: conformance programs that take no input memory are
 * loaded into the kernel (as socket filters, through libbpf) and run with BPF_PROG_TEST_RUN;
 * the low 32 bits of r0 (all that TEST_RUN returns) must equal csdlab's. The kernel's
 * verifier refuses some programs csdlab runs (reads of r1/r2 as numbers, callx, calls to
 * helper 5 from a filter, ...): those are counted and listed, not compared.
 * Needs root and the bpf() syscall; otherwise the whole test is skipped with the reason.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "conformance_runner.h"
#include "util.h"

static int silent(enum libbpf_print_level l, const char *f, va_list ap)
{
	(void)l, (void)f, (void)ap;
	return 0;
}

/* -errno of loading a trivial program, 0 when the kernel runs BPF for us */
static int kernel_bpf_usable(void)
{
	const struct bpf_insn prog[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 },
		{ .code = 0x95 },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL", prog, 2, NULL);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	char dir[4096], vlog[4096];
	struct dirent **list;
	int n, err, tap = 0, compared = 0, refused = 0, failed = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s BPF_CONFORMANCE_DIR\n", argv[0]);
		return 2;
	}
	libbpf_set_print(silent);
	if (geteuid() != 0) {
		printf("1..0 # SKIP skipped: needs root for the bpf() syscall\n");
		return 0;
	}
	if ((err = kernel_bpf_usable())) {
		printf("1..0 # SKIP skipped: the kernel refuses BPF programs here (%s)\n",
		       strerror(-err));
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/tests", argv[1]);
	n = scandir(dir, &list, NULL, by_name);
	if (n < 0) {
		printf("Bail out! cannot open %s\n", dir);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct conf_outcome o;
		char path[4400];
		uint8_t *text, pkt[64] = { 0 };
		size_t len;
		int fd;
		LIBBPF_OPTS(bpf_prog_load_opts, lopts, .log_buf = vlog, .log_size = sizeof(vlog),
			    .log_level = 0);
		LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = 1);

		if (!strstr(list[i]->d_name, ".data"))
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		if (csd_read_file(path, &text, &len))
			goto next;
		conf_run_text((const char *)text, false, &o);
		free(text);
		if (o.stage != CONF_OK || o.mem || o.has_error) {
			conf_outcome_free(&o);
			goto next;
		}
		vlog[0] = '\0';
		fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL",
				   (const struct bpf_insn *)o.insns, o.insn_cnt, &lopts);
		if (fd < 0) {
			const char *why = "(no verifier message)";

			refused++;
			/* the verifier's last line before its statistics says why */
			for (char *line = strtok(vlog, "\n"); line; line = strtok(NULL, "\n"))
				if (strncmp(line, "processed ", 10) && strncmp(line, "verification", 12))
					why = line;
			printf("# kernel refused %s: %s\n", list[i]->d_name, why);
			conf_outcome_free(&o);
			goto next;
		}
		err = bpf_prog_test_run_opts(fd, &topts);
		close(fd);
		tap++;
		compared++;
		if (err || topts.retval != (uint32_t)o.r0) {
			failed++;
			printf("not ok %d - %s # kernel r0=0x%x (err %d), csdlab r0=0x%llx\n", tap,
			       list[i]->d_name, topts.retval, err, (unsigned long long)o.r0);
		} else {
			printf("ok %d - %s: kernel and csdlab agree (0x%x)\n", tap, list[i]->d_name,
			       topts.retval);
		}
		conf_outcome_free(&o);
next:
		free(list[i]);
	}
	free(list);
	printf("# kernel cross-check: %d programs compared, %d agree, %d refused by the kernel\n",
	       compared, compared - failed, refused);
	if (compared < 100) {
		printf("not ok %d - fewer than 100 programs compared\n", ++tap);
		failed++;
	}
	printf("1..%d\n", tap);
	return failed ? 1 : 0;
}
