/* SPDX-License-Identifier: MIT */
/*
 * Defence in depth: a program the verifier wrongly accepted (here: marked verified by hand,
 * with the region its access "was proven" to reach) must end in a memory fault in both kinds
 * of JIT code for verified programs, sandboxed (input in csd_ebpf_sandbox_alloc() memory) and
 * guarded (input anywhere), never read or write other memory; and the process goes on.
 */
#include "test_helpers.h"
#include "../../src/ebpf/ebpf_internal.h"
#include "../../src/ebpf/jit.h"

/* A program that "the verifier proved" reads or writes only its input. */
static struct csd_ebpf_prog *wrongly_verified(const char *text)
{
	struct csd_ebpf_prog *prog;
	char log[512];

	assert_int_equal(asm_load(text, &prog, log, sizeof(log)), 0);
	prog->guard = malloc(prog->insn_cnt);
	assert_non_null(prog->guard);
	memset(prog->guard, EBPF_GUARD_INPUT, prog->insn_cnt);
	prog->verified = true;
	prog->writes_input = true;
	return prog;
}

static const char *const escapes[] = {
	"lddw %r3, 0x100000\nadd %r1, %r3\nldxb %r0, [%r1]\nexit\n",		/* 1 MiB on */
	"lddw %r3, 0x140000000\nadd %r1, %r3\nldxdw %r0, [%r1]\nexit\n",	/* 5 GiB on */
	"sub %r1, 100\nstb [%r1], 1\nmov %r0, 0\nexit\n",			/* before it */
	"ldxb %r0, [%r1+4096]\nexit\n",					/* just past it */
	/* an address anywhere: masked into the sandbox, it reads the input's own bytes there */
	"lddw %r3, 0x7fff00000000\nmov %r1, %r3\nldxw %r0, [%r1+8]\nexit\n",
	/*
	 * a reduction loop (run 32 bytes at a time) counting 0x5a over 256 MiB, and over 64
	 * bytes from 32 bytes below 4 GiB on: its vector loads cross the input's end
	 */
#define COUNT_5A(setup)									\
	setup "mov %r0, 0\nmov %r3, 0\nja body\nlatch:\nadd %r0, %r4\nadd %r3, 1\n"	\
	"jgt %r2, %r3, body\nexit\nbody:\nmov %r4, %r1\nadd %r4, %r3\nldxb %r5, [%r4]\n"	\
	"mov %r4, 1\njeq %r5, 0x5a, latch\nmov %r4, 0\nja latch\n"
	COUNT_5A("lddw %r2, 0x10000000\n"),
	COUNT_5A("lddw %r3, 0xffffffe0\nadd %r1, %r3\nmov %r2, 64\n"),
	/* a counter 1 MiB on: one add to memory (rmw_shape), checked as a write */
	"lddw %r3, 0x100000\nadd %r1, %r3\nldxw %r4, [%r1]\nadd %r4, 1\nstxw [%r1], %r4\n"
	"mov %r0, 0\nexit\n",
};
#define WRAPS_INTO_THE_INPUT	4

static void run_escapes(bool sandboxed)
{
	const size_t len = 4096;
	uint8_t *mem = sandboxed ? csd_ebpf_sandbox_alloc(len) : malloc(len);

	assert_non_null(mem);
	memset(mem, 0x5a, len);
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		struct csd_ebpf_prog *prog = wrongly_verified(escapes[i]);
		CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .engine = CSD_EBPF_ENGINE_JIT);
		uint64_t r0 = 7;
		int err = csd_ebpf_prog__run(prog, mem, len, &opts, &r0);

		if (sandboxed && i == WRAPS_INTO_THE_INPUT) {
			assert_int_equal(err, 0);
			assert_int_equal(r0, 0x5a5a5a5a);
			csd_ebpf_prog__free(prog);
			continue;
		}
		if (err != -EFAULT || opts.fault.kind != CSD_EBPF_FAULT_MEMORY)
			fail_msg("%s escape %zu: %d, fault %d (%s)", sandboxed ? "sandboxed" : "guarded",
				 i, err, opts.fault.kind, opts.fault.msg);
		if (sandboxed && !strstr(opts.fault.msg, "the verifier's proof did not hold"))
			fail_msg("escape %zu: %s", i, opts.fault.msg);
		assert_int_equal(r0, 0);
		csd_ebpf_prog__free(prog);
	}
	/* and the input was not written around */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(mem[i], 0x5a);
	if (sandboxed)
		csd_ebpf_sandbox_free(mem);
	else
		free(mem);
}

static void test_sandboxed_code_faults_cleanly(void **state)
{
	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	run_escapes(true);
}

static void test_guarded_code_faults_cleanly(void **state)
{
	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	run_escapes(false);
}

/*
 * A load-modify-store whose check is made once (jit_x86_64.c, store_follows): a wrong proof
 * says "the stack" of an access that goes to a read-only input. The check fails, and the
 * memory stub, which lets an access go on in other memory of the run, must judge it as the
 * store it is: a fault, the input as it was (and not a read let through, then a store that
 * nothing checks again).
 */
