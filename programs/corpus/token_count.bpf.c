// SPDX-License-Identifier: MIT
/*
 * token_count: tokens separated by any byte of a delimiter set (space and ",;:.!?()\n\t")
 * kept as a 256-bit table in read-only data, as strtok/strpbrk users write it.
 */
#include <csd/program.h>

static const __u64 delims[4] = {
	(1ULL << ' ') | (1ULL << ',') | (1ULL << ';') | (1ULL << ':') | (1ULL << '.') |
		(1ULL << '!') | (1ULL << '?') | (1ULL << '(') | (1ULL << ')') | (1ULL << '\n') |
		(1ULL << '\t'),
	0, 0, 0,
};

SEC("csd")
__u64 token_count(const __u8 *data, __u64 len)
{
	__u64 tokens = 0;
	int in_token = 0;

	for (__u64 i = 0; i < len; i++) {
		__u8 c = data[i];
		int delim = (delims[c >> 6] >> (c & 63)) & 1;

		if (delim)
			in_token = 0;
		else if (!in_token) {
			in_token = 1;
			tokens++;
		}
	}
	return tokens;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
