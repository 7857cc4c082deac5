/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodel-ledger's second stream: the audit trail.  The consumer group
 * "ledger" on nm:audit (made at the stream's start, so events written
 * before any ledger ran are filed too); each batch is (1) appended to
 * ledger_dir/audit-DAY.jsonl, once per event id, and fdatasynced, then
 * (2) acknowledged.  A crash between the two leaves the entry pending; it
 * comes back and the file already holds it.  An entry that is not an
 * audit line goes to rejected-DAY.jsonl.  Acknowledged entries older than
 * --audit-keep-days are trimmed, so nextmodelctl audit can still read
 * the recent ones from Redis.  Reads never block: the receipts' blocking
 * read paces the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "audit.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "receipt.h"
#include "redis.h"
#include "xmalloc.h"
#include "files.h"
#include "ledger.h"

#define TRIM_EVERY_MS	60000

struct drain_audit {
	const struct ledger_opts	*o;
	struct ledger_files		*files;
	int				 ready;		/* group made */
	int				 backlog;	/* own pending first */
	int64_t				 next_claim, next_trim;
	unsigned long			 filed, rejected;
};

/* One entry of a batch. */
struct aentry {
	const char	*sid;
	const char	*line;
	size_t		 len;
	char		 file[64];
	char		 key[80];
	struct buf	 rej;		/* its rejected line, if set aside */
};

/* A new drain over files (not owned). */
struct drain_audit *
drain_audit_new(const struct ledger_opts *o, struct ledger_files *files)
{
	struct drain_audit	*d = xcalloc(1, sizeof(*d));

	d->o = o;
	d->files = files;
	d->backlog = 1;
	return d;
}

/* Free it.  NULL does nothing. */
void
drain_audit_free(struct drain_audit *d)
{
	if (d != NULL && (d->filed || d->rejected))
		log_info("%lu audit events filed, %lu set aside", d->filed,
		    d->rejected);
	free(d);
}

/* XGROUP CREATE, BUSYGROUP being fine.  0/-1. */
static int
setup(struct drain_audit *d, struct redis *r)
{
	redisReply	*rep;
	int		 rc = -1;

	rep = redis_command(r, "XGROUP CREATE %s %s 0 MKSTREAM", AUDIT_STREAM,
	    LEDGER_GROUP);
	if (rep == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ERROR ||
	    strncmp(rep->str, "BUSYGROUP", 9) == 0) {
		d->ready = 1;
		rc = 0;
	} else
		log_warnx("XGROUP CREATE %s: %s", AUDIT_STREAM, rep->str);
	freeReplyObject(rep);
	return rc;
}

