/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for the CacheSafety Bench scoring: serve modes, the lab
 * scorecard of pair datasets (rates over all pairs, traps over traps,
 * cost saved per 1K in nano-USD), the publication scorecard of promptsets
 * (cohort rates, null when empty) and the rounding of rates.  Every
 * figure below was worked out by hand.
 */

#include <stdint.h>
#include <string.h>

#include "money.h"
#include "bench-score.h"
#include "unit.h"

/* ---- serve modes ---- */

static const struct {
	const char		*mode;
	enum bench_layer	 want;
} layer_cases[] = {
	{ "exact_cache", BENCH_EXACT },
	{ "canonical_cache", BENCH_CANONICAL },
	{ "ln_beta", BENCH_LN_BETA },
	{ " Exact_Cache\t", BENCH_EXACT },
	{ "CANONICAL_CACHE", BENCH_CANONICAL },
	{ "fresh", BENCH_MISS },
	{ "", BENCH_MISS },
	{ "exact", BENCH_MISS },
	{ "exact_cache_x", BENCH_MISS },
	{ "semantic_cache", BENCH_MISS },
};

/* The serve-mode table, and NULL. */
static void
test_layers(void)
{
	size_t	 i;

	for (i = 0; i < NM_NELEM(layer_cases); i++)
		CHECK(bench_layer_of(layer_cases[i].mode,
		    strlen(layer_cases[i].mode)) == layer_cases[i].want);
	CHECK(bench_layer_of(NULL, 0) == BENCH_MISS);
	CHECK_STR(bench_layer_name(BENCH_CANONICAL), "canonical");
	CHECK_STR(bench_layer_name(BENCH_MISS), "miss");
	CHECK_STR(bench_layer_name(BENCH_UNLABELED), "unlabeled");
}

/* ---- rates ---- */

static const struct {
	int64_t		 num, den;
	const char	*want;
} rate_cases[] = {
	{ 0, 0, "null" },
	{ 3, 0, "null" },
	{ 0, 6, "0" },
	{ 6, 6, "1" },
	{ 4, 5, "0.8" },
	{ 1, 8, "0.125" },
	{ 1, 6, "0.1667" },
	{ 1, 3, "0.3333" },
	{ 2, 3, "0.6667" },
	{ 1, 32, "0.0312" },		/* 312.5 ten-thousandths: to even */
	{ 3, 32, "0.0938" },		/* 937.5: to even */
	{ 1, 20000, "0" },		/* 0.5: to even (0) */
	{ 3, 20000, "0.0002" },		/* 1.5: to even (2) */
	{ 9999, 10000, "0.9999" },
	{ 99999, 100000, "1" },
};

/* bench_rate_format's rounding and text. */
static void
test_rates(void)
{
	char	 out[32];
	size_t	 i;

	for (i = 0; i < NM_NELEM(rate_cases); i++)
		CHECK_STR(bench_rate_format(rate_cases[i].num,
		    rate_cases[i].den, out, sizeof(out)), rate_cases[i].want);
}

/* ---- pairs (lab scorecard) ---- */

#define MAXP	8

struct pair_case {
	const char		*name;
	size_t			 n;
	struct bench_pair	 p[MAXP];
	enum bench_outcome	 out[MAXP];
	const char		*safe, *bad, *trap, *saved, *per1k;
	int64_t			 hits, errors, missed;
	int64_t			 layers[BENCH_NLAYER];
};

#define C(usd)	((nm_nano)(usd))

/*
 * The public support_pairs.jsonl: 001 exact duplicate, 002 whitespace,
 * 003 rewrite (same answer), 004 high-risk number (other answer), 005
 * extra metadata (same answer), 006 semantic_trap.  Costs 0.0021, 0.0020,
 * 0.0024, 0.0026, 0.0020, 0.0028.
 */
#define SUPPORT(l1, l2, l3, l4, l5, l6) {				\
	{ BENCH_KIND_ANSWER, 1, C(2100000), 0, l1, 0 },			\
	{ BENCH_KIND_ANSWER, 1, C(2000000), 0, l2, 0 },			\
	{ BENCH_KIND_ANSWER, 1, C(2400000), 0, l3, 0 },			\
	{ BENCH_KIND_ANSWER, 0, C(2600000), 0, l4, 0 },			\
	{ BENCH_KIND_ANSWER, 1, C(2000000), 0, l5, 0 },			\
	{ BENCH_KIND_TRAP, 0, C(2800000), 0, l6, 0 } }

