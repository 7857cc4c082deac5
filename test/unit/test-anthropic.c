/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The Anthropic wire format against recorded payloads written from the
 * public docs (test/unit/data/anthropic/): OpenAI requests and the body
 * Anthropic must get, Anthropic answers and streams and the OpenAI shapes
 * they must become, error bodies and the client's error.  JSON is compared
 * semantically (key order and string escapes do not matter, numbers do).
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "sse.h"
#include "catalog.h"
#include "config.h"
#include "providers/provider.h"
#include "unit.h"
#include "many.h"

#define CREATED 1700000000

static char datadir[PATH_MAX / 2];
static int ncases;

/* The structs want writable strings. */
static char s_claude[] = "claude", s_base[] = "https://api.anthropic.test";
static char s_key[] = "sk-ant-api03-secretsecret", s_id[] = "mock-claude";
static char s_up[] = "claude-sonnet-4-5";

static struct provider_conf prov = {
	.name = s_claude,
	.kind = PROVIDER_ANTHROPIC,
	.base_url = s_base,
	.api_key = s_key,
};

static struct model model;

/* A file's bytes, NUL-terminated; NULL if unreadable.  Caller frees. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f;
	struct buf b;
	char chunk[4096];
	size_t n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&b, chunk, n) != 0)
			break;
	fclose(f);
	if (b.data == NULL && buf_append(&b, "", 0) != 0)
		return NULL;
	return buf_steal(&b, len);
}

/* Free what chat_encode put in ur (upstream.c is not linked here). */
static void
req_free(struct upstream_req *ur)
{
	char **h;

	free(ur->url);
	free(ur->body);
	for (h = ur->headers; h != NULL && *h != NULL; h++)
		free(*h);
	free(ur->headers);
	memset(ur, 0, sizeof(*ur));
}

/* 1 if value a of ja and value b of jb are the same JSON. */
static int
same(const struct json *ja, int a, const struct json *jb, int b)
{
	enum json_type t = json_type(ja, a);
	char *sa, *sb, *key;
	const char *pa, *pb;
	size_t la, lb;
	int k, m, ka, kb, ok;

	if (t != json_type(jb, b))
		return 0;
	switch (t) {
	case JSON_STRING:
		sa = json_strdup(ja, a, &la);
		sb = json_strdup(jb, b, &lb);
		ok = sa != NULL && sb != NULL && la == lb && memcmp(sa, sb, la) == 0;
		free(sa);
		free(sb);
		return ok;
	case JSON_NUMBER:
		pa = json_ptr(ja, a, &la);
		pb = json_ptr(jb, b, &lb);
		return la == lb && memcmp(pa, pb, la) == 0;
	case JSON_ARRAY:
		if (json_size(ja, a) != json_size(jb, b))
			return 0;
		for (k = 0, ka = a + 1, kb = b + 1; k < json_size(ja, a); k++,
		    ka = json_skip(ja, ka), kb = json_skip(jb, kb))
			if (!same(ja, ka, jb, kb))
				return 0;
		return 1;
	case JSON_OBJECT:
		if (json_size(ja, a) != json_size(jb, b))
			return 0;
		for (m = 0, k = a + 1; m < json_size(ja, a); m++, k = json_skip(ja, k + 1)) {
			if ((key = json_strdup(ja, k, NULL)) == NULL)
				return 0;
			kb = json_get(jb, b, key);
			free(key);
			if (kb < 0 || !same(ja, k + 1, jb, kb))
				return 0;
		}
		return 1;
	default:
		return 1;
	}
}

/* CHECK that text (actual) is the same JSON as value exp of je. */
static void
check_json(const char *what, const char *text, size_t len,
    const struct json *je, int exp)
{
	struct json ja;
	char e[128];
	size_t n;
	const char *p;
	int ok;

	memset(&ja, 0, sizeof(ja));
	ok = text != NULL && json_parse(&ja, text, len, NULL, e, sizeof(e)) == 0 &&
	    same(&ja, 0, je, exp);
	CHECK(ok);
	if (!ok) {
		p = json_raw(je, exp, &n);
		fprintf(stderr, "%s:\n  got:  %.*s\n  want: %.*s\n", what,
		    (int)len, text != NULL ? text : "(null)", (int)n, p);
	}
	json_free(&ja);
}

