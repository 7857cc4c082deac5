/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl models: the price comparison POST /v1/quotes answers, from
 * the command line, for a request file or a standard prompt, as a table
 * or as the same JSON; with --search or --stale, the models found by part
 * of a name or by the age of their prices, with where the prices come
 * from.  Reads the catalog only; no source, no Redis.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "catalog.h"
#include "config.h"
#include "estimate.h"
#include "json.h"
#include "money.h"
#include "quote.h"
#include "ctl.h"

/* The standard prompt when no request is given. */
#define STD_INPUT_TOKENS	1000
#define STD_OUTPUT_TOKENS	1000

static int	models_list(struct ctl *, int, char **);

static const struct ctl_cmd models_cmds[] = {
	{ "", "[--sort price|latency] [--region cn|global] [--request FILE.json] "
	    "[--format table|json] | [--search TEXT] [--stale DAYS] "
	    "[--format table|json]", models_list, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_models = { "models", models_cmds };

/* A table column: its title and how each row fills it. */
struct column {
	const char	*title;
	int		 right;		/* right-aligned (numbers) */
};

static const struct column columns[] = {
	{ "MODEL", 0 }, { "PROVIDER", 0 }, { "REGION", 0 },
	{ "LATENCY_MS", 1 }, { "INPUT/MTOK", 1 }, { "OUTPUT/MTOK", 1 },
	{ "EXPECTED_USD", 1 }, { "WORST_USD", 1 }, { "CONTEXT", 1 },
};

#define NCOL	NM_NELEM(columns)
#define CELL	48

/* The cells of one ranked model. */
static void
row_cells(const struct quote_row *r, char cells[NCOL][CELL])
{
	const struct model *m = r->m;

	snprintf(cells[0], CELL, "%s%s", m->id, r->requested ? "*" : "");
	snprintf(cells[1], CELL, "%s", m->provider);
	snprintf(cells[2], CELL, "%s", catalog_region_name(m->region));
	snprintf(cells[3], CELL, "%d", m->latency_ms);
	money_format(m->input_per_mtok, cells[4], CELL);
	money_format(m->output_per_mtok, cells[5], CELL);
	money_format(r->cost.expected, cells[6], CELL);
	money_format(r->cost.worst, cells[7], CELL);
	snprintf(cells[8], CELL, "%lld", (long long)m->context_window);
}

/* The quote as an aligned table, then the models left out. */
static void
print_table(const struct quote *q)
{
	char cells[NCOL][CELL], caps[128];
	size_t width[NCOL], i, c;

	printf("estimated input tokens: %lld; output: ",
	    (long long)q->est.input_tokens);
	if (q->est.max_tokens > 0)
		printf("up to %lld tokens", (long long)q->est.max_tokens);
	else
		printf("up to each model's maximum");
	if (q->est.n > 1)
		printf(" x %lld choices", (long long)q->est.n);
	quote_caps(q->est.caps, caps, sizeof(caps));
	printf("; needs: %s\n", caps[0] != '\0' ? caps : "nothing special");

	for (c = 0; c < NCOL; c++)
		width[c] = strlen(columns[c].title);
	for (i = 0; i < q->nrows; i++) {
		row_cells(&q->rows[i], cells);
		for (c = 0; c < NCOL; c++)
			width[c] = NM_MAX(width[c], strlen(cells[c]));
	}
	for (c = 0; c < NCOL; c++)
		printf("%s%-*s", c > 0 ? "  " : "", c + 1 < NCOL ?
		    (int)width[c] : 0, columns[c].title);
	printf("\n");
	for (i = 0; i < q->nrows; i++) {
		row_cells(&q->rows[i], cells);
		for (c = 0; c < NCOL; c++) {
			if (columns[c].right)
				printf("%s%*s", c > 0 ? "  " : "",
				    (int)width[c], cells[c]);
			else
				printf("%s%-*s", c > 0 ? "  " : "", c + 1 <
				    NCOL ? (int)width[c] : 0, cells[c]);
		}
		printf("\n");
	}
	if (q->nexcl == 0)
		return;
	printf("excluded:\n");
	for (i = 0; i < q->nexcl; i++) {
		const struct quote_excluded *x = &q->excl[i];
		printf("  %s%s%s%s%s: %s\n", x->m != NULL ? x->m->id :
		    q->requested, x->requested ? "*" : "", x->m != NULL ? " (" :
		    "", x->m != NULL ? x->m->provider : "", x->m != NULL ?
		    ")" : "", x->reason);
	}
}

/* What --search and --stale ask for. */
struct find_opts {
	const char	*search;	/* NULL: any name */
	int64_t		 stale;		/* -1: any age */
	long		 today;		/* days since 1970 */
};

/* 1 if model m is one --search and --stale want. */
static int
find_wanted(const struct find_opts *f, const struct model *m)
{
	long	age = catalog_price_age(m, f->today);

	if (f->search != NULL && !catalog_match(m, f->search))
		return 0;
	/* Never checked is as stale as can be. */
	return f->stale < 0 || age < 0 || age > f->stale;
}

/* "a,b" of a model's aliases into out ("-" if none). */
static void
alias_list(const struct model *m, char *out, size_t len)
{
	size_t off = 0;
	char **al;
	int r;

	snprintf(out, len, "-");
	for (al = m->aliases; al != NULL && *al != NULL && off < len; al++) {
		r = snprintf(out + off, len - off, "%s%s", off > 0 ? "," : "",
		    *al);
		if (r < 0)
			break;
		off += (size_t)r;
	}
}

/* One found model as a JSON object. */
static int
find_json(struct buf *b, const struct model *m, long age)
{
	char **al;
	int r = 0;

	r |= buf_appends(b, "{\"id\":");
	r |= json_write_cstr(b, m->id);
	r |= buf_appends(b, ",\"provider\":");
	r |= json_write_cstr(b, m->provider);
	r |= buf_appends(b, ",\"upstream_model\":");
	r |= json_write_cstr(b, m->upstream_model);
	r |= buf_appends(b, ",\"aliases\":[");
	for (al = m->aliases; al != NULL && *al != NULL; al++) {
		if (al != m->aliases)
			r |= buf_appendc(b, ',');
		r |= json_write_cstr(b, *al);
	}
	r |= buf_appends(b, "],\"price_checked\":");
	r |= m->price_checked[0] != '\0' ?
	    json_write_cstr(b, m->price_checked) : buf_appends(b, "null");
	r |= age >= 0 ? buf_appendf(b, ",\"price_age_days\":%ld", age) :
	    buf_appends(b, ",\"price_age_days\":null");
	r |= buf_appends(b, ",\"price_source\":");
	r |= m->price_source != NULL ? json_write_cstr(b, m->price_source) :
	    buf_appends(b, "null");
	r |= buf_appendc(b, '}');
	return r;
}

/*
 * nextmodelctl models --search TEXT / --stale DAYS: the models wanted, in
 * catalog order.  --search finding nothing fails, like grep.
 */
static int
models_find(const struct catalog *cat, const struct find_opts *f, int json)
{
	const struct model *m;
	char aliases[512], age[24];
	size_t i, found = 0;
	struct buf b;
	long days;
	int r = 0, rc = CTL_FAIL;

	buf_init(&b, 0);
	r |= buf_appendc(&b, '[');
	for (i = 0; i < cat->n; i++) {
		m = &cat->models[i];
		if (!find_wanted(f, m))
			continue;
		days = catalog_price_age(m, f->today);
		if (json) {
			if (found > 0)
				r |= buf_appendc(&b, ',');
			r |= find_json(&b, m, days);
		} else {
			if (found == 0)
				printf("%-34s %-11s %-34s %-30s %-13s %8s %s\n",
				    "MODEL", "PROVIDER", "UPSTREAM", "ALIASES",
				    "PRICE_CHECKED", "AGE_DAYS", "PRICE_SOURCE");
			alias_list(m, aliases, sizeof(aliases));
			if (days >= 0)
				snprintf(age, sizeof(age), "%ld", days);
			else
				snprintf(age, sizeof(age), "-");
			printf("%-34s %-11s %-34s %-30s %-13s %8s %s\n", m->id,
			    m->provider, m->upstream_model, aliases,
			    m->price_checked[0] != '\0' ? m->price_checked : "-",
			    age, m->price_source != NULL ? m->price_source : "-");
		}
		found++;
	}
	r |= buf_appendc(&b, ']');
	if (r != 0) {
		ctl_warnx("out of memory");
		goto out;
	}
	if (json)
		printf("%s\n", b.data);
	if (found == 0 && f->search != NULL) {
		ctl_warnx("no model matches \"%s\"", f->search);
		ctl_flush();
		goto out;
	}
	rc = ctl_flush();
out:
	buf_free(&b);
	return rc;
}

/*
 * Read a request file (at most max bytes) into b, which the caller frees
 * either way; 0 or -1 after a message.
 */
static int
read_file(const char *path, size_t max, struct buf *b)
{
	char chunk[8192];
	size_t n;
	FILE *f;
	int r = 0;

	buf_init(b, max);
	if ((f = fopen(path, "rb")) == NULL) {
		ctl_warnx("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) != 0) {
			ctl_warnx("%s: larger than %zu bytes (limits."
			    "max_body_bytes)", path, max);
			r = -1;
			break;
		}
	if (r == 0 && ferror(f)) {
		ctl_warnx("%s: %s", path, strerror(errno));
		r = -1;
	}
	fclose(f);
	return r;
}

/* Estimate the request in path; the model it names into name (or ""). */
static int
estimate_file(const struct config *conf, const char *path,
    struct estimate *est, char *name, size_t namelen)
{
	struct json_limits lim;
	struct json j;
	struct buf b;
	char err[256];
	int mt, r = -1;

	memset(&j, 0, sizeof(j));
	name[0] = '\0';
	if (read_file(path, conf->max_body_bytes, &b) != 0)
		goto out;
	lim.max_depth = conf->max_json_depth;
	lim.max_tokens = conf->max_json_tokens;
	if (json_parse(&j, b.data != NULL ? b.data : "", b.len, &lim, err,
	    sizeof(err)) != 0 || estimate_chat(&j, est, err, sizeof(err)) != 0) {
		ctl_warnx("%s: %s", path, err);
		goto out;
	}
	if ((mt = json_get(&j, 0, "model")) >= 0 &&
	    json_type(&j, mt) == JSON_STRING &&
	    json_strcpy(&j, mt, name, namelen) != 0)
		name[0] = '\0';
	r = 0;
out:
	json_free(&j);
	buf_free(&b);
	return r;
}

/* nextmodelctl models [--sort ...] [--region ...] [--request F] [--format ...]. */
static int
models_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sort",	required_argument,	NULL, 's' },
		{ "region",	required_argument,	NULL, 'r' },
		{ "request",	required_argument,	NULL, 'q' },
		{ "format",	required_argument,	NULL, 'f' },
		{ "search",	required_argument,	NULL, 'S' },
		{ "stale",	required_argument,	NULL, 'a' },
		{ NULL,		0,			NULL, 0 },
	};
	struct find_opts find = { NULL, -1, 0 };
	const struct config *conf;
	const char *reqfile = NULL;
	struct quote_opts o;
	struct estimate est;
	struct quote q;
	struct buf b;
	char name[256];
	int ch, json = 0, quoting = 0, rc = CTL_FAIL;

	memset(&o, 0, sizeof(o));
	o.region = -1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		/* The quote's own options, refused beside --search/--stale. */
		quoting |= ch == 's' || ch == 'r' || ch == 'q';
		switch (ch) {
		case 's':
			if (strcmp(optarg, "price") == 0)
				o.sort = QUOTE_SORT_PRICE;
			else if (strcmp(optarg, "latency") == 0)
				o.sort = QUOTE_SORT_LATENCY;
			else {
				ctl_warnx("--sort: expected price or latency");
				return ctl_usage(ctl);
			}
			break;
		case 'r':
			if (strcmp(optarg, "global") == 0)
				o.region = REGION_GLOBAL;
			else if (strcmp(optarg, "cn") == 0)
				o.region = REGION_CN;
			else {
				ctl_warnx("--region: expected cn or global");
				return ctl_usage(ctl);
			}
			break;
		case 'q':
			reqfile = optarg;
			break;
		case 'S':
			if (optarg[0] == '\0') {
				ctl_warnx("--search: expected part of a name");
				return ctl_usage(ctl);
			}
			find.search = optarg;
			break;
		case 'a':
			if (ctl_parse_int64(optarg, 0, &find.stale) != 0) {
				ctl_warnx("--stale: expected a number of days");
				return ctl_usage(ctl);
			}
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0)
				json = 1;
			else if (strcmp(optarg, "table") == 0)
				json = 0;
			else {
				ctl_warnx("--format: expected table or json");
				return ctl_usage(ctl);
			}
			break;
		default:
			return ctl_usage(ctl);
		}
	}
	if (optind != argc) {
		ctl_warnx("unexpected argument: %s", argv[optind]);
		return ctl_usage(ctl);
	}
	if ((find.search != NULL || find.stale >= 0) &&
	    quoting) {
		ctl_warnx("--search and --stale list models: no --sort, "
		    "--region or --request with them");
		return ctl_usage(ctl);
	}
	if ((conf = ctl_config(ctl)) == NULL)
		return CTL_FAIL;
	if (find.search != NULL || find.stale >= 0) {
		find.today = (long)(time(NULL) / 86400);
		return models_find(conf->catalog, &find, json);
	}
	memset(&est, 0, sizeof(est));
	name[0] = '\0';
	if (reqfile != NULL) {
		if (estimate_file(conf, reqfile, &est, name, sizeof(name)) != 0)
			return CTL_FAIL;
	} else {
		est.input_tokens = STD_INPUT_TOKENS;
		est.max_tokens = STD_OUTPUT_TOKENS;
		est.n = 1;
	}
	o.model = name[0] != '\0' ? name : NULL;
	buf_init(&b, 0);
	if (quote_build(conf->catalog, &est, &o, &q) != 0 ||
	    (json && quote_write_json(&q, &b) != 0)) {
		ctl_warnx("out of memory");
		goto out;
	}
	if (json)
		printf("%s\n", b.data);
	else
		print_table(&q);
	rc = ctl_flush();
out:
	quote_free(&q);
	buf_free(&b);
	return rc;
}
