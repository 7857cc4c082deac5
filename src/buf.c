/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A growable byte buffer with a ceiling.  Memory grows geometrically but
 * never past the ceiling plus the terminating NUL, so a peer that sends
 * too much gets a refusal (toobig) rather than an allocation.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_MIN_CAP	64

/* The effective ceiling on len. */
static size_t
buf_limit(const struct buf *b)
{
	return b->max == 0 ? SIZE_MAX / 2 : NM_MIN(b->max, SIZE_MAX / 2);
}

/* Empty buffer holding at most max bytes (0: no practical limit); allocates nothing. */
void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

/* Make room for n more bytes plus the NUL.  0, or -1 (toobig or OOM). */
static int
buf_grow(struct buf *b, size_t n)
{
	size_t	 limit = buf_limit(b), need, cap;
	char	*p;

	if (n > limit - b->len) {
		b->toobig = 1;
		return -1;
	}
	need = b->len + n + 1;
	if (b->data != NULL && need <= b->cap)
		return 0;
	cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
	while (cap < need)
		cap *= 2;
	/* Never hold more than the ceiling allows. */
	if (cap > limit + 1)
		cap = limit + 1;
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	if (b->data == NULL)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

/* Append n bytes.  0, or -1 when the ceiling would be passed (toobig) or on OOM. */
int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Append a NUL-terminated string. */
int
buf_appends(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* Append one byte. */
int
buf_appendc(struct buf *b, char c)
{
	if (buf_grow(b, 1) == -1)
		return -1;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}

/* Append printf-style output; nothing is appended on failure. */
int
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 room;
	int	 n;

	if (buf_grow(b, 0) == -1)
		return -1;
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto fail;
	if ((size_t)n >= room) {
		if (buf_grow(b, (size_t)n) == -1)
			goto fail;
		room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, room, fmt, ap);
		va_end(ap);
		if (n < 0 || (size_t)n >= room)
			goto fail;
	}
	b->len += (size_t)n;
	return 0;
fail:
	b->data[b->len] = '\0';
	return -1;
}

/* Drop the first n bytes (all of them if n >= len). */
void
buf_consume(struct buf *b, size_t n)
{
	if (b->data == NULL)
		return;
	if (n >= b->len)
		b->len = 0;
	else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	b->data[b->len] = '\0';
}

/* Empty the buffer but keep its memory; a reset buffer is fresh, so toobig clears. */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->toobig = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Free the memory; the buffer stays usable with the same ceiling.  NULL is fine. */
void
buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->toobig = 0;
}

/* The data, NUL-terminated (never NULL unless OOM), for the caller to free. */
char *
buf_steal(struct buf *b, size_t *len)
{
	char	*p;

	if (b->data == NULL) {
		if ((p = malloc(1)) == NULL)
			return NULL;
		p[0] = '\0';
		if (len != NULL)
			*len = 0;
		return p;
	}
	p = b->data;
	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
