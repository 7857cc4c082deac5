/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Logging to stderr, one write(2) per line so lines from several worker
 * processes never interleave.  Each line carries the process role and,
 * when set for the calling thread, the request id.
 */
#ifndef LOG_H
#define LOG_H

#include "nextmodel.h"

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* ident: "master", "worker[3]", "ctl" ...; copied. */
void	log_init(const char *ident, enum log_level level);
void	log_set_ident(const char *ident);
void	log_set_level(enum log_level level);
/* The exit status of fatal() and fatalx() from now on (default 1). */
void	log_set_fatal_status(int status);
/* Parse "error|warn|info|debug"; -1 if unknown. */
int	log_level_parse(const char *s);
/* Request id shown on this thread's lines; NULL clears.  Copied. */
void	log_set_request(const char *request_id);

void	log_warn(const char *, ...) NM_PRINTF(1, 2);	/* appends strerror(errno) */
void	log_warnx(const char *, ...) NM_PRINTF(1, 2);
void	log_info(const char *, ...) NM_PRINTF(1, 2);
void	log_debug(const char *, ...) NM_PRINTF(1, 2);
/* fatal()/fatalx() are declared in nextmodel.h. */

#endif
