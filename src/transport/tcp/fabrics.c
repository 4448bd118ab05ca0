/* SPDX-License-Identifier: MIT */
/*
 * Fabrics commands the transport owns: Connect (which creates a controller for an admin queue
 * and attaches I/O queues to it, recording the host NQN and host id), and the discovery
 * controller at the well-known discovery NQN, whose log page lists this subsystem.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "target_internal.h"

#define SC_CONNECT(sc)	(CSD_NVME_STATUS(1, (sc)) | CSD_NVME_DNR)
#define SC_INCOMPATIBLE_FORMAT	0x80
#define SC_INVALID_PARAM	0x82
#define SC_INVALID_HOST		0x84
#define SC_GEN(sc)	(CSD_NVME_STATUS(0, (sc)) | CSD_NVME_DNR)

/*
 * Connect Invalid Parameters: DW0 says where (IPO, bits 15:0, a byte offset) and in what
 * (IATTR, bit 16: 1 = the Connect data, 0 = the command), as Linux's nvmet sets them (its
 * IPO_IATTR_CONNECT_DATA) and its host decodes them. Before 2026-11-28 the two were swapped.
 */
static void invalid_param(struct tcp_cmd *c, bool in_data, uint16_t offset)
{
	tcp_cmd_status(c, SC_CONNECT(SC_INVALID_PARAM));
	c->req.rsp.dw0 = (in_data ? 1u << 16 : 0u) | offset;
}

static bool host_allowed(const struct tcp_target *t, const char *hostnqn)
{
	/* with secrets, only the hosts that have one (unless others are let in); with an
	 * allow-list, only those */
	if (t->nhost_keys && !t->cfg.allow_unauthenticated && !tcp_auth_host_key(t, hostnqn))
		return false;
	if (!t->cfg.allowed_hosts)
		return true;
	for (size_t i = 0; i < t->cfg.nallowed; i++)
		if (!strcmp(t->cfg.allowed_hosts[i], hostnqn))
			return true;
	return false;
}

static struct tcp_assoc *connect_admin(struct tcp_queue *q, struct tcp_cmd *c,
				       const struct nvmf_connect_data *d, bool discovery,
				       uint16_t sqsize, uint32_t kato)
{
	struct tcp_target *t = q->t;
	struct tcp_assoc *a = calloc(1, sizeof(*a));

	if (!a) {
		tcp_cmd_status(c, SC_GEN(NVME_SC_INTERNAL));
		return NULL;
	}
	if (d->cntlid != 0xffff) {	/* the dynamic controller model */
		invalid_param(c, true, offsetof(struct nvmf_connect_data, cntlid));
		free(a);
		return NULL;
	}
	a->t = t;
	a->discovery = discovery;
	memcpy(a->hostid, d->hostid, sizeof(a->hostid));
	snprintf(a->hostnqn, sizeof(a->hostnqn), "%.*s", NVME_NQN_LENGTH - 1, d->hostnqn);
	a->last_cmd_ms = tcp_now_ms();
	if (discovery) {
		a->cntlid = t->next_disc_cntlid++;
		a->kato_ms = kato;
		a->last_ka_ms = tcp_now_ms();
	} else {
		if (csd_ctrl_create(t->subsys, a->hostnqn, &a->ctrl) ||
		    csd_ctrl_add_queue(a->ctrl, 0, (uint16_t)(sqsize + 1))) {
			if (a->ctrl)
				csd_ctrl_destroy(a->ctrl);
			free(a);
			tcp_cmd_status(c, SC_GEN(NVME_SC_INTERNAL));
			return NULL;
		}
		csd_ctrl_set_kato(a->ctrl, kato);
		a->cntlid = csd_ctrl_cntlid(a->ctrl);
	}
	a->next = t->assocs;
	t->assocs = a;
	return a;
}

/*
 * A host that sends no NQN (SPDK's spdk_nvme_perf unless told one) is named by its Host
 * Identifier, in the UUID form of an NQN, so that it still has programs of its own.
 * False when the Host Identifier is all zero too.
 */
