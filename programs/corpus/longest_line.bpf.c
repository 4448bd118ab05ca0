// SPDX-License-Identifier: MIT
/* longest_line: the length of the longest line (without its '\n'), as `wc -L` for ASCII. */
#include <csd/program.h>

SEC("csd")
__u64 longest_line(const __u8 *data, __u64 len)
{
	__u64 longest = 0, start = 0;

	for (__u64 i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (i - start > longest)
			longest = i - start;
		start = i + 1;
	}
	return len - start > longest ? len - start : longest;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
