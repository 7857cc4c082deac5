/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for cache: the key's format and that no two inputs share
 * one, the entry round trip, every tampered or truncated byte caught, an
 * entry moved under another key refused, the encoder's limits, and the SSE
 * replay parsed back to the answer it came from, cut whole or along the
 * pieces of the stream it was first served as.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "sse.h"
#include "unit.h"

#define S(x)	{ (x), sizeof(x) - 1 }

static const char test_answer[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"Hello \\\"there\\\"\\n\\u00e9\"},\"logprobs\":null,"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
    "\"completion_tokens\":5,\"total_tokens\":17}}";

/* test_answer's content as a stream cut it: "", "Hello ", "\"there\"", "\n\u00e9". */
static const char test_pieces[] =
    "\x01\x00\x00\x00\x00\x00\x00\x00"
    "\x01\x00\x00\x00\x00\x00\x00\x06"
    "\x01\x00\x00\x00\x00\x00\x00\x07"
    "\x01\x00\x00\x00\x00\x00\x00\x03";

/* An entry filled with test values. */
static struct cache_entry
test_entry(void)
{
	struct cache_entry	e = {
		.scope = S("project:alpha"),
		.model = S("gpt-4o-mini"),
		.mode = CANON_EXACT,
		.request = S("{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],"
		    "\"model\":\"gpt-4o-mini\"}"),
		.provider = S("openai"),
		.answer = S(test_answer),
		.pieces = S(test_pieces),
		.created = 1700000000,
		.prompt_tokens = 12,
		.completion_tokens = 5,
		.total_tokens = 17,
		.cost = 4800,
	};

	return e;
}

/* Append v as 8 big-endian bytes. */
static void
put8(struct buf *b, uint64_t v)
{
	unsigned char	p[8];
	int		i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
	buf_append(b, p, 8);
}

/* The key: its exact format, and every input changes it. */
static void
test_key(void)
{
	static const struct {
		const char	*scope, *model, *req;
		enum canon_mode	 mode;
	} keys[] = {
		{ "project:a", "m", "{}", CANON_EXACT },
		{ "project:b", "m", "{}", CANON_EXACT },
		{ "team:a", "m", "{}", CANON_EXACT },
		{ "global", "m", "{}", CANON_EXACT },
		{ "project:a", "m2", "{}", CANON_EXACT },
		{ "project:a", "m", "{}", CANON_TEXT },
		{ "project:a", "m", "{ }", CANON_EXACT },
		{ "project:a", "m", "", CANON_EXACT },
		/* Moving bytes between fields never collides. */
		{ "project:ab", "c", "{}", CANON_EXACT },
		{ "project:a", "bc", "{}", CANON_EXACT },
		{ "project:abc", "", "{}", CANON_EXACT },
		{ "project:a", "", "bc{}", CANON_EXACT },
		{ "", "project:a", "{}", CANON_EXACT },
	};
	unsigned char	 md[NM_NELEM(keys)][CRYPTO_SHA256_LEN], want[32];
	char		 hex[CRYPTO_SHA256_HEXLEN + 1], whex[65];
	struct buf	 b;
	size_t		 i, k;

	for (i = 0; i < NM_NELEM(keys); i++)
		CHECK(cache_key(keys[i].scope, keys[i].model, keys[i].mode,
		    keys[i].req, strlen(keys[i].req), md[i]) == 0);
	for (i = 0; i < NM_NELEM(keys); i++) {
		for (k = i + 1; k < NM_NELEM(keys); k++)
			CHECK(memcmp(md[i], md[k], 32) != 0);
	}

	/* The format, spelled out: tag, then each field with a 64-bit length. */
	buf_init(&b, 0);
	buf_appends(&b, "nextmodel-cache-key-v1");
	put8(&b, 9);
	buf_appends(&b, "project:a");
	put8(&b, 1);
	buf_appends(&b, "m");
	put8(&b, 9);
	buf_appends(&b, "canonical");
	put8(&b, 2);
	buf_appends(&b, "{}");
	crypto_sha256(b.data, b.len, want);
	CHECK(memcmp(md[5], want, 32) == 0);
	buf_free(&b);

	CHECK(cache_key_hex("project:a", "m", CANON_TEXT, "{}", 2, hex) == 0);
	crypto_hex(want, 32, whex);
	CHECK_STR(hex, whex);
	/* Stable: the same inputs, the same key. */
	CHECK(cache_key("project:a", "m", CANON_EXACT, "{}", 2, want) == 0);
	CHECK(memcmp(md[0], want, 32) == 0);
}

/* The HMAC key is derived, not the secret itself. */
static void
test_hmac_key(void)
{
	unsigned char	k[32], want[32];

	cache_hmac_key("s3cret", 6, k);
	crypto_hmac_sha256("s3cret", 6, "nextmodel-cache-v1", 18, want);
	CHECK(memcmp(k, want, 32) == 0);
	cache_hmac_key("s3cres", 6, want);
	CHECK(memcmp(k, want, 32) != 0);
}

/* 1 if the two strings hold the same bytes. */
static int
str_eq(const struct cache_str *a, const struct cache_str *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* Encode, decode, every field back. */
static void
test_round_trip(void)
{
	struct cache_entry	e = test_entry(), d;
	unsigned char		key[32];
	struct buf		b;
	char			err[128];

	cache_hmac_key("secret", 6, key);
	buf_init(&b, 0);
	CHECK(cache_entry_encode(&e, key, &b, err, sizeof(err)) == 0);
	CHECK(b.len == CACHE_ENTRY_OVERHEAD + e.scope.len + e.model.len +
	    e.provider.len + e.request.len + e.answer.len + e.pieces.len);
	CHECK(memcmp(b.data, "NMC2", 4) == 0);
	CHECK(cache_entry_decode_verify(b.data, b.len, key, &e, &d) ==
	    CACHE_ENTRY_OK);
	CHECK(str_eq(&d.scope, &e.scope) && str_eq(&d.model, &e.model) &&
	    str_eq(&d.request, &e.request) && str_eq(&d.provider, &e.provider) &&
	    str_eq(&d.answer, &e.answer) && str_eq(&d.pieces, &e.pieces));
	CHECK(d.mode == e.mode && d.created == e.created &&
	    d.prompt_tokens == 12 && d.completion_tokens == 5 &&
	    d.total_tokens == 17 && d.cost == 4800);
	/* Decoded fields point into the entry: no copies. */
	CHECK(d.answer.p >= b.data && d.answer.p + d.answer.len <= b.data + b.len);
	buf_free(&b);

	/* Empty fields, the canonical mode, extreme numbers. */
	e.provider.len = 0;
	e.provider.p = NULL;
	e.answer.len = 0;
	e.pieces.len = 0;
	e.mode = CANON_TEXT;
	e.created = INT64_MIN;
	e.cost = INT64_MAX;
	buf_init(&b, 0);
	CHECK(cache_entry_encode(&e, key, &b, err, sizeof(err)) == 0);
	CHECK(cache_entry_decode_verify(b.data, b.len, key, &e, &d) ==
	    CACHE_ENTRY_OK);
	CHECK(d.provider.len == 0 && d.answer.len == 0 && d.pieces.len == 0 &&
	    d.mode == CANON_TEXT && d.created == INT64_MIN &&
	    d.cost == INT64_MAX);
	buf_free(&b);
	CHECK_STR(cache_verdict_name(CACHE_ENTRY_OK), "ok");
	CHECK_STR(cache_verdict_name(CACHE_ENTRY_FORGED), "forged");
	CHECK_STR(cache_verdict_name(CACHE_ENTRY_MISMATCH), "mismatch");
	CHECK_STR(cache_verdict_name(CACHE_ENTRY_BAD), "bad");
}

/* cache_piece_append writes the documented layout, and refuses what does not fit. */
static void
test_piece_append(void)
{
	struct buf	b;

	buf_init(&b, 0);
	CHECK(cache_piece_append(&b, CACHE_PIECE_CONTENT, 0, 0, 0) == 0);
	CHECK(cache_piece_append(&b, CACHE_PIECE_CONTENT, 0, 0, 6) == 0);
	CHECK(cache_piece_append(&b, CACHE_PIECE_CONTENT, 0, 0, 7) == 0);
	CHECK(cache_piece_append(&b, CACHE_PIECE_CONTENT, 0, 0, 3) == 0);
	CHECK(b.len == sizeof(test_pieces) - 1 &&
	    memcmp(b.data, test_pieces, b.len) == 0);
	buf_reset(&b);
	CHECK(cache_piece_append(&b, CACHE_PIECE_TOOL, 255, 0x1234,
	    0x01020304) == 0);
	CHECK(b.len == 8 && memcmp(b.data,
	    "\x03\xff\x12\x34\x01\x02\x03\x04", 8) == 0);
	CHECK(cache_piece_append(&b, CACHE_PIECE_TOOL, 256, 0, 1) == -1);
	CHECK(cache_piece_append(&b, CACHE_PIECE_TOOL, 0, 65536, 1) == -1);
	CHECK(cache_piece_append(&b, CACHE_PIECE_TOOL, -1, 0, 1) == -1);
	CHECK(b.len == 8);
	buf_free(&b);
}

/* Every flipped bit and every truncation is caught, with the right verdict. */
static void
test_tamper(void)
{
	struct cache_entry	 e = test_entry(), d;
	unsigned char		 key[32], other[32], *copy;
	struct buf		 b;
	char			 err[128];
	size_t			 i;
	int			 bit, all = 1;
	enum cache_verdict	 v;

	cache_hmac_key("secret", 6, key);
	cache_hmac_key("other secret", 12, other);
	buf_init(&b, 0);
	CHECK(cache_entry_encode(&e, key, &b, err, sizeof(err)) == 0);
	copy = malloc(b.len);
	CHECK(copy != NULL);
	if (copy == NULL)
		return;
	for (i = 0; i < b.len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, b.data, b.len);
			copy[i] ^= (unsigned char)(1 << bit);
			v = cache_entry_decode_verify(copy, b.len, key, &e, &d);
			/* The magic is checked first; the rest by the HMAC. */
			if (v != (i < 4 ? CACHE_ENTRY_BAD : CACHE_ENTRY_FORGED) ||
			    d.answer.p != NULL)
				all = 0;
		}
	}
	CHECK(all);
	for (i = 0, all = 1; i < b.len; i++) {
		v = cache_entry_decode_verify(b.data, i, key, &e, &d);
		if (v == CACHE_ENTRY_OK)
			all = 0;
	}
	CHECK(all);
	/* One byte more. */
	memcpy(copy, b.data, b.len);
	CHECK(cache_entry_decode_verify(b.data, b.len + 1, key, &e, &d) !=
	    CACHE_ENTRY_OK);
	/* Another server's secret. */
	CHECK(cache_entry_decode_verify(b.data, b.len, other, &e, &d) ==
	    CACHE_ENTRY_FORGED);
	CHECK(cache_entry_decode_verify(NULL, 0, key, &e, &d) ==
	    CACHE_ENTRY_BAD);
	CHECK(cache_entry_decode_verify("NMC1", 4, key, &e, &d) ==
	    CACHE_ENTRY_OLD);
	CHECK(cache_entry_decode_verify("NMC3", 4, key, &e, &d) ==
	    CACHE_ENTRY_BAD);
	CHECK(cache_entry_decode_verify("NMC0", 4, key, &e, &d) ==
	    CACHE_ENTRY_BAD);
	/*
	 * Boundaries moved, the total kept ("Hello" and " \"there\"" for
	 * "Hello " and "\"there\""): the pieces are the last field before
	 * the HMAC, and a changed list is forged like any other byte.
	 */
	memcpy(copy, b.data, b.len);
	CHECK(copy[b.len - 32 - 32 + 15] == 6 && copy[b.len - 32 - 8 - 1] == 7);
	copy[b.len - 32 - 32 + 15] = 5;
	copy[b.len - 32 - 8 - 1] = 8;
	CHECK(cache_entry_decode_verify(copy, b.len, key, &e, &d) ==
	    CACHE_ENTRY_FORGED);
	CHECK(d.pieces.p == NULL && d.answer.p == NULL);
	free(copy);
	buf_free(&b);
}

