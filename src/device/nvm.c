/* SPDX-License-Identifier: MIT */
/*
 * The NVM namespace (CSI 0) on a sparse backing file: Read, Write (FUA), Flush, Write Zeroes,
 * Dataset Management (deallocate punches holes, which read back as zeroes) and Copy. What a
 * write acknowledges is in the page cache; Flush or FUA puts it on the file (fdatasync), and
 * a shutdown flushes too. Or, as SPDK's Malloc bdev, in memory (nvm_map.c: anonymous memory,
 * every access a memcpy): lost when the drive stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "device_internal.h"

#define NVM_FUA		(1u << 30)	/* CDW12 */

/*
 * FUA, or the host turned the volatile write cache off: the write is on the file when done.
 * A namespace in memory has no medium behind it: a write there is as durable as it gets.
 */
static bool write_through(const struct csd_req *req)
{
	return ((req->cmd.cdw12 & NVM_FUA) || req->ctrl->write_cache_off) &&
	       !req->ctrl->subsys->nvm.in_memory;
}
#define COPY_CHUNK	(1u << 20)

/* Size checks common to a file and memory: bytes is the namespace's size, have a file's */
static int check_size(const struct csd_subsys *s, const char *name, uint64_t bytes, uint64_t have,
		      char *err, size_t err_size)
{
	if (bytes < have) {
		/* the data past the new end would be gone */
		snprintf(err, err_size, "%s is %llu bytes, more than the namespace size %llu: an "
			 "existing backing file is never shortened (leave the size out to use the "
			 "file's)", name, (unsigned long long)have, (unsigned long long)bytes);
		return -EINVAL;
	}
	if (bytes < s->cfg.lba_size || bytes % s->cfg.lba_size) {
		snprintf(err, err_size, "%s: namespace size %llu is not a positive multiple of the "
			 "LBA size %u", name, (unsigned long long)bytes, s->cfg.lba_size);
		return -EINVAL;
	}
	return 0;
}

static int open_file(struct csd_subsys *s, uint64_t *bytes, char *err, size_t err_size)
{
	struct csd_ns_nvm *n = &s->nvm;
	const char *path = s->cfg.backing_path;
	struct stat st;
	int ret;

	n->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (n->fd < 0 || fstat(n->fd, &st)) {
		ret = -errno;
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!*bytes)
		*bytes = st.st_size ? (uint64_t)st.st_size : CSD_NVM_DEFAULT_BYTES;
	if ((ret = check_size(s, path, *bytes, (uint64_t)st.st_size, err, err_size)))
		goto fail;
	/* sparse: only what is written takes space */
	if ((uint64_t)st.st_size != *bytes && ftruncate(n->fd, (off_t)*bytes)) {
		ret = -errno;
		snprintf(err, err_size, "%s: cannot size to %llu bytes: %s", path,
			 (unsigned long long)*bytes, strerror(errno));
		goto fail;
	}
	csd_nvm_map(n, *bytes);
	return 0;
fail:
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
	return ret;
}

static int open_memory(struct csd_subsys *s, uint64_t *bytes, char *err, size_t err_size)
{
	const char *name = "NVM in memory";
	int ret;

	if (!*bytes)
		*bytes = CSD_NVM_DEFAULT_BYTES;
	if ((ret = check_size(s, name, *bytes, 0, err, err_size)))
		return ret;
	s->nvm.in_memory = true;
	if ((ret = csd_nvm_memory_create(&s->nvm, *bytes)))
		snprintf(err, err_size, "%s: cannot map %llu bytes: %s", name,
			 (unsigned long long)*bytes, strerror(-ret));
	return ret;
}

int csd_nvm_open(struct csd_subsys *s, char *err, size_t err_size)
{
	struct csd_ns_nvm *n = &s->nvm;
	uint64_t bytes = s->cfg.nvm_bytes;
	int ret = s->cfg.nvm_in_memory ? open_memory(s, &bytes, err, err_size)
				       : open_file(s, &bytes, err, err_size);

	if (ret)
		return ret;
	n->lba_size = s->cfg.lba_size;
	n->lba_shift = (uint8_t)__builtin_ctz(n->lba_size);
	n->nlb = bytes >> n->lba_shift;
	return 0;
}

