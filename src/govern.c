/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Governance without I/O: the key names under a project's hash tag, the
 * arguments of the admit and settle scripts (govern-lua.c), the decoding
 * of their replies and the rate-limit headers.  The Redis thread sends
 * what this builds; nothing here waits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "govern.h"

#define NREPLY_ADMIT	15
#define NREPLY_ADMIT_V1	13	/* before warn and fail_open were added */
#define NREPLY_SETTLE	6

static const char *const scope_names[GOV_NSCOPES] = { "key", "project", "team" };
static const char *const period_names[] = { "day", "month", "total" };
static const char *const down_names[] = { "closed", "open" };

/* "key", "project", "team". */
const char *
gov_scope_name(enum gov_scope s)
{
	return (unsigned)s < GOV_NSCOPES ? scope_names[s] : "?";
}

/* 1 if s has 1..max (0..max with allow_empty) printable ASCII, no space or brace. */
int
gov_name_ok(const char *s, int allow_empty, size_t max)
{
	size_t	 i, len;

	if (s == NULL)
		return allow_empty;
	len = strlen(s);
	if ((len == 0 && !allow_empty) || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '{' || s[i] == '}')
			return 0;
	return 1;
}

/* The UTC day and month starts of now_ms: "YYYY-MM-DD", "YYYY-MM-01". */
int
gov_periods(int64_t now_ms, char day[16], char month[16])
{
	struct tm	 tm;
	time_t		 t;

	if (now_ms < 0)
		return -1;
	t = (time_t)(now_ms / 1000);
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	if (tm.tm_year + 1900 > 9999)
		return -1;
	snprintf(day, 16, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000,
	    (tm.tm_mon + 1) % 100, tm.tm_mday % 100);
	snprintf(month, 16, "%04d-%02d-01", (tm.tm_year + 1900) % 10000,
	    (tm.tm_mon + 1) % 100);
	return 0;
}

