// SPDX-License-Identifier: MIT
/* grep_lines: the number of lines that contain "Alpha", as `grep -c Alpha` counts them. */
#include <csd/program.h>

SEC("csd")
__u64 grep_lines(const __u8 *data, __u64 len)
{
	__u64 lines = 0;
	int found = 0;

	for (__u64 i = 0; i < len; i++) {
		if (data[i] == '\n') {
			lines += found;
			found = 0;
		} else if (!found && data[i] == 'A' && len - i >= 5 && data[i + 1] == 'l' &&
			   data[i + 2] == 'p' && data[i + 3] == 'h' && data[i + 4] == 'a') {
			found = 1;
		}
	}
	return lines + found;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
