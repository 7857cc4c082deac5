/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests of the Gemini wire format on payloads recorded from the public
 * docs (test/unit/data/gemini/): requests both ways, answers, a stream fed
 * whole, byte by byte, in odd splits and with \r\n line endings, errors,
 * schema cleaning, thought signatures in tool-call ids, and embeddings.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "sse.h"
#include "providers/provider.h"
#include "providers/gemini.h"
#include "unit.h"
#include "many.h"

static char	datadir[PATH_MAX];

static char	prov_name[] = "google";
static char	prov_url[] = "https://generativelanguage.googleapis.com";
static char	prov_url_v1beta[] = "http://127.0.0.1:9/v1beta";
static char	prov_env[] = "GEMINI_API_KEY";
static char	prov_key[] = "AIzaSyTEST-secret-key-000000000000000";
static char	model_id[] = "gemini-flash";
static char	model_up[] = "gemini-2.5-flash";
static char	model_prov[] = "google";

static struct provider_conf prov;
static struct model model;
static const struct json_limits lim = { 64, 100000 };

/* A fresh context as the pipeline sets it up. */
static void
ctx_init(struct prov_ctx *ctx, int stream, int client_usage)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->prov = &prov;
	ctx->model = &model;
	ctx->lim.max_depth = 256;
	ctx->lim.max_tokens = 1 << 20;
	ctx->stream = stream;
	ctx->client_usage = client_usage;
	ctx->created = 1741570283;
	snprintf(ctx->request_id, sizeof(ctx->request_id), "req-test-1");
}

/* The whole file data/gemini/name; caller frees; exits on failure. */
static char *
slurp(const char *name, size_t *lenp)
{
	char path[PATH_MAX + 64], *p;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", datadir, name);
	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (p = malloc((size_t)n + 1)) == NULL ||
	    fread(p, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "%s: cannot read (set NM_SRCDIR)\n", path);
		exit(1);
	}
	fclose(f);
	p[n] = '\0';
	if (lenp != NULL)
		*lenp = (size_t)n;
	return p;
}

/* Remove white space outside JSON strings, in place. */
static char *
minify(char *s)
{
	char *w = s, *r;
	int in = 0;

	for (r = s; *r != '\0'; r++) {
		if (in) {
			*w++ = *r;
			if (*r == '\\' && r[1] != '\0')
				*w++ = *++r;
			else if (*r == '"')
				in = 0;
		} else if (*r == '"') {
			in = 1;
			*w++ = *r;
		} else if (*r != ' ' && *r != '\n' && *r != '\t' && *r != '\r')
			*w++ = *r;
	}
	*w = '\0';
	return s;
}

/* The expected text in file name, minified; caller frees. */
static char *
want_file(const char *name)
{
	return minify(slurp(name, NULL));
}

/* Free what chat_encode put in ur (upstream.c is not linked here). */
static void
req_free(struct upstream_req *ur)
{
	char **h;

	for (h = ur->headers; h != NULL && *h != NULL; h++)
		free(*h);
	free(ur->headers);
	free(ur->url);
	free(ur->body);
	memset(ur, 0, sizeof(*ur));
}

/* 1 if header list h has exactly line. */
static int
has_header(char **h, const char *line)
{
	for (; h != NULL && *h != NULL; h++)
		if (strcmp(*h, line) == 0)
			return 1;
	return 0;
}

/* Encode body text (JSON); the result in ur/err, the return code returned. */
static int
encode(const char *body, int stream, struct upstream_req *ur,
    struct errinfo *err, struct prov_ctx *ctx)
{
	struct json j;
	char e[128];
	int r;

	memset(ur, 0, sizeof(*ur));
	memset(err, 0, sizeof(*err));
	ctx_init(ctx, stream, 0);
	if (json_parse(&j, body, strlen(body), &lim, e, sizeof(e)) != 0) {
		fprintf(stderr, "bad test JSON: %s: %.80s\n", e, body);
		exit(1);
	}
	r = provider_gemini.chat_encode(ctx, &j, ur, err);
	json_free(&j);
	return r;
}

/* --- requests ---------------------------------------------------------- */

static const struct enc_file_case {
	const char	*req;
	int		 stream;
	const char	*want;
	const char	*url;
} enc_file_cases[] = {
	{ "req-simple.json", 0, "want-simple.json",
	  "https://generativelanguage.googleapis.com/v1beta/models/"
	  "gemini-2.5-flash:generateContent" },
	{ "req-multimodal.json", 0, "want-multimodal.json", NULL },
	{ "req-tools.json", 1, "want-tools.json",
	  "https://generativelanguage.googleapis.com/v1beta/models/"
	  "gemini-2.5-flash:streamGenerateContent?alt=sse" },
	{ "req-toolchoice-named.json", 0, "want-toolchoice-named.json", NULL },
	{ "req-allowed-tools.json", 0, "want-allowed-tools.json", NULL },
	{ "req-roundtrip.json", 0, "want-roundtrip.json", NULL },
	{ "req-format-object.json", 0, "want-format-object.json", NULL },
	{ "req-format-schema.json", 0, "want-format-schema.json", NULL },
};

