/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "csd/textgen.h"
#include "util.h"

static const char *const vocabulary[] = {
	"the", "drive", "data", "of", "and", "a", "to", "in", "storage", "is", "program",
	"that", "for", "it", "with", "as", "was", "on", "host", "be", "at", "by", "this",
	"computational", "had", "not", "are", "but", "from", "or", "have", "an", "they",
	"which", "one", "you", "were", "her", "all", "she", "there", "would", "their",
	"we", "him", "been", "has", "when", "who", "will", "more", "no", "if", "out",
	"filter", "query", "namespace", "memory", "kernel", "packet", "block", "queue",
	"alpha", "ALPHA", "Alp", "Alpine", "Alps", "lpha", "Al", "pha", "Beta", "Gamma",
};
#define VOCAB_SIZE (sizeof(vocabulary) / sizeof(vocabulary[0]))

/* words that contain "Alpha", and where in them it completes */
static const struct { const char *word; int32_t end; } alpha_words[] = {
	{ "Alpha", 4 }, { "Alpha", 4 }, { "Alpha", 4 }, { "Alpha", 4 },
	{ "Alphabet", 4 }, { "Alphas", 4 }, { "Alpha,", 4 }, { "Alpha.", 4 },
};
#define ALPHA_WORDS (sizeof(alpha_words) / sizeof(alpha_words[0]))

static uint64_t next_random(struct csd_textgen *g)
{
	return csd_xorshift64(&g->rng);
}

void csd_textgen_init(struct csd_textgen *g, uint64_t seed, uint32_t alpha_per_mille)
{
	memset(g, 0, sizeof(*g));
	g->rng = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
	if (!g->rng)
		g->rng = 1;
	g->alpha_per_mille = alpha_per_mille > 1000 ? 1000 : alpha_per_mille;
	g->word_alpha_end = -1;
}

static void start_word(struct csd_textgen *g, const char *w, int32_t alpha_end)
{
	g->word = w;
	g->word_len = (uint32_t)strlen(w);
	g->word_at = 0;
	g->word_alpha_end = alpha_end;
}

/* Pick what comes after the current word: a separator, then the next word. */
static void choose_next(struct csd_textgen *g)
{
	uint64_t to_boundary = CSD_TEXTGEN_STRADDLE - (g->pos % CSD_TEXTGEN_STRADDLE);
	uint64_t r;

	if (g->word != NULL && g->word[0] != ' ' && g->word[0] != '\n') {
		/* after a word: a separator */
		if (++g->words_on_line >= 12 + (next_random(g) % 6)) {
			g->words_on_line = 0;
			start_word(g, "\n", -1);
		} else {
			start_word(g, " ", -1);
		}
		return;
	}
	/* the straddling "Alpha": pad with blanks until it starts 2 bytes before the boundary */
	if (to_boundary <= 16) {
		/* words are at most 14 bytes, so one never starts closer than 2 bytes */
		if (to_boundary > 2) {
			start_word(g, " ", -1);
			return;
		}
		start_word(g, "Alpha", 4);
		return;
	}
	r = next_random(g);
	if ((r >> 20) % 1000 < g->alpha_per_mille) {
		unsigned i = (unsigned)((r >> 40) % ALPHA_WORDS);

		start_word(g, alpha_words[i].word, alpha_words[i].end);
	} else {
		start_word(g, vocabulary[(r >> 40) % VOCAB_SIZE], -1);
	}
}

uint64_t csd_textgen_fill(struct csd_textgen *g, void *buf, size_t len)
{
	uint8_t *out = buf;
	uint64_t count = 0;

	for (size_t i = 0; i < len; i++) {
		while (!g->word || g->word_at == g->word_len)
			choose_next(g);
		if ((int32_t)g->word_at == g->word_alpha_end)
			count++;
		out[i] = (uint8_t)g->word[g->word_at++];
		g->pos++;
	}
	return count;
}

uint64_t csd_count_alpha(const void *buf, size_t len)
{
	const uint8_t *p = buf, *end = p + len;
	uint64_t count = 0;

	while (len >= 5 && (p = memchr(p, 'A', (size_t)(end - p) - 4)) != NULL) {
		if (!memcmp(p, "Alpha", 5)) {
			count++;
			p += 5;
		} else {
			p++;
		}
		if (end - p < 5)
			break;
	}
	return count;
}
