/* SPDX-License-Identifier: MIT */
/*
 * Both engines, the interpreter and the JIT, each test run once per engine: memory checks
 * name pc and address, the budget stops a run after exactly that many instructions (the
 * interpreter) or loop iterations (the JIT), abort and call depth stop it, helpers check
 * their pointers; and an interrupt stops the JIT's unchecked code for a verified program.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "test_helpers.h"

static enum csd_ebpf_engine engine;

/* run options for the engine under test */
#define RUN_OPTS(name, ...) CSD_EBPF_OPTS(csd_ebpf_run_opts, name, .engine = engine, __VA_ARGS__)

static struct csd_ebpf_prog *load_ok(const char *text)
{
	struct csd_ebpf_prog *prog;
	char log[256];

	if (asm_load(text, &prog, log, sizeof(log)))
		fail_msg("refused: %s", log);
	return prog;
}

/* load_ok, then verified (the JIT then compiles it as verified code), or the test fails */
static struct csd_ebpf_prog *load_verified(const char *text)
{
	struct csd_ebpf_prog *prog = load_ok(text);
	char log[512];

	if (csd_ebpf_prog__verify(prog, &(struct csd_ebpf_verify_opts){
		.sz = sizeof(struct csd_ebpf_verify_opts), .log_buf = log, .log_size = sizeof(log) }))
		fail_msg("refused by the verifier: %s", log);
	return prog;
}

static void test_reads_input_and_stack(void **state)
{
	struct csd_ebpf_prog *prog = load_ok(
		"ldxw %r3, [%r1+4]\n"		/* input bytes 4..7 */
		"stxdw [%r10-512], %r3\n"	/* lowest byte of the frame */
		"ldxdw %r0, [%r10-512]\n"
		"add %r0, %r2\n"		/* + len */
		"exit\n");
	uint8_t mem[8] = { 0, 0, 0, 0, 0x10, 0x20, 0, 0 };
	RUN_OPTS(opts);
	uint64_t r0;

	(void)state;
	assert_int_equal(csd_ebpf_prog__run(prog, mem, sizeof(mem), &opts, &r0), 0);
	assert_int_equal(r0, 0x2010 + 8);
	/* the interpreter counts instructions, the JIT loop iterations (there is no loop) */
	assert_int_equal(opts.insns_executed, engine == CSD_EBPF_ENGINE_JIT ? 0 : 5);
	csd_ebpf_prog__free(prog);
}

/*
 * repeat: the runs follow each other over the same input (a counter there goes up once a
 * run), each on a cleared stack (what a run left in its frame reads as 0 in the next), and
 * a fault stops them (at the run that reaches 3)
 */
static void test_repeated_runs(void **state)
{
	struct csd_ebpf_prog *prog = load_ok(
		"ldxdw %r0, [%r10-8]\n"	/* what a run before left: 0 */
		"stxdw [%r10-8], %r1\n"
		"mul %r0, 1000\n"
		"ldxw %r3, [%r1]\n"
		"add %r3, 1\n"
		"stxw [%r1], %r3\n"
		"add %r0, %r3\n"
		"jeq %r3, %r4, fault\n"
		"exit\n"
		"fault:\n"
		"ldxb %r0, [%r1+100]\n"
		"exit\n");
	static const struct { uint32_t repeat; uint64_t fault_at; int err; uint32_t count; } cases[] = {
		{ 0, 0, 0, 1 }, { 1, 0, 0, 1 }, { 2, 0, 0, 2 }, { 7, 0, 0, 7 },
		{ 7, 3, -EFAULT, 3 }, { 7, 1, -EFAULT, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t counter = 0;
		RUN_OPTS(opts, .repeat = cases[i].repeat, .args = { 0, cases[i].fault_at });
		uint64_t r0 = 99;

		assert_int_equal(csd_ebpf_prog__run(prog, &counter, sizeof(counter), &opts, &r0),
				 cases[i].err);
		assert_int_equal(counter, cases[i].count);
		assert_int_equal(r0, cases[i].err ? 0 : cases[i].count);
		if (cases[i].err)
			assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_MEMORY);
	}
	csd_ebpf_prog__free(prog);
}

static void test_memory_faults(void **state)
{
	static const struct { const char *text; const char *msg; bool readonly; } cases[] = {
		{ "ldxb %r0, [%r1+8]\nexit\n", "1-byte read at", false },
		{ "ldxw %r0, [%r1+6]\nexit\n", "4-byte read at", false },	/* straddles the end */
		{ "ldxb %r0, [%r1-1]\nexit\n", "1-byte read at", false },
		{ "stdw [%r10+0], 1\nmov %r0, 0\nexit\n", "8-byte write at", false }, /* above the stack */
		{ "mov %r0, 0\nstb [%r1+0], 1\nexit\n", "(read-only region)", true },
		{ "lddw %r1, 0x1000\nldxdw %r0, [%r1+0]\nexit\n", "8-byte read at 0x1000", false },
		{ "mov %r0, 0\nlock add [%r10-15], %r0\nexit\n", "not naturally aligned", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct csd_ebpf_prog *prog = load_ok(cases[i].text);
		RUN_OPTS(opts, .mem_readonly = cases[i].readonly);
		uint8_t mem[8] = { 0 };
		uint64_t r0 = 99;

		assert_int_equal(csd_ebpf_prog__run(prog, mem, sizeof(mem), &opts, &r0), -EFAULT);
		assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_MEMORY);
		assert_int_equal(r0, 0);
		print_message("# %s\n", opts.fault.msg);
		if (!strstr(opts.fault.msg, cases[i].msg) || strncmp(opts.fault.msg, "pc ", 3))
			fail_msg("case %zu: '%s' lacks '%s'", i, opts.fault.msg, cases[i].msg);
		assert_memory_equal(mem, (uint8_t[8]){ 0 }, 8);	/* nothing written */
		csd_ebpf_prog__free(prog);
	}
}

/*
 * A run's stack is one frame unless the program makes bpf-to-bpf calls (then every frame):
 * below it an access faults, and each run starts on a cleared stack whatever the run before
 * it left there (the same thread, another program: another host's data).
 */
static void test_stack_extent_and_clearing(void **state)
{
	/* r1 = r10 - off: the access is checked against the stack, not taken as a frame slot */
	static const char fill[] = "mov %%r1, %%r10\nadd %%r1, -%d\nmov %%r2, -1\n"
				   "stxdw [%%r1+0], %%r2\nldxdw %%r0, [%%r1+0]\n%s";
	static const char calls[] = "mov %r6, %r0\ncall local f\nmov %r0, %r6\nexit\n"
				    "f:\nmov %r0, 0\nexit\n";
	char text[256];
	(void)state;

	for (int with_calls = 0; with_calls < 2; with_calls++)
		for (int off = 8; off <= 4096; off += off < 512 ? 504 : 3584) {
			bool inside = off <= (with_calls ? 4096 : 512);
			struct csd_ebpf_prog *prog, *reader;
			RUN_OPTS(opts);
			uint64_t r0 = 99;

			snprintf(text, sizeof(text), fill, off, with_calls ? calls : "exit\n");
			prog = load_ok(text);
			assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0),
					 inside ? 0 : -EFAULT);
			assert_true(r0 == (inside ? UINT64_MAX : 0));
			if (!inside)
				assert_non_null(strstr(opts.fault.msg, "8-byte write at"));
			/* the next run, the same slot, read before any write: zero */
			snprintf(text, sizeof(text), "mov %%r1, %%r10\nadd %%r1, -%d\n"
				 "ldxdw %%r0, [%%r1+0]\n%s", off, with_calls ? calls : "exit\n");
			reader = load_ok(text);
			if (inside) {
				assert_int_equal(csd_ebpf_prog__run(reader, NULL, 0, &opts, &r0), 0);
				assert_true(r0 == 0);
			}
			csd_ebpf_prog__free(prog);
			csd_ebpf_prog__free(reader);
		}
}

static void test_budget_is_exact(void **state)
{
	/* 1 + 3 per iteration: r0 counts to 100 */
	struct csd_ebpf_prog *prog = load_ok("mov %r0, 0\nloop:\nadd %r0, 1\n"
					     "jlt %r0, 100, loop\nexit\n");
	RUN_OPTS(opts);
	uint64_t r0;

	(void)state;
	if (engine == CSD_EBPF_ENGINE_JIT) {
		/* the JIT counts arrivals at the loop head: 100, so 101 is enough and 100 not */
		opts.budget = 101;
		assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
		assert_int_equal(r0, 100);
		assert_int_equal(opts.insns_executed, 100);
		opts.budget = 100;
		assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), -ETIME);
		assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_BUDGET);
		assert_int_equal(opts.fault.pc, 1);	/* the loop head */
		assert_non_null(strstr(opts.fault.msg, "budget of 100 loop iterations"));
		csd_ebpf_prog__free(prog);
		return;
	}
	/* the whole run is 1 + 2*100 + 1 = 202 instructions */
	opts.budget = 202;
	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
	assert_int_equal(r0, 100);
	assert_int_equal(opts.insns_executed, 202);
	opts.budget = 201;
	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), -ETIME);
	assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_BUDGET);
	assert_int_equal(opts.insns_executed, 201);
	assert_int_equal(opts.fault.pc, 3);	/* the exit did not run */
	assert_non_null(strstr(opts.fault.msg, "instruction budget of 201 used up"));
	csd_ebpf_prog__free(prog);
}

static void test_long_budget_crosses_chunks(void **state)
{
	/* 3 million iterations: more than one internal budget chunk */
	struct csd_ebpf_prog *prog = load_ok("mov %r0, 0\nloop:\nadd %r0, 1\n"
					     "jlt %r0, 3000000, loop\nexit\n");
	RUN_OPTS(opts);
	uint64_t r0;

	bool jit = engine == CSD_EBPF_ENGINE_JIT;

	(void)state;
	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
	assert_int_equal(r0, 3000000);
	assert_int_equal(opts.insns_executed, jit ? 3000000 : 6000002);
	opts.budget = jit ? 2000000 : 4000000;
	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), -ETIME);
	assert_int_equal(opts.insns_executed, opts.budget);
	csd_ebpf_prog__free(prog);
}

static volatile bool abort_flag;

static void *raise_abort(void *arg)
{
	(void)arg;
	usleep(20000);
	abort_flag = true;
	return NULL;
}

