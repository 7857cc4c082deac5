/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * JSON for the request path.  A strict single-pass validator checks what
 * jsmn does not (grammar, escapes, UTF-8, numbers, literals, depth) and
 * counts the tokens, so jsmn then runs on an exactly-sized token array;
 * a last pass refuses duplicate keys.  The writer keeps numbers as text.
 */

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_IMPLEMENTATION
#include "errinfo.h"
#include "json.h"

#define JSON_DEFAULT_DEPTH	64
#define JSON_DEFAULT_TOKENS	1000000
/* json_parse's message when an allocation failed (json_oom). */
#define JSON_OOM		"out of memory"
#define JSON_DEPTH_STACK	256	/* depths up to this need no malloc */
#define JSON_KEY_SHOWN		40	/* bytes of a duplicate key in the message */
#define JSON_PAIRWISE_MAX	8	/* objects this small are checked pairwise */

/* Validator states: what may come next. */
enum jstate {
	JS_VALUE,		/* any value */
	JS_VALUE_OR_CLOSE,	/* just after '[' */
	JS_KEY_OR_CLOSE,	/* just after '{' */
	JS_KEY,			/* after ',' in an object */
	JS_COLON,
	JS_COMMA_OR_CLOSE,
	JS_DONE			/* the top-level value is complete */
};

/* Byte classes of the validator. */
#define JC_PLAIN	0x01	/* may appear unescaped in a string, ASCII */
#define JC_SPACE	0x02	/* JSON whitespace */
#define JC_DELIM	0x04	/* may follow a number or literal: ws , ] } */
#define JC_WORD		0x08	/* continues a number or literal: alnum . + - */

static unsigned char json_class[256];

/* Escape letters and what they stand for. */
struct json_esc {
	char	letter;
	char	value;
};

static const struct json_esc json_escapes[] = {
	{ '"', '"' }, { '\\', '\\' }, { '/', '/' }, { 'b', '\b' },
	{ 'f', '\f' }, { 'n', '\n' }, { 'r', '\r' }, { 't', '\t' },
};

/* Fill the byte class table (once, through pthread_once). */
static void
json_class_fill(void)
{
	int	c;

	for (c = 0; c < 256; c++) {
		unsigned char	k = 0;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
			k |= JC_PLAIN;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			k |= JC_SPACE | JC_DELIM;
		if (c == ',' || c == ']' || c == '}')
			k |= JC_DELIM;
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || c == '.' || c == '+' || c == '-' ||
		    c == '_')
			k |= JC_WORD;
		json_class[c] = k;
	}
}

/* Make sure the byte class table is ready. */
static void
json_class_init(void)
{
	static pthread_once_t	once = PTHREAD_ONCE_INIT;

	(void)pthread_once(&once, json_class_fill);
}

/* Messages into err buffers: errinfo.c. */
#define json_err	errbuf_set

/* Value of one hex digit, or -1. */
static int
json_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The four hex digits at p (at least 4 bytes available), or -1. */
static long
json_hex4(const char *p)
{
	long	v = 0;
	int	i, d;

	for (i = 0; i < 4; i++) {
		if ((d = json_hexval((unsigned char)p[i])) == -1)
			return -1;
		v = (v << 4) | d;
	}
	return v;
}

/*
 * Length of the well-formed UTF-8 sequence at s[0..n), n > 0, whose first
 * byte is >= 0x80; 0 if ill-formed (overlong, surrogate, > U+10FFFF,
 * truncated).  Ranges from Unicode's table of well-formed sequences.
 */
static size_t
json_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char	c = s[0], lo = 0x80, hi = 0xbf;
	size_t		need, i;

	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < need)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return need;
}

/*
 * Check the string whose opening quote is at *pos; leave *pos after the
 * closing quote.  0 or -1 with err set.
 */
