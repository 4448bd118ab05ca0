/* SPDX-License-Identifier: MIT */
/*
 * The controller as any NVMe host sees it: properties and the enable/shutdown sequence,
 * Identify (what the Linux host needs), features, log pages, queue semantics.
 */
#include <errno.h>
#include <nvme/types.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static struct result identify(struct drive *d, uint8_t cns, uint32_t nsid, uint8_t csi,
			      uint8_t *buf)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_identify, .nsid = nsid,
				  .cdw10 = cns, .cdw11 = (uint32_t)csi << 24 };

	memset(buf, 0xee, 4096);
	return drive_cmd(d, 0, &c, buf, 4096);
}

static struct result get_log(struct drive *d, uint8_t lid, uint8_t csi, void *buf, uint32_t len)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_get_log_page, .nsid = 0xffffffff,
				  .cdw10 = lid | ((len / 4 - 1) << 16), .cdw14 = (uint32_t)csi << 24 };

	return drive_cmd(d, 0, &c, buf, len);
}

static void test_properties(void **state)
{
	struct drive d;
	uint64_t v;

	(void)state;
	drive_open(&d, 0, 0);
	assert_int_equal(csd_ctrl_prop_get(d.ctrl, 0x0, true, &v), 0);
	assert_true(v & (1ull << 37));		/* CSS: NVM */
	assert_true(v & (1ull << 43));		/* CSS: I/O command sets */
	assert_int_equal(v & 0xffff, 1023);	/* MQES */
	assert_int_equal(csd_ctrl_prop_get(d.ctrl, 0x8, false, &v), 0);
	assert_int_equal(v, 0x00020000);	/* 2.0 */
	assert_int_equal(csd_ctrl_prop_get(d.ctrl, 0x0, false, &v), STATUS(0, 2) | DNR);
	assert_int_equal(csd_ctrl_prop_get(d.ctrl, 0x40, false, &v), STATUS(0, 2) | DNR);
	assert_int_equal(csd_ctrl_prop_set(d.ctrl, 0x1c, false, 0), STATUS(0, 2) | DNR);
	/* shutdown: SHST complete */
	assert_int_equal(csd_ctrl_prop_set(d.ctrl, 0x14, false,
					   1 | (6 << 4) | (6 << 16) | (4 << 20) | (1 << 14)), 0);
	csd_ctrl_prop_get(d.ctrl, 0x1c, false, &v);
	assert_int_equal((v >> 2) & 3, 2);
	/* disable, then enable with a page size the controller does not take: CFS */
	csd_ctrl_prop_set(d.ctrl, 0x14, false, 0);
	csd_ctrl_prop_get(d.ctrl, 0x1c, false, &v);
	assert_int_equal(v, 0);
	csd_ctrl_prop_set(d.ctrl, 0x14, false, 1 | (6 << 4) | (1 << 7) | (6 << 16) | (4 << 20));
	csd_ctrl_prop_get(d.ctrl, 0x1c, false, &v);
	assert_int_equal(v, 2);	/* CFS, not ready */
	drive_close(&d, true);
}

static void test_not_ready_refuses(void **state)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_keep_alive };
	struct drive d;

	(void)state;
	drive_open(&d, 0, 0);
	csd_ctrl_prop_set(d.ctrl, 0x14, false, 0);	/* disable */
	assert_int_equal(drive_cmd(&d, 0, &c, NULL, 0).status, STATUS(0, 0x0c) | DNR);
	drive_close(&d, true);
}

