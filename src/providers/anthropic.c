/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The Anthropic Messages API wire format: the call, and the answers,
 * streams and errors of the source translated into OpenAI's shapes, event
 * by event (wire-formats.md 5.2-5.6).  The request body itself is built by
 * anthropic-request.c.  Thinking text goes to the client as the
 * non-standard reasoning_content (DeepSeek's convention, ignored by SDKs
 * that do not know it), never as content.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "buf.h"
#include "json.h"
#include "providers/anthropic.h"
#include "providers/provider.h"

#define ANTH_VERSION		"2023-06-01"
#define ANTH_MAX_BLOCKS		65536	/* content blocks in one streamed answer */

/* --- per-call state -------------------------------------------------- */

enum blk_kind { BLK_NONE = 0, BLK_TEXT, BLK_TOOL, BLK_JSON, BLK_THINK, BLK_OTHER };

/* One content block of a streamed answer, by Anthropic's block index. */
struct blk {
	enum blk_kind	 kind;
	int		 tool;		/* our tool_calls index (BLK_TOOL) */
	int		 args;		/* some input JSON was relayed */
};

/* Anthropic's usage: input counts only what follows the last cache breakpoint. */
struct anth_usage {
	int64_t		 input;
	int64_t		 cache_write;
	int64_t		 cache_read;
	int64_t		 output;
	int64_t		 thinking;
	int		 have;
	int		 absurd;	/* a count was out of range: ignore it all */
};

struct anth_state {
	int		 json_tool;	/* response_format rides on the forced tool */
	/* the stream */
	char		 id[160];	/* "chatcmpl-" + the message id */
	char		 model[160];
	int		 started;	/* the role chunk went out */
	int		 done;		/* message_stop seen */
	int		 ntools;	/* tool calls so far: our own index counter */
	struct blk	*blk;
	size_t		 nblk;
	char		 finish[32];
	struct anth_usage u;
};

/* The state of ctx, made on first use; NULL on OOM. */
static struct anth_state *
state(struct prov_ctx *ctx)
{
	if (ctx->state == NULL)
		ctx->state = calloc(1, sizeof(struct anth_state));
	return ctx->state;
}

/* Free what a call kept. */
static void
anth_ctx_free(struct prov_ctx *ctx)
{
	struct anth_state *st;

	if (ctx == NULL || (st = ctx->state) == NULL)
		return;
	free(st->blk);
	free(st);
	ctx->state = NULL;
}

/* --- small helpers ---------------------------------------------------- */

/* Out of memory while translating; returns -1. */
static int
oom(struct errinfo *err)
{
	provider_err(err, 500, "server_error", NULL, "out of memory");
	return -1;
}

/* --- the call ----------------------------------------------------------- */

/* Build POST {base}/v1/messages with the translated body. */
static int
anth_chat_encode(struct prov_ctx *ctx, const struct json *j,
    struct upstream_req *ur, struct errinfo *err)
{
	const struct provider_conf *p = ctx->prov;
	struct anth_state *st;
	struct buf b, url;
	size_t nh = 0, blen;
	int r = 0;

	ctx->asked_usage = 0;		/* Anthropic always reports it */
	if (provider_check_sizes(ctx, j, err) != 0)
		return -1;
	if ((st = state(ctx)) == NULL)
		return oom(err);
	buf_init(&b, 0);
	buf_init(&url, 0);
	if (anthropic_request_body(ctx, j, &b, &st->json_tool, err) != 0) {
		buf_free(&b);
		return -1;
	}
	r |= buf_appendf(&url, "%s/v1/messages", p->base_url);
	r |= provider_add_header(&ur->headers, &nh, "x-api-key",
	    p->api_key != NULL ? p->api_key : "");
	r |= provider_add_header(&ur->headers, &nh, "anthropic-version", ANTH_VERSION);
	r |= provider_add_header(&ur->headers, &nh, "Content-Type", "application/json");
	r |= provider_add_header(&ur->headers, &nh, "Accept", ctx->stream ?
	    "text/event-stream" : "application/json");
	if (r != 0) {
		buf_free(&b);
		buf_free(&url);
		return oom(err);
	}
	ur->url = buf_steal(&url, NULL);
	ur->body = buf_steal(&b, &blen);
	ur->body_len = blen;
	return 0;
}

/* --- usage and finish reasons ------------------------------------------ */

