/* SPDX-License-Identifier: MIT */
/*
 * What the NVMe/TCP link carried, as csdlab counts it at both ends of a socket: the host
 * (libcsd) and csd-target, which reports its side as vendor log page C2h. Protocol-level
 * definitions only, shared by libcsd and the target.
 */
#ifndef CSD_LINK_H
#define CSD_LINK_H

#include <stdint.h>

#define CSD_TCP_PDU_TYPES 10

/* Traffic on the wire: PDU headers, padding, data and digests included. */
struct csd_tcp_traffic {
	uint64_t bytes_in, bytes_out;
	uint64_t pdus_in[CSD_TCP_PDU_TYPES], pdus_out[CSD_TCP_PDU_TYPES];
	uint64_t pdu_bytes_in[CSD_TCP_PDU_TYPES], pdu_bytes_out[CSD_TCP_PDU_TYPES];
};

/* "CapsuleCmd", "C2HData", ... for a PDU type; "?" for others. */
const char *csd_tcp_pdu_name(unsigned type);

/* Vendor log page C2h of a drive served by csd-target: the link as the target counts it. */
#define CSD_LOG_VENDOR_LINK 0xc2
struct csd_tcp_link_log {
	struct csd_tcp_traffic target;		/* every connection since the start */
	struct csd_tcp_traffic association;	/* the queues of the asking controller */
};

#endif
