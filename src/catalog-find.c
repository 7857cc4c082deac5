/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Catalog lookups, on the request threads: a model by id or alias however
 * it is spelt (one binary search of the normalised index), suggestions
 * for a name that is not there, and matching for model lists.  They only
 * read the immutable catalog catalog.c loaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "catalog.h"
#include "catalog-int.h"

/* Compare a normalised name with an index entry, for bsearch(). */
static int
name_find_cmp(const void *key, const void *elem)
{
	const struct catalog_name	*n = elem;

	return (strcmp(key, n->norm));
}

/* The index entry for a normalised name, or NULL. */
static const struct catalog_name *
name_lookup(const struct catalog_full *f, const char *norm)
{
	return (bsearch(norm, f->names, f->nnames, sizeof(*f->names),
	    name_find_cmp));
}

/* The model with this id or alias, or NULL.  Owned by the catalog. */
const struct model *
catalog_find(const struct catalog *cat, const char *id)
{
	const struct catalog_full	*f;
	const struct catalog_name	*n;
	const char			*slash;
	char				 norm[CATALOG_NAME_MAX + 1];

	if (cat == NULL || id == NULL || cat->n == 0 ||
	    catalog_normalize(id, norm, sizeof(norm)) == -1)
		return (NULL);
	f = catalog_full(cat);
	if ((n = name_lookup(f, norm)) == NULL &&
	    (slash = strchr(norm, '/')) != NULL && slash[1] != '\0')
		n = name_lookup(f, slash + 1);
	return (n != NULL ? &cat->models[n->model] : NULL);
}

/*
 * Edit distance between a and b (insert, delete, replace, swap of two
 * neighbours), both at most CATALOG_NAME_MAX long.
 */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t	rows[3][CATALOG_NAME_MAX + 1], *pp, *p, *cur, *t;
	size_t	la = strlen(a), lb = strlen(b), i, j, cost, v;

	for (j = 0; j <= lb; j++)
		rows[1][j] = j;
	pp = rows[0];
	p = rows[1];
	cur = rows[2];
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			cost = a[i - 1] != b[j - 1];
			v = NM_MIN(p[j] + 1, cur[j - 1] + 1);
			v = NM_MIN(v, p[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1])
				v = NM_MIN(v, pp[j - 2] + 1);
			cur[j] = v;
		}
		/* Rotate: the row before last is overwritten next. */
		t = pp;
		pp = p;
		p = cur;
		cur = t;
	}
	return (p[lb]);
}

/* A suggestion so far: how far its name is, and which entry it is. */
struct suggestion {
	size_t				 dist;
	const struct catalog_name	*n;
};

/* 1 if suggestion a goes before b: closer, then an id, then by name. */
static int
suggestion_before(const struct suggestion *a, const struct suggestion *b)
{
	if (a->dist != b->dist)
		return (a->dist < b->dist);
	if ((a->n->alias == 0) != (b->n->alias == 0))
		return (a->n->alias == 0);
	return (strcmp(a->n->name, b->n->name) < 0);
}

/* How close the normalised query q is to an entry; SIZE_MAX if not close. */
static size_t
name_distance(const char *q, const struct catalog_name *n)
{
	size_t	d, len = strlen(q);

	d = edit_distance(q, n->norm);
	if (d <= NM_MAX(len / 3, (size_t)1))
		return (d);
	/* Part of a name: as far as the letters it lacks. */
	if (len >= 3 && strstr(n->norm, q) != NULL)
		return (strlen(n->norm) - len);
	return (SIZE_MAX);
}

/* Catalog names close to name, closest first, one per model. */
size_t
catalog_suggest(const struct catalog *cat, const char *name,
    const char **out, size_t max)
{
	const struct catalog_full	*f;
	struct suggestion		 best[CATALOG_SUGGEST_MAX], s;
	const char			*slash;
	char				 norm[CATALOG_NAME_MAX + 1];
	size_t				 nbest = 0, i, j, d;

	if (cat == NULL || name == NULL || out == NULL ||
	    catalog_normalize(name, norm, sizeof(norm)) == -1)
		return (0);
	max = NM_MIN(max, (size_t)CATALOG_SUGGEST_MAX);
	f = catalog_full(cat);
	slash = strchr(norm, '/');
	for (i = 0; i < f->nnames && max > 0; i++) {
		s.n = &f->names[i];
		s.dist = name_distance(norm, s.n);
		if (slash != NULL && slash[1] != '\0' &&
		    (d = name_distance(slash + 1, s.n)) < s.dist)
			s.dist = d;
		if (s.dist == SIZE_MAX)
			continue;
		/* One name per model: keep the better one. */
		for (j = 0; j < nbest; j++)
			if (best[j].n->model == s.n->model)
				break;
		if (j < nbest) {
			if (!suggestion_before(&s, &best[j]))
				continue;
			memmove(&best[j], &best[j + 1],
			    (nbest - j - 1) * sizeof(best[0]));
			nbest--;
		}
		/* Insert in order; the last falls off a full list. */
		for (j = nbest; j > 0 && suggestion_before(&s, &best[j - 1]); j--)
			;
		if (j >= max)
			continue;
		memmove(&best[j + 1], &best[j],
		    (NM_MIN(nbest, max - 1) - j) * sizeof(best[0]));
		best[j] = s;
		if (nbest < max)
			nbest++;
	}
	for (i = 0; i < nbest; i++)
		out[i] = best[i].n->name;
	return (nbest);
}

/* " Did you mean 'a', 'b' or 'c'?" for a name not in the catalog, or "". */
char *
catalog_hint(const struct catalog *cat, const char *name, char *buf,
    size_t len)
{
	const char	*sug[CATALOG_HINT_NAMES];
	size_t		 n, i, off;
	int		 r;

	if (len == 0)
		return (buf);
	buf[0] = '\0';
	if ((n = catalog_suggest(cat, name, sug, NM_NELEM(sug))) == 0)
		return (buf);
	r = snprintf(buf, len, " Did you mean ");
	for (i = 0; i < n && r >= 0 && (size_t)r < len; i++) {
		off = (size_t)r;
		r = snprintf(buf + off, len - off, "%s'%s'%s", i == 0 ? "" :
		    i + 1 == n ? " or " : ", ", sug[i], i + 1 == n ? "?" : "");
		r = r < 0 ? r : r + (int)off;
	}
	/* Half a hint is worse than none. */
	if (r < 0 || (size_t)r >= len)
		buf[0] = '\0';
	return (buf);
}

/* 1 if normalised text is in the normalised s. */
static int
name_contains(const char *s, const char *text)
{
	char	norm[CATALOG_TEXT_MAX + 1];

	return (s != NULL && catalog_normalize(s, norm, sizeof(norm)) == 0 &&
	    strstr(norm, text) != NULL);
}

/* Part of the model's id, one of its aliases or its upstream_model. */
int
catalog_match(const struct model *m, const char *text)
{
	char	norm[CATALOG_TEXT_MAX + 1];
	char	**al;

	if (m == NULL || catalog_normalize(text, norm, sizeof(norm)) == -1)
		return (0);
	if (name_contains(m->id, norm) || name_contains(m->upstream_model, norm))
		return (1);
	for (al = m->aliases; al != NULL && *al != NULL; al++)
		if (name_contains(*al, norm))
			return (1);
	return (0);
}
