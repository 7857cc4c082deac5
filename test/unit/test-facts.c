/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for request facts: what chat and embeddings bodies need
 * (tools and the old functions alike, JSON modes, images, streams,
 * estimated tokens), the 400s with their param, and the one filter that
 * says whether a model can serve a request (capabilities, max output,
 * context window, embeddings or not).
 */
#include <stdint.h>
#include <string.h>

#include "catalog.h"
#include "facts.h"
#include "json.h"
#include "unit.h"

struct chat_case {
	const char	*body;
	int		 ret;
	const char	*param;		/* of the 400, or NULL */
	unsigned	 caps;		/* needed, when ret is 0 */
	int		 tools;
	int		 stream;
};

/* A chat body with one more member m. */
#define P(m) "{\"model\":\"m\"," m ",\"messages\":[{\"role\":\"user\"," \
	"\"content\":\"x\"}]}"

static const struct chat_case chat_cases[] = {
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    0, NULL, 0, 0, 0 },
	{ "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}]}", 0, NULL, CAP_STREAMING, 0, 1 },
	/* "functions" needs tools exactly as "tools" does. */
	{ "{\"model\":\"m\",\"functions\":[{\"name\":\"f\"}],\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"hi\"}]}", 0, NULL, CAP_TOOLS, 1, 0 },
	{ "{\"model\":\"m\",\"tools\":[{\"type\":\"function\",\"function\":"
	    "{\"name\":\"a\"}},{\"type\":\"function\",\"function\":{\"name\":"
	    "\"b\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	    0, NULL, CAP_TOOLS, 2, 0 },
	{ "{\"model\":\"m\",\"response_format\":{\"type\":\"json_schema\","
	    "\"json_schema\":{\"name\":\"x\",\"schema\":{}}},\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"hi\"}]}", 0, NULL, CAP_JSON, 0, 0 },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
	    "\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}]}]}",
	    0, NULL, CAP_VISION, 0, 0 },
	/* Refused, with the parameter named. */
	{ "[]", -1, NULL, 0, 0, 0 },
	{ "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", -1, "model",
	    0, 0, 0 },
	{ "{\"model\":\"\",\"messages\":[]}", -1, "model", 0, 0, 0 },
	{ "{\"model\":7,\"messages\":[]}", -1, "model", 0, 0, 0 },
	{ "{\"model\":\"m\",\"messages\":[]}", -1, "messages", 0, 0, 0 },
	{ "{\"model\":\"m\",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}",
	    -1, "messages", 0, 0, 0 },
	{ "{\"model\":\"m\",\"messages\":[\"x\"]}", -1, "messages", 0, 0, 0 },
	{ "{\"model\":\"m\",\"stream\":\"yes\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", -1, "stream", 0, 0, 0 },
	{ "{\"model\":\"m\",\"stream_options\":1,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", -1, "stream_options", 0, 0, 0 },
	{ "{\"model\":\"m\",\"max_tokens\":-1,\"messages\":[{\"role\":\"user\","
	    "\"content\":\"x\"}]}", -1, NULL, 0, 0, 0 },
	/* Sampling and output parameters: type and range, null allowed. */
	{ P("\"temperature\":\"hot\""), -1, "temperature", 0, 0, 0 },
	{ P("\"temperature\":2.5"), -1, "temperature", 0, 0, 0 },
	{ P("\"temperature\":-0.1"), -1, "temperature", 0, 0, 0 },
	{ P("\"temperature\":[1]"), -1, "temperature", 0, 0, 0 },
	{ P("\"temperature\":true"), -1, "temperature", 0, 0, 0 },
	{ P("\"temperature\":2"), 0, NULL, 0, 0, 0 },
	{ P("\"temperature\":0.15e+1"), 0, NULL, 0, 0, 0 },
	{ P("\"temperature\":null"), 0, NULL, 0, 0, 0 },
	{ P("\"temperature\":1e400"), -1, "temperature", 0, 0, 0 },
	/* 130 characters: refused as unreadable, not as out of range. */
	{ P("\"temperature\":0.000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000001"), -1, "temperature", 0, 0, 0 },
	{ P("\"top_p\":1.0000001"), -1, "top_p", 0, 0, 0 },
	{ P("\"top_p\":\"0.5\""), -1, "top_p", 0, 0, 0 },
	{ P("\"top_p\":2.5E-1"), 0, NULL, 0, 0, 0 },
	{ P("\"presence_penalty\":-2.01"), -1, "presence_penalty", 0, 0, 0 },
	{ P("\"frequency_penalty\":{}"), -1, "frequency_penalty", 0, 0, 0 },
	{ P("\"frequency_penalty\":-2"), 0, NULL, 0, 0, 0 },
	{ P("\"seed\":1.5"), -1, "seed", 0, 0, 0 },
	{ P("\"seed\":\"7\""), -1, "seed", 0, 0, 0 },
	{ P("\"seed\":9223372036854775807"), 0, NULL, 0, 0, 0 },
	{ P("\"seed\":9223372036854775808"), -1, "seed", 0, 0, 0 },
	{ P("\"top_logprobs\":21"), -1, "top_logprobs", 0, 0, 0 },
	{ P("\"top_logprobs\":20"), 0, NULL, 0, 0, 0 },
	{ P("\"logprobs\":1"), -1, "logprobs", 0, 0, 0 },
	{ P("\"parallel_tool_calls\":\"no\""), -1, "parallel_tool_calls", 0, 0,
	    0 },
	{ P("\"user\":42"), -1, "user", 0, 0, 0 },
	{ P("\"stop\":[\"a\",3]"), -1, "stop", 0, 0, 0 },
	{ P("\"stop\":7"), -1, "stop", 0, 0, 0 },
	{ P("\"stop\":[\"a\",\"b\"]"), 0, NULL, 0, 0, 0 },
	{ P("\"stop\":\"x\""), 0, NULL, 0, 0, 0 },
	{ P("\"logit_bias\":{\"50256\":-100,\"13\":5}"), 0, NULL, 0, 0, 0 },
	{ P("\"logit_bias\":{\"50256\":-101}"), -1, "logit_bias", 0, 0, 0 },
	{ P("\"logit_bias\":{\"1\":\"x\"}"), -1, "logit_bias", 0, 0, 0 },
	{ P("\"logit_bias\":[1]"), -1, "logit_bias", 0, 0, 0 },
};
#undef P