/* A true entry under another key: mismatch, never served. */
static void
test_mismatch(void)
{
	struct cache_entry	e = test_entry(), want, d;
	unsigned char		key[32];
	struct buf		b;
	char			err[128];

	cache_hmac_key("secret", 6, key);
	buf_init(&b, 0);
	CHECK(cache_entry_encode(&e, key, &b, err, sizeof(err)) == 0);

	want = e;
	want.scope = (struct cache_str)S("project:beta");
	CHECK(cache_entry_decode_verify(b.data, b.len, key, &want, &d) ==
	    CACHE_ENTRY_MISMATCH);
	CHECK(d.answer.p == NULL);
	want = e;
	want.model = (struct cache_str)S("gpt-4o");
	CHECK(cache_entry_decode_verify(b.data, b.len, key, &want, &d) ==
	    CACHE_ENTRY_MISMATCH);
	want = e;
	want.mode = CANON_TEXT;
	CHECK(cache_entry_decode_verify(b.data, b.len, key, &want, &d) ==
	    CACHE_ENTRY_MISMATCH);
	want = e;
	want.request = (struct cache_str)S("{\"messages\":[{\"content\":\"hi!\","
	    "\"role\":\"user\"}],\"model\":\"gpt-4o-mini\"}");
	CHECK(cache_entry_decode_verify(b.data, b.len, key, &want, &d) ==
	    CACHE_ENTRY_MISMATCH);
	want.request.len = e.request.len - 1;
	want.request.p = e.request.p;
	CHECK(cache_entry_decode_verify(b.data, b.len, key, &want, &d) ==
	    CACHE_ENTRY_MISMATCH);
	/* Fields that are not key inputs may differ in want. */
	want = e;
	want.answer.len = 0;
	want.cost = 1;
	want.provider = (struct cache_str)S("x");
	CHECK(cache_entry_decode_verify(b.data, b.len, key, &want, &d) ==
	    CACHE_ENTRY_OK);
	buf_free(&b);
}