/* Flush: what the page cache holds, onto the file; nothing to do in memory */
int csd_nvm_sync(struct csd_subsys *s)
{
	return s->nvm.in_memory || !fdatasync(s->nvm.fd) ? 0 : errno;
}

void csd_nvm_close(struct csd_subsys *s)
{
	csd_nvm_unmap(&s->nvm);
	if (s->nvm.fd >= 0) {
		csd_nvm_sync(s);
		close(s->nvm.fd);
		s->nvm.fd = -1;
	}
}

/*
 * Capacity Exceeded is a generic status, Write Fault a media error (SCT 2h): the fault
 * injection test (tests/fault) found both sent with the command-specific type before.
 */
static uint16_t io_status(int err)
{
	return err == ENOSPC ? SC_GENERIC(NVME_SC_CAP_EXCEEDED) | CSD_NVME_DNR :
	       CSD_NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT) | CSD_NVME_DNR;
}

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0) {	/* past the end of a shorter file: zeroes */
			memset((uint8_t *)buf + done, 0, len - done);
			return 0;
		}
		done += (size_t)n;
	}
	return 0;
}

/*
 * Small reads from the mapping (a memcpy instead of a system call), large ones and any the
 * mapping could not serve from the file. Large ones not from the mapping: the copy walks the
 * mapping's 4 KiB pages, each a TLB miss that costs much more under nested virtualisation
 * than the kernel's copy through its huge-page direct map. Measured here with spdk_nvme_perf,
 * a new csd-target each run: 128 KiB reads through the mapping ran at about half pread()'s
 * rate; 4 KiB random reads at QD32 at 1.1-1.4 times it, at QD1 at about 0.93 (the first read
 * of each page in a process faults; docs/results.md).
 */
#define NVM_MAP_MAX_COPY	(16u << 10)

static int nvm_read(const struct csd_subsys *s, void *buf, size_t len, off_t off)
{
	if (s->nvm.in_memory) {
		memcpy(buf, s->nvm.map + off, len);
		return 0;
	}
	if (len <= NVM_MAP_MAX_COPY && csd_nvm_map_copy(&s->nvm, buf, len, (uint64_t)off))
		return 0;
	return pread_full(s->nvm.fd, buf, len, off);
}

static int pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		done += (size_t)n;
	}
	return 0;
}

static int nvm_write(struct csd_subsys *s, const void *buf, size_t len, off_t off)
{
	if (s->nvm.in_memory) {
		memcpy(s->nvm.map + off, buf, len);
		return 0;
	}
	return pwrite_full(s->nvm.fd, buf, len, off);
}

uint16_t csd_nvm_read_internal(struct csd_req *req, uint64_t slba, uint64_t nlb, void *buf)
{
	struct csd_subsys *s = req->ctrl->subsys;
	int err;

	if (slba >= s->nvm.nlb || nlb > s->nvm.nlb - slba)
		return SC_LBA_RANGE;
	err = nvm_read(s, buf, nlb << s->nvm.lba_shift, (off_t)(slba << s->nvm.lba_shift));
	if (err)
		return SC_GENERIC(NVME_SC_INTERNAL);
	REQ_STAT(req, nvm_bytes_read, nlb << s->nvm.lba_shift);
	return SC_OK;
}

/* Run fn on the slow I/O worker: it may wait for the disk as long as the disk wants. */
static void defer(struct csd_req *req, void (*fn)(struct csd_req *))
{
	req->deferred = fn;
	req->execute = csd_defer_io;
}

static uint16_t check_lba_range(struct csd_req *req, uint64_t slba, uint64_t nlb)
{
	const struct csd_ns_nvm *n = &req->ctrl->subsys->nvm;

	if (slba >= n->nlb || nlb > n->nlb - slba) {
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
		return SC_LBA_RANGE;
	}
	return SC_OK;
}

/*
 * A long read for a transport that sends as it goes (c2h_ready), in parts of this size: the
 * host gets a 1 MiB read's first data before the rest is read, and each part is sent soon
 * after it was copied. Measured (bench/alpha --transfer-only, docs/results.md): the transfer
 * at a median 0.885 of loopback TCP against 0.79 read whole, within this machine's noise,
 * for a little more CPU time (eight pread() calls instead of one).
 */
