/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A worker's API-key lookup cache, on its HTTP threads: keyed by the
 * SHA-256 of the key, never its text, with a short memory of refused keys
 * and stale entries that stand for a bounded time while Redis is away.
 * The records themselves are auth.c's.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "auth.h"
#include "crypto.h"

#define AUTH_NEG_MAX_MS		1000	/* a refused key is remembered no longer */

#define CACHE_NONE	UINT32_MAX

struct cache_entry {
	unsigned char		 hash[CRYPTO_SHA256_LEN];
	int			 live;		/* 1 live, 0 unknown or revoked */
	int			 refreshing;	/* a thread is asking Redis */
	int64_t			 fetched_ms;	/* monotonic */
	struct key_record	 rec;
	uint32_t		 next;		/* bucket chain */
	uint32_t		 lru_prev, lru_next;
};

struct auth_cache {
	pthread_mutex_t		 lock;
	long			 ttl_ms;
	long			 neg_ms;
	long			 max_stale_ms;	/* a stale entry stands no longer */
	uint32_t		 max;
	uint32_t		 nbuckets;	/* a power of two */
	uint32_t		*buckets;
	struct cache_entry	*e;
	uint32_t		 nused;
	uint32_t		 free_head;	/* unused entries, via next */
	uint32_t		 lru_head, lru_tail;	/* head: most recent */
};

/* A new cache; NULL if out of memory.  Caller frees with auth_cache_free(). */
struct auth_cache *
auth_cache_new(long ttl_ms, size_t max_entries)
{
	struct auth_cache	*ac;
	uint32_t		 i;

	if (max_entries == 0)
		max_entries = 4096;
	if (max_entries > (1u << 24))
		max_entries = 1u << 24;
	if (ttl_ms < 0)
		ttl_ms = 0;
	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		return NULL;
	ac->ttl_ms = ttl_ms;
	ac->neg_ms = ttl_ms < AUTH_NEG_MAX_MS ? ttl_ms : AUTH_NEG_MAX_MS;
	ac->max_stale_ms = AUTH_MAX_STALE_MS;
	ac->max = (uint32_t)max_entries;
	for (ac->nbuckets = 16; ac->nbuckets < ac->max; ac->nbuckets <<= 1)
		;
	ac->buckets = malloc(ac->nbuckets * sizeof(*ac->buckets));
	ac->e = calloc(ac->max, sizeof(*ac->e));
	if (ac->buckets == NULL || ac->e == NULL ||
	    pthread_mutex_init(&ac->lock, NULL) != 0) {
		free(ac->buckets);
		free(ac->e);
		free(ac);
		return NULL;
	}
	for (i = 0; i < ac->nbuckets; i++)
		ac->buckets[i] = CACHE_NONE;
	for (i = 0; i < ac->max; i++)
		ac->e[i].next = i + 1 < ac->max ? i + 1 : CACHE_NONE;
	ac->free_head = 0;
	ac->lru_head = ac->lru_tail = CACHE_NONE;
	return ac;
}

/* How old a cached answer may be and still stand while Redis fails. */
void
auth_cache_max_stale(struct auth_cache *ac, long ms)
{
	pthread_mutex_lock(&ac->lock);
	ac->max_stale_ms = ms < 0 ? 0 : ms;
	pthread_mutex_unlock(&ac->lock);
}

/* Free the cache, wiping the records.  NULL does nothing. */
void
auth_cache_free(struct auth_cache *ac)
{
	if (ac == NULL)
		return;
	pthread_mutex_destroy(&ac->lock);
	crypto_cleanse(ac->e, ac->max * sizeof(*ac->e));
	free(ac->e);
	free(ac->buckets);
	free(ac);
}

/* Bucket of a hash: its first bytes are already uniform. */
static uint32_t
bucket_of(const struct auth_cache *ac, const unsigned char *h)
{
	uint32_t	 v;

	memcpy(&v, h, sizeof(v));
	return v & (ac->nbuckets - 1);
}

/* Entry index for h, or CACHE_NONE.  Lock held. */
static uint32_t
cache_find(struct auth_cache *ac, const unsigned char *h)
{
	uint32_t	 i;

	for (i = ac->buckets[bucket_of(ac, h)]; i != CACHE_NONE; i = ac->e[i].next)
		if (memcmp(ac->e[i].hash, h, CRYPTO_SHA256_LEN) == 0)
			return i;
	return CACHE_NONE;
}

/* Take entry i off the LRU list.  Lock held. */
static void
lru_unlink(struct auth_cache *ac, uint32_t i)
{
	struct cache_entry	*e = &ac->e[i];

	if (e->lru_prev != CACHE_NONE)
		ac->e[e->lru_prev].lru_next = e->lru_next;
	else
		ac->lru_head = e->lru_next;
	if (e->lru_next != CACHE_NONE)
		ac->e[e->lru_next].lru_prev = e->lru_prev;
	else
		ac->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = CACHE_NONE;
}

/* Put entry i at the head of the LRU list.  Lock held. */
static void
lru_push(struct auth_cache *ac, uint32_t i)
{
	struct cache_entry	*e = &ac->e[i];

	e->lru_prev = CACHE_NONE;
	e->lru_next = ac->lru_head;
	if (ac->lru_head != CACHE_NONE)
		ac->e[ac->lru_head].lru_prev = i;
	ac->lru_head = i;
	if (ac->lru_tail == CACHE_NONE)
		ac->lru_tail = i;
}

