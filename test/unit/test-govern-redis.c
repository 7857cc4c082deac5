/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The governance scripts against a real Redis ($NM_REDIS_URL; skipped,
 * exit 77, without it): reservations on every scope, idempotent retries,
 * expiry, day and month rollover, warnings, GCRA windows and retry-after,
 * NOSCRIPT, and 8 processes x 50 requests racing for a budget that fits
 * about 5 worst cases: the settled sum never passes the limit and the
 * spent counter equals it.  Time is passed in, so the test moves it.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "govern.h"
#include "redis.h"
#include "unit.h"

#define USD		1000000000LL
#define T0		1796083200000LL	/* 2026-12-01T00:00:00Z, ms */
#define DAY_MS		86400000LL
#define NPROC		8
#define NPERPROC	50

static const char	*url;
static int		 nrid;

/* Run the script of args (EVALSHA, then EVAL after NOSCRIPT); caller frees. */
static redisReply *
eval(struct redis *r, struct gov_req *q, int settle)
{
	struct gov_args	 a;
	redisReply	*rep;
	char		 err[256];
	int		 rc;

	rc = settle ? gov_settle_args(q, 1, &a, err, sizeof(err)) :
	    gov_admit_args(q, 1, &a, err, sizeof(err));
	if (rc == -1) {
		fprintf(stderr, "args: %s\n", err);
		return NULL;
	}
	rep = redis_commandv(r, a.argc, a.argv, a.lens);
	if (rep != NULL && redis_error_is(rep, "NOSCRIPT")) {
		freeReplyObject(rep);
		if (settle)
			gov_settle_args(q, 0, &a, err, sizeof(err));
		else
			gov_admit_args(q, 0, &a, err, sizeof(err));
		rep = redis_commandv(r, a.argc, a.argv, a.lens);
	}
	return rep;
}

/* Admit q: the verdict, or -1. */
static int
admit(struct redis *r, struct gov_req *q, struct gov_admit *g)
{
	redisReply	*rep = eval(r, q, 0);
	char		 err[256];
	int		 rc;

	rc = gov_admit_reply(rep, g, err, sizeof(err));
	if (rc == -1)
		fprintf(stderr, "admit: %s\n", err);
	if (rep != NULL)
		freeReplyObject(rep);
	return rc == -1 ? -1 : (int)g->verdict;
}

/* Settle q: the status, or -1. */
static int
settle(struct redis *r, struct gov_req *q, struct gov_settle *g)
{
	redisReply	*rep = eval(r, q, 1);
	char		 err[256];
	int		 rc;

	rc = gov_settle_reply(rep, g, err, sizeof(err));
	if (rc == -1)
		fprintf(stderr, "settle: %s\n", err);
	if (rep != NULL)
		freeReplyObject(rep);
	return rc == -1 ? -1 : (int)g->status;
}

/* A request of project p (key k, team t) at now with a fresh id. */
static void
req(struct gov_req *q, char *rid, size_t ridlen, const char *p, const char *t,
    const char *k, nm_nano cost, int64_t now)
{
	memset(q, 0, sizeof(*q));
	snprintf(rid, ridlen, "req_%d_%d", (int)getpid(), ++nrid);
	q->project = p;
	q->team = t;
	q->key_id = k;
	q->request_id = rid;
	q->cost = cost;
	q->now_ms = now;
}

/* HGET of a budget's field, or "". */
static void
hget(struct redis *r, const char *key, const char *f, char *out, size_t len)
{
	redisReply	*rep = redis_command(r, "HGET %s %s", key, f);

	out[0] = '\0';
	if (rep != NULL && rep->type == REDIS_REPLY_STRING)
		snprintf(out, len, "%s", rep->str);
	if (rep != NULL)
		freeReplyObject(rep);
}

/* Check a budget's text field. */
static void
check_field(struct redis *r, const char *p, enum gov_scope s, const char *n,
    const char *f, const char *want)
{
	char	 k[GOV_KEY_MAX], v[64];

	gov_budget_key(p, s, n, k, sizeof(k));
	hget(r, k, f, v, sizeof(v));
	if (strcmp(v, want) != 0)
		fprintf(stderr, "%s %s: %s, want %s\n", k, f, v, want);
	CHECK_STR(v, want);
}

