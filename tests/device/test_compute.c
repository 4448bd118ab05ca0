/* SPDX-License-Identifier: MIT */
/*
 * The compute and memory namespaces end to end: the Alpha offload through TP4091 commands
 * (Load Program in chunks, activation, Memory Copy NVM -> SLM, range sets, Execute), the
 * host-driven window loop against the drive's streaming Execute, parameters and output
 * ranges, built-in programs, faults, Abort, the time limit, and that reads keep flowing while a
 * program runs. argv[1] = count_alpha.bpf.o
 */
#include <errno.h>
#include <linux/bpf.h>
#include <nvme/types.h>
#include <pthread.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "csd/ebpf.h"
#include "csd/textgen.h"
#include "harness.h"
#include "util.h"

static const char *count_alpha_path, *window_number_path;

static uint8_t *generate(size_t len, uint64_t seed, uint64_t *count)
{
	struct csd_textgen g;
	uint8_t *buf = malloc(len);

	csd_textgen_init(&g, seed, 10);
	*count = csd_textgen_fill(&g, buf, len);
	return buf;
}

static void write_all(struct drive *d, const uint8_t *buf, size_t len)
{
	const uint32_t chunk = 256;	/* blocks of 512 bytes: 128 KiB */

	for (size_t lba = 0; lba < len / 512; lba += chunk)
		assert_int_equal(nvm_write(d, lba, chunk, buf + lba * 512, false).status, 0);
}

static void load_count_alpha(struct drive *d, uint16_t pind)
{
	uint8_t *obj;
	size_t len;

	assert_int_equal(csd_read_file(count_alpha_path, &obj, &len), 0);
	assert_int_equal(load_program(d, pind, CSD_PTYPE_EBPF_ELF, obj, (uint32_t)len, 4096).status, 0);
	assert_int_equal(activate(d, pind, true).status, 0);
	free(obj);
}

static struct result stream(struct drive *d, uint16_t pind, uint32_t cdw2_flags,
			    const struct csd_stream_range *sr, unsigned n, uint32_t window,
			    uint32_t overlap)
{
	struct csd_nvme_sqe c = { .opcode = CSD_IO_VENDOR_EXECUTE_STREAM, .nsid = CSD_NSID_COMPUTE,
				  .cdw2 = pind | cdw2_flags, .cdw3 = overlap,
				  .cdw14 = CSD_NSID_NVM, .cdw15 = window };

	return drive_cmd(d, 1, &c, (void *)sr, n * (uint32_t)sizeof(*sr));
}

static uint64_t parts_lent(struct drive *d)
{
	struct csd_vendor_stats st;

	csd_subsys_stats(d->subsys, &st);
	return st.stream_parts_lent;
}

static struct result mem_copy_from_nvm(struct drive *d, uint64_t dst, uint64_t slba,
				       uint32_t nlb)
{
	struct csd_copy_src_nvm src = { .nsid = CSD_NSID_NVM, .slba = slba, .nlb = nlb - 1 };
	struct csd_nvme_sqe c = { .opcode = CSD_IO_MEMORY_COPY, .nsid = CSD_NSID_SLM,
				  .cdw10 = (uint32_t)dst, .cdw11 = (uint32_t)(dst >> 32),
				  .cdw12 = (CSD_COPY_DESFMT_NVM << 8) | 0 };

	return drive_cmd(d, 1, &c, &src, sizeof(src));
}