static void test_abort_from_another_thread(void **state)
{
	struct csd_ebpf_prog *prog = load_ok("mov %r0, 0\nloop:\nadd %r0, 1\nja loop\nexit\n");
	RUN_OPTS(opts, .abort = &abort_flag,
		      .budget = UINT64_MAX);
	pthread_t t;
	uint64_t r0;

	(void)state;
	abort_flag = false;
	pthread_create(&t, NULL, raise_abort, NULL);
	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), -ECANCELED);
	pthread_join(t, NULL);
	assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_ABORTED);
	assert_true(opts.insns_executed > 0);
	csd_ebpf_prog__free(prog);
}

static void test_call_frames(void **state)
{
	/* each frame has its own 512 bytes: the callee's [r10-8] is not the caller's */
	struct csd_ebpf_prog *prog = load_ok(
		"stdw [%r10-8], 11\n"
		"mov %r1, 0\n"
		"call local f\n"
		"ldxdw %r1, [%r10-8]\n"
		"add %r0, %r1\n"
		"exit\n"
		"f:\n"
		"stdw [%r10-8], 22\n"
		"ldxdw %r0, [%r10-8]\n"
		"exit\n");
	struct csd_ebpf_prog *deep = load_ok("mov %r1, 0\ncall local f\nexit\n"
					     "f:\ncall local f\nexit\n");
	RUN_OPTS(opts);
	uint64_t r0;

	(void)state;
	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
	assert_int_equal(r0, 33);
	assert_int_equal(csd_ebpf_prog__run(deep, NULL, 0, &opts, &r0), -ELOOP);
	assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_CALL_DEPTH);
	csd_ebpf_prog__free(prog);
	csd_ebpf_prog__free(deep);

	/*
	 * r3 nested calls, each writing the lowest slot of its frame and adding it up on the way
	 * back: 7 fit (CSD_EBPF_MAX_FRAMES frames in all), the 8th stops the run at the call
	 */
	prog = load_ok("mov %r1, %r3\ncall local f\nexit\n"
		       "f:\nstxdw [%r10-512], %r1\nmov %r0, %r1\njeq %r1, 0, out\nsub %r1, 1\n"
		       "call local f\nldxdw %r1, [%r10-512]\nadd %r0, %r1\nout:\nexit\n");
	for (uint64_t n = 0; n <= 8; n++) {
		RUN_OPTS(nested, .args = { n });

		if (n < CSD_EBPF_MAX_FRAMES - 1) {
			assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &nested, &r0), 0);
			assert_int_equal(r0, n * (n + 1) / 2);
		} else {
			assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &nested, &r0), -ELOOP);
			assert_int_equal(nested.fault.pc, 7);	/* the call that would go deeper */
		}
	}
	csd_ebpf_prog__free(prog);
}

static void test_helpers(void **state)
{
	struct csd_ebpf_prog *printk = load_ok(
		"stw [%r10-8], 0x203d6e\n"	/* "n= " little-endian, then %d */
		"stw [%r10-5], 0x6425\n"	/* "%d\0\0" at -5 */
		"mov %r1, %r10\n"
		"add %r1, -8\n"
		"mov %r2, 6\n"
		"mov %r3, -42\n"
		"call 6\n"
		"exit\n");
	struct csd_ebpf_prog *badptr = load_ok("lddw %r1, 0x10\nmov %r2, 4\ncall 6\nexit\n");
	struct csd_ebpf_prog *badcallx = load_ok("mov %r2, 77\ncall %r2\nexit\n");
	RUN_OPTS(opts);
	char log[128];
	uint64_t r0;

	(void)state;
	assert_int_equal(csd_ebpf_prog__run(printk, NULL, 0, &opts, &r0), 0);
	assert_int_equal(r0, 6);	/* bytes logged */
	assert_int_equal(csd_ebpf_prog__log_read(printk, log, sizeof(log)), 7);
	assert_string_equal(log, "n= -42\n");
	assert_int_equal(csd_ebpf_prog__log_read(printk, log, sizeof(log)), 0);

	assert_int_equal(csd_ebpf_prog__run(badptr, NULL, 0, &opts, &r0), -EFAULT);
	assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_HELPER);
	assert_non_null(strstr(opts.fault.msg, "trace_printk format: 4 bytes at 0x10"));

	assert_int_equal(csd_ebpf_prog__run(badcallx, NULL, 0, &opts, &r0), -EFAULT);
	assert_non_null(strstr(opts.fault.msg, "callx to helper 77, which does not exist"));
	csd_ebpf_prog__free(printk);
	csd_ebpf_prog__free(badptr);
	csd_ebpf_prog__free(badcallx);
}

/* A verified program in JIT code has no budget checks: an interrupt must still stop it. */
struct interrupter {
	pthread_t target;
	volatile bool done;
};

static void *interrupt_later(void *arg)
{
	struct interrupter *it = arg;

	usleep(20000);
	abort_flag = true;
	while (!it->done) {	/* again and again, as the drive's watchdog does */
		csd_ebpf_run_interrupt(it->target);
		usleep(1000);
	}
	return NULL;
}

static void test_interrupt_verified_jit_code(void **state)
{
	/* 2^40 iterations: bounded (the verifier takes it), endless in practice */
	struct csd_ebpf_prog *prog = load_ok("mov %r0, 0\nlddw %r1, 0x10000000000\nloop:\n"
					     "add %r0, 1\njlt %r0, %r1, loop\nexit\n");
	RUN_OPTS(opts, .abort = &abort_flag);
	struct interrupter it = { pthread_self(), false };
	pthread_t t;
	uint64_t r0;

	(void)state;
	assert_int_equal(csd_ebpf_prog__verify(prog, NULL), 0);
	abort_flag = false;
	pthread_create(&t, NULL, interrupt_later, &it);
	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), -ECANCELED);
	it.done = true;
	pthread_join(t, NULL);
	assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_ABORTED);
	assert_true(opts.fault.pc >= 3 && opts.fault.pc <= 4);	/* inside the loop */
	assert_true(r0 == 0);
	csd_ebpf_prog__free(prog);
}

static int use_interp(void **state) { (void)state; engine = CSD_EBPF_ENGINE_INTERP; return 0; }

static int use_jit(void **state)
{
	(void)state;
	if (!csd_ebpf_jit_available())
		skip();		/* prints: no JIT for this machine */
	engine = CSD_EBPF_ENGINE_JIT;
	return 0;
}

/* each test once per engine, named after both */
/*
 * Shapes the JIT compiles specially, against what C computes: `a = K1; if (cond) goto T;
 * a = K2; goto T` (a cmov), `x <<= k; x >>= k` (movzx, movsx), and division and modulo by
 * constants (x86 div in line, r0 and r3 being rax and rdx), over values around the signed and
 * unsigned edges.
 */
static uint64_t expect_select(const char *op, bool w32, uint64_t x, uint64_t y)
{
	uint64_t ux = w32 ? (uint32_t)x : x, uy = w32 ? (uint32_t)y : y;
	int64_t sx = w32 ? (int32_t)x : (int64_t)x, sy = w32 ? (int32_t)y : (int64_t)y;

	return !strcmp(op, "jeq") ? ux == uy : !strcmp(op, "jne") ? ux != uy :
	       !strcmp(op, "jgt") ? ux > uy : !strcmp(op, "jge") ? ux >= uy :
	       !strcmp(op, "jlt") ? ux < uy : !strcmp(op, "jle") ? ux <= uy :
	       !strcmp(op, "jsgt") ? sx > sy : !strcmp(op, "jsge") ? sx >= sy :
	       !strcmp(op, "jslt") ? sx < sy : !strcmp(op, "jsle") ? sx <= sy :
	       (ux & uy) != 0;	/* jset */
}

/* A run of prog with r3 and r4 from opts that must return want, or the test fails. */
static void run_expecting(struct csd_ebpf_prog *prog, const char *text,
			  struct csd_ebpf_run_opts *opts, uint64_t want)
{
	uint64_t r0;

	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, opts, &r0), 0);
	if (r0 != want)
		fail_msg("%s: r3 = %#llx, r4 = %#llx: r0 = %#llx, expected %#llx", text,
			 (unsigned long long)opts->args[0], (unsigned long long)opts->args[1],
			 (unsigned long long)r0, (unsigned long long)want);
}

/*
 * Division and modulo by 300 random constants of 2 to 32 bits, in 64 and 32 bits: the JIT
 * multiplies by an inverse, with a shorter one for dividends below 2^32 where the constant
 * has one (a 64-bit division tests which at run time). Dividends at the edges of quotients
 * just below 2^32 and at it, and random ones of 32 and 64 bits, against C.
 */
static void test_division_by_random_constants(void **state)
{
	uint64_t seed = 0x2545f4914f6cdd1dull;
	char text[128];

	(void)state;
	for (int n = 0; n < 300; n++) {
		unsigned bits = 2 + (unsigned)(csd_xorshift64(&seed) % 31);
		uint64_t k = (csd_xorshift64(&seed) >> (64 - bits)) | 1ull << (bits - 1);
		bool w32 = n % 2, mod = n / 2 % 2;
		struct csd_ebpf_prog *prog;

		if (!w32 && k > INT32_MAX)		/* a 64-bit op's constant is sign-extended */
			k >>= 1;
		snprintf(text, sizeof(text), "mov %%r0, %%r3\n%s%s %%r0, %lld\nexit\n",
			 mod ? "mod" : "div", w32 ? "32" : "", (long long)(int32_t)(uint32_t)k);
		prog = load_ok(text);
		for (int v = 0; v < 12; v++) {
			uint64_t top = UINT32_MAX / k * k, x;

			x = v < 3 ? top - 1 + (uint64_t)v : v < 5 ? UINT32_MAX + (uint64_t)(v - 3) :
			    v < 8 ? (uint32_t)csd_xorshift64(&seed) : v < 9 ? k - 1 :
			    csd_xorshift64(&seed) >> (v % 3 * 16);
			RUN_OPTS(opts, .args = { x });

			run_expecting(prog, text, &opts, w32 ? (mod ? (uint32_t)x % (uint32_t)k :
								(uint32_t)x / (uint32_t)k) :
							       (mod ? x % k : x / k));
		}
		csd_ebpf_prog__free(prog);
	}
}

