/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * JSON Schemas (tool parameters, response_format json_schema) cleaned for
 * the Gemini API, whose Schema is an OpenAPI subset that answers 400
 * "Unknown name" to keywords such as additionalProperties or $schema.
 */
#include <stdio.h>
#include <string.h>

#include "nextmodel.h"
#include "buf.h"
#include "json.h"
#include "providers/provider.h"
#include "providers/gemini.h"

/*
 * Gemini's Schema is an OpenAPI subset: unknown keywords such as
 * additionalProperties, $schema or strict make it answer 400 "Unknown
 * name".  We keep what it accepts, rewrite what has a faithful equivalent
 * (const -> enum, oneOf -> anyOf, ["T","null"] -> T + nullable, local $ref
 * and one-element allOf inlined) and drop the rest.
 */
struct schema_ctx {
	const struct prov_ctx	*ctx;
	const struct json	*j;
	int			 root;
	int			 resp;	/* a response schema: keep key order */
	struct errinfo		*err;
	const char		*param;
};

/* Keywords copied as they are. */
static const char *const schema_keep[] = {
	"title", "description", "nullable", "minItems", "maxItems",
	"minLength", "maxLength", "minProperties", "maxProperties", "pattern",
	"minimum", "maximum", "example", "default", "propertyOrdering", NULL
};

/* The only formats Gemini takes. */
static const char *const schema_formats[] = {
	"enum", "date-time", "int32", "int64", "float", "double", NULL
};

#define SF_TYPE		0x01
#define SF_NULLABLE	0x02
#define SF_ANYOF	0x04
#define SF_ENUM		0x08
#define SF_ORDER	0x10
#define SF_NULLTYPE	0x20	/* "null" was among the types */

static int schema_write(struct schema_ctx *, struct buf *, int, int);

/* A 400 about the schema. */
static int
schema_bad(struct schema_ctx *sc, const char *what)
{
	return gemini_bad_request(sc->err, "invalid_value", sc->param,
	    "The schema in '%s' cannot be sent to the Gemini API of model "
	    "'%s': %s.", sc->param, sc->ctx->model->id, what);
}

/* The schema a local "$ref" points to, in *out.  0 or -1 with err. */
static int
schema_ref(struct schema_ctx *sc, int ref, int *out)
{
	static const char *const bases[] = { "#/$defs/", "#/definitions/" };
	const struct json *j = sc->j;
	char path[256];
	size_t i, n;
	int defs;

	if (json_type(j, ref) != JSON_STRING ||
	    json_strcpy(j, ref, path, sizeof(path)) != 0)
		return schema_bad(sc, "a $ref is not a short string");
	if (strcmp(path, "#") == 0) {
		*out = sc->root;
		return 0;
	}
	for (i = 0; i < NM_NELEM(bases); i++) {
		n = strlen(bases[i]);
		if (strncmp(path, bases[i], n) != 0 ||
		    strpbrk(path + n, "/~") != NULL)
			continue;
		defs = json_get(j, sc->root, i == 0 ? "$defs" : "definitions");
		if ((*out = json_get(j, defs, path + n)) >= 0)
			return 0;
	}
	return schema_bad(sc, "a $ref does not name a local definition");
}

/*
 * What s stands for: the target of its $ref, or its only allOf member,
 * repeatedly; -1 when s is plain.  0 or -1 with err.
 */
static int
schema_target(struct schema_ctx *sc, int s, int *out)
{
	const struct json *j = sc->j;
	int ref, all, hops;

	*out = -1;
	for (hops = 0; json_type(j, s) == JSON_OBJECT; hops++) {
		if (hops > GEM_MAXDEPTH)
			return schema_bad(sc, "its $ref chain is recursive");
		ref = json_get(j, s, "$ref");
		all = json_get(j, s, "allOf");
		if (ref >= 0 && all >= 0)
			return schema_bad(sc, "$ref next to allOf");
		if (all >= 0) {
			if (json_type(j, all) != JSON_ARRAY ||
			    json_size(j, all) != 1)
				return schema_bad(sc, "allOf with several schemas");
			s = all + 1;
		} else if (ref >= 0) {
			if (schema_ref(sc, ref, &s) != 0)
				return -1;
		} else
			break;
		*out = s;
	}
	return 0;
}

