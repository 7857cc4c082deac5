/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Tests for estimate.c and quote.c: token estimates of chat requests
 * (text, names, escapes, images by size, tools, schemas), the sizes read
 * from image data URLs, cost arithmetic rounded once in nano-USD, and the
 * quote ranking with its exclusions and exact JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "estimate.h"
#include "json.h"
#include "money.h"
#include "quote.h"
#include "ytree.h"
#include "unit.h"

#define PNG_2048x4096	"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAACAAAABAACAYAAAA="
#define GIF_100x50	"data:image/gif;base64,R0lGODlhZAAyAAAAAA=="
#define JPG_1024x768	"data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wAEAAD/" \
			"wAARCAMABAADAAAAAAAAAAAA"
#define WEBPX_2000x1000	"data:image/webp;base64,UklGRh4AAABXRUJQVlA4WAoAAAAAAAAAzwcA5wMA"
#define WEBPL_640x480	"data:image/webp;base64,UklGRh4AAABXRUJQVlA4TAoAAAAvf8J3AAAAAAAAAA=="

static const struct json_limits lim = { 64, 100000 };

/* Tokens of text and images by the documented formulas. */
static void
test_units(void)
{
	static const struct {
		int64_t		 w, h;
		const char	*detail;
		int64_t		 tokens;
	} images[] = {
		{ 1024, 1024, "high", 765 },	/* OpenAI's own examples */
		{ 2048, 4096, NULL, 1105 },
		{ 2048, 4096, "low", 85 },
		{ 100, 100, "auto", 255 },	/* small: one tile, no upscaling */
		{ 512, 512, NULL, 255 },
		{ 513, 512, NULL, 425 },
		{ 768, 1000, NULL, 765 },	/* 768 short side: not rescaled */
		{ 3000, 1000, NULL, 1445 },	/* -> 2048x682.7: 4 x 2 tiles */
		{ 0, 0, NULL, 765 },		/* unknown */
		{ -5, 10, NULL, 765 },
		{ 2000000, 10, NULL, 765 },
	};
	size_t i;

	CHECK(estimate_text(0) == 0);
	CHECK(estimate_text(1) == 1);
	CHECK(estimate_text(4) == 1);
	CHECK(estimate_text(5) == 2);
	CHECK(estimate_text(4000) == 1000);
	for (i = 0; i < NM_NELEM(images); i++) {
		int64_t t = estimate_image(images[i].w, images[i].h,
		    images[i].detail);
		if (t != images[i].tokens)
			fprintf(stderr, "image %lldx%lld: %lld\n",
			    (long long)images[i].w, (long long)images[i].h,
			    (long long)t);
		CHECK(t == images[i].tokens);
	}
}

/* Sizes read from the first bytes of data URLs. */
static void
test_image_size(void)
{
	static const struct {
		const char	*url;
		int		 ok;
		int64_t		 w, h;
	} cases[] = {
		{ PNG_2048x4096, 0, 2048, 4096 },
		{ GIF_100x50, 0, 100, 50 },
		{ JPG_1024x768, 0, 1024, 768 },
		{ WEBPX_2000x1000, 0, 2000, 1000 },
		{ WEBPL_640x480, 0, 640, 480 },
		/* "\/" as some JSON writers escape the slash: skipped */
		{ "data:image/jpeg;base64,\\/9j\\/4AAQSkZJRgABAQAAAQABAAD\\/2wAEAAD\\/"
		    "wAARCAMABAADAAAAAAAAAAAA", 0, 1024, 768 },
		{ "data:image/png;base64,AAAA", -1, 0, 0 },
		{ "data:image/png,iVBORw0KGgo", -1, 0, 0 },
		{ "https://example.com/a.png", -1, 0, 0 },
		{ "data:text/plain;base64,aGVsbG8=", -1, 0, 0 },
		{ "data:image/png;base64,", -1, 0, 0 },
	};
	int64_t w, h;
	size_t i;
	int r;

	for (i = 0; i < NM_NELEM(cases); i++) {
		w = h = -1;
		r = estimate_image_size(cases[i].url, strlen(cases[i].url), &w,
		    &h);
		CHECK(r == cases[i].ok);
		if (r == 0) {
			CHECK(w == cases[i].w);
			CHECK(h == cases[i].h);
		}
	}
}

