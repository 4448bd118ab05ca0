/* SPDX-License-Identifier: MIT */
/*
 * csdlab drives as SPDK users configure things: the RPC `csd_drive_create` (also in a JSON
 * config, in the "csd" subsystem's section, which `save_config` writes back) creates the
 * drive (csdlab's device core) and the NVMe-oF subsystem that serves it, or adopts an
 * NVMe-oF subsystem of that NQN that the JSON config created first. Listeners and hosts are
 * SPDK's own RPCs (nvmf_subsystem_add_listener, nvmf_subsystem_add_host).
 * `csd_drive_get` lists the drives, `csd_drive_delete` deletes one.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spdk/json.h"
#include "spdk/jsonrpc.h"
#include "spdk/log.h"
#include "spdk/nvmf.h"
#include "spdk/rpc.h"
#include "spdk/string.h"
#include "spdk/thread.h"
#include "spdk/util.h"
#include "spdk_internal/init.h"

#include "csd_spdk.h"

static struct csd_spdk_drive *g_drives;
static pthread_mutex_t g_drives_lock = PTHREAD_MUTEX_INITIALIZER;

struct csd_spdk_drive *csd_spdk_drive_of(const struct spdk_nvmf_subsystem *nvmf)
{
	struct csd_spdk_drive *d;

	pthread_mutex_lock(&g_drives_lock);
	for (d = g_drives; d && d->nvmf != nvmf; d = d->next)
		;
	pthread_mutex_unlock(&g_drives_lock);
	return d;
}

static void params_free(struct csd_spdk_drive_params *p)
{
	free(p->nqn);
	free(p->backing_file);
	free(p->serial);
	free(p->model);
	free(p->engine);
}

void csd_spdk_drives_destroy(void)
{
	pthread_mutex_lock(&g_drives_lock);
	while (g_drives) {
		struct csd_spdk_drive *d = g_drives;

		g_drives = d->next;
		csd_subsys_destroy(d->subsys);	/* flushes the NVM data */
		params_free(&d->params);
		free(d);
	}
	pthread_mutex_unlock(&g_drives_lock);
}

static const struct spdk_json_object_decoder drive_decoders[] = {
	{ "nqn", offsetof(struct csd_spdk_drive_params, nqn), spdk_json_decode_string },
	{ "backing_file", offsetof(struct csd_spdk_drive_params, backing_file),
	  spdk_json_decode_string },
	{ "size", offsetof(struct csd_spdk_drive_params, size), spdk_json_decode_uint64, true },
	{ "lba_size", offsetof(struct csd_spdk_drive_params, lba_size), spdk_json_decode_uint32,
	  true },
	{ "slm_size", offsetof(struct csd_spdk_drive_params, slm_size), spdk_json_decode_uint64,
	  true },
	{ "serial", offsetof(struct csd_spdk_drive_params, serial), spdk_json_decode_string, true },
	{ "model", offsetof(struct csd_spdk_drive_params, model), spdk_json_decode_string, true },
	{ "engine", offsetof(struct csd_spdk_drive_params, engine), spdk_json_decode_string, true },
	{ "engine_threads", offsetof(struct csd_spdk_drive_params, engine_threads),
	  spdk_json_decode_uint32, true },
	{ "exec_budget", offsetof(struct csd_spdk_drive_params, exec_budget),
	  spdk_json_decode_uint64, true },
	{ "exec_time_ms", offsetof(struct csd_spdk_drive_params, exec_time_ms),
	  spdk_json_decode_uint32, true },
	{ "verify_time_limit_ms", offsetof(struct csd_spdk_drive_params, verify_time_limit_ms),
	  spdk_json_decode_uint32, true },
	{ "allow_unverified", offsetof(struct csd_spdk_drive_params, allow_unverified),
	  spdk_json_decode_bool, true },
	{ "share_programs", offsetof(struct csd_spdk_drive_params, share_programs),
	  spdk_json_decode_bool, true },
	{ "host_max_programs", offsetof(struct csd_spdk_drive_params, host_max_programs),
	  spdk_json_decode_uint32, true },
	{ "host_max_slm", offsetof(struct csd_spdk_drive_params, host_max_slm),
	  spdk_json_decode_uint64, true },
	{ "host_max_execs", offsetof(struct csd_spdk_drive_params, host_max_execs),
	  spdk_json_decode_uint32, true },
	{ "host_max_program_bytes", offsetof(struct csd_spdk_drive_params, host_max_program_bytes),
	  spdk_json_decode_uint32, true },
	{ "allow_any_host", offsetof(struct csd_spdk_drive_params, allow_any_host),
	  spdk_json_decode_bool, true },
};