/* The member key of object o (prim) or else of sec; -1 when neither has it. */
static int
schema_get(const struct json *j, int prim, int sec, const char *key)
{
	int v;

	if ((v = json_get(j, prim, key)) >= 0)
		return v;
	return sec >= 0 ? json_get(j, sec, key) : -1;
}

/* "type": a string, or a list rewritten (null -> nullable, several -> anyOf). */
static int
schema_type(struct schema_ctx *sc, struct buf *b, int *n, int v, int prim,
    int sec, int *flags)
{
	const struct json *j = sc->j;
	int i, t, k = 0, one = -1, r = 0;

	if (json_type(j, v) == JSON_STRING) {
		*flags |= SF_TYPE;
		return gemini_member_key(b, n, "type") | json_write_raw(b, j, v);
	}
	if (json_type(j, v) != JSON_ARRAY)
		return schema_bad(sc, "\"type\" is neither a string nor a list");
	for (i = 0, t = v + 1; i < json_size(j, v); i++, t = json_skip(j, t)) {
		if (json_type(j, t) != JSON_STRING)
			return schema_bad(sc, "\"type\" lists a non-string");
		if (json_streq(j, t, "null"))
			*flags |= SF_NULLTYPE;
		else {
			one = t;
			k++;
		}
	}
	if (k == 0) {
		*flags |= SF_TYPE;
		return gemini_member_key(b, n, "type") | buf_appends(b, "\"null\"");
	}
	if (k == 1) {
		*flags |= SF_TYPE;
		return gemini_member_key(b, n, "type") | json_write_raw(b, j, one);
	}
	if (schema_get(j, prim, sec, "anyOf") >= 0 ||
	    schema_get(j, prim, sec, "oneOf") >= 0)
		return schema_bad(sc, "a list of types next to anyOf");
	*flags |= SF_ANYOF;
	r |= gemini_member_key(b, n, "anyOf");
	r |= buf_appendc(b, '[');
	for (i = 0, k = 0, t = v + 1; i < json_size(j, v); i++, t = json_skip(j, t)) {
		if (json_streq(j, t, "null"))
			continue;
		r |= buf_appends(b, k++ > 0 ? ",{\"type\":" : "{\"type\":");
		r |= json_write_raw(b, j, t);
		r |= buf_appendc(b, '}');
	}
	return r | buf_appendc(b, ']');
}

/* Append a list of schemas (anyOf members) cleaned. */
static int
schema_list(struct schema_ctx *sc, struct buf *b, int v, int depth)
{
	const struct json *j = sc->j;
	int i, t;

	if (json_type(j, v) != JSON_ARRAY || json_size(j, v) == 0)
		return schema_bad(sc, "anyOf/oneOf is not a list of schemas");
	if (buf_appendc(b, '[') != 0)
		return -1;
	for (i = 0, t = v + 1; i < json_size(j, v); i++, t = json_skip(j, t))
		if ((i > 0 && buf_appendc(b, ',') != 0) ||
		    schema_write(sc, b, t, depth + 1) != 0)
			return -1;
	return buf_appendc(b, ']');
}

/* "enum" (strings only: Gemini has no other kind) and "const" as an enum. */
static int
schema_enum(struct schema_ctx *sc, struct buf *b, int *n, int k, int prim,
    int sec, int *flags)
{
	const struct json *j = sc->j;
	int v = k + 1, i, t, m = 0, r = 0;

	if (json_streq(j, k, "const")) {
		if (json_type(j, v) != JSON_STRING ||
		    schema_get(j, prim, sec, "enum") >= 0)
			return 0;
		*flags |= SF_ENUM;
		return gemini_member_key(b, n, "enum") | buf_appendc(b, '[') |
		    json_write_raw(b, j, v) | buf_appendc(b, ']');
	}
	if (json_type(j, v) != JSON_ARRAY)
		return schema_bad(sc, "\"enum\" is not a list");
	for (i = 0, t = v + 1; i < json_size(j, v); i++, t = json_skip(j, t))
		if (json_type(j, t) != JSON_STRING && json_type(j, t) != JSON_NULL)
			return 0;	/* numbers: no Gemini form, leave it out */
	*flags |= SF_ENUM;
	r |= gemini_member_key(b, n, "enum") | buf_appendc(b, '[');
	for (i = 0, t = v + 1; i < json_size(j, v); i++, t = json_skip(j, t)) {
		if (json_type(j, t) == JSON_NULL) {
			*flags |= SF_NULLTYPE;
			continue;
		}
		if (m++ > 0)
			r |= buf_appendc(b, ',');
		r |= json_write_raw(b, j, t);
	}
	return r | buf_appendc(b, ']');
}

