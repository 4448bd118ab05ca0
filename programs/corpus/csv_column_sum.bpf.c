// SPDX-License-Identifier: MIT
/* csv_column_sum: the sum of the unsigned integers in column p1 (from 0) of CSV lines. */
#include <csd/program.h>

SEC("csd")
__u64 csv_column_sum(const __u8 *data, __u64 len, __u64 column)
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
	return col == column ? sum + value : sum;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
