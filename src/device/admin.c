/* SPDX-License-Identifier: MIT */
/*
 * Admin commands: one switch on the opcode that checks what can be checked up front and picks
 * the executor (as nvmet_parse_admin_cmd does). Identify and Get Log Page have their own files;
 * the compute namespace's admin commands are in program.c.
 */
#include <stddef.h>
#include <string.h>

#include "device_internal.h"

#define NSID_ALL 0xffffffffu

static void execute_keep_alive(struct csd_req *req)
{
	req->ctrl->last_keep_alive_ms = csd_now_ns() / 1000000;
	csd_req_complete(req, SC_OK);
}

static void execute_async_event(struct csd_req *req)
{
	struct csd_ctrl *c = req->ctrl;

	pthread_mutex_lock(&c->lock);
	if (c->naer > CSD_AERL) {
		pthread_mutex_unlock(&c->lock);
		csd_req_complete(req, SC_CS(NVME_SC_ASYNC_LIMIT));
		return;
	}
	/* held until an event happens or the controller goes away */
	c->aer[c->naer++] = req;
	pthread_mutex_unlock(&c->lock);
}

static void execute_abort(struct csd_req *req)
{
	uint16_t sqid = req->cmd.cdw10 & 0xffff, cid = req->cmd.cdw10 >> 16;

	/* DW0 bit 0: 0 = the command was aborted, 1 = it was not */
	req->rsp.dw0 = csd_engine_abort(req->ctrl->subsys, req->ctrl, sqid, cid) ? 0 : 1;
	csd_req_complete(req, SC_OK);
}

/* Features */

static uint16_t set_feature(struct csd_req *req)
{
	struct csd_ctrl *c = req->ctrl;
	uint32_t fid = req->cmd.cdw10 & 0xff, v = req->cmd.cdw11;

	if (req->cmd.cdw10 & (1u << 31))	/* SV: nothing is saveable */
		return SC_CS(NVME_SC_FEATURE_NOT_SAVEABLE);
	switch (fid) {
	case NVME_FEAT_FID_NUM_QUEUES: {
		uint32_t nsq = (v & 0xffff) + 1, ncq = (v >> 16) + 1, granted;

		if ((v & 0xffff) == 0xffff || (v >> 16) == 0xffff) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw11);
			return SC_INVALID_FIELD;
		}
		pthread_mutex_lock(&c->lock);
		for (unsigned q = 1; q <= CSD_MAX_IO_QUEUES; q++) {
			if (c->queues[q].present) {
				pthread_mutex_unlock(&c->lock);
				return SC_CMD_SEQ;	/* only before I/O queues exist */
			}
		}
		granted = nsq < ncq ? nsq : ncq;
		if (granted > CSD_MAX_IO_QUEUES)
			granted = CSD_MAX_IO_QUEUES;
		c->nr_io_queues = (uint16_t)granted;
		c->nr_queues_set = true;
		pthread_mutex_unlock(&c->lock);
		req->rsp.dw0 = (granted - 1) | ((granted - 1) << 16);
		return SC_OK;
	}
	case NVME_FEAT_FID_KATO:
		c->kato_ms = v;
		c->last_keep_alive_ms = csd_now_ns() / 1000000;
		return SC_OK;
	case NVME_FEAT_FID_ASYNC_EVENT:
		c->aec = v;
		return SC_OK;
	case NVME_FEAT_FID_ARBITRATION:
		c->arbitration = v;
		return SC_OK;
	case NVME_FEAT_FID_POWER_MGMT:
		if ((v & 0x1f) != 0) {	/* PS: Identify lists power state 0 alone (NPSS 0) */
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw11);
			return SC_INVALID_FIELD;
		}
		c->power_state = v & 0xff;
		return SC_OK;
	case NVME_FEAT_FID_TEMP_THRESH: {
		unsigned sensor = (v >> 16) & 0xf, kind = (v >> 20) & 0x3;

		/* the Composite Temperature alone (TMPSEL 0); THSEL 0 over, 1 under */
		if (sensor != 0 || kind > 1) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw11);
			return SC_INVALID_FIELD;
		}
		c->temp_threshold[kind] = v & 0xffff;
		return SC_OK;
	}
	case NVME_FEAT_FID_ERR_RECOVERY:
		if (v & (1u << 16)) {	/* DULBE: Identify Namespace NSFEAT does not offer it */
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw11);
			return SC_INVALID_FIELD;
		}
		c->error_recovery = v & 0xffff;
		return SC_OK;
	case NVME_FEAT_FID_VOLATILE_WC:
		c->write_cache_off = !(v & 1);
		return SC_OK;
	case NVME_FEAT_FID_WRITE_ATOMIC:
		c->write_atomicity = v & 1;
		return SC_OK;
	case NVME_FEAT_FID_IOCS_PROFILE:
		/* an index into the Identify 1Ch vector list: 0 all sets, 1 NVM only */
		if ((v & 0x1ff) > 1)
			return SC_CS(NVME_SC_IOCS_COMBINATION_REJECTED);
		c->iocs_profile = v & 0x1ff;
		return SC_OK;
	default:
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
		return SC_INVALID_FIELD;
	}
}

