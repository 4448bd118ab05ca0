/* SPDX-License-Identifier: MIT */
/*
 * Seeded, bounded: random 64-byte commands with random data at the controller. Nothing may
 * crash or hang, every command completes exactly once (the harness checks), and the NVM data
 * changes only as the commands that succeeded said: a shadow copy follows every successful
 * Write, Write Zeroes, deallocate and Copy, and the namespace is compared with it at the end.
 * argv[1] = iterations.
 */
#include <nvme/types.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
#include "util.h"

#define NVM_BYTES	(1u << 20)
#define BLOCK		512u

static unsigned long iterations = 20000;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	return csd_xorshift64(&rng);
}

static uint32_t field(void)
{
	static const uint32_t interesting[] = { 0, 1, 2, 3, 4, 7, 8, 16, 0xc0, 0xc1, 511, 512,
						4096, 0xffff, 0x10000, 0x80000000u, 0xffffffffu };
	uint64_t r = next();

	switch (r % 4) {
	case 0:
	case 1: return (uint32_t)((r >> 8) % 17);
	case 2: return interesting[(r >> 8) % (sizeof(interesting) / sizeof(interesting[0]))];
	default: return (uint32_t)(r >> 16);
	}
}

/* Apply a successful command's effect on the NVM namespace to the shadow. */
static bool follow(uint8_t *shadow, const struct csd_nvme_sqe *c, const uint8_t *data)
{
	uint64_t slba = c->cdw10 | ((uint64_t)c->cdw11 << 32);
	uint64_t nlb = (c->cdw12 & 0xffff) + 1;

	if (c->nsid != CSD_NSID_NVM)
		return false;
	switch (c->opcode) {
	case nvme_cmd_write:
		memcpy(shadow + slba * BLOCK, data, nlb * BLOCK);
		break;
	case nvme_cmd_write_zeroes:
		memset(shadow + slba * BLOCK, 0, nlb * BLOCK);
		break;
	case nvme_cmd_dsm:
		if (c->cdw11 & NVME_DSMGMT_AD) {
			const struct nvme_dsm_range *r = (const void *)data;

			for (unsigned i = 0; i <= (c->cdw10 & 0xff); i++)
				memset(shadow + r[i].slba * BLOCK, 0, (uint64_t)r[i].nlb * BLOCK);
		}
		break;
	case nvme_cmd_copy: {
		const struct nvme_copy_range *r = (const void *)data;
		uint64_t to = slba;

		for (unsigned i = 0; i <= (c->cdw12 & 0xff); i++) {
			memmove(shadow + to * BLOCK, shadow + r[i].slba * BLOCK,
				((uint64_t)r[i].nlb + 1) * BLOCK);
			to += (uint64_t)r[i].nlb + 1;
		}
		break;
	}
	default:
		return false;
	}
	return true;
}

/* The data length a command of this shape asks for, so that half the commands get past it. */
static uint32_t plausible_len(const struct csd_nvme_sqe *c, uint16_t qid)
{
	if (qid == 0) {
		switch (c->opcode) {
		case 0x06: return 4096;
		case 0x02: return ((c->cdw10 >> 16) + 1) * 4;
		case 0x85: return c->cdw14;
		case 0x89: return c->cdw11 * 32;
		default: return 0;
		}
	}
	switch (c->nsid * 256 + c->opcode) {
	case 0x101: case 0x102: return ((c->cdw12 & 0xffff) + 1) * BLOCK;
	case 0x109: return ((c->cdw10 & 0xff) + 1) * 16;
	case 0x119: return ((c->cdw12 & 0xff) + 1) * 32;
	case 0x201: return ((c->cdw12 & 0xff) + 1) * 32;
	case 0x202: case 0x205: return c->cdw12;
	case 0x301: return c->cdw3 * 32;
	case 0x381: return 16 * (1 + c->cdw3 % 4);
	default: return 0;
	}
}

