/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Receipts: one signed JSON line per authenticated request, written by the
 * gateway, drained by nextmodel-ledger, checked by nextmodelctl.  The line
 * is the record: its members come in a fixed order, "signature" last, and
 * the signature is an HMAC-SHA256 over the line without that member, so
 * any copy of the exact bytes can be checked.  No prompt or answer text.
 *
 *   {"id":"rcpt_...","request_id":"req_...","created":"2026-12-03T17:04:00.123Z",
 *    "key_id":..,"project":..,"team":..|null,"workload":..|null,"endpoint":..,
 *    "model_requested":..|null,"model":..|null,"provider":..|null,
 *    "serve_mode":"fresh"|"exact_cache"|"canonical_cache","stream":bool,
 *    "status":200,"error_code":..|null,"usage":{"prompt_tokens":N,
 *    "completion_tokens":N,"total_tokens":N,"cached_tokens":N},
 *    "usage_source":"upstream"|"estimated"|"cache"|"none",
 *    "billing_basis":"list_price"|"cache_rate"|"none","cost_usd":"0.0001",
 *    "fresh_cost_usd":"0.0001","saved_usd":"0","latency_ms":N,
 *    "ttfb_ms":N|null,"upstream_request_id":..|null,"cache_key":..|null,
 *    "policy_rule":..|null,"attempts":[{"model":..,"provider":..,
 *    "status":N,"latency_ms":N}...],"signature":"hmac-sha256:<64 hex>"}
 *
 * The signing key is HMAC-SHA256(server secret, "nextmodel receipt v1").
 */
#ifndef RECEIPT_H
#define RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "nextmodel.h"
#include "buf.h"

#define RECEIPT_KEY_LEN		32
#define RECEIPT_ID_LEN		29	/* "rcpt_" + 24 hex */
#define RECEIPT_HASH_STRLEN	72	/* "sha256:" + 64 hex + NUL */
#define RECEIPT_MAX_LINE	8192	/* a receipt line never exceeds this */

/* One attempt at a source (a fallback makes several). */
struct receipt_attempt {
	const char	*model;
	const char	*provider;
	int		 status;		/* the source's HTTP status; 0: none */
	int64_t		 latency_ms;
};

/* What the gateway knows of a request when it is over.  NULL strings: null. */
struct receipt {
	char		 id[RECEIPT_ID_LEN + 3];
	char		 request_id[32];
	int64_t		 created_ms;		/* Unix time, ms */
	const char	*key_id;
	const char	*project;
	const char	*team;
	const char	*workload;
	const char	*endpoint;
	const char	*model_requested;
	const char	*model;
	const char	*provider;
	const char	*serve_mode;
	int		 stream;
	int		 status;
	const char	*error_code;
	int64_t		 prompt_tokens, completion_tokens, total_tokens,
			 cached_tokens;
	const char	*usage_source;
	const char	*billing_basis;
	nm_nano		 cost, fresh_cost, saved;
	int64_t		 latency_ms;
	int64_t		 ttfb_ms;		/* < 0: null */
	const char	*upstream_request_id;
	const char	*cache_key;
	const char	*policy_rule;
	const struct receipt_attempt *attempts;
	int		 nattempts;
};

/* A receipt read back from its line: what the ledger and reports need. */
struct receipt_view {
	char		 id[RECEIPT_ID_LEN + 3];
	char		 request_id[32];
	char		 created[32];		/* RFC 3339 text as written */
	char		 day[11];		/* its UTC day, YYYY-MM-DD */
	char		 key_id[32];
	char		 project[65];
	char		 team[65];		/* "" for null */
	char		 workload[129];		/* "" for null */
	char		 endpoint[64];
	char		 model[129];		/* "" for null */
	char		 provider[65];		/* "" for null */
	char		 serve_mode[24];
	char		 usage_source[16];
	int		 status;
	int64_t		 prompt_tokens, completion_tokens, total_tokens,
			 cached_tokens;
	nm_nano		 cost, fresh_cost, saved;
	int64_t		 latency_ms;
};

/* The signing key derived from the server secret. */
void	receipt_key(const char *secret, size_t len,
	    unsigned char key[RECEIPT_KEY_LEN]);
/* A new receipt id ("rcpt_" + 24 hex) into id (>= RECEIPT_ID_LEN + 1); 0/-1. */
int	receipt_new_id(char *id, size_t len);
/* Append the signed line for r to out (no newline); 0 or -1 (too big, OOM). */
int	receipt_write(const struct receipt *r,
	    const unsigned char key[RECEIPT_KEY_LEN], struct buf *out);
/*
 * Check a line's signature: 0 good; -1 with the reason in err (not a
 * receipt, no signature, signature does not match).
 */
int	receipt_verify(const char *line, size_t len,
	    const unsigned char key[RECEIPT_KEY_LEN], char *err, size_t errlen);
/* "sha256:<hex>" of the line's bytes into out (RECEIPT_HASH_STRLEN). */
void	receipt_hash(const char *line, size_t len, char *out);
/* Parse a line's fields (not its signature): 0, or -1 with err. */
int	receipt_parse(const char *line, size_t len, struct receipt_view *v,
	    char *err, size_t errlen);
/* RFC 3339 UTC text with milliseconds for a Unix time in ms (out >= 32). */
void	receipt_time(int64_t ms, char *out, size_t len);

#endif
