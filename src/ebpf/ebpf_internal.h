/* SPDX-License-Identifier: MIT */
/*
 * Private to src/ebpf/: the program object, maps, memory regions of one run, the helper table
 * and the pieces of the ISA that Linux's UAPI header does not name (it predates some of them).
 */
#ifndef CSD_EBPF_INTERNAL_H
#define CSD_EBPF_INTERNAL_H

#include <linux/bpf.h>
#include <pthread.h>
#include <stdarg.h>

#include "csd/ebpf.h"

/* How many ways a program is compiled: enum jit_mode in jit.h. */
#define EBPF_JIT_MODES 3

_Static_assert(sizeof(struct csd_ebpf_insn) == 8, "an eBPF instruction is 8 bytes");
_Static_assert(sizeof(struct csd_ebpf_insn) == sizeof(struct bpf_insn), "same layout as Linux");

/* RFC 9669 names that linux/bpf.h of Linux 6.1 lacks. */
#ifndef BPF_MEMSX
#define BPF_MEMSX	0x80	/* sign-extending load mode */
#endif
#define BPF_OP_END_BSWAP	(BPF_ALU64 | BPF_END | BPF_TO_LE)	/* 0xd7: unconditional swap */
#define BPF_OP_CALLX		(BPF_JMP | BPF_CALL | BPF_X)		/* 0x8d */
#define BPF_OP_LDDW		(BPF_LD | BPF_IMM | BPF_DW)		/* 0x18 */

#define EBPF_NREGS	11	/* r0..r10 */
#define EBPF_REG_FP	10

/* lddw with src BPF_PSEUDO_MAP_FD yields this token for map number idx: helpers decode it. */
#define EBPF_MAP_TOKEN_TAG	UINT64_C(0xc5d0000000000000)
#define EBPF_MAP_TOKEN(idx)	(EBPF_MAP_TOKEN_TAG | (uint64_t)(idx))

enum ebpf_map_kind {
	EBPF_MAP_KIND_ARRAY,
	EBPF_MAP_KIND_HASH,
	EBPF_MAP_KIND_DATA,	/* a global data section: one value, the section's bytes */
};

struct ebpf_map {
	char name[64];
	enum ebpf_map_kind kind;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	bool readonly;		/* .rodata: the program may not write it */
	uint8_t *values;	/* max_entries * value_size, preallocated (one region for checks) */
	size_t values_mapped;	/* bytes mapped for values below 2 GiB (0: from calloc) */
	/* hash maps only: open addressing over max_entries * 2 slots, each an entry index + 1 */
	uint8_t *keys;		/* max_entries * key_size */
	uint32_t *slots;
	uint32_t nslots;
	uint32_t *free_list;
	uint32_t nfree;
	pthread_mutex_t lock;
};

#define EBPF_LOG_SIZE	16384

/* Machine code of a program (jit_x86_64.c). */
struct ebpf_jit_code {
	void *code;
	size_t size;
	size_t abort_entry;	/* offset an interrupted run resumes at */
	size_t body_start;	/* from here to the end, r12 holds the run's context */
	bool gs;		/* sandboxed code addressing the input through GS (jit_run.c) */
	size_t *pc_off;		/* code offset of each instruction */
	size_t npc;
};

/* A source line from the object's BTF line info: instructions from pc on come from it. */
struct ebpf_line {
	uint32_t pc;
	uint32_t line;
	char file[56];		/* the file's base name */
};

struct csd_ebpf_prog {
	struct csd_ebpf_insn *insns;
	size_t insn_cnt;
	struct ebpf_line *lines;	/* sorted by pc; NULL without BTF line info */
	size_t nlines;
	struct ebpf_map *maps;
	size_t map_cnt;
	bool verified;		/* csd_ebpf_prog__verify() proved it safe */
	/*
	 * The stack a run gets: one frame, unless bpf-to-bpf calls can move r10 down to the
	 * others. Every engine checks against it and clears it before a run (so a run cannot
	 * see what ran before it); a header-sized program pays for clearing more.
	 */
	size_t stack_bytes;
	/*
	 * Per instruction, the memory a load, store or atomic there reaches by the proof
	 * (enum ebpf_guard): the JIT keeps one cheap check of that region in verified code, so
	 * that a wrong proof ends in a fault, not in a read or write of other memory.
	 */
	uint8_t *guard;
	bool writes_input;	/* ... and found stores into the input memory */
	/* JIT code, compiled at the first run that wants it, per enum jit_mode (jit.h) */
	pthread_mutex_t jit_lock;
	struct ebpf_jit_code jit[EBPF_JIT_MODES];
	int jit_err[EBPF_JIT_MODES];
	pthread_mutex_t log_lock;
	size_t log_len;
	char log[EBPF_LOG_SIZE];
};

