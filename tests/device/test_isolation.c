/* SPDX-License-Identifier: MIT */
/*
 * Isolation between hosts: two controllers on one drive under different host NQNs. A host
 * sees and runs only the programs and memory range sets it created (unless the drive shares
 * them), each has its own SLM (one shared SLM when the drive shares), and per-host limits
 * hold: program slots, SLM bytes in range sets, Executes in flight.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <nvme/types.h>

#include "csd/device.h"
#include "csd/ebpf.h"
#include "csd/nvme_cs.h"
#include "harness.h"

#define HOST_A	"nqn.2014-08.org.nvmexpress:uuid:host-a"
#define HOST_B	"nqn.2014-08.org.nvmexpress:uuid:host-b"

#define NO_PROGRAM		(STATUS(1, CSD_SC_NO_PROGRAM) | DNR)
#define INVALID_RSID		(STATUS(1, CSD_SC_INVALID_RSID) | DNR)
#define ACCESS_DENIED		(STATUS(NVME_SCT_MEDIA, NVME_SC_ACCESS_DENIED) | DNR)

/* r0 = len: a program whose answer shows it ran over the memory it was given */
static const char len_prog[] = "mov %r0, %r2\nexit\n";

static struct result unload(struct drive *d, uint16_t pind)
{
	struct csd_nvme_sqe c = { .opcode = CSD_ADMIN_LOAD_PROGRAM, .nsid = CSD_NSID_COMPUTE,
				  .cdw10 = pind | (1u << 24) /* SEL: unload */ };

	return drive_cmd(d, 0, &c, NULL, 0);
}

static struct result delete_range_set(struct drive *d, uint16_t rsid)
{
	struct csd_nvme_sqe c = { .opcode = CSD_ADMIN_MEMORY_RANGE_SET, .nsid = CSD_NSID_SLM,
				  .cdw10 = 1 | ((uint32_t)rsid << 16) };

	return drive_cmd(d, 0, &c, NULL, 0);
}

static void get_log(struct drive *d, uint8_t lid, void *buf, uint32_t len)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_get_log_page,
				  .cdw10 = lid | ((len / 4 - 1) << 16) };

	assert_int_equal(drive_cmd(d, 0, &c, buf, len).status, 0);
}

static void test_hosts_see_only_their_own(void **state)
{
	struct csd_mem_range r = { .nsid = CSD_NSID_SLM, .sb = 0, .len = 4096 };
	struct csd_program_entry progs[16];
	struct csd_range_set_entry sets[64];
	struct drive a, b;
	struct result res;
	uint16_t rsid;

	(void)state;
	drive_open(&a, 0, 0);
	drive_add_host(&a, &b, HOST_B);
	assert_int_equal(load_asm(&a, 5, len_prog), 0);
	res = range_set_create(&a, &r, 1);
	assert_int_equal(res.status, 0);
	rsid = (uint16_t)res.dw0;

	/* the owner runs both */
	res = execute(&a, 5, rsid, 0, 0, NULL, 0);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, 4096);

	/* to B they are not there */
	assert_int_equal(execute(&b, 5, 0, 0, 0, &r, 1).status, NO_PROGRAM);
	assert_int_equal(activate(&b, 5, false).status, NO_PROGRAM);
	assert_int_equal(unload(&b, 5).status, NO_PROGRAM);
	assert_int_equal(load_program(&b, 5, CSD_PTYPE_EBPF_RAW, "\xb7\0\0\0\0\0\0\0\x95\0\0\0\0\0\0\0",
				      16, 16).status, ACCESS_DENIED);
	assert_int_equal(execute(&b, 0, rsid, 'A', 0, NULL, 0).status, INVALID_RSID);
	assert_int_equal(delete_range_set(&b, rsid).status, INVALID_RSID);
	get_log(&b, CSD_LOG_PROGRAM_LIST, progs, sizeof(progs));
	assert_int_equal(progs[5].pind, 5);
	assert_int_equal(progs[5].state, CSD_PROG_EMPTY);
	assert_int_equal(progs[5].size, 0);
	assert_int_equal(progs[0].state, CSD_PROG_ACTIVE);	/* built-ins are everyone's */
	memset(sets, 0, sizeof(sets));
	get_log(&b, CSD_LOG_RANGE_SET_LIST, sets, sizeof(sets));
	assert_int_equal(sets[0].rsid, 0);

	/* B's own program in another slot, which A does not see */
	assert_int_equal(load_asm(&b, 6, len_prog), 0);
	assert_int_equal(execute(&a, 6, 0, 0, 0, &r, 1).status, NO_PROGRAM);
	get_log(&a, CSD_LOG_PROGRAM_LIST, progs, sizeof(progs));
	assert_int_equal(progs[5].state, CSD_PROG_ACTIVE);
	assert_int_equal(progs[6].state, CSD_PROG_EMPTY);
	memset(sets, 0, sizeof(sets));
	get_log(&a, CSD_LOG_RANGE_SET_LIST, sets, sizeof(sets));
	assert_int_equal(sets[0].rsid, rsid);

	/* and A's things still work, untouched by B's attempts */
	res = execute(&a, 5, rsid, 0, 0, NULL, 0);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, 4096);
	drive_close_host(&b);
	drive_close(&a, true);
}

