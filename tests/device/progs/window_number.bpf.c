// SPDX-License-Identifier: MIT
/*
 * A program with state of its own: it returns how many times it has run (a global in .bss).
 * A stream of n windows adds up to n(n+1)/2 only when its windows run one after another, so
 * the drive must not cut such a program's stream into parts (tests/device/test_compute.c).
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __u64 runs;

SEC("csd")
__u64 window_number(__u8 *mem, __u64 len)
{
	(void)mem;
	(void)len;
	return ++runs;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
