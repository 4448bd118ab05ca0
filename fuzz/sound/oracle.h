/* SPDX-License-Identifier: MIT */
/*
 * The differential oracle of the soundness fuzzer: a program the verifier accepts is run with
 * every access checked, in the interpreter, over inputs of many lengths (0, 1, around every
 * constant it uses, large) and contents; it must never fault on memory, a helper's pointer or
 * the call depth. It is also run twice side by side, as two loaded copies with their input,
 * maps and stack at different addresses: any difference in result, input memory, map
 * contents or device log means a drive address reached something the host can read. And the
 * JIT code the drive runs for a verified program (sandboxed and guarded, docs/ebpf-runtime.md)
 * must compute exactly what the checked run computed.
 */
#ifndef CSD_FUZZ_ORACLE_H
#define CSD_FUZZ_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csd/ebpf.h"

enum oracle_verdict {
	ORACLE_NOT_LOADED,	/* the loader refused it (the verifier never saw it) */
	ORACLE_REFUSED,		/* the verifier refused it */
	ORACLE_SOUND,		/* accepted, and every run kept to its memory and leaked nothing */
	ORACLE_FAULT,		/* accepted, and a checked run faulted: the proof was wrong */
	ORACLE_LEAK,		/* accepted, and what the host sees depends on drive addresses */
	ORACLE_ENGINES_DIFFER,	/* accepted, and its JIT code computed something else */
};

struct oracle_report {
	enum oracle_verdict verdict;
	size_t len;		/* the input length of the run that showed it */
	char msg[512];
};

struct oracle;

/* One per thread: the input buffers it runs over. */
struct oracle *oracle_new(void);
void oracle_free(struct oracle *o);

/*
 * Judge one program. `consts` are the constants it uses (input lengths around them are
 * tried). The program gets soundgen_maps()'s maps.
 */
enum oracle_verdict oracle_judge(struct oracle *o, const struct csd_ebpf_insn *insns, size_t cnt,
				 const int64_t *consts, size_t nconsts, uint64_t seed,
				 struct oracle_report *rep);

#endif
