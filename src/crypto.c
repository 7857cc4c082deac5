/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The gateway's only use of OpenSSL: SHA-256 for key hashes and cache
 * keys, HMAC-SHA256 for cache entries and receipts, HKDF-SHA256 and
 * AES-256-GCM for the provider keys projects bring (byok.c), random bytes
 * for ids, nonces and secrets, and constant-time comparison and cleansing
 * of secrets.
 */

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
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

/* HKDF-SHA256 (extract then expand) into out.  0, or -1. */
int
crypto_hkdf_sha256(const void *ikm, size_t ikmlen, const void *salt,
    size_t saltlen, const void *info, size_t infolen, unsigned char *out,
    size_t outlen)
{
	static const unsigned char	 empty[1];
	EVP_PKEY_CTX			*pctx;
	size_t				 len = outlen;
	int				 rc = -1;

	if (ikmlen > INT_MAX || saltlen > INT_MAX || infolen > INT_MAX ||
	    outlen == 0)
		return -1;
	if ((pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL)) == NULL)
		return -1;
	/* OpenSSL wants non-NULL pointers even for empty inputs. */
	if (EVP_PKEY_derive_init(pctx) == 1 &&
	    EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) == 1 &&
	    EVP_PKEY_CTX_set1_hkdf_salt(pctx, saltlen ? salt : empty,
	    (int)saltlen) == 1 &&
	    EVP_PKEY_CTX_set1_hkdf_key(pctx, ikmlen ? ikm : empty,
	    (int)ikmlen) == 1 &&
	    (infolen == 0 || EVP_PKEY_CTX_add1_hkdf_info(pctx, info,
	    (int)infolen) == 1) &&
	    EVP_PKEY_derive(pctx, out, &len) == 1 && len == outlen)
		rc = 0;
	EVP_PKEY_CTX_free(pctx);
	if (rc != 0)
		crypto_cleanse(out, outlen);
	return rc;
}

/* One AES-256-GCM pass; enc 1 seals (tag out), 0 opens (tag checked). */
static int
gcm(int enc, const unsigned char *key, const unsigned char *nonce,
    const void *aad, size_t aadlen, const void *in, size_t n,
    unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX	*ctx;
	unsigned char	 fin[32];
	int		 len, rc = -1;

	if (n > INT_MAX || aadlen > INT_MAX)
		return -1;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL,
	    enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
	    CRYPTO_GCM_NONCELEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
		goto out;
	if (aadlen > 0 && EVP_CipherUpdate(ctx, NULL, &len, aad,
	    (int)aadlen) != 1)
		goto out;
	if (n > 0 && (EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1 ||
	    (size_t)len != n))
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
	    CRYPTO_GCM_TAGLEN, tag) != 1)
		goto out;
	/* GCM writes nothing here; opening, this is where the tag is checked. */
	if (EVP_CipherFinal_ex(ctx, fin, &len) != 1 || len != 0)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
	    CRYPTO_GCM_TAGLEN, tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (rc != 0)
		crypto_cleanse(out, n);
	return rc;
}

/* Encrypt and authenticate; 0 or -1. */
int
crypto_aes256gcm_seal(const unsigned char key[CRYPTO_AES256_KEYLEN],
    const unsigned char nonce[CRYPTO_GCM_NONCELEN], const void *aad,
    size_t aadlen, const void *in, size_t n, unsigned char *out,
    unsigned char tag[CRYPTO_GCM_TAGLEN])
{
	return gcm(1, key, nonce, aad, aadlen, in, n, out, tag);
}

/* Check and decrypt; 0, or -1 (wrong key, nonce, aad, or tampered). */
int
crypto_aes256gcm_open(const unsigned char key[CRYPTO_AES256_KEYLEN],
    const unsigned char nonce[CRYPTO_GCM_NONCELEN], const void *aad,
    size_t aadlen, const void *in, size_t n,
    const unsigned char tag[CRYPTO_GCM_TAGLEN], unsigned char *out)
{
	unsigned char	 t[CRYPTO_GCM_TAGLEN];

	memcpy(t, tag, sizeof(t));
	return gcm(0, key, nonce, aad, aadlen, in, n, out, t);
}
