/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Request facts (facts.h): the shape checks of chat and embeddings
 * bodies, what they need, and the one filter that says whether a catalog
 * model can serve them.  No I/O, no globals: unit-tested alone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "catalog.h"
#include "facts.h"
#include "json.h"

/* What a missing capability is called, and the parameter that needs it. */
static const struct {
	unsigned	 cap;
	const char	*param;
	const char	*why;
} cap_needs[] = {
	{ CAP_TOOLS,	 "tools",		"does not support tools" },
	{ CAP_JSON,	 "response_format",	"does not support JSON output modes" },
	{ CAP_VISION,	 "messages",		"does not accept images" },
	{ CAP_STREAMING, "stream",		"does not support streaming" },
};

static const char *const chat_roles[] = { "system", "developer", "user",
    "assistant", "tool", "function" };

/* A 400 invalid_request_error naming param. */
#define BAD(err, param, ...) \
	errinfo_set((err), 400, "invalid_request_error", NULL, (param), \
	    __VA_ARGS__)

/* The body is an object with a non-empty "model" string: copy it. */
static int
body_model(const struct json *j, struct facts *f, struct errinfo *err)
{
	int mt;

	if (json_type(j, 0) != JSON_OBJECT) {
		BAD(err, NULL, "The request body must be a JSON object.");
		return -1;
	}
	if ((mt = json_get(j, 0, "model")) < 0) {
		BAD(err, "model", "you must provide a model parameter");
		return -1;
	}
	if (json_type(j, mt) != JSON_STRING ||
	    json_strcpy(j, mt, f->model, sizeof(f->model)) != 0 ||
	    f->model[0] == '\0') {
		BAD(err, "model", "'model' must be a non-empty string of at "
		    "most %zu bytes", sizeof(f->model) - 1);
		return -1;
	}
	return 0;
}

/* Every message is an object with a known role. */
static int
check_roles(const struct json *j, int msgs, struct errinfo *err)
{
	int i, m, role;
	size_t r;

	for (i = 0, m = msgs + 1; i < json_size(j, msgs); i++,
	    m = json_skip(j, m)) {
		role = json_type(j, m) == JSON_OBJECT ?
		    json_get(j, m, "role") : -1;
		for (r = 0; role >= 0 && r < NM_NELEM(chat_roles); r++)
			if (json_streq(j, role, chat_roles[r]))
				break;
		if (role < 0 || r == NM_NELEM(chat_roles)) {
			BAD(err, "messages", "messages[%d] must be an object "
			    "with a valid 'role'", i);
			return -1;
		}
	}
	return 0;
}

/* stream and stream_options. */
static int
check_stream(const struct json *j, struct facts *f, struct errinfo *err)
{
	int st, so, iu, v;

	if ((st = json_get(j, 0, "stream")) >= 0 &&
	    json_type(j, st) != JSON_NULL && json_bool(j, st, &f->stream) != 0) {
		BAD(err, "stream", "'stream' must be a boolean");
		return -1;
	}
	if ((so = json_get(j, 0, "stream_options")) >= 0 &&
	    json_type(j, so) != JSON_NULL) {
		if (json_type(j, so) != JSON_OBJECT) {
			BAD(err, "stream_options",
			    "'stream_options' must be an object");
			return -1;
		}
		if ((iu = json_get(j, so, "include_usage")) >= 0 &&
		    json_bool(j, iu, &v) == 0)
			f->client_usage = v;
	}
	return 0;
}

/* The kinds of optional chat parameters checked before any source sees them. */
enum pkind { P_DEC, P_INT, P_BOOL, P_STR, P_STOP, P_BIAS };

/* OpenAI's optional sampling and output parameters: type, and range if ranged. */
static const struct chat_param {
	const char	*name;
	enum pkind	 kind;
	int		 ranged;
	double		 min, max;
} chat_params[] = {
	{ "temperature",	 P_DEC,	 1, 0,	  2 },
	{ "top_p",		 P_DEC,	 1, 0,	  1 },
	{ "presence_penalty",	 P_DEC,	 1, -2,	  2 },
	{ "frequency_penalty",	 P_DEC,	 1, -2,	  2 },
	{ "top_logprobs",	 P_INT,	 1, 0,	  20 },
	{ "seed",		 P_INT,	 0, 0,	  0 },
	{ "logprobs",		 P_BOOL, 0, 0,	  0 },
	{ "parallel_tool_calls", P_BOOL, 0, 0,	  0 },
	{ "user",		 P_STR,	 0, 0,	  0 },
	{ "stop",		 P_STOP, 0, 0,	  0 },
	{ "logit_bias",		 P_BIAS, 1, -100, 100 },	/* each value */
};