/* Each recorded request encodes to the recorded Gemini body. */
static void
test_encode_files(void)
{
	struct upstream_req ur;
	struct errinfo err;
	struct prov_ctx ctx;
	char *req, *want;
	size_t i;

	for (i = 0; i < NM_NELEM(enc_file_cases); i++) {
		const struct enc_file_case *c = &enc_file_cases[i];

		req = slurp(c->req, NULL);
		want = want_file(c->want);
		CHECK(encode(req, c->stream, &ur, &err, &ctx) == 0);
		if (err.status != 0)
			fprintf(stderr, "%s: %d %s (%s)\n", c->req, err.status,
			    err.message, err.param);
		CHECK(ur.body == NULL || strlen(ur.body) == ur.body_len);
		CHECK_STR(ur.body != NULL ? minify(ur.body) : NULL, want);
		if (c->url != NULL)
			CHECK_STR(ur.url, c->url);
		/* The key travels in its header, never in the URL. */
		CHECK(has_header(ur.headers,
		    "x-goog-api-key: AIzaSyTEST-secret-key-000000000000000"));
		CHECK(has_header(ur.headers, "Content-Type: application/json"));
		CHECK(has_header(ur.headers, c->stream ?
		    "Accept: text/event-stream" : "Accept: application/json"));
		CHECK(ur.url != NULL && strstr(ur.url, "AIza") == NULL &&
		    strstr(ur.url, "key=") == NULL);
		CHECK(ctx.asked_usage == c->stream);
		req_free(&ur);
		provider_gemini.ctx_free(&ctx);
		CHECK(ctx.state == NULL);
		free(req);
		free(want);
	}
}

static const struct enc_inline_case {
	const char	*body;
	const char	*want;		/* the body sent, or NULL for an error */
	int		 status;
	const char	*param;
	const char	*code;
} enc_inline_cases[] = {
	/* Defaults of unsupported parameters are fine, nulls too. */
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	  "\"logprobs\":false,\"top_logprobs\":null,\"logit_bias\":null,\"n\":1,"
	  "\"stop\":\"END\",\"tools\":[],\"tool_choice\":\"auto\",\"modalities\":[\"text\"],"
	  "\"temperature\":null,\"service_tier\":\"auto\",\"store\":true}",
	  "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}],"
	  "\"generationConfig\":{\"stopSequences\":[\"END\"]}}", 0, NULL, NULL },
	/* Consecutive user turns merge; a legacy function message answers by name. */
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
	  "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"b\"}]},"
	  "{\"role\":\"assistant\",\"content\":[{\"type\":\"refusal\",\"refusal\":\"no\"}]},"
	  "{\"role\":\"function\",\"name\":\"f\",\"content\":\"ok\"}],\"top_k\":40}",
	  "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"a\"},{\"text\":\"b\"}]},"
	  "{\"role\":\"model\",\"parts\":[{\"text\":\"no\"}]},{\"role\":\"user\",\"parts\":"
	  "[{\"functionResponse\":{\"name\":\"f\",\"response\":{\"result\":\"ok\"}}}]}],"
	  "\"generationConfig\":{\"topK\":40}}", 0, NULL, NULL },
	/* A tool without parameters declares none. */
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"t\"}],"
	  "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"now\",\"parameters\":"
	  "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}}}],"
	  "\"tool_choice\":\"none\",\"parallel_tool_calls\":false}",
	  "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"t\"}]}],\"tools\":"
	  "[{\"functionDeclarations\":[{\"name\":\"now\"}]}],\"toolConfig\":"
	  "{\"functionCallingConfig\":{\"mode\":\"NONE\"}}}", 0, NULL, NULL },

	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"logprobs\":true}",
	  NULL, 400, "logprobs", "unsupported_parameter" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":3}",
	  NULL, 400, "top_logprobs", "unsupported_parameter" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"logit_bias\":{\"50256\":-100}}",
	  NULL, 400, "logit_bias", "unsupported_parameter" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":9}",
	  NULL, 400, "n", "unsupported_parameter" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"stop\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\"]}",
	  NULL, 400, "stop", "unsupported_parameter" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"foo_bar\":1}",
	  NULL, 400, "foo_bar", "unsupported_parameter" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"functions\":[{\"name\":\"f\"}]}",
	  NULL, 400, "functions", "unsupported_parameter" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"modalities\":[\"text\",\"audio\"]}",
	  NULL, 400, "modalities", "unsupported_parameter" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"parallel_tool_calls\":false,\"tools\":[{\"type\":\"function\",\"function\":"
	  "{\"name\":\"a\"}},{\"type\":\"function\",\"function\":{\"name\":\"b\"}}]}",
	  NULL, 400, "parallel_tool_calls", "unsupported_parameter" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"image_url\",\"image_url\":{\"url\":\"https://example.com/picture\"}}]}]}",
	  NULL, 400, "messages[0].content[0].image_url", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"image_url\",\"image_url\":{\"url\":\"ftp://example.com/a.png\"}}]}]}",
	  NULL, 400, "messages[0].content[0].image_url", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"image_url\",\"image_url\":{\"url\":\"data:image/png,rawbytes\"}}]}]}",
	  NULL, 400, "messages[0].content[0].image_url", "invalid_value" },
	/* A NUL in base64 data (as \u0000) is no base64 character. */
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AA\\u0000AA==\"}}]}]}",
	  NULL, 400, "messages[0].content[0].image_url", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"file\",\"file\":{\"file_data\":\"data:application/pdf;base64,\\u0000\"}}]}]}",
	  NULL, 400, "messages[0].content[0]", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"image_url\",\"image_url\":{\"url\":\"data:image/png\\u0000x;base64,AA==\"}}]}]}",
	  NULL, 400, "messages[0].content[0].image_url", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	  "\"file\",\"file\":{\"file_id\":\"file-1\"}}]}]}",
	  NULL, 400, "messages[0].content[0]", "unsupported_parameter" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":"
	  "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AA==\"}}]},"
	  "{\"role\":\"user\",\"content\":\"x\"}]}",
	  NULL, 400, "messages[0].content[0]", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
	  "{\"role\":\"tool\",\"tool_call_id\":\"call_nope\",\"content\":\"1\"}]}",
	  NULL, 400, "messages[1].tool_call_id", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"only\"}]}",
	  NULL, 400, "messages", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}",
	  NULL, 400, "messages[0].content", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"tool_choice\":\"required\"}",
	  NULL, 400, "tool_choice", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\"}}],"
	  "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"zz\"}}}",
	  NULL, 400, "tool_choice", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"tools\":[{\"type\":\"custom\",\"custom\":{\"name\":\"a\"}}]}",
	  NULL, 400, "tools[0]", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
	  "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
	  "\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
	  NULL, 400, "messages[1].tool_calls[0].function.arguments", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\",\"parameters\":"
	  "{\"type\":\"object\",\"properties\":{\"n\":{\"$ref\":\"#\"}}}}}]}",
	  NULL, 400, "tools[0].function.parameters", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s\","
	  "\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"allOf\":"
	  "[{\"type\":\"string\"},{\"minLength\":2}]}}}}}}",
	  NULL, 400, "response_format.json_schema.schema", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"response_format\":{\"type\":\"yaml\"}}",
	  NULL, 400, "response_format", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}",
	  NULL, 400, "max_tokens", "invalid_value" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"temperature\":\"hot\"}",
	  NULL, 400, "temperature", "invalid_type" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"seed\":1.5}",
	  NULL, 400, "seed", "invalid_type" },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	  "\"reasoning_effort\":\"ultra\"}",
	  NULL, 400, "reasoning_effort", "invalid_value" },
};

