/* SPDX-License-Identifier: MIT */
/*
 * libcsd over Linux passthrough, for a drive the kernel connected (nvme connect -t tcp ...):
 * admin commands on the controller's character device (/dev/nvmeX), I/O commands on the
 * generic character device of their namespace (/dev/ngXnY, the only node Linux creates for
 * the memory and compute namespaces). The 64-bit ioctls carry the whole 64-bit result of
 * Execute Program (the classic ones return only DW0).
 *
 * What the kernel lets through (../shared/design/lab-facts.md): the opcode's low two bits set
 * the data direction, flags must be 0, CID/PSDT/data pointers are the kernel's. All csdlab
 * commands follow the direction convention, so the drive accepts them as they arrive.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "host_internal.h"

struct linux_dev {
	int ctrl_fd;
	int ns_fd[8];		/* by NSID, opened on first use */
	char name[64];		/* nvmeX */
	struct csd_async *pending;	/* "asynchronous": run at submit, returned by reap */
};

static int ns_fd(struct linux_dev *l, uint32_t nsid)
{
	char path[96];
	int instance;

	if (nsid == 0 || nsid >= 8)
		return -EINVAL;
	if (l->ns_fd[nsid] >= 0)
		return l->ns_fd[nsid];
	/* the kernel names namespaces nvme<ctrl>n<nsid> when there is no multipath */
	if (sscanf(l->name, "nvme%d", &instance) != 1)
		return -EINVAL;
	snprintf(path, sizeof(path), "/dev/ng%dn%u", instance, nsid);
	l->ns_fd[nsid] = open(path, O_RDWR | O_CLOEXEC);
	return l->ns_fd[nsid] >= 0 ? l->ns_fd[nsid] : -errno;
}

static int linux_cmd(struct csd_dev *dev, uint16_t qid, struct csd_nvme_sqe *sqe, void *data,
		     uint32_t len, struct csd_nvme_cqe *cqe)
{
	struct linux_dev *l = dev->priv;
	struct nvme_passthru_cmd64 c = {
		.opcode = sqe->opcode, .nsid = sqe->nsid, .cdw2 = sqe->cdw2, .cdw3 = sqe->cdw3,
		.addr = (uint64_t)(uintptr_t)data, .data_len = len,
		.cdw10 = sqe->cdw10, .cdw11 = sqe->cdw11, .cdw12 = sqe->cdw12,
		.cdw13 = sqe->cdw13, .cdw14 = sqe->cdw14, .cdw15 = sqe->cdw15,
	};
	int fd = qid == 0 ? l->ctrl_fd : ns_fd(l, sqe->nsid);
	int ret;

	if (fd < 0)
		return fd;
	ret = ioctl(fd, qid == 0 ? NVME_IOCTL_ADMIN64_CMD : NVME_IOCTL_IO64_CMD, &c);
	if (ret < 0)
		return -errno;
	memset(cqe, 0, sizeof(*cqe));
	/* the ioctl returns the status field without the phase bit */
	cqe->status = (uint16_t)(ret << 1);
	cqe->dw0 = (uint32_t)c.result;
	cqe->dw1 = (uint32_t)(c.result >> 32);
	return 0;
}

static int linux_submit(struct csd_dev *dev, uint16_t qid, struct csd_async *a)
{
	struct linux_dev *l = dev->priv;
	struct csd_nvme_cqe cqe;
	int ret;

	if (l->pending)
		return -EBUSY;
	ret = linux_cmd(dev, qid, &a->sqe, a->data, a->len, &cqe);
	if (ret)
		return ret;
	a->result = csd_host_cqe_result(&cqe);
	a->value = cqe.dw0 | ((uint64_t)cqe.dw1 << 32);
	l->pending = a;
	return 0;
}

static struct csd_async *linux_reap(struct csd_dev *dev, uint16_t qid, int *err)
{
	struct linux_dev *l = dev->priv;
	struct csd_async *a = l->pending;

	(void)qid;
	l->pending = NULL;
	if (!a)
		*err = -ENOENT;
	return a;
}

static void linux_close(struct csd_dev *dev)
{
	struct linux_dev *l = dev->priv;

	close(l->ctrl_fd);
	for (int i = 0; i < 8; i++)
		if (l->ns_fd[i] >= 0)
			close(l->ns_fd[i]);
	free(l);
}

static const struct csd_backend_ops linux_ops = {
	.cmd = linux_cmd,
	.submit = linux_submit,
	.reap = linux_reap,
	.close = linux_close,
};

int csd_linux_backend_open(struct csd_dev *dev, const struct csd_connect_opts *o, char *err,
			   size_t err_size)
{
	struct linux_dev *l;
	const char *base;

	if (!o->device) {
		snprintf(err, err_size, "the linux transport needs a device (/dev/nvmeX)");
		return -EINVAL;
	}
	base = strrchr(o->device, '/');
	base = base ? base + 1 : o->device;
	if (strncmp(base, "nvme", 4) || strchr(base + 4, 'n')) {
		snprintf(err, err_size, "%s: a controller device such as /dev/nvme0 expected",
			 o->device);
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	for (int i = 0; i < 8; i++)
		l->ns_fd[i] = -1;
	snprintf(l->name, sizeof(l->name), "%s", base);
	l->ctrl_fd = open(o->device, O_RDWR | O_CLOEXEC);
	if (l->ctrl_fd < 0) {
		int ret = -errno;

		snprintf(err, err_size, "%s: %s", o->device, strerror(errno));
		free(l);
		return ret;
	}
	dev->ops = &linux_ops;
	dev->priv = l;
	dev->nio = 1;
	return 0;
}
