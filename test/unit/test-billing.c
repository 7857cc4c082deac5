/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * billing_cost: every class of token at its own catalog price, one
 * rounding, and usage that does not add up refused.
 */
#include <stdint.h>
#include <string.h>

#include "nextmodel.h"
#include "billing.h"
#include "catalog.h"
#include "money.h"
#include "unit.h"

struct bill_case {
	const char	*name;
	struct usage	 u;
	int		 ret;
	const char	*want;		/* USD as exact decimal text */
};

static const struct bill_case cases[] = {
	/* 1000 x 3 + 500 x 15 = 10500 USD/M -> 0.0105 */
	{ "plain", { 1000, 500, 1500, 0, 0, 0, 1 }, 0, "0.0105" },
	/* 1315 prompt = 15 new + 100 written + 1200 read:
	 * 15 x 3 + 100 x 3.75 + 1200 x 0.3 + 41 x 15 = 1395 USD/M */
	{ "cache read and write", { 1315, 41, 1356, 1200, 100, 0, 1 }, 0,
	    "0.001395" },
	{ "nothing", { 0, 0, 0, 0, 0, 0, 1 }, 0, "0" },
	/* one token of each: 3 + 0.3 + 3.75 + 15 = 22.05 USD/M */
	{ "one of each", { 3, 1, 4, 1, 1, 0, 1 }, 0, "0.00002205" },
	/* reasoning tokens are part of completion tokens: no extra charge */
	{ "reasoning", { 10, 100, 110, 0, 0, 80, 1 }, 0, "0.00153" },
	{ "cached over prompt", { 10, 0, 10, 11, 0, 0, 1 }, -1, NULL },
	{ "read + written over prompt", { 10, 0, 10, 6, 5, 0, 1 }, -1, NULL },
	{ "negative", { -1, 0, 0, 0, 0, 0, 1 }, -1, NULL },
};

int
main(void)
{
	struct model m;
	char text[MONEY_STRLEN];
	nm_nano v;
	size_t i;

	memset(&m, 0, sizeof(m));
	m.id = (char *)"claude-like";
	m.input_per_mtok = 3000000000LL;		/* 3 USD */
	m.output_per_mtok = 15000000000LL;		/* 15 USD */
	m.cached_input_per_mtok = 300000000LL;		/* 0.30 USD */
	m.cache_write_per_mtok = 3750000000LL;		/* 3.75 USD */

	for (i = 0; i < NM_NELEM(cases); i++) {
		v = -42;
		CHECK(billing_cost(&m, &cases[i].u, &v) == cases[i].ret);
		if (cases[i].ret == 0)
			CHECK_STR(money_format(v, text, sizeof(text)),
			    cases[i].want);
		else
			CHECK(v == -42);
	}
	UNIT_DONE();
}
