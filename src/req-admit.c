/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Admission and settlement in the request pipeline: budgets and rate
 * limits (src/govern.c holds the scripts).  The admission script goes in
 * the same Redis round trip as the cache lookup (req-cache.c); its answer
 * here becomes a 402 or a 429, or the request goes on with its
 * x-ratelimit-* headers.  Settlement goes in the settle pipeline
 * (outcome.c).  Stages run on libmicrohttpd's threads; admit_reply and
 * settle_done on the Redis thread.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nextmodel.h"
#include "audit.h"
#include "catalog.h"
#include "config.h"
#include "estimate.h"
#include "govern.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "redis.h"
#include "request.h"
#include "rthread.h"
#include "worker.h"

/*
 * What a key's last admission said of its budgets, for when Redis cannot
 * answer (stage_admit_check).  Stored as the value of the key id.
 */
#define ADMIT_SEEN_CLOSED	1	/* budgets applied, one at least closed */
#define ADMIT_SEEN_FREE		2	/* no budget applied */
#define ADMIT_SEEN_OPEN		3	/* budgets applied, every one open */
/* Entries of one generation of the worker's memories (two are kept). */
#define ADMIT_MEMO_MAX		4096
/* At most one "served fail-open" line this often (per worker). */
#define FAIL_OPEN_LOG_MS	10000
/* Settling a request while Redis is away: retried with these delays. */
#define SETTLE_RETRY_FIRST_MS	1000
#define SETTLE_RETRY_MAX_MS	10000
#define SETTLE_RETRY_FOR_MS	(30 * 60 * 1000)	/* then given up */
#define SETTLE_RETRY_PENDING	20000		/* jobs waiting, per worker */

/* Wall-clock ms. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The admission request of req: the key, worst case and estimate. */
static void
gov_request(const struct request *req, struct gov_req *g)
{
	memset(g, 0, sizeof(*g));
	g->project = req->key.project;
	g->team = req->key.team;
	g->key_id = req->key.id;
	g->request_id = req->id;
	g->key_rpm = req->key.rpm;
	g->key_tpm = req->key.tpm;
	g->now_ms = now_ms();
}

/*
 * Add the admission script to job j (before its other commands, so its
 * reply comes first).  Nothing for the admin key.  0, or -1 when the
 * request cannot be admitted (the caller answers).
 */
int
admit_cmd(struct request *req, struct rjob *j)
{
	struct estimate_cost ec;
	struct gov_req g;
	struct gov_args a;
	const struct model *m;
	char err[160];
	int i, n;

	req->gov.asked = 0;
	if (req->key.admin || req->model == NULL)
		return 0;
	gov_request(req, &g);
	/* The worst case at the dearest target a fallback may reach. */
	g.tokens_est = req->facts.est.input_tokens;
	n = req->decision != NULL ? (int)req->decision->ntargets : 0;
	for (i = 0; i < (n > 0 ? n : 1); i++) {
		m = n > 0 ? req->decision->targets[i].model : req->model;
		if (estimate_cost(&req->facts.est, m, &ec) != 0) {
			g.cost = INT64_MAX / 2;		/* fits no budget */
			break;
		}
		g.cost = NM_MAX(g.cost, ec.worst);
		g.tokens_est = NM_MAX(g.tokens_est,
		    req->facts.est.input_tokens + ec.output_worst);
	}
	req->gov.worst = g.cost;
	req->gov.tokens_est = g.tokens_est;
	if (gov_admit_args(&g, 1, &a, err, sizeof(err)) != 0 ||
	    rjob_cmd(j, a.argc, a.argv, a.lens) != 0) {
		log_warnx("admission: %s", err);
		return -1;
	}
	req->gov.asked = 1;
	req->gov.index = j->ncmds - 1;
	return 0;
}

/* Remember key -> v in m (budgeted_mu held); a key forgotten fails closed. */
static void
memo_put(struct strmap m[2], const char *key, size_t v)
{
	(void)strmap_memo_put(m, key, strlen(key), v, ADMIT_MEMO_MAX);
}