/* A record with a valid HMAC but a broken layout is bad, not served. */
static void
test_bad_layout(void)
{
	struct cache_entry	e = test_entry(), d;
	unsigned char		key[32], mac[32];
	struct buf		b, x;
	char			err[128];
	size_t			body;

	cache_hmac_key("secret", 6, key);
	buf_init(&b, 0);
	CHECK(cache_entry_encode(&e, key, &b, err, sizeof(err)) == 0);
	body = b.len - 32;

	/* A trailing byte before the HMAC, re-signed. */
	buf_init(&x, 0);
	buf_append(&x, b.data, body);
	buf_appendc(&x, 'z');
	crypto_hmac_sha256(key, 32, x.data, x.len, mac);
	buf_append(&x, mac, 32);
	CHECK(cache_entry_decode_verify(x.data, x.len, key, &e, &d) ==
	    CACHE_ENTRY_BAD);
	buf_free(&x);

	/* An unknown mode byte, re-signed. */
	buf_init(&x, 0);
	buf_append(&x, b.data, body);
	x.data[4] = 9;
	crypto_hmac_sha256(key, 32, x.data, x.len, mac);
	buf_append(&x, mac, 32);
	CHECK(cache_entry_decode_verify(x.data, x.len, key, &e, &d) ==
	    CACHE_ENTRY_BAD);
	buf_free(&x);

	/* A field length running past the end, re-signed. */
	buf_init(&x, 0);
	buf_append(&x, b.data, body);
	x.data[4 + 1 + 40] = (char)0x7f;
	crypto_hmac_sha256(key, 32, x.data, x.len, mac);
	buf_append(&x, mac, 32);
	CHECK(cache_entry_decode_verify(x.data, x.len, key, &e, &d) ==
	    CACHE_ENTRY_BAD);
	buf_free(&x);

	/* A piece list that is not whole pieces, re-signed. */
	buf_init(&x, 0);
	buf_append(&x, b.data, body - 1);
	x.data[body - 32 - 1] = 31;
	crypto_hmac_sha256(key, 32, x.data, x.len, mac);
	buf_append(&x, mac, 32);
	CHECK(cache_entry_decode_verify(x.data, x.len, key, &e, &d) ==
	    CACHE_ENTRY_BAD);
	buf_free(&x);

	/* The format before pieces ("NMC1", no pieces field): a quiet miss. */
	buf_init(&x, 0);
	buf_append(&x, b.data, body - 32 - 4);
	memcpy(x.data, "NMC1", 4);
	crypto_hmac_sha256(key, 32, x.data, x.len, mac);
	buf_append(&x, mac, 32);
	CHECK(cache_entry_decode_verify(x.data, x.len, key, &e, &d) ==
	    CACHE_ENTRY_OLD);
	CHECK(d.answer.p == NULL);
	buf_free(&x);

	/* A negative token count, re-signed. */
	buf_init(&x, 0);
	buf_append(&x, b.data, body);
	x.data[4 + 1 + 8] = (char)0x80;
	crypto_hmac_sha256(key, 32, x.data, x.len, mac);
	buf_append(&x, mac, 32);
	CHECK(cache_entry_decode_verify(x.data, x.len, key, &e, &d) ==
	    CACHE_ENTRY_BAD);
	buf_free(&x);
	buf_free(&b);
}

