/* SPDX-License-Identifier: MIT */
/* DHHC-1 secrets: parse, format, generate (as nvme-cli does), and the names of hashes and groups. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <zlib.h>

#include "dhchap_proto.h"

static const char *const hash_names[] = { [1] = "sha256", [2] = "sha384", [3] = "sha512" };
static const char *const dhgroup_names[] = { "null", "ffdhe2048", "ffdhe3072", "ffdhe4096",
					     "ffdhe6144", "ffdhe8192" };

const char *csd_dhchap_hash_name(unsigned id)
{
	return id >= 1 && id <= 3 ? hash_names[id] : NULL;
}

int csd_dhchap_hash_id(const char *name)
{
	size_t n;

	if (!name)
		return -1;
	/* the kernel's configfs and nvme-cli say "hmac(sha256)" */
	if (!strncmp(name, "hmac(", 5) && (n = strlen(name)) > 6 && name[n - 1] == ')') {
		char inner[16];

		if (n - 6 >= sizeof(inner))
			return -1;
		memcpy(inner, name + 5, n - 6);
		inner[n - 6] = '\0';
		return csd_dhchap_hash_id(inner);
	}
	for (unsigned i = 1; i <= 3; i++)
		if (!strcasecmp(name, hash_names[i]))
			return (int)i;
	return -1;
}

const char *csd_dhchap_dhgroup_name(unsigned id)
{
	return id < sizeof(dhgroup_names) / sizeof(dhgroup_names[0]) ? dhgroup_names[id] : NULL;
}

int csd_dhchap_dhgroup_id(const char *name)
{
	if (!name)
		return -1;
	for (unsigned i = 0; i < sizeof(dhgroup_names) / sizeof(dhgroup_names[0]); i++)
		if (!strcasecmp(name, dhgroup_names[i]))
			return (int)i;
	return -1;
}

static uint32_t key_crc(const uint8_t *key, size_t len)
{
	return (uint32_t)crc32(0, key, (uInt)len);
}

int csd_dhchap_key_parse(const char *secret, struct csd_dhchap_key *key, char *err,
			 size_t err_size)
{
	uint8_t raw[CSD_DHCHAP_MAX_KEY + 4 + 3];	/* + CRC, + what base64 pads to */
	const char *b64, *end;
	size_t b64_len;
	unsigned hash;
	int n, pad = 0;
	uint32_t crc;

	if (!secret || strncmp(secret, "DHHC-1:", 7)) {
		snprintf(err, err_size, "a DH-HMAC-CHAP secret starts with DHHC-1:");
		return -EINVAL;
	}
	if (secret[7] < '0' || secret[7] > '9' || secret[8] < '0' || secret[8] > '9' ||
	    secret[9] != ':') {
		snprintf(err, err_size, "DHHC-1 secret: two digits (the key's hash) after DHHC-1:");
		return -EINVAL;
	}
	hash = (unsigned)(secret[7] - '0') * 10 + (unsigned)(secret[8] - '0');
	if (hash > 3) {
		snprintf(err, err_size, "DHHC-1 secret: hash %02u (00 none, 01 SHA-256, "
			 "02 SHA-384, 03 SHA-512)", hash);
		return -EINVAL;
	}
	b64 = secret + 10;
	end = strchr(b64, ':');
	b64_len = end ? (size_t)(end - b64) : strlen(b64);
	if (end && end[1] != '\0') {
		snprintf(err, err_size, "DHHC-1 secret: text after the closing ':'");
		return -EINVAL;
	}
	/* 36, 52 or 68 bytes (key and CRC) take 48, 72 or 92 base64 characters */
	if (b64_len != 48 && b64_len != 72 && b64_len != 92) {
		snprintf(err, err_size, "DHHC-1 secret: %zu base64 characters; a 32, 48 or 64-byte "
			 "key has 48, 72 or 92", b64_len);
		return -EINVAL;
	}
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64_len);
	if (n < 0) {
		snprintf(err, err_size, "DHHC-1 secret: not base64");
		return -EINVAL;
	}
	while (pad < 2 && b64[b64_len - 1 - (size_t)pad] == '=')
		pad++;
	n -= pad;
	if (n != 36 && n != 52 && n != 68) {
		snprintf(err, err_size, "DHHC-1 secret: %d bytes decoded; a key has 32, 48 or 64 "
			 "and a CRC", n);
		return -EINVAL;
	}
	n -= 4;
	crc = (uint32_t)raw[n] | (uint32_t)raw[n + 1] << 8 | (uint32_t)raw[n + 2] << 16 |
	      (uint32_t)raw[n + 3] << 24;
	if (crc != key_crc(raw, (size_t)n)) {
		snprintf(err, err_size, "DHHC-1 secret: CRC mismatch (mistyped or truncated?)");
		OPENSSL_cleanse(raw, sizeof(raw));
		return -EINVAL;
	}
	key->hash = (uint8_t)hash;
	key->len = (uint8_t)n;
	memcpy(key->bytes, raw, (size_t)n);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int csd_dhchap_key_format(const struct csd_dhchap_key *key, char *out, size_t out_size)
{
	uint8_t raw[CSD_DHCHAP_MAX_KEY + 4];
	char b64[(sizeof(raw) + 2) / 3 * 4 + 1];
	uint32_t crc;
	int n;

	if (key->hash > 3 || (key->len != 32 && key->len != 48 && key->len != 64))
		return -EINVAL;
	memcpy(raw, key->bytes, key->len);
	crc = key_crc(key->bytes, key->len);
	for (int i = 0; i < 4; i++)
		raw[key->len + i] = (uint8_t)(crc >> (8 * i));
	n = EVP_EncodeBlock((unsigned char *)b64, raw, key->len + 4);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (snprintf(out, out_size, "DHHC-1:%02u:%.*s:", key->hash, n, b64) >= (int)out_size) {
		OPENSSL_cleanse(b64, sizeof(b64));
		return -ENOSPC;
	}
	OPENSSL_cleanse(b64, sizeof(b64));
	return 0;
}

