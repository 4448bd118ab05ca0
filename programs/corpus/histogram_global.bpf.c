// SPDX-License-Identifier: MIT
/*
 * histogram_global: a histogram of byte values in a global array; returns the number of
 * distinct byte values in bits 63:48 and the sum of count * value below (a checksum of it).
 * The table is left zeroed for the next run.
 */
#include <csd/program.h>

__u64 hist[256];

SEC("csd")
__u64 histogram_global(const __u8 *data, __u64 len)
{
	__u64 distinct = 0, weighted = 0;

	for (__u64 i = 0; i < len; i++)
		hist[data[i]]++;
	for (int b = 0; b < 256; b++) {
		if (hist[b])
			distinct++;
		weighted += hist[b] * b;
		hist[b] = 0;
	}
	return distinct << 48 | (weighted & 0xffffffffffffULL);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
