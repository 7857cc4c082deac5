/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl: global options, the table of command groups, dispatch,
 * and the helpers every command shares (config, Redis, usage, numbers).
 * It talks to Redis directly, so it works while the gateway is down.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "redis.h"
#include "audit.h"
#include "ctl.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"0.0.0"
#endif

#define CTL_DEFAULT_REDIS	"redis://127.0.0.1:6379/0"
#define CTL_DEFAULT_TIMEOUT	5000

/* Every command group; a new group is one line here. */
static const struct ctl_group *groups[] = {
	&ctl_group_key,
	&ctl_group_provider_key,
	&ctl_group_audit,
	&ctl_group_budget,
	&ctl_group_ratelimit,
	&ctl_group_policy,
	&ctl_group_sources,
	&ctl_group_models,
	&ctl_group_receipt,
	&ctl_group_usage,
	&ctl_group_bench,
};

static const struct option global_options[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, 'V' },
	{ NULL,		0,			NULL, 0 },
};

/* "nextmodelctl: message" on stderr. */
void
ctl_warnx(const char *fmt, ...)
{
	va_list	 ap;

	fputs("nextmodelctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* One "  group cmd usage" line per visible command of g into f. */
static void
list_group(FILE *f, const struct ctl_group *g)
{
	const struct ctl_cmd	*c;

	for (c = g->cmds; c->name != NULL; c++) {
		if (c->hidden)
			continue;
		fprintf(f, "  %s%s%s%s%s\n", g->name, c->name[0] ? " " : "",
		    c->name, c->usage[0] ? " " : "", c->usage);
	}
}

/* Every visible command of every group into f. */
static void
list_commands(FILE *f)
{
	size_t	 i;

	for (i = 0; i < NM_NELEM(groups); i++)
		list_group(f, groups[i]);
}

/* The whole help text into f. */
static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: nextmodelctl [-c FILE] COMMAND [ARGS]\n"
	    "       nextmodelctl --help | --version\n"
	    "options:\n"
	    "  -c FILE, --config FILE  the main config (default %s)\n"
	    "  --help                  this text\n"
	    "  --version               the version\n"
	    "commands:\n", config_default_path());
	list_commands(f);
}

/* Print the running command's usage to stderr; returns CTL_USAGE. */
int
ctl_usage(const struct ctl *ctl)
{
	const struct ctl_cmd	*c = ctl->cmd;

	fprintf(stderr, "usage: nextmodelctl [-c FILE] %s%s%s%s%s\n",
	    ctl->group->name, c->name[0] ? " " : "", c->name,
	    c->usage[0] ? " " : "", c->usage);
	return CTL_USAGE;
}

