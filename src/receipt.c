/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Receipt lines: write and sign, check, hash, read back.  Pure: no I/O, so
 * the gateway, the ledger, nextmodelctl and the tests share one definition
 * of the format (receipt.h).  Money goes in and out as exact decimal text.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "json.h"
#include "money.h"
#include "receipt.h"

#define SIG_MEMBER	",\"signature\":\"hmac-sha256:"

/* The signing key derived from the server secret. */
void
receipt_key(const char *secret, size_t len, unsigned char key[RECEIPT_KEY_LEN])
{
	static const char label[] = "nextmodel receipt v1";

	crypto_hmac_sha256(secret, len, label, sizeof(label) - 1, key);
}

/* A new receipt id. */
int
receipt_new_id(char *id, size_t len)
{
	unsigned char rnd[12];

	if (len < RECEIPT_ID_LEN + 1 || crypto_random(rnd, sizeof(rnd)) != 0)
		return -1;
	memcpy(id, "rcpt_", 5);
	crypto_hex(rnd, sizeof(rnd), id + 5);
	return 0;
}

/* RFC 3339 UTC with milliseconds. */
void
receipt_time(int64_t ms, char *out, size_t len)
{
	struct tm tm;
	time_t s = (time_t)(ms / 1000);

	if (ms < 0 || gmtime_r(&s, &tm) == NULL) {
		snprintf(out, len, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* ,"name":"value" or ,"name":null */
static int
member_str(struct buf *b, const char *name, const char *v)
{
	int r = buf_appendf(b, ",\"%s\":", name);

	return r | (v != NULL ? json_write_cstr(b, v) : buf_appends(b, "null"));
}

/* ,"name":"decimal" */
static int
member_money(struct buf *b, const char *name, nm_nano v)
{
	char text[MONEY_STRLEN];

	return buf_appendf(b, ",\"%s\":\"%s\"", name,
	    money_format(v, text, sizeof(text)));
}

/* HMAC of the unsigned line, as hex. */
static void
sign_hex(const char *body, size_t len, const unsigned char *key, char *hex)
{
	unsigned char mac[CRYPTO_SHA256_LEN];

	crypto_hmac_sha256(key, RECEIPT_KEY_LEN, body, len, mac);
	crypto_hex(mac, sizeof(mac), hex);
}

/* Append the signed line for r to out. */
int
receipt_write(const struct receipt *r, const unsigned char key[RECEIPT_KEY_LEN],
    struct buf *out)
{
	struct buf b;
	char t[32], hex[CRYPTO_SHA256_HEXLEN + 1];
	int e = 0, i;

	buf_init(&b, RECEIPT_MAX_LINE);
	receipt_time(r->created_ms, t, sizeof(t));
	e |= buf_appends(&b, "{\"id\":");
	e |= json_write_cstr(&b, r->id);
	e |= member_str(&b, "request_id", r->request_id);
	e |= member_str(&b, "created", t);
	e |= member_str(&b, "key_id", r->key_id);
	e |= member_str(&b, "project", r->project);
	e |= member_str(&b, "team", r->team);
	e |= member_str(&b, "workload", r->workload);
	e |= member_str(&b, "endpoint", r->endpoint);
	e |= member_str(&b, "model_requested", r->model_requested);
	e |= member_str(&b, "model", r->model);
	e |= member_str(&b, "provider", r->provider);
	e |= member_str(&b, "serve_mode", r->serve_mode);
	e |= buf_appendf(&b, ",\"stream\":%s,\"status\":%d",
	    r->stream ? "true" : "false", r->status);
	e |= member_str(&b, "error_code", r->error_code);
	e |= buf_appendf(&b, ",\"usage\":{\"prompt_tokens\":%lld,"
	    "\"completion_tokens\":%lld,\"total_tokens\":%lld,"
	    "\"cached_tokens\":%lld}", (long long)r->prompt_tokens,
	    (long long)r->completion_tokens, (long long)r->total_tokens,
	    (long long)r->cached_tokens);
	e |= member_str(&b, "usage_source", r->usage_source);
	e |= member_str(&b, "billing_basis", r->billing_basis);
	e |= member_money(&b, "cost_usd", r->cost);
	e |= member_money(&b, "fresh_cost_usd", r->fresh_cost);
	e |= member_money(&b, "saved_usd", r->saved);
	e |= buf_appendf(&b, ",\"latency_ms\":%lld", (long long)r->latency_ms);
	if (r->ttfb_ms >= 0)
		e |= buf_appendf(&b, ",\"ttfb_ms\":%lld", (long long)r->ttfb_ms);
	else
		e |= buf_appends(&b, ",\"ttfb_ms\":null");
	e |= member_str(&b, "upstream_request_id", r->upstream_request_id);
	e |= member_str(&b, "cache_key", r->cache_key);
	e |= member_str(&b, "policy_rule", r->policy_rule);
	e |= buf_appends(&b, ",\"attempts\":[");
	for (i = 0; i < r->nattempts; i++) {
		e |= buf_appends(&b, i > 0 ? ",{\"model\":" : "{\"model\":");
		e |= json_write_cstr(&b, r->attempts[i].model);
		e |= member_str(&b, "provider", r->attempts[i].provider);
		e |= buf_appendf(&b, ",\"status\":%d,\"latency_ms\":%lld}",
		    r->attempts[i].status, (long long)r->attempts[i].latency_ms);
	}
	e |= buf_appendc(&b, ']');
	e |= buf_appendc(&b, '}');
	if (e == 0) {
		sign_hex(b.data, b.len, key, hex);
		b.len--;		/* the closing brace */
		e |= buf_appendf(&b, "%s%s\"}", SIG_MEMBER, hex);
	}
	if (e == 0)
		e = buf_append(out, b.data, b.len);
	buf_free(&b);
	return e ? -1 : 0;
}

/* Where the signature member starts in line, or NULL. */
static const char *
find_sig(const char *line, size_t len)
{
	size_t m = sizeof(SIG_MEMBER) - 1;
	const char *p;

	/* The member is last: 64 hex digits, a quote and the brace follow. */
	if (len < m + CRYPTO_SHA256_HEXLEN + 2)
		return NULL;
	p = line + len - (m + CRYPTO_SHA256_HEXLEN + 2);
	if (memcmp(p, SIG_MEMBER, m) != 0 || line[len - 2] != '"' ||
	    line[len - 1] != '}')
		return NULL;
	return p;
}

/* Check a line's signature. */
int
receipt_verify(const char *line, size_t len,
    const unsigned char key[RECEIPT_KEY_LEN], char *err, size_t errlen)
{
	struct buf b;
	const char *sig;
	char hex[CRYPTO_SHA256_HEXLEN + 1];
	int ok;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0 || line[0] != '{') {
		snprintf(err, errlen, "not a receipt (a JSON object line)");
		return -1;
	}
	if ((sig = find_sig(line, len)) == NULL) {
		snprintf(err, errlen, "no signature as its last member");
		return -1;
	}
	buf_init(&b, RECEIPT_MAX_LINE);
	if (buf_append(&b, line, (size_t)(sig - line)) != 0 ||
	    buf_appendc(&b, '}') != 0) {
		buf_free(&b);
		snprintf(err, errlen, "longer than a receipt can be");
		return -1;
	}
	sign_hex(b.data, b.len, key, hex);
	buf_free(&b);
	ok = crypto_memeq(hex, sig + sizeof(SIG_MEMBER) - 1,
	    CRYPTO_SHA256_HEXLEN);
	if (!ok) {
		snprintf(err, errlen, "signature does not match: the receipt "
		    "was changed, or signed with another secret");
		return -1;
	}
	return 0;
}

/* "sha256:<hex>" of the line. */
void
receipt_hash(const char *line, size_t len, char *out)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	memcpy(out, "sha256:", 7);
	crypto_sha256_hex(line, len, out + 7);
}

/* A string member (null allowed when nullable) into out; 0/-1. */
static int
get_str(const struct json *j, const char *name, int nullable, char *out,
    size_t len)
{
	int t = json_get(j, 0, name);

	out[0] = '\0';
	if (t < 0)
		return -1;
	if (json_type(j, t) == JSON_NULL)
		return nullable ? 0 : -1;
	if (json_type(j, t) != JSON_STRING)
		return -1;
	return json_strcpy(j, t, out, len);
}

/* An integer member of object obj; 0/-1. */
static int
get_int(const struct json *j, int obj, const char *name, int64_t *v)
{
	int t = json_get(j, obj, name);

	if (t < 0 || json_int64(j, t, v) != 0)
		return -1;
	return 0;
}

/* A money member (decimal text); 0/-1. */
static int
get_money(const struct json *j, const char *name, nm_nano *v)
{
	char text[MONEY_STRLEN];

	if (get_str(j, name, 0, text, sizeof(text)) != 0)
		return -1;
	return money_parse(text, strlen(text), 0, v);
}

/* Parse a line's fields. */
int
receipt_parse(const char *line, size_t len, struct receipt_view *v,
    char *err, size_t errlen)
{
	struct json_limits lim = { 8, 256 };
	struct json j;
	const char *bad = NULL;
	int64_t st;
	int u;

	memset(v, 0, sizeof(*v));
	if (len > RECEIPT_MAX_LINE) {
		snprintf(err, errlen, "longer than a receipt can be");
		return -1;
	}
	if (json_parse(&j, line, len, &lim, err, errlen) != 0)
		return -1;
	if (json_type(&j, 0) != JSON_OBJECT)
		bad = "not an object";
	else if (get_str(&j, "id", 0, v->id, sizeof(v->id)) != 0 ||
	    strncmp(v->id, "rcpt_", 5) != 0)
		bad = "id";
	else if (get_str(&j, "request_id", 0, v->request_id,
	    sizeof(v->request_id)) != 0)
		bad = "request_id";
	else if (get_str(&j, "created", 0, v->created, sizeof(v->created)) != 0 ||
	    strlen(v->created) < 20 || v->created[4] != '-' ||
	    v->created[10] != 'T')
		bad = "created";
	else if (get_str(&j, "key_id", 0, v->key_id, sizeof(v->key_id)) != 0)
		bad = "key_id";
	else if (get_str(&j, "project", 0, v->project, sizeof(v->project)) != 0)
		bad = "project";
	else if (get_str(&j, "team", 1, v->team, sizeof(v->team)) != 0)
		bad = "team";
	else if (get_str(&j, "workload", 1, v->workload,
	    sizeof(v->workload)) != 0)
		bad = "workload";
	else if (get_str(&j, "endpoint", 0, v->endpoint,
	    sizeof(v->endpoint)) != 0)
		bad = "endpoint";
	else if (get_str(&j, "model", 1, v->model, sizeof(v->model)) != 0)
		bad = "model";
	else if (get_str(&j, "provider", 1, v->provider,
	    sizeof(v->provider)) != 0)
		bad = "provider";
	else if (get_str(&j, "serve_mode", 0, v->serve_mode,
	    sizeof(v->serve_mode)) != 0)
		bad = "serve_mode";
	else if (get_str(&j, "usage_source", 0, v->usage_source,
	    sizeof(v->usage_source)) != 0)
		bad = "usage_source";
	else if (get_int(&j, 0, "status", &st) != 0 || st < 0 || st > 999)
		bad = "status";
	else if ((u = json_get(&j, 0, "usage")) < 0 ||
	    json_type(&j, u) != JSON_OBJECT ||
	    get_int(&j, u, "prompt_tokens", &v->prompt_tokens) != 0 ||
	    get_int(&j, u, "completion_tokens", &v->completion_tokens) != 0 ||
	    get_int(&j, u, "total_tokens", &v->total_tokens) != 0 ||
	    get_int(&j, u, "cached_tokens", &v->cached_tokens) != 0)
		bad = "usage";
	else if (get_money(&j, "cost_usd", &v->cost) != 0)
		bad = "cost_usd";
	else if (get_money(&j, "fresh_cost_usd", &v->fresh_cost) != 0)
		bad = "fresh_cost_usd";
	else if (get_money(&j, "saved_usd", &v->saved) != 0)
		bad = "saved_usd";
	else if (get_int(&j, 0, "latency_ms", &v->latency_ms) != 0)
		bad = "latency_ms";
	json_free(&j);
	if (bad != NULL) {
		snprintf(err, errlen, "receipt field %s is missing or invalid",
		    bad);
		return -1;
	}
	v->status = (int)st;
	memcpy(v->day, v->created, 10);
	v->day[10] = '\0';
	return 0;
}