static void test_a_sharing_drive(void **state)
{
	struct csd_mem_range r = { .nsid = CSD_NSID_SLM, .sb = 0, .len = 512 };
	struct drive a, b;
	struct result res;

	(void)state;
	drive_open(&a, 0, 0);
	a.cfg.share_programs = true;
	drive_restart(&a);
	drive_add_host(&a, &b, HOST_B);
	assert_int_equal(load_asm(&a, 5, len_prog), 0);
	res = range_set_create(&a, &r, 1);
	assert_int_equal(res.status, 0);
	res = execute(&b, 5, (uint16_t)res.dw0, 0, 0, NULL, 0);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, 512);
	drive_close_host(&b);
	drive_close(&a, true);
}

/* count_byte (built-in 0) over SLM [0, 4096): how many bytes of `c` this host's program sees */
static uint64_t count_in_slm(struct drive *d, uint8_t c)
{
	struct csd_mem_range r = { .nsid = CSD_NSID_SLM, .sb = 0, .len = 4096 };
	struct result res = execute(d, 0, 0, c, 0, &r, 1);

	assert_int_equal(res.status, 0);
	return res.value;
}

/* Each host has its own SLM: what one writes, copies or computes over, no other sees. */
static void test_slm_is_per_host(void **state)
{
	uint8_t mine[4096], theirs[4096], zero[4096] = { 0 };
	struct drive a, b;

	(void)state;
	drive_open(&a, 0, 0);
	drive_add_host(&a, &b, HOST_B);
	memset(mine, 'A', sizeof(mine));
	assert_int_equal(mem_write(&a, 0, mine, sizeof(mine)).status, 0);
	assert_int_equal(mem_read(&b, 0, theirs, sizeof(theirs)).status, 0);
	assert_memory_equal(theirs, zero, sizeof(zero));	/* B sees its own, untouched */
	assert_int_equal(count_in_slm(&a, 'A'), 4096);
	assert_int_equal(count_in_slm(&b, 'A'), 0);
	memset(theirs, 'B', sizeof(theirs));
	assert_int_equal(mem_write(&b, 0, theirs, sizeof(theirs)).status, 0);
	/* NVM is shared (one namespace, as on a real drive); a Memory Copy lands in B's SLM */
	assert_int_equal(nvm_write(&a, 0, 8, mine, false).status, 0);
	{
		struct csd_copy_src_nvm src = { .nsid = CSD_NSID_NVM, .slba = 0, .nlb = 7 };
		struct csd_nvme_sqe copy = { .opcode = CSD_IO_MEMORY_COPY, .nsid = CSD_NSID_SLM,
					     .cdw10 = 8192, .cdw12 = CSD_COPY_DESFMT_NVM << 8 };

		assert_int_equal(drive_cmd(&b, 1, &copy, &src, sizeof(src)).status, 0);
	}
	assert_int_equal(mem_read(&b, 8192, theirs, sizeof(theirs)).status, 0);
	assert_memory_equal(theirs, mine, sizeof(mine));
	assert_int_equal(mem_read(&a, 8192, theirs, sizeof(theirs)).status, 0);
	assert_memory_equal(theirs, zero, sizeof(zero));
	/* A's bytes are still A's */
	assert_int_equal(mem_read(&a, 0, theirs, sizeof(theirs)).status, 0);
	assert_memory_equal(theirs, mine, sizeof(mine));
	assert_int_equal(count_in_slm(&b, 'B'), 4096);
	drive_close_host(&b);
	drive_close(&a, true);

	/* a sharing drive has one SLM */
	drive_open(&a, 0, 0);
	a.cfg.share_programs = true;
	drive_restart(&a);
	drive_add_host(&a, &b, HOST_B);
	assert_int_equal(mem_write(&a, 0, mine, sizeof(mine)).status, 0);
	assert_int_equal(mem_read(&b, 0, theirs, sizeof(theirs)).status, 0);
	assert_memory_equal(theirs, mine, sizeof(mine));
	assert_int_equal(count_in_slm(&b, 'A'), 4096);
	drive_close_host(&b);
	drive_close(&a, true);
}

