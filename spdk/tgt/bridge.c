/* SPDX-License-Identifier: MIT */
/*
 * The bridge between SPDK's NVMe-oF controllers and csdlab's device core. For each SPDK
 * controller of a csdlab drive's subsystem there is one device-core controller, made at its
 * first command with the host NQN it connected with, its queues added as they are first
 * used and its CC kept equal to SPDK's. A command becomes a csd_req with the command's data
 * copied in; its completion (maybe on an engine or worker thread) goes back to the SPDK
 * thread that took the command, which copies the data out and completes the request with
 * both result dwords.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spdk/log.h"
#include "spdk/nvme_spec.h"
#include "spdk/nvmf.h"
#include "spdk/nvmf_cmd.h"
#include "spdk/nvmf_spec.h"
#include "spdk/nvmf_transport.h"
#include "spdk/thread.h"

#include "csd/tcp.h"
#include "csd_spdk.h"

_Static_assert(sizeof(struct csd_nvme_sqe) == sizeof(struct spdk_nvme_cmd),
	       "a command is 64 bytes in both");

#define BRIDGE_MAX_QID 127

struct bridge_ctrl {
	struct spdk_nvmf_ctrlr *sctrlr;
	struct csd_ctrl *ctrl;
	struct csd_spdk_drive *drive;
	uint32_t cc;			/* as last given to the device core */
	uint64_t queues[2];		/* qids added to the device core */
	struct csd_spdk_endpoints conn[BRIDGE_MAX_QID + 1];	/* each queue's connection */
	struct bridge_ctrl *next;
};

struct bridge_req {
	struct csd_req req;		/* first: the device core hands it back */
	struct spdk_nvmf_request *sreq;
	struct spdk_thread *thread;
	struct spdk_nvmf_ctrlr *sctrlr;
	bool identify_ctrlr;		/* its answer gets SPDK's transport fields */
};

static struct bridge_ctrl *g_ctrls;
static pthread_mutex_t g_ctrls_lock = PTHREAD_MUTEX_INITIALIZER;

/* The device-core controller of an SPDK controller, made on first use. Lock held. */
static struct bridge_ctrl *bridge_ctrl_get(struct csd_spdk_drive *d,
					   struct spdk_nvmf_ctrlr *sctrlr)
{
	struct bridge_ctrl *bc;

	for (bc = g_ctrls; bc; bc = bc->next)
		if (bc->sctrlr == sctrlr)
			return bc;
	bc = calloc(1, sizeof(*bc));
	if (!bc)
		return NULL;
	if (csd_ctrl_create(d->subsys, spdk_nvmf_ctrlr_get_hostnqn(sctrlr), &bc->ctrl)) {
		free(bc);
		return NULL;
	}
	bc->sctrlr = sctrlr;
	bc->drive = d;
	bc->next = g_ctrls;
	g_ctrls = bc;
	return bc;
}

/* A queue as SPDK has it: in the device core, its connection's ends noted. Lock held. */
static int bridge_ctrl_add_queue(struct bridge_ctrl *bc, struct spdk_nvmf_qpair *qpair)
{
	struct spdk_nvme_transport_id local, peer;
	uint16_t qid = qpair->qid;
	int ret;

	if (qid > BRIDGE_MAX_QID)
		return -EINVAL;
	if (bc->queues[qid / 64] & (1ull << (qid % 64)))
		return 0;
	ret = csd_ctrl_add_queue(bc->ctrl, qid, (uint16_t)(qpair->sq_head_max + 1));
	if (ret && ret != -EEXIST)
		return ret;
	bc->queues[qid / 64] |= 1ull << (qid % 64);
	if (!spdk_nvmf_qpair_get_local_trid(qpair, &local) &&
	    !spdk_nvmf_qpair_get_peer_trid(qpair, &peer)) {
		struct csd_spdk_endpoints *e = &bc->conn[qid];

		snprintf(e->local_addr, sizeof(e->local_addr), "%s", local.traddr);
		snprintf(e->local_port, sizeof(e->local_port), "%s", local.trsvcid);
		snprintf(e->peer_addr, sizeof(e->peer_addr), "%s", peer.traddr);
		snprintf(e->peer_port, sizeof(e->peer_port), "%s", peer.trsvcid);
	}
	return 0;
}

