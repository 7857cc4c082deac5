/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Tests for yaml.c: the node tree and its lines, the typed readers, the
 * limits, and the exact "FILE:LINE: message" for every kind of YAML the
 * loader refuses.
 */

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "ytree.h"
#include "unit.h"

#define MAX_DEPTH	64
#define MAX_SCALAR	(64 * 1024)
#define MAX_FILE	(4 * 1024 * 1024)

/* Documents the loader refuses, and what it says. */
static const struct {
	const char	*doc;
	const char	*err;
} bad_docs[] = {
	{ "a: &x 1\n", "t.yaml:1: anchors and aliases are not supported" },
	{ "a: 1\nb: *x\n", "t.yaml:2: anchors and aliases are not supported" },
	{ "a: &m\n  b: 1\n", "t.yaml:1: anchors and aliases are not supported" },
	{ "- &s [1]\n", "t.yaml:1: anchors and aliases are not supported" },
	{ "a: !foo 1\n",
	    "t.yaml:1: tags other than the standard ones are not supported" },
	{ "a: !!map x\n",
	    "t.yaml:1: tags other than the standard ones are not supported" },
	{ "a: !!seq {b: 1}\n",
	    "t.yaml:1: tags other than the standard ones are not supported" },
	{ "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
	    "t.yaml:3: tags other than the standard ones are not supported" },
	{ "a: 1\n---\nb: 2\n", "t.yaml:2: only one document per file is "
	    "supported" },
	{ "a: 1\nb: 2\na: 3\n", "t.yaml:3: duplicated key \"a\"" },
	{ "{a: 1, b: 2, b: 3}\n", "t.yaml:1: duplicated key \"b\"" },
	{ "x:\n  k: 1\n  j: 2\n  k: 3\n  j: 4\n",
	    "t.yaml:4: duplicated key \"k\"" },
	{ "\"a\\nb\": 1\n\"a\\nb\": 2\n", "t.yaml:2: duplicated key \"a?b\"" },
	{ "? [a]\n: 1\n", "t.yaml:1: mapping keys must be scalars" },
	{ "{[a]: 1}\n", "t.yaml:1: mapping keys must be scalars" },
	{ "? {a: 1}\n: 1\n", "t.yaml:1: mapping keys must be scalars" },
	{ "a: \"x\\0y\"\n", "t.yaml:1: NUL character in scalar" },
	{ "a: b: c\n", "t.yaml:1: mapping values are not allowed in this "
	    "context" },
	{ "a: [1, 2\n", "t.yaml:2: did not find expected ',' or ']' (while "
	    "parsing a flow sequence at line 1)" },
	{ "a: 'open\n", "t.yaml:2: found unexpected end of stream (while "
	    "scanning a quoted scalar at line 1)" },
	{ "a:\n\tb: 1\n", "t.yaml:2: found character that cannot start any "
	    "token (while scanning for the next token at line 2)" },
	{ "- a\nb: 1\n", "t.yaml:2: did not find expected '-' indicator "
	    "(while parsing a block collection at line 1)" },
	{ "a: 1\nb: \xff\n", "t.yaml:2: invalid leading UTF-8 octet" },
};

/* Scalars and what ytree_is_null says. */
static const struct {
	const char	*doc;
	int		 null;
} nulls[] = {
	{ "v:\n", 1 }, { "v: ~\n", 1 }, { "v: null\n", 1 }, { "v: Null\n", 1 },
	{ "v: NULL\n", 1 }, { "v: \"\"\n", 0 }, { "v: 'null'\n", 0 },
	{ "v: nul\n", 0 }, { "v: 0\n", 0 }, { "v: !!str null\n", 0 },
};

/* ytree_bool: -1 where it must refuse. */
static const struct {
	const char	*doc;
	int		 want;
} bools[] = {
	{ "v: true\n", 1 }, { "v: True\n", 1 }, { "v: yes\n", 1 },
	{ "v: ON\n", 1 }, { "v: false\n", 0 }, { "v: no\n", 0 },
	{ "v: Off\n", 0 }, { "v: \"true\"\n", -1 }, { "v: 1\n", -1 },
	{ "v: maybe\n", -1 }, { "v:\n", -1 }, { "v: [true]\n", -1 },
};

