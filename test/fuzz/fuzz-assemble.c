/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Fuzz target for assemble.c: the input is an SSE stream fed whole, byte
 * by byte and in splits drawn from the input, and every way must give the
 * same verdicts, the same completion and the same chunk boundaries
 * (pieces); a rebuilt completion is JSON; a complete one replayed through
 * cache_render_sse(), whole and cut by its pieces, and rebuilt again is
 * the same bytes.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assemble.h"
#include "cache.h"
#include "json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "fuzz-assemble: check failed: %s (line %d)\n", \
		    #c, __LINE__);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_MAX	(64 * 1024)

/* What one run gave. */
struct verdict {
	int		feed;
	int		result;
	int		complete;
	struct buf	out;
	struct buf	pieces;
};

/* Feed src in pieces (mode 0 whole, 1 byte by byte, 2 split by the input's bytes) and take the result. */
static void
run(const char *src, size_t size, int mode, struct verdict *v)
{
	struct assembler	*a;
	size_t			 off = 0, step;

	FUZZ_CHECK((a = assemble_new(FUZZ_MAX)) != NULL);
	v->feed = 0;
	buf_init(&v->out, 0);
	if (mode == 0)
		v->feed = assemble_feed(a, src, size);
	while (mode != 0 && off < size) {
		step = mode == 1 ? 1 : 1 + (unsigned char)src[off] % 17;
		if (step > size - off)
			step = size - off;
		v->feed = assemble_feed(a, src + off, step);
		off += step;
	}
	v->complete = -1;
	v->result = assemble_result(a, NULL, &v->out, &v->complete);
	FUZZ_CHECK(v->complete == 0 || v->complete == 1);
	FUZZ_CHECK(v->result == 0 || (v->complete == 0 && v->out.len == 0));
	buf_init(&v->pieces, 0);
	FUZZ_CHECK(assemble_pieces(a, &v->pieces) == (v->result == 0 ? 0 : -1));
	FUZZ_CHECK(v->pieces.len % CACHE_PIECE_LEN == 0 &&
	    v->pieces.len / CACHE_PIECE_LEN <= CACHE_MAX_PIECES);
	/* -1 is sticky. */
	if (v->feed == -1)
		FUZZ_CHECK(assemble_feed(a, "data: [DONE]\n\n", 14) == -1);
	assemble_free(a);
}

/* 1 if some choice has logprobs but no content: the replay drops those. */
static int
lost_in_replay(const struct json *j)
{
	size_t	n;
	int	chs, ch, k, c;

	chs = json_get(j, 0, "choices");
	for (k = 0; k < json_size(j, chs); k++) {
		ch = json_at(j, chs, k);
		c = json_get(j, json_get(j, ch, "message"), "content");
		n = 0;
		if (json_type(j, c) == JSON_STRING)
			(void)json_ptr(j, c, &n);
		if (json_type(j, json_get(j, ch, "logprobs")) != JSON_NULL &&
		    n == 0)
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*src = (const char *)data;
	struct verdict	 v[3], again;
	struct json	 j;
	struct buf	 sse;
	char		 err[256];
	int		 m, usage, cut;

	for (m = 0; m < 3; m++)
		run(src, size, m, &v[m]);
	for (m = 1; m < 3; m++) {
		FUZZ_CHECK(v[m].feed == v[0].feed);
		FUZZ_CHECK(v[m].result == v[0].result);
		FUZZ_CHECK(v[m].complete == v[0].complete);
		FUZZ_CHECK(v[m].out.len == v[0].out.len &&
		    (v[0].out.len == 0 || memcmp(v[m].out.data,
		    v[0].out.data, v[0].out.len) == 0));
		FUZZ_CHECK(v[m].pieces.len == v[0].pieces.len &&
		    (v[0].pieces.len == 0 || memcmp(v[m].pieces.data,
		    v[0].pieces.data, v[0].pieces.len) == 0));
	}
	if (v[0].result == 0) {
		FUZZ_CHECK(json_parse(&j, v[0].out.data, v[0].out.len, NULL,
		    err, sizeof(err)) == 0);
		FUZZ_CHECK(json_streq(&j, json_get(&j, 0, "object"),
		    "chat.completion"));
		/* Whole (cut 0), then cut by the stream's pieces (cut 1). */
		for (cut = 0; cut < 2 && v[0].complete &&
		    !lost_in_replay(&j); cut++) {
			usage = json_get(&j, 0, "usage") != -1;
			buf_init(&sse, 0);
			FUZZ_CHECK(cache_render_sse(v[0].out.data,
			    v[0].out.len, cut ? v[0].pieces.data : NULL,
			    cut ? v[0].pieces.len : 0, usage, &sse, err,
			    sizeof(err)) == 0);
			run(sse.data, sse.len, (int)(size % 3), &again);
			FUZZ_CHECK(again.result == 0 && again.complete == 1);
			if (again.out.len != v[0].out.len ||
			    memcmp(again.out.data, v[0].out.data,
			    again.out.len) != 0) {
				fprintf(stderr, "fuzz-assemble: not a fixed "
				    "point (cut %d):\n%s\n%s\n", cut,
				    v[0].out.data, again.out.data);
				abort();
			}
			buf_free(&again.out);
			buf_free(&again.pieces);
			buf_free(&sse);
		}
		json_free(&j);
	}
	for (m = 0; m < 3; m++) {
		buf_free(&v[m].out);
		buf_free(&v[m].pieces);
	}
	return 0;
}
