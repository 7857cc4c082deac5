/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Canonical JSON for cache keys, over the tokens of json.c.  Numbers are
 * normalised on their digits (sign, significant digits, power of ten), so
 * no precision is lost and no absurd exponent makes us allocate; strings
 * are compared on their unescaped bytes; members are sorted by key, except
 * in an object named "properties" (a JSON Schema's: its order can change
 * a structured answer).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errinfo.h"
#include "canon.h"

#define CANON_EXP_DIGITS	9	/* significant exponent digits we read */

/* Where a value sits in a request, for the canonical (text) mode. */
enum canon_where {
	CW_ANY,			/* anything: exact form */
	CW_ROOT,		/* the request body */
	CW_MESSAGES,		/* the messages array */
	CW_MESSAGE,		/* one message object */
	CW_PARTS,		/* a message's content array */
	CW_PART,		/* one content part */
	CW_TEXT,		/* message text: whitespace collapsed */
	CW_ORDERED		/* a JSON Schema's "properties": order kept */
};

/* Top-level request members that cannot change the answer. */
static const char *const canon_omit[] = {
	"stream", "stream_options", "user", "metadata", "store",
};

/* Roles whose content is data, left exact even in the canonical mode. */
static const char *const canon_data_roles[] = { "tool", "function" };

static const char *const canon_mode_names[] = {
	[CANON_EXACT] = "exact",
	[CANON_TEXT] = "canonical",
};

/* One pass over a document. */
struct canon_ctx {
	const struct json	*j;
	struct buf		*out;
	enum canon_mode		 mode;
	char			*err;
	size_t			 errlen;
};

/* An object member, its key unescaped (owned when it had escapes). */
struct canon_member {
	const char	*key;
	size_t		 keylen;
	int		 owned;
	int		 val;		/* token of the value */
};

/* Messages into err buffers: errinfo.c. */
#define canon_err	errbuf_set

/* The name of a mode for keys and logs. */
const char *
canon_mode_name(enum canon_mode m)
{
	if ((size_t)m >= NM_NELEM(canon_mode_names))
		return "unknown";
	return canon_mode_names[m];
}

/* The out-of-room message, shared by every append. */
static int
canon_toobig(char *err, size_t errlen, const struct buf *out)
{
	if (out->toobig)
		canon_err(err, errlen, "canonical form over %zu bytes",
		    out->max);
	else
		canon_err(err, errlen, "out of memory");
	return -1;
}

/* Digit k of the mantissa: ni integer digits at ip, then fraction digits at fp. */
static char
canon_digit(const char *ip, size_t ni, const char *fp, size_t k)
{
	return k < ni ? ip[k] : fp[k - ni];
}

/* Append n copies of c. */
static int
canon_fill(struct buf *out, char c, size_t n)
{
	for (; n > 0; n--) {
		if (buf_appendc(out, c) == -1)
			return -1;
	}
	return 0;
}