static void test_offload_flow(void **state)
{
	const size_t len = 1u << 20;
	struct csd_program_entry progs[16];
	struct csd_vendor_stats stats;
	struct csd_mem_range r = { .nsid = CSD_NSID_SLM, .sb = 0, .len = len };
	uint64_t expected;
	uint8_t *text = generate(len, 3, &expected);
	struct drive d;
	struct result res;

	(void)state;
	drive_open(&d, 0, 0);
	write_all(&d, text, len);
	load_count_alpha(&d, 2);
	{
		struct csd_nvme_sqe c = { .opcode = nvme_admin_get_log_page,
					  .cdw10 = CSD_LOG_PROGRAM_LIST | ((sizeof(progs) / 4 - 1) << 16) };

		assert_int_equal(drive_cmd(&d, 0, &c, progs, sizeof(progs)).status, 0);
		assert_int_equal(progs[2].state, CSD_PROG_ACTIVE);
		assert_int_equal(progs[2].ptype, CSD_PTYPE_EBPF_ELF);
		assert_int_equal(progs[0].flags, CSD_PROG_FLAG_BUILTIN);
		assert_string_equal(progs[0].name, "count_byte");
		assert_int_equal(progs[5].state, CSD_PROG_EMPTY);
	}
	assert_int_equal(mem_copy_from_nvm(&d, 0, 0, len / 512).status, 0);
	res = range_set_create(&d, &r, 1);
	assert_int_equal(res.status, 0);
	assert_true(res.dw0 > 0);
	res = execute(&d, 2, (uint16_t)res.dw0, 0, 0, NULL, 0);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, expected);
	/* the same with an inline range over the second half */
	r.sb = len / 2;
	r.len = len / 2;
	res = execute(&d, 2, 0, 0, 0, &r, 1);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, csd_count_alpha(text + len / 2, len / 2));

	csd_subsys_stats(d.subsys, &stats);
	assert_int_equal(stats.internal_bytes_moved, len);
	assert_int_equal(stats.program_executions, 2);
	assert_int_equal(stats.program[2].executions, 2);
	assert_int_equal(stats.program[2].bytes_in, len + len / 2);
	/* instructions in the interpreter; the JIT's verified code counts nothing */
	if (d.cfg.engine == CSD_EBPF_ENGINE_INTERP)
		assert_true(stats.program_insns > len);
	else
		assert_int_equal(stats.program_insns, 0);
	assert_int_equal(stats.program_loads, 1);
	drive_close(&d, true);
	free(text);
}

/* The host-driven window loop and the drive's streaming Execute give the generator's count. */
static void test_windows_and_streaming_agree(void **state)
{
	const size_t len = 3u << 20, window = 256u << 10;
	uint64_t expected, host_total = 0;
	uint8_t *text = generate(len, 11, &expected);
	struct drive d;
	struct result res;

	(void)state;
	drive_open(&d, 0, 0);
	write_all(&d, text, len);
	load_count_alpha(&d, 4);
	for (size_t off = 0; off < len; off += window) {
		/* copy the window and the block before it; run from 4 bytes before the window */
		uint64_t first = off ? off / 512 - 1 : 0;
		uint32_t nlb = (uint32_t)((off + window) / 512 - first);
		struct csd_mem_range r = { .nsid = CSD_NSID_SLM, .sb = off ? 512 - 4 : 0,
					   .len = (uint32_t)(off ? window + 4 : window) };

		assert_int_equal(mem_copy_from_nvm(&d, 0, first, nlb).status, 0);
		res = execute(&d, 4, 0, 0, 0, &r, 1);
		assert_int_equal(res.status, 0);
		host_total += res.value;
	}
	assert_int_equal(host_total, expected);

	{
		struct csd_stream_range sr[2] = { { .slba = 0, .nlb = len / 512 / 2 - 1 },
						  { .slba = len / 512 / 2, .nlb = len / 512 / 2 - 1 } };
		struct csd_nvme_sqe c = { .opcode = CSD_IO_VENDOR_EXECUTE_STREAM,
					  .nsid = CSD_NSID_COMPUTE, .cdw2 = 4, .cdw3 = 4,
					  .cdw14 = CSD_NSID_NVM, .cdw15 = 64u << 10 };

		res = drive_cmd(&d, 2, &c, sr, sizeof(sr));
		assert_int_equal(res.status, 0);
		assert_int_equal(res.value, expected);
		/* without the overlap, the matches across window edges are lost */
		c.cdw3 = 0;
		res = drive_cmd(&d, 2, &c, sr, sizeof(sr));
		assert_int_equal(res.status, 0);
		assert_true(res.value < expected);
		/* a window that is not whole blocks, an overlap as large as the window */
		c.cdw15 = 1000;
		assert_int_equal(drive_cmd(&d, 2, &c, sr, sizeof(sr)).status, STATUS(0, 2) | DNR);
		c.cdw15 = 4096;
		c.cdw3 = 4096;
		assert_int_equal(drive_cmd(&d, 2, &c, sr, sizeof(sr)).status, STATUS(0, 2) | DNR);
		c.cdw3 = 4;
		c.cdw14 = CSD_NSID_SLM;		/* not an NVM namespace */
		assert_int_equal(drive_cmd(&d, 2, &c, sr, sizeof(sr)).status, STATUS(1, 0x88) | DNR);
		c.cdw14 = CSD_NSID_NVM;
		sr[1].slba = len / 512;		/* past the namespace end? no: inside 1 GiB; move far */
		sr[1].slba = (1ull << 30) / 512 - 10;
		assert_int_equal(drive_cmd(&d, 2, &c, sr, sizeof(sr)).status, STATUS(0, 0x80) | DNR);
	}
	drive_close(&d, true);
	free(text);
}

