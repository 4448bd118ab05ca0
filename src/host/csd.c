/* SPDX-License-Identifier: MIT */
/*
 * libcsd: the drive's commands as calls, over a backend (an ops table: csdlab's NVMe/TCP
 * initiator, or Linux passthrough). Every call builds one NVMe command; results are 0, a
 * negative errno (not carried) or a positive NVMe status (answered with an error).
 */
#include <errno.h>
#include <nvme/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csd/csd.h"
#include "host_internal.h"
#include "util.h"

#define SLM_NSID_UNKNOWN 0

/* The NVMe status of a completion without phase, More and DNR bits. */
static int cqe_result(const struct csd_nvme_cqe *cqe)
{
	return (cqe->status >> 1) & 0x7ff;
}

int csd_host_cqe_result(const struct csd_nvme_cqe *cqe)
{
	return cqe_result(cqe);
}

const char *csd_strerror(int result, char *buf, size_t size)
{
	if (result < 0)
		snprintf(buf, size, "%s", strerror(-result));
	else if (result == 0)
		snprintf(buf, size, "Success");
	else
		snprintf(buf, size, "%s (NVMe status 0x%03x)", csd_nvme_status_str((uint16_t)result),
			 result);
	return buf;
}

int csd_dev__connect(const struct csd_connect_opts *opts, struct csd_dev **out, char *err,
		     size_t err_size)
{
	const char *tr = opts && opts->transport ? opts->transport : "tcp";
	struct csd_dev *dev;
	int ret;

	if (!opts || opts->sz < sizeof(*opts)) {
		snprintf(err, err_size, "connect options with their size are needed");
		return -EINVAL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	if (!strcmp(tr, "tcp")) {
		ret = csd_tcp_backend_open(dev, opts, err, err_size);
	} else if (!strcmp(tr, "linux")) {
		ret = csd_linux_backend_open(dev, opts, err, err_size);
	} else {
		snprintf(err, err_size, "transport '%s': tcp or linux expected", tr);
		ret = -EINVAL;
	}
	if (ret) {
		free(dev);
		return ret;
	}
	*out = dev;
	return 0;
}

void csd_dev__disconnect(struct csd_dev *dev)
{
	if (!dev)
		return;
	dev->ops->close(dev);
	free(dev);
}

int csd_dev__cmd(struct csd_dev *dev, uint16_t qid, struct csd_nvme_sqe *sqe, void *data,
		 uint32_t len, uint64_t *result)
{
	struct csd_nvme_cqe cqe = { 0 };
	int ret = dev->ops->cmd(dev, qid, sqe, data, len, &cqe);

	if (ret)
		return ret;
	if (result)
		*result = cqe.dw0 | ((uint64_t)cqe.dw1 << 32);
	return cqe_result(&cqe);
}

int csd_dev__submit(struct csd_dev *dev, uint16_t qid, struct csd_async *a)
{
	return dev->ops->submit(dev, qid, a);
}

struct csd_async *csd_dev__reap(struct csd_dev *dev, uint16_t qid, int *err)
{
	return dev->ops->reap(dev, qid, err);
}

unsigned csd_dev__nr_io_queues(const struct csd_dev *dev)
{
	return dev->nio;
}

/* I/O commands go to queue 1 unless the caller spreads them itself. */
static int io(struct csd_dev *dev, struct csd_nvme_sqe *sqe, void *data, uint32_t len,
	      uint64_t *result)
{
	return csd_dev__cmd(dev, dev->nio ? 1 : 0, sqe, data, len, result);
}

int csd_dev__identify_ctrl(struct csd_dev *dev, void *id)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_identify, .cdw10 = NVME_IDENTIFY_CNS_CTRL };

	return csd_dev__cmd(dev, 0, &c, id, 4096, NULL);
}

static int identify(struct csd_dev *dev, uint8_t cns, uint32_t nsid, uint8_t csi, void *buf)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_identify, .nsid = nsid, .cdw10 = cns,
				  .cdw11 = (uint32_t)csi << 24 };

	return csd_dev__cmd(dev, 0, &c, buf, 4096, NULL);
}

