/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for assemble: streams rebuilt into the exact completion they
 * carried whatever the byte split (whole, one byte at a time, uneven
 * pieces), what makes a stream incomplete or not rebuildable, the bounds,
 * and the round trip through cache_render_sse() field by field; the chunk
 * boundaries kept as cache pieces, and a replay cut by them rebuilt into
 * the same answer and the same pieces.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assemble.h"
#include "cache.h"
#include "canon.h"
#include "json.h"
#include "unit.h"

/* A chunk with the usual top-level fields around its choices. */
#define CH(choices)							\
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","	\
	"\"created\":1,\"model\":\"m\",\"choices\":[" choices "]}\n\n"
/* One choice element of a chunk. */
#define C(i, delta, finish)						\
	"{\"index\":" #i ",\"delta\":{" delta "},\"logprobs\":null,"	\
	"\"finish_reason\":" finish "}"
#define DONE	"data: [DONE]\n\n"
/* The rebuilt completion around its choices (and what follows them). */
#define OUT(rest)							\
	"{\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,"	\
	"\"model\":\"m\",\"choices\":[" rest "}"
/* One rebuilt choice. */
#define OC(i, msg, finish)						\
	"{\"index\":" #i ",\"message\":{\"role\":\"assistant\"," msg	\
	"},\"logprobs\":null,\"finish_reason\":" finish "}"

struct acase {
	const char	*name;
	const char	*stream;
	int		 feed;		/* what the last feed returns */
	int		 result;	/* what assemble_result returns */
	int		 complete;
	int		 use_u;		/* pass test_u */
	size_t		 max;		/* 0: 1 MiB */
	const char	*want;		/* NULL when result is -1 */
};

static const struct usage test_u = { 11, 22, 33, 0, 0, 0, 1 };

