/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Allocators that log and exit when memory runs out.  Only for code that
 * may die on failure (startup, the master, nextmodelctl, the ledger); a
 * worker's request path uses malloc() and fails the request instead.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

/* malloc that never returns NULL; size 0 gives a valid 1-byte block.  Caller frees. */
void *
xmalloc(size_t size)
{
	void	*p;

	if (size == 0)
		size = 1;
	if ((p = malloc(size)) == NULL)
		fatal("xmalloc: allocating %zu bytes", size);
	return p;
}

/* Zeroed array of n elements of size bytes; dies on overflow.  Caller frees. */
void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if (n == 0 || size == 0)
		n = size = 1;
	if (SIZE_MAX / n < size)
		fatalx("xcalloc: %zu * %zu bytes overflows", n, size);
	if ((p = calloc(n, size)) == NULL)
		fatal("xcalloc: allocating %zu * %zu bytes", n, size);
	return p;
}

/* realloc that never returns NULL; on size 0 keeps a 1-byte block.  Caller frees. */
void *
xrealloc(void *old, size_t size)
{
	void	*p;

	if (size == 0)
		size = 1;
	if ((p = realloc(old, size)) == NULL)
		fatal("xrealloc: allocating %zu bytes", size);
	return p;
}

/* Copy of a NUL-terminated string.  Caller frees. */
char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* Copy of at most n bytes of s, NUL-terminated.  Caller frees. */
char *
xstrndup(const char *s, size_t n)
{
	char	*p;
	size_t	 len;

	len = strnlen(s, n);
	if (len == SIZE_MAX)
		fatalx("xstrndup: string too long");
	p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Formatted string in *ret; returns its length.  Caller frees *ret. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap, ap2;
	int	 n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_end(ap2);
		fatal("xasprintf: bad format");
	}
	*ret = xmalloc((size_t)n + 1);
	if (vsnprintf(*ret, (size_t)n + 1, fmt, ap2) != n) {
		va_end(ap2);
		fatalx("xasprintf: output changed between passes");
	}
	va_end(ap2);
	return n;
}
