/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The exact cache in the request pipeline.  A lookup stage (libmicrohttpd
 * thread) makes the request's canonical form and key and asks the Redis
 * thread for the entry (and, in canonical mode, the whitespace-insensitive
 * one) in one round trip; a serve stage checks the entry's HMAC and stored
 * request and replays it, as JSON or as an SSE stream, billed at the
 * configured rate of its fresh cost.  cache_settle() adds a complete,
 * successful fresh answer to the settle job (called with mu held from
 * outcome.c).  Redis callbacks run on the Redis thread.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "nextmodel.h"
#include "assemble.h"
#include "cache.h"
#include "canon.h"
#include "catalog.h"
#include "config.h"
#include "crypto.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "request.h"
#include "rthread.h"
#include "worker.h"

/* 1 if the Cache-Control header has the directive d. */
static int
cache_control_has(const char *cc, const char *d)
{
	size_t n = strlen(d);
	const char *p;

	for (p = cc; (p = strcasestr(p, d)) != NULL; p += n) {
		if ((p == cc || p[-1] == ' ' || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == ';'))
			return 1;
	}
	return 0;
}

/* The request's scope: the project, its team, or everyone. */
static void
make_scope(struct request *req)
{
	const struct config *cfg = req->w->cfg;

	if (cfg->cache_scope == CONFIG_SCOPE_GLOBAL)
		snprintf(req->cache.scope, sizeof(req->cache.scope), "global");
	else if (cfg->cache_scope == CONFIG_SCOPE_TEAM &&
	    req->key.team[0] != '\0')
		snprintf(req->cache.scope, sizeof(req->cache.scope), "team:%s",
		    req->key.team);
	else
		snprintf(req->cache.scope, sizeof(req->cache.scope),
		    "project:%s", req->key.project);
}

/* The canonical form and key of the request in one mode; 0 or -1. */
static int
make_key(struct request *req, enum canon_mode mode, struct buf *canon,
    char *hex)
{
	char err[128];

	if (canon_request(&req->json, 0, mode, canon, err, sizeof(err)) != 0 ||
	    cache_key_hex(req->cache.scope, req->model->id, mode, canon->data,
	    canon->len, hex) != 0) {
		log_debug("not cacheable: %s", err);
		return -1;
	}
	return 0;
}

/*
 * The entries came back (Redis thread), and the single-flight lock: taken
 * (we answer), held by another request (we wait for its answer), or on a
 * poll, gone.
 */
static void
lookup_done(struct rjob *j)
{
	struct request *req = j->arg;
	const redisReply *lk, *r;
	int i, b;

	pthread_mutex_lock(&req->mu);
	if (!req->cache.polling)
		admit_reply(req, j);
	b = req->cache.polling ? 0 : req->cache.base;
	for (i = 0; i < req->cache.nkeys && b + i < j->ncmds && !j->failed;
	    i++) {
		buf_reset(&req->cache.entry[i]);
		r = j->reply[b + i];
		if (r != NULL && r->type == REDIS_REPLY_STRING &&
		    buf_append(&req->cache.entry[i], r->str, r->len) != 0)
			buf_reset(&req->cache.entry[i]);
	}
	lk = !j->failed && j->ncmds > b + req->cache.nkeys ?
	    j->reply[b + req->cache.nkeys] : NULL;
	if (!req->cache.on)
		;
	else if (lk == NULL || lk->type == REDIS_REPLY_ERROR)
		req->cache.follower = 0;	/* Redis failed: no waiting */
	else if (req->cache.follower)	/* a poll: EXISTS lock */
		req->cache.lock_gone = lk->type != REDIS_REPLY_INTEGER ||
		    lk->integer == 0;
	else if (lk->type == REDIS_REPLY_STATUS)	/* SET NX: OK */
		req->cache.leader = 1;
	else
		req->cache.follower = 1;
	request_continue(req);
	pthread_mutex_unlock(&req->mu);
	rjob_free(j);
	request_unref(req);
}

/*
 * The commands of a lookup: GET each entry, then for single flight either
 * SET the lock NX (a first lookup) or EXISTS it (a follower's poll).
 */
static int
lookup_cmds(struct request *req, struct rjob *j, int poll)
{
	const struct config *cfg = req->w->cfg;
	char key[CRYPTO_SHA256_HEXLEN + 16], ms[24];
	const char *argv[6];
	int i;

	argv[0] = "GET";
	for (i = 0; i < req->cache.nkeys; i++) {
		snprintf(key, sizeof(key), "nm:cache:%s", req->cache.key[i]);
		argv[1] = key;
		if (rjob_cmd(j, 2, argv, NULL) != 0)
			return -1;
	}
	if (cfg->cache_wait_ms <= 0)
		return 0;
	snprintf(key, sizeof(key), "nm:cache:%s:lock", req->cache.key[0]);
	snprintf(ms, sizeof(ms), "%ld", cfg->cache_wait_ms);
	if (poll) {
		argv[0] = "EXISTS";
		argv[1] = key;
		return rjob_cmd(j, 2, argv, NULL);
	}
	argv[0] = "SET";
	argv[1] = key;
	argv[2] = req->id;
	argv[3] = "NX";
	argv[4] = "PX";
	argv[5] = ms;
	return rjob_cmd(j, 6, argv, NULL);
}