static void test_reused_check_judged_as_a_store(void **state)
{
	struct csd_ebpf_prog *prog = wrongly_verified(
		"ldxb %r3, [%r1+2]\nadd %r3, 1\nstxb [%r1+2], %r3\nmov %r0, 0\nexit\n");
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .engine = CSD_EBPF_ENGINE_JIT, .mem_readonly = true);
	uint8_t mem[16];
	uint64_t r0 = 7;

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	memset(prog->guard, EBPF_GUARD_STACK, prog->insn_cnt);
	prog->writes_input = false;
	memset(mem, 0x5a, sizeof(mem));
	assert_int_equal(csd_ebpf_prog__run(prog, mem, sizeof(mem), &opts, &r0), -EFAULT);
	assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_MEMORY);
	for (size_t i = 0; i < sizeof(mem); i++)
		assert_int_equal(mem[i], 0x5a);
	csd_ebpf_prog__free(prog);
}

/*
 * Stack accesses through a register that a wrong proof sends out of the frame, over a
 * sandboxed input: with GS, sandboxed code confines them to the run's frame (the offset
 * masked: r10 + 8 is the frame's byte 8, an 8-byte store at its last byte ends in the
 * slack, which the next run finds cleared); without GS they are checked and fault. Either
 * way nothing outside is read or written. Each runs twice (repeat): the second as the first.
 */
static void test_stack_confined(void **state)
{
	static const struct { const char *text; uint64_t r0; } cases[] = {
		/* byte 8 of the frame is r10 - 504 */
		{ "stdw [%r10-504], 0x77\nmov %r2, %r10\nadd %r2, 8\nldxdw %r0, [%r2]\nexit\n",
		  0x77 },
		{ "stdw [%r10-504], 0x77\nlddw %r3, 0x100000000\nmov %r2, %r10\nadd %r2, %r3\n"
		  "ldxdw %r0, [%r2+8]\nexit\n", 0x77 },
		/* as clang indexes a stack buffer (p = r10 - 512; p += i: one lea), 4 GiB on and
		 * before (r10 is the top of the one frame: the offset is i + 512 - 512 + 8) */
		{ "stdw [%r10-504], 0x77\nlddw %r3, 0x100000000\nmov %r2, %r10\nadd %r2, -512\n"
		  "add %r2, %r3\nldxdw %r0, [%r2+8]\nexit\n", 0x77 },
		{ "stdw [%r10-504], 0x77\nlddw %r3, -0x100000000\nmov %r2, %r10\nadd %r2, -512\n"
		  "add %r2, %r3\nldxdw %r0, [%r2+8]\nexit\n", 0x77 },
		{ "lddw %r3, 0x7ffffffffffffe00\nmov %r2, %r10\nadd %r2, -64\nadd %r2, %r3\n"
		  "stdw [%r2+8], 0x55\nldxdw %r0, [%r10-56]\nexit\n", 0x55 },
		/* the last byte and 7 past it written, then read back */
		{ "mov %r2, %r10\nadd %r2, -1\nstdw [%r2], -1\nldxdw %r0, [%r2]\nexit\n",
		  UINT64_MAX },
		/* ... read, then written: the second run (repeat) reads them cleared */
		{ "mov %r2, %r10\nadd %r2, -1\nldxdw %r0, [%r2]\nstdw [%r2], -1\nexit\n", 0 },
	};
	uint8_t *box = csd_ebpf_sandbox_alloc(64);

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	assert_non_null(box);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct csd_ebpf_prog *prog = wrongly_verified(cases[i].text);
		CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .engine = CSD_EBPF_ENGINE_JIT, .repeat = 2);
		uint64_t r0 = 7;
		int err;

		memset(prog->guard, EBPF_GUARD_STACK, prog->insn_cnt);
		memset(box, 0x5a, 64);
		err = csd_ebpf_prog__run(prog, box, 64, &opts, &r0);
		if (jit_can_use_gs()) {
			if (err || r0 != cases[i].r0)
				fail_msg("case %zu: %d (%s), r0 %#llx", i, err, opts.fault.msg,
					 (unsigned long long)r0);
		} else {
			assert_int_equal(err, -EFAULT);
			assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_MEMORY);
		}
		for (size_t k = 0; k < 64; k++)
			assert_int_equal(box[k], 0x5a);
		csd_ebpf_prog__free(prog);
	}
	csd_ebpf_sandbox_free(box);
}

/*
 * A stack buffer indexed as clang indexes it (p = r10 - 64 + i), verified, sandboxed: in a
 * program without calls the JIT takes r10 as the stack's top (one lea and the mask); in a
 * callee's frame r10 is lower, which the same shortcut would miss. The buffer cleared and
 * filled through p, read back through r10 itself, the caller's own slot untouched; as the
 * interpreter says.
 */
