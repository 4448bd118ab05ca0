// SPDX-License-Identifier: MIT
/*
 * csv_column_sum: the sum of column p1 (from 0) over the lines after the header line, each
 * field read as the number its digits make (a price "12.50" counts as 1250: cents), other bytes
 * ignored; a line shorter than the column adds nothing.
 */
#include <csd/program.h>

SEC("csd")
__u64 csv_column_sum(const __u8 *data, __u64 len, __u64 column)
{
	__u64 sum = 0, value = 0, col = 0, i = 0;

	while (i < len && data[i] != '\n')	/* the header line */
		i++;
	for (; i < len; i++) {
		__u8 c = data[i];

		if (c >= '0' && c <= '9') {
			if (col == column)
				value = value * 10 + (c - '0');
			continue;
		}
		if (c == ',') {
			col++;
			continue;
		}
		if (c == '\n') {
			if (col >= column)
				sum += value;
			value = col = 0;
		}
	}
	return col >= column ? sum + value : sum;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
