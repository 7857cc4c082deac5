/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The ranking behind POST /v1/quotes and nextmodelctl models: which
 * catalog models can serve a request (capabilities, region, output and
 * context limits), what each would cost at worst and as expected, and
 * why the others cannot.  Money is integer nano-USD, exact decimal text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "estimate.h"
#include "facts.h"
#include "json.h"
#include "money.h"
#include "quote.h"

/* "tools,json" of caps into out. */
char *
quote_caps(unsigned caps, char *out, size_t outlen)
{
	unsigned bit;
	size_t len = 0;

	out[0] = '\0';
	for (bit = 1; bit != 0 && bit <= CAP_REASONING; bit <<= 1) {
		if (!(caps & bit) || catalog_cap_name(bit) == NULL)
			continue;
		snprintf(out + len, outlen - len, "%s%s", len > 0 ? "," : "",
		    catalog_cap_name(bit));
		len = strlen(out);
	}
	return out;
}

/* Why m cannot serve est (into why), or 0 if it can: the request's own filter. */
static int
excluded(const struct model *m, const struct estimate *est,
    const struct quote_opts *o, char *why, size_t len)
{
	if (o->region >= 0 && (int)m->region != o->region &&
	    !(m->caps & CAP_EMBEDDINGS)) {
		snprintf(why, len, "region %s, not %s",
		    catalog_region_name(m->region),
		    catalog_region_name((enum model_region)o->region));
		return 1;
	}
	return facts_fit(est, 0, m, NULL, why, len) != 0;
}

/* Order: the sort key, then the other, then the id (a stable answer). */
static int
cmp_price(const void *va, const void *vb)
{
	const struct quote_row *a = va, *b = vb;

	if (a->cost.expected != b->cost.expected)
		return a->cost.expected < b->cost.expected ? -1 : 1;
	if (a->m->latency_ms != b->m->latency_ms)
		return a->m->latency_ms < b->m->latency_ms ? -1 : 1;
	return strcmp(a->m->id, b->m->id);
}

static int
cmp_latency(const void *va, const void *vb)
{
	const struct quote_row *a = va, *b = vb;

	if (a->m->latency_ms != b->m->latency_ms)
		return a->m->latency_ms < b->m->latency_ms ? -1 : 1;
	if (a->cost.expected != b->cost.expected)
		return a->cost.expected < b->cost.expected ? -1 : 1;
	return strcmp(a->m->id, b->m->id);
}

/* 1 if m is the model the request names (by id or alias). */
static int
is_requested(const struct catalog *cat, const struct model *m,
    const char *name)
{
	return name != NULL && catalog_find(cat, name) == m;
}

/* Rank the catalog for est. */
int
quote_build(const struct catalog *cat, const struct estimate *est,
    const struct quote_opts *o, struct quote *q)
{
	const struct model *m;
	struct quote_row *row;
	struct quote_excluded *x;
	size_t i, n = cat != NULL ? cat->n : 0;

	memset(q, 0, sizeof(*q));
	q->est = *est;
	/* One more exclusion than models: a requested name not in the catalog. */
	if ((q->rows = calloc(n + 1, sizeof(*q->rows))) == NULL ||
	    (q->excl = calloc(n + 1, sizeof(*q->excl))) == NULL ||
	    (o->model != NULL && (q->requested = strdup(o->model)) == NULL)) {
		quote_free(q);
		return -1;
	}
	for (i = 0; i < n; i++) {
		m = &cat->models[i];
		x = &q->excl[q->nexcl];
		if (excluded(m, est, o, x->reason, sizeof(x->reason))) {
			x->m = m;
			x->requested = is_requested(cat, m, o->model);
			q->nexcl++;
			continue;
		}
		row = &q->rows[q->nrows];
		if (estimate_cost(est, m, &row->cost) != 0) {
			x->m = m;
			snprintf(x->reason, sizeof(x->reason),
			    "its cost does not fit the gateway's arithmetic");
			q->nexcl++;
			continue;
		}
		row->m = m;
		row->requested = is_requested(cat, m, o->model);
		q->nrows++;
	}
	if (o->model != NULL && catalog_find(cat, o->model) == NULL) {
		x = &q->excl[q->nexcl++];
		x->requested = 1;
		snprintf(x->reason, sizeof(x->reason), "not in the catalog");
	}
	qsort(q->rows, q->nrows, sizeof(*q->rows), o->sort ==
	    QUOTE_SORT_LATENCY ? cmp_latency : cmp_price);
	return 0;
}