static const struct pair_case pair_cases[] = {
	{ "no pairs", 0, { { 0 } }, { 0 }, "null", "null", "null", "0", NULL,
	    0, 0, 0, { 0 } },
	{ "no cache: every answer fresh", 6,
	    SUPPORT(BENCH_MISS, BENCH_MISS, BENCH_MISS, BENCH_MISS, BENCH_MISS,
	    BENCH_MISS),
	    { BENCH_OUT_MISS, BENCH_OUT_MISS, BENCH_OUT_MISS, BENCH_OUT_MISS,
	    BENCH_OUT_MISS, BENCH_OUT_MISS },
	    "0", "0", "0", "0", "0", 0, 0, 0, { 6, 0, 0, 0 } },
	/* 1/6 safe; 0.0021 saved; x 1000 / 6 = 0.35. */
	{ "exact cache: only the exact duplicate hits", 6,
	    SUPPORT(BENCH_EXACT, BENCH_MISS, BENCH_MISS, BENCH_MISS, BENCH_MISS,
	    BENCH_MISS),
	    { BENCH_OUT_SAFE_HIT, BENCH_OUT_MISS, BENCH_OUT_MISS,
	    BENCH_OUT_MISS, BENCH_OUT_MISS, BENCH_OUT_MISS },
	    "0.1667", "0", "0", "0.0021", "0.35", 1, 0, 0, { 5, 1, 0, 0 } },
	/*
	 * Everything hits: 001 002 003 005 safe (0.0085 saved), 004 and the
	 * trap bad.  4/6, 2/6, 1/1; 8.5 / 6 = 1.41666666|67 rounds up.
	 */
	{ "naive cache: everything hits", 6,
	    SUPPORT(BENCH_EXACT, BENCH_CANONICAL, BENCH_LN_BETA, BENCH_EXACT,
	    BENCH_EXACT, BENCH_EXACT),
	    { BENCH_OUT_SAFE_HIT, BENCH_OUT_SAFE_HIT, BENCH_OUT_SAFE_HIT,
	    BENCH_OUT_BAD_HIT, BENCH_OUT_SAFE_HIT, BENCH_OUT_BAD_HIT },
	    "0.6667", "0.3333", "1", "0.0085", "1.416666667", 6, 0, 0,
	    { 0, 4, 1, 1 } },
	/*
	 * expect hit missed, expect hit served, a trap served, a trap whose
	 * request failed: total 4, 1 safe, 1 bad, traps 1 of 2; the error
	 * counts as a miss in every denominator.  0.001 x 1000 / 4 = 0.25.
	 */
	{ "expect, misses and errors", 4, {
	    { BENCH_KIND_HIT, 0, C(1000000), 0, BENCH_MISS, 0 },
	    { BENCH_KIND_HIT, 0, C(1000000), 0, BENCH_EXACT, 0 },
	    { BENCH_KIND_TRAP, 0, C(1000000), 0, BENCH_CANONICAL, 0 },
	    { BENCH_KIND_TRAP, 0, C(1000000), 1, BENCH_EXACT, 0 } },
	    { BENCH_OUT_MISSED_HIT, BENCH_OUT_SAFE_HIT, BENCH_OUT_BAD_HIT,
	    BENCH_OUT_ERROR },
	    "0.25", "0.25", "0.5", "0.001", "0.25", 2, 1, 1, { 2, 1, 1, 0 } },
	/* No trap in the set: the trap rate is null, not 0. 3 x 1000 / 3. */
	{ "no traps", 3, {
	    { BENCH_KIND_ANSWER, 1, C(1), 0, BENCH_EXACT, 0 },
	    { BENCH_KIND_ANSWER, 1, C(1), 0, BENCH_EXACT, 0 },
	    { BENCH_KIND_ANSWER, 1, C(1), 0, BENCH_EXACT, 0 } },
	    { BENCH_OUT_SAFE_HIT, BENCH_OUT_SAFE_HIT, BENCH_OUT_SAFE_HIT },
	    "1", "0", "null", "0.000000003", "0.000001", 3, 0, 0,
	    { 0, 3, 0, 0 } },
};