static void test_stack_buffer_in_frames(void **state)
{
	static const char fill[] =
		"stdw [%r10-64], 0\nstdw [%r10-56], 0\nstdw [%r10-48], 0\nstdw [%r10-40], 0\n"
		"stdw [%r10-32], 0\nstdw [%r10-24], 0\nstdw [%r10-16], 0\nstdw [%r10-8], 0\n"
		"mov %r2, 0\nfill:\nmov %r3, %r10\nadd %r3, -64\nadd %r3, %r2\nstxb [%r3], %r2\n"
		"add %r2, 1\njlt %r2, 64, fill\nldxb %r0, [%r10-59]\nldxb %r4, [%r10-1]\n"
		"lsh %r4, 8\nor %r0, %r4\n";
	static const char *const texts[] = {
		"%sexit\n",				/* in the program's only frame */
		"stdw [%%r10-8], 0x1234\ncall local f\nldxdw %%r1, [%%r10-8]\nlsh %%r1, 16\n"
		"or %%r0, %%r1\nexit\nf:\n%sexit\n",	/* in a callee's */
	};
	uint8_t *box = csd_ebpf_sandbox_alloc(64);

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	assert_non_null(box);
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		char text[1024];
		struct csd_ebpf_prog *prog;
		char log[512];
		uint64_t r0[2];

		snprintf(text, sizeof(text), texts[t], fill);
		assert_int_equal(asm_load(text, &prog, log, sizeof(log)), 0);
		if (csd_ebpf_prog__verify(prog, &(struct csd_ebpf_verify_opts){
			.sz = sizeof(struct csd_ebpf_verify_opts), .log_buf = log,
			.log_size = sizeof(log) }))
			fail_msg("refused: %s", log);
		for (int e = 0; e < 2; e++) {
			CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .engine = e ? CSD_EBPF_ENGINE_JIT :
								  CSD_EBPF_ENGINE_INTERP);

			assert_int_equal(csd_ebpf_prog__run(prog, box, 64, &opts, &r0[e]), 0);
		}
		assert_int_equal(r0[0], t ? 0x12343f05u : 0x3f05u);
		assert_int_equal(r0[1], r0[0]);
		csd_ebpf_prog__free(prog);
	}
	csd_ebpf_sandbox_free(box);
}

/*
 * A byte map (which the JIT runs 32 bytes at a time) whose 64 stores "were proven" in the
 * stack but start 600 or 522 bytes below its top (the first 10 below the frame), 16 below it
 * (running past it), or 64 (inside): the vector code must leave the first three to the
 * scalar code, whose every store the mask keeps in the stack. Read back the same way, byte
 * k holds in[k] + 1 (the vector stores, had they run, would have gone outside, and byte k
 * would not be there). Without GS the JIT checks those stores: the three outside fault.
 */
static void test_byte_map_stores_confined(void **state)
{
	static const struct { int off, k; bool inside; } cases[] = {
		{ -600, 5, false }, { -522, 5, false }, { -16, 40, false }, { -64, 40, true },
	};
	uint8_t *box = csd_ebpf_sandbox_alloc(64);

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	assert_non_null(box);
	for (size_t i = 0; i < 64; i++)
		box[i] = (uint8_t)(7 * i + 3);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		struct csd_ebpf_prog *prog;
		CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .engine = CSD_EBPF_ENGINE_JIT);
		uint64_t r0 = 0;
		int err;

		snprintf(text, sizeof(text),
			 "mov %%r0, 0\nmov %%r2, 0\nbody:\nmov %%r4, %%r1\nadd %%r4, %%r2\n"
			 "ldxb %%r5, [%%r4]\nadd %%r5, 1\nmov %%r4, %%r10\nadd %%r4, %d\n"
			 "add %%r4, %%r2\nstxb [%%r4], %%r5\nadd %%r2, 1\njne %%r2, 64, body\n"
			 "mov %%r4, %%r10\nadd %%r4, %d\nldxb %%r0, [%%r4+%d]\nexit\n",
			 cases[i].off, cases[i].off, cases[i].k);
		prog = wrongly_verified(text);
		prog->guard[9] = prog->guard[14] = EBPF_GUARD_STACK;	/* the stack's accesses */
		err = csd_ebpf_prog__run(prog, box, 64, &opts, &r0);
		if (!jit_can_use_gs() && !cases[i].inside) {	/* checked code: a fault */
			assert_int_equal(err, -EFAULT);
			assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_MEMORY);
			csd_ebpf_prog__free(prog);
			continue;
		}
		assert_int_equal(err, 0);
		if (r0 != (uint8_t)(box[cases[i].k] + 1))
			fail_msg("stores from r10 %d: byte %d is %#llx, not %#x", cases[i].off,
				 cases[i].k, (unsigned long long)r0, (uint8_t)(box[cases[i].k] + 1));
		csd_ebpf_prog__free(prog);
	}
	csd_ebpf_sandbox_free(box);
}

