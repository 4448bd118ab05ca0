// SPDX-License-Identifier: MIT
/*
 * number_sum: the sum of every run of decimal digits in the input, read by a parser helper
 * that returns the cursor past the number to its caller's loop (a bpf-to-bpf call).
 */
#include <csd/program.h>

/* The number that starts at data[pos] (a digit): its value, and the position after it. */
static __attribute__((noinline)) __u64 parse_number(const __u8 *data, __u64 len, __u64 pos,
						     __u64 *value)
{
	__u64 v = 0;

	do {
		v = v * 10 + (data[pos] - '0');
		pos++;
	} while (pos < len && data[pos] >= '0' && data[pos] <= '9');
	*value = v;
	return pos;
}

SEC("csd")
__u64 number_sum(const __u8 *data, __u64 len)
{
	__u64 sum = 0, pos = 0;

	while (pos < len) {
		if (data[pos] >= '0' && data[pos] <= '9') {
			__u64 value;

			pos = parse_number(data, len, pos, &value);
			sum += value;
		} else {
			pos++;
		}
	}
	return sum;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
