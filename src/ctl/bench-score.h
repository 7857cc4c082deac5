/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * CacheSafety Bench scoring, with no I/O: what a serve mode means, how a
 * pair case is judged (the public bench's "lab" scorecard, whose rates
 * divide by the number of pairs), and the public "publication"
 * scorecard of a promptset (rates over cohorts, null when empty).
 */
#ifndef BENCH_SCORE_H
#define BENCH_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "nextmodel.h"

/* The cache layer a second request was served from; MISS is no hit. */
enum bench_layer {
	BENCH_MISS = 0,
	BENCH_EXACT,
	BENCH_CANONICAL,
	BENCH_LN_BETA,
	BENCH_UNLABELED,	/* a hit no header names (--detect upstream) */
	BENCH_NLAYER
};

/* The public default when a case gives no positive cost: 0.002 USD. */
#define BENCH_DEFAULT_COST	2000000

/* What a pair case asks of the layer under test. */
enum bench_kind {
	BENCH_KIND_HIT,		/* "expect": "hit": must be served from cache */
	BENCH_KIND_TRAP,	/* "expect": "miss" or category semantic_trap */
	BENCH_KIND_ANSWER	/* reuse safe iff old_answer.text == fresh_answer */
};

/* How one pair case came out. */
enum bench_outcome {
	BENCH_OUT_MISS,		/* not served from cache, and need not be */
	BENCH_OUT_SAFE_HIT,
	BENCH_OUT_BAD_HIT,
	BENCH_OUT_MISSED_HIT,	/* BENCH_KIND_HIT that was not a hit */
	BENCH_OUT_ERROR		/* a request failed; counted as a miss */
};

struct bench_pair {
	enum bench_kind	 kind;
	int		 same_answer;	/* BENCH_KIND_ANSWER: answers equal */
	nm_nano		 cost;		/* estimated_upstream_cost_usd */
	int		 error;		/* a request of the case failed */
	enum bench_layer layer;		/* of the second answer */
	enum bench_outcome outcome;	/* set by bench_score_pairs() */
};

/* The lab scorecard: rates are num / total (the pairs), traps / traps. */
struct bench_pair_score {
	int64_t		 total;
	int64_t		 hits, safe_hits, bad_hits, missed_hits, errors;
	int64_t		 traps, trap_failures;
	int64_t		 layers[BENCH_NLAYER];
	nm_nano		 safe_saved;	/* sum of the costs of the safe hits */
	nm_nano		 saved_per_1k;	/* safe_saved / total x 1000; -1: none */
};

/* The publication promptset's turn classes, in the order they are sent. */
enum bench_pclass {
	BENCH_TRAP_FIRST,
	BENCH_TRAP_SECOND,
	BENCH_REPEAT_FIRST,
	BENCH_REPEAT_SECOND,
	BENCH_FRESH
};

struct bench_prompt {
	enum bench_pclass	 pclass;
	const char		*content;	/* the served message text */
	size_t			 content_len;
	const char *const	*expect;	/* expectKeywords */
	size_t			 nexpect;
	const char *const	*stale;		/* staleKeywords */
	size_t			 nstale;
	enum bench_layer	 layer;
	int			 error;
	int			 has_prompt_tokens;	/* usage.prompt_tokens seen */
	int			 has_cached_tokens;	/* ...cached_tokens seen */
	int64_t			 cached_tokens;
};

struct bench_pub_score {
	int64_t		 sample;		/* every turn, firsts included */
	int64_t		 repeat_total, repeat_safe;
	int64_t		 trap_total, trap_bad;
	int64_t		 fresh_total, fresh_hits;
	int64_t		 errors;
	int64_t		 layers[BENCH_NLAYER];
	int64_t		 prompt_records, cached_records, cached_sum;
	nm_nano		 saved_per_1k;		/* -1: null */
};

/* The layer a x-nextmodel-serve-mode value names (trimmed, any case). */
enum bench_layer bench_layer_of(const char *mode, size_t len);
/* "exact", "canonical", "ln_beta", "unlabeled" or "miss". */
const char	*bench_layer_name(enum bench_layer);
/* "miss", "safe_hit", "bad_hit", "missed_hit", "error". */
const char	*bench_outcome_name(enum bench_outcome);
/* "hit", "trap", "answer". */
const char	*bench_kind_name(enum bench_kind);
/*
 * Judge each pair (its outcome) and fill s; -1 when a sum of costs does
 * not fit in nano-USD.
 */
int		 bench_score_pairs(struct bench_pair *, size_t n,
		    struct bench_pair_score *s);
/* 1 if every keyword is in hay, ASCII letters compared in any case. */
int		 bench_contains_all(const char *hay, size_t hay_len,
		    const char *const *kw, size_t n);
/*
 * The publication scorecard of n turns.  input_per_mtok > 0 gives the
 * cost saved per 1K requests from the cached prompt tokens, else null.
 * -1 on overflow.
 */
int		 bench_score_publication(const struct bench_prompt *, size_t n,
		    nm_nano input_per_mtok, struct bench_pub_score *s);
/*
 * num / den rounded to 4 decimal places (half to even) as the shortest
 * decimal text ("0.8", "1", "0.3333"), or "null" when den is 0.
 */
char		*bench_rate_format(int64_t num, int64_t den, char *out,
		    size_t outlen);

#endif
