/* SPDX-License-Identifier: MIT */
/*
 * The ELF loader on objects clang builds: program choice, bpf-to-bpf calls, global data,
 * array and hash maps, helpers, faults; and malformed objects refused with a message.
 * argv[1] = count_alpha.bpf.o, argv[2] = runtime_features.bpf.o, argv[3] = the fuzz corpus's
 * regress-libbpf-two-maps-sections
 */
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <elf.h>
#include <signal.h>
#include <unistd.h>

#include "csd/textgen.h"
#include "test_helpers.h"

static const char *count_alpha_path, *features_path, *two_maps_path;

static int load_elf_file(const char *path, const char *name, struct csd_ebpf_prog **prog,
			 char *log, size_t size)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, opts, .log_buf = log, .log_size = size);
	uint8_t *buf;
	size_t len;
	int err;

	log[0] = '\0';
	assert_int_equal(csd_read_file(path, &buf, &len), 0);
	err = csd_ebpf_prog__load_elf(buf, len, name, &opts, prog);
	free(buf);
	return err;
}

static struct csd_ebpf_prog *load_features(const char *name)
{
	struct csd_ebpf_prog *prog;
	char log[256];

	if (load_elf_file(features_path, name, &prog, log, sizeof(log)))
		fail_msg("%s refused: %s", name, log);
	return prog;
}

static uint64_t run_ok(struct csd_ebpf_prog *prog, const void *mem, size_t len)
{
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts);
	uint64_t r0;

	if (csd_ebpf_prog__run(prog, (void *)mem, len, &opts, &r0))
		fail_msg("run failed: %s", opts.fault.msg);
	return r0;
}

static void test_count_alpha_small(void **state)
{
	static const struct { const char *text; uint64_t count; } cases[] = {
		{ "", 0 }, { "Alph", 0 }, { "Alpha", 1 }, { "AAlpha", 1 }, { "AlphaAlpha", 2 },
		{ "alpha ALPHA Alp ha Alpine", 0 }, { "Alphabet Alphas Alpha.", 3 },
		{ "xxxxAlph", 0 }, { "xxxxxAlpha", 1 },
	};
	struct csd_ebpf_prog *prog;
	char log[256];

	(void)state;
	if (load_elf_file(count_alpha_path, NULL, &prog, log, sizeof(log)))
		fail_msg("count_alpha refused: %s", log);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text);
		/* exactly len bytes: a read past the end would fault */
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, cases[i].text, len);
		assert_int_equal(run_ok(prog, copy, len), cases[i].count);
		assert_int_equal(csd_count_alpha(copy, len), cases[i].count);
		free(copy);
	}
	csd_ebpf_prog__free(prog);
}

static void test_count_alpha_generated(void **state)
{
	const size_t len = 3u << 20;	/* three 1 MiB straddles */
	uint8_t *buf = malloc(len);
	struct csd_ebpf_prog *prog;
	struct csd_textgen g;
	uint64_t expected;
	char log[256];

	(void)state;
	csd_textgen_init(&g, 42, 10);
	expected = csd_textgen_fill(&g, buf, len);
	assert_int_equal(csd_count_alpha(buf, len), expected);
	assert_true(expected > 1000);
	/* the straddling occurrence: "Alpha" starting 2 bytes before the 1 MiB boundary */
	assert_memory_equal(buf + (1u << 20) - 2, "Alpha", 5);
	assert_memory_equal(buf + (2u << 20) - 2, "Alpha", 5);
	if (load_elf_file(count_alpha_path, "count_alpha", &prog, log, sizeof(log)))
		fail_msg("refused: %s", log);
	assert_int_equal(run_ok(prog, buf, len), expected);
	csd_ebpf_prog__free(prog);
	free(buf);
}

