/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Usage aggregates: the Redis layout nextmodel-ledger writes (one Lua
 * script per receipt, counted once) and the reports nextmodelctl and the
 * gateway's GET /v1/usage read from it, as table, CSV or JSON.  Counters
 * are kept per UTC day and project, so a project can be shown its own
 * numbers alone and the all-projects view sums over projects.  Money is
 * integer nano-USD in Redis and exact decimal text on the way out.
 */
#ifndef USAGE_H
#define USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "nextmodel.h"
#include "buf.h"
#include "receipt.h"

struct redis;

/* The dimensions a report can group by. */
enum usage_dim {
	USAGE_PROJECT = 0,
	USAGE_TEAM,
	USAGE_KEY,
	USAGE_WORKLOAD,
	USAGE_MODEL,
	USAGE_NDIMS
};

/* The counters kept for each value of each dimension. */
enum usage_metric {
	UM_REQUESTS = 0,
	UM_ERRORS,		/* status >= 400 */
	UM_FRESH,		/* serve_mode fresh */
	UM_CACHED,		/* served from a cache */
	UM_PROMPT_TOKENS,
	UM_COMPLETION_TOKENS,
	UM_CACHED_TOKENS,
	UM_COST,		/* nano-USD */
	UM_FRESH_COST,		/* nano-USD */
	UM_SAVED,		/* nano-USD */
	UM_NMETRICS
};

#define USAGE_NAME_MAX		130	/* a dimension value, NUL included */
#define USAGE_NONE		"(none)"	/* team, workload or model absent */
#define USAGE_KEY_MAX		512
#define USAGE_DAY_LEN		10	/* YYYY-MM-DD */

/* One line of a report: a dimension value and its counters. */
struct usage_row {
	char		name[USAGE_NAME_MAX];
	int64_t		v[UM_NMETRICS];
};

struct usage_query {
	enum usage_dim	 by;
	char		 since[USAGE_DAY_LEN + 1];	/* "" : from the first day */
	char		 until[USAGE_DAY_LEN + 1];	/* "" : to the last day; inclusive */
	const char	*project;			/* NULL: every project */
};

struct usage_result {
	struct usage_row *rows;		/* sorted by cost, then requests, then name */
	size_t		 n, cap;
	struct usage_row total;
	size_t		*index;		/* open-addressing index into rows */
	size_t		 icap;
};

/* What the ledger passes to the record script for one receipt. */
struct usage_record {
	int		 nkeys;
	int		 argc;
	const char	*argv[64];
	size_t		 argvlen[64];
	char		 store[4096];	/* the texts argv points into */
};

extern const char *const usage_dim_names[USAGE_NDIMS];
extern const char *const usage_metric_names[UM_NMETRICS];

/* The record script: dedup marker and every counter of one receipt. */
extern const char usage_record_lua[];
/* The rejected script: count a set-aside stream entry once. */
extern const char usage_reject_lua[];

/* "project" -> USAGE_PROJECT ...; -1 if unknown. */
int	usage_dim_parse(const char *);
/* 0 if s is a real calendar day written YYYY-MM-DD, else -1. */
int	usage_day_check(const char *s);
/* The counters a receipt adds, and its value in each dimension. */
void	usage_receipt_values(const struct receipt_view *,
	    int64_t v[UM_NMETRICS], const char *names[USAGE_NDIMS]);
/*
 * EVALSHA arguments (after the SHA) for recording a receipt: keys and
 * values in rec.  ttl_s: how long its dedup marker lives.  0 or -1.
 */
int	usage_record_args(const struct receipt_view *, long ttl_s,
	    struct usage_record *rec);
/* The rejected counter's key and the marker for stream entry id. */
void	usage_reject_keys(const char *stream_id, char *marker, size_t mlen,
	    char *counter, size_t clen);

/* Start an empty result. */
void	usage_result_init(struct usage_result *);
/* Free the rows; the result can be reused after usage_result_init. */
void	usage_result_free(struct usage_result *);	/* zeroed: nothing */
/* Add value to metric m of the row called name (made if new): 0 or -1. */
int	usage_result_add(struct usage_result *, const char *name,
	    enum usage_metric m, int64_t value);
/* Sort the rows (cost, requests, name) once all are added. */
void	usage_result_sort(struct usage_result *);

/*
 * Read the aggregates for q from Redis into res (initialised here,
 * sorted).  0, or -1 with err (Redis unreachable, bad reply).
 */
int	usage_report(struct redis *, const struct usage_query *q,
	    struct usage_result *res, char *err, size_t errlen);

/* Share of part in whole in hundredths of a percent, rounded half up. */
int64_t	usage_share_bp(int64_t part, int64_t whole);
/* Writers: 0, or -1 when out grows past its ceiling. */
int	usage_write_table(const struct usage_result *, enum usage_dim,
	    struct buf *out);
int	usage_write_csv(const struct usage_result *, enum usage_dim,
	    struct buf *out);
int	usage_write_json(const struct usage_result *,
	    const struct usage_query *, struct buf *out);

#endif
