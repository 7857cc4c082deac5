/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Prometheus counters shared by all worker processes: the master maps one
 * anonymous shared region before forking, workers update it with atomics,
 * and any worker renders the whole gateway's numbers for /metrics.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>
#include "buf.h"

struct metrics;

/* Plain counters, each one series. */
enum metrics_counter {
	MC_RECEIPTS = 0,
	MC_RECEIPTS_STORED,
	MC_RECEIPTS_SPOOLED,
	MC_RECEIPTS_REPLAYED,
	MC_RECEIPTS_LOST,
	MC_REDIS_FAILURES,
	MC_CACHE_HITS,
	MC_CACHE_MISSES,
	MC_CACHE_STORES,
	MC_CACHE_NOT_STORED,
	MC_CACHE_REJECTED,
	MC_ADMIT_UNAVAILABLE,
	MC_ADMIT_FAIL_OPEN,
	MC_SETTLE_LOST,
	MC_COUNT
};

/* Map the shared region (master, before fork).  NULL on failure. */
struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *);	/* NULL does nothing */
void		 metrics_request(struct metrics *, int status, const char *model,
		    const char *provider, int64_t duration_us);
void		 metrics_connections(struct metrics *, int delta);
void		 metrics_upstream_error(struct metrics *, const char *provider);
void		 metrics_worker_start(struct metrics *);
void		 metrics_reload(struct metrics *, int ok);
/*
 * Worker liveness.  A worker claims a slot for its pid and its engine
 * thread beats it; the master reads the age of the last beat and kills a
 * worker that has gone silent.
 */
int		 metrics_beat_claim(struct metrics *, int pid);	/* slot or -1 */
void		 metrics_beat(struct metrics *, int slot);
/* Milliseconds since pid's last beat, or -1 if it has no slot. */
int64_t		 metrics_beat_age(struct metrics *, int pid, int64_t now_ms);
void		 metrics_beat_release(struct metrics *, int pid);
/* Prometheus text exposition format 0.0.4; 0 or -1. */
void		 metrics_count(struct metrics *, enum metrics_counter,
		    unsigned long long n);
int		 metrics_render(struct metrics *, struct buf *);

#endif