static void test_maps_globals_and_calls(void **state)
{
	struct csd_ebpf_prog *prog = load_features("maps_and_globals");
	const char *input = "aaaabbbbccccddddzzzz";	/* 20 bytes, 4 distinct in the first 16 */
	uint32_t key = 'a', zero = 0;
	uint64_t v;
	char log[256];
	int idx;

	(void)state;
	/* scale(20) = 60, + distinct 4 + runs 100 */
	assert_int_equal(run_ok(prog, input, 20), 164);
	/* second run: no new keys, runs was incremented to 101 */
	assert_int_equal(run_ok(prog, input, 20), 161);

	idx = csd_ebpf_prog__map_find(prog, "byte_counts");
	assert_true(idx >= 0);
	assert_int_equal(csd_ebpf_prog__map_lookup(prog, (size_t)idx, &key, &v, 8), 0);
	assert_int_equal(v, 8);
	key = 'z';	/* beyond the first 16 bytes: never counted */
	assert_int_equal(csd_ebpf_prog__map_lookup(prog, (size_t)idx, &key, &v, 8), -ENOENT);

	idx = csd_ebpf_prog__map_find(prog, "totals");
	assert_int_equal(csd_ebpf_prog__map_lookup(prog, (size_t)idx, &zero, &v, 8), 0);
	assert_int_equal(v, 40);
	idx = csd_ebpf_prog__map_find(prog, ".bss");
	assert_int_equal(csd_ebpf_prog__map_lookup(prog, (size_t)idx, &zero, &v, 8), 0);
	assert_int_equal(v, 20);
	idx = csd_ebpf_prog__map_find(prog, ".data");
	assert_int_equal(csd_ebpf_prog__map_lookup(prog, (size_t)idx, &zero, &v, 8), 0);
	assert_int_equal(v, 102);
	assert_true(csd_ebpf_prog__map_find(prog, ".rodata") >= 0);

	assert_int_equal(csd_ebpf_prog__log_read(prog, log, sizeof(log)), 30);
	assert_string_equal(log, "len=20 first=a\nlen=20 first=a\n");
	csd_ebpf_prog__free(prog);
}

static void test_faults_in_c_programs(void **state)
{
	static const struct { const char *name; int err; const char *msg; } cases[] = {
		{ "read_past_end", -EFAULT, "1-byte read at" },
		{ "write_rodata", -EFAULT, "(read-only region)" },
		{ "deep_calls", -ELOOP, "nested calls" },
		{ "spin_forever", -ETIME, "budget of 100000" },
		{ "bad_map_key", -EFAULT, "map lookup key: 4 bytes at 0x1000" },
	};
	uint8_t input[16] = { 'A' };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct csd_ebpf_prog *prog = load_features(cases[i].name);
		CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .budget = 100000);
		uint64_t r0;

		assert_int_equal(csd_ebpf_prog__run(prog, input, 16, &opts, &r0), cases[i].err);
		print_message("# %s: %s\n", cases[i].name, opts.fault.msg);
		if (!strstr(opts.fault.msg, cases[i].msg))
			fail_msg("%s: '%s' lacks '%s'", cases[i].name, opts.fault.msg, cases[i].msg);
		csd_ebpf_prog__free(prog);
	}
}

static void test_program_choice(void **state)
{
	struct csd_ebpf_prog *prog = NULL;
	char log[512];

	(void)state;
	assert_int_equal(load_elf_file(features_path, "csd", &prog, log, sizeof(log)), -EINVAL);
	assert_non_null(strstr(log, "several programs match (maps_and_globals, read_past_end"));
	assert_int_equal(load_elf_file(features_path, NULL, &prog, log, sizeof(log)), -EINVAL);
	assert_int_equal(load_elf_file(features_path, "nope", &prog, log, sizeof(log)), -EINVAL);
	assert_non_null(strstr(log, "no program named 'nope' (programs: maps_and_globals"));
	/* a subprogram in .text is not a program */
	assert_int_equal(load_elf_file(features_path, "add_runs", &prog, log, sizeof(log)),
			 -EINVAL);
	assert_null(prog);
	/* by section name when the section holds one program */
	assert_int_equal(load_elf_file(count_alpha_path, "csd", &prog, log, sizeof(log)), 0);
	csd_ebpf_prog__free(prog);
}

static void test_malformed_objects(void **state)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, opts);
	struct csd_ebpf_prog *prog = NULL;
	uint8_t *obj, *self;
	size_t len, self_len;
	char log[256];

	(void)state;
	opts.log_buf = log;
	opts.log_size = sizeof(log);
	assert_int_equal(csd_ebpf_prog__load_elf("hello", 5, NULL, &opts, &prog), -EINVAL);
	assert_string_equal(log, "not an ELF object");
	assert_int_equal(csd_read_file("/proc/self/exe", &self, &self_len), 0);
	assert_int_equal(csd_ebpf_prog__load_elf(self, self_len, NULL, &opts, &prog), -EINVAL);
	assert_non_null(strstr(log, "not a little-endian 64-bit BPF object"));
	free(self);

	assert_int_equal(csd_read_file(features_path, &obj, &len), 0);
	/* every truncation is refused, none crashes */
	for (size_t cut = 0; cut < len; cut += 97) {
		int err = csd_ebpf_prog__load_elf(obj, cut, "maps_and_globals", &opts, &prog);

		assert_int_not_equal(err, 0);
		assert_null(prog);
	}
	/* bytes flipped in the instructions and tables: refused or loaded, never a crash */
	for (size_t i = 64; i < len; i += 131) {
		uint8_t saved = obj[i];

		obj[i] ^= 0x5a;
		if (!csd_ebpf_prog__load_elf(obj, len, "maps_and_globals", &opts, &prog)) {
			CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts, .budget = 10000);
			uint64_t r0;

			csd_ebpf_prog__run(prog, obj, 16, &ropts, &r0);
			csd_ebpf_prog__free(prog);
			prog = NULL;
		}
		obj[i] = saved;
	}
	free(obj);
}

