/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl receipt show | verify.  show prints the copy Redis keeps
 * under nm:receipt:ID.  verify checks a receipt by id (and against the
 * hash a client kept), or every line of a ledger file: JSON, signature,
 * fields that must add up, duplicate ids, the file's day, and, where Redis
 * still holds the receipt, each member against that copy.  Exit 0 when
 * everything verified, 1 otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "buf.h"
#include "config.h"
#include "crypto.h"
#include "json.h"
#include "money.h"
#include "receipt.h"
#include "redis.h"
#include "xmalloc.h"
#include "ctl.h"

#define CHUNK		256	/* file lines compared with Redis per MGET */

static int	receipt_show(struct ctl *, int, char **);
static int	receipt_verify_cmd(struct ctl *, int, char **);

static const struct ctl_cmd receipt_cmds[] = {
	{ "show", "ID [--raw]", receipt_show, 0 },
	{ "verify", "(ID | FILE.jsonl) [--hash sha256:HEX]",
	    receipt_verify_cmd, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_receipt = { "receipt", receipt_cmds };

static const struct json_limits lim = { 8, 256 };

/* One line of a file being verified. */
struct vline {
	char		 id[RECEIPT_ID_LEN + 3];
	size_t		 lineno;
	char		*problems;	/* NULL: fine so far */
};

/* The signing key from the server secret; -1 after a message. */
static int
signing_key(struct ctl *ctl, unsigned char key[RECEIPT_KEY_LEN])
{
	const struct config	*conf;

	if ((conf = ctl_config(ctl)) == NULL)
		return -1;
	if (conf->secret == NULL || conf->secret[0] == '\0') {
		ctl_warnx("the server secret (environment variable %s) is not "
		    "set: signatures cannot be checked", conf->secret_env);
		return -1;
	}
	receipt_key(conf->secret, strlen(conf->secret), key);
	return 0;
}

/* GET nm:receipt:<id>: 1 found (*line, caller frees), 0 absent, -1 failed. */
static int
fetch(struct redis *r, const char *id, char **line, size_t *len)
{
	redisReply	*rep;
	int		 rc = 0;

	*line = NULL;
	if ((rep = redis_command(r, "GET nm:receipt:%s", id)) == NULL) {
		ctl_warnx("%s", redis_errstr(r));
		return -1;
	}
	if (rep->type == REDIS_REPLY_STRING) {
		*line = xstrndup(rep->str, rep->len);
		*len = rep->len;
		rc = 1;
	} else if (rep->type != REDIS_REPLY_NIL) {
		ctl_warnx("GET nm:receipt:%s: %s", id, rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		rc = -1;
	}
	freeReplyObject(rep);
	return rc;
}

/* 1 if s looks like a receipt id. */
static int
is_id(const char *s)
{
	size_t	 i;

	if (strncmp(s, "rcpt_", 5) != 0 || strlen(s) > RECEIPT_ID_LEN + 2)
		return 0;
	for (i = 5; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return i > 5;
}

/* Indented JSON of the value at t into b. */
static int
pretty(const struct json *j, int t, int indent, struct buf *b)
{
	const char	*p;
	size_t		 len;
	int		 k, m, n, e = 0;

	if (json_type(j, t) != JSON_OBJECT) {
		p = json_raw(j, t, &len);
		return buf_append(b, p, len);
	}
	n = json_size(j, t);
	e |= buf_appends(b, n ? "{\n" : "{");
	for (k = t + 1, m = 0; m < n; m++) {
		p = json_raw(j, k, &len);
		e |= buf_appendf(b, "%*s%.*s: ", indent + 2, "", (int)len, p);
		e |= pretty(j, k + 1, indent + 2, b);
		e |= buf_appends(b, m + 1 < n ? ",\n" : "\n");
		k = json_skip(j, k + 1);
	}
	if (n)
		e |= buf_appendf(b, "%*s", indent, "");
	return e | buf_appendc(b, '}');
}

/* nextmodelctl receipt show ID [--raw]. */
static int
receipt_show(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "raw",	no_argument,	NULL, 'r' },
		{ NULL,		0,		NULL, 0 },
	};
	struct redis	*r;
	struct json	 j;
	struct buf	 b;
	char		*line, err[256];
	size_t		 len;
	int		 ch, raw = 0, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'r')
			return ctl_usage(ctl);
		raw = 1;
	}
	if (optind + 1 != argc || !is_id(argv[optind])) {
		if (optind < argc)
			ctl_warnx("not a receipt id: %s", argv[optind]);
		return ctl_usage(ctl);
	}
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if ((rc = fetch(r, argv[optind], &line, &len)) <= 0) {
		if (rc == 0)
			ctl_warnx("no receipt %s in Redis (it expired, or never "
			    "existed)", argv[optind]);
		return CTL_FAIL;
	}
	if (raw || json_parse(&j, line, len, &lim, err, sizeof(err)) != 0)
		printf("%s\n", line);
	else {
		buf_init(&b, 0);
		if (pretty(&j, 0, 0, &b) == 0)
			printf("%s\n", b.data);
		buf_free(&b);
		json_free(&j);
	}
	free(line);
	return ctl_flush();
}

