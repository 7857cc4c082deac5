/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl budget set | show | clear, for a project, a team or a key.
 * Budgets live under the project's hash tag (doc/redis-keys.md), so a
 * key's budget is found through the key's project, and a team's through
 * the project of its keys (or --project when a team name is used in
 * several projects).
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "auth.h"
#include "govern.h"
#include "money.h"
#include "ctl.h"

static int	budget_set(struct ctl *, int, char **);
static int	budget_show(struct ctl *, int, char **);
static int	budget_clear(struct ctl *, int, char **);

static const struct ctl_cmd budget_cmds[] = {
	{ "set", "(--project P | --team T [--project P] | --key KEY_ID) "
	    "--limit-usd AMOUNT --period day|month|total [--warn-at 0.8] "
	    "[--on-redis-down closed|open]",
	    budget_set, 0 },
	{ "show", "(--project P | --team T [--project P] | --key KEY_ID)",
	    budget_show, 0 },
	{ "clear", "(--project P | --team T [--project P] | --key KEY_ID)",
	    budget_clear, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_budget = { "budget", budget_cmds };

/* A budget's scope as resolved from the options. */
struct target {
	const char	*project_opt, *team_opt, *key_opt;
	char		 project[GOV_NAME_MAX + 1];
	enum gov_scope	 scope;
	const char	*name;		/* team or key id; NULL for a project */
};

/* The wall clock in Unix ms. */
static int64_t
now_ms(void)
{
	struct timeval	 tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The projects of team T's keys, collected by key list. */
struct team_projects {
	const char	*team;
	char		 p[8][GOV_NAME_MAX + 1];
	int		 n;
};

/* auth_key_list callback: note each new project of the team's keys. */
static int
team_project(void *arg, const struct key_record *k)
{
	struct team_projects	*tp = arg;
	int			 i;

	if (strcmp(k->team, tp->team) != 0)
		return 0;
	for (i = 0; i < tp->n; i++)
		if (strcmp(tp->p[i], k->project) == 0)
			return 0;
	if (tp->n < 8)
		snprintf(tp->p[tp->n++], sizeof(tp->p[0]), "%s", k->project);
	return 0;
}

/* Resolve t's options to a project, scope and name: CTL_OK or an exit code. */
static int
resolve(struct ctl *ctl, struct redis *r, struct target *t)
{
	struct key_record	 rec;
	struct team_projects	 tp;
	char			 err[512];
	int			 i;

	if (t->key_opt != NULL) {
		switch (auth_key_get_by_id(r, t->key_opt, &rec, err, sizeof(err))) {
		case 1:
			break;
		case 0:
			ctl_warnx("%s: no such key", t->key_opt);
			return CTL_FAIL;
		default:
			ctl_warnx("%s", err);
			return CTL_FAIL;
		}
		if (!gov_name_ok(rec.project, 0, GOV_NAME_MAX)) {
			ctl_warnx("%s: its project name cannot carry a budget "
			    "(braces)", t->key_opt);
			return CTL_FAIL;
		}
		snprintf(t->project, sizeof(t->project), "%s", rec.project);
		t->scope = GOV_KEY;
		t->name = t->key_opt;
		return CTL_OK;
	}
	if (t->team_opt != NULL) {
		if (!gov_name_ok(t->team_opt, 0, GOV_NAME_MAX)) {
			ctl_warnx("--team: 1 to 64 printable characters, no "
			    "spaces or braces");
			return ctl_usage(ctl);
		}
		t->scope = GOV_TEAM;
		t->name = t->team_opt;
		if (t->project_opt != NULL) {
			snprintf(t->project, sizeof(t->project), "%s",
			    t->project_opt);
			return CTL_OK;
		}
		memset(&tp, 0, sizeof(tp));
		tp.team = t->team_opt;
		if (auth_key_list(r, team_project, &tp, err, sizeof(err)) == -1) {
			ctl_warnx("%s", err);
			return CTL_FAIL;
		}
		if (tp.n == 0) {
			ctl_warnx("no key of team %s yet: say which project "
			    "with --project", t->team_opt);
			return CTL_FAIL;
		}
		if (tp.n > 1) {
			ctl_warnx("team %s has keys in several projects; a team "
			    "budget is per project: add --project, one of:",
			    t->team_opt);
			for (i = 0; i < tp.n; i++)
				fprintf(stderr, "  %s\n", tp.p[i]);
			return CTL_FAIL;
		}
		snprintf(t->project, sizeof(t->project), "%s", tp.p[0]);
		return CTL_OK;
	}
	snprintf(t->project, sizeof(t->project), "%s", t->project_opt);
	t->scope = GOV_PROJECT;
	t->name = NULL;
	return CTL_OK;
}

/* Check that exactly one scope was named; CTL_OK or CTL_USAGE. */
static int
check_target(struct ctl *ctl, const struct target *t)
{
	if ((t->key_opt != NULL) + (t->team_opt != NULL ||
	    t->project_opt != NULL) != 1 ||
	    (t->key_opt != NULL && t->project_opt != NULL)) {
		ctl_warnx("name one of --project P, --team T or --key KEY_ID");
		return ctl_usage(ctl);
	}
	if (t->project_opt != NULL &&
	    !gov_name_ok(t->project_opt, 0, GOV_NAME_MAX)) {
		ctl_warnx("--project: 1 to 64 printable characters, no spaces "
		    "or braces");
		return ctl_usage(ctl);
	}
	return CTL_OK;
}

/* "project shop", "team red of project shop", "key key_... of project shop" */
static void
describe(const struct target *t, char *out, size_t len)
{
	if (t->scope == GOV_PROJECT)
		snprintf(out, len, "project %s", t->project);
	else
		snprintf(out, len, "%s %s of project %s",
		    gov_scope_name(t->scope), t->name, t->project);
}

/* The options every budget command shares; 0 for a shared one, else ch. */
static int
target_opt(struct target *t, int ch)
{
	switch (ch) {
	case 'p':
		t->project_opt = optarg;
		return 0;
	case 't':
		t->team_opt = optarg;
		return 0;
	case 'k':
		t->key_opt = optarg;
		return 0;
	}
	return ch;
}

#define TARGET_OPTIONS \
	{ "project",	required_argument, NULL, 'p' }, \
	{ "team",	required_argument, NULL, 't' }, \
	{ "key",	required_argument, NULL, 'k' }

/* nextmodelctl budget set. */
static int
budget_set(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		TARGET_OPTIONS,
		{ "limit-usd",	required_argument, NULL, 'l' },
		{ "period",	required_argument, NULL, 'P' },
		{ "warn-at",	required_argument, NULL, 'w' },
		{ "on-redis-down", required_argument, NULL, 'd' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct target	 t = { 0 };
	struct redis	*r;
	enum gov_period	 period = GOV_TOTAL;
	enum gov_down	 down = GOV_DOWN_KEEP, down_now;
	const char	*limit_s = NULL, *period_s = NULL;
	char		 err[512], what[256], amount[MONEY_STRLEN], details[192];
	char		 wtext[24];
	nm_nano		 limit;
	int64_t		 warn = GOV_WARN_DEFAULT_PPM;
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (target_opt(&t, ch)) {
		case 0:
			break;
		case 'l':
			limit_s = optarg;
			break;
		case 'P':
			period_s = optarg;
			break;
		case 'w':
			if (gov_warn_parse(optarg, &warn) == -1) {
				ctl_warnx("--warn-at: a fraction 0..1 (0.8) or "
				    "a percentage (80%%), 0 for none: %s", optarg);
				return ctl_usage(ctl);
			}
			break;
		case 'd':
			if (gov_down_parse(optarg, &down) == -1) {
				ctl_warnx("--on-redis-down: closed (refuse while "
				    "Redis is unreachable) or open (serve "
				    "unchecked), not %s", optarg);
				return ctl_usage(ctl);
			}
			break;
		default:
			return ctl_usage(ctl);
		}
	}
	if (optind != argc) {
		ctl_warnx("unexpected argument: %s", argv[optind]);
		return ctl_usage(ctl);
	}
	if ((rc = check_target(ctl, &t)) != CTL_OK)
		return rc;
	if (limit_s == NULL || period_s == NULL) {
		ctl_warnx("--limit-usd and --period are required");
		return ctl_usage(ctl);
	}
	if (money_parse(limit_s, strlen(limit_s), 0, &limit) == -1 ||
	    limit <= 0 || limit > GOV_NANO_MAX) {
		ctl_warnx("--limit-usd: an amount in USD above 0 and at most "
		    "4503599.627370496, up to 9 decimals: %s", limit_s);
		return ctl_usage(ctl);
	}
	if (gov_period_parse(period_s, &period) == -1) {
		ctl_warnx("--period: day, month or total, not %s", period_s);
		return ctl_usage(ctl);
	}
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if ((rc = resolve(ctl, r, &t)) != CTL_OK)
		return rc;
	if (gov_budget_set(r, t.project, t.scope, t.name, limit, period, warn,
	    down, now_ms(), &down_now, err, sizeof(err)) == -1) {
		ctl_warnx("budget set: %s", err);
		return CTL_FAIL;
	}
	describe(&t, what, sizeof(what));
	fprintf(stderr, "budget of %s: %s USD %s; Redis unreachable: %s\n",
	    what, money_format(limit, amount, sizeof(amount)),
	    period == GOV_DAY ? "a day (UTC)" : period == GOV_MONTH ?
	    "a month (UTC)" : "in total", down_now == GOV_DOWN_OPEN ?
	    "served unchecked (open)" : "refused (closed)");
	snprintf(details, sizeof(details), "{\"limit_usd\":\"%s\","
	    "\"period\":\"%s\",\"warn_at\":\"%s\",\"on_redis_down\":\"%s\"}",
	    amount, gov_period_name(period), gov_warn_format(warn, wtext,
	    sizeof(wtext)), gov_down_name(down_now));
	return ctl_audit(ctl, "budget.set", what, details);
}

/* nextmodelctl budget show: one "field: value" line each. */
static int
budget_show(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		TARGET_OPTIONS,
		{ NULL,		0,		   NULL, 0 },
	};
	struct target		 t = { 0 };
	struct gov_budget	 b;
	struct redis		*r;
	char			 err[512], key[GOV_KEY_MAX], m[4][MONEY_STRLEN];
	char			 warn[48];
	int			 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (target_opt(&t, ch) != 0)
			return ctl_usage(ctl);
	if (optind != argc) {
		ctl_warnx("unexpected argument: %s", argv[optind]);
		return ctl_usage(ctl);
	}
	if ((rc = check_target(ctl, &t)) != CTL_OK)
		return rc;
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if ((rc = resolve(ctl, r, &t)) != CTL_OK)
		return rc;
	if (gov_budget_get(r, t.project, t.scope, t.name, now_ms(), &b, err,
	    sizeof(err)) == -1) {
		ctl_warnx("budget show: %s", err);
		return CTL_FAIL;
	}
	describe(&t, err, sizeof(err));
	if (!b.exists) {
		ctl_warnx("no budget for %s", err);
		return CTL_FAIL;
	}
	gov_budget_key(t.project, t.scope, t.name, key, sizeof(key));
	printf("scope: %s\n", gov_scope_name(t.scope));
	printf("project: %s\n", t.project);
	if (t.name != NULL)
		printf("%s: %s\n", gov_scope_name(t.scope), t.name);
	printf("limit_usd: %s\n", money_format(b.limit, m[0], sizeof(m[0])));
	printf("spent_usd: %s\n", money_format(b.spent, m[1], sizeof(m[1])));
	printf("reserved_usd: %s\n", money_format(b.reserved, m[2],
	    sizeof(m[2])));
	printf("remaining_usd: %s\n", money_format(b.remaining, m[3],
	    sizeof(m[3])));
	printf("period: %s\n", gov_period_name(b.period));
	printf("period_start: %s\n", b.period_start);
	printf("warn_at: %s\n", b.warn_ppm ? gov_warn_format(b.warn_ppm, warn,
	    sizeof(warn)) : "none");
	printf("warned: %s\n", b.warned ? "yes" : "no");
	printf("on_redis_down: %s\n", gov_down_name(b.on_down));
	printf("redis_key: %s\n", key);
	return ctl_flush();
}

/* nextmodelctl budget clear. */
static int
budget_clear(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		TARGET_OPTIONS,
		{ NULL,		0,		   NULL, 0 },
	};
	struct target	 t = { 0 };
	struct redis	*r;
	char		 err[512], what[256];
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (target_opt(&t, ch) != 0)
			return ctl_usage(ctl);
	if (optind != argc) {
		ctl_warnx("unexpected argument: %s", argv[optind]);
		return ctl_usage(ctl);
	}
	if ((rc = check_target(ctl, &t)) != CTL_OK)
		return rc;
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if ((rc = resolve(ctl, r, &t)) != CTL_OK)
		return rc;
	describe(&t, what, sizeof(what));
	switch (gov_budget_clear(r, t.project, t.scope, t.name, err,
	    sizeof(err))) {
	case 1:
		fprintf(stderr, "budget of %s cleared\n", what);
		return ctl_audit(ctl, "budget.clear", what, NULL);
	case 0:
		ctl_warnx("no budget for %s", what);
		return CTL_FAIL;
	default:
		ctl_warnx("budget clear: %s", err);
		return CTL_FAIL;
	}
}
