/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Bring your own keys without Redis: HKDF-SHA256 and AES-256-GCM against
 * published vectors, then sealing: round trip, a value moved to another
 * project or provider or opened under another secret fails, every
 * tampered byte fails, nonces do not repeat, bad keys are refused; the
 * cache (hits, negative entries, stale answers during an outage, eviction
 * wipes, threads); audit lines built and parsed back.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "byok.h"
#include "audit.h"
#include "unit.h"

/* Bytes of a hex string (test data only). */
static size_t
from_hex(const char *s, unsigned char *out)
{
	size_t	 n = 0;
	unsigned int v;

	while (s[0] != '\0' && s[1] != '\0' && sscanf(s, "%2x", &v) == 1) {
		out[n++] = (unsigned char)v;
		s += 2;
	}
	return n;
}

/* RFC 5869 A.1 and A.3. */
static void
test_hkdf(void)
{
	unsigned char	 ikm[22], salt[13], info[10], okm[42], want[42];
	char		 hex[85];
	size_t		 i;

	memset(ikm, 0x0b, sizeof(ikm));
	for (i = 0; i < sizeof(salt); i++)
		salt[i] = (unsigned char)i;
	for (i = 0; i < sizeof(info); i++)
		info[i] = (unsigned char)(0xf0 + i);
	CHECK(crypto_hkdf_sha256(ikm, sizeof(ikm), salt, sizeof(salt), info,
	    sizeof(info), okm, sizeof(okm)) == 0);
	crypto_hex(okm, sizeof(okm), hex);
	CHECK_STR(hex, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db0"
	    "2d56ecc4c5bf34007208d5b887185865");
	/* A.3: no salt, no info. */
	CHECK(crypto_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, okm,
	    sizeof(okm)) == 0);
	from_hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c"
	    "738d2d9d201395faa4b61a96c8", want);
	CHECK(memcmp(okm, want, sizeof(want)) == 0);
	CHECK(crypto_hkdf_sha256(ikm, sizeof(ikm), NULL, 0, NULL, 0, okm, 0)
	    == -1);
}

/* The GCM specification's test cases 13 and 14 (AES-256, zero key and IV). */
static void
test_gcm_vectors(void)
{
	unsigned char	 key[32] = { 0 }, iv[12] = { 0 }, p[16] = { 0 };
	unsigned char	 c[16], tag[16], back[16], want[16];
	char		 hex[33];

	CHECK(crypto_aes256gcm_seal(key, iv, NULL, 0, p, 0, c, tag) == 0);
	crypto_hex(tag, 16, hex);
	CHECK_STR(hex, "530f8afbc74536b9a963b4f1c4cb738b");
	CHECK(crypto_aes256gcm_seal(key, iv, NULL, 0, p, 16, c, tag) == 0);
	crypto_hex(c, 16, hex);
	CHECK_STR(hex, "cea7403d4d606b6e074ec5d3baf39d18");
	crypto_hex(tag, 16, hex);
	CHECK_STR(hex, "d0d1c8a799996bf0265b98b5d48ab919");
	CHECK(crypto_aes256gcm_open(key, iv, NULL, 0, c, 16, tag, back) == 0);
	CHECK(memcmp(back, p, 16) == 0);
	/* A changed tag, ciphertext or aad: refused, output wiped. */
	tag[15] ^= 1;
	memset(back, 0x55, sizeof(back));
	CHECK(crypto_aes256gcm_open(key, iv, NULL, 0, c, 16, tag, back) == -1);
	memset(want, 0, sizeof(want));
	CHECK(memcmp(back, want, 16) == 0);
	tag[15] ^= 1;
	c[0] ^= 0x80;
	CHECK(crypto_aes256gcm_open(key, iv, NULL, 0, c, 16, tag, back) == -1);
	c[0] ^= 0x80;
	CHECK(crypto_aes256gcm_open(key, iv, "x", 1, c, 16, tag, back) == -1);
}

static const char PLAIN[] = "sk-ant-api03-Abc_def-0123456789xyzXYZ";