/*
 * Decide whether the cache takes part (mode, Cache-Control, a body it can
 * put in canonical form) and look the entries up.
 */
enum stage
stage_cache_lookup(struct request *req)
{
	const struct config *cfg = req->w->cfg;
	struct rjob *j;
	int n;

	if ((j = rjob_new(lookup_done, req)) == NULL)
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	/* Budgets and rate limits, in the same round trip. */
	if (admit_cmd(req, j) != 0) {
		rjob_free(j);
		return stage_fail(req, 503, "server_error", "budget_unavailable",
		    NULL, "This request cannot be checked against its budgets.");
	}
	req->cache.base = j->ncmds;
	if (req->cache_mode == CONFIG_CACHE_OFF || cfg->secret == NULL ||
	    cache_control_has(req->cache_control, "no-store"))
		goto send;
	make_scope(req);
	buf_init(&req->cache.canon[0], cfg->max_body_bytes * 2);
	buf_init(&req->cache.canon[1], cfg->max_body_bytes * 2);
	buf_init(&req->cache.entry[0], cfg->cache_max_entry_bytes + 65536);
	buf_init(&req->cache.entry[1], cfg->cache_max_entry_bytes + 65536);
	if (make_key(req, CANON_EXACT, &req->cache.canon[0],
	    req->cache.key[0]) != 0)
		goto send;
	n = 1;
	if (req->cache_mode == CONFIG_CACHE_CANONICAL && !req->embeddings &&
	    make_key(req, CANON_TEXT, &req->cache.canon[1],
	    req->cache.key[1]) == 0)
		n = 2;
	req->cache.on = 1;
	req->cache.nkeys = n;
	req->cache.wait_until_ms = nm_mono_ms() + cfg->cache_wait_ms;
	/* Cache-Control: no-cache: a fresh answer, which then refreshes. */
	if (cache_control_has(req->cache_control, "no-cache"))
		goto send;
	if (lookup_cmds(req, j, 0) != 0) {
		rjob_free(j);
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "out of memory");
	}
send:
	if (j->ncmds == 0) {
		rjob_free(j);
		return STAGE_NEXT;
	}
	return request_wait_redis(req, j);
}

/* What entry i (0 exact, 1 canonical) of this request is keyed on. */
static void
entry_for(const struct request *req, int i, struct cache_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->scope.p = req->cache.scope;
	e->scope.len = strlen(req->cache.scope);
	e->model.p = req->model->id;
	e->model.len = strlen(req->model->id);
	e->mode = i == 0 ? CANON_EXACT : CANON_TEXT;
	e->request.p = req->cache.canon[i].data;
	e->request.len = req->cache.canon[i].len;
}

/* fresh x rate, rounded half up once. */
static nm_nano
hit_cost(nm_nano fresh, nm_nano rate)
{
	__int128 v = (__int128)fresh * rate + 500000000;

	return (nm_nano)(v / 1000000000);
}

/*
 * Replay a verified entry e found in mode; the outcome says what it cost.
 * 0 answered, or -1 when it cannot be replayed (nothing set: a miss).
 */
