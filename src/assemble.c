/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Rebuild a whole chat.completion from the SSE stream the gateway sent a
 * client, the way the OpenAI SDK accumulates one: content, refusal and
 * arguments pieces are concatenated, role, ids, types and names replaced,
 * logprobs items appended.  Every field has its own buffer, so the work is
 * linear in the stream, and every byte kept counts against one ceiling.
 * The boundaries of the deltas are kept beside, as cache pieces, for a
 * replay cut the same way.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "assemble.h"
#include "json.h"
#include "sse.h"

/* Room for one event's JSON around what it carries. */
#define ASM_EVENT_SLACK		65536
/* Ceiling of a top-level name (id, model, fingerprint, tier, created). */
#define ASM_NAME_MAX		1024
#define ASM_USAGE_MAX		4096	/* a usage object kept whole */
/* Ceiling of a finish_reason. */
#define ASM_FINISH_MAX		64
/* What a choice and a tool call cost before their text: their JSON skeleton. */
#define ASM_CHOICE_COST		128
#define ASM_TOOL_COST		64

/* One tool call of a choice, by its index. */
struct asm_tool {
	struct buf	 id;
	struct buf	 type;
	struct buf	 name;
	struct buf	 args;
};

/* One choice, by its index; strings are kept unescaped. */
struct asm_choice {
	struct buf	  role;
	struct buf	  content;
	struct buf	  refusal;
	struct buf	  fc_name;
	struct buf	  fc_args;
	struct buf	  lp_content;	/* logprobs.content items, comma-joined JSON */
	struct buf	  lp_refusal;	/* logprobs.refusal items, likewise */
	struct buf	  finish;
	int		  has_content;
	int		  has_refusal;
	int		  has_fc;
	int		  has_logprobs;
	int		  has_lp_content;
	int		  has_lp_refusal;
	int		  has_finish;
	struct asm_tool	**tools;	/* by index; NULL where none was seen */
	int		  ntools;	/* highest index seen + 1 */
	int		  tools_cap;
	int		  idx;
};

struct assembler {
	struct sse_parser	 sse;
	size_t			 max;		/* ceiling of what is kept */
	size_t			 bytes;		/* what is kept */
	int			 failed;
	int			 done;		/* [DONE] seen */
	struct buf		 id;		/* raw JSON values */
	struct buf		 created;
	struct buf		 model;
	struct buf		 fingerprint;
	struct buf		 tier;
	int			 has_usage;
	int64_t			 usage[3];	/* prompt, completion, total */
	struct buf		 usage_raw;	/* the whole object, details too */
	struct asm_choice	*choices[ASSEMBLE_MAX_CHOICES];
	int			 nchoices;	/* highest index seen + 1 */
	struct buf		 pieces;	/* tools by index, not position */
	int			 no_pieces;	/* not kept: replay whole */
};

/* Chunks are the gateway's own output: default limits are plenty. */
static const struct json_limits asm_limits = { 64, 0 };

static const char *const asm_usage_keys[] = {
	"prompt_tokens", "completion_tokens", "total_tokens",
};

/* Count n more kept bytes against the ceiling.  0, or -1 past it. */
static int
asm_charge(struct assembler *a, size_t n)
{
	if (n > a->max - a->bytes)
		return -1;
	a->bytes += n;
	return 0;
}

/*
 * Keep the boundary of a delta of choice c: n bytes of a text (first: its
 * first delta, kept even when empty).  Past the bound, or out of memory,
 * no boundary is kept at all and the replay is whole.
 */
static void
asm_piece(struct assembler *a, const struct asm_choice *c,
    enum cache_piece_kind kind, int tool, size_t n, int first)
{
	if (a->no_pieces || (n == 0 && !first))
		return;
	if (a->pieces.len / CACHE_PIECE_LEN >= CACHE_MAX_PIECES ||
	    cache_piece_append(&a->pieces, kind, c->idx, tool, n) == -1) {
		a->no_pieces = 1;
		buf_free(&a->pieces);
	}
}