/* Add "what" to the problems of a line ("; " between them). */
static void
problem(struct buf *p, const char *fmt, ...) NM_PRINTF(2, 3);

static void
problem(struct buf *p, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)buf_appendf(p, "%s%s", p->len ? "; " : "", msg);
}

/*
 * Check one line on its own: JSON, signature, fields, the file's day
 * (day NULL: any).  Problems go to p; v gets the fields (v->id "" if the
 * line could not be read).
 */
static void
check_line(const unsigned char *key, const char *line, size_t len,
    const char *day, struct receipt_view *v, struct buf *p)
{
	struct json	 j;
	char		 err[256], a[MONEY_STRLEN], b[MONEY_STRLEN];

	memset(v, 0, sizeof(*v));
	if (json_parse(&j, line, len, &lim, err, sizeof(err)) != 0) {
		problem(p, "not JSON: %s", err);
		return;
	}
	json_free(&j);
	if (receipt_verify(line, len, key, err, sizeof(err)) != 0)
		problem(p, "%s", err);
	if (receipt_parse(line, len, v, err, sizeof(err)) != 0) {
		problem(p, "%s", err);
		return;
	}
	if (v->total_tokens != v->prompt_tokens + v->completion_tokens)
		problem(p, "usage.total_tokens %lld is not prompt_tokens + "
		    "completion_tokens (%lld)", (long long)v->total_tokens,
		    (long long)(v->prompt_tokens + v->completion_tokens));
	if (strcmp(v->serve_mode, "fresh") != 0 &&
	    v->cost + v->saved != v->fresh_cost)
		problem(p, "cost_usd + saved_usd (%s) is not fresh_cost_usd "
		    "(%s) on a cache hit", money_format(v->cost + v->saved, a,
		    sizeof(a)), money_format(v->fresh_cost, b, sizeof(b)));
	if (day != NULL && strcmp(v->day, day) != 0)
		problem(p, "created %s is not on this file's day %s",
		    v->created, day);
}

/* Member names (prefix.name) whose values differ between objects a and b. */
static void
diff_object(const struct json *ja, int a, const struct json *jb, int b,
    const char *prefix, struct buf *names)
{
	const char	*pa, *pb;
	char		 name[128], full[256];
	size_t		 la, lb;
	int		 k, m, n, vb, side;

	for (side = 0; side < 2; side++) {
		const struct json *x = side ? jb : ja, *y = side ? ja : jb;
		int xo = side ? b : a, yo = side ? a : b;

		n = json_size(x, xo);
		for (k = xo + 1, m = 0; m < n; m++, k = json_skip(x, k + 1)) {
			if (json_strcpy(x, k, name, sizeof(name)) != 0)
				continue;
			snprintf(full, sizeof(full), "%s%s", prefix, name);
			vb = json_get(y, yo, name);
			if (side == 1) {	/* only what a lacks */
				if (vb < 0)
					(void)buf_appendf(names, "%s%s (missing)",
					    names->len ? ", " : "", full);
				continue;
			}
			if (vb < 0) {
				(void)buf_appendf(names, "%s%s (not in Redis)",
				    names->len ? ", " : "", full);
				continue;
			}
			if (json_type(x, k + 1) == JSON_OBJECT &&
			    json_type(y, vb) == JSON_OBJECT) {
				snprintf(full, sizeof(full), "%s%s.", prefix,
				    name);
				diff_object(x, k + 1, y, vb, full, names);
				continue;
			}
			pa = json_raw(x, k + 1, &la);
			pb = json_raw(y, vb, &lb);
			if (la != lb || memcmp(pa, pb, la) != 0)
				(void)buf_appendf(names, "%s%s", names->len ?
				    ", " : "", full);
		}
	}
}

/* Compare a line with the copy in Redis, member by member, into p. */
static void
compare_copy(const char *line, size_t len, const char *copy, size_t clen,
    struct buf *p)
{
	struct json	 ja, jb;
	struct buf	 names;
	char		 err[256];