/* "required", keeping only names that are properties. */
static int
schema_required(struct schema_ctx *sc, struct buf *b, int *n, int v, int props)
{
	const struct json *j = sc->j;
	char name[256];
	int i, t, m = 0, r = 0;
	size_t mark;

	if (json_type(j, v) != JSON_ARRAY || json_type(j, props) != JSON_OBJECT)
		return 0;
	mark = b->len;
	r |= gemini_member_key(b, n, "required") | buf_appendc(b, '[');
	for (i = 0, t = v + 1; i < json_size(j, v); i++, t = json_skip(j, t)) {
		if (json_type(j, t) != JSON_STRING ||
		    json_strcpy(j, t, name, sizeof(name)) != 0 ||
		    json_get(j, props, name) < 0)
			continue;
		if (m++ > 0)
			r |= buf_appendc(b, ',');
		r |= json_write_raw(b, j, t);
	}
	if (m == 0) {		/* nothing left: no member at all */
		b->len = mark;
		b->data[mark] = '\0';
		(*n)--;
		return r;
	}
	return r | buf_appendc(b, ']');
}

/* One member of a schema (key token k) into b; unknown keywords are dropped. */
static int
schema_member(struct schema_ctx *sc, struct buf *b, int *n, int k, int prim,
    int sec, int props, int depth, int *flags)
{
	const struct json *j = sc->j;
	int v = k + 1, i, t, r = 0;

	if (json_streq(j, k, "type"))
		return schema_type(sc, b, n, v, prim, sec, flags);
	if (json_streq(j, k, "properties")) {
		if (json_type(j, v) != JSON_OBJECT)
			return schema_bad(sc, "\"properties\" is not an object");
		r |= gemini_member_key(b, n, "properties") | buf_appendc(b, '{');
		for (i = 0, t = v + 1; i < json_size(j, v); i++, t = json_skip(j, t + 1)) {
			if (i > 0)
				r |= buf_appendc(b, ',');
			r |= json_write_raw(b, j, t) | buf_appendc(b, ':');
			if (r != 0 || schema_write(sc, b, t + 1, depth + 1) != 0)
				return -1;
		}
		return buf_appendc(b, '}');
	}
	if (json_streq(j, k, "items")) {
		if (json_type(j, v) == JSON_ARRAY) {	/* a tuple: its first type */
			if (json_size(j, v) == 0)
				return 0;
			v++;
		}
		return gemini_member_key(b, n, "items") | schema_write(sc, b, v, depth + 1);
	}
	if (json_streq(j, k, "anyOf") || json_streq(j, k, "oneOf")) {
		if (*flags & SF_ANYOF)
			return schema_bad(sc, "anyOf and oneOf together");
		*flags |= SF_ANYOF;
		return gemini_member_key(b, n, "anyOf") | schema_list(sc, b, v, depth);
	}
	if (json_streq(j, k, "enum") || json_streq(j, k, "const"))
		return (*flags & SF_ENUM) ? 0 :
		    schema_enum(sc, b, n, k, prim, sec, flags);
	if (json_streq(j, k, "format"))
		return gemini_in_list(j, v, schema_formats) ?
		    gemini_member_key(b, n, "format") | json_write_raw(b, j, v) : 0;
	if (json_streq(j, k, "required"))
		return schema_required(sc, b, n, v, props);
	if (!gemini_in_list(j, k, schema_keep))
		return 0;
	if (json_streq(j, k, "nullable"))
		*flags |= SF_NULLABLE;
	if (json_streq(j, k, "propertyOrdering"))
		*flags |= SF_ORDER;
	if ((*n)++ > 0)
		r |= buf_appendc(b, ',');
	return r | json_write_raw(b, j, k) | buf_appendc(b, ':') |
	    json_write_raw(b, j, v);
}