int csd_dev__list_ns(struct csd_dev *dev, struct csd_ns_info *out, size_t max, size_t *n)
{
	uint8_t *buf = malloc(4096), *desc = malloc(4096);
	uint32_t list[1024];
	int ret;

	*n = 0;
	if (!buf || !desc) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = identify(dev, NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 0, 0, list)))
		goto out;
	for (size_t i = 0; i < 1024 && list[i] && *n < max; i++) {
		struct csd_ns_info *ns = &out[*n];
		uint8_t *p = desc;

		memset(ns, 0, sizeof(*ns));
		ns->nsid = list[i];
		if ((ret = identify(dev, NVME_IDENTIFY_CNS_NS_DESC_LIST, ns->nsid, 0, desc)))
			goto out;
		while (p + 4 <= desc + 4096 && p[1]) {
			if (p[0] == NVME_NIDT_CSI)
				ns->csi = p[4];
			p += 4 + p[1];
		}
		if (ns->csi == CSD_CSI_NVM) {
			struct nvme_id_ns *id = (struct nvme_id_ns *)buf;

			if ((ret = identify(dev, NVME_IDENTIFY_CNS_NS, ns->nsid, 0, buf)))
				goto out;
			ns->lba_size = 1u << id->lbaf[id->flbas & 0xf].ds;
			ns->size = id->nsze * ns->lba_size;
		} else if (ns->csi == CSD_CSI_SLM) {
			if ((ret = identify(dev, NVME_IDENTIFY_CNS_CSI_NS, ns->nsid, CSD_CSI_SLM, buf)))
				goto out;
			memcpy(&ns->size, buf, sizeof(ns->size));
		}
		(*n)++;
	}
out:
	free(buf);
	free(desc);
	return ret;
}

int csd_dev__find_ns(struct csd_dev *dev, uint8_t csi, struct csd_ns_info *out)
{
	if (!dev->nns) {
		int ret = csd_dev__list_ns(dev, dev->ns, sizeof(dev->ns) / sizeof(dev->ns[0]),
					   &dev->nns);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < dev->nns; i++) {
		if (dev->ns[i].csi == csi) {
			*out = dev->ns[i];
			return 0;
		}
	}
	return -ENOENT;
}

static int ns_of(struct csd_dev *dev, uint8_t csi, uint32_t *nsid, uint32_t *lba_size)
{
	struct csd_ns_info ns;
	int ret = csd_dev__find_ns(dev, csi, &ns);

	if (ret)
		return ret;
	*nsid = ns.nsid;
	if (lba_size)
		*lba_size = ns.lba_size;
	return 0;
}

static int nvm_rw(struct csd_dev *dev, uint8_t opcode, uint64_t slba, uint32_t nlb, void *buf,
		  bool fua)
{
	struct csd_nvme_sqe c = { .opcode = opcode, .cdw10 = (uint32_t)slba,
				  .cdw11 = (uint32_t)(slba >> 32),
				  .cdw12 = (nlb - 1) | (fua ? 1u << 30 : 0) };
	uint32_t lba_size;
	int ret;

	if (nlb == 0 || nlb > 65536)
		return -EINVAL;
	if ((ret = ns_of(dev, CSD_CSI_NVM, &c.nsid, &lba_size)))
		return ret;
	return io(dev, &c, buf, nlb * lba_size, NULL);
}

int csd_dev__read(struct csd_dev *dev, uint64_t slba, uint32_t nlb, void *buf)
{
	return nvm_rw(dev, nvme_cmd_read, slba, nlb, buf, false);
}

int csd_dev__write(struct csd_dev *dev, uint64_t slba, uint32_t nlb, const void *buf, bool fua)
{
	return nvm_rw(dev, nvme_cmd_write, slba, nlb, (void *)buf, fua);
}

int csd_dev__flush(struct csd_dev *dev)
{
	struct csd_nvme_sqe c = { .opcode = nvme_cmd_flush };
	int ret = ns_of(dev, CSD_CSI_NVM, &c.nsid, NULL);

	return ret ? ret : io(dev, &c, NULL, 0, NULL);
}

