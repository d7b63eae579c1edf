/* sha256.h — SHA-256 (FIPS 180-4), for digests of config documents and
 * artefacts recorded in the deploy journal. */
#ifndef SHIPSHAPE_SHA256_H
#define SHIPSHAPE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 65 /* 64 hex digits and the NUL */

struct sha256 {
	uint32_t h[8];
	uint64_t total; /* bytes hashed */
	unsigned char block[64];
	size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, unsigned char out[SHA256_DIGEST_LEN]);
/* The digest of data as lower-case hex into hex (SHA256_HEX_LEN bytes). */
const char *sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN]);
/* HMAC-SHA256 (RFC 2104) of msg under key, as lower-case hex into hex. */
const char *hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t len,
			    char hex[SHA256_HEX_LEN]);

#endif
