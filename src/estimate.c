/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Token estimation for a chat request and the cost arithmetic of price
 * quotes, before any source is called.  The heuristic: one token per four
 * bytes of text (OpenAI's rule of thumb for English), four tokens of
 * framing per message and three for the reply, images by OpenAI's tile
 * formula (a fixed 765 when the size cannot be read), tools and JSON
 * schemas by the length of their JSON.  Money stays in integers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "estimate.h"
#include "money.h"
#include "json.h"

#define EST_MAX_N		128	/* n, as OpenAI bounds it */
#define EST_MAX_SIDE		1000000	/* pixels; beyond is nonsense */
#define EST_SNIFF_B64		65536	/* base64 characters read of a data URL */

/* The length of string token t once unescaped (UTF-8 bytes). */
static size_t
unescaped_len(const struct json *j, int t)
{
	const char *p;
	size_t n, i, len = 0;
	unsigned long cp;
	char hex[5];

	p = json_ptr(j, t, &n);
	for (i = 0; i < n; i++) {
		if (p[i] != '\\' || i + 1 >= n) {
			len++;
			continue;
		}
		i++;
		if (p[i] != 'u' || i + 4 >= n) {
			len++;
			continue;
		}
		memcpy(hex, p + i + 1, 4);
		hex[4] = '\0';
		cp = strtoul(hex, NULL, 16);
		i += 4;
		if (cp >= 0xd800 && cp <= 0xdbff && i + 6 < n &&
		    p[i + 1] == '\\' && p[i + 2] == 'u') {
			len += 4;	/* a surrogate pair: one 4-byte character */
			i += 6;
		} else
			len += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
	}
	return len;
}

/* Bytes a value stands for: a string's text, else its JSON. */
static size_t
value_len(const struct json *j, int t)
{
	size_t n;

	if (json_type(j, t) == JSON_STRING)
		return unescaped_len(j, t);
	if (json_type(j, t) == JSON_NULL)
		return 0;
	json_raw(j, t, &n);
	return n;
}

/* Tokens of text: ceil(len / 4). */
int64_t
estimate_text(size_t len)
{
	return (int64_t)((len + EST_BYTES_PER_TOKEN - 1) / EST_BYTES_PER_TOKEN);
}

/* ceil(a / b) for positive numbers. */
static int64_t
ceil_div(int64_t a, int64_t b)
{
	return (a + b - 1) / b;
}

/*
 * OpenAI's image formula: fit in 2048x2048, then bring the short side
 * down to 768, then 170 tokens per 512-pixel tile plus 85.  The scale is
 * kept as a fraction, so no pixel is lost to rounding.
 */
int64_t
estimate_image(int64_t w, int64_t h, const char *detail)
{
	int64_t mx, mn, sn = 1, sd = 1, tw, th;

	if (detail != NULL && strcmp(detail, "low") == 0)
		return EST_IMAGE_LOW;
	if (w <= 0 || h <= 0 || w > EST_MAX_SIDE || h > EST_MAX_SIDE)
		return EST_IMAGE_UNKNOWN;
	mx = NM_MAX(w, h);
	mn = NM_MIN(w, h);
	if (mx > 2048) {
		sn = 2048;
		sd = mx;
	}
	if (mn * sn > 768 * sd) {
		sn = 768;
		sd = mn;
	}
	tw = ceil_div(w * sn, sd * 512);
	th = ceil_div(h * sn, sd * 512);
	return EST_IMAGE_LOW + EST_IMAGE_TILE * tw * th;
}

/* The value of a base64 character, -1 for '=' and the like, -2 to skip. */
static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	if (c == '\\' || c == '\n' || c == '\r')
		return -2;		/* "\/" in JSON, folded lines */
	return -1;
}

/* Decode base64 from s into out (at most max bytes); the count decoded. */
static size_t
b64_decode(const char *s, size_t len, unsigned char *out, size_t max)
{
	uint32_t acc = 0;
	size_t i, n = 0;
	int bits = 0, v;

	for (i = 0; i < len && n < max; i++) {
		if ((v = b64val(s[i])) == -2)
			continue;
		if (v < 0)
			break;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

#define BE16(p)	((int64_t)(p)[0] << 8 | (p)[1])
#define LE16(p)	((int64_t)(p)[1] << 8 | (p)[0])
#define BE32(p)	((int64_t)(p)[0] << 24 | (int64_t)(p)[1] << 16 | \
		    (int64_t)(p)[2] << 8 | (p)[3])
#define LE24(p)	((int64_t)(p)[2] << 16 | (int64_t)(p)[1] << 8 | (p)[0])

/* Width and height from the start of a JPEG: its first SOFn segment. */
static int
jpeg_size(const unsigned char *b, size_t n, int64_t *w, int64_t *h)
{
	size_t p = 2;
	unsigned m;

	while (p + 4 <= n) {
		if (b[p] != 0xff)
			return -1;
		while (p < n && b[p] == 0xff)
			p++;
		if (p >= n)
			return -1;
		m = b[p++];
		if ((m >= 0xd0 && m <= 0xd9) || m == 0x01)
			continue;	/* no length */
		if (p + 2 > n)
			return -1;
		if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 &&
		    m != 0xcc) {
			if (p + 7 > n)
				return -1;
			*h = BE16(b + p + 3);
			*w = BE16(b + p + 5);
			return 0;
		}
		p += (size_t)BE16(b + p);
	}
	return -1;
}