/* Canonical decimal text of a validated JSON number. */
int
canon_number(const char *s, size_t len, struct buf *out, char *err,
    size_t errlen)
{
	const char	*p = s, *end = s + len, *ip, *fp, *ep;
	size_t		 ni, nf, nd, ne, lead, tail, n, k;
	long long	 exp = 0, e, a;
	int		 neg = 0, expneg = 0, r;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	for (ip = p; p < end && *p >= '0' && *p <= '9'; p++)
		;
	ni = (size_t)(p - ip);
	fp = p;
	if (p < end && *p == '.') {
		for (fp = ++p; p < end && *p >= '0' && *p <= '9'; p++)
			;
	}
	nf = (size_t)(p - fp);
	ep = end;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			expneg = *p++ == '-';
		for (ep = p; p < end && *p >= '0' && *p <= '9'; p++)
			;
	}
	ne = (size_t)(p - ep);
	if (p != end || ni == 0) {
		canon_err(err, errlen, "bad number");
		return -1;
	}

	/* The significant digits: the mantissa without its zeros at both ends. */
	nd = ni + nf;
	for (lead = 0; lead < nd && canon_digit(ip, ni, fp, lead) == '0'; )
		lead++;
	if (lead == nd)
		return buf_appendc(out, '0') == -1 ?
		    canon_toobig(err, errlen, out) : 0;
	for (tail = nd - 1; canon_digit(ip, ni, fp, tail) == '0'; tail--)
		;
	n = tail - lead + 1;

	/* The exponent, exactly, as long as it is sane. */
	while (ne > 0 && *ep == '0') {
		ep++;
		ne--;
	}
	if (ne > CANON_EXP_DIGITS)
		goto range;
	for (k = 0; k < ne; k++)
		exp = exp * 10 + (ep[k] - '0');
	if (expneg)
		exp = -exp;

	/*
	 * Value = S x 10^e, S the n significant digits; a is the power of
	 * ten of the first one.  Lengths fit: a body is far below 2^62.
	 */
	e = exp - (long long)nf + (long long)(nd - 1 - tail);
	a = e + (long long)n - 1;
	if (a > CANON_MAX_EXP || a < -CANON_MAX_EXP)
		goto range;

	r = 0;
	if (neg)
		r |= buf_appendc(out, '-');
	if (a >= -6 && a <= 20) {
		if (a < 0) {
			r |= buf_append(out, "0.", 2);
			r |= canon_fill(out, '0', (size_t)(-a - 1));
		}
		for (k = 0; k < n && r == 0; k++) {
			if (a >= 0 && (long long)k == a + 1)
				r |= buf_appendc(out, '.');
			r |= buf_appendc(out, canon_digit(ip, ni, fp,
			    lead + k));
		}
		if (e > 0)
			r |= canon_fill(out, '0', (size_t)e);
	} else {
		r |= buf_appendc(out, canon_digit(ip, ni, fp, lead));
		if (n > 1)
			r |= buf_appendc(out, '.');
		for (k = 1; k < n && r == 0; k++)
			r |= buf_appendc(out, canon_digit(ip, ni, fp,
			    lead + k));
		if (r == 0)
			r |= buf_appendf(out, "e%lld", a);
	}
	return r == 0 ? 0 : canon_toobig(err, errlen, out);

range:
	canon_err(err, errlen, "number exponent out of range (over 1e%d)",
	    CANON_MAX_EXP);
	return -1;
}

/* 1 if c is ASCII whitespace for message text. */
static int
canon_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	    c == '\r';
}

/* Length of the run of backticks at s[i]. */
static size_t
canon_ticks(const char *s, size_t len, size_t i)
{
	size_t	k = i;

	while (k < len && s[k] == '`')
		k++;
	return k - i;
}

/* Message text with whitespace collapsed outside code fences. */
int
canon_text(const char *s, size_t len, struct buf *out)
{
	size_t	i = 0, run, j, r2, from;
	int	space = 0, any = 0;

	while (i < len) {
		if (canon_space((unsigned char)s[i])) {
			space = 1;
			i++;
			continue;
		}
		if (space && any && buf_appendc(out, ' ') == -1)
			return -1;
		space = 0;
		any = 1;
		from = i;
		if (s[i] != '`') {
			/* A word: up to the next space or backtick. */
			while (i < len && !canon_space((unsigned char)s[i]) &&
			    s[i] != '`')
				i++;
		} else if ((run = canon_ticks(s, len, i)) < 3)
			i += run;
		else {
			/* A fence: verbatim to the end of a closing run. */
			for (j = i + run; j < len; ) {
				if (s[j] != '`') {
					j++;
					continue;
				}
				r2 = canon_ticks(s, len, j);
				j += r2;
				if (r2 >= run)
					break;
			}
			i = j;
		}
		if (buf_append(out, s + from, i - from) == -1)
			return -1;
	}
	return 0;
}

/* Order members by unescaped key bytes. */
static int
canon_member_cmp(const void *va, const void *vb)
{
	const struct canon_member	*a = va, *b = vb;
	int				 r;

	r = memcmp(a->key, b->key, NM_MIN(a->keylen, b->keylen));
	if (r == 0)
		r = (a->keylen > b->keylen) - (a->keylen < b->keylen);
	return r;
}

/* 1 if the raw text of string token i holds a backslash. */
static int
canon_escaped(const struct json *j, int i, const char **p, size_t *n)
{
	*p = json_ptr(j, i, n);
	return memchr(*p, '\\', *n) != NULL;
}