static int
json_check_string(const char *s, size_t len, size_t *pos, char *err,
    size_t errlen)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 p = *pos + 1, n;
	long			 cp, lo;

	for (;;) {
		while (p < len && (json_class[u[p]] & JC_PLAIN))
			p++;
		if (p >= len) {
			json_err(err, errlen, "invalid JSON at byte %zu: "
			    "unterminated string", *pos);
			return -1;
		}
		if (u[p] == '"')
			break;
		if (u[p] < 0x20) {
			json_err(err, errlen, "invalid JSON at byte %zu: "
			    "control character in string", p);
			return -1;
		}
		if (u[p] >= 0x80) {
			if ((n = json_utf8_len(u + p, len - p)) == 0) {
				json_err(err, errlen, "invalid UTF-8 at byte %zu",
				    p);
				return -1;
			}
			p += n;
			continue;
		}
		/* A backslash. */
		if (p + 1 >= len)
			goto bad_escape;
		if (u[p + 1] != 'u') {
			if (strchr("\"\\/bfnrt", u[p + 1]) == NULL ||
			    u[p + 1] == '\0')
				goto bad_escape;
			p += 2;
			continue;
		}
		if (len - p < 6 || (cp = json_hex4(s + p + 2)) == -1)
			goto bad_escape;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			goto bad_surrogate;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (len - p < 12 || u[p + 6] != '\\' || u[p + 7] != 'u')
				goto bad_surrogate;
			lo = json_hex4(s + p + 8);
			if (lo < 0xdc00 || lo > 0xdfff)
				goto bad_surrogate;
			p += 12;
		} else
			p += 6;
	}
	*pos = p + 1;
	return 0;

bad_escape:
	json_err(err, errlen, "invalid JSON at byte %zu: bad escape", p);
	return -1;
bad_surrogate:
	json_err(err, errlen, "invalid JSON at byte %zu: unpaired surrogate "
	    "in \\u escape", p);
	return -1;
}

/* Check the number or literal at *pos and leave *pos after it.  0 or -1. */
static int
json_check_primitive(const char *s, size_t len, size_t *pos, char *err,
    size_t errlen)
{
	static const char *const literals[] = { "true", "false", "null" };
	size_t			 p = *pos, i, n;
	const char		*what = "bad number";

	if (s[p] == 't' || s[p] == 'f' || s[p] == 'n') {
		what = "bad literal";
		for (i = 0; i < NM_NELEM(literals); i++) {
			n = strlen(literals[i]);
			if (len - p >= n && memcmp(s + p, literals[i], n) == 0)
				break;
		}
		if (i == NM_NELEM(literals))
			goto bad;
		p += n;
		goto end;
	}
	if (s[p] == '-')
		p++;
	if (p < len && s[p] == '0')
		p++;
	else if (p < len && s[p] >= '1' && s[p] <= '9') {
		while (p < len && s[p] >= '0' && s[p] <= '9')
			p++;
	} else
		goto bad;
	if (p < len && s[p] == '.') {
		if (++p >= len || s[p] < '0' || s[p] > '9')
			goto bad;
		while (p < len && s[p] >= '0' && s[p] <= '9')
			p++;
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= len || s[p] < '0' || s[p] > '9')
			goto bad;
		while (p < len && s[p] >= '0' && s[p] <= '9')
			p++;
	}
end:
	/* jsmn ends a primitive at ws , ] } only: anything word-like is ours to refuse. */
	if (p < len && (json_class[(unsigned char)s[p]] & JC_WORD))
		goto bad;
	*pos = p;
	return 0;
bad:
	json_err(err, errlen, "invalid JSON at byte %zu: %s", *pos, what);
	return -1;
}

/*
 * Validate the whole document and count its tokens the way jsmn will.
 * 0 with *ntok and *maxdepth set, or -1 with err set.
 */
