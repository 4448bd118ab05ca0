/* SPDX-License-Identifier: MIT */
/*
 * Identify: controller, namespaces, namespace identification descriptors (with the CSI the
 * Linux host requires), command-set-specific data, the command-set-independent namespace data
 * (NSTAT ready, also required by Linux for non-NVM sets) and the I/O command set vectors.
 */
#include <stdio.h>
#include <string.h>

#include "device_internal.h"

#ifndef CSD_VERSION
#define CSD_VERSION "0.0.0"
#endif

#define IDENTIFY_SIZE		4096
#define TCP_INLINE_DATA		8192	/* in-capsule data the NVMe/TCP binding accepts */

static uint8_t ns_csi(uint32_t nsid)
{
	return nsid == CSD_NSID_SLM ? CSD_CSI_SLM :
	       nsid == CSD_NSID_COMPUTE ? CSD_CSI_COMPUTE : CSD_CSI_NVM;
}

static void pad_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', size);
	memcpy(dst, src, n < size ? n : size);
}

static void put_le128(uint8_t *dst, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		dst[i] = (uint8_t)(v >> (8 * i));
}

static void identify_ctrl(struct csd_req *req, uint8_t *buf)
{
	struct nvme_id_ctrl *id = (struct nvme_id_ctrl *)buf;
	struct csd_subsys *s = req->ctrl->subsys;

	pad_copy(id->sn, sizeof(id->sn), s->serial);
	pad_copy(id->mn, sizeof(id->mn), "csdlab");
	pad_copy(id->fr, sizeof(id->fr), CSD_VERSION);
	id->rab = 6;
	id->cmic = 0;
	id->mdts = CSD_MDTS_SHIFT;
	id->cntlid = req->ctrl->cntlid;
	id->ver = CSD_NVME_VS;
	id->cntrltype = 1;		/* I/O controller */
	id->oacs = 0;			/* no namespace management, firmware download, ... */
	id->acl = 3;			/* 4 concurrent Aborts */
	id->aerl = CSD_AERL;
	id->frmw = (1 << 1) | 1;	/* one slot, read-only */
	id->lpa = (1 << 1) | (1 << 2) | (1 << 5);	/* effects log, LPO, supported logs */
	id->elpe = CSD_ERROR_LOG_ENTRIES - 1;
	id->kas = 1;			/* keep alive, 100 ms granularity */
	id->sqes = (6 << 4) | 6;
	id->cqes = (4 << 4) | 4;
	id->maxcmd = CSD_MAX_QUEUE_SIZE;
	id->nn = 3;
	/* Dataset Management, Write Zeroes, Copy */
	id->oncs = (1 << 2) | (1 << 3) | (1 << 8);
	id->vwc = 1 | (2 << 1);		/* volatile cache; no broadcast flush */
	id->ocfs = 1;			/* Copy descriptor format 0 */
	id->sgls = 1 | (1u << 20);	/* SGLs; offset-based in-capsule data */
	put_le128(id->tnvmcap, s->nvm.nlb << s->nvm.lba_shift);
	snprintf(id->subnqn, sizeof(id->subnqn), "%s", s->nqn);
	id->ioccsz = (64 + TCP_INLINE_DATA) / 16;
	id->iorcsz = 1;
	id->msdbd = 1;
	id->psd[0].mp = 100;		/* 1 W, a round figure for an emulated drive */
}

static void identify_ns_nvm(struct csd_subsys *s, uint8_t *buf)
{
	struct nvme_id_ns *id = (struct nvme_id_ns *)buf;

	id->nsze = id->ncap = id->nuse = s->nvm.nlb;
	id->nsfeat = 1;			/* thin provisioning: deallocated blocks are holes */
	id->nlbaf = 1;			/* two formats, 0's based */
	id->flbas = s->nvm.lba_size == 4096 ? 1 : 0;
	id->dlfeat = (1 << 3) | 1;	/* Write Zeroes may deallocate; deallocated reads 0 */
	id->mssrl = 0xffff;
	id->mcl = 1u << 20;
	id->msrc = 127;
	id->lbaf[0].ds = 9;
	id->lbaf[1].ds = 12;
	memcpy(id->nguid, s->serial, strlen(s->serial) < 15 ? strlen(s->serial) : 15);
	id->nguid[15] = CSD_NSID_NVM;
}

/* Namespace Identification Descriptors: an NGUID and the CSI. */
static void identify_ns_descs(struct csd_subsys *s, uint32_t nsid, uint8_t *buf)
{
	struct nvme_ns_id_desc *d = (struct nvme_ns_id_desc *)buf;

	d->nidt = NVME_NIDT_NGUID;
	d->nidl = NVME_NIDT_NGUID_LEN;
	memcpy(d->nid, s->serial, strlen(s->serial) < 15 ? strlen(s->serial) : 15);
	d->nid[15] = (uint8_t)nsid;
	d = (struct nvme_ns_id_desc *)(buf + sizeof(*d) + NVME_NIDT_NGUID_LEN);
	d->nidt = NVME_NIDT_CSI;
	d->nidl = NVME_NIDT_CSI_LEN;
	d->nid[0] = ns_csi(nsid);
}