/* A real verified program over a sandbox and over plain memory: the same answers. */
static void test_sandboxed_and_guarded_agree(void **state)
{
	static const char text[] =
		"mov %r0, 0\nmov %r3, 0\nloop:\njge %r3, %r2, done\nmov %r4, %r1\nadd %r4, %r3\n"
		"ldxb %r5, [%r4]\nadd %r0, %r5\nstb [%r4], 1\nadd %r3, 1\nja loop\ndone:\nexit\n";
	struct csd_ebpf_prog *prog;
	char log[512];
	uint8_t *box = csd_ebpf_sandbox_alloc(1000), *plain = malloc(1000);

	(void)state;
	assert_non_null(box);
	assert_non_null(plain);
	assert_int_equal(asm_load(text, &prog, log, sizeof(log)), 0);
	assert_int_equal(csd_ebpf_prog__verify(prog, NULL), 0);
	for (int i = 0; i < 1000; i++)
		box[i] = plain[i] = (uint8_t)(i * 7);
	for (size_t n = 0; n <= 1000; n += 37) {
		CSD_EBPF_OPTS(csd_ebpf_run_opts, o1);
		CSD_EBPF_OPTS(csd_ebpf_run_opts, o2);
		uint64_t a = 1, b = 2;

		assert_int_equal(csd_ebpf_prog__run(prog, box + 1000 - n, n, &o1, &a), 0);
		assert_int_equal(csd_ebpf_prog__run(prog, plain + 1000 - n, n, &o2, &b), 0);
		assert_int_equal(a, b);
		assert_memory_equal(box, plain, 1000);
	}
	csd_ebpf_prog__free(prog);
	csd_ebpf_sandbox_free(box);
	free(plain);
}

/*
 * A program over one map: an array (4-byte keys, 16-byte values, 4 entries), `lddw %r1, 0`
 * in its text; or global data (64 bytes), `lddw %r4, o` its address + o. Verified, or marked
 * verified by hand (guard: every access "proven" to reach the map) when `proof` is false.
 */
static uint32_t array_value_size = 16;	/* the array's values: 16 bytes, or 8 */

static struct csd_ebpf_prog *with_map(const char *text, bool global, bool proof)
{
	struct csd_ebpf_insn *insns;
	struct ebpf_map *map = calloc(1, sizeof(*map));
	struct csd_ebpf_prog *prog;
	char log[512];
	size_t cnt;

	assert_non_null(map);
	assert_int_equal(csd_ebpf_asm(text, &insns, &cnt, log, sizeof(log)), 0);
	for (size_t pc = 0; pc < cnt; pc++)
		if (insns[pc].code == BPF_OP_LDDW && insns[pc].dst_reg == (global ? 4 : 1)) {
			insns[pc + 1].imm = global ? insns[pc].imm : 0;
			insns[pc].src_reg = global ? BPF_PSEUDO_MAP_VALUE : BPF_PSEUDO_MAP_FD;
			insns[pc].imm = 0;
		}
	assert_int_equal(global ? ebpf_map_init(map, ".data", EBPF_MAP_KIND_DATA, 4, 64, 1) :
			 ebpf_map_init(map, "counts", EBPF_MAP_KIND_ARRAY, 4, array_value_size, 4),
			 0);
	for (unsigned b = 0; global && b < 64; b++)
		map->values[b] = (uint8_t)(b * 37 + 5);
	if (ebpf_prog_create(insns, cnt, map, 1, &(struct csd_ebpf_load_opts){
		.sz = sizeof(struct csd_ebpf_load_opts), .log_buf = log, .log_size = sizeof(log) },
		&prog))
		fail_msg("refused: %s\n%s", log, text);
	free(insns);
	if (proof) {
		if (csd_ebpf_prog__verify(prog, &(struct csd_ebpf_verify_opts){
			.sz = sizeof(struct csd_ebpf_verify_opts), .log_buf = log,
			.log_size = sizeof(log) }))
			fail_msg("refused: %s", log);
	} else {
		prog->guard = malloc(prog->insn_cnt);
		assert_non_null(prog->guard);
		memset(prog->guard, EBPF_GUARD_MAP, prog->insn_cnt);
		prog->verified = true;
	}
	return prog;
}

/*
 * Array lookups the JIT computes in line (jit_x86_64.c, emit_inline_array_lookup): with the
 * key's setup folded in, in clang's two orders; not folded (a jump lands between, the key
 * pointer from another register); the value's bytes unchecked after `if r0 == 0`, at several
 * offsets. The same counts in the interpreter and the JIT, the map the same after.
 */
