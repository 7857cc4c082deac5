/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Pricing of usage with the catalog.  Integer nano-USD all the way; the
 * only rounding is the one in money_cost_sum().
 */
#include <stdint.h>

#include "nextmodel.h"
#include "billing.h"
#include "catalog.h"
#include "money.h"

/* List-price cost of a call's usage on a model. */
int
billing_cost(const struct model *m, const struct usage *u, nm_nano *out)
{
	int64_t tokens[4];
	nm_nano prices[4];

	if (u->prompt_tokens < 0 || u->completion_tokens < 0 ||
	    u->cached_tokens < 0 || u->cache_write_tokens < 0 ||
	    u->cached_tokens > u->prompt_tokens ||
	    u->cache_write_tokens > u->prompt_tokens - u->cached_tokens)
		return -1;
	tokens[0] = u->prompt_tokens - u->cached_tokens - u->cache_write_tokens;
	prices[0] = m->input_per_mtok;
	tokens[1] = u->cached_tokens;
	prices[1] = m->cached_input_per_mtok;
	tokens[2] = u->cache_write_tokens;
	prices[2] = m->cache_write_per_mtok;
	tokens[3] = u->completion_tokens;
	prices[3] = m->output_per_mtok;
	return money_cost_sum(tokens, prices, 4, out);
}
