/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl internals: the command table and what every command file
 * shares.  A command group is one cmd-*.c file exporting a struct
 * ctl_group, plus one line in the groups[] table of main.c.
 */
#ifndef CTL_H
#define CTL_H

#include <stdint.h>

#include "nextmodel.h"

struct config;
struct redis;

/* Exit codes. */
#define CTL_OK		0
#define CTL_FAIL	1
#define CTL_USAGE	2

struct ctl {
	const char	*config_path;
	struct config	*conf;		/* loaded on first use */
	struct redis	*redis;		/* connected on first use */
	const struct ctl_group *group;	/* the running command, for messages */
	const struct ctl_cmd *cmd;
};

struct ctl_cmd {
	const char	*name;		/* "" runs when the group is given alone */
	const char	*usage;		/* arguments, for --help and errors */
	int		(*exec)(struct ctl *, int argc, char **argv);
	int		 hidden;	/* left out of --help */
};

struct ctl_group {
	const char		*name;
	const struct ctl_cmd	*cmds;	/* ends with a NULL name */
};

/* One per cmd-*.c file. */
extern const struct ctl_group ctl_group_key;
extern const struct ctl_group ctl_group_provider_key;
extern const struct ctl_group ctl_group_audit;
extern const struct ctl_group ctl_group_policy;
extern const struct ctl_group ctl_group_sources;
extern const struct ctl_group ctl_group_models;
extern const struct ctl_group ctl_group_receipt;
extern const struct ctl_group ctl_group_usage;
extern const struct ctl_group ctl_group_bench;
extern const struct ctl_group ctl_group_budget;
extern const struct ctl_group ctl_group_ratelimit;

/*
 * Append an admin action to the audit trail (nm:audit): CTL_OK, or
 * CTL_FAIL after a warning (the action itself was done).
 */
int	ctl_audit(struct ctl *, const char *action, const char *target,
	    const char *details_json);
/* The config, loaded once; NULL after printing FILE:LINE: message. */
const struct config *ctl_config(struct ctl *);
/* A connected Redis handle from the config; NULL after printing why. */
struct redis	*ctl_redis(struct ctl *);
/* Print the running command's usage to stderr; returns CTL_USAGE. */
int		 ctl_usage(const struct ctl *);
/* "nextmodelctl: message" on stderr. */
void		 ctl_warnx(const char *, ...) NM_PRINTF(1, 2);
/* A decimal integer >= min in s, nothing else: 0 or -1. */
int		 ctl_parse_int64(const char *s, int64_t min, int64_t *out);
/* Flush stdout; CTL_FAIL after a message if writing failed, else CTL_OK. */
int		 ctl_flush(void);

#endif
