/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The upstream engine: one thread, one curl multi handle (which keeps the
 * connection pool), a command queue fed by the request threads and woken
 * with curl_multi_wakeup().  Every curl call happens on the engine thread.
 */
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "nextmodel.h"
#include "crypto.h"
#include "log.h"
#include "upstream.h"

enum cmd_type { CMD_CANCEL = 1, CMD_RESUME };

struct upstream_call {
	atomic_int		 refs;
	struct upstream		*up;
	CURL			*easy;
	struct curl_slist	*slist;
	struct upstream_req	 req;
	struct upstream_cb	 cb;
	void			*arg;
	struct upstream_meta	 meta;
	int			 headers_sent;	/* on_headers called */
	int			 paused;
	int			 done;
	int			 aborted;	/* a callback returned -1 */
	int			 cancelled;
	int64_t			 last_byte_ms;
	int64_t			 last_tick_ms;
	struct upstream_call	*prev, *next;	/* live list (engine only) */
	struct upstream_call	*qnext;		/* submit queue */
};

struct cmd {
	enum cmd_type		 type;
	struct upstream_call	*call;		/* holds a reference */
	struct cmd		*next;
};

struct upstream {
	CURLM			*multi;
	pthread_t		 thread;
	pthread_mutex_t		 mu;		/* guards the queues and stopping */
	struct upstream_call	*submitq, *submitq_tail;
	struct cmd		*cmdq, *cmdq_tail;
	int			 stopping;
	struct upstream_call	*live;		/* engine only */
	atomic_int		 nactive;
	void			(*tick)(void *);
	void			*tick_arg;
};

/* Free what a request description owns; headers may hold keys: cleanse them. */
void
upstream_req_free(struct upstream_req *r)
{
	char **h;

	if (r == NULL)
		return;
	free(r->url);
	r->url = NULL;
	if (r->body != NULL)
		crypto_cleanse(r->body, r->body_len);
	free(r->body);
	r->body = NULL;
	if (r->headers != NULL) {
		for (h = r->headers; *h != NULL; h++) {
			crypto_cleanse(*h, strlen(*h));
			free(*h);
		}
		free(r->headers);
		r->headers = NULL;
	}
}

/* Drop one reference; the last one frees the call. */
void
upstream_call_release(struct upstream_call *c)
{
	struct curl_slist *s;

	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	if (c->slist != NULL) {
		for (s = c->slist; s != NULL; s = s->next)
			crypto_cleanse(s->data, strlen(s->data));
		curl_slist_free_all(c->slist);
	}
	upstream_req_free(&c->req);
	free(c);
}

/* Copy a header value (trimmed) into a fixed field if the name matches. */
static void
header_pick(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), vlen;
	const char *v;

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	v = line + nl + 1;
	n -= nl + 1;
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	vlen = n < outlen - 1 ? n : outlen - 1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
}

/* curl header callback: keep the few response headers we use. */
static size_t
header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct upstream_call *c = arg;
	size_t n = size * nmemb;

	c->last_byte_ms = nm_mono_ms();
	/* A new status line (after a 100 Continue or a redirect) resets them. */
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		c->meta.content_type[0] = '\0';
		c->meta.retry_after[0] = '\0';
		c->meta.request_id[0] = '\0';
		return n;
	}
	header_pick(p, n, "content-type", c->meta.content_type,
	    sizeof(c->meta.content_type));
	header_pick(p, n, "retry-after", c->meta.retry_after,
	    sizeof(c->meta.retry_after));
	header_pick(p, n, "x-request-id", c->meta.request_id,
	    sizeof(c->meta.request_id));
	header_pick(p, n, "request-id", c->meta.request_id,
	    sizeof(c->meta.request_id));
	return n;
}

/* Tell the owner the headers are in, once. */
static void
call_headers(struct upstream_call *c)
{
	if (c->headers_sent)
		return;
	c->headers_sent = 1;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->meta.status);
	if (c->cb.on_headers != NULL)
		c->cb.on_headers(c->arg, &c->meta);
}

/* curl write callback: hand bytes to the owner, pausing when it asks. */
static size_t
write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct upstream_call *c = arg;
	size_t n = size * nmemb;
	int r;

	c->last_byte_ms = nm_mono_ms();
	call_headers(c);
	if (c->cancelled)
		return 0;
	r = c->cb.on_data(c->arg, p, n);
	if (r < 0) {
		c->aborted = 1;
		return 0;
	}
	if (r > 0) {
		c->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	return n;
}