static void test_jit_shapes(void **state)
{
	static const char *const ops[] = { "jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt",
					   "jsge", "jslt", "jsle", "jset" };
	static const uint64_t vals[] = { 0, 1, 2, 7, 0x7fffffff, 0x80000000, 0xffffffff,
					 0x100000000, UINT64_MAX, (uint64_t)INT64_MIN };
	static const int32_t divisors[] = { 1, 2, 3, 7, 10, 641, 4096, 65521, 12345, 6700417,
					    1 << 30, (1 << 30) + 1, 1000000007, 0x7fffffff,
					    INT32_MIN, -1, -7, -65536 };
	static const char *const dsts[] = { "r0", "r3", "r4", "r6", "r7" };
	char text[512];
	(void)state;

	/*
	 * `a = K1; if (cond) goto t; a = K2; goto t; t:` (cmov, or setcc for 1 and 0), and the
	 * same without the goto (setcc for 1 and 0, fuse_flag_select), into r5 (r8), r1 (rdi: its
	 * low byte needs a REX prefix) and r6 (rbx)
	 */
	static const int32_t taken[] = { -3, 1, 0 }, not_taken[] = { 9, 0, 1 };
	static const char *const selected[] = { "r5", "r1", "r6" };

	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
		for (int w32 = 0; w32 < 2; w32++)
			for (int imm = 0; imm < 4; imm++)	/* 2, 3: no ja (the jump is +1) */
			for (int k = 0; k < 3; k++) {
				struct csd_ebpf_prog *prog;
				const char *r = selected[(o + (size_t)k) % 3], *w = w32 ? "32" : "";

				snprintf(text, sizeof(text),
					 "mov%s %%%s, %d\n%s%s %%r3, %s, t\nmov%s %%%s, %d\n%s"
					 "t:\nmov %%r0, %%%s\nexit\n", w, r, taken[k], ops[o], w,
					 imm % 2 ? "7" : "%r4", w, r, not_taken[k],
					 imm < 2 ? "ja t\n" : "", r);
				prog = load_ok(text);
				for (size_t a = 0; a < sizeof(vals) / sizeof(vals[0]); a++)
					for (size_t b = 0; b < sizeof(vals) / sizeof(vals[0]); b++) {
						RUN_OPTS(opts, .args = { vals[a], vals[b] });
						uint64_t y = imm % 2 ? 7 : vals[b];
						uint64_t want = expect_select(ops[o], w32, vals[a], y) ?
							(w32 ? (uint32_t)taken[k] : (uint64_t)(int64_t)taken[k]) :
							(uint64_t)not_taken[k];

						run_expecting(prog, text, &opts, want);
					}
				csd_ebpf_prog__free(prog);
			}
	/* a flag select whose compare reads the flag's register: not fused (r = r3 == 1) */
	for (int dst = 0; dst < 2; dst++) {
		struct csd_ebpf_prog *prog;

		snprintf(text, sizeof(text), "%s", dst ?
			 "mov %r4, %r3\nmov %r3, 1\njeq %r3, %r4, +1\nmov %r3, 0\nmov %r0, %r3\nexit\n" :
			 "mov %r4, 1\njeq %r3, %r4, +1\nmov %r4, 0\nmov %r0, %r4\nexit\n");
		prog = load_ok(text);
		for (size_t a = 0; a < sizeof(vals) / sizeof(vals[0]); a++) {
			RUN_OPTS(opts, .args = { vals[a] });

			run_expecting(prog, text, &opts, vals[a] == 1);
		}
		csd_ebpf_prog__free(prog);
	}
	/*
	 * `if (cond) goto +1; a = b`: a cmov when the move is 64 bits or of a constant, into r5
	 * (r8), r1 (rdi) and r6; b a constant, a 64-bit value in r7, r4 (a compare operand), and
	 * a 32-bit move, which stays a jump; `a = r7; if (cond) goto t; a = b; goto t`, the
	 * selects above with registers; and `if (cond) goto t; a = b; goto t` with t elsewhere
	 * (a jump: see fuse_cond_move()), or the goto elsewhere than t
	 */
	static const char *const moves[] = { "mov %%%s, -3", "mov %%%s, %%r7", "mov %%%s, %%r4",
					     "mov32 %%%s, %%r7", "mov32 %%%s, 9" };

	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
		for (int w32 = 0; w32 < 2; w32++)
			for (size_t mv = 0; mv < sizeof(moves) / sizeof(moves[0]); mv++)
			for (int sel = 0; sel < 4; sel++) {
				struct csd_ebpf_prog *prog;
				const char *r = selected[(o + mv) % 3], *w = w32 ? "32" : "";
				char move[32];

				snprintf(move, sizeof(move), moves[mv], r);
				if (sel == 1)	/* a = r7; if (cond) goto t; a = b; goto t */
					snprintf(text, sizeof(text),
						 "lddw %%r7, 0x123456789\nmov %%%s, %%r7\n"
						 "%s%s %%r3, %%r4, t\n%s\nja t\nt:\nmov %%r0, %%%s\n"
						 "exit\n", r, ops[o], w, move, r);
				else if (sel == 0)	/* a = r3 + 1; if (cond) goto +1; a = b */
					snprintf(text, sizeof(text),
						 "lddw %%r7, 0x123456789\nmov %%%s, %%r3\nadd %%%s, 1\n"
						 "%s%s %%r3, %%r4, t\n%s\nt:\nmov %%r0, %%%s\nexit\n",
						 r, r, ops[o], w, move, r);
				else	/* t elsewhere: if (cond) goto t; a = b; goto t (or u) */
					snprintf(text, sizeof(text),
						 "ja start\nt:\nmov %%r0, %%%s\nexit\nstart:\n"
						 "lddw %%r7, 0x123456789\nmov %%%s, %%r3\nadd %%%s, 1\n"
						 "%s%s %%r3, %%r4, t\n%s\nja %s\nu:\nmov %%r0, %%%s\n"
						 "add %%r0, 7\nexit\n",
						 r, r, r, ops[o], w, move, sel == 2 ? "t" : "u", r);
				prog = load_ok(text);
				for (size_t a = 0; a < sizeof(vals) / sizeof(vals[0]); a++)
					for (size_t b = 0; b < sizeof(vals) / sizeof(vals[0]); b++) {
						RUN_OPTS(opts, .args = { vals[a], vals[b] });
						uint64_t before = sel == 1 ? 0x123456789u : vals[a] + 1;
						uint64_t moved = mv == 0 ? (uint64_t)-3 :
								 mv == 1 ? 0x123456789u :
								 mv == 2 ? vals[b] : mv == 3 ? 0x23456789u : 9;
						uint64_t want = expect_select(ops[o], w32, vals[a], vals[b]) ?
								before : moved + (sel == 3 ? 7 : 0);

						run_expecting(prog, text, &opts, want);
					}
				csd_ebpf_prog__free(prog);
			}
	/*
	 * x <<= k; x >>= k (s>>=) for k = 32, 48, 56 (movzx, movsx), and the same of a copy,
	 * `x = s; x <<= k; x >>= k` (one movzx or movsx from s), s left as it was
	 */
	for (size_t e = 0; e < 48; e++) {
		static const int ks[] = { 32, 48, 56, 40 };	/* 40: not a width, two shifts */
		static const int regs[] = { 3, 6, 1 };		/* rdx, rbx, rdi (dil needs REX) */
		static const int srcs[] = { 1, 7, 3 };		/* rdi, r13, rdx */
		int k = ks[e % 4], x_reg = regs[e / 8 % 3], s_reg = srcs[e / 8 % 3];
		bool sx = e / 4 % 2, copy = e >= 24;
		struct csd_ebpf_prog *prog;

		if (copy)
			snprintf(text, sizeof(text), "mov %%r%d, %%r3\nmov %%r%d, %%r%d\n"
				 "lsh %%r%d, %d\n%s %%r%d, %d\nmov %%r0, %%r%d\nxor %%r0, %%r%d\n"
				 "exit\n", s_reg, x_reg, s_reg, x_reg, k, sx ? "arsh" : "rsh", x_reg,
				 k, x_reg, s_reg);
		else
			snprintf(text, sizeof(text), "mov %%r%d, %%r3\nlsh %%r%d, %d\n%s %%r%d, %d\n"
				 "mov %%r0, %%r%d\nexit\n", x_reg, x_reg, k, sx ? "arsh" : "rsh",
				 x_reg, k, x_reg);
		prog = load_ok(text);
		for (size_t a = 0; a < sizeof(vals) / sizeof(vals[0]); a++) {
			RUN_OPTS(opts, .args = { vals[a] * 0x0101010101010101u });
			uint64_t x = vals[a] * 0x0101010101010101u, r0;
			uint64_t want = sx ? (uint64_t)((int64_t)(x << k) >> k) : (x << k) >> k;

			if (copy)	/* r0 = x's extension ^ s, which is x */
				want ^= x;
			assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
			if (r0 != want)
				fail_msg("%s with r3 = %#llx: r0 = %#llx, expected %#llx", text,
					 (unsigned long long)x, (unsigned long long)r0,
					 (unsigned long long)want);
		}
		csd_ebpf_prog__free(prog);
	}
	/*
	 * `d *= c; d += s` and `d += k` after it, as a number is parsed: one or two lea where
	 * c is 1, 2, 4 or 8 times 1, 3, 5 or 9, lea, shl and add where c is 2^b + 1 (a hash's
	 * 33), the three instructions otherwise; s in r13 (r7: no base without a displacement)
	 * and as the index, k of 8 and 32 bits and none
	 */
	static const int32_t scales[] = { 1, 2, 3, 4, 5, 8, 9, 10, 12, 18, 20, 24, 36, 40, 72, 6,
					  7, 16, 17, 33, 65, 66, 0x40000001 };
	static const char *const adds[] = { "", "add %r5, -48\n", "add %r5, 1000\n",
					     "add %r5, -100000\n" };
	static const int64_t added[] = { 0, -48, 1000, -100000 };

	/*
	 * and `t *= c; s += t`, `t = a; t *= c; s += t` (t dead after: fused), t read after (not):
	 * forms 1 to 4, the sum in r7 (r13) or r4
	 */
	static const char *const forms[] = {
		"mov %%r5, %%r3\nmov %%r7, %%r4\nmul %%r5, %d\nadd %%r5, %%r%d\n%s"
		"mov %%r0, %%r5\nexit\n",
		"mov %%r5, %%r3\nmov %%r7, %%r4\nmul %%r5, %d\nadd %%r%d, %%r5\n%s"
		"mov %%r0, %%r%d\nexit\n",
		"mov %%r7, %%r4\nmov %%r6, %%r3\nmov %%r5, %%r6\nmul %%r5, %d\n"
		"add %%r%d, %%r5\n%smov %%r0, %%r%d\nexit\n",
		"mov %%r5, %%r3\nmov %%r7, %%r4\nmul %%r5, %d\nadd %%r%d, %%r5\n%s"
		"mov %%r0, %%r%d\nadd %%r0, %%r5\nexit\n",
	};

	for (size_t c = 0; c < sizeof(scales) / sizeof(scales[0]); c++)
		for (size_t k = 0; k < 4; k++)
			for (int s7 = 0; s7 < 8; s7++) {
				struct csd_ebpf_prog *prog;
				int form = s7 / 2, sum = s7 % 2 ? 7 : 4;
				char add[32];

				snprintf(add, sizeof(add), "%s", adds[k]);
				if (form)	/* the constant goes to the sum */
					add[6] = (char)('0' + sum);
				snprintf(text, sizeof(text), forms[form], scales[c], sum, add, sum);
				prog = load_ok(text);
				for (size_t a = 0; a < sizeof(vals) / sizeof(vals[0]); a++) {
					RUN_OPTS(opts, .args = { vals[a], vals[sizeof(vals) /
								     sizeof(vals[0]) - 1 - a] });
					uint64_t r0, want = vals[a] * (uint64_t)scales[c] +
						vals[sizeof(vals) / sizeof(vals[0]) - 1 - a] +
						(uint64_t)added[k];

					if (form == 3)	/* + t, read after */
						want += vals[a] * (uint64_t)scales[c];

					assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
					if (r0 != want)
						fail_msg("%s with r3 = %#llx: r0 = %#llx, expected %#llx",
							 text, (unsigned long long)vals[a],
							 (unsigned long long)r0, (unsigned long long)want);
				}
				csd_ebpf_prog__free(prog);
			}
	/*
	 * shifts by a register (shlx/shrx/sarx where the CPU has BMI2, else through cl, which
	 * is eBPF r4): the count and the value in r4 (rcx), in registers that need REX (r7: r13)
	 * and in the same register; counts past the width are masked, as the interpreter does
	 */
	static const char *const shifts[] = { "lsh", "rsh", "arsh" };
	static const char *const shift_regs[][2] = { { "r3", "r4" }, { "r4", "r3" },
						     { "r7", "r1" }, { "r6", "r7" }, { "r0", "r0" } };
	static const uint64_t counts[] = { 0, 1, 7, 31, 32, 33, 63, 64, 100 };

	for (size_t o = 0; o < 3; o++)
		for (size_t r = 0; r < sizeof(shift_regs) / sizeof(shift_regs[0]); r++)
			for (int w32 = 0; w32 < 2; w32++) {
				const char *d = shift_regs[r][0], *c = shift_regs[r][1];
				struct csd_ebpf_prog *prog;

				snprintf(text, sizeof(text),
					 "mov %%r0, 11\nmov %%r6, 22\nmov %%r7, 33\nmov %%r1, 44\n"
					 "mov %%r4, 55\n"
					 "mov %%%s, %%r3\nmov %%%s, %%r5\n%s%s %%%s, %%%s\n"
					 "mov %%r2, %%%s\nmov %%%s, 0\n"
					 "add %%r0, %%r6\nadd %%r0, %%r7\nadd %%r0, %%r1\nadd %%r0, %%r4\n"
					 "mul %%r2, 3\nadd %%r0, %%r2\nexit\n", d, c, shifts[o],
					 w32 ? "32" : "", d, c, d, d);
				prog = load_ok(text);
				for (size_t a = 0; a < sizeof(vals) / sizeof(vals[0]); a++)
					for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
						RUN_OPTS(opts, .args = { vals[a] * 0x0101010101010101u,
									 0, counts[k] });
						uint64_t x = vals[a] * 0x0101010101010101u, n, v, r0;
						static const char *const others[] = { "r0", "r6", "r7", "r1",
										       "r4" };
						static const uint64_t init[] = { 11, 22, 33, 44, 55 };
						uint64_t sum = 0;

						/* r0 + r6 + r7 + r1 + r4 as the shift left them, d zeroed */
						for (int z = 0; z < 5; z++)
							sum += !strcmp(others[z], d) ? 0 :
							       !strcmp(others[z], c) ? counts[k] : init[z];
						n = counts[k] & (w32 ? 31 : 63);
						if (strcmp(c, d) == 0)	/* the count is the value */
							x = counts[k];
						if (w32)
							v = o == 0 ? (uint32_t)((uint32_t)x << n) :
							    o == 1 ? (uint32_t)x >> n :
							    (uint32_t)((int32_t)(uint32_t)x >> n);
						else
							v = o == 0 ? x << n : o == 1 ? x >> n :
							    (uint64_t)((int64_t)x >> n);
						assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts,
										    &r0), 0);
						if (r0 != sum + v * 3)
							fail_msg("%s with value %#llx, count %llu: "
								 "r0 = %#llx, expected %#llx", text,
								 (unsigned long long)x,
								 (unsigned long long)counts[k],
								 (unsigned long long)r0,
								 (unsigned long long)(sum + v * 3));
					}
				csd_ebpf_prog__free(prog);
			}
	/*
	 * division and modulo by constants: a shift or a mask for powers of 2, a multiply by the
	 * inverse (mulx for 64 bits, which uses rdx: r3) or div for the others, into r0 (rax), r3
	 * (rdx), r4, r6 and r7 (r13), the others left alone; the values above and 64 random
	 */
	uint64_t xs[sizeof(vals) / sizeof(vals[0]) + 64], seed = 0x9e3779b97f4a7c15u;

	for (size_t a = 0; a < sizeof(xs) / sizeof(xs[0]); a++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		xs[a] = a < sizeof(vals) / sizeof(vals[0]) ? vals[a] : seed >> (a % 40);
	}
	for (size_t d = 0; d < sizeof(divisors) / sizeof(divisors[0]); d++)
		for (size_t r = 0; r < sizeof(dsts) / sizeof(dsts[0]); r++)
			for (int kind = 0; kind < 4; kind++) {	/* div, mod; 64, 32 bits */
				bool mod = kind & 1, w32 = kind & 2;
				struct csd_ebpf_prog *prog;

				snprintf(text, sizeof(text),
					 "mov %%r0, 11\nmov %%r4, 22\nmov %%r6, %%r3\nmov %%r7, %%r3\n"
					 "mov %%r%c, %%r3\n%s%s %%%s, %d\nadd %%r0, %%r4\n"
					 "add %%r0, %%r6\nadd %%r0, %%r3\nadd %%r0, %%r7\nexit\n",
					 dsts[r][1], mod ? "mod" : "div", w32 ? "32" : "", dsts[r],
					 divisors[d]);
				prog = load_ok(text);
				for (size_t a = 0; a < sizeof(xs) / sizeof(xs[0]); a++) {
					RUN_OPTS(opts, .args = { xs[a] });
					uint64_t x = xs[a], k = w32 ? (uint32_t)divisors[d] :
						     (uint64_t)(int64_t)divisors[d], q, r0;
					uint64_t regs[5] = { 11, x, 22, x, x };	/* r0 r3 r4 r6 r7 */

					q = w32 ? (uint32_t)(mod ? (uint32_t)x % (uint32_t)k :
							     (uint32_t)x / (uint32_t)k) :
						  (mod ? x % k : x / k);
					regs[r] = q;
					assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
					if (r0 != regs[0] + regs[1] + regs[2] + regs[3] + regs[4])
						fail_msg("%s with r3 = %#llx: r0 = %#llx, expected %#llx",
							 text, (unsigned long long)x,
							 (unsigned long long)r0,
							 (unsigned long long)(regs[0] + regs[1] + regs[2] +
									      regs[3] + regs[4]));
				}
				csd_ebpf_prog__free(prog);
			}
	/*
	 * multiplications by constants, which the JIT writes as shifts, lea and adds where it
	 * can (2^k, 3/5/9 * 2^k, 2^n + 1) and as imul otherwise, into registers that are and are
	 * not lea's special cases as a base (r7: r13), in 64 and 32 bits, the others left alone
	 */
	static const int32_t factors[] = { 0, 1, 2, 3, 5, 9, 6, 10, 40, 72, 1 << 30, 17, 33,
					   65537, (1 << 30) + 1, 7, 11, -1, -3, -10, INT32_MIN };
	static const char *const products[] = { "r0", "r3", "r7", "r6", "r1" };

	for (size_t f = 0; f < sizeof(factors) / sizeof(factors[0]); f++)
		for (size_t r = 0; r < sizeof(products) / sizeof(products[0]); r++)
			for (int w32 = 0; w32 < 2; w32++) {
				struct csd_ebpf_prog *prog;

				snprintf(text, sizeof(text),
					 "mov %%r0, 11\nmov %%r6, 22\nmov %%r7, 33\nmov %%r1, 44\n"
					 "mov %%%s, %%r3\nmul%s %%%s, %d\nmul %%r0, 3\nadd %%r0, %%r6\n"
					 "mul %%r0, 3\nadd %%r0, %%r7\nmul %%r0, 3\nadd %%r0, %%r1\n"
					 "mul %%r0, 3\nadd %%r0, %%r3\nexit\n", products[r],
					 w32 ? "32" : "", products[r], factors[f]);
				prog = load_ok(text);
				for (size_t a = 0; a < sizeof(vals) / sizeof(vals[0]); a++) {
					RUN_OPTS(opts, .args = { vals[a] });
					uint64_t x = vals[a], p, r0;
					uint64_t regs[5] = { 11, x, 33, 22, 44 };	/* as products[] */

					p = w32 ? (uint32_t)((uint32_t)x * (uint32_t)factors[f]) :
						  x * (uint64_t)(int64_t)factors[f];
					regs[r] = p;
					if (r != 1)
						regs[1] = x;
					assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
					if (r0 != (((regs[0] * 3 + regs[3]) * 3 + regs[2]) * 3 + regs[4]) *
						  3 + regs[1])
						fail_msg("%s with r3 = %#llx: r0 = %#llx", text,
							 (unsigned long long)x, (unsigned long long)r0);
				}
				csd_ebpf_prog__free(prog);
			}
}

