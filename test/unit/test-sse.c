/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for the SSE parser and emitter: each stream of the table is
 * fed whole, byte by byte and in random splits and must give the same
 * events; then line endings, comments, the size cap and the writers.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "unit.h"

/* Events rendered as "event|id|data|ncomments\n" into a buf. */
struct collect {
	struct buf	out;
	int		nevents;
	int		stop_after;	/* return -1 after this many; 0: never */
};

/* The callback: render the event, perhaps ask to stop. */
static int
collect_cb(void *arg, const struct sse_event *ev)
{
	struct collect	*c = arg;

	CHECK(ev->data[ev->data_len] == '\0');
	buf_appendf(&c->out, "%s|%s|", ev->event, ev->id);
	buf_append(&c->out, ev->data, ev->data_len);
	buf_appendf(&c->out, "|%d\n", ev->ncomments);
	c->nevents++;
	if (c->stop_after > 0 && c->nevents >= c->stop_after)
		return -1;
	return 0;
}

struct stream_case {
	const char	*in;
	const char	*events;	/* rendered as above */
	int		 pending;	/* sse_pending() at the end */
};

static const struct stream_case stream_cases[] = {
	/* OpenAI framing, [DONE] is just data. */
	{ "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
	  "data: [DONE]\n\n",
	  "||{\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}|0\n"
	  "||[DONE]|0\n", 0 },
	/* CRLF, lone CR and mixed endings. */
	{ "data: a\r\n\r\ndata: b\r\rdata: c\n\r\ndata: d\r\n\n",
	  "||a|0\n||b|0\n||c|0\n||d|0\n", 0 },
	{ "data: x\r\r\n\n",
	  "||x|0\n", 0 },
	/* Comments are skipped and counted, also when alone in a block. */
	{ ": keep-alive\n\ndata: a\n\n: OPENROUTER PROCESSING\n: x\ndata: b\n\n",
	  "||a|1\n||b|2\n", 0 },
	{ ":\n:\n\n", "", 0 },
	/* Multi-line data; one space (and only one) is stripped. */
	{ "data: a\ndata:b\ndata:  c\ndata\ndata:\n\n",
	  "||a\nb\n c\n\n|0\n", 0 },
	/* event: and id:, reset for each event. */
	{ "event: message_start\nid: 7\ndata: {\"type\":\"message_start\"}\n\n"
	  "data: plain\n\n",
	  "message_start|7|{\"type\":\"message_start\"}|0\n||plain|0\n", 0 },
	{ "event:ping\ndata: {}\n\n", "ping||{}|0\n", 0 },
	/* Without a data field nothing is delivered. */
	{ "event: ping\n\nid: 3\n\ndata: z\n\n", "||z|0\n", 0 },
	/* Unknown fields and retry: are ignored; a field name is exact. */
	{ "retry: 100\nfoo: bar\nDATA: no\ndata : no\ndatax: no\ndata: yes\n\n",
	  "||yes|0\n", 0 },
	/* Data that is empty, or is a colon. */
	{ "data:\n\ndata: :\n\n", "|||0\n||:|0\n", 0 },
	/* Cut mid-event. */
	{ "data: done\n\ndata: partial", "||done|0\n", 1 },
	{ "data: done\n\ndata: whole line\n", "||done|0\n", 1 },
	{ "event: x\n", "", 1 },
	{ ": only a comment\n", "", 0 },
	/* A blank line first, and leading blank lines, dispatch nothing. */
	{ "\n\n\r\ndata: q\n\n", "||q|0\n", 0 },
	/* Anthropic-style stream. */
	{ "event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
	  "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
	  "\"delta\":{\"text\":\"Hi\"}}\n\n"
	  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
	  "message_start||{\"type\":\"message_start\"}|0\n"
	  "ping||{\"type\": \"ping\"}|0\n"
	  "content_block_delta||{\"type\":\"content_block_delta\","
	  "\"delta\":{\"text\":\"Hi\"}}|0\n"
	  "message_stop||{\"type\":\"message_stop\"}|0\n", 0 },
	/* Gemini-style CRLF stream. */
	{ "data: {\"candidates\":[]}\r\n\r\ndata: {\"usageMetadata\":{}}\r\n\r\n",
	  "||{\"candidates\":[]}|0\n||{\"usageMetadata\":{}}|0\n", 0 },
	/* Binary-ish data passes through. */
	{ "data: caf\xc3\xa9 \x01\n\n", "||caf\xc3\xa9 \x01|0\n", 0 },
};

/* Feed in at the given cut points (sorted, within len); render into c. */
static int
feed_split(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    struct collect *c, int *pending)
{
	struct sse_parser	p;
	size_t			i, from = 0;
	int			r = 0;

	sse_parser_init(&p, 1 << 20);
	buf_init(&c->out, 0);
	c->nevents = 0;
	c->stop_after = 0;
	for (i = 0; i <= ncuts && r == 0; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		r = sse_feed(&p, in + from, to - from, collect_cb, c);
		from = to;
	}
	*pending = sse_pending(&p);
	sse_parser_free(&p);
	return r;
}

