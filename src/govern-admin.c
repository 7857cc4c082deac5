/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Governance as an operator sees it: set, read and clear budgets, and a
 * project's own rate limits, with synchronous Redis calls (nextmodelctl
 * and the tests; never on a request path).  A budget read first frees
 * expired reservations and rolls the period, so what it shows is current.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "govern.h"
#include "redis.h"

/* The three keys of one budget (hash, reservations, amounts); 0 or -1 with err. */
static int
budget_keys(const char *project, enum gov_scope s, const char *name,
    char k[3][GOV_KEY_MAX], char *err, size_t errlen)
{
	static const char *const what[3] = { "budget", "resv", "amt" };
	int	 i, n;

	if (gov_budget_key(project, s, name, k[0], GOV_KEY_MAX) == -1) {
		snprintf(err, errlen, "a project, team or key id of 1 to 64 "
		    "printable characters, without spaces or braces");
		return -1;
	}
	for (i = 1; i < 3; i++) {
		if (s == GOV_PROJECT)
			n = snprintf(k[i], GOV_KEY_MAX, "nm:{p:%s}:%s:project",
			    project, what[i]);
		else
			n = snprintf(k[i], GOV_KEY_MAX, "nm:{p:%s}:%s:%s:%s",
			    project, what[i], gov_scope_name(s), name);
		if (n < 0 || n >= GOV_KEY_MAX) {
			snprintf(err, errlen, "name too long");
			return -1;
		}
	}
	return 0;
}

