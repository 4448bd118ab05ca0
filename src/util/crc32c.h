/* SPDX-License-Identifier: MIT */
#ifndef CSD_CRC32C_H
#define CSD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC32C (Castagnoli), the NVMe/TCP digest and csdlab's crc32c built-in program. Chain calls
 * by passing the previous result: csd_crc32c(csd_crc32c(0, a, n), b, m) == crc32c of a||b.
 * Uses the SSE4.2 instruction when the CPU has it.
 */
uint32_t csd_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
