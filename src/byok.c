/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Bring your own keys: sealing and opening a project's provider key, the
 * Redis layout nextmodelctl writes and the gateway reads, and the
 * per-worker cache of opened keys.  OpenSSL stays in crypto.c; this file
 * only arranges bytes.  A provider key is never logged or put in an error
 * message: errors say what failed, not with what.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "nextmodel.h"
#include "auth.h"
#include "crypto.h"
#include "byok.h"

#define BYOK_VERSION	"nmbyok1"
#define BYOK_INDEX	"nm:byok:index"
#define BYOK_AAD_TAG	"nextmodel byok v1"
#define BYOK_SALT	"nextmodel byok salt v1"
#define BYOK_INFO	"nextmodel byok aes-256-gcm v1"
#define BYOK_NEG_MAX_MS	1000

/* Derive the AES key from the server secret, and its id. */
int
byok_key_derive(const char *secret, size_t len, struct byok_key *bk)
{
	unsigned char	 h[CRYPTO_SHA256_LEN];

	memset(bk, 0, sizeof(*bk));
	if (crypto_hkdf_sha256(secret, len, BYOK_SALT, strlen(BYOK_SALT),
	    BYOK_INFO, strlen(BYOK_INFO), bk->k, sizeof(bk->k)) != 0)
		return -1;
	/* The id is a hash of the key, under a label of its own. */
	crypto_hmac_sha256(bk->k, sizeof(bk->k), "kid", 3, h);
	crypto_hex(h, 4, bk->kid);
	crypto_cleanse(h, sizeof(h));
	return 0;
}

/* Wipe a derived key. */
void
byok_key_wipe(struct byok_key *bk)
{
	crypto_cleanse(bk, sizeof(*bk));
}

/* The hash holding (project, provider). */
void
byok_redis_key(const char *project, const char *provider, char *out,
    size_t outlen)
{
	snprintf(out, outlen, "nm:{p:%s}:byok:%s", project, provider);
}

/* Project as a key label; provider as a config provider name. */
int
byok_check_names(const char *project, const char *provider, char *err,
    size_t errlen)
{
	const char	*p;

	if (project == NULL) {
		snprintf(err, errlen, "a project is required");
		return -1;
	}
	if (auth_key_check_labels(project, NULL, NULL, err, errlen) != 0)
		return -1;
	if (provider == NULL || provider[0] == '\0' ||
	    strlen(provider) > BYOK_NAME_MAX) {
		snprintf(err, errlen, "a provider name is 1 to %d characters",
		    BYOK_NAME_MAX);
		return -1;
	}
	for (p = provider; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		    *p == '-')) {
			snprintf(err, errlen, "a provider name has letters, "
			    "digits, _ . - only");
			return -1;
		}
	return 0;
}

/* Printable ASCII, no space, 1..BYOK_PLAIN_MAX bytes. */
int
byok_check_plain(const char *plain, size_t n, char *err, size_t errlen)
{
	size_t	 i;

	if (n == 0) {
		snprintf(err, errlen, "the key is empty");
		return -1;
	}
	if (n > BYOK_PLAIN_MAX) {
		snprintf(err, errlen, "the key is longer than %d bytes",
		    BYOK_PLAIN_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)plain[i];

		if (c <= 0x20 || c >= 0x7f) {
			/* Say where and what kind, never the character itself. */
			snprintf(err, errlen, "the key has a %s at byte %zu "
			    "(only printable ASCII, no spaces)", c == '\r' ?
			    "carriage return" : c == '\n' ? "line feed" :
			    c == ' ' ? "space" : c >= 0x7f ?
			    "non-ASCII byte" : "control character", i + 1);
			return -1;
		}
	}
	return 0;
}

/* A short, safe-to-show fingerprint. */
void
byok_fingerprint(const char *plain, size_t n, char out[BYOK_FP_LEN])
{
	unsigned char	 h[CRYPTO_SHA256_LEN];
	char		 hex[9];

	crypto_sha256(plain, n, h);
	crypto_hex(h, 4, hex);
	snprintf(out, BYOK_FP_LEN, "sha256:%s", hex);
}