static int
json_validate(const char *s, size_t len, const struct json_limits *lim,
    int *ntok, int *maxdepth, char *err, size_t errlen)
{
	char		 stackbuf[JSON_DEPTH_STACK], *stack = stackbuf;
	size_t		 pos = 0;
	enum jstate	 st = JS_VALUE;
	int		 depth = 0, deepest = 0, count = 0, ret = -1;
	unsigned char	 c;

	if (lim->max_depth > JSON_DEPTH_STACK &&
	    (stack = malloc((size_t)lim->max_depth)) == NULL) {
		json_err(err, errlen, JSON_OOM);
		return -1;
	}
	for (;;) {
		while (pos < len && (json_class[(unsigned char)s[pos]] &
		    JC_SPACE))
			pos++;
		if (pos >= len) {
			if (st == JS_DONE)
				break;
			json_err(err, errlen, "invalid JSON at byte %zu: "
			    "unexpected end of input", pos);
			goto out;
		}
		c = (unsigned char)s[pos];
		switch (st) {
		case JS_DONE:
			json_err(err, errlen, "invalid JSON at byte %zu: "
			    "unexpected data after the value", pos);
			goto out;
		case JS_COLON:
			if (c != ':') {
				json_err(err, errlen, "invalid JSON at byte "
				    "%zu: expected ':'", pos);
				goto out;
			}
			pos++;
			st = JS_VALUE;
			continue;
		case JS_COMMA_OR_CLOSE:
			if (c == ',') {
				pos++;
				st = stack[depth - 1] == '{' ? JS_KEY : JS_VALUE;
				continue;
			}
			if (c == (stack[depth - 1] == '{' ? '}' : ']'))
				goto close;
			json_err(err, errlen, "invalid JSON at byte %zu: "
			    "expected ',' or '%c'", pos,
			    stack[depth - 1] == '{' ? '}' : ']');
			goto out;
		case JS_KEY_OR_CLOSE:
			if (c == '}')
				goto close;
			/* FALLTHROUGH */
		case JS_KEY:
			if (c != '"') {
				json_err(err, errlen, "invalid JSON at byte "
				    "%zu: expected a string key", pos);
				goto out;
			}
			if (++count > lim->max_tokens)
				goto toomany;
			if (json_check_string(s, len, &pos, err, errlen) == -1)
				goto out;
			st = JS_COLON;
			continue;
		case JS_VALUE_OR_CLOSE:
			if (c == ']')
				goto close;
			/* FALLTHROUGH */
		case JS_VALUE:
			break;
		}

		/* A value. */
		if (++count > lim->max_tokens)
			goto toomany;
		if (c == '{' || c == '[') {
			if (depth >= lim->max_depth) {
				json_err(err, errlen, "JSON nested deeper than "
				    "%d levels", lim->max_depth);
				goto out;
			}
			stack[depth++] = (char)c;
			deepest = NM_MAX(deepest, depth);
			pos++;
			st = c == '{' ? JS_KEY_OR_CLOSE : JS_VALUE_OR_CLOSE;
			continue;
		}
		if (c == '"') {
			if (json_check_string(s, len, &pos, err, errlen) == -1)
				goto out;
		} else if (c == '-' || (c >= '0' && c <= '9') || c == 't' ||
		    c == 'f' || c == 'n') {
			if (json_check_primitive(s, len, &pos, err, errlen) == -1)
				goto out;
		} else {
			json_err(err, errlen, "invalid JSON at byte %zu: "
			    "unexpected character", pos);
			goto out;
		}
		st = depth == 0 ? JS_DONE : JS_COMMA_OR_CLOSE;
		continue;
close:
		pos++;
		depth--;
		st = depth == 0 ? JS_DONE : JS_COMMA_OR_CLOSE;
	}
	*ntok = count;
	*maxdepth = deepest;
	ret = 0;
	goto out;
toomany:
	json_err(err, errlen, "JSON has more than %d tokens", lim->max_tokens);
out:
	if (stack != stackbuf)
		free(stack);
	return ret;
}

/*
 * Unescaping, one byte at a time, for comparisons that must not allocate.
 * The input was validated, so escapes are well formed.
 */
struct json_dec {
	const char	*p, *end;
	unsigned char	 pend[4];
	int		 npend, ipend;
};

/* Encode code point cp as UTF-8 into out; returns the length. */
static int
json_utf8_put(unsigned long cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decode the escape at p (p[0] is the backslash) into out; returns the
 * number of input bytes used and sets *outlen.  Never reads past end.
 */
static size_t
json_unescape_one(const char *p, const char *end, unsigned char *out,
    int *outlen)
{
	size_t		i;
	long		cp, lo;

	if (end - p < 2) {
		*outlen = 0;
		return (size_t)(end - p);
	}
	if (p[1] != 'u') {
		for (i = 0; i < NM_NELEM(json_escapes); i++) {
			if (json_escapes[i].letter == p[1])
				break;
		}
		out[0] = i < NM_NELEM(json_escapes) ?
		    (unsigned char)json_escapes[i].value : (unsigned char)p[1];
		*outlen = 1;
		return 2;
	}
	if (end - p < 6 || (cp = json_hex4(p + 2)) == -1) {
		*outlen = 0;
		return (size_t)(end - p);
	}
	if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 12 && p[6] == '\\' &&
	    p[7] == 'u' && (lo = json_hex4(p + 8)) >= 0xdc00 && lo <= 0xdfff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		*outlen = json_utf8_put((unsigned long)cp, out);
		return 12;
	}
	*outlen = json_utf8_put((unsigned long)cp, out);
	return 6;
}

/* Next unescaped byte, or -1 at the end. */
static int
json_dec_next(struct json_dec *d)
{
	unsigned char	c;

	if (d->ipend < d->npend)
		return d->pend[d->ipend++];
	if (d->p >= d->end)
		return -1;
	c = (unsigned char)*d->p;
	if (c != '\\') {
		d->p++;
		return c;
	}
	d->p += json_unescape_one(d->p, d->end, d->pend, &d->npend);
	d->ipend = 0;
	if (d->npend == 0)
		return -1;
	return d->pend[d->ipend++];
}

