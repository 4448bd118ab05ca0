/* SPDX-License-Identifier: MIT */
/*
 * An LD_PRELOAD shim that makes a process's writes fail on demand, to test what csd-target
 * answers when its backing file's disk fails, without a failing disk:
 *
 *   CSD_FAULT_CTL=FILE   while FILE exists, pwrite() fails with the errno written in FILE
 *                        ("EIO" or "ENOSPC"; EIO when empty), and so does fdatasync() when
 *                        FILE's text also says "sync"; if the text says "slow", nothing
 *                        fails but fdatasync() takes 1.5 s (a disk that is slow to flush).
 *
 * Only pwrite and fdatasync are touched: csd-target writes its namespace with them and its
 * log with write(), which keeps working, so the target can still report what happened.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* RTLD_NEXT */
#endif
/* both pwrite and pwrite64 are defined here: the build's 64-bit file offsets would alias them */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The errno to fail with now, or 0; `sync`: whether fdatasync fails too (-1: is slow). */
static int fault_now(int *sync)
{
	const char *ctl = getenv("CSD_FAULT_CTL");
	char text[64] = "";
	int fd, saved = errno;
	ssize_t n;

	*sync = 0;
	if (!ctl || (fd = open(ctl, O_RDONLY | O_CLOEXEC)) < 0) {
		errno = saved;
		return 0;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	*sync = strstr(text, "sync") != NULL;
	errno = saved;
	if (strstr(text, "slow")) {
		*sync = -1;
		return 0;
	}
	return strstr(text, "ENOSPC") ? ENOSPC : EIO;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	int sync, err = fault_now(&sync);

	if (err) {
		errno = err;
		return -1;
	}
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	return real(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

int fdatasync(int fd)
{
	static int (*real)(int);
	int sync, err = fault_now(&sync);

	if (err && sync) {
		errno = err;
		return -1;
	}
	if (sync < 0)
		usleep(1500000);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}
