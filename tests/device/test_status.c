/* SPDX-License-Identifier: MIT */
/*
 * Every malformed command gets the exact status of ../shared/spec/tp4091.md's table (or the
 * generic one the NVMe base spec names). A drive is prepared with: slot 2 active, slot 3 loaded
 * but not active, slot 4 empty, range set `rsid` over SLM [0, 4096).
 */
#include <nvme/types.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "csd/ebpf.h"

#include "harness.h"

#define SC(sct, sc)	(STATUS(sct, sc) | DNR)
#define ADMIN		0
#define IO		2
#define RANGE(ns_, sb_, len_)	{ .nsid = (ns_), .sb = (sb_), .len = (len_) }

static const uint8_t ret1[16] = { 0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95 };	/* mov r0, 1; exit */

struct status_case {
	const char *what;
	uint16_t qid;
	struct csd_nvme_sqe cmd;
	struct csd_mem_range ranges[3];
	uint32_t nranges;	/* data: that many ranges */
	uint32_t raw_len;	/* or: that many bytes of ret1 (repeated) */
	uint16_t status;
};

#define LOAD(pind, ptype, psize, numb, loff) \
	{ .opcode = CSD_ADMIN_LOAD_PROGRAM, .nsid = CSD_NSID_COMPUTE, \
	  .cdw10 = (pind) | ((uint32_t)(ptype) << 16), .cdw11 = (psize), .cdw14 = (numb), .cdw15 = (loff) }
#define ACT(pind, sel) \
	{ .opcode = CSD_ADMIN_PROGRAM_ACTIVATION, .nsid = CSD_NSID_COMPUTE, \
	  .cdw10 = (pind) | ((uint32_t)(sel) << 16) }
#define MRS(sel, rsid, numr) \
	{ .opcode = CSD_ADMIN_MEMORY_RANGE_SET, .nsid = CSD_NSID_COMPUTE, \
	  .cdw10 = (sel) | ((uint32_t)(rsid) << 16), .cdw11 = (numr) }
#define EXEC(pind, rsid, numr) \
	{ .opcode = CSD_IO_EXECUTE_PROGRAM, .nsid = CSD_NSID_COMPUTE, \
	  .cdw2 = (pind) | ((uint32_t)(rsid) << 16), .cdw3 = (numr) }

