/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The stages of the routes that call no source: health, readiness,
 * metrics, the catalog, price quotes, receipts and usage, and the answers
 * to unknown routes.  Stages run on libmicrohttpd's threads; the Redis
 * callbacks (receipt_done, usage_run) on the Redis thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "catalog.h"
#include "config.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "quote.h"
#include "request.h"
#include "rthread.h"
#include "usage.h"
#include "worker.h"

static enum stage
st_healthz(struct request *req)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	request_respond(req, 200, "application/json", ok, sizeof(ok) - 1);
	return STAGE_ANSWERED;
}

/*
 * Ready when the worker is not draining and its Redis thread's last word
 * with Redis worked (it checks every second when idle): never waits.
 */
static enum stage
st_readyz(struct request *req)
{
	static const char ready[] = "{\"status\":\"ready\"}";
	static const char noredis[] =
	    "{\"status\":\"not ready\",\"reason\":\"redis unreachable\"}";
	static const char draining[] =
	    "{\"status\":\"not ready\",\"reason\":\"draining\"}";

	if (atomic_load(&req->w->draining))
		request_respond(req, 503, "application/json", draining,
		    sizeof(draining) - 1);
	else if (!rthread_redis_up(req->w->rt))
		request_respond(req, 503, "application/json", noredis,
		    sizeof(noredis) - 1);
	else
		request_respond(req, 200, "application/json", ready,
		    sizeof(ready) - 1);
	return STAGE_ANSWERED;
}

static enum stage st_metrics(struct request *);

/* metrics_require_admin off: no key needed, straight to the metrics. */
static enum stage
st_metrics_gate(struct request *req)
{
	if (!req->w->cfg->metrics_require_admin)
		stage_skip_to(req, st_metrics);
	return STAGE_NEXT;
}

/* metrics_require_admin on: a key passed; it must be the admin key. */
static enum stage
st_metrics_admin(struct request *req)
{
	if (!req->key.admin)
		return stage_fail(req, 403, "invalid_request_error",
		    "admin_key_required", NULL, "GET /metrics needs the admin "
		    "key (metrics_require_admin is on).");
	return STAGE_NEXT;
}

static enum stage
st_metrics(struct request *req)
{
	struct buf b;
	size_t i;

	buf_init(&b, 16 * 1024 * 1024);
	if (metrics_render(req->w->metrics, &b) != 0) {
		buf_free(&b);
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "metrics unavailable");
	}
	/* Sources resting after repeated failures, as this worker last read. */
	buf_appends(&b, "# HELP nextmodel_source_cooling A source on a cool-down "
	    "after repeated failures (1), or not (0).\n"
	    "# TYPE nextmodel_source_cooling gauge\n");
	for (i = 0; i < req->w->cfg->nproviders; i++)
		buf_appendf(&b, "nextmodel_source_cooling{provider=\"%s\"} %d\n",
		    req->w->cfg->providers[i].name, health_cooling(req->w,
		    req->w->cfg->providers[i].name));
	request_respond(req, 200, "text/plain; version=0.0.4", b.data, b.len);
	buf_free(&b);
	return STAGE_ANSWERED;
}

static enum stage
st_not_found(struct request *req)
{
	return stage_fail(req, 404, "invalid_request_error", "not_found", NULL,
	    "Unknown request URL: %s %.200s", req->method, req->path);
}

static enum stage
st_method_not_allowed(struct request *req)
{
	static const char *const posts[] = { "/v1/chat/completions",
	    "/v1/embeddings", "/v1/quotes" };
	const char *allow = "GET";
	size_t i;

	for (i = 0; i < NM_NELEM(posts); i++)
		if (strcmp(req->path, posts[i]) == 0)
			allow = "POST";
	request_header(req, "Allow", allow);
	return stage_fail(req, 405, "invalid_request_error",
	    "method_not_allowed", NULL, "Method %s is not allowed for %.200s",
	    req->method, req->path);
}

static enum stage
st_headers_too_large(struct request *req)
{
	req->close = 1;
	return stage_fail(req, 431, "invalid_request_error",
	    "headers_too_large", NULL, "Request headers are larger than the "
	    "limit of %zu bytes", req->w->cfg->max_header_bytes);
}

/* --- /v1/models -------------------------------------------------------- */

/*
 * Where the model's prices come from: price_source, price_checked and,
 * for a price set in another currency, the original amounts and the rate.
 */