/* Free a tool call.  NULL is fine. */
static void
asm_tool_free(struct asm_tool *t)
{
	if (t == NULL)
		return;
	buf_free(&t->id);
	buf_free(&t->type);
	buf_free(&t->name);
	buf_free(&t->args);
	free(t);
}

/* Free a choice.  NULL is fine. */
static void
asm_choice_free(struct asm_choice *c)
{
	int	k;

	if (c == NULL)
		return;
	buf_free(&c->role);
	buf_free(&c->content);
	buf_free(&c->refusal);
	buf_free(&c->fc_name);
	buf_free(&c->fc_args);
	buf_free(&c->lp_content);
	buf_free(&c->lp_refusal);
	buf_free(&c->finish);
	for (k = 0; k < c->ntools; k++)
		asm_tool_free(c->tools[k]);
	free(c->tools);
	free(c);
}

/* A new assembler; see assemble.h.  Caller frees. */
struct assembler *
assemble_new(size_t max_bytes)
{
	struct assembler	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->max = max_bytes == 0 || max_bytes > SIZE_MAX / 4 ?
	    SIZE_MAX / 4 : max_bytes;
	sse_parser_init(&a->sse, a->max + ASM_EVENT_SLACK);
	buf_init(&a->id, ASM_NAME_MAX);
	buf_init(&a->created, ASM_NAME_MAX);
	buf_init(&a->model, ASM_NAME_MAX);
	buf_init(&a->fingerprint, ASM_NAME_MAX);
	buf_init(&a->tier, ASM_NAME_MAX);
	buf_init(&a->usage_raw, ASM_USAGE_MAX);
	buf_init(&a->pieces, CACHE_MAX_PIECES * CACHE_PIECE_LEN);
	return a;
}

/* Free everything.  NULL does nothing. */
void
assemble_free(struct assembler *a)
{
	int	k;

	if (a == NULL)
		return;
	sse_parser_free(&a->sse);
	buf_free(&a->id);
	buf_free(&a->created);
	buf_free(&a->model);
	buf_free(&a->fingerprint);
	buf_free(&a->tier);
	buf_free(&a->usage_raw);
	buf_free(&a->pieces);
	for (k = 0; k < a->nchoices; k++)
		asm_choice_free(a->choices[k]);
	free(a);
}

/*
 * String token tok (or null, or absent: nothing to do) into b, appended
 * or replacing what b held; *has set when a string was seen.  0, or -1
 * (not a string, the ceiling, OOM).
 */
static int
asm_string(struct assembler *a, const struct json *j, int tok, struct buf *b,
    int replace, int *has)
{
	char	*s;
	size_t	 n;
	int	 r;

	if (tok == -1 || json_type(j, tok) == JSON_NULL)
		return 0;
	if (json_type(j, tok) != JSON_STRING ||
	    (s = json_strdup(j, tok, &n)) == NULL)
		return -1;
	if (replace) {
		a->bytes -= b->len;
		buf_reset(b);
	}
	r = asm_charge(a, n);
	if (r == 0 && n > 0)
		r = buf_append(b, s, n);
	free(s);
	if (r == 0 && has != NULL)
		*has = 1;
	return r;
}

/* A top-level value kept raw (string or number as type), replacing; null skips. */
static int
asm_top(const struct json *j, int obj, const char *key, enum json_type type,
    struct buf *b)
{
	int	tok;

	if ((tok = json_get(j, obj, key)) == -1 ||
	    json_type(j, tok) == JSON_NULL)
		return 0;
	if (json_type(j, tok) != type)
		return -1;
	buf_reset(b);
	return json_write_raw(b, j, tok);
}

