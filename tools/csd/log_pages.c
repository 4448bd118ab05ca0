/* SPDX-License-Identifier: MIT */
/*
 * Log pages as a person reads them (csd log): the Error Information log, the SMART / Health
 * Information log (nvme-cli's field names) and csdlab's vendor logs C0h (counters), C1h (the
 * drive's reasons) and C2h (the link), in text or JSON; any other page as a hex dump (or a
 * JSON hex string).
 */
#include <inttypes.h>
#include <nvme/types.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "csd/csd.h"

/* s (at most max bytes) as a JSON string, quotes included: ", \ and control bytes escaped. */
void print_json_string(const char *s, size_t max)
{
	putchar('"');
	for (const char *c = s; c < s + max && *c; c++)
		printf(*c == '"' || *c == '\\' ? "\\%c" : (unsigned char)*c < 32 ? "\\u%04x" : "%c",
		       *c);
	putchar('"');
}

/* The low 64 bits of a 128-bit little-endian counter (a drive's counters stay below them). */
static uint64_t le128_low(const uint8_t v[16])
{
	uint64_t x = 0;

	for (int i = 7; i >= 0; i--)
		x = x << 8 | v[i];
	return x;
}

void print_smart_log(const struct nvme_smart_log *s, bool json)
{
	const struct {
		const char *name;
		uint64_t value;
	} f[] = {
		{ "critical_warning", s->critical_warning },
		{ "temperature", (uint64_t)(s->temperature[0] | s->temperature[1] << 8) },
		{ "avail_spare", s->avail_spare },
		{ "spare_thresh", s->spare_thresh },
		{ "percent_used", s->percent_used },
		{ "data_units_read", le128_low(s->data_units_read) },
		{ "data_units_written", le128_low(s->data_units_written) },
		{ "host_read_commands", le128_low(s->host_reads) },
		{ "host_write_commands", le128_low(s->host_writes) },
		{ "controller_busy_time", le128_low(s->ctrl_busy_time) },
		{ "power_cycles", le128_low(s->power_cycles) },
		{ "power_on_hours", le128_low(s->power_on_hours) },
		{ "unsafe_shutdowns", le128_low(s->unsafe_shutdowns) },
		{ "media_errors", le128_low(s->media_errors) },
		{ "num_err_log_entries", le128_low(s->num_err_log_entries) },
		{ "warning_temp_time", s->warning_temp_time },
		{ "critical_comp_time", s->critical_comp_time },
	};
	size_t n = sizeof(f) / sizeof(f[0]);

	for (size_t i = 0; i < n; i++) {
		if (json)
			printf("%s\"%s\": %" PRIu64 "%s", i ? " " : "{", f[i].name, f[i].value,
			       i + 1 < n ? "," : "}\n");
		else if (!strcmp(f[i].name, "temperature"))
			printf("%-22s %" PRIu64 " K (%d C)\n", f[i].name, f[i].value,
			       (int)f[i].value - 273);
		else if (!strncmp(f[i].name, "data_units", 10))
			printf("%-22s %" PRIu64 " (%.1f MB)\n", f[i].name, f[i].value,
			       (double)f[i].value * 512000 / 1e6);
		else
			printf("%-22s %" PRIu64 "\n", f[i].name, f[i].value);
	}
}

/* Entries with an error count, newest first as the drive keeps them. */
void print_error_log(const struct nvme_error_log_page *e, unsigned n, bool json)
{
	unsigned shown = 0;

	if (json)
		printf("{\"errors\": [");
	for (unsigned i = 0; i < n; i++) {
		unsigned status = e[i].status_field >> 1;

		if (!e[i].error_count)
			continue;
		if (json)
			printf("%s{\"error_count\": %" PRIu64 ", \"sqid\": %u, \"cmdid\": %u, "
			       "\"status_field\": %u, \"sct\": %u, \"sc\": %u, \"dnr\": %s, "
			       "\"parm_error_location\": %u, \"lba\": %" PRIu64 ", \"nsid\": %u}",
			       shown ? ", " : "", (uint64_t)e[i].error_count, e[i].sqid, e[i].cmdid,
			       status, (status >> 8) & 7, status & 0xff,
			       status & 0x4000 ? "true" : "false", e[i].parm_error_location,
			       (uint64_t)e[i].lba, e[i].nsid);
		else
			printf("error %" PRIu64 ": queue %u, command id %u, status 0x%03x (SCT %u, "
			       "SC 0x%02x%s), at byte %u of the command, LBA %" PRIu64 ", NSID %u\n",
			       (uint64_t)e[i].error_count, e[i].sqid, e[i].cmdid, status & 0x7ff,
			       (status >> 8) & 7, status & 0xff, status & 0x4000 ? ", DNR" : "",
			       e[i].parm_error_location, (uint64_t)e[i].lba, e[i].nsid);
		shown++;
	}
	if (json)
		printf("]}\n");
	else if (!shown)
		printf("no errors logged\n");
}

