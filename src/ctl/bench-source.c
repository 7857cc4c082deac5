/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The bench's counting model source for --detect upstream: a small
 * OpenAI-compatible server on libmicrohttpd (its one thread, a few
 * bounded connections) that answers POST /v1/chat/completions, as JSON
 * or as an SSE stream with usage, and GET /v1/models.  It takes any model
 * and any key: it is a stand-in, not a gate.  Each call gets a number
 * and a nonce ("nmbench-RUNID-N") in its answer text, so the bench can
 * tell which call, if any, produced an answer.  This is the only ctl
 * file that includes microhttpd.h (as http.c is for nextmodeld).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "crypto.h"
#include "json.h"
#include "bench-source.h"

#define SRC_MAX_BODY	(4 * 1024 * 1024)
#define SRC_MAX_ANSWER	(1024 * 1024)
#define SRC_MAX_CONN	32
#define SRC_TIMEOUT	60		/* seconds a connection may idle */
#define SRC_MAX_N	8		/* choices per answer */
#define NONCE_TAG	"nmbench-"
#define RUNID_LEN	16		/* hex digits */

struct oracle {
	char	*text;		/* trimmed user message */
	char	*answer;
};

struct bench_source {
	struct MHD_Daemon	*mhd;
	int			 fd;		/* until MHD owns it */
	pthread_mutex_t		 lock;
	uint64_t		 calls;		/* under lock */
	char			 runid[RUNID_LEN + 1];
	char			 url[300];
	struct oracle		*oracle;	/* sorted by text, read-only */
	size_t			 noracle;
};

/* One request being read. */
struct src_req {
	struct buf	 body;
	int		 toobig;
};

static const struct json_limits src_limits = { 64, 200000 };

/* Trim ASCII whitespace off both ends of s[0..*len); returns the start. */
static const char *
trim(const char *s, size_t *len)
{
	while (*len > 0 && strchr(" \t\r\n\v\f", s[0]) != NULL) {
		s++;
		(*len)--;
	}
	while (*len > 0 && strchr(" \t\r\n\v\f", s[*len - 1]) != NULL)
		(*len)--;
	return s;
}

/* qsort and bsearch order of the oracle table. */
static int
oracle_cmp(const void *a, const void *b)
{
	return strcmp(((const struct oracle *)a)->text,
	    ((const struct oracle *)b)->text);
}

