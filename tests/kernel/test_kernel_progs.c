/* SPDX-License-Identifier: MIT */
/*
 * The kernel lesson programs, loaded into this machine's kernel: known activity in, exact
 * counts out. 1000 reads, 500 reads of five sizes, 1000 UDP packets on the loopback of a
 * network namespace of our own. Needs root and the bpf() syscall; otherwise skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>

#include "count_alpha_kern.skel.h"
#include "csd/ebpf.h"
#include "csd/textgen.h"
#include "pktcount.skel.h"
#include "readcount.skel.h"
#include "readsize.skel.h"

int pktcount_attach(struct pktcount_bpf *skel, const char *ifname);

struct read_count {
	unsigned long long reads;
	char comm[16];
};

static void test_readcount(void **state)
{
	struct readcount_bpf *skel = readcount_bpf__open();
	struct read_count c;
	unsigned pid = (unsigned)getpid();
	char b;
	int fd = open("/dev/zero", O_RDONLY);

	(void)state;
	assert_non_null(skel);
	skel->rodata->target_tgid = pid;
	assert_int_equal(readcount_bpf__load(skel), 0);
	assert_int_equal(readcount_bpf__attach(skel), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(read(fd, &b, 1), 1);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.counts), &pid, &c), 0);
	assert_int_equal(c.reads, 1000);
	assert_string_equal(c.comm, "test_kernel_pro");	/* 15 characters and a NUL */
	close(fd);
	readcount_bpf__destroy(skel);
}

static void test_readsize_histogram(void **state)
{
	static const unsigned sizes[] = { 1, 10, 100, 1000, 4096 };	/* log2: 0, 3, 6, 9, 12 */
	struct readsize_bpf *skel = readsize_bpf__open();
	char buf[4096];
	int fd = open("/dev/zero", O_RDONLY);

	(void)state;
	assert_non_null(skel);
	skel->rodata->target_tgid = (unsigned)getpid();
	assert_int_equal(readsize_bpf__load(skel), 0);
	assert_int_equal(readsize_bpf__attach(skel), 0);
	for (int s = 0; s < 5; s++)
		for (int i = 0; i < 100; i++)
			assert_int_equal(read(fd, buf, sizes[s]), (ssize_t)sizes[s]);
	readsize_bpf__detach(skel);
	for (unsigned k = 0; k < 32; k++) {
		unsigned long long n;

		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.hist), &k, &n), 0);
		assert_int_equal(n, (k == 0 || k == 3 || k == 6 || k == 9 || k == 12) ? 100 : 0);
	}
	close(fd);
	readsize_bpf__destroy(skel);
}

/* In a child, in a network namespace of its own: only our packets cross its loopback. */
static int count_udp_in_new_netns(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9999),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct ifreq ifr = { 0 };
	struct pktcount_bpf *skel;
	unsigned long long udp = 0, tcp = 1, icmp = 1;
	unsigned k;
	int s, rx, pkt, fd;

	if (unshare(CLONE_NEWNET))
		return 10;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr))
		return 11;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		return 12;
	skel = pktcount_bpf__open_and_load();
	if (!skel || (pkt = pktcount_attach(skel, "lo")) < 0)
		return 13;
	rx = socket(AF_INET, SOCK_DGRAM, 0);	/* a listener: no ICMP port unreachable */
	if (bind(rx, (struct sockaddr *)&to, sizeof(to)))
		return 14;
	for (int i = 0; i < 1000; i++)
		if (sendto(s, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) != 1)
			return 15;
	usleep(100000);
	fd = bpf_map__fd(skel->maps.protocols);
	k = 17;
	bpf_map_lookup_elem(fd, &k, &udp);
	k = 6;
	bpf_map_lookup_elem(fd, &k, &tcp);
	k = 1;
	bpf_map_lookup_elem(fd, &k, &icmp);
	printf("# in a new network namespace: %llu UDP, %llu TCP, %llu ICMP packets counted\n",
	       udp, tcp, icmp);
	close(pkt);
	pktcount_bpf__destroy(skel);
	return udp == 1000 && tcp == 0 && icmp == 0 ? 0 : 20;
}