static int
write_price_trace(struct buf *b, const struct model *m)
{
	static const char *const orig[ORIG_NPRICES] = { "input_per_mtok",
	    "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok" };
	const struct catalog_rate *rate = m->price_rate;
	char p[MONEY_STRLEN];
	size_t i;
	int r = 0;

	r |= buf_appends(b, ",\"price_source\":");
	r |= m->price_source != NULL ? json_write_cstr(b, m->price_source) :
	    buf_appends(b, "null");
	r |= buf_appends(b, ",\"price_checked\":");
	r |= m->price_checked[0] != '\0' ?
	    json_write_cstr(b, m->price_checked) : buf_appends(b, "null");
	r |= buf_appendf(b, ",\"price_currency\":\"%s\"",
	    rate != NULL ? rate->currency : "USD");
	if (rate == NULL)
		return r;
	r |= buf_appends(b, ",\"price_original\":{");
	for (i = 0; i < ORIG_NPRICES; i++) {
		if (m->price_original[i] < 0)
			continue;
		r |= buf_appendf(b, "%s\"%s\":\"%s\"", i > 0 ? "," : "", orig[i],
		    money_format(m->price_original[i], p, sizeof(p)));
	}
	r |= buf_appendf(b, "},\"exchange_rate\":{\"currency\":\"%s\","
	    "\"per_usd\":\"%s\",\"date\":\"%s\",\"source\":", rate->currency,
	    money_format(rate->per_usd, p, sizeof(p)), rate->date);
	r |= rate->source != NULL ? json_write_cstr(b, rate->source) :
	    buf_appends(b, "null");
	r |= buf_appendc(b, '}');
	return r;
}

/* Append one catalog model as an OpenAI model object. */
static int
write_model(struct buf *b, const struct model *m)
{
	char p[MONEY_STRLEN];
	unsigned bit;
	int r = 0, first = 1;
	char **al;

	r |= buf_appends(b, "{\"id\":");
	r |= json_write_cstr(b, m->id);
	r |= buf_appendf(b, ",\"object\":\"model\",\"created\":%lld,"
	    "\"owned_by\":", (long long)m->created);
	r |= json_write_cstr(b, m->owned_by != NULL ? m->owned_by : m->provider);
	r |= buf_appends(b, ",\"nextmodel\":{\"provider\":");
	r |= json_write_cstr(b, m->provider);
	r |= buf_appends(b, ",\"upstream_model\":");
	r |= json_write_cstr(b, m->upstream_model != NULL ? m->upstream_model :
	    m->id);
	r |= buf_appendf(b, ",\"input_per_mtok\":\"%s\"",
	    money_format(m->input_per_mtok, p, sizeof(p)));
	r |= buf_appendf(b, ",\"output_per_mtok\":\"%s\"",
	    money_format(m->output_per_mtok, p, sizeof(p)));
	r |= buf_appendf(b, ",\"cached_input_per_mtok\":\"%s\"",
	    money_format(m->cached_input_per_mtok, p, sizeof(p)));
	r |= buf_appendf(b, ",\"cache_write_per_mtok\":\"%s\"",
	    money_format(m->cache_write_per_mtok, p, sizeof(p)));
	r |= buf_appendf(b, ",\"context_window\":%lld,\"max_output\":%lld,"
	    "\"capabilities\":[", (long long)m->context_window,
	    (long long)m->max_output);
	for (bit = 1; bit != 0 && bit <= CAP_REASONING; bit <<= 1) {
		if ((m->caps & bit) == 0)
			continue;
		if (!first)
			r |= buf_appendc(b, ',');
		first = 0;
		r |= json_write_cstr(b, catalog_cap_name(bit));
	}
	r |= buf_appendf(b, "],\"region\":\"%s\",\"latency_ms\":%d,\"aliases\":[",
	    catalog_region_name(m->region), m->latency_ms);
	for (al = m->aliases; al != NULL && *al != NULL; al++) {
		if (al != m->aliases)
			r |= buf_appendc(b, ',');
		r |= json_write_cstr(b, *al);
	}
	r |= buf_appendc(b, ']');
	r |= write_price_trace(b, m);
	r |= buf_appends(b, "}}");
	return r ? -1 : 0;
}


static enum stage
st_models(struct request *req)
{
	const struct catalog *cat = req->w->cfg->catalog;
	struct buf b;
	size_t i;
	int r = 0;

	buf_init(&b, 0);
	r |= buf_appends(&b, "{\"object\":\"list\",\"data\":[");
	for (i = 0; i < cat->n; i++) {
		if (i > 0)
			r |= buf_appendc(&b, ',');
		r |= write_model(&b, &cat->models[i]);
	}
	r |= buf_appends(&b, "]}");
	if (r == 0)
		request_respond(req, 200, "application/json", b.data, b.len);
	buf_free(&b);
	if (r != 0)
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	return STAGE_ANSWERED;
}

