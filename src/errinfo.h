/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * An error for the client, in OpenAI's shape, as data: the stages, the
 * request facts and the providers fill one in, and the request sends it
 * from one place.
 */
#ifndef ERRINFO_H
#define ERRINFO_H

#include <stddef.h>

struct errinfo {
	int	 status;
	char	 type[48];
	char	 code[48];		/* "" -> null */
	char	 param[64];		/* "" -> null */
	char	 message[512];
	char	 retry_after[32];	/* "" -> no Retry-After */
};

/* Fill err (code and param may be NULL); fmt is printf-style. */
void	errinfo_set(struct errinfo *, int status, const char *type,
	    const char *code, const char *param, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));

/* printf into an error buffer; err NULL or errlen 0 does nothing. */
void	errbuf_set(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
