/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Usage aggregates in Redis (doc/redis-keys.md, "Receipts"): the arguments
 * of the script nextmodel-ledger runs once per receipt, the report that
 * sums them back over days and projects, and its table, CSV and JSON
 * forms.  Every key lives under the {ledger} hash tag, so one script can
 * touch them all on Redis Cluster.  Money stays integer nano-USD here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "json.h"
#include "money.h"
#include "redis.h"
#include "usage.h"

#define K_PREFIX	"nm:{ledger}:"
#define REPORT_BATCH	256	/* HGETALLs per pipeline */

const char *const usage_dim_names[USAGE_NDIMS] = {
	"project", "team", "key", "workload", "model",
};

const char *const usage_metric_names[UM_NMETRICS] = {
	"requests", "errors", "fresh", "cached", "prompt_tokens",
	"completion_tokens", "cached_tokens", "cost_nano", "fresh_cost_nano",
	"saved_nano",
};

/*
 * KEYS: 1 dedup marker, 2 days, 3 the day's projects, 4.. one hash per
 * dimension.  ARGV: 1 marker TTL, 2 day, 3 its score, 4 project, 5..9 the
 * value in each dimension, then metric name/amount pairs.  A receipt seen
 * before changes nothing: the marker and the counters move together.
 */
const char usage_record_lua[] =
	"if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then\n"
	"  return 0\n"
	"end\n"
	"redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])\n"
	"redis.call('SADD', KEYS[3], ARGV[4])\n"
	"for d = 0, 4 do\n"
	"  for i = 10, #ARGV, 2 do\n"
	"    redis.call('HINCRBY', KEYS[4 + d], ARGV[i] .. ':' .. ARGV[5 + d],\n"
	"        ARGV[i + 1])\n"
	"  end\n"
	"end\n"
	"return 1\n";

/* KEYS: 1 the entry's marker, 2 the counter; ARGV: 1 marker TTL. */
const char usage_reject_lua[] =
	"if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then\n"
	"  return 0\n"
	"end\n"
	"return redis.call('INCR', KEYS[2])\n";

/* "project" -> USAGE_PROJECT ...; -1 if unknown. */
int
usage_dim_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < USAGE_NDIMS; i++)
		if (strcmp(s, usage_dim_names[i]) == 0)
			return (int)i;
	return -1;
}

/* 0 if s is a calendar day YYYY-MM-DD. */
int
usage_day_check(const char *s)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	int	 i, y, m, d;

	if (s == NULL || strlen(s) != USAGE_DAY_LEN || s[4] != '-' ||
	    s[7] != '-')
		return -1;
	for (i = 0; i < USAGE_DAY_LEN; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -1;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	return 0;
}

/* YYYYMMDD as a number, for the days sorted set. */
static long
day_score(const char *day)
{
	return strtol(day, NULL, 10) * 10000 + strtol(day + 5, NULL, 10) * 100 +
	    strtol(day + 8, NULL, 10);
}

/* The counters a receipt adds and its value in each dimension. */
void
usage_receipt_values(const struct receipt_view *rv, int64_t v[UM_NMETRICS],
    const char *names[USAGE_NDIMS])
{
	int	 fresh = strcmp(rv->serve_mode, "fresh") == 0;

	memset(v, 0, sizeof(v[0]) * UM_NMETRICS);
	v[UM_REQUESTS] = 1;
	v[UM_ERRORS] = rv->status >= 400;
	v[UM_FRESH] = fresh;
	v[UM_CACHED] = !fresh;
	v[UM_PROMPT_TOKENS] = rv->prompt_tokens;
	v[UM_COMPLETION_TOKENS] = rv->completion_tokens;
	v[UM_CACHED_TOKENS] = rv->cached_tokens;
	v[UM_COST] = rv->cost;
	v[UM_FRESH_COST] = rv->fresh_cost;
	v[UM_SAVED] = rv->saved;
	names[USAGE_PROJECT] = rv->project;
	names[USAGE_TEAM] = rv->team[0] ? rv->team : USAGE_NONE;
	names[USAGE_KEY] = rv->key_id;
	names[USAGE_WORKLOAD] = rv->workload[0] ? rv->workload : USAGE_NONE;
	names[USAGE_MODEL] = rv->model[0] ? rv->model : USAGE_NONE;
}

