/* SPDX-License-Identifier: MIT */
/*
 * Mnemonics of the bpf_conformance text syntax, shared by the assembler and the disassembler
 * so that the two can never disagree (they are round-trip tested).
 */
#ifndef CSD_EBPF_ISA_NAMES_H
#define CSD_EBPF_ISA_NAMES_H

#include <stdint.h>

struct isa_name {
	const char *name;
	uint8_t op;	/* BPF_OP() bits, or the atomic imm */
	int16_t off;	/* 1 for the signed div/mod forms */
};

extern const struct isa_name isa_alu_ops[];	/* terminated by a NULL name */
extern const struct isa_name isa_jmp_ops[];
extern const struct isa_name isa_atomic_ops[];
extern const char *const isa_size_suffix[4];	/* by BPF_SIZE() >> 3: w, h, b, dw */

#endif
