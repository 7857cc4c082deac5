/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The Gemini generateContent wire format, answer side: Gemini answers, SSE
 * streams, google.rpc errors and batch embeddings become OpenAI's shapes,
 * with tool-call ids that carry Gemini's thought signatures back.  Requests
 * are built in gemini-request.c and gemini-schema.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "buf.h"
#include "crypto.h"
#include "json.h"
#include "providers/provider.h"
#include "providers/gemini.h"

/* The state of ctx, made on first use; NULL on OOM. */
struct gem_state *
gemini_state(struct prov_ctx *ctx)
{
	if (ctx->state == NULL)
		ctx->state = calloc(1, sizeof(struct gem_state));
	return ctx->state;
}

/* Free what gemini_state() made. */
static void
gemini_ctx_free(struct prov_ctx *ctx)
{
	free(ctx->state);
	ctx->state = NULL;
}

/* The name the source knows the model by. */
const char *
gemini_upstream(const struct prov_ctx *ctx)
{
	const char *m = ctx->model->upstream_model != NULL ?
	    ctx->model->upstream_model : ctx->model->id;

	return strncmp(m, "models/", 7) == 0 ? m + 7 : m;
}

/* Fill err with a 400 about param of the client's request. */
int
gemini_bad_request(struct errinfo *err, const char *code, const char *param,
    const char *fmt, ...)
{
	char msg[sizeof(err->message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	provider_err(err, 400, "invalid_request_error", code, "%s", msg);
	if (param != NULL)
		snprintf(err->param, sizeof(err->param), "%s", param);
	return -1;
}

/* A 400 for a parameter the Gemini API cannot honour. */
int
gemini_unsupported(const struct prov_ctx *ctx, struct errinfo *err,
    const char *param, const char *why)
{
	return gemini_bad_request(err, "unsupported_parameter", param,
	    "The model '%s' does not support '%s'%s%s.", ctx->model->id, param,
	    why != NULL ? ": " : "", why != NULL ? why : "");
}

/* Fill err for an allocation that failed. */
int
gemini_no_memory(struct errinfo *err)
{
	provider_err(err, 500, "server_error", NULL, "out of memory");
	return -1;
}

/* 1 if s ends with suffix. */
static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * The URL of a call: {base}/v1beta/models/{model}:{method}.  A base that
 * already names the API version keeps it.  Caller frees; NULL on OOM.
 */
static char *
method_url(const struct prov_ctx *ctx, const char *method)
{
	const char *base = ctx->prov->base_url, *m = gemini_upstream(ctx);
	struct buf b;
	size_t len;
	int r = 0;

	buf_init(&b, 0);
	r |= buf_appends(&b, base);
	if (!ends_with(base, "/v1beta") && !ends_with(base, "/v1"))
		r |= buf_appends(&b, "/v1beta");
	r |= buf_appends(&b, "/models/");
	for (; *m != '\0'; m++) {
		if (isalnum((unsigned char)*m) || strchr("-._~", *m) != NULL)
			r |= buf_appendc(&b, *m);
		else
			r |= buf_appendf(&b, "%%%02X", (unsigned char)*m);
	}
	/* One refused piece would leave a URL missing it: all or nothing. */
	if ((r | buf_appendf(&b, ":%s", method)) != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, &len);
}

/* Set the URL and the headers of ur; -1 on OOM. */
int
gemini_set_call(const struct prov_ctx *ctx, struct upstream_req *ur,
    const char *method, int stream)
{
	size_t nh = 0;
	int r = 0;

	if ((ur->url = method_url(ctx, method)) == NULL)
		return -1;
	r |= provider_add_header(&ur->headers, &nh, "x-goog-api-key",
	    ctx->prov->api_key != NULL ? ctx->prov->api_key : "");
	r |= provider_add_header(&ur->headers, &nh, "Content-Type", "application/json");
	r |= provider_add_header(&ur->headers, &nh, "Accept", stream ?
	    "text/event-stream" : "application/json");
	return r;
}

/* --- base64 ----------------------------------------------------------- */

static const char b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Append n bytes as standard base64 with padding. */
static int
b64_append(struct buf *b, const unsigned char *p, size_t n)
{
	char q[4];
	size_t i;
	unsigned long v;

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = b64std[(v >> 18) & 63];
		q[1] = b64std[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64std[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64std[v & 63] : '=';
		if (buf_append(b, q, 4) != 0)
			return -1;
	}
	return 0;
}

/* 1 if [p, p+n) is made of base64 characters (either alphabet, padding). */
int
gemini_b64_chars(const char *p, size_t n)
{
	size_t i;

	/* Not strchr(): it finds the terminator, and a NUL is no base64. */
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) &&
		    memchr("+/=-_", p[i], 5) == NULL)
			return 0;
	return n > 0;
}

/* --- tool-call ids ---------------------------------------------------- */

/*
 * Gemini gives tool calls no usable id, but wants its thought signature
 * (and its own call id, when it set one) back with the call in the next
 * turn.  Our ids carry both, so an OpenAI client that only echoes ids
 * round-trips them:
 *	call_<24 hex>[_i<hex of Gemini's id>][_t<signature in base64url>]
 * The whole id stays within [A-Za-z0-9_-], so other sources accept it.
 */

/*
 * Append the id of call k of candidate c (unquoted): a hash of our request
 * id, c, k, the function name, the response id and Gemini's call id, so a
 * replayed answer keeps its ids; then what must travel back to Gemini.
 */
static int
callid_write(struct buf *b, const struct prov_ctx *ctx, const struct json *j,
    int c, int k, int name, int gid, int sig)
{
	struct buf h;
	char hex[CRYPTO_SHA256_HEXLEN + 1];
	const char *p;
	size_t n, i;
	int r = 0;

	buf_init(&h, 0);
	p = json_ptr(j, name, &n);
	r |= buf_appendf(&h, "%s|%d|%d|", ctx->request_id, c, k);
	r |= buf_append(&h, p, n);
	if ((p = json_ptr(j, json_get(j, 0, "responseId"), &n)) != NULL)
		r |= buf_appendc(&h, '|') | buf_append(&h, p, n);
	if (gid >= 0 && (p = json_ptr(j, gid, &n)) != NULL)
		r |= buf_append(&h, p, n);
	if (r != 0) {
		buf_free(&h);
		return -1;
	}
	crypto_sha256_hex(h.data, h.len, hex);
	buf_free(&h);
	r |= buf_appends(b, "call_");
	r |= buf_append(b, hex, GEM_HASHLEN);
	if (gid >= 0 && json_type(j, gid) == JSON_STRING &&
	    (p = json_ptr(j, gid, &n)) != NULL && n > 0 && n <= 64 &&
	    memchr(p, '\\', n) == NULL) {
		r |= buf_appends(b, "_i");
		for (i = 0; i < n; i++)
			r |= buf_appendf(b, "%02x", (unsigned char)p[i]);
	}
	if (sig >= 0 && json_type(j, sig) == JSON_STRING &&
	    (p = json_ptr(j, sig, &n)) != NULL && gemini_b64_chars(p, n)) {
		r |= buf_appends(b, "_t");
		for (i = 0; i < n; i++) {
			if (p[i] == '+')
				r |= buf_appendc(b, '-');
			else if (p[i] == '/')
				r |= buf_appendc(b, '_');
			else if (p[i] != '=')
				r |= buf_appendc(b, p[i]);
		}
	}
	return r;
}

/* Value of a hex digit, or -1. */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Take an id apart.  An id of another shape (another source's) gives an
 * empty result.  0, or -1 on OOM.  Free out->sig.
 */
int
gemini_callid_parse(const char *id, struct callid *out)
{
	const char *p;
	size_t n, i, len;
	char *s;
	int hi, lo;

	memset(out, 0, sizeof(*out));
	if (strncmp(id, "call_", 5) != 0)
		return 0;
	for (p = id + 5, i = 0; i < GEM_HASHLEN; i++)
		if (hexval((unsigned char)p[i]) < 0)
			return 0;
	p += GEM_HASHLEN;
	if (p[0] == '_' && p[1] == 'i') {
		for (p += 2, n = 0; (hi = hexval((unsigned char)p[0])) >= 0 &&
		    (lo = hexval((unsigned char)p[1])) >= 0; p += 2) {
			if (n + 1 >= sizeof(out->gid) || hi * 16 + lo < 0x20 ||
			    hi * 16 + lo == '"' || hi * 16 + lo == '\\')
				goto foreign;
			out->gid[n++] = (char)(hi * 16 + lo);
		}
		out->gid[n] = '\0';
	}
	if (p[0] == '_' && p[1] == 't') {
		p += 2;
		len = strlen(p);
		if (len == 0)
			goto foreign;
		for (i = 0; i < len; i++)
			if (!isalnum((unsigned char)p[i]) && p[i] != '-' &&
			    p[i] != '_')
				goto foreign;
		if ((s = malloc(len + 4)) == NULL)
			return -1;
		for (i = 0; i < len; i++)
			s[i] = p[i] == '-' ? '+' : p[i] == '_' ? '/' : p[i];
		while (i % 4 != 0)
			s[i++] = '=';
		s[i] = '\0';
		out->sig = s;
		p += len;
	}
	if (*p == '\0')
		return 0;
foreign:
	free(out->sig);
	memset(out, 0, sizeof(*out));
	return 0;
}

/* --- small JSON helpers ------------------------------------------------ */

/* 1 if string token k is in the NULL-terminated list. */
int
gemini_in_list(const struct json *j, int k, const char *const *list)
{
	for (; *list != NULL; list++)
		if (json_streq(j, k, *list))
			return 1;
	return 0;
}

/* Append ,"key": (or without the comma for the first member). */
int
gemini_member_key(struct buf *b, int *n, const char *key)
{
	return buf_appendf(b, "%s\"%s\":", (*n)++ > 0 ? "," : "", key);
}

/* --- answers: generateContent -> OpenAI ------------------------------- */

/* An integer member of object o, or 0. */
static int64_t
member_i64(const struct json *j, int o, const char *key)
{
	int64_t v = 0;

	if (json_int64(j, json_get(j, o, key), &v) != 0 || v < 0)
		return 0;
	return v;
}

/*
 * usageMetadata into u.  candidatesTokenCount excludes thoughts; answers
 * where it already includes them (total = prompt + candidates) are not
 * counted twice.
 */
static void
usage_read(const struct json *j, int um, struct usage *u)
{
	int64_t p, tool, c, th, total, v[6];

	if (json_type(j, um) != JSON_OBJECT)
		return;
	p = member_i64(j, um, "promptTokenCount");
	tool = member_i64(j, um, "toolUsePromptTokenCount");
	c = member_i64(j, um, "candidatesTokenCount");
	th = member_i64(j, um, "thoughtsTokenCount");
	total = member_i64(j, um, "totalTokenCount");
	memset(u, 0, sizeof(*u));
	v[0] = p;
	v[1] = tool;
	v[2] = c;
	v[3] = th;
	v[4] = total;
	v[5] = member_i64(j, um, "cachedContentTokenCount");
	/* In range, the sums below cannot overflow; else estimate. */
	if (!provider_usage_sane(v, NM_NELEM(v)))
		return;
	u->have = 1;
	u->prompt_tokens = p + tool;
	u->completion_tokens = th > 0 && total == p + tool + c ? c : c + th;
	u->total_tokens = u->prompt_tokens + u->completion_tokens;
	u->cached_tokens = v[5];
	u->reasoning_tokens = th;
}

/* OpenAI's usage object. */
static int
usage_write(struct buf *b, const struct usage *u)
{
	return buf_appendf(b, "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
	    "\"total_tokens\":%lld,\"prompt_tokens_details\":{\"cached_tokens\":"
	    "%lld},\"completion_tokens_details\":{\"reasoning_tokens\":%lld}}",
	    (long long)u->prompt_tokens, (long long)u->completion_tokens,
	    (long long)u->total_tokens, (long long)u->cached_tokens,
	    (long long)u->reasoning_tokens);
}

/* Gemini finish reasons and OpenAI's; IMAGE_* filters are matched apart. */
static const struct {
	const char	*gem;
	const char	*oai;
} finish_map[] = {
	{ "STOP", "stop" },
	{ "MAX_TOKENS", "length" },
	{ "SAFETY", "content_filter" },
	{ "RECITATION", "content_filter" },
	{ "LANGUAGE", "content_filter" },
	{ "OTHER", "content_filter" },
	{ "BLOCKLIST", "content_filter" },
	{ "PROHIBITED_CONTENT", "content_filter" },
	{ "SPII", "content_filter" },
	{ "NO_IMAGE", "content_filter" },
	{ "MALFORMED_FUNCTION_CALL", "stop" },
	{ "UNEXPECTED_TOOL_CALL", "stop" },
	{ "TOO_MANY_TOOL_CALLS", "stop" },
	{ "FINISH_REASON_UNSPECIFIED", "stop" },
};

/* OpenAI's finish_reason for Gemini's fr (a string token). */
static const char *
finish_reason(const struct json *j, int fr, int saw_tool)
{
	const char *p;
	size_t i, n;

	if (saw_tool)
		return "tool_calls";
	for (i = 0; i < NM_NELEM(finish_map); i++)
		if (json_streq(j, fr, finish_map[i].gem))
			return finish_map[i].oai;
	p = json_ptr(j, fr, &n);
	if (p != NULL && n > 6 && strncmp(p, "IMAGE_", 6) == 0)
		return "content_filter";
	return "stop";
}

/* What one candidate's parts say, in OpenAI pieces. */
struct cand_out {
	struct buf	text;		/* escaped text, without quotes */
	struct buf	thought;	/* the same for thought summaries */
	struct buf	calls;		/* tool-call objects, comma-separated */
	int		ntext;
	int		nthought;
	int		ncalls;
};

static void
cand_free(struct cand_out *co)
{
	buf_free(&co->text);
	buf_free(&co->thought);
	buf_free(&co->calls);
	memset(co, 0, sizeof(*co));
}

/* A 502 for an answer we cannot read. */
static int
bad_answer(const struct prov_ctx *ctx, struct errinfo *err, const char *what)
{
	provider_err(err, 502, "upstream_error", "upstream_error",
	    "The source '%s' sent %s.", ctx->prov->name, what);
	return -1;
}

/*
 * The parts of candidate cand (number c) into co; the tool calls count
 * from first and carry their index when stream is set.
 */
static int
cand_read(const struct prov_ctx *ctx, const struct json *j, int cand, int c,
    int first, int stream, struct cand_out *co, struct errinfo *err)
{
	const char *p;
	size_t n;
	int parts, i, t, v, fc, name, args, th, r = 0;

	parts = json_get(j, json_get(j, cand, "content"), "parts");
	for (i = 0, t = parts + 1; i < json_size(j, parts); i++, t = json_skip(j, t)) {
		if ((v = json_get(j, t, "text")) >= 0 &&
		    json_type(j, v) == JSON_STRING) {
			p = json_ptr(j, v, &n);
			th = json_type(j, json_get(j, t, "thought")) == JSON_TRUE;
			r |= buf_append(th ? &co->thought : &co->text, p, n);
			if (th)
				co->nthought++;
			else
				co->ntext++;
			continue;
		}
		if ((fc = json_get(j, t, "functionCall")) < 0)
			continue;	/* code, files: no OpenAI form */
		name = json_get(j, fc, "name");
		args = json_get(j, fc, "args");
		if (json_type(j, name) != JSON_STRING || (args >= 0 &&
		    json_type(j, args) != JSON_OBJECT && json_type(j, args) !=
		    JSON_NULL))
			return bad_answer(ctx, err, "a malformed function call");
		if (co->ncalls++ > 0)
			r |= buf_appendc(&co->calls, ',');
		if (stream)
			r |= buf_appendf(&co->calls, "{\"index\":%d,", first +
			    co->ncalls - 1);
		else
			r |= buf_appendc(&co->calls, '{');
		r |= buf_appends(&co->calls, "\"id\":\"");
		r |= callid_write(&co->calls, ctx, j, c, first + co->ncalls - 1,
		    name, json_get(j, fc, "id"), json_get(j, t, "thoughtSignature"));
		r |= buf_appends(&co->calls, "\",\"type\":\"function\",\"function\":"
		    "{\"name\":");
		r |= json_write_raw(&co->calls, j, name);
		r |= buf_appends(&co->calls, ",\"arguments\":");
		if (json_type(j, args) == JSON_OBJECT) {
			p = json_raw(j, args, &n);
			r |= json_write_str(&co->calls, p, n);
		} else
			r |= buf_appends(&co->calls, "\"{}\"");
		r |= buf_appends(&co->calls, "}}");
	}
	return r != 0 ? gemini_no_memory(err) : 0;
}

/* The id of our answer: chatcmpl- and the source's responseId, or ours. */
static void
answer_id(const struct prov_ctx *ctx, const struct json *j, char *out,
    size_t outlen)
{
	char rid[64];
	size_t i;
	int v = json_get(j, 0, "responseId");

	if (json_type(j, v) != JSON_STRING ||
	    json_strcpy(j, v, rid, sizeof(rid)) != 0 || rid[0] == '\0')
		snprintf(rid, sizeof(rid), "%s", ctx->request_id[0] != '\0' ?
		    ctx->request_id : "gemini");
	for (i = 0; rid[i] != '\0'; i++)
		if (!isalnum((unsigned char)rid[i]) && rid[i] != '-' &&
		    rid[i] != '_')
			rid[i] = '_';
	snprintf(out, outlen, "chatcmpl-%s", rid);
}

/* The model of our answer as JSON text: modelVersion, or the catalog's name.  -1: OOM. */
static int
answer_model(const struct prov_ctx *ctx, const struct json *j, char *out,
    size_t outlen)
{
	struct buf b;
	int v = json_get(j, 0, "modelVersion");
	size_t n;

	buf_init(&b, outlen - 1);
	json_ptr(j, v, &n);
	if (json_type(j, v) != JSON_STRING || n == 0 ||
	    json_write_raw(&b, j, v) != 0) {
		/* Too long falls back to our name; out of memory fails. */
		if (json_type(j, v) == JSON_STRING && n > 0 && !b.toobig)
			goto oom;
		buf_reset(&b);
		b.toobig = 0;
		if (json_write_cstr(&b, gemini_upstream(ctx)) != 0) {
			if (!b.toobig)
				goto oom;
			buf_reset(&b);
		}
	}
	snprintf(out, outlen, "%s", b.len > 0 ? b.data : "\"gemini\"");
	buf_free(&b);
	return 0;
oom:
	buf_free(&b);
	return -1;
}

/* The message of one candidate: content, thoughts, tool calls. */
static int
message_write(struct buf *b, const struct cand_out *co)
{
	int r = 0;

	r |= buf_appends(b, "{\"role\":\"assistant\",\"content\":");
	if (co->ntext > 0)
		r |= buf_appendc(b, '"') | buf_append(b, co->text.data,
		    co->text.len) | buf_appendc(b, '"');
	else
		r |= buf_appends(b, "null");
	if (co->nthought > 0)
		r |= buf_appends(b, ",\"reasoning_content\":\"") |
		    buf_append(b, co->thought.data, co->thought.len) |
		    buf_appendc(b, '"');
	if (co->ncalls > 0)
		r |= buf_appends(b, ",\"tool_calls\":[") |
		    buf_append(b, co->calls.data, co->calls.len) |
		    buf_appendc(b, ']');
	return r | buf_appends(b, ",\"refusal\":null}");
}

/* A prompt Gemini refused to answer (200, no candidates): a 400 for the client. */
static int
blocked(const struct prov_ctx *ctx, const struct json *j, struct errinfo *err)
{
	char reason[64] = "";
	int br = json_get(j, json_get(j, 0, "promptFeedback"), "blockReason");

	if (json_type(j, br) != JSON_STRING)
		return bad_answer(ctx, err, "an answer without candidates");
	json_strcpy(j, br, reason, sizeof(reason));
	provider_scrub(ctx->prov, reason);
	provider_err(err, 400, "invalid_request_error", "content_filter",
	    "The source '%s' refused the prompt for model '%s' (block reason: "
	    "%s).", ctx->prov->name, ctx->model->id, reason);
	return -1;
}

static void gemini_map_error(struct prov_ctx *, long, const char *, size_t,
    const char *, struct errinfo *);

/* The HTTP-like status of an {"error": {...}} body that came with a 200. */
static long
error_status(const struct json *j)
{
	int64_t code = 0;

	if (json_int64(j, json_get(j, json_get(j, 0, "error"), "code"),
	    &code) != 0 || code < 400 || code > 599)
		return 500;
	return (long)code;
}

/* A whole answer: the candidates as OpenAI choices. */
static int
gemini_chat_decode(struct prov_ctx *ctx, const char *body, size_t len,
    struct buf *out, int *passthrough, struct errinfo *err)
{
	struct json j;
	struct cand_out co;
	char e[128], id[96], model[160];
	int cands, c, i, fr, r = -1, w = 0;
	int64_t idx;

	memset(&j, 0, sizeof(j));
	memset(&co, 0, sizeof(co));
	*passthrough = 0;
	if (json_parse(&j, body != NULL ? body : "", len, &ctx->lim, e,
	    sizeof(e)) != 0 || (json_type(&j, 0) != JSON_OBJECT &&
	    !(ctx->stream && json_type(&j, 0) == JSON_ARRAY))) {
		bad_answer(ctx, err, "an incomplete or invalid answer");
		goto out;
	}
	if (json_get(&j, 0, "error") >= 0) {
		gemini_map_error(ctx, error_status(&j), body, len, NULL, err);
		goto out;
	}
	if (ctx->stream) {
		bad_answer(ctx, err, "an answer that is not an event stream");
		goto out;
	}
	usage_read(&j, json_get(&j, 0, "usageMetadata"), &ctx->usage);
	cands = json_get(&j, 0, "candidates");
	if (json_type(&j, cands) != JSON_ARRAY || json_size(&j, cands) == 0) {
		blocked(ctx, &j, err);
		goto out;
	}
	answer_id(ctx, &j, id, sizeof(id));
	if (answer_model(ctx, &j, model, sizeof(model)) != 0) {
		gemini_no_memory(err);
		goto out;
	}
	w |= buf_appendf(out, "{\"id\":\"%s\",\"object\":\"chat.completion\","
	    "\"created\":%lld,\"model\":%s,\"choices\":[", id,
	    (long long)ctx->created, model);
	for (i = 0, c = cands + 1; i < json_size(&j, cands); i++, c = json_skip(&j, c)) {
		fr = json_get(&j, c, "finishReason");
		if (json_type(&j, fr) != JSON_STRING) {
			bad_answer(ctx, err, "an unfinished answer");
			goto out;
		}
		if (json_int64(&j, json_get(&j, c, "index"), &idx) != 0 ||
		    idx < 0 || idx >= GEM_MAXCAND)
			idx = i;
		if (cand_read(ctx, &j, c, (int)idx, 0, 0, &co, err) != 0)
			goto out;
		w |= buf_appendf(out, "%s{\"index\":%d,\"message\":", i > 0 ?
		    "," : "", (int)idx);
		w |= message_write(out, &co);
		w |= buf_appendf(out, ",\"logprobs\":null,\"finish_reason\":\"%s\"}",
		    finish_reason(&j, fr, co.ncalls > 0));
		cand_free(&co);
	}
	w |= buf_appendc(out, ']');
	if (ctx->usage.have)
		w |= buf_appends(out, ",\"usage\":") | usage_write(out, &ctx->usage);
	w |= buf_appendc(out, '}');
	if (w != 0) {
		bad_answer(ctx, err, "an answer larger than the gateway accepts");
		goto out;
	}
	r = 0;
out:
	cand_free(&co);
	json_free(&j);
	return r;
}

/* --- streams: Gemini SSE chunks -> OpenAI chunks ----------------------- */

/* Start a chunk object up to and including "choices":. */
static int
chunk_open(struct buf *b, const struct prov_ctx *ctx, const struct gem_state *st)
{
	return buf_appendf(b, "{\"id\":\"%s\",\"object\":\"chat.completion.chunk\","
	    "\"created\":%lld,\"model\":%s,\"choices\":", st->id,
	    (long long)ctx->created, st->model);
}

/* End a chunk (usage null on all but the usage chunk, as OpenAI does) and send it. */
static int
chunk_send(struct buf *out, struct buf *b, const struct prov_ctx *ctx)
{
	int r = 0;

	if (ctx->client_usage)
		r |= buf_appends(b, ",\"usage\":null");
	r |= buf_appendc(b, '}');
	r |= sse_write_data(out, b->data, b->len);
	buf_reset(b);
	return r;
}

/* The delta chunk of candidate idx, if its parts said anything. */
static int
delta_chunk(struct buf *out, struct buf *b, struct prov_ctx *ctx,
    struct gem_state *st, int idx, const struct cand_out *co)
{
	struct gem_cand *c = &st->cand[idx];
	int r = 0, n = 0;

	if (co->ntext == 0 && co->nthought == 0 && co->ncalls == 0)
		return 0;
	r |= chunk_open(b, ctx, st);
	r |= buf_appendf(b, "[{\"index\":%d,\"delta\":{", idx);
	if (!(st->sent_role & (1 << idx))) {
		st->sent_role |= 1 << idx;
		r |= buf_appends(b, "\"role\":\"assistant\"");
		n++;
	}
	if (co->ntext > 0)
		r |= buf_appends(b, n++ > 0 ? ",\"content\":\"" : "\"content\":\"") |
		    buf_append(b, co->text.data, co->text.len) | buf_appendc(b, '"');
	if (co->nthought > 0)
		r |= buf_appends(b, n++ > 0 ? ",\"reasoning_content\":\"" :
		    "\"reasoning_content\":\"") | buf_append(b, co->thought.data,
		    co->thought.len) | buf_appendc(b, '"');
	if (co->ncalls > 0) {
		r |= buf_appends(b, n++ > 0 ? ",\"tool_calls\":[" : "\"tool_calls\":[") |
		    buf_append(b, co->calls.data, co->calls.len) | buf_appendc(b, ']');
		c->ntools += co->ncalls;
		c->saw_tool = 1;
	}
	r |= buf_appends(b, "},\"logprobs\":null,\"finish_reason\":null}]");
	return r | chunk_send(out, b, ctx);
}

/* The finish chunk of candidate idx. */
static int
finish_chunk(struct buf *out, struct buf *b, struct prov_ctx *ctx,
    struct gem_state *st, int idx, const char *reason)
{
	int r = 0, role = !(st->sent_role & (1 << idx));

	st->sent_role |= 1 << idx;
	st->cand[idx].finished = 1;
	r |= chunk_open(b, ctx, st);
	r |= buf_appendf(b, "[{\"index\":%d,\"delta\":{%s},\"logprobs\":null,"
	    "\"finish_reason\":\"%s\"}]", idx, role ? "\"role\":\"assistant\"" :
	    "", reason);
	return r | chunk_send(out, b, ctx);
}

/*
 * One SSE event: a whole GenerateContentResponse with the new parts.
 * Gemini marks no end: once every candidate has a finishReason the stream
 * is complete (saw_done), and the usage chunk follows if asked for.
 */
static int
gemini_chat_event(struct prov_ctx *ctx, const struct sse_event *ev,
    struct buf *out, struct errinfo *err)
{
	struct gem_state *st;
	struct json j;
	struct cand_out co;
	struct buf b;
	char e[128];
	int cands, c, i, fr, all, r = -1;
	int64_t idx;

	memset(&j, 0, sizeof(j));
	memset(&co, 0, sizeof(co));
	buf_init(&b, 0);
	if (ev->data_len == 0)
		return 0;
	if ((st = gemini_state(ctx)) == NULL)
		return gemini_no_memory(err);
	if (json_parse(&j, ev->data, ev->data_len, &ctx->lim, e, sizeof(e)) != 0 ||
	    json_type(&j, 0) != JSON_OBJECT) {
		bad_answer(ctx, err, "an invalid stream event");
		goto out;
	}
	if (json_get(&j, 0, "error") >= 0) {
		gemini_map_error(ctx, error_status(&j), ev->data, ev->data_len,
		    NULL, err);
		goto out;
	}
	if (st->id[0] == '\0') {
		answer_id(ctx, &j, st->id, sizeof(st->id));
		if (answer_model(ctx, &j, st->model, sizeof(st->model)) != 0) {
			gemini_no_memory(err);
			goto out;
		}
	}
	usage_read(&j, json_get(&j, 0, "usageMetadata"), &ctx->usage);
	cands = json_get(&j, 0, "candidates");
	if (json_size(&j, cands) <= 0) {
		if (json_get(&j, json_get(&j, 0, "promptFeedback"),
		    "blockReason") >= 0) {
			blocked(ctx, &j, err);
			goto out;
		}
		r = 0;		/* a usage-only chunk */
		goto out;
	}
	for (i = 0, c = cands + 1; i < json_size(&j, cands); i++, c = json_skip(&j, c)) {
		if (json_int64(&j, json_get(&j, c, "index"), &idx) != 0)
			idx = i;
		if (idx < 0 || idx >= GEM_MAXCAND) {
			bad_answer(ctx, err, "a stream with too many candidates");
			goto out;
		}
		if (!st->cand[idx].seen) {
			st->cand[idx].seen = 1;
			st->ncand++;
		}
		if (cand_read(ctx, &j, c, (int)idx, st->cand[idx].ntools, 1,
		    &co, err) != 0)
			goto out;
		if (delta_chunk(out, &b, ctx, st, (int)idx, &co) != 0)
			goto toobig;
		cand_free(&co);
		fr = json_get(&j, c, "finishReason");
		if (json_type(&j, fr) == JSON_STRING && !st->cand[idx].finished &&
		    finish_chunk(out, &b, ctx, st, (int)idx, finish_reason(&j, fr,
		    st->cand[idx].saw_tool)) != 0)
			goto toobig;
	}
	for (i = 0, all = st->ncand > 0; i < GEM_MAXCAND; i++)
		if (st->cand[i].seen && !st->cand[i].finished)
			all = 0;
	if (all && !ctx->saw_done) {
		ctx->saw_done = 1;
		if (ctx->client_usage && ctx->usage.have && !st->usage_sent) {
			st->usage_sent = 1;
			if (chunk_open(&b, ctx, st) != 0 ||
			    buf_appends(&b, "[],\"usage\":") != 0 ||
			    usage_write(&b, &ctx->usage) != 0 ||
			    buf_appendc(&b, '}') != 0 ||
			    sse_write_data(out, b.data, b.len) != 0)
				goto toobig;
		}
	}
	r = 0;
	goto out;
toobig:
	bad_answer(ctx, err, "a stream larger than the gateway accepts");
out:
	cand_free(&co);
	buf_free(&b);
	json_free(&j);
	return r;
}

/* --- errors ------------------------------------------------------------ */

/* What a google.rpc.Status body says. */
struct gerr {
	char	msg[400];
	char	status[48];
	char	reason[64];
	char	retry[32];	/* RetryInfo.retryDelay in whole seconds */
};

/* Seconds ("17s", "0.5s") rounded up, as text, into out; "" if unreadable. */
static void
retry_seconds(const char *d, char *out, size_t outlen)
{
	long long s = 0;
	size_t i;
	int frac = 0;

	out[0] = '\0';
	for (i = 0; d[i] >= '0' && d[i] <= '9' && i < 12; i++)
		s = s * 10 + (d[i] - '0');
	if (i == 0)
		return;
	if (d[i] == '.')
		for (i++; d[i] >= '0' && d[i] <= '9'; i++)
			if (d[i] != '0')
				frac = 1;
	if (strcmp(d + i, "s") != 0)
		return;
	snprintf(out, outlen, "%lld", s + frac > 0 ? s + frac : 1);
}

/* Read {"error": {code, message, status, details}} (or a list of one). */
static void
read_gerr(struct prov_ctx *ctx, const char *body, size_t len, struct gerr *ge)
{
	struct json j;
	char e[128], buf[64];
	int o, d, i, t, ty;
	const char *p;
	size_t n;

	memset(ge, 0, sizeof(*ge));
	memset(&j, 0, sizeof(j));
	if (body == NULL || len == 0 ||
	    json_parse(&j, body, len, &ctx->lim, e, sizeof(e)) != 0)
		goto out;
	o = json_type(&j, 0) == JSON_ARRAY ? 1 : 0;
	o = json_get(&j, o, "error");
	if (json_type(&j, o) != JSON_OBJECT)
		goto out;
	json_strcpy(&j, json_get(&j, o, "message"), ge->msg, sizeof(ge->msg));
	json_strcpy(&j, json_get(&j, o, "status"), ge->status, sizeof(ge->status));
	d = json_get(&j, o, "details");
	for (i = 0, t = d + 1; i < json_size(&j, d); i++, t = json_skip(&j, t)) {
		ty = json_get(&j, t, "@type");
		p = json_ptr(&j, ty, &n);
		if (json_type(&j, ty) != JSON_STRING)
			continue;
		if (n >= 9 && memcmp(p + n - 9, "ErrorInfo", 9) == 0)
			json_strcpy(&j, json_get(&j, t, "reason"), ge->reason,
			    sizeof(ge->reason));
		else if (n >= 9 && memcmp(p + n - 9, "RetryInfo", 9) == 0 &&
		    json_strcpy(&j, json_get(&j, t, "retryDelay"), buf,
		    sizeof(buf)) == 0)
			retry_seconds(buf, ge->retry, sizeof(ge->retry));
	}
out:
	json_free(&j);
	provider_scrub(ctx->prov, ge->msg);
}

/* Turn a source's failure status and google.rpc body into the client's error. */
static void
gemini_map_error(struct prov_ctx *ctx, long status, const char *body,
    size_t len, const char *retry_after, struct errinfo *err)
{
	struct gerr ge;
	const char *src = ctx->prov->name, *model = ctx->model->id;

	read_gerr(ctx, body, len, &ge);
	if (status == 401 || status == 403 ||
	    strcmp(ge.status, "PERMISSION_DENIED") == 0 ||
	    strcmp(ge.status, "UNAUTHENTICATED") == 0 ||
	    strncmp(ge.reason, "API_KEY_", 8) == 0) {
		provider_err(err, 502, "upstream_error", "upstream_auth_failed",
		    "The source '%s' rejected the gateway's credentials for "
		    "model '%s'.", src, model);
	} else if (status == 429 || strcmp(ge.status, "RESOURCE_EXHAUSTED") == 0) {
		provider_err(err, 429, "rate_limit_error",
		    "upstream_rate_limited", "The source '%s' is rate limiting "
		    "requests for model '%s'%s%s", src, model, ge.msg[0] ?
		    ": " : ".", ge.msg);
		snprintf(err->retry_after, sizeof(err->retry_after), "%s",
		    retry_after != NULL && retry_after[0] != '\0' ?
		    retry_after : ge.retry);
	} else if (strcmp(ge.status, "FAILED_PRECONDITION") == 0) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' cannot serve model '%s' to the gateway%s%s",
		    src, model, ge.msg[0] ? ": " : ".", ge.msg);
	} else if (status == 400 || status == 409 || status == 413 ||
	    status == 422) {
		provider_err(err, 400, "invalid_request_error", NULL,
		    "%s", ge.msg[0] ? ge.msg :
		    "The source rejected the request as invalid.");
	} else if (status == 404) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' does not know model '%s'.", src, model);
	} else if (status == 408 || status == 504 ||
	    strcmp(ge.status, "DEADLINE_EXCEEDED") == 0) {
		provider_err(err, 504, "upstream_error", "upstream_timeout",
		    "The source '%s' timed out.", src);
	} else {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' failed (HTTP %ld)%s%s", src, status,
		    ge.msg[0] ? ": " : ".", ge.msg);
	}
}

