/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The OpenAI wire format, spoken by OpenAI and every OpenAI-compatible
 * source, answer side: answers, chunks, usage and errors of every dialect
 * brought back to OpenAI's shapes, and embeddings both ways
 * (wire-formats.md section 7).  Chat requests are built in
 * openai-request.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "buf.h"
#include "crypto.h"
#include "json.h"
#include "providers/provider.h"
#include "providers/openai.h"

static const struct dialect dialects[] = {
	{ DIALECT_OPENAI,	D_FAITHFUL },
	{ DIALECT_DEEPSEEK,	0 },
	{ DIALECT_MOONSHOT,	0 },
	{ DIALECT_DASHSCOPE,	0 },
	{ DIALECT_ARK,		D_ENDPOINT_IDS },
	{ DIALECT_OPENROUTER,	D_USAGE_ALWAYS | D_FLAGGED_403 },
	{ DIALECT_MISTRAL,	D_USAGE_ALWAYS | D_ALLOWLIST },
	{ DIALECT_GENERIC,	0 },
};

/* Finish reasons of compatible sources, in OpenAI's words. */
static const struct {
	const char	*from;
	const char	*to;		/* NULL: the answer failed */
} finish_map[] = {
	{ "model_length",	"length" },	/* Mistral */
	{ "tool_call",		"tool_calls" },
	{ "eos",		"stop" },
	{ "error",		NULL },		/* OpenRouter, Mistral */
	{ "insufficient_system_resource", NULL },	/* DeepSeek */
};

/* The dialect of a provider (OpenAI's for anything unknown). */
const struct dialect *
oa_dialect(const struct provider_conf *p)
{
	size_t i;

	for (i = 0; i < NM_NELEM(dialects); i++)
		if (dialects[i].id == p->dialect)
			return &dialects[i];
	return &dialects[0];
}

/* The call's state, made on first use; NULL on OOM. */
struct oa_state *
oa_state(struct prov_ctx *ctx)
{
	struct oa_state *st = ctx->state;
	int i;

	if (st != NULL)
		return st;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->d = oa_dialect(ctx->prov);
	for (i = 0; i < OA_CHOICES; i++)
		st->last_tool[i] = -1;
	ctx->state = st;
	return st;
}

/* Free the call's state. */
static void
openai_ctx_free(struct prov_ctx *ctx)
{
	free(ctx->state);
	ctx->state = NULL;
}

/* --- small writers ----------------------------------------------------- */

/* base + path, malloc'd; NULL on OOM. */
static char *
join_url(const char *base, const char *path)
{
	size_t len = strlen(base) + strlen(path) + 1;
	char *u;

	if ((u = malloc(len)) != NULL)
		snprintf(u, len, "%s%s", base, path);
	return u;
}

/* 1 if key token k is one of list. */
int
oa_key_in(const struct json *j, int k, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (json_streq(j, k, *list))
			return 1;
	return 0;
}

/* Write "key": after *n members (with the comma). */
int
oa_put_key(struct buf *b, int *n, const char *key)
{
	int r = 0;

	if ((*n)++ > 0)
		r |= buf_appendc(b, ',');
	r |= json_write_cstr(b, key);
	r |= buf_appendc(b, ':');
	return r;
}

/* Write the members of obj not in omit, after *n members. */
int
oa_put_members(struct buf *b, const struct json *j, int obj,
    const char *const *omit, int *n)
{
	int k, m, r = 0;

	for (k = obj + 1, m = 0; m < json_size(j, obj); m++,
	    k = json_skip(j, k + 1)) {
		if (oa_key_in(j, k, omit))
			continue;
		if ((*n)++ > 0)
			r |= buf_appendc(b, ',');
		r |= json_write_raw(b, j, k);
		r |= buf_appendc(b, ':');
		r |= json_write_raw(b, j, k + 1);
	}
	return r;
}

/* The usage object we hand clients, from what any dialect reported. */
static int
put_usage(struct buf *b, const struct usage *u)
{
	return buf_appendf(b, "{\"prompt_tokens\":%lld,\"completion_tokens\":"
	    "%lld,\"total_tokens\":%lld,\"prompt_tokens_details\":"
	    "{\"cached_tokens\":%lld},\"completion_tokens_details\":"
	    "{\"reasoning_tokens\":%lld}}", (long long)u->prompt_tokens,
	    (long long)u->completion_tokens, (long long)u->total_tokens,
	    (long long)u->cached_tokens, (long long)u->reasoning_tokens);
}

