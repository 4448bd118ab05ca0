/* SPDX-License-Identifier: MIT */
/*
 * Log pages as a person reads them (csd log --lid 1 or 2): the Error Information log and the
 * SMART / Health Information log, in text or JSON, with nvme-cli's field names where it has
 * them; any other page as a hex dump (or a JSON hex string).
 */
#include <inttypes.h>
#include <nvme/types.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

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