/* Unescape n raw bytes at p into out (room for n bytes); returns the length. */
static size_t
json_unescape(const char *p, size_t n, char *out)
{
	const char	*end = p + n, *bs;
	size_t		 o = 0;
	int		 k;

	while (p < end) {
		if ((bs = memchr(p, '\\', (size_t)(end - p))) == NULL)
			bs = end;
		memcpy(out + o, p, (size_t)(bs - p));
		o += (size_t)(bs - p);
		p = bs;
		if (p < end) {
			p += json_unescape_one(p, end, (unsigned char *)out + o,
			    &k);
			o += (size_t)k;
		}
	}
	return o;
}

/* Length of the unescaped form of n raw bytes at p. */
static size_t
json_unescaped_len(const char *p, size_t n)
{
	struct json_dec	d = { p, p + n, { 0 }, 0, 0 };
	size_t		o = 0;

	if (memchr(p, '\\', n) == NULL)
		return n;
	while (json_dec_next(&d) != -1)
		o++;
	return o;
}

/* A key of an object being checked for duplicates. */
struct json_key {
	const char	*p;	/* raw, escaped */
	int		 len;
	int		 tok;
	int		 esc;	/* has a backslash */
};

/* Order keys by their unescaped bytes, then by position. */
static int
json_key_cmp(const void *va, const void *vb)
{
	const struct json_key	*a = va, *b = vb;
	struct json_dec		 da, db;
	int			 ca, cb, r;

	if (!a->esc && !b->esc) {
		r = memcmp(a->p, b->p, (size_t)NM_MIN(a->len, b->len));
		if (r == 0)
			r = (a->len > b->len) - (a->len < b->len);
	} else {
		memset(&da, 0, sizeof(da));
		memset(&db, 0, sizeof(db));
		da.p = a->p;
		da.end = a->p + a->len;
		db.p = b->p;
		db.end = b->p + b->len;
		do {
			ca = json_dec_next(&da);
			cb = json_dec_next(&db);
		} while (ca == cb && ca != -1);
		r = (ca > cb) - (ca < cb);
	}
	if (r == 0)
		r = (a->tok > b->tok) - (a->tok < b->tok);
	return r;
}

/* 1 if the two keys unescape to the same bytes. */
static int
json_key_same(const struct json_key *a, const struct json_key *b)
{
	struct json_key	x = *a, y = *b;

	x.tok = y.tok = 0;
	return json_key_cmp(&x, &y) == 0;
}

/* Describe the duplicate key k in err, quoting a cleaned prefix of it. */
static void
json_dup_err(const struct json *j, const struct json_key *k, char *err,
    size_t errlen)
{
	char	shown[JSON_KEY_SHOWN + 4];
	size_t	i, n;
	char	*u;

	u = json_strdup(j, k->tok, &n);
	if (u == NULL) {
		json_err(err, errlen, "duplicate key at byte %d",
		    j->tok[k->tok].start - 1);
		return;
	}
	for (i = 0; i < n && i < JSON_KEY_SHOWN; i++) {
		unsigned char c = (unsigned char)u[i];

		shown[i] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ?
		    '?' : (char)c;
	}
	if (n > JSON_KEY_SHOWN) {
		memcpy(shown + i, "...", 3);
		i += 3;
	}
	shown[i] = '\0';
	free(u);
	json_err(err, errlen, "duplicate key \"%s\" at byte %d", shown,
	    j->tok[k->tok].start - 1);
}

/*
 * Find a duplicate among the n keys at k.  Returns the index in k of the
 * later occurrence (the earliest such in the document), or -1.
 */
static int
json_keys_dup(struct json_key *k, int n)
{
	int	a, b, found = -1;

	if (n <= JSON_PAIRWISE_MAX) {
		/* Keys are in document order: the first b with an earlier twin. */
		for (b = 1; b < n; b++) {
			for (a = 0; a < b; a++) {
				if (k[a].len == k[b].len && !k[a].esc &&
				    !k[b].esc) {
					if (memcmp(k[a].p, k[b].p,
					    (size_t)k[a].len) == 0)
						return b;
				} else if ((k[a].esc || k[b].esc) &&
				    json_key_same(&k[a], &k[b]))
					return b;
			}
		}
		return -1;
	}
	qsort(k, (size_t)n, sizeof(*k), json_key_cmp);
	for (b = 1; b < n; b++) {
		/* In a run of equal keys, the second is the first repeat. */
		if (json_key_same(&k[b - 1], &k[b]) &&
		    (b < 2 || !json_key_same(&k[b - 2], &k[b - 1])) &&
		    (found == -1 || k[b].tok < k[found].tok))
			found = b;
	}
	return found;
}