/* The value of key in m, or 0 (budgeted_mu held). */
static size_t
memo_get(const struct strmap m[2], const char *key)
{
	size_t *p = strmap_memo_get(m, key, strlen(key));

	return p != NULL ? *p : 0;
}

/* Free the worker's memories of admissions. */
void
admit_forget(struct worker *w)
{
	int i;

	for (i = 0; i < 2; i++) {
		strmap_free(&w->budgeted[i]);
		strmap_free(&w->budget_used[i]);
	}
}

/* The admission script's reply (Redis thread, mu held). */
void
admit_reply(struct request *req, const struct rjob *j)
{
	char err[160];
	int down;

	if (!req->gov.asked)
		return;
	if (j->failed || req->gov.index >= j->ncmds) {
		req->gov.failed = 1;
		return;
	}
	if (gov_admit_reply(j->reply[req->gov.index], &req->gov.admit, err,
	    sizeof(err)) != 0) {
		/* A Redis still loading its data is as good as away. */
		if (!redis_error_transient(j->reply[req->gov.index], &down) ||
		    !down) {
			log_warnx("admission: %s", err);
			req->gov.refused_by_redis = 1;
		}
		req->gov.failed = 1;
		return;
	}
	req->gov.done = 1;
	/* Remembered for when Redis cannot say (stage_admit_check). */
	pthread_mutex_lock(&req->w->budgeted_mu);
	memo_put(req->w->budgeted, req->key.id, !req->gov.admit.has_budget ?
	    ADMIT_SEEN_FREE : req->gov.admit.fail_open ? ADMIT_SEEN_OPEN :
	    ADMIT_SEEN_CLOSED);
	/* What routing policies read as the budget used (per mille). */
	if (req->gov.admit.has_budget && req->gov.admit.limit > 0)
		memo_put(req->w->budget_used, req->key.project,
		    1 + (size_t)(1000 - NM_MAX(0, NM_MIN(1000, (int64_t)
		    ((__int128)req->gov.admit.remaining * 1000 /
		    req->gov.admit.limit)))));
	pthread_mutex_unlock(&req->w->budgeted_mu);
}

/* The project's budget used when last seen (0..1); -1: unknown. */
double
admit_budget_used(struct request *req)
{
	size_t v;

	pthread_mutex_lock(&req->w->budgeted_mu);
	v = memo_get(req->w->budget_used, req->key.project);
	pthread_mutex_unlock(&req->w->budgeted_mu);
	return v > 0 ? (double)(v - 1) / 1000.0 : -1;
}

/* The key's last admission: ADMIT_SEEN_*, or 0 never seen (or forgotten). */
static size_t
last_seen(struct request *req)
{
	size_t v;

	pthread_mutex_lock(&req->w->budgeted_mu);
	v = memo_get(req->w->budgeted, req->key.id);
	pthread_mutex_unlock(&req->w->budgeted_mu);
	return v;
}

/* "$1.25" of nano-USD. */
static const char *
usd(nm_nano v, char *out, size_t len)
{
	char t[MONEY_STRLEN];

	snprintf(out, len, "$%s", money_format(v, t, sizeof(t)));
	return out;
}

/* The x-ratelimit-* (and Retry-After) headers of an admission. */
static void
rate_headers(struct request *req)
{
	struct gov_header hs[GOV_MAX_HEADERS];
	size_t i, n;

	n = gov_headers(&req->gov.admit, hs);
	for (i = 0; i < n; i++)
		request_header(req, hs[i].name, hs[i].value);
}

/* A warning said at most once every FAIL_OPEN_LOG_MS (per worker). */
struct loglimit {
	_Atomic int64_t	last_ms;
	atomic_llong	quiet;		/* not said since */
};

/*
 * Whether to say it now: -1 no (counted), else how many went unsaid
 * since the last time, for the line to mention.
 */
