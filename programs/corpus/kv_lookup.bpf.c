// SPDX-License-Identifier: MIT
/*
 * kv_lookup: a log of "key=value" lines; returns the value of the last line whose key is the
 * number p1 (for example "42=1234\n" with p1 = 42), or 0. Both sides parsed by one helper.
 */
#include <csd/program.h>

static __attribute__((noinline)) __u64 parse_uint(const __u8 *data, __u64 len, __u64 *pos)
{
	__u64 v = 0, i = *pos;

	while (i < len && data[i] >= '0' && data[i] <= '9') {
		v = v * 10 + (data[i] - '0');
		i++;
	}
	*pos = i;
	return v;
}

SEC("csd")
__u64 kv_lookup(const __u8 *data, __u64 len, __u64 wanted)
{
	__u64 pos = 0, found = 0;

	while (pos < len) {
		__u64 key = parse_uint(data, len, &pos);

		if (pos < len && data[pos] == '=') {
			__u64 value;

			pos++;
			value = parse_uint(data, len, &pos);
			if (key == wanted)
				found = value;
		}
		while (pos < len && data[pos] != '\n')
			pos++;
		pos++;
	}
	return found;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
