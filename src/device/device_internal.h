/* SPDX-License-Identifier: MIT */
/*
 * Private to src/device/. Shaped like the Linux NVMe target (nvmet.h): each command is parsed
 * (its fields and data length checked, req->execute chosen or a status returned), then
 * executed, then completed exactly once with csd_req_complete().
 */
#ifndef CSD_DEVICE_INTERNAL_H
#define CSD_DEVICE_INTERNAL_H

#include <nvme/types.h>
#include <pthread.h>
#include <stdatomic.h>

#include "csd/device.h"
#include "csd/ebpf.h"

/* The drive's limits (reported in Identify and enforced everywhere). */
#define CSD_MAX_PROGRAMS	16	/* program indexes 0..15 */
#define CSD_BUILTIN_PROGRAMS	2	/* indexes 0 and 1: device-defined */
#define CSD_MAX_ACTIVE		8
#define CSD_MAX_PROGRAM_BYTES	(1u << 20)
#define CSD_MAX_RANGE_SETS	64
#define CSD_MAX_RANGES		16
#define CSD_MAX_IO_QUEUES	64
#define CSD_MAX_QUEUE_SIZE	1024
#define CSD_MDTS_SHIFT		8	/* max data transfer 2^8 pages of 4 KiB = 1 MiB */
#define CSD_MAX_TRANSFER	(4096u << CSD_MDTS_SHIFT)
#define CSD_AERL		3	/* 4 outstanding Asynchronous Event Requests */
/* Temperature Threshold defaults (kelvin): over at 343 K (70 C), under at 0 (none) */
#define CSD_TEMP_OVER_DEFAULT	343
#define CSD_TEMP_UNDER_DEFAULT	0
#define CSD_ERROR_LOG_ENTRIES	64
#define CSD_STREAM_WINDOW	(1u << 20)

/* Register bits (libnvme names only the shifts and masks) */
#define CC_ENABLE	(1u << NVME_CC_EN_SHIFT)
#define CSTS_RDY	(1u << NVME_CSTS_RDY_SHIFT)
#define CSTS_CFS	(1u << NVME_CSTS_CFS_SHIFT)
#define CSD_NVME_VS	0x00020000u	/* NVMe 2.0 */

/* Status helpers */
#define SC_GENERIC(sc)	CSD_NVME_STATUS(NVME_SCT_GENERIC, (sc))
#define SC_CMD(sc)	CSD_NVME_STATUS(NVME_SCT_CMD_SPECIFIC, (sc))
#define SC_OK		0
#define SC_INVALID_OPCODE	(SC_GENERIC(NVME_SC_INVALID_OPCODE) | CSD_NVME_DNR)
#define SC_INVALID_FIELD	(SC_GENERIC(NVME_SC_INVALID_FIELD) | CSD_NVME_DNR)
#define SC_INVALID_NS		(SC_GENERIC(NVME_SC_INVALID_NS) | CSD_NVME_DNR)
#define SC_LBA_RANGE		(SC_GENERIC(NVME_SC_LBA_RANGE) | CSD_NVME_DNR)
#define SC_DATA_LEN		(SC_GENERIC(NVME_SC_SGL_INVALID_DATA) | CSD_NVME_DNR)
#define SC_INTERNAL		SC_GENERIC(NVME_SC_INTERNAL)
#define SC_ABORTED		SC_GENERIC(NVME_SC_ABORT_REQ)
#define SC_CMD_SEQ		(SC_GENERIC(NVME_SC_CMD_SEQ_ERROR) | CSD_NVME_DNR)
#define SC_CMDID_CONFLICT	(SC_GENERIC(NVME_SC_CMDID_CONFLICT) | CSD_NVME_DNR)
#define SC_CS(sc)		(SC_CMD(sc) | CSD_NVME_DNR)

struct csd_ns_nvm {
	int fd;
	uint64_t nlb;		/* number of logical blocks */
	uint32_t lba_size;
	uint8_t lba_shift;
	uint8_t *map;		/* the file mapped for reads (nvm_map.c); NULL: pread() */
	uint64_t map_bytes;
	bool in_memory;		/* no file (fd -1): the data is the mapping, read and written */
};

/* nvm_map.c */
void csd_nvm_map(struct csd_ns_nvm *n, uint64_t bytes);
void csd_nvm_unmap(struct csd_ns_nvm *n);
/* Copy from the mapping; false when there is none or a page could not be read (SIGBUS). */
bool csd_nvm_map_copy(const struct csd_ns_nvm *n, void *dst, size_t len, uint64_t off);
/* A namespace in memory: its mapping (-errno), and zeroes in it that give back what they can. */
int csd_nvm_memory_create(struct csd_ns_nvm *n, uint64_t bytes);
void csd_nvm_memory_zero(struct csd_ns_nvm *n, uint64_t off, uint64_t len);

