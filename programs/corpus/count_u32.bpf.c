// SPDX-License-Identifier: MIT
/*
 * count_u32: occurrences of byte p1 in the first 4 GiB of the input, written with 32-bit
 * counters and lengths as code ported from elsewhere often is.
 */
#include <csd/program.h>

SEC("csd")
__u64 count_u32(const __u8 *data, __u64 len, __u64 byte)
{
	__u32 n = len > 0xffffffffu ? 0xffffffffu : (__u32)len;
	__u32 count = 0;

	for (__u32 i = 0; i < n; i++)
		if (data[i] == (__u8)byte)
			count++;
	return count;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