/* The most one command may move (Identify Controller's MDTS, in 4 KiB pages; 0: no limit). */
static int max_transfer(struct csd_dev *dev, uint32_t *out)
{
	if (!dev->max_transfer) {
		struct nvme_id_ctrl *id = malloc(sizeof(*id));
		int ret = id ? csd_dev__identify_ctrl(dev, id) : -ENOMEM;

		if (ret) {
			free(id);
			return ret;
		}
		dev->max_transfer = id->mdts && id->mdts < 20 ? 4096u << id->mdts : 1u << 31;
		free(id);
	}
	*out = dev->max_transfer;
	return 0;
}

/* Memory Read/Write: in commands of at most the transfer limit (whole dwords). */
static int mem_rw(struct csd_dev *dev, uint8_t opcode, uint64_t off, void *buf, uint32_t len)
{
	uint32_t nsid, max;
	int ret = ns_of(dev, CSD_CSI_SLM, &nsid, NULL);

	if (!ret)
		ret = max_transfer(dev, &max);
	for (uint32_t done = 0; !ret && done < len;) {
		uint32_t n = len - done < max ? len - done : max;
		uint64_t at = off + done;
		struct csd_nvme_sqe c = { .opcode = opcode, .nsid = nsid, .cdw10 = (uint32_t)at,
					  .cdw11 = (uint32_t)(at >> 32), .cdw12 = n };

		ret = io(dev, &c, (uint8_t *)buf + done, n, NULL);
		done += n;
	}
	return ret;
}

int csd_dev__mem_read(struct csd_dev *dev, uint64_t off, void *buf, uint32_t len)
{
	return mem_rw(dev, CSD_IO_MEMORY_READ, off, buf, len);
}

int csd_dev__mem_write(struct csd_dev *dev, uint64_t off, const void *buf, uint32_t len)
{
	return mem_rw(dev, CSD_IO_MEMORY_WRITE, off, (void *)buf, len);
}

static int mem_copy(struct csd_dev *dev, uint64_t dst, unsigned fmt, void *desc)
{
	struct csd_nvme_sqe c = { .opcode = CSD_IO_MEMORY_COPY, .cdw10 = (uint32_t)dst,
				  .cdw11 = (uint32_t)(dst >> 32), .cdw12 = fmt << 8 };
	int ret = ns_of(dev, CSD_CSI_SLM, &c.nsid, NULL);

	return ret ? ret : io(dev, &c, desc, 32, NULL);
}

int csd_dev__mem_copy_from_nvm(struct csd_dev *dev, uint64_t dst, uint64_t slba, uint32_t nlb)
{
	struct csd_copy_src_nvm src = { .slba = slba, .nlb = nlb - 1 };
	int ret = ns_of(dev, CSD_CSI_NVM, &src.nsid, NULL);

	if (nlb == 0)
		return -EINVAL;
	return ret ? ret : mem_copy(dev, dst, CSD_COPY_DESFMT_NVM, &src);
}

int csd_dev__mem_copy(struct csd_dev *dev, uint64_t dst, uint64_t src, uint32_t len)
{
	struct csd_mem_range r = { .sb = src, .len = len };
	int ret = ns_of(dev, CSD_CSI_SLM, &r.nsid, NULL);

	return ret ? ret : mem_copy(dev, dst, CSD_COPY_DESFMT_MEMORY, &r);
}

/* Programs: Load Program in chunks that fit a capsule (8 KiB), so no R2T is needed. */
int csd_dev__program_load(struct csd_dev *dev, uint16_t pind, uint8_t ptype, const void *image,
			  uint32_t size)
{
	const uint32_t chunk = 8192;
	uint32_t nsid;
	int ret = ns_of(dev, CSD_CSI_COMPUTE, &nsid, NULL);

	if (ret)
		return ret;
	if (!size)
		return -EINVAL;
	for (uint32_t off = 0; off < size; off += chunk) {
		uint32_t n = size - off < chunk ? size - off : chunk;
		struct csd_nvme_sqe c = { .opcode = CSD_ADMIN_LOAD_PROGRAM, .nsid = nsid,
					  .cdw10 = pind | ((uint32_t)ptype << 16), .cdw11 = size,
					  .cdw14 = n, .cdw15 = off };

		if ((ret = csd_dev__cmd(dev, 0, &c, (uint8_t *)image + off, n, NULL)))
			return ret;
	}
	return 0;
}