#define NVM_READ_PART		(128u << 10)

static int nvm_read_in_parts(struct csd_req *req, const struct csd_subsys *s, size_t len,
			     off_t off)
{
	for (size_t done = 0; done < len;) {
		size_t n = len - done < NVM_READ_PART ? len - done : NVM_READ_PART;
		int err = nvm_read(s, (uint8_t *)req->data + done, n, off + (off_t)done);

		if (err)
			return err;
		done += n;
		if (done < len)
			req->c2h_ready(req, (uint32_t)done);
	}
	return 0;
}

static void execute_rw(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	uint64_t slba = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	size_t len = req->data_len;
	off_t off = (off_t)(slba << s->nvm.lba_shift);
	int err;

	if (req->cmd.opcode == nvme_cmd_read) {
		/*
		 * From memory: the transport sends it from there, a copy fewer (its CPU time; the
		 * rate of 128 KiB reads stayed the kernel's send, docs/results.md).
		 */
		if (s->nvm.in_memory && req->may_reference) {
			req->c2h_ref = s->nvm.map + off;
			err = 0;
		} else if (req->c2h_ready && len > NVM_READ_PART) {
			err = nvm_read_in_parts(req, s, len, off);
		} else {
			err = nvm_read(s, req->data, len, off);
		}
		if (!err) {
			req->c2h_len = (uint32_t)len;
			REQ_STAT(req, nvm_read_cmds, 1);
			REQ_STAT(req, nvm_bytes_read, len);
		}
		csd_req_complete(req, err ? SC_GENERIC(NVME_SC_INTERNAL) : SC_OK);
		return;
	}
	err = nvm_write(s, req->data, len, off);
	if (!err && write_through(req))
		err = csd_nvm_sync(s);
	if (!err) {
		REQ_STAT(req, nvm_write_cmds, 1);
		REQ_STAT(req, nvm_bytes_written, len);
	}
	csd_req_complete(req, err ? io_status(err) : SC_OK);
}

static void execute_flush(struct csd_req *req)
{
	int err = csd_nvm_sync(req->ctrl->subsys);

	csd_req_complete(req, err ? io_status(err) : SC_OK);
}

/* Zero or deallocate [slba, slba + nlb): a hole reads back as zeroes either way. */
static int zero_range(struct csd_subsys *s, uint64_t slba, uint64_t nlb)
{
	off_t off = (off_t)(slba << s->nvm.lba_shift), len = (off_t)(nlb << s->nvm.lba_shift);

	if (s->nvm.in_memory) {
		csd_nvm_memory_zero(&s->nvm, (uint64_t)off, (uint64_t)len);
		return 0;
	}
	if (fallocate(s->nvm.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
		return 0;
	/* a file system without holes: write zeroes */
	{
		static const uint8_t zeroes[65536];

		for (off_t done = 0; done < len;) {
			size_t n = (size_t)(len - done) < sizeof(zeroes) ? (size_t)(len - done)
									 : sizeof(zeroes);
			int err = pwrite_full(s->nvm.fd, zeroes, n, off + done);

			if (err)
				return err;
			done += (off_t)n;
		}
	}
	return 0;
}

static void execute_write_zeroes(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	uint64_t slba = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	uint64_t nlb = (req->cmd.cdw12 & 0xffff) + 1;
	int err = zero_range(s, slba, nlb);

	if (!err && write_through(req))
		err = csd_nvm_sync(s);
	csd_req_complete(req, err ? io_status(err) : SC_OK);
}

static void execute_dsm(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	const struct nvme_dsm_range *r = req->data;
	unsigned nr = (req->cmd.cdw10 & 0xff) + 1;
	uint16_t status = SC_OK;

	/* every range is checked before any is deallocated */
	for (unsigned i = 0; i < nr && !status; i++)
		status = check_lba_range(req, r[i].slba, r[i].nlb);
	if (!status && (req->cmd.cdw11 & NVME_DSMGMT_AD)) {
		for (unsigned i = 0; i < nr && !status; i++)
			if (r[i].nlb && zero_range(s, r[i].slba, r[i].nlb))
				status = io_status(errno);
	}
	csd_req_complete(req, status);
}

static void execute_copy(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	const struct nvme_copy_range *r = req->data;
	unsigned nr = (req->cmd.cdw12 & 0xff) + 1;
	uint64_t dlba = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32), total = 0;
	uint16_t status = SC_OK;
	uint8_t *buf = NULL;

	for (unsigned i = 0; i < nr && !status; i++) {
		status = check_lba_range(req, r[i].slba, (uint64_t)r[i].nlb + 1);
		total += (uint64_t)r[i].nlb + 1;
	}
	if (!status)
		status = check_lba_range(req, dlba, total);
	if (!status && total > (1u << 20)) {	/* MCL */
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw12);
		status = SC_CS(NVME_SC_CMD_SIZE_LIMIT_EXCEEDED);
	}
	if (!status && !(buf = malloc(COPY_CHUNK)))
		status = SC_INTERNAL;
	/* ranges are read and written in order, through a bounce buffer, as a host would see */
	for (unsigned i = 0; i < nr && !status; i++) {
		uint64_t left = ((uint64_t)r[i].nlb + 1) << s->nvm.lba_shift;
		off_t src = (off_t)(r[i].slba << s->nvm.lba_shift);

		while (left && !status) {
			size_t n = left < COPY_CHUNK ? (size_t)left : COPY_CHUNK;
			int err = nvm_read(s, buf, n, src);

			if (!err)
				err = nvm_write(s, buf, n, (off_t)(dlba << s->nvm.lba_shift));
			if (err)
				status = io_status(err);
			src += (off_t)n;
			dlba += n >> s->nvm.lba_shift;
			left -= n;
			REQ_STAT(req, internal_bytes_moved, n);
		}
	}
	free(buf);
	if (!status && write_through(req) && (status = csd_nvm_sync(s)))
		status = io_status(status);
	csd_req_complete(req, status);
}