/* The device core's configuration from the RPC's parameters; a message when one is wrong. */
static const char *params_to_config(const struct csd_spdk_drive_params *p,
				    struct csd_dev_config *cfg)
{
	csd_dev_config_defaults(cfg);
	cfg->subnqn = p->nqn;
	cfg->backing_path = p->backing_file;
	cfg->nvm_bytes = p->size;
	if (p->lba_size)
		cfg->lba_size = p->lba_size;
	if (p->slm_size)
		cfg->slm_bytes = p->slm_size;
	if (p->serial)
		cfg->serial = p->serial;
	if (p->engine_threads)
		cfg->engine_threads = p->engine_threads;
	cfg->exec_budget = p->exec_budget;
	if (p->exec_time_ms_set)
		cfg->exec_time_ms = p->exec_time_ms;
	cfg->verify_time_limit_ms = p->verify_time_limit_ms;
	cfg->allow_unverified = p->allow_unverified;
	cfg->share_programs = p->share_programs;
	cfg->host_max_programs = p->host_max_programs;
	cfg->host_max_slm_bytes = p->host_max_slm;
	cfg->host_max_execs = p->host_max_execs;
	cfg->host_max_program_bytes = p->host_max_program_bytes;
	if (!p->engine || !strcmp(p->engine, "jit"))
		cfg->engine = CSD_EBPF_ENGINE_DEFAULT;
	else if (!strcmp(p->engine, "interp"))
		cfg->engine = CSD_EBPF_ENGINE_INTERP;
	else
		return "engine must be \"jit\" or \"interp\"";
	return NULL;
}

/* JSON decoding leaves no trace of which optional fields were present: find out. */
static bool has_field(const struct spdk_json_val *params, const char *name)
{
	struct spdk_json_val *v = NULL;

	return spdk_json_find((struct spdk_json_val *)params, name, NULL, &v, SPDK_JSON_VAL_ANY) == 0;
}

struct create_ctx {
	struct spdk_jsonrpc_request *request;
	struct csd_spdk_drive *drive;
};

static void drive_add(struct csd_spdk_drive *d)
{
	csd_spdk_bridge_add_drive(d);
	pthread_mutex_lock(&g_drives_lock);
	d->next = g_drives;
	g_drives = d;
	pthread_mutex_unlock(&g_drives_lock);
}

static void drive_free(struct csd_spdk_drive *d)
{
	if (d->subsys)
		csd_subsys_destroy(d->subsys);
	params_free(&d->params);
	free(d);
}

static void create_started(struct spdk_nvmf_subsystem *nvmf, void *arg, int status)
{
	struct create_ctx *ctx = arg;

	if (status) {
		spdk_jsonrpc_send_error_response_fmt(ctx->request, status,
						     "starting NVMe-oF subsystem %s: %s",
						     ctx->drive->params.nqn, spdk_strerror(-status));
		spdk_nvmf_subsystem_destroy(nvmf, NULL, NULL);
		drive_free(ctx->drive);
	} else {
		drive_add(ctx->drive);
		spdk_jsonrpc_send_bool_response(ctx->request, true);
	}
	free(ctx);
}

