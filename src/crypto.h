/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The only file that includes OpenSSL headers: SHA-256, HMAC-SHA256,
 * HKDF-SHA256, AES-256-GCM, secure random bytes, constant-time compare and
 * cleansing of secrets.
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

#define CRYPTO_AES256_KEYLEN	32
#define CRYPTO_GCM_NONCELEN	12	/* 96 bits */
#define CRYPTO_GCM_TAGLEN	16

/*
 * HKDF-SHA256 (RFC 5869): outlen bytes from the input key material, a salt
 * (may be NULL/0) and an info string.  0, or -1 if OpenSSL refused.
 */
int	crypto_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt,
	    size_t saltlen, const void *info, size_t infolen, unsigned char *out,
	    size_t outlen);
/*
 * AES-256-GCM: encrypt n bytes of in into out (n bytes) and a 16-byte tag,
 * authenticating aad too (may be NULL/0).  The nonce must never repeat
 * under one key.  0, or -1.
 */
int	crypto_aes256gcm_seal(const unsigned char key[CRYPTO_AES256_KEYLEN],
	    const unsigned char nonce[CRYPTO_GCM_NONCELEN], const void *aad,
	    size_t aadlen, const void *in, size_t n, unsigned char *out,
	    unsigned char tag[CRYPTO_GCM_TAGLEN]);
/*
 * The reverse: 0 when the tag matches (out holds the n plaintext bytes),
 * -1 otherwise (out is wiped).
 */
int	crypto_aes256gcm_open(const unsigned char key[CRYPTO_AES256_KEYLEN],
	    const unsigned char nonce[CRYPTO_GCM_NONCELEN], const void *aad,
	    size_t aadlen, const void *in, size_t n,
	    const unsigned char tag[CRYPTO_GCM_TAGLEN], unsigned char *out);

#endif
