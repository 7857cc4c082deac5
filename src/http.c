/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * libmicrohttpd glue: routes, body limits, suspend and resume.  A request
 * that waits on a source suspends its connection; the engine thread
 * resumes it through http_wake() when there is something to send, so no
 * thread ever blocks on a model call.  Nothing else includes microhttpd.h.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "nextmodel.h"
#include "auth.h"
#include "config.h"
#include "crypto.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "worker.h"
#include "http.h"

#define RT_PREFIX	0x1	/* path is a prefix */
#define RT_KEYED	0x2	/* needs a key: checked before the body is read */
#define RT_BODY		0x4	/* reads a body; other routes drop theirs */

struct route {
	const char		*method;
	const char		*path;
	int			 flags;
	const struct pipeline	*pipe;
};

static const struct route routes[] = {
	{ "POST",	"/v1/chat/completions",	RT_KEYED | RT_BODY, &pipe_chat },
	{ "POST",	"/v1/embeddings",	RT_KEYED | RT_BODY, &pipe_embeddings },
	{ "POST",	"/v1/quotes",		RT_KEYED | RT_BODY, &pipe_quotes },
	{ "GET",	"/v1/models",		RT_KEYED, &pipe_models },
	{ "GET",	"/v1/models/",		RT_PREFIX | RT_KEYED, &pipe_model },
	{ "GET",	"/v1/receipts/",	RT_PREFIX | RT_KEYED, &pipe_receipt },
	{ "GET",	"/v1/usage",		RT_KEYED, &pipe_usage },
	{ "GET",	"/dashboard",		0, &pipe_dashboard },
	{ "POST",	"/admin/keys",		RT_KEYED | RT_BODY, &pipe_admin },
	{ "GET",	"/admin/keys",		RT_KEYED, &pipe_admin },
	{ "DELETE",	"/admin/keys/",		RT_PREFIX | RT_KEYED, &pipe_admin },
	{ "PUT",	"/admin/budgets",	RT_KEYED | RT_BODY, &pipe_admin },
	{ "GET",	"/admin/budgets",	RT_KEYED, &pipe_admin },
	{ "DELETE",	"/admin/budgets",	RT_KEYED, &pipe_admin },
	{ "PUT",	"/admin/ratelimits",	RT_KEYED | RT_BODY, &pipe_admin },
	{ "GET",	"/healthz",		0, &pipe_healthz },
	{ "GET",	"/readyz",		0, &pipe_readyz },
	{ "GET",	"/metrics",		0, &pipe_metrics },
};

/*
 * Per connection: whether it has yet to start a request (a drain waits
 * for such connections too, or a client that connected just before the
 * worker stopped accepting would see its connection closed unanswered),
 * and what its current request's body costs.
 */
struct conn_state {
	int			 fresh;
	int			 drop_body;	/* the body is not kept */
	size_t			 body_mem;	/* bytes counted in body_mem */
	size_t			 body_used;	/* ... of which the body has */
	const char		*framing;	/* why the framing is refused */
	/* The sweeper's, under sweep.mu. */
	int			 phase;		/* CS_* */
	int64_t			 since_ms;	/* monotonic: the phase began */
	int			 fd;
	struct conn_state	*prev, *next;
};

/*
 * Where a connection is, for the deadlines on the request head and body:
 * libmicrohttpd's timeout restarts with every byte, so a client sending
 * one byte a minute would hold a connection for ever.  A head is awaited
 * from the connect or the end of the previous request (so an idle
 * keep-alive connection ends after the head deadline too).
 */
enum {
	CS_HEAD = 0,	/* waiting for a request's head */
	CS_BODY,	/* the head is in, the body is arriving */
	CS_BUSY,	/* the request runs or is answered */
	CS_CUT,		/* past its deadline: shut down */
};

/* The connections of this worker, swept a few times a second. */
static struct {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct conn_state	*head;
	pthread_t		 thread;
	int			 running;
	int			 stop;
	long			 head_ms, body_ms;
} sweep = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL,
    0, 0, 0, 0, 0 };

#define SWEEP_MS	200

