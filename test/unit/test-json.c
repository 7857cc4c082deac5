/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for json: a table of valid and invalid documents with their
 * exact token counts or error messages, the limits, duplicate keys, the
 * accessors, exact integers, and the writer with its round trips.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "unit.h"

struct parse_case {
	const char	*in;
	size_t		 len;	/* 0: strlen(in) */
	int		 ntok;	/* tokens when valid, -1 when refused */
	const char	*err;	/* the exact message when refused */
};

static const struct parse_case parse_cases[] = {
	/* Valid documents and their token counts. */
	{ "{}", 0, 1, NULL },
	{ "[]", 0, 1, NULL },
	{ "{\"a\":1}", 0, 3, NULL },
	{ "[1,2,3]", 0, 4, NULL },
	{ " \t\r\n{\"a\" : [ true , false , null ] }\n ", 0, 6, NULL },
	{ "\"str\"", 0, 1, NULL },
	{ "123", 0, 1, NULL },
	{ " 123 ", 0, 1, NULL },
	{ "-0", 0, 1, NULL },
	{ "0.5e-3", 0, 1, NULL },
	{ "1E+10", 0, 1, NULL },
	{ "-12.25e2", 0, 1, NULL },
	{ "1e400", 0, 1, NULL },
	{ "true", 0, 1, NULL },
	{ "false", 0, 1, NULL },
	{ "null", 0, 1, NULL },
	{ "\"\"", 0, 1, NULL },
	{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0, 1, NULL },
	{ "\"\\u00e9\\ud83d\\ude00\\uFFFF\\u0000\"", 0, 1, NULL },
	{ "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"", 0, 1,
	  NULL },
	{ "\"\xed\x9f\xbf \xee\x80\x80 \x7f\"", 0, 1, NULL },
	{ "{\"a\":{\"b\":{\"c\":[]}}}", 0, 7, NULL },
	{ "[9007199254740993]", 0, 2, NULL },
	{ "{\"a\":1,\"A\":2}", 0, 5, NULL },
	{ "{\"a\":{\"a\":1}}", 0, 5, NULL },
	{ "[{\"a\":1},{\"a\":2}]", 0, 7, NULL },
	{ "[[],{},\"\",0]", 0, 5, NULL },
	{ "{\"a\\u0062\":1,\"ab \":2}", 0, 5, NULL },
	{ "[1,[2,[3,[4]]]]", 0, 8, NULL },

	/* Structure. */
	{ "", 0, -1, "invalid JSON at byte 0: unexpected end of input" },
	{ "   ", 0, -1, "invalid JSON at byte 3: unexpected end of input" },
	{ "{", 0, -1, "invalid JSON at byte 1: unexpected end of input" },
	{ "[1,", 0, -1, "invalid JSON at byte 3: unexpected end of input" },
	{ "{\"a\":", 0, -1, "invalid JSON at byte 5: unexpected end of input" },
	{ "[1,]", 0, -1, "invalid JSON at byte 3: unexpected character" },
	{ "[,1]", 0, -1, "invalid JSON at byte 1: unexpected character" },
	{ "{\"a\":1,}", 0, -1, "invalid JSON at byte 7: expected a string key" },
	{ "{\"a\" 1}", 0, -1, "invalid JSON at byte 5: expected ':'" },
	{ "{\"a\"::1}", 0, -1, "invalid JSON at byte 5: unexpected character" },
	{ "{\"a\":}", 0, -1, "invalid JSON at byte 5: unexpected character" },
	{ "{1:2}", 0, -1, "invalid JSON at byte 1: expected a string key" },
	{ "{[]:2}", 0, -1, "invalid JSON at byte 1: expected a string key" },
	{ "[1 2]", 0, -1, "invalid JSON at byte 3: expected ',' or ']'" },
	{ "{\"a\":1 \"b\":2}", 0, -1,
	  "invalid JSON at byte 7: expected ',' or '}'" },
	{ "[1}", 0, -1, "invalid JSON at byte 2: expected ',' or ']'" },
	{ "{]", 0, -1, "invalid JSON at byte 1: expected a string key" },
	{ "{\"a\":1]", 0, -1, "invalid JSON at byte 6: expected ',' or '}'" },
	{ "]", 0, -1, "invalid JSON at byte 0: unexpected character" },
	{ "1 2", 0, -1, "invalid JSON at byte 2: unexpected data after the value" },
	{ "{}{}", 0, -1,
	  "invalid JSON at byte 2: unexpected data after the value" },
	{ "{} x", 0, -1,
	  "invalid JSON at byte 3: unexpected data after the value" },
	{ "{}\0", 3, -1,
	  "invalid JSON at byte 2: unexpected data after the value" },
	{ "\xef\xbb\xbf{}", 0, -1, "invalid JSON at byte 0: unexpected character" },
	{ "[1,\x01]", 0, -1, "invalid JSON at byte 3: unexpected character" },
	{ "{'a':1}", 0, -1, "invalid JSON at byte 1: expected a string key" },
	{ "/* c */ 1", 0, -1, "invalid JSON at byte 0: unexpected character" },

	/* Numbers. */
	{ "01", 0, -1, "invalid JSON at byte 0: bad number" },
	{ "-", 0, -1, "invalid JSON at byte 0: bad number" },
	{ "1.", 0, -1, "invalid JSON at byte 0: bad number" },
	{ "[1.]", 0, -1, "invalid JSON at byte 1: bad number" },
	{ ".5", 0, -1, "invalid JSON at byte 0: unexpected character" },
	{ "1e", 0, -1, "invalid JSON at byte 0: bad number" },
	{ "1e+", 0, -1, "invalid JSON at byte 0: bad number" },
	{ "+1", 0, -1, "invalid JSON at byte 0: unexpected character" },
	{ "1.5.5", 0, -1, "invalid JSON at byte 0: bad number" },
	{ "0x10", 0, -1, "invalid JSON at byte 0: bad number" },
	{ "-01", 0, -1, "invalid JSON at byte 0: bad number" },
	{ "[-]", 0, -1, "invalid JSON at byte 1: bad number" },
	{ "[1e5x]", 0, -1, "invalid JSON at byte 1: bad number" },
	{ "NaN", 0, -1, "invalid JSON at byte 0: unexpected character" },
	{ "[Infinity]", 0, -1, "invalid JSON at byte 1: unexpected character" },
	{ "[-Infinity]", 0, -1, "invalid JSON at byte 1: bad number" },

	/* Literals. */
	{ "tru", 0, -1, "invalid JSON at byte 0: bad literal" },
	{ "truex", 0, -1, "invalid JSON at byte 0: bad literal" },
	{ "[nul]", 0, -1, "invalid JSON at byte 1: bad literal" },
	{ "[nulls]", 0, -1, "invalid JSON at byte 1: bad literal" },
	{ "True", 0, -1, "invalid JSON at byte 0: unexpected character" },
	{ "[true false]", 0, -1, "invalid JSON at byte 6: expected ',' or ']'" },
	{ "{\"a\":fals}", 0, -1, "invalid JSON at byte 5: bad literal" },

	/* Strings and escapes. */
	{ "\"abc", 0, -1, "invalid JSON at byte 0: unterminated string" },
	{ "[\"abc\\\"]", 0, -1, "invalid JSON at byte 1: unterminated string" },
	{ "\"a\x01" "b\"", 0, -1,
	  "invalid JSON at byte 2: control character in string" },
	{ "\"a\tb\"", 0, -1, "invalid JSON at byte 2: control character in string" },
	{ "\"a\nb\"", 0, -1, "invalid JSON at byte 2: control character in string" },
	{ "\"a\0b\"", 5, -1, "invalid JSON at byte 2: control character in string" },
	{ "\"\\x\"", 0, -1, "invalid JSON at byte 1: bad escape" },
	{ "\"\\'\"", 0, -1, "invalid JSON at byte 1: bad escape" },
	{ "\"\\", 0, -1, "invalid JSON at byte 1: bad escape" },
	{ "\"\\u12\"", 0, -1, "invalid JSON at byte 1: bad escape" },
	{ "\"\\u12G4\"", 0, -1, "invalid JSON at byte 1: bad escape" },
	{ "\"\\U0041\"", 0, -1, "invalid JSON at byte 1: bad escape" },
	{ "\"ab\\ud800\"", 0, -1,
	  "invalid JSON at byte 3: unpaired surrogate in \\u escape" },
	{ "\"\\udc00\"", 0, -1,
	  "invalid JSON at byte 1: unpaired surrogate in \\u escape" },
	{ "\"\\ud800\\u0041\"", 0, -1,
	  "invalid JSON at byte 1: unpaired surrogate in \\u escape" },
	{ "\"\\ud800\\ud800\"", 0, -1,
	  "invalid JSON at byte 1: unpaired surrogate in \\u escape" },
	{ "\"\\ud800x\"", 0, -1,
	  "invalid JSON at byte 1: unpaired surrogate in \\u escape" },
	{ "\"\\ude00\\ud83d\"", 0, -1,
	  "invalid JSON at byte 1: unpaired surrogate in \\u escape" },

	/* UTF-8. */
	{ "\"\xc0\x80\"", 0, -1, "invalid UTF-8 at byte 1" },	/* overlong NUL */
	{ "\"\xc1\xbf\"", 0, -1, "invalid UTF-8 at byte 1" },	/* overlong */
	{ "\"\xe0\x80\xaf\"", 0, -1, "invalid UTF-8 at byte 1" },	/* overlong '/' */
	{ "\"\xf0\x8f\xbf\xbf\"", 0, -1, "invalid UTF-8 at byte 1" }, /* overlong */
	{ "\"ab\xed\xa0\x80\"", 0, -1, "invalid UTF-8 at byte 3" },	/* U+D800 */
	{ "\"\xed\xbf\xbf\"", 0, -1, "invalid UTF-8 at byte 1" },	/* U+DFFF */
	{ "\"\xf4\x90\x80\x80\"", 0, -1, "invalid UTF-8 at byte 1" }, /* > 10FFFF */
	{ "\"\xf5\x80\x80\x80\"", 0, -1, "invalid UTF-8 at byte 1" },
	{ "\"\xe2\x82\"", 0, -1, "invalid UTF-8 at byte 1" },	/* truncated */
	{ "\"\xe2\x82", 0, -1, "invalid UTF-8 at byte 1" },	/* ... at the end */
	{ "\"\xf0\x9f\x98\"", 0, -1, "invalid UTF-8 at byte 1" },
	{ "\"\x80\"", 0, -1, "invalid UTF-8 at byte 1" },	/* lone continuation */
	{ "\"\xc3\xa9\xa9\"", 0, -1, "invalid UTF-8 at byte 3" },
	{ "\"\xff\"", 0, -1, "invalid UTF-8 at byte 1" },
	{ "\"\xc3(\"", 0, -1, "invalid UTF-8 at byte 1" },

	/* Duplicate keys. */
	{ "{\"a\":1,\"a\":2}", 0, -1, "duplicate key \"a\" at byte 7" },
	{ "{\"a\":1,\"\\u0061\":2}", 0, -1, "duplicate key \"a\" at byte 7" },
	{ "{\"a/\":1,\"a\\/\":2}", 0, -1, "duplicate key \"a/\" at byte 8" },
	{ "{\"\\u00e9\":1,\"\xc3\xa9\":2}", 0, -1,
	  "duplicate key \"??\" at byte 12" },
	{ "{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", 0, -1,
	  "duplicate key \"????\" at byte 18" },
	{ "{\"model\":\"x\",\"b\":1,\"model\":\"y\"}", 0, -1,
	  "duplicate key \"model\" at byte 19" },
	{ "[{\"x\":{\"k\":1,\"k\":2}}]", 0, -1, "duplicate key \"k\" at byte 13" },
	{ "{\"\":1,\"\":2}", 0, -1, "duplicate key \"\" at byte 6" },
	{ "{\"a\\\"b\":1,\"a\\u0022b\":2}", 0, -1,
	  "duplicate key \"a?b\" at byte 10" },
};

