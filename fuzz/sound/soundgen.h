/* SPDX-License-Identifier: MIT */
/*
 * A structured generator of eBPF programs for testing the verifier's soundness, in the manner
 * of Google's Buzzer and the BRF fuzzer: not random bytes (the loader refuses almost all of
 * those before the verifier sees them) but programs assembled from the shapes that break
 * verifiers: length guards, loads from the input, 32- and 64-bit ALU chains with interesting
 * constants, pointer arithmetic with derived scalars, diamonds and joins, bounded loops,
 * spills and fills of every width, atomics, map lookups with and without NULL checks, map
 * values, bpf-to-bpf calls with pointers into the caller's frame, helpers.
 *
 * The same seed gives the same program, so a finding is reproduced from its seed alone.
 */
#ifndef CSD_FUZZ_SOUNDGEN_H
#define CSD_FUZZ_SOUNDGEN_H

#include <stddef.h>
#include <stdint.h>

#include "csd/ebpf.h"

#define SOUNDGEN_MAX_INSNS	512
#define SOUNDGEN_MAX_CONSTS	64

/* The maps every generated program is given (created by soundgen_maps()). */
enum soundgen_map {
	SOUNDGEN_MAP_ARRAY,	/* array: key 4, value 16, 4 entries */
	SOUNDGEN_MAP_HASH,	/* hash: key 8, value 24, 8 entries */
	SOUNDGEN_MAP_DATA,	/* .data: one 40-byte value */
	SOUNDGEN_MAP_RODATA,	/* .rodata: one 16-byte value, read-only */
	SOUNDGEN_NMAPS,
};

struct soundgen_prog {
	struct csd_ebpf_insn insns[SOUNDGEN_MAX_INSNS];
	size_t cnt;
	/* constants the program compares with or adds: the oracle tries input lengths near them */
	int64_t consts[SOUNDGEN_MAX_CONSTS];
	size_t nconsts;
};

/* Generate program number `seed`. */
void soundgen_generate(uint64_t seed, struct soundgen_prog *out);

/*
 * The program's maps, as ebpf_prog_create() takes them (malloc'd; the program owns them
 * afterwards). Returns NULL without memory.
 */
struct ebpf_map *soundgen_maps(size_t *cnt);

#endif