static void test_per_host_limits(void **state)
{
	struct csd_mem_range r4k = { .nsid = CSD_NSID_SLM, .sb = 0, .len = 4096 };
	struct csd_mem_range r2 = { .nsid = CSD_NSID_SLM, .sb = 8192, .len = 4096 };
	struct csd_mem_range r3 = { .nsid = CSD_NSID_SLM, .sb = 16384, .len = 4 };
	struct drive a, b;

	(void)state;
	drive_open(&a, 0, 0);
	a.cfg.host_max_programs = 2;
	a.cfg.host_max_slm_bytes = 8192;
	drive_restart(&a);
	drive_add_host(&a, &b, HOST_B);

	/* programs: two slots each */
	assert_int_equal(load_asm(&a, 2, len_prog), 0);
	assert_int_equal(load_asm(&a, 3, len_prog), 0);
	assert_int_equal(load_asm(&a, 4, len_prog),
			 STATUS(1, CSD_SC_INSUFFICIENT_PROGRAM_RESOURCES) | DNR);
	assert_int_equal(activate(&a, 3, false).status, 0);
	assert_int_equal(load_asm(&a, 3, len_prog), 0);	/* replacing its own is fine */
	assert_int_equal(load_asm(&b, 4, len_prog), 0);	/* B has its own quota */
	assert_int_equal(load_asm(&b, 7, len_prog), 0);
	assert_int_equal(load_asm(&b, 8, len_prog),
			 STATUS(1, CSD_SC_INSUFFICIENT_PROGRAM_RESOURCES) | DNR);
	assert_int_equal(activate(&a, 3, false).status, 0);
	assert_int_equal(unload(&a, 3).status, 0);
	assert_int_equal(load_asm(&a, 9, len_prog), 0);	/* a slot given back is free again */

	/* SLM in range sets: 8 KiB each */
	assert_int_equal(range_set_create(&a, &r4k, 1).status, 0);
	assert_int_equal(range_set_create(&a, &r2, 1).status, 0);
	assert_int_equal(range_set_create(&a, &r3, 1).status,
			 STATUS(1, CSD_SC_INSUFFICIENT_RESOURCES) | DNR);
	assert_int_equal(range_set_create(&b, &r3, 1).status, 0);
	drive_close_host(&b);
	drive_close(&a, true);
}

/* Executes in flight per host: a second one from the same host waits its turn (no DNR). */
/* The first 16-byte chunk of a `psize`-byte raw program into slot pind: a download begun. */
static uint16_t begin_download(struct drive *d, uint16_t pind, uint32_t psize)
{
	static const uint8_t chunk[16];
	struct csd_nvme_sqe c = { .opcode = CSD_ADMIN_LOAD_PROGRAM, .nsid = CSD_NSID_COMPUTE,
				  .cdw10 = pind | ((uint32_t)CSD_PTYPE_EBPF_RAW << 16),
				  .cdw11 = psize, .cdw14 = sizeof(chunk), .cdw15 = 0 };

	return drive_cmd(d, 0, &c, (void *)chunk, sizeof(chunk)).status;
}

/*
 * Issue 17: one host's unfinished downloads (a 16-byte first chunk of a 1 MiB program into
 * each of 4 slots) took the whole 4 MiB of program memory, for the drive's lifetime. Now a
 * host holds at most its share (2 MiB), what it leaves unfinished goes when it disconnects or
 * when it sends no chunk for download_idle_ms and another download needs the room.
 */
/*
 * A drive whose program memory is full: host a holds 2 MiB of unfinished downloads (slots 2
 * and 3), host b 2 MiB (5 and 6), and d's own download no longer fits.
 */
