/* SPDX-License-Identifier: MIT */
/*
 * The compute namespace (CSI 4): program slots (Load Program in chunks, unload), Program
 * Activation Management (activation loads and checks the program; a refusal is Invalid Program
 * Data with the reason in log C1h), Memory Range Set Management, and the parsing of Execute
 * Program and of csdlab's streaming Execute; the runs themselves are in engine.c.
 *
 * Every status follows the table of ../shared/spec/tp4091.md. One subsystem lock guards the
 * slots and range sets; a running program holds `in_use` references to its slot and set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "device_internal.h"

#define MAX_TOTAL_PROGRAM_BYTES	(4u << 20)	/* all downloaded programs together */
#define MAX_STREAM_RANGES	256
#define MAX_STREAM_WINDOW	(16u << 20)

/* Built-in programs */

static uint64_t builtin_count_byte(const uint8_t *mem, uint64_t len, uint64_t p1, uint64_t p2)
{
	uint64_t n = 0;

	(void)p2;
	for (uint64_t i = 0; i < len; i++)
		n += mem[i] == (uint8_t)p1;
	return n;
}

static uint64_t builtin_crc32c(const uint8_t *mem, uint64_t len, uint64_t p1, uint64_t p2)
{
	(void)p2;
	return csd_crc32c((uint32_t)p1, mem, len);
}

const struct csd_builtin csd_builtins[CSD_BUILTIN_PROGRAMS] = {
	{ "count_byte", builtin_count_byte },	/* occurrences of byte CPARAM1 */
	{ "crc32c", builtin_crc32c },		/* CRC32C, seeded with CPARAM1 (0 normally) */
};

void csd_programs_init(struct csd_subsys *s)
{
	for (unsigned i = 0; i < CSD_BUILTIN_PROGRAMS; i++) {
		s->programs[i].state = CSD_PROG_ACTIVE;
		s->programs[i].ptype = CSD_PTYPE_BUILTIN;
		s->programs[i].builtin = &csd_builtins[i];
	}
}

static void program_clear(struct csd_program *p)
{
	csd_ebpf_prog__free(p->prog);
	free(p->image);
	memset(p, 0, sizeof(*p));
}

void csd_programs_free(struct csd_subsys *s)
{
	for (unsigned i = CSD_BUILTIN_PROGRAMS; i < CSD_MAX_PROGRAMS; i++)
		program_clear(&s->programs[i]);
}

bool csd_host_sees(const struct csd_ctrl *c, const char *owner)
{
	return c->subsys->cfg.share_programs || !owner[0] || !strcmp(owner, c->hostnqn);
}

/* Downloaded program slots this host holds (a download in progress counts). */
static unsigned host_programs(const struct csd_subsys *s, const char *nqn)
{
	unsigned n = 0;

	for (unsigned i = CSD_BUILTIN_PROGRAMS; i < CSD_MAX_PROGRAMS; i++)
		n += !strcmp(s->programs[i].owner, nqn);
	return n;
}

static uint64_t range_set_bytes(const struct csd_range_set *rs)
{
	uint64_t bytes = 0;

	for (unsigned r = 0; r < rs->nranges; r++)
		bytes += rs->ranges[r].len;
	return bytes;
}

/* Program bytes held by host `nqn` (NULL: by all), downloads in progress included. */
static uint32_t program_bytes(const struct csd_subsys *s, const char *nqn)
{
	uint32_t total = 0;

	for (unsigned i = 0; i < CSD_MAX_PROGRAMS; i++)
		if (!s->programs[i].builtin && (!nqn || !strcmp(s->programs[i].owner, nqn)))
			total += s->programs[i].size;
	return total;
}

static bool download_unfinished(const struct csd_program *p)
{
	return p->image && p->state == CSD_PROG_EMPTY && p->received < p->size && !p->in_use;
}

/* Downloads that have had no chunk for download_idle_ms give their room back. */
static void drop_stale_downloads(struct csd_subsys *s)
{
	uint64_t now = csd_now_ns(), idle = (s->cfg.download_idle_ms ? s->cfg.download_idle_ms :
					     60000) * UINT64_C(1000000);

	for (unsigned i = CSD_BUILTIN_PROGRAMS; i < CSD_MAX_PROGRAMS; i++)
		if (download_unfinished(&s->programs[i]) &&
		    now - s->programs[i].last_chunk_ns > idle)
			program_clear(&s->programs[i]);
}

