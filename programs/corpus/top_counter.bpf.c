// SPDX-License-Identifier: MIT
/*
 * top_counter: counts the first byte of every line in an array map of 128 counters (ASCII
 * only) and returns the number of distinct first bytes times 2^32 plus the largest count;
 * an example of a map that several runs of a stream add to (no reset here: the host clears it).
 */
#include <csd/program.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} first_bytes SEC(".maps");

SEC("csd")
__u64 top_counter(const __u8 *data, __u64 len)
{
	__u64 distinct = 0, top = 0;
	int line_start = 1;

	for (__u64 i = 0; i < len; i++) {
		if (line_start && data[i] < 128) {
			__u32 key = data[i];
			__u64 *n = bpf_map_lookup_elem(&first_bytes, &key);

			if (n) {
				if (!*n)
					distinct++;
				*n += 1;
				if (*n > top)
					top = *n;
			}
		}
		line_start = data[i] == '\n';
	}
	return distinct << 32 | (top & 0xffffffff);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
