/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A growable byte buffer with a hard ceiling.  Every buffer that holds
 * something from outside (a body, an upstream answer, an SSE event) has
 * one, so no peer can make us allocate without bound.  The data is always
 * NUL-terminated (the NUL is not counted in len).
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>
#include "nextmodel.h"

struct buf {
	char	*data;		/* NULL until the first append */
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* ceiling on len; 0 means SIZE_MAX/2 */
	int	 toobig;	/* set once an append was refused for max */
};

void	buf_init(struct buf *, size_t max);
/* 0, or -1 when the ceiling would be passed (toobig set) or on OOM. */
int	buf_append(struct buf *, const void *, size_t);
int	buf_appends(struct buf *, const char *);
int	buf_appendc(struct buf *, char);
int	buf_appendf(struct buf *, const char *, ...) NM_PRINTF(2, 3);
/* Drop the first n bytes. */
void	buf_consume(struct buf *, size_t n);
void	buf_reset(struct buf *);	/* len = 0, keeps memory */
void	buf_free(struct buf *);		/* frees memory; buf_free on a zeroed buf is fine */
/* Hand the data to the caller (caller frees), leaving the buf empty. */
char	*buf_steal(struct buf *, size_t *len);

#endif