/*
 * Command-set-specific namespace data of the memory and compute namespaces. The standard's
 * layouts are not in the digest [?]: csdlab reports its sizes and limits in the first bytes.
 */
static void identify_ns_csi(struct csd_subsys *s, uint32_t nsid, uint8_t *buf)
{
	uint64_t slm = s->slm.size;
	uint32_t v[5] = { CSD_MAX_PROGRAMS, CSD_MAX_ACTIVE, CSD_MAX_RANGE_SETS, CSD_MAX_RANGES,
			  CSD_MAX_PROGRAM_BYTES };

	if (nsid == CSD_NSID_SLM)
		memcpy(buf, &slm, sizeof(slm));		/* MSZ: bytes of memory */
	else if (nsid == CSD_NSID_COMPUTE)
		memcpy(buf, v, sizeof(v));
}

static void execute_identify(struct csd_req *req)
{
	struct csd_ctrl *c = req->ctrl;
	struct csd_subsys *s = c->subsys;
	uint8_t cns = req->cmd.cdw10 & 0xff, csi = req->cmd.cdw11 >> 24;
	uint32_t nsid = req->cmd.nsid;
	uint8_t buf[IDENTIFY_SIZE] = { 0 };
	uint16_t status = SC_OK;

	switch (cns) {
	case NVME_IDENTIFY_CNS_CTRL:
		identify_ctrl(req, buf);
		break;
	case NVME_IDENTIFY_CNS_NS:
		if (nsid == 0xffffffffu) {
			identify_ns_nvm(s, buf);	/* capabilities common to namespaces */
		} else if (!csd_ctrl_ns_active(c, nsid)) {
			status = nsid >= 1 && nsid <= 3 ? SC_OK : SC_INVALID_NS;	/* inactive: zeroes */
		} else if (nsid == CSD_NSID_NVM) {
			identify_ns_nvm(s, buf);
		}
		break;
	case NVME_IDENTIFY_CNS_NS_ACTIVE_LIST: {
		uint32_t *list = (uint32_t *)buf, n = 0;

		if (nsid >= 0xfffffffeu) {
			status = SC_INVALID_NS;
			break;
		}
		for (uint32_t id = 1; id <= 3; id++)
			if (id > nsid && csd_ctrl_ns_active(c, id))
				list[n++] = id;
		break;
	}
	case NVME_IDENTIFY_CNS_NS_DESC_LIST:
		if (!csd_ctrl_ns_active(c, nsid))
			status = SC_INVALID_NS;
		else
			identify_ns_descs(s, nsid, buf);
		break;
	case NVME_IDENTIFY_CNS_CSI_NS:
		if (!csd_ctrl_ns_active(c, nsid))
			status = SC_INVALID_NS;
		else if (csi != ns_csi(nsid))
			status = SC_CS(NVME_SC_IOCS_NOT_SUPPORTED);
		else
			identify_ns_csi(s, nsid, buf);	/* NVM: all zero is right */
		break;
	case NVME_IDENTIFY_CNS_CSI_CTRL:
		if (csi != CSD_CSI_NVM && csi != CSD_CSI_SLM && csi != CSD_CSI_COMPUTE)
			status = SC_CS(NVME_SC_IOCS_NOT_SUPPORTED);
		break;				/* zeroes: no limits beyond the controller's */
	case NVME_IDENTIFY_CNS_CSI_INDEPENDENT_ID_NS: {
		struct nvme_id_independent_id_ns *id = (struct nvme_id_independent_id_ns *)buf;

		if (!csd_ctrl_ns_active(c, nsid)) {
			status = SC_INVALID_NS;
			break;
		}
		id->nstat = 1;		/* ready */
		id->nsfeat = nsid == CSD_NSID_NVM ? 1 : 0;
		break;
	}
	case NVME_IDENTIFY_CNS_COMMAND_SET_STRUCTURE: {
		uint64_t vec[2] = { CSD_IOCS_NVM | CSD_IOCS_SLM | CSD_IOCS_COMPUTE, CSD_IOCS_NVM };

		memcpy(buf, vec, sizeof(vec));
		break;
	}
	default:
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
		status = SC_INVALID_FIELD;
	}
	if (!status)
		csd_req_copy_out(req, buf, sizeof(buf));
	csd_req_complete(req, status);
}

uint16_t csd_parse_identify(struct csd_req *req)
{
	req->execute = execute_identify;
	return csd_req_check_len(req, IDENTIFY_SIZE);
}