struct embed_case {
	const char	*body;
	int		 ret;
	const char	*param;
	int		 items;
	int64_t		 tokens;
};

static const struct embed_case embed_cases[] = {
	{ "{\"model\":\"e\",\"input\":\"abcdefgh\"}", 0, NULL, 1, 2 },
	{ "{\"model\":\"e\",\"input\":[\"abcd\",\"abcdefgh\"]}", 0, NULL, 2, 3 },
	{ "{\"model\":\"e\",\"input\":[1,2,3]}", 0, NULL, 3, 3 },
	{ "{\"model\":\"e\",\"input\":[[1,2],[3]]}", 0, NULL, 2, 3 },
	{ "{\"model\":\"e\",\"input\":\"\"}", -1, "input", 0, 0 },
	{ "{\"model\":\"e\",\"input\":[]}", -1, "input", 0, 0 },
	{ "{\"model\":\"e\",\"input\":[\"a\",1]}", -1, "input", 0, 0 },
	{ "{\"model\":\"e\",\"input\":[-1]}", -1, "input", 0, 0 },
	{ "{\"model\":\"e\"}", -1, "input", 0, 0 },
	{ "{\"model\":\"e\",\"input\":\"x\",\"encoding_format\":\"hex\"}", -1,
	    "encoding_format", 0, 0 },
	{ "{\"model\":\"e\",\"input\":\"x\",\"dimensions\":0}", -1,
	    "dimensions", 0, 0 },
};

static int
parse(struct json *j, const char *s)
{
	struct json_limits lim = { 64, 10000 };
	char err[128];

	return json_parse(j, s, strlen(s), &lim, err, sizeof(err));
}

static struct model
model(unsigned caps, int64_t window, int64_t max_output)
{
	struct model m;

	memset(&m, 0, sizeof(m));
	m.id = (char *)"test-model";
	m.caps = caps;
	m.context_window = window;
	m.max_output = max_output;
	return m;
}

