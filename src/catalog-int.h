/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The catalog's private side, shared by its loader (catalog.c, at start
 * and reload) and its lookups (catalog-find.c, on the request threads,
 * reading the immutable catalog): the sorted name index and the limits.
 * Nothing else includes it.
 */
#ifndef CATALOG_INT_H
#define CATALOG_INT_H

#include <stddef.h>

#include "catalog.h"

#define CATALOG_NAME_MAX	128	/* ids, aliases, provider names */
#define CATALOG_TEXT_MAX	256	/* upstream_model, owned_by */
#define CATALOG_SUGGEST_MAX	8

/* An id or alias in the sorted index. */
struct catalog_name {
	const char	*name;
	char		 norm[CATALOG_NAME_MAX + 1];	/* catalog_normalize(name) */
	size_t		 model;
	int		 alias;		/* 0 for the id, else 1 + alias position */
	unsigned	 line;
};

/* The public catalog and its private index, freed together. */
struct catalog_full {
	struct catalog		 pub;
	struct catalog_name	*names;
	size_t			 nnames;
	size_t			 cap;
};

/* The private side of a catalog. */
static inline const struct catalog_full *
catalog_full(const struct catalog *cat)
{
	return ((const struct catalog_full *)((const char *)cat -
	    offsetof(struct catalog_full, pub)));
}

#endif