/* URL, Authorization, Content-Type, Accept. */
int
oa_put_call(struct prov_ctx *ctx, struct upstream_req *ur, const char *path,
    int stream)
{
	const struct provider_conf *p = ctx->prov;
	struct buf auth;
	size_t nh = 0;
	int r = 0;

	buf_init(&auth, 0);
	if ((ur->url = join_url(p->base_url, path)) == NULL)
		r = -1;
	if (p->api_key != NULL) {
		r |= buf_appendf(&auth, "Bearer %s", p->api_key);
		if (r == 0)
			r |= provider_add_header(&ur->headers, &nh, "Authorization",
			    auth.data);
	}
	r |= provider_add_header(&ur->headers, &nh, "Content-Type", "application/json");
	r |= provider_add_header(&ur->headers, &nh, "Accept", stream ?
	    "text/event-stream" : "application/json");
	if (auth.data != NULL)
		crypto_cleanse(auth.data, auth.len);
	buf_free(&auth);
	return r;
}

/* The model name the source knows. */
const char *
oa_upstream(const struct prov_ctx *ctx)
{
	return ctx->model->upstream_model != NULL ?
	    ctx->model->upstream_model : ctx->model->id;
}

/* --- errors ------------------------------------------------------------ */

/* A source's error, whatever its shape. */
struct srcerr {
	char	msg[400];
	char	type[48];
	char	code[48];	/* a string code */
	char	param[64];
	long	ncode;		/* a numeric code (OpenRouter), else 0 */
};

/* Copy a string member of obj into out, if there is one. */
static void
member_str(const struct json *j, int obj, const char *key, char *out,
    size_t outlen)
{
	int t;

	if (obj >= 0 && json_type(j, obj) == JSON_OBJECT &&
	    (t = json_get(j, obj, key)) >= 0 && json_type(j, t) == JSON_STRING)
		json_strcpy(j, t, out, outlen);
}

/*
 * FastAPI-style validation details (Mistral's 422): [{"loc":["body",
 * "stream_options"],"msg":"Extra inputs are not permitted"}] ->
 * "body.stream_options: Extra inputs are not permitted".
 */
static void
detail_msg(const struct json *j, int d, char *out, size_t outlen)
{
	char part[128];
	const char *p;
	size_t len, nl;
	int e, loc, x, i;

	if (json_type(j, d) == JSON_STRING) {
		json_strcpy(j, d, out, outlen);
		return;
	}
	if (json_type(j, d) != JSON_ARRAY || json_size(j, d) == 0 ||
	    json_type(j, e = d + 1) != JSON_OBJECT)
		return;
	out[0] = '\0';
	if ((loc = json_get(j, e, "loc")) >= 0 &&
	    json_type(j, loc) == JSON_ARRAY) {
		for (i = 0, x = loc + 1; i < json_size(j, loc); i++,
		    x = json_skip(j, x)) {
			part[0] = '\0';
			if (json_type(j, x) == JSON_STRING)
				json_strcpy(j, x, part, sizeof(part));
			else if (json_type(j, x) == JSON_NUMBER) {
				p = json_ptr(j, x, &nl);
				snprintf(part, sizeof(part), "%.*s",
				    (int)NM_MIN(nl, 20), p);
			}
			len = strlen(out);
			snprintf(out + len, outlen - len, "%s%s",
			    i > 0 ? "." : "", part);
		}
		len = strlen(out);
		snprintf(out + len, outlen - len, ": ");
	}
	part[0] = '\0';
	member_str(j, e, "msg", part, sizeof(part));
	len = strlen(out);
	snprintf(out + len, outlen - len, "%s", part);
}

/*
 * The error of a source's body: nested under "error" (OpenAI, OpenRouter
 * with a numeric code, DeepSeek, ...), flat (Mistral, DashScope native),
 * a message that is itself an object of details (Mistral 422), or a bare
 * FastAPI "detail".  Messages are scrubbed of keys.
 */
static void
read_error(struct prov_ctx *ctx, const char *body, size_t len,
    struct srcerr *se)
{
	struct json j;
	char e[128];
	int o, t, m;
	size_t n;
	const char *p;