/* A copy of s[0..len) trimmed; caller frees; NULL on OOM. */
static char *
trimdup(const char *s, size_t len)
{
	char	*d;

	s = trim(s, &len);
	if ((d = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

/* The count of calls (the bench-http hook). */
uint64_t
bench_source_calls(void *arg)
{
	struct bench_source	*s = arg;
	uint64_t		 n;

	pthread_mutex_lock(&s->lock);
	n = s->calls;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* The base URL for the layer under test. */
const char *
bench_source_url(const struct bench_source *s)
{
	return s->url;
}

/* Find a nonce in text; see bench-source.h. */
enum bench_nonce
bench_source_nonce(const struct bench_source *s, const char *text, size_t len,
    uint64_t *seq)
{
	size_t		 tl = strlen(NONCE_TAG), i, k;
	uint64_t	 v, issued;
	enum bench_nonce r = BENCH_NONCE_NONE;

	*seq = 0;
	for (i = 0; text != NULL && i + tl <= len; i++) {
		if (memcmp(text + i, NONCE_TAG, tl) != 0)
			continue;
		r = BENCH_NONCE_FOREIGN;
		k = i + tl;
		if (k + RUNID_LEN + 1 >= len ||
		    memcmp(text + k, s->runid, RUNID_LEN) != 0 ||
		    text[k + RUNID_LEN] != '-')
			continue;
		k += RUNID_LEN + 1;
		for (v = 0; k < len && text[k] >= '0' && text[k] <= '9' &&
		    v < UINT64_MAX / 10 - 10; k++)
			v = v * 10 + (uint64_t)(text[k] - '0');
		issued = bench_source_calls((void *)(uintptr_t)s);
		if (v >= 1 && v <= issued) {
			*seq = v;
			return BENCH_NONCE_OURS;
		}
	}
	return r;
}

/* The text of the last user message (string or text parts); caller frees. */
static char *
last_user(const struct json *j, int msgs)
{
	struct buf	 b;
	size_t		 len;
	int		 i, m, c, k, part, t, last = -1;

	for (i = 0; i < json_size(j, msgs); i++)
		if ((m = json_at(j, msgs, i)) >= 0 &&
		    json_type(j, m) == JSON_OBJECT &&
		    (c = json_get(j, m, "role")) >= 0 &&
		    json_streq(j, c, "user"))
			last = m;
	if (last < 0 || (c = json_get(j, last, "content")) < 0)
		return NULL;
	if (json_type(j, c) == JSON_STRING)
		return json_strdup(j, c, &len);
	if (json_type(j, c) != JSON_ARRAY)
		return NULL;
	buf_init(&b, SRC_MAX_BODY);
	for (k = 0; k < json_size(j, c); k++) {
		char *s;
		if ((part = json_at(j, c, k)) < 0 ||
		    json_type(j, part) != JSON_OBJECT ||
		    (t = json_get(j, part, "text")) < 0 ||
		    json_type(j, t) != JSON_STRING ||
		    (s = json_strdup(j, t, &len)) == NULL)
			continue;
		if (buf_append(&b, s, len) != 0) {
			free(s);
			buf_free(&b);
			return NULL;
		}
		free(s);
	}
	if (buf_append(&b, "", 0) != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, &len);
}

/* The oracle's answer for the request's last user message, or NULL. */
static const char *
oracle_answer(const struct bench_source *s, const struct json *j, int msgs)
{
	struct oracle	 key, *o;
	char		*u;

	if (s->noracle == 0 || msgs < 0 || (u = last_user(j, msgs)) == NULL)
		return NULL;
	key.text = trimdup(u, strlen(u));
	free(u);
	if (key.text == NULL)
		return NULL;
	o = bsearch(&key, s->oracle, s->noracle, sizeof(*o), oracle_cmp);
	free(key.text);
	return o != NULL ? o->answer : NULL;
}

/* Queue an answer of status with body[0..len) and content type ct. */
static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, const char *ct,
    const char *body, size_t len)
{
	struct MHD_Response	*r;
	enum MHD_Result		 ret;

	if ((r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY)) == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ct);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* An OpenAI-style error answer. */
static enum MHD_Result
reply_error(struct MHD_Connection *c, unsigned int status, const char *type,
    const char *msg)
{
	char	 b[512];
	int	 n;

	n = snprintf(b, sizeof(b), "{\"error\":{\"message\":\"%s\",\"type\":"
	    "\"%s\",\"param\":null,\"code\":null}}", msg, type);
	return reply(c, status, "application/json", b,
	    n > 0 && (size_t)n < sizeof(b) ? (size_t)n : 0);
}

/* The usage object of a call ("usage":{...}). */
static int
put_usage(struct buf *b, size_t body_len, size_t text_len)
{
	uint64_t	 p = body_len / 4 + 1, c = text_len / 4 + 1;

	return buf_appendf(b, "\"usage\":{\"prompt_tokens\":%llu,"
	    "\"completion_tokens\":%llu,\"total_tokens\":%llu}",
	    (unsigned long long)p, (unsigned long long)c,
	    (unsigned long long)(p + c));
}

/*
 * The head of a completion or chunk object, up to "choices":[; model is
 * a JSON string literal as the request wrote it.
 */
static int
put_head(struct buf *b, const char *nonce, const char *object,
    const char *model, size_t mlen)
{
	return buf_appendf(b, "{\"id\":\"chatcmpl-%s\",\"object\":\"%s\","
	    "\"created\":%lld,\"model\":", nonce, object,
	    (long long)time(NULL)) || buf_append(b, model, mlen) ||
	    buf_appends(b, ",\"choices\":[");
}

/*
 * The answer to chat completions body j of blen bytes, call number seq:
 * a chat.completion, or the SSE chunks of one when it asks to stream.
 */
static int
build_answer(struct bench_source *s, const struct json *j, size_t blen,
    uint64_t seq, struct buf *out, int *stream)
{
	struct buf	 text;
	char		 nonce[64];
	const char	*model = "\"bench-source\"", *ans;
	size_t		 mlen = strlen(model);
	int64_t		 n = 1;
	int		 v, so, iu = 0, i, r;

	snprintf(nonce, sizeof(nonce), NONCE_TAG "%s-%llu", s->runid,
	    (unsigned long long)seq);
	if ((v = json_get(j, 0, "model")) >= 0 && json_type(j, v) ==
	    JSON_STRING)
		model = json_raw(j, v, &mlen);	/* quoted, as written */
	if ((v = json_get(j, 0, "n")) >= 0 && (json_int64(j, v, &n) != 0 ||
	    n < 1 || n > SRC_MAX_N))
		n = 1;
	*stream = 0;
	if ((v = json_get(j, 0, "stream")) >= 0)
		(void)json_bool(j, v, stream);
	if ((so = json_get(j, 0, "stream_options")) >= 0 &&
	    json_type(j, so) == JSON_OBJECT &&
	    (v = json_get(j, so, "include_usage")) >= 0)
		(void)json_bool(j, v, &iu);
	ans = oracle_answer(s, j, json_get(j, 0, "messages"));
	buf_init(&text, SRC_MAX_ANSWER);
	r = buf_appendf(&text, "%s%sCounted answer %s.", ans != NULL ? ans :
	    "", ans != NULL ? " " : "", nonce);
	buf_init(out, SRC_MAX_ANSWER);
	if (!*stream) {
		r |= put_head(out, nonce, "chat.completion", model, mlen);
		for (i = 0; i < n; i++)
			r |= buf_appendf(out, "%s{\"index\":%d,\"message\":"
			    "{\"role\":\"assistant\",\"content\":", i > 0 ? "," :
			    "", i) || json_write_str(out, text.data, text.len) ||
			    buf_appends(out, "},\"finish_reason\":\"stop\"}");
		r |= buf_appends(out, "],") || put_usage(out, blen, text.len) ||
		    buf_appends(out, "}");
	} else {
		for (i = 0; i < n; i++) {
			r |= buf_appends(out, "data: ") || put_head(out, nonce,
			    "chat.completion.chunk", model, mlen) || buf_appendf(out,
			    "{\"index\":%d,\"delta\":{\"role\":\"assistant\","
			    "\"content\":\"\"},\"finish_reason\":null}]}\n\n", i);
			r |= buf_appends(out, "data: ") || put_head(out, nonce,
			    "chat.completion.chunk", model, mlen) || buf_appendf(out,
			    "{\"index\":%d,\"delta\":{\"content\":", i) ||
			    json_write_str(out, text.data, text.len) ||
			    buf_appends(out, "},\"finish_reason\":null}]}\n\n");
			r |= buf_appends(out, "data: ") || put_head(out, nonce,
			    "chat.completion.chunk", model, mlen) || buf_appendf(out,
			    "{\"index\":%d,\"delta\":{},\"finish_reason\":"
			    "\"stop\"}]}\n\n", i);
		}
		if (iu)
			r |= buf_appends(out, "data: ") || put_head(out, nonce,
			    "chat.completion.chunk", model, mlen) ||
			    buf_appends(out, "],") || put_usage(out, blen,
			    text.len) || buf_appends(out, "}\n\n");
		r |= buf_appends(out, "data: [DONE]\n\n");
	}
	buf_free(&text);
	return r != 0 ? -1 : 0;
}

/* Answer one whole chat completions request. */
static enum MHD_Result
chat(struct bench_source *s, struct MHD_Connection *c, struct src_req *q)
{
	struct json		 j;
	struct buf		 out;
	char			 err[128];
	uint64_t		 seq;
	enum MHD_Result		 ret;
	int			 stream = 0;

	if (q->toobig)
		return reply_error(c, 413, "invalid_request_error",
		    "request body too large");
	memset(&j, 0, sizeof(j));
	if (q->body.len == 0 || json_parse(&j, q->body.data, q->body.len,
	    &src_limits, err, sizeof(err)) != 0 ||
	    json_type(&j, 0) != JSON_OBJECT ||
	    json_type(&j, json_get(&j, 0, "messages")) != JSON_ARRAY) {
		json_free(&j);
		return reply_error(c, 400, "invalid_request_error",
		    "a JSON object with messages is needed");
	}
	pthread_mutex_lock(&s->lock);
	seq = ++s->calls;
	pthread_mutex_unlock(&s->lock);
	if (build_answer(s, &j, q->body.len, seq, &out, &stream) != 0) {
		json_free(&j);
		buf_free(&out);
		return reply_error(c, 500, "server_error", "answer too large");
	}
	json_free(&j);
	ret = reply(c, 200, stream ? "text/event-stream" : "application/json",
	    out.data, out.len);
	buf_free(&out);
	return ret;
}

/* The model list: one stand-in model (any name is accepted anyway). */
static enum MHD_Result
models(struct MHD_Connection *c)
{
	static const char body[] = "{\"object\":\"list\",\"data\":[{\"id\":"
	    "\"bench-source\",\"object\":\"model\",\"created\":0,"
	    "\"owned_by\":\"nextmodelctl\"}]}";

	return reply(c, 200, "application/json", body, sizeof(body) - 1);
}

/* libmicrohttpd's request handler: read the body, then route. */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *size,
    void **con_cls)
{
	struct bench_source	*s = cls;
	struct src_req		*q = *con_cls;
	int			 is_chat;

	(void)version;
	is_chat = strcmp(url, "/v1/chat/completions") == 0 ||
	    strcmp(url, "/chat/completions") == 0;
	if (q == NULL) {
		if ((q = calloc(1, sizeof(*q))) == NULL)
			return MHD_NO;
		buf_init(&q->body, SRC_MAX_BODY);
		*con_cls = q;
		return MHD_YES;
	}
	if (*size > 0) {
		if (!q->toobig && is_chat &&
		    buf_append(&q->body, data, *size) != 0)
			q->toobig = 1;
		*size = 0;
		return MHD_YES;
	}
	if (is_chat && strcmp(method, "POST") == 0)
		return chat(s, c, q);
	if ((strcmp(url, "/v1/models") == 0 || strcmp(url, "/models") == 0) &&
	    strcmp(method, "GET") == 0)
		return models(c);
	if (is_chat || strcmp(url, "/v1/models") == 0)
		return reply_error(c, 405, "invalid_request_error",
		    "method not allowed");
	return reply_error(c, 404, "invalid_request_error", "not found");
}

/* Free a request's state when its connection is done with it. */
static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct src_req	*q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (q == NULL)
		return;
	buf_free(&q->body);
	free(q);
	*con_cls = NULL;
}

/* Bind and listen on listen ("HOST:PORT"); the fd, or -1 with err. */
static int
bind_listen(const char *listen_on, char *host, size_t hostlen, int *port,
    char *err, size_t errlen)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	const char		*colon, *h = listen_on, *p;
	size_t			 hl;
	int			 fd = -1, one = 1, rc;

	if ((colon = strrchr(listen_on, ':')) == NULL) {
		snprintf(err, errlen, "--upstream-listen: HOST:PORT");
		return -1;
	}
	p = colon + 1;
	hl = (size_t)(colon - h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hostlen || *p == '\0' || strspn(p, "0123456789") !=
	    strlen(p) || strlen(p) > 5) {
		snprintf(err, errlen, "--upstream-listen: HOST:PORT");
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, p, &hints, &res)) != 0) {
		snprintf(err, errlen, "--upstream-listen %s: %s", listen_on,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype,
		    ai->ai_protocol)) < 0)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 64) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(err, errlen, "--upstream-listen %s: cannot bind",
		    listen_on);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* Copy the oracle tables, trimmed and sorted; 0 or -1 (OOM). */