static const struct ufield {
	const char	*key;
	size_t		 off;
} ufields[] = {
	{ "input_tokens", offsetof(struct anth_usage, input) },
	{ "cache_creation_input_tokens", offsetof(struct anth_usage, cache_write) },
	{ "cache_read_input_tokens", offsetof(struct anth_usage, cache_read) },
	{ "output_tokens", offsetof(struct anth_usage, output) },
};

/* The counts present in usage object u override those in au (streams repeat them). */
static void
read_usage(const struct json *j, int u, struct anth_usage *au)
{
	int64_t v;
	size_t i;
	int t, d;

	if (json_type(j, u) != JSON_OBJECT)
		return;
	au->have = 1;
	for (i = 0; i < NM_NELEM(ufields); i++)
		if ((t = json_get(j, u, ufields[i].key)) >= 0 &&
		    json_int64(j, t, &v) == 0 && v >= 0) {
			if (!provider_usage_sane(&v, 1))
				au->absurd = 1;
			*(int64_t *)((char *)au + ufields[i].off) = v;
		}
	if ((d = json_get(j, u, "output_tokens_details")) >= 0 &&
	    (t = json_get(j, d, "thinking_tokens")) >= 0 &&
	    json_int64(j, t, &v) == 0 && v >= 0) {
		if (!provider_usage_sane(&v, 1))
			au->absurd = 1;
		au->thinking = v;
	}
}

/* OpenAI's view: every input class is a prompt token (pitfall 1). */
static void
to_usage(const struct anth_usage *au, struct usage *out)
{
	memset(out, 0, sizeof(*out));
	/* Each count is at most PROV_MAX_USAGE_TOKENS unless absurd: no overflow. */
	if (!au->have || au->absurd)
		return;
	out->have = 1;
	out->prompt_tokens = au->input + au->cache_write + au->cache_read;
	out->completion_tokens = au->output;
	out->total_tokens = out->prompt_tokens + out->completion_tokens;
	out->cached_tokens = au->cache_read;
	out->cache_write_tokens = au->cache_write;
	out->reasoning_tokens = au->thinking;
}

/* An OpenAI usage object. */
static int
write_usage(struct buf *b, const struct anth_usage *au)
{
	struct usage u;

	to_usage(au, &u);
	return buf_appendf(b, "{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,"
	    "\"total_tokens\":%lld,\"prompt_tokens_details\":{\"cached_tokens\":"
	    "%lld,\"cache_write_tokens\":%lld},\"completion_tokens_details\":"
	    "{\"reasoning_tokens\":%lld}}", (long long)u.prompt_tokens,
	    (long long)u.completion_tokens, (long long)u.total_tokens,
	    (long long)u.cached_tokens, (long long)u.cache_write_tokens,
	    (long long)u.reasoning_tokens);
}

static const struct finish {
	const char	*anth;
	const char	*openai;
} finishes[] = {
	{ "end_turn", "stop" }, { "stop_sequence", "stop" },
	{ "max_tokens", "length" }, { "tool_use", "tool_calls" },
	{ "refusal", "content_filter" },
	{ "model_context_window_exceeded", "length" },
	{ "pause_turn", "stop" },	/* no equivalent */
};

/* OpenAI's finish_reason for stop_reason token t ("stop" when unknown). */
static const char *
finish_of(const struct json *j, int t, int ntools)
{
	size_t i;

	for (i = 0; i < NM_NELEM(finishes); i++)
		if (json_streq(j, t, finishes[i].anth)) {
			/* The JSON-mode tool call is the answer, not a call. */
			if (ntools == 0 && strcmp(finishes[i].openai,
			    "tool_calls") == 0)
				return "stop";
			return finishes[i].openai;
		}
	return "stop";
}

/* --- errors --------------------------------------------------------------- */

/*
 * Anthropic's failures in OpenAI's shape (wire-formats.md 5.6).  A row
 * matches the source's HTTP status or its error.type, first match wins.
 * text NULL: the source's own message is the client's (a 400 it caused).
 */
