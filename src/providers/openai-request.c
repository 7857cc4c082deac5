/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The OpenAI wire format, request side: the chat body each dialect
 * accepts (OpenAI itself gets the client's body as it came; compatible
 * sources what they take; Mistral an allow-list), built from the client's
 * OpenAI body (wire-formats.md section 7).  Answers, streams, errors and
 * embeddings are in openai.c.
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

/* --- requests: OpenAI -------------------------------------------------- */

/*
 * OpenAI: every field the client sent, with the source's model name,
 * max_tokens spelt max_completion_tokens (reasoning models refuse the
 * old name), and include_usage when we want the usage of a stream.
 */
static int
encode_faithful(struct prov_ctx *ctx, const struct json *j, struct buf *b)
{
	static const char *const omit[] = { "model", "stream_options",
	    "max_tokens", NULL };
	static const char *const omit_iu[] = { "include_usage", NULL };
	int n = 0, n2 = 0, so, mt, r = 0;

	r |= buf_appendc(b, '{');
	r |= oa_put_members(b, j, 0, omit, &n);
	r |= oa_put_key(b, &n, "model");
	r |= json_write_cstr(b, oa_upstream(ctx));
	if ((mt = json_get(j, 0, "max_tokens")) >= 0) {
		r |= oa_put_key(b, &n, json_get(j, 0, "max_completion_tokens") < 0 ?
		    "max_completion_tokens" : "max_tokens");
		r |= json_write_raw(b, j, mt);
	}
	so = json_get(j, 0, "stream_options");
	if (ctx->asked_usage) {
		r |= oa_put_key(b, &n, "stream_options");
		r |= buf_appendc(b, '{');
		if (so >= 0 && json_type(j, so) == JSON_OBJECT)
			r |= oa_put_members(b, j, so, omit_iu, &n2);
		r |= oa_put_key(b, &n2, "include_usage");
		r |= buf_appends(b, "true}");
	} else if (so >= 0) {
		r |= oa_put_key(b, &n, "stream_options");
		r |= json_write_raw(b, j, so);
	}
	r |= buf_appendc(b, '}');
	return r;
}

/* --- requests: compatible sources -------------------------------------- */

/* The max tokens asked for (max_completion_tokens first), or -1. */
static int
max_tokens_of(const struct json *j)
{
	int t;

	if ((t = json_get(j, 0, "max_completion_tokens")) >= 0 &&
	    json_type(j, t) != JSON_NULL)
		return t;
	if ((t = json_get(j, 0, "max_tokens")) >= 0 &&
	    json_type(j, t) != JSON_NULL)
		return t;
	return -1;
}

/* messages with developer turned into system (the others know only system). */
static int
put_messages_compat(struct buf *b, const struct json *j, int msgs)
{
	static const char *const omit_role[] = { "role", NULL };
	int i, m, role, n, r = 0;

	r |= buf_appendc(b, '[');
	for (i = 0, m = msgs + 1; i < json_size(j, msgs); i++,
	    m = json_skip(j, m)) {
		if (i > 0)
			r |= buf_appendc(b, ',');
		if ((role = json_get(j, m, "role")) < 0 ||
		    !json_streq(j, role, "developer")) {
			r |= json_write_raw(b, j, m);
			continue;
		}
		n = 0;
		r |= buf_appendc(b, '{');
		r |= oa_put_key(b, &n, "role");
		r |= buf_appends(b, "\"system\"");
		r |= oa_put_members(b, j, m, omit_role, &n);
		r |= buf_appendc(b, '}');
	}
	r |= buf_appendc(b, ']');
	return r;
}

/*
 * DeepSeek, Moonshot, DashScope, Ark, OpenRouter, generic servers: the
 * client's fields (reasoning_content, enable_thinking and other extras
 * included) minus OpenAI-only ones, developer as system, max_tokens.
 */