/* Queues and CC as SPDK has them, before a command goes in. Lock held. */
static int bridge_ctrl_sync(struct bridge_ctrl *bc, struct spdk_nvmf_qpair *qpair)
{
	const struct spdk_nvmf_registers *regs = spdk_nvmf_ctrlr_get_regs(bc->sctrlr);
	int ret = bridge_ctrl_add_queue(bc, qpair);

	if (ret)
		return ret;
	if (regs->cc.raw != bc->cc) {
		if (csd_ctrl_prop_set(bc->ctrl, 0x14, false, regs->cc.raw))
			return -EINVAL;
		bc->cc = regs->cc.raw;
	}
	return 0;
}

/*
 * Identify Controller is the drive's, but what the transport decides is SPDK's: the
 * controller ID, transfer and capsule sizes, SGL support, keep alive, queue limits, and the
 * asynchronous events SPDK reports.
 */
static void identify_ctrlr_fixup(struct spdk_nvmf_ctrlr *sctrlr, struct spdk_nvme_ctrlr_data *id)
{
	struct spdk_nvme_ctrlr_data spdk_id;

	if (spdk_nvmf_ctrlr_identify_ctrlr(sctrlr, &spdk_id) !=
	    SPDK_NVMF_REQUEST_EXEC_STATUS_COMPLETE)
		return;
	id->cntlid = spdk_id.cntlid;
	id->mdts = spdk_id.mdts;
	id->sgls = spdk_id.sgls;
	id->nvmf_specific = spdk_id.nvmf_specific;
	id->kas = spdk_id.kas;
	id->maxcmd = spdk_id.maxcmd;
	id->aerl = spdk_id.aerl;
	id->oaes = spdk_id.oaes;
	id->cmic = spdk_id.cmic;
}

static void bridge_complete(void *arg)
{
	struct bridge_req *br = arg;
	struct spdk_nvmf_request *sreq = br->sreq;
	struct spdk_nvme_cpl *cpl = spdk_nvmf_request_get_response(sreq);
	bool ok = !(br->req.rsp.status >> 1);

	if (ok && sreq->xfer == SPDK_NVME_DATA_CONTROLLER_TO_HOST) {
		if (br->identify_ctrlr && br->req.c2h_len >= sizeof(struct spdk_nvme_ctrlr_data))
			identify_ctrlr_fixup(br->sctrlr, br->req.data);
		spdk_nvmf_request_copy_from_buf(sreq, br->req.data, br->req.c2h_len);
		/* what the command produced goes back, not the whole buffer the host offered */
		sreq->length = br->req.c2h_len;
		if (!br->req.c2h_len)
			sreq->xfer = SPDK_NVME_DATA_NONE;
	}
	cpl->cdw0 = br->req.rsp.dw0;
	cpl->cdw1 = br->req.rsp.dw1;
	cpl->status_raw = br->req.rsp.status & 0xfffe;	/* SPDK sets the phase */
	free(br->req.data);
	free(br);
	spdk_nvmf_request_complete(sreq);
}

/* Called once, on whatever thread the device core completed the command on. */
static void bridge_done(struct csd_req *req)
{
	struct bridge_req *br = (struct bridge_req *)req;

	/* the message pool runs dry only for a moment: a completion is never dropped */
	for (unsigned tries = 0; spdk_thread_send_msg(br->thread, bridge_complete, br); tries++) {
		if (tries == 1000)
			SPDK_ERRLOG("csd: a completion waits for SPDK's message pool\n");
		usleep(100);
	}
}

