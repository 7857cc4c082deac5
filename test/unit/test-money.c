/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for money: decimal text to nano-USD and back, what is
 * refused, and the rounding of costs.
 */

#include <stdint.h>
#include <string.h>

#include "money.h"
#include "unit.h"

struct parse_case {
	const char	*in;
	int		 neg;		/* allow_negative */
	int		 ret;
	nm_nano		 want;
	const char	*back;		/* money_format of the value, NULL: same as in */
};

static const struct parse_case parse_cases[] = {
	{ "0.15", 0, 0, 150000000, NULL },
	{ "3", 0, 0, 3000000000LL, NULL },
	{ "0", 0, 0, 0, NULL },
	{ "0.000000001", 0, 0, 1, NULL },
	{ "1.5", 0, 0, 1500000000LL, NULL },
	{ "2.50", 0, 0, 2500000000LL, "2.5" },
	{ "0.100000000", 0, 0, 100000000, "0.1" },
	{ "10.000000000", 0, 0, 10000000000LL, "10" },
	{ "007", 0, 0, 7000000000LL, "7" },
	{ "123456.789012345", 0, 0, 123456789012345LL, NULL },
	{ "9223372036.854775807", 0, 0, INT64_MAX, NULL },
	{ "9223372036", 0, 0, 9223372036000000000LL, NULL },
	{ "-1.5", 1, 0, -1500000000LL, NULL },
	{ "-0.000000001", 1, 0, -1, NULL },
	{ "-0", 1, 0, 0, "0" },
	{ "-9223372036.854775807", 1, 0, -INT64_MAX, NULL },
	/* Refused. */
	{ "-1.5", 0, -1, 0, NULL },
	{ "1e3", 0, -1, 0, NULL },
	{ "0.0000000001", 0, -1, 0, NULL },
	{ "0.0000000010", 0, -1, 0, NULL },
	{ "abc", 0, -1, 0, NULL },
	{ "", 0, -1, 0, NULL },
	{ "-", 1, -1, 0, NULL },
	{ "+1", 0, -1, 0, NULL },
	{ " 1", 0, -1, 0, NULL },
	{ "1 ", 0, -1, 0, NULL },
	{ "1.", 0, -1, 0, NULL },
	{ ".5", 0, -1, 0, NULL },
	{ "1.2.3", 0, -1, 0, NULL },
	{ "1,5", 0, -1, 0, NULL },
	{ "0x10", 0, -1, 0, NULL },
	{ "NaN", 0, -1, 0, NULL },
	{ "inf", 0, -1, 0, NULL },
	{ "--1", 1, -1, 0, NULL },
	{ "9223372036.854775808", 0, -1, 0, NULL },
	{ "9223372037", 0, -1, 0, NULL },
	{ "99999999999999999999999", 0, -1, 0, NULL },
	{ "-9223372036.854775808", 1, -1, 0, NULL },
};

/* Every parse case, and the formatted value of those that parse. */
static void
test_parse(void)
{
	char	out[MONEY_STRLEN];
	nm_nano	v;
	size_t	i;

	for (i = 0; i < NM_NELEM(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];

		v = -42;
		CHECK(money_parse(c->in, strlen(c->in), c->neg, &v) == c->ret);
		if (c->ret != 0) {
			CHECK(v == -42);
			continue;
		}
		CHECK(v == c->want);
		CHECK_STR(money_format(v, out, sizeof(out)),
		    c->back != NULL ? c->back : c->in);
	}
	/* The length bounds the text: "1.5" cut to "1". */
	CHECK(money_parse("1.5", 1, 0, &v) == 0 && v == 1000000000LL);
	CHECK(money_parse(NULL, 0, 0, &v) == -1);
}

/* Format then parse gives the value back, for values of every magnitude. */
static void
test_roundtrip(void)
{
	static const nm_nano	vals[] = { 0, 1, 9, 10, 999999999, 1000000000,
	    1000000001, 123456789, 150000000, 42000000000LL, INT64_MAX,
	    INT64_MAX - 1, -1, -999999999, -1000000000, INT64_MIN + 1 };
	char			out[MONEY_STRLEN];
	nm_nano			v;
	size_t			i;
	uint64_t		x = 88172645463325252ULL;

	for (i = 0; i < NM_NELEM(vals); i++) {
		money_format(vals[i], out, sizeof(out));
		CHECK(money_parse(out, strlen(out), 1, &v) == 0 &&
		    v == vals[i]);
	}
	for (i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		money_format((nm_nano)(x >> (i % 64)), out, sizeof(out));
		CHECK(money_parse(out, strlen(out), 1, &v) == 0 &&
		    v == (nm_nano)(x >> (i % 64)));
	}
	CHECK_STR(money_format(INT64_MIN, out, sizeof(out)),
	    "-9223372036.854775808");
	CHECK_STR(money_format(-150000000, out, sizeof(out)), "-0.15");
	CHECK_STR(money_format(1, out, sizeof(out)), "0.000000001");
	/* A small buffer is fine when the text fits. */
	CHECK_STR(money_format(3000000000LL, out, 2), "3");
}