/* Move the connection to phase (any thread). */
static void
conn_phase(struct conn_state *cs, int phase)
{
	if (cs == NULL)
		return;
	pthread_mutex_lock(&sweep.mu);
	if (cs->phase != CS_CUT && cs->phase != phase) {
		cs->phase = phase;
		cs->since_ms = nm_mono_ms();
	}
	pthread_mutex_unlock(&sweep.mu);
}

/*
 * Shut down connections past their deadline; libmicrohttpd then sees the
 * end of the socket and closes it.  The fd stays valid while listed: the
 * connection leaves the list (notify closed) before its socket is closed.
 */
static void *
sweeper(void *arg)
{
	struct conn_state *cs;
	struct timespec ts;
	int64_t now;
	long limit;

	(void)arg;
	pthread_mutex_lock(&sweep.mu);
	while (!sweep.stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SWEEP_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&sweep.cv, &sweep.mu, &ts);
		now = nm_mono_ms();
		for (cs = sweep.head; cs != NULL; cs = cs->next) {
			if (cs->phase == CS_HEAD)
				limit = sweep.head_ms;
			else if (cs->phase == CS_BODY)
				limit = sweep.body_ms;
			else
				continue;
			if (now - cs->since_ms < limit)
				continue;
			log_info("closing a connection: request %s not in "
			    "within %ld ms", cs->phase == CS_HEAD ? "head" :
			    "body", limit);
			cs->phase = CS_CUT;
			(void)shutdown(cs->fd, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&sweep.mu);
	return NULL;
}

/*
 * Bytes of request bodies this worker holds (all its threads): past
 * limits.max_body_memory_bytes a request is answered 503 instead.
 */
static atomic_size_t body_mem;

/* A worker over its body memory: the client may retry shortly. */
static enum stage
st_body_memory(struct request *req)
{
	req->close = 1;
	stage_fail(req, 503, "server_error", "server_busy", NULL,
	    "The gateway is holding too many request bodies; retry shortly.");
	snprintf(req->err.retry_after, sizeof(req->err.retry_after), "1");
	return STAGE_ANSWERED;
}

static const stage_fn body_memory_stages[] = { st_body_memory };
static const struct pipeline pipe_body_memory = { "body_memory",
    body_memory_stages, (int)NM_NELEM(body_memory_stages), 0 };

/* The connection's state, or NULL (out of memory at connect). */
static struct conn_state *
conn_state_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

/* Give back what the connection's request body counted in body_mem. */
static void
body_mem_release(struct conn_state *cs)
{
	if (cs == NULL)
		return;
	if (cs->body_mem > 0)
		atomic_fetch_sub(&body_mem, cs->body_mem);
	cs->body_mem = cs->body_used = 0;
}

/*
 * Count n more bytes of request body against the worker's body memory:
 * 0, or -1 when that would pass limits.max_body_memory_bytes.
 */
static int
body_reserve(struct worker *w, struct conn_state *cs, size_t n)
{
	size_t cap = w->cfg->max_body_memory_bytes;

	if (atomic_fetch_add(&body_mem, n) + n > cap) {
		atomic_fetch_sub(&body_mem, n);
		return -1;
	}
	cs->body_mem += n;
	return 0;
}

/*
 * Keep n more bytes of the request's body, beyond what its Content-Length
 * reserved if need be.  Over the worker's body memory the rest of the body
 * is dropped and the request answered 503 once it is in (libmicrohttpd
 * takes no answer while a body arrives).
 */
static void
body_take(struct worker *w, struct request *req, struct conn_state *cs,
    const char *data, size_t n)
{
	if (cs == NULL || cs->drop_body)
		return;
	if (cs->body_used + n > cs->body_mem &&
	    body_reserve(w, cs, cs->body_used + n - cs->body_mem) != 0) {
		req->pipe = &pipe_body_memory;
		cs->drop_body = 1;
		return;
	}
	if (buf_append(&req->body, data, n) != 0)
		req->body_toobig = 1;
	cs->body_used += n;
}

/* Framing that a server behind a load balancer must refuse (RFC 9112). */
static enum stage
st_bad_framing(struct request *req)
{
	const struct conn_state *cs = conn_state_of(req->conn);

	req->close = 1;
	return stage_fail(req, 400, "invalid_request_error", "bad_request",
	    NULL, "The request's framing is ambiguous: %s.", cs != NULL &&
	    cs->framing != NULL ? cs->framing : "refused");
}

static const stage_fn bad_framing_stages[] = { st_bad_framing };
static const struct pipeline pipe_bad_framing = { "bad_framing",
    bad_framing_stages, (int)NM_NELEM(bad_framing_stages), 0 };

/* What framing_check() has seen of the headers. */
struct framing {
	const char	*cl;		/* the first Content-Length */
	int		 ncl;
	int		 cl_differ;	/* another one says something else */
	int		 cl_bad;	/* not only digits */
	int		 nte;
	int		 te_bad;	/* a Transfer-Encoding other than chunked */
	int		 bare_lf;	/* a line ended by LF alone */
};

/*
 * libmicrohttpd 0.9.75 parses the head in place, writing a NUL over each
 * CR and LF that ends a line, and its header values point into that
 * buffer: a value followed by one NUL and then text ended with a bare LF
 * (it takes those as line ends; RFC 9112 section 2.2 lets a server refuse
 * them, and a proxy in front may not take them).  The last line before the
 * blank one cannot be told apart this way.
 */
static int
bare_lf_after(const char *v)
{
	size_t n = strlen(v);

	return v[n + 1] != '\0';
}

/* Look at one header for framing_check(). */
static enum MHD_Result
framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (key == NULL || value == NULL)
		return MHD_YES;
	if (bare_lf_after(value))
		f->bare_lf = 1;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (value[0] == '\0' || value[strspn(value, "0123456789")] != '\0')
			f->cl_bad = 1;
		if (f->ncl++ == 0)
			f->cl = value;
		else if (strcmp(f->cl, value) != 0)
			f->cl_differ = 1;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->nte++;
		if (strcasecmp(value, "chunked") != 0)
			f->te_bad = 1;
	}
	return MHD_YES;
}