int csd_dev__program_load_file(struct csd_dev *dev, uint16_t pind, const char *path,
			       const char *name)
{
	size_t nlen = name ? strlen(name) : 0, len;
	bool elf;
	uint8_t *buf;
	int ret = csd_read_file(path, &buf, &len);

	if (ret)
		return ret;
	elf = len >= 4 && !memcmp(buf, "\177ELF", 4);
	if (name && (!elf || nlen == 0 || nlen > 63)) {
		free(buf);
		return -EINVAL;	/* a name picks a program of an ELF object, 1-63 bytes */
	}
	if (nlen) {
		uint8_t *b = realloc(buf, len + nlen + 10);
		uint16_t n16 = (uint16_t)nlen;

		if (!b) {
			free(buf);
			return -ENOMEM;
		}
		buf = b;
		memcpy(buf + len, name, nlen);
		memcpy(buf + len + nlen, &n16, 2);
		memcpy(buf + len + nlen + 2, CSD_PROGRAM_NAME_MAGIC, 8);
		len += nlen + 10;
	}
	if (len > UINT32_MAX)
		ret = -EFBIG;
	else
		ret = csd_dev__program_load(dev, pind, elf ? CSD_PTYPE_EBPF_ELF : CSD_PTYPE_EBPF_RAW,
					    buf, (uint32_t)len);
	free(buf);
	return ret;
}

int csd_dev__program_unload(struct csd_dev *dev, uint16_t pind)
{
	struct csd_nvme_sqe c = { .opcode = CSD_ADMIN_LOAD_PROGRAM, .cdw10 = pind | (1u << 24) };
	int ret = ns_of(dev, CSD_CSI_COMPUTE, &c.nsid, NULL);

	return ret ? ret : csd_dev__cmd(dev, 0, &c, NULL, 0, NULL);
}

int csd_dev__program_activate(struct csd_dev *dev, uint16_t pind, bool active)
{
	struct csd_nvme_sqe c = { .opcode = CSD_ADMIN_PROGRAM_ACTIVATION,
				  .cdw10 = pind | ((active ? 1u : 0u) << 16) };
	int ret = ns_of(dev, CSD_CSI_COMPUTE, &c.nsid, NULL);

	return ret ? ret : csd_dev__cmd(dev, 0, &c, NULL, 0, NULL);
}

int csd_dev__get_log(struct csd_dev *dev, uint8_t lid, uint8_t lsp, uint8_t csi, void *buf,
		     uint32_t len)
{
	struct csd_nvme_sqe c = { .opcode = nvme_admin_get_log_page, .nsid = 0xffffffff,
				  .cdw10 = lid | ((uint32_t)lsp << 8) | ((len / 4 - 1) << 16),
				  .cdw11 = (len / 4 - 1) >> 16, .cdw14 = (uint32_t)csi << 24 };

	if (len == 0 || len % 4)
		return -EINVAL;
	return csd_dev__cmd(dev, 0, &c, buf, len, NULL);
}

int csd_dev__program_list(struct csd_dev *dev, struct csd_program_entry *list)
{
	return csd_dev__get_log(dev, CSD_LOG_PROGRAM_LIST, 0, 0, list,
				16 * sizeof(struct csd_program_entry));
}

int csd_dev__mrs_create(struct csd_dev *dev, const struct csd_mem_range *r, uint32_t n,
			uint16_t *rsid)
{
	struct csd_nvme_sqe c = { .opcode = CSD_ADMIN_MEMORY_RANGE_SET, .cdw11 = n };
	uint64_t v = 0;
	int ret = ns_of(dev, CSD_CSI_COMPUTE, &c.nsid, NULL);

	if (ret)
		return ret;
	ret = csd_dev__cmd(dev, 0, &c, (void *)r, n * (uint32_t)sizeof(*r), &v);
	if (!ret)
		*rsid = (uint16_t)v;
	return ret;
}