/* Finish a call: tell the owner, take it off the multi handle, drop our ref. */
static void
call_finish(struct upstream *up, struct upstream_call *c, enum upstream_result res,
    const char *msg)
{
	if (c->done)
		return;
	c->done = 1;
	curl_multi_remove_handle(up->multi, c->easy);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		up->live = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	atomic_fetch_sub(&up->nactive, 1);
	if (res == UPSTREAM_OK)
		call_headers(c);
	c->cb.on_done(c->arg, res, msg);
	upstream_call_release(c);
}

/* Build the easy handle of a submitted call and add it; on failure finish it. */
static void
call_start(struct upstream *up, struct upstream_call *c)
{
	char **h;
	struct curl_slist *s;

	c->prev = NULL;
	c->next = up->live;
	if (up->live != NULL)
		up->live->prev = c;
	up->live = c;
	c->last_byte_ms = c->last_tick_ms = nm_mono_ms();

	if ((c->easy = curl_easy_init()) == NULL)
		goto fail;
	for (h = c->req.headers; h != NULL && *h != NULL; h++) {
		if ((s = curl_slist_append(c->slist, *h)) == NULL)
			goto fail;
		c->slist = s;
	}
	/* curl adds "Expect: 100-continue" to big POSTs; sources do not need it. */
	if ((s = curl_slist_append(c->slist, "Expect:")) == NULL)
		goto fail;
	c->slist = s;

	curl_easy_setopt(c->easy, CURLOPT_URL, c->req.url);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->slist);
	curl_easy_setopt(c->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->req.body);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)c->req.body_len);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "nextmodel/" "0.1");
	if (c->req.connect_timeout_ms > 0)
		curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS,
		    c->req.connect_timeout_ms);
	if (c->req.timeout_ms > 0)
		curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, c->req.timeout_ms);

	if (curl_multi_add_handle(up->multi, c->easy) != CURLM_OK)
		goto fail;
	return;
fail:
	/* call_finish takes it off the live list and drops the engine's ref. */
	call_finish(up, c, UPSTREAM_FAILED, "could not start the upstream call");
}

/* Map curl's result to ours; the message is curl's, which carries no secrets. */
static enum upstream_result
result_of(struct upstream_call *c, CURLcode rc)
{
	if (c->cancelled)
		return UPSTREAM_CANCELLED;
	if (c->aborted)
		return UPSTREAM_ABORTED;
	if (rc == CURLE_OK)
		return UPSTREAM_OK;
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return UPSTREAM_TIMEOUT;
	return UPSTREAM_FAILED;
}

/* Run the queued submissions and commands. */
static void
drain_queues(struct upstream *up)
{
	struct upstream_call *sq, *c;
	struct cmd *cq, *cmd;

	pthread_mutex_lock(&up->mu);
	sq = up->submitq;
	up->submitq = up->submitq_tail = NULL;
	cq = up->cmdq;
	up->cmdq = up->cmdq_tail = NULL;
	pthread_mutex_unlock(&up->mu);

	while ((c = sq) != NULL) {
		sq = c->qnext;
		c->qnext = NULL;
		call_start(up, c);
	}
	while ((cmd = cq) != NULL) {
		cq = cmd->next;
		c = cmd->call;
		if (!c->done) {
			if (cmd->type == CMD_CANCEL) {
				c->cancelled = 1;
				call_finish(up, c, UPSTREAM_CANCELLED, "cancelled");
			} else if (cmd->type == CMD_RESUME && c->paused) {
				c->paused = 0;
				c->last_byte_ms = nm_mono_ms();
				/* May call write_cb right away, here, on this thread. */
				curl_easy_pause(c->easy, CURLPAUSE_CONT);
			}
		}
		upstream_call_release(c);
		free(cmd);
	}
}

/*
 * Give each call its tick, and abort calls whose stream has been silent
 * for longer than their idle limit.
 */
static void
check_idle(struct upstream *up)
{
	struct upstream_call *c, *next;
	int64_t now = nm_mono_ms();

	for (c = up->live; c != NULL; c = next) {
		next = c->next;
		if (c->cb.on_tick != NULL && now - c->last_tick_ms >= 1000) {
			c->last_tick_ms = now;
			c->cb.on_tick(c->arg);
		}
		if (c->req.idle_timeout_ms <= 0 || c->paused)
			continue;
		if (now - c->last_byte_ms > c->req.idle_timeout_ms)
			call_finish(up, c, UPSTREAM_TIMEOUT,
			    "the source sent nothing within the idle timeout");
	}
}