/* Reservations on every scope, 402 with the scope, settle, readable text. */
static void
test_basic(struct redis *r)
{
	struct gov_req		 q, keep[4];
	struct gov_admit	 g;
	struct gov_settle	 s;
	struct gov_budget	 b;
	char			 rid[5][48], err[256];
	int			 i;

	CHECK(gov_budget_set(r, "basic", GOV_PROJECT, NULL, 1 * USD, GOV_MONTH,
	    GOV_WARN_DEFAULT_PPM, GOV_DOWN_KEEP, T0, NULL, err,
	    sizeof(err)) == 0);
	CHECK(gov_budget_set(r, "basic", GOV_TEAM, "red", 10 * USD, GOV_TOTAL,
	    0, GOV_DOWN_KEEP, T0, NULL, err,
	    sizeof(err)) == 0);
	for (i = 0; i < 3; i++) {
		req(&keep[i], rid[i], sizeof(rid[i]), "basic", "red", "key_a",
		    300000000, T0 + i);
		CHECK(admit(r, &keep[i], &g) == GOV_ALLOW);
		CHECK(g.has_budget);
	}
	/* Project: 1 - 0.9 = 0.1 left, the team has 9.1. */
	CHECK(g.remaining == 400000000);	/* before the third */
	req(&q, rid[3], sizeof(rid[3]), "basic", "red", "key_a", 300000000, T0 + 5);
	CHECK(admit(r, &q, &g) == GOV_BUDGET);
	CHECK(g.scope == GOV_PROJECT);
	CHECK(g.remaining == 100000000);
	CHECK(g.limit == 1 * USD);
	check_field(r, "basic", GOV_PROJECT, NULL, "reserved_usd", "0.9");
	check_field(r, "basic", GOV_PROJECT, NULL, "remaining_usd", "0.1");
	check_field(r, "basic", GOV_TEAM, "red", "reserved_usd", "0.9");
	/* A request of another team is not held by team red's budget. */
	req(&q, rid[4], sizeof(rid[4]), "basic", "blue", "key_b", 100000000, T0 + 6);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	/* Settle the three at less than the worst case. */
	for (i = 0; i < 3; i++) {
		keep[i].cost = 250000000;
		keep[i].now_ms = T0 + 100;
		CHECK(settle(r, &keep[i], &s) == GOV_SETTLED);
	}
	check_field(r, "basic", GOV_PROJECT, NULL, "spent_usd", "0.85");
	check_field(r, "basic", GOV_PROJECT, NULL, "reserved_usd", "0");
	check_field(r, "basic", GOV_PROJECT, NULL, "remaining_usd", "0.15");
	check_field(r, "basic", GOV_PROJECT, NULL, "limit_usd", "1");
	check_field(r, "basic", GOV_PROJECT, NULL, "period", "month");
	check_field(r, "basic", GOV_PROJECT, NULL, "period_start", "2026-12-01");
	check_field(r, "basic", GOV_TEAM, "red", "spent_usd", "0.75");
	check_field(r, "basic", GOV_TEAM, "red", "remaining_usd", "9.25");
	CHECK(gov_budget_get(r, "basic", GOV_PROJECT, NULL, T0 + 200, &b, err,
	    sizeof(err)) == 0);
	CHECK(b.exists && b.limit == USD && b.spent == 850000000 &&
	    b.reserved == 0 && b.remaining == 150000000 && b.period == GOV_MONTH);
	CHECK(b.warn_ppm == 800000);
	/* Month rollover: the first of January starts from nothing. */
	CHECK(gov_budget_get(r, "basic", GOV_PROJECT, NULL, T0 + 31 * DAY_MS, &b,
	    err, sizeof(err)) == 0);
	CHECK(b.spent == 0 && b.remaining == USD);
	CHECK_STR(b.period_start, "2027-01-01");
	/* ... but a total budget never rolls. */
	CHECK(gov_budget_get(r, "basic", GOV_TEAM, "red", T0 + 400 * DAY_MS, &b,
	    err, sizeof(err)) == 0);
	CHECK(b.spent == 750000000);
	CHECK(gov_budget_clear(r, "basic", GOV_TEAM, "red", err, sizeof(err)) == 1);
	CHECK(gov_budget_clear(r, "basic", GOV_TEAM, "red", err, sizeof(err)) == 0);
	CHECK(gov_budget_get(r, "basic", GOV_TEAM, "red", T0, &b, err,
	    sizeof(err)) == 0 && !b.exists);
}

