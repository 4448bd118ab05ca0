/* SPDX-License-Identifier: MIT */
/*
 * The loader refuses malformed programs, each with a message naming the instruction, and
 * accepts the well-formed edge cases next to them.
 */
#include "test_helpers.h"

#define INSN(c, d, s, o, i) { .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) }
#define EXIT INSN(0x95, 0, 0, 0, 0)
#define MOV0 INSN(0xb7, 0, 0, 0, 0)

struct refusal {
	const char *what;
	struct csd_ebpf_insn insns[4];
	size_t cnt;
	const char *message;	/* must appear in the log */
};

static const struct refusal refusals[] = {
	{ "unknown opcode", { INSN(0xff, 0, 0, 0, 0), EXIT }, 2,
	  "instruction 0 (.8byte 0x00000000000000ff): unknown" },
	{ "legacy packet load", { INSN(0x20, 0, 0, 0, 0), MOV0, EXIT }, 3,
	  "instruction 0" },
	{ "reserved src in ALU imm", { INSN(0x07, 0, 1, 0, 1), MOV0, EXIT }, 3,
	  "instruction 0 (add %r0, 1): reserved src field is 1" },
	{ "reserved offset in exit", { MOV0, INSN(0x95, 0, 0, 1, 0) }, 2,
	  "instruction 1 (exit): reserved offset field is 1" },
	{ "bad destination register", { INSN(0xb7, 11, 0, 0, 0), MOV0, EXIT }, 3,
	  "instruction 0 (mov %r11, 0): bad register r11" },
	{ "bad source register", { INSN(0xbf, 0, 12, 0, 0), EXIT }, 2,
	  "bad register r12" },
	{ "write to r10", { INSN(0xb7, 10, 0, 0, 0), MOV0, EXIT }, 3,
	  "instruction 0 (mov %r10, 0): writes r10" },
	{ "load into r10", { INSN(0x79, 10, 1, 0, 0), MOV0, EXIT }, 3, "writes r10" },
	{ "jump past the end", { MOV0, INSN(0x05, 0, 0, 5, 0), EXIT }, 3,
	  "instruction 1 (ja +5): jump target 7 is outside the program (0..2)" },
	{ "jump before the start", { MOV0, INSN(0x05, 0, 0, -3, 0), EXIT }, 3,
	  "jump target -1 is outside" },
	{ "jump into lddw", { INSN(0x05, 0, 0, 1, 0), INSN(0x18, 0, 0, 0, 1), INSN(0, 0, 0, 0, 0), EXIT },
	  4, "instruction 0 (ja +1): jump target 2 is the second half of a 64-bit load" },
	{ "lddw missing its second slot", { MOV0, EXIT, INSN(0x18, 0, 0, 0, 1) }, 3,
	  "instruction 2" },
	{ "lddw second slot not zero", { INSN(0x18, 0, 0, 0, 1), INSN(0x07, 0, 0, 0, 0), EXIT }, 3,
	  "instruction 1" },
	{ "call to a helper that does not exist", { INSN(0x85, 0, 0, 0, 9999), MOV0, EXIT }, 3,
	  "instruction 0 (call 9999): call to helper 9999, which does not exist" },
	{ "local call out of the program", { INSN(0x85, 0, 1, 0, 50), MOV0, EXIT }, 3,
	  "call target 51 is outside" },
	{ "no exit", { MOV0, INSN(0x07, 0, 0, 0, 1) }, 2,
	  "instruction 1: control runs off the end of the program (no exit)" },
	{ "conditional jump falls off the end", { MOV0, INSN(0x15, 0, 0, -2, 0) }, 2,
	  "no exit" },
	{ "bad byte swap width", { MOV0, INSN(0xdc, 0, 0, 0, 24), EXIT }, 3,
	  "byte swap width 24" },
	{ "bad atomic operation", { MOV0, INSN(0xdb, 10, 0, -8, 0x70), EXIT }, 3,
	  "unknown atomic operation 0x70" },
	{ "signed div with bad offset", { MOV0, INSN(0x37, 0, 0, 2, 1), EXIT }, 3,
	  "offset 2: 0 (unsigned) or 1 (signed) expected" },
	{ "sign-extending move from 32 bits in ALU32", { MOV0, INSN(0xbc, 0, 0, 32, 0), EXIT }, 3,
	  "sign-extension width 32" },
	{ "read of an unwritten register", { INSN(0xbf, 0, 6, 0, 0), EXIT }, 2,
	  "instruction 0 (mov %r0, %r6): reads r6 before it is written" },
	{ "exit without r0 on one path", { INSN(0x15, 1, 0, 1, 0), MOV0, EXIT }, 3,
	  "instruction 2 (exit): reads r0 before it is written" },
	{ "r1 used after a helper call", { INSN(0x85, 0, 0, 0, 5), INSN(0xbf, 0, 1, 0, 0), EXIT }, 3,
	  "reads r1 before it is written" },
};

static void test_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		struct csd_ebpf_prog *prog = NULL;
		char log[256];
		int err = raw_load(r->insns, r->cnt, &prog, log, sizeof(log));

		print_message("# %s: %s\n", r->what, log);
		assert_int_equal(err, -EINVAL);
		assert_null(prog);
		if (!strstr(log, r->message))
			fail_msg("%s: log '%s' lacks '%s'", r->what, log, r->message);
	}
}

static void test_empty_program(void **state)
{
	struct csd_ebpf_prog *prog = NULL;
	char log[128];

	(void)state;
	assert_int_equal(raw_load((const struct csd_ebpf_insn *)"", 0, &prog, log, sizeof(log)),
			 -EINVAL);
	assert_string_equal(log, "the program has no instructions");
}

static void test_accepts_edge_cases(void **state)
{
	static const char *const programs[] = {
		/* backward jump to the start, exit not last */
		"mov %r0, 0\nja +1\nexit\nadd %r0, 1\njlt %r0, 3, -3\nexit\n",
		/* callee reads only what the caller passed */
		"mov %r1, 4\ncall local f\nexit\nf:\nmov %r0, %r1\nexit\n",
		/* r6-r9 kept across a helper call */
		"mov %r6, 7\ncall 5\nmov %r0, %r6\nexit\n",
		/* callx with the id in a register */
		"mov %r3, 5\ncall %r3\nexit\n",
		/* gotol over more than 32767 would need a long program: a short one is fine */
		"mov %r0, 1\nja32 +1\nmov %r0, 2\nexit\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		struct csd_ebpf_prog *prog;
		char log[256];

		if (asm_load(programs[i], &prog, log, sizeof(log)))
			fail_msg("program %zu refused: %s", i, log);
		csd_ebpf_prog__free(prog);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_empty_program),
		cmocka_unit_test(test_accepts_edge_cases),
	};

	return cmocka_run_group_tests_name("ebpf-loader", tests, NULL, NULL);
}
