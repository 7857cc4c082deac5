/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Filling in a client error (errinfo.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errinfo.h"

/* Fill err; code and param may be NULL. */
void
errinfo_set(struct errinfo *err, int status, const char *type,
    const char *code, const char *param, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->status = status;
	snprintf(err->type, sizeof(err->type), "%s", type);
	if (code != NULL)
		snprintf(err->code, sizeof(err->code), "%s", code);
	if (param != NULL)
		snprintf(err->param, sizeof(err->param), "%s", param);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* printf into an error buffer. */
void
errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