/* A retried admission or settlement changes nothing the second time. */
static void
test_idempotent(struct redis *r)
{
	struct gov_req		 q;
	struct gov_admit	 g;
	struct gov_settle	 s;
	struct gov_budget	 b;
	char			 rid[48], err[256];

	CHECK(gov_budget_set(r, "idem", GOV_KEY, "key_i", 1 * USD, GOV_TOTAL,
	    0, GOV_DOWN_KEEP, T0, NULL, err,
	    sizeof(err)) == 0);
	req(&q, rid, sizeof(rid), "idem", "", "key_i", 600000000, T0);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	CHECK(admit(r, &q, &g) == GOV_DUPLICATE);
	CHECK(admit(r, &q, &g) == GOV_DUPLICATE);
	check_field(r, "idem", GOV_KEY, "key_i", "reserved_usd", "0.6");
	q.cost = 500000000;
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	CHECK(settle(r, &q, &s) == GOV_SETTLE_DUP);
	CHECK(s.has_budget && s.remaining == 500000000);
	CHECK(admit(r, &q, &g) == GOV_DUPLICATE);	/* after settling too */
	CHECK(gov_budget_get(r, "idem", GOV_KEY, "key_i", T0, &b, err,
	    sizeof(err)) == 0);
	CHECK(b.spent == 500000000 && b.reserved == 0);
}

/* A dead worker's reservation expires; its late settle still counts. */
static void
test_expiry(struct redis *r)
{
	struct gov_req		 q1, q2;
	struct gov_admit	 g;
	struct gov_settle	 s;
	struct gov_budget	 b;
	char			 r1[48], r2[48], err[256];

	CHECK(gov_budget_set(r, "exp", GOV_PROJECT, NULL, 1 * USD, GOV_TOTAL, 0,
	    GOV_DOWN_KEEP, T0, NULL, err,
	    sizeof(err)) == 0);
	req(&q1, r1, sizeof(r1), "exp", "", "key_e", 800000000, T0);
	q1.hold_ms = 1000;
	CHECK(admit(r, &q1, &g) == GOV_ALLOW);
	req(&q2, r2, sizeof(r2), "exp", "", "key_e", 800000000, T0 + 999);
	CHECK(admit(r, &q2, &g) == GOV_BUDGET);
	q2.now_ms = T0 + 1001;			/* q1's reservation is gone */
	CHECK(admit(r, &q2, &g) == GOV_ALLOW);
	CHECK(gov_budget_get(r, "exp", GOV_PROJECT, NULL, T0 + 1002, &b, err,
	    sizeof(err)) == 0);
	CHECK(b.reserved == 800000000);
	/* q1 settles after all: billed, though its hold had lapsed. */
	q1.cost = 100000000;
	q1.now_ms = T0 + 2000;
	CHECK(settle(r, &q1, &s) == GOV_SETTLED);
	CHECK(gov_budget_get(r, "exp", GOV_PROJECT, NULL, T0 + 2000, &b, err,
	    sizeof(err)) == 0);
	CHECK(b.spent == 100000000 && b.reserved == 800000000);
	/* A settle with no admission at all (nothing held) counts too. */
	req(&q1, r1, sizeof(r1), "exp", "", "key_e", 50000000, T0 + 3000);
	CHECK(settle(r, &q1, &s) == GOV_SETTLE_NORESV);
	CHECK(settle(r, &q1, &s) == GOV_SETTLE_DUP);
	CHECK(gov_budget_get(r, "exp", GOV_PROJECT, NULL, T0 + 3000, &b, err,
	    sizeof(err)) == 0);
	CHECK(b.spent == 150000000);
}

