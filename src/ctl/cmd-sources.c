/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl sources: each configured source with its health as every
 * gateway worker shares it in Redis (resting after repeated failures, and
 * for how long; failures in the current window) and the measured time to
 * first byte of each of its catalog models (doc/redis-keys.md, "Latency
 * and source health").
 */
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "catalog.h"
#include "config.h"
#include "ctl.h"
#include "redis.h"

static int	sources_show(struct ctl *, int, char **);

static const struct ctl_cmd sources_cmds[] = {
	{ "", "", sources_show, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_sources = { "sources", sources_cmds };

/* An integer reply, or def. */
static long long
int_reply(redisReply *r, long long def)
{
	long long v = def;

	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	else if (r != NULL && r->type == REDIS_REPLY_STRING)
		(void)sscanf(r->str, "%lld", &v);
	if (r != NULL)
		freeReplyObject(r);
	return v;
}

/* nextmodelctl sources: one line per source, one per measured model. */
static int
sources_show(struct ctl *ctl, int argc, char **argv)
{
	const struct config *cfg;
	const struct model *m;
	struct redis *r;
	redisReply *rep;
	long long ttl, fails;
	size_t i, k;

	(void)argv;
	if (argc > 1)
		return ctl_usage(ctl);
	if ((cfg = ctl_config(ctl)) == NULL || (r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	printf("%-16s %-10s %-22s %s\n", "SOURCE", "KIND", "STATE",
	    "FAILURES IN WINDOW");
	for (i = 0; i < cfg->nproviders; i++) {
		const char *p = cfg->providers[i].name;

		ttl = int_reply(redis_command(r, "TTL nm:{h:%s}:open", p), -2);
		fails = int_reply(redis_command(r, "GET nm:{h:%s}:fail", p), 0);
		if (ttl == -2)
			printf("%-16s %-10s %-22s %lld\n", p,
			    config_kind_name(cfg->providers[i].kind), "serving",
			    fails);
		else
			printf("%-16s %-10s resting, %llds left%*s %lld\n", p,
			    config_kind_name(cfg->providers[i].kind), ttl, 1, "",
			    fails);
		for (k = 0; k < cfg->catalog->n; k++) {
			m = &cfg->catalog->models[k];
			if (strcmp(m->provider, p) != 0)
				continue;
			rep = redis_command(r, "HMGET nm:{h:%s}:lat:%s ewma_ms "
			    "samples total_ewma_ms", p, m->id);
			if (rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
			    rep->elements == 3 &&
			    rep->element[0]->type == REDIS_REPLY_STRING)
				printf("    %-32s %s ms to first byte, %s ms in "
				    "all (%s samples; catalog %d ms)\n", m->id,
				    rep->element[0]->str,
				    rep->element[2]->type == REDIS_REPLY_STRING ?
				    rep->element[2]->str : "?",
				    rep->element[1]->type == REDIS_REPLY_STRING ?
				    rep->element[1]->str : "?", m->latency_ms);
			if (rep == NULL) {
				ctl_warnx("%s", redis_errstr(r));
				return CTL_FAIL;
			}
			freeReplyObject(rep);
		}
	}
	return CTL_OK;
}
