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

#define CACHE_MAGIC		"NMC2"
#define CACHE_MAGIC_LEN		4
#define CACHE_MAGIC_FAMILY	"NMC"	/* then the format's version digit */
#define CACHE_KEY_TAG		"nextmodel-cache-key-v1"
#define CACHE_HMAC_LABEL	"nextmodel-cache-v1"
#define CACHE_FIELD_MAX		0xffffffffULL	/* 4-byte lengths */

static const char *const cache_verdict_names[] = {
	[CACHE_ENTRY_OK] = "ok",
	[CACHE_ENTRY_BAD] = "bad",
	[CACHE_ENTRY_FORGED] = "forged",
	[CACHE_ENTRY_MISMATCH] = "mismatch",
	[CACHE_ENTRY_OLD] = "old format",
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

/* 1 if len bytes can be a piece list: whole pieces, not too many. */
static int
cache_pieces_ok(size_t len)
{
	return len % CACHE_PIECE_LEN == 0 &&
	    len / CACHE_PIECE_LEN <= CACHE_MAX_PIECES;
}

/* Append one piece; see cache.h. */
int
cache_piece_append(struct buf *b, enum cache_piece_kind kind, int choice,
    int tool, size_t len)
{
	int	r;

	if (choice < 0 || choice > 0xff || tool < 0 || tool > 0xffff ||
	    (uint64_t)len > CACHE_FIELD_MAX)
		return -1;
	r = cache_put_be(b, (uint64_t)kind, 1);
	r |= cache_put_be(b, (uint64_t)choice, 1);
	r |= cache_put_be(b, (uint64_t)tool, 2);
	r |= cache_put_be(b, (uint64_t)len, 4);
	return r == 0 ? 0 : -1;
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
	if (!cache_pieces_ok(e->pieces.len)) {
		cache_err(err, errlen, "cache entry piece list malformed");
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
				    &e->provider, &e->request, &e->answer,
				    &e->pieces };
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
				    &e->provider, &e->request, &e->answer,
				    &e->pieces };
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
	    e->provider.len > CACHE_NAME_MAX || !cache_pieces_ok(e->pieces.len))
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
	/* Written by an earlier version: replaced by the next fresh answer. */
	if (data != NULL && len >= CACHE_MAGIC_LEN &&
	    memcmp(p, CACHE_MAGIC_FAMILY, CACHE_MAGIC_LEN - 1) == 0 &&
	    p[CACHE_MAGIC_LEN - 1] >= '1' &&
	    p[CACHE_MAGIC_LEN - 1] < (unsigned char)CACHE_MAGIC[CACHE_MAGIC_LEN - 1])
		return CACHE_ENTRY_OLD;
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

/* Rendering state: the answer, its root, its pieces, the scratch chunk. */
struct cache_sse {
	const struct json	*j;
	int			 usage;		/* include_usage */
	const unsigned char	*pieces;
	size_t			 npieces;
	struct buf		*out;
	struct buf		 chunk;
};

/* One text of a choice that pieces cut, unescaped, and how far they went. */
struct cache_text {
	char	*p;
	size_t	 len;
	size_t	 off;
	int	 obj;		/* the tool call or function_call object */
	int	 present;	/* the stored message has it */
	int	 seen;		/* a piece was for it */
};

/* The texts of the choice being rendered from its pieces. */
struct cache_cut {
	struct cache_text	 content;
	struct cache_text	 refusal;
	struct cache_text	 fc;
	struct cache_text	*tools;
	int			 ntools;
};

