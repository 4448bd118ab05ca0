/* SPDX-License-Identifier: MIT */
/*
 * libcsd: what a host does with a computational storage drive, over either backend:
 *   - "tcp": csdlab's own NVMe/TCP initiator (several I/O queues, queue depth > 1), or
 *   - "linux": passthrough on a drive the Linux kernel connected (/dev/nvmeX, /dev/ngXnY).
 *
 * libbpf-shaped: an opaque struct csd_dev, options structs with a size field, and int results:
 * 0 on success, a negative errno when the command could not be carried (transport, memory),
 * or a positive NVMe status (SCT << 8 | SC, as in include/csd/nvme_cs.h) when the drive
 * answered with an error. csd_strerror() names either.
 */
#ifndef CSD_CSD_H
#define CSD_CSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csd/nvme_cs.h"
#include "csd/link.h"

struct csd_dev;

struct csd_connect_opts {
	size_t sz;			/* sizeof(struct csd_connect_opts) */
	const char *transport;		/* "tcp" (default) or "linux" */
	/* tcp */
	const char *addr;		/* default 127.0.0.1 */
	uint16_t port;			/* default 4420 */
	const char *subnqn;		/* default nqn.2026-01.io.csdlab:drive0 */
	const char *hostnqn;
	unsigned nr_io_queues;		/* default 1 */
	uint16_t queue_size;		/* default 128 */
	bool hdgst, ddgst;
	uint32_t kato_ms;
	uint64_t link_bytes_per_s;	/* shape the link (tcp): 0 = unshaped */
	/* DH-HMAC-CHAP (tcp), DHHC-1 secrets: the host's; the controller's for bidirectional */
	const char *dhchap_secret;
	const char *dhchap_ctrl_secret;
	/* linux: the controller's character device; namespaces are found through sysfs */
	const char *device;		/* e.g. /dev/nvme0 */
	/*
	 * tcp, in ms (0: the default; CSD_NO_TIMEOUT: wait forever): the TCP connection and
	 * each queue's handshake (10 s), then every command (the Linux host's: 60 s on the admin
	 * queue, 30 s on I/O queues). A command that times out fails with -ETIMEDOUT.
	 */
	uint32_t connect_timeout_ms;
	uint32_t timeout_ms;
};
#define CSD_NO_TIMEOUT	UINT32_MAX

#define CSD_OPTS(type, name, ...) struct type name = { .sz = sizeof(struct type), __VA_ARGS__ }

int csd_dev__connect(const struct csd_connect_opts *opts, struct csd_dev **dev, char *err,
		     size_t err_size);
void csd_dev__disconnect(struct csd_dev *dev);

/* "Invalid Program Data (0x18e)", "Connection refused", ... for any csdlab result. */
const char *csd_strerror(int result, char *buf, size_t size);

/* The raw command: data direction by opcode. qid 0 is the admin queue. */
int csd_dev__cmd(struct csd_dev *dev, uint16_t qid, struct csd_nvme_sqe *sqe, void *data,
		 uint32_t len, uint64_t *result);

/* Asynchronous commands (queue depth > 1 on the tcp backend; one at a time on linux). */
struct csd_async {
	struct csd_nvme_sqe sqe;
	void *data;
	uint32_t len;
	int result;		/* when done: 0 or the NVMe status */
	uint64_t value;		/* completion DW1:DW0 */
	void *user;
	void *priv;
};
int csd_dev__submit(struct csd_dev *dev, uint16_t qid, struct csd_async *a);
/* Wait for one completion on qid; the finished command, or NULL with *err set. */
struct csd_async *csd_dev__reap(struct csd_dev *dev, uint16_t qid, int *err);
unsigned csd_dev__nr_io_queues(const struct csd_dev *dev);

/* Identify and namespaces */
struct csd_ns_info {
	uint32_t nsid;
	uint8_t csi;		/* CSD_CSI_NVM, CSD_CSI_SLM, CSD_CSI_COMPUTE */
	uint64_t size;		/* bytes (NVM, SLM) */
	uint32_t lba_size;	/* NVM */
};
int csd_dev__identify_ctrl(struct csd_dev *dev, void *id_ctrl /* 4096 bytes */);
int csd_dev__list_ns(struct csd_dev *dev, struct csd_ns_info *ns, size_t max, size_t *n);
/* The first namespace of a command set, or -ENOENT */
int csd_dev__find_ns(struct csd_dev *dev, uint8_t csi, struct csd_ns_info *out);

