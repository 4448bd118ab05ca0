// SPDX-License-Identifier: MIT
/*
 * header_copy: copies the first 64 bytes into a stack buffer (as a parser keeps a header
 * aside) and returns a hash of the buffer after lower-casing its letters.
 */
#include <csd/program.h>

#define HDR 64

SEC("csd")
__u64 header_copy(const __u8 *data, __u64 len)
{
	__u8 hdr[HDR];
	__u64 h = 5381;

	if (len < HDR)
		return 0;
	for (int k = 0; k < HDR; k++) {
		__u8 c = data[k];

		hdr[k] = c >= 'A' && c <= 'Z' ? c + 32 : c;
	}
	for (int k = 0; k < HDR; k++)
		h = h * 33 + hdr[k];
	return h;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
