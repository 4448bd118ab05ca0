/* SPDX-License-Identifier: MIT */
/*
 * The emulated computational storage drive: an NVMe subsystem with an NVM namespace (NSID 1,
 * file-backed), a Subsystem Local Memory namespace (NSID 2) and a Computational Programs
 * namespace (NSID 3), and the controllers hosts talk to. Transport-agnostic: commands in,
 * completions out, no sockets. A transport (NVMe/TCP) creates a controller per host
 * association, adds its queues, and submits requests; every request is completed exactly once,
 * through req->done, either before csd_ctrl_submit() returns or later from an engine thread
 * (Execute Program).
 */
#ifndef CSD_DEVICE_H
#define CSD_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csd/ebpf.h"
#include "csd/nvme_cs.h"

#define CSD_NSID_NVM		1
#define CSD_NSID_SLM		2
#define CSD_NSID_COMPUTE	3

#define CSD_NVM_DEFAULT_BYTES	(UINT64_C(1) << 30)
#define CSD_EXEC_TIME_LIMIT_MS	60000	/* a run's default wall-clock limit */

struct csd_dev_config {
	size_t sz;			/* sizeof(struct csd_dev_config) */
	const char *backing_path;	/* NVM data; created (sparse) when absent */
	/*
	 * Namespace size; 0: the existing file's size, or CSD_NVM_DEFAULT_BYTES for a new (empty)
	 * one. An existing file is never shortened: a size below its size is refused; a larger one
	 * grows it (sparse).
	 */
	uint64_t nvm_bytes;
	uint32_t lba_size;		/* 512 or 4096 */
	uint64_t slm_bytes;		/* Subsystem Local Memory */
	unsigned engine_threads;	/* Execute Program workers */
	uint64_t exec_budget;		/* instructions per run (0: 2^32) */
	uint32_t exec_time_ms;		/* wall-clock limit per run (0: none; default 60 s) */
	const char *subnqn;
	const char *serial;
	/*
	 * Activate programs the verifier cannot prove safe (they run with a check per memory
	 * access, as every program did before the verifier): for experiments with the runtime's
	 * own defences. Off by default: activation refuses them with the verifier's reason.
	 */
	bool allow_unverified;
	/*
	 * Time the verifier may take over one program at activation (0: CSD_EBPF_VERIFY_TIME_LIMIT_MS);
	 * past it the program is refused, saying so. Activations are verified on a thread of
	 * their own, one at a time: other commands never wait for them.
	 */
	uint32_t verify_time_limit_ms;
	/* Which engine runs programs: the JIT where there is one (default), or the interpreter. */
	enum csd_ebpf_engine engine;
	/*
	 * Hosts (by host NQN) see and run only the programs and memory range sets they created,
	 * unless share_programs is set. Per-host limits, 0 for none: downloaded program slots,
	 * SLM bytes in memory range sets, Executes queued or running at once.
	 */
	bool share_programs;
	unsigned host_max_programs;
	uint64_t host_max_slm_bytes;
	unsigned host_max_execs;
	/*
	 * Program memory (4 MiB for all downloads) one host may hold, finished or in progress
	 * (0: half of it); a download that gets no chunk for download_idle_ms (0: 60000) is
	 * dropped when another download needs the room, and a host's unfinished downloads go
	 * when its last controller does.
	 */
	uint32_t host_max_program_bytes;
	uint32_t download_idle_ms;
	/*
	 * NVM data in memory instead of a file, as SPDK's Malloc bdev (backing_path NULL): for
	 * measuring the transport and the engines without a file system under them. Nothing
	 * written outlives the subsystem; a write is durable once in memory, so Flush and FUA
	 * have nothing to wait for. All of it is taken at creation, as the Malloc bdev's.
	 */
	bool nvm_in_memory;
};

/* Defaults: 1 GiB NVM of 512-byte blocks, 64 MiB SLM, 2 engine threads. */
void csd_dev_config_defaults(struct csd_dev_config *cfg);

struct csd_subsys;
struct csd_ctrl;

