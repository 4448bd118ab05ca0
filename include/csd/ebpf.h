/* SPDX-License-Identifier: MIT */
/*
 * csdlab eBPF runtime: load, check and run eBPF programs (RFC 9669) inside the drive.
 *
 * The API follows libbpf's shape: opaque objects used through pointers, functions named
 * object__verb, options structs whose first field is their size (so they can grow without
 * breaking callers), and errors returned as negative errno values with a human message in a
 * caller-supplied log buffer.
 *
 * A program sees:
 *   r1 = pointer to its input memory, r2 = the input's length in bytes, r3-r5 = the caller's
 *   arguments (the drive passes CPARAM1 and CPARAM2 in r3 and r4),
 *   r10 = the top of its own 512-byte stack frame (each bpf-to-bpf call gets a new frame),
 *   its global data (.data/.rodata/.bss) and map values, through the helpers below.
 * Every memory access is checked against those regions; anything else stops the run with a
 * fault naming the pc and the address.
 */
#ifndef CSD_EBPF_H
#define CSD_EBPF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One 8-byte instruction slot, as on the wire and in ELF objects (little-endian host). */
struct csd_ebpf_insn {
	uint8_t code;
	uint8_t dst_reg : 4;
	uint8_t src_reg : 4;
	int16_t off;
	int32_t imm;
};

#define CSD_EBPF_STACK_SIZE	512	/* bytes per call frame, as in Linux */
#define CSD_EBPF_MAX_FRAMES	8	/* main program plus 7 nested bpf-to-bpf calls */
#define CSD_EBPF_MAX_INSNS	(1u << 20)
#define CSD_EBPF_DEFAULT_BUDGET	(UINT64_C(1) << 32)
#define CSD_EBPF_VERIFY_TIME_LIMIT_MS	2000	/* what a drive gives the verifier by default */

/*
 * Helper functions, numbered as in Linux (include/uapi/linux/bpf.h) so that programs built
 * with libbpf's <bpf/bpf_helpers.h> call them unchanged. Documented in docs/ebpf-runtime.md.
 */
enum csd_ebpf_helper_id {
	CSD_EBPF_HELPER_MAP_LOOKUP_ELEM = 1,	/* void *(map, const void *key) */
	CSD_EBPF_HELPER_MAP_UPDATE_ELEM = 2,	/* long (map, const void *key, const void *value, u64 flags) */
	CSD_EBPF_HELPER_MAP_DELETE_ELEM = 3,	/* long (map, const void *key) */
	CSD_EBPF_HELPER_KTIME_GET_NS = 5,	/* u64 (void): CLOCK_MONOTONIC in ns */
	CSD_EBPF_HELPER_TRACE_PRINTK = 6,	/* long (const char *fmt, u32 fmt_size, ...): into the device log */
	CSD_EBPF_HELPER_GET_PRANDOM_U32 = 7,	/* u32 (void) */
	CSD_EBPF_HELPER_GET_SMP_PROCESSOR_ID = 8, /* u32 (void): the engine worker's index */
};

/* Map types the runtime implements (values as in Linux's enum bpf_map_type). */
enum csd_ebpf_map_type {
	CSD_EBPF_MAP_HASH = 1,
	CSD_EBPF_MAP_ARRAY = 2,
};

/* Why a run stopped early. */
enum csd_ebpf_fault_kind {
	CSD_EBPF_FAULT_NONE = 0,
	CSD_EBPF_FAULT_MEMORY,		/* access outside every region the program was given */
	CSD_EBPF_FAULT_BUDGET,		/* instruction budget used up */
	CSD_EBPF_FAULT_ABORTED,		/* the caller asked the run to stop */
	CSD_EBPF_FAULT_CALL_DEPTH,	/* more than CSD_EBPF_MAX_FRAMES nested calls */
	CSD_EBPF_FAULT_HELPER,		/* a helper refused its arguments (bad pointer, bad map) */
};

struct csd_ebpf_fault {
	enum csd_ebpf_fault_kind kind;
	uint32_t pc;		/* instruction index of the faulting instruction */
	uint64_t addr;		/* the address, for memory faults */
	uint32_t size;		/* the access size, for memory faults */
	char msg[256];		/* a complete sentence naming pc, address and region */
};