static const struct acase cases[] = {
	{ "plain text in pieces",
	  CH(C(0, "\"role\":\"assistant\",\"content\":\"\"", "null"))
	  CH(C(0, "\"content\":\"Hel\"", "null"))
	  CH(C(0, "\"content\":\"lo\"", "null"))
	  CH(C(0, "\"content\":\" wor\"", "null"))
	  CH(C(0, "\"content\":\"ld\"", "null"))
	  CH(C(0, "", "\"stop\"")) DONE,
	  0, 0, 1, 0, 0,
	  OUT(OC(0, "\"content\":\"Hello world\"", "\"stop\"") "]") },
	{ "escapes, CRLF, pings and the cost trailer ignored",
	  ": ping\r\n\r\n"
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
	  "\"delta\":{\"role\":\"assistant\",\"content\":\"a\\\"\\n\"},"
	  "\"finish_reason\":null}]}\r\n\r\n"
	  ": ping\n\n"
	  CH(C(0, "\"content\":\"\\u00e9\\u0000/\"", "null"))
	  CH(C(0, "\"content\":null", "\"stop\""))
	  ": x-nextmodel-cost-usd: 0.000012\n"
	  ": x-nextmodel-receipt-hash: abc\n\n" DONE,
	  0, 0, 1, 0, 0,
	  OUT(OC(0, "\"content\":\"a\\\"\\n\xc3\xa9\\u0000/\"", "\"stop\"")
	  "]") },
	{ "two choices interleaved, the second first",
	  CH(C(1, "\"role\":\"assistant\",\"content\":\"\"", "null"))
	  CH(C(0, "\"role\":\"assistant\",\"content\":\"\"", "null"))
	  CH(C(1, "\"content\":\"B1\"", "null") "," C(0, "\"content\":\"A1\"",
	    "null"))
	  CH(C(0, "\"content\":\"A2\"", "\"stop\""))
	  CH(C(1, "\"content\":\"B2\"", "null"))
	  CH(C(1, "", "\"length\"")) DONE,
	  0, 0, 1, 0, 0,
	  OUT(OC(0, "\"content\":\"A1A2\"", "\"stop\"") ","
	  OC(1, "\"content\":\"B1B2\"", "\"length\"") "]") },
	{ "parallel tool calls with argument pieces",
	  CH(C(0, "\"role\":\"assistant\",\"content\":null", "null"))
	  CH(C(0, "\"tool_calls\":[{\"index\":0,\"id\":\"call_a\","
	    "\"type\":\"function\",\"function\":{\"name\":\"get\","
	    "\"arguments\":\"\"}}]", "null"))
	  CH(C(0, "\"tool_calls\":[{\"index\":0,\"function\":"
	    "{\"arguments\":\"{\\\"ci\"}}]", "null"))
	  CH(C(0, "\"tool_calls\":[{\"index\":1,\"id\":\"call_b\","
	    "\"type\":\"function\",\"function\":{\"name\":\"put\","
	    "\"arguments\":\"{\\\"x\\\":\"}}]", "null"))
	  CH(C(0, "\"tool_calls\":[{\"index\":0,\"function\":"
	    "{\"arguments\":\"ty\\\":1}\"}},{\"index\":1,\"function\":"
	    "{\"arguments\":\"2}\"}}]", "null"))
	  CH(C(0, "", "\"tool_calls\"")) DONE,
	  0, 0, 1, 0, 0,
	  OUT(OC(0, "\"content\":null,\"tool_calls\":["
	  "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
	  "\"get\",\"arguments\":\"{\\\"city\\\":1}\"}},"
	  "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":"
	  "\"put\",\"arguments\":\"{\\\"x\\\":2}\"}}]", "\"tool_calls\"")
	  "]") },
	{ "id, type, name and role repeated in every delta: kept once",
	  CH(C(0, "\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,"
	    "\"id\":\"call_a\",\"type\":\"function\",\"function\":"
	    "{\"name\":\"get\",\"arguments\":\"{\\\"a\"}}]", "null"))
	  CH(C(0, "\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,"
	    "\"id\":\"call_a\",\"type\":\"function\",\"function\":"
	    "{\"name\":\"get\",\"arguments\":\"\\\":1}\"}}]", "\"tool_calls\""))
	  DONE,
	  0, 0, 1, 0, 0,
	  OUT(OC(0, "\"content\":null,\"tool_calls\":["
	  "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
	  "\"get\",\"arguments\":\"{\\\"a\\\":1}\"}}]", "\"tool_calls\"")
	  "]") },
	{ "legacy function_call",
	  CH(C(0, "\"role\":\"assistant\",\"content\":null,"
	    "\"function_call\":{\"name\":\"f\",\"arguments\":\"\"}", "null"))
	  CH(C(0, "\"function_call\":{\"arguments\":\"{\\\"a\\\"\"}", "null"))
	  CH(C(0, "\"function_call\":{\"arguments\":\":1}\"}", "null"))
	  CH(C(0, "", "\"function_call\"")) DONE,
	  0, 0, 1, 0, 0,
	  OUT(OC(0, "\"content\":null,\"function_call\":{\"name\":\"f\","
	  "\"arguments\":\"{\\\"a\\\":1}\"}", "\"function_call\"") "]") },
	{ "refusal in pieces",
	  CH(C(0, "\"role\":\"assistant\",\"content\":null,\"refusal\":\"\"",
	    "null"))
	  CH(C(0, "\"refusal\":\"I can\"", "null"))
	  CH(C(0, "\"refusal\":\"not.\"", "null"))
	  CH(C(0, "", "\"stop\"")) DONE,
	  0, 0, 1, 0, 0,
	  OUT(OC(0, "\"content\":null,\"refusal\":\"I cannot.\"", "\"stop\"")
	  "]") },
	{ "content_filter: not complete",
	  CH(C(0, "\"role\":\"assistant\",\"content\":\"par\"", "null"))
	  CH(C(0, "", "\"content_filter\"")) DONE,
	  0, 0, 0, 0, 0,
	  OUT(OC(0, "\"content\":\"par\"", "\"content_filter\"") "]") },
	{ "length with a tool call: not complete",
	  CH(C(0, "\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":"
	    "{\"name\":\"f\",\"arguments\":\"{\\\"a\"}}]", "null"))
	  CH(C(0, "", "\"length\"")) DONE,
	  0, 0, 0, 0, 0,
	  OUT(OC(0, "\"content\":null,\"tool_calls\":[{\"id\":\"c\","
	  "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
	  "\"{\\\"a\"}}]", "\"length\"") "]") },
	{ "length with a function_call: not complete",
	  CH(C(0, "\"function_call\":{\"name\":\"f\",\"arguments\":\"{\"}",
	    "\"length\"")) DONE,
	  0, 0, 0, 0, 0,
	  OUT(OC(0, "\"content\":null,\"function_call\":{\"name\":\"f\","
	  "\"arguments\":\"{\"}", "\"length\"") "]") },
	{ "length without tool calls: complete",
	  CH(C(0, "\"content\":\"cut\"", "\"length\"")) DONE,
	  0, 0, 1, 0, 0,
	  OUT(OC(0, "\"content\":\"cut\"", "\"length\"") "]") },
	{ "a tool call without a name: not complete",
	  CH(C(0, "\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":"
	    "{\"arguments\":\"{}\"}}]", "\"tool_calls\"")) DONE,
	  0, 0, 0, 0, 0,
	  OUT(OC(0, "\"content\":null,\"tool_calls\":[{\"id\":\"c\","
	  "\"type\":\"function\",\"function\":{\"name\":\"\",\"arguments\":"
	  "\"{}\"}}]", "\"tool_calls\"") "]") },
	{ "no [DONE]: not complete",
	  CH(C(0, "\"content\":\"hi\"", "\"stop\"")),
	  0, 0, 0, 0, 0,
	  OUT(OC(0, "\"content\":\"hi\"", "\"stop\"") "]") },
	{ "cut in the middle of an event after [DONE]'s place: not complete",
	  CH(C(0, "\"content\":\"hi\"", "\"stop\"")) "data: [DO",
	  0, 0, 0, 0, 0,
	  OUT(OC(0, "\"content\":\"hi\"", "\"stop\"") "]") },
	{ "no finish_reason: not complete",
	  CH(C(0, "\"content\":\"hi\"", "null")) DONE,
	  0, 0, 0, 0, 0,
	  OUT(OC(0, "\"content\":\"hi\"", "null") "]") },
	{ "one of two choices without finish_reason: not complete",
	  CH(C(0, "\"content\":\"a\"", "\"stop\"") ","
	    C(1, "\"content\":\"b\"", "null")) DONE,
	  0, 0, 0, 0, 0,
	  OUT(OC(0, "\"content\":\"a\"", "\"stop\"") ","
	  OC(1, "\"content\":\"b\"", "null") "]") },
	{ "choice 0 never seen: not complete",
	  CH(C(1, "\"content\":\"b\"", "\"stop\"")) DONE,
	  0, 0, 0, 0, 0,
	  OUT(OC(1, "\"content\":\"b\"", "\"stop\"") "]") },
	{ "no choices at all: not complete",
	  DONE, 0, 0, 0, 0, 0,
	  "{\"id\":null,\"object\":\"chat.completion\",\"created\":null,"
	  "\"model\":null,\"choices\":[]}" },
	{ "an error event: not rebuilt",
	  CH(C(0, "\"content\":\"hi\"", "null"))
	  "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}"
	  "\n\n",
	  -1, -1, 0, 0, 0, NULL },
	{ "a named event: not rebuilt",
	  "event: error\ndata: {}\n\n", -1, -1, 0, 0, 0, NULL },
	{ "a whole completion instead of a chunk: not rebuilt",
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion\",\"created\":1,"
	  "\"model\":\"m\",\"choices\":[]}\n\n",
	  -1, -1, 0, 0, 0, NULL },
	{ "data that is not JSON: not rebuilt",
	  "data: hello\n\n", -1, -1, 0, 0, 0, NULL },
	{ "a chunk after [DONE]: not rebuilt",
	  CH(C(0, "\"content\":\"hi\"", "\"stop\"")) DONE
	  CH(C(0, "\"content\":\"more\"", "null")),
	  -1, -1, 0, 0, 0, NULL },
	{ "content of the wrong type: not rebuilt",
	  CH(C(0, "\"content\":5", "null")), -1, -1, 0, 0, 0, NULL },
	{ "choice index past the bound: not rebuilt",
	  CH(C(128, "\"content\":\"x\"", "null")), -1, -1, 0, 0, 0, NULL },
	{ "choice index negative: not rebuilt",
	  CH(C(-1, "\"content\":\"x\"", "null")), -1, -1, 0, 0, 0, NULL },
	{ "last choice index within the bound",
	  CH(C(127, "\"content\":\"x\"", "\"stop\"")) DONE,
	  0, 0, 0, 0, 0, NULL },
	{ "tool call index past the bound: not rebuilt",
	  CH(C(0, "\"tool_calls\":[{\"index\":1024,\"function\":"
	    "{\"name\":\"f\"}}]", "null")),
	  -1, -1, 0, 0, 0, NULL },
	{ "tool call without an index: not rebuilt",
	  CH(C(0, "\"tool_calls\":[{\"function\":{\"name\":\"f\"}}]",
	    "null")),
	  -1, -1, 0, 0, 0, NULL },
	{ "over the ceiling while fed: not rebuilt",
	  CH(C(0, "\"content\":\"0123456789012345678901234567890123456789\"",
	    "null"))
	  CH(C(0, "\"content\":\"0123456789012345678901234567890123456789\"",
	    "null")),
	  -1, -1, 0, 0, 200, NULL },
	{ "fits the ceiling while fed, not once written",
	  CH(C(0, "\"content\":\"\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001"
	    "\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\\u0001\"",
	    "\"stop\"")) DONE,
	  0, -1, 0, 0, 200, NULL },
	{ "usage from the usage chunk",
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
	  "{\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":"
	  "{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7,"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n" DONE,
	  0, 0, 1, 0, 0,
	  /* Kept whole, details too: a replay says what the stream said. */
	  OUT(OC(0, "\"content\":\"hi\"", "\"stop\"") "],\"usage\":"
	  "{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7,"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":0}}") },
	{ "usage chunk whole when u says the same",
	  CH(C(0, "\"content\":\"hi\"", "\"stop\""))
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":"
	  "{\"prompt_tokens\":11,\"completion_tokens\":22,\"total_tokens\":33,"
	  "\"prompt_tokens_details\":{\"cached_tokens\":8}}}\n\n" DONE,
	  0, 0, 1, 1, 0,
	  OUT(OC(0, "\"content\":\"hi\"", "\"stop\"") "],\"usage\":"
	  "{\"prompt_tokens\":11,\"completion_tokens\":22,\"total_tokens\":33,"
	  "\"prompt_tokens_details\":{\"cached_tokens\":8}}") },
	{ "usage from u over the usage chunk",
	  CH(C(0, "\"content\":\"hi\"", "\"stop\""))
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":"
	  "{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}"
	  "\n\n" DONE,
	  0, 0, 1, 1, 0,
	  OUT(OC(0, "\"content\":\"hi\"", "\"stop\"") "],\"usage\":"
	  "{\"prompt_tokens\":11,\"completion_tokens\":22,\"total_tokens\":33}") },
	{ "usage from u without a usage chunk",
	  CH(C(0, "\"content\":\"hi\"", "\"stop\"")) DONE,
	  0, 0, 1, 1, 0,
	  OUT(OC(0, "\"content\":\"hi\"", "\"stop\"") "],\"usage\":"
	  "{\"prompt_tokens\":11,\"completion_tokens\":22,\"total_tokens\":33}") },
	{ "a usage chunk with a bad count: not rebuilt",
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":"
	  "{\"prompt_tokens\":\"5\",\"completion_tokens\":2,"
	  "\"total_tokens\":7}}\n\n",
	  -1, -1, 0, 0, 0, NULL },
	{ "logprobs, fingerprint and tier kept",
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1,\"model\":\"m\",\"service_tier\":\"default\","
	  "\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"delta\":"
	  "{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
	  "\"finish_reason\":null}]}\n\n"
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1,\"model\":\"m\",\"system_fingerprint\":\"fp_9\","
	  "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},"
	  "\"logprobs\":{\"content\":[{\"token\":\"a\",\"logprob\":-0.5}],"
	  "\"refusal\":null},\"finish_reason\":null}]}\n\n"
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":"
	  "{\"content\":\"b\"},\"logprobs\":{\"content\":[{\"token\":\"b\","
	  "\"logprob\":-1}]},\"finish_reason\":\"stop\"}]}\n\n" DONE,
	  0, 0, 1, 0, 0,
	  OUT("{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
	  "\"ab\"},\"logprobs\":{\"content\":[{\"token\":\"a\",\"logprob\":"
	  "-0.5},{\"token\":\"b\",\"logprob\":-1}],\"refusal\":null},"
	  "\"finish_reason\":\"stop\"}],\"service_tier\":\"default\","
	  "\"system_fingerprint\":\"fp_9\"") },
};

