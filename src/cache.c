/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The exact cache's pure parts: key, entry encoding under an HMAC, the
 * checks a lookup makes before it may serve, and the SSE replay of a
 * stored answer.  The entry is a flat length-delimited record, so
 * decoding it needs no parser and no allocation.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errinfo.h"
#include "cache.h"
#include "json.h"
#include "sse.h"

#define CACHE_MAGIC		"NMC1"
#define CACHE_MAGIC_LEN		4
#define CACHE_KEY_TAG		"nextmodel-cache-key-v1"
#define CACHE_HMAC_LABEL	"nextmodel-cache-v1"
#define CACHE_FIELD_MAX		0xffffffffULL	/* 4-byte lengths */

static const char *const cache_verdict_names[] = {
	[CACHE_ENTRY_OK] = "ok",
	[CACHE_ENTRY_BAD] = "bad",
	[CACHE_ENTRY_FORGED] = "forged",
	[CACHE_ENTRY_MISMATCH] = "mismatch",
};

/* Limits for parsing a stored answer before replaying it. */
static const struct json_limits cache_answer_limits = { 64, 1000000 };

/* Messages into err buffers: errinfo.c. */
#define cache_err	errbuf_set

/* The name of a verdict. */
const char *
cache_verdict_name(enum cache_verdict v)
{
	if ((size_t)v >= NM_NELEM(cache_verdict_names))
		return "unknown";
	return cache_verdict_names[v];
}

/* The entry HMAC key, derived from the server secret. */
void
cache_hmac_key(const void *secret, size_t len,
    unsigned char out[CRYPTO_SHA256_LEN])
{
	crypto_hmac_sha256(secret, len, CACHE_HMAC_LABEL,
	    strlen(CACHE_HMAC_LABEL), out);
}

/* Append v as n big-endian bytes. */
static int
cache_put_be(struct buf *b, uint64_t v, int n)
{
	unsigned char	p[8];
	int		i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	return buf_append(b, p, (size_t)n);
}

/* n big-endian bytes at p. */
static uint64_t
cache_get_be(const unsigned char *p, int n)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Append a length (n bytes) and the bytes. */
static int
cache_put_field(struct buf *b, const void *p, size_t len, int n)
{
	if (cache_put_be(b, len, n) == -1)
		return -1;
	return len == 0 ? 0 : buf_append(b, p, len);
}

/* SHA-256 over length-prefixed scope, model, mode name and request. */
int
cache_key(const char *scope, const char *model, enum canon_mode mode,
    const char *request, size_t request_len,
    unsigned char out[CRYPTO_SHA256_LEN])
{
	struct buf	 b;
	const char	*mname = canon_mode_name(mode);
	int		 r;

	buf_init(&b, 0);
	r = buf_appends(&b, CACHE_KEY_TAG);
	r |= cache_put_field(&b, scope, strlen(scope), 8);
	r |= cache_put_field(&b, model, strlen(model), 8);
	r |= cache_put_field(&b, mname, strlen(mname), 8);
	r |= cache_put_field(&b, request, request_len, 8);
	if (r == 0)
		crypto_sha256(b.data, b.len, out);
	buf_free(&b);
	return r == 0 ? 0 : -1;
}

/* cache_key() in hex. */
int
cache_key_hex(const char *scope, const char *model, enum canon_mode mode,
    const char *request, size_t request_len,
    char out[CRYPTO_SHA256_HEXLEN + 1])
{
	unsigned char	md[CRYPTO_SHA256_LEN];

	if (cache_key(scope, model, mode, request, request_len, md) == -1)
		return -1;
	crypto_hex(md, sizeof(md), out);
	return 0;
}

/* Check the fields of an entry to encode; 0 or -1 with err set. */
static int
cache_entry_check(const struct cache_entry *e, char *err, size_t errlen)
{
	const struct cache_str	*names[] = { &e->scope, &e->model,
				    &e->provider };
	size_t			 k;

	if ((unsigned)e->mode > CANON_TEXT) {
		cache_err(err, errlen, "unknown cache mode");
		return -1;
	}
	if (e->prompt_tokens < 0 || e->completion_tokens < 0 ||
	    e->total_tokens < 0 || e->cost < 0) {
		cache_err(err, errlen, "negative usage or cost");
		return -1;
	}
	for (k = 0; k < NM_NELEM(names); k++) {
		if (names[k]->len > CACHE_NAME_MAX) {
			cache_err(err, errlen, "cache entry name over %d bytes",
			    CACHE_NAME_MAX);
			return -1;
		}
	}
	if ((uint64_t)e->request.len > CACHE_FIELD_MAX ||
	    (uint64_t)e->answer.len > CACHE_FIELD_MAX) {
		cache_err(err, errlen, "cache entry field over 4 GiB");
		return -1;
	}
	return 0;
}

