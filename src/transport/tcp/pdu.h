/* SPDX-License-Identifier: MIT */
/*
 * NVMe/TCP PDUs (NVM Express TCP Transport Specification 1.0), byte for byte as on the wire,
 * little-endian. libnvme has the fabrics structures (Connect data, discovery log) but not the
 * TCP ones, so they are here; shared by the target and the initiator.
 */
#ifndef CSD_TCP_PDU_H
#define CSD_TCP_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csd/nvme_cs.h"

enum tcp_pdu_type {
	TCP_PDU_ICREQ = 0x00,
	TCP_PDU_ICRESP = 0x01,
	TCP_PDU_H2C_TERM = 0x02,
	TCP_PDU_C2H_TERM = 0x03,
	TCP_PDU_CMD = 0x04,
	TCP_PDU_RSP = 0x05,
	TCP_PDU_H2C_DATA = 0x06,
	TCP_PDU_C2H_DATA = 0x07,
	TCP_PDU_R2T = 0x09,
	TCP_PDU_TYPES = 0x0a,
};

enum {
	TCP_F_HDGST = 0x01,
	TCP_F_DDGST = 0x02,
	TCP_F_DATA_LAST = 0x04,
	TCP_F_DATA_SUCCESS = 0x08,
};

/* Fatal error status of a TermReq */
enum {
	TCP_FES_INVALID_PDU_HDR = 0x01,
	TCP_FES_PDU_SEQ_ERR = 0x02,
	TCP_FES_HDR_DIGEST_ERR = 0x03,
	TCP_FES_DATA_OUT_OF_RANGE = 0x04,
	TCP_FES_DATA_LIMIT_EXCEEDED = 0x05,
	TCP_FES_UNSUPPORTED_PARAM = 0x06,
};

#define TCP_DIGEST_LEN		4
#define TCP_MAX_TERM_PLEN	152	/* 24-byte header + up to 128 bytes of the bad PDU */

struct tcp_hdr {
	uint8_t type;
	uint8_t flags;
	uint8_t hlen;
	uint8_t pdo;
	uint32_t plen;
};
_Static_assert(sizeof(struct tcp_hdr) == 8, "common header");

struct tcp_icreq {
	struct tcp_hdr hdr;
	uint16_t pfv;
	uint8_t hpda;
	uint8_t digest;		/* bit 0 header digest, bit 1 data digest */
	uint32_t maxr2t;	/* 0's based */
	uint8_t rsvd[112];
};
_Static_assert(sizeof(struct tcp_icreq) == 128, "ICReq");

struct tcp_icresp {
	struct tcp_hdr hdr;
	uint16_t pfv;
	uint8_t cpda;
	uint8_t digest;
	uint32_t maxdata;	/* MAXH2CDATA */
	uint8_t rsvd[112];
};
_Static_assert(sizeof(struct tcp_icresp) == 128, "ICResp");

struct tcp_cmd_pdu {
	struct tcp_hdr hdr;
	struct csd_nvme_sqe cmd;
};
_Static_assert(sizeof(struct tcp_cmd_pdu) == 72, "CapsuleCmd header");

struct tcp_rsp_pdu {
	struct tcp_hdr hdr;
	struct csd_nvme_cqe cqe;
};
_Static_assert(sizeof(struct tcp_rsp_pdu) == 24, "CapsuleResp");

/* H2CData and C2HData (ttag is reserved in C2HData) */
struct tcp_data_pdu {
	struct tcp_hdr hdr;
	uint16_t cccid;
	uint16_t ttag;
	uint32_t datao;
	uint32_t datal;
	uint32_t rsvd;
};
_Static_assert(sizeof(struct tcp_data_pdu) == 24, "data PDU header");

struct tcp_r2t_pdu {
	struct tcp_hdr hdr;
	uint16_t cccid;
	uint16_t ttag;
	uint32_t r2to;
	uint32_t r2tl;
	uint32_t rsvd;
};
_Static_assert(sizeof(struct tcp_r2t_pdu) == 24, "R2T");

struct tcp_term_pdu {
	struct tcp_hdr hdr;
	uint16_t fes;
	uint32_t fei;
	uint8_t rsvd[10];
} __attribute__((packed));
_Static_assert(sizeof(struct tcp_term_pdu) == 24, "TermReq header");

/* SGL descriptor types in the command's DPTR */
#define SGL_DATA_BLOCK_OFFSET	0x01	/* in-capsule data, address = offset */
#define SGL_TRANSPORT_DATA	0x5a	/* data by R2T/H2CData or C2HData */

struct tcp_sgl {
	uint64_t addr;
	uint32_t length;
	uint8_t rsvd[3];
	uint8_t type;
};
_Static_assert(sizeof(struct tcp_sgl) == 16, "SGL descriptor");

/* The header length every PDU type must carry (0: not a type a peer may send). */
uint8_t tcp_pdu_hlen(uint8_t type);


#include "csd/tcp.h"

static inline void tcp_traffic_add(struct csd_tcp_traffic *to, const struct csd_tcp_traffic *from)
{
	to->bytes_in += from->bytes_in;
	to->bytes_out += from->bytes_out;
	for (int i = 0; i < CSD_TCP_PDU_TYPES; i++) {
		to->pdus_in[i] += from->pdus_in[i];
		to->pdus_out[i] += from->pdus_out[i];
		to->pdu_bytes_in[i] += from->pdu_bytes_in[i];
		to->pdu_bytes_out[i] += from->pdu_bytes_out[i];
	}
}

static inline const char *tcp_pdu_name(uint8_t type)
{
	static const char *const names[TCP_PDU_TYPES] = {
		"ICReq", "ICResp", "H2CTermReq", "C2HTermReq", "CapsuleCmd", "CapsuleResp",
		"H2CData", "C2HData", "?", "R2T",
	};

	return type < TCP_PDU_TYPES ? names[type] : "?";
}

#endif