/* "Alpha" across every window edge, at every possible split: each counted exactly once. */
static void test_match_across_every_window_edge(void **state)
{
	const size_t window = 4096, len = 64 * window;
	uint8_t *text = malloc(len);
	uint64_t expected = 0;
	struct drive d;
	struct result res;

	(void)state;
	memset(text, '.', len);
	/* at edge k, the match starts 1..4 bytes before it, in turn: every way to cut "Alpha" */
	for (size_t k = 1; k < len / window; k++) {
		memcpy(text + k * window - 1 - (k % 4), "Alpha", 5);
		expected++;
	}
	assert_int_equal(csd_count_alpha(text, len), expected);
	drive_open(&d, 0, 0);
	write_all(&d, text, len);
	load_count_alpha(&d, 2);
	{
		struct csd_stream_range sr = { .slba = 0, .nlb = len / 512 - 1 };
		struct csd_nvme_sqe c = { .opcode = CSD_IO_VENDOR_EXECUTE_STREAM,
					  .nsid = CSD_NSID_COMPUTE, .cdw2 = 2, .cdw3 = 4,
					  .cdw14 = CSD_NSID_NVM, .cdw15 = (uint32_t)window };

		res = drive_cmd(&d, 2, &c, &sr, sizeof(sr));
		assert_int_equal(res.status, 0);
		assert_int_equal(res.value, expected);
	}
	{
		uint64_t total = 0;

		for (size_t off = 0; off < len; off += window) {
			uint64_t first = off ? off / 512 - 1 : 0;
			struct csd_mem_range r = { .nsid = CSD_NSID_SLM, .sb = off ? 512 - 4 : 0,
						   .len = (uint32_t)(off ? window + 4 : window) };

			assert_int_equal(mem_copy_from_nvm(&d, 0, first,
							   (uint32_t)((off + window) / 512 - first)).status, 0);
			res = execute(&d, 2, 0, 0, 0, &r, 1);
			assert_int_equal(res.status, 0);
			total += res.value;
		}
		assert_int_equal(total, expected);
	}
	drive_close(&d, true);
	free(text);
}

static void test_params_and_output(void **state)
{
	/* r0 = r3 + r4; write it to the first 8 bytes of the memory (if there are 8); return it */
	static const char *text = "mov %r0, %r3\nadd %r0, %r4\njlt %r2, 8, out\n"
				  "stxdw [%r1+0], %r0\nout:\nexit\n";
	struct csd_ebpf_insn *insns;
	struct csd_mem_range r[2] = { { .nsid = CSD_NSID_SLM, .sb = 4096, .len = 64 },
				      { .nsid = CSD_NSID_SLM, .sb = 64, .len = 64 } };
	char err[128];
	size_t cnt;
	uint64_t out = 0;
	struct drive d;
	struct result res;

	(void)state;
	assert_int_equal(csd_ebpf_asm(text, &insns, &cnt, err, sizeof(err)), 0);
	drive_open(&d, 0, 0);
	assert_int_equal(load_program(&d, 7, CSD_PTYPE_EBPF_RAW, insns, (uint32_t)(cnt * 8), 8).status, 0);
	assert_int_equal(activate(&d, 7, true).status, 0);
	res = execute(&d, 7, 0, 0x100000000ull, 0x23, r, 2);	/* two ranges, not contiguous */
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, 0x100000023ull);
	assert_int_equal(res.dw1, 1);
	/* written through the gathered region back into the first range */
	assert_int_equal(mem_read(&d, 4096, &out, 8).status, 0);
	assert_int_equal(out, 0x100000023ull);
	free(insns);
	drive_close(&d, true);
}