static void rpc_csd_drive_create(struct spdk_jsonrpc_request *request,
				 const struct spdk_json_val *params)
{
	struct csd_spdk_drive *d = calloc(1, sizeof(*d));
	struct spdk_nvmf_tgt *tgt = spdk_nvmf_get_first_tgt();
	struct spdk_nvmf_subsystem *nvmf;
	struct csd_dev_config cfg;
	struct create_ctx *ctx;
	const char *bad;
	char err[256];

	if (!d) {
		spdk_jsonrpc_send_error_response(request, -ENOMEM, spdk_strerror(ENOMEM));
		return;
	}
	if (!params || spdk_json_decode_object(params, drive_decoders,
					       SPDK_COUNTOF(drive_decoders), &d->params)) {
		spdk_jsonrpc_send_error_response(request, SPDK_JSONRPC_ERROR_INVALID_PARAMS,
						 "csd_drive_create needs nqn and backing_file; "
						 "see docs/spdk.md for the other parameters");
		drive_free(d);
		return;
	}
	d->params.exec_time_ms_set = has_field(params, "exec_time_ms");
	d->params.allow_any_host_set = has_field(params, "allow_any_host");
	if (!d->params.allow_any_host_set)
		d->params.allow_any_host = true;
	if ((bad = params_to_config(&d->params, &cfg))) {
		spdk_jsonrpc_send_error_response(request, SPDK_JSONRPC_ERROR_INVALID_PARAMS, bad);
		drive_free(d);
		return;
	}
	if (!tgt) {
		spdk_jsonrpc_send_error_response(request, -ENODEV, "no NVMe-oF target");
		drive_free(d);
		return;
	}
	pthread_mutex_lock(&g_drives_lock);
	for (struct csd_spdk_drive *o = g_drives; o; o = o->next) {
		if (!strcmp(o->params.nqn, d->params.nqn)) {
			pthread_mutex_unlock(&g_drives_lock);
			spdk_jsonrpc_send_error_response_fmt(request, -EEXIST,
							     "a drive %s exists", d->params.nqn);
			drive_free(d);
			return;
		}
	}
	pthread_mutex_unlock(&g_drives_lock);
	if (csd_subsys_create(&cfg, &d->subsys, err, sizeof(err))) {
		spdk_jsonrpc_send_error_response_fmt(request, -EINVAL, "%s", err);
		drive_free(d);
		return;
	}
	nvmf = spdk_nvmf_tgt_find_subsystem(tgt, d->params.nqn);
	if (nvmf && spdk_nvmf_subsystem_get_first_ns(nvmf)) {
		spdk_jsonrpc_send_error_response_fmt(request, -EEXIST,
						     "NVMe-oF subsystem %s exists and has namespaces "
						     "(bdevs): a drive takes a new NQN", d->params.nqn);
		drive_free(d);
		return;
	}
	if (nvmf) {
		/* created by the NVMe-oF section of a saved config: it serves this drive now */
		d->nvmf = nvmf;
		spdk_nvmf_subsystem_set_other_iocs(nvmf, true);
		drive_add(d);
		spdk_jsonrpc_send_bool_response(request, true);
		return;
	}
	nvmf = spdk_nvmf_subsystem_create(tgt, d->params.nqn, SPDK_NVMF_SUBTYPE_NVME, 0);
	if (!nvmf) {
		spdk_jsonrpc_send_error_response_fmt(request, -EINVAL,
						     "cannot create NVMe-oF subsystem %s",
						     d->params.nqn);
		drive_free(d);
		return;
	}
	d->nvmf = nvmf;
	spdk_nvmf_subsystem_set_other_iocs(nvmf, true);
	spdk_nvmf_subsystem_set_allow_any_host(nvmf, d->params.allow_any_host);
	spdk_nvmf_subsystem_set_sn(nvmf, d->params.serial ? d->params.serial : "CSDLAB0001");
	spdk_nvmf_subsystem_set_mn(nvmf, d->params.model ? d->params.model : "csdlab");
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		spdk_nvmf_subsystem_destroy(nvmf, NULL, NULL);
		drive_free(d);
		spdk_jsonrpc_send_error_response(request, -ENOMEM, spdk_strerror(ENOMEM));
		return;
	}
	ctx->request = request;
	ctx->drive = d;
	if (spdk_nvmf_subsystem_start(nvmf, create_started, ctx))
		create_started(nvmf, ctx, -EIO);
}
SPDK_RPC_REGISTER("csd_drive_create", rpc_csd_drive_create, SPDK_RPC_RUNTIME)

/*
 * csd_drive_delete: the NVMe-oF subsystem is stopped and destroyed (its hosts disconnected),
 * then, once the last device-core controller of the drive is gone, the drive (its NVM data
 * put on the file). The backing file stays.
 */
struct delete_ctx {
	struct spdk_jsonrpc_request *request;
	struct csd_spdk_drive *drive;
	struct spdk_poller *poller;
};