void csd_programs_host_gone(struct csd_subsys *s, const char *nqn)
{
	for (unsigned i = CSD_BUILTIN_PROGRAMS; i < CSD_MAX_PROGRAMS; i++)
		if (download_unfinished(&s->programs[i]) && !strcmp(s->programs[i].owner, nqn))
			program_clear(&s->programs[i]);
}

/* Load Program (85h) */

static uint16_t load_program(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	uint32_t cdw10 = req->cmd.cdw10, psize = req->cmd.cdw11;
	uint32_t numb = req->cmd.cdw14, loff = req->cmd.cdw15;
	unsigned pind = CSD_LOAD_PIND(cdw10), ptype = CSD_LOAD_PTYPE(cdw10);
	struct csd_program *p = &s->programs[pind];
	const char *host = req->ctrl->hostnqn;

	/* another host's program is not there for this one, and its slot is not free either */
	if (p->owner[0] && !csd_host_sees(req->ctrl, p->owner)) {
		if (CSD_LOAD_SEL(cdw10))
			return SC_CS(CSD_SC_NO_PROGRAM);
		csd_error_reason(req->ctrl, "program index %u is held by another host", pind);
		return CSD_NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_ACCESS_DENIED) | CSD_NVME_DNR;
	}
	if (CSD_LOAD_SEL(cdw10)) {	/* unload */
		if (p->state == CSD_PROG_EMPTY && !p->received)
			return SC_CS(CSD_SC_NO_PROGRAM);
		if (p->state == CSD_PROG_ACTIVE || p->in_use)
			return SC_CS(CSD_SC_PROGRAM_IN_USE);
		program_clear(p);
		return SC_OK;
	}
	if (ptype != CSD_PTYPE_EBPF_ELF && ptype != CSD_PTYPE_EBPF_RAW)
		return SC_CS(CSD_SC_INVALID_PROGRAM_TYPE);
	if (psize > CSD_MAX_PROGRAM_BYTES)
		return SC_CS(CSD_SC_PROGRAM_TOO_BIG);
	if (psize == 0 || numb == 0 || loff > psize || numb > psize - loff) {
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw14);
		return SC_INVALID_FIELD;
	}
	if (p->state == CSD_PROG_ACTIVE || p->in_use)
		return SC_CS(CSD_SC_PROGRAM_IN_USE);
	if (loff == 0) {
		uint32_t share = s->cfg.host_max_program_bytes ? s->cfg.host_max_program_bytes :
				 MAX_TOTAL_PROGRAM_BYTES / 2;
		uint32_t mine = program_bytes(s, host) - (strcmp(p->owner, host) ? 0 : p->size);

		/* a new download replaces whatever the slot held */
		drop_stale_downloads(s);
		if (mine + psize > share) {
			csd_error_reason(req->ctrl, "this host's programs would take %u bytes of "
					 "program memory, more than its share of %u", mine + psize,
					 share);
			return SC_CS(CSD_SC_INSUFFICIENT_PROGRAM_RESOURCES);
		}
		if (program_bytes(s, NULL) - p->size + psize > MAX_TOTAL_PROGRAM_BYTES)
			return SC_CS(CSD_SC_MAX_PROGRAM_BYTES_EXCEEDED);
		if (s->cfg.host_max_programs && strcmp(p->owner, host) &&
		    host_programs(s, host) >= s->cfg.host_max_programs) {
			csd_error_reason(req->ctrl, "this host already holds %u programs, its limit",
					 s->cfg.host_max_programs);
			return SC_CS(CSD_SC_INSUFFICIENT_PROGRAM_RESOURCES);
		}
		program_clear(p);
		p->image = malloc(psize);
		if (!p->image)
			return SC_CS(CSD_SC_INSUFFICIENT_PROGRAM_RESOURCES);
		p->ptype = (uint8_t)ptype;
		p->size = psize;
		snprintf(p->owner, sizeof(p->owner), "%s", host);
		if (CSD_LOAD_PIT(cdw10) == 1)
			p->puid = req->cmd.cdw12 | ((uint64_t)req->cmd.cdw13 << 32);
	} else if (!p->image || p->ptype != ptype || p->size != psize || loff != p->received) {
		/* chunks arrive in order, each continuing the same download */
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw15);
		return SC_INVALID_FIELD;
	}
	memcpy(p->image + loff, req->data, numb);
	p->received = loff + numb;
	p->last_chunk_ns = csd_now_ns();
	if (p->received == p->size) {
		p->state = CSD_PROG_LOADED;
		REQ_STAT(req, program_loads, 1);
	}
	return SC_OK;
}