/* Width and height from the first bytes of a PNG, GIF, JPEG or WebP. */
static int
sniff_size(const unsigned char *b, size_t n, int64_t *w, int64_t *h)
{
	if (n >= 24 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0 &&
	    memcmp(b + 12, "IHDR", 4) == 0) {
		*w = BE32(b + 16);
		*h = BE32(b + 20);
		return 0;
	}
	if (n >= 10 && (memcmp(b, "GIF87a", 6) == 0 ||
	    memcmp(b, "GIF89a", 6) == 0)) {
		*w = LE16(b + 6);
		*h = LE16(b + 8);
		return 0;
	}
	if (n >= 4 && b[0] == 0xff && b[1] == 0xd8)
		return jpeg_size(b, n, w, h);
	if (n >= 30 && memcmp(b, "RIFF", 4) == 0 &&
	    memcmp(b + 8, "WEBP", 4) == 0) {
		if (memcmp(b + 12, "VP8X", 4) == 0) {
			*w = LE24(b + 24) + 1;
			*h = LE24(b + 27) + 1;
			return 0;
		}
		if (memcmp(b + 12, "VP8 ", 4) == 0 &&
		    memcmp(b + 23, "\x9d\x01\x2a", 3) == 0) {
			*w = LE16(b + 26) & 0x3fff;
			*h = LE16(b + 28) & 0x3fff;
			return 0;
		}
		if (memcmp(b + 12, "VP8L", 4) == 0 && b[20] == 0x2f) {
			uint32_t v = (uint32_t)b[21] | (uint32_t)b[22] << 8 |
			    (uint32_t)b[23] << 16 | (uint32_t)b[24] << 24;
			*w = (int64_t)(v & 0x3fff) + 1;
			*h = (int64_t)((v >> 14) & 0x3fff) + 1;
			return 0;
		}
	}
	return -1;
}

/* The pixel size of a base64 data URL, from its first bytes. */
int
estimate_image_size(const char *url, size_t len, int64_t *w, int64_t *h)
{
	unsigned char *b;
	const char *p;
	size_t n, off;
	int r;

	if (len < 11 || strncmp(url, "data:image/", 11) != 0)
		return -1;
	if ((p = memchr(url, ',', len)) == NULL || p - url < 7 ||
	    strncmp(p - 7, ";base64", 7) != 0)
		return -1;
	off = (size_t)(p + 1 - url);
	n = NM_MIN(len - off, (size_t)EST_SNIFF_B64);
	if ((b = malloc(n)) == NULL)
		return -1;
	n = b64_decode(p + 1, n, b, n);
	r = sniff_size(b, n, w, h);
	free(b);
	if (r == 0 && (*w <= 0 || *h <= 0))
		r = -1;
	return r;
}

/* Tokens of one image_url part (part is its object). */
static int64_t
image_part(const struct json *j, int part)
{
	char detail[16] = "";
	const char *u;
	int64_t w = 0, h = 0;
	size_t ulen;
	int iu, url, dt;

	iu = json_get(j, part, "image_url");
	url = iu >= 0 && json_type(j, iu) == JSON_OBJECT ?
	    json_get(j, iu, "url") : iu;
	if (iu >= 0 && json_type(j, iu) == JSON_OBJECT &&
	    (dt = json_get(j, iu, "detail")) >= 0 &&
	    json_type(j, dt) == JSON_STRING)
		json_strcpy(j, dt, detail, sizeof(detail));
	if (url >= 0 && json_type(j, url) == JSON_STRING) {
		u = json_ptr(j, url, &ulen);
		if (estimate_image_size(u, ulen, &w, &h) != 0)
			w = h = 0;
	}
	return estimate_image(w, h, detail);
}

/* Bytes of text and tokens of images in a message's content. */
static void
content_size(const struct json *j, int c, size_t *bytes, int64_t *img,
    int *nimg)
{
	int i, p, t, x;

	if (json_type(j, c) != JSON_ARRAY) {
		*bytes += value_len(j, c);
		return;
	}
	for (i = 0, p = c + 1; i < json_size(j, c); i++, p = json_skip(j, p)) {
		if (json_type(j, p) == JSON_OBJECT &&
		    (t = json_get(j, p, "type")) >= 0 &&
		    json_streq(j, t, "image_url")) {
			*img += image_part(j, p);
			(*nimg)++;
		} else if (json_type(j, p) == JSON_OBJECT &&
		    (t = json_get(j, p, "type")) >= 0 &&
		    json_streq(j, t, "text") &&
		    (x = json_get(j, p, "text")) >= 0)
			*bytes += value_len(j, x);
		else
			*bytes += value_len(j, p);
	}
}