struct cost_case {
	int64_t	tokens;
	nm_nano	per_mtok;
	int	ret;
	nm_nano	want;
};

static const struct cost_case cost_cases[] = {
	{ 0, 150000000, 0, 0 },
	{ 1000000, 150000000, 0, 150000000 },		/* 1M at $0.15 */
	{ 1, 150000000, 0, 150 },
	{ 1234, 2500000000LL, 0, 3085000 },		/* 1234 at $2.50 */
	{ 1, 1, 0, 0 },					/* 0.000001 down */
	{ 1, 499999, 0, 0 },				/* 0.499999 down */
	{ 1, 500000, 0, 1 },				/* exactly half: up */
	{ 1, 500001, 0, 1 },
	{ 3, 500000, 0, 2 },				/* 1.5 -> 2 */
	{ 5, 300000, 0, 2 },				/* 1.5 -> 2 */
	{ 7, 100000, 0, 1 },				/* 0.7 -> 1 */
	{ 1, 1499999, 0, 1 },
	{ 1, 1500000, 0, 2 },
	{ 1, -500000, 0, -1 },				/* credit: half away from 0 */
	{ 1, -499999, 0, 0 },
	{ 1000000, INT64_MAX, 0, INT64_MAX },
	{ INT64_MAX, 1000000, 0, INT64_MAX },
	{ INT64_MAX, 1000001, -1, 0 },
	{ 1000001, INT64_MAX, -1, 0 },
	{ INT64_MAX, INT64_MAX, -1, 0 },
	{ -1, 150000000, -1, 0 },
	{ 2000000, INT64_MIN / 2, 0, INT64_MIN },
};

/* Costs round once, half up, and overflow is an error. */
static void
test_cost(void)
{
	nm_nano	v;
	size_t	i;

	for (i = 0; i < NM_NELEM(cost_cases); i++) {
		const struct cost_case *c = &cost_cases[i];

		v = -42;
		CHECK(money_cost(c->tokens, c->per_mtok, &v) == c->ret);
		if (c->ret == 0)
			CHECK(v == c->want);
		else
			CHECK(v == -42);
	}
}

/* money_cost_sum: one rounding over the whole sum. */
static void
test_cost_sum(void)
{
	static const struct {
		int64_t	tokens[3];
		nm_nano	prices[3];
		size_t	n;
		int	ret;
		nm_nano	want;
	} cases[] = {
		/* 3 x 0.15 + 4 x 0.60 USD/Mtok = 2.85e-6 USD */
		{ { 3, 4, 0 }, { 150000000, 600000000, 0 }, 2, 0, 2850 },
		/* each term alone rounds 0.5 up (twice 1); the sum is exactly 1 */
		{ { 1, 1, 0 }, { 500000, 500000, 0 }, 2, 0, 1 },
		/* 0.4 + 0.4 + 0.4 nano: per-term rounding says 0, the sum 1 */
		{ { 1, 1, 1 }, { 400000, 400000, 400000 }, 3, 0, 1 },
		{ { 0, 0, 0 }, { 1, 2, 3 }, 3, 0, 0 },
		{ { 0, 0, 0 }, { 0, 0, 0 }, 0, 0, 0 },
		{ { -1, 0, 0 }, { 1, 0, 0 }, 1, -1, 0 },
		{ { 1, 0, 0 }, { -1, 0, 0 }, 1, -1, 0 },
		/* INT64_MAX tokens at 1 USD/Mtok does not fit in int64 nano */
		{ { INT64_MAX, 0, 0 }, { 1000000000, 0, 0 }, 1, -1, 0 },
		/* 1e12 tokens at 1000 USD/Mtok: 1e9 USD = 1e18 nano, fits */
		{ { 1000000000000LL, 0, 0 }, { 1000000000000LL, 0, 0 }, 1, 0,
		    1000000000000000000LL },
	};
	size_t i;
	nm_nano v;

	for (i = 0; i < NM_NELEM(cases); i++) {
		v = -42;
		CHECK(money_cost_sum(cases[i].tokens, cases[i].prices, cases[i].n,
		    &v) == cases[i].ret);
		CHECK(v == (cases[i].ret == 0 ? cases[i].want : -42));
	}
}

int
main(void)
{
	test_parse();
	test_roundtrip();
	test_cost();
	test_cost_sum();
	UNIT_DONE();
}
