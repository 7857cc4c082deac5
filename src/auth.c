/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * API keys in Redis: create, look up by the SHA-256 of the key text, list
 * and revoke, and the Redis side of a worker's lookup cache (authcache.c
 * holds the cache).  The key text is never stored, logged or kept: only
 * its hash travels to Redis.
 */
#include <sys/types.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nextmodel.h"
#include "auth.h"
#include "crypto.h"
#include "redis.h"

#define AUTH_PREFIX		"nm-"
#define AUTH_PREFIX_LEN		3
#define AUTH_RANDOM_BYTES	32
#define AUTH_B64_LEN		43
#define AUTH_ID_RANDOM		8
#define AUTH_ID_CHARS		20	/* "key_" + 16 hex; AUTH_ID_LEN is the room */
#define AUTH_KEY_PFX		"nm:{auth}:key:"
#define AUTH_KEYID_PFX		"nm:{auth}:id:"
#define AUTH_KEYS_SET		"nm:{auth}:ids"
#define AUTH_CREATE_TRIES	3
#define AUTH_LIST_CHUNK		256

/*
 * KEYS: nm:{auth}:key:<hash> nm:{auth}:id:<id> nm:{auth}:ids.  ARGV: id hash project team
 * name created rpm tpm.  Refuses to overwrite anything, so the id and hash
 * entries are made together or not at all.
 */
static const char create_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 or "
    "redis.call('EXISTS', KEYS[2]) == 1 then return 0 end "
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'hash', ARGV[2], "
    "'project', ARGV[3], 'team', ARGV[4], 'name', ARGV[5], "
    "'created', ARGV[6], 'revoked', '0', 'rpm', ARGV[7], 'tpm', ARGV[8]) "
    "redis.call('SET', KEYS[2], ARGV[2]) "
    "redis.call('SADD', KEYS[3], ARGV[1]) "
    "return 1";

/* KEYS: nm:{auth}:key:<hash>.  ARGV: now.  1 revoked (or already), 0 no record. */
static const char revoke_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
    "if redis.call('HGET', KEYS[1], 'revoked') ~= '1' then "
    "redis.call('HSET', KEYS[1], 'revoked', '1', 'revoked_at', ARGV[1]) end "
    "return 1";

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

enum field_type { F_STR, F_INT, F_BOOL };

/* The fields of nm:{auth}:key:<hash> read into a struct key_record. */
static const struct field {
	const char	*name;
	enum field_type	 type;
	size_t		 off;
	size_t		 size;		/* F_STR: buffer size */
	int64_t		 min;		/* F_INT */
} fields[] = {
	{ "id",		F_STR,	offsetof(struct key_record, id),
	    sizeof(((struct key_record *)0)->id), 0 },
	{ "project",	F_STR,	offsetof(struct key_record, project),
	    sizeof(((struct key_record *)0)->project), 0 },
	{ "team",	F_STR,	offsetof(struct key_record, team),
	    sizeof(((struct key_record *)0)->team), 0 },
	{ "name",	F_STR,	offsetof(struct key_record, name),
	    sizeof(((struct key_record *)0)->name), 0 },
	{ "created",	F_INT,	offsetof(struct key_record, created), 0, 0 },
	{ "revoked",	F_BOOL,	offsetof(struct key_record, revoked), 0, 0 },
	{ "rpm",	F_INT,	offsetof(struct key_record, rpm), 0, 0 },
	{ "tpm",	F_INT,	offsetof(struct key_record, tpm), 0, 0 },
	{ "environment", F_STR,	offsetof(struct key_record, environment),
	    sizeof(((struct key_record *)0)->environment), 0 },
	{ "expires",	F_INT,	offsetof(struct key_record, expires), 0, 0 },
	{ "models",	F_STR,	offsetof(struct key_record, models),
	    sizeof(((struct key_record *)0)->models), 0 },
	{ "sources",	F_STR,	offsetof(struct key_record, sources),
	    sizeof(((struct key_record *)0)->sources), 0 },
};

/* Base64url without padding of n bytes into out (4n/3 rounded up + 1). */
static void
b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t		 i, o = 0;
	uint32_t	 v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
	crypto_cleanse(&v, sizeof(v));
}