/* Append text (with its NUL) to rec's store and to argv; 0 or -1. */
static int
rec_push(struct usage_record *rec, size_t *used, const char *fmt, ...)
	NM_PRINTF(3, 4);

static int
rec_push(struct usage_record *rec, size_t *used, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if ((size_t)rec->argc >= NM_NELEM(rec->argv))
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(rec->store + *used, sizeof(rec->store) - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(rec->store) - *used)
		return -1;
	rec->argv[rec->argc] = rec->store + *used;
	rec->argvlen[rec->argc++] = (size_t)n;
	*used += (size_t)n + 1;
	return 0;
}

/* Point the next argument at s (not copied: it must outlive rec). */
static int
rec_ref(struct usage_record *rec, const char *s)
{
	if ((size_t)rec->argc >= NM_NELEM(rec->argv))
		return -1;
	rec->argv[rec->argc] = s;
	rec->argvlen[rec->argc++] = strlen(s);
	return 0;
}

/* EVALSHA <sha> 8 KEYS... ARGV... for one receipt; argv[1] is the caller's. */
int
usage_record_args(const struct receipt_view *rv, long ttl_s,
    struct usage_record *rec)
{
	const char	*names[USAGE_NDIMS];
	int64_t		 v[UM_NMETRICS];
	size_t		 used = 0, i;
	int		 e = 0;

	if (usage_day_check(rv->day) != 0)
		return -1;
	usage_receipt_values(rv, v, names);
	rec->argc = 0;
	rec->nkeys = 3 + USAGE_NDIMS;
	e |= rec_ref(rec, "EVALSHA");
	e |= rec_ref(rec, "");
	e |= rec_push(rec, &used, "%d", rec->nkeys);
	e |= rec_push(rec, &used, K_PREFIX "seen:%s", rv->id);
	e |= rec_push(rec, &used, K_PREFIX "days");
	e |= rec_push(rec, &used, K_PREFIX "projects:%s", rv->day);
	for (i = 0; i < USAGE_NDIMS; i++)
		e |= rec_push(rec, &used, K_PREFIX "usage:%s:%s:%s", rv->day,
		    rv->project, usage_dim_names[i]);
	e |= rec_push(rec, &used, "%ld", ttl_s);
	e |= rec_ref(rec, rv->day);
	e |= rec_push(rec, &used, "%ld", day_score(rv->day));
	e |= rec_ref(rec, rv->project);
	for (i = 0; i < USAGE_NDIMS; i++)
		e |= rec_ref(rec, names[i]);
	for (i = 0; i < UM_NMETRICS; i++) {
		if (v[i] == 0 && i != UM_REQUESTS)
			continue;
		e |= rec_ref(rec, usage_metric_names[i]);
		e |= rec_push(rec, &used, "%lld", (long long)v[i]);
	}
	return e ? -1 : 0;
}

/* The marker of a set-aside stream entry and the rejected counter. */
void
usage_reject_keys(const char *stream_id, char *marker, size_t mlen,
    char *counter, size_t clen)
{
	snprintf(marker, mlen, K_PREFIX "rejseen:%s", stream_id);
	snprintf(counter, clen, K_PREFIX "rejected");
}

/* Start an empty result. */
void
usage_result_init(struct usage_result *res)
{
	memset(res, 0, sizeof(*res));
	snprintf(res->total.name, sizeof(res->total.name), "total");
}

/* Free a result's rows and index. */
void
usage_result_free(struct usage_result *res)
{
	if (res == NULL)
		return;
	free(res->rows);
	free(res->index);
	res->rows = NULL;
	res->index = NULL;
	res->n = res->cap = res->icap = 0;
}

/* FNV-1a of a name. */
static size_t
name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* Rebuild the index at twice the size; 0 or -1. */
static int
index_grow(struct usage_result *res)
{
	size_t	 ncap = res->icap ? res->icap * 2 : 64, i, h;
	size_t	*idx;

	if ((idx = malloc(ncap * sizeof(*idx))) == NULL)
		return -1;
	for (i = 0; i < ncap; i++)
		idx[i] = SIZE_MAX;
	for (i = 0; i < res->n; i++) {
		h = name_hash(res->rows[i].name) & (ncap - 1);
		while (idx[h] != SIZE_MAX)
			h = (h + 1) & (ncap - 1);
		idx[h] = i;
	}
	free(res->index);
	res->index = idx;
	res->icap = ncap;
	return 0;
}

