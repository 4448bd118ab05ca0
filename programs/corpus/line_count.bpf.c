// SPDX-License-Identifier: MIT
/* line_count: the number of '\n' bytes, as `wc -l` counts them. */
#include <csd/program.h>

SEC("csd")
__u64 line_count(const __u8 *data, __u64 len)
{
	__u64 lines = 0;

	for (__u64 i = 0; i < len; i++)
		if (data[i] == '\n')
			lines++;
	return lines;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
