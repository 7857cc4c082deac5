/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl ratelimit set | show: requests and tokens per minute of a
 * project (nm:{p:PROJECT}:ratelimit) or of a key (its record's rpm and
 * tpm, as key create --rpm/--tpm sets them).  0 means no limit.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "govern.h"
#include "ctl.h"

static int	ratelimit_set(struct ctl *, int, char **);
static int	ratelimit_show(struct ctl *, int, char **);

static const struct ctl_cmd ratelimit_cmds[] = {
	{ "set", "(--project P | --key KEY_ID) [--rpm N] [--tpm N]",
	    ratelimit_set, 0 },
	{ "show", "(--project P | --key KEY_ID)", ratelimit_show, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_ratelimit = { "ratelimit", ratelimit_cmds };

/* Parse the options: project or key, and for set rpm/tpm (-1: not given). */
static int
options(struct ctl *ctl, int argc, char **argv, int set, const char **project,
    const char **key, int64_t *rpm, int64_t *tpm)
{
	static const struct option opts[] = {
		{ "project",	required_argument, NULL, 'p' },
		{ "key",	required_argument, NULL, 'k' },
		{ "rpm",	required_argument, NULL, 'r' },
		{ "tpm",	required_argument, NULL, 'T' },
		{ NULL,		0,		   NULL, 0 },
	};
	int	 ch;

	*project = *key = NULL;
	*rpm = *tpm = -1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			*project = optarg;
			break;
		case 'k':
			*key = optarg;
			break;
		case 'r':
		case 'T':
			if (!set || ctl_parse_int64(optarg, 0, ch == 'r' ? rpm :
			    tpm) == -1 || (ch == 'r' ? *rpm : *tpm) > GOV_RATE_MAX) {
				ctl_warnx("--%s: a whole number >= 0: %s",
				    ch == 'r' ? "rpm" : "tpm", optarg);
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
	if ((*project != NULL) == (*key != NULL)) {
		ctl_warnx("name one of --project P or --key KEY_ID");
		return ctl_usage(ctl);
	}
	if (*project != NULL && !gov_name_ok(*project, 0, GOV_NAME_MAX)) {
		ctl_warnx("--project: 1 to 64 printable characters, no spaces "
		    "or braces");
		return ctl_usage(ctl);
	}
	if (set && *rpm < 0 && *tpm < 0) {
		ctl_warnx("give --rpm, --tpm or both (0: no limit)");
		return ctl_usage(ctl);
	}
	return CTL_OK;
}

/* nextmodelctl ratelimit set. */
static int
ratelimit_set(struct ctl *ctl, int argc, char **argv)
{
	struct redis	*r;
	const char	*project, *key;
	char		 err[512], target[160], details[96];
	int64_t		 rpm, tpm;
	int		 rc;

	if ((rc = options(ctl, argc, argv, 1, &project, &key, &rpm, &tpm)) !=
	    CTL_OK)
		return rc;
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if (project != NULL)
		rc = gov_project_limits_set(r, project, rpm, tpm, err,
		    sizeof(err));
	else if ((rc = auth_key_set_limits(r, key, rpm, tpm, err,
	    sizeof(err))) == 1) {
		ctl_warnx("%s: no such key", key);
		return CTL_FAIL;
	}
	if (rc == -1) {
		ctl_warnx("ratelimit set: %s", err);
		return CTL_FAIL;
	}
	fprintf(stderr, "rate limits of %s %s set\n", project ? "project" :
	    "key", project ? project : key);
	snprintf(target, sizeof(target), "%s %s", project ? "project" : "key",
	    project ? project : key);
	snprintf(details, sizeof(details), "{\"rpm\":%lld,\"tpm\":%lld}",
	    (long long)rpm, (long long)tpm);
	return ctl_audit(ctl, "ratelimit.set", target, details);
}

/* nextmodelctl ratelimit show: "rpm: N" and "tpm: N" (0: none). */
static int
ratelimit_show(struct ctl *ctl, int argc, char **argv)
{
	struct key_record	 rec;
	struct redis		*r;
	const char		*project, *key;
	char			 err[512];
	int64_t			 rpm, tpm;
	int			 rc;

	if ((rc = options(ctl, argc, argv, 0, &project, &key, &rpm, &tpm)) !=
	    CTL_OK)
		return rc;
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if (project != NULL) {
		if (gov_project_limits_get(r, project, &rpm, &tpm, err,
		    sizeof(err)) == -1) {
			ctl_warnx("ratelimit show: %s", err);
			return CTL_FAIL;
		}
	} else {
		switch (auth_key_get_by_id(r, key, &rec, err, sizeof(err))) {
		case 1:
			rpm = rec.rpm;
			tpm = rec.tpm;
			break;
		case 0:
			ctl_warnx("%s: no such key", key);
			return CTL_FAIL;
		default:
			ctl_warnx("ratelimit show: %s", err);
			return CTL_FAIL;
		}
	}
	printf("rpm: %lld\ntpm: %lld\n", (long long)rpm, (long long)tpm);
	return ctl_flush();
}