/* --- embeddings ---------------------------------------------------------- */

/* A rough token count of an input: four bytes a token, at least one. */
static int64_t
estimate_tokens(size_t len)
{
	return len == 0 ? 1 : (int64_t)((len + 3) / 4);
}

/* One batchEmbedContents request for input string s. */
static int
embed_request(struct buf *b, const struct prov_ctx *ctx, const struct json *j,
    int s, int dims, int first)
{
	int r = 0;

	r |= buf_appends(b, first ? "{\"model\":" : ",{\"model\":");
	r |= buf_appends(b, "\"models/");
	r |= buf_append(b, gemini_upstream(ctx), strlen(gemini_upstream(ctx)));
	r |= buf_appends(b, "\",\"content\":{\"parts\":[{\"text\":");
	r |= json_write_raw(b, j, s);
	r |= buf_appends(b, "}]}");
	if (dims >= 0)
		r |= buf_appends(b, ",\"outputDimensionality\":") |
		    json_write_raw(b, j, dims);
	return r | buf_appendc(b, '}');
}

/* Build POST .../models/{model}:batchEmbedContents from an OpenAI embeddings body. */
static int
gemini_embed_encode(struct prov_ctx *ctx, const struct json *j,
    struct upstream_req *ur, struct errinfo *err)
{
	static const char *const known[] = { "model", "input", "dimensions",
	    "encoding_format", "user", NULL };
	struct gem_state *st;
	struct buf b;
	char key[64];
	size_t blen, n;
	int in, dims, fmt, i, s, m, k, r = 0;
	int64_t x;