/* Integer member key of obj, or def. */
static int64_t
num(const struct json *j, int obj, const char *key, int64_t def)
{
	int64_t v;

	if (json_int64(j, json_get(j, obj, key), &v) != 0)
		return def;
	return v;
}

/* 1 if boolean member key of obj is true. */
static int
flag(const struct json *j, int obj, const char *key)
{
	return json_type(j, json_get(j, obj, key)) == JSON_TRUE;
}

/* A fresh context for the test model. */
static void
ctx_init(struct prov_ctx *ctx, int stream, int client_usage)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->prov = &prov;
	ctx->model = &model;
	ctx->lim.max_depth = 64;
	ctx->lim.max_tokens = 100000;
	ctx->stream = stream;
	ctx->client_usage = client_usage;
	ctx->created = CREATED;
	snprintf(ctx->request_id, sizeof(ctx->request_id), "req-test-1");
}

/* The model of a case: the defaults, changed by its "model" object. */
static void
model_for(const struct json *j, int obj)
{
	static const struct { const char *name; unsigned cap; } caps[] = {
		{ "reasoning", CAP_REASONING },
	};
	int m, c, k;
	size_t i;

	memset(&model, 0, sizeof(model));
	model.id = s_id;
	model.provider = s_claude;
	model.upstream_model = s_up;
	model.max_output = 64000;
	model.caps = CAP_TOOLS | CAP_JSON | CAP_VISION | CAP_STREAMING;
	if ((m = json_get(j, obj, "model")) < 0)
		return;
	model.max_output = num(j, m, "max_output", model.max_output);
	if ((c = json_get(j, m, "caps")) >= 0)
		for (k = 0, c++; k < json_size(j, json_get(j, m, "caps")); k++,
		    c = json_skip(j, c))
			for (i = 0; i < NM_NELEM(caps); i++)
				if (json_streq(j, c, caps[i].name))
					model.caps |= caps[i].cap;
}

/* CHECK err against the "error" object e of a case. */
static void
check_err(const char *name, const struct errinfo *err, const struct json *j,
    int e)
{
	char want[512];
	int t;

	CHECK(err->status == num(j, e, "status", -1));
	if (err->status != num(j, e, "status", -1))
		fprintf(stderr, "%s: status %d: %s\n", name, err->status,
		    err->message);
	if ((t = json_get(j, e, "type")) >= 0 &&
	    json_strcpy(j, t, want, sizeof(want)) == 0)
		CHECK_STR(err->type, want);
	if ((t = json_get(j, e, "code")) >= 0 &&
	    json_strcpy(j, t, want, sizeof(want)) == 0)
		CHECK_STR(err->code, want);
	if ((t = json_get(j, e, "param")) >= 0 &&
	    json_strcpy(j, t, want, sizeof(want)) == 0)
		CHECK_STR(err->param, want);
	if ((t = json_get(j, e, "retry_after")) >= 0 &&
	    json_strcpy(j, t, want, sizeof(want)) == 0)
		CHECK_STR(err->retry_after, want);
	if ((t = json_get(j, e, "message_has")) >= 0 &&
	    json_strcpy(j, t, want, sizeof(want)) == 0) {
		CHECK(strstr(err->message, want) != NULL);
		if (strstr(err->message, want) == NULL)
			fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", name,
			    err->message, want);
	}
	/* Never the key, whatever the source said. */
	CHECK(strstr(err->message, prov.api_key) == NULL);
	CHECK(strstr(err->message, "sk-ant") == NULL);
}

