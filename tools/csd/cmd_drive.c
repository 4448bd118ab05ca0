/* SPDX-License-Identifier: MIT */
/*
 * csd's drive commands, nvme-cli style, through libcsd. Every command takes the connection
 * options (-a ADDR -p PORT -n NQN, or --device /dev/nvmeX for Linux passthrough) and prints
 * errors with the NVMe status name; query commands take --json.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <nvme/types.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "csd/csd.h"
#include "util.h"

struct drive_opts {
	struct csd_connect_opts conn;
	bool json;
	/* command arguments */
	int64_t slot, rsid, nsid;
	uint64_t slba, blocks, offset, len, dst, p1, p2, window, overlap;
	const char *in, *out, *name;
	bool fua, have_slba, have_offset, sequential, raw;
	unsigned combine;		/* CSD_STREAM_SUM, _MIN, _MAX */
	struct csd_mem_range ranges[16];
	unsigned nranges;
	uint8_t lid, lsp, csi;
};

enum {
	OPT_JSON = 1000, OPT_DEVICE, OPT_DIGEST, OPT_P1, OPT_P2, OPT_RANGE, OPT_RSID, OPT_FUA,
	OPT_LID, OPT_LSP, OPT_CSI, OPT_WINDOW, OPT_OVERLAP, OPT_DST, OPT_HOSTNQN, OPT_NAME,
	OPT_DHCHAP_SECRET, OPT_DHCHAP_CTRL_SECRET, OPT_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_COMBINE,
	OPT_SEQUENTIAL, OPT_RAW, OPT_BLOCK_COUNT, OPT_DATA, OPT_OUTPUT_FORMAT,
};