	memset(err, 0, sizeof(*err));
	if ((st = gemini_state(ctx)) == NULL)
		return gemini_no_memory(err);
	for (m = 0, k = 1; m < json_size(j, 0); m++, k = json_skip(j, k + 1))
		if (!gemini_in_list(j, k, known) && json_type(j, k + 1) != JSON_NULL) {
			if (json_strcpy(j, k, key, sizeof(key)) != 0)
				snprintf(key, sizeof(key), "(a long name)");
			return gemini_unsupported(ctx, err, key, "the Gemini API has no "
			    "equivalent");
		}
	in = json_get(j, 0, "input");
	if (json_type(j, in) == JSON_ARRAY) {
		if (json_size(j, in) == 0 || json_size(j, in) > GEM_MAXEMBED)
			return gemini_bad_request(err, "invalid_value", "input", "'input' "
			    "must hold 1 to %d texts for model '%s'.",
			    GEM_MAXEMBED, ctx->model->id);
		for (i = 0, s = in + 1; i < json_size(j, in); i++, s = json_skip(j, s))
			if (json_type(j, s) != JSON_STRING)
				return gemini_unsupported(ctx, err, "input", "the Gemini "
				    "API takes texts, not token arrays");
	} else if (json_type(j, in) != JSON_STRING)
		return gemini_bad_request(err, "invalid_value", "input", "'input' must be "
		    "a string or a list of strings.");
	dims = json_get(j, 0, "dimensions");
	if (json_type(j, dims) == JSON_NULL)
		dims = -1;
	if (dims >= 0 && (json_int64(j, dims, &x) != 0 || x < 1))
		return gemini_bad_request(err, "invalid_value", "dimensions",
		    "'dimensions' must be a positive integer.");
	fmt = json_get(j, 0, "encoding_format");
	ctx->embed_base64 = json_streq(j, fmt, "base64");
	if (fmt >= 0 && json_type(j, fmt) != JSON_NULL && !ctx->embed_base64 &&
	    !json_streq(j, fmt, "float"))
		return gemini_bad_request(err, "invalid_value", "encoding_format",
		    "'encoding_format' must be float or base64.");