static uint16_t get_feature(struct csd_req *req)
{
	struct csd_ctrl *c = req->ctrl;
	uint32_t fid = req->cmd.cdw10 & 0xff, sel = (req->cmd.cdw10 >> 8) & 0x7;
	uint32_t current, dflt;

	switch (fid) {
	case NVME_FEAT_FID_NUM_QUEUES:
		current = (uint32_t)(c->nr_io_queues - 1) * 0x10001u;
		dflt = (CSD_MAX_IO_QUEUES - 1) * 0x10001u;
		break;
	case NVME_FEAT_FID_KATO:
		current = c->kato_ms;
		dflt = 0;
		break;
	case NVME_FEAT_FID_ASYNC_EVENT:
		current = c->aec;
		dflt = 0;
		break;
	case NVME_FEAT_FID_ARBITRATION:
		current = c->arbitration;
		dflt = 0;
		break;
	case NVME_FEAT_FID_IOCS_PROFILE:
		current = c->iocs_profile;
		dflt = 0;
		break;
	case NVME_FEAT_FID_POWER_MGMT:
		current = c->power_state;
		dflt = 0;
		break;
	case NVME_FEAT_FID_TEMP_THRESH: {
		unsigned sensor = (req->cmd.cdw11 >> 16) & 0xf, kind = (req->cmd.cdw11 >> 20) & 0x3;

		if (sensor != 0 || kind > 1) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw11);
			return SC_INVALID_FIELD;
		}
		current = c->temp_threshold[kind];
		dflt = kind ? CSD_TEMP_UNDER_DEFAULT : CSD_TEMP_OVER_DEFAULT;
		break;
	}
	case NVME_FEAT_FID_ERR_RECOVERY:
		current = c->error_recovery;
		dflt = 0;
		break;
	case NVME_FEAT_FID_VOLATILE_WC:
		current = !c->write_cache_off;
		dflt = 1;
		break;
	case NVME_FEAT_FID_WRITE_ATOMIC:
		current = c->write_atomicity;
		dflt = 0;
		break;
	default:
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
		return SC_INVALID_FIELD;
	}
	switch (sel) {
	case 0: req->rsp.dw0 = current; break;		/* current */
	case 1: case 2: req->rsp.dw0 = dflt; break;	/* default; saved = default */
	case 3: req->rsp.dw0 = 1u << 2; break;		/* capabilities: changeable */
	default:
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
		return SC_INVALID_FIELD;
	}
	return SC_OK;
}

static void execute_set_features(struct csd_req *req)
{
	csd_req_complete(req, set_feature(req));
}

static void execute_get_features(struct csd_req *req)
{
	csd_req_complete(req, get_feature(req));
}

uint16_t csd_parse_admin(struct csd_req *req)
{
	struct csd_ctrl *c = req->ctrl;
	uint16_t status;

	REQ_STAT(req, admin_cmds, 1);
	if (req->cmd.opcode == nvme_admin_fabrics)
		return csd_parse_fabrics(req);
	if (!(c->csts & CSTS_RDY))
		return SC_CMD_SEQ;

	switch (req->cmd.opcode) {
	case nvme_admin_identify:
		return csd_parse_identify(req);
	case nvme_admin_get_log_page:
		return csd_parse_get_log_page(req);
	case nvme_admin_set_features:
	case nvme_admin_get_features:
		if ((status = csd_req_check_len(req, 0)))
			return status;
		req->execute = req->cmd.opcode == nvme_admin_set_features ? execute_set_features
									    : execute_get_features;
		return SC_OK;
	case nvme_admin_async_event:
		req->execute = execute_async_event;
		return csd_req_check_len(req, 0);
	case nvme_admin_keep_alive:
		req->execute = execute_keep_alive;
		return csd_req_check_len(req, 0);
	case nvme_admin_abort_cmd:
		req->execute = execute_abort;
		return csd_req_check_len(req, 0);
	case CSD_ADMIN_LOAD_PROGRAM:
	case CSD_ADMIN_PROGRAM_ACTIVATION:
	case CSD_ADMIN_MEMORY_RANGE_SET:
		return csd_parse_compute_admin(req);
	default:
		req->error_loc = offsetof(struct csd_nvme_sqe, opcode);
		return SC_INVALID_OPCODE;
	}
}

/* Fabrics commands that are the controller's business: Property Get and Set. */

static void execute_property(struct csd_req *req)
{
	uint8_t fctype = req->cmd.nsid & 0xff;
	bool size8 = (req->cmd.cdw10 & 0x7) == 1;
	uint32_t offset = req->cmd.cdw11;
	uint64_t value = 0;
	uint16_t status;

	if (fctype == nvme_fabrics_type_property_get) {
		status = csd_ctrl_prop_get(req->ctrl, offset, size8, &value);
		req->rsp.dw0 = (uint32_t)value;
		req->rsp.dw1 = (uint32_t)(value >> 32);
	} else {
		value = req->cmd.cdw12 | ((uint64_t)req->cmd.cdw13 << 32);
		status = csd_ctrl_prop_set(req->ctrl, offset, size8, value);
	}
	if (status)
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw11);
	csd_req_complete(req, status);
}

uint16_t csd_parse_fabrics(struct csd_req *req)
{
	uint8_t fctype = req->cmd.nsid & 0xff;

	switch (fctype) {
	case nvme_fabrics_type_property_get:
	case nvme_fabrics_type_property_set:
		if ((req->cmd.cdw10 & 0x7) > 1) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
			return SC_INVALID_FIELD;
		}
		req->execute = execute_property;
		return csd_req_check_len(req, 0);
	default:
		/* Connect is the transport's: it creates the controller and its queues */
		req->error_loc = offsetof(struct csd_nvme_sqe, nsid);
		return SC_INVALID_OPCODE;
	}
}