#define IMG(url, d)	"{\"type\":\"image_url\",\"image_url\":{\"url\":\"" url \
			"\"" d "}}"

/* Whole requests: tokens, needs, max_tokens and n. */
static void
test_chat(void)
{
	static const struct {
		const char	*body;
		int64_t		 tokens, max, n;
		unsigned	 caps;
		int		 images;
	} cases[] = {
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"Hello, world!\"}]}",
		    11, 0, 1, 0, 0 },
		{ "{\"model\":\"x\",\"messages\":[{\"role\":\"system\",\"content\":"
		    "\"You are terse.\"},{\"role\":\"user\",\"content\":\"Hi\"}]}",
		    16, 0, 1, 0, 0 },
		/* name and content are summed before rounding */
		{ "{\"messages\":[{\"role\":\"user\",\"name\":\"ann\",\"content\":"
		    "\"abcdefgh\"}]}", 10, 0, 1, 0, 0 },
		/* escapes count as the bytes they stand for: 2 + 6 + 4 */
		{ "{\"messages\":[{\"role\":\"user\",\"content\":"
		    "\"\\u00e9\xe6\x97\xa5\xe6\x9c\xac\\ud83d\\ude00\"}]}",
		    10, 0, 1, 0, 0 },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"a\\nb\\tc\"}]}",
		    9, 0, 1, 0, 0 },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
		    "\"text\":\"What is this?\"}," IMG(PNG_2048x4096,
		    ",\"detail\":\"high\"") "]}]}", 1116, 0, 1, CAP_VISION, 1 },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":["
		    IMG("https://x/a.png", "") "," IMG("https://x/b.png",
		    ",\"detail\":\"low\"") "]}]}", 857, 0, 1, CAP_VISION, 2 },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":"
		    "[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
		    "\"stream\":true,\"response_format\":{\"type\":\"json_object\"},"
		    "\"max_tokens\":100,\"n\":2}", 20, 100, 2,
		    CAP_TOOLS | CAP_JSON | CAP_STREAMING, 0 },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
		    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
		    "{\"name\":\"a\",\"schema\":{\"type\":\"object\"}}},"
		    "\"stream\":false}", 18, 0, 1, CAP_JSON, 0 },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"w?\"},"
		    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
		    "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
		    "{\"name\":\"w\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\","
		    "\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]}",
		    38, 0, 1, 0, 0 },
		/* max_completion_tokens wins; empty tools need nothing */
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
		    "\"max_tokens\":5,\"max_completion_tokens\":7,\"tools\":[],"
		    "\"response_format\":{\"type\":\"text\"},\"n\":null}",
		    8, 7, 1, 0, 0 },
	};
	static const struct {
		const char	*body;
		const char	*err;
	} bad[] = {
		{ "[]", "The request body must be a JSON object." },
		{ "{}", "'messages' must be a non-empty array" },
		{ "{\"messages\":[]}", "'messages' must be a non-empty array" },
		{ "{\"messages\":[\"hi\"]}", "messages[0] must be an object" },
		{ "{\"messages\":[{}],\"max_tokens\":0}",
		    "'max_tokens' must be a positive integer" },
		{ "{\"messages\":[{}],\"max_tokens\":\"10\"}",
		    "'max_tokens' must be a positive integer" },
		{ "{\"messages\":[{}],\"max_completion_tokens\":-1}",
		    "'max_completion_tokens' must be a positive integer" },
		{ "{\"messages\":[{}],\"max_tokens\":1.5}",
		    "'max_tokens' must be a positive integer" },
		{ "{\"messages\":[{}],\"n\":0}",
		    "'n' must be an integer from 1 to 128" },
		{ "{\"messages\":[{}],\"n\":129}",
		    "'n' must be an integer from 1 to 128" },
	};
	struct estimate est;
	struct json j;
	char e[256];
	size_t i;

	for (i = 0; i < NM_NELEM(cases); i++) {
		memset(&j, 0, sizeof(j));
		CHECK(json_parse(&j, cases[i].body, strlen(cases[i].body), &lim,
		    e, sizeof(e)) == 0);
		e[0] = '\0';
		CHECK(estimate_chat(&j, &est, e, sizeof(e)) == 0);
		if (est.input_tokens != cases[i].tokens)
			fprintf(stderr, "case %zu: %lld tokens %s\n", i,
			    (long long)est.input_tokens, e);
		CHECK(est.input_tokens == cases[i].tokens);
		CHECK(est.max_tokens == cases[i].max);
		CHECK(est.n == cases[i].n);
		CHECK(est.caps == cases[i].caps);
		CHECK(est.images == cases[i].images);
		json_free(&j);
	}
	for (i = 0; i < NM_NELEM(bad); i++) {
		memset(&j, 0, sizeof(j));
		CHECK(json_parse(&j, bad[i].body, strlen(bad[i].body), &lim, e,
		    sizeof(e)) == 0);
		e[0] = '\0';
		CHECK(estimate_chat(&j, &est, e, sizeof(e)) == -1);
		CHECK_STR(e, bad[i].err);
		json_free(&j);
	}
}

