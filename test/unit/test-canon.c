/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for canon: tables of documents and their exact canonical
 * form (numbers, escapes, surrogates, key order), pairs that must and
 * must not share a form, the request helper's omitted fields, the
 * canonical (whitespace) mode and its boundaries, limits and big inputs.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "unit.h"

static const struct json_limits test_limits = { 200, 2000000 };

struct canon_case {
	const char	*in;
	const char	*out;	/* the canonical form, or NULL when refused */
	const char	*err;	/* a part of the message when refused */
};

static const struct canon_case canon_cases[] = {
	/* Numbers: one spelling per value. */
	{ "1", "1", NULL },
	{ "1.0", "1", NULL },
	{ "1e0", "1", NULL },
	{ "1E0", "1", NULL },
	{ "1e+0", "1", NULL },
	{ "10e-1", "1", NULL },
	{ "0.1e1", "1", NULL },
	{ "100e-2", "1", NULL },
	{ "0.001e3", "1", NULL },
	{ "1.000000000000000000000000000000", "1", NULL },
	{ "0", "0", NULL },
	{ "-0", "0", NULL },
	{ "0.0", "0", NULL },
	{ "-0.0e-5", "0", NULL },
	{ "0e999999999999999999999", "0", NULL },
	{ "-0E-999999999999999999999", "0", NULL },
	{ "9007199254740993", "9007199254740993", NULL },
	{ "9007199254740992", "9007199254740992", NULL },
	{ "9007199254740993.0", "9007199254740993", NULL },
	{ "18446744073709551617", "18446744073709551617", NULL },
	{ "123456789012345678901", "123456789012345678901", NULL },
	{ "1234567890123456789012", "1.234567890123456789012e21", NULL },
	{ "100000000000000000000", "100000000000000000000", NULL },
	{ "1000000000000000000000", "1e21", NULL },
	{ "1e20", "100000000000000000000", NULL },
	{ "1e21", "1e21", NULL },
	{ "12e19", "120000000000000000000", NULL },
	{ "-1.5", "-1.5", NULL },
	{ "-15e-1", "-1.5", NULL },
	{ "-0.15e1", "-1.5", NULL },
	{ "0.5", "0.5", NULL },
	{ "5e-1", "0.5", NULL },
	{ "0.000001", "0.000001", NULL },
	{ "1e-6", "0.000001", NULL },
	{ "1e-7", "1e-7", NULL },
	{ "0.0000001", "1e-7", NULL },
	{ "0.00000012345", "1.2345e-7", NULL },
	{ "123.456", "123.456", NULL },
	{ "123456e-3", "123.456", NULL },
	{ "0.1", "0.1", NULL },
	{ "0.30000000000000004", "0.30000000000000004", NULL },
	{ "3.14159265358979323846264338327950288",
	    "3.14159265358979323846264338327950288", NULL },
	{ "1e100000", "1e100000", NULL },
	{ "1e-100000", "1e-100000", NULL },
	{ "10e99999", "1e100000", NULL },
	{ "0.1e-99999", "1e-100000", NULL },
	{ "1e0000000000000000000000000000000000005", "100000", NULL },
	{ "1e100001", NULL, "exponent out of range" },
	{ "1e-100001", NULL, "exponent out of range" },
	{ "1e999999999", NULL, "exponent out of range" },
	{ "-1e9999999999999999999999", NULL, "exponent out of range" },
	{ "[1e999999999]", NULL, "exponent out of range" },
	/* Literals. */
	{ "true", "true", NULL },
	{ "false", "false", NULL },
	{ " null ", "null", NULL },
	/* Strings: one escape form. */
	{ "\"abc\"", "\"abc\"", NULL },
	{ "\"\\u0061\\u0062c\"", "\"abc\"", NULL },
	{ "\"\\/\"", "\"/\"", NULL },
	{ "\"a\\\"b\\\\c\"", "\"a\\\"b\\\\c\"", NULL },
	{ "\"\\u0022\\u005C\"", "\"\\\"\\\\\"", NULL },
	{ "\"\\n\\t\\r\\b\\f\"", "\"\\n\\t\\r\\b\\f\"", NULL },
	{ "\"\\u000a\\u0009\\u000D\\u0008\\u000C\"", "\"\\n\\t\\r\\b\\f\"",
	    NULL },
	{ "\"\\u0000\\u001f\\u001F\\u0001\"", "\"\\u0000\\u001f\\u001f\\u0001\"",
	    NULL },
	{ "\"\\u007f\x7f\"", "\"\x7f\x7f\"", NULL },
	{ "\"\\u00e9\"", "\"\xc3\xa9\"", NULL },
	{ "\"\\u00E9\"", "\"\xc3\xa9\"", NULL },
	{ "\"\xc3\xa9\"", "\"\xc3\xa9\"", NULL },
	/* é composed and decomposed stay apart: no Unicode normalisation. */
	{ "\"e\\u0301\"", "\"e\xcc\x81\"", NULL },
	{ "\"\\u20ac\"", "\"\xe2\x82\xac\"", NULL },
	{ "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"", NULL },
	{ "\"\\uD83D\\uDE00\"", "\"\xf0\x9f\x98\x80\"", NULL },
	{ "\"\xf0\x9f\x98\x80\"", "\"\xf0\x9f\x98\x80\"", NULL },
	{ "\"\\udbff\\udfff\"", "\"\xf4\x8f\xbf\xbf\"", NULL },
	{ "\"\\u2028\\u2029\"", "\"\xe2\x80\xa8\xe2\x80\xa9\"", NULL },
	{ "\" Abc \"", "\" Abc \"", NULL },
	/* Objects: sorted by unescaped key bytes, no whitespace. */
	{ "{ \"b\" : 1 , \"a\" : 2 }", "{\"a\":2,\"b\":1}", NULL },
	{ "{\"b\":1,\"\\u0061\":2}", "{\"a\":2,\"b\":1}", NULL },
	{ "{\"ab\":1,\"a\":2,\"\":3}", "{\"\":3,\"a\":2,\"ab\":1}", NULL },
	{ "{\"B\":1,\"a\":2,\"_\":3}", "{\"B\":1,\"_\":3,\"a\":2}", NULL },
	{ "{\"\xc3\xa9\":1,\"z\":2,\"\\u0000\":3}",
	    "{\"\\u0000\":3,\"z\":2,\"\xc3\xa9\":1}", NULL },
	{ "{\"\\u00e9\":1,\"\\ud83d\\ude00\":2,\"\xef\xbf\xbd\":3}",
	    "{\"\xc3\xa9\":1,\"\xef\xbf\xbd\":3,\"\xf0\x9f\x98\x80\":2}", NULL },
	{ "{\"a\":{\"d\":[3,{\"f\":1,\"e\":2}],\"c\":1.50}}",
	    "{\"a\":{\"c\":1.5,\"d\":[3,{\"e\":2,\"f\":1}]}}", NULL },
	{ "{\"stream\":true,\"user\":\"u\"}",
	    "{\"stream\":true,\"user\":\"u\"}", NULL },
	{ " [ 1 , [ ] , { } , \"\" ] ", "[1,[],{},\"\"]", NULL },
	{ "{}", "{}", NULL },
	{ "[]", "[]", NULL },
};

/* Parse in and return its canonical form (caller frees), or NULL with err. */
static char *
canon_of(const char *in, size_t len, char *err, size_t errlen)
{
	struct json	 j;
	struct buf	 b;
	char		*s;

	if (json_parse(&j, in, len, &test_limits, err, errlen) == -1)
		return NULL;
	buf_init(&b, 0);
	if (canon_write(&j, 0, &b, err, errlen) == -1) {
		buf_free(&b);
		json_free(&j);
		return NULL;
	}
	json_free(&j);
	s = buf_steal(&b, NULL);
	return s != NULL ? s : strdup("");
}

/* Request form (mode m) of a body; caller frees; NULL with err. */
static char *
request_of(const char *in, enum canon_mode m, char *err, size_t errlen)
{
	struct json	 j;
	struct buf	 b;

	if (json_parse(&j, in, strlen(in), &test_limits, err, errlen) == -1)
		return NULL;
	buf_init(&b, 0);
	if (canon_request(&j, 0, m, &b, err, errlen) == -1) {
		buf_free(&b);
		json_free(&j);
		return NULL;
	}
	json_free(&j);
	return buf_steal(&b, NULL);
}

/* The table: exact forms, refusals, and each form is a fixed point. */
static void
test_cases(void)
{
	char	 err[256], *s, *s2;
	size_t	 i;

	for (i = 0; i < NM_NELEM(canon_cases); i++) {
		const struct canon_case *c = &canon_cases[i];

		s = canon_of(c->in, strlen(c->in), err, sizeof(err));
		if (c->out == NULL) {
			CHECK(s == NULL);
			CHECK(strstr(err, c->err) != NULL);
			if (s != NULL || strstr(err, c->err) == NULL)
				fprintf(stderr, "  case %zu: %s -> %s (%s)\n",
				    i, c->in, s ? s : "(refused)", err);
			free(s);
			continue;
		}
		CHECK_STR(s, c->out);
		if (s == NULL)
			fprintf(stderr, "  case %zu: %s refused: %s\n", i,
			    c->in, err);
		if (s != NULL) {
			s2 = canon_of(s, strlen(s), err, sizeof(err));
			CHECK_STR(s2, s);
			free(s2);
		}
		free(s);
	}
}

/* Pairs that mean the same share a form; pairs that do not, do not. */
static void
test_pairs(void)
{
	static const struct {
		const char	*a, *b;
		int		 same;
	} pairs[] = {
		{ "{\"a\":1,\"b\":[1,2]}", "{\"b\":[1.0,2e0],\"a\":10e-1}", 1 },
		{ "{\"x\":\"\\u00e9\"}", "{\"x\":\"\xc3\xa9\"}", 1 },
		{ "{\"x\":\"\\ud83d\\ude00\"}", "{\"x\":\"\xf0\x9f\x98\x80\"}", 1 },
		{ "{\"seed\":9007199254740993}", "{\"seed\":9007199254740992}", 0 },
		{ "{\"seed\":-0}", "{\"seed\":0}", 1 },
		{ "[1,2]", "[2,1]", 0 },
		{ "{\"x\":\"a\"}", "{\"x\":\"A\"}", 0 },
		{ "{\"x\":\"a\"}", "{\"x\":\"a \"}", 0 },
		{ "{\"x\":\"a  b\"}", "{\"x\":\"a b\"}", 0 },
		{ "{\"x\":\"\xc3\xa9\"}", "{\"x\":\"e\xcc\x81\"}", 0 },
		{ "{\"x\":1}", "{\"x\":\"1\"}", 0 },
		{ "{\"x\":true}", "{\"x\":1}", 0 },
		{ "{\"x\":null}", "{}", 0 },
		{ "{\"x\":[]}", "{\"x\":{}}", 0 },
		{ "{\"x\":0.1}", "{\"x\":0.10000000000000001}", 0 },
		{ "{\"x\":1e400}", "{\"x\":1e401}", 0 },
		{ "{\"A\":1}", "{\"a\":1}", 0 },
	};
	char	 err[256], *a, *b;
	size_t	 i;

	for (i = 0; i < NM_NELEM(pairs); i++) {
		a = canon_of(pairs[i].a, strlen(pairs[i].a), err, sizeof(err));
		b = canon_of(pairs[i].b, strlen(pairs[i].b), err, sizeof(err));
		CHECK(a != NULL && b != NULL);
		if (a != NULL && b != NULL) {
			CHECK((strcmp(a, b) == 0) == pairs[i].same);
			if ((strcmp(a, b) == 0) != pairs[i].same)
				fprintf(stderr, "  pair %zu: %s vs %s\n", i, a,
				    b);
		}
		free(a);
		free(b);
	}
}

/* Duplicate keys never reach canon: the parser refuses them, escaped or not. */
static void
test_duplicates(void)
{
	static const char *const dups[] = {
		"{\"a\":1,\"a\":2}",
		"{\"a\":1,\"\\u0061\":1}",
		"{\"x\":{\"m\":1,\"n\":2,\"m\":1}}",
		"{\"model\":\"a\",\"messages\":[],\"model\":\"b\"}",
		"{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}",
	};
	char	 err[256], *s;
	size_t	 i;

	for (i = 0; i < NM_NELEM(dups); i++) {
		s = canon_of(dups[i], strlen(dups[i]), err, sizeof(err));
		CHECK(s == NULL);
		CHECK(strstr(err, "duplicate key") != NULL);
		free(s);
	}
}

/* canon_number directly, on the digits alone. */
static void
test_number_direct(void)
{
	static const struct {
		const char	*in, *out;
	} nums[] = {
		{ "000", "0" },	/* not JSON, but the digits rule holds */
		{ "7", "7" },
		{ "-7e-7", "-7e-7" },
		{ "12.5e+2", "1250" },
		{ "1.25E-2", "0.0125" },
	};
	struct buf	b;
	char		err[128];
	size_t		i;

	for (i = 0; i < NM_NELEM(nums); i++) {
		buf_init(&b, 0);
		CHECK(canon_number(nums[i].in, strlen(nums[i].in), &b, err,
		    sizeof(err)) == 0);
		CHECK_STR(b.data, nums[i].out);
		buf_free(&b);
	}
	buf_init(&b, 0);
	CHECK(canon_number("1.5x", 4, &b, err, sizeof(err)) == -1);
	CHECK(canon_number("", 0, &b, err, sizeof(err)) == -1);
	buf_free(&b);
	CHECK_STR(canon_mode_name(CANON_EXACT), "exact");
	CHECK_STR(canon_mode_name(CANON_TEXT), "canonical");
}

/* Long mantissas: exact to the last digit, far past any double. */
static void
test_long_numbers(void)
{
	enum { N = 5000 };
	char	*a, *b, *s, err[256];
	size_t	 k;

	a = malloc(N + 8);
	b = malloc(N + 8);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		goto out;
	/* "1000...0001" and "1000...0002": N digits apart at the last one. */
	memset(a, '0', N);
	a[0] = '1';
	a[N - 1] = '1';
	a[N] = '\0';
	memcpy(b, a, N + 1);
	b[N - 1] = '2';
	s = canon_of(a, N, err, sizeof(err));
	/* 5000 digits, first at 10^4999: scientific form. */
	CHECK(s != NULL && s[0] == '1' && s[1] == '.' &&
	    strcmp(s + strlen(s) - 6, "1e4999") == 0 && strlen(s) == N + 1 + 5);
	free(s);
	s = canon_of(a, N, err, sizeof(err));
	{
		char *t = canon_of(b, N, err, sizeof(err));

		CHECK(s != NULL && t != NULL && strcmp(s, t) != 0);
		free(t);
	}
	free(s);
	/* "0.000...0001" with N zeros: first digit at 10^-(N+1). */
	memcpy(a, "0.", 2);
	memset(a + 2, '0', N);
	a[N + 2] = '1';
	a[N + 3] = '\0';
	s = canon_of(a, strlen(a), err, sizeof(err));
	CHECK_STR(s, "1e-5001");
	free(s);
	/* Trailing zeros after the point, any number of them, vanish. */
	memcpy(a, "2.", 2);
	memset(a + 2, '0', N);
	a[N + 2] = '\0';
	s = canon_of(a, strlen(a), err, sizeof(err));
	CHECK_STR(s, "2");
	free(s);
	for (k = 0; k < 3; k++)
		a[k] = "1e5"[k];
	a[3] = '\0';
	s = canon_of(a, 3, err, sizeof(err));
	CHECK_STR(s, "100000");
	free(s);
out:
	free(a);
	free(b);
}

/* The request helper: omitted fields, everything else counts. */
static void
test_request(void)
{
	char	 err[256], *a, *b;

	a = request_of("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}],\"stream\":true,\"stream_options\":"
	    "{\"include_usage\":true},\"user\":\"u1\",\"metadata\":{\"k\":\"v\"},"
	    "\"store\":false}", CANON_EXACT, err, sizeof(err));
	CHECK_STR(a, "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],"
	    "\"model\":\"m\"}");
	b = request_of("{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],"
	    "\"model\":\"m\"}", CANON_EXACT, err, sizeof(err));
	CHECK_STR(a, b);
	free(a);
	free(b);

	/* Unknown fields count, and so does every sampling field. */
	a = request_of("{\"model\":\"m\",\"x_new_field\":1}", CANON_EXACT, err,
	    sizeof(err));
	b = request_of("{\"model\":\"m\"}", CANON_EXACT, err, sizeof(err));
	CHECK(a != NULL && b != NULL && strcmp(a, b) != 0);
	free(a);
	free(b);
	a = request_of("{\"model\":\"m\",\"temperature\":0.7}", CANON_EXACT, err,
	    sizeof(err));
	b = request_of("{\"model\":\"m\",\"temperature\":0.70}", CANON_EXACT,
	    err, sizeof(err));
	CHECK_STR(a, b);
	free(a);
	free(b);

	/* Omitted only at the top: a "user" inside a message counts. */
	a = request_of("{\"messages\":[{\"role\":\"user\",\"user\":\"x\","
	    "\"content\":\"c\"}]}", CANON_EXACT, err, sizeof(err));
	CHECK(a != NULL && strstr(a, "\"user\":\"x\"") != NULL);
	free(a);
	a = request_of("{\"tools\":[{\"metadata\":{\"stream\":1}}]}",
	    CANON_EXACT, err, sizeof(err));
	CHECK_STR(a, "{\"tools\":[{\"metadata\":{\"stream\":1}}]}");
	free(a);

	/* A body that is not an object, an unknown mode. */
	a = request_of("[1]", CANON_EXACT, err, sizeof(err));
	CHECK(a == NULL && strstr(err, "not a JSON object") != NULL);
	a = request_of("{}", (enum canon_mode)7, err, sizeof(err));
	CHECK(a == NULL && strstr(err, "mode") != NULL);
	a = request_of("{\"n\":1e999999}", CANON_EXACT, err, sizeof(err));
	CHECK(a == NULL && strstr(err, "exponent") != NULL);
}

/* canon_text on its own. */
static void
test_text(void)
{
	static const struct {
		const char	*in, *out;
	} texts[] = {
		{ "hello world", "hello world" },
		{ "  hello   world  ", "hello world" },
		{ "hello\n\n\tworld\r\n", "hello world" },
		{ "a\vb\fc", "a b c" },
		{ "", "" },
		{ " \n\t ", "" },
		{ "ab", "ab" },
		{ "a b", "a b" },
		/* Non-ASCII spaces are text: NBSP, ideographic space. */
		{ "a\xc2\xa0 b", "a\xc2\xa0 b" },
		{ "a \xe3\x80\x80  b", "a \xe3\x80\x80 b" },
		/* Inline code with one or two backticks is text. */
		{ "use  `x  =  1`  here", "use `x = 1` here" },
		{ "``a  b``", "``a b``" },
		/* Fences: verbatim, marks included. */
		{ "see:\n\n```py\ndef f():\n    return  1\n```\n\nthen  more",
		    "see: ```py\ndef f():\n    return  1\n``` then more" },
		{ "```\n  a  \n```", "```\n  a  \n```" },
		{ "x  ```  y  ", "x ```  y  " },	/* unclosed: to the end */
		{ "````\n``` inner  ```\n````  after  z",
		    "````\n``` inner  ```\n```` after z" },
		{ "``` a  ``` b  c ```  d  ```",
		    "``` a  ``` b c ```  d  ```" },
		{ "a```b  c```d  e", "a```b  c```d e" },
		{ "```  ``````  x", "```  `````` x" },
	};
	struct buf	b;
	size_t		i;

	for (i = 0; i < NM_NELEM(texts); i++) {
		buf_init(&b, 0);
		CHECK(canon_text(texts[i].in, strlen(texts[i].in), &b) == 0);
		CHECK_STR(b.data != NULL ? b.data : "", texts[i].out);
		/* A fixed point. */
		{
			struct buf	c;

			buf_init(&c, 0);
			CHECK(canon_text(b.data, b.len, &c) == 0);
			CHECK(c.len == b.len && (b.len == 0 ||
			    memcmp(c.data, b.data, b.len) == 0));
			buf_free(&c);
		}
		buf_free(&b);
	}
	buf_init(&b, 4);
	CHECK(canon_text("hello world", 11, &b) == -1);
	buf_free(&b);
}

/* The canonical (text) mode on whole requests: where it applies and where not. */
static void
test_text_mode(void)
{
	static const struct {
		const char	*a, *b;
		int		 same_exact, same_text;
	} pairs[] = {
		/* Message text: whitespace runs. */
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"hi  there\"}]}",
		  "{\"messages\":[{\"role\":\"user\",\"content\":\" hi\\nthere \"}]}",
		  0, 1 },
		/* Text parts. */
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
		  "\"text\":\"a  b\"}]}]}",
		  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
		  "\"text\":\"a b\"}]}]}", 0, 1 },
		/* System and assistant text too. */
		{ "{\"messages\":[{\"role\":\"system\",\"content\":\"be\\tbrief\"}]}",
		  "{\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"}]}",
		  0, 1 },
		/* Words never join. */
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"a b\"}]}",
		  "{\"messages\":[{\"role\":\"user\",\"content\":\"ab\"}]}", 0, 0 },
		/* Inside a code fence whitespace counts. */
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"x ```\\nif a:\\n"
		  "  b\\n```\"}]}",
		  "{\"messages\":[{\"role\":\"user\",\"content\":\"x ```\\nif a:\\n"
		  " b\\n```\"}]}", 0, 0 },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"x\\n\\n```\\nif a:\\n"
		  "  b\\n```\"}]}",
		  "{\"messages\":[{\"role\":\"user\",\"content\":\"x ```\\nif a:\\n"
		  "  b\\n```\"}]}", 0, 1 },
		/* Tool call arguments are never touched. */
		{ "{\"messages\":[{\"role\":\"assistant\",\"content\":null,"
		  "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":"
		  "{\"name\":\"f\",\"arguments\":\"{\\\"q\\\": \\\"a  b\\\"}\"}}]}]}",
		  "{\"messages\":[{\"role\":\"assistant\",\"content\":null,"
		  "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":"
		  "{\"name\":\"f\",\"arguments\":\"{\\\"q\\\": \\\"a b\\\"}\"}}]}]}",
		  0, 0 },
		/* Tool results (role tool) are data. */
		{ "{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c\","
		  "\"content\":\"a  b\"}]}",
		  "{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c\","
		  "\"content\":\"a b\"}]}", 0, 0 },
		{ "{\"messages\":[{\"role\":\"tool\",\"content\":[{\"type\":\"text\","
		  "\"text\":\"a  b\"}]}]}",
		  "{\"messages\":[{\"role\":\"tool\",\"content\":[{\"type\":\"text\","
		  "\"text\":\"a b\"}]}]}", 0, 0 },
		/* Tool definitions are never touched. */
		{ "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
		  "\"description\":\"a  b\"}}]}",
		  "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
		  "\"description\":\"a b\"}}]}", 0, 0 },
		/* Nor names, nor a non-text part, nor other fields. */
		{ "{\"messages\":[{\"role\":\"user\",\"name\":\"a  b\",\"content\":\"x\"}]}",
		  "{\"messages\":[{\"role\":\"user\",\"name\":\"a b\",\"content\":\"x\"}]}",
		  0, 0 },
		{ "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
		  "\"text\":\"a  b\"}]}]}",
		  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
		  "\"text\":\"a b\"}]}]}", 0, 0 },
		{ "{\"prompt\":\"a  b\"}", "{\"prompt\":\"a b\"}", 0, 0 },
		{ "{\"stop\":[\"a  b\"]}", "{\"stop\":[\"a b\"]}", 0, 0 },
		/* messages below the top level is not chat. */
		{ "{\"x\":{\"messages\":[{\"content\":\"a  b\"}]}}",
		  "{\"x\":{\"messages\":[{\"content\":\"a b\"}]}}", 0, 0 },
		/* Different text stays different. */
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}",
		  "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 0, 0 },
		/* Key order and escapes still count as the same in both modes. */
		{ "{\"messages\":[{\"role\":\"user\",\"content\":\"\\u0068i\"}]}",
		  "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}]}", 1, 1 },
	};
	char	 err[256], *a, *b;
	size_t	 i;
	int	 m;

	for (i = 0; i < NM_NELEM(pairs); i++) {
		for (m = CANON_EXACT; m <= CANON_TEXT; m++) {
			a = request_of(pairs[i].a, (enum canon_mode)m, err,
			    sizeof(err));
			b = request_of(pairs[i].b, (enum canon_mode)m, err,
			    sizeof(err));
			CHECK(a != NULL && b != NULL);
			if (a != NULL && b != NULL) {
				int	want = m == CANON_EXACT ?
				    pairs[i].same_exact : pairs[i].same_text;

				CHECK((strcmp(a, b) == 0) == want);
				if ((strcmp(a, b) == 0) != want)
					fprintf(stderr, "  text pair %zu mode %d:"
					    " %s vs %s\n", i, m, a, b);
			}
			free(a);
			free(b);
		}
	}
	/* The exact form of a text-mode request is left untouched. */
	a = request_of("{\"messages\":[{\"role\":\"user\",\"content\":\" a  b \"}]}",
	    CANON_TEXT, err, sizeof(err));
	CHECK_STR(a, "{\"messages\":[{\"content\":\"a b\",\"role\":\"user\"}]}");
	free(a);
}

