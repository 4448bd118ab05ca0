/* SPDX-License-Identifier: MIT */
/*
 * The memory namespace (CSI 3, Subsystem Local Memory): Memory Read and Write over the link,
 * and Memory Copy inside the drive, from NVM LBA ranges or from other memory ranges. Offsets
 * and lengths are bytes, dword-aligned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "device_internal.h"

#define MAX_COPY_BYTES	(256u << 20)	/* one Memory Copy moves at most this much */

static uint16_t check_mem(struct csd_req *req, uint64_t sb, uint64_t len, size_t field)
{
	const struct csd_ns_slm *m = &req->ctrl->subsys->slm;

	if (sb % 4 || len % 4 || len == 0) {
		req->error_loc = (uint16_t)field;
		return SC_INVALID_FIELD;
	}
	if (sb >= m->size || len > m->size - sb) {
		req->error_loc = (uint16_t)field;
		return SC_LBA_RANGE;	/* out of the namespace's capacity */
	}
	return SC_OK;
}

uint8_t *csd_slm_of(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	struct csd_ns_slm *m = &s->slm;
	const char *owner = s->cfg.share_programs ? "" : req->ctrl->hostnqn;
	uint8_t *mem = NULL;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < m->nparts && !mem; i++)
		if (!strcmp(m->parts[i].owner, owner))
			mem = m->parts[i].mem;
	if (!mem && m->nparts < CSD_SLM_MAX_HOSTS) {
		/*
		 * Zero-filled, and no memory is taken until a page is written. In a sandbox, so
		 * that programs over it run as sandboxed JIT code: a wrong proof reaches at most
		 * this host's own SLM or the guard pages (docs/ebpf-runtime.md).
		 */
		void *p = csd_ebpf_sandbox_alloc(m->size);
		bool sandboxed = p != NULL;

		if (!p)
			p = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED) {
			struct csd_slm_part *part = &m->parts[m->nparts++];

			snprintf(part->owner, sizeof(part->owner), "%s", owner);
			part->mem = mem = p;
			part->sandboxed = sandboxed;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return mem;
}

void csd_slm_free(struct csd_subsys *s)
{
	for (unsigned i = 0; i < s->slm.nparts; i++) {
		if (s->slm.parts[i].sandboxed)
			csd_ebpf_sandbox_free(s->slm.parts[i].mem);
		else
			munmap(s->slm.parts[i].mem, s->slm.size);
	}
	s->slm.nparts = 0;
	pthread_mutex_destroy(&s->slm.lock);
}

static void execute_mem_rw(struct csd_req *req)
{
	uint64_t sb = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	uint8_t *slm = csd_slm_of(req);

	if (!slm) {
		csd_req_complete(req, SC_CS(CSD_SC_INSUFFICIENT_RESOURCES));
		return;
	}
	if (req->cmd.opcode == CSD_IO_MEMORY_READ) {
		csd_req_copy_out(req, slm + sb, req->data_len);
		REQ_STAT(req, slm_bytes_read, req->data_len);
	} else {
		memcpy(slm + sb, req->data, req->data_len);
		REQ_STAT(req, slm_bytes_written, req->data_len);
	}
	csd_req_complete(req, SC_OK);
}

static void execute_mem_copy(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	uint64_t dst = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	unsigned nr = (req->cmd.cdw12 & 0xff) + 1, fmt = (req->cmd.cdw12 >> 8) & 0xf;
	uint64_t total = 0, at = dst;
	uint16_t status = SC_OK;
	uint8_t *slm = csd_slm_of(req);

	/* check every source and the whole destination before anything moves */
	for (unsigned i = 0; i < nr && !status; i++) {
		if (fmt == CSD_COPY_DESFMT_NVM) {
			const struct csd_copy_src_nvm *d = (const struct csd_copy_src_nvm *)req->data + i;
			uint64_t nlb = (uint64_t)d->nlb + 1;

			if (d->nsid != CSD_NSID_NVM) {
				status = SC_CS(CSD_SC_NS_NOT_REACHABLE);
			} else if (d->slba >= s->nvm.nlb || nlb > s->nvm.nlb - d->slba) {
				status = SC_LBA_RANGE;
			}
			total += nlb << s->nvm.lba_shift;
		} else {
			const struct csd_mem_range *d = (const struct csd_mem_range *)req->data + i;

			if (d->nsid != CSD_NSID_SLM)
				status = SC_CS(CSD_SC_INVALID_MEMORY_NS);
			else
				status = check_mem(req, d->sb, d->len, offsetof(struct csd_nvme_sqe, dptr));
			total += d->len;
		}
	}
	if (!status && total > MAX_COPY_BYTES) {
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw12);
		status = SC_CS(NVME_SC_CMD_SIZE_LIMIT_EXCEEDED);
	}
	if (!status)
		status = check_mem(req, dst, total, offsetof(struct csd_nvme_sqe, cdw10));
	if (!status && !slm)
		status = SC_CS(CSD_SC_INSUFFICIENT_RESOURCES);
	for (unsigned i = 0; i < nr && !status; i++) {
		if (fmt == CSD_COPY_DESFMT_NVM) {
			const struct csd_copy_src_nvm *d = (const struct csd_copy_src_nvm *)req->data + i;
			uint64_t nlb = (uint64_t)d->nlb + 1;

			status = csd_nvm_read_internal(req, d->slba, nlb, slm + at);
			at += nlb << s->nvm.lba_shift;
		} else {
			const struct csd_mem_range *d = (const struct csd_mem_range *)req->data + i;

			memmove(slm + at, slm + d->sb, d->len);
			at += d->len;
		}
	}
	if (!status)
		REQ_STAT(req, internal_bytes_moved, total);
	csd_req_complete(req, status);
}

uint16_t csd_parse_slm(struct csd_req *req)
{
	uint64_t sb = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	uint32_t len = req->cmd.cdw12;
	unsigned fmt;
	uint16_t status;

	switch (req->cmd.opcode) {
	case CSD_IO_MEMORY_READ:
	case CSD_IO_MEMORY_WRITE:
		if ((status = check_mem(req, sb, len, offsetof(struct csd_nvme_sqe, cdw10))))
			return status;
		if (len > CSD_MAX_TRANSFER) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw12);
			return SC_INVALID_FIELD;
		}
		req->execute = execute_mem_rw;
		return csd_req_check_len(req, len);
	case CSD_IO_MEMORY_COPY:
		fmt = (req->cmd.cdw12 >> 8) & 0xf;
		if (fmt != CSD_COPY_DESFMT_NVM && fmt != CSD_COPY_DESFMT_MEMORY) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw12);
			return SC_INVALID_FIELD;
		}
		/* copies of up to a whole namespace: on the slow I/O worker */
		req->deferred = execute_mem_copy;
		req->execute = csd_defer_io;
		/* both descriptor formats are 32 bytes */
		return csd_req_check_len(req, ((req->cmd.cdw12 & 0xff) + 1) * 32);
	default:
		req->error_loc = offsetof(struct csd_nvme_sqe, opcode);
		return SC_INVALID_OPCODE;
	}
}