/* One key name "nm:{p:PROJECT}:<what>[:<scope>[:<name>]]" into out: 0 or -1. */
static int
scope_key(const char *project, const char *what, enum gov_scope s,
    const char *name, char *out, size_t outlen)
{
	int	 n;

	switch (s) {
	case GOV_PROJECT:
		n = snprintf(out, outlen, "nm:{p:%s}:%s:project", project, what);
		break;
	case GOV_KEY:
	case GOV_TEAM:
		n = snprintf(out, outlen, "nm:{p:%s}:%s:%s:%s", project, what,
		    scope_names[s], name != NULL ? name : "");
		break;
	default:
		return -1;
	}
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* The Redis key of a budget's hash. */
int
gov_budget_key(const char *project, enum gov_scope s, const char *name,
    char *out, size_t outlen)
{
	if (!gov_name_ok(project, 0, GOV_NAME_MAX) ||
	    (s != GOV_PROJECT && !gov_name_ok(name, 0, GOV_NAME_MAX)))
		return -1;
	return scope_key(project, "budget", s, name, out, outlen);
}

/* Append one argument to a. */
static void
arg(struct gov_args *a, const char *s)
{
	a->argv[a->argc] = s;
	a->lens[a->argc] = strlen(s);
	a->argc++;
}

/* Build the common EVAL/EVALSHA arguments of admit and settle. */
static int
build(const struct gov_req *r, const char *script, const char *sha,
    int evalsha, int settle, struct gov_args *a, char *err, size_t errlen)
{
	const char	*team = r->team != NULL ? r->team : "";
	nm_nano		 cost = r->cost;
	int64_t		 hold, keep, toks, est;
	size_t		 i;
	int		 bad = 0;

	memset(a, 0, sizeof(*a));
	if (!gov_name_ok(r->project, 0, GOV_NAME_MAX)) {
		snprintf(err, errlen, "governance: unusable project name");
		return -1;
	}
	if (!gov_name_ok(team, 1, GOV_NAME_MAX) ||
	    !gov_name_ok(r->key_id, 0, GOV_NAME_MAX) ||
	    !gov_name_ok(r->request_id, 0, GOV_RID_MAX)) {
		snprintf(err, errlen, "governance: unusable team, key or "
		    "request id");
		return -1;
	}
	if (cost < 0 || r->tokens_est < 0 || r->tokens < 0 ||
	    r->key_rpm < 0 || r->key_tpm < 0 || r->now_ms <= 0 ||
	    r->hold_ms < 0 || r->keep_ms < 0) {
		snprintf(err, errlen, "governance: negative number");
		return -1;
	}
	/* Beyond what any budget admits; exact as a double. */
	if (cost > GOV_NANO_MAX)
		cost = GOV_NANO_MAX + 1;
	toks = NM_MIN(settle ? r->tokens : r->tokens_est, GOV_TOKENS_MAX);
	est = NM_MIN(r->tokens_est, GOV_TOKENS_MAX);
	hold = r->hold_ms ? NM_MIN(r->hold_ms, (int64_t)1 << 40) : GOV_HOLD_MS;
	keep = r->keep_ms ? NM_MIN(r->keep_ms, (int64_t)1 << 40) : GOV_KEEP_MS;
	if (gov_periods(r->now_ms, a->day, a->month) == -1) {
		snprintf(err, errlen, "governance: bad time");
		return -1;
	}

	bad |= snprintf(a->keys[0], GOV_KEY_MAX, "nm:{p:%s}:req:%s", r->project,
	    r->request_id) >= GOV_KEY_MAX;
	bad |= snprintf(a->keys[1], GOV_KEY_MAX, "nm:{p:%s}:ratelimit",
	    r->project) >= GOV_KEY_MAX;
	bad |= scope_key(r->project, "rl", GOV_KEY, r->key_id, a->keys[2],
	    GOV_KEY_MAX);
	bad |= scope_key(r->project, "rl", GOV_PROJECT, NULL, a->keys[3],
	    GOV_KEY_MAX);
	for (i = 0; i < GOV_NSCOPES; i++) {
		const char *name = i == GOV_KEY ? r->key_id : team;

		bad |= scope_key(r->project, "budget", i, name,
		    a->keys[4 + 3 * i], GOV_KEY_MAX);
		bad |= scope_key(r->project, "resv", i, name,
		    a->keys[5 + 3 * i], GOV_KEY_MAX);
		bad |= scope_key(r->project, "amt", i, name,
		    a->keys[6 + 3 * i], GOV_KEY_MAX);
	}
	if (bad) {
		snprintf(err, errlen, "governance: key name too long");
		return -1;
	}

	snprintf(a->nums[0], 24, "%" PRId64, r->now_ms);
	snprintf(a->nums[1], 24, "%" PRId64, cost);
	snprintf(a->nums[2], 24, "%" PRId64, toks);
	snprintf(a->nums[3], 24, "%" PRId64, NM_MIN(r->key_rpm, GOV_RATE_MAX));
	snprintf(a->nums[4], 24, "%" PRId64, NM_MIN(r->key_tpm, GOV_RATE_MAX));
	snprintf(a->nums[5], 24, "%" PRId64, hold);
	snprintf(a->nums[6], 24, "%" PRId64, keep);
	snprintf(a->nums[7], 24, "%" PRId64, est);
	snprintf(a->nums[8], 24, "%d", GOV_NKEYS);

	arg(a, evalsha ? "EVALSHA" : "EVAL");
	arg(a, evalsha ? sha : script);
	arg(a, a->nums[8]);
	for (i = 0; i < GOV_NKEYS; i++)
		arg(a, a->keys[i]);
	arg(a, a->nums[0]);		/* 1 now_ms */
	arg(a, a->day);			/* 2 */
	arg(a, a->month);		/* 3 */
	arg(a, a->nums[1]);		/* 4 cost */
	arg(a, a->nums[2]);		/* 5 tokens */
	arg(a, a->nums[3]);		/* 6 key rpm */
	arg(a, a->nums[4]);		/* 7 key tpm */
	arg(a, a->nums[5]);		/* 8 hold */
	arg(a, team[0] ? "1" : "0");	/* 9 has team */
	arg(a, a->nums[6]);		/* 10 keep */
	arg(a, r->request_id);		/* 11 */
	arg(a, a->nums[7]);		/* 12 estimated tokens */
	return 0;
}

/* EVALSHA or EVAL of the admission script for r. */
int
gov_admit_args(const struct gov_req *r, int evalsha, struct gov_args *a,
    char *err, size_t errlen)
{
	return build(r, gov_admit_script(), gov_admit_sha(), evalsha, 0, a,
	    err, errlen);
}

/* EVALSHA or EVAL of the settle script for r (cost, tokens as billed). */
int
gov_settle_args(const struct gov_req *r, int evalsha, struct gov_args *a,
    char *err, size_t errlen)
{
	return build(r, gov_settle_script(), gov_settle_sha(), evalsha, 1, a,
	    err, errlen);
}

/* An array of n integers into v; 0 or -1 with err. */
static int
ints(const redisReply *rep, size_t n, long long *v, char *err, size_t errlen)
{
	size_t	 i;

	if (rep == NULL) {
		snprintf(err, errlen, "governance: no reply");
		return -1;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "governance: redis: %.*s",
		    (int)NM_MIN(rep->len, 200), rep->str);
		return -1;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) {
		snprintf(err, errlen, "governance: unexpected reply");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (rep->element[i]->type != REDIS_REPLY_INTEGER) {
			snprintf(err, errlen, "governance: unexpected reply");
			return -1;
		}
		v[i] = rep->element[i]->integer;
	}
	return 0;
}