	memset(se, 0, sizeof(*se));
	memset(&j, 0, sizeof(j));
	if (body == NULL || len == 0 ||
	    json_parse(&j, body, len, &ctx->lim, e, sizeof(e)) != 0 ||
	    json_type(&j, 0) != JSON_OBJECT)
		goto out;
	o = json_get(&j, 0, "error");
	if (o >= 0 && json_type(&j, o) == JSON_STRING) {
		json_strcpy(&j, o, se->msg, sizeof(se->msg));
		goto out;
	}
	if (o < 0 || json_type(&j, o) != JSON_OBJECT)
		o = 0;
	m = json_get(&j, o, "message");
	if (m >= 0 && json_type(&j, m) == JSON_STRING)
		json_strcpy(&j, m, se->msg, sizeof(se->msg));
	else if (m >= 0 && json_type(&j, m) == JSON_OBJECT &&
	    (t = json_get(&j, m, "detail")) >= 0)
		detail_msg(&j, t, se->msg, sizeof(se->msg));
	else if ((t = json_get(&j, o, "detail")) >= 0)
		detail_msg(&j, t, se->msg, sizeof(se->msg));
	member_str(&j, o, "type", se->type, sizeof(se->type));
	member_str(&j, o, "code", se->code, sizeof(se->code));
	member_str(&j, o, "param", se->param, sizeof(se->param));
	if ((t = json_get(&j, o, "code")) >= 0 &&
	    json_type(&j, t) == JSON_NUMBER) {
		char num[24];
		p = json_ptr(&j, t, &n);
		snprintf(num, sizeof(num), "%.*s", (int)NM_MIN(n, 20), p);
		se->ncode = strtol(num, NULL, 10);
	}
out:
	json_free(&j);
	provider_scrub(ctx->prov, se->msg);
	provider_scrub(ctx->prov, se->param);
}

/* Turn a source's failure status and body into the client's error. */
static void
openai_map_error(struct prov_ctx *ctx, long status, const char *body,
    size_t len, const char *retry_after, struct errinfo *err)
{
	const struct dialect *d = oa_dialect(ctx->prov);
	struct srcerr se;
	const char *src = ctx->prov->name, *model = ctx->model->id;
	const char *msg = se.msg, *code = se.code, *type = se.type;

	read_error(ctx, body, len, &se);
	if (status == 400 || status == 409 || status == 413 || status == 422) {
		provider_err(err, 400, "invalid_request_error",
		    code[0] ? code : NULL, "%s", msg[0] ? msg :
		    "The source rejected the request as invalid.");
		snprintf(err->param, sizeof(err->param), "%s", se.param);
	} else if (status == 403 && (d->flags & D_FLAGGED_403)) {
		provider_err(err, 400, "invalid_request_error",
		    "content_filter", "The source '%s' refused the input for "
		    "model '%s'%s%s", src, model, msg[0] ? ": " : ".", msg);
	} else if (status == 401 || status == 403) {
		provider_err(err, 502, "upstream_error", "upstream_auth_failed",
		    "The source '%s' rejected the gateway's credentials for "
		    "model '%s'.", src, model);
	} else if (status == 402 || strcmp(code, "insufficient_quota") == 0 ||
	    strcmp(type, "insufficient_quota") == 0) {
		provider_err(err, 502, "upstream_error", "upstream_quota",
		    "The source '%s' refused the request for lack of credit.",
		    src);
	} else if (status == 404 && (d->flags & D_ENDPOINT_IDS)) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' does not know model '%s' (check that "
		    "endpoint or model id '%s' exists in this region).", src,
		    model, oa_upstream(ctx));
	} else if (status == 404) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' does not know model '%s'.", src, model);
	} else if (status == 429) {
		provider_err(err, 429, "rate_limit_error",
		    "upstream_rate_limited", "The source '%s' is rate limiting "
		    "requests for model '%s'%s%s", src, model, msg[0] ? ": " :
		    ".", msg);
		if (retry_after != NULL)
			snprintf(err->retry_after, sizeof(err->retry_after), "%s",
			    retry_after);
	} else if (status == 408 || status == 504) {
		provider_err(err, 504, "upstream_error", "upstream_timeout",
		    "The source '%s' timed out.", src);
	} else {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' failed (HTTP %ld)%s%s", src, status,
		    msg[0] ? ": " : ".", msg);
	}
}

/*
 * An error that came inside a 2xx (a whole answer or a stream event):
 * OpenRouter says which status it stands for in a numeric code.
 */
static void
error_in_answer(struct prov_ctx *ctx, const char *body, size_t len,
    int midstream, struct errinfo *err)
{
	struct srcerr se;

	read_error(ctx, body, len, &se);
	if (!midstream && se.ncode >= 400 && se.ncode <= 599 && se.ncode != 500) {
		openai_map_error(ctx, se.ncode, body, len, NULL, err);
		return;
	}
	provider_err(err, 502, "upstream_error", se.code[0] ? se.code :
	    "upstream_error", "The source '%s' failed%s%s%s",
	    ctx->prov->name, midstream ? " mid-stream" : "",
	    se.msg[0] ? ": " : ".", se.msg);
}

/* --- answers ------------------------------------------------------------ */

/* OpenAI's finish reason for a source's (token fr); NULL: it failed. */
static int
map_finish(const struct json *j, int fr, const char **to)
{
	size_t i;

	*to = NULL;
	if (fr < 0 || json_type(j, fr) != JSON_STRING)
		return 0;
	for (i = 0; i < NM_NELEM(finish_map); i++) {
		if (json_streq(j, fr, finish_map[i].from)) {
			*to = finish_map[i].to;
			return finish_map[i].to != NULL ? 1 : -1;
		}
	}
	return 0;
}