/* Comparison function for sorting cut points. */
static int
cmp_size(const void *a, const void *b)
{
	size_t	x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

/* The same events for whole, byte-by-byte and random splits. */
static void
test_splits(void)
{
	struct collect	 c;
	size_t		 i, k, len, *cuts, ncuts;
	unsigned	 seed = 12345;
	int		 pending, round;

	for (i = 0; i < NM_NELEM(stream_cases); i++) {
		const struct stream_case *sc = &stream_cases[i];

		len = strlen(sc->in);
		cuts = calloc(len + 1, sizeof(*cuts));

		CHECK(feed_split(sc->in, len, NULL, 0, &c, &pending) == 0);
		CHECK_STR(c.out.data != NULL ? c.out.data : "", sc->events);
		CHECK(pending == sc->pending);
		buf_free(&c.out);

		for (k = 0; k < len; k++)
			cuts[k] = k;
		CHECK(feed_split(sc->in, len, cuts, len, &c, &pending) == 0);
		CHECK_STR(c.out.data != NULL ? c.out.data : "", sc->events);
		CHECK(pending == sc->pending);
		buf_free(&c.out);

		for (round = 0; round < 200; round++) {
			seed = seed * 1103515245 + 12345;
			ncuts = (seed >> 16) % (len + 1);
			for (k = 0; k < ncuts; k++) {
				seed = seed * 1103515245 + 12345;
				cuts[k] = (seed >> 8) % (len + 1);
			}
			qsort(cuts, ncuts, sizeof(*cuts), cmp_size);
			CHECK(feed_split(sc->in, len, cuts, ncuts, &c,
			    &pending) == 0);
			CHECK_STR(c.out.data != NULL ? c.out.data : "",
			    sc->events);
			CHECK(pending == sc->pending);
			buf_free(&c.out);
		}
		free(cuts);
	}
}

/* A CR ending one feed and the LF starting the next are one line ending. */
static void
test_cr_lf_across_feeds(void)
{
	struct sse_parser	p;
	struct collect		c;

	memset(&c, 0, sizeof(c));
	buf_init(&c.out, 0);
	sse_parser_init(&p, 0);
	CHECK(sse_feed(&p, "data: a\r", 8, collect_cb, &c) == 0);
	CHECK(sse_feed(&p, "", 0, collect_cb, &c) == 0);	/* keeps the CR */
	CHECK(sse_feed(&p, "\ndata: b\r", 9, collect_cb, &c) == 0);
	CHECK(sse_feed(&p, "\n", 1, collect_cb, &c) == 0);
	CHECK(c.nevents == 0);
	CHECK(sse_pending(&p));
	CHECK(sse_feed(&p, "\r\n", 2, collect_cb, &c) == 0);
	CHECK_STR(c.out.data, "||a\nb|0\n");
	CHECK(!sse_pending(&p));
	/* A CR then something else: the CR alone ended the line. */
	CHECK(sse_feed(&p, "data: x\r", 8, collect_cb, &c) == 0);
	CHECK(sse_feed(&p, "\r", 1, collect_cb, &c) == 0);
	CHECK_STR(c.out.data, "||a\nb|0\n||x|0\n");
	sse_parser_free(&p);
	buf_free(&c.out);
}

/* The cap on one event, and a callback that stops the parse. */
static void
test_toobig_and_stop(void)
{
	struct sse_parser	p;
	struct collect		c;
	char			big[64];

	memset(&c, 0, sizeof(c));
	buf_init(&c.out, 0);

	/* Exactly at the cap is fine, data and line alike. */
	sse_parser_init(&p, 16);
	CHECK(sse_feed(&p, "data: 0123456789\n\n", 18, collect_cb, &c) == 0);
	CHECK(sse_feed(&p, "data:0123456789ab\n\n", 19, collect_cb, &c) == -1);
	CHECK(p.toobig == 1);
	CHECK(sse_feed(&p, "data: x\n\n", 9, collect_cb, &c) == -1);
	CHECK(c.nevents == 1);
	sse_parser_free(&p);

	/* Joined data lines over the cap. */
	sse_parser_init(&p, 16);
	CHECK(sse_feed(&p, "data: 01234567\n", 15, collect_cb, &c) == 0);
	CHECK(sse_feed(&p, "data: 01234567\n", 15, collect_cb, &c) == -1);
	CHECK(p.toobig == 1);
	sse_parser_free(&p);

	/* A long line that never ends, fed in pieces. */
	sse_parser_init(&p, 32);
	memset(big, 'x', sizeof(big));
	CHECK(sse_feed(&p, "data: ", 6, collect_cb, &c) == 0);
	CHECK(sse_feed(&p, big, 20, collect_cb, &c) == 0);
	CHECK(sse_feed(&p, big, 20, collect_cb, &c) == -1);
	CHECK(p.toobig == 1);
	sse_parser_free(&p);
	CHECK(c.nevents == 1);

	/* The callback stops the parse after the second event. */
	buf_reset(&c.out);
	c.nevents = 0;
	c.stop_after = 2;
	sse_parser_init(&p, 0);
	CHECK(sse_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, collect_cb,
	    &c) == -1);
	CHECK(c.nevents == 2);
	CHECK_STR(c.out.data, "||1|0\n||2|0\n");
	sse_parser_free(&p);

	/* A NULL callback just consumes; freeing NULL is fine. */
	sse_parser_init(&p, 0);
	CHECK(sse_feed(&p, "data: 1\n\n", 9, NULL, NULL) == 0);
	sse_parser_free(&p);
	sse_parser_free(NULL);
	buf_free(&c.out);
}

