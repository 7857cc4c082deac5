/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodel-ledger's loop.  Each batch read from the consumer group goes
 * through three steps, in this order, each safe to repeat: (1) the day
 * file (a receipt id already there is not written again; fdatasync),
 * (2) the usage script (its dedup marker and counters move together),
 * (3) XACK.  A crash between any two steps leaves the entry pending; it
 * comes back (to this ledger on restart, or to another through
 * XAUTOCLAIM) and the steps already done change nothing the second time.
 * Receipts whose signature fails are set aside in rejected-DAY.jsonl and
 * counted once.  Acknowledged entries are trimmed from the stream.  Each
 * turn of the loop also files the audit trail (drain-audit.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "json.h"
#include "log.h"
#include "redis.h"
#include "usage.h"
#include "xmalloc.h"
#include "files.h"
#include "ledger.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
#define TRIM_EVERY_MS	1000
#define STATS_EVERY_MS	60000
#define ENTRY_MAX	(4 * RECEIPT_MAX_LINE)	/* kept whole in rejected files */

/* One stream entry of a batch. */
struct entry {
	const char		*sid;		/* stream id, in the reply */
	const char		*line;		/* the "r" field; NULL if none */
	size_t			 len;
	int			 good;		/* verified and parsed */
	int			 gone;		/* deleted from the stream: ack only */
	char			 reason[200];	/* why it was set aside */
	char			 file[64];	/* the day file it goes to */
	struct receipt_view	 v;
	struct buf		 rej;		/* its rejected-file line */
	char			 marker[160], counter[64];
};

struct ledger {
	const struct ledger_opts	*o;
	volatile sig_atomic_t		*stop;
	struct redis			*r;
	struct ledger_files		*files;
	struct drain_audit		*audit;
	char				 sha_record[48], sha_reject[48];
	int				 ready;		/* group made, scripts loaded */
	int				 backlog;	/* own pending first */
	int				 down;		/* an outage was logged */
	long				 backoff_ms;
	int64_t				 next_claim, next_trim, next_stats;
	struct entry			*ents;		/* o->batch of them */
	struct usage_record		*recs;
	unsigned long			 appended, dups, rejected, acked;
	unsigned long			 last_acked;
};

/* Sleep ms, waking early when asked to stop. */
static void
nap(struct ledger *l, long ms)
{
	struct timespec	 ts;
	long		 step;

	while (ms > 0 && !*l->stop) {
		step = NM_MIN(ms, 50L);
		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* A Redis step failed: say so once per outage, then back off. */
static void
redis_failed(struct ledger *l, const char *what)
{
	if (!l->down)
		log_warnx("%s: %s; retrying until it answers", what,
		    redis_errstr(l->r));
	l->down = 1;
	l->backlog = 1;
	nap(l, l->backoff_ms);
	l->backoff_ms = NM_MIN(l->backoff_ms * 2, (long)BACKOFF_MAX_MS);
}

/* A Redis step worked. */
static void
redis_ok(struct ledger *l)
{
	if (l->down)
		log_info("redis %s answers again", redis_addr(l->r));
	l->down = 0;
	l->backoff_ms = BACKOFF_MIN_MS;
}

/* An error reply: log it (NOGROUP means set up again); always -1. */
static int
reply_error(struct ledger *l, const char *what, const redisReply *rep)
{
	const char	*msg = rep != NULL && rep->type == REDIS_REPLY_ERROR ?
	    rep->str : "unexpected reply";

	if (strncmp(msg, "NOGROUP", 7) == 0 || strncmp(msg, "NOSCRIPT", 8) == 0)
		l->ready = 0;
	log_warnx("%s: %s", what, msg);
	l->backlog = 1;
	nap(l, l->backoff_ms);
	l->backoff_ms = NM_MIN(l->backoff_ms * 2, (long)BACKOFF_MAX_MS);
	return -1;
}

/* SCRIPT LOAD text into sha; 0 or -1. */
static int
load_script(struct ledger *l, const char *text, char *sha, size_t len)
{
	redisReply	*rep;

	if ((rep = redis_command(l->r, "SCRIPT LOAD %s", text)) == NULL) {
		redis_failed(l, "SCRIPT LOAD");
		return -1;
	}
	if (rep->type != REDIS_REPLY_STRING) {
		reply_error(l, "SCRIPT LOAD", rep);
		freeReplyObject(rep);
		return -1;
	}
	snprintf(sha, len, "%s", rep->str);
	freeReplyObject(rep);
	return 0;
}

/*
 * The group (from the stream's first entry, so receipts pushed before any
 * ledger ran are read too) and the scripts.  0 or -1.
 */
static int
setup(struct ledger *l)
{
	redisReply	*rep;

	rep = redis_command(l->r, "XGROUP CREATE %s %s 0 MKSTREAM",
	    LEDGER_STREAM, LEDGER_GROUP);
	if (rep == NULL) {
		redis_failed(l, "XGROUP CREATE");
		return -1;
	}
	if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP",
	    9) != 0) {
		reply_error(l, "XGROUP CREATE", rep);
		freeReplyObject(rep);
		return -1;
	}
	if (rep->type != REDIS_REPLY_ERROR)
		log_info("made the consumer group %s on %s", LEDGER_GROUP,
		    LEDGER_STREAM);
	freeReplyObject(rep);
	if (load_script(l, usage_record_lua, l->sha_record,
	    sizeof(l->sha_record)) != 0 || load_script(l, usage_reject_lua,
	    l->sha_reject, sizeof(l->sha_reject)) != 0)
		return -1;
	l->ready = 1;
	redis_ok(l);
	return 0;
}

/* Set e aside: its line in rejected-TODAY.jsonl says why. */
static void
reject(struct entry *e, const char *fmt, ...) NM_PRINTF(2, 3);

static void
reject(struct entry *e, const char *fmt, ...)
{
	struct timespec	 ts;
	va_list		 ap;
	char		 now[32], hash[RECEIPT_HASH_STRLEN];
	int		 err = 0;

	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	receipt_time((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, now,
	    sizeof(now));
	snprintf(e->file, sizeof(e->file), "rejected-%.10s.jsonl", now);
	buf_init(&e->rej, 0);
	err |= buf_appends(&e->rej, "{\"stream_id\":");
	err |= json_write_cstr(&e->rej, e->sid);
	err |= buf_appendf(&e->rej, ",\"rejected_at\":\"%s\",\"reason\":", now);
	err |= json_write_cstr(&e->rej, e->reason);
	err |= buf_appends(&e->rej, ",\"entry\":");
	if (e->line != NULL && e->len <= ENTRY_MAX)
		err |= json_write_str(&e->rej, e->line, e->len);
	else
		err |= buf_appends(&e->rej, "null");
	if (e->line != NULL) {
		receipt_hash(e->line, e->len, hash);
		err |= buf_appendf(&e->rej, ",\"entry_bytes\":%zu,"
		    "\"entry_hash\":\"%s\"", e->len, hash);
	}
	err |= buf_appendc(&e->rej, '}');
	if (err)
		log_warnx("entry %s: out of memory", e->sid);
	usage_reject_keys(e->sid, e->marker, sizeof(e->marker), e->counter,
	    sizeof(e->counter));
}

/* Classify one stream entry: good receipt, set aside, or gone. */
static void
classify(struct ledger *l, const redisReply *x, struct entry *e)
{
	const redisReply	*f;
	char			 err[256];
	size_t			 i;

	f = x->element[1];
	if (f->type != REDIS_REPLY_ARRAY) {
		e->gone = 1;
		return;
	}
	for (i = 0; i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[i]->str, "r") == 0 &&
		    f->element[i + 1]->type == REDIS_REPLY_STRING) {
			e->line = f->element[i + 1]->str;
			e->len = f->element[i + 1]->len;
		}
	if (e->line == NULL) {
		reject(e, "no \"r\" field holding a receipt");
		return;
	}
	if (receipt_verify(e->line, e->len, l->o->key, err, sizeof(err)) != 0) {
		reject(e, "%s", err);
		return;
	}
	if (receipt_parse(e->line, e->len, &e->v, err, sizeof(err)) != 0) {
		reject(e, "%s", err);
		return;
	}
	if (usage_day_check(e->v.day) != 0) {
		reject(e, "created is not a date");
		return;
	}
	e->good = 1;
	snprintf(e->file, sizeof(e->file), "receipts-%s.jsonl", e->v.day);
}

/* Step 1: every day file the batch touches, durably.  0 or -1. */
static int
write_files(struct ledger *l, size_t n)
{
	struct files_line	*lines;
	size_t			 i, j, k, added;
	char			 err[512];
	int			 rc = 0;

	lines = xcalloc(n, sizeof(*lines));
	for (i = 0; i < n && rc == 0; i++) {
		if (l->ents[i].file[0] == '\0')
			continue;
		/* The first entry of each file collects all of that file. */
		for (j = 0; j < i; j++)
			if (strcmp(l->ents[j].file, l->ents[i].file) == 0)
				break;
		if (j < i)
			continue;
		for (k = 0, j = i; j < n; j++) {
			struct entry *e = &l->ents[j];

			if (strcmp(e->file, l->ents[i].file) != 0)
				continue;
			lines[k].key = e->good ? e->v.id : e->sid;
			lines[k].text = e->good ? e->line : e->rej.data;
			lines[k++].len = e->good ? e->len : e->rej.len;
		}
		if (files_append(l->files, l->ents[i].file, lines, k, &added,
		    err, sizeof(err)) != 0) {
			log_warnx("%s", err);
			rc = -1;
			break;
		}
		if (strncmp(l->ents[i].file, "receipts-", 9) == 0) {
			l->appended += added;
			l->dups += k - added;
		}
	}
	free(lines);
	return rc;
}

/* Step 2: the usage script per receipt, the rejected count per set-aside. */
static int
aggregate(struct ledger *l, size_t n)
{
	redisReply	**out;
	const char	***argv;
	const size_t	**argvlen;
	int		*argc, m = 0, i, attempt, rc = -1, noscript;

	out = xcalloc(n, sizeof(*out));
	argv = xcalloc(n, sizeof(*argv));
	argvlen = xcalloc(n, sizeof(*argvlen));
	argc = xcalloc(n, sizeof(*argc));
	for (i = 0; i < (int)n; i++) {
		struct entry *e = &l->ents[i];

		if (e->good) {
			if (usage_record_args(&e->v, l->o->dedup_ttl_s,
			    &l->recs[i]) != 0) {
				log_warnx("receipt %s: cannot build its usage "
				    "counters", e->v.id);
				goto out;
			}
			l->recs[i].argv[1] = l->sha_record;
			l->recs[i].argvlen[1] = strlen(l->sha_record);
			argv[m] = l->recs[i].argv;
			argvlen[m] = l->recs[i].argvlen;
			argc[m++] = l->recs[i].argc;
		}
	}
	for (attempt = 0; attempt < 2; attempt++) {
		int k = m, j;

		if (redis_pipeline(l->r, m, argc, argv, argvlen, out) != 0) {
			redis_failed(l, "usage script");
			goto out;
		}
		noscript = 0;
		for (j = 0; j < k; j++) {
			if (out[j]->type == REDIS_REPLY_ERROR &&
			    strncmp(out[j]->str, "NOSCRIPT", 8) == 0)
				noscript = 1;
			else if (out[j]->type != REDIS_REPLY_INTEGER) {
				reply_error(l, "usage script", out[j]);
				for (; j < k; j++)
					freeReplyObject(out[j]);
				goto out;
			}
			freeReplyObject(out[j]);
		}
		if (!noscript)
			break;
		/* Redis restarted or SCRIPT FLUSH: load again, run again. */
		if (load_script(l, usage_record_lua, l->sha_record,
		    sizeof(l->sha_record)) != 0 || load_script(l,
		    usage_reject_lua, l->sha_reject,
		    sizeof(l->sha_reject)) != 0)
			goto out;
		for (j = 0; j < (int)n; j++)
			l->recs[j].argvlen[1] = strlen(l->sha_record);
	}
	if (attempt == 2) {
		log_warnx("usage script: NOSCRIPT after loading it");
		goto out;
	}
	for (i = 0; i < (int)n; i++) {
		struct entry	*e = &l->ents[i];
		redisReply	*rep;

		if (e->good || e->gone || e->file[0] == '\0')
			continue;
		rep = redis_command(l->r, "EVALSHA %s 2 %s %s %ld",
		    l->sha_reject, e->marker, e->counter, l->o->dedup_ttl_s);
		if (rep == NULL) {
			redis_failed(l, "rejected count");
			goto out;
		}
		if (rep->type != REDIS_REPLY_INTEGER) {
			reply_error(l, "rejected count", rep);
			freeReplyObject(rep);
			goto out;
		}
		if (rep->integer > 0) {
			l->rejected++;
			log_warnx("set aside stream entry %s: %s", e->sid,
			    e->reason);
		}
		freeReplyObject(rep);
	}
	rc = 0;
out:
	free(out);
	free(argv);
	free(argvlen);
	free(argc);
	return rc;
}

/* Step 3: XACK every entry of the batch.  0 or -1. */
static int
ack(struct ledger *l, size_t n)
{
	const char	**argv;
	redisReply	*rep;
	size_t		 i;
	int		 rc = -1;

	argv = xcalloc(n + 3, sizeof(*argv));
	argv[0] = "XACK";
	argv[1] = LEDGER_STREAM;
	argv[2] = LEDGER_GROUP;
	for (i = 0; i < n; i++)
		argv[3 + i] = l->ents[i].sid;
	if ((rep = redis_commandv(l->r, (int)n + 3, argv, NULL)) == NULL)
		redis_failed(l, "XACK");
	else if (rep->type != REDIS_REPLY_INTEGER)
		reply_error(l, "XACK", rep);
	else {
		l->acked += (unsigned long)rep->integer;
		rc = 0;
	}
	if (rep != NULL)
		freeReplyObject(rep);
	free(argv);
	return rc;
}

/* File, count, acknowledge the entries of arr (a stream reply).  0 or -1. */
static int
process(struct ledger *l, const redisReply *arr)
{
	size_t	 n = 0, i;
	int	 rc = -1;

	for (i = 0; i < arr->elements && n < (size_t)l->o->batch; i++) {
		const redisReply *x = arr->element[i];
		struct entry *e = &l->ents[n];

		if (x->type != REDIS_REPLY_ARRAY || x->elements < 2 ||
		    x->element[0]->type != REDIS_REPLY_STRING)
			continue;
		memset(e, 0, sizeof(*e));
		e->sid = x->element[0]->str;
		classify(l, x, e);
		n++;
	}
	if (n == 0)
		return 0;
	if (write_files(l, n) == 0 && aggregate(l, n) == 0 && ack(l, n) == 0)
		rc = 0;
	for (i = 0; i < n; i++)
		buf_free(&l->ents[i].rej);
	if (rc != 0)
		l->backlog = 1;
	else
		redis_ok(l);
	return rc;
}

/* Take over entries other consumers left pending too long; 0 or -1. */
static int
claim(struct ledger *l)
{
	redisReply	*rep;
	char		 cursor[64] = "0-0", idle[32], count[32];
	int		 rc = 0;

	snprintf(idle, sizeof(idle), "%ld", l->o->claim_idle_ms);
	snprintf(count, sizeof(count), "%ld", l->o->batch);
	do {
		const char *argv[] = { "XAUTOCLAIM", LEDGER_STREAM,
		    LEDGER_GROUP, l->o->consumer, idle, cursor, "COUNT",
		    count };

		rep = redis_commandv(l->r, (int)NM_NELEM(argv), argv, NULL);
		if (rep == NULL) {
			redis_failed(l, "XAUTOCLAIM");
			return -1;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			reply_error(l, "XAUTOCLAIM", rep);
			freeReplyObject(rep);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		if (rep->element[1]->elements > 0)
			log_info("claimed %zu entries left pending by another "
			    "consumer", rep->element[1]->elements);
		rc = process(l, rep->element[1]);
		freeReplyObject(rep);
	} while (rc == 0 && strcmp(cursor, "0-0") != 0 && !*l->stop);
	return rc;
}

/* An integer member of a flat name/value reply, or -1. */
static long long
info_int(const redisReply *m, const char *name)
{
	size_t	 i;

	for (i = 0; i + 1 < m->elements; i += 2)
		if (m->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(m->element[i]->str, name) == 0 &&
		    m->element[i + 1]->type == REDIS_REPLY_INTEGER)
			return m->element[i + 1]->integer;
	return -1;
}

/* A string member of a flat name/value reply, or NULL. */
static const char *
info_str(const redisReply *m, const char *name)
{
	size_t	 i;

	for (i = 0; i + 1 < m->elements; i += 2)
		if (m->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(m->element[i]->str, name) == 0 &&
		    m->element[i + 1]->type == REDIS_REPLY_STRING)
			return m->element[i + 1]->str;
	return NULL;
}

/* Forget consumers with nothing pending that stopped reading (dead ledgers). */
static void
forget_consumers(struct ledger *l)
{
	redisReply	*rep, *d;
	const char	*name;
	size_t		 i;

	rep = redis_command(l->r, "XINFO CONSUMERS %s %s", LEDGER_STREAM,
	    LEDGER_GROUP);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
		goto out;
	for (i = 0; i < rep->elements; i++) {
		const redisReply *c = rep->element[i];

		if (c->type != REDIS_REPLY_ARRAY ||
		    (name = info_str(c, "name")) == NULL ||
		    strcmp(name, l->o->consumer) == 0 ||
		    info_int(c, "pending") != 0 ||
		    info_int(c, "idle") < l->o->claim_idle_ms)
			continue;
		d = redis_command(l->r, "XGROUP DELCONSUMER %s %s %s",
		    LEDGER_STREAM, LEDGER_GROUP, name);
		if (d != NULL)
			freeReplyObject(d);
	}
out:
	if (rep != NULL)
		freeReplyObject(rep);
}

/*
 * Drop acknowledged entries: everything below the group's oldest pending
 * entry, or up to its last delivered one when nothing is pending (the
 * group is the stream's only reader; every ledger shares it).
 */
static void
trim(struct ledger *l)
{
	redisReply	*rep, *p = NULL, *t;
	const char	*last = NULL;
	char		 minid[64] = "";
	unsigned long long ms, seq;
	long long	 pending = -1;
	size_t		 i;

	if ((rep = redis_command(l->r, "XINFO GROUPS %s", LEDGER_STREAM)) ==
	    NULL || rep->type != REDIS_REPLY_ARRAY)
		goto out;
	for (i = 0; i < rep->elements; i++) {
		const char *name = info_str(rep->element[i], "name");

		if (name != NULL && strcmp(name, LEDGER_GROUP) == 0) {
			pending = info_int(rep->element[i], "pending");
			last = info_str(rep->element[i], "last-delivered-id");
		}
	}
	if (pending == 0 && last != NULL &&
	    sscanf(last, "%llu-%llu", &ms, &seq) == 2)
		snprintf(minid, sizeof(minid), "%llu-%llu", ms, seq + 1);
	else if (pending > 0) {
		p = redis_command(l->r, "XPENDING %s %s", LEDGER_STREAM,
		    LEDGER_GROUP);
		if (p != NULL && p->type == REDIS_REPLY_ARRAY &&
		    p->elements >= 2 && p->element[1]->type ==
		    REDIS_REPLY_STRING)
			snprintf(minid, sizeof(minid), "%s", p->element[1]->str);
	}
	if (minid[0] != '\0' && (t = redis_command(l->r, "XTRIM %s MINID %s",
	    LEDGER_STREAM, minid)) != NULL) {
		if (t->type == REDIS_REPLY_INTEGER && t->integer > 0)
			log_debug("trimmed %lld acknowledged entries",
			    t->integer);
		freeReplyObject(t);
	}
out:
	if (p != NULL)
		freeReplyObject(p);
	if (rep != NULL)
		freeReplyObject(rep);
}

/* Read one batch (own pending first, then new entries) and process it. */
static void
read_batch(struct ledger *l)
{
	redisReply	*rep;
	char		 count[32], block[32];
	const char	*argv[12];
	int		 argc = 0;

	snprintf(count, sizeof(count), "%ld", l->o->batch);
	snprintf(block, sizeof(block), "%ld", l->o->block_ms);
	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = LEDGER_GROUP;
	argv[argc++] = l->o->consumer;
	argv[argc++] = "COUNT";
	argv[argc++] = count;
	if (!l->backlog) {
		argv[argc++] = "BLOCK";
		argv[argc++] = block;
	}
	argv[argc++] = "STREAMS";
	argv[argc++] = LEDGER_STREAM;
	argv[argc++] = l->backlog ? "0" : ">";
	if ((rep = redis_commandv(l->r, argc, argv, NULL)) == NULL) {
		redis_failed(l, "XREADGROUP");
		return;
	}
	if (rep->type == REDIS_REPLY_NIL) {		/* BLOCK ran out */
		redis_ok(l);
		freeReplyObject(rep);
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY ||
	    rep->element[0]->elements < 2 ||
	    rep->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
		reply_error(l, "XREADGROUP", rep);
		freeReplyObject(rep);
		return;
	}
	if (l->backlog && rep->element[0]->element[1]->elements == 0)
		l->backlog = 0;			/* nothing of ours is pending */
	else
		(void)process(l, rep->element[0]->element[1]);
	freeReplyObject(rep);
}

/* A line now and then on what was done. */
static void
stats(struct ledger *l, int force)
{
	if (!force && nm_mono_ms() < l->next_stats)
		return;
	l->next_stats = nm_mono_ms() + STATS_EVERY_MS;
	if (l->acked == l->last_acked && !force)
		return;
	l->last_acked = l->acked;
	log_info("%lu receipts appended, %lu duplicates dropped, %lu set "
	    "aside, %lu entries acknowledged", l->appended, l->dups,
	    l->rejected, l->acked);
}

/* The loop. */
int
ledger_run(const struct ledger_opts *o, volatile sig_atomic_t *stop)
{
	struct ledger	 l;
	char		 err[512];
	long		 timeout;
	int64_t		 now;

	memset(&l, 0, sizeof(l));
	l.o = o;
	l.stop = stop;
	l.backlog = 1;
	l.backoff_ms = BACKOFF_MIN_MS;
	if ((l.files = files_new(o->dir, err, sizeof(err))) == NULL) {
		log_warnx("ledger_dir %s", err);
		return -1;
	}
	/* A blocked read must not look like a dead connection. */
	timeout = NM_MAX(o->redis_timeout_ms, o->block_ms + 2000);
	if ((l.r = redis_new(o->redis_url, timeout, err, sizeof(err))) == NULL)
		fatalx("redis: %s", err);
	l.audit = drain_audit_new(o, l.files);
	l.ents = xcalloc((size_t)o->batch, sizeof(*l.ents));
	l.recs = xcalloc((size_t)o->batch, sizeof(*l.recs));
	log_info("reading %s as %s of group %s into %s", LEDGER_STREAM,
	    o->consumer, LEDGER_GROUP, o->dir);
	while (!*stop) {
		if (!l.ready && setup(&l) != 0)
			continue;
		now = nm_mono_ms();
		if (now >= l.next_claim) {
			l.next_claim = now + NM_MAX(o->claim_idle_ms / 2, 1000L);
			if (claim(&l) != 0)
				continue;
			forget_consumers(&l);
		}
		read_batch(&l);
		if (!l.down && !*stop)
			drain_audit_step(l.audit, l.r);
		if (!l.down && nm_mono_ms() >= l.next_trim) {
			l.next_trim = nm_mono_ms() + TRIM_EVERY_MS;
			trim(&l);
		}
		stats(&l, 0);
	}
	stats(&l, 1);
	log_info("stopped");
	drain_audit_free(l.audit);
	files_free(l.files);
	redis_free(l.r);
	free(l.ents);
	free(l.recs);
	return 0;
}
