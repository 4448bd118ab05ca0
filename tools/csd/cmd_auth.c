/* SPDX-License-Identifier: MIT */
/* csd gen-dhchap-key and check-dhchap-key: DH-HMAC-CHAP secrets, as nvme-cli makes them. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "csd/dhchap.h"
#include "util.h"

#define DEFAULT_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:csdlab-host"

static int hex_secret(const char *hex, uint8_t *out, size_t *len)
{
	size_t n = strlen(hex);

	if (n % 2 || n / 2 > CSD_DHCHAP_MAX_KEY)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		char byte[3] = { hex[2 * i], hex[2 * i + 1], '\0' };

		if (!isxdigit((unsigned char)byte[0]) || !isxdigit((unsigned char)byte[1]))
			return -1;
		out[i] = (uint8_t)strtoul(byte, NULL, 16);
	}
	*len = n / 2;
	return 0;
}

int cmd_gen_dhchap_key(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "nqn", required_argument, NULL, 'n' },
		{ "hmac", required_argument, NULL, 'm' },
		{ "key-length", required_argument, NULL, 'l' },
		{ "secret", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char usage[] =
		"usage: csd gen-dhchap-key [-n HOSTNQN] [-m HMAC] [-l KEYLEN] [-s HEX]\n"
		"  a DH-HMAC-CHAP secret (DHHC-1:..) for csd-target's --dhchap-keys, csd's and\n"
		"  nvme connect's --dhchap-secret; the same as nvme gen-dhchap-key makes\n"
		"  -n, --nqn NQN        host NQN the key is transformed with (default "
		DEFAULT_HOSTNQN ")\n"
		"  -m, --hmac N         0 none (default), 1 SHA-256, 2 SHA-384, 3 SHA-512\n"
		"  -l, --key-length N   32, 48 or 64 bytes (default: the hash's, or 32)\n"
		"  -s, --secret HEX     the key's bytes (default: random)\n";
	const char *nqn = DEFAULT_HOSTNQN;
	uint8_t secret[CSD_DHCHAP_MAX_KEY];
	size_t secret_len = 0;
	uint64_t hmac = 0, len = 0;
	bool have_secret = false;
	struct csd_dhchap_key key;
	char out[CSD_DHCHAP_SECRET_MAX], err[160];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:m:l:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': nqn = optarg; break;
		case 'm':
			if (csd_parse_size(optarg, &hmac) || hmac > 3) {
				fprintf(stderr, "csd: --hmac '%s': 0, 1, 2 or 3\n", optarg);
				return 1;
			}
			break;
		case 'l':
			if (csd_parse_size(optarg, &len) || (len != 32 && len != 48 && len != 64)) {
				fprintf(stderr, "csd: --key-length '%s': 32, 48 or 64\n", optarg);
				return 1;
			}
			break;
		case 's':
			if (hex_secret(optarg, secret, &secret_len)) {
				fprintf(stderr, "csd: --secret: up to 64 bytes in hex digits\n");
				return 1;
			}
			have_secret = true;
			break;
		case 'h': printf("%s", usage); return 0;
		default: fprintf(stderr, "%s", usage); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (have_secret) {
		if (len && len != secret_len) {
			fprintf(stderr, "csd: --secret has %zu bytes, --key-length says %u\n",
				secret_len, (unsigned)len);
			return 1;
		}
		len = secret_len;
	}
	if (csd_dhchap_key_generate(have_secret ? secret : NULL, (size_t)len, (unsigned)hmac, nqn,
				    &key, err, sizeof(err)) ||
	    csd_dhchap_key_format(&key, out, sizeof(out))) {
		fprintf(stderr, "csd: %s\n", err);
		return 1;
	}
	printf("%s\n", out);
	explicit_bzero(&key, sizeof(key));
	explicit_bzero(secret, sizeof(secret));
	return 0;
}

int cmd_check_dhchap_key(int argc, char **argv)
{
	struct csd_dhchap_key key;
	char err[160];

	if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(argc == 2 ? stdout : stderr,
			"usage: csd check-dhchap-key DHHC-1:XX:...:\n"
			"  checks a DH-HMAC-CHAP secret's form, length and CRC\n");
		return argc == 2 ? 0 : 2;
	}
	if (csd_dhchap_key_parse(argv[1], &key, err, sizeof(err))) {
		fprintf(stderr, "csd: %s\n", err);
		return 1;
	}
	printf("valid: %u-byte key, %s\n", key.len,
	       key.hash ? csd_dhchap_hash_name(key.hash) : "not transformed");
	explicit_bzero(&key, sizeof(key));
	return 0;
}