/* A string value, through canon_text when it is message text. */
static int
canon_string(struct canon_ctx *c, int i, enum canon_where w)
{
	struct buf	 text;
	const char	*p;
	char		*u = NULL;
	size_t		 n;
	int		 r;

	if (canon_escaped(c->j, i, &p, &n)) {
		if ((u = json_strdup(c->j, i, &n)) == NULL) {
			canon_err(c->err, c->errlen, "out of memory");
			return -1;
		}
		p = u;
	}
	if (w != CW_TEXT) {
		r = json_write_str(c->out, p, n);
		free(u);
		return r == -1 ? canon_toobig(c->err, c->errlen, c->out) : 0;
	}
	buf_init(&text, c->out->max);
	r = canon_text(p, n, &text);
	free(u);
	if (r == 0)
		r = json_write_str(c->out, text.data != NULL ? text.data : "",
		    text.len);
	buf_free(&text);
	return r == -1 ? canon_toobig(c->err, c->errlen, c->out) : 0;
}

/* 1 if string token i equals one of the n names. */
static int
canon_among(const struct json *j, int i, const char *const *names, size_t n)
{
	size_t	k;

	if (i == -1 || json_type(j, i) != JSON_STRING)
		return 0;
	for (k = 0; k < n; k++) {
		if (json_streq(j, i, names[k]))
			return 1;
	}
	return 0;
}

/* 1 if the member key m.key (length n) is the NUL-terminated s. */
static int
canon_key_is(const struct canon_member *m, const char *s)
{
	return m->keylen == strlen(s) && memcmp(m->key, s, m->keylen) == 0;
}

/* Where the value of member m of object obj (itself at w) sits. */
static enum canon_where
canon_member_where(struct canon_ctx *c, int obj, enum canon_where w,
    const struct canon_member *m)
{
	static const char *const text_type[] = { "text" };
	enum json_type	t = json_type(c->j, m->val);

	/*
	 * A schema's properties are written in their order, and a model
	 * writes structured output in that order (reasoning before the
	 * verdict or after it): their order can change the answer.
	 */
	if (canon_key_is(m, "properties") && t == JSON_OBJECT)
		return CW_ORDERED;
	if (c->mode != CANON_TEXT)
		return CW_ANY;
	switch (w) {
	case CW_ROOT:
		return canon_key_is(m, "messages") && t == JSON_ARRAY ?
		    CW_MESSAGES : CW_ANY;
	case CW_MESSAGE:
		if (!canon_key_is(m, "content") ||
		    canon_among(c->j, json_get(c->j, obj, "role"),
		    canon_data_roles, NM_NELEM(canon_data_roles)))
			return CW_ANY;
		return t == JSON_STRING ? CW_TEXT :
		    t == JSON_ARRAY ? CW_PARTS : CW_ANY;
	case CW_PART:
		return canon_key_is(m, "text") && t == JSON_STRING &&
		    canon_among(c->j, json_get(c->j, obj, "type"), text_type,
		    1) ? CW_TEXT : CW_ANY;
	default:
		return CW_ANY;
	}
}

/* 1 if member m is left out of the request's canonical form. */
static int
canon_omitted(enum canon_where w, const struct canon_member *m)
{
	size_t	k;

	if (w != CW_ROOT)
		return 0;
	for (k = 0; k < NM_NELEM(canon_omit); k++) {
		if (canon_key_is(m, canon_omit[k]))
			return 1;
	}
	return 0;
}

static int	canon_value(struct canon_ctx *, int, enum canon_where, int);