static const struct errmap {
	long		 status;
	const char	*atype;
	int		 to;
	const char	*type;
	const char	*code;
	const char	*text;
	int		 echo;		/* append the source's message */
} errmap[] = {
	{ 529, "overloaded_error", 503, "upstream_error", "upstream_overloaded",
	    "is overloaded; retry later", 0 },
	{ 503, NULL, 503, "upstream_error", "upstream_overloaded",
	    "is overloaded; retry later", 0 },
	{ 401, "authentication_error", 502, "upstream_error",
	    "upstream_auth_failed", "rejected the gateway's credentials", 0 },
	{ 403, "permission_error", 502, "upstream_error",
	    "upstream_auth_failed", "rejected the gateway's credentials", 0 },
	{ 402, "billing_error", 502, "upstream_error", "upstream_quota",
	    "refused the request for lack of credit", 0 },
	{ 429, "rate_limit_error", 429, "rate_limit_error",
	    "upstream_rate_limited", "is rate limiting requests", 1 },
	{ 404, "not_found_error", 502, "upstream_error", "upstream_error",
	    "does not know the model", 1 },
	{ 413, "request_too_large", 413, "invalid_request_error",
	    "request_too_large", "found the request too large", 1 },
	{ 504, "timeout_error", 504, "upstream_error", "upstream_timeout",
	    "timed out", 0 },
	{ 408, NULL, 504, "upstream_error", "upstream_timeout", "timed out", 0 },
	{ 400, "invalid_request_error", 400, "invalid_request_error", NULL,
	    NULL, 1 },
	{ 409, NULL, 400, "invalid_request_error", NULL, NULL, 1 },
	{ 422, NULL, 400, "invalid_request_error", NULL, NULL, 1 },
};

/* The type and message of an Anthropic error object (msg scrubbed). */
struct srcerr {
	char	type[48];
	char	msg[400];
};

/* Read {"type":"error","error":{"type","message"}} from j (may be anything). */
static void
read_srcerr(struct prov_ctx *ctx, const struct json *j, struct srcerr *se)
{
	int e, t;

	memset(se, 0, sizeof(*se));
	if ((e = json_get(j, 0, "error")) < 0 || json_type(j, e) != JSON_OBJECT)
		return;
	if ((t = json_get(j, e, "type")) >= 0 && json_type(j, t) == JSON_STRING)
		json_strcpy(j, t, se->type, sizeof(se->type));
	if ((t = json_get(j, e, "message")) >= 0 && json_type(j, t) == JSON_STRING &&
	    json_strcpy(j, t, se->msg, sizeof(se->msg)) != 0) {
		/* Too long for us: keep its start. */
		size_t n;
		const char *p = json_ptr(j, t, &n);

		snprintf(se->msg, sizeof(se->msg), "%.*s...", (int)NM_MIN(n,
		    sizeof(se->msg) - 4), p);
	}
	provider_scrub(ctx->prov, se->msg);
}

/* Fill err for a failure of status (0: mid-stream) and source error se. */
static void
fill_error(struct prov_ctx *ctx, long status, const struct srcerr *se,
    const char *retry_after, struct errinfo *err)
{
	const struct errmap *m = NULL;
	char http[32] = "";
	size_t i;

	for (i = 0; i < NM_NELEM(errmap) && m == NULL; i++)
		if ((status != 0 && errmap[i].status == status) ||
		    (errmap[i].atype != NULL &&
		    strcmp(errmap[i].atype, se->type) == 0))
			m = &errmap[i];
	if (m != NULL && m->text == NULL) {
		provider_err(err, m->to, m->type, m->code, "%s", se->msg[0] ?
		    se->msg : "The source rejected the request as invalid.");
		return;
	}
	if (m == NULL && status != 0)
		snprintf(http, sizeof(http), " (HTTP %ld)", status);
	provider_err(err, m != NULL ? m->to : 502, m != NULL ? m->type :
	    "upstream_error", m != NULL ? m->code : "upstream_error",
	    "The source '%s' of model '%s'%s %s%s%s%s", ctx->prov->name,
	    ctx->model->id, status == 0 ? " (mid-stream)" : "",
	    m != NULL ? m->text : "failed", http, (m == NULL || m->echo) &&
	    se->msg[0] ? ": " : ".", (m == NULL || m->echo) ? se->msg : "");
	if (retry_after != NULL && retry_after[0] != '\0' &&
	    (err->status == 429 || err->status == 503))
		snprintf(err->retry_after, sizeof(err->retry_after), "%s",
		    retry_after);
}