/* One request case: the OpenAI body in, the Anthropic body (or a 400) out. */
static void
req_case(const char *name, const struct json *j)
{
	struct prov_ctx ctx;
	struct upstream_req ur;
	struct errinfo err;
	struct json body;
	char e[128];
	const char *p;
	size_t n;
	int in, exp, r;

	model_for(j, 0);
	ctx_init(&ctx, flag(j, 0, "stream"), 0);
	memset(&ur, 0, sizeof(ur));
	memset(&err, 0, sizeof(err));
	in = json_get(j, 0, "openai");
	p = json_raw(j, in, &n);
	CHECK(json_parse(&body, p, n, NULL, e, sizeof(e)) == 0);
	r = provider_anthropic.chat_encode(&ctx, &body, &ur, &err);
	if ((exp = json_get(j, 0, "anthropic")) >= 0) {
		CHECK(r == 0);
		if (r != 0)
			fprintf(stderr, "%s: %d %s (param %s)\n", name, err.status,
			    err.message, err.param);
		check_json(name, ur.body, ur.body_len, j, exp);
	} else {
		CHECK(r == -1);
		check_err(name, &err, j, json_get(j, 0, "error"));
	}
	req_free(&ur);
	provider_anthropic.ctx_free(&ctx);
	json_free(&body);
}

/* Encode a case's request first when it names one (JSON mode state). */
static void
prime(struct prov_ctx *ctx, const struct json *j)
{
	struct upstream_req ur;
	struct errinfo err;
	struct json body;
	char e[128];
	const char *p;
	size_t n;
	int in;

	if ((in = json_get(j, 0, "request")) < 0)
		return;
	memset(&ur, 0, sizeof(ur));
	p = json_raw(j, in, &n);
	CHECK(json_parse(&body, p, n, NULL, e, sizeof(e)) == 0);
	CHECK(provider_anthropic.chat_encode(ctx, &body, &ur, &err) == 0);
	req_free(&ur);
	json_free(&body);
}

/* CHECK ctx->usage against the case's "usage" object, if any. */
static void
check_usage(const struct prov_ctx *ctx, const struct json *j)
{
	int u;

	if ((u = json_get(j, 0, "usage")) < 0)
		return;
	CHECK(ctx->usage.have == 1);
	CHECK(ctx->usage.prompt_tokens == num(j, u, "prompt_tokens", -1));
	CHECK(ctx->usage.completion_tokens == num(j, u, "completion_tokens", -1));
	CHECK(ctx->usage.total_tokens == num(j, u, "total_tokens", -1));
	CHECK(ctx->usage.cached_tokens == num(j, u, "cached_tokens", -1));
	CHECK(ctx->usage.cache_write_tokens == num(j, u, "cache_write_tokens", 0));
	CHECK(ctx->usage.reasoning_tokens == num(j, u, "reasoning_tokens", 0));
}

/* One answer case: an Anthropic Message in, a chat.completion (or error) out. */
static void
resp_case(const char *name, const struct json *j)
{
	struct prov_ctx ctx;
	struct errinfo err;
	struct buf out;
	const char *p;
	size_t n;
	int in, exp, pass = -1, r;

	model_for(j, 0);
	ctx_init(&ctx, flag(j, 0, "stream"), 0);
	prime(&ctx, j);
	buf_init(&out, 0);
	memset(&err, 0, sizeof(err));
	in = json_get(j, 0, "anthropic");
	if (json_type(j, in) == JSON_STRING)	/* a cut or broken body */
		p = json_ptr(j, in, &n);
	else
		p = json_raw(j, in, &n);
	r = provider_anthropic.chat_decode(&ctx, p, n, &out, &pass, &err);
	if ((exp = json_get(j, 0, "openai")) >= 0) {
		CHECK(r == 0);
		CHECK(pass == 0);
		if (r != 0)
			fprintf(stderr, "%s: %s\n", name, err.message);
		check_json(name, out.data, out.len, j, exp);
		check_usage(&ctx, j);
	} else {
		CHECK(r == -1);
		check_err(name, &err, j, json_get(j, 0, "error"));
	}
	buf_free(&out);
	provider_anthropic.ctx_free(&ctx);
}

