/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Tests for the OpenAI wire format and its dialects, on recorded payloads
 * in test/unit/data/openai/: request bodies in and what each source gets
 * out, whole answers, streams event by event, usage, embeddings and
 * errors.  Set NM_ACTUAL_DIR to keep what a failing case produced.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "catalog.h"
#include "json.h"
#include "sse.h"
#include "providers/provider.h"
#include "unit.h"
#include "many.h"

static char datadir[PATH_MAX];

#define API_KEY	"sk-test-key-0123456789"

/* A file of the data folder, whole; NULL if missing.  Caller frees. */
static char *
slurp(const char *name, size_t *len)
{
	char path[PATH_MAX + 64], *p = NULL;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", datadir, name);
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL) {
		if (fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		} else {
			p[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return p;
}

/* Compare got with the expected file (a final newline there is not data). */
static void
check_file(const char *name, const char *got, size_t glen)
{
	char path[PATH_MAX + 64], *want;
	const char *dir = getenv("NM_ACTUAL_DIR");
	size_t wlen = 0;
	FILE *f;
	int same;

	want = slurp(name, &wlen);
	if (want != NULL && wlen > 0 && want[wlen - 1] == '\n' &&
	    (wlen < 2 || want[wlen - 2] != '\n'))
		wlen--;
	same = want != NULL && wlen == glen && memcmp(want, got, glen) == 0;
	CHECK(same);
	if (!same) {
		fprintf(stderr, "%s: got:\n%.*s\n", name, (int)glen, got);
		if (dir != NULL) {
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			if ((f = fopen(path, "wb")) != NULL) {
				fwrite(got, 1, glen, f);
				fclose(f);
			}
		}
	}
	free(want);
}

/* What an encoder built (upstream.c, which frees it, is not linked here). */
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

/* One source of each dialect, and a model it serves. */
struct fixture {
	struct provider_conf	 prov;
	struct model		 model;
	struct prov_ctx		 ctx;
};

static void
setup(struct fixture *fx, enum provider_dialect d, const char *upstream,
    int stream, int client_usage, int stream_usage)
{
	memset(fx, 0, sizeof(*fx));
	fx->prov.name = (char *)"src";
	fx->prov.kind = PROVIDER_OPENAI;
	fx->prov.base_url = (char *)"https://api.example.com/v1";
	fx->prov.api_key = (char *)API_KEY;
	fx->prov.stream_usage = stream_usage;
	fx->prov.dialect = d;
	fx->model.id = (char *)"client-model";
	fx->model.provider = (char *)"src";
	fx->model.upstream_model = (char *)upstream;
	fx->ctx.prov = &fx->prov;
	fx->ctx.model = &fx->model;
	fx->ctx.lim.max_depth = 64;
	fx->ctx.lim.max_tokens = 100000;
	fx->ctx.stream = stream;
	fx->ctx.client_usage = client_usage;
	fx->ctx.created = 1700000000;
	snprintf(fx->ctx.request_id, sizeof(fx->ctx.request_id), "req_test");
}

/* --- requests ------------------------------------------------------------ */

static const struct {
	const char		*name;
	enum provider_dialect	 dialect;
	const char		*upstream;
	int			 stream, client_usage, stream_usage;
	int			 embed;		/* 1: embeddings, 2: ... with base64 */
	int			 status;	/* 0: encoded */
	const char		*param;
	const char		*url;
} enc_cases[] = {
	{ "req-openai-basic", DIALECT_OPENAI, "gpt-x-up", 0, 0, 1, 0, 0, NULL,
	    "/chat/completions" },
	{ "req-openai-stream", DIALECT_OPENAI, "gpt-x-up", 1, 0, 1, 0, 0, NULL,
	    "/chat/completions" },
	{ "req-openai-nousage", DIALECT_OPENAI, "gpt-x-up", 1, 0, 0, 0, 0, NULL,
	    "/chat/completions" },
	{ "req-openai-bothmax", DIALECT_OPENAI, NULL, 0, 0, 1, 0, 0, NULL,
	    "/chat/completions" },
	{ "req-deepseek", DIALECT_DEEPSEEK, "deepseek-reasoner", 1, 0, 1, 0, 0,
	    NULL, "/chat/completions" },
	{ "req-moonshot", DIALECT_MOONSHOT, "kimi-k2", 1, 0, 0, 0, 0, NULL,
	    "/chat/completions" },
	{ "req-dashscope", DIALECT_DASHSCOPE, "qwen3-max", 1, 1, 0, 0, 0, NULL,
	    "/chat/completions" },
	{ "req-ark", DIALECT_ARK, "ep-20250101120000-abcde", 0, 0, 1, 0, 0, NULL,
	    "/chat/completions" },
	{ "req-openrouter", DIALECT_OPENROUTER, "anthropic/claude-x", 1, 1, 1, 0,
	    0, NULL, "/chat/completions" },
	{ "req-mistral", DIALECT_MISTRAL, "mistral-small-latest", 1, 1, 1, 0, 0,
	    NULL, "/chat/completions" },
	{ "req-mistral-logitbias", DIALECT_MISTRAL, "m", 0, 0, 1, 0, 400,
	    "logit_bias", NULL },
	{ "req-mistral-logprobs", DIALECT_MISTRAL, "m", 0, 0, 1, 0, 400,
	    "logprobs", NULL },
	{ "req-mistral-function", DIALECT_MISTRAL, "m", 0, 0, 1, 0, 400,
	    "messages[1].role", NULL },
	{ "req-generic", DIALECT_GENERIC, "llama", 0, 0, 1, 0, 0, NULL,
	    "/chat/completions" },
	{ "emb-openai", DIALECT_OPENAI, "text-embedding-3-small", 0, 0, 1, 2, 0,
	    NULL, "/embeddings" },
	{ "emb-generic", DIALECT_GENERIC, "bge-m3", 0, 0, 1, 2, 0, NULL,
	    "/embeddings" },
	{ "emb-mistral", DIALECT_MISTRAL, "mistral-embed", 0, 0, 1, 1, 0, NULL,
	    "/embeddings" },
	{ "emb-mistral-bad", DIALECT_MISTRAL, "mistral-embed", 0, 0, 1, 1, 400,
	    "truncate", NULL },
};

/* Each request body becomes exactly the recorded upstream body. */
static void
test_encode(void)
{
	struct fixture fx;
	struct upstream_req ur;
	struct errinfo err;
	struct json j;
	char name[128], url[256], e[128], *in;
	size_t i, len;
	int r;

	for (i = 0; i < NM_NELEM(enc_cases); i++) {
		setup(&fx, enc_cases[i].dialect, enc_cases[i].upstream,
		    enc_cases[i].stream, enc_cases[i].client_usage,
		    enc_cases[i].stream_usage);
		fx.ctx.embed_base64 = enc_cases[i].embed == 2;
		snprintf(name, sizeof(name), "%s.in.json", enc_cases[i].name);
		if ((in = slurp(name, &len)) == NULL) {
			CHECK(0);
			continue;
		}
		memset(&j, 0, sizeof(j));
		memset(&ur, 0, sizeof(ur));
		memset(&err, 0, sizeof(err));
		CHECK(json_parse(&j, in, len, &fx.ctx.lim, e, sizeof(e)) == 0);
		r = enc_cases[i].embed ?
		    provider_openai.embed_encode(&fx.ctx, &j, &ur, &err) :
		    provider_openai.chat_encode(&fx.ctx, &j, &ur, &err);
		if (enc_cases[i].status != 0) {
			if (r == 0 || err.status != enc_cases[i].status)
				fprintf(stderr, "%s: r %d status %d\n",
				    enc_cases[i].name, r, err.status);
			CHECK(r == -1);
			CHECK(err.status == enc_cases[i].status);
			CHECK_STR(err.param, enc_cases[i].param);
			CHECK_STR(err.code, "unsupported_parameter");
			CHECK(strstr(err.message, "client-model") != NULL);
			CHECK(ur.body == NULL);
		} else {
			CHECK(r == 0);
			if (r != 0)
				fprintf(stderr, "%s: %s\n", enc_cases[i].name,
				    err.message);
			snprintf(url, sizeof(url), "https://api.example.com/v1%s",
			    enc_cases[i].url);
			CHECK_STR(ur.url, url);
			CHECK(ur.headers != NULL);
			if (ur.headers != NULL) {
				CHECK_STR(ur.headers[0],
				    "Authorization: Bearer " API_KEY);
				CHECK_STR(ur.headers[1],
				    "Content-Type: application/json");
				CHECK_STR(ur.headers[2], enc_cases[i].stream ?
				    "Accept: text/event-stream" :
				    "Accept: application/json");
				CHECK(ur.headers[3] == NULL);
			}
			snprintf(name, sizeof(name), "%s.out.json",
			    enc_cases[i].name);
			if (ur.body != NULL)
				check_file(name, ur.body, ur.body_len);
			else
				CHECK(0);
		}
		req_free(&ur);
		provider_openai.ctx_free(&fx.ctx);
		CHECK(fx.ctx.state == NULL);
		json_free(&j);
		free(in);
	}
}

/* The dialect's asked_usage: what we asked of the source. */
static void
test_asked_usage(void)
{
	static const struct {
		enum provider_dialect	 d;
		int			 stream, client, conf, want;
	} cases[] = {
		{ DIALECT_OPENAI, 1, 0, 1, 1 },
		{ DIALECT_OPENAI, 1, 1, 0, 0 },
		{ DIALECT_OPENAI, 0, 0, 1, 0 },
		{ DIALECT_DEEPSEEK, 1, 0, 1, 1 },
		{ DIALECT_DEEPSEEK, 1, 0, 0, 0 },
		{ DIALECT_OPENROUTER, 1, 0, 0, 1 },
		{ DIALECT_MISTRAL, 1, 0, 0, 1 },
		{ DIALECT_MISTRAL, 0, 0, 1, 0 },
	};
	static const char body[] =
	    "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	struct fixture fx;
	struct upstream_req ur;
	struct errinfo err;
	struct json j;
	char e[128];
	size_t i;

	for (i = 0; i < NM_NELEM(cases); i++) {
		setup(&fx, cases[i].d, "up", cases[i].stream, cases[i].client,
		    cases[i].conf);
		memset(&ur, 0, sizeof(ur));
		CHECK(json_parse(&j, body, sizeof(body) - 1, &fx.ctx.lim, e,
		    sizeof(e)) == 0);
		CHECK(provider_openai.chat_encode(&fx.ctx, &j, &ur, &err) == 0);
		CHECK(fx.ctx.asked_usage == cases[i].want);
		req_free(&ur);
		provider_openai.ctx_free(&fx.ctx);
		json_free(&j);
	}
	/* ctx_free on a context that never had state. */
	setup(&fx, DIALECT_OPENAI, "up", 0, 0, 1);
	provider_openai.ctx_free(&fx.ctx);
	CHECK(fx.ctx.state == NULL);
}

/* --- whole answers --------------------------------------------------------- */

static const struct {
	const char		*name;
	enum provider_dialect	 dialect;
	int			 embed;		/* 1, or 2 with base64 */
	int			 status;	/* 0: decoded */
	int			 pass;
	int64_t			 prompt, completion, total, cached, reasoning;
	const char		*code;		/* errors */
} dec_cases[] = {
	{ "ans-openai", DIALECT_OPENAI, 0, 0, 1, 12, 3, 15, 8, 0, NULL },
	{ "ans-deepseek", DIALECT_DEEPSEEK, 0, 0, 0, 100, 40, 140, 64, 30,
	    NULL },
	{ "ans-moonshot", DIALECT_MOONSHOT, 0, 0, 0, 19, 2, 21, 16, 0, NULL },
	{ "ans-mistral", DIALECT_MISTRAL, 0, 0, 0, 5, 7, 12, 0, 0, NULL },
	{ "ans-openrouter-err", DIALECT_OPENROUTER, 0, 429, 0, 0, 0, 0, 0, 0,
	    "upstream_rate_limited" },
	{ "ans-deepseek-insufficient", DIALECT_DEEPSEEK, 0, 502, 0, 0, 0, 0, 0,
	    0, "upstream_error" },
	{ "ans-unfinished", DIALECT_GENERIC, 0, 502, 0, 0, 0, 0, 0, 0,
	    "upstream_error" },
	{ "embans-openai", DIALECT_OPENAI, 2, 0, 1, 3, 0, 3, 0, 0, NULL },
	{ "embans-generic", DIALECT_GENERIC, 2, 0, 0, 4, 0, 4, 0, 0, NULL },
	{ "embans-missing", DIALECT_GENERIC, 1, 502, 0, 0, 0, 0, 0, 0,
	    "upstream_error" },
};

/* Each answer is relayed or normalised exactly, with its usage. */
static void
test_decode(void)
{
	struct fixture fx;
	struct upstream_req ur;
	struct errinfo err;
	struct json j;
	struct buf out;
	char name[128], e[128], *in;
	static const char embody[] = "{\"model\":\"e\",\"input\":\"x\"}";
	size_t i, len;
	int r, pass;

	for (i = 0; i < NM_NELEM(dec_cases); i++) {
		setup(&fx, dec_cases[i].dialect, "up", 0, 0, 1);
		fx.ctx.embed_base64 = dec_cases[i].embed == 2;
		if (dec_cases[i].embed) {
			/* The encoder decides who writes base64. */
			memset(&ur, 0, sizeof(ur));
			CHECK(json_parse(&j, embody, sizeof(embody) - 1,
			    &fx.ctx.lim, e, sizeof(e)) == 0);
			CHECK(provider_openai.embed_encode(&fx.ctx, &j, &ur,
			    &err) == 0);
			req_free(&ur);
			json_free(&j);
		}
		snprintf(name, sizeof(name), "%s.in.json", dec_cases[i].name);
		if ((in = slurp(name, &len)) == NULL) {
			CHECK(0);
			continue;
		}
		buf_init(&out, 0);
		memset(&err, 0, sizeof(err));
		pass = -1;
		r = dec_cases[i].embed ?
		    provider_openai.embed_decode(&fx.ctx, in, len, &out, &pass,
		    &err) :
		    provider_openai.chat_decode(&fx.ctx, in, len, &out, &pass,
		    &err);
		if (dec_cases[i].status != 0) {
			if (r == 0 || err.status != dec_cases[i].status)
				fprintf(stderr, "%s: r %d status %d %s\n",
				    dec_cases[i].name, r, err.status,
				    err.message);
			CHECK(r == -1);
			CHECK(err.status == dec_cases[i].status);
			CHECK_STR(err.code, dec_cases[i].code);
		} else {
			CHECK(r == 0);
			CHECK(pass == dec_cases[i].pass);
			CHECK(fx.ctx.usage.have == 1);
			CHECK(fx.ctx.usage.prompt_tokens == dec_cases[i].prompt);
			CHECK(fx.ctx.usage.completion_tokens ==
			    dec_cases[i].completion);
			CHECK(fx.ctx.usage.total_tokens == dec_cases[i].total);
			CHECK(fx.ctx.usage.cached_tokens == dec_cases[i].cached);
			CHECK(fx.ctx.usage.reasoning_tokens ==
			    dec_cases[i].reasoning);
			if (pass)
				CHECK(out.len == 0);
			else {
				snprintf(name, sizeof(name), "%s.out.json",
				    dec_cases[i].name);
				check_file(name, out.data != NULL ? out.data : "",
				    out.len);
			}
		}
		buf_free(&out);
		provider_openai.ctx_free(&fx.ctx);
		free(in);
	}
}

/* A stream answer when the client asked for none, and the reverse. */
static void
test_decode_mismatch(void)
{
	static const char body[] = "{\"id\":\"x\",\"object\":\"chat.completion\","
	    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	    "\"content\":\"a\"},\"finish_reason\":\"stop\"}]}";
	struct fixture fx;
	struct errinfo err;
	struct buf out;
	int pass = 0;

	setup(&fx, DIALECT_DEEPSEEK, "up", 1, 0, 1);
	buf_init(&out, 0);
	CHECK(provider_openai.chat_decode(&fx.ctx, body, sizeof(body) - 1, &out,
	    &pass, &err) == -1);
	CHECK(err.status == 502);
	CHECK_STR(err.message, "The source 'src' answered without streaming.");
	CHECK(provider_openai.chat_decode(&fx.ctx, "{\"id\":", 6, &out, &pass,
	    &err) == -1);
	CHECK_STR(err.message,
	    "The source 'src' sent an incomplete or invalid answer.");
	buf_free(&out);
	provider_openai.ctx_free(&fx.ctx);
}

/* --- streams --------------------------------------------------------------- */

static const struct {
	const char		*name;
	enum provider_dialect	 dialect;
	int			 client_usage, stream_usage;
	int			 status;	/* an error ends the stream */
	int			 saw_done;
	int64_t			 prompt, completion, total, cached, reasoning;
	const char		*message;	/* of the error */
} sse_cases[] = {
	{ "sse-openai-hide", DIALECT_OPENAI, 0, 1, 0, 1, 5, 1, 6, 2, 0, NULL },
	{ "sse-openai-show", DIALECT_OPENAI, 1, 1, 0, 1, 5, 1, 6, 2, 0, NULL },
	{ "sse-deepseek", DIALECT_DEEPSEEK, 1, 1, 0, 1, 50, 20, 70, 32, 12,
	    NULL },
	{ "sse-moonshot-tools", DIALECT_MOONSHOT, 1, 1, 0, 1, 19, 13, 32, 10, 0,
	    NULL },
	{ "sse-moonshot-nousage", DIALECT_MOONSHOT, 0, 1, 0, 1, 19, 13, 32, 10,
	    0, NULL },
	{ "sse-mistral", DIALECT_MISTRAL, 0, 1, 0, 1, 7, 2, 9, 0, 0, NULL },
	{ "sse-openrouter", DIALECT_OPENROUTER, 1, 0, 0, 1, 8, 2, 10, 4, 0,
	    NULL },
	{ "sse-openrouter-error", DIALECT_OPENROUTER, 0, 0, 502, 0, 0, 0, 0, 0,
	    0, "The source 'src' failed mid-stream: Provider disconnected" },
	{ "sse-compat-finish-error", DIALECT_GENERIC, 0, 1, 502, 0, 0, 0, 0, 0,
	    0, "The source 'src' failed mid-stream." },
	{ "sse-vllm-usage", DIALECT_GENERIC, 1, 1, 0, 1, 3, 1, 4, 0, 0, NULL },
};

struct feed {
	struct prov_ctx	*ctx;
	struct buf	*out;
	struct errinfo	 err;
	int		 failed;
};

static int
feed_event(void *arg, const struct sse_event *ev)
{
	struct feed *f = arg;

	if (provider_openai.chat_event(f->ctx, ev, f->out, &f->err) != 0) {
		f->failed = 1;
		return -1;
	}
	return 0;
}

/* Each stream becomes exactly the recorded OpenAI stream. */
static void
test_streams(void)
{
	static const char body[] = "{\"model\":\"x\",\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"hi\"}],\"stream\":true}";
	struct fixture fx;
	struct upstream_req ur;
	struct sse_parser sp;
	struct feed f;
	struct json j;
	struct buf out;
	char name[128], e[128], *in;
	size_t i, len;

	for (i = 0; i < NM_NELEM(sse_cases); i++) {
		setup(&fx, sse_cases[i].dialect, "up", 1,
		    sse_cases[i].client_usage, sse_cases[i].stream_usage);
		memset(&ur, 0, sizeof(ur));
		CHECK(json_parse(&j, body, sizeof(body) - 1, &fx.ctx.lim, e,
		    sizeof(e)) == 0);
		CHECK(provider_openai.chat_encode(&fx.ctx, &j, &ur, &f.err) == 0);
		req_free(&ur);
		json_free(&j);
		snprintf(name, sizeof(name), "%s.in.sse", sse_cases[i].name);
		if ((in = slurp(name, &len)) == NULL) {
			CHECK(0);
			continue;
		}
		buf_init(&out, 0);
		memset(&f, 0, sizeof(f));
		f.ctx = &fx.ctx;
		f.out = &out;
		sse_parser_init(&sp, 1 << 20);
		/* Byte by byte: events split anywhere must still work. */
		for (len = 0; in[len] != '\0' && !f.failed; len++)
			sse_feed(&sp, in + len, 1, feed_event, &f);
		sse_parser_free(&sp);
		CHECK(f.failed == (sse_cases[i].status != 0));
		CHECK(fx.ctx.saw_done == sse_cases[i].saw_done);
		if (sse_cases[i].status != 0) {
			CHECK(f.err.status == sse_cases[i].status);
			CHECK_STR(f.err.message, sse_cases[i].message);
		} else {
			CHECK(fx.ctx.usage.have == 1);
			CHECK(fx.ctx.usage.prompt_tokens == sse_cases[i].prompt);
			CHECK(fx.ctx.usage.completion_tokens ==
			    sse_cases[i].completion);
			CHECK(fx.ctx.usage.total_tokens == sse_cases[i].total);
			CHECK(fx.ctx.usage.cached_tokens == sse_cases[i].cached);
			CHECK(fx.ctx.usage.reasoning_tokens ==
			    sse_cases[i].reasoning);
		}
		snprintf(name, sizeof(name), "%s.out.sse", sse_cases[i].name);
		check_file(name, out.data != NULL ? out.data : "", out.len);
		buf_free(&out);
		provider_openai.ctx_free(&fx.ctx);
		free(in);
	}
}

/* --- errors ---------------------------------------------------------------- */

static const struct {
	const char		*name;
	enum provider_dialect	 dialect;
	long			 status_in;
	const char		*retry_after;
	int			 status;
	const char		*type, *code, *param, *message;
} err_cases[] = {
	{ "err-mistral-422", DIALECT_MISTRAL, 422, NULL, 400,
	    "invalid_request_error", "", "",
	    "body.stream_options: Extra inputs are not permitted" },
	{ "err-mistral-400", DIALECT_MISTRAL, 400, NULL, 400,
	    "invalid_request_error", "3280", "", "Tool call id was call_Xy12 "
	    "but must be a-z, A-Z, 0-9, with a length of 9." },
	{ "err-openrouter-402", DIALECT_OPENROUTER, 402, NULL, 502,
	    "upstream_error", "upstream_quota", "",
	    "The source 'src' refused the request for lack of credit." },
	{ "err-openrouter-403", DIALECT_OPENROUTER, 403, NULL, 400,
	    "invalid_request_error", "content_filter", "",
	    "The source 'src' refused the input for model 'client-model': "
	    "Input was flagged by moderation: violence" },
	{ "err-openrouter-403", DIALECT_OPENAI, 403, NULL, 502,
	    "upstream_error", "upstream_auth_failed", "",
	    "The source 'src' rejected the gateway's credentials for model "
	    "'client-model'." },
	{ "err-deepseek-402", DIALECT_DEEPSEEK, 402, NULL, 502,
	    "upstream_error", "upstream_quota", "",
	    "The source 'src' refused the request for lack of credit." },
	{ "err-ark-404", DIALECT_ARK, 404, NULL, 502, "upstream_error",
	    "upstream_error", "", "The source 'src' does not know model "
	    "'client-model' (check that endpoint or model id "
	    "'ep-20250101-abcde' exists in this region)." },
	{ "err-openai-429", DIALECT_OPENAI, 429, "20", 429, "rate_limit_error",
	    "upstream_rate_limited", "", "The source 'src' is rate limiting "
	    "requests for model 'client-model': Rate limit reached for gpt-x "
	    "in organization org-1 on requests per min (RPM): Limit 3, Used 3. "
	    "Please try again in 20s." },
	{ "err-openai-401", DIALECT_OPENAI, 401, NULL, 502, "upstream_error",
	    "upstream_auth_failed", "", "The source 'src' rejected the "
	    "gateway's credentials for model 'client-model'." },
	{ "err-dashscope-400", DIALECT_DASHSCOPE, 400, NULL, 400,
	    "invalid_request_error", "InvalidParameter", "",
	    "Range of input length should be [1, 30720] (key [redacted])" },
	{ "err-fastapi-422", DIALECT_GENERIC, 422, NULL, 400,
	    "invalid_request_error", "", "",
	    "body.messages.0.content: field required" },
	{ "err-openai-400", DIALECT_OPENAI, 400, NULL, 400,
	    "invalid_request_error", "unsupported_parameter", "max_tokens",
	    "Unsupported parameter: 'max_tokens' is not supported with this "
	    "model. Use 'max_completion_tokens' instead." },
	{ "err-openai-401", DIALECT_OPENAI, 500, NULL, 502, "upstream_error",
	    "upstream_error", "", "The source 'src' failed (HTTP 500): "
	    "Incorrect API key provided: [redacted] You can find your API key "
	    "at https://platform.openai.com/account/api-keys." },
	{ NULL, DIALECT_OPENAI, 504, NULL, 504, "upstream_error",
	    "upstream_timeout", "", "The source 'src' timed out." },
	{ NULL, DIALECT_MISTRAL, 503, NULL, 502, "upstream_error",
	    "upstream_error", "", "The source 'src' failed (HTTP 503)." },
};

/* Each source error becomes exactly the client's error. */
static void
test_errors(void)
{
	struct fixture fx;
	struct errinfo err;
	char name[128], *in = NULL;
	size_t i, len = 0;

	for (i = 0; i < NM_NELEM(err_cases); i++) {
		setup(&fx, err_cases[i].dialect, err_cases[i].dialect ==
		    DIALECT_ARK ? "ep-20250101-abcde" : "up", 0, 0, 1);
		in = NULL;
		len = 0;
		if (err_cases[i].name != NULL) {
			snprintf(name, sizeof(name), "%s.in.json",
			    err_cases[i].name);
			if ((in = slurp(name, &len)) == NULL) {
				CHECK(0);
				continue;
			}
		}
		memset(&err, 0, sizeof(err));
		provider_openai.map_error(&fx.ctx, err_cases[i].status_in, in,
		    len, err_cases[i].retry_after, &err);
		CHECK(err.status == err_cases[i].status);
		CHECK_STR(err.type, err_cases[i].type);
		CHECK_STR(err.code, err_cases[i].code);
		CHECK_STR(err.param, err_cases[i].param);
		CHECK_STR(err.message, err_cases[i].message);
		CHECK_STR(err.retry_after, err_cases[i].retry_after != NULL ?
		    err_cases[i].retry_after : "");
		CHECK(strstr(err.message, API_KEY) == NULL);
		free(in);
	}
}

/* Absurd token counts are dropped before they are added up. */
static const struct many_usage usage_cases[] = {
	{ "{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":9223372036854775807}",
	    0, 0, 0, 0 },
	{ "{\"prompt_tokens\":1000000000001,\"completion_tokens\":1}",
	    0, 0, 0, 0 },
	{ "{\"prompt_tokens\":5,\"completion_tokens\":2,\"prompt_tokens_"
	    "details\":{\"cached_tokens\":9223372036854775807}}", 0, 0, 0, 0 },
	{ "{\"prompt_tokens\":5,\"completion_tokens\":-2}", 0, 0, 0, 0 },
	{ "{\"prompt_tokens\":1000000000000,\"completion_tokens\":"
	    "1000000000000}", 1, 1000000000000LL, 1000000000000LL,
	    2000000000000LL },
	{ "{\"prompt_tokens\":5,\"completion_tokens\":2}", 1, 5, 2, 7 },
};

/* A context for the size tests: a plain OpenAI source (static: ctx points into it). */
static void
size_ctx(struct prov_ctx *ctx)
{
	static struct fixture fx;

	setup(&fx, DIALECT_OPENAI, "gpt-x-up", 0, 0, 1);
	*ctx = fx.ctx;
}

int
main(void)
{
	const char *src = getenv("NM_SRCDIR");

	if (src == NULL || *src == '\0')
		src = ".";
	snprintf(datadir, sizeof(datadir), "%s/test/unit/data/openai", src);

	test_encode();
	many_test_limits(&provider_openai, size_ctx, "client-model");
	many_test_usage(&provider_openai, size_ctx, "{\"id\":\"x\",\"object\":"
	    "\"chat.completion\",\"model\":\"up\",\"choices\":[{\"index\":0,"
	    "\"message\":{\"role\":\"assistant\",\"content\":\"a\"},"
	    "\"finish_reason\":\"stop\"}],\"usage\":%s}", usage_cases,
	    NM_NELEM(usage_cases));
	many_test_linear(&provider_openai, size_ctx, "client-model",
	    "\"arguments\"", "\"tool_call_id\"");
	test_asked_usage();
	test_decode();
	test_decode_mismatch();
	test_streams();
	test_errors();
	UNIT_DONE();
}