/* Small requests: what is sent, and the 400s naming the parameter and model. */
static void
test_encode_inline(void)
{
	struct upstream_req ur;
	struct errinfo err;
	struct prov_ctx ctx;
	size_t i;
	int r;

	for (i = 0; i < NM_NELEM(enc_inline_cases); i++) {
		const struct enc_inline_case *c = &enc_inline_cases[i];

		r = encode(c->body, 0, &ur, &err, &ctx);
		if (c->want != NULL) {
			CHECK(r == 0);
			CHECK_STR(ur.body, c->want);
		} else {
			CHECK(r == -1);
			CHECK(err.status == c->status);
			CHECK_STR(err.param, c->param);
			CHECK_STR(err.code, c->code);
			CHECK_STR(err.type, "invalid_request_error");
			CHECK(err.message[0] != '\0');
			if (strcmp(c->code, "unsupported_parameter") == 0)
				CHECK(strstr(err.message, "gemini-flash") != NULL);
			if (err.status != c->status || strcmp(err.param, c->param) != 0)
				fprintf(stderr, "case %zu: %d %s (%s)\n", i,
				    err.status, err.message, err.param);
		}
		req_free(&ur);
		provider_gemini.ctx_free(&ctx);
	}
}

/* A base URL that already names the API version is not given a second. */
static void
test_encode_url(void)
{
	struct upstream_req ur;
	struct errinfo err;
	struct prov_ctx ctx;

	prov.base_url = prov_url_v1beta;
	CHECK(encode("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "\"x\"}]}", 1, &ur, &err, &ctx) == 0);
	CHECK_STR(ur.url, "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:"
	    "streamGenerateContent?alt=sse");
	req_free(&ur);
	provider_gemini.ctx_free(&ctx);
	prov.base_url = prov_url;
}

/* --- schemas ------------------------------------------------------------ */

static const struct schema_case {
	const char	*in;
	int		 resp;
	const char	*want;		/* NULL: a 400 */
} schema_cases[] = {
	{ "{\"type\":\"object\",\"$schema\":\"x\",\"additionalProperties\":false,"
	  "\"strict\":true,\"properties\":{\"$schema\":{\"type\":\"string\"}}}", 0,
	  "{\"type\":\"object\",\"properties\":{\"$schema\":{\"type\":\"string\"}}}" },
	{ "{\"type\":[\"integer\",\"null\"],\"minimum\":1,\"exclusiveMaximum\":9,"
	  "\"multipleOf\":2}", 0,
	  "{\"type\":\"integer\",\"minimum\":1,\"nullable\":true}" },
	{ "{\"type\":\"string\",\"format\":\"uri\",\"examples\":[\"a\"],\"example\":\"b\","
	  "\"default\":\"c\",\"title\":\"T\"}", 0,
	  "{\"type\":\"string\",\"example\":\"b\",\"default\":\"c\",\"title\":\"T\"}" },
	{ "{\"const\":\"x\",\"type\":\"string\"}", 0,
	  "{\"enum\":[\"x\"],\"type\":\"string\"}" },
	{ "{\"anyOf\":[true,{\"type\":\"string\",\"additionalProperties\":{}}]}", 0,
	  "{\"anyOf\":[{},{\"type\":\"string\"}]}" },
	{ "{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"string\"},\"a\":"
	  "{\"type\":\"array\",\"items\":[{\"type\":\"integer\"}],\"prefixItems\":[]}},"
	  "\"required\":[\"a\",\"zz\"]}", 1,
	  "{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"string\"},\"a\":"
	  "{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}},\"required\":[\"a\"],"
	  "\"propertyOrdering\":[\"b\",\"a\"]}" },
	{ "{\"$ref\":\"#/definitions/A\",\"definitions\":{\"A\":{\"$ref\":"
	  "\"#/definitions/B\"},\"B\":{\"type\":\"boolean\"}}}", 0,
	  "{\"type\":\"boolean\"}" },
	{ "{\"type\":\"object\",\"properties\":{\"n\":{\"$ref\":\"#\"}}}", 0, NULL },
	{ "{\"$ref\":\"https://example.com/s.json\"}", 0, NULL },
	{ "{\"anyOf\":[{\"type\":\"string\"}],\"oneOf\":[{\"type\":\"string\"}]}", 0, NULL },
	{ "[1]", 0, NULL },
};

