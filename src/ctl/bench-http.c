/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The CacheSafety Bench's HTTP client on curl's multi interface: a few
 * slots, each working through one call (its first request, then its
 * second), so a case's requests stay in order while cases overlap.
 * Every answer is bounded in bytes and time; the key is sent only in
 * the Authorization header and never appears in a message.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "crypto.h"
#include "json.h"
#include "bench-http.h"

#define CONNECT_TIMEOUT_MS	10000
#define MODE_HEADER		"x-nextmodel-serve-mode:"
#define ERRMSG_MAX		200

struct slot {
	CURL			*easy;
	struct bench_call	*call;		/* NULL: free */
	int			 stage;		/* index of the request in flight */
	size_t			 max;
	const struct bench_http_opts *o;
	char			 curl_err[CURL_ERROR_SIZE];
};

/* Free the bodies and answer of a call. */
void
bench_call_free(struct bench_call *c)
{
	if (c == NULL)
		return;
	free(c->body[0]);
	free(c->body[1]);
	c->body[0] = c->body[1] = NULL;
	buf_free(&c->answer[0]);
	buf_free(&c->answer[1]);
}

/* curl write callback: append to the answer, refusing past its ceiling. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct slot	*s = arg;

	if (buf_append(&s->call->answer[s->stage], data, size * nmemb) != 0)
		return 0;	/* curl stops with CURLE_WRITE_ERROR */
	return size * nmemb;
}

/* curl header callback: keep the serve mode of the current answer. */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct slot	*s = arg;
	char		*mode = s->call->mode[s->stage];
	size_t		 n = size * nmemb, hl = strlen(MODE_HEADER), i, k;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (after a 1xx): forget the last one's. */
		mode[0] = '\0';
		return n;
	}
	if (n < hl || strncasecmp(data, MODE_HEADER, hl) != 0)
		return n;
	for (i = hl, k = 0; i < n && k + 1 < BENCH_MODE_LEN; i++)
		if (data[i] != '\r' && data[i] != '\n' &&
		    (k > 0 || (data[i] != ' ' && data[i] != '\t')) &&
		    (unsigned char)data[i] >= 0x20 && data[i] != 0x7f)
			mode[k++] = data[i];
	while (k > 0 && (mode[k - 1] == ' ' || mode[k - 1] == '\t'))
		k--;
	mode[k] = '\0';
	return n;
}

/* Copy the printable bytes of s (at most max of them) into out. */
static void
printable(const char *s, size_t len, char *out, size_t outlen)
{
	size_t	 i, k = 0;

	for (i = 0; i < len && i < ERRMSG_MAX && k + 1 < outlen; i++)
		out[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' :
		    s[i];
	out[k] = '\0';
}

/* Why a non-200 answer failed: its OpenAI error message, or its start. */
static void
http_error(struct bench_call *c, const struct buf *a, const char *name,
    long status)
{
	struct json_limits	 lim = { 64, 100000 };
	struct json		 j;
	char			 jerr[64], msg[ERRMSG_MAX + 1];
	const char		*p;
	size_t			 len;
	int			 e, m;

	msg[0] = '\0';
	memset(&j, 0, sizeof(j));
	if (a->len > 0 && json_parse(&j, a->data, a->len,
	    &lim, jerr, sizeof(jerr)) == 0 &&
	    json_type(&j, 0) == JSON_OBJECT &&
	    (e = json_get(&j, 0, "error")) >= 0 &&
	    json_type(&j, e) == JSON_OBJECT &&
	    (m = json_get(&j, e, "message")) >= 0 &&
	    json_type(&j, m) == JSON_STRING) {
		p = json_ptr(&j, m, &len);
		printable(p, len, msg, sizeof(msg));
	} else if (a->len > 0)
		printable(a->data, a->len, msg, sizeof(msg));
	json_free(&j);
	snprintf(c->err, sizeof(c->err), "%s: HTTP %ld%s%s", name, status,
	    msg[0] != '\0' ? ": " : "", msg);
}

/* Hand the slot's next request to curl: 0, or -1 (call failed). */
static int
start(CURLM *m, struct slot *s)
{
	struct bench_call	*c = s->call;

	buf_free(&c->answer[s->stage]);
	buf_init(&c->answer[s->stage], s->max);
	c->mode[s->stage][0] = '\0';
	s->curl_err[0] = '\0';
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)c->len[s->stage]);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, c->body[s->stage]);
	if (s->o->count != NULL)
		c->count[s->stage][0] = s->o->count(s->o->count_arg);
	if (curl_multi_add_handle(m, s->easy) != CURLM_OK) {
		c->error = 1;
		c->failed = s->stage;
		snprintf(c->err, sizeof(c->err), "%s: cannot start the "
		    "request", c->name[s->stage]);
		return -1;
	}
	return 0;
}

/*
 * A request of the slot's call finished with res: record a failure, or
 * go on to the call's next request.  1 while the slot is still busy.
 */