/* A non-2xx answer of the source. */
static void
anth_map_error(struct prov_ctx *ctx, long status, const char *body,
    size_t len, const char *retry_after, struct errinfo *err)
{
	struct srcerr se;
	struct json j;
	char e[128];

	memset(&se, 0, sizeof(se));
	memset(&j, 0, sizeof(j));
	if (body != NULL && len > 0 &&
	    json_parse(&j, body, len, &ctx->lim, e, sizeof(e)) == 0)
		read_srcerr(ctx, &j, &se);
	json_free(&j);
	fill_error(ctx, status, &se, retry_after, err);
}

/* The source's answer is not what the format promises. */
static int
invalid(struct prov_ctx *ctx, struct errinfo *err, const char *what)
{
	provider_err(err, 502, "upstream_error", "upstream_error", "The source "
	    "'%s' sent %s.", ctx->prov->name, what);
	return -1;
}

/* --- whole answers ------------------------------------------------------ */

/* Append the unescaped value of string token t. */
static int
append_str(struct buf *b, const struct json *j, int t)
{
	char *s;
	size_t n;
	int r;

	if ((s = json_strdup(j, t, &n)) == NULL)
		return -1;
	r = buf_append(b, s, n);
	free(s);
	return r;
}

/* One tool_use block: the JSON answer (JSON mode) or an OpenAI tool call. */
static int
decode_tool(struct prov_ctx *ctx, const struct json *j, int c,
    struct buf *txt, struct buf *calls, int *ntools)
{
	struct anth_state *st = ctx->state;
	struct buf in;
	const char *p = "{}";
	size_t n = 2;
	int id, name, t, r = 0;

	id = json_get(j, c, "id");
	name = json_get(j, c, "name");
	if ((t = json_get(j, c, "input")) >= 0 && json_type(j, t) == JSON_OBJECT)
		p = json_raw(j, t, &n);
	if (json_type(j, name) != JSON_STRING)
		return -1;
	if (st->json_tool && json_streq(j, name, ANTH_JSON_TOOL))
		return anthropic_compact(txt, p, n);
	if (json_type(j, id) != JSON_STRING)
		return -1;
	buf_init(&in, 0);
	r |= anthropic_compact(&in, p, n);
	r |= buf_appends(calls, *ntools > 0 ? ",{\"id\":" : "{\"id\":");
	r |= json_write_raw(calls, j, id);
	r |= buf_appends(calls, ",\"type\":\"function\",\"function\":{\"name\":");
	r |= json_write_raw(calls, j, name);
	r |= buf_appends(calls, ",\"arguments\":");
	r |= json_write_str(calls, in.data != NULL ? in.data : "{}", in.len);
	r |= buf_appends(calls, "}}");
	buf_free(&in);
	(*ntools)++;
	return r;
}

/* The chat.completion id for a message id (token t, may be -1). */
static void
chat_id(struct prov_ctx *ctx, const struct json *j, int t, char *out,
    size_t outlen)
{
	char id[128];

	if (t < 0 || json_type(j, t) != JSON_STRING ||
	    json_strcpy(j, t, id, sizeof(id)) != 0 || id[0] == '\0')
		snprintf(id, sizeof(id), "%s", ctx->request_id);
	snprintf(out, outlen, "chatcmpl-%s", id);
}

/* A whole Message: translate it into a chat.completion. */
static int
anth_chat_decode(struct prov_ctx *ctx, const char *body, size_t len,
    struct buf *out, int *passthrough, struct errinfo *err)
{
	struct anth_state *st = state(ctx);
	struct anth_usage au;
	struct srcerr se;
	struct json j;
	struct buf txt, think, calls;
	char e[128], id[160];
	int ty, content, sr, c, k, bt, t, model, ntools = 0, ntext = 0;
	int before, r = -1, w = 0;

