/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The audit trail: every admin action is one entry of the Redis stream
 * nm:audit, field "e" holding one JSON line whose members come in this
 * order (doc/redis-keys.md):
 *   {"id":"aud_<24 hex>","time":"2026-12-03T17:04:00.123Z","actor":"alice",
 *    "action":"key.create","target":"key_...","details":{...},
 *    "host":"gw1","pid":1234,"tool":"nextmodelctl"}
 * nextmodel-ledger files each line once into ledger_dir/audit-DAY.jsonl;
 * nextmodelctl audit reads the stream.  No secret is ever in an entry.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "redis.h"

#define AUDIT_STREAM	"nm:audit"
#define AUDIT_FIELD	"e"
#define AUDIT_ID_LEN	28		/* "aud_" + 24 hex */
#define AUDIT_MAX_LINE	8192
#define AUDIT_ACTOR_API	"admin-api"

/* An entry read back from its line: what the ledger and audit need. */
struct audit_view {
	char	 id[AUDIT_ID_LEN + 4];
	char	 time[32];		/* as written */
	char	 day[11];		/* YYYY-MM-DD (UTC) */
	char	 actor[129];
	char	 action[65];
	char	 target[257];
	char	 host[129];
	int64_t	 pid;
	char	 tool[33];
};

/* Who runs this program: the OS user name (or "uid N"). */
void	audit_actor(char *out, size_t outlen);
/*
 * Build the line of an event now, from this host and pid (tool names the
 * program).  details_json: a JSON object or NULL.  0, or -1 with err.
 */
int	audit_line(struct buf *, const char *actor, const char *action,
	    const char *target, const char *details_json, const char *tool,
	    int64_t now_ms, char *err, size_t errlen);
/*
 * Append an event to nm:audit.  actor: audit_actor()'s, or AUDIT_ACTOR_API;
 * action: "key.create", "provider_key.set"...; target: what it acted on;
 * details_json: a JSON object or NULL (never a secret).  0, or -1 + err.
 */
int	audit_append(struct redis *, const char *actor, const char *action,
	    const char *target, const char *details_json, char *err,
	    size_t errlen);
/* Parse and check a line.  0, or -1 with err. */
int	audit_parse(const char *line, size_t len, struct audit_view *,
	    char *err, size_t errlen);

#endif