static void test_inline_lookups(void **state)
{
	/* r3 (r7): the key; counts[key] += 1 (8 bytes at 0), += key at 8, 4 bytes at 8 again */
	static const char *const setups[] = {
		"lddw %r1, 0\nmov %r2, %r10\nadd %r2, -4\n",		/* the map first */
		"mov %r2, %r10\nadd %r2, -4\nlddw %r1, 0\n",		/* the key first */
		"mov %r2, %r10\nja l\nl:\nadd %r2, -4\nlddw %r1, 0\n",	/* a jump lands inside */
		"mov %r6, %r10\nadd %r6, -4\nmov %r2, %r6\nlddw %r1, 0\n",	/* another register */
	};
	/*
	 * 16-byte values (the lookup multiplies), r0 dead where `if r0 == 0` goes (the key's
	 * compare jumps there) and read there (the NULL made by a cmov); 8-byte values (a lea)
	 */
	static const struct { const char *text; uint32_t value_size; } bodies[] = {
		{ "call 1\njeq %r0, 0, miss\nldxdw %r4, [%r0+0]\nadd %r4, 1\nstxdw [%r0+0], %r4\n"
		  "ldxdw %r5, [%r0+8]\nadd %r5, %r7\nstxdw [%r0+8], %r5\nldxw %r6, [%r0+8]\n"
		  "mov %r0, %r4\nlsh %r0, 32\nadd %r0, %r6\nexit\nmiss:\nmov %r0, 99\nexit\n", 16 },
		{ "call 1\njeq %r0, 0, miss\nldxdw %r4, [%r0+0]\nadd %r4, 1\nstxdw [%r0+0], %r4\n"
		  "ldxdw %r5, [%r0+8]\nadd %r5, %r7\nstxdw [%r0+8], %r5\nldxw %r6, [%r0+8]\n"
		  "mov %r0, %r4\nlsh %r0, 32\nadd %r0, %r6\nexit\nmiss:\nadd %r0, 99\nexit\n", 16 },
		{ "call 1\njeq %r0, 0, miss\nldxdw %r4, [%r0+0]\nadd %r4, 1\nstxdw [%r0+0], %r4\n"
		  "mul %r7, %r4\nmov %r0, %r4\nlsh %r0, 32\nadd %r0, %r7\nexit\n"
		  "miss:\nadd %r0, 99\nexit\n", 8 },
		{ "call 1\njeq %r0, 0, miss\nldxdw %r4, [%r0+0]\nadd %r4, 1\nstxdw [%r0+0], %r4\n"
		  "mul %r7, %r4\nmov %r0, %r4\nlsh %r0, 32\nadd %r0, %r7\nexit\n"
		  "miss:\nmov %r0, 99\nexit\n", 8 },
	};
	char text[1024];

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	for (size_t s = 0; s < sizeof(setups) / sizeof(setups[0]) * 4; s++) {
		struct csd_ebpf_prog *progs[2];

		array_value_size = bodies[s % 4].value_size;
		/* the key stored from r7 (r3 holds another number: the store's register counts) */
		snprintf(text, sizeof(text), "mov %%r7, %%r3\nadd %%r3, 100\nstxw [%%r10-4], %%r7\n"
			 "%s%s", setups[s / 4], bodies[s % 4].text);
		for (int e = 0; e < 2; e++)
			progs[e] = with_map(text, false, true);
		for (int round = 1; round <= 3; round++)
			for (uint64_t key = 0; key < 6; key++) {
				uint64_t r0[2];

				for (int e = 0; e < 2; e++) {
					CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .args = { key },
						      .engine = e ? CSD_EBPF_ENGINE_JIT :
								    CSD_EBPF_ENGINE_INTERP);

					assert_int_equal(csd_ebpf_prog__run(progs[e], NULL, 0, &opts,
									    &r0[e]), 0);
				}
				if (r0[0] != r0[1] ||
				    r0[1] != (key < 4 ? (uint64_t)round << 32 | round * key : 99))
					fail_msg("setup %zu, key %llu, round %d: interpreter %#llx, JIT "
						 "%#llx", s, (unsigned long long)key, round,
						 (unsigned long long)r0[0], (unsigned long long)r0[1]);
			}
		assert_memory_equal(progs[0]->maps[0].values, progs[1]->maps[0].values,
				    4 * array_value_size);
		for (int e = 0; e < 2; e++)
			csd_ebpf_prog__free(progs[e]);
	}
	array_value_size = 16;
}

/*
 * A key the code itself keeps below the array's 4 entries (masked with 3, shifted right by
 * 62) takes no compare and no NULL in the inlined lookup; one masked with 4 or 7 may reach
 * 4 and keeps them: keys 4 and up miss. Both engines, against the expected counts.
 */
