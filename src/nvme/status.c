/* SPDX-License-Identifier: MIT */
/*
 * Readable names of the NVMe statuses a csdlab drive answers with. Part of the protocol's
 * own component (with include/csd/nvme_cs.h), which the drive and libcsd both use, so that
 * libcsd need not link the drive.
 */
#include <nvme/types.h>
#include <stddef.h>
#include <stdint.h>

#include "csd/nvme_cs.h"

#define SC_GENERIC(sc)	CSD_NVME_STATUS(NVME_SCT_GENERIC, (sc))
#define SC_CMD(sc)	CSD_NVME_STATUS(NVME_SCT_CMD_SPECIFIC, (sc))

const char *csd_nvme_status_str(uint16_t status)
{
	static const struct {
		uint16_t status;
		const char *name;
	} names[] = {
		{ SC_GENERIC(0x00), "Success" },
		{ SC_GENERIC(NVME_SC_INVALID_OPCODE), "Invalid Command Opcode" },
		{ SC_GENERIC(NVME_SC_INVALID_FIELD), "Invalid Field in Command" },
		{ SC_GENERIC(NVME_SC_CMDID_CONFLICT), "Command ID Conflict" },
		{ SC_GENERIC(NVME_SC_INTERNAL), "Internal Error" },
		{ SC_GENERIC(NVME_SC_ABORT_REQ), "Command Abort Requested" },
		{ SC_GENERIC(NVME_SC_INVALID_NS), "Invalid Namespace or Format" },
		{ SC_GENERIC(NVME_SC_CMD_SEQ_ERROR), "Command Sequence Error" },
		{ SC_GENERIC(NVME_SC_SGL_INVALID_DATA), "Data SGL Length Invalid" },
		{ SC_GENERIC(NVME_SC_LBA_RANGE), "LBA Out of Range" },
		{ SC_GENERIC(NVME_SC_CAP_EXCEEDED), "Capacity Exceeded" },
		{ SC_GENERIC(NVME_SC_AUTH_REQUIRED), "Authentication Required" },
		{ SC_CMD(NVME_SC_ASYNC_LIMIT), "Asynchronous Event Request Limit Exceeded" },
		{ SC_CMD(NVME_SC_INVALID_LOG_PAGE), "Invalid Log Page" },
		{ SC_CMD(NVME_SC_FEATURE_NOT_SAVEABLE), "Feature Identifier Not Saveable" },
		{ SC_CMD(NVME_SC_IOCS_NOT_SUPPORTED), "I/O Command Set Not Supported" },
		{ SC_CMD(NVME_SC_IOCS_COMBINATION_REJECTED), "I/O Command Set Combination Rejected" },
		{ SC_CMD(NVME_SC_CMD_SIZE_LIMIT_EXCEEDED), "Command Size Limit Exceeded" },
		{ CSD_NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT), "Write Fault" },
		{ CSD_NVME_STATUS(NVME_SCT_MEDIA, NVME_SC_ACCESS_DENIED), "Access Denied" },
		{ SC_CMD(CSD_SC_NS_NOT_REACHABLE), "Namespace Not Reachable" },
		{ SC_CMD(CSD_SC_INSUFFICIENT_RESOURCES), "Insufficient Resources" },
		{ SC_CMD(CSD_SC_INSUFFICIENT_PROGRAM_RESOURCES), "Insufficient Program Resources" },
		{ SC_CMD(CSD_SC_INVALID_MEMORY_NS), "Invalid Memory Namespace" },
		{ SC_CMD(CSD_SC_INVALID_MEMORY_RANGE_SET), "Invalid Memory Range Set" },
		{ SC_CMD(CSD_SC_INVALID_RSID), "Invalid Memory Range Set Identifier" },
		{ SC_CMD(CSD_SC_INVALID_PROGRAM_DATA), "Invalid Program Data" },
		{ SC_CMD(CSD_SC_INVALID_PROGRAM_INDEX), "Invalid Program Index" },
		{ SC_CMD(CSD_SC_INVALID_PROGRAM_TYPE), "Invalid Program Type" },
		{ SC_CMD(CSD_SC_MAX_MEMORY_RANGES_EXCEEDED), "Maximum Memory Ranges Exceeded" },
		{ SC_CMD(CSD_SC_MAX_RANGE_SETS_EXCEEDED), "Maximum Memory Range Sets Exceeded" },
		{ SC_CMD(CSD_SC_MAX_PROGRAMS_ACTIVATED), "Maximum Programs Activated" },
		{ SC_CMD(CSD_SC_MAX_PROGRAM_BYTES_EXCEEDED), "Maximum Program Bytes Exceeded" },
		{ SC_CMD(CSD_SC_RANGE_SET_IN_USE), "Memory Range Set In Use" },
		{ SC_CMD(CSD_SC_NO_PROGRAM), "No Program" },
		{ SC_CMD(CSD_SC_OVERLAPPING_RANGES), "Overlapping Memory Ranges" },
		{ SC_CMD(CSD_SC_PROGRAM_NOT_ACTIVATED), "Program Not Activated" },
		{ SC_CMD(CSD_SC_PROGRAM_IN_USE), "Program In Use" },
		{ SC_CMD(CSD_SC_PROGRAM_NOT_DOWNLOADABLE), "Program Index Not Downloadable" },
		{ SC_CMD(CSD_SC_PROGRAM_TOO_BIG), "Program Too Big" },
		{ SC_CMD(CSD_SC_VENDOR_PROGRAM_FAULT), "Program Fault (csdlab)" },
	};
	uint16_t key = status & 0x7ff;	/* SCT and SC, without DNR and More */

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].status == key)
			return names[i].name;
	return "Unknown Status";
}