static void fill_with_downloads(struct drive *d, struct drive *a, struct drive *b)
{
	drive_open(d, 0, 0);
	d->cfg.download_idle_ms = 200;
	drive_restart(d);
	drive_add_host(d, a, "nqn.2014-08.org.nvmexpress:uuid:hoarder");
	drive_add_host(d, b, "nqn.2014-08.org.nvmexpress:uuid:other");
	assert_int_equal(begin_download(a, 2, 1u << 20), 0);
	assert_int_equal(begin_download(a, 3, 1u << 20), 0);
	assert_int_equal(begin_download(b, 5, 1u << 20), 0);
	assert_int_equal(begin_download(b, 6, 1u << 20), 0);
	assert_int_equal(begin_download(d, 7, 1u << 20), STATUS(1, 0x94) | DNR);	/* full */
}

static void test_unfinished_downloads_released(void **state)
{
	struct drive d, a, b;
	char why[2048];

	(void)state;
	fill_with_downloads(&d, &a, &b);
	/* the hoarder's third is over its share */
	assert_int_equal(begin_download(&a, 4, 1u << 20), STATUS(1, 0x8a) | DNR);
	get_log(&a, CSD_LOG_VENDOR_REASONS, why, sizeof(why));
	assert_non_null(strstr(why, "more than its share of 2097152"));
	/* the hoarder goes: its unfinished downloads go with it, and their room */
	drive_close_host(&a);
	assert_int_equal(begin_download(&d, 7, 1u << 20), 0);
	assert_int_equal(begin_download(&d, 8, 1u << 20), 0);
	drive_close_host(&b);
	drive_close(&d, true);
	/* a host that stays but sends nothing more: its downloads go once they are idle */
	fill_with_downloads(&d, &a, &b);
	usleep(300000);
	assert_int_equal(begin_download(&d, 7, 1u << 20), 0);
	drive_close_host(&a);
	drive_close_host(&b);
	drive_close(&d, true);
}

static void test_executions_in_flight(void **state)
{
	/* 2^40 rounds, verified: runs until aborted */
	static const char spin[] = "mov %r0, 0\nlddw %r1, 0x10000000000\nloop:\nadd %r0, 1\n"
				   "jlt %r0, %r1, loop\nexit\n";
	struct csd_mem_range r = { .nsid = CSD_NSID_SLM, .sb = 0, .len = 64 };
	struct drive a, b;
	struct async run;
	struct result res;

	(void)state;
	drive_open(&a, 0, 0);
	a.cfg.host_max_execs = 1;
	a.cfg.engine_threads = 2;
	drive_restart(&a);
	drive_add_host(&a, &b, HOST_B);
	assert_int_equal(load_asm(&a, 6, spin), 0);
	assert_int_equal(load_asm(&a, 5, len_prog), 0);
	assert_int_equal(load_asm(&b, 7, len_prog), 0);
	submit_execute_async(&a, &run, 6, 900);
	usleep(20000);
	assert_false(run.done);
	assert_int_equal(execute(&a, 5, 0, 0, 0, &r, 1).status,
			 STATUS(1, CSD_SC_INSUFFICIENT_RESOURCES));	/* retryable */
	res = execute(&b, 7, 0, 0, 0, &r, 1);				/* B is not held up */
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, 64);
	{
		struct csd_nvme_sqe c = { .opcode = nvme_admin_abort_cmd, .cdw10 = 2 | (900u << 16) };

		assert_int_equal(drive_cmd(&a, 0, &c, NULL, 0).status, 0);
	}
	for (int i = 0; i < 500 && !run.done; i++)	/* the watchdog interrupts the JIT code */
		usleep(10000);
	assert_true(run.done);
	res = execute(&a, 5, 0, 0, 0, &r, 1);		/* the slot is free again */
	assert_int_equal(res.status, 0);
	assert_int_equal(res.value, 64);
	drive_close_host(&b);
	drive_close(&a, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hosts_see_only_their_own),
		cmocka_unit_test(test_a_sharing_drive),
		cmocka_unit_test(test_slm_is_per_host),
		cmocka_unit_test(test_per_host_limits),
		cmocka_unit_test(test_executions_in_flight),
		cmocka_unit_test(test_unfinished_downloads_released),
	};

	return cmocka_run_group_tests_name("device-isolation", tests, NULL, NULL);
}
