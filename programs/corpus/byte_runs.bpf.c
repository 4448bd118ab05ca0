// SPDX-License-Identifier: MIT
/*
 * byte_runs: the number of runs of equal bytes (how well run-length encoding would do) and
 * the longest run, in the high and low 32 bits.
 */
#include <csd/program.h>

SEC("csd")
__u64 byte_runs(const __u8 *data, __u64 len)
{
	__u64 runs = 0, longest = 0, run = 0;
	__u8 prev = 0;

	for (__u64 i = 0; i < len; i++) {
		if (i && data[i] == prev) {
			run++;
		} else {
			runs++;
			run = 1;
		}
		if (run > longest)
			longest = run;
		prev = data[i];
	}
	return runs << 32 | (longest & 0xffffffff);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