	if (len == clen && memcmp(line, copy, len) == 0)
		return;
	if (json_parse(&ja, line, len, &lim, err, sizeof(err)) != 0)
		return;
	if (json_parse(&jb, copy, clen, &lim, err, sizeof(err)) != 0) {
		json_free(&ja);
		problem(p, "the copy in Redis is not JSON");
		return;
	}
	buf_init(&names, 4096);
	if (json_type(&ja, 0) == JSON_OBJECT && json_type(&jb, 0) ==
	    JSON_OBJECT)
		diff_object(&ja, 0, &jb, 0, "", &names);
	problem(p, "differs from the copy in Redis in: %s", names.len ?
	    names.data : "the bytes between members");
	buf_free(&names);
	json_free(&ja);
	json_free(&jb);
}

/* Verify the receipt stored under id, and its hash if want_hash. */
static int
verify_id(struct ctl *ctl, const unsigned char *key, const char *id,
    const char *want_hash)
{
	struct receipt_view	 v;
	struct redis		*r;
	struct buf		 p;
	char			*line, hash[RECEIPT_HASH_STRLEN];
	size_t			 len;
	int			 rc;

	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if ((rc = fetch(r, id, &line, &len)) <= 0) {
		if (rc == 0)
			ctl_warnx("no receipt %s in Redis (it expired, or never "
			    "existed): verify the ledger file instead", id);
		return CTL_FAIL;
	}
	buf_init(&p, 0);
	check_line(key, line, len, NULL, &v, &p);
	if (v.id[0] != '\0' && strcmp(v.id, id) != 0)
		problem(&p, "its id is %s", v.id);
	if (want_hash != NULL) {
		receipt_hash(line, len, hash);
		if (strcasecmp(hash + (strncmp(want_hash, "sha256:", 7) == 0 ?
		    0 : 7), want_hash) != 0)
			problem(&p, "hash %s is not the one given (%s)", hash,
			    want_hash);
	}
	if (p.len > 0)
		printf("%s: %s\n", id, p.data);
	else
		printf("%s: signature good, fields add up%s\n", id, want_hash ?
		    ", hash matches" : "");
	rc = p.len > 0 ? CTL_FAIL : ctl_flush();
	buf_free(&p);
	free(line);
	return rc;
}

/* Compare the chunk's lines with Redis (one MGET); -1: Redis is gone. */
static int
compare_chunk(struct redis *r, struct vline *vl, char **text, size_t *tlen,
    struct buf *probs, size_t n)
{
	const char	**argv;
	char		**keys;
	redisReply	*rep;
	size_t		 i, m = 0;

	argv = xcalloc(n + 1, sizeof(*argv));
	keys = xcalloc(n, sizeof(*keys));
	argv[0] = "MGET";
	for (i = 0; i < n; i++)
		if (vl[i].id[0] != '\0') {
			xasprintf(&keys[m], "nm:receipt:%s", vl[i].id);
			argv[m + 1] = keys[m];
			m++;
		}
	rep = m > 0 ? redis_commandv(r, (int)m + 1, argv, NULL) : NULL;
	if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == m) {
		for (i = 0, m = 0; i < n; i++) {
			const redisReply *c;

			if (vl[i].id[0] == '\0')
				continue;
			c = rep->element[m++];
			if (c->type == REDIS_REPLY_STRING)
				compare_copy(text[i], tlen[i], c->str, c->len,
				    &probs[i]);
		}
	}
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(argv);
	if (m > 0 && rep == NULL)
		return -1;
	if (rep != NULL)
		freeReplyObject(rep);
	return 0;
}

/* qsort: by id, then line. */
static int
vline_cmp(const void *a, const void *b)
{
	const struct vline *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->lineno > y->lineno) - (x->lineno < y->lineno);
}

/* qsort: by line. */
static int
vline_line_cmp(const void *a, const void *b)
{
	const struct vline *x = a, *y = b;

	return (x->lineno > y->lineno) - (x->lineno < y->lineno);
}

/* The day in a file name receipts-YYYY-MM-DD.jsonl, or NULL. */
static const char *
file_day(const char *path, char *day)
{
	const char	*base = strrchr(path, '/');
	size_t		 len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len != 9 + 10 + 6 || strncmp(base, "receipts-", 9) != 0 ||
	    strcmp(base + len - 6, ".jsonl") != 0)
		return NULL;
	memcpy(day, base + 9, 10);
	day[10] = '\0';
	return day;
}

/* Append the problems of chunk lines to their vline records. */
static void
keep_problems(struct vline *vl, struct buf *probs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (probs[i].len > 0)
			vl[i].problems = buf_steal(&probs[i], NULL);
		buf_free(&probs[i]);
	}
}

