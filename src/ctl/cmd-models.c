/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl models: the price comparison POST /v1/quotes answers, from
 * the command line, for a request file or a standard prompt, as a table
 * or as the same JSON.  Reads the catalog only; no source, no Redis.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		{ NULL,		0,			NULL, 0 },
	};
	const struct config *conf;
	const char *reqfile = NULL;
	struct quote_opts o;
	struct estimate est;
	struct quote q;
	struct buf b;
	char name[256];
	int ch, json = 0, rc = CTL_FAIL;

	memset(&o, 0, sizeof(o));
	o.region = -1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
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
	if ((conf = ctl_config(ctl)) == NULL)
		return CTL_FAIL;
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
