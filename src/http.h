/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The HTTP server of a worker: the only part that includes microhttpd.h.
 */
#ifndef HTTP_H
#define HTTP_H

struct worker;

/* Start libmicrohttpd on w->listen_fd.  0 or -1. */
int	http_start(struct worker *);
/* Stop accepting new connections (others go on). */
void	http_quiesce(struct worker *);
/* Stop the daemon; every request must have ended or been forced. */
void	http_stop(struct worker *);

#endif