/*
 * A delta's tool_calls, each with an index: Moonshot has sent fragments
 * without one.  A fragment with an id starts the next call; one without
 * continues the last call started (several at once: by position).
 */
static int
put_tool_deltas(struct oa_state *st, int ci, struct buf *b,
    const struct json *j, int tc)
{
	static const char *const omit[] = { "index", NULL };
	int i, c, ix, n, slot = ci >= 0 && ci < OA_CHOICES ? ci : -1, r = 0;
	int64_t v;

	r |= buf_appendc(b, '[');
	for (i = 0, c = tc + 1; i < json_size(j, tc); i++, c = json_skip(j, c)) {
		if (i > 0)
			r |= buf_appendc(b, ',');
		if (json_type(j, c) != JSON_OBJECT) {
			r |= json_write_raw(b, j, c);
			continue;
		}
		if ((ix = json_get(j, c, "index")) >= 0 &&
		    json_int64(j, ix, &v) == 0 && v >= 0 && v < 1000000) {
			if (slot >= 0) {
				st->last_tool[slot] = (int)v;
				if (st->next_tool[slot] <= (int)v)
					st->next_tool[slot] = (int)v + 1;
			}
			r |= json_write_raw(b, j, c);
			continue;
		}
		if (slot < 0)
			v = i;
		else if (json_get(j, c, "id") >= 0 || st->last_tool[slot] < 0) {
			v = st->next_tool[slot]++;
			st->last_tool[slot] = (int)v;
		} else if (json_size(j, tc) > 1)
			v = i;
		else
			v = st->last_tool[slot];
		n = 0;
		r |= buf_appendc(b, '{');
		r |= oa_put_key(b, &n, "index");
		r |= buf_appendf(b, "%lld", (long long)v);
		r |= oa_put_members(b, j, c, omit, &n);
		r |= buf_appendc(b, '}');
	}
	r |= buf_appendc(b, ']');
	return r;
}

/*
 * The choices of an answer or chunk, in OpenAI's terms: no usage inside
 * (Moonshot), finish reasons mapped, tool-call deltas indexed.  -1 on
 * OOM, -2 when a choice says the answer failed.
 */
static int
put_choices(struct oa_state *st, struct buf *b, const struct json *j, int ch)
{
	static const char *const omit[] = { "usage", "finish_reason", "delta",
	    NULL };
	static const char *const omit_tc[] = { "tool_calls", NULL };
	const char *to;
	int i, c, fr, d, tc, idx, n, n2, f, r = 0;
	int64_t v;

	r |= buf_appendc(b, '[');
	for (i = 0, c = ch + 1; i < json_size(j, ch); i++, c = json_skip(j, c)) {
		if (i > 0)
			r |= buf_appendc(b, ',');
		if (json_type(j, c) != JSON_OBJECT) {
			r |= json_write_raw(b, j, c);
			continue;
		}
		n = 0;
		r |= buf_appendc(b, '{');
		r |= oa_put_members(b, j, c, omit, &n);
		idx = i;
		if ((d = json_get(j, c, "index")) >= 0 &&
		    json_int64(j, d, &v) == 0 && v >= 0 && v < OA_CHOICES)
			idx = (int)v;
		if ((d = json_get(j, c, "delta")) >= 0) {
			r |= oa_put_key(b, &n, "delta");
			tc = json_type(j, d) == JSON_OBJECT ?
			    json_get(j, d, "tool_calls") : -1;
			if (tc < 0 || json_type(j, tc) != JSON_ARRAY)
				r |= json_write_raw(b, j, d);
			else {
				n2 = 0;
				r |= buf_appendc(b, '{');
				r |= oa_put_members(b, j, d, omit_tc, &n2);
				r |= oa_put_key(b, &n2, "tool_calls");
				r |= put_tool_deltas(st, idx, b, j, tc);
				r |= buf_appendc(b, '}');
			}
		}
		if ((fr = json_get(j, c, "finish_reason")) >= 0) {
			if ((f = map_finish(j, fr, &to)) < 0)
				return -2;
			r |= oa_put_key(b, &n, "finish_reason");
			r |= f > 0 ? json_write_cstr(b, to) :
			    json_write_raw(b, j, fr);
		}
		r |= buf_appendc(b, '}');
	}
	r |= buf_appendc(b, ']');
	return r ? -1 : 0;
}