/*
 * Load and verify an image into a runnable program, without the subsystem lock (verification
 * can take a while: other commands must not wait for it). 0, or an errno with `log` saying why.
 */
static int build_program(const struct csd_subsys *s, const struct csd_program *p,
			 struct csd_ebpf_prog **out, char *log, size_t log_size)
{
	CSD_EBPF_OPTS(csd_ebpf_load_opts, opts, .log_buf = log, .log_size = log_size);
	CSD_EBPF_OPTS(csd_ebpf_verify_opts, vopts, .log_buf = log, .log_size = log_size,
		      .time_limit_ms = s->cfg.verify_time_limit_ms ? s->cfg.verify_time_limit_ms :
				       CSD_EBPF_VERIFY_TIME_LIMIT_MS);
	int err;

	if (p->ptype == CSD_PTYPE_EBPF_ELF) {
		char name[64] = "";
		uint32_t elf_size = p->size;
		uint16_t n;

		/* an optional trailer names the program (nvme_cs.h) */
		if (p->size > 10 && !memcmp(p->image + p->size - 8, CSD_PROGRAM_NAME_MAGIC, 8)) {
			memcpy(&n, p->image + p->size - 10, 2);
			if (n == 0 || n >= sizeof(name) || n > p->size - 10) {
				snprintf(log, log_size, "bad name trailer");
				return -EINVAL;
			}
			memcpy(name, p->image + p->size - 10 - n, n);
			elf_size = p->size - 10 - n;
		}
		err = csd_ebpf_prog__load_elf(p->image, elf_size, name[0] ? name : NULL, &opts, out);
	} else if (p->size % sizeof(struct csd_ebpf_insn)) {
		snprintf(log, log_size, "%u bytes is not a whole number of instructions", p->size);
		return -EINVAL;
	} else {
		err = csd_ebpf_prog__load((const struct csd_ebpf_insn *)p->image,
					  p->size / sizeof(struct csd_ebpf_insn), &opts, out);
	}
	if (err)
		return err;
	/* a program the drive cannot prove safe does not run, unless told otherwise */
	err = csd_ebpf_prog__verify(*out, &vopts);
	if (err && !s->cfg.allow_unverified) {
		csd_ebpf_prog__free(*out);
		*out = NULL;
		return err;
	}
	return 0;
}

/* Not a status: the command completes later, from the verifier's thread (verifier.c). */
#define STATUS_PENDING	0xffffu

/*
 * Program Activation Management (88h): activation is where a program is checked. Called with
 * s->lock held. An activation to do is handed to the verifier's thread with the slot marked
 * (in use, activating) so that nothing unloads, replaces or activates it meanwhile; the
 * caller (the network thread) goes on at once.
 */
