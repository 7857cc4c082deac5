/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The worker's Redis thread (rthread.h).  Everything in this file runs on
 * that thread except rjob_*, rthread_submit and rthread_queued, which any
 * thread may call.  One connection, one pipeline per turn, a backoff while
 * Redis fails, the receipt spool.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "nextmodel.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "rthread.h"
#include "spool.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
#define TURN_MAX_CMDS	4096		/* commands in one pipeline */
#define SPOOL_CHECK_MS	2000		/* look for dead workers' spools */
#define REPLAY_BATCH	128
#define PING_MS		1000		/* an idle thread checks Redis this often */

struct rthread {
	const struct config	*cfg;
	struct metrics		*metrics;
	struct redis		*redis;
	struct spool		*spool;
	pthread_t		 tid;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct rjob		*head, *tail;	/* queued, oldest first */
	struct rjob		*delayed;	/* this thread's: not due yet */
	int			 nqueued;
	int			 stopping;
	atomic_int		 up;
	int64_t			 retry_ms;	/* no dial before this */
	long			 backoff_ms;
	int64_t			 spool_check_ms;
	int64_t			 last_ms;	/* last exchange with Redis */
	int			 spool_dirty;	/* records may wait */
};

#define MAX_SCRIPTS	16

/* Lua scripts loaded on NOSCRIPT: static texts, registered at start. */
static pthread_mutex_t scripts_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *scripts[MAX_SCRIPTS];
static int nscripts;

/* Register a script; sha gets its name. */
int
rthread_script(const char *lua, char sha[41])
{
	int i, rc = 0;

	crypto_sha1_hex(lua, strlen(lua), sha);
	pthread_mutex_lock(&scripts_mu);
	for (i = 0; i < nscripts && scripts[i] != lua; i++)
		;
	if (i == nscripts) {
		if (nscripts < MAX_SCRIPTS)
			scripts[nscripts++] = lua;
		else
			rc = -1;
	}
	pthread_mutex_unlock(&scripts_mu);
	return rc;
}

/* SCRIPT LOAD every registered script: 0 or -1. */
static int
load_scripts(struct rthread *rt)
{
	redisReply *rep;
	int i, n, rc = 0;

	pthread_mutex_lock(&scripts_mu);
	n = nscripts;
	pthread_mutex_unlock(&scripts_mu);
	for (i = 0; i < n && rc == 0; i++) {
		if ((rep = redis_command(rt->redis, "SCRIPT LOAD %s",
		    scripts[i])) == NULL || rep->type == REDIS_REPLY_ERROR)
			rc = -1;
		if (rep != NULL)
			freeReplyObject(rep);
	}
	return rc;
}

/* A new empty job. */
struct rjob *
rjob_new(void (*done)(struct rjob *), void *arg)
{
	struct rjob *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	buf_init(&j->cmds, 0);
	j->done = done;
	j->arg = arg;
	return j;
}

/* Drop a job's replies (its commands stay). */
static void
rjob_drop_replies(struct rjob *j)
{
	int i;

	for (i = 0; i < j->ncmds; i++) {
		if (j->reply[i] != NULL)
			freeReplyObject(j->reply[i]);
		j->reply[i] = NULL;
	}
}

/* Free a job and what it holds. */
void
rjob_free(struct rjob *j)
{
	if (j == NULL)
		return;
	rjob_drop_replies(j);
	buf_free(&j->cmds);
	free(j->receipt);
	free(j);
}

/* See rthread.h. */
void
rjob_again(struct rthread *rt, struct rjob *j, int64_t not_before_ms)
{
	rjob_drop_replies(j);
	j->failed = 0;
	j->next = NULL;
	j->not_before_ms = not_before_ms;
	rthread_submit(rt, j);
}

/* Add one command in RESP form. */
int
rjob_cmd(struct rjob *j, int argc, const char **argv, const size_t *lens)
{
	char *cmd = NULL;
	long long len;
	int rc;

	if (j->ncmds >= RJOB_MAX_CMDS || argc < 1)
		return -1;
	if ((len = redisFormatCommandArgv(&cmd, argc, argv, lens)) < 0)
		return -1;
	j->off[j->ncmds] = j->cmds.len;
	rc = buf_append(&j->cmds, cmd, (size_t)len);
	redisFreeCommand(cmd);
	if (rc == 0)
		j->off[++j->ncmds] = j->cmds.len;
	return rc;
}

