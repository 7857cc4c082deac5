/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * One hiredis connection with a URL, timeouts, AUTH and SELECT, and one
 * reconnection when the server is found to have closed the connection.
 * The password lives only in the struct (cleansed on free) and in the
 * AUTH command: no error string ever carries it.
 */
#include <sys/time.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "crypto.h"
#include "nextmodel.h"
#include "redis.h"

#define REDIS_DEFAULT_PORT	6379
#define REDIS_MAX_DB		1000000

static void	set_error(struct redis *, const char *, ...) NM_PRINTF(2, 3);

struct redis {
	char		*host;		/* TCP; NULL for a unix socket */
	int		 port;
	char		*path;		/* unix socket; NULL for TCP */
	int		 db;
	char		*user;		/* NULL: none (AUTH password) */
	char		*password;	/* NULL: no AUTH */
	long		 timeout_ms;	/* <= 0: none */
	char		 addr[256];	/* "host:port/db" for messages, no secrets */
	redisContext	*c;
	char		 errstr[528];
};

/* Value of one hex digit, or -1. */
static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decoded copy of s[0..len); NULL if bad or out of memory.  Caller frees. */
static char *
pct_decode(const char *s, size_t len)
{
	char	*out;
	size_t	 i, o = 0;
	int	 hi, lo;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			goto bad;
		hi = hexval((unsigned char)s[i + 1]);
		lo = hexval((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			goto bad;
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
bad:
	crypto_cleanse(out, len + 1);
	free(out);
	return NULL;
}

/* Parse a decimal in [min, max] from s[0..len): 0 or -1. */
static int
parse_num(const char *s, size_t len, long min, long max, long *out)
{
	char	 buf[32], *end;
	long	 v;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return -1;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Split "[user]:password@" off the front of an authority; 0 or -1 (err set). */
static int
parse_userinfo(struct redis *r, const char *auth, size_t authlen,
    size_t *skip, char *err, size_t errlen)
{
	const char	*at = NULL, *colon;
	size_t		 i;

	*skip = 0;
	for (i = 0; i < authlen; i++)
		if (auth[i] == '@')
			at = auth + i;
	if (at == NULL)
		return 0;
	*skip = (size_t)(at - auth) + 1;
	/* Without a colon the whole userinfo is the password (as redis-cli -u). */
	if ((colon = memchr(auth, ':', (size_t)(at - auth))) == NULL)
		r->password = pct_decode(auth, (size_t)(at - auth));
	else {
		if (colon > auth && (r->user = pct_decode(auth,
		    (size_t)(colon - auth))) == NULL)
			goto bad;
		r->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
	}
	if (r->password == NULL)
		goto bad;
	if (r->password[0] == '\0') {
		free(r->password);
		r->password = NULL;
	}
	return 0;
bad:
	snprintf(err, errlen, "redis URL: bad user or password encoding");
	return -1;
}

/* The database from a "?db=N" query; 0 or -1 (err set). */
static int
parse_query(struct redis *r, const char *q, char *err, size_t errlen)
{
	long	 v;

	if (strncmp(q, "?db=", 4) != 0 || parse_num(q + 4, strlen(q + 4), 0,
	    REDIS_MAX_DB, &v) == -1) {
		snprintf(err, errlen, "redis URL: bad query (only ?db=N)");
		return -1;
	}
	r->db = (int)v;
	return 0;
}

/*
 * The database from what follows a TCP host: "", "/", "/N", "?db=N" or
 * "/?db=N" (the form redis-cli and the docs use).  Both "/N" and "?db=M"
 * at once is refused rather than guessed at.  0 or -1 (err set).
 */
static int
parse_db(struct redis *r, const char *s, char *err, size_t errlen)
{
	const char	*q;
	long		 v;

	if (*s == '/')
		s++;
	q = s + strcspn(s, "?");
	if (q > s) {
		if (parse_num(s, (size_t)(q - s), 0, REDIS_MAX_DB, &v) == -1) {
			snprintf(err, errlen, "redis URL: bad database number");
			return -1;
		}
		r->db = (int)v;
		if (*q != '\0') {
			snprintf(err, errlen, "redis URL: database given twice "
			    "(/N and ?db=N)");
			return -1;
		}
		return 0;
	}
	if (*q == '\0')
		return 0;
	return parse_query(r, q, err, errlen);
}

/* Fill host, port and db from "host[:port][/db]" or "host[:port][/]?db=N"; 0 or -1 (err set). */
static int
parse_tcp(struct redis *r, const char *s, char *err, size_t errlen)
{
	const char	*end, *hend, *p;
	size_t		 authlen, skip;
	long		 v;

	authlen = strcspn(s, "/?#");
	end = s + authlen;
	if (parse_userinfo(r, s, authlen, &skip, err, errlen) == -1)
		return -1;
	s += skip;
	if (*s == '[') {
		hend = memchr(s, ']', (size_t)(end - s));
		if (hend == NULL) {
			snprintf(err, errlen, "redis URL: unterminated [IPv6] host");
			return -1;
		}
		r->host = strndup(s + 1, (size_t)(hend - s - 1));
		p = hend + 1;
	} else {
		hend = memchr(s, ':', (size_t)(end - s));
		if (hend == NULL)
			hend = end;
		r->host = strndup(s, (size_t)(hend - s));
		p = hend;
	}
	if (r->host == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (r->host[0] == '\0') {
		snprintf(err, errlen, "redis URL: no host");
		return -1;
	}
	r->port = REDIS_DEFAULT_PORT;
	if (p < end) {
		if (*p != ':' || parse_num(p + 1, (size_t)(end - p - 1), 1,
		    65535, &v) == -1) {
			snprintf(err, errlen, "redis URL: bad port");
			return -1;
		}
		r->port = (int)v;
	}
	if (parse_db(r, end, err, errlen) == -1)
		return -1;
	snprintf(r->addr, sizeof(r->addr), "%s%s%s:%d/%d",
	    strchr(r->host, ':') ? "[" : "", r->host,
	    strchr(r->host, ':') ? "]" : "", r->port, r->db);
	return 0;
}

/* Fill path and db from "[userinfo@]/path[?db=N]"; 0 or -1 (err set). */
static int
parse_unix(struct redis *r, const char *s, char *err, size_t errlen)
{
	const char	*q;
	size_t		 authlen, skip;

	authlen = strcspn(s, "/");
	if (parse_userinfo(r, s, authlen, &skip, err, errlen) == -1)
		return -1;
	if (skip != authlen) {
		snprintf(err, errlen, "redis URL: unix:// takes no host");
		return -1;
	}
	s += skip;
	if (*s != '/' || s[1] == '\0' || s[1] == '?') {
		snprintf(err, errlen, "redis URL: unix:// needs an absolute path");
		return -1;
	}
	q = strchr(s, '?');
	r->path = q ? strndup(s, (size_t)(q - s)) : strdup(s);
	if (r->path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (q != NULL && parse_query(r, q, err, errlen) == -1)
		return -1;
	snprintf(r->addr, sizeof(r->addr), "%s?db=%d", r->path, r->db);
	return 0;
}

/* A new handle for url; NULL with err.  Caller frees with redis_free(). */
struct redis *
redis_new(const char *url, long timeout_ms, char *err, size_t errlen)
{
	struct redis	*r;
	int		 rc;

	if (url == NULL) {
		snprintf(err, errlen, "redis URL: none given");
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->timeout_ms = timeout_ms;
	if (strncmp(url, "redis://", 8) == 0)
		rc = parse_tcp(r, url + 8, err, errlen);
	else if (strncmp(url, "unix://", 7) == 0)
		rc = parse_unix(r, url + 7, err, errlen);
	else if (strncmp(url, "rediss://", 9) == 0) {
		snprintf(err, errlen, "redis URL: TLS (rediss://) is not supported");
		rc = -1;
	} else {
		snprintf(err, errlen,
		    "redis URL: must start with redis:// or unix://");
		rc = -1;
	}
	if (rc == -1) {
		redis_free(r);
		return NULL;
	}
	return r;
}

/*
 * 0 if redis_new() would accept url, else -1 with its message: the config
 * check uses this, so that what it passes the workers can use.
 */
int
redis_url_check(const char *url, char *err, size_t errlen)
{
	struct redis	*r;

	if ((r = redis_new(url, 0, err, errlen)) == NULL)
		return -1;
	redis_free(r);
	return 0;
}

/* Close and free; cleanses the password.  NULL does nothing. */
void
redis_free(struct redis *r)
{
	if (r == NULL)
		return;
	if (r->c != NULL)
		redisFree(r->c);
	if (r->password != NULL) {
		crypto_cleanse(r->password, strlen(r->password));
		free(r->password);
	}
	if (r->user != NULL) {
		crypto_cleanse(r->user, strlen(r->user));
		free(r->user);
	}
	free(r->host);
	free(r->path);
	free(r);
}

/*
 * Set errstr to "redis ADDR: what".  Messages come from hiredis or from
 * the server; a password in one (it should never be) is masked anyway.
 */
static void
set_error(struct redis *r, const char *fmt, ...)
{
	char	 msg[256], *p;
	size_t	 plen;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->password != NULL && (plen = strlen(r->password)) > 0) {
		while ((p = strstr(msg, r->password)) != NULL)
			memset(p, '*', plen);
	}
	snprintf(r->errstr, sizeof(r->errstr), "redis %s: %s", r->addr, msg);
}

/* Drop the connection so that the next call opens a new one. */
static void
drop(struct redis *r)
{
	if (r->c != NULL) {
		redisFree(r->c);
		r->c = NULL;
	}
}

/* Run a setup command (AUTH, SELECT) on a fresh connection: 0 or -1. */
static int
setup_command(struct redis *r, const char *what, int argc, const char **argv)
{
	redisReply	*rep;
	int		 rc = -1;

	rep = redisCommandArgv(r->c, argc, argv, NULL);
	if (rep == NULL)
		set_error(r, "%s: %s", what, r->c->errstr);
	else if (rep->type == REDIS_REPLY_ERROR)
		set_error(r, "%s: %s", what, rep->str);
	else
		rc = 0;
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}

/* Connect if not connected: 0, or -1 with errstr. */
int
redis_connect(struct redis *r)
{
	struct timeval	 tv;
	const char	*argv[3];
	char		 dbtext[16];

	if (r->c != NULL && r->c->err == 0)
		return 0;
	drop(r);
	tv.tv_sec = r->timeout_ms > 0 ? r->timeout_ms / 1000 : 0;
	tv.tv_usec = r->timeout_ms > 0 ? (r->timeout_ms % 1000) * 1000 : 0;
	if (r->timeout_ms > 0 && r->path != NULL)
		r->c = redisConnectUnixWithTimeout(r->path, tv);
	else if (r->timeout_ms > 0)
		r->c = redisConnectWithTimeout(r->host, r->port, tv);
	else if (r->path != NULL)
		r->c = redisConnectUnix(r->path);
	else
		r->c = redisConnect(r->host, r->port);
	if (r->c == NULL) {
		set_error(r, "cannot allocate a connection");
		return -1;
	}
	if (r->c->err != 0) {
		set_error(r, "connect: %s", r->c->errstr);
		goto fail;
	}
	if (r->timeout_ms > 0 && redisSetTimeout(r->c, tv) != REDIS_OK) {
		set_error(r, "cannot set the timeout: %s", r->c->errstr);
		goto fail;
	}
	if (r->path == NULL)
		(void)redisEnableKeepAlive(r->c);
	if (r->password != NULL) {
		argv[0] = "AUTH";
		if (r->user != NULL) {
			argv[1] = r->user;
			argv[2] = r->password;
		} else
			argv[1] = r->password;
		if (setup_command(r, "AUTH", r->user ? 3 : 2, argv) == -1)
			goto fail;
	}
	if (r->db != 0) {
		snprintf(dbtext, sizeof(dbtext), "%d", r->db);
		argv[0] = "SELECT";
		argv[1] = dbtext;
		if (setup_command(r, "SELECT", 2, argv) == -1)
			goto fail;
	}
	return 0;
fail:
	drop(r);
	return -1;
}

/*
 * Worth one more try on a new connection?  Only when the server had
 * closed or reset the connection (a stale idle socket): a timeout may
 * mean the command is running, and must not run twice.
 */
static int
retryable(const redisContext *c, int saved_errno)
{
	if (c->err == REDIS_ERR_EOF)
		return 1;
	if (c->err == REDIS_ERR_IO)
		return saved_errno == ECONNRESET || saved_errno == EPIPE ||
		    saved_errno == ENOTCONN || saved_errno == ECONNABORTED;
	return 0;
}

/*
 * Send n commands and read n replies.  Commands come either as one
 * preformatted buffer (fcmd) or as argv vectors.  On failure nothing is
 * left in out[] and errstr says why.
 */
static int
exchange(struct redis *r, const char *fcmd, size_t fcmdlen, int n,
    const int *argc, const char ***argv, const size_t **argvlen,
    redisReply **out)
{
	void	*rep;
	int	 attempt, i, j, got, saved_errno;

	for (attempt = 0; attempt < 2; attempt++) {
		if (redis_connect(r) == -1)
			return -1;
		if (fcmd != NULL) {
			if (redisAppendFormattedCommand(r->c, fcmd,
			    fcmdlen) != REDIS_OK)
				goto oom;
		} else {
			for (i = 0; i < n; i++)
				if (redisAppendCommandArgv(r->c, argc[i],
				    argv[i], argvlen ? argvlen[i] : NULL) !=
				    REDIS_OK)
					goto oom;
		}
		for (got = 0; got < n; got++) {
			rep = NULL;
			if (redisGetReply(r->c, &rep) != REDIS_OK)
				break;
			out[got] = rep;
		}
		if (got == n)
			return 0;
		saved_errno = errno;
		for (j = 0; j < got; j++) {
			freeReplyObject(out[j]);
			out[j] = NULL;
		}
		if (r->c->err == REDIS_ERR_IO && (saved_errno == EAGAIN ||
		    saved_errno == EWOULDBLOCK))
			set_error(r, "no answer within %ld ms", r->timeout_ms);
		else
			set_error(r, "%s", r->c->errstr[0] ? r->c->errstr :
			    "connection lost");
		if (got > 0 || !retryable(r->c, saved_errno)) {
			drop(r);
			return -1;
		}
		drop(r);
	}
	return -1;
oom:
	set_error(r, "out of memory");
	drop(r);
	return -1;
}

/* One printf-style command; NULL on failure.  Caller frees the reply. */
redisReply *
redis_command(struct redis *r, const char *fmt, ...)
{
	redisReply	*rep = NULL;
	char		*cmd = NULL;
	long long	 len;
	va_list		 ap;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0 || cmd == NULL) {
		set_error(r, "cannot format the command");
		return NULL;
	}
	if (exchange(r, cmd, (size_t)len, 1, NULL, NULL, NULL, &rep) == -1)
		rep = NULL;
	redisFreeCommand(cmd);
	return rep;
}

/* One command from an argument vector; NULL on failure.  Caller frees the reply. */
redisReply *
redis_commandv(struct redis *r, int argc, const char **argv,
    const size_t *argvlen)
{
	redisReply	*rep = NULL;

	if (argc < 1) {
		set_error(r, "empty command");
		return NULL;
	}
	if (exchange(r, NULL, 0, 1, &argc, &argv, &argvlen, &rep) == -1)
		return NULL;
	return rep;
}

/* n pipelined commands, their replies in out[]; 0 or -1.  Caller frees each reply. */
int
redis_pipeline(struct redis *r, int n, const int *argc, const char ***argv,
    const size_t **argvlen, redisReply **out)
{
	int	 i;

	if (n <= 0)
		return 0;
	for (i = 0; i < n; i++) {
		out[i] = NULL;
		if (argc[i] < 1) {
			set_error(r, "empty command in pipeline");
			return -1;
		}
	}
	return exchange(r, NULL, 0, n, argc, argv, argvlen, out);
}

/*
 * n commands already in RESP form, one after another in cmds (as
 * redisFormatCommandArgv makes them): one write, n replies into out[];
 * 0 or -1.  Caller frees each reply.
 */
int
redis_exec_formatted(struct redis *r, const char *cmds, size_t len, int n,
    redisReply **out)
{
	int	 i;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	if (n <= 0)
		return 0;
	return exchange(r, cmds, len, n, NULL, NULL, NULL, out);
}

/* 0 if the server answers PING with PONG. */
int
redis_ping(struct redis *r)
{
	redisReply	*rep;
	int		 rc = -1;

	if ((rep = redis_command(r, "PING")) == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0)
		rc = 0;
	else if (rep->type == REDIS_REPLY_ERROR)
		set_error(r, "PING: %s", rep->str);
	else
		set_error(r, "PING: unexpected reply");
	freeReplyObject(rep);
	return rc;
}

/* The last error, "redis ADDR: what"; never contains the password. */
const char *
redis_errstr(const struct redis *r)
{
	return r->errstr[0] ? r->errstr : "redis: no error";
}

/* "host:port/db" or "/path?db=N": for log lines, no credentials. */
const char *
redis_addr(const struct redis *r)
{
	return r->addr;
}

/* See redis.h. */
int
redis_error_is(const redisReply *rep, const char *code)
{
	size_t	n = strlen(code);

	return rep != NULL && rep->type == REDIS_REPLY_ERROR &&
	    rep->str != NULL && rep->len >= n &&
	    strncmp(rep->str, code, n) == 0 &&
	    (rep->str[n] == ' ' || rep->str[n] == '\0');
}

/* Error codes after which a command did not run, and whether they mean "down". */
static const struct {
	const char	*code;
	int		 down;
} redis_transient[] = {
	{ "LOADING", 1 }, { "MASTERDOWN", 1 }, { "CLUSTERDOWN", 1 },
	{ "BUSY", 0 }, { "READONLY", 0 }, { "TRYAGAIN", 0 },
	{ "NOSCRIPT", 0 }, { "OOM", 0 },
};

/* See redis.h. */
int
redis_error_transient(const redisReply *rep, int *down)
{
	size_t	i;

	*down = 0;
	for (i = 0; i < NM_NELEM(redis_transient); i++)
		if (redis_error_is(rep, redis_transient[i].code)) {
			*down = redis_transient[i].down;
			return 1;
		}
	return 0;
}