static void test_inline_lookup_bounded_keys(void **state)
{
	/* the key from r3: masked, or (mask 0) shifted */
	static const struct { const char *key; uint64_t mask; } keys[] = {
		{ "and %r7, 3\n", 3 }, { "rsh %r7, 62\n", 0 }, { "and %r7, 4\n", 4 },
		{ "and %r7, 7\n", 7 }, { "and32 %r7, 3\n", 3 },
	};
	static const uint64_t args[] = { 0, 1, 2, 3, 4, 5, 6, 7, 0xc000000000000001,
					 0x4000000000000007 };
	char text[512];

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	array_value_size = 8;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		struct csd_ebpf_prog *progs[2];

		snprintf(text, sizeof(text), "mov %%r7, %%r3\n%sstxw [%%r10-4], %%r7\nlddw %%r1, 0\n"
			 "mov %%r2, %%r10\nadd %%r2, -4\ncall 1\njeq %%r0, 0, miss\n"
			 "ldxdw %%r4, [%%r0+0]\nadd %%r4, 1\nstxdw [%%r0+0], %%r4\nmov %%r0, %%r4\n"
			 "lsh %%r0, 8\nadd %%r0, %%r7\nexit\nmiss:\nmov %%r0, 99\nexit\n", keys[k].key);
		for (int e = 0; e < 2; e++)
			progs[e] = with_map(text, false, true);
		for (size_t a = 0; a < sizeof(args) / sizeof(args[0]); a++) {
			uint64_t key = keys[k].mask ? args[a] & keys[k].mask : args[a] >> 62, r0[2];

			for (int e = 0; e < 2; e++) {
				CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .args = { args[a] },
					      .engine = e ? CSD_EBPF_ENGINE_JIT : CSD_EBPF_ENGINE_INTERP);

				assert_int_equal(csd_ebpf_prog__run(progs[e], NULL, 0, &opts, &r0[e]),
						 0);
			}
			if (r0[0] != r0[1] || (key >= 4 && r0[1] != 99) ||
			    (key < 4 && (r0[1] & 0xff) != key))
				fail_msg("key %s of %#llx: interpreter %#llx, JIT %#llx", keys[k].key,
					 (unsigned long long)args[a], (unsigned long long)r0[0],
					 (unsigned long long)r0[1]);
		}
		assert_memory_equal(progs[0]->maps[0].values, progs[1]->maps[0].values, 4 * 8);
		for (int e = 0; e < 2; e++)
			csd_ebpf_prog__free(progs[e]);
	}
	array_value_size = 16;
}

/*
 * What the JIT takes as checked after an inlined lookup is the value's 16 bytes, no more, and
 * only after `if r0 == 0`: a "proven" access outside them is checked, and a wrong proof ends
 * in a fault.
 */
static void test_inline_lookup_value_bounds(void **state)
{
	/*
	 * with the last key, past the map's end; with key 0, before its start; with a key past
	 * the last, NULL, tested against 5 and not 0 (so nothing is known of it)
	 */
	static const struct { int key; const char *access; } cases[] = {
		{ 3, "ldxdw %r0, [%r0+16]" }, { 3, "ldxw %r0, [%r0+14]" },
		{ 3, "stdw [%r0+16], 7\nmov %r0, 0" }, { 0, "ldxb %r0, [%r0-1]" },
		{ 9, "ldxdw %r0, [%r0+0]" } };
	char text[256];

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	for (size_t a = 0; a < sizeof(cases) / sizeof(cases[0]); a++) {
		struct csd_ebpf_prog *prog;
		CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .engine = CSD_EBPF_ENGINE_JIT);
		uint64_t r0 = 5;

		snprintf(text, sizeof(text), "stw [%%r10-4], %d\nlddw %%r1, 0\nmov %%r2, %%r10\n"
			 "add %%r2, -4\ncall 1\njeq %%r0, %d, out\n%s\nout:\nexit\n", cases[a].key,
			 cases[a].key == 9 ? 5 : 0, cases[a].access);
		prog = with_map(text, false, false);
		if (csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0) != -EFAULT)
			fail_msg("%s: no fault", cases[a].access);
		assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_MEMORY);
		assert_non_null(strstr(opts.fault.msg, "outside the program's memory"));
		csd_ebpf_prog__free(prog);
	}
}

/*
 * A global indexed as a table (jit_x86_64.c, fuse_map_value_access): loads, a
 * load-modify-store through a pointer still used after, a store, at an offset into the
 * global; the same answers and the same global in both engines, for every index.
 */
