/* SPDX-License-Identifier: MIT */
/*
 * The bpf_conformance suite (../shared/bpf-conformance): every file in tests/ must give its
 * -- result (or, with -- error, be refused or fault), and every file in negative/ must fail
 * the way its README says. TAP output, one line per file, and the pass count at the end.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance_runner.h"
#include "util.h"

static int ntests, npassed, ntests_ok, njit_ok, nverified, nverified_ok, nrefused;

static void report(const char *dir, const char *name, bool ok, const char *why)
{
	ntests++;
	npassed += ok;
	printf("%sok %d - %s/%s%s%s\n", ok ? "" : "not ", ntests, dir, name, ok ? "" : " # ",
	       ok ? "" : why);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static char *read_text(const char *dir, const char *name)
{
	char path[4096];
	uint8_t *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return csd_read_file(path, &buf, &len) ? NULL : (char *)buf;
}

/* Does the outcome match what the test file expects? why: the difference if not. */
static bool as_expected(const struct conf_outcome *o, char *why, size_t size)
{
	if (o->has_error) {
		snprintf(why, size, "expected an error, ran to r0=0x%llx", (unsigned long long)o->r0);
		return o->stage != CONF_OK;
	}
	if (o->stage != CONF_OK)
		snprintf(why, size, "stopped: %s", o->msg);
	else
		snprintf(why, size, "r0=0x%llx, expected 0x%llx", (unsigned long long)o->r0,
			 (unsigned long long)o->expected);
	return o->stage == CONF_OK && o->has_result && o->r0 == o->expected;
}

/*
 * Each test in the interpreter, in the JIT (with checks), and, when the verifier proves it,
 * once more without checks in the JIT.
 */
static void check_test(const char *dir, const char *name)
{
	struct conf_outcome o;
	char why[600];
	char *text = read_text(dir, name);
	bool ok;

	if (!text) {
		report("tests", name, false, "cannot read");
		return;
	}
	conf_engine = CSD_EBPF_ENGINE_INTERP;
	conf_run_text(text, false, &o);
	ok = as_expected(&o, why, sizeof(why));
	report("tests", name, ok, why);
	ntests_ok += ok;
	conf_outcome_free(&o);

	if (csd_ebpf_jit_available()) {
		conf_engine = CSD_EBPF_ENGINE_JIT;
		conf_run_text(text, false, &o);
		ok = as_expected(&o, why, sizeof(why));
		report("jit", name, ok, why);
		njit_ok += ok;
		conf_outcome_free(&o);
	}

	conf_verify = true;
	conf_run_text(text, false, &o);
	conf_verify = false;
	conf_engine = CSD_EBPF_ENGINE_INTERP;
	if (o.verified) {
		ok = as_expected(&o, why, sizeof(why));
		nverified++;
		nverified_ok += ok;
		report("verified", name, ok, why);
	} else if (o.stage >= CONF_RUN) {
		nrefused++;
		printf("# verifier refused %s: %s\n", name, o.verify_msg);
	}
	conf_outcome_free(&o);
	free(text);
}

/* negative/: see ../shared/bpf-conformance/README.md */
static void check_negative(const char *dir, const char *name)
{
	struct conf_outcome o;
	char why[600];
	char *text = read_text(dir, name);
	bool ok;

	if (!text) {
		report("negative", name, false, "cannot read");
		return;
	}
	if (!strncmp(name, "unused-", 7)) {
		conf_run_text(text, true, &o);
		ok = o.stage == CONF_LOAD;
		snprintf(why, sizeof(why), "reserved field not refused by the loader (stage %d: %s)",
			 o.stage, o.msg);
	} else if (!strcmp(name, "incorrect_return_value_high_bits.data")) {
		conf_run_text(text, false, &o);
		/* the runner must see that r0 is not the stated result */
		ok = o.stage == CONF_OK && o.has_result && o.r0 != o.expected;
		snprintf(why, sizeof(why), "mismatch not detected (r0=0x%llx)",
			 (unsigned long long)o.r0);
	} else {
		conf_run_text(text, false, &o);
		/* refused before running, with a message naming the line or the instruction */
		ok = o.stage < CONF_RUN &&
		     (strstr(o.msg, "line ") || strstr(o.msg, "instruction "));
		snprintf(why, sizeof(why), "not refused with a located message (stage %d: %s)",
			 o.stage, o.msg);
	}
	if (ok)
		printf("# %s: %s\n", name, o.msg[0] ? o.msg : "mismatch reported");
	report("negative", name, ok, why);
	conf_outcome_free(&o);
	free(text);
}

static int run_dir(const char *dir, void (*check)(const char *, const char *))
{
	struct dirent **list;
	int n = scandir(dir, &list, NULL, by_name), files = 0;

	if (n < 0) {
		printf("Bail out! cannot open %s\n", dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		size_t l = strlen(list[i]->d_name);

		if (l > 5 && !strcmp(list[i]->d_name + l - 5, ".data")) {
			check(dir, list[i]->d_name);
			files++;
		}
		free(list[i]);
	}
	free(list);
	return files;
}

int main(int argc, char **argv)
{
	char tests[4096], negative[4096];
	int t, n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s BPF_CONFORMANCE_DIR\n", argv[0]);
		return 2;
	}
	snprintf(tests, sizeof(tests), "%s/tests", argv[1]);
	snprintf(negative, sizeof(negative), "%s/negative", argv[1]);
	t = run_dir(tests, check_test);
	int before_negative = npassed;
	n = run_dir(negative, check_negative);
	if (t < 0 || n < 0)
		return 1;
	printf("# conformance: %d/%d tests passed, %d/%d negative files behaved\n", ntests_ok, t,
	       npassed - before_negative, n);
	printf("# JIT: %d/%d tests passed%s\n", njit_ok, t,
	       csd_ebpf_jit_available() ? "" : " (skipped: no JIT for this machine)");
	printf("# verifier: %d/%d tests verified, %d of them passed again without checks (%s); "
	       "%d refused\n", nverified, t, nverified_ok,
	       csd_ebpf_jit_available() ? "JIT" : "interpreter", nrefused);
	printf("1..%d\n", ntests);
	return npassed == ntests ? 0 : 1;
}