/* Array token tok's items appended raw to b, comma-joined.  null skips. */
static int
asm_items(struct assembler *a, const struct json *j, int tok, struct buf *b,
    int *has)
{
	const char	*p;
	size_t		 n;
	int		 k, size, it;

	if (tok == -1 || json_type(j, tok) == JSON_NULL)
		return 0;
	if (json_type(j, tok) != JSON_ARRAY)
		return -1;
	*has = 1;
	size = json_size(j, tok);
	for (k = 0, it = tok + 1; k < size; k++, it = json_skip(j, it)) {
		p = json_raw(j, it, &n);
		if (asm_charge(a, n + 1) == -1 ||
		    (b->len > 0 && buf_appendc(b, ',') == -1) ||
		    buf_append(b, p, n) == -1)
			return -1;
	}
	return 0;
}

/* A small non-negative integer token below max into *out.  0/-1. */
static int
asm_index(const struct json *j, int tok, int max, int *out)
{
	int64_t	v;

	if (tok == -1 || json_type(j, tok) != JSON_NUMBER ||
	    json_int64(j, tok, &v) == -1 || v < 0 || v >= max)
		return -1;
	*out = (int)v;
	return 0;
}

/* Choice idx, made on first sight.  NULL on OOM or the ceiling. */
static struct asm_choice *
asm_choice_get(struct assembler *a, int idx)
{
	struct asm_choice	*c;

	if (a->choices[idx] != NULL)
		return a->choices[idx];
	if (asm_charge(a, ASM_CHOICE_COST) == -1 ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	buf_init(&c->role, ASM_NAME_MAX);
	buf_init(&c->content, 0);
	buf_init(&c->refusal, 0);
	buf_init(&c->fc_name, 0);
	buf_init(&c->fc_args, 0);
	buf_init(&c->lp_content, 0);
	buf_init(&c->lp_refusal, 0);
	buf_init(&c->finish, ASM_FINISH_MAX);
	c->idx = idx;
	a->choices[idx] = c;
	if (idx >= a->nchoices)
		a->nchoices = idx + 1;
	return c;
}

/* Tool call idx of c, made on first sight.  NULL on OOM or the ceiling. */
static struct asm_tool *
asm_tool_get(struct assembler *a, struct asm_choice *c, int idx)
{
	struct asm_tool	**nt, *t;
	int		  ncap, k;

	if (idx < c->ntools && c->tools[idx] != NULL)
		return c->tools[idx];
	if (idx >= c->tools_cap) {
		ncap = NM_MAX(c->tools_cap * 2, 8);
		while (ncap <= idx)
			ncap *= 2;
		ncap = NM_MIN(ncap, ASSEMBLE_MAX_TOOLS);
		if ((nt = realloc(c->tools, (size_t)ncap * sizeof(*nt))) ==
		    NULL)
			return NULL;
		for (k = c->tools_cap; k < ncap; k++)
			nt[k] = NULL;
		c->tools = nt;
		c->tools_cap = ncap;
	}
	if (asm_charge(a, ASM_TOOL_COST) == -1 ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	buf_init(&t->id, ASM_NAME_MAX);
	buf_init(&t->type, ASM_NAME_MAX);
	buf_init(&t->name, 0);
	buf_init(&t->args, 0);
	c->tools[idx] = t;
	if (idx >= c->ntools)
		c->ntools = idx + 1;
	return t;
}

/* One element of delta.tool_calls. */
static int
asm_tool_delta(struct assembler *a, struct asm_choice *c,
    const struct json *j, int tc)
{
	struct asm_tool	*t;
	size_t		 before;
	int		 idx, fn, first;

	if (json_type(j, tc) != JSON_OBJECT ||
	    asm_index(j, json_get(j, tc, "index"), ASSEMBLE_MAX_TOOLS,
	    &idx) == -1)
		return -1;
	first = idx >= c->ntools || c->tools[idx] == NULL;
	if ((t = asm_tool_get(a, c, idx)) == NULL)
		return -1;
	before = t->args.len;
	if (asm_string(a, j, json_get(j, tc, "id"), &t->id, 1, NULL) == -1 ||
	    asm_string(a, j, json_get(j, tc, "type"), &t->type, 1,
	    NULL) == -1)
		return -1;
	if ((fn = json_get(j, tc, "function")) != -1 &&
	    json_type(j, fn) != JSON_NULL) {
		if (json_type(j, fn) != JSON_OBJECT)
			return -1;
		if (asm_string(a, j, json_get(j, fn, "name"), &t->name, 1,
		    NULL) == -1 ||
		    asm_string(a, j, json_get(j, fn, "arguments"), &t->args,
		    0, NULL) == -1)
			return -1;
	}
	asm_piece(a, c, CACHE_PIECE_TOOL, idx, t->args.len - before, first);
	return 0;
}

/* The delta of choice c. */
static int
asm_delta(struct assembler *a, struct asm_choice *c, const struct json *j,
    int d)
{
	size_t	before;
	int	fc, tcs, k, n, had;

	if (d == -1 || json_type(j, d) == JSON_NULL)
		return 0;
	if (json_type(j, d) != JSON_OBJECT)
		return -1;
	if (asm_string(a, j, json_get(j, d, "role"), &c->role, 1,
	    NULL) == -1)
		return -1;
	had = c->has_content;
	before = c->content.len;
	if (asm_string(a, j, json_get(j, d, "content"), &c->content, 0,
	    &c->has_content) == -1)
		return -1;
	if (c->has_content)
		asm_piece(a, c, CACHE_PIECE_CONTENT, 0,
		    c->content.len - before, !had);
	had = c->has_refusal;
	before = c->refusal.len;
	if (asm_string(a, j, json_get(j, d, "refusal"), &c->refusal, 0,
	    &c->has_refusal) == -1)
		return -1;
	if (c->has_refusal)
		asm_piece(a, c, CACHE_PIECE_REFUSAL, 0,
		    c->refusal.len - before, !had);
	if ((fc = json_get(j, d, "function_call")) != -1 &&
	    json_type(j, fc) != JSON_NULL) {
		if (json_type(j, fc) != JSON_OBJECT)
			return -1;
		if (!c->has_fc && asm_charge(a, ASM_TOOL_COST) == -1)
			return -1;
		had = c->has_fc;
		before = c->fc_args.len;
		c->has_fc = 1;
		if (asm_string(a, j, json_get(j, fc, "name"), &c->fc_name, 1,
		    NULL) == -1 ||
		    asm_string(a, j, json_get(j, fc, "arguments"),
		    &c->fc_args, 0, NULL) == -1)
			return -1;
		asm_piece(a, c, CACHE_PIECE_FUNCTION, 0,
		    c->fc_args.len - before, !had);
	}
	if ((tcs = json_get(j, d, "tool_calls")) != -1 &&
	    json_type(j, tcs) != JSON_NULL) {
		if (json_type(j, tcs) != JSON_ARRAY)
			return -1;
		n = json_size(j, tcs);
		for (k = 0; k < n; k++) {
			if (asm_tool_delta(a, c, j, json_at(j, tcs, k)) == -1)
				return -1;
		}
	}
	return 0;
}

/* One element of a chunk's choices. */
static int
asm_chunk_choice(struct assembler *a, const struct json *j, int ch)
{
	struct asm_choice	*c;
	int			 idx, lp;

	if (json_type(j, ch) != JSON_OBJECT ||
	    asm_index(j, json_get(j, ch, "index"), ASSEMBLE_MAX_CHOICES,
	    &idx) == -1 || (c = asm_choice_get(a, idx)) == NULL)
		return -1;
	if (asm_delta(a, c, j, json_get(j, ch, "delta")) == -1)
		return -1;
	if ((lp = json_get(j, ch, "logprobs")) != -1 &&
	    json_type(j, lp) != JSON_NULL) {
		if (json_type(j, lp) != JSON_OBJECT)
			return -1;
		c->has_logprobs = 1;
		a->no_pieces = 1;	/* the replay keeps them whole */
		if (asm_items(a, j, json_get(j, lp, "content"),
		    &c->lp_content, &c->has_lp_content) == -1 ||
		    asm_items(a, j, json_get(j, lp, "refusal"),
		    &c->lp_refusal, &c->has_lp_refusal) == -1)
			return -1;
	}
	return asm_string(a, j, json_get(j, ch, "finish_reason"), &c->finish,
	    1, &c->has_finish);
}

/* A chunk's usage object, or null. */
static int
asm_usage(struct assembler *a, const struct json *j, int u)
{
	int64_t	v[3];
	size_t	k;

	if (u == -1 || json_type(j, u) == JSON_NULL)
		return 0;
	if (json_type(j, u) != JSON_OBJECT)
		return -1;
	for (k = 0; k < NM_NELEM(asm_usage_keys); k++) {
		if (json_int64(j, json_get(j, u, asm_usage_keys[k]),
		    &v[k]) == -1 || v[k] < 0)
			return -1;
	}
	memcpy(a->usage, v, sizeof(v));
	a->has_usage = 1;
	/*
	 * The object whole (prompt_tokens_details and the like), replayed as
	 * it was; one too big or out of memory leaves the three counts.
	 */
	buf_reset(&a->usage_raw);
	if (json_write_raw(&a->usage_raw, j, u) != 0)
		buf_reset(&a->usage_raw);
	return 0;
}

/* One chat.completion.chunk. */
static int
asm_chunk(struct assembler *a, const struct json *j)
{
	int	choices, n, k;

	if (json_type(j, 0) != JSON_OBJECT || json_get(j, 0, "error") != -1 ||
	    !json_streq(j, json_get(j, 0, "object"), "chat.completion.chunk") ||
	    (choices = json_get(j, 0, "choices")) == -1 ||
	    json_type(j, choices) != JSON_ARRAY)
		return -1;
	if (asm_top(j, 0, "id", JSON_STRING, &a->id) == -1 ||
	    asm_top(j, 0, "created", JSON_NUMBER, &a->created) == -1 ||
	    asm_top(j, 0, "model", JSON_STRING, &a->model) == -1 ||
	    asm_top(j, 0, "system_fingerprint", JSON_STRING,
	    &a->fingerprint) == -1 ||
	    asm_top(j, 0, "service_tier", JSON_STRING, &a->tier) == -1)
		return -1;
	n = json_size(j, choices);
	for (k = 0; k < n; k++) {
		if (asm_chunk_choice(a, j, json_at(j, choices, k)) == -1)
			return -1;
	}
	return asm_usage(a, j, json_get(j, 0, "usage"));
}

/* sse_cb: one event of the stream. */
static int
asm_event(void *arg, const struct sse_event *ev)
{
	struct assembler	*a = arg;
	struct json		 j;
	int			 r;

	/* Nothing may follow [DONE]; the gateway names no events. */
	if (a->done || (ev->event[0] != '\0' &&
	    strcmp(ev->event, "message") != 0))
		return -1;
	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
		a->done = 1;
		return 0;
	}
	if (json_parse(&j, ev->data, ev->data_len, &asm_limits, NULL,
	    0) == -1)
		return -1;
	r = asm_chunk(a, &j);
	json_free(&j);
	return r;
}

/* Feed stream bytes; see assemble.h. */
int
assemble_feed(struct assembler *a, const char *bytes, size_t len)
{
	if (a->failed)
		return -1;
	if (sse_feed(&a->sse, bytes, len, asm_event, a) == -1)
		a->failed = 1;
	return a->failed ? -1 : 0;
}

/* A raw top-level member, or null when the stream had none. */
static int
asm_put_raw(struct buf *out, const char *key, const struct buf *v)
{
	int	r;

	r = buf_appendf(out, ",\"%s\":", key);
	r |= buf_appends(out, v->len > 0 ? v->data : "null");
	return r;
}

/* One tool call as a message's tool_calls element. */
static int
asm_put_tool(struct buf *out, const struct asm_tool *t)
{
	int	r;

	r = buf_appends(out, "{\"id\":");
	r |= json_write_str(out, t->id.data != NULL ? t->id.data : "",
	    t->id.len);
	r |= buf_appends(out, ",\"type\":");
	r |= t->type.len > 0 ? json_write_str(out, t->type.data,
	    t->type.len) : buf_appends(out, "\"function\"");
	r |= buf_appends(out, ",\"function\":{\"name\":");
	r |= json_write_str(out, t->name.data != NULL ? t->name.data : "",
	    t->name.len);
	r |= buf_appends(out, ",\"arguments\":");
	r |= json_write_str(out, t->args.data != NULL ? t->args.data : "",
	    t->args.len);
	r |= buf_appends(out, "}}");
	return r;
}

/* A logprobs array of items, or null. */
static int
asm_put_items(struct buf *out, const char *key, int has, const struct buf *b)
{
	int	r;

	r = buf_appendf(out, "\"%s\":", key);
	if (!has)
		return r | buf_appends(out, "null");
	r |= buf_appendc(out, '[');
	if (b->len > 0)
		r |= buf_append(out, b->data, b->len);
	return r | buf_appendc(out, ']');
}

/*
 * Choice c at idx; *ok cleared when it is not a whole answer: no
 * finish_reason, a filtered one, or a call cut short or without a name.
 */
static int
asm_put_choice(struct buf *out, const struct asm_choice *c, int idx, int *ok)
{
	const char	*finish = c->finish.data != NULL ? c->finish.data : "";
	int		 r, k, first, ncalls = 0;

	r = buf_appendf(out, "{\"index\":%d,\"message\":{\"role\":", idx);
	r |= c->role.len > 0 ? json_write_str(out, c->role.data,
	    c->role.len) : buf_appends(out, "\"assistant\"");
	r |= buf_appends(out, ",\"content\":");
	r |= c->has_content ? json_write_str(out, c->content.data != NULL ?
	    c->content.data : "", c->content.len) : buf_appends(out, "null");
	if (c->has_refusal) {
		r |= buf_appends(out, ",\"refusal\":");
		r |= json_write_str(out, c->refusal.data != NULL ?
		    c->refusal.data : "", c->refusal.len);
	}
	for (k = 0, first = 1; k < c->ntools; k++) {
		if (c->tools[k] == NULL)
			continue;
		r |= buf_appends(out, first ? ",\"tool_calls\":[" : ",");
		r |= asm_put_tool(out, c->tools[k]);
		if (c->tools[k]->name.len == 0)
			*ok = 0;
		first = 0;
		ncalls++;
	}
	if (!first)
		r |= buf_appendc(out, ']');
	if (c->has_fc) {
		r |= buf_appends(out, ",\"function_call\":{\"name\":");
		r |= json_write_str(out, c->fc_name.data != NULL ?
		    c->fc_name.data : "", c->fc_name.len);
		r |= buf_appends(out, ",\"arguments\":");
		r |= json_write_str(out, c->fc_args.data != NULL ?
		    c->fc_args.data : "", c->fc_args.len);
		r |= buf_appendc(out, '}');
		if (c->fc_name.len == 0)
			*ok = 0;
		ncalls++;
	}
	r |= buf_appends(out, "},\"logprobs\":");
	if (c->has_logprobs) {
		r |= buf_appendc(out, '{');
		r |= asm_put_items(out, "content", c->has_lp_content,
		    &c->lp_content);
		r |= buf_appendc(out, ',');
		r |= asm_put_items(out, "refusal", c->has_lp_refusal,
		    &c->lp_refusal);
		r |= buf_appendc(out, '}');
	} else
		r |= buf_appends(out, "null");
	r |= buf_appends(out, ",\"finish_reason\":");
	r |= c->has_finish ? json_write_str(out, finish, c->finish.len) :
	    buf_appends(out, "null");
	r |= buf_appendc(out, '}');
	if (!c->has_finish || strcmp(finish, "content_filter") == 0 ||
	    (ncalls > 0 && strcmp(finish, "length") == 0))
		*ok = 0;
	return r;
}

/* The rebuilt chat.completion; see assemble.h. */
int
assemble_result(struct assembler *a, const struct usage *u, struct buf *out,
    int *complete)
{
	size_t	old = out->len;
	int	r, k, ok, first = 1;

	*complete = 0;
	if (a->failed)
		return -1;
	ok = a->done && !sse_pending(&a->sse) && a->nchoices > 0 &&
	    a->id.len > 0 && a->model.len > 0 && a->created.len > 0;
	r = buf_appends(out, "{\"id\":");
	r |= buf_appends(out, a->id.len > 0 ? a->id.data : "null");
	r |= buf_appends(out, ",\"object\":\"chat.completion\"");
	r |= asm_put_raw(out, "created", &a->created);
	r |= asm_put_raw(out, "model", &a->model);
	r |= buf_appends(out, ",\"choices\":[");
	for (k = 0; k < a->nchoices && r == 0; k++) {
		if (a->choices[k] == NULL) {
			ok = 0;		/* a gap: a choice never seen */
			continue;
		}
		if (!first)
			r |= buf_appendc(out, ',');
		first = 0;
		r |= asm_put_choice(out, a->choices[k], k, &ok);
	}
	r |= buf_appendc(out, ']');
	/* The stream's own usage object when it says what u says. */
	if (a->has_usage && a->usage_raw.len > 0 && (u == NULL ||
	    (u->prompt_tokens == a->usage[0] &&
	    u->completion_tokens == a->usage[1] &&
	    u->total_tokens == a->usage[2]))) {
		r |= buf_appends(out, ",\"usage\":");
		r |= buf_append(out, a->usage_raw.data, a->usage_raw.len);
	} else if (u != NULL)
		r |= buf_appendf(out, ",\"usage\":{\"prompt_tokens\":%lld,"
		    "\"completion_tokens\":%lld,\"total_tokens\":%lld}",
		    (long long)u->prompt_tokens,
		    (long long)u->completion_tokens,
		    (long long)u->total_tokens);
	else if (a->has_usage)
		r |= buf_appendf(out, ",\"usage\":{\"prompt_tokens\":%lld,"
		    "\"completion_tokens\":%lld,\"total_tokens\":%lld}",
		    (long long)a->usage[0], (long long)a->usage[1],
		    (long long)a->usage[2]);
	if (a->tier.len > 0)
		r |= asm_put_raw(out, "service_tier", &a->tier);
	if (a->fingerprint.len > 0)
		r |= asm_put_raw(out, "system_fingerprint", &a->fingerprint);
	r |= buf_appendc(out, '}');
	if (r != 0 || out->len - old > a->max) {
		if (out->data != NULL) {
			out->len = old;
			out->data[old] = '\0';
		}
		return -1;
	}
	*complete = ok;
	return 0;
}

/* The position of tool call idx of c among those it has. */
static int
asm_tool_pos(const struct asm_choice *c, int idx)
{
	int	k, pos = 0;

	for (k = 0; k < idx && k < c->ntools; k++) {
		if (c->tools[k] != NULL)
			pos++;
	}
	return pos;
}

/* The chunk boundaries; see assemble.h. */
int
assemble_pieces(struct assembler *a, struct buf *out)
{
	const unsigned char	*p;
	const struct asm_choice	*c;
	size_t			 old = out->len, k;
	int			 tool, r = 0;

	if (a->failed)
		return -1;
	if (a->no_pieces)
		return 0;
	for (k = 0; k + CACHE_PIECE_LEN <= a->pieces.len && r == 0;
	    k += CACHE_PIECE_LEN) {
		p = (const unsigned char *)a->pieces.data + k;
		c = a->choices[p[1]];
		tool = p[0] == CACHE_PIECE_TOOL && c != NULL ?
		    asm_tool_pos(c, p[2] << 8 | p[3]) : 0;
		r |= buf_append(out, p, 2);
		r |= buf_appendc(out, (char)(tool >> 8));
		r |= buf_appendc(out, (char)(tool & 0xff));
		r |= buf_append(out, p + 4, CACHE_PIECE_LEN - 4);
	}
	if (r != 0) {
		if (out->data != NULL) {
			out->len = old;
			out->data[old] = '\0';
		}
		return -1;
	}
	return 0;
}
