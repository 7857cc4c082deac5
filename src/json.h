/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * JSON in: jsmn tokens plus every check jsmn skips (escapes, numbers,
 * UTF-8, nesting depth, token count, duplicate object keys, one value per
 * document).  JSON out: a small writer on top of struct buf.  Nothing here
 * converts a number through double: numbers stay text.
 */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#ifndef JSON_IMPLEMENTATION
#define JSMN_HEADER
#endif
#include <jsmn.h>

#include "buf.h"

struct json_limits {
	int	max_depth;	/* nesting of objects/arrays; e.g. 64 */
	int	max_tokens;	/* e.g. 1000000 */
};

struct json {
	const char	*src;	/* not owned; must outlive the struct json */
	size_t		 len;
	jsmntok_t	*tok;	/* owned */
	int		 ntok;
};

enum json_type { JSON_NONE = 0, JSON_OBJECT, JSON_ARRAY, JSON_STRING,
    JSON_NUMBER, JSON_TRUE, JSON_FALSE, JSON_NULL };

/*
 * Parse and fully validate one JSON document (leading/trailing whitespace
 * allowed).  0, or -1 with a message for the client in err (e.g. "invalid
 * JSON at byte 17: bad escape", "duplicate key \"model\" at byte 40",
 * "JSON nested deeper than 64 levels", "JSON has more than N tokens",
 * "invalid UTF-8 at byte 9").  On error j holds nothing to free.
 */
int	 json_parse(struct json *j, const char *src, size_t len,
	    const struct json_limits *lim, char *err, size_t errlen);
void	 json_free(struct json *j);	/* json_free on a zeroed struct is fine */
/* 1 if json_parse's err says it ran out of memory, not that the text is bad. */
int	 json_oom(const char *err);

enum json_type json_type(const struct json *, int i);
/* Index of the token after the whole value at i (skips its subtree). */
int	 json_skip(const struct json *, int i);
/* Value token of key in object obj, or -1. */
int	 json_get(const struct json *, int obj, const char *key);
/* Value at position idx of array arr, or -1. */
int	 json_at(const struct json *, int arr, int idx);
/* Number of members (object) or elements (array). */
int	 json_size(const struct json *, int i);
/* 1 if token i is a string whose unescaped value equals s. */
int	 json_streq(const struct json *, int i, const char *s);
/* Raw text of the value at i; for strings without the quotes. */
const char *json_ptr(const struct json *, int i, size_t *len);
/* Raw text of the value at i as it appeared, strings with their quotes. */
const char *json_raw(const struct json *, int i, size_t *len);
/* Unescaped copy of string token i; caller frees; NULL if not a string/OOM. */
char	*json_strdup(const struct json *, int i, size_t *len);
/* Unescape string i into out (NUL-terminated); -1 if it does not fit. */
int	 json_strcpy(const struct json *, int i, char *out, size_t outlen);
/* Integers that fit int64 (no fraction, no exponent beyond an integral value): 0/-1. */
int	 json_int64(const struct json *, int i, int64_t *out);
/* true/false: 0/-1. */
int	 json_bool(const struct json *, int i, int *out);

/* Writer.  All return 0 or -1 (buffer ceiling or OOM). */
/* A JSON string literal with quotes, escaping as needed; s need not be NUL-terminated. */
int	 json_write_str(struct buf *, const char *s, size_t len);
int	 json_write_cstr(struct buf *, const char *s);
/* The raw text of value i (exact copy, strings with quotes). */
int	 json_write_raw(struct buf *, const struct json *, int i);
/*
 * Copy object obj, leaving out the members whose keys are in omit
 * (NULL-terminated list), without the closing brace when open_end is set,
 * so the caller can append more members.  *nwritten gets the number of
 * members written, so the caller knows whether it needs a comma.
 */
int	 json_write_object_except(struct buf *, const struct json *, int obj,
	    const char *const *omit, int open_end, int *nwritten);

#endif
