/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The gateway's only use of OpenSSL: SHA-256 for key hashes and cache
 * keys, HMAC-SHA256 for cache entries and receipts, random bytes for ids
 * and secrets, and constant-time comparison and cleansing of secrets.
 */

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "crypto.h"
#include "nextmodel.h"

/* SHA-256 of n bytes.  A failure means OpenSSL is unusable: fatal. */
void
crypto_sha256(const void *p, size_t n, unsigned char out[CRYPTO_SHA256_LEN])
{
	unsigned int	len = 0;

	if (p == NULL)
		p = "";
	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 ||
	    len != CRYPTO_SHA256_LEN)
		fatalx("SHA-256 failed");
}

/* SHA-256 of n bytes as 64 lowercase hex digits and a NUL. */
void
crypto_sha256_hex(const void *p, size_t n, char out[CRYPTO_SHA256_HEXLEN + 1])
{
	unsigned char	md[CRYPTO_SHA256_LEN];

	crypto_sha256(p, n, md);
	crypto_hex(md, sizeof(md), out);
}

/* SHA1 of n bytes as hex: the id Redis gives a script (EVALSHA). */
void
crypto_sha1_hex(const void *p, size_t n, char out[CRYPTO_SHA1_HEXLEN + 1])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	len = 0;

	if (p == NULL)
		p = "";
	if (EVP_Digest(p, n, md, &len, EVP_sha1(), NULL) != 1 || len != 20)
		fatalx("SHA1 failed");
	crypto_hex(md, len, out);
}

/* HMAC-SHA256 of n bytes under key.  A failure is fatal, as above. */
void
crypto_hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
    unsigned char out[CRYPTO_SHA256_LEN])
{
	static const unsigned char	empty[1];
	unsigned int			len = 0;

	/* OpenSSL 3 refuses a NULL key even when its length is 0. */
	if (key == NULL || keylen == 0) {
		key = empty;
		keylen = 0;
	}
	if (p == NULL)
		p = empty;
	if (keylen > INT_MAX ||
	    HMAC(EVP_sha256(), key, (int)keylen, p, n, out, &len) == NULL ||
	    len != CRYPTO_SHA256_LEN)
		fatalx("HMAC-SHA256 failed");
}

/* Lowercase hex of n bytes into out, which holds 2n + 1 bytes. */
void
crypto_hex(const unsigned char *p, size_t n, char *out)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* n bytes from the CSPRNG.  0, or -1 if it could not be seeded. */
int
crypto_random(void *p, size_t n)
{
	unsigned char	*u = p;
	int		 chunk;

	while (n > 0) {
		chunk = n > INT_MAX ? INT_MAX : (int)n;
		if (RAND_bytes(u, chunk) != 1)
			return -1;
		u += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

/* 1 if the n bytes are equal, in time that depends only on n. */
int
crypto_memeq(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return 1;
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* Overwrite a secret so the compiler cannot drop the store.  NULL is fine. */
void
crypto_cleanse(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}