static const struct option drive_longopts[] = {
	{ "addr", required_argument, NULL, 'a' },
	{ "port", required_argument, NULL, 'p' },
	{ "nqn", required_argument, NULL, 'n' },
	{ "hostnqn", required_argument, NULL, OPT_HOSTNQN },
	{ "dhchap-secret", required_argument, NULL, OPT_DHCHAP_SECRET },
	{ "dhchap-ctrl-secret", required_argument, NULL, OPT_DHCHAP_CTRL_SECRET },
	{ "queues", required_argument, NULL, 'q' },
	{ "digest", no_argument, NULL, OPT_DIGEST },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "slot", required_argument, NULL, 's' },
	{ "slba", required_argument, NULL, 'l' },
	{ "blocks", required_argument, NULL, 'c' },
	{ "offset", required_argument, NULL, 'o' },
	{ "length", required_argument, NULL, 'L' },
	{ "input", required_argument, NULL, 'i' },
	{ "output", required_argument, NULL, 'O' },
	{ "namespace", required_argument, NULL, 'N' },
	{ "fua", no_argument, NULL, OPT_FUA },
	{ "p1", required_argument, NULL, OPT_P1 },
	{ "p2", required_argument, NULL, OPT_P2 },
	{ "range", required_argument, NULL, OPT_RANGE },
	{ "rsid", required_argument, NULL, OPT_RSID },
	{ "lid", required_argument, NULL, OPT_LID },
	{ "lsp", required_argument, NULL, OPT_LSP },
	{ "csi", required_argument, NULL, OPT_CSI },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "overlap", required_argument, NULL, OPT_OVERLAP },
	{ "dst", required_argument, NULL, OPT_DST },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "combine", required_argument, NULL, OPT_COMBINE },
	{ "sequential", no_argument, NULL, OPT_SEQUENTIAL },
	{ "raw", no_argument, NULL, OPT_RAW },
	/* nvme-cli's names for the same ideas (docs/transport.md: where csd's own differ) */
	{ "traddr", required_argument, NULL, 'a' },
	{ "trsvcid", required_argument, NULL, 'p' },
	{ "namespace-id", required_argument, NULL, 'N' },
	{ "start-block", required_argument, NULL, 'l' },
	{ "block-count", required_argument, NULL, OPT_BLOCK_COUNT },	/* 0's based, as there */
	{ "data", required_argument, NULL, OPT_DATA },
	{ "output-format", required_argument, NULL, OPT_OUTPUT_FORMAT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *const connection_help =
	"connection: -a ADDR (127.0.0.1) -p PORT (4420) -n NQN (the csdlab drive) [-q QUEUES]\n"
	"            [--digest] [--hostnqn NQN] [--dhchap-secret DHHC-1:..]\n"
	"            [--dhchap-ctrl-secret DHHC-1:..] [--timeout MS (per command: 60000 admin,\n"
	"            30000 I/O, as Linux)] [--connect-timeout MS (10000)],\n"
	"            or --device /dev/nvmeX (Linux passthrough); defaults from 'name value'\n"
	"            lines in $CSD_CONFIG, else ~/.config/csd/config, else /etc/csd/config\n";

static int bad_value(const char *opt, const char *arg)
{
	fprintf(stderr, "csd: --%s '%s' is not a valid value\n", opt, arg);
	return -1;
}

/* OFFSET:LENGTH in the memory namespace */
static int parse_range(struct drive_opts *o, const char *arg)
{
	char *colon = strchr(arg, ':');
	uint64_t off, len;

	if (o->nranges == 16)
		return bad_value("range", "more than 16 ranges");
	if (!colon)
		return bad_value("range", arg);
	*colon = '\0';
	if (csd_parse_size(arg, &off) || csd_parse_size(colon + 1, &len) || !len ||
	    len > UINT32_MAX) {
		*colon = ':';
		return bad_value("range", arg);
	}
	*colon = ':';
	o->ranges[o->nranges++] = (struct csd_mem_range){ .nsid = 0, .sb = off,
							  .len = (uint32_t)len };
	return 0;
}

/* One option and its value (NULL for flags); -1 with the message printed if it is bad. */
static int apply_opt(struct drive_opts *o, int c, char *arg)
{
	uint64_t v = 0;

	switch (c) {
	case 'a': o->conn.addr = arg; return 0;
	case 'n': o->conn.subnqn = arg; return 0;
	case OPT_HOSTNQN: o->conn.hostnqn = arg; return 0;
	case OPT_DHCHAP_SECRET: o->conn.dhchap_secret = arg; return 0;
	case OPT_DHCHAP_CTRL_SECRET: o->conn.dhchap_ctrl_secret = arg; return 0;
	case OPT_DIGEST: o->conn.hdgst = o->conn.ddgst = true; return 0;
	case OPT_DEVICE: o->conn.transport = "linux"; o->conn.device = arg; return 0;
	case OPT_JSON: o->json = true; return 0;
	case OPT_FUA: o->fua = true; return 0;
	case 'i': o->in = arg; return 0;
	case 'O': o->out = arg; return 0;
	case OPT_NAME: o->name = arg; return 0;
	case OPT_SEQUENTIAL: o->sequential = true; return 0;
	case OPT_RAW: o->raw = true; return 0;
	case OPT_DATA: o->in = o->out = arg; return 0;	/* a write's input, a read's output */
	case OPT_OUTPUT_FORMAT:
		if (strcmp(arg, "json") && strcmp(arg, "normal"))
			return bad_value("output-format", arg);
		o->json = !strcmp(arg, "json");
		return 0;
	case OPT_COMBINE:
		if (!strcmp(arg, "sum"))
			o->combine = CSD_STREAM_SUM;
		else if (!strcmp(arg, "min"))
			o->combine = CSD_STREAM_MIN;
		else if (!strcmp(arg, "max"))
			o->combine = CSD_STREAM_MAX;
		else
			return bad_value("combine", arg);
		return 0;
	case OPT_RANGE:
		return parse_range(o, arg) ? -1 : 0;
	}
	if (csd_parse_size(arg, &v)) {
		const char *name = "?";

		for (const struct option *lo = drive_longopts; lo->name; lo++)
			if (lo->val == c)
				name = lo->name;
		return bad_value(name, arg);
	}
	switch (c) {
	case 'p': if (v > 65535) return bad_value("port", arg); o->conn.port = (uint16_t)v; break;
	case 'q': if (!v || v > 64) return bad_value("queues", arg); o->conn.nr_io_queues = (unsigned)v; break;
	case 's': if (v > 0xffff) return bad_value("slot", arg); o->slot = (int64_t)v; break;
	case 'l': o->slba = v; o->have_slba = true; break;
	case 'c': if (!v) return bad_value("blocks", arg); o->blocks = v; break;
	case OPT_BLOCK_COUNT:
		if (v == UINT64_MAX)
			return bad_value("block-count", arg);
		o->blocks = v + 1;
		break;
	case 'o': o->offset = v; o->have_offset = true; break;
	case 'L': if (!v || v > UINT32_MAX) return bad_value("length", arg); o->len = v; break;
	case 'N': o->nsid = (int64_t)v; break;
	case OPT_P1: o->p1 = v; break;
	case OPT_P2: o->p2 = v; break;
	case OPT_RSID: if (!v || v > 0xffff) return bad_value("rsid", arg); o->rsid = (int64_t)v; break;
	case OPT_LID: if (v > 255) return bad_value("lid", arg); o->lid = (uint8_t)v; break;
	case OPT_LSP: if (v > 127) return bad_value("lsp", arg); o->lsp = (uint8_t)v; break;
	case OPT_CSI: if (v > 255) return bad_value("csi", arg); o->csi = (uint8_t)v; break;
	case OPT_WINDOW: o->window = v; break;
	case OPT_OVERLAP: o->overlap = v; break;
	case OPT_DST: o->dst = v; break;
	case OPT_TIMEOUT:
	case OPT_CONNECT_TIMEOUT:
		if (!v || v >= UINT32_MAX)
			return bad_value(c == OPT_TIMEOUT ? "timeout" : "connect-timeout", arg);
		if (c == OPT_TIMEOUT)
			o->conn.timeout_ms = (uint32_t)v;
		else
			o->conn.connect_timeout_ms = (uint32_t)v;
		break;
	}
	return 0;
}

/*
 * The drive named once, as nvme-cli keeps its host's identity in /etc/nvme: connection
 * options as "name value" lines (names as the long options; # comments) in $CSD_CONFIG, else
 * $XDG_CONFIG_HOME/csd/config (~/.config/csd/config), else /etc/csd/config. Options on the
 * command line override them. Only the connection's options may be there.
 */
static const char *config_path(char *buf, size_t size)
{
	const char *env = getenv("CSD_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (env)
		return *env ? env : NULL;	/* CSD_CONFIG= : none at all */
	if (xdg && *xdg)
		snprintf(buf, size, "%s/csd/config", xdg);
	else if (home && *home)
		snprintf(buf, size, "%s/.config/csd/config", home);
	else
		buf[0] = '\0';
	if (buf[0] && access(buf, F_OK) == 0)
		return buf;
	return access("/etc/csd/config", F_OK) == 0 ? "/etc/csd/config" : NULL;
}

static int read_config(struct drive_opts *o)
{
	static const char *const allowed[] = { "addr", "port", "nqn", "hostnqn", "dhchap-secret",
					      "dhchap-ctrl-secret", "queues", "digest", "timeout",
					      "connect-timeout", "device", NULL };
	static char values[16][512];	/* the options keep pointers into them */
	char pathbuf[512], line[640];
	const char *path = config_path(pathbuf, sizeof(pathbuf));
	unsigned used = 0, lineno = 0;
	FILE *f;

	if (!path)
		return 0;
	if (!(f = fopen(path, "r"))) {
		fprintf(stderr, "csd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *name = line, *value, *end;
		const struct option *lo = NULL;
		bool ok = false;

		lineno++;
		name += strspn(name, " \t");
		end = name + strcspn(name, "#\r\n");
		*end = '\0';
		while (end > name && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*name)
			continue;
		value = name + strcspn(name, " \t");
		if (*value)
			*value++ = '\0';
		value += strspn(value, " \t");
		for (unsigned i = 0; allowed[i]; i++)
			ok |= !strcmp(name, allowed[i]);
		for (const struct option *it = drive_longopts; ok && it->name; it++)
			if (!strcmp(it->name, name))
				lo = it;
		if (used == sizeof(values) / sizeof(values[0])) {
			fprintf(stderr, "csd: %s:%u: more than %zu options: a connection needs fewer\n",
				path, lineno, sizeof(values) / sizeof(values[0]));
			fclose(f);
			return -1;
		}
		if (!lo || (lo->has_arg == required_argument) != (*value != '\0')) {
			fprintf(stderr, "csd: %s:%u: '%s': expected one of addr, port, nqn, hostnqn, "
				"dhchap-secret, dhchap-ctrl-secret, queues, timeout, connect-timeout, "
				"device (each with a value) or digest\n", path, lineno, name);
			fclose(f);
			return -1;
		}
		snprintf(values[used], sizeof(values[used]), "%s", value);
		if (!strncmp(name, "dhchap", 6)) {
			struct stat st;

			if (!fstat(fileno(f), &st) && (st.st_mode & 0044))
				fprintf(stderr, "csd: warning: %s holds a DH-HMAC-CHAP secret and others "
					"may read it (chmod 600 %s)\n", path, path);
		}
		if (apply_opt(o, lo->val, *value ? values[used] : NULL)) {
			fprintf(stderr, "csd: (in %s:%u)\n", path, lineno);
			fclose(f);
			return -1;
		}
		used++;
	}
	fclose(f);
	return 0;
}

/* Parse argv; returns the index of the first positional argument, or -1 (message printed). */
static int parse(int argc, char **argv, struct drive_opts *o, const char *usage)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->conn.sz = sizeof(o->conn);
	o->slot = o->rsid = o->nsid = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "a:p:n:q:s:l:c:o:L:i:O:N:h", drive_longopts, NULL)) != -1) {
		if (c == 'h') {
			printf("%s%s", usage, connection_help);
			exit(0);
		}
		if (c == '?') {
			fprintf(stderr, "%s%s", usage, connection_help);
			return -1;
		}
	}
	/* the configuration first, then the command line over it */
	if (read_config(o))
		return -1;
	optind = 0;	/* glibc: scan again from the start */
	while ((c = getopt_long(argc, argv, "a:p:n:q:s:l:c:o:L:i:O:N:h", drive_longopts, NULL)) != -1)
		if (apply_opt(o, c, optarg))
			return -1;
	return optind;
}

