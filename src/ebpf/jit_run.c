/* SPDX-License-Identifier: MIT */
/*
 * The JIT's runtime: a run's context (the same regions the interpreter checks against), the
 * call into the machine code, and the C the code calls on its rare paths: an access outside
 * the input and the stack, a budget refill, a fault, an indirect call, division, and the
 * atomics x86 has no single instruction for. Faults read exactly like the interpreter's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* REG_RIP */
#endif
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <asm/prctl.h>
#include <ucontext.h>

#include "jit.h"

/* The JIT run on this thread, for the interrupt handler (NULL outside JIT code). */
static __thread struct jit_ctx *volatile active_run;
static struct sigaction previous_sigurg;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

/*
 * SIGURG: if this thread is inside a JIT run's code body and the run's abort flag is set,
 * resume at the code's abort entry (r12 holds the context there; the entry resets the stack).
 * Anywhere else (C helpers, the prologue, the exits) the interrupt is ignored: the drive's
 * watchdog sends another every 5 ms.
 * Only reads of plain memory and one store: async-signal-safe.
 */
static void on_sigurg(int sig, siginfo_t *info, void *ucv)
{
	struct jit_ctx *ctx = active_run;
	ucontext_t *uc = ucv;

	if (ctx && ctx->run.opts->abort && *ctx->run.opts->abort) {
		uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
		uint64_t base = (uint64_t)(uintptr_t)ctx->code->code;

		/* only in the body: in the prologue or the exits r12 is not (or no longer) ctx */
		if (rip - base >= ctx->code->body_start && rip - base < ctx->code->size) {
			ctx->interrupted_rip = rip;
			uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(base + ctx->code->abort_entry);
			return;
		}
	}
	if (previous_sigurg.sa_flags & SA_SIGINFO) {
		if (previous_sigurg.sa_sigaction)
			previous_sigurg.sa_sigaction(sig, info, ucv);
	} else if (previous_sigurg.sa_handler != SIG_DFL && previous_sigurg.sa_handler != SIG_IGN) {
		previous_sigurg.sa_handler(sig);
	}
}

static struct sigaction previous_sigsegv;

/*
 * SIGSEGV: sandboxed code (a verified program whose input is in a sandbox, sandbox.c) whose
 * access hit the sandbox's guard pages: the proof was wrong. The run ends there with a memory
 * fault, as at an abort; the drive goes on. Any other SIGSEGV is not ours: the previous
 * handler's, or the default action once this handler returns to the faulting instruction.
 */
static void on_sigsegv(int sig, siginfo_t *info, void *ucv)
{
	struct jit_ctx *ctx = active_run;
	ucontext_t *uc = ucv;

	if (ctx && ctx->sandbox_base) {
		uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
		uint64_t base = (uint64_t)(uintptr_t)ctx->code->code;
		uint64_t addr = (uint64_t)(uintptr_t)info->si_addr;

		if (rip - base >= ctx->code->body_start && rip - base < ctx->code->size &&
		    addr - (ctx->sandbox_base - 65536) < (UINT64_C(1) << 32) + 2 * 65536) {
			ctx->interrupted_rip = rip;
			ctx->segv_addr = addr;
			ctx->segv = true;
			uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(base + ctx->code->abort_entry);
			return;
		}
	}
	if (previous_sigsegv.sa_flags & SA_SIGINFO) {
		if (previous_sigsegv.sa_sigaction) {
			previous_sigsegv.sa_sigaction(sig, info, ucv);
			return;
		}
	} else if (previous_sigsegv.sa_handler != SIG_DFL &&
		   previous_sigsegv.sa_handler != SIG_IGN) {
		previous_sigsegv.sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL);	/* the instruction runs again and the default action follows */
}

static void install_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigurg;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGURG, &sa, &previous_sigurg);
	sa.sa_sigaction = on_sigsegv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, &previous_sigsegv);
}

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE	(1 << 1)
#endif

static bool gs_by_instruction;	/* FSGSBASE: wrgsbase, else the arch_prctl() system call */
static bool gs_usable;
static pthread_once_t gs_once = PTHREAD_ONCE_INIT;