static int bridge_submit(struct csd_spdk_drive *d, struct spdk_nvmf_request *sreq)
{
	struct spdk_nvmf_ctrlr *sctrlr = spdk_nvmf_request_get_ctrlr(sreq);
	struct spdk_nvme_cpl *cpl = spdk_nvmf_request_get_response(sreq);
	struct spdk_nvme_cmd *scmd = spdk_nvmf_request_get_cmd(sreq);
	struct bridge_req *br = calloc(1, sizeof(*br));
	struct bridge_ctrl *bc;
	struct csd_ctrl *ctrl = NULL;

	if (br && sreq->length)
		br->req.data = malloc(sreq->length);
	if (!br || (sreq->length && !br->req.data)) {
		if (br)
			free(br);
		cpl->status.sct = SPDK_NVME_SCT_GENERIC;
		cpl->status.sc = SPDK_NVME_SC_INTERNAL_DEVICE_ERROR;
		return SPDK_NVMF_REQUEST_EXEC_STATUS_COMPLETE;
	}
	pthread_mutex_lock(&g_ctrls_lock);
	bc = bridge_ctrl_get(d, sctrlr);
	if (bc && !bridge_ctrl_sync(bc, sreq->qpair))
		ctrl = bc->ctrl;
	pthread_mutex_unlock(&g_ctrls_lock);
	if (!ctrl) {
		free(br->req.data);
		free(br);
		cpl->status.sct = SPDK_NVME_SCT_GENERIC;
		cpl->status.sc = SPDK_NVME_SC_INTERNAL_DEVICE_ERROR;
		return SPDK_NVMF_REQUEST_EXEC_STATUS_COMPLETE;
	}
	memcpy(&br->req.cmd, scmd, sizeof(br->req.cmd));
	br->req.qid = sreq->qpair->qid;
	br->req.data_len = sreq->length;
	if (sreq->length && sreq->xfer == SPDK_NVME_DATA_HOST_TO_CONTROLLER)
		spdk_nvmf_request_copy_to_buf(sreq, br->req.data, sreq->length);
	br->req.done = bridge_done;
	br->sreq = sreq;
	br->sctrlr = sctrlr;
	br->thread = spdk_get_thread();
	br->identify_ctrlr = br->req.qid == 0 && scmd->opc == SPDK_NVME_OPC_IDENTIFY &&
				      (scmd->cdw10 & 0xff) == SPDK_NVME_IDENTIFY_CTRLR;
	csd_ctrl_submit(ctrl, &br->req);
	return SPDK_NVMF_REQUEST_EXEC_STATUS_ASYNCHRONOUS;
}

/* Every I/O command of a csdlab drive is the device core's, on every namespace. */
static int bridge_io_cmd(struct spdk_nvmf_request *sreq)
{
	struct csd_spdk_drive *d = csd_spdk_drive_of(spdk_nvmf_request_get_subsystem(sreq));

	return d ? bridge_submit(d, sreq) : -1;
}

/*
 * Admin commands about the drive are the device core's; SPDK keeps what makes the
 * association work (queues, keep alive, asynchronous events, abort of its requests).
 */
static int bridge_admin_cmd(struct spdk_nvmf_request *sreq)
{
	struct csd_spdk_drive *d = csd_spdk_drive_of(spdk_nvmf_request_get_subsystem(sreq));
	const struct spdk_nvme_cmd *cmd = spdk_nvmf_request_get_cmd(sreq);

	if (!d)
		return -1;
	if (cmd->opc == SPDK_NVME_OPC_GET_FEATURES || cmd->opc == SPDK_NVME_OPC_SET_FEATURES) {
		switch (cmd->cdw10 & 0xff) {
		case SPDK_NVME_FEAT_ARBITRATION:
		case SPDK_NVME_FEAT_POWER_MANAGEMENT:
		case SPDK_NVME_FEAT_TEMPERATURE_THRESHOLD:
		case SPDK_NVME_FEAT_ERROR_RECOVERY:
		case SPDK_NVME_FEAT_VOLATILE_WRITE_CACHE:
		case SPDK_NVME_FEAT_WRITE_ATOMICITY:
		case SPDK_NVME_FEAT_IO_COMMAND_SET_PROFILE:
			break;
		default:
			return -1;
		}
	}
	return bridge_submit(d, sreq);
}

/*
 * A queue joins a drive's controller: the device core hears of it now rather than at its
 * first command, so that the link log counts its connection from the ICReq on.
 */
static void bridge_qpair_add(struct spdk_nvmf_qpair *qpair)
{
	struct spdk_nvmf_ctrlr *sctrlr = qpair->ctrlr;
	struct csd_spdk_drive *d = sctrlr ? csd_spdk_drive_of(spdk_nvmf_ctrlr_get_subsystem(sctrlr))
					  : NULL;
	struct bridge_ctrl *bc;

	if (!d)
		return;
	pthread_mutex_lock(&g_ctrls_lock);
	bc = bridge_ctrl_get(d, sctrlr);
	if (bc)
		bridge_ctrl_add_queue(bc, qpair);	/* else the first command says so */
	pthread_mutex_unlock(&g_ctrls_lock);
}

static void bridge_ctrlr_destruct(struct spdk_nvmf_ctrlr *sctrlr)
{
	struct bridge_ctrl **p, *bc = NULL;

	pthread_mutex_lock(&g_ctrls_lock);
	for (p = &g_ctrls; *p; p = &(*p)->next) {
		if ((*p)->sctrlr == sctrlr) {
			bc = *p;
			*p = bc->next;
			break;
		}
	}
	pthread_mutex_unlock(&g_ctrls_lock);
	if (bc) {
		csd_ctrl_destroy(bc->ctrl);
		free(bc);
	}
}