/* Every row of the table, and that nothing is left to free after an error. */
static void
test_table(void)
{
	struct json	j;
	char		err[128];
	size_t		i, len;
	int		r;

	for (i = 0; i < NM_NELEM(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];

		len = c->len != 0 ? c->len : strlen(c->in);
		r = json_parse(&j, c->in, len, NULL, err, sizeof(err));
		if (c->ntok >= 0) {
			CHECK(r == 0);
			CHECK(j.ntok == c->ntok);
			if (r != 0 || j.ntok != c->ntok)
				fprintf(stderr, "  case %zu: %s (%d tokens)\n",
				    i, err, j.ntok);
			json_free(&j);
		} else {
			CHECK(r == -1);
			CHECK(j.tok == NULL && j.ntok == 0);
			CHECK_STR(err, c->err);
		}
	}
}

/* Depth: at the limit is fine, one more is refused. */
static void
test_depth(void)
{
	struct json		j;
	struct json_limits	lim = { 3, 1000 };
	char			err[128], doc[400];
	int			n;

	CHECK(json_parse(&j, "[[[1]]]", 7, &lim, err, sizeof(err)) == 0);
	json_free(&j);
	CHECK(json_parse(&j, "[[[[1]]]]", 9, &lim, err, sizeof(err)) == -1);
	CHECK_STR(err, "JSON nested deeper than 3 levels");
	CHECK(json_parse(&j, "{\"a\":{\"b\":{\"c\":1}}}", 19, &lim, err,
	    sizeof(err)) == 0);
	json_free(&j);
	CHECK(json_parse(&j, "{\"a\":{\"b\":{\"c\":{}}}}", 20, &lim, err,
	    sizeof(err)) == -1);
	CHECK_STR(err, "JSON nested deeper than 3 levels");

	/* The default of 64, and a limit deeper than the on-stack table. */
	for (n = 0; n < 64; n++)
		doc[n] = '[';
	for (n = 0; n < 64; n++)
		doc[64 + n] = ']';
	CHECK(json_parse(&j, doc, 128, NULL, err, sizeof(err)) == 0);
	CHECK(j.ntok == 64);
	json_free(&j);
	for (n = 0; n < 65; n++)
		doc[n] = '[';
	for (n = 0; n < 65; n++)
		doc[65 + n] = ']';
	CHECK(json_parse(&j, doc, 130, NULL, err, sizeof(err)) == -1);
	CHECK_STR(err, "JSON nested deeper than 64 levels");
	for (n = 0; n < 150; n++) {
		doc[n] = '[';
		doc[300 - 1 - n] = ']';
	}
	lim.max_depth = 300;
	CHECK(json_parse(&j, doc, 300, &lim, err, sizeof(err)) == 0);
	json_free(&j);
	lim.max_depth = 149;
	CHECK(json_parse(&j, doc, 300, &lim, err, sizeof(err)) == -1);
	CHECK_STR(err, "JSON nested deeper than 149 levels");
}

