// SPDX-License-Identifier: MIT
/* word_sum: the xor and the sum of the input's 64-bit little-endian words (a trailing partial
 * word is ignored), in the high and low 32 bits. */
#include <csd/program.h>

SEC("csd")
__u64 word_sum(const __u8 *data, __u64 len)
{
	const __u64 *words = (const __u64 *)data;
	__u64 x = 0, s = 0;

	for (__u64 i = 0; i < len / 8; i++) {
		x ^= words[i];
		s += words[i];
	}
	return (x ^ x >> 32) << 32 | (s & 0xffffffff);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
