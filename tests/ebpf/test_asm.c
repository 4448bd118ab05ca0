/* SPDX-License-Identifier: MIT */
/*
 * Assembler and disassembler: every conformance program disassembles to text that assembles
 * back to the same bytes; malformed text is refused with the line named.
 * argv[1] = the bpf-conformance directory.
 */
#include <dirent.h>

#include "conformance_runner.h"
#include "test_helpers.h"

static const char *conformance_dir;

static void test_round_trip_conformance(void **state)
{
	char dir[4096];
	struct dirent *e;
	int programs = 0;
	DIR *d;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tests", conformance_dir);
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d))) {
		struct csd_ebpf_insn *again;
		struct conf_outcome o;
		char path[4400], err[256];
		size_t len, again_cnt, tlen = 0;
		uint8_t *file;
		char *text;

		if (!strstr(e->d_name, ".data"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		assert_int_equal(csd_read_file(path, &file, &len), 0);
		conf_run_text((const char *)file, false, &o);
		free(file);
		assert_non_null(o.insns);
		text = malloc(o.insn_cnt * 96 + 1);
		for (size_t pc = 0; pc < o.insn_cnt;) {
			int n = csd_ebpf_disasm_insn(&o.insns[pc], o.insn_cnt - pc, text + tlen, 95);

			assert_true(n > 0);
			tlen += strlen(text + tlen);
			text[tlen++] = '\n';
			pc += (size_t)n;
		}
		text[tlen] = '\0';
		if (csd_ebpf_asm(text, &again, &again_cnt, err, sizeof(err)))
			fail_msg("%s: disassembly does not assemble: %s\n%s", e->d_name, err, text);
		assert_int_equal(again_cnt, o.insn_cnt);
		if (memcmp(again, o.insns, again_cnt * 8))
			fail_msg("%s: round trip changed the program:\n%s", e->d_name, text);
		free(again);
		free(text);
		conf_outcome_free(&o);
		programs++;
	}
	closedir(d);
	print_message("# %d programs round-tripped\n", programs);
	assert_true(programs >= 300);
}

static void test_syntax_forms(void **state)
{
	static const struct { const char *text; uint64_t word; } forms[] = {
		{ "mov %r0, -1", 0xffffffff000000b7ull },
		{ "mov32 %r3, 0xffffffff", 0xffffffff000003b4ull },
		{ "ldxdw %r0, [%r1 + 2]", 0x0000000000021079ull },
		{ "stxw [%r10-4], %r1", 0x00000000fffc1a63ull },
		{ "sdiv32 %r1, 3", 0x0000000300010134ull },
		{ "smod %r1, %r2", 0x000000000001219full },
		{ "lock fetch xor32 [%r2+8], %r3", 0x000000a1000832c3ull },
		{ "lock cmpxchg [%r2+0], %r3", 0x000000f1000032dbull },
		{ "movsx1664 %r1, %r2", 0x00000000001021bfull },
		{ "ldxsh %r1, [%r2-2]", 0x00000000fffe2189ull },
		{ "be32 %r4", 0x00000020000004dcull },
		{ "bswap64 %r4", 0x00000040000004d7ull },
		{ "call 6", 0x0000000600000085ull },
		{ "call %r4", 0x000000000000048dull },
		{ "ja32 -1", 0xffffffff00000006ull },
		{ "jsle32 %r1, -5, +3  # comment", 0xfffffffb000301d6ull },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct csd_ebpf_insn *insns;
		char text[128], err[256];
		size_t cnt;
		uint64_t w;

		snprintf(text, sizeof(text), "%s\n", forms[i].text);
		if (csd_ebpf_asm(text, &insns, &cnt, err, sizeof(err)))
			fail_msg("'%s': %s", forms[i].text, err);
		assert_int_equal(cnt, 1);
		memcpy(&w, insns, 8);
		if (w != forms[i].word)
			fail_msg("'%s' -> 0x%016llx, expected 0x%016llx", forms[i].text,
				 (unsigned long long)w, (unsigned long long)forms[i].word);
		free(insns);
	}
}

static void test_errors_name_the_line(void **state)
{
	static const struct { const char *text; const char *msg; } bad[] = {
		{ "mov %r0, 1\nfoo %r0\nexit\n", "line 2: unknown mnemonic 'foo'" },
		{ "\n\nmov %r11, 1\n", "line 3: invalid register '%r11'" },
		{ "add32 %r0, 4294967296\n", "line 1: immediate '4294967296' is out of range" },
		{ "ldxb %r0, [%r1+40000]\n", "line 1: offset '+40000' is out of range" },
		{ "ja nowhere\nexit\n", "line 1: label 'nowhere' is not defined" },
		{ "a:\na:\nexit\n", "line 2: label 'a' defined twice" },
		{ "jeq %r0, 1\n", "line 1: invalid number of operands for jeq: 2, expected 3" },
		{ "lock nand [%r1+0], %r2\n", "line 1: unknown atomic operation 'nand'" },
		{ "ldxw %r0, [%r1+2\n", "line 1: '[' without ']'" },
		{ "# only a comment\n", "line 1: no instructions" },
		{ "mov %r0, 1zz\n", "line 1: '1zz' is not a number" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct csd_ebpf_insn *insns = NULL;
		char err[256] = "";
		size_t cnt;

		assert_int_equal(csd_ebpf_asm(bad[i].text, &insns, &cnt, err, sizeof(err)), -EINVAL);
		assert_null(insns);
		if (strcmp(err, bad[i].msg))
			fail_msg("case %zu: '%s', expected '%s'", i, err, bad[i].msg);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_conformance),
		cmocka_unit_test(test_syntax_forms),
		cmocka_unit_test(test_errors_name_the_line),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s BPF_CONFORMANCE_DIR\n", argv[0]);
		return 2;
	}
	conformance_dir = argv[1];
	return cmocka_run_group_tests_name("ebpf-asm", tests, NULL, NULL);
}