/* Run argv; NULL after err (a Redis failure or an error reply). */
static redisReply *
run(struct redis *r, int argc, const char **argv, char *err, size_t errlen)
{
	redisReply	*rep;

	if ((rep = redis_commandv(r, argc, argv, NULL)) == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return NULL;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "redis: %.*s", (int)NM_MIN(rep->len, 300),
		    rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* Create or change a budget. */
int
gov_budget_set(struct redis *r, const char *project, enum gov_scope s,
    const char *name, nm_nano limit, enum gov_period p, int64_t warn_ppm,
    enum gov_down on_down, int64_t now_ms, enum gov_down *down_now,
    char *err, size_t errlen)
{
	char		 k[3][GOV_KEY_MAX], day[16], month[16], today[16];
	char		 lim[24], warn[24], wtext[24], now[24];
	const char	*argv[13], *start;
	redisReply	*rep;
	unsigned __int128 w;

	if (budget_keys(project, s, name, k, err, errlen) == -1)
		return -1;
	if (limit <= 0 || limit > GOV_NANO_MAX) {
		snprintf(err, errlen, "the limit must be more than 0 and at "
		    "most 4503599.627370496 USD");
		return -1;
	}
	if (warn_ppm < 0 || warn_ppm > 1000000 ||
	    gov_periods(now_ms, day, month) == -1) {
		snprintf(err, errlen, "bad warning threshold or time");
		return -1;
	}
	/* Reached when spent >= limit x fraction, rounded up. */
	w = ((unsigned __int128)limit * (uint64_t)warn_ppm + 999999) / 1000000;
	snprintf(lim, sizeof(lim), "%" PRId64, limit);
	snprintf(warn, sizeof(warn), "%" PRIu64, (uint64_t)w);
	gov_warn_format(warn_ppm, wtext, sizeof(wtext));
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	memcpy(today, day, sizeof(today));
	start = p == GOV_DAY ? day : p == GOV_MONTH ? month : today;
	argv[0] = "EVAL";
	argv[1] = gov_set_script;
	argv[2] = "1";
	argv[3] = k[0];
	argv[4] = lim;
	argv[5] = gov_period_name(p);
	argv[6] = wtext;
	argv[7] = warn;
	argv[8] = start;
	argv[9] = gov_scope_name(s);
	argv[10] = s == GOV_PROJECT ? project : name;
	argv[11] = now;
	argv[12] = on_down == GOV_DOWN_KEEP ? "" : gov_down_name(on_down);
	if ((rep = run(r, 13, argv, err, errlen)) == NULL)
		return -1;
	if (down_now != NULL)
		*down_now = rep->type == REDIS_REPLY_STRING &&
		    strcmp(rep->str, "open") == 0 ? GOV_DOWN_OPEN :
		    GOV_DOWN_CLOSED;
	freeReplyObject(rep);
	return 0;
}

/* A field of an HGETALL array as an int64 (absent: 0). */
static int64_t
field_int(const redisReply *rep, const char *name)
{
	size_t		 i;
	int64_t		 v = 0;

	for (i = 0; i + 1 < rep->elements; i += 2)
		if (strcmp(rep->element[i]->str, name) == 0) {
			if (sscanf(rep->element[i + 1]->str, "%" SCNd64, &v) != 1)
				v = 0;
			break;
		}
	return v;
}

/* A field of an HGETALL array as text, or "". */
static const char *
field_str(const redisReply *rep, const char *name)
{
	size_t	 i;

	for (i = 0; i + 1 < rep->elements; i += 2)
		if (strcmp(rep->element[i]->str, name) == 0)
			return rep->element[i + 1]->str;
	return "";
}

/* Read a budget after a refresh (expired reservations out, period rolled). */
int
gov_budget_get(struct redis *r, const char *project, enum gov_scope s,
    const char *name, int64_t now_ms, struct gov_budget *b, char *err,
    size_t errlen)
{
	char		 k[3][GOV_KEY_MAX], day[16], month[16], now[24];
	const char	*argv[9];
	redisReply	*rep;
	size_t		 i;

	memset(b, 0, sizeof(*b));
	if (budget_keys(project, s, name, k, err, errlen) == -1)
		return -1;
	if (gov_periods(now_ms, day, month) == -1) {
		snprintf(err, errlen, "bad time");
		return -1;
	}
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	argv[0] = "EVAL";
	argv[1] = gov_refresh_script;
	argv[2] = "3";
	argv[3] = k[0];
	argv[4] = k[1];
	argv[5] = k[2];
	argv[6] = now;
	argv[7] = day;
	argv[8] = month;
	if ((rep = run(r, 9, argv, err, errlen)) == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements % 2 != 0) {
		snprintf(err, errlen, "redis: unexpected reply");
		freeReplyObject(rep);
		return -1;
	}
	for (i = 0; i < rep->elements; i++)
		if (rep->element[i]->type != REDIS_REPLY_STRING) {
			snprintf(err, errlen, "redis: unexpected reply");
			freeReplyObject(rep);
			return -1;
		}
	if (rep->elements > 0) {
		b->exists = 1;
		b->limit = field_int(rep, "limit_nano");
		b->spent = field_int(rep, "spent_nano");
		b->reserved = field_int(rep, "reserved_nano");
		b->remaining = b->limit - b->spent - b->reserved;
		if (gov_period_parse(field_str(rep, "period"), &b->period) == -1)
			b->period = GOV_TOTAL;
		snprintf(b->period_start, sizeof(b->period_start), "%s",
		    field_str(rep, "period_start"));
		if (gov_warn_parse(field_str(rep, "warn_at"), &b->warn_ppm) == -1)
			b->warn_ppm = 0;
		b->warned = field_int(rep, "warned") != 0;
		/* A budget set before the field existed is closed. */
		if (gov_down_parse(field_str(rep, "on_redis_down"),
		    &b->on_down) == -1)
			b->on_down = GOV_DOWN_CLOSED;
	}
	freeReplyObject(rep);
	return 0;
}

/* Remove a budget and its reservations: 1 removed, 0 none, -1 err. */
int
gov_budget_clear(struct redis *r, const char *project, enum gov_scope s,
    const char *name, char *err, size_t errlen)
{
	static const char script[] =
	    "local e = redis.call('EXISTS', KEYS[1]) "
	    "redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) return e";
	char		 k[3][GOV_KEY_MAX];
	const char	*argv[6];
	redisReply	*rep;
	int		 rc;

	if (budget_keys(project, s, name, k, err, errlen) == -1)
		return -1;
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = "3";
	argv[3] = k[0];
	argv[4] = k[1];
	argv[5] = k[2];
	if ((rep = run(r, 6, argv, err, errlen)) == NULL)
		return -1;
	rc = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
	freeReplyObject(rep);
	return rc;
}

/* Set a project's rpm and tpm (-1: leave as is; 0: no limit). */
int
gov_project_limits_set(struct redis *r, const char *project, int64_t rpm,
    int64_t tpm, char *err, size_t errlen)
{
	char		 k[GOV_KEY_MAX], v[2][24];
	const char	*argv[6];
	redisReply	*rep;
	int		 argc = 2;

	if (!gov_name_ok(project, 0, GOV_NAME_MAX)) {
		snprintf(err, errlen, "a project of 1 to 64 printable "
		    "characters, without spaces or braces");
		return -1;
	}
	if (rpm > GOV_RATE_MAX || tpm > GOV_RATE_MAX) {
		snprintf(err, errlen, "a limit of at most %" PRId64, GOV_RATE_MAX);
		return -1;
	}
	snprintf(k, sizeof(k), "nm:{p:%s}:ratelimit", project);
	argv[0] = "HSET";
	argv[1] = k;
	if (rpm >= 0) {
		snprintf(v[0], sizeof(v[0]), "%" PRId64, rpm);
		argv[argc++] = "rpm";
		argv[argc++] = v[0];
	}
	if (tpm >= 0) {
		snprintf(v[1], sizeof(v[1]), "%" PRId64, tpm);
		argv[argc++] = "tpm";
		argv[argc++] = v[1];
	}
	if (argc == 2)
		return 0;
	if ((rep = run(r, argc, argv, err, errlen)) == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

/* A project's rpm and tpm (0: none). */
int
gov_project_limits_get(struct redis *r, const char *project, int64_t *rpm,
    int64_t *tpm, char *err, size_t errlen)
{
	char		 k[GOV_KEY_MAX];
	const char	*argv[4];
	redisReply	*rep;
	int64_t		*out[2];
	size_t		 i;

	*rpm = *tpm = 0;
	out[0] = rpm;
	out[1] = tpm;
	if (!gov_name_ok(project, 0, GOV_NAME_MAX)) {
		snprintf(err, errlen, "bad project name");
		return -1;
	}
	snprintf(k, sizeof(k), "nm:{p:%s}:ratelimit", project);
	argv[0] = "HMGET";
	argv[1] = k;
	argv[2] = "rpm";
	argv[3] = "tpm";
	if ((rep = run(r, 4, argv, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < 2 && rep->type == REDIS_REPLY_ARRAY &&
	    i < rep->elements; i++)
		if (rep->element[i]->type == REDIS_REPLY_STRING &&
		    sscanf(rep->element[i]->str, "%" SCNd64, out[i]) != 1)
			*out[i] = 0;
	freeReplyObject(rep);
	return 0;
}
