/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The request pipeline: bound and parse the body, authenticate, pick the
 * model and its source, hand the call to the upstream engine and turn
 * what comes back into the client's answer.  The engine's callbacks run
 * on the engine thread; everything they touch is guarded by the
 * request's mutex, and they wake the suspended connection through http.c.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nextmodel.h"
#include "billing.h"
#include "catalog.h"
#include "config.h"
#include "crypto.h"
#include "estimate.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "quote.h"
#include "request.h"
#include "worker.h"

/* A new request with one reference (http.c's).  NULL on OOM. */
struct request *
request_new(struct worker *w)
{
	struct request *req;
	unsigned char rnd[12];
	const struct config *cfg = w->cfg;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		return NULL;
	if (crypto_random(rnd, sizeof(rnd)) != 0) {
		free(req);
		return NULL;
	}
	pthread_mutex_init(&req->mu, NULL);
	atomic_init(&req->refs, 1);
	req->w = w;
	memcpy(req->id, "req_", 4);
	crypto_hex(rnd, sizeof(rnd), req->id + 4);
	req->t_start_us = nm_mono_us();
	buf_init(&req->body, cfg->max_body_bytes);
	buf_init(&req->out, cfg->max_upstream_bytes + 65536);
	buf_init(&req->upbody, cfg->max_upstream_bytes);
	sse_parser_init(&req->sse, cfg->max_upstream_bytes);
	worker_track(w, req);
	return req;
}

/* Take a reference. */
void
request_ref(struct request *req)
{
	atomic_fetch_add(&req->refs, 1);
}

/* Drop a reference; the last one frees everything. */
void
request_unref(struct request *req)
{
	if (req == NULL || atomic_fetch_sub(&req->refs, 1) != 1)
		return;
	worker_untrack(req->w, req);
	if (req->call != NULL)
		upstream_call_release(req->call);
	if (req->ops != NULL && req->ops->ctx_free != NULL)
		req->ops->ctx_free(&req->pctx);
	if (req->authorization != NULL) {
		crypto_cleanse(req->authorization, strlen(req->authorization));
		free(req->authorization);
	}
	buf_free(&req->body);
	buf_free(&req->out);
	buf_free(&req->upbody);
	sse_parser_free(&req->sse);
	pthread_mutex_destroy(&req->mu);
	free(req);
}

/* Add a response header (names and values are ours, never the client's). */
void
request_header(struct request *req, const char *name, const char *value)
{
	struct req_header *h;

	if (req->nhdr >= REQ_MAX_HEADERS)
		return;
	h = &req->hdr[req->nhdr++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->value, sizeof(h->value), "%s", value);
}

/* Set a whole answer. */
void
request_respond(struct request *req, int status, const char *ctype,
    const char *body, size_t len)
{
	req->status = status;
	req->metric_status = status;
	request_header(req, "Content-Type", ctype);
	buf_reset(&req->out);
	if (buf_append(&req->out, body, len) != 0) {
		buf_reset(&req->out);
		req->status = req->metric_status = 500;
	}
	req->phase = REQ_RESPOND;
}

/* Write {"error":{...}} for err into out. */
static int
write_error_json(struct buf *out, const struct errinfo *err)
{
	int r = 0;

	r |= buf_appends(out, "{\"error\":{\"message\":");
	r |= json_write_cstr(out, err->message);
	r |= buf_appends(out, ",\"type\":");
	r |= json_write_cstr(out, err->type);
	r |= buf_appends(out, ",\"param\":");
	r |= err->param[0] ? json_write_cstr(out, err->param) :
	    buf_appends(out, "null");
	r |= buf_appends(out, ",\"code\":");
	r |= err->code[0] ? json_write_cstr(out, err->code) :
	    buf_appends(out, "null");
	r |= buf_appends(out, "}}");
	return r ? -1 : 0;
}

/* Answer with an OpenAI-shaped error. */
static void
respond_err(struct request *req, const struct errinfo *err)
{
	struct buf b;

	buf_init(&b, 8192);
	if (write_error_json(&b, err) != 0) {
		buf_reset(&b);
		buf_appends(&b, "{\"error\":{\"message\":\"internal error\","
		    "\"type\":\"server_error\",\"param\":null,\"code\":null}}");
	}
	if (err->retry_after[0] != '\0')
		request_header(req, "Retry-After", err->retry_after);
	/* Quota-like failures must not be retried by SDKs. */
	if (err->status == 402)
		request_header(req, "x-should-retry", "false");
	request_respond(req, err->status, "application/json", b.data, b.len);
	buf_free(&b);
}

/* Answer with an OpenAI-shaped error built from printf arguments. */
void
request_error(struct request *req, int status, const char *type,
    const char *code, const char *param, const char *fmt, ...)
{
	struct errinfo err;
	va_list ap;

	memset(&err, 0, sizeof(err));
	err.status = status;
	snprintf(err.type, sizeof(err.type), "%s", type);
	if (code != NULL)
		snprintf(err.code, sizeof(err.code), "%s", code);
	if (param != NULL)
		snprintf(err.param, sizeof(err.param), "%s", param);
	va_start(ap, fmt);
	vsnprintf(err.message, sizeof(err.message), fmt, ap);
	va_end(ap);
	respond_err(req, &err);
}