/* Usage of a chunk or answer: top level, else inside the first choice. */
static void
take_usage(struct prov_ctx *ctx, const struct json *j, int ch)
{
	int u, c0;

	u = json_get(j, 0, "usage");
	if (u >= 0 && json_type(j, u) == JSON_OBJECT) {
		provider_usage_openai(j, u, &ctx->usage);
		return;
	}
	if (ch >= 0 && json_type(j, ch) == JSON_ARRAY && json_size(j, ch) > 0 &&
	    json_type(j, c0 = ch + 1) == JSON_OBJECT &&
	    (u = json_get(j, c0, "usage")) >= 0 &&
	    json_type(j, u) == JSON_OBJECT)
		provider_usage_openai(j, u, &ctx->usage);
}

/*
 * Parse a whole 2xx answer into j: an object that is not an error.  0, or
 * -1 with err filled (j then holds nothing to free).
 */
static int
answer_open(struct prov_ctx *ctx, const char *body, size_t len,
    struct json *j, struct oa_state **st, struct errinfo *err)
{
	char e[128];

	if ((*st = oa_state(ctx)) == NULL) {
		provider_err(err, 500, "server_error", NULL, "out of memory");
		return -1;
	}
	if (json_parse(j, body != NULL ? body : "", len, &ctx->lim, e,
	    sizeof(e)) != 0 || json_type(j, 0) != JSON_OBJECT) {
		json_free(j);
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' sent an incomplete or invalid answer.",
		    ctx->prov->name);
		return -1;
	}
	if (json_get(j, 0, "error") >= 0) {
		error_in_answer(ctx, body, len, 0, err);
		json_free(j);
		return -1;
	}
	return 0;
}

/* A whole answer: check it is complete; relay it (OpenAI) or normalise it. */
static int
openai_chat_decode(struct prov_ctx *ctx, const char *body, size_t len,
    struct buf *out, int *passthrough, struct errinfo *err)
{
	static const char *const omit[] = { "usage", "choices", NULL };
	struct oa_state *st;
	struct json j;
	int ch, c, fr, i, n = 0, rr, r = -1;

	memset(&j, 0, sizeof(j));
	if (answer_open(ctx, body, len, &j, &st, err) != 0)
		goto out;
	if (ctx->stream) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' answered without streaming.",
		    ctx->prov->name);
		goto out;
	}
	ch = json_get(&j, 0, "choices");
	if (ch < 0 || json_type(&j, ch) != JSON_ARRAY || json_size(&j, ch) == 0) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' sent an answer without choices.",
		    ctx->prov->name);
		goto out;
	}
	for (i = 0, c = ch + 1; i < json_size(&j, ch); i++, c = json_skip(&j, c)) {
		if (json_type(&j, c) != JSON_OBJECT ||
		    (fr = json_get(&j, c, "finish_reason")) < 0 ||
		    json_type(&j, fr) != JSON_STRING) {
			provider_err(err, 502, "upstream_error",
			    "upstream_error", "The source '%s' sent an "
			    "unfinished answer.", ctx->prov->name);
			goto out;
		}
	}
	take_usage(ctx, &j, ch);
	if (st->d->flags & D_FAITHFUL) {
		*passthrough = 1;
		r = 0;
		goto out;
	}
	rr = buf_appendc(out, '{');
	rr |= oa_put_members(out, &j, 0, omit, &n);
	rr |= oa_put_key(out, &n, "choices");
	if ((i = put_choices(st, out, &j, ch)) == -2) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' failed while answering.", ctx->prov->name);
		goto out;
	}
	rr |= i;
	if (ctx->usage.have) {
		rr |= oa_put_key(out, &n, "usage");
		rr |= put_usage(out, &ctx->usage);
	}
	rr |= buf_appendc(out, '}');
	if (rr != 0) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The answer of source '%s' is larger than the gateway "
		    "accepts.", ctx->prov->name);
		goto out;
	}
	*passthrough = 0;
	r = 0;
out:
	json_free(&j);
	return r;
}

/* --- streams ------------------------------------------------------------ */

/* OpenAI: relay each chunk, hiding the usage the client did not ask for. */
static int
event_faithful(struct prov_ctx *ctx, const struct json *j,
    const struct sse_event *ev, struct buf *out)
{
	static const char *const omit_usage[] = { "usage", NULL };
	struct buf b;
	int u, ch, nw, r = 0;

	ch = json_get(j, 0, "choices");
	take_usage(ctx, j, ch);
	u = json_get(j, 0, "usage");
	if (u >= 0 && ctx->asked_usage && !ctx->client_usage) {
		/* The usage chunk itself: drop it.  Others: drop the key. */
		if (json_type(j, u) == JSON_OBJECT && (ch < 0 ||
		    json_type(j, ch) != JSON_ARRAY || json_size(j, ch) == 0))
			return 0;
		buf_init(&b, 0);
		if (json_write_object_except(&b, j, 0, omit_usage, 0, &nw) != 0 ||
		    sse_write_data(out, b.data, b.len) != 0)
			r = -1;
		buf_free(&b);
		return r;
	}
	return sse_write_data(out, ev->data, ev->data_len);
}