static void test_pktcount(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(count_udp_in_new_netns());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static const char *count_alpha_obj;
static char verifier_log[1 << 20];

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

/*
 * The drive program's plain loop is refused by the kernel's verifier; the bpf_loop() form is
 * accepted, and over the same buffers it counts what the drive counts.
 */
static void test_count_alpha_both_worlds(void **state)
{
	struct count_alpha_kern_bpf *refused = count_alpha_kern_bpf__open(), *skel;
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts);
	struct csd_ebpf_prog *drive;
	struct csd_textgen g;
	uint8_t *obj;
	size_t len;
	FILE *f;
	libbpf_print_fn_t old = libbpf_set_print(quiet);

	(void)state;
	/* the plain loop: the kernel gives up */
	assert_non_null(refused);
	bpf_program__set_autoload(refused->progs.count_alpha_bpf_loop, false);
	bpf_program__set_log_buf(refused->progs.count_alpha_loop, verifier_log, sizeof(verifier_log));
	bpf_program__set_log_level(refused->progs.count_alpha_loop, 1);
	assert_int_not_equal(count_alpha_kern_bpf__load(refused), 0);
	count_alpha_kern_bpf__destroy(refused);
	libbpf_set_print(old);
	assert_non_null(strstr(verifier_log, "is too complex"));
	print_message("# kernel verifier on the plain loop: %s\n",
		      strstr(verifier_log, "The sequence of") ? "The sequence of ... jumps is too complex"
							      : "too complex");

	/* bpf_loop(): accepted */
	skel = count_alpha_kern_bpf__open();
	bpf_program__set_autoload(skel->progs.count_alpha_loop, false);
	assert_int_equal(count_alpha_kern_bpf__load(skel), 0);

	/* the drive's runtime with the drive's program */
	f = fopen(count_alpha_obj, "rb");
	assert_non_null(f);
	obj = malloc(1 << 20);
	len = fread(obj, 1, 1 << 20, f);
	fclose(f);
	assert_int_equal(csd_ebpf_prog__load_elf(obj, len, "count_alpha", &lopts, &drive), 0);
	free(obj);

	csd_textgen_init(&g, 9, 200);	/* dense: about one word in five is an "Alpha" one */
	for (int b = 0; b < 50; b++) {
		uint8_t buf[3000];
		uint64_t on_drive;
		LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = buf, .data_size_in = sizeof(buf),
			    .repeat = 1);

		csd_textgen_fill(&g, buf, sizeof(buf));
		skel->bss->count = ~0ull;
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.count_alpha_bpf_loop),
							&topts), 0);
		assert_int_equal(csd_ebpf_prog__run(drive, buf, sizeof(buf), NULL, &on_drive), 0);
		assert_int_equal(skel->bss->count, on_drive);
		assert_int_equal(on_drive, csd_count_alpha(buf, sizeof(buf)));
		if (b == 0)
			print_message("# buffer 0: kernel %llu, drive %llu\n",
				      (unsigned long long)skel->bss->count,
				      (unsigned long long)on_drive);
	}
	csd_ebpf_prog__free(drive);
	count_alpha_kern_bpf__destroy(skel);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readcount),
		cmocka_unit_test(test_readsize_histogram),
		cmocka_unit_test(test_pktcount),
		cmocka_unit_test(test_count_alpha_both_worlds),
	};
	struct readcount_bpf *probe;

	if (argc != 2) {
		fprintf(stderr, "usage: %s count_alpha.bpf.o\n", argv[0]);
		return 2;
	}
	count_alpha_obj = argv[1];
	if (geteuid() != 0) {
		printf("1..0 # SKIP skipped: loading kernel BPF programs needs root\n");
		return 0;
	}
	probe = readcount_bpf__open_and_load();
	if (!probe) {
		printf("1..0 # SKIP skipped: the kernel refuses the programs here (%s)\n",
		       strerror(errno));
		return 0;
	}
	readcount_bpf__destroy(probe);
	return cmocka_run_group_tests_name("kernel-programs", tests, NULL, NULL);
}
