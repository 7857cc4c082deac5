/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Fuzz target for json.c: parse, check the token tree and every accessor,
 * then write the document back two ways (raw copy, and rebuilt through
 * the string writer) and check both parse again to the same tokens.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "fuzz-json: check failed: %s (line %d)\n", \
		    #c, __LINE__);					\
		abort();						\
	}								\
} while (0)

static const struct json_limits fuzz_limits = { 32, 20000 };
static const struct json_limits tight_limits = { 3, 12 };

/* An error message is short printable text with no NUL before its end. */
static void
check_err(const char *err)
{
	size_t	i, n = strlen(err);

	FUZZ_CHECK(n > 0 && n < 200);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(err[i] >= 0x20 && err[i] < 0x7f);
}

/* Rebuild value i with the writer (strings unescaped and re-escaped); returns the next index. */
static int
rebuild(struct buf *b, const struct json *j, int i)
{
	char	*s;
	size_t	 n;
	int	 k, m, size;

	switch (json_type(j, i)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		size = json_size(j, i);
		FUZZ_CHECK(buf_appendc(b, json_type(j, i) == JSON_OBJECT ?
		    '{' : '[') == 0);
		for (k = i + 1, m = 0; m < size; m++) {
			if (m > 0)
				FUZZ_CHECK(buf_appendc(b, ',') == 0);
			if (json_type(j, i) == JSON_OBJECT) {
				k = rebuild(b, j, k);
				FUZZ_CHECK(buf_appendc(b, ':') == 0);
			}
			k = rebuild(b, j, k);
		}
		FUZZ_CHECK(buf_appendc(b, json_type(j, i) == JSON_OBJECT ?
		    '}' : ']') == 0);
		FUZZ_CHECK(k == json_skip(j, i));
		return k;
	case JSON_STRING:
		s = json_strdup(j, i, &n);
		FUZZ_CHECK(s != NULL);
		FUZZ_CHECK(json_write_str(b, s, n) == 0);
		free(s);
		return i + 1;
	case JSON_NONE:
		FUZZ_CHECK(0);
		return -1;
	default:
		FUZZ_CHECK(json_write_raw(b, j, i) == 0);
		return i + 1;
	}
}

/* Token by token, both documents hold the same values. */
static void
same_tokens(const struct json *a, const struct json *b)
{
	const char	*pa, *pb;
	char		*sa, *sb;
	size_t		 na, nb;
	int		 i;

	FUZZ_CHECK(a->ntok == b->ntok);
	for (i = 0; i < a->ntok; i++) {
		FUZZ_CHECK(json_type(a, i) == json_type(b, i));
		FUZZ_CHECK(json_size(a, i) == json_size(b, i));
		if (json_type(a, i) == JSON_STRING) {
			sa = json_strdup(a, i, &na);
			sb = json_strdup(b, i, &nb);
			FUZZ_CHECK(sa != NULL && sb != NULL && na == nb &&
			    memcmp(sa, sb, na) == 0);
			free(sa);
			free(sb);
		} else if (json_type(a, i) != JSON_OBJECT &&
		    json_type(a, i) != JSON_ARRAY) {
			pa = json_ptr(a, i, &na);
			pb = json_ptr(b, i, &nb);
			FUZZ_CHECK(na == nb && memcmp(pa, pb, na) == 0);
		}
	}
}