/*
 * libbpf reads .maps in a child process: what it does there (crash, hang) costs the caller an
 * error, nothing more. This definition stands in for libbpf's (the real one is found next).
 */
static int libbpf_sabotage;	/* 0: the real libbpf, 1: it crashes, 2: it hangs */

struct bpf_object *bpf_object__open_mem(const void *buf, size_t size,
					const struct bpf_object_open_opts *o)
{
	struct bpf_object *(*real)(const void *, size_t, const struct bpf_object_open_opts *);

	if (libbpf_sabotage == 1)
		raise(SIGSEGV);
	while (libbpf_sabotage == 2)
		pause();
	*(void **)&real = dlsym(RTLD_NEXT, "bpf_object__open_mem");
	return real(buf, size, o);
}

static void test_libbpf_in_a_child(void **state)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, opts);
	struct csd_ebpf_prog *prog = NULL;
	uint8_t *obj;
	size_t len;
	char log[256];

	(void)state;
	opts.log_buf = log;
	opts.log_size = sizeof(log);
	assert_int_equal(csd_read_file(features_path, &obj, &len), 0);
	libbpf_sabotage = 1;
	assert_int_equal(csd_ebpf_prog__load_elf(obj, len, "maps_and_globals", &opts, &prog), -EINVAL);
	assert_non_null(strstr(log, "libbpf failed on this object's .maps"));
	libbpf_sabotage = 2;
	assert_int_equal(csd_ebpf_prog__load_elf(obj, len, "maps_and_globals", &opts, &prog), -EINVAL);
	assert_non_null(strstr(log, "libbpf failed on this object's .maps (Killed)"));
	libbpf_sabotage = 0;
	assert_int_equal(csd_ebpf_prog__load_elf(obj, len, "maps_and_globals", &opts, &prog), 0);
	csd_ebpf_prog__free(prog);
	free(obj);
	/* found by fuzz_elf: two .maps sections crash libbpf 1.1 itself (in the child, had it
	 * been asked); refused before it */
	assert_int_equal(csd_read_file(two_maps_path, &obj, &len), 0);
	prog = NULL;
	assert_int_equal(csd_ebpf_prog__load_elf(obj, len, NULL, &opts, &prog), -EINVAL);
	assert_string_equal(log, "2 .maps sections");
	free(obj);
}

/* Found by fuzz_elf: a function symbol whose start plus size wraps past 2^64 once passed the
 * bounds check and was copied from before its section. */
static void test_function_symbol_wrapping_around(void **state)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, opts);
	struct csd_ebpf_prog *prog = NULL;
	bool patched = false;
	char log[256];
	uint8_t *obj;
	size_t len;

	(void)state;
	opts.log_buf = log;
	opts.log_size = sizeof(log);
	assert_int_equal(csd_read_file(count_alpha_path, &obj, &len), 0);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)obj;

	for (unsigned i = 0; i < eh->e_shnum && !patched; i++) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(obj + eh->e_shoff) + i;

		if (sh->sh_type != SHT_SYMTAB)
			continue;
		for (size_t k = 1; k < sh->sh_size / sizeof(Elf64_Sym) && !patched; k++) {
			Elf64_Sym *sym = (Elf64_Sym *)(obj + sh->sh_offset) + k;

			if (ELF64_ST_TYPE(sym->st_info) != STT_FUNC)
				continue;
			sym->st_value = UINT64_MAX - 7;	/* a multiple of 8; + st_size wraps */
			patched = true;
		}
	}
	assert_true(patched);
	assert_int_equal(csd_ebpf_prog__load_elf(obj, len, NULL, &opts, &prog), -EINVAL);
	assert_null(prog);
	assert_non_null(strstr(log, "lies outside its section"));
	free(obj);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_alpha_small),
		cmocka_unit_test(test_count_alpha_generated),
		cmocka_unit_test(test_maps_globals_and_calls),
		cmocka_unit_test(test_faults_in_c_programs),
		cmocka_unit_test(test_program_choice),
		cmocka_unit_test(test_malformed_objects),
		cmocka_unit_test(test_function_symbol_wrapping_around),
		cmocka_unit_test(test_libbpf_in_a_child),
	};

	if (argc != 4) {
		fprintf(stderr, "usage: %s count_alpha.bpf.o runtime_features.bpf.o TWO-MAPS-OBJECT\n",
			argv[0]);
		return 2;
	}
	count_alpha_path = argv[1];
	features_path = argv[2];
	two_maps_path = argv[3];
	return cmocka_run_group_tests_name("ebpf-elf", tests, NULL, NULL);
}
