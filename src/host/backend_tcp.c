/* SPDX-License-Identifier: MIT */
/* libcsd over csdlab's own NVMe/TCP initiator. */
#include <errno.h>
#include <stdlib.h>

#include "host_internal.h"
#include "tcp_host.h"

static int tcp_cmd(struct csd_dev *dev, uint16_t qid, struct csd_nvme_sqe *sqe, void *data,
		   uint32_t len, struct csd_nvme_cqe *cqe)
{
	return tcp_host_cmd(dev->priv, qid, sqe, data, len, cqe);
}

static int tcp_submit(struct csd_dev *dev, uint16_t qid, struct csd_async *a)
{
	struct tcp_host_cmd *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->sqe = a->sqe;
	c->data = a->data;
	c->len = a->len;
	c->user = a;
	a->priv = c;
	ret = tcp_host_submit(dev->priv, qid, c);
	if (ret)
		free(c);
	return ret;
}

static struct csd_async *tcp_reap(struct csd_dev *dev, uint16_t qid, int *err)
{
	struct tcp_host_cmd *c = tcp_host_reap(dev->priv, qid, err);
	struct csd_async *a;

	if (!c)
		return NULL;
	a = c->user;
	a->result = csd_host_cqe_result(&c->cqe);
	a->value = c->cqe.dw0 | ((uint64_t)c->cqe.dw1 << 32);
	a->priv = NULL;
	free(c);
	return a;
}

static void tcp_traffic(struct csd_dev *dev, struct csd_tcp_traffic *out)
{
	tcp_host_traffic(dev->priv, out);
}

static void tcp_close(struct csd_dev *dev)
{
	tcp_host_disconnect(dev->priv);
}

static const struct csd_backend_ops tcp_ops = {
	.cmd = tcp_cmd,
	.submit = tcp_submit,
	.reap = tcp_reap,
	.traffic = tcp_traffic,
	.close = tcp_close,
};

int csd_tcp_backend_open(struct csd_dev *dev, const struct csd_connect_opts *o, char *err,
			 size_t err_size)
{
	struct tcp_host_opts ho = { .addr = o->addr, .port = o->port, .subnqn = o->subnqn,
				    .hostnqn = o->hostnqn, .hdgst = o->hdgst, .ddgst = o->ddgst,
				    .nr_io_queues = o->nr_io_queues, .queue_size = o->queue_size,
				    .kato_ms = o->kato_ms, .link_bytes_per_s = o->link_bytes_per_s,
				    .dhchap_secret = o->dhchap_secret,
				    .dhchap_ctrl_secret = o->dhchap_ctrl_secret,
				    .connect_timeout_ms = o->connect_timeout_ms,
				    .admin_timeout_ms = o->timeout_ms, .io_timeout_ms = o->timeout_ms };
	struct tcp_host *h;
	int ret = tcp_host_connect(&ho, &h, err, err_size);

	if (ret)
		return ret;
	dev->ops = &tcp_ops;
	dev->priv = h;
	dev->nio = tcp_host_nr_io_queues(h);
	return 0;
}
