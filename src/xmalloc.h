/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Allocators that die on failure.  For startup, the master, nextmodelctl
 * and the ledger only: a worker fails the request instead, so request
 * paths use malloc() and check.
 */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>
#include "nextmodel.h"

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...) NM_PRINTF(2, 3);

#endif
