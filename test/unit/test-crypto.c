/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for crypto: SHA-256 (FIPS 180-2 examples) and HMAC-SHA256
 * (RFC 4231) against published vectors, hex, random, memeq, cleanse.
 */

#include <string.h>

#include "crypto.h"
#include "nextmodel.h"
#include "unit.h"

struct sha_case {
	const char	*in;
	const char	*hex;
};

static const struct sha_case sha_cases[] = {
	{ "abc",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
};

struct hmac_case {
	unsigned char	 keybyte;	/* key is keylen copies of it ... */
	size_t		 keylen;
	const char	*key;		/* ... unless this is set */
	unsigned char	 databyte;	/* data is datalen copies of it ... */
	size_t		 datalen;
	const char	*data;		/* ... unless this is set */
	const char	*hex;
};

/* RFC 4231 test cases 1, 2, 3 and 6. */
static const struct hmac_case hmac_cases[] = {
	{ 0x0b, 20, NULL, 0, 0, "Hi There",
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ 0, 0, "Jefe", 0, 0, "what do ya want for nothing?",
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ 0xaa, 20, NULL, 0xdd, 50, NULL,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ 0xaa, 131, NULL, 0, 0,
	  "Test Using Larger Than Block-Size Key - Hash Key First",
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
};

/* SHA-256, raw and hex. */
static void
test_sha256(void)
{
	unsigned char	md[CRYPTO_SHA256_LEN];
	char		hex[CRYPTO_SHA256_HEXLEN + 1];
	size_t		i;

	for (i = 0; i < NM_NELEM(sha_cases); i++) {
		crypto_sha256_hex(sha_cases[i].in, strlen(sha_cases[i].in), hex);
		CHECK_STR(hex, sha_cases[i].hex);
		crypto_sha256(sha_cases[i].in, strlen(sha_cases[i].in), md);
		crypto_hex(md, sizeof(md), hex);
		CHECK_STR(hex, sha_cases[i].hex);
	}
	crypto_sha256_hex(NULL, 0, hex);
	CHECK_STR(hex, sha_cases[1].hex);
}

/* HMAC-SHA256 against RFC 4231. */
static void
test_hmac(void)
{
	unsigned char	key[200], data[200], md[CRYPTO_SHA256_LEN];
	char		hex[CRYPTO_SHA256_HEXLEN + 1];
	size_t		i, klen, dlen;

	for (i = 0; i < NM_NELEM(hmac_cases); i++) {
		const struct hmac_case *c = &hmac_cases[i];

		if (c->key != NULL) {
			klen = strlen(c->key);
			memcpy(key, c->key, klen);
		} else {
			klen = c->keylen;
			memset(key, c->keybyte, klen);
		}
		if (c->data != NULL) {
			dlen = strlen(c->data);
			memcpy(data, c->data, dlen);
		} else {
			dlen = c->datalen;
			memset(data, c->databyte, dlen);
		}
		crypto_hmac_sha256(key, klen, data, dlen, md);
		crypto_hex(md, sizeof(md), hex);
		CHECK_STR(hex, c->hex);
	}
	/* An empty key works (OpenSSL 3 dislikes NULL keys). */
	crypto_hmac_sha256(NULL, 0, "x", 1, md);
	crypto_hmac_sha256("", 0, "x", 1, data);
	CHECK(memcmp(md, data, sizeof(md)) == 0);
}

/* hex, random bytes, constant-time compare, cleanse. */
static void
test_misc(void)
{
	static const unsigned char	bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab,
	    0xff };
	unsigned char			a[32], b[32], zero[32];
	char				hex[13];

	crypto_hex(bytes, sizeof(bytes), hex);
	CHECK_STR(hex, "00017f80abff");
	crypto_hex(bytes, 0, hex);
	CHECK_STR(hex, "");

	memset(zero, 0, sizeof(zero));
	CHECK(crypto_random(a, sizeof(a)) == 0);
	CHECK(crypto_random(b, sizeof(b)) == 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK(memcmp(a, zero, sizeof(a)) != 0);
	CHECK(crypto_random(a, 0) == 0);

	CHECK(crypto_memeq("secret", "secret", 6) == 1);
	CHECK(crypto_memeq("secret", "secreT", 6) == 0);
	CHECK(crypto_memeq("Xecret", "secret", 6) == 0);
	CHECK(crypto_memeq("a", "b", 0) == 1);

	memset(a, 0x5a, sizeof(a));
	crypto_cleanse(a, sizeof(a));
	CHECK(memcmp(a, zero, sizeof(a)) == 0);
	crypto_cleanse(NULL, 10);
}

int
main(void)
{
	test_sha256();
	test_hmac();
	test_misc();
	UNIT_DONE();
}
