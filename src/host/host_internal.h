/* SPDX-License-Identifier: MIT */
/* Private to libcsd: the backend ops table and the device handle. */
#ifndef CSD_HOST_INTERNAL_H
#define CSD_HOST_INTERNAL_H

#include "csd/csd.h"

struct csd_backend_ops {
	int (*cmd)(struct csd_dev *dev, uint16_t qid, struct csd_nvme_sqe *sqe, void *data,
		   uint32_t len, struct csd_nvme_cqe *cqe);
	int (*submit)(struct csd_dev *dev, uint16_t qid, struct csd_async *a);
	struct csd_async *(*reap)(struct csd_dev *dev, uint16_t qid, int *err);
	void (*traffic)(struct csd_dev *dev, struct csd_tcp_traffic *out);
	void (*close)(struct csd_dev *dev);
};

struct csd_dev {
	const struct csd_backend_ops *ops;
	void *priv;
	unsigned nio;			/* I/O queues */
	struct csd_ns_info ns[8];	/* found on first use */
	size_t nns;
	uint32_t max_transfer;		/* bytes in one command (MDTS); 0: not asked yet */
};

int csd_host_cqe_result(const struct csd_nvme_cqe *cqe);
int csd_tcp_backend_open(struct csd_dev *dev, const struct csd_connect_opts *opts, char *err,
			 size_t err_size);
int csd_linux_backend_open(struct csd_dev *dev, const struct csd_connect_opts *opts, char *err,
			   size_t err_size);

#endif
