/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A request's outcome: what it used and cost, computed once, and when the
 * answer is final its signed receipt, handed to the Redis thread to be
 * stored (the settle step).  Called with the request's mutex held, from
 * whichever thread makes the answer final: libmicrohttpd's for answers
 * given before a source is called, the engine's for the source's answers.
 */
#include <stdio.h>
#include <string.h>

#include "nextmodel.h"
#include "billing.h"
#include "catalog.h"
#include "config.h"
#include "estimate.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "request.h"
#include "rthread.h"
#include "worker.h"

/*
 * Price the call: the source's usage, or (when it reported none) an
 * estimate from the sizes of the request and of the answer, said as such.
 */
void
outcome_price(struct request *req, size_t answer_len)
{
	struct outcome *oc = &req->oc;
	struct usage *u = &oc->usage;

	if (oc->priced || req->model == NULL)
		return;
	*u = req->pctx.usage;
	oc->usage_source = "upstream";
	if (!u->have) {
		oc->usage_source = "estimated";
		if (u->prompt_tokens == 0 && u->completion_tokens == 0) {
			u->prompt_tokens = estimate_text(req->body.len);
			u->completion_tokens = req->embeddings ? 0 :
			    estimate_text(answer_len);
			u->total_tokens = u->prompt_tokens +
			    u->completion_tokens;
		}
	}
	if (billing_cost(req->model, u, &oc->cost) != 0) {
		log_warnx("model %s: usage that does not add up; billed as "
		    "nothing", req->model->id);
		memset(u, 0, sizeof(*u));
		oc->usage_source = "none";
		oc->cost = 0;
		return;
	}
	oc->fresh_cost = oc->cost;
	oc->saved = 0;
	oc->billing_basis = "list_price";
	oc->priced = 1;
}

/* Sign the receipt of a final outcome into line; 0 or -1. */
static int
make_receipt(struct request *req, struct buf *line)
{
	const struct outcome *oc = &req->oc;
	struct receipt_attempt ra[REQ_MAX_ATTEMPTS];
	struct receipt r;
	int i;

	memset(&r, 0, sizeof(r));
	memcpy(r.id, req->receipt_id, sizeof(r.id));
	memcpy(r.request_id, req->id, sizeof(r.request_id));
	r.created_ms = req->created_ms;
	r.key_id = req->key.id;
	r.project = req->key.project;
	r.team = req->key.team[0] != '\0' ? req->key.team : NULL;
	r.workload = req->workload[0] != '\0' ? req->workload : NULL;
	r.endpoint = req->path;
	r.model_requested = req->facts.model[0] != '\0' ? req->facts.model :
	    NULL;
	r.model = req->model != NULL ? req->model->id : NULL;
	r.provider = req->model != NULL ? req->model->provider : NULL;
	r.serve_mode = oc->serve_mode != NULL ? oc->serve_mode : "fresh";
	r.stream = req->pctx.stream;
	r.status = oc->status;
	r.error_code = oc->error_code[0] != '\0' ? oc->error_code : NULL;
	r.prompt_tokens = oc->usage.prompt_tokens;
	r.completion_tokens = oc->usage.completion_tokens;
	r.total_tokens = oc->usage.total_tokens;
	r.cached_tokens = oc->usage.cached_tokens;
	r.usage_source = oc->usage_source;
	r.billing_basis = oc->billing_basis;
	r.cost = oc->cost;
	r.fresh_cost = oc->fresh_cost;
	r.saved = oc->saved;
	r.latency_ms = (oc->t_end_us - req->t_start_us) / 1000;
	r.ttfb_ms = req->t_first_us > 0 ?
	    (req->t_first_us - req->t_start_us) / 1000 : -1;
	r.upstream_request_id = req->meta.request_id[0] != '\0' ?
	    req->meta.request_id : NULL;
	r.cache_key = req->cache.on ? req->cache.key[req->cache.hit == 2] :
	    NULL;
	r.policy_rule = req->decision != NULL ? req->decision->rule : NULL;
	for (i = 0; i < req->nattempts; i++) {
		ra[i].model = req->attempts[i].model;
		ra[i].provider = req->attempts[i].provider;
		ra[i].status = req->attempts[i].status;
		ra[i].latency_ms = req->attempts[i].latency_ms;
	}
	r.attempts = ra;
	r.nattempts = req->nattempts;
	return receipt_write(&r, req->w->receipt_key, line);
}

/* The answer is final: close the outcome, sign and settle the receipt. */
void
outcome_close(struct request *req, int status, const char *error_code)
{
	struct outcome *oc = &req->oc;
	struct rjob *j;
	struct buf line;
	char text[MONEY_STRLEN];

	if (oc->closed)
		return;
	oc->closed = 1;
	oc->status = status;
	oc->t_end_us = nm_mono_us();
	if (error_code != NULL && status >= 400)
		snprintf(oc->error_code, sizeof(oc->error_code), "%s",
		    error_code);
	if (!oc->priced) {
		oc->usage_source = "none";
		oc->billing_basis = "none";
	}
	/* A whole answer still has its headers to send. */
	if (req->phase == REQ_RESPOND && status >= 200 && status < 300 &&
	    oc->priced) {
		request_header(req, "x-nextmodel-usage-source", oc->usage_source);
		request_header(req, "x-nextmodel-cost-usd",
		    money_format(oc->cost, text, sizeof(text)));
	}
	if ((j = rjob_new(NULL, NULL)) == NULL) {
		log_warnx("receipt %s lost: out of memory", req->receipt_id);
		metrics_count(req->w->metrics, MC_RECEIPTS_LOST, 1);
		return;
	}
	if (req->w->cfg->receipts) {
		buf_init(&line, RECEIPT_MAX_LINE);
		if (make_receipt(req, &line) != 0 ||
		    rjob_receipt(j, line.data, line.len) != 0) {
			log_warnx("receipt %s: cannot be written",
			    req->receipt_id);
			metrics_count(req->w->metrics, MC_RECEIPTS_LOST, 1);
		} else {
			receipt_hash(line.data, line.len, oc->receipt_hash);
			metrics_count(req->w->metrics, MC_RECEIPTS, 1);
			if (req->phase == REQ_RESPOND)
				request_header(req, "x-nextmodel-receipt-hash",
				    oc->receipt_hash);
		}
		buf_free(&line);
	}
	/* The answer to keep: a whole one, or a fresh stream rebuilt. */
	if (req->phase == REQ_RESPOND && !req->cache.sse_replay)
		cache_settle(req, j, req->out.data, req->out.len);
	else if (req->cache.answer.len > 0)
		cache_settle(req, j, req->cache.answer.data,
		    req->cache.answer.len);
	/* After the entry: requests waiting for this answer find it. */
	cache_release(req, j);
	/* The reservation out, the billed cost in. */
	admit_settle(req);
	/* What each attempt says of its source's speed and health. */
	health_record(req, j);
	if (j->ncmds == 0 && j->receipt == NULL)
		rjob_free(j);
	else
		rthread_submit(req->w->rt, j);
}
