/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Hostile sizes and numbers for the translators: big OpenAI chat bodies
 * (many messages, tool calls and tools) and the CPU time it takes to
 * encode them (CPU time, not wall time, so that a busy machine does not
 * fail the test), and answers with absurd token counts.
 */
#ifndef MANY_H
#define MANY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "json.h"
#include "providers/provider.h"
#include "unit.h"

/*
 * A chat body for model: nuser user messages, then one assistant message
 * with ncalls tool calls (call_<i> of fn_<i>), nanswers tool messages
 * answering the first ones, and ntools tools.  Exits on OOM.  Caller
 * frees.
 */
static char *
many_body(const char *model, int nuser, int ncalls, int nanswers, int ntools,
    size_t *len)
{
	struct buf b;
	int i, r = 0;

	buf_init(&b, 0);
	r |= buf_appendf(&b, "{\"model\":\"%s\",\"messages\":[", model);
	for (i = 0; i < nuser; i++)
		r |= buf_appendf(&b, "%s{\"role\":\"user\",\"content\":\"u%d\"}",
		    i > 0 ? "," : "", i);
	if (ncalls > 0) {
		r |= buf_appends(&b, nuser > 0 ? "," : "");
		r |= buf_appends(&b, "{\"role\":\"assistant\",\"tool_calls\":[");
		for (i = 0; i < ncalls; i++)
			r |= buf_appendf(&b, "%s{\"id\":\"call_%d\",\"type\":"
			    "\"function\",\"function\":{\"name\":\"fn_%d\","
			    "\"arguments\":\"{}\"}}", i > 0 ? "," : "", i, i);
		r |= buf_appends(&b, "]}");
		for (i = 0; i < nanswers; i++)
			r |= buf_appendf(&b, ",{\"role\":\"tool\",\"tool_call_id\":"
			    "\"call_%d\",\"content\":\"r%d\"}", i, i);
	}
	r |= buf_appendc(&b, ']');
	if (ntools > 0) {
		r |= buf_appends(&b, ",\"tools\":[");
		for (i = 0; i < ntools; i++)
			r |= buf_appendf(&b, "%s{\"type\":\"function\",\"function\":"
			    "{\"name\":\"fn_%d\"}}", i > 0 ? "," : "", i);
		r |= buf_appendc(&b, ']');
	}
	r |= buf_appendc(&b, '}');
	if (r != 0) {
		fprintf(stderr, "many_body: out of memory\n");
		exit(1);
	}
	return buf_steal(&b, len);
}

/* CPU seconds this process has used so far. */
static double
many_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Occurrences of needle in s. */
static size_t
many_count(const char *s, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	while (s != NULL && (s = strstr(s, needle)) != NULL) {
		n++;
		s += len;
	}
	return n;
}

/* Free what chat_encode put in ur (upstream.c is not linked here). */
static void
many_req_free(struct upstream_req *ur)
{
	char **h;

	for (h = ur->headers; h != NULL && *h != NULL; h++)
		free(*h);
	free(ur->headers);
	free(ur->url);
	free(ur->body);
	memset(ur, 0, sizeof(*ur));
}

/*
 * Encode a many_body(); *cpu gets the CPU seconds chat_encode took and
 * *parse those json_parse took on the same body.  raise: lift the size
 * limits out of the way.  The return code of chat_encode.
 */
static int
many_encode(const struct provider_ops *ops, void (*init)(struct prov_ctx *),
    const char *model, const int sizes[4], int raise, struct upstream_req *ur,
    struct errinfo *err, double *cpu, double *parse)
{
	static const struct json_limits lim = { 64, 1 << 22 };
	struct prov_ctx ctx;
	struct json j;
	char e[128], *body;
	size_t len;
	double t0;
	int r;

	body = many_body(model, sizes[0], sizes[1], sizes[2], sizes[3], &len);
	t0 = many_cpu();
	if (json_parse(&j, body, len, &lim, e, sizeof(e)) != 0) {
		fprintf(stderr, "many_encode: %s\n", e);
		exit(1);
	}
	if (parse != NULL)
		*parse = many_cpu() - t0;
	init(&ctx);
	if (raise)
		ctx.max_messages = ctx.max_tool_calls = ctx.max_tools = 1 << 22;
	memset(ur, 0, sizeof(*ur));
	memset(err, 0, sizeof(*err));
	t0 = many_cpu();
	r = ops->chat_encode(&ctx, &j, ur, err);
	if (cpu != NULL)
		*cpu = many_cpu() - t0;
	ops->ctx_free(&ctx);
	json_free(&j);
	free(body);
	return r;
}

/*
 * The size limits: one over each is a 400 in OpenAI's shape naming it
 * (before any translation work), and a request right at them is encoded.
 */
