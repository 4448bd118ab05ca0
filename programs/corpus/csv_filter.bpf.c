// SPDX-License-Identifier: MIT
/*
 * csv_filter: the number of CSV lines whose column p1 holds a number greater than p2, as
 * `awk -F, '$(p1+1) > p2' | wc -l` counts them.
 */
#include <csd/program.h>

SEC("csd")
__u64 csv_filter(const __u8 *data, __u64 len, __u64 column, __u64 threshold)
{
	__u64 matches = 0, value = 0;
	__u32 col = 0;

	for (__u64 i = 0; i < len; i++) {
		__u8 c = data[i];

		if (c == '\n') {
			if (col >= column && value > threshold)
				matches++;
			value = 0;
			col = 0;
		} else if (c == ',') {
			col++;
		} else if (col == column && c >= '0' && c <= '9') {
			value = value * 10 + (c - '0');
		}
	}
	return matches;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