static bool host_nqn_from_hostid(struct nvmf_connect_data *d)
{
	static const uint8_t zero[sizeof(d->hostid)];
	const uint8_t *u = d->hostid;

	if (!memcmp(d->hostid, zero, sizeof(zero)))
		return false;
	snprintf(d->hostnqn, sizeof(d->hostnqn),
		 "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8],
		 u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return true;
}

void tcp_handle_connect(struct tcp_queue *q, struct tcp_cmd *c)
{
	const struct csd_nvme_sqe *cmd = &c->req.cmd;
	uint16_t recfmt = cmd->cdw10 & 0xffff, qid = (uint16_t)(cmd->cdw10 >> 16);
	uint16_t sqsize = cmd->cdw11 & 0xffff;
	struct tcp_target *t = q->t;
	const struct tcp_host_key *key;
	struct nvmf_connect_data d;
	struct tcp_assoc *a = NULL;
	bool discovery;

	if (q->assoc) {
		tcp_cmd_status(c, SC_GEN(NVME_SC_CMD_SEQ_ERROR));
		goto out;
	}
	if (recfmt != 0) {
		tcp_cmd_status(c, SC_CONNECT(SC_INCOMPATIBLE_FORMAT));
		goto out;
	}
	if (c->len != sizeof(d)) {
		tcp_cmd_status(c, SC_GEN(NVME_SC_SGL_INVALID_DATA));
		goto out;
	}
	memcpy(&d, c->buf, sizeof(d));
	d.subsysnqn[NVME_NQN_LENGTH - 1] = '\0';
	d.hostnqn[NVME_NQN_LENGTH - 1] = '\0';
	discovery = !strcmp(d.subsysnqn, NVME_DISC_SUBSYS_NAME);
	if (!discovery && strcmp(d.subsysnqn, csd_subsys_nqn(t->subsys))) {
		invalid_param(c, true, offsetof(struct nvmf_connect_data, subsysnqn));
		goto out;
	}
	if (!discovery && !d.hostnqn[0] && !host_nqn_from_hostid(&d)) {
		/*
		 * Programs, range sets and SLM belong to a host NQN: hosts with neither an NQN
		 * nor a Host Identifier would all share one identity, so they are refused.
		 */
		invalid_param(c, true, offsetof(struct nvmf_connect_data, hostnqn));
		goto out;
	}
	if (!discovery && !host_allowed(t, d.hostnqn)) {
		tcp_cmd_status(c, SC_CONNECT(SC_INVALID_HOST));
		goto out;
	}
	if (sqsize < 1 || sqsize >= CSD_MAX_QUEUE_SIZE_TCP) {
		invalid_param(c, false, 44);	/* SQSIZE */
		goto out;
	}
	/* a queue of a host with a secret starts locked (a Connect retried starts afresh) */
	tcp_auth_queue_free(q);
	key = discovery ? NULL : tcp_auth_host_key(t, d.hostnqn);
	q->auth_ms = tcp_now_ms();
	if (key && tcp_auth_queue_init(q, key)) {
		tcp_cmd_status(c, SC_GEN(NVME_SC_INTERNAL));
		goto out;
	}
	if (qid == 0) {
		a = connect_admin(q, c, &d, discovery, sqsize, cmd->cdw12);
		if (!a)
			goto out;
	} else {
		for (a = t->assocs; a; a = a->next)
			if (!a->discovery && a->cntlid == d.cntlid && !strcmp(a->hostnqn, d.hostnqn))
				break;
		if (!a) {
			invalid_param(c, true, offsetof(struct nvmf_connect_data, cntlid));
			goto out;
		}
		if (a->queues[0] && tcp_auth_pending(a->queues[0])) {
			/* I/O queues only for a controller whose admin queue authenticated */
			tcp_cmd_status(c, SC_GEN(NVME_SC_AUTH_REQUIRED));
			a = NULL;
			goto out;
		}
		if (qid > 64 || a->queues[qid] || csd_ctrl_add_queue(a->ctrl, qid, (uint16_t)(sqsize + 1))) {
			invalid_param(c, false, 42);	/* QID */
			a = NULL;
			goto out;
		}
	}
	q->assoc = a;
	q->qid = qid;
	q->sqsize = sqsize;
	q->sqflow_disabled = (cmd->cdw11 >> 16) & CSD_NVMF_CONNECT_CATTR_DISABLE_SQFLOW;
	q->ncmds = (unsigned)sqsize + 1;
	a->queues[qid] = q;
	/* AUTHREQ.ATR: the host must authenticate this queue before anything else */
	c->req.rsp.dw0 = a->cntlid | (key ? CSD_NVMF_CONNECT_AUTHREQ_ATR : 0);
	tcp_cmd_status(c, 0);
	if (t->cfg.verbose)
		fprintf(stderr, "csd-target: %s: %s queue %u of controller %u for %s\n", q->peer,
			discovery ? "discovery" : "connected", qid, a->cntlid, a->hostnqn);
out:
	tcp_cmd_respond(c);
}

/* The discovery controller */

static void disc_identify(struct tcp_queue *q, struct tcp_cmd *c)
{
	struct nvme_id_ctrl id;

	if ((c->req.cmd.cdw10 & 0xff) != NVME_IDENTIFY_CNS_CTRL || c->len != sizeof(id)) {
		tcp_cmd_status(c, SC_GEN(NVME_SC_INVALID_FIELD));
		return;
	}
	memset(&id, 0, sizeof(id));
	memset(id.sn, ' ', sizeof(id.sn));
	memset(id.mn, ' ', sizeof(id.mn));
	memcpy(id.mn, "csdlab discovery", 16);
	memset(id.fr, ' ', sizeof(id.fr));
	id.cntlid = q->assoc->cntlid;
	id.ver = 0x00010300;
	id.cntrltype = 2;		/* discovery controller */
	id.lpa = 1 << 2;		/* extended data for Get Log Page */
	id.maxcmd = 32;
	id.kas = 1;
	id.sgls = 1 | (1u << 20);
	id.mdts = 8;
	snprintf(id.subnqn, sizeof(id.subnqn), "%s", NVME_DISC_SUBSYS_NAME);
	memcpy(c->buf, &id, sizeof(id));
	c->req.c2h_len = sizeof(id);
	tcp_cmd_status(c, 0);
}

static void disc_log(struct tcp_queue *q, struct tcp_cmd *c)
{
	const struct csd_nvme_sqe *cmd = &c->req.cmd;
	uint64_t offset = cmd->cdw12 | ((uint64_t)cmd->cdw13 << 32);
	uint32_t numd = (cmd->cdw10 >> 16) | ((cmd->cdw11 & 0xffff) << 16);
	uint64_t len = ((uint64_t)numd + 1) * 4;
	size_t size = sizeof(struct nvmf_discovery_log) + sizeof(struct nvmf_disc_log_entry);
	struct nvmf_discovery_log *log;
	struct nvmf_disc_log_entry *e;

	if ((cmd->cdw10 & 0xff) != NVME_LOG_LID_DISCOVER) {
		tcp_cmd_status(c, SC_CONNECT(NVME_SC_INVALID_LOG_PAGE));
		return;
	}
	if (len != c->len || offset % 4 || offset > size) {
		tcp_cmd_status(c, SC_GEN(NVME_SC_INVALID_FIELD));
		return;
	}
	log = calloc(1, size);
	if (!log) {
		tcp_cmd_status(c, SC_GEN(NVME_SC_INTERNAL));
		return;
	}
	log->genctr = 1;
	log->numrec = 1;
	log->recfmt = 0;
	e = &log->entries[0];
	e->trtype = NVMF_TRTYPE_TCP;
	e->adrfam = NVMF_ADDR_FAMILY_IP4;
	e->subtype = NVME_NQN_NVME;
	e->treq = NVMF_TREQ_NOT_SPECIFIED | NVMF_TREQ_DISABLE_SQFLOW;
	e->portid = 1;
	e->cntlid = 0xffff;
	e->asqsz = 32;
	snprintf(e->trsvcid, sizeof(e->trsvcid), "%u", q->t->port);
	snprintf(e->subnqn, sizeof(e->subnqn), "%s", csd_subsys_nqn(q->t->subsys));
	snprintf(e->traddr, sizeof(e->traddr), "%s", q->t->advertise);
	memset(c->buf, 0, c->len);
	memcpy(c->buf, (uint8_t *)log + offset, size - offset < len ? size - offset : len);
	c->req.c2h_len = c->len;
	free(log);
	tcp_cmd_status(c, 0);
}

static void disc_property(struct tcp_assoc *a, struct tcp_cmd *c)
{
	const struct csd_nvme_sqe *cmd = &c->req.cmd;
	bool size8 = (cmd->cdw10 & 7) == 1, get = (cmd->nsid & 0xff) == nvme_fabrics_type_property_get;
	uint64_t v = 0;

	switch (cmd->cdw11) {
	case NVME_REG_CAP:
		v = 31 | (1ull << 16) | (15ull << 24) | (1ull << 37);
		break;
	case NVME_REG_VS:
		v = 0x00010300;
		break;
	case NVME_REG_CC:
		if (!get) {
			uint32_t cc = cmd->cdw12;

			a->cc = cc;
			a->csts = (cc & 1) ? 1 : 0;
			if ((cc >> NVME_CC_SHN_SHIFT) & NVME_CC_SHN_MASK)
				a->csts |= NVME_CSTS_SHST_CMPLT << NVME_CSTS_SHST_SHIFT;
		}
		v = a->cc;
		break;
	case NVME_REG_CSTS:
		v = a->csts;
		break;
	default:
		tcp_cmd_status(c, SC_GEN(NVME_SC_INVALID_FIELD));
		return;
	}
	if (!get && cmd->cdw11 != NVME_REG_CC) {
		tcp_cmd_status(c, SC_GEN(NVME_SC_INVALID_FIELD));
		return;
	}
	(void)size8;
	c->req.rsp.dw0 = (uint32_t)v;
	c->req.rsp.dw1 = (uint32_t)(v >> 32);
	tcp_cmd_status(c, 0);
}

void tcp_discovery_cmd(struct tcp_queue *q, struct tcp_cmd *c)
{
	struct tcp_assoc *a = q->assoc;
	const struct csd_nvme_sqe *cmd = &c->req.cmd;

	a->last_ka_ms = tcp_now_ms();
	if (q->qid != 0) {
		tcp_cmd_status(c, SC_GEN(NVME_SC_INVALID_OPCODE));
		tcp_cmd_respond(c);
		return;
	}
	switch (cmd->opcode) {
	case nvme_admin_fabrics:
		disc_property(a, c);
		break;
	case nvme_admin_identify:
		disc_identify(q, c);
		break;
	case nvme_admin_get_log_page:
		disc_log(q, c);
		break;
	case nvme_admin_keep_alive:
		tcp_cmd_status(c, 0);
		break;
	case nvme_admin_set_features:
		if ((cmd->cdw10 & 0xff) == NVME_FEAT_FID_KATO)
			a->kato_ms = cmd->cdw11;
		tcp_cmd_status(c, (cmd->cdw10 & 0xff) == NVME_FEAT_FID_KATO ||
				  (cmd->cdw10 & 0xff) == NVME_FEAT_FID_ASYNC_EVENT
				  ? 0 : SC_GEN(NVME_SC_INVALID_FIELD));
		break;
	case nvme_admin_get_features:
		c->req.rsp.dw0 = (cmd->cdw10 & 0xff) == NVME_FEAT_FID_KATO ? a->kato_ms : 0;
		tcp_cmd_status(c, 0);
		break;
	case nvme_admin_async_event:
		return;		/* held until the connection ends: no events to report */
	default:
		tcp_cmd_status(c, SC_GEN(NVME_SC_INVALID_OPCODE));
	}
	tcp_cmd_respond(c);
}

void tcp_discovery_check_keep_alive(struct tcp_target *t, uint64_t now)
{
	for (struct tcp_assoc *a = t->assocs, *next; a; a = next) {
		next = a->next;
		if (a->discovery && a->kato_ms && now > a->last_ka_ms + a->kato_ms && a->queues[0])
			tcp_queue_close(a->queues[0]);
	}
}