/* Money: integers, rounded half up once over the whole sum. */
static void
test_money(void)
{
	static const struct {
		int64_t	 a;
		nm_nano	 pa;
		int64_t	 b;
		nm_nano	 pb;
		int	 rc;
		nm_nano	 want;
	} cases[] = {
		{ 1000, 150000000, 500, 600000000, 0, 450000 },
		{ 1, 1, 0, 0, 0, 0 },
		{ 500000, 1, 0, 0, 0, 1 },
		{ 499999, 1, 0, 0, 0, 0 },
		/* two halves make one, not two: rounded once */
		{ 500000, 1, 500000, 1, 0, 1 },
		{ 0, 0, 0, 0, 0, 0 },
		{ INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, -1, 0 },
		{ -1, 1, 0, 0, -1, 0 },
		{ 1, -1, 0, 0, -1, 0 },
	};
	nm_nano out;
	size_t i;

	for (i = 0; i < NM_NELEM(cases); i++) {
		out = -7;
		CHECK(estimate_price2(cases[i].a, cases[i].pa, cases[i].b,
		    cases[i].pb, &out) == cases[i].rc);
		if (cases[i].rc == 0)
			CHECK(out == cases[i].want);
	}
}

/* Worst case and expected cost on one model. */
static void
test_cost(void)
{
	static const struct {
		int64_t	 input, max, n, ctx, maxout;
		int64_t	 out_worst, out_expected;
		nm_nano	 worst, expected;
	} cases[] = {
		{ 1000, 0, 1, 128000, 16384, 16384, 500, 9980400, 450000 },
		{ 1000, 100, 2, 128000, 16384, 200, 200, 270000, 270000 },
		{ 1000, 0, 1, 4096, 4096, 3096, 500, 2007600, 450000 },
		{ 5000, 0, 1, 4096, 4096, 0, 0, 750000, 750000 },
		{ 10, 0, 3, 1000, 300, 900, 900, 541500, 541500 },
	};
	struct estimate est;
	struct estimate_cost c;
	struct model m;
	size_t i;

	memset(&m, 0, sizeof(m));
	m.input_per_mtok = 150000000;
	m.output_per_mtok = 600000000;
	for (i = 0; i < NM_NELEM(cases); i++) {
		memset(&est, 0, sizeof(est));
		est.input_tokens = cases[i].input;
		est.max_tokens = cases[i].max;
		est.n = cases[i].n;
		m.context_window = cases[i].ctx;
		m.max_output = cases[i].maxout;
		CHECK(estimate_cost(&est, &m, &c) == 0);
		CHECK(c.output_worst == cases[i].out_worst);
		CHECK(c.output_expected == cases[i].out_expected);
		if (c.worst != cases[i].worst || c.expected != cases[i].expected)
			fprintf(stderr, "cost %zu: %lld %lld\n", i,
			    (long long)c.worst, (long long)c.expected);
		CHECK(c.worst == cases[i].worst);
		CHECK(c.expected == cases[i].expected);
	}
	est.max_tokens = INT64_MAX / 2;
	est.n = 3;
	CHECK(estimate_cost(&est, &m, &c) == -1);
}