/* ytree_long within [-100, 100]: the value, or the error. */
static const struct {
	const char	*doc;
	long		 want;
	const char	*err;
} longs[] = {
	{ "v: 42\n", 42, NULL },
	{ "v: -5\n", -5, NULL },
	{ "v: +7\n", 7, NULL },
	{ "v: 0100\n", 100, NULL },
	{ "v: 101\n", 0, "t.yaml:1: integer out of range [-100, 100]" },
	{ "v: -101\n", 0, "t.yaml:1: integer out of range [-100, 100]" },
	{ "v: 99999999999999999999999\n", 0,
	    "t.yaml:1: integer out of range [-100, 100]" },
	{ "v: 0x10\n", 0, "t.yaml:1: expected an integer" },
	{ "v: 12abc\n", 0, "t.yaml:1: expected an integer" },
	{ "v: 1.5\n", 0, "t.yaml:1: expected an integer" },
	{ "v: '5'\n", 0, "t.yaml:1: expected an integer" },
	{ "v:\n", 0, "t.yaml:1: expected an integer" },
	{ "v: -x\n", 0, "t.yaml:1: expected an integer" },
	{ "v:\n  - 1\n", 0, "t.yaml:2: expected an integer" },
};

/* snprintf into a test buffer, stopping the test if it does not fit. */
static void NM_PRINTF(3, 4)
format(char *out, size_t len, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "test path too long\n");
		exit(1);
	}
}

/* Load a document named t.yaml; NULL with err set on failure. */
static struct ynode *
load(const char *doc, char *err, size_t errlen)
{
	return (ytree_load_string("t.yaml", doc, strlen(doc), err, errlen));
}

/* The refused documents give exactly their message. */
static void
test_bad_docs(void)
{
	struct ynode	*root;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < NM_NELEM(bad_docs); i++) {
		err[0] = '\0';
		root = load(bad_docs[i].doc, err, sizeof(err));
		CHECK(root == NULL);
		CHECK_STR(err, bad_docs[i].err);
		ytree_free(root);
	}
}

/* Empty input, comments only and a bare "---" are empty mappings. */
static void
test_empty(void)
{
	static const char *const docs[] = {
		"", "# just a comment\n\n", "---\n", "---\n...\n",
	};
	struct ynode	*root;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < NM_NELEM(docs); i++) {
		root = load(docs[i], err, sizeof(err));
		CHECK(root != NULL);
		if (root == NULL)
			continue;
		CHECK(root->type == YNODE_MAP);
		CHECK(root->n == 0);
		CHECK_STR(root->file, "t.yaml");
		CHECK(ytree_get(root, "a") == NULL);
		ytree_free(root);
	}
}

/* The tree: types, lines, strings, quoting, lookups. */
static void
test_tree(void)
{
	static const char doc[] =
	    "# header\n"
	    "a: 1\n"
	    "b:\n"
	    "  - x\n"
	    "  - 'y'\n"
	    "  - {k: v}\n"
	    "c: |\n"
	    "  text\n"
	    "d: !!str 5\n"
	    "\"e f\": \"\\u00e9\"\n";
	struct ynode	*root, *b, *e;
	const char	*s;
	char		 err[256];

	root = load(doc, err, sizeof(err));
	CHECK(root != NULL);
	if (root == NULL)
		return;
	CHECK(root->type == YNODE_MAP);
	CHECK(root->n == 5);
	CHECK(root->line == 2);
	CHECK_STR(root->keys[0]->str, "a");
	CHECK(root->vals[0]->type == YNODE_SCALAR);
	CHECK_STR(root->vals[0]->str, "1");
	CHECK(root->vals[0]->len == 1);
	CHECK(root->vals[0]->quoted == 0);
	CHECK(root->vals[0]->line == 2);
	CHECK(root->vals[0]->file == root->file);

	b = ytree_get(root, "b");
	CHECK(b != NULL && b->type == YNODE_SEQ);
	if (b != NULL && b->type == YNODE_SEQ) {
		CHECK(b->n == 3);
		CHECK(b->line == 4);
		CHECK(b->keys == NULL);
		CHECK_STR(b->vals[0]->str, "x");
		CHECK(b->vals[0]->quoted == 0);
		CHECK_STR(b->vals[1]->str, "y");
		CHECK(b->vals[1]->quoted == 1);
		CHECK(b->vals[1]->line == 5);
		CHECK(b->vals[2]->type == YNODE_MAP);
		CHECK(b->vals[2]->line == 6);
		CHECK_STR(ytree_get(b->vals[2], "k")->str, "v");
	}
	CHECK_STR(ytree_get(root, "c")->str, "text\n");
	CHECK(ytree_get(root, "c")->quoted == 1);
	CHECK_STR(ytree_get(root, "d")->str, "5");
	CHECK(ytree_get(root, "d")->quoted == 1);
	e = ytree_get(root, "e f");
	CHECK(e != NULL);
	if (e != NULL) {
		CHECK_STR(e->str, "\xc3\xa9");
		CHECK(e->len == 2);
		CHECK(e->line == 10);
	}
	CHECK(ytree_get(root, "z") == NULL);
	CHECK(ytree_get(b, "x") == NULL);
	CHECK(ytree_get(NULL, "a") == NULL);

	CHECK(ytree_string(root->vals[0], &s, err, sizeof(err)) == 0);
	CHECK_STR(s, "1");
	CHECK(ytree_string(b, &s, err, sizeof(err)) == -1);
	CHECK_STR(err, "t.yaml:4: expected a string");
	CHECK(ytree_error(e, err, sizeof(err), "boom %d", 7) == -1);
	CHECK_STR(err, "t.yaml:10: boom 7");
	CHECK(ytree_error(NULL, err, sizeof(err), "no place") == -1);
	CHECK_STR(err, "no place");
	CHECK(ytree_error(e, NULL, 0, "nowhere") == -1);
	ytree_free(root);
}