/* Token limit: exactly max is fine; one more is a clear error. */
static void
test_tokens(void)
{
	struct json		j;
	struct json_limits	lim = { 64, 4 };
	char			err[128];

	CHECK(json_parse(&j, "[1,2,3]", 7, &lim, err, sizeof(err)) == 0);
	CHECK(j.ntok == 4);
	json_free(&j);
	CHECK(json_parse(&j, "[1,2,3,4]", 9, &lim, err, sizeof(err)) == -1);
	CHECK_STR(err, "JSON has more than 4 tokens");
	CHECK(json_parse(&j, "{\"a\":1,\"b\":2}", 13, &lim, err,
	    sizeof(err)) == -1);
	CHECK_STR(err, "JSON has more than 4 tokens");
	lim.max_tokens = 1;
	CHECK(json_parse(&j, "\"x\"", 3, &lim, err, sizeof(err)) == 0);
	json_free(&j);
	CHECK(json_parse(&j, "[]", 2, &lim, err, sizeof(err)) == 0);
	json_free(&j);
	CHECK(json_parse(&j, "[0]", 3, &lim, err, sizeof(err)) == -1);
	CHECK_STR(err, "JSON has more than 1 tokens");
	/* No err buffer is fine. */
	CHECK(json_parse(&j, "[0]", 3, &lim, NULL, 0) == -1);
}

