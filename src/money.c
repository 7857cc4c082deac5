/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Money as integer nano-USD.  Decimal text is converted digit by digit,
 * never through a double, and a cost is computed in 128 bits and rounded
 * once, so the same usage always bills the same number of nano-USD.
 */

#include <stdio.h>
#include <string.h>

#include "money.h"

#define MONEY_SCALE	1000000000LL	/* nano-USD per USD */
#define MONEY_FRAC	9		/* digits after the point */
#define MONEY_MTOK	1000000		/* prices are per 1M tokens */

/*
 * Decimal text (digits, optionally a point and 1-9 digits, a leading '-'
 * only when allowed) to nano-USD.  0, or -1 on anything else or overflow.
 */
int
money_parse(const char *s, size_t len, int allow_negative, nm_nano *out)
{
	size_t		i = 0, nint = 0, nfrac = 0;
	uint64_t	whole = 0, frac = 0, v;
	int		neg = 0;

	if (s == NULL || len == 0)
		return -1;
	if (s[0] == '-') {
		if (!allow_negative)
			return -1;
		neg = 1;
		i++;
	}
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, nint++) {
		/* INT64_MAX / 1e9 is 9223372036: more whole USD cannot fit. */
		if (whole > (uint64_t)(INT64_MAX / MONEY_SCALE))
			return -1;
		whole = whole * 10 + (uint64_t)(s[i] - '0');
	}
	if (nint == 0)
		return -1;
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nfrac++) {
			if (nfrac == MONEY_FRAC)
				return -1;
			frac = frac * 10 + (uint64_t)(s[i] - '0');
		}
		if (nfrac == 0)
			return -1;
	}
	if (i != len)
		return -1;
	for (; nfrac < MONEY_FRAC; nfrac++)
		frac *= 10;
	if (whole > (uint64_t)(INT64_MAX / MONEY_SCALE))
		return -1;
	v = whole * (uint64_t)MONEY_SCALE;
	if (frac > (uint64_t)INT64_MAX - v)
		return -1;
	v += frac;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* Shortest exact decimal text of v in out (MONEY_STRLEN is always enough); returns out. */
char *
money_format(nm_nano v, char *out, size_t outlen)
{
	char		frac[MONEY_FRAC + 1];
	uint64_t	mag;
	int		n, nf;

	mag = v < 0 ? (uint64_t)-(v + 1) + 1 : (uint64_t)v;
	nf = snprintf(frac, sizeof(frac), "%09llu",
	    (unsigned long long)(mag % (uint64_t)MONEY_SCALE));
	NM_ASSERT(nf == MONEY_FRAC);
	while (nf > 0 && frac[nf - 1] == '0')
		frac[--nf] = '\0';
	n = snprintf(out, outlen, "%s%llu%s%s", v < 0 ? "-" : "",
	    (unsigned long long)(mag / (uint64_t)MONEY_SCALE), nf > 0 ? "." : "",
	    frac);
	/* A truncated amount would be a wrong amount. */
	NM_ASSERT(n > 0 && (size_t)n < outlen);
	return out;
}

/*
 * Cost of tokens at per_mtok nano-USD per 1M tokens, rounded half away
 * from zero (half up for the usual non-negative price).  -1 for negative
 * tokens or a result that does not fit.
 */
int
money_cost(int64_t tokens, nm_nano per_mtok, nm_nano *out)
{
	__int128	p, q, r;
	int		neg = per_mtok < 0;

	if (tokens < 0)
		return -1;
	p = (__int128)tokens * (__int128)per_mtok;
	if (neg)
		p = -p;
	q = p / MONEY_MTOK;
	r = p % MONEY_MTOK;
	if (r >= MONEY_MTOK / 2)
		q++;
	if (neg)
		q = -q;
	if (q > INT64_MAX || q < INT64_MIN)
		return -1;
	*out = (nm_nano)q;
	return 0;
}

/* Several token counts at their prices, rounded once. */
int
money_cost_sum(const int64_t *tokens, const nm_nano *per_mtok, size_t n,
    nm_nano *out)
{
	__int128	v = 0, q;
	size_t		i;

	for (i = 0; i < n; i++) {
		if (tokens[i] < 0 || per_mtok[i] < 0)
			return -1;
		/* Each product is below 2^126; n is small. */
		v += (__int128)tokens[i] * (__int128)per_mtok[i];
		if (v < 0)
			return -1;
	}
	q = v / MONEY_MTOK;
	if (v % MONEY_MTOK >= MONEY_MTOK / 2)
		q++;
	if (q > INT64_MAX)
		return -1;
	*out = (nm_nano)q;
	return 0;
}