static uint16_t activate_program(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	unsigned pind = CSD_ACT_PIND(req->cmd.cdw10), sel = CSD_ACT_SEL(req->cmd.cdw10);
	struct csd_program *p = &s->programs[pind];
	unsigned active = 0;

	if (sel > 1) {
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
		return SC_INVALID_FIELD;
	}
	if (!csd_host_sees(req->ctrl, p->owner))
		return SC_CS(CSD_SC_NO_PROGRAM);
	if (p->activating)
		return SC_CS(CSD_SC_PROGRAM_IN_USE);
	if (sel == 0) {
		if (p->state != CSD_PROG_ACTIVE)
			return SC_CS(CSD_SC_PROGRAM_NOT_ACTIVATED);
		if (p->in_use)
			return SC_CS(CSD_SC_PROGRAM_IN_USE);
		csd_ebpf_prog__free(p->prog);
		p->prog = NULL;
		p->state = CSD_PROG_LOADED;
		return SC_OK;
	}
	if (p->state == CSD_PROG_ACTIVE)
		return SC_OK;
	if (p->state != CSD_PROG_LOADED)
		return SC_CS(CSD_SC_NO_PROGRAM);
	for (unsigned i = CSD_BUILTIN_PROGRAMS; i < CSD_MAX_PROGRAMS; i++)
		active += s->programs[i].state == CSD_PROG_ACTIVE || s->programs[i].activating;
	if (active >= CSD_MAX_ACTIVE)
		return SC_CS(CSD_SC_MAX_PROGRAMS_ACTIVATED);
	p->activating = true;
	p->in_use++;
	csd_worker_queue(&s->verifier, req, csd_program_activate_finish);
	return STATUS_PENDING;
}

/* On the verifier's thread: build and verify the program, then complete the activation. */
void csd_program_activate_finish(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	unsigned pind = CSD_ACT_PIND(req->cmd.cdw10);
	struct csd_program *p = &s->programs[pind];
	struct csd_ebpf_prog *prog = NULL;
	char log[512] = "";
	uint16_t status = SC_OK;
	int err = build_program(s, p, &prog, log, sizeof(log));

	pthread_mutex_lock(&s->lock);
	p->activating = false;
	p->in_use--;
	if (err) {
		csd_error_reason(req->ctrl, "program %u refused: %s", pind, log);
		status = SC_CS(CSD_SC_INVALID_PROGRAM_DATA);
	} else {
		p->prog = prog;
		p->state = CSD_PROG_ACTIVE;
	}
	pthread_mutex_unlock(&s->lock);
	csd_req_complete(req, status);
}

/* An activation that was queued when its controller went away. */
void csd_program_activate_cancel(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	struct csd_program *p = &s->programs[CSD_ACT_PIND(req->cmd.cdw10)];

	pthread_mutex_lock(&s->lock);
	p->activating = false;
	p->in_use--;
	pthread_mutex_unlock(&s->lock);
	csd_req_complete(req, SC_GENERIC(NVME_SC_ABORT_REQ));
}

/*
 * Check memory range descriptors and copy them into `out`: all in the memory namespace, inside
 * it, dword-aligned, none overlapping another.
 */
static uint16_t check_ranges(struct csd_req *req, const struct csd_mem_range *d, unsigned n,
			     struct csd_mem_extent *out)
{
	const uint64_t size = req->ctrl->subsys->slm.size;

	for (unsigned i = 0; i < n; i++) {
		if (d[i].nsid != CSD_NSID_SLM)
			return SC_CS(CSD_SC_INVALID_MEMORY_NS);
		if (d[i].len == 0 || d[i].len % 4 || d[i].sb % 4 || d[i].sb >= size ||
		    d[i].len > size - d[i].sb)
			return SC_CS(CSD_SC_INVALID_MEMORY_RANGE_SET);
		for (unsigned k = 0; k < i; k++)
			if (d[i].sb < d[k].sb + d[k].len && d[k].sb < d[i].sb + d[i].len)
				return SC_CS(CSD_SC_OVERLAPPING_RANGES);
		out[i].sb = d[i].sb;
		out[i].len = d[i].len;
	}
	return SC_OK;
}

static struct csd_range_set *find_range_set(struct csd_subsys *s, uint16_t rsid)
{
	for (unsigned i = 0; rsid && i < CSD_MAX_RANGE_SETS; i++)
		if (s->range_sets[i].rsid == rsid)
			return &s->range_sets[i];
	return NULL;
}

