/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl bench cache-safety, the report side: what each answer
 * says (serve mode; for promptsets the message text and token usage),
 * the scorecards of bench-score.c, and their text and JSON forms.
 * Money is exact decimal text; an empty cohort's rate is null ("n/a").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "money.h"
#include "bench.h"
#include "ctl.h"

static const char *const pclass_names[] = {
	[BENCH_TRAP_FIRST] = "trap-first",
	[BENCH_TRAP_SECOND] = "trap-second",
	[BENCH_REPEAT_FIRST] = "repeat-first",
	[BENCH_REPEAT_SECOND] = "repeat-second",
	[BENCH_FRESH] = "fresh",
};

static const struct json_limits limits_answer = { 64, 1000000 };

/* The layers in report order, hits first. */
static const enum bench_layer report_layers[] = {
	BENCH_EXACT, BENCH_CANONICAL, BENCH_LN_BETA, BENCH_UNLABELED,
	BENCH_MISS,
};

/* The name of a promptset turn class. */
const char *
bench_pclass_name(enum bench_pclass c)
{
	return (unsigned)c < NM_NELEM(pclass_names) ? pclass_names[c] : "?";
}

/* The file name without its folders. */
static const char *
base_name(const char *path)
{
	const char	*s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

/* "rate (num/den)" or "n/a (0 cases)" for the text report. */
static const char *
rate_text(int64_t num, int64_t den, char *out, size_t outlen)
{
	char	 r[32];

	if (den == 0)
		snprintf(out, outlen, "n/a (no cases)");
	else
		snprintf(out, outlen, "%s (%lld/%lld)", bench_rate_format(num,
		    den, r, sizeof(r)), (long long)num, (long long)den);
	return out;
}

/* ,"key":rate or null. */
static int
j_rate(struct buf *b, const char *key, int64_t num, int64_t den)
{
	char	 r[32];

	return buf_appendf(b, ",\"%s\":%s", key, bench_rate_format(num, den,
	    r, sizeof(r)));
}

/* ,"key":"decimal" or null (v < 0). */
static int
j_money(struct buf *b, const char *key, nm_nano v)
{
	char	 m[MONEY_STRLEN];

	if (v < 0)
		return buf_appendf(b, ",\"%s\":null", key);
	return buf_appendf(b, ",\"%s\":\"%s\"", key, money_format(v, m,
	    sizeof(m)));
}

/* ,"key":"text" (JSON-escaped). */
static int
j_str(struct buf *b, const char *key, const char *s)
{
	return buf_appendf(b, ",\"%s\":", key) || json_write_cstr(b, s);
}

/* ,"cache_layer_contribution":{...} */
static int
j_layers(struct buf *b, const int64_t *layers)
{
	size_t	 i;
	int	 r;

	r = buf_appends(b, ",\"cache_layer_contribution\":{");
	for (i = 0; i < NM_NELEM(report_layers); i++)
		r |= buf_appendf(b, "%s\"%s\":%lld", i > 0 ? "," : "",
		    bench_layer_name(report_layers[i]),
		    (long long)layers[report_layers[i]]);
	return r | buf_appendc(b, '}');
}

/* "exact 1, canonical 0, ln_beta 0 (misses 5)" */
static void
print_layers(const int64_t *layers)
{
	size_t	 i;

	printf("%-28s", "hits by layer");
	for (i = 0; i + 1 < NM_NELEM(report_layers); i++)
		printf("%s%s %lld", i > 0 ? ", " : "",
		    bench_layer_name(report_layers[i]),
		    (long long)layers[report_layers[i]]);
	printf(" (misses %lld)\n", (long long)layers[BENCH_MISS]);
}

/* Print b, a finished JSON document; CTL_OK or CTL_FAIL. */
static int
emit_json(struct buf *b, int r)
{
	if (r != 0 || buf_appendc(b, '}') != 0) {
		ctl_warnx("out of memory");
		buf_free(b);
		return CTL_FAIL;
	}
	printf("%s\n", b->data);
	buf_free(b);
	return CTL_OK;
}

/* Where a hit came from, for messages: "the exact layer", "a cache ...". */
static const char *
hit_where(enum bench_layer l, char *out, size_t outlen)
{
	if (l == BENCH_UNLABELED)
		return "a cache (the source was not called)";
	snprintf(out, outlen, "the %s layer", bench_layer_name(l));
	return out;
}

/* "upstream" or "header". */
static const char *
detect_name(const struct bench_opts *o)
{
	return o->upstream ? "upstream" : "header";
}

/* Case c's inconsistencies (--detect upstream) into out, "" for none. */
static void
case_note(const struct bench_case *c, const struct bench_call *k, char *out,
    size_t outlen)
{
	const char	*a = c->seen[0].note, *b = c->seen[1].note;

	if (k->error || (a[0] == '\0' && b[0] == '\0')) {
		out[0] = '\0';
		return;
	}
	snprintf(out, outlen, "%s%s%s%s%s", a[0] != '\0' ? "old_request: " : "",
	    a, a[0] != '\0' && b[0] != '\0' ? "; " : "",
	    b[0] != '\0' ? "new_request: " : "", b);
}

/* ,"upstream":{"url":..,"source_calls":N,"inconsistencies":K} */
static int
j_upstream(struct buf *b, const struct bench_opts *o, int64_t ninc)
{
	if (!o->upstream)
		return 0;
	return buf_appends(b, ",\"upstream\":{\"url\":") ||
	    json_write_cstr(b, bench_source_url(o->src)) ||
	    buf_appendf(b, ",\"source_calls\":%llu,\"inconsistencies\":%lld}",
	    (unsigned long long)bench_source_calls(o->src), (long long)ninc);
}

/* The source's figures for the text report (--detect upstream). */
static void
print_upstream(const struct bench_opts *o, int64_t ninc)
{
	if (!o->upstream)
		return;
	printf("%-28s%llu (%s)\n", "counting source calls",
	    (unsigned long long)bench_source_calls(o->src),
	    bench_source_url(o->src));
	printf("%-28s%lld\n", "inconsistencies", (long long)ninc);
}

/* Why case c failed, into out ("" when it did not). */
static void
case_message(const struct bench_case *c, const struct bench_call *k,
    int upstream, char *out, size_t outlen)
{
	const char	*layer;
	char		 w[64];

	switch (c->p.outcome) {
	case BENCH_OUT_ERROR:
		snprintf(out, outlen, "%s", k->err);
		break;
	case BENCH_OUT_MISSED_HIT:
		if (upstream)
			snprintf(out, outlen, "expected a cache hit; the source "
			    "was called for the second request");
		else
			snprintf(out, outlen, "expected a cache hit; the second "
			    "answer was served as \"%s\"", k->mode[1]);
		break;
	case BENCH_OUT_BAD_HIT:
		layer = hit_where(c->p.layer, w, sizeof(w));
		if (c->p.kind == BENCH_KIND_TRAP)
			snprintf(out, outlen, "a trap was served from %s",
			    layer);
		else
			snprintf(out, outlen, "served from %s, but "
			    "old_answer.text differs from fresh_answer", layer);
		break;
	default:
		out[0] = '\0';
	}
}

/* 1 if case i is the first trap failure of its category. */
static int
first_of_category(const struct bench_run *run, size_t i, int64_t *count)
{
	const struct bench_case	*c = &run->cases[i];
	size_t			 k;

	*count = 0;
	if (c->p.kind != BENCH_KIND_TRAP || c->p.outcome != BENCH_OUT_BAD_HIT)
		return 0;
	for (k = 0; k < run->ncalls; k++) {
		const struct bench_case *o = &run->cases[k];
		if (o->p.kind != BENCH_KIND_TRAP ||
		    o->p.outcome != BENCH_OUT_BAD_HIT ||
		    strcmp(o->category, c->category) != 0)
			continue;
		if (k < i)
			return 0;
		(*count)++;
	}
	return *count > 0;
}

/* The lab scorecard as JSON. */
static int
dataset_json(const struct bench_opts *o, const struct bench_run *run,
    const struct bench_pair_score *s)
{
	struct buf	 b;
	char		 msg[700];
	size_t		 i;
	int64_t		 cnt, ninc = 0;
	int		 r, n = 0;

	for (i = 0; i < run->ncalls; i++) {
		case_note(&run->cases[i], &run->calls[i], msg, sizeof(msg));
		ninc += msg[0] != '\0';
	}
	buf_init(&b, 0);
	r = buf_appends(&b, "{\"scorecard\":\"lab\"");
	r |= j_str(&b, "dataset", base_name(o->dataset));
	r |= j_str(&b, "detect", detect_name(o));
	r |= j_upstream(&b, o, ninc);
	r |= buf_appendf(&b, ",\"total_pairs\":%lld,"
	    "\"hits\":%lld,\"safe_hits\":%lld,\"bad_hits\":%lld,"
	    "\"missed_hits\":%lld,\"errors\":%lld", (long long)s->total,
	    (long long)s->hits, (long long)s->safe_hits,
	    (long long)s->bad_hits, (long long)s->missed_hits,
	    (long long)s->errors);
	r |= j_rate(&b, "safe_hit_rate", s->safe_hits, s->total);
	r |= j_rate(&b, "bad_hit_rate", s->bad_hits, s->total);
	r |= buf_appendf(&b, ",\"semantic_traps\":%lld,"
	    "\"semantic_trap_failures\":%lld", (long long)s->traps,
	    (long long)s->trap_failures);
	r |= j_rate(&b, "semantic_trap_failure_rate", s->trap_failures,
	    s->traps);
	r |= j_money(&b, "cost_saved_usd", s->safe_saved);
	r |= j_money(&b, "cost_saved_per_1k_requests_usd", s->saved_per_1k);
	r |= j_layers(&b, s->layers);
	r |= buf_appends(&b, ",\"trap_failures_by_category\":{");
	for (i = 0; i < run->ncalls; i++)
		if (first_of_category(run, i, &cnt))
			r |= buf_appends(&b, n++ > 0 ? "," : "") ||
			    json_write_cstr(&b, run->cases[i].category) ||
			    buf_appendf(&b, ":%lld", (long long)cnt);
	r |= buf_appends(&b, "},\"cases\":[");
	for (i = 0; i < run->ncalls; i++) {
		const struct bench_case *c = &run->cases[i];
		r |= buf_appends(&b, i > 0 ? ",{" : "{") ||
		    buf_appends(&b, "\"id\":") || json_write_cstr(&b, c->id);
		r |= j_str(&b, "category", c->category);
		r |= j_str(&b, "kind", bench_kind_name(c->p.kind));
		r |= j_str(&b, "serve_mode", run->calls[i].mode[1]);
		r |= j_str(&b, "layer", bench_layer_name(c->p.layer));
		r |= j_str(&b, "outcome", bench_outcome_name(c->p.outcome));
		if (o->upstream)
			r |= buf_appendf(&b, ",\"source_calls\":%llu",
			    (unsigned long long)c->seen[1].calls);
		r |= buf_appendc(&b, '}');
	}
	r |= buf_appends(&b, "],\"inconsistencies\":[");
	for (i = 0, n = 0; i < run->ncalls; i++) {
		case_note(&run->cases[i], &run->calls[i], msg, sizeof(msg));
		if (msg[0] == '\0')
			continue;
		r |= buf_appends(&b, n++ > 0 ? ",{" : "{") ||
		    buf_appends(&b, "\"id\":") ||
		    json_write_cstr(&b, run->cases[i].id);
		r |= j_str(&b, "message", msg);
		r |= buf_appendc(&b, '}');
	}
	r |= buf_appends(&b, "],\"failures\":[");
	for (i = 0, n = 0; i < run->ncalls; i++) {
		const struct bench_case *c = &run->cases[i];
		case_message(c, &run->calls[i], o->upstream, msg,
		    sizeof(msg));
		if (msg[0] == '\0')
			continue;
		r |= buf_appends(&b, n++ > 0 ? ",{" : "{") ||
		    buf_appends(&b, "\"id\":") || json_write_cstr(&b, c->id);
		r |= j_str(&b, "category", c->category);
		r |= j_str(&b, "kind", bench_kind_name(c->p.kind));
		r |= j_str(&b, "layer", bench_layer_name(c->p.layer));
		r |= j_str(&b, "outcome", bench_outcome_name(c->p.outcome));
		r |= j_str(&b, "message", msg);
		r |= buf_appendc(&b, '}');
	}
	r |= buf_appendc(&b, ']');
	return emit_json(&b, r);
}

/* The lab scorecard as text. */
static void
dataset_text(const struct bench_opts *o, const struct bench_run *run,
    const struct bench_pair_score *s)
{
	char	 t[96], m1[MONEY_STRLEN], m2[MONEY_STRLEN], msg[700];
	size_t	 i;
	int64_t	 cnt, ninc = 0;
	int	 n = 0;

	for (i = 0; i < run->ncalls; i++) {
		case_note(&run->cases[i], &run->calls[i], msg, sizeof(msg));
		ninc += msg[0] != '\0';
	}
	printf("CacheSafety Bench, lab scorecard: %s (detect: %s)\n",
	    base_name(o->dataset), detect_name(o));
	printf("%-28s%lld (hits %lld, errors %lld)\n", "pairs",
	    (long long)s->total, (long long)s->hits, (long long)s->errors);
	printf("%-28s%s\n", "safe hit rate", rate_text(s->safe_hits, s->total,
	    t, sizeof(t)));
	printf("%-28s%s\n", "bad hit rate", rate_text(s->bad_hits, s->total, t,
	    sizeof(t)));
	printf("%-28s%s\n", "semantic trap failure rate",
	    rate_text(s->trap_failures, s->traps, t, sizeof(t)));
	printf("%-28s%s USD (%s USD saved by safe hits)\n",
	    "cost saved per 1K requests", money_format(s->saved_per_1k, m1,
	    sizeof(m1)), money_format(s->safe_saved, m2, sizeof(m2)));
	print_layers(s->layers);
	print_upstream(o, ninc);
	printf("%-28s", "failed traps by category");
	for (i = 0; i < run->ncalls; i++)
		if (first_of_category(run, i, &cnt))
			printf("%s%s %lld", n++ > 0 ? ", " : "",
			    run->cases[i].category, (long long)cnt);
	printf("%s\n", n == 0 ? "none" : "");
	if (s->hits > 0) {
		printf("hits:\n");
		for (i = 0; i < run->ncalls; i++)
			if (run->cases[i].p.outcome == BENCH_OUT_SAFE_HIT ||
			    run->cases[i].p.outcome == BENCH_OUT_BAD_HIT)
				printf("  %s  %s  %s\n", run->cases[i].id,
				    bench_layer_name(run->cases[i].p.layer),
				    bench_outcome_name(run->cases[i].p.outcome));
	}
	for (i = 0, n = 0; i < run->ncalls; i++) {
		case_message(&run->cases[i], &run->calls[i], o->upstream, msg,
		    sizeof(msg));
		if (msg[0] == '\0')
			continue;
		if (n++ == 0)
			printf("failures:\n");
		printf("  %s  %s  %s: %s\n", run->cases[i].id,
		    run->cases[i].category,
		    bench_outcome_name(run->cases[i].p.outcome), msg);
	}
	for (i = 0, n = 0; i < run->ncalls; i++) {
		case_note(&run->cases[i], &run->calls[i], msg, sizeof(msg));
		if (msg[0] == '\0')
			continue;
		if (n++ == 0)
			printf("inconsistencies:\n");
		printf("  %s  %s\n", run->cases[i].id, msg);
	}
}

/* Score a dataset run and print it. */
int
bench_report_dataset(const struct bench_opts *o, struct bench_run *run)
{
	struct bench_pair_score	 s;
	struct bench_pair	*p;
	size_t			 i;
	int			 rc;

	for (i = 0; i < run->ncalls; i++) {
		struct bench_case *c = &run->cases[i];
		struct bench_call *k = &run->calls[i];
		c->p.error = k->error;
		if (!o->upstream)
			c->p.layer = bench_layer_of(k->mode[1],
			    strlen(k->mode[1]));
		else if (!k->error) {
			bench_upstream_judge(o->src, k, 0, 1, 0, &c->seen[0]);
			bench_upstream_judge(o->src, k, 1, 0,
			    c->seen[0].nkind == BENCH_NONCE_OURS ?
			    c->seen[0].nonce : 0, &c->seen[1]);
			c->p.layer = c->seen[1].layer;
		}
	}
	if ((p = calloc(run->ncalls, sizeof(*p))) == NULL) {
		ctl_warnx("out of memory");
		return CTL_FAIL;
	}
	for (i = 0; i < run->ncalls; i++)
		p[i] = run->cases[i].p;
	if (bench_score_pairs(p, run->ncalls, &s) != 0) {
		free(p);
		ctl_warnx("the costs add up to more than fits in nano-USD");
		return CTL_FAIL;
	}
	for (i = 0; i < run->ncalls; i++)
		run->cases[i].p.outcome = p[i].outcome;
	free(p);
	if (o->json)
		rc = dataset_json(o, run, &s);
	else {
		dataset_text(o, run, &s);
		rc = CTL_OK;
	}
	if (rc == CTL_OK)
		rc = ctl_flush();
	return rc == CTL_OK && s.errors > 0 ? CTL_FAIL : rc;
}

/* Content and token usage of turn t's answer a (OpenAI format). */
static void
read_answer(struct bench_turn *t, const struct buf *a)
{
	struct json	 j;
	char		 err[64];
	int		 ch, msg, c, u, v, d;

	memset(&j, 0, sizeof(j));
	if (a->len == 0 || json_parse(&j, a->data, a->len, &limits_answer,
	    err, sizeof(err)) != 0 || json_type(&j, 0) != JSON_OBJECT)
		goto out;
	if ((ch = json_get(&j, 0, "choices")) >= 0 &&
	    (c = json_at(&j, ch, 0)) >= 0 &&
	    (msg = json_get(&j, c, "message")) >= 0 &&
	    (v = json_get(&j, msg, "content")) >= 0 &&
	    json_type(&j, v) == JSON_STRING)
		t->content = json_strdup(&j, v, &t->content_len);
	if ((u = json_get(&j, 0, "usage")) < 0 ||
	    json_type(&j, u) != JSON_OBJECT)
		goto out;
	v = json_get(&j, u, "prompt_tokens");
	t->has_prompt = v >= 0 && json_type(&j, v) == JSON_NUMBER;
	if ((d = json_get(&j, u, "prompt_tokens_details")) >= 0 &&
	    json_type(&j, d) == JSON_OBJECT &&
	    (v = json_get(&j, d, "cached_tokens")) >= 0 &&
	    json_int64(&j, v, &t->cached) == 0 && t->cached >= 0)
		t->has_cached = 1;
out:
	json_free(&j);
}

/* How turn t came out, for the report. */
static const char *
turn_outcome(const struct bench_turn *t, const struct bench_prompt *p)
{
	int	 hit = !p->error && p->layer != BENCH_MISS;

	if (p->error)
		return "error";
	if (!hit)
		return "miss";
	switch (t->pclass) {
	case BENCH_REPEAT_SECOND:
		return bench_contains_all(p->content, p->content_len, p->expect,
		    p->nexpect) ? "safe_hit" : "hit_without_keywords";
	case BENCH_TRAP_SECOND:
		return bench_contains_all(p->content, p->content_len, p->stale,
		    p->nstale) ? "bad_hit" : "hit";
	case BENCH_FRESH:
		return "bad_hit";
	default:
		return "hit";
	}
}

/* Why turn t failed into out ("" when it did not). */
static void
turn_message(const struct bench_turn *t, const struct bench_prompt *p,
    const struct bench_call *k, char *out, size_t outlen)
{
	const char	*oc = turn_outcome(t, p);
	char		 w[64];

	if (strcmp(oc, "error") == 0)
		snprintf(out, outlen, "%s", k->err);
	else if (strcmp(oc, "bad_hit") == 0 && t->pclass == BENCH_FRESH)
		snprintf(out, outlen, "a fresh question was served from %s",
		    hit_where(p->layer, w, sizeof(w)));
	else if (strcmp(oc, "bad_hit") == 0)
		snprintf(out, outlen, "served from %s with the stale answer",
		    hit_where(p->layer, w, sizeof(w)));
	else
		out[0] = '\0';
}

/* The publication scorecard as JSON. */
static int
promptset_json(const struct bench_opts *o, const struct bench_run *run,
    const struct bench_prompt *p, const struct bench_pub_score *s)
{
	struct buf	 b;
	char		 msg[400];
	size_t		 i;
	int64_t		 ninc = 0;
	int		 r, n = 0;

	for (i = 0; i < run->nturns; i++)
		ninc += !p[i].error && run->turns[i].seen.note[0] != '\0';
	buf_init(&b, 0);
	r = buf_appends(&b, "{\"scorecard\":\"publication\"");
	r |= j_str(&b, "promptset", base_name(o->promptset));
	r |= j_str(&b, "model", o->model);
	r |= j_str(&b, "detect", detect_name(o));
	r |= j_upstream(&b, o, ninc);
	r |= buf_appendf(&b, ",\"sample_size\":%lld,"
	    "\"errors\":%lld", (long long)s->sample, (long long)s->errors);
	r |= j_rate(&b, "safe_hit_rate", s->repeat_safe, s->repeat_total);
	r |= j_rate(&b, "bad_hit_rate", s->trap_bad, s->trap_total);
	r |= j_rate(&b, "semantic_trap_failure_rate", s->fresh_hits,
	    s->fresh_total);
	r |= j_money(&b, "cost_saved_per_1k_requests", s->saved_per_1k);
	r |= buf_appendf(&b, ",\"cohorts\":{\"repeat_seconds\":%lld,"
	    "\"repeat_safe_hits\":%lld,\"trap_seconds\":%lld,"
	    "\"trap_bad_hits\":%lld,\"fresh\":%lld,\"fresh_hits\":%lld}",
	    (long long)s->repeat_total, (long long)s->repeat_safe,
	    (long long)s->trap_total, (long long)s->trap_bad,
	    (long long)s->fresh_total, (long long)s->fresh_hits);
	r |= j_layers(&b, s->layers);
	r |= buf_appends(&b, ",\"turns\":[");
	for (i = 0; i < run->nturns; i++) {
		const struct bench_turn *t = &run->turns[i];
		r |= buf_appends(&b, i > 0 ? ",{" : "{") ||
		    buf_appends(&b, "\"id\":") || json_write_cstr(&b, t->id);
		r |= j_str(&b, "class", bench_pclass_name(t->pclass));
		r |= j_str(&b, "serve_mode", run->calls[t->call].mode[t->stage]);
		r |= j_str(&b, "layer", bench_layer_name(p[i].layer));
		r |= j_str(&b, "outcome", turn_outcome(t, &p[i]));
		if (o->upstream)
			r |= buf_appendf(&b, ",\"source_calls\":%llu",
			    (unsigned long long)t->seen.calls);
		r |= buf_appendc(&b, '}');
	}
	r |= buf_appends(&b, "],\"inconsistencies\":[");
	for (i = 0; i < run->nturns; i++) {
		const struct bench_turn *t = &run->turns[i];
		if (p[i].error || t->seen.note[0] == '\0')
			continue;
		r |= buf_appends(&b, n++ > 0 ? ",{" : "{") ||
		    buf_appends(&b, "\"id\":") || json_write_cstr(&b, t->id);
		r |= j_str(&b, "message", t->seen.note);
		r |= buf_appendc(&b, '}');
	}
	n = 0;
	r |= buf_appends(&b, "],\"failures\":[");
	for (i = 0; i < run->nturns; i++) {
		const struct bench_turn *t = &run->turns[i];
		turn_message(t, &p[i], &run->calls[t->call], msg, sizeof(msg));
		if (msg[0] == '\0')
			continue;
		r |= buf_appends(&b, n++ > 0 ? ",{" : "{") ||
		    buf_appends(&b, "\"id\":") || json_write_cstr(&b, t->id);
		r |= j_str(&b, "class", bench_pclass_name(t->pclass));
		r |= j_str(&b, "layer", bench_layer_name(p[i].layer));
		r |= j_str(&b, "message", msg);
		r |= buf_appendc(&b, '}');
	}
	r |= buf_appendc(&b, ']');
	return emit_json(&b, r);
}

/* The publication scorecard as text. */
static void
promptset_text(const struct bench_opts *o, const struct bench_run *run,
    const struct bench_prompt *p, const struct bench_pub_score *s)
{
	char	 t[96], m[MONEY_STRLEN], msg[400];
	size_t	 i;
	int64_t	 ninc = 0;
	int	 n = 0;

	for (i = 0; i < run->nturns; i++)
		ninc += !p[i].error && run->turns[i].seen.note[0] != '\0';
	printf("CacheSafety Bench, publication scorecard: %s (model %s, "
	    "detect: %s)\n", base_name(o->promptset), o->model,
	    detect_name(o));
	printf("%-28s%lld (errors %lld)\n", "requests", (long long)s->sample,
	    (long long)s->errors);
	printf("%-28s%s\n", "safe hit rate", rate_text(s->repeat_safe,
	    s->repeat_total, t, sizeof(t)));
	printf("%-28s%s\n", "bad hit rate", rate_text(s->trap_bad,
	    s->trap_total, t, sizeof(t)));
	printf("%-28s%s\n", "semantic trap failure rate",
	    rate_text(s->fresh_hits, s->fresh_total, t, sizeof(t)));
	if (s->saved_per_1k < 0)
		printf("%-28sn/a%s\n", "cost saved per 1K requests",
		    o->input_per_mtok > 0 ? " (no cached_tokens reported)" :
		    " (no --input-price-per-1m)");
	else
		printf("%-28s%s USD\n", "cost saved per 1K requests",
		    money_format(s->saved_per_1k, m, sizeof(m)));
	print_layers(s->layers);
	print_upstream(o, ninc);
	for (i = 0; i < run->nturns; i++) {
		const struct bench_turn *tu = &run->turns[i];
		turn_message(tu, &p[i], &run->calls[tu->call], msg,
		    sizeof(msg));
		if (msg[0] == '\0')
			continue;
		if (n++ == 0)
			printf("failures:\n");
		printf("  %s  %s: %s\n", tu->id, bench_pclass_name(tu->pclass),
		    msg);
	}
	for (i = 0, n = 0; i < run->nturns; i++) {
		if (p[i].error || run->turns[i].seen.note[0] == '\0')
			continue;
		if (n++ == 0)
			printf("inconsistencies:\n");
		printf("  %s  %s\n", run->turns[i].id, run->turns[i].seen.note);
	}
}

/* Score a promptset run and print it. */
int
bench_report_promptset(const struct bench_opts *o, struct bench_run *run)
{
	struct bench_pub_score	 s;
	struct bench_prompt	*p;
	struct bench_turn	*t;
	struct bench_call	*k;
	size_t			 i;
	int			 rc;

	if ((p = calloc(run->nturns + 1, sizeof(*p))) == NULL) {
		ctl_warnx("out of memory");
		return CTL_FAIL;
	}
	for (i = 0; i < run->nturns; i++) {
		t = &run->turns[i];
		k = &run->calls[t->call];
		p[i].pclass = t->pclass;
		p[i].error = k->error && k->failed <= t->stage;
		if (!p[i].error && o->upstream) {
			read_answer(t, &k->answer[t->stage]);
			bench_upstream_judge(o->src, k, t->stage, t->stage == 0 &&
			    t->pclass != BENCH_FRESH, t->stage == 1 && i > 0 &&
			    run->turns[i - 1].seen.nkind == BENCH_NONCE_OURS ?
			    run->turns[i - 1].seen.nonce : 0, &t->seen);
			p[i].layer = t->seen.layer;
		} else if (!p[i].error) {
			read_answer(t, &k->answer[t->stage]);
			p[i].layer = bench_layer_of(k->mode[t->stage],
			    strlen(k->mode[t->stage]));
		}
		p[i].content = t->content;
		p[i].content_len = t->content_len;
		p[i].expect = (const char *const *)t->kw[0];
		p[i].nexpect = t->nkw[0];
		p[i].stale = (const char *const *)t->kw[1];
		p[i].nstale = t->nkw[1];
		p[i].has_prompt_tokens = t->has_prompt;
		p[i].has_cached_tokens = t->has_cached;
		p[i].cached_tokens = t->cached;
	}
	if (bench_score_publication(p, run->nturns, o->input_per_mtok,
	    &s) != 0) {
		free(p);
		ctl_warnx("the cached token counts add up to more than fits");
		return CTL_FAIL;
	}
	if (o->json)
		rc = promptset_json(o, run, p, &s);
	else {
		promptset_text(o, run, p, &s);
		rc = CTL_OK;
	}
	free(p);
	if (rc == CTL_OK)
		rc = ctl_flush();
	return rc == CTL_OK && s.errors > 0 ? CTL_FAIL : rc;
}
