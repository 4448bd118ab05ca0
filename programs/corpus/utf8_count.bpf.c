// SPDX-License-Identifier: MIT
/*
 * utf8_count: the number of UTF-8 characters and of invalid sequences (a lead byte whose
 * continuation bytes are missing, or a stray continuation byte), high and low 32 bits. The
 * cursor advances by each sequence's length.
 */
#include <csd/program.h>

SEC("csd")
__u64 utf8_count(const __u8 *data, __u64 len)
{
	__u64 chars = 0, invalid = 0, i = 0;

	while (i < len) {
		__u8 c = data[i];
		__u64 n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			  (c & 0xf8) == 0xf0 ? 4 : 0;
		__u64 k;

		if (!n || len - i < n) {
			invalid++;
			i++;
			continue;
		}
		for (k = 1; k < n; k++)
			if ((data[i + k] & 0xc0) != 0x80)
				break;
		if (k < n) {
			invalid++;
			i++;
			continue;
		}
		chars++;
		i += n;
	}
	return chars << 32 | (invalid & 0xffffffff);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
