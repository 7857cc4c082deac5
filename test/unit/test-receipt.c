/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for receipt lines: written with every member in order, signed,
 * checked, hashed and read back; any changed byte, a missing signature or
 * another secret is caught.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "receipt.h"
#include "unit.h"

static void
sample(struct receipt *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "rcpt_0123456789abcdef01234567");
	snprintf(r->request_id, sizeof(r->request_id),
	    "req_0123456789abcdef01234567");
	r->created_ms = 1796317440123LL;	/* 2026-12-03T17:04:00.123Z */
	r->key_id = "key_00112233aabbccdd";
	r->project = "shop";
	r->team = NULL;
	r->workload = "api.web \"quoted\"";
	r->endpoint = "/v1/chat/completions";
	r->model_requested = "gpt-4o-mini";
	r->model = "gpt-4o-mini";
	r->provider = "openai";
	r->serve_mode = "fresh";
	r->stream = 1;
	r->status = 200;
	r->prompt_tokens = 12;
	r->completion_tokens = 30;
	r->total_tokens = 42;
	r->cached_tokens = 0;
	r->usage_source = "upstream";
	r->billing_basis = "list_price";
	r->cost = 19800;		/* 0.0000198 */
	r->fresh_cost = 19800;
	r->saved = 0;
	r->latency_ms = 87;
	r->ttfb_ms = -1;
}

int
main(void)
{
	unsigned char key[RECEIPT_KEY_LEN], other[RECEIPT_KEY_LEN];
	struct receipt r;
	struct receipt_view v;
	struct buf b;
	char err[256], h1[RECEIPT_HASH_STRLEN], h2[RECEIPT_HASH_STRLEN];
	char t[32], id[RECEIPT_ID_LEN + 1], *p;
	const char *want;
	size_t i;

	receipt_key("s3cret", 6, key);
	receipt_key("s3cres", 6, other);
	CHECK(memcmp(key, other, sizeof(key)) != 0);

	receipt_time(1796317440123LL, t, sizeof(t));
	CHECK_STR(t, "2026-12-03T17:04:00.123Z");
	receipt_time(0, t, sizeof(t));
	CHECK_STR(t, "1970-01-01T00:00:00.000Z");

	CHECK(receipt_new_id(id, sizeof(id)) == 0);
	CHECK(strlen(id) == RECEIPT_ID_LEN && strncmp(id, "rcpt_", 5) == 0);
	CHECK(receipt_new_id(id, 10) == -1);

	sample(&r);
	buf_init(&b, 0);
	CHECK(receipt_write(&r, key, &b) == 0);
	want = "{\"id\":\"rcpt_0123456789abcdef01234567\","
	    "\"request_id\":\"req_0123456789abcdef01234567\",\"created\":"
	    "\"2026-12-03T17:04:00.123Z\",\"key_id\":\"key_00112233aabbccdd\","
	    "\"project\":\"shop\",\"team\":null,\"workload\":\"api.web "
	    "\\\"quoted\\\"\",";
	CHECK(strncmp(b.data, want, strlen(want)) == 0);
	CHECK(strstr(b.data, "\"cost_usd\":\"0.0000198\",\"fresh_cost_usd\":"
	    "\"0.0000198\",\"saved_usd\":\"0\",\"latency_ms\":87,"
	    "\"ttfb_ms\":null,") != NULL);
	CHECK(strstr(b.data, ",\"signature\":\"hmac-sha256:") != NULL);
	CHECK(b.data[b.len - 1] == '}');

	/* Good with the right key, refused with another. */
	CHECK(receipt_verify(b.data, b.len, key, err, sizeof(err)) == 0);
	CHECK(receipt_verify(b.data, b.len, other, err, sizeof(err)) == -1);
	CHECK(strstr(err, "signature does not match") != NULL);

	/* A trailing newline (a ledger line) is fine. */
	buf_appendc(&b, '\n');
	CHECK(receipt_verify(b.data, b.len, key, err, sizeof(err)) == 0);
	receipt_hash(b.data, b.len, h1);
	b.len--;
	b.data[b.len] = '\0';
	receipt_hash(b.data, b.len, h2);
	CHECK_STR(h1, h2);
	CHECK(strncmp(h1, "sha256:", 7) == 0 && strlen(h1) == 71);

	/* Every single changed byte before the signature is caught. */
	p = strstr(b.data, ",\"signature\"");
	for (i = 0; i < (size_t)(p - b.data); i++) {
		b.data[i] ^= 0x01;
		if (receipt_verify(b.data, b.len, key, err, sizeof(err)) == 0) {
			CHECK(!"a changed byte verified");
			break;
		}
		b.data[i] ^= 0x01;
	}
	CHECK(receipt_verify(b.data, b.len, key, err, sizeof(err)) == 0);

	/* Read back. */
	CHECK(receipt_parse(b.data, b.len, &v, err, sizeof(err)) == 0);
	CHECK_STR(v.id, "rcpt_0123456789abcdef01234567");
	CHECK_STR(v.day, "2026-12-03");
	CHECK_STR(v.project, "shop");
	CHECK_STR(v.team, "");
	CHECK_STR(v.workload, "api.web \"quoted\"");
	CHECK_STR(v.model, "gpt-4o-mini");
	CHECK_STR(v.serve_mode, "fresh");
	CHECK(v.status == 200 && v.prompt_tokens == 12 &&
	    v.completion_tokens == 30 && v.total_tokens == 42);
	CHECK(v.cost == 19800 && v.fresh_cost == 19800 && v.saved == 0);

	/* No signature, not a receipt, a broken field. */
	CHECK(receipt_verify("{\"id\":1}", 8, key, err, sizeof(err)) == -1);
	CHECK(strstr(err, "no signature") != NULL);
	CHECK(receipt_verify("", 0, key, err, sizeof(err)) == -1);
	CHECK(receipt_parse("{\"id\":\"rcpt_x\"}", 15, &v, err,
	    sizeof(err)) == -1);
	CHECK(strstr(err, "request_id") != NULL);
	CHECK(receipt_parse("[1]", 3, &v, err, sizeof(err)) == -1);

	/* An error receipt: nulls where nothing was called. */
	sample(&r);
	r.model = r.provider = NULL;
	r.status = 404;
	r.error_code = "model_not_found";
	r.usage_source = "none";
	r.billing_basis = "none";
	r.prompt_tokens = r.completion_tokens = r.total_tokens = 0;
	r.cost = r.fresh_cost = 0;
	r.ttfb_ms = 5;
	buf_reset(&b);
	CHECK(receipt_write(&r, key, &b) == 0);
	CHECK(strstr(b.data, "\"model\":null,\"provider\":null") != NULL);
	CHECK(strstr(b.data, "\"error_code\":\"model_not_found\"") != NULL);
	CHECK(strstr(b.data, "\"ttfb_ms\":5,") != NULL);
	CHECK(receipt_parse(b.data, b.len, &v, err, sizeof(err)) == 0);
	CHECK(v.status == 404 && v.model[0] == '\0');
	buf_free(&b);
	UNIT_DONE();
}