/* Seal then open; moved, other secret, tampered: all fail. */
static void
test_seal_open(void)
{
	struct byok_key	 k, k2;
	char		 sealed[BYOK_SEALED_MAX], copy[BYOK_SEALED_MAX];
	char		 out[BYOK_PLAIN_MAX + 1], err[256];
	size_t		 len, i;
	int		 bad = 0;

	CHECK(byok_key_derive("server-secret-1", 15, &k) == 0);
	CHECK(byok_key_derive("server-secret-2", 15, &k2) == 0);
	CHECK(strcmp(k.kid, k2.kid) != 0);
	CHECK(byok_seal(&k, "shop", "anthropic", PLAIN, strlen(PLAIN), sealed,
	    sizeof(sealed), err, sizeof(err)) == 0);
	len = strlen(sealed);
	CHECK(strncmp(sealed, "nmbyok1:", 8) == 0);
	CHECK(strstr(sealed, PLAIN) == NULL);
	CHECK(strstr(sealed, "sk-ant") == NULL);
	CHECK(byok_open(&k, "shop", "anthropic", sealed, len, out, sizeof(out),
	    err, sizeof(err)) == 0);
	CHECK_STR(out, PLAIN);
	/* Moved to another project, or another provider. */
	CHECK(byok_open(&k, "shop2", "anthropic", sealed, len, out,
	    sizeof(out), err, sizeof(err)) == -1);
	CHECK(out[0] == '\0');
	CHECK(strstr(err, "project shop2") != NULL);
	CHECK(strstr(err, PLAIN) == NULL);
	CHECK(byok_open(&k, "shop", "openai", sealed, len, out, sizeof(out),
	    err, sizeof(err)) == -1);
	/* The NUL separators: "a"+"bc" is not "ab"+"c". */
	CHECK(byok_seal(&k, "ab", "c", PLAIN, strlen(PLAIN), copy,
	    sizeof(copy), err, sizeof(err)) == 0);
	CHECK(byok_open(&k, "a", "bc", copy, strlen(copy), out, sizeof(out),
	    err, sizeof(err)) == -1);
	/* Another server secret: said so. */
	CHECK(byok_open(&k2, "shop", "anthropic", sealed, len, out,
	    sizeof(out), err, sizeof(err)) == -1);
	CHECK(strstr(err, "another server secret") != NULL);
	/* Another secret with the kid forged to match still fails at the tag. */
	memcpy(copy, sealed, len + 1);
	memcpy(copy + 8, k2.kid, 8);
	CHECK(byok_open(&k2, "shop", "anthropic", copy, len, out, sizeof(out),
	    err, sizeof(err)) == -1);
	/* Every byte after the version, changed to another hex digit. */
	for (i = 8; i < len; i++) {
		if (sealed[i] == ':')
			continue;
		memcpy(copy, sealed, len + 1);
		copy[i] = copy[i] == '0' ? '1' : '0';
		if (byok_open(&k, "shop", "anthropic", copy, len, out,
		    sizeof(out), err, sizeof(err)) != -1 || out[0] != '\0')
			bad++;
	}
	CHECK(bad == 0);
	/* Truncated, extended, junk. */
	for (i = 0; i < len; i += 7)
		CHECK(byok_open(&k, "shop", "anthropic", sealed, i, out,
		    sizeof(out), err, sizeof(err)) == -1);
	memcpy(copy, sealed, len);
	memcpy(copy + len, "00", 3);
	CHECK(byok_open(&k, "shop", "anthropic", copy, len + 2, out,
	    sizeof(out), err, sizeof(err)) == -1);
	CHECK(byok_open(&k, "shop", "anthropic", "nmbyok2:x", 9, out,
	    sizeof(out), err, sizeof(err)) == -1);
	CHECK(byok_open(&k, "shop", "anthropic", "", 0, out, sizeof(out), err,
	    sizeof(err)) == -1);
	/* Too small a buffer. */
	CHECK(byok_open(&k, "shop", "anthropic", sealed, len, out, 5, err,
	    sizeof(err)) == -1);
	/* The longest key round-trips. */
	{
		char big[BYOK_PLAIN_MAX + 2];

		memset(big, 'k', sizeof(big));
		CHECK(byok_seal(&k, "p", "q", big, BYOK_PLAIN_MAX, sealed,
		    sizeof(sealed), err, sizeof(err)) == 0);
		CHECK(byok_open(&k, "p", "q", sealed, strlen(sealed), out,
		    sizeof(out), err, sizeof(err)) == 0);
		CHECK(strlen(out) == BYOK_PLAIN_MAX);
		CHECK(byok_seal(&k, "p", "q", big, BYOK_PLAIN_MAX + 1, sealed,
		    sizeof(sealed), err, sizeof(err)) == -1);
	}
	byok_key_wipe(&k);
	byok_key_wipe(&k2);
}

