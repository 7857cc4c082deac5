/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * CacheSafety Bench scoring, pure functions the unit tests call without a
 * network.  The definitions follow the public bench (docs/metrics.md,
 * internal/benchmark/publication.go, cmd/cachesafetybench/main.go at
 * commit 8f4a95c); bench-score.h says which denominator is which.
 */
#include <stdio.h>
#include <string.h>

#include "bench-score.h"

/* The serve modes that are hits, and the layer each names. */
static const struct {
	const char		*mode;
	enum bench_layer	 layer;
} hit_modes[] = {
	{ "exact_cache",	BENCH_EXACT },
	{ "canonical_cache",	BENCH_CANONICAL },
	{ "ln_beta",		BENCH_LN_BETA },
};

static const char *const layer_names[BENCH_NLAYER] = {
	[BENCH_MISS] = "miss",
	[BENCH_EXACT] = "exact",
	[BENCH_CANONICAL] = "canonical",
	[BENCH_LN_BETA] = "ln_beta",
	[BENCH_UNLABELED] = "unlabeled",
};

static const char *const outcome_names[] = {
	[BENCH_OUT_MISS] = "miss",
	[BENCH_OUT_SAFE_HIT] = "safe_hit",
	[BENCH_OUT_BAD_HIT] = "bad_hit",
	[BENCH_OUT_MISSED_HIT] = "missed_hit",
	[BENCH_OUT_ERROR] = "error",
};

static const char *const kind_names[] = {
	[BENCH_KIND_HIT] = "hit",
	[BENCH_KIND_TRAP] = "trap",
	[BENCH_KIND_ANSWER] = "answer",
};

/* ASCII lower case of c; other bytes unchanged. */
static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* 1 for the whitespace the public bench trims (Go's ASCII set). */
static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

/* The layer a serve-mode header names, as the public bench reads it. */
enum bench_layer
bench_layer_of(const char *mode, size_t len)
{
	size_t	 i, j, n;

	if (mode == NULL)
		return BENCH_MISS;
	while (len > 0 && is_space((unsigned char)mode[0])) {
		mode++;
		len--;
	}
	while (len > 0 && is_space((unsigned char)mode[len - 1]))
		len--;
	for (i = 0; i < NM_NELEM(hit_modes); i++) {
		n = strlen(hit_modes[i].mode);
		if (n != len)
			continue;
		for (j = 0; j < n; j++)
			if (lower((unsigned char)mode[j]) != hit_modes[i].mode[j])
				break;
		if (j == n)
			return hit_modes[i].layer;
	}
	return BENCH_MISS;
}

/* The layer's name in reports. */
const char *
bench_layer_name(enum bench_layer l)
{
	return (unsigned)l < BENCH_NLAYER ? layer_names[l] : "miss";
}

/* The outcome's name in reports. */
const char *
bench_outcome_name(enum bench_outcome o)
{
	return (unsigned)o < NM_NELEM(outcome_names) ? outcome_names[o] : "?";
}

/* The kind's name in reports. */
const char *
bench_kind_name(enum bench_kind k)
{
	return (unsigned)k < NM_NELEM(kind_names) ? kind_names[k] : "?";
}

/* How pair p came out, from its kind and what was observed. */
static enum bench_outcome
judge_pair(const struct bench_pair *p)
{
	if (p->error)
		return BENCH_OUT_ERROR;
	if (p->layer == BENCH_MISS)
		return p->kind == BENCH_KIND_HIT ? BENCH_OUT_MISSED_HIT :
		    BENCH_OUT_MISS;
	switch (p->kind) {
	case BENCH_KIND_HIT:
		return BENCH_OUT_SAFE_HIT;
	case BENCH_KIND_TRAP:
		return BENCH_OUT_BAD_HIT;
	default:
		return p->same_answer ? BENCH_OUT_SAFE_HIT : BENCH_OUT_BAD_HIT;
	}
}

/* value x 1000 / den rounded half up, for non-negative values. */
static nm_nano
per_thousand(nm_nano value, int64_t den)
{
	__int128	 p = (__int128)value * 1000;

	return (nm_nano)((p + den / 2) / den);
}

/* Judge every pair and add up the lab scorecard. */
int
bench_score_pairs(struct bench_pair *pairs, size_t n, struct bench_pair_score *s)
{
	struct bench_pair	*p;
	size_t			 i;

	memset(s, 0, sizeof(*s));
	s->saved_per_1k = -1;
	for (i = 0; i < n; i++) {
		p = &pairs[i];
		p->outcome = judge_pair(p);
		s->total++;
		if (p->kind == BENCH_KIND_TRAP)
			s->traps++;
		if (p->outcome == BENCH_OUT_ERROR) {
			s->errors++;
			s->layers[BENCH_MISS]++;
			continue;
		}
		s->layers[p->layer < BENCH_NLAYER ? p->layer : BENCH_MISS]++;
		if (p->layer != BENCH_MISS)
			s->hits++;
		switch (p->outcome) {
		case BENCH_OUT_SAFE_HIT:
			s->safe_hits++;
			if (p->cost < 0 || s->safe_saved > INT64_MAX - p->cost)
				return -1;
			s->safe_saved += p->cost;
			break;
		case BENCH_OUT_BAD_HIT:
			s->bad_hits++;
			if (p->kind == BENCH_KIND_TRAP)
				s->trap_failures++;
			break;
		case BENCH_OUT_MISSED_HIT:
			s->missed_hits++;
			break;
		default:
			break;
		}
	}
	if (s->total > 0)
		s->saved_per_1k = per_thousand(s->safe_saved, s->total);
	return 0;
}

/* 1 if kw (NUL-terminated, non-empty) is in hay, ASCII case folded. */
static int
contains(const char *hay, size_t hay_len, const char *kw)
{
	size_t	 n = strlen(kw), i, j;

	if (n > hay_len)
		return 0;
	for (i = 0; i + n <= hay_len; i++) {
		for (j = 0; j < n; j++)
			if (lower((unsigned char)hay[i + j]) !=
			    lower((unsigned char)kw[j]))
				break;
		if (j == n)
			return 1;
	}
	return 0;
}

/* 1 if every keyword is in hay (none: 1, as the public bench). */
int
bench_contains_all(const char *hay, size_t hay_len, const char *const *kw,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!contains(hay != NULL ? hay : "", hay != NULL ? hay_len : 0,
		    kw[i]))
			return 0;
	return 1;
}