/* EVALSHA sha nkeys args... */
int
rjob_evalsha(struct rjob *j, const char *sha, int nkeys, int nargs,
    const char **args, const size_t *lens)
{
	const char *argv[64];
	size_t alen[64];
	char nk[16];
	int i;

	if (nargs < 0 || nargs > 61 || nkeys > nargs)
		return -1;
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[0] = "EVALSHA";
	alen[0] = 7;
	argv[1] = sha;
	alen[1] = strlen(sha);
	argv[2] = nk;
	alen[2] = strlen(nk);
	for (i = 0; i < nargs; i++) {
		argv[3 + i] = args[i];
		alen[3 + i] = lens != NULL ? lens[i] : strlen(args[i]);
	}
	return rjob_cmd(j, 3 + nargs, argv, alen);
}

/* Attach a copy of a receipt line. */
int
rjob_receipt(struct rjob *j, const char *line, size_t len)
{
	if ((j->receipt = malloc(len + 1)) == NULL)
		return -1;
	memcpy(j->receipt, line, len);
	j->receipt[len] = '\0';
	j->receipt_len = len;
	return 0;
}

/* The receipt's id: the first member of the line ({"id":"rcpt_..."). */
static int
receipt_id(const char *line, size_t len, char *id, size_t idlen)
{
	const char *p = line + 7, *q;

	if (len < 8 || strncmp(line, "{\"id\":\"", 7) != 0 ||
	    (q = memchr(p, '"', len - 7)) == NULL || (size_t)(q - p) >= idlen)
		return -1;
	memcpy(id, p, (size_t)(q - p));
	id[q - p] = '\0';
	return 0;
}

/* XADD nm:receipts * r LINE and SET nm:receipt:ID LINE EX ttl, in RESP. */
static int
receipt_cmds(const struct rthread *rt, const char *line, size_t len,
    struct buf *out)
{
	const char *xadd[5] = { "XADD", "nm:receipts", "*", "r", line };
	size_t xlen[5] = { 4, 11, 1, 1, len };
	char id[64], key[96], ttl[24];
	const char *set[5] = { "SET", key, line, "EX", ttl };
	size_t slen[5];
	char *cmd;
	long long n;
	int rc = 0;

	if (receipt_id(line, len, id, sizeof(id)) != 0)
		return -1;
	snprintf(key, sizeof(key), "nm:receipt:%s", id);
	snprintf(ttl, sizeof(ttl), "%ld", rt->cfg->receipt_ttl_s);
	slen[0] = 3;
	slen[1] = strlen(key);
	slen[2] = len;
	slen[3] = 2;
	slen[4] = strlen(ttl);
	if ((n = redisFormatCommandArgv(&cmd, 5, xadd, xlen)) < 0)
		return -1;
	rc |= buf_append(out, cmd, (size_t)n);
	redisFreeCommand(cmd);
	if ((n = redisFormatCommandArgv(&cmd, 5, set, slen)) < 0)
		return -1;
	rc |= buf_append(out, cmd, (size_t)n);
	redisFreeCommand(cmd);
	return rc ? -1 : 0;
}

/*
 * Scripts are not loaded (a new or restarted Redis, SCRIPT FLUSH, a
 * failover): load them and run again each command that said NOSCRIPT.  It
 * did not run, so running it again is safe.
 */
static void
retry_noscript(struct rthread *rt, struct rjob **jobs, int n)
{
	redisReply *rep;
	int i, k, loaded = 0;

	for (i = 0; i < n; i++) {
		for (k = 0; k < jobs[i]->ncmds; k++) {
			if (!redis_error_is(jobs[i]->reply[k], "NOSCRIPT"))
				continue;
			if (!loaded && (loaded = load_scripts(rt) == 0 ? 1 : -1) < 0)
				log_warnx("cannot load the Lua scripts: %s",
				    redis_errstr(rt->redis));
			if (loaded < 0)
				return;
			if (redis_exec_formatted(rt->redis, jobs[i]->cmds.data +
			    jobs[i]->off[k], jobs[i]->off[k + 1] - jobs[i]->off[k],
			    1, &rep) != 0)
				return;
			freeReplyObject(jobs[i]->reply[k]);
			jobs[i]->reply[k] = rep;
		}
	}
}

