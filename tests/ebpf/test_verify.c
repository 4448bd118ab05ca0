/* SPDX-License-Identifier: MIT */
/*
 * The verifier: the drive's programs and the course's solutions are proven safe; a corpus of
 * unsafe programs is refused, each for its own reason; safe variants next to some of them are
 * accepted (a verifier that refuses everything would pass the first half).
 *
 * argv: count_alpha.bpf.o grep_alpha.bpf.o csv_sum.bpf.o word_lengths.bpf.o unsafe_maps.bpf.o
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include "test_helpers.h"

static char **objs;

static int verify_text(const char *text, char *log, size_t size)
{
	CSD_EBPF_OPTS(csd_ebpf_verify_opts, opts, .log_buf = log, .log_size = size);
	struct csd_ebpf_prog *prog;
	int err = asm_load(text, &prog, log, size);

	if (err) {
		fail_msg("the loader refused a verifier test program: %s", log);
		return err;
	}
	err = csd_ebpf_prog__verify(prog, &opts);
	csd_ebpf_prog__free(prog);
	return err;
}

static int verify_elf(const char *path, const char *name, char *log, size_t size)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts, .log_buf = log, .log_size = size);
	CSD_EBPF_OPTS(csd_ebpf_verify_opts, opts, .log_buf = log, .log_size = size);
	struct csd_ebpf_prog *prog;
	uint8_t *buf;
	size_t len;
	int err;

	assert_int_equal(csd_read_file(path, &buf, &len), 0);
	err = csd_ebpf_prog__load_elf(buf, len, name, &lopts, &prog);
	free(buf);
	if (err)
		fail_msg("%s: load failed: %s", path, log);
	err = csd_ebpf_prog__verify(prog, &opts);
	assert_int_equal(csd_ebpf_prog__verified(prog), err == 0);
	csd_ebpf_prog__free(prog);
	return err;
}

static void test_drive_and_course_programs_verify(void **state)
{
	char log[1024];

	(void)state;
	for (int i = 0; i < 4; i++) {
		int err = verify_elf(objs[i], NULL, log, sizeof(log));

		if (err)
			fail_msg("%s refused: %s", objs[i], log);
	}
}

/* A verified program computes what the checked run computes, on every input length tried. */
static void test_verified_count_alpha_runs_right(void **state)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, lopts);
	struct csd_ebpf_prog *prog;
	static const char text[] = "xAlphaAlphAlpha Alpha";
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(csd_read_file(objs[0], &buf, &len), 0);
	assert_int_equal(csd_ebpf_prog__load_elf(buf, len, NULL, &lopts, &prog), 0);
	free(buf);
	assert_int_equal(csd_ebpf_prog__verify(prog, NULL), 0);
	for (size_t n = 0; n <= sizeof(text) - 1; n++) {
		CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts);
		uint64_t r0 = 99, want = 0;
		/* the exact length, so a read past the end would show under ASan */
		uint8_t *mem = n ? malloc(n) : NULL;

		if (n)
			memcpy(mem, text, n);
		for (size_t i = 0; i + 5 <= n; i++)
			want += !memcmp(text + i, "Alpha", 5);
		assert_int_equal(csd_ebpf_prog__run(prog, mem, n, &ropts, &r0), 0);
		assert_int_equal(r0, want);
		free(mem);
	}
	csd_ebpf_prog__free(prog);
}

struct unsafe {
	const char *what;
	const char *text;
	const char *reason;	/* must appear in the refusal */
};

#define LEN_CHECK(n) "jlt %r2, " #n ", out\n"
#define OUT "out:\nmov %r0, 0\nexit\n"

