/* SPDX-License-Identifier: MIT */
/*
 * Deterministic English-like text with a known number of "Alpha" in it: the data of the
 * Alpha experiment. The same seed and rate give the same bytes, however the output is cut
 * into chunks, so a 10 GB file can be written piece by piece and checked against the count.
 *
 * Besides "Alpha" as a word it writes words that contain it ("Alphabet", "Alphas": counted,
 * as grep -o counts them) and near misses that must not count ("alpha", "ALPHA", "Alp",
 * "Alpine"). Every CSD_TEXTGEN_STRADDLE bytes an "Alpha" is placed across the boundary, so
 * every 1 MiB boundary (and so 4 KiB and 512-byte boundaries) is straddled by one.
 */
#ifndef CSD_TEXTGEN_H
#define CSD_TEXTGEN_H

#include <stddef.h>
#include <stdint.h>

#define CSD_TEXTGEN_STRADDLE	(UINT64_C(1) << 20)

struct csd_textgen {
	uint64_t rng;
	uint32_t alpha_per_mille;	/* "Alpha" words per 1000 words */
	uint64_t pos;			/* bytes produced so far */
	const char *word;		/* word being written, possibly cut by a chunk end */
	uint32_t word_len, word_at;
	int32_t word_alpha_end;		/* index in word where an "Alpha" completes, or -1 */
	uint32_t words_on_line;
};

void csd_textgen_init(struct csd_textgen *g, uint64_t seed, uint32_t alpha_per_mille);

/* Write the next len bytes; returns how many "Alpha" were completed within them. */
uint64_t csd_textgen_fill(struct csd_textgen *g, void *buf, size_t len);

/* Reference count: "Alpha" occurrences in buf (what grep -o Alpha | wc -l says). */
uint64_t csd_count_alpha(const void *buf, size_t len);

#endif
