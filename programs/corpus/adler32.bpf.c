// SPDX-License-Identifier: MIT
/* adler32: the Adler-32 checksum of the input, as zlib computes it. */
#include <csd/program.h>

#define ADLER_MOD 65521

SEC("csd")
__u64 adler32(const __u8 *data, __u64 len)
{
	__u64 a = 1, b = 0;

	for (__u64 i = 0; i < len; i++) {
		a = (a + data[i]) % ADLER_MOD;
		b = (b + a) % ADLER_MOD;
	}
	return b << 16 | a;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