/* The reason the request's framing is refused, or NULL. */
static const char *
framing_check(struct MHD_Connection *conn, const char *version)
{
	struct framing f;

	memset(&f, 0, sizeof(f));
	MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_header, &f);
	if (version != NULL && version[0] != '\0' && bare_lf_after(version))
		f.bare_lf = 1;
	if (f.cl_differ)
		return "Content-Length given twice with different values";
	if (f.cl_bad)
		return "Content-Length is not a number";
	if (f.ncl > 0 && f.nte > 0)
		return "both Content-Length and Transfer-Encoding";
	if (f.nte > 1 || f.te_bad)
		return "a Transfer-Encoding other than chunked";
	if (f.bare_lf)
		return "a line ends with LF alone, not CR LF";
	return NULL;
}

/* Pick the pipeline for method and path; the route's flags, or 0. */
static int
route(struct request *req)
{
	size_t i;
	int path_seen = 0;
	const struct route *r;

	for (i = 0; i < NM_NELEM(routes); i++) {
		r = &routes[i];
		if (r->flags & RT_PREFIX ? strncmp(req->path, r->path, strlen(r->path)) != 0 ||
		    req->path[strlen(r->path)] == '\0' :
		    strcmp(req->path, r->path) != 0)
			continue;
		path_seen = 1;
		if (strcmp(req->method, r->method) == 0) {
			req->pipe = r->pipe;
			return r->flags;
		}
	}
	req->pipe = path_seen ? &pipe_method_not_allowed : &pipe_not_found;
	return 0;
}

/*
 * Whether the request's key is refused for sure without asking Redis:
 * none, not "Bearer", malformed, or known bad in the worker's cache.  A
 * well-formed key the cache does not know may be good: its body is read.
 */
static int
key_refused(struct worker *w, const char *authz)
{
	const struct config *cfg = w->cfg;
	unsigned char h[CRYPTO_SHA256_LEN];
	const char *k;
	size_t n;

	if (authz == NULL || strncasecmp(authz, "Bearer ", 7) != 0)
		return 1;
	for (k = authz + 7; *k == ' '; k++)
		;
	n = strlen(k);
	while (n > 0 && k[n - 1] == ' ')
		n--;
	if (cfg->has_admin_key) {
		crypto_sha256(k, n, h);
		if (crypto_memeq(h, cfg->admin_key_hash, sizeof(h)))
			return 0;
	}
	return auth_cache_refuses(w->auth, k, n);
}

