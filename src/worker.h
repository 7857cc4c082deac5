/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A worker process: libmicrohttpd on the inherited listen socket, the
 * upstream engine, the Redis thread, the per-worker key cache; drains and
 * exits on SIGTERM.
 */
#ifndef WORKER_H
#define WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "auth.h"
#include "config.h"
#include "metrics.h"
#include "byok.h"
#include "receipt.h"
#include "strmap.h"
#include "rthread.h"
#include "upstream.h"

struct request;
struct health_table;

struct worker {
	const struct config	*cfg;
	int			 slot;
	unsigned		 gen;
	int			 listen_fd;
	struct upstream		*up;
	struct auth_cache	*auth;
	struct rthread		*rt;		/* the worker's Redis thread */
	unsigned char		 receipt_key[RECEIPT_KEY_LEN];
	struct byok_key		 byok;		/* opens projects' own provider keys */
	struct byok_cache	*byok_cache;
	/*
	 * What the last admission said, for when Redis is away (req-admit.c):
	 * key id -> ADMIT_SEEN_*, project -> 1 + per-mille used.  Two
	 * generations each, the older dropped when the newer fills.
	 */
	pthread_mutex_t		 budgeted_mu;
	struct strmap		 budgeted[2];
	struct strmap		 budget_used[2];
	struct health_table	*health;	/* req-health.c's */
	struct metrics		*metrics;
	void			*httpd;		/* http.c's */
	atomic_int		 draining;
	atomic_int		 nrequests;	/* live requests */
	atomic_int		 fresh_conns;	/* connections yet to send a request */
	int			 beat_slot;	/* liveness slot in the shared metrics */
	pthread_mutex_t		 reqs_mu;
	struct request		*reqs;		/* live requests (for forced shutdown) */
};

/*
 * Run a worker until SIGTERM and its drain end.  ready_fd gets one byte
 * once it serves (then is closed).  Returns the process exit code.
 */
int		 worker_main(const struct config *, int listen_fd, int slot,
		    unsigned gen, struct metrics *, int ready_fd);
void		 worker_track(struct worker *, struct request *);
void		 worker_untrack(struct worker *, struct request *);

#endif