/* Encode an entry with its HMAC; see cache.h. */
int
cache_entry_encode(const struct cache_entry *e,
    const unsigned char key[CRYPTO_SHA256_LEN], struct buf *out, char *err,
    size_t errlen)
{
	const struct cache_str	*fields[] = { &e->scope, &e->model,
				    &e->provider, &e->request, &e->answer };
	const int64_t		 nums[] = { e->created, e->prompt_tokens,
				    e->completion_tokens, e->total_tokens,
				    e->cost };
	unsigned char		 mac[CRYPTO_SHA256_LEN];
	size_t			 old = out->len, k;
	int			 r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (cache_entry_check(e, err, errlen) == -1)
		return -1;
	r = buf_append(out, CACHE_MAGIC, CACHE_MAGIC_LEN);
	r |= buf_appendc(out, (char)e->mode);
	for (k = 0; k < NM_NELEM(nums) && r == 0; k++)
		r |= cache_put_be(out, (uint64_t)nums[k], 8);
	for (k = 0; k < NM_NELEM(fields) && r == 0; k++)
		r |= cache_put_field(out, fields[k]->p, fields[k]->len, 4);
	if (r == 0) {
		crypto_hmac_sha256(key, CRYPTO_SHA256_LEN, out->data + old,
		    out->len - old, mac);
		r = buf_append(out, mac, sizeof(mac));
	}
	if (r != 0) {
		if (out->toobig)
			cache_err(err, errlen, "cache entry over %zu bytes",
			    out->max);
		else
			cache_err(err, errlen, "out of memory");
		if (out->data != NULL) {
			out->len = old;
			out->data[old] = '\0';
		}
		return -1;
	}
	return 0;
}

/* Take a length-prefixed field at *p (end at end) into s; 0 or -1. */
static int
cache_get_field(const unsigned char **p, const unsigned char *end,
    struct cache_str *s)
{
	uint64_t	n;

	if (end - *p < 4)
		return -1;
	n = cache_get_be(*p, 4);
	*p += 4;
	if ((uint64_t)(end - *p) < n)
		return -1;
	s->p = (const char *)*p;
	s->len = (size_t)n;
	*p += n;
	return 0;
}

/* 1 if the two byte strings are equal. */
static int
cache_str_eq(const struct cache_str *a, const struct cache_str *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0);
}

/* Decode the fields after the magic; 0 or -1 (malformed). */
static int
cache_entry_fields(const unsigned char *p, const unsigned char *end,
    struct cache_entry *e)
{
	struct cache_str	*fields[] = { &e->scope, &e->model,
				    &e->provider, &e->request, &e->answer };
	int64_t			*nums[] = { &e->created, &e->prompt_tokens,
				    &e->completion_tokens, &e->total_tokens,
				    &e->cost };
	size_t			 k;

	if (end - p < 1 + 5 * 8 || *p > CANON_TEXT)
		return -1;
	e->mode = (enum canon_mode)*p++;
	for (k = 0; k < NM_NELEM(nums); k++, p += 8)
		*nums[k] = (int64_t)cache_get_be(p, 8);
	for (k = 0; k < NM_NELEM(fields); k++) {
		if (cache_get_field(&p, end, fields[k]) == -1)
			return -1;
	}
	if (p != end || e->prompt_tokens < 0 || e->completion_tokens < 0 ||
	    e->total_tokens < 0 || e->cost < 0 ||
	    e->scope.len > CACHE_NAME_MAX || e->model.len > CACHE_NAME_MAX ||
	    e->provider.len > CACHE_NAME_MAX)
		return -1;
	return 0;
}

/* Verify and decode an entry; see cache.h. */
enum cache_verdict
cache_entry_decode_verify(const void *data, size_t len,
    const unsigned char key[CRYPTO_SHA256_LEN],
    const struct cache_entry *want, struct cache_entry *e)
{
	const unsigned char	*p = data, *mac;
	unsigned char		 calc[CRYPTO_SHA256_LEN];
	enum cache_verdict	 v = CACHE_ENTRY_OK;

	memset(e, 0, sizeof(*e));
	if (data == NULL || len < CACHE_ENTRY_OVERHEAD ||
	    memcmp(p, CACHE_MAGIC, CACHE_MAGIC_LEN) != 0)
		return CACHE_ENTRY_BAD;
	mac = p + len - CRYPTO_SHA256_LEN;
	crypto_hmac_sha256(key, CRYPTO_SHA256_LEN, p, len - CRYPTO_SHA256_LEN,
	    calc);
	if (!crypto_memeq(calc, mac, sizeof(calc)))
		v = CACHE_ENTRY_FORGED;
	else if (cache_entry_fields(p + CACHE_MAGIC_LEN, mac, e) == -1)
		v = CACHE_ENTRY_BAD;
	else if (e->mode != want->mode || !cache_str_eq(&e->scope,
	    &want->scope) || !cache_str_eq(&e->model, &want->model) ||
	    !cache_str_eq(&e->request, &want->request))
		v = CACHE_ENTRY_MISMATCH;
	if (v != CACHE_ENTRY_OK)
		memset(e, 0, sizeof(*e));
	return v;
}