/* The cleaner keeps what Gemini takes, rewrites what it can, refuses the rest. */
static void
test_schema(void)
{
	struct prov_ctx ctx;
	struct errinfo err;
	struct json j;
	struct buf b;
	char e[128];
	size_t i;
	int r;

	ctx_init(&ctx, 0, 0);
	for (i = 0; i < NM_NELEM(schema_cases); i++) {
		const struct schema_case *c = &schema_cases[i];

		memset(&err, 0, sizeof(err));
		buf_init(&b, 0);
		CHECK(json_parse(&j, c->in, strlen(c->in), &lim, e, sizeof(e)) == 0);
		r = gemini_schema_clean(&ctx, &j, 0, c->resp, "p", &b, &err);
		if (c->want != NULL) {
			CHECK(r == 0);
			CHECK_STR(b.data, c->want);
		} else {
			CHECK(r == -1);
			CHECK(err.status == 400);
			CHECK_STR(err.param, "p");
		}
		buf_free(&b);
		json_free(&j);
	}
}

/* --- answers ----------------------------------------------------------- */

static const struct dec_case {
	const char	*file;
	const char	*want;		/* file; NULL for an error */
	int		 status;
	const char	*code;
	int64_t		 prompt, completion, cached, reasoning;
} dec_cases[] = {
	{ "ans-text.json", "want-ans-text.json", 0, NULL, 57, 57, 32, 48 },
	{ "ans-tools.json", "want-ans-tools.json", 0, NULL, 80, 20, 0, 0 },
	{ "ans-two.json", "want-ans-two.json", 0, NULL, 5, 4, 0, 3 },
	{ "ans-blocked.json", NULL, 400, "content_filter", 12, 0, 0, 0 },
	{ "ans-unfinished.json", NULL, 502, "upstream_error", 5, 0, 0, 0 },
	{ "ans-truncated.json", NULL, 502, "upstream_error", 0, 0, 0, 0 },
	{ "err-internal.json", NULL, 502, "upstream_error", 0, 0, 0, 0 },
};

/* Whole answers become chat.completion objects (or errors, never empty answers). */
static void
test_decode(void)
{
	struct prov_ctx ctx;
	struct errinfo err;
	struct buf out;
	char *body, *want;
	size_t i, len;
	int pass, r;

	for (i = 0; i < NM_NELEM(dec_cases); i++) {
		const struct dec_case *c = &dec_cases[i];

		ctx_init(&ctx, 0, 0);
		memset(&err, 0, sizeof(err));
		buf_init(&out, 0);
		pass = 7;
		body = slurp(c->file, &len);
		r = provider_gemini.chat_decode(&ctx, body, len, &out, &pass, &err);
		CHECK(pass == 0);
		if (c->want != NULL) {
			want = want_file(c->want);
			CHECK(r == 0);
			CHECK_STR(out.data, want);
			free(want);
		} else {
			CHECK(r == -1);
			CHECK(err.status == c->status);
			CHECK_STR(err.code, c->code);
		}
		CHECK(ctx.usage.prompt_tokens == c->prompt);
		CHECK(ctx.usage.completion_tokens == c->completion);
		CHECK(ctx.usage.total_tokens == c->prompt + c->completion);
		CHECK(ctx.usage.cached_tokens == c->cached);
		CHECK(ctx.usage.reasoning_tokens == c->reasoning);
		provider_gemini.ctx_free(&ctx);
		buf_free(&out);
		free(body);
	}

	/* A stream was asked for: a JSON answer (no alt=sse) is an error. */
	ctx_init(&ctx, 1, 0);
	buf_init(&out, 0);
	body = slurp("ans-text.json", &len);
	CHECK(provider_gemini.chat_decode(&ctx, body, len, &out, &pass, &err) == -1);
	CHECK(err.status == 502);
	free(body);
	body = strdup("[{\"candidates\":[]}]");
	CHECK(provider_gemini.chat_decode(&ctx, body, strlen(body), &out, &pass,
	    &err) == -1);
	CHECK(err.status == 502);
	free(body);
	buf_free(&out);
	provider_gemini.ctx_free(&ctx);
}

/* Every Gemini finish reason has its OpenAI one; tool calls win. */
static void
test_finish_reasons(void)
{
	static const struct {
		const char	*gem;
		const char	*tool;	/* a part of the candidate */
		const char	*want;
	} cases[] = {
		{ "STOP", "", "stop" },
		{ "MAX_TOKENS", "", "length" },
		{ "SAFETY", "", "content_filter" },
		{ "RECITATION", "", "content_filter" },
		{ "PROHIBITED_CONTENT", "", "content_filter" },
		{ "SPII", "", "content_filter" },
		{ "IMAGE_SAFETY", "", "content_filter" },
		{ "MALFORMED_FUNCTION_CALL", "", "stop" },
		{ "FINISH_REASON_UNSPECIFIED", "", "stop" },
		{ "SOMETHING_NEW", "", "stop" },
		{ "STOP", "{\"functionCall\":{\"name\":\"f\",\"args\":{}}}",
		  "tool_calls" },
		{ "MAX_TOKENS", "{\"functionCall\":{\"name\":\"f\"}}", "tool_calls" },
	};
	struct prov_ctx ctx;
	struct errinfo err;
	struct buf in, out;
	char want[64];
	size_t i;
	int pass;

	for (i = 0; i < NM_NELEM(cases); i++) {
		ctx_init(&ctx, 0, 0);
		buf_init(&in, 0);
		buf_init(&out, 0);
		buf_appendf(&in, "{\"candidates\":[{\"content\":{\"parts\":[%s]},"
		    "\"finishReason\":\"%s\"}]}", cases[i].tool, cases[i].gem);
		CHECK(provider_gemini.chat_decode(&ctx, in.data, in.len, &out,
		    &pass, &err) == 0);
		snprintf(want, sizeof(want), "\"finish_reason\":\"%s\"",
		    cases[i].want);
		CHECK(out.data != NULL && strstr(out.data, want) != NULL);
		/* No usageMetadata: no usage, and the pipeline knows it. */
		CHECK(out.data != NULL && strstr(out.data, "\"usage\"") == NULL);
		CHECK(ctx.usage.have == 0);
		buf_free(&in);
		buf_free(&out);
		provider_gemini.ctx_free(&ctx);
	}
}