static void test_identify(void **state)
{
	struct nvme_id_ctrl *id;
	struct nvme_id_ns *ns;
	uint8_t buf[4096];
	uint32_t *list = (uint32_t *)buf;
	uint64_t *vec = (uint64_t *)buf;
	struct drive d;

	(void)state;
	drive_open(&d, 8u << 20, 4096);
	assert_int_equal(identify(&d, 1, 0, 0, buf).status, 0);
	id = (struct nvme_id_ctrl *)buf;
	assert_memory_equal(id->mn, "csdlab  ", 8);
	assert_memory_equal(id->sn, "CSDLAB0001", 10);
	assert_memory_equal(id->fr, "0.1.0   ", 8);
	assert_int_equal(id->nn, 3);
	assert_int_equal(id->ver, 0x00020000);
	assert_int_equal(id->oncs, (1 << 2) | (1 << 3) | (1 << 8));
	assert_int_equal(id->sqes, 0x66);
	assert_int_equal(id->cqes, 0x44);
	assert_int_equal(id->cntlid, csd_ctrl_cntlid(d.ctrl));
	assert_string_equal(id->subnqn, "nqn.2026-01.io.csdlab:drive0");

	assert_int_equal(identify(&d, 2, 0, 0, buf).status, 0);
	assert_int_equal(list[0], 1);
	assert_int_equal(list[1], 2);
	assert_int_equal(list[2], 3);
	assert_int_equal(list[3], 0);
	assert_int_equal(identify(&d, 2, 2, 0, buf).status, 0);	/* those above nsid 2 */
	assert_int_equal(list[0], 3);

	assert_int_equal(identify(&d, 0, 1, 0, buf).status, 0);
	ns = (struct nvme_id_ns *)buf;
	assert_int_equal(ns->nsze, 2048);	/* 8 MiB of 4 KiB blocks */
	assert_int_equal(ns->flbas & 0xf, 1);
	assert_int_equal(ns->lbaf[1].ds, 12);

	/* the CSI descriptor for every namespace (Linux drops a namespace without it) */
	for (uint32_t nsid = 1; nsid <= 3; nsid++) {
		static const uint8_t csi[4] = { 0, 0, 3, 4 };
		uint8_t *p = buf;
		bool found = false;

		assert_int_equal(identify(&d, 3, nsid, 0, buf).status, 0);
		while (p < buf + 4096 && p[1]) {
			if (p[0] == NVME_NIDT_CSI) {
				assert_int_equal(p[4], csi[nsid]);
				found = true;
			}
			p += 4 + p[1];
		}
		assert_true(found);
		/* CNS 08h: ready */
		assert_int_equal(identify(&d, 8, nsid, 0, buf).status, 0);
		assert_int_equal(((struct nvme_id_independent_id_ns *)buf)->nstat, 1);
	}
	/* CNS 05h with the right and the wrong CSI */
	assert_int_equal(identify(&d, 5, 2, 3, buf).status, 0);
	assert_int_equal(*(uint64_t *)buf, 16u << 20);	/* SLM bytes */
	assert_int_equal(identify(&d, 5, 2, 4, buf).status, STATUS(1, 0x29) | DNR);
	assert_int_equal(identify(&d, 0x1c, 0, 0, buf).status, 0);
	assert_int_equal(vec[0], (1 << 0) | (1 << 3) | (1 << 4));
	assert_int_equal(vec[1], 1);
	assert_int_equal(identify(&d, 3, 9, 0, buf).status, STATUS(0, 0x0b) | DNR);
	assert_int_equal(identify(&d, 0x99, 0, 0, buf).status, STATUS(0, 2) | DNR);

	/* a host that enables only the NVM command set sees only namespace 1 */
	csd_ctrl_prop_set(d.ctrl, 0x14, false, 0);
	csd_ctrl_prop_set(d.ctrl, 0x14, false, 1 | (0 << 4) | (6 << 16) | (4 << 20));
	assert_int_equal(identify(&d, 2, 0, 0, buf).status, 0);
	assert_int_equal(list[0], 1);
	assert_int_equal(list[1], 0);
	drive_close(&d, true);
}