/* The bytes of a controller's connections, as the kernel counts them. Lock held. */
static void bridge_ctrl_link(const struct bridge_ctrl *bc, struct csd_tcp_traffic *t)
{
	for (unsigned qid = 0; qid <= BRIDGE_MAX_QID; qid++) {
		uint64_t in, out;

		if (bc->conn[qid].local_port[0] && !csd_spdk_tcp_bytes(&bc->conn[qid], &in, &out)) {
			t->bytes_in += in;
			t->bytes_out += out;
		}
	}
}

/*
 * Log C2h: the asking controller's connections, and the drive's connections now (SPDK
 * keeps no count of connections that went away).
 */
static size_t bridge_link_log(void *arg, struct csd_ctrl *ctrl, uint8_t lid, void *buf,
			      size_t size)
{
	struct csd_spdk_drive *d = arg;
	struct csd_tcp_link_log log;

	if (lid != CSD_LOG_VENDOR_LINK || size < sizeof(log))
		return 0;
	memset(&log, 0, sizeof(log));
	pthread_mutex_lock(&g_ctrls_lock);
	for (struct bridge_ctrl *bc = g_ctrls; bc; bc = bc->next) {
		if (bc->drive != d)
			continue;
		bridge_ctrl_link(bc, &log.target);
		if (bc->ctrl == ctrl)
			bridge_ctrl_link(bc, &log.association);
	}
	pthread_mutex_unlock(&g_ctrls_lock);
	memcpy(buf, &log, sizeof(log));
	return sizeof(log);
}

bool csd_spdk_bridge_drive_busy(const struct csd_spdk_drive *d)
{
	bool busy = false;

	pthread_mutex_lock(&g_ctrls_lock);
	for (struct bridge_ctrl *bc = g_ctrls; bc && !busy; bc = bc->next)
		busy = bc->drive == d;
	pthread_mutex_unlock(&g_ctrls_lock);
	return busy;
}

void csd_spdk_bridge_add_drive(struct csd_spdk_drive *d)
{
	csd_subsys_set_log_provider(d->subsys, bridge_link_log, d);
}

/*
 * A shutdown notification (CC.SHN) reaches SPDK as a Property Set and is followed by no
 * command: the device core, which puts the NVM data on its file then, hears of CC here too.
 */
static int bridge_cc_poll(void *arg)
{
	int busy = SPDK_POLLER_IDLE;

	(void)arg;
	pthread_mutex_lock(&g_ctrls_lock);
	for (struct bridge_ctrl *bc = g_ctrls; bc; bc = bc->next) {
		uint32_t cc = spdk_nvmf_ctrlr_get_regs(bc->sctrlr)->cc.raw;

		if (cc != bc->cc && !csd_ctrl_prop_set(bc->ctrl, 0x14, false, cc)) {
			bc->cc = cc;
			busy = SPDK_POLLER_BUSY;
		}
	}
	pthread_mutex_unlock(&g_ctrls_lock);
	return busy;
}

static struct spdk_poller *g_cc_poller;

void csd_spdk_bridge_fini(void)
{
	spdk_poller_unregister(&g_cc_poller);
}

void csd_spdk_bridge_init(void)
{
	static const uint8_t admin_opcodes[] = {
		SPDK_NVME_OPC_GET_LOG_PAGE, SPDK_NVME_OPC_IDENTIFY, SPDK_NVME_OPC_SET_FEATURES,
		SPDK_NVME_OPC_GET_FEATURES, CSD_ADMIN_LOAD_PROGRAM, CSD_ADMIN_PROGRAM_ACTIVATION,
		CSD_ADMIN_MEMORY_RANGE_SET,
	};

	for (size_t i = 0; i < sizeof(admin_opcodes); i++)
		spdk_nvmf_set_custom_admin_cmd_hdlr(admin_opcodes[i], bridge_admin_cmd);
	spdk_nvmf_set_custom_io_cmd_hdlr(bridge_io_cmd);
	spdk_nvmf_set_ctrlr_destruct_cb(bridge_ctrlr_destruct);
	spdk_nvmf_set_qpair_add_cb(bridge_qpair_add);
	g_cc_poller = SPDK_POLLER_REGISTER(bridge_cc_poll, NULL, 100 * 1000);
}
