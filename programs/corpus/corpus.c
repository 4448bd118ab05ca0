// SPDX-License-Identifier: MIT
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "csd/ebpf.h"
#include "csd/textgen.h"
#include "util.h"

const struct corpus_prog corpus_progs[] = {
	{ "line_count", CORPUS_TEXT, 0, 0, "lines, as wc -l", false },
	{ "word_count", CORPUS_TEXT, 0, 0, "words, as wc -w", false },
	{ "longest_line", CORPUS_TEXT, 0, 0, "the longest line, as wc -L", false },
	{ "char_classes", CORPUS_TEXT, 0, 0, "upper, lower, digits, other", false },
	{ "token_count", CORPUS_TEXT, 0, 0, "tokens split by a delimiter table (.rodata)", false },
	{ "grep_lines", CORPUS_TEXT, 0, 0, "lines with Alpha, as grep -c", false },
	{ "alpha_nocase", CORPUS_TEXT, 0, 0, "alpha in any case, as grep -io", false },
	{ "multi_pattern", CORPUS_TEXT, 0, 0, "Alpha, Beta and Gamma at once", false },
	{ "word_lengths", CORPUS_TEXT, 0, 0, "word length histogram (global array)", false },
	{ "header_sum", CORPUS_TEXT, 0, 0, "byte sum of a 64-byte header", false },
	{ "header_copy", CORPUS_TEXT, 0, 0, "64-byte header copied to the stack", false },
	{ "count_u32", CORPUS_TEXT, 'e', 0, "a byte's count with 32-bit counters", false },
	{ "csv_column_sum", CORPUS_CSV, 2, 0, "a CSV column's sum in cents, header skipped", false },
	{ "csv_filter", CORPUS_CSV, 1, 500, "CSV lines whose column exceeds a value", false },
	{ "json_field_sum", CORPUS_JSON, 0, 0, "sum of a JSON field", false },
	{ "number_sum", CORPUS_CSV, 0, 0, "every number, by a parser helper", false },
	{ "kv_lookup", CORPUS_KV, 42, 0, "last value of a key (parser helper)", false },
	{ "crc32", CORPUS_BYTES, 0, 0, "CRC-32 by table (.bss)", false },
	{ "adler32", CORPUS_BYTES, 0, 0, "Adler-32", false },
	{ "fnv1a", CORPUS_BYTES, 0, 0, "64-bit FNV-1a hash", false },
	{ "histogram_map", CORPUS_BYTES, 0, 0, "byte histogram in an array map", false },
	{ "histogram_global", CORPUS_BYTES, 0, 0, "byte histogram in a global array", false },
	{ "record_sum", CORPUS_BYTES, 0, 0, "16-byte records: sum where a flag is set", false },
	{ "record_max", CORPUS_BYTES, 12, 0, "32-byte records: largest big-endian field", false },
	{ "block_checksums", CORPUS_BYTES, 0, 0, "per-512-byte-block sums (nested loop)", false },
	{ "word_sum", CORPUS_BYTES, 0, 0, "xor and sum of 64-bit words", false },
	{ "top_counter", CORPUS_TEXT, 0, 0, "first byte of each line in a map (kept)", true },
	{ "utf8_count", CORPUS_UTF8, 0, 0, "UTF-8 characters and invalid sequences", false },
	{ "varint_sum", CORPUS_VARINT, 0, 0, "sum of LEB128 varints", false },
	{ "byte_runs", CORPUS_RUNS, 0, 0, "runs of equal bytes, the longest", false },
};
const size_t corpus_prog_cnt = sizeof(corpus_progs) / sizeof(corpus_progs[0]);

struct csd_ebpf_prog *corpus_load(const char *dir, const char *name, const char *suffix,
				  uint64_t *steps, double *ms, char *log, size_t log_size)
{
	char path[1024], why[1024] = "";
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts, .log_buf = why, .log_size = sizeof(why));
	CSD_EBPF_OPTS(csd_ebpf_verify_opts, vopts, .log_buf = why, .log_size = sizeof(why));
	struct csd_ebpf_prog *prog = NULL;
	uint8_t *obj;
	size_t len;
	int err;

	snprintf(path, sizeof(path), "%s/%s%s", dir, name, suffix);
	if ((err = csd_read_file(path, &obj, &len))) {
		snprintf(log, log_size, "%s: %s", path, strerror(-err));
		return NULL;
	}
	err = csd_ebpf_prog__load_elf(obj, len, name, &lopts, &prog);
	free(obj);
	if (err) {
		snprintf(log, log_size, "%s: not loaded: %s", path, why);
		return NULL;
	}
	if (csd_ebpf_prog__verify(prog, &vopts)) {
		snprintf(log, log_size, "%s: refused by the verifier: %s", path, why);
		csd_ebpf_prog__free(prog);
		return NULL;
	}
	*steps = vopts.insns_analysed;
	*ms = (double)vopts.ns / 1e6;
	return prog;
}

