/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Fuzz target for canon.c: whatever json_parse accepts, the canonical
 * form (and both request forms) parses again and is a fixed point; an
 * integer's form is its decimal text; the form does not depend on how
 * the strings were escaped; canon_text is a fixed point on raw bytes.
 * It also feeds cache.c what comes from outside: raw bytes as a stored
 * entry (never accepted without the key) and any object as a stored
 * answer to replay (every event it writes is JSON).
 */

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "canon.h"
#include "sse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "fuzz-canon: check failed: %s (line %d)\n", \
		    #c, __LINE__);					\
		abort();						\
	}								\
} while (0)

static const struct json_limits fuzz_limits = { 32, 20000 };

/* 1 if the two buffers hold the same bytes. */
static int
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->data, b->data, a->len) == 0);
}

/*
 * The form f parses, and its own form (f2, through canon_request in
 * mode m when req) is the same bytes.
 */
static void
fixed_point(const struct buf *f, int req, enum canon_mode m)
{
	struct json	j;
	struct buf	f2;
	char		err[256];

	if (json_parse(&j, f->data, f->len, &fuzz_limits, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "fuzz-canon: canonical form refused: %s\n%.*s\n",
		    err, (int)NM_MIN(f->len, 2000), f->data);
		abort();
	}
	buf_init(&f2, 0);
	FUZZ_CHECK((req ? canon_request(&j, 0, m, &f2, err, sizeof(err)) :
	    canon_write(&j, 0, &f2, err, sizeof(err))) == 0);
	if (!same(f, &f2)) {
		fprintf(stderr, "fuzz-canon: not a fixed point:\n%.*s\n%.*s\n",
		    (int)NM_MIN(f->len, 2000), f->data,
		    (int)NM_MIN(f2.len, 2000), f2.data);
		abort();
	}
	buf_free(&f2);
	json_free(&j);
}

/*
 * Rewrite value i with every string escaped differently (\u for all ASCII
 * letters); string token alter gets its first byte changed (if ASCII).
 */
static int
reescape(struct buf *b, const struct json *j, int i, int alter)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*s;
	size_t			 n, k;
	int			 m, size, t;

	switch (json_type(j, i)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		size = json_size(j, i);
		FUZZ_CHECK(buf_appendc(b, json_type(j, i) == JSON_OBJECT ?
		    '{' : '[') == 0);
		for (t = i + 1, m = 0; m < size; m++) {
			FUZZ_CHECK(buf_appends(b, m > 0 ? " ,\n" : " ") == 0);
			if (json_type(j, i) == JSON_OBJECT) {
				t = reescape(b, j, t, alter);
				FUZZ_CHECK(buf_appends(b, "\t:") == 0);
			}
			t = reescape(b, j, t, alter);
		}
		FUZZ_CHECK(buf_appendc(b, json_type(j, i) == JSON_OBJECT ?
		    '}' : ']') == 0);
		return t;
	case JSON_STRING:
		s = json_strdup(j, i, &n);
		FUZZ_CHECK(s != NULL);
		if (i == alter && n > 0 && (unsigned char)s[0] < 0x80)
			s[0] ^= 1;
		FUZZ_CHECK(buf_appendc(b, '"') == 0);
		for (k = 0; k < n; k++) {
			unsigned char	c = (unsigned char)s[k];

			if (c < 0x80 && (c < 0x20 || c == '"' || c == '\\' ||
			    (c >= 'a' && c <= 'z')))
				FUZZ_CHECK(buf_appendf(b, "\\u00%c%c",
				    hex[c >> 4], hex[c & 15]) == 0);
			else
				FUZZ_CHECK(buf_appendc(b, (char)c) == 0);
		}
		FUZZ_CHECK(buf_appendc(b, '"') == 0);
		free(s);
		return i + 1;
	default:
		FUZZ_CHECK(json_write_raw(b, j, i) == 0);
		return i + 1;
	}
}

/* sse_cb: every event of a replay is a JSON chunk, or the final [DONE]. */
static int
sse_event_ok(void *arg, const struct sse_event *ev)
{
	struct json	j;
	char		err[256];
	int		*done = arg;

	FUZZ_CHECK(!*done);
	if (strcmp(ev->data, "[DONE]") == 0) {
		*done = 1;
		return 0;
	}
	FUZZ_CHECK(json_parse(&j, ev->data, ev->data_len, NULL, err,
	    sizeof(err)) == 0);
	FUZZ_CHECK(json_streq(&j, json_get(&j, 0, "object"),
	    "chat.completion.chunk"));
	json_free(&j);
	return 0;
}

