/* SPDX-License-Identifier: MIT */
/* The lab's baseline, in the guest: count "Alpha" in standard input (built static). */
#include <stdio.h>
#include <string.h>

int main(void)
{
	static char buf[(1 << 20) + 4];
	unsigned long long count = 0;
	size_t carry = 0, n;

	while ((n = fread(buf + carry, 1, sizeof(buf) - 4 - carry, stdin)) > 0) {
		size_t len = carry + n;

		for (size_t i = 0; i + 5 <= len; i++)
			count += !memcmp(buf + i, "Alpha", 5);
		/* keep the last 4 bytes: a match across two reads */
		carry = len < 4 ? len : 4;
		memmove(buf, buf + len - carry, carry);
	}
	printf("%llu\n", count);
	return 0;
}