/*
 * Subsystem Local Memory: each host sees its own (a private memory namespace of the same size,
 * zero until written, its pages taken only as they are touched), unless the drive shares
 * programs, when every host sees one. Partitions live as long as the drive, as programs do.
 */
#define CSD_SLM_MAX_HOSTS	64
struct csd_slm_part {
	char owner[NVME_NQN_LENGTH];	/* "" for the shared one */
	uint8_t *mem;
	bool sandboxed;		/* csd_ebpf_sandbox_alloc()'s (else mmap's, when too large) */
};
struct csd_ns_slm {
	uint64_t size;
	pthread_mutex_t lock;		/* the partition list */
	struct csd_slm_part parts[CSD_SLM_MAX_HOSTS];
	unsigned nparts;
};

/* A built-in (device-defined) program: native code, listed like any program. */
struct csd_builtin {
	const char *name;
	uint64_t (*run)(const uint8_t *mem, uint64_t len, uint64_t p1, uint64_t p2);
};

struct csd_program {
	uint8_t state;		/* CSD_PROG_* */
	uint8_t ptype;
	uint32_t size;		/* PSIZE announced by Load Program */
	uint32_t received;	/* bytes received so far */
	uint64_t puid;
	uint8_t *image;
	struct csd_ebpf_prog *prog;		/* when activated (eBPF) */
	const struct csd_builtin *builtin;	/* when built in */
	uint32_t in_use;			/* running executions (and an activation) */
	bool activating;			/* being loaded and verified, outside s->lock */
	char owner[NVME_NQN_LENGTH];		/* the host that downloaded it ("" built in) */
	uint64_t last_chunk_ns;			/* of a download in progress */
};

struct csd_mem_extent {
	uint64_t sb;
	uint32_t len;
};

struct csd_range_set {
	uint16_t rsid;		/* 0: free slot */
	uint16_t nranges;
	uint32_t in_use;
	struct csd_mem_extent ranges[CSD_MAX_RANGES];
	char owner[NVME_NQN_LENGTH];	/* the host that created it */
};

/* Executes in flight per host, for host_max_execs. */
#define CSD_MAX_HOSTS	64
struct csd_host_usage {
	char nqn[NVME_NQN_LENGTH];	/* "" : free (no controller, nothing in flight) */
	unsigned execs;
	unsigned ctrls;			/* controllers of this host: it counts for the fair share */
};

/* What one Execute runs over: parsed from the command, owned by the request until it ends. */
struct csd_exec {
	uint16_t pind;
	uint16_t rsid;			/* 0: inline ranges */
	unsigned nranges;
	struct csd_mem_extent ranges[CSD_MAX_RANGES];
	uint64_t p1, p2;		/* CPARAM1, CPARAM2 */
	bool stream;			/* the vendor streaming Execute */
	bool sequential;		/* CDW2 bit 20: its windows on one engine, in order */
	uint8_t combine;		/* CDW2 [19:16]: CSD_STREAM_SUM, _MIN, _MAX */
	uint32_t window, overlap;
	unsigned nstream;
	struct csd_stream_range *stream_ranges;
	uint64_t deadline_ns;		/* 0: none */
	_Atomic bool timed_out;
	struct csd_host_usage *host;	/* whose Execute it is (counted in host->execs) */
};

/* What runs of a program gave (engine.c, stream.c). */
struct csd_run_result {
	uint64_t value;		/* the r0 of the runs, combined */
	uint64_t nvalues;	/* runs in value */
	uint64_t insns;
	int err;		/* 0, or the runtime's negative errno */
	struct csd_ebpf_fault fault;
};

/* Windows [first, end) of a streaming Execute, run by one engine thread (stream.c). */
struct csd_stream_part {
	struct csd_req *req;
	uint64_t first, end;
	struct csd_run_result res;
	uint64_t bytes;
	bool taken, done;
	struct csd_stream_part *next;	/* the engine's list of parts waiting for a thread */
};

/* Threads for work the network thread must not wait for (worker.c). */
struct csd_worker {
	pthread_t *threads;
	unsigned nthreads;
	bool started, stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct csd_req *head, *tail;	/* waiting */
	struct csd_ctrl **busy_ctrl;	/* per thread: whose request it is working on */
};

struct csd_engine {
	pthread_t *threads;
	unsigned nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct csd_req *head, *tail;	/* waiting */
	struct csd_stream_part *parts;	/* parts of streams, for idle threads to take first */
	struct csd_req **running;	/* per thread, for Abort; NULL once it completes */
	struct csd_ctrl **busy_ctrl;	/* per thread: whose run it is, until done() returns */
	const struct csd_host_usage **running_host;	/* per thread: whose run, for the share */
	pthread_t watchdog;		/* enforces exec_time_ms */
	bool has_watchdog;
	bool stop;
};

