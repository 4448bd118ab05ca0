// SPDX-License-Identifier: MIT
/*
 * word_lengths: a histogram of word lengths 1..31 (longer words count as 31) in a global
 * array; returns the most common length in bits 63:56 and its count below.
 */
#include <csd/program.h>

#define MAX_LEN 31

__u64 lengths[MAX_LEN + 1];

SEC("csd")
__u64 word_lengths(const __u8 *data, __u64 len)
{
	__u64 n = 0, best = 0;

	for (int k = 0; k <= MAX_LEN; k++)
		lengths[k] = 0;
	for (__u64 i = 0; i <= len; i++) {
		if (i < len && data[i] != ' ' && data[i] != '\n') {
			n++;
			continue;
		}
		if (n)
			lengths[n > MAX_LEN ? MAX_LEN : n]++;
		n = 0;
	}
	for (int k = 1; k <= MAX_LEN; k++)
		if (lengths[k] > lengths[best])
			best = k;
	return best << 56 | lengths[best];
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