/* What the verifier proved an access reaches (csd_ebpf_prog.guard). */
enum ebpf_guard {
	EBPF_GUARD_ANY,		/* not an access, or different regions on different paths */
	EBPF_GUARD_INPUT,
	EBPF_GUARD_STACK,	/* some frame of the run's stack */
	EBPF_GUARD_MAP,		/* + m: the values of map m (m < EBPF_GUARD_MAX_MAPS) */
};
#define EBPF_GUARD_MAX_MAPS	(255 - EBPF_GUARD_MAP)

/* A span of memory the running program may touch. */
struct ebpf_region {
	uint64_t start;
	uint64_t len;
	bool writable;
	const char *name;
};

#define EBPF_MAX_REGIONS 64

/* The state of one run that helpers may look at. */
struct ebpf_run {
	struct csd_ebpf_prog *prog;
	struct csd_ebpf_run_opts *opts;
	struct ebpf_region regions[EBPF_MAX_REGIONS];
	unsigned nregions;
	uint32_t pc;		/* of the instruction being executed, for helper faults */
	bool faulted;
};

typedef uint64_t (*ebpf_helper_fn)(struct ebpf_run *run, uint64_t r1, uint64_t r2, uint64_t r3,
				   uint64_t r4, uint64_t r5);

/* The helper for `id`, or NULL when there is none. */
ebpf_helper_fn ebpf_helper_lookup(int64_t id);

/* true when [addr, addr + size) lies in one region (writable when `write`). */
bool ebpf_region_check(const struct ebpf_run *run, uint64_t addr, uint64_t size, bool write);
/* Record a fault; returns 0 so that helpers can `return ebpf_run_fault(...)`. */
uint64_t ebpf_run_fault(struct ebpf_run *run, enum csd_ebpf_fault_kind kind, uint64_t addr,
			uint32_t size, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The regions a run (its prog and opts set) may touch: input, stack, map values and data. */
void ebpf_run_set_regions(struct ebpf_run *run, void *mem, size_t len, void *stack,
			  size_t stack_size);
/* The errno a run returns for a fault of this kind. */
int ebpf_fault_errno(enum csd_ebpf_fault_kind kind);

/* Maps (maps.c). */
int ebpf_map_init(struct ebpf_map *map, const char *name, enum ebpf_map_kind kind,
		  uint32_t key_size, uint32_t value_size, uint32_t max_entries);
void ebpf_map_destroy(struct ebpf_map *map);
void *ebpf_map_lookup(struct ebpf_map *map, const void *key);
int ebpf_map_update(struct ebpf_map *map, const void *key, const void *value, uint64_t flags);
int ebpf_map_delete(struct ebpf_map *map, const void *key);

/* The program's log (helpers.c). */
void ebpf_log_append(struct csd_ebpf_prog *prog, const char *line, size_t len);

/* Loader (load.c): validate `insns` against the program's maps, message into log. */
int ebpf_validate(const struct csd_ebpf_insn *insns, size_t cnt, size_t map_cnt,
		  char *log, size_t log_size);
/*
 * Registers one instruction reads and writes (bit n: rn). A call reads only what callx names
 * here: its arguments and clobbers are the caller's business (r1-r5 in, r0-r5 out).
 */
void ebpf_insn_regs(const struct csd_ebpf_insn *insn, uint32_t *reads, uint32_t *writes);
/*
 * live[pc]: the registers (bit n: rn) some path from pc's entry reads before it writes them
 * (liveness.c); live holds prog->insn_cnt zeros on entry.
 */
void ebpf_liveness(const struct csd_ebpf_prog *prog, uint16_t *live);
/* Allocate a program around a copy of insns and the given maps (taken over). */
int ebpf_prog_create(const struct csd_ebpf_insn *insns, size_t cnt, struct ebpf_map *maps,
		     size_t map_cnt, const struct csd_ebpf_load_opts *opts,
		     struct csd_ebpf_prog **out);

/* true when [mem, mem + len) lies in a sandbox (sandbox.c); *base: its aligned start. */
bool ebpf_sandbox_of(const void *mem, size_t len, uint64_t *base);

/* The verifier (verify.c): 0, or -EACCES with the reason in log. */
int ebpf_verify(struct csd_ebpf_prog *prog, char *log, size_t log_size, uint32_t time_limit_ms,
		bool *writes_input, uint64_t *steps);
/* The largest input a verified program's proof covers (larger inputs run with checks). */
#define EBPF_VERIFY_MAX_INPUT	(UINT64_C(1) << 40)

/* The source line of pc ("file.c:12" into buf), or false when the program has none. */
bool ebpf_source_line(const struct csd_ebpf_prog *prog, uint32_t pc, char *buf, size_t size);

/* printf into a caller's log buffer, tolerating NULL. */
void ebpf_logf(char *log, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