/* An object of n keys "k0".."k<n-1>" plus extra; caller frees. */
static char *
many_keys(int n, const char *extra, size_t *len)
{
	struct buf	b;
	int		i;

	buf_init(&b, 0);
	buf_appendc(&b, '{');
	for (i = 0; i < n; i++)
		buf_appendf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
	buf_appends(&b, extra);
	buf_appendc(&b, '}');
	return buf_steal(&b, len);
}

/* Duplicate keys in large objects, found by sorting, and quickly. */
static void
test_many_keys(void)
{
	struct json	 j;
	char		 err[128], want[64], *doc;
	size_t		 len;
	clock_t		 t0;
	double		 secs;

	doc = many_keys(100, ",\"k0\":1", &len);
	CHECK(json_parse(&j, doc, len, NULL, err, sizeof(err)) == -1);
	snprintf(want, sizeof(want), "duplicate key \"k0\" at byte %zu",
	    len - 7);
	CHECK_STR(err, want);
	free(doc);
	doc = many_keys(100, ",\"k\\u00350\":1,\"k7\":2", &len);
	CHECK(json_parse(&j, doc, len, NULL, err, sizeof(err)) == -1);
	snprintf(want, sizeof(want), "duplicate key \"k50\" at byte %zu",
	    len - 20);
	CHECK_STR(err, want);
	free(doc);

	t0 = clock();
	doc = many_keys(100000, "", &len);
	CHECK(json_parse(&j, doc, len, NULL, err, sizeof(err)) == 0);
	CHECK(j.ntok == 200001);
	CHECK(json_get(&j, 0, "k99999") == 200000);
	json_free(&j);
	free(doc);
	doc = many_keys(100000, ",\"k4242\":0", &len);
	CHECK(json_parse(&j, doc, len, NULL, err, sizeof(err)) == -1);
	snprintf(want, sizeof(want), "duplicate key \"k4242\" at byte %zu",
	    len - 10);
	CHECK_STR(err, want);
	free(doc);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	printf("# 2 objects of 100k keys: %.1f ms\n", secs * 1000);
	CHECK(secs < 5.0);

	/* A long duplicate key is shown cut short. */
	doc = malloc(200);
	memcpy(doc, "{\"", 2);
	memset(doc + 2, 'a', 48);
	memcpy(doc + 50, "\":1,\"", 5);
	memset(doc + 55, 'a', 48);
	memcpy(doc + 103, "\":2}", 5);
	CHECK(json_parse(&j, doc, 107, NULL, err, sizeof(err)) == -1);
	CHECK_STR(err, "duplicate key "
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" at byte 54");
	free(doc);
}

