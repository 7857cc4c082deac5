/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The only file that includes OpenSSL headers: SHA-256, HMAC-SHA256,
 * secure random bytes, constant-time compare and cleansing of secrets.
 */
#ifndef CRYPTO_H
#define CRYPTO_H

#include <stddef.h>

#define CRYPTO_SHA256_LEN	32
#define CRYPTO_SHA256_HEXLEN	64
#define CRYPTO_SHA1_HEXLEN	40

void	crypto_sha256(const void *, size_t, unsigned char out[CRYPTO_SHA256_LEN]);
/* SHA1 as 40 lowercase hex digits and a NUL (Redis's script ids; not for security). */
void	crypto_sha1_hex(const void *, size_t, char out[CRYPTO_SHA1_HEXLEN + 1]);
/* out gets 64 lowercase hex digits and a NUL. */
void	crypto_sha256_hex(const void *, size_t, char out[CRYPTO_SHA256_HEXLEN + 1]);
void	crypto_hmac_sha256(const void *key, size_t keylen, const void *, size_t,
	    unsigned char out[CRYPTO_SHA256_LEN]);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void	crypto_hex(const unsigned char *, size_t n, char *out);
/* 0 or -1 (no entropy). */
int	crypto_random(void *, size_t);
/* Constant-time: 1 if equal. */
int	crypto_memeq(const void *, const void *, size_t);
void	crypto_cleanse(void *, size_t);

#endif