/*
 * A tool call's id carries the thought signature and Gemini's own id:
 * sent back by the client, they reach Gemini unchanged.
 */
static void
test_signature_roundtrip(void)
{
	struct prov_ctx ctx;
	struct errinfo err;
	struct upstream_req ur;
	struct json j;
	struct buf out, req;
	char e[128], *body;
	size_t len;
	int pass, tcs;

	ctx_init(&ctx, 0, 0);
	buf_init(&out, 0);
	body = slurp("ans-tools.json", &len);
	CHECK(provider_gemini.chat_decode(&ctx, body, len, &out, &pass, &err) == 0);
	provider_gemini.ctx_free(&ctx);
	CHECK(json_parse(&j, out.data, out.len, &lim, e, sizeof(e)) == 0);
	tcs = json_get(&j, json_get(&j, json_at(&j, json_get(&j, 0, "choices"), 0),
	    "message"), "tool_calls");
	CHECK(json_size(&j, tcs) == 2);
	buf_init(&req, 0);
	buf_appends(&req, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"w\"},{\"role\":\"assistant\",\"content\":null,"
	    "\"tool_calls\":");
	json_write_raw(&req, &j, tcs);
	buf_appends(&req, "},{\"role\":\"tool\",\"tool_call_id\":");
	json_write_raw(&req, &j, json_get(&j, json_at(&j, tcs, 1), "id"));
	buf_appends(&req, ",\"content\":\"12:00\"}]}");
	CHECK(encode(req.data, 0, &ur, &err, &ctx) == 0);
	CHECK_STR(ur.body, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":"
	    "\"w\"}]},{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":"
	    "\"get_weather\",\"args\":{\"city\":\"Paris\",\"days\":[1,2.50]}},"
	    "\"thoughtSignature\":\"CiQBVKhc+/x=\"},{\"functionCall\":{\"name\":"
	    "\"now\",\"args\":{},\"id\":\"fc-7\"}}]},{\"role\":\"user\",\"parts\":"
	    "[{\"functionResponse\":{\"name\":\"now\",\"response\":{\"result\":"
	    "\"12:00\"},\"id\":\"fc-7\"}}]}]}");
	req_free(&ur);
	provider_gemini.ctx_free(&ctx);
	json_free(&j);
	buf_free(&req);
	buf_free(&out);
	free(body);
}

/* Tool-call ids: the codec, and foreign ids passing through as nothing. */
static void
test_callid(void)
{
	struct callid c;

	CHECK(gemini_callid_parse("call_0123456789abcdef01234567_i6663_tYWJj", &c) == 0);
	CHECK_STR(c.gid, "fc");
	CHECK_STR(c.sig, "YWJj");
	free(c.sig);
	CHECK(gemini_callid_parse("call_0123456789abcdef01234567_tYW-_", &c) == 0);
	CHECK_STR(c.gid, "");
	CHECK_STR(c.sig, "YW+/");
	free(c.sig);
	CHECK(gemini_callid_parse("call_0123456789abcdef01234567_tYQ", &c) == 0);
	CHECK_STR(c.sig, "YQ==");
	free(c.sig);
	CHECK(gemini_callid_parse("call_0123456789abcdef01234567", &c) == 0);
	CHECK(c.sig == NULL && c.gid[0] == '\0');
	/* Foreign shapes. */
	CHECK(gemini_callid_parse("call_a1", &c) == 0 && c.sig == NULL);
	CHECK(gemini_callid_parse("toolu_01ABC", &c) == 0 && c.sig == NULL);
	CHECK(gemini_callid_parse("call_0123456789abcdef01234567_x", &c) == 0 &&
	    c.sig == NULL);
	CHECK(gemini_callid_parse("call_0123456789abcdef01234567_i66z", &c) == 0 &&
	    c.gid[0] == '\0');
	CHECK(gemini_callid_parse("call_0123456789abcdef01234567_i22", &c) == 0 &&
	    c.gid[0] == '\0');		/* a quote in Gemini's id */
	CHECK(gemini_callid_parse("call_0123456789abcdef01234567_t", &c) == 0 &&
	    c.sig == NULL);
	CHECK(gemini_callid_parse("call_0123456789abcdef01234567_ta+b", &c) == 0 &&
	    c.sig == NULL);
}

/* --- streams ------------------------------------------------------------ */

struct feed {
	struct prov_ctx	*ctx;
	struct buf	 out;
	struct errinfo	 err;
	int		 rc;
};

/* The SSE parser's callback: one event through chat_event. */
static int
feed_cb(void *arg, const struct sse_event *ev)
{
	struct feed *f = arg;

	f->rc = provider_gemini.chat_event(f->ctx, ev, &f->out, &f->err);
	return f->rc == 0 ? 0 : -1;
}

/*
 * Run stream s through the parser and chat_event in pieces of split bytes
 * (0: whole; SIZE_MAX: pseudo-random sizes).  Caller frees f->out.
 */