/* Rendering state: the answer, its root, and the scratch chunk. */
struct cache_sse {
	const struct json	*j;
	int			 usage;		/* include_usage */
	struct buf		*out;
	struct buf		 chunk;
};

/* The top-level fields every chunk repeats, in this order. */
static const char *const cache_chunk_fields[] = {
	"id", "object", "created", "model", "service_tier",
	"system_fingerprint",
};

/* Open a chunk: the repeated fields, then "choices":[ */
static int
cache_chunk_open(struct cache_sse *s)
{
	struct buf	*b = &s->chunk;
	size_t		 k;
	int		 v, r = 0;

	buf_reset(b);
	r |= buf_appendc(b, '{');
	for (k = 0; k < NM_NELEM(cache_chunk_fields) && r == 0; k++) {
		if (k == 1) {
			r |= buf_appends(b,
			    "\"object\":\"chat.completion.chunk\",");
			continue;
		}
		if ((v = json_get(s->j, 0, cache_chunk_fields[k])) == -1)
			continue;
		r |= json_write_cstr(b, cache_chunk_fields[k]);
		r |= buf_appendc(b, ':');
		r |= json_write_raw(b, s->j, v);
		r |= buf_appendc(b, ',');
	}
	r |= buf_appends(b, "\"choices\":[");
	return r == 0 ? 0 : -1;
}

/* Close a chunk with its usage and send it as one event. */
static int
cache_chunk_close(struct cache_sse *s, int usage_tok)
{
	struct buf	*b = &s->chunk;
	int		 r;

	r = buf_appendc(b, ']');
	if (s->usage) {
		r |= buf_appends(b, ",\"usage\":");
		r |= usage_tok == -1 ? buf_appends(b, "null") :
		    json_write_raw(b, s->j, usage_tok);
	}
	r |= buf_appendc(b, '}');
	if (r == 0)
		r = sse_write_data(s->out, b->data, b->len);
	return r == 0 ? 0 : -1;
}

/*
 * One chunk for choice ch: delta is the delta object's text (without
 * braces, may be empty), then logprobs and finish_reason tokens or -1.
 */
static int
cache_choice_chunk(struct cache_sse *s, int ch, int idx, const char *delta,
    int delta_tok, int logprobs, int finish)
{
	struct buf	*b;
	int		 r;

	if (cache_chunk_open(s) == -1)
		return -1;
	b = &s->chunk;
	r = buf_appends(b, "{\"index\":");
	r |= json_get(s->j, ch, "index") != -1 ?
	    json_write_raw(b, s->j, json_get(s->j, ch, "index")) :
	    buf_appendf(b, "%d", idx);
	r |= buf_appends(b, ",\"delta\":{");
	r |= buf_appends(b, delta);
	if (delta_tok != -1)
		r |= json_write_raw(b, s->j, delta_tok);
	r |= buf_appends(b, "},\"logprobs\":");
	r |= logprobs == -1 ? buf_appends(b, "null") :
	    json_write_raw(b, s->j, logprobs);
	r |= buf_appends(b, ",\"finish_reason\":");
	r |= finish == -1 ? buf_appends(b, "null") :
	    json_write_raw(b, s->j, finish);
	r |= buf_appendc(b, '}');
	if (r != 0)
		return -1;
	return cache_chunk_close(s, -1);
}

/* One tool call, whole, in its own chunk, its position n first. */
static int
cache_tool_chunk(struct cache_sse *s, int ch, int idx, int tc, int n)
{
	static const char *const omit[] = { "index", NULL };
	struct buf	 delta, call;
	int		 nw, r;

	buf_init(&delta, 0);
	buf_init(&call, 0);
	r = json_write_object_except(&call, s->j, tc, omit, 0, &nw);
	r |= buf_appendf(&delta, "\"tool_calls\":[{\"index\":%d%s", n,
	    nw > 0 ? "," : "");
	/* call is "{...}": its members follow the index. */
	if (r == 0)
		r |= buf_append(&delta, call.data + 1, call.len - 1);
	r |= buf_appendc(&delta, ']');
	if (r == 0)
		r = cache_choice_chunk(s, ch, idx, delta.data, -1, -1, -1);
	buf_free(&call);
	buf_free(&delta);
	return r;
}