/* A positive integer member (absent or null: 0 in *out); -1 if bad. */
static int
positive(const struct json *j, const char *key, int64_t max, int64_t *out)
{
	int t;

	*out = 0;
	if ((t = json_get(j, 0, key)) < 0 || json_type(j, t) == JSON_NULL)
		return 0;
	if (json_int64(j, t, out) != 0 || *out < 1 || *out > max)
		return -1;
	return 0;
}

/* Estimate a chat request: tokens in, tokens asked for, needs. */
int
estimate_chat(const struct json *j, struct estimate *est, char *err,
    size_t errlen)
{
	size_t bytes;
	int64_t img, t;
	int msgs, i, m, k, kk, x, v;

	memset(est, 0, sizeof(*est));
	if (json_type(j, 0) != JSON_OBJECT) {
		snprintf(err, errlen, "The request body must be a JSON object.");
		return -1;
	}
	if ((msgs = json_get(j, 0, "messages")) < 0 ||
	    json_type(j, msgs) != JSON_ARRAY || json_size(j, msgs) == 0) {
		snprintf(err, errlen, "'messages' must be a non-empty array");
		return -1;
	}
	for (i = 0, m = msgs + 1; i < json_size(j, msgs); i++,
	    m = json_skip(j, m)) {
		if (json_type(j, m) != JSON_OBJECT) {
			snprintf(err, errlen, "messages[%d] must be an object", i);
			return -1;
		}
		bytes = 0;
		img = 0;
		for (k = m + 1, kk = 0; kk < json_size(j, m); kk++,
		    k = json_skip(j, k + 1)) {
			if (json_streq(j, k, "role"))
				continue;
			if (json_streq(j, k, "content"))
				content_size(j, k + 1, &bytes, &img,
				    &est->images);
			else
				bytes += value_len(j, k + 1);
		}
		est->input_tokens += EST_MSG_TOKENS + estimate_text(bytes) + img;
	}
	est->input_tokens += EST_REPLY_TOKENS;
	if (((x = json_get(j, 0, "tools")) >= 0 ||
	    (x = json_get(j, 0, "functions")) >= 0) &&
	    json_type(j, x) == JSON_ARRAY && json_size(j, x) > 0) {
		est->caps |= CAP_TOOLS;
		est->input_tokens += estimate_text(value_len(j, x));
	}
	if ((x = json_get(j, 0, "response_format")) >= 0 &&
	    json_type(j, x) == JSON_OBJECT && (k = json_get(j, x, "type")) >= 0 &&
	    (json_streq(j, k, "json_object") || json_streq(j, k, "json_schema"))) {
		est->caps |= CAP_JSON;
		if ((k = json_get(j, x, "json_schema")) >= 0)
			est->input_tokens += estimate_text(value_len(j, k));
	}
	if ((x = json_get(j, 0, "stream")) >= 0 && json_bool(j, x, &v) == 0 &&
	    v)
		est->caps |= CAP_STREAMING;
	if (est->images > 0)
		est->caps |= CAP_VISION;
	if (positive(j, "max_completion_tokens", INT64_MAX / EST_MAX_N,
	    &t) != 0) {
		snprintf(err, errlen, "'max_completion_tokens' must be a "
		    "positive integer");
		return -1;
	}
	if (t == 0 && positive(j, "max_tokens", INT64_MAX / EST_MAX_N,
	    &t) != 0) {
		snprintf(err, errlen, "'max_tokens' must be a positive integer");
		return -1;
	}
	est->max_tokens = t;
	if (positive(j, "n", EST_MAX_N, &est->n) != 0) {
		snprintf(err, errlen, "'n' must be an integer from 1 to %d",
		    EST_MAX_N);
		return -1;
	}
	if (est->n == 0)
		est->n = 1;
	return 0;
}

/* (a x pa + b x pb) / 1e6, rounded half up once. */
int
estimate_price2(int64_t a, nm_nano pa, int64_t b, nm_nano pb, nm_nano *out)
{
	const int64_t tokens[2] = { a, b };
	const nm_nano prices[2] = { pa, pb };

	return money_cost_sum(tokens, prices, 2, out);
}

/* What est costs on m, worst case and expected. */
int
estimate_cost(const struct estimate *est, const struct model *m,
    struct estimate_cost *c)
{
	int64_t per, n = est->n > 0 ? est->n : 1, left;

	memset(c, 0, sizeof(*c));
	if (est->max_tokens > 0)
		per = est->max_tokens;
	else {
		left = m->context_window - est->input_tokens;
		per = NM_MIN(m->max_output, NM_MAX(left, 0));
	}
	if (per > INT64_MAX / n)
		return -1;
	c->output_worst = per * n;
	c->output_expected = NM_MIN(per, EST_TYPICAL_OUTPUT) * n;
	if (estimate_price2(est->input_tokens, m->input_per_mtok,
	    c->output_worst, m->output_per_mtok, &c->worst) != 0 ||
	    estimate_price2(est->input_tokens, m->input_per_mtok,
	    c->output_expected, m->output_per_mtok, &c->expected) != 0)
		return -1;
	return 0;
}