/*
 * Counters, `r = [m]; r += v; [m] = r` with r dead after, as one add to memory in verified JIT
 * code: 4 and 8 bytes, an immediate of 8 and 32 bits or a register, in the input (sandboxed
 * and not) and the stack; and shapes that must stay three instructions: r read after, a
 * 32-bit add to an 8-byte counter. Against C, in both engines.
 */
static void test_counters_in_memory(void **state)
{
	static const struct { const char *body; int size; int64_t add; bool by_len, wide; } cases[] = {
		{ "ldxdw %r3, [%r1+8]\nadd %r3, 3\nstxdw [%r1+8], %r3\n", 8, 3, false, true },
		{ "ldxw %r3, [%r1+8]\nadd32 %r3, 100000\nstxw [%r1+8], %r3\n", 4, 100000, false,
		  false },
		{ "ldxw %r3, [%r1+8]\nadd %r3, -1\nstxw [%r1+8], %r3\n", 4, -1, false, false },
		{ "ldxdw %r3, [%r1+8]\nadd %r3, %r2\nstxdw [%r1+8], %r3\n", 8, 0, true, true },
		/* r3 read after: stays a load, add and store */
		{ "ldxdw %r3, [%r1+8]\nadd %r3, 3\nstxdw [%r1+8], %r3\nadd %r0, %r3\n", 8, 3, false,
		  true },
		/* a 32-bit add of an 8-byte counter: the upper half cleared */
		{ "ldxdw %r3, [%r1+8]\nadd32 %r3, 3\nstxdw [%r1+8], %r3\n", 8, 3, false, false },
	};
	uint8_t *boxed = csd_ebpf_sandbox_alloc(32);
	uint8_t plain[32];
	char text[512];

	(void)state;
	assert_non_null(boxed);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct csd_ebpf_prog *prog;

		snprintf(text, sizeof(text), "mov %%r0, 0\njlt %%r2, 32, out\n%s"
			 /* the same on the stack */
			 "stdw [%%r10-16], -2\nldxdw %%r4, [%%r10-16]\nadd %%r4, 7\n"
			 "stxdw [%%r10-16], %%r4\nldxdw %%r5, [%%r10-16]\nadd %%r0, %%r5\n"
			 "out:\nexit\n", cases[c].body);
		prog = load_verified(text);
		for (int in_sandbox = 0; in_sandbox < 2; in_sandbox++) {
			uint8_t *in = in_sandbox ? boxed : plain;
			uint64_t before = 0x00000001fffffff0u, after, r0, want_r0 = 5;	/* carries */
			int64_t v = cases[c].by_len ? 32 : cases[c].add;
			RUN_OPTS(opts);

			memset(in, 0x11, 32);
			memcpy(in + 8, &before, 8);
			assert_int_equal(csd_ebpf_prog__run(prog, in, 32, &opts, &r0), 0);
			memcpy(&after, in + 8, 8);
			if (cases[c].size == 4)
				before = (before & 0xffffffff00000000u) |
					 (uint32_t)((uint32_t)before + (uint32_t)v);
			else if (cases[c].wide)
				before += (uint64_t)v;
			else
				before = (uint32_t)(before + (uint64_t)v);
			if (strstr(cases[c].body, "add %r0, %r3"))
				want_r0 += before;
			assert_true(after == before);
			assert_true(r0 == want_r0);
			for (int i = 0; i < 32; i++)
				if (i < 8 || i >= 16)
					assert_int_equal(in[i], 0x11);
		}
		csd_ebpf_prog__free(prog);
	}
	csd_ebpf_sandbox_free(boxed);
}

