/* SPDX-License-Identifier: MIT */
/*
 * csd-spdk-tgt: csdlab's drive inside SPDK's NVMe-oF target. SPDK owns the transport, the
 * fabrics commands, properties, keep alive and asynchronous events; csdlab's device core
 * (the same one csd-target serves) owns every command of a csdlab drive's subsystem that
 * is about the drive: Identify, logs, the drive's features, the computational admin
 * commands and all I/O commands. See docs/spdk.md.
 */
#ifndef CSD_SPDK_H
#define CSD_SPDK_H

#include <stdbool.h>
#include <stdint.h>

#include "csd/device.h"

struct spdk_nvmf_subsystem;
struct spdk_nvmf_request;
struct spdk_json_write_ctx;

/* What csd_drive_create was given, kept for save_config. */
struct csd_spdk_drive_params {
	char *nqn;
	char *backing_file;
	char *serial;
	char *model;
	char *engine;		/* "jit" or "interp" */
	uint64_t size;
	uint32_t lba_size;
	uint64_t slm_size;
	uint32_t engine_threads;
	uint64_t exec_budget;
	uint32_t exec_time_ms;
	bool exec_time_ms_set;
	uint32_t verify_time_limit_ms;
	bool allow_unverified;
	bool share_programs;
	uint32_t host_max_programs;
	uint64_t host_max_slm;
	uint32_t host_max_execs;
	uint32_t host_max_program_bytes;
	bool allow_any_host;
	bool allow_any_host_set;
};

struct csd_spdk_drive {
	struct csd_subsys *subsys;
	struct spdk_nvmf_subsystem *nvmf;
	struct csd_spdk_drive_params params;
	struct csd_spdk_drive *next;
};

/* The drive whose SPDK subsystem `nvmf` is, or NULL (an ordinary SPDK subsystem). */
struct csd_spdk_drive *csd_spdk_drive_of(const struct spdk_nvmf_subsystem *nvmf);
/* Frees every drive; after spdk_app_start() returned (no controller is left). */
void csd_spdk_drives_destroy(void);

/* Installs the command handlers and the controller destruct callback; on the app thread. */
void csd_spdk_bridge_init(void);
void csd_spdk_bridge_fini(void);
/* Serves the vendor link log (C2h) of a drive's controllers. */
void csd_spdk_bridge_add_drive(struct csd_spdk_drive *d);
/* Whether a device-core controller of the drive is still there. */
bool csd_spdk_bridge_drive_busy(const struct csd_spdk_drive *d);

/* The two ends of one TCP connection, as SPDK names them. */
struct csd_spdk_endpoints {
	char local_addr[257], local_port[33];
	char peer_addr[257], peer_port[33];
};
/* Bytes the connection received and sent, counted by the kernel at this end. */
int csd_spdk_tcp_bytes(const struct csd_spdk_endpoints *e, uint64_t *in, uint64_t *out);

#endif
