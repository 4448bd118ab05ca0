// SPDX-License-Identifier: MIT
/*
 * json_field_sum: the sum of the numbers that follow the key "bytes" in JSON lines such as
 * {"id":17,"user":"ann","bytes":5120}, found with a small state machine.
 */
#include <csd/program.h>

static const char key[] = "\"bytes\":";

SEC("csd")
__u64 json_field_sum(const __u8 *data, __u64 len)
{
	__u64 sum = 0, value = 0;
	int matched = 0, in_number = 0;

	for (__u64 i = 0; i < len; i++) {
		__u8 c = data[i];

		if (in_number) {
			if (c >= '0' && c <= '9') {
				value = value * 10 + (c - '0');
				continue;
			}
			sum += value;
			value = 0;
			in_number = 0;
		}
		if (c == key[matched]) {
			matched++;
			if (matched == sizeof(key) - 1) {
				in_number = 1;
				matched = 0;
			}
		} else {
			matched = c == key[0];
		}
	}
	return sum + value;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
