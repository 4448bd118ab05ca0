/* SPDX-License-Identifier: MIT */
/* The computations of DH-HMAC-CHAP, all on libcrypto (HMAC, SHA-2, FFDHE, random). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/dh.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "dhchap_proto.h"

struct dhchap_dh {
	EVP_PKEY *key;
	size_t len;
};

const char *dhchap_failure_name(unsigned code)
{
	switch (code) {
	case DHCHAP_FAIL_FAILED: return "authentication failed";
	case DHCHAP_FAIL_NOT_USABLE: return "authentication protocol not usable";
	case DHCHAP_FAIL_CONCAT_MISMATCH: return "secure channel concatenation mismatch";
	case DHCHAP_FAIL_HASH_UNUSABLE: return "hash function not usable";
	case DHCHAP_FAIL_DHGROUP_UNUSABLE: return "DH group not usable";
	case DHCHAP_FAIL_INCORRECT_PAYLOAD: return "incorrect payload";
	case DHCHAP_FAIL_INCORRECT_MESSAGE: return "incorrect protocol message";
	default: return "unknown reason";
	}
}

size_t dhchap_hash_len(unsigned hash_id)
{
	switch (hash_id) {
	case CSD_DHCHAP_SHA256: return 32;
	case CSD_DHCHAP_SHA384: return 48;
	case CSD_DHCHAP_SHA512: return 64;
	default: return 0;
	}
}

size_t dhchap_dh_len(unsigned dhgroup)
{
	static const size_t bits[] = { 0, 2048, 3072, 4096, 6144, 8192 };

	return dhgroup < sizeof(bits) / sizeof(bits[0]) ? bits[dhgroup] / 8 : 0;
}

static const EVP_MD *hash_md(unsigned hash_id)
{
	switch (hash_id) {
	case CSD_DHCHAP_SHA256: return EVP_sha256();
	case CSD_DHCHAP_SHA384: return EVP_sha384();
	case CSD_DHCHAP_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

int dhchap_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

bool dhchap_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

static int hmac(unsigned hash_id, const uint8_t *key, size_t key_len, const uint8_t *data,
		size_t data_len, uint8_t *out)
{
	const EVP_MD *md = hash_md(hash_id);
	unsigned int n = 0;

	if (!md || !HMAC(md, key, (int)key_len, data, data_len, out, &n))
		return -EINVAL;
	return 0;
}

int dhchap_transform_key(const struct csd_dhchap_key *key, const char *nqn,
			 uint8_t out[CSD_DHCHAP_MAX_KEY], size_t *out_len)
{
	uint8_t msg[256 + 17];
	size_t n = strlen(nqn);
	int ret;

	if (!key->hash) {
		memcpy(out, key->bytes, key->len);
		*out_len = key->len;
		return 0;
	}
	if (n > 256)
		return -EINVAL;
	memcpy(msg, nqn, n);
	memcpy(msg + n, "NVMe-over-Fabrics", 17);
	ret = hmac(key->hash, key->bytes, key->len, msg, n + 17, out);
	*out_len = dhchap_hash_len(key->hash);
	return ret;
}

int dhchap_response(const struct dhchap_response_in *in, uint8_t out[DHCHAP_MAX_HASH_LEN])
{
	const char *self = in->controller ? in->subnqn : in->hostnqn;
	const char *peer = in->controller ? in->hostnqn : in->subnqn;
	const char *role = in->controller ? "Controller" : "HostHost";
	size_t hl = dhchap_hash_len(in->hash_id), rl = strlen(role);
	size_t sl = strlen(self), pl = strlen(peer), n = 0;
	uint8_t tkey[CSD_DHCHAP_MAX_KEY], msg[DHCHAP_MAX_HASH_LEN + 7 + 10 + 2 * 257];
	uint8_t challenge[DHCHAP_MAX_HASH_LEN];
	size_t tkey_len;
	int ret;

	if (!hl || sl > 256 || pl > 256)
		return -EINVAL;
	memcpy(challenge, in->challenge, hl);
	if (in->sess_key) {
		/* C' = HMAC(H(Ks), C) */
		uint8_t hashed[DHCHAP_MAX_HASH_LEN];

		if (!EVP_Digest(in->sess_key, in->sess_key_len, hashed, NULL,
				hash_md(in->hash_id), NULL))
			return -EINVAL;
		ret = hmac(in->hash_id, hashed, hl, in->challenge, hl, challenge);
		OPENSSL_cleanse(hashed, sizeof(hashed));
		if (ret)
			return ret;
	}
	memcpy(msg, challenge, hl);
	n = hl;
	for (int i = 0; i < 4; i++)
		msg[n++] = (uint8_t)(in->seqnum >> (8 * i));
	msg[n++] = (uint8_t)in->tid;
	msg[n++] = (uint8_t)(in->tid >> 8);
	msg[n++] = 0;		/* secure channel concatenation: none */
	memcpy(msg + n, role, rl);
	n += rl;
	memcpy(msg + n, self, sl);
	n += sl;
	msg[n++] = 0;
	memcpy(msg + n, peer, pl);
	n += pl;
	ret = dhchap_transform_key(in->key, self, tkey, &tkey_len);
	if (!ret)
		ret = hmac(in->hash_id, tkey, tkey_len, msg, n, out);
	OPENSSL_cleanse(tkey, sizeof(tkey));
	OPENSSL_cleanse(challenge, sizeof(challenge));
	return ret;
}