int csd_dev__mrs_delete(struct csd_dev *dev, uint16_t rsid)
{
	struct csd_nvme_sqe c = { .opcode = CSD_ADMIN_MEMORY_RANGE_SET,
				  .cdw10 = 1 | ((uint32_t)rsid << 16) };
	int ret = ns_of(dev, CSD_CSI_COMPUTE, &c.nsid, NULL);

	return ret ? ret : csd_dev__cmd(dev, 0, &c, NULL, 0, NULL);
}

int csd_dev__exec(struct csd_dev *dev, uint16_t pind, uint16_t rsid,
		  const struct csd_mem_range *ranges, uint32_t n, uint64_t p1, uint64_t p2,
		  uint64_t *result)
{
	struct csd_nvme_sqe c = { .opcode = CSD_IO_EXECUTE_PROGRAM,
				  .cdw2 = pind | ((uint32_t)rsid << 16), .cdw3 = n,
				  .cdw10 = (uint32_t)p1, .cdw11 = (uint32_t)(p1 >> 32),
				  .cdw12 = (uint32_t)p2, .cdw13 = (uint32_t)(p2 >> 32) };
	int ret = ns_of(dev, CSD_CSI_COMPUTE, &c.nsid, NULL);

	return ret ? ret : io(dev, &c, (void *)ranges, n * (uint32_t)sizeof(*ranges), result);
}

int csd_dev__exec_stream_opts(struct csd_dev *dev, uint16_t pind,
			      const struct csd_stream_range *r, uint32_t n,
			      const struct csd_stream_opts *opts, uint64_t *result)
{
	struct csd_stream_opts o = { 0 };
	struct csd_nvme_sqe c = { .opcode = CSD_IO_VENDOR_EXECUTE_STREAM };
	int ret;

	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (o.combine > 0xf)
		return -EINVAL;
	c.cdw2 = pind | (uint32_t)o.combine << 16 | (o.sequential ? CSD_STREAM_SEQUENTIAL : 0);
	c.cdw3 = o.overlap;
	c.cdw10 = (uint32_t)o.p1;
	c.cdw11 = (uint32_t)(o.p1 >> 32);
	c.cdw12 = (uint32_t)o.p2;
	c.cdw13 = (uint32_t)(o.p2 >> 32);
	c.cdw15 = o.window;
	ret = ns_of(dev, CSD_CSI_COMPUTE, &c.nsid, NULL);
	if (!ret)
		ret = ns_of(dev, CSD_CSI_NVM, &c.cdw14, NULL);
	return ret ? ret : io(dev, &c, (void *)r, n * (uint32_t)sizeof(*r), result);
}

int csd_dev__exec_stream(struct csd_dev *dev, uint16_t pind, const struct csd_stream_range *r,
			 uint32_t n, uint32_t window, uint32_t overlap, uint64_t p1, uint64_t p2,
			 uint64_t *result)
{
	CSD_OPTS(csd_stream_opts, o, .window = window, .overlap = overlap, .p1 = p1, .p2 = p2);

	return csd_dev__exec_stream_opts(dev, pind, r, n, &o, result);
}

int csd_dev__stats(struct csd_dev *dev, struct csd_vendor_stats *drive,
		   struct csd_tcp_traffic *link)
{
	int ret = drive ? csd_dev__get_log(dev, CSD_LOG_VENDOR_STATS, 0, 0, drive,
					   sizeof(*drive)) : 0;

	if (!ret && link) {
		memset(link, 0, sizeof(*link));
		if (dev->ops->traffic)
			dev->ops->traffic(dev, link);
	}
	return ret;
}

int csd_dev__reasons(struct csd_dev *dev, char reasons[8][256])
{
	int ret = csd_dev__get_log(dev, CSD_LOG_VENDOR_REASONS, 0, 0, reasons, 8 * 256);

	for (int i = 0; !ret && i < 8; i++)
		reasons[i][255] = '\0';
	return ret;
}

int csd_dev__target_link(struct csd_dev *dev, struct csd_tcp_link_log *out)
{
	int ret = csd_dev__get_log(dev, CSD_LOG_VENDOR_LINK, 0, 0, out, sizeof(*out));

	return ret == (CSD_NVME_STATUS(1, NVME_SC_INVALID_LOG_PAGE)) ? -ENOTSUP : ret;
}
