/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * OpenAI chat requests as Gemini generateContent calls: messages to
 * systemInstruction and user/model contents with multi-part content, tool
 * calls and results as functionCall/functionResponse parts, tools and
 * tool_choice, response_format and the sampling parameters.  A parameter
 * Gemini cannot honour is a 400 naming it, never a silent drop.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "buf.h"
#include "json.h"
#include "strmap.h"
#include "providers/provider.h"
#include "providers/gemini.h"

/* Limits for JSON the client nested in strings (arguments, tool results). */
static const struct json_limits inner_lim = { 64, 1 << 20 };

struct enc {
	struct prov_ctx		*ctx;
	const struct json	*j;
	struct errinfo		*err;
	int			 msgs;
	struct buf		 contents;	/* Content objects, comma-separated */
	int			 ncontents;
	struct buf		 parts;		/* parts of the pending Content */
	int			 nparts;
	const char		*role;		/* of the pending Content */
	struct buf		 sys;		/* systemInstruction parts */
	int			 nsys;
	struct strmap		 calls;		/* tool call id -> name token; first wins */
	char			 param[64];
};

enum part_kind { PK_SYSTEM, PK_USER, PK_ASSISTANT, PK_TOOL };

/* e->param formatted; returned for convenience. */
static const char *pname(struct enc *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static const char *
pname(struct enc *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->param, sizeof(e->param), fmt, ap);
	va_end(ap);
	return e->param;
}

/* Start a part: a comma unless it is the first. */
static int
part_open(struct buf *b, int *n)
{
	return (*n)++ > 0 ? buf_appendc(b, ',') : 0;
}

/* Close the pending Content (consecutive turns of one role are merged). */
static int
flush_content(struct enc *e)
{
	int r = 0;

	if (e->role == NULL || e->nparts == 0)
		return 0;
	r |= part_open(&e->contents, &e->ncontents);
	r |= buf_appendf(&e->contents, "{\"role\":\"%s\",\"parts\":[", e->role);
	r |= buf_append(&e->contents, e->parts.data, e->parts.len);
	r |= buf_appends(&e->contents, "]}");
	buf_reset(&e->parts);
	e->nparts = 0;
	return r;
}

/* Make role the role of the parts that follow. */
static int
begin_role(struct enc *e, const char *role)
{
	int r = 0;

	if (e->role != NULL && strcmp(e->role, role) != 0)
		r = flush_content(e);
	e->role = role;
	return r;
}

/* File extensions Gemini can take by URL, and their MIME types. */
static const struct {
	const char	*ext;
	const char	*mime;
} mime_table[] = {
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "webp", "image/webp" }, { "gif", "image/gif" }, { "heic", "image/heic" },
	{ "heif", "image/heif" }, { "pdf", "application/pdf" },
	{ "wav", "audio/wav" }, { "mp3", "audio/mp3" }, { "aac", "audio/aac" },
	{ "ogg", "audio/ogg" }, { "flac", "audio/flac" }, { "mp4", "video/mp4" },
	{ "mov", "video/mov" }, { "mpeg", "video/mpeg" }, { "webm", "video/webm" },
	{ "txt", "text/plain" },
};

/* The MIME type of a file name or URL by its extension, or NULL. */
static const char *
mime_from_name(const char *s)
{
	size_t n = strcspn(s, "?#"), i, k;
	const char *dot = NULL;

	for (i = 0; i < n; i++) {
		if (s[i] == '/')
			dot = NULL;
		else if (s[i] == '.')
			dot = s + i + 1;
	}
	if (dot == NULL)
		return NULL;
	k = (size_t)(s + n - dot);
	for (i = 0; i < NM_NELEM(mime_table); i++)
		if (strlen(mime_table[i].ext) == k &&
		    strncasecmp(dot, mime_table[i].ext, k) == 0)
			return mime_table[i].mime;
	return NULL;
}

/* Append an inlineData part (mime and data already checked). */
static int
inline_part(struct buf *b, int *n, const char *mime, size_t mlen,
    const char *data, size_t dlen)
{
	return part_open(b, n) |
	    buf_appends(b, "{\"inlineData\":{\"mimeType\":\"") |
	    buf_append(b, mime, mlen) | buf_appends(b, "\",\"data\":\"") |
	    buf_append(b, data, dlen) | buf_appends(b, "\"}}");
}

/* A data: URL ("data:<mime>[;...];base64,<data>") as an inlineData part. */
static int
data_url_part(struct enc *e, const char *url, size_t len, struct buf *b,
    int *n, const char *param)
{
	const char *comma, *mime = url + 5;
	size_t mlen, i;

	comma = memchr(url, ',', len);
	if (comma == NULL || comma - url < 13 ||
	    strncasecmp(comma - 7, ";base64", 7) != 0)
		return gemini_bad_request(e->err, "invalid_value", param,
		    "'%s' must be a base64 data: URL.", param);
	mlen = strcspn(mime, ";");
	for (i = 0; i < mlen; i++)
		if (!isalnum((unsigned char)mime[i]) &&
		    strchr("!#$&^_.+-/", mime[i]) == NULL)
			break;
	/* mime[mlen] is ';' unless a NUL cut the type short. */
	if (mlen == 0 || i < mlen || mime[mlen] != ';' ||
	    memchr(mime, '/', mlen) == NULL ||
	    !gemini_b64_chars(comma + 1, len - (size_t)(comma + 1 - url)))
		return gemini_bad_request(e->err, "invalid_value", param,
		    "'%s' is not a valid base64 data: URL.", param);
	return inline_part(b, n, mime, mlen, comma + 1,
	    len - (size_t)(comma + 1 - url));
}

