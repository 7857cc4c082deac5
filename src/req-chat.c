/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The stages of /v1/chat/completions and /v1/embeddings after the key:
 * the request's facts, the model and its source, the call handed to the
 * upstream engine.  Runs on libmicrohttpd's threads; what the source
 * sends back is relay.c's.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nextmodel.h"
#include "assemble.h"
#include "catalog.h"
#include "byok.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "request.h"
#include "rthread.h"
#include "worker.h"

/* The facts of a chat body. */
static enum stage
st_chat_facts(struct request *req)
{
	if (facts_chat(&req->json, &req->facts, &req->err) != 0) {
		req->has_err = 1;
		return STAGE_ANSWERED;
	}
	req->pctx.stream = req->facts.stream;
	req->pctx.client_usage = req->facts.client_usage;
	return STAGE_NEXT;
}

/* The facts of an embeddings body. */
static enum stage
st_embed_facts(struct request *req)
{
	if (facts_embeddings(&req->json, &req->facts, &req->err) != 0) {
		req->has_err = 1;
		return STAGE_ANSWERED;
	}
	req->embeddings = 1;
	req->pctx.embed_base64 = req->facts.embed_base64;
	return STAGE_NEXT;
}

/*
 * Make target i of the decision the current one: its model, source and
 * wire format.  0, or -1 with req->err.
 */
static int
select_target(struct request *req, int i)
{
	const struct config *cfg = req->w->cfg;
	const struct policy_target *t = &req->decision->targets[i];
	const struct model *m = t->model;

	req->target = i;
	req->model = m;
	req->prov = config_provider(cfg, t->provider);
	if (req->prov == NULL ||
	    (req->ops = provider_ops(req->prov->kind)) == NULL) {
		errinfo_set(&req->err, 501, "server_error", "not_implemented",
		    NULL, "The source of model '%s' speaks a wire format this "
		    "gateway version cannot call yet.", m->id);
		return -1;
	}
	if (req->embeddings && (req->ops->embed_encode == NULL ||
	    req->ops->embed_decode == NULL)) {
		errinfo_set(&req->err, 400, "invalid_request_error",
		    "model_not_supported", "model", "model %s does not support "
		    "embeddings", m->id);
		return -1;
	}
	return 0;
}

/*
 * Sources on a cool-down (they failed again and again, on any worker)
 * are passed over, unless every target is on one: then all are tried.
 */
static void
skip_cooling(struct request *req)
{
	struct policy_decision *d = req->decision;
	size_t i, n = 0;

	for (i = 0; i < d->ntargets; i++)
		if (!health_cooling(req->w, d->targets[i].provider))
			n++;
	if (n == 0 || n == d->ntargets)
		return;
	for (i = 0, n = 0; i < d->ntargets; i++) {
		if (health_cooling(req->w, d->targets[i].provider)) {
			log_info("source %s is cooling down: %s passed over",
			    d->targets[i].provider, d->targets[i].model->id);
			continue;
		}
		d->targets[n++] = d->targets[i];
	}
	d->ntargets = n;
}

/*
 * The key may be limited to some models and sources: keep only the
 * targets it allows.  0, or -1 when none is left.
 */
static int
key_scope(struct request *req)
{
	struct policy_decision *d = req->decision;
	const struct key_record *k = &req->key;
	size_t i, n;

	if (k->models[0] == '\0' && k->sources[0] == '\0')
		return 0;
	for (i = 0, n = 0; i < d->ntargets; i++) {
		if (!auth_list_allows(k->sources, d->targets[i].provider) ||
		    (!auth_list_allows(k->models, d->targets[i].model->id) &&
		    !auth_list_allows(k->models, req->facts.model)))
			continue;
		d->targets[n++] = d->targets[i];
	}
	d->ntargets = n;
	return n > 0 ? 0 : -1;
}

/* 1 if every candidate was dropped for want of a gateway key. */
static int
only_keyless(const struct policy_decision *d)
{
	size_t i;

	for (i = 0; i < d->ndropped; i++)
		if (d->dropped[i].why != POLICY_DROP_NO_KEY)
			return 0;
	return d->ndropped > 0;
}

/* A uniform draw in [0, 1) for a weighted split. */
static double
draw(void)
{
	uint32_t v = 0;

	(void)crypto_random(&v, sizeof(v));
	return (double)v / 4294967296.0;
}

/*
 * Decide: the routing policies (policies/) turn the request's facts, its
 * key and workload into the targets to try in order, the cache mode and
 * the limits.  Without a rule the model named is the one target.
 */