/* Classify e: an audit line for its day file, or set aside. */
static void
classify(const redisReply *x, struct aentry *e)
{
	const redisReply	*f = x->element[1];
	struct audit_view	 v;
	struct timespec		 ts;
	char			 err[200], now[32];
	size_t			 i;
	int			 bad = 0;

	for (i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[i]->str, AUDIT_FIELD) == 0 &&
		    f->element[i + 1]->type == REDIS_REPLY_STRING) {
			e->line = f->element[i + 1]->str;
			e->len = f->element[i + 1]->len;
		}
	if (e->line == NULL)
		snprintf(err, sizeof(err), "no \"%s\" field holding an audit "
		    "event", AUDIT_FIELD);
	else if (audit_parse(e->line, e->len, &v, err, sizeof(err)) == 0) {
		snprintf(e->file, sizeof(e->file), "audit-%s.jsonl", v.day);
		snprintf(e->key, sizeof(e->key), "%s", v.id);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	receipt_time((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, now,
	    sizeof(now));
	snprintf(e->file, sizeof(e->file), "rejected-%.10s.jsonl", now);
	snprintf(e->key, sizeof(e->key), "%s:%s", AUDIT_STREAM, e->sid);
	buf_init(&e->rej, 0);
	bad |= buf_appends(&e->rej, "{\"stream_id\":");
	bad |= json_write_cstr(&e->rej, e->key);
	bad |= buf_appendf(&e->rej, ",\"rejected_at\":\"%s\",\"reason\":", now);
	bad |= json_write_cstr(&e->rej, err);
	bad |= buf_appends(&e->rej, ",\"entry\":");
	bad |= e->line != NULL && e->len <= AUDIT_MAX_LINE ?
	    json_write_str(&e->rej, e->line, e->len) :
	    buf_appends(&e->rej, "null");
	bad |= buf_appendc(&e->rej, '}');
	if (bad)
		log_warnx("audit entry %s: out of memory", e->sid);
	log_warnx("set aside audit stream entry %s: %s", e->sid, err);
}

/* File, then acknowledge, the entries of arr.  0/-1. */
static int
process(struct drain_audit *d, struct redis *r, const redisReply *arr)
{
	struct aentry		*ents;
	struct files_line	*lines;
	const char		**argv;
	redisReply		*rep;
	char			 err[512];
	size_t			 n = 0, i, j, k, added;
	int			 rc = -1;

	if (arr->elements == 0)
		return 0;
	ents = xcalloc(arr->elements, sizeof(*ents));
	lines = xcalloc(arr->elements, sizeof(*lines));
	argv = xcalloc(arr->elements + 3, sizeof(*argv));
	for (i = 0; i < arr->elements; i++) {
		const redisReply *x = arr->element[i];

		if (x->type != REDIS_REPLY_ARRAY || x->elements < 2 ||
		    x->element[0]->type != REDIS_REPLY_STRING)
			continue;
		ents[n].sid = x->element[0]->str;
		classify(x, &ents[n]);
		n++;
	}
	/* Step 1: each file the batch touches, durably. */
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(ents[j].file, ents[i].file) == 0)
				break;
		if (j < i)
			continue;
		for (k = 0, j = i; j < n; j++) {
			if (strcmp(ents[j].file, ents[i].file) != 0)
				continue;
			lines[k].key = ents[j].key;
			lines[k].text = ents[j].rej.data != NULL ?
			    ents[j].rej.data : ents[j].line;
			lines[k++].len = ents[j].rej.data != NULL ?
			    ents[j].rej.len : ents[j].len;
		}
		if (files_append(d->files, ents[i].file, lines, k, &added, err,
		    sizeof(err)) != 0) {
			log_warnx("%s", err);
			goto out;
		}
		if (strncmp(ents[i].file, "audit-", 6) == 0)
			d->filed += added;
		else
			d->rejected += added;
	}
	/* Step 2: XACK. */
	argv[0] = "XACK";
	argv[1] = AUDIT_STREAM;
	argv[2] = LEDGER_GROUP;
	for (i = 0; i < n; i++)
		argv[3 + i] = ents[i].sid;
	if ((rep = redis_commandv(r, (int)n + 3, argv, NULL)) == NULL)
		goto out;
	if (rep->type == REDIS_REPLY_INTEGER)
		rc = 0;
	else
		log_warnx("XACK %s: %s", AUDIT_STREAM, rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
	freeReplyObject(rep);
out:
	for (i = 0; i < n; i++)
		buf_free(&ents[i].rej);
	free(ents);
	free(lines);
	free(argv);
	return rc;
}

/* The stream part of an XREADGROUP reply, or NULL (none, or malformed). */
static const redisReply *
entries_of(const redisReply *rep)
{
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY ||
	    rep->element[0]->elements < 2 ||
	    rep->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	return rep->element[0]->element[1];
}

/* Take over entries a dead ledger left pending.  0/-1. */
static int
claim(struct drain_audit *d, struct redis *r)
{
	redisReply	*rep;
	char		 idle[32], count[32];
	int		 rc = -1;

	snprintf(idle, sizeof(idle), "%ld", d->o->claim_idle_ms);
	snprintf(count, sizeof(count), "%ld", d->o->batch);
	{
		const char *argv[] = { "XAUTOCLAIM", AUDIT_STREAM,
		    LEDGER_GROUP, d->o->consumer, idle, "0-0", "COUNT",
		    count };

		if ((rep = redis_commandv(r, (int)NM_NELEM(argv), argv,
		    NULL)) == NULL)
			return -1;
	}
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
	    rep->element[1]->type == REDIS_REPLY_ARRAY)
		rc = process(d, r, rep->element[1]);
	freeReplyObject(rep);
	return rc;
}