/* The publication scorecard (public docs/metrics.md "Publication"). */
int
bench_score_publication(const struct bench_prompt *t, size_t n,
    nm_nano input_per_mtok, struct bench_pub_score *s)
{
	__int128	 num, den;
	size_t		 i;
	int		 hit;

	memset(s, 0, sizeof(*s));
	s->saved_per_1k = -1;
	for (i = 0; i < n; i++, t++) {
		s->sample++;
		hit = !t->error && t->layer != BENCH_MISS;
		if (t->error)
			s->errors++;
		s->layers[hit ? t->layer : BENCH_MISS]++;
		switch (t->pclass) {
		case BENCH_REPEAT_SECOND:
			s->repeat_total++;
			if (hit && bench_contains_all(t->content, t->content_len,
			    t->expect, t->nexpect))
				s->repeat_safe++;
			break;
		case BENCH_TRAP_SECOND:
			s->trap_total++;
			if (hit && bench_contains_all(t->content, t->content_len,
			    t->stale, t->nstale))
				s->trap_bad++;
			break;
		case BENCH_FRESH:
			s->fresh_total++;
			if (hit)
				s->fresh_hits++;
			break;
		default:
			break;
		}
		if (t->has_prompt_tokens)
			s->prompt_records++;
		if (t->has_cached_tokens) {
			if (t->cached_tokens < 0 ||
			    s->cached_sum > INT64_MAX - t->cached_tokens)
				return -1;
			s->cached_records++;
			s->cached_sum += t->cached_tokens;
		}
	}
	/*
	 * (cached_sum / prompt_records) x 1000 x price / 1e6, with price
	 * in nano-USD per 1M tokens: cached_sum x price / (1000 x records).
	 */
	if (s->prompt_records > 0 && s->cached_records > 0 &&
	    input_per_mtok > 0) {
		num = (__int128)s->cached_sum * input_per_mtok;
		den = (__int128)s->prompt_records * 1000;
		num = (num + den / 2) / den;
		if (num > INT64_MAX)
			return -1;
		s->saved_per_1k = (nm_nano)num;
	}
	return 0;
}

/* num / den to 4 places, half to even, shortest text; "null" for den 0. */
char *
bench_rate_format(int64_t num, int64_t den, char *out, size_t outlen)
{
	__int128	 p, q, r;
	char		 frac[8];
	int		 k;

	if (den <= 0 || num < 0) {
		snprintf(out, outlen, "null");
		return out;
	}
	p = (__int128)num * 10000;
	q = p / den;
	r = p % den;
	if (2 * r > den || (2 * r == den && (q & 1)))
		q++;
	snprintf(frac, sizeof(frac), "%04d", (int)(q % 10000));
	for (k = 3; k >= 0 && frac[k] == '0'; k--)
		frac[k] = '\0';
	snprintf(out, outlen, "%lld%s%s", (long long)(q / 10000),
	    frac[0] != '\0' ? "." : "", frac);
	return out;
}