static void
many_test_limits(const struct provider_ops *ops, void (*init)(struct prov_ctx *),
    const char *model)
{
	static const struct {
		int		 sizes[4];	/* users, calls, answers, tools */
		const char	*param;		/* NULL: encoded */
		const char	*what;
	} cases[] = {
		{ { PROV_MAX_MESSAGES + 1, 0, 0, 0 }, "messages",
		    "too many messages. Expected at most 10000, but got 10001" },
		{ { 1, PROV_MAX_TOOL_CALLS + 1, 0, 0 }, "messages",
		    "too many tool calls in all messages together. Expected at "
		    "most 10000, but got 10001" },
		{ { 1, 0, 0, PROV_MAX_TOOLS + 1 }, "tools",
		    "too many tools. Expected at most 1024, but got 1025" },
		{ { PROV_MAX_MESSAGES, 0, 0, 0 }, NULL, NULL },
		{ { 1, 0, 0, PROV_MAX_TOOLS }, NULL, NULL },
	};
	struct upstream_req ur;
	struct errinfo err;
	size_t i;
	int r;

	for (i = 0; i < NM_NELEM(cases); i++) {
		r = many_encode(ops, init, model, cases[i].sizes, 0, &ur, &err,
		    NULL, NULL);
		if (cases[i].param == NULL) {
			CHECK(r == 0);
			if (r != 0)
				fprintf(stderr, "limits case %zu: %s\n", i,
				    err.message);
		} else {
			CHECK(r == -1);
			CHECK(err.status == 400);
			CHECK_STR(err.type, "invalid_request_error");
			CHECK_STR(err.code, "array_above_max_length");
			CHECK_STR(err.param, cases[i].param);
			CHECK(strstr(err.message, cases[i].what) != NULL);
			CHECK(ur.body == NULL);
		}
		many_req_free(&ur);
	}
}

/*
 * Translation time grows linearly with the tool calls.  The yardstick is
 * parsing the same body, linear too and as hard on the caches, so the
 * machine's speed, its load and the sanitizers cancel out: encoding 16000
 * tool calls may take 40 parses (it takes a few; a quadratic translator
 * takes hundreds).  The encoding must hold every call (callneedle) and
 * every result (resneedle).
 */
static void
many_test_linear(const struct provider_ops *ops, void (*init)(struct prov_ctx *),
    const char *model, const char *callneedle, const char *resneedle)
{
	static const int n = 16000;
	const int sizes[4] = { 1, n, n, 0 };
	struct upstream_req ur;
	struct errinfo err;
	double t = 0, p = 0, pbest = 1e9;
	int i;

	/* The best of three parses: the yardstick should not be a slow one. */
	for (i = 0; i < 3; i++) {
		CHECK(many_encode(ops, init, model, sizes, 1, &ur, &err, &t,
		    &p) == 0);
		CHECK(many_count(ur.body, callneedle) == (size_t)n);
		CHECK(many_count(ur.body, resneedle) == (size_t)n);
		many_req_free(&ur);
		if (p < pbest)
			pbest = p;
		if (t > 40 * pbest + 0.02)
			break;		/* a quadratic one: once is enough */
	}
	printf("# %d tool calls: encoded in %.4f s CPU, parsed in %.4f s\n",
	    n, t, pbest);
	CHECK(t < 40 * pbest + 0.02);
}

/* An answer whose usage is given, and what the usage must become. */
struct many_usage {
	const char	*usage;		/* the source's usage object */
	int		 have;		/* 0: ignored, to be estimated */
	int64_t		 prompt, completion, total;
};

/*
 * Token counts from a source are checked before they are added up: two
 * INT64_MAX made UBSan abort the worker.  Each answer (fmt with %s for
 * the usage, replaced as text) is still decoded; absurd usage is
 * dropped.
 */
static void
many_test_usage(const struct provider_ops *ops, void (*init)(struct prov_ctx *),
    const char *fmt, const struct many_usage *cases, size_t n)
{
	struct prov_ctx ctx;
	struct errinfo err;
	struct buf in, out;
	const char *at;
	size_t i;
	int pass;

	for (i = 0; i < n; i++) {
		buf_init(&in, 0);
		buf_init(&out, 0);
		/* fmt is no printf format: -Wformat-nonliteral is right. */
		at = strstr(fmt, "%s");
		if (at == NULL || buf_append(&in, fmt, (size_t)(at - fmt)) != 0 ||
		    buf_appends(&in, cases[i].usage) != 0 ||
		    buf_appends(&in, at + 2) != 0) {
			fprintf(stderr, "many_test_usage: out of memory\n");
			exit(1);
		}
		init(&ctx);
		pass = 0;
		CHECK(ops->chat_decode(&ctx, in.data, in.len, &out, &pass,
		    &err) == 0);
		CHECK(ctx.usage.have == cases[i].have);
		CHECK(ctx.usage.prompt_tokens == cases[i].prompt);
		CHECK(ctx.usage.completion_tokens == cases[i].completion);
		CHECK(ctx.usage.total_tokens == cases[i].total);
		if (ctx.usage.have != cases[i].have)
			fprintf(stderr, "usage case %zu: have %d\n", i,
			    ctx.usage.have);
		ops->ctx_free(&ctx);
		buf_free(&in);
		buf_free(&out);
	}
}

#endif
