/* SPDX-License-Identifier: MIT */
/*
 * What libnvme's <nvme/types.h> lacks: the 64-byte submission and 16-byte completion entries,
 * and the Computational Programs (TP4091) and Subsystem Local Memory (TP4131) additions.
 *
 * Confidence as in ../shared/spec/tp4091.md: values marked [C] are consistent across secondary
 * sources, [?] are assumed. They are all in this one header, so that a correction is a
 * one-line change; docs/device.md lists the assumptions.
 */
#ifndef CSD_NVME_CS_H
#define CSD_NVME_CS_H

#include <stdbool.h>
#include <stdint.h>

/* Submission queue entry, as on the wire (little-endian). */
struct csd_nvme_sqe {
	uint8_t opcode;
	uint8_t flags;		/* FUSE [1:0], PSDT [7:6] */
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr;
	uint8_t dptr[16];	/* SGL descriptor on fabrics */
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};
_Static_assert(sizeof(struct csd_nvme_sqe) == 64, "an SQE is 64 bytes");

/* Completion queue entry. */
struct csd_nvme_cqe {
	uint32_t dw0;
	uint32_t dw1;
	uint16_t sq_head;
	uint16_t sq_id;
	uint16_t cid;
	uint16_t status;	/* phase [0], SC [8:1], SCT [11:9], CRD, M, DNR [15] */
};
_Static_assert(sizeof(struct csd_nvme_cqe) == 16, "a CQE is 16 bytes");

/*
 * Direction of a command's data by the opcode's low two bits: 0 none, 1 host to controller,
 * 2 controller to host. Fabrics commands (7Fh, on any queue) carry it in their fctype.
 */
static inline int csd_nvme_data_dir(const struct csd_nvme_sqe *cmd)
{
	uint8_t op = cmd->opcode;

	if (op == 0x7f)		/* fabrics, on any queue: the fabrics command type says */
		op = (uint8_t)(cmd->nsid & 0xff);
	return op & 3;
}

/* Connect response DW0 bit AUTHREQ.ATR: authenticate this queue (DH-HMAC-CHAP) first. */
#define CSD_NVMF_CONNECT_AUTHREQ_ATR	(1u << 17)

/* Connect CATTR (byte 46, CDW11 bits 23:16) bit 2: the host disables SQ flow control. */
#define CSD_NVMF_CONNECT_CATTR_DISABLE_SQFLOW	(1u << 2)

/* Status field (without the phase bit): SCT and SC, plus Do Not Retry. */
#define CSD_NVME_STATUS(sct, sc)	((uint16_t)(((sct) << 8) | (sc)))
#define CSD_NVME_SCT(status)		(((status) >> 8) & 0x7)
#define CSD_NVME_SC(status)		((status) & 0xff)
#define CSD_NVME_DNR			0x4000

/* Command Set Identifiers */
enum {
	CSD_CSI_NVM = 0x00,
	CSD_CSI_SLM = 0x03,		/* [C] */
	CSD_CSI_COMPUTE = 0x04,		/* [C] */
};

/* Identify CNS 1Ch command set vector bits [C] */
#define CSD_IOCS_NVM		(1ull << 0)
#define CSD_IOCS_SLM		(1ull << 3)
#define CSD_IOCS_COMPUTE	(1ull << 4)

/* Admin opcodes (compute namespace) [C] */
enum {
	CSD_ADMIN_LOAD_PROGRAM = 0x85,
	CSD_ADMIN_PROGRAM_ACTIVATION = 0x88,
	CSD_ADMIN_MEMORY_RANGE_SET = 0x89,
};

/* I/O opcodes */
enum {
	CSD_IO_EXECUTE_PROGRAM = 0x01,		/* compute [C] */
	CSD_IO_MEMORY_COPY = 0x01,		/* memory [C] */
	CSD_IO_MEMORY_READ = 0x02,		/* memory [C] */
	CSD_IO_MEMORY_WRITE = 0x05,		/* memory [C] */
	/*
	 * csdlab vendor command (compute namespace): run a program over NVM LBA ranges in
	 * windows inside the drive, one result back. See docs/device.md.
	 */
	CSD_IO_VENDOR_EXECUTE_STREAM = 0x81,
};

/* Log pages */
enum {
	CSD_LOG_PROGRAM_LIST = 0x82,		/* [C] */
	CSD_LOG_PROGRAM_TYPES = 0x83,		/* [C] */
	CSD_LOG_RANGE_SET_LIST = 0x84,		/* [C] */
	CSD_LOG_VENDOR_STATS = 0xc0,		/* csdlab: struct csd_vendor_stats */
	CSD_LOG_VENDOR_REASONS = 0xc1,		/* csdlab: the last error reasons, text */
};