static void probe_gs(void)
{
	unsigned long v;

	gs_by_instruction = getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE;
	gs_usable = gs_by_instruction || syscall(SYS_arch_prctl, ARCH_GET_GS, &v) == 0;
}

bool jit_can_use_gs(void)
{
	pthread_once(&gs_once, probe_gs);
	return gs_usable && !getenv("CSD_JIT_NO_GS");
}

/*
 * GS's base on this thread, as this file last set it (0: not yet). Nothing else in csdlab's
 * processes uses GS (glibc's thread data is FS's), so it stays the last run's sandbox, and a
 * thread that runs over the same sandbox again (a host's SLM, the benchmarks' input) sets
 * nothing: without FSGSBASE that is a system call saved per run.
 */
static __thread uint64_t gs_base_now;

static int set_gs_base(uint64_t base)
{
	if (gs_base_now == base)
		return 0;
	if (gs_by_instruction)
		__asm__ volatile("wrgsbase %0" : : "r"(base) : "memory");
	else if (syscall(SYS_arch_prctl, ARCH_SET_GS, base))
		return -errno;
	gs_base_now = base;
	return 0;
}

void csd_ebpf_run_interrupt(pthread_t thread)
{
	pthread_kill(thread, SIGURG);
}

/* The instruction whose code holds `rip` (the last one starting at or before it). */
static uint32_t pc_of_rip(const struct ebpf_jit_code *code, uint64_t rip)
{
	uint64_t off = rip - (uint64_t)(uintptr_t)code->code;
	size_t lo = 0, hi = code->npc;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (code->pc_off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

void jit_interrupted(struct jit_ctx *ctx)
{
	ctx->run.pc = pc_of_rip(ctx->code, ctx->interrupted_rip);
	if (ctx->segv)
		ebpf_run_fault(&ctx->run, CSD_EBPF_FAULT_MEMORY, ctx->segv_addr, 0,
			       "access at 0x%llx is outside the program's memory (it reached the "
			       "input sandbox's guard: the verifier's proof did not hold)",
			       (unsigned long long)ctx->segv_addr);
	else
		ebpf_run_fault(&ctx->run, CSD_EBPF_FAULT_ABORTED, 0, 0, "run aborted");
}

int jit_mem_slow(struct jit_ctx *ctx, uint64_t addr, uint64_t size_write, uint64_t pc)
{
	unsigned size = (unsigned)(size_write & 0xff);
	bool write = size_write >> 8;

	if (ebpf_region_check(&ctx->run, addr, size, write))
		return 1;
	ctx->run.pc = (uint32_t)pc;
	ebpf_run_fault(&ctx->run, CSD_EBPF_FAULT_MEMORY, addr, size,
		       "%u-byte %s at 0x%llx is outside the program's memory%s", size,
		       write ? "write" : "read", (unsigned long long)addr,
		       ebpf_region_check(&ctx->run, addr, size, false) ? " (read-only region)" : "");
	return 0;
}

void jit_refill(struct jit_ctx *ctx, uint64_t pc)
{
	ctx->run.pc = (uint32_t)pc;
	ctx->chunk = 0;
	if (ctx->run.opts->abort && *ctx->run.opts->abort) {
		ebpf_run_fault(&ctx->run, CSD_EBPF_FAULT_ABORTED, 0, 0, "run aborted");
		return;
	}
	if (ctx->left == 0) {
		ebpf_run_fault(&ctx->run, CSD_EBPF_FAULT_BUDGET, 0, 0,
			       "budget of %llu loop iterations and calls used up",
			       (unsigned long long)ctx->budget);
		return;
	}
	ctx->chunk = ctx->left < JIT_BUDGET_CHUNK ? ctx->left : JIT_BUDGET_CHUNK;
	ctx->left -= ctx->chunk;
}

void jit_fault_depth(struct jit_ctx *ctx, uint64_t addr, uint64_t pc)
{
	(void)addr;
	ctx->run.pc = (uint32_t)pc;
	ebpf_run_fault(&ctx->run, CSD_EBPF_FAULT_CALL_DEPTH, 0, 0, "more than %d nested calls",
		       CSD_EBPF_MAX_FRAMES - 1);
}

void jit_fault_misaligned(struct jit_ctx *ctx, uint64_t addr, uint64_t pc)
{
	ctx->run.pc = (uint32_t)pc;
	ebpf_run_fault(&ctx->run, CSD_EBPF_FAULT_MEMORY, addr, 0,
		       "atomic access at 0x%llx is not naturally aligned",
		       (unsigned long long)addr);
}

uint64_t jit_callx(struct ebpf_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
		   uint64_t r5)
{
	struct jit_ctx *ctx = (struct jit_ctx *)run;
	ebpf_helper_fn helper = ebpf_helper_lookup((int64_t)ctx->callx_id);

	if (!helper)
		return ebpf_run_fault(run, CSD_EBPF_FAULT_HELPER, 0, 0,
				      "callx to helper %lld, which does not exist",
				      (long long)ctx->callx_id);
	return helper(run, r1, r2, r3, r4, r5);
}

/* kind: bit 0 modulo, bit 1 signed, bit 2 64-bit; eBPF's answers where C's are undefined. */
uint64_t jit_divmod(uint64_t a, uint64_t b, uint64_t kind)
{
	bool mod = kind & 1, sgn = kind & 2, wide = kind & 4;

	if (!wide) {
		uint32_t x = (uint32_t)a, y = (uint32_t)b;

		if (!sgn)
			return mod ? (y ? x % y : x) : (y ? x / y : 0);
		if (y == 0)
			return mod ? x : 0;
		if ((int32_t)y == -1)
			return mod ? 0 : (uint32_t)-x;
		return (uint32_t)(mod ? (int32_t)x % (int32_t)y : (int32_t)x / (int32_t)y);
	}
	if (!sgn)
		return mod ? (b ? a % b : a) : (b ? a / b : 0);
	if (b == 0)
		return mod ? a : 0;
	if ((int64_t)b == -1)
		return mod ? 0 : -a;
	return (uint64_t)(mod ? (int64_t)a % (int64_t)b : (int64_t)a / (int64_t)b);
}

uint64_t jit_atomic_fetch(uint64_t addr, uint64_t val, uint64_t op_size)
{
	unsigned op = (unsigned)(op_size & 0xffffffffu) & ~BPF_FETCH;

	if (op_size >> 32 == 4) {
		uint32_t *p = (uint32_t *)(uintptr_t)addr;

		switch (op) {
		case BPF_OR: return __atomic_fetch_or(p, (uint32_t)val, __ATOMIC_SEQ_CST);
		case BPF_AND: return __atomic_fetch_and(p, (uint32_t)val, __ATOMIC_SEQ_CST);
		default: return __atomic_fetch_xor(p, (uint32_t)val, __ATOMIC_SEQ_CST);
		}
	}
	{
		uint64_t *p = (uint64_t *)(uintptr_t)addr;

		switch (op) {
		case BPF_OR: return __atomic_fetch_or(p, val, __ATOMIC_SEQ_CST);
		case BPF_AND: return __atomic_fetch_and(p, val, __ATOMIC_SEQ_CST);
		default: return __atomic_fetch_xor(p, val, __ATOMIC_SEQ_CST);
		}
	}
}

int ebpf_jit_run(struct csd_ebpf_prog *prog, const struct ebpf_jit_code *code, void *mem,
		 size_t len, uint64_t sandbox_base, struct csd_ebpf_run_opts *opts, uint64_t *ret)
{
	/*
	 * The stack's top 2 KiB from the input's page offset (16-byte aligned): a load from the
	 * input whose address matches an earlier store to the stack in its low 12 bits waits
	 * for the store (4K aliasing), and where the C stack fell would decide it for a header
	 * program (its frame the top bytes, its input a page's first). That was not what made
	 * header_copy take 150-170 ns in some processes and 80-85 ns in others: those ran on
	 * the machine's slower CPU (docs/results.md). The fuzzers and the soundness oracle move
	 * the interpreter's stack to tell an address-dependent program, so the JIT's may sit
	 * anywhere 16-aligned.
	 */
	uint8_t area[JIT_STACK_BYTES + JIT_STACK_SLACK + 4096] __attribute__((aligned(16)));
	uintptr_t lowest_top = (uintptr_t)area + JIT_STACK_BYTES;
	uint8_t *top = (uint8_t *)(lowest_top +
				   ((((uintptr_t)mem + 2048) & 0xff0) - lowest_top) % 4096);
	uint8_t *stack = top - JIT_STACK_BYTES;
	static const unsigned sizes[4] = { 1, 2, 4, 8 };
	struct jit_ctx ctx;
	uint64_t r0 = 0;

	/*
	 * A header-sized program runs in a few nanoseconds, so what the run clears counts: every
	 * field of the context is set here one by one (its region table up to nregions), the
	 * stack the code can reach is cleared (prog->stack_bytes: earlier data of this thread
	 * must not be readable, even by a wrong proof), and the fault's fields, not its message
	 * buffer.
	 */
	ctx.run.nregions = 0;
	ctx.run.faulted = false;
	ctx.saved_rsp = 0;
	ctx.callx_id = 0;
	if (!mem)
		len = 0;
	ctx.run.prog = prog;
	ctx.run.opts = opts;
	opts->insns_executed = 0;
	opts->fault.kind = CSD_EBPF_FAULT_NONE;
	opts->fault.pc = 0;
	opts->fault.addr = 0;
	opts->fault.size = 0;
	opts->fault.msg[0] = '\0';
	ctx.stack_top = (uint64_t)(uintptr_t)stack + JIT_STACK_BYTES;
	ctx.stack_start = ctx.stack_top - prog->stack_bytes;
	ebpf_run_set_regions(&ctx.run, mem, len, (void *)(uintptr_t)ctx.stack_start,
			     prog->stack_bytes);
	ctx.mem_start = (uint64_t)(uintptr_t)mem;
	for (int i = 0; i < 4; i++) {
		ctx.in_lim[i] = len >= sizes[i] ? len - sizes[i] + 1 : 0;
		ctx.in_wlim[i] = opts->mem_readonly ? 0 : ctx.in_lim[i];
	}
	ctx.r1 = ctx.mem_start;
	ctx.r2 = len;
	ctx.r3 = opts->args[0];
	ctx.r4 = opts->args[1];
	ctx.r5 = opts->args[2];
	ctx.budget = opts->budget ? opts->budget : CSD_EBPF_DEFAULT_BUDGET;
	ctx.code = code;
	ctx.sandbox_base = sandbox_base;
	pthread_once(&handler_once, install_handler);
	/* opts->repeat runs over the same input, each as a run of its own: its stack cleared */
	for (uint32_t n = opts->repeat ? opts->repeat : 1; n && !ctx.run.faulted; n--) {
		ctx.run.pc = 0;
		ctx.interrupted_rip = 0;
		ctx.segv_addr = 0;
		ctx.segv = false;
		ctx.chunk = ctx.budget < JIT_BUDGET_CHUNK ? ctx.budget : JIT_BUDGET_CHUNK;
		ctx.left = ctx.budget - ctx.chunk;
		memset(stack + JIT_STACK_BYTES - prog->stack_bytes, 0,
		       prog->stack_bytes + JIT_STACK_SLACK);
		active_run = &ctx;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (opts->abort && *opts->abort) {	/* an interrupt before this found no run */
			ebpf_run_fault(&ctx.run, CSD_EBPF_FAULT_ABORTED, 0, 0, "run aborted");
			r0 = 0;
		} else if (code->gs && set_gs_base(sandbox_base)) {
			ebpf_run_fault(&ctx.run, CSD_EBPF_FAULT_ABORTED, 0, 0,
				       "could not point GS at the input's sandbox");
			r0 = 0;
		} else {
			r0 = ((jit_entry_fn)code->code)(&ctx);
		}
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		active_run = NULL;
	}

	/* sandboxed code keeps the sandbox in r9, where the others count the budget down */
	opts->insns_executed = sandbox_base ? 0 : ctx.budget - ctx.left - ctx.chunk;
	if (ctx.run.faulted) {
		if (ret)
			*ret = 0;
		return ebpf_fault_errno(opts->fault.kind);
	}
	if (ret)
		*ret = r0;
	return 0;
}