static void
run_stream(const char *s, size_t len, size_t split, struct prov_ctx *ctx,
    struct feed *f)
{
	struct sse_parser p;
	unsigned seed = 7;
	size_t off = 0, n;

	memset(f, 0, sizeof(*f));
	f->ctx = ctx;
	buf_init(&f->out, 0);
	sse_parser_init(&p, 1 << 20);
	while (off < len) {
		if (split == 0)
			n = len;
		else if (split == SIZE_MAX) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 23;
		} else
			n = split;
		n = NM_MIN(n, len - off);
		if (sse_feed(&p, s + off, n, feed_cb, f) != 0)
			break;
		off += n;
	}
	sse_parser_free(&p);
}

/* s with every \n turned into \r\n; caller frees. */
static char *
crlf(const char *s, size_t *len)
{
	struct buf b;

	buf_init(&b, 0);
	for (; *s != '\0'; s++)
		buf_append(&b, *s == '\n' ? "\r\n" : s, *s == '\n' ? 2 : 1);
	return buf_steal(&b, len);
}

static const struct stream_case {
	const char	*file;
	int		 client_usage;
	const char	*want;		/* expected SSE output file */
	int		 rc;		/* chat_event's result at the end */
	int		 saw_done;
	int		 status;	/* of the error, when rc is -1 */
	int64_t		 prompt, completion;
} stream_cases[] = {
	{ "stream-text.sse", 1, "want-stream-text.sse", 0, 1, 0, 57, 13 },
	{ "stream-text.sse", 0, "want-stream-text-nousage.sse", 0, 1, 0, 57, 13 },
	{ "stream-tools.sse", 1, "want-stream-tools.sse", 0, 1, 0, 30, 14 },
	{ "stream-cut.sse", 0, "want-stream-cut.sse", 0, 0, 0, 57, 0 },
	{ "stream-two.sse", 1, "want-stream-two.sse", 0, 1, 0, 4, 4 },
	/* One of two candidates finished: not complete. */
	{ "stream-two-cut.sse", 0, NULL, 0, 0, 0, 4, 3 },
	{ "stream-error.sse", 0, NULL, -1, 0, 502, 0, 0 },
	{ "stream-blocked.sse", 1, NULL, -1, 0, 400, 8, 0 },
};

/* Streams give the same OpenAI chunks in any split, with \n or \r\n. */
static void
test_streams(void)
{
	static const size_t splits[] = { 0, 1, 2, 7, 64, SIZE_MAX };
	struct prov_ctx ctx;
	struct feed f;
	char *s, *want = NULL, *alt;
	size_t i, k, len, alen;
	int v;

	for (i = 0; i < NM_NELEM(stream_cases); i++) {
		const struct stream_case *c = &stream_cases[i];

		s = slurp(c->file, &len);
		alt = crlf(s, &alen);
		if (c->want != NULL)
			want = slurp(c->want, NULL);
		for (v = 0; v < 2; v++) {
			for (k = 0; k < NM_NELEM(splits); k++) {
				ctx_init(&ctx, 1, c->client_usage);
				run_stream(v ? alt : s, v ? alen : len, splits[k],
				    &ctx, &f);
				CHECK(f.rc == c->rc);
				CHECK(ctx.saw_done == c->saw_done);
				if (c->want != NULL)
					CHECK_STR(f.out.data != NULL ? f.out.data :
					    "", want);
				if (c->rc != 0)
					CHECK(f.err.status == c->status);
				CHECK(ctx.usage.prompt_tokens == c->prompt);
				CHECK(ctx.usage.completion_tokens == c->completion);
				provider_gemini.ctx_free(&ctx);
				buf_free(&f.out);
			}
		}
		free(want);
		want = NULL;
		free(alt);
		free(s);
	}
}

/* --- errors ------------------------------------------------------------- */

static const struct err_case {
	const char	*file;		/* NULL: an empty body */
	long		 status;
	const char	*retry_header;
	int		 want_status;
	const char	*want_code;
	const char	*want_retry;
	const char	*must;		/* in the message, or NULL */
	const char	*mustnot;	/* never in the message */
} err_cases[] = {
	{ "err-invalid.json", 400, NULL, 400, "", "",
	  "Unknown name \"additionalProperties\"", NULL },
	{ "err-key-invalid.json", 400, NULL, 502, "upstream_auth_failed", "",
	  "credentials", "AIza" },
	{ "err-denied.json", 403, NULL, 502, "upstream_auth_failed", "",
	  "'google'", "unregistered" },
	{ "err-quota.json", 429, NULL, 429, "upstream_rate_limited", "17",
	  "exceeded your current quota", NULL },
	{ "err-quota.json", 429, "3", 429, "upstream_rate_limited", "3", NULL, NULL },
	{ "err-internal.json", 500, NULL, 502, "upstream_error", "",
	  "An internal error", NULL },
	{ "err-deadline.json", 504, NULL, 504, "upstream_timeout", "", NULL, NULL },
	{ "err-precondition.json", 400, NULL, 502, "upstream_error", "",
	  "location is not supported", NULL },
	{ NULL, 404, NULL, 502, "upstream_error", "", "gemini-flash", NULL },
	{ NULL, 503, NULL, 502, "upstream_error", "", "HTTP 503", NULL },
	{ NULL, 429, NULL, 429, "upstream_rate_limited", "", NULL, NULL },
	{ NULL, 401, NULL, 502, "upstream_auth_failed", "", NULL, NULL },
};