uint16_t csd_parse_nvm(struct csd_req *req)
{
	const struct csd_ns_nvm *n = &req->ctrl->subsys->nvm;
	uint64_t slba = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	uint64_t nlb = (req->cmd.cdw12 & 0xffff) + 1;
	uint16_t status;

	switch (req->cmd.opcode) {
	case nvme_cmd_read:
	case nvme_cmd_write:
		if ((status = check_lba_range(req, slba, nlb)))
			return status;
		if ((nlb << n->lba_shift) > CSD_MAX_TRANSFER) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw12);
			return SC_INVALID_FIELD;
		}
		/* a FUA write waits for the disk: on a worker, not the network thread */
		req->execute = execute_rw;
		if (req->cmd.opcode == nvme_cmd_write && write_through(req))
			defer(req, execute_rw);
		return csd_req_check_len(req, (uint32_t)(nlb << n->lba_shift));
	case nvme_cmd_flush:
		defer(req, execute_flush);
		return csd_req_check_len(req, 0);
	case nvme_cmd_write_zeroes:
		if ((status = check_lba_range(req, slba, nlb)))
			return status;
		defer(req, execute_write_zeroes);
		return csd_req_check_len(req, 0);
	case nvme_cmd_dsm: {
		uint32_t need = ((req->cmd.cdw10 & 0xff) + 1) * (uint32_t)sizeof(struct nvme_dsm_range);

		/* the ranges, in a buffer that may be larger (Linux can send a whole page) */
		defer(req, execute_dsm);
		if (req->data_len < need || req->data_len > 4096 || !req->data) {
			req->error_loc = offsetof(struct csd_nvme_sqe, dptr);
			return SC_DATA_LEN;
		}
		return SC_OK;
	}
	case nvme_cmd_copy:
		if (((req->cmd.cdw12 >> 8) & 0xf) != 0) {	/* descriptor format 0 only */
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw12);
			return SC_INVALID_FIELD;
		}
		defer(req, execute_copy);
		return csd_req_check_len(req, ((req->cmd.cdw12 & 0xff) + 1) *
					      (uint32_t)sizeof(struct nvme_copy_range));
	default:
		req->error_loc = offsetof(struct csd_nvme_sqe, opcode);
		return SC_INVALID_OPCODE;
	}
}
