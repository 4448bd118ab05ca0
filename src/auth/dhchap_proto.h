/* SPDX-License-Identifier: MIT */
/*
 * DH-HMAC-CHAP as the target and the initiator both speak it: the messages carried by the
 * fabrics Authentication Send / Receive commands (libnvme 1.3 has none of them; little-endian
 * fields, as on the wire), and the computations of the protocol on OpenSSL's libcrypto.
 *
 * One transaction on one queue:
 *   host -> Negotiate (hashes and DH groups it offers)
 *   ctrl <- Challenge (hash, group, C1, S1, ctrl DH public value)
 *   host -> Reply     (R1 = HMAC over C1; host DH public value; C2, S2 to authenticate the ctrl)
 *   ctrl <- Success1  (R2 over C2 when asked)   or Failure1
 *   host -> Success2  (after checking R2)       or Failure2
 * With a DH group both sides derive the session key Ks = g^xy mod p, and the challenges are
 * "augmented": C' = HMAC(H(Ks), C).
 */
#ifndef CSD_DHCHAP_PROTO_H
#define CSD_DHCHAP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "csd/dhchap.h"

#define DHCHAP_SECP		0xe9	/* security protocol of Authentication Send / Receive */
#define DHCHAP_SPSP		0x01	/* SPSP0 and SPSP1 */
#define DHCHAP_AUTH_ID		0x01	/* the DH-HMAC-CHAP protocol in a Negotiate descriptor */
#define DHCHAP_MAX_HASH_LEN	64
#define DHCHAP_MAX_DH_LEN	1024	/* ffdhe8192 */
#define DHCHAP_MSG_MAX		4096	/* what the Linux host allocates for a message */

enum dhchap_auth_type { DHCHAP_TYPE_COMMON = 0x00, DHCHAP_TYPE_DHCHAP = 0x01 };

enum dhchap_msg {
	DHCHAP_MSG_NEGOTIATE = 0x00,
	DHCHAP_MSG_CHALLENGE = 0x01,
	DHCHAP_MSG_REPLY = 0x02,
	DHCHAP_MSG_SUCCESS1 = 0x03,
	DHCHAP_MSG_SUCCESS2 = 0x04,
	DHCHAP_MSG_FAILURE2 = 0xf0,
	DHCHAP_MSG_FAILURE1 = 0xf1,
};

/* Reason code explanations of Failure1/Failure2 (reason code 01h: authentication failed). */
enum dhchap_failure_reason {
	DHCHAP_FAIL_FAILED = 0x01,
	DHCHAP_FAIL_NOT_USABLE = 0x02,
	DHCHAP_FAIL_CONCAT_MISMATCH = 0x03,
	DHCHAP_FAIL_HASH_UNUSABLE = 0x04,
	DHCHAP_FAIL_DHGROUP_UNUSABLE = 0x05,
	DHCHAP_FAIL_INCORRECT_PAYLOAD = 0x06,
	DHCHAP_FAIL_INCORRECT_MESSAGE = 0x07,
};

struct dhchap_protocol_desc {
	uint8_t authid;
	uint8_t rsvd;
	uint8_t halen;		/* hash identifiers in idlist[0..] */
	uint8_t dhlen;		/* DH group identifiers in idlist[30..] */
	uint8_t idlist[60];
};

struct dhchap_negotiate {
	uint8_t auth_type, auth_id;
	uint16_t rsvd;
	uint16_t t_id;
	uint8_t sc_c;		/* secure channel concatenation: 0, none */
	uint8_t napd;		/* protocol descriptors that follow */
	struct dhchap_protocol_desc desc[];
};

struct dhchap_challenge {
	uint8_t auth_type, auth_id;
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t hl, rsvd2, hashid, dhgid;
	uint16_t dhvlen;
	uint32_t seqnum;
	uint8_t cval[];		/* hl bytes of C1, then dhvlen bytes of the ctrl's DH value */
};