/* An image_url part: data: URLs inline, http(s) URLs as fileData. */
static int
image_part(struct enc *e, int u, struct buf *b, int *n, const char *param)
{
	const struct json *j = e->j;
	const char *mime;
	char *url;
	size_t len;
	int r = -1;

	if (json_type(j, u) == JSON_OBJECT)
		u = json_get(j, u, "url");
	if ((url = json_strdup(j, u, &len)) == NULL)
		return json_type(j, u) == JSON_STRING ? gemini_no_memory(e->err) :
		    gemini_bad_request(e->err, "invalid_value", param,
		    "'%s' needs a url string.", param);
	if (strncasecmp(url, "data:", 5) == 0)
		r = data_url_part(e, url, len, b, n, param);
	else if (strncasecmp(url, "https://", 8) != 0 &&
	    strncasecmp(url, "http://", 7) != 0)
		gemini_bad_request(e->err, "invalid_value", param, "'%s' must be an "
		    "http(s) or data: URL.", param);
	else if ((mime = mime_from_name(url)) == NULL)
		gemini_bad_request(e->err, "invalid_value", param, "The type of the "
		    "file at '%s' cannot be told from its name; the Gemini API "
		    "of model '%s' needs it: send the image as a data: URL.",
		    param, e->ctx->model->id);
	else
		r = part_open(b, n) |
		    buf_appendf(b, "{\"fileData\":{\"mimeType\":\"%s\","
		    "\"fileUri\":", mime) | json_write_raw(b, j, u) |
		    buf_appends(b, "}}");
	free(url);
	return r;
}

/* An input_audio part {data, format} as inlineData. */
static int
audio_part(struct enc *e, int a, struct buf *b, int *n, const char *param)
{
	const struct json *j = e->j;
	const char *d;
	size_t dlen;
	int data = json_get(j, a, "data"), fmt = json_get(j, a, "format");

	d = json_ptr(j, data, &dlen);
	if (json_type(j, data) != JSON_STRING || !gemini_b64_chars(d, dlen) ||
	    !(json_streq(j, fmt, "wav") || json_streq(j, fmt, "mp3")))
		return gemini_bad_request(e->err, "invalid_value", param, "'%s' needs "
		    "base64 data and a format of wav or mp3.", param);
	return inline_part(b, n, json_streq(j, fmt, "wav") ? "audio/wav" :
	    "audio/mp3", 9, d, dlen);
}

/* A file part {file_data, filename} as inlineData. */
static int
file_part(struct enc *e, int f, struct buf *b, int *n, const char *param)
{
	const struct json *j = e->j;
	const char *mime = NULL, *d;
	char name[256], *fd;
	size_t len;
	int data = json_get(j, f, "file_data"), fn = json_get(j, f, "filename");
	int r;

	if (json_type(j, data) != JSON_STRING)
		return gemini_unsupported(e->ctx, e->err, param, "only file_data can "
		    "be sent to the Gemini API, not file ids");
	if ((fd = json_strdup(j, data, &len)) == NULL)
		return gemini_no_memory(e->err);
	if (strncasecmp(fd, "data:", 5) == 0) {
		r = data_url_part(e, fd, len, b, n, param);
		free(fd);
		return r;
	}
	free(fd);
	if (json_type(j, fn) == JSON_STRING &&
	    json_strcpy(j, fn, name, sizeof(name)) == 0)
		mime = mime_from_name(name);
	d = json_ptr(j, data, &len);
	if (mime == NULL || !gemini_b64_chars(d, len))
		return gemini_bad_request(e->err, "invalid_value", param, "'%s' needs "
		    "a data: URL, or base64 data and a filename with a known "
		    "extension.", param);
	return inline_part(b, n, mime, strlen(mime), d, len);
}

/*
 * The content of message i into parts: a string, or a list of typed
 * parts.  Empty text is left out (Gemini refuses empty text parts).
 */
static int
content_parts(struct enc *e, int i, int c, enum part_kind kind,
    struct buf *b, int *n)
{
	const struct json *j = e->j;
	int k, p, t, v;
	size_t len;

