/* SPDX-License-Identifier: MIT */
/*
 * Maps: array and hash, with the semantics of Linux's BPF_MAP_TYPE_ARRAY and _HASH, and the
 * global data sections, which are one-value arrays. Every map's values live in one
 * preallocated block, so that the interpreter's memory check knows them as one region and a
 * value pointer a program keeps can never point at freed memory.
 *
 * The hash map is open addressing over twice as many slots as entries; a slot holds an entry
 * index + 1 (0 empty, SLOT_DELETED a tombstone). A mutex serialises updates and lookups of one
 * hash map: programs of several engine workers may share it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ebpf_internal.h"

#define SLOT_DELETED UINT32_MAX

/*
 * A map's values, zeroed, below 2 GiB where the system has room (MAP_32BIT): there the JIT
 * addresses them and checks an access with 32-bit immediates (jit_x86_64.c, verified_guard),
 * where it needs a 10-byte constant and an add otherwise. Elsewhere when there is no room
 * (or CSD_EBPF_MAPS_ANYWHERE is set: the tests run the JIT's code for that case so).
 */
static uint8_t *values_alloc(size_t bytes, size_t *mapped)
{
#if defined(__x86_64__) && defined(MAP_32BIT)
	size_t len = (bytes + 4095) & ~(size_t)4095;
	void *p = getenv("CSD_EBPF_MAPS_ANYWHERE") ? MAP_FAILED :
		  mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
		       -1, 0);

	if (p != MAP_FAILED) {
		*mapped = len;
		return p;
	}
#endif
	*mapped = 0;
	return calloc(1, bytes);
}

int ebpf_map_init(struct ebpf_map *map, const char *name, enum ebpf_map_kind kind,
		  uint32_t key_size, uint32_t value_size, uint32_t max_entries)
{
	memset(map, 0, sizeof(*map));
	snprintf(map->name, sizeof(map->name), "%s", name);
	map->kind = kind;
	map->key_size = key_size;
	map->value_size = value_size;
	map->max_entries = max_entries;
	if (!value_size || !max_entries || (uint64_t)value_size * max_entries > (1u << 30))
		return -EINVAL;
	if (kind == EBPF_MAP_KIND_ARRAY && key_size != 4)
		return -EINVAL;
	if (kind == EBPF_MAP_KIND_HASH && (!key_size || key_size > 512))
		return -EINVAL;
	map->values = values_alloc((size_t)max_entries * value_size, &map->values_mapped);
	if (!map->values)
		return -ENOMEM;
	pthread_mutex_init(&map->lock, NULL);
	if (kind != EBPF_MAP_KIND_HASH)
		return 0;

	map->nslots = 2;
	while (map->nslots < 2 * (uint64_t)max_entries)
		map->nslots <<= 1;
	map->keys = calloc(max_entries, key_size);
	map->slots = calloc(map->nslots, sizeof(*map->slots));
	map->free_list = malloc(max_entries * sizeof(*map->free_list));
	if (!map->keys || !map->slots || !map->free_list) {
		ebpf_map_destroy(map);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < max_entries; i++)
		map->free_list[i] = max_entries - 1 - i;
	map->nfree = max_entries;
	return 0;
}

void ebpf_map_destroy(struct ebpf_map *map)
{
	if (map->values_mapped)
		munmap(map->values, map->values_mapped);
	else
		free(map->values);
	free(map->keys);
	free(map->slots);
	free(map->free_list);
	if (map->values)
		pthread_mutex_destroy(&map->lock);
	memset(map, 0, sizeof(*map));
}

