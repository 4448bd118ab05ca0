// SPDX-License-Identifier: MIT
/* word_count: words separated by spaces, tabs and newlines, as `wc -w` counts them. */
#include <csd/program.h>

static __always_inline int is_space(__u8 c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

SEC("csd")
__u64 word_count(const __u8 *data, __u64 len)
{
	__u64 words = 0;
	int in_word = 0;

	for (__u64 i = 0; i < len; i++) {
		if (is_space(data[i])) {
			in_word = 0;
		} else if (!in_word) {
			in_word = 1;
			words++;
		}
	}
	return words;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
