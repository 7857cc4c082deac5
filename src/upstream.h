/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The upstream engine: one thread per worker running a curl multi handle.
 * Request threads hand it calls and go back to serving; the engine calls
 * back, on its own thread, as headers and bytes arrive, so no thread ever
 * waits on a model source.  Wire formats are not known here.
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stddef.h>

enum upstream_result {
	UPSTREAM_OK = 0,	/* the source sent a whole answer (any status) */
	UPSTREAM_TIMEOUT,	/* connect, total or idle timeout */
	UPSTREAM_FAILED,	/* connection or protocol failure */
	UPSTREAM_CANCELLED,	/* upstream_cancel() */
	UPSTREAM_ABORTED,	/* a callback asked to stop */
};

struct upstream_meta {
	long	 status;
	char	 content_type[128];
	char	 retry_after[32];
	char	 request_id[128];	/* x-request-id / request-id of the source */
};

struct upstream_cb {
	/* Headers are complete; body bytes follow. */
	void	(*on_headers)(void *arg, const struct upstream_meta *);
	/*
	 * Bytes of the body: 0 taken, go on; 1 NOT taken, pause (the same
	 * bytes come again after upstream_resume); -1 abort.
	 */
	int	(*on_data)(void *arg, const char *, size_t);
	/* Exactly once per submitted call, last. errmsg is safe to show. */
	void	(*on_done)(void *arg, enum upstream_result, const char *errmsg);
	/* About once a second while the call runs (may be NULL). */
	void	(*on_tick)(void *arg);
};

struct upstream_req {
	char		*url;		/* owned by the call once submitted */
	char		*body;		/* owned by the call once submitted */
	size_t		 body_len;
	char		**headers;	/* NULL-terminated "Name: value"; owned, cleansed on free */
	long		 connect_timeout_ms;
	long		 timeout_ms;	/* whole call; 0 none */
	long		 idle_timeout_ms;	/* no byte for this long; 0 none */
};

struct upstream;
struct upstream_call;

/*
 * Start the engine thread.  tick (may be NULL) is called on it at least
 * every 250 ms: a sign of life.  NULL on failure.
 */
struct upstream	*upstream_start(void (*tick)(void *), void *arg);
/* Cancel everything, join the thread, free.  NULL does nothing. */
void		 upstream_stop(struct upstream *);
/*
 * Hand a call to the engine; its url, body and headers are taken over
 * (freed by the engine, also on failure).  Returns a handle holding one
 * reference for the caller (release with upstream_call_release), or NULL
 * when the engine is stopping (no callback will run).
 */
struct upstream_call *upstream_submit(struct upstream *, struct upstream_req *,
		    const struct upstream_cb *, void *arg);
/* Ask the engine to stop the call; on_done(CANCELLED) follows unless done. */
void		 upstream_cancel(struct upstream *, struct upstream_call *);
/* Undo a pause asked for by on_data. */
void		 upstream_resume(struct upstream *, struct upstream_call *);
void		 upstream_call_release(struct upstream_call *);
/* Calls in flight (for /metrics and draining). */
int		 upstream_active(const struct upstream *);
void		 upstream_req_free(struct upstream_req *);

#endif
