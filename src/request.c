/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A request's life and its pipeline runner (request.h).  Runs on
 * libmicrohttpd's threads; request_continue, request_wake and the answer
 * helpers are also called by the engine and Redis threads with mu held.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nextmodel.h"
#include "config.h"
#include "crypto.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "rthread.h"
#include "worker.h"

/* A new request with one reference (http.c's).  NULL on OOM. */
struct request *
request_new(struct worker *w)
{
	struct request *req;
	unsigned char rnd[12];
	const struct config *cfg = w->cfg;
	struct timespec ts;

	if ((req = calloc(1, sizeof(*req))) == NULL)
		return NULL;
	if (crypto_random(rnd, sizeof(rnd)) != 0 ||
	    receipt_new_id(req->receipt_id, sizeof(req->receipt_id)) != 0) {
		free(req);
		return NULL;
	}
	pthread_mutex_init(&req->mu, NULL);
	atomic_init(&req->refs, 1);
	req->w = w;
	memcpy(req->id, "req_", 4);
	crypto_hex(rnd, sizeof(rnd), req->id + 4);
	req->t_start_us = nm_mono_us();
	clock_gettime(CLOCK_REALTIME, &ts);
	req->created_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	buf_init(&req->body, cfg->max_body_bytes);
	buf_init(&req->out, cfg->max_upstream_bytes + 65536);
	buf_init(&req->upbody, cfg->max_upstream_bytes);
	buf_init(&req->fetched, 16 * 1024 * 1024);
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
	if (req->pctx_ops != NULL && req->pctx_ops->ctx_free != NULL)
		req->pctx_ops->ctx_free(&req->pctx);
	if (req->authorization != NULL) {
		crypto_cleanse(req->authorization, strlen(req->authorization));
		free(req->authorization);
	}
	json_free(&req->json);
	free(req->decision);
	cache_request_free(req);
	if (req->own_key != NULL) {
		crypto_cleanse(req->own_key, strlen(req->own_key));
		free(req->own_key);
	}
	buf_free(&req->body);
	buf_free(&req->out);
	buf_free(&req->upbody);
	buf_free(&req->fetched);
	sse_parser_free(&req->sse);
	pthread_mutex_destroy(&req->mu);
	free(req);
}

