/* SPDX-License-Identifier: MIT */
/*
 * csd asm / disasm / run / gen: the local eBPF runtime from the command line.
 *
 * A program file is recognised by its content: an ELF object (clang -target bpf), a
 * bpf_conformance .data file (its -- asm or -- raw section), assembler text, or raw
 * little-endian instruction words (a multiple of 8 bytes with no text in it).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "conformance_data.h"
#include "csd/ebpf.h"
#include "csd/textgen.h"
#include "util.h"

static bool is_elf(const uint8_t *buf, size_t len)
{
	return len >= 4 && !memcmp(buf, "\177ELF", 4);
}

static bool is_text(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] == 0 || (buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\t' &&
				    buf[i] != '\r'))
			return false;
	return true;
}

/* Instructions from a non-ELF program file (see the comment at the top). */
static int read_insns(const char *path, const uint8_t *buf, size_t len,
		      struct csd_ebpf_insn **insns, size_t *cnt)
{
	char err[256] = "";
	char *asm_text = NULL, *raw = NULL;
	int ret;

	if (!is_text(buf, len)) {
		if (len == 0 || len % 8) {
			fprintf(stderr, "csd: %s: %zu bytes is not a whole number of instructions\n",
				path, len);
			return -EINVAL;
		}
		*insns = malloc(len);
		if (!*insns)
			return -ENOMEM;
		memcpy(*insns, buf, len);
		*cnt = len / 8;
		return 0;
	}
	if (!strncmp((const char *)buf, "-- ", 3) || strstr((const char *)buf, "\n-- ")) {
		struct csd_data_file df;

		if (csd_data_parse((const char *)buf, &df, err, sizeof(err))) {
			fprintf(stderr, "csd: %s: %s\n", path, err);
			return -EINVAL;
		}
		asm_text = df.asm_text;
		raw = df.raw;
		df.asm_text = df.raw = NULL;
		csd_data_free(&df);
	}
	if (raw && !asm_text) {
		uint8_t *bytes;
		long n = csd_hex_parse(raw, strstr(raw, "0x") != NULL, &bytes, err, sizeof(err));

		free(raw);
		if (n < 0 || n % 8) {
			fprintf(stderr, "csd: %s: -- raw: %s\n", path,
				n < 0 ? err : "not a whole number of instructions");
			if (n >= 0)
				free(bytes);
			return -EINVAL;
		}
		*insns = (struct csd_ebpf_insn *)bytes;
		*cnt = (size_t)n / 8;
		return 0;
	}
	free(raw);
	ret = csd_ebpf_asm(asm_text ? asm_text : (const char *)buf, insns, cnt, err, sizeof(err));
	free(asm_text);
	if (ret)
		fprintf(stderr, "csd: %s: %s\n", path, err);
	return ret;
}

static int load_program(const char *path, const char *name, struct csd_ebpf_prog **prog)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, opts);
	struct csd_ebpf_insn *insns = NULL;
	char log[512] = "";
	uint8_t *buf;
	size_t len, cnt;
	int err;

	opts.log_buf = log;
	opts.log_size = sizeof(log);
	err = csd_read_file(path, &buf, &len);
	if (err) {
		fprintf(stderr, "csd: %s: %s\n", path, strerror(-err));
		return err;
	}
	if (is_elf(buf, len)) {
		err = csd_ebpf_prog__load_elf(buf, len, name, &opts, prog);
	} else {
		err = read_insns(path, buf, len, &insns, &cnt);
		if (!err)
			err = csd_ebpf_prog__load(insns, cnt, &opts, prog);
		else
			log[0] = '\0';
	}
	if (err && log[0])
		fprintf(stderr, "csd: %s: program refused: %s\n", path, log);
	free(insns);
	free(buf);
	return err;
}