/* Day budgets roll at UTC midnight; warnings fire once per period. */
static void
test_day_warn(struct redis *r)
{
	struct gov_req		 q;
	struct gov_admit	 g;
	struct gov_settle	 s;
	char			 rid[48], err[256];
	int64_t			 t = T0 + 2 * DAY_MS + DAY_MS - 10;	/* Dec 3, 23:59:59.990 */

	CHECK(gov_budget_set(r, "day", GOV_PROJECT, NULL, 2 * USD, GOV_DAY,
	    500000, GOV_DOWN_KEEP, t, NULL, err,
	    sizeof(err)) == 0);
	check_field(r, "day", GOV_PROJECT, NULL, "period_start", "2026-12-03");
	check_field(r, "day", GOV_PROJECT, NULL, "warn_at", "0.5");
	req(&q, rid, sizeof(rid), "day", "", "key_d", 900000000, t);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	CHECK(settle(r, &q, &s) == GOV_SETTLED && !s.warn);
	req(&q, rid, sizeof(rid), "day", "", "key_d", 200000000, t + 1);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	CHECK(s.warn && s.warn_scope == GOV_PROJECT);	/* 1.1 >= 1 */
	CHECK(s.remaining == 900000000);
	req(&q, rid, sizeof(rid), "day", "", "key_d", 100000000, t + 2);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	CHECK(settle(r, &q, &s) == GOV_SETTLED && !s.warn);	/* once */
	check_field(r, "day", GOV_PROJECT, NULL, "spent_usd", "1.2");
	/* Midnight: a new day, nothing spent, the warning armed again. */
	req(&q, rid, sizeof(rid), "day", "", "key_d", 1900000000, t + 10);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	check_field(r, "day", GOV_PROJECT, NULL, "period_start", "2026-12-04");
	check_field(r, "day", GOV_PROJECT, NULL, "spent_usd", "0");
	check_field(r, "day", GOV_PROJECT, NULL, "warned", "0");
	CHECK(settle(r, &q, &s) == GOV_SETTLED && s.warn);
	/*
	 * A settlement of yesterday's request that reaches Redis late (a
	 * retry, a clock behind): charged to today, today's spending kept,
	 * never a roll back to yesterday.
	 */
	req(&q, rid, sizeof(rid), "day", "", "key_d", 50000000, t + 3);
	CHECK(settle(r, &q, &s) == GOV_SETTLE_NORESV);
	check_field(r, "day", GOV_PROJECT, NULL, "period_start", "2026-12-04");
	check_field(r, "day", GOV_PROJECT, NULL, "spent_usd", "1.95");
	check_field(r, "day", GOV_PROJECT, NULL, "warned", "1");
}

/*
 * The admission's warn flag follows each budget's own warn_at (spent and
 * reserved against warn_nano, before this request), and fail_open is 1
 * only when budgets apply and every one says on_redis_down open.
 */