static enum stage
st_decide(struct request *req)
{
	const struct config *cfg = req->w->cfg;
	struct policy_input in;
	struct policy_decision *d;
	const struct policy_drop *dr;
	struct policy_latency lat[256];
	const char *keyed[64];
	char hint[CATALOG_HINT_MAX];
	size_t i, n;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	req->decision = d;
	memset(&in, 0, sizeof(in));
	in.facts = &req->facts;
	in.key_id = req->key.id;
	in.project = req->key.project;
	in.team = req->key.team;
	in.environment = req->key.environment;
	in.workload = req->workload;
	in.budget_used = admit_budget_used(req);
	in.draw = draw();
	in.latency = lat;
	in.nlatency = health_latency(req->w, lat, NM_NELEM(lat));
	/* Sources the gateway holds a key for: the others are dropped. */
	for (i = 0, n = 0; i < cfg->nproviders && n + 1 < NM_NELEM(keyed); i++)
		if (cfg->providers[i].api_key != NULL)
			keyed[n++] = cfg->providers[i].name;
	keyed[n] = NULL;
	in.keyed_providers = keyed;
	/*
	 * Nothing left but sources without a gateway key: the project may
	 * bring its own (looked up after Decide), so decide again without
	 * that filter; a source with no key at all is then a clear 502.
	 */
	if (policy_decide(cfg->policies, &in, d) == POLICY_NO_TARGET &&
	    only_keyless(d)) {
		in.keyed_providers = NULL;
		memset(d, 0, sizeof(*d));
	}
	if (in.keyed_providers == NULL)
		(void)policy_decide(cfg->policies, &in, d);
	switch (d->outcome) {
	case POLICY_OK:
		break;
	case POLICY_UNKNOWN_MODEL:
		return stage_fail(req, 404, "invalid_request_error",
		    "model_not_found", "model", "The model '%.128s' does not "
		    "exist or you do not have access to it.%s", req->facts.model,
		    catalog_hint(cfg->catalog, req->facts.model, hint,
		    sizeof(hint)));
	case POLICY_REFUSED:
		if (d->budget_step >= 0)
			return stage_fail(req, 402, "insufficient_quota",
			    "budget_exceeded", NULL, "%s", d->message);
		return stage_fail(req, 403, "invalid_request_error",
		    "policy_refused", NULL, "%s", d->message);
	default:
		/* One model that cannot serve it: the same 400 as ever. */
		dr = d->ndropped == 1 ? &d->dropped[0] : NULL;
		if (dr != NULL && dr->model != NULL &&
		    facts_fit(&req->facts.est, req->embeddings, dr->model,
		    &req->err, NULL, 0) != 0) {
			req->model = dr->model;
			req->has_err = 1;
			return STAGE_ANSWERED;
		}
		return stage_fail(req, 400, "invalid_request_error",
		    "no_model_available", "model", "%s", d->message[0] ?
		    d->message : "No model can serve this request.");
	}
	if (key_scope(req) != 0)
		return stage_fail(req, 403, "invalid_request_error",
		    "model_not_allowed", "model", "The model '%.128s' is not "
		    "allowed for this API key.", req->facts.model);
	skip_cooling(req);
	req->cache_mode = d->cache_mode == POLICY_CACHE_INHERIT ?
	    cfg->cache_mode : d->cache_mode;
	if (d->deadline_ms > 0)
		req->deadline_us = req->t_start_us + d->deadline_ms * 1000;
	if (select_target(req, 0) != 0) {
		req->has_err = 1;
		return STAGE_ANSWERED;
	}
	return STAGE_NEXT;
}

/* The project's own key came back from Redis (Redis thread). */
static void
own_key_done(struct rjob *j)
{
	struct request *req = j->arg;
	char key[BYOK_PLAIN_MAX + 1], use[BYOK_PLAIN_MAX + 1], err[160];
	int rc;

	key[0] = '\0';
	rc = j->failed ? -1 : byok_reply(&req->w->byok, req->key.project,
	    req->prov->name, j->reply[0], key, sizeof(key), err, sizeof(err));
	if (rc == BYOK_BROKEN)
		log_warnx("project %s: its key for %s: %s", req->key.project,
		    req->prov->name, err);
	rc = byok_cache_put(req->w->byok_cache, req->key.project,
	    req->prov->name, rc, key, use, sizeof(use));
	pthread_mutex_lock(&req->mu);
	req->own_rc = rc;
	if (rc == BYOK_FOUND && (req->own_key = strdup(use)) == NULL)
		req->own_rc = -1;
	request_continue(req);
	pthread_mutex_unlock(&req->mu);
	crypto_cleanse(key, sizeof(key));
	crypto_cleanse(use, sizeof(use));
	rjob_free(j);
	request_unref(req);
}

/*
 * Bring your own key: the project's own key for this source, from the
 * worker's cache or (on a miss) from Redis.
 */