/* One decoded piece. */
struct cache_piece {
	int	kind;
	int	choice;
	int	tool;
	size_t	len;
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

/* Piece k of the list. */
static void
cache_piece_get(const struct cache_sse *s, size_t k, struct cache_piece *pc)
{
	const unsigned char	*p = s->pieces + k * CACHE_PIECE_LEN;

	pc->kind = p[0];
	pc->choice = p[1];
	pc->tool = (int)cache_get_be(p + 2, 2);
	pc->len = (size_t)cache_get_be(p + 4, 4);
}

/* The text a piece cuts, or NULL when the message has no such text. */
static struct cache_text *
cache_cut_text(struct cache_cut *c, const struct cache_piece *pc)
{
	struct cache_text	*t = NULL;

	if (pc->kind == CACHE_PIECE_CONTENT)
		t = &c->content;
	else if (pc->kind == CACHE_PIECE_REFUSAL)
		t = &c->refusal;
	else if (pc->kind == CACHE_PIECE_FUNCTION)
		t = &c->fc;
	else if (pc->kind == CACHE_PIECE_TOOL && pc->tool < c->ntools)
		t = &c->tools[pc->tool];
	return t != NULL && t->present ? t : NULL;
}

/* Unescape string token tok into t; 0, -1 (not a string) or -2 (OOM). */
static int
cache_text_load(const struct json *j, int tok, struct cache_text *t)
{
	if (tok == -1 || json_type(j, tok) != JSON_STRING)
		return -1;
	if ((t->p = json_strdup(j, tok, &t->len)) == NULL)
		return -2;
	t->present = 1;
	return 0;
}

/* 1 if call object obj has the string members a piece chunk repeats. */
static int
cache_call_ok(const struct json *j, int obj, int tool)
{
	int	fn;

	if (json_type(j, obj) != JSON_OBJECT)
		return 0;
	if (tool && (json_type(j, json_get(j, obj, "id")) != JSON_STRING ||
	    json_type(j, json_get(j, obj, "type")) != JSON_STRING))
		return 0;
	fn = tool ? json_get(j, obj, "function") : obj;
	return fn != -1 && json_type(j, fn) == JSON_OBJECT &&
	    json_type(j, json_get(j, fn, "name")) == JSON_STRING;
}

/* Free the texts of c. */
static void
cache_cut_free(struct cache_cut *c)
{
	int	k;

	free(c->content.p);
	free(c->refusal.p);
	free(c->fc.p);
	for (k = 0; k < c->ntools; k++)
		free(c->tools[k].p);
	free(c->tools);
	memset(c, 0, sizeof(*c));
}

/*
 * The texts of message msg; 0, -1 (a shape pieces cannot render) or -2
 * (OOM: the render fails rather than quietly change its output).
 */
static int
cache_cut_load(const struct json *j, int msg, struct cache_cut *c)
{
	int	tok, tcs, k, n, call, r;

	memset(c, 0, sizeof(*c));
	if ((tok = json_get(j, msg, "content")) != -1 &&
	    json_type(j, tok) == JSON_STRING &&
	    (r = cache_text_load(j, tok, &c->content)) != 0)
		return r;
	if ((tok = json_get(j, msg, "refusal")) != -1 &&
	    json_type(j, tok) == JSON_STRING &&
	    (r = cache_text_load(j, tok, &c->refusal)) != 0)
		return r;
	if ((tok = json_get(j, msg, "function_call")) != -1 &&
	    json_type(j, tok) != JSON_NULL) {
		if (!cache_call_ok(j, tok, 0))
			return -1;
		if ((r = cache_text_load(j, json_get(j, tok, "arguments"),
		    &c->fc)) != 0)
			return r;
		c->fc.obj = tok;
	}
	if ((tcs = json_get(j, msg, "tool_calls")) == -1 ||
	    json_type(j, tcs) == JSON_NULL)
		return 0;
	if (json_type(j, tcs) != JSON_ARRAY)
		return -1;
	n = json_size(j, tcs);
	if (n == 0)
		return 0;
	if ((c->tools = calloc((size_t)n, sizeof(*c->tools))) == NULL)
		return -2;
	c->ntools = n;
	for (k = 0; k < n; k++) {
		call = json_at(j, tcs, k);
		if (!cache_call_ok(j, call, 1))
			return -1;
		if ((r = cache_text_load(j, json_get(j, json_get(j, call,
		    "function"), "arguments"), &c->tools[k])) != 0)
			return r;
		c->tools[k].obj = call;
	}
	return 0;
}

/* 1 if b is a UTF-8 continuation byte: a piece may not end before one. */
static int
cache_utf8_cont(char b)
{
	return ((unsigned char)b & 0xc0) == 0x80;
}

/*
 * 0 if choice idx's pieces cut its texts exactly: each piece within its
 * text and ending on a character boundary, every text present cut whole,
 * no piece for a text the message does not have.  Leaves offsets at 0.
 */
static int
cache_cut_check(const struct cache_sse *s, int idx, struct cache_cut *c)
{
	struct cache_text	*texts[3] = { &c->content, &c->refusal, &c->fc };
	struct cache_text	*t;
	struct cache_piece	 pc;
	size_t			 k;
	int			 i, ok = 1;

	for (k = 0; k < s->npieces && ok; k++) {
		cache_piece_get(s, k, &pc);
		if (pc.choice != idx)
			continue;
		if ((t = cache_cut_text(c, &pc)) == NULL ||
		    pc.len > t->len - t->off || (t->off + pc.len < t->len &&
		    cache_utf8_cont(t->p[t->off + pc.len])))
			ok = 0;
		else {
			t->off += pc.len;
			t->seen = 1;
		}
	}
	for (i = 0; i < 3 + c->ntools && ok; i++) {
		t = i < 3 ? texts[i] : &c->tools[i - 3];
		if (t->present && (!t->seen || t->off != t->len))
			ok = 0;
	}
	for (i = 0; i < 3 + c->ntools; i++) {
		t = i < 3 ? texts[i] : &c->tools[i - 3];
		t->off = 0;
		t->seen = 0;
	}
	return ok ? 0 : -1;
}

/* The next len bytes of t as a JSON string, consumed. */
static int
cache_text_next(struct buf *b, struct cache_text *t, size_t len)
{
	int	r;

	r = json_write_str(b, len > 0 ? t->p + t->off : "", len);
	t->off += len;
	return r;
}

/* The delta members of one piece (tool calls by position), appended to d. */
static int
cache_piece_delta(const struct json *j, struct cache_cut *c,
    const struct cache_piece *pc, struct buf *d)
{
	struct cache_text	*t = cache_cut_text(c, pc);
	int			 first = !t->seen, fn, r = 0;

	t->seen = 1;
	if (pc->kind == CACHE_PIECE_CONTENT || pc->kind == CACHE_PIECE_REFUSAL) {
		r |= buf_appends(d, pc->kind == CACHE_PIECE_CONTENT ?
		    "\"content\":" : "\"refusal\":");
		return r | cache_text_next(d, t, pc->len);
	}
	if (pc->kind == CACHE_PIECE_TOOL) {
		r |= buf_appendf(d, "\"tool_calls\":[{\"index\":%d", pc->tool);
		fn = json_get(j, t->obj, "function");
		if (first) {
			r |= buf_appends(d, ",\"id\":");
			r |= json_write_raw(d, j, json_get(j, t->obj, "id"));
			r |= buf_appends(d, ",\"type\":");
			r |= json_write_raw(d, j, json_get(j, t->obj, "type"));
		}
		r |= buf_appends(d, ",\"function\":{");
	} else {
		fn = t->obj;
		r |= buf_appends(d, "\"function_call\":{");
	}
	if (first) {
		r |= buf_appends(d, "\"name\":");
		r |= json_write_raw(d, j, json_get(j, fn, "name"));
		r |= buf_appendc(d, ',');
	}
	r |= buf_appends(d, "\"arguments\":");
	r |= cache_text_next(d, t, pc->len);
	r |= buf_appendc(d, '}');
	if (pc->kind == CACHE_PIECE_TOOL)
		r |= buf_appends(d, "}]");
	return r;
}

/*
 * The chunks of choice ch (position idx) cut as its stream was: the role
 * (with the first piece if it is content), one chunk per piece, the
 * finish_reason.  1 when the pieces do not fit it (nothing written), 0,
 * or -1.
 */
static int
cache_choice_pieces(struct cache_sse *s, int ch, int idx, int msg, int role)
{
	const struct json	*j = s->j;
	struct cache_cut	 c;
	struct cache_piece	 pc;
	struct buf		 d;
	size_t			 k;
	int			 lp, r = 0, first = 1;

	/* Logprobs go with the pieces they score: the stream kept none. */
	if ((lp = json_get(j, ch, "logprobs")) != -1 &&
	    json_type(j, lp) != JSON_NULL)
		return 1;
	if ((r = cache_cut_load(j, msg, &c)) != 0 ||
	    cache_cut_check(s, idx, &c) == -1) {
		cache_cut_free(&c);
		return r == -2 ? -1 : 1;
	}
	buf_init(&d, 0);
	r |= buf_appends(&d, "\"role\":");
	r |= role != -1 && json_type(j, role) == JSON_STRING ?
	    json_write_raw(&d, j, role) : buf_appends(&d, "\"assistant\"");
	for (k = 0; k < s->npieces && r == 0; k++) {
		cache_piece_get(s, k, &pc);
		if (pc.choice != idx)
			continue;
		if (first && pc.kind == CACHE_PIECE_CONTENT) {
			r |= buf_appendc(&d, ',');
			r |= cache_piece_delta(j, &c, &pc, &d);
		} else {
			if (first && !c.content.present)
				r |= buf_appends(&d, ",\"content\":null");
			if (r == 0)
				r = cache_choice_chunk(s, ch, idx, d.data, -1,
				    -1, -1);
			buf_reset(&d);
			r |= cache_piece_delta(j, &c, &pc, &d);
		}
		first = 0;
	}
	if (first && !c.content.present)
		r |= buf_appends(&d, ",\"content\":null");
	if (r == 0)
		r = cache_choice_chunk(s, ch, idx, d.data, -1, -1, -1);
	buf_free(&d);
	cache_cut_free(&c);
	if (r != 0)
		return -1;
	return cache_choice_chunk(s, ch, idx, "", -1, -1,
	    json_get(j, ch, "finish_reason"));
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
	if (s->npieces > 0 &&
	    (r = cache_choice_pieces(s, ch, idx, msg, role)) != 1)
		return r;

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
cache_render_sse(const char *answer, size_t len, const char *pieces,
    size_t pieces_len, int include_usage, struct buf *out, char *err,
    size_t errlen)
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
	if (pieces != NULL && cache_pieces_ok(pieces_len)) {
		s.pieces = (const unsigned char *)pieces;
		s.npieces = pieces_len / CACHE_PIECE_LEN;
	}
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