static struct csd_dev *open_drive(struct drive_opts *o)
{
	struct csd_dev *dev;
	char err[256];

	if (csd_dev__connect(&o->conn, &dev, err, sizeof(err))) {
		fprintf(stderr, "csd: %s\n", err);
		if (strstr(err, "Connection refused"))
			fprintf(stderr, "csd: nothing listens there: start a drive (csd-target -p PORT), "
				"or name the right one with -a/-p (or in the file $CSD_CONFIG names; "
				"csd --help)\n");
		return NULL;
	}
	return dev;
}

/* What to do next, for the drive's answers a person can act on (NVMe status, SCT and SC). */
static const char *next_step(int status)
{
	switch (status) {
	case 0x100 | CSD_SC_PROGRAM_IN_USE:
		return "the slot's program is active: deactivate it first (csd program deactivate -s SLOT)";
	case 0x100 | CSD_SC_INVALID_PROGRAM_INDEX:
		return "program slots are 0 to 15 (csd program list shows what each holds)";
	case 0x100 | CSD_SC_NO_PROGRAM:
		return "the slot is empty for this host: load a program first (csd program load -s "
		       "SLOT FILE), or see csd program list";
	case 0x100 | CSD_SC_PROGRAM_NOT_ACTIVATED:
		return "activate it first (csd program activate -s SLOT)";
	case 0x100 | CSD_SC_MAX_PROGRAMS_ACTIVATED:
		return "every activation this host may hold is taken: deactivate another program first";
	case 0x100 | CSD_SC_INVALID_RSID:
		return "no such memory range set for this host (csd mrs list shows them)";
	default:
		return NULL;
	}
}

static int report(const char *what, int ret)
{
	char buf[160];
	const char *next;

	if (!ret)
		return 0;
	if (ret == -ETIMEDOUT) {
		fprintf(stderr, "csd: %s: no answer from the drive within the command timeout "
			"(60 s admin, 30 s I/O unless --timeout MS says otherwise)\n", what);
		return 1;
	}
	fprintf(stderr, "csd: %s: %s\n", what, csd_strerror(ret, buf, sizeof(buf)));
	if (ret > 0 && (next = next_step(ret & 0x7ff)))
		fprintf(stderr, "csd: %s\n", next);
	return 1;
}

/*
 * A program file the drive can take, checked before anything is sent: it exists, and it is
 * an ELF object or raw instructions (whole 8-byte instructions). 0, or 1 with the reason.
 */
