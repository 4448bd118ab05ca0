/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csd/ebpf.h"
#include "harness.h"

struct waiter {
	struct csd_req req;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int completions;
};

static void on_done(struct csd_req *req)
{
	struct waiter *w = (struct waiter *)req;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	w->completions++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

struct result drive_cmd(struct drive *d, uint16_t qid, struct csd_nvme_sqe *cmd, void *data,
			uint32_t len)
{
	return drive_cmd_in_parts(d, qid, cmd, data, len, NULL, false);
}

struct result drive_cmd_in_parts(struct drive *d, uint16_t qid, struct csd_nvme_sqe *cmd,
				 void *data, uint32_t len,
				 void (*c2h_ready)(struct csd_req *req, uint32_t bytes),
				 bool may_reference)
{
	struct waiter w = { 0 };
	struct result r = { 0 };

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	cmd->cid = d->next_cid++;
	w.req.cmd = *cmd;
	w.req.qid = qid;
	w.req.data = data;
	w.req.data_len = len;
	w.req.done = on_done;
	w.req.c2h_ready = c2h_ready;
	w.req.may_reference = may_reference;
	csd_ctrl_submit(d->ctrl, &w.req);
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	if (w.completions != 1) {
		fprintf(stderr, "command completed %d times\n", w.completions);
		abort();
	}
	if (w.req.rsp.cid != cmd->cid || w.req.rsp.sq_id != qid) {
		fprintf(stderr, "completion for cid %u/sq %u, sent %u/%u\n", w.req.rsp.cid,
			w.req.rsp.sq_id, cmd->cid, qid);
		abort();
	}
	r.status = w.req.rsp.status >> 1;
	r.dw0 = w.req.rsp.dw0;
	r.dw1 = w.req.rsp.dw1;
	r.value = r.dw0 | ((uint64_t)r.dw1 << 32);
	r.c2h_len = w.req.c2h_len;
	r.c2h_ref = w.req.c2h_ref;
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	return r;
}

static void enable(struct drive *d)
{
	uint64_t csts = 0;

	/* EN, CSS 110b (all I/O command sets), IOSQES 6, IOCQES 4 */
	if (csd_ctrl_add_queue(d->ctrl, 0, 32) ||
	    csd_ctrl_prop_set(d->ctrl, 0x14, false, 1 | (6 << 4) | (6 << 16) | (4 << 20)) ||
	    csd_ctrl_prop_get(d->ctrl, 0x1c, false, &csts) || csts != 1 ||
	    csd_ctrl_add_queue(d->ctrl, 1, 128) || csd_ctrl_add_queue(d->ctrl, 2, 128)) {
		fprintf(stderr, "cannot enable the controller\n");
		abort();
	}
}

static void async_done(struct csd_req *req)
{
	((struct async *)req)->done = true;
}

void drive_submit_async(struct drive *d, struct async *a, uint16_t qid,
			const struct csd_nvme_sqe *cmd, void *data, uint32_t len)
{
	memset(a, 0, sizeof(*a));
	a->req.cmd = *cmd;
	a->req.qid = qid;
	a->req.data = data;
	a->req.data_len = len;
	a->req.done = async_done;
	csd_ctrl_submit(d->ctrl, &a->req);
}

void submit_execute_async(struct drive *d, struct async *a, uint16_t pind, uint16_t cid)
{
	struct csd_nvme_sqe c = { .opcode = CSD_IO_EXECUTE_PROGRAM, .nsid = CSD_NSID_COMPUTE,
				  .cid = cid, .cdw2 = pind };

	drive_submit_async(d, a, 2, &c, NULL, 0);
}

void drive_add_host(struct drive *d, struct drive *other, const char *hostnqn)
{
	memset(other, 0, sizeof(*other));
	other->cfg = d->cfg;
	other->subsys = d->subsys;
	snprintf(other->path, sizeof(other->path), "%s", d->path);
	if (csd_ctrl_create(d->subsys, hostnqn, &other->ctrl)) {
		fprintf(stderr, "cannot connect host %s\n", hostnqn);
		abort();
	}
	enable(other);
}

void drive_close_host(struct drive *other)
{
	csd_ctrl_destroy(other->ctrl);
}

static void start(struct drive *d)
{
	char err[256];

	d->cfg.backing_path = d->cfg.nvm_in_memory ? NULL : d->path;
	if (csd_subsys_create(&d->cfg, &d->subsys, err, sizeof(err)) ||
	    csd_ctrl_create(d->subsys, "nqn.2014-08.org.nvmexpress:uuid:test", &d->ctrl)) {
		fprintf(stderr, "cannot create the drive: %s\n", err);
		abort();
	}
	enable(d);
}

/* A drive's configuration for the tests: a small SLM; the NVM in a new file or in memory */
static void drive_config(struct drive *d, uint64_t nvm_bytes, uint32_t lba_size, bool in_memory)
{
	memset(d, 0, sizeof(*d));
	csd_dev_config_defaults(&d->cfg);
	if (nvm_bytes)
		d->cfg.nvm_bytes = nvm_bytes;
	if (lba_size)
		d->cfg.lba_size = lba_size;
	d->cfg.slm_bytes = 16u << 20;
	d->cfg.nvm_in_memory = in_memory;
}

void drive_open(struct drive *d, uint64_t nvm_bytes, uint32_t lba_size)
{
	int fd;

	drive_config(d, nvm_bytes, lba_size, false);
	snprintf(d->path, sizeof(d->path), "/tmp/csd-test-XXXXXX");
	fd = mkstemp(d->path);
	if (fd < 0)
		abort();
	close(fd);
	start(d);
}

void drive_open_memory(struct drive *d, uint64_t nvm_bytes, uint32_t lba_size)
{
	drive_config(d, nvm_bytes, lba_size, true);
	start(d);
}

void drive_restart(struct drive *d)
{
	csd_ctrl_destroy(d->ctrl);
	csd_subsys_destroy(d->subsys);
	start(d);
}

void drive_close(struct drive *d, bool remove_file)
{
	csd_ctrl_destroy(d->ctrl);
	csd_subsys_destroy(d->subsys);
	if (remove_file && !d->cfg.nvm_in_memory)
		unlink(d->path);
}

static struct csd_nvme_sqe sqe(uint8_t opcode, uint32_t nsid)
{
	struct csd_nvme_sqe c = { .opcode = opcode, .nsid = nsid };

	return c;
}

struct result nvm_write(struct drive *d, uint64_t slba, uint32_t nlb, const void *buf, bool fua)
{
	struct csd_nvme_sqe c = sqe(0x01, CSD_NSID_NVM);

	c.cdw10 = (uint32_t)slba;
	c.cdw11 = (uint32_t)(slba >> 32);
	c.cdw12 = (nlb - 1) | (fua ? 1u << 30 : 0);
	return drive_cmd(d, 1, &c, (void *)buf, nlb * d->cfg.lba_size);
}

struct result nvm_read(struct drive *d, uint64_t slba, uint32_t nlb, void *buf)
{
	struct csd_nvme_sqe c = sqe(0x02, CSD_NSID_NVM);

	c.cdw10 = (uint32_t)slba;
	c.cdw11 = (uint32_t)(slba >> 32);
	c.cdw12 = nlb - 1;
	return drive_cmd(d, 1, &c, buf, nlb * d->cfg.lba_size);
}

struct result mem_write(struct drive *d, uint64_t sb, const void *buf, uint32_t len)
{
	struct csd_nvme_sqe c = sqe(CSD_IO_MEMORY_WRITE, CSD_NSID_SLM);

	c.cdw10 = (uint32_t)sb;
	c.cdw11 = (uint32_t)(sb >> 32);
	c.cdw12 = len;
	return drive_cmd(d, 1, &c, (void *)buf, len);
}

struct result mem_read(struct drive *d, uint64_t sb, void *buf, uint32_t len)
{
	struct csd_nvme_sqe c = sqe(CSD_IO_MEMORY_READ, CSD_NSID_SLM);

	c.cdw10 = (uint32_t)sb;
	c.cdw11 = (uint32_t)(sb >> 32);
	c.cdw12 = len;
	return drive_cmd(d, 1, &c, buf, len);
}

struct result load_program(struct drive *d, uint16_t pind, uint8_t ptype, const void *image,
			   uint32_t size, uint32_t chunk)
{
	struct result r = { 0 };

	for (uint32_t off = 0; off < size; off += chunk) {
		struct csd_nvme_sqe c = sqe(CSD_ADMIN_LOAD_PROGRAM, CSD_NSID_COMPUTE);
		uint32_t n = size - off < chunk ? size - off : chunk;

		c.cdw10 = pind | ((uint32_t)ptype << 16);
		c.cdw11 = size;
		c.cdw14 = n;
		c.cdw15 = off;
		r = drive_cmd(d, 0, &c, (uint8_t *)image + off, n);
		if (r.status)
			break;
	}
	return r;
}

uint16_t load_asm(struct drive *d, uint16_t pind, const char *text)
{
	struct csd_ebpf_insn *insns;
	char err[128];
	size_t cnt;
	uint16_t status;

	if (csd_ebpf_asm(text, &insns, &cnt, err, sizeof(err))) {
		fprintf(stderr, "load_asm: %s\n", err);
		abort();
	}
	status = load_program(d, pind, CSD_PTYPE_EBPF_RAW, insns, (uint32_t)(cnt * 8), 4096).status;
	free(insns);
	return status ? status : activate(d, pind, true).status;
}

struct result activate(struct drive *d, uint16_t pind, bool on)
{
	struct csd_nvme_sqe c = sqe(CSD_ADMIN_PROGRAM_ACTIVATION, CSD_NSID_COMPUTE);

	c.cdw10 = pind | ((on ? 1u : 0u) << 16);
	return drive_cmd(d, 0, &c, NULL, 0);
}

struct result range_set_create(struct drive *d, const struct csd_mem_range *r, uint32_t n)
{
	struct csd_nvme_sqe c = sqe(CSD_ADMIN_MEMORY_RANGE_SET, CSD_NSID_COMPUTE);

	c.cdw11 = n;
	return drive_cmd(d, 0, &c, (void *)r, n * (uint32_t)sizeof(*r));
}

struct result execute(struct drive *d, uint16_t pind, uint16_t rsid, uint64_t p1, uint64_t p2,
		      const struct csd_mem_range *inline_ranges, uint32_t n)
{
	struct csd_nvme_sqe c = sqe(CSD_IO_EXECUTE_PROGRAM, CSD_NSID_COMPUTE);

	c.cdw2 = pind | ((uint32_t)rsid << 16);
	c.cdw3 = n;
	c.cdw10 = (uint32_t)p1;
	c.cdw11 = (uint32_t)(p1 >> 32);
	c.cdw12 = (uint32_t)p2;
	c.cdw13 = (uint32_t)(p2 >> 32);
	return drive_cmd(d, 2, &c, (void *)inline_ranges, n * (uint32_t)sizeof(*inline_ranges));
}