/* The encoder refuses what it cannot store, leaving out as it was. */
static void
test_encode_limits(void)
{
	struct cache_entry	e = test_entry(), bad;
	unsigned char		key[32];
	struct buf		b;
	char			err[128], *longname;
	size_t			full;

	cache_hmac_key("secret", 6, key);
	buf_init(&b, 0);
	CHECK(cache_entry_encode(&e, key, &b, err, sizeof(err)) == 0);
	full = b.len;
	buf_free(&b);

	/* The ceiling: one byte short fails and leaves out untouched. */
	buf_init(&b, full - 1);
	buf_appends(&b, "keep");
	CHECK(cache_entry_encode(&e, key, &b, err, sizeof(err)) == -1);
	CHECK(strstr(err, "cache entry over") != NULL);
	CHECK(b.len == 4 && strcmp(b.data, "keep") == 0);
	buf_free(&b);
	buf_init(&b, full + 4);
	buf_appends(&b, "keep");
	CHECK(cache_entry_encode(&e, key, &b, err, sizeof(err)) == 0);
	CHECK(b.len == full + 4);
	buf_free(&b);

	bad = e;
	bad.total_tokens = -1;
	buf_init(&b, 0);
	CHECK(cache_entry_encode(&bad, key, &b, err, sizeof(err)) == -1);
	CHECK(strstr(err, "negative") != NULL && b.len == 0);
	bad = e;
	bad.cost = -5;
	CHECK(cache_entry_encode(&bad, key, &b, err, sizeof(err)) == -1);
	bad = e;
	bad.mode = (enum canon_mode)2;
	CHECK(cache_entry_encode(&bad, key, &b, err, sizeof(err)) == -1);
	bad = e;
	bad.pieces.len = 7;
	CHECK(cache_entry_encode(&bad, key, &b, err, sizeof(err)) == -1);
	CHECK(strstr(err, "piece list") != NULL && b.len == 0);
	longname = calloc(CACHE_MAX_PIECES + 1, CACHE_PIECE_LEN);
	CHECK(longname != NULL);
	if (longname != NULL) {
		bad.pieces.p = longname;
		bad.pieces.len = (CACHE_MAX_PIECES + 1) * CACHE_PIECE_LEN;
		CHECK(cache_entry_encode(&bad, key, &b, err,
		    sizeof(err)) == -1);
		bad.pieces.len = CACHE_MAX_PIECES * CACHE_PIECE_LEN;
		CHECK(cache_entry_encode(&bad, key, &b, err,
		    sizeof(err)) == 0);
		buf_reset(&b);
		free(longname);
	}
	longname = calloc(1, CACHE_NAME_MAX + 2);
	CHECK(longname != NULL);
	if (longname != NULL) {
		memset(longname, 'x', CACHE_NAME_MAX + 1);
		bad = e;
		bad.scope.p = longname;
		bad.scope.len = CACHE_NAME_MAX + 1;
		CHECK(cache_entry_encode(&bad, key, &b, err, sizeof(err)) == -1);
		CHECK(strstr(err, "name over") != NULL);
		bad.scope.len = CACHE_NAME_MAX;
		CHECK(cache_entry_encode(&bad, key, &b, err, sizeof(err)) == 0);
		free(longname);
	}
	buf_free(&b);
}