static const struct unsafe unsafe[] = {
	/* the input */
	{ "read without a length check", "ldxb %r0, [%r1]\nexit\n",
	  "pc 0 (ldxb %r0, [%r1+0]): 1-byte read at r1+0: r1+0 is input+[0, 0] (at most len+0)" },
	{ "read before the input", LEN_CHECK(4) "ldxb %r0, [%r1-1]\nexit\n" OUT,
	  "1-byte read at r1-1" },
	{ "read one past a checked length", LEN_CHECK(4) "ldxw %r0, [%r1+1]\nexit\n" OUT,
	  "4-byte read at r1+1: r1+1 is input+[1, 1] (at most len-3)" },
	{ "write without a length check", "stb [%r1], 1\nmov %r0, 0\nexit\n", "1-byte write at r1+0" },
	{ "loop off by one (i <= len)",
	  "mov %r0, 0\nmov %r3, 0\nloop:\njgt %r3, %r2, done\nmov %r4, %r1\nadd %r4, %r3\n"
	  "ldxb %r5, [%r4]\nadd %r0, %r5\nadd %r3, 1\nja loop\ndone:\nexit\n",
	  "1-byte read at r4+0" },
	{ "signed compare lets a negative index through",
	  "jsge %r3, %r2, out\nadd %r1, %r3\nldxb %r0, [%r1]\nexit\n" OUT, "1-byte read at r1+0" },
	{ "32-bit compare bounds only the low half",
	  "jge32 %r3, %r2, out\nadd %r1, %r3\nldxb %r0, [%r1]\nexit\n" OUT, "1-byte read at r1+0" },
	{ "len - 10 may wrap below zero",
	  "sub %r2, 10\njge %r3, %r2, out\nadd %r1, %r3\nldxb %r0, [%r1]\nexit\n" OUT,
	  "1-byte read at r1+0" },
	{ "index from an unbounded argument", "add %r1, %r3\nldxb %r0, [%r1]\nexit\n",
	  "1-byte read at r1+0" },
	{ "index masked to 255 but len unchecked", "and %r3, 255\nadd %r1, %r3\nldxb %r0, [%r1]\nexit\n",
	  "input+[0, 255]" },
	/* the stack */
	{ "read of a stack slot never written", "ldxdw %r0, [%r10-8]\nexit\n",
	  "8-byte read at r10-8 reads stack byte fp-8, which is never written" },
	{ "read of a half-written stack slot", "stw [%r10-8], 1\nldxdw %r0, [%r10-8]\nexit\n",
	  "reads stack byte fp-4" },
	{ "write above the frame", "stdw [%r10], 1\nmov %r0, 0\nexit\n", "8-byte write at r10+0" },
	{ "write below the frame", "stdw [%r10-520], 1\nmov %r0, 0\nexit\n", "8-byte write at r10-520" },
	{ "stack read at a variable offset over unwritten bytes",
	  "stdw [%r10-8], 0\nand %r3, 15\nmov %r4, %r10\nadd %r4, -16\nadd %r4, %r3\n"
	  "ldxb %r0, [%r4]\nexit\n", "never written" },
	{ "stack write at an unbounded offset", "mov %r4, %r10\nadd %r4, %r3\nstb [%r4], 0\n"
	  "mov %r0, 0\nexit\n", "1-byte write at r4+0" },
	/* pointers */
	{ "returns a pointer", "mov %r0, %r1\nexit\n", "the program's result: r0 is a pointer into the input" },
	{ "returns the stack pointer", "mov %r0, %r10\nexit\n", "r0 is a pointer into the stack" },
	{ "stores a pointer into the input", LEN_CHECK(8) "stxdw [%r1], %r10\nmov %r0, 0\nexit\n" OUT,
	  "stores r10, a pointer into the stack, into memory the host can read" },
	{ "saves half a pointer", "stxw [%r10-8], %r1\nmov %r0, 0\nexit\n", "pointers are saved whole" },
	{ "reads back half a saved pointer", "stxdw [%r10-8], %r1\nldxw %r0, [%r10-8]\nexit\n",
	  "takes part of a pointer saved at fp-8" },
	{ "multiplies a pointer", "mul %r1, 2\nmov %r0, 0\nexit\n", "this operation on a pointer into the input is not allowed" },
	{ "adds two pointers", "add %r1, %r10\nmov %r0, 0\nexit\n", "is not allowed" },
	{ "32-bit move of a pointer", "mov32 %r0, %r1\nexit\n", "32-bit arithmetic on r1" },
	{ "compares a pointer with a scalar", "jeq %r1, 0, out\nmov %r0, 1\nexit\n" OUT,
	  "compares r1, a pointer into the input, with a constant" },
	{ "subtracts pointers into different memory", "sub %r1, %r10\nmov %r0, %r1\nexit\n",
	  "is not allowed" },
	{ "atomic add of a pointer", "stdw [%r10-8], 0\nlock add [%r10-8], %r1\nmov %r0, 0\nexit\n",
	  "atomic operand: r1 is a pointer into the input, not a scalar" },
	{ "scalar used as a pointer", "mov %r3, 4096\nldxb %r0, [%r3]\nexit\n",
	  "r3 is a scalar, not a pointer to memory" },
	/* loops */
	{ "endless loop", "mov %r0, 0\nloop:\nadd %r0, 1\nja loop\n",
	  "the loop starting here has no bound the verifier can prove" },
	{ "loop bounded by an unchecked argument", "mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, %r3, loop\nexit\n",
	  "no bound" },
	{ "count-down from an argument that may be 0",
	  "mov %r0, %r3\nloop:\nsub %r0, 1\njne %r0, 0, loop\nexit\n", "no bound" },
	{ "loop whose counter is reset",
	  "mov %r0, 0\nloop:\nmov %r3, 0\nadd %r3, 1\njlt %r3, 10, loop\nexit\n", "no bound" },
	{ "inner loop without a bound",
	  "mov %r0, 0\nmov %r6, 0\nouter:\nmov %r7, %r4\ninner:\nadd %r7, 1\njne %r7, 0, inner\n"
	  "add %r6, 1\njlt %r6, 10, outer\nexit\n", "no bound" },
	/* helpers and calls */
	{ "map lookup without a map", "mov %r1, 0\nmov %r2, %r10\ncall 1\nmov %r0, 0\nexit\n",
	  "helper argument 1 must be a map" },
	{ "printk of a pointer", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\n"
	  "mov %r3, %r10\ncall 6\nexit\n", "printing it would leak a drive address" },
	{ "printk with an unbounded size", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\n"
	  "mov %r2, %r3\ncall 6\nexit\n", "trace_printk size r2 has no bound" },
	{ "printk reading past its buffer", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\n"
	  "mov %r2, 16\ncall 6\nexit\n", "16-byte helper read at r1+0" },
	{ "indirect call", "mov %r2, 5\ncall %r2\nexit\n", "an indirect call (callx) cannot be verified" },
	{ "recursion", "call local f\nexit\nf:\ncall local f\nexit\n", "recursive call to the function at pc 2" },
	{ "calls nested deeper than the runtime's frames",
	  "call local f1\nexit\nf1:\ncall local f2\nexit\nf2:\ncall local f3\nexit\nf3:\n"
	  "call local f4\nexit\nf4:\ncall local f5\nexit\nf5:\ncall local f6\nexit\nf6:\n"
	  "call local f7\nexit\nf7:\ncall local f8\nexit\nf8:\nmov %r0, 0\nexit\n",
	  "call depth: the runtime has 8 stack frames" },
	{ "callee returns a pointer into its own frame", "call local f\nmov %r0, 0\nexit\nf:\n"
	  "mov %r0, %r10\nexit\n", "returns a pointer into its own stack frame" },
	{ "callee reads its caller's unwritten stack",
	  "mov %r1, %r10\nadd %r1, -8\ncall local f\nexit\nf:\nldxdw %r0, [%r1]\nexit\n",
	  "never written" },	/* issue 16: accepted once, each faulted or leaked when run (found by csd-soundness) */
	{ "x + x proved nothing (the state went empty)",
	  LEN_CHECK(64) "ldxb %r3, [%r1+7]\nor32 %r3, 15\nadd %r3, %r3\nmov %r5, %r1\n"
	  "add %r5, %r3\nldxdw %r0, [%r5+8]\nexit\n" OUT, "8-byte read at r5+8" },
	{ "a sum kept across a join where one path never made it",
	  LEN_CHECK(8) "ldxb %r3, [%r1+0]\nldxb %r4, [%r1+1]\nldxb %r5, [%r1+2]\n"
	  "jgt %r4, 100, b\nmov %r6, %r4\nadd %r6, %r5\nja join\nb:\nldxb %r6, [%r1+3]\n"
	  "join:\njge %r6, %r2, out\nmov %r7, %r1\nadd %r7, %r4\nadd %r7, %r5\n"
	  "ldxb %r0, [%r7+0]\nexit\n" OUT, "1-byte read at r7+0" },
	{ "cmpxchg hands back a saved frame pointer",
	  "stxdw [%r10-8], %r10\nmov %r0, 0\nmov %r3, 0\nlock cmpxchg [%r10-8], %r3\nexit\n",
	  "takes part of a pointer saved at fp-8" },
	{ "a byte of a saved pointer overwritten, the rest read back",
	  "stxdw [%r10-8], %r10\nstb [%r10-8], 0\nldxdw %r0, [%r10-8]\nexit\n",
	  "takes part of a pointer saved at fp-8" },
	{ "a slot holding a pointer on one path and a number on the other",
	  "jeq %r3, 0, num\nstxdw [%r10-8], %r1\nja join\nnum:\nstdw [%r10-8], 0\njoin:\n"
	  "ldxdw %r0, [%r10-8]\nexit\n", "takes part of a pointer saved at fp-8" },
	{ "a store at an unknown offset over a saved pointer",
	  "stxdw [%r10-8], %r10\nmov %r4, %r3\nand %r4, 7\nmov %r5, %r10\nadd %r5, -12\n"
	  "add %r5, %r4\nstb [%r5+0], 0\nldxdw %r0, [%r10-8]\nexit\n",
	  "takes part of a pointer saved at fp-8" },
	{ "a helper reads the bytes of a saved pointer",
	  "stxdw [%r10-8], %r10\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\ncall 6\nexit\n",
	  "takes part of a pointer saved at fp-8" },
	{ "a 32-bit shift by 33 is a shift by 1",
	  LEN_CHECK(1) "mov32 %r3, -1\nrsh32 %r3, 33\nadd %r1, %r3\nldxb %r0, [%r1]\nexit\n" OUT,
	  "1-byte read at r1+0" },
	{ "an unsigned compare of a pointer below its input (a run with no input starts at 0)",
	  "mov %r5, %r1\nadd %r5, -1\njlt %r5, %r1, out\nldxw %r0, [%r5+52]\nexit\n" OUT,
	  "4-byte read at r5+52" },
	{ "a shift by a register whose value only its bounds know",
	  LEN_CHECK(2) "jne %r4, 40, out\nmov %r3, 1\nlsh %r3, %r4\nadd %r1, %r3\n"
	  "ldxb %r0, [%r1]\nexit\n" OUT, "1-byte read at r1+0" },
	/* issue 20's precision, each one step past what holds (the safe twins verify) */
	{ "a constant-count loop one past its checked header",
	  LEN_CHECK(63) "mov %r3, 0\nloop:\nmov %r4, %r1\nadd %r4, %r3\nldxb %r0, [%r4]\n"
	  "add %r3, 1\njne %r3, 64, loop\nexit\n" OUT, "1-byte read at r4+0" },
	{ "records of 16 bytes walked by 17",
	  "mov %r8, %r2\nrsh %r8, 4\nmov %r9, 0\nmov %r3, %r1\nmov %r0, 0\nloop:\n"
	  "jge %r9, %r8, done\nldxw %r0, [%r3+12]\nadd %r3, 17\nadd %r9, 1\nja loop\ndone:\nexit\n",
	  "4-byte read at r3+12" },
	{ "a record's field read past the record (len / 16, offset 13 of 4 bytes)",
	  "mov %r8, %r2\ndiv %r8, 16\nmov %r9, 0\nmov %r0, 0\nloop:\njge %r9, %r8, done\n"
	  "mov %r3, %r9\nmul %r3, 16\nadd %r3, %r1\nldxw %r0, [%r3+13]\nadd %r9, 1\nja loop\n"
	  "done:\nexit\n", "4-byte read at r3+13" },
	{ "a zero-extended counter that does not fit 32 bits keeps no relation",
	  LEN_CHECK(2) "mov %r3, %r2\nlsh %r3, 32\nrsh %r3, 32\nadd %r1, %r3\nldxb %r0, [%r1-1]\n"
	  "exit\n" OUT, "1-byte read at r1-1" },
	{ "a 32-bit counter kept in the stack, one past the input's check",
	  LEN_CHECK(16) "stw [%r10-4], 0\nloop:\nldxw %r3, [%r10-4]\nmov %r4, %r1\nadd %r4, %r3\n"
	  "ldxb %r0, [%r4]\nadd %r3, 1\nstxw [%r10-4], %r3\njlt %r3, 17, loop\nexit\n" OUT,
	  "1-byte read at r4+0" },
	{ "a stack byte no path ever wrote, next to a buffer a loop filled",
	  "mov %r3, 0\nloop:\nmov %r4, %r10\nadd %r4, -64\nadd %r4, %r3\nstb [%r4], 1\n"
	  "add %r3, 1\njne %r3, 64, loop\nldxb %r0, [%r10-65]\nexit\n",
	  "reads stack byte fp-65, which is never written" },
	{ "a callee's own buffer filled by a loop: callee frames are reused, so still refused",
	  "call local f\nexit\nf:\nmov %r3, 0\nloop:\nmov %r4, %r10\nadd %r4, -64\n"
	  "add %r4, %r3\nstb [%r4], 1\nadd %r3, 1\njne %r3, 64, loop\nldxb %r0, [%r10-64]\n"
	  "exit\n", "reads stack byte fp-64, which is never written" },
	{ "a parser helper that may return its cursor unmoved: the caller's loop may not end",
	  "mov %r6, %r1\nmov %r7, %r2\nmov %r8, 0\nloop:\njge %r8, %r7, done\nmov %r1, %r6\n"
	  "mov %r2, %r7\nmov %r3, %r8\ncall local f\nmov %r8, %r0\nja loop\ndone:\nmov %r0, 0\n"
	  "exit\nf:\nmov %r0, %r3\nscan:\njge %r0, %r2, ret\nmov %r4, %r1\nadd %r4, %r0\n"
	  "ldxb %r4, [%r4]\njgt %r4, 57, ret\nadd %r0, 1\nja scan\nret:\nexit\n",
	  "no bound the verifier can prove" },
};

