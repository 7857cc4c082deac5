/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl usage: spend grouped by project, team, key, workload or
 * model from the aggregates nextmodel-ledger keeps in Redis; and usage
 * export: every receipt of the ledger files, as CSV or JSON Lines, whose
 * sums equal the aggregates.  Money is exact decimal text throughout.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "money.h"
#include "receipt.h"
#include "usage.h"
#include "xmalloc.h"
#include "ctl.h"

static int	usage_show(struct ctl *, int, char **);
static int	usage_export(struct ctl *, int, char **);

static const struct ctl_cmd usage_cmds[] = {
	{ "", "[--by project|team|key|workload|model] [--since YYYY-MM-DD] "
	    "[--until YYYY-MM-DD] [--project P] [--format table|csv|json]",
	    usage_show, 0 },
	{ "export", "[--format csv|jsonl] [--since YYYY-MM-DD] "
	    "[--until YYYY-MM-DD] [--project P]", usage_export, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_usage = { "usage", usage_cmds };

enum fmt { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_JSONL };

static const char *const fmt_names[] = { "table", "csv", "json", "jsonl" };

/* What parse_opts accepts: a set of formats, and --by or not. */
#define FMTS_REPORT	(1u << FMT_TABLE | 1u << FMT_CSV | 1u << FMT_JSON)
#define FMTS_EXPORT	(1u << FMT_CSV | 1u << FMT_JSONL)
#define OPT_BY		(1u << 8)

/* The options both commands share. */
struct usage_opts {
	struct usage_query	 q;
	enum fmt		 fmt;
};

/* Parse the options; allowed: the formats this command takes.  0 or -1. */
static int
parse_opts(struct ctl *ctl, int argc, char **argv, unsigned allowed,
    struct usage_opts *uo)
{
	static const struct option opts[] = {
		{ "by",		required_argument, NULL, 'b' },
		{ "since",	required_argument, NULL, 's' },
		{ "until",	required_argument, NULL, 'u' },
		{ "project",	required_argument, NULL, 'p' },
		{ "format",	required_argument, NULL, 'f' },
		{ NULL,		0,		   NULL, 0 },
	};
	size_t	 i;
	int	 ch, d;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			if ((d = usage_dim_parse(optarg)) < 0 ||
			    !(allowed & OPT_BY)) {
				ctl_warnx("--by: not one of project, team, key, "
				    "workload, model: %s", optarg);
				return -1;
			}
			uo->q.by = (enum usage_dim)d;
			break;
		case 's':
		case 'u':
			if (usage_day_check(optarg) != 0) {
				ctl_warnx("--%s: not a day (YYYY-MM-DD): %s",
				    ch == 's' ? "since" : "until", optarg);
				return -1;
			}
			snprintf(ch == 's' ? uo->q.since : uo->q.until,
			    sizeof(uo->q.since), "%s", optarg);
			break;
		case 'p':
			uo->q.project = optarg;
			break;
		case 'f':
			for (i = 0; i < NM_NELEM(fmt_names); i++)
				if ((allowed & (1u << i)) &&
				    strcmp(optarg, fmt_names[i]) == 0)
					break;
			if (i == NM_NELEM(fmt_names)) {
				ctl_warnx("--format: not a format of this "
				    "command: %s", optarg);
				return -1;
			}
			uo->fmt = (enum fmt)i;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc) {
		ctl_warnx("unexpected argument: %s", argv[optind]);
		return -1;
	}
	if (uo->q.since[0] && uo->q.until[0] &&
	    strcmp(uo->q.since, uo->q.until) > 0) {
		ctl_warnx("--since %s is after --until %s", uo->q.since,
		    uo->q.until);
		return -1;
	}
	(void)ctl;
	return 0;
}

/* Write b to stdout; CTL_OK or CTL_FAIL. */
static int
put(struct buf *b)
{
	if (b->len > 0 && fwrite(b->data, 1, b->len, stdout) != b->len)
		return CTL_FAIL;
	return CTL_OK;
}

/* nextmodelctl usage: the aggregates grouped by one dimension. */
static int
usage_show(struct ctl *ctl, int argc, char **argv)
{
	struct usage_opts	 uo;
	struct usage_result	 res;
	struct redis		*r;
	struct buf		 b;
	char			 err[512];
	int			 e, rc;

	memset(&uo, 0, sizeof(uo));
	uo.q.by = USAGE_PROJECT;
	if (parse_opts(ctl, argc, argv, OPT_BY | FMTS_REPORT, &uo) != 0)
		return ctl_usage(ctl);
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if (usage_report(r, &uo.q, &res, err, sizeof(err)) != 0) {
		ctl_warnx("usage: %s", err);
		return CTL_FAIL;
	}
	buf_init(&b, 0);
	if (uo.fmt == FMT_TABLE)
		e = usage_write_table(&res, uo.q.by, &b);
	else if (uo.fmt == FMT_CSV)
		e = usage_write_csv(&res, uo.q.by, &b);
	else
		e = usage_write_json(&res, &uo.q, &b) | buf_appendc(&b, '\n');
	rc = e != 0 ? CTL_FAIL : put(&b);
	if (rc == CTL_OK)
		rc = ctl_flush();
	else
		ctl_warnx("usage: cannot write the report");
	buf_free(&b);
	usage_result_free(&res);
	return rc;
}

/* qsort: file names, so days come in order. */
static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The day files of dir within the query's days, sorted; NULL+errno if unreadable. */
static char **
day_files(const char *dir, const struct usage_query *q, size_t *n)
{
	DIR		*d;
	struct dirent	*de;
	char		**v = NULL, day[USAGE_DAY_LEN + 1];
	size_t		 cap = 0, len;

	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return NULL;		/* errno says why */
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len != 9 + USAGE_DAY_LEN + 6 ||
		    strncmp(de->d_name, "receipts-", 9) != 0 ||
		    strcmp(de->d_name + len - 6, ".jsonl") != 0)
			continue;
		memcpy(day, de->d_name + 9, USAGE_DAY_LEN);
		day[USAGE_DAY_LEN] = '\0';
		if (usage_day_check(day) != 0 ||
		    (q->since[0] && strcmp(day, q->since) < 0) ||
		    (q->until[0] && strcmp(day, q->until) > 0))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		xasprintf(&v[(*n)++], "%s/%s", dir, de->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), name_cmp);
	errno = 0;		/* NULL now means no file */
	return v;
}