/* Feed s in pieces: mode 0 whole, 1 one byte at a time, 2 uneven pieces. */
static int
feed(struct assembler *a, const char *s, size_t n, int mode)
{
	size_t	off = 0, step, k = 0;
	int	r = 0;

	if (mode == 0)
		return assemble_feed(a, s, n);
	while (off < n) {
		step = mode == 1 ? 1 : 1 + (k++ * 7) % 13;
		step = NM_MIN(step, n - off);
		r = assemble_feed(a, s + off, step);
		off += step;
	}
	return r;
}

/* Every case, in every split. */
static void
test_cases(void)
{
	const struct acase	*c;
	struct assembler	*a;
	struct buf		 out;
	size_t			 k;
	int			 mode, r, complete;

	for (k = 0; k < NM_NELEM(cases); k++) {
		c = &cases[k];
		for (mode = 0; mode < 3; mode++) {
			a = assemble_new(c->max ? c->max : 1 << 20);
			CHECK(a != NULL);
			if (a == NULL)
				return;
			buf_init(&out, 0);
			buf_appends(&out, "pre");
			r = feed(a, c->stream, strlen(c->stream), mode);
			if (r != c->feed)
				fprintf(stderr, "case %s, mode %d: feed %d\n",
				    c->name, mode, r);
			CHECK(r == c->feed);
			complete = -7;
			r = assemble_result(a, c->use_u ? &test_u : NULL, &out,
			    &complete);
			if (r != c->result || complete != c->complete)
				fprintf(stderr, "case %s, mode %d: result %d "
				    "complete %d\n%s\n", c->name, mode, r,
				    complete, out.data);
			CHECK(r == c->result);
			CHECK(complete == c->complete);
			if (c->result == -1)
				CHECK_STR(out.data, "pre");
			else if (c->want != NULL) {
				CHECK(strncmp(out.data, "pre", 3) == 0);
				CHECK_STR(out.data + 3, c->want);
			}
			/* After -1, every later call is -1. */
			if (c->feed == -1)
				CHECK(assemble_feed(a, DONE, strlen(DONE)) ==
				    -1);
			buf_free(&out);
			assemble_free(a);
		}
	}
}

