/* SPDX-License-Identifier: MIT */
/*
 * The corpus of realistic drive programs (programs/corpus/, docs/ebpf-runtime.md
 * "The corpus"): each program with the input it is meant for and its parameters. Each .bpf.c
 * is also built for the host (gcc -O2 and clang -O2, <csd/program.h>), which gives the
 * reference result and the native baseline; corpus_gen() writes the input.
 */
#ifndef CSD_CORPUS_H
#define CSD_CORPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum corpus_input {
	CORPUS_TEXT,		/* words, sentences and lines, "Alpha" among them (csd_textgen) */
	CORPUS_CSV,		/* id,qty,price,flag lines of decimal numbers */
	CORPUS_JSON,		/* {"id":..,"user":"..","bytes":..} lines */
	CORPUS_BYTES,		/* random bytes (binary records, words) */
	CORPUS_UTF8,		/* UTF-8 text with some invalid sequences */
	CORPUS_VARINT,		/* LEB128 varints of random lengths */
	CORPUS_KV,		/* key=value lines */
	CORPUS_RUNS,		/* runs of equal bytes */
};

struct corpus_prog {
	const char *name;	/* function and file name */
	enum corpus_input input;
	uint64_t p1, p2;	/* r3, r4 */
	const char *what;	/* one line for tables */
	bool keeps_state;	/* its map carries over from run to run: results differ */
};

extern const struct corpus_prog corpus_progs[];
extern const size_t corpus_prog_cnt;

/* A corpus program's entry point as the host build exports it. */
typedef uint64_t (*corpus_native_fn)(const uint8_t *data, uint64_t len, uint64_t p1, uint64_t p2);

struct csd_ebpf_prog;

/*
 * dir/NAME<suffix> (".bpf.o", ".v3.bpf.o") loaded and verified; *steps and *ms: the
 * verifier's. NULL with the reason in log (not found, not loaded, refused).
 */
struct csd_ebpf_prog *corpus_load(const char *dir, const char *name, const char *suffix,
				  uint64_t *steps, double *ms, char *log, size_t log_size);
/* dir/NAME.<compiler>.so ("gcc", "clang") opened, its entry point; NULL with the reason. */
corpus_native_fn corpus_native(const char *dir, const char *name, const char *compiler,
			       void **lib, char *log, size_t log_size);

const char *corpus_input_name(enum corpus_input input);
/* len bytes of the kind of input, the same for the same seed. */
void corpus_gen(enum corpus_input input, uint64_t seed, uint8_t *buf, size_t len);

#endif