/* Memory Range Set Management (89h) */
static uint16_t manage_range_set(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	unsigned sel = CSD_MRS_SEL(req->cmd.cdw10), numr = req->cmd.cdw11;
	struct csd_range_set *rs = NULL;
	uint16_t status;

	if (sel == 1) {
		rs = find_range_set(s, CSD_MRS_RSID(req->cmd.cdw10));
		if (!rs || !csd_host_sees(req->ctrl, rs->owner))
			return SC_CS(CSD_SC_INVALID_RSID);
		if (rs->in_use)
			return SC_CS(CSD_SC_RANGE_SET_IN_USE);
		memset(rs, 0, sizeof(*rs));
		return SC_OK;
	}
	for (unsigned i = 0; i < CSD_MAX_RANGE_SETS && !rs; i++)
		if (!s->range_sets[i].rsid)
			rs = &s->range_sets[i];
	if (!rs)
		return SC_CS(CSD_SC_MAX_RANGE_SETS_EXCEEDED);
	status = check_ranges(req, req->data, numr, rs->ranges);
	if (status) {
		memset(rs, 0, sizeof(*rs));
		return status;
	}
	rs->nranges = (uint16_t)numr;
	if (s->cfg.host_max_slm_bytes) {
		uint64_t held = 0;

		for (unsigned i = 0; i < CSD_MAX_RANGE_SETS; i++)
			if (s->range_sets[i].rsid && !strcmp(s->range_sets[i].owner, req->ctrl->hostnqn))
				held += range_set_bytes(&s->range_sets[i]);
		if (held + range_set_bytes(rs) > s->cfg.host_max_slm_bytes) {
			csd_error_reason(req->ctrl, "range sets of this host would cover %llu bytes "
					 "of SLM, more than its limit of %llu",
					 (unsigned long long)(held + range_set_bytes(rs)),
					 (unsigned long long)s->cfg.host_max_slm_bytes);
			memset(rs, 0, sizeof(*rs));
			return SC_CS(CSD_SC_INSUFFICIENT_RESOURCES);
		}
	}
	snprintf(rs->owner, sizeof(rs->owner), "%s", req->ctrl->hostnqn);
	/* identifiers are not reused at once: a stale RSID finds nothing */
	do {
		rs->rsid = s->next_rsid++;
		if (!s->next_rsid)
			s->next_rsid = 1;
	} while (find_range_set(s, rs->rsid) != rs);
	req->rsp.dw0 = rs->rsid;
	return SC_OK;
}

static void execute_compute_admin(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	uint16_t status;

	pthread_mutex_lock(&s->lock);
	switch (req->cmd.opcode) {
	case CSD_ADMIN_LOAD_PROGRAM:
		status = load_program(req);
		break;
	case CSD_ADMIN_PROGRAM_ACTIVATION:
		status = activate_program(req);
		break;
	default:
		status = manage_range_set(req);
	}
	pthread_mutex_unlock(&s->lock);
	if (status != STATUS_PENDING)
		csd_req_complete(req, status);
}

static uint16_t check_pind(struct csd_req *req, unsigned pind, bool downloadable)
{
	if (pind >= CSD_MAX_PROGRAMS) {
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
		return SC_CS(CSD_SC_INVALID_PROGRAM_INDEX);
	}
	if (downloadable && pind < CSD_BUILTIN_PROGRAMS)
		return SC_CS(CSD_SC_PROGRAM_NOT_DOWNLOADABLE);
	return SC_OK;
}

uint16_t csd_parse_compute_admin(struct csd_req *req)
{
	const struct csd_nvme_sqe *cmd = &req->cmd;
	uint16_t status;

	if (cmd->opcode == CSD_ADMIN_MEMORY_RANGE_SET) {
		/* the ranges name their memory namespace; the command names either namespace */
		if (cmd->nsid != CSD_NSID_COMPUTE && cmd->nsid != CSD_NSID_SLM) {
			req->error_loc = offsetof(struct csd_nvme_sqe, nsid);
			return SC_INVALID_NS;
		}
		if (CSD_MRS_SEL(cmd->cdw10) > 1) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
			return SC_INVALID_FIELD;
		}
		if (CSD_MRS_SEL(cmd->cdw10) == 0) {
			if (cmd->cdw11 == 0) {
				req->error_loc = offsetof(struct csd_nvme_sqe, cdw11);
				return SC_INVALID_FIELD;
			}
			if (cmd->cdw11 > CSD_MAX_RANGES)
				return SC_CS(CSD_SC_MAX_MEMORY_RANGES_EXCEEDED);
		}
		req->execute = execute_compute_admin;
		return csd_req_check_len(req, CSD_MRS_SEL(cmd->cdw10) == 0 ?
					      cmd->cdw11 * (uint32_t)sizeof(struct csd_mem_range) : 0);
	}
	if (cmd->nsid != CSD_NSID_COMPUTE || !csd_ctrl_ns_active(req->ctrl, cmd->nsid)) {
		req->error_loc = offsetof(struct csd_nvme_sqe, nsid);
		return SC_INVALID_NS;
	}
	if (cmd->opcode == CSD_ADMIN_LOAD_PROGRAM) {
		if ((status = check_pind(req, CSD_LOAD_PIND(cmd->cdw10), true)))
			return status;
		if (CSD_LOAD_PIT(cmd->cdw10) > 1) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw10);
			return SC_INVALID_FIELD;
		}
		req->execute = execute_compute_admin;
		return csd_req_check_len(req, CSD_LOAD_SEL(cmd->cdw10) ? 0 : cmd->cdw14);
	}
	if ((status = check_pind(req, CSD_ACT_PIND(cmd->cdw10), true)))
		return status;
	req->execute = execute_compute_admin;
	return csd_req_check_len(req, 0);
}

