/* SPDX-License-Identifier: MIT */
/*
 * Defence in depth: a program the verifier wrongly accepted (here: marked verified by hand,
 * with the region its access "was proven" to reach) must end in a memory fault in both kinds
 * of JIT code for verified programs, sandboxed (input in csd_ebpf_sandbox_alloc() memory) and
 * guarded (input anywhere), never read or write other memory; and the process goes on.
 */
#include "test_helpers.h"
#include "../../src/ebpf/ebpf_internal.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sandboxed_code_faults_cleanly),
		cmocka_unit_test(test_guarded_code_faults_cleanly),
		cmocka_unit_test(test_sandboxed_and_guarded_agree),
		cmocka_unit_test(test_reused_check_judged_as_a_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
