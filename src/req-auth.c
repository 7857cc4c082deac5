/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Stages every keyed route starts with: find the key (the worker's cache,
 * or the Redis thread on a miss, the connection suspended meanwhile), say
 * 401/503 when it does not pass, parse the JSON body within the limits.
 * Stages run on libmicrohttpd's threads; auth_done on the Redis thread.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nextmodel.h"
#include "config.h"
#include "crypto.h"
#include "request.h"
#include "rthread.h"
#include "worker.h"

/* The key text of "Authorization: Bearer KEY", trimmed; NULL if absent. */
static const char *
bearer(const struct request *req, size_t *len)
{
	const char *a = req->authorization, *k;
	size_t n;

	if (a == NULL || strncasecmp(a, "Bearer ", 7) != 0)
		return NULL;
	for (k = a + 7; *k == ' '; k++)
		;
	n = strlen(k);
	while (n > 0 && k[n - 1] == ' ')
		n--;
	*len = n;
	return k;
}

/* Redis answered the key lookup (Redis thread). */
static void
auth_done(struct rjob *j)
{
	struct request *req = j->arg;
	struct key_record fresh, rec;
	int rc;

	rc = j->failed ? -1 : auth_record_reply(j->reply[0], req->key_hash,
	    &fresh);
	rc = auth_cache_put(req->w->auth, req->key_hash, rc, &fresh, &rec);
	crypto_cleanse(&fresh, sizeof(fresh));
	pthread_mutex_lock(&req->mu);
	req->auth_rc = rc;
	if (rc == 1)
		req->key = rec;
	request_continue(req);
	pthread_mutex_unlock(&req->mu);
	crypto_cleanse(&rec, sizeof(rec));
	rjob_free(j);
	request_unref(req);
}

/*
 * Find the key: the admin key, the cache, or (on a miss) ask the Redis
 * thread and wait.
 */
enum stage
stage_auth(struct request *req)
{
	const struct config *cfg = req->w->cfg;
	unsigned char h[CRYPTO_SHA256_LEN];
	char rkey[96];
	const char *k, *argv[2];
	struct rjob *j;
	size_t n;

	if ((k = bearer(req, &n)) == NULL) {
		req->auth_rc = -2;
		return STAGE_NEXT;
	}
	if (cfg->has_admin_key) {
		crypto_sha256(k, n, h);
		if (crypto_memeq(h, cfg->admin_key_hash, sizeof(h))) {
			memset(&req->key, 0, sizeof(req->key));
			snprintf(req->key.id, sizeof(req->key.id), "admin");
			snprintf(req->key.project, sizeof(req->key.project), "*");
			req->key.admin = 1;
			req->auth_rc = 1;
			return STAGE_NEXT;
		}
	}
	req->auth_rc = auth_cache_get(req->w->auth, k, n, req->key_hash,
	    &req->key);
	if (req->auth_rc != AUTH_ASK)
		return STAGE_NEXT;
	auth_record_key(req->key_hash, rkey, sizeof(rkey));
	argv[0] = "HGETALL";
	argv[1] = rkey;
	if ((j = rjob_new(auth_done, req)) == NULL ||
	    rjob_cmd(j, 2, argv, NULL) != 0) {
		rjob_free(j);
		req->auth_rc = auth_cache_put(req->w->auth, req->key_hash, -1,
		    NULL, &req->key);
		return STAGE_NEXT;
	}
	return request_wait_redis(req, j);
}

/* The key passed, or the answer says why not. */
enum stage
stage_auth_check(struct request *req)
{
	switch (req->auth_rc) {
	case 1:
		if (req->key.expires > 0 && time(NULL) >= req->key.expires)
			return stage_fail(req, 401, "invalid_request_error",
			    "invalid_api_key", NULL, "This API key has expired.");
		req->authed = 1;
		return STAGE_NEXT;
	case -2:
		return stage_fail(req, 401, "invalid_request_error",
		    "invalid_api_key", NULL, "You didn't provide an API key. "
		    "Send it as 'Authorization: Bearer <key>'.");
	case -1:
		return stage_fail(req, 503, "server_error", "auth_unavailable",
		    NULL, "The key store is unavailable; try again shortly.");
	default:
		return stage_fail(req, 401, "invalid_request_error",
		    "invalid_api_key", NULL, "Incorrect API key provided.");
	}
}

/* Parse the JSON body within the configured limits. */
enum stage
stage_parse(struct request *req)
{
	const struct config *cfg = req->w->cfg;
	struct json_limits lim;
	char emsg[256];

	lim.max_depth = cfg->max_json_depth;
	lim.max_tokens = cfg->max_json_tokens;
	if (json_parse(&req->json, req->body.data != NULL ? req->body.data : "",
	    req->body.len, &lim, emsg, sizeof(emsg)) == 0)
		return STAGE_NEXT;
	/* Our memory, not the client's JSON. */
	if (json_oom(emsg))
		return stage_fail(req, 500, "server_error", NULL, NULL,
		    "The gateway ran out of memory reading your request; "
		    "try again.");
	return stage_fail(req, 400, "invalid_request_error", NULL, NULL,
	    "We could not parse the JSON body of your request: %s", emsg);
}
