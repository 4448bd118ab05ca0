/* SPDX-License-Identifier: MIT */
/*
 * The interpreter: threaded dispatch (computed goto, one label per opcode), no allocation per
 * run (the call stack and frames live on the C stack), and a memory check on every load and
 * store against the regions the program was given. The loader has already refused malformed
 * encodings, so the handlers here trust register numbers and jump targets.
 *
 * The instruction budget costs one test and decrement per instruction: the hot counter `chunk`
 * runs down to zero every BUDGET_CHUNK instructions, and only then does the slow path take the
 * next chunk from the budget and look at the abort flag.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ebpf_internal.h"
#include "jit.h"

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define BUDGET_CHUNK	65536u

static inline bool region_hit(const struct ebpf_region *r, uint64_t addr, uint64_t size)
{
	uint64_t rel = addr - r->start;

	return rel < r->len && size <= r->len - rel;
}

bool ebpf_region_check(const struct ebpf_run *run, uint64_t addr, uint64_t size, bool write)
{
	for (unsigned i = 0; i < run->nregions; i++) {
		const struct ebpf_region *r = &run->regions[i];

		if (region_hit(r, addr, size))
			return !write || r->writable;
	}
	return false;
}

uint64_t ebpf_run_fault(struct ebpf_run *run, enum csd_ebpf_fault_kind kind, uint64_t addr,
			uint32_t size, const char *fmt, ...)
{
	struct csd_ebpf_fault *f = &run->opts->fault;
	char text[64];
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	csd_ebpf_disasm_insn(&run->prog->insns[run->pc], run->prog->insn_cnt - run->pc, text,
			     sizeof(text));
	f->kind = kind;
	f->pc = run->pc;
	f->addr = addr;
	f->size = size;
	snprintf(f->msg, sizeof(f->msg), "pc %u (%s): %s", run->pc, text, why);
	run->faulted = true;
	return 0;
}

static void add_region(struct ebpf_run *run, const void *start, uint64_t len, bool writable,
		       const char *name)
{
	if (run->nregions < EBPF_MAX_REGIONS && len)
		run->regions[run->nregions++] = (struct ebpf_region){
			(uint64_t)(uintptr_t)start, len, writable, name };
}

void ebpf_run_set_regions(struct ebpf_run *run, void *mem, size_t len, void *stack,
			  size_t stack_size)
{
	const struct csd_ebpf_prog *prog = run->prog;

	add_region(run, mem, len, !run->opts->mem_readonly, "input");
	add_region(run, stack, stack_size, true, "stack");
	for (size_t i = 0; i < prog->map_cnt; i++) {
		const struct ebpf_map *m = &prog->maps[i];

		add_region(run, m->values, (uint64_t)m->value_size * m->max_entries, !m->readonly,
			   m->name);
	}
}

struct frame {
	const struct csd_ebpf_insn *ret;
	uint64_t saved[4];	/* r6..r9: callee-saved by the calling convention */
	uint64_t fp;
};

static inline uint64_t bswap_width(uint64_t v, int32_t width)
{
	switch (width) {
	case 16: return __builtin_bswap16((uint16_t)v);
	case 32: return __builtin_bswap32((uint32_t)v);
	default: return __builtin_bswap64(v);
	}
}

static inline uint64_t truncate_width(uint64_t v, int32_t width)
{
	switch (width) {
	case 16: return (uint16_t)v;
	case 32: return (uint32_t)v;
	default: return v;
	}
}

static inline int64_t sext(uint64_t v, int bits)
{
	switch (bits) {
	case 8: return (int8_t)v;
	case 16: return (int16_t)v;
	default: return (int32_t)v;
	}
}

/* Signed division and modulo with eBPF's answers where C has undefined behaviour. */
static inline uint64_t sdiv64(int64_t a, int64_t b)
{
	if (b == 0)
		return 0;
	if (b == -1)
		return -(uint64_t)a;
	return (uint64_t)(a / b);
}

static inline uint64_t smod64(int64_t a, int64_t b)
{
	if (b == 0)
		return (uint64_t)a;
	if (b == -1)
		return 0;
	return (uint64_t)(a % b);
}