/* A 1 MB chat body parses in milliseconds. */
static void
test_speed(void)
{
	struct json	 j;
	struct buf	 b;
	char		 err[128];
	clock_t		 t0;
	double		 ms;
	int		 i, r, msgs;

	buf_init(&b, 0);
	buf_appends(&b, "{\"model\":\"gpt-4o-mini\",\"stream\":true,"
	    "\"messages\":[");
	for (i = 0; b.len < 1000000; i++)
		buf_appendf(&b, "%s{\"role\":\"%s\",\"content\":\"Message %d: "
		    "the quick brown fox jumps over the lazy dog \\u00e9\\n "
		    "caf\xc3\xa9 \\\"quoted\\\" and some more text to make it "
		    "longer, 1234567890.\"}", i ? "," : "",
		    i % 2 ? "assistant" : "user", i);
	msgs = i;
	buf_appends(&b, "],\"temperature\":0.7}");
	t0 = clock();
	for (i = 0; i < 10; i++) {
		r = json_parse(&j, b.data, b.len, NULL, err, sizeof(err));
		CHECK(r == 0);
		if (r == 0 && i == 0) {
			CHECK(json_size(&j, json_get(&j, 0, "messages")) ==
			    msgs);
			CHECK(json_streq(&j, json_get(&j, 0, "model"),
			    "gpt-4o-mini"));
		}
		json_free(&j);
	}
	ms = (double)(clock() - t0) * 1000 / CLOCKS_PER_SEC / 10;
	printf("# json_parse of %zu bytes (%d messages): %.2f ms\n", b.len,
	    msgs, ms);
	CHECK(ms < 500);	/* generous: sanitizer builds are slow */
	buf_free(&b);
}

