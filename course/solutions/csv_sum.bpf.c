// SPDX-License-Identifier: MIT
/*
 * Exercise 2 (lesson 6): the sum of one column of a CSV file of unsigned integers.
 *   r1, r2: the input; r3: the column, counted from 0
 * Fields are separated by ',' and lines by '\n'; anything but digits in the column's fields
 * is skipped (so padding zeros at the end do no harm).
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

SEC("csd")
__u64 csv_sum(const __u8 *data, __u64 len, __u64 column)
{
	__u64 sum = 0, value = 0, col = 0;

	for (__u64 i = 0; i < len; i++) {
		__u8 c = data[i];

		if (c == ',' || c == '\n') {
			if (col == column)
				sum += value;
			value = 0;
			col = c == ',' ? col + 1 : 0;
		} else if (col == column && c >= '0' && c <= '9') {
			value = value * 10 + (c - '0');
		}
	}
	return col == column ? sum + value : sum;	/* a last line without '\n' */
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
