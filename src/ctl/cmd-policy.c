/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl policy check: load the config the way nextmodeld does
 * (config_load validates the catalog and compiles the policy files) and
 * report the first problem as FILE:LINE: message, or a one-line summary.
 * Prices checked more than CATALOG_STALE_DAYS ago are warned about, not
 * failed.  nextmodelctl policy explain: what the policies decide for a
 * request file, and why (policy_explain()).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "catalog.h"
#include "errinfo.h"
#include "facts.h"
#include "json.h"
#include "policy.h"
#include "ctl.h"

#define MAX_LATENCIES	POLICY_MAX_MODELS

static int	policy_check(struct ctl *, int, char **);
static int	policy_explain_cmd(struct ctl *, int, char **);

static const struct ctl_cmd policy_cmds[] = {
	{ "check", "", policy_check, 0 },
	{ "explain", "REQUEST.json [--key KEY_ID] [--project P] [--team T] "
	    "[--environment E] [--workload W] [--budget-used FRACTION] "
	    "[--latency MODEL=MS]... [--draw FRACTION] [--ignore-keys]",
	    policy_explain_cmd, 0 },
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
	printf("policies: %zu rules in %zu files\n",
	    policy_nrules(conf->policies), policy_nfiles(conf->policies));
	return ctl_flush();
}