static inline uint32_t sdiv32(int32_t a, int32_t b)
{
	if (b == 0)
		return 0;
	if (b == -1)
		return -(uint32_t)a;
	return (uint32_t)(a / b);
}

static inline uint32_t smod32(int32_t a, int32_t b)
{
	if (b == 0)
		return (uint32_t)a;
	if (b == -1)
		return 0;
	return (uint32_t)(a % b);
}

int ebpf_fault_errno(enum csd_ebpf_fault_kind kind)
{
	switch (kind) {
	case CSD_EBPF_FAULT_BUDGET: return -ETIME;
	case CSD_EBPF_FAULT_ABORTED: return -ECANCELED;
	case CSD_EBPF_FAULT_CALL_DEPTH: return -ELOOP;
	default: return -EFAULT;
	}
}

/*
 * The interpreter keeps its checks for verified programs too: they cost it nothing measurable
 * (bench/vm: 153.8 MB/s checked, 150.4 without) and a wrong proof then cannot reach other
 * memory.
 */
#define INTERP_FN interp_run_checked
#include "interp_loop.h"
#undef INTERP_FN

bool csd_ebpf_jit_available(void)
{
#ifdef CSD_EBPF_HAVE_JIT
	return true;
#else
	return false;
#endif
}

#ifdef CSD_EBPF_HAVE_JIT
/* The program's machine code for this kind of run, compiled once (under the program's lock). */
static const struct ebpf_jit_code *jit_code(struct csd_ebpf_prog *prog, enum jit_mode mode, int *err)
{
	struct ebpf_jit_code *code = &prog->jit[mode];

	/* compiled already: no lock (ebpf_jit_compile() publishes the code pointer last) */
	if (__atomic_load_n(&code->code, __ATOMIC_ACQUIRE)) {
		*err = 0;
		return code;
	}
	pthread_mutex_lock(&prog->jit_lock);
	if (!code->code && !prog->jit_err[mode])
		prog->jit_err[mode] = ebpf_jit_compile(prog, mode, code);
	*err = prog->jit_err[mode];
	pthread_mutex_unlock(&prog->jit_lock);
	return *err ? NULL : code;
}
#endif

int csd_ebpf_prog__run(struct csd_ebpf_prog *prog, void *mem, size_t len,
		       struct csd_ebpf_run_opts *opts, uint64_t *ret)
{
	struct csd_ebpf_run_opts default_opts;	/* set only when used: it is 300 bytes */
	enum csd_ebpf_engine engine;
	bool verified;

	if (!opts) {
		default_opts = (struct csd_ebpf_run_opts){ .sz = sizeof(default_opts) };
		opts = &default_opts;
	}
	engine = opts->engine;
	/*
	 * The proof holds for inputs up to EBPF_VERIFY_MAX_INPUT bytes, and assumed the input
	 * writable if the program writes it: otherwise the run keeps its checks.
	 */
	verified = prog->verified && (!mem || len <= EBPF_VERIFY_MAX_INPUT) &&
		   !opts->force_checks && !(prog->writes_input && opts->mem_readonly);
	if (engine == CSD_EBPF_ENGINE_JIT && !csd_ebpf_jit_available())
		return -EOPNOTSUPP;
#ifdef CSD_EBPF_HAVE_JIT
	if (engine != CSD_EBPF_ENGINE_INTERP) {
		int err;
		uint64_t sandbox = 0;
		enum jit_mode mode = !verified ? JIT_CHECKED :
				     ebpf_sandbox_of(mem, len, &sandbox) ? JIT_SANDBOXED : JIT_VERIFIED;
		const struct ebpf_jit_code *code = jit_code(prog, mode, &err);

		if (code)
			return ebpf_jit_run(prog, code, mem, len,
					    mode == JIT_SANDBOXED ? sandbox : 0, opts, ret);
		if (engine == CSD_EBPF_ENGINE_JIT)
			return err;
		/* the default engine falls back to the interpreter */
	}
#endif
	for (uint32_t n = opts->repeat > 1 ? opts->repeat - 1 : 0; n; n--) {
		int err = interp_run_checked(prog, mem, len, opts, ret);

		if (err)
			return err;
	}
	return interp_run_checked(prog, mem, len, opts, ret);
}
