/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * API keys and the lookup cache against a real Redis ($NM_REDIS_URL; the
 * test is skipped, exit 77, without it): key format, what Redis stores,
 * eight threads sharing one cache, the TTLs, and answers while Redis fails.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "crypto.h"
#include "redis.h"
#include "unit.h"

#define NKEYS		20
#define NTHREADS	8
#define NLOOKUPS	3000

static const struct {
	const char	*s;
	int		 ok;
} formats[] = {
	{ "nm-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1 },
	{ "nm-abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE", 1 },
	{ "nm-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0 },	/* 42 */
	{ "nm-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0 },	/* 44 */
	{ "nx-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0 },
	{ "NM-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0 },
	{ "nm-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", 0 },
	{ "nm-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0 },
	{ "nm-AAAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAA", 0 },
	{ "", 0 },
};

/* redis_new() parses without connecting; addr is what messages show. */
static const struct {
	const char	*url;
	const char	*addr;		/* NULL: refused */
} urls[] = {
	{ "redis://127.0.0.1:6379/0",		"127.0.0.1:6379/0" },
	{ "redis://localhost",			"localhost:6379/0" },
	{ "redis://localhost/",			"localhost:6379/0" },
	{ "redis://:pw@h:1/2",			"h:1/2" },
	{ "redis://user:p%40ss@h",		"h:6379/0" },
	{ "redis://[::1]:6380/3",		"[::1]:6380/3" },
	{ "unix:///run/redis.sock",		"/run/redis.sock?db=0" },
	{ "unix:///run/redis.sock?db=4",	"/run/redis.sock?db=4" },
	{ "unix://:pw@/run/redis.sock?db=4",	"/run/redis.sock?db=4" },
	{ "redis://",				NULL },
	{ "redis://h:0",			NULL },
	{ "redis://h:70000",			NULL },
	{ "redis://h:12x",			NULL },
	{ "redis://h:/1",			NULL },
	{ "redis://h/x",			NULL },
	{ "redis://h/-1",			NULL },
	{ "redis://h/1/2",			NULL },
	{ "redis://h?db=1",			"h:6379/1" },
	{ "redis://127.0.0.1:6379?db=0",	"127.0.0.1:6379/0" },
	{ "redis://:pw@h:6380/?db=2",		"h:6380/2" },
	{ "redis://h/1?db=2",			NULL },
	{ "redis://h?db=",			NULL },
	{ "redis://h?db=1x",			NULL },
	{ "redis://h?foo=1",			NULL },
	{ "redis://h?",				NULL },
	{ "redis://h#x",			NULL },
	{ "redis://[::1",			NULL },
	{ "redis://:%zz@h",			NULL },
	{ "redis://:%00@h",			NULL },
	{ "rediss://h",				NULL },
	{ "http://h",				NULL },
	{ "unix://",				NULL },
	{ "unix://host/run/redis.sock",		NULL },
	{ "unix:///p?db=x",			NULL },
	{ "unix:///p?foo=1",			NULL },
};

static const char	*url;
static char		 secrets[NKEYS][AUTH_KEY_LEN + 1];
static struct key_record recs[NKEYS];
static struct auth_cache *shared;

struct worker {
	unsigned	 seed;
	int		 wrong;
	int		 failed;
	int		 done;
};

/* Milliseconds on the monotonic clock. */
static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds. */
static void
sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A well-formed key that is in no Redis: "nm-" + 'Z' * 42 + c. */
static void
unknown_key(char *out, int c)
{
	memcpy(out, "nm-", 3);
	memset(out + 3, 'Z', 42);
	out[45] = (char)c;
	out[46] = '\0';
}

/*
 * Without Redis: while lookups fail, a cached answer stands only while it
 * is younger than the max stale age; then the answer is -1 (503), so a key
 * revoked while Redis is away stops working in bounded time.
 */
static void
max_stale_checks(void)
{
	struct auth_cache	*ac;
	struct key_record	 fresh, rec;
	unsigned char		 h[CRYPTO_SHA256_LEN], hn[CRYPTO_SHA256_LEN];
	char			 k[AUTH_KEY_LEN + 1], n[AUTH_KEY_LEN + 1];

	unknown_key(k, 'a');
	unknown_key(n, 'b');
	memset(&fresh, 0, sizeof(fresh));
	snprintf(fresh.id, sizeof(fresh.id), "key_0123456789abcdef");
	snprintf(fresh.project, sizeof(fresh.project), "p");
	ac = auth_cache_new(50, 16);
	CHECK(ac != NULL);
	if (ac == NULL)
		return;
	auth_cache_max_stale(ac, 400);
	CHECK(auth_cache_get(ac, k, strlen(k), h, &rec) == AUTH_ASK);
	CHECK(auth_cache_put(ac, h, 1, &fresh, &rec) == 1);
	CHECK(auth_cache_get(ac, n, strlen(n), hn, &rec) == AUTH_ASK);
	CHECK(auth_cache_put(ac, hn, 0, NULL, &rec) == 0);
	CHECK(auth_cache_get(ac, k, strlen(k), h, &rec) == 1);
	sleep_ms(120);
	/* Stale: ask Redis; it fails, the old answers stand. */
	CHECK(auth_cache_get(ac, k, strlen(k), h, &rec) == AUTH_ASK);
	/* Another thread meanwhile uses the entry being refreshed. */
	CHECK(auth_cache_get(ac, k, strlen(k), h, &rec) == 1);
	CHECK(auth_cache_put(ac, h, -1, NULL, &rec) == 1);
	CHECK_STR(rec.id, "key_0123456789abcdef");
	CHECK(auth_cache_get(ac, n, strlen(n), hn, &rec) == AUTH_ASK);
	CHECK(auth_cache_put(ac, hn, -1, NULL, &rec) == 0);
	sleep_ms(400);
	/* Too old to stand in for Redis, refreshing or not. */
	CHECK(auth_cache_get(ac, k, strlen(k), h, &rec) == AUTH_ASK);
	CHECK(auth_cache_get(ac, k, strlen(k), h, &rec) == AUTH_ASK);
	CHECK(auth_cache_put(ac, h, -1, NULL, &rec) == -1);
	CHECK(rec.id[0] == '\0');
	CHECK(auth_cache_get(ac, n, strlen(n), hn, &rec) == AUTH_ASK);
	CHECK(auth_cache_put(ac, hn, -1, NULL, &rec) == -1);
	/* Redis back: fresh answers again. */
	CHECK(auth_cache_put(ac, h, 1, &fresh, &rec) == 1);
	CHECK(auth_cache_get(ac, k, strlen(k), h, &rec) == 1);
	/* 0: a failing Redis is never covered for. */
	auth_cache_max_stale(ac, 0);
	sleep_ms(60);
	CHECK(auth_cache_get(ac, k, strlen(k), h, &rec) == AUTH_ASK);
	CHECK(auth_cache_put(ac, h, -1, NULL, &rec) == -1);
	auth_cache_free(ac);
}

/* One thread: random lookups of known, unknown and malformed keys. */
static void *
worker_main(void *arg)
{
	struct worker		*w = arg;
	struct redis		*r;
	struct key_record	 rec;
	char			 err[256], unk[AUTH_KEY_LEN + 1];
	int			 i, k, rc;

	if ((r = redis_new(url, 2000, err, sizeof(err))) == NULL) {
		w->failed = NLOOKUPS;
		return NULL;
	}
	for (i = 0; i < NLOOKUPS; i++) {
		k = (int)(rand_r(&w->seed) % (NKEYS + 4));
		if (k < NKEYS) {
			rc = auth_cache_lookup(shared, r, secrets[k],
			    AUTH_KEY_LEN, &rec);
			if (rc == -1)
				w->failed++;
			else if (rc != 1 || strcmp(rec.id, recs[k].id) != 0 ||
			    strcmp(rec.project, recs[k].project) != 0)
				w->wrong++;
		} else if (k < NKEYS + 3) {
			unknown_key(unk, 'a' + k - NKEYS);
			rc = auth_cache_lookup(shared, r, unk, AUTH_KEY_LEN, &rec);
			if (rc == -1)
				w->failed++;
			else if (rc != 0 || rec.id[0] != '\0')
				w->wrong++;
		} else {
			rc = auth_cache_lookup(shared, r, "nm-short", 8, &rec);
			if (rc != 0)
				w->wrong++;
		}
		w->done++;
	}
	redis_free(r);
	return NULL;
}

/* Remove what the test created. */
static void
cleanup(struct redis *r)
{
	char		 hex[CRYPTO_SHA256_HEXLEN + 1];
	redisReply	*rep;
	int		 i;

	for (i = 0; i < NKEYS; i++) {
		if (secrets[i][0] == '\0')
			continue;
		crypto_sha256_hex(secrets[i], AUTH_KEY_LEN, hex);
		rep = redis_command(r, "DEL nm:{auth}:key:%s nm:{auth}:id:%s", hex,
		    recs[i].id);
		freeReplyObject(rep);
		rep = redis_command(r, "SREM nm:{auth}:ids %s", recs[i].id);
		freeReplyObject(rep);
	}
	unknown_key(secrets[0], 'q');
	crypto_sha256_hex(secrets[0], AUTH_KEY_LEN, hex);
	rep = redis_command(r, "DEL nm:{auth}:key:%s", hex);
	freeReplyObject(rep);
}

int
main(void)
{
	struct redis		*r, *dead;
	struct auth_cache	*ac;
	struct key_record	 rec;
	struct worker		 w[NTHREADS];
	pthread_t		 t[NTHREADS];
	redisReply		*rep;
	char			 err[256], hex[CRYPTO_SHA256_HEXLEN + 1];
	char			 unk[AUTH_KEY_LEN + 1], name[32];
	int64_t			 t0, el;
	size_t			 i, j;
	int			 rc, wrong = 0, failed = 0, done = 0;

	auth_cache_free(NULL);
	redis_free(NULL);
	max_stale_checks();
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		CHECK(auth_key_wellformed(formats[i].s,
		    strlen(formats[i].s)) == formats[i].ok);
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		err[0] = '\0';
		r = redis_new(urls[i].url, 100, err, sizeof(err));
		if (urls[i].addr != NULL) {
			CHECK(r != NULL);
			if (r != NULL)
				CHECK_STR(redis_addr(r), urls[i].addr);
		} else {
			CHECK(r == NULL);
			CHECK(strncmp(err, "redis URL: ", 11) == 0);
		}
		redis_free(r);
		/* The config check says what redis_new() says. */
		CHECK(redis_url_check(urls[i].url, err, sizeof(err)) ==
		    (urls[i].addr != NULL ? 0 : -1));
	}
	/* No Redis handle at all (a URL the module refused) is a failure, not a crash. */
	memset(unk, 'A', AUTH_KEY_LEN);
	memcpy(unk, "nm-", 3);
	unk[AUTH_KEY_LEN] = '\0';
	CHECK(auth_key_lookup(NULL, unk, &rec) == -1);
	ac = auth_cache_new(1000, 4);
	CHECK(ac != NULL);
	if (ac != NULL) {
		CHECK(auth_cache_lookup(ac, NULL, unk, strlen(unk), &rec) == -1);
		auth_cache_free(ac);
	}
	/* Nothing listens on port 1: the error names the address, not the password. */
	r = redis_new("redis://admin:Hunter2pw@127.0.0.1:1/0", 300, err,
	    sizeof(err));
	CHECK(r != NULL && redis_ping(r) == -1);
	if (r != NULL) {
		CHECK(strncmp(redis_errstr(r), "redis 127.0.0.1:1/0: ", 21) == 0);
		CHECK(strstr(redis_errstr(r), "Hunter2pw") == NULL);
		CHECK(strstr(redis_errstr(r), "admin") == NULL);
	}
	redis_free(r);
	if ((url = getenv("NM_REDIS_URL")) == NULL || *url == '\0') {
		printf("NM_REDIS_URL is not set: skipped\n");
		return unit_failures ? 1 : 77;
	}
	signal(SIGPIPE, SIG_IGN);
	r = redis_new(url, 2000, err, sizeof(err));
	CHECK(r != NULL);
	if (r == NULL || redis_ping(r) == -1) {
		fprintf(stderr, "%s\n", r ? redis_errstr(r) : err);
		return 1;
	}

	/* A pipeline returns error replies in place. */
	{
		const char	*a1[] = { "SET", "nm:test:authcache", "v" };
		const char	*a2[] = { "NO-SUCH-COMMAND" };
		const char	*a3[] = { "GET", "nm:test:authcache" };
		const char	**av[] = { a1, a2, a3 };
		const int	 argc[] = { 3, 1, 2 };
		redisReply	*out[3];

		CHECK(redis_pipeline(r, 3, argc, av, NULL, out) == 0);
		CHECK(out[0]->type == REDIS_REPLY_STATUS);
		CHECK(out[1]->type == REDIS_REPLY_ERROR);
		CHECK(out[2]->type == REDIS_REPLY_STRING &&
		    strcmp(out[2]->str, "v") == 0);
		for (i = 0; i < 3; i++)
			freeReplyObject(out[i]);
	}
	/* A connection closed by the server is reopened once, silently. */
	dead = redis_new(url, 2000, err, sizeof(err));
	rep = redis_command(dead, "CLIENT KILL TYPE normal SKIPME yes");
	CHECK(rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
	    rep->integer >= 1);
	freeReplyObject(rep);
	redis_free(dead);
	rep = redis_command(r, "GET nm:test:authcache");
	CHECK(rep != NULL && rep->type == REDIS_REPLY_STRING);
	freeReplyObject(rep);
	rep = redis_command(r, "DEL nm:test:authcache");
	freeReplyObject(rep);
	/* A timeout is not retried (the command may be running); then all is well. */
	dead = redis_new(url, 200, err, sizeof(err));
	t0 = mono_ms();
	CHECK(redis_command(dead, "BLPOP nm:test:nothing 1") == NULL);
	el = mono_ms() - t0;
	CHECK(el >= 150 && el < 900);
	CHECK(strstr(redis_errstr(dead), "no answer within 200 ms") != NULL);
	CHECK(redis_ping(dead) == 0);
	redis_free(dead);

	/* Create: format, record, what Redis holds. */
	for (i = 0; i < NKEYS; i++) {
		snprintf(name, sizeof(name), "test key %zu", i);
		rc = auth_key_create(r, "proj-a", i % 2 ? "team-b" : NULL, name,
		    (int64_t)i, (int64_t)i * 1000, secrets[i], &recs[i], err,
		    sizeof(err));
		CHECK(rc == 0);
		CHECK(auth_key_wellformed(secrets[i], strlen(secrets[i])));
		CHECK(strlen(recs[i].id) == 20 &&
		    strncmp(recs[i].id, "key_", 4) == 0);
		CHECK_STR(recs[i].team, i % 2 ? "team-b" : "");
		CHECK_STR(recs[i].name, name);
		for (j = 0; j < i; j++)
			CHECK(strcmp(secrets[i], secrets[j]) != 0 &&
			    strcmp(recs[i].id, recs[j].id) != 0);
	}
	crypto_sha256_hex(secrets[3], AUTH_KEY_LEN, hex);
	rep = redis_command(r, "HGET nm:{auth}:key:%s hash", hex);
	CHECK(rep != NULL && rep->type == REDIS_REPLY_STRING &&
	    strcmp(rep->str, hex) == 0);
	freeReplyObject(rep);
	rep = redis_command(r, "GET nm:{auth}:id:%s", recs[3].id);
	CHECK(rep != NULL && rep->type == REDIS_REPLY_STRING &&
	    strcmp(rep->str, hex) == 0);
	freeReplyObject(rep);
	rep = redis_command(r, "SISMEMBER nm:{auth}:ids %s", recs[3].id);
	CHECK(rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
	    rep->integer == 1);
	freeReplyObject(rep);
	rep = redis_command(r, "HGETALL nm:{auth}:key:%s", hex);
	CHECK(rep != NULL && rep->type == REDIS_REPLY_ARRAY);
	for (i = 0; rep != NULL && i < rep->elements; i++)
		CHECK(strstr(rep->element[i]->str, secrets[3] + 3) == NULL);
	freeReplyObject(rep);

	/* Bad input is refused. */
	CHECK(auth_key_create(r, "", NULL, NULL, 0, 0, unk, &rec, err,
	    sizeof(err)) == -1);
	CHECK(auth_key_create(r, "has space", NULL, NULL, 0, 0, unk, &rec,
	    err, sizeof(err)) == -1);
	CHECK(auth_key_create(r, "p", NULL, NULL, -1, 0, unk, &rec, err,
	    sizeof(err)) == -1);

	/* Direct lookups. */
	CHECK(auth_key_lookup(r, secrets[5], &rec) == 1);
	CHECK_STR(rec.id, recs[5].id);
	CHECK_STR(rec.project, "proj-a");
	CHECK_STR(rec.team, "team-b");
	CHECK(rec.rpm == 5 && rec.tpm == 5000 && rec.revoked == 0 &&
	    rec.created == recs[5].created && rec.admin == 0);
	unknown_key(unk, 'x');
	CHECK(auth_key_lookup(r, unk, &rec) == 0);
	CHECK(auth_key_lookup(r, "nm-bad", &rec) == 0);
	/* A record under the wrong hash does not authenticate. */
	crypto_sha256_hex(unk, AUTH_KEY_LEN, hex);
	rep = redis_command(r, "HSET nm:{auth}:key:%s id key_00000000000000aa "
	    "hash 0000000000000000000000000000000000000000000000000000000000000000 "
	    "project p created 1 revoked 0 rpm 0 tpm 0", hex);
	freeReplyObject(rep);
	CHECK(auth_key_lookup(r, unk, &rec) == 0);
	rep = redis_command(r, "DEL nm:{auth}:key:%s", hex);
	freeReplyObject(rep);

	/* Eight threads, one cache smaller than the key set (eviction). */
	shared = auth_cache_new(100, 8);
	CHECK(shared != NULL);
	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].seed = (unsigned)(i * 7919 + 1);
		CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		wrong += w[i].wrong;
		failed += w[i].failed;
		done += w[i].done;
	}
	CHECK(wrong == 0);
	CHECK(failed == 0);
	CHECK(done == NTHREADS * NLOOKUPS);
	auth_cache_free(shared);

	/* TTLs: positive answers kept ttl (1500 ms), negative ones 1 s. */
	ac = auth_cache_new(1500, 64);
	CHECK(auth_cache_lookup(ac, r, secrets[0], AUTH_KEY_LEN, &rec) == 1);
	t0 = mono_ms();
	CHECK(auth_key_revoke(r, recs[0].id, err, sizeof(err)) == 0);
	CHECK(auth_key_revoke(r, recs[0].id, err, sizeof(err)) == 0);
	CHECK(auth_key_revoke(r, "key_ffffffffffffffff", err, sizeof(err)) == 1);
	CHECK(auth_key_revoke(r, "nonsense", err, sizeof(err)) == 1);
	CHECK(auth_key_lookup(r, secrets[0], &rec) == 0);
	rc = auth_cache_lookup(ac, r, secrets[0], AUTH_KEY_LEN, &rec);
	if (mono_ms() - t0 < 1400)
		CHECK(rc == 1);		/* still the cached answer */
	unknown_key(unk, 'q');
	CHECK(auth_cache_lookup(ac, r, unk, AUTH_KEY_LEN, &rec) == 0);
	crypto_sha256_hex(unk, AUTH_KEY_LEN, hex);
	rep = redis_command(r, "HSET nm:{auth}:key:%s id key_00000000000000ab hash %s "
	    "project late created 1 revoked 0 rpm 0 tpm 0", hex, hex);
	freeReplyObject(rep);
	t0 = mono_ms();
	rc = auth_cache_lookup(ac, r, unk, AUTH_KEY_LEN, &rec);
	if (mono_ms() - t0 < 900)
		CHECK(rc == 0);		/* the negative answer, cached */
	sleep_ms(1100);
	CHECK(auth_cache_lookup(ac, r, unk, AUTH_KEY_LEN, &rec) == 1);
	CHECK_STR(rec.project, "late");
	sleep_ms(500);
	CHECK(auth_cache_lookup(ac, r, secrets[0], AUTH_KEY_LEN, &rec) == 0);
	CHECK(rec.id[0] == '\0');

	/* Redis gone: cached answers stand (even stale), others are -1. */
	CHECK(auth_cache_lookup(ac, r, secrets[1], AUTH_KEY_LEN, &rec) == 1);
	dead = redis_new("redis://127.0.0.1:1/0", 200, err, sizeof(err));
	CHECK(dead != NULL);
	sleep_ms(1600);
	el = mono_ms();
	CHECK(auth_cache_lookup(ac, dead, secrets[1], AUTH_KEY_LEN, &rec) == 1);
	CHECK_STR(rec.id, recs[1].id);
	CHECK(auth_cache_lookup(ac, dead, secrets[2], AUTH_KEY_LEN, &rec) == -1);
	CHECK(auth_cache_lookup(ac, dead, secrets[0], AUTH_KEY_LEN, &rec) == 0);
	CHECK(mono_ms() - el < 5000);
	redis_free(dead);
	auth_cache_free(ac);

	cleanup(r);
	redis_free(r);
	UNIT_DONE();
}