/* Verify every line of a ledger file. */
static int
verify_file(struct ctl *ctl, const unsigned char *key, const char *path)
{
	struct receipt_view	 v;
	struct redis		*r = NULL;
	struct vline		*vl = NULL;
	struct buf		 probs[CHUNK];
	char			*text[CHUNK], *line = NULL, daybuf[11];
	const char		*day = file_day(path, daybuf);
	size_t			 tlen[CHUNK], n = 0, cap = 0, c = 0, i, lcap = 0;
	size_t			 nbad = 0, first;
	ssize_t			 len;
	FILE			*f;

	if ((f = fopen(path, "r")) == NULL) {
		ctl_warnx("%s: %s", path, strerror(errno));
		return CTL_FAIL;
	}
	if ((r = ctl_redis(ctl)) == NULL)
		ctl_warnx("lines are not compared with the copies in Redis");
	for (;;) {
		len = getline(&line, &lcap, f);
		if (len > 0) {
			while (len > 0 && (line[len - 1] == '\n' ||
			    line[len - 1] == '\r'))
				line[--len] = '\0';
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				vl = xrealloc(vl, cap * sizeof(*vl));
			}
			memset(&vl[n], 0, sizeof(vl[n]));
			vl[n].lineno = n + 1;
			buf_init(&probs[c], 0);
			check_line(key, line, (size_t)len, day, &v, &probs[c]);
			snprintf(vl[n].id, sizeof(vl[n].id), "%s", v.id);
			text[c] = xstrndup(line, (size_t)len);
			tlen[c++] = (size_t)len;
			n++;
		}
		if (c == CHUNK || (len <= 0 && c > 0)) {
			if (r != NULL && compare_chunk(r, vl + n - c, text, tlen,
			    probs, c) != 0) {
				ctl_warnx("%s: lines are no longer compared "
				    "with Redis", redis_errstr(r));
				r = NULL;
			}
			keep_problems(vl + n - c, probs, c);
			for (i = 0; i < c; i++)
				free(text[i]);
			c = 0;
		}
		if (len <= 0)
			break;
	}
	fclose(f);
	free(line);
	/* Duplicate ids: every line after the first of an id. */
	if (n > 1)
		qsort(vl, n, sizeof(*vl), vline_cmp);
	for (i = 1, first = 0; i < n; i++) {
		struct buf p;

		if (vl[i].id[0] == '\0' || strcmp(vl[i].id, vl[first].id) != 0) {
			first = i;
			continue;
		}
		buf_init(&p, 0);
		if (vl[i].problems != NULL)
			(void)buf_appends(&p, vl[i].problems);
		problem(&p, "duplicate id %s (first on line %zu)", vl[i].id,
		    vl[first].lineno);
		free(vl[i].problems);
		vl[i].problems = buf_steal(&p, NULL);
	}
	if (n > 1)
		qsort(vl, n, sizeof(*vl), vline_line_cmp);
	for (i = 0; i < n; i++) {
		if (vl[i].problems == NULL)
			continue;
		printf("%s:%zu: %s\n", path, vl[i].lineno, vl[i].problems);
		free(vl[i].problems);
		nbad++;
	}
	if (nbad == 0)
		printf("%s: %zu receipts, all verified\n", path, n);
	else
		printf("%s: %zu of %zu lines did not verify\n", path, nbad, n);
	free(vl);
	if (ctl_flush() != CTL_OK)
		return CTL_FAIL;
	return nbad == 0 ? CTL_OK : CTL_FAIL;
}

/* nextmodelctl receipt verify (ID | FILE.jsonl) [--hash sha256:HEX]. */
static int
receipt_verify_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hash",	required_argument,	NULL, 'H' },
		{ NULL,		0,			NULL, 0 },
	};
	unsigned char	 key[RECEIPT_KEY_LEN];
	const char	*hash = NULL, *what;
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'H')
			return ctl_usage(ctl);
		hash = optarg;
	}
	if (optind + 1 != argc)
		return ctl_usage(ctl);
	what = argv[optind];
	if (signing_key(ctl, key) != 0)
		return CTL_FAIL;
	/* A file that happens to be called like an id is still a file. */
	if (is_id(what) && access(what, F_OK) != 0)
		rc = verify_id(ctl, key, what, hash);
	else {
		if (hash != NULL) {
			ctl_warnx("--hash goes with a receipt id, not a file");
			crypto_cleanse(key, sizeof(key));
			return ctl_usage(ctl);
		}
		rc = verify_file(ctl, key, what);
	}
	crypto_cleanse(key, sizeof(key));
	return rc;
}
