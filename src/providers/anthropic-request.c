/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The Anthropic Messages API request, from the client's OpenAI body
 * (wire-formats.md 5.1): system prompts hoisted, same-role turns merged,
 * tool calls paired with their results under ids Anthropic accepts, JSON
 * modes as a forced tool, and a 400 for what cannot be honoured.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nextmodel.h"
#include "buf.h"
#include "crypto.h"
#include "json.h"
#include "strmap.h"
#include "providers/anthropic.h"
#include "providers/provider.h"

#define ANTH_DEFAULT_MAX	4096	/* max_tokens when the catalog knows no max_output */
#define ANTH_MAX_CAP		16384	/* a defaulted max_tokens never goes above this */
#define ANTH_MIN_BUDGET		1024	/* the smallest thinking budget Anthropic takes */

/* --- small helpers ---------------------------------------------------- */

static int bad(struct errinfo *, const char *, const char *, const char *, ...)
    NM_PRINTF(4, 5);

/* A 400 for the client naming param (may be NULL); returns -1. */
static int
bad(struct errinfo *err, const char *param, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->status = 400;
	snprintf(err->type, sizeof(err->type), "invalid_request_error");
	if (code != NULL)
		snprintf(err->code, sizeof(err->code), "%s", code);
	if (param != NULL)
		snprintf(err->param, sizeof(err->param), "%s", param);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* Out of memory while translating; returns -1. */
static int
oom(struct errinfo *err)
{
	provider_err(err, 500, "server_error", NULL, "out of memory");
	return -1;
}

/* Member key of obj when it is present and not null, else -1. */
static int
member(const struct json *j, int obj, const char *key)
{
	int t;

	if ((t = json_get(j, obj, key)) < 0 || json_type(j, t) == JSON_NULL)
		return -1;
	return t;
}

/* A comma before the next element of a list held in b. */
static int
sep(struct buf *b)
{
	return b->len > 0 ? buf_appendc(b, ',') : 0;
}

/* 1 if string token t is empty or only whitespace (escaped or not). */
static int
blank(const struct json *j, int t)
{
	const char *p;
	size_t n, i;

	p = json_ptr(j, t, &n);
	for (i = 0; i < n; i++) {
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')
			continue;
		if (p[i] == '\\' && i + 1 < n && (p[i + 1] == 'n' ||
		    p[i + 1] == 't' || p[i + 1] == 'r')) {
			i++;
			continue;
		}
		return 0;
	}
	return 1;
}

/* Valid JSON text p without its insignificant whitespace, appended to b. */
int
anthropic_compact(struct buf *b, const char *p, size_t n)
{
	size_t i, from = 0;
	int in = 0;

	for (i = 0; i < n; i++) {
		if (in) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in = 0;
		} else if (p[i] == '"')
			in = 1;
		else if (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
		    p[i] == '\r') {
			if (i > from && buf_append(b, p + from, i - from) != 0)
				return -1;
			from = i + 1;
		}
	}
	return from < n ? buf_append(b, p + from, n - from) : 0;
}

/*
 * Where number i lies against [0, 1]: -1 below, 0 inside, 1 above.
 * Exact on the decimal text (the value is 0.d1d2.. x 10^e), no double.
 */
static int
unit_range(const struct json *j, int i)
{
	const char *p, *end, *ip, *fp;
	size_t len;
	long long ni, nf = 0, x = 0, nd, lead, e, k;
	int neg = 0, xneg = 0;

	p = json_ptr(j, i, &len);
	end = p + len;
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	for (ip = p; p < end && isdigit((unsigned char)*p); p++)
		;
	ni = p - ip;
	fp = p;
	if (p < end && *p == '.') {
		for (fp = ++p; p < end && isdigit((unsigned char)*p); p++)
			;
		nf = p - fp;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			xneg = *p++ == '-';
		for (; p < end; p++)
			if (x < 100000000)
				x = x * 10 + (*p - '0');
		if (xneg)
			x = -x;
	}
	nd = ni + nf;
#define DIGIT(k) ((k) < ni ? ip[(k)] : fp[(k) - ni])
	for (lead = 0; lead < nd && DIGIT(lead) == '0'; lead++)
		;
	if (lead == nd)
		return 0;
	if (neg)
		return -1;
	e = ni + x - lead;
	if (e <= 0)
		return 0;
	if (e >= 2 || DIGIT(lead) != '1')
		return 1;
	for (k = lead + 1; k < nd; k++)
		if (DIGIT(k) != '0')
			return 1;
#undef DIGIT
	return 0;
}

/* --- parameters without an Anthropic equivalent ---------------------- */

static int
is_one(const struct json *j, int v)
{
	int64_t n;

	return json_int64(j, v, &n) == 0 && n == 1;
}

static int
is_false(const struct json *j, int v)
{
	return json_type(j, v) == JSON_FALSE;
}

static int
is_zero(const struct json *j, int v)
{
	int64_t n;

	return json_int64(j, v, &n) == 0 && n == 0;
}

static int
is_empty(const struct json *j, int v)
{
	return json_type(j, v) == JSON_OBJECT && json_size(j, v) == 0;
}

/* modalities: ["text"] is what Anthropic does anyway. */
static int
text_only(const struct json *j, int v)
{
	return json_type(j, v) == JSON_ARRAY && json_size(j, v) == 1 &&
	    json_streq(j, v + 1, "text");
}

static int
never(const struct json *j, int v)
{
	(void)j;
	(void)v;
	return 0;
}

/*
 * Every request field we know.  Without a check: used by the translation
 * or unable to change the answer.  With one: only its neutral value passes;
 * anything else would silently change the answer, so it is a 400.  A
 * field not in the table is a 400 as well (null always passes).
 */
static const struct param {
	const char	*name;
	int		(*neutral)(const struct json *, int);
} params[] = {
	{ "model", NULL }, { "messages", NULL }, { "stream", NULL },
	{ "max_tokens", NULL }, { "max_completion_tokens", NULL },
	{ "temperature", NULL }, { "top_p", NULL }, { "top_k", NULL },
	{ "stop", NULL }, { "tools", NULL }, { "tool_choice", NULL },
	{ "parallel_tool_calls", NULL }, { "response_format", NULL },
	{ "user", NULL }, { "reasoning_effort", NULL },
	{ "stream_options", NULL }, { "store", NULL }, { "metadata", NULL },
	{ "service_tier", NULL }, { "prompt_cache_key", NULL },
	{ "safety_identifier", NULL },
	{ "n", is_one }, { "logprobs", is_false }, { "top_logprobs", is_zero },
	{ "logit_bias", is_empty }, { "presence_penalty", is_zero },
	{ "frequency_penalty", is_zero }, { "seed", never }, { "audio", never },
	{ "modalities", text_only }, { "prediction", never },
	{ "functions", never }, { "function_call", never },
};