static int delete_when_idle(void *arg)
{
	struct delete_ctx *ctx = arg;

	if (csd_spdk_bridge_drive_busy(ctx->drive))
		return SPDK_POLLER_IDLE;
	spdk_poller_unregister(&ctx->poller);
	drive_free(ctx->drive);
	spdk_jsonrpc_send_bool_response(ctx->request, true);
	free(ctx);
	return SPDK_POLLER_BUSY;
}

static void delete_destroyed(void *arg)
{
	struct delete_ctx *ctx = arg;

	ctx->poller = SPDK_POLLER_REGISTER(delete_when_idle, ctx, 10 * 1000);
}

static void delete_stopped(struct spdk_nvmf_subsystem *nvmf, void *arg, int status)
{
	struct delete_ctx *ctx = arg;
	int rc;

	(void)status;
	rc = spdk_nvmf_subsystem_destroy(nvmf, delete_destroyed, ctx);
	if (rc == -EINPROGRESS)
		return;
	if (rc) {
		/* the drive is out of the list already: it stays until the target stops */
		SPDK_ERRLOG("csd_drive_delete %s: destroying the subsystem: %s\n",
			    ctx->drive->params.nqn, spdk_strerror(-rc));
		drive_add(ctx->drive);
		spdk_jsonrpc_send_error_response_fmt(ctx->request, rc, "destroying %s: %s",
						     ctx->drive->params.nqn, spdk_strerror(-rc));
		free(ctx);
		return;
	}
	delete_destroyed(ctx);
}

static const struct spdk_json_object_decoder delete_decoders[] = {
	{ "nqn", 0, spdk_json_decode_string },
};

static void rpc_csd_drive_delete(struct spdk_jsonrpc_request *request,
				 const struct spdk_json_val *params)
{
	struct csd_spdk_drive **p, *d = NULL;
	struct delete_ctx *ctx;
	char *nqn = NULL;
	int rc;

	if (!params || spdk_json_decode_object(params, delete_decoders, 1, &nqn)) {
		spdk_jsonrpc_send_error_response(request, SPDK_JSONRPC_ERROR_INVALID_PARAMS,
						 "csd_drive_delete needs nqn");
		free(nqn);
		return;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		spdk_jsonrpc_send_error_response(request, -ENOMEM, spdk_strerror(ENOMEM));
		free(nqn);
		return;
	}
	pthread_mutex_lock(&g_drives_lock);
	for (p = &g_drives; *p; p = &(*p)->next) {
		if (!strcmp((*p)->params.nqn, nqn)) {
			d = *p;
			*p = d->next;	/* its commands are no longer the bridge's */
			break;
		}
	}
	pthread_mutex_unlock(&g_drives_lock);
	if (!d) {
		spdk_jsonrpc_send_error_response_fmt(request, -ENODEV, "no drive %s", nqn);
		free(nqn);
		free(ctx);
		return;
	}
	free(nqn);
	ctx->request = request;
	ctx->drive = d;
	rc = spdk_nvmf_subsystem_stop(d->nvmf, delete_stopped, ctx);
	if (rc) {
		drive_add(d);
		spdk_jsonrpc_send_error_response_fmt(request, rc, "stopping %s: %s (try again)",
						     d->params.nqn, spdk_strerror(-rc));
		free(ctx);
	}
}
SPDK_RPC_REGISTER("csd_drive_delete", rpc_csd_drive_delete, SPDK_RPC_RUNTIME)