/* Append an SSE error event ending a stream (mu held). */
static void
stream_error(struct request *req, const struct errinfo *err)
{
	struct buf b;

	if (req->stream_failed)
		return;
	req->stream_failed = 1;
	req->metric_status = err->status;
	buf_init(&b, 8192);
	if (write_error_json(&b, err) == 0)
		sse_write_data(&req->out, b.data, b.len);
	buf_free(&b);
	req->finished = 1;
}

/* Wake the connection if http.c suspended it (mu held). */
static void
wake(struct request *req)
{
	if (req->wake != NULL)
		req->wake(req);
}

/* --- simple endpoints ------------------------------------------------ */

void
request_healthz(struct request *req)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	request_respond(req, 200, "application/json", ok, sizeof(ok) - 1);
}

/* Ready when Redis answers and the worker is not draining. */
void
request_readyz(struct request *req)
{
	static const char ready[] = "{\"status\":\"ready\"}";
	static const char noredis[] =
	    "{\"status\":\"not ready\",\"reason\":\"redis unreachable\"}";
	static const char draining[] =
	    "{\"status\":\"not ready\",\"reason\":\"draining\"}";
	struct redis *r = worker_redis(req->w);

	if (atomic_load(&req->w->draining))
		request_respond(req, 503, "application/json", draining,
		    sizeof(draining) - 1);
	else if (r == NULL || redis_ping(r) != 0)
		request_respond(req, 503, "application/json", noredis,
		    sizeof(noredis) - 1);
	else
		request_respond(req, 200, "application/json", ready,
		    sizeof(ready) - 1);
}

static int	authenticate(struct request *);

void
request_metrics(struct request *req)
{
	struct buf b;

	/* metrics_require_admin: the admin key only (others: 401, or 403). */
	if (req->w->cfg->metrics_require_admin) {
		if (authenticate(req) != 0)
			return;
		if (!req->key.admin) {
			request_error(req, 403, "invalid_request_error",
			    "admin_key_required", NULL, "GET /metrics needs the "
			    "admin key (metrics_require_admin is on).");
			return;
		}
	}
	buf_init(&b, 16 * 1024 * 1024);
	if (metrics_render(req->w->metrics, &b) != 0)
		request_error(req, 500, "server_error", NULL, NULL,
		    "metrics unavailable");
	else
		request_respond(req, 200, "text/plain; version=0.0.4", b.data,
		    b.len);
	buf_free(&b);
}

void
request_not_found(struct request *req)
{
	request_error(req, 404, "invalid_request_error", "not_found", NULL,
	    "Unknown request URL: %s %.200s", req->method, req->path);
}

void
request_method_not_allowed(struct request *req)
{
	static const char *const posts[] = { "/v1/chat/completions",
	    "/v1/embeddings", "/v1/quotes" };
	const char *allow = "GET";
	size_t i;

	for (i = 0; i < NM_NELEM(posts); i++)
		if (strcmp(req->path, posts[i]) == 0)
			allow = "POST";
	request_header(req, "Allow", allow);
	request_error(req, 405, "invalid_request_error", "method_not_allowed",
	    NULL, "Method %s is not allowed for %.200s", req->method, req->path);
}

void
request_too_large(struct request *req)
{
	req->close = 1;
	request_error(req, 413, "invalid_request_error", "request_too_large",
	    NULL, "Request body is larger than the limit of %zu bytes",
	    req->w->cfg->max_body_bytes);
}

void
request_headers_too_large(struct request *req)
{
	req->close = 1;
	request_error(req, 431, "invalid_request_error", "headers_too_large",
	    NULL, "Request headers are larger than the limit of %zu bytes",
	    req->w->cfg->max_header_bytes);
}

/* --- authentication -------------------------------------------------- */

/* Check the bearer key; on failure answer and return -1. */
static int
authenticate(struct request *req)
{
	const struct config *cfg = req->w->cfg;
	const char *a = req->authorization, *k;
	unsigned char h[CRYPTO_SHA256_LEN];
	size_t n;
	int r;

	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0) {
		request_error(req, 401, "invalid_request_error",
		    "invalid_api_key", NULL, "You didn't provide an API key. "
		    "Send it as 'Authorization: Bearer <key>'.");
		return -1;
	}
	for (k = a + 7; *k == ' '; k++)
		;
	n = strlen(k);
	while (n > 0 && k[n - 1] == ' ')
		n--;
	if (cfg->has_admin_key) {
		crypto_sha256(k, n, h);
		if (crypto_memeq(h, cfg->admin_key_hash, sizeof(h))) {
			memset(&req->key, 0, sizeof(req->key));
			snprintf(req->key.id, sizeof(req->key.id), "admin");
			snprintf(req->key.project, sizeof(req->key.project), "*");
			req->key.admin = 1;
			return 0;
		}
	}
	if (!auth_key_wellformed(k, n))
		r = 0;
	else
		r = auth_cache_lookup(req->w->auth, worker_redis(req->w), k, n,
		    &req->key);
	if (r == 1)
		return 0;
	if (r < 0) {
		request_error(req, 503, "server_error", "auth_unavailable", NULL,
		    "The key store is unavailable; try again shortly.");
		return -1;
	}
	request_error(req, 401, "invalid_request_error", "invalid_api_key",
	    NULL, "Incorrect API key provided.");
	return -1;
}