static long long
loglimit_take(struct loglimit *l)
{
	int64_t now = nm_mono_ms(), last = atomic_load(&l->last_ms);

	if ((last != 0 && now - last < FAIL_OPEN_LOG_MS) ||
	    !atomic_compare_exchange_strong(&l->last_ms, &last, now)) {
		atomic_fetch_add(&l->quiet, 1);
		return -1;
	}
	return atomic_exchange(&l->quiet, 0);
}

/* "; N more since the last such line", or "" when none. */
static const char *
loglimit_more(long long n, char *out, size_t len)
{
	out[0] = '\0';
	if (n > 0)
		snprintf(out, len, "; %lld more since the last such line", n);
	return out;
}

/*
 * Say that a request was served with its budgets unchecked, so an outage
 * at full request rate does not flood the log.
 */
static void
fail_open_log(struct request *req, const char *why)
{
	static struct loglimit lim;
	char more[96];
	long long n;

	if ((n = loglimit_take(&lim)) < 0)
		return;
	log_warnx("budgets of key %s (project %s) unchecked: Redis "
	    "unreachable, served fail-open (%s)%s", req->key.id,
	    req->key.project, why, loglimit_more(n, more, sizeof(more)));
}

/*
 * The admission's verdict: go on (reserved), 402 (a budget would be
 * passed), 429 (a rate limit).  Redis unreachable: rate limits are skipped
 * (counted), and the key's last admission decides: no budget applied, go
 * on; budgets applied and every one says on_redis_down open, go on
 * unchecked (counted, logged); else (one closed, or the key never seen
 * or forgotten) 503, never a silent overspend, unless budgets_fail_open.
 */
enum stage
stage_admit_check(struct request *req)
{
	const struct config *cfg = req->w->cfg;
	const struct gov_admit *ad = &req->gov.admit;
	char a[40], b[40], c[40];
	size_t seen;

	if (!req->gov.asked)
		return STAGE_NEXT;
	if (!req->gov.done) {
		metrics_count(req->w->metrics, MC_ADMIT_UNAVAILABLE, 1);
		if ((seen = last_seen(req)) == ADMIT_SEEN_FREE)
			return STAGE_NEXT;
		/*
		 * on_redis_down open is for a Redis that cannot be reached; one
		 * that answers with an error (OOM, READONLY, BUSY) is not down.
		 */
		if ((seen == ADMIT_SEEN_OPEN && !req->gov.refused_by_redis) ||
		    cfg->budgets_fail_open) {
			metrics_count(req->w->metrics, MC_ADMIT_FAIL_OPEN, 1);
			req->gov.unchecked = 1;
			fail_open_log(req, seen == ADMIT_SEEN_OPEN &&
			    !req->gov.refused_by_redis ? "on_redis_down open" :
			    "budgets_fail_open");
			return STAGE_NEXT;
		}
		return stage_fail(req, 503, "server_error", "budget_unavailable",
		    NULL, "Budgets cannot be checked right now (the budget "
		    "store is unreachable), so no request is sent to a source; "
		    "try again shortly.");
	}
	switch (ad->verdict) {
	case GOV_BUDGET:
		req->gov.refused = 1;
		return stage_fail(req, 402, "insufficient_quota",
		    "budget_exceeded", NULL, "The %s budget has %s left of %s; "
		    "this request could cost up to %s.",
		    gov_scope_name(ad->scope), usd(ad->remaining, a, sizeof(a)),
		    usd(ad->limit, b, sizeof(b)),
		    usd(req->gov.worst, c, sizeof(c)));
	case GOV_RATE:
		req->gov.refused = 1;
		rate_headers(req);
		if (ad->retry_after_ms < 0)
			return stage_fail(req, 429, "tokens", "rate_limit_exceeded",
			    NULL, "This request (about %lld tokens) is larger "
			    "than the %s's tokens-per-minute limit.",
			    (long long)req->gov.tokens_est,
			    gov_scope_name(ad->scope));
		stage_fail(req, 429, ad->rate_tokens ? "tokens" : "requests",
		    "rate_limit_exceeded", NULL, "Rate limit reached for the "
		    "%s: %s per minute.  Try again in %lld ms.",
		    gov_scope_name(ad->scope), ad->rate_tokens ? "tokens" :
		    "requests", (long long)ad->retry_after_ms);
		snprintf(req->err.retry_after, sizeof(req->err.retry_after),
		    "%lld", (long long)(ad->retry_after_ms + 999) / 1000);
		return STAGE_ANSWERED;
	default:
		break;
	}
	req->gov.reserved = ad->verdict == GOV_ALLOW;
	rate_headers(req);
	/*
	 * A budget at or past its warn_at: say how much is left (the least
	 * of the budgets that apply).
	 */
	if (ad->has_budget && ad->warn)
		request_header(req, "x-nextmodel-budget-remaining-usd",
		    money_format(ad->remaining, a, sizeof(a)));
	return STAGE_NEXT;
}

