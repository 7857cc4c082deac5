/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodel-ledger's loop: the consumer group on nm:receipts, the day
 * files, the usage aggregates, acknowledgement and trimming.
 */
#ifndef LEDGER_H
#define LEDGER_H

#include <signal.h>

#include "receipt.h"

#define LEDGER_STREAM	"nm:receipts"
#define LEDGER_GROUP	"ledger"

struct ledger_opts {
	const char	*redis_url;
	long		 redis_timeout_ms;
	const char	*dir;			/* ledger_dir */
	unsigned char	 key[RECEIPT_KEY_LEN];	/* from the server secret */
	char		 consumer[128];		/* hostname-pid */
	long		 batch;			/* entries per read */
	long		 block_ms;		/* XREADGROUP BLOCK */
	long		 claim_idle_ms;		/* pending this long: a dead consumer's */
	long		 dedup_ttl_s;		/* life of a receipt's dedup marker */
	long		 audit_keep_days;	/* filed audit events stay in Redis */
};

/*
 * Run until *stop is set (the batch in hand is finished first).  Redis
 * outages are waited out.  0 on a clean stop, -1 if the ledger folder is
 * unusable at start.
 */
int	ledger_run(const struct ledger_opts *, volatile sig_atomic_t *stop);

/* The audit trail's drain (drain-audit.c), on the ledger's connection. */
struct ledger_files;
struct redis;
struct drain_audit;
/* A drain writing into files (not owned).  Caller frees. */
struct drain_audit *drain_audit_new(const struct ledger_opts *,
	    struct ledger_files *files);
void	drain_audit_free(struct drain_audit *);	/* NULL does nothing */
/* Without blocking: file and acknowledge what nm:audit holds for us. */
void	drain_audit_step(struct drain_audit *, struct redis *);

#endif
