// SPDX-License-Identifier: MIT
/*
 * record_max: the largest 32-bit big-endian field at offset p1 of the 32-byte records that
 * make up the input (a sensor log's reading, say); p1 must leave the field inside a record.
 */
#include <csd/program.h>

#define RECORD_SIZE 32

SEC("csd")
__u64 record_max(const __u8 *data, __u64 len, __u64 field)
{
	__u32 best = 0;

	if (field > RECORD_SIZE - 4)
		return 0;
	for (__u64 off = 0; off + RECORD_SIZE <= len; off += RECORD_SIZE) {
		const __u8 *p = data + off + field;
		__u32 v = (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];

		if (v > best)
			best = v;
	}
	return best;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