/* Read path (at most max bytes) into b, which the caller frees: 0 or -1. */
static int
slurp(const char *path, size_t max, struct buf *b)
{
	char	 chunk[8192];
	size_t	 n;
	FILE	*f;
	int	 r = 0;

	buf_init(b, max);
	if ((f = fopen(path, "rb")) == NULL) {
		ctl_warnx("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) != 0) {
			ctl_warnx("%s: larger than %zu bytes "
			    "(limits.max_body_bytes)", path, max);
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

/*
 * The facts of the request in path, as the gateway derives them: an
 * embeddings body when it has "input" and no "messages".  0 or -1.
 */
static int
request_facts(const struct config *conf, const char *path, struct facts *f)
{
	struct json_limits lim;
	struct errinfo	 e;
	struct json	 j;
	struct buf	 b;
	char		 err[256];
	int		 r = -1;

	memset(&j, 0, sizeof(j));
	memset(&e, 0, sizeof(e));
	if (slurp(path, conf->max_body_bytes, &b) != 0)
		goto out;
	lim.max_depth = conf->max_json_depth;
	lim.max_tokens = conf->max_json_tokens;
	if (json_parse(&j, b.data != NULL ? b.data : "", b.len, &lim, err,
	    sizeof(err)) != 0) {
		ctl_warnx("%s: %s", path, err);
		goto out;
	}
	if (json_get(&j, 0, "messages") < 0 && json_get(&j, 0, "input") >= 0)
		r = facts_embeddings(&j, f, &e);
	else
		r = facts_chat(&j, f, &e);
	if (r != 0)
		ctl_warnx("%s: %s", path, e.message);
out:
	json_free(&j);
	buf_free(&b);
	return r;
}

/* What the key lookup fills: the id asked for and its labels. */
struct key_find {
	const char	*id;
	struct key_record rec;
	int		 found;
};

/* auth_key_list() callback: keep the record whose id is asked for. */
static int
key_match(void *arg, const struct key_record *rec)
{
	struct key_find *k = arg;

	if (strcmp(rec->id, k->id) == 0) {
		k->rec = *rec;
		k->found = 1;
	}
	return 0;
}

/* A fraction "0.85" or "85%" from the command line: 0 or -1. */
static int
parse_fraction_arg(const char *s, double *out)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno == ERANGE)
		return -1;
	if (strcmp(end, "%") == 0)
		v /= 100;
	else if (*end != '\0')
		return -1;
	if (!(v >= 0 && v <= 10))
		return -1;
	*out = v;
	return 0;
}

/* "MODEL=MS" into a latency entry for the model's source: 0 or -1. */
static int
parse_latency_arg(const struct config *conf, char *s,
    struct policy_latency *l)
{
	const struct model *m;
	char		*eq = strrchr(s, '=');
	int64_t		 ms;

	if (eq == NULL)
		return -1;
	*eq = '\0';
	if ((m = catalog_find(conf->catalog, s)) == NULL) {
		ctl_warnx("--latency: unknown model %s", s);
		return -1;
	}
	if (ctl_parse_int64(eq + 1, 0, &ms) == -1 || ms > 3600000)
		return -1;
	l->model = m->id;
	l->provider = m->provider;
	l->ms = (long)ms;
	l->samples = POLICY_LATENCY_SAMPLES;
	return 0;
}

/* nextmodelctl policy explain REQUEST.json [options]. */
static int
policy_explain_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key",	 required_argument, NULL, 'k' },
		{ "project",	 required_argument, NULL, 'p' },
		{ "team",	 required_argument, NULL, 't' },
		{ "environment", required_argument, NULL, 'e' },
		{ "workload",	 required_argument, NULL, 'w' },
		{ "budget-used", required_argument, NULL, 'b' },
		{ "latency",	 required_argument, NULL, 'l' },
		{ "draw",	 required_argument, NULL, 'd' },
		{ "ignore-keys", no_argument,	    NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	const struct config	*conf;
	struct policy_latency	 lat[MAX_LATENCIES];
	const char		*keyed[64];
	struct policy_input	 in;
	struct policy_decision	 d;
	struct key_find		 kf;
	struct facts		 f;
	struct buf		 out;
	struct redis		*r;
	char			 err[256];
	size_t			 i, nkeyed = 0;
	int			 ch, ignore_keys = 0, rc;

	memset(&in, 0, sizeof(in));
	memset(&kf, 0, sizeof(kf));
	in.budget_used = -1;
	in.latency = lat;
	if ((conf = ctl_config(ctl)) == NULL)
		return CTL_FAIL;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			kf.id = optarg;
			break;
		case 'p':
			in.project = optarg;
			break;
		case 't':
			in.team = optarg;
			break;
		case 'e':
			in.environment = optarg;
			break;
		case 'w':
			in.workload = optarg;
			break;
		case 'i':
			ignore_keys = 1;
			break;
		case 'b':
			if (parse_fraction_arg(optarg, &in.budget_used) == -1) {
				ctl_warnx("--budget-used: expected a fraction "
				    "such as 0.85 or 85%%");
				return ctl_usage(ctl);
			}
			break;
		case 'd':
			if (parse_fraction_arg(optarg, &in.draw) == -1 ||
			    in.draw >= 1) {
				ctl_warnx("--draw: expected a number from 0 "
				    "to below 1");
				return ctl_usage(ctl);
			}
			break;
		case 'l':
			if (in.nlatency == MAX_LATENCIES ||
			    parse_latency_arg(conf, optarg,
			    &lat[in.nlatency]) == -1) {
				ctl_warnx("--latency: expected MODEL=MS");
				return ctl_usage(ctl);
			}
			in.nlatency++;
			break;
		default:
			return ctl_usage(ctl);
		}
	}
	if (optind != argc - 1) {
		ctl_warnx(optind == argc ? "missing REQUEST.json" :
		    "unexpected argument: %s", argv[argc - 1]);
		return ctl_usage(ctl);
	}
	if (request_facts(conf, argv[optind], &f) == -1)
		return CTL_FAIL;
	in.facts = &f;
	if (kf.id != NULL) {
		if ((r = ctl_redis(ctl)) == NULL)
			return CTL_FAIL;
		if (auth_key_list(r, key_match, &kf, err, sizeof(err)) == -1) {
			ctl_warnx("%s", err);
			return CTL_FAIL;
		}
		if (!kf.found) {
			ctl_warnx("no key %s", kf.id);
			return CTL_FAIL;
		}
		if (kf.rec.revoked)
			ctl_warnx("warning: key %s is revoked", kf.id);
		in.key_id = kf.rec.id;
		if (in.project == NULL)
			in.project = kf.rec.project;
		if (in.team == NULL)
			in.team = kf.rec.team;
	}
	if (!ignore_keys) {
		for (i = 0; i < conf->nproviders && nkeyed + 1 < NM_NELEM(keyed);
		    i++)
			if (conf->providers[i].api_key != NULL)
				keyed[nkeyed++] = conf->providers[i].name;
		keyed[nkeyed] = NULL;
		in.keyed_providers = keyed;
	}
	policy_decide(conf->policies, &in, &d);
	buf_init(&out, 0);
	rc = policy_explain(conf->policies, &in, &d, &out);
	if (rc == 0)
		fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	if (rc != 0) {
		ctl_warnx("out of memory");
		return CTL_FAIL;
	}
	return ctl_flush();
}