static int
encode_compat(struct prov_ctx *ctx, const struct json *j, struct buf *b)
{
	/* OpenAI-only fields (store ... prediction) never leave for others. */
	static const char *const omit[] = { "model", "messages", "max_tokens",
	    "max_completion_tokens", "stream_options", "store", "metadata",
	    "service_tier", "prediction", NULL };
	int n = 0, mt, msgs, r = 0;

	r |= buf_appendc(b, '{');
	r |= oa_put_key(b, &n, "model");
	r |= json_write_cstr(b, oa_upstream(ctx));
	if ((msgs = json_get(j, 0, "messages")) >= 0) {
		r |= oa_put_key(b, &n, "messages");
		r |= put_messages_compat(b, j, msgs);
	}
	r |= oa_put_members(b, j, 0, omit, &n);
	if ((mt = max_tokens_of(j)) >= 0) {
		r |= oa_put_key(b, &n, "max_tokens");
		r |= json_write_raw(b, j, mt);
	}
	if (ctx->stream && !(oa_dialect(ctx->prov)->flags & D_USAGE_ALWAYS) &&
	    (ctx->asked_usage || ctx->client_usage)) {
		r |= oa_put_key(b, &n, "stream_options");
		r |= buf_appends(b, "{\"include_usage\":true}");
	}
	r |= buf_appendc(b, '}');
	return r;
}

/* --- requests: Mistral ------------------------------------------------- */

/*
 * A tool-call id Mistral accepts: exactly 9 of [a-zA-Z0-9].  One that
 * already is stays; any other is hashed, so the assistant turn and its
 * tool results get the same new id on every request.
 */
static void
tool_id9(const char *id, size_t len, char out[10])
{
	static const char digits[] =
	    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	unsigned char h[CRYPTO_SHA256_LEN];
	size_t i;
	int ok = len == 9;

	for (i = 0; ok && i < len; i++)
		if (strchr(digits, id[i]) == NULL || id[i] == '\0')
			ok = 0;
	if (ok) {
		memcpy(out, id, 9);
		out[9] = '\0';
		return;
	}
	crypto_sha256(id, len, h);
	for (i = 0; i < 9; i++)
		out[i] = digits[h[i] % 62];
	out[9] = '\0';
}

/* Write string token t as a Mistral tool-call id. */
static int
put_tool_id(struct buf *b, const struct json *j, int t)
{
	char id9[10], *s;
	size_t len;

	if (json_type(j, t) != JSON_STRING)
		return json_write_raw(b, j, t);
	if ((s = json_strdup(j, t, &len)) == NULL)
		return -1;
	tool_id9(s, len, id9);
	free(s);
	return json_write_cstr(b, id9);
}

/* Which message members Mistral takes, by role. */
static const struct {
	const char	*role;
	const char	*send_as;
	const char	*keys[4];
} mistral_roles[] = {
	{ "system",	"system",	{ "content", NULL } },
	{ "developer",	"system",	{ "content", NULL } },
	{ "user",	"user",		{ "content", NULL } },
	{ "assistant",	"assistant",
	    { "content", "tool_calls", "prefix", NULL } },
	{ "tool",	"tool",
	    { "content", "tool_call_id", "name", NULL } },
};

/* An assistant's tool_calls with their ids made Mistral's. */
static int
put_tool_calls9(struct buf *b, const struct json *j, int tc)
{
	static const char *const omit[] = { "id", "index", NULL };
	int i, c, id, n, r = 0;

	if (json_type(j, tc) != JSON_ARRAY)
		return json_write_raw(b, j, tc);
	r |= buf_appendc(b, '[');
	for (i = 0, c = tc + 1; i < json_size(j, tc); i++, c = json_skip(j, c)) {
		if (i > 0)
			r |= buf_appendc(b, ',');
		if (json_type(j, c) != JSON_OBJECT) {
			r |= json_write_raw(b, j, c);
			continue;
		}
		n = 0;
		r |= buf_appendc(b, '{');
		if ((id = json_get(j, c, "id")) >= 0) {
			r |= oa_put_key(b, &n, "id");
			r |= put_tool_id(b, j, id);
		}
		r |= oa_put_members(b, j, c, omit, &n);
		r |= buf_appendc(b, '}');
	}
	r |= buf_appendc(b, ']');
	return r;
}

