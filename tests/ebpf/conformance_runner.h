/* SPDX-License-Identifier: MIT */
/* Run one bpf_conformance .data file through csdlab's assembler, loader and interpreter. */
#ifndef CSD_TEST_CONFORMANCE_RUNNER_H
#define CSD_TEST_CONFORMANCE_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csd/ebpf.h"

enum conf_stage { CONF_PARSE, CONF_ASM, CONF_LOAD, CONF_RUN, CONF_OK };

struct conf_outcome {
	enum conf_stage stage;	/* where it stopped: CONF_OK when it ran to exit */
	uint64_t r0;
	bool has_result, has_error;
	uint64_t expected;
	char msg[512];
	struct csd_ebpf_insn *insns;	/* the program, when it got that far (free()) */
	size_t insn_cnt;
	uint8_t *mem;			/* the input memory (free()) */
	size_t mem_len;
	bool verified;			/* with conf_verify: the verifier proved it, and it ran so */
	char verify_msg[512];		/* with conf_verify: why the verifier refused it */
};

/* Verify each program after loading; verified programs then run without per-access checks. */
extern bool conf_verify;
/* The engine that runs the programs (default: the interpreter). */
extern enum csd_ebpf_engine conf_engine;

/* Parse, assemble (or take -- raw), load and run `text`. raw_bytes: -- raw is single bytes. */
void conf_run_text(const char *text, bool raw_bytes, struct conf_outcome *out);
void conf_outcome_free(struct conf_outcome *out);

#endif