struct csd_ebpf_prog;

/* Options for csd_ebpf_prog__load() and csd_ebpf_prog__load_elf(). */
struct csd_ebpf_load_opts {
	size_t sz;		/* sizeof(struct csd_ebpf_load_opts) */
	char *log_buf;		/* receives the reason a program was refused */
	size_t log_size;
};

/* Which engine runs a program. */
enum csd_ebpf_engine {
	CSD_EBPF_ENGINE_DEFAULT = 0,	/* the JIT where there is one (x86-64), else the interpreter */
	CSD_EBPF_ENGINE_INTERP,
	CSD_EBPF_ENGINE_JIT,		/* -EOPNOTSUPP where there is no JIT */
};

/* true when this build has a JIT for the machine it runs on. */
bool csd_ebpf_jit_available(void);

/* Options for csd_ebpf_prog__run(). */
struct csd_ebpf_run_opts {
	size_t sz;			/* sizeof(struct csd_ebpf_run_opts) */
	uint64_t budget;		/* instructions this run may execute; 0 = CSD_EBPF_DEFAULT_BUDGET */
	bool mem_readonly;		/* the input memory may not be written */
	const volatile bool *abort;	/* set to true from another thread to stop the run */
	uint32_t cpu_id;		/* what bpf_get_smp_processor_id() returns */
	uint64_t args[3];		/* r3, r4, r5 at entry (r1, r2: the memory) */
	bool force_checks;		/* check every access even if the program is verified
					 * (to test the verifier against the checks) */
	enum csd_ebpf_engine engine;
	/*
	 * The budget counts instructions in the interpreter. JIT code counts arrivals at a loop
	 * head (a backward jump's target) and calls instead, so that a loop pays one decrement
	 * per iteration; insns_executed then reports that count.
	 */
	/* out */
	uint64_t insns_executed;
	struct csd_ebpf_fault fault;
	/*
	 * in: run the program this many times over the same input (0 is 1), each run on a
	 * cleared stack and with the whole budget, stopping at a fault; r0 and insns_executed
	 * are the last run's. As BPF_PROG_TEST_RUN's repeat: the cost of a run without the
	 * call's own (options, the input's regions, the JIT code's lookup).
	 */
	uint32_t repeat;
};

#define CSD_EBPF_OPTS(type, name, ...) \
	struct type name = { .sz = sizeof(struct type), __VA_ARGS__ }

/*
 * Load raw instructions. Every instruction is checked (opcode, reserved fields, registers,
 * jump targets, helper ids, reachable end); a refused program gets -EINVAL and a message in
 * opts->log_buf naming the instruction. Returns 0 and a program in *prog.
 */
int csd_ebpf_prog__load(const struct csd_ebpf_insn *insns, size_t insn_cnt,
			const struct csd_ebpf_load_opts *opts, struct csd_ebpf_prog **prog);

/*
 * Load one program from an ELF object as `clang -O2 -g -target bpf -c` writes it. `name` is a
 * function name or a section name (NULL: the only program in the object). bpf-to-bpf calls are
 * linked, global data (.data, .rodata, .bss) and BTF-defined maps (.maps: array, hash) are
 * created and relocated.
 */
int csd_ebpf_prog__load_elf(const void *obj_buf, size_t obj_size, const char *name,
			    const struct csd_ebpf_load_opts *opts, struct csd_ebpf_prog **prog);

void csd_ebpf_prog__free(struct csd_ebpf_prog *prog);

/*
 * Run the program over `mem` (r1 = mem, r2 = len). Returns 0 with r0 in *ret, or a negative
 * errno with opts->fault filled: -EFAULT (memory, helper), -ETIME (budget), -ECANCELED (abort),
 * -ELOOP (call depth). The program object may be run from several threads at once.
 */
int csd_ebpf_prog__run(struct csd_ebpf_prog *prog, void *mem, size_t len,
		       struct csd_ebpf_run_opts *opts, uint64_t *ret);

