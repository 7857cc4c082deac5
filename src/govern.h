/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Governance: budgets (per key, team and project; day, month or total)
 * and rate limits (requests and tokens per minute, per key and project),
 * enforced by two Lua scripts run on Redis: admit (all scopes at once:
 * rate limits, then a reservation of the worst-case cost on every budget)
 * and settle (the reservation out, the billed cost in, tokens corrected).
 * This module builds their arguments, decodes their replies and holds the
 * scripts; it does no I/O on the request path (the Redis thread sends
 * what it builds).  govern-admin.c has the synchronous calls of
 * nextmodelctl.  Layout: doc/redis-keys.md, "Budgets" and "Rate limits".
 * Every key a script touches carries the project's hash tag {p:PROJECT}.
 */
#ifndef GOVERN_H
#define GOVERN_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "nextmodel.h"

struct redis;

/*
 * The largest budget limit and the largest cost a script sees, in
 * nano-USD: 2^52 (about 4.5 million USD).  Lua numbers are doubles, exact
 * to 2^53, and spent + reserved stays below 2 x the limit.  A larger
 * worst-case cost is clamped to GOV_NANO_MAX + 1, which no budget admits.
 */
#define GOV_NANO_MAX		((nm_nano)1 << 52)
#define GOV_TOKENS_MAX		((int64_t)1 << 50)
#define GOV_RATE_MAX		((int64_t)1 << 40)	/* rpm, tpm */
#define GOV_NAME_MAX		64			/* project, team */
#define GOV_RID_MAX		64			/* request id */
#define GOV_HOLD_MS		(10 * 60 * 1000)	/* default reservation life */
#define GOV_KEEP_MS		(60 * 60 * 1000)	/* settled record kept */
#define GOV_WARN_DEFAULT_PPM	800000			/* warn at 80 % */
#define GOV_KEY_MAX		(GOV_NAME_MAX * 2 + GOV_RID_MAX + 48)
#define GOV_NKEYS		13
#define GOV_MAX_ARGS		(3 + GOV_NKEYS + 12)

enum gov_scope { GOV_KEY = 0, GOV_PROJECT, GOV_TEAM, GOV_NSCOPES };

/* What admission and settlement need to know of a request. */
struct gov_req {
	const char	*project;	/* the key's project (1..64 bytes) */
	const char	*team;		/* "" or NULL: none */
	const char	*key_id;	/* "key_..." */
	const char	*request_id;	/* the reservation id (1..64 bytes, no spaces) */
	int64_t		 key_rpm;	/* the key record's limits; 0: none */
	int64_t		 key_tpm;
	nm_nano		 cost;		/* admit: worst case; settle: billed */
	int64_t		 tokens_est;	/* estimated tokens (input + worst output) */
	int64_t		 tokens;	/* settle: tokens the source counted */
	int64_t		 now_ms;	/* wall clock, Unix ms (tests move it) */
	int64_t		 hold_ms;	/* admit: reservation life; 0: GOV_HOLD_MS */
	int64_t		 keep_ms;	/* record kept for retries; 0: default */
};

/*
 * A command for the Redis thread: argv[0..argc) with lengths, pointing
 * into the struct itself (copy nothing; keep the struct alive until sent).
 */
struct gov_args {
	int		 argc;
	const char	*argv[GOV_MAX_ARGS];
	size_t		 lens[GOV_MAX_ARGS];
	char		 keys[GOV_NKEYS][GOV_KEY_MAX];
	char		 nums[12][24];
	char		 day[16], month[16];
};

enum gov_verdict {
	GOV_ALLOW = 0,		/* reserved (or nothing applied) */
	GOV_BUDGET = 1,		/* 402 budget_exceeded; nothing reserved */
	GOV_RATE = 2,		/* 429 rate_limit_exceeded; nothing counted */
	GOV_DUPLICATE = 3,	/* this request id was admitted already: go on */
};

/* x-ratelimit-* as OpenAI sends them; limit 0: no such limit. */
struct gov_ratelimit {
	int64_t		 limit_requests, remaining_requests, reset_requests_ms;
	int64_t		 limit_tokens, remaining_tokens, reset_tokens_ms;
};

struct gov_admit {
	enum gov_verdict verdict;
	enum gov_scope	 scope;		/* GOV_BUDGET, GOV_RATE: which scope */
	int		 has_budget;	/* a budget applies */
	nm_nano		 remaining;	/* GOV_BUDGET: the scope's; else the least
					   of all budgets (before this request) */
	nm_nano		 limit;		/* that budget's limit */
	int64_t		 retry_after_ms;	/* GOV_RATE; -1: never fits (too large) */
	int		 rate_tokens;	/* GOV_RATE: the token limit refused */
	struct gov_ratelimit rl;
	int		 warn;		/* a budget has used its warn_at or more */
	int		 fail_open;	/* budgets apply, all on_redis_down open */
};

enum gov_settled {
	GOV_SETTLED = 0,	/* reservation released, cost counted */
	GOV_SETTLE_DUP = 1,	/* settled before: nothing changed */
	GOV_SETTLE_NORESV = 2,	/* no reservation held (none, or expired): cost counted */
};

struct gov_settle {
	enum gov_settled status;
	int		 warn;		/* a budget crossed its warning threshold now */
	enum gov_scope	 warn_scope;
	int		 has_budget;
	nm_nano		 remaining;	/* the least remaining of the budgets */
	nm_nano		 limit;
};

/* One response header. */
struct gov_header {
	const char	*name;
	char		 value[32];
};
#define GOV_MAX_HEADERS	8