static void test_global_tables(void **state)
{
	static const char *const texts[] = {
		/* r3 & 63: a byte of the table */
		"and %r3, 63\nlddw %r4, 0\nadd %r4, %r3\nldxb %r0, [%r4]\nexit\n",
		/* words at 8 + (r3 & 7) * 4 + 4, the global's address + 8 */
		"and %r3, 7\nlsh %r3, 2\nlddw %r4, 8\nadd %r4, %r3\nldxw %r0, [%r4+4]\nexit\n",
		/* counts[r3 & 7] += 3 (8 bytes), then read again through the same pointer */
		"and %r3, 7\nlsh %r3, 3\nlddw %r4, 0\nadd %r4, %r3\nldxdw %r5, [%r4]\n"
		"add %r5, 3\nstxdw [%r4], %r5\nldxdw %r0, [%r4]\nexit\n",
		/* a byte stored at 32 + (r3 & 31) */
		"and %r3, 31\nlddw %r4, 32\nadd %r4, %r3\nstb [%r4], 0xee\nmov %r0, 1\nexit\n",
		/* counters: counts[r3 & 7] += r3 (8 bytes), a word at 4 + (r3 & 7) * 8 += 100000 */
		"and %r3, 7\nlsh %r3, 3\nlddw %r4, 0\nadd %r4, %r3\nldxdw %r5, [%r4]\n"
		"add %r5, %r3\nstxdw [%r4], %r5\nmov %r0, 1\nexit\n",
		"and %r3, 7\nlsh %r3, 3\nlddw %r4, 0\nadd %r4, %r3\nldxw %r5, [%r4+4]\n"
		"add32 %r5, 100000\nstxw [%r4+4], %r5\nmov %r0, 1\nexit\n",
		/* a word at 8 + (r3 & 7) * 4 + 4 incremented, then the one before it read */
		"and %r3, 7\nlsh %r3, 2\nlddw %r4, 8\nadd %r4, %r3\nldxw %r5, [%r4+4]\n"
		"add %r5, 1\nstxw [%r4+4], %r5\nldxw %r0, [%r4]\nexit\n",
	};

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		struct csd_ebpf_prog *progs[2] = { with_map(texts[t], true, true),
						   with_map(texts[t], true, true) };

		for (uint64_t x = 0; x < 80; x++) {
			uint64_t r0[2];

			for (int e = 0; e < 2; e++) {
				CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .args = { x * 0x10001 },
					      .engine = e ? CSD_EBPF_ENGINE_JIT :
							    CSD_EBPF_ENGINE_INTERP);

				assert_int_equal(csd_ebpf_prog__run(progs[e], NULL, 0, &opts, &r0[e]),
						 0);
			}
			if (r0[0] != r0[1])
				fail_msg("%s with r3 = %llu: interpreter %#llx, JIT %#llx", texts[t],
					 (unsigned long long)x, (unsigned long long)r0[0],
					 (unsigned long long)r0[1]);
		}
		assert_memory_equal(progs[0]->maps[0].values, progs[1]->maps[0].values, 64);
		for (int e = 0; e < 2; e++)
			csd_ebpf_prog__free(progs[e]);
	}
}

/*
 * The same table accesses under a wrong proof (no mask on the index): outside the global's 64
 * bytes, before or after it, a fault, and the global as it was.
 */
static void test_global_table_bounds(void **state)
{
	static const char *const texts[] = {
		"lddw %r4, 0\nadd %r4, %r3\nldxb %r0, [%r4]\nexit\n",
		"lddw %r4, 8\nadd %r4, %r3\nldxw %r0, [%r4+4]\nexit\n",
		"lddw %r4, 0\nadd %r4, %r3\nldxdw %r5, [%r4]\nadd %r5, 3\nstxdw [%r4], %r5\n"
		"ldxdw %r0, [%r4]\nexit\n",
		"lddw %r4, 32\nadd %r4, %r3\nstb [%r4], 0xee\nmov %r0, 1\nexit\n",
	};
	/* past the end for each text, and before the start (a "negative" index) */
	static const uint64_t past[] = { 64, 49, 57, 32 }, before = (uint64_t)-40;

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++)
		for (int b = 0; b < 2; b++) {
			struct csd_ebpf_prog *prog = with_map(texts[t], true, false);
			CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .engine = CSD_EBPF_ENGINE_JIT,
				      .args = { b ? before : past[t] });
			uint8_t global[64];
			uint64_t r0 = 5;

			memcpy(global, prog->maps[0].values, 64);
			if (csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0) != -EFAULT)
				fail_msg("%s with r3 = %#llx: no fault", texts[t],
					 (unsigned long long)opts.args[0]);
			assert_memory_equal(global, prog->maps[0].values, 64);
			csd_ebpf_prog__free(prog);
		}
}

/*
 * A table index the JIT needs no check for (jit_x86_64.c, local_bound): built by a random
 * chain of operations from two arguments, then `global[index]` read, under a wrong proof.
 * Where the code itself does not keep the index inside the global's 64 bytes, the JIT must
 * check it: each run gives what the interpreter (with its checks) gives, the byte's value or
 * a fault, for indexes inside, at the edge and far outside.
 */