	*passthrough = 0;
	memset(&j, 0, sizeof(j));
	memset(&au, 0, sizeof(au));
	buf_init(&txt, 0);
	buf_init(&think, 0);
	buf_init(&calls, 0);
	if (st == NULL) {
		oom(err);
		goto out;
	}
	if (json_parse(&j, body != NULL ? body : "", len, &ctx->lim, e,
	    sizeof(e)) != 0 || json_type(&j, 0) != JSON_OBJECT) {
		invalid(ctx, err, "an incomplete or invalid answer");
		goto out;
	}
	ty = json_get(&j, 0, "type");
	if (json_streq(&j, ty, "error")) {
		read_srcerr(ctx, &j, &se);
		fill_error(ctx, 0, &se, NULL, err);
		goto out;
	}
	if (ctx->stream) {
		invalid(ctx, err, "an answer without streaming");
		goto out;
	}
	content = json_get(&j, 0, "content");
	sr = json_get(&j, 0, "stop_reason");
	if (!json_streq(&j, ty, "message") || json_type(&j, content) != JSON_ARRAY ||
	    json_type(&j, sr) != JSON_STRING) {
		invalid(ctx, err, "an unfinished or invalid message");
		goto out;
	}
	for (k = 0, c = content + 1; k < json_size(&j, content); k++, c = json_skip(&j, c)) {
		bt = json_get(&j, c, "type");
		if (json_streq(&j, bt, "text") &&
		    json_type(&j, (t = json_get(&j, c, "text"))) == JSON_STRING) {
			w |= append_str(&txt, &j, t);
			ntext++;
		} else if (json_streq(&j, bt, "thinking") &&
		    json_type(&j, (t = json_get(&j, c, "thinking"))) == JSON_STRING)
			w |= append_str(&think, &j, t);
		else if (json_streq(&j, bt, "tool_use")) {
			before = ntools;
			if (decode_tool(ctx, &j, c, &txt, &calls, &ntools) != 0) {
				invalid(ctx, err, "an invalid tool_use block");
				goto out;
			}
			if (ntools == before)	/* the JSON answer: content */
				ntext++;
		}
	}
	read_usage(&j, json_get(&j, 0, "usage"), &au);
	to_usage(&au, &ctx->usage);
	chat_id(ctx, &j, json_get(&j, 0, "id"), id, sizeof(id));
	model = json_get(&j, 0, "model");

	w |= buf_appends(out, "{\"id\":");
	w |= json_write_cstr(out, id);
	w |= buf_appendf(out, ",\"object\":\"chat.completion\",\"created\":%lld,"
	    "\"model\":", (long long)ctx->created);
	w |= json_type(&j, model) == JSON_STRING ? json_write_raw(out, &j, model) :
	    json_write_cstr(out, ctx->model->id);
	w |= buf_appends(out, ",\"choices\":[{\"index\":0,\"message\":"
	    "{\"role\":\"assistant\",\"content\":");
	w |= ntext > 0 || ntools == 0 ? json_write_str(out, txt.data != NULL ?
	    txt.data : "", txt.len) : buf_appends(out, "null");
	w |= buf_appends(out, ",\"refusal\":null");
	if (think.len > 0) {
		w |= buf_appends(out, ",\"reasoning_content\":");
		w |= json_write_str(out, think.data, think.len);
	}
	if (ntools > 0) {
		w |= buf_appends(out, ",\"tool_calls\":[");
		w |= buf_append(out, calls.data, calls.len);
		w |= buf_appendc(out, ']');
	}
	w |= buf_appends(out, "},\"logprobs\":null,\"finish_reason\":");
	w |= json_write_cstr(out, finish_of(&j, sr, ntools));
	w |= buf_appends(out, "}]");
	if (au.have) {
		w |= buf_appends(out, ",\"usage\":");
		w |= write_usage(out, &au);
	}
	w |= buf_appendc(out, '}');
	if (w != 0) {
		invalid(ctx, err, "an answer larger than the gateway accepts");
		goto out;
	}
	r = 0;
out:
	buf_free(&txt);
	buf_free(&think);
	buf_free(&calls);
	json_free(&j);
	return r;
}

/* --- streams ------------------------------------------------------------- */

/* The head every chunk repeats, up to the open choices array. */
static int
chunk_head(struct prov_ctx *ctx, const struct anth_state *st, struct buf *b)
{
	int r = 0;

	r |= buf_appends(b, "{\"id\":");
	r |= json_write_cstr(b, st->id);
	r |= buf_appendf(b, ",\"object\":\"chat.completion.chunk\",\"created\":"
	    "%lld,\"model\":", (long long)ctx->created);
	r |= json_write_cstr(b, st->model);
	r |= buf_appends(b, ",\"choices\":[");
	return r;
}

/* One chunk of choice 0: delta members d (may be empty), finish (NULL: null). */
static int
emit(struct prov_ctx *ctx, const struct anth_state *st, struct buf *out,
    const struct buf *d, const char *finish)
{
	struct buf b;
	int r;

	buf_init(&b, 0);
	r = chunk_head(ctx, st, &b);
	r |= buf_appends(&b, "{\"index\":0,\"delta\":{");
	if (d != NULL && d->len > 0)
		r |= buf_append(&b, d->data, d->len);
	r |= buf_appends(&b, "},\"logprobs\":null,\"finish_reason\":");
	r |= finish != NULL ? json_write_cstr(&b, finish) : buf_appends(&b, "null");
	r |= buf_appends(&b, ctx->client_usage ? "}],\"usage\":null}" : "}]}");
	if (r == 0)
		r = sse_write_data(out, b.data, b.len);
	buf_free(&b);
	return r;
}