/* 1 if s[0..len) is a key: "nm-" and 43 base64url characters. */
int
auth_key_wellformed(const char *s, size_t len)
{
	size_t	 i;
	int	 c;

	if (s == NULL || len != AUTH_KEY_LEN ||
	    memcmp(s, AUTH_PREFIX, AUTH_PREFIX_LEN) != 0)
		return 0;
	for (i = AUTH_PREFIX_LEN; i < len; i++) {
		c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* 1 if s is "key_" and 16 lowercase hex digits. */
static int
id_wellformed(const char *s)
{
	size_t	 i;

	if (strlen(s) != AUTH_ID_CHARS || strncmp(s, "key_", 4) != 0)
		return 0;
	for (i = 4; i < AUTH_ID_CHARS; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* 1 if s is 64 lowercase hex digits (a stored SHA-256). */
static int
hex_wellformed(const char *s, size_t len)
{
	size_t	 i;

	if (len != CRYPTO_SHA256_HEXLEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/*
 * Check a label: 0..max bytes of printable ASCII (space only if spaces).
 * Project and team names go into Redis hash tags ({p:PROJECT}), so they
 * may not hold braces (braces).
 */
static int
label_ok(const char *s, size_t min, size_t max, int spaces, int braces)
{
	size_t	 i, len = strlen(s);

	if (len < min || len > max)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == ' ' && spaces)
			continue;
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
		if (!braces && (s[i] == '{' || s[i] == '}'))
			return 0;
	}
	return 1;
}

/* Parse a decimal int64 >= min from s[0..len): 0 or -1. */
static int
parse_int64(const char *s, size_t len, int64_t min, int64_t *out)
{
	char		 buf[24], *end;
	long long	 v;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/*
 * Fill rec from an HGETALL reply.  If hex is given, the stored hash must
 * equal it (constant time).  0, or -1 if the record is missing or broken.
 */
static int
record_parse(const redisReply *rep, const char *hex, struct key_record *rec)
{
	const redisReply	*k, *v;
	const struct field	*f;
	size_t			 i, j;
	int			 have_id = 0, have_hash = 0, flag;
	int64_t			 n;

	memset(rec, 0, sizeof(*rec));
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0 ||
	    rep->elements % 2 != 0)
		return -1;
	for (i = 0; i < rep->elements; i += 2) {
		k = rep->element[i];
		v = rep->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			return -1;
		if (strcmp(k->str, "hash") == 0) {
			if (hex != NULL && (v->len != CRYPTO_SHA256_HEXLEN ||
			    !crypto_memeq(v->str, hex, CRYPTO_SHA256_HEXLEN)))
				return -1;
			have_hash = 1;
			continue;
		}
		for (j = 0; j < sizeof(fields) / sizeof(fields[0]); j++)
			if (strcmp(k->str, fields[j].name) == 0)
				break;
		if (j == sizeof(fields) / sizeof(fields[0]))
			continue;	/* revoked_at and later additions */
		f = &fields[j];
		switch (f->type) {
		case F_STR:
			if (v->len >= f->size)
				return -1;
			memcpy((char *)rec + f->off, v->str, v->len);
			((char *)rec + f->off)[v->len] = '\0';
			break;
		case F_INT:
			if (parse_int64(v->str, v->len, f->min, &n) == -1)
				return -1;
			memcpy((char *)rec + f->off, &n, sizeof(n));
			break;
		case F_BOOL:
			flag = v->len == 1 && v->str[0] == '1';
			memcpy((char *)rec + f->off, &flag, sizeof(flag));
			break;
		}
		if (f->off == offsetof(struct key_record, id))
			have_id = 1;
	}
	if (!have_id || !id_wellformed(rec->id) || !have_hash)
		return -1;
	return 0;
}

/*
 * Look a record up by its hash: 1 live, 0 unknown/revoked/broken, -1 Redis
 * failure (r NULL counts as one).
 */
static int
lookup_hex(struct redis *r, const char *hex, struct key_record *rec)
{
	redisReply	*rep;
	int		 rc;

	memset(rec, 0, sizeof(*rec));
	/* No connection (say, a URL the module refused): Redis is failing. */
	if (r == NULL)
		return -1;
	rep = redis_command(r, "HGETALL " AUTH_KEY_PFX "%s", hex);
	if (rep == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_ERROR)
		rc = -1;
	else if (record_parse(rep, hex, rec) == -1 || rec->revoked)
		rc = 0;
	else
		rc = 1;
	freeReplyObject(rep);
	if (rc != 1)
		memset(rec, 0, sizeof(*rec));
	return rc;
}

/* Look a key up in Redis, no cache: 1 live, 0 unknown or revoked, -1 failure. */
int
auth_key_lookup(struct redis *r, const char *secret, struct key_record *rec)
{
	char	 hex[CRYPTO_SHA256_HEXLEN + 1];

	memset(rec, 0, sizeof(*rec));
	if (secret == NULL || !auth_key_wellformed(secret, strlen(secret)))
		return 0;
	crypto_sha256_hex(secret, AUTH_KEY_LEN, hex);
	return lookup_hex(r, hex, rec);
}

/* Project 1..64, team 0..64 printable ASCII without spaces; name 0..128 with. */
int
auth_key_check_labels(const char *project, const char *team, const char *name,
    char *err, size_t errlen)
{
	if (project == NULL || !label_ok(project, 1, 64, 0, 0)) {
		snprintf(err, errlen, "project must be 1 to 64 printable "
		    "ASCII characters without spaces or braces");
		return -1;
	}
	if (team != NULL && !label_ok(team, 0, 64, 0, 0)) {
		snprintf(err, errlen, "team must be up to 64 printable "
		    "ASCII characters without spaces or braces");
		return -1;
	}
	if (name != NULL && !label_ok(name, 0, 128, 1, 1)) {
		snprintf(err, errlen, "name must be up to 128 printable "
		    "ASCII characters");
		return -1;
	}
	return 0;
}

/* Make a new key and store its record.  0, or -1 with err. */
int
auth_key_create(struct redis *r, const char *project, const char *team,
    const char *name, int64_t rpm, int64_t tpm, char *secret,
    struct key_record *rec, char *err, size_t errlen)
{
	unsigned char	 rnd[AUTH_RANDOM_BYTES], idrnd[AUTH_ID_RANDOM];
	char		 hex[CRYPTO_SHA256_HEXLEN + 1];
	char		 keyk[sizeof(AUTH_KEY_PFX) + CRYPTO_SHA256_HEXLEN];
	char		 idk[sizeof(AUTH_KEYID_PFX) + AUTH_ID_LEN];
	char		 created[24], rpms[24], tpms[24];
	const char	*argv[14];
	redisReply	*rep;
	int64_t		 now;
	int		 attempt, rc = -1;

	memset(rec, 0, sizeof(*rec));
	secret[0] = '\0';
	if (team == NULL)
		team = "";
	if (name == NULL)
		name = "";
	if (auth_key_check_labels(project, team, name, err, errlen) == -1)
		return -1;
	if (rpm < 0 || tpm < 0) {
		snprintf(err, errlen, "rpm and tpm must be 0 (no limit) or more");
		return -1;
	}

	for (attempt = 0; attempt < AUTH_CREATE_TRIES; attempt++) {
		if (crypto_random(rnd, sizeof(rnd)) == -1 ||
		    crypto_random(idrnd, sizeof(idrnd)) == -1) {
			snprintf(err, errlen, "no random bytes available");
			goto out;
		}
		memcpy(secret, AUTH_PREFIX, AUTH_PREFIX_LEN);
		b64url_encode(rnd, sizeof(rnd), secret + AUTH_PREFIX_LEN);
		crypto_sha256_hex(secret, AUTH_KEY_LEN, hex);
		memcpy(rec->id, "key_", 4);
		crypto_hex(idrnd, sizeof(idrnd), rec->id + 4);
		snprintf(keyk, sizeof(keyk), AUTH_KEY_PFX "%s", hex);
		snprintf(idk, sizeof(idk), AUTH_KEYID_PFX "%s", rec->id);
		now = (int64_t)time(NULL);
		snprintf(created, sizeof(created), "%lld", (long long)now);
		snprintf(rpms, sizeof(rpms), "%lld", (long long)rpm);
		snprintf(tpms, sizeof(tpms), "%lld", (long long)tpm);

		argv[0] = "EVAL";
		argv[1] = create_script;
		argv[2] = "3";
		argv[3] = keyk;
		argv[4] = idk;
		argv[5] = AUTH_KEYS_SET;
		argv[6] = rec->id;
		argv[7] = hex;
		argv[8] = project;
		argv[9] = team;
		argv[10] = name;
		argv[11] = created;
		argv[12] = rpms;
		argv[13] = tpms;
		if ((rep = redis_commandv(r, 14, argv, NULL)) == NULL) {
			snprintf(err, errlen, "%s", redis_errstr(r));
			goto out;
		}
		if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1) {
			freeReplyObject(rep);
			snprintf(rec->project, sizeof(rec->project), "%s", project);
			snprintf(rec->team, sizeof(rec->team), "%s", team);
			snprintf(rec->name, sizeof(rec->name), "%s", name);
			rec->created = now;
			rec->rpm = rpm;
			rec->tpm = tpm;
			rc = 0;
			goto out;
		}
		if (rep->type == REDIS_REPLY_ERROR)
			snprintf(err, errlen, "redis: %s", rep->str);
		else
			snprintf(err, errlen, "key id or hash already taken");
		if (rep->type != REDIS_REPLY_INTEGER) {
			freeReplyObject(rep);
			goto out;
		}
		freeReplyObject(rep);
	}
out:
	crypto_cleanse(rnd, sizeof(rnd));
	crypto_cleanse(hex, sizeof(hex));
	crypto_cleanse(keyk, sizeof(keyk));
	if (rc == -1) {
		crypto_cleanse(secret, AUTH_KEY_LEN + 1);
		memset(rec, 0, sizeof(*rec));
	}
	return rc;
}

/*
 * The record key of id into keyk (GET nm:{auth}:id:<id>): 1 found, 0 no
 * such key, -1 err.
 */
static int
record_key_of(struct redis *r, const char *id, char *keyk, size_t keylen,
    char *err, size_t errlen)
{
	redisReply	*rep;
	int		 rc = -1;

	if (id == NULL || !id_wellformed(id)) {
		snprintf(err, errlen, "no such key");
		return 0;
	}
	if ((rep = redis_command(r, "GET " AUTH_KEYID_PFX "%s", id)) == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	if (rep->type == REDIS_REPLY_NIL) {
		snprintf(err, errlen, "no such key");
		rc = 0;
	} else if (rep->type != REDIS_REPLY_STRING ||
	    !hex_wellformed(rep->str, rep->len))
		snprintf(err, errlen, "%s: broken entry in Redis", id);
	else {
		snprintf(keyk, keylen, AUTH_KEY_PFX "%s", rep->str);
		rc = 1;
	}
	freeReplyObject(rep);
	return rc;
}

/* Revoke by id: 0 revoked (or already), 1 no such key, -1 failure with err. */
int
auth_key_revoke(struct redis *r, const char *id, char *err, size_t errlen)
{
	char		 keyk[sizeof(AUTH_KEY_PFX) + CRYPTO_SHA256_HEXLEN];
	char		 now[24];
	redisReply	*rep;
	int		 rc = -1;

	switch (record_key_of(r, id, keyk, sizeof(keyk), err, errlen)) {
	case 0:
		return 1;
	case -1:
		return -1;
	}
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	rep = redis_command(r, "EVAL %s 1 %s %s", revoke_script, keyk, now);
	if (rep == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1)
		rc = 0;
	else if (rep->type == REDIS_REPLY_INTEGER) {
		snprintf(err, errlen, "%s: no record for this key", id);
		rc = 1;
	} else if (rep->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "redis: %s", rep->str);
	else
		snprintf(err, errlen, "redis: unexpected reply");
	freeReplyObject(rep);
	return rc;
}

/* A key's record by id, revoked or not: 1, 0 none, -1 err. */
int
auth_key_get_by_id(struct redis *r, const char *id, struct key_record *rec,
    char *err, size_t errlen)
{
	char		 keyk[sizeof(AUTH_KEY_PFX) + CRYPTO_SHA256_HEXLEN];
	redisReply	*rep;
	int		 rc;

	memset(rec, 0, sizeof(*rec));
	if ((rc = record_key_of(r, id, keyk, sizeof(keyk), err, errlen)) != 1)
		return rc;
	if ((rep = redis_command(r, "HGETALL %s", keyk)) == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	rc = -1;
	if (rep->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "redis: %s", rep->str);
	else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 0) {
		snprintf(err, errlen, "no such key");
		rc = 0;
	} else if (record_parse(rep, keyk + sizeof(AUTH_KEY_PFX) - 1, rec) == -1)
		snprintf(err, errlen, "%s: broken record in Redis", id);
	else
		rc = 1;
	freeReplyObject(rep);
	return rc;
}

/* 1 if name is in the comma list (an empty list allows everything). */
int
auth_list_allows(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p, *e;

	if (list == NULL || list[0] == '\0')
		return 1;
	for (p = list; *p != '\0'; p = *e ? e + 1 : e) {
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == n && strncmp(p, name, n) == 0)
			return 1;
	}
	return 0;
}

/* A comma list of names (1..64 printable, no spaces), at most max bytes. */
static int
list_ok(const char *s, size_t max)
{
	const char *p, *e;
	char one[65];

	if (strlen(s) >= max)
		return 0;
	for (p = s; *p != '\0'; p = *e ? e + 1 : e) {
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		if (e == p || (size_t)(e - p) > 64)
			return 0;
		memcpy(one, p, (size_t)(e - p));
		one[e - p] = '\0';
		if (!label_ok(one, 1, 64, 0, 1))
			return 0;
	}
	return 1;
}

/* Set a key's expiry and what it may use. */
int
auth_key_set_scope(struct redis *r, const char *id, int64_t expires,
    const char *models, const char *sources, char *err, size_t errlen)
{
	static const char script[] =
	    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
	    "for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], "
	    "ARGV[i + 1]) end return 1";
	char		 keyk[sizeof(AUTH_KEY_PFX) + CRYPTO_SHA256_HEXLEN];
	char		 exp[24];
	const char	*argv[10];
	redisReply	*rep;
	int		 argc = 4, rc;

	if ((models != NULL && !list_ok(models, sizeof(((struct key_record *)
	    0)->models))) || (sources != NULL && !list_ok(sources,
	    sizeof(((struct key_record *)0)->sources)))) {
		snprintf(err, errlen, "a list is names separated by commas, "
		    "each 1 to 64 printable characters without spaces");
		return -1;
	}
	if ((rc = record_key_of(r, id, keyk, sizeof(keyk), err, errlen)) != 1)
		return rc == 0 ? 1 : -1;
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = "1";
	argv[3] = keyk;
	if (expires > 0) {
		snprintf(exp, sizeof(exp), "%lld", (long long)expires);
		argv[argc++] = "expires";
		argv[argc++] = exp;
	}
	if (models != NULL) {
		argv[argc++] = "models";
		argv[argc++] = models;
	}
	if (sources != NULL) {
		argv[argc++] = "sources";
		argv[argc++] = sources;
	}
	if (argc == 4)
		return 0;
	if ((rep = redis_commandv(r, argc, argv, NULL)) == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	rc = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 ? 0 : 1;
	freeReplyObject(rep);
	return rc;
}

/* Set a key's environment label. */
int
auth_key_set_environment(struct redis *r, const char *id, const char *env,
    char *err, size_t errlen)
{
	static const char script[] =
	    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
	    "redis.call('HSET', KEYS[1], 'environment', ARGV[1]) return 1";
	char		 keyk[sizeof(AUTH_KEY_PFX) + CRYPTO_SHA256_HEXLEN];
	const char	*argv[5];
	redisReply	*rep;
	int		 rc;

	if (!label_ok(env, 1, 32, 0, 0)) {
		snprintf(err, errlen, "an environment is 1 to 32 printable "
		    "characters without spaces");
		return -1;
	}
	if ((rc = record_key_of(r, id, keyk, sizeof(keyk), err, errlen)) != 1)
		return rc == 0 ? 1 : -1;
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = "1";
	argv[3] = keyk;
	argv[4] = env;
	if ((rep = redis_commandv(r, 5, argv, NULL)) == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	rc = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 ? 0 : 1;
	freeReplyObject(rep);
	return rc;
}

/* Set a key's rpm and/or tpm (-1: as is): 0, 1 no such key, -1 err. */
int
auth_key_set_limits(struct redis *r, const char *id, int64_t rpm, int64_t tpm,
    char *err, size_t errlen)
{
	/* Only an existing record: HSET must not make a stub. */
	static const char script[] =
	    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
	    "for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], "
	    "ARGV[i + 1]) end return 1";
	char		 keyk[sizeof(AUTH_KEY_PFX) + CRYPTO_SHA256_HEXLEN];
	char		 v[2][24];
	const char	*argv[8];
	redisReply	*rep;
	int		 argc = 4, rc;

	if ((rc = record_key_of(r, id, keyk, sizeof(keyk), err, errlen)) != 1)
		return rc == 0 ? 1 : -1;
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = "1";
	argv[3] = keyk;
	if (rpm >= 0) {
		snprintf(v[0], sizeof(v[0]), "%lld", (long long)rpm);
		argv[argc++] = "rpm";
		argv[argc++] = v[0];
	}
	if (tpm >= 0) {
		snprintf(v[1], sizeof(v[1]), "%lld", (long long)tpm);
		argv[argc++] = "tpm";
		argv[argc++] = v[1];
	}
	if (argc == 4)
		return 0;
	if ((rep = redis_commandv(r, argc, argv, NULL)) == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	if (rep->type == REDIS_REPLY_INTEGER)
		rc = rep->integer == 1 ? 0 : 1;
	else {
		snprintf(err, errlen, "redis: unexpected reply");
		rc = -1;
	}
	if (rc == 1)
		snprintf(err, errlen, "no such key");
	freeReplyObject(rep);
	return rc;
}

/* qsort: ids as C strings. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* qsort: records by creation time, then id. */
static int
cmp_record(const void *a, const void *b)
{
	const struct key_record	*x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Append the id to *ids (grows); 0 or -1. */
static int
ids_push(char ***ids, size_t *n, size_t *cap, const char *s, size_t len)
{
	char	**p;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		if ((p = realloc(*ids, *cap * sizeof(**ids))) == NULL)
			return -1;
		*ids = p;
	}
	if (((*ids)[*n] = strndup(s, len)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

/* Every member of nm:{auth}:ids, sorted, without duplicates; 0 or -1. */
static int
list_ids(struct redis *r, char ***ids, size_t *nids, char *err, size_t errlen)
{
	redisReply	*rep = NULL, *set;
	char		 cursor[32] = "0";
	size_t		 cap = 0, i, o;
	int		 rc = -1;

	*ids = NULL;
	*nids = 0;
	do {
		rep = redis_command(r, "SSCAN " AUTH_KEYS_SET " %s COUNT 1000",
		    cursor);
		if (rep == NULL) {
			snprintf(err, errlen, "%s", redis_errstr(r));
			goto out;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "redis: %s", rep->str);
			goto out;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[0]->len >= sizeof(cursor) ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			snprintf(err, errlen, "redis: unexpected SSCAN reply");
			goto out;
		}
		memcpy(cursor, rep->element[0]->str, rep->element[0]->len + 1);
		set = rep->element[1];
		for (i = 0; i < set->elements; i++) {
			if (set->element[i]->type != REDIS_REPLY_STRING ||
			    !id_wellformed(set->element[i]->str))
				continue;
			if (ids_push(ids, nids, &cap, set->element[i]->str,
			    set->element[i]->len) == -1) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
		}
		freeReplyObject(rep);
		rep = NULL;
	} while (strcmp(cursor, "0") != 0);
	if (*nids > 0) {
		qsort(*ids, *nids, sizeof(**ids), cmp_str);
		for (i = 1, o = 1; i < *nids; i++) {
			if (strcmp((*ids)[i], (*ids)[o - 1]) == 0)
				free((*ids)[i]);
			else
				(*ids)[o++] = (*ids)[i];
		}
		*nids = o;
	}
	rc = 0;
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

/*
 * Read the records of ids[0..n) with two pipelined round trips and append
 * the ones found to recs[*nrecs..]; 0 or -1.
 */
static int
fetch_chunk(struct redis *r, char **ids, int n, struct key_record *recs,
    size_t *nrecs, char *err, size_t errlen)
{
	char		 keys[AUTH_LIST_CHUNK][sizeof(AUTH_KEY_PFX) + 64];
	const char	*args[AUTH_LIST_CHUNK][2];
	const char	**argv[AUTH_LIST_CHUNK];
	int		 argc[AUTH_LIST_CHUNK];
	redisReply	*rep[AUTH_LIST_CHUNK];
	int		 i, m = 0, rc = -1;

	for (i = 0; i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), AUTH_KEYID_PFX "%s", ids[i]);
		args[i][0] = "GET";
		args[i][1] = keys[i];
		argv[i] = args[i];
		argc[i] = 2;
	}
	if (redis_pipeline(r, n, argc, argv, NULL, rep) == -1) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (rep[i]->type == REDIS_REPLY_STRING &&
		    hex_wellformed(rep[i]->str, rep[i]->len)) {
			snprintf(keys[m], sizeof(keys[m]), AUTH_KEY_PFX "%s",
			    rep[i]->str);
			args[m][0] = "HGETALL";
			args[m][1] = keys[m];
			argv[m] = args[m];
			argc[m] = 2;
			m++;
		}
		freeReplyObject(rep[i]);
	}
	if (redis_pipeline(r, m, argc, argv, NULL, rep) == -1) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	for (i = 0; i < m; i++) {
		if (rep[i]->type == REDIS_REPLY_ERROR)
			snprintf(err, errlen, "redis: %s", rep[i]->str);
		else if (record_parse(rep[i], keys[i] + sizeof(AUTH_KEY_PFX) - 1,
		    &recs[*nrecs]) == 0)
			(*nrecs)++;
	}
	rc = 0;
	for (i = 0; i < m; i++) {
		if (rep[i]->type == REDIS_REPLY_ERROR)
			rc = -1;
		freeReplyObject(rep[i]);
	}
	return rc;
}

/* Call cb for each key, oldest first; stops at the first -1 from cb.  0/-1. */
int
auth_key_list(struct redis *r, int (*cb)(void *, const struct key_record *),
    void *arg, char *err, size_t errlen)
{
	char			**ids = NULL;
	struct key_record	 *recs = NULL;
	size_t			  nids = 0, nrecs = 0, i, chunk;
	int			  rc = -1;

	if (list_ids(r, &ids, &nids, err, errlen) == -1)
		goto out;
	if (nids > 0 && (recs = calloc(nids, sizeof(*recs))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < nids; i += chunk) {
		chunk = nids - i < AUTH_LIST_CHUNK ? nids - i : AUTH_LIST_CHUNK;
		if (fetch_chunk(r, ids + i, (int)chunk, recs, &nrecs, err,
		    errlen) == -1)
			goto out;
	}
	if (nrecs > 0)
		qsort(recs, nrecs, sizeof(*recs), cmp_record);
	for (i = 0; i < nrecs; i++)
		if (cb(arg, &recs[i]) != 0)
			goto out;
	rc = 0;
out:
	for (i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
	free(recs);
	return rc;
}

/* The Redis key holding the record of the key whose hash is h. */
void
auth_record_key(const unsigned char h[CRYPTO_SHA256_LEN], char *out,
    size_t outlen)
{
	char hex[CRYPTO_SHA256_HEXLEN + 1];

	crypto_hex(h, CRYPTO_SHA256_LEN, hex);
	snprintf(out, outlen, AUTH_KEY_PFX "%s", hex);
}

/* An HGETALL reply for h: 1 live (rec), 0 unknown/revoked/broken, -1 error reply. */
int
auth_record_reply(const redisReply *rep, const unsigned char h[CRYPTO_SHA256_LEN],
    struct key_record *rec)
{
	char hex[CRYPTO_SHA256_HEXLEN + 1];
	int rc;

	memset(rec, 0, sizeof(*rec));
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		return -1;
	crypto_hex(h, CRYPTO_SHA256_LEN, hex);
	if (record_parse(rep, hex, rec) == -1 || rec->revoked)
		rc = 0;
	else
		rc = 1;
	if (rc != 1)
		memset(rec, 0, sizeof(*rec));
	return rc;
}

/* Look a key up through the cache, asking Redis on this thread: 1, 0 or -1. */
int
auth_cache_lookup(struct auth_cache *ac, struct redis *r, const char *secret,
    size_t len, struct key_record *rec)
{
	unsigned char		 h[CRYPTO_SHA256_LEN];
	char			 hex[CRYPTO_SHA256_HEXLEN + 1];
	struct key_record	 fresh;
	int			 rc;

	if ((rc = auth_cache_get(ac, secret, len, h, rec)) != AUTH_ASK)
		return rc;
	crypto_hex(h, sizeof(h), hex);
	rc = r != NULL ? lookup_hex(r, hex, &fresh) : -1;
	rc = auth_cache_put(ac, h, rc, &fresh, rec);
	crypto_cleanse(&fresh, sizeof(fresh));
	return rc;
}