/* A decimal integer >= min, no junk, no overflow: 0 or -1. */
int
ctl_parse_int64(const char *s, int64_t min, int64_t *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0' || *s == ' ' || *s == '+')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* Flush stdout: CTL_OK, or CTL_FAIL after a message. */
int
ctl_flush(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_warnx("writing to stdout: %s", strerror(errno));
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* The config, loaded on first use; NULL after printing the error. */
const struct config *
ctl_config(struct ctl *ctl)
{
	char	 err[1024];

	if (ctl->conf != NULL)
		return ctl->conf;
	if ((ctl->conf = config_load(ctl->config_path, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	return ctl->conf;
}

/* Redis from the config, connected; NULL after printing the error. */
struct redis *
ctl_redis(struct ctl *ctl)
{
	const struct config	*conf;
	const char		*url;
	char			 err[512];
	long			 timeout;

	if (ctl->redis != NULL)
		return ctl->redis;
	if ((conf = ctl_config(ctl)) == NULL)
		return NULL;
	url = conf->redis_url != NULL ? conf->redis_url : CTL_DEFAULT_REDIS;
	/* An admin command may wait longer than a request would. */
	timeout = conf->redis_timeout_ms > CTL_DEFAULT_TIMEOUT ?
	    conf->redis_timeout_ms : CTL_DEFAULT_TIMEOUT;
	if ((ctl->redis = redis_new(url, timeout, err, sizeof(err))) == NULL) {
		ctl_warnx("%s: %s", conf->path, err);
		return NULL;
	}
	if (redis_connect(ctl->redis) == -1) {
		ctl_warnx("%s", redis_errstr(ctl->redis));
		redis_free(ctl->redis);
		ctl->redis = NULL;
		return NULL;
	}
	return ctl->redis;
}

/* The group called name, or NULL. */
static const struct ctl_group *
find_group(const char *name)
{
	size_t	 i;

	for (i = 0; i < NM_NELEM(groups); i++)
		if (strcmp(groups[i]->name, name) == 0)
			return groups[i];
	return NULL;
}

/* The command called name in g (NULL: the group's own ""), or NULL. */
static const struct ctl_cmd *
find_cmd(const struct ctl_group *g, const char *name)
{
	const struct ctl_cmd	*c;

	for (c = g->cmds; c->name != NULL; c++)
		if (strcmp(c->name, name != NULL ? name : "") == 0)
			return c;
	return NULL;
}

/* 1 if --help or -h comes before any "--" in argv[1..argc). */
static int
wants_help(int argc, char **argv)
{
	int	 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

/*
 * Append an admin action to the audit trail; CTL_OK, or CTL_FAIL after a
 * warning (the action itself was done).  details: a JSON object or NULL.
 */
int
ctl_audit(struct ctl *ctl, const char *action, const char *target,
    const char *details)
{
	char	 actor[129], err[512];

	audit_actor(actor, sizeof(actor));
	if (audit_append(ctl_redis(ctl), actor, action, target, details, err,
	    sizeof(err)) != 0) {
		ctl_warnx("%s %s done, but the audit event was not written: %s",
		    action, target, err);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* Find and run the command in argv[0..argc): an exit code. */
static int
dispatch(struct ctl *ctl, int argc, char **argv)
{
	static char		 name[128];
	const struct ctl_group	*g;
	const struct ctl_cmd	*c = NULL;
	int			 skip = 1;

	if ((g = find_group(argv[0])) == NULL) {
		ctl_warnx("unknown command: %s", argv[0]);
		fprintf(stderr, "commands:\n");
		list_commands(stderr);
		return CTL_USAGE;
	}
	if (argc > 1 && argv[1][0] != '-')
		c = find_cmd(g, argv[1]);
	if (c != NULL)
		skip = 2;
	else if ((c = find_cmd(g, NULL)) == NULL) {
		if (wants_help(argc, argv)) {
			list_group(stdout, g);
			return ctl_flush();
		}
		if (argc > 1 && argv[1][0] != '-')
			ctl_warnx("unknown command: %s %s", g->name, argv[1]);
		else
			ctl_warnx("%s: a command is missing", g->name);
		list_group(stderr, g);
		return CTL_USAGE;
	}
	ctl->group = g;
	ctl->cmd = c;
	argc -= skip - 1;
	argv += skip - 1;
	if (wants_help(argc, argv)) {
		printf("usage: nextmodelctl [-c FILE] %s%s%s%s%s\n", g->name,
		    c->name[0] ? " " : "", c->name, c->usage[0] ? " " : "",
		    c->usage);
		return ctl_flush();
	}
	/* getopt's own messages start with argv[0]. */
	snprintf(name, sizeof(name), "nextmodelctl %s%s%s", g->name,
	    c->name[0] ? " " : "", c->name);
	argv[0] = name;
	optind = 0;
	return c->exec(ctl, argc, argv);
}

int
main(int argc, char **argv)
{
	static char	 progname[] = "nextmodelctl";
	struct ctl	 ctl;
	int		 ch, rc;

	signal(SIGPIPE, SIG_IGN);
	argv[0] = progname;	/* getopt's messages */
	log_init("ctl", LOG_LVL_WARN);
	memset(&ctl, 0, sizeof(ctl));
	ctl.config_path = config_default_path();

	while ((ch = getopt_long(argc, argv, "+c:hV", global_options,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctl.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return ctl_flush();
		case 'V':
			printf("nextmodelctl %s\n", PACKAGE_VERSION);
			return ctl_flush();
		default:
			usage(stderr);
			return CTL_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return CTL_USAGE;
	}
	rc = dispatch(&ctl, argc, argv);
	redis_free(ctl.redis);
	config_free(ctl.conf);
	return rc;
}
