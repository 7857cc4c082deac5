/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl key create | list | revoke.  The new key is printed once,
 * alone on stdout, and wiped from memory; list never shows a secret or a
 * hash, only what the key record holds.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "audit.h"
#include "auth.h"
#include "buf.h"
#include "json.h"
#include "crypto.h"
#include "govern.h"
#include "money.h"
#include "xmalloc.h"
#include "ctl.h"

static int	key_create(struct ctl *, int, char **);
static int	key_list(struct ctl *, int, char **);
static int	key_revoke(struct ctl *, int, char **);

static const struct ctl_cmd key_cmds[] = {
	{ "create", "--project P [--team T] [--name N] [--environment E] "
	    "[--expires YYYY-MM-DD] [--models M,...] [--sources S,...] [--rpm N] [--tpm N] "
	    "[--budget-usd AMOUNT --budget-period day|month|total]",
	    key_create, 0 },
	{ "list", "[--project P] [--team T] [--format table|json]", key_list, 0 },
	{ "revoke", "KEY_ID", key_revoke, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_key = { "key", key_cmds };

/* The records collected by key list, and its filters (NULL: any). */
struct key_set {
	struct key_record	*v;
	size_t			 n, cap;
	const char		*project, *team;
};

/* One table column: heading and how to print a record's cell. */
struct column {
	const char	*head;
	void		(*cell)(const struct key_record *, char *, size_t);
};

/* The start (00:00 UTC) of day YYYY-MM-DD as Unix seconds, or -1. */
static int64_t
day_unix(const char *s)
{
	struct tm tm;
	int y, m, d;
	char junk;

	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d,
	    &junk) != 3 || y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	return (int64_t)timegm(&tm);
}

/* The audit details of a new key: its labels and limits, never the secret. */
static int
create_details(const struct key_record *rec, struct buf *b)
{
	int	 e = 0;

	e |= buf_appends(b, "{\"project\":");
	e |= json_write_cstr(b, rec->project);
	e |= buf_appends(b, ",\"team\":");
	e |= rec->team[0] ? json_write_cstr(b, rec->team) :
	    buf_appends(b, "null");
	e |= buf_appends(b, ",\"name\":");
	e |= rec->name[0] ? json_write_cstr(b, rec->name) :
	    buf_appends(b, "null");
	e |= buf_appendf(b, ",\"rpm\":%lld,\"tpm\":%lld,\"environment\":",
	    (long long)rec->rpm, (long long)rec->tpm);
	e |= rec->environment[0] ? json_write_cstr(b, rec->environment) :
	    buf_appends(b, "null");
	e |= buf_appendc(b, '}');
	return e;
}

/* nextmodelctl key create: make a key, print it alone on stdout. */
static int
key_create(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "project",	required_argument, NULL, 'p' },
		{ "team",	required_argument, NULL, 't' },
		{ "name",	required_argument, NULL, 'n' },
		{ "rpm",	required_argument, NULL, 'r' },
		{ "tpm",	required_argument, NULL, 'T' },
		{ "environment", required_argument, NULL, 'e' },
		{ "expires",	required_argument, NULL, 'x' },
		{ "models",	required_argument, NULL, 'm' },
		{ "sources",	required_argument, NULL, 's' },
		{ "budget-usd",	required_argument, NULL, 'b' },
		{ "budget-period", required_argument, NULL, 'P' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct key_record	 rec;
	struct redis		*r;
	struct timeval		 tv;
	const char		*project = NULL, *team = NULL, *name = NULL;
	const char		*budget_s = NULL, *period_s = NULL;
	const char		*environment = NULL, *models = NULL;
	const char		*sources = NULL;
	int64_t			 expires = 0;
	char			 secret[AUTH_KEY_LEN + 1], err[512];
	int64_t			 rpm = 0, tpm = 0;
	nm_nano			 budget = 0;
	enum gov_period		 period = GOV_TOTAL;
	int			 ch, rc;

	while ((ch = getopt_long(argc, argv, "p:t:n:", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			project = optarg;
			break;
		case 't':
			team = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'r':
		case 'T':
			if (ctl_parse_int64(optarg, 0, ch == 'r' ? &rpm :
			    &tpm) == -1) {
				ctl_warnx("--%s: not a whole number >= 0: %s",
				    ch == 'r' ? "rpm" : "tpm", optarg);
				return ctl_usage(ctl);
			}
			break;
		case 'b':
			budget_s = optarg;
			break;
		case 'e':
			environment = optarg;
			break;
		case 'x':
			if ((expires = day_unix(optarg)) <= 0) {
				ctl_warnx("--expires: a day, YYYY-MM-DD, not %s",
				    optarg);
				return ctl_usage(ctl);
			}
			break;
		case 'm':
			models = optarg;
			break;
		case 's':
			sources = optarg;
			break;
		case 'P':
			period_s = optarg;
			break;
		default:
			return ctl_usage(ctl);
		}
	}
	if ((budget_s != NULL) != (period_s != NULL)) {
		ctl_warnx("--budget-usd and --budget-period go together");
		return ctl_usage(ctl);
	}
	if (budget_s != NULL && (money_parse(budget_s, strlen(budget_s), 0,
	    &budget) == -1 || budget <= 0 || budget > GOV_NANO_MAX)) {
		ctl_warnx("--budget-usd: an amount in USD above 0 and at most "
		    "4503599.627370496: %s", budget_s);
		return ctl_usage(ctl);
	}
	if (period_s != NULL && gov_period_parse(period_s, &period) == -1) {
		ctl_warnx("--budget-period: day, month or total, not %s",
		    period_s);
		return ctl_usage(ctl);
	}
	if (optind != argc || project == NULL) {
		if (project == NULL)
			ctl_warnx("--project is required");
		else
			ctl_warnx("unexpected argument: %s", argv[optind]);
		return ctl_usage(ctl);
	}
	if (auth_key_check_labels(project, team, name, err, sizeof(err)) == -1) {
		ctl_warnx("%s", err);
		return ctl_usage(ctl);
	}
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if (auth_key_create(r, project, team, name, rpm, tpm, secret, &rec,
	    err, sizeof(err)) == -1) {
		ctl_warnx("key create: %s", err);
		return CTL_FAIL;
	}
	/* The environment label: revoke rather than hand out a key without it. */
	if (environment != NULL && auth_key_set_environment(r, rec.id,
	    environment, err, sizeof(err)) != 0) {
		crypto_cleanse(secret, sizeof(secret));
		ctl_warnx("key create: --environment: %s", err);
		if (auth_key_revoke(r, rec.id, err, sizeof(err)) != 0)
			ctl_warnx("and %s could not be revoked: %s", rec.id, err);
		return CTL_FAIL;
	}
	/* Expiry and what the key may use, likewise. */
	if ((expires > 0 || models != NULL || sources != NULL) &&
	    auth_key_set_scope(r, rec.id, expires, models, sources, err,
	    sizeof(err)) != 0) {
		crypto_cleanse(secret, sizeof(secret));
		ctl_warnx("key create: %s", err);
		if (auth_key_revoke(r, rec.id, err, sizeof(err)) != 0)
			ctl_warnx("and %s could not be revoked: %s", rec.id, err);
		return CTL_FAIL;
	}
	/*
	 * The budget lives under the project's hash tag, the key under
	 * {auth}: two writes.  If the budget cannot be set, revoke the key
	 * rather than hand out one without the budget asked for.
	 */
	gettimeofday(&tv, NULL);
	if (budget > 0 && gov_budget_set(r, rec.project, GOV_KEY, rec.id,
	    budget, period, GOV_WARN_DEFAULT_PPM, GOV_DOWN_CLOSED,
	    (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, NULL, err,
	    sizeof(err)) == -1) {
		crypto_cleanse(secret, sizeof(secret));
		ctl_warnx("key create: the budget: %s", err);
		if (auth_key_revoke(r, rec.id, err, sizeof(err)) != 0)
			ctl_warnx("and %s could not be revoked: %s", rec.id, err);
		return CTL_FAIL;
	}
	printf("%s\n", secret);
	crypto_cleanse(secret, sizeof(secret));
	rc = ctl_flush();
	if (rc == CTL_OK)
		fprintf(stderr, "created %s for project %s\n", rec.id,
		    rec.project);
	{
		struct buf	 d;
		int		 arc;

		buf_init(&d, 0);
		if (create_details(&rec, &d) != 0) {
			ctl_warnx("out of memory");
			arc = CTL_FAIL;
		} else
			arc = ctl_audit(ctl, "key.create", rec.id, d.data);
		buf_free(&d);
		if (rc == CTL_OK)
			rc = arc;
	}
	return rc;
}

/* auth_key_list callback: keep a copy of each record. */
static int
collect(void *arg, const struct key_record *rec)
{
	struct key_set	*set = arg;

	if ((set->project != NULL && strcmp(rec->project, set->project) != 0) ||
	    (set->team != NULL && strcmp(rec->team, set->team) != 0))
		return 0;
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 32;
		set->v = xrealloc(set->v, set->cap * sizeof(*set->v));
	}
	set->v[set->n++] = *rec;
	return 0;
}

/* Unix time as "YYYY-MM-DDTHH:MM:SSZ" (UTC). */
static void
utc_time(int64_t t, char *out, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%lld", (long long)t);
}

static void
cell_id(const struct key_record *k, char *out, size_t len)
{
	snprintf(out, len, "%s", k->id);
}

static void
cell_project(const struct key_record *k, char *out, size_t len)
{
	snprintf(out, len, "%s", k->project);
}

static void
cell_team(const struct key_record *k, char *out, size_t len)
{
	snprintf(out, len, "%s", k->team[0] ? k->team : "-");
}

static void
cell_name(const struct key_record *k, char *out, size_t len)
{
	snprintf(out, len, "%s", k->name[0] ? k->name : "-");
}

static void
cell_created(const struct key_record *k, char *out, size_t len)
{
	utc_time(k->created, out, len);
}

static void
cell_revoked(const struct key_record *k, char *out, size_t len)
{
	snprintf(out, len, "%s", k->revoked ? "yes" : "no");
}

static void
cell_rpm(const struct key_record *k, char *out, size_t len)
{
	if (k->rpm == 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%lld", (long long)k->rpm);
}

static void
cell_tpm(const struct key_record *k, char *out, size_t len)
{
	if (k->tpm == 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%lld", (long long)k->tpm);
}

static const struct column columns[] = {
	{ "ID",		cell_id },
	{ "PROJECT",	cell_project },
	{ "TEAM",	cell_team },
	{ "NAME",	cell_name },
	{ "CREATED",	cell_created },
	{ "REVOKED",	cell_revoked },
	{ "RPM",	cell_rpm },
	{ "TPM",	cell_tpm },
};

#define NCOLUMNS	(sizeof(columns) / sizeof(columns[0]))
#define CELL_MAX	160

/* The keys as an aligned table; rpm/tpm "-" for no limit. */
static void
print_table(const struct key_set *set)
{
	char	 cell[CELL_MAX];
	size_t	 width[NCOLUMNS], i, c, len;

	for (c = 0; c < NCOLUMNS; c++)
		width[c] = strlen(columns[c].head);
	for (i = 0; i < set->n; i++)
		for (c = 0; c < NCOLUMNS; c++) {
			columns[c].cell(&set->v[i], cell, sizeof(cell));
			if ((len = strlen(cell)) > width[c])
				width[c] = len;
		}
	for (c = 0; c < NCOLUMNS; c++)
		printf("%-*s%s", c + 1 < NCOLUMNS ? (int)width[c] : 0,
		    columns[c].head, c + 1 < NCOLUMNS ? "  " : "\n");
	for (i = 0; i < set->n; i++)
		for (c = 0; c < NCOLUMNS; c++) {
			columns[c].cell(&set->v[i], cell, sizeof(cell));
			printf("%-*s%s", c + 1 < NCOLUMNS ? (int)width[c] : 0,
			    cell, c + 1 < NCOLUMNS ? "  " : "\n");
		}
}

/* s as a JSON string literal; anything outside printable ASCII as \u00XX. */
static void
print_json_str(const char *s)
{
	const unsigned char	*p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p > 0x7e)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* The keys as a JSON array, one object a line; team/name null when empty. */
static void
print_json(const struct key_set *set)
{
	const struct key_record	*k;
	char			 created[32];
	size_t			 i;

	printf("[");
	for (i = 0; i < set->n; i++) {
		k = &set->v[i];
		printf("%s\n  {\"id\": ", i ? "," : "");
		print_json_str(k->id);
		printf(", \"project\": ");
		print_json_str(k->project);
		printf(", \"team\": ");
		if (k->team[0])
			print_json_str(k->team);
		else
			printf("null");
		printf(", \"name\": ");
		if (k->name[0])
			print_json_str(k->name);
		else
			printf("null");
		printf(", \"environment\": ");
		if (k->environment[0])
			print_json_str(k->environment);
		else
			printf("null");
		printf(", \"expires_unix\": %lld, \"models\": ",
		    (long long)k->expires);
		print_json_str(k->models);
		printf(", \"sources\": ");
		print_json_str(k->sources);
		utc_time(k->created, created, sizeof(created));
		printf(", \"created\": \"%s\", \"created_unix\": %lld, "
		    "\"revoked\": %s, \"rpm\": %lld, \"tpm\": %lld}", created,
		    (long long)k->created, k->revoked ? "true" : "false",
		    (long long)k->rpm, (long long)k->tpm);
	}
	printf("%s]\n", set->n ? "\n" : "");
}

/* nextmodelctl key list: every key, oldest first. */
static int
key_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format",	required_argument, NULL, 'f' },
		{ "project",	required_argument, NULL, 'p' },
		{ "team",	required_argument, NULL, 't' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct key_set	 set = { NULL, 0, 0, NULL, NULL };
	struct redis	*r;
	const char	*format = "table";
	char		 err[512];
	int		 ch, rc = CTL_FAIL;

	while ((ch = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			format = optarg;
			break;
		case 'p':
			set.project = optarg;
			break;
		case 't':
			set.team = optarg;
			break;
		default:
			return ctl_usage(ctl);
		}
	}
	if (optind != argc) {
		ctl_warnx("unexpected argument: %s", argv[optind]);
		return ctl_usage(ctl);
	}
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0) {
		ctl_warnx("--format: table or json, not %s", format);
		return ctl_usage(ctl);
	}
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if (auth_key_list(r, collect, &set, err, sizeof(err)) == -1) {
		ctl_warnx("key list: %s", err);
		goto out;
	}
	if (strcmp(format, "json") == 0)
		print_json(&set);
	else
		print_table(&set);
	rc = ctl_flush();
out:
	free(set.v);
	return rc;
}

/* nextmodelctl key revoke KEY_ID. */
static int
key_revoke(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	struct redis	*r;
	char		 err[512];

	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		return ctl_usage(ctl);
	if (argc - optind != 1)
		return ctl_usage(ctl);
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	switch (auth_key_revoke(r, argv[optind], err, sizeof(err))) {
	case 0:
		fprintf(stderr, "revoked %s\n", argv[optind]);
		return ctl_audit(ctl, "key.revoke", argv[optind], NULL);
	case 1:
		ctl_warnx("%s: no such key", argv[optind]);
		return CTL_FAIL;
	default:
		ctl_warnx("key revoke: %s", err);
		return CTL_FAIL;
	}
}