void print_hex_log(const uint8_t *buf, size_t len, bool json)
{
	if (json) {
		printf("{\"data\": \"");
		for (size_t i = 0; i < len; i++)
			printf("%02x", buf[i]);
		printf("\"}\n");
		return;
	}
	for (size_t i = 0; i < len; i += 16) {
		printf("%06zx:", i);
		for (size_t k = i; k < i + 16 && k < len; k++)
			printf(" %02x", buf[k]);
		printf("\n");
	}
}

/* Vendor log C0h: the drive's counters, every field by name. */
void print_vendor_stats(const struct csd_vendor_stats *st, bool json)
{
	const struct {
		const char *name;
		uint64_t value;
	} f[] = {
		{ "version", st->version }, { "admin_cmds", st->admin_cmds },
		{ "io_cmds", st->io_cmds }, { "nvm_read_cmds", st->nvm_read_cmds },
		{ "nvm_write_cmds", st->nvm_write_cmds }, { "nvm_bytes_read", st->nvm_bytes_read },
		{ "nvm_bytes_written", st->nvm_bytes_written },
		{ "slm_bytes_read", st->slm_bytes_read }, { "slm_bytes_written", st->slm_bytes_written },
		{ "internal_bytes_moved", st->internal_bytes_moved },
		{ "program_loads", st->program_loads }, { "program_executions", st->program_executions },
		{ "program_faults", st->program_faults }, { "program_insns", st->program_insns },
		{ "program_exec_ns", st->program_exec_ns }, { "errors", st->errors },
		{ "stream_parts_lent", st->stream_parts_lent },
	};
	size_t n = sizeof(f) / sizeof(f[0]);

	for (size_t i = 0; i < n; i++) {
		if (json)
			printf("%s\"%s\": %" PRIu64, i ? ", " : "{", f[i].name, f[i].value);
		else
			printf("%-22s %" PRIu64 "\n", f[i].name, f[i].value);
	}
	if (json)
		printf(", \"programs\": [");
	for (unsigned p = 0, shown = 0; p < 16; p++) {
		if (!st->program[p].executions)
			continue;
		if (json)
			printf("%s{\"slot\": %u, \"executions\": %" PRIu64 ", \"insns\": %" PRIu64
			       ", \"exec_ns\": %" PRIu64 ", \"bytes_in\": %" PRIu64 "}", shown ? ", " : "",
			       p, st->program[p].executions, st->program[p].insns,
			       st->program[p].exec_ns, st->program[p].bytes_in);
		else
			printf("program %-2u %" PRIu64 " runs, %" PRIu64 " instructions, %" PRIu64
			       " ns, %" PRIu64 " bytes in\n", p, st->program[p].executions,
			       st->program[p].insns, st->program[p].exec_ns, st->program[p].bytes_in);
		shown++;
	}
	if (json)
		printf("]}\n");
}

/* Vendor log C1h: the last reasons the drive gave (8 texts of 256 bytes), newest last. */
void print_reasons(const char reasons[8][256], bool json)
{
	unsigned shown = 0;

	if (json)
		printf("{\"reasons\": [");
	for (int i = 0; i < 8; i++) {
		if (!reasons[i][0])
			continue;
		if (json) {
			printf("%s", shown ? ", " : "");
			print_json_string(reasons[i], 255);
		} else {
			printf("%.255s\n", reasons[i]);
		}
		shown++;
	}
	if (json)
		printf("]}\n");
	else if (!shown)
		printf("no reasons given\n");
}

/* Vendor log C2h: the link as the target counts it. */
void print_link_log(const struct csd_tcp_link_log *l, bool json)
{
	if (json)
		printf("{\"target\": {\"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64 "}, "
		       "\"association\": {\"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64 "}}\n",
		       l->target.bytes_in, l->target.bytes_out, l->association.bytes_in,
		       l->association.bytes_out);
	else
		printf("this association: %" PRIu64 " bytes in, %" PRIu64 " out\n"
		       "all connections:  %" PRIu64 " bytes in, %" PRIu64 " out\n",
		       l->association.bytes_in, l->association.bytes_out, l->target.bytes_in,
		       l->target.bytes_out);
}
