/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Measured latency and source health, shared by every worker and host
 * through Redis.  Each attempt adds one sample in the settle pipeline (a
 * Lua script: decaying averages of the time to first byte and of the
 * whole call per model and source; failures counted per source, and a
 * source that fails
 * circuit_failures times within circuit_window_s is put on a cool-down of
 * circuit_cooldown_s).  The worker's Redis thread reads the averages and
 * the cool-downs every second into a table that routing (Decide) reads.
 * health_record runs with the request's mutex held; the refresh job on
 * the Redis thread; health_latency and health_cooling on any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "catalog.h"
#include "redis.h"
#include "config.h"
#include "log.h"
#include "request.h"
#include "rthread.h"
#include "worker.h"

#define REFRESH_MS	1000

/* One sample: ARGV ok, ms (to first byte), failures, window, cool-down, total ms. */
static const char health_lua[] =
"local ok, ms = ARGV[1] == '1', tonumber(ARGV[2])\n"
"if ok then\n"
"  local e = tonumber(redis.call('HGET', KEYS[1], 'ewma_ms'))\n"
"  if e == nil then e = ms else e = e * 0.8 + ms * 0.2 end\n"
"  redis.call('HSET', KEYS[1], 'ewma_ms', string.format('%.0f', e))\n"
"  local tt = tonumber(ARGV[6])\n"
"  local t = tonumber(redis.call('HGET', KEYS[1], 'total_ewma_ms'))\n"
"  if t == nil then t = tt else t = t * 0.8 + tt * 0.2 end\n"
"  redis.call('HSET', KEYS[1], 'total_ewma_ms', string.format('%.0f', t))\n"
"  redis.call('HINCRBY', KEYS[1], 'samples', 1)\n"
"  redis.call('EXPIRE', KEYS[1], 86400)\n"
"  redis.call('DEL', KEYS[2])\n"
"  return 0\n"
"end\n"
"local n = redis.call('INCR', KEYS[2])\n"
"if n == 1 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4])) end\n"
"if n >= tonumber(ARGV[3]) then\n"
"  redis.call('SET', KEYS[3], '1', 'EX', tonumber(ARGV[5]))\n"
"  redis.call('DEL', KEYS[2])\n"
"  return 1\n"
"end\n"
"return 0\n";

static char health_sha[41];

/* Register the script (worker start): 0 or -1. */
int
health_init(void)
{
	return rthread_script(health_lua, health_sha);
}

#define HEALTH_KEY_MAX	300

/* The keys of model m on provider p (each HEALTH_KEY_MAX): tagged by p. */
static void
health_keys(const char *m, const char *p, char *lat, char *fail, char *open)
{
	snprintf(lat, HEALTH_KEY_MAX, "nm:{h:%s}:lat:%s", p, m);
	snprintf(fail, HEALTH_KEY_MAX, "nm:{h:%s}:fail", p);
	snprintf(open, HEALTH_KEY_MAX, "nm:{h:%s}:open", p);
}

/* Add the samples of the request's attempts to the settle job (mu held). */
void
health_record(struct request *req, struct rjob *j)
{
	const struct config *cfg = req->w->cfg;
	const struct req_attempt *a;
	char lat[HEALTH_KEY_MAX], fail[HEALTH_KEY_MAX], open[HEALTH_KEY_MAX];
	char ms[24], th[16], win[16], cool[16], total[24];
	const char *argv[9];
	int i;

	snprintf(th, sizeof(th), "%d", cfg->circuit_failures);
	snprintf(win, sizeof(win), "%ld", cfg->circuit_window_s);
	snprintf(cool, sizeof(cool), "%ld", cfg->circuit_cooldown_s);
	for (i = 0; i < req->nattempts; i++) {
		a = &req->attempts[i];
		/* A source's own 4xx says nothing of its health. */
		if (a->status >= 400 && a->status < 500 && a->status != 429)
			continue;
		health_keys(a->model, a->provider, lat, fail, open);
		snprintf(ms, sizeof(ms), "%lld", (long long)a->latency_ms);
		snprintf(total, sizeof(total), "%lld", (long long)a->total_ms);
		argv[0] = lat;
		argv[1] = fail;
		argv[2] = open;
		argv[3] = a->status >= 200 && a->status < 300 ? "1" : "0";
		argv[4] = ms;
		argv[5] = th;
		argv[6] = win;
		argv[7] = cool;
		argv[8] = total;
		(void)rjob_evalsha(j, health_sha, 3, 9, argv, NULL);
	}
}

/* The table the refresh fills: model/provider pairs of the catalog. */
struct health_table {
	pthread_mutex_t		 mu;
	struct policy_latency	*lat;
	size_t			 nlat;
	char			**cooling;	/* providers on a cool-down */
	size_t			 ncooling;
	int			 stopping;
};

