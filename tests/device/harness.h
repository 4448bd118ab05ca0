/* SPDX-License-Identifier: MIT */
/* A drive in a test: a subsystem on a temporary file, one enabled controller, sync submits. */
#ifndef CSD_TEST_DEVICE_HARNESS_H
#define CSD_TEST_DEVICE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csd/device.h"

struct drive {
	struct csd_dev_config cfg;
	struct csd_subsys *subsys;
	struct csd_ctrl *ctrl;
	char path[256];
	uint16_t next_cid;
};

struct result {
	uint16_t status;	/* CQE status field >> 1: SCT << 8 | SC, DNR 0x4000 */
	uint32_t dw0, dw1;
	uint64_t value;		/* dw1:dw0 */
	uint32_t c2h_len;
	const void *c2h_ref;	/* where the data is, when the drive said (may_reference) */
};

/* A new drive (nvm_bytes, lba_size; 0s take defaults), enabled with all command sets. */
void drive_open(struct drive *d, uint64_t nvm_bytes, uint32_t lba_size);
/* The same with the NVM namespace in memory (a restart empties it). */
void drive_open_memory(struct drive *d, uint64_t nvm_bytes, uint32_t lba_size);
/* Reopen on the same file (a restart); keeps the path. */
void drive_restart(struct drive *d);
void drive_close(struct drive *d, bool remove_file);
/* Another controller on d's drive, connected as host `hostnqn`; drive_close_host() ends it. */
void drive_add_host(struct drive *d, struct drive *other, const char *hostnqn);
void drive_close_host(struct drive *other);

/* Submit and wait for the completion. data is in or out by the opcode's direction. */
struct result drive_cmd(struct drive *d, uint16_t qid, struct csd_nvme_sqe *cmd, void *data,
			uint32_t len);
/*
 * drive_cmd for a transport that takes a read's data in parts (csd_req.c2h_ready, if not
 * NULL) and can send it from where it is (may_reference).
 */
struct result drive_cmd_in_parts(struct drive *d, uint16_t qid, struct csd_nvme_sqe *cmd,
				 void *data, uint32_t len,
				 void (*c2h_ready)(struct csd_req *req, uint32_t bytes),
				 bool may_reference);

/* A command left running: submit it, go on, look at `done` (e.g. an Execute that spins). */
struct async {
	struct csd_req req;
	volatile bool done;
};
/* Submit `cmd` (with its data) on queue qid and return at once. */
void drive_submit_async(struct drive *d, struct async *a, uint16_t qid,
			const struct csd_nvme_sqe *cmd, void *data, uint32_t len);
/* Execute Program `pind` with no memory, as command `cid` on I/O queue 2. */
void submit_execute_async(struct drive *d, struct async *a, uint16_t pind, uint16_t cid);

/* Shorthands */
struct result nvm_write(struct drive *d, uint64_t slba, uint32_t nlb, const void *buf, bool fua);
struct result nvm_read(struct drive *d, uint64_t slba, uint32_t nlb, void *buf);
struct result mem_write(struct drive *d, uint64_t sb, const void *buf, uint32_t len);
struct result mem_read(struct drive *d, uint64_t sb, void *buf, uint32_t len);
struct result load_program(struct drive *d, uint16_t pind, uint8_t ptype, const void *image,
			   uint32_t size, uint32_t chunk);
struct result activate(struct drive *d, uint16_t pind, bool on);
/* Assemble `text` (it must assemble), load it into slot pind and activate it: the status. */
uint16_t load_asm(struct drive *d, uint16_t pind, const char *text);
struct result range_set_create(struct drive *d, const struct csd_mem_range *r, uint32_t n);
struct result execute(struct drive *d, uint16_t pind, uint16_t rsid, uint64_t p1, uint64_t p2,
		      const struct csd_mem_range *inline_ranges, uint32_t n);

#define STATUS(sct, sc)	((uint16_t)(((sct) << 8) | (sc)))
#define DNR		0x4000

#endif
