/* SPDX-License-Identifier: MIT */
#include "pdu.h"

uint8_t tcp_pdu_hlen(uint8_t type)
{
	switch (type) {
	case TCP_PDU_ICREQ:
	case TCP_PDU_ICRESP: return 128;
	case TCP_PDU_H2C_TERM:
	case TCP_PDU_C2H_TERM: return 24;
	case TCP_PDU_CMD: return 72;
	case TCP_PDU_RSP:
	case TCP_PDU_H2C_DATA:
	case TCP_PDU_C2H_DATA:
	case TCP_PDU_R2T: return 24;
	default: return 0;
	}
}

const char *csd_tcp_pdu_name(unsigned type)
{
	return tcp_pdu_name((uint8_t)(type < 256 ? type : 8));
}