/* The cache's readers on outside bytes. */
static void
check_cache(const char *src, size_t size)
{
	static const unsigned char	key[CRYPTO_SHA256_LEN] = { 1, 2, 3 };
	struct cache_entry		want, e;
	struct sse_parser		p;
	struct buf			out;
	char				err[256];
	int				done = 0;

	memset(&want, 0, sizeof(want));
	FUZZ_CHECK(cache_entry_decode_verify(src, size, key, &want, &e) !=
	    CACHE_ENTRY_OK);
	FUZZ_CHECK(e.answer.p == NULL && e.request.p == NULL);
	buf_init(&out, 0);
	if (cache_render_sse(src, size, NULL, 0, size % 2, &out, err,
	    sizeof(err)) == 0) {
		sse_parser_init(&p, 1 << 22);
		FUZZ_CHECK(sse_feed(&p, out.data, out.len, sse_event_ok,
		    &done) == 0);
		FUZZ_CHECK(done && !sse_pending(&p));
		sse_parser_free(&p);
	} else
		FUZZ_CHECK(out.len == 0 && err[0] != '\0');
	buf_free(&out);
}

/* Integers that fit int64 come out as their decimal text. */
static void
check_ints(const struct json *j)
{
	struct buf	 b;
	const char	*p;
	char		 want[32], err[128];
	size_t		 n;
	int64_t		 v;
	int		 i;

	for (i = 0; i < j->ntok; i++) {
		if (json_type(j, i) != JSON_NUMBER || json_int64(j, i, &v) == -1)
			continue;
		p = json_ptr(j, i, &n);
		buf_init(&b, 0);
		FUZZ_CHECK(canon_number(p, n, &b, err, sizeof(err)) == 0);
		snprintf(want, sizeof(want), "%" PRId64, v);
		FUZZ_CHECK(strcmp(b.data, want) == 0);
		buf_free(&b);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*src = (const char *)data;
	struct json	 j, j2;
	struct buf	 f, g, t, t2;
	char		 err[256], *u;
	size_t		 n;
	int		 m, r, alter;

	/* canon_text on the raw bytes: a fixed point, never longer. */
	buf_init(&t, 0);
	buf_init(&t2, 0);
	FUZZ_CHECK(canon_text(src, size, &t) == 0);
	FUZZ_CHECK(t.len <= size);
	FUZZ_CHECK(canon_text(t.data, t.len, &t2) == 0);
	FUZZ_CHECK(same(&t, &t2));
	buf_free(&t);
	buf_free(&t2);

	check_cache(src, size);
	if (json_parse(&j, src, size, &fuzz_limits, err, sizeof(err)) == -1)
		return 0;
	check_ints(&j);
	buf_init(&f, 0);
	r = canon_write(&j, 0, &f, err, sizeof(err));
	if (r == -1) {
		/* Only a number's exponent can be refused within these limits. */
		FUZZ_CHECK(strstr(err, "exponent out of range") != NULL);
		buf_free(&f);
		json_free(&j);
		return 0;
	}
	fixed_point(&f, 0, CANON_EXACT);

	/* Escaped and spaced differently: the same form. */
	buf_init(&g, 0);
	FUZZ_CHECK(reescape(&g, &j, 0, -1) == j.ntok);
	FUZZ_CHECK(json_parse(&j2, g.data, g.len, &fuzz_limits, err,
	    sizeof(err)) == 0);
	buf_init(&t, 0);
	FUZZ_CHECK(canon_write(&j2, 0, &t, err, sizeof(err)) == 0);
	FUZZ_CHECK(same(&f, &t));
	buf_free(&t);
	json_free(&j2);

	/* One string byte changed: another form (unless it made a duplicate key). */
	alter = (int)(size % (size_t)j.ntok);
	u = json_type(&j, alter) == JSON_STRING ? json_strdup(&j, alter, &n) :
	    NULL;
	if (u != NULL && n > 0 && (unsigned char)u[0] < 0x80) {
		buf_reset(&g);
		FUZZ_CHECK(reescape(&g, &j, 0, alter) == j.ntok);
		if (json_parse(&j2, g.data, g.len, &fuzz_limits, err,
		    sizeof(err)) == 0) {
			buf_init(&t, 0);
			FUZZ_CHECK(canon_write(&j2, 0, &t, err,
			    sizeof(err)) == 0);
			FUZZ_CHECK(!same(&f, &t));
			buf_free(&t);
			json_free(&j2);
		} else
			FUZZ_CHECK(strstr(err, "duplicate key") != NULL);
	}
	free(u);

	/* The request forms, both modes. */
	if (json_type(&j, 0) == JSON_OBJECT) {
		for (m = CANON_EXACT; m <= CANON_TEXT; m++) {
			buf_reset(&g);
			FUZZ_CHECK(canon_request(&j, 0, (enum canon_mode)m, &g,
			    err, sizeof(err)) == 0);
			fixed_point(&g, 1, (enum canon_mode)m);
		}
	}
	buf_free(&g);
	buf_free(&f);
	json_free(&j);
	return 0;
}