static enum stage
st_own_key(struct request *req)
{
	char key[BYOK_PLAIN_MAX + 1], rkey[BYOK_REDIS_KEY_MAX];
	const char *argv[3];
	struct rjob *j;

	req->own_rc = BYOK_NONE;
	if (req->w->byok_cache == NULL || req->key.admin)
		return STAGE_NEXT;
	req->own_rc = byok_cache_get(req->w->byok_cache, req->key.project,
	    req->prov->name, key, sizeof(key));
	if (req->own_rc == BYOK_FOUND &&
	    (req->own_key = strdup(key)) == NULL)
		req->own_rc = -1;
	crypto_cleanse(key, sizeof(key));
	if (req->own_rc != BYOK_ASK)
		return STAGE_NEXT;
	byok_redis_key(req->key.project, req->prov->name, rkey, sizeof(rkey));
	argv[0] = "HGET";
	argv[1] = rkey;
	argv[2] = "v";
	if ((j = rjob_new(own_key_done, req)) == NULL ||
	    rjob_cmd(j, 3, argv, NULL) != 0) {
		rjob_free(j);
		req->own_rc = -1;
		return STAGE_NEXT;
	}
	return request_wait_redis(req, j);
}

/* The key to call the source with: the project's own, else the config's. */
static enum stage
st_source_key(struct request *req)
{
	const struct model *m = req->model;

	if (req->own_rc == BYOK_FOUND && req->own_key != NULL) {
		req->own_prov = *req->prov;
		req->own_prov.api_key = req->own_key;
		req->prov = &req->own_prov;
		return STAGE_NEXT;
	}
	/* Unknown whether the project has its own key: never guess ours. */
	if (req->own_rc == -1)
		return stage_fail(req, 503, "server_error", "auth_unavailable",
		    NULL, "The key store is unavailable; try again shortly.");
	if (req->own_rc == BYOK_BROKEN)
		return stage_fail(req, 502, "upstream_error",
		    "provider_key_unusable", NULL, "This project's own key for "
		    "the source of model '%s' cannot be opened; set it again "
		    "with nextmodelctl provider-key set.", m->id);
	if (req->prov->api_key == NULL) {
		log_warnx("provider %s: %s is not set; model %s unavailable",
		    req->prov->name, req->prov->api_key_env != NULL ?
		    req->prov->api_key_env : "its key variable", m->id);
		return stage_fail(req, 502, "upstream_error", "upstream_error",
		    NULL, "The source of model '%s' is not configured on this "
		    "gateway.", m->id);
	}
	return STAGE_NEXT;
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
	/* Vectors are many numbers: allow what an answer can hold. */
	if (req->embeddings)
		req->pctx.lim.max_tokens = (int)NM_MIN(
		    req->w->cfg->max_upstream_bytes / 2, (size_t)INT32_MAX);
}

/*
 * Translate the body for the current target and hand the call to the
 * engine with the source's (or the rule's) timeouts; the connection waits
 * for relay.c.  mu held, or the request not yet shared.  0, or -1 with
 * req->err.
 */
static int
submit_current(struct request *req)
{
	struct upstream_req ur;
	struct upstream_call *c, *old;
	int stream = req->pctx.stream, usage = req->pctx.client_usage;
	int b64 = req->pctx.embed_base64, rc = -1;
	long per = req->decision->timeout_ms;
	int64_t left;

	memset(&ur, 0, sizeof(ur));
	/* A fresh translation state for this target. */
	if (req->pctx.state != NULL && req->pctx_ops != NULL &&
	    req->pctx_ops->ctx_free != NULL)
		req->pctx_ops->ctx_free(&req->pctx);
	memset(&req->pctx, 0, sizeof(req->pctx));
	req->pctx.stream = stream;
	req->pctx.client_usage = usage;
	req->pctx.embed_base64 = b64;
	req->pctx_ops = req->ops;
	ctx_init(req);
	if ((req->embeddings ? req->ops->embed_encode :
	    req->ops->chat_encode)(&req->pctx, &req->json, &ur,
	    &req->err) != 0)
		goto out;
	ur.connect_timeout_ms = req->prov->connect_timeout_ms;
	if (req->pctx.stream) {
		ur.timeout_ms = 0;
		ur.idle_timeout_ms = per > 0 ? per : req->prov->idle_timeout_ms;
	} else {
		ur.timeout_ms = per > 0 ? per : req->prov->timeout_ms;
		ur.idle_timeout_ms = 0;
	}
	/* Never past the rule's total deadline. */
	if (req->deadline_us > 0) {
		left = (req->deadline_us - nm_mono_us()) / 1000;
		if (left < 1)
			left = 1;
		if (ur.timeout_ms == 0 || ur.timeout_ms > left)
			ur.timeout_ms = left;
	}
	req->oc.attempts++;
	req->phase = REQ_WAITING;
	request_ref(req);			/* the engine's */
	if ((c = upstream_submit(req->w->up, &ur, &relay_cb, req)) == NULL) {
		request_unref(req);
		errinfo_set(&req->err, 503, "server_error", "shutting_down", NULL,
		    "The gateway is shutting down; retry.");
		goto out;
	}
	old = req->call;
	req->call = c;
	if (old != NULL)
		upstream_call_release(old);
	req->t_attempt_us = nm_mono_us();
	request_set_header(req, "x-nextmodel-model", req->model->id);
	request_set_header(req, "x-nextmodel-provider", req->model->provider);
	rc = 0;
out:
	upstream_req_free(&ur);
	return rc;
}