/* Statistics are counted with relaxed atomics: many threads add, readers take a snapshot. */
#define STAT_ADD(s, field, v) atomic_fetch_add_explicit(&(s)->field, (v), memory_order_relaxed)
/* Count for the drive and for the controller the request came through. */
#define REQ_STAT(req, field, v) do {						\
		STAT_ADD(&(req)->ctrl->subsys->stats, field, (v));		\
		STAT_ADD(&(req)->ctrl->stats, field, (v));			\
	} while (0)

struct csd_stats {
	_Atomic uint64_t admin_cmds, io_cmds, nvm_read_cmds, nvm_write_cmds;
	_Atomic uint64_t nvm_bytes_read, nvm_bytes_written, slm_bytes_read, slm_bytes_written;
	_Atomic uint64_t internal_bytes_moved, program_loads, program_executions, program_faults;
	_Atomic uint64_t program_insns, program_exec_ns, errors;
	_Atomic uint64_t data_units_read, data_units_written;	/* SMART: 512000-byte units */
	_Atomic uint64_t host_read_cmds, host_write_cmds;
	_Atomic uint64_t stream_parts_lent;
	struct {
		_Atomic uint64_t executions, insns, exec_ns, bytes_in;
	} program[CSD_MAX_PROGRAMS];
};

struct csd_subsys {
	struct csd_dev_config cfg;
	char nqn[NVME_NQN_LENGTH];
	char serial[21];
	struct csd_ns_nvm nvm;
	struct csd_ns_slm slm;
	pthread_mutex_t lock;		/* programs, range sets, controllers */
	struct csd_program programs[CSD_MAX_PROGRAMS];
	struct csd_range_set range_sets[CSD_MAX_RANGE_SETS];
	struct csd_host_usage hosts[CSD_MAX_HOSTS];
	_Atomic unsigned connected_hosts;	/* host NQNs with a controller: the engines' share */
	uint16_t next_rsid;
	uint16_t next_cntlid;
	struct csd_engine engine;
	struct csd_worker verifier;	/* program activations, one at a time */
	struct csd_worker slow_io;	/* Flush, FUA writes, Write Zeroes, Copy, Memory Copy */
	struct csd_stats stats;
	uint64_t start_ns;
	csd_log_provider_fn log_provider;
	void *log_provider_arg;
};

struct csd_queue {
	bool present;
	uint16_t size;
	uint16_t sq_head;
	uint64_t *cids;		/* bitmap of command ids outstanding */
};

void csd_stats_snapshot(const struct csd_stats *st, struct csd_vendor_stats *out);

/* May this controller's host see (use) what `owner` created? (s->lock held or not needed) */
bool csd_host_sees(const struct csd_ctrl *c, const char *owner);
/* A host's usage entry, made if need be (NULL: the table is full); s->lock held. */
struct csd_host_usage *csd_host_usage_of(struct csd_subsys *s, const char *nqn);
/* The entry is free again when nothing holds it; s->lock held. */
void csd_host_usage_put(struct csd_host_usage *u);
/* The last controller of host `nqn` went: its unfinished downloads go too (s->lock held). */
void csd_programs_host_gone(struct csd_subsys *s, const char *nqn);

struct csd_ctrl {
	struct csd_subsys *subsys;
	uint16_t cntlid;
	char hostnqn[NVME_NQN_LENGTH];
	struct csd_host_usage *host;	/* its host's entry (NULL when the table is full) */
	pthread_mutex_t lock;	/* queues, outstanding, AER, error log */
	uint32_t cc, csts;
	/* features */
	uint16_t nr_io_queues;	/* granted (Number of Queues) */
	bool nr_queues_set;
	uint32_t kato_ms;
	uint32_t aec;
	uint32_t iocs_profile;	/* index into the Identify 1Ch vector */
	uint32_t arbitration;
	uint32_t power_state;	/* Power Management: PS and WH as set */
	uint16_t temp_threshold[2];	/* Composite Temperature: over, under (kelvin) */
	uint32_t error_recovery;	/* TLER (DULBE is not supported) */
	uint32_t write_atomicity;	/* Write Atomicity Normal: DN */
	_Atomic bool write_cache_off;	/* Volatile Write Cache WCE = 0: writes go through */
	_Atomic uint64_t last_keep_alive_ms;
	struct csd_queue queues[CSD_MAX_IO_QUEUES + 1];
	struct csd_req *aer[CSD_AERL + 1];
	unsigned naer;
	struct nvme_error_log_page errors[CSD_ERROR_LOG_ENTRIES];
	uint64_t error_count;
	char reasons[8][256];		/* the last readable reasons, newest at reason_next - 1 */
	struct csd_stats stats;		/* this controller's share of the drive's */
	unsigned reason_next;
};

static inline uint64_t le_read(const void *p, unsigned n)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

