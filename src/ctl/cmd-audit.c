/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl audit: the admin actions in the Redis stream nm:audit,
 * oldest first.  The stream keeps audit_keep_days of them (the ledger
 * trims older entries once it has filed them); the complete trail is in
 * ledger_dir/audit-YYYY-MM-DD.jsonl on the ledger's host.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "audit.h"
#include "redis.h"
#include "ctl.h"

#define AUDIT_PAGE	"500"

static int	audit_show(struct ctl *, int, char **);

static const struct ctl_cmd audit_cmds[] = {
	{ "", "[--since YYYY-MM-DD] [--format table|json]", audit_show, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_audit = { "audit", audit_cmds };

/* YYYY-MM-DD (UTC) as Unix ms; 0/-1. */
static int
day_ms(const char *s, long long *out)
{
	struct tm	 tm;
	int		 y, m, d;
	char		 junk;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
	    sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &junk) != 3 ||
	    m < 1 || m > 12 || d < 1 || d > 31 || y < 1970)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	*out = (long long)timegm(&tm) * 1000;
	return 0;
}

/* One table row; unparsable entries are shown as such. */
static void
row(const char *sid, const char *line, size_t len)
{
	struct audit_view	 v;
	char			 err[128], from[160];

	if (audit_parse(line, len, &v, err, sizeof(err)) != 0) {
		printf("%-24s  (stream entry %s: %s)\n", "-", sid, err);
		return;
	}
	snprintf(from, sizeof(from), "%s:%lld", v.host[0] ? v.host : "?",
	    (long long)v.pid);
	printf("%-24s  %-16s  %-20s  %-28s  %s\n", v.time, v.actor, v.action,
	    v.target[0] ? v.target : "-", from);
}

/* nextmodelctl audit [--since DAY] [--format table|json] */
static int
audit_show(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since",	required_argument, NULL, 's' },
		{ "format",	required_argument, NULL, 'f' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct redis	*r;
	redisReply	*rep;
	const char	*format = "table";
	char		 start[64] = "-";
	long long	 since;
	size_t		 i, n = 0;
	int		 ch, json, more = 1;

	while ((ch = getopt_long(argc, argv, "s:f:", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (day_ms(optarg, &since) != 0) {
				ctl_warnx("--since: a day YYYY-MM-DD, not %s",
				    optarg);
				return ctl_usage(ctl);
			}
			snprintf(start, sizeof(start), "%lld-0", since);
			break;
		case 'f':
			format = optarg;
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
	json = strcmp(format, "json") == 0;
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if (json)
		fputs("[", stdout);
	else
		printf("%-24s  %-16s  %-20s  %-28s  %s\n", "TIME", "ACTOR",
		    "ACTION", "TARGET", "FROM");
	while (more) {
		const char *av[] = { "XRANGE", AUDIT_STREAM, start, "+",
		    "COUNT", AUDIT_PAGE };

		if ((rep = redis_commandv(r, 6, av, NULL)) == NULL) {
			ctl_warnx("%s", redis_errstr(r));
			return CTL_FAIL;
		}
		if (rep->type != REDIS_REPLY_ARRAY) {
			ctl_warnx("XRANGE %s: %s", AUDIT_STREAM, rep->type ==
			    REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
			freeReplyObject(rep);
			return CTL_FAIL;
		}
		more = rep->elements == (size_t)strtol(AUDIT_PAGE, NULL, 10);
		for (i = 0; i < rep->elements; i++) {
			const redisReply *x = rep->element[i], *f;
			const char *line = NULL;
			size_t k, len = 0;

			if (x->type != REDIS_REPLY_ARRAY || x->elements < 2 ||
			    x->element[0]->type != REDIS_REPLY_STRING)
				continue;
			/* The next page starts just after this entry: "(" id. */
			snprintf(start, sizeof(start), "(%s", x->element[0]->str);
			f = x->element[1];
			for (k = 0; f->type == REDIS_REPLY_ARRAY &&
			    k + 1 < f->elements; k += 2)
				if (f->element[k]->type == REDIS_REPLY_STRING &&
				    strcmp(f->element[k]->str, AUDIT_FIELD) == 0 &&
				    f->element[k + 1]->type == REDIS_REPLY_STRING) {
					line = f->element[k + 1]->str;
					len = f->element[k + 1]->len;
				}
			if (line == NULL)
				continue;
			if (json) {
				struct audit_view v;
				char err[64];

				/* Only well-formed lines: the output stays JSON. */
				if (audit_parse(line, len, &v, err,
				    sizeof(err)) != 0)
					continue;
				printf("%s\n  ", n ? "," : "");
				fwrite(line, 1, len, stdout);
			} else
				row(x->element[0]->str, line, len);
			n++;
		}
		freeReplyObject(rep);
	}
	if (json)
		printf("%s]\n", n ? "\n" : "");
	return ctl_flush();
}
