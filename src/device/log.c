/* SPDX-License-Identifier: MIT */
/*
 * Get Log Page: each page is built whole, then the host's window of it (offset, length) is
 * copied out. The error log keeps the last 64 errors of the controller; log C1h keeps the
 * readable reasons that no status code can carry (why a program was refused or faulted).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"

#ifndef CSD_VERSION
#define CSD_VERSION "0.0.0"
#endif

void csd_error_log_add(struct csd_req *req, uint16_t status)
{
	struct csd_ctrl *c = req->ctrl;
	struct nvme_error_log_page *e;

	pthread_mutex_lock(&c->lock);
	e = &c->errors[c->error_count % CSD_ERROR_LOG_ENTRIES];
	memset(e, 0, sizeof(*e));
	e->error_count = ++c->error_count;
	e->sqid = req->qid;
	e->cmdid = req->cmd.cid;
	e->status_field = (uint16_t)(status << 1);
	e->parm_error_location = req->error_loc;
	e->nsid = req->cmd.nsid;
	if (req->cmd.opcode == nvme_cmd_read || req->cmd.opcode == nvme_cmd_write)
		e->lba = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	/* the text of the reason, if one was given, is in log C1h */
	if (c->reasons[(c->reason_next + 7) % 8][0])
		e->vs = CSD_LOG_VENDOR_REASONS;
	pthread_mutex_unlock(&c->lock);
}

void csd_error_reason(struct csd_ctrl *c, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&c->lock);
	va_start(ap, fmt);
	vsnprintf(c->reasons[c->reason_next % 8], sizeof(c->reasons[0]), fmt, ap);
	va_end(ap);
	c->reason_next++;
	pthread_mutex_unlock(&c->lock);
}

static void put_u128(uint8_t *dst, uint64_t v)
{
	memset(dst, 0, 16);
	memcpy(dst, &v, sizeof(v));
}

static size_t log_smart(struct csd_subsys *s, uint8_t *buf)
{
	struct nvme_smart_log *l = (struct nvme_smart_log *)buf;
	uint64_t hours = (csd_now_ns() - s->start_ns) / 3600000000000ull;

	l->temperature[0] = 0x39;	/* 313 K */
	l->temperature[1] = 0x01;
	l->avail_spare = 100;
	l->spare_thresh = 10;
	/* thousands of 512-byte units, rounded up */
	put_u128(l->data_units_read, (s->stats.nvm_bytes_read / 512 + 999) / 1000);
	put_u128(l->data_units_written, (s->stats.nvm_bytes_written / 512 + 999) / 1000);
	put_u128(l->host_reads, s->stats.nvm_read_cmds);
	put_u128(l->host_writes, s->stats.nvm_write_cmds);
	put_u128(l->power_cycles, 1);
	put_u128(l->power_on_hours, hours);
	put_u128(l->num_err_log_entries, s->stats.errors);
	return sizeof(*l);
}

static void effects_set(uint32_t *table, const uint8_t *opcodes, size_t n, const uint8_t *lbcc,
			size_t nl)
{
	for (size_t i = 0; i < n; i++)
		table[opcodes[i]] = 1;	/* CSUPP */
	for (size_t i = 0; i < nl; i++)
		table[lbcc[i]] |= 1u << 1;	/* LBCC: changes the data */
}

