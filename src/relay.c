/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * What the source sends back, turned into the client's answer: the
 * upstream engine's callbacks for a call.  Everything here runs on the
 * engine thread with the request's mutex held, and wakes the suspended
 * connection through http.c.  A stream is relayed event by event with
 * backpressure; a whole answer is checked, priced and answered at once.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nextmodel.h"
#include "assemble.h"
#include "catalog.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "request.h"
#include "worker.h"

/*
 * The outcome's figures as one block of SSE comment lines, the receipt's
 * hash last (mu held).  SDKs skip comments.
 */
void
relay_stream_trailer(struct request *req)
{
	char text[MONEY_STRLEN];
	int lines = 0;

	if (req->oc.priced) {
		buf_appendf(&req->out, ": x-nextmodel-cost-usd: %s\n",
		    money_format(req->oc.cost, text, sizeof(text)));
		lines++;
	}
	if (req->oc.receipt_hash[0] != '\0') {
		buf_appendf(&req->out, ": x-nextmodel-receipt-hash: %s\n",
		    req->oc.receipt_hash);
		lines++;
	}
	if (lines > 0)
		buf_appendc(&req->out, '\n');
}

/* Append an SSE error event ending a stream (mu held). */
void
relay_stream_error(struct request *req, const struct errinfo *err)
{
	struct buf b;

	if (req->stream_failed)
		return;
	req->stream_failed = 1;
	req->metric_status = err->status;
	outcome_price(req, 0);
	outcome_close(req, err->status, err->code[0] ? err->code :
	    "stream_error");
	relay_stream_trailer(req);
	buf_init(&b, 8192);
	if (request_error_json(&b, err) == 0)
		sse_write_data(&req->out, b.data, b.len);
	buf_free(&b);
	req->finished = 1;
}

/*
 * A fresh stream's whole answer, for the cache: kept only if complete
 * (every choice finished, nothing filtered or cut short), with the
 * boundaries of its chunks when they were kept.  mu held.
 */
static void
stream_answer(struct request *req)
{
	int complete = 0;

	if (req->cache.asm_ == NULL)
		return;
	buf_init(&req->cache.answer, req->w->cfg->cache_max_entry_bytes + 65536);
	buf_init(&req->cache.pieces, CACHE_MAX_PIECES * CACHE_PIECE_LEN);
	if (assemble_feed(req->cache.asm_, "data: [DONE]\n\n", 14) != 0 ||
	    assemble_result(req->cache.asm_, &req->oc.usage, &req->cache.answer,
	    &complete) != 0 || !complete)
		buf_free(&req->cache.answer);
	else if (assemble_pieces(req->cache.asm_, &req->cache.pieces) != 0)
		buf_free(&req->cache.pieces);
	assemble_free(req->cache.asm_);
	req->cache.asm_ = NULL;
}

/* The stream ended well: its figures, then [DONE] (mu held). */
static void
stream_done(struct request *req)
{
	outcome_price(req, 0);
	stream_answer(req);
	outcome_close(req, 200, NULL);
	relay_stream_trailer(req);
	buf_appends(&req->out, "data: [DONE]\n\n");
	req->finished = 1;
}

/* One event of the source's stream, through the provider. */
static int
on_sse_event(void *arg, const struct sse_event *ev)
{
	struct request *req = arg;
	struct errinfo err;
	size_t before = req->out.len;

	memset(&err, 0, sizeof(err));
	if (req->ops->chat_event(&req->pctx, ev, &req->out, &err) != 0) {
		relay_stream_error(req, &err);
		return -1;
	}
	/* What the client gets, also rebuilt whole for the cache. */
	if (req->cache.asm_ != NULL && req->out.len > before &&
	    assemble_feed(req->cache.asm_, req->out.data + before,
	    req->out.len - before) != 0) {
		assemble_free(req->cache.asm_);
		req->cache.asm_ = NULL;
	}
	if (req->out.toobig) {
		provider_err(&err, 502, "upstream_error", "upstream_error",
		    "the source sent more than the gateway can hold");
		relay_stream_error(req, &err);
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
		request_wake(req);
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
			relay_stream_error(req, &err);
		}
		r = -1;
	} else if (req->pctx.stream_over) {
		/* Some sources keep the connection open after the end. */
		stream_done(req);
		r = -1;
	}
	if (req->out.len > 0 || req->finished) {
		req->t_out_us = nm_mono_us();
		request_wake(req);
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
	/* A client that left while the source works: stop paying for it. */
	if (req->phase == REQ_WAITING && !req->gone && !req->client_left &&
	    req->client_closed != NULL && req->client_closed(req) &&
	    req->call != NULL) {
		req->client_left = 1;
		upstream_cancel(req->w->up, req->call);
	}
	if (req->phase == REQ_STREAM && !req->finished && !req->gone &&
	    nm_mono_us() - req->t_out_us >= REQ_PING_US &&
	    sse_write_comment(&req->out, "ping") == 0) {
		req->t_out_us = nm_mono_us();
		request_wake(req);
	}
	pthread_mutex_unlock(&req->mu);
}