/* Free what quote_build made. */
void
quote_free(struct quote *q)
{
	if (q == NULL)
		return;
	free(q->rows);
	free(q->excl);
	free(q->requested);
	memset(q, 0, sizeof(*q));
}

/* "key":"<money>" */
static int
put_money(struct buf *b, const char *key, nm_nano v)
{
	char s[MONEY_STRLEN];

	return buf_appendf(b, ",\"%s\":\"%s\"", key, money_format(v, s,
	    sizeof(s)));
}

/* One ranked model. */
static int
put_row(struct buf *b, const struct quote_row *r)
{
	const struct model *m = r->m;
	int rc = 0;

	rc |= buf_appends(b, "{\"model\":");
	rc |= json_write_cstr(b, m->id);
	rc |= buf_appends(b, ",\"provider\":");
	rc |= json_write_cstr(b, m->provider);
	rc |= buf_appendf(b, ",\"region\":\"%s\",\"latency_ms\":%d",
	    catalog_region_name(m->region), m->latency_ms);
	rc |= put_money(b, "input_per_mtok", m->input_per_mtok);
	rc |= put_money(b, "output_per_mtok", m->output_per_mtok);
	rc |= put_money(b, "worst_case_cost_usd", r->cost.worst);
	rc |= put_money(b, "expected_cost_usd", r->cost.expected);
	rc |= buf_appendf(b, ",\"max_output\":%lld,\"context_window\":%lld,"
	    "\"worst_case_output_tokens\":%lld,\"expected_output_tokens\":%lld",
	    (long long)m->max_output, (long long)m->context_window,
	    (long long)r->cost.output_worst, (long long)r->cost.output_expected);
	if (r->requested)
		rc |= buf_appends(b, ",\"requested\":true");
	rc |= buf_appendc(b, '}');
	return rc;
}

/* One model left out, and why. */
static int
put_excluded(struct buf *b, const struct quote *q, const struct quote_excluded *x)
{
	int rc = 0;

	rc |= buf_appends(b, "{\"model\":");
	rc |= json_write_cstr(b, x->m != NULL ? x->m->id : q->requested);
	rc |= buf_appends(b, ",\"provider\":");
	rc |= x->m != NULL ? json_write_cstr(b, x->m->provider) :
	    buf_appends(b, "null");
	rc |= buf_appends(b, ",\"reason\":");
	rc |= json_write_cstr(b, x->reason);
	if (x->requested)
		rc |= buf_appends(b, ",\"requested\":true");
	rc |= buf_appendc(b, '}');
	return rc;
}

/* The whole answer of POST /v1/quotes. */
int
quote_write_json(const struct quote *q, struct buf *b)
{
	unsigned bit;
	size_t i;
	int rc = 0, first = 1;

	rc |= buf_appendf(b, "{\"object\":\"list\",\"estimated_input_tokens\":"
	    "%lld,\"max_tokens\":", (long long)q->est.input_tokens);
	rc |= q->est.max_tokens > 0 ? buf_appendf(b, "%lld",
	    (long long)q->est.max_tokens) : buf_appends(b, "null");
	rc |= buf_appendf(b, ",\"n\":%lld,\"required_capabilities\":[",
	    (long long)q->est.n);
	for (bit = 1; bit != 0 && bit <= CAP_REASONING; bit <<= 1) {
		if (!(q->est.caps & bit))
			continue;
		rc |= buf_appendf(b, "%s\"%s\"", first ? "" : ",",
		    catalog_cap_name(bit));
		first = 0;
	}
	rc |= buf_appends(b, "],\"data\":[");
	for (i = 0; i < q->nrows; i++) {
		if (i > 0)
			rc |= buf_appendc(b, ',');
		rc |= put_row(b, &q->rows[i]);
	}
	rc |= buf_appends(b, "],\"excluded\":[");
	for (i = 0; i < q->nexcl; i++) {
		if (i > 0)
			rc |= buf_appendc(b, ',');
		rc |= put_excluded(b, q, &q->excl[i]);
	}
	rc |= buf_appends(b, "]}");
	return rc ? -1 : 0;
}
