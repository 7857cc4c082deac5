/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The audit trail's entries: built by whoever acts (nextmodelctl now, the
 * admin HTTP API later), appended to nm:audit, parsed back by the ledger
 * and by nextmodelctl audit.  An entry has a random id of its own, so the
 * ledger can file it exactly once whatever its stream id.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "crypto.h"
#include "json.h"
#include "receipt.h"
#include "audit.h"

#define AUDIT_DETAILS_MAX	4096

/* The OS user running this program. */
void
audit_actor(char *out, size_t outlen)
{
	struct passwd	 pw, *res = NULL;
	char		 buf[2048];
	uid_t		 uid = geteuid();

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL &&
	    pw.pw_name != NULL && pw.pw_name[0] != '\0')
		snprintf(out, outlen, "%s", pw.pw_name);
	else
		snprintf(out, outlen, "uid %lu", (unsigned long)uid);
}

/* The line of one event. */
int
audit_line(struct buf *b, const char *actor, const char *action,
    const char *target, const char *details_json, const char *tool,
    int64_t now_ms, char *err, size_t errlen)
{
	static const struct json_limits lim = { 8, 512 };
	struct json	 j;
	unsigned char	 rnd[12];
	char		 id[AUDIT_ID_LEN + 1], hex[25], when[32], host[128];
	int		 e = 0;

	memset(&j, 0, sizeof(j));
	if (actor == NULL || action == NULL || actor[0] == '\0' ||
	    action[0] == '\0') {
		snprintf(err, errlen, "an audit event needs an actor and an "
		    "action");
		return -1;
	}
	if (details_json != NULL) {
		if (strlen(details_json) > AUDIT_DETAILS_MAX) {
			snprintf(err, errlen, "audit details too long");
			return -1;
		}
		if (json_parse(&j, details_json, strlen(details_json), &lim,
		    err, errlen) != 0)
			return -1;
		if (json_type(&j, 0) != JSON_OBJECT) {
			json_free(&j);
			snprintf(err, errlen, "audit details: not an object");
			return -1;
		}
		json_free(&j);
	}
	if (crypto_random(rnd, sizeof(rnd)) != 0) {
		snprintf(err, errlen, "no random bytes");
		return -1;
	}
	crypto_hex(rnd, sizeof(rnd), hex);
	snprintf(id, sizeof(id), "aud_%s", hex);
	receipt_time(now_ms, when, sizeof(when));
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	e |= buf_appendf(b, "{\"id\":\"%s\",\"time\":\"%s\",\"actor\":", id,
	    when);
	e |= json_write_cstr(b, actor);
	e |= buf_appends(b, ",\"action\":");
	e |= json_write_cstr(b, action);
	e |= buf_appends(b, ",\"target\":");
	e |= target != NULL ? json_write_cstr(b, target) :
	    buf_appends(b, "null");
	e |= buf_appendf(b, ",\"details\":%s,\"host\":", details_json != NULL ?
	    details_json : "{}");
	e |= json_write_cstr(b, host);
	e |= buf_appendf(b, ",\"pid\":%ld,\"tool\":", (long)getpid());
	e |= json_write_cstr(b, tool != NULL ? tool : "nextmodelctl");
	e |= buf_appendc(b, '}');
	if (e != 0 || b->len > AUDIT_MAX_LINE) {
		snprintf(err, errlen, "audit event too long");
		return -1;
	}
	return 0;
}

/* Append one event to the stream. */
int
audit_append(struct redis *r, const char *actor, const char *action,
    const char *target, const char *details_json, char *err, size_t errlen)
{
	struct timespec	 ts;
	struct buf	 b;
	redisReply	*rep;
	int		 rc = -1;

	err[0] = '\0';
	buf_init(&b, AUDIT_MAX_LINE * 2);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (audit_line(&b, actor, action, target, details_json,
	    strcmp(actor, AUDIT_ACTOR_API) == 0 ? "nextmodeld" :
	    "nextmodelctl", (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
	    err, errlen) != 0)
		goto out;
	{
		const char	*argv[] = { "XADD", AUDIT_STREAM, "*",
		    AUDIT_FIELD, b.data };
		size_t		 lens[] = { 4, strlen(AUDIT_STREAM), 1,
		    strlen(AUDIT_FIELD), b.len };

		rep = redis_commandv(r, 5, argv, lens);
	}
	if (rep == NULL) {
		snprintf(err, errlen, "%s", redis_errstr(r));
		goto out;
	}
	if (rep->type == REDIS_REPLY_STRING)
		rc = 0;
	else
		snprintf(err, errlen, "redis: %s", rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "unexpected XADD reply");
	freeReplyObject(rep);
out:
	buf_free(&b);
	return rc;
}

/* A string member into out; 0/-1 (missing, not a string, too long). */
static int
member(const struct json *j, const char *name, char *out, size_t outlen)
{
	int	 i = json_get(j, 0, name);

	if (i < 0 || json_type(j, i) != JSON_STRING)
		return -1;
	return json_strcpy(j, i, out, outlen);
}

/* Parse and check a line. */
int
audit_parse(const char *line, size_t len, struct audit_view *v, char *err,
    size_t errlen)
{
	static const struct json_limits lim = { 16, 4096 };
	struct json	 j;
	size_t		 n;
	const char	*p;
	int		 i, rc = -1;

	memset(v, 0, sizeof(*v));
	if (len > AUDIT_MAX_LINE) {
		snprintf(err, errlen, "longer than %d bytes", AUDIT_MAX_LINE);
		return -1;
	}
	if (json_parse(&j, line, len, &lim, err,
	    errlen) != 0)
		return -1;
	if (json_type(&j, 0) != JSON_OBJECT || j.ntok < 3 ||
	    !json_streq(&j, 1, "id")) {
		snprintf(err, errlen, "not an object whose first member is id");
		goto out;
	}
	if (member(&j, "id", v->id, sizeof(v->id)) != 0 ||
	    strncmp(v->id, "aud_", 4) != 0 || strlen(v->id) != AUDIT_ID_LEN) {
		snprintf(err, errlen, "bad id");
		goto out;
	}
	if (member(&j, "time", v->time, sizeof(v->time)) != 0 ||
	    strlen(v->time) < 20 || v->time[4] != '-' || v->time[7] != '-' ||
	    v->time[10] != 'T') {
		snprintf(err, errlen, "bad time");
		goto out;
	}
	for (p = v->time, n = 0; n < 10; n++)
		if (n != 4 && n != 7 && (p[n] < '0' || p[n] > '9')) {
			snprintf(err, errlen, "bad time");
			goto out;
		}
	memcpy(v->day, v->time, 10);
	v->day[10] = '\0';
	if (member(&j, "actor", v->actor, sizeof(v->actor)) != 0 ||
	    member(&j, "action", v->action, sizeof(v->action)) != 0) {
		snprintf(err, errlen, "bad actor or action");
		goto out;
	}
	if ((i = json_get(&j, 0, "target")) >= 0 &&
	    json_type(&j, i) == JSON_STRING)
		(void)json_strcpy(&j, i, v->target, sizeof(v->target));
	(void)member(&j, "host", v->host, sizeof(v->host));
	(void)member(&j, "tool", v->tool, sizeof(v->tool));
	if ((i = json_get(&j, 0, "pid")) >= 0)
		(void)json_int64(&j, i, &v->pid);
	rc = 0;
out:
	json_free(&j);
	return rc;
}