static int
finish(CURLM *m, struct slot *s, CURLcode res)
{
	struct bench_call	*c = s->call;
	struct buf		*a = &c->answer[s->stage];
	const char		*name = c->name[s->stage];
	long			 status = 0;

	curl_multi_remove_handle(m, s->easy);
	if (s->o->count != NULL)
		c->count[s->stage][1] = s->o->count(s->o->count_arg);
	if (res == CURLE_WRITE_ERROR && a->toobig) {
		c->error = 1;
		snprintf(c->err, sizeof(c->err), "%s: answer larger than %zu "
		    "bytes", name, s->max);
	} else if (res != CURLE_OK) {
		c->error = 1;
		snprintf(c->err, sizeof(c->err), "%s: %s", name,
		    s->curl_err[0] != '\0' ? s->curl_err :
		    curl_easy_strerror(res));
	} else {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200) {
			c->error = 1;
			http_error(c, a, name, status);
		}
	}
	if (c->error)
		c->failed = s->stage;
	if (!c->keep)
		buf_free(a);
	if (c->error || ++s->stage >= c->nbody)
		return 0;
	return start(m, s) == 0;
}

/* A slot's easy handle with everything every request shares. */
static CURL *
new_easy(struct slot *s, const struct bench_http_opts *o,
    struct curl_slist *headers)
{
	CURL	*e;

	if ((e = curl_easy_init()) == NULL)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, o->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    o->timeout_ms < CONNECT_TIMEOUT_MS ? o->timeout_ms :
	    CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->curl_err);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "nextmodelctl-bench");
	return e;
}

/* The request headers: JSON, no 100-continue, the key. Caller frees. */
static struct curl_slist *
new_headers(const char *key)
{
	struct curl_slist	*h = NULL, *t;
	struct buf		 b;

	if ((t = curl_slist_append(h, "Content-Type: application/json")) ==
	    NULL)
		return NULL;
	h = t;
	if ((t = curl_slist_append(h, "Expect:")) == NULL)
		goto fail;
	h = t;
	if (key == NULL)
		return h;
	buf_init(&b, 8192);
	if (buf_appendf(&b, "Authorization: Bearer %s", key) != 0) {
		buf_free(&b);
		goto fail;
	}
	t = curl_slist_append(h, b.data);
	crypto_cleanse(b.data, b.len);
	buf_free(&b);
	if (t == NULL)
		goto fail;
	return t;
fail:
	curl_slist_free_all(h);
	return NULL;
}

/* Send every call; see bench-http.h. */
int
bench_http_run(struct bench_call *calls, size_t n,
    const struct bench_http_opts *o, char *err, size_t errlen)
{
	struct curl_slist	*headers = NULL;
	struct slot		*slots = NULL;
	struct CURLMsg		*msg;
	CURLM			*m = NULL;
	size_t			 next = 0, i;
	int			 nslot, active = 0, left, k, r = -1;

	nslot = o->concurrency > 0 ? o->concurrency : 1;
	if ((size_t)nslot > n)
		nslot = n > 0 ? (int)n : 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	if ((headers = new_headers(o->key)) == NULL ||
	    (slots = calloc((size_t)nslot, sizeof(*slots))) == NULL ||
	    (m = curl_multi_init()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (k = 0; k < nslot; k++) {
		slots[k].max = o->max_answer;
		slots[k].o = o;
		if ((slots[k].easy = new_easy(&slots[k], o, headers)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	for (;;) {
		for (k = 0; k < nslot && next < n; k++) {
			if (slots[k].call != NULL)
				continue;
			slots[k].call = &calls[next++];
			slots[k].stage = 0;
			if (slots[k].call->nbody > 0 &&
			    start(m, &slots[k]) == 0)
				active++;
			else
				slots[k].call = NULL;
		}
		if (active == 0 && next >= n)
			break;
		curl_multi_perform(m, &left);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			for (k = 0; k < nslot; k++)
				if (slots[k].easy == msg->easy_handle &&
				    slots[k].call != NULL)
					break;
			if (k == nslot)
				continue;
			if (!finish(m, &slots[k], msg->data.result)) {
				slots[k].call = NULL;
				active--;
			}
		}
		if (active > 0)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	r = 0;
out:
	if (slots != NULL)
		for (k = 0; k < nslot; k++) {
			if (slots[k].easy == NULL)
				continue;
			if (m != NULL && slots[k].call != NULL)
				curl_multi_remove_handle(m, slots[k].easy);
			curl_easy_cleanup(slots[k].easy);
		}
	free(slots);
	if (m != NULL)
		curl_multi_cleanup(m);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	for (i = 0; i < n && r == 0; i++)
		if (calls[i].nbody == 0 && !calls[i].error) {
			calls[i].error = 1;
			snprintf(calls[i].err, sizeof(calls[i].err),
			    "nothing to send");
		}
	return r;
}

/* Wait for the layer under test to listen; see bench-http.h. */
int
bench_http_wait(const char *url, long seconds, char *err, size_t errlen)
{
	struct timespec	 now, end;
	CURL		*e;
	CURLcode	 rc = CURLE_COULDNT_CONNECT;
	int		 oom = 0;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	for (;;) {
		if ((e = curl_easy_init()) == NULL) {
			snprintf(err, errlen, "out of memory");
			oom = 1;
			break;
		}
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
		rc = curl_easy_perform(e);
		curl_easy_cleanup(e);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (rc == CURLE_OK || now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		(void)poll(NULL, 0, 200);
	}
	curl_global_cleanup();
	if (rc != CURLE_OK && !oom)
		snprintf(err, errlen, "--upstream-wait: nothing listens at "
		    "--url after %ld seconds", seconds);
	return rc == CURLE_OK ? 0 : -1;
}
