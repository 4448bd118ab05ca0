/* SPDX-License-Identifier: MIT */
/*
 * pktcount: packets arriving on an interface, per IP protocol, from pktcount.bpf.c attached
 * as a socket filter to a packet socket bound to the interface.
 *   pktcount [--ifname lo] [--duration SECONDS]     (Ctrl-C to stop)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "loop.h"
#include "pktcount.skel.h"

/* A packet socket on `ifname` with the counting filter attached; -errno on failure. */
int pktcount_attach(struct pktcount_bpf *skel, const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int prog = bpf_program__fd(skel->progs.count_packets);
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0)
		return -errno;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) ||
	    setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog))) {
		int err = sll.sll_ifindex ? -errno : -ENODEV;

		close(fd);
		return err;
	}
	return fd;
}

#ifndef PKTCOUNT_NO_MAIN
static const char *proto_name(unsigned p)
{
	return p == 1 ? "ICMP" : p == 6 ? "TCP" : p == 17 ? "UDP" : "other";
}

static void print_counts(void *arg)
{
	struct pktcount_bpf *skel = arg;
	int fd = bpf_map__fd(skel->maps.protocols);

	for (unsigned p = 0; p < 256; p++) {
		unsigned long long n;

		if (!bpf_map_lookup_elem(fd, &p, &n) && n)
			printf("%-6s (%3u) %12llu\n", proto_name(p), p, n);
	}
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *ifname = "lo";
	unsigned seconds = 0, unused = 0;
	struct pktcount_bpf *skel;
	int fd;

	if (argc >= 3 && !strcmp(argv[1], "--ifname")) {
		ifname = argv[2];
		argv[2] = argv[0];
		argc -= 2;
		argv += 2;
	}
	if (loader_args(argc, argv, "usage: pktcount [--ifname IF] [--duration SECONDS]\n",
			&unused, &seconds))
		return 2;
	skel = pktcount_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "pktcount: cannot load the BPF program: %s\n", strerror(errno));
		return 1;
	}
	fd = pktcount_attach(skel, ifname);
	if (fd < 0) {
		fprintf(stderr, "pktcount: cannot attach to %s: %s\n", ifname, strerror(-fd));
		pktcount_bpf__destroy(skel);
		return 1;
	}
	printf("counting packets arriving on %s, per IP protocol; Ctrl-C to stop\n", ifname);
	run_loop(seconds, print_counts, skel);
	close(fd);
	pktcount_bpf__destroy(skel);
	return 0;
}
#endif