/* Refuse what cannot be honoured: 0, or -1 with a 400 naming the field. */
static int
check_params(struct prov_ctx *ctx, const struct json *j, struct errinfo *err)
{
	const struct param *p;
	char name[64];
	int k, m;
	size_t i;

	for (k = 1, m = 0; m < json_size(j, 0); m++, k = json_skip(j, k + 1)) {
		if (json_type(j, k + 1) == JSON_NULL)
			continue;
		for (i = 0, p = NULL; i < NM_NELEM(params) && p == NULL; i++)
			if (json_streq(j, k, params[i].name))
				p = &params[i];
		if (p != NULL && (p->neutral == NULL || p->neutral(j, k + 1)))
			continue;
		if (json_strcpy(j, k, name, sizeof(name)) != 0)
			snprintf(name, sizeof(name), "(a long name)");
		if (p == NULL)
			return bad(err, name, "unsupported_parameter", "The "
			    "parameter '%s' is not supported by model '%s' (an "
			    "Anthropic Messages API model).", name,
			    ctx->model->id);
		return bad(err, name, "unsupported_parameter", "Model '%s' "
		    "cannot honour '%s' with this value: the Anthropic Messages "
		    "API has no equivalent.", ctx->model->id, name);
	}
	return 0;
}

/* --- messages ---------------------------------------------------------- */

/* A tool_use or tool_result id of a turn, with its message for errors. */
struct tid {
	char	*id;
	int	 msg;
};

/* One Anthropic turn: consecutive same-role messages merged. */
struct turn {
	int		 user;
	int		 msg;		/* its first message */
	struct buf	 res;		/* tool_result blocks: they go first */
	struct buf	 blk;		/* every other block */
	struct tid	*ids;
	size_t		 nids, capids;
	struct strmap	 idset;		/* the ids, to find one at once */
};

struct conv {
	struct prov_ctx	*ctx;
	const struct json *j;
	struct errinfo	*err;
	struct buf	 sys;		/* system text blocks */
	struct turn	*t;
	size_t		 n, capt;
	char		**dups;		/* sorted ids several assistant turns use */
	size_t		 ndups;
	char		**declid;	/* Anthropic ids of the tool calls */
	size_t		 ndecl, capdecl;
	struct strmap	 decl;		/* client's id -> latest declid index */
	char		**names;	/* tool names the history calls, first use first */
	size_t		 nnames, capnames;
	struct strmap	 nameset;	/* the same names, to find one at once */
};

/*
 * v, or v grown so that item n fits (*cap items, doubling: a request
 * with many tool calls is not copied over and over).  NULL on OOM, v is
 * left alone then.
 */
static void *
room(void *v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return v;
	ncap = *cap < 8 ? 8 : *cap * 2;
	if (ncap > SIZE_MAX / size || (nv = realloc(v, ncap * size)) == NULL)
		return NULL;
	*cap = ncap;
	return nv;
}

static int
valid_idc(int c)
{
	return isalnum(c) || c == '_' || c == '-';
}

/*
 * The id Anthropic gets for a client's tool-call id: unchanged when it
 * matches ^[a-zA-Z0-9_-]+$, else its valid characters and a hash of it;
 * msg >= 0 (an id several turns reuse) adds the message.  Deterministic,
 * so a tool_use and its tool_result agree.  Caller frees; NULL on OOM.
 */