static void test_builtins(void **state)
{
	struct csd_mem_range r = { .nsid = CSD_NSID_SLM, .sb = 0, .len = 12 };
	struct drive d;

	(void)state;
	drive_open(&d, 0, 0);
	assert_int_equal(mem_write(&d, 0, "123456789aaa", 12).status, 0);
	assert_int_equal(execute(&d, 0, 0, 'a', 0, &r, 1).value, 3);	/* count_byte */
	r.len = 8;	/* "12345678" */
	assert_int_equal(execute(&d, 1, 0, 0, 0, &r, 1).value, 0x6087809a);	/* crc32c */
	/* built-ins are not downloadable and always active */
	assert_int_equal(load_program(&d, 1, CSD_PTYPE_EBPF_RAW, "12345678", 8, 8).status,
			 STATUS(1, 0x9a) | DNR);
	assert_int_equal(activate(&d, 0, false).status, STATUS(1, 0x9a) | DNR);
	drive_close(&d, true);
}

static void reasons(struct drive *d, char *buf)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_get_log_page,
				  .cdw10 = CSD_LOG_VENDOR_REASONS | ((2048 / 4 - 1) << 16) };

	assert_int_equal(drive_cmd(d, 0, &c, buf, 2048).status, 0);
}

static void test_refused_and_faulting_programs(void **state)
{
	struct csd_mem_range r = { .nsid = CSD_NSID_SLM, .sb = 0, .len = 16 };
	struct nvme_error_log_page err;
	char why[2048];
	struct drive d;
	struct result res;

	(void)state;
	drive_open(&d, 0, 0);
	/* activation checks the program: Invalid Program Data, the reason in log C1h */
	assert_int_equal(load_program(&d, 3, CSD_PTYPE_EBPF_RAW,
				      "\xff\0\0\0\0\0\0\0\x95\0\0\0\0\0\0\0", 16, 16).status, 0);
	assert_int_equal(activate(&d, 3, true).status, STATUS(1, 0x8e) | DNR);
	reasons(&d, why);
	assert_non_null(strstr(why, "program 3 refused: instruction 0 (.8byte"));
	{
		struct csd_nvme_sqe c = { .opcode = nvme_admin_get_log_page,
					  .cdw10 = 1 | ((64 / 4 - 1) << 16) };

		assert_int_equal(drive_cmd(&d, 0, &c, &err, 64).status, 0);
		assert_int_equal(err.vs, CSD_LOG_VENDOR_REASONS);
	}
	/* an ELF that is not one */
	assert_int_equal(load_program(&d, 4, CSD_PTYPE_EBPF_ELF, "not an elf", 10, 10).status, 0);
	assert_int_equal(activate(&d, 4, true).status, STATUS(1, 0x8e) | DNR);
	reasons(&d, why);
	assert_non_null(strstr(why, "program 4 refused: not an ELF object"));

	/* the verifier refuses a program that reads past its memory, saying where and why */
	assert_int_equal(load_asm(&d, 5, "mov %r0, 0\nldxb %r0, [%r1+16]\nexit\n"),
			 STATUS(1, 0x8e) | DNR);
	reasons(&d, why);
	assert_non_null(strstr(why, "program 5 refused: pc 1 (ldxb %r0, [%r1+16]): 1-byte read at "
			       "r1+16"));
	/* a drive told to run unverified programs: the run's own check stops it instead */
	d.cfg.allow_unverified = true;
	drive_restart(&d);
	/* a run that reads past its memory: the vendor fault status, pc in DW0 */
	assert_int_equal(load_asm(&d, 5, "mov %r0, 0\nldxb %r0, [%r1+16]\nexit\n"), 0);
	res = execute(&d, 5, 0, 0, 0, &r, 1);
	assert_int_equal(res.status, STATUS(1, 0xc0) | DNR);
	assert_int_equal(res.dw0, 1);
	assert_int_equal(res.dw1, CSD_EBPF_FAULT_MEMORY);
	reasons(&d, why);
	assert_non_null(strstr(why, "program 5 stopped: pc 1 (ldxb %r0, [%r1+16]): 1-byte read"));
	/* still usable afterwards */
	r.len = 32;
	assert_int_equal(execute(&d, 5, 0, 0, 0, &r, 1).status, 0);
	drive_close(&d, true);
}