int dhchap_dh_new(unsigned dhgroup, struct dhchap_dh **out, uint8_t *pub, size_t *pub_len)
{
	const char *name = csd_dhchap_dhgroup_name(dhgroup);
	struct dhchap_dh *dh = calloc(1, sizeof(*dh));
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *y = NULL;
	OSSL_PARAM params[2];
	int ret = -EINVAL;

	if (!dh)
		return -ENOMEM;
	dh->len = dhchap_dh_len(dhgroup);
	if (!dh->len || !name)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)name, 0);
	params[1] = OSSL_PARAM_construct_end();
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_params(ctx, params) <= 0 ||
	    EVP_PKEY_generate(ctx, &dh->key) <= 0 ||
	    !EVP_PKEY_get_bn_param(dh->key, OSSL_PKEY_PARAM_PUB_KEY, &y) ||
	    BN_bn2binpad(y, pub, (int)dh->len) != (int)dh->len) {
		ret = -EIO;
		goto out;
	}
	*pub_len = dh->len;
	*out = dh;
	dh = NULL;
	ret = 0;
out:
	BN_free(y);
	EVP_PKEY_CTX_free(ctx);
	dhchap_dh_free(dh);
	return ret;
}

int dhchap_dh_derive(struct dhchap_dh *dh, const uint8_t *peer, size_t peer_len, uint8_t *sess,
		     size_t *sess_len)
{
	EVP_PKEY *peer_key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t n = dh->len;
	int ret = -EINVAL;

	if (peer_len != dh->len)
		return -EINVAL;
	peer_key = EVP_PKEY_new();
	if (!peer_key || EVP_PKEY_copy_parameters(peer_key, dh->key) <= 0 ||
	    EVP_PKEY_set1_encoded_public_key(peer_key, peer, peer_len) <= 0)
		goto out;
	ctx = EVP_PKEY_CTX_new(dh->key, NULL);
	/* padded: Ks is as long as the prime, as the Linux host computes it */
	if (!ctx || EVP_PKEY_derive_init(ctx) <= 0 || EVP_PKEY_CTX_set_dh_pad(ctx, 1) <= 0 ||
	    EVP_PKEY_derive_set_peer(ctx, peer_key) <= 0 ||	/* checks 1 < y < p - 1 */
	    EVP_PKEY_derive(ctx, sess, &n) <= 0 || n != dh->len)
		goto out;
	*sess_len = n;
	ret = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer_key);
	return ret;
}

void dhchap_dh_free(struct dhchap_dh *dh)
{
	if (!dh)
		return;
	EVP_PKEY_free(dh->key);
	free(dh);
}