/* Types, sizes, navigation and text of the tokens. */
static void
test_accessors(void)
{
	static const char doc[] = " {\"model\":\"gpt\\u002d4\",\"n\":9007199254740993,"
	    "\"msgs\":[{\"role\":\"user\"},[1,[2]],\"x\",null],"
	    "\"ok\":true,\"no\":false,\"e\":{},\"s\\n\":\"a\\\"b\"} ";
	struct json	 j, z;
	const char	*p;
	char		 out[16];
	size_t		 n;
	int		 msgs, v, k;
	char		*s;

	CHECK(json_parse(&j, doc, strlen(doc), NULL, out, sizeof(out)) == 0);
	CHECK(json_type(&j, 0) == JSON_OBJECT);
	CHECK(json_size(&j, 0) == 7);
	CHECK(json_type(&j, json_get(&j, 0, "model")) == JSON_STRING);
	CHECK(json_streq(&j, json_get(&j, 0, "model"), "gpt-4"));
	CHECK(!json_streq(&j, json_get(&j, 0, "model"), "gpt-"));
	CHECK(!json_streq(&j, json_get(&j, 0, "model"), "gpt-44"));
	CHECK(json_type(&j, json_get(&j, 0, "n")) == JSON_NUMBER);
	p = json_ptr(&j, json_get(&j, 0, "n"), &n);
	CHECK(n == 16 && memcmp(p, "9007199254740993", 16) == 0);
	CHECK(json_get(&j, 0, "missing") == -1);
	CHECK(json_get(&j, 0, "s\n") != -1);
	CHECK(json_get(&j, 0, "s") == -1);

	msgs = json_get(&j, 0, "msgs");
	CHECK(json_type(&j, msgs) == JSON_ARRAY);
	CHECK(json_size(&j, msgs) == 4);
	CHECK(json_type(&j, json_at(&j, msgs, 0)) == JSON_OBJECT);
	CHECK(json_streq(&j, json_get(&j, json_at(&j, msgs, 0), "role"),
	    "user"));
	CHECK(json_type(&j, json_at(&j, msgs, 1)) == JSON_ARRAY);
	CHECK(json_size(&j, json_at(&j, msgs, 1)) == 2);
	CHECK(json_streq(&j, json_at(&j, msgs, 2), "x"));
	CHECK(json_type(&j, json_at(&j, msgs, 3)) == JSON_NULL);
	CHECK(json_at(&j, msgs, 4) == -1);
	CHECK(json_at(&j, msgs, -1) == -1);
	CHECK(json_at(&j, 0, 0) == -1);		/* not an array */
	CHECK(json_get(&j, msgs, "x") == -1);	/* not an object */
	CHECK(json_size(&j, json_at(&j, msgs, 2)) == -1);
	p = json_raw(&j, json_at(&j, msgs, 1), &n);
	CHECK(n == 7 && memcmp(p, "[1,[2]]", 7) == 0);
	p = json_raw(&j, json_at(&j, msgs, 2), &n);
	CHECK(n == 3 && memcmp(p, "\"x\"", 3) == 0);
	p = json_ptr(&j, json_at(&j, msgs, 2), &n);
	CHECK(n == 1 && *p == 'x');

	/* json_skip: past a whole subtree, past a key and its value. */
	CHECK(json_skip(&j, msgs) == json_get(&j, 0, "ok") - 1);
	CHECK(json_skip(&j, 0) == j.ntok);
	CHECK(json_skip(&j, msgs - 1) == json_skip(&j, msgs));
	CHECK(json_skip(&j, json_get(&j, 0, "n")) == msgs - 1);
	CHECK(json_skip(&j, j.ntok) == -1);
	CHECK(json_skip(&j, -1) == -1);

	CHECK(json_bool(&j, json_get(&j, 0, "ok"), &v) == 0 && v == 1);
	CHECK(json_bool(&j, json_get(&j, 0, "no"), &v) == 0 && v == 0);
	CHECK(json_bool(&j, json_get(&j, 0, "n"), &v) == -1);
	CHECK(json_type(&j, json_get(&j, 0, "ok")) == JSON_TRUE);
	CHECK(json_type(&j, json_get(&j, 0, "no")) == JSON_FALSE);
	CHECK(json_size(&j, json_get(&j, 0, "e")) == 0);
	CHECK(json_type(&j, -1) == JSON_NONE);
	CHECK(json_type(&j, j.ntok) == JSON_NONE);

	/* Unescaped copies. */
	k = json_get(&j, 0, "s\n");
	s = json_strdup(&j, k, &n);
	CHECK(s != NULL && n == 3);
	CHECK_STR(s, "a\"b");
	free(s);
	CHECK(json_strdup(&j, 0, &n) == NULL);
	CHECK(json_strcpy(&j, k, out, sizeof(out)) == 0);
	CHECK_STR(out, "a\"b");
	CHECK(json_strcpy(&j, k, out, 4) == 0);		/* exactly fits */
	CHECK(json_strcpy(&j, k, out, 3) == -1);
	CHECK(json_strcpy(&j, json_get(&j, 0, "model"), out, 6) == 0);
	CHECK_STR(out, "gpt-4");
	CHECK(json_strcpy(&j, json_get(&j, 0, "model"), out, 5) == -1);
	CHECK(json_strcpy(&j, 0, out, sizeof(out)) == -1);
	json_free(&j);

	/* Escapes decode to UTF-8; a NUL inside is kept but never matched. */
	p = "[\"\\u00e9\\ud83d\\ude00\\u20ac\",\"a\\u0000b\"]";
	CHECK(json_parse(&j, p, strlen(p), NULL, out, sizeof(out)) == 0);
	s = json_strdup(&j, 1, &n);
	CHECK(s != NULL && n == 9);
	CHECK_STR(s, "\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac");
	free(s);
	CHECK(json_streq(&j, 1, "\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac"));
	s = json_strdup(&j, 2, &n);
	CHECK(s != NULL && n == 3 && memcmp(s, "a\0b", 4) == 0);
	free(s);
	CHECK(!json_streq(&j, 2, "a"));
	CHECK(json_strcpy(&j, 2, out, sizeof(out)) == -1);
	json_free(&j);

	/* A bare primitive as the whole document. */
	CHECK(json_parse(&j, " 42", 3, NULL, out, sizeof(out)) == 0);
	CHECK(json_type(&j, 0) == JSON_NUMBER);
	p = json_ptr(&j, 0, &n);
	CHECK(n == 2 && memcmp(p, "42", 2) == 0);
	json_free(&j);

	/* Out of range and freed documents answer safely. */
	memset(&z, 0, sizeof(z));
	CHECK(json_type(&z, 0) == JSON_NONE);
	CHECK(json_get(&z, 0, "a") == -1);
	CHECK(json_ptr(&z, 0, &n) == NULL && n == 0);
	json_free(&z);
	json_free(NULL);
}