int cmd_asm(int argc, char **argv)
{
	const char *out_path = NULL;
	struct csd_ebpf_insn *insns;
	uint8_t *buf;
	size_t len, cnt;
	FILE *out;
	int c;

	while ((c = getopt(argc, argv, "o:h")) != -1) {
		if (c == 'o') {
			out_path = optarg;
			continue;
		}
		fprintf(c == 'h' ? stdout : stderr,
			"usage: csd asm [-o OUT.bin] FILE.s|-\n"
			"  Assembles bpf_conformance syntax; writes raw instructions to OUT.bin,\n"
			"  or prints them as hex bytes (the conformance plugin's input format).\n");
		return c == 'h' ? 0 : 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: csd asm [-o OUT.bin] FILE.s|-\n");
		return 2;
	}
	if ((c = csd_read_file(argv[optind], &buf, &len))) {
		fprintf(stderr, "csd: %s: %s\n", argv[optind], strerror(-c));
		return 1;
	}
	c = read_insns(argv[optind], buf, len, &insns, &cnt);
	free(buf);
	if (c)
		return 1;
	if (out_path) {
		out = fopen(out_path, "wb");
		if (!out || fwrite(insns, 8, cnt, out) != cnt || fclose(out)) {
			fprintf(stderr, "csd: %s: %s\n", out_path, strerror(errno));
			free(insns);
			return 1;
		}
	} else {
		const uint8_t *b = (const uint8_t *)insns;

		for (size_t i = 0; i < cnt * 8; i++)
			printf("%02x  ", b[i]);
		printf("\n");
	}
	free(insns);
	return 0;
}

int cmd_disasm(int argc, char **argv)
{
	const char *name = NULL;
	struct csd_ebpf_prog *prog = NULL;
	const struct csd_ebpf_insn *insns;
	struct csd_ebpf_insn *raw = NULL;
	uint8_t *buf;
	size_t cnt, len;
	int c;

	while ((c = getopt(argc, argv, "p:h")) != -1) {
		if (c == 'p') {
			name = optarg;
			continue;
		}
		fprintf(c == 'h' ? stdout : stderr,
			"usage: csd disasm [-p PROGRAM] FILE\n"
			"  FILE: raw instructions, assembler text, a .data file or an ELF object\n"
			"  (-p picks the program by function or section name).\n");
		return c == 'h' ? 0 : 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: csd disasm [-p PROGRAM] FILE\n");
		return 2;
	}
	/* an ELF object is linked first; anything else is listed as it is, even if invalid */
	if ((c = csd_read_file(argv[optind], &buf, &len))) {
		fprintf(stderr, "csd: %s: %s\n", argv[optind], strerror(-c));
		return 1;
	}
	if (is_elf(buf, len)) {
		if (load_program(argv[optind], name, &prog)) {
			free(buf);
			return 1;
		}
		insns = csd_ebpf_prog__insns(prog, &cnt);
	} else if (read_insns(argv[optind], buf, len, &raw, &cnt)) {
		free(buf);
		return 1;
	} else {
		insns = raw;
	}
	free(buf);
	for (size_t pc = 0; pc < cnt;) {
		char line[128];
		int n = csd_ebpf_disasm_insn(&insns[pc], cnt - pc, line, sizeof(line));

		printf("%5zu: %s\n", pc, line);
		pc += n > 0 ? (size_t)n : 1;
	}
	free(raw);
	csd_ebpf_prog__free(prog);
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: csd run [options] PROGRAM\n"
		"  PROGRAM          ELF object, assembler text, .data file or raw instructions\n"
		"  -p, --prog NAME  program (function or section) in an ELF object\n"
		"  -i, --input FILE input memory (r1/r2) from a file\n"
		"  -g, --gen SIZE   input memory: SIZE bytes of generated text (e.g. 64M)\n"
		"  -s, --seed N     generator seed (default 1)\n"
		"  -r, --rate N     \"Alpha\" words per 1000 words (default 5)\n"
		"  -b, --budget N   budget: instructions (interpreter) or loop iterations (JIT)\n"
		"                   (default 2^32)\n"
		"  -e, --engine interp|jit   what runs it (default: the JIT where there is one)\n"
		"  -V, --verify     verify first, as a drive does: a proven program runs unchecked\n"
		"      --p1 N, --p2 N  the program's parameters (r3, r4), as csd exec passes them\n"
		"  -R, --repeat N   run N times (default 1): the first run's time (it compiles the\n"
		"                   JIT code) and the warm runs' median and best rate\n"
		"  -q, --quiet      print only r0\n");
}

enum { OPT_RUN_P1 = 0x100, OPT_RUN_P2 };