	if (c < 0 || json_type(j, c) == JSON_NULL)
		return 0;
	if (json_type(j, c) == JSON_STRING) {
		json_ptr(j, c, &len);
		if (len == 0)
			return 0;
		return part_open(b, n) | buf_appends(b, "{\"text\":") |
		    json_write_raw(b, j, c) | buf_appendc(b, '}');
	}
	if (json_type(j, c) != JSON_ARRAY)
		return gemini_bad_request(e->err, "invalid_value", pname(e,
		    "messages[%d].content", i), "'%s' must be a string or a list "
		    "of content parts.", e->param);
	for (k = 0, p = c + 1; k < json_size(j, c); k++, p = json_skip(j, p)) {
		pname(e, "messages[%d].content[%d]", i, k);
		t = json_get(j, p, "type");
		if (json_streq(j, t, "text") || (kind == PK_ASSISTANT &&
		    json_streq(j, t, "refusal"))) {
			v = json_get(j, p, json_streq(j, t, "text") ? "text" :
			    "refusal");
			if (json_type(j, v) != JSON_STRING)
				return gemini_bad_request(e->err, "invalid_value",
				    e->param, "'%s' has no text.", e->param);
			json_ptr(j, v, &len);
			if (len > 0 && (part_open(b, n) |
			    buf_appends(b, "{\"text\":") |
			    json_write_raw(b, j, v) | buf_appendc(b, '}')) != 0)
				return -1;
		} else if (kind == PK_USER && json_streq(j, t, "image_url")) {
			if (image_part(e, json_get(j, p, "image_url"), b, n,
			    pname(e, "messages[%d].content[%d].image_url", i,
			    k)) != 0)
				return -1;
		} else if (kind == PK_USER && json_streq(j, t, "input_audio")) {
			if (audio_part(e, json_get(j, p, "input_audio"), b, n,
			    e->param) != 0)
				return -1;
		} else if (kind == PK_USER && json_streq(j, t, "file")) {
			if (file_part(e, json_get(j, p, "file"), b, n,
			    e->param) != 0)
				return -1;
		} else
			return gemini_bad_request(e->err, "invalid_value", e->param,
			    "'%s' has a type the Gemini API of model '%s' cannot "
			    "take in a %s message.", e->param,
			    e->ctx->model->id, kind == PK_SYSTEM ? "system" :
			    kind == PK_USER ? "user" : kind == PK_TOOL ?
			    "tool" : "assistant");
	}
	return 0;
}

/* Copy s with leading and trailing white space removed, into [*p, *p+*n). */
static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && isspace((unsigned char)(*p)[*n - 1]))
		(*n)--;
}

/* The assistant's tool calls of message i as functionCall parts. */
static int
call_parts(struct enc *e, int i, int tcs)
{
	const struct json *j = e->j;
	struct json aj;
	struct callid cid;
	char emsg[128], *args = NULL, *id = NULL;
	const char *p;
	size_t len, idlen;
	int k, tc, fn, name, a, tid, r = -1;

	memset(&aj, 0, sizeof(aj));
	memset(&cid, 0, sizeof(cid));
	if (tcs < 0 || json_type(j, tcs) == JSON_NULL)
		return 0;
	if (json_type(j, tcs) != JSON_ARRAY)
		return gemini_bad_request(e->err, "invalid_value", pname(e,
		    "messages[%d].tool_calls", i), "'%s' must be a list.",
		    e->param);
	for (k = 0, tc = tcs + 1; k < json_size(j, tcs); k++, tc = json_skip(j, tc)) {
		pname(e, "messages[%d].tool_calls[%d]", i, k);
		fn = json_get(j, tc, "function");
		name = json_get(j, fn, "name");
		a = json_get(j, fn, "arguments");
		if (json_type(j, name) != JSON_STRING ||
		    (json_get(j, tc, "type") >= 0 &&
		    !json_streq(j, json_get(j, tc, "type"), "function"))) {
			gemini_bad_request(e->err, "invalid_value", e->param, "'%s' must "
			    "be a function call with a name.", e->param);
			goto out;
		}
		if (json_type(j, a) == JSON_STRING) {
			if ((args = json_strdup(j, a, &len)) == NULL) {
				gemini_no_memory(e->err);
				goto out;
			}
			p = args;
			trim(&p, &len);
		} else
			len = 0;
		if (len > 0 && (json_parse(&aj, p, len, &inner_lim, emsg,
		    sizeof(emsg)) != 0 || json_type(&aj, 0) != JSON_OBJECT)) {
			if (json_oom(emsg)) {
				gemini_no_memory(e->err);
				goto out;
			}
			gemini_bad_request(e->err, "invalid_value", pname(e,
			    "messages[%d].tool_calls[%d].function.arguments", i, k),
			    "'%s' must be a JSON object for the Gemini API.",
			    e->param);
			goto out;
		}
		tid = json_get(j, tc, "id");
		if (json_type(j, tid) == JSON_STRING) {
			if ((id = json_strdup(j, tid, &idlen)) == NULL ||
			    gemini_callid_parse(id, &cid) != 0 ||
			    strmap_put(&e->calls, id, idlen, (size_t)name,
			    0) == -1) {
				gemini_no_memory(e->err);
				goto out;
			}
		}
		if ((part_open(&e->parts, &e->nparts) |
		    buf_appends(&e->parts, "{\"functionCall\":{\"name\":") |
		    json_write_raw(&e->parts, j, name) |
		    buf_appends(&e->parts, ",\"args\":") |
		    (len > 0 ? json_write_raw(&e->parts, &aj, 0) :
		    buf_appends(&e->parts, "{}")) |
		    (cid.gid[0] != '\0' ? buf_appendf(&e->parts, ",\"id\":\"%s\"",
		    cid.gid) : 0) | buf_appendc(&e->parts, '}') |
		    (cid.sig != NULL ? buf_appendf(&e->parts,
		    ",\"thoughtSignature\":\"%s\"", cid.sig) : 0) |
		    buf_appendc(&e->parts, '}')) != 0) {
			gemini_no_memory(e->err);
			goto out;
		}
		json_free(&aj);
		free(args);
		free(id);
		free(cid.sig);
		args = id = NULL;
		memset(&cid, 0, sizeof(cid));
	}
	r = 0;
out:
	json_free(&aj);
	free(args);
	free(id);
	free(cid.sig);
	return r;
}