/* A feed past the bound of tool calls, and free(NULL). */
static void
test_bounds(void)
{
	struct assembler	*a;
	struct buf		 b, out;
	int			 k, r = 0, complete;

	assemble_free(NULL);
	a = assemble_new(1 << 22);
	buf_init(&b, 0);
	for (k = 0; k < ASSEMBLE_MAX_TOOLS; k++) {
		buf_reset(&b);
		buf_appendf(&b, CH(C(0, "\"tool_calls\":[{\"index\":%d,"
		    "\"id\":\"c%d\",\"function\":{\"name\":\"f\","
		    "\"arguments\":\"{}\"}}]", "null")), k, k);
		r |= assemble_feed(a, b.data, b.len);
	}
	CHECK(r == 0);
	buf_reset(&b);
	buf_appends(&b, CH(C(0, "", "\"tool_calls\"")) DONE);
	CHECK(assemble_feed(a, b.data, b.len) == 0);
	buf_init(&out, 0);
	CHECK(assemble_result(a, NULL, &out, &complete) == 0);
	CHECK(complete == 1);
	CHECK(strstr(out.data, "\"c1023\"") != NULL);
	buf_free(&out);
	assemble_free(a);

	/* The output's own ceiling: -1 and out untouched. */
	a = assemble_new(0);
	buf_reset(&b);
	buf_appends(&b, CH(C(0, "\"content\":\"hello\"", "\"stop\"")) DONE);
	CHECK(assemble_feed(a, b.data, b.len) == 0);
	buf_init(&out, 20);
	buf_appends(&out, "x");
	CHECK(assemble_result(a, NULL, &out, &complete) == -1);
	CHECK(complete == 0);
	CHECK_STR(out.data, "x");
	buf_free(&out);
	buf_free(&b);
	assemble_free(a);
}

