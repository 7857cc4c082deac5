/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * One client request and its pipeline: parse, authenticate, decide, call
 * the source through the engine, relay.  http.c fills in the input and
 * sends what the request produces; it is the only part that knows
 * libmicrohttpd.  The output fields are shared by the request threads and
 * the engine thread and guarded by mu.
 */
#ifndef REQUEST_H
#define REQUEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "auth.h"
#include "buf.h"
#include "providers/provider.h"
#include "sse.h"
#include "upstream.h"

struct worker;

enum req_phase {
	REQ_READING = 0,	/* body still arriving */
	REQ_WAITING,		/* waiting on the source; connection suspended */
	REQ_RESPOND,		/* status, headers and whole body ready in out */
	REQ_STREAM,		/* status and headers ready; out fills as events arrive */
};

#define REQ_MAX_HEADERS	24

struct req_header {
	char	name[48];
	char	value[256];
};

struct request {
	pthread_mutex_t		 mu;
	atomic_int		 refs;
	struct worker		*w;
	char			 id[32];		/* "req_" + 24 hex */
	int64_t			 t_start_us;
	int64_t			 t_first_us;		/* first byte from the source */
	int64_t			 t_out_us;		/* last bytes handed to the client */

	/* Input: set by http.c before request_dispatch(). */
	char			 method[8];
	char			 path[256];
	char			*authorization;		/* cleansed on free */
	char			 workload[128];
	struct buf		 body;
	int			 body_toobig;
	int			 answer_now;		/* answer before reading the body */
	size_t			 dropped;		/* bytes of a too big body dropped */
	void			(*handler)(struct request *);

	/* Output: guarded by mu. */
	enum req_phase		 phase;
	int			 status;
	struct req_header	 hdr[REQ_MAX_HEADERS];
	int			 nhdr;
	struct buf		 out;
	int			 finished;		/* a stream has no more bytes to come */
	int			 close;			/* ask http.c to close the connection */
	int			 gone;			/* the client went away */
	/* http.c's: resume a suspended connection (mu held). */
	void			*conn;
	int			 suspended;
	void			(*wake)(struct request *);

	/* The call. */
	struct key_record	 key;
	const struct model	*model;
	const struct provider_conf *prov;
	const struct provider_ops *ops;
	struct prov_ctx		 pctx;
	int			 embeddings;		/* an embeddings call, not chat */
	struct upstream_call	*call;
	int			 paused;		/* we paused the source (backpressure) */
	long			 up_status;
	struct upstream_meta	 meta;
	struct buf		 upbody;		/* a whole answer, or an error body */
	struct sse_parser	 sse;
	int			 stream_failed;		/* an error event was sent */
	int			 metric_status;		/* status for /metrics */
	struct request		*wprev, *wnext;		/* the worker's live list */
};

/* Bytes of stream output held for a slow client before the source is paused. */
#define REQ_OUT_HIGH	(256 * 1024)
#define REQ_OUT_LOW	(64 * 1024)
/* A quiet stream gets an SSE comment this often. */
#define REQ_PING_US	(15 * 1000000LL)

struct request	*request_new(struct worker *);
void		 request_ref(struct request *);
/* Drop a reference; the last frees the request. */
void		 request_unref(struct request *);
/* The body is complete: run the handler (sets phase RESPOND or WAITING). */
void		 request_dispatch(struct request *);
/* The client connection is gone or done: stop the source, account. */
void		 request_complete(struct request *, int client_aborted);
/* http.c took bytes from out (mu held): resume a paused source if needed. */
void		 request_output_taken(struct request *);
/* Force the end of a request that is still waiting (shutdown; mu held). */
void		 request_force_end(struct request *);

/* Handlers (routes in http.c). */
void	request_healthz(struct request *);
void	request_readyz(struct request *);
void	request_metrics(struct request *);
void	request_models(struct request *);
void	request_model(struct request *);
void	request_chat(struct request *);
void	request_embeddings(struct request *);
void	request_quotes(struct request *);
void	request_not_found(struct request *);
void	request_method_not_allowed(struct request *);
void	request_too_large(struct request *);
void	request_headers_too_large(struct request *);

/* Response helpers for handlers (mu not held: the request is not shared yet). */
void	request_header(struct request *, const char *name, const char *value);
void	request_respond(struct request *, int status, const char *ctype,
	    const char *body, size_t len);
void	request_error(struct request *, int status, const char *type,
	    const char *code, const char *param, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));

#endif
