/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Fuzz target for sse.c: the input is fed as one piece, byte by byte and
 * in pseudo-random splits drawn from the input itself, and every way must
 * give the same events; the events written back out must parse the same.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "fuzz-sse: check failed: %s (line %d)\n", \
		    #c, __LINE__);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_MAX_EVENT	512

struct run {
	struct buf	out;	/* the events, rendered */
	struct buf	again;	/* the events, written back as SSE */
	int		with_meta;	/* render id and comment counts too */
};

/* Render an event with its lengths, so that no two event lists look alike. */
static int
on_event(void *arg, const struct sse_event *ev)
{
	struct run	*r = arg;

	FUZZ_CHECK(ev->data[ev->data_len] == '\0');
	FUZZ_CHECK(strlen(ev->event) < 64 && strlen(ev->id) < 128);
	FUZZ_CHECK(ev->data_len <= FUZZ_MAX_EVENT);
	FUZZ_CHECK(memchr(ev->data, '\r', ev->data_len) == NULL);
	FUZZ_CHECK(ev->ncomments >= 0);
	FUZZ_CHECK(buf_appendf(&r->out, "%zu:%s|", strlen(ev->event),
	    ev->event) == 0);
	if (r->with_meta)
		FUZZ_CHECK(buf_appendf(&r->out, "%zu:%s|%d|", strlen(ev->id),
		    ev->id, ev->ncomments) == 0);
	FUZZ_CHECK(buf_appendf(&r->out, "%zu:", ev->data_len) == 0);
	FUZZ_CHECK(buf_append(&r->out, ev->data, ev->data_len) == 0);
	FUZZ_CHECK(buf_appendc(&r->out, '\n') == 0);
	if (ev->event[0] != '\0')
		FUZZ_CHECK(sse_write_event(&r->again, ev->event, ev->data,
		    ev->data_len) == 0);
	else
		FUZZ_CHECK(sse_write_data(&r->again, ev->data,
		    ev->data_len) == 0);
	if (ev->ncomments > 0)
		FUZZ_CHECK(sse_write_comment(&r->again, "c") == 0);
	return 0;
}

/*
 * Feed data in pieces of the sizes drawn from seed (0: whole, 1: single
 * bytes); render into r.  Returns whether the parser ended in toobig.
 */
static int
feed(const char *data, size_t size, uint32_t seed, struct run *r,
    int with_meta, int *pending)
{
	struct sse_parser	p;
	size_t			off = 0, n;
	int			toobig = 0;

	buf_init(&r->out, 0);
	buf_init(&r->again, 0);
	r->with_meta = with_meta;
	sse_parser_init(&p, FUZZ_MAX_EVENT);
	while (off < size) {
		if (seed == 0)
			n = size - off;
		else if (seed == 1)
			n = 1;
		else {
			seed = seed * 1664525 + 1013904223;
			n = (seed >> 24) % 17;	/* empty pieces too */
			if (n > size - off)
				n = size - off;
		}
		if (sse_feed(&p, data + off, n, on_event, r) == -1) {
			FUZZ_CHECK(p.toobig);
			toobig = 1;
			break;
		}
		off += n;
	}
	*pending = sse_pending(&p);
	sse_parser_free(&p);
	return toobig;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data;
	struct run	 whole, other, back;
	uint32_t	 seed = 2166136261u;
	size_t		 i;
	int		 toobig, t, pending, pend, k;

	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 16777619u;
	toobig = feed(s, size, 0, &whole, 1, &pending);
	for (k = 1; k < 6; k++) {
		t = feed(s, size, k == 1 ? 1 : seed + (uint32_t)k, &other, 1,
		    &pend);
		FUZZ_CHECK(t == toobig);
		if (!toobig)
			FUZZ_CHECK(pend == pending);
		FUZZ_CHECK(other.out.len == whole.out.len &&
		    (whole.out.len == 0 ||
		    memcmp(other.out.data, whole.out.data, whole.out.len) == 0));
		buf_free(&other.out);
		buf_free(&other.again);
	}

	/* What the emitter wrote parses to the same events (ids aside). */
	buf_free(&whole.out);
	buf_free(&whole.again);
	(void)feed(s, size, 0, &whole, 0, &pending);
	if (whole.again.len > 0) {
		t = feed(whole.again.data, whole.again.len, 0, &back, 0, &pend);
		FUZZ_CHECK(!pend);
		if (!t)
			FUZZ_CHECK(back.out.len == whole.out.len &&
			    memcmp(back.out.data, whole.out.data,
			    whole.out.len) == 0);
		buf_free(&back.out);
		buf_free(&back.again);
	}
	buf_free(&whole.out);
	buf_free(&whole.again);
	return 0;
}