uint64_t csd_now_ns(void);
bool csd_ctrl_ns_active(const struct csd_ctrl *c, uint32_t nsid);
void csd_req_complete(struct csd_req *req, uint16_t status);
/* The command's data must be exactly `len` bytes. */
uint16_t csd_req_check_len(struct csd_req *req, uint32_t len);
/* Copy out (controller to host): clips to the buffer, sets c2h_len. */
void csd_req_copy_out(struct csd_req *req, const void *src, size_t len);

uint16_t csd_parse_admin(struct csd_req *req);
uint16_t csd_parse_fabrics(struct csd_req *req);
uint16_t csd_parse_nvm(struct csd_req *req);
uint16_t csd_parse_slm(struct csd_req *req);
/* The SLM the request's host sees; NULL when no memory is left for another host. */
uint8_t *csd_slm_of(struct csd_req *req);
void csd_slm_free(struct csd_subsys *s);
uint16_t csd_parse_compute_io(struct csd_req *req);
uint16_t csd_parse_compute_admin(struct csd_req *req);

/* NVM namespace I/O inside the drive (used by Memory Copy and streaming). */
uint16_t csd_nvm_read_internal(struct csd_req *req, uint64_t slba, uint64_t nlb, void *buf);
/* fdatasync of the backing file (0 or an errno); 0 at once for a namespace in memory */
int csd_nvm_sync(struct csd_subsys *s);
int csd_nvm_open(struct csd_subsys *s, char *err, size_t err_size);
void csd_nvm_close(struct csd_subsys *s);

/* Identify, logs (identify.c, log.c) */
uint16_t csd_parse_identify(struct csd_req *req);
uint16_t csd_parse_get_log_page(struct csd_req *req);
void csd_error_log_add(struct csd_req *req, uint16_t status);
/* A readable reason for the last error of this controller (vendor log C1h). */
void csd_error_reason(struct csd_ctrl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Programs (program.c) */
void csd_programs_init(struct csd_subsys *s);
void csd_programs_free(struct csd_subsys *s);
extern const struct csd_builtin csd_builtins[CSD_BUILTIN_PROGRAMS];

/* Engine (engine.c) */
/* worker.c: requests run and completed by a worker's threads, fn(req) each. */
int csd_worker_start(struct csd_worker *w, unsigned nthreads);
void csd_worker_stop(struct csd_worker *w);
void csd_worker_queue(struct csd_worker *w, struct csd_req *req, void (*fn)(struct csd_req *));
/* Queued requests of ctrl get cancel(req); waits for those being worked on. */
void csd_worker_abort_ctrl(struct csd_worker *w, struct csd_ctrl *ctrl,
			   void (*cancel)(struct csd_req *));
/* As req->execute: run req->deferred on the slow I/O worker (core.c). */
void csd_defer_io(struct csd_req *req);
/* program.c, on the verifier's thread */
void csd_program_activate_finish(struct csd_req *req);
void csd_program_activate_cancel(struct csd_req *req);

int csd_engine_start(struct csd_subsys *s);
void csd_engine_stop(struct csd_subsys *s);
void csd_engine_queue(struct csd_subsys *s, struct csd_req *req);
/* Abort an Execute of this controller: true when it was found (it completes as aborted). */
bool csd_engine_abort(struct csd_subsys *s, struct csd_ctrl *ctrl, uint16_t qid, uint16_t cid);
void csd_engine_abort_ctrl(struct csd_subsys *s, struct csd_ctrl *ctrl);
/* The number of hosts changed: requests their host's share held back may run now. */
void csd_engine_reconsider(struct csd_subsys *s);
void csd_exec_release(struct csd_subsys *s, struct csd_req *req);
/* How many more engine threads may work on req now (idle, within its host's share). */
unsigned csd_engine_helpers(struct csd_subsys *s, const struct csd_req *req);
/* Run parts[0] here and the others on idle engine threads (or here); returns when all ran. */
void csd_engine_run_parts(struct csd_subsys *s, unsigned worker, struct csd_stream_part *parts,
			  unsigned nparts);
/* One run of the Execute's program over mem, its r0 combined into res (engine.c). */
void csd_run_once(struct csd_subsys *s, struct csd_req *req, unsigned worker, uint8_t *mem,
		  uint64_t len, struct csd_run_result *res);
void *csd_input_alloc(size_t size, bool *sandboxed);
void csd_input_free(void *p, bool sandboxed);

/* stream.c */
void csd_stream_run(struct csd_subsys *s, struct csd_req *req, unsigned worker,
		    struct csd_run_result *res, uint64_t *bytes);
void csd_stream_part_run(struct csd_subsys *s, struct csd_stream_part *part, unsigned worker);
uint64_t csd_stream_combine(unsigned op, uint64_t a, uint64_t b);

#endif
