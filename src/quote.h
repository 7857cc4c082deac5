/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Price quotes: every catalog model able to serve a chat request, ranked
 * by what it would cost, and the others with the reason they cannot.
 * Shared by POST /v1/quotes and nextmodelctl models; no source is called.
 */
#ifndef QUOTE_H
#define QUOTE_H

#include <stddef.h>

#include "buf.h"
#include "catalog.h"
#include "estimate.h"

enum quote_sort { QUOTE_SORT_PRICE = 0, QUOTE_SORT_LATENCY };

struct quote_opts {
	enum quote_sort	 sort;
	int		 region;	/* -1: any, else enum model_region */
	const char	*model;		/* the request's model (marked), or NULL */
};

struct quote_row {
	const struct model	*m;
	struct estimate_cost	 cost;
	int			 requested;	/* the model the request named */
};

struct quote_excluded {
	const struct model	*m;		/* NULL: not in the catalog */
	char			 reason[192];
	int			 requested;
};

struct quote {
	struct estimate		 est;
	struct quote_row	*rows;		/* cheapest (or fastest) first */
	size_t			 nrows;
	struct quote_excluded	*excl;		/* in catalog order */
	size_t			 nexcl;
	char			*requested;	/* opts->model, copied */
};

/*
 * Rank the catalog for est.  0, or -1 on OOM.  A model is left out when
 * it is an embeddings model, lacks a capability the request needs, is in
 * another region than asked, cannot write max_tokens, or its context
 * window cannot hold the input and the output asked for.
 */
int	quote_build(const struct catalog *, const struct estimate *,
	    const struct quote_opts *, struct quote *);
void	quote_free(struct quote *);	/* NULL does nothing */
/* The quote as POST /v1/quotes answers it: 0 or -1. */
int	quote_write_json(const struct quote *, struct buf *);
/* "tools,json,..." of a set of capability bits into out; returns out. */
char	*quote_caps(unsigned caps, char *out, size_t outlen);

#endif