/* What a client rebuilds from a stream, for one choice. */
struct replay_choice {
	struct buf	content;
	int		content_null;	/* content was null in the first delta */
	char		role[32];
	char		finish[32];
	struct buf	refusal;
	struct buf	tool[4];	/* each tool call rebuilt: id|type|name|args */
	int		ntool;
	int		logprobs;	/* some chunk carried logprobs */
};

/* Everything a stream said. */
struct replay {
	struct replay_choice	 ch[3];
	int			 nchunks, done, bad, after_done;
	int			 nusage;	/* non-null usage objects */
	int			 null_usage;	/* chunks with "usage":null */
	char			 usage[256];
	char			 id[64];
	struct buf		 cuts;	/* each delta's texts: "c:..|", "t0:id/name:..|" */
};

/* Append string token i's unescaped bytes to b. */
static void
append_str(struct buf *b, const struct json *j, int i)
{
	char	*s;
	size_t	 n;

	if (i == -1 || json_type(j, i) != JSON_STRING)
		return;
	s = json_strdup(j, i, &n);
	if (s != NULL)
		buf_append(b, s, n);
	free(s);
}

/* Fold one delta into a replay choice. */
static void
replay_delta(struct replay *r, struct replay_choice *c, const struct json *j,
    int ch)
{
	int	d, v, tcs, tc, fn, k, idx;
	int64_t	ti;

	d = json_get(j, ch, "delta");
	if (d == -1) {
		r->bad = 1;
		return;
	}
	if ((v = json_get(j, d, "role")) != -1)
		json_strcpy(j, v, c->role, sizeof(c->role));
	if ((v = json_get(j, d, "content")) != -1) {
		if (json_type(j, v) == JSON_NULL)
			c->content_null = 1;
		append_str(&c->content, j, v);
		if (json_type(j, v) == JSON_STRING) {
			buf_appendf(&r->cuts, "c%d:", (int)(c - r->ch));
			append_str(&r->cuts, j, v);
			buf_appendc(&r->cuts, '|');
		}
	}
	if ((v = json_get(j, d, "refusal")) != -1 &&
	    json_type(j, v) == JSON_STRING) {
		buf_appends(&r->cuts, "r:");
		append_str(&r->cuts, j, v);
		buf_appendc(&r->cuts, '|');
	}
	if ((v = json_get(j, d, "function_call")) != -1) {
		buf_appends(&r->cuts, "f:");
		if (json_get(j, v, "name") != -1) {
			append_str(&r->cuts, j, json_get(j, v, "name"));
			buf_appendc(&r->cuts, ':');
		}
		append_str(&r->cuts, j, json_get(j, v, "arguments"));
		buf_appendc(&r->cuts, '|');
	}
	append_str(&c->refusal, j, json_get(j, d, "refusal"));
	if ((v = json_get(j, ch, "logprobs")) != -1 &&
	    json_type(j, v) != JSON_NULL)
		c->logprobs = 1;
	if ((v = json_get(j, ch, "finish_reason")) != -1 &&
	    json_type(j, v) == JSON_STRING)
		json_strcpy(j, v, c->finish, sizeof(c->finish));
	if ((tcs = json_get(j, d, "tool_calls")) == -1)
		return;
	for (k = 0; k < json_size(j, tcs); k++) {
		tc = json_at(j, tcs, k);
		if (json_int64(j, json_get(j, tc, "index"), &ti) == -1 ||
		    ti < 0 || ti >= 4) {
			r->bad = 1;
			return;
		}
		idx = (int)ti;
		if (idx >= c->ntool)
			c->ntool = idx + 1;
		append_str(&c->tool[idx], j, json_get(j, tc, "id"));
		buf_appendc(&c->tool[idx], '|');
		append_str(&c->tool[idx], j, json_get(j, tc, "type"));
		buf_appendc(&c->tool[idx], '|');
		fn = json_get(j, tc, "function");
		append_str(&c->tool[idx], j, json_get(j, fn, "name"));
		buf_appendc(&c->tool[idx], '|');
		append_str(&c->tool[idx], j, json_get(j, fn, "arguments"));
		buf_appendf(&r->cuts, "t%d:", idx);
		if (json_get(j, tc, "id") != -1) {
			append_str(&r->cuts, j, json_get(j, tc, "id"));
			buf_appendc(&r->cuts, '/');
			append_str(&r->cuts, j, json_get(j, fn, "name"));
			buf_appendc(&r->cuts, ':');
		}
		append_str(&r->cuts, j, json_get(j, fn, "arguments"));
		buf_appendc(&r->cuts, '|');
	}
}

