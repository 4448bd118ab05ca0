/* SPDX-License-Identifier: MIT */
/* The differential oracle (oracle.h). */
#include <alloca.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "soundgen.h"
#include "../../src/ebpf/ebpf_internal.h"
#include "util/util.h"

#define MAX_LEN		(1u << 16)
#define MAX_LENGTHS	40
#define RUN_BUDGET	50000
#define COPIES		4

struct oracle {
	/*
	 * Inputs of the four copies of a program: two checked interpreter runs at other
	 * addresses, the verified JIT code over a sandbox (sandboxed) and over plain memory
	 * (guarded).
	 */
	uint8_t *buf[4];
	uint8_t *fill;
	uint8_t *random;	/* MAX_LEN + 4096 random bytes: contents are copied, not generated */
	char log[COPIES][EBPF_LOG_SIZE];
};

struct oracle *oracle_new(void)
{
	struct oracle *o = calloc(1, sizeof(*o));
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	if (!o)
		return NULL;
	o->buf[0] = malloc(MAX_LEN + 64);
	o->buf[1] = malloc(MAX_LEN + 4096 + 64);
	o->buf[2] = csd_ebpf_sandbox_alloc(MAX_LEN);
	o->buf[3] = malloc(MAX_LEN + 64);
	o->fill = malloc(MAX_LEN);
	o->random = malloc(MAX_LEN + 4096);
	if (!o->buf[0] || !o->buf[1] || !o->buf[2] || !o->buf[3] || !o->fill || !o->random) {
		oracle_free(o);
		return NULL;
	}
	for (size_t i = 0; i < MAX_LEN + 4096; i++)
		o->random[i] = (uint8_t)(csd_xorshift64(&rng) >> 29);
	return o;
}

void oracle_free(struct oracle *o)
{
	if (!o)
		return;
	free(o->buf[0]);
	free(o->buf[1]);
	csd_ebpf_sandbox_free(o->buf[2]);
	free(o->buf[3]);
	free(o->fill);
	free(o->random);
	free(o);
}

static int load(const struct csd_ebpf_insn *insns, size_t cnt, struct csd_ebpf_prog **prog,
		char *log, size_t log_size)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, opts, .log_buf = log, .log_size = log_size);
	size_t nmaps;
	struct ebpf_map *maps = soundgen_maps(&nmaps);
	int err;

	if (!maps)
		return -ENOMEM;
	/* the same global data in every copy */
	for (unsigned i = 0; i < 40; i++)
		maps[SOUNDGEN_MAP_DATA].values[i] = (uint8_t)(i * 7 + 1);
	for (unsigned i = 0; i < 16; i++)
		maps[SOUNDGEN_MAP_RODATA].values[i] = (uint8_t)(0xf0 - i);
	err = ebpf_prog_create(insns, cnt, maps, nmaps, &opts, prog);
	if (err) {
		for (size_t i = 0; i < nmaps; i++)
			ebpf_map_destroy(&maps[i]);
		free(maps);
	}
	return err;
}

static void add_len(size_t *lens, size_t *n, int64_t len)
{
	if (len < 0 || len > MAX_LEN || *n >= MAX_LENGTHS)
		return;
	for (size_t i = 0; i < *n; i++)
		if (lens[i] == (size_t)len)
			return;
	lens[(*n)++] = (size_t)len;
}

struct outcome {
	int err;
	uint64_t r0;
	enum csd_ebpf_fault_kind kind;
	char msg[256];
};

/* The run with the stack `depth` bytes further down, so that frame addresses differ. */
static __attribute__((noinline)) int run_at_depth(struct csd_ebpf_prog *prog, void *mem,
						 size_t len, struct csd_ebpf_run_opts *opts,
						 uint64_t *r0, size_t depth)
{
	volatile char *pad = alloca(depth + 1);

	pad[0] = 0;
	return csd_ebpf_prog__run(prog, mem, len, opts, r0);
}

static void run_one(struct csd_ebpf_prog *prog, void *mem, size_t len, const uint64_t args[3],
		    size_t depth, enum csd_ebpf_engine engine, struct outcome *out)
{
	CSD_EBPF_OPTS(csd_ebpf_run_opts, opts, .budget = RUN_BUDGET,
		      .force_checks = engine == CSD_EBPF_ENGINE_INTERP, .engine = engine,
		      .cpu_id = 1);

	memcpy(opts.args, args, sizeof(opts.args));
	out->r0 = 0;
	out->err = run_at_depth(prog, mem, len, &opts, &out->r0, depth);
	out->kind = opts.fault.kind;
	snprintf(out->msg, sizeof(out->msg), "%s", opts.fault.msg);
}

static bool maps_equal(const struct csd_ebpf_prog *a, const struct csd_ebpf_prog *b)
{
	for (size_t i = 0; i < a->map_cnt; i++) {
		const struct ebpf_map *ma = &a->maps[i], *mb = &b->maps[i];

		if (memcmp(ma->values, mb->values, (size_t)ma->max_entries * ma->value_size))
			return false;
		if (ma->keys && memcmp(ma->keys, mb->keys, (size_t)ma->max_entries * ma->key_size))
			return false;
	}
	return true;
}

