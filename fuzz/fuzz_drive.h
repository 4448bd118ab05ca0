/* SPDX-License-Identifier: MIT */
/* The small drive the fuzz harnesses run against: 1 MiB of NVM on an unlinked temporary file,
 * 1 MiB of SLM, a 100,000-instruction budget so a looping program ends quickly. */
#ifndef CSD_FUZZ_DRIVE_H
#define CSD_FUZZ_DRIVE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "csd/device.h"

static inline struct csd_subsys *fuzz_drive_create(void)
{
	char path[] = "/tmp/csd-fuzz-XXXXXX", err[128];
	struct csd_dev_config cfg;
	struct csd_subsys *subsys;
	int fd = mkstemp(path);

	if (fd < 0)
		abort();
	close(fd);
	csd_dev_config_defaults(&cfg);
	cfg.backing_path = path;
	cfg.nvm_bytes = 1 << 20;
	cfg.slm_bytes = 1 << 20;
	cfg.exec_budget = 100000;
	if (csd_subsys_create(&cfg, &subsys, err, sizeof(err))) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	unlink(path);
	return subsys;
}

#endif