/* ytree_is_null, ytree_bool, ytree_long and ytree_string on scalars. */
static void
test_readers(void)
{
	struct ynode	*root;
	const char	*s;
	char		 err[256];
	long		 l;
	int		 b;
	size_t		 i;

	for (i = 0; i < NM_NELEM(nulls); i++) {
		root = load(nulls[i].doc, err, sizeof(err));
		CHECK(root != NULL);
		CHECK(ytree_is_null(ytree_get(root, "v")) == nulls[i].null);
		ytree_free(root);
	}
	CHECK(ytree_is_null(NULL) == 0);

	for (i = 0; i < NM_NELEM(bools); i++) {
		root = load(bools[i].doc, err, sizeof(err));
		CHECK(root != NULL);
		b = -1;
		err[0] = '\0';
		if (bools[i].want == -1) {
			CHECK(ytree_bool(ytree_get(root, "v"), &b, err,
			    sizeof(err)) == -1);
			CHECK(strstr(err, ": expected true or false") != NULL);
		} else {
			CHECK(ytree_bool(ytree_get(root, "v"), &b, err,
			    sizeof(err)) == 0);
			CHECK(b == bools[i].want);
		}
		ytree_free(root);
	}

	for (i = 0; i < NM_NELEM(longs); i++) {
		root = load(longs[i].doc, err, sizeof(err));
		CHECK(root != NULL);
		l = 12345;
		err[0] = '\0';
		if (longs[i].err == NULL) {
			CHECK(ytree_long(ytree_get(root, "v"), -100, 100, &l, err,
			    sizeof(err)) == 0);
			CHECK(l == longs[i].want);
		} else {
			CHECK(ytree_long(ytree_get(root, "v"), -100, 100, &l, err,
			    sizeof(err)) == -1);
			CHECK_STR(err, longs[i].err);
			CHECK(l == 12345);
		}
		ytree_free(root);
	}
	root = load("v: 9223372036854775807\n", err, sizeof(err));
	CHECK(ytree_long(ytree_get(root, "v"), LONG_MIN, LONG_MAX, &l, err,
	    sizeof(err)) == 0);
	CHECK(l == LONG_MAX);
	ytree_free(root);

	root = load("v: ~\nw: ''\n", err, sizeof(err));
	CHECK(ytree_string(ytree_get(root, "v"), &s, err, sizeof(err)) == -1);
	CHECK_STR(err, "t.yaml:1: expected a string");
	CHECK(ytree_string(ytree_get(root, "w"), &s, err, sizeof(err)) == 0);
	CHECK_STR(s, "");
	ytree_free(root);
}