static void write_drive_params(struct spdk_json_write_ctx *w, const struct csd_spdk_drive *d)
{
	const struct csd_spdk_drive_params *p = &d->params;

	spdk_json_write_named_string(w, "nqn", p->nqn);
	spdk_json_write_named_string(w, "backing_file", p->backing_file);
	if (p->size)
		spdk_json_write_named_uint64(w, "size", p->size);
	if (p->lba_size)
		spdk_json_write_named_uint32(w, "lba_size", p->lba_size);
	if (p->slm_size)
		spdk_json_write_named_uint64(w, "slm_size", p->slm_size);
	if (p->serial)
		spdk_json_write_named_string(w, "serial", p->serial);
	if (p->model)
		spdk_json_write_named_string(w, "model", p->model);
	if (p->engine)
		spdk_json_write_named_string(w, "engine", p->engine);
	if (p->engine_threads)
		spdk_json_write_named_uint32(w, "engine_threads", p->engine_threads);
	if (p->exec_budget)
		spdk_json_write_named_uint64(w, "exec_budget", p->exec_budget);
	if (p->exec_time_ms_set)
		spdk_json_write_named_uint32(w, "exec_time_ms", p->exec_time_ms);
	if (p->verify_time_limit_ms)
		spdk_json_write_named_uint32(w, "verify_time_limit_ms", p->verify_time_limit_ms);
	if (p->allow_unverified)
		spdk_json_write_named_bool(w, "allow_unverified", true);
	if (p->share_programs)
		spdk_json_write_named_bool(w, "share_programs", true);
	if (p->host_max_programs)
		spdk_json_write_named_uint32(w, "host_max_programs", p->host_max_programs);
	if (p->host_max_slm)
		spdk_json_write_named_uint64(w, "host_max_slm", p->host_max_slm);
	if (p->host_max_execs)
		spdk_json_write_named_uint32(w, "host_max_execs", p->host_max_execs);
	if (p->host_max_program_bytes)
		spdk_json_write_named_uint32(w, "host_max_program_bytes",
					     p->host_max_program_bytes);
	if (p->allow_any_host_set)
		spdk_json_write_named_bool(w, "allow_any_host", p->allow_any_host);
}

static void rpc_csd_drive_get(struct spdk_jsonrpc_request *request,
			      const struct spdk_json_val *params)
{
	struct spdk_json_write_ctx *w;

	if (params) {
		spdk_jsonrpc_send_error_response(request, SPDK_JSONRPC_ERROR_INVALID_PARAMS,
						 "csd_drive_get takes no parameters");
		return;
	}
	w = spdk_jsonrpc_begin_result(request);
	spdk_json_write_array_begin(w);
	pthread_mutex_lock(&g_drives_lock);
	for (struct csd_spdk_drive *d = g_drives; d; d = d->next) {
		struct csd_vendor_stats st;

		csd_subsys_stats(d->subsys, &st);
		spdk_json_write_object_begin(w);
		write_drive_params(w, d);
		spdk_json_write_named_uint64(w, "program_executions", st.program_executions);
		spdk_json_write_named_uint64(w, "nvm_bytes_read", st.nvm_bytes_read);
		spdk_json_write_named_uint64(w, "nvm_bytes_written", st.nvm_bytes_written);
		spdk_json_write_object_end(w);
	}
	pthread_mutex_unlock(&g_drives_lock);
	spdk_json_write_array_end(w);
	spdk_jsonrpc_end_result(request, w);
}
SPDK_RPC_REGISTER("csd_drive_get", rpc_csd_drive_get, SPDK_RPC_RUNTIME)

/* The "csd" subsystem: save_config writes the drives back as csd_drive_create calls. */

static void csd_subsystem_init(void)
{
	csd_spdk_bridge_init();
	spdk_subsystem_init_next(0);
}

static void csd_subsystem_fini(void)
{
	/* the drives stay until the NVMe-oF target has let every controller go (main.c) */
	csd_spdk_bridge_fini();
	spdk_subsystem_fini_next();
}

static void csd_subsystem_write_config(struct spdk_json_write_ctx *w)
{
	spdk_json_write_array_begin(w);
	pthread_mutex_lock(&g_drives_lock);
	for (struct csd_spdk_drive *d = g_drives; d; d = d->next) {
		spdk_json_write_object_begin(w);
		spdk_json_write_named_string(w, "method", "csd_drive_create");
		spdk_json_write_named_object_begin(w, "params");
		write_drive_params(w, d);
		spdk_json_write_object_end(w);
		spdk_json_write_object_end(w);
	}
	pthread_mutex_unlock(&g_drives_lock);
	spdk_json_write_array_end(w);
}

static struct spdk_subsystem g_csd_subsystem = {
	.name = "csd",
	.init = csd_subsystem_init,
	.fini = csd_subsystem_fini,
	.write_config_json = csd_subsystem_write_config,
};
SPDK_SUBSYSTEM_REGISTER(g_csd_subsystem)
SPDK_SUBSYSTEM_DEPEND(csd, nvmf)
