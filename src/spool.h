/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The spool: records (receipt lines) that could not reach Redis, kept in
 * a local file until they can.  Each process owns one file, locked with
 * flock(2) while it lives; every append is fsync'd before it counts; the
 * file has a ceiling.  Replay hands the records back oldest first and
 * empties the file once all of them are stored; it also adopts the files
 * of processes that died with records in them.  Delivery is at least
 * once: the consumer (the ledger) drops duplicates by receipt id.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>

#define SPOOL_MAX_RECORD	(64 * 1024)

struct spool;

/*
 * Open (create) DIR/spool-NAME.jsonl, making DIR if needed, and lock it.
 * max_bytes: the file's ceiling.  NULL with err.  Caller frees.
 */
struct spool	*spool_open(const char *dir, const char *name, size_t max_bytes,
		    char *err, size_t errlen);
void		 spool_free(struct spool *);	/* NULL does nothing */
/*
 * Append one record (no newline in it) and fsync.  0, or -1 with err:
 * the ceiling would be passed, or the disk refused.
 */
int		 spool_append(struct spool *, const char *rec, size_t len,
		    char *err, size_t errlen);
/* Bytes waiting in this process's file. */
size_t		 spool_bytes(const struct spool *);
/* 1 if this process's file or a dead process's file has records. */
int		 spool_pending(struct spool *);
/*
 * Hand waiting records to store() in batches of up to batch, oldest first:
 * this process's file, then files left by dead processes.  store returns
 * 0 once the batch is safe elsewhere, -1 to stop (kept for next time).  A
 * file is emptied (or, adopted, removed) when all its records are stored.
 * Returns the records stored, or -1 if store stopped or a file failed.
 */
long		 spool_replay(struct spool *, int (*store)(void *arg,
		    const char **recs, const size_t *lens, int n), void *arg,
		    int batch);

#endif
