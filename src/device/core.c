/* SPDX-License-Identifier: MIT */
/*
 * The subsystem and its controllers: creation, queues, the request life cycle
 * (submit -> parse -> execute -> complete exactly once), controller properties and the
 * enable/shutdown sequence.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "device_internal.h"

uint64_t csd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void csd_dev_config_defaults(struct csd_dev_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sz = sizeof(*cfg);
	cfg->nvm_bytes = 0;		/* the file's size; CSD_NVM_DEFAULT_BYTES for a new one */
	cfg->lba_size = 512;
	cfg->slm_bytes = 64ull << 20;
	cfg->engine_threads = 2;
	cfg->exec_time_ms = CSD_EXEC_TIME_LIMIT_MS;
	cfg->subnqn = "nqn.2026-01.io.csdlab:drive0";
	cfg->serial = "CSDLAB0001";
}

int csd_subsys_create(const struct csd_dev_config *cfg, struct csd_subsys **out, char *err,
		      size_t err_size)
{
	struct csd_subsys *s;
	int ret;

	if (!cfg || cfg->sz < sizeof(*cfg) || !cfg->backing_path == !cfg->nvm_in_memory) {
		snprintf(err, err_size, "a configuration with either a backing file or NVM in "
			 "memory is needed");
		return -EINVAL;
	}
	if (cfg->lba_size != 512 && cfg->lba_size != 4096) {
		snprintf(err, err_size, "LBA size %u: 512 or 4096 expected", cfg->lba_size);
		return -EINVAL;
	}
	if (cfg->slm_bytes == 0 || cfg->slm_bytes > (16ull << 30) || cfg->slm_bytes % 4096) {
		snprintf(err, err_size, "SLM size %llu: a multiple of 4096 up to 16 GiB expected",
			 (unsigned long long)cfg->slm_bytes);
		return -EINVAL;
	}
	if (cfg->engine_threads == 0 || cfg->engine_threads > 64) {
		snprintf(err, err_size, "engine threads %u: 1 to 64 expected", cfg->engine_threads);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	snprintf(s->nqn, sizeof(s->nqn), "%s", cfg->subnqn ? cfg->subnqn : "nqn.2026-01.io.csdlab:drive0");
	snprintf(s->serial, sizeof(s->serial), "%s", cfg->serial ? cfg->serial : "CSDLAB0001");
	s->cfg.subnqn = s->nqn;
	s->cfg.serial = s->serial;
	s->nvm.fd = -1;
	s->start_ns = csd_now_ns();
	s->next_rsid = 1;
	s->next_cntlid = 1;
	pthread_mutex_init(&s->lock, NULL);
	ret = csd_nvm_open(s, err, err_size);
	s->cfg.backing_path = NULL;	/* the caller's string: used only to open the file */
	if (ret) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return ret;
	}
	s->slm.size = cfg->slm_bytes;
	pthread_mutex_init(&s->slm.lock, NULL);
	csd_programs_init(s);
	ret = csd_engine_start(s);
	if (!ret && (ret = csd_worker_start(&s->verifier, 1)))
		csd_engine_stop(s);
	if (!ret && (ret = csd_worker_start(&s->slow_io, 2))) {
		csd_worker_stop(&s->verifier);
		csd_engine_stop(s);
	}
	if (ret) {
		snprintf(err, err_size, "cannot start the engine: %s", strerror(-ret));
		csd_programs_free(s);
		csd_slm_free(s);
		csd_nvm_close(s);
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void csd_subsys_destroy(struct csd_subsys *s)
{
	if (!s)
		return;
	csd_worker_stop(&s->slow_io);
	csd_worker_stop(&s->verifier);
	csd_engine_stop(s);
	csd_programs_free(s);
	csd_nvm_close(s);
	csd_slm_free(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void csd_subsys_set_log_provider(struct csd_subsys *s, csd_log_provider_fn fn, void *arg)
{
	s->log_provider = fn;
	s->log_provider_arg = arg;
}

const char *csd_subsys_nqn(const struct csd_subsys *s)
{
	return s->nqn;
}

void csd_subsys_stats(struct csd_subsys *s, struct csd_vendor_stats *out)
{
	csd_stats_snapshot(&s->stats, out);
}

void csd_ctrl_stats(struct csd_ctrl *c, struct csd_vendor_stats *out)
{
	csd_stats_snapshot(&c->stats, out);
}

void csd_stats_snapshot(const struct csd_stats *st, struct csd_vendor_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->version = 1;
	out->admin_cmds = st->admin_cmds;
	out->io_cmds = st->io_cmds;
	out->nvm_read_cmds = st->nvm_read_cmds;
	out->nvm_write_cmds = st->nvm_write_cmds;
	out->nvm_bytes_read = st->nvm_bytes_read;
	out->nvm_bytes_written = st->nvm_bytes_written;
	out->slm_bytes_read = st->slm_bytes_read;
	out->slm_bytes_written = st->slm_bytes_written;
	out->internal_bytes_moved = st->internal_bytes_moved;
	out->program_loads = st->program_loads;
	out->program_executions = st->program_executions;
	out->program_faults = st->program_faults;
	out->program_insns = st->program_insns;
	out->program_exec_ns = st->program_exec_ns;
	out->errors = st->errors;
	out->stream_parts_lent = st->stream_parts_lent;
	for (int i = 0; i < 16; i++) {
		out->program[i].executions = st->program[i].executions;
		out->program[i].insns = st->program[i].insns;
		out->program[i].exec_ns = st->program[i].exec_ns;
		out->program[i].bytes_in = st->program[i].bytes_in;
	}
}

int csd_ctrl_create(struct csd_subsys *s, const char *hostnqn, struct csd_ctrl **out)
{
	struct csd_ctrl *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->subsys = s;
	snprintf(c->hostnqn, sizeof(c->hostnqn), "%s", hostnqn ? hostnqn : "");
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_lock(&s->lock);
	c->host = csd_host_usage_of(s, c->hostnqn);
	if (c->host && c->host->ctrls++ == 0)
		s->connected_hosts++;
	c->cntlid = s->next_cntlid++;
	if (s->next_cntlid > 0xffef)	/* FFF0h and up are reserved */
		s->next_cntlid = 1;
	pthread_mutex_unlock(&s->lock);
	c->nr_io_queues = CSD_MAX_IO_QUEUES;
	c->temp_threshold[0] = CSD_TEMP_OVER_DEFAULT;
	c->temp_threshold[1] = CSD_TEMP_UNDER_DEFAULT;
	c->last_keep_alive_ms = csd_now_ns() / 1000000;
	*out = c;
	return 0;
}

uint16_t csd_ctrl_cntlid(const struct csd_ctrl *c)
{
	return c->cntlid;
}

static void cancel_io(struct csd_req *req)
{
	csd_req_complete(req, SC_GENERIC(NVME_SC_ABORT_REQ));
}

void csd_defer_io(struct csd_req *req)
{
	csd_worker_queue(&req->ctrl->subsys->slow_io, req, req->deferred);
}

void csd_ctrl_destroy(struct csd_ctrl *c)
{
	if (!c)
		return;
	/* running programs of this controller stop; their commands complete as aborted */
	csd_engine_abort_ctrl(c->subsys, c);
	csd_worker_abort_ctrl(&c->subsys->verifier, c, csd_program_activate_cancel);
	csd_worker_abort_ctrl(&c->subsys->slow_io, c, cancel_io);
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->naer; i++) {
		struct csd_req *r = c->aer[i];

		c->aer[i] = NULL;
		pthread_mutex_unlock(&c->lock);
		csd_req_complete(r, SC_GENERIC(NVME_SC_ABORT_REQ));
		pthread_mutex_lock(&c->lock);
	}
	c->naer = 0;
	pthread_mutex_unlock(&c->lock);
	for (unsigned q = 0; q <= CSD_MAX_IO_QUEUES; q++)
		free(c->queues[q].cids);
	pthread_mutex_lock(&c->subsys->lock);
	if (c->host && --c->host->ctrls == 0) {
		c->subsys->connected_hosts--;
		csd_programs_host_gone(c->subsys, c->hostnqn);
	}
	csd_host_usage_put(c->host);
	pthread_mutex_unlock(&c->subsys->lock);
	csd_engine_reconsider(c->subsys);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int csd_ctrl_add_queue(struct csd_ctrl *c, uint16_t qid, uint16_t size)
{
	struct csd_queue *q;
	int ret = 0;

	if (qid > CSD_MAX_IO_QUEUES || size < 2 || size > CSD_MAX_QUEUE_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	q = &c->queues[qid];
	if (q->present || (qid > c->nr_io_queues)) {
		ret = q->present ? -EEXIST : -EINVAL;
	} else {
		q->cids = calloc(65536 / 64, sizeof(uint64_t));
		if (!q->cids) {
			ret = -ENOMEM;
		} else {
			q->present = true;
			q->size = size;
			q->sq_head = 0;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

void csd_ctrl_remove_queue(struct csd_ctrl *c, uint16_t qid)
{
	if (qid > CSD_MAX_IO_QUEUES)
		return;
	pthread_mutex_lock(&c->lock);
	c->queues[qid].present = false;
	pthread_mutex_unlock(&c->lock);
}

uint16_t csd_req_check_len(struct csd_req *req, uint32_t len)
{
	if (req->data_len != len || (len && !req->data)) {
		req->error_loc = offsetof(struct csd_nvme_sqe, dptr);
		return SC_DATA_LEN;
	}
	return SC_OK;
}

void csd_req_copy_out(struct csd_req *req, const void *src, size_t len)
{
	size_t n = len < req->data_len ? len : req->data_len;

	memcpy(req->data, src, n);
	req->c2h_len = (uint32_t)n;
}

void csd_req_complete(struct csd_req *req, uint16_t status)
{
	struct csd_ctrl *c = req->ctrl;
	struct csd_queue *q = &c->queues[req->qid];

	req->rsp.cid = req->cmd.cid;
	req->rsp.sq_id = req->qid;
	req->rsp.status = (uint16_t)(status << 1);
	if (status) {
		REQ_STAT(req, errors, 1);
		csd_error_log_add(req, status);
	}
	pthread_mutex_lock(&c->lock);
	if (q->cids)
		q->cids[req->cmd.cid / 64] &= ~(1ull << (req->cmd.cid % 64));
	pthread_mutex_unlock(&c->lock);
	req->done(req);
}

/* The namespaces the controller exposes: all three when the host enabled all command sets. */
bool csd_ctrl_ns_active(const struct csd_ctrl *c, uint32_t nsid)
{
	bool all_sets = ((c->cc >> NVME_CC_CSS_SHIFT) & NVME_CC_CSS_MASK) == NVME_CC_CSS_CSI &&
			c->iocs_profile == 0;

	return nsid == CSD_NSID_NVM || (all_sets && (nsid == CSD_NSID_SLM ||
						     nsid == CSD_NSID_COMPUTE));
}

static uint16_t parse_io(struct csd_req *req)
{
	struct csd_ctrl *c = req->ctrl;

	REQ_STAT(req, io_cmds, 1);
	if (!(c->csts & CSTS_RDY))
		return SC_CMD_SEQ;
	if (!csd_ctrl_ns_active(c, req->cmd.nsid)) {
		req->error_loc = offsetof(struct csd_nvme_sqe, nsid);
		return SC_INVALID_NS;
	}
	switch (req->cmd.nsid) {
	case CSD_NSID_NVM:
		return csd_parse_nvm(req);
	case CSD_NSID_SLM:
		return csd_parse_slm(req);
	default:
		return csd_parse_compute_io(req);
	}
}

/*
 * An Asynchronous Event Request is the one command a host may give up without telling the
 * controller: SPDK's host cancels its AERs locally when it detaches and reuses their ids for
 * its last commands. A new admin command with the id of a held AER takes it over. Called
 * with c->lock held; returns the AER, now out of the list, or NULL.
 */
static struct csd_req *take_abandoned_aer(struct csd_ctrl *c, uint16_t cid)
{
	for (unsigned i = 0; i < c->naer; i++) {
		struct csd_req *r = c->aer[i];

		if (r->cmd.cid == cid) {
			c->aer[i] = c->aer[--c->naer];
			c->aer[c->naer] = NULL;
			return r;
		}
	}
	return NULL;
}

void csd_ctrl_submit(struct csd_ctrl *c, struct csd_req *req)
{
	struct csd_req *abandoned = NULL;
	struct csd_queue *q;
	uint16_t status;

	req->ctrl = c;
	req->no_response = false;
	req->execute = NULL;
	req->error_loc = 0xffff;
	req->abort = false;
	req->c2h_len = 0;
	req->next = NULL;
	memset(&req->rsp, 0, sizeof(req->rsp));
	if (req->qid > CSD_MAX_IO_QUEUES) {
		req->qid = 0;	/* answer on a queue that exists in the bookkeeping */
		req->rsp.cid = req->cmd.cid;
		req->rsp.status = SC_INVALID_FIELD << 1;
		req->done(req);
		return;
	}
	q = &c->queues[req->qid];
	pthread_mutex_lock(&c->lock);
	if (!q->present) {
		pthread_mutex_unlock(&c->lock);
		req->rsp.cid = req->cmd.cid;
		req->rsp.sq_id = req->qid;
		req->rsp.status = SC_INVALID_FIELD << 1;
		req->done(req);
		return;
	}
	q->sq_head = (uint16_t)((q->sq_head + 1) % q->size);
	req->rsp.sq_head = q->sq_head;
	if ((q->cids[req->cmd.cid / 64] & (1ull << (req->cmd.cid % 64))) &&
	    !(req->qid == 0 && (abandoned = take_abandoned_aer(c, req->cmd.cid)))) {
		/* an outstanding command has this id: answer without touching its bit */
		pthread_mutex_unlock(&c->lock);
		req->rsp.cid = req->cmd.cid;
		req->rsp.sq_id = req->qid;
		req->rsp.status = SC_CMDID_CONFLICT << 1;
		REQ_STAT(req, errors, 1);
		req->done(req);
		return;
	}
	q->cids[req->cmd.cid / 64] |= 1ull << (req->cmd.cid % 64);
	pthread_mutex_unlock(&c->lock);
	if (abandoned) {
		abandoned->no_response = true;
		abandoned->done(abandoned);
	}

	if (req->cmd.flags & 0x3) {	/* fused operations are not supported */
		req->error_loc = offsetof(struct csd_nvme_sqe, flags);
		status = SC_INVALID_FIELD;
	} else if (req->qid == 0) {
		status = csd_parse_admin(req);
	} else {
		status = parse_io(req);
	}
	if (status || !req->execute)
		csd_req_complete(req, status ? status : SC_INTERNAL);
	else
		req->execute(req);
}

/* Properties */

static uint64_t cap_value(void)
{
	return (uint64_t)(CSD_MAX_QUEUE_SIZE - 1) |	/* MQES, 0's based */
	       (1ull << 16) |				/* CQR: queues must be contiguous */
	       (15ull << 24) |				/* TO: 7.5 s */
	       (1ull << 37) |				/* CSS: NVM command set */
	       (1ull << 43);				/* CSS: I/O command sets (bit 6) */
}

static void ctrl_enable(struct csd_ctrl *c, uint32_t cc)
{
	uint32_t css = (cc >> NVME_CC_CSS_SHIFT) & NVME_CC_CSS_MASK;
	uint32_t mps = (cc >> NVME_CC_MPS_SHIFT) & NVME_CC_MPS_MASK;
	uint32_t iosqes = (cc >> NVME_CC_IOSQES_SHIFT) & NVME_CC_IOSQES_MASK;
	uint32_t iocqes = (cc >> NVME_CC_IOCQES_SHIFT) & NVME_CC_IOCQES_MASK;

	if ((css != NVME_CC_CSS_NVM && css != NVME_CC_CSS_CSI) || mps != 0 ||
	    iosqes != 6 || iocqes != 4) {
		c->csts = CSTS_CFS;	/* a CC the controller cannot run with */
		return;
	}
	c->csts = CSTS_RDY;
}

uint16_t csd_ctrl_prop_get(struct csd_ctrl *c, uint32_t offset, bool size8, uint64_t *value)
{
	switch (offset) {
	case NVME_REG_CAP:
		if (!size8)
			return SC_INVALID_FIELD;
		*value = cap_value();
		return SC_OK;
	case NVME_REG_VS:
		*value = CSD_NVME_VS;
		break;
	case NVME_REG_CC:
		*value = c->cc;
		break;
	case NVME_REG_CSTS:
		*value = c->csts;
		break;
	default:
		return SC_INVALID_FIELD;
	}
	return size8 ? SC_INVALID_FIELD : SC_OK;
}

uint16_t csd_ctrl_prop_set(struct csd_ctrl *c, uint32_t offset, bool size8, uint64_t value)
{
	uint32_t cc = (uint32_t)value, old;
	uint32_t shn;

	if (offset != NVME_REG_CC || size8)
		return SC_INVALID_FIELD;
	pthread_mutex_lock(&c->lock);
	old = c->cc;
	c->cc = cc;
	if ((cc & CC_ENABLE) && !(old & CC_ENABLE))
		ctrl_enable(c, cc);
	if (!(cc & CC_ENABLE) && (old & CC_ENABLE))
		c->csts = 0;	/* reset */
	shn = (cc >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK;
	if (shn && !((old >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK)) {
		pthread_mutex_unlock(&c->lock);
		/* a normal or abrupt shutdown: what was written reaches the backing file */
		csd_nvm_sync(c->subsys);
		pthread_mutex_lock(&c->lock);
		c->csts = (c->csts & ~(NVME_CSTS_SHST_MASK << NVME_CSTS_SHST_SHIFT)) |
			  (NVME_CSTS_SHST_CMPLT << NVME_CSTS_SHST_SHIFT);
	}
	pthread_mutex_unlock(&c->lock);
	return SC_OK;
}

uint32_t csd_ctrl_kato_ms(const struct csd_ctrl *c)
{
	return c->kato_ms;
}

void csd_ctrl_set_kato(struct csd_ctrl *c, uint32_t kato_ms)
{
	c->kato_ms = kato_ms;
	c->last_keep_alive_ms = csd_now_ns() / 1000000;
}

bool csd_ctrl_keep_alive_expired(const struct csd_ctrl *c, uint64_t now_ms)
{
	return c->kato_ms && now_ms > c->last_keep_alive_ms + c->kato_ms;
}