static uint32_t hash_key(const void *key, uint32_t size)
{
	const uint8_t *p = key;
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (uint32_t i = 0; i < size; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* The slot holding `key`, or the first free slot on its probe path (*found = false). */
static uint32_t hash_probe(const struct ebpf_map *map, const void *key, bool *found)
{
	uint32_t mask = map->nslots - 1, i = hash_key(key, map->key_size) & mask;
	uint32_t first_free = UINT32_MAX;

	for (uint32_t n = 0; n < map->nslots; n++, i = (i + 1) & mask) {
		uint32_t s = map->slots[i];

		if (s == 0) {
			*found = false;
			return first_free != UINT32_MAX ? first_free : i;
		}
		if (s == SLOT_DELETED) {
			if (first_free == UINT32_MAX)
				first_free = i;
			continue;
		}
		if (!memcmp(map->keys + (size_t)(s - 1) * map->key_size, key, map->key_size)) {
			*found = true;
			return i;
		}
	}
	*found = false;
	return first_free;
}

void *ebpf_map_lookup(struct ebpf_map *map, const void *key)
{
	uint32_t idx, slot;
	bool found;

	switch (map->kind) {
	case EBPF_MAP_KIND_DATA:
		return *(const uint32_t *)key == 0 ? map->values : NULL;
	case EBPF_MAP_KIND_ARRAY:
		memcpy(&idx, key, 4);
		return idx < map->max_entries ? map->values + (size_t)idx * map->value_size : NULL;
	case EBPF_MAP_KIND_HASH:
		break;
	}
	pthread_mutex_lock(&map->lock);
	slot = hash_probe(map, key, &found);
	idx = found ? map->slots[slot] - 1 : UINT32_MAX;
	pthread_mutex_unlock(&map->lock);
	return found ? map->values + (size_t)idx * map->value_size : NULL;
}

int ebpf_map_update(struct ebpf_map *map, const void *key, const void *value, uint64_t flags)
{
	uint32_t idx, slot;
	bool found;
	int err = 0;

	if (flags > BPF_EXIST)
		return -EINVAL;
	if (map->kind != EBPF_MAP_KIND_HASH) {
		void *dst = ebpf_map_lookup(map, key);

		if (!dst)
			return -E2BIG;
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		memmove(dst, value, map->value_size);
		return 0;
	}
	pthread_mutex_lock(&map->lock);
	slot = hash_probe(map, key, &found);
	if (found) {
		if (flags == BPF_NOEXIST) {
			err = -EEXIST;
		} else {
			idx = map->slots[slot] - 1;
			memmove(map->values + (size_t)idx * map->value_size, value, map->value_size);
		}
	} else if (flags == BPF_EXIST) {
		err = -ENOENT;
	} else if (!map->nfree || slot == UINT32_MAX) {
		err = -E2BIG;
	} else {
		idx = map->free_list[--map->nfree];
		memcpy(map->keys + (size_t)idx * map->key_size, key, map->key_size);
		memmove(map->values + (size_t)idx * map->value_size, value, map->value_size);
		map->slots[slot] = idx + 1;
	}
	pthread_mutex_unlock(&map->lock);
	return err;
}

int ebpf_map_delete(struct ebpf_map *map, const void *key)
{
	uint32_t slot;
	bool found;

	if (map->kind != EBPF_MAP_KIND_HASH)
		return -EINVAL;
	pthread_mutex_lock(&map->lock);
	slot = hash_probe(map, key, &found);
	if (found) {
		map->free_list[map->nfree++] = map->slots[slot] - 1;
		map->slots[slot] = SLOT_DELETED;
	}
	pthread_mutex_unlock(&map->lock);
	return found ? 0 : -ENOENT;
}

size_t csd_ebpf_prog__map_cnt(const struct csd_ebpf_prog *prog)
{
	return prog->map_cnt;
}

const char *csd_ebpf_prog__map_name(const struct csd_ebpf_prog *prog, size_t idx)
{
	return idx < prog->map_cnt ? prog->maps[idx].name : NULL;
}

int csd_ebpf_prog__map_find(const struct csd_ebpf_prog *prog, const char *name)
{
	for (size_t i = 0; i < prog->map_cnt; i++)
		if (!strcmp(prog->maps[i].name, name))
			return (int)i;
	return -ENOENT;
}

int csd_ebpf_prog__map_lookup(struct csd_ebpf_prog *prog, size_t idx, const void *key,
			      void *value, size_t value_size)
{
	struct ebpf_map *map;
	const void *v;

	if (idx >= prog->map_cnt)
		return -EINVAL;
	map = &prog->maps[idx];
	if (value_size != map->value_size)
		return -EINVAL;
	v = ebpf_map_lookup(map, key);
	if (!v)
		return -ENOENT;
	memcpy(value, v, value_size);
	return 0;
}