/* A chunk with one member, "name": raw value of token t. */
static int
emit_raw(struct prov_ctx *ctx, const struct anth_state *st, struct buf *out,
    const char *name, const struct json *j, int t)
{
	struct buf d;
	int r;

	buf_init(&d, 0);
	r = buf_appendf(&d, "\"%s\":", name);
	r |= json_write_raw(&d, j, t);
	if (r == 0)
		r = emit(ctx, st, out, &d, NULL);
	buf_free(&d);
	return r;
}

/* A fragment of tool call idx's arguments: raw string token t, or text s. */
static int
emit_args(struct prov_ctx *ctx, const struct anth_state *st, struct buf *out,
    int idx, const struct json *j, int t, const char *s)
{
	struct buf d;
	int r;

	buf_init(&d, 0);
	r = buf_appendf(&d, "\"tool_calls\":[{\"index\":%d,\"function\":"
	    "{\"arguments\":", idx);
	r |= t >= 0 ? json_write_raw(&d, j, t) : json_write_cstr(&d, s);
	r |= buf_appends(&d, "}}]");
	if (r == 0)
		r = emit(ctx, st, out, &d, NULL);
	buf_free(&d);
	return r;
}

/* The role chunk, once, before anything else. */
static int
start(struct prov_ctx *ctx, struct anth_state *st, struct buf *out)
{
	struct buf d;
	int r;

	if (st->started)
		return 0;
	if (st->id[0] == '\0')
		snprintf(st->id, sizeof(st->id), "chatcmpl-%s", ctx->request_id);
	if (st->model[0] == '\0')
		snprintf(st->model, sizeof(st->model), "%s", ctx->model->id);
	st->started = 1;
	buf_init(&d, 0);
	r = buf_appends(&d, "\"role\":\"assistant\",\"content\":\"\"");
	if (r == 0)
		r = emit(ctx, st, out, &d, NULL);
	buf_free(&d);
	return r;
}

/* 1 if string token t is missing or empty. */
static int
empty(const struct json *j, int t)
{
	size_t n = 0;

	if (json_type(j, t) != JSON_STRING)
		return 1;
	json_ptr(j, t, &n);
	return n == 0;
}

/* The block of index member of the event; made when make is set.  NULL: invalid. */
static struct blk *
block(struct anth_state *st, const struct json *j, int make)
{
	struct blk *v;
	int64_t idx;
	size_t n;

	if (json_int64(j, json_get(j, 0, "index"), &idx) != 0 || idx < 0 ||
	    idx >= ANTH_MAX_BLOCKS)
		return NULL;
	if ((size_t)idx >= st->nblk) {
		if (!make)
			return NULL;
		n = (size_t)idx + 1;
		if ((v = realloc(st->blk, n * sizeof(*v))) == NULL)
			return NULL;
		memset(v + st->nblk, 0, (n - st->nblk) * sizeof(*v));
		st->blk = v;
		st->nblk = n;
	}
	return &st->blk[idx];
}

/* message_start: the id, the model and the input side of the usage. */
static int
ev_message_start(struct prov_ctx *ctx, struct anth_state *st,
    const struct json *j, struct buf *out, struct errinfo *err)
{
	int msg, t;

	msg = json_get(j, 0, "message");
	if (!st->started) {
		chat_id(ctx, j, json_get(j, msg, "id"), st->id, sizeof(st->id));
		if ((t = json_get(j, msg, "model")) < 0 ||
		    json_strcpy(j, t, st->model, sizeof(st->model)) != 0)
			st->model[0] = '\0';
	}
	read_usage(j, json_get(j, msg, "usage"), &st->u);
	to_usage(&st->u, &ctx->usage);
	return start(ctx, st, out);
}