/* The additional data: a version tag, project and provider, NUL apart. */
static size_t
aad_build(const char *project, const char *provider, char *out, size_t outlen)
{
	int	 n;

	n = snprintf(out, outlen, "%s%c%s%c%s", BYOK_AAD_TAG, '\0', project,
	    '\0', provider);
	return n < 0 || (size_t)n >= outlen ? 0 : (size_t)n;
}

/* n hex digits into bytes; 0/-1. */
static int
unhex(const char *s, size_t n, unsigned char *out)
{
	size_t	 i;
	int	 hi, lo;

	if (n % 2 != 0)
		return -1;
	for (i = 0; i < n; i += 2) {
		hi = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
		    s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;
		lo = s[i + 1] >= '0' && s[i + 1] <= '9' ? s[i + 1] - '0' :
		    s[i + 1] >= 'a' && s[i + 1] <= 'f' ? s[i + 1] - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* Seal plain for (project, provider). */
int
byok_seal(const struct byok_key *bk, const char *project,
    const char *provider, const char *plain, size_t n, char *out,
    size_t outlen, char *err, size_t errlen)
{
	unsigned char	 nonce[CRYPTO_GCM_NONCELEN], tag[CRYPTO_GCM_TAGLEN];
	unsigned char	 ct[BYOK_PLAIN_MAX + CRYPTO_GCM_TAGLEN];
	char		 aad[sizeof(BYOK_AAD_TAG) + 2 * BYOK_NAME_MAX + 4];
	char		 nhex[2 * CRYPTO_GCM_NONCELEN + 1];
	size_t		 aadlen, off;
	int		 rc = -1;

	if (byok_check_names(project, provider, err, errlen) != 0 ||
	    byok_check_plain(plain, n, err, errlen) != 0)
		return -1;
	if (outlen < BYOK_SEALED_MAX) {
		snprintf(err, errlen, "no room for the sealed key");
		return -1;
	}
	if ((aadlen = aad_build(project, provider, aad, sizeof(aad))) == 0) {
		snprintf(err, errlen, "names too long");
		return -1;
	}
	/* A random 96-bit nonce per seal: 2^-32 collision odds after 2^32 seals. */
	if (crypto_random(nonce, sizeof(nonce)) != 0) {
		snprintf(err, errlen, "no random bytes");
		return -1;
	}
	if (crypto_aes256gcm_seal(bk->k, nonce, aad, aadlen, plain, n, ct,
	    tag) != 0) {
		snprintf(err, errlen, "encryption failed");
		goto out;
	}
	memcpy(ct + n, tag, sizeof(tag));
	crypto_hex(nonce, sizeof(nonce), nhex);
	off = (size_t)snprintf(out, outlen, "%s:%s:%s:", BYOK_VERSION, bk->kid,
	    nhex);
	crypto_hex(ct, n + sizeof(tag), out + off);
	rc = 0;
out:
	crypto_cleanse(ct, sizeof(ct));
	return rc;
}

/* Open a sealed value for (project, provider). */
int
byok_open(const struct byok_key *bk, const char *project,
    const char *provider, const char *sealed, size_t len, char *out,
    size_t outlen, char *err, size_t errlen)
{
	unsigned char	 nonce[CRYPTO_GCM_NONCELEN];
	unsigned char	 ct[BYOK_PLAIN_MAX + CRYPTO_GCM_TAGLEN];
	char		 aad[sizeof(BYOK_AAD_TAG) + 2 * BYOK_NAME_MAX + 4];
	const char	*p = sealed, *end = sealed + len;
	size_t		 aadlen, ctlen, hexlen, vlen = strlen(BYOK_VERSION);

	if (outlen > 0)
		out[0] = '\0';
	if (len < vlen + 1 || memcmp(p, BYOK_VERSION, vlen) != 0 ||
	    p[vlen] != ':') {
		snprintf(err, errlen, "not a sealed key of a version this "
		    "program reads");
		return -1;
	}
	p += vlen + 1;
	if (end - p < 8 + 1 + 2 * CRYPTO_GCM_NONCELEN + 1 || p[8] != ':' ||
	    p[9 + 2 * CRYPTO_GCM_NONCELEN] != ':') {
		snprintf(err, errlen, "malformed sealed key");
		return -1;
	}
	if (memcmp(p, bk->kid, 8) != 0) {
		snprintf(err, errlen, "sealed under another server secret "
		    "(key id %.8s, this secret's is %s)", p, bk->kid);
		return -1;
	}
	if (unhex(p + 9, 2 * CRYPTO_GCM_NONCELEN, nonce) != 0) {
		snprintf(err, errlen, "malformed sealed key");
		return -1;
	}
	p += 10 + 2 * CRYPTO_GCM_NONCELEN;
	hexlen = (size_t)(end - p);
	if (hexlen % 2 != 0 || hexlen / 2 <= CRYPTO_GCM_TAGLEN ||
	    hexlen / 2 > sizeof(ct) || unhex(p, hexlen, ct) != 0) {
		snprintf(err, errlen, "malformed sealed key");
		return -1;
	}
	ctlen = hexlen / 2 - CRYPTO_GCM_TAGLEN;
	if (outlen < ctlen + 1) {
		snprintf(err, errlen, "no room for the key");
		return -1;
	}
	if ((aadlen = aad_build(project, provider, aad, sizeof(aad))) == 0 ||
	    crypto_aes256gcm_open(bk->k, nonce, aad, aadlen, ct, ctlen,
	    ct + ctlen, (unsigned char *)out) != 0) {
		snprintf(err, errlen, "does not decrypt for project %s and "
		    "provider %s (moved, or changed)", project, provider);
		crypto_cleanse(out, outlen);
		out[0] = '\0';
		return -1;
	}
	out[ctlen] = '\0';
	/* What decrypts was checked on the way in; check again all the same. */
	if (byok_check_plain(out, ctlen, err, errlen) != 0) {
		crypto_cleanse(out, outlen);
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* Decode the reply to HGET key v. */
int
byok_reply(const struct byok_key *bk, const char *project,
    const char *provider, const redisReply *rep, char *out, size_t outlen,
    char *err, size_t errlen)
{
	if (outlen > 0)
		out[0] = '\0';
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "redis: %s", rep != NULL ? rep->str :
		    "no reply");
		return -1;
	}
	if (rep->type == REDIS_REPLY_NIL)
		return BYOK_NONE;
	if (rep->type != REDIS_REPLY_STRING) {
		snprintf(err, errlen, "stored provider key: not a string");
		return BYOK_BROKEN;
	}
	if (byok_open(bk, project, provider, rep->str, rep->len, out, outlen,
	    err, errlen) != 0)
		return BYOK_BROKEN;
	return BYOK_FOUND;
}

/* HGET and decode on this connection. */
int
byok_fetch(struct redis *r, const struct byok_key *bk, const char *project,
    const char *provider, char *out, size_t outlen, char *err, size_t errlen)
{
	char		 key[BYOK_REDIS_KEY_MAX];
	redisReply	*rep;
	int		 rc;

	byok_redis_key(project, provider, key, sizeof(key));
	if ((rep = redis_command(r, "HGET %s v", key)) == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	rc = byok_reply(bk, project, provider, rep, out, outlen, err, errlen);
	freeReplyObject(rep);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The cache: (project, provider) -> state and opened key.             */

struct bc_entry {
	int		 used;
	int		 state;		/* BYOK_NONE, BYOK_FOUND, BYOK_BROKEN */
	int		 refreshing;
	int64_t		 fetched_ms;
	uint64_t	 tick;		/* last use, for eviction */
	char		 project[BYOK_NAME_MAX + 1];
	char		 provider[BYOK_NAME_MAX + 1];
	char		 key[BYOK_PLAIN_MAX + 1];
};

struct byok_cache {
	pthread_mutex_t	 lock;
	long		 ttl_ms, neg_ms;
	size_t		 max;
	struct bc_entry	*e;
	uint64_t	 tick;
};

/* A new cache, or NULL. */
struct byok_cache *
byok_cache_new(long ttl_ms, size_t max_entries)
{
	struct byok_cache	*bc;

	if (max_entries == 0)
		max_entries = 1024;
	if (max_entries > 65536)
		max_entries = 65536;
	if (ttl_ms < 0)
		ttl_ms = 0;
	if ((bc = calloc(1, sizeof(*bc))) == NULL)
		return NULL;
	bc->ttl_ms = ttl_ms;
	bc->neg_ms = NM_MIN(ttl_ms, (long)BYOK_NEG_MAX_MS);
	bc->max = max_entries;
	if ((bc->e = calloc(max_entries, sizeof(*bc->e))) == NULL ||
	    pthread_mutex_init(&bc->lock, NULL) != 0) {
		free(bc->e);
		free(bc);
		return NULL;
	}
	return bc;
}

/* Free the cache, wiping every key.  NULL does nothing. */
void
byok_cache_free(struct byok_cache *bc)
{
	if (bc == NULL)
		return;
	pthread_mutex_destroy(&bc->lock);
	crypto_cleanse(bc->e, bc->max * sizeof(*bc->e));
	free(bc->e);
	free(bc);
}

/* Entry of (project, provider), or NULL.  Lock held. */
static struct bc_entry *
bc_find(struct byok_cache *bc, const char *project, const char *provider)
{
	size_t	 i;

	/* Projects with keys of their own are few: a scan is cheap enough. */
	for (i = 0; i < bc->max; i++)
		if (bc->e[i].used && strcmp(bc->e[i].project, project) == 0 &&
		    strcmp(bc->e[i].provider, provider) == 0)
			return &bc->e[i];
	return NULL;
}

/* A slot for a new entry: a free one, else the least recently used, wiped. */
static struct bc_entry *
bc_slot(struct byok_cache *bc)
{
	struct bc_entry	*old = &bc->e[0];
	size_t		 i;

	for (i = 0; i < bc->max; i++) {
		if (!bc->e[i].used)
			return &bc->e[i];
		if (bc->e[i].tick < old->tick)
			old = &bc->e[i];
	}
	crypto_cleanse(old, sizeof(*old));
	old->used = 0;
	return old;
}

/* Copy the entry's answer to out.  Lock held. */
static int
bc_answer(const struct bc_entry *e, char *out, size_t outlen)
{
	if (e->state == BYOK_FOUND) {
		if (outlen <= strlen(e->key))
			return BYOK_BROKEN;
		memcpy(out, e->key, strlen(e->key) + 1);
	}
	return e->state;
}

/* The cache's answer, or BYOK_ASK. */
int
byok_cache_get(struct byok_cache *bc, const char *project,
    const char *provider, char *out, size_t outlen)
{
	struct bc_entry	*e;
	int64_t		 now;
	int		 rc = BYOK_ASK;

	if (outlen > 0)
		out[0] = '\0';
	pthread_mutex_lock(&bc->lock);
	now = nm_mono_ms();
	if ((e = bc_find(bc, project, provider)) != NULL) {
		e->tick = ++bc->tick;
		if (now - e->fetched_ms < (e->state == BYOK_FOUND ? bc->ttl_ms :
		    bc->neg_ms) || e->refreshing)
			rc = bc_answer(e, out, outlen);
		else
			e->refreshing = 1;	/* this caller asks Redis */
	}
	pthread_mutex_unlock(&bc->lock);
	return rc;
}

/* Store Redis's answer; give the one to use. */
int
byok_cache_put(struct byok_cache *bc, const char *project,
    const char *provider, int rc, const char *key, char *out, size_t outlen)
{
	struct bc_entry	*e;

	if (outlen > 0)
		out[0] = '\0';
	if (strlen(project) > BYOK_NAME_MAX || strlen(provider) > BYOK_NAME_MAX)
		return rc == BYOK_FOUND ? BYOK_BROKEN : rc;
	pthread_mutex_lock(&bc->lock);
	e = bc_find(bc, project, provider);
	if (rc == -1) {
		/* Redis failed: a stale answer stands, and is asked for again next. */
		if (e != NULL) {
			e->refreshing = 0;
			rc = bc_answer(e, out, outlen);
		}
		pthread_mutex_unlock(&bc->lock);
		return rc;
	}
	if (rc == BYOK_FOUND && (key == NULL || strlen(key) > BYOK_PLAIN_MAX))
		rc = BYOK_BROKEN;
	if (e == NULL) {
		e = bc_slot(bc);
		e->used = 1;
		snprintf(e->project, sizeof(e->project), "%s", project);
		snprintf(e->provider, sizeof(e->provider), "%s", provider);
	}
	crypto_cleanse(e->key, sizeof(e->key));
	e->state = rc;
	e->refreshing = 0;
	e->fetched_ms = nm_mono_ms();
	e->tick = ++bc->tick;
	if (rc == BYOK_FOUND)
		snprintf(e->key, sizeof(e->key), "%s", key);
	rc = bc_answer(e, out, outlen);
	pthread_mutex_unlock(&bc->lock);
	return rc;
}

/* Forget (project, provider), wiping its key. */
void
byok_cache_forget(struct byok_cache *bc, const char *project,
    const char *provider)
{
	struct bc_entry	*e;

	pthread_mutex_lock(&bc->lock);
	if ((e = bc_find(bc, project, provider)) != NULL)
		crypto_cleanse(e, sizeof(*e));
	pthread_mutex_unlock(&bc->lock);
}

/* Entries in use. */
size_t
byok_cache_count(struct byok_cache *bc)
{
	size_t	 i, n = 0;

	pthread_mutex_lock(&bc->lock);
	for (i = 0; i < bc->max; i++)
		n += bc->e[i].used != 0;
	pthread_mutex_unlock(&bc->lock);
	return n;
}

/* ------------------------------------------------------------------ */
/* nextmodelctl's side.                                                */

/* Seal plain and store it with what list shows. */
int
byok_store(struct redis *r, const struct byok_key *bk, const char *project,
    const char *provider, const char *plain, size_t n, const char *set_by,
    int64_t now, struct byok_info *info, char *err, size_t errlen)
{
	char		 sealed[BYOK_SEALED_MAX], key[BYOK_REDIS_KEY_MAX];
	char		 at[32];
	const char	*argv[2][14];
	int		 argc[2];
	redisReply	*rep[2];
	int		 rc = -1, i;

	memset(info, 0, sizeof(*info));
	if (byok_seal(bk, project, provider, plain, n, sealed, sizeof(sealed),
	    err, errlen) != 0)
		return -1;
	byok_fingerprint(plain, n, info->fingerprint);
	snprintf(info->project, sizeof(info->project), "%s", project);
	snprintf(info->provider, sizeof(info->provider), "%s", provider);
	snprintf(info->set_by, sizeof(info->set_by), "%s", set_by);
	info->set_at = now;
	snprintf(at, sizeof(at), "%lld", (long long)now);
	byok_redis_key(project, provider, key, sizeof(key));
	argv[0][0] = "HSET";
	argv[0][1] = key;
	argv[0][2] = "v";
	argv[0][3] = sealed;
	argv[0][4] = "project";
	argv[0][5] = project;
	argv[0][6] = "provider";
	argv[0][7] = provider;
	argv[0][8] = "fingerprint";
	argv[0][9] = info->fingerprint;
	argv[0][10] = "set_at";
	argv[0][11] = at;
	argv[0][12] = "set_by";
	argv[0][13] = info->set_by;
	argc[0] = 14;
	argv[1][0] = "SADD";
	argv[1][1] = BYOK_INDEX;
	argv[1][2] = key;
	argc[1] = 3;
	{
		const char **av[2] = { argv[0], argv[1] };

		if (redis_pipeline(r, 2, argc, av, NULL, rep) != 0) {
			snprintf(err, errlen, "%s", redis_errstr(r));
			goto out;
		}
	}
	rc = 0;
	for (i = 0; i < 2; i++) {
		if (rep[i]->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis: %s", rep[i]->str);
			rc = -1;
		}
		freeReplyObject(rep[i]);
	}
out:
	crypto_cleanse(sealed, sizeof(sealed));
	return rc;
}

/* Remove (project, provider): 0, 1 none, -1. */
int
byok_clear(struct redis *r, const char *project, const char *provider,
    char *err, size_t errlen)
{
	char		 key[BYOK_REDIS_KEY_MAX];
	redisReply	*rep;
	int		 rc;

	byok_redis_key(project, provider, key, sizeof(key));
	if ((rep = redis_command(r, "DEL %s", key)) == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	if (rep->type != REDIS_REPLY_INTEGER) {
		snprintf(err, errlen, "redis: %s", rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		freeReplyObject(rep);
		return -1;
	}
	rc = rep->integer > 0 ? 0 : 1;
	freeReplyObject(rep);
	if ((rep = redis_command(r, "SREM %s %s", BYOK_INDEX, key)) == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	freeReplyObject(rep);
	return rc;
}

/* Order of list: project, then provider. */
static int
cmp_info(const void *a, const void *b)
{
	const struct byok_info	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->project, y->project)) != 0)
		return c;
	return strcmp(x->provider, y->provider);
}

/* Every stored key's info (project filter may be NULL). */
int
byok_list(struct redis *r, const char *project,
    int (*cb)(void *, const struct byok_info *), void *arg, char *err,
    size_t errlen)
{
	redisReply		*set, *rep;
	struct byok_info	*v = NULL;
	size_t			 i, n = 0;
	int			 rc = -1;

	/* Fields only: the sealed value never leaves Redis here. */
	if ((set = redis_command(r, "SMEMBERS %s", BYOK_INDEX)) == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	if (set->type != REDIS_REPLY_ARRAY) {
		snprintf(err, errlen, "redis: %s", set->type ==
		    REDIS_REPLY_ERROR ? set->str : "unexpected reply");
		goto out;
	}
	if (set->elements > 0 && (v = calloc(set->elements,
	    sizeof(*v))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < set->elements; i++) {
		const char *argv[] = { "HMGET", NULL, "project", "provider",
		    "fingerprint", "set_at", "set_by" };
		struct byok_info *b = &v[n];
		long long at;

		if (set->element[i]->type != REDIS_REPLY_STRING)
			continue;
		argv[1] = set->element[i]->str;
		if ((rep = redis_commandv(r, 7, argv, NULL)) == NULL) {
			snprintf(err, errlen, "%s", redis_errstr(r));
			goto out;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 5 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_STRING) {
			freeReplyObject(rep);	/* cleared meanwhile */
			continue;
		}
		snprintf(b->project, sizeof(b->project), "%s",
		    rep->element[0]->str);
		snprintf(b->provider, sizeof(b->provider), "%s",
		    rep->element[1]->str);
		if (rep->element[2]->type == REDIS_REPLY_STRING)
			snprintf(b->fingerprint, sizeof(b->fingerprint), "%s",
			    rep->element[2]->str);
		if (rep->element[3]->type == REDIS_REPLY_STRING &&
		    sscanf(rep->element[3]->str, "%lld", &at) == 1)
			b->set_at = at;
		if (rep->element[4]->type == REDIS_REPLY_STRING)
			snprintf(b->set_by, sizeof(b->set_by), "%s",
			    rep->element[4]->str);
		freeReplyObject(rep);
		if (project == NULL || strcmp(project, b->project) == 0)
			n++;
		else
			memset(b, 0, sizeof(*b));
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_info);
	for (i = 0; i < n; i++)
		if (cb(arg, &v[i]) != 0)
			goto out;
	rc = 0;
out:
	free(v);
	freeReplyObject(set);
	return rc;
}
