/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License
 * 2.0.
 *
 * The worker's Redis thread against a real Redis (NM_REDIS_URL; run by
 * test/ctl-keys.sh): many jobs answered in few pipelines, EVALSHA loaded
 * on NOSCRIPT and run again, delayed jobs, failing fast while Redis is
 * away, and receipts spooled then replayed by another worker that adopts
 * the dead one's spool file.
 */
#include <sys/stat.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nextmodel.h"
#include "config.h"
#include "metrics.h"
#include "redis.h"
#include "rthread.h"
#include "unit.h"

static atomic_int done_count;
static atomic_llong done_at_ms;
static char last_reply[128];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static const char lua_echo[] = "return ARGV[1] .. '!'";

/* Record what a job got back. */
static void
record(struct rjob *j)
{
	pthread_mutex_lock(&mu);
	if (j->failed)
		snprintf(last_reply, sizeof(last_reply), "(failed)");
	else if (j->ncmds > 0 && j->reply[0] != NULL &&
	    (j->reply[0]->type == REDIS_REPLY_STRING ||
	    j->reply[0]->type == REDIS_REPLY_STATUS ||
	    j->reply[0]->type == REDIS_REPLY_ERROR))
		snprintf(last_reply, sizeof(last_reply), "%s", j->reply[0]->str);
	else if (j->ncmds > 0 && j->reply[0] != NULL &&
	    j->reply[0]->type == REDIS_REPLY_INTEGER)
		snprintf(last_reply, sizeof(last_reply), "%lld",
		    j->reply[0]->integer);
	pthread_mutex_unlock(&mu);
	atomic_store(&done_at_ms, nm_mono_ms());
	atomic_fetch_add(&done_count, 1);
	rjob_free(j);
}

/* Wait until n jobs are done (5 s at most). */
static int
wait_done(int n)
{
	int64_t end = nm_mono_ms() + 5000;

	while (atomic_load(&done_count) < n && nm_mono_ms() < end)
		usleep(2000);
	return atomic_load(&done_count) >= n;
}

/* One command job. */
static void
submit(struct rthread *rt, int argc, const char **argv)
{
	struct rjob *j = rjob_new(record, NULL);

	CHECK(j != NULL && rjob_cmd(j, argc, argv, NULL) == 0);
	rthread_submit(rt, j);
}

static void
config_init(struct config *cfg, const char *url, const char *spool)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->redis_url = (char *)url;
	cfg->redis_timeout_ms = 500;
	cfg->receipts = 1;
	cfg->receipt_ttl_s = 600;
	cfg->spool_dir = (char *)spool;
	cfg->spool_max_bytes = 1024 * 1024;
}

/* A receipt-shaped line (only its id matters to the thread). */
static void
receipt_job(struct rthread *rt, int i)
{
	char line[128];
	struct rjob *j = rjob_new(record, NULL);

	snprintf(line, sizeof(line), "{\"id\":\"rcpt_test%020d\",\"x\":1}", i);
	CHECK(j != NULL && rjob_receipt(j, line, strlen(line)) == 0);
	rthread_submit(rt, j);
}

/* The length of nm:receipts, asked directly. */
static long long
xlen(struct redis *r)
{
	redisReply *rep = redis_command(r, "XLEN nm:receipts");
	long long n = -1;

	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
		n = rep->integer;
	if (rep != NULL)
		freeReplyObject(rep);
	return n;
}

int
main(void)
{
	const char *url = getenv("NM_REDIS_URL"), *argv[3];
	char sha[41], spool[] = "/tmp/nm-test-rthread.XXXXXX", err[256];
	char path[512], key[32];
	struct config cfg, bad;
	struct metrics *m;
	struct rthread *rt;
	struct redis *r;
	struct rjob *j;
	struct stat st;
	int64_t t0;
	int i, n;

	if (url == NULL || *url == '\0') {
		printf("NM_REDIS_URL not set: skipped\n");
		return 77;
	}
	CHECK(mkdtemp(spool) != NULL);
	config_init(&cfg, url, spool);
	m = metrics_new();
	CHECK((r = redis_new(url, 1000, err, sizeof(err))) != NULL);
	freeReplyObject(redis_command(r, "DEL nm:receipts"));
	freeReplyObject(redis_command(r, "SCRIPT FLUSH"));

	CHECK(rthread_script(lua_echo, sha) == 0);
	CHECK(strlen(sha) == 40);
	rt = rthread_start(&cfg, m, "test-a", err, sizeof(err));
	CHECK(rt != NULL);

	/* EVALSHA of a script Redis does not know: loaded, run again. */
	j = rjob_new(record, NULL);
	argv[0] = "hello";
	CHECK(rjob_evalsha(j, sha, 0, 1, argv, NULL) == 0);
	rthread_submit(rt, j);
	CHECK(wait_done(1));
	CHECK_STR(last_reply, "hello!");

	/* Many jobs at once: every one answered, in order per key. */
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "nm:test:rt:%d", i % 10);
		argv[0] = "INCR";
		argv[1] = key;
		submit(rt, 2, argv);
	}
	CHECK(wait_done(201));
	argv[0] = "GET";
	argv[1] = "nm:test:rt:3";
	submit(rt, 2, argv);
	CHECK(wait_done(202));
	CHECK_STR(last_reply, "20");

	/* A delayed job waits its time, others do not wait for it. */
	t0 = nm_mono_ms();
	j = rjob_new(record, NULL);
	argv[0] = "PING";
	CHECK(rjob_cmd(j, 1, argv, NULL) == 0);
	j->not_before_ms = t0 + 300;
	rthread_submit(rt, j);
	submit(rt, 1, argv);
	CHECK(wait_done(203));
	CHECK(nm_mono_ms() - t0 < 250);
	CHECK(wait_done(204));
	CHECK(atomic_load(&done_at_ms) - t0 >= 300);

	/* Receipts go to the stream. */
	receipt_job(rt, 1);
	CHECK(wait_done(205));
	CHECK(xlen(r) == 1);
	rthread_stop(rt);

	/*
	 * Redis away (nothing listens on port 1): the first job waits for
	 * the failure, later ones fail at once (backoff); receipts spooled.
	 */
	config_init(&bad, "redis://127.0.0.1:1/0", spool);
	rt = rthread_start(&bad, m, "test-b", err, sizeof(err));
	CHECK(rt != NULL);
	usleep(100000);
	t0 = nm_mono_ms();
	for (i = 0; i < 20; i++)
		submit(rt, 1, argv);
	CHECK(wait_done(225));
	CHECK(nm_mono_ms() - t0 < 1000);
	CHECK_STR(last_reply, "(failed)");
	for (i = 2; i < 7; i++)
		receipt_job(rt, i);
	CHECK(wait_done(230));
	rthread_stop(rt);
	snprintf(path, sizeof(path), "%s/spool-test-b.jsonl", spool);
	CHECK(stat(path, &st) == 0 && st.st_size > 0);

	/* Another worker adopts the dead one's spool and replays it. */
	rt = rthread_start(&cfg, m, "test-c", err, sizeof(err));
	CHECK(rt != NULL);
	for (n = 0; n < 300 && xlen(r) < 6; n++)
		usleep(20000);
	CHECK(xlen(r) == 6);
	CHECK(stat(path, &st) != 0);
	rthread_stop(rt);

	snprintf(path, sizeof(path), "%s/spool-test-a.jsonl", spool);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/spool-test-c.jsonl", spool);
	(void)unlink(path);
	(void)rmdir(spool);
	freeReplyObject(redis_command(r, "DEL nm:receipts"));
	redis_free(r);
	metrics_free(m);
	UNIT_DONE();
}