/* The lab scorecard on each table row. */
static void
test_pairs(void)
{
	struct bench_pair_score	 s;
	struct bench_pair	 p[MAXP];
	const struct pair_case	*c;
	char			 out[64];
	size_t			 i, k;

	for (i = 0; i < NM_NELEM(pair_cases); i++) {
		c = &pair_cases[i];
		memcpy(p, c->p, sizeof(p));
		CHECK(bench_score_pairs(p, c->n, &s) == 0);
		for (k = 0; k < c->n; k++)
			if (p[k].outcome != c->out[k]) {
				fprintf(stderr, "%s: pair %zu: %s\n", c->name, k,
				    bench_outcome_name(p[k].outcome));
				CHECK(p[k].outcome == c->out[k]);
			}
		CHECK(s.total == (int64_t)c->n);
		CHECK_STR(bench_rate_format(s.safe_hits, s.total, out,
		    sizeof(out)), c->safe);
		CHECK_STR(bench_rate_format(s.bad_hits, s.total, out,
		    sizeof(out)), c->bad);
		CHECK_STR(bench_rate_format(s.trap_failures, s.traps, out,
		    sizeof(out)), c->trap);
		CHECK_STR(money_format(s.safe_saved, out, sizeof(out)),
		    c->saved);
		if (c->per1k == NULL)
			CHECK(s.saved_per_1k == -1);
		else
			CHECK_STR(money_format(s.saved_per_1k, out,
			    sizeof(out)), c->per1k);
		CHECK(s.hits == c->hits);
		CHECK(s.errors == c->errors);
		CHECK(s.missed_hits == c->missed);
		for (k = 0; k < BENCH_NLAYER; k++)
			CHECK(s.layers[k] == c->layers[k]);
	}
	/* A sum past INT64_MAX is refused, not wrapped. */
	memset(p, 0, sizeof(p));
	p[0].kind = p[1].kind = BENCH_KIND_HIT;
	p[0].layer = p[1].layer = BENCH_EXACT;
	p[0].cost = p[1].cost = INT64_MAX / 2 + 1;
	CHECK(bench_score_pairs(p, 2, &s) == -1);
}

/* ---- publication ---- */

static const char *const kw_france[] = { "France" };
static const char *const kw_argentina[] = { "Argentina" };
static const char *const kw_co2[] = { "carbon dioxide", "CO2" };
static const char *const kw_100[] = { "100" };
static const char *const kw_2[] = { "2" };

#define T(cl, content, ex, st, layer)					\
	{ cl, content, sizeof(content) - 1, ex, NM_NELEM(ex), st,	\
	    (st) == NULL ? 0 : 1, layer, 0, 0, 0, 0 }

/* The contains-all rule: every keyword, any ASCII case. */
static void
test_keywords(void)
{
	CHECK(bench_contains_all("france.", 7, kw_france, 1) == 1);
	CHECK(bench_contains_all("FRANCE", 6, kw_france, 1) == 1);
	CHECK(bench_contains_all("Franc", 5, kw_france, 1) == 0);
	CHECK(bench_contains_all("Carbon Dioxide (co2)", 20, kw_co2, 2) == 1);
	CHECK(bench_contains_all("CO2", 3, kw_co2, 2) == 0);
	CHECK(bench_contains_all("", 0, kw_co2, 0) == 1);
	CHECK(bench_contains_all(NULL, 0, kw_100, 1) == 0);
	/* The length bounds the search: no match past it. */
	CHECK(bench_contains_all("10 100", 4, kw_100, 1) == 0);
}