int
main(void)
{
	struct facts f;
	struct errinfo err;
	struct estimate est;
	struct json j;
	struct model m;
	char why[192];
	size_t i;
	int r;

	for (i = 0; i < NM_NELEM(chat_cases); i++) {
		const struct chat_case *c = &chat_cases[i];

		memset(&err, 0, sizeof(err));
		CHECK(parse(&j, c->body) == 0);
		r = facts_chat(&j, &f, &err);
		if (r != c->ret)
			fprintf(stderr, "chat case %zu: %d (%s)\n", i, r,
			    err.message);
		CHECK(r == c->ret);
		if (r == 0) {
			CHECK(f.kind == FACTS_CHAT);
			CHECK_STR(f.model, "m");
			CHECK(f.est.caps == c->caps);
			CHECK(f.tools == c->tools);
			CHECK(f.stream == c->stream);
			CHECK(f.est.input_tokens > 0);
		} else {
			CHECK(err.status == 400);
			CHECK_STR(err.type, "invalid_request_error");
			CHECK_STR(err.param, c->param != NULL ? c->param : "");
			CHECK(err.message[0] != '\0');
		}
		json_free(&j);
	}

	for (i = 0; i < NM_NELEM(embed_cases); i++) {
		const struct embed_case *c = &embed_cases[i];

		memset(&err, 0, sizeof(err));
		CHECK(parse(&j, c->body) == 0);
		r = facts_embeddings(&j, &f, &err);
		if (r != c->ret)
			fprintf(stderr, "embed case %zu: %d (%s)\n", i, r,
			    err.message);
		CHECK(r == c->ret);
		if (r == 0) {
			CHECK(f.kind == FACTS_EMBEDDINGS);
			CHECK(f.embed_items == c->items);
			CHECK(f.est.input_tokens == c->tokens);
		} else
			CHECK_STR(err.param, c->param);
		json_free(&j);
	}

	/* The filter. */
	memset(&est, 0, sizeof(est));
	est.input_tokens = 1000;
	est.n = 1;
	m = model(CAP_STREAMING, 128000, 4096);
	CHECK(facts_fit(&est, 0, &m, &err, why, sizeof(why)) == 0);
	est.caps = CAP_TOOLS;
	CHECK(facts_fit(&est, 0, &m, &err, why, sizeof(why)) == -1);
	CHECK_STR(err.param, "tools");
	CHECK_STR(err.code, "unsupported_parameter");
	CHECK_STR(why, "does not support tools");
	est.caps = CAP_VISION;
	CHECK(facts_fit(&est, 0, &m, &err, NULL, 0) == -1);
	CHECK_STR(err.param, "messages");
	est.caps = CAP_JSON;
	CHECK(facts_fit(&est, 0, &m, NULL, why, sizeof(why)) == -1);
	CHECK_STR(why, "does not support JSON output modes");
	est.caps = 0;
	est.max_tokens = 5000;
	CHECK(facts_fit(&est, 0, &m, &err, why, sizeof(why)) == -1);
	CHECK_STR(err.param, "max_tokens");
	/* The window holds input + output of one choice, whatever n is. */
	est.max_tokens = 4000;
	est.n = 8;
	est.input_tokens = 124000;
	CHECK(facts_fit(&est, 0, &m, &err, why, sizeof(why)) == 0);
	est.input_tokens = 124001;
	CHECK(facts_fit(&est, 0, &m, &err, why, sizeof(why)) == -1);
	CHECK_STR(err.code, "context_length_exceeded");
	CHECK(strstr(err.message, "128000") != NULL);
	/* No max_tokens: the input alone must leave room. */
	est.max_tokens = 0;
	est.input_tokens = 128000;
	CHECK(facts_fit(&est, 0, &m, &err, why, sizeof(why)) == -1);
	est.input_tokens = 127999;
	CHECK(facts_fit(&est, 0, &m, &err, why, sizeof(why)) == 0);
	/* Embeddings models serve embeddings only, and the other way round. */
	m = model(CAP_EMBEDDINGS, 8192, 0);
	est.input_tokens = 10;
	CHECK(facts_fit(&est, 0, &m, &err, why, sizeof(why)) == -1);
	CHECK_STR(why, "an embeddings model");
	CHECK_STR(err.param, "model");
	CHECK(facts_fit(&est, 1, &m, &err, why, sizeof(why)) == 0);
	m = model(CAP_TOOLS, 8192, 1024);
	CHECK(facts_fit(&est, 1, &m, &err, why, sizeof(why)) == -1);
	CHECK_STR(why, "not an embeddings model");
	UNIT_DONE();
}
