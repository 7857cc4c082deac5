/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A worker's Redis thread: the only thread of a worker that talks to Redis
 * on behalf of requests.  Other threads hand it jobs and go on; each turn
 * it sends every job waiting as ONE pipeline and calls each job's done()
 * on this thread with its replies, so 64 waiting requests cost one round
 * trip.  While Redis fails it backs off (no redial per request): jobs fail
 * at once, and receipts go to the spool file, replayed oldest first when
 * Redis answers again.  Nothing here knows HTTP or requests.
 */
#ifndef RTHREAD_H
#define RTHREAD_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#include "buf.h"

struct config;
struct metrics;
struct redis;
struct rthread;

#define RJOB_MAX_CMDS	16

/*
 * One unit of work.  Either commands (rjob_cmd) whose replies land in
 * reply[], or a function run() that may use the thread's connection for
 * several round trips (reports); and optionally a receipt line to store.
 */
struct rjob {
	struct rjob	*next;
	struct buf	 cmds;			/* RESP, back to back */
	int		 ncmds;
	size_t		 off[RJOB_MAX_CMDS + 1];	/* where each command starts */
	redisReply	*reply[RJOB_MAX_CMDS];
	int		 failed;		/* Redis unreachable: no replies */
	char		*receipt;		/* a signed line to store, or NULL */
	size_t		 receipt_len;
	/* On the Redis thread, instead of the commands (may be NULL). */
	void		(*run)(struct rjob *, struct redis *);
	/* On the Redis thread once the job is over; owns the job then. */
	void		(*done)(struct rjob *);
	void		*arg;
	int64_t		 not_before_ms;		/* monotonic; 0: at once */
};

/* A new empty job; NULL on OOM. */
struct rjob	*rjob_new(void (*done)(struct rjob *), void *arg);
/* Free a job and its replies.  NULL does nothing. */
void		 rjob_free(struct rjob *);
/*
 * Queue a finished job again, its same commands to run at or after
 * not_before_ms (monotonic): replies dropped, failed cleared.  For a done
 * callback whose commands did not run; the job is the thread's again.
 */
void		 rjob_again(struct rthread *, struct rjob *, int64_t not_before_ms);
/* Add a command (argv; lens may be NULL for C strings): 0 or -1. */
int		 rjob_cmd(struct rjob *, int argc, const char **argv,
		    const size_t *lens);
/*
 * Add EVALSHA of a registered script (rthread_script) with its keys and
 * arguments; on NOSCRIPT the thread loads every registered script and runs
 * the command again.  0 or -1.
 */
int		 rjob_evalsha(struct rjob *, const char *sha, int nkeys,
		    int nargs, const char **args, const size_t *lens);
/*
 * Register a Lua script (static text) for every worker's Redis thread;
 * sha gets its SHA-1 name.  0 or -1 (too many scripts).
 */
int		 rthread_script(const char *lua, char sha[41]);
/* Attach a copy of a signed receipt line: 0 or -1. */
int		 rjob_receipt(struct rjob *, const char *line, size_t len);

/* Start the thread (its connection is made on first use); NULL with err. */
struct rthread	*rthread_start(const struct config *, struct metrics *,
		    const char *name, char *err, size_t errlen);
/*
 * Queue a job; never waits on Redis.  Once the thread is stopping the job
 * is still run (receipts must not be lost).
 */
void		 rthread_submit(struct rthread *, struct rjob *);
/* Finish every queued job (spooling receipts if Redis is away), stop, free. */
void		 rthread_stop(struct rthread *);
/* 1 if the last pipeline worked (for /readyz); never waits. */
int		 rthread_redis_up(const struct rthread *);
/* Jobs waiting (tests, drain). */
int		 rthread_queued(struct rthread *);

#endif