/*
 * Verified JIT code checks the address of a load-modify-store once (`x[i] += v`): the store
 * reuses the load's check while the base register and r11 stay as they were, never after the
 * base changed (add, mov) or across a check with a weaker limit (an input read, then a write).
 * Over the input (checked, and masked in a sandbox) and the stack, against C.
 */
static void test_checked_address_reused(void **state)
{
	struct csd_ebpf_prog *prog = load_ok(
		"mov %r0, 0\n"
		"jlt %r2, 16, out\n"
		"mov %r6, %r1\n"
		"ldxdw %r3, [%r6]\n"
		"add %r3, 1\n"
		"stxdw [%r6], %r3\n"		/* a write after a read's check: checked again */
		"ldxdw %r3, [%r6]\n"
		"add %r3, 2\n"
		"stxdw [%r6], %r3\n"
		"add %r6, 8\n"			/* the base moved: checked again */
		"ldxw %r4, [%r6]\n"
		"xor %r4, 5\n"
		"stxw [%r6], %r4\n"
		"mov %r7, %r10\n"
		"add %r7, -16\n"
		"stxdw [%r7], %r3\n"
		"ldxdw %r5, [%r7]\n"
		"add %r5, %r4\n"
		"stxdw [%r7], %r5\n"
		"mov %r7, %r10\n"		/* another address in the same register */
		"add %r7, -8\n"
		"stxdw [%r7], %r4\n"
		"ldxdw %r0, [%r10-16]\n"
		"ldxdw %r1, [%r10-8]\n"
		"mul %r1, 1000\n"
		"add %r0, %r1\n"
		"out:\n"
		"exit\n");
	uint8_t *boxed = csd_ebpf_sandbox_alloc(16);
	uint8_t plain[16];

	(void)state;
	assert_non_null(boxed);
	assert_int_equal(csd_ebpf_prog__verify(prog, NULL), 0);
	for (int in_sandbox = 0; in_sandbox < 2; in_sandbox++) {
		uint8_t *mem = in_sandbox ? boxed : plain;
		uint64_t x = 0x1122334455667788u, r0, want;
		uint32_t y = 0x0badf00d;
		RUN_OPTS(opts);

		memcpy(mem, &x, 8);
		memcpy(mem + 8, &y, 4);
		memset(mem + 12, 0xee, 4);
		assert_int_equal(csd_ebpf_prog__run(prog, mem, 16, &opts, &r0), 0);
		want = (x + 3 + (y ^ 5)) + (uint64_t)(y ^ 5) * 1000;
		assert_int_equal(r0, want);
		memcpy(&x, mem, 8);
		memcpy(&y, mem + 8, 4);
		assert_int_equal(x, 0x1122334455667788u + 3);
		assert_int_equal(y, 0x0badf00d ^ 5);
		assert_int_equal(mem[12], 0xee);
	}
	csd_ebpf_sandbox_free(boxed);
	csd_ebpf_prog__free(prog);
}