/*
 * Has the client closed its end while the request waits (a suspended
 * connection is not watched by libmicrohttpd)?  A look at the socket:
 * end of file or an error is gone; bytes or nothing yet is still there.
 * Called with req->mu held, so the connection cannot complete meanwhile.
 */
static int
http_client_closed(struct request *req)
{
	const union MHD_ConnectionInfo *ci;
	ssize_t n;
	char c;

	if (req->conn == NULL || req->gone || (ci = MHD_get_connection_info(
	    req->conn, MHD_CONNECTION_INFO_CONNECTION_FD)) == NULL)
		return 0;
	n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return 1;
	return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR;
}

/* Resume a suspended connection (called with req->mu held). */
static void
http_wake(struct request *req)
{
	if (req->suspended) {
		req->suspended = 0;
		MHD_resume_connection(req->conn);
	}
}

/* Stream body: take what the engine has put in out, or suspend until it has. */
static ssize_t
stream_reader(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct request *req = cls;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&req->mu);
	if (req->out.len > 0) {
		n = NM_MIN(req->out.len, max);
		memcpy(dst, req->out.data, n);
		buf_consume(&req->out, n);
		request_output_taken(req);
		pthread_mutex_unlock(&req->mu);
		return (ssize_t)n;
	}
	if (req->finished) {
		pthread_mutex_unlock(&req->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	req->suspended = 1;
	MHD_suspend_connection(req->conn);
	pthread_mutex_unlock(&req->mu);
	return 0;
}

/* Headers every answer carries, then the request's own. */
static void
add_headers(struct MHD_Response *resp, struct request *req)
{
	int i;

	MHD_add_response_header(resp, "x-nextmodel-request-id", req->id);
	MHD_add_response_header(resp, "x-request-id", req->id);
	for (i = 0; i < req->nhdr; i++)
		MHD_add_response_header(resp, req->hdr[i].name,
		    req->hdr[i].value);
	if (req->close || atomic_load(&req->w->draining))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
}

/* Queue what the request has ready (mu held).  MHD_YES/MHD_NO. */
static enum MHD_Result
queue(struct MHD_Connection *conn, struct request *req)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len;
	char *body;

	if (req->phase == REQ_RESPOND) {
		body = buf_steal(&req->out, &len);
		resp = MHD_create_response_from_buffer(len, body != NULL ?
		    body : (char *)"", body != NULL ? MHD_RESPMEM_MUST_FREE :
		    MHD_RESPMEM_PERSISTENT);
		if (resp == NULL) {
			free(body);
			return MHD_NO;
		}
	} else {
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
		    16 * 1024, stream_reader, req, NULL);
		if (resp == NULL)
			return MHD_NO;
	}
	add_headers(resp, req);
	ret = MHD_queue_response(conn, (unsigned)req->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Copy a request header, bounded; NULL-safe. */
static void
copy_header(struct MHD_Connection *conn, const char *name, char *out,
    size_t outlen)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

	snprintf(out, outlen, "%s", v != NULL ? v : "");
}

/* Bytes of a body read and dropped before a refused key's 401. */
#define HTTP_REFUSED_DRAIN	(64 * 1024)

/* Bytes of an oversized body read and dropped before answering 413. */
static size_t
drain_limit(const struct worker *w)
{
	return NM_MIN(w->cfg->max_body_bytes * 4, (size_t)256 * 1024 * 1024);
}

/* Add up the size of the request's headers. */
static enum MHD_Result
count_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	size_t *n = cls;

	(void)kind;
	*n += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* Keep a URL query argument (bounded; the rest are dropped). */
static enum MHD_Result
copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct request *req = cls;

	(void)kind;
	if (req->nargs >= (int)NM_NELEM(req->args) || key == NULL)
		return MHD_YES;
	snprintf(req->args[req->nargs].name, sizeof(req->args[0].name), "%s",
	    key);
	snprintf(req->args[req->nargs].value, sizeof(req->args[0].value), "%s",
	    value != NULL ? value : "");
	req->nargs++;
	return MHD_YES;
}

