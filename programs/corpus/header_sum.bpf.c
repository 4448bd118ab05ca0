// SPDX-License-Identifier: MIT
/*
 * header_sum: the byte sum of a 64-byte header, as a format probe computes it before looking
 * further; 0 when the input is shorter than the header.
 */
#include <csd/program.h>

SEC("csd")
__u64 header_sum(const __u8 *data, __u64 len)
{
	__u64 s = 0;

	if (len < 64)
		return 0;
	for (int k = 0; k < 64; k++)
		s += data[k];
	return s;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