struct feed {
	struct prov_ctx	*ctx;
	struct buf	*out;
	struct errinfo	*err;
	int		 failed;
};

/* sse_feed callback: one event through chat_event. */
static int
on_event(void *arg, const struct sse_event *ev)
{
	struct feed *f = arg;

	if (f->failed)
		return -1;
	if (provider_anthropic.chat_event(f->ctx, ev, f->out, f->err) != 0) {
		f->failed = 1;
		return -1;
	}
	return 0;
}

/* The data: lines of OpenAI SSE output as one JSON array text. */
static void
chunks_array(const struct buf *out, struct buf *arr)
{
	const char *p = out->data != NULL ? out->data : "", *nl;
	int n = 0;

	buf_appendc(arr, '[');
	for (; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		if (strncmp(p, "data: ", 6) == 0) {
			if (n++ > 0)
				buf_appendc(arr, ',');
			buf_append(arr, p + 6, (size_t)(nl - p - 6));
		}
	}
	buf_appendc(arr, ']');
}

/* Feed a recorded stream in pieces of step bytes (0: whole); the output is in out. */
static int
feed_stream(const struct json *j, const char *sse, size_t len, size_t step,
    struct prov_ctx *ctx, struct buf *out, struct errinfo *err)
{
	struct sse_parser sp;
	struct feed f = { ctx, out, err, 0 };
	size_t pos, n;

	ctx_init(ctx, 1, flag(j, 0, "client_usage"));
	prime(ctx, j);
	ctx->stream = 1;
	memset(err, 0, sizeof(*err));
	sse_parser_init(&sp, 1 << 20);
	for (pos = 0; pos < len && !f.failed; pos += n) {
		n = step == 0 ? len : NM_MIN(step, len - pos);
		if (sse_feed(&sp, sse + pos, n, on_event, &f) != 0)
			break;
	}
	sse_parser_free(&sp);
	return f.failed ? -1 : 0;
}

/* One stream case: NAME.sse in, the chunks of NAME.json out, in any split. */
static void
stream_case(const char *name, const char *path, const struct json *j)
{
	static const size_t steps[] = { 0, 1, 7, 64 };
	struct prov_ctx ctx;
	struct errinfo err;
	struct buf out, arr, first;
	char sp[PATH_MAX];
	char *sse;
	size_t len, i;
	int r, e;

	model_for(j, 0);
	snprintf(sp, sizeof(sp), "%.*s.sse", (int)(strlen(path) - 5), path);
	if ((sse = slurp(sp, &len)) == NULL) {
		fprintf(stderr, "%s: cannot read\n", sp);
		CHECK(0);
		return;
	}
	buf_init(&first, 0);
	for (i = 0; i < NM_NELEM(steps); i++) {
		buf_init(&out, 0);
		buf_init(&arr, 0);
		r = feed_stream(j, sse, len, steps[i], &ctx, &out, &err);
		chunks_array(&out, &arr);
		if (i == 0) {
			check_json(name, arr.data, arr.len, j, json_get(j, 0,
			    "chunks"));
			CHECK(ctx.saw_done == flag(j, 0, "saw_done"));
			check_usage(&ctx, j);
			buf_append(&first, out.data != NULL ? out.data : "",
			    out.len);
		} else {
			/* The split never changes a byte of the output. */
			CHECK(out.len == first.len && (out.len == 0 ||
			    memcmp(out.data, first.data, out.len) == 0));
		}
		if ((e = json_get(j, 0, "error")) >= 0) {
			CHECK(r == -1);
			check_err(name, &err, j, e);
		} else {
			CHECK(r == 0);
			if (r != 0)
				fprintf(stderr, "%s: %s\n", name, err.message);
		}
		provider_anthropic.ctx_free(&ctx);
		buf_free(&out);
		buf_free(&arr);
	}
	buf_free(&first);
	free(sse);
}

