/* SPDX-License-Identifier: MIT */
#ifndef CSD_FAILING_PREAD_H
#define CSD_FAILING_PREAD_H

#include <stdint.h>

/* pread() at file offsets from here on fails with EIO (UINT64_MAX: never). */
extern volatile uint64_t failing_pread_from;

#endif