/*
 * What settle_done needs: the thread to queue the audit event (or the
 * retry) on, and when the settlement was first tried.
 */
struct settle_arg {
	struct rthread	*rt;
	struct metrics	*metrics;
	char		 project[72];
	int64_t		 first_ms;	/* monotonic */
	int64_t		 delay_ms;	/* before the next try; 0: none yet */
	int		 tries;
};

/* Settle jobs waiting to be tried again (this worker). */
static atomic_int settle_pending;
/* The lines of settlements given up. */
static struct loglimit settle_lost_log;

/*
 * A settlement Redis did not take (unreachable): the same commands again
 * later, so the money is on the budget once Redis is back.  The settle
 * script is idempotent for the request id while its record is kept
 * (GOV_KEEP_MS, longer than the retries), so a try whose reply was lost
 * is not counted twice.  0 when requeued (the job lives on), -1 given up.
 */
static int
settle_retry(struct rjob *j, struct settle_arg *sa)
{
	int64_t now = nm_mono_ms();

	/* Tries bound it too: a stopping thread runs delayed jobs at once. */
	if (now - sa->first_ms >= SETTLE_RETRY_FOR_MS ||
	    ++sa->tries > SETTLE_RETRY_FOR_MS / SETTLE_RETRY_MAX_MS + 8)
		return -1;
	if (sa->delay_ms == 0) {
		if (atomic_fetch_add(&settle_pending, 1) >= SETTLE_RETRY_PENDING) {
			atomic_fetch_sub(&settle_pending, 1);
			return -1;
		}
		sa->delay_ms = SETTLE_RETRY_FIRST_MS;
	} else
		sa->delay_ms = NM_MIN(sa->delay_ms * 2, SETTLE_RETRY_MAX_MS);
	/* Due on a 250 ms grid: the Redis thread wakes for many at once. */
	rjob_again(sa->rt, j, (now + sa->delay_ms) / 250 * 250 + 250);
	return 0;
}