/* Execute Program (01h) and the streaming Execute (81h): checked here, run by the engine. */

/* The host's entry in the in-flight table (s->lock held); NULL when the table is full. */
void csd_host_usage_put(struct csd_host_usage *u)
{
	if (u && !u->execs && !u->ctrls)
		u->nqn[0] = '\0';
}

struct csd_host_usage *csd_host_usage_of(struct csd_subsys *s, const char *nqn)
{
	struct csd_host_usage *free_entry = NULL;

	if (!nqn[0])
		return NULL;	/* no identity to account to (the transports refuse such hosts) */
	for (unsigned i = 0; i < CSD_MAX_HOSTS; i++) {
		if (!strcmp(s->hosts[i].nqn, nqn) && nqn[0])
			return &s->hosts[i];
		if (!s->hosts[i].nqn[0] && !free_entry)
			free_entry = &s->hosts[i];
	}
	if (free_entry)
		snprintf(free_entry->nqn, sizeof(free_entry->nqn), "%s", nqn);
	return free_entry;
}

static void queue_execute(struct csd_req *req)
{
	csd_engine_queue(req->ctrl->subsys, req);
}

static uint16_t parse_execute(struct csd_req *req, struct csd_exec *x)
{
	struct csd_subsys *s = req->ctrl->subsys;
	unsigned numr = req->cmd.cdw3;
	struct csd_range_set *rs = NULL;
	uint16_t status;

	x->rsid = (uint16_t)(req->cmd.cdw2 >> 16);
	if (x->rsid) {
		if (numr) {
			req->error_loc = offsetof(struct csd_nvme_sqe, cdw3);
			return SC_INVALID_FIELD;
		}
		if ((status = csd_req_check_len(req, 0)))
			return status;
		rs = find_range_set(s, x->rsid);
		if (!rs || !csd_host_sees(req->ctrl, rs->owner))
			return SC_CS(CSD_SC_INVALID_RSID);
		x->nranges = rs->nranges;
		memcpy(x->ranges, rs->ranges, sizeof(x->ranges));
		rs->in_use++;
		return SC_OK;
	}
	if (numr > CSD_MAX_RANGES)
		return SC_CS(CSD_SC_MAX_MEMORY_RANGES_EXCEEDED);
	if ((status = csd_req_check_len(req, numr * (uint32_t)sizeof(struct csd_mem_range))))
		return status;
	x->nranges = numr;
	return check_ranges(req, req->data, numr, x->ranges);
}

