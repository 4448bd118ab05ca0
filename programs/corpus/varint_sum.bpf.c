// SPDX-License-Identifier: MIT
/*
 * varint_sum: the sum of the unsigned LEB128 varints (protobuf's encoding) packed in the
 * input, and how many there were, in the high 40 and low 24 bits; a varint longer than 10
 * bytes or cut off at the end stops the scan.
 */
#include <csd/program.h>

SEC("csd")
__u64 varint_sum(const __u8 *data, __u64 len)
{
	__u64 sum = 0, count = 0, pos = 0;

	while (pos < len) {
		__u64 v = 0;
		int shift = 0;

		for (;;) {
			__u8 b;

			if (pos >= len || shift > 63)
				goto out;
			b = data[pos++];
			v |= (__u64)(b & 0x7f) << shift;
			if (!(b & 0x80))
				break;
			shift += 7;
		}
		sum += v;
		count++;
	}
out:
	return sum << 24 | (count & 0xffffff);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