/* The settle script's answer (Redis thread): a warning crossed is audited. */
static void
settle_done(struct rjob *j)
{
	struct settle_arg *sa = j->arg;
	struct gov_settle st;
	char err[160], details[256], t[MONEY_STRLEN], l[MONEY_STRLEN];
	char more[96];
	struct buf line;
	struct rjob *a;
	const char *argv[5];
	long long n;
	int i, down;

	/* Unreachable, or an error after which the script did not run. */
	if (j->failed || (j->ncmds > 0 &&
	    redis_error_transient(j->reply[0], &down))) {
		if (settle_retry(j, sa) == 0)
			return;
		metrics_count(sa->metrics, MC_SETTLE_LOST, 1);
		if ((n = loglimit_take(&settle_lost_log)) >= 0)
			log_warnx("a settlement of project %s was not recorded: "
			    "Redis unavailable for %lld s%s", sa->project,
			    (long long)((nm_mono_ms() - sa->first_ms) / 1000),
			    loglimit_more(n, more, sizeof(more)));
	} else if (j->ncmds > 0 && (j->reply[0] == NULL ||
	    j->reply[0]->type == REDIS_REPLY_ERROR)) {
		/* Any other error: the cost did not reach the budgets. */
		metrics_count(sa->metrics, MC_SETTLE_LOST, 1);
		if ((n = loglimit_take(&settle_lost_log)) >= 0)
			log_warnx("a settlement of project %s was not recorded: "
			    "%.200s%s", sa->project, j->reply[0] != NULL &&
			    j->reply[0]->str != NULL ? j->reply[0]->str :
			    "no reply", loglimit_more(n, more, sizeof(more)));
	}
	if (sa->delay_ms != 0)
		atomic_fetch_sub(&settle_pending, 1);
	for (i = 0; i < j->ncmds && !j->failed; i++) {
		if (j->reply[i] == NULL || j->reply[i]->type != REDIS_REPLY_ARRAY ||
		    gov_settle_reply(j->reply[i], &st, err, sizeof(err)) != 0 ||
		    !st.warn)
			continue;
		log_info("budget warning: the %s budget of %s has %s of %s left",
		    gov_scope_name(st.warn_scope), sa->project,
		    money_format(st.remaining, t, sizeof(t)),
		    money_format(st.limit, l, sizeof(l)));
		snprintf(details, sizeof(details), "{\"scope\":\"%s\","
		    "\"remaining_usd\":\"%s\",\"limit_usd\":\"%s\"}",
		    gov_scope_name(st.warn_scope), t, l);
		buf_init(&line, 4096);
		if (audit_line(&line, AUDIT_ACTOR_API, "budget.warning",
		    sa->project, details, "nextmodeld", now_ms(), err,
		    sizeof(err)) == 0 && (a = rjob_new(NULL, NULL)) != NULL) {
			argv[0] = "XADD";
			argv[1] = "nm:audit";
			argv[2] = "*";
			argv[3] = "e";
			argv[4] = line.data;
			if (rjob_cmd(a, 5, argv, NULL) == 0)
				rthread_submit(sa->rt, a);
			else
				rjob_free(a);
		}
		buf_free(&line);
	}
	free(j->arg);
	rjob_free(j);
}

/*
 * Settle what admission reserved: the reservation out, the billed cost in
 * (a cache hit's discounted cost), tokens corrected.  Its own job, so its
 * reply can be read (mu held).
 */
void
admit_settle(struct request *req)
{
	struct gov_req g;
	struct gov_args a;
	struct settle_arg *sa;
	struct rjob *j;
	char err[160];

	if ((!req->gov.done && !req->gov.unchecked) || req->gov.refused ||
	    req->gov.settled)
		return;
	req->gov.settled = 1;
	gov_request(req, &g);
	g.cost = req->oc.cost;
	/*
	 * Unchecked, nothing was counted against the tokens-per-minute limits
	 * at admission: the whole use is added now, not the difference.
	 */
	g.tokens_est = req->gov.unchecked ? 0 : req->gov.tokens_est;
	g.tokens = req->oc.usage.total_tokens;
	if ((sa = calloc(1, sizeof(*sa))) == NULL)
		return;
	sa->rt = req->w->rt;
	sa->metrics = req->w->metrics;
	sa->first_ms = nm_mono_ms();
	snprintf(sa->project, sizeof(sa->project), "%s", req->key.project);
	if ((j = rjob_new(settle_done, sa)) == NULL) {
		free(sa);
		return;
	}
	if (gov_settle_args(&g, 1, &a, err, sizeof(err)) != 0 ||
	    rjob_cmd(j, a.argc, a.argv, a.lens) != 0) {
		log_warnx("settle: %s", err);
		free(sa);
		rjob_free(j);
		return;
	}
	rthread_submit(req->w->rt, j);
}
