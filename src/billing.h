/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * What a call used and what it costs: token counts as the source reported
 * them (or as estimated), priced with the catalog in nano-USD, rounded once.
 */
#ifndef BILLING_H
#define BILLING_H

#include <stdint.h>

#include "nextmodel.h"

struct model;

struct usage {
	int64_t	prompt_tokens;		/* includes cached and cache-write tokens */
	int64_t	completion_tokens;	/* includes reasoning tokens */
	int64_t	total_tokens;
	int64_t	cached_tokens;		/* read from the source's prompt cache */
	int64_t	cache_write_tokens;	/* written to it (Anthropic bills these apart) */
	int64_t	reasoning_tokens;
	int	have;			/* the source reported usage (else estimated) */
};

/*
 * The list-price cost of u on m: uncached prompt tokens at the input
 * price, cache reads at the cached price, cache writes at the cache-write
 * price, completion tokens at the output price, summed and rounded once.
 * 0, or -1 for counts that do not add up or a result that does not fit.
 */
int	billing_cost(const struct model *, const struct usage *, nm_nano *out);

#endif