static void test_features(void **state)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_set_features };
	struct drive d;
	struct result r;

	(void)state;
	drive_open(&d, 0, 0);
	c.cdw10 = NVME_FEAT_FID_KATO;
	c.cdw11 = 5000;
	assert_int_equal(drive_cmd(&d, 0, &c, NULL, 0).status, 0);
	assert_int_equal(csd_ctrl_kato_ms(d.ctrl), 5000);
	c = (struct csd_nvme_sqe){ .opcode = nvme_admin_get_features, .cdw10 = NVME_FEAT_FID_KATO };
	r = drive_cmd(&d, 0, &c, NULL, 0);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.dw0, 5000);
	/* Number of Queues once I/O queues exist: command sequence error */
	c = (struct csd_nvme_sqe){ .opcode = nvme_admin_set_features,
				   .cdw10 = NVME_FEAT_FID_NUM_QUEUES, .cdw11 = 0x00030003 };
	assert_int_equal(drive_cmd(&d, 0, &c, NULL, 0).status, STATUS(0, 0x0c) | DNR);
	/* I/O command set profile: 0 and 1 exist, 2 does not */
	c = (struct csd_nvme_sqe){ .opcode = nvme_admin_set_features,
				   .cdw10 = NVME_FEAT_FID_IOCS_PROFILE, .cdw11 = 2 };
	assert_int_equal(drive_cmd(&d, 0, &c, NULL, 0).status, STATUS(1, 0x2b) | DNR);
	c.cdw10 |= 1u << 31;	/* save */
	assert_int_equal(drive_cmd(&d, 0, &c, NULL, 0).status, STATUS(1, 0x0d) | DNR);
	c = (struct csd_nvme_sqe){ .opcode = nvme_admin_get_features, .cdw10 = 0x7e };
	assert_int_equal(drive_cmd(&d, 0, &c, NULL, 0).status, STATUS(0, 2) | DNR);

	/* the features the base specification makes mandatory: defaults, then set and read back */
	{
		static const struct {
			uint8_t fid;
			uint32_t cdw11_get, dflt, set, current;
		} f[] = {
			{ NVME_FEAT_FID_POWER_MGMT, 0, 0, 0x20, 0x20 },	/* WH 1, PS 0 */
			{ NVME_FEAT_FID_TEMP_THRESH, 0, 343, 330, 330 },	/* over */
			{ NVME_FEAT_FID_TEMP_THRESH, 1u << 20, 0, (1u << 20) | 250, 250 },
			{ NVME_FEAT_FID_ERR_RECOVERY, 0, 0, 30, 30 },
			{ NVME_FEAT_FID_VOLATILE_WC, 0, 1, 0, 0 },
			{ NVME_FEAT_FID_WRITE_ATOMIC, 0, 0, 1, 1 },
			{ NVME_FEAT_FID_ARBITRATION, 0, 0, 3, 3 },
		};

		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			c = (struct csd_nvme_sqe){ .opcode = nvme_admin_get_features,
						   .cdw10 = f[i].fid | (1u << 8), .cdw11 = f[i].cdw11_get };
			r = drive_cmd(&d, 0, &c, NULL, 0);
			assert_int_equal(r.status, 0);
			assert_int_equal(r.dw0, f[i].dflt);
			c = (struct csd_nvme_sqe){ .opcode = nvme_admin_set_features,
						   .cdw10 = f[i].fid, .cdw11 = f[i].set };
			assert_int_equal(drive_cmd(&d, 0, &c, NULL, 0).status, 0);
			c = (struct csd_nvme_sqe){ .opcode = nvme_admin_get_features,
						   .cdw10 = f[i].fid, .cdw11 = f[i].cdw11_get };
			r = drive_cmd(&d, 0, &c, NULL, 0);
			assert_int_equal(r.status, 0);
			assert_int_equal(r.dw0, f[i].current);
		}
		/* what the drive does not have: power state 1, sensor 1, DULBE */
		static const uint32_t bad[][2] = {
			{ NVME_FEAT_FID_POWER_MGMT, 1 },
			{ NVME_FEAT_FID_TEMP_THRESH, 1u << 16 },
			{ NVME_FEAT_FID_TEMP_THRESH, 2u << 20 },
			{ NVME_FEAT_FID_ERR_RECOVERY, 1u << 16 },
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			c = (struct csd_nvme_sqe){ .opcode = nvme_admin_set_features,
						   .cdw10 = bad[i][0], .cdw11 = bad[i][1] };
			assert_int_equal(drive_cmd(&d, 0, &c, NULL, 0).status, STATUS(0, 2) | DNR);
		}
		/* the write cache off: a plain write is written through, and still lands */
		{
			uint8_t block[4096], back[4096];
			struct csd_nvme_sqe w = { .opcode = nvme_cmd_write, .nsid = 1, .cdw12 = 7 };
			struct csd_nvme_sqe rd = { .opcode = nvme_cmd_read, .nsid = 1, .cdw12 = 7 };

			memset(block, 0x5a, sizeof(block));
			assert_int_equal(drive_cmd(&d, 1, &w, block, sizeof(block)).status, 0);
			assert_int_equal(drive_cmd(&d, 1, &rd, back, sizeof(back)).status, 0);
			assert_memory_equal(block, back, sizeof(block));
		}
	}
	drive_close(&d, true);

	/* on a fresh controller, before I/O queues: Number of Queues grants min(asked, 64) */
	{
		struct csd_subsys *s;
		struct csd_ctrl *ctrl;
		struct csd_dev_config cfg;
		char err[128], path[] = "/tmp/csd-test-XXXXXX";
		int fd = mkstemp(path);

		close(fd);
		csd_dev_config_defaults(&cfg);
		cfg.backing_path = path;
		cfg.nvm_bytes = 1 << 20;
		assert_int_equal(csd_subsys_create(&cfg, &s, err, sizeof(err)), 0);
		assert_int_equal(csd_ctrl_create(s, "host", &ctrl), 0);
		d.subsys = s;
		d.ctrl = ctrl;
		csd_ctrl_add_queue(ctrl, 0, 32);
		csd_ctrl_prop_set(ctrl, 0x14, false, 1 | (6 << 4) | (6 << 16) | (4 << 20));
		c = (struct csd_nvme_sqe){ .opcode = nvme_admin_set_features,
					   .cdw10 = NVME_FEAT_FID_NUM_QUEUES, .cdw11 = 0x00010003 };
		r = drive_cmd(&d, 0, &c, NULL, 0);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.dw0, 0x00010001);	/* 2 queues, 0's based */
		assert_int_equal(csd_ctrl_add_queue(ctrl, 2, 64), 0);
		assert_int_equal(csd_ctrl_add_queue(ctrl, 3, 64), -EINVAL);	/* not granted */
		csd_ctrl_destroy(ctrl);
		csd_subsys_destroy(s);
		unlink(path);
	}
}