/* Nesting, scalar and size limits, at and just past each. */
static void
test_limits(void)
{
	struct ynode	*root;
	char		*doc, err[256];
	size_t		 i;

	/* 64 nested flow sequences load, 65 do not. */
	doc = malloc(2 * (MAX_DEPTH + 1) + 2);
	CHECK(doc != NULL);
	if (doc == NULL)
		return;
	for (i = 0; i < MAX_DEPTH; i++)
		doc[i] = '[';
	for (i = 0; i < MAX_DEPTH; i++)
		doc[MAX_DEPTH + i] = ']';
	doc[2 * MAX_DEPTH] = '\0';
	root = load(doc, err, sizeof(err));
	CHECK(root != NULL && root->type == YNODE_SEQ);
	ytree_free(root);
	for (i = 0; i < MAX_DEPTH + 1; i++)
		doc[i] = '[';
	for (i = 0; i < MAX_DEPTH + 1; i++)
		doc[MAX_DEPTH + 1 + i] = ']';
	doc[2 * (MAX_DEPTH + 1)] = '\0';
	root = load(doc, err, sizeof(err));
	CHECK(root == NULL);
	CHECK_STR(err, "t.yaml:1: nesting deeper than 64 levels");
	free(doc);

	/* A 64 KiB scalar loads; one byte more does not. */
	doc = malloc(MAX_SCALAR + 8);
	CHECK(doc != NULL);
	if (doc == NULL)
		return;
	memcpy(doc, "v: ", 3);
	memset(doc + 3, 'x', MAX_SCALAR);
	doc[3 + MAX_SCALAR] = '\0';
	root = load(doc, err, sizeof(err));
	CHECK(root != NULL && ytree_get(root, "v")->len == MAX_SCALAR);
	ytree_free(root);
	doc[3 + MAX_SCALAR] = 'x';
	doc[4 + MAX_SCALAR] = '\0';
	root = load(doc, err, sizeof(err));
	CHECK(root == NULL);
	CHECK_STR(err, "t.yaml:1: scalar longer than 65536 bytes");
	free(doc);

	/* More than 4 MiB is refused before parsing. */
	doc = malloc(MAX_FILE + 1);
	CHECK(doc != NULL);
	if (doc == NULL)
		return;
	memset(doc, '#', MAX_FILE + 1);
	root = ytree_load_string("big.yaml", doc, MAX_FILE + 1, err,
	    sizeof(err));
	CHECK(root == NULL);
	CHECK_STR(err, "big.yaml: larger than 4194304 bytes");
	root = ytree_load_string("big.yaml", doc, MAX_FILE, err, sizeof(err));
	CHECK(root != NULL && root->type == YNODE_MAP && root->n == 0);
	ytree_free(root);
	free(doc);
}

/* ytree_load_file on a file, a missing file and a folder. */
static void
test_files(const char *datadir)
{
	struct ynode	*root, *v;
	char		 path[PATH_MAX], want[PATH_MAX + 64], err[PATH_MAX + 64];

	format(path, sizeof(path), "%s/yaml/sample.yaml", datadir);
	root = ytree_load_file(path, err, sizeof(err));
	CHECK(root != NULL);
	if (root != NULL) {
		CHECK_STR(root->file, path);
		CHECK_STR(ytree_get(root, "name")->str, "sample");
		CHECK(ytree_get(root, "list")->n == 2);
		v = ytree_get(ytree_get(ytree_get(root, "nested"), "deep"),
		    "value");
		CHECK(v != NULL && v->line == 8);
		CHECK_STR(v != NULL ? v->file : NULL, path);
	}
	ytree_free(root);

	format(path, sizeof(path), "%s/yaml/missing.yaml", datadir);
	format(want, sizeof(want), "%s: No such file or directory", path);
	CHECK(ytree_load_file(path, err, sizeof(err)) == NULL);
	CHECK_STR(err, want);

	format(path, sizeof(path), "%s/yaml", datadir);
	format(want, sizeof(want), "%s: not a regular file", path);
	CHECK(ytree_load_file(path, err, sizeof(err)) == NULL);
	CHECK_STR(err, want);
}

int
main(void)
{
	const char	*src = getenv("NM_SRCDIR");
	char		 datadir[PATH_MAX];

	if (src == NULL || *src == '\0')
		src = ".";
	format(datadir, sizeof(datadir), "%s/test/unit/data", src);

	test_bad_docs();
	test_empty();
	test_tree();
	test_readers();
	test_limits();
	test_files(datadir);
	ytree_free(NULL);
	UNIT_DONE();
}
