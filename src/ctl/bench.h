/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl bench internals shared by cmd-bench.c (options, inputs,
 * the run) and bench-report.c (reading the answers, the scorecards).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "bench-http.h"
#include "bench-score.h"
#include "bench-source.h"

struct bench_opts {
	const char	*url, *key, *dataset, *promptset, *model;
	int		 json;
	int		 upstream;		/* --detect upstream */
	const char	*upstream_listen, *ready_file;
	long		 upstream_wait;		/* seconds; 0: do not wait */
	struct bench_source *src;		/* while it runs */
	struct bench_http_opts http;
	nm_nano		 input_per_mtok;	/* 0: no cost figure */
};

/* What --detect upstream saw of one request. */
struct bench_seen {
	enum bench_layer	 layer;		/* BENCH_MISS: the source answered */
	uint64_t		 calls;		/* source calls while it was out */
	enum bench_nonce	 nkind;
	uint64_t		 nonce;		/* the call that made the answer */
	char			 note[320];	/* an inconsistency, or "" */
};

/* One line of a pair dataset. */
struct bench_case {
	char			*id, *category;
	struct bench_pair	 p;
	struct bench_seen	 seen[2];	/* --detect upstream */
};

/* One turn of a promptset: which call carries it, and its keywords. */
struct bench_turn {
	char			*id;
	enum bench_pclass	 pclass;
	char			**kw[2];	/* expectKeywords, staleKeywords */
	size_t			 nkw[2];
	size_t			 call;
	int			 stage;
	char			*content;	/* the served text (seconds, fresh) */
	size_t			 content_len;
	int			 has_prompt, has_cached;
	int64_t			 cached;
	char			*text;		/* the prompt, for the oracle */
	struct bench_seen	 seen;		/* --detect upstream */
};

struct bench_run {
	struct bench_call	*calls;
	size_t			 ncalls;
	struct bench_case	*cases;		/* datasets: one per call */
	struct bench_turn	*turns;		/* promptsets */
	size_t			 nturns;
};

/* The message text of an answer, JSON or SSE; caller frees; NULL: OOM. */
char		*bench_answer_text(const struct buf *, size_t *len);
/*
 * --detect upstream: judge request stage of call k from the source's
 * counts and the answer's nonce.  first_of_pair: a hit there is noted;
 * first_nonce: the first request's nonce, which a hit on the second
 * should carry (0: none).
 */
void		 bench_upstream_judge(const struct bench_source *,
		    const struct bench_call *k, int stage, int first_of_pair,
		    uint64_t first_nonce, struct bench_seen *);
/* "trap-first", "trap-second", "repeat-first", "repeat-second", "fresh". */
const char	*bench_pclass_name(enum bench_pclass);
/* Score a dataset run and print it; CTL_OK, or CTL_FAIL (errors, OOM). */
int		 bench_report_dataset(const struct bench_opts *,
		    struct bench_run *);
/* Score a promptset run and print it; CTL_OK or CTL_FAIL. */
int		 bench_report_promptset(const struct bench_opts *,
		    struct bench_run *);

#endif