/* Redis failed: back off before the next dial. */
static void
went_down(struct rthread *rt, int64_t now)
{
	if (atomic_exchange(&rt->up, 0))
		log_warnx("%s; backing off", redis_errstr(rt->redis));
	rt->backoff_ms = rt->backoff_ms == 0 ? BACKOFF_MIN_MS :
	    NM_MIN(rt->backoff_ms * 2, BACKOFF_MAX_MS);
	rt->retry_ms = now + rt->backoff_ms;
	metrics_count(rt->metrics, MC_REDIS_FAILURES, 1);
}

static void
came_up(struct rthread *rt)
{
	if (!atomic_exchange(&rt->up, 1) && rt->backoff_ms != 0)
		log_info("redis %s answers again", redis_addr(rt->redis));
	rt->backoff_ms = 0;
	rt->retry_ms = 0;
}

/* Keep a receipt that Redis did not take. */
static void
spool_receipt(struct rthread *rt, const char *line, size_t len)
{
	char err[256], id[64];

	if (rt->spool != NULL &&
	    spool_append(rt->spool, line, len, err, sizeof(err)) == 0) {
		metrics_count(rt->metrics, MC_RECEIPTS_SPOOLED, 1);
		rt->spool_dirty = 1;
		return;
	}
	if (receipt_id(line, len, id, sizeof(id)) != 0)
		snprintf(id, sizeof(id), "?");
	log_warnx("receipt %s lost: Redis is unreachable and %s", id,
	    rt->spool != NULL ? err : "there is no spool");
	metrics_count(rt->metrics, MC_RECEIPTS_LOST, 1);
}

/*
 * Send the commands of n jobs as one pipeline and hand each its replies.
 * Jobs with a receipt get its two commands after their own.
 */
static void
run_pipeline(struct rthread *rt, struct rjob **jobs, int n, int64_t now)
{
	struct buf all;
	redisReply **rep = NULL;
	int i, k, total = 0, ok = 0, nrc = 0;

	buf_init(&all, 0);
	for (i = 0; i < n; i++) {
		if (buf_append(&all, jobs[i]->cmds.data != NULL ?
		    jobs[i]->cmds.data : "", jobs[i]->cmds.len) != 0)
			goto fail;
		total += jobs[i]->ncmds;
		if (jobs[i]->receipt != NULL) {
			if (receipt_cmds(rt, jobs[i]->receipt,
			    jobs[i]->receipt_len, &all) != 0)
				goto fail;
			total += 2;
			nrc++;
		}
	}
	if (total == 0) {
		ok = 1;
		goto out;
	}
	if (now < rt->retry_ms)
		goto fail;		/* backing off: fail fast */
	if ((rep = calloc((size_t)total, sizeof(*rep))) == NULL)
		goto fail;
	if (redis_exec_formatted(rt->redis, all.data, all.len, total, rep) != 0) {
		went_down(rt, nm_mono_ms());
		goto fail;
	}
	came_up(rt);
	rt->last_ms = nm_mono_ms();
	ok = 1;
	for (i = 0, k = 0; i < n; i++) {
		memcpy(jobs[i]->reply, rep + k,
		    (size_t)jobs[i]->ncmds * sizeof(*rep));
		k += jobs[i]->ncmds;
		if (jobs[i]->receipt != NULL) {
			if (rep[k]->type == REDIS_REPLY_ERROR ||
			    rep[k + 1]->type == REDIS_REPLY_ERROR) {
				log_warnx("redis refused a receipt: %s",
				    rep[k]->type == REDIS_REPLY_ERROR ?
				    rep[k]->str : rep[k + 1]->str);
				spool_receipt(rt, jobs[i]->receipt,
				    jobs[i]->receipt_len);
				nrc--;
			}
			freeReplyObject(rep[k]);
			freeReplyObject(rep[k + 1]);
			k += 2;
		}
	}
	metrics_count(rt->metrics, MC_RECEIPTS_STORED, (unsigned long long)nrc);
	retry_noscript(rt, jobs, n);
	goto out;
fail:
	for (i = 0; i < n; i++) {
		jobs[i]->failed = 1;
		if (jobs[i]->receipt != NULL)
			spool_receipt(rt, jobs[i]->receipt,
			    jobs[i]->receipt_len);
	}
out:
	(void)ok;
	free(rep);
	buf_free(&all);
}