/* An object: members sorted by key. */
static int
canon_object(struct canon_ctx *c, int obj, enum canon_where w, int depth)
{
	struct canon_member	*m;
	const char		*p;
	size_t			 n, k, count;
	int			 i, wrote = 0, ret = -1;

	count = (size_t)json_size(c->j, obj);
	if ((m = calloc(count == 0 ? 1 : count, sizeof(*m))) == NULL) {
		canon_err(c->err, c->errlen, "out of memory");
		return -1;
	}
	for (k = 0, i = obj + 1; k < count; k++) {
		m[k].val = i + 1;
		if (canon_escaped(c->j, i, &p, &n)) {
			if ((m[k].key = json_strdup(c->j, i, &n)) == NULL) {
				canon_err(c->err, c->errlen, "out of memory");
				goto out;
			}
			m[k].owned = 1;
		} else
			m[k].key = p;
		m[k].keylen = n;
		i = json_skip(c->j, i + 1);
	}
	if (w != CW_ORDERED)
		qsort(m, count, sizeof(*m), canon_member_cmp);
	if (buf_appendc(c->out, '{') == -1)
		goto big;
	for (k = 0; k < count; k++) {
		if (canon_omitted(w, &m[k]))
			continue;
		if ((wrote++ > 0 && buf_appendc(c->out, ',') == -1) ||
		    json_write_str(c->out, m[k].key, m[k].keylen) == -1 ||
		    buf_appendc(c->out, ':') == -1)
			goto big;
		if (canon_value(c, m[k].val, canon_member_where(c, obj, w,
		    &m[k]), depth + 1) == -1)
			goto out;
	}
	if (buf_appendc(c->out, '}') == -1)
		goto big;
	ret = 0;
	goto out;
big:
	canon_toobig(c->err, c->errlen, c->out);
out:
	for (k = 0; k < count; k++) {
		if (m[k].owned)
			free((char *)m[k].key);
	}
	free(m);
	return ret;
}

/* An array: elements in order. */
static int
canon_array(struct canon_ctx *c, int arr, enum canon_where w, int depth)
{
	enum canon_where	ew = w == CW_MESSAGES ? CW_MESSAGE :
				    w == CW_PARTS ? CW_PART : CW_ANY;
	int			k, size, i;

	size = json_size(c->j, arr);
	if (buf_appendc(c->out, '[') == -1)
		return canon_toobig(c->err, c->errlen, c->out);
	for (k = 0, i = arr + 1; k < size; k++) {
		if (k > 0 && buf_appendc(c->out, ',') == -1)
			return canon_toobig(c->err, c->errlen, c->out);
		/* A message or part that is not an object is plain data. */
		if (canon_value(c, i, json_type(c->j, i) == JSON_OBJECT ? ew :
		    CW_ANY, depth + 1) == -1)
			return -1;
		i = json_skip(c->j, i);
	}
	if (buf_appendc(c->out, ']') == -1)
		return canon_toobig(c->err, c->errlen, c->out);
	return 0;
}

/* The value at token i, sitting at w. */
static int
canon_value(struct canon_ctx *c, int i, enum canon_where w, int depth)
{
	const char	*p;
	size_t		 n;

	if (depth > CANON_MAX_DEPTH) {
		canon_err(c->err, c->errlen, "JSON nested deeper than %d levels",
		    CANON_MAX_DEPTH);
		return -1;
	}
	switch (json_type(c->j, i)) {
	case JSON_OBJECT:
		return canon_object(c, i, w, depth);
	case JSON_ARRAY:
		return canon_array(c, i, w, depth);
	case JSON_STRING:
		return canon_string(c, i, w);
	case JSON_NUMBER:
		p = json_ptr(c->j, i, &n);
		return canon_number(p, n, c->out, c->err, c->errlen);
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		if (json_write_raw(c->out, c->j, i) == -1)
			return canon_toobig(c->err, c->errlen, c->out);
		return 0;
	default:
		canon_err(c->err, c->errlen, "no JSON value at token %d", i);
		return -1;
	}
}

/* Canonical form of any value. */
int
canon_write(const struct json *j, int tok, struct buf *out, char *err,
    size_t errlen)
{
	struct canon_ctx	c = { j, out, CANON_EXACT, err, errlen };

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	return canon_value(&c, tok, CW_ANY, 0);
}

/* Canonical form of a request body for its cache key. */
int
canon_request(const struct json *j, int tok, enum canon_mode mode,
    struct buf *out, char *err, size_t errlen)
{
	struct canon_ctx	c = { j, out, mode, err, errlen };

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((size_t)mode >= NM_NELEM(canon_mode_names)) {
		canon_err(err, errlen, "unknown canonical mode");
		return -1;
	}
	if (json_type(j, tok) != JSON_OBJECT) {
		canon_err(err, errlen, "request body is not a JSON object");
		return -1;
	}
	return canon_value(&c, tok, CW_ROOT, 0);
}
