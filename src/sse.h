/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Server-sent events both ways.  The parser takes bytes as they arrive in
 * any split, accepts \n, \r\n and \r line endings, skips comments, joins
 * multi-line data with \n, strips exactly one space after the colon, and
 * caps the size of one event.  The emitter writes OpenAI framing.
 */
#ifndef SSE_H
#define SSE_H

#include <stddef.h>
#include "buf.h"

struct sse_event {
	const char	*event;		/* "" when no event: line */
	const char	*data;		/* joined data lines, NUL-terminated */
	size_t		 data_len;
	const char	*id;		/* "" when none */
	int		 ncomments;	/* comment lines seen in this event */
};

/* Return 0 to go on, -1 to stop parsing (sse_feed then returns -1). */
typedef int (*sse_cb)(void *arg, const struct sse_event *);

struct sse_parser {
	struct buf	 line;		/* the current, unfinished line */
	struct buf	 data;		/* data lines of the current event */
	char		 event[64];
	char		 id[128];
	int		 has_data;	/* a data: field was seen in this event */
	int		 ncomments;
	int		 last_cr;	/* last byte fed was \r: a following \n belongs to it */
	size_t		 max_event;
	int		 toobig;
};

void	sse_parser_init(struct sse_parser *, size_t max_event);
/* Feed bytes; calls cb once per complete event.  -1 when an event is over
 * max_event (toobig set) or cb asked to stop. */
int	sse_feed(struct sse_parser *, const char *, size_t, sse_cb, void *arg);
/* 1 if bytes of an unfinished event are buffered (a stream cut mid-event). */
int	sse_pending(const struct sse_parser *);
void	sse_parser_free(struct sse_parser *);

/* "data: <line>\n" per line of data, then "\n". */
int	sse_write_data(struct buf *, const char *data, size_t len);
/* "event: <name>\n" then data as above. */
int	sse_write_event(struct buf *, const char *event, const char *data, size_t len);
/* ": <text>\n\n" (text must not contain newlines; they are replaced by spaces). */
int	sse_write_comment(struct buf *, const char *text);

#endif