/* Depth limits and ceilings: errors, never a crash. */
static void
test_limit_checks(void)
{
	enum { DEEP = 150 };
	struct json	 j;
	struct buf	 b;
	char		 doc[2 * DEEP + 8], err[256];
	const char	*p;
	int		 k;

	/* Deeper than CANON_MAX_DEPTH, accepted by a lenient parser. */
	for (k = 0; k < DEEP; k++)
		doc[k] = '[';
	for (k = 0; k < DEEP; k++)
		doc[DEEP + k] = ']';
	doc[2 * DEEP] = '\0';
	CHECK(json_parse(&j, doc, strlen(doc), &test_limits, err,
	    sizeof(err)) == 0);
	buf_init(&b, 0);
	CHECK(canon_write(&j, 0, &b, err, sizeof(err)) == -1);
	CHECK(strstr(err, "deeper") != NULL);
	buf_free(&b);
	json_free(&j);

	/* At the limit: fine. */
	for (k = 0; k <= CANON_MAX_DEPTH; k++)
		doc[k] = '[';
	for (k = 0; k <= CANON_MAX_DEPTH; k++)
		doc[CANON_MAX_DEPTH + 1 + k] = ']';
	doc[2 * (CANON_MAX_DEPTH + 1)] = '\0';
	CHECK(json_parse(&j, doc, strlen(doc), &test_limits, err,
	    sizeof(err)) == 0);
	buf_init(&b, 0);
	CHECK(canon_write(&j, 0, &b, err, sizeof(err)) == 0);
	CHECK(b.len == strlen(doc));
	buf_free(&b);
	json_free(&j);

	/* The output ceiling is an error with a message. */
	p = "{\"a\":\"0123456789\",\"b\":[1,2,3]}";
	CHECK(json_parse(&j, p, strlen(p), &test_limits, err,
	    sizeof(err)) == 0);
	for (k = 1; k <= (int)strlen(p); k++) {
		buf_init(&b, (size_t)k);
		if (k == (int)strlen(p))
			CHECK(canon_write(&j, 0, &b, err, sizeof(err)) == 0);
		else {
			CHECK(canon_write(&j, 0, &b, err, sizeof(err)) == -1);
			CHECK(strstr(err, "canonical form over") != NULL);
		}
		buf_free(&b);
	}
	json_free(&j);
}

