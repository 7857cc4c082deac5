/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * hiredis with timeouts, URLs and reconnection.  A struct redis is used by
 * one thread only (hiredis contexts are not thread-safe); a worker keeps
 * one per thread.  A broken connection is re-established on the next call.
 */
#ifndef REDIS_H
#define REDIS_H

#include <stddef.h>
#include <hiredis/hiredis.h>

struct redis;

/*
 * redis://[[user]:password@]host[:port][/db] (or [/]?db=N instead of /db),
 * unix:///path/to.sock[?db=N].  Does not connect yet.  NULL with a message
 * in err if the URL is bad; the message never holds the URL's text.
 */
struct redis	*redis_new(const char *url, long timeout_ms, char *err, size_t errlen);
/* 0 if redis_new() accepts url, else -1 with the same message. */
int		 redis_url_check(const char *url, char *err, size_t errlen);
void		 redis_free(struct redis *);	/* NULL does nothing */
/* Connect now if not connected: 0 or -1 (redis_errstr). */
int		 redis_connect(struct redis *);
/*
 * Run one command (printf-style as redisCommand, or argv).  Connects or
 * reconnects as needed (one retry after an I/O error).  NULL on failure
 * (redis_errstr); a Redis error reply is returned as a reply of type
 * REDIS_REPLY_ERROR.  Caller frees with freeReplyObject().
 */
redisReply	*redis_command(struct redis *, const char *fmt, ...);
redisReply	*redis_commandv(struct redis *, int argc, const char **argv,
		    const size_t *argvlen);
/* Pipelined: append n commands, then read n replies into out[]; 0 or -1. */
int		 redis_pipeline(struct redis *, int n, const int *argc,
		    const char ***argv, const size_t **argvlen, redisReply **out);
/* n preformatted (RESP) commands back to back in cmds, as one pipeline. */
int		 redis_exec_formatted(struct redis *, const char *cmds, size_t len,
		    int n, redisReply **out);
/* 0 if PING answers PONG within the timeout. */
int		 redis_ping(struct redis *);
const char	*redis_errstr(const struct redis *);	/* never contains the password */
/* 1 if rep is an error reply whose code is code ("NOSCRIPT"), else 0. */
int		 redis_error_is(const redisReply *rep, const char *code);
/*
 * 1 if rep is an error after which the command surely did not run and a
 * later try may succeed (LOADING, BUSY, READONLY, MASTERDOWN, TRYAGAIN,
 * CLUSTERDOWN, NOSCRIPT, OOM), else 0.  *down is set to 1 when it means
 * Redis serves nothing yet (LOADING, MASTERDOWN, CLUSTERDOWN): as good
 * as unreachable.
 */
int		 redis_error_transient(const redisReply *rep, int *down);
/* "host:port/db" or "/path?db=N" for log lines: no user, no password. */
const char	*redis_addr(const struct redis *);

#endif