static void random_commands(bool in_memory)
{
	static const uint8_t opcodes[] = {
		/* admin */ 0x02, 0x06, 0x08, 0x09, 0x0a, 0x18, 0x7f, 0x85, 0x88, 0x89, 0x11,
		/* I/O */ 0x00, 0x01, 0x02, 0x05, 0x08, 0x09, 0x19, 0x81, 0x7c,
	};
	uint8_t *shadow = calloc(1, NVM_BYTES), *data = malloc(16384), *back = malloc(NVM_BYTES);
	unsigned long ok = 0, changes = 0, by_status[8] = { 0 };
	struct drive d;

	if (in_memory)
		drive_open_memory(&d, NVM_BYTES, BLOCK);
	else
		drive_open(&d, NVM_BYTES, BLOCK);
	d.cfg.exec_budget = 100000;
	drive_restart(&d);
	for (uint32_t i = 0; i < NVM_BYTES; i++)
		shadow[i] = (uint8_t)(i * 13 + i / 512);
	for (uint32_t lba = 0; lba < NVM_BYTES / BLOCK; lba += 256)
		assert_int_equal(nvm_write(&d, lba, 256, shadow + lba * BLOCK, false).status, 0);

	for (unsigned long it = 0; it < iterations; it++) {
		struct csd_nvme_sqe c;
		uint64_t r = next();
		static const uint32_t lens[] = { 0, 0, 16, 32, 64, 96, 512, 1024, 4096 };
		uint32_t len = r % 8 == 7 ? (uint32_t)(next() % 16384) :
			       lens[(r >> 8) % (sizeof(lens) / sizeof(lens[0]))];
		uint16_t qid = (uint16_t)((r >> 16) % 3);
		struct result res;

		memset(&c, 0, sizeof(c));
		c.opcode = opcodes[(r >> 24) % sizeof(opcodes)];
		c.nsid = (r >> 32) % 8 < 6 ? (uint32_t)((r >> 35) % 4) : field();
		c.cdw2 = field();
		c.cdw3 = field();
		c.cdw10 = field();
		c.cdw11 = field();
		c.cdw12 = field();
		c.cdw13 = field();
		c.cdw14 = field();
		c.cdw15 = field();
		if (c.opcode == 0x7f && (c.nsid & 0xff) == 0)	/* Property Set: keep CC valid */
			c.cdw11 = 0x1c;
		if (next() % 2 && plausible_len(&c, qid) <= 16384)
			len = plausible_len(&c, qid);
		for (uint32_t k = 0; k < len; k++)
			data[k] = (uint8_t)(k % 3 ? next() : field());
		res = drive_cmd(&d, qid, &c, len ? data : NULL, len);
		if (res.status == 0) {
			ok++;
			if (qid != 0)
				changes += follow(shadow, &c, data);
		}
		by_status[(res.status >> 8) & 7]++;
	}
	print_message("# %lu random commands: %lu succeeded (%lu changed NVM data), %lu generic "
		      "errors, %lu command specific\n", iterations, ok, changes, by_status[0] - ok,
		      by_status[1]);
	/* nothing in the namespace changed but what successful commands said */
	for (uint32_t lba = 0; lba < NVM_BYTES / BLOCK; lba += 256)
		assert_int_equal(nvm_read(&d, lba, 256, back + lba * BLOCK).status, 0);
	for (uint32_t i = 0; i < NVM_BYTES; i++)
		if (back[i] != shadow[i])
			fail_msg("NVM byte %u is 0x%02x, the shadow says 0x%02x", i, back[i], shadow[i]);
	assert_true(ok > iterations / 50);
	assert_true(changes >= iterations / 10000);	/* 39 of 200000 with the default seed */
	drive_close(&d, true);
	free(shadow);
	free(data);
	free(back);
}

static void test_random_commands(void **state)
{
	(void)state;
	random_commands(false);
}

/* the same commands (the generator starts again) on a namespace in memory */
static void test_random_commands_in_memory(void **state)
{
	(void)state;
	rng = 0x9e3779b97f4a7c15ull;
	random_commands(true);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_commands),
		cmocka_unit_test(test_random_commands_in_memory),
	};

	if (argc > 1)
		iterations = strtoul(argv[1], NULL, 10);
	return cmocka_run_group_tests_name("device-fuzz", tests, NULL, NULL);
}
