/* SPDX-License-Identifier: MIT */
/*
 * pread() that fails on demand inside the NVMe/TCP tests' process: a disk that fails in the
 * middle of a read, where the drive reads its backing file (nvm.c). It takes the place of
 * libc's for the whole test process; until a test sets failing_pread_from, it is libc's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* RTLD_NEXT */
#endif
/* both pread and pread64 are defined here: the build's 64-bit file offsets would alias them */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "failing_pread.h"

volatile uint64_t failing_pread_from = UINT64_MAX;

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);

	if (off >= 0 && (uint64_t)off >= failing_pread_from) {
		errno = EIO;
		return -1;
	}
	if (!real)
		real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
	return real(fd, buf, len, off);
}

ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off);
}
