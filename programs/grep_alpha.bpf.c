// SPDX-License-Identifier: MIT
/*
 * grep_alpha: the lines that contain "Alpha", copied out (what `grep Alpha` prints), for a
 * filter whose answer is data rather than a count.
 *
 *   r1, r2  the program's memory: the input, then room for the output
 *   r3      CPARAM1: the input's length (the output goes right after it)
 *   r4      CPARAM2: `from`: lines whose newline comes before this offset belong to the
 *           window before (the host puts the end of the previous window in front, so that
 *           every line is seen whole once)
 *
 * Returns the number of bytes written after the input, or (u64)-1 if they do not fit. Lines
 * are terminated by '\n'; a line longer than the overlap the host gives is not seen whole.
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

SEC("csd")
__u64 grep_alpha(__u8 *mem, __u64 len, __u64 in_len, __u64 from)
{
	__u64 out = in_len, line = 0;
	int hit = 0;

	if (in_len > len)
		return (__u64)-1;
	for (__u64 i = 0; i < in_len; i++) {
		__u8 c = mem[i];

		if (c == 'A' && i + 5 <= in_len && mem[i + 1] == 'l' && mem[i + 2] == 'p' &&
		    mem[i + 3] == 'h' && mem[i + 4] == 'a')
			hit = 1;
		if (c != '\n')
			continue;
		if (hit && i >= from) {
			__u64 n = i + 1 - line;

			if (out + n > len)
				return (__u64)-1;
			for (__u64 k = 0; k < n; k++)
				mem[out + k] = mem[line + k];
			out += n;
		}
		line = i + 1;
		hit = 0;
	}
	return out - in_len;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