/* the spinning program is loaded into slot 6 */
static void submit_spin(struct drive *d, struct async *a, uint16_t cid)
{
	submit_execute_async(d, a, 6, cid);
}

static void test_abort_and_io_during_a_run(void **state)
{
	struct async a;
	uint8_t block[512];
	struct drive d;
	struct result res;

	(void)state;
	drive_open(&d, 0, 0);
	d.cfg.exec_budget = UINT64_MAX;
	d.cfg.allow_unverified = true;	/* the spinning program has no bound, on purpose */
	drive_restart(&d);
	assert_int_equal(load_asm(&d, 6, "mov %r0, 0\nloop:\nadd %r0, 1\nja loop\nexit\n"), 0);
	submit_spin(&d, &a, 7000);
	/* reads and writes keep flowing while the program spins on an engine thread */
	for (int i = 0; i < 200; i++) {
		memset(block, i, sizeof(block));
		assert_int_equal(nvm_write(&d, (uint64_t)i, 1, block, false).status, 0);
		assert_int_equal(nvm_read(&d, (uint64_t)i, 1, block).status, 0);
		assert_int_equal(block[511], (uint8_t)i);
	}
	assert_false(a.done);
	/* deactivation or unload while it runs: Program In Use */
	assert_int_equal(activate(&d, 6, false).status, STATUS(1, 0x99) | DNR);
	{
		struct csd_nvme_sqe c = { .opcode = nvme_admin_abort_cmd, .cdw10 = 2 | (7000u << 16) };

		res = drive_cmd(&d, 0, &c, NULL, 0);
		assert_int_equal(res.status, 0);
		assert_int_equal(res.dw0, 0);	/* aborted */
		while (!a.done)
			usleep(1000);
		assert_int_equal(a.req.rsp.status >> 1, STATUS(0, 7));
		/* nothing left to abort */
		assert_int_equal(drive_cmd(&d, 0, &c, NULL, 0).dw0, 1);
	}
	assert_int_equal(activate(&d, 6, false).status, 0);
	drive_close(&d, true);
}

