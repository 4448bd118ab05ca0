// SPDX-License-Identifier: MIT
/*
 * block_checksums: a 32-bit sum of each 512-byte block (as a drive scrubber computes), the
 * block sums folded by a rotate-and-xor; a partial block at the end is ignored.
 */
#include <csd/program.h>

#define BLOCK 512

SEC("csd")
__u64 block_checksums(const __u8 *data, __u64 len)
{
	__u64 fold = 0;

	for (__u64 b = 0; b < len / BLOCK; b++) {
		__u32 sum = 0;

		for (int k = 0; k < BLOCK; k++)
			sum += data[b * BLOCK + k];
		fold = (fold << 7 | fold >> 57) ^ sum;
	}
	return fold;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
