/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int csd_read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 65536, n = 0;
	uint8_t *b;

	if (!f)
		return -errno;
	b = malloc(cap + 1);
	while (b) {
		size_t got = fread(b + n, 1, cap - n, f);

		n += got;
		if (n < cap)
			break;
		cap *= 2;
		uint8_t *nb = realloc(b, cap + 1);
		if (!nb) {
			free(b);
			b = NULL;
		} else {
			b = nb;
		}
	}
	if (f != stdin)
		fclose(f);
	if (!b)
		return -ENOMEM;
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

int csd_parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return (*end || errno) ? -EINVAL : 0;
}

int csd_parse_size(const char *s, uint64_t *out)
{
	char *end;
	uint64_t v, mul = 1;
	bool hex;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	/* decimal, or hex after 0x as nvme-cli takes it (0xc0); never octal */
	hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	if (hex && !isxdigit((unsigned char)s[2]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, hex ? 16 : 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	case 't': case 'T': mul = 1ull << 40; end++; break;
	default: return -EINVAL;
	}
	if ((*end == 'i' && end[1] == 'B' && !end[2]) || (*end == 'B' && !end[1]))
		end += strlen(end);
	if (*end || (v && mul > UINT64_MAX / v))
		return -EINVAL;
	*out = v * mul;
	return 0;
}

long csd_hex_parse(const char *text, bool words64, uint8_t **out, char *err, size_t err_size)
{
	size_t cap = 64, n = 0, width = words64 ? 8 : 1;
	uint8_t *b = malloc(cap);
	const char *p = text;

	if (!b)
		return -ENOMEM;
	for (;;) {
		const char *start;
		char tok[24];
		uint64_t v;
		size_t tl;
		char *end;

		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		tl = (size_t)(p - start);
		if (tl >= sizeof(tok))
			goto bad;
		memcpy(tok, start, tl);
		tok[tl] = '\0';
		errno = 0;
		v = strtoull(tok, &end, 16);
		if (*end || errno || !isxdigit((unsigned char)tok[tl - 1]) ||
		    (!words64 && v > 0xff))
			goto bad;
		if (n + width > cap) {
			uint8_t *nb = realloc(b, cap *= 2);

			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		for (size_t i = 0; i < width; i++)
			b[n++] = (uint8_t)(v >> (8 * i));
		continue;
bad:
		if (err && err_size)
			snprintf(err, err_size, "'%.*s' is not a hex %s", (int)(tl > 20 ? 20 : tl),
				 start, words64 ? "64-bit word" : "byte");
		free(b);
		return -EINVAL;
	}
	*out = b;
	return (long)n;
}

void csd_progress_start(struct csd_progress *p, const char *label, uint64_t total)
{
	p->label = label;
	p->total = total ? total : 1;
	p->last_pct = -1;
	p->tty = isatty(STDERR_FILENO);
	csd_progress_update(p, 0);
}

void csd_progress_update(struct csd_progress *p, uint64_t done)
{
	int pct = (int)(done * 100 / p->total), bars;
	char bar[41];

	if (!p->tty || pct == p->last_pct)
		return;
	p->last_pct = pct;
	bars = pct * 40 / 100;
	memset(bar, '#', (size_t)bars);
	memset(bar + bars, '.', (size_t)(40 - bars));
	bar[40] = '\0';
	fprintf(stderr, "\r%-20s [%s] %3d%%", p->label, bar, pct);
	fflush(stderr);
}

void csd_progress_end(struct csd_progress *p)
{
	if (!p->tty)
		return;
	csd_progress_update(p, p->total);
	fputc('\n', stderr);
}