static uint64_t be_bytes(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t le_bytes(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* record_max's field as clang builds it: big-endian bytes 5-8, the base overwritten last */
#define BIG_ENDIAN_AS_CLANG_WRITES_IT \
	"mov %r0, 0\n" \
	"jlt %r2, 24, out\n" \
	"mov %r5, %r1\n" \
	"add %r5, 8\n" \
	"ldxb %r6, [%r5-3]\n" \
	"lsh %r6, 24\n" \
	"ldxb %r0, [%r5-2]\n" \
	"lsh %r0, 16\n" \
	"or %r0, %r6\n" \
	"ldxb %r6, [%r5-1]\n" \
	"lsh %r6, 8\n" \
	"or %r0, %r6\n" \
	"ldxb %r5, [%r5+0]\n" \
	"or %r0, %r5\n"

/*
 * Fields put together from bytes loaded one by one (the JIT loads such a field at once in
 * verified code, fuse_byte_assembly): big-endian 32 bits as clang writes it, its base register
 * overwritten by the last byte's load; little-endian 32 bits in 32-bit operations in any
 * order; big-endian 16 and 64 bits; the same as the first with a shifted byte still used
 * after it (not fused: that register would be stale); eight bytes whose last or is 32-bit
 * (it cuts the upper four: not fused as 64 bits). Every byte of the input differs and the
 * fields start at odd offsets; in a sandbox and in plain memory.
 */
static void test_bytes_put_together(void **state)
{
	static const char *const text[] = {
		BIG_ENDIAN_AS_CLANG_WRITES_IT
		"out:\n"
		"exit\n",

		"mov %r0, 0\n"
		"jlt %r2, 24, out\n"
		"ldxb %r3, [%r1+3]\n"
		"lsh32 %r3, 16\n"
		"ldxb %r4, [%r1+1]\n"
		"or32 %r3, %r4\n"
		"ldxb %r4, [%r1+4]\n"
		"lsh32 %r4, 24\n"
		"or32 %r3, %r4\n"
		"ldxb %r4, [%r1+2]\n"
		"lsh32 %r4, 8\n"
		"or32 %r3, %r4\n"		/* r3: little-endian bytes 1-4 */
		"ldxb %r4, [%r1+9]\n"
		"lsh %r4, 8\n"
		"ldxb %r5, [%r1+10]\n"
		"or %r4, %r5\n"		/* r4: big-endian bytes 9-10 */
		"mov %r5, 0\n"
		"ldxb %r6, [%r1+11]\n"
		"lsh %r6, 56\n"
		"ldxb %r7, [%r1+12]\n"
		"lsh %r7, 48\n"
		"or %r6, %r7\n"
		"ldxb %r7, [%r1+13]\n"
		"lsh %r7, 40\n"
		"or %r6, %r7\n"
		"ldxb %r7, [%r1+14]\n"
		"lsh %r7, 32\n"
		"or %r6, %r7\n"
		"ldxb %r7, [%r1+15]\n"
		"lsh %r7, 24\n"
		"or %r6, %r7\n"
		"ldxb %r7, [%r1+16]\n"
		"lsh %r7, 16\n"
		"or %r6, %r7\n"
		"ldxb %r7, [%r1+17]\n"
		"lsh %r7, 8\n"
		"or %r6, %r7\n"
		"ldxb %r7, [%r1+18]\n"
		"or %r6, %r7\n"		/* r6: big-endian bytes 11-18 */
		"mov %r0, %r4\n"
		"lsh %r0, 40\n"
		"xor %r0, %r3\n"
		"xor %r0, %r6\n"
		"add %r0, %r5\n"
		"out:\n"
		"exit\n",

		BIG_ENDIAN_AS_CLANG_WRITES_IT
		"add %r0, %r6\n"		/* r6 still used: byte 7 << 8 */
		"out:\n"
		"exit\n",

		"mov %r0, 0\n"
		"jlt %r2, 24, out\n"
		"ldxb %r3, [%r1+5]\n"
		"lsh %r3, 56\n"
		"ldxb %r4, [%r1+6]\n"
		"lsh %r4, 48\n"
		"or %r3, %r4\n"
		"ldxb %r4, [%r1+7]\n"
		"lsh %r4, 40\n"
		"or %r3, %r4\n"
		"ldxb %r4, [%r1+8]\n"
		"lsh %r4, 32\n"
		"or %r3, %r4\n"
		"ldxb %r4, [%r1+9]\n"
		"lsh %r4, 24\n"
		"or %r3, %r4\n"
		"ldxb %r4, [%r1+10]\n"
		"lsh %r4, 16\n"
		"ldxb %r5, [%r1+11]\n"
		"lsh %r5, 8\n"
		"or %r4, %r5\n"
		"ldxb %r5, [%r1+12]\n"
		"or %r4, %r5\n"
		"or32 %r3, %r4\n"		/* cuts bytes 5-8: big-endian 9-12 is left */
		"mov %r0, %r3\n"
		"out:\n"
		"exit\n",
	};
	uint8_t *boxed = csd_ebpf_sandbox_alloc(24);
	uint8_t plain[24];

	(void)state;
	assert_non_null(boxed);
	for (size_t t = 0; t < sizeof(text) / sizeof(text[0]); t++) {
		struct csd_ebpf_prog *prog = load_verified(text[t]);

		for (int in_sandbox = 0; in_sandbox < 2; in_sandbox++) {
			uint8_t *in = in_sandbox ? boxed : plain;
			uint64_t r0, want;
			RUN_OPTS(opts);

			for (int i = 0; i < 24; i++)
				in[i] = (uint8_t)(0x91 + 37 * i);
			want = t == 1 ? (be_bytes(in + 9, 2) << 40 ^ le_bytes(in + 1, 4) ^
					 be_bytes(in + 11, 8))
			       : t == 3 ? be_bytes(in + 9, 4)
				      : be_bytes(in + 5, 4) + (t == 2 ? (uint64_t)in[7] << 8 : 0);
			assert_int_equal(csd_ebpf_prog__run(prog, in, 24, &opts, &r0), 0);
			assert_int_equal(r0, want);
		}
		csd_ebpf_prog__free(prog);
	}
	csd_ebpf_sandbox_free(boxed);
}

/* clang's layout of a sum of bytes for eBPF: the latch first, the body after it */
#define SUM_LATCH_FIRST \
	"mov %r0, 0\nmov %r3, 0\njeq %r2, 0, out\nja body\n" \
	"latch:\nadd %r0, %r4\nadd %r3, 1\njgt %r2, %r3, body\nout:\nexit\n" \
	"body:\nmov %r4, %r1\nadd %r4, %r3\nldxb %r4, [%r4]\n"

/*
 * Loops laid out as clang lays them out for eBPF: the latch first, its conditional jump over
 * what follows it to the body, the body ending in a goto back to the latch (which verified JIT
 * code replaces by a copy of the latch, emit_latch_copy): with an exit, a ja, and other code
 * after the latch, and 32-bit operations in one. A byte sum (times 3 after the loop in the last
 * two) over 0, 1, 7 and 100 bytes, in a sandbox and in plain memory.
 */
static void test_loop_latch_first(void **state)
{
	static const char *const text[] = {
		SUM_LATCH_FIRST
		"ja latch\n",

		"mov %r0, 0\n"
		"mov %r3, 0\n"
		"jeq %r2, 0, fin\n"
		"ja body\n"
		"latch:\n"
		"add %r0, %r4\n"
		"add %r3, 1\n"
		"jgt %r2, %r3, body\n"
		"ja fin\n"
		"body:\n"
		"mov %r4, %r1\n"
		"add %r4, %r3\n"
		"ldxb %r4, [%r4]\n"
		"ja latch\n"
		"fin:\n"
		"mul %r0, 3\n"
		"exit\n",

		"mov %r0, 0\n"
		"mov %r3, 0\n"
		"jeq %r2, 0, fin\n"
		"jgt %r2, 1000, fin\n"
		"ja body\n"
		"latch:\n"
		"add32 %r0, %r4\n"
		"add32 %r3, 1\n"
		"jgt32 %r2, %r3, body\n"
		"fin:\n"
		"mul %r0, 3\n"
		"exit\n"
		"body:\n"
		"mov %r4, %r1\n"
		"add %r4, %r3\n"
		"ldxb %r4, [%r4]\n"
		"ja latch\n",

		/* `if (c) goto +1; goto latch`: the goto copied, the jump not turned around */
		SUM_LATCH_FIRST
		"jgt %r4, 0x80, big\n"
		"ja latch\n"
		"big:\n"
		"add %r0, 1000\n"
		"ja latch\n",

		/*
		 * part of the body before the latch, falling into it, and the latch's jump going
		 * forward to the body: the fall-through gets a copy too
		 */
		"mov %r0, 0\n"
		"mov %r3, 0\n"
		"jeq %r2, 0, out\n"
		"ja body\n"
		"big:\n"
		"add %r0, 1000\n"
		"latch:\n"
		"add %r3, 1\n"
		"jgt %r2, %r3, body\n"
		"out:\n"
		"exit\n"
		"body:\n"
		"mov %r4, %r1\n"
		"add %r4, %r3\n"
		"ldxb %r4, [%r4]\n"
		"add %r0, %r4\n"
		"jgt %r4, 0x80, big\n"
		"ja latch\n",
	};
	static const uint32_t lens[] = { 0, 1, 7, 100 };
	uint8_t *boxed = csd_ebpf_sandbox_alloc(100);
	uint8_t plain[100];

	(void)state;
	assert_non_null(boxed);
	for (size_t t = 0; t < sizeof(text) / sizeof(text[0]); t++) {
		struct csd_ebpf_prog *prog = load_verified(text[t]);

		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
			for (int in_sandbox = 0; in_sandbox < 2; in_sandbox++) {
				uint8_t *in = in_sandbox ? boxed : plain;
				uint64_t r0, want = 0;
				RUN_OPTS(opts);

				for (uint32_t i = 0; i < lens[l]; i++) {
					want += in[i] = (uint8_t)(0x35 + 91 * i);
					want += t >= 3 && in[i] > 0x80 ? 1000 : 0;
				}
				assert_int_equal(csd_ebpf_prog__run(prog, in, lens[l], &opts, &r0), 0);
				assert_int_equal(r0, t == 1 || t == 2 ? 3 * want : want);
			}
		csd_ebpf_prog__free(prog);
	}
	csd_ebpf_sandbox_free(boxed);
}

/*
 * `d = s; d += K` and `d += t` (one lea), in every pairing of 64- and 32-bit mov and add (a
 * 32-bit mov before a 64-bit add stays two instructions); s in r7 (r13: no base without a
 * displacement), d in r5, r1 and r6, t in r4 or d itself (s + s); displacements of 8 and 32
 * bits, zero included
 */
static void test_mov_add(void **state)
{
	static const uint64_t vals[] = { 0, 1, 0x7f, 0xff, 0x7fffffff, 0x80000000, 0xffffffff,
					 0x100000000, 0x123456789abcdef0u, UINT64_MAX };
	static const int32_t ks[] = { 0, 1, -65, 127, 128, -128, -129, 0x7fffffff, INT32_MIN };
	static const char *const dsts[] = { "r5", "r1", "r6" };
	char text[256];

	(void)state;
	for (int widths = 0; widths < 4; widths++)
		for (size_t k = 0; k <= sizeof(ks) / sizeof(ks[0]) + 1; k++) {
			bool mov32 = widths & 1, add32 = widths & 2;
			const char *d = dsts[(k + (size_t)widths) % 3];
			bool by_reg = k >= sizeof(ks) / sizeof(ks[0]), self = by_reg && k % 2;
			struct csd_ebpf_prog *prog;
			char operand[16];

			if (by_reg)
				snprintf(operand, sizeof(operand), "%%%s", self ? d : "r4");
			else
				snprintf(operand, sizeof(operand), "%d", ks[k]);
			snprintf(text, sizeof(text),
				 "mov %%r7, %%r3\nmov%s %%%s, %%r7\nadd%s %%%s, %s\nmov %%r0, %%%s\n"
				 "exit\n", mov32 ? "32" : "", d, add32 ? "32" : "", d, operand, d);
			prog = load_ok(text);
			for (size_t a = 0; a < sizeof(vals) / sizeof(vals[0]); a++) {
				RUN_OPTS(opts, .args = { vals[a], vals[sizeof(vals) / sizeof(vals[0]) - 1 - a] });
				uint64_t moved = mov32 ? (uint32_t)vals[a] : vals[a];
				uint64_t added = !by_reg ? (uint64_t)(int64_t)ks[k] :
						 self ? moved : opts.args[1];
				uint64_t want = add32 ? (uint32_t)(moved + added) : moved + added;

				run_expecting(prog, text, &opts, want);
			}
			csd_ebpf_prog__free(prog);
		}
}

/*
 * `d &= 255; if d <op> K goto t` (a byte compare when d is dead on both ways): the unsigned
 * orders and equality, a signed one and K = 256 (not fused), d read after the jump (not
 * fused: the and must stay), both widths, d in r0, r1 and r2 (dil and sil need REX) and r5
 */
static void test_byte_compare(void **state)
{
	static const char *const ops[] = { "jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt" };
	static const int32_t ks[] = { 0, 25, 127, 128, 255, 256 };
	static const uint64_t vals[] = { 0, 0x19, 0x1a, 0x7f, 0x80, 0xff, 0x100, 0x17f,
					 0xffffffffffffff19u, 0x8000000000000000u };
	static const char *const dsts[] = { "r0", "r1", "r2", "r5" };
	char text[256];

	(void)state;
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
		for (size_t k = 0; k < sizeof(ks) / sizeof(ks[0]); k++)
			for (int form = 0; form < 4; form++) {
				bool w32 = form & 1, read_after = form & 2;
				const char *d = dsts[(o + k) % 4], *w = w32 ? "32" : "";
				struct csd_ebpf_prog *prog;
				char taken_value[8];

				snprintf(taken_value, sizeof(taken_value), "%s%s", read_after ? "%" : "",
					 read_after ? d : "1");
				snprintf(text, sizeof(text),
					 "mov %%%s, %%r3\nand%s %%%s, 255\n%s%s %%%s, %d, t\n"
					 "mov %%r0, 0\nexit\nt:\nmov %%r0, %s\nexit\n",
					 d, w, d, ops[o], w, d, ks[k], taken_value);
				prog = load_ok(text);
				for (size_t a = 0; a < sizeof(vals) / sizeof(vals[0]); a++) {
					RUN_OPTS(opts, .args = { vals[a] });
					uint64_t byte = vals[a] & 0xff;
					bool taken = expect_select(ops[o], w32, byte, (uint64_t)ks[k]);

					run_expecting(prog, text, &opts,
						      !taken ? 0 : read_after ? byte : 1);
				}
				csd_ebpf_prog__free(prog);
			}
}

/*
 * `x = data[i]; a = K1; if (x <op> K) goto t; a = K2; goto t` over an input, verified (so
 * sandboxed code compares gs:[data + i] itself): the compare takes the memory when x is
 * dead at t. The load with its address fused (data + i) or not (base r4); a in r6 or in a
 * register the address reads (r1, r4: the compare must come before a is written); 1/0
 * (setcc) and 7/-2 (cmov); 2-byte loads; x read at t or moved into a (not fused); a signed
 * order and K = 256 for bytes (not fused). Plain and sandboxed memory.
 */
static void test_select_on_loaded(void **state)
{
	static const char *const ops[] = { "jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt" };
	static const int32_t ks[] = { 10, 0x80, 0x100, 0x1234 };
	const size_t len = 300;
	/* the input 8 bytes into its sandbox: its pointer's low 32 bits are not 0 */
	uint8_t *sandbox = csd_ebpf_sandbox_alloc(len + 8), *boxed = sandbox + 8;
	uint8_t *plain = malloc(len);
	char text[512];

	(void)state;
	assert_non_null(sandbox);
	assert_non_null(plain);
	for (size_t i = 0; i < len; i++)
		boxed[i] = plain[i] = (uint8_t)(37 * i + 5);	/* every byte value */
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
		for (size_t k = 0; k < sizeof(ks) / sizeof(ks[0]); k++)
			for (int form = 0; form < 24; form++) {
				int v = form / 4;	/* 0 fused, 1 not, 2 half, 3 x read, 4 a = x */
				bool in_address = form & 1, cmov = form & 2, half = v == 2;
				const char *a = !in_address ? "r6" : v == 1 ? "r4" : "r1";
				struct csd_ebpf_prog *prog;
				char k2[8];

				if (v && o)	/* every order for the first form, jeq for the others */
					continue;

				snprintf(k2, sizeof(k2), v == 4 ? "%%r5" : "%d", cmov ? -2 : 0);
				snprintf(text, sizeof(text),
					 "mov %%r0, 0\nmov %%r3, 0\nmov %%r7, %%r1\n%s"
					 "jeq %%r2, 0, out\nbody:\nmov %%r1, %%r7\nmov %%r4, %%r1\n"
					 "add %%r4, %%r3\n%sldx%s %%r5, [%%r4]\nmov %%%s, %d\n"
					 "%s %%r5, %d, t\nmov %%%s, %s\nja t\nt:\nadd %%r0, %%%s\n%s"
					 "add %%r3, 1\njgt %%r2, %%r3, body\nout:\nexit\n",
					 half ? "jlt %r2, 2, out\nsub %r2, 1\n" : "",
					 v == 1 ? "mov %r8, 3\n" : "",	/* the load not fused */
					 half ? "h" : "b", a, cmov ? 7 : 1, ops[o], ks[k], a, k2, a,
					 v == 3 ? "add %r0, %r5\n" : "");
				prog = load_verified(text);
				for (int in_sandbox = 0; in_sandbox < 2; in_sandbox++) {
					uint8_t *in = in_sandbox ? boxed : plain;
					uint64_t r0, want = 0;
					RUN_OPTS(opts);

					for (size_t i = 0; i + half < len; i++) {
						uint64_t x = half ? (uint64_t)(in[i] | in[i + 1] << 8) : in[i];

						want += expect_select(ops[o], false, x, (uint64_t)ks[k]) ?
							(cmov ? 7 : 1) : v == 4 ? x :
							(cmov ? (uint64_t)-2 : 0);
						want += v == 3 ? x : 0;
					}
					assert_int_equal(csd_ebpf_prog__run(prog, in, len, &opts, &r0), 0);
					if (r0 != want)
						fail_msg("%s%s: r0 = %#llx, expected %#llx", text,
							 in_sandbox ? " (sandboxed)" : "",
							 (unsigned long long)r0, (unsigned long long)want);
				}
				csd_ebpf_prog__free(prog);
			}
	csd_ebpf_sandbox_free(sandbox);
	free(plain);
}

/*
 * Reduction loops (the JIT runs them 32 bytes at a time over sandboxed input): a count of a
 * byte (a constant, a register in 64 and in 32 bits, one above 255), of the bytes unlike it,
 * into 64- and 32-bit counters; a byte sum whose loop leaves on `counter == len` from a start
 * the caller gives; the xor and the sum of 64-bit words through a moving pointer. Lengths
 * around multiples of 32, plain and sandboxed input at an offset.
 * The counts start at -16: a 32-bit counter keeps its low 32 bits.
 */
#define COUNT_LOOP(op, one, zero, add)							\
	"mov %r6, %r3\nmov %r0, 0\njeq %r2, 0, out\nmov %r3, 0\nmov %r0, -16\n"		\
	"ja body\nlatch:\n" add " %r0, %r4\nadd %r3, 1\njgt %r2, %r3, body\nout:\nexit\n"	\
	"body:\nmov %r4, %r1\nadd %r4, %r3\nldxb %r5, [%r4]\nmov32 %r4, " one "\n"		\
	op ", latch\nmov32 %r4, " zero "\nja latch\n"

static void test_reduction_loops(void **state)
{
	enum { EQ, NE, SUM, WORDS };
	static const struct {
		const char *text;
		int kind;
		bool k_reg, k32, acc32;
	} loops[] = {
		{ COUNT_LOOP("jeq %r5, 10", "1", "0", "add"), EQ, false, false, false },
		{ COUNT_LOOP("jeq %r5, %r6", "1", "0", "add"), EQ, true, false, false },
		{ COUNT_LOOP("jeq32 %r5, %r6", "1", "0", "add32"), EQ, true, true, true },
		{ COUNT_LOOP("jne %r5, 10", "0", "1", "add"), EQ, false, false, false },
		{ COUNT_LOOP("jeq %r5, 10", "0", "1", "add32"), NE, false, false, true },
		{ COUNT_LOOP("jne %r5, %r6", "1", "0", "add"), NE, true, false, false },
		/* a byte sum from r4 on, leaving on counter == len */
		{ "mov %r0, 0\nmov %r3, %r4\njge %r3, %r2, out\nbody:\nmov %r6, %r1\n"
		  "add %r6, %r3\nldxb %r6, [%r6]\nadd %r0, %r6\nadd %r3, 1\njeq %r3, %r2, out\n"
		  "ja body\nout:\nexit\n", SUM, false, false, false },
		/* word_sum: x in r3, s in r4, carried through r6 and r0, from 0x5a5a5a5a and 7 */
		{ "mov %r3, 0\nmov %r4, 0\njlt %r2, 8, fin\nrsh %r2, 3\nmov %r5, 0\nmov %r0, 7\n"
		  "mov %r6, 0x5a5a5a5a\nbody:\nldxdw %r3, [%r1]\nmov %r4, %r3\nadd %r4, %r0\nxor %r3, %r6\n"
		  "add %r1, 8\nadd %r5, 1\nmov %r0, %r4\nmov %r6, %r3\njgt %r2, %r5, body\n"
		  "fin:\nmov %r0, %r3\nmul %r0, 3\nadd %r0, %r4\nexit\n", WORDS, false, false, false },
	};
	static const uint64_t ks[] = { 10, 0x1a, 0x10a, 0x10000000a };
	/* every length to 35, and around multiples of 32 */
	static const size_t lens[] = { 36, 40, 63, 64, 65, 66, 67, 95, 96, 97, 127, 128, 129, 255,
				       256, 257, 258, 1000, 1099 };
	const size_t max = 1100;
	uint8_t *sandbox = csd_ebpf_sandbox_alloc(max + 40), *boxed = sandbox + 40;
	uint8_t *plain = malloc(max);

	(void)state;
	assert_non_null(sandbox);
	assert_non_null(plain);
	for (size_t i = 0; i < max; i++)	/* every byte value, and a 10 in 4 */
		boxed[i] = plain[i] = i % 4 ? (uint8_t)(37 * i + 5) : 10;
	for (size_t p = 0; p < sizeof(loops) / sizeof(loops[0]); p++) {
		struct csd_ebpf_prog *prog = load_verified(loops[p].text);

		for (size_t l = 0; l < 36 + sizeof(lens) / sizeof(lens[0]); l++)
			for (size_t kk = 0, len = l < 36 ? l : lens[l - 36];
			     kk < (loops[p].k_reg ? 4 : 1); kk++)
				for (int in_sandbox = 0; in_sandbox < 2; in_sandbox++) {
					const uint8_t *in = in_sandbox ? boxed : plain;
					uint64_t k = loops[p].k_reg ? ks[kk] : 10, r0, want = 0;
					uint64_t x = 0, sum = 0, start = len % 3;
					bool equal_possible = (loops[p].k32 ? (uint32_t)k : k) <= 0xff;
					RUN_OPTS(opts, .args = { k, start });

					if (len && (loops[p].kind == EQ || loops[p].kind == NE))
						want = (uint64_t)-16;
					for (size_t i = 0; i < len; i++) {
						bool eq = equal_possible && in[i] == (uint8_t)k;

						want += loops[p].kind == EQ ? eq : loops[p].kind == NE ? !eq :
							i >= start ? in[i] : 0;
					}
					if (loops[p].kind == SUM && start >= len)
						want = 0;
					if (loops[p].kind == WORDS) {
						x = len >= 8 ? 0x5a5a5a5a : 0;
						sum = len >= 8 ? 7 : 0;
						for (size_t i = 0; i + 8 <= len; i += 8) {
							uint64_t w;

							memcpy(&w, in + i, 8);
							x ^= w;
							sum += w;
						}
						want = x * 3 + sum;
					}
					if (loops[p].acc32)
						want = (uint32_t)want;
					assert_int_equal(csd_ebpf_prog__run(prog, (void *)in, len, &opts,
									    &r0), 0);
					if (r0 != want)
						fail_msg("loop %zu, len %zu, k %#llx%s: r0 = %#llx, "
							 "expected %#llx", p, len, (unsigned long long)k,
							 in_sandbox ? " (sandboxed)" : "",
							 (unsigned long long)r0, (unsigned long long)want);
				}
		csd_ebpf_prog__free(prog);
	}
	csd_ebpf_sandbox_free(sandbox);
	free(plain);
}

/*
 * Branch regions compiled without jumps (jit_x86_64.c, fuse_branch_region), each against its
 * C: clang's token count (`in = 0; if (delim) goto join; in = 1; if (was_in) goto join;
 * n++`), a flag set and cleared again in one region, word_count's with a jump inside the
 * region (the ways meet before the join), and a count down with `n += -1`, in a loop over
 * r3 = a, r4 = b (r4 trips, the join the latch) with r5 a class of the trip's value.
 */
static uint64_t token_c(uint64_t a, uint64_t b)
{
	uint64_t n = 0, in = 0;

	for (uint64_t t = 0; t < b; t++) {
		uint64_t delim = (a >> t) & 1, was = in;

		in = 0;
		if (delim)
			continue;
		in = 1;
		if (was)
			continue;
		n++;
	}
	return n * 1000 + in;
}

static uint64_t flag_twice_c(uint64_t a, uint64_t b)
{
	uint64_t f = 0, s = 0;

	for (uint64_t t = 0; t < b; t++) {
		uint64_t x = (a >> t) & 3;

		f = 0;
		if (x == 3)
			goto join;
		f = 1;
		if (x == 2)
			goto join;
		f = 0;
		s += 10;
join:
		s += f;
	}
	return s;
}

static uint64_t word_c(uint64_t a, uint64_t b)
{
	uint64_t n = 0, in = 0;

	for (uint64_t t = 0; t < b; t++) {
		uint64_t c = (a >> (4 * (t % 16))) & 15, was = in;

		in = 0;
		if (c == 12)
			continue;
		if (c > 9)
			goto not_space;
		in = 0;
		if ((1u << c) & 0x260)		/* 5, 6, 9 */
			continue;
not_space:
		in = 1;
		if ((uint32_t)was)
			continue;
		n++;
	}
	return n * 1000 + in;
}

static uint64_t down_c(uint64_t a, uint64_t b)
{
	uint64_t n = 100, m = 7;

	for (uint64_t t = 0; t < b; t++) {
		uint64_t x = (a >> t) & 7;

		if (x == 0)
			continue;
		n += -1;
		if (x < 4)
			continue;
		n += -1;
		m -= x;
	}
	return n * 1000000 + (m & 0xffff);
}

/*
 * A loop head the code before falls into, whose first instructions are a select (with a ja
 * or without), a conditional move or a branch region: verified JIT code copies such a head's leading
 * arithmetic and jump in front of the loop (emit_latch_copy), and the copy must not go on
 * into the middle of what the head's code compiles as one (it skipped `r4 = 0` on the first
 * trip: a sum of 2 where it is 1). Over 0, 1, 3 and 64 trips (r3).
 */
static void test_loop_head_fused(void **state)
{
	/* r4 is 1 on one trip only, the trip numbered `one` */
	static const struct { const char *head; uint64_t one; } heads[] = {
		/* r4 = r3 == 2 (select) */
		{ "mov %r4, 1\njeq %r3, 2, latch\nmov %r4, 0\nja latch\n", 2 },
		/* r4 = 1; if (r3 != 2) r4 = 0 (conditional move) */
		{ "mov %r4, 1\njeq %r3, 2, +1\nmov %r4, 0\nja latch\n", 2 },
		/* r4 = r3 == 2, without a ja (a flag select) */
		{ "mov %r4, 1\njeq %r3, 2, +1\nmov %r4, 0\n", 2 },
		/* r4 = 0; if (r3 != 0) goto latch; r4 = 1; if (r1 != 0) goto latch; r4 = 1 */
		{ "mov %r4, 0\njne %r3, 0, latch\nmov %r4, 1\njne %r1, 0, latch\nmov %r4, 1\n"
		  "ja latch\n", 0 },
	};
	static const uint64_t trips[] = { 0, 1, 3, 64 };
	char text[512];

	(void)state;
	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		struct csd_ebpf_prog *prog;

		snprintf(text, sizeof(text),
			 "mov %%r2, %%r3\nmov %%r0, 0\nmov %%r3, 0\nmov %%r6, 0\nmov %%r1, 0\n"
			 "jeq %%r2, 0, out\n"
			 "jgt %%r2, 64, out\nhead:\n%slatch:\nadd %%r6, %%r4\nadd %%r3, 1\n"
			 "jgt %%r2, %%r3, head\nmov %%r0, %%r6\nout:\nexit\n", heads[h].head);
		prog = load_verified(text);
		for (size_t t = 0; t < sizeof(trips) / sizeof(trips[0]); t++) {
			RUN_OPTS(opts, .args = { trips[t] });
			uint64_t r0;

			assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
			if (r0 != (trips[t] > heads[h].one))
				fail_msg("%s over %llu trips: r0 = %llu, expected %d", text,
					 (unsigned long long)trips[t], (unsigned long long)r0,
					 trips[t] > heads[h].one);
		}
		csd_ebpf_prog__free(prog);
	}
}

static void test_branch_region(void **state)
{
	/* the loop: r6 trip, r0 result; the body from the table sets r5 and runs the region */
	static const struct { const char *body; const char *result; uint64_t (*c)(uint64_t, uint64_t); } shapes[] = {
		{ "mov %r5, %r3\nrsh %r5, %r6\nand %r5, 1\nmov %r2, %r1\n"
		  "mov %r1, 0\njne %r5, 0, latch\nmov %r1, 1\njne %r2, 0, latch\nadd %r7, 1\n"
		  "ja latch\n", "mov %r0, %r7\nmul %r0, 1000\nadd %r0, %r1\n", token_c },
		{ "mov %r5, %r3\nrsh %r5, %r6\nand %r5, 3\n"
		  "mov %r1, 0\njeq %r5, 3, join\nmov %r1, 1\njeq %r5, 2, join\nmov %r1, 0\n"
		  "add %r7, 10\njoin:\nadd %r7, %r1\nja latch\n", "mov %r0, %r7\n", flag_twice_c },
		{ "mov %r5, %r6\nand %r5, 15\nlsh %r5, 2\nmov %r8, %r3\nrsh %r8, %r5\nand %r8, 15\n"
		  "mov %r2, %r1\nmov %r1, 0\njeq %r8, 12, latch\njgt %r8, 9, word\nmov %r9, 1\n"
		  "lsh %r9, %r8\nand %r9, 0x260\nmov %r1, 0\njne %r9, 0, latch\nword:\nmov %r1, 1\n"
		  "lsh %r2, 32\nrsh %r2, 32\njne %r2, 0, latch\nadd %r7, 1\nja latch\n",
		  "mov %r0, %r7\nmul %r0, 1000\nadd %r0, %r1\n", word_c },
		{ "mov %r5, %r3\nrsh %r5, %r6\nand %r5, 7\n"
		  "jeq %r5, 0, latch\nadd %r7, -1\njlt %r5, 4, latch\nadd %r7, -1\nsub %r1, %r5\n"
		  "ja latch\n", "mov %r0, %r7\nmul %r0, 1000000\nand %r1, 0xffff\nadd %r0, %r1\n",
		  down_c },
	};
	static const uint64_t as[] = { 0, 1, 0x5555555555555555u, 0xf0f0f0f0f0f0f0f0u,
				       0x123456789abcdef0u, UINT64_MAX, 0x8000000000000001u,
				       0xc9c5a96c5a9c5c96u };
	char text[1024];

	(void)state;
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		struct csd_ebpf_prog *prog;

		snprintf(text, sizeof(text),
			 "mov %%r6, 0\nmov %%r7, %d\nmov %%r1, %d\njeq %%r4, 0, out\njgt %%r4, 64, out\n"
			 "body:\n%slatch:\nadd %%r6, 1\njgt %%r4, %%r6, body\nout:\n%sexit\n",
			 s == 3 ? 100 : 0, s == 3 ? 7 : 0, shapes[s].body, shapes[s].result);
		prog = load_verified(text);
		for (size_t a = 0; a < sizeof(as) / sizeof(as[0]); a++)
			for (uint64_t b = 0; b <= 64; b += (b < 8 ? 1 : 7)) {
				RUN_OPTS(opts, .args = { as[a], b });

				run_expecting(prog, text, &opts, shapes[s].c(as[a], b));
			}
		csd_ebpf_prog__free(prog);
	}
}