/* A big body: many keys in reverse order, long strings with escapes. */
static void
test_big(void)
{
	enum { KEYS = 20000 };
	struct buf	 in, out;
	struct json	 j;
	char		 err[256], *s2;
	int		 k, ok = 1;
	const char	*p;

	buf_init(&in, 0);
	buf_appendc(&in, '{');
	for (k = KEYS - 1; k >= 0; k--)
		buf_appendf(&in, "%s\"k%05d\":\"v\\u00e9\\n%d\"", k == KEYS - 1 ?
		    "" : ", ", k, k);
	buf_appendc(&in, '}');
	CHECK(json_parse(&j, in.data, in.len, &test_limits, err,
	    sizeof(err)) == 0);
	buf_init(&out, 0);
	CHECK(canon_write(&j, 0, &out, err, sizeof(err)) == 0);
	json_free(&j);
	/* Keys come out in order. */
	p = out.data;
	for (k = 0; k < KEYS && ok; k++) {
		char	want[64];

		snprintf(want, sizeof(want), "\"k%05d\":\"v\xc3\xa9\\n%d\"", k, k);
		p = strstr(p, want);
		ok = p != NULL;
	}
	CHECK(ok);
	s2 = canon_of(out.data, out.len, err, sizeof(err));
	CHECK(s2 != NULL && strcmp(s2, out.data) == 0);
	free(s2);
	buf_free(&in);
	buf_free(&out);
}

int
main(void)
{
	test_cases();
	test_pairs();
	test_duplicates();
	test_number_direct();
	test_long_numbers();
	test_request();
	test_text();
	test_text_mode();
	test_limit_checks();
	test_big();
	UNIT_DONE();
}