	buf_init(&b, 0);
	st->nembed = 0;
	st->embed_tokens = 0;
	r |= buf_appends(&b, "{\"requests\":[");
	for (i = 0, s = json_type(j, in) == JSON_ARRAY ? in + 1 : in;
	    i < (json_type(j, in) == JSON_ARRAY ? json_size(j, in) : 1);
	    i++, s = json_skip(j, s)) {
		json_ptr(j, s, &n);
		if (n == 0) {
			buf_free(&b);
			return gemini_bad_request(err, "invalid_value", "input", "'input' "
			    "must not contain empty strings.");
		}
		r |= embed_request(&b, ctx, j, s, dims, i == 0);
		st->nembed++;
		st->embed_tokens += estimate_tokens(n);
	}
	r |= buf_appends(&b, "]}");
	if (r != 0 || gemini_set_call(ctx, ur, "batchEmbedContents", 0) != 0) {
		buf_free(&b);
		return gemini_no_memory(err);
	}
	ur->body = buf_steal(&b, &blen);
	ur->body_len = blen;
	return 0;
}

/* One embedding as base64 of little-endian float32s (the client asked for it). */
static int
embed_base64(struct buf *b, const struct json *j, int vals)
{
	unsigned char *bytes;
	char num[64], *end;
	const char *p;
	size_t n, k = 0;
	int i, t, r = -1;
	float f;
	uint32_t u;

	if ((bytes = malloc((size_t)json_size(j, vals) * 4 + 1)) == NULL)
		return -1;
	for (i = 0, t = vals + 1; i < json_size(j, vals); i++, t = json_skip(j, t)) {
		p = json_ptr(j, t, &n);
		if (n >= sizeof(num))
			goto out;
		memcpy(num, p, n);
		num[n] = '\0';
		errno = 0;
		f = strtof(num, &end);
		if (end != num + n || !isfinite(f) || (errno == ERANGE &&
		    fabsf(f) > 1.0f))
			goto out;
		memcpy(&u, &f, sizeof(u));
		bytes[k++] = (unsigned char)(u & 0xff);
		bytes[k++] = (unsigned char)((u >> 8) & 0xff);
		bytes[k++] = (unsigned char)((u >> 16) & 0xff);
		bytes[k++] = (unsigned char)((u >> 24) & 0xff);
	}
	r = buf_appendc(b, '"') | b64_append(b, bytes, k) | buf_appendc(b, '"');
out:
	free(bytes);
	return r;
}

