/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * What every wire format shares: the table of provider implementations,
 * error filling, usage parsing and the scrubbing of secrets out of the
 * messages sources send back.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "log.h"
#include "providers/provider.h"

static const struct provider_ops *const providers[] = {
	&provider_openai,
	&provider_anthropic,
	&provider_gemini,
};

/* The implementation of a wire format, or NULL. */
const struct provider_ops *
provider_ops(enum provider_kind kind)
{
	size_t i;

	for (i = 0; i < NM_NELEM(providers); i++)
		if (providers[i]->kind == kind && providers[i]->chat_encode != NULL)
			return providers[i];
	return NULL;
}

/* Append "Name: value" to a NULL-terminated header list.  0 or -1 (OOM). */
int
provider_add_header(char ***list, size_t *n, const char *name,
    const char *value)
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

/* Fill an error for the client. */
void
provider_err(struct errinfo *err, int status, const char *type,
    const char *code, const char *fmt, ...)
{
	va_list ap;

	errinfo_set(err, status, type, code, NULL, "%s", "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* A 400 for an array of n items over max, in OpenAI's words; returns -1. */
static int
too_many(struct errinfo *err, const char *param, const char *what, int n,
    int max)
{
	provider_err(err, 400, "invalid_request_error", "array_above_max_length",
	    "Invalid '%s': too many %s. Expected at most %d, but got %d "
	    "instead.", param, what, max, n);
	snprintf(err->param, sizeof(err->param), "%s", param);
	return -1;
}

/* Check the sizes a translation's work grows with, before any is done. */
int
provider_check_sizes(const struct prov_ctx *ctx, const struct json *j,
    struct errinfo *err)
{
	int maxm = ctx->max_messages > 0 ? ctx->max_messages : PROV_MAX_MESSAGES;
	int maxc = ctx->max_tool_calls > 0 ? ctx->max_tool_calls :
	    PROV_MAX_TOOL_CALLS;
	int maxt = ctx->max_tools > 0 ? ctx->max_tools : PROV_MAX_TOOLS;
	int msgs, tools, m, k, n, tc, calls = 0;

	msgs = json_get(j, 0, "messages");
	if ((n = json_size(j, msgs)) > maxm)
		return too_many(err, "messages", "messages", n, maxm);
	/* Every call is a token of its own: the sum cannot overflow. */
	for (k = 0, m = msgs + 1; k < n; k++, m = json_skip(j, m))
		if (json_type(j, (tc = json_get(j, m, "tool_calls"))) ==
		    JSON_ARRAY)
			calls += json_size(j, tc);
	if (calls > maxc)
		return too_many(err, "messages", "tool calls in all messages "
		    "together", calls, maxc);
	tools = json_get(j, 0, "tools");
	if ((n = json_size(j, tools)) > maxt)
		return too_many(err, "tools", "tools", n, maxt);
	return 0;
}

/* Overwrite [p, p+n) with "[redacted]" squeezed in place. */
static void
redact(char *p, size_t n)
{
	static const char r[] = "[redacted]";
	size_t rl = sizeof(r) - 1, tail = strlen(p + n);

	if (n >= rl) {
		memcpy(p, r, rl);
		memmove(p + rl, p + n, tail + 1);
	} else {
		/* Too short to hold the marker: blank it out. */
		memset(p, '*', n);
	}
}

/* True for the characters API keys are made of. */
static int
keychar(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '*' || c == '.';
}

/*
 * Remove the provider's own key and anything that looks like a key
 * ("sk-...", "nm-...", long opaque tokens) from a message of the source.
 */
void
provider_scrub(const struct provider_conf *prov, char *msg)
{
	char *p;
	size_t n, klen;

	if (prov != NULL && prov->api_key != NULL &&
	    (klen = strlen(prov->api_key)) >= 4)
		while ((p = strstr(msg, prov->api_key)) != NULL)
			redact(p, klen);
	for (p = msg; *p != '\0'; p++) {
		if (p != msg && keychar((unsigned char)p[-1]))
			continue;
		for (n = 0; keychar((unsigned char)p[n]); n++)
			;
		if (n >= 6 && (strncmp(p, "sk-", 3) == 0 ||
		    strncmp(p, "nm-", 3) == 0 || strncmp(p, "key-", 4) == 0 ||
		    strncmp(p, "AIza", 4) == 0))
			redact(p, n);
		else if (n >= 32)
			redact(p, n);
	}
}

/* Read an integer member of an object, or 0. */
static int64_t
member_int(const struct json *j, int obj, const char *key)
{
	int64_t v = 0;
	int t;

	if (obj < 0 || json_type(j, obj) != JSON_OBJECT ||
	    (t = json_get(j, obj, key)) < 0 || json_int64(j, t, &v) != 0)
		return 0;
	return v;
}

/* Check the counts a source reported before anything adds them up. */
int
provider_usage_sane(const int64_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] < 0 || v[i] > PROV_MAX_USAGE_TOKENS) {
			log_warnx("the source reported a token count of %lld; "
			    "its usage is ignored and the call billed on an "
			    "estimate", (long long)v[i]);
			return 0;
		}
	return 1;
}

/* OpenAI usage (with the compatible sources' extra fields) into out. */
void
provider_usage_openai(const struct json *j, int u, struct usage *out)
{
	int64_t v[6];
	int d;

	if (u < 0 || json_type(j, u) != JSON_OBJECT)
		return;
	memset(out, 0, sizeof(*out));
	out->prompt_tokens = member_int(j, u, "prompt_tokens");
	out->completion_tokens = member_int(j, u, "completion_tokens");
	out->total_tokens = member_int(j, u, "total_tokens");
	if ((d = json_get(j, u, "prompt_tokens_details")) >= 0) {
		out->cached_tokens = member_int(j, d, "cached_tokens");
		out->cache_write_tokens = member_int(j, d, "cache_write_tokens");
	}
	if (out->cached_tokens == 0)	/* DeepSeek */
		out->cached_tokens = member_int(j, u, "prompt_cache_hit_tokens");
	if (out->cached_tokens == 0)	/* Moonshot */
		out->cached_tokens = member_int(j, u, "cached_tokens");
	if ((d = json_get(j, u, "completion_tokens_details")) >= 0)
		out->reasoning_tokens = member_int(j, d, "reasoning_tokens");
	v[0] = out->prompt_tokens;
	v[1] = out->completion_tokens;
	v[2] = out->total_tokens;
	v[3] = out->cached_tokens;
	v[4] = out->cache_write_tokens;
	v[5] = out->reasoning_tokens;
	if (!provider_usage_sane(v, NM_NELEM(v))) {
		memset(out, 0, sizeof(*out));
		return;
	}
	out->have = 1;
	if (out->total_tokens == 0)
		out->total_tokens = out->prompt_tokens + out->completion_tokens;
}