/* An error answer to a call that is over (mu held). */
static void
whole_error(struct request *req, const struct errinfo *err)
{
	request_respond_err(req, err);
	outcome_close(req, err->status, err->code[0] ? err->code : NULL);
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
		whole_error(req, &err);
		return;
	}
	buf_init(&out, req->w->cfg->max_upstream_bytes + 65536);
	if ((req->embeddings ? req->ops->embed_decode :
	    req->ops->chat_decode)(&req->pctx, req->upbody.data,
	    req->upbody.len, &out, &pass, &err) != 0) {
		whole_error(req, &err);
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
	if (req->phase == REQ_RESPOND && req->status == 200) {
		outcome_price(req, req->out.len);
		outcome_close(req, 200, NULL);
	}
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
	else if (res == UPSTREAM_CANCELLED && req->client_left)
		provider_err(&err, 499, "invalid_request_error",
		    "client_closed", "The client closed the connection.");
	else if (res == UPSTREAM_CANCELLED)
		provider_err(&err, 503, "server_error", "cancelled",
		    "The request was cancelled.");
	/* A stream we stopped reading after its last event did not fail. */
	if (res != UPSTREAM_OK && res != UPSTREAM_CANCELLED &&
	    !req->pctx.stream_over)
		metrics_upstream_error(req->w->metrics, req->prov->name);
	/*
	 * Nothing reached the client yet and the source failed (429, 5xx,
	 * a timeout, no connection): the next target, if the rule has one.
	 */
	if (req->phase == REQ_WAITING && !req->gone &&
	    (res == UPSTREAM_TIMEOUT || res == UPSTREAM_FAILED ||
	    (res == UPSTREAM_OK && (req->up_status == 429 ||
	    req->up_status >= 500))) &&
	    request_next_target(req, res == UPSTREAM_OK ?
	    (int)req->up_status : 0) == 0) {
		pthread_mutex_unlock(&req->mu);
		request_unref(req);	/* the failed call's reference */
		return;
	}
	/* The attempt that ends the request, for the receipt. */
	if (req->nattempts < REQ_MAX_ATTEMPTS && req->model != NULL &&
	    (req->nattempts == 0 ||
	    req->attempts[req->nattempts - 1].model != req->model->id)) {
		req->attempts[req->nattempts].model = req->model->id;
		req->attempts[req->nattempts].provider = req->model->provider;
		req->attempts[req->nattempts].status = res == UPSTREAM_OK ?
		    (int)req->up_status : 0;
		/* An answer's speed is its time to first byte. */
		req->attempts[req->nattempts].latency_ms = ((req->t_first_us >
		    req->t_attempt_us ? req->t_first_us : nm_mono_us()) -
		    req->t_attempt_us) / 1000;
		req->attempts[req->nattempts].total_ms = (nm_mono_us() -
		    req->t_attempt_us) / 1000;
		req->nattempts++;
	}

	if (req->phase == REQ_STREAM) {
		if (req->finished || req->stream_failed)
			;
		else if (res == UPSTREAM_OK && req->pctx.saw_done)
			stream_done(req);
		else if (res == UPSTREAM_OK) {
			provider_err(&err, 502, "upstream_error",
			    "upstream_error", "The source ended the stream "
			    "before it was complete.");
			relay_stream_error(req, &err);
		} else
			relay_stream_error(req, &err);
		req->finished = 1;
	} else if (req->phase == REQ_WAITING) {
		if (res == UPSTREAM_OK)
			finish_whole(req);
		else
			whole_error(req, &err);
	}
	request_wake(req);
	pthread_mutex_unlock(&req->mu);
	request_unref(req);		/* the engine's reference */
}

const struct upstream_cb relay_cb = { on_headers, on_data, on_done, on_tick };