/* sse_cb: check and fold one chunk. */
static int
replay_event(void *arg, const struct sse_event *ev)
{
	struct replay	*r = arg;
	struct json	 j;
	const char	*p;
	size_t		 n;
	int		 chs, ch, k, u, v;
	int64_t		 idx;
	char		 err[128], id[64];

	if (r->done) {
		r->after_done = 1;
		return 0;
	}
	if (strcmp(ev->data, "[DONE]") == 0) {
		r->done = 1;
		return 0;
	}
	r->nchunks++;
	if (json_parse(&j, ev->data, ev->data_len, NULL, err,
	    sizeof(err)) == -1) {
		r->bad = 1;
		return 0;
	}
	if (!json_streq(&j, json_get(&j, 0, "object"),
	    "chat.completion.chunk") ||
	    json_strcpy(&j, json_get(&j, 0, "id"), id, sizeof(id)) == -1 ||
	    (r->id[0] != '\0' && strcmp(id, r->id) != 0))
		r->bad = 1;
	snprintf(r->id, sizeof(r->id), "%s", id);
	if ((u = json_get(&j, 0, "usage")) != -1) {
		if (json_type(&j, u) == JSON_NULL)
			r->null_usage++;
		else {
			r->nusage++;
			p = json_raw(&j, u, &n);
			snprintf(r->usage, sizeof(r->usage), "%.*s", (int)n, p);
		}
	}
	chs = json_get(&j, 0, "choices");
	for (k = 0; chs != -1 && k < json_size(&j, chs); k++) {
		ch = json_at(&j, chs, k);
		v = json_get(&j, ch, "index");
		if (json_int64(&j, v, &idx) == -1 || idx < 0 || idx >= 3)
			r->bad = 1;
		else
			replay_delta(r, &r->ch[idx], &j, ch);
	}
	json_free(&j);
	return 0;
}

/* Render answer (cut by pieces, if any) and parse the stream back into r (caller frees with replay_free). */
static int
replay_cut(const char *answer, const char *pieces, size_t pieces_len,
    int include_usage, struct replay *r)
{
	struct sse_parser	 p;
	struct buf		 out;
	char			 err[128];
	int			 k, t, ret;

	memset(r, 0, sizeof(*r));
	for (k = 0; k < 3; k++) {
		buf_init(&r->ch[k].content, 0);
		buf_init(&r->ch[k].refusal, 0);
		for (t = 0; t < 4; t++)
			buf_init(&r->ch[k].tool[t], 0);
	}
	buf_init(&r->cuts, 0);
	buf_init(&out, 0);
	ret = cache_render_sse(answer, strlen(answer), pieces, pieces_len,
	    include_usage, &out, err, sizeof(err));
	if (ret == 0) {
		sse_parser_init(&p, 1 << 20);
		CHECK(sse_feed(&p, out.data, out.len, replay_event, r) == 0);
		CHECK(!sse_pending(&p));
		sse_parser_free(&p);
		CHECK(out.len > 6 && strcmp(out.data + out.len - 14,
		    "data: [DONE]\n\n") == 0);
	}
	buf_free(&out);
	return ret;
}

/* replay_cut() whole. */
static int
replay_run(const char *answer, int include_usage, struct replay *r)
{
	return replay_cut(answer, NULL, 0, include_usage, r);
}

/* Free a replay's buffers. */
static void
replay_free(struct replay *r)
{
	int	k, t;

	buf_free(&r->cuts);
	for (k = 0; k < 3; k++) {
		buf_free(&r->ch[k].content);
		buf_free(&r->ch[k].refusal);
		for (t = 0; t < 4; t++)
			buf_free(&r->ch[k].tool[t]);
	}
}

