/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Server-sent events, following the WHATWG event-stream rules: a parser
 * that takes the bytes of an upstream stream in whatever pieces they
 * arrive, and the emitter for what the gateway sends to its clients.
 */

#include <string.h>

#include "sse.h"

/* The fields the parser knows; anything else (retry: too) is ignored. */
enum sse_field { SSE_DATA, SSE_EVENT, SSE_ID };

static const struct {
	const char	*name;
	enum sse_field	 field;
} sse_fields[] = {
	{ "data",	SSE_DATA },
	{ "event",	SSE_EVENT },
	{ "id",		SSE_ID },
};

/* Ready to parse; one event (line or joined data) may hold max_event bytes (0: no cap). */
void
sse_parser_init(struct sse_parser *p, size_t max_event)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line, max_event);
	buf_init(&p->data, max_event);
	p->max_event = max_event;
}

/* Copy n bytes of v into a fixed field, truncating, stopping at a NUL. */
static void
sse_copy_field(char *dst, size_t size, const char *v, size_t n)
{
	const char	*nul;

	if ((nul = memchr(v, '\0', n)) != NULL)
		n = (size_t)(nul - v);
	n = NM_MIN(n, size - 1);
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* Forget the event being assembled (comments seen so far are kept). */
static void
sse_clear_event(struct sse_parser *p)
{
	buf_reset(&p->data);
	p->event[0] = '\0';
	p->id[0] = '\0';
	p->has_data = 0;
}

/*
 * A blank line ends an event.  Without a data field there is nothing to
 * deliver; its comments count towards the next delivered event.
 */
static int
sse_dispatch(struct sse_parser *p, sse_cb cb, void *arg)
{
	struct sse_event	ev;
	int			r = 0;

	if (!p->has_data) {
		sse_clear_event(p);
		return 0;
	}
	ev.event = p->event;
	ev.data = p->data.data != NULL ? p->data.data : "";
	ev.data_len = p->data.len;
	ev.id = p->id;
	ev.ncomments = p->ncomments;
	if (cb != NULL)
		r = cb(arg, &ev);
	sse_clear_event(p);
	p->ncomments = 0;
	return r < 0 ? -1 : 0;
}

/* One complete line, without its ending.  0, or -1 (toobig or the callback stopped). */
static int
sse_line(struct sse_parser *p, const char *s, size_t n, sse_cb cb, void *arg)
{
	const char	*colon, *v;
	size_t		 flen, vlen, i;

	if (n == 0)
		return sse_dispatch(p, cb, arg);
	if (s[0] == ':') {
		p->ncomments++;
		return 0;
	}
	if ((colon = memchr(s, ':', n)) != NULL) {
		flen = (size_t)(colon - s);
		v = colon + 1;
		vlen = n - flen - 1;
		if (vlen > 0 && v[0] == ' ') {
			v++;
			vlen--;
		}
	} else {
		flen = n;
		v = s + n;
		vlen = 0;
	}
	for (i = 0; i < NM_NELEM(sse_fields); i++) {
		if (strlen(sse_fields[i].name) == flen &&
		    memcmp(sse_fields[i].name, s, flen) == 0)
			break;
	}
	if (i == NM_NELEM(sse_fields))
		return 0;
	switch (sse_fields[i].field) {
	case SSE_DATA:
		if ((p->has_data && buf_appendc(&p->data, '\n') == -1) ||
		    buf_append(&p->data, v, vlen) == -1) {
			p->toobig = 1;
			return -1;
		}
		p->has_data = 1;
		break;
	case SSE_EVENT:
		sse_copy_field(p->event, sizeof(p->event), v, vlen);
		break;
	case SSE_ID:
		/* WHATWG: an id holding a NUL is ignored. */
		if (memchr(v, '\0', vlen) == NULL)
			sse_copy_field(p->id, sizeof(p->id), v, vlen);
		break;
	}
	return 0;
}

/* Feed bytes in any split; calls cb per event.  -1 on toobig (sticky) or when cb stops. */
int
sse_feed(struct sse_parser *p, const char *s, size_t n, sse_cb cb, void *arg)
{
	size_t	i = 0, e;
	int	r;

	if (p->toobig)
		return -1;
	if (n == 0)
		return 0;
	/* A \r ended the previous feed: a \n now is the same line ending. */
	if (p->last_cr && s[0] == '\n')
		i = 1;
	p->last_cr = 0;
	while (i < n) {
		for (e = i; e < n && s[e] != '\n' && s[e] != '\r'; e++)
			;
		if (p->max_event > 0 && e - i > p->max_event - p->line.len) {
			p->toobig = 1;
			return -1;
		}
		if (e == n) {
			if (buf_append(&p->line, s + i, n - i) == -1) {
				p->toobig = 1;
				return -1;
			}
			break;
		}
		if (p->line.len > 0) {
			if (buf_append(&p->line, s + i, e - i) == -1) {
				p->toobig = 1;
				return -1;
			}
			r = sse_line(p, p->line.data, p->line.len, cb, arg);
			buf_reset(&p->line);
		} else
			r = sse_line(p, s + i, e - i, cb, arg);
		if (s[e] == '\r') {
			if (e + 1 < n) {
				if (s[e + 1] == '\n')
					e++;
			} else
				p->last_cr = 1;
		}
		i = e + 1;
		if (r == -1)
			return -1;
	}
	return 0;
}

/* 1 if an unfinished event (or line) is buffered: the stream was cut mid-event. */
int
sse_pending(const struct sse_parser *p)
{
	return p->line.len > 0 || p->has_data || p->event[0] != '\0' ||
	    p->id[0] != '\0';
}

/* Free the buffers.  NULL is fine. */
void
sse_parser_free(struct sse_parser *p)
{
	if (p == NULL)
		return;
	buf_free(&p->line);
	buf_free(&p->data);
}

/* Undo a partial write: the buffer keeps what it had before. */
static int
sse_rollback(struct buf *b, size_t len)
{
	if (b->data != NULL && len <= b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
	return -1;
}

/* Append "<prefix>text\n" with CR and LF in text replaced by spaces. */
static int
sse_write_line(struct buf *b, const char *prefix, const char *s, size_t n)
{
	size_t	i, run;

	if (buf_appends(b, prefix) == -1)
		return -1;
	for (i = 0; i < n; i = run + 1) {
		for (run = i; run < n && s[run] != '\r' && s[run] != '\n'; run++)
			;
		if (buf_append(b, s + i, run - i) == -1)
			return -1;
		if (run < n && buf_appendc(b, ' ') == -1)
			return -1;
	}
	return buf_appendc(b, '\n');
}

/* Append "data: " lines for data, split at \n, \r\n and \r. */
static int
sse_write_lines(struct buf *b, const char *data, size_t len)
{
	size_t	i = 0, e;

	for (;;) {
		for (e = i; e < len && data[e] != '\n' && data[e] != '\r'; e++)
			;
		if (buf_append(b, "data: ", 6) == -1 ||
		    buf_append(b, data + i, e - i) == -1 ||
		    buf_appendc(b, '\n') == -1)
			return -1;
		if (e >= len)
			break;
		if (data[e] == '\r' && e + 1 < len && data[e + 1] == '\n')
			e++;
		i = e + 1;
	}
	return buf_appendc(b, '\n');
}

/* One event of data lines and the blank line; nothing is appended on failure. */
int
sse_write_data(struct buf *b, const char *data, size_t len)
{
	size_t	old = b->len;

	if (sse_write_lines(b, data, len) == -1)
		return sse_rollback(b, old);
	return 0;
}

/* "event: <name>" then the data lines; nothing is appended on failure. */
int
sse_write_event(struct buf *b, const char *event, const char *data, size_t len)
{
	size_t	old = b->len;

	if (sse_write_line(b, "event: ", event, strlen(event)) == -1 ||
	    sse_write_lines(b, data, len) == -1)
		return sse_rollback(b, old);
	return 0;
}

/* ": <text>" and the blank line; newlines in text become spaces. */
int
sse_write_comment(struct buf *b, const char *text)
{
	size_t	old = b->len;

	if (sse_write_line(b, ": ", text, strlen(text)) == -1 ||
	    buf_appendc(b, '\n') == -1)
		return sse_rollback(b, old);
	return 0;
}