/* messages for Mistral: allowed members only, ids rewritten.  -2 + err (refused), -1 (OOM). */
static int
put_messages_mistral(struct prov_ctx *ctx, struct buf *b, const struct json *j,
    int msgs, struct errinfo *err)
{
	size_t x;
	int i, m, role, k, kk, n, r = 0;
	const char *const *keys;

	r |= buf_appendc(b, '[');
	for (i = 0, m = msgs + 1; i < json_size(j, msgs); i++,
	    m = json_skip(j, m)) {
		role = json_get(j, m, "role");
		for (x = 0; x < NM_NELEM(mistral_roles); x++)
			if (role >= 0 && json_streq(j, role, mistral_roles[x].role))
				break;
		if (x == NM_NELEM(mistral_roles)) {
			provider_err(err, 400, "invalid_request_error",
			    "unsupported_parameter", "The model '%s' does not "
			    "accept messages[%d]'s role (its source speaks the "
			    "Mistral API).", ctx->model->id, i);
			snprintf(err->param, sizeof(err->param),
			    "messages[%d].role", i);
			return -2;
		}
		if (i > 0)
			r |= buf_appendc(b, ',');
		n = 0;
		r |= buf_appendc(b, '{');
		r |= oa_put_key(b, &n, "role");
		r |= json_write_cstr(b, mistral_roles[x].send_as);
		keys = mistral_roles[x].keys;
		for (k = m + 1, kk = 0; kk < json_size(j, m); kk++,
		    k = json_skip(j, k + 1)) {
			if (!oa_key_in(j, k, keys))
				continue;
			if ((n++) > 0)
				r |= buf_appendc(b, ',');
			r |= json_write_raw(b, j, k);
			r |= buf_appendc(b, ':');
			if (json_streq(j, k, "tool_calls"))
				r |= put_tool_calls9(b, j, k + 1);
			else if (json_streq(j, k, "tool_call_id"))
				r |= put_tool_id(b, j, k + 1);
			else
				r |= json_write_raw(b, j, k + 1);
		}
		r |= buf_appendc(b, '}');
	}
	r |= buf_appendc(b, ']');
	return r;
}

/* What Mistral gets of each top-level field of a chat request. */
enum mact { M_PASS, M_DROP, M_MAXTOK, M_SEED, M_FALSEONLY };

static const struct {
	const char	*key;
	enum mact	 act;
} mistral_fields[] = {
	{ "model", M_DROP }, { "messages", M_DROP },	/* written apart */
	{ "temperature", M_PASS }, { "top_p", M_PASS }, { "stream", M_PASS },
	{ "stop", M_PASS }, { "random_seed", M_PASS },
	{ "response_format", M_PASS }, { "tools", M_PASS },
	{ "tool_choice", M_PASS }, { "presence_penalty", M_PASS },
	{ "frequency_penalty", M_PASS }, { "n", M_PASS },
	{ "parallel_tool_calls", M_PASS }, { "safe_prompt", M_PASS },
	{ "prompt_mode", M_PASS },
	{ "max_tokens", M_MAXTOK }, { "max_completion_tokens", M_MAXTOK },
	{ "seed", M_SEED },
	/* Cannot change the answer: left out quietly. */
	{ "user", M_DROP }, { "metadata", M_DROP }, { "store", M_DROP },
	{ "service_tier", M_DROP }, { "stream_options", M_DROP },
	{ "safety_identifier", M_DROP }, { "prompt_cache_key", M_DROP },
	{ "logprobs", M_FALSEONLY },
};

/*
 * Mistral refuses unknown fields with 422, so its body is built from an
 * allow-list; a field that would change the answer and has no Mistral
 * form is a 400 naming it, never a silent drop.
 */
