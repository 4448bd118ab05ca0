/* SPDX-License-Identifier: MIT */
#include <linux/bpf.h>
#include <stddef.h>

#include "isa_names.h"

const struct isa_name isa_alu_ops[] = {
	{ "add", BPF_ADD, 0 },	{ "sub", BPF_SUB, 0 },	{ "mul", BPF_MUL, 0 },
	{ "div", BPF_DIV, 0 },	{ "sdiv", BPF_DIV, 1 },	{ "or", BPF_OR, 0 },
	{ "and", BPF_AND, 0 },	{ "lsh", BPF_LSH, 0 },	{ "rsh", BPF_RSH, 0 },
	{ "neg", BPF_NEG, 0 },	{ "mod", BPF_MOD, 0 },	{ "smod", BPF_MOD, 1 },
	{ "xor", BPF_XOR, 0 },	{ "mov", BPF_MOV, 0 },	{ "arsh", BPF_ARSH, 0 },
	{ NULL, 0, 0 },
};

const struct isa_name isa_jmp_ops[] = {
	{ "jeq", BPF_JEQ, 0 },	 { "jgt", BPF_JGT, 0 },	  { "jge", BPF_JGE, 0 },
	{ "jset", BPF_JSET, 0 }, { "jne", BPF_JNE, 0 },	  { "jsgt", BPF_JSGT, 0 },
	{ "jsge", BPF_JSGE, 0 }, { "jlt", BPF_JLT, 0 },	  { "jle", BPF_JLE, 0 },
	{ "jslt", BPF_JSLT, 0 }, { "jsle", BPF_JSLE, 0 }, { NULL, 0, 0 },
};

const struct isa_name isa_atomic_ops[] = {
	{ "add", BPF_ADD, 0 },	 { "or", BPF_OR, 0 },	    { "and", BPF_AND, 0 },
	{ "xor", BPF_XOR, 0 },	 { "xchg", BPF_XCHG, 0 },   { "cmpxchg", BPF_CMPXCHG, 0 },
	{ NULL, 0, 0 },
};

const char *const isa_size_suffix[4] = { "w", "h", "b", "dw" };
