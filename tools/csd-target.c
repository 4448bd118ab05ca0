/* SPDX-License-Identifier: MIT */
/*
 * csd-target: the csdlab drive served over NVMe/TCP.
 *
 *   csd-target [--addr 127.0.0.1] [--port 4420] [--nqn NQN] [--file PATH | --memory]
 *              [--size 1G] [--lba-size 512] [--slm-size 64M] [--threads 2]
 *              [--allow-host NQN]... [--advertise ADDR] [--budget N] [--time-limit-ms N]
 *              [--config FILE] [-v]
 *              [--dhchap-keys FILE] [--dhchap-hash H] [--dhchap-dhgroup G] ...
 *
 * Without --file the NVM data lives in a new temporary directory (named on start, removed on a
 * clean stop); give --file for data that outlives the daemon, --memory for none on disk.
 * SIGINT and SIGTERM stop it cleanly: connections close, data is flushed to the file, and the
 * traffic and program counters are printed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csd/device.h"
#include "csd/dhchap.h"
#include "csd/tcp.h"
#include "util.h"

#ifndef CSD_VERSION
#define CSD_VERSION "unknown"
#endif

#define MAX_HOSTS 64
#define MAX_KEYS 256
#define MAX_KEYS_STR "256"

/* A keys file read: the text, and the secrets pointing into it. */
struct keyfile {
	uint8_t *text;
	size_t len;
	struct csd_tcp_host_secret secrets[MAX_KEYS];
	size_t n;
};

static void keyfile_free(struct keyfile *kf)
{
	if (kf->text) {
		explicit_bzero(kf->text, kf->len);
		free(kf->text);
	}
	kf->text = NULL;
	kf->n = 0;
}

static struct csd_tcp_target *the_target;

static void on_signal(int sig)
{
	(void)sig;
	if (the_target)
		csd_tcp_target_stop(the_target);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: csd-target [options]\n"
		"  -a, --addr ADDR         listen address (default 127.0.0.1)\n"
		"  -p, --port PORT         TCP port (default 4420; 0 picks one)\n"
		"  -n, --nqn NQN           subsystem NQN (default nqn.2026-01.io.csdlab:drive0)\n"
		"  -f, --file PATH         NVM backing file (default: in a new temporary directory\n"
		"                          in $TMPDIR or /tmp, removed on exit)\n"
		"      --memory            NVM data in memory, as SPDK's Malloc bdev: nothing\n"
		"                          written outlives csd-target (not with --file)\n"
		"  -s, --size SIZE         NVM namespace size (default: an existing file's size, 1G\n"
		"                          for a new one; a file is grown to SIZE, never shortened)\n"
		"  -l, --lba-size N        512 or 4096 (default 512)\n"
		"  -m, --slm-size SIZE     Subsystem Local Memory (default 64M)\n"
		"  -t, --threads N         engine threads for Execute Program (default 2)\n"
		"  -H, --allow-host NQN    accept only these hosts (repeat; default: any)\n"
		"      --dhchap-keys FILE  DH-HMAC-CHAP: only the hosts in FILE may connect, and\n"
		"                          each must authenticate; a line is 'HOSTNQN SECRET\n"
		"                          [CTRL-SECRET] [hash=H] [dhgroup=G]' (DHHC-1 secrets:\n"
		"                          csd gen-dhchap-key; hash, dhgroup: this host's own);\n"
		"                          SIGHUP reads it again (connected hosts stay)\n"
		"      --allow-unauthenticated  with --dhchap-keys: hosts not in FILE may connect\n"
		"                          too, without authenticating\n"
		"      --dhchap-hash H     preferred hash: sha256 (default), sha384, sha512\n"
		"      --dhchap-dhgroup G  preferred DH group: ffdhe2048 (default), ffdhe3072,\n"
		"                          ffdhe4096, ffdhe6144, ffdhe8192, null (none)\n"
		"  -A, --advertise ADDR    address in the discovery log (default: --addr)\n"
		"  -b, --budget N          instructions per program run (default 2^32)\n"
		"  -T, --time-limit-ms N   wall-clock limit per program run (default 60000; 0: none)\n"
		"      --verify-time-limit-ms N  time the verifier may take over one program at\n"
		"                          activation, on a thread of its own (default 2000)\n"
		"      --allow-unverified  activate programs the verifier refuses (they run with\n"
		"                          a check on every memory access)\n"
		"  -e, --engine interp|jit  what runs programs (default: the JIT where there is one)\n"
		"      --share-programs    every host sees every host's programs, range sets and\n"
		"                          SLM (default: each host only its own)\n"
		"      --host-max-programs N  program slots one host may hold (default: no limit)\n"
		"      --host-max-slm SIZE    SLM bytes one host's range sets may cover\n"
		"      --host-max-execs N     Executes one host may have queued or running\n"
		"      --slow-client-ms N  close a connection without Connect after N ms, or with a\n"
		"                          PDU unfinished for N ms (default 10000)\n"
		"      --max-connections N connections at once; more are closed as they come\n"
		"                          (default: the descriptor limit less 64)\n"
		"      --idle-ms N         close a host without keep alive (KATO 0) after N ms\n"
		"                          with no command (default 120000)\n"
		"      --busy-poll-us N    after activity, poll the sockets N us before sleeping\n"
		"                          (default 50; 0: always sleep)\n"
		"  -c, --config FILE       read options from FILE: one 'name value' per line\n"
		"  -v, --verbose           log connections on stderr\n"
		"  -V, --version           print the version\n");
}

