/* SPDX-License-Identifier: MIT */
/*
 * The NVM and memory namespaces: data written and flushed survives a restart, reads through
 * the mapping (and past a file shortened behind the drive's back), Write Zeroes and
 * deallocation read back as zeroes, Copy moves data inside the drive, Memory Read/Write/Copy;
 * the NVM namespace in memory instead of a file.
 */
#include <errno.h>
#include <nvme/types.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7);
}

static void test_write_read_restart(void **state)
{
	uint8_t out[4 * 4096], in[4 * 4096];
	struct csd_nvme_sqe flush = { .opcode = nvme_cmd_flush, .nsid = CSD_NSID_NVM };
	struct drive d;
	struct stat st;

	(void)state;
	drive_open(&d, 64u << 20, 4096);
	fill(out, sizeof(out), 1);
	assert_int_equal(nvm_write(&d, 100, 4, out, false).status, 0);
	assert_int_equal(drive_cmd(&d, 1, &flush, NULL, 0).status, 0);
	fill(out, 4096, 9);
	assert_int_equal(nvm_write(&d, 16383, 1, out, true).status, 0);	/* the last block, FUA */
	/* sparse: 64 MiB namespace, a few blocks allocated */
	assert_int_equal(stat(d.path, &st), 0);
	assert_int_equal(st.st_size, 64u << 20);
	assert_true(st.st_blocks * 512 < (1u << 20));
	drive_restart(&d);
	assert_int_equal(nvm_read(&d, 16383, 1, in).status, 0);
	assert_memory_equal(in, out, 4096);
	fill(out, sizeof(out), 1);
	assert_int_equal(nvm_read(&d, 100, 4, in).status, 0);
	assert_memory_equal(in, out, sizeof(out));
	/* past the end */
	assert_int_equal(nvm_read(&d, 16383, 2, in).status, STATUS(0, 0x80) | DNR);
	assert_int_equal(nvm_write(&d, 16384, 1, in, false).status, STATUS(0, 0x80) | DNR);
	drive_close(&d, true);
}

/* Whether this process has `path` mapped (the drive reads its NVM through a mapping). */
static bool mapped(const char *path)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, path) != NULL;
	fclose(f);
	return found;
}

/*
 * Reads come from a mapping of the backing file, and see writes at once. A file shortened
 * behind the drive's back makes the mapping's pages past its end raise SIGBUS: the read falls
 * back to the file and gives what pread() gives there (zeroes), and the drive lives on.
 */
static void test_reads_through_the_mapping(void **state)
{
	uint8_t out[8 * 4096], in[8 * 4096];
	struct drive d;

	(void)state;
	drive_open(&d, 64u << 20, 4096);
	assert_true(mapped(d.path));
	fill(out, sizeof(out), 3);
	assert_int_equal(nvm_write(&d, 200, 8, out, false).status, 0);
	assert_int_equal(nvm_read(&d, 200, 8, in).status, 0);
	assert_memory_equal(in, out, sizeof(in));
	fill(out, 4096, 4);	/* overwritten: the mapping shows the new data */
	assert_int_equal(nvm_write(&d, 203, 1, out, false).status, 0);
	assert_int_equal(nvm_read(&d, 203, 1, in).status, 0);
	assert_memory_equal(in, out, 4096);
	/* 16 KiB: small enough to be read through the mapping */
	assert_int_equal(truncate(d.path, 202 * 4096), 0);
	memset(in, 0xee, sizeof(in));
	assert_int_equal(nvm_read(&d, 200, 4, in).status, 0);
	fill(out, sizeof(out), 3);
	assert_memory_equal(in, out, 2 * 4096);	/* before the new end: the data */
	for (size_t i = 2 * 4096; i < 4 * 4096; i++)
		assert_int_equal(in[i], 0);
	assert_int_equal(nvm_read(&d, 1000, 4, in).status, 0);
	assert_int_equal(in[0], 0);
	drive_close(&d, true);
}