static void test_time_limit(void **state)
{
	struct drive d;
	struct result res;
	char why[2048];

	(void)state;
	drive_open(&d, 0, 0);
	d.cfg.exec_budget = UINT64_MAX;
	d.cfg.allow_unverified = true;	/* the spinning program has no bound, on purpose */
	d.cfg.exec_time_ms = 50;
	drive_restart(&d);
	assert_int_equal(load_asm(&d, 6, "mov %r0, 0\nloop:\nadd %r0, 1\nja loop\nexit\n"), 0);
	res = execute(&d, 6, 0, 0, 0, NULL, 0);
	assert_int_equal(res.status, STATUS(1, 0xc0) | DNR);
	assert_int_equal(res.dw1, CSD_EBPF_FAULT_ABORTED);
	reasons(&d, why);
	assert_non_null(strstr(why, "program 6 stopped: time limit reached"));
	/* and the budget */
	d.cfg.exec_time_ms = 0;
	d.cfg.exec_budget = 1000;
	drive_restart(&d);
	assert_int_equal(load_asm(&d, 6, "mov %r0, 0\nloop:\nadd %r0, 1\nja loop\nexit\n"), 0);
	res = execute(&d, 6, 0, 0, 0, NULL, 0);
	assert_int_equal(res.dw1, CSD_EBPF_FAULT_BUDGET);
	drive_close(&d, true);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Issue 17: a worst-case program (30,000 diamonds, 480 KB; 18 s of verification before the
 * time limit) is verified on the verifier's thread under its time limit, refused naming it,
 * and another host's reads meanwhile are as fast as ever.
 */
static void test_verification_holds_up_no_one(void **state)
{
	const size_t n = 30000;
	struct csd_ebpf_insn *insns = calloc(2 * n + 2, sizeof(*insns));
	struct csd_nvme_sqe act = { .opcode = CSD_ADMIN_PROGRAM_ACTIVATION,
				    .nsid = CSD_NSID_COMPUTE, .cdw10 = 5 | 1u << 16 };
	struct drive d, other;
	struct async a;
	uint8_t block[512];
	size_t cnt = 0, max_lat = 1u << 22;
	double t0, worst = 0, start, *lat = malloc(max_lat * sizeof(*lat));
	unsigned reads = 0;
	char why[2048];

	(void)state;
	assert_non_null(insns);
	assert_non_null(lat);
	insns[cnt++] = (struct csd_ebpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K };
	for (size_t k = 1; k <= n; k++) {
		insns[cnt++] = (struct csd_ebpf_insn){ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 3,
						       .off = 1, .imm = (int32_t)k };
		insns[cnt++] = (struct csd_ebpf_insn){ .code = BPF_ALU64 | BPF_ADD | BPF_K, .imm = 1 };
	}
	insns[cnt++] = (struct csd_ebpf_insn){ .code = BPF_JMP | BPF_EXIT };
	drive_open(&d, 0, 0);
	d.cfg.verify_time_limit_ms = 1000;
	drive_restart(&d);
	drive_add_host(&d, &other, "nqn.2014-08.org.nvmexpress:uuid:bystander");
	assert_int_equal(load_program(&d, 5, CSD_PTYPE_EBPF_RAW, insns, (uint32_t)(cnt * 8),
				      65536).status, 0);
	start = now_ms();
	drive_submit_async(&d, &a, 0, &act, NULL, 0);
	while (!a.done) {
		t0 = now_ms();
		assert_int_equal(nvm_read(&other, (uint64_t)reads % 64, 1, block).status, 0);
		t0 = now_ms() - t0;
		worst = t0 > worst ? t0 : worst;
		if (reads < max_lat)
			lat[reads] = t0;
		reads++;
	}
	qsort(lat, reads < max_lat ? reads : max_lat, sizeof(*lat), cmp_double);
	print_message("# verification %.0f ms; %u reads of another host meanwhile: p99 %.3f ms, "
		      "the slowest %.2f ms\n", now_ms() - start, reads,
		      lat[(size_t)((reads < max_lat ? reads : max_lat) * 0.99)], worst);
	free(lat);
	assert_true(reads > 50);
	assert_true(worst < 100);
	assert_int_equal(a.req.rsp.status >> 1, STATUS(1, 0x8e) | DNR);	/* Invalid Program Data */
	reasons(&d, why);
	if (!strstr(why, "time limit of 1000 ms"))
		fail_msg("the reason: %s", why);
	/* the slot is free again */
	assert_int_equal(activate(&d, 5, true).status, STATUS(1, 0x8e) | DNR);
	drive_close_host(&other);
	drive_close(&d, true);
	free(insns);
}

/*
 * Issue 17: host A floods the engines with endless programs (three on two engines, no time
 * limit); host B's Execute still completes at once: with two hosts connected each may hold
 * at most half of the engines. (Before: A held both, and B waited for ever.)
 */
static void test_one_host_cannot_starve_another(void **state)
{
	struct async spin[3];
	struct drive d, b;
	struct result res;
	double t0;

	(void)state;
	drive_open(&d, 0, 0);
	d.cfg.exec_budget = UINT64_MAX;
	d.cfg.allow_unverified = true;	/* the spinning program has no bound, on purpose */
	d.cfg.exec_time_ms = 0;
	drive_restart(&d);
	drive_add_host(&d, &b, "nqn.2014-08.org.nvmexpress:uuid:host-b");
	assert_int_equal(load_asm(&d, 6, "mov %r0, 0\nloop:\nadd %r0, 1\nja loop\nexit\n"), 0);
	assert_int_equal(load_asm(&b, 7, "mov %r0, 42\nexit\n"), 0);
	for (int i = 0; i < 3; i++)
		submit_execute_async(&d, &spin[i], 6, (uint16_t)(100 + i));
	usleep(50000);
	t0 = now_ms();
	res = execute(&b, 7, 0, 0, 0, NULL, 0);
	t0 = now_ms() - t0;
	print_message("# host B's Execute while host A floods the engines: %.1f ms\n", t0);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, 42);
	assert_true(t0 < 500);
	for (int i = 0; i < 3; i++)
		assert_false(spin[i].done);
	drive_close_host(&b);
	drive_close(&d, true);		/* A's runs end as aborted */
	for (int i = 0; i < 3; i++)
		assert_true(spin[i].done);
}