/* Remember raw value t (id, created, model) for the usage chunk. */
static void
remember(const struct json *j, int t, char *out, size_t outlen)
{
	const char *p;
	size_t n;

	if (t < 0 || json_type(j, t) == JSON_OBJECT ||
	    json_type(j, t) == JSON_ARRAY)
		return;
	p = json_raw(j, t, &n);
	if (n < outlen) {
		memcpy(out, p, n);
		out[n] = '\0';
	}
}

/*
 * 1 if a chunk's choices say nothing: empty deltas, no finish reason
 * (OpenRouter sends its usage in one after the finish).
 */
static int
empty_choices(const struct json *j, int ch)
{
	int i, c, d, k, m, fr;

	for (i = 0, c = ch + 1; i < json_size(j, ch); i++, c = json_skip(j, c)) {
		if (json_type(j, c) != JSON_OBJECT)
			return 0;
		if ((fr = json_get(j, c, "finish_reason")) >= 0 &&
		    json_type(j, fr) != JSON_NULL)
			return 0;
		if ((d = json_get(j, c, "delta")) < 0)
			continue;
		if (json_type(j, d) != JSON_OBJECT)
			return 0;
		for (k = d + 1, m = 0; m < json_size(j, d); m++,
		    k = json_skip(j, k + 1)) {
			if (json_streq(j, k, "role") ||
			    json_type(j, k + 1) == JSON_NULL)
				continue;
			if (json_streq(j, k, "content") &&
			    json_streq(j, k + 1, ""))
				continue;
			return 0;
		}
	}
	return 1;
}

/*
 * Compatible sources: chunks with choices go on (usage taken out), the
 * usage-only ones are dropped, and the usage, wherever it came, is sent
 * in OpenAI's own final chunk before [DONE] when the client asked.
 */
static int
event_compat(struct prov_ctx *ctx, struct oa_state *st, const struct json *j,
    struct buf *out, struct errinfo *err)
{
	static const char *const omit[] = { "usage", "choices", NULL };
	struct buf b;
	int ch, n = 0, rr, r = -1;

	ch = json_get(j, 0, "choices");
	take_usage(ctx, j, ch);
	remember(j, json_get(j, 0, "id"), st->id, sizeof(st->id));
	remember(j, json_get(j, 0, "created"), st->created, sizeof(st->created));
	remember(j, json_get(j, 0, "model"), st->model, sizeof(st->model));
	if (ch < 0 || json_type(j, ch) != JSON_ARRAY || json_size(j, ch) == 0)
		return 0;
	if (json_get(j, 0, "usage") >= 0 && empty_choices(j, ch))
		return 0;
	buf_init(&b, 0);
	rr = buf_appendc(&b, '{');
	rr |= oa_put_members(&b, j, 0, omit, &n);
	rr |= oa_put_key(&b, &n, "choices");
	if ((r = put_choices(st, &b, j, ch)) == -2) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' failed mid-stream.", ctx->prov->name);
		r = -1;
		goto out;
	}
	rr |= r;
	rr |= buf_appendc(&b, '}');
	r = -1;
	if (rr == 0 && sse_write_data(out, b.data, b.len) == 0)
		r = 0;
	else
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The stream of source '%s' is larger than the gateway "
		    "accepts.", ctx->prov->name);
out:
	buf_free(&b);
	return r;
}

/* The usage chunk a compatible source's stream ends with, OpenAI style. */
static int
usage_chunk(struct prov_ctx *ctx, struct oa_state *st, struct buf *out)
{
	struct buf b;
	int r = 0;

	buf_init(&b, 0);
	r |= buf_appends(&b, "{\"id\":");
	if (st->id[0] != '\0')
		r |= buf_appends(&b, st->id);
	else
		r |= buf_appendf(&b, "\"chatcmpl-%s\"", ctx->request_id);
	r |= buf_appends(&b, ",\"object\":\"chat.completion.chunk\",\"created\":");
	if (st->created[0] != '\0')
		r |= buf_appends(&b, st->created);
	else
		r |= buf_appendf(&b, "%lld", (long long)ctx->created);
	r |= buf_appends(&b, ",\"model\":");
	if (st->model[0] != '\0')
		r |= buf_appends(&b, st->model);
	else
		r |= json_write_cstr(&b, oa_upstream(ctx));
	r |= buf_appends(&b, ",\"choices\":[],\"usage\":");
	r |= put_usage(&b, &ctx->usage);
	r |= buf_appendc(&b, '}');
	if (r == 0)
		r = sse_write_data(out, b.data, b.len);
	buf_free(&b);
	return r;
}

