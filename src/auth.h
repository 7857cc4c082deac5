/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * API keys.  A key is "nm-" followed by 43 base64url characters (256
 * random bits); Redis stores only its SHA-256.  Layout (doc/redis-keys.md):
 *   nm:{auth}:key:<sha256 hex>  hash: id hash project team name created
 *                               revoked rpm tpm [revoked_at]
 *   nm:{auth}:id:<key id>       string: the sha256 hex, so a key can be
 *                               revoked by id
 *   nm:{auth}:ids               set of key ids
 * All share the hash tag {auth}: one slot on Redis Cluster, so the script
 * that creates a key may touch all three.
 * A worker keeps a short cache of lookups so revocation bites within
 * key_cache_ms (at most 5 s).
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>
#include <stdint.h>
#include "redis.h"

#define AUTH_KEY_LEN	46	/* "nm-" + 43 */
#define AUTH_ID_LEN	24	/* room for an id; ids are "key_" + 16 hex (20) */

struct key_record {
	char	 id[AUTH_ID_LEN + 1];	/* "key_" + 16 hex */
	char	 project[65];
	char	 team[65];		/* "" when none */
	char	 name[129];
	int64_t	 created;
	int	 revoked;
	int64_t	 rpm, tpm;		/* 0: no limit */
	char	 environment[33];	/* a label ("prod"); "" when none */
	int64_t	 expires;		/* Unix seconds; 0: never */
	char	 models[512];		/* allowed models, comma-separated; "": all */
	char	 sources[256];		/* allowed sources (providers); "": all */
	int	 admin;			/* the admin key (not stored in Redis) */
};

/*
 * Make a new key.  secret gets the key text (AUTH_KEY_LEN + 1 bytes), rec
 * its record.  Project/team/name must be 1..64 printable ASCII without
 * spaces (name: up to 128, spaces allowed); team and name may be NULL or
 * "".  rpm, tpm >= 0.  0, or -1 with err.
 */
int	auth_key_create(struct redis *, const char *project, const char *team,
	    const char *name, int64_t rpm, int64_t tpm, char *secret,
	    struct key_record *rec, char *err, size_t errlen);
/* The checks auth_key_create() makes on its labels, without Redis: 0 or -1 with err. */
int	auth_key_check_labels(const char *project, const char *team,
	    const char *name, char *err, size_t errlen);
/* 1 found and live, 0 unknown or revoked, -1 Redis failure. */
int	auth_key_lookup(struct redis *, const char *secret, struct key_record *);
/*
 * Call cb for every key (revoked ones too), sorted by creation then id;
 * 0/-1.  A non-zero return from cb stops the walk and makes it -1.
 */
int	auth_key_list(struct redis *, int (*cb)(void *, const struct key_record *),
	    void *arg, char *err, size_t errlen);
/* 0 revoked (or already was), 1 no such key, -1 Redis failure. */
int	auth_key_revoke(struct redis *, const char *id, char *err, size_t errlen);
/* The record of a key by id (revoked too): 1 found, 0 none, -1 err. */
int	auth_key_get_by_id(struct redis *, const char *id, struct key_record *,
	    char *err, size_t errlen);
/*
 * Change a key's own rate limits (-1 leaves one as is; 0: none).  Workers
 * see it within key_cache_ms.  0, 1 no such key, -1 err.
 */
int	auth_key_set_limits(struct redis *, const char *id, int64_t rpm,
	    int64_t tpm, char *err, size_t errlen);
/* A syntactically valid key? (prefix, length, alphabet) */
int	auth_key_wellformed(const char *secret, size_t len);

/* A thread-safe per-worker cache of lookups, negative ones included. */
struct auth_cache;
/* ttl_ms 0: always ask Redis; max_entries 0: 4096.  NULL if out of memory. */
struct auth_cache *auth_cache_new(long ttl_ms, size_t max_entries);
void	auth_cache_free(struct auth_cache *);	/* NULL does nothing */
/* A cached answer older than this never stands in for Redis (default 60 s). */
#define AUTH_MAX_STALE_MS	60000
void	auth_cache_max_stale(struct auth_cache *, long ms);
/*
 * Look up a key through the cache: 1 live (rec filled), 0 unknown or
 * revoked, -1 Redis failure and nothing cached.  A cached positive answer
 * older than ttl is refreshed from Redis (a negative one after
 * min(ttl, 1 s)); while Redis fails, a cached answer stands while it is
 * younger than the cache's max stale age (auth_cache_max_stale()), then -1.
 * Entries are keyed by the key's SHA-256; r is the calling thread's own.
 */
int	auth_cache_lookup(struct auth_cache *, struct redis *, const char *secret,
	    size_t len, struct key_record *rec);

/*
 * Set a key's environment label (1..32 printable ASCII without spaces):
 * 0, 1 no such key, -1 with err.
 */
int	auth_key_set_environment(struct redis *, const char *id,
	    const char *environment, char *err, size_t errlen);
/*
 * Set a key's expiry (Unix seconds) and what it may use (comma lists of
 * model names and of sources; NULL leaves one as it is): 0, 1 no such
 * key, -1 with err.
 */
int	auth_key_set_scope(struct redis *, const char *id, int64_t expires,
	    const char *models, const char *sources, char *err, size_t errlen);
/* 1 if name is in the comma list (an empty list allows everything). */
int	auth_list_allows(const char *list, const char *name);

/* Asynchronous lookups, for a worker's Redis thread. */
#define AUTH_ASK	(-2)
/*
 * The cache's answer: 1 live (rec filled), 0 unknown or revoked, AUTH_ASK
 * when Redis must be asked (h gets the key's SHA-256, to pass on).
 */
int	auth_cache_get(struct auth_cache *, const char *secret, size_t len,
	    unsigned char h[32], struct key_record *rec);
/*
 * 1 when the cache already knows the key is refused (malformed, or a fresh
 * negative answer), 0 when it may pass; changes nothing.  For answering
 * before a request's body is read.
 */
int	auth_cache_refuses(struct auth_cache *, const char *secret, size_t len);
/* The Redis key of the record of the key whose hash is h (HGETALL it). */
void	auth_record_key(const unsigned char h[32], char *out, size_t outlen);
/* Decode that HGETALL reply: 1 live (rec), 0 unknown or revoked, -1 error. */
int	auth_record_reply(const redisReply *, const unsigned char h[32],
	    struct key_record *rec);
/*
 * Store Redis's answer (rc 1 with fresh, 0, or -1 for a failure) and return
 * the one to use: on a failure a cached (stale) answer still stands if it
 * is younger than the max stale age.
 */
int	auth_cache_put(struct auth_cache *, const unsigned char h[32], int rc,
	    const struct key_record *fresh, struct key_record *rec);

#endif