/* content_block_start: a tool call begins, or text/thinking already carries some. */
static int
ev_block_start(struct prov_ctx *ctx, struct anth_state *st,
    const struct json *j, struct buf *out, struct errinfo *err)
{
	struct blk *b;
	struct buf d;
	int cb, ty, t, id, name, r = 0;

	if (start(ctx, st, out) != 0)
		return -1;
	if ((b = block(st, j, 1)) == NULL)
		return invalid(ctx, err, "a stream event with a bad block index");
	cb = json_get(j, 0, "content_block");
	ty = json_get(j, cb, "type");
	b->kind = BLK_OTHER;
	if (json_streq(j, ty, "text")) {
		b->kind = BLK_TEXT;
		if (!empty(j, (t = json_get(j, cb, "text"))))
			r = emit_raw(ctx, st, out, "content", j, t);
	} else if (json_streq(j, ty, "thinking")) {
		b->kind = BLK_THINK;
		if (!empty(j, (t = json_get(j, cb, "thinking"))))
			r = emit_raw(ctx, st, out, "reasoning_content", j, t);
	} else if (json_streq(j, ty, "tool_use")) {
		name = json_get(j, cb, "name");
		id = json_get(j, cb, "id");
		if (json_type(j, name) != JSON_STRING)
			return invalid(ctx, err, "a tool_use block without a name");
		if (st->json_tool && json_streq(j, name, ANTH_JSON_TOOL)) {
			b->kind = BLK_JSON;
			return 0;
		}
		if (json_type(j, id) != JSON_STRING)
			return invalid(ctx, err, "a tool_use block without an id");
		b->kind = BLK_TOOL;
		b->tool = st->ntools++;
		buf_init(&d, 0);
		r = buf_appendf(&d, "\"tool_calls\":[{\"index\":%d,\"id\":",
		    b->tool);
		r |= json_write_raw(&d, j, id);
		r |= buf_appends(&d, ",\"type\":\"function\",\"function\":"
		    "{\"name\":");
		r |= json_write_raw(&d, j, name);
		r |= buf_appends(&d, ",\"arguments\":\"\"}}]");
		if (r == 0)
			r = emit(ctx, st, out, &d, NULL);
		buf_free(&d);
	}
	return r;
}

/* content_block_delta: text, thinking, or a fragment of tool input JSON. */
static int
ev_block_delta(struct prov_ctx *ctx, struct anth_state *st,
    const struct json *j, struct buf *out, struct errinfo *err)
{
	struct blk *b = block(st, j, 0);
	int d, ty, t;

	if (start(ctx, st, out) != 0)
		return -1;
	d = json_get(j, 0, "delta");
	ty = json_get(j, d, "type");
	if (json_streq(j, ty, "text_delta")) {
		t = json_get(j, d, "text");
		return empty(j, t) ? 0 : emit_raw(ctx, st, out, "content", j, t);
	}
	if (json_streq(j, ty, "thinking_delta")) {
		t = json_get(j, d, "thinking");
		return empty(j, t) ? 0 : emit_raw(ctx, st, out,
		    "reasoning_content", j, t);
	}
	if (!json_streq(j, ty, "input_json_delta"))
		return 0;	/* signature, citations, future kinds */
	if (b == NULL || (b->kind != BLK_TOOL && b->kind != BLK_JSON))
		return invalid(ctx, err, "tool input for no tool_use block");
	if (empty(j, (t = json_get(j, d, "partial_json"))))
		return 0;
	b->args = 1;
	if (b->kind == BLK_JSON)
		return emit_raw(ctx, st, out, "content", j, t);
	return emit_args(ctx, st, out, b->tool, j, t, NULL);
}

/* content_block_stop: a tool call that sent no input at all took {}. */
static int
ev_block_stop(struct prov_ctx *ctx, struct anth_state *st,
    const struct json *j, struct buf *out, struct errinfo *err)
{
	struct blk *b = block(st, j, 0);
	struct buf d;
	int r;

	if (b == NULL || b->args || (b->kind != BLK_TOOL && b->kind != BLK_JSON))
		return 0;
	b->args = 1;
	if (b->kind == BLK_TOOL)
		return emit_args(ctx, st, out, b->tool, NULL, -1, "{}");
	buf_init(&d, 0);
	r = buf_appends(&d, "\"content\":\"{}\"");
	if (r == 0)
		r = emit(ctx, st, out, &d, NULL);
	buf_free(&d);
	return r;
}