/* One event of a stream, in the source's dialect. */
static int
openai_chat_event(struct prov_ctx *ctx, const struct sse_event *ev,
    struct buf *out, struct errinfo *err)
{
	struct oa_state *st;
	struct json j;
	char e[128];
	int r = -1;

	if ((st = oa_state(ctx)) == NULL) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "out of memory");
		return -1;
	}
	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
		if (!(st->d->flags & D_FAITHFUL) && ctx->client_usage &&
		    ctx->usage.have && usage_chunk(ctx, st, out) != 0) {
			provider_err(err, 502, "upstream_error",
			    "upstream_error", "out of memory");
			return -1;
		}
		ctx->saw_done = 1;
		ctx->stream_over = 1;	/* [DONE] is the last word */
		return 0;
	}
	if (ev->data_len == 0)
		return 0;
	memset(&j, 0, sizeof(j));
	if (json_parse(&j, ev->data, ev->data_len, &ctx->lim, e,
	    sizeof(e)) != 0 || json_type(&j, 0) != JSON_OBJECT) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' sent an invalid stream event.",
		    ctx->prov->name);
		goto out;
	}
	if (json_get(&j, 0, "error") >= 0 || strcmp(ev->event, "error") == 0) {
		error_in_answer(ctx, ev->data, ev->data_len, 1, err);
		goto out;
	}
	if (st->d->flags & D_FAITHFUL) {
		if ((r = event_faithful(ctx, &j, ev, out)) != 0)
			provider_err(err, 502, "upstream_error",
			    "upstream_error", "The stream of source '%s' is "
			    "larger than the gateway accepts.", ctx->prov->name);
	} else
		r = event_compat(ctx, st, &j, out, err);
out:
	json_free(&j);
	return r;
}

/* --- embeddings ---------------------------------------------------------- */

/* Mistral's names for the embeddings fields it has. */
static const struct {
	const char	*key;
	const char	*send_as;	/* NULL: left out */
} mistral_embed[] = {
	{ "input", "input" },
	{ "dimensions", "output_dimension" },
	{ "user", NULL },
	{ "encoding_format", NULL },
	{ "model", NULL },
};

/*
 * POST {base}/embeddings.  OpenAI gets the body as it came (model
 * renamed); the others are asked for floats, which we encode as base64
 * when the client wants that, and Mistral gets its own field names.
 */
static int
openai_embed_encode(struct prov_ctx *ctx, const struct json *j,
    struct upstream_req *ur, struct errinfo *err)
{
	static const char *const omit[] = { "model", NULL };
	static const char *const omit_b64[] = { "model", "encoding_format", NULL };
	struct oa_state *st;
	struct buf b;
	size_t blen, x;
	int k, m, n = 0, r = 0;
	char key[64];

	if ((st = oa_state(ctx)) == NULL) {
		provider_err(err, 500, "server_error", NULL, "out of memory");
		return -1;
	}
	st->b64 = ctx->embed_base64 && !(st->d->flags & D_FAITHFUL);
	buf_init(&b, 0);
	r |= buf_appendc(&b, '{');
	r |= oa_put_key(&b, &n, "model");
	r |= json_write_cstr(&b, oa_upstream(ctx));
	if (!(st->d->flags & D_ALLOWLIST))
		r |= oa_put_members(&b, j, 0, st->b64 ? omit_b64 : omit, &n);
	else {
		for (k = 1, m = 0; m < json_size(j, 0); m++,
		    k = json_skip(j, k + 1)) {
			for (x = 0; x < NM_NELEM(mistral_embed); x++)
				if (json_streq(j, k, mistral_embed[x].key))
					break;
			if (x == NM_NELEM(mistral_embed)) {
				if (json_strcpy(j, k, key, sizeof(key)) != 0)
					snprintf(key, sizeof(key), "(a long name)");
				provider_err(err, 400, "invalid_request_error",
				    "unsupported_parameter", "The model '%s' "
				    "does not support the parameter '%s' (its "
				    "source speaks the Mistral API).",
				    ctx->model->id, key);
				snprintf(err->param, sizeof(err->param), "%s",
				    key);
				buf_free(&b);
				return -1;
			}
			if (mistral_embed[x].send_as == NULL)
				continue;
			r |= oa_put_key(&b, &n, mistral_embed[x].send_as);
			r |= json_write_raw(&b, j, k + 1);
		}
	}
	r |= buf_appendc(&b, '}');
	if (r == 0)
		r = oa_put_call(ctx, ur, "/embeddings", 0);
	if (r != 0) {
		buf_free(&b);
		provider_err(err, 500, "server_error", NULL, "out of memory");
		return -1;
	}
	ur->body = buf_steal(&b, &blen);
	ur->body_len = blen;
	return 0;
}