int csd_dhchap_key_generate(const uint8_t *secret, size_t len, unsigned hmac, const char *nqn,
			    struct csd_dhchap_key *out, char *err, size_t err_size)
{
	struct csd_dhchap_key raw = { .hash = (uint8_t)hmac };
	size_t tlen;
	int ret;

	if (hmac > 3) {
		snprintf(err, err_size, "hmac %u: 0 (none), 1 (SHA-256), 2 (SHA-384), 3 (SHA-512)",
			 hmac);
		return -EINVAL;
	}
	if (!len)
		len = hmac ? dhchap_hash_len(hmac) : 32;
	if (len != 32 && len != 48 && len != 64) {
		snprintf(err, err_size, "key length %zu: 32, 48 or 64 bytes", len);
		return -EINVAL;
	}
	if (hmac && len != dhchap_hash_len(hmac)) {
		snprintf(err, err_size, "key length %zu does not suit %s (%zu bytes)", len,
			 csd_dhchap_hash_name(hmac), dhchap_hash_len(hmac));
		return -EINVAL;
	}
	if (hmac && (!nqn || !*nqn)) {
		snprintf(err, err_size, "a transformed key (hmac %u) needs the host NQN", hmac);
		return -EINVAL;
	}
	raw.len = (uint8_t)len;
	if (secret)
		memcpy(raw.bytes, secret, len);
	else if (dhchap_random(raw.bytes, len)) {
		snprintf(err, err_size, "no random bytes from libcrypto");
		return -EIO;
	}
	if (!hmac) {
		*out = raw;
		OPENSSL_cleanse(&raw, sizeof(raw));
		return 0;
	}
	ret = dhchap_transform_key(&raw, nqn, out->bytes, &tlen);
	OPENSSL_cleanse(&raw, sizeof(raw));
	if (ret) {
		snprintf(err, err_size, "key transformation failed in libcrypto");
		return ret;
	}
	out->hash = (uint8_t)hmac;
	out->len = (uint8_t)tlen;
	return 0;
}