/* A whole batchEmbedContents answer as OpenAI's embeddings list. */
static int
gemini_embed_decode(struct prov_ctx *ctx, const char *body, size_t len,
    struct buf *out, int *passthrough, struct errinfo *err)
{
	struct gem_state *st;
	struct json j;
	char e[128];
	int embs, i, t, v, k, x, r = -1, w = 0;

	memset(&j, 0, sizeof(j));
	*passthrough = 0;
	if ((st = gemini_state(ctx)) == NULL)
		return gemini_no_memory(err);
	if (json_parse(&j, body != NULL ? body : "", len, &ctx->lim, e,
	    sizeof(e)) != 0 || json_type(&j, 0) != JSON_OBJECT) {
		bad_answer(ctx, err, "an incomplete or invalid answer");
		goto out;
	}
	if (json_get(&j, 0, "error") >= 0) {
		gemini_map_error(ctx, error_status(&j), body, len, NULL, err);
		goto out;
	}
	embs = json_get(&j, 0, "embeddings");
	if (json_type(&j, embs) != JSON_ARRAY || json_size(&j, embs) == 0 ||
	    (st->nembed > 0 && json_size(&j, embs) != st->nembed)) {
		bad_answer(ctx, err, "a wrong number of embeddings");
		goto out;
	}
	w |= buf_appends(out, "{\"object\":\"list\",\"data\":[");
	for (i = 0, t = embs + 1; i < json_size(&j, embs); i++, t = json_skip(&j, t)) {
		v = json_get(&j, t, "values");
		for (k = 0, x = v + 1; k < json_size(&j, v); k++, x = json_skip(&j, x))
			if (json_type(&j, x) != JSON_NUMBER)
				break;
		if (json_type(&j, v) != JSON_ARRAY || json_size(&j, v) == 0 ||
		    k < json_size(&j, v)) {
			bad_answer(ctx, err, "an embedding that is not a list of "
			    "numbers");
			goto out;
		}
		w |= buf_appendf(out, "%s{\"object\":\"embedding\",\"index\":%d,"
		    "\"embedding\":", i > 0 ? "," : "", i);
		if (ctx->embed_base64) {
			if (embed_base64(out, &j, v) != 0) {
				bad_answer(ctx, err, "an embedding value out of "
				    "float range");
				goto out;
			}
		} else
			w |= json_write_raw(out, &j, v);
		w |= buf_appendc(out, '}');
	}
	memset(&ctx->usage, 0, sizeof(ctx->usage));
	ctx->usage.prompt_tokens = ctx->usage.total_tokens = st->embed_tokens;
	w |= buf_appends(out, "],\"model\":") |
	    json_write_cstr(out, gemini_upstream(ctx)) |
	    buf_appendf(out, ",\"usage\":{\"prompt_tokens\":%lld,"
	    "\"total_tokens\":%lld}}", (long long)st->embed_tokens,
	    (long long)st->embed_tokens);
	if (w != 0) {
		bad_answer(ctx, err, "an answer larger than the gateway accepts");
		goto out;
	}
	r = 0;
out:
	json_free(&j);
	return r;
}

const struct provider_ops provider_gemini = {
	.kind = PROVIDER_GEMINI,
	.chat_encode = gemini_request_encode,
	.chat_decode = gemini_chat_decode,
	.chat_event = gemini_chat_event,
	.map_error = gemini_map_error,
	.ctx_free = gemini_ctx_free,
	.embed_encode = gemini_embed_encode,
	.embed_decode = gemini_embed_decode,
};