static uint16_t parse_stream(struct csd_req *req, struct csd_exec *x)
{
	struct csd_subsys *s = req->ctrl->subsys;
	const struct csd_stream_range *r = req->data;
	unsigned n = req->data_len / sizeof(*r);

	x->stream = true;
	x->combine = (uint8_t)CSD_STREAM_COMBINE(req->cmd.cdw2);
	x->sequential = req->cmd.cdw2 & CSD_STREAM_SEQUENTIAL;
	x->overlap = req->cmd.cdw3;
	x->window = req->cmd.cdw15 ? req->cmd.cdw15 : CSD_STREAM_WINDOW;
	if (req->cmd.cdw14 != CSD_NSID_NVM)
		return SC_CS(CSD_SC_NS_NOT_REACHABLE);
	if (x->combine > CSD_STREAM_MAX || req->cmd.cdw2 >> 21) {
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw2);
		return SC_INVALID_FIELD;
	}
	if (x->window % s->nvm.lba_size || x->window > MAX_STREAM_WINDOW ||
	    x->overlap >= x->window) {
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw15);
		return SC_INVALID_FIELD;
	}
	if (n == 0 || n > MAX_STREAM_RANGES || req->data_len % sizeof(*r)) {
		req->error_loc = offsetof(struct csd_nvme_sqe, dptr);
		return SC_DATA_LEN;
	}
	for (unsigned i = 0; i < n; i++)
		if (r[i].slba >= s->nvm.nlb || (uint64_t)r[i].nlb + 1 > s->nvm.nlb - r[i].slba)
			return SC_LBA_RANGE;
	x->stream_ranges = malloc(req->data_len);
	if (!x->stream_ranges)
		return SC_INTERNAL;
	memcpy(x->stream_ranges, r, req->data_len);
	x->nstream = n;
	return SC_OK;
}

uint16_t csd_parse_compute_io(struct csd_req *req)
{
	struct csd_subsys *s = req->ctrl->subsys;
	unsigned pind = req->cmd.cdw2 & 0xffff;
	struct csd_program *p;
	struct csd_exec *x;
	uint16_t status;

	if (req->cmd.opcode != CSD_IO_EXECUTE_PROGRAM &&
	    req->cmd.opcode != CSD_IO_VENDOR_EXECUTE_STREAM) {
		req->error_loc = offsetof(struct csd_nvme_sqe, opcode);
		return SC_INVALID_OPCODE;
	}
	if (pind >= CSD_MAX_PROGRAMS) {
		req->error_loc = offsetof(struct csd_nvme_sqe, cdw2);
		return SC_CS(CSD_SC_INVALID_PROGRAM_INDEX);
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return SC_INTERNAL;
	x->pind = (uint16_t)pind;
	x->p1 = req->cmd.cdw10 | ((uint64_t)req->cmd.cdw11 << 32);
	x->p2 = req->cmd.cdw12 | ((uint64_t)req->cmd.cdw13 << 32);
	pthread_mutex_lock(&s->lock);
	p = &s->programs[pind];
	x->host = csd_host_usage_of(s, req->ctrl->hostnqn);
	if (p->state == CSD_PROG_EMPTY || !csd_host_sees(req->ctrl, p->owner))
		status = SC_CS(CSD_SC_NO_PROGRAM);
	else if (s->cfg.host_max_execs && (!x->host || x->host->execs >= s->cfg.host_max_execs))
		status = SC_CMD(CSD_SC_INSUFFICIENT_RESOURCES);	/* no DNR: try again later */
	else if (p->state != CSD_PROG_ACTIVE)
		status = SC_CS(CSD_SC_PROGRAM_NOT_ACTIVATED);
	else if (req->cmd.opcode == CSD_IO_EXECUTE_PROGRAM)
		status = parse_execute(req, x);
	else
		status = parse_stream(req, x);
	if (!status) {
		p->in_use++;
		if (x->host)
			x->host->execs++;
	} else {
		csd_host_usage_put(x->host);
	}
	pthread_mutex_unlock(&s->lock);
	if (status) {
		free(x->stream_ranges);
		free(x);
		return status;
	}
	req->exec = x;
	req->execute = queue_execute;
	return SC_OK;
}

/* Called by the engine when a run is over: drop the references parse took. */
void csd_exec_release(struct csd_subsys *s, struct csd_req *req)
{
	struct csd_exec *x = req->exec;
	struct csd_range_set *rs;

	pthread_mutex_lock(&s->lock);
	s->programs[x->pind].in_use--;
	if (x->host) {
		x->host->execs--;
		csd_host_usage_put(x->host);
	}
	rs = find_range_set(s, x->rsid);
	if (rs)
		rs->in_use--;
	pthread_mutex_unlock(&s->lock);
	free(x->stream_ranges);
	free(x);
	req->exec = NULL;
}