static void test_unsafe_programs_refused(void **state)
{
	char log[1024];

	(void)state;
	assert_true(sizeof(unsafe) / sizeof(unsafe[0]) >= 40);
	for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		int err = verify_text(unsafe[i].text, log, sizeof(log));

		if (err != -EACCES)
			fail_msg("%s: expected a refusal, got %d", unsafe[i].what, err);
		if (!strstr(log, unsafe[i].reason))
			fail_msg("%s: the refusal\n  %s\ndoes not say\n  %s", unsafe[i].what, log,
				 unsafe[i].reason);
		if (strncmp(log, "pc ", 3) || !strstr(log, "[path: "))
			fail_msg("%s: the refusal names no pc or path: %s", unsafe[i].what, log);
	}
}

/* Map programs in C (argv[5]): each unsafe function refused for its reason, the safe one not. */
static void test_unsafe_map_programs_refused(void **state)
{
	static const struct { const char *name, *reason; } cases[] = {
		/* with clang -g the refusal names the C line too */
		{ "null_deref", ") at unsafe_maps.bpf.c:37: 8-byte read at r0+0: r0 may be NULL" },
		{ "value_past_end", "r1+8 is counts+[8, 8], the counts is [0, 8)" },
		{ "leak_into_map", "a pointer into the input, into memory the host can read" },
		{ "write_rodata", "read-only" },
		{ "two_elements", "subtracting two pointers into the same memory" },
	};
	char log[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = verify_elf(objs[4], cases[i].name, log, sizeof(log));

		if (err != -EACCES || !strstr(log, cases[i].reason))
			fail_msg("%s: expected a refusal saying \"%s\", got %d: %s", cases[i].name,
				 cases[i].reason, err, log);
	}
	if (verify_elf(objs[4], "checked_lookup", log, sizeof(log)))
		fail_msg("checked_lookup refused: %s", log);
	/*
	 * A key written on one path only: the main frame is zeroed at the start of every run
	 * and never reused, so the other path reads 0 (issue 20: the buffer a loop fills);
	 * a key no path writes is still refused (the unsafe corpus's stack cases).
	 */
	if (verify_elf(objs[4], "key_uninit", log, sizeof(log)))
		fail_msg("key_uninit refused: %s", log);
}