struct csd_req {
	struct csd_nvme_sqe cmd;
	uint16_t qid;
	/*
	 * The command's data: host-to-controller commands arrive with data_len bytes filled;
	 * controller-to-host commands get a buffer of data_len bytes (the transfer length the
	 * host asked for) and set c2h_len to what they produced.
	 */
	void *data;
	uint32_t data_len;
	uint32_t c2h_len;
	struct csd_nvme_cqe rsp;
	void (*done)(struct csd_req *req);
	void *priv;			/* the transport's */
	/*
	 * Set before done() when the host gave the command up (an Asynchronous Event Request
	 * whose command id it reused): the transport releases it and sends nothing.
	 */
	bool no_response;
	/*
	 * A transport that can send a read's data from anywhere sets may_reference; the device
	 * may then set c2h_ref to the data instead of copying it into data (an NVM read of a
	 * namespace in memory: a pointer into it, valid while the subsystem lives). Its bytes
	 * change with writes that run before they are sent, as a read racing those writes may
	 * see: the command completes only after its data has left.
	 */
	bool may_reference;
	const void *c2h_ref;
	/*
	 * A transport may set c2h_ready: a long NVM read then comes in parts, and the device
	 * calls it, on the thread executing the command, each time another part is in data
	 * (bytes: how much of it from the start; never all of it, the last part comes with the
	 * completion). The transport can send each part as soon as it is there.
	 */
	void (*c2h_ready)(struct csd_req *req, uint32_t bytes);

	/* private to the device */
	struct csd_ctrl *ctrl;
	void (*execute)(struct csd_req *req);
	uint16_t error_loc;		/* byte offset of the bad field, for the error log */
	volatile bool abort;
	struct csd_req *next;		/* engine queue */
	struct csd_exec *exec;		/* Execute Program: what to run over what */
	void (*deferred)(struct csd_req *req);	/* run on a worker thread (worker.c) */
	uint64_t start_ns;
};

int csd_subsys_create(const struct csd_dev_config *cfg, struct csd_subsys **out, char *err,
		      size_t err_size);
/* Stops the engine, flushes the NVM data and frees everything. Controllers first. */
void csd_subsys_destroy(struct csd_subsys *subsys);
const char *csd_subsys_nqn(const struct csd_subsys *subsys);
/* A copy of the drive's statistics (the vendor log page C0h). */
void csd_subsys_stats(struct csd_subsys *subsys, struct csd_vendor_stats *out);
/* The same counters for one controller (log C0h with LSP 1). */
void csd_ctrl_stats(struct csd_ctrl *ctrl, struct csd_vendor_stats *out);

/*
 * A transport's own vendor log pages (C2h-CFh): fill up to `size` bytes of buf for `ctrl` and
 * return the page's size, or 0 when there is no such page. Called from Get Log Page.
 */
typedef size_t (*csd_log_provider_fn)(void *arg, struct csd_ctrl *ctrl, uint8_t lid, void *buf,
				      size_t size);
void csd_subsys_set_log_provider(struct csd_subsys *subsys, csd_log_provider_fn fn, void *arg);

/* A controller for one host association; hostnqn is recorded. */
int csd_ctrl_create(struct csd_subsys *subsys, const char *hostnqn, struct csd_ctrl **out);
/* Aborts what is outstanding (completing it), then frees the controller. */
void csd_ctrl_destroy(struct csd_ctrl *ctrl);
uint16_t csd_ctrl_cntlid(const struct csd_ctrl *ctrl);

/* Queues: qid 0 is the admin queue; I/O queues up to the Number of Queues feature. */
int csd_ctrl_add_queue(struct csd_ctrl *ctrl, uint16_t qid, uint16_t size);
void csd_ctrl_remove_queue(struct csd_ctrl *ctrl, uint16_t qid);

/* Submit one command; req->done is called exactly once. */
void csd_ctrl_submit(struct csd_ctrl *ctrl, struct csd_req *req);

/* Controller properties (fabrics Property Get/Set): an NVMe status, 0 on success. */
uint16_t csd_ctrl_prop_get(struct csd_ctrl *ctrl, uint32_t offset, bool size8, uint64_t *value);
uint16_t csd_ctrl_prop_set(struct csd_ctrl *ctrl, uint32_t offset, bool size8, uint64_t value);

/* Keep Alive Timeout in ms (0: none) and whether it expired by `now_ms` (CLOCK_MONOTONIC). */
uint32_t csd_ctrl_kato_ms(const struct csd_ctrl *ctrl);
/* The KATO a fabrics Connect asked for; the timer starts now. */
void csd_ctrl_set_kato(struct csd_ctrl *ctrl, uint32_t kato_ms);
bool csd_ctrl_keep_alive_expired(const struct csd_ctrl *ctrl, uint64_t now_ms);

/* A readable name of an NVMe status ("Invalid Program Data"). */

#endif