#define BOTH(t) { "interpreter: " #t, t, use_interp, NULL, NULL }, { "jit: " #t, t, use_jit, NULL, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_reads_input_and_stack),
		BOTH(test_memory_faults),
		BOTH(test_repeated_runs),
		BOTH(test_stack_extent_and_clearing),
		BOTH(test_budget_is_exact),
		BOTH(test_long_budget_crosses_chunks),
		BOTH(test_abort_from_another_thread),
		BOTH(test_call_frames),
		BOTH(test_helpers),
		BOTH(test_jit_shapes),
		BOTH(test_division_by_random_constants),
		BOTH(test_checked_address_reused),
		BOTH(test_counters_in_memory),
		BOTH(test_bytes_put_together),
		BOTH(test_loop_latch_first),
		BOTH(test_mov_add),
		BOTH(test_byte_compare),
		BOTH(test_select_on_loaded),
		BOTH(test_branch_region),
		BOTH(test_loop_head_fused),
		BOTH(test_reduction_loops),
		{ "jit: test_interrupt_verified_jit_code", test_interrupt_verified_jit_code, use_jit,
		  NULL, NULL },
	};

	if (getenv("CSD_TEST_FILTER"))		/* e.g. "*reduction*": one test at a time */
		cmocka_set_test_filter(getenv("CSD_TEST_FILTER"));
	return cmocka_run_group_tests_name("ebpf engines", tests, NULL, NULL);
}
