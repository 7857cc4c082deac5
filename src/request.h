/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * One client request and its pipeline.  A route names a pipeline: a list
 * of stages run in order, each returning go on, answered or wait (nginx's
 * NGX_AGAIN idea).  A stage that waits has handed work to the upstream
 * engine or to the Redis thread and the connection is suspended; when the
 * work is done the connection is resumed and the next stage runs.  The
 * answer of a stage that stops the pipeline is sent from one place
 * (request_run).  http.c fills in the input and sends what the request
 * produces; it is the only part that knows libmicrohttpd.  Fields shared
 * with the engine and Redis threads are guarded by mu.
 *
 * Where code runs: request.c (pipeline runner, life cycle), req-auth.c,
 * req-chat.c, req-info.c (stages) on libmicrohttpd's threads; relay.c on
 * the engine thread; outcome.c wherever the answer becomes final (mu
 * held); Redis callbacks (req-auth.c, req-info.c) on the Redis thread.
 */
#ifndef REQUEST_H
#define REQUEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "auth.h"
#include "billing.h"
#include "buf.h"
#include "errinfo.h"
#include "facts.h"
#include "govern.h"
#include "policy.h"
#include "json.h"
#include "providers/provider.h"
#include "receipt.h"
#include "sse.h"
#include "upstream.h"

struct worker;
struct request;
struct rjob;
struct assembler;

enum req_phase {
	REQ_READING = 0,	/* body arriving, or stages running */
	REQ_RUN,		/* a wait is over: run the next stage */
	REQ_WAITING,		/* waiting on a source or Redis; connection suspended */
	REQ_RESPOND,		/* status, headers and whole body ready in out */
	REQ_STREAM,		/* status and headers ready; out fills as events arrive */
};

/* What a stage says. */
enum stage {
	STAGE_NEXT = 0,		/* go on with the next stage */
	STAGE_ANSWERED,		/* the answer is set (req->err or out) */
	STAGE_WAIT,		/* another thread has the request; phase WAITING */
};

typedef enum stage (*stage_fn)(struct request *);

/* A route's stages.  billable: chat/embeddings, which get receipts. */
struct pipeline {
	const char	*name;
	const stage_fn	*stages;
	int		 nstages;
	int		 billable;
};

#define REQ_MAX_HEADERS	24

struct req_header {
	char	name[48];
	char	value[256];
};

/* What happened, computed once; the receipt and the headers read it. */
struct outcome {
	int		 closed;		/* final: receipt made */
	int		 status;
	char		 error_code[48];
	const char	*serve_mode;
	struct usage	 usage;			/* billed */
	const char	*usage_source;		/* upstream | estimated | cache | none */
	const char	*billing_basis;		/* list_price | none */
	int		 priced;		/* cost is known */
	nm_nano		 cost, fresh_cost, saved;
	int		 attempts;
	int64_t		 t_end_us;
	char		 receipt_hash[RECEIPT_HASH_STRLEN];
};

/* The exact cache's part of a request (req-cache.c). */
struct req_cache {
	int			 on;		/* looked up, and may store */
	int			 hit;		/* served from an entry */
	int			 sse_replay;	/* a hit replayed as a stream */
	int			 nkeys;		/* 1 exact, 2 also canonical */
	int			 base;		/* the first GET's command number */
	int			 polling;	/* a follower's lookups: GETs only */
	char			 scope[140];
	char			 key[2][65];	/* hex: exact, canonical */
	struct buf		 canon[2];	/* the canonical requests */
	struct buf		 entry[2];	/* what the lookup found */
	int			 leader;	/* holds the single-flight lock */
	int			 follower;	/* another request is answering */
	int			 lock_gone;	/* ... and no longer is */
	int64_t			 wait_until_ms;	/* how long a follower waits */
	struct assembler	*asm_;		/* a fresh stream, rebuilt */
	struct buf		 answer;	/* ... as a whole answer */
	struct buf		 pieces;	/* ... and its chunk boundaries */
};

/* One attempt at a target, for the receipt. */
struct req_attempt {
	const char	*model;
	const char	*provider;
	int		 status;		/* the source's HTTP status; 0: no answer */
	int64_t		 latency_ms;		/* to the first byte (or the end) */
	int64_t		 total_ms;		/* to the end of the call */
};
#define REQ_MAX_ATTEMPTS	POLICY_MAX_TARGETS