/* Decode the admission reply (layout in govern-lua.c). */
int
gov_admit_reply(const redisReply *rep, struct gov_admit *g, char *err,
    size_t errlen)
{
	long long	 v[NREPLY_ADMIT];
	size_t		 n = NREPLY_ADMIT;

	memset(g, 0, sizeof(*g));
	/* A script of the earlier layout: no warn, no fail_open. */
	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements == NREPLY_ADMIT_V1)
		n = NREPLY_ADMIT_V1;
	if (ints(rep, n, v, err, errlen) == -1)
		return -1;
	if (v[0] < GOV_ALLOW || v[0] > GOV_DUPLICATE || v[1] < 0 ||
	    v[1] >= GOV_NSCOPES) {
		snprintf(err, errlen, "governance: unexpected reply");
		return -1;
	}
	g->verdict = (enum gov_verdict)v[0];
	g->scope = (enum gov_scope)v[1];
	g->has_budget = v[2] != 0;
	g->remaining = v[3];
	g->limit = v[4];
	g->retry_after_ms = v[5];
	g->rate_tokens = v[6] != 0;
	g->rl.limit_requests = v[7];
	g->rl.remaining_requests = v[8];
	g->rl.reset_requests_ms = v[9];
	g->rl.limit_tokens = v[10];
	g->rl.remaining_tokens = v[11];
	g->rl.reset_tokens_ms = v[12];
	if (n == NREPLY_ADMIT) {
		g->warn = v[13] != 0;
		g->fail_open = v[14] != 0;
	} else	/* what the header followed then: 20 % or less left */
		g->warn = g->has_budget && g->limit > 0 &&
		    g->remaining * 5 <= g->limit;
	return 0;
}

/* Decode the settle reply (layout in govern-lua.c). */
/* See govern.h. */
int
gov_settle_reply(const redisReply *rep, struct gov_settle *g, char *err,
    size_t errlen)
{
	long long	 v[NREPLY_SETTLE];

	memset(g, 0, sizeof(*g));
	if (ints(rep, NREPLY_SETTLE, v, err, errlen) == -1)
		return -1;
	if (v[0] < GOV_SETTLED || v[0] > GOV_SETTLE_NORESV || v[2] < 0 ||
	    v[2] >= GOV_NSCOPES) {
		snprintf(err, errlen, "governance: unexpected reply");
		return -1;
	}
	g->status = (enum gov_settled)v[0];
	g->warn = v[1] != 0;
	g->warn_scope = (enum gov_scope)v[2];
	g->has_budget = v[3] != 0;
	g->remaining = v[4];
	g->limit = v[5];
	return 0;
}

/* "20ms" under a second; else Go's style: "1s", "6m0s", "1m30.5s", "1h0m0s". */
void
gov_duration(int64_t ms, char *out, size_t outlen)
{
	int64_t	 h, m, s, frac;
	char	 fs[8];
	int	 n;

	if (ms < 0)
		ms = 0;
	if (ms < 1000) {
		snprintf(out, outlen, "%" PRId64 "ms", ms);
		return;
	}
	h = ms / 3600000;
	m = ms / 60000 % 60;
	s = ms / 1000 % 60;
	frac = ms % 1000;
	fs[0] = '\0';
	if (frac != 0) {
		n = snprintf(fs, sizeof(fs), ".%03" PRId64, frac);
		while (n > 1 && fs[n - 1] == '0')
			fs[--n] = '\0';
	}
	if (h > 0)
		snprintf(out, outlen, "%" PRId64 "h%" PRId64 "m%" PRId64 "%ss",
		    h, m, s, fs);
	else if (m > 0)
		snprintf(out, outlen, "%" PRId64 "m%" PRId64 "%ss", m, s, fs);
	else
		snprintf(out, outlen, "%" PRId64 "%ss", s, fs);
}