struct options {
	struct csd_dev_config dev;
	struct csd_tcp_target_config tcp;
	const char *hosts[MAX_HOSTS];
	char *owned[64];
	unsigned nowned;
	struct keyfile keys;
	const char *keys_path;
	char tmpdir[256];
	char tmpfile[288];
};

static const struct option longopts[] = {
	{ "addr", required_argument, NULL, 'a' },
	{ "port", required_argument, NULL, 'p' },
	{ "nqn", required_argument, NULL, 'n' },
	{ "file", required_argument, NULL, 'f' },
	{ "memory", no_argument, NULL, 'r' },
	{ "size", required_argument, NULL, 's' },
	{ "lba-size", required_argument, NULL, 'l' },
	{ "slm-size", required_argument, NULL, 'm' },
	{ "threads", required_argument, NULL, 't' },
	{ "allow-host", required_argument, NULL, 'H' },
	{ "advertise", required_argument, NULL, 'A' },
	{ "budget", required_argument, NULL, 'b' },
	{ "time-limit-ms", required_argument, NULL, 'T' },
	{ "verify-time-limit-ms", required_argument, NULL, 'R' },
	{ "allow-unverified", no_argument, NULL, 'U' },
	{ "engine", required_argument, NULL, 'e' },
	{ "share-programs", no_argument, NULL, 'S' },
	{ "slow-client-ms", required_argument, NULL, 'W' },
	{ "max-connections", required_argument, NULL, 'C' },
	{ "idle-ms", required_argument, NULL, 'I' },
	{ "busy-poll-us", required_argument, NULL, 'B' },
	{ "host-max-programs", required_argument, NULL, 'P' },
	{ "host-max-slm", required_argument, NULL, 'M' },
	{ "host-max-execs", required_argument, NULL, 'X' },
	{ "dhchap-keys", required_argument, NULL, 'K' },
	{ "dhchap-hash", required_argument, NULL, 'G' },
	{ "allow-unauthenticated", no_argument, NULL, 'Y' },
	{ "dhchap-dhgroup", required_argument, NULL, 'D' },
	{ "config", required_argument, NULL, 'c' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int apply(struct options *o, int opt, const char *arg, const char *name);

/* A config file: "name value" per line, names as the long options, # comments. */
static int read_config(struct options *o, const char *path)
{
	uint8_t *text;
	size_t len;
	char *line, *save = NULL;
	int lineno = 0;

	if (csd_read_file(path, &text, &len)) {
		fprintf(stderr, "csd-target: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (line = strtok_r((char *)text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64], value[512];
		int found = 0;

		lineno++;
		if (line[0] == '#' || strspn(line, " \t\r") == strlen(line))
			continue;
		if (sscanf(line, " %63s %511s", name, value) != 2) {
			fprintf(stderr, "csd-target: %s:%d: 'name value' expected\n", path, lineno);
			free(text);
			return -1;
		}
		for (const struct option *lo = longopts; lo->name; lo++) {
			if (strcmp(lo->name, name) || lo->has_arg != required_argument || lo->val == 'c')
				continue;
			found = 1;
			if (o->nowned == 64 || !(o->owned[o->nowned] = strdup(value)) ||
			    apply(o, lo->val, o->owned[o->nowned++], name)) {
				free(text);
				return -1;
			}
		}
		if (!found) {
			fprintf(stderr, "csd-target: %s:%d: unknown option '%s'\n", path, lineno, name);
			free(text);
			return -1;
		}
	}
	free(text);
	return 0;
}

/*
 * The DH-HMAC-CHAP keys file, one host a line, # comments:
 *   HOSTNQN SECRET [CTRL-SECRET] [hash=sha256|sha384|sha512] [dhgroup=null|ffdhe2048|...]
 */
static int load_keys(struct keyfile *kf, const char *path)
{
	char *text, *line;
	int lineno = 0;
	struct stat st;

	memset(kf, 0, sizeof(*kf));
	if (csd_read_file(path, &kf->text, &kf->len)) {
		fprintf(stderr, "csd-target: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!stat(path, &st) && (st.st_mode & 077))
		fprintf(stderr, "csd-target: warning: %s holds secrets and others may read it "
			"(chmod 600)\n", path);
	text = (char *)kf->text;
	while ((line = strsep(&text, "\n"))) {
		char *fields[6], *f, *fsave = NULL;
		struct csd_tcp_host_secret hs = { 0 };
		int nf = 0;
		bool bad = false;

		lineno++;
		for (f = strtok_r(line, " \t\r", &fsave); f && nf < 6; f = strtok_r(NULL, " \t\r", &fsave))
			fields[nf++] = f;
		if (nf == 0 || fields[0][0] == '#')
			continue;
		bad = nf < 2 || f;
		for (int i = 2; i < nf && !bad; i++) {
			if (!strncmp(fields[i], "hash=", 5) && !hs.dhchap_hash)
				hs.dhchap_hash = fields[i] + 5;
			else if (!strncmp(fields[i], "dhgroup=", 8) && !hs.dhchap_dhgroup)
				hs.dhchap_dhgroup = fields[i] + 8;
			else if (i == 2)
				hs.ctrl_secret = fields[i];
			else
				bad = true;
		}
		if (bad || kf->n == MAX_KEYS) {
			fprintf(stderr, bad ?
				"csd-target: %s:%d: 'HOSTNQN SECRET [CTRL-SECRET] [hash=H] "
				"[dhgroup=G]' expected\n" :
				"csd-target: %s:%d: at most " MAX_KEYS_STR " hosts\n", path, lineno);
			keyfile_free(kf);
			return -1;
		}
		hs.hostnqn = fields[0];
		hs.secret = fields[1];
		kf->secrets[kf->n++] = hs;
	}
	if (!kf->n) {
		fprintf(stderr, "csd-target: %s: no hosts (a line is 'HOSTNQN SECRET')\n", path);
		keyfile_free(kf);
		return -1;
	}
	return 0;
}

static int read_keys(struct options *o, const char *path)
{
	if (o->keys.text) {
		fprintf(stderr, "csd-target: one --dhchap-keys\n");
		return -1;
	}
	if (load_keys(&o->keys, path))
		return -1;
	o->keys_path = path;
	o->tcp.host_secrets = o->keys.secrets;
	o->tcp.nhost_secrets = o->keys.n;
	return 0;
}

static int apply(struct options *o, int opt, const char *arg, const char *name)
{
	uint64_t v;

	switch (opt) {
	case 'a': o->tcp.addr = arg; return 0;
	case 'n': o->dev.subnqn = arg; return 0;
	case 'f': o->dev.backing_path = arg; return 0;
	case 'r': o->dev.nvm_in_memory = true; return 0;
	case 'A': o->tcp.advertise_addr = arg; return 0;
	case 'v': o->tcp.verbose = true; return 0;
	case 'U': o->dev.allow_unverified = true; return 0;
	case 'S': o->dev.share_programs = true; return 0;
	case 'Y': o->tcp.allow_unauthenticated = true; return 0;
	case 'W':
		if (csd_parse_u64(arg, &v) || v < 100 || v > 3600000) {
			fprintf(stderr, "csd-target: --slow-client-ms '%s': 100 to 3600000 expected\n",
				arg);
			return -1;
		}
		o->tcp.handshake_ms = o->tcp.pdu_ms = (uint32_t)v;
		return 0;
	case 'C':
		if (csd_parse_u64(arg, &v) || !v || v > 1000000)
			break;
		o->tcp.max_connections = (unsigned)v;
		return 0;
	case 'I':
		if (csd_parse_u64(arg, &v) || v < 100 || v > 86400000)
			break;
		o->tcp.idle_ms = (uint32_t)v;
		return 0;
	case 'B':
		if (csd_parse_u64(arg, &v) || v > 1000000)
			break;
		o->tcp.busy_poll_us = v ? (int32_t)v : -1;
		return 0;
	case 'P': case 'M': case 'X':
		if (csd_parse_size(arg, &v) || (opt != 'M' && v > 1000000)) {
			fprintf(stderr, "csd-target: --%s '%s' is not a valid value\n", name, arg);
			return -1;
		}
		if (opt == 'P')
			o->dev.host_max_programs = (unsigned)v;
		else if (opt == 'M')
			o->dev.host_max_slm_bytes = v;
		else
			o->dev.host_max_execs = (unsigned)v;
		return 0;
	case 'e':
		if (!strcmp(arg, "interp")) {
			o->dev.engine = CSD_EBPF_ENGINE_INTERP;
		} else if (!strcmp(arg, "jit") && csd_ebpf_jit_available()) {
			o->dev.engine = CSD_EBPF_ENGINE_JIT;
		} else {
			fprintf(stderr, "csd-target: --engine '%s': interp%s expected\n", arg,
				csd_ebpf_jit_available() ? " or jit" : " (no JIT for this machine)");
			return -1;
		}
		return 0;
	case 'c': return read_config(o, arg);
	case 'K': return read_keys(o, arg);
	case 'G':
		if (csd_dhchap_hash_id(arg) < 0) {
			fprintf(stderr, "csd-target: --dhchap-hash '%s': sha256, sha384 or sha512\n", arg);
			return -1;
		}
		o->tcp.dhchap_hash = arg;
		return 0;
	case 'D':
		if (csd_dhchap_dhgroup_id(arg) < 0) {
			fprintf(stderr, "csd-target: --dhchap-dhgroup '%s': ffdhe2048, ffdhe3072, "
				"ffdhe4096, ffdhe6144, ffdhe8192 or null\n", arg);
			return -1;
		}
		o->tcp.dhchap_dhgroup = arg;
		return 0;
	case 'H':
		if (o->tcp.nallowed == MAX_HOSTS) {
			fprintf(stderr, "csd-target: at most %d --allow-host\n", MAX_HOSTS);
			return -1;
		}
		o->hosts[o->tcp.nallowed++] = arg;
		o->tcp.allowed_hosts = o->hosts;
		return 0;
	case 's': case 'm':
		if (csd_parse_size(arg, &v) || !v)
			break;
		if (opt == 's')
			o->dev.nvm_bytes = v;
		else
			o->dev.slm_bytes = v;
		return 0;
	case 'p': case 'l': case 't': case 'b': case 'T': case 'R':
		if (csd_parse_u64(arg, &v))
			break;
		if (opt == 'p' && v <= 65535)
			o->tcp.port = (uint16_t)v;
		else if (opt == 'l' && (v == 512 || v == 4096))
			o->dev.lba_size = (uint32_t)v;
		else if (opt == 't' && v >= 1 && v <= 64)
			o->dev.engine_threads = (unsigned)v;
		else if (opt == 'b' && v)
			o->dev.exec_budget = v;
		else if (opt == 'T' && v <= 3600000)
			o->dev.exec_time_ms = (uint32_t)v;
		else if (opt == 'R' && v >= 1 && v <= 3600000)
			o->dev.verify_time_limit_ms = (uint32_t)v;
		else
			break;
		return 0;
	}
	fprintf(stderr, "csd-target: --%s '%s' is not a valid value\n", name, arg);
	return -1;
}

/* SIGHUP: read the keys file again; its hosts and secrets replace those in use. */
static void *reload_keys_main(void *arg)
{
	const char *path = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;) {
		struct keyfile kf;
		char err[512];

		if (sigwait(&set, &sig))
			continue;
		if (load_keys(&kf, path)) {
			fprintf(stderr, "csd-target: SIGHUP: keeping the host secrets in use\n");
			continue;
		}
		if (csd_tcp_target_set_host_secrets(the_target, kf.secrets, kf.n, err, sizeof(err)))
			fprintf(stderr, "csd-target: SIGHUP: %s: %s; keeping the host secrets in use\n",
				path, err);
		else
			fprintf(stderr, "csd-target: SIGHUP: %zu host secrets from %s\n", kf.n, path);
		keyfile_free(&kf);
	}
	return NULL;
}

static void print_stats(struct csd_subsys *s, struct csd_tcp_target *t)
{
	struct csd_tcp_traffic tr;
	struct csd_vendor_stats st;

	csd_tcp_target_traffic(t, &tr);
	csd_subsys_stats(s, &st);
	fprintf(stderr, "csd-target: link: %" PRIu64 " bytes in, %" PRIu64 " bytes out\n",
		tr.bytes_in, tr.bytes_out);
	for (int i = 0; i < CSD_TCP_PDU_TYPES; i++) {
		if (tr.pdus_in[i] || tr.pdus_out[i])
			fprintf(stderr, "csd-target:   %-12s in %8" PRIu64 " PDUs %12" PRIu64
				" bytes, out %8" PRIu64 " PDUs %12" PRIu64 " bytes\n", csd_tcp_pdu_name((unsigned)i),
				tr.pdus_in[i], tr.pdu_bytes_in[i], tr.pdus_out[i],
				tr.pdu_bytes_out[i]);
	}
	fprintf(stderr, "csd-target: drive: %" PRIu64 " NVM bytes read, %" PRIu64 " written, %"
		PRIu64 " moved inside, %" PRIu64 " program runs, %" PRIu64 " instructions\n",
		st.nvm_bytes_read, st.nvm_bytes_written, st.internal_bytes_moved,
		st.program_executions, st.program_insns);
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct csd_subsys *subsys;
	struct sigaction sa = { .sa_handler = on_signal };
	pthread_t reloader;
	char err[512];
	int c, ret;

	csd_dev_config_defaults(&o.dev);
	o.tcp.sz = sizeof(o.tcp);
	o.tcp.port = 4420;
	while ((c = getopt_long(argc, argv, "a:p:n:f:s:l:m:t:H:A:b:T:c:e:vhV", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'V') {
			printf("csd-target %s (csdlab)\n", CSD_VERSION);
			return 0;
		}
		if (c == '?') {
			usage(stderr);
			return 2;
		}
		for (const struct option *lo = longopts; lo->name; lo++)
			if (lo->val == c && apply(&o, c, optarg, lo->name))
				return 2;
	}
	if (optind != argc) {
		fprintf(stderr, "csd-target: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o.keys_path) {
		/* before any thread starts: SIGHUP goes only to the thread that reloads the keys */
		sigset_t hup;

		sigemptyset(&hup);
		sigaddset(&hup, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &hup, NULL);
	}
	if (o.dev.nvm_in_memory && o.dev.backing_path) {
		fprintf(stderr, "csd-target: --memory and --file: the NVM data is in one or the "
			"other\n");
		return 2;
	}
	if (!o.dev.backing_path && !o.dev.nvm_in_memory) {
		const char *tmp = getenv("TMPDIR");

		snprintf(o.tmpdir, sizeof(o.tmpdir), "%s/csd-target-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(o.tmpdir)) {
			fprintf(stderr, "csd-target: cannot create a temporary directory: %s\n",
				strerror(errno));
			return 1;
		}
		snprintf(o.tmpfile, sizeof(o.tmpfile), "%s/nvm.img", o.tmpdir);
		o.dev.backing_path = o.tmpfile;
	}
	{
		struct stat st;

		if (o.dev.backing_path && o.dev.nvm_bytes && !stat(o.dev.backing_path, &st) &&
		    st.st_size &&
		    (uint64_t)st.st_size < o.dev.nvm_bytes)
			fprintf(stderr, "csd-target: growing %s from %llu to %llu bytes\n",
				o.dev.backing_path, (unsigned long long)st.st_size,
				(unsigned long long)o.dev.nvm_bytes);
	}
	if (csd_subsys_create(&o.dev, &subsys, err, sizeof(err))) {
		fprintf(stderr, "csd-target: %s\n", err);
		if (o.tmpdir[0]) {	/* nothing of a daemon that never ran stays behind */
			unlink(o.tmpfile);
			rmdir(o.tmpdir);
		}
		return 1;
	}
	if (csd_tcp_target_create(subsys, &o.tcp, &the_target, err, sizeof(err))) {
		fprintf(stderr, "csd-target: %s\n", err);
		csd_subsys_destroy(subsys);
		if (o.tmpdir[0]) {	/* e.g. the address is in use: no scratch file left behind */
			unlink(o.tmpfile);
			rmdir(o.tmpdir);
		}
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("csd-target: %s on %s:%u, NVM data in %s\n", csd_subsys_nqn(subsys),
	       o.tcp.addr ? o.tcp.addr : "127.0.0.1", csd_tcp_target_port(the_target),
	       o.dev.nvm_in_memory ? "memory (lost when csd-target stops)" : o.dev.backing_path);
	fflush(stdout);
	if (o.keys_path && pthread_create(&reloader, NULL, reload_keys_main, (void *)o.keys_path)) {
		fprintf(stderr, "csd-target: cannot start the SIGHUP thread\n");
		o.keys_path = NULL;
	}
	ret = csd_tcp_target_run(the_target);
	if (o.keys_path) {
		pthread_cancel(reloader);
		pthread_join(reloader, NULL);
	}
	print_stats(subsys, the_target);
	csd_tcp_target_destroy(the_target);
	csd_subsys_destroy(subsys);	/* flushes the NVM data */
	for (unsigned i = 0; i < o.nowned; i++)
		free(o.owned[i]);
	keyfile_free(&o.keys);
	if (o.tmpdir[0]) {	/* scratch data: it goes with the daemon */
		unlink(o.tmpfile);
		rmdir(o.tmpdir);
	}
	fprintf(stderr, "csd-target: stopped\n");
	return ret ? 1 : 0;
}