/* Admission: budgets and rate limits (req-admit.c). */
struct req_gov {
	int			 asked;		/* the script is in the lookup job */
	int			 index;		/* ... as its command number */
	int			 done;		/* and answered */
	int			 failed;
	int			 refused;	/* 402 or 429: nothing reserved */
	int			 reserved;
	int			 settled;
	int			 refused_by_redis; /* an error reply, not silence */
	int			 unchecked;	/* served fail-open: settle anyway */
	nm_nano			 worst;		/* the worst-case cost reserved */
	int64_t			 tokens_est;
	struct gov_admit	 admit;
};

struct request {
	pthread_mutex_t		 mu;
	atomic_int		 refs;
	struct worker		*w;
	char			 id[32];		/* "req_" + 24 hex */
	char			 receipt_id[RECEIPT_ID_LEN + 3];
	int64_t			 t_start_us;
	int64_t			 t_first_us;		/* first byte from the source */
	int64_t			 t_out_us;		/* last bytes handed to the client */
	int64_t			 created_ms;		/* wall clock, for the receipt */

	/* Input: set by http.c before request_run(). */
	char			 method[8];
	char			 path[256];
	char			*authorization;		/* cleansed on free */
	char			 workload[128];
	char			 cache_control[64];
	struct {
		char		 name[24];
		char		 value[72];
	}			 args[8];		/* URL query arguments, decoded */
	int			 nargs;
	struct buf		 body;
	int			 body_toobig;
	int			 answer_now;		/* answer before reading the body */
	size_t			 dropped;		/* bytes of a too big body dropped */
	const struct pipeline	*pipe;
	int			 stage;			/* the next one to run */

	/* What the stages found. */
	struct errinfo		 err;			/* a stage's error answer */
	int			 has_err;
	int			 authed;		/* a key (or the admin key) passed */
	int			 auth_rc;		/* 1 live, 0 unknown, -1 Redis failed */
	unsigned char		 key_hash[32];
	struct json		 json;			/* the parsed body */
	struct facts		 facts;
	struct buf		 fetched;		/* a value read from Redis for the answer */
	int			 fetched_status;

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
	/* http.c's: 1 if the client closed its end (mu held). */
	int			(*client_closed)(struct request *);
	int			 client_left;	/* noticed while waiting: 499 */

	/* The call. */
	struct key_record	 key;
	const struct model	*model;
	const struct provider_conf *prov;
	const struct provider_ops *ops;
	const struct provider_ops *pctx_ops;	/* whose state pctx holds */
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
	struct outcome		 oc;
	struct req_cache	 cache;
	struct req_gov		 gov;
	/* The routing decision and the attempts over its targets. */
	struct policy_decision	*decision;	/* NULL before Decide */
	int			 target;	/* the one being tried */
	int			 cache_mode;	/* CONFIG_CACHE_*: the rule's or the config's */
	int64_t			 deadline_us;	/* monotonic; 0: none */
	int64_t			 t_attempt_us;
	struct req_attempt	 attempts[REQ_MAX_ATTEMPTS];
	int			 nattempts;
	/* The project's own key for the source (bring your own key). */
	struct provider_conf	 own_prov;	/* prov, with api_key = own_key */
	char			*own_key;	/* cleansed on free */
	int			 own_rc;
	struct request		*wprev, *wnext;		/* the worker's live list */
};

/* Bytes of stream output held for a slow client before the source is paused. */
#define REQ_OUT_HIGH	(256 * 1024)
#define REQ_OUT_LOW	(64 * 1024)
/* A quiet stream gets an SSE comment this often. */
#define REQ_PING_US	(15 * 1000000LL)

/* The routes' pipelines. */
extern const struct pipeline pipe_chat, pipe_embeddings, pipe_quotes,
    pipe_models, pipe_model, pipe_receipt, pipe_usage, pipe_healthz,
    pipe_dashboard, pipe_admin,
    pipe_readyz, pipe_metrics, pipe_not_found, pipe_method_not_allowed,
    pipe_headers_too_large;

