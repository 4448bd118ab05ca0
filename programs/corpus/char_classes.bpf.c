// SPDX-License-Identifier: MIT
/*
 * char_classes: upper-case letters, lower-case letters, digits and punctuation/other bytes,
 * 16 bits each (saturating), from high to low.
 */
#include <csd/program.h>

SEC("csd")
__u64 char_classes(const __u8 *data, __u64 len)
{
	__u64 upper = 0, lower = 0, digit = 0, other = 0;

	for (__u64 i = 0; i < len; i++) {
		__u8 c = data[i];

		if (c >= 'A' && c <= 'Z')
			upper++;
		else if (c >= 'a' && c <= 'z')
			lower++;
		else if (c >= '0' && c <= '9')
			digit++;
		else
			other++;
	}
#define SAT(x) ((x) > 0xffff ? 0xffff : (x))
	return SAT(upper) << 48 | SAT(lower) << 32 | SAT(digit) << 16 | SAT(other);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