static int
oracle_load(struct bench_source *s, const char *const *text,
    const char *const *answer, size_t n)
{
	size_t	 i;

	if (n == 0)
		return 0;
	if ((s->oracle = calloc(n, sizeof(*s->oracle))) == NULL)
		return -1;
	for (i = 0; i < n; i++, s->noracle++)
		if ((s->oracle[i].text = trimdup(text[i], strlen(text[i]))) ==
		    NULL || (s->oracle[i].answer = strdup(answer[i])) == NULL) {
			s->noracle++;
			return -1;
		}
	qsort(s->oracle, s->noracle, sizeof(*s->oracle), oracle_cmp);
	return 0;
}

/* Start the source; see bench-source.h. */
struct bench_source *
bench_source_start(const char *listen_on, const char *const *oracle_text,
    const char *const *oracle_answer, size_t noracle, char *err,
    size_t errlen)
{
	struct bench_source	*s;
	unsigned char		 rnd[RUNID_LEN / 2];
	char			 host[256];
	int			 port;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	if (oracle_load(s, oracle_text, oracle_answer, noracle) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (crypto_random(rnd, sizeof(rnd)) != 0) {
		snprintf(err, errlen, "no random bytes for the run id");
		goto fail;
	}
	crypto_hex(rnd, sizeof(rnd), s->runid);
	s->runid[RUNID_LEN] = '\0';
	if ((s->fd = bind_listen(listen_on != NULL ? listen_on :
	    "127.0.0.1:0", host, sizeof(host), &port, err, errlen)) < 0)
		goto fail;
	snprintf(s->url, sizeof(s->url), "http://%s%s%s:%d/v1",
	    strchr(host, ':') != NULL ? "[" : "", host,
	    strchr(host, ':') != NULL ? "]" : "", port);
	s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_AUTO, 0, NULL, NULL, on_request, s,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)SRC_MAX_CONN,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)SRC_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		snprintf(err, errlen, "cannot start the counting source");
		goto fail;
	}
	s->fd = -1;		/* MHD_stop_daemon closes it now */
	return s;
fail:
	bench_source_free(s);
	return NULL;
}

/* Stop and free the source. */
void
bench_source_free(struct bench_source *s)
{
	size_t	 i;

	if (s == NULL)
		return;
	if (s->mhd != NULL)
		MHD_stop_daemon(s->mhd);
	if (s->fd >= 0)
		close(s->fd);
	for (i = 0; i < s->noracle; i++) {
		free(s->oracle[i].text);
		free(s->oracle[i].answer);
	}
	free(s->oracle);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