static const char catalog_yaml[] =
    "models:\n"
    "  - { id: cheap, provider: a, input_per_mtok: 0.1, output_per_mtok: 0.4,"
    " context_window: 128000, max_output: 16384, latency_ms: 500,"
    " capabilities: [tools, json, vision, streaming] }\n"
    "  - { id: fast, provider: b, input_per_mtok: 1, output_per_mtok: 4,"
    " context_window: 200000, max_output: 8192, latency_ms: 200,"
    " capabilities: [tools, json, streaming] }\n"
    "  - { id: small, provider: c, input_per_mtok: 0.05,"
    " output_per_mtok: 0.1, context_window: 4096, max_output: 2048,"
    " latency_ms: 300, region: cn, capabilities: [streaming] }\n"
    "  - { id: embed, provider: a, input_per_mtok: 0.02, output_per_mtok: 0,"
    " context_window: 8192, capabilities: [embeddings] }\n"
    "  - { id: pricey, provider: b, input_per_mtok: 5, output_per_mtok: 15,"
    " context_window: 1000000, max_output: 128000, latency_ms: 3000,"
    " capabilities: [tools, json, vision, streaming], aliases: [flagship] }\n"
    "  - { id: twin, provider: c, input_per_mtok: 0.1, output_per_mtok: 0.4,"
    " context_window: 128000, max_output: 16384, latency_ms: 400,"
    " capabilities: [tools, json, vision, streaming] }\n";

/* A quote of body against the test catalog; ids in order into out. */
static void
run_quote(const struct catalog *cat, const char *body, int sort, int region,
    const char *model, struct quote *q)
{
	struct quote_opts o;
	struct estimate est;
	struct json j;
	char e[256];

	memset(&j, 0, sizeof(j));
	CHECK(json_parse(&j, body, strlen(body), &lim, e, sizeof(e)) == 0);
	CHECK(estimate_chat(&j, &est, e, sizeof(e)) == 0);
	o.sort = sort;
	o.region = region;
	o.model = model;
	CHECK(quote_build(cat, &est, &o, q) == 0);
	json_free(&j);
}

/* "id,id,..." of the ranked rows, and "id=reason;..." of the others. */
static void
ids(const struct quote *q, char *rows, char *excl, size_t len)
{
	size_t i, n;

	rows[0] = excl[0] = '\0';
	for (i = 0; i < q->nrows; i++) {
		n = strlen(rows);
		snprintf(rows + n, len - n, "%s%s%s", i ? "," : "",
		    q->rows[i].m->id, q->rows[i].requested ? "*" : "");
	}
	for (i = 0; i < q->nexcl; i++) {
		n = strlen(excl);
		snprintf(excl + n, len - n, "%s%s%s=%s", i ? ";" : "",
		    q->excl[i].m != NULL ? q->excl[i].m->id : q->requested,
		    q->excl[i].requested ? "*" : "", q->excl[i].reason);
	}
}

