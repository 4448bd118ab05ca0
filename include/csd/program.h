/* SPDX-License-Identifier: MIT */
/*
 * The one header a csdlab drive program includes.
 *
 * A drive program is restricted C built with `clang -O2 -g -target bpf -c prog.bpf.c`. Its
 * entry point takes the input memory and up to three parameters and returns the result:
 *
 *     #include <csd/program.h>
 *
 *     struct {
 *             __uint(type, BPF_MAP_TYPE_ARRAY);
 *             __uint(max_entries, 256);
 *             __type(key, __u32);
 *             __type(value, __u64);
 *     } counts SEC(".maps");
 *
 *     SEC("csd")
 *     __u64 my_filter(const __u8 *data, __u64 len, __u64 arg0, __u64 arg1)
 *     { ... }
 *
 *     char LICENSE[] SEC("license") = "Dual MIT/GPL";
 *
 * r1 = data, r2 = len; r3 and r4 are the Execute command's two parameters (`csd exec --p1 --p2`,
 * `csd run --p1 --p2`). It brings the types (__u8 ... __u64), the map types and flags
 * (<linux/bpf.h>: BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_ANY, ...) and libbpf's
 * SEC(), __uint(), __type() and helper declarations (<bpf/bpf_helpers.h>).
 *
 * The same file also compiles as ordinary C for the host (gcc or clang, -fPIC -shared
 * -fvisibility=hidden): SEC() then exports the entry point, and an array map is an array of
 * max_entries values, allocated zeroed at its first lookup, that bpf_map_lookup_elem() indexes
 * with the same bounds check. That is how the corpus test gets its reference results and
 * bench/corpus its native baseline from the very loop the drive runs. Only array maps and
 * bpf_map_lookup_elem() exist there.
 */
#ifndef CSD_PROGRAM_H
#define CSD_PROGRAM_H

#include <linux/types.h>
#include <linux/bpf.h>

#ifdef __bpf__

#include <bpf/bpf_helpers.h>

#else /* the host's compiler */

#include <stdint.h>
#include <stdlib.h>

#define SEC(name) __attribute__((visibility("default"), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) __typeof__(val) *name
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* the arrays, freed when the program is unloaded (dlclose) */
static void *csd_native_arrays[64];
static unsigned csd_native_narrays;

__attribute__((destructor, used)) static void csd_native_free_arrays(void)
{
	while (csd_native_narrays)
		free(csd_native_arrays[--csd_native_narrays]);
}

static inline void *csd_native_array_lookup(void **values, size_t value_size, uint32_t entries,
					    int type, const void *key)
{
	uint32_t k = *(const uint32_t *)key;

	if (type != BPF_MAP_TYPE_ARRAY)
		abort();	/* the host build has array maps only */
	if (k >= entries)
		return NULL;
	if (__builtin_expect(!*values, 0)) {
		if (csd_native_narrays == sizeof(csd_native_arrays) / sizeof(csd_native_arrays[0]))
			abort();
		*values = calloc(entries, value_size);
		if (*values)
			csd_native_arrays[csd_native_narrays++] = *values;
	}
	return *values ? (char *)*values + (size_t)k * value_size : NULL;
}

/* the map's value field (a pointer in libbpf's declaration) holds the array */
#define bpf_map_lookup_elem(map, key)                                                          \
	csd_native_array_lookup((void **)&(map)->value, sizeof(*(map)->value),                  \
				sizeof(*(map)->max_entries) / sizeof(int),                     \
				sizeof(*(map)->type) / sizeof(int), (key))

#endif /* __bpf__ */

#endif /* CSD_PROGRAM_H */