static void test_controller_gone_while_running(void **state)
{
	struct async a;
	struct drive d;

	(void)state;
	drive_open(&d, 0, 0);
	d.cfg.exec_budget = UINT64_MAX;
	d.cfg.allow_unverified = true;	/* the spinning program has no bound, on purpose */
	drive_restart(&d);
	assert_int_equal(load_asm(&d, 6, "mov %r0, 0\nloop:\nadd %r0, 1\nja loop\nexit\n"), 0);
	submit_spin(&d, &a, 1);
	usleep(20000);
	csd_ctrl_destroy(d.ctrl);	/* returns only when the run has completed */
	assert_true(a.done);
	assert_int_equal(a.req.rsp.status >> 1, STATUS(0, 7));
	csd_subsys_destroy(d.subsys);
	unlink(d.path);
}

/* Several Executes of one program at once, on several engine threads: each gets its answer. */
static void test_concurrent_executions(void **state)
{
	const size_t len = 4u << 20, part = len / 4;
	uint64_t expected;
	uint8_t *text = generate(len, 5, &expected);
	struct async a[4];
	struct csd_mem_range r[4];
	struct drive d;

	(void)state;
	drive_open(&d, 0, 0);
	d.cfg.engine_threads = 3;
	drive_restart(&d);
	assert_int_equal(mem_write(&d, 0, text, 1u << 20).status, 0);
	for (size_t off = 1u << 20; off < len; off += 1u << 20)
		assert_int_equal(mem_write(&d, off, text + off, 1u << 20).status, 0);
	load_count_alpha(&d, 2);
	for (int i = 0; i < 4; i++) {
		struct csd_nvme_sqe c = { .opcode = CSD_IO_EXECUTE_PROGRAM,
					  .nsid = CSD_NSID_COMPUTE, .cid = (uint16_t)(50 + i),
					  .cdw2 = 2, .cdw3 = 1 };

		r[i] = (struct csd_mem_range){ .nsid = CSD_NSID_SLM, .sb = i * part, .len = part };
		drive_submit_async(&d, &a[i], (uint16_t)(1 + i % 2), &c, &r[i], sizeof(r[i]));
	}
	for (int i = 0; i < 4; i++) {
		uint64_t got;

		while (!a[i].done)
			usleep(1000);
		got = a[i].req.rsp.dw0 | ((uint64_t)a[i].req.rsp.dw1 << 32);
		assert_int_equal(a[i].req.rsp.status, 0);
		assert_int_equal(got, csd_count_alpha(text + i * part, part));
	}
	drive_close(&d, true);
	free(text);
}


/*
 * A stream cut into parts on idle engine threads gives exactly what one thread gives, for
 * every window and overlap (up to over a block, so the part's lead-in spans two blocks), and
 * for ranges apart, short and shorter than the overlap (no cut may follow those); min and max
 * too; and a program with state of its own is never cut.
 */
