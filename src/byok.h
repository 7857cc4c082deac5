/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Bring your own keys: a project's own key for a source (provider), kept
 * in Redis encrypted with AES-256-GCM under a key derived from the server
 * secret (HKDF-SHA256), the project and provider names bound in as
 * additional authenticated data, so a value copied to another project or
 * provider does not decrypt.  Layout (doc/redis-keys.md):
 *   nm:{p:PROJECT}:byok:PROVIDER  hash: v (the sealed key), project,
 *                                 provider, fingerprint, set_at, set_by
 *   nm:byok:index                 set of those Redis key names
 * The sealed text is "nmbyok1:<kid>:<nonce>:<ciphertext+tag>", all hex;
 * kid names the server secret's derived key, so a value sealed under
 * another secret is told apart from a tampered one.
 * A per-worker cache keeps decrypted keys for a short time so a request
 * seldom waits on Redis; its entries are wiped when dropped.
 */
#ifndef BYOK_H
#define BYOK_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

#define BYOK_KEY_LEN		32	/* the derived AES-256 key */
#define BYOK_PLAIN_MAX		1024	/* a provider key's longest form */
#define BYOK_SEALED_MAX		(8 + 9 + 25 + 2 * (BYOK_PLAIN_MAX + 16) + 1)
#define BYOK_REDIS_KEY_MAX	(16 + 64 + 64 + 1)
#define BYOK_NAME_MAX		64
#define BYOK_FP_LEN		16	/* "sha256:" + 8 hex + NUL */

/* The derived key, and its short id (the first bytes of its own hash). */
struct byok_key {
	unsigned char	 k[BYOK_KEY_LEN];
	char		 kid[9];
};

/* What provider-key list shows: never the key. */
struct byok_info {
	char	 project[BYOK_NAME_MAX + 1];
	char	 provider[BYOK_NAME_MAX + 1];
	char	 fingerprint[BYOK_FP_LEN];
	int64_t	 set_at;			/* Unix seconds */
	char	 set_by[129];
};

/* Derive the key from the server secret; 0, or -1 (OpenSSL failed). */
int	byok_key_derive(const char *secret, size_t len, struct byok_key *);
/* Wipe it. */
void	byok_key_wipe(struct byok_key *);
/* The Redis key (a hash; HGET it "v") of (project, provider). */
void	byok_redis_key(const char *project, const char *provider, char *out,
	    size_t outlen);
/* The checks on names: project as key labels, provider as config names.  0/-1 + err. */
int	byok_check_names(const char *project, const char *provider, char *err,
	    size_t errlen);
/*
 * A provider key fit to store: 1..BYOK_PLAIN_MAX bytes, printable ASCII
 * only (no CR, LF, space or other control character).  0/-1 + err.
 */
int	byok_check_plain(const char *plain, size_t n, char *err, size_t errlen);
/* "sha256:" + the first 8 hex of SHA-256(plain) into out (BYOK_FP_LEN). */
void	byok_fingerprint(const char *plain, size_t n, char out[BYOK_FP_LEN]);
/* Seal plain for (project, provider) into out (BYOK_SEALED_MAX).  0/-1 + err. */
int	byok_seal(const struct byok_key *, const char *project,
	    const char *provider, const char *plain, size_t n, char *out,
	    size_t outlen, char *err, size_t errlen);
/*
 * Open a sealed value into out (NUL-terminated; the caller cleanses it).
 * 0, or -1 with err (malformed, other secret, other project or provider,
 * tampered); out is wiped then.
 */
int	byok_open(const struct byok_key *, const char *project,
	    const char *provider, const char *sealed, size_t len, char *out,
	    size_t outlen, char *err, size_t errlen);

/* Answers of the lookups below. */
#define BYOK_NONE	0	/* the project has no key of its own: use the config's */
#define BYOK_FOUND	1	/* out holds the project's key */
#define BYOK_BROKEN	(-2)	/* a key is stored but does not open: fail the request */
#define BYOK_ASK	(-3)	/* the cache cannot say: ask Redis */
/* -1: Redis failed and nothing is cached. */

/*
 * Decode the reply to HGET <byok_redis_key> v: BYOK_FOUND (out filled),
 * BYOK_NONE (nil), BYOK_BROKEN (does not open; err says why, never the
 * key), -1 (error reply).
 */
int	byok_reply(const struct byok_key *, const char *project,
	    const char *provider, const redisReply *, char *out, size_t outlen,
	    char *err, size_t errlen);
/* byok_reply's work on this thread's own connection: HGET then decode. */
int	byok_fetch(struct redis *, const struct byok_key *, const char *project,
	    const char *provider, char *out, size_t outlen, char *err,
	    size_t errlen);

/* A thread-safe per-worker cache of lookups, negative ones included. */
struct byok_cache;
/* ttl_ms 0: always ask; max_entries 0: 1024.  NULL if out of memory. */
struct byok_cache *byok_cache_new(long ttl_ms, size_t max_entries);
void	byok_cache_free(struct byok_cache *);	/* NULL does nothing; wipes */
/*
 * The cache's answer for (project, provider): BYOK_FOUND (out filled),
 * BYOK_NONE, BYOK_BROKEN, or BYOK_ASK.  A fresh entry answers; one older
 * than the ttl answers BYOK_ASK once (to one thread) while the others keep
 * using it until byok_cache_put() refreshes it.
 */
int	byok_cache_get(struct byok_cache *, const char *project,
	    const char *provider, char *out, size_t outlen);
/*
 * Store what Redis said (rc from byok_reply/byok_fetch, with out's key for
 * BYOK_FOUND) and give the answer to use in ans: on a Redis failure (rc
 * -1), a stale entry still stands; with none, -1.
 */
int	byok_cache_put(struct byok_cache *, const char *project,
	    const char *provider, int rc, const char *key, char *out,
	    size_t outlen);
/* Drop an entry (after provider-key set or clear in this process). */
void	byok_cache_forget(struct byok_cache *, const char *project,
	    const char *provider);
/* Entries in use (tests). */
size_t	byok_cache_count(struct byok_cache *);

/* For nextmodelctl. */
/* Seal and store; set_by names who.  0/-1 + err. */
int	byok_store(struct redis *, const struct byok_key *, const char *project,
	    const char *provider, const char *plain, size_t n,
	    const char *set_by, int64_t now, struct byok_info *info, char *err,
	    size_t errlen);
/* 0 removed, 1 there was none, -1 + err. */
int	byok_clear(struct redis *, const char *project, const char *provider,
	    char *err, size_t errlen);
/*
 * Call cb for each stored key (project filter NULL: all), sorted by project
 * then provider.  0/-1 + err; a non-zero cb return stops with -1.
 */
int	byok_list(struct redis *, const char *project,
	    int (*cb)(void *, const struct byok_info *), void *arg, char *err,
	    size_t errlen);

#endif