/* A stream and the pieces it leaves ("" when none are kept). */
struct pcase {
	const char	*name;
	const char	*stream;
	const char	*want;
};

static const struct pcase pcases[] = {
	{ "text: an empty first piece with the role, then each delta",
	  CH(C(0, "\"role\":\"assistant\",\"content\":\"\"", "null"))
	  CH(C(0, "\"content\":\"Hel\"", "null"))
	  CH(C(0, "\"content\":\"lo\"", "null"))
	  CH(C(0, "\"content\":\"\"", "null"))
	  CH(C(0, "\"content\":\" w\\u00f6r\"", "null"))
	  CH(C(0, "\"content\":\"ld\"", "null"))
	  CH(C(0, "", "\"stop\"")) DONE,
	  "c0:0 c0:3 c0:2 c0:5 c0:2" },
	{ "text in the role chunk",
	  CH(C(0, "\"role\":\"assistant\",\"content\":\"Hel\"", "null"))
	  CH(C(0, "\"content\":\"lo\"", "\"stop\"")) DONE,
	  "c0:3 c0:2" },
	{ "two choices interleaved",
	  CH(C(1, "\"role\":\"assistant\",\"content\":\"\"", "null"))
	  CH(C(0, "\"role\":\"assistant\",\"content\":\"\"", "null"))
	  CH(C(1, "\"content\":\"B1\"", "null") "," C(0, "\"content\":\"A1\"",
	    "null"))
	  CH(C(0, "\"content\":\"A2x\"", "\"stop\""))
	  CH(C(1, "\"content\":\"B2\"", "null"))
	  CH(C(1, "", "\"length\"")) DONE,
	  "c1:0 c0:0 c1:2 c0:2 c0:3 c1:2" },
	{ "parallel tool calls: headers and argument pieces",
	  CH(C(0, "\"role\":\"assistant\",\"content\":null", "null"))
	  CH(C(0, "\"tool_calls\":[{\"index\":0,\"id\":\"call_a\","
	    "\"type\":\"function\",\"function\":{\"name\":\"get\","
	    "\"arguments\":\"\"}}]", "null"))
	  CH(C(0, "\"tool_calls\":[{\"index\":0,\"function\":"
	    "{\"arguments\":\"{\\\"ci\"}}]", "null"))
	  CH(C(0, "\"tool_calls\":[{\"index\":1,\"id\":\"call_b\","
	    "\"type\":\"function\",\"function\":{\"name\":\"put\","
	    "\"arguments\":\"{\\\"x\\\":\"}}]", "null"))
	  CH(C(0, "\"tool_calls\":[{\"index\":0,\"function\":"
	    "{\"arguments\":\"ty\\\":1}\"}},{\"index\":1,\"function\":"
	    "{\"arguments\":\"2}\"}}]", "null"))
	  CH(C(0, "", "\"tool_calls\"")) DONE,
	  "t0.0:0 t0.0:4 t0.1:5 t0.0:6 t0.1:2" },
	{ "tool indexes with gaps: positions",
	  CH(C(0, "\"role\":\"assistant\",\"tool_calls\":[{\"index\":2,"
	    "\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"f\","
	    "\"arguments\":\"{}\"}}]", "null"))
	  CH(C(0, "\"tool_calls\":[{\"index\":5,\"id\":\"b\","
	    "\"type\":\"function\",\"function\":{\"name\":\"g\","
	    "\"arguments\":\"[\"}}]", "null"))
	  CH(C(0, "\"tool_calls\":[{\"index\":5,\"function\":"
	    "{\"arguments\":\"]\"}}]", "\"tool_calls\"")) DONE,
	  "t0.0:2 t0.1:1 t0.1:1" },
	{ "a refusal and a legacy function_call",
	  CH(C(0, "\"role\":\"assistant\",\"refusal\":\"I \"", "null"))
	  CH(C(0, "\"refusal\":\"can't\"", "null"))
	  CH(C(0, "\"function_call\":{\"name\":\"f\",\"arguments\":\"\"}",
	    "null"))
	  CH(C(0, "\"function_call\":{\"arguments\":\"{}\"}", "\"stop\""))
	  DONE,
	  "r0:2 r0:5 f0:0 f0:2" },
	{ "logprobs: no pieces, the replay is whole",
	  CH(C(0, "\"role\":\"assistant\",\"content\":\"\"", "null"))
	  "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
	  "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
	  "\"delta\":{\"content\":\"a\"},\"logprobs\":{\"content\":[]},"
	  "\"finish_reason\":\"stop\"}]}\n\n" DONE,
	  "" },
};