static void zeroes_dsm_copy(bool in_memory)
{
	uint8_t out[8 * 512], in[8 * 512], zero[8 * 512] = { 0 };
	struct nvme_dsm_range dsm = { .slba = 2, .nlb = 2 };
	struct nvme_copy_range copy[2] = { { .slba = 0, .nlb = 1 }, { .slba = 6, .nlb = 1 } };
	struct csd_nvme_sqe c;
	struct drive d;

	if (in_memory)
		drive_open_memory(&d, 1u << 20, 512);
	else
		drive_open(&d, 1u << 20, 512);
	fill(out, sizeof(out), 3);
	assert_int_equal(nvm_write(&d, 0, 8, out, false).status, 0);
	/* write zeroes over blocks 4-5 */
	c = (struct csd_nvme_sqe){ .opcode = nvme_cmd_write_zeroes, .nsid = 1, .cdw10 = 4, .cdw12 = 1 };
	assert_int_equal(drive_cmd(&d, 1, &c, NULL, 0).status, 0);
	/* deallocate blocks 2-3 */
	c = (struct csd_nvme_sqe){ .opcode = nvme_cmd_dsm, .nsid = 1, .cdw10 = 0, .cdw11 = 1 << 2 };
	assert_int_equal(drive_cmd(&d, 1, &c, &dsm, sizeof(dsm)).status, 0);
	assert_int_equal(nvm_read(&d, 0, 8, in).status, 0);
	assert_memory_equal(in, out, 2 * 512);
	assert_memory_equal(in + 2 * 512, zero, 4 * 512);
	assert_memory_equal(in + 6 * 512, out + 6 * 512, 2 * 512);
	/* copy blocks 0-1 and 6-7 to 100..103 */
	c = (struct csd_nvme_sqe){ .opcode = nvme_cmd_copy, .nsid = 1, .cdw10 = 100, .cdw12 = 1 };
	assert_int_equal(drive_cmd(&d, 1, &c, copy, sizeof(copy)).status, 0);
	assert_int_equal(nvm_read(&d, 100, 4, in).status, 0);
	assert_memory_equal(in, out, 2 * 512);
	assert_memory_equal(in + 2 * 512, out + 6 * 512, 2 * 512);
	/* Linux may send the ranges in a larger buffer (a page): taken; a short one is not */
	{
		uint8_t page[4096] = { 0 };
		struct nvme_dsm_range r0 = { .slba = 6, .nlb = 1 };

		memcpy(page, &r0, sizeof(r0));
		c = (struct csd_nvme_sqe){ .opcode = nvme_cmd_dsm, .nsid = 1, .cdw11 = 1 << 2 };
		assert_int_equal(drive_cmd(&d, 1, &c, page, sizeof(page)).status, 0);
		c.cdw10 = 1;	/* two ranges, 16 bytes of data */
		assert_int_equal(drive_cmd(&d, 1, &c, page, 16).status, STATUS(0, 0xf) | DNR);
	}
	/* a DSM range past the end changes nothing */
	dsm.slba = 2040;
	dsm.nlb = 100;
	c = (struct csd_nvme_sqe){ .opcode = nvme_cmd_dsm, .nsid = 1, .cdw11 = 1 << 2 };
	assert_int_equal(drive_cmd(&d, 1, &c, &dsm, sizeof(dsm)).status, STATUS(0, 0x80) | DNR);
	drive_close(&d, true);
}

static void test_zeroes_dsm_copy(void **state)
{
	(void)state;
	zeroes_dsm_copy(false);
}

static void test_zeroes_dsm_copy_in_memory(void **state)
{
	(void)state;
	zeroes_dsm_copy(true);
}

/*
 * The NVM namespace in memory (csd-target --memory): what a file-backed one does, small and
 * large transfers, zeroes over part pages and whole ones (given back), FUA and Flush with
 * nothing to wait for, empty again after a restart; a configuration names one place for it.
 */