/* One error case: a status, a body and Retry-After in, the client's error out. */
static void
error_case(const char *name, const struct json *j)
{
	struct prov_ctx ctx;
	struct errinfo err;
	char ra[32] = "";
	const char *p = NULL;
	size_t n = 0;
	int b;

	model_for(j, 0);
	ctx_init(&ctx, flag(j, 0, "stream"), 0);
	memset(&err, 0, sizeof(err));
	if ((b = json_get(j, 0, "body")) >= 0)
		p = json_type(j, b) == JSON_STRING ? json_ptr(j, b, &n) :
		    json_raw(j, b, &n);
	if (json_get(j, 0, "retry_after") >= 0)
		json_strcpy(j, json_get(j, 0, "retry_after"), ra, sizeof(ra));
	provider_anthropic.map_error(&ctx, (long)num(j, 0, "status", 0), p, n,
	    ra[0] != '\0' ? ra : NULL, &err);
	check_err(name, &err, j, json_get(j, 0, "expect"));
	provider_anthropic.ctx_free(&ctx);
}

static int
namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every *.json case of data/anthropic/<dir> (sorted) through fn. */
static void
run_dir(const char *dir, void (*fn)(const char *, const struct json *),
    void (*sfn)(const char *, const char *, const struct json *))
{
	char path[PATH_MAX], e[128];
	char **names = NULL, **nv;
	size_t n = 0, i, len, l;
	struct dirent *de;
	struct json j;
	char *text;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", datadir, dir);
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "%s: cannot open (set NM_SRCDIR)\n", path);
		CHECK(0);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		if ((nv = realloc(names, (n + 1) * sizeof(*nv))) == NULL)
			break;
		names = nv;
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), namecmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", datadir, dir, names[i]);
		if ((text = slurp(path, &len)) == NULL ||
		    json_parse(&j, text, len, NULL, e, sizeof(e)) != 0) {
			fprintf(stderr, "%s: unreadable or bad JSON: %s\n", path,
			    text != NULL ? e : "");
			CHECK(0);
			free(text);
			continue;
		}
		ncases++;
		if (fn != NULL)
			fn(names[i], &j);
		else
			sfn(names[i], path, &j);
		json_free(&j);
		free(text);
		free(names[i]);
	}
	free(names);
}

/* The call itself: URL, headers, and the key only where it belongs. */
static void
test_call(void)
{
	static const char *const want[] = {
		"x-api-key: sk-ant-api03-secretsecret",
		"anthropic-version: 2023-06-01",
		"Content-Type: application/json",
		"Accept: text/event-stream",
	};
	static const char body[] = "{\"model\":\"mock-claude\",\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true},\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"hi\"}]}";
	struct prov_ctx ctx;
	struct upstream_req ur;
	struct errinfo err;
	struct json j;
	char e[128];
	size_t i;

	model_for(NULL, -1);
	ctx_init(&ctx, 1, 1);
	memset(&ur, 0, sizeof(ur));
	CHECK(json_parse(&j, body, sizeof(body) - 1, NULL, e, sizeof(e)) == 0);
	CHECK(provider_anthropic.chat_encode(&ctx, &j, &ur, &err) == 0);
	CHECK_STR(ur.url, "https://api.anthropic.test/v1/messages");
	for (i = 0; i < NM_NELEM(want); i++)
		CHECK(ur.headers != NULL && ur.headers[i] != NULL &&
		    strcmp(ur.headers[i], want[i]) == 0);
	CHECK(ur.headers != NULL && ur.headers[NM_NELEM(want)] == NULL);
	CHECK(ur.body != NULL && strstr(ur.body, prov.api_key) == NULL);
	CHECK(ur.body != NULL && strstr(ur.body, "stream_options") == NULL);
	CHECK(ctx.asked_usage == 0);
	req_free(&ur);
	provider_anthropic.ctx_free(&ctx);
	provider_anthropic.ctx_free(&ctx);	/* twice is fine */
	json_free(&j);

	/* No embeddings on this wire format; the table finds the ops. */
	CHECK(provider_anthropic.embed_encode == NULL);
	CHECK(provider_anthropic.embed_decode == NULL);
	CHECK(provider_ops(PROVIDER_ANTHROPIC) == &provider_anthropic);
}