static const char *const pkind_names[] = { "a decimal", "an integer",
    "a boolean", "a string", "a string or an array of strings",
    "an object of token ids to numbers" };

/* What a JSON value is called in a type error. */
static const char *
type_name(const struct json *j, int i)
{
	static const char *const names[] = { "nothing", "an object",
	    "an array", "a string", "a number", "a boolean", "a boolean",
	    "null" };
	enum json_type t = json_type(j, i);

	return (size_t)t < NM_NELEM(names) ? names[t] : "a value";
}

/* The number at i as a double, for range checks only (never for keys). */
static int
number_value(const struct json *j, int i, double *out)
{
	char tmp[128], *end;
	const char *p;
	size_t len;

	if (json_type(j, i) != JSON_NUMBER ||
	    (p = json_raw(j, i, &len)) == NULL || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	*out = strtod(tmp, &end);
	return *end == '\0' ? 0 : -1;
}

/* A number inside [min, max], or a 400 in OpenAI's words. */
static int
check_range(const struct json *j, int v, const char *name, int integer,
    double min, double max, struct errinfo *err)
{
	const char *what = integer ? "integer" : "decimal", *raw;
	size_t len;
	double d;

	raw = json_raw(j, v, &len);
	if (number_value(j, v, &d) != 0) {
		errinfo_set(err, 400, "invalid_request_error", "invalid_value",
		    name, "Invalid '%s': a number of %zu characters is not "
		    "read; write it shorter.", name, len);
		return -1;
	}
	if (d >= min && d <= max)
		return 0;
	if (len > 40)
		len = 40;
	errinfo_set(err, 400, "invalid_request_error", integer ?
	    (d < min ? "integer_below_min_value" : "integer_above_max_value") :
	    (d < min ? "decimal_below_min_value" : "decimal_above_max_value"),
	    name,
	    "Invalid '%s': %s %s value. Expected a value %s %g, but got "
	    "%.*s instead.", name, what, d < min ? "below minimum" :
	    "above maximum", d < min ? ">=" : "<=", d < min ? min : max,
	    (int)len, raw);
	return -1;
}

/* 1 if the value at v has the kind k (null is checked by the caller). */
static int
kind_ok(const struct json *j, int v, enum pkind k)
{
	int64_t n;
	int i, x;

	switch (k) {
	case P_DEC:
		return json_type(j, v) == JSON_NUMBER;
	case P_INT:
		return json_int64(j, v, &n) == 0;
	case P_BOOL:
		return json_type(j, v) == JSON_TRUE ||
		    json_type(j, v) == JSON_FALSE;
	case P_STR:
		return json_type(j, v) == JSON_STRING;
	case P_STOP:
		if (json_type(j, v) == JSON_STRING)
			return 1;
		if (json_type(j, v) != JSON_ARRAY)
			return 0;
		for (i = 0, x = v + 1; i < json_size(j, v); i++,
		    x = json_skip(j, x))
			if (json_type(j, x) != JSON_STRING)
				return 0;
		return 1;
	case P_BIAS:
		if (json_type(j, v) != JSON_OBJECT)
			return 0;
		for (i = 0, x = v + 1; i < json_size(j, v); i++,
		    x = json_skip(j, x + 1))
			if (json_type(j, x + 1) != JSON_NUMBER)
				return 0;
		return 1;
	}
	return 0;
}

/*
 * The optional parameters every source reads the same way: a wrong type
 * or a value out of range is the client's 400 here, never a source's
 * surprise (or worse, a pass-through that a source quietly ignores).
 */
static int
check_params(const struct json *j, struct errinfo *err)
{
	const struct chat_param *cp;
	size_t p;
	int v, i, x;

	for (p = 0; p < NM_NELEM(chat_params); p++) {
		cp = &chat_params[p];
		if ((v = json_get(j, 0, cp->name)) < 0 ||
		    json_type(j, v) == JSON_NULL)
			continue;
		if (!kind_ok(j, v, cp->kind)) {
			errinfo_set(err, 400, "invalid_request_error",
			    "invalid_type", cp->name, "Invalid type for '%s': "
			    "expected %s, but got %s instead.", cp->name,
			    pkind_names[cp->kind], type_name(j, v));
			return -1;
		}
		if (!cp->ranged)
			continue;
		if (cp->kind != P_BIAS) {
			if (check_range(j, v, cp->name, cp->kind == P_INT,
			    cp->min, cp->max, err) != 0)
				return -1;
			continue;
		}
		for (i = 0, x = v + 1; i < json_size(j, v); i++,
		    x = json_skip(j, x + 1))
			if (check_range(j, x + 1, cp->name, 0, cp->min, cp->max,
			    err) != 0)
				return -1;
	}
	return 0;
}

/* The facts of a chat body. */
int
facts_chat(const struct json *j, struct facts *f, struct errinfo *err)
{
	char emsg[256];
	int msgs, x, t;

	memset(f, 0, sizeof(*f));
	f->kind = FACTS_CHAT;
	if (body_model(j, f, err) != 0)
		return -1;
	if ((msgs = json_get(j, 0, "messages")) < 0 ||
	    json_type(j, msgs) != JSON_ARRAY || json_size(j, msgs) == 0) {
		BAD(err, "messages", "'messages' must be a non-empty array");
		return -1;
	}
	if (check_roles(j, msgs, err) != 0 || check_stream(j, f, err) != 0 ||
	    check_params(j, err) != 0)
		return -1;
	if (estimate_chat(j, &f->est, emsg, sizeof(emsg)) != 0) {
		BAD(err, NULL, "%s", emsg);
		return -1;
	}
	/* Tools offered, the old "functions" counted the same way. */
	if (((x = json_get(j, 0, "tools")) >= 0 ||
	    (x = json_get(j, 0, "functions")) >= 0) &&
	    json_type(j, x) == JSON_ARRAY)
		f->tools = json_size(j, x);
	if ((x = json_get(j, 0, "response_format")) >= 0 &&
	    json_type(j, x) == JSON_OBJECT && (t = json_get(j, x, "type")) >= 0 &&
	    json_streq(j, t, "json_schema"))
		f->json_schema = 1;
	return 0;
}

/* 1 if t is a non-empty array of non-negative integers (token ids). */
static int
token_list(const struct json *j, int t)
{
	int64_t v;
	int i, x;

	if (json_type(j, t) != JSON_ARRAY || json_size(j, t) == 0)
		return 0;
	for (i = 0, x = t + 1; i < json_size(j, t); i++, x = json_skip(j, x))
		if (json_int64(j, x, &v) != 0 || v < 0)
			return 0;
	return 1;
}

/* The kind of one element of an input array. */
enum input_kind { IN_TEXT = 1, IN_TOKENS, IN_TOKEN_LISTS };

/*
 * input: a string, or 1..2048 strings, token ids or token-id arrays, all
 * of one kind, no empty string.  Adds up the estimated tokens.
 */
static int
check_input(const struct json *j, struct facts *f, struct errinfo *err)
{
	enum input_kind kind = 0, k;
	int in, i, x;
	int64_t v;
	size_t len;

	if ((in = json_get(j, 0, "input")) < 0) {
		BAD(err, "input", "you must provide an input parameter");
		return -1;
	}
	if (json_type(j, in) == JSON_STRING) {
		json_ptr(j, in, &len);
		if (len == 0) {
			BAD(err, "input", "'input' cannot be an empty string");
			return -1;
		}
		f->embed_items = 1;
		f->est.input_tokens = estimate_text(len);
		return 0;
	}
	if (json_type(j, in) != JSON_ARRAY || json_size(j, in) == 0 ||
	    json_size(j, in) > FACTS_EMBED_MAX_ITEMS) {
		BAD(err, "input", "'input' must be a non-empty string or an "
		    "array of 1 to %d strings, token ids or token-id arrays",
		    FACTS_EMBED_MAX_ITEMS);
		return -1;
	}
	for (i = 0, x = in + 1; i < json_size(j, in); i++, x = json_skip(j, x)) {
		len = 1;
		if (json_type(j, x) == JSON_STRING) {
			k = IN_TEXT;
			json_ptr(j, x, &len);
			f->est.input_tokens += estimate_text(len);
		} else if (json_type(j, x) == JSON_NUMBER) {
			k = IN_TOKENS;
			if (json_int64(j, x, &v) != 0 || v < 0)
				goto bad;
			f->est.input_tokens++;
		} else {
			k = IN_TOKEN_LISTS;
			if (token_list(j, x))
				f->est.input_tokens += json_size(j, x);
		}
		if (len == 0 || (kind != 0 && k != kind) ||
		    (k == IN_TOKEN_LISTS && !token_list(j, x)))
			goto bad;
		kind = k;
	}
	f->embed_items = json_size(j, in);
	return 0;
bad:
	BAD(err, "input", "input[%d] is invalid: 'input' must be non-empty "
	    "strings, token ids or token-id arrays, all of one kind", i);
	return -1;
}

/* The facts of an embeddings body. */
int
facts_embeddings(const struct json *j, struct facts *f, struct errinfo *err)
{
	int ef, dm;
	int64_t v;

	memset(f, 0, sizeof(*f));
	f->kind = FACTS_EMBEDDINGS;
	f->est.n = 1;
	if (body_model(j, f, err) != 0 || check_input(j, f, err) != 0)
		return -1;
	if ((ef = json_get(j, 0, "encoding_format")) >= 0 &&
	    json_type(j, ef) != JSON_NULL) {
		if (json_streq(j, ef, "base64"))
			f->embed_base64 = 1;
		else if (!json_streq(j, ef, "float")) {
			BAD(err, "encoding_format", "'encoding_format' must be "
			    "'float' or 'base64'");
			return -1;
		}
	}
	if ((dm = json_get(j, 0, "dimensions")) >= 0 &&
	    json_type(j, dm) != JSON_NULL &&
	    (json_int64(j, dm, &v) != 0 || v < 1 || v > 1000000)) {
		BAD(err, "dimensions", "'dimensions' must be a positive integer");
		return -1;
	}
	f->est.caps = CAP_EMBEDDINGS;
	return 0;
}

/* A refusal: the client's 400 into err, the short reason into why. */
static int
unfit(struct errinfo *err, char *why, size_t whylen, const char *code,
    const char *param, const char *reason, const char *message)
{
	if (why != NULL)
		snprintf(why, whylen, "%s", reason);
	if (err != NULL)
		errinfo_set(err, 400, "invalid_request_error", code, param,
		    "%s", message);
	return -1;
}

/* Can m serve a request that needs est? */
int
facts_fit(const struct estimate *est, int embeddings, const struct model *m,
    struct errinfo *err, char *why, size_t whylen)
{
	char reason[192], msg[448];
	size_t i;
	int64_t out = est->max_tokens;	/* per choice, as the window counts */

	if (embeddings != ((m->caps & CAP_EMBEDDINGS) != 0)) {
		snprintf(msg, sizeof(msg), embeddings ? "The model '%s' is not "
		    "an embeddings model; use /v1/chat/completions." :
		    "The model '%s' is an embeddings model; use "
		    "/v1/embeddings.", m->id);
		return unfit(err, why, whylen, "model_not_supported", "model",
		    embeddings ? "not an embeddings model" :
		    "an embeddings model", msg);
	}
	if (embeddings)
		return 0;
	for (i = 0; i < NM_NELEM(cap_needs); i++) {
		if ((est->caps & cap_needs[i].cap) &&
		    !(m->caps & cap_needs[i].cap)) {
			snprintf(msg, sizeof(msg), "The model '%s' %s.", m->id,
			    cap_needs[i].why);
			return unfit(err, why, whylen, "unsupported_parameter",
			    cap_needs[i].param, cap_needs[i].why, msg);
		}
	}
	if (est->max_tokens > m->max_output) {
		snprintf(reason, sizeof(reason), "writes at most %lld output "
		    "tokens, %lld asked", (long long)m->max_output,
		    (long long)est->max_tokens);
		snprintf(msg, sizeof(msg), "max_tokens is too large: %lld. The "
		    "model '%s' writes at most %lld completion tokens.",
		    (long long)est->max_tokens, m->id,
		    (long long)m->max_output);
		return unfit(err, why, whylen, "unsupported_value",
		    "max_tokens", reason, msg);
	}
	if (est->input_tokens + out > m->context_window ||
	    (out == 0 && est->input_tokens >= m->context_window)) {
		if (out > 0)
			snprintf(reason, sizeof(reason), "context window of "
			    "%lld tokens is too small for about %lld input + "
			    "%lld output tokens", (long long)m->context_window,
			    (long long)est->input_tokens, (long long)out);
		else
			snprintf(reason, sizeof(reason), "context window of "
			    "%lld tokens is too small for about %lld input "
			    "tokens", (long long)m->context_window,
			    (long long)est->input_tokens);
		snprintf(msg, sizeof(msg), "The model '%s' has a context window "
		    "of %lld tokens; this request needs about %lld (%lld in "
		    "the messages, %lld for the completion).", m->id,
		    (long long)m->context_window,
		    (long long)(est->input_tokens + out),
		    (long long)est->input_tokens, (long long)out);
		return unfit(err, why, whylen, "context_length_exceeded",
		    "messages", reason, msg);
	}
	return 0;
}
