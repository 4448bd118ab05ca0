/* SPDX-License-Identifier: MIT */
/*
 * DH-HMAC-CHAP secrets (NVMe in-band authentication) in the form the Linux host, the Linux
 * target and nvme-cli use: "DHHC-1:XX:<base64 of key || CRC-32 (LE)>:", XX the hash the key is
 * transformed with before use (00 none, 01 SHA-256, 02 SHA-384, 03 SHA-512), keys of 32, 48 or
 * 64 bytes. The protocol itself is in csd-target and libcsd's initiator.
 */
#ifndef CSD_DHCHAP_H
#define CSD_DHCHAP_H

#include <stddef.h>
#include <stdint.h>

#define CSD_DHCHAP_MAX_KEY	64
#define CSD_DHCHAP_SECRET_MAX	128	/* room for the longest secret string and its NUL */

/* Hash function identifiers (NVMe base spec, DH-HMAC-CHAP). */
enum csd_dhchap_hash {
	CSD_DHCHAP_SHA256 = 1,
	CSD_DHCHAP_SHA384 = 2,
	CSD_DHCHAP_SHA512 = 3,
};

/* Diffie-Hellman group identifiers: NULL (no DH) and the RFC 7919 groups. */
enum csd_dhchap_dhgroup {
	CSD_DHCHAP_DH_NULL = 0,
	CSD_DHCHAP_FFDHE2048 = 1,
	CSD_DHCHAP_FFDHE3072 = 2,
	CSD_DHCHAP_FFDHE4096 = 3,
	CSD_DHCHAP_FFDHE6144 = 4,
	CSD_DHCHAP_FFDHE8192 = 5,
};

struct csd_dhchap_key {
	uint8_t hash;			/* transformation: 0 none, else enum csd_dhchap_hash */
	uint8_t len;			/* 32, 48 or 64 */
	uint8_t bytes[CSD_DHCHAP_MAX_KEY];
};

/* Parse a DHHC-1 secret; -EINVAL with a message naming the problem. */
int csd_dhchap_key_parse(const char *secret, struct csd_dhchap_key *key, char *err,
			 size_t err_size);
/* The DHHC-1 string of a key; -ENOSPC if out is too small (CSD_DHCHAP_SECRET_MAX is enough). */
int csd_dhchap_key_format(const struct csd_dhchap_key *key, char *out, size_t out_size);
/*
 * A new key as nvme-cli's gen-dhchap-key makes it: len bytes of secret (random when secret is
 * NULL); with hmac 1-3 the secret is transformed with the NQN, len must match the hash (0 picks
 * it) and the result is marked with that hash.
 */
int csd_dhchap_key_generate(const uint8_t *secret, size_t len, unsigned hmac, const char *nqn,
			    struct csd_dhchap_key *out, char *err, size_t err_size);

/* "sha256" or "hmac(sha256)" (and 384, 512) -> 1..3; -1 if unknown. */
int csd_dhchap_hash_id(const char *name);
const char *csd_dhchap_hash_name(unsigned id);	/* "sha256"...; NULL if unknown */
/* "null", "ffdhe2048" ... "ffdhe8192" -> 0..5; -1 if unknown. */
int csd_dhchap_dhgroup_id(const char *name);
const char *csd_dhchap_dhgroup_name(unsigned id);

#endif