/* The row called name, made if new; NULL on OOM or a name too long. */
static struct usage_row *
find_row(struct usage_result *res, const char *name)
{
	struct usage_row	*rows;
	size_t			 h, ncap;

	if (strlen(name) >= USAGE_NAME_MAX)
		return NULL;
	if ((res->n + 1) * 2 > res->icap && index_grow(res) != 0)
		return NULL;
	h = name_hash(name) & (res->icap - 1);
	for (; res->index[h] != SIZE_MAX; h = (h + 1) & (res->icap - 1))
		if (strcmp(res->rows[res->index[h]].name, name) == 0)
			return &res->rows[res->index[h]];
	if (res->n == res->cap) {
		ncap = res->cap ? res->cap * 2 : 16;
		if ((rows = realloc(res->rows, ncap * sizeof(*rows))) == NULL)
			return NULL;
		res->rows = rows;
		res->cap = ncap;
	}
	memset(&res->rows[res->n], 0, sizeof(res->rows[0]));
	snprintf(res->rows[res->n].name, USAGE_NAME_MAX, "%s", name);
	res->index[h] = res->n;
	return &res->rows[res->n++];
}

/* Add value to metric m of row name and to the total. */
int
usage_result_add(struct usage_result *res, const char *name,
    enum usage_metric m, int64_t value)
{
	struct usage_row	*row;

	if ((unsigned)m >= UM_NMETRICS || (row = find_row(res, name)) == NULL)
		return -1;
	row->v[m] += value;
	res->total.v[m] += value;
	return 0;
}

/* qsort: cost down, then requests down, then name up. */
static int
row_cmp(const void *a, const void *b)
{
	const struct usage_row *x = a, *y = b;

	if (x->v[UM_COST] != y->v[UM_COST])
		return x->v[UM_COST] > y->v[UM_COST] ? -1 : 1;
	if (x->v[UM_REQUESTS] != y->v[UM_REQUESTS])
		return x->v[UM_REQUESTS] > y->v[UM_REQUESTS] ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Sort the rows; the index no longer applies afterwards. */
void
usage_result_sort(struct usage_result *res)
{
	if (res->n > 1)
		qsort(res->rows, res->n, sizeof(res->rows[0]), row_cmp);
	free(res->index);
	res->index = NULL;
	res->icap = 0;
}

/* One "metric:value" hash field of a usage hash into res; 0 or -1. */
static int
add_field(struct usage_result *res, const redisReply *f, const redisReply *v)
{
	const char	*colon;
	char		 metric[32], *end;
	long long	 n;
	size_t		 i, mlen;

	if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
	    (colon = memchr(f->str, ':', f->len)) == NULL)
		return -1;
	mlen = (size_t)(colon - f->str);
	if (mlen >= sizeof(metric))
		return 0;		/* not ours: leave it */
	memcpy(metric, f->str, mlen);
	metric[mlen] = '\0';
	for (i = 0; i < UM_NMETRICS; i++)
		if (strcmp(metric, usage_metric_names[i]) == 0)
			break;
	if (i == UM_NMETRICS)
		return 0;
	n = strtoll(v->str, &end, 10);
	if (*end != '\0')
		return -1;
	return usage_result_add(res, colon + 1, (enum usage_metric)i, n);
}