struct int_case {
	const char	*in;
	int		 ret;
	int64_t		 want;
};

static const struct int_case int_cases[] = {
	{ "0", 0, 0 },
	{ "-0", 0, 0 },
	{ "42", 0, 42 },
	{ "-17", 0, -17 },
	{ "9007199254740993", 0, 9007199254740993LL },
	{ "9223372036854775807", 0, INT64_MAX },
	{ "-9223372036854775808", 0, INT64_MIN },
	{ "9223372036854775808", -1, 0 },
	{ "-9223372036854775809", -1, 0 },
	{ "12345678901234567890", -1, 0 },
	{ "1.0", 0, 1 },
	{ "1.000", 0, 1 },
	{ "0.0", 0, 0 },
	{ "1.5", -1, 0 },
	{ "0.1", -1, 0 },
	{ "1e3", 0, 1000 },
	{ "1E+3", 0, 1000 },
	{ "1.5e1", 0, 15 },
	{ "15e-1", -1, 0 },
	{ "100e-2", 0, 1 },
	{ "1e18", 0, 1000000000000000000LL },
	{ "1e19", -1, 0 },
	{ "0e999999999999", 0, 0 },
	{ "1e-999999999999", -1, 0 },
	{ "1e999999999999", -1, 0 },
	{ "9.223372036854775807e18", 0, INT64_MAX },
	{ "-92233720368547758.08e2", 0, INT64_MIN },
	{ "0.00000000000000000000000000001e29", 0, 1 },
	{ "\"5\"", -1, 0 },
	{ "true", -1, 0 },
	{ "null", -1, 0 },
	{ "[1]", -1, 0 },
};

/* Exact integers, with no double on the way. */
static void
test_int64(void)
{
	struct json	j;
	char		err[128];
	int64_t		v;
	size_t		i;

	for (i = 0; i < NM_NELEM(int_cases); i++) {
		const struct int_case *c = &int_cases[i];

		CHECK(json_parse(&j, c->in, strlen(c->in), NULL, err,
		    sizeof(err)) == 0);
		v = -42;
		CHECK(json_int64(&j, 0, &v) == c->ret);
		CHECK(c->ret == 0 ? v == c->want : v == -42);
		if (c->ret == 0 && v != c->want)
			fprintf(stderr, "  %s -> %lld\n", c->in, (long long)v);
		json_free(&j);
	}
}

struct write_case {
	const char	*in;
	size_t		 len;
	const char	*out;
};

