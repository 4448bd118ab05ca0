// SPDX-License-Identifier: MIT
/*
 * A program with state of its own (a global in .bss): it returns how many times it has run
 * times the window's last byte. A stream adds up to sum(k * last byte of window k) only when
 * its windows run one after another, so the drive must not cut such a program's stream into
 * parts (tests/device/test_compute.c).
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __u64 runs;

SEC("csd")
__u64 window_number(__u8 *mem, __u64 len)
{
	if (len == 0)
		return 0;
	return ++runs * mem[len - 1];
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
