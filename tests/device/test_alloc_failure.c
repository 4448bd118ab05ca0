/* SPDX-License-Identifier: MIT */
/*
 * Creating a drive when memory runs out at any one allocation: it fails cleanly or succeeds,
 * and nothing runs on after a failure (issue 17: csd_engine_start() returned -ENOMEM with its
 * worker threads running, and the subsystem was then freed under them). The drive's mallocs
 * and callocs are wrapped (-Wl,--wrap=malloc,--wrap=calloc) so that the Nth one can be made to fail.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <cmocka.h>

#include "csd/device.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
static long fail_at, calls;	/* the fail_at-th allocation after arming fails (0: none) */

void *__wrap_malloc(size_t size)
{
	if (fail_at && ++calls == fail_at)
		return NULL;
	return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	if (fail_at && ++calls == fail_at)
		return NULL;
	return __real_calloc(n, size);
}

static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_every_allocation_may_fail(void **state)
{
	char path[] = "/tmp/csd-alloc-XXXXXX", err[256];
	int fd = mkstemp(path);
	long failures = 0;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	for (long n = 1; n < 400; n++) {
		struct csd_dev_config cfg;
		struct csd_subsys *s = NULL;
		int ret;

		csd_dev_config_defaults(&cfg);
		cfg.backing_path = path;
		cfg.nvm_bytes = 1 << 20;
		cfg.slm_bytes = 1 << 20;
		cfg.engine_threads = 4;
		calls = 0;
		fail_at = n;
		ret = csd_subsys_create(&cfg, &s, err, sizeof(err));
		fail_at = 0;
		if (ret) {
			assert_int_equal(ret, -ENOMEM);
			assert_null(s);
			failures++;
			/* nothing of a drive that failed to start may run on */
			if (threads() != 1)
				fail_msg("allocation %ld failed: %d threads left running", n,
					 threads() - 1);
			continue;
		}
		csd_subsys_destroy(s);
		if (calls < n)
			break;		/* past the last allocation: every one has been tried */
	}
	print_message("# %ld allocation failures, each refused cleanly\n", failures);
	assert_true(failures > 4);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_allocation_may_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