static int cmp_seconds(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

#define MAX_RUN_REPEAT	1000

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "prog", required_argument, NULL, 'p' },
		{ "input", required_argument, NULL, 'i' },
		{ "gen", required_argument, NULL, 'g' },
		{ "seed", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "budget", required_argument, NULL, 'b' },
		{ "engine", required_argument, NULL, 'e' },
		{ "verify", no_argument, NULL, 'V' },
		{ "p1", required_argument, NULL, OPT_RUN_P1 },
		{ "p2", required_argument, NULL, OPT_RUN_P2 },
		{ "repeat", required_argument, NULL, 'R' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	CSD_EBPF_OPTS(csd_ebpf_run_opts, ropts);
	const char *name = NULL, *input = NULL;
	uint64_t gen = 0, seed = 1, rate = 5, budget = 0, expected = 0, r0, repeat = 1, p[2] = { 0 };
	uint64_t later_r0;	/* the answers of runs after the first */
	double *secs = NULL;
	bool quiet = false, generated = false, verify = false;
	struct csd_ebpf_prog *prog;
	uint8_t *mem = NULL;
	bool boxed = false;
	size_t len = 0;
	char log[4096];
	int c, err;

	while ((c = getopt_long(argc, argv, "p:i:g:s:r:b:e:R:Vqh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_RUN_P1:
		case OPT_RUN_P2:
			if (csd_parse_u64(optarg, &p[c - OPT_RUN_P1])) {
				fprintf(stderr, "csd: --p%d '%s' is not a number\n",
					c - OPT_RUN_P1 + 1, optarg);
				return 2;
			}
			break;
		case 'R':
			if (csd_parse_u64(optarg, &repeat) || !repeat || repeat > MAX_RUN_REPEAT) {
				fprintf(stderr, "csd: --repeat '%s': 1 to %d expected\n", optarg,
					MAX_RUN_REPEAT);
				return 2;
			}
			break;
		case 'e':
			if (!strcmp(optarg, "interp")) {
				ropts.engine = CSD_EBPF_ENGINE_INTERP;
			} else if (!strcmp(optarg, "jit") && csd_ebpf_jit_available()) {
				ropts.engine = CSD_EBPF_ENGINE_JIT;
			} else {
				fprintf(stderr, "csd: --engine '%s': interp%s expected\n", optarg,
					csd_ebpf_jit_available() ? " or jit" :
					" (no JIT for this machine)");
				return 2;
			}
			break;
		case 'V': verify = true; break;
		case 'p': name = optarg; break;
		case 'i': input = optarg; break;
		case 'g':
			if (csd_parse_size(optarg, &gen) || !gen || gen > (1ull << 34)) {
				fprintf(stderr, "csd: --gen '%s': a size from 1 byte to 16G expected\n",
					optarg);
				return 2;
			}
			generated = true;
			break;
		case 's':
			if (csd_parse_u64(optarg, &seed)) {
				fprintf(stderr, "csd: --seed '%s' is not a number\n", optarg);
				return 2;
			}
			break;
		case 'r':
			if (csd_parse_u64(optarg, &rate) || rate > 1000) {
				fprintf(stderr, "csd: --rate '%s': 0..1000 expected\n", optarg);
				return 2;
			}
			break;
		case 'b':
			if (csd_parse_u64(optarg, &budget) || !budget) {
				fprintf(stderr, "csd: --budget '%s': a positive number expected\n",
					optarg);
				return 2;
			}
			break;
		case 'q': quiet = true; break;
		case 'h': run_usage(stdout); return 0;
		default: run_usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || (input && generated)) {
		run_usage(stderr);
		return 2;
	}
	if (load_program(argv[optind], name, &prog))
		return 1;
	if (verify) {
		CSD_EBPF_OPTS(csd_ebpf_verify_opts, vopts, .log_buf = log, .log_size = sizeof(log));

		if (csd_ebpf_prog__verify(prog, &vopts)) {
			fprintf(stderr, "csd: %s: refused: %s\n", argv[optind], log);
			csd_ebpf_prog__free(prog);
			return 1;
		}
	}
	if (input && (err = csd_read_file(input, &mem, &len))) {
		fprintf(stderr, "csd: %s: %s\n", input, strerror(-err));
		csd_ebpf_prog__free(prog);
		return 1;
	}
	if (generated) {
		struct csd_textgen g;
		struct csd_progress bar;
		const size_t step = 16u << 20;

		mem = malloc(gen);
		if (!mem) {
			fprintf(stderr, "csd: cannot allocate %" PRIu64 " bytes\n", gen);
			csd_ebpf_prog__free(prog);
			return 1;
		}
		len = gen;
		csd_textgen_init(&g, seed, (uint32_t)rate);
		csd_progress_start(&bar, "generating text", len);
		for (size_t off = 0; off < len; off += step) {
			expected += csd_textgen_fill(&g, mem + off, len - off < step ? len - off : step);
			csd_progress_update(&bar, off);
		}
		csd_progress_end(&bar);
	}
	/* as the drive does: the input in a sandbox, where a verified program runs sandboxed */
	if (len && len <= (UINT64_C(1) << 32) - (UINT64_C(1) << 16)) {
		uint8_t *box = csd_ebpf_sandbox_alloc(len);

		if (box) {
			memcpy(box, mem, len);
			free(mem);
			mem = box;
			boxed = true;
		}
	}
	ropts.budget = budget;
	ropts.args[0] = p[0];
	ropts.args[1] = p[1];
	secs = calloc(repeat, sizeof(*secs));
	if (!secs) {
		fprintf(stderr, "csd: out of memory\n");
		err = -ENOMEM;
		goto out;
	}
	/*
	 * A program that keeps state in a map may answer differently each time: the first
	 * answer is the one reported.
	 */
	err = 0;
	for (uint64_t k = 0; k < repeat && !err; k++) {
		double t0 = now_seconds();

		err = csd_ebpf_prog__run(prog, mem, len, &ropts, k ? &later_r0 : &r0);
		secs[k] = now_seconds() - t0;
	}
	if (csd_ebpf_prog__log_read(prog, log, sizeof(log)))
		fprintf(stderr, "%s", log);
	if (err) {
		fprintf(stderr, "csd: run stopped: %s\n", ropts.fault.msg);
	} else if (quiet) {
		printf("%" PRIu64 "\n", r0);
	} else {
		printf("r0 = %" PRIu64 " (0x%" PRIx64 ")\n", r0, r0);
		if (ropts.engine == CSD_EBPF_ENGINE_INTERP || !csd_ebpf_jit_available())
			printf("instructions executed: %" PRIu64 "\n", ropts.insns_executed);
		else
			printf("engine: JIT%s\n", !csd_ebpf_prog__verified(prog) ? ", with checks" :
			       boxed ? ", verified (sandboxed: no checks)" :
			       ", verified (guarded: one check per access)");
		printf("input: %zu bytes in %.3f s (%.1f MB/s)%s\n", len, secs[0],
		       (double)len / 1e6 / (secs[0] > 0 ? secs[0] : 1e-9),
		       repeat > 1 ? ", the first run" : "");
		if (repeat > 1) {
			double med, best;

			qsort(secs + 1, repeat - 1, sizeof(*secs), cmp_seconds);
			med = secs[1 + (repeat - 2) / 2];
			best = secs[1];
			printf("warm: %" PRIu64 " more runs, median %.6f s (%.1f MB/s), best %.6f s "
			       "(%.1f MB/s)\n", repeat - 1, med,
			       (double)len / 1e6 / (med > 0 ? med : 1e-9), best,
			       (double)len / 1e6 / (best > 0 ? best : 1e-9));
		}
		if (generated)	/* a check for count_alpha and its like, a fact for the others */
			printf("generator's count of \"Alpha\": %" PRIu64 " -> %s\n", expected,
			       expected == r0 ? "match" : "not r0");
	}
out:
	free(secs);
	if (boxed)
		csd_ebpf_sandbox_free(mem);
	else
		free(mem);
	csd_ebpf_prog__free(prog);
	return err ? 1 : 0;
}

int cmd_gen(int argc, char **argv)
{
	uint64_t size = 0, seed = 1, rate = 5, count = 0;
	const char *out_path = NULL;
	struct csd_progress bar;
	struct csd_textgen g;
	uint8_t *chunk;
	FILE *out;
	int c;

	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 's':
			if (csd_parse_u64(optarg, &seed))
				goto usage;
			break;
		case 'r':
			if (csd_parse_u64(optarg, &rate) || rate > 1000)
				goto usage;
			break;
		case 'o': out_path = optarg; break;
		case 'h':
			printf("usage: csd gen [-s SEED] [-r PER_MILLE] [--json] -o FILE SIZE\n");
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || !out_path || csd_parse_size(argv[optind], &size))
		goto usage;
	out = fopen(out_path, "wb");
	chunk = malloc(1u << 20);
	if (!out || !chunk) {
		fprintf(stderr, "csd: %s: %s\n", out_path, strerror(errno));
		free(chunk);
		if (out)
			fclose(out);
		return 1;
	}
	csd_textgen_init(&g, seed, (uint32_t)rate);
	csd_progress_start(&bar, "writing text", size);
	for (uint64_t off = 0; off < size; off += 1u << 20) {
		size_t n = size - off < (1u << 20) ? (size_t)(size - off) : (1u << 20);

		count += csd_textgen_fill(&g, chunk, n);
		if (fwrite(chunk, 1, n, out) != n) {
			fprintf(stderr, "csd: %s: %s\n", out_path, strerror(errno));
			fclose(out);
			free(chunk);
			return 1;
		}
		csd_progress_update(&bar, off);
	}
	csd_progress_end(&bar);
	free(chunk);
	if (fclose(out)) {
		fprintf(stderr, "csd: %s: %s\n", out_path, strerror(errno));
		return 1;
	}
	if (json) {
		printf("{\"file\": ");
		print_json_string(out_path, strlen(out_path));
		printf(", \"bytes\": %" PRIu64 ", \"alpha\": %" PRIu64 "}\n", size, count);
	} else {
		printf("%" PRIu64 "\n", count);
	}
	return 0;
usage:
	fprintf(stderr, "usage: csd gen [-s SEED] [-r PER_MILLE] [--json] -o FILE SIZE\n");
	return 2;
}

int cmd_verify(int argc, char **argv)
{
	static const char usage[] =
		"usage: csd verify [-p PROGRAM] [-q] [-t MS] [--json] FILE\n"
		"  Proves the program safe to run without per-access checks, as a drive does\n"
		"  at activation: exit 0 and 'verified', or exit 1 and the instruction, the\n"
		"  path to it and the reason it was refused. -q prints nothing on success.\n"
		"  -t, --time-limit MS: give up after MS ms (default 2000, the drive's; 0: none)\n";
	static const struct option longopts[] = {
		{ "time-limit", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	struct csd_ebpf_prog *prog = NULL;
	CSD_EBPF_OPTS(csd_ebpf_verify_opts, opts, .time_limit_ms = CSD_EBPF_VERIFY_TIME_LIMIT_MS);
	char log[1024] = "";
	bool quiet = false, json = false;
	uint64_t ms;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:qt:h", longopts, NULL)) != -1) {
		if (c == 'p') {
			name = optarg;
			continue;
		}
		if (c == 'q') {
			quiet = true;
			continue;
		}
		if (c == 'j') {
			json = true;
			continue;
		}
		if (c == 't') {
			if (csd_parse_u64(optarg, &ms) || ms >= UINT32_MAX) {
				fprintf(stderr, "csd: --time-limit '%s' is not a number of ms\n", optarg);
				return 2;
			}
			opts.time_limit_ms = (uint32_t)ms;
			continue;
		}
		fprintf(c == 'h' ? stdout : stderr, "%s", usage);
		return c == 'h' ? 0 : 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (load_program(argv[optind], name, &prog))
		return 1;
	opts.log_buf = log;
	opts.log_size = sizeof(log);
	err = csd_ebpf_prog__verify(prog, &opts);
	if (json) {
		printf("{\"verified\": %s, \"steps\": %" PRIu64 ", \"ms\": %.3f, \"reason\": ",
		       err ? "false" : "true", opts.insns_analysed, (double)opts.ns / 1e6);
		print_json_string(err ? log : "", sizeof(log));
		printf("}\n");
	} else if (err)
		fprintf(stderr, "csd: %s: refused: %s\n", argv[optind], log);
	else if (!quiet)
		printf("%s: verified (%" PRIu64 " steps, %.3f ms)\n", argv[optind],
		       opts.insns_analysed, (double)opts.ns / 1e6);
	csd_ebpf_prog__free(prog);
	return err ? 1 : 0;
}