static int
replay(struct request *req, const struct cache_entry *e, enum canon_mode mode)
{
	const struct config *cfg = req->w->cfg;
	struct outcome *oc = &req->oc;
	struct buf sse;
	char err[128];
	size_t n;
	int r;

	buf_init(&sse, cfg->max_upstream_bytes + 65536);
	if (req->pctx.stream) {
		/*
		 * The same answer as the stream it would have been: with the
		 * first stream's chunk boundaries, or whole if they do not fit.
		 */
		r = cache_render_sse(e->answer.p, e->answer.len, e->pieces.p,
		    e->pieces.len, req->pctx.client_usage, &sse, err,
		    sizeof(err));
		if (r != 0 && e->pieces.len > 0) {
			buf_reset(&sse);
			r = cache_render_sse(e->answer.p, e->answer.len, NULL, 0,
			    req->pctx.client_usage, &sse, err, sizeof(err));
		}
		if (r != 0) {
			buf_free(&sse);
			log_warnx("cache entry cannot be replayed as a stream "
			    "(served fresh): %s", err);
			return -1;
		}
	}
	oc->serve_mode = mode == CANON_EXACT ? "exact_cache" : "canonical_cache";
	request_set_header(req, "x-nextmodel-serve-mode", oc->serve_mode);
	memset(&oc->usage, 0, sizeof(oc->usage));
	oc->usage.prompt_tokens = e->prompt_tokens;
	oc->usage.completion_tokens = e->completion_tokens;
	oc->usage.total_tokens = e->total_tokens;
	oc->usage_source = "cache";
	oc->billing_basis = "cache_rate";
	oc->fresh_cost = e->cost;
	oc->cost = hit_cost(e->cost, cfg->cache_hit_rate);
	oc->saved = oc->fresh_cost - oc->cost;
	oc->priced = 1;
	req->cache.hit = mode == CANON_EXACT ? 1 : 2;
	metrics_count(req->w->metrics, MC_CACHE_HITS, 1);
	if (!req->pctx.stream) {
		buf_free(&sse);
		request_respond(req, 200, "application/json", e->answer.p,
		    e->answer.len);
		return 0;
	}
	/* Its figures go just before [DONE], as on a fresh stream. */
	n = strlen("data: [DONE]\n\n");
	if (sse.len >= n && memcmp(sse.data + sse.len - n, "data: [DONE]\n\n",
	    n) == 0)
		sse.len -= n;
	request_respond(req, 200, "text/event-stream", sse.data, sse.len);
	request_header(req, "Cache-Control", "no-cache");
	req->cache.sse_replay = 1;
	buf_free(&sse);
	return 0;
}

/* Serve a verified hit, or go on to the source. */
enum stage
stage_cache_serve(struct request *req)
{
	unsigned char hkey[CRYPTO_SHA256_LEN];
	struct cache_entry want, e;
	enum cache_verdict v;
	const char *secret = req->w->cfg->secret;
	struct rjob *j;
	int i;

	if (!req->cache.on)
		return STAGE_NEXT;
	cache_hmac_key(secret, strlen(secret), hkey);
	for (i = 0; i < req->cache.nkeys; i++) {
		if (req->cache.entry[i].len == 0)
			continue;
		entry_for(req, i, &want);
		v = cache_entry_decode_verify(req->cache.entry[i].data,
		    req->cache.entry[i].len, hkey, &want, &e);
		if (v == CACHE_ENTRY_OK) {
			if (replay(req, &e, want.mode) == 0) {
				crypto_cleanse(hkey, sizeof(hkey));
				return STAGE_ANSWERED;
			}
			metrics_count(req->w->metrics, MC_CACHE_REJECTED, 1);
			continue;
		}
		/* An upgrade's leftovers are misses, not alarms. */
		if (v == CACHE_ENTRY_OLD)
			continue;
		/* Whoever could write to Redis cannot make us serve it. */
		log_warnx("cache entry %.16s... refused: %s", req->cache.key[i],
		    cache_verdict_name(v));
		metrics_count(req->w->metrics, MC_CACHE_REJECTED, 1);
	}
	crypto_cleanse(hkey, sizeof(hkey));
	/*
	 * Single flight: an identical request is being answered; wait for its
	 * entry (a poll every 50 ms) until its lock is gone or the wait is up.
	 */
	if (req->cache.follower && !req->cache.lock_gone &&
	    nm_mono_ms() < req->cache.wait_until_ms &&
	    (j = rjob_new(lookup_done, req)) != NULL) {
		j->not_before_ms = nm_mono_ms() + 50;
		req->cache.polling = 1;
		if (lookup_cmds(req, j, 1) == 0) {
			req->stage--;		/* this stage again */
			return request_wait_redis(req, j);
		}
		rjob_free(j);
	}
	metrics_count(req->w->metrics, MC_CACHE_MISSES, 1);
	return STAGE_NEXT;
}

/* Drop the single-flight lock this request holds (mu held). */
void
cache_release(struct request *req, struct rjob *j)
{
	char key[CRYPTO_SHA256_HEXLEN + 16];
	const char *argv[2];

	if (!req->cache.leader)
		return;
	req->cache.leader = 0;
	snprintf(key, sizeof(key), "nm:cache:%s:lock", req->cache.key[0]);
	argv[0] = "DEL";
	argv[1] = key;
	(void)rjob_cmd(j, 2, argv, NULL);
}

/*
 * A chat answer worth keeping: every choice finished, none stopped by the
 * source's filter, no tool call cut short.  Embeddings always are.
 */