/* The first attempt: a fresh stream worth caching is rebuilt as it goes. */
static enum stage
st_call(struct request *req)
{
	int r;

	if (req->cache.on && req->pctx.stream && !req->embeddings)
		req->cache.asm_ = assemble_new(req->w->cfg->cache_max_entry_bytes);
	pthread_mutex_lock(&req->mu);
	r = submit_current(req);
	pthread_mutex_unlock(&req->mu);
	if (r != 0) {
		req->has_err = 1;
		return STAGE_ANSWERED;
	}
	return STAGE_WAIT;
}

/*
 * The attempt failed before anything reached the client (a 429 or 5xx,
 * a timeout, no connection): note it and try the next target, translated
 * to its own wire format, within the rule's retries and deadline (engine
 * thread, mu held).  0 if another attempt is under way.
 */
int
request_next_target(struct request *req, int status)
{
	const struct policy_decision *d = req->decision;
	struct req_attempt *a;
	int i, tries = req->nattempts + 1;

	if (req->nattempts < REQ_MAX_ATTEMPTS) {
		a = &req->attempts[req->nattempts++];
		a->model = req->model->id;
		a->provider = req->model->provider;
		a->status = status;
		a->latency_ms = (nm_mono_us() - req->t_attempt_us) / 1000;
		a->total_ms = a->latency_ms;
	}
	if (d == NULL || req->phase != REQ_WAITING || req->gone ||
	    (d->retries >= 0 && tries > d->retries) ||
	    (req->deadline_us > 0 && nm_mono_us() >= req->deadline_us))
		return -1;
	for (i = req->target + 1; i < (int)d->ntargets; i++) {
		if (select_target(req, i) != 0)
			continue;
		/* A fallback source uses the gateway's key for it. */
		if (req->prov->api_key == NULL)
			continue;
		buf_reset(&req->upbody);
		req->up_status = 0;
		req->t_first_us = 0;
		memset(&req->meta, 0, sizeof(req->meta));
		sse_parser_free(&req->sse);
		sse_parser_init(&req->sse, req->w->cfg->max_upstream_bytes);
		log_info("attempt %d: %s via %s (the last one failed with %d)",
		    tries + 1, req->model->id, req->model->provider, status);
		if (submit_current(req) == 0)
			return 0;
	}
	return -1;
}

/* The serve mode: every answer of these routes says it. */
static enum stage
st_serve_mode(struct request *req)
{
	request_header(req, "x-nextmodel-serve-mode", "fresh");
	return STAGE_NEXT;
}

/* Where the receipt will be: known from the start, once the key passed. */
static enum stage
st_receipt_url(struct request *req)
{
	const struct config *cfg = req->w->cfg;
	char url[512];

	if (cfg->receipts) {
		snprintf(url, sizeof(url), "%s/v1/receipts/%s",
		    cfg->public_url != NULL ? cfg->public_url : "",
		    req->receipt_id);
		request_header(req, "x-nextmodel-receipt-url", url);
	}
	return STAGE_NEXT;
}

/* The model headers, once the model is known and before any answer. */
static enum stage
st_model_headers(struct request *req)
{
	request_header(req, "x-nextmodel-model", req->model->id);
	request_header(req, "x-nextmodel-provider", req->model->provider);
	return STAGE_NEXT;
}

static const stage_fn chat_stages[] = { st_serve_mode, stage_auth,
    stage_auth_check, st_receipt_url, stage_parse, st_chat_facts, st_decide,
    st_own_key, st_source_key, st_model_headers, stage_cache_lookup,
    stage_admit_check, stage_cache_serve, st_call };
static const stage_fn embed_stages[] = { st_serve_mode, stage_auth,
    stage_auth_check, st_receipt_url, stage_parse, st_embed_facts,
    st_decide, st_own_key, st_source_key, st_model_headers,
    stage_cache_lookup, stage_admit_check, stage_cache_serve, st_call };

const struct pipeline pipe_chat = { "chat", chat_stages,
    (int)NM_NELEM(chat_stages), 1 };
const struct pipeline pipe_embeddings = { "embeddings", embed_stages,
    (int)NM_NELEM(embed_stages), 1 };