static const struct write_case write_cases[] = {
	{ "plain", 0, "\"plain\"" },
	{ "", 0, "\"\"" },
	{ "a\"b\\c/d", 0, "\"a\\\"b\\\\c/d\"" },
	{ "\b\f\n\r\t", 0, "\"\\b\\f\\n\\r\\t\"" },
	{ "\x01\x1f\x7f", 0, "\"\\u0001\\u001f\x7f\"" },
	{ "a\0b", 3, "\"a\\u0000b\"" },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0,
	  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
	{ "bad \xff end", 0, "\"bad \xef\xbf\xbd end\"" },
	{ "\xc0\x80", 0, "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
	{ "\xed\xa0\x80", 0, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
	{ "cut \xe2\x82", 0, "\"cut \xef\xbf\xbd\xef\xbf\xbd\"" },
};

/* The string writer, and that what it writes parses back to the input. */
static void
test_write_str(void)
{
	struct buf	 b;
	struct json	 j;
	char		 all[256], err[128], *s;
	size_t		 i, n, len;

	buf_init(&b, 0);
	for (i = 0; i < NM_NELEM(write_cases); i++) {
		const struct write_case *c = &write_cases[i];

		len = c->len ? c->len : strlen(c->in);
		buf_reset(&b);
		CHECK(json_write_str(&b, c->in, len) == 0);
		CHECK_STR(b.data, c->out);
	}

	/* Every byte below 0x80 round-trips through writer and parser. */
	for (i = 0; i < 128; i++)
		all[i] = (char)i;
	memcpy(all + 128, "\xc3\xa9\xf4\x8f\xbf\xbf", 6);
	buf_reset(&b);
	CHECK(json_write_str(&b, all, 134) == 0);
	CHECK(json_parse(&j, b.data, b.len, NULL, err, sizeof(err)) == 0);
	s = json_strdup(&j, 0, &n);
	CHECK(s != NULL && n == 134 && memcmp(s, all, 134) == 0);
	free(s);
	json_free(&j);

	buf_reset(&b);
	CHECK(json_write_cstr(&b, "x") == 0);
	CHECK_STR(b.data, "\"x\"");
	buf_free(&b);

	/* At the ceiling nothing is half-written. */
	buf_init(&b, 8);
	CHECK(buf_appends(&b, "ab") == 0);
	CHECK(json_write_str(&b, "hello", 5) == -1);
	CHECK(b.toobig);
	CHECK_STR(b.data, "ab");
	CHECK(json_write_str(&b, "x\n", 2) == 0);
	CHECK_STR(b.data, "ab\"x\\n\"");
	buf_free(&b);
}

/* Copying an object without some members, closed or left open. */
static void
test_object_except(void)
{
	static const char doc[] = "{\"model\":\"m\", \"stream\" : true,"
	    "\"messages\":[1, 2],\"\\u0073tream_options\":{\"a\":1},"
	    "\"x\":{\"a\" : 1}}";
	static const char *const omit[] = { "stream", "stream_options", NULL };
	static const char *const omit_all[] = { "model", "stream", "messages",
	    "stream_options", "x", NULL };
	struct json	 j, j2;
	struct buf	 b;
	char		 err[128];
	int		 n;

	CHECK(json_parse(&j, doc, strlen(doc), NULL, err, sizeof(err)) == 0);
	buf_init(&b, 0);
	CHECK(json_write_object_except(&b, &j, 0, omit, 0, &n) == 0);
	CHECK_STR(b.data, "{\"model\":\"m\",\"messages\":[1, 2],"
	    "\"x\":{\"a\" : 1}}");
	CHECK(n == 3);
	CHECK(json_parse(&j2, b.data, b.len, NULL, err, sizeof(err)) == 0);
	CHECK(json_size(&j2, 0) == 3);
	json_free(&j2);

	buf_reset(&b);
	CHECK(json_write_object_except(&b, &j, 0, omit, 1, &n) == 0);
	CHECK(n == 3);
	CHECK(buf_appends(&b, ",\"stream\":false}") == 0);
	CHECK_STR(b.data, "{\"model\":\"m\",\"messages\":[1, 2],"
	    "\"x\":{\"a\" : 1},\"stream\":false}");

	buf_reset(&b);
	CHECK(json_write_object_except(&b, &j, 0, omit_all, 0, &n) == 0);
	CHECK_STR(b.data, "{}");
	CHECK(n == 0);
	buf_reset(&b);
	CHECK(json_write_object_except(&b, &j, 0, omit_all, 1, &n) == 0);
	CHECK_STR(b.data, "{");
	CHECK(n == 0);

	buf_reset(&b);
	CHECK(json_write_object_except(&b, &j, 0, NULL, 0, NULL) == 0);
	CHECK_STR(b.data, "{\"model\":\"m\",\"stream\":true,\"messages\":[1, 2],"
	    "\"\\u0073tream_options\":{\"a\":1},\"x\":{\"a\" : 1}}");

	/* Not an object: nothing written. */
	buf_reset(&b);
	CHECK(json_write_object_except(&b, &j, json_get(&j, 0, "messages"),
	    omit, 0, &n) == -1);
	CHECK(b.len == 0);

	/* json_write_raw of the root and of a member. */
	buf_reset(&b);
	CHECK(json_write_raw(&b, &j, json_get(&j, 0, "model")) == 0);
	CHECK_STR(b.data, "\"m\"");
	CHECK(json_write_raw(&b, &j, 99) == -1);
	CHECK_STR(b.data, "\"m\"");
	buf_reset(&b);
	CHECK(json_write_raw(&b, &j, 0) == 0);
	CHECK_STR(b.data, doc);
	buf_free(&b);

	/* A ceiling leaves the buffer as it was. */
	buf_init(&b, 20);
	CHECK(buf_appends(&b, "pre") == 0);
	CHECK(json_write_object_except(&b, &j, 0, omit, 0, &n) == -1);
	CHECK_STR(b.data, "pre");
	buf_free(&b);
	json_free(&j);
}

int
main(void)
{
	test_table();
	test_depth();
	test_tokens();
	test_many_keys();
	test_speed();
	test_accessors();
	test_int64();
	test_write_str();
	test_object_except();
	UNIT_DONE();
}