/* google.rpc error bodies become OpenAI errors, scrubbed. */
static void
test_errors(void)
{
	struct prov_ctx ctx;
	struct errinfo err;
	char *body;
	size_t i, len;

	for (i = 0; i < NM_NELEM(err_cases); i++) {
		const struct err_case *c = &err_cases[i];

		ctx_init(&ctx, 0, 0);
		body = c->file != NULL ? slurp(c->file, &len) : NULL;
		if (body == NULL)
			len = 0;
		memset(&err, 0, sizeof(err));
		provider_gemini.map_error(&ctx, c->status, body, len,
		    c->retry_header, &err);
		CHECK(err.status == c->want_status);
		CHECK_STR(err.code, c->want_code);
		CHECK_STR(err.retry_after, c->want_retry);
		if (c->must != NULL)
			CHECK(strstr(err.message, c->must) != NULL);
		if (c->mustnot != NULL)
			CHECK(strstr(err.message, c->mustnot) == NULL);
		CHECK(strstr(err.message, prov_key) == NULL);
		if (err.status != c->want_status)
			fprintf(stderr, "err case %zu: %d %s\n", i, err.status,
			    err.message);
		free(body);
	}

	/* The key inside a 400 message is scrubbed. */
	ctx_init(&ctx, 0, 0);
	body = strdup("{\"error\":{\"code\":400,\"message\":\"bad key "
	    "AIzaSyTEST-secret-key-000000000000000 here\",\"status\":"
	    "\"INVALID_ARGUMENT\"}}");
	provider_gemini.map_error(&ctx, 400, body, strlen(body), NULL, &err);
	CHECK(err.status == 400);
	CHECK(strstr(err.message, "AIza") == NULL);
	CHECK(strstr(err.message, "[redacted]") != NULL);
	free(body);
}

/* --- embeddings ----------------------------------------------------------- */

/* OpenAI embeddings bodies become batchEmbedContents, and answers lists. */
static void
test_embeddings(void)
{
	static const struct {
		const char	*body;
		const char	*param;
	} bad[] = {
		{ "{\"model\":\"e\",\"input\":[[1,2,3]]}", "input" },
		{ "{\"model\":\"e\",\"input\":[1,2,3]}", "input" },
		{ "{\"model\":\"e\",\"input\":[]}", "input" },
		{ "{\"model\":\"e\",\"input\":\"\"}", "input" },
		{ "{\"model\":\"e\",\"input\":7}", "input" },
		{ "{\"model\":\"e\",\"input\":\"a\",\"encoding_format\":\"int8\"}",
		  "encoding_format" },
		{ "{\"model\":\"e\",\"input\":\"a\",\"dimensions\":0}", "dimensions" },
		{ "{\"model\":\"e\",\"input\":\"a\",\"task\":\"x\"}", "task" },
	};
	struct prov_ctx ctx;
	struct errinfo err;
	struct upstream_req ur;
	struct json j;
	struct buf out;
	char e[128], *body, *ans;
	size_t i, len, alen;
	int pass;

	body = slurp("emb-req.json", &len);
	ctx_init(&ctx, 0, 0);
	memset(&ur, 0, sizeof(ur));
	CHECK(json_parse(&j, body, len, &lim, e, sizeof(e)) == 0);
	CHECK(provider_gemini.embed_encode(&ctx, &j, &ur, &err) == 0);
	json_free(&j);
	CHECK_STR(ur.url, "https://generativelanguage.googleapis.com/v1beta/models/"
	    "gemini-2.5-flash:batchEmbedContents");
	CHECK(has_header(ur.headers,
	    "x-goog-api-key: AIzaSyTEST-secret-key-000000000000000"));
	CHECK_STR(ur.body, "{\"requests\":[{\"model\":\"models/gemini-2.5-flash\","
	    "\"content\":{\"parts\":[{\"text\":\"first text\"}]},"
	    "\"outputDimensionality\":4},{\"model\":\"models/gemini-2.5-flash\","
	    "\"content\":{\"parts\":[{\"text\":\"second \\\"text\\\" \\u00e9\"}]},"
	    "\"outputDimensionality\":4}]}");
	CHECK(ctx.embed_base64 == 1);
	req_free(&ur);

	/* base64: little-endian float32, as OpenAI sends it. */
	ans = slurp("emb-ans.json", &alen);
	buf_init(&out, 0);
	CHECK(provider_gemini.embed_decode(&ctx, ans, alen, &out, &pass, &err) == 0);
	CHECK(pass == 0);
	CHECK_STR(out.data, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
	    "\"index\":0,\"embedding\":\"AACAPwAAAL+IRUo8j8L1PA==\"},{\"object\":"
	    "\"embedding\",\"index\":1,\"embedding\":\"AAAAAAAAIEAAAIC/zczMPQ==\"}],"
	    "\"model\":\"gemini-2.5-flash\",\"usage\":{\"prompt_tokens\":9,"
	    "\"total_tokens\":9}}");
	/* Gemini counts nothing: four bytes of (escaped) text a token. */
	CHECK(ctx.usage.prompt_tokens == 9 && ctx.usage.have == 0);
	buf_free(&out);

	/* float: the source's number text, exactly. */
	ctx.embed_base64 = 0;
	buf_init(&out, 0);
	CHECK(provider_gemini.embed_decode(&ctx, ans, alen, &out, &pass, &err) == 0);
	CHECK_STR(out.data, "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\","
	    "\"index\":0,\"embedding\":[1.0, -0.5, 0.0123456789, 3e-2]},{\"object\":"
	    "\"embedding\",\"index\":1,\"embedding\":[0, 2.5E0, -1, 0.1]}],"
	    "\"model\":\"gemini-2.5-flash\",\"usage\":{\"prompt_tokens\":9,"
	    "\"total_tokens\":9}}");
	buf_free(&out);
	provider_gemini.ctx_free(&ctx);
	free(body);

	/* Three inputs asked, two answered: an error, not a short list. */
	ctx_init(&ctx, 0, 0);
	body = strdup("{\"model\":\"e\",\"input\":[\"a\",\"b\",\"c\"]}");
	CHECK(json_parse(&j, body, strlen(body), &lim, e, sizeof(e)) == 0);
	memset(&ur, 0, sizeof(ur));
	CHECK(provider_gemini.embed_encode(&ctx, &j, &ur, &err) == 0);
	CHECK(ctx.embed_base64 == 0);
	req_free(&ur);
	json_free(&j);
	buf_init(&out, 0);
	CHECK(provider_gemini.embed_decode(&ctx, ans, alen, &out, &pass, &err) == -1);
	CHECK(err.status == 502);
	buf_free(&out);
	provider_gemini.ctx_free(&ctx);
	free(body);
	free(ans);

	/* A value beyond float range cannot be packed. */
	ctx_init(&ctx, 0, 0);
	ctx.embed_base64 = 1;
	body = strdup("{\"embeddings\":[{\"values\":[1e300]}]}");
	buf_init(&out, 0);
	CHECK(provider_gemini.embed_decode(&ctx, body, strlen(body), &out, &pass,
	    &err) == -1);
	CHECK(err.status == 502);
	buf_free(&out);
	free(body);
	provider_gemini.ctx_free(&ctx);

	for (i = 0; i < NM_NELEM(bad); i++) {
		ctx_init(&ctx, 0, 0);
		memset(&ur, 0, sizeof(ur));
		memset(&err, 0, sizeof(err));
		CHECK(json_parse(&j, bad[i].body, strlen(bad[i].body), &lim, e,
		    sizeof(e)) == 0);
		CHECK(provider_gemini.embed_encode(&ctx, &j, &ur, &err) == -1);
		CHECK(err.status == 400);
		CHECK_STR(err.param, bad[i].param);
		CHECK(ur.url == NULL && ur.body == NULL);
		json_free(&j);
		provider_gemini.ctx_free(&ctx);
	}
}