static void test_logs(void **state)
{
	struct nvme_error_log_page err[64];
	struct nvme_smart_log smart;
	struct nvme_cmd_effects_log effects;
	struct csd_program_types types;
	struct csd_vendor_stats stats;
	struct csd_nvme_sqe bad = { .opcode = 0xee };
	uint8_t block[512] = { 1 };
	struct drive d;

	(void)state;
	drive_open(&d, 0, 0);
	for (int i = 0; i < 2000; i++)		/* 1000 KB written: 2000 units of 512 bytes */
		assert_int_equal(nvm_write(&d, (uint64_t)i, 1, block, false).status, 0);
	assert_int_equal(get_log(&d, 2, 0, &smart, sizeof(smart)).status, 0);
	assert_int_equal(smart.data_units_written[0], 2);	/* thousands, rounded up */
	assert_int_equal(smart.host_writes[0] | (smart.host_writes[1] << 8), 2000);

	assert_int_equal(drive_cmd(&d, 0, &bad, NULL, 0).status, STATUS(0, 1) | DNR);
	assert_int_equal(get_log(&d, 1, 0, err, sizeof(err)).status, 0);
	assert_int_equal(err[0].error_count, 1);
	assert_int_equal(err[0].status_field >> 1, STATUS(0, 1) | DNR);
	assert_int_equal(err[0].parm_error_location, 0);	/* the opcode byte */
	assert_int_equal(err[1].error_count, 0);

	assert_int_equal(get_log(&d, 5, 0, &effects, sizeof(effects)).status, 0);
	assert_int_equal(effects.acs[CSD_ADMIN_LOAD_PROGRAM] & 1, 1);
	assert_int_equal(effects.iocs[nvme_cmd_write], 3);	/* supported, changes data */
	assert_int_equal(get_log(&d, 5, 4, &effects, sizeof(effects)).status, 0);
	assert_int_equal(effects.iocs[CSD_IO_EXECUTE_PROGRAM], 1);
	assert_int_equal(effects.iocs[nvme_cmd_read], 0);
	assert_int_equal(effects.iocs[CSD_IO_VENDOR_EXECUTE_STREAM], 1);

	assert_int_equal(get_log(&d, CSD_LOG_PROGRAM_TYPES, 0, &types, sizeof(types)).status, 0);
	assert_int_equal(types.count, 3);
	assert_int_equal(types.ptype[0], CSD_PTYPE_EBPF_ELF);

	assert_int_equal(get_log(&d, CSD_LOG_VENDOR_STATS, 0, &stats, sizeof(stats)).status, 0);
	assert_int_equal(stats.nvm_write_cmds, 2000);
	assert_int_equal(stats.nvm_bytes_written, 2000 * 512);
	/* per controller (LSP 1): a second controller has its own, zero, counters */
	{
		struct csd_ctrl *other;
		struct csd_vendor_stats mine;
		struct csd_nvme_sqe c = { .opcode = nvme_admin_get_log_page,
					  .cdw10 = CSD_LOG_VENDOR_STATS | (1 << 8) |
						   ((sizeof(mine) / 4 - 1) << 16) };

		assert_int_equal(drive_cmd(&d, 0, &c, &mine, sizeof(mine)).status, 0);
		assert_int_equal(mine.nvm_write_cmds, 2000);
		assert_int_equal(csd_ctrl_create(d.subsys, "another host", &other), 0);
		csd_ctrl_stats(other, &mine);
		assert_int_equal(mine.nvm_write_cmds, 0);
		assert_int_equal(mine.admin_cmds, 0);
		csd_ctrl_destroy(other);
	}
	assert_int_equal(get_log(&d, 0x70, 0, &stats, 64).status, STATUS(1, 9) | DNR);
	/* an offset past the page */
	{
		struct csd_nvme_sqe c = { .opcode = nvme_admin_get_log_page, .cdw10 = 2 | (15u << 16),
					  .cdw12 = 4096 };
		uint8_t buf[64];

		assert_int_equal(drive_cmd(&d, 0, &c, buf, 64).status, STATUS(0, 2) | DNR);
	}
	drive_close(&d, true);
}

