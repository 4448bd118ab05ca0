// SPDX-License-Identifier: MIT
/*
 * histogram_map: a histogram of byte values in an array map (the host can read it after the
 * run); returns the most frequent byte value in bits 63:56 and its count below.
 */
#include <csd/program.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} byte_hist SEC(".maps");

SEC("csd")
__u64 histogram_map(const __u8 *data, __u64 len)
{
	__u64 best = 0, best_count = 0;

	for (__u32 b = 0; b < 256; b++) {
		__u64 *slot = bpf_map_lookup_elem(&byte_hist, &b);

		if (slot)
			*slot = 0;
	}
	for (__u64 i = 0; i < len; i++) {
		__u32 key = data[i];
		__u64 *slot = bpf_map_lookup_elem(&byte_hist, &key);

		if (slot)
			*slot += 1;
	}
	for (__u32 b = 0; b < 256; b++) {
		__u64 *slot = bpf_map_lookup_elem(&byte_hist, &b);

		if (slot && *slot > best_count) {
			best_count = *slot;
			best = b;
		}
	}
	return best << 56 | best_count;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