/* 2000 seals of one key: no nonce twice, no ciphertext twice. */
static void
test_nonces(void)
{
	enum { N = 2000 };
	struct byok_key	 k;
	char		(*nonce)[25];
	char		 sealed[BYOK_SEALED_MAX], err[128];
	int		 i, j, dup = 0;

	nonce = calloc(N, sizeof(*nonce));
	CHECK(byok_key_derive("s", 1, &k) == 0);
	for (i = 0; i < N; i++) {
		CHECK(byok_seal(&k, "p", "openai", PLAIN, strlen(PLAIN), sealed,
		    sizeof(sealed), err, sizeof(err)) == 0);
		memcpy(nonce[i], sealed + 17, 24);
	}
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++)
			dup += memcmp(nonce[i], nonce[j], 24) == 0;
	CHECK(dup == 0);
	free(nonce);
}

/* Names and key text refused. */
static void
test_checks(void)
{
	static const char *const bad_plain[] = { "sk-abc\n", "sk-\rabc",
	    "sk abc", "sk-\tabc", "sk-\x01", "sk-\x7f", "caf\xc3\xa9", "" };
	struct byok_key	 k;
	char		 err[256], sealed[BYOK_SEALED_MAX], fp[BYOK_FP_LEN];
	size_t		 i;

	for (i = 0; i < NM_NELEM(bad_plain); i++) {
		CHECK(byok_check_plain(bad_plain[i], strlen(bad_plain[i]), err,
		    sizeof(err)) == -1);
		CHECK(strstr(err, "sk") == NULL);
	}
	CHECK(byok_check_plain("sk-1", 4, err, sizeof(err)) == 0);
	CHECK(byok_check_plain("a\nb", 3, err, sizeof(err)) == -1);
	CHECK(strstr(err, "line feed at byte 2") != NULL);
	CHECK(byok_check_names("shop", "anthropic", err, sizeof(err)) == 0);
	CHECK(byok_check_names("api:v2", "open_ai.x-1", err, sizeof(err)) == 0);
	CHECK(byok_check_names("with space", "openai", err, sizeof(err)) == -1);
	CHECK(byok_check_names("shop", "open ai", err, sizeof(err)) == -1);
	CHECK(byok_check_names("shop", "a:b", err, sizeof(err)) == -1);
	CHECK(byok_check_names("shop", "", err, sizeof(err)) == -1);
	CHECK(byok_check_names(NULL, "x", err, sizeof(err)) == -1);
	CHECK(byok_key_derive("s", 1, &k) == 0);
	CHECK(byok_seal(&k, "shop", "x y", "sk-1", 4, sealed, sizeof(sealed),
	    err, sizeof(err)) == -1);
	CHECK(byok_seal(&k, "shop", "x", "sk-1", 4, sealed, 10, err,
	    sizeof(err)) == -1);
	byok_fingerprint("abc", 3, fp);
	CHECK_STR(fp, "sha256:ba7816bf");
	byok_redis_key("shop", "anthropic", sealed, sizeof(sealed));
	CHECK_STR(sealed, "nm:{p:shop}:byok:anthropic");
}

