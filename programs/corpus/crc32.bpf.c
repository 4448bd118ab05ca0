// SPDX-License-Identifier: MIT
/* crc32: the CRC-32 of the input (IEEE 802.3, as `gzip` and `crc32(1)` compute it), by table. */
#include <csd/program.h>

__u32 crc_table[256];

SEC("csd")
__u64 crc32(const __u8 *data, __u64 len)
{
	__u32 crc = 0xffffffff;

	for (__u32 n = 0; n < 256; n++) {
		__u32 c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
	for (__u64 i = 0; i < len; i++)
		crc = crc_table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffff;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
