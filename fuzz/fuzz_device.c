/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: one command (64 bytes, the queue in the first input byte after them) and its data
 * at a drive. Every command must complete exactly once; Execute completions come from engine
 * threads, so the harness waits for each.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csd/device.h"
#include "fuzz_drive.h"

static struct csd_subsys *subsys;
static struct csd_ctrl *ctrl;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int completions;

static void done(struct csd_req *req)
{
	(void)req;
	pthread_mutex_lock(&lock);
	completions++;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

static void setup(void)
{
	subsys = fuzz_drive_create();
	if (csd_ctrl_create(subsys, "fuzz", &ctrl))
		abort();
	csd_ctrl_add_queue(ctrl, 0, 64);
	csd_ctrl_prop_set(ctrl, 0x14, false, 1 | (6 << 4) | (6 << 16) | (4 << 20));
	csd_ctrl_add_queue(ctrl, 1, 64);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct csd_req req;
	uint8_t buf[8192];
	int before;

	if (!subsys)
		setup();
	if (size < 65)
		return 0;
	memset(&req, 0, sizeof(req));
	memcpy(&req.cmd, data, 64);
	req.cmd.opcode = req.cmd.opcode == 0x0c ? 0x18 : req.cmd.opcode; /* AER is held: not here */
	req.qid = data[64] & 1;
	req.data_len = (uint32_t)(size - 65 < sizeof(buf) ? size - 65 : sizeof(buf));
	memcpy(buf, data + 65, req.data_len);
	req.data = buf;
	req.done = done;
	pthread_mutex_lock(&lock);
	before = completions;
	pthread_mutex_unlock(&lock);
	csd_ctrl_submit(ctrl, &req);
	pthread_mutex_lock(&lock);
	while (completions == before)
		pthread_cond_wait(&cond, &lock);
	if (completions != before + 1)
		abort();	/* completed twice */
	pthread_mutex_unlock(&lock);
	/* a Property Set may have disabled the controller: enable it again */
	csd_ctrl_prop_set(ctrl, 0x14, false, 0);
	csd_ctrl_prop_set(ctrl, 0x14, false, 1 | (6 << 4) | (6 << 16) | (4 << 20));
	return 0;
}