/* The cache, on one thread. */
static void
test_cache(void)
{
	struct byok_cache	*c;
	char			 out[BYOK_PLAIN_MAX + 1];

	byok_cache_free(NULL);
	c = byok_cache_new(60000, 2);
	CHECK(c != NULL);
	CHECK(byok_cache_get(c, "p", "a", out, sizeof(out)) == BYOK_ASK);
	/* Redis failed and nothing cached: -1. */
	CHECK(byok_cache_put(c, "p", "a", -1, NULL, out, sizeof(out)) == -1);
	CHECK(byok_cache_put(c, "p", "a", BYOK_FOUND, "sk-1", out,
	    sizeof(out)) == BYOK_FOUND);
	CHECK_STR(out, "sk-1");
	memset(out, 0, sizeof(out));
	CHECK(byok_cache_get(c, "p", "a", out, sizeof(out)) == BYOK_FOUND);
	CHECK_STR(out, "sk-1");
	CHECK(byok_cache_get(c, "p", "b", out, sizeof(out)) == BYOK_ASK);
	CHECK(byok_cache_put(c, "p", "b", BYOK_NONE, NULL, out, sizeof(out)) ==
	    BYOK_NONE);
	/* Negative entries live min(ttl, 1 s): still fresh now. */
	CHECK(byok_cache_get(c, "p", "b", out, sizeof(out)) == BYOK_NONE);
	CHECK(byok_cache_count(c) == 2);
	/* A third entry evicts the least recently used ("p","a"? no: "b" was used last). */
	CHECK(byok_cache_get(c, "p", "a", out, sizeof(out)) == BYOK_FOUND);
	CHECK(byok_cache_put(c, "q", "a", BYOK_BROKEN, NULL, out,
	    sizeof(out)) == BYOK_BROKEN);
	CHECK(byok_cache_count(c) == 2);
	CHECK(byok_cache_get(c, "p", "b", out, sizeof(out)) == BYOK_ASK);
	CHECK(byok_cache_get(c, "p", "a", out, sizeof(out)) == BYOK_FOUND);
	CHECK(byok_cache_get(c, "q", "a", out, sizeof(out)) == BYOK_BROKEN);
	byok_cache_forget(c, "p", "a");
	CHECK(byok_cache_get(c, "p", "a", out, sizeof(out)) == BYOK_ASK);
	CHECK(byok_cache_count(c) == 1);
	/* Too small an out: refused, not truncated. */
	CHECK(byok_cache_put(c, "p", "a", BYOK_FOUND, "sk-12345", out, 4) ==
	    BYOK_BROKEN);
	byok_cache_free(c);

	/* ttl 0: always ask; an outage keeps the stale answer. */
	c = byok_cache_new(0, 0);
	CHECK(byok_cache_put(c, "p", "a", BYOK_FOUND, "sk-2", out,
	    sizeof(out)) == BYOK_FOUND);
	CHECK(byok_cache_get(c, "p", "a", out, sizeof(out)) == BYOK_ASK);
	/* While one thread refreshes, the others keep the old answer. */
	CHECK(byok_cache_get(c, "p", "a", out, sizeof(out)) == BYOK_FOUND);
	CHECK(byok_cache_put(c, "p", "a", -1, NULL, out, sizeof(out)) ==
	    BYOK_FOUND);
	CHECK_STR(out, "sk-2");
	CHECK(byok_cache_get(c, "p", "a", out, sizeof(out)) == BYOK_ASK);
	CHECK(byok_cache_put(c, "p", "a", BYOK_NONE, NULL, out, sizeof(out)) ==
	    BYOK_NONE);
	CHECK(out[0] == '\0');
	byok_cache_free(c);
}

struct worker_arg {
	struct byok_cache	*c;
	int			 id, wrong;
};

