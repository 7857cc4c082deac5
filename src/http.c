/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * libmicrohttpd glue: routes, body limits, suspend and resume.  A request
 * that waits on a source suspends its connection; the engine thread
 * resumes it through http_wake() when there is something to send, so no
 * thread ever blocks on a model call.  Nothing else includes microhttpd.h.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "nextmodel.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "request.h"
#include "worker.h"
#include "http.h"

struct route {
	const char		*method;
	const char		*path;
	int			 prefix;	/* path is a prefix */
	const struct pipeline	*pipe;
};

static const struct route routes[] = {
	{ "POST",	"/v1/chat/completions",	0, &pipe_chat },
	{ "POST",	"/v1/embeddings",	0, &pipe_embeddings },
	{ "POST",	"/v1/quotes",		0, &pipe_quotes },
	{ "GET",	"/v1/models",		0, &pipe_models },
	{ "GET",	"/v1/models/",		1, &pipe_model },
	{ "GET",	"/v1/receipts/",	1, &pipe_receipt },
	{ "GET",	"/v1/usage",		0, &pipe_usage },
	{ "GET",	"/healthz",		0, &pipe_healthz },
	{ "GET",	"/readyz",		0, &pipe_readyz },
	{ "GET",	"/metrics",		0, &pipe_metrics },
};

/* Pick the pipeline for method and path. */
static void
route(struct request *req)
{
	size_t i;
	int path_seen = 0;
	const struct route *r;

	for (i = 0; i < NM_NELEM(routes); i++) {
		r = &routes[i];
		if (r->prefix ? strncmp(req->path, r->path, strlen(r->path)) != 0 ||
		    req->path[strlen(r->path)] == '\0' :
		    strcmp(req->path, r->path) != 0)
			continue;
		path_seen = 1;
		if (strcmp(req->method, r->method) == 0) {
			req->pipe = r->pipe;
			return;
		}
	}
	req->pipe = path_seen ? &pipe_method_not_allowed : &pipe_not_found;
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
    const char *method)
{
	struct request *req;
	const char *v;
	char *end;
	unsigned long long cl;
	size_t hsize;

	if ((req = request_new(w)) == NULL)
		return NULL;
	snprintf(req->method, sizeof(req->method), "%s", method);
	snprintf(req->path, sizeof(req->path), "%s", url);
	route(req);
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
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v != NULL) {
		cl = strtoull(v, &end, 10);
		if (end != v && cl > w->cfg->max_body_bytes) {
			req->body_toobig = 1;
			/*
			 * A client that waits for 100 Continue, or one that
			 * announces far too much, is answered at once; others
			 * get their body read and dropped first, so they see
			 * the 413 instead of a reset while still sending.
			 */
			v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
			    MHD_HTTP_HEADER_EXPECT);
			if (v != NULL || cl > drain_limit(w))
				req->answer_now = 1;
		}
	}
	hsize = 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &hsize);
	if (hsize > w->cfg->max_header_bytes) {
		req->pipe = &pipe_headers_too_large;
		req->answer_now = 1;
	}
	req->conn = conn;
	req->wake = http_wake;
	return req;
}

/*
 * Per connection: whether it has yet to start a request.  A drain waits
 * for such connections too, or a client that connected just before the
 * worker stopped accepting would see its connection closed unanswered.
 */
struct conn_state {
	int	fresh;
};

/* Count open connections for /metrics and track fresh ones for draining. */
static void
connection_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct worker *w = cls;
	struct conn_state *cs;

	(void)conn;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		metrics_connections(w->metrics, 1);
		if ((cs = calloc(1, sizeof(*cs))) != NULL) {
			cs->fresh = 1;
			atomic_fetch_add(&w->fresh_conns, 1);
		}
		*socket_ctx = cs;
		return;
	}
	metrics_connections(w->metrics, -1);
	if ((cs = *socket_ctx) != NULL) {
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
	const union MHD_ConnectionInfo *ci;
	struct conn_state *cs;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL && (cs = ci->socket_context) != NULL && cs->fresh) {
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

	(void)version;
	if (req == NULL) {
		connection_used(w, conn);
		if ((req = request_begin(w, conn, url, method)) == NULL)
			return MHD_NO;
		*con_cls = req;
		if (!req->answer_now)
			return MHD_YES;
		/* Answer now, without reading the body. */
	} else if (*upload_data_size > 0) {
		if (!req->body_toobig &&
		    buf_append(&req->body, upload_data, *upload_data_size) != 0)
			req->body_toobig = 1;
		if (req->body_toobig) {
			req->dropped += *upload_data_size;
			if (req->dropped > drain_limit(w))
				req->answer_now = 1;
		}
		*upload_data_size = 0;
		if (!req->answer_now || req->phase != REQ_READING)
			return MHD_YES;
	}

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
	(void)conn;
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
	    MHD_OPTION_NOTIFY_COMPLETED, completed, w,
	    MHD_OPTION_NOTIFY_CONNECTION, connection_notify, w,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, w,
	    MHD_OPTION_END);
	if (d == NULL)
		return -1;
	w->httpd = d;
	return 0;
}

/* Stop accepting; the master and the new generation keep the socket. */
void
http_quiesce(struct worker *w)
{
	if (w->httpd != NULL)
		(void)MHD_quiesce_daemon(w->httpd);
}

void
http_stop(struct worker *w)
{
	if (w->httpd != NULL)
		MHD_stop_daemon(w->httpd);
	w->httpd = NULL;
}