/*
 * EVALSHA (evalsha 1) or EVAL (0, after NOSCRIPT) of the admission script
 * for r into a.  0, or -1 with err (bad project, team, ids or numbers).
 */
int	gov_admit_args(const struct gov_req *, int evalsha, struct gov_args *,
	    char *err, size_t errlen);
/* The same for the settle script (cost, tokens: as billed). */
int	gov_settle_args(const struct gov_req *, int evalsha, struct gov_args *,
	    char *err, size_t errlen);
/* Decode the admission script's reply: 0, or -1 with err (an error reply too). */
int	gov_admit_reply(const redisReply *, struct gov_admit *, char *err,
	    size_t errlen);
/* Decode the settle script's reply: 0 or -1 with err. */
int	gov_settle_reply(const redisReply *, struct gov_settle *, char *err,
	    size_t errlen);

/*
 * The headers of an admission: x-ratelimit-{limit,remaining,reset}-
 * {requests,tokens} for each limit that applies, and for GOV_RATE
 * retry-after (whole seconds, rounded up) and retry-after-ms.  Returns
 * how many were written to out (at most GOV_MAX_HEADERS).
 */
size_t	gov_headers(const struct gov_admit *, struct gov_header *out);
/* A duration as OpenAI writes it in x-ratelimit-reset-*: "20ms", "1s", "6m0s", "1m30.5s". */
void	gov_duration(int64_t ms, char *out, size_t outlen);
/* "key", "project", "team". */
const char *gov_scope_name(enum gov_scope);

/* The scripts (text, SHA1 hex).  Thread-safe. */
const char *gov_admit_script(void);
const char *gov_admit_sha(void);
const char *gov_settle_script(void);
const char *gov_settle_sha(void);

/*
 * The UTC day and month of now_ms as period starts: "2026-12-03" and
 * "2026-12-01".  0 or -1.
 */
int	gov_periods(int64_t now_ms, char day[16], char month[16]);
/* 1 if s is a usable project, team (allow_empty) or request id. */
int	gov_name_ok(const char *s, int allow_empty, size_t max);
/*
 * The Redis key of a budget's hash: scope GOV_KEY (name: key id),
 * GOV_PROJECT (name ignored), GOV_TEAM (name: team).  0 or -1.
 */
int	gov_budget_key(const char *project, enum gov_scope, const char *name,
	    char *out, size_t outlen);

/* Scripts of govern-admin.c (govern-lua.c). */
extern const char gov_refresh_script[];
extern const char gov_set_script[];

/* ---- nextmodelctl and tests: synchronous, on a struct redis ---------- */

enum gov_period { GOV_DAY = 0, GOV_MONTH, GOV_TOTAL };

/* What a budget asks for while Redis is unreachable. */
enum gov_down {
	GOV_DOWN_KEEP = -1,	/* set: as it was ("closed" for a new budget) */
	GOV_DOWN_CLOSED = 0,	/* 503 budget_unavailable */
	GOV_DOWN_OPEN = 1,	/* served, unchecked and counted */
};

struct gov_budget {
	int		 exists;
	nm_nano		 limit, spent, reserved, remaining;
	enum gov_period	 period;
	char		 period_start[16];
	int64_t		 warn_ppm;	/* warning threshold, parts per million */
	int		 warned;
	enum gov_down	 on_down;	/* GOV_DOWN_CLOSED or GOV_DOWN_OPEN */
};

/* "day" | "month" | "total" -> 0, or -1. */
int	gov_period_parse(const char *, enum gov_period *);
const char *gov_period_name(enum gov_period);
/* "0.8", "80%", "0" -> parts per million (0..1000000): 0 or -1. */
int	gov_warn_parse(const char *, int64_t *ppm);
/* ppm as the shortest fraction: "0.8", "1", "0"; out of 24 bytes or more.  Returns out. */
const char *gov_warn_format(int64_t ppm, char *out, size_t len);
/* "open" | "closed" -> 0, or -1. */
int	gov_down_parse(const char *, enum gov_down *);
/* "open", "closed" ("closed" for anything else). */
const char *gov_down_name(enum gov_down);
/*
 * Create or change a budget.  A new budget, or a new period, starts with
 * nothing spent; a new limit keeps what was spent and reserved.  limit
 * 1..GOV_NANO_MAX.  on_down GOV_DOWN_KEEP keeps the budget's setting.
 * 0 or -1 with err; *down_now (may be NULL): the setting in force after.
 */
int	gov_budget_set(struct redis *, const char *project, enum gov_scope,
	    const char *name, nm_nano limit, enum gov_period, int64_t warn_ppm,
	    enum gov_down on_down, int64_t now_ms, enum gov_down *down_now,
	    char *err, size_t errlen);
/* Read a budget after freeing expired reservations and rolling its period. */
int	gov_budget_get(struct redis *, const char *project, enum gov_scope,
	    const char *name, int64_t now_ms, struct gov_budget *, char *err,
	    size_t errlen);
/* Remove a budget and its reservations: 1 removed, 0 there was none, -1 err. */
int	gov_budget_clear(struct redis *, const char *project, enum gov_scope,
	    const char *name, char *err, size_t errlen);
/* A project's own rate limits (0: none); -1 in rpm/tpm leaves one as is. */
int	gov_project_limits_set(struct redis *, const char *project,
	    int64_t rpm, int64_t tpm, char *err, size_t errlen);
int	gov_project_limits_get(struct redis *, const char *project,
	    int64_t *rpm, int64_t *tpm, char *err, size_t errlen);

#endif