/* Options for csd_ebpf_prog__verify(). */
struct csd_ebpf_verify_opts {
	size_t sz;			/* sizeof(struct csd_ebpf_verify_opts) */
	char *log_buf;			/* receives the reason a program was refused */
	size_t log_size;
	/* out */
	uint64_t insns_analysed;	/* abstract steps the analysis took */
	uint64_t ns;			/* how long it took */
	/* in (added later: after the outputs, so that older callers' structs stay valid) */
	/*
	 * Give up (refuse the program, naming the limit) after this many ms (0: no limit). The
	 * analysis has a cap on its work too, the same on every machine; this bounds the time a
	 * program can take from whoever verifies it.
	 */
	uint32_t time_limit_ms;
};

/*
 * Prove the program safe (docs/ebpf-runtime.md, "The verifier"): every memory access inside
 * the input (r1, r2 bytes), its stack frame or a map value, no read of an uninitialised register
 * or stack byte, no pointer leaked to the host, helper arguments of the right kinds, NULL checks
 * before map values are used, every loop bounded. Returns 0 and marks the program verified,
 * after which runs skip the per-access checks; -EACCES with the instruction, the path to it
 * and the reason in opts->log_buf when the proof fails.
 */
int csd_ebpf_prog__verify(struct csd_ebpf_prog *prog, struct csd_ebpf_verify_opts *opts);
bool csd_ebpf_prog__verified(const struct csd_ebpf_prog *prog);

/*
 * Memory for program input that a wrong proof cannot get out of (docs/ebpf-runtime.md,
 * "Defence in depth"): `size` bytes (at most 4 GiB - 64 KiB), zero-filled, at the start of
 * 4 GiB of address space of its own with guard pages around. A verified program run over
 * memory inside one runs as sandboxed JIT code: its input accesses are masked into the
 * sandbox, at the cost of one instruction, instead of checked. NULL and errno on failure.
 */
void *csd_ebpf_sandbox_alloc(size_t size);
void csd_ebpf_sandbox_free(void *mem);

/*
 * Make the run on `thread` look at its abort flag now. The JIT's code for a verified program
 * has no budget checks in its loops (that is what makes it as fast as compiled C), so whoever
 * sets the flag calls this too, and again until the run returns: it sends SIGURG, whose
 * handler (installed at the first JIT run, chaining to any earlier one) diverts the thread if
 * it is in such code and its flag is set, and otherwise does nothing.
 */
void csd_ebpf_run_interrupt(pthread_t thread);

/* The program's instructions as loaded (after ELF linking), for disassembly and inspection. */
const struct csd_ebpf_insn *csd_ebpf_prog__insns(const struct csd_ebpf_prog *prog, size_t *cnt);

/*
 * The device log that bpf_trace_printk() writes into: NUL-terminated lines, the oldest dropped
 * when it is full. csd_ebpf_prog__log_read() copies it out and empties it; returns the length.
 */
size_t csd_ebpf_prog__log_read(struct csd_ebpf_prog *prog, char *buf, size_t size);

/* Maps of a loaded program, by name (user maps and the .data/.rodata/.bss sections). */
size_t csd_ebpf_prog__map_cnt(const struct csd_ebpf_prog *prog);
const char *csd_ebpf_prog__map_name(const struct csd_ebpf_prog *prog, size_t idx);
int csd_ebpf_prog__map_find(const struct csd_ebpf_prog *prog, const char *name);
/* Copy the value under `key` out of map `idx`; -ENOENT when absent. */
int csd_ebpf_prog__map_lookup(struct csd_ebpf_prog *prog, size_t idx, const void *key,
			      void *value, size_t value_size);

/* Assembler and disassembler for the bpf_conformance text syntax (docs/ebpf-runtime.md). */

/*
 * Assemble `text`. On success returns 0 and a malloc'd array in *insns (free()). On error
 * returns -EINVAL and a message naming the line in err.
 */
int csd_ebpf_asm(const char *text, struct csd_ebpf_insn **insns, size_t *insn_cnt,
		 char *err, size_t err_size);

/*
 * Disassemble one instruction (two slots for lddw: pass the remaining count) into buf.
 * Returns the number of slots it used (1 or 2), or -EINVAL for an undecodable instruction
 * (buf then holds a `.8byte` line so that listings never stop).
 */
int csd_ebpf_disasm_insn(const struct csd_ebpf_insn *insns, size_t remaining, char *buf,
			 size_t size);

#ifdef __cplusplus
}
#endif

#endif /* CSD_EBPF_H */
