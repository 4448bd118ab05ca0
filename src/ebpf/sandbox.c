/* SPDX-License-Identifier: MIT */
/*
 * Sandboxes for program input, as WebAssembly runtimes lay out a 32-bit linear memory: the
 * memory starts at an address aligned to 4 GiB, the rest of those 4 GiB and 64 KiB on either
 * side are reserved and inaccessible. JIT code for a verified program over such memory
 * (sandboxed code, jit_x86_64.c) forms every input address as base + (pointer mod 2^32) + off:
 * whatever a wrong proof lets a pointer hold, the access lands in this memory or in the
 * reserved pages, where it faults, and the fault ends the run (jit_run.c). No check, one
 * instruction per access.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ebpf_internal.h"

#define SPAN		(UINT64_C(1) << 32)
#define GUARD		(UINT64_C(1) << 16)	/* beyond any 16-bit instruction offset */
#define MAX_SANDBOXES	512

/*
 * The live sandboxes. Allocation and free take the lock; a run's lookup does not (every run
 * of a verified program asks, on every engine thread): a slot's size is stored before its
 * base is published (release) and its base cleared before its size, so a lookup that sees
 * a base sees that sandbox's size or 0. Lookups scan the slots below `slots_used` only.
 */
static struct {
	uint64_t base, size;
} live[MAX_SANDBOXES];
static unsigned slots_used;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t page_round(uint64_t n)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	return (n + page - 1) / page * page;
}

void *csd_ebpf_sandbox_alloc(size_t size)
{
	uint64_t want = page_round(size ? size : 1), res, base;
	void *p;
	int slot = -1;

	if (want > SPAN - GUARD) {
		errno = EFBIG;
		return NULL;
	}
	/* reserve twice the span, keep the aligned span and its guards, give back the rest */
	p = mmap(NULL, 2 * SPAN + 2 * GUARD, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	res = (uint64_t)(uintptr_t)p;
	base = (res + GUARD + SPAN - 1) & ~(SPAN - 1);
	if (base - GUARD > res)
		munmap(p, base - GUARD - res);
	if (res + 2 * SPAN + 2 * GUARD > base + SPAN + GUARD)
		munmap((void *)(uintptr_t)(base + SPAN + GUARD),
		       res + 2 * SPAN + 2 * GUARD - (base + SPAN + GUARD));
	if (mprotect((void *)(uintptr_t)base, want, PROT_READ | PROT_WRITE)) {
		munmap((void *)(uintptr_t)(base - GUARD), SPAN + 2 * GUARD);
		return NULL;
	}
	pthread_mutex_lock(&live_lock);
	for (int i = 0; i < MAX_SANDBOXES && slot < 0; i++)
		if (!live[i].base)
			slot = i;
	if (slot >= 0) {
		__atomic_store_n(&live[slot].size, want, __ATOMIC_RELAXED);
		__atomic_store_n(&live[slot].base, base, __ATOMIC_RELEASE);
		if ((unsigned)slot >= slots_used)
			__atomic_store_n(&slots_used, (unsigned)slot + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&live_lock);
	if (slot < 0) {
		munmap((void *)(uintptr_t)(base - GUARD), SPAN + 2 * GUARD);
		errno = ENOMEM;
		return NULL;
	}
	return (void *)(uintptr_t)base;
}

void csd_ebpf_sandbox_free(void *mem)
{
	uint64_t base = (uint64_t)(uintptr_t)mem;

	if (!mem)
		return;
	pthread_mutex_lock(&live_lock);
	for (int i = 0; i < MAX_SANDBOXES; i++)
		if (live[i].base == base) {
			__atomic_store_n(&live[i].base, 0, __ATOMIC_RELEASE);
			__atomic_store_n(&live[i].size, 0, __ATOMIC_RELAXED);
		}
	pthread_mutex_unlock(&live_lock);
	munmap((void *)(uintptr_t)(base - GUARD), SPAN + 2 * GUARD);
}

bool ebpf_sandbox_of(const void *mem, size_t len, uint64_t *base)
{
	uint64_t at = (uint64_t)(uintptr_t)mem, b = at & ~(SPAN - 1);
	unsigned n = __atomic_load_n(&slots_used, __ATOMIC_ACQUIRE);

	if (!mem)
		return false;
	*base = b;
	for (unsigned i = 0; i < n; i++)
		if (__atomic_load_n(&live[i].base, __ATOMIC_ACQUIRE) == b) {
			uint64_t size = __atomic_load_n(&live[i].size, __ATOMIC_RELAXED);

			return len <= size && at - b <= size - len;
		}
	return false;
}