struct dhchap_reply {
	uint8_t auth_type, auth_id;
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t hl, rsvd2, cvalid, rsvd3;
	uint16_t dhvlen;
	uint32_t seqnum;	/* S2; 0: the host does not authenticate the controller */
	uint8_t rval[];		/* hl bytes R1, hl bytes C2, dhvlen bytes of the host's DH value */
};

struct dhchap_success1 {
	uint8_t auth_type, auth_id;
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t hl, rsvd2, rvalid;
	uint8_t rsvd3[7];
	uint8_t rval[];		/* hl bytes of R2 when rvalid */
};

struct dhchap_success2 {
	uint8_t auth_type, auth_id;
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t rsvd2[10];
};

struct dhchap_failure {
	uint8_t auth_type, auth_id;
	uint16_t rsvd1;
	uint16_t t_id;
	uint8_t rescode;	/* 01h: authentication failed */
	uint8_t rescode_exp;	/* enum dhchap_failure_reason */
};

_Static_assert(sizeof(struct dhchap_protocol_desc) == 64, "protocol descriptor");
_Static_assert(sizeof(struct dhchap_negotiate) == 8, "Negotiate header");
_Static_assert(sizeof(struct dhchap_challenge) == 16, "Challenge header");
_Static_assert(sizeof(struct dhchap_reply) == 16, "Reply header");
_Static_assert(sizeof(struct dhchap_success1) == 16, "Success1 header");
_Static_assert(sizeof(struct dhchap_success2) == 16, "Success2");
_Static_assert(sizeof(struct dhchap_failure) == 8, "Failure1/2");

/* "authentication failed", ... for a reason code explanation. */
const char *dhchap_failure_name(unsigned code);

/* 32, 48, 64 for hashes 1-3; 0 for any other. */
size_t dhchap_hash_len(unsigned hash_id);
/* Bytes of a DH group's public value (its prime's size); 0 for NULL or unknown. */
size_t dhchap_dh_len(unsigned dhgroup);

int dhchap_random(void *buf, size_t len);

/*
 * R = HMAC_H(T, C' || S || TID || 00h || role || self NQN || 00h || peer NQN), where T is the
 * key transformed with the responder's NQN, C' the challenge (augmented with the session key
 * when there is one), role "HostHost" for the host (self = host NQN, peer = subsystem NQN)
 * and "Controller" for the controller (self = subsystem NQN, peer = host NQN).
 */
struct dhchap_response_in {
	const struct csd_dhchap_key *key;
	unsigned hash_id;
	const uint8_t *challenge;		/* hash_len bytes */
	const uint8_t *sess_key;		/* NULL: no DH */
	size_t sess_key_len;
	uint32_t seqnum;
	uint16_t tid;
	bool controller;
	const char *hostnqn, *subnqn;
};
int dhchap_response(const struct dhchap_response_in *in, uint8_t out[DHCHAP_MAX_HASH_LEN]);

/* The key transformation T = HMAC_{key hash}(key, NQN || "NVMe-over-Fabrics"). */
int dhchap_transform_key(const struct csd_dhchap_key *key, const char *nqn,
			 uint8_t out[CSD_DHCHAP_MAX_KEY], size_t *out_len);

/* An ephemeral DH key pair in one of the FFDHE groups. */
struct dhchap_dh;
/* A new pair; its public value, padded to the group's size, in pub (DHCHAP_MAX_DH_LEN). */
int dhchap_dh_new(unsigned dhgroup, struct dhchap_dh **out, uint8_t *pub, size_t *pub_len);
/* Ks from the peer's public value (checked to be in range); padded to the group's size. */
int dhchap_dh_derive(struct dhchap_dh *dh, const uint8_t *peer, size_t peer_len, uint8_t *sess,
		     size_t *sess_len);
void dhchap_dh_free(struct dhchap_dh *dh);

/* Constant-time comparison of two responses. */
bool dhchap_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif
