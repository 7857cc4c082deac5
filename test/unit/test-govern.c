/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Governance without Redis: script arguments (keys under one hash tag,
 * clamping, refusals), reply decoding, rate-limit headers and durations,
 * warning thresholds, UTC periods, and the scripts' SHA1.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "govern.h"
#include "redis.h"
#include "unit.h"

static const struct {
	int64_t		 ms;
	const char	*want;
} durations[] = {
	{ 0, "0ms" }, { 20, "20ms" }, { 999, "999ms" }, { 1000, "1s" },
	{ 1500, "1.5s" }, { 59999, "59.999s" }, { 60000, "1m0s" },
	{ 90500, "1m30.5s" }, { 360000, "6m0s" }, { 3600000, "1h0m0s" },
	{ 3723010, "1h2m3.01s" }, { -5, "0ms" },
};

static const struct {
	const char	*s;
	int		 rc;
	int64_t		 ppm;
	const char	*text;		/* as gov_warn_format writes it */
} warns[] = {
	{ "0.8", 0, 800000, "0.8" }, { "80%", 0, 800000, NULL }, { "0", 0, 0, "0" },
	{ "1", 0, 1000000, "1" }, { "0.000001", 0, 1, "0.000001" },
	{ "99.5%", 0, 995000, "0.995" }, { "0.5", 0, 500000, "0.5" },
	{ "1.5", -1, 0, NULL }, { "0.0000001", -1, 0, NULL }, { "", -1, 0, NULL },
	{ "%", -1, 0, NULL }, { "0.8x", -1, 0, NULL }, { "-0.5", -1, 0, NULL },
	{ "80%%", -1, 0, NULL }, { ".", -1, 0, NULL }, { "101%", -1, 0, NULL },
};

/* --on-redis-down and the admin API's on_redis_down. */
static const struct {
	const char	*s;
	int		 rc;
	enum gov_down	 d;
} downs[] = {
	{ "open", 0, GOV_DOWN_OPEN }, { "closed", 0, GOV_DOWN_CLOSED },
	{ "OPEN", -1, 0 }, { "", -1, 0 }, { "opened", -1, 0 }, { "close", -1, 0 },
	{ NULL, -1, 0 },
};

static const struct {
	int64_t		 ms;
	const char	*day, *month;
} periods[] = {
	{ 1796083200000LL, "2026-12-01", "2026-12-01" },
	{ 1796083199999LL, "2026-11-30", "2026-11-01" },
	{ 1798761599999LL, "2026-12-31", "2026-12-01" },
	{ 1798761600000LL, "2027-01-01", "2027-01-01" },
	{ 1709164800000LL, "2024-02-29", "2024-02-01" },
};

/* Find an argument's index in a (after the key count), or -1. */
static int
argi(const struct gov_args *a, const char *s)
{
	int	 i;

	for (i = 3; i < a->argc; i++)
		if (strcmp(a->argv[i], s) == 0)
			return i;
	return -1;
}

