/* SPDX-License-Identifier: MIT */
/*
 * The interpreter: memory checks name pc and address, the budget stops a run after exactly
 * that many instructions, abort and call depth stop it, helpers check their pointers.
 */
#include <pthread.h>
#include <unistd.h>

#include "test_helpers.h"

static struct csd_ebpf_prog *load_ok(const char *text)
{
	struct csd_ebpf_prog *prog;
	char log[256];

	if (asm_load(text, &prog, log, sizeof(log)))
		fail_msg("refused: %s", log);
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
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts);
	uint64_t r0;

	(void)state;
	assert_int_equal(csd_ebpf_prog__run(prog, mem, sizeof(mem), &opts, &r0), 0);
	assert_int_equal(r0, 0x2010 + 8);
	assert_int_equal(opts.insns_executed, 5);
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
		CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .mem_readonly = cases[i].readonly);
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

static void test_budget_is_exact(void **state)
{
	/* 1 + 3 per iteration: r0 counts to 100 */
	struct csd_ebpf_prog *prog = load_ok("mov %r0, 0\nloop:\nadd %r0, 1\n"
					     "jlt %r0, 100, loop\nexit\n");
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts);
	uint64_t r0;

	(void)state;
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
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts);
	uint64_t r0;

	(void)state;
	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
	assert_int_equal(r0, 3000000);
	assert_int_equal(opts.insns_executed, 6000002);
	opts.budget = 4000000;
	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), -ETIME);
	assert_int_equal(opts.insns_executed, 4000000);
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
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .abort = &abort_flag,
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
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts);
	uint64_t r0;

	(void)state;
	assert_int_equal(csd_ebpf_prog__run(prog, NULL, 0, &opts, &r0), 0);
	assert_int_equal(r0, 33);
	assert_int_equal(csd_ebpf_prog__run(deep, NULL, 0, &opts, &r0), -ELOOP);
	assert_int_equal(opts.fault.kind, CSD_EBPF_FAULT_CALL_DEPTH);
	csd_ebpf_prog__free(prog);
	csd_ebpf_prog__free(deep);
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
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_input_and_stack),
		cmocka_unit_test(test_memory_faults),
		cmocka_unit_test(test_budget_is_exact),
		cmocka_unit_test(test_long_budget_crosses_chunks),
		cmocka_unit_test(test_abort_from_another_thread),
		cmocka_unit_test(test_call_frames),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests_name("ebpf-interp", tests, NULL, NULL);
}