static const struct status_case cases[] = {
	/* Load Program */
	{ "load: index past the slots", ADMIN, LOAD(16, 0xc1, 16, 16, 0), {}, 0, 16, SC(1, 0x8f) },
	{ "load: a built-in's index", ADMIN, LOAD(0, 0xc1, 16, 16, 0), {}, 0, 16, SC(1, 0x9a) },
	{ "load: unknown program type", ADMIN, LOAD(5, 0x05, 16, 16, 0), {}, 0, 16, SC(1, 0x90) },
	{ "load: bigger than the drive takes", ADMIN, LOAD(5, 0xc1, (1u << 20) + 8, 16, 0), {}, 0,
	  16, SC(1, 0x9b) },
	{ "load: empty chunk", ADMIN, LOAD(5, 0xc1, 16, 0, 0), {}, 0, 0, SC(0, 2) },
	{ "load: chunk past PSIZE", ADMIN, LOAD(5, 0xc1, 16, 16, 8), {}, 0, 16, SC(0, 2) },
	{ "load: chunk out of order", ADMIN, LOAD(5, 0xc1, 32, 16, 16), {}, 0, 16, SC(0, 2) },
	{ "load: over an active program", ADMIN, LOAD(2, 0xc1, 16, 16, 0), {}, 0, 16, SC(1, 0x99) },
	{ "load: NUMB and the data disagree", ADMIN, LOAD(5, 0xc1, 16, 16, 0), {}, 0, 8, SC(0, 0xf) },
	{ "load: PIT 3", ADMIN, { .opcode = CSD_ADMIN_LOAD_PROGRAM, .nsid = CSD_NSID_COMPUTE,
				  .cdw10 = 5 | (0xc1 << 16) | (3u << 25), .cdw11 = 16, .cdw14 = 16 },
	  {}, 0, 16, SC(0, 2) },
	{ "load: on the NVM namespace", ADMIN, { .opcode = CSD_ADMIN_LOAD_PROGRAM, .nsid = 1,
						 .cdw10 = 5 | (0xc1 << 16), .cdw11 = 16, .cdw14 = 16 },
	  {}, 0, 16, SC(0, 0xb) },
	{ "unload: an active program", ADMIN, { .opcode = CSD_ADMIN_LOAD_PROGRAM,
						 .nsid = CSD_NSID_COMPUTE, .cdw10 = 2 | (1u << 24) },
	  {}, 0, 0, SC(1, 0x99) },
	{ "unload: an empty slot", ADMIN, { .opcode = CSD_ADMIN_LOAD_PROGRAM,
					    .nsid = CSD_NSID_COMPUTE, .cdw10 = 4 | (1u << 24) },
	  {}, 0, 0, SC(1, 0x96) },
	/* Program Activation Management */
	{ "activate: an empty slot", ADMIN, ACT(4, 1), {}, 0, 0, SC(1, 0x96) },
	{ "deactivate: not active", ADMIN, ACT(3, 0), {}, 0, 0, SC(1, 0x98) },
	{ "activate: SEL 5", ADMIN, ACT(3, 5), {}, 0, 0, SC(0, 2) },
	{ "activate: index past the slots", ADMIN, ACT(99, 1), {}, 0, 0, SC(1, 0x8f) },
	/* Memory Range Set Management */
	{ "range set: no ranges", ADMIN, MRS(0, 0, 0), {}, 0, 0, SC(0, 2) },
	{ "range set: 17 ranges", ADMIN, MRS(0, 0, 17), {}, 0, 0, SC(1, 0x91) },
	{ "range set: NVM namespace", ADMIN, MRS(0, 0, 1), { RANGE(1, 0, 64) }, 1, 0, SC(1, 0x8b) },
	{ "range set: past the memory", ADMIN, MRS(0, 0, 1), { RANGE(2, (16u << 20) - 32, 64) }, 1,
	  0, SC(1, 0x8c) },
	{ "range set: length not dwords", ADMIN, MRS(0, 0, 1), { RANGE(2, 0, 3) }, 1, 0, SC(1, 0x8c) },
	{ "range set: overlapping", ADMIN, MRS(0, 0, 2), { RANGE(2, 0, 64), RANGE(2, 60, 8) }, 2, 0,
	  SC(1, 0x97) },
	{ "range set: delete unknown", ADMIN, MRS(1, 999, 0), {}, 0, 0, SC(1, 0x8d) },
	{ "range set: SEL 3", ADMIN, MRS(3, 0, 1), {}, 0, 0, SC(0, 2) },
	{ "range set: on the NVM namespace", ADMIN, { .opcode = CSD_ADMIN_MEMORY_RANGE_SET,
						      .nsid = 1, .cdw11 = 1 },
	  { RANGE(2, 0, 64) }, 1, 0, SC(0, 0xb) },
	/* Execute Program */
	{ "execute: index past the slots", IO, EXEC(16, 0, 0), {}, 0, 0, SC(1, 0x8f) },
	{ "execute: empty slot", IO, EXEC(4, 0, 0), {}, 0, 0, SC(1, 0x96) },
	{ "execute: not active", IO, EXEC(3, 0, 0), {}, 0, 0, SC(1, 0x98) },
	{ "execute: unknown range set", IO, EXEC(2, 999, 0), {}, 0, 0, SC(1, 0x8d) },
	{ "execute: range set and inline ranges", IO, EXEC(2, 1, 1), { RANGE(2, 0, 64) }, 1, 0,
	  SC(0, 2) },
	{ "execute: 17 inline ranges", IO, EXEC(2, 0, 17), {}, 0, 0, SC(1, 0x91) },
	{ "execute: overlapping inline ranges", IO, EXEC(2, 0, 2),
	  { RANGE(2, 0, 64), RANGE(2, 32, 64) }, 2, 0, SC(1, 0x97) },
	{ "execute: inline range past the memory", IO, EXEC(2, 0, 1),
	  { RANGE(2, 16u << 20, 4) }, 1, 0, SC(1, 0x8c) },
	{ "execute: NUMR and the data disagree", IO, EXEC(2, 0, 2), { RANGE(2, 0, 64) }, 1, 0,
	  SC(0, 0xf) },
	{ "compute: unknown I/O opcode", IO, { .opcode = 0x7c, .nsid = CSD_NSID_COMPUTE }, {}, 0, 0,
	  SC(0, 1) },
	/* NVM and memory */
	{ "read: more than MDTS", IO, { .opcode = nvme_cmd_read, .nsid = 1, .cdw12 = 4095 }, {}, 0,
	  0, SC(0, 2) },
	{ "copy: descriptor format 1", IO, { .opcode = nvme_cmd_copy, .nsid = 1, .cdw12 = 1 << 8 },
	  {}, 0, 0, SC(0, 2) },
	{ "nvm: unknown opcode", IO, { .opcode = 0x7e, .nsid = 1 }, {}, 0, 0, SC(0, 1) },
	{ "memory: unknown opcode", IO, { .opcode = 0x7d, .nsid = 2 }, {}, 0, 0, SC(0, 1) },
	{ "admin: unknown opcode", ADMIN, { .opcode = 0xfe }, {}, 0, 0, SC(0, 1) },
};

