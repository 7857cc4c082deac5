/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for usage reports without Redis: day checks, the record
 * script's arguments, rows summed exactly to the nano-dollar over many
 * receipts at prices such as $0.112 and $0.0375 per 1M tokens, shares,
 * and the table, CSV and JSON texts.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "money.h"
#include "usage.h"
#include "unit.h"

/* Exact decimal text of v nano-USD, written independently of money.c. */
static void
nano_text(int64_t v, char *out, size_t len)
{
	char	 frac[16];
	int	 n;

	snprintf(frac, sizeof(frac), "%09lld", (long long)(v % 1000000000));
	for (n = 9; n > 0 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	snprintf(out, len, "%lld%s%s", (long long)(v / 1000000000),
	    n > 0 ? "." : "", frac);
}

/* cost of tokens at per_mtok nano-USD, rounded half up: the long way. */
static int64_t
slow_cost(int64_t in, int64_t in_price, int64_t out, int64_t out_price)
{
	__int128 v = (__int128)in * in_price + (__int128)out * out_price;
	__int128 q = v / 1000000, r = v % 1000000;

	return (int64_t)(q + (r >= 500000));
}

static void
test_days(void)
{
	static const struct { const char *s; int ok; } t[] = {
		{ "2026-12-03", 0 }, { "2024-02-29", 0 }, { "2026-02-29", -1 },
		{ "2000-02-29", 0 }, { "1900-02-29", -1 }, { "2026-13-01", -1 },
		{ "2026-04-31", -1 }, { "2026-4-30", -1 }, { "2026-04-30x", -1 },
		{ "../etc/pas", -1 }, { "", -1 }, { "2026-00-10", -1 },
	};
	size_t	 i;

	for (i = 0; i < NM_NELEM(t); i++)
		CHECK(usage_day_check(t[i].s) == t[i].ok);
	CHECK(usage_dim_parse("workload") == USAGE_WORKLOAD);
	CHECK(usage_dim_parse("project") == USAGE_PROJECT);
	CHECK(usage_dim_parse("projects") == -1);
}

static void
test_record_args(void)
{
	struct receipt_view	 v;
	struct usage_record	 rec;
	int			 i, found_saved = 0, found_cost = 0;

	memset(&v, 0, sizeof(v));
	snprintf(v.id, sizeof(v.id), "rcpt_0123456789abcdef01234567");
	snprintf(v.day, sizeof(v.day), "2026-12-03");
	snprintf(v.key_id, sizeof(v.key_id), "key_00112233aabbccdd");
	snprintf(v.project, sizeof(v.project), "shop");
	snprintf(v.workload, sizeof(v.workload), "api.web");
	snprintf(v.serve_mode, sizeof(v.serve_mode), "exact_cache");
	v.status = 200;
	v.cost = 100;
	v.fresh_cost = 1000;
	v.saved = 900;
	CHECK(usage_record_args(&v, 3600, &rec) == 0);
	CHECK_STR(rec.argv[0], "EVALSHA");
	CHECK_STR(rec.argv[2], "8");
	CHECK(rec.nkeys == 8);
	CHECK_STR(rec.argv[3], "nm:{ledger}:seen:rcpt_0123456789abcdef01234567");
	CHECK_STR(rec.argv[4], "nm:{ledger}:days");
	CHECK_STR(rec.argv[5], "nm:{ledger}:projects:2026-12-03");
	CHECK_STR(rec.argv[6], "nm:{ledger}:usage:2026-12-03:shop:project");
	CHECK_STR(rec.argv[10], "nm:{ledger}:usage:2026-12-03:shop:model");
	CHECK_STR(rec.argv[11], "3600");
	CHECK_STR(rec.argv[12], "2026-12-03");
	CHECK_STR(rec.argv[13], "20261203");
	CHECK_STR(rec.argv[14], "shop");
	CHECK_STR(rec.argv[15], "shop");
	CHECK_STR(rec.argv[16], USAGE_NONE);	/* team */
	CHECK_STR(rec.argv[17], "key_00112233aabbccdd");
	CHECK_STR(rec.argv[18], "api.web");
	CHECK_STR(rec.argv[19], USAGE_NONE);	/* model */
	/* The script's metric pairs start at ARGV[10], argv[3 + 8 + 9]. */
	CHECK_STR(rec.argv[20], "requests");
	CHECK_STR(rec.argv[21], "1");
	for (i = 20; i + 1 < rec.argc; i += 2) {
		CHECK(strcmp(rec.argv[i], "errors") != 0);	/* zero: left out */
		CHECK(strcmp(rec.argv[i], "fresh") != 0);
		if (strcmp(rec.argv[i], "saved_nano") == 0)
			found_saved = strcmp(rec.argv[i + 1], "900") == 0;
		if (strcmp(rec.argv[i], "cost_nano") == 0)
			found_cost = strcmp(rec.argv[i + 1], "100") == 0;
		CHECK(rec.argvlen[i] == strlen(rec.argv[i]));
	}
	CHECK(found_saved && found_cost);
	snprintf(v.day, sizeof(v.day), "2026-1x-03");
	CHECK(usage_record_args(&v, 3600, &rec) == -1);
}

/* Many receipts at awkward prices: the rows add up to the nano-dollar. */
static void
test_exact_sums(void)
{
	static const struct { const char *model; int64_t in, out; } price[] = {
		{ "cheap", 112000000, 448000000 },	/* $0.112 / $0.448 */
		{ "odd", 37500000, 150000000 },		/* $0.0375 / $0.15 */
		{ "thirds", 333333333, 1000000001 },	/* $0.333333333 */
	};
	struct usage_result	 res;
	struct buf		 b;
	struct json		 j;
	struct json_limits	 lim = { 16, 100000 };
	int64_t			 want[3] = { 0, 0, 0 }, all = 0, c, pin, pout;
	char			 text[64], got[64], err[128];
	size_t			 i, k;
	int			 rows, t;

	usage_result_init(&res);
	for (i = 0; i < 200000; i++) {
		k = i % 3;
		pin = (int64_t)((i * 7919) % 4999) + 1;
		pout = (int64_t)((i * 104729) % 997);
		c = slow_cost(pin, price[k].in, pout, price[k].out);
		{
			int64_t toks[2] = { pin, pout };
			nm_nano p[2] = { price[k].in, price[k].out }, mc;

			CHECK(money_cost_sum(toks, p, 2, &mc) == 0 && mc == c);
		}
		want[k] += c;
		all += c;
		CHECK(usage_result_add(&res, price[k].model, UM_COST, c) == 0);
		CHECK(usage_result_add(&res, price[k].model, UM_REQUESTS, 1) == 0);
	}
	usage_result_sort(&res);
	CHECK(res.n == 3);
	CHECK(res.total.v[UM_COST] == all);
	CHECK(res.total.v[UM_REQUESTS] == 200000);
	for (i = 0; i < res.n; i++)
		for (k = 0; k < 3; k++)
			if (strcmp(res.rows[i].name, price[k].model) == 0)
				CHECK(res.rows[i].v[UM_COST] == want[k]);
	/* The JSON total is the same exact decimal. */
	buf_init(&b, 0);
	{
		struct usage_query q = { USAGE_MODEL, "", "", NULL };

		CHECK(usage_write_json(&res, &q, &b) == 0);
	}
	CHECK(json_parse(&j, b.data, b.len, &lim, err, sizeof(err)) == 0);
	t = json_get(&j, json_get(&j, 0, "total"), "cost_usd");
	CHECK(t > 0 && json_strcpy(&j, t, got, sizeof(got)) == 0);
	nano_text(all, text, sizeof(text));
	CHECK_STR(got, text);
	rows = json_get(&j, 0, "rows");
	CHECK(json_size(&j, rows) == 3);
	for (k = 0; k < 3; k++) {
		int r = json_at(&j, rows, (int)k);
		int64_t v;

		CHECK(json_strcpy(&j, json_get(&j, r, "cost_usd"), got,
		    sizeof(got)) == 0);
		CHECK(money_parse(got, strlen(got), 0, &v) == 0);
		CHECK(v == res.rows[k].v[UM_COST]);
	}
	json_free(&j);
	buf_free(&b);
	usage_result_free(&res);
}

static void
test_table(void)
{
	struct usage_result	 res;
	struct buf		 b;
	const char		*want;

	usage_result_init(&res);
	CHECK(usage_result_add(&res, "batch", UM_COST, 487000000000LL) == 0);
	CHECK(usage_result_add(&res, "batch", UM_REQUESTS, 20) == 0);
	CHECK(usage_result_add(&res, "api.web", UM_COST, 353000000000LL) == 0);
	CHECK(usage_result_add(&res, "api.web", UM_REQUESTS, 1200) == 0);
	CHECK(usage_result_add(&res, "api.web", UM_ERRORS, 3) == 0);
	CHECK(usage_result_add(&res, "api.web", UM_CACHED, 300) == 0);
	CHECK(usage_result_add(&res, "api.web", UM_SAVED, 12500000000LL) == 0);
	CHECK(usage_result_add(&res, "api.web", UM_PROMPT_TOKENS, 123456) == 0);
	CHECK(usage_result_add(&res, "(none)", UM_COST, 19800) == 0);
	CHECK(usage_result_add(&res, "(none)", UM_REQUESTS, 1) == 0);
	usage_result_sort(&res);
	buf_init(&b, 0);
	CHECK(usage_write_table(&res, USAGE_WORKLOAD, &b) == 0);
	want =
	    "WORKLOAD  REQUESTS  ERRORS  CACHED  PROMPT_TOKENS  COMPLETION_TOKENS         COST \xc2\xb7 SHARE   SAVED\n"
	    "batch           20       0       0              0                  0        $487.00 \xc2\xb7 58%   $0.00\n"
	    "api.web       1200       3     300         123456                  0        $353.00 \xc2\xb7 42%  $12.50\n"
	    "(none)           1       0       0              0                  0      $0.0000198 \xc2\xb7 0%   $0.00\n"
	    "total         1221       3     300         123456                  0  $840.0000198 \xc2\xb7 100%  $12.50\n";
	if (b.data == NULL || strcmp(b.data, want) != 0)
		fprintf(stderr, "table:\n%s", b.data ? b.data : "(null)");
	CHECK(b.data != NULL && strcmp(b.data, want) == 0);
	buf_reset(&b);
	CHECK(usage_write_csv(&res, USAGE_WORKLOAD, &b) == 0);
	want = "workload,requests,errors,fresh,cached,prompt_tokens,"
	    "completion_tokens,cached_tokens,cost_usd,fresh_cost_usd,"
	    "saved_usd,share_pct\r\n";
	CHECK(strncmp(b.data, want, strlen(want)) == 0);
	CHECK(strstr(b.data, "\r\napi.web,1200,3,0,300,123456,0,0,353,0,"
	    "12.5,42.02\r\n") != NULL);
	buf_free(&b);
	usage_result_free(&res);

	/* A name with a comma and a quote is quoted in CSV. */
	usage_result_init(&res);
	CHECK(usage_result_add(&res, "a,\"b\"", UM_REQUESTS, 1) == 0);
	buf_init(&b, 0);
	CHECK(usage_write_csv(&res, USAGE_WORKLOAD, &b) == 0);
	CHECK(strstr(b.data, "\r\n\"a,\"\"b\"\"\",1,") != NULL);
	buf_free(&b);
	usage_result_free(&res);
	usage_result_free(NULL);
}

static void
test_shares_and_rows(void)
{
	struct usage_result	 res;
	char			 name[32];
	size_t			 i;
	int			 ok = 1;

	CHECK(usage_share_bp(1, 3) == 3333);
	CHECK(usage_share_bp(2, 3) == 6667);
	CHECK(usage_share_bp(353, 840) == 4202);
	CHECK(usage_share_bp(0, 0) == 0);
	CHECK(usage_share_bp(5, 0) == 0);
	CHECK(usage_share_bp(INT64_MAX / 2, INT64_MAX) == 5000);
	/* Thousands of rows: each found again, none lost as the index grows. */
	usage_result_init(&res);
	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "key_%05zu", i % 5000);
		ok &= usage_result_add(&res, name, UM_REQUESTS, 1) == 0;
	}
	CHECK(ok);
	CHECK(res.n == 5000);
	for (i = 0; i < res.n; i++)
		ok &= res.rows[i].v[UM_REQUESTS] == 4;
	CHECK(ok);
	usage_result_sort(&res);
	CHECK_STR(res.rows[0].name, "key_00000");
	CHECK(usage_result_add(&res, "x", UM_NMETRICS, 1) == -1);
	memset(name, 'n', sizeof(name));
	usage_result_free(&res);
}

int
main(void)
{
	test_days();
	test_record_args();
	test_exact_sums();
	test_table();
	test_shares_and_rows();
	UNIT_DONE();
}
