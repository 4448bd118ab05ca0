/* SPDX-License-Identifier: MIT */
/*
 * Helper functions a drive program may call, numbered as in Linux so that programs written
 * against libbpf's <bpf/bpf_helpers.h> work unchanged. Every pointer a program passes in is
 * checked against its memory regions before the helper touches it: a bad pointer is a fault
 * of the run, never a read of the drive's own memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ebpf_internal.h"
#include "util.h"

static struct ebpf_map *map_from_token(struct ebpf_run *run, uint64_t token)
{
	uint64_t idx = token & ~EBPF_MAP_TOKEN_TAG;

	if ((token & EBPF_MAP_TOKEN_TAG) != EBPF_MAP_TOKEN_TAG || idx >= run->prog->map_cnt) {
		ebpf_run_fault(run, CSD_EBPF_FAULT_HELPER, token, 0,
			       "0x%llx is not one of the program's maps",
			       (unsigned long long)token);
		return NULL;
	}
	return &run->prog->maps[idx];
}

static bool arg_readable(struct ebpf_run *run, uint64_t ptr, uint64_t size, const char *what)
{
	if (ebpf_region_check(run, ptr, size, false))
		return true;
	ebpf_run_fault(run, CSD_EBPF_FAULT_HELPER, ptr, (uint32_t)size,
		       "%s: %llu bytes at 0x%llx are outside the program's memory", what,
		       (unsigned long long)size, (unsigned long long)ptr);
	return false;
}

static uint64_t helper_map_lookup_elem(struct ebpf_run *run, uint64_t map_token, uint64_t key,
				       uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct ebpf_map *map = map_from_token(run, map_token);

	(void)r3, (void)r4, (void)r5;
	if (!map || !arg_readable(run, key, map->key_size, "map lookup key"))
		return 0;
	return (uint64_t)(uintptr_t)ebpf_map_lookup(map, (const void *)(uintptr_t)key);
}

static uint64_t helper_map_update_elem(struct ebpf_run *run, uint64_t map_token, uint64_t key,
				       uint64_t value, uint64_t flags, uint64_t r5)
{
	struct ebpf_map *map = map_from_token(run, map_token);

	(void)r5;
	if (!map || !arg_readable(run, key, map->key_size, "map update key") ||
	    !arg_readable(run, value, map->value_size, "map update value"))
		return 0;
	if (map->readonly)
		return (uint64_t)(int64_t)-EPERM;
	return (uint64_t)(int64_t)ebpf_map_update(map, (const void *)(uintptr_t)key,
						  (const void *)(uintptr_t)value, flags);
}

static uint64_t helper_map_delete_elem(struct ebpf_run *run, uint64_t map_token, uint64_t key,
				       uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct ebpf_map *map = map_from_token(run, map_token);

	(void)r3, (void)r4, (void)r5;
	if (!map || !arg_readable(run, key, map->key_size, "map delete key"))
		return 0;
	return (uint64_t)(int64_t)ebpf_map_delete(map, (const void *)(uintptr_t)key);
}

static uint64_t helper_ktime_get_ns(struct ebpf_run *run, uint64_t r1, uint64_t r2, uint64_t r3,
				    uint64_t r4, uint64_t r5)
{
	struct timespec ts;

	(void)run, (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t helper_get_prandom_u32(struct ebpf_run *run, uint64_t r1, uint64_t r2,
				       uint64_t r3, uint64_t r4, uint64_t r5)
{
	static _Thread_local uint64_t state;

	(void)run, (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	if (!state)
		state = helper_ktime_get_ns(run, 0, 0, 0, 0, 0) | 1;
	return (uint32_t)(csd_xorshift64(&state) >> 16);
}

static uint64_t helper_get_smp_processor_id(struct ebpf_run *run, uint64_t r1, uint64_t r2,
					    uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	return run->opts->cpu_id;
}

/* Copy a NUL-terminated string the program points at, checking every byte is its own. */
static bool copy_prog_string(struct ebpf_run *run, uint64_t ptr, char *out, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size; i++) {
		if (!ebpf_region_check(run, ptr + i, 1, false))
			return false;
		out[i] = *(const char *)(uintptr_t)(ptr + i);
		if (!out[i])
			return true;
	}
	out[i] = '\0';
	return true;
}

/*
 * bpf_trace_printk(fmt, fmt_size, a1, a2, a3): the kernel's conversions (%d %i %u %x %X %c %s
 * %p %%, with l/ll), at most three arguments; the line goes into the program's device log.
 * Returns the number of bytes logged, or -EINVAL for a format it does not understand.
 */
