// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * count_alpha in the Linux kernel: the same filter as programs/count_alpha.bpf.c, in the two
 * shapes the kernel's verifier is asked to accept, as XDP programs run with
 * BPF_PROG_TEST_RUN over a buffer (the kernel has no "input memory" program type: a packet
 * is the closest). The count goes to a global; the packet passes.
 *
 * count_alpha_loop: the drive program's plain loop, with the packet bounds checks the kernel
 *                   demands. Whether the verifier accepts it is the lesson (docs/kernel.md).
 * count_alpha_bpf_loop: the same body run by the bpf_loop() helper, which the verifier checks
 *                   once, whatever the number of iterations.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define MAX_BYTES 4096	/* what BPF_PROG_TEST_RUN can hand an XDP program, and more */

__u64 count = 0;

SEC("xdp")
int count_alpha_loop(struct xdp_md *ctx)
{
	const __u8 *data = (const __u8 *)(long)ctx->data;
	const __u8 *end = (const __u8 *)(long)ctx->data_end;
	__u64 n = 0;

	for (int i = 0; i < MAX_BYTES; i++) {
		const __u8 *p = data + i;

		if (p + 5 > end)
			break;
		if (p[0] == 'A' && p[1] == 'l' && p[2] == 'p' && p[3] == 'h' && p[4] == 'a')
			n++;
	}
	count = n;
	return XDP_PASS;
}

struct scan {
	const __u8 *data, *end;
	__u64 n;
};

static long scan_one(__u64 i, void *arg)
{
	struct scan *s = arg;
	const __u8 *p;

	if (i >= MAX_BYTES)	/* the verifier needs the index bounded before it meets a pointer */
		return 1;
	p = s->data + i;
	if (p + 5 > s->end)
		return 1;	/* stop */
	if (p[0] == 'A' && p[1] == 'l' && p[2] == 'p' && p[3] == 'h' && p[4] == 'a')
		s->n++;
	return 0;
}

SEC("xdp")
int count_alpha_bpf_loop(struct xdp_md *ctx)
{
	struct scan s = { .data = (const __u8 *)(long)ctx->data,
			  .end = (const __u8 *)(long)ctx->data_end };

	bpf_loop(MAX_BYTES, scan_one, &s, 0);
	count = s.n;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