static enum stage
st_model(struct request *req)
{
	const char *id = req->path + strlen("/v1/models/");
	const struct model *m;
	char hint[CATALOG_HINT_MAX];
	struct buf b;
	int r;

	if ((m = catalog_find(req->w->cfg->catalog, id)) == NULL)
		return stage_fail(req, 404, "invalid_request_error",
		    "model_not_found", "model", "The model '%.128s' does not "
		    "exist or you do not have access to it.%s", id,
		    catalog_hint(req->w->cfg->catalog, id, hint, sizeof(hint)));
	buf_init(&b, 0);
	if ((r = write_model(&b, m)) == 0)
		request_respond(req, 200, "application/json", b.data, b.len);
	buf_free(&b);
	if (r != 0)
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	return STAGE_ANSWERED;
}

/* --- /v1/quotes -------------------------------------------------------- */

/*
 * POST /v1/quotes: a chat body in, every catalog model able to serve it
 * ranked by expected cost (then latency), and the others with the reason.
 * No source is called.
 */
static enum stage
st_quotes(struct request *req)
{
	const struct json *j = &req->json;
	struct quote_opts o;
	struct quote q;
	struct buf b;
	char name[256], emsg[256];
	enum stage r = STAGE_ANSWERED;
	int mt;

	memset(&o, 0, sizeof(o));
	o.sort = QUOTE_SORT_PRICE;
	o.region = -1;
	if (json_type(j, 0) == JSON_OBJECT && (mt = json_get(j, 0, "model")) >= 0 &&
	    json_type(j, mt) != JSON_NULL) {
		if (json_type(j, mt) != JSON_STRING ||
		    json_strcpy(j, mt, name, sizeof(name)) != 0)
			return stage_fail(req, 400, "invalid_request_error",
			    NULL, "model", "'model' must be a string of at "
			    "most 255 bytes");
		o.model = name;
	}
	/* The same facts as a chat request, the model optional. */
	memset(&req->facts, 0, sizeof(req->facts));
	if (estimate_chat(j, &req->facts.est, emsg, sizeof(emsg)) != 0)
		return stage_fail(req, 400, "invalid_request_error", NULL, NULL,
		    "%s", emsg);
	buf_init(&b, 0);
	if (quote_build(req->w->cfg->catalog, &req->facts.est, &o, &q) != 0 ||
	    quote_write_json(&q, &b) != 0)
		r = stage_fail(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	else
		request_respond(req, 200, "application/json", b.data, b.len);
	quote_free(&q);
	buf_free(&b);
	return r;
}

/* --- /v1/receipts/{id} ------------------------------------------------- */

/* The stored receipt came back (Redis thread). */
static void
receipt_done(struct rjob *j)
{
	struct request *req = j->arg;
	const redisReply *rep = j->reply[0];

	pthread_mutex_lock(&req->mu);
	if (j->failed || rep == NULL || rep->type == REDIS_REPLY_ERROR)
		req->fetched_status = 503;
	else if (rep->type != REDIS_REPLY_STRING)
		req->fetched_status = 404;
	else if (buf_append(&req->fetched, rep->str, rep->len) != 0)
		req->fetched_status = 500;
	else
		req->fetched_status = 200;
	request_continue(req);
	pthread_mutex_unlock(&req->mu);
	rjob_free(j);
	request_unref(req);
}

/* 1 if id is "rcpt_" and 24 lowercase hex digits. */
static int
receipt_id_ok(const char *id)
{
	size_t i;

	if (strlen(id) != RECEIPT_ID_LEN || strncmp(id, "rcpt_", 5) != 0)
		return 0;
	for (i = 5; i < RECEIPT_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

static enum stage
receipt_not_found(struct request *req, const char *id)
{
	return stage_fail(req, 404, "invalid_request_error", "not_found",
	    NULL, "No receipt '%.64s' is visible to this key.", id);
}

/* Ask the Redis thread for nm:receipt:<id>. */
static enum stage
st_receipt_fetch(struct request *req)
{
	const char *id = req->path + strlen("/v1/receipts/");
	const char *argv[2];
	char key[64];
	struct rjob *j;

	if (!receipt_id_ok(id))
		return receipt_not_found(req, id);
	snprintf(key, sizeof(key), "nm:receipt:%s", id);
	argv[0] = "GET";
	argv[1] = key;
	if ((j = rjob_new(receipt_done, req)) == NULL ||
	    rjob_cmd(j, 2, argv, NULL) != 0) {
		rjob_free(j);
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	}
	return request_wait_redis(req, j);
}

/* The receipt, to a key of its project or the admin key; else 404. */
static enum stage
st_receipt_answer(struct request *req)
{
	const char *id = req->path + strlen("/v1/receipts/");
	struct receipt_view v;
	char err[128];

	if (req->fetched_status == 503)
		return stage_fail(req, 503, "server_error", "redis_unavailable",
		    NULL, "Receipts cannot be read right now; try again "
		    "shortly.");
	if (req->fetched_status != 200)
		return receipt_not_found(req, id);
	if (receipt_parse(req->fetched.data, req->fetched.len, &v, err,
	    sizeof(err)) != 0) {
		log_warnx("stored receipt %s is unreadable: %s", id, err);
		return receipt_not_found(req, id);
	}
	if (!req->key.admin && strcmp(v.project, req->key.project) != 0)
		return receipt_not_found(req, id);
	request_respond(req, 200, "application/json", req->fetched.data,
	    req->fetched.len);
	return STAGE_ANSWERED;
}

/* --- /v1/usage ---------------------------------------------------------- */

/* The report, read on the Redis thread (several round trips). */
static void
usage_run(struct rjob *j, struct redis *r)
{
	struct request *req = j->arg;
	struct usage_query q;
	struct usage_result res;
	const char *v;
	char err[256];
	int dim;

	memset(&q, 0, sizeof(q));
	dim = usage_dim_parse((v = request_arg(req, "by")) != NULL ? v :
	    "project");
	q.by = (enum usage_dim)dim;
	if ((v = request_arg(req, "since")) != NULL)
		snprintf(q.since, sizeof(q.since), "%s", v);
	if ((v = request_arg(req, "until")) != NULL)
		snprintf(q.until, sizeof(q.until), "%s", v);
	/* A project's key sees its own project; the admin key any or all. */
	q.project = req->key.admin ? request_arg(req, "project") :
	    req->key.project;
	if (usage_report(r, &q, &res, err, sizeof(err)) != 0) {
		log_warnx("usage report: %s", err);
		req->fetched_status = 503;
		return;
	}
	req->fetched_status = usage_write_json(&res, &q, &req->fetched) == 0 ?
	    200 : 500;
	usage_result_free(&res);
}

/* The report is written (Redis thread). */
static void
usage_done(struct rjob *j)
{
	struct request *req = j->arg;

	pthread_mutex_lock(&req->mu);
	if (j->failed)
		req->fetched_status = 503;
	request_continue(req);
	pthread_mutex_unlock(&req->mu);
	rjob_free(j);
	request_unref(req);
}

/* Check the query, then hand the report to the Redis thread. */
static enum stage
st_usage_fetch(struct request *req)
{
	const char *by = request_arg(req, "by"), *d;
	static const char *const days[] = { "since", "until" };
	struct rjob *j;
	size_t i;

	if (by != NULL && usage_dim_parse(by) < 0)
		return stage_fail(req, 400, "invalid_request_error", NULL, "by",
		    "'by' must be project, team, key, workload or model");
	for (i = 0; i < NM_NELEM(days); i++)
		if ((d = request_arg(req, days[i])) != NULL &&
		    usage_day_check(d) != 0)
			return stage_fail(req, 400, "invalid_request_error",
			    NULL, days[i], "'%s' must be a day, YYYY-MM-DD",
			    days[i]);
	if ((j = rjob_new(usage_done, req)) == NULL)
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	j->run = usage_run;
	return request_wait_redis(req, j);
}

static enum stage
st_usage_answer(struct request *req)
{
	if (req->fetched_status == 503)
		return stage_fail(req, 503, "server_error", "redis_unavailable",
		    NULL, "Usage cannot be read right now; try again shortly.");
	if (req->fetched_status != 200)
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "the usage report could not be written");
	request_respond(req, 200, "application/json", req->fetched.data,
	    req->fetched.len);
	return STAGE_ANSWERED;
}

/* --- /dashboard --------------------------------------------------------- */

/*
 * The spend dashboard: one self-contained page (no outside resources).
 * It holds no data: the browser asks GET /v1/usage with the key typed in,
 * which stays in the page's memory only.
 */
static const char dashboard_html[] =
"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
"<title>NextModel spend</title>\n"
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
"<style>\n"
"body{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:60em;"
"padding:0 1em;color:#222}\n"
"h1{font-size:1.4em}form{display:flex;gap:.5em;flex-wrap:wrap;"
"margin-bottom:1em}input,select,button{font:inherit;padding:.3em .5em}\n"
"table{border-collapse:collapse;width:100%}th,td{padding:.3em .6em;"
"border-bottom:1px solid #ddd;text-align:right}th:first-child,"
"td:first-child{text-align:left}.bar{background:#4a7;height:.6em}\n"
"#err{color:#b00}tfoot td{font-weight:bold}\n"
"</style></head><body>\n"
"<h1>NextModel spend</h1>\n"
"<form id=\"f\"><input id=\"key\" type=\"password\" placeholder=\"API key "
"(nm-...)\" size=\"30\" autocomplete=\"off\" required>\n"
"<select id=\"by\"><option>project</option><option>team</option>"
"<option>key</option><option>workload</option><option>model</option>"
"</select>\n"
"<input id=\"since\" type=\"date\" title=\"since\"><input id=\"until\" "
"type=\"date\" title=\"until\">\n"
"<button>Show</button></form>\n<p id=\"err\"></p>\n"
"<table><thead><tr><th id=\"dim\">project</th><th>requests</th>"
"<th>cached</th><th>tokens</th><th>cost (USD)</th><th>share</th>"
"<th>saved (USD)</th><th></th></tr></thead><tbody id=\"rows\"></tbody>"
"<tfoot id=\"total\"></tfoot></table>\n"
"<script>\n"
"'use strict';\n"
"const $ = (id) => document.getElementById(id);\n"
"function cell(text) { const td = document.createElement('td'); "
"td.textContent = text; return td; }\n"
"function row(r, name, share) {\n"
"  const tr = document.createElement('tr');\n"
"  tr.append(cell(name), cell(r.requests), cell(r.cached),\n"
"    cell(Number(r.prompt_tokens) + Number(r.completion_tokens)),\n"
"    cell(r.cost_usd), cell(share === null ? '' : share + '%'),"
" cell(r.saved_usd));\n"
"  const bar = document.createElement('td');\n"
"  if (share !== null) { const d = document.createElement('div'); "
"d.className = 'bar'; d.style.width = Math.min(100, Number(share)) + 'px'; "
"bar.append(d); }\n"
"  tr.append(bar);\n  return tr;\n}\n"
"$('f').addEventListener('submit', async (ev) => {\n"
"  ev.preventDefault();\n  $('err').textContent = '';\n"
"  const q = new URLSearchParams({ by: $('by').value });\n"
"  if ($('since').value) q.set('since', $('since').value);\n"
"  if ($('until').value) q.set('until', $('until').value);\n"
"  const r = await fetch('/v1/usage?' + q, { headers: { authorization: "
"'Bearer ' + $('key').value } });\n"
"  const j = await r.json();\n"
"  if (!r.ok) { $('err').textContent = (j.error && j.error.message) || "
"r.status; return; }\n"
"  $('dim').textContent = j.by;\n"
"  $('rows').replaceChildren(...j.rows.map((x) => row(x, x[j.by], "
"x.share_pct)));\n"
"  $('total').replaceChildren(row(j.total, 'total', null));\n"
"});\n"
"</script></body></html>\n";

static enum stage
st_dashboard(struct request *req)
{
	request_header(req, "Content-Security-Policy", "default-src 'self'; "
	    "style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
	    "connect-src 'self'");
	request_header(req, "Cache-Control", "no-store");
	request_respond(req, 200, "text/html; charset=utf-8", dashboard_html,
	    sizeof(dashboard_html) - 1);
	return STAGE_ANSWERED;
}

/* --- the pipelines ----------------------------------------------------- */

#define PIPE(var, name, ...)						\
	static const stage_fn var##_stages[] = { __VA_ARGS__ };		\
	const struct pipeline var = { name, var##_stages,		\
	    (int)NM_NELEM(var##_stages), 0 }

PIPE(pipe_healthz, "healthz", st_healthz);
PIPE(pipe_dashboard, "dashboard", st_dashboard);
PIPE(pipe_readyz, "readyz", st_readyz);
PIPE(pipe_metrics, "metrics", st_metrics_gate, stage_auth, stage_auth_check,
    st_metrics_admin, st_metrics);
PIPE(pipe_not_found, "not_found", st_not_found);
PIPE(pipe_method_not_allowed, "method_not_allowed", st_method_not_allowed);
PIPE(pipe_headers_too_large, "headers_too_large", st_headers_too_large);
PIPE(pipe_models, "models", stage_auth, stage_auth_check, st_models);
PIPE(pipe_model, "model", stage_auth, stage_auth_check, st_model);
PIPE(pipe_quotes, "quotes", stage_auth, stage_auth_check, stage_parse,
    st_quotes);
PIPE(pipe_usage, "usage", stage_auth, stage_auth_check, st_usage_fetch,
    st_usage_answer);
PIPE(pipe_receipt, "receipt", stage_auth, stage_auth_check,
    st_receipt_fetch, st_receipt_answer);
