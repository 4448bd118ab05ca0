/* SPDX-License-Identifier: MIT */
/*
 * Reads of the NVM namespace from a shared, read-only mapping of its backing file: a 4 KiB
 * read becomes a memcpy from the page cache instead of a pread(), which cost about 3 us here
 * (58% of csd-target's time at 4 KiB random reads, QD32; docs/results.md). Writes still go
 * through pwrite(), so their errors (EIO, ENOSPC) come back as errno; the mapping sees them
 * at once (one page cache). Writes through a shared mapping of a file were slower here: the
 * kernel write-protects a page each time writeback cleans it, and the next write faults.
 *
 * A namespace in memory is anonymous memory in transparent huge pages, read and written with
 * memcpy only (a memfd's 4 KiB pages, written with pwrite() and then mapped, faulted once per
 * page and ran 4 KiB writes at QD32 at half the page cache's rate).
 *
 * A page the file system cannot deliver (a disk error, the file shortened behind the drive's
 * back) raises SIGBUS. The copy is guarded: the handler jumps back to it and the read falls
 * back to pread(), which reports the error. SIGBUS anywhere else goes to the handler that was
 * there before (or the default: the process dies, as it would have).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "device_internal.h"

static struct sigaction previous;
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread sigjmp_buf *volatile guard;

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
	if (guard)
		siglongjmp(*guard, 1);
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, info, uctx);
		return;
	}
	if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
		return;
	}
	/* the default action: die of SIGBUS, as without this handler */
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

/*
 * Ours unless it is already: checked at every mapping, since a program (a test framework)
 * may have put its own handler in since the last one. One that does so while a drive is
 * open turns a failed page back into the death by SIGBUS it would be without the guard.
 */
static bool install_handler(void)
{
	/* SA_NODEFER: the jump out of the handler leaves SIGBUS unblocked for the next one */
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER };
	struct sigaction now;
	bool ok = true;

	sigemptyset(&sa.sa_mask);
	pthread_mutex_lock(&handler_lock);
	if (sigaction(SIGBUS, NULL, &now))
		ok = false;
	else if (!((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_sigbus))
		ok = sigaction(SIGBUS, &sa, &previous) == 0;
	pthread_mutex_unlock(&handler_lock);
	return ok;
}

void csd_nvm_map(struct csd_ns_nvm *n, uint64_t bytes)
{
	void *p;

	n->map = NULL;
	if (getenv("CSD_NVM_NO_MAP"))	/* to measure pread() against the mapping */
		return;
	if (!install_handler())
		return;
	p = mmap(NULL, bytes, PROT_READ, MAP_SHARED, n->fd, 0);
	if (p == MAP_FAILED)
		return;		/* reads use pread() */
	n->map = p;
	n->map_bytes = bytes;
}

/*
 * All of it taken now, as SPDK's Malloc bdev takes its buffer: a first touch of memory costs
 * the hypervisor's fault too (here 3 s per GiB, against 0.1 s for memory touched before), and
 * paid during a write it ran 128 KiB writes at a third of the rate.
 */
int csd_nvm_memory_create(struct csd_ns_nvm *n, uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int err;

	if (p == MAP_FAILED)
		return -errno;
	madvise(p, bytes, MADV_HUGEPAGE);	/* a hint: 4 KiB pages work too */
	if (madvise(p, bytes, MADV_POPULATE_WRITE)) {
		err = errno;
		munmap(p, bytes);
		return -err;
	}
	n->map = p;
	n->map_bytes = bytes;
	return 0;
}

/* Zeroes, and whole pages given back (they read as zeroes again), as a hole punched in a file */
void csd_nvm_memory_zero(struct csd_ns_nvm *n, uint64_t off, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t first = (off + page - 1) & ~(page - 1), last = (off + len) & ~(page - 1);

	if (first >= last) {
		memset(n->map + off, 0, len);
		return;
	}
	memset(n->map + off, 0, first - off);
	if (madvise(n->map + first, last - first, MADV_DONTNEED))
		memset(n->map + first, 0, last - first);
	memset(n->map + last, 0, off + len - last);
}

void csd_nvm_unmap(struct csd_ns_nvm *n)
{
	if (n->map)
		munmap(n->map, n->map_bytes);
	n->map = NULL;
}

bool csd_nvm_map_copy(const struct csd_ns_nvm *n, void *dst, size_t len, uint64_t off)
{
	sigjmp_buf env;

	if (!n->map || off > n->map_bytes || len > n->map_bytes - off)
		return false;
	if (sigsetjmp(env, 0)) {
		guard = NULL;
		return false;
	}
	guard = &env;
	atomic_signal_fence(memory_order_seq_cst);	/* armed before the first byte is read */
	memcpy(dst, n->map + off, len);
	atomic_signal_fence(memory_order_seq_cst);
	guard = NULL;
	return true;
}
