// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Lesson 2b: a log2 histogram of the sizes read() returns, the storage-flavoured one.
 * Syscall exit carries the return value; the syscall number comes from the saved registers
 * (orig_ax on x86-64), read with CO-RE so the program fits any kernel's pt_regs layout.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define NR_READ 0
#define BUCKETS 32

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 b = 0;

	/* a bounded loop the verifier accepts: at most 63 steps */
	for (int i = 0; i < 63 && v > 1; i++) {
		v >>= 1;
		b++;
	}
	return b < BUCKETS ? b : BUCKETS - 1;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(read_size, struct pt_regs *regs, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, key;
	__u64 *slot;

	if (BPF_CORE_READ(regs, orig_ax) != NR_READ || ret <= 0 ||
	    (target_tgid && tgid != target_tgid))
		return 0;
	key = log2_bucket((__u64)ret);
	slot = bpf_map_lookup_elem(&hist, &key);
	if (slot)
		__sync_fetch_and_add(slot, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
