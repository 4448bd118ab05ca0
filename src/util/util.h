/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the tools and tests: files, sizes, hex. */
#ifndef CSD_UTIL_H
#define CSD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read a whole file (or stdin for "-") into a malloc'd, NUL-terminated buffer. */
int csd_read_file(const char *path, uint8_t **buf, size_t *len);

/* "4096", "0x1000", "64K", "256M", "10G", "1T" (binary units) -> bytes; -EINVAL otherwise. */
int csd_parse_size(const char *s, uint64_t *out);

/* An unsigned decimal or 0x-hex number, all of the string; -EINVAL otherwise. */
int csd_parse_u64(const char *s, uint64_t *out);

/*
 * Hex bytes separated by blanks or newlines, each one or two hex digits ("b7 00 1f"), an
 * optional 0x prefix per token; when `words64` each token is instead a 64-bit little-endian
 * word ("0x5566778800000018"). Returns the byte count, or -EINVAL naming the bad token in err.
 */
long csd_hex_parse(const char *text, bool words64, uint8_t **out, char *err, size_t err_size);

/* xorshift64 (Marsaglia 13/7/17): a fast, seedable, reproducible stream; not for secrets.
 * `*state` must not be 0. */
static inline uint64_t csd_xorshift64(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Progress bar on stderr when it is a terminal; silent otherwise. */
struct csd_progress {
	const char *label;
	uint64_t total;
	int last_pct;
	bool tty;
};
void csd_progress_start(struct csd_progress *p, const char *label, uint64_t total);
void csd_progress_update(struct csd_progress *p, uint64_t done);
void csd_progress_end(struct csd_progress *p);

#endif
