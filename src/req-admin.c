/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The admin HTTP API, behind the admin key, mirroring nextmodelctl for
 * teams that script it:
 *
 *   POST   /admin/keys          {project, team?, name?, environment?, rpm?,
 *                                tpm?, expires?, models?, sources?}
 *   GET    /admin/keys[?project=P]
 *   DELETE /admin/keys/ID
 *   PUT    /admin/budgets       {project, team? | key?, limit_usd, period, warn_at?,
 *                                on_redis_down?}
 *   GET    /admin/budgets?project=P[&team=T | &key=ID]
 *   DELETE /admin/budgets?project=P[&team=T | &key=ID]
 *   PUT    /admin/ratelimits    {project | key, rpm?, tpm?}
 *
 * Each change is an audit event (actor "admin-api").  The stages run on
 * libmicrohttpd's threads; the work itself (several Redis round trips) in
 * a job on the worker's Redis thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nextmodel.h"
#include "audit.h"
#include "auth.h"
#include "crypto.h"
#include "govern.h"
#include "json.h"
#include "log.h"
#include "money.h"
#include "request.h"
#include "rthread.h"
#include "worker.h"

/* A string member of the body into out ("" when absent); 0, or -1 bad. */
static int
body_str(const struct json *j, const char *name, char *out, size_t len)
{
	int t;

	out[0] = '\0';
	if (json_type(j, 0) != JSON_OBJECT || (t = json_get(j, 0, name)) < 0 ||
	    json_type(j, t) == JSON_NULL)
		return 0;
	if (json_type(j, t) != JSON_STRING || json_strcpy(j, t, out, len) != 0)
		return -1;
	return 0;
}

/* An integer member (def when absent); 0, or -1 bad. */
static int
body_int(const struct json *j, const char *name, int64_t def, int64_t *v)
{
	int t;

	*v = def;
	if (json_type(j, 0) != JSON_OBJECT || (t = json_get(j, 0, name)) < 0 ||
	    json_type(j, t) == JSON_NULL)
		return 0;
	return json_int64(j, t, v) == 0 && *v >= 0 ? 0 : -1;
}

/* Only the admin key. */
static enum stage
st_admin_only(struct request *req)
{
	if (!req->key.admin)
		return stage_fail(req, 403, "invalid_request_error",
		    "admin_key_required", NULL, "The admin API needs the admin "
		    "key.");
	return STAGE_NEXT;
}

/* The admin API runs an empty body through the JSON parser as {}. */
static enum stage
st_admin_parse(struct request *req)
{
	if (req->body.len == 0)
		return STAGE_NEXT;
	return stage_parse(req);
}

/* Record an admin action (Redis thread). */
static void
admin_audit(struct redis *r, const char *action, const char *target,
    const char *details)
{
	char err[256];

	if (audit_append(r, AUDIT_ACTOR_API, action, target, details, err,
	    sizeof(err)) != 0)
		log_warnx("admin %s %s done, but not audited: %s", action,
		    target, err);
}