static int
complete_answer(const struct request *req, const char *a, size_t len)
{
	struct json_limits lim = { 256, 4 * 1024 * 1024 };
	struct json j;
	char err[64];
	int ch, c, fr, msg, tc, i, ok = 1;

	if (req->embeddings)
		return 1;
	if (json_parse(&j, a, len, &lim, err, sizeof(err)) != 0)
		return 0;
	if (json_type(&j, 0) != JSON_OBJECT ||
	    (ch = json_get(&j, 0, "choices")) < 0 ||
	    json_type(&j, ch) != JSON_ARRAY || json_size(&j, ch) == 0)
		ok = 0;
	for (i = 0, c = ch + 1; ok && i < json_size(&j, ch); i++,
	    c = json_skip(&j, c)) {
		fr = json_type(&j, c) == JSON_OBJECT ?
		    json_get(&j, c, "finish_reason") : -1;
		if (fr < 0 || json_type(&j, fr) != JSON_STRING ||
		    json_streq(&j, fr, "content_filter"))
			ok = 0;
		else if (json_streq(&j, fr, "length") &&
		    (msg = json_get(&j, c, "message")) >= 0 &&
		    json_type(&j, msg) == JSON_OBJECT &&
		    (tc = json_get(&j, msg, "tool_calls")) >= 0 &&
		    json_type(&j, tc) == JSON_ARRAY && json_size(&j, tc) > 0)
			ok = 0;
	}
	json_free(&j);
	return ok;
}

/*
 * Add the cache entries of a fresh, complete, successful answer to the
 * settle job j (mu held).  answer: the whole chat.completion (or
 * embeddings) JSON.
 */
void
cache_settle(struct request *req, struct rjob *j, const char *answer,
    size_t len)
{
	const struct config *cfg = req->w->cfg;
	unsigned char hkey[CRYPTO_SHA256_LEN];
	struct cache_entry e;
	struct buf enc;
	char key[CRYPTO_SHA256_HEXLEN + 16], ttl[24], err[128];
	const char *argv[5];
	size_t lens[5];
	int i, r;

	if (!req->cache.on || req->cache.hit || req->oc.status != 200 ||
	    answer == NULL || len == 0)
		return;
	if (len > cfg->cache_max_entry_bytes ||
	    !complete_answer(req, answer, len)) {
		metrics_count(req->w->metrics, MC_CACHE_NOT_STORED, 1);
		return;
	}
	cache_hmac_key(cfg->secret, strlen(cfg->secret), hkey);
	snprintf(ttl, sizeof(ttl), "%ld", cfg->cache_ttl_s);
	for (i = 0; i < req->cache.nkeys; i++) {
		entry_for(req, i, &e);
		e.provider.p = req->model->provider;
		e.provider.len = strlen(req->model->provider);
		e.answer.p = answer;
		e.answer.len = len;
		e.created = req->created_ms / 1000;
		e.prompt_tokens = req->oc.usage.prompt_tokens;
		e.completion_tokens = req->oc.usage.completion_tokens;
		e.total_tokens = req->oc.usage.total_tokens;
		e.cost = req->oc.fresh_cost;
		/*
		 * A fresh stream's boundaries, if the entry stays within
		 * its maximum with them; else the entry goes without.
		 */
		if (answer == req->cache.answer.data &&
		    req->cache.pieces.len <= cfg->cache_max_entry_bytes - len) {
			e.pieces.p = req->cache.pieces.data;
			e.pieces.len = req->cache.pieces.len;
		}
		buf_init(&enc, cfg->cache_max_entry_bytes + 65536);
		r = cache_entry_encode(&e, hkey, &enc, err, sizeof(err));
		if (r != 0 && e.pieces.len > 0) {
			log_debug("cache entry stored without its chunk "
			    "boundaries: %s", err);
			e.pieces.len = 0;
			buf_reset(&enc);
			r = cache_entry_encode(&e, hkey, &enc, err,
			    sizeof(err));
		}
		if (r != 0) {
			log_warnx("cache entry not stored: %s", err);
			buf_free(&enc);
			continue;
		}
		snprintf(key, sizeof(key), "nm:cache:%s", req->cache.key[i]);
		argv[0] = "SET";
		argv[1] = key;
		argv[2] = enc.data;
		argv[3] = "EX";
		argv[4] = ttl;
		lens[0] = 3;
		lens[1] = strlen(key);
		lens[2] = enc.len;
		lens[3] = 2;
		lens[4] = strlen(ttl);
		if (rjob_cmd(j, 5, argv, lens) == 0)
			metrics_count(req->w->metrics, MC_CACHE_STORES, 1);
		buf_free(&enc);
	}
	crypto_cleanse(hkey, sizeof(hkey));
}

/* Free what the cache stages kept. */
void
cache_request_free(struct request *req)
{
	int i;

	for (i = 0; i < 2; i++) {
		buf_free(&req->cache.canon[i]);
		buf_free(&req->cache.entry[i]);
	}
	assemble_free(req->cache.asm_);
	buf_free(&req->cache.answer);
	buf_free(&req->cache.pieces);
}