static int
encode_mistral(struct prov_ctx *ctx, const struct json *j, struct buf *b,
    struct errinfo *err)
{
	size_t x;
	int k, m, n = 0, mt, msgs, v, r = 0;
	char key[64];

	r |= buf_appendc(b, '{');
	r |= oa_put_key(b, &n, "model");
	r |= json_write_cstr(b, oa_upstream(ctx));
	if ((msgs = json_get(j, 0, "messages")) >= 0) {
		r |= oa_put_key(b, &n, "messages");
		if ((v = put_messages_mistral(ctx, b, j, msgs, err)) != 0)
			return v;
	}
	for (k = 1, m = 0; m < json_size(j, 0); m++, k = json_skip(j, k + 1)) {
		for (x = 0; x < NM_NELEM(mistral_fields); x++)
			if (json_streq(j, k, mistral_fields[x].key))
				break;
		v = 0;
		if (x < NM_NELEM(mistral_fields) &&
		    mistral_fields[x].act == M_FALSEONLY &&
		    (json_type(j, k + 1) == JSON_NULL ||
		    (json_bool(j, k + 1, &v) == 0 && v == 0)))
			continue;
		if (x == NM_NELEM(mistral_fields) ||
		    mistral_fields[x].act == M_FALSEONLY) {
			if (json_strcpy(j, k, key, sizeof(key)) != 0)
				snprintf(key, sizeof(key), "(a long name)");
			provider_err(err, 400, "invalid_request_error",
			    "unsupported_parameter", "The model '%s' does not "
			    "support the parameter '%s' (its source speaks the "
			    "Mistral API).", ctx->model->id, key);
			snprintf(err->param, sizeof(err->param), "%s", key);
			return -2;
		}
		switch (mistral_fields[x].act) {
		case M_PASS:
			if ((n++) > 0)
				r |= buf_appendc(b, ',');
			r |= json_write_raw(b, j, k);
			r |= buf_appendc(b, ':');
			r |= json_write_raw(b, j, k + 1);
			break;
		case M_SEED:
			if (json_get(j, 0, "random_seed") >= 0)
				break;
			r |= oa_put_key(b, &n, "random_seed");
			r |= json_write_raw(b, j, k + 1);
			break;
		default:
			break;
		}
	}
	if ((mt = max_tokens_of(j)) >= 0) {
		r |= oa_put_key(b, &n, "max_tokens");
		r |= json_write_raw(b, j, mt);
	}
	r |= buf_appendc(b, '}');
	return r;
}

/* Build POST {base}/chat/completions in the source's dialect. */
int
openai_chat_encode(struct prov_ctx *ctx, const struct json *j,
    struct upstream_req *ur, struct errinfo *err)
{
	struct oa_state *st;
	struct buf b;
	size_t blen;
	int r;

	if (provider_check_sizes(ctx, j, err) != 0)
		return -1;
	if ((st = oa_state(ctx)) == NULL) {
		provider_err(err, 500, "server_error", NULL, "out of memory");
		return -1;
	}
	buf_init(&b, 0);
	if (st->d->flags & D_FAITHFUL) {
		ctx->asked_usage = ctx->stream && ctx->prov->stream_usage;
		r = encode_faithful(ctx, j, &b);
	} else if (st->d->flags & D_ALLOWLIST) {
		ctx->asked_usage = ctx->stream;
		r = encode_mistral(ctx, j, &b, err);
	} else {
		ctx->asked_usage = ctx->stream && ((st->d->flags &
		    D_USAGE_ALWAYS) || ctx->prov->stream_usage);
		r = encode_compat(ctx, j, &b);
	}
	if (r == 0)
		r = oa_put_call(ctx, ur, "/chat/completions", ctx->stream);
	if (r != 0) {
		buf_free(&b);
		if (r != -2)
			provider_err(err, 500, "server_error", NULL,
			    "out of memory");
		return -1;
	}
	ur->body = buf_steal(&b, &blen);
	ur->body_len = blen;
	return 0;
}
