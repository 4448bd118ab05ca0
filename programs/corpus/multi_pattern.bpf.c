// SPDX-License-Identifier: MIT
/*
 * multi_pattern: occurrences of "Alpha", "Beta" and "Gamma" (case-sensitive), one count per
 * word in bits 63:42, 41:21 and 20:0.
 */
#include <csd/program.h>

static __always_inline int match(const __u8 *data, __u64 len, __u64 i, const char *word,
				 __u64 n)
{
	if (len - i < n)
		return 0;
	for (__u64 k = 0; k < n; k++)
		if (data[i + k] != (__u8)word[k])
			return 0;
	return 1;
}

SEC("csd")
__u64 multi_pattern(const __u8 *data, __u64 len)
{
	__u64 alpha = 0, beta = 0, gamma = 0;

	for (__u64 i = 0; i < len; i++) {
		switch (data[i]) {
		case 'A': alpha += match(data, len, i, "Alpha", 5); break;
		case 'B': beta += match(data, len, i, "Beta", 4); break;
		case 'G': gamma += match(data, len, i, "Gamma", 5); break;
		}
	}
	return alpha << 42 | (beta & 0x1fffff) << 21 | (gamma & 0x1fffff);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
