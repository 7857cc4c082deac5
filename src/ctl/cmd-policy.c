/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl policy check: load the config the way nextmodeld does
 * (config_load validates the catalog and the policy files) and report
 * the first problem as FILE:LINE: message, or a one-line summary.  Prices
 * checked more than CATALOG_STALE_DAYS ago are warned about, not failed.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "catalog.h"
#include "ctl.h"

static int	policy_check(struct ctl *, int, char **);

static const struct ctl_cmd policy_cmds[] = {
	{ "check", "", policy_check, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_policy = { "policy", policy_cmds };

/* The number of *.yaml files in dir (what the policy loader reads); -1 if unreadable. */
static int
count_policy_files(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	size_t		 len;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".yaml") == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Warn about each model whose prices are old or undated; how many. */
static size_t
warn_stale_prices(const struct catalog *cat)
{
	const struct model	*m;
	long			 today = (long)(time(NULL) / 86400), age;
	size_t			 i, n = 0;

	for (i = 0; cat != NULL && i < cat->n; i++) {
		m = &cat->models[i];
		if ((age = catalog_price_age(m, today)) > CATALOG_STALE_DAYS)
			ctl_warnx("warning: %s:%u: model %s: prices checked %s, "
			    "%ld days ago (more than %d): check %s again",
			    cat->path, m->line, m->id, m->price_checked, age,
			    CATALOG_STALE_DAYS, m->price_source != NULL ?
			    m->price_source : "its provider's pricing page");
		else if (age < 0)
			ctl_warnx("warning: %s:%u: model %s: no price_checked "
			    "date", cat->path, m->line, m->id);
		else
			continue;
		n++;
	}
	return n;
}

/* nextmodelctl policy check. */
static int
policy_check(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	const struct config	*conf;
	int			 npol = 0;

	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		return ctl_usage(ctl);
	if (optind != argc) {
		ctl_warnx("unexpected argument: %s", argv[optind]);
		return ctl_usage(ctl);
	}
	if ((conf = ctl_config(ctl)) == NULL)
		return CTL_FAIL;
	if (conf->policies_dir != NULL &&
	    (npol = count_policy_files(conf->policies_dir)) == -1) {
		ctl_warnx("%s: cannot read the folder", conf->policies_dir);
		return CTL_FAIL;
	}
	warn_stale_prices(conf->catalog);
	/* Always plural: scripts match this line. */
	printf("ok: %zu providers, %zu models, %d policy files\n",
	    conf->nproviders, conf->catalog ? conf->catalog->n : 0, npol);
	return ctl_flush();
}
