// SPDX-License-Identifier: MIT
/*
 * count_alpha: the number of times the byte string "Alpha" occurs in the program's input
 * memory, case-sensitive, as `grep -o Alpha | wc -l` counts it ("Alpha" cannot overlap
 * itself, so counting every position that starts a match is the same count).
 *
 * A csdlab drive program: r1 points at the input memory and r2 holds its length; the return
 * value is the program's result.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

SEC("csd")
__u64 count_alpha(const __u8 *data, __u64 len)
{
	__u64 count = 0;

	if (len < 5)
		return 0;
	for (__u64 i = 0; i <= len - 5; i++) {
		if (data[i] != 'A')
			continue;
		if (data[i + 1] == 'l' && data[i + 2] == 'p' && data[i + 3] == 'h' &&
		    data[i + 4] == 'a')
			count++;
	}
	return count;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