/*
 * The name token of the first tool call with id cid[0..len) in the
 * assistant messages so far, or -1.
 */
static int
find_call(const struct enc *e, const char *cid, size_t len)
{
	const size_t *name = strmap_get(&e->calls, cid, len);

	return name != NULL ? (int)*name : -1;
}

/*
 * A tool result as a functionResponse.response, which must be an object:
 * a JSON object as it is, any other JSON value or plain text as
 * {"result": ...}.
 */
static int
tool_response(struct buf *b, const char *text, size_t len)
{
	struct json rj;
	char emsg[128];
	const char *p = text;
	size_t n = len;
	int r;

	memset(&rj, 0, sizeof(rj));
	emsg[0] = '\0';
	trim(&p, &n);
	if (n > 0 && json_parse(&rj, p, n, &inner_lim, emsg, sizeof(emsg)) == 0) {
		if (json_type(&rj, 0) == JSON_OBJECT)
			r = json_write_raw(b, &rj, 0);
		else
			r = buf_appends(b, "{\"result\":") |
			    json_write_raw(b, &rj, 0) | buf_appendc(b, '}');
		json_free(&rj);
		return r;
	}
	/* Out of memory is no reason to send JSON as a string. */
	if (json_oom(emsg))
		return -1;
	return buf_appends(b, "{\"result\":") | json_write_str(b, text, len) |
	    buf_appendc(b, '}');
}

/* A tool (or legacy function) message i as a functionResponse part. */
static int
response_part(struct enc *e, int i, int m)
{
	const struct json *j = e->j;
	struct callid cid;
	struct buf text;
	char *id = NULL, *s;
	size_t len, idlen;
	int c, k, p, name, tid, r = -1;

	memset(&cid, 0, sizeof(cid));
	buf_init(&text, 0);
	if (json_streq(j, json_get(j, m, "role"), "function")) {
		name = json_get(j, m, "name");
		if (json_type(j, name) != JSON_STRING)
			return gemini_bad_request(e->err, "invalid_value", pname(e,
			    "messages[%d].name", i), "'%s' is required.",
			    e->param);
	} else {
		tid = json_get(j, m, "tool_call_id");
		if (json_type(j, tid) != JSON_STRING)
			return gemini_bad_request(e->err, "invalid_value", pname(e,
			    "messages[%d].tool_call_id", i), "'%s' is required.",
			    e->param);
		if ((id = json_strdup(j, tid, &idlen)) == NULL ||
		    gemini_callid_parse(id, &cid) != 0) {
			gemini_no_memory(e->err);
			goto out;
		}
		if ((name = find_call(e, id, idlen)) < 0 ||
		    json_type(j, name) != JSON_STRING) {
			gemini_bad_request(e->err, "invalid_value", pname(e,
			    "messages[%d].tool_call_id", i), "'%s' does not match "
			    "a tool call of an earlier assistant message; the "
			    "Gemini API needs the function's name.", e->param);
			goto out;
		}
	}
	c = json_get(j, m, "content");
	if (json_type(j, c) == JSON_STRING) {
		if ((s = json_strdup(j, c, &len)) == NULL ||
		    buf_append(&text, s, len) != 0) {
			free(s);
			gemini_no_memory(e->err);
			goto out;
		}
		free(s);
	} else if (json_type(j, c) == JSON_ARRAY) {
		for (k = 0, p = c + 1; k < json_size(j, c); k++, p = json_skip(j, p)) {
			if (!json_streq(j, json_get(j, p, "type"), "text") ||
			    json_type(j, json_get(j, p, "text")) != JSON_STRING) {
				gemini_bad_request(e->err, "invalid_value", pname(e,
				    "messages[%d].content[%d]", i, k), "'%s' must "
				    "be a text part.", e->param);
				goto out;
			}
			if ((s = json_strdup(j, json_get(j, p, "text"),
			    &len)) == NULL) {
				gemini_no_memory(e->err);
				goto out;
			}
			r = buf_append(&text, s, len);
			free(s);
			if (r != 0) {
				gemini_no_memory(e->err);
				goto out;
			}
			r = -1;
		}
	} else if (c >= 0 && json_type(j, c) != JSON_NULL) {
		gemini_bad_request(e->err, "invalid_value", pname(e,
		    "messages[%d].content", i), "'%s' must be a string or a list "
		    "of text parts.", e->param);
		goto out;
	}
	if ((part_open(&e->parts, &e->nparts) |
	    buf_appends(&e->parts, "{\"functionResponse\":{\"name\":") |
	    json_write_raw(&e->parts, j, name) |
	    buf_appends(&e->parts, ",\"response\":") |
	    tool_response(&e->parts, text.data != NULL ? text.data : "",
	    text.len) | (cid.gid[0] != '\0' ? buf_appendf(&e->parts,
	    ",\"id\":\"%s\"", cid.gid) : 0) | buf_appends(&e->parts, "}}")) != 0) {
		gemini_no_memory(e->err);
		goto out;
	}
	r = 0;
out:
	buf_free(&text);
	free(id);
	free(cid.sig);
	return r;
}