corpus_native_fn corpus_native(const char *dir, const char *name, const char *compiler,
			       void **lib, char *log, size_t log_size)
{
	char path[1024];
	corpus_native_fn fn;

	snprintf(path, sizeof(path), "%s/%s.%s.so", dir, name, compiler);
	*lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*lib) {
		snprintf(log, log_size, "%s", dlerror());
		return NULL;
	}
	fn = (corpus_native_fn)(uintptr_t)dlsym(*lib, name);
	if (!fn)
		snprintf(log, log_size, "%s: no %s", path, name);
	return fn;
}

const char *corpus_input_name(enum corpus_input input)
{
	static const char *const names[] = { "text", "csv", "json", "bytes", "utf8", "varint",
					     "kv", "runs" };

	return input < sizeof(names) / sizeof(names[0]) ? names[input] : "?";
}

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Lines from `line` until len bytes are written; the last one is cut where len ends. */
static void fill_lines(uint64_t *s, uint8_t *buf, size_t len,
		       int (*line)(uint64_t *s, char *out, size_t size))
{
	char tmp[160];

	for (size_t at = 0; at < len;) {
		int n = line(s, tmp, sizeof(tmp));
		size_t take = (size_t)n < len - at ? (size_t)n : len - at;

		memcpy(buf + at, tmp, take);
		at += take;
	}
}

static int csv_line(uint64_t *s, char *out, size_t size)
{
	return snprintf(out, size, "%u,%u,%u.%02u,%u\n", (unsigned)(next(s) % 100000),
			(unsigned)(next(s) % 1000), (unsigned)(next(s) % 500),
			(unsigned)(next(s) % 100), (unsigned)(next(s) % 2));
}

static int json_line(uint64_t *s, char *out, size_t size)
{
	static const char *const users[] = { "ann", "bob", "chloe", "dmitri", "eve" };

	return snprintf(out, size, "{\"id\":%u,\"user\":\"%s\",\"bytes\":%u,\"ok\":%s}\n",
			(unsigned)(next(s) % 1000000), users[next(s) % 5],
			(unsigned)(next(s) % 70000), next(s) % 2 ? "true" : "false");
}

static int kv_line(uint64_t *s, char *out, size_t size)
{
	return snprintf(out, size, "%u=%u\n", (unsigned)(next(s) % 64),
			(unsigned)(next(s) % 1000000));
}

void corpus_gen(enum corpus_input input, uint64_t seed, uint8_t *buf, size_t len)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull | 1;

	switch (input) {
	case CORPUS_TEXT: {
		struct csd_textgen g;

		csd_textgen_init(&g, seed, 20);
		csd_textgen_fill(&g, buf, len);
		break;
	}
	case CORPUS_CSV:
		fill_lines(&s, buf, len, csv_line);
		break;
	case CORPUS_JSON:
		fill_lines(&s, buf, len, json_line);
		break;
	case CORPUS_KV:
		fill_lines(&s, buf, len, kv_line);
		break;
	case CORPUS_BYTES:
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(next(&s) >> 24);
		break;
	case CORPUS_UTF8:
		for (size_t i = 0; i < len;) {
			uint64_t r = next(&s);
			/* mostly ASCII, then 2-, 3- and 4-byte characters, now and then a bad byte */
			static const uint8_t seq[][4] = { { 'a' }, { 0xc3, 0xa9 }, { 0xe2, 0x82, 0xac },
							  { 0xf0, 0x9f, 0x98, 0x80 }, { 0x80 },
							  { 0xe2, 0x28 } };
			static const uint8_t seqlen[] = { 1, 2, 3, 4, 1, 2 };
			unsigned k = r % 100 < 80 ? 0 : r % 100 < 88 ? 1 : r % 100 < 94 ? 2 :
				     r % 100 < 97 ? 3 : r % 100 < 99 ? 4 : 5;

			for (unsigned b = 0; b < seqlen[k] && i < len; b++)
				buf[i++] = k ? seq[k][b] : (uint8_t)(' ' + (r >> 8) % 95);
		}
		break;
	case CORPUS_VARINT:
		for (size_t i = 0; i < len;) {
			uint64_t v = next(&s) >> (next(&s) % 64);

			do {
				buf[i++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
				v >>= 7;
			} while (v && i < len);
		}
		break;
	case CORPUS_RUNS:
		for (size_t i = 0; i < len;) {
			uint64_t r = next(&s);
			size_t run = 1 + r % 40;

			for (size_t k = 0; k < run && i < len; k++)
				buf[i++] = (uint8_t)(r >> 32) % 4 + 'a';
		}
		break;
	}
}