static void
test_warn_down(struct redis *r)
{
	struct gov_req		 q, held;
	struct gov_admit	 g;
	struct gov_settle	 s;
	struct gov_budget	 b;
	enum gov_down		 now;
	char			 rid[48], rid2[48], err[256];

	/* Half of $2: the warning at $1 spent, not a nano-USD before. */
	CHECK(gov_budget_set(r, "wd", GOV_PROJECT, NULL, 2 * USD, GOV_TOTAL,
	    500000, GOV_DOWN_OPEN, T0, &now, err, sizeof(err)) == 0);
	CHECK(now == GOV_DOWN_OPEN);
	check_field(r, "wd", GOV_PROJECT, NULL, "on_redis_down", "open");
	req(&q, rid, sizeof(rid), "wd", "", "key_w", USD - 1, T0);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	CHECK(!g.warn && g.fail_open);
	CHECK(settle(r, &q, &s) == GOV_SETTLED && !s.warn);
	req(&q, rid, sizeof(rid), "wd", "", "key_w", 1, T0 + 1);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	CHECK(!g.warn);		/* $1 - 1 nano spent before it */
	/* Reserved counts too: held, $1 used. */
	req(&held, rid2, sizeof(rid2), "wd", "", "key_w", 0, T0 + 2);
	CHECK(admit(r, &held, &g) == GOV_ALLOW && g.warn);
	CHECK(settle(r, &q, &s) == GOV_SETTLED && s.warn);
	CHECK(settle(r, &held, &s) == GOV_SETTLED);
	req(&q, rid, sizeof(rid), "wd", "", "key_w", 1, T0 + 3);
	CHECK(admit(r, &q, &g) == GOV_ALLOW && g.warn);
	CHECK(g.remaining == USD);
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	/* No warn_at: never. */
	CHECK(gov_budget_set(r, "wd", GOV_PROJECT, NULL, 2 * USD, GOV_TOTAL,
	    0, GOV_DOWN_KEEP, T0, &now, err, sizeof(err)) == 0);
	CHECK(now == GOV_DOWN_OPEN);	/* kept */
	req(&q, rid, sizeof(rid), "wd", "", "key_w", 1, T0 + 4);
	CHECK(admit(r, &q, &g) == GOV_ALLOW && !g.warn && g.fail_open);
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	/* 0.9 of $2: 85 % used (15 % left) is no warning yet. */
	CHECK(gov_budget_set(r, "wd", GOV_PROJECT, NULL, 2 * USD, GOV_TOTAL,
	    900000, GOV_DOWN_KEEP, T0, NULL, err, sizeof(err)) == 0);
	req(&q, rid, sizeof(rid), "wd", "", "key_w", 7 * USD / 10 - 2, T0 + 5);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	req(&q, rid, sizeof(rid), "wd", "", "key_w", 1, T0 + 6);
	CHECK(admit(r, &q, &g) == GOV_ALLOW && !g.warn);
	CHECK(g.remaining == 3 * USD / 10);
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	/* A closed team budget beside the open project one: not fail-open. */
	CHECK(gov_budget_set(r, "wd", GOV_TEAM, "t", 10 * USD, GOV_TOTAL,
	    0, GOV_DOWN_KEEP, T0, &now, err, sizeof(err)) == 0);
	CHECK(now == GOV_DOWN_CLOSED);	/* a new budget is closed */
	req(&q, rid, sizeof(rid), "wd", "t", "key_w", 1, T0 + 7);
	CHECK(admit(r, &q, &g) == GOV_ALLOW && !g.fail_open);
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	CHECK(gov_budget_set(r, "wd", GOV_TEAM, "t", 10 * USD, GOV_TOTAL,
	    0, GOV_DOWN_OPEN, T0, NULL, err, sizeof(err)) == 0);
	req(&q, rid, sizeof(rid), "wd", "t", "key_w", 1, T0 + 8);
	CHECK(admit(r, &q, &g) == GOV_ALLOW && g.fail_open);
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	CHECK(gov_budget_get(r, "wd", GOV_TEAM, "t", T0 + 9, &b, err,
	    sizeof(err)) == 0 && b.on_down == GOV_DOWN_OPEN);
	CHECK(gov_budget_set(r, "wd", GOV_PROJECT, NULL, 2 * USD, GOV_TOTAL,
	    0, GOV_DOWN_CLOSED, T0, NULL, err, sizeof(err)) == 0);
	CHECK(gov_budget_get(r, "wd", GOV_PROJECT, NULL, T0 + 9, &b, err,
	    sizeof(err)) == 0 && b.on_down == GOV_DOWN_CLOSED);
	req(&q, rid, sizeof(rid), "wd", "t", "key_w", 1, T0 + 10);
	CHECK(admit(r, &q, &g) == GOV_ALLOW && !g.fail_open);
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	/* No budget at all: nothing to fail open. */
	req(&q, rid, sizeof(rid), "wd-none", "", "key_n", 1, T0);
	CHECK(admit(r, &q, &g) == GOV_ALLOW && !g.has_budget && !g.fail_open &&
	    !g.warn);
}

