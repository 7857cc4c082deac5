/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The master process of nextmodeld.
 */
#ifndef MASTER_H
#define MASTER_H

struct config;

/* Bind, fork the workers, supervise until SIGTERM.  Takes cfg.  Exit code. */
int	master_run(const char *path, struct config *cfg);

#endif