/* Absurd token counts are dropped before they are added up. */
static const struct many_usage usage_cases[] = {
	{ "{\"promptTokenCount\":9223372036854775807,\"toolUsePromptTokenCount\":"
	    "9223372036854775807,\"candidatesTokenCount\":1}", 0, 0, 0, 0 },
	{ "{\"promptTokenCount\":1,\"candidatesTokenCount\":9223372036854775807,"
	    "\"thoughtsTokenCount\":9223372036854775807}", 0, 0, 0, 0 },
	{ "{\"promptTokenCount\":1,\"candidatesTokenCount\":1,"
	    "\"totalTokenCount\":1000000000001}", 0, 0, 0, 0 },
	{ "{\"promptTokenCount\":1000000000000,\"toolUsePromptTokenCount\":"
	    "1000000000000,\"candidatesTokenCount\":1000000000000,"
	    "\"thoughtsTokenCount\":1000000000000,\"totalTokenCount\":1}", 1,
	    2000000000000LL, 2000000000000LL, 4000000000000LL },
	{ "{\"promptTokenCount\":3,\"candidatesTokenCount\":4}", 1, 3, 4, 7 },
};

/* Base64 checks: either alphabet and padding, nothing else, no NUL. */
static void
test_b64_chars(void)
{
	static const struct {
		const char	*s;
		size_t		 n;
		int		 ok;
	} cases[] = {
		{ "QUJD", 4, 1 }, { "a-_b+/==", 8, 1 }, { "", 0, 0 },
		{ "AB\0C", 4, 0 }, { "\0", 1, 0 }, { "AB C", 4, 0 },
		{ "AB\nC", 4, 0 }, { "AB\xc3\xa9", 4, 0 },
	};
	size_t i;

	for (i = 0; i < NM_NELEM(cases); i++)
		CHECK(gemini_b64_chars(cases[i].s, cases[i].n) == cases[i].ok);
}

/* A context for the size tests. */
static void
size_ctx(struct prov_ctx *ctx)
{
	ctx_init(ctx, 0, 0);
}

int
main(void)
{
	const char *src = getenv("NM_SRCDIR");
	struct prov_ctx ctx;

	if (src == NULL || *src == '\0')
		src = ".";
	snprintf(datadir, sizeof(datadir), "%s/test/unit/data/gemini", src);

	prov.name = prov_name;
	prov.kind = PROVIDER_GEMINI;
	prov.base_url = prov_url;
	prov.api_key_env = prov_env;
	prov.api_key = prov_key;
	model.id = model_id;
	model.upstream_model = model_up;
	model.provider = model_prov;

	CHECK(provider_ops(PROVIDER_GEMINI) == &provider_gemini);
	/* ctx_free on a context without state does nothing. */
	ctx_init(&ctx, 0, 0);
	provider_gemini.ctx_free(&ctx);
	CHECK(ctx.state == NULL);

	test_encode_files();
	test_b64_chars();
	many_test_limits(&provider_gemini, size_ctx, model_id);
	many_test_usage(&provider_gemini, size_ctx, "{\"candidates\":[{"
	    "\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"a\"}]},"
	    "\"finishReason\":\"STOP\"}],\"usageMetadata\":%s}", usage_cases,
	    NM_NELEM(usage_cases));
	many_test_linear(&provider_gemini, size_ctx, model_id,
	    "\"functionCall\"", "\"functionResponse\"");
	test_encode_inline();
	test_encode_url();
	test_schema();
	test_decode();
	test_finish_reasons();
	test_signature_roundtrip();
	test_callid();
	test_streams();
	test_errors();
	test_embeddings();
	UNIT_DONE();
}