/* The days in [since, until] that have aggregates; caller frees the reply. */
static redisReply *
report_days(struct redis *r, const struct usage_query *q, char *err,
    size_t errlen)
{
	redisReply	*rep;
	char		 lo[16], hi[16];

	snprintf(lo, sizeof(lo), "%ld", q->since[0] ? day_score(q->since) : 0L);
	snprintf(hi, sizeof(hi), "%ld", q->until[0] ? day_score(q->until) :
	    99991231L);
	rep = redis_command(r, "ZRANGEBYSCORE " K_PREFIX "days %s %s", lo, hi);
	if (rep == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return NULL;
	}
	if (rep->type != REDIS_REPLY_ARRAY) {
		snprintf(err, errlen, "ZRANGEBYSCORE: %s", rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* HGETALL the n keys in keys[] in one pipeline, adding every field. */
static int
report_fetch(struct redis *r, struct usage_result *res, char **keys, int n,
    char *err, size_t errlen)
{
	redisReply	*out[REPORT_BATCH];
	const char	*argv[REPORT_BATCH][2], **pargv[REPORT_BATCH];
	int		 argc[REPORT_BATCH], i, rc = 0;
	size_t		 j;

	for (i = 0; i < n; i++) {
		argv[i][0] = "HGETALL";
		argv[i][1] = keys[i];
		pargv[i] = argv[i];
		argc[i] = 2;
	}
	if (redis_pipeline(r, n, argc, pargv, NULL, out) != 0) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (out[i]->type != REDIS_REPLY_ARRAY) {
			snprintf(err, errlen, "HGETALL %s: %s", keys[i],
			    out[i]->type == REDIS_REPLY_ERROR ? out[i]->str :
			    "unexpected reply");
			rc = -1;
		}
		for (j = 0; rc == 0 && j + 1 < out[i]->elements; j += 2)
			if (add_field(res, out[i]->element[j],
			    out[i]->element[j + 1]) != 0) {
				snprintf(err, errlen, "%s: a field that is not "
				    "a counter, or out of memory", keys[i]);
				rc = -1;
			}
		freeReplyObject(out[i]);
	}
	return rc;
}

/* The projects of one day (or just q->project) into keys; 0 or -1. */
static int
day_keys(struct redis *r, const struct usage_query *q, const char *day,
    char ***keys, size_t *nkeys, size_t *cap, char *err, size_t errlen)
{
	redisReply	*rep = NULL;
	const char	*proj;
	size_t		 i, n;
	char		**k;
	int		 rc = -1;

	if (q->project == NULL) {
		rep = redis_command(r, "SMEMBERS " K_PREFIX "projects:%s", day);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
			snprintf(err, errlen, "%s", rep == NULL ?
			    redis_errstr(r) : "SMEMBERS: unexpected reply");
			goto out;
		}
	}
	n = rep != NULL ? rep->elements : 1;
	for (i = 0; i < n; i++) {
		proj = rep != NULL ? rep->element[i]->str : q->project;
		if (proj == NULL)
			continue;
		if (*nkeys == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			if ((k = realloc(*keys, *cap * sizeof(*k))) == NULL)
				goto oom;
			*keys = k;
		}
		if (((*keys)[*nkeys] = malloc(USAGE_KEY_MAX)) == NULL)
			goto oom;
		snprintf((*keys)[(*nkeys)++], USAGE_KEY_MAX, K_PREFIX
		    "usage:%s:%s:%s", day, proj, usage_dim_names[q->by]);
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

/* Read the aggregates for q into res. */
int
usage_report(struct redis *r, const struct usage_query *q,
    struct usage_result *res, char *err, size_t errlen)
{
	redisReply	*days;
	char		**keys = NULL;
	size_t		 nkeys = 0, cap = 0, i, chunk;
	int		 rc = -1;

	usage_result_init(res);
	if ((unsigned)q->by >= USAGE_NDIMS) {
		snprintf(err, errlen, "unknown dimension");
		return -1;
	}
	if ((days = report_days(r, q, err, errlen)) == NULL)
		return -1;
	for (i = 0; i < days->elements; i++)
		if (days->element[i]->type == REDIS_REPLY_STRING &&
		    day_keys(r, q, days->element[i]->str, &keys, &nkeys, &cap,
		    err, errlen) != 0)
			goto out;
	for (i = 0; i < nkeys; i += chunk) {
		chunk = NM_MIN(nkeys - i, (size_t)REPORT_BATCH);
		if (report_fetch(r, res, keys + i, (int)chunk, err,
		    errlen) != 0)
			goto out;
	}
	usage_result_sort(res);
	rc = 0;
out:
	for (i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	freeReplyObject(days);
	if (rc != 0)
		usage_result_free(res);
	return rc;
}

/* Share of part in whole in hundredths of a percent, rounded half up. */
int64_t
usage_share_bp(int64_t part, int64_t whole)
{
	__int128	 p;

	if (whole <= 0 || part <= 0)
		return 0;
	p = (__int128)part * 10000;
	return (int64_t)((p + whole / 2) / whole);
}

/* Exact dollars with at least two decimals: "$353.00", "$0.0000198". */
static void
dollars(nm_nano v, char *out, size_t len)
{
	char	 t[MONEY_STRLEN], *dot;

	money_format(v, t, sizeof(t));
	if ((dot = strchr(t, '.')) == NULL)
		snprintf(out, len, "$%s.00", t);
	else if (strlen(dot) == 2)
		snprintf(out, len, "$%s0", t);
	else
		snprintf(out, len, "$%s", t);
}

/* Columns printed on screen (UTF-8 continuation bytes take none). */
static size_t
width(const char *s)
{
	size_t	 w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

#define TCOLS	8

/* The cells of one table line for row (share of total's cost). */
static void
table_cells(const struct usage_row *row, const struct usage_row *total,
    char cells[TCOLS][USAGE_NAME_MAX + 32])
{
	const size_t	 n = USAGE_NAME_MAX + 32;
	char		 d[MONEY_STRLEN + 4];
	int64_t		 bp = usage_share_bp(row->v[UM_COST], total->v[UM_COST]);

	snprintf(cells[0], n, "%s", row->name);
	snprintf(cells[1], n, "%lld", (long long)row->v[UM_REQUESTS]);
	snprintf(cells[2], n, "%lld", (long long)row->v[UM_ERRORS]);
	snprintf(cells[3], n, "%lld", (long long)row->v[UM_CACHED]);
	snprintf(cells[4], n, "%lld", (long long)row->v[UM_PROMPT_TOKENS]);
	snprintf(cells[5], n, "%lld", (long long)row->v[UM_COMPLETION_TOKENS]);
	dollars(row->v[UM_COST], d, sizeof(d));
	snprintf(cells[6], n, "%s \xc2\xb7 %lld%%", d,
	    (long long)((bp + 50) / 100));
	dollars(row->v[UM_SAVED], cells[7], n);
}

/* A table: one line per row, the total last, columns aligned. */
int
usage_write_table(const struct usage_result *res, enum usage_dim by,
    struct buf *out)
{
	static const char *const heads[TCOLS] = { NULL, "REQUESTS", "ERRORS",
	    "CACHED", "PROMPT_TOKENS", "COMPLETION_TOKENS", "COST \xc2\xb7 SHARE",
	    "SAVED" };
	char		 cells[TCOLS][USAGE_NAME_MAX + 32], head[32];
	size_t		 w[TCOLS], i, c, pad;
	int		 e = 0;

	snprintf(head, sizeof(head), "%s", usage_dim_names[by]);
	for (i = 0; head[i] != '\0'; i++)
		head[i] = (char)(head[i] - (head[i] >= 'a' && head[i] <= 'z' ?
		    'a' - 'A' : 0));
	for (c = 0; c < TCOLS; c++)
		w[c] = width(c == 0 ? head : heads[c]);
	for (i = 0; i <= res->n; i++) {
		table_cells(i < res->n ? &res->rows[i] : &res->total,
		    &res->total, cells);
		for (c = 0; c < TCOLS; c++)
			w[c] = NM_MAX(w[c], width(cells[c]));
	}
	for (i = 0; i <= res->n + 1; i++) {
		if (i > 0)
			table_cells(i <= res->n ? &res->rows[i - 1] :
			    &res->total, &res->total, cells);
		for (c = 0; c < TCOLS; c++) {
			const char *s = i == 0 ? (c == 0 ? head : heads[c]) :
			    cells[c];

			pad = w[c] - width(s);
			/* Names to the left, numbers to the right. */
			if (c > 0)
				e |= buf_appendf(out, "  %*s", (int)pad, "");
			e |= buf_appends(out, s);
			if (c == 0)
				e |= buf_appendf(out, "%*s", (int)pad, "");
		}
		e |= buf_appendc(out, '\n');
	}
	return e ? -1 : 0;
}

/* A CSV field, quoted when it holds a comma, a quote or a line break. */
static int
csv_field(struct buf *out, const char *s)
{
	int	 e = 0;

	if (strpbrk(s, ",\"\r\n") == NULL)
		return buf_appends(out, s);
	e |= buf_appendc(out, '"');
	for (; *s != '\0'; s++)
		e |= *s == '"' ? buf_appends(out, "\"\"") : buf_appendc(out, *s);
	return e | buf_appendc(out, '"');
}

/* "42.17" from hundredths of a percent. */
static void
share_text(int64_t bp, char *out, size_t len)
{
	snprintf(out, len, "%lld.%02lld", (long long)(bp / 100),
	    (long long)(bp % 100));
}

/* The value columns of one row, after its name: CSV or JSON members. */
static int
row_values(struct buf *out, const struct usage_row *row,
    const struct usage_row *total, int json)
{
	char		 t[MONEY_STRLEN], s[32];
	size_t		 i;
	int		 e = 0;

	for (i = 0; i < UM_NMETRICS; i++) {
		if (i == UM_COST || i == UM_FRESH_COST || i == UM_SAVED) {
			money_format(row->v[i], t, sizeof(t));
			/* cost_nano -> cost_usd */
			e |= json ? buf_appendf(out, ",\"%.*s_usd\":\"%s\"",
			    (int)(strlen(usage_metric_names[i]) - 5),
			    usage_metric_names[i], t) :
			    buf_appendf(out, ",%s", t);
		} else
			e |= json ? buf_appendf(out, ",\"%s\":%lld",
			    usage_metric_names[i], (long long)row->v[i]) :
			    buf_appendf(out, ",%lld", (long long)row->v[i]);
	}
	share_text(usage_share_bp(row->v[UM_COST], total->v[UM_COST]), s,
	    sizeof(s));
	e |= json ? buf_appendf(out, ",\"share_pct\":\"%s\"", s) :
	    buf_appendf(out, ",%s", s);
	return e;
}

/* CSV: a header, one line per row, no total (a sheet sums it). */
int
usage_write_csv(const struct usage_result *res, enum usage_dim by,
    struct buf *out)
{
	size_t	 i;
	int	 e = 0;

	e |= buf_appends(out, usage_dim_names[by]);
	for (i = 0; i < UM_NMETRICS; i++) {
		if (i == UM_COST || i == UM_FRESH_COST || i == UM_SAVED)
			e |= buf_appendf(out, ",%.*s_usd",
			    (int)(strlen(usage_metric_names[i]) - 5),
			    usage_metric_names[i]);
		else
			e |= buf_appendf(out, ",%s", usage_metric_names[i]);
	}
	e |= buf_appends(out, ",share_pct\r\n");
	for (i = 0; i < res->n; i++) {
		e |= csv_field(out, res->rows[i].name);
		e |= row_values(out, &res->rows[i], &res->total, 0);
		e |= buf_appends(out, "\r\n");
	}
	return e ? -1 : 0;
}

/* JSON: {"by", "since", "until", "project", "rows": [...], "total": {...}}. */
int
usage_write_json(const struct usage_result *res, const struct usage_query *q,
    struct buf *out)
{
	size_t	 i;
	int	 e = 0;

	e |= buf_appendf(out, "{\"object\":\"usage\",\"by\":\"%s\",\"since\":",
	    usage_dim_names[q->by]);
	e |= q->since[0] ? json_write_cstr(out, q->since) :
	    buf_appends(out, "null");
	e |= buf_appends(out, ",\"until\":");
	e |= q->until[0] ? json_write_cstr(out, q->until) :
	    buf_appends(out, "null");
	e |= buf_appends(out, ",\"project\":");
	e |= q->project ? json_write_cstr(out, q->project) :
	    buf_appends(out, "null");
	e |= buf_appends(out, ",\"rows\":[");
	for (i = 0; i < res->n; i++) {
		e |= buf_appendf(out, "%s{\"%s\":", i ? "," : "",
		    usage_dim_names[q->by]);
		e |= json_write_cstr(out, res->rows[i].name);
		e |= row_values(out, &res->rows[i], &res->total, 1);
		e |= buf_appendc(out, '}');
	}
	e |= buf_appends(out, "],\"total\":{\"rows\":");
	e |= buf_appendf(out, "%zu", res->n);
	e |= row_values(out, &res->total, &res->total, 1);
	e |= buf_appends(out, "}}");
	return e ? -1 : 0;
}