/* Every message into systemInstruction parts and contents. */
static int
encode_messages(struct enc *e)
{
	const struct json *j = e->j;
	int i, m, role, c, n0;

	for (i = 0, m = e->msgs + 1; i < json_size(j, e->msgs); i++,
	    m = json_skip(j, m)) {
		role = json_get(j, m, "role");
		c = json_get(j, m, "content");
		if (json_streq(j, role, "system") ||
		    json_streq(j, role, "developer")) {
			if (content_parts(e, i, c, PK_SYSTEM, &e->sys, &e->nsys) != 0)
				return -1;
		} else if (json_streq(j, role, "user")) {
			if (begin_role(e, "user") != 0)
				return -1;
			n0 = e->nparts;
			if (content_parts(e, i, c, PK_USER, &e->parts,
			    &e->nparts) != 0)
				return -1;
			if (e->nparts == n0)
				return gemini_bad_request(e->err, "invalid_value",
				    pname(e, "messages[%d].content", i), "'%s' is "
				    "empty; the Gemini API takes no empty turn.",
				    e->param);
		} else if (json_streq(j, role, "assistant")) {
			if (begin_role(e, "model") != 0 ||
			    content_parts(e, i, c, PK_ASSISTANT, &e->parts,
			    &e->nparts) != 0 ||
			    call_parts(e, i, json_get(j, m, "tool_calls")) != 0)
				return -1;
		} else if (json_streq(j, role, "tool") ||
		    json_streq(j, role, "function")) {
			if (begin_role(e, "user") != 0 ||
			    response_part(e, i, m) != 0)
				return -1;
		} else
			return gemini_bad_request(e->err, "invalid_value", pname(e,
			    "messages[%d].role", i), "'%s' is not a role the "
			    "Gemini API knows.", e->param);
	}
	if (flush_content(e) != 0)
		return -1;
	if (e->ncontents == 0)
		return gemini_bad_request(e->err, "invalid_value", "messages", "The "
		    "Gemini API of model '%s' needs at least one user message.",
		    e->ctx->model->id);
	return 0;
}

/* What becomes of each top-level field of an OpenAI chat request. */
enum gp_kind {
	GP_DONE,	/* translated below */
	GP_IGNORE,	/* no effect on the answer: dropped */
	GP_NUMBER,	/* a number copied to generationConfig */
	GP_INT,		/* an integer copied to generationConfig */
	GP_REJECT,	/* 400 unless it has its default value */
};

static const struct gem_param {
	const char	*name;
	enum gp_kind	 kind;
	const char	*gname;		/* the generationConfig key */
} gem_params[] = {
	{ "model", GP_DONE, NULL },
	{ "messages", GP_DONE, NULL },
	{ "stream", GP_DONE, NULL },
	{ "stream_options", GP_DONE, NULL },
	{ "tools", GP_DONE, NULL },
	{ "tool_choice", GP_DONE, NULL },
	{ "parallel_tool_calls", GP_DONE, NULL },
	{ "response_format", GP_DONE, NULL },
	{ "stop", GP_DONE, NULL },
	{ "n", GP_DONE, NULL },
	{ "max_tokens", GP_DONE, NULL },
	{ "max_completion_tokens", GP_DONE, NULL },
	{ "reasoning_effort", GP_DONE, NULL },
	{ "modalities", GP_DONE, NULL },
	{ "temperature", GP_NUMBER, "temperature" },
	{ "top_p", GP_NUMBER, "topP" },
	{ "top_k", GP_INT, "topK" },
	{ "presence_penalty", GP_NUMBER, "presencePenalty" },
	{ "frequency_penalty", GP_NUMBER, "frequencyPenalty" },
	{ "seed", GP_INT, "seed" },
	{ "user", GP_IGNORE, NULL },
	{ "metadata", GP_IGNORE, NULL },
	{ "store", GP_IGNORE, NULL },
	{ "service_tier", GP_IGNORE, NULL },
	{ "safety_identifier", GP_IGNORE, NULL },
	{ "prompt_cache_key", GP_IGNORE, NULL },
	{ "logprobs", GP_REJECT, NULL },
	{ "top_logprobs", GP_REJECT, NULL },
	{ "logit_bias", GP_REJECT, NULL },
	{ "functions", GP_REJECT, NULL },
	{ "function_call", GP_REJECT, NULL },
	{ "audio", GP_REJECT, NULL },
	{ "prediction", GP_REJECT, NULL },
	{ "web_search_options", GP_REJECT, NULL },
	{ "verbosity", GP_REJECT, NULL },
};

/* reasoning_effort as a thinking budget in tokens (-1: the model decides). */
static const struct {
	const char	*effort;
	const char	*budget;
} gem_efforts[] = {
	{ "none", "0" }, { "minimal", "128" }, { "low", "1024" },
	{ "medium", "8192" }, { "high", "24576" }, { "xhigh", "32768" },
	{ "max", "32768" },
};

