// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Lesson 1: count read() calls per process. A BTF-enabled raw tracepoint on every syscall
 * entry (no tracefs needed); read is syscall 0 on x86-64. Counts go into a hash map keyed by
 * the process id, with the process name kept beside the count.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define NR_READ 0	/* x86-64 */

const volatile __u32 target_tgid = 0;	/* 0: every process */

struct read_count {
	__u64 reads;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct read_count);
} counts SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(count_read, struct pt_regs *regs, long id)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct read_count *c, zero = {};

	if (id != NR_READ || (target_tgid && tgid != target_tgid))
		return 0;
	c = bpf_map_lookup_elem(&counts, &tgid);
	if (!c) {
		bpf_get_current_comm(zero.comm, sizeof(zero.comm));
		bpf_map_update_elem(&counts, &tgid, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&counts, &tgid);
		if (!c)
			return 0;
	}
	__sync_fetch_and_add(&c->reads, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