/* --- /v1/models -------------------------------------------------------- */

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
	r |= buf_appends(b, "]}}");
	return r ? -1 : 0;
}

void
request_models(struct request *req)
{
	const struct catalog *cat = req->w->cfg->catalog;
	struct buf b;
	size_t i;
	int r = 0;

	if (authenticate(req) != 0)
		return;
	buf_init(&b, 0);
	r |= buf_appends(&b, "{\"object\":\"list\",\"data\":[");
	for (i = 0; i < cat->n; i++) {
		if (i > 0)
			r |= buf_appendc(&b, ',');
		r |= write_model(&b, &cat->models[i]);
	}
	r |= buf_appends(&b, "]}");
	if (r != 0)
		request_error(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	else
		request_respond(req, 200, "application/json", b.data, b.len);
	buf_free(&b);
}

void
request_model(struct request *req)
{
	const char *id = req->path + strlen("/v1/models/");
	const struct model *m;
	struct buf b;

	if (authenticate(req) != 0)
		return;
	if ((m = catalog_find(req->w->cfg->catalog, id)) == NULL) {
		request_error(req, 404, "invalid_request_error",
		    "model_not_found", "model", "The model '%.128s' does not "
		    "exist or you do not have access to it.", id);
		return;
	}
	buf_init(&b, 0);
	if (write_model(&b, m) != 0)
		request_error(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	else
		request_respond(req, 200, "application/json", b.data, b.len);
	buf_free(&b);
}

/* --- chat completions: validation ------------------------------------ */

/* True if any message has an image part. */
static int
has_images(const struct json *j, int msgs)
{
	int i, k, m, c, p, t;

	/* json_at() walks from the start: step with json_skip() instead. */
	for (i = 0, m = msgs + 1; i < json_size(j, msgs); i++, m = json_skip(j, m)) {
		if ((c = json_get(j, m, "content")) < 0 ||
		    json_type(j, c) != JSON_ARRAY)
			continue;
		for (k = 0, p = c + 1; k < json_size(j, c); k++, p = json_skip(j, p)) {
			if (json_type(j, p) == JSON_OBJECT &&
			    (t = json_get(j, p, "type")) >= 0 &&
			    json_streq(j, t, "image_url"))
				return 1;
		}
	}
	return 0;
}

/*
 * The catalog model called name, its source and the headers saying so.
 * 0, or -1 after answering 404.
 */
static int
resolve_model(struct request *req, const char *name)
{
	const struct config *cfg = req->w->cfg;

	if ((req->model = catalog_find(cfg->catalog, name)) == NULL) {
		request_error(req, 404, "invalid_request_error",
		    "model_not_found", "model", "The model '%.128s' does not "
		    "exist or you do not have access to it.", name);
		return -1;
	}
	req->prov = config_provider(cfg, req->model->provider);
	request_header(req, "x-nextmodel-model", req->model->id);
	request_header(req, "x-nextmodel-provider", req->model->provider);
	return 0;
}

/* The wire format of the model's source; -1 after answering 501. */
static int
find_ops(struct request *req)
{
	if (req->prov == NULL ||
	    (req->ops = provider_ops(req->prov->kind)) == NULL) {
		request_error(req, 501, "server_error", "not_implemented", NULL,
		    "The source of model '%s' speaks a wire format this gateway "
		    "version cannot call yet.", req->model->id);
		return -1;
	}
	return 0;
}

/* The source has a key to call it with; -1 after answering 502. */
static int
check_key(struct request *req)
{
	if (req->prov->api_key == NULL) {
		log_warnx("provider %s: %s is not set; model %s unavailable",
		    req->prov->name, req->prov->api_key_env != NULL ?
		    req->prov->api_key_env : "its key variable", req->model->id);
		request_error(req, 502, "upstream_error", "upstream_error", NULL,
		    "The source of model '%s' is not configured on this "
		    "gateway.", req->model->id);
		return -1;
	}
	return 0;
}

/*
 * The body is an object with a "model" string: copy it to name.  0, or -1
 * after answering 400.
 */
static int
body_model(struct request *req, const struct json *j, char *name, size_t len)
{
	int mt;

	if (json_type(j, 0) != JSON_OBJECT) {
		request_error(req, 400, "invalid_request_error", NULL, NULL,
		    "The request body must be a JSON object.");
		return -1;
	}
	if ((mt = json_get(j, 0, "model")) < 0) {
		request_error(req, 400, "invalid_request_error", NULL, "model",
		    "you must provide a model parameter");
		return -1;
	}
	if (json_type(j, mt) != JSON_STRING ||
	    json_strcpy(j, mt, name, len) != 0 || name[0] == '\0') {
		request_error(req, 400, "invalid_request_error", NULL, "model",
		    "'model' must be a non-empty string of at most %zu bytes",
		    len - 1);
		return -1;
	}
	return 0;
}

/*
 * Check the shape of a chat request and what the model can do.  0, or -1
 * after answering 400/404.  Fills model/prov/ops and the stream flags.
 */
static int
chat_validate(struct request *req, const struct json *j)
{
	static const char *const roles[] = { "system", "developer", "user",
	    "assistant", "tool", "function", NULL };
	char name[256];
	int msgs, m, role, st, so, iu, tools, rf, rt, i, v, ok;
	const char *const *rl;

	if (body_model(req, j, name, sizeof(name)) != 0)
		return -1;
	if ((msgs = json_get(j, 0, "messages")) < 0 ||
	    json_type(j, msgs) != JSON_ARRAY || json_size(j, msgs) == 0) {
		request_error(req, 400, "invalid_request_error", NULL,
		    "messages", "'messages' must be a non-empty array");
		return -1;
	}
	for (i = 0, m = msgs + 1; i < json_size(j, msgs); i++, m = json_skip(j, m)) {
		ok = 0;
		if (json_type(j, m) == JSON_OBJECT &&
		    (role = json_get(j, m, "role")) >= 0)
			for (rl = roles; *rl != NULL; rl++)
				if (json_streq(j, role, *rl))
					ok = 1;
		if (!ok) {
			request_error(req, 400, "invalid_request_error", NULL,
			    "messages", "messages[%d] must be an object with a "
			    "valid 'role'", i);
			return -1;
		}
	}
	req->pctx.stream = 0;
	if ((st = json_get(j, 0, "stream")) >= 0 &&
	    json_type(j, st) != JSON_NULL &&
	    json_bool(j, st, &req->pctx.stream) != 0) {
		request_error(req, 400, "invalid_request_error", NULL, "stream",
		    "'stream' must be a boolean");
		return -1;
	}
	req->pctx.client_usage = 0;
	if ((so = json_get(j, 0, "stream_options")) >= 0 &&
	    json_type(j, so) != JSON_NULL) {
		if (json_type(j, so) != JSON_OBJECT) {
			request_error(req, 400, "invalid_request_error", NULL,
			    "stream_options", "'stream_options' must be an object");
			return -1;
		}
		if ((iu = json_get(j, so, "include_usage")) >= 0 &&
		    json_bool(j, iu, &v) == 0)
			req->pctx.client_usage = v;
	}

	if (resolve_model(req, name) != 0)
		return -1;
	if (req->model->caps & CAP_EMBEDDINGS) {
		request_error(req, 400, "invalid_request_error",
		    "model_not_supported", "model", "The model '%s' is an "
		    "embeddings model; use /v1/embeddings.", req->model->id);
		return -1;
	}
	tools = json_get(j, 0, "tools");
	if (tools >= 0 && json_type(j, tools) == JSON_ARRAY &&
	    json_size(j, tools) > 0 && !(req->model->caps & CAP_TOOLS)) {
		request_error(req, 400, "invalid_request_error",
		    "unsupported_parameter", "tools", "The model '%s' does not "
		    "support tools.", req->model->id);
		return -1;
	}
	if ((rf = json_get(j, 0, "response_format")) >= 0 &&
	    json_type(j, rf) == JSON_OBJECT &&
	    (rt = json_get(j, rf, "type")) >= 0 &&
	    (json_streq(j, rt, "json_object") ||
	    json_streq(j, rt, "json_schema")) &&
	    !(req->model->caps & CAP_JSON)) {
		request_error(req, 400, "invalid_request_error",
		    "unsupported_parameter", "response_format", "The model '%s' "
		    "does not support JSON output modes.", req->model->id);
		return -1;
	}
	if (req->pctx.stream && !(req->model->caps & CAP_STREAMING)) {
		request_error(req, 400, "invalid_request_error",
		    "unsupported_parameter", "stream", "The model '%s' does not "
		    "support streaming.", req->model->id);
		return -1;
	}
	if (!(req->model->caps & CAP_VISION) && has_images(j, msgs)) {
		request_error(req, 400, "invalid_request_error",
		    "unsupported_parameter", "messages", "The model '%s' does "
		    "not accept images.", req->model->id);
		return -1;
	}
	if (find_ops(req) != 0 || check_key(req) != 0)
		return -1;
	return 0;
}

/* --- what a call costs ------------------------------------------------ */

/*
 * The usage to bill: the source's, or (when it reported none) an estimate
 * from the sizes of the request and of the answer, said as such.
 */
static const char *
billed_usage(struct request *req, size_t answer_len, struct usage *u)
{
	*u = req->pctx.usage;
	if (u->have)
		return "upstream";
	if (u->prompt_tokens == 0 && u->completion_tokens == 0) {
		u->prompt_tokens = estimate_text(req->body.len);
		u->completion_tokens = req->embeddings ? 0 :
		    estimate_text(answer_len);
		u->total_tokens = u->prompt_tokens + u->completion_tokens;
	}
	return "estimated";
}

/* x-nextmodel-cost-usd and x-nextmodel-usage-source of a whole answer. */
static void
cost_headers(struct request *req, size_t answer_len)
{
	struct usage u;
	const char *source = billed_usage(req, answer_len, &u);
	char text[MONEY_STRLEN];
	nm_nano cost;

	if (billing_cost(req->model, &u, &cost) != 0) {
		log_warnx("model %s: usage that does not add up; no cost",
		    req->model->id);
		return;
	}
	request_header(req, "x-nextmodel-usage-source", source);
	request_header(req, "x-nextmodel-cost-usd",
	    money_format(cost, text, sizeof(text)));
}

/*
 * A stream's cost leaves after its headers: as an SSE comment just before
 * [DONE], which SDKs ignore (mu held).
 */
static void
stream_done(struct request *req)
{
	struct usage u;
	char text[MONEY_STRLEN], line[96];
	nm_nano cost;

	(void)billed_usage(req, 0, &u);
	if (billing_cost(req->model, &u, &cost) == 0) {
		snprintf(line, sizeof(line), "x-nextmodel-cost-usd: %s",
		    money_format(cost, text, sizeof(text)));
		sse_write_comment(&req->out, line);
	}
	buf_appends(&req->out, "data: [DONE]\n\n");
	req->finished = 1;
}

/* --- chat completions: engine callbacks (engine thread) -------------- */

/* One event of the source's stream, through the provider. */
static int
on_sse_event(void *arg, const struct sse_event *ev)
{
	struct request *req = arg;
	struct errinfo err;

	memset(&err, 0, sizeof(err));
	if (req->ops->chat_event(&req->pctx, ev, &req->out, &err) != 0) {
		stream_error(req, &err);
		return -1;
	}
	if (req->out.toobig) {
		provider_err(&err, 502, "upstream_error", "upstream_error",
		    "the source sent more than the gateway can hold");
		stream_error(req, &err);
		return -1;
	}
	return 0;
}

static void
on_headers(void *arg, const struct upstream_meta *meta)
{
	struct request *req = arg;

	pthread_mutex_lock(&req->mu);
	req->meta = *meta;
	req->up_status = meta->status;
	req->t_first_us = nm_mono_us();
	if (req->pctx.stream && meta->status >= 200 && meta->status < 300 &&
	    strncasecmp(meta->content_type, "text/event-stream", 17) == 0 &&
	    !req->gone && req->phase == REQ_WAITING) {
		req->status = req->metric_status = 200;
		request_header(req, "Content-Type", "text/event-stream");
		request_header(req, "Cache-Control", "no-cache");
		request_header(req, "X-Accel-Buffering", "no");
		req->phase = REQ_STREAM;
		req->t_out_us = nm_mono_us();
		wake(req);
	}
	pthread_mutex_unlock(&req->mu);
}

static int
on_data(void *arg, const char *p, size_t n)
{
	struct request *req = arg;
	struct errinfo err;
	int r = 0;

	pthread_mutex_lock(&req->mu);
	if (req->gone || req->finished) {
		r = -1;
		goto out;
	}
	if (req->phase != REQ_STREAM) {
		if (buf_append(&req->upbody, p, n) != 0)
			r = -1;
		goto out;
	}
	if (req->out.len > REQ_OUT_HIGH) {
		/*
		 * The client is behind: pause the source.  These bytes are not
		 * taken; curl hands them over again once resumed.
		 */
		req->paused = 1;
		r = 1;
		goto out;
	}
	if (sse_feed(&req->sse, p, n, on_sse_event, req) != 0) {
		if (!req->stream_failed) {
			provider_err(&err, 502, "upstream_error",
			    "upstream_error", "the source sent an event larger "
			    "than the gateway accepts");
			stream_error(req, &err);
		}
		r = -1;
	} else if (req->pctx.stream_over) {
		/* Some sources keep the connection open after the end. */
		stream_done(req);
		r = -1;
	}
	if (req->out.len > 0 || req->finished) {
		req->t_out_us = nm_mono_us();
		wake(req);
	}
out:
	pthread_mutex_unlock(&req->mu);
	return r;
}

/*
 * While a stream is quiet (a source thinking), send an SSE comment now
 * and then: it keeps proxies from closing the connection, and writing is
 * how a suspended connection notices that its client has gone.
 */
static void
on_tick(void *arg)
{
	struct request *req = arg;

	pthread_mutex_lock(&req->mu);
	if (req->phase == REQ_STREAM && !req->finished && !req->gone &&
	    nm_mono_us() - req->t_out_us >= REQ_PING_US &&
	    sse_write_comment(&req->out, "ping") == 0) {
		req->t_out_us = nm_mono_us();
		wake(req);
	}
	pthread_mutex_unlock(&req->mu);
}

/* The whole non-streaming answer is in: check it and answer (mu held). */
static void
finish_whole(struct request *req)
{
	struct errinfo err;
	struct buf out;
	int pass = 0;

	memset(&err, 0, sizeof(err));
	if (req->up_status < 200 || req->up_status >= 300) {
		req->ops->map_error(&req->pctx, req->up_status, req->upbody.data,
		    req->upbody.len, req->meta.retry_after, &err);
		respond_err(req, &err);
		return;
	}
	buf_init(&out, req->w->cfg->max_upstream_bytes + 65536);
	if ((req->embeddings ? req->ops->embed_decode :
	    req->ops->chat_decode)(&req->pctx, req->upbody.data,
	    req->upbody.len, &out, &pass, &err) != 0) {
		respond_err(req, &err);
	} else if (pass) {
		req->status = req->metric_status = 200;
		request_header(req, "Content-Type", "application/json");
		buf_free(&req->out);
		req->out = req->upbody;		/* hand the bytes over, no copy */
		buf_init(&req->upbody, 0);
		req->phase = REQ_RESPOND;
	} else {
		request_respond(req, 200, "application/json", out.data, out.len);
	}
	buf_free(&out);
	if (req->phase == REQ_RESPOND && req->status == 200)
		cost_headers(req, req->out.len);
}

static void
on_done(void *arg, enum upstream_result res, const char *msg)
{
	struct request *req = arg;
	struct errinfo err;

	memset(&err, 0, sizeof(err));
	pthread_mutex_lock(&req->mu);
	if (res == UPSTREAM_TIMEOUT)
		provider_err(&err, 504, "upstream_error", "upstream_timeout",
		    "The source of model '%s' timed out.", req->model->id);
	else if (res == UPSTREAM_FAILED)
		provider_err(&err, 502, "upstream_error", "upstream_error",
		    "Could not get an answer from the source of model '%s': %s.",
		    req->model->id, msg);
	else if (res == UPSTREAM_ABORTED)
		provider_err(&err, 502, "upstream_error", "upstream_error",
		    "The answer of the source of model '%s' was invalid or too "
		    "large.", req->model->id);
	else if (res == UPSTREAM_CANCELLED)
		provider_err(&err, 503, "server_error", "cancelled",
		    "The request was cancelled.");
	/* A stream we stopped reading after its last event did not fail. */
	if (res != UPSTREAM_OK && res != UPSTREAM_CANCELLED &&
	    !req->pctx.stream_over)
		metrics_upstream_error(req->w->metrics, req->prov->name);

	if (req->phase == REQ_STREAM) {
		if (req->finished || req->stream_failed)
			;
		else if (res == UPSTREAM_OK && req->pctx.saw_done)
			stream_done(req);
		else if (res == UPSTREAM_OK) {
			provider_err(&err, 502, "upstream_error",
			    "upstream_error", "The source ended the stream "
			    "before it was complete.");
			stream_error(req, &err);
		} else
			stream_error(req, &err);
		req->finished = 1;
	} else if (req->phase == REQ_WAITING) {
		if (res == UPSTREAM_OK)
			finish_whole(req);
		else
			respond_err(req, &err);
	}
	wake(req);
	pthread_mutex_unlock(&req->mu);
	request_unref(req);		/* the engine's reference */
}

static const struct upstream_cb chat_cb = { on_headers, on_data, on_done,
    on_tick };

/* --- chat completions: the handler ------------------------------------ */

/*
 * What every JSON endpoint starts with: authenticate, then parse the body
 * within the configured limits.  0, or -1 after answering 401/400.
 */
static int
begin_json(struct request *req, struct json *j)
{
	const struct config *cfg = req->w->cfg;
	struct json_limits lim;
	char emsg[256];

	memset(j, 0, sizeof(*j));
	if (authenticate(req) != 0)
		return -1;
	lim.max_depth = cfg->max_json_depth;
	lim.max_tokens = cfg->max_json_tokens;
	if (json_parse(j, req->body.data != NULL ? req->body.data : "",
	    req->body.len, &lim, emsg, sizeof(emsg)) != 0) {
		request_error(req, 400, "invalid_request_error", NULL, NULL,
		    "We could not parse the JSON body of your request: %s", emsg);
		return -1;
	}
	return 0;
}

/* The provider's per-call state for the model chosen. */
static void
ctx_init(struct request *req)
{
	req->pctx.prov = req->prov;
	req->pctx.model = req->model;
	req->pctx.created = (int64_t)time(NULL);
	memcpy(req->pctx.request_id, req->id, sizeof(req->pctx.request_id));
	req->pctx.lim.max_depth = 256;
	req->pctx.lim.max_tokens = 4 * 1024 * 1024;
}

/*
 * Hand the encoded call to the engine with the source's timeouts; the
 * connection waits for on_headers/on_done.  ur is freed by the caller.
 */
static void
submit(struct request *req, struct upstream_req *ur)
{
	struct upstream_call *c;

	ur->connect_timeout_ms = req->prov->connect_timeout_ms;
	if (req->pctx.stream) {
		ur->timeout_ms = 0;
		ur->idle_timeout_ms = req->prov->idle_timeout_ms;
	} else {
		ur->timeout_ms = req->prov->timeout_ms;
		ur->idle_timeout_ms = 0;
	}
	req->phase = REQ_WAITING;
	request_ref(req);			/* the engine's */
	if ((c = upstream_submit(req->w->up, ur, &chat_cb, req)) == NULL) {
		request_unref(req);
		request_error(req, 503, "server_error", "shutting_down", NULL,
		    "The gateway is shutting down; retry.");
		return;
	}
	pthread_mutex_lock(&req->mu);
	req->call = c;
	pthread_mutex_unlock(&req->mu);
}

void
request_chat(struct request *req)
{
	struct json j;
	struct upstream_req ur;
	struct errinfo err;

	memset(&ur, 0, sizeof(ur));
	memset(&err, 0, sizeof(err));
	request_header(req, "x-nextmodel-serve-mode", "fresh");
	if (begin_json(req, &j) != 0)
		goto out;
	if (chat_validate(req, &j) != 0)
		goto out;
	ctx_init(req);
	if (req->ops->chat_encode(&req->pctx, &j, &ur, &err) != 0) {
		respond_err(req, &err);
		goto out;
	}
	submit(req, &ur);
out:
	upstream_req_free(&ur);
	json_free(&j);
}

/* --- embeddings ---------------------------------------------------------- */

#define EMBED_MAX_ITEMS	2048

/* The kind of one element of an input array. */
enum input_kind { IN_TEXT = 1, IN_TOKENS, IN_TOKEN_LISTS };

/* 1 if t is an array of non-negative integers (token ids), non-empty. */
static int
token_list(const struct json *j, int t)
{
	int64_t v;
	int i, x;

	if (json_type(j, t) != JSON_ARRAY || json_size(j, t) == 0)
		return 0;
	for (i = 0, x = t + 1; i < json_size(j, t); i++, x = json_skip(j, x))
		if (json_int64(j, x, &v) != 0 || v < 0)
			return 0;
	return 1;
}

/*
 * input: a string, an array of strings, of token ids, or of token-id
 * arrays; not empty, at most 2048 items, no empty string.  0, or -1
 * after answering 400.
 */
static int
check_input(struct request *req, const struct json *j)
{
	enum input_kind kind = 0, k;
	int in, i, x;
	int64_t v;
	size_t len;

	if ((in = json_get(j, 0, "input")) < 0) {
		request_error(req, 400, "invalid_request_error", NULL, "input",
		    "you must provide an input parameter");
		return -1;
	}
	if (json_type(j, in) == JSON_STRING) {
		json_ptr(j, in, &len);
		if (len > 0)
			return 0;
		request_error(req, 400, "invalid_request_error", NULL, "input",
		    "'input' cannot be an empty string");
		return -1;
	}
	if (json_type(j, in) != JSON_ARRAY || json_size(j, in) == 0 ||
	    json_size(j, in) > EMBED_MAX_ITEMS) {
		request_error(req, 400, "invalid_request_error", NULL, "input",
		    "'input' must be a non-empty string or an array of 1 to %d "
		    "strings, token ids or token-id arrays", EMBED_MAX_ITEMS);
		return -1;
	}
	for (i = 0, x = in + 1; i < json_size(j, in); i++, x = json_skip(j, x)) {
		len = 1;
		if (json_type(j, x) == JSON_STRING) {
			k = IN_TEXT;
			json_ptr(j, x, &len);
		} else if (json_type(j, x) == JSON_NUMBER) {
			k = IN_TOKENS;
			if (json_int64(j, x, &v) != 0 || v < 0)
				goto bad;
		} else
			k = IN_TOKEN_LISTS;
		if (len == 0 || (kind != 0 && k != kind) ||
		    (k == IN_TOKEN_LISTS && !token_list(j, x)))
			goto bad;
		kind = k;
	}
	return 0;
bad:
	request_error(req, 400, "invalid_request_error", NULL, "input",
	    "input[%d] is invalid: 'input' must be non-empty strings, token "
	    "ids or token-id arrays, all of one kind", i);
	return -1;
}

/*
 * Check an embeddings body and the model.  0, or -1 after answering.
 * Fills model/prov/ops and the base64 flag.
 */
static int
embed_validate(struct request *req, const struct json *j)
{
	char name[256];
	int ef, dm;
	int64_t v;

	if (body_model(req, j, name, sizeof(name)) != 0)
		return -1;
	if (check_input(req, j) != 0)
		return -1;
	req->pctx.embed_base64 = 0;
	if ((ef = json_get(j, 0, "encoding_format")) >= 0 &&
	    json_type(j, ef) != JSON_NULL) {
		if (json_streq(j, ef, "base64"))
			req->pctx.embed_base64 = 1;
		else if (!json_streq(j, ef, "float")) {
			request_error(req, 400, "invalid_request_error", NULL,
			    "encoding_format", "'encoding_format' must be "
			    "'float' or 'base64'");
			return -1;
		}
	}
	if ((dm = json_get(j, 0, "dimensions")) >= 0 &&
	    json_type(j, dm) != JSON_NULL &&
	    (json_int64(j, dm, &v) != 0 || v < 1 || v > 1000000)) {
		request_error(req, 400, "invalid_request_error", NULL,
		    "dimensions", "'dimensions' must be a positive integer");
		return -1;
	}
	if (resolve_model(req, name) != 0)
		return -1;
	if (!(req->model->caps & CAP_EMBEDDINGS)) {
		request_error(req, 400, "invalid_request_error",
		    "model_not_supported", "model", "The model '%s' is not an "
		    "embeddings model; use /v1/chat/completions.",
		    req->model->id);
		return -1;
	}
	if (find_ops(req) != 0)
		return -1;
	if (req->ops->embed_encode == NULL || req->ops->embed_decode == NULL) {
		request_error(req, 400, "invalid_request_error",
		    "model_not_supported", "model", "model %s does not support "
		    "embeddings", req->model->id);
		return -1;
	}
	return check_key(req);
}

/* POST /v1/embeddings: the chat path, without streams. */
void
request_embeddings(struct request *req)
{
	struct json j;
	struct upstream_req ur;
	struct errinfo err;

	memset(&ur, 0, sizeof(ur));
	memset(&err, 0, sizeof(err));
	request_header(req, "x-nextmodel-serve-mode", "fresh");
	if (begin_json(req, &j) != 0)
		goto out;
	if (embed_validate(req, &j) != 0)
		goto out;
	req->embeddings = 1;
	ctx_init(req);
	/* Vectors are many numbers: allow what an answer can hold. */
	req->pctx.lim.max_tokens = (int)NM_MIN(req->w->cfg->max_upstream_bytes / 2,
	    (size_t)INT32_MAX);
	if (req->ops->embed_encode(&req->pctx, &j, &ur, &err) != 0) {
		respond_err(req, &err);
		goto out;
	}
	submit(req, &ur);
out:
	upstream_req_free(&ur);
	json_free(&j);
}

/* --- quotes -------------------------------------------------------------- */

/*
 * POST /v1/quotes: a chat body in, every catalog model able to serve it
 * ranked by expected cost (then latency), and the others with the reason.
 * No source is called.
 */
void
request_quotes(struct request *req)
{
	struct quote_opts o;
	struct estimate est;
	struct quote q;
	struct json j;
	struct buf b;
	char name[256], emsg[256];
	int mt;

	memset(&q, 0, sizeof(q));
	buf_init(&b, 0);
	if (begin_json(req, &j) != 0)
		goto out;
	if (estimate_chat(&j, &est, emsg, sizeof(emsg)) != 0) {
		request_error(req, 400, "invalid_request_error", NULL, NULL,
		    "%s", emsg);
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.sort = QUOTE_SORT_PRICE;
	o.region = -1;
	if ((mt = json_get(&j, 0, "model")) >= 0 &&
	    json_type(&j, mt) != JSON_NULL) {
		if (json_type(&j, mt) != JSON_STRING ||
		    json_strcpy(&j, mt, name, sizeof(name)) != 0) {
			request_error(req, 400, "invalid_request_error", NULL,
			    "model", "'model' must be a string of at most 255 "
			    "bytes");
			goto out;
		}
		o.model = name;
	}
	if (quote_build(req->w->cfg->catalog, &est, &o, &q) != 0 ||
	    quote_write_json(&q, &b) != 0) {
		request_error(req, 500, "server_error", NULL, NULL,
		    "out of memory");
		goto out;
	}
	request_respond(req, 200, "application/json", b.data, b.len);
out:
	quote_free(&q);
	buf_free(&b);
	json_free(&j);
}

/* --- life cycle -------------------------------------------------------- */

/* Route the finished body to its handler. */
void
request_dispatch(struct request *req)
{
	log_set_request(req->id);
	if (req->body_toobig)
		request_too_large(req);
	else
		req->handler(req);
	log_set_request(NULL);
}

/* http.c took output: let a paused source go on once the client caught up. */
void
request_output_taken(struct request *req)
{
	if (req->paused && req->out.len < REQ_OUT_LOW && req->call != NULL) {
		req->paused = 0;
		upstream_resume(req->w->up, req->call);
	}
}

/* The worker is going down: end a request that still waits (mu held). */
void
request_force_end(struct request *req)
{
	struct errinfo err;

	provider_err(&err, 503, "server_error", "shutting_down",
	    "The gateway is shutting down; retry.");
	if (req->phase == REQ_WAITING)
		respond_err(req, &err);
	else if (req->phase == REQ_STREAM && !req->finished)
		stream_error(req, &err);
	req->close = 1;
	wake(req);
}

/* The connection is done with this request (sent, or the client left). */
void
request_complete(struct request *req, int client_aborted)
{
	int64_t dur;
	int status;

	pthread_mutex_lock(&req->mu);
	req->gone = 1;
	if (req->call != NULL)
		upstream_cancel(req->w->up, req->call);
	status = req->metric_status ? req->metric_status : 499;
	if (client_aborted && req->phase != REQ_RESPOND &&
	    !(req->phase == REQ_STREAM && req->finished))
		status = 499;
	pthread_mutex_unlock(&req->mu);

	dur = nm_mono_us() - req->t_start_us;
	metrics_request(req->w->metrics, status,
	    req->model != NULL ? req->model->id : "",
	    req->model != NULL ? req->model->provider : "", dur);
	log_set_request(req->id);
	/* Who and what, never the key itself: its id and project. */
	log_info("%s %.200s %d %lldms%s%s%s%s%s%s", req->method, req->path,
	    status, (long long)(dur / 1000),
	    req->model != NULL ? " model=" : "",
	    req->model != NULL ? req->model->id : "",
	    req->key.id[0] != '\0' ? " key=" : "", req->key.id,
	    req->key.project[0] != '\0' ? " project=" : "", req->key.project);
	log_set_request(NULL);
	request_unref(req);
}