/* Drop entry i (chain, LRU) back to the free list.  Lock held. */
static void
cache_evict(struct auth_cache *ac, uint32_t i)
{
	uint32_t	*pp;

	pp = &ac->buckets[bucket_of(ac, ac->e[i].hash)];
	while (*pp != i)
		pp = &ac->e[*pp].next;
	*pp = ac->e[i].next;
	lru_unlink(ac, i);
	crypto_cleanse(&ac->e[i], sizeof(ac->e[i]));
	ac->e[i].next = ac->free_head;
	ac->free_head = i;
	ac->nused--;
}

/* Store an answer for h, evicting the least recently used entry if full.  Lock held. */
static void
cache_store(struct auth_cache *ac, const unsigned char *h, int live,
    const struct key_record *rec, int64_t now)
{
	struct cache_entry	*e;
	uint32_t		 i, b;

	if ((i = cache_find(ac, h)) == CACHE_NONE) {
		if (ac->free_head == CACHE_NONE)
			cache_evict(ac, ac->lru_tail);
		i = ac->free_head;
		e = &ac->e[i];
		ac->free_head = e->next;
		memcpy(e->hash, h, CRYPTO_SHA256_LEN);
		b = bucket_of(ac, h);
		e->next = ac->buckets[b];
		ac->buckets[b] = i;
		ac->nused++;
	} else
		lru_unlink(ac, i);
	e = &ac->e[i];
	lru_push(ac, i);
	e->live = live;
	e->refreshing = 0;
	e->fetched_ms = now;
	if (live)
		e->rec = *rec;
	else
		memset(&e->rec, 0, sizeof(e->rec));
}

/*
 * The cache's answer for a key: 1 live (rec filled), 0 unknown or revoked,
 * AUTH_ASK when Redis must be asked (h has the key's hash; the entry, if
 * any, is marked as being refreshed so other threads keep using it).
 */
int
auth_cache_get(struct auth_cache *ac, const char *secret, size_t len,
    unsigned char h[CRYPTO_SHA256_LEN], struct key_record *rec)
{
	struct cache_entry	*e;
	int64_t			 now;
	uint32_t		 i;
	int			 rc;

	memset(rec, 0, sizeof(*rec));
	if (!auth_key_wellformed(secret, len))
		return 0;
	crypto_sha256(secret, len, h);
	pthread_mutex_lock(&ac->lock);
	now = nm_mono_ms();
	if ((i = cache_find(ac, h)) != CACHE_NONE) {
		e = &ac->e[i];
		lru_unlink(ac, i);
		lru_push(ac, i);
		if (now - e->fetched_ms < (e->live ? ac->ttl_ms : ac->neg_ms) ||
		    (e->live && e->refreshing &&
		    now - e->fetched_ms < ac->max_stale_ms)) {
			/* Fresh, or another thread is refreshing it now. */
			rc = e->live;
			if (rc)
				*rec = e->rec;
			pthread_mutex_unlock(&ac->lock);
			return rc;
		}
		if (e->live)
			e->refreshing = 1;
	}
	pthread_mutex_unlock(&ac->lock);
	return AUTH_ASK;
}

/*
 * Whether the cache already knows the key will be refused (malformed, or a
 * fresh negative entry), without touching the entry: 1 refused, 0 maybe.
 */
int
auth_cache_refuses(struct auth_cache *ac, const char *secret, size_t len)
{
	unsigned char		 h[CRYPTO_SHA256_LEN];
	const struct cache_entry *e;
	uint32_t		 i;
	int			 rc = 0;

	if (!auth_key_wellformed(secret, len))
		return 1;
	crypto_sha256(secret, len, h);
	pthread_mutex_lock(&ac->lock);
	if ((i = cache_find(ac, h)) != CACHE_NONE) {
		e = &ac->e[i];
		rc = !e->live && nm_mono_ms() - e->fetched_ms < ac->neg_ms;
	}
	pthread_mutex_unlock(&ac->lock);
	return rc;
}

/*
 * Store what Redis said of h (rc 1 live with fresh, 0 unknown, -1 Redis
 * failed) and give the answer to use: on a failure, a stale entry still
 * stands (and the next call asks again) unless it is older than
 * max_stale_ms, so a key revoked while Redis is away stops working in
 * bounded time; with none, or one too old, -1.
 */
int
auth_cache_put(struct auth_cache *ac, const unsigned char h[CRYPTO_SHA256_LEN],
    int rc, const struct key_record *fresh, struct key_record *rec)
{
	struct cache_entry	*e;
	uint32_t		 i;

	memset(rec, 0, sizeof(*rec));
	pthread_mutex_lock(&ac->lock);
	if (rc >= 0) {
		cache_store(ac, h, rc, fresh, nm_mono_ms());
		if (rc == 1)
			*rec = *fresh;
	} else if ((i = cache_find(ac, h)) != CACHE_NONE) {
		e = &ac->e[i];
		e->refreshing = 0;
		if (nm_mono_ms() - e->fetched_ms < ac->max_stale_ms) {
			rc = e->live;
			if (rc)
				*rec = e->rec;
		}
	}
	pthread_mutex_unlock(&ac->lock);
	return rc;
}
