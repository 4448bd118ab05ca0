/* SPDX-License-Identifier: MIT */
/*
 * csd-spdk-tgt: SPDK's nvmf_tgt with csdlab drives in it. Every option is SPDK's (see
 * --help); drives come from the csd_drive_create RPC or a JSON config (--json), listeners
 * from nvmf_subsystem_add_listener. Ordinary SPDK subsystems (bdevs) work beside them.
 *
 *   csd-spdk-tgt --no-huge -s 1024 --json spdk/csd-spdk-tgt.json
 */
#include <stdio.h>
#include <stdlib.h>

#include "spdk/event.h"

#include "csd_spdk.h"

static void usage(void)
{
	printf(" csdlab drives: the csd_drive_create RPC, or a \"csd\" section in --json;\n"
	       " see docs/spdk.md and spdk/csd-spdk-tgt.json\n");
}

static int parse_arg(int ch, char *arg)
{
	(void)ch;
	(void)arg;
	return 0;
}

static void started(void *arg)
{
	(void)arg;
}

int main(int argc, char **argv)
{
	struct spdk_app_opts opts = {};
	int rc;

	spdk_app_opts_init(&opts, sizeof(opts));
	opts.name = "csd-spdk-tgt";
	rc = spdk_app_parse_args(argc, argv, &opts, "", NULL, parse_arg, usage);
	if (rc != SPDK_APP_PARSE_ARGS_SUCCESS)
		return rc == SPDK_APP_PARSE_ARGS_HELP ? 0 : 1;
	/* blocks until the application stops; the NVMe-oF target has let every controller go */
	rc = spdk_app_start(&opts, started, NULL);
	csd_spdk_drives_destroy();
	spdk_app_fini();
	return rc;
}
