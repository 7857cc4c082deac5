/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The OpenAI wire format, spoken by OpenAI and every OpenAI-compatible
 * source.  Requests pass through with every field the client sent except
 * the model name (the source's own) and stream_options (we always ask for
 * the usage chunk, and hide it from clients that did not ask).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "buf.h"
#include "crypto.h"
#include "json.h"
#include "providers/provider.h"

/* Append "Name: value" to a NULL-terminated header list. */
static int
add_header(char ***list, size_t *n, const char *name, const char *value)
{
	char **l, *h;
	size_t len = strlen(name) + strlen(value) + 3;

	if ((h = malloc(len)) == NULL)
		return -1;
	snprintf(h, len, "%s: %s", name, value);
	if ((l = realloc(*list, (*n + 2) * sizeof(*l))) == NULL) {
		free(h);
		return -1;
	}
	l[(*n)++] = h;
	l[*n] = NULL;
	*list = l;
	return 0;
}

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

/* Build POST {base}/chat/completions with the client's body, rewritten. */
static int
openai_chat_encode(struct prov_ctx *ctx, const struct json *j,
    struct upstream_req *ur, struct errinfo *err)
{
	static const char *const omit_plain[] = { "model", NULL };
	static const char *const omit_usage[] = { "model", "stream_options", NULL };
	static const char *const omit_iu[] = { "include_usage", NULL };
	const struct provider_conf *p = ctx->prov;
	const char *up = ctx->model->upstream_model != NULL ?
	    ctx->model->upstream_model : ctx->model->id;
	struct buf b, auth;
	size_t nh = 0, blen;
	int nw = 0, nw2 = 0, so, r = 0;

	ctx->asked_usage = ctx->stream && p->stream_usage;
	buf_init(&b, 0);
	buf_init(&auth, 0);
	r |= json_write_object_except(&b, j, 0, ctx->asked_usage ? omit_usage :
	    omit_plain, 1, &nw);
	r |= buf_appends(&b, nw > 0 ? ",\"model\":" : "\"model\":");
	r |= json_write_cstr(&b, up);
	if (ctx->asked_usage) {
		r |= buf_appends(&b, ",\"stream_options\":");
		so = json_get(j, 0, "stream_options");
		if (so >= 0 && json_type(j, so) == JSON_OBJECT) {
			r |= json_write_object_except(&b, j, so, omit_iu, 1, &nw2);
			if (nw2 > 0)
				r |= buf_appendc(&b, ',');
		} else
			r |= buf_appendc(&b, '{');
		r |= buf_appends(&b, "\"include_usage\":true}");
	}
	r |= buf_appendc(&b, '}');
	r |= buf_appendf(&auth, "Bearer %s", p->api_key);
	if (r == 0 && (ur->url = join_url(p->base_url, "/chat/completions")) == NULL)
		r = -1;
	if (r == 0) {
		r |= add_header(&ur->headers, &nh, "Authorization", auth.data);
		r |= add_header(&ur->headers, &nh, "Content-Type",
		    "application/json");
		r |= add_header(&ur->headers, &nh, "Accept", ctx->stream ?
		    "text/event-stream" : "application/json");
	}
	if (auth.data != NULL)
		crypto_cleanse(auth.data, auth.len);
	buf_free(&auth);
	if (r != 0) {
		buf_free(&b);
		provider_err(err, 500, "server_error", NULL, "out of memory");
		return -1;
	}
	ur->body = buf_steal(&b, &blen);
	ur->body_len = blen;
	return 0;
}

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
 * The error object of a source's body: OpenAI/OpenRouter nest it under
 * "error", Mistral does not.  Message, type and code go to err.
 */
struct srcerr {
	char	msg[400];
	char	type[48];
	char	code[48];
	char	param[64];
};

static void
read_error(struct prov_ctx *ctx, const char *body, size_t len,
    struct srcerr *se)
{
	struct json j;
	char e[128];
	int o, t;
	size_t n;