static void test_table_index_bounds(void **state)
{
	/* %d: a constant of ks[] (a shift count for shifts); the first 8 start a chain */
	static const char *const ops[] = {
		"and %%r3, %d", "mov %%r3, %d", "and32 %%r3, %d", "rsh %%r3, %d",
		"ldxb %%r3, [%%r10-8]", "and %%r5, %d", "rsh32 %%r3, %d", "mov32 %%r5, %d",
		"or %%r3, %d", "xor %%r3, %d", "lsh %%r3, %d", "or32 %%r3, %d", "xor32 %%r3, %d",
		"lsh32 %%r3, %d", "arsh %%r3, %d", "arsh32 %%r3, %d", "add %%r3, %d",
		"rsh %%r5, %d", "mov32 %%r3, %%r3", "mov %%r3, %%r5", "xor %%r3, %%r5",
		"or %%r3, %%r5", "and %%r3, %%r5", "mov %%r5, %%r3", "neg %%r3", "mul %%r3, 3",
		"rsh %%r3, %%r5", "lsh32 %%r3, %%r5", "be16 %%r3", "le32 %%r3", "be64 %%r3",
		"bswap16 %%r3", "bswap32 %%r3", "movsx832 %%r3, %%r3", "movsx864 %%r3, %%r3",
		"movsx1664 %%r3, %%r3", "ldxh %%r3, [%%r10-8]", "ldxw %%r3, [%%r10-8]",
		/* high bits (a sign spread, bytes swapped) shifted down into the global (no %d) */
		"movsx864 %%r3, %%r3\nrsh %%r3, 58", "movsx832 %%r3, %%r3\nrsh32 %%r3, 26",
		"arsh %%r3, 63\nrsh %%r3, 58", "movsx1664 %%r3, %%r3\nrsh %%r3, 58",
		"be64 %%r3\nrsh %%r3, 58", "bswap32 %%r3\nrsh32 %%r3, 26",
	};
	static const int32_t ks[] = { 0, 1, 3, 7, 8, 15, 16, 24, 31, 32, 40, 48, 56, 57, 58, 60,
				      63, 64, 127, 128, 255, 256, 0x7fffffff, -1, -8, -64 };
	static const char *const loads[] = { "ldxb", "ldxh", "ldxw", "ldxdw" };
	static const uint64_t args[] = {
		0, 1, 7, 8, 31, 32, 56, 57, 63, 64, 0xff, 0x1ff, 0x7f8, 0x8000000000000000u,
		0xfffffffffffffff8u, 0x123456789abcdefu, 0xffffffff, 0x100000000u, 0xc0, 0x3f00,
	};
	uint64_t rng = 0x9e3779b97f4a7c15u;
	unsigned inside = 0;

	(void)state;
	if (!csd_ebpf_jit_available())
		skip();
	for (int t = 0; t < 6000; t++) {
		char text[1024], op[64];
		/* a word of -56 in the stack for the loads (its byte 0xc8); r5 the second argument */
		size_t len = (size_t)snprintf(text, sizeof(text),
			"stdw [%%r10-8], -56\nmov %%r5, %%r4\n");
		unsigned n = 1 + (unsigned)(csd_xorshift64(&rng) % 5);
		struct csd_ebpf_prog *progs[2];

		for (unsigned i = 0; i < n; i++) {
			const char *o = ops[csd_xorshift64(&rng) %
					    (i ? sizeof(ops) / sizeof(ops[0]) : 8)];
			int32_t k = ks[csd_xorshift64(&rng) % (sizeof(ks) / sizeof(ks[0]))];

			snprintf(op, sizeof(op), o, strstr(o, "sh") ? k & 63 : k);
			/* sometimes a way around the last operation: it bounds nothing then */
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s\n",
						i + 1 == n && t % 4 == 3 ? "jgt %r5, 100, l\n" : "",
						op);
		}
		snprintf(text + len, sizeof(text) - len,
			 "l:\nlddw %%r4, %u\nadd %%r4, %%r3\n%s %%r0, [%%r4+%u]\nexit\n",
			 (unsigned)(csd_xorshift64(&rng) % 16),
			 loads[csd_xorshift64(&rng) % 4], (unsigned)(csd_xorshift64(&rng) % 8));
		progs[0] = with_map(text, true, false);
		progs[1] = with_map(text, true, false);
		for (size_t a = 0; a < sizeof(args) / sizeof(args[0]); a++)
			for (size_t b = 0; b < sizeof(args) / sizeof(args[0]); b += 3) {
				uint64_t r0[2] = { 1, 2 };
				int err[2];

				for (int e = 0; e < 2; e++) {
					CSD_EBPF_OPTS(csd_ebpf_run_opts, opts,
						      .args = { args[a], args[b] }, .force_checks = !e,
						      .engine = e ? CSD_EBPF_ENGINE_JIT :
								    CSD_EBPF_ENGINE_INTERP);

					err[e] = csd_ebpf_prog__run(progs[e], NULL, 0, &opts, &r0[e]);
				}
				if (err[0] != err[1] || (!err[0] && r0[0] != r0[1]))
					fail_msg("%swith r3 = %#llx, r4 = %#llx: interpreter %d/%#llx, "
						 "JIT %d/%#llx", text, (unsigned long long)args[a],
						 (unsigned long long)args[b], err[0],
						 (unsigned long long)r0[0], err[1],
						 (unsigned long long)r0[1]);
				inside += !err[0];
			}
		for (int e = 0; e < 2; e++)
			csd_ebpf_prog__free(progs[e]);
	}
	assert_true(inside > 30000);	/* many chains reach inside the global */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandboxed_code_faults_cleanly),
		cmocka_unit_test(test_guarded_code_faults_cleanly),
		cmocka_unit_test(test_sandboxed_and_guarded_agree),
		cmocka_unit_test(test_reused_check_judged_as_a_store),
		cmocka_unit_test(test_stack_confined),
		cmocka_unit_test(test_stack_buffer_in_frames),
		cmocka_unit_test(test_byte_map_stores_confined),
		cmocka_unit_test(test_inline_lookups),
		cmocka_unit_test(test_inline_lookup_bounded_keys),
		cmocka_unit_test(test_inline_lookup_value_bounds),
		cmocka_unit_test(test_global_tables),
		cmocka_unit_test(test_global_table_bounds),
		cmocka_unit_test(test_table_index_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