/*
 * Trim what is acknowledged and older than the keep time: below the
 * smaller of the group's oldest pending entry (or its last delivered one)
 * and now - keep.
 */
static void
trim(struct drain_audit *d, struct redis *r)
{
	struct timespec		 ts;
	redisReply		*rep;
	unsigned long long	 keep_ms, bound;
	char			 minid[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	keep_ms = (unsigned long long)ts.tv_sec * 1000 -
	    (unsigned long long)d->o->audit_keep_days * 86400000ULL;
	bound = keep_ms;
	rep = redis_command(r, "XPENDING %s %s", AUDIT_STREAM, LEDGER_GROUP);
	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
	    rep->element[1]->type == REDIS_REPLY_STRING) {
		unsigned long long ms;

		if (sscanf(rep->element[1]->str, "%llu", &ms) == 1 && ms < bound)
			bound = ms;
	}
	if (rep != NULL)
		freeReplyObject(rep);
	/* Never past what the group has read: unread entries stay. */
	rep = redis_command(r, "XINFO GROUPS %s", AUDIT_STREAM);
	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY) {
		size_t i, k;

		for (i = 0; i < rep->elements; i++) {
			const redisReply *g = rep->element[i];
			const char *name = NULL, *last = NULL;

			for (k = 0; g->type == REDIS_REPLY_ARRAY &&
			    k + 1 < g->elements; k += 2)
				if (g->element[k]->type == REDIS_REPLY_STRING &&
				    g->element[k + 1]->type ==
				    REDIS_REPLY_STRING) {
					if (strcmp(g->element[k]->str,
					    "name") == 0)
						name = g->element[k + 1]->str;
					else if (strcmp(g->element[k]->str,
					    "last-delivered-id") == 0)
						last = g->element[k + 1]->str;
				}
			if (name != NULL && strcmp(name, LEDGER_GROUP) == 0 &&
			    last != NULL) {
				unsigned long long ms;

				if (sscanf(last, "%llu", &ms) == 1 &&
				    ms < bound)
					bound = ms;
			}
		}
	}
	if (rep != NULL)
		freeReplyObject(rep);
	snprintf(minid, sizeof(minid), "%llu-0", bound);
	if ((rep = redis_command(r, "XTRIM %s MINID %s", AUDIT_STREAM,
	    minid)) != NULL)
		freeReplyObject(rep);
}

/* One non-blocking step: claim now and then, read a batch, file it, trim. */
void
drain_audit_step(struct drain_audit *d, struct redis *r)
{
	redisReply		*rep;
	const redisReply	*arr;
	char			 count[32];
	int64_t			 now = nm_mono_ms();

	if (!d->ready && setup(d, r) != 0)
		return;
	if (now >= d->next_claim) {
		d->next_claim = now + NM_MAX(d->o->claim_idle_ms / 2, 1000L);
		if (claim(d, r) != 0)
			return;
	}
	snprintf(count, sizeof(count), "%ld", d->o->batch);
	{
		const char *argv[] = { "XREADGROUP", "GROUP", LEDGER_GROUP,
		    d->o->consumer, "COUNT", count, "STREAMS", AUDIT_STREAM,
		    d->backlog ? "0" : ">" };

		if ((rep = redis_commandv(r, (int)NM_NELEM(argv), argv,
		    NULL)) == NULL)
			return;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		if (strncmp(rep->str, "NOGROUP", 7) == 0)
			d->ready = 0;
		else
			log_warnx("XREADGROUP %s: %s", AUDIT_STREAM, rep->str);
	} else if (rep->type != REDIS_REPLY_NIL &&
	    (arr = entries_of(rep)) != NULL) {
		if (d->backlog && arr->elements == 0)
			d->backlog = 0;
		else if (process(d, r, arr) != 0)
			d->backlog = 1;
	}
	freeReplyObject(rep);
	if (now >= d->next_trim) {
		d->next_trim = now + TRIM_EVERY_MS;
		trim(d, r);
	}
}