/* request.c: life cycle and the runner. */
struct request	*request_new(struct worker *);
void		 request_ref(struct request *);
/* Drop a reference; the last frees the request. */
void		 request_unref(struct request *);
/* Run stages from the next one until one answers or waits. */
void		 request_run(struct request *);
/* Another thread's work is done (mu held): run the next stage. */
void		 request_continue(struct request *);
/* The client connection is gone or done: stop the source, account. */
void		 request_complete(struct request *, int client_aborted);
/* http.c took bytes from out (mu held): resume a paused source if needed. */
void		 request_output_taken(struct request *);
/* Force the end of a request that is still waiting (shutdown; mu held). */
void		 request_force_end(struct request *);
/* Wake the connection if http.c suspended it (mu held). */
void		 request_wake(struct request *);

/* The URL query argument name, or NULL. */
const char	*request_arg(const struct request *, const char *name);

/* Answers (request.c). */
void		 request_header(struct request *, const char *name, const char *value);
/* Set a response header, replacing one of the same name. */
void		 request_set_header(struct request *, const char *name,
		    const char *value);
/* Set a whole answer. */
void		 request_respond(struct request *, int status, const char *ctype,
		    const char *body, size_t len);
/* Set a whole error answer (and its Retry-After, x-should-retry). */
void		 request_respond_err(struct request *, const struct errinfo *);
/* Write {"error":{...}} for err into out: 0 or -1. */
int		 request_error_json(struct buf *, const struct errinfo *);
/* A stage's error: fill req->err and return STAGE_ANSWERED. */
enum stage	 stage_fail(struct request *, int status, const char *type,
		    const char *code, const char *param, const char *fmt, ...)
		    __attribute__((format(printf, 6, 7)));

/*
 * Hand job j to the worker's Redis thread and wait for it: the job holds a
 * reference; its done() calls request_continue() and drops it.
 */
enum stage	 request_wait_redis(struct request *, struct rjob *);
/* Go on at stage fn of the request's pipeline (skipping those between). */
void		 stage_skip_to(struct request *, stage_fn);

/* req-auth.c: stages shared by routes that need a key. */
enum stage	 stage_auth(struct request *);
enum stage	 stage_auth_check(struct request *);
enum stage	 stage_parse(struct request *);

/* req-cache.c: the exact cache's stages and its share of settling. */
enum stage	 stage_cache_lookup(struct request *);
enum stage	 stage_cache_serve(struct request *);
/* Add the entries of a fresh complete answer to the settle job (mu held). */
void		 cache_settle(struct request *, struct rjob *, const char *answer,
		    size_t len);
/* Let identical requests waiting on this one go on (mu held). */
void		 cache_release(struct request *, struct rjob *);
void		 cache_request_free(struct request *);

/* req-admit.c: budgets and rate limits. */
/* Put the admission script in a lookup job: 0, or -1 (cannot admit). */
int		 admit_cmd(struct request *, struct rjob *);
/* Read its reply (Redis thread, mu held). */
void		 admit_reply(struct request *, const struct rjob *);
enum stage	 stage_admit_check(struct request *);
/* Settle what was reserved, at the billed cost (mu held). */
void		 admit_settle(struct request *);
/* The budget used by the project when last seen (0..1), or -1: unknown. */
double		 admit_budget_used(struct request *);
/* Free what the worker remembers of admissions (at exit). */
void		 admit_forget(struct worker *);

/* req-chat.c: the next target after a failed attempt (engine thread, mu held): 0 tried. */
int		 request_next_target(struct request *, int status);

/* req-health.c: measured latency and source cool-downs, shared in Redis. */
int		 health_init(void);
int		 health_start(struct worker *);
void		 health_stop(struct worker *);
void		 health_free(struct worker *);
/* Add the request's attempts as samples to the settle job (mu held). */
void		 health_record(struct request *, struct rjob *);
size_t		 health_latency(struct worker *, struct policy_latency *, size_t);
int		 health_cooling(struct worker *, const char *provider);

/* relay.c: the engine's callbacks for a call (engine thread). */
extern const struct upstream_cb relay_cb;
/* End a stream with an SSE error event (mu held). */
void		 relay_stream_error(struct request *, const struct errinfo *);
/* A stream's cost and receipt hash as its last SSE comments (mu held). */
void		 relay_stream_trailer(struct request *);

/* outcome.c (mu held, or the request not shared). */
/* Price what the source said it used (or estimate it); once. */
void		 outcome_price(struct request *, size_t answer_len);
/* The answer is final: status, receipt (signed, headers, settle job). */
void		 outcome_close(struct request *, int status, const char *error_code);

#endif