static int check_program_file(const char *path)
{
	uint8_t magic[4] = { 0 };
	struct stat st;
	FILE *f;

	if (stat(path, &st) || !(f = fopen(path, "rb"))) {
		fprintf(stderr, "csd: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (fread(magic, 1, sizeof(magic), f) != sizeof(magic))
		magic[0] = 0;
	fclose(f);
	if (memcmp(magic, "\177ELF", 4) && (st.st_size == 0 || st.st_size % 8)) {
		fprintf(stderr, "csd: %s is neither an eBPF ELF object (clang -target bpf -c) nor raw "
			"eBPF instructions (a whole number of 8-byte instructions; it is %lld bytes)\n",
			path, (long long)st.st_size);
		return 1;
	}
	return 0;
}

/* After the drive said no: its readable reason, when it gave one (log C1h). */
static void print_reason(struct csd_dev *dev, int ret)
{
	char reasons[8][256];

	if (ret > 0 && !csd_dev__reasons(dev, reasons) && reasons[0][0])
		fprintf(stderr, "csd: the drive says: %s\n", reasons[0]);
}

/* --range values name offsets in the memory namespace: give them its NSID. */
static int ranges_in_memory(struct csd_dev *dev, struct drive_opts *o)
{
	struct csd_ns_info slm;
	int ret = csd_dev__find_ns(dev, CSD_CSI_SLM, &slm);

	for (unsigned i = 0; !ret && i < o->nranges; i++)
		o->ranges[i].nsid = slm.nsid;
	return ret;
}

static const char *csi_name(uint8_t csi)
{
	return csi == CSD_CSI_NVM ? "nvm" : csi == CSD_CSI_SLM ? "memory" :
	       csi == CSD_CSI_COMPUTE ? "compute" : "unknown";
}

static void trimmed(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = '\0';
	for (size_t i = n; i > 0 && dst[i - 1] == ' '; i--)
		dst[i - 1] = '\0';
}

int cmd_id_ctrl(int argc, char **argv)
{
	struct drive_opts o;
	struct nvme_id_ctrl id;
	struct csd_dev *dev;
	char mn[41], sn[21], fr[9];
	int ret;

	if (parse(argc, argv, &o, "usage: csd id-ctrl [--json]\n") < 0 || !(dev = open_drive(&o)))
		return 2;
	ret = report("identify controller", csd_dev__identify_ctrl(dev, &id));
	if (!ret) {
		trimmed(mn, id.mn, 40);
		trimmed(sn, id.sn, 20);
		trimmed(fr, id.fr, 8);
		if (o.json)
			printf("{\"model\": \"%s\", \"serial\": \"%s\", \"firmware\": \"%s\", "
			       "\"cntlid\": %u, \"version\": \"%u.%u\", \"namespaces\": %u, "
			       "\"mdts\": %u, \"oncs\": %u, \"subnqn\": \"%s\"}\n", mn, sn, fr,
			       id.cntlid, id.ver >> 16, (id.ver >> 8) & 0xff, id.nn, id.mdts,
			       id.oncs, id.subnqn);
		else
			printf("model      %s\nserial     %s\nfirmware   %s\ncntlid     %u\n"
			       "version    %u.%u\nnamespaces %u\nmdts       %u\noncs       0x%x\n"
			       "subnqn     %s\n", mn, sn, fr, id.cntlid, id.ver >> 16,
			       (id.ver >> 8) & 0xff, id.nn, id.mdts, id.oncs, id.subnqn);
	}
	csd_dev__disconnect(dev);
	return ret;
}

int cmd_list(int argc, char **argv)
{
	struct csd_ns_info ns[8];
	struct drive_opts o;
	struct csd_dev *dev;
	size_t n;
	int ret;

	if (parse(argc, argv, &o, "usage: csd list [--json]\n  the drive's namespaces and their command sets\n") < 0 ||
	    !(dev = open_drive(&o)))
		return 2;
	ret = report("list namespaces", csd_dev__list_ns(dev, ns, 8, &n));
	for (size_t i = 0; !ret && i < n; i++) {
		if (o.json)
			printf("%s{\"nsid\": %u, \"csi\": %u, \"set\": \"%s\", \"bytes\": %" PRIu64
			       ", \"lba_size\": %u}%s", i ? "" : "[", ns[i].nsid, ns[i].csi,
			       csi_name(ns[i].csi), ns[i].size, ns[i].lba_size,
			       i + 1 < n ? ", " : "]\n");
		else
			printf("nsid %u  %-8s csi %u  %" PRIu64 " bytes%s\n", ns[i].nsid,
			       csi_name(ns[i].csi), ns[i].csi, ns[i].size,
			       ns[i].lba_size ? (ns[i].lba_size == 512 ? ", 512-byte blocks"
								       : ", 4096-byte blocks") : "");
	}
	csd_dev__disconnect(dev);
	return ret;
}

int cmd_discover(int argc, char **argv)
{
	uint8_t buf[4096];
	struct nvmf_discovery_log *log = (struct nvmf_discovery_log *)buf;
	struct drive_opts o;
	struct csd_dev *dev;
	int ret;

	if (parse(argc, argv, &o, "usage: csd discover [--json]\n  the discovery log of the target\n") < 0)
		return 2;
	o.conn.subnqn = NVME_DISC_SUBSYS_NAME;
	if (!(dev = open_drive(&o)))
		return 2;
	ret = report("discovery log", csd_dev__get_log(dev, NVME_LOG_LID_DISCOVER, 0, 0, buf,
						       sizeof(buf)));
	for (uint64_t i = 0; !ret && i < log->numrec && i < 3; i++) {
		const struct nvmf_disc_log_entry *e = &log->entries[i];

		if (o.json)
			printf("%s{\"trtype\": \"tcp\", \"traddr\": \"%s\", \"trsvcid\": \"%s\", "
			       "\"subnqn\": \"%s\"}%s", i ? "" : "[", e->traddr, e->trsvcid, e->subnqn,
			       i + 1 < log->numrec ? ", " : "]\n");
		else
			printf("trtype tcp  traddr %s  trsvcid %s  subnqn %s\n", e->traddr, e->trsvcid,
			       e->subnqn);
	}
	csd_dev__disconnect(dev);
	return ret;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

#define WRITE_CHUNK_BLOCKS	256
#define WRITE_DEPTH		16

/* What a read or write moved: a line on stderr, or with --json an object on stdout. */
static void rw_summary(struct csd_dev *dev, const struct csd_tcp_traffic *before,
		       const struct drive_opts *o, const char *verb, uint64_t blocks, double bytes,
		       double s)
{
	double rate = s > 0 ? bytes / 1e6 / s : 0.0;
	struct csd_tcp_traffic now = *before;
	uint64_t out, in;

	/* this command's bytes on the link, as this host's socket counted them */
	csd_dev__stats(dev, NULL, &now);
	out = now.bytes_out - before->bytes_out;
	in = now.bytes_in - before->bytes_in;
	if (o->json)
		printf("{\"%s\": {\"blocks\": %" PRIu64 ", \"bytes\": %.0f, \"slba\": %" PRIu64
		       ", \"seconds\": %.3f, \"mb_s\": %.1f, \"link\": {\"host_to_drive\": %" PRIu64
		       ", \"drive_to_host\": %" PRIu64 "}}}\n", verb, blocks, bytes, o->slba, s, rate,
		       out, in);
	else
		fprintf(stderr, "csd: %s %" PRIu64 " blocks (%.1f MiB) %s LBA %" PRIu64 " in %.2f s, "
			"%.1f MB/s; on the link %" PRIu64 " bytes to the drive, %" PRIu64 " from it\n",
			verb, blocks, bytes / 1048576.0, strcmp(verb, "read") ? "at" : "from", o->slba,
			s, rate, out, in);
}

/*
 * csd write: the file streamed from disk, WRITE_DEPTH chunks of 256 blocks in flight on I/O
 * queue 1, after checking that all of it fits (nothing is written otherwise). Ctrl-C stops
 * sending, waits for what is in flight and says how much was written and acknowledged.
 */
static int write_file(struct csd_dev *dev, const struct drive_opts *o, const struct csd_ns_info *ns)
{
	struct csd_tcp_traffic link0 = { 0 };
	struct csd_async slots[WRITE_DEPTH];
	uint8_t *bufs = NULL;
	uint64_t blocks, sent = 0, acked = 0, prefix = 0, ns_blocks = ns->size / ns->lba_size;
	uint8_t done_map[WRITE_DEPTH] = { 0 };
	unsigned inflight = 0;
	size_t chunk = (size_t)WRITE_CHUNK_BLOCKS * ns->lba_size;
	struct csd_progress bar;
	struct sigaction sa = { .sa_handler = on_sigint }, old_sa;
	struct timespec t0, t1;
	FILE *in = fopen(o->in, "rb");
	struct stat st;
	int ret = 0;

	if (!in || fstat(fileno(in), &st)) {
		fprintf(stderr, "csd: %s: %s\n", o->in, strerror(errno));
		if (in)
			fclose(in);
		return 1;
	}
	if (!st.st_size || (uint64_t)st.st_size % ns->lba_size) {
		fprintf(stderr, "csd: %s: %lld bytes is not a whole number of %u-byte blocks\n", o->in,
			(long long)st.st_size, ns->lba_size);
		fclose(in);
		return 1;
	}
	blocks = (uint64_t)st.st_size / ns->lba_size;
	if (o->slba >= ns_blocks || blocks > ns_blocks - o->slba) {
		fprintf(stderr, "csd: %s: its %" PRIu64 " blocks from LBA %" PRIu64 " do not fit the "
			"namespace's %" PRIu64 " blocks (0-%" PRIu64 "): nothing written\n", o->in,
			blocks, o->slba, ns_blocks, ns_blocks - 1);
		fclose(in);
		return 1;
	}
	bufs = malloc(WRITE_DEPTH * chunk);
	if (!bufs) {
		fclose(in);
		return report("write", -ENOMEM);
	}
	interrupted = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_sa);
	csd_dev__stats(dev, NULL, &link0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	csd_progress_start(&bar, "writing", blocks);
	while (!ret && (acked < blocks) && !(interrupted && !inflight)) {
		/* fill the queue */
		while (!ret && !interrupted && inflight < WRITE_DEPTH && sent < blocks) {
			unsigned i = (unsigned)((sent / WRITE_CHUNK_BLOCKS) % WRITE_DEPTH);
			uint32_t n = (uint32_t)(blocks - sent < WRITE_CHUNK_BLOCKS ? blocks - sent :
					       WRITE_CHUNK_BLOCKS);
			uint64_t slba = o->slba + sent;
			struct csd_async *a = &slots[i];

			if (fread(bufs + i * chunk, ns->lba_size, n, in) != n) {
				ret = report("read the input", ferror(in) ? -EIO : -ENODATA);
				break;
			}
			memset(a, 0, sizeof(*a));
			a->sqe.opcode = nvme_cmd_write;
			a->sqe.nsid = ns->nsid;
			a->sqe.cdw10 = (uint32_t)slba;
			a->sqe.cdw11 = (uint32_t)(slba >> 32);
			a->sqe.cdw12 = (n - 1) | (o->fua ? 1u << 30 : 0);
			a->data = bufs + i * chunk;
			a->len = n * ns->lba_size;
			a->user = (void *)(uintptr_t)i;
			if ((ret = report("write", csd_dev__submit(dev, 1, a))))
				break;
			done_map[i] = 0;
			sent += n;
			inflight++;
		}
		if (!inflight)
			break;
		{
			int err = 0;
			struct csd_async *a = csd_dev__reap(dev, 1, &err);
			unsigned i;

			if (!a) {
				ret = report("write", err ? err : -EIO);
				break;
			}
			inflight--;
			if ((ret = report("write", a->result)))
				break;
			i = (unsigned)(uintptr_t)a->user;
			done_map[i] = 1;
			acked += a->len / ns->lba_size;
			/* the blocks acknowledged from the first on, with no gap */
			while (prefix < sent && done_map[(prefix / WRITE_CHUNK_BLOCKS) % WRITE_DEPTH]) {
				unsigned k = (unsigned)((prefix / WRITE_CHUNK_BLOCKS) % WRITE_DEPTH);

				done_map[k] = 0;
				prefix += blocks - prefix < WRITE_CHUNK_BLOCKS ? blocks - prefix :
					  WRITE_CHUNK_BLOCKS;
			}
			csd_progress_update(&bar, acked);
		}
	}
	csd_progress_end(&bar);
	sigaction(SIGINT, &old_sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!ret && interrupted) {
		fprintf(stderr, "csd: write interrupted: %" PRIu64 " of %" PRIu64 " blocks written and "
			"acknowledged (LBA %" PRIu64 " to %" PRIu64 " all of them); the rest not "
			"written\n", acked, blocks, o->slba, o->slba + (prefix ? prefix - 1 : 0));
		ret = 130;
	} else if (!ret) {
		double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

		rw_summary(dev, &link0, o, "wrote", blocks, (double)st.st_size, s);
	}
	free(bufs);
	fclose(in);
	return ret;
}

/* read and write: in chunks of 256 blocks, with a progress bar on a terminal */
int cmd_rw(int argc, char **argv)
{
	bool is_write = !strcmp(argv[0], "write");
	struct drive_opts o;
	struct csd_ns_info ns;
	struct csd_progress bar;
	struct csd_dev *dev;
	uint8_t *buf = NULL;
	FILE *out = stdout;
	struct timespec t0, t1;
	struct sigaction sa = { .sa_handler = on_sigint }, old_sa;
	struct csd_tcp_traffic link0 = { 0 };
	uint64_t done = 0;
	uint32_t n = 0;
	int ret;

	if (parse(argc, argv, &o, is_write ?
		  "usage: csd write --slba LBA -i FILE [--fua]\n" :
		  "usage: csd read --slba LBA --blocks N [-O FILE]\n") < 0)
		return 2;
	if (!o.have_slba || (is_write ? !o.in : !o.blocks)) {
		fprintf(stderr, "csd: %s needs --slba and %s\n", argv[0], is_write ? "-i FILE" : "--blocks");
		return 2;
	}
	if (!is_write && o.json && !o.out) {
		fprintf(stderr, "csd: read --json needs -O FILE: without it the data goes to stdout\n");
		return 2;
	}
	if (!(dev = open_drive(&o)))
		return 2;
	if ((ret = report("find the NVM namespace", csd_dev__find_ns(dev, CSD_CSI_NVM, &ns))))
		goto out;
	if (is_write) {
		ret = write_file(dev, &o, &ns);
		goto out;
	} else {
		uint64_t ns_blocks = ns.size / ns.lba_size;

		if (o.slba >= ns_blocks || o.blocks > ns_blocks - o.slba) {
			fprintf(stderr, "csd: %" PRIu64 " blocks from LBA %" PRIu64 " are past the end "
				"of the namespace's %" PRIu64 " blocks (0-%" PRIu64 "): nothing read\n",
				o.blocks, o.slba, ns_blocks, ns_blocks - 1);
			ret = 1;
			goto out;
		}
		buf = malloc(256 * ns.lba_size);
		if (o.out && !(out = fopen(o.out, "wb"))) {
			fprintf(stderr, "csd: %s: %s\n", o.out, strerror(errno));
			ret = 1;
			goto out;
		}
	}
	/* Ctrl-C: what was read is written out, and said; exit 130 */
	interrupted = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_sa);
	csd_dev__stats(dev, NULL, &link0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	csd_progress_start(&bar, is_write ? "writing" : "reading", o.blocks);
	for (done = 0; done < o.blocks && !ret && !interrupted; done += n) {
		n = (uint32_t)(o.blocks - done < 256 ? o.blocks - done : 256);
		ret = report("read", csd_dev__read(dev, o.slba + done, n, buf));
		if (!ret && fwrite(buf, ns.lba_size, n, out) != n)
			ret = report("output", -errno);
		csd_progress_update(&bar, done + n);
	}
	csd_progress_end(&bar);
	sigaction(SIGINT, &old_sa, NULL);
	if (out != stdout && fclose(out))
		ret = report("output", -errno);
	if (!ret && interrupted && done < o.blocks) {
		fprintf(stderr, "csd: read interrupted: %" PRIu64 " of %" PRIu64 " blocks read (LBA %"
			PRIu64 " to %" PRIu64 ") and written out\n", done, o.blocks, o.slba,
			o.slba + (done ? done - 1 : 0));
		ret = 130;
	} else if (!ret) {
		double s, bytes = (double)o.blocks * ns.lba_size;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		rw_summary(dev, &link0, &o, "read", o.blocks, bytes, s);
	}
out:
	free(buf);
	csd_dev__disconnect(dev);
	return ret;
}

int cmd_program(int argc, char **argv)
{
	const char *usage = "usage: csd program load -s SLOT FILE [--name PROGRAM] | unload -s SLOT\n"
			    "       | activate -s SLOT\n"
			    "       | deactivate -s SLOT | list   [--json]\n";
	struct csd_program_entry list[16];
	const char *sub = argc > 1 ? argv[1] : "";
	struct drive_opts o;
	struct csd_dev *dev;
	int first, ret = 0;

	if (!strcmp(sub, "-h")) {
		printf("%s", usage);
		return 0;
	}
	if ((first = parse(argc - 1, argv + 1, &o, usage)) < 0)
		return 2;
	if (strcmp(sub, "list") && o.slot < 0) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (!strcmp(sub, "load") && first != argc - 2) {
		fprintf(stderr, "csd: program load needs one FILE\n");
		return 2;
	}
	if (!strcmp(sub, "load") && strcmp(argv[1 + first], "-") &&	/* - is stdin */
	    check_program_file(argv[1 + first]))
		return 1;
	if (!(dev = open_drive(&o)))
		return 2;
	if (!strcmp(sub, "load")) {
		ret = report("load program", csd_dev__program_load_file(dev, (uint16_t)o.slot,
									  argv[1 + first], o.name));
	} else if (!strcmp(sub, "unload")) {
		ret = report("unload program", csd_dev__program_unload(dev, (uint16_t)o.slot));
	} else if (!strcmp(sub, "activate") || !strcmp(sub, "deactivate")) {
		bool on = sub[0] == 'a';

		ret = csd_dev__program_activate(dev, (uint16_t)o.slot, on);
		print_reason(dev, ret);
		ret = report(on ? "activate program" : "deactivate program", ret);
	} else if (!strcmp(sub, "list")) {
		static const char *const states[] = { "empty", "loaded", "active" };

		ret = report("program list", csd_dev__program_list(dev, list));
		for (int i = 0; !ret && i < 16; i++) {
			const char *st = list[i].state < 3 ? states[list[i].state] : "?";

			if (o.json)
				printf("%s{\"slot\": %u, \"state\": \"%s\", \"type\": %u, \"bytes\": %u, "
				       "\"builtin\": %s, \"name\": \"%.12s\"}%s", i ? "" : "[",
				       list[i].pind, st, list[i].ptype, list[i].size,
				       list[i].flags & CSD_PROG_FLAG_BUILTIN ? "true" : "false",
				       list[i].name, i < 15 ? ", " : "]\n");
			else if (list[i].state)
				printf("slot %2u  %-7s type 0x%02x  %7u bytes  %s%.12s\n", list[i].pind,
				       st, list[i].ptype, list[i].size,
				       list[i].flags & CSD_PROG_FLAG_BUILTIN ? "built-in " : "",
				       list[i].name);
		}
	} else {
		fprintf(stderr, "%s", usage);
		ret = 2;
	}
	/* what the slot is now, for scripts */
	if (!ret && o.json && strcmp(sub, "list"))
		printf("{\"slot\": %" PRId64 ", \"state\": \"%s\"}\n", o.slot,
		       !strcmp(sub, "unload") ? "empty" : !strcmp(sub, "activate") ? "active" : "loaded");
	csd_dev__disconnect(dev);
	return ret;
}

/* RANGE_BLOCKS: a stream range's NLB is 32 bits, 0's based */
#define RANGE_BLOCKS	(1ull << 32)
#define MAX_RANGES	256	/* what the drive takes in one streaming Execute */

/* Streaming Execute over --blocks blocks from --slba: as many ranges as that takes. */
static int exec_stream(struct csd_dev *dev, const struct drive_opts *o, uint64_t *result)
{
	CSD_OPTS(csd_stream_opts, so, .window = (uint32_t)o->window,
		 .overlap = (uint32_t)o->overlap, .p1 = o->p1, .p2 = o->p2, .combine = o->combine,
		 .sequential = o->sequential);
	struct csd_stream_range r[MAX_RANGES];
	uint64_t blocks = o->blocks ? o->blocks : 1;
	unsigned n = 0;

	if (o->window > UINT32_MAX || o->overlap > UINT32_MAX) {
		fprintf(stderr, "csd: --window and --overlap are at most 4G\n");
		return -EINVAL;
	}
	for (uint64_t done = 0; done < blocks; done += RANGE_BLOCKS) {
		uint64_t k = blocks - done < RANGE_BLOCKS ? blocks - done : RANGE_BLOCKS;

		if (n == MAX_RANGES) {
			fprintf(stderr, "csd: %" PRIu64 " blocks take more than %u ranges of 2^32\n",
				blocks, MAX_RANGES);
			return -EINVAL;
		}
		r[n++] = (struct csd_stream_range){ .slba = o->slba + done, .nlb = (uint32_t)(k - 1) };
	}
	return csd_dev__exec_stream_opts(dev, (uint16_t)o->slot, r, n, &so, result);
}

int cmd_exec(int argc, char **argv)
{
	const char *usage = "usage: csd exec -s SLOT (--rsid N | --range OFF:LEN ...) [--p1 N] [--p2 N] [--json]\n"
			    "       csd exec -s SLOT --slba LBA --blocks N [--window BYTES] [--overlap BYTES]\n"
			    "                [--combine sum|min|max] [--sequential]\n"
			    "  (the second form is the drive's streaming Execute over NVM blocks, any\n"
			    "  number of them; the windows' results are added up, or their min or max;\n"
			    "  --sequential keeps it on one engine thread, in order)\n";
	struct drive_opts o;
	struct csd_dev *dev;
	uint64_t result = 0;
	int ret;

	if (parse(argc, argv, &o, usage) < 0)
		return 2;
	if (o.slot < 0 || (o.rsid > 0 && o.nranges)) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (!(dev = open_drive(&o)))
		return 2;
	if (o.have_slba) {
		ret = exec_stream(dev, &o, &result);
	} else if (!(ret = ranges_in_memory(dev, &o))) {
		ret = csd_dev__exec(dev, (uint16_t)o.slot, o.rsid > 0 ? (uint16_t)o.rsid : 0,
				    o.ranges, o.nranges, o.p1, o.p2, &result);
	}
	print_reason(dev, ret);
	if (!(ret = report("execute", ret)))
		printf(o.json ? "{\"result\": %" PRIu64 "}\n" : "%" PRIu64 "\n", result);
	csd_dev__disconnect(dev);
	return ret;
}

int cmd_mrs(int argc, char **argv)
{
	const char *usage = "usage: csd mrs create --range OFF:LEN ... | delete --rsid N | list [--json]\n";
	const char *sub = argc > 1 ? argv[1] : "";
	struct csd_range_set_entry sets[64];
	struct drive_opts o;
	struct csd_dev *dev;
	uint16_t rsid;
	int ret;

	if (!strcmp(sub, "-h")) {
		printf("%s", usage);
		return 0;
	}
	if (parse(argc - 1, argv + 1, &o, usage) < 0)
		return 2;
	if (!(dev = open_drive(&o)))
		return 2;
	if (!strcmp(sub, "create") && o.nranges) {
		ret = ranges_in_memory(dev, &o);
		if (!(ret = report("create range set",
				   ret ? ret : csd_dev__mrs_create(dev, o.ranges, o.nranges, &rsid))))
			printf(o.json ? "{\"rsid\": %u}\n" : "%u\n", rsid);
	} else if (!strcmp(sub, "delete") && o.rsid > 0) {
		ret = report("delete range set", csd_dev__mrs_delete(dev, (uint16_t)o.rsid));
		if (!ret && o.json)
			printf("{\"rsid\": %" PRId64 ", \"deleted\": true}\n", o.rsid);
	} else if (!strcmp(sub, "list")) {
		unsigned n = 0;

		ret = report("range set list", csd_dev__get_log(dev, CSD_LOG_RANGE_SET_LIST, 0, 0,
								sets, sizeof(sets)));
		for (int i = 0; !ret && i < 64 && sets[i].rsid; i++, n++)
			printf(o.json ? "%s{\"rsid\": %u, \"ranges\": %u, \"bytes\": %" PRIu64 "}" :
					"%s%u: %u ranges, %" PRIu64 " bytes\n",
			       o.json ? (n ? ", " : "[") : "", sets[i].rsid, sets[i].nranges,
			       sets[i].bytes);
		if (!ret && o.json)
			printf("%s]\n", n ? "" : "[");
	} else {
		fprintf(stderr, "%s", usage);
		ret = 2;
	}
	csd_dev__disconnect(dev);
	return ret;
}

/*
 * A memory read, write or copy must fit the host's SLM: said before anything moves, with the
 * size there is (the drive itself would only say Data SGL Length Invalid or LBA Out of Range).
 */
static int slm_fits(struct csd_dev *dev, const struct drive_opts *o, const char *sub)
{
	struct csd_ns_info ns;
	uint64_t at = !strcmp(sub, "copy") ? o->dst : o->offset, len;
	struct stat st;

	if (!strcmp(sub, "read"))
		len = o->len;
	else if (!strcmp(sub, "write"))
		len = o->in && !stat(o->in, &st) ? (uint64_t)st.st_size : 0;
	else if (!strcmp(sub, "copy") && o->nranges == 1)
		len = o->ranges[0].len;
	else
		return 0;	/* NVM blocks: the drive's namespace size decides; usage otherwise */
	if (csd_dev__find_ns(dev, CSD_CSI_SLM, &ns) || (at <= ns.size && len <= ns.size - at))
		return 0;
	fprintf(stderr, "csd: the drive's memory (SLM) is %" PRIu64 " bytes (%.0f MiB): %" PRIu64
		" bytes at offset %" PRIu64 " do not fit; nothing moved (csd-target --slm-size "
		"sets it)\n", ns.size, (double)ns.size / 1048576.0, len, at);
	return 1;
}

/* NVM blocks into SLM: in commands of at most 256 MiB, the drive's limit for one copy */
static int mem_copy_blocks(struct csd_dev *dev, const struct drive_opts *o, uint64_t *bytes)
{
	struct csd_ns_info ns;
	uint64_t per, blocks = o->blocks;
	int ret = csd_dev__find_ns(dev, CSD_CSI_NVM, &ns);

	if (!blocks) {
		fprintf(stderr, "csd: mem copy --slba needs --blocks N\n");
		return -EINVAL;
	}
	if (ret)
		return ret;
	per = (256ull << 20) / ns.lba_size;
	for (uint64_t done = 0; done < blocks && !ret; done += per) {
		uint64_t k = blocks - done < per ? blocks - done : per;

		ret = csd_dev__mem_copy_from_nvm(dev, o->dst + done * ns.lba_size, o->slba + done,
						 (uint32_t)k);
	}
	*bytes = blocks * ns.lba_size;
	return ret;
}

int cmd_mem(int argc, char **argv)
{
	const char *usage = "usage: csd mem read --offset N --length N [-O FILE]\n"
			    "       csd mem write --offset N -i FILE\n"
			    "       csd mem copy --dst N (--slba LBA --blocks N | --range OFF:LEN)\n"
			    "  [--json]: what moved, as an object\n";
	const char *sub = argc > 1 ? argv[1] : "";
	struct drive_opts o;
	struct csd_dev *dev;
	uint8_t *buf = NULL;
	uint64_t copied = 0;
	size_t len = 0;
	int ret;

	if (!strcmp(sub, "-h")) {
		printf("%s", usage);
		return 0;
	}
	if (parse(argc - 1, argv + 1, &o, usage) < 0)
		return 2;
	if (!(dev = open_drive(&o)))
		return 2;
	if ((ret = slm_fits(dev, &o, sub)))
		;	/* said why */
	else if (o.json && !strcmp(sub, "read") && !o.out) {
		fprintf(stderr, "csd: mem read --json needs -O FILE: without it the data goes to "
			"stdout\n");
		ret = 2;
	} else if (!strcmp(sub, "read") && o.have_offset && o.len) {
		FILE *out = o.out ? fopen(o.out, "wb") : stdout;

		buf = malloc(o.len);
		ret = !out ? report(o.out, -errno) :
		      report("memory read", csd_dev__mem_read(dev, o.offset, buf, (uint32_t)o.len));
		if (!ret && fwrite(buf, 1, o.len, out) != o.len)
			ret = report("output", -errno);
		if (out && out != stdout)
			fclose(out);
	} else if (!strcmp(sub, "write") && o.have_offset && o.in) {
		if ((ret = csd_read_file(o.in, &buf, &len)) || len > UINT32_MAX || !len) {
			ret = report(o.in, ret ? ret : -EINVAL);
		} else if (len % 4 || o.offset % 4) {
			/* the drive moves memory in dwords (Memory Write's NUMD) */
			fprintf(stderr, "csd: memory writes are whole dwords: %s is %zu bytes and the "
				"offset %" PRIu64 "; both must be multiples of 4 (pad the file)\n",
				o.in, len, o.offset);
			ret = 1;
		} else
			ret = report("memory write", csd_dev__mem_write(dev, o.offset, buf, (uint32_t)len));
	} else if (!strcmp(sub, "copy") && (o.have_slba || o.nranges == 1)) {
		ret = report("memory copy", o.have_slba ? mem_copy_blocks(dev, &o, &copied)
			     : csd_dev__mem_copy(dev, o.dst, o.ranges[0].sb, o.ranges[0].len));
	} else {
		fprintf(stderr, "%s", usage);
		ret = 2;
	}
	if (!ret && o.json)
		printf("{\"%s\": {\"offset\": %" PRIu64 ", \"bytes\": %" PRIu64 "}}\n", sub,
		       !strcmp(sub, "copy") ? o.dst : o.offset,
		       !strcmp(sub, "read") ? o.len : !strcmp(sub, "write") ? (uint64_t)len :
		       o.have_slba ? copied : o.ranges[0].len);
	free(buf);
	csd_dev__disconnect(dev);
	return ret;
}

int cmd_log(int argc, char **argv)
{
	const char *usage =
		"usage: csd log --lid N [--lsp N] [--csi N] [--length BYTES] [--raw] [--json]\n"
		"  Error Information (01h), SMART / Health (02h) and csdlab's C0h (counters),\n"
		"  C1h (reasons) and C2h (link) decoded (--raw: hex); others in hex, --length needed\n";
	struct drive_opts o;
	struct csd_dev *dev;
	uint8_t *buf;
	size_t need = 0;	/* a page csd decodes: its size */
	bool decode;
	int ret;

	if (parse(argc, argv, &o, usage) < 0)
		return 2;
	switch (o.lid) {
	case NVME_LOG_LID_SMART: need = sizeof(struct nvme_smart_log); break;
	case NVME_LOG_LID_ERROR: need = 64 * sizeof(struct nvme_error_log_page); break;	/* the drive keeps 64 */
	case CSD_LOG_VENDOR_STATS: need = sizeof(struct csd_vendor_stats); break;
	case CSD_LOG_VENDOR_REASONS: need = 8 * 256; break;
	case CSD_LOG_VENDOR_LINK: need = sizeof(struct csd_tcp_link_log); break;
	}
	decode = !o.raw && need;
	if (!o.len)
		o.len = need;
	if (!o.len || o.len % 4 || o.len > (1u << 20)) {
		fprintf(stderr, "csd: log --lid 0x%02x needs --length, a multiple of 4 up to 1M\n",
			o.lid);
		return 2;
	}
	if (decode && o.lid != NVME_LOG_LID_ERROR && o.len < need) {
		fprintf(stderr, "csd: log page 0x%02x is %zu bytes: --length %" PRIu64 " is too short "
			"to decode (--raw for the bytes)\n", o.lid, need, o.len);
		return 2;
	}
	if (!(dev = open_drive(&o)))
		return 2;
	buf = calloc(1, o.len);
	ret = buf ? report("get log page", csd_dev__get_log(dev, o.lid, o.lsp, o.csi, buf,
							      (uint32_t)o.len))
		  : report("get log page", -ENOMEM);
	if (!ret && decode && o.lid == NVME_LOG_LID_SMART)
		print_smart_log((const struct nvme_smart_log *)buf, o.json);
	else if (!ret && decode && o.lid == NVME_LOG_LID_ERROR)
		print_error_log((const struct nvme_error_log_page *)buf,
				(unsigned)(o.len / sizeof(struct nvme_error_log_page)), o.json);
	else if (!ret && decode && o.lid == CSD_LOG_VENDOR_STATS)
		print_vendor_stats((const struct csd_vendor_stats *)buf, o.json);
	else if (!ret && decode && o.lid == CSD_LOG_VENDOR_REASONS)
		print_reasons((const char (*)[256])buf, o.json);
	else if (!ret && decode)
		print_link_log((const struct csd_tcp_link_log *)buf, o.json);
	else if (!ret)
		print_hex_log(buf, o.len, o.json);
	free(buf);
	csd_dev__disconnect(dev);
	return ret;
}

int cmd_stats(int argc, char **argv)
{
	struct csd_vendor_stats st;
	struct csd_tcp_traffic link;
	struct csd_tcp_link_log tl;
	bool have_target = false;
	struct drive_opts o;
	struct csd_dev *dev;
	int ret;

	if (parse(argc, argv, &o, "usage: csd stats [--json]\n  the drive's counters and this host's link traffic\n") < 0 ||
	    !(dev = open_drive(&o)))
		return 2;
	ret = report("statistics", csd_dev__stats(dev, &st, &link));
	if (!ret && csd_dev__target_link(dev, &tl) == 0) {
		struct csd_tcp_traffic after;

		/*
		 * The target counts its side while it answers the link log: the request is in
		 * its figures, the answer not yet. So are they here: what this host had sent
		 * once the request was out, what it had received before the answer came.
		 */
		if (!csd_dev__stats(dev, NULL, &after))
			link.bytes_out = after.bytes_out;
		have_target = true;
	}
	if (!ret && o.json) {
		printf("{\"drive\": {\"admin_cmds\": %" PRIu64 ", \"io_cmds\": %" PRIu64
		       ", \"nvm_bytes_read\": %" PRIu64 ", \"nvm_bytes_written\": %" PRIu64
		       ", \"internal_bytes_moved\": %" PRIu64 ", \"program_executions\": %" PRIu64
		       ", \"program_insns\": %" PRIu64 ", \"program_exec_ns\": %" PRIu64
		       "}, \"link\": {\"bytes_out\": %" PRIu64 ", \"bytes_in\": %" PRIu64 "}",
		       st.admin_cmds, st.io_cmds, st.nvm_bytes_read, st.nvm_bytes_written,
		       st.internal_bytes_moved, st.program_executions, st.program_insns,
		       st.program_exec_ns, link.bytes_out, link.bytes_in);
		if (have_target)
			printf(", \"target_link\": {\"bytes_in\": %" PRIu64 ", \"bytes_out\": %"
			       PRIu64 ", \"association_bytes_in\": %" PRIu64
			       ", \"association_bytes_out\": %" PRIu64 "}", tl.target.bytes_in,
			       tl.target.bytes_out, tl.association.bytes_in, tl.association.bytes_out);
		printf("}\n");
	} else if (!ret) {
		printf("drive: %" PRIu64 " admin and %" PRIu64 " I/O commands\n", st.admin_cmds,
		       st.io_cmds);
		printf("  NVM: %" PRIu64 " bytes read, %" PRIu64 " written; %" PRIu64
		       " bytes moved inside the drive\n", st.nvm_bytes_read, st.nvm_bytes_written,
		       st.internal_bytes_moved);
		printf("  programs: %" PRIu64 " runs, %" PRIu64 " instructions, %.3f s, %" PRIu64
		       " faults\n", st.program_executions, st.program_insns,
		       (double)st.program_exec_ns / 1e9, st.program_faults);
		printf("link, as this host counts it: %" PRIu64 " bytes sent, %" PRIu64
		       " received (this stats command included)\n", link.bytes_out, link.bytes_in);
		if (have_target)
			printf("link, as the target counts it: this association %" PRIu64
			       " bytes in, %" PRIu64 " out; all connections %" PRIu64 " in, %"
			       PRIu64 " out\n", tl.association.bytes_in, tl.association.bytes_out,
			       tl.target.bytes_in, tl.target.bytes_out);
	}
	csd_dev__disconnect(dev);
	return ret;
}

int cmd_flush(int argc, char **argv)
{
	struct drive_opts o;
	struct csd_dev *dev;
	int ret;

	if (parse(argc, argv, &o, "usage: csd flush\n  make written data durable on the drive\n") < 0 ||
	    !(dev = open_drive(&o)))
		return 2;
	ret = report("flush", csd_dev__flush(dev));
	if (!ret && o.json)
		printf("{\"flushed\": true}\n");
	csd_dev__disconnect(dev);
	return ret;
}

int cmd_id_ns(int argc, char **argv)
{
	struct csd_ns_info ns[8];
	struct drive_opts o;
	struct csd_dev *dev;
	size_t n;
	int ret;

	if (parse(argc, argv, &o, "usage: csd id-ns -N NSID [--json]\n  one namespace: its command set and size\n") < 0)
		return 2;
	if (o.nsid < 1) {
		fprintf(stderr, "csd: id-ns needs -N NSID\n");
		return 2;
	}
	if (!(dev = open_drive(&o)))
		return 2;
	ret = report("identify namespaces", csd_dev__list_ns(dev, ns, 8, &n));
	for (size_t i = 0; !ret && i <= n; i++) {
		if (i == n) {
			fprintf(stderr, "csd: namespace %" PRId64 " is not active on this controller\n",
				o.nsid);
			ret = 1;
		} else if (ns[i].nsid == (uint32_t)o.nsid) {
			if (o.json)
				printf("{\"nsid\": %u, \"csi\": %u, \"set\": \"%s\", \"bytes\": %" PRIu64
				       ", \"lba_size\": %u}\n", ns[i].nsid, ns[i].csi,
				       csi_name(ns[i].csi), ns[i].size, ns[i].lba_size);
			else
				printf("nsid       %u\ncommand set %s (CSI %u)\nbytes      %" PRIu64
				       "\nlba size   %u\n", ns[i].nsid, csi_name(ns[i].csi), ns[i].csi,
				       ns[i].size, ns[i].lba_size);
			break;
		}
	}
	csd_dev__disconnect(dev);
	return ret;
}