/* Safe twins of refused programs: the difference is the check. */
static void test_safe_variants_verify(void **state)
{
	static const char *const safe[] = {
		LEN_CHECK(4) "ldxw %r0, [%r1]\nexit\n" OUT,
		"mov %r0, 0\nmov %r3, 0\nloop:\njge %r3, %r2, done\nmov %r4, %r1\nadd %r4, %r3\n"
		"ldxb %r5, [%r4]\nadd %r0, %r5\nadd %r3, 1\nja loop\ndone:\nexit\n",
		"jge %r3, %r2, out\nadd %r1, %r3\nldxb %r0, [%r1]\nexit\n" OUT,
		"stdw [%r10-8], 7\nldxdw %r0, [%r10-8]\nexit\n",
		"stxdw [%r10-8], %r1\nldxdw %r1, [%r10-8]\nmov %r0, 0\njlt %r2, 1, out\nldxb %r0, [%r1]\nexit\n" OUT,
		"mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 1000, loop\nexit\n",
		"mov %r0, %r3\nand %r0, 1023\nloop:\njeq %r0, 0, done\nsub %r0, 1\nja loop\ndone:\nexit\n",
		"mov %r1, %r10\nadd %r1, -8\nstdw [%r10-8], 3\ncall local f\nexit\nf:\nldxdw %r0, [%r1]\nexit\n",
		"mov %r0, 7\ndiv %r0, %r3\nmod %r0, %r3\nexit\n",
		LEN_CHECK(520) "ldxb %r3, [%r1+7]\nadd %r3, %r3\nadd %r1, %r3\nldxb %r0, [%r1+9]\nexit\n" OUT,
		"mov %r3, %r1\nsub %r3, %r1\nmov %r0, %r3\nexit\n",
		"stxdw [%r10-8], %r10\nstdw [%r10-8], 5\nldxdw %r0, [%r10-8]\nexit\n",
		/* issue 20: a constant-count loop over a checked header (widening's thresholds) */
		LEN_CHECK(64) "mov %r3, 0\nloop:\nmov %r4, %r1\nadd %r4, %r3\nldxb %r0, [%r4]\n"
		"add %r3, 1\njne %r3, 64, loop\nexit\n" OUT,
		/* a 100-iteration loop touching no memory */
		"mov %r0, 0\nmov %r3, 0\nloop:\nadd %r0, %r3\nadd %r3, 1\njne %r3, 100, loop\nexit\n",
		/* records of 16 bytes: len >> 4 of them, a pointer stepping 16 (stride, division) */
		"mov %r8, %r2\nrsh %r8, 4\nmov %r9, 0\nmov %r3, %r1\nmov %r0, 0\nloop:\n"
		"jge %r9, %r8, done\nldxw %r0, [%r3+12]\nadd %r3, 16\nadd %r9, 1\nja loop\ndone:\nexit\n",
		/* the record's address made afresh: data + r * 16, r < len / 16 */
		"mov %r8, %r2\ndiv %r8, 16\nmov %r9, 0\nmov %r0, 0\nloop:\njge %r9, %r8, done\n"
		"mov %r3, %r9\nmul %r3, 16\nadd %r3, %r1\nldxw %r0, [%r3+12]\nadd %r9, 1\nja loop\n"
		"done:\nexit\n",
		/* a counter zero-extended with lsh/rsh 32 (len below 2^32) keeps i < len */
		"mov %r0, 0\njgt %r2, 0xffff, done\nmov %r3, 0\nloop:\njge %r3, %r2, done\n"
		"mov %r4, %r3\nlsh %r4, 32\n"
		"rsh %r4, 32\nmov %r5, %r1\nadd %r5, %r4\nldxb %r0, [%r5]\nadd %r3, 1\nja loop\n"
		"done:\nexit\n",
		/* a 32-bit counter in the stack (its address taken) */
		LEN_CHECK(16) "stw [%r10-4], 0\nloop:\nldxw %r3, [%r10-4]\nmov %r4, %r1\nadd %r4, %r3\n"
		"ldxb %r0, [%r4]\nadd %r3, 1\nstxw [%r10-4], %r3\njlt %r3, 16, loop\nexit\n" OUT,
		/* a 64-byte buffer filled by a loop, then read */
		"mov %r3, 0\nloop:\nmov %r4, %r10\nadd %r4, -64\nadd %r4, %r3\nstb [%r4], 1\n"
		"add %r3, 1\njne %r3, 64, loop\nldxb %r0, [%r10-64]\nexit\n",
		/* a parser helper that returns its cursor moved on, to its caller's loop */
		"mov %r6, %r1\nmov %r7, %r2\nmov %r8, 0\nloop:\njge %r8, %r7, done\nmov %r1, %r6\n"
		"mov %r2, %r7\nmov %r3, %r8\ncall local f\nmov %r8, %r0\nja loop\ndone:\nmov %r0, 0\n"
		"exit\nf:\nmov %r0, %r3\nscan:\nadd %r0, 1\njge %r0, %r2, ret\nmov %r4, %r1\n"
		"add %r4, %r0\nldxb %r4, [%r4]\njlt %r4, 58, scan\nret:\nexit\n",
	};
	char log[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (verify_text(safe[i], log, sizeof(log)))
			fail_msg("safe program %zu refused: %s", i, log);
}

/*
 * The same programs through the Linux kernel's verifier (as socket filters, as root), where
 * the comparison means something: programs that use only constants, the stack, calls and
 * loops (a filter's r1 is its context and r2-r5 are unset, so input programs do not carry
 * over). Printed for docs/ebpf-runtime.md; asserted only that each one got an answer.
 */
static const char *const kernel_comparable[] = {
	"read of a stack slot never written", "read of a half-written stack slot",
	"write above the frame", "write below the frame", "returns the stack pointer",
	"saves half a pointer", "reads back half a saved pointer", "multiplies a pointer",
	"adds two pointers", "32-bit move of a pointer", "compares a pointer with a scalar",
	"subtracts pointers into different memory", "scalar used as a pointer", "endless loop",
	"loop whose counter is reset", "recursion", "calls nested deeper than the runtime's frames",
	"callee returns a pointer into its own frame", "callee reads its caller's unwritten stack",
};

static int kernel_silent(enum libbpf_print_level l, const char *f, va_list ap)
{
	(void)l, (void)f, (void)ap;
	return 0;
}

/* 1: the kernel accepts it, 0: refuses (why in `why`), -1: it could not be asked */
static int kernel_verdict(const char *text, char *why, size_t size)
{
	static char vlog[65536];
	LIBBPF_OPTS(bpf_prog_load_opts, lopts, .log_buf = vlog, .log_size = sizeof(vlog),
		    .log_level = 1);
	struct csd_ebpf_insn *insns;
	char err[128];
	size_t cnt;
	int fd;

	if (csd_ebpf_asm(text, &insns, &cnt, err, sizeof(err)))
		return -1;
	vlog[0] = '\0';
	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL",
			   (const struct bpf_insn *)insns, (unsigned)cnt, &lopts);
	free(insns);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	snprintf(why, size, "(no message)");
	for (char *line = strtok(vlog, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "processed ", 10) && strncmp(line, "verification", 12))
			snprintf(why, size, "%s", line);
	return 0;
}