/* The publication cohorts, one scenario at a time. */
static void
test_publication(void)
{
	struct bench_prompt	 t[32];
	struct bench_pub_score	 s;
	char			 out[32];
	size_t			 i, n;

	/* Empty: every rate null, no cost. */
	CHECK(bench_score_publication(NULL, 0, 150000000, &s) == 0);
	CHECK(s.sample == 0);
	CHECK_STR(bench_rate_format(s.repeat_safe, s.repeat_total, out,
	    sizeof(out)), "null");
	CHECK_STR(bench_rate_format(s.trap_bad, s.trap_total, out,
	    sizeof(out)), "null");
	CHECK_STR(bench_rate_format(s.fresh_hits, s.fresh_total, out,
	    sizeof(out)), "null");
	CHECK(s.saved_per_1k == -1);

	/*
	 * 10 repeat pairs of which 8 seconds hit with the answer, 1 hits
	 * without it, 1 misses; 10 trap pairs, seconds: 3 hit with the
	 * stale answer, 1 hits with the right one, 6 miss; 5 fresh, 2 hit.
	 * Firsts are hits too but count nowhere.  SH 8/10, BH 3/10, 2/5.
	 */
	n = 0;
	for (i = 0; i < 10; i++) {
		struct bench_prompt f = T(BENCH_REPEAT_FIRST, "100", kw_100,
		    NULL, BENCH_EXACT);
		struct bench_prompt r = T(BENCH_REPEAT_SECOND, "It is 100.",
		    kw_100, NULL, BENCH_EXACT);
		if (i == 8)
			r.content = "one hundred", r.content_len = 11;
		if (i == 9)
			r.layer = BENCH_MISS;
		t[n++] = f;
		t[n++] = r;
	}
	CHECK(bench_score_publication(t, n, 0, &s) == 0);
	CHECK(s.repeat_total == 10 && s.repeat_safe == 8);
	CHECK_STR(bench_rate_format(s.repeat_safe, s.repeat_total, out,
	    sizeof(out)), "0.8");
	CHECK_STR(bench_rate_format(s.trap_bad, s.trap_total, out,
	    sizeof(out)), "null");
	n = 0;
	for (i = 0; i < 10; i++) {
		struct bench_prompt f = T(BENCH_TRAP_FIRST, "France", kw_france,
		    NULL, BENCH_MISS);
		struct bench_prompt sc = T(BENCH_TRAP_SECOND, "france won",
		    kw_argentina, kw_france, BENCH_EXACT);
		if (i == 3)
			sc.content = "Argentina", sc.content_len = 9;
		if (i >= 4)
			sc.layer = BENCH_MISS;
		t[n++] = f;
		t[n++] = sc;
	}
	for (i = 0; i < 5; i++) {
		struct bench_prompt fr = T(BENCH_FRESH, "2", kw_2, NULL,
		    i < 2 ? BENCH_LN_BETA : BENCH_MISS);
		t[n++] = fr;
	}
	CHECK(bench_score_publication(t, n, 0, &s) == 0);
	CHECK(s.sample == 25);
	CHECK_STR(bench_rate_format(s.trap_bad, s.trap_total, out,
	    sizeof(out)), "0.3");
	CHECK_STR(bench_rate_format(s.fresh_hits, s.fresh_total, out,
	    sizeof(out)), "0.4");
	CHECK_STR(bench_rate_format(s.repeat_safe, s.repeat_total, out,
	    sizeof(out)), "null");
	CHECK(s.layers[BENCH_EXACT] == 4 && s.layers[BENCH_LN_BETA] == 2 &&
	    s.layers[BENCH_MISS] == 19);

	/* A failed request is no hit, and counts in its cohort. */
	n = 0;
	{
		struct bench_prompt e = T(BENCH_FRESH, "2", kw_2, NULL,
		    BENCH_EXACT);
		struct bench_prompt ok = T(BENCH_FRESH, "2", kw_2, NULL,
		    BENCH_EXACT);
		e.error = 1;
		t[n++] = e;
		t[n++] = ok;
	}
	CHECK(bench_score_publication(t, n, 0, &s) == 0);
	CHECK(s.errors == 1);
	CHECK_STR(bench_rate_format(s.fresh_hits, s.fresh_total, out,
	    sizeof(out)), "0.5");

	/*
	 * Cost: 3 answers with prompt_tokens, cached 0, 100, 200: 100 a
	 * call; x 1000 x 0.15 / 1e6 = 0.015 USD per 1K.  No price: null.
	 */
	n = 0;
	for (i = 0; i < 3; i++) {
		struct bench_prompt c = T(BENCH_FRESH, "2", kw_2, NULL,
		    BENCH_MISS);
		c.has_prompt_tokens = 1;
		c.has_cached_tokens = 1;
		c.cached_tokens = (int64_t)i * 100;
		t[n++] = c;
	}
	CHECK(bench_score_publication(t, n, 150000000, &s) == 0);
	CHECK_STR(money_format(s.saved_per_1k, out, sizeof(out)), "0.015");
	CHECK(bench_score_publication(t, n, 0, &s) == 0);
	CHECK(s.saved_per_1k == -1);
	/* 1 cached token over 3 calls at 0.15: 0.00005 USD per 1K. */
	t[0].cached_tokens = 0, t[1].cached_tokens = 1, t[2].cached_tokens = 0;
	CHECK(bench_score_publication(t, n, 150000000, &s) == 0);
	CHECK_STR(money_format(s.saved_per_1k, out, sizeof(out)), "0.00005");
	/* No cached_tokens reported anywhere: null. */
	for (i = 0; i < n; i++)
		t[i].has_cached_tokens = 0;
	CHECK(bench_score_publication(t, n, 150000000, &s) == 0);
	CHECK(s.saved_per_1k == -1);
}

int
main(void)
{
	test_layers();
	test_rates();
	test_pairs();
	test_keywords();
	test_publication();
	UNIT_DONE();
}