static void test_nvm_in_memory(void **state)
{
	static uint8_t out[32 * 4096], in[32 * 4096];
	struct csd_nvme_sqe flush = { .opcode = nvme_cmd_flush, .nsid = CSD_NSID_NVM };
	struct nvme_dsm_range dsm = { .slba = 3, .nlb = 18 };	/* bytes 1536-10751 */
	struct csd_nvme_sqe c = { .opcode = nvme_cmd_dsm, .nsid = 1, .cdw11 = 1 << 2 };
	struct csd_dev_config cfg;
	struct csd_subsys *s;
	struct drive d;
	char err[256];

	(void)state;
	drive_open_memory(&d, 64u << 20, 4096);
	memset(in, 0xee, 4096);
	assert_int_equal(nvm_read(&d, 500, 1, in).status, 0);	/* never written: zeroes */
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(in[i], 0);
	fill(out, sizeof(out), 1);
	assert_int_equal(nvm_write(&d, 100, 32, out, false).status, 0);	/* 128 KiB */
	assert_int_equal(nvm_read(&d, 100, 32, in).status, 0);
	assert_memory_equal(in, out, sizeof(out));
	assert_int_equal(nvm_read(&d, 104, 1, in).status, 0);
	assert_memory_equal(in, out + 4 * 4096, 4096);
	fill(out, 4096, 9);
	assert_int_equal(nvm_write(&d, 16383, 1, out, true).status, 0);	/* the last block, FUA */
	assert_int_equal(drive_cmd(&d, 1, &flush, NULL, 0).status, 0);
	assert_int_equal(nvm_read(&d, 16383, 1, in).status, 0);
	assert_memory_equal(in, out, 4096);
	assert_int_equal(nvm_read(&d, 16383, 2, in).status, STATUS(0, 0x80) | DNR);
	assert_int_equal(nvm_write(&d, 16384, 1, in, false).status, STATUS(0, 0x80) | DNR);
	drive_restart(&d);
	assert_int_equal(nvm_read(&d, 16383, 1, in).status, 0);
	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(in[i], 0);
	drive_close(&d, true);

	/* deallocated from inside one 4 KiB page to inside the third: only those bytes zero */
	drive_open_memory(&d, 1u << 20, 512);
	fill(out, 32 * 512, 4);
	assert_int_equal(nvm_write(&d, 0, 32, out, false).status, 0);
	assert_int_equal(drive_cmd(&d, 1, &c, &dsm, sizeof(dsm)).status, 0);
	assert_int_equal(nvm_read(&d, 0, 32, in).status, 0);
	assert_memory_equal(in, out, 3 * 512);
	for (size_t i = 3 * 512; i < 21 * 512; i++)
		assert_int_equal(in[i], 0);
	assert_memory_equal(in + 21 * 512, out + 21 * 512, 11 * 512);
	/* within one page */
	dsm = (struct nvme_dsm_range){ .slba = 25, .nlb = 2 };
	assert_int_equal(drive_cmd(&d, 1, &c, &dsm, sizeof(dsm)).status, 0);
	assert_int_equal(nvm_read(&d, 24, 4, in).status, 0);
	assert_memory_equal(in, out + 24 * 512, 512);
	for (size_t i = 512; i < 3 * 512; i++)
		assert_int_equal(in[i], 0);
	assert_memory_equal(in + 3 * 512, out + 27 * 512, 512);
	drive_close(&d, true);

	/* a file or memory, not both, not neither; a size in whole blocks */
	csd_dev_config_defaults(&cfg);
	cfg.nvm_in_memory = true;
	cfg.backing_path = "/tmp/never-created";
	assert_int_equal(csd_subsys_create(&cfg, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "either a backing file or NVM in memory"));
	cfg.nvm_in_memory = false;
	cfg.backing_path = NULL;
	assert_int_equal(csd_subsys_create(&cfg, &s, err, sizeof(err)), -EINVAL);
	cfg.nvm_in_memory = true;
	cfg.nvm_bytes = 1000;
	assert_int_equal(csd_subsys_create(&cfg, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "NVM in memory: namespace size 1000 is not a positive multiple "
			    "of the LBA size 512");
	assert_int_equal(access("/tmp/never-created", F_OK), -1);
}

/* What a transport taking reads in parts saw: each call's length, its data as it was then. */
static struct {
	uint32_t bytes[16];
	unsigned calls;
	bool data_in_place;
	const uint8_t *expect;
} parts;

static void part_ready(struct csd_req *req, uint32_t bytes)
{
	if (parts.calls < 16)
		parts.bytes[parts.calls] = bytes;
	parts.calls++;
	if (memcmp(req->data, parts.expect, bytes))
		parts.data_in_place = false;
}

/*
 * A 1 MiB read for a transport that sends as it goes: seven parts of 128 KiB announced, each
 * in place when announced (the eighth comes with the completion), from a file or memory;
 * 128 KiB in one; a namespace in memory is not read at all when the transport can send from
 * it (may_reference: the completion points into the namespace).
 */
static void test_read_in_parts(void **state)
{
	static uint8_t out[1u << 20], in[1u << 20];
	struct csd_nvme_sqe rd = { .opcode = nvme_cmd_read, .nsid = CSD_NSID_NVM, .cdw10 = 256,
				   .cdw12 = 255 };
	struct result r;
	struct drive d;

	(void)state;
	for (int memory = 0; memory < 2; memory++) {
		if (memory)
			drive_open_memory(&d, 64u << 20, 4096);
		else
			drive_open(&d, 64u << 20, 4096);
		fill(out, sizeof(out), 3);
		assert_int_equal(nvm_write(&d, 256, 256, out, false).status, 0);
		for (int refer = 0; refer < 2; refer++) {
			memset(in, 0, sizeof(in));
			parts = (typeof(parts)){ .data_in_place = true, .expect = out };
			r = drive_cmd_in_parts(&d, 1, &rd, in, sizeof(in), part_ready, refer);
			assert_int_equal(r.status, 0);
			assert_int_equal(r.c2h_len, sizeof(in));
			if (memory && refer) {
				assert_int_equal(parts.calls, 0);
				assert_non_null(r.c2h_ref);
				assert_memory_equal(r.c2h_ref, out, sizeof(out));
				continue;
			}
			assert_null(r.c2h_ref);
			assert_int_equal(parts.calls, 7);
			for (unsigned i = 0; i < 7; i++)
				assert_int_equal(parts.bytes[i], (i + 1) * (128u << 10));
			assert_true(parts.data_in_place);
			assert_memory_equal(in, out, sizeof(in));
		}
		/* 128 KiB: one part, nothing announced */
		rd.cdw12 = 31;
		parts.calls = 0;
		r = drive_cmd_in_parts(&d, 1, &rd, in, 128u << 10, part_ready, false);
		assert_int_equal(r.status, 0);
		assert_int_equal(parts.calls, 0);
		assert_memory_equal(in, out, 128u << 10);
		rd.cdw12 = 255;
		drive_close(&d, true);
	}
}

static void test_memory_namespace(void **state)
{
	uint8_t out[4096], in[4096];
	struct csd_mem_range src = { .nsid = CSD_NSID_SLM, .sb = 0, .len = 1024 };
	struct csd_nvme_sqe c = { .opcode = CSD_IO_MEMORY_COPY, .nsid = CSD_NSID_SLM,
				  .cdw10 = 8192, .cdw12 = CSD_COPY_DESFMT_MEMORY << 8 };
	struct drive d;

	(void)state;
	drive_open(&d, 0, 0);
	fill(out, sizeof(out), 5);
	assert_int_equal(mem_write(&d, 0, out, sizeof(out)).status, 0);
	assert_int_equal(mem_read(&d, 0, in, sizeof(in)).status, 0);
	assert_memory_equal(in, out, sizeof(out));
	assert_int_equal(drive_cmd(&d, 1, &c, &src, sizeof(src)).status, 0);
	assert_int_equal(mem_read(&d, 8192, in, 1024).status, 0);
	assert_memory_equal(in, out, 1024);
	/* misaligned, zero length, out of the namespace */
	assert_int_equal(mem_read(&d, 2, in, 4).status, STATUS(0, 2) | DNR);
	assert_int_equal(mem_read(&d, 0, in, 0).status, STATUS(0, 2) | DNR);
	assert_int_equal(mem_read(&d, (16u << 20) - 4, in, 8).status, STATUS(0, 0x80) | DNR);
	/* a source in the wrong namespace; an unknown descriptor format */
	src.nsid = CSD_NSID_NVM;
	assert_int_equal(drive_cmd(&d, 1, &c, &src, sizeof(src)).status, STATUS(1, 0x8b) | DNR);
	c.cdw12 = 7 << 8;
	assert_int_equal(drive_cmd(&d, 1, &c, &src, sizeof(src)).status, STATUS(0, 2) | DNR);
	drive_close(&d, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read_restart),
		cmocka_unit_test(test_reads_through_the_mapping),
		cmocka_unit_test(test_zeroes_dsm_copy),
		cmocka_unit_test(test_zeroes_dsm_copy_in_memory),
		cmocka_unit_test(test_nvm_in_memory),
		cmocka_unit_test(test_read_in_parts),
		cmocka_unit_test(test_memory_namespace),
	};

	return cmocka_run_group_tests_name("device-nvm", tests, NULL, NULL);
}