/* Pieces p of choice (or all, -1) as text: "c0:3 t0.1:5 ...". */
static void
pieces_text(const struct buf *p, int choice, struct buf *out)
{
	static const char	 kinds[] = "?crtf";
	const unsigned char	*u;
	size_t			 k;
	unsigned		 len;

	buf_reset(out);
	buf_appends(out, "");
	for (k = 0; k + CACHE_PIECE_LEN <= p->len; k += CACHE_PIECE_LEN) {
		u = (const unsigned char *)p->data + k;
		if (choice != -1 && u[1] != choice)
			continue;
		len = (unsigned)u[4] << 24 | (unsigned)u[5] << 16 |
		    (unsigned)u[6] << 8 | u[7];
		buf_appendf(out, "%s%c%d", out->len > 0 ? " " : "",
		    kinds[u[0] < 5 ? u[0] : 0], u[1]);
		if (u[0] == CACHE_PIECE_TOOL)
			buf_appendf(out, ".%d", u[2] << 8 | u[3]);
		buf_appendf(out, ":%u", len);
	}
}

/* Feed stream whole; its answer and pieces. */
static void
assemble_all(const char *stream, size_t len, struct buf *answer,
    struct buf *pieces)
{
	struct assembler	*a;
	int			 complete = 0;

	a = assemble_new(1 << 20);
	CHECK(a != NULL);
	if (a == NULL)
		return;
	CHECK(assemble_feed(a, stream, len) == 0);
	CHECK(assemble_result(a, NULL, answer, &complete) == 0);
	CHECK(complete == 1);
	CHECK(assemble_pieces(a, pieces) == 0);
	assemble_free(a);
}

/* The pieces a stream leaves; a replay cut by them gives the same again. */
static void
test_pieces(void)
{
	struct buf	answer, pieces, sse, again, again_p, t1, t2;
	char		err[256];
	size_t		k;
	int		ch, usage;

	buf_init(&t1, 0);
	buf_init(&t2, 0);
	for (k = 0; k < NM_NELEM(pcases); k++) {
		buf_init(&answer, 0);
		buf_init(&pieces, 0);
		assemble_all(pcases[k].stream, strlen(pcases[k].stream),
		    &answer, &pieces);
		pieces_text(&pieces, -1, &t1);
		if (strcmp(t1.data, pcases[k].want) != 0)
			fprintf(stderr, "%s\n", pcases[k].name);
		CHECK_STR(t1.data, pcases[k].want);
		for (usage = 0; usage < 2; usage++) {
			buf_init(&sse, 0);
			CHECK(cache_render_sse(answer.data, answer.len,
			    pieces.data, pieces.len, usage, &sse, err,
			    sizeof(err)) == 0);
			buf_init(&again, 0);
			buf_init(&again_p, 0);
			assemble_all(sse.data, sse.len, &again, &again_p);
			CHECK_STR(again.data, answer.data);
			/* Per choice: the replay sends one choice after another. */
			for (ch = 0; ch < 2; ch++) {
				pieces_text(&pieces, ch, &t1);
				pieces_text(&again_p, ch, &t2);
				if (strcmp(t1.data, t2.data) != 0)
					fprintf(stderr, "%s\n",
					    pcases[k].name);
				CHECK_STR(t2.data, t1.data);
			}
			buf_free(&again);
			buf_free(&again_p);
			buf_free(&sse);
		}
		buf_free(&answer);
		buf_free(&pieces);
	}
	buf_free(&t1);
	buf_free(&t2);
}