/* First call for a request: make it, route it, check its declared size. */
static struct request *
request_begin(struct worker *w, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version)
{
	struct conn_state *cs = conn_state_of(conn);
	struct request *req;
	const char *v;
	char *end;
	unsigned long long cl;
	size_t hsize;
	int flags, expect, cl_known = 0;
	const char *why;

	if ((req = request_new(w)) == NULL)
		return NULL;
	snprintf(req->method, sizeof(req->method), "%s", method);
	snprintf(req->path, sizeof(req->path), "%s", url);
	flags = route(req);
	if ((why = framing_check(conn, version)) != NULL) {
		if (cs != NULL)
			cs->framing = why;
		req->pipe = &pipe_bad_framing;
		req->answer_now = 1;
		req->close = 1;
		flags = 0;
	}
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (v != NULL && (req->authorization = strdup(v)) == NULL) {
		request_unref(req);
		return NULL;
	}
	copy_header(conn, "x-nextmodel-workload", req->workload,
	    sizeof(req->workload));
	copy_header(conn, MHD_HTTP_HEADER_CACHE_CONTROL, req->cache_control,
	    sizeof(req->cache_control));
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, copy_arg, req);
	expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_EXPECT) != NULL;
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	cl = 0;
	if (v != NULL && ((cl = strtoull(v, &end, 10)), end != v))
		cl_known = 1;
	if (cl_known && cl > w->cfg->max_body_bytes) {
		req->body_toobig = 1;
		/*
		 * A client that waits for 100 Continue, or one that announces
		 * far too much, is answered at once; others get their body
		 * read and dropped first, so they see the 413 instead of a
		 * reset while still sending.
		 */
		if (expect || cl > drain_limit(w))
			req->answer_now = 1;
	}
	conn_phase(cs, CS_BODY);
	if (cs != NULL)
		cs->drop_body = !(flags & RT_BODY) || req->body_toobig;
	if ((flags & RT_KEYED) && key_refused(w, req->authorization)) {
		/*
		 * The body of a request that will be refused is not kept.  The
		 * answer goes at once (no 100 Continue) unless the body is
		 * small and the client sends it without waiting: a close with
		 * unread bytes resets the connection, and that client would
		 * see a reset instead of its 401.
		 */
		req->close = 1;
		if (cs != NULL)
			cs->drop_body = 1;
		if (expect || !cl_known || cl > HTTP_REFUSED_DRAIN)
			req->answer_now = 1;
	} else if (cs != NULL && !cs->drop_body && cl > 0 &&
	    body_reserve(w, cs, (size_t)cl) != 0) {
		req->pipe = &pipe_body_memory;
		req->answer_now = 1;
	}
	hsize = 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &hsize);
	if (hsize > w->cfg->max_header_bytes) {
		req->pipe = &pipe_headers_too_large;
		req->answer_now = 1;
	}
	req->conn = conn;
	req->wake = http_wake;
	req->client_closed = http_client_closed;
	return req;
}


/* Count open connections for /metrics and track fresh ones for draining. */
static void
connection_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct worker *w = cls;
	struct conn_state *cs;

	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		metrics_connections(w->metrics, 1);
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci != NULL && (cs = calloc(1, sizeof(*cs))) != NULL) {
			cs->fresh = 1;
			atomic_fetch_add(&w->fresh_conns, 1);
			cs->fd = ci->connect_fd;
			cs->phase = CS_HEAD;
			cs->since_ms = nm_mono_ms();
			pthread_mutex_lock(&sweep.mu);
			cs->next = sweep.head;
			if (sweep.head != NULL)
				sweep.head->prev = cs;
			sweep.head = cs;
			pthread_mutex_unlock(&sweep.mu);
		} else
			cs = NULL;
		*socket_ctx = cs;
		return;
	}
	metrics_connections(w->metrics, -1);
	if ((cs = *socket_ctx) != NULL) {
		pthread_mutex_lock(&sweep.mu);
		if (cs->prev != NULL)
			cs->prev->next = cs->next;
		else
			sweep.head = cs->next;
		if (cs->next != NULL)
			cs->next->prev = cs->prev;
		pthread_mutex_unlock(&sweep.mu);
		body_mem_release(cs);
		if (cs->fresh)
			atomic_fetch_sub(&w->fresh_conns, 1);
		free(cs);
		*socket_ctx = NULL;
	}
}