/* Schema s cleaned for Gemini into b.  0, or -1 (err set unless OOM). */
static int
schema_write(struct schema_ctx *sc, struct buf *b, int s, int depth)
{
	const struct json *j = sc->j;
	char key[128];
	int sec, props, flags = 0, n = 0, i, k, r = 0;

	if (depth > GEM_MAXDEPTH)
		return schema_bad(sc, "it is nested too deeply or recursive");
	if (json_type(j, s) == JSON_TRUE)
		return buf_appends(b, "{}");
	if (json_type(j, s) != JSON_OBJECT)
		return schema_bad(sc, "a schema is not an object");
	if (schema_target(sc, s, &sec) != 0)
		return -1;
	if (json_type(j, sec) != JSON_OBJECT)
		sec = -1;
	props = schema_get(j, s, sec, "properties");
	if (buf_appendc(b, '{') != 0)
		return -1;
	for (i = 0, k = s + 1; i < json_size(j, s); i++, k = json_skip(j, k + 1))
		if (schema_member(sc, b, &n, k, s, sec, props, depth, &flags) != 0)
			return -1;
	for (i = 0, k = sec + 1; sec >= 0 && i < json_size(j, sec); i++,
	    k = json_skip(j, k + 1)) {
		if (json_strcpy(j, k, key, sizeof(key)) != 0 ||
		    json_get(j, s, key) >= 0)
			continue;
		if (schema_member(sc, b, &n, k, s, sec, props, depth, &flags) != 0)
			return -1;
	}
	if ((flags & SF_NULLTYPE) && !(flags & SF_NULLABLE))
		r |= gemini_member_key(b, &n, "nullable") | buf_appends(b, "true");
	/* Gemini orders keys alphabetically unless told: keep the schema's. */
	if (sc->resp && json_type(j, props) == JSON_OBJECT &&
	    json_size(j, props) > 1 && !(flags & SF_ORDER)) {
		r |= gemini_member_key(b, &n, "propertyOrdering") | buf_appendc(b, '[');
		for (i = 0, k = props + 1; i < json_size(j, props); i++,
		    k = json_skip(j, k + 1))
			r |= buf_appends(b, i > 0 ? "," : "") |
			    json_write_raw(b, j, k);
		r |= buf_appendc(b, ']');
	}
	return r | buf_appendc(b, '}');
}

/* Clean schema s (param names it for errors) into b. */
int
gemini_schema_clean(const struct prov_ctx *ctx, const struct json *j, int s,
    int resp, const char *param, struct buf *b, struct errinfo *err)
{
	struct schema_ctx sc;

	sc.ctx = ctx;
	sc.j = j;
	sc.root = s;
	sc.resp = resp;
	sc.err = err;
	sc.param = param;
	return schema_write(&sc, b, s, 0);
}

/* 1 if schema s (after $ref/allOf) declares at least one property. */
int
gemini_schema_has_props(const struct prov_ctx *ctx, const struct json *j, int s)
{
	struct schema_ctx sc;
	struct errinfo e;
	int t, p;

	memset(&sc, 0, sizeof(sc));
	sc.ctx = ctx;
	sc.j = j;
	sc.root = s;
	sc.err = &e;
	sc.param = "";
	if (json_type(j, s) != JSON_OBJECT)
		return 0;
	if (schema_target(&sc, s, &t) != 0)
		return 1;	/* let gemini_schema_clean() report it */
	p = schema_get(j, s, json_type(j, t) == JSON_OBJECT ? t : -1,
	    "properties");
	return json_type(j, p) == JSON_OBJECT && json_size(j, p) > 0;
}