/* Past CACHE_MAX_PIECES no piece is kept; the answer is. */
static void
test_pieces_bound(void)
{
	struct assembler	*a;
	struct buf		 b, out, p;
	int			 k, n, r = 0, complete;

	for (n = CACHE_MAX_PIECES; n <= CACHE_MAX_PIECES + 1; n++) {
		a = assemble_new(1 << 22);
		buf_init(&b, 0);
		for (k = 0; k < n; k++) {
			buf_reset(&b);
			buf_appends(&b, CH(C(0, "\"content\":\"x\"", "null")));
			r |= assemble_feed(a, b.data, b.len);
		}
		buf_reset(&b);
		buf_appends(&b, CH(C(0, "", "\"stop\"")) DONE);
		r |= assemble_feed(a, b.data, b.len);
		CHECK(r == 0);
		buf_init(&out, 0);
		buf_init(&p, 0);
		CHECK(assemble_result(a, NULL, &out, &complete) == 0);
		CHECK(complete == 1);
		CHECK(assemble_pieces(a, &p) == 0);
		CHECK(p.len == (n == CACHE_MAX_PIECES ?
		    (size_t)n * CACHE_PIECE_LEN : 0));
		buf_free(&out);
		buf_free(&p);
		buf_free(&b);
		assemble_free(a);
	}
	/* A failed stream has no pieces. */
	a = assemble_new(0);
	buf_init(&p, 0);
	CHECK(assemble_feed(a, "data: {bad\n\n", 12) == -1);
	CHECK(assemble_pieces(a, &p) == -1 && p.len == 0);
	buf_free(&p);
	assemble_free(a);
}

static const char *const stored[] = {
	/* Text with escapes, a fingerprint and usage. */
	"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
	"\"created\":1700000000,\"model\":\"gpt-4o-mini-2024-07-18\","
	"\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,"
	"\"message\":{\"role\":\"assistant\",\"content\":\"Hello "
	"\\\"there\\\"\\n\\u00e9\",\"refusal\":null},\"logprobs\":null,"
	"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
	"\"completion_tokens\":5,\"total_tokens\":17}}",
	/* Parallel tool calls, a service tier. */
	"{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"created\":5,"
	"\"model\":\"m\",\"service_tier\":\"default\",\"choices\":[{\"index\":0,"
	"\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
	"{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	"\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
	"{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":"
	"\"get_time\",\"arguments\":\"{}\"}}]},\"logprobs\":null,"
	"\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":40,"
	"\"completion_tokens\":30,\"total_tokens\":70}}",
	/* Two choices: logprobs on one, a refusal on the other. */
	"{\"id\":\"chatcmpl-3\",\"object\":\"chat.completion\",\"created\":6,"
	"\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	"\"assistant\",\"content\":\"yes\"},\"logprobs\":{\"content\":"
	"[{\"token\":\"yes\",\"logprob\":-0.01,\"bytes\":[121,101,115],"
	"\"top_logprobs\":[]}],\"refusal\":null},\"finish_reason\":\"stop\"},"
	"{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":null,"
	"\"refusal\":\"I can't help with that.\"},\"logprobs\":null,"
	"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,"
	"\"completion_tokens\":9,\"total_tokens\":12}}",
	/* The legacy function_call. */
	"{\"id\":\"chatcmpl-4\",\"object\":\"chat.completion\",\"created\":7,"
	"\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	"\"assistant\",\"content\":null,\"function_call\":{\"name\":\"f\","
	"\"arguments\":\"{\\\"a\\\":[1,2]}\"}},\"logprobs\":null,"
	"\"finish_reason\":\"function_call\"}],\"usage\":{\"prompt_tokens\":1,"
	"\"completion_tokens\":1,\"total_tokens\":2}}",
	/* Empty content, cut for length; text and a tool call together. */
	"{\"id\":\"chatcmpl-5\",\"object\":\"chat.completion\",\"created\":8,"
	"\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	"\"assistant\",\"content\":\"\"},\"logprobs\":null,"
	"\"finish_reason\":\"length\"},{\"index\":1,\"message\":{\"role\":"
	"\"assistant\",\"content\":\"Let me look.\",\"tool_calls\":[{\"id\":"
	"\"call_9\",\"type\":\"function\",\"function\":{\"name\":\"look\","
	"\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":"
	"\"tool_calls\"}],\"usage\":{\"prompt_tokens\":2,"
	"\"completion_tokens\":0,\"total_tokens\":2}}",
};