static void test_against_the_kernel(void **state)
{
	int both_refuse = 0, only_csdlab = 0, asked = 0;
	char why[256], log[1024];

	(void)state;
	libbpf_set_print(kernel_silent);
	if (geteuid() != 0)
		skip();		/* needs root for the bpf() syscall */
	if (kernel_verdict("mov %r0, 0\nexit\n", why, sizeof(why)) != 1)
		skip();		/* the kernel refuses BPF programs here */
	for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		int k = -1;

		for (size_t c = 0; c < sizeof(kernel_comparable) / sizeof(kernel_comparable[0]); c++)
			if (!strcmp(unsafe[i].what, kernel_comparable[c]))
				k = kernel_verdict(unsafe[i].text, why, sizeof(why));
		if (k < 0)
			continue;
		asked++;
		assert_int_equal(verify_text(unsafe[i].text, log, sizeof(log)), -EACCES);
		print_message("# %-45s csdlab refuses; kernel %s%s\n", unsafe[i].what,
			      k ? "accepts" : "refuses: ", k ? "" : why);
		k ? only_csdlab++ : both_refuse++;
	}
	print_message("# kernel comparison: %d programs, both refuse %d, only csdlab refuses %d\n",
		      asked, both_refuse, only_csdlab);
	assert_int_equal(asked, (int)(sizeof(kernel_comparable) / sizeof(kernel_comparable[0])));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drive_and_course_programs_verify),
		cmocka_unit_test(test_verified_count_alpha_runs_right),
		cmocka_unit_test(test_unsafe_programs_refused),
		cmocka_unit_test(test_unsafe_map_programs_refused),
		cmocka_unit_test(test_safe_variants_verify),
		cmocka_unit_test(test_against_the_kernel),
	};

	if (argc != 6) {
		fprintf(stderr, "usage: %s count_alpha.o grep_alpha.o csv_sum.o word_lengths.o "
			"unsafe_maps.o\n", argv[0]);
		return 2;
	}
	objs = argv + 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
