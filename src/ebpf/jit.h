/* SPDX-License-Identifier: MIT */
/*
 * Between the JIT's code generator (jit_x86_64.c) and its runtime (jit_run.c): the context a
 * run's machine code reads through r12, and the C functions that code calls on its rare paths.
 */
#ifndef CSD_EBPF_JIT_H
#define CSD_EBPF_JIT_H

#include "ebpf_internal.h"

#define JIT_STACK_BYTES	(CSD_EBPF_MAX_FRAMES * CSD_EBPF_STACK_SIZE)
/* past the stack's top: where a confined 8-byte access at its last byte ends (cleared too) */
#define JIT_STACK_SLACK	16
#define JIT_BUDGET_CHUNK	65536u

/* Not cleared as a whole: ebpf_jit_run() sets each field (a new field must be set there). */
struct jit_ctx {
	struct ebpf_run run;	/* first: helpers get the context's address as their run */
	uint64_t r1, r2, r3, r4, r5;	/* at entry */
	uint64_t stack_top;
	uint64_t stack_start;
	uint64_t mem_start;
	uint64_t in_lim[4];	/* an access of size 1, 2, 4, 8 at mem_start + rel is inside if rel < lim */
	uint64_t in_wlim[4];	/* the same for writes (0 when the input is read-only) */
	uint64_t chunk;		/* budget countdown: in r9 while the code runs */
	uint64_t left;		/* budget beyond the chunk */
	uint64_t budget;
	uint64_t saved_rsp;
	uint64_t callx_id;
	uint64_t interrupted_rip;	/* set by the signal handler */
	const struct ebpf_jit_code *code;
	uint64_t sandbox_base;	/* sandboxed code: the input's 4 GiB-aligned sandbox, in r9 */
	uint64_t segv_addr;	/* sandboxed code: where an access hit the sandbox's guard */
	bool segv;
};

/* How a program is compiled: prog->jit[mode]. */
enum jit_mode {
	JIT_CHECKED,		/* not verified: every access checked */
	JIT_VERIFIED,		/* verified: one check per access, of the region it was proven in */
	JIT_SANDBOXED,		/* verified, input in a sandbox: input accesses masked into it */
	JIT_MODES,
};
_Static_assert(JIT_MODES == EBPF_JIT_MODES, "prog->jit[] has a slot per mode");

typedef uint64_t (*jit_entry_fn)(struct jit_ctx *ctx);

int ebpf_jit_compile(const struct csd_ebpf_prog *prog, enum jit_mode mode, struct ebpf_jit_code *out);
void ebpf_jit_free(struct ebpf_jit_code *code);

/* Run a compiled program: the same contract as csd_ebpf_prog__run(). */
int ebpf_jit_run(struct csd_ebpf_prog *prog, const struct ebpf_jit_code *code, void *mem,
		 size_t len, uint64_t sandbox_base, struct csd_ebpf_run_opts *opts, uint64_t *ret);

/*
 * Whether runs may point GS's base at their sandbox (wrgsbase where the CPU and kernel allow
 * it, else arch_prctl()) and CSD_JIT_NO_GS is not set: then sandboxed code addresses its
 * input as gs:[offset] with a 32-bit offset, one instruction an access (jit_run.c).
 */
bool jit_can_use_gs(void);

/* Called from machine code. */
int jit_mem_slow(struct jit_ctx *ctx, uint64_t addr, uint64_t size_write, uint64_t pc);
void jit_refill(struct jit_ctx *ctx, uint64_t pc);
void jit_fault_depth(struct jit_ctx *ctx, uint64_t addr, uint64_t pc);
void jit_fault_misaligned(struct jit_ctx *ctx, uint64_t addr, uint64_t pc);
uint64_t jit_callx(struct ebpf_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
		   uint64_t r5);
uint64_t jit_divmod(uint64_t a, uint64_t b, uint64_t kind);
uint64_t jit_atomic_fetch(uint64_t addr, uint64_t val, uint64_t op_size);
void jit_interrupted(struct jit_ctx *ctx);

#endif
