// SPDX-License-Identifier: MIT
/*
 * Exercise 1 (lesson 6): a histogram of word lengths. Words are runs of ASCII letters; the
 * 16 buckets (lengths 1 to 15, then 16 and more) go into the program's memory right after the
 * input, as 16 little-endian u64; the return value is the number of words.
 *   r1, r2: the memory (input, then 128 bytes for the histogram); r3: the input's length
 */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define BUCKETS 16

SEC("csd")
__u64 word_lengths(__u8 *mem, __u64 len, __u64 in_len)
{
	__u64 *hist = (__u64 *)(mem + in_len);
	__u64 words = 0, cur = 0;

	if (in_len > len || len - in_len < BUCKETS * sizeof(__u64))
		return (__u64)-1;
	for (int b = 0; b < BUCKETS; b++)
		hist[b] = 0;
	for (__u64 i = 0; i <= in_len; i++) {
		__u8 c = i < in_len ? mem[i] : 0;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			cur++;
			continue;
		}
		if (cur) {
			hist[cur < BUCKETS ? cur - 1 : BUCKETS - 1]++;
			words++;
			cur = 0;
		}
	}
	return words;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