/* Answer data: status and a JSON body built on the Redis thread. */
static void
reply_json(struct request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reply_json(struct request *req, int status, const char *fmt, ...)
{
	va_list ap;
	char tmp[1024];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_reset(&req->fetched);
	buf_appends(&req->fetched, tmp);
	req->fetched_status = status;
}

/* An error for the admin client, as JSON, from the Redis thread. */
static void
reply_err(struct request *req, int status, const char *msg)
{
	struct errinfo e;

	errinfo_set(&e, status, status >= 500 ? "server_error" :
	    "invalid_request_error", NULL, NULL, "%s", msg);
	buf_reset(&req->fetched);
	(void)request_error_json(&req->fetched, &e);
	req->fetched_status = status;
}

/* POST /admin/keys (Redis thread). */
static void
keys_create(struct request *req, struct redis *r)
{
	const struct json *j = &req->json;
	char project[65], team[65], name[129], env[33], exp[16], models[512];
	char sources[256], secret[AUTH_KEY_LEN + 1], err[256], det[512];
	struct key_record rec;
	int64_t rpm, tpm, expires = 0;
	struct tm tm;
	int y, m, d;

	if (body_str(j, "project", project, sizeof(project)) != 0 ||
	    body_str(j, "team", team, sizeof(team)) != 0 ||
	    body_str(j, "name", name, sizeof(name)) != 0 ||
	    body_str(j, "environment", env, sizeof(env)) != 0 ||
	    body_str(j, "expires", exp, sizeof(exp)) != 0 ||
	    body_str(j, "models", models, sizeof(models)) != 0 ||
	    body_str(j, "sources", sources, sizeof(sources)) != 0 ||
	    body_int(j, "rpm", 0, &rpm) != 0 || body_int(j, "tpm", 0, &tpm) != 0 ||
	    project[0] == '\0') {
		reply_err(req, 400, "a key needs 'project' (a string); team, "
		    "name, environment, expires (YYYY-MM-DD), models, sources "
		    "are strings, rpm and tpm whole numbers");
		return;
	}
	if (exp[0] != '\0') {
		memset(&tm, 0, sizeof(tm));
		if (strlen(exp) != 10 || sscanf(exp, "%4d-%2d-%2d", &y, &m,
		    &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31) {
			reply_err(req, 400, "'expires' is a day, YYYY-MM-DD");
			return;
		}
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d;
		expires = (int64_t)timegm(&tm);
	}
	if (auth_key_create(r, project, team, name, rpm, tpm, secret, &rec, err,
	    sizeof(err)) != 0) {
		reply_err(req, 400, err);
		return;
	}
	if ((env[0] != '\0' && auth_key_set_environment(r, rec.id, env, err,
	    sizeof(err)) != 0) || ((expires > 0 || models[0] || sources[0]) &&
	    auth_key_set_scope(r, rec.id, expires, models[0] ? models : NULL,
	    sources[0] ? sources : NULL, err, sizeof(err)) != 0)) {
		(void)auth_key_revoke(r, rec.id, det, sizeof(det));
		crypto_cleanse(secret, sizeof(secret));
		reply_err(req, 400, err);
		return;
	}
	snprintf(det, sizeof(det), "{\"project\":\"%s\",\"rpm\":%lld,"
	    "\"tpm\":%lld}", project, (long long)rpm, (long long)tpm);
	admin_audit(r, "key.create", rec.id, det);
	/* The key itself, this once: the answer, never a log. */
	reply_json(req, 201, "{\"id\":\"%s\",\"key\":\"%s\",\"project\":\"%s\"}",
	    rec.id, secret, project);
	crypto_cleanse(secret, sizeof(secret));
}

/* One key of a list, as JSON (no secret: there is none to show). */
static int
list_one(void *arg, const struct key_record *k)
{
	struct request *req = arg;
	const char *want = request_arg(req, "project");
	struct buf *b = &req->fetched;
	int e = 0;

	if (want != NULL && strcmp(want, k->project) != 0)
		return 0;
	e |= buf_appends(b, b->len > 1 ? ",{\"id\":" : "{\"id\":");
	e |= json_write_cstr(b, k->id);
	e |= buf_appends(b, ",\"project\":");
	e |= json_write_cstr(b, k->project);
	e |= buf_appends(b, ",\"team\":");
	e |= json_write_cstr(b, k->team);
	e |= buf_appends(b, ",\"name\":");
	e |= json_write_cstr(b, k->name);
	e |= buf_appends(b, ",\"environment\":");
	e |= json_write_cstr(b, k->environment);
	e |= buf_appendf(b, ",\"revoked\":%s,\"rpm\":%lld,\"tpm\":%lld,"
	    "\"expires_unix\":%lld}", k->revoked ? "true" : "false",
	    (long long)k->rpm, (long long)k->tpm, (long long)k->expires);
	return e ? -1 : 0;
}

/* GET /admin/keys (Redis thread). */
static void
keys_list(struct request *req, struct redis *r)
{
	char err[256];

	buf_reset(&req->fetched);
	buf_appendc(&req->fetched, '[');
	if (auth_key_list(r, list_one, req, err, sizeof(err)) != 0) {
		reply_err(req, 503, err);
		return;
	}
	buf_appendc(&req->fetched, ']');
	req->fetched_status = 200;
}

/* DELETE /admin/keys/ID (Redis thread). */
static void
keys_revoke(struct request *req, struct redis *r)
{
	const char *id = req->path + strlen("/admin/keys/");
	char err[256];

	switch (auth_key_revoke(r, id, err, sizeof(err))) {
	case 0:
		admin_audit(r, "key.revoke", id, NULL);
		reply_json(req, 200, "{\"id\":\"%.40s\",\"revoked\":true}", id);
		break;
	case 1:
		reply_err(req, 404, "no such key");
		break;
	default:
		reply_err(req, 503, err);
	}
}

/*
 * The budget's scope from project and team or key (body for PUT, query
 * otherwise): 0, or -1 after answering.
 */
static int
budget_scope(struct request *req, struct redis *r, char *project,
    enum gov_scope *scope, char *name)
{
	char team[65], key[40], err[256];
	struct key_record rec;
	const char *v;

	if (req->json.ntok > 0) {
		(void)body_str(&req->json, "project", project, 65);
		(void)body_str(&req->json, "team", team, sizeof(team));
		(void)body_str(&req->json, "key", key, sizeof(key));
	} else {
		snprintf(project, 65, "%s", (v = request_arg(req, "project")) ?
		    v : "");
		snprintf(team, sizeof(team), "%s", (v = request_arg(req,
		    "team")) ? v : "");
		snprintf(key, sizeof(key), "%s", (v = request_arg(req, "key")) ?
		    v : "");
	}
	*scope = key[0] ? GOV_KEY : team[0] ? GOV_TEAM : GOV_PROJECT;
	snprintf(name, 65, "%s", key[0] ? key : team[0] ? team : project);
	if (key[0] != '\0') {
		/* A key's budget lives under its own project. */
		if (auth_key_get_by_id(r, key, &rec, err, sizeof(err)) != 1) {
			reply_err(req, 404, "no such key");
			return -1;
		}
		snprintf(project, 65, "%s", rec.project);
	}
	if (project[0] == '\0') {
		reply_err(req, 400, "a budget names its 'project' (and a 'team' "
		    "or a 'key' of it)");
		return -1;
	}
	return 0;
}

/* Wall clock in ms. */
static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* PUT, GET, DELETE /admin/budgets (Redis thread). */
static void
budgets(struct request *req, struct redis *r)
{
	char project[65], name[65], lim[MONEY_STRLEN], per[16], warn[16];
	char err[256], det[256], a[MONEY_STRLEN], b[MONEY_STRLEN];
	char c[MONEY_STRLEN], e[MONEY_STRLEN], down_s[16], wt[24];
	enum gov_scope scope;
	enum gov_period period;
	enum gov_down down = GOV_DOWN_KEEP, down_now;
	struct gov_budget gb;
	nm_nano limit;
	int64_t ppm = GOV_WARN_DEFAULT_PPM;

	if (budget_scope(req, r, project, &scope, name) != 0)
		return;
	if (strcmp(req->method, "PUT") == 0) {
		if (body_str(&req->json, "limit_usd", lim, sizeof(lim)) != 0 ||
		    body_str(&req->json, "period", per, sizeof(per)) != 0 ||
		    body_str(&req->json, "warn_at", warn, sizeof(warn)) != 0 ||
		    body_str(&req->json, "on_redis_down", down_s,
		    sizeof(down_s)) != 0 ||
		    money_parse(lim, strlen(lim), 0, &limit) != 0 || limit <= 0 ||
		    gov_period_parse(per, &period) != 0 ||
		    (warn[0] != '\0' && gov_warn_parse(warn, &ppm) != 0) ||
		    (down_s[0] != '\0' && gov_down_parse(down_s, &down) != 0)) {
			reply_err(req, 400, "a budget needs 'limit_usd' (a "
			    "decimal string) and 'period' (day, month or total); "
			    "'warn_at' such as \"0.8\" and 'on_redis_down' "
			    "(\"closed\" or \"open\") are optional");
			return;
		}
		if (gov_budget_set(r, project, scope, name, limit, period, ppm,
		    down, wall_ms(), &down_now, err, sizeof(err)) != 0) {
			reply_err(req, 400, err);
			return;
		}
		snprintf(det, sizeof(det), "{\"limit_usd\":\"%s\",\"period\":"
		    "\"%s\",\"warn_at\":\"%s\",\"on_redis_down\":\"%s\"}",
		    money_format(limit, a, sizeof(a)), gov_period_name(period),
		    gov_warn_format(ppm, wt, sizeof(wt)), gov_down_name(down_now));
		admin_audit(r, "budget.set", name, det);
	} else if (strcmp(req->method, "DELETE") == 0) {
		switch (gov_budget_clear(r, project, scope, name, err,
		    sizeof(err))) {
		case 1:
			admin_audit(r, "budget.clear", name, NULL);
			reply_json(req, 200, "{\"cleared\":true}");
			return;
		case 0:
			reply_err(req, 404, "no such budget");
			return;
		default:
			reply_err(req, 503, err);
			return;
		}
	}
	if (gov_budget_get(r, project, scope, name, wall_ms(), &gb, err,
	    sizeof(err)) != 0 || !gb.exists) {
		reply_err(req, gb.exists ? 503 : 404, gb.exists ? err :
		    "no such budget");
		return;
	}
	reply_json(req, strcmp(req->method, "PUT") == 0 ? 201 : 200,
	    "{\"project\":\"%s\",\"scope\":\"%s\",\"name\":\"%s\","
	    "\"limit_usd\":\"%s\",\"spent_usd\":\"%s\",\"reserved_usd\":\"%s\","
	    "\"remaining_usd\":\"%s\",\"period\":\"%s\",\"period_start\":\"%s\","
	    "\"warn_at\":\"%s\",\"on_redis_down\":\"%s\"}",
	    project, gov_scope_name(scope), name,
	    money_format(gb.limit, a, sizeof(a)),
	    money_format(gb.spent, b, sizeof(b)),
	    money_format(gb.reserved, c, sizeof(c)),
	    money_format(gb.remaining, e, sizeof(e)),
	    gov_period_name(gb.period), gb.period_start,
	    gov_warn_format(gb.warn_ppm, wt, sizeof(wt)),
	    gov_down_name(gb.on_down));
}

/* PUT /admin/ratelimits (Redis thread). */
static void
ratelimits(struct request *req, struct redis *r)
{
	char project[65], key[40], err[256], det[96];
	int64_t rpm, tpm;
	int rc;

	if (body_str(&req->json, "project", project, sizeof(project)) != 0 ||
	    body_str(&req->json, "key", key, sizeof(key)) != 0 ||
	    body_int(&req->json, "rpm", -1, &rpm) != 0 ||
	    body_int(&req->json, "tpm", -1, &tpm) != 0 ||
	    (project[0] == '\0') == (key[0] == '\0')) {
		reply_err(req, 400, "rate limits name a 'project' or a 'key', "
		    "with 'rpm' and/or 'tpm' (0: none)");
		return;
	}
	rc = project[0] ? gov_project_limits_set(r, project, rpm, tpm, err,
	    sizeof(err)) : auth_key_set_limits(r, key, rpm, tpm, err,
	    sizeof(err));
	if (rc != 0) {
		reply_err(req, rc == 1 ? 404 : 400, rc == 1 ? "no such key" :
		    err);
		return;
	}
	snprintf(det, sizeof(det), "{\"rpm\":%lld,\"tpm\":%lld}",
	    (long long)rpm, (long long)tpm);
	admin_audit(r, "ratelimit.set", project[0] ? project : key, det);
	reply_json(req, 200, "{\"%s\":\"%s\",\"rpm\":%lld,\"tpm\":%lld}",
	    project[0] ? "project" : "key", project[0] ? project : key,
	    (long long)rpm, (long long)tpm);
}

/* What each admin route runs on the Redis thread. */
static const struct {
	const char	*method;
	const char	*path;
	int		 prefix;
	void		(*run)(struct request *, struct redis *);
} admin_routes[] = {
	{ "POST",	"/admin/keys",		0, keys_create },
	{ "GET",	"/admin/keys",		0, keys_list },
	{ "DELETE",	"/admin/keys/",		1, keys_revoke },
	{ "PUT",	"/admin/budgets",	0, budgets },
	{ "GET",	"/admin/budgets",	0, budgets },
	{ "DELETE",	"/admin/budgets",	0, budgets },
	{ "PUT",	"/admin/ratelimits",	0, ratelimits },
};

/* The job's work (Redis thread). */
static void
admin_run(struct rjob *j, struct redis *r)
{
	struct request *req = j->arg;
	size_t i;

	for (i = 0; i < NM_NELEM(admin_routes); i++) {
		if (strcmp(req->method, admin_routes[i].method) != 0 ||
		    (admin_routes[i].prefix ? strncmp(req->path,
		    admin_routes[i].path, strlen(admin_routes[i].path)) != 0 :
		    strcmp(req->path, admin_routes[i].path) != 0))
			continue;
		admin_routes[i].run(req, r);
		return;
	}
	reply_err(req, 405, "no such admin operation");
}

static void
admin_done(struct rjob *j)
{
	struct request *req = j->arg;

	pthread_mutex_lock(&req->mu);
	if (j->failed)
		reply_err(req, 503, "Redis is unreachable");
	request_continue(req);
	pthread_mutex_unlock(&req->mu);
	rjob_free(j);
	request_unref(req);
}

static enum stage
st_admin_work(struct request *req)
{
	struct rjob *j;

	if ((j = rjob_new(admin_done, req)) == NULL)
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	j->run = admin_run;
	return request_wait_redis(req, j);
}

static enum stage
st_admin_answer(struct request *req)
{
	request_header(req, "Cache-Control", "no-store");
	request_respond(req, req->fetched_status ? req->fetched_status : 500,
	    "application/json", req->fetched.data != NULL ? req->fetched.data :
	    "", req->fetched.len);
	return STAGE_ANSWERED;
}

static const stage_fn admin_stages[] = { stage_auth, stage_auth_check,
    st_admin_only, st_admin_parse, st_admin_work, st_admin_answer };

const struct pipeline pipe_admin = { "admin", admin_stages,
    (int)NM_NELEM(admin_stages), 0 };