/* The EVAL arguments: keys in one slot, ARGV in their places. */
static void
test_args(void)
{
	struct gov_req	 q;
	struct gov_args	 a;
	char		 err[128], tag[64];
	int		 i;

	memset(&q, 0, sizeof(q));
	q.project = "shop";
	q.team = "red";
	q.key_id = "key_0123456789abcdef";
	q.request_id = "req_1";
	q.cost = 123;
	q.tokens_est = 77;
	q.key_rpm = 5;
	q.now_ms = 1796083200000LL;
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == 0);
	CHECK(a.argc == 3 + GOV_NKEYS + 12);
	CHECK_STR(a.argv[0], "EVALSHA");
	CHECK_STR(a.argv[1], gov_admit_sha());
	CHECK_STR(a.argv[2], "13");
	snprintf(tag, sizeof(tag), "nm:{p:shop}:");
	for (i = 3; i < 3 + GOV_NKEYS; i++) {
		CHECK(strncmp(a.argv[i], tag, strlen(tag)) == 0);
		CHECK(a.lens[i] == strlen(a.argv[i]));
	}
	CHECK_STR(a.argv[3], "nm:{p:shop}:req:req_1");
	CHECK_STR(a.argv[7], "nm:{p:shop}:budget:key:key_0123456789abcdef");
	CHECK_STR(a.argv[10], "nm:{p:shop}:budget:project");
	CHECK_STR(a.argv[13], "nm:{p:shop}:budget:team:red");
	CHECK_STR(a.argv[14], "nm:{p:shop}:resv:team:red");
	CHECK_STR(a.argv[15], "nm:{p:shop}:amt:team:red");
	CHECK_STR(a.argv[15 + 1], "1796083200000");
	CHECK_STR(a.argv[15 + 2], "2026-12-01");
	CHECK_STR(a.argv[15 + 4], "123");
	CHECK_STR(a.argv[15 + 5], "77");
	CHECK_STR(a.argv[15 + 6], "5");
	CHECK_STR(a.argv[15 + 8], "600000");
	CHECK_STR(a.argv[15 + 9], "1");
	CHECK_STR(a.argv[15 + 11], "req_1");
	CHECK(gov_admit_args(&q, 0, &a, err, sizeof(err)) == 0);
	CHECK_STR(a.argv[0], "EVAL");
	CHECK(a.argv[1] == gov_admit_script());
	/* Settle sends the billed tokens; the estimate goes last. */
	q.tokens = 50;
	CHECK(gov_settle_args(&q, 1, &a, err, sizeof(err)) == 0);
	CHECK_STR(a.argv[1], gov_settle_sha());
	CHECK_STR(a.argv[15 + 5], "50");
	CHECK_STR(a.argv[15 + 12], "77");
	/* A cost beyond the ceiling is clamped to one no budget admits. */
	q.cost = INT64_MAX;
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == 0);
	CHECK(argi(&a, "4503599627370497") == 15 + 4);
	/* No team: "0", and the team's keys stay in the slot. */
	q.team = NULL;
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == 0);
	CHECK_STR(a.argv[15 + 9], "0");
	/* Refused: braces (hash tag), spaces, negative numbers, no time. */
	q.project = "a}b";
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == -1);
	q.project = "a b";
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == -1);
	q.project = "";
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == -1);
	q.project = "shop";
	q.team = "{x";
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == -1);
	q.team = "";
	q.request_id = NULL;
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == -1);
	q.request_id = "r";
	q.cost = -1;
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == -1);
	q.cost = 0;
	q.now_ms = 0;
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == -1);
}

/* Build a reply of n integers (static storage). */
static redisReply *
fake(const long long *v, size_t n)
{
	static redisReply	 top, el[16];
	static redisReply	*ptrs[16];
	size_t			 i;

	memset(&top, 0, sizeof(top));
	top.type = REDIS_REPLY_ARRAY;
	top.elements = n;
	top.element = ptrs;
	for (i = 0; i < n; i++) {
		memset(&el[i], 0, sizeof(el[i]));
		el[i].type = REDIS_REPLY_INTEGER;
		el[i].integer = v[i];
		ptrs[i] = &el[i];
	}
	return &top;
}

/* Replies decoded; headers as OpenAI names and writes them. */
static void
test_replies(void)
{
	static const long long	 rate[15] = { 2, 0, 1, 5, 10, 11000, 0, 5, 0,
	    59000, 1000, 600, 24000, 0, 0 };
	static const long long	 budget[16] = { 1, 2, 1, 100, 1000, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0 };
	static const long long	 allow[15] = { 0, 0, 1, 500, 1000, 0, 0, 0, 0,
	    0, 0, 0, 0, 1, 1 };
	static const long long	 bad[15] = { 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0 };
	static const long long	 st[6] = { 0, 1, 1, 1, 900, 2000 };
	struct gov_admit	 g;
	struct gov_settle	 s;
	struct gov_header	 h[GOV_MAX_HEADERS];
	redisReply		 e;
	size_t			 i;
	char			 err[128];
	size_t			 n;

	CHECK(gov_admit_reply(fake(rate, 15), &g, err, sizeof(err)) == 0);
	CHECK(g.verdict == GOV_RATE && g.scope == GOV_KEY &&
	    g.retry_after_ms == 11000);
	n = gov_headers(&g, h);
	CHECK(n == 8);
	CHECK_STR(h[0].name, "x-ratelimit-limit-requests");
	CHECK_STR(h[0].value, "5");
	CHECK_STR(h[1].name, "x-ratelimit-remaining-requests");
	CHECK_STR(h[1].value, "0");
	CHECK_STR(h[2].name, "x-ratelimit-reset-requests");
	CHECK_STR(h[2].value, "59s");
	CHECK_STR(h[3].name, "x-ratelimit-limit-tokens");
	CHECK_STR(h[4].value, "600");
	CHECK_STR(h[5].value, "24s");
	CHECK_STR(h[6].name, "retry-after");
	CHECK_STR(h[6].value, "11");
	CHECK_STR(h[7].name, "retry-after-ms");
	CHECK_STR(h[7].value, "11000");
	CHECK(gov_admit_reply(fake(budget, 15), &g, err, sizeof(err)) == 0);
	CHECK(g.verdict == GOV_BUDGET && g.scope == GOV_TEAM &&
	    g.remaining == 100 && g.limit == 1000);
	CHECK(!g.warn && !g.fail_open);
	CHECK(gov_headers(&g, h) == 0);
	CHECK(gov_admit_reply(fake(allow, 15), &g, err, sizeof(err)) == 0);
	CHECK(g.verdict == GOV_ALLOW && g.has_budget && g.warn &&
	    g.fail_open && g.remaining == 500);
	/* The earlier layout (13): warned at 20 % left, never fail-open. */
	CHECK(gov_admit_reply(fake(allow, 13), &g, err, sizeof(err)) == 0);
	CHECK(g.verdict == GOV_ALLOW && !g.warn && !g.fail_open);
	CHECK(gov_admit_reply(fake(budget, 13), &g, err, sizeof(err)) == 0);
	CHECK(g.warn && !g.fail_open);
	CHECK(gov_admit_reply(fake(bad, 15), &g, err, sizeof(err)) == -1);
	CHECK(gov_admit_reply(fake(budget, 12), &g, err, sizeof(err)) == -1);
	CHECK(gov_admit_reply(fake(budget, 14), &g, err, sizeof(err)) == -1);
	CHECK(gov_admit_reply(fake(budget, 16), &g, err, sizeof(err)) == -1);
	CHECK(gov_admit_reply(NULL, &g, err, sizeof(err)) == -1);
	CHECK(gov_settle_reply(fake(st, 6), &s, err, sizeof(err)) == 0);
	CHECK(s.status == GOV_SETTLED && s.warn && s.warn_scope == GOV_PROJECT &&
	    s.has_budget && s.remaining == 900 && s.limit == 2000);
	memset(&e, 0, sizeof(e));
	e.type = REDIS_REPLY_ERROR;
	e.str = (char *)"NOSCRIPT No matching script.";
	e.len = strlen(e.str);
	CHECK(redis_error_is(&e, "NOSCRIPT"));
	CHECK(gov_admit_reply(&e, &g, err, sizeof(err)) == -1);
	CHECK(strstr(err, "NOSCRIPT") != NULL);
	e.str = (char *)"ERR other";
	e.len = strlen(e.str);
	CHECK(!redis_error_is(&e, "NOSCRIPT"));
	CHECK(!redis_error_is(NULL, "NOSCRIPT"));
	/* Errors after which the script did not run, and which mean "down". */
	{
		static const struct {
			const char	*str;
			int		 transient, down;
		} errs[] = {
			{ "LOADING Redis is loading the dataset in memory", 1, 1 },
			{ "MASTERDOWN Link with MASTER is down", 1, 1 },
			{ "BUSY Redis is busy running a script.", 1, 0 },
			{ "READONLY You can't write against a read only replica.",
			    1, 0 },
			{ "OOM command not allowed when used memory > 'maxmemory'.",
			    1, 0 },
			{ "NOSCRIPT No matching script.", 1, 0 },
			{ "BUSYKEY Target key name already exists.", 0, 0 },
			{ "ERR Error running script", 0, 0 },
			{ "LOADINGX", 0, 0 },
		};
		int down;

		for (i = 0; i < NM_NELEM(errs); i++) {
			e.str = (char *)errs[i].str;
			e.len = strlen(e.str);
			down = -1;
			CHECK(redis_error_transient(&e, &down) ==
			    errs[i].transient);
			CHECK(down == errs[i].down);
		}
		CHECK(!redis_error_transient(NULL, &down) && down == 0);
		CHECK(!redis_error_transient(fake(st, 6), &down));
	}
}

