// SPDX-License-Identifier: MIT
/* fnv1a: the 64-bit FNV-1a hash of the input. */
#include <csd/program.h>

SEC("csd")
__u64 fnv1a(const __u8 *data, __u64 len)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (__u64 i = 0; i < len; i++) {
		h ^= data[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