/* The URL query argument name, or NULL. */
const char *
request_arg(const struct request *req, const char *name)
{
	int i;

	for (i = 0; i < req->nargs; i++)
		if (strcmp(req->args[i].name, name) == 0)
			return req->args[i].value;
	return NULL;
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

/* Set a response header, replacing one of the same name. */
void
request_set_header(struct request *req, const char *name, const char *value)
{
	int i;

	for (i = 0; i < req->nhdr; i++)
		if (strcasecmp(req->hdr[i].name, name) == 0) {
			snprintf(req->hdr[i].value, sizeof(req->hdr[i].value),
			    "%s", value);
			return;
		}
	request_header(req, name, value);
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
int
request_error_json(struct buf *out, const struct errinfo *err)
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
void
request_respond_err(struct request *req, const struct errinfo *err)
{
	struct buf b;

	buf_init(&b, 8192);
	if (request_error_json(&b, err) != 0) {
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

/* A stage's error answer. */
enum stage
stage_fail(struct request *req, int status, const char *type,
    const char *code, const char *param, const char *fmt, ...)
{
	va_list ap;

	errinfo_set(&req->err, status, type, code, param, "%s", "");
	va_start(ap, fmt);
	vsnprintf(req->err.message, sizeof(req->err.message), fmt, ap);
	va_end(ap);
	req->has_err = 1;
	return STAGE_ANSWERED;
}

/* Hand j to the Redis thread; the connection waits for its done(). */
enum stage
request_wait_redis(struct request *req, struct rjob *j)
{
	request_ref(req);
	pthread_mutex_lock(&req->mu);
	req->phase = REQ_WAITING;
	pthread_mutex_unlock(&req->mu);
	rthread_submit(req->w->rt, j);
	return STAGE_WAIT;
}

/* Go on at stage fn (a route whose key check is optional skips it). */
void
stage_skip_to(struct request *req, stage_fn fn)
{
	int i;

	for (i = req->stage; i < req->pipe->nstages; i++)
		if (req->pipe->stages[i] == fn) {
			req->stage = i;
			return;
		}
}

/* Wake the connection if http.c suspended it (mu held). */
void
request_wake(struct request *req)
{
	if (req->wake != NULL)
		req->wake(req);
}

/*
 * Send what a stage answered: the one place a pipeline's answer leaves.
 * A billable request that passed authentication gets its receipt here
 * when it ends before any source is called.
 */
static void
answer(struct request *req)
{
	if (req->has_err)
		request_respond_err(req, &req->err);
	else if (req->phase != REQ_RESPOND)
		request_respond_err(req, &(struct errinfo){ .status = 500,
		    .type = "server_error", .message = "internal error" });
	if (req->pipe->billable && req->authed)
		outcome_close(req, req->status,
		    req->has_err ? req->err.code : NULL);
	/* A hit replayed as a stream ends like a fresh one. */
	if (req->cache.sse_replay && !req->has_err) {
		relay_stream_trailer(req);
		buf_appends(&req->out, "data: [DONE]\n\n");
	}
}

/* Run stages from the next one until one answers or waits. */
void
request_run(struct request *req)
{
	enum stage r = STAGE_NEXT;

	log_set_request(req->id);
	pthread_mutex_lock(&req->mu);
	req->phase = REQ_READING;
	pthread_mutex_unlock(&req->mu);
	if (req->body_toobig) {
		req->close = 1;
		stage_fail(req, 413, "invalid_request_error", "request_too_large",
		    NULL, "Request body is larger than the limit of %zu bytes",
		    req->w->cfg->max_body_bytes);
		r = STAGE_ANSWERED;
	}
	while (r == STAGE_NEXT && req->stage < req->pipe->nstages)
		r = req->pipe->stages[req->stage++](req);
	if (r != STAGE_WAIT) {
		pthread_mutex_lock(&req->mu);
		answer(req);
		pthread_mutex_unlock(&req->mu);
	}
	log_set_request(NULL);
}

/* Another thread's work is done (mu held): the next stage may run. */
void
request_continue(struct request *req)
{
	if (req->phase != REQ_WAITING || req->gone)
		return;
	req->phase = REQ_RUN;
	request_wake(req);
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

	errinfo_set(&err, 503, "server_error", "shutting_down", NULL,
	    "The gateway is shutting down; retry.");
	if (req->phase == REQ_WAITING) {
		request_respond_err(req, &err);
		if (req->pipe->billable && req->authed)
			outcome_close(req, 503, "shutting_down");
	} else if (req->phase == REQ_STREAM && !req->finished)
		relay_stream_error(req, &err);
	req->close = 1;
	request_wake(req);
}

/* The connection is done with this request (sent, or the client left). */
void
request_complete(struct request *req, int client_aborted)
{
	int64_t dur;
	int status;

	pthread_mutex_lock(&req->mu);
	req->gone = 1;
	/*
	 * The connection is finished (libmicrohttpd may have ended it while
	 * it was suspended, at a daemon stop): a late engine or Redis
	 * callback must never resume it.
	 */
	req->wake = NULL;
	req->suspended = 0;
	if (req->call != NULL)
		upstream_cancel(req->w->up, req->call);
	status = req->metric_status ? req->metric_status : 499;
	if (client_aborted && req->phase != REQ_RESPOND &&
	    !(req->phase == REQ_STREAM && req->finished))
		status = 499;
	/* A client that left still gets its receipt: what was used so far. */
	if (req->pipe != NULL && req->pipe->billable && req->authed &&
	    !req->oc.closed) {
		if (req->model != NULL)
			outcome_price(req, req->out.len);
		outcome_close(req, status, "client_closed");
	}
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