/*
 * Refuse objects with two equal keys.  Keys are kept on a stack: an inner
 * object's keys are checked and popped when it ends, so each object's own
 * keys are contiguous.  0 or -1 with err set.
 */
static int
json_check_dups(const struct json *j, int maxdepth, char *err, size_t errlen)
{
	struct json_key	*keys = NULL, *nk;
	int		*open = NULL, *base = NULL;	/* open containers */
	int		 nopen = 0, nkeys = 0, capkeys = 0, i, d, ret = -1;
	const jsmntok_t	*t;

	if (maxdepth == 0)
		return 0;
	open = calloc((size_t)maxdepth, sizeof(*open));
	base = calloc((size_t)maxdepth, sizeof(*base));
	if (open == NULL || base == NULL)
		goto oom;
	for (i = 0; i <= j->ntok; i++) {
		/* Close the containers that end before token i. */
		while (nopen > 0 && (i == j->ntok ||
		    j->tok[i].start >= j->tok[open[nopen - 1]].end)) {
			nopen--;
			if (j->tok[open[nopen]].type == JSMN_OBJECT &&
			    nkeys - base[nopen] >= 2) {
				d = json_keys_dup(keys + base[nopen],
				    nkeys - base[nopen]);
				if (d != -1) {
					json_dup_err(j, &keys[base[nopen] + d],
					    err, errlen);
					goto out;
				}
			}
			nkeys = base[nopen];
		}
		if (i == j->ntok)
			break;
		t = &j->tok[i];
		if (t->type == JSMN_OBJECT || t->type == JSMN_ARRAY) {
			if (nopen >= maxdepth)
				goto oom;	/* cannot happen: validated */
			base[nopen] = nkeys;
			open[nopen++] = i;
			continue;
		}
		if (t->type != JSMN_STRING || nopen == 0 ||
		    t->parent != open[nopen - 1] ||
		    j->tok[open[nopen - 1]].type != JSMN_OBJECT ||
		    j->tok[open[nopen - 1]].size < 2)
			continue;
		if (nkeys == capkeys) {
			capkeys = capkeys == 0 ? 64 : capkeys * 2;
			nk = realloc(keys, (size_t)capkeys * sizeof(*keys));
			if (nk == NULL)
				goto oom;
			keys = nk;
		}
		keys[nkeys].p = j->src + t->start;
		keys[nkeys].len = t->end - t->start;
		keys[nkeys].tok = i;
		keys[nkeys].esc = memchr(keys[nkeys].p, '\\',
		    (size_t)keys[nkeys].len) != NULL;
		nkeys++;
	}
	ret = 0;
	goto out;
oom:
	json_err(err, errlen, JSON_OOM);
out:
	free(keys);
	free(open);
	free(base);
	return ret;
}

/* 1 if json_parse's err says it ran out of memory, not that the text is bad. */
int
json_oom(const char *err)
{
	return err != NULL && strcmp(err, JSON_OOM) == 0;
}