/* A thread: look up and store many names; check each answer's key. */
static void *
worker(void *p)
{
	struct worker_arg	*a = p;
	char			 proj[16], want[32], out[BYOK_PLAIN_MAX + 1];
	int			 i, rc;

	for (i = 0; i < 20000; i++) {
		snprintf(proj, sizeof(proj), "p%d", (i * 7 + a->id) % 40);
		snprintf(want, sizeof(want), "sk-%s", proj);
		rc = byok_cache_get(a->c, proj, "openai", out, sizeof(out));
		if (rc == BYOK_ASK)
			rc = byok_cache_put(a->c, proj, "openai", BYOK_FOUND,
			    want, out, sizeof(out));
		if (rc != BYOK_FOUND || strcmp(out, want) != 0)
			a->wrong++;
	}
	return NULL;
}

/* Four threads on a cache smaller than their working set. */
static void
test_cache_threads(void)
{
	struct worker_arg	 a[4];
	pthread_t		 t[4];
	struct byok_cache	*c = byok_cache_new(5, 16);
	int			 i, wrong = 0;

	for (i = 0; i < 4; i++) {
		a[i].c = c;
		a[i].id = i;
		a[i].wrong = 0;
		pthread_create(&t[i], NULL, worker, &a[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		wrong += a[i].wrong;
	}
	CHECK(wrong == 0);
	CHECK(byok_cache_count(c) == 16);
	byok_cache_free(c);
}

/* Audit lines: built, parsed back, bad ones refused. */
static void
test_audit(void)
{
	struct audit_view	 v;
	struct buf		 b;
	char			 err[256];

	buf_init(&b, 0);
	CHECK(audit_line(&b, "alice", "provider_key.set", "shop/anthropic",
	    "{\"fingerprint\":\"sha256:ba7816bf\"}", "nextmodelctl",
	    1796317440123LL, err, sizeof(err)) == 0);
	CHECK(strncmp(b.data, "{\"id\":\"aud_", 11) == 0);
	CHECK(strstr(b.data, "\"time\":\"2026-12-03T") != NULL);
	CHECK(strstr(b.data, "\"details\":{\"fingerprint\":\"sha256:ba7816bf\"}")
	    != NULL);
	CHECK(audit_parse(b.data, b.len, &v, err, sizeof(err)) == 0);
	CHECK_STR(v.actor, "alice");
	CHECK_STR(v.action, "provider_key.set");
	CHECK_STR(v.target, "shop/anthropic");
	CHECK_STR(v.day, "2026-12-03");
	CHECK_STR(v.tool, "nextmodelctl");
	CHECK(v.pid > 0);
	CHECK(strlen(v.id) == AUDIT_ID_LEN);
	buf_reset(&b);
	CHECK(audit_line(&b, "a\"b", "x", NULL, NULL, NULL, 0, err,
	    sizeof(err)) == 0);
	CHECK(audit_parse(b.data, b.len, &v, err, sizeof(err)) == 0);
	CHECK_STR(v.actor, "a\"b");
	buf_reset(&b);
	CHECK(audit_line(&b, "a", "x", NULL, "[1]", NULL, 0, err,
	    sizeof(err)) == -1);
	CHECK(audit_line(&b, "a", "x", NULL, "{\"a\":", NULL, 0, err,
	    sizeof(err)) == -1);
	CHECK(audit_line(&b, "", "x", NULL, NULL, NULL, 0, err,
	    sizeof(err)) == -1);
	CHECK(audit_parse("{}", 2, &v, err, sizeof(err)) == -1);
	CHECK(audit_parse("{\"id\":\"aud_x\",\"time\":\"2026-12-03T00:00:00Z\"}",
	    44, &v, err, sizeof(err)) == -1);
	CHECK(audit_parse("{\"time\":\"x\",\"id\":\"aud_012345678901234567890123\"}",
	    47, &v, err, sizeof(err)) == -1);
	CHECK(audit_parse("not json", 8, &v, err, sizeof(err)) == -1);
	buf_free(&b);
}

int
main(void)
{
	test_hkdf();
	test_gcm_vectors();
	test_seal_open();
	test_nonces();
	test_checks();
	test_cache();
	test_cache_threads();
	test_audit();
	UNIT_DONE();
}