static size_t log_effects(uint8_t csi, uint8_t *buf)
{
	static const uint8_t admin[] = {
		nvme_admin_get_log_page, nvme_admin_identify, nvme_admin_abort_cmd,
		nvme_admin_set_features, nvme_admin_get_features, nvme_admin_async_event,
		nvme_admin_keep_alive, CSD_ADMIN_LOAD_PROGRAM, CSD_ADMIN_PROGRAM_ACTIVATION,
		CSD_ADMIN_MEMORY_RANGE_SET,
	};
	static const uint8_t nvm[] = { nvme_cmd_flush, nvme_cmd_write, nvme_cmd_read,
				       nvme_cmd_write_zeroes, nvme_cmd_dsm, nvme_cmd_copy };
	static const uint8_t nvm_lbcc[] = { nvme_cmd_write, nvme_cmd_write_zeroes, nvme_cmd_dsm,
					    nvme_cmd_copy };
	static const uint8_t slm[] = { CSD_IO_MEMORY_COPY, CSD_IO_MEMORY_READ, CSD_IO_MEMORY_WRITE };
	static const uint8_t compute[] = { CSD_IO_EXECUTE_PROGRAM, CSD_IO_VENDOR_EXECUTE_STREAM };
	struct nvme_cmd_effects_log *l = (struct nvme_cmd_effects_log *)buf;

	effects_set(l->acs, admin, sizeof(admin), NULL, 0);
	if (csi == CSD_CSI_NVM)
		effects_set(l->iocs, nvm, sizeof(nvm), nvm_lbcc, sizeof(nvm_lbcc));
	else if (csi == CSD_CSI_SLM)
		effects_set(l->iocs, slm, sizeof(slm), NULL, 0);
	else if (csi == CSD_CSI_COMPUTE)
		effects_set(l->iocs, compute, sizeof(compute), NULL, 0);
	return sizeof(*l);
}