/*
 * A C0h image may name the program to take from an object that holds several: the ELF
 * object, then the name (1-63 bytes), its length as a little-endian u16, and this magic.
 */
#define CSD_PROGRAM_NAME_MAGIC "csdname"	/* 8 bytes with its NUL */

/* Program types: eBPF has no assigned value [?], so vendor values (C0h upward). */
enum {
	CSD_PTYPE_EBPF_ELF = 0xc0,	/* an ELF object from clang -target bpf, one program */
	CSD_PTYPE_EBPF_RAW = 0xc1,	/* raw little-endian 8-byte eBPF instruction slots */
	CSD_PTYPE_BUILTIN = 0xc2,	/* device-defined, not downloadable */
};

/* Command-specific status codes (SCT 1h) [C] */
enum {
	CSD_SC_NS_NOT_REACHABLE = 0x88,
	CSD_SC_INSUFFICIENT_RESOURCES = 0x89,
	CSD_SC_INSUFFICIENT_PROGRAM_RESOURCES = 0x8a,
	CSD_SC_INVALID_MEMORY_NS = 0x8b,
	CSD_SC_INVALID_MEMORY_RANGE_SET = 0x8c,
	CSD_SC_INVALID_RSID = 0x8d,
	CSD_SC_INVALID_PROGRAM_DATA = 0x8e,
	CSD_SC_INVALID_PROGRAM_INDEX = 0x8f,
	CSD_SC_INVALID_PROGRAM_TYPE = 0x90,
	CSD_SC_MAX_MEMORY_RANGES_EXCEEDED = 0x91,
	CSD_SC_MAX_RANGE_SETS_EXCEEDED = 0x92,
	CSD_SC_MAX_PROGRAMS_ACTIVATED = 0x93,
	CSD_SC_MAX_PROGRAM_BYTES_EXCEEDED = 0x94,
	CSD_SC_RANGE_SET_IN_USE = 0x95,
	CSD_SC_NO_PROGRAM = 0x96,
	CSD_SC_OVERLAPPING_RANGES = 0x97,
	CSD_SC_PROGRAM_NOT_ACTIVATED = 0x98,
	CSD_SC_PROGRAM_IN_USE = 0x99,
	CSD_SC_PROGRAM_NOT_DOWNLOADABLE = 0x9a,
	CSD_SC_PROGRAM_TOO_BIG = 0x9b,
	/*
	 * csdlab, vendor range: the program stopped (memory fault, budget, time limit); DW0 = the
	 * pc, DW1 = enum csd_ebpf_fault_kind; the reason is in log C1h.
	 */
	CSD_SC_VENDOR_PROGRAM_FAULT = 0xc0,
};

/* Load Program CDW10 [C] */
#define CSD_LOAD_PIND(cdw10)	((cdw10) & 0xffff)
#define CSD_LOAD_PTYPE(cdw10)	(((cdw10) >> 16) & 0xff)
#define CSD_LOAD_SEL(cdw10)	(((cdw10) >> 24) & 0x1)	/* 0 load, 1 unload */
#define CSD_LOAD_PIT(cdw10)	(((cdw10) >> 25) & 0x7)	/* 0 none, 1 PUID in CDW12-13 [?] */

/* Program Activation Management CDW10 [C] */
#define CSD_ACT_PIND(cdw10)	((cdw10) & 0xffff)
#define CSD_ACT_SEL(cdw10)	(((cdw10) >> 16) & 0xf)	/* 1 activate, 0 deactivate */

/* Memory Range Set Management CDW10 [C] */
#define CSD_MRS_SEL(cdw10)	((cdw10) & 0xf)		/* 0 create, 1 delete */
#define CSD_MRS_RSID(cdw10)	(((cdw10) >> 16) & 0xffff)

/* A memory range descriptor (range sets, inline Execute ranges) [C] */
struct csd_mem_range {
	uint32_t nsid;		/* the memory namespace */
	uint32_t len;		/* bytes */
	uint64_t sb;		/* starting byte */
	uint8_t rsvd[16];
};
_Static_assert(sizeof(struct csd_mem_range) == 32, "a memory range descriptor is 32 bytes");

/* Memory Copy source descriptor formats (CDW12 DESFMT [11:8]) [C] */
enum {
	CSD_COPY_DESFMT_NVM = 0x2,	/* struct csd_copy_src_nvm */
	CSD_COPY_DESFMT_MEMORY = 0x4,	/* struct csd_mem_range */
};