/* Ranking, exclusions, the requested model, the JSON. */
static void
test_quote(void)
{
	static const char hello[] =
	    "{\"messages\":[{\"role\":\"user\",\"content\":\"Hello, world!\"}]}";
	static const char want_json[] = "{\"object\":\"list\","
	    "\"estimated_input_tokens\":11,\"max_tokens\":null,\"n\":1,"
	    "\"required_capabilities\":[],\"data\":["
	    "{\"model\":\"small\",\"provider\":\"c\",\"region\":\"cn\","
	    "\"latency_ms\":300,\"input_per_mtok\":\"0.05\",\"output_per_mtok\":"
	    "\"0.1\",\"worst_case_cost_usd\":\"0.00020535\",\"expected_cost_usd\":"
	    "\"0.00005055\",\"max_output\":2048,\"context_window\":4096,"
	    "\"worst_case_output_tokens\":2048,\"expected_output_tokens\":500},"
	    "{\"model\":\"twin\",\"provider\":\"c\",\"region\":\"global\","
	    "\"latency_ms\":400,\"input_per_mtok\":\"0.1\",\"output_per_mtok\":"
	    "\"0.4\",\"worst_case_cost_usd\":\"0.0065547\",\"expected_cost_usd\":"
	    "\"0.0002011\",\"max_output\":16384,\"context_window\":128000,"
	    "\"worst_case_output_tokens\":16384,\"expected_output_tokens\":500},"
	    "{\"model\":\"cheap\",\"provider\":\"a\",\"region\":\"global\","
	    "\"latency_ms\":500,\"input_per_mtok\":\"0.1\",\"output_per_mtok\":"
	    "\"0.4\",\"worst_case_cost_usd\":\"0.0065547\",\"expected_cost_usd\":"
	    "\"0.0002011\",\"max_output\":16384,\"context_window\":128000,"
	    "\"worst_case_output_tokens\":16384,\"expected_output_tokens\":500},"
	    "{\"model\":\"fast\",\"provider\":\"b\",\"region\":\"global\","
	    "\"latency_ms\":200,\"input_per_mtok\":\"1\",\"output_per_mtok\":"
	    "\"4\",\"worst_case_cost_usd\":\"0.032779\",\"expected_cost_usd\":"
	    "\"0.002011\",\"max_output\":8192,\"context_window\":200000,"
	    "\"worst_case_output_tokens\":8192,\"expected_output_tokens\":500},"
	    "{\"model\":\"pricey\",\"provider\":\"b\",\"region\":\"global\","
	    "\"latency_ms\":3000,\"input_per_mtok\":\"5\",\"output_per_mtok\":"
	    "\"15\",\"worst_case_cost_usd\":\"1.920055\",\"expected_cost_usd\":"
	    "\"0.007555\",\"max_output\":128000,\"context_window\":1000000,"
	    "\"worst_case_output_tokens\":128000,\"expected_output_tokens\":500}],"
	    "\"excluded\":[{\"model\":\"embed\",\"provider\":\"a\",\"reason\":"
	    "\"an embeddings model\"}]}";
	struct ynode *root;
	struct catalog *cat;
	struct quote q;
	struct buf b;
	char err[512], rows[1024], excl[2048], big[24000], body[25000];

	root = ytree_load_string("cat.yaml", catalog_yaml,
	    sizeof(catalog_yaml) - 1, err, sizeof(err));
	CHECK(root != NULL);
	if (root == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	cat = catalog_load_tree(root, err, sizeof(err));
	CHECK(cat != NULL);
	if (cat == NULL) {
		fprintf(stderr, "%s\n", err);
		ytree_free(root);
		return;
	}

	/* Cheapest first; equal prices: the faster first. */
	run_quote(cat, hello, QUOTE_SORT_PRICE, -1, NULL, &q);
	ids(&q, rows, excl, sizeof(rows));
	CHECK_STR(rows, "small,twin,cheap,fast,pricey");
	CHECK_STR(excl, "embed=an embeddings model");
	buf_init(&b, 0);
	CHECK(quote_write_json(&q, &b) == 0);
	CHECK_STR(b.data, want_json);
	buf_free(&b);
	quote_free(&q);

	run_quote(cat, hello, QUOTE_SORT_LATENCY, -1, NULL, &q);
	ids(&q, rows, excl, sizeof(rows));
	CHECK_STR(rows, "fast,small,twin,cheap,pricey");
	quote_free(&q);

	/* Tools and an image: only vision-and-tools models; alias marked. */
	run_quote(cat, "{\"model\":\"flagship\",\"messages\":[{\"role\":\"user\","
	    "\"content\":[" IMG("https://x/a.png", "") "]}],\"tools\":[{\"type\":"
	    "\"function\",\"function\":{\"name\":\"f\"}}],\"max_tokens\":3000}",
	    QUOTE_SORT_PRICE, -1, "flagship", &q);
	ids(&q, rows, excl, sizeof(rows));
	CHECK_STR(rows, "twin,cheap,pricey*");
	CHECK_STR(excl, "fast=does not accept images;"
	    "small=does not support tools;embed=an embeddings model");
	CHECK(q.est.input_tokens == 4 + 765 + 3 + 12);
	CHECK(q.rows[2].cost.output_worst == 3000);
	quote_free(&q);

	/* Region, and more output than a model can write. */
	run_quote(cat, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"max_completion_tokens\":10000,\"stream\":true}",
	    QUOTE_SORT_PRICE, REGION_GLOBAL, "nope", &q);
	ids(&q, rows, excl, sizeof(rows));
	CHECK_STR(rows, "twin,cheap,pricey");
	CHECK_STR(excl, "fast=writes at most 8192 output tokens, 10000 asked;"
	    "small=region cn, not global;embed=an embeddings model;"
	    "nope*=not in the catalog");
	buf_init(&b, 0);
	CHECK(quote_write_json(&q, &b) == 0);
	CHECK(strstr(b.data, "\"required_capabilities\":[\"streaming\"]") != NULL);
	CHECK(strstr(b.data, "{\"model\":\"nope\",\"provider\":null,\"reason\":"
	    "\"not in the catalog\",\"requested\":true}]}") != NULL);
	buf_free(&b);
	quote_free(&q);

	/* A long prompt: small context windows drop out. */
	memset(big, 'a', 20000);
	big[20000] = '\0';
	snprintf(body, sizeof(body), "{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"%s\"}],\"max_tokens\":124000}", big);
	run_quote(cat, body, QUOTE_SORT_PRICE, -1, "cheap", &q);
	ids(&q, rows, excl, sizeof(rows));
	CHECK_STR(rows, "pricey");
	CHECK_STR(excl, "cheap*=writes at most 16384 output tokens, 124000 "
	    "asked;fast=writes at most 8192 output tokens, 124000 asked;"
	    "small=writes at most 2048 output tokens, 124000 asked;"
	    "embed=an embeddings model;twin=writes at most 16384 output tokens, 124000 asked");
	quote_free(&q);
	snprintf(body, sizeof(body), "{\"messages\":[{\"role\":\"user\","
	    "\"content\":\"%s\"}],\"max_tokens\":1000}", big);
	run_quote(cat, body, QUOTE_SORT_PRICE, -1, NULL, &q);
	ids(&q, rows, excl, sizeof(rows));
	CHECK_STR(rows, "twin,cheap,fast,pricey");
	CHECK_STR(excl, "small=context window of 4096 tokens is too small for "
	    "about 5007 input + 1000 output tokens;embed=an embeddings model");
	quote_free(&q);

	quote_free(NULL);
	catalog_free(cat);
	ytree_free(root);
}

int
main(void)
{
	char caps[128];

	test_units();
	test_image_size();
	test_chat();
	test_money();
	test_cost();
	test_quote();
	CHECK_STR(quote_caps(CAP_TOOLS | CAP_VISION, caps, sizeof(caps)),
	    "tools,vision");
	CHECK_STR(quote_caps(0, caps, sizeof(caps)), "");
	UNIT_DONE();
}