static uint64_t helper_trace_printk(struct ebpf_run *run, uint64_t fmt, uint64_t fmt_size,
				    uint64_t a1, uint64_t a2, uint64_t a3)
{
	const uint64_t args[3] = { a1, a2, a3 };
	const char *f = (const char *)(uintptr_t)fmt;
	char line[256];
	size_t out = 0, nargs = 0;

	if (fmt_size == 0 || fmt_size > 1024 ||
	    !arg_readable(run, fmt, fmt_size, "trace_printk format"))
		return fmt_size ? 0 : (uint64_t)(int64_t)-EINVAL;
	if (f[fmt_size - 1] != '\0')
		return (uint64_t)(int64_t)-EINVAL;

	for (size_t i = 0; f[i] && out + 1 < sizeof(line); i++) {
		char spec[8] = "%", buf[128];
		size_t sl = 1;
		int lcount = 0;
		uint64_t v;

		if (f[i] != '%') {
			line[out++] = f[i];
			continue;
		}
		i++;
		if (f[i] == '%') {
			line[out++] = '%';
			continue;
		}
		while (f[i] == 'l' && lcount < 2)
			lcount++, i++;
		if (!strchr("diuxXcsp", f[i]) || !f[i] || nargs == 3)
			return (uint64_t)(int64_t)-EINVAL;
		v = args[nargs++];
		switch (f[i]) {
		case 's':
			if (!copy_prog_string(run, v, buf, sizeof(buf)))
				snprintf(buf, sizeof(buf), "(bad pointer 0x%llx)",
					 (unsigned long long)v);
			break;
		case 'p':
			snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
			break;
		case 'c':
			snprintf(buf, sizeof(buf), "%c", (char)v);
			break;
		default:
			spec[sl++] = 'l';
			spec[sl++] = 'l';
			spec[sl++] = f[i];
			spec[sl] = '\0';
			if (lcount < 2 && (f[i] == 'd' || f[i] == 'i'))
				v = lcount ? v : (uint64_t)(int64_t)(int32_t)v;
			else if (lcount == 0)
				v = (uint32_t)v;
			snprintf(buf, sizeof(buf), spec, (unsigned long long)v);
		}
		for (size_t k = 0; buf[k] && out + 1 < sizeof(line); k++)
			line[out++] = buf[k];
	}
	line[out] = '\0';
	ebpf_log_append(run->prog, line, out);
	return out;
}

static const ebpf_helper_fn helpers[] = {
	[CSD_EBPF_HELPER_MAP_LOOKUP_ELEM] = helper_map_lookup_elem,
	[CSD_EBPF_HELPER_MAP_UPDATE_ELEM] = helper_map_update_elem,
	[CSD_EBPF_HELPER_MAP_DELETE_ELEM] = helper_map_delete_elem,
	[CSD_EBPF_HELPER_KTIME_GET_NS] = helper_ktime_get_ns,
	[CSD_EBPF_HELPER_TRACE_PRINTK] = helper_trace_printk,
	[CSD_EBPF_HELPER_GET_PRANDOM_U32] = helper_get_prandom_u32,
	[CSD_EBPF_HELPER_GET_SMP_PROCESSOR_ID] = helper_get_smp_processor_id,
};

ebpf_helper_fn ebpf_helper_lookup(int64_t id)
{
	if (id < 0 || (uint64_t)id >= sizeof(helpers) / sizeof(helpers[0]))
		return NULL;
	return helpers[id];
}

void ebpf_log_append(struct csd_ebpf_prog *prog, const char *line, size_t len)
{
	if (len && line[len - 1] == '\n')	/* formats usually end with one: we add our own */
		len--;
	if (len + 2 > EBPF_LOG_SIZE)
		len = EBPF_LOG_SIZE - 2;
	pthread_mutex_lock(&prog->log_lock);
	/* drop whole lines from the front until the new one fits */
	while (prog->log_len + len + 1 >= EBPF_LOG_SIZE) {
		char *nl = memchr(prog->log, '\n', prog->log_len);
		size_t cut = nl ? (size_t)(nl - prog->log) + 1 : prog->log_len;

		memmove(prog->log, prog->log + cut, prog->log_len - cut);
		prog->log_len -= cut;
	}
	memcpy(prog->log + prog->log_len, line, len);
	prog->log_len += len;
	prog->log[prog->log_len++] = '\n';
	prog->log[prog->log_len] = '\0';
	pthread_mutex_unlock(&prog->log_lock);
}

size_t csd_ebpf_prog__log_read(struct csd_ebpf_prog *prog, char *buf, size_t size)
{
	size_t n;

	pthread_mutex_lock(&prog->log_lock);
	n = prog->log_len < size ? prog->log_len : (size ? size - 1 : 0);
	memcpy(buf, prog->log, n);
	if (size)
		buf[n] = '\0';
	prog->log_len = 0;
	pthread_mutex_unlock(&prog->log_lock);
	return n;
}