/* Standard base64 of n bytes. */
static int
put_base64(struct buf *b, const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	size_t i;
	uint32_t v;
	int r = 0;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		r |= buf_append(b, q, 4);
	}
	return r;
}

/*
 * An array of numbers as OpenAI's base64: float32 little-endian.  -1 on
 * OOM or a value that is not a number.
 */
static int
put_floats_b64(struct buf *b, const struct json *j, int arr)
{
	unsigned char *bytes;
	char num[64], *end;
	const char *p;
	size_t len, n = (size_t)json_size(j, arr), i;
	float f;
	uint32_t u;
	int x, r = -1;

	if ((bytes = malloc(n * 4 + 1)) == NULL)
		return -1;
	for (i = 0, x = arr + 1; i < n; i++, x = json_skip(j, x)) {
		if (json_type(j, x) != JSON_NUMBER)
			goto out;
		p = json_ptr(j, x, &len);
		if (len >= sizeof(num))
			goto out;
		memcpy(num, p, len);
		num[len] = '\0';
		f = strtof(num, &end);
		if (*end != '\0')
			goto out;
		memcpy(&u, &f, 4);
		bytes[i * 4] = u & 0xff;
		bytes[i * 4 + 1] = (u >> 8) & 0xff;
		bytes[i * 4 + 2] = (u >> 16) & 0xff;
		bytes[i * 4 + 3] = (u >> 24) & 0xff;
	}
	r = buf_appendc(b, '"');
	r |= put_base64(b, bytes, n * 4);
	r |= buf_appendc(b, '"');
out:
	free(bytes);
	return r;
}

/* A whole embeddings answer: check it, take the usage, relay or re-encode. */
static int
openai_embed_decode(struct prov_ctx *ctx, const char *body, size_t len,
    struct buf *out, int *passthrough, struct errinfo *err)
{
	static const char *const omit_root[] = { "data", NULL };
	static const char *const omit_item[] = { "embedding", NULL };
	struct oa_state *st;
	struct json j;
	int d, i, it, em, n = 0, n2, rr = 0, r = -1;

	memset(&j, 0, sizeof(j));
	if (answer_open(ctx, body, len, &j, &st, err) != 0)
		goto out;
	d = json_get(&j, 0, "data");
	if (d < 0 || json_type(&j, d) != JSON_ARRAY || json_size(&j, d) == 0)
		goto bad;
	for (i = 0, it = d + 1; i < json_size(&j, d); i++, it = json_skip(&j, it)) {
		if (json_type(&j, it) != JSON_OBJECT ||
		    (em = json_get(&j, it, "embedding")) < 0 ||
		    (json_type(&j, em) != JSON_ARRAY &&
		    json_type(&j, em) != JSON_STRING) ||
		    (st->b64 && json_type(&j, em) != JSON_ARRAY))
			goto bad;
	}
	provider_usage_openai(&j, json_get(&j, 0, "usage"), &ctx->usage);
	if (!st->b64) {
		*passthrough = 1;
		r = 0;
		goto out;
	}
	rr |= buf_appendc(out, '{');
	rr |= oa_put_members(out, &j, 0, omit_root, &n);
	rr |= oa_put_key(out, &n, "data");
	rr |= buf_appendc(out, '[');
	for (i = 0, it = d + 1; i < json_size(&j, d); i++, it = json_skip(&j, it)) {
		if (i > 0)
			rr |= buf_appendc(out, ',');
		n2 = 0;
		rr |= buf_appendc(out, '{');
		rr |= oa_put_members(out, &j, it, omit_item, &n2);
		rr |= oa_put_key(out, &n2, "embedding");
		rr |= put_floats_b64(out, &j, json_get(&j, it, "embedding"));
		rr |= buf_appendc(out, '}');
	}
	rr |= buf_appends(out, "]}");
	if (rr != 0)
		goto bad;
	*passthrough = 0;
	r = 0;
	goto out;
bad:
	provider_err(err, 502, "upstream_error", "upstream_error",
	    "The source '%s' sent an invalid embeddings answer.",
	    ctx->prov->name);
out:
	json_free(&j);
	return r;
}

const struct provider_ops provider_openai = {
	.kind = PROVIDER_OPENAI,
	.chat_encode = openai_chat_encode,
	.chat_decode = openai_chat_decode,
	.chat_event = openai_chat_event,
	.map_error = openai_map_error,
	.ctx_free = openai_ctx_free,
	.embed_encode = openai_embed_encode,
	.embed_decode = openai_embed_decode,
};