/* Read every pair's average and every source's cool-down (Redis thread). */
static void
refresh_run(struct rjob *j, struct redis *r)
{
	struct worker *w = j->arg;
	const struct config *cfg = w->cfg;
	const struct catalog *cat = cfg->catalog;
	struct health_table *t = w->health;
	redisReply **rep;
	const char ***argv;
	int *argc, n, k;
	char (*keys)[HEALTH_KEY_MAX];
	size_t i, np = cfg->nproviders, nm = cat->n;

	n = (int)(nm + np);
	rep = calloc((size_t)n, sizeof(*rep));
	argv = calloc((size_t)n, sizeof(*argv));
	argc = calloc((size_t)n, sizeof(*argc));
	keys = calloc((size_t)n, sizeof(*keys));
	if (rep == NULL || argv == NULL || argc == NULL || keys == NULL)
		goto out;
	for (k = 0; k < n; k++)
		if ((argv[k] = calloc(3, sizeof(*argv[k]))) == NULL)
			goto out;
	for (i = 0; i < nm; i++) {
		snprintf(keys[i], sizeof(keys[i]), "nm:{h:%s}:lat:%s",
		    cat->models[i].provider, cat->models[i].id);
		argv[i][0] = "HMGET";
		argv[i][1] = keys[i];
		argv[i][2] = "ewma_ms";
		argc[i] = 3;
	}
	for (i = 0; i < np; i++) {
		snprintf(keys[nm + i], sizeof(keys[0]), "nm:{h:%s}:open",
		    cfg->providers[i].name);
		argv[nm + i][0] = "EXISTS";
		argv[nm + i][1] = keys[nm + i];
		argc[nm + i] = 2;
	}
	if (redis_pipeline(r, n, argc, argv, NULL, rep) != 0)
		goto out;
	pthread_mutex_lock(&t->mu);
	t->nlat = 0;
	for (i = 0; i < nm; i++) {
		const redisReply *v = rep[i]->type == REDIS_REPLY_ARRAY &&
		    rep[i]->elements == 1 ? rep[i]->element[0] : NULL;

		if (v == NULL || v->type != REDIS_REPLY_STRING)
			continue;
		t->lat[t->nlat].model = cat->models[i].id;
		t->lat[t->nlat].provider = cat->models[i].provider;
		t->lat[t->nlat].ms = strtol(v->str, NULL, 10);
		/* The average stands for enough samples once it exists. */
		t->lat[t->nlat].samples = 1000;
		t->nlat++;
	}
	t->ncooling = 0;
	for (i = 0; i < np; i++)
		if (rep[nm + i]->type == REDIS_REPLY_INTEGER &&
		    rep[nm + i]->integer > 0)
			t->cooling[t->ncooling++] = cfg->providers[i].name;
	pthread_mutex_unlock(&t->mu);
out:
	for (k = 0; rep != NULL && k < n; k++)
		if (rep[k] != NULL)
			freeReplyObject(rep[k]);
	for (k = 0; argv != NULL && k < n; k++)
		free((void *)argv[k]);
	free(rep);
	free(argv);
	free(argc);
	free(keys);
}

static void refresh_done(struct rjob *);

/* Queue the next refresh, REFRESH_MS from now. */
static void
refresh_schedule(struct worker *w, int64_t delay_ms)
{
	struct rjob *j;

	if ((j = rjob_new(refresh_done, w)) == NULL)
		return;
	j->run = refresh_run;
	j->not_before_ms = nm_mono_ms() + delay_ms;
	rthread_submit(w->rt, j);
}

/* A refresh is over (Redis thread): the next one, unless stopping. */
static void
refresh_done(struct rjob *j)
{
	struct worker *w = j->arg;
	int stop;

	rjob_free(j);
	pthread_mutex_lock(&w->health->mu);
	stop = w->health->stopping;
	pthread_mutex_unlock(&w->health->mu);
	if (!stop)
		refresh_schedule(w, REFRESH_MS);
}

/* Start the table and its refreshes: 0 or -1. */
int
health_start(struct worker *w)
{
	struct health_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->lat = calloc(w->cfg->catalog->n + 1, sizeof(*t->lat))) == NULL ||
	    (t->cooling = calloc(w->cfg->nproviders + 1,
	    sizeof(*t->cooling))) == NULL) {
		if (t != NULL)
			free(t->lat);
		free(t);
		return -1;
	}
	pthread_mutex_init(&t->mu, NULL);
	w->health = t;
	refresh_schedule(w, 0);
	return 0;
}

/* No more refreshes (before the Redis thread stops). */
void
health_stop(struct worker *w)
{
	if (w->health == NULL)
		return;
	pthread_mutex_lock(&w->health->mu);
	w->health->stopping = 1;
	pthread_mutex_unlock(&w->health->mu);
}

/* Free the table (after the Redis thread stopped). */
void
health_free(struct worker *w)
{
	if (w->health == NULL)
		return;
	pthread_mutex_destroy(&w->health->mu);
	free(w->health->lat);
	free(w->health->cooling);
	free(w->health);
	w->health = NULL;
}

/* A copy of the measured latencies for Decide; returns how many. */
size_t
health_latency(struct worker *w, struct policy_latency *out, size_t max)
{
	size_t n = 0;

	if (w->health == NULL)
		return 0;
	pthread_mutex_lock(&w->health->mu);
	n = NM_MIN(max, w->health->nlat);
	memcpy(out, w->health->lat, n * sizeof(*out));
	pthread_mutex_unlock(&w->health->mu);
	return n;
}

/* 1 if provider p is on a cool-down. */
int
health_cooling(struct worker *w, const char *p)
{
	size_t i;
	int r = 0;

	if (w->health == NULL)
		return 0;
	pthread_mutex_lock(&w->health->mu);
	for (i = 0; i < w->health->ncooling && !r; i++)
		r = strcmp(w->health->cooling[i], p) == 0;
	pthread_mutex_unlock(&w->health->mu);
	return r;
}