/* spool_replay()'s store: one pipeline for a batch of receipts. */
static int
replay_store(void *arg, const char **recs, const size_t *lens, int n)
{
	struct rthread *rt = arg;
	struct buf all;
	redisReply **rep;
	int i, rc = -1, bad = 0;

	buf_init(&all, 0);
	if ((rep = calloc((size_t)n * 2, sizeof(*rep))) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if (receipt_cmds(rt, recs[i], lens[i], &all) != 0)
			bad++;		/* not a receipt line: dropped */
	if (n - bad == 0) {
		rc = 0;
		goto out;
	}
	if (redis_exec_formatted(rt->redis, all.data, all.len, (n - bad) * 2,
	    rep) != 0) {
		went_down(rt, nm_mono_ms());
		goto out;
	}
	rc = 0;
	for (i = 0; i < (n - bad) * 2; i++) {
		if (rep[i]->type == REDIS_REPLY_ERROR)
			rc = -1;
		freeReplyObject(rep[i]);
	}
	if (rc == 0)
		metrics_count(rt->metrics, MC_RECEIPTS_REPLAYED,
		    (unsigned long long)(n - bad));
out:
	free(rep);
	buf_free(&all);
	return rc;
}

/* Push spooled receipts (ours and dead workers') while Redis answers. */
static void
replay(struct rthread *rt, int64_t now)
{
	long n;

	if (rt->spool == NULL || !atomic_load(&rt->up) || now < rt->retry_ms)
		return;
	if (!rt->spool_dirty) {
		if (now < rt->spool_check_ms)
			return;
		rt->spool_check_ms = now + SPOOL_CHECK_MS;
		if (!spool_pending(rt->spool))
			return;
	}
	if ((n = spool_replay(rt->spool, replay_store, rt, REPLAY_BATCH)) < 0)
		return;			/* kept; tried again later */
	rt->spool_dirty = 0;
	if (n > 0)
		log_info("replayed %ld spooled receipts to Redis", n);
}

/*
 * An idle thread still learns whether Redis answers (for /readyz, and to
 * replay the spool once it is back): a PING now and then.
 */
static void
probe(struct rthread *rt, int64_t now)
{
	if (now - rt->last_ms < PING_MS || now < rt->retry_ms)
		return;
	rt->last_ms = now;
	if (redis_ping(rt->redis) == 0)
		came_up(rt);
	else
		went_down(rt, nm_mono_ms());
}

/* One turn: take what is queued (bounded), run it, call back. */
static int
turn(struct rthread *rt)
{
	struct rjob *list, *j, *next, *rest, **jobs = NULL;
	int n = 0, cmds = 0, i;
	int64_t now;

	pthread_mutex_lock(&rt->mu);
	list = rt->head;
	/* Up to TURN_MAX_CMDS commands; the rest waits for the next turn. */
	for (j = list, rest = NULL; j != NULL; j = j->next) {
		cmds += j->ncmds + (j->receipt != NULL ? 2 : 0);
		n++;
		if (cmds >= TURN_MAX_CMDS) {
			rest = j->next;
			j->next = NULL;
			break;
		}
	}
	rt->head = rest;
	if (rest == NULL)
		rt->tail = NULL;
	rt->nqueued -= n;
	pthread_mutex_unlock(&rt->mu);
	/* Jobs asked for later wait on this thread's own list. */
	now = nm_mono_ms();
	for (j = list, list = NULL, rest = NULL, n = 0; j != NULL; j = next) {
		next = j->next;
		if (j->not_before_ms > now) {
			j->next = rt->delayed;
			rt->delayed = j;
			continue;
		}
		j->next = NULL;
		if (rest == NULL)
			list = j;
		else
			rest->next = j;
		rest = j;
		n++;
	}
	if (n == 0)
		return 0;

	if ((jobs = calloc((size_t)n, sizeof(*jobs))) == NULL) {
		/* Cannot even list them: fail them one by one. */
		for (j = list; j != NULL; j = next) {
			next = j->next;
			j->failed = 1;
			if (j->done != NULL)
				j->done(j);
			else
				rjob_free(j);
		}
		return n;
	}
	for (j = list, i = 0; j != NULL; j = j->next)
		jobs[i++] = j;
	run_pipeline(rt, jobs, n, now);
	for (i = 0; i < n; i++) {
		j = jobs[i];
		if (j->run != NULL && !j->failed) {
			if (now < rt->retry_ms)
				j->failed = 1;
			else
				j->run(j, rt->redis);
		}
		if (j->done != NULL)
			j->done(j);
		else
			rjob_free(j);
	}
	free(jobs);
	return n;
}

/*
 * Delayed jobs whose time has come go back to the queue (mu held).  The
 * earliest time one still waits for, or 0 when none waits.
 */
static int64_t
requeue_due(struct rthread *rt, int64_t now)
{
	struct rjob **pp = &rt->delayed, *j;
	int64_t next = 0;

	while ((j = *pp) != NULL) {
		if (j->not_before_ms > now && !rt->stopping) {
			if (next == 0 || j->not_before_ms < next)
				next = j->not_before_ms;
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		j->not_before_ms = 0;
		j->next = NULL;
		if (rt->tail != NULL)
			rt->tail->next = j;
		else
			rt->head = j;
		rt->tail = j;
		rt->nqueued++;
	}
	return next;
}

static void *
thread_main(void *arg)
{
	struct rthread *rt = arg;
	struct timespec ts;
	int64_t next, wait;
	int stop;

	probe(rt, nm_mono_ms());	/* /readyz knows from the start */
	for (;;) {
		pthread_mutex_lock(&rt->mu);
		next = requeue_due(rt, nm_mono_ms());
		if (rt->head == NULL && !rt->stopping) {
			/* Asleep until the next delayed job is due, 500 ms at most. */
			wait = next != 0 ? NM_MAX(1, NM_MIN(500, next -
			    nm_mono_ms())) : 500;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += wait * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&rt->cv, &rt->mu, &ts);
		}
		requeue_due(rt, nm_mono_ms());
		stop = rt->stopping && rt->head == NULL && rt->delayed == NULL;
		pthread_mutex_unlock(&rt->mu);
		if (stop)
			break;
		if (turn(rt) == 0)
			probe(rt, nm_mono_ms());
		replay(rt, nm_mono_ms());
	}
	return NULL;
}

/* Start the thread. */
struct rthread *
rthread_start(const struct config *cfg, struct metrics *metrics,
    const char *name, char *err, size_t errlen)
{
	struct rthread *rt;
	char serr[512];

	if ((rt = calloc(1, sizeof(*rt))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rt->cfg = cfg;
	rt->metrics = metrics;
	atomic_init(&rt->up, 0);
	pthread_mutex_init(&rt->mu, NULL);
	pthread_cond_init(&rt->cv, NULL);
	if ((rt->redis = redis_new(cfg->redis_url, cfg->redis_timeout_ms, err,
	    errlen)) == NULL)
		goto fail;
	if (cfg->receipts && (rt->spool = spool_open(cfg->spool_dir, name,
	    cfg->spool_max_bytes, serr, sizeof(serr))) == NULL)
		log_warnx("no receipt spool (%s): receipts made while Redis is "
		    "unreachable will be lost", serr);
	rt->spool_dirty = rt->spool != NULL && spool_bytes(rt->spool) > 0;
	if (pthread_create(&rt->tid, NULL, thread_main, rt) != 0) {
		snprintf(err, errlen, "cannot start the Redis thread");
		goto fail;
	}
	return rt;
fail:
	spool_free(rt->spool);
	redis_free(rt->redis);
	pthread_cond_destroy(&rt->cv);
	pthread_mutex_destroy(&rt->mu);
	free(rt);
	return NULL;
}

/* Queue a job. */
void
rthread_submit(struct rthread *rt, struct rjob *j)
{
	j->next = NULL;
	pthread_mutex_lock(&rt->mu);
	if (rt->tail != NULL)
		rt->tail->next = j;
	else
		rt->head = j;
	rt->tail = j;
	rt->nqueued++;
	pthread_cond_signal(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
}

/* Finish the queue, stop, free. */
void
rthread_stop(struct rthread *rt)
{
	if (rt == NULL)
		return;
	pthread_mutex_lock(&rt->mu);
	rt->stopping = 1;
	pthread_cond_signal(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
	pthread_join(rt->tid, NULL);
	spool_free(rt->spool);
	redis_free(rt->redis);
	pthread_cond_destroy(&rt->cv);
	pthread_mutex_destroy(&rt->mu);
	free(rt);
}

int
rthread_redis_up(const struct rthread *rt)
{
	return atomic_load(&rt->up);
}

int
rthread_queued(struct rthread *rt)
{
	int n;

	pthread_mutex_lock(&rt->mu);
	n = rt->nqueued;
	pthread_mutex_unlock(&rt->mu);
	return n;
}