static void test_stream_parts_agree_with_one_engine(void **state)
{
	const size_t len = 4u << 20;
	const uint32_t windows[] = { 4096, 64u << 10, 1u << 20 };
	const uint32_t overlaps[] = { 0, 4, 511, 600 };
	const struct csd_stream_range apart[] = {
		{ .slba = 100, .nlb = 2999 }, { .slba = 5000, .nlb = 0 },
		{ .slba = 20, .nlb = 1 }, { .slba = 4001, .nlb = 2047 }, { .slba = 7000, .nlb = 0 },
		{ .slba = 6000, .nlb = 1200 },
	};
	const struct csd_stream_range whole = { .slba = 0, .nlb = len / 512 - 1 };
	uint64_t expected, lent;
	uint8_t *text = generate(len, 5, &expected);
	struct drive d;
	struct result one, many;

	(void)state;
	/* a match across every block edge: every cut has one to lose or count twice */
	for (size_t k = 1; k < len / 512; k++)
		memcpy(text + k * 512 - 1 - (k % 4), "Alpha", 5);
	expected = csd_count_alpha(text, len);
	drive_open(&d, 0, 0);
	d.cfg.engine_threads = 4;
	drive_restart(&d);
	write_all(&d, text, len);
	load_count_alpha(&d, 2);
	/*
	 * Four threads idle: four parts, three of them lent, unless this thread ran them all
	 * before the others woke up (a loaded machine): some are lent within a few tries.
	 */
	lent = parts_lent(&d);
	for (int i = 0; i < 50 && parts_lent(&d) == lent; i++) {
		many = stream(&d, 2, 0, &whole, 1, 64u << 10, 4);
		assert_int_equal(many.status, 0);
		assert_int_equal(many.value, expected);
	}
	assert_true(parts_lent(&d) > lent);
	for (unsigned w = 0; w < 3; w++) {
		for (unsigned o = 0; o < 4; o++) {
			for (unsigned set = 0; set < 2; set++) {
				const struct csd_stream_range *sr = set ? apart : &whole;
				unsigned n = set ? 6 : 1;

				if (overlaps[o] >= windows[w])
					continue;
				one = stream(&d, 2, CSD_STREAM_SEQUENTIAL, sr, n, windows[w], overlaps[o]);
				many = stream(&d, 2, 0, sr, n, windows[w], overlaps[o]);
				assert_int_equal(one.status, 0);
				assert_int_equal(many.status, 0);
				assert_int_equal(many.value, one.value);
				/* (a longer overlap counts the matches inside it twice, in both) */
				if (!set && overlaps[o] == 4)
					assert_int_equal(one.value, expected);
			}
		}
	}
	/* min and max over windows without overlap: each window counted on its own */
	{
		const uint32_t window = 64u << 10;
		uint64_t lo = UINT64_MAX, hi = 0;

		for (size_t off = 0; off < len; off += window) {
			uint64_t n = csd_count_alpha(text + off, window);

			lo = n < lo ? n : lo;
			hi = n > hi ? n : hi;
		}
		assert_true(lo < hi);
		for (uint32_t seq = 0; seq <= CSD_STREAM_SEQUENTIAL; seq += CSD_STREAM_SEQUENTIAL) {
			many = stream(&d, 2, seq | CSD_STREAM_MIN << 16, &whole, 1, window, 0);
			assert_int_equal(many.status, 0);
			assert_int_equal(many.value, lo);
			many = stream(&d, 2, seq | CSD_STREAM_MAX << 16, &whole, 1, window, 0);
			assert_int_equal(many.status, 0);
			assert_int_equal(many.value, hi);
		}
	}
	/* no such combination; reserved bits */
	assert_int_equal(stream(&d, 2, 3u << 16, &whole, 1, 0, 4).status, STATUS(0, 2) | DNR);
	assert_int_equal(stream(&d, 2, 1u << 21, &whole, 1, 0, 4).status, STATUS(0, 2) | DNR);
	/* a program with a global it writes: its windows run one after another, never lent
	 * (the global lives on from one Execute to the next) */
	{
		uint8_t *obj;
		size_t objlen;
		uint64_t n = len / (64u << 10);

		assert_int_equal(csd_read_file(window_number_path, &obj, &objlen), 0);
		assert_int_equal(load_program(&d, 3, CSD_PTYPE_EBPF_ELF, obj, (uint32_t)objlen,
					      4096).status, 0);
		assert_int_equal(activate(&d, 3, true).status, 0);
		free(obj);
		lent = parts_lent(&d);
		for (uint64_t i = 0; i < 5; i++) {
			uint64_t want = 0;

			for (uint64_t k = 1; k <= n; k++)
				want += (i * n + k) * text[k * (64u << 10) - 1];
			many = stream(&d, 3, 0, &whole, 1, 64u << 10, 0);
			assert_int_equal(many.status, 0);
			assert_int_equal(many.value, want);
		}
		assert_int_equal(parts_lent(&d), lent);
	}
	drive_close(&d, true);
	free(text);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offload_flow),
		cmocka_unit_test(test_windows_and_streaming_agree),
		cmocka_unit_test(test_match_across_every_window_edge),
		cmocka_unit_test(test_stream_parts_agree_with_one_engine),
		cmocka_unit_test(test_params_and_output),
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_refused_and_faulting_programs),
		cmocka_unit_test(test_abort_and_io_during_a_run),
		cmocka_unit_test(test_time_limit),
		cmocka_unit_test(test_verification_holds_up_no_one),
		cmocka_unit_test(test_one_host_cannot_starve_another),
		cmocka_unit_test(test_controller_gone_while_running),
		cmocka_unit_test(test_concurrent_executions),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s count_alpha.bpf.o window_number.bpf.o\n", argv[0]);
		return 2;
	}
	count_alpha_path = argv[1];
	window_number_path = argv[2];
	return cmocka_run_group_tests_name("device-compute", tests, NULL, NULL);
}