/* Over-long event names and ids are cut; an id with a NUL is ignored. */
static void
test_fields(void)
{
	struct sse_parser	p;
	struct collect		c;
	char			in[400];
	int			n;

	memset(&c, 0, sizeof(c));
	buf_init(&c.out, 0);
	sse_parser_init(&p, 0);
	n = snprintf(in, sizeof(in), "event: %0100d\nid: %0200d\ndata: d\n\n",
	    7, 9);
	CHECK(sse_feed(&p, in, (size_t)n, collect_cb, &c) == 0);
	CHECK(c.out.len == 63 + 1 + 127 + 1 + 1 + 3);
	CHECK(sse_feed(&p, "id: a\0b\ndata: e\n\n", 17, collect_cb, &c) == 0);
	CHECK(strstr(c.out.data, "||e|0\n") != NULL);
	sse_parser_free(&p);
	buf_free(&c.out);
}

struct write_case {
	const char	*data;
	const char	*out;
};

static const struct write_case write_cases[] = {
	{ "{\"a\":1}", "data: {\"a\":1}\n\n" },
	{ "[DONE]", "data: [DONE]\n\n" },
	{ "", "data: \n\n" },
	{ "a\nb", "data: a\ndata: b\n\n" },
	{ "a\n", "data: a\ndata: \n\n" },
	{ "x\r\ny\rz", "data: x\ndata: y\ndata: z\n\n" },
	{ " lead", "data:  lead\n\n" },
};

/* The writers, and that what they write parses back. */
static void
test_write(void)
{
	struct sse_parser	 p;
	struct buf		 b;
	struct collect		 c;
	size_t			 i;

	buf_init(&b, 0);
	memset(&c, 0, sizeof(c));
	buf_init(&c.out, 0);
	for (i = 0; i < NM_NELEM(write_cases); i++) {
		buf_reset(&b);
		CHECK(sse_write_data(&b, write_cases[i].data,
		    strlen(write_cases[i].data)) == 0);
		CHECK_STR(b.data, write_cases[i].out);
		if (strchr(write_cases[i].data, '\r') != NULL)
			continue;
		buf_reset(&c.out);
		sse_parser_init(&p, 0);
		CHECK(sse_feed(&p, b.data, b.len, collect_cb, &c) == 0);
		CHECK(c.out.len == strlen(write_cases[i].data) + 5);
		CHECK(memcmp(c.out.data + 2, write_cases[i].data,
		    strlen(write_cases[i].data)) == 0);
		sse_parser_free(&p);
	}

	buf_reset(&b);
	CHECK(sse_write_event(&b, "message_stop", "{}", 2) == 0);
	CHECK_STR(b.data, "event: message_stop\ndata: {}\n\n");
	buf_reset(&b);
	CHECK(sse_write_event(&b, "bad\nname", "x", 1) == 0);
	CHECK_STR(b.data, "event: bad name\ndata: x\n\n");
	buf_reset(&b);
	CHECK(sse_write_comment(&b, "ping") == 0);
	CHECK_STR(b.data, ": ping\n\n");
	buf_reset(&b);
	CHECK(sse_write_comment(&b, "x-nextmodel-cost-usd: 0.0001\r\nX") == 0);
	CHECK_STR(b.data, ": x-nextmodel-cost-usd: 0.0001  X\n\n");

	/* The emitted comment is skipped by the parser. */
	buf_reset(&c.out);
	c.nevents = 0;
	sse_parser_init(&p, 0);
	CHECK(sse_feed(&p, b.data, b.len, collect_cb, &c) == 0);
	CHECK(c.nevents == 0);
	CHECK(sse_feed(&p, "data: [DONE]\n\n", 14, collect_cb, &c) == 0);
	CHECK_STR(c.out.data, "||[DONE]|1\n");
	sse_parser_free(&p);
	buf_free(&b);

	/* At the ceiling nothing is half-written. */
	buf_init(&b, 12);
	CHECK(buf_appends(&b, "keep") == 0);
	CHECK(sse_write_data(&b, "0123456789", 10) == -1);
	CHECK_STR(b.data, "keep");
	CHECK(sse_write_event(&b, "e", "0123456789", 10) == -1);
	CHECK_STR(b.data, "keep");
	CHECK(sse_write_comment(&b, "0123456789") == -1);
	CHECK_STR(b.data, "keep");
	buf_free(&b);
	buf_free(&c.out);
}

int
main(void)
{
	test_splits();
	test_cr_lf_across_feeds();
	test_toobig_and_stop();
	test_fields();
	test_write();
	UNIT_DONE();
}