/* The engine thread. */
static void *
engine_main(void *arg)
{
	struct upstream *up = arg;
	struct upstream_call *c;
	CURLMsg *msg;
	int running, left, stopping;
	char errmsg[160];

	for (;;) {
		drain_queues(up);
		curl_multi_perform(up->multi, &running);
		while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			c = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&c);
			if (c == NULL)
				continue;
			snprintf(errmsg, sizeof(errmsg), "%s",
			    curl_easy_strerror(msg->data.result));
			call_finish(up, c, result_of(c, msg->data.result),
			    errmsg);
		}
		check_idle(up);
		if (up->tick != NULL)
			up->tick(up->tick_arg);

		pthread_mutex_lock(&up->mu);
		stopping = up->stopping;
		pthread_mutex_unlock(&up->mu);
		if (stopping)
			break;
		curl_multi_poll(up->multi, NULL, 0, 250, NULL);
	}

	/* Stopping: queued submissions and live calls end as cancelled. */
	drain_queues(up);
	while ((c = up->live) != NULL) {
		c->cancelled = 1;
		call_finish(up, c, UPSTREAM_CANCELLED, "the gateway is stopping");
	}
	return NULL;
}

/* Start the engine.  Called in a worker after fork, before serving. */
struct upstream *
upstream_start(void (*tick)(void *), void *arg)
{
	struct upstream *up;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return NULL;
	up->tick = tick;
	up->tick_arg = arg;
	if ((up->multi = curl_multi_init()) == NULL) {
		free(up);
		return NULL;
	}
	curl_multi_setopt(up->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	pthread_mutex_init(&up->mu, NULL);
	if (pthread_create(&up->thread, NULL, engine_main, up) != 0) {
		curl_multi_cleanup(up->multi);
		pthread_mutex_destroy(&up->mu);
		free(up);
		return NULL;
	}
	return up;
}

/* Stop the engine: every call still running ends as cancelled. */
void
upstream_stop(struct upstream *up)
{
	if (up == NULL)
		return;
	pthread_mutex_lock(&up->mu);
	up->stopping = 1;
	pthread_mutex_unlock(&up->mu);
	curl_multi_wakeup(up->multi);
	pthread_join(up->thread, NULL);
	curl_multi_cleanup(up->multi);
	pthread_mutex_destroy(&up->mu);
	free(up);
}

/* Queue a call for the engine thread. */
struct upstream_call *
upstream_submit(struct upstream *up, struct upstream_req *req,
    const struct upstream_cb *cb, void *arg)
{
	struct upstream_call *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		upstream_req_free(req);
		return NULL;
	}
	c->up = up;
	c->req = *req;
	memset(req, 0, sizeof(*req));
	c->cb = *cb;
	c->arg = arg;
	atomic_init(&c->refs, 2);	/* the engine's and the caller's */

	pthread_mutex_lock(&up->mu);
	if (up->stopping) {
		pthread_mutex_unlock(&up->mu);
		upstream_req_free(&c->req);
		free(c);
		return NULL;
	}
	if (up->submitq_tail != NULL)
		up->submitq_tail->qnext = c;
	else
		up->submitq = c;
	up->submitq_tail = c;
	atomic_fetch_add(&up->nactive, 1);
	pthread_mutex_unlock(&up->mu);
	curl_multi_wakeup(up->multi);
	return c;
}

/* Queue a command about a call; the command holds its own reference. */
static void
queue_cmd(struct upstream *up, struct upstream_call *c, enum cmd_type type)
{
	struct cmd *cmd;

	if ((cmd = calloc(1, sizeof(*cmd))) == NULL) {
		log_warnx("upstream: out of memory queueing a command");
		return;
	}
	cmd->type = type;
	cmd->call = c;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_lock(&up->mu);
	if (up->cmdq_tail != NULL)
		up->cmdq_tail->next = cmd;
	else
		up->cmdq = cmd;
	up->cmdq_tail = cmd;
	pthread_mutex_unlock(&up->mu);
	curl_multi_wakeup(up->multi);
}

/* Ask for a call to be stopped. */
void
upstream_cancel(struct upstream *up, struct upstream_call *c)
{
	queue_cmd(up, c, CMD_CANCEL);
}

/* Ask for a paused call to go on. */
void
upstream_resume(struct upstream *up, struct upstream_call *c)
{
	queue_cmd(up, c, CMD_RESUME);
}

/* Calls submitted and not yet finished. */
int
upstream_active(const struct upstream *up)
{
	return atomic_load(&((struct upstream *)up)->nactive);
}