/* Add one header; returns the new count. */
static size_t
header(struct gov_header *out, size_t n, const char *name, int64_t v,
    int duration)
{
	if (n >= GOV_MAX_HEADERS)
		return n;
	out[n].name = name;
	if (duration)
		gov_duration(v, out[n].value, sizeof(out[n].value));
	else
		snprintf(out[n].value, sizeof(out[n].value), "%" PRId64, v);
	return n + 1;
}

/* The rate-limit headers of an admission into out; returns how many. */
size_t
gov_headers(const struct gov_admit *g, struct gov_header *out)
{
	const struct gov_ratelimit	*rl = &g->rl;
	size_t				 n = 0;

	if (rl->limit_requests > 0) {
		n = header(out, n, "x-ratelimit-limit-requests",
		    rl->limit_requests, 0);
		n = header(out, n, "x-ratelimit-remaining-requests",
		    rl->remaining_requests, 0);
		n = header(out, n, "x-ratelimit-reset-requests",
		    rl->reset_requests_ms, 1);
	}
	if (rl->limit_tokens > 0) {
		n = header(out, n, "x-ratelimit-limit-tokens",
		    rl->limit_tokens, 0);
		n = header(out, n, "x-ratelimit-remaining-tokens",
		    rl->remaining_tokens, 0);
		n = header(out, n, "x-ratelimit-reset-tokens",
		    rl->reset_tokens_ms, 1);
	}
	if (g->verdict == GOV_RATE && g->retry_after_ms >= 0) {
		n = header(out, n, "retry-after",
		    (g->retry_after_ms + 999) / 1000, 0);
		n = header(out, n, "retry-after-ms", g->retry_after_ms, 0);
	}
	return n;
}

/* "day" | "month" | "total": 0 or -1. */
int
gov_period_parse(const char *s, enum gov_period *p)
{
	size_t	 i;

	for (i = 0; i < NM_NELEM(period_names); i++)
		if (s != NULL && strcmp(s, period_names[i]) == 0) {
			*p = (enum gov_period)i;
			return 0;
		}
	return -1;
}

/* The name of a period. */
const char *
gov_period_name(enum gov_period p)
{
	return (unsigned)p < NM_NELEM(period_names) ? period_names[p] : "?";
}

/*
 * A warning threshold: a fraction "0.8" (up to six decimals), a percentage
 * "80%", or "0" for none; into parts per million.  0 or -1.
 */
int
gov_warn_parse(const char *s, int64_t *ppm)
{
	int64_t		 whole = 0, frac = 0, scale = 1000000;
	const char	*p = s;
	int		 digits = 0, pct;
	size_t		 len;

	if (s == NULL || (len = strlen(s)) == 0 || len > 12)
		return -1;
	pct = s[len - 1] == '%';
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		whole = whole * 10 + (*p - '0');
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (scale == 1)
				return -1;
			scale /= 10;
			frac += (*p - '0') * scale;
		}
	}
	if (digits == 0 || *p != (pct ? '%' : '\0') || (pct && p[1] != '\0'))
		return -1;
	*ppm = whole * 1000000 + frac;
	if (pct)
		*ppm /= 100;
	return *ppm <= 1000000 ? 0 : -1;
}

/* "open" | "closed": 0 or -1. */
int
gov_down_parse(const char *s, enum gov_down *d)
{
	size_t	 i;

	for (i = 0; i < NM_NELEM(down_names); i++)
		if (s != NULL && strcmp(s, down_names[i]) == 0) {
			*d = (enum gov_down)i;
			return 0;
		}
	return -1;
}

/* The name of a setting; anything but open is closed. */
const char *
gov_down_name(enum gov_down d)
{
	return d == GOV_DOWN_OPEN ? "open" : "closed";
}

/* A threshold as text, the shortest exact form: "0.8", "1", "0.000001", "0". */
const char *
gov_warn_format(int64_t ppm, char *out, size_t len)
{
	size_t	 n;

	snprintf(out, len, "%lld.%06lld", (long long)(ppm / 1000000),
	    (long long)(ppm % 1000000));
	n = strlen(out);
	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
	return out;
}
