/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Fuzz target for yaml.c and the catalog checks: load the bytes as YAML,
 * check the tree's invariants and every typed reader on it, then read it
 * as a catalog and check what a loaded catalog promises.
 */

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "ytree.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "fuzz-yaml: check failed: %s (line %d)\n", \
		    #c, __LINE__);					\
		abort();						\
	}								\
} while (0)

#define FUZZ_NAME	"fuzz.yaml"

/* An error names the input and stays on one printable line. */
static void
check_err(const char *err)
{
	size_t	i, n = strlen(err);

	FUZZ_CHECK(n > sizeof(FUZZ_NAME));
	FUZZ_CHECK(strncmp(err, FUZZ_NAME ":", sizeof(FUZZ_NAME)) == 0);
	for (i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f);
}

/* The typed readers agree with each other on a scalar. */
static void
check_scalar(const struct ynode *n)
{
	const char	*s;
	char		 err[256];
	long		 l;
	int		 b;

	FUZZ_CHECK(n->str != NULL);
	FUZZ_CHECK(strlen(n->str) == n->len);
	FUZZ_CHECK(n->len <= 64 * 1024);
	FUZZ_CHECK(n->keys == NULL && n->vals == NULL && n->n == 0);
	if (ytree_string(n, &s, err, sizeof(err)) == 0)
		FUZZ_CHECK(s == n->str && !ytree_is_null(n));
	else
		FUZZ_CHECK(ytree_is_null(n));
	if (ytree_bool(n, &b, err, sizeof(err)) == 0)
		FUZZ_CHECK(b == 0 || b == 1);
	else
		FUZZ_CHECK(strstr(err, "expected true or false") != NULL);
	if (ytree_long(n, -1000, 1000, &l, err, sizeof(err)) == 0)
		FUZZ_CHECK(l >= -1000 && l <= 1000 && !n->quoted);
	(void)ytree_long(n, LONG_MIN, LONG_MAX, &l, NULL, 0);
}

/* Walk the tree: shared file name, lines, shapes, lookups, depth. */
static void
walk(const struct ynode *n, const char *file, int depth)
{
	size_t	i;

	FUZZ_CHECK(n != NULL);
	FUZZ_CHECK(n->file == file);
	FUZZ_CHECK(n->line >= 1);
	switch (n->type) {
	case YNODE_SCALAR:
		check_scalar(n);
		return;
	case YNODE_MAP:
		FUZZ_CHECK(depth <= 64);
		for (i = 0; i < n->n; i++) {
			FUZZ_CHECK(n->keys[i]->type == YNODE_SCALAR);
			walk(n->keys[i], file, depth);
			walk(n->vals[i], file, depth + 1);
			/* Keys are unique, so a lookup finds this pair. */
			FUZZ_CHECK(ytree_get(n, n->keys[i]->str) == n->vals[i]);
		}
		return;
	case YNODE_SEQ:
		FUZZ_CHECK(depth <= 64);
		FUZZ_CHECK(n->keys == NULL);
		for (i = 0; i < n->n; i++)
			walk(n->vals[i], file, depth + 1);
		FUZZ_CHECK(ytree_get(n, "") == NULL);
		return;
	default:
		FUZZ_CHECK(!"unknown node type");
	}
}

/* What a loaded catalog promises: every id and alias finds its model. */
static void
check_catalog(const struct catalog *cat)
{
	const struct model	*m;
	size_t			 i, j;

	FUZZ_CHECK(strcmp(cat->path, FUZZ_NAME) == 0);
	for (i = 0; i < cat->n; i++) {
		m = &cat->models[i];
		FUZZ_CHECK(catalog_find(cat, m->id) == m);
		FUZZ_CHECK(m->provider != NULL && m->upstream_model != NULL &&
		    m->owned_by != NULL);
		FUZZ_CHECK(m->input_per_mtok >= 0 && m->output_per_mtok >= 0 &&
		    m->cached_input_per_mtok >= 0);
		FUZZ_CHECK(m->context_window >= 1 &&
		    m->max_output <= m->context_window);
		FUZZ_CHECK((m->caps & ~0x3fu) == 0);
		FUZZ_CHECK(m->region == REGION_GLOBAL || m->region == REGION_CN);
		for (j = 0; m->aliases != NULL && m->aliases[j] != NULL; j++)
			FUZZ_CHECK(catalog_find(cat, m->aliases[j]) == m);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalog	*cat;
	struct ynode	*root;
	char		 err[512];

	err[0] = '\0';
	root = ytree_load_string(FUZZ_NAME, (const char *)data, size, err,
	    sizeof(err));
	if (root == NULL) {
		check_err(err);
		return 0;
	}
	FUZZ_CHECK(strcmp(root->file, FUZZ_NAME) == 0);
	walk(root, root->file, 1);

	err[0] = '\0';
	if ((cat = catalog_load_tree(root, err, sizeof(err))) != NULL)
		check_catalog(cat);
	else
		check_err(err);
	catalog_free(cat);
	ytree_free(root);
	return 0;
}