/* The stream says what the answer said. */
static void
test_sse(void)
{
	static const char tools[] =
	    "{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"created\":1,"
	    "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_a\","
	    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	    "\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}},{\"id\":\"call_b\","
	    "\"type\":\"function\",\"function\":{\"name\":\"get_time\","
	    "\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}],"
	    "\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":20,"
	    "\"total_tokens\":50,\"completion_tokens_details\":"
	    "{\"reasoning_tokens\":0}}}";
	static const char multi[] =
	    "{\"id\":\"c3\",\"object\":\"chat.completion\",\"created\":2,"
	    "\"model\":\"m\",\"service_tier\":\"default\",\"choices\":["
	    "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"one\"},"
	    "\"logprobs\":{\"content\":[]},\"finish_reason\":\"stop\"},"
	    "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":\"\","
	    "\"refusal\":\"I can't\"},\"finish_reason\":\"length\"}],"
	    "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,"
	    "\"total_tokens\":3}}";
	struct replay	r;
	char		err[128];
	struct buf	out;

	/* Plain content, with and without usage. */
	CHECK(replay_run(test_answer, 1, &r) == 0);
	CHECK(r.done && !r.bad && !r.after_done && r.nchunks == 4);
	CHECK_STR(r.id, "chatcmpl-1");
	CHECK_STR(r.ch[0].content.data, "Hello \"there\"\n\xc3\xa9");
	CHECK_STR(r.ch[0].role, "assistant");
	CHECK_STR(r.ch[0].finish, "stop");
	CHECK(r.nusage == 1 && r.null_usage == 3);
	CHECK_STR(r.usage, "{\"prompt_tokens\":12,\"completion_tokens\":5,"
	    "\"total_tokens\":17}");
	CHECK(r.ch[0].ntool == 0 && r.ch[0].refusal.len == 0);
	replay_free(&r);
	CHECK(replay_run(test_answer, 0, &r) == 0);
	CHECK(r.done && !r.bad && r.nchunks == 3 && r.nusage == 0 &&
	    r.null_usage == 0);
	CHECK_STR(r.ch[0].content.data, "Hello \"there\"\n\xc3\xa9");
	replay_free(&r);

	/* Tool calls, whole, in order, content null kept. */
	CHECK(replay_run(tools, 1, &r) == 0);
	CHECK(r.done && !r.bad);
	CHECK(r.ch[0].content_null && r.ch[0].content.len == 0);
	CHECK(r.ch[0].ntool == 2);
	CHECK_STR(r.ch[0].tool[0].data,
	    "call_a|function|get_weather|{\"city\": \"Paris\"}");
	CHECK_STR(r.ch[0].tool[1].data, "call_b|function|get_time|{}");
	CHECK_STR(r.ch[0].finish, "tool_calls");
	CHECK(r.nusage == 1 && strstr(r.usage, "reasoning_tokens") != NULL);
	replay_free(&r);

	/* Two choices, a refusal, logprobs, the service tier. */
	CHECK(replay_run(multi, 1, &r) == 0);
	CHECK(r.done && !r.bad);
	CHECK_STR(r.ch[0].content.data, "one");
	CHECK(r.ch[0].logprobs);
	CHECK_STR(r.ch[0].finish, "stop");
	CHECK(r.ch[1].content.len == 0 && !r.ch[1].content_null);
	CHECK_STR(r.ch[1].refusal.data, "I can't");
	CHECK_STR(r.ch[1].finish, "length");
	replay_free(&r);
	buf_init(&out, 0);
	CHECK(cache_render_sse(multi, strlen(multi), NULL, 0, 0, &out, err,
	    sizeof(err)) == 0);
	CHECK(strstr(out.data, "\"service_tier\":\"default\"") != NULL);
	CHECK(strstr(out.data, "\"object\":\"chat.completion\"") == NULL);
	buf_free(&out);

	/* Not a chat completion: an error, out untouched. */
	buf_init(&out, 0);
	buf_appends(&out, "x");
	CHECK(cache_render_sse("{\"a\":1}", 7, NULL, 0, 1, &out, err,
	    sizeof(err)) == -1);
	CHECK(strstr(err, "not a chat completion") != NULL);
	CHECK(cache_render_sse("{\"choices\":[1]}", 15, NULL, 0, 1, &out,
	    err, sizeof(err)) == -1);
	CHECK(cache_render_sse("{\"choices\":[{\"message\":1}]}", 27, NULL, 0,
	    1, &out, err, sizeof(err)) == -1);
	CHECK(cache_render_sse("{bad", 4, NULL, 0, 1, &out, err,
	    sizeof(err)) == -1);
	CHECK(out.len == 1 && strcmp(out.data, "x") == 0);
	buf_free(&out);

	/* The ceiling. */
	buf_init(&out, 100);
	CHECK(cache_render_sse(test_answer, strlen(test_answer), NULL, 0, 1,
	    &out, err, sizeof(err)) == -1);
	CHECK(strstr(err, "over 100 bytes") != NULL && out.len == 0);
	buf_free(&out);
}

/* Pieces of a choice: kind, tool, length. */
struct piece_spec {
	int	choice, kind, tool;
	size_t	len;
};

/* The piece list of specs into b. */
static void
make_pieces(struct buf *b, const struct piece_spec *ps, size_t n)
{
	size_t	k;

	buf_reset(b);
	for (k = 0; k < n; k++)
		CHECK(cache_piece_append(b, (enum cache_piece_kind)ps[k].kind,
		    ps[k].choice, ps[k].tool, ps[k].len) == 0);
}