/* NVM namespace */
int csd_dev__read(struct csd_dev *dev, uint64_t slba, uint32_t nlb, void *buf);
int csd_dev__write(struct csd_dev *dev, uint64_t slba, uint32_t nlb, const void *buf, bool fua);
int csd_dev__flush(struct csd_dev *dev);

/* Memory (SLM) namespace */
int csd_dev__mem_read(struct csd_dev *dev, uint64_t offset, void *buf, uint32_t len);
int csd_dev__mem_write(struct csd_dev *dev, uint64_t offset, const void *buf, uint32_t len);
/* Inside the drive: NVM LBAs [slba, slba + nlb) to memory at dst. */
int csd_dev__mem_copy_from_nvm(struct csd_dev *dev, uint64_t dst, uint64_t slba, uint32_t nlb);
int csd_dev__mem_copy(struct csd_dev *dev, uint64_t dst, uint64_t src, uint32_t len);

/* Programs */
int csd_dev__program_load(struct csd_dev *dev, uint16_t pind, uint8_t ptype, const void *image,
			  uint32_t size);
/*
 * An ELF object (CSD_PTYPE_EBPF_ELF) or raw instructions (CSD_PTYPE_EBPF_RAW) from a file;
 * `name` (or NULL) picks the program of an object that holds several.
 */
int csd_dev__program_load_file(struct csd_dev *dev, uint16_t pind, const char *path,
			       const char *name);
int csd_dev__program_unload(struct csd_dev *dev, uint16_t pind);
int csd_dev__program_activate(struct csd_dev *dev, uint16_t pind, bool active);
int csd_dev__program_list(struct csd_dev *dev, struct csd_program_entry *list /* 16 */);

/* Memory range sets and execution */
int csd_dev__mrs_create(struct csd_dev *dev, const struct csd_mem_range *r, uint32_t n,
			uint16_t *rsid);
int csd_dev__mrs_delete(struct csd_dev *dev, uint16_t rsid);
int csd_dev__exec(struct csd_dev *dev, uint16_t pind, uint16_t rsid,
		  const struct csd_mem_range *ranges, uint32_t n, uint64_t p1, uint64_t p2,
		  uint64_t *result);
/* csdlab's streaming Execute over NVM LBA ranges (docs/device.md); the windows' results added */
int csd_dev__exec_stream(struct csd_dev *dev, uint16_t pind, const struct csd_stream_range *r,
			 uint32_t n, uint32_t window, uint32_t overlap, uint64_t p1, uint64_t p2,
			 uint64_t *result);
struct csd_stream_opts {
	size_t sz;			/* sizeof(struct csd_stream_opts) */
	uint32_t window;		/* bytes, whole blocks (0: 1 MiB) */
	uint32_t overlap;		/* bytes carried from one window into the next */
	uint64_t p1, p2;		/* CPARAM1, CPARAM2 */
	unsigned combine;		/* CSD_STREAM_SUM (0), CSD_STREAM_MIN, CSD_STREAM_MAX */
	bool sequential;		/* one engine thread, windows in order (else the drive may
					 * run a stateless program's windows on several) */
};
int csd_dev__exec_stream_opts(struct csd_dev *dev, uint16_t pind,
			      const struct csd_stream_range *r, uint32_t n,
			      const struct csd_stream_opts *opts, uint64_t *result);

/* Logs and statistics */
int csd_dev__get_log(struct csd_dev *dev, uint8_t lid, uint8_t lsp, uint8_t csi, void *buf,
		     uint32_t len);
/* The drive's counters (vendor log C0h) and, on tcp, the link as this host saw it. */
int csd_dev__stats(struct csd_dev *dev, struct csd_vendor_stats *drive,
		   struct csd_tcp_traffic *link);
/* The link as csd-target counts it (vendor log C2h): -ENOTSUP on a drive without it. */
int csd_dev__target_link(struct csd_dev *dev, struct csd_tcp_link_log *out);
/* Readable reasons of the last errors (vendor log C1h), newest first. */
int csd_dev__reasons(struct csd_dev *dev, char reasons[8][256]);

#endif