static void prepare(struct drive *d)
{
	struct csd_mem_range r = RANGE(2, 0, 4096);

	drive_open(d, 0, 0);
	assert_int_equal(load_program(d, 2, CSD_PTYPE_EBPF_RAW, ret1, 16, 16).status, 0);
	assert_int_equal(activate(d, 2, true).status, 0);
	assert_int_equal(load_program(d, 3, CSD_PTYPE_EBPF_RAW, ret1, 16, 16).status, 0);
	assert_int_equal(range_set_create(d, &r, 1).dw0, 1);
}

static void test_status_table(void **state)
{
	uint8_t data[2048];
	struct drive d;

	(void)state;
	prepare(&d);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct status_case *c = &cases[i];
		struct csd_nvme_sqe cmd = c->cmd;
		uint32_t len = c->nranges ? c->nranges * 32 : c->raw_len;
		struct result r;

		if (c->nranges)
			memcpy(data, c->ranges, len);
		else
			for (uint32_t k = 0; k < len; k++)
				data[k] = ret1[k % 16];
		r = drive_cmd(&d, c->qid, &cmd, len ? data : NULL, len);
		print_message("# %-40s -> %s\n", c->what, csd_nvme_status_str(r.status));
		if (r.status != c->status)
			fail_msg("%s: status 0x%04x (%s), expected 0x%04x (%s)", c->what, r.status,
				 csd_nvme_status_str(r.status), c->status,
				 csd_nvme_status_str(c->status));
	}
	/* the drive still works after all of that */
	assert_int_equal(execute(&d, 2, 1, 0, 0, NULL, 0).value, 1);
	drive_close(&d, true);
}

static struct csd_req spinning;
static volatile bool spin_finished;

static void spin_done(struct csd_req *req)
{
	(void)req;
	spin_finished = true;
}

static void test_limits(void **state)
{
	struct csd_mem_range r = RANGE(2, 0, 64);
	struct drive d;
	unsigned active = 1, sets = 1;	/* slot 2 and range set 1 from prepare() */
	struct result res;

	(void)state;
	prepare(&d);
	/* Maximum Programs Activated after 8 */
	for (uint16_t pind = 5; pind < 16; pind++) {
		assert_int_equal(load_program(&d, pind, CSD_PTYPE_EBPF_RAW, ret1, 16, 16).status, 0);
		res = activate(&d, pind, true);
		if (active < 8) {
			assert_int_equal(res.status, 0);
			active++;
		} else {
			assert_int_equal(res.status, SC(1, 0x93));
		}
	}
	/* Maximum Memory Range Sets Exceeded after 64 */
	for (unsigned i = 0; i < 70; i++) {
		res = range_set_create(&d, &r, 1);
		if (sets < 64) {
			assert_int_equal(res.status, 0);
			sets++;
		} else {
			assert_int_equal(res.status, SC(1, 0x92));
		}
	}
	/* a range set in use cannot be deleted, nor its program unloaded, while it runs */
	{
		/* bounded (so the verifier takes it) by 2^40 rounds: it runs until aborted */
		static const char *spin = "mov %r0, 0\nlddw %r1, 0x10000000000\nloop:\nadd %r0, 1\n"
					  "jlt %r0, %r1, loop\nexit\n";
		struct csd_nvme_sqe del = MRS(1, 1, 0);
		struct csd_nvme_sqe ab = { .opcode = nvme_admin_abort_cmd, .cdw10 = 2 | (9u << 16) };
		struct csd_ebpf_insn *insns;
		char err[64];
		size_t cnt;

		assert_int_equal(csd_ebpf_asm(spin, &insns, &cnt, err, sizeof(err)), 0);
		assert_int_equal(activate(&d, 11, false).status, 0);	/* make room: 2, 5-11 are active */
		assert_int_equal(load_program(&d, 4, CSD_PTYPE_EBPF_RAW, insns, (uint32_t)cnt * 8,
					      (uint32_t)cnt * 8).status, 0);
		free(insns);
		assert_int_equal(activate(&d, 4, true).status, 0);
		memset(&spinning, 0, sizeof(spinning));
		spinning.qid = 2;
		spinning.cmd = (struct csd_nvme_sqe)EXEC(4, 1, 0);
		spinning.cmd.cid = 9;
		spinning.done = spin_done;
		spin_finished = false;
		csd_ctrl_submit(d.ctrl, &spinning);
		assert_int_equal(drive_cmd(&d, 0, &del, NULL, 0).status, SC(1, 0x95));
		assert_int_equal(activate(&d, 4, false).status, SC(1, 0x99));
		assert_int_equal(drive_cmd(&d, 0, &ab, NULL, 0).dw0, 0);
		while (!spin_finished)
			usleep(1000);
		assert_int_equal(spinning.rsp.status >> 1, STATUS(0, 7));
		/* now both may go */
		assert_int_equal(drive_cmd(&d, 0, &del, NULL, 0).status, 0);
		assert_int_equal(activate(&d, 4, false).status, 0);
	}
	drive_close(&d, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests_name("device-status", tests, NULL, NULL);
}