static void test_queue_semantics(void **state)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_keep_alive };
	struct drive d;

	(void)state;
	drive_open(&d, 0, 0);
	/* a queue that does not exist */
	assert_int_equal(drive_cmd(&d, 9, &c, NULL, 0).status, STATUS(0, 2) | DNR);
	/* data length that does not match: Data SGL Length Invalid */
	{
		uint8_t buf[100];
		struct csd_nvme_sqe id = { .opcode = nvme_admin_identify, .cdw10 = 1 };

		assert_int_equal(drive_cmd(&d, 0, &id, buf, sizeof(buf)).status, STATUS(0, 0xf) | DNR);
	}
	/* fused commands are not supported */
	c.flags = 1;
	assert_int_equal(drive_cmd(&d, 0, &c, NULL, 0).status, STATUS(0, 2) | DNR);
	/* an I/O opcode on a namespace that does not exist */
	c = (struct csd_nvme_sqe){ .opcode = 0x02, .nsid = 7 };
	assert_int_equal(drive_cmd(&d, 1, &c, NULL, 0).status, STATUS(0, 0xb) | DNR);
	drive_close(&d, true);
}

static struct csd_req held[5];
static int held_done;

static void count_done(struct csd_req *req)
{
	(void)req;
	held_done++;
}

static void test_async_events_and_cid_conflict(void **state)
{
	struct drive d;

	(void)state;
	drive_open(&d, 0, 0);
	held_done = 0;
	for (int i = 0; i < 5; i++) {
		memset(&held[i], 0, sizeof(held[i]));
		held[i].cmd.opcode = nvme_admin_async_event;
		held[i].cmd.cid = (uint16_t)(100 + i);
		held[i].done = count_done;
		csd_ctrl_submit(d.ctrl, &held[i]);
	}
	/* four are held, the fifth is over the limit */
	assert_int_equal(held_done, 1);
	assert_int_equal(held[4].rsp.status >> 1, STATUS(1, 5) | DNR);
	/*
	 * A command that reuses the id of a held AER: the host gave that AER up (SPDK's host
	 * cancels its AERs locally and reuses their ids for its last Property Gets), so the new
	 * command runs and the AER is released without a response.
	 */
	{
		struct csd_req dup = { .cmd = { .opcode = nvme_admin_keep_alive, .cid = 100 },
				       .done = count_done };

		csd_ctrl_submit(d.ctrl, &dup);
		assert_int_equal(held_done, 3);
		assert_true(held[0].no_response);
		assert_false(dup.no_response);
		assert_int_equal(dup.rsp.status >> 1, 0);
	}
	/* an id held by any other outstanding command is a conflict */
	{
		struct csd_nvme_sqe c = { .opcode = nvme_cmd_flush, .nsid = 1, .cid = 7 };
		struct csd_req dup = { .cmd = c, .qid = 1, .done = count_done };
		struct async first;

		drive_submit_async(&d, &first, 1, &c, NULL, 0);	/* on a worker thread */
		csd_ctrl_submit(d.ctrl, &dup);
		if (!first.done)	/* the flush may have finished already */
			assert_int_equal(dup.rsp.status >> 1, STATUS(0, 3) | DNR);
		while (!first.done)
			usleep(1000);
		assert_int_equal(first.req.rsp.status >> 1, 0);
	}
	/* the controller goes away: the three still held complete, aborted */
	csd_ctrl_destroy(d.ctrl);
	assert_int_equal(held_done, 7);
	assert_false(held[1].no_response);
	assert_int_equal(held[1].rsp.status >> 1, STATUS(0, 7));
	csd_subsys_destroy(d.subsys);
	unlink(d.path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_properties),
		cmocka_unit_test(test_not_ready_refuses),
		cmocka_unit_test(test_identify),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_logs),
		cmocka_unit_test(test_queue_semantics),
		cmocka_unit_test(test_async_events_and_cid_conflict),
	};

	return cmocka_run_group_tests_name("device-admin", tests, NULL, NULL);
}