/* A CSV cell: quoted when it holds a comma, quote or line break. */
static void
csv_cell(FILE *f, const char *s, int last)
{
	if (strpbrk(s, ",\"\r\n") == NULL)
		fputs(s, f);
	else {
		fputc('"', f);
		for (; *s != '\0'; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	}
	fputs(last ? "\r\n" : ",", f);
}

/* One receipt as a CSV line. */
static void
csv_line(const struct receipt_view *v)
{
	char	 c[MONEY_STRLEN], fc[MONEY_STRLEN], s[MONEY_STRLEN];

	csv_cell(stdout, v->id, 0);
	csv_cell(stdout, v->created, 0);
	csv_cell(stdout, v->day, 0);
	csv_cell(stdout, v->key_id, 0);
	csv_cell(stdout, v->project, 0);
	csv_cell(stdout, v->team, 0);
	csv_cell(stdout, v->workload, 0);
	csv_cell(stdout, v->endpoint, 0);
	csv_cell(stdout, v->model, 0);
	csv_cell(stdout, v->provider, 0);
	csv_cell(stdout, v->serve_mode, 0);
	printf("%d,%lld,%lld,%lld,%lld,", v->status,
	    (long long)v->prompt_tokens, (long long)v->completion_tokens,
	    (long long)v->total_tokens, (long long)v->cached_tokens);
	csv_cell(stdout, v->usage_source, 0);
	printf("%s,%s,%s,%lld\r\n", money_format(v->cost, c, sizeof(c)),
	    money_format(v->fresh_cost, fc, sizeof(fc)),
	    money_format(v->saved, s, sizeof(s)), (long long)v->latency_ms);
}

/* nextmodelctl usage export: the ledger files' receipts, one per line. */
static int
usage_export(struct ctl *ctl, int argc, char **argv)
{
	const struct config	*conf;
	struct usage_opts	 uo;
	struct receipt_view	 v;
	char			**files, *line = NULL, err[256];
	char			 t1[MONEY_STRLEN], t2[MONEY_STRLEN];
	size_t			 nfiles, i, cap = 0, lineno;
	ssize_t			 len;
	nm_nano			 cost = 0, saved = 0;
	unsigned long		 count = 0, bad = 0;
	FILE			*f;
	int			 rc;

	memset(&uo, 0, sizeof(uo));
	uo.fmt = FMT_CSV;
	if (parse_opts(ctl, argc, argv, FMTS_EXPORT, &uo) != 0)
		return ctl_usage(ctl);
	if ((conf = ctl_config(ctl)) == NULL)
		return CTL_FAIL;
	if ((files = day_files(conf->ledger_dir, &uo.q, &nfiles)) == NULL &&
	    errno != 0) {
		ctl_warnx("%s: %s", conf->ledger_dir, strerror(errno));
		return CTL_FAIL;
	}
	if (uo.fmt == FMT_CSV)
		printf("id,created,day,key_id,project,team,workload,endpoint,"
		    "model,provider,serve_mode,status,prompt_tokens,"
		    "completion_tokens,total_tokens,cached_tokens,usage_source,"
		    "cost_usd,fresh_cost_usd,saved_usd,latency_ms\r\n");
	for (i = 0; i < nfiles; i++) {
		if ((f = fopen(files[i], "r")) == NULL) {
			ctl_warnx("%s: cannot open", files[i]);
			bad++;
			continue;
		}
		for (lineno = 1; (len = getline(&line, &cap, f)) > 0; lineno++) {
			while (len > 0 && (line[len - 1] == '\n' ||
			    line[len - 1] == '\r'))
				line[--len] = '\0';
			if (receipt_parse(line, (size_t)len, &v, err,
			    sizeof(err)) != 0) {
				ctl_warnx("%s:%zu: %s", files[i], lineno, err);
				bad++;
				continue;
			}
			if (uo.q.project != NULL &&
			    strcmp(v.project, uo.q.project) != 0)
				continue;
			if (uo.fmt == FMT_JSONL)
				printf("%s\n", line);
			else
				csv_line(&v);
			cost += v.cost;
			saved += v.saved;
			count++;
		}
		fclose(f);
	}
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(line);
	rc = ctl_flush();
	fprintf(stderr, "%lu receipts, cost_usd %s, saved_usd %s\n", count,
	    money_format(cost, t1, sizeof(t1)),
	    money_format(saved, t2, sizeof(t2)));
	if (bad > 0)
		return CTL_FAIL;
	return rc;
}