/* The stream's own cuts back on replay; pieces that do not fit: whole. */
static void
test_sse_pieces(void)
{
	static const char tools[] =
	    "{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"created\":1,"
	    "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_a\","
	    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	    "\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}},{\"id\":\"call_b\","
	    "\"type\":\"function\",\"function\":{\"name\":\"get_time\","
	    "\"arguments\":\"{}\"}}]},\"logprobs\":null,"
	    "\"finish_reason\":\"tool_calls\"}]}";
	static const char two[] =
	    "{\"id\":\"c3\",\"object\":\"chat.completion\",\"created\":2,"
	    "\"model\":\"m\",\"choices\":["
	    "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
	    "\"one two\"},\"logprobs\":null,\"finish_reason\":\"stop\"},"
	    "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":"
	    "\"three\",\"refusal\":\"no\",\"function_call\":{\"name\":\"f\","
	    "\"arguments\":\"{}\"}},\"logprobs\":{\"content\":[]},"
	    "\"finish_reason\":\"stop\"}]}";
	static const struct piece_spec tool_cuts[] = {
		{ 0, CACHE_PIECE_TOOL, 0, 0 },
		{ 0, CACHE_PIECE_TOOL, 0, 9 },
		{ 0, CACHE_PIECE_TOOL, 1, 2 },
		{ 0, CACHE_PIECE_TOOL, 0, 8 },
	};
	static const struct piece_spec two_cuts[] = {
		{ 0, CACHE_PIECE_CONTENT, 0, 3 },
		{ 1, CACHE_PIECE_CONTENT, 0, 5 },
		{ 0, CACHE_PIECE_CONTENT, 0, 4 },
	};
	static const struct piece_spec short_cuts[] = {
		{ 0, CACHE_PIECE_TOOL, 0, 9 },
		{ 0, CACHE_PIECE_TOOL, 1, 2 },
		{ 0, CACHE_PIECE_TOOL, 0, 7 },
	};
	static const struct piece_spec wrong_kind[] = {
		{ 0, CACHE_PIECE_CONTENT, 0, 0 },
		{ 0, CACHE_PIECE_TOOL, 0, 17 },
		{ 0, CACHE_PIECE_TOOL, 1, 2 },
	};
	static const struct piece_spec no_tool[] = {
		{ 0, CACHE_PIECE_TOOL, 0, 17 },
		{ 0, CACHE_PIECE_TOOL, 2, 2 },
	};
	static const struct piece_spec utf8_cut[] = {
		{ 0, CACHE_PIECE_CONTENT, 0, 15 },
		{ 0, CACHE_PIECE_CONTENT, 0, 1 },
	};
	struct replay	r;
	struct buf	p;

	/* Content in the stream's pieces, the first one with the role. */
	CHECK(replay_cut(test_answer, test_pieces, sizeof(test_pieces) - 1, 1,
	    &r) == 0);
	CHECK(r.done && !r.bad && !r.after_done);
	CHECK(r.nchunks == 6 && r.nusage == 1 && r.null_usage == 5);
	CHECK_STR(r.cuts.data, "c0:|c0:Hello |c0:\"there\"|c0:\n\xc3\xa9|");
	CHECK_STR(r.ch[0].content.data, "Hello \"there\"\n\xc3\xa9");
	CHECK_STR(r.ch[0].role, "assistant");
	CHECK_STR(r.ch[0].finish, "stop");
	replay_free(&r);
	/* The same answer whole, for comparison. */
	CHECK(replay_run(test_answer, 0, &r) == 0);
	CHECK_STR(r.cuts.data, "c0:|c0:Hello \"there\"\n\xc3\xa9|");
	replay_free(&r);

	/* Tool calls: a header with id and name, then pieces, interleaved. */
	buf_init(&p, 0);
	make_pieces(&p, tool_cuts, NM_NELEM(tool_cuts));
	CHECK(replay_cut(tools, p.data, p.len, 0, &r) == 0);
	CHECK(r.done && !r.bad && r.nchunks == 6);
	CHECK(r.ch[0].content_null && r.ch[0].content.len == 0);
	CHECK_STR(r.cuts.data, "t0:call_a/get_weather:|t0:{\"city\": |"
	    "t1:call_b/get_time:{}|t0:\"Paris\"}|");
	CHECK_STR(r.ch[0].finish, "tool_calls");
	replay_free(&r);

	/* Two choices: each its own pieces; logprobs keep choice 1 whole. */
	make_pieces(&p, two_cuts, NM_NELEM(two_cuts));
	CHECK(replay_cut(two, p.data, p.len, 0, &r) == 0);
	CHECK(r.done && !r.bad);
	CHECK_STR(r.cuts.data, "c0:one|c0: two|c1:|c1:three|r:no|f:f:{}|");
	CHECK(r.ch[1].logprobs);
	replay_free(&r);

	/* Pieces that do not add up, cut a character, or name what is not there: whole. */
	make_pieces(&p, short_cuts, NM_NELEM(short_cuts));
	CHECK(replay_cut(tools, p.data, p.len, 0, &r) == 0);
	CHECK_STR(r.cuts.data, "t0:call_a/get_weather:{\"city\": \"Paris\"}|"
	    "t1:call_b/get_time:{}|");
	replay_free(&r);
	make_pieces(&p, wrong_kind, NM_NELEM(wrong_kind));
	CHECK(replay_cut(tools, p.data, p.len, 0, &r) == 0);
	CHECK_STR(r.cuts.data, "t0:call_a/get_weather:{\"city\": \"Paris\"}|"
	    "t1:call_b/get_time:{}|");
	replay_free(&r);
	make_pieces(&p, no_tool, NM_NELEM(no_tool));
	CHECK(replay_cut(tools, p.data, p.len, 0, &r) == 0);
	CHECK_STR(r.cuts.data, "t0:call_a/get_weather:{\"city\": \"Paris\"}|"
	    "t1:call_b/get_time:{}|");
	replay_free(&r);
	make_pieces(&p, utf8_cut, NM_NELEM(utf8_cut));
	CHECK(replay_cut(test_answer, p.data, p.len, 0, &r) == 0);
	CHECK_STR(r.cuts.data, "c0:|c0:Hello \"there\"\n\xc3\xa9|");
	replay_free(&r);
	/* Not whole pieces: ignored. */
	CHECK(replay_cut(test_answer, test_pieces, 7, 0, &r) == 0);
	CHECK_STR(r.cuts.data, "c0:|c0:Hello \"there\"\n\xc3\xa9|");
	replay_free(&r);
	buf_free(&p);
}

int
main(void)
{
	test_key();
	test_hmac_key();
	test_round_trip();
	test_piece_append();
	test_tamper();
	test_mismatch();
	test_bad_layout();
	test_encode_limits();
	test_sse();
	test_sse_pieces();
	UNIT_DONE();
}