/* 1 if v is null, false, 0, {} or [], the "not asked for" values. */
static int
is_default(const struct json *j, int v)
{
	int64_t x;

	switch (json_type(j, v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return 1;
	case JSON_NUMBER:
		return json_int64(j, v, &x) == 0 && x == 0;
	case JSON_OBJECT:
	case JSON_ARRAY:
		return json_size(j, v) == 0;
	default:
		return 0;
	}
}

/* Check every top-level field; copy the plain numbers into gen. */
static int
encode_params(struct enc *e, struct buf *gen, int *ngen)
{
	const struct json *j = e->j;
	const struct gem_param *gp;
	char key[64];
	int64_t x;
	size_t i;
	int m, k, v;

	for (m = 0, k = 1; m < json_size(j, 0); m++, k = json_skip(j, k + 1)) {
		v = k + 1;
		if (json_strcpy(j, k, key, sizeof(key)) != 0)
			snprintf(key, sizeof(key), "(a long name)");
		for (i = 0, gp = NULL; i < NM_NELEM(gem_params); i++)
			if (strcmp(gem_params[i].name, key) == 0)
				gp = &gem_params[i];
		if (json_type(j, v) == JSON_NULL ||
		    (gp != NULL && gp->kind == GP_DONE) ||
		    (gp != NULL && gp->kind == GP_IGNORE))
			continue;
		if (gp == NULL || (gp->kind == GP_REJECT && !is_default(j, v)))
			return gemini_unsupported(e->ctx, e->err, key, "the Gemini API "
			    "has no equivalent");
		if (gp->kind == GP_REJECT)
			continue;
		if (json_type(j, v) != JSON_NUMBER ||
		    (gp->kind == GP_INT && json_int64(j, v, &x) != 0))
			return gemini_bad_request(e->err, "invalid_type", key, "'%s' must "
			    "be %s.", key, gp->kind == GP_INT ? "an integer" :
			    "a number");
		if ((gemini_member_key(gen, ngen, gp->gname) | json_write_raw(gen, j, v)) != 0)
			return gemini_no_memory(e->err);
	}
	return 0;
}

/* stop, max tokens, n, reasoning_effort and modalities into gen. */
static int
encode_limits(struct enc *e, struct buf *gen, int *ngen)
{
	const struct json *j = e->j;
	int v, t, i, r = 0;
	int64_t x;
	size_t k;

	v = json_get(j, 0, "stop");
	if (json_type(j, v) == JSON_STRING) {
		r |= gemini_member_key(gen, ngen, "stopSequences") | buf_appendc(gen, '[') |
		    json_write_raw(gen, j, v) | buf_appendc(gen, ']');
	} else if (json_type(j, v) == JSON_ARRAY && json_size(j, v) > 0) {
		if (json_size(j, v) > GEM_MAXSTOP)
			return gemini_unsupported(e->ctx, e->err, "stop", "the Gemini "
			    "API takes at most 5 stop sequences");
		r |= gemini_member_key(gen, ngen, "stopSequences") | buf_appendc(gen, '[');
		for (i = 0, t = v + 1; i < json_size(j, v); i++, t = json_skip(j, t)) {
			if (json_type(j, t) != JSON_STRING)
				return gemini_bad_request(e->err, "invalid_type", "stop",
				    "'stop' must be a string or a list of strings.");
			r |= (i > 0 ? buf_appendc(gen, ',') : 0) |
			    json_write_raw(gen, j, t);
		}
		r |= buf_appendc(gen, ']');
	} else if (v >= 0 && json_type(j, v) != JSON_NULL &&
	    json_type(j, v) != JSON_ARRAY)
		return gemini_bad_request(e->err, "invalid_type", "stop", "'stop' must "
		    "be a string or a list of strings.");

	if ((v = json_get(j, 0, "max_completion_tokens")) < 0 ||
	    json_type(j, v) == JSON_NULL)
		v = json_get(j, 0, "max_tokens");
	if (v >= 0 && json_type(j, v) != JSON_NULL) {
		if (json_int64(j, v, &x) != 0 || x < 1)
			return gemini_bad_request(e->err, "invalid_value",
			    json_get(j, 0, "max_completion_tokens") == v ?
			    "max_completion_tokens" : "max_tokens", "The token "
			    "limit must be a positive integer.");
		r |= gemini_member_key(gen, ngen, "maxOutputTokens") |
		    buf_appendf(gen, "%lld", (long long)x);
	}

	v = json_get(j, 0, "n");
	if (v >= 0 && json_type(j, v) != JSON_NULL) {
		if (json_int64(j, v, &x) != 0 || x < 1)
			return gemini_bad_request(e->err, "invalid_value", "n", "'n' must "
			    "be a positive integer.");
		if (x > GEM_MAXCAND)
			return gemini_unsupported(e->ctx, e->err, "n", "at most 8 "
			    "choices per request");
		if (x > 1)
			r |= gemini_member_key(gen, ngen, "candidateCount") |
			    buf_appendf(gen, "%lld", (long long)x);
	}

	v = json_get(j, 0, "reasoning_effort");
	if (v >= 0 && json_type(j, v) != JSON_NULL) {
		for (k = 0; k < NM_NELEM(gem_efforts); k++)
			if (json_streq(j, v, gem_efforts[k].effort))
				break;
		if (k == NM_NELEM(gem_efforts))
			return gemini_bad_request(e->err, "invalid_value",
			    "reasoning_effort", "'reasoning_effort' has a value "
			    "the Gemini API of model '%s' cannot take.",
			    e->ctx->model->id);
		r |= gemini_member_key(gen, ngen, "thinkingConfig") |
		    buf_appendf(gen, "{\"thinkingBudget\":%s}",
		    gem_efforts[k].budget);
	}

	v = json_get(j, 0, "modalities");
	if (v >= 0 && json_type(j, v) != JSON_NULL &&
	    !(json_type(j, v) == JSON_ARRAY && json_size(j, v) == 1 &&
	    json_streq(j, v + 1, "text")))
		return gemini_unsupported(e->ctx, e->err, "modalities", "only text "
		    "output is translated");
	return r != 0 ? gemini_no_memory(e->err) : 0;
}

/* response_format as responseMimeType (+ responseSchema) in gen. */
static int
encode_format(struct enc *e, struct buf *gen, int *ngen)
{
	const struct json *j = e->j;
	int rf = json_get(j, 0, "response_format"), t, s;

	if (rf < 0 || json_type(j, rf) == JSON_NULL)
		return 0;
	t = json_get(j, rf, "type");
	if (json_streq(j, t, "text"))
		return 0;
	if (!json_streq(j, t, "json_object") && !json_streq(j, t, "json_schema"))
		return gemini_bad_request(e->err, "invalid_value", "response_format",
		    "'response_format.type' must be text, json_object or "
		    "json_schema.");
	if (gemini_member_key(gen, ngen, "responseMimeType") |
	    buf_appends(gen, "\"application/json\""))
		return gemini_no_memory(e->err);
	if (json_streq(j, t, "json_object"))
		return 0;
	s = json_get(j, json_get(j, rf, "json_schema"), "schema");
	if (s < 0 || json_type(j, s) == JSON_NULL)
		return 0;
	if (gemini_member_key(gen, ngen, "responseSchema") != 0)
		return gemini_no_memory(e->err);
	return gemini_schema_clean(e->ctx, j, s, 1, "response_format.json_schema.schema",
	    gen, e->err);
}

/* tool_choice, read before the tools are written. */
struct tchoice {
	const char	*mode;		/* NULL: not given */
	int		 one;		/* name token of a forced function, or -1 */
	int		 names;		/* allowed_tools list, or -1 */
};

/* 1 if tool list l ({type, function: {name}} objects) names name. */
static int
tools_name(const struct json *j, int l, int name)
{
	const char *p, *q;
	size_t n, m;
	int i, t, k;

	if (json_type(j, name) != JSON_STRING)
		return 0;
	p = json_ptr(j, name, &n);
	for (i = 0, t = l + 1; i < json_size(j, l); i++, t = json_skip(j, t)) {
		k = json_get(j, json_get(j, t, "function"), "name");
		if (json_type(j, k) == JSON_STRING &&
		    (q = json_ptr(j, k, &m)) != NULL && m == n &&
		    memcmp(p, q, n) == 0)
			return 1;
	}
	return 0;
}

/* Read tool_choice into tc. */
static int
read_choice(struct enc *e, int tools, struct tchoice *tc)
{
	const struct json *j = e->j;
	int v = json_get(j, 0, "tool_choice"), t, at, mode, i, l;

	tc->mode = NULL;
	tc->one = tc->names = -1;
	if (v < 0 || json_type(j, v) == JSON_NULL)
		return 0;
	if (json_streq(j, v, "auto") || json_streq(j, v, "none")) {
		tc->mode = json_streq(j, v, "auto") ? "AUTO" : "NONE";
		return 0;
	}
	if (json_size(j, tools) <= 0)
		return gemini_bad_request(e->err, "invalid_value", "tool_choice",
		    "'tool_choice' needs tools.");
	if (json_streq(j, v, "required")) {
		tc->mode = "ANY";
		return 0;
	}
	t = json_get(j, v, "type");
	if (json_streq(j, t, "function")) {
		tc->one = json_get(j, json_get(j, v, "function"), "name");
		if (!tools_name(j, tools, tc->one))
			return gemini_bad_request(e->err, "invalid_value", "tool_choice",
			    "'tool_choice' names a function that is not in "
			    "'tools'.");
		tc->mode = "ANY";
		return 0;
	}
	if (json_streq(j, t, "allowed_tools")) {
		at = json_get(j, v, "allowed_tools");
		mode = json_get(j, at, "mode");
		l = json_get(j, at, "tools");
		for (i = 0, t = l + 1; i < json_size(j, l); i++, t = json_skip(j, t))
			if (!tools_name(j, tools, json_get(j,
			    json_get(j, t, "function"), "name")))
				break;
		if (json_type(j, l) != JSON_ARRAY || json_size(j, l) == 0 ||
		    i < json_size(j, l) || !(json_streq(j, mode, "auto") ||
		    json_streq(j, mode, "required")))
			return gemini_bad_request(e->err, "invalid_value", "tool_choice",
			    "'tool_choice.allowed_tools' needs a mode of auto or "
			    "required and tools from 'tools'.");
		tc->mode = json_streq(j, mode, "auto") ? "AUTO" : "ANY";
		tc->names = l;
		return 0;
	}
	return gemini_bad_request(e->err, "invalid_value", "tool_choice",
	    "'tool_choice' has a form the Gemini API of model '%s' cannot take.",
	    e->ctx->model->id);
}

/* tools as one functionDeclarations list, and tool_choice as toolConfig. */
static int
encode_tools(struct enc *e, struct buf *b)
{
	const struct json *j = e->j;
	struct tchoice tc;
	int tools = json_get(j, 0, "tools"), ptc, i, t, fn, name, d, p;
	int n = 0, r = 0, k;

	if (tools >= 0 && json_type(j, tools) != JSON_NULL &&
	    json_type(j, tools) != JSON_ARRAY)
		return gemini_bad_request(e->err, "invalid_type", "tools", "'tools' "
		    "must be a list.");
	if (read_choice(e, tools, &tc) != 0)
		return -1;
	ptc = json_get(j, 0, "parallel_tool_calls");
	if (json_type(j, ptc) == JSON_FALSE && json_size(j, tools) > 1)
		return gemini_unsupported(e->ctx, e->err, "parallel_tool_calls", "the "
		    "Gemini API cannot be kept from calling several tools at "
		    "once");
	for (i = 0, t = tools + 1; i < json_size(j, tools); i++, t = json_skip(j, t)) {
		fn = json_get(j, t, "function");
		name = json_get(j, fn, "name");
		if (!json_streq(j, json_get(j, t, "type"), "function") ||
		    json_type(j, name) != JSON_STRING)
			return gemini_bad_request(e->err, "invalid_value", pname(e,
			    "tools[%d]", i), "'%s' must be a function tool with "
			    "a name; the Gemini API takes no other kind.",
			    e->param);
		if (tc.names >= 0 && !tools_name(j, tc.names, name))
			continue;
		r |= buf_appends(b, n++ == 0 ? ",\"tools\":[{\"functionDeclarations\":[" : ",");
		r |= buf_appends(b, "{\"name\":") | json_write_raw(b, j, name);
		if ((d = json_get(j, fn, "description")) >= 0 &&
		    json_type(j, d) == JSON_STRING)
			r |= buf_appends(b, ",\"description\":") |
			    json_write_raw(b, j, d);
		p = json_get(j, fn, "parameters");
		if (gemini_schema_has_props(e->ctx, j, p)) {
			r |= buf_appends(b, ",\"parameters\":");
			if (r != 0 || gemini_schema_clean(e->ctx, j, p, 0, pname(e,
			    "tools[%d].function.parameters", i), b, e->err) != 0)
				return -1;
		}
		r |= buf_appendc(b, '}');
	}
	if (n > 0)
		r |= buf_appends(b, "]}]");
	if (n > 0 && tc.mode != NULL) {
		r |= buf_appendf(b, ",\"toolConfig\":{\"functionCallingConfig\":"
		    "{\"mode\":\"%s\"", tc.mode);
		if (tc.one >= 0)
			r |= buf_appends(b, ",\"allowedFunctionNames\":[") |
			    json_write_raw(b, j, tc.one) | buf_appendc(b, ']');
		else if (tc.names >= 0 && strcmp(tc.mode, "ANY") == 0) {
			r |= buf_appends(b, ",\"allowedFunctionNames\":[");
			for (k = 0, t = tc.names + 1; k < json_size(j, tc.names);
			    k++, t = json_skip(j, t))
				r |= (k > 0 ? buf_appendc(b, ',') : 0) |
				    json_write_raw(b, j, json_get(j,
				    json_get(j, t, "function"), "name"));
			r |= buf_appendc(b, ']');
		}
		r |= buf_appends(b, "}}");
	}
	return r;
}

/* Build POST .../models/{model}:generateContent (or the SSE stream). */
int
gemini_request_encode(struct prov_ctx *ctx, const struct json *j,
    struct upstream_req *ur, struct errinfo *err)
{
	struct enc e;
	struct buf b, gen;
	size_t blen;
	int ngen = 0, r = -1;

	memset(&e, 0, sizeof(e));
	memset(err, 0, sizeof(*err));
	e.ctx = ctx;
	e.j = j;
	e.err = err;
	e.msgs = json_get(j, 0, "messages");
	buf_init(&e.contents, 0);
	buf_init(&e.parts, 0);
	buf_init(&e.sys, 0);
	buf_init(&b, 0);
	buf_init(&gen, 0);
	if (provider_check_sizes(ctx, j, err) != 0 || gemini_state(ctx) == NULL)
		goto out;
	if (json_type(j, e.msgs) != JSON_ARRAY) {
		gemini_bad_request(err, "invalid_value", "messages", "'messages' must "
		    "be a list.");
		goto out;
	}
	if (encode_params(&e, &gen, &ngen) != 0 ||
	    encode_limits(&e, &gen, &ngen) != 0 ||
	    encode_format(&e, &gen, &ngen) != 0 ||
	    encode_messages(&e) != 0)
		goto out;
	if (buf_appends(&b, "{\"contents\":[") != 0 ||
	    buf_append(&b, e.contents.data, e.contents.len) != 0 ||
	    buf_appendc(&b, ']') != 0)
		goto out;
	if (e.nsys > 0 && (buf_appends(&b, ",\"systemInstruction\":{\"parts\":[") |
	    buf_append(&b, e.sys.data, e.sys.len) | buf_appends(&b, "]}")) != 0)
		goto out;
	if (encode_tools(&e, &b) != 0)
		goto out;
	if (ngen > 0 && (buf_appends(&b, ",\"generationConfig\":{") |
	    buf_append(&b, gen.data, gen.len) | buf_appendc(&b, '}')) != 0)
		goto out;
	if (buf_appendc(&b, '}') != 0 ||
	    gemini_set_call(ctx, ur, ctx->stream ? "streamGenerateContent?alt=sse" :
	    "generateContent", ctx->stream) != 0)
		goto out;
	ctx->asked_usage = ctx->stream;	/* Gemini always sends usageMetadata */
	ur->body = buf_steal(&b, &blen);
	ur->body_len = blen;
	r = 0;
out:
	if (r != 0 && err->status == 0)
		gemini_no_memory(err);
	buf_free(&e.contents);
	buf_free(&e.parts);
	buf_free(&e.sys);
	strmap_free(&e.calls);
	buf_free(&b);
	buf_free(&gen);
	return r;
}