/* GCRA: 5 rpm on the key, the sixth waits 12 s; tokens; project limits. */
static void
test_rate(struct redis *r)
{
	struct gov_req		 q;
	struct gov_admit	 g;
	struct gov_settle	 s;
	struct gov_header	 h[GOV_MAX_HEADERS];
	char			 rid[48], err[256];
	size_t			 n, i;
	int			 k;

	for (k = 0; k < 5; k++) {
		req(&q, rid, sizeof(rid), "rate", "", "key_r", 0, T0);
		q.key_rpm = 5;
		CHECK(admit(r, &q, &g) == GOV_ALLOW);
		CHECK(g.rl.limit_requests == 5);
		CHECK(g.rl.remaining_requests == 4 - k);
		CHECK(g.rl.reset_requests_ms == (k + 1) * 12000);
	}
	req(&q, rid, sizeof(rid), "rate", "", "key_r", 0, T0 + 1000);
	q.key_rpm = 5;
	CHECK(admit(r, &q, &g) == GOV_RATE);
	CHECK(g.scope == GOV_KEY && !g.rate_tokens);
	CHECK(g.retry_after_ms == 11000);
	CHECK(g.rl.remaining_requests == 0);
	n = gov_headers(&g, h);
	CHECK(n == 5);
	for (i = 0; i < n; i++) {
		if (strcmp(h[i].name, "retry-after") == 0)
			CHECK_STR(h[i].value, "11");
		if (strcmp(h[i].name, "retry-after-ms") == 0)
			CHECK_STR(h[i].value, "11000");
		if (strcmp(h[i].name, "x-ratelimit-reset-requests") == 0)
			CHECK_STR(h[i].value, "59s");
	}
	q.now_ms = T0 + 11999;
	CHECK(admit(r, &q, &g) == GOV_RATE);
	q.now_ms = T0 + 12000;
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	/* A refused request counted nothing: still one at T0+24000. */
	req(&q, rid, sizeof(rid), "rate", "", "key_r", 0, T0 + 23999);
	q.key_rpm = 5;
	CHECK(admit(r, &q, &g) == GOV_RATE);
	q.now_ms = T0 + 24000;
	CHECK(admit(r, &q, &g) == GOV_ALLOW);

	/* Tokens: 1000 a minute, 400 estimated each. */
	req(&q, rid, sizeof(rid), "rate", "", "key_t", 0, T0);
	q.key_tpm = 1000;
	q.tokens_est = 400;
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	CHECK(g.rl.limit_tokens == 1000 && g.rl.remaining_tokens == 600);
	/* It used 100: the window gives 300 back. */
	q.tokens = 100;
	CHECK(settle(r, &q, &s) == GOV_SETTLED);
	for (k = 0; k < 2; k++) {
		req(&q, rid, sizeof(rid), "rate", "", "key_t", 0, T0);
		q.key_tpm = 1000;
		q.tokens_est = 400;
		CHECK(admit(r, &q, &g) == GOV_ALLOW);
	}
	CHECK(g.rl.remaining_tokens == 100);
	req(&q, rid, sizeof(rid), "rate", "", "key_t", 0, T0);
	q.key_tpm = 1000;
	q.tokens_est = 400;
	CHECK(admit(r, &q, &g) == GOV_RATE);
	CHECK(g.rate_tokens && g.retry_after_ms == 18000);	/* 300 tokens */
	q.tokens_est = 2000;				/* never fits */
	CHECK(admit(r, &q, &g) == GOV_RATE);
	CHECK(g.retry_after_ms == -1);
	CHECK(gov_headers(&g, h) == 3);			/* no retry-after */

	/* The project's own limit binds across its keys. */
	CHECK(gov_project_limits_set(r, "rate2", 3, -1, err, sizeof(err)) == 0);
	for (k = 0; k < 4; k++) {
		req(&q, rid, sizeof(rid), "rate2", "", k % 2 ? "key_x" : "key_y",
		    0, T0);
		q.key_rpm = 100;
		CHECK(admit(r, &q, &g) == (k < 3 ? GOV_ALLOW : GOV_RATE));
	}
	CHECK(g.scope == GOV_PROJECT && g.rl.limit_requests == 3);
	CHECK(g.retry_after_ms == 20000);
}

/* A large budget stays exact; NOSCRIPT is recognised. */
static void
test_big(struct redis *r)
{
	struct gov_req		 q;
	struct gov_admit	 g;
	struct gov_args		 a;
	redisReply		*rep;
	char			 rid[48], err[256];

	CHECK(gov_budget_set(r, "big", GOV_PROJECT, NULL, GOV_NANO_MAX,
	    GOV_TOTAL, 0, GOV_DOWN_KEEP, T0, NULL, err,
	    sizeof(err)) == 0);
	CHECK(gov_budget_set(r, "big", GOV_PROJECT, NULL, GOV_NANO_MAX + 1,
	    GOV_TOTAL, 0, GOV_DOWN_KEEP, T0, NULL, err,
	    sizeof(err)) == -1);
	check_field(r, "big", GOV_PROJECT, NULL, "limit_usd", "4503599.627370496");
	req(&q, rid, sizeof(rid), "big", "", "key_g", 1234567123456789LL, T0);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);
	check_field(r, "big", GOV_PROJECT, NULL, "reserved_nano", "1234567123456789");
	check_field(r, "big", GOV_PROJECT, NULL, "remaining_usd", "3269032.503913707");
	req(&q, rid, sizeof(rid), "big", "", "key_g", INT64_MAX, T0);
	CHECK(admit(r, &q, &g) == GOV_BUDGET);

	rep = redis_command(r, "SCRIPT FLUSH");
	CHECK(rep != NULL);
	if (rep != NULL)
		freeReplyObject(rep);
	req(&q, rid, sizeof(rid), "big", "", "key_g", 1, T0);
	CHECK(gov_admit_args(&q, 1, &a, err, sizeof(err)) == 0);
	rep = redis_commandv(r, a.argc, a.argv, a.lens);
	CHECK(redis_error_is(rep, "NOSCRIPT"));
	if (rep != NULL)
		freeReplyObject(rep);
	CHECK(admit(r, &q, &g) == GOV_ALLOW);		/* EVAL, then cached */
}