/* Parse and fully validate one document; j->tok is owned by j. */
int
json_parse(struct json *j, const char *src, size_t len,
    const struct json_limits *lim, char *err, size_t errlen)
{
	struct json_limits	 l = { JSON_DEFAULT_DEPTH, JSON_DEFAULT_TOKENS };
	jsmn_parser		 p;
	size_t			 pos = 0;
	int			 ntok, maxdepth, r;

	memset(j, 0, sizeof(*j));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	json_class_init();
	if (lim != NULL) {
		if (lim->max_depth > 0)
			l.max_depth = lim->max_depth;
		if (lim->max_tokens > 0)
			l.max_tokens = lim->max_tokens;
	}
	if (src == NULL)
		len = 0;
	if (len >= INT_MAX) {
		json_err(err, errlen, "JSON document too large");
		return -1;
	}
	if (json_validate(src, len, &l, &ntok, &maxdepth, err, errlen) == -1)
		return -1;

	j->src = src;
	j->len = len;
	if ((j->tok = calloc((size_t)ntok, sizeof(*j->tok))) == NULL) {
		json_err(err, errlen, JSON_OOM);
		goto fail;
	}
	while (json_class[(unsigned char)src[pos]] & JC_SPACE)
		pos++;
	if (src[pos] != '{' && src[pos] != '[' && src[pos] != '"') {
		/* jsmn's strict mode wants a delimiter after a bare primitive. */
		j->tok[0].type = JSMN_PRIMITIVE;
		j->tok[0].start = (int)pos;
		j->tok[0].end = (int)pos;
		while ((size_t)j->tok[0].end < len &&
		    !(json_class[(unsigned char)src[j->tok[0].end]] & JC_SPACE))
			j->tok[0].end++;
		j->tok[0].size = 0;
		j->tok[0].parent = -1;
		r = 1;
	} else {
		jsmn_init(&p);
		r = jsmn_parse(&p, src, len, j->tok, (unsigned int)ntok);
	}
	if (r == JSMN_ERROR_NOMEM) {
		json_err(err, errlen, "JSON has more than %d tokens", ntok);
		goto fail;
	}
	if (r != ntok) {
		/* The validator and jsmn disagree: a bug, refuse the input. */
#ifdef JSON_ABORT_ON_MISMATCH
		abort();
#endif
		json_err(err, errlen, "invalid JSON");
		goto fail;
	}
	j->ntok = ntok;
	if (json_check_dups(j, maxdepth, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	json_free(j);
	return -1;
}

/* Free the tokens; the source text is not ours.  A zeroed struct is fine. */
void
json_free(struct json *j)
{
	if (j == NULL)
		return;
	free(j->tok);
	j->tok = NULL;
	j->ntok = 0;
	j->src = NULL;
	j->len = 0;
}

/* Token i, or NULL when out of range. */
static const jsmntok_t *
json_tok(const struct json *j, int i)
{
	if (j == NULL || j->tok == NULL || i < 0 || i >= j->ntok)
		return NULL;
	return &j->tok[i];
}

/* Type of token i; JSON_NONE when out of range. */
enum json_type
json_type(const struct json *j, int i)
{
	const jsmntok_t	*t;

	if ((t = json_tok(j, i)) == NULL)
		return JSON_NONE;
	switch (t->type) {
	case JSMN_OBJECT:
		return JSON_OBJECT;
	case JSMN_ARRAY:
		return JSON_ARRAY;
	case JSMN_STRING:
		return JSON_STRING;
	case JSMN_PRIMITIVE:
		break;
	default:
		return JSON_NONE;
	}
	switch (j->src[t->start]) {
	case 't':
		return JSON_TRUE;
	case 'f':
		return JSON_FALSE;
	case 'n':
		return JSON_NULL;
	default:
		return JSON_NUMBER;
	}
}

/*
 * Index after the subtree at i (for a key, after its value); -1 if i is
 * out of range.  Tokens start at increasing offsets, so the end of the
 * subtree is found by binary search on the start offsets: O(log n).
 */
int
json_skip(const struct json *j, int i)
{
	const jsmntok_t	*t;
	int		 lo, hi, mid;

	if ((t = json_tok(j, i)) == NULL)
		return -1;
	if (t->type == JSMN_STRING && t->size > 0)
		return json_skip(j, i + 1);
	if (t->type != JSMN_OBJECT && t->type != JSMN_ARRAY)
		return i + 1;
	lo = i + 1;
	hi = j->ntok;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (j->tok[mid].start < t->end)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Value of key in object obj, or -1.  O(members x log n). */
int
json_get(const struct json *j, int obj, const char *key)
{
	const jsmntok_t	*t;
	int		 k, m;

	if ((t = json_tok(j, obj)) == NULL || t->type != JSMN_OBJECT)
		return -1;
	for (k = obj + 1, m = 0; m < t->size; m++) {
		if (json_streq(j, k, key))
			return k + 1;
		k = json_skip(j, k + 1);
	}
	return -1;
}

/* Element idx of array arr, or -1.  O(idx): walk long arrays with json_skip. */
int
json_at(const struct json *j, int arr, int idx)
{
	const jsmntok_t	*t;
	int		 k, m;

	if ((t = json_tok(j, arr)) == NULL || t->type != JSMN_ARRAY ||
	    idx < 0 || idx >= t->size)
		return -1;
	for (k = arr + 1, m = 0; m < idx; m++)
		k = json_skip(j, k);
	return k;
}

/* Members of an object or elements of an array; -1 for anything else. */
int
json_size(const struct json *j, int i)
{
	const jsmntok_t	*t;

	if ((t = json_tok(j, i)) == NULL ||
	    (t->type != JSMN_OBJECT && t->type != JSMN_ARRAY))
		return -1;
	return t->size;
}

/* 1 if string token i unescapes to exactly s (embedded NULs never match). */
int
json_streq(const struct json *j, int i, const char *s)
{
	const jsmntok_t	*t;
	const char	*p;
	size_t		 n;
	struct json_dec	 d;
	int		 c;

	if ((t = json_tok(j, i)) == NULL || t->type != JSMN_STRING ||
	    s == NULL)
		return 0;
	p = j->src + t->start;
	n = (size_t)(t->end - t->start);
	if (memchr(p, '\\', n) == NULL)
		return strlen(s) == n && memcmp(p, s, n) == 0;
	memset(&d, 0, sizeof(d));
	d.p = p;
	d.end = p + n;
	for (; *s != '\0'; s++) {
		if (json_dec_next(&d) != (unsigned char)*s)
			return 0;
	}
	c = json_dec_next(&d);
	return c == -1;
}

/* The text of value i, strings without quotes; NULL if out of range.  Not a copy. */
const char *
json_ptr(const struct json *j, int i, size_t *len)
{
	const jsmntok_t	*t;

	if ((t = json_tok(j, i)) == NULL) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = (size_t)(t->end - t->start);
	return j->src + t->start;
}

/* The text of value i as written, strings with quotes.  Not a copy. */
const char *
json_raw(const struct json *j, int i, size_t *len)
{
	const jsmntok_t	*t;
	int		 q;

	if ((t = json_tok(j, i)) == NULL) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	q = t->type == JSMN_STRING ? 1 : 0;
	if (len != NULL)
		*len = (size_t)(t->end - t->start + 2 * q);
	return j->src + t->start - q;
}

/* Unescaped, NUL-terminated copy of string i (it may hold NULs: see *len).  Caller frees. */
char *
json_strdup(const struct json *j, int i, size_t *len)
{
	const jsmntok_t	*t;
	size_t		 n;
	char		*out;

	if ((t = json_tok(j, i)) == NULL || t->type != JSMN_STRING)
		return NULL;
	n = (size_t)(t->end - t->start);
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	n = json_unescape(j->src + t->start, n, out);
	out[n] = '\0';
	if (len != NULL)
		*len = n;
	return out;
}

/* Unescape string i into out; -1 if not a string, too long, or holding a NUL. */
int
json_strcpy(const struct json *j, int i, char *out, size_t outlen)
{
	const jsmntok_t	*t;
	const char	*p;
	size_t		 n, u;

	if (out == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	if ((t = json_tok(j, i)) == NULL || t->type != JSMN_STRING)
		return -1;
	p = j->src + t->start;
	n = (size_t)(t->end - t->start);
	u = n < outlen ? n : json_unescaped_len(p, n);
	if (u >= outlen)
		return -1;
	u = json_unescape(p, n, out);
	out[u] = '\0';
	if (memchr(out, '\0', u) != NULL) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* Digit k of a mantissa written as ni integer digits at ip, then fraction digits at fp. */
static unsigned
json_mant_digit(const char *ip, long long ni, const char *fp, long long k)
{
	return (unsigned)((k < ni ? ip[k] : fp[k - ni]) - '0');
}

/*
 * Integer value of number i.  Fractions and exponents are fine when the
 * value is integral ("1.0", "1.5e1" yes, "15e-1" no); -1 otherwise or on
 * overflow.  Exact: no double on the way.
 */
int
json_int64(const struct json *j, int i, int64_t *out)
{
	const char	*p, *end, *ip, *fp;
	size_t		 len;
	long long	 ni, nf, exp = 0, e, nd, lead, k;
	uint64_t	 v = 0, lim, d;
	int		 neg = 0, expneg = 0;

	if (json_type(j, i) != JSON_NUMBER)
		return -1;
	p = json_ptr(j, i, &len);
	end = p + len;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	for (ip = p; p < end && *p >= '0' && *p <= '9'; p++)
		;
	ni = p - ip;
	fp = p;
	if (p < end && *p == '.') {
		for (fp = ++p; p < end && *p >= '0' && *p <= '9'; p++)
			;
	}
	nf = p - fp;
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (*++p == '+' || *p == '-')
			expneg = *p++ == '-';
		for (; p < end; p++) {
			if (exp < 100000000)	/* saturate: 1e100000000 is out anyway */
				exp = exp * 10 + (*p - '0');
		}
		if (expneg)
			exp = -exp;
	}
	/* Value = D x 10^e, D the nd digits without the point. */
	nd = ni + nf;
	e = exp - nf;
	while (nd > 0 && json_mant_digit(ip, ni, fp, nd - 1) == 0) {
		nd--;
		e++;
	}
	for (lead = 0; lead < nd && json_mant_digit(ip, ni, fp, lead) == 0; )
		lead++;
	if (lead == nd) {
		*out = 0;
		return 0;
	}
	/* A fraction is left, or more than 19 digits cannot fit. */
	if (e < 0 || nd - lead + e > 19)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (k = lead; k < nd + e; k++) {
		d = k < nd ? json_mant_digit(ip, ni, fp, k) : 0;
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

/* true -> 1, false -> 0; -1 for anything else. */
int
json_bool(const struct json *j, int i, int *out)
{
	switch (json_type(j, i)) {
	case JSON_TRUE:
		*out = 1;
		return 0;
	case JSON_FALSE:
		*out = 0;
		return 0;
	default:
		return -1;
	}
}

/* Undo a partial write: the buffer keeps what it had before. */
static int
json_rollback(struct buf *b, size_t len)
{
	if (b->data != NULL && len <= b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
	return -1;
}

/* A string literal: escapes " \ and control bytes, invalid UTF-8 becomes U+FFFD. */
int
json_write_str(struct buf *b, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, run, n, k, old = b->len;
	char			 esc[6];

	json_class_init();
	if (buf_appendc(b, '"') == -1)
		return json_rollback(b, old);
	for (i = 0; i < len; ) {
		for (run = i; run < len && (json_class[u[run]] & JC_PLAIN); )
			run++;
		if (run > i && buf_append(b, s + i, run - i) == -1)
			return json_rollback(b, old);
		if ((i = run) >= len)
			break;
		if (u[i] >= 0x80) {
			if ((n = json_utf8_len(u + i, len - i)) == 0) {
				if (buf_append(b, "\xef\xbf\xbd", 3) == -1)
					return json_rollback(b, old);
				i++;
			} else {
				if (buf_append(b, s + i, n) == -1)
					return json_rollback(b, old);
				i += n;
			}
			continue;
		}
		n = 2;
		esc[0] = '\\';
		for (k = 0; k < NM_NELEM(json_escapes); k++) {
			if (json_escapes[k].value == (char)u[i] &&
			    json_escapes[k].letter != '/')
				break;
		}
		if (k < NM_NELEM(json_escapes))
			esc[1] = json_escapes[k].letter;
		else {
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[u[i] >> 4];
			esc[5] = hex[u[i] & 0xf];
			n = 6;
		}
		if (buf_append(b, esc, n) == -1)
			return json_rollback(b, old);
		i++;
	}
	if (buf_appendc(b, '"') == -1)
		return json_rollback(b, old);
	return 0;
}

/* json_write_str of a NUL-terminated string. */
int
json_write_cstr(struct buf *b, const char *s)
{
	return json_write_str(b, s, strlen(s));
}

/* The value at i exactly as it appeared. */
int
json_write_raw(struct buf *b, const struct json *j, int i)
{
	const char	*p;
	size_t		 n;

	if ((p = json_raw(j, i, &n)) == NULL)
		return -1;
	return buf_append(b, p, n);
}

/* 1 if key token k is one of the names in omit. */
static int
json_omitted(const struct json *j, int k, const char *const *omit)
{
	for (; omit != NULL && *omit != NULL; omit++) {
		if (json_streq(j, k, *omit))
			return 1;
	}
	return 0;
}

/* Copy object obj without the members named in omit; see json.h. */
int
json_write_object_except(struct buf *b, const struct json *j, int obj,
    const char *const *omit, int open_end, int *nwritten)
{
	const jsmntok_t	*t;
	size_t		 old = b->len;
	int		 k, m, n = 0;

	if (nwritten != NULL)
		*nwritten = 0;
	if ((t = json_tok(j, obj)) == NULL || t->type != JSMN_OBJECT)
		return -1;
	if (buf_appendc(b, '{') == -1)
		return json_rollback(b, old);
	for (k = obj + 1, m = 0; m < t->size; m++, k = json_skip(j, k + 1)) {
		if (json_omitted(j, k, omit))
			continue;
		if ((n > 0 && buf_appendc(b, ',') == -1) ||
		    json_write_raw(b, j, k) == -1 ||
		    buf_appendc(b, ':') == -1 ||
		    json_write_raw(b, j, k + 1) == -1)
			return json_rollback(b, old);
		n++;
	}
	if (!open_end && buf_appendc(b, '}') == -1)
		return json_rollback(b, old);
	if (nwritten != NULL)
		*nwritten = n;
	return 0;
}