/* The canonical text of value tok, or "(absent)" / "null" alike when nullok. */
static void
canon_of(const struct json *j, int tok, int nullok, struct buf *b)
{
	char	err[128];

	buf_reset(b);
	if (tok == -1 || (nullok && json_type(j, tok) == JSON_NULL)) {
		buf_appends(b, "(absent)");
		return;
	}
	CHECK(canon_write(j, tok, b, err, sizeof(err)) == 0);
}

/* Member key of objects a (in ja) and b (in jb) are the same value. */
static void
same_member(const struct json *ja, int a, const struct json *jb, int b,
    const char *key, int nullok)
{
	struct buf	ca, cb;

	buf_init(&ca, 0);
	buf_init(&cb, 0);
	canon_of(ja, a == -1 ? -1 : json_get(ja, a, key), nullok, &ca);
	canon_of(jb, b == -1 ? -1 : json_get(jb, b, key), nullok, &cb);
	if (strcmp(ca.data, cb.data) != 0)
		fprintf(stderr, "member %s: %s vs %s\n", key, ca.data,
		    cb.data);
	CHECK_STR(ca.data, cb.data);
	buf_free(&ca);
	buf_free(&cb);
}

/* Stored answer, replayed, rebuilt: the same answer field by field. */
static void
test_round_trip(void)
{
	static const char *const top[] = { "id", "object", "created", "model",
	    "system_fingerprint", "service_tier" };
	static const char *const msg[] = { "role", "content", "tool_calls",
	    "function_call" };
	struct assembler	*a;
	struct json		 js, jr;
	struct buf		 sse, out;
	char			 err[256];
	size_t			 k, f;
	int			 usage, mode, complete, cs, cr, n, i, ms, mr;

	for (k = 0; k < NM_NELEM(stored); k++) {
		for (usage = 0; usage < 2; usage++) {
			buf_init(&sse, 0);
			CHECK(cache_render_sse(stored[k], strlen(stored[k]),
			    NULL, 0, usage, &sse, err, sizeof(err)) == 0);
			for (mode = 0; mode < 3; mode++) {
				a = assemble_new(1 << 20);
				CHECK(feed(a, sse.data, sse.len, mode) == 0);
				buf_init(&out, 0);
				CHECK(assemble_result(a, NULL, &out,
				    &complete) == 0);
				CHECK(complete == 1);
				CHECK(json_parse(&js, stored[k],
				    strlen(stored[k]), NULL, err,
				    sizeof(err)) == 0);
				if (json_parse(&jr, out.data, out.len, NULL,
				    err, sizeof(err)) == -1) {
					fprintf(stderr, "rebuilt: %s\n%s\n",
					    err, out.data);
					CHECK(0);
					json_free(&js);
					buf_free(&out);
					assemble_free(a);
					continue;
				}
				for (f = 0; f < NM_NELEM(top); f++)
					same_member(&js, 0, &jr, 0, top[f], 0);
				if (usage)
					same_member(&js, 0, &jr, 0, "usage", 0);
				else
					CHECK(json_get(&jr, 0, "usage") == -1);
				cs = json_get(&js, 0, "choices");
				cr = json_get(&jr, 0, "choices");
				n = json_size(&js, cs);
				CHECK(json_size(&jr, cr) == n);
				for (i = 0; i < n; i++) {
					same_member(&js, json_at(&js, cs, i),
					    &jr, json_at(&jr, cr, i), "index",
					    0);
					same_member(&js, json_at(&js, cs, i),
					    &jr, json_at(&jr, cr, i),
					    "finish_reason", 0);
					same_member(&js, json_at(&js, cs, i),
					    &jr, json_at(&jr, cr, i),
					    "logprobs", 0);
					ms = json_get(&js, json_at(&js, cs, i),
					    "message");
					mr = json_get(&jr, json_at(&jr, cr, i),
					    "message");
					for (f = 0; f < NM_NELEM(msg); f++)
						same_member(&js, ms, &jr, mr,
						    msg[f], 0);
					/* null and absent are one refusal. */
					same_member(&js, ms, &jr, mr,
					    "refusal", 1);
				}
				json_free(&jr);
				json_free(&js);
				buf_free(&out);
				assemble_free(a);
			}
			buf_free(&sse);
		}
	}
}

int
main(void)
{
	test_cases();
	test_bounds();
	test_round_trip();
	test_pieces();
	test_pieces_bound();
	UNIT_DONE();
}
