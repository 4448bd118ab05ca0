// SPDX-License-Identifier: MIT
/*
 * record_sum: fixed-size binary records (struct record below, little-endian, packed one after
 * another): the sum of the values of the records whose flags have bit 0 set. A partial record
 * at the end is ignored.
 */
#include <csd/program.h>

struct record {
	__u32 id;
	__u32 flags;
	__u64 value;
};

SEC("csd")
__u64 record_sum(const __u8 *data, __u64 len)
{
	__u64 sum = 0;

	for (__u64 r = 0; r < len / sizeof(struct record); r++) {
		const struct record *rec = (const struct record *)(data + r * sizeof(struct record));

		if (rec->flags & 1)
			sum += rec->value;
	}
	return sum;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