/* Check one token's accessors against what they must say. */
static void
check_token(const struct json *j, int i, const char *src, size_t size)
{
	const jsmntok_t	*t = &j->tok[i];
	const char	*p, *r;
	char		*s, small[8], *end;
	size_t		 n, rn;
	int64_t		 v;
	long long	 ll;
	int		 bv, k, m;

	FUZZ_CHECK(t->start >= 0 && t->end >= t->start &&
	    (size_t)t->end <= size);
	if (i > 0)
		FUZZ_CHECK(t->start > j->tok[i - 1].start);
	FUZZ_CHECK(t->parent < i && (i == 0) == (t->parent == -1));
	p = json_ptr(j, i, &n);
	r = json_raw(j, i, &rn);
	FUZZ_CHECK(p == src + t->start && n == (size_t)(t->end - t->start));
	FUZZ_CHECK(r >= src && r + rn <= src + size && rn >= n);
	FUZZ_CHECK(json_skip(j, i) > i && json_skip(j, i) <= j->ntok);

	switch (json_type(j, i)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		/* Walking the members with json_skip ends where the value ends. */
		for (k = i + 1, m = 0; m < t->size; m++) {
			FUZZ_CHECK(j->tok[k].parent == i);
			if (json_type(j, i) == JSON_OBJECT) {
				FUZZ_CHECK(json_type(j, k) == JSON_STRING);
				FUZZ_CHECK(j->tok[k].size == 1);
				s = json_strdup(j, k, &n);
				FUZZ_CHECK(s != NULL);
				if (memchr(s, '\0', n) == NULL)
					FUZZ_CHECK(json_get(j, i, s) == k + 1);
				free(s);
				k = json_skip(j, k + 1);
			} else {
				FUZZ_CHECK(json_at(j, i, m) == k);
				k = json_skip(j, k);
			}
		}
		FUZZ_CHECK(k == json_skip(j, i));
		FUZZ_CHECK(r[0] == (json_type(j, i) == JSON_OBJECT ? '{' : '['));
		break;
	case JSON_STRING:
		FUZZ_CHECK(r[0] == '"' && r[rn - 1] == '"' && rn == n + 2);
		s = json_strdup(j, i, &n);
		FUZZ_CHECK(s != NULL && s[n] == '\0');
		if (memchr(s, '\0', n) == NULL) {
			FUZZ_CHECK(json_streq(j, i, s));
			FUZZ_CHECK(json_strcpy(j, i, small, sizeof(small)) ==
			    (n < sizeof(small) ? 0 : -1));
			if (n < sizeof(small))
				FUZZ_CHECK(strcmp(small, s) == 0);
		} else
			FUZZ_CHECK(json_strcpy(j, i, small, sizeof(small)) == -1);
		free(s);
		break;
	case JSON_NUMBER:
		if (json_int64(j, i, &v) == 0 && memchr(p, '.', n) == NULL &&
		    memchr(p, 'e', n) == NULL && memchr(p, 'E', n) == NULL) {
			s = strndup(p, n);
			FUZZ_CHECK(s != NULL);
			ll = strtoll(s, &end, 10);
			FUZZ_CHECK(*end == '\0' && ll == v);
			free(s);
		}
		FUZZ_CHECK(json_bool(j, i, &bv) == -1);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		FUZZ_CHECK(json_bool(j, i, &bv) == 0);
		FUZZ_CHECK(bv == (json_type(j, i) == JSON_TRUE));
		break;
	case JSON_NULL:
		FUZZ_CHECK(n == 4 && memcmp(p, "null", 4) == 0);
		break;
	case JSON_NONE:
		FUZZ_CHECK(0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const omit[] = { "model", "stream", NULL };
	const char	*src = (const char *)data;
	struct json	 j, j2;
	struct buf	 b;
	char		 err[256], terr[256];
	int		 i, n, tight, tight_ntok = 0;

	/* Tighter limits may only refuse more, never accept differently. */
	tight = json_parse(&j, src, size, &tight_limits, terr, sizeof(terr));
	if (tight == 0)
		tight_ntok = j.ntok;
	else
		check_err(terr);
	json_free(&j);

	if (json_parse(&j, src, size, &fuzz_limits, err, sizeof(err)) == -1) {
		check_err(err);
		FUZZ_CHECK(j.tok == NULL && j.ntok == 0);
		FUZZ_CHECK(tight == -1);
		return 0;
	}
	FUZZ_CHECK(err[0] == '\0');
	FUZZ_CHECK(tight == -1 || tight_ntok == j.ntok);
	if (tight == -1)
		FUZZ_CHECK(strcmp(terr, "JSON nested deeper than 3 levels") == 0 ||
		    (strcmp(terr, "JSON has more than 12 tokens") == 0 &&
		    j.ntok > tight_limits.max_tokens));
	FUZZ_CHECK(j.ntok >= 1 && json_skip(&j, 0) == j.ntok);
	for (i = 0; i < j.ntok; i++)
		check_token(&j, i, src, size);

	/* The raw root parses to the same tokens. */
	buf_init(&b, 0);
	FUZZ_CHECK(json_write_raw(&b, &j, 0) == 0);
	FUZZ_CHECK(json_parse(&j2, b.data, b.len, &fuzz_limits, err,
	    sizeof(err)) == 0);
	same_tokens(&j, &j2);
	json_free(&j2);

	/* Rebuilt through the writer: same tokens, same unescaped strings. */
	buf_reset(&b);
	FUZZ_CHECK(rebuild(&b, &j, 0) == j.ntok);
	if (json_parse(&j2, b.data, b.len, &fuzz_limits, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "fuzz-json: rebuilt document refused: %s\n",
		    err);
		abort();
	}
	same_tokens(&j, &j2);
	json_free(&j2);

	/* Copying an object without some keys. */
	if (json_type(&j, 0) == JSON_OBJECT) {
		buf_reset(&b);
		FUZZ_CHECK(json_write_object_except(&b, &j, 0, omit, 0, &n) ==
		    0);
		FUZZ_CHECK(json_parse(&j2, b.data, b.len, &fuzz_limits, err,
		    sizeof(err)) == 0);
		FUZZ_CHECK(json_size(&j2, 0) == n);
		FUZZ_CHECK(n == json_size(&j, 0) -
		    (json_get(&j, 0, "model") != -1) -
		    (json_get(&j, 0, "stream") != -1));
		FUZZ_CHECK(json_get(&j2, 0, "model") == -1);
		json_free(&j2);
	}
	buf_free(&b);
	json_free(&j);
	return 0;
}