enum oracle_verdict oracle_judge(struct oracle *o, const struct csd_ebpf_insn *insns, size_t cnt,
				 const int64_t *consts, size_t nconsts, uint64_t seed,
				 struct oracle_report *rep)
{
	static const int64_t base_lens[] = { 0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63,
					     64, 65, 127, 128, 129, 255, 256, 257, 512, 4096,
					     65536 };
	/* the interpreter checked (twice, at other addresses), the verified JIT code twice */
	static const enum csd_ebpf_engine engines[COPIES] = {
		CSD_EBPF_ENGINE_INTERP, CSD_EBPF_ENGINE_INTERP, CSD_EBPF_ENGINE_JIT,
		CSD_EBPF_ENGINE_JIT };
	static const size_t placement[COPIES] = { 8, 4096 + 3, 0, 24 };
	struct csd_ebpf_prog *prog[COPIES] = { NULL };
	CSD_EBPF_OPTS(csd_ebpf_verify_opts, vopts, .log_buf = rep->msg, .log_size = sizeof(rep->msg));
	size_t lens[MAX_LENGTHS], nlens = 0;
	uint64_t rng = seed * 0x2545f4914f6cdd1dull + 1;
	enum oracle_verdict v = ORACLE_SOUND;
	unsigned copies = csd_ebpf_jit_available() ? COPIES : 2;

	rep->msg[0] = 0;
	rep->len = 0;
	if (load(insns, cnt, &prog[0], rep->msg, sizeof(rep->msg)))
		return rep->verdict = ORACLE_NOT_LOADED;
	if (csd_ebpf_prog__verify(prog[0], &vopts)) {
		csd_ebpf_prog__free(prog[0]);
		return rep->verdict = ORACLE_REFUSED;
	}
	rep->msg[0] = 0;
	for (unsigned c = 1; c < copies; c++)
		if (load(insns, cnt, &prog[c], NULL, 0) || csd_ebpf_prog__verify(prog[c], NULL)) {
			v = ORACLE_NOT_LOADED;	/* the same program, the same verdict: not expected */
			snprintf(rep->msg, sizeof(rep->msg), "a second copy did not load or verify");
			goto out;
		}
	for (size_t i = 0; i < 12; i++)
		add_len(lens, &nlens, base_lens[i]);
	for (size_t i = 0; i < nconsts; i++)
		for (int64_t d = -1; d <= 1 && consts[i] >= -1 && consts[i] <= MAX_LEN; d++)
			add_len(lens, &nlens, consts[i] + d);
	for (size_t i = 12; i < sizeof(base_lens) / sizeof(base_lens[0]); i++)
		add_len(lens, &nlens, base_lens[i]);
	for (size_t li = 0; li < nlens && v == ORACLE_SOUND; li++) {
		size_t len = lens[li];
		uint8_t *mem[COPIES];
		uint64_t args[3];
		struct outcome out[COPIES];
		unsigned pattern = li % 4;
		bool budget = false;

		if (pattern == 1)
			memset(o->fill, 0xff, len);
		else if (pattern == 2)
			memset(o->fill, 0, len);
		else
			memcpy(o->fill, o->random + csd_xorshift64(&rng) % 4096, len);
		for (int k = 0; k < 3; k++)
			args[k] = li % 3 == 0 ? 0 : csd_xorshift64(&rng) >> (li % 5 * 12);
		for (unsigned c = 0; c < copies; c++) {
			mem[c] = o->buf[c] + placement[c];
			memcpy(mem[c], o->fill, len);
			/* verified JIT code has no budget: it runs only where the checked run ended */
			if (engines[c] == CSD_EBPF_ENGINE_JIT && budget) {
				out[c] = out[0];
				memcpy(mem[c], mem[0], len);
				continue;
			}
			run_one(prog[c], len ? mem[c] : NULL, len, args, c == 1 ? 1712 : 8,
				engines[c], &out[c]);
			csd_ebpf_prog__log_read(prog[c], o->log[c], sizeof(o->log[c]));
			budget |= out[c].kind == CSD_EBPF_FAULT_BUDGET;
		}
		for (unsigned c = 0; c < copies; c++)
			if (out[c].kind == CSD_EBPF_FAULT_MEMORY || out[c].kind == CSD_EBPF_FAULT_HELPER ||
			    out[c].kind == CSD_EBPF_FAULT_CALL_DEPTH) {
				v = ORACLE_FAULT;
				rep->len = len;
				snprintf(rep->msg, sizeof(rep->msg), "%s fault with %zu bytes of input: %s",
					 c < 2 ? "checked" : c == 2 ? "sandboxed JIT" : "guarded JIT",
					 len, out[c].msg);
				break;
			}
		if (budget)
			break;	/* a long loop: the JIT copies did not run it, their maps differ now */
		if (v != ORACLE_SOUND)
			break;
		for (unsigned c = 1; c < copies && v == ORACLE_SOUND; c++)
			if (out[0].err != out[c].err || out[0].r0 != out[c].r0 ||
			    memcmp(mem[0], mem[c], len) || !maps_equal(prog[0], prog[c]) ||
			    strcmp(o->log[0], o->log[c])) {
				v = c == 1 ? ORACLE_LEAK : ORACLE_ENGINES_DIFFER;
				rep->len = len;
				snprintf(rep->msg, sizeof(rep->msg), "with %zu bytes of input, %s: r0 "
					 "%#llx vs %#llx%s%s%s", len,
					 c == 1 ? "two copies at other addresses differ" :
					 c == 2 ? "sandboxed JIT code differs from the checked run" :
					 "guarded JIT code differs from the checked run",
					 (unsigned long long)out[0].r0, (unsigned long long)out[c].r0,
					 memcmp(mem[0], mem[c], len) ? ", input memory differs" : "",
					 !maps_equal(prog[0], prog[c]) ? ", map contents differ" : "",
					 strcmp(o->log[0], o->log[c]) ? ", device log differs" : "");
			}
	}
out:
	for (unsigned c = 0; c < COPIES; c++)
		csd_ebpf_prog__free(prog[c]);
	return rep->verdict = v;
}
