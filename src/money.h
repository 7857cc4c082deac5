/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Money as integer nano-USD and exact decimal text.  A price is USD per
 * 1M tokens; a cost is tokens x price / 1e6, rounded once, at the end.
 */
#ifndef MONEY_H
#define MONEY_H

#include <stddef.h>
#include "nextmodel.h"

#define MONEY_STRLEN	32

/*
 * Parse decimal text ("0.15", "3", "0.000000001", "-1.5" rejected unless
 * allow_negative) into nano-USD without going through double.  More than
 * nine fractional digits, exponents, junk or overflow: -1.
 */
int	money_parse(const char *, size_t len, int allow_negative, nm_nano *out);
/* Shortest exact decimal text ("0.15", "3", "0.000000001"); out >= MONEY_STRLEN. */
char	*money_format(nm_nano, char *out, size_t outlen);
/*
 * tokens x nano-USD per 1M tokens / 1e6, rounded half up; -1 on overflow
 * (128-bit intermediate).
 */
int	money_cost(int64_t tokens, nm_nano per_mtok, nm_nano *out);
/*
 * sum(tokens[i] x per_mtok[i]) / 1e6, rounded half up once over the whole
 * sum (rounding each term would drift).  -1 on a negative number or when
 * the result does not fit.
 */
int	money_cost_sum(const int64_t *tokens, const nm_nano *per_mtok, size_t n,
	    nm_nano *out);

#endif
