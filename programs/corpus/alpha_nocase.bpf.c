// SPDX-License-Identifier: MIT
/* alpha_nocase: occurrences of "alpha" in any mix of cases, as `grep -io alpha | wc -l`. */
#include <csd/program.h>

SEC("csd")
__u64 alpha_nocase(const __u8 *data, __u64 len)
{
	static const char word[] = "alpha";
	__u64 count = 0;

	if (len < 5)
		return 0;
	for (__u64 i = 0; i + 5 <= len; i++) {
		int k;

		for (k = 0; k < 5; k++)
			if ((data[i + k] | 0x20) != word[k])
				break;
		if (k == 5)
			count++;
	}
	return count;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