/* The connection starts its first request: it no longer holds up a drain. */
static void
connection_used(struct worker *w, struct MHD_Connection *conn)
{
	struct conn_state *cs;

	if ((cs = conn_state_of(conn)) != NULL && cs->fresh) {
		cs->fresh = 0;
		atomic_fetch_sub(&w->fresh_conns, 1);
	}
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct worker *w = cls;
	struct request *req = *con_cls;
	enum MHD_Result ret;

	if (req == NULL) {
		connection_used(w, conn);
		if ((req = request_begin(w, conn, url, method, version)) == NULL)
			return MHD_NO;
		*con_cls = req;
		if (!req->answer_now)
			return MHD_YES;
		/* Answer now, without reading the body. */
	} else if (*upload_data_size > 0) {
		if (!req->body_toobig)
			body_take(w, req, conn_state_of(conn), upload_data,
			    *upload_data_size);
		if (req->body_toobig) {
			req->dropped += *upload_data_size;
			if (req->dropped > drain_limit(w))
				req->answer_now = 1;
		}
		*upload_data_size = 0;
		if (!req->answer_now || req->phase != REQ_READING)
			return MHD_YES;
	}

	conn_phase(conn_state_of(conn), CS_BUSY);
	/*
	 * Run the stages; again each time a wait is over.  A Redis or engine
	 * callback may end the wait before this thread suspends: then the
	 * phase is already REQ_RUN and the stages go on here.
	 */
	for (;;) {
		if (req->phase == REQ_READING || req->phase == REQ_RUN)
			request_run(req);
		pthread_mutex_lock(&req->mu);
		switch (req->phase) {
		case REQ_RUN:
			pthread_mutex_unlock(&req->mu);
			continue;
		case REQ_WAITING:
			req->suspended = 1;
			MHD_suspend_connection(conn);
			ret = MHD_YES;
			break;
		case REQ_RESPOND:
		case REQ_STREAM:
			ret = queue(conn, req);
			break;
		default:
			ret = MHD_NO;
			break;
		}
		pthread_mutex_unlock(&req->mu);
		return ret;
	}
}

/* The request is over, answered or not. */
static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	(void)cls;
	body_mem_release(conn_state_of(conn));
	conn_phase(conn_state_of(conn), CS_HEAD);
	if (req == NULL)
		return;
	*con_cls = NULL;
	request_complete(req, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
}

/* libmicrohttpd's own messages. */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	/* libmicrohttpd's format strings: its logger type has no format attribute. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vsnprintf(msg, sizeof(msg), fmt, ap);
#pragma GCC diagnostic pop
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("httpd: %s", msg);
}

/* Start the daemon on the inherited listen socket. */
int
http_start(struct worker *w)
{
	const struct config *cfg = w->cfg;
	struct MHD_Daemon *d;
	size_t memlimit = cfg->max_header_bytes + 32 * 1024;

	d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, access_handler, w,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)w->listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, memlimit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)cfg->max_connections_per_client,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, w,
	    MHD_OPTION_NOTIFY_CONNECTION, connection_notify, w,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, w,
	    MHD_OPTION_END);
	if (d == NULL)
		return -1;
	w->httpd = d;
	sweep.head_ms = cfg->header_timeout_ms;
	sweep.body_ms = cfg->body_timeout_ms;
	sweep.stop = 0;
	if ((errno = pthread_create(&sweep.thread, NULL, sweeper, NULL)) != 0) {
		log_warn("cannot start the connection sweeper");
		MHD_stop_daemon(d);
		w->httpd = NULL;
		return -1;
	}
	sweep.running = 1;
	return 0;
}

/* Stop accepting; the master and the new generation keep the socket. */
void
http_quiesce(struct worker *w)
{
	if (w->httpd != NULL)
		(void)MHD_quiesce_daemon(w->httpd);
}

/* Stop the daemon, then the sweeper (its list is empty by then). */
void
http_stop(struct worker *w)
{
	if (w->httpd != NULL)
		MHD_stop_daemon(w->httpd);
	w->httpd = NULL;
	if (sweep.running) {
		pthread_mutex_lock(&sweep.mu);
		sweep.stop = 1;
		pthread_cond_signal(&sweep.cv);
		pthread_mutex_unlock(&sweep.mu);
		pthread_join(sweep.thread, NULL);
		sweep.running = 0;
	}
}