/* message_delta: the stop reason, and usage so far (cumulative: pitfall 2). */
static int
ev_message_delta(struct prov_ctx *ctx, struct anth_state *st,
    const struct json *j, struct buf *out, struct errinfo *err)
{
	int sr;

	sr = json_get(j, json_get(j, 0, "delta"), "stop_reason");
	if (json_type(j, sr) == JSON_STRING)
		snprintf(st->finish, sizeof(st->finish), "%s",
		    finish_of(j, sr, st->ntools));
	read_usage(j, json_get(j, 0, "usage"), &st->u);
	to_usage(&st->u, &ctx->usage);
	return 0;
}

/* message_stop: the finish chunk, the usage chunk if asked, and the end. */
static int
ev_message_stop(struct prov_ctx *ctx, struct anth_state *st,
    const struct json *j, struct buf *out, struct errinfo *err)
{
	struct buf b;
	int r;

	if (start(ctx, st, out) != 0 || emit(ctx, st, out, NULL,
	    st->finish[0] != '\0' ? st->finish : "stop") != 0)
		return -1;
	if (ctx->client_usage) {
		buf_init(&b, 0);
		r = chunk_head(ctx, st, &b);
		r |= buf_appends(&b, "],\"usage\":");
		r |= write_usage(&b, &st->u);
		r |= buf_appendc(&b, '}');
		if (r == 0)
			r = sse_write_data(out, b.data, b.len);
		buf_free(&b);
		if (r != 0)
			return -1;
	}
	st->done = 1;
	ctx->saw_done = 1;
	ctx->stream_over = 1;	/* message_stop is the last event */
	return 0;
}

/* event: error after the 200: the stream ends with the mapped error. */
static int
ev_error(struct prov_ctx *ctx, struct anth_state *st, const struct json *j,
    struct buf *out, struct errinfo *err)
{
	struct srcerr se;

	read_srcerr(ctx, j, &se);
	fill_error(ctx, 0, &se, NULL, err);
	return -1;
}

static const struct evh {
	const char	*name;
	int		(*fn)(struct prov_ctx *, struct anth_state *,
			    const struct json *, struct buf *, struct errinfo *);
} evhs[] = {
	{ "message_start", ev_message_start },
	{ "content_block_start", ev_block_start },
	{ "content_block_delta", ev_block_delta },
	{ "content_block_stop", ev_block_stop },
	{ "message_delta", ev_message_delta },
	{ "message_stop", ev_message_stop },
	{ "error", ev_error },
};

/* One event of the source's stream into OpenAI chunks (wire-formats.md 5.3). */
static int
anth_chat_event(struct prov_ctx *ctx, const struct sse_event *ev,
    struct buf *out, struct errinfo *err)
{
	struct anth_state *st = state(ctx);
	struct json j;
	char e[128];
	size_t i, old = out->len;
	int ty, r = 0;

	memset(err, 0, sizeof(*err));
	if (st == NULL)
		return oom(err);
	if (st->done || ev->data_len == 0)
		return 0;
	memset(&j, 0, sizeof(j));
	if (json_parse(&j, ev->data, ev->data_len, &ctx->lim, e,
	    sizeof(e)) != 0 || json_type(&j, 0) != JSON_OBJECT) {
		json_free(&j);		/* parsed, but not an object */
		return invalid(ctx, err, "an invalid stream event");
	}
	ty = json_get(&j, 0, "type");
	for (i = 0; i < NM_NELEM(evhs); i++) {
		if (ty >= 0 ? json_streq(&j, ty, evhs[i].name) :
		    strcmp(ev->event, evhs[i].name) == 0) {
			r = evhs[i].fn(ctx, st, &j, out, err);
			break;
		}
	}
	/* An error event whose data forgot its type. */
	if (i == NM_NELEM(evhs) && strcmp(ev->event, "error") == 0)
		r = ev_error(ctx, st, &j, out, err);
	if (r != 0 && err->status == 0)
		invalid(ctx, err, "a stream larger than the gateway accepts");
	if (r != 0 && out->len > old) {
		/* Never half a chunk. */
		out->len = old;
		if (out->data != NULL)
			out->data[old] = '\0';
	}
	json_free(&j);
	return r;
}

const struct provider_ops provider_anthropic = {
	.kind = PROVIDER_ANTHROPIC,
	.chat_encode = anth_chat_encode,
	.chat_decode = anth_chat_decode,
	.chat_event = anth_chat_event,
	.map_error = anth_map_error,
	.ctx_free = anth_ctx_free,
	.embed_encode = NULL,
	.embed_decode = NULL,
};