/* Programs this controller's host may see; another host's slots read as empty. */
static size_t log_programs(struct csd_ctrl *c, uint8_t *buf)
{
	struct csd_program_entry *e = (struct csd_program_entry *)buf;
	struct csd_subsys *s = c->subsys;

	pthread_mutex_lock(&s->lock);
	for (uint16_t i = 0; i < CSD_MAX_PROGRAMS; i++) {
		const struct csd_program *p = &s->programs[i];

		e[i].pind = i;
		if (!csd_host_sees(c, p->owner))
			continue;
		e[i].ptype = p->ptype;
		e[i].state = p->state;
		e[i].size = p->size;
		e[i].puid = p->puid;
		if (p->builtin) {
			e[i].flags = CSD_PROG_FLAG_BUILTIN;
			snprintf(e[i].name, sizeof(e[i].name), "%s", p->builtin->name);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return CSD_MAX_PROGRAMS * sizeof(*e);
}

static size_t log_range_sets(struct csd_ctrl *c, uint8_t *buf)
{
	struct csd_range_set_entry *e = (struct csd_range_set_entry *)buf;
	struct csd_subsys *s = c->subsys;
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < CSD_MAX_RANGE_SETS; i++) {
		const struct csd_range_set *rs = &s->range_sets[i];

		if (!rs->rsid || !csd_host_sees(c, rs->owner))
			continue;
		e[n].rsid = rs->rsid;
		e[n].nranges = rs->nranges;
		e[n].in_use = rs->in_use;
		for (unsigned r = 0; r < rs->nranges; r++)
			e[n].bytes += rs->ranges[r].len;
		n++;
	}
	pthread_mutex_unlock(&s->lock);
	return CSD_MAX_RANGE_SETS * sizeof(*e);
}

static void execute_get_log_page(struct csd_req *req)
{
	struct csd_ctrl *c = req->ctrl;
	struct csd_subsys *s = c->subsys;
	uint8_t lid = req->cmd.cdw10 & 0xff, csi = req->cmd.cdw14 >> 24;
	uint64_t offset = req->cmd.cdw12 | ((uint64_t)req->cmd.cdw13 << 32);
	size_t size = 0;
	uint8_t *buf = calloc(1, 16384);
	uint16_t status = SC_OK;

	if (!buf) {
		csd_req_complete(req, SC_INTERNAL);
		return;
	}
	switch (lid) {
	case NVME_LOG_LID_SUPPORTED_LOG_PAGES: {
		static const uint8_t lids[] = { 0x00, 0x01, 0x02, 0x03, 0x05, CSD_LOG_PROGRAM_LIST,
						CSD_LOG_PROGRAM_TYPES, CSD_LOG_RANGE_SET_LIST,
						CSD_LOG_VENDOR_STATS, CSD_LOG_VENDOR_REASONS };
		uint32_t *supported = (uint32_t *)buf;

		for (size_t i = 0; i < sizeof(lids); i++)
			supported[lids[i]] = 1;
		size = 1024;
		break;
	}
	case NVME_LOG_LID_ERROR: {
		struct nvme_error_log_page *out = (struct nvme_error_log_page *)buf;

		pthread_mutex_lock(&c->lock);
		for (uint64_t i = 0; i < CSD_ERROR_LOG_ENTRIES && i < c->error_count; i++)
			out[i] = c->errors[(c->error_count - 1 - i) % CSD_ERROR_LOG_ENTRIES];
		pthread_mutex_unlock(&c->lock);
		size = CSD_ERROR_LOG_ENTRIES * sizeof(*out);
		break;
	}
	case NVME_LOG_LID_SMART:
		size = log_smart(s, buf);
		break;
	case NVME_LOG_LID_FW_SLOT: {
		struct nvme_firmware_slot *fw = (struct nvme_firmware_slot *)buf;

		fw->afi = 1;
		memset(fw->frs[0], ' ', 8);
		memcpy(fw->frs[0], CSD_VERSION, strlen(CSD_VERSION) < 8 ? strlen(CSD_VERSION) : 8);
		size = sizeof(*fw);
		break;
	}
	case NVME_LOG_LID_CMD_EFFECTS:
		size = log_effects(csi, buf);
		break;
	case CSD_LOG_PROGRAM_LIST:
		size = log_programs(c, buf);
		break;
	case CSD_LOG_PROGRAM_TYPES: {
		struct csd_program_types *t = (struct csd_program_types *)buf;

		t->count = 3;
		t->ptype[0] = CSD_PTYPE_EBPF_ELF;
		t->ptype[1] = CSD_PTYPE_EBPF_RAW;
		t->ptype[2] = CSD_PTYPE_BUILTIN;
		size = sizeof(*t);
		break;
	}
	case CSD_LOG_RANGE_SET_LIST:
		size = log_range_sets(c, buf);
		break;
	case CSD_LOG_VENDOR_STATS:
		/* LSP 1: this controller's counters; 0: the whole drive's */
		if ((req->cmd.cdw10 >> 8) & 0x7f)
			csd_ctrl_stats(c, (struct csd_vendor_stats *)buf);
		else
			csd_subsys_stats(s, (struct csd_vendor_stats *)buf);
		size = sizeof(struct csd_vendor_stats);
		break;
	case CSD_LOG_VENDOR_REASONS:
		/* newest first, one NUL-terminated line of 256 bytes each */
		pthread_mutex_lock(&c->lock);
		for (unsigned i = 0; i < 8; i++)
			memcpy(buf + 256 * i, c->reasons[(c->reason_next + 7 - i) % 8], 256);
		pthread_mutex_unlock(&c->lock);
		size = 8 * 256;
		break;
	default:
		if (lid >= 0xc2 && lid <= 0xcf && s->log_provider)
			size = s->log_provider(s->log_provider_arg, c, lid, buf, 16384);
		if (!size) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
			status = SC_CS(NVME_SC_INVALID_LOG_PAGE);
		}
	}
	if (!status && (offset % 4 || offset >= size)) {
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw12);
		status = SC_INVALID_FIELD;
	}
	if (!status) {
		/* the part past the page reads as zeroes */
		memset(req->data, 0, req->data_len);
		csd_req_copy_out(req, buf + offset, size - offset);
		req->c2h_len = req->data_len;
	}
	free(buf);
	csd_req_complete(req, status);
}

uint16_t csd_parse_get_log_page(struct csd_req *req)
{
	uint64_t numd = (req->cmd.cdw10 >> 16) | ((uint64_t)(req->cmd.cdw11 & 0xffff) << 16);
	uint64_t len = (numd + 1) * 4;

	if (len > CSD_MAX_TRANSFER) {
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
		return SC_INVALID_FIELD;
	}
	req->execute = execute_get_log_page;
	return csd_req_check_len(req, (uint32_t)len);
}