/* The chunks of one choice. */
static int
cache_choice(struct cache_sse *s, int ch, int idx)
{
	const struct json	*j = s->j;
	struct buf		 delta;
	size_t			 len;
	int			 msg, role, content, refusal, fc, tcs, k, n, r;

	if (json_type(j, ch) != JSON_OBJECT ||
	    (msg = json_get(j, ch, "message")) == -1 ||
	    json_type(j, msg) != JSON_OBJECT)
		return -1;
	role = json_get(j, msg, "role");
	content = json_get(j, msg, "content");
	refusal = json_get(j, msg, "refusal");
	fc = json_get(j, msg, "function_call");
	tcs = json_get(j, msg, "tool_calls");

	/* The role, and an empty or null content to start from. */
	buf_init(&delta, 0);
	r = buf_appends(&delta, "\"role\":");
	r |= role != -1 && json_type(j, role) == JSON_STRING ?
	    json_write_raw(&delta, j, role) : buf_appends(&delta,
	    "\"assistant\"");
	r |= buf_appends(&delta, content != -1 &&
	    json_type(j, content) == JSON_STRING ? ",\"content\":\"\"" :
	    ",\"content\":null");
	if (r == 0)
		r = cache_choice_chunk(s, ch, idx, delta.data, -1, -1, -1);
	buf_free(&delta);
	if (r != 0)
		return -1;

	len = 0;
	if (content != -1 && json_type(j, content) == JSON_STRING)
		(void)json_ptr(j, content, &len);
	if (len > 0 && cache_choice_chunk(s, ch, idx, "\"content\":", content,
	    json_get(j, ch, "logprobs"), -1) == -1)
		return -1;
	if (refusal != -1 && json_type(j, refusal) == JSON_STRING &&
	    cache_choice_chunk(s, ch, idx, "\"refusal\":", refusal, -1,
	    -1) == -1)
		return -1;
	if (fc != -1 && json_type(j, fc) == JSON_OBJECT &&
	    cache_choice_chunk(s, ch, idx, "\"function_call\":", fc, -1,
	    -1) == -1)
		return -1;
	if (tcs != -1 && json_type(j, tcs) == JSON_ARRAY) {
		n = json_size(j, tcs);
		for (k = 0; k < n; k++) {
			if (json_type(j, json_at(j, tcs, k)) != JSON_OBJECT ||
			    cache_tool_chunk(s, ch, idx, json_at(j, tcs, k),
			    k) == -1)
				return -1;
		}
	}
	return cache_choice_chunk(s, ch, idx, "", -1, -1,
	    json_get(j, ch, "finish_reason"));
}

/* Replay a stored chat completion as SSE; see cache.h. */
int
cache_render_sse(const char *answer, size_t len, int include_usage,
    struct buf *out, char *err, size_t errlen)
{
	struct json		j;
	struct cache_sse	s;
	size_t			old = out->len;
	int			choices, k, n, ret = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (json_parse(&j, answer, len, &cache_answer_limits, err,
	    errlen) == -1)
		return -1;
	memset(&s, 0, sizeof(s));
	s.j = &j;
	s.usage = include_usage;
	s.out = out;
	buf_init(&s.chunk, 0);
	if (json_type(&j, 0) != JSON_OBJECT ||
	    (choices = json_get(&j, 0, "choices")) == -1 ||
	    json_type(&j, choices) != JSON_ARRAY) {
		cache_err(err, errlen, "stored answer is not a chat completion");
		goto out;
	}
	n = json_size(&j, choices);
	for (k = 0; k < n; k++) {
		if (cache_choice(&s, json_at(&j, choices, k), k) == -1)
			goto fail;
	}
	if (include_usage) {
		if (cache_chunk_open(&s) == -1 ||
		    cache_chunk_close(&s, json_get(&j, 0, "usage")) == -1)
			goto fail;
	}
	if (sse_write_data(out, "[DONE]", 6) == -1)
		goto fail;
	ret = 0;
	goto out;
fail:
	if (out->toobig)
		cache_err(err, errlen, "stream replay over %zu bytes", out->max);
	else
		cache_err(err, errlen, "stored answer is not a chat completion");
out:
	if (ret == -1 && out->data != NULL) {
		out->len = old;
		out->data[old] = '\0';
	}
	buf_free(&s.chunk);
	json_free(&j);
	return ret;
}