/* Memory Copy source from an NVM namespace: the layout of format 2h [?] */
struct csd_copy_src_nvm {
	uint32_t nsid;
	uint32_t rsvd;
	uint64_t slba;
	uint32_t nlb;		/* number of logical blocks, 0's based */
	uint8_t rsvd2[12];
};
_Static_assert(sizeof(struct csd_copy_src_nvm) == 32, "an NVM source descriptor is 32 bytes");

/* Log 82h entry [?]: one per program index */
struct csd_program_entry {
	uint16_t pind;
	uint8_t ptype;
	uint8_t state;		/* CSD_PROG_* */
	uint32_t size;		/* bytes */
	uint64_t puid;
	uint32_t flags;		/* CSD_PROG_FLAG_* */
	char name[12];		/* built-in programs: their name */
};
_Static_assert(sizeof(struct csd_program_entry) == 32, "a program list entry is 32 bytes");

enum { CSD_PROG_EMPTY = 0, CSD_PROG_LOADED = 1, CSD_PROG_ACTIVE = 2 };
#define CSD_PROG_FLAG_BUILTIN	0x1	/* device-defined, not downloadable */

/* Log 83h [?]: a count, then one byte per accepted program type */
struct csd_program_types {
	uint8_t count;
	uint8_t ptype[31];
};
_Static_assert(sizeof(struct csd_program_types) == 32, "the program types page is 32 bytes");

/* Log 84h entry [?]: one per range set */
struct csd_range_set_entry {
	uint16_t rsid;
	uint16_t nranges;
	uint32_t in_use;	/* executions using it now */
	uint64_t bytes;		/* total length */
};
_Static_assert(sizeof(struct csd_range_set_entry) == 16, "a range set entry is 16 bytes");

/*
 * csdlab vendor streaming Execute (opcode 81h, compute namespace), host-to-controller data:
 * NVM ranges as struct csd_stream_range. CDW2 [15:0] PIND, [19:16] how the windows' results
 * combine (CSD_STREAM_SUM, _MIN, _MAX: unsigned 64-bit), bit 20 CSD_STREAM_SEQUENTIAL (one
 * engine thread, windows in order; else a stateless program's windows may run on several);
 * CDW3: overlap bytes carried from one window into the next; CDW10-13: CPARAM1/2; CDW14: the
 * NVM namespace; CDW15: window size in bytes (0: 1 MiB).
 */
enum {
	CSD_STREAM_SUM = 0,
	CSD_STREAM_MIN = 1,
	CSD_STREAM_MAX = 2,
};
#define CSD_STREAM_COMBINE(cdw2)	(((cdw2) >> 16) & 0xf)
#define CSD_STREAM_SEQUENTIAL		(1u << 20)

struct csd_stream_range {
	uint64_t slba;
	uint32_t nlb;		/* 0's based, as in NVM commands */
	uint32_t rsvd;
};
_Static_assert(sizeof(struct csd_stream_range) == 16, "a stream range is 16 bytes");

/* Vendor log C0h: the drive's statistics, all counters since the drive started. */
struct csd_vendor_stats {
	uint32_t version;		/* 1 */
	uint32_t rsvd;
	uint64_t admin_cmds;
	uint64_t io_cmds;
	uint64_t nvm_read_cmds;
	uint64_t nvm_write_cmds;
	uint64_t nvm_bytes_read;	/* by Read, Memory Copy from NVM, streaming */
	uint64_t nvm_bytes_written;
	uint64_t slm_bytes_read;	/* by Memory Read */
	uint64_t slm_bytes_written;	/* by Memory Write */
	uint64_t internal_bytes_moved;	/* NVM -> SLM and SLM -> SLM copies, streaming windows */
	uint64_t program_loads;
	uint64_t program_executions;
	uint64_t program_faults;
	uint64_t program_insns;
	uint64_t program_exec_ns;
	uint64_t errors;		/* commands completed with a non-zero status */
	uint64_t stream_parts_lent;	/* parts of streaming Executes run by another engine thread */
	uint64_t rsvd2[15];
	/* per program index, for the first 16 */
	struct {
		uint64_t executions;
		uint64_t insns;
		uint64_t exec_ns;
		uint64_t bytes_in;
	} program[16];
};
_Static_assert(sizeof(struct csd_vendor_stats) == 768, "the vendor stats page is 768 bytes");

/* The name of an NVMe status (SCT and SC; DNR and More ignored): "LBA Out of Range", ... */
const char *csd_nvme_status_str(uint16_t status);

#endif