static char *
rewrite_id(const char *orig, size_t len, int msg)
{
	char hex[CRYPTO_SHA256_HEXLEN + 1];
	struct buf b;
	size_t i;
	int ok = len > 0, r = 0;

	for (i = 0; i < len && ok; i++)
		ok = valid_idc((unsigned char)orig[i]);
	buf_init(&b, 0);
	if (ok && msg < 0)
		r |= buf_append(&b, orig, len);
	else {
		for (i = 0; i < len && i < 40; i++)
			r |= buf_appendc(&b, valid_idc((unsigned char)orig[i]) ?
			    orig[i] : '_');
		if (b.len == 0)
			r |= buf_appends(&b, "call");
		if (!ok) {
			crypto_sha256_hex(orig, len, hex);
			r |= buf_appendf(&b, "_%.12s", hex);
		}
		if (msg >= 0)
			r |= buf_appendf(&b, "_m%d", msg);
	}
	if (r != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

static int
strpcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Find the ids that several assistant messages declare (pre-scan). */
static int
find_dups(struct conv *cv, int msgs)
{
	const struct json *j = cv->j;
	char **all = NULL, **nv;
	size_t n = 0, cap = 0, capdups = 0, i;
	int m, c, tc, id, k, q, r = -1;

	for (k = 0, m = msgs + 1; k < json_size(j, msgs); k++, m = json_skip(j, m)) {
		if (!json_streq(j, json_get(j, m, "role"), "assistant") ||
		    (tc = member(j, m, "tool_calls")) < 0 ||
		    json_type(j, tc) != JSON_ARRAY)
			continue;
		for (q = 0, c = tc + 1; q < json_size(j, tc); q++, c = json_skip(j, c)) {
			if ((id = json_get(j, c, "id")) < 0 ||
			    json_type(j, id) != JSON_STRING)
				continue;
			if ((nv = room(all, &cap, n, sizeof(*all))) == NULL)
				goto out;
			all = nv;
			if ((all[n] = json_strdup(j, id, NULL)) == NULL)
				goto out;
			n++;
		}
	}
	if (n > 1)
		qsort(all, n, sizeof(*all), strpcmp);
	for (i = 1; i < n; i++) {
		if (strcmp(all[i], all[i - 1]) != 0 || (cv->ndups > 0 &&
		    strcmp(cv->dups[cv->ndups - 1], all[i]) == 0))
			continue;
		if ((nv = room(cv->dups, &capdups, cv->ndups,
		    sizeof(*nv))) == NULL)
			goto out;
		cv->dups = nv;
		if ((cv->dups[cv->ndups] = strdup(all[i])) == NULL)
			goto out;
		cv->ndups++;
	}
	r = 0;
out:
	for (i = 0; i < n; i++)
		free(all[i]);
	free(all);
	return r;
}

/* The turn for a block of role user/assistant from message msg; NULL on OOM. */
static struct turn *
turn_for(struct conv *cv, int user, int msg)
{
	struct turn *t;

	if (cv->n > 0 && cv->t[cv->n - 1].user == user)
		return &cv->t[cv->n - 1];
	if ((t = room(cv->t, &cv->capt, cv->n, sizeof(*t))) == NULL)
		return NULL;
	cv->t = t;
	t = &cv->t[cv->n++];
	memset(t, 0, sizeof(*t));
	t->user = user;
	t->msg = msg;
	buf_init(&t->res, 0);
	buf_init(&t->blk, 0);
	return t;
}

/* Remember an id of a turn; id is taken over. */
static int
turn_id(struct turn *t, char *id, int msg)
{
	struct tid *v;

	if ((v = room(t->ids, &t->capids, t->nids, sizeof(*v))) == NULL ||
	    strmap_put(&t->idset, id, strlen(id), t->nids, 0) == -1) {
		if (v != NULL)
			t->ids = v;
		free(id);
		return -1;
	}
	t->ids = v;
	t->ids[t->nids].id = id;
	t->ids[t->nids++].msg = msg;
	return 0;
}

/* 1 if turn t holds id. */
static int
turn_has(const struct turn *t, const char *id)
{
	return t != NULL && strmap_get(&t->idset, id, strlen(id)) != NULL;
}

/* Append the comma-separated blocks of tmp to the res or blk list of a turn. */
static int
turn_add(struct conv *cv, int user, int msg, struct buf *tmp, int res)
{
	struct turn *t;
	struct buf *b;

	if (tmp->len == 0)
		return 0;
	if ((t = turn_for(cv, user, msg)) == NULL)
		return -1;
	b = res ? &t->res : &t->blk;
	if (sep(b) != 0 || buf_append(b, tmp->data, tmp->len) != 0)
		return -1;
	return 0;
}

/* {"type":"text","text":...} for string token s, unless it is blank. */
static int
put_text(struct buf *b, const struct json *j, int s)
{
	if (blank(j, s))
		return 0;
	if (sep(b) != 0 || buf_appends(b, "{\"type\":\"text\",\"text\":") != 0 ||
	    json_write_raw(b, j, s) != 0 || buf_appendc(b, '}') != 0)
		return -1;
	return 0;
}

/* The media types Anthropic takes inline, and the names we accept for them. */
static const struct mtype {
	const char	*in;
	const char	*out;
} mtypes[] = {
	{ "image/jpeg", "image/jpeg" }, { "image/jpg", "image/jpeg" },
	{ "image/png", "image/png" }, { "image/gif", "image/gif" },
	{ "image/webp", "image/webp" },
};

/* An image_url part as an image block: data: URLs inline, http(s) by URL. */
static int
put_image(struct conv *cv, struct buf *b, int part, int msg)
{
	const struct json *j = cv->j;
	const char *mt = NULL, *semi, *data;
	char *u = NULL;
	size_t len, i;
	int iu, url, r = -1;

	if ((iu = json_get(j, part, "image_url")) >= 0 &&
	    json_type(j, iu) == JSON_OBJECT)
		url = json_get(j, iu, "url");
	else
		url = iu;
	if (url < 0 || json_type(j, url) != JSON_STRING)
		return bad(cv->err, "messages", NULL, "messages[%d]: an "
		    "image_url part needs image_url.url.", msg);
	if ((u = json_strdup(j, url, &len)) == NULL)
		return oom(cv->err);
	if (len > 5 && strncasecmp(u, "data:", 5) == 0) {
		semi = memchr(u + 5, ';', len - 5);
		for (i = 0; semi != NULL && i < NM_NELEM(mtypes); i++)
			if ((size_t)(semi - (u + 5)) == strlen(mtypes[i].in) &&
			    strncasecmp(u + 5, mtypes[i].in, semi - (u + 5)) == 0)
				mt = mtypes[i].out;
		if (mt == NULL || strncmp(semi, ";base64,", 8) != 0) {
			bad(cv->err, "messages", "unsupported_value",
			    "messages[%d]: model '%s' takes base64 data: URLs of "
			    "image/jpeg, image/png, image/gif or image/webp only.",
			    msg, cv->ctx->model->id);
			goto out;
		}
		data = semi + 8;
		if (sep(b) != 0 || buf_appends(b, "{\"type\":\"image\",\"source\":"
		    "{\"type\":\"base64\",\"media_type\":") != 0 ||
		    json_write_cstr(b, mt) != 0 || buf_appends(b, ",\"data\":") != 0 ||
		    json_write_str(b, data, len - (size_t)(data - u)) != 0 ||
		    buf_appends(b, "}}") != 0)
			goto nomem;
	} else if ((len > 7 && strncasecmp(u, "http://", 7) == 0) ||
	    (len > 8 && strncasecmp(u, "https://", 8) == 0)) {
		if (sep(b) != 0 || buf_appends(b, "{\"type\":\"image\",\"source\":"
		    "{\"type\":\"url\",\"url\":") != 0 ||
		    json_write_str(b, u, len) != 0 || buf_appends(b, "}}") != 0)
			goto nomem;
	} else {
		bad(cv->err, "messages", "unsupported_value", "messages[%d]: an "
		    "image URL must be https://, http:// or a data: URL.", msg);
		goto out;
	}
	r = 0;
	goto out;
nomem:
	oom(cv->err);
out:
	free(u);
	return r;
}

/*
 * The blocks of a content (a string, or an array of parts) into b.
 * images: image_url parts are allowed (user messages).
 */
static int
put_content(struct conv *cv, struct buf *b, int content, int msg, int images)
{
	const struct json *j = cv->j;
	char type[32];
	int p, k, ty, s;

	if (content < 0 || json_type(j, content) == JSON_NULL)
		return 0;
	if (json_type(j, content) == JSON_STRING)
		return put_text(b, j, content) == 0 ? 0 : oom(cv->err);
	if (json_type(j, content) != JSON_ARRAY)
		return bad(cv->err, "messages", NULL, "messages[%d].content must "
		    "be a string or an array of parts.", msg);
	for (k = 0, p = content + 1; k < json_size(j, content); k++, p = json_skip(j, p)) {
		ty = json_get(j, p, "type");
		if (json_streq(j, ty, "text") || json_streq(j, ty, "refusal")) {
			s = json_get(j, p, json_streq(j, ty, "text") ? "text" :
			    "refusal");
			if (s < 0 || json_type(j, s) != JSON_STRING)
				return bad(cv->err, "messages", NULL, "messages"
				    "[%d].content[%d] has no text.", msg, k);
			if (put_text(b, j, s) != 0)
				return oom(cv->err);
		} else if (images && json_streq(j, ty, "image_url")) {
			if (put_image(cv, b, p, msg) != 0)
				return -1;
		} else {
			if (json_strcpy(j, ty, type, sizeof(type)) != 0)
				snprintf(type, sizeof(type), "?");
			return bad(cv->err, "messages", "unsupported_value",
			    "messages[%d].content[%d]: parts of type '%s' are "
			    "not supported here by model '%s'.", msg, k, type,
			    cv->ctx->model->id);
		}
	}
	return 0;
}

/* system and developer messages: hoisted into the top-level system. */
static int
add_system(struct conv *cv, int m, int msg)
{
	return put_content(cv, &cv->sys, json_get(cv->j, m, "content"), msg, 0);
}

/* A user message: text and images. */
static int
add_user(struct conv *cv, int m, int msg)
{
	struct buf tmp;
	int r;

	buf_init(&tmp, 0);
	r = put_content(cv, &tmp, json_get(cv->j, m, "content"), msg, 1);
	if (r == 0 && turn_add(cv, 1, msg, &tmp, 0) != 0)
		r = oom(cv->err);
	buf_free(&tmp);
	return r;
}

/* 1 if the sorted list of ids several turns declare holds s. */
static int
is_dup(const struct conv *cv, const char *s)
{
	return cv->ndups > 0 && bsearch(&s, cv->dups, cv->ndups,
	    sizeof(*cv->dups), strpcmp) != NULL;
}

/*
 * Declare the client's id orig at message msg (the latest declaration
 * wins); the Anthropic id is returned (not a copy).
 */
static const char *
declare(struct conv *cv, const char *orig, size_t len, int msg)
{
	char **d, *id;

	if ((id = rewrite_id(orig, len, is_dup(cv, orig) ? msg : -1)) == NULL)
		return NULL;
	if ((d = room(cv->declid, &cv->capdecl, cv->ndecl,
	    sizeof(*d))) == NULL ||
	    strmap_put(&cv->decl, orig, strlen(orig), cv->ndecl, 1) == -1) {
		if (d != NULL)
			cv->declid = d;
		free(id);
		return NULL;
	}
	cv->declid = d;
	cv->declid[cv->ndecl++] = id;
	return id;
}

/* Note a tool name the history uses (for the tools a history needs). */
static int
note_name(struct conv *cv, const struct json *j, int name)
{
	char **v, *s;
	size_t len;
	int r;

	if ((s = json_strdup(j, name, NULL)) == NULL)
		return -1;
	/* Names compare as C strings, as they are written out. */
	len = strlen(s);
	if ((v = room(cv->names, &cv->capnames, cv->nnames,
	    sizeof(*v))) == NULL) {
		free(s);
		return -1;
	}
	cv->names = v;
	if ((r = strmap_put(&cv->nameset, s, len, cv->nnames, 0)) != 1) {
		free(s);
		return r;
	}
	cv->names[cv->nnames++] = s;
	return 0;
}

/*
 * The arguments of a tool call (a JSON string) as the input object.
 * Empty means {}; anything but an object is the client's error.
 */
static int
put_input(struct conv *cv, struct buf *b, int args, int msg, int k)
{
	struct json aj;
	char e[128], *s = NULL;
	const char *p;
	size_t len;
	int r = -1;

	memset(&aj, 0, sizeof(aj));
	if (args < 0)
		return buf_appends(b, "{}") == 0 ? 0 : oom(cv->err);
	if (json_type(cv->j, args) != JSON_STRING)
		return bad(cv->err, "messages", NULL, "messages[%d].tool_calls"
		    "[%d].function.arguments must be a string.", msg, k);
	if ((s = json_strdup(cv->j, args, &len)) == NULL)
		return oom(cv->err);
	if (blank(cv->j, args)) {
		r = buf_appends(b, "{}") == 0 ? 0 : oom(cv->err);
		goto out;
	}
	if (json_parse(&aj, s, len, &cv->ctx->lim, e, sizeof(e)) != 0 ||
	    json_type(&aj, 0) != JSON_OBJECT) {
		if (json_oom(e)) {
			r = oom(cv->err);
			goto out;
		}
		bad(cv->err, "messages", "invalid_value", "messages[%d]."
		    "tool_calls[%d].function.arguments is not a JSON object "
		    "(%s); model '%s' needs the arguments as an object.", msg, k,
		    e[0] != '\0' ? e : "another JSON value", cv->ctx->model->id);
		goto out;
	}
	p = json_raw(&aj, 0, &len);
	r = anthropic_compact(b, p, len) == 0 ? 0 : oom(cv->err);
out:
	json_free(&aj);
	free(s);
	return r;
}

/* One tool call of an assistant message as a tool_use block of the turn. */
static int
add_call(struct conv *cv, int c, int msg, int k)
{
	const struct json *j = cv->j;
	struct buf tmp;
	struct turn *t;
	const char *aid;
	char *orig = NULL, *keep;
	size_t len;
	int id, fn, name, ty, r = -1;

	buf_init(&tmp, 0);
	id = json_get(j, c, "id");
	fn = json_get(j, c, "function");
	name = json_get(j, fn, "name");
	ty = member(j, c, "type");
	if (id < 0 || json_type(j, id) != JSON_STRING || name < 0 ||
	    json_type(j, name) != JSON_STRING ||
	    (ty >= 0 && !json_streq(j, ty, "function"))) {
		bad(cv->err, "messages", NULL, "messages[%d].tool_calls[%d] needs "
		    "an id and a function with a name.", msg, k);
		goto out;
	}
	if ((orig = json_strdup(j, id, &len)) == NULL ||
	    (t = turn_for(cv, 0, msg)) == NULL ||
	    (aid = declare(cv, orig, len, msg)) == NULL)
		goto nomem;
	if (turn_has(t, aid)) {
		bad(cv->err, "messages", NULL, "messages[%d]: the tool call id "
		    "'%.64s' is used twice in one turn.", msg, orig);
		goto out;
	}
	if (note_name(cv, j, name) != 0 ||
	    buf_appends(&tmp, "{\"type\":\"tool_use\",\"id\":") != 0 ||
	    json_write_cstr(&tmp, aid) != 0 ||
	    buf_appends(&tmp, ",\"name\":") != 0 ||
	    json_write_raw(&tmp, j, name) != 0 ||
	    buf_appends(&tmp, ",\"input\":") != 0)
		goto nomem;
	if (put_input(cv, &tmp, member(j, fn, "arguments"), msg, k) != 0)
		goto out;
	if (buf_appendc(&tmp, '}') != 0 || turn_add(cv, 0, msg, &tmp, 0) != 0 ||
	    (keep = strdup(aid)) == NULL ||
	    turn_id(&cv->t[cv->n - 1], keep, msg) != 0)
		goto nomem;
	r = 0;
	goto out;
nomem:
	oom(cv->err);
out:
	free(orig);
	buf_free(&tmp);
	return r;
}

/* An assistant message: its text, then one tool_use per tool call. */
static int
add_assistant(struct conv *cv, int m, int msg)
{
	const struct json *j = cv->j;
	struct buf tmp;
	int tc, c, k, r = -1;

	buf_init(&tmp, 0);
	if (put_content(cv, &tmp, member(j, m, "content"), msg, 0) != 0)
		goto out;
	if (tmp.len == 0 && (c = member(j, m, "refusal")) >= 0 &&
	    json_type(j, c) == JSON_STRING && put_text(&tmp, j, c) != 0)
		goto nomem;
	if (member(j, m, "function_call") >= 0) {
		bad(cv->err, "messages", "unsupported_parameter", "messages[%d]:"
		    " function_call is deprecated; model '%s' takes tool_calls.",
		    msg, cv->ctx->model->id);
		goto out;
	}
	tc = member(j, m, "tool_calls");
	if (tc >= 0 && json_type(j, tc) != JSON_ARRAY) {
		bad(cv->err, "messages", NULL, "messages[%d].tool_calls must be "
		    "an array.", msg);
		goto out;
	}
	if (turn_add(cv, 0, msg, &tmp, 0) != 0)
		goto nomem;
	for (k = 0, c = tc + 1; tc >= 0 && k < json_size(j, tc); k++, c = json_skip(j, c))
		if (add_call(cv, c, msg, k) != 0)
			goto out;
	r = 0;
	goto out;
nomem:
	oom(cv->err);
out:
	buf_free(&tmp);
	return r;
}

/* The Anthropic id for a tool result: the latest declaration of orig. */
static char *
result_id(struct conv *cv, const char *orig, size_t len)
{
	const size_t *i;

	if ((i = strmap_get(&cv->decl, orig, strlen(orig))) != NULL)
		return strdup(cv->declid[*i]);
	return rewrite_id(orig, len, -1);
}

/* A tool message: a tool_result block at the head of the next user turn. */
static int
add_tool(struct conv *cv, int m, int msg)
{
	const struct json *j = cv->j;
	struct buf tmp, parts;
	char *orig = NULL, *aid = NULL;
	size_t len;
	int id, content, r = -1;

	buf_init(&tmp, 0);
	buf_init(&parts, 0);
	if ((id = json_get(j, m, "tool_call_id")) < 0 ||
	    json_type(j, id) != JSON_STRING) {
		bad(cv->err, "messages", NULL, "messages[%d]: a tool message "
		    "needs a tool_call_id.", msg);
		goto out;
	}
	if ((orig = json_strdup(j, id, &len)) == NULL ||
	    (aid = result_id(cv, orig, len)) == NULL)
		goto nomem;
	content = member(j, m, "content");
	if (buf_appends(&tmp, "{\"type\":\"tool_result\",\"tool_use_id\":") != 0 ||
	    json_write_cstr(&tmp, aid) != 0)
		goto nomem;
	if (content >= 0 && json_type(j, content) == JSON_STRING) {
		if (json_ptr(j, content, NULL) != NULL && !blank(j, content) &&
		    (buf_appends(&tmp, ",\"content\":") != 0 ||
		    json_write_raw(&tmp, j, content) != 0))
			goto nomem;
	} else {
		if (put_content(cv, &parts, content, msg, 0) != 0)
			goto out;
		if (parts.len > 0 && (buf_appends(&tmp, ",\"content\":[") != 0 ||
		    buf_append(&tmp, parts.data, parts.len) != 0 ||
		    buf_appendc(&tmp, ']') != 0))
			goto nomem;
	}
	if (buf_appendc(&tmp, '}') != 0 || turn_add(cv, 1, msg, &tmp, 1) != 0)
		goto nomem;
	r = turn_id(&cv->t[cv->n - 1], aid, msg);
	aid = NULL;		/* the turn's now, or freed */
	if (r != 0)
		goto nomem;
	goto out;
nomem:
	oom(cv->err);
out:
	free(orig);
	free(aid);
	buf_free(&tmp);
	buf_free(&parts);
	return r;
}

/* function messages: the deprecated form of tool messages. */
static int
add_function(struct conv *cv, int m, int msg)
{
	(void)m;
	return bad(cv->err, "messages", "unsupported_parameter", "messages[%d]: "
	    "the 'function' role is deprecated; model '%s' takes tool "
	    "messages.", msg, cv->ctx->model->id);
}

static const struct role {
	const char	*name;
	int		(*add)(struct conv *, int, int);
} roles[] = {
	{ "system", add_system }, { "developer", add_system },
	{ "user", add_user }, { "assistant", add_assistant },
	{ "tool", add_tool }, { "function", add_function },
};

/*
 * Anthropic's pairing rules, checked here so the client hears which id
 * is wrong: every tool_use is answered in the very next (user) turn, and
 * every tool_result answers a tool_use of the turn just before.
 */
static int
check_pairs(struct conv *cv)
{
	const struct turn *t, *other;
	size_t k, i;

	for (k = 0; k < cv->n; k++) {
		t = &cv->t[k];
		for (i = 0; i < t->nids; i++) {
			if (!t->user) {
				other = k + 1 < cv->n ? &cv->t[k + 1] : NULL;
				if (turn_has(other, t->ids[i].id))
					continue;
				return bad(cv->err, "messages", NULL, "messages"
				    "[%d]: tool call '%.64s' has no tool message "
				    "answering it right after the assistant "
				    "message.", t->ids[i].msg, t->ids[i].id);
			}
			other = k > 0 ? &cv->t[k - 1] : NULL;
			if (turn_has(other, t->ids[i].id))
				continue;
			return bad(cv->err, "messages", NULL, "messages[%d]: the "
			    "tool message for '%.64s' does not answer a tool call "
			    "of the assistant message just before it.",
			    t->ids[i].msg, t->ids[i].id);
		}
	}
	return 0;
}

/* Free a conversation. */
static void
conv_free(struct conv *cv)
{
	size_t i, k;

	buf_free(&cv->sys);
	for (i = 0; i < cv->n; i++) {
		buf_free(&cv->t[i].res);
		buf_free(&cv->t[i].blk);
		for (k = 0; k < cv->t[i].nids; k++)
			free(cv->t[i].ids[k].id);
		free(cv->t[i].ids);
		strmap_free(&cv->t[i].idset);
	}
	free(cv->t);
	for (i = 0; i < cv->ndups; i++)
		free(cv->dups[i]);
	free(cv->dups);
	for (i = 0; i < cv->ndecl; i++)
		free(cv->declid[i]);
	free(cv->declid);
	strmap_free(&cv->decl);
	for (i = 0; i < cv->nnames; i++)
		free(cv->names[i]);
	free(cv->names);
	strmap_free(&cv->nameset);
}

/* Walk the messages into system blocks and merged, checked turns. */
static int
build_conv(struct conv *cv, int msgs)
{
	const struct json *j = cv->j;
	const struct role *rl;
	int m, k, ro;
	size_t i;

	if (find_dups(cv, msgs) != 0)
		return oom(cv->err);
	for (k = 0, m = msgs + 1; k < json_size(j, msgs); k++, m = json_skip(j, m)) {
		ro = json_get(j, m, "role");
		for (i = 0, rl = NULL; i < NM_NELEM(roles) && rl == NULL; i++)
			if (json_streq(j, ro, roles[i].name))
				rl = &roles[i];
		if (rl == NULL)
			return bad(cv->err, "messages", NULL, "messages[%d] has "
			    "an unknown role.", k);
		if (rl->add(cv, m, k) != 0)
			return -1;
	}
	if (cv->n == 0)
		return bad(cv->err, "messages", NULL, "Model '%s' needs at least "
		    "one user or assistant message with content.",
		    cv->ctx->model->id);
	return check_pairs(cv);
}

/* The turns as Anthropic's messages array (members of an open array). */
static int
write_turns(struct buf *b, const struct conv *cv)
{
	const struct turn *t;
	size_t k;
	int r = 0;

	for (k = 0; k < cv->n; k++) {
		t = &cv->t[k];
		r |= buf_appends(b, k > 0 ? ",{\"role\":" : "{\"role\":");
		r |= buf_appends(b, t->user ? "\"user\"" : "\"assistant\"");
		r |= buf_appends(b, ",\"content\":[");
		if (t->res.len > 0)
			r |= buf_append(b, t->res.data, t->res.len);
		if (t->res.len > 0 && t->blk.len > 0)
			r |= buf_appendc(b, ',');
		if (t->blk.len > 0)
			r |= buf_append(b, t->blk.data, t->blk.len);
		r |= buf_appends(b, "]}");
	}
	return r;
}

/* --- tools, tool_choice, JSON modes ------------------------------------ */

/* The client's function tools as Anthropic tools (members of an open array). */
static int
write_tools(struct prov_ctx *ctx, const struct json *j, int tools,
    struct buf *b, struct errinfo *err)
{
	int k, t, ty, fn, name, desc, par;

	for (k = 0, t = tools + 1; k < json_size(j, tools); k++, t = json_skip(j, t)) {
		ty = member(j, t, "type");
		fn = json_get(j, t, "function");
		name = json_get(j, fn, "name");
		if (ty >= 0 && !json_streq(j, ty, "function"))
			return bad(err, "tools", "unsupported_value", "tools[%d]:"
			    " model '%s' takes function tools only.", k,
			    ctx->model->id);
		if (json_type(j, fn) != JSON_OBJECT || name < 0 ||
		    json_type(j, name) != JSON_STRING)
			return bad(err, "tools", NULL, "tools[%d] needs a "
			    "function with a name.", k);
		par = member(j, fn, "parameters");
		if (par >= 0 && json_type(j, par) != JSON_OBJECT)
			return bad(err, "tools", NULL, "tools[%d].function."
			    "parameters must be a JSON Schema object.", k);
		desc = member(j, fn, "description");
		if (sep(b) != 0 || buf_appends(b, "{\"name\":") != 0 ||
		    json_write_raw(b, j, name) != 0)
			return oom(err);
		if (desc >= 0 && json_type(j, desc) == JSON_STRING &&
		    (buf_appends(b, ",\"description\":") != 0 ||
		    json_write_raw(b, j, desc) != 0))
			return oom(err);
		if (buf_appends(b, ",\"input_schema\":") != 0 ||
		    (par >= 0 ? json_write_raw(b, j, par) : buf_appends(b,
		    "{\"type\":\"object\",\"properties\":{}}")) != 0 ||
		    buf_appendc(b, '}') != 0)
			return oom(err);
	}
	return 0;
}

/* Tools a history with tool calls needs when the client sent none. */
static int
write_history_tools(const struct conv *cv, struct buf *b)
{
	size_t i;
	int r = 0;

	for (i = 0; i < cv->nnames; i++) {
		r |= sep(b);
		r |= buf_appends(b, "{\"name\":");
		r |= json_write_cstr(b, cv->names[i]);
		r |= buf_appends(b, ",\"description\":\"A tool used earlier in "
		    "this conversation; not available now.\",\"input_schema\":"
		    "{\"type\":\"object\",\"properties\":{}}}");
	}
	return r;
}

/*
 * response_format: json_object and json_schema become a forced tool
 * whose input is the answer (wire-formats.md 5.4).  *on tells whether.
 */
static int
write_json_tool(struct prov_ctx *ctx, const struct json *j, struct buf *b,
    int *on, struct errinfo *err)
{
	int rf, ty, js, schema, desc, sty;

	*on = 0;
	if ((rf = member(j, 0, "response_format")) < 0)
		return 0;
	ty = json_get(j, rf, "type");
	if (json_streq(j, ty, "text"))
		return 0;
	if (json_streq(j, ty, "json_object")) {
		*on = 1;
		return sep(b) != 0 || buf_appends(b, "{\"name\":\"" ANTH_JSON_TOOL
		    "\",\"description\":\"Respond with a JSON object.\","
		    "\"input_schema\":{\"type\":\"object\",\"additionalProperties\""
		    ":true,\"properties\":{}}}") != 0 ? oom(err) : 0;
	}
	if (!json_streq(j, ty, "json_schema") ||
	    json_type(j, (js = json_get(j, rf, "json_schema"))) != JSON_OBJECT)
		return bad(err, "response_format", "unsupported_value", "Model "
		    "'%s' takes response_format text, json_object or json_schema "
		    "(with a json_schema object).", ctx->model->id);
	schema = member(j, js, "schema");
	if (schema >= 0 && (json_type(j, schema) != JSON_OBJECT ||
	    ((sty = json_get(j, schema, "type")) >= 0 &&
	    !json_streq(j, sty, "object"))))
		return bad(err, "response_format", "unsupported_value", "Model "
		    "'%s' takes a json_schema whose root is an object.",
		    ctx->model->id);
	*on = 1;
	desc = member(j, js, "description");
	if (sep(b) != 0 || buf_appends(b, "{\"name\":\"" ANTH_JSON_TOOL
	    "\",\"description\":") != 0)
		return oom(err);
	if ((desc >= 0 && json_type(j, desc) == JSON_STRING ?
	    json_write_raw(b, j, desc) : buf_appends(b, "\"Respond with a JSON "
	    "object that follows the schema.\"")) != 0 ||
	    buf_appends(b, ",\"input_schema\":") != 0 ||
	    (schema >= 0 ? json_write_raw(b, j, schema) : buf_appends(b,
	    "{\"type\":\"object\",\"additionalProperties\":true,"
	    "\"properties\":{}}")) != 0 || buf_appendc(b, '}') != 0)
		return oom(err);
	return 0;
}

/* OpenAI's tool_choice strings and Anthropic's types. */
static const struct choice {
	const char	*openai;
	const char	*anth;
} choices[] = {
	{ "auto", "auto" }, { "none", "none" }, { "required", "any" },
};

/*
 * tool_choice and parallel_tool_calls.  ntools: the client's tools;
 * history: tools were added for the history only; json: the forced tool.
 */
static int
write_tool_choice(struct prov_ctx *ctx, const struct json *j, int ntools,
    int history, int json, struct buf *b, struct errinfo *err)
{
	const char *type = NULL;
	size_t i;
	int tc, ptc, fn, name = -1, par = 1, r = 0;

	if ((ptc = member(j, 0, "parallel_tool_calls")) >= 0 &&
	    json_bool(j, ptc, &par) != 0)
		return bad(err, "parallel_tool_calls", NULL, "parallel_tool_calls "
		    "must be a boolean.");
	if ((tc = member(j, 0, "tool_choice")) >= 0) {
		for (i = 0; i < NM_NELEM(choices) && type == NULL; i++)
			if (json_streq(j, tc, choices[i].openai))
				type = choices[i].anth;
		if (type == NULL && json_type(j, tc) == JSON_OBJECT &&
		    json_streq(j, json_get(j, tc, "type"), "function") &&
		    (fn = json_get(j, tc, "function")) >= 0 &&
		    (name = json_get(j, fn, "name")) >= 0 &&
		    json_type(j, name) == JSON_STRING)
			type = "tool";
		if (type == NULL)
			return bad(err, "tool_choice", "unsupported_value", "Model "
			    "'%s' takes tool_choice auto, none, required or a "
			    "named function.", ctx->model->id);
	}
	if (json) {
		return buf_appends(b, ",\"tool_choice\":{\"type\":\"tool\","
		    "\"name\":\"" ANTH_JSON_TOOL "\",\"disable_parallel_tool_use\""
		    ":true}") != 0 ? oom(err) : 0;
	}
	if (ntools == 0) {
		/* auto and none mean nothing without tools. */
		if (type != NULL && strcmp(type, "none") != 0 &&
		    strcmp(type, "auto") != 0)
			return bad(err, "tool_choice", NULL, "tool_choice needs "
			    "tools.");
		if (history)
			r |= buf_appends(b, ",\"tool_choice\":{\"type\":\"none\"}");
		return r != 0 ? oom(err) : 0;
	}
	if (type == NULL && par)
		return 0;
	if (type == NULL)
		type = "auto";
	r |= buf_appends(b, ",\"tool_choice\":{\"type\":");
	r |= json_write_cstr(b, type);
	if (name >= 0) {
		r |= buf_appends(b, ",\"name\":");
		r |= json_write_raw(b, j, name);
	}
	if (!par && strcmp(type, "none") != 0)
		r |= buf_appends(b, ",\"disable_parallel_tool_use\":true");
	r |= buf_appendc(b, '}');
	return r != 0 ? oom(err) : 0;
}

/* --- sampling and limits ----------------------------------------------- */

/* max_tokens: the client's, capped at the model's, or a sensible default. */
static int
max_tokens(struct prov_ctx *ctx, const struct json *j, int64_t *out,
    struct errinfo *err)
{
	static const char *const names[] = { "max_completion_tokens",
	    "max_tokens" };
	int64_t v, mo = ctx->model->max_output;
	size_t i;
	int t;

	for (i = 0; i < NM_NELEM(names); i++) {
		if ((t = member(j, 0, names[i])) < 0)
			continue;
		if (json_int64(j, t, &v) != 0 || v < 1)
			return bad(err, names[i], "invalid_value", "%s must be a "
			    "positive integer.", names[i]);
		*out = mo > 0 && v > mo ? mo : v;
		return 0;
	}
	*out = mo > 0 ? NM_MIN(mo, ANTH_MAX_CAP) : ANTH_DEFAULT_MAX;
	return 0;
}

/* reasoning_effort and the thinking budget each level buys. */
static const struct effort {
	const char	*name;
	int64_t		 budget;
} efforts[] = {
	{ "none", 0 }, { "minimal", 0 }, { "low", 1024 }, { "medium", 4096 },
	{ "high", 16384 }, { "xhigh", 32768 }, { "max", 32768 },
};

/* The thinking budget the client asked for (0: none). */
static int
thinking(struct prov_ctx *ctx, const struct json *j, int64_t maxt,
    int64_t *budget, struct errinfo *err)
{
	size_t i;
	int t;

	*budget = 0;
	if ((t = member(j, 0, "reasoning_effort")) < 0)
		return 0;
	for (i = 0; i < NM_NELEM(efforts); i++)
		if (json_streq(j, t, efforts[i].name))
			break;
	if (i == NM_NELEM(efforts))
		return bad(err, "reasoning_effort", "invalid_value", "Unknown "
		    "reasoning_effort for model '%s'.", ctx->model->id);
	if (efforts[i].budget == 0)
		return 0;
	if (!(ctx->model->caps & CAP_REASONING))
		return bad(err, "reasoning_effort", "unsupported_parameter",
		    "Model '%s' does not reason; reasoning_effort cannot be "
		    "honoured.", ctx->model->id);
	*budget = NM_MIN(efforts[i].budget, maxt - 1);
	if (*budget < ANTH_MIN_BUDGET)
		return bad(err, "reasoning_effort", "unsupported_value", "Model "
		    "'%s' needs max_completion_tokens above %d to reason.",
		    ctx->model->id, ANTH_MIN_BUDGET);
	return 0;
}

/* user as metadata.user_id: an opaque id only (Anthropic asks for no emails). */
static int
write_user(const struct json *j, struct buf *b, struct errinfo *err)
{
	const char *p;
	size_t len;
	int t, r = 0;

	if ((t = member(j, 0, "user")) < 0 || json_type(j, t) != JSON_STRING)
		return 0;
	p = json_ptr(j, t, &len);
	if (len > 0 && len <= 256 && memchr(p, '@', len) == NULL) {
		r |= buf_appends(b, ",\"metadata\":{\"user_id\":");
		r |= json_write_raw(b, j, t);
		r |= buf_appendc(b, '}');
	}
	return r != 0 ? oom(err) : 0;
}

/* temperature, top_p, top_k, stop and user: the members they become. */
static int
write_sampling(struct prov_ctx *ctx, const struct json *j, struct buf *b,
    struct errinfo *err)
{
	static const char *const nums[] = { "top_p", "top_k" };
	size_t i;
	int t, k, s, n = 0, r = 0;

	if ((t = member(j, 0, "temperature")) >= 0) {
		if (json_type(j, t) != JSON_NUMBER || unit_range(j, t) < 0)
			return bad(err, "temperature", "invalid_value", "temperature"
			    " must be a number between 0 and 2.");
		if (unit_range(j, t) > 0)
			return bad(err, "temperature", "unsupported_value", "Model "
			    "'%s' takes a temperature between 0 and 1 (Anthropic's "
			    "range); a higher value cannot be honoured faithfully.",
			    ctx->model->id);
		r |= buf_appends(b, ",\"temperature\":");
		r |= json_write_raw(b, j, t);
	}
	for (i = 0; i < NM_NELEM(nums); i++) {
		if ((t = member(j, 0, nums[i])) < 0)
			continue;
		if (json_type(j, t) != JSON_NUMBER)
			return bad(err, nums[i], "invalid_value", "%s must be a "
			    "number.", nums[i]);
		r |= buf_appendf(b, ",\"%s\":", nums[i]);
		r |= json_write_raw(b, j, t);
	}
	if ((t = member(j, 0, "stop")) >= 0) {
		if (json_type(j, t) == JSON_STRING) {
			r |= buf_appends(b, ",\"stop_sequences\":[");
			r |= json_write_raw(b, j, t);
			r |= buf_appendc(b, ']');
		} else if (json_type(j, t) == JSON_ARRAY) {
			for (k = 0, s = t + 1; k < json_size(j, t); k++, s = json_skip(j, s))
				if (json_type(j, s) != JSON_STRING)
					return bad(err, "stop", NULL, "stop must "
					    "be a string or an array of strings.");
			if (json_size(j, t) == 0)
				return r != 0 ? oom(err) : write_user(j, b, err);
			r |= buf_appends(b, ",\"stop_sequences\":[");
			for (k = 0, s = t + 1; k < json_size(j, t); k++, s = json_skip(j, s)) {
				if (n++ > 0)
					r |= buf_appendc(b, ',');
				r |= json_write_raw(b, j, s);
			}
			r |= buf_appendc(b, ']');
		} else
			return bad(err, "stop", NULL, "stop must be a string or "
			    "an array of strings.");
	}
	return r != 0 ? oom(err) : write_user(j, b, err);
}

/* --- the request ------------------------------------------------------- */

/* The body Anthropic gets, from the client's validated OpenAI body. */
int
anthropic_request_body(struct prov_ctx *ctx, const struct json *j,
    struct buf *b, int *json_tool, struct errinfo *err)
{
	const char *up = ctx->model->upstream_model != NULL ?
	    ctx->model->upstream_model : ctx->model->id;
	struct conv cv;
	struct buf tools, jt, rest;
	int64_t maxt = 0, budget = 0;
	int msgs, ct, ntools = 0, json = 0, history = 0, r = -1, w = 0;

	*json_tool = 0;
	memset(&cv, 0, sizeof(cv));
	cv.ctx = ctx;
	cv.j = j;
	cv.err = err;
	buf_init(&cv.sys, 0);
	buf_init(&tools, 0);
	buf_init(&jt, 0);
	buf_init(&rest, 0);
	if (json_type(j, 0) != JSON_OBJECT ||
	    (msgs = json_get(j, 0, "messages")) < 0 ||
	    json_type(j, msgs) != JSON_ARRAY) {
		bad(err, "messages", NULL, "'messages' must be a non-empty array");
		goto out;
	}
	if (check_params(ctx, j, err) != 0 || max_tokens(ctx, j, &maxt, err) != 0 ||
	    thinking(ctx, j, maxt, &budget, err) != 0 || build_conv(&cv, msgs) != 0)
		goto out;
	if ((ct = member(j, 0, "tools")) >= 0) {
		if (json_type(j, ct) != JSON_ARRAY) {
			bad(err, "tools", NULL, "tools must be an array.");
			goto out;
		}
		if (write_tools(ctx, j, ct, &tools, err) != 0)
			goto out;
		ntools = json_size(j, ct);
	}
	if (write_json_tool(ctx, j, &jt, &json, err) != 0)
		goto out;
	if (json && ntools > 0) {
		bad(err, "response_format", "unsupported_parameter", "Model '%s' "
		    "cannot combine response_format with tools: its JSON mode "
		    "is a forced tool call.", ctx->model->id);
		goto out;
	}
	if (json && budget > 0) {
		bad(err, "response_format", "unsupported_parameter", "Model '%s' "
		    "cannot combine response_format with reasoning_effort.",
		    ctx->model->id);
		goto out;
	}
	if (ntools == 0 && cv.nnames > 0) {
		history = 1;
		w |= write_history_tools(&cv, &tools);
	}
	if (json)
		w |= sep(&tools) | buf_append(&tools, jt.data, jt.len);
	if (write_tool_choice(ctx, j, ntools, history, json, &rest, err) != 0 ||
	    write_sampling(ctx, j, &rest, err) != 0)
		goto out;
	*json_tool = json;

	w |= buf_appends(b, "{\"model\":");
	w |= json_write_cstr(b, up);
	w |= buf_appendf(b, ",\"max_tokens\":%lld", (long long)maxt);
	if (cv.sys.len > 0) {
		w |= buf_appends(b, ",\"system\":[");
		w |= buf_append(b, cv.sys.data, cv.sys.len);
		w |= buf_appendc(b, ']');
	}
	w |= buf_appends(b, ",\"messages\":[");
	w |= write_turns(b, &cv);
	w |= buf_appendc(b, ']');
	if (tools.len > 0) {
		w |= buf_appends(b, ",\"tools\":[");
		w |= buf_append(b, tools.data, tools.len);
		w |= buf_appendc(b, ']');
	}
	if (rest.len > 0)
		w |= buf_append(b, rest.data, rest.len);
	if (budget > 0)
		w |= buf_appendf(b, ",\"thinking\":{\"type\":\"enabled\","
		    "\"budget_tokens\":%lld}", (long long)budget);
	if (ctx->stream)
		w |= buf_appends(b, ",\"stream\":true");
	w |= buf_appendc(b, '}');
	r = w != 0 ? oom(err) : 0;
out:
	conv_free(&cv);
	buf_free(&tools);
	buf_free(&jt);
	buf_free(&rest);
	return r;
}
