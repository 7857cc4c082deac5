/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * --detect upstream, the judging side: was the counting source called
 * while a request was out, and whose nonce does its answer carry?  A hit
 * is an answer the source was not called for, or one carrying a nonce
 * issued before the request was sent; what does not add up (no nonce, a
 * nonce never issued, a call with an old answer, a header that says
 * otherwise) is reported as an inconsistency.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "buf.h"
#include "json.h"
#include "bench.h"

#define MAX_TEXT	(8 * 1024 * 1024)

static const struct json_limits limits_answer = { 64, 1000000 };

/* Append choices[0].<field>.content of JSON text[0..len) to out. */
static int
add_content(const char *text, size_t len, const char *field, struct buf *out)
{
	struct json	 j;
	char		 err[64], *s;
	size_t		 n;
	int		 ch, c, m, v, r = 0;

	if (json_parse(&j, text, len, &limits_answer, err, sizeof(err)) != 0)
		return 0;
	if (json_type(&j, 0) == JSON_OBJECT &&
	    (ch = json_get(&j, 0, "choices")) >= 0 &&
	    (c = json_at(&j, ch, 0)) >= 0 &&
	    (m = json_get(&j, c, field)) >= 0 &&
	    (v = json_get(&j, m, "content")) >= 0 &&
	    json_type(&j, v) == JSON_STRING) {
		if ((s = json_strdup(&j, v, &n)) == NULL)
			r = -1;
		else {
			r = buf_append(out, s, n);
			free(s);
		}
	}
	json_free(&j);
	return r;
}

/* The message text of an answer, JSON or SSE chunks; caller frees. */
char *
bench_answer_text(const struct buf *a, size_t *len)
{
	struct buf	 out;
	const char	*p, *end, *nl;
	size_t		 n;

	*len = 0;
	buf_init(&out, MAX_TEXT);
	if (a->data == NULL || a->len == 0)
		goto done;
	p = a->data;
	while (p < a->data + a->len && strchr(" \t\r\n", *p) != NULL)
		p++;
	if (p < a->data + a->len && *p == '{') {
		if (add_content(a->data, a->len, "message", &out) != 0)
			goto fail;
		goto done;
	}
	for (p = a->data, end = a->data + a->len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n < 5 || memcmp(p, "data:", 5) != 0)
			continue;
		if (add_content(p + 5, n - 5, "delta", &out) != 0)
			goto fail;
	}
done:
	if (buf_append(&out, "", 0) != 0)
		goto fail;
	return buf_steal(&out, len);
fail:
	buf_free(&out);
	return NULL;
}

static void	note(struct bench_seen *, const char *, ...) NM_PRINTF(2, 3);

/* Append "; " and the formatted note to seen->note. */
static void
note(struct bench_seen *seen, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 n = strlen(seen->note);
	char	 tmp[200];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	snprintf(seen->note + n, sizeof(seen->note) - n, "%s%s",
	    n > 0 ? "; " : "", tmp);
}

/* Judge request stage of call k; see bench.h. */
void
bench_upstream_judge(const struct bench_source *src,
    const struct bench_call *k, int stage, int first_of_pair,
    uint64_t first_nonce, struct bench_seen *seen)
{
	const char		*mode = k->mode[stage];
	enum bench_layer	 hl = bench_layer_of(mode, strlen(mode));
	uint64_t		 before = k->count[stage][0];
	char			*text;
	size_t			 len;
	int			 old, hit;

	memset(seen, 0, sizeof(*seen));
	seen->calls = k->count[stage][1] - before;
	if ((text = bench_answer_text(&k->answer[stage], &len)) == NULL) {
		note(seen, "cannot read the answer");
		seen->nkind = BENCH_NONCE_NONE;
	} else
		seen->nkind = bench_source_nonce(src, text, len, &seen->nonce);
	free(text);
	old = seen->nkind == BENCH_NONCE_OURS && seen->nonce <= before;
	hit = seen->calls == 0 || old;
	seen->layer = !hit ? BENCH_MISS : hl != BENCH_MISS ? hl :
	    BENCH_UNLABELED;
	if (seen->nkind == BENCH_NONCE_NONE)
		note(seen, "no nonce of the counting source in the answer");
	else if (seen->nkind == BENCH_NONCE_FOREIGN)
		note(seen, "a nonce the counting source never issued (an "
		    "entry from an earlier run?)");
	if (seen->calls > 0 && old)
		note(seen, "the source was called %llu time(s) for it, yet "
		    "the answer of an older call (#%llu) was served",
		    (unsigned long long)seen->calls,
		    (unsigned long long)seen->nonce);
	else if (seen->calls > 1)
		note(seen, "the source was called %llu times for one request",
		    (unsigned long long)seen->calls);
	if (hit && first_of_pair && seen->nkind == BENCH_NONCE_OURS)
		note(seen, "answered without calling the source (call "
		    "#%llu's answer)", (unsigned long long)seen->nonce);
	if (hit && stage == 1 && old && first_nonce != 0 &&
	    seen->nonce != first_nonce)
		note(seen, "served the answer of call #%llu, not the first "
		    "request's (#%llu)", (unsigned long long)seen->nonce,
		    (unsigned long long)first_nonce);
	if (mode[0] != '\0' && hl != BENCH_MISS && !hit)
		note(seen, "x-nextmodel-serve-mode says %s, but the source was "
		    "called for it", mode);
	if (mode[0] != '\0' && hl == BENCH_MISS && hit)
		note(seen, "x-nextmodel-serve-mode says %s, but the source was "
		    "not called for it", mode);
}