/* One racing process: n admissions, settle the admitted at a random cost. */
static int
racer(int id, int fd)
{
	struct redis		*r;
	struct gov_req		 q;
	struct gov_admit	 g;
	struct gov_settle	 s;
	char			 rid[48], err[256], line[64];
	int64_t			 sum = 0, ok = 0, no = 0;
	int			 i, n;

	srand((unsigned)(getpid() * 7919 + id));
	if ((r = redis_new(url, 5000, err, sizeof(err))) == NULL)
		return 1;
	for (i = 0; i < NPERPROC; i++) {
		req(&q, rid, sizeof(rid), "race", id % 2 ? "odd" : "even",
		    id % 3 ? "key_r1" : "key_r2", 200000000, T0 + i);
		q.hold_ms = 60000;
		if (admit(r, &q, &g) == GOV_ALLOW) {
			ok++;
			if (rand() % 4 == 0)
				usleep(1000);
			q.cost = 50000000 + (rand() % 150000001);
			if (settle(r, &q, &s) != GOV_SETTLED)
				return 1;
			sum += q.cost;
		} else if (g.verdict == GOV_BUDGET)
			no++;
		else
			return 1;
	}
	redis_free(r);
	n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 " %" PRId64 "\n",
	    sum, ok, no);
	return write(fd, line, (size_t)n) == n ? 0 : 1;
}

/* 8 processes x 50 requests against a budget of 5 worst cases. */
static void
test_race(struct redis *r)
{
	struct gov_budget	 b;
	char			 err[256], buf[4096];
	int			 fd[2], i, st, bad = 0;
	int64_t			 sum = 0, ok = 0, no = 0, x, y, z;
	pid_t			 pid[NPROC];
	size_t			 got = 0;
	ssize_t			 n;
	char			*p;

	CHECK(gov_budget_set(r, "race", GOV_PROJECT, NULL, 1 * USD, GOV_TOTAL,
	    0, GOV_DOWN_KEEP, T0, NULL, err,
	    sizeof(err)) == 0);
	CHECK(pipe(fd) == 0);
	for (i = 0; i < NPROC; i++) {
		if ((pid[i] = fork()) == 0) {
			close(fd[0]);
			_exit(racer(i, fd[1]));
		}
	}
	close(fd[1]);
	while ((n = read(fd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd[0]);
	for (i = 0; i < NPROC; i++)
		if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad++;
	CHECK(bad == 0);
	for (p = buf; sscanf(p, "%" SCNd64 " %" SCNd64 " %" SCNd64, &x, &y,
	    &z) == 3; p = strchr(p, '\n') + 1) {
		sum += x;
		ok += y;
		no += z;
	}
	CHECK(ok + no == NPROC * NPERPROC);
	CHECK(gov_budget_get(r, "race", GOV_PROJECT, NULL, T0 + 1000, &b, err,
	    sizeof(err)) == 0);
	printf("race: %d processes x %d: %" PRId64 " admitted, %" PRId64
	    " refused, settled %" PRId64 " nano of %lld; spent %" PRId64
	    ", reserved %" PRId64 "\n", NPROC, NPERPROC, ok, no, sum, USD,
	    b.spent, b.reserved);
	CHECK(sum <= USD);
	CHECK(b.spent == sum);
	CHECK(b.reserved == 0);
	CHECK(ok >= 5);
}

int
main(void)
{
	struct redis	*r;
	redisReply	*rep;
	char		 err[256];

	if ((url = getenv("NM_REDIS_URL")) == NULL || *url == '\0') {
		printf("NM_REDIS_URL not set: skipped\n");
		return 77;
	}
	if ((r = redis_new(url, 5000, err, sizeof(err))) == NULL ||
	    redis_connect(r) == -1) {
		fprintf(stderr, "redis: %s\n", r ? redis_errstr(r) : err);
		return 1;
	}
	rep = redis_command(r, "FLUSHDB");
	CHECK(rep != NULL && rep->type == REDIS_REPLY_STATUS);
	if (rep != NULL)
		freeReplyObject(rep);
	test_basic(r);
	test_idempotent(r);
	test_expiry(r);
	test_day_warn(r);
	test_warn_down(r);
	test_rate(r);
	test_big(r);
	test_race(r);
	redis_free(r);
	UNIT_DONE();
}
