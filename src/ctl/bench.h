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

struct bench_opts {
	const char	*url, *key, *dataset, *promptset, *model;
	int		 json;
	struct bench_http_opts http;
	nm_nano		 input_per_mtok;	/* 0: no cost figure */
};

/* One line of a pair dataset. */
struct bench_case {
	char			*id, *category;
	struct bench_pair	 p;
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
};

struct bench_run {
	struct bench_call	*calls;
	size_t			 ncalls;
	struct bench_case	*cases;		/* datasets: one per call */
	struct bench_turn	*turns;		/* promptsets */
	size_t			 nturns;
};

/* "trap-first", "trap-second", "repeat-first", "repeat-second", "fresh". */
const char	*bench_pclass_name(enum bench_pclass);
/* Score a dataset run and print it; CTL_OK, or CTL_FAIL (errors, OOM). */
int		 bench_report_dataset(const struct bench_opts *,
		    struct bench_run *);
/* Score a promptset run and print it; CTL_OK or CTL_FAIL. */
int		 bench_report_promptset(const struct bench_opts *,
		    struct bench_run *);

#endif