int
main(void)
{
	char		 out[32], day[16], month[16], sha[CRYPTO_SHA1_HEXLEN + 1];
	int64_t		 ppm;
	size_t		 i;
	enum gov_period	 p;
	enum gov_down	 d;

	for (i = 0; i < NM_NELEM(durations); i++) {
		gov_duration(durations[i].ms, out, sizeof(out));
		CHECK_STR(out, durations[i].want);
	}
	for (i = 0; i < NM_NELEM(warns); i++) {
		ppm = -7;
		CHECK(gov_warn_parse(warns[i].s, &ppm) == warns[i].rc);
		if (warns[i].rc == 0)
			CHECK(ppm == warns[i].ppm);
	}
	for (i = 0; i < NM_NELEM(periods); i++) {
		CHECK(gov_periods(periods[i].ms, day, month) == 0);
		CHECK_STR(day, periods[i].day);
		CHECK_STR(month, periods[i].month);
	}
	CHECK(gov_periods(-1, day, month) == -1);
	CHECK(gov_period_parse("day", &p) == 0 && p == GOV_DAY);
	CHECK(gov_period_parse("total", &p) == 0 && p == GOV_TOTAL);
	CHECK(gov_period_parse("week", &p) == -1);
	CHECK(gov_period_parse(NULL, &p) == -1);
	for (i = 0; i < NM_NELEM(downs); i++) {
		d = (enum gov_down)-7;
		CHECK(gov_down_parse(downs[i].s, &d) == downs[i].rc);
		if (downs[i].rc == 0) {
			CHECK(d == downs[i].d);
			CHECK_STR(gov_down_name(d), downs[i].s);
		} else
			CHECK(d == (enum gov_down)-7);
	}
	CHECK_STR(gov_down_name(GOV_DOWN_KEEP), "closed");
	for (i = 0; i < NM_NELEM(warns); i++)
		if (warns[i].rc == 0 && warns[i].text != NULL) {
			CHECK_STR(gov_warn_format(warns[i].ppm, out, sizeof(out)),
			    warns[i].text);
			CHECK(gov_warn_parse(out, &ppm) == 0 &&
			    ppm == warns[i].ppm);
		}
	CHECK(gov_name_ok("shop", 0, 64) && !gov_name_ok("", 0, 64) &&
	    gov_name_ok("", 1, 64) && gov_name_ok(NULL, 1, 64) &&
	    !gov_name_ok("a{", 0, 64) && !gov_name_ok("a\tb", 0, 64));

	crypto_sha1_hex("abc", 3, sha);
	CHECK_STR(sha, "a9993e364706816aba3e25717850c26c9cd0d89d");
	crypto_sha1_hex(gov_admit_script(), strlen(gov_admit_script()), sha);
	CHECK_STR(sha, gov_admit_sha());
	crypto_sha1_hex(gov_settle_script(), strlen(gov_settle_script()), sha);
	CHECK_STR(sha, gov_settle_sha());
	CHECK(strcmp(gov_admit_sha(), gov_settle_sha()) != 0);
	CHECK(gov_budget_key("shop", GOV_TEAM, "red", out, sizeof(out)) == 0);
	CHECK_STR(out, "nm:{p:shop}:budget:team:red");
	CHECK(gov_budget_key("shop", GOV_TEAM, "", out, sizeof(out)) == -1);

	test_args();
	test_replies();
	UNIT_DONE();
}