	memset(se, 0, sizeof(*se));
	memset(&j, 0, sizeof(j));
	if (body == NULL || len == 0 ||
	    json_parse(&j, body, len, &ctx->lim, e, sizeof(e)) != 0 ||
	    json_type(&j, 0) != JSON_OBJECT)
		goto out;
	o = json_get(&j, 0, "error");
	if (o < 0 || json_type(&j, o) != JSON_OBJECT)
		o = 0;
	member_str(&j, o, "message", se->msg, sizeof(se->msg));
	member_str(&j, o, "type", se->type, sizeof(se->type));
	member_str(&j, o, "code", se->code, sizeof(se->code));
	member_str(&j, o, "param", se->param, sizeof(se->param));
	if (se->code[0] == '\0' && (t = json_get(&j, o, "code")) >= 0 &&
	    json_type(&j, t) == JSON_NUMBER) {
		const char *p = json_ptr(&j, t, &n);
		snprintf(se->code, sizeof(se->code), "%.*s",
		    (int)NM_MIN(n, 20), p);
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
	struct srcerr se;
	const char *src = ctx->prov->name, *model = ctx->model->id;
	const char *msg = se.msg, *code = se.code, *type = se.type;

	read_error(ctx, body, len, &se);
	if (status == 400 || status == 409 || status == 413 || status == 422) {
		provider_err(err, 400, "invalid_request_error",
		    code[0] ? code : NULL, "%s", msg[0] ? msg :
		    "The source rejected the request as invalid.");
		snprintf(err->param, sizeof(err->param), "%s", se.param);
	} else if (status == 401 || status == 403) {
		provider_err(err, 502, "upstream_error", "upstream_auth_failed",
		    "The source '%s' rejected the gateway's credentials for "
		    "model '%s'.", src, model);
	} else if (status == 402 || strcmp(code, "insufficient_quota") == 0 ||
	    strcmp(type, "insufficient_quota") == 0) {
		provider_err(err, 502, "upstream_error", "upstream_quota",
		    "The source '%s' refused the request for lack of credit.",
		    src);
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

/* A whole answer: check it is a complete chat completion, then relay it. */
static int
openai_chat_decode(struct prov_ctx *ctx, const char *body, size_t len,
    struct buf *out, int *passthrough, struct errinfo *err)
{
	struct json j;
	char e[128];
	int ch, c, fr, i, r = -1;

	memset(&j, 0, sizeof(j));
	if (json_parse(&j, body != NULL ? body : "", len, &ctx->lim, e,
	    sizeof(e)) != 0 || json_type(&j, 0) != JSON_OBJECT) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' sent an incomplete or invalid answer.",
		    ctx->prov->name);
		goto out;
	}
	if (json_get(&j, 0, "error") >= 0) {
		openai_map_error(ctx, 502, body, len, NULL, err);
		goto out;
	}
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
	provider_usage_openai(&j, json_get(&j, 0, "usage"), &ctx->usage);
	*passthrough = 1;
	(void)out;
	r = 0;
out:
	json_free(&j);
	return r;
}

/* One event of a stream: record usage, hide what the client did not ask for. */
static int
openai_chat_event(struct prov_ctx *ctx, const struct sse_event *ev,
    struct buf *out, struct errinfo *err)
{
	static const char *const omit_usage[] = { "usage", NULL };
	struct json j;
	char e[128];
	struct srcerr se;
	int u, ch, c0, cu, nw, r = -1;
	struct buf b;

	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
		ctx->saw_done = 1;
		return 0;
	}
	if (ev->data_len == 0)
		return 0;
	memset(&j, 0, sizeof(j));
	buf_init(&b, 0);
	if (json_parse(&j, ev->data, ev->data_len, &ctx->lim, e,
	    sizeof(e)) != 0 || json_type(&j, 0) != JSON_OBJECT) {
		provider_err(err, 502, "upstream_error", "upstream_error",
		    "The source '%s' sent an invalid stream event.",
		    ctx->prov->name);
		goto out;
	}
	if (json_get(&j, 0, "error") >= 0 || strcmp(ev->event, "error") == 0) {
		read_error(ctx, ev->data, ev->data_len, &se);
		provider_err(err, 502, "upstream_error", se.code[0] ? se.code :
		    "upstream_error", "The source '%s' failed mid-stream%s%s",
		    ctx->prov->name, se.msg[0] ? ": " : ".", se.msg);
		goto out;
	}
	u = json_get(&j, 0, "usage");
	if (u >= 0 && json_type(&j, u) == JSON_OBJECT)
		provider_usage_openai(&j, u, &ctx->usage);
	ch = json_get(&j, 0, "choices");
	/* Moonshot puts usage inside the last choice; top level wins. */
	if ((u < 0 || json_type(&j, u) != JSON_OBJECT) && ch >= 0 &&
	    json_type(&j, ch) == JSON_ARRAY && json_size(&j, ch) > 0 &&
	    (c0 = json_at(&j, ch, 0)) >= 0 && json_type(&j, c0) == JSON_OBJECT &&
	    (cu = json_get(&j, c0, "usage")) >= 0 &&
	    json_type(&j, cu) == JSON_OBJECT)
		provider_usage_openai(&j, cu, &ctx->usage);

	if (u >= 0 && ctx->asked_usage && !ctx->client_usage) {
		/* The usage chunk itself: drop it.  Others: drop the key. */
		if (json_type(&j, u) == JSON_OBJECT && (ch < 0 ||
		    json_type(&j, ch) != JSON_ARRAY || json_size(&j, ch) == 0)) {
			r = 0;
			goto out;
		}
		if (json_write_object_except(&b, &j, 0, omit_usage, 0, &nw) != 0 ||
		    sse_write_data(out, b.data, b.len) != 0)
			goto oom;
	} else if (sse_write_data(out, ev->data, ev->data_len) != 0)
		goto oom;
	r = 0;
	goto out;
oom:
	provider_err(err, 502, "upstream_error", "upstream_error",
	    "The stream of source '%s' is larger than the gateway accepts.",
	    ctx->prov->name);
out:
	buf_free(&b);
	json_free(&j);
	return r;
}

const struct provider_ops provider_openai = {
	.kind = PROVIDER_OPENAI,
	.chat_encode = openai_chat_encode,
	.chat_decode = openai_chat_decode,
	.chat_event = openai_chat_event,
	.map_error = openai_map_error,
	.ctx_free = NULL,
};