/* Events after message_stop, pings and unknown events add nothing. */
static void
test_quiet_events(void)
{
	static const struct { const char *event, *data; } evs[] = {
		{ "ping", "{\"type\":\"ping\"}" },
		{ "brand_new_event", "{\"type\":\"brand_new_event\",\"x\":1}" },
		{ "", "" },
	};
	struct sse_event ev;
	struct prov_ctx ctx;
	struct errinfo err;
	struct buf out;
	size_t i;

	model_for(NULL, -1);
	ctx_init(&ctx, 1, 0);
	buf_init(&out, 0);
	for (i = 0; i < NM_NELEM(evs); i++) {
		memset(&ev, 0, sizeof(ev));
		ev.event = evs[i].event;
		ev.data = evs[i].data;
		ev.data_len = strlen(evs[i].data);
		ev.id = "";
		CHECK(provider_anthropic.chat_event(&ctx, &ev, &out, &err) == 0);
	}
	CHECK(out.len == 0);
	CHECK(ctx.saw_done == 0);
	/* Not JSON: the stream fails with a 502, nothing is written. */
	memset(&ev, 0, sizeof(ev));
	ev.event = "content_block_delta";
	ev.data = "{\"type\":";
	ev.data_len = strlen(ev.data);
	ev.id = "";
	CHECK(provider_anthropic.chat_event(&ctx, &ev, &out, &err) == -1);
	CHECK(err.status == 502);
	CHECK(out.len == 0);
	buf_free(&out);
	provider_anthropic.ctx_free(&ctx);
	provider_anthropic.ctx_free(NULL);
}

/* Absurd token counts are dropped before they are added up. */
static const struct many_usage usage_cases[] = {
	{ "{\"input_tokens\":9223372036854775807,\"cache_read_input_tokens\":"
	    "9223372036854775807,\"output_tokens\":1}", 0, 0, 0, 0 },
	{ "{\"input_tokens\":1,\"output_tokens\":1000000000001}", 0, 0, 0, 0 },
	{ "{\"input_tokens\":1,\"output_tokens\":2,\"output_tokens_details\":"
	    "{\"thinking_tokens\":9223372036854775807}}", 0, 0, 0, 0 },
	{ "{\"input_tokens\":1000000000000,\"cache_read_input_tokens\":"
	    "1000000000000,\"cache_creation_input_tokens\":1000000000000,"
	    "\"output_tokens\":1000000000000}", 1, 3000000000000LL,
	    1000000000000LL, 4000000000000LL },
	{ "{\"input_tokens\":3,\"output_tokens\":4}", 1, 3, 4, 7 },
};

/* A context for the size tests: the default test model. */
static void
size_ctx(struct prov_ctx *ctx)
{
	model_for(NULL, -1);
	ctx_init(ctx, 0, 0);
}

int
main(void)
{
	const char *src = getenv("NM_SRCDIR");

	if (src == NULL || *src == '\0')
		src = ".";
	snprintf(datadir, sizeof(datadir), "%s/test/unit/data/anthropic", src);
	test_call();
	test_quiet_events();
	many_test_limits(&provider_anthropic, size_ctx, s_id);
	many_test_usage(&provider_anthropic, size_ctx, "{\"id\":\"msg_1\","
	    "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
	    "\"content\":[{\"type\":\"text\",\"text\":\"a\"}],"
	    "\"stop_reason\":\"end_turn\",\"usage\":%s}", usage_cases,
	    NM_NELEM(usage_cases));
	many_test_linear(&provider_anthropic, size_ctx, s_id,
	    "\"type\":\"tool_use\"", "\"tool_use_id\"");
	run_dir("request", req_case, NULL);
	run_dir("response", resp_case, NULL);
	run_dir("stream", NULL, stream_case);
	run_dir("error", error_case, NULL);
	printf("%d recorded cases\n", ncases);
	CHECK(ncases >= 30);
	UNIT_DONE();
}
