/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Loads and checks the model catalog (models.yaml) into an immutable
 * struct catalog.  Every model key is one row of a table: its type, whether
 * it is required and the handler that checks and stores it.  Ids and aliases
 * share one index sorted by their normalised form (catalog_normalize()),
 * which finds clashes at load and models at run time however users spell
 * them.  Prices carry where they came from and when they were checked;
 * prices set in another currency keep the original amounts, converted
 * with the one rate of exchange_rates:.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nextmodel.h"
#include "catalog.h"
#include "catalog-int.h"
#include "money.h"
#include "ytree.h"

#define CATALOG_TOKENS_MAX	100000000LL
#define CATALOG_PRICE_MAX	(1000000LL * 1000000000LL) /* 1M USD per 1M tokens */
#define CATALOG_CREATED_MAX	4102444800LL	/* 2100-01-01 */
#define CATALOG_LATENCY_MAX	600000LL
#define CATALOG_LATENCY_DEF	1000
#define CATALOG_URL_MAX		512	/* price_source, exchange rate source */
#define CATALOG_RATE_MIN	100000LL		/* 0.0001 units per USD */
#define CATALOG_RATE_MAX	(100000LL * 1000000000LL) /* 100000 per USD */

/* What a load is doing: the catalog so far and where errors go. */
struct catalog_ctx {
	struct catalog_full	*cat;
	char			*err;
	size_t			 errlen;
};

enum model_key_type { MK_SCALAR, MK_LIST };

/* Whether a model must have a key. */
enum model_key_need {
	MK_OPTIONAL = 0,
	MK_REQUIRED,
	MK_USD,		/* required, unless computed from price_original_* */
};

struct model_key;
typedef int (*model_key_fn)(struct catalog_ctx *, struct model *,
    const struct model_key *, const struct ynode *);

/* One key a model may have. */
struct model_key {
	const char		*name;
	enum model_key_type	 type;
	enum model_key_need	 required;
	model_key_fn		 set;
	size_t			 off;		/* field in struct model */
	long long		 min, max;	/* for numbers */
};

static int	set_name(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_text(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_price(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_int64(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_int(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_caps(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_region(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_aliases(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_url(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_date(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_currency(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);
static int	set_original(struct catalog_ctx *, struct model *,
		    const struct model_key *, const struct ynode *);

static const struct model_key *model_key_find(const char *);

#define MOFF(f)	offsetof(struct model, f)

static const struct model_key model_keys[] = {
	{ "id",			MK_SCALAR, 1, set_name,	MOFF(id), 0, 0 },
	{ "provider",		MK_SCALAR, 1, set_name,	MOFF(provider), 0, 0 },
	{ "upstream_model",	MK_SCALAR, 0, set_text,	MOFF(upstream_model), 0, 0 },
	{ "input_per_mtok",	MK_SCALAR, MK_USD, set_price,
	    MOFF(input_per_mtok), 0, 0 },
	{ "output_per_mtok",	MK_SCALAR, MK_USD, set_price,
	    MOFF(output_per_mtok), 0, 0 },
	{ "cached_input_per_mtok", MK_SCALAR, 0, set_price,
	    MOFF(cached_input_per_mtok), 0, 0 },
	{ "cache_write_per_mtok", MK_SCALAR, 0, set_price,
	    MOFF(cache_write_per_mtok), 0, 0 },
	{ "context_window",	MK_SCALAR, 1, set_int64, MOFF(context_window),
	    1, CATALOG_TOKENS_MAX },
	{ "max_output",		MK_SCALAR, 0, set_int64, MOFF(max_output),
	    1, CATALOG_TOKENS_MAX },
	{ "capabilities",	MK_LIST,   0, set_caps,	MOFF(caps), 0, 0 },
	{ "region",		MK_SCALAR, 0, set_region, MOFF(region), 0, 0 },
	{ "latency_ms",		MK_SCALAR, 0, set_int,	MOFF(latency_ms),
	    0, CATALOG_LATENCY_MAX },
	{ "created",		MK_SCALAR, 0, set_int64, MOFF(created),
	    0, CATALOG_CREATED_MAX },
	{ "owned_by",		MK_SCALAR, 0, set_text,	MOFF(owned_by), 0, 0 },
	{ "aliases",		MK_LIST,   0, set_aliases, MOFF(aliases), 0, 0 },
	{ "price_source",	MK_SCALAR, 0, set_url,	MOFF(price_source), 0, 0 },
	{ "price_checked",	MK_SCALAR, 0, set_date,	MOFF(price_checked), 0, 0 },
	{ "price_currency",	MK_SCALAR, 0, set_currency, MOFF(price_rate),
	    0, 0 },
	/* min: the USD key the original converts to, by its index here. */
	{ "price_original_input_per_mtok", MK_SCALAR, 0, set_original,
	    MOFF(price_original), ORIG_INPUT, 0 },
	{ "price_original_output_per_mtok", MK_SCALAR, 0, set_original,
	    MOFF(price_original), ORIG_OUTPUT, 0 },
	{ "price_original_cached_input_per_mtok", MK_SCALAR, 0, set_original,
	    MOFF(price_original), ORIG_CACHED_INPUT, 0 },
	{ "price_original_cache_write_per_mtok", MK_SCALAR, 0, set_original,
	    MOFF(price_original), ORIG_CACHE_WRITE, 0 },
};

/* The USD key each original price converts to, by enum model_orig_price. */
static const char *const orig_usd_keys[ORIG_NPRICES] = {
	"input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
	"cache_write_per_mtok",
};

/* Capability names, in bit order; shared with /v1/models. */
static const struct {
	const char	*name;
	unsigned	 bit;
} catalog_caps[] = {
	{ "tools",	CAP_TOOLS },
	{ "json",	CAP_JSON },
	{ "vision",	CAP_VISION },
	{ "streaming",	CAP_STREAMING },
	{ "embeddings",	CAP_EMBEDDINGS },
	{ "reasoning",	CAP_REASONING },
};

static const struct {
	const char		*name;
	enum model_region	 region;
} catalog_regions[] = {
	{ "global",	REGION_GLOBAL },
	{ "cn",		REGION_CN },
};

/* "FILE:LINE: model ID: " + message; always -1. */
static int NM_PRINTF(4, 5)
model_error(struct catalog_ctx *c, const struct model *m, const struct ynode *n,
    const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m != NULL && m->id != NULL)
		return (ytree_error(n, c->err, c->errlen, "model %s: %s", m->id,
		    msg));
	return (ytree_error(n, c->err, c->errlen, "%s", msg));
}

/* 1 if s is a model id, alias or provider name we accept. */
static int
name_ok(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > CATALOG_NAME_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("._:/@+-", s[i]) != NULL)
			continue;
		return (0);
	}
	return (1);
}

/* 1 if s is printable ASCII without spaces, 1 to CATALOG_TEXT_MAX long. */
static int
text_ok(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > CATALOG_TEXT_MAX)
		return (0);
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return (0);
	return (1);
}

/* 1 if c is an ASCII digit. */
static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The one spelling rule of lookups; see catalog.h and nextmodel.yaml(5). */
int
catalog_normalize(const char *s, char *out, size_t outlen)
{
	size_t	i, len;
	char	c;

	if (s == NULL || (len = strlen(s)) == 0 || len >= outlen)
		return (-1);
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (c == '_' || c == ' ')
			c = '-';
		else if (c == '.' && i > 0 && is_digit(s[i - 1]) &&
		    is_digit(s[i + 1]))
			c = '-';
		out[i] = c;
	}
	out[len] = '\0';
	return (0);
}

/* 1 for a leap year of the Gregorian calendar. */
static int
leap_year(long y)
{
	return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}

/* Days since 1970-01-01 of "YYYY-MM-DD", checking that the day exists. */
int
catalog_date_days(const char *s, long *days)
{
	static const char	 shape[] = "dddd-dd-dd";
	static const int	 mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
				    31, 30, 31 };
	long			 y, m, d, era, yoe, doy, doe;
	size_t			 i;

	if (s == NULL || strlen(s) != sizeof(shape) - 1)
		return (-1);
	for (i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != '-')
			return (-1);
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1970 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] + (m == 2 && leap_year(y)))
		return (-1);
	/* Howard Hinnant's days_from_civil, for years from 1970. */
	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*days = era * 146097 + doe - 719468;
	return (0);
}

/* Days from price_checked to today (days since 1970); -1 if unknown. */
long
catalog_price_age(const struct model *m, long today)
{
	long	days;

	if (m == NULL || catalog_date_days(m->price_checked, &days) == -1)
		return (-1);
	return (today > days ? today - days : 0);
}

/* 1 if s is an http(s) URL with a host, printable, without spaces. */
static int
url_ok(const char *s)
{
	size_t	i, len = strlen(s), skip;

	if (strncmp(s, "https://", 8) == 0)
		skip = 8;
	else if (strncmp(s, "http://", 7) == 0)
		skip = 7;
	else
		return (0);
	if (len > CATALOG_URL_MAX || len == skip || s[skip] == '/')
		return (0);
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return (0);
	return (1);
}

/* 1 if s is three capital letters, like an ISO 4217 code. */
static int
currency_ok(const char *s)
{
	size_t	i;

	for (i = 0; i < 3; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return (0);
	return (s[3] == '\0');
}

/* A copy of s into *dst; -1 with an error at n when out of memory. */
static int
dup_into(struct catalog_ctx *c, char **dst, const char *s,
    const struct ynode *n)
{
	if ((*dst = strdup(s)) == NULL)
		return (ytree_error(n, c->err, c->errlen, "out of memory"));
	return (0);
}

/* Remember an id or alias for the clash check and catalog_find(). */
static int
add_name(struct catalog_ctx *c, const char *name, size_t model, int alias,
    const struct ynode *n)
{
	struct catalog_full	*f = c->cat;
	struct catalog_name	*names;
	size_t			 cap;

	if (f->nnames == f->cap) {
		cap = f->cap == 0 ? 64 : f->cap * 2;
		names = realloc(f->names, cap * sizeof(*names));
		if (names == NULL)
			return (ytree_error(n, c->err, c->errlen, "out of memory"));
		f->names = names;
		f->cap = cap;
	}
	if (catalog_normalize(name, f->names[f->nnames].norm,
	    sizeof(f->names[f->nnames].norm)) == -1)
		return (ytree_error(n, c->err, c->errlen, "%s: not a name",
		    name));
	f->names[f->nnames].name = name;
	f->names[f->nnames].model = model;
	f->names[f->nnames].alias = alias;
	f->names[f->nnames].line = n->line;
	f->nnames++;
	return (0);
}

/* id and provider: a name of letters, digits and ._:/@+- */
static int
set_name(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	if (!name_ok(v->str))
		return (model_error(c, m, v, "%s: expected a name of at most %d "
		    "letters, digits and ._:/@+-", k->name, CATALOG_NAME_MAX));
	return (dup_into(c, (char **)((char *)m + k->off), v->str, v));
}

/* upstream_model, owned_by: printable text without spaces. */
static int
set_text(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	if (!text_ok(v->str))
		return (model_error(c, m, v, "%s: expected printable text "
		    "without spaces, at most %d bytes", k->name,
		    CATALOG_TEXT_MAX));
	return (dup_into(c, (char **)((char *)m + k->off), v->str, v));
}

/* A price: exact decimal USD per 1M tokens, never negative. */
static int
set_price(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	nm_nano	price;

	if (v->len > 0 && v->str[0] == '-')
		return (model_error(c, m, v, "%s: a price cannot be negative",
		    k->name));
	if (money_parse(v->str, v->len, 0, &price) == -1)
		return (model_error(c, m, v, "%s: expected a price in USD per "
		    "1M tokens, like 0.15", k->name));
	if (price > CATALOG_PRICE_MAX)
		return (model_error(c, m, v, "%s: price too large", k->name));
	*(nm_nano *)((char *)m + k->off) = price;
	return (0);
}

/* A whole number within the key's range into *l; -1 after reporting. */
static int
read_int(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v, long *l)
{
	if (ytree_long(v, (long)k->min, (long)k->max, l, NULL, 0) == -1)
		return (model_error(c, m, v, "%s: expected an integer from %lld "
		    "to %lld", k->name, k->min, k->max));
	return (0);
}

/* A whole number within the key's range, as int64_t. */
static int
set_int64(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	long	l;

	if (read_int(c, m, k, v, &l) == -1)
		return (-1);
	*(int64_t *)((char *)m + k->off) = l;
	return (0);
}

/* A whole number within the key's range, as int. */
static int
set_int(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	long	l;

	if (read_int(c, m, k, v, &l) == -1)
		return (-1);
	*(int *)((char *)m + k->off) = (int)l;
	return (0);
}

/* capabilities: a list of names from catalog_caps[], each once. */
static int
set_caps(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	const struct ynode	*e;
	size_t			 i, j;
	unsigned		 caps = 0;

	for (i = 0; i < v->n; i++) {
		e = v->vals[i];
		if (e->type != YNODE_SCALAR)
			return (model_error(c, m, e, "%s: expected capability "
			    "names", k->name));
		for (j = 0; j < NM_NELEM(catalog_caps); j++)
			if (strcmp(e->str, catalog_caps[j].name) == 0)
				break;
		if (j == NM_NELEM(catalog_caps))
			return (model_error(c, m, e, "%s: unknown capability "
			    "\"%.32s\" (expected tools, json, vision, streaming, "
			    "embeddings or reasoning)", k->name, e->str));
		if (caps & catalog_caps[j].bit)
			return (model_error(c, m, e, "%s: %s listed twice",
			    k->name, catalog_caps[j].name));
		caps |= catalog_caps[j].bit;
	}
	*(unsigned *)((char *)m + k->off) = caps;
	return (0);
}

/* region: global or cn. */
static int
set_region(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	size_t	i;

	for (i = 0; i < NM_NELEM(catalog_regions); i++) {
		if (strcmp(v->str, catalog_regions[i].name) == 0) {
			*(enum model_region *)((char *)m + k->off) =
			    catalog_regions[i].region;
			return (0);
		}
	}
	return (model_error(c, m, v, "%s: expected global or cn", k->name));
}

/* aliases: a list of extra names; clashes are found once all are read. */
static int
set_aliases(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	const struct ynode	*e;
	char			**list;
	size_t			 i;

	if ((list = calloc(v->n + 1, sizeof(*list))) == NULL)
		return (ytree_error(v, c->err, c->errlen, "out of memory"));
	*(char ***)((char *)m + k->off) = list;
	for (i = 0; i < v->n; i++) {
		e = v->vals[i];
		if (e->type != YNODE_SCALAR || !name_ok(e->str))
			return (model_error(c, m, e, "%s: expected names of at "
			    "most %d letters, digits and ._:/@+-", k->name,
			    CATALOG_NAME_MAX));
		if (dup_into(c, &list[i], e->str, e) == -1)
			return (-1);
		if (add_name(c, list[i], (size_t)(m - c->cat->pub.models),
		    (int)i + 1, e) == -1)
			return (-1);
	}
	return (0);
}

/* price_source: the http(s) URL of the provider's pricing page. */
static int
set_url(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	if (!url_ok(v->str))
		return (model_error(c, m, v, "%s: expected an http:// or "
		    "https:// URL without spaces, at most %d bytes", k->name,
		    CATALOG_URL_MAX));
	return (dup_into(c, (char **)((char *)m + k->off), v->str, v));
}

/* price_checked: a date YYYY-MM-DD that exists. */
static int
set_date(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	long	days;

	if (catalog_date_days(v->str, &days) == -1)
		return (model_error(c, m, v, "%s: expected a date YYYY-MM-DD",
		    k->name));
	memcpy((char *)m + k->off, v->str, CATALOG_DATE_LEN);
	return (0);
}

/* price_currency: USD, or a currency with a rate in exchange_rates:. */
static int
set_currency(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	const struct catalog	*cat = &c->cat->pub;
	size_t			 i;

	if (!currency_ok(v->str))
		return (model_error(c, m, v, "%s: expected a currency code of "
		    "three capital letters, like CNY", k->name));
	if (strcmp(v->str, "USD") == 0)
		return (0);
	for (i = 0; i < cat->nrates; i++) {
		if (strcmp(cat->rates[i].currency, v->str) == 0) {
			*(const struct catalog_rate **)((char *)m + k->off) =
			    &cat->rates[i];
			return (0);
		}
	}
	return (model_error(c, m, v, "%s: %s has no rate in exchange_rates",
	    k->name, v->str));
}

/* price_original_*: an amount in price_currency per 1M tokens. */
static int
set_original(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	nm_nano	price;

	if (v->len > 0 && v->str[0] == '-')
		return (model_error(c, m, v, "%s: a price cannot be negative",
		    k->name));
	if (money_parse(v->str, v->len, 0, &price) == -1 ||
	    price > CATALOG_PRICE_MAX)
		return (model_error(c, m, v, "%s: expected a price per 1M "
		    "tokens in price_currency, like 0.8", k->name));
	m->price_original[k->min] = price;
	return (0);
}

/*
 * USD per 1M tokens for an amount in a currency: amount / per_usd,
 * rounded up to the micro-dollar, so a bill never falls short of the
 * provider's.  -1 if it is too large.
 */
static int
convert_price(nm_nano amount, nm_nano per_usd, nm_nano *usd)
{
	__int128	micro;

	micro = ((__int128)amount * 1000000 + per_usd - 1) / per_usd;
	if (micro > CATALOG_PRICE_MAX / 1000)
		return (-1);
	*usd = (nm_nano)micro * 1000;
	return (0);
}

/*
 * A model priced in another currency: compute each USD price from its
 * original, or check the one the file gives against it.
 */
static int
convert_prices(struct catalog_ctx *c, struct model *m,
    const struct ynode *map, const unsigned char *seen)
{
	const struct catalog_rate	*rate = m->price_rate;
	const struct model_key		*k;
	const struct ynode		*v;
	char				 a[MONEY_STRLEN], b[MONEY_STRLEN];
	nm_nano				 usd;
	size_t				 i;

	for (i = 0; i < ORIG_NPRICES; i++) {
		k = model_key_find(orig_usd_keys[i]);
		if (rate == NULL) {
			if (m->price_original[i] >= 0)
				return (model_error(c, m, map, "price_original_"
				    "%s: only with a price_currency other than "
				    "USD", orig_usd_keys[i]));
			continue;
		}
		if (m->price_original[i] < 0) {
			if (i <= ORIG_OUTPUT)
				return (model_error(c, m, map, "missing "
				    "price_original_%s (price_currency is %s)",
				    orig_usd_keys[i], rate->currency));
			continue;
		}
		if (convert_price(m->price_original[i], rate->per_usd,
		    &usd) == -1)
			return (model_error(c, m, map, "price_original_%s: "
			    "too large in USD", orig_usd_keys[i]));
		if (seen[k - model_keys] &&
		    *(nm_nano *)((char *)m + k->off) != usd) {
			v = ytree_get(map, k->name);
			return (model_error(c, m, v, "%s: %s is not price_original"
			    "_%s at the %s rate of exchange_rates (%s, rounded "
			    "up to 0.000001)", k->name, money_format(*(nm_nano *)
			    ((char *)m + k->off), a, sizeof(a)), k->name,
			    rate->currency, money_format(usd, b, sizeof(b))));
		}
		*(nm_nano *)((char *)m + k->off) = usd;
	}
	return (0);
}

/* The table row for a key, or NULL. */
static const struct model_key *
model_key_find(const char *name)
{
	size_t	i;

	for (i = 0; i < NM_NELEM(model_keys); i++)
		if (strcmp(model_keys[i].name, name) == 0)
			return (&model_keys[i]);
	return (NULL);
}

/* Check the shape of a value against its table row, then store it. */
static int
model_set(struct catalog_ctx *c, struct model *m, const struct model_key *k,
    const struct ynode *v)
{
	if (k->type == MK_LIST && v->type != YNODE_SEQ)
		return (model_error(c, m, v, "%s: expected a list", k->name));
	if (k->type == MK_SCALAR &&
	    (v->type != YNODE_SCALAR || ytree_is_null(v)))
		return (model_error(c, m, v, "%s: expected a single value",
		    k->name));
	return (k->set(c, m, k, v));
}

/* "FILE:LINE: " + message for a line of the catalog file; always -1. */
static int NM_PRINTF(3, 4)
line_error(struct catalog_ctx *c, unsigned line, const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->err != NULL && c->errlen > 0)
		snprintf(c->err, c->errlen, "%s:%u: %s", c->cat->pub.path, line,
		    msg);
	return (-1);
}

/* Read one entry of models:, table-driven, then fill in the defaults. */
static int
model_load(struct catalog_ctx *c, struct model *m, const struct ynode *map)
{
	const struct model_key	*k, *idkey = model_key_find("id");
	const struct ynode	*id, *v;
	size_t			 i;
	unsigned char		 seen[NM_NELEM(model_keys)];

	if (map->type != YNODE_MAP)
		return (ytree_error(map, c->err, c->errlen,
		    "models: each entry must be a mapping"));
	m->line = map->line;
	m->latency_ms = CATALOG_LATENCY_DEF;
	for (i = 0; i < ORIG_NPRICES; i++)
		m->price_original[i] = -1;
	memset(seen, 0, sizeof(seen));

	/* The id first, so every later message can name the model. */
	if ((id = ytree_get(map, "id")) == NULL)
		return (ytree_error(map, c->err, c->errlen,
		    "model without an id"));
	if (model_set(c, m, idkey, id) == -1)
		return (-1);
	if (add_name(c, m->id, (size_t)(m - c->cat->pub.models), 0, id) == -1)
		return (-1);

	for (i = 0; i < map->n; i++) {
		if ((k = model_key_find(map->keys[i]->str)) == NULL)
			return (model_error(c, m, map->keys[i],
			    "unknown key \"%.64s\"", map->keys[i]->str));
		seen[k - model_keys] = 1;
		if (k != idkey && model_set(c, m, k, map->vals[i]) == -1)
			return (-1);
	}
	for (i = 0; i < NM_NELEM(model_keys); i++)
		if (!seen[i] && (model_keys[i].required == MK_REQUIRED ||
		    (model_keys[i].required == MK_USD && m->price_rate == NULL)))
			return (model_error(c, m, map, "missing %s",
			    model_keys[i].name));
	if (convert_prices(c, m, map, seen) == -1)
		return (-1);

	/* Defaults that depend on other keys. */
	if (m->upstream_model == NULL &&
	    dup_into(c, &m->upstream_model, m->id, map) == -1)
		return (-1);
	if (m->owned_by == NULL &&
	    dup_into(c, &m->owned_by, m->provider, map) == -1)
		return (-1);
	if (ytree_get(map, "cached_input_per_mtok") == NULL &&
	    m->price_original[ORIG_CACHED_INPUT] < 0)
		m->cached_input_per_mtok = m->input_per_mtok;
	if (ytree_get(map, "cache_write_per_mtok") == NULL &&
	    m->price_original[ORIG_CACHE_WRITE] < 0)
		m->cache_write_per_mtok = m->input_per_mtok;
	if (m->price_checked[0] == '\0' && c->cat->pub.checked != NULL)
		memcpy(m->price_checked, c->cat->pub.checked, CATALOG_DATE_LEN);
	if ((v = ytree_get(map, "max_output")) == NULL)
		m->max_output = m->context_window;
	else if (m->max_output > m->context_window)
		return (model_error(c, m, v,
		    "max_output is larger than context_window"));
	return (0);
}

/* Order names by text, then by where they appeared. */
static int
name_cmp(const void *a, const void *b)
{
	const struct catalog_name	*na = a, *nb = b;
	int				 r;

	if ((r = strcmp(na->norm, nb->norm)) != 0)
		return (r);
	if (na->model != nb->model)
		return (na->model < nb->model ? -1 : 1);
	return (na->alias < nb->alias ? -1 : na->alias > nb->alias);
}

/* 1 if name a appeared in the file before name b. */
static int
name_before(const struct catalog_name *a, const struct catalog_name *b)
{
	if (a->model != b->model)
		return (a->model < b->model);
	return (a->alias < b->alias);
}

/*
 * Sort the names and refuse any that is used twice once normalised: ids,
 * aliases, an alias equal to an id.  The clash reported is the first
 * repetition in the file, next to the first holder of the name.
 */
static int
check_names(struct catalog_ctx *c)
{
	struct catalog_full		*f = c->cat;
	const struct catalog_name	*a = NULL, *b = NULL;
	size_t				 i;

	if (f->nnames < 2)
		return (0);
	qsort(f->names, f->nnames, sizeof(*f->names), name_cmp);
	for (i = 1; i < f->nnames; i++) {
		if (strcmp(f->names[i].norm, f->names[i - 1].norm) != 0)
			continue;
		/* Only the second of a run is a first repetition. */
		if (i >= 2 &&
		    strcmp(f->names[i - 1].norm, f->names[i - 2].norm) == 0)
			continue;
		if (b == NULL || name_before(&f->names[i], b)) {
			a = &f->names[i - 1];
			b = &f->names[i];
		}
	}
	if (b == NULL)
		return (0);
	if (strcmp(a->name, b->name) != 0)
		return (line_error(c, b->line, "model %s: %s %s is %s of model "
		    "%s once normalised (line %u: %s; see catalog_normalize)",
		    f->pub.models[b->model].id, b->alias ? "alias" : "id",
		    b->name, a->alias ? "an alias" : "the id",
		    f->pub.models[a->model].id, a->line, a->name));
	if (!b->alias && !a->alias)
		return (line_error(c, b->line, "duplicate model id %s (first "
		    "at line %u)", b->name, a->line));
	if (!a->alias)
		return (line_error(c, b->line, "model %s: alias %s is already "
		    "the id of a model (line %u)", f->pub.models[b->model].id,
		    b->name, a->line));
	if (!b->alias)
		return (line_error(c, b->line, "model id %s is already an alias "
		    "of model %s (line %u)", b->name,
		    f->pub.models[a->model].id, a->line));
	return (line_error(c, b->line, "model %s: alias %s is already an alias "
	    "of model %s (line %u)", f->pub.models[b->model].id, b->name,
	    f->pub.models[a->model].id, a->line));
}

/* checked: the date the prices were checked, YYYY-MM-DD. */
static int
set_checked(struct catalog_ctx *c, const struct ynode *v)
{
	long	days;

	if (v->type != YNODE_SCALAR || catalog_date_days(v->str, &days) == -1)
		return (ytree_error(v, c->err, c->errlen,
		    "checked: expected a date YYYY-MM-DD"));
	return (dup_into(c, &c->cat->pub.checked, v->str, v));
}

/* One rate of exchange_rates: per_usd, date and an optional source. */
static int
rate_load(struct catalog_ctx *c, struct catalog_rate *r,
    const struct ynode *key, const struct ynode *map)
{
	const struct ynode	*v;
	long			 days;
	size_t			 i;

	r->line = key->line;
	if (!currency_ok(key->str) || strcmp(key->str, "USD") == 0)
		return (ytree_error(key, c->err, c->errlen, "exchange_rates: "
		    "expected a currency code of three capital letters other "
		    "than USD, like CNY"));
	memcpy(r->currency, key->str, sizeof(r->currency));
	if (map->type != YNODE_MAP)
		return (ytree_error(map, c->err, c->errlen, "exchange_rates %s: "
		    "expected a mapping with per_usd and date", r->currency));
	for (i = 0; i < map->n; i++) {
		v = map->vals[i];
		if (strcmp(map->keys[i]->str, "per_usd") == 0) {
			if (v->type != YNODE_SCALAR || money_parse(v->str,
			    v->len, 0, &r->per_usd) == -1 ||
			    r->per_usd < CATALOG_RATE_MIN ||
			    r->per_usd > CATALOG_RATE_MAX)
				return (ytree_error(v, c->err, c->errlen,
				    "exchange_rates %s: per_usd: expected the "
				    "units of %s one USD buys, from 0.0001 to "
				    "100000", r->currency, r->currency));
		} else if (strcmp(map->keys[i]->str, "date") == 0) {
			if (v->type != YNODE_SCALAR ||
			    catalog_date_days(v->str, &days) == -1)
				return (ytree_error(v, c->err, c->errlen,
				    "exchange_rates %s: date: expected a date "
				    "YYYY-MM-DD", r->currency));
			memcpy(r->date, v->str, sizeof(r->date));
		} else if (strcmp(map->keys[i]->str, "source") == 0) {
			if (v->type != YNODE_SCALAR || !url_ok(v->str))
				return (ytree_error(v, c->err, c->errlen,
				    "exchange_rates %s: source: expected an "
				    "http:// or https:// URL", r->currency));
			if (dup_into(c, &r->source, v->str, v) == -1)
				return (-1);
		} else
			return (ytree_error(map->keys[i], c->err, c->errlen,
			    "exchange_rates %s: unknown key \"%.64s\"",
			    r->currency, map->keys[i]->str));
	}
	if (r->per_usd == 0 || r->date[0] == '\0')
		return (ytree_error(map, c->err, c->errlen, "exchange_rates %s: "
		    "missing %s", r->currency, r->per_usd == 0 ? "per_usd" :
		    "date"));
	return (0);
}

/* exchange_rates: currency -> { per_usd, date, source }, each once. */
static int
set_rates(struct catalog_ctx *c, const struct ynode *v)
{
	struct catalog	*cat = &c->cat->pub;
	size_t		 i;

	if (v->type != YNODE_MAP)
		return (ytree_error(v, c->err, c->errlen,
		    "exchange_rates: expected a mapping of currency codes"));
	if (v->n > 0 &&
	    (cat->rates = calloc(v->n, sizeof(*cat->rates))) == NULL)
		return (ytree_error(v, c->err, c->errlen, "out of memory"));
	for (i = 0; i < v->n; i++) {
		cat->nrates++;
		if (rate_load(c, &cat->rates[i], v->keys[i], v->vals[i]) == -1)
			return (-1);
	}
	return (0);
}

/* models: the list of model mappings. */
static int
set_models(struct catalog_ctx *c, const struct ynode *v)
{
	struct catalog	*cat = &c->cat->pub;
	size_t		 i;

	if (v->type != YNODE_SEQ)
		return (ytree_error(v, c->err, c->errlen,
		    "models: expected a list"));
	if (v->n > 0 &&
	    (cat->models = calloc(v->n, sizeof(*cat->models))) == NULL)
		return (ytree_error(v, c->err, c->errlen, "out of memory"));
	for (i = 0; i < v->n; i++) {
		/* Count it first, so catalog_free() sees a half-read model. */
		cat->n++;
		if (model_load(c, &cat->models[i], v->vals[i]) == -1)
			return (-1);
	}
	return (0);
}

/* The keys at the top of models.yaml, read in this order. */
static const struct {
	const char	*name;
	int		 required;
	int		(*set)(struct catalog_ctx *, const struct ynode *);
} catalog_keys[] = {
	{ "checked",		0, set_checked },	/* models' default date */
	{ "exchange_rates",	0, set_rates },		/* before the models */
	{ "models",		1, set_models },
};

/* Load from a parsed tree (path taken from the tree).  Caller frees. */
struct catalog *
catalog_load_tree(const struct ynode *root, char *err, size_t errlen)
{
	struct catalog_ctx	 c;
	struct catalog_full	*f;
	const struct ynode	*v;
	size_t			 i, j;

	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->pub.path = strdup(root->file)) == NULL) {
		free(f);
		ytree_error(root, err, errlen, "out of memory");
		return (NULL);
	}
	c.cat = f;
	c.err = err;
	c.errlen = errlen;
	if (root->type != YNODE_MAP) {
		ytree_error(root, err, errlen, "top level must be a mapping");
		goto fail;
	}
	for (i = 0; i < root->n; i++) {
		for (j = 0; j < NM_NELEM(catalog_keys); j++)
			if (strcmp(root->keys[i]->str, catalog_keys[j].name) == 0)
				break;
		if (j == NM_NELEM(catalog_keys)) {
			ytree_error(root->keys[i], err, errlen,
			    "unknown key \"%.64s\"", root->keys[i]->str);
			goto fail;
		}
	}
	/* In table order: models need the rates and the default date. */
	for (j = 0; j < NM_NELEM(catalog_keys); j++) {
		if ((v = ytree_get(root, catalog_keys[j].name)) == NULL) {
			if (!catalog_keys[j].required)
				continue;
			ytree_error(root, err, errlen, "missing %s",
			    catalog_keys[j].name);
			goto fail;
		}
		if (catalog_keys[j].set(&c, v) == -1)
			goto fail;
	}
	if (check_names(&c) == -1)
		goto fail;
	return (&f->pub);
fail:
	catalog_free(&f->pub);
	return (NULL);
}

/* Load and check models.yaml.  Caller frees with catalog_free(). */
struct catalog *
catalog_load(const char *path, char *err, size_t errlen)
{
	struct catalog	*cat;
	struct ynode	*root;

	if ((root = ytree_load_file(path, err, errlen)) == NULL)
		return (NULL);
	cat = catalog_load_tree(root, err, errlen);
	ytree_free(root);
	return (cat);
}

/* Free a catalog and everything in it. */
void
catalog_free(struct catalog *cat)
{
	struct catalog_full	*f;
	struct model		*m;
	size_t			 i, j;

	if (cat == NULL)
		return;
	f = (struct catalog_full *)((char *)cat -
	    offsetof(struct catalog_full, pub));
	for (i = 0; i < cat->n; i++) {
		m = &cat->models[i];
		free(m->id);
		free(m->provider);
		free(m->upstream_model);
		free(m->owned_by);
		free(m->price_source);
		for (j = 0; m->aliases != NULL && m->aliases[j] != NULL; j++)
			free(m->aliases[j]);
		free(m->aliases);
	}
	free(cat->models);
	for (i = 0; i < cat->nrates; i++)
		free(cat->rates[i].source);
	free(cat->rates);
	free(cat->path);
	free(cat->checked);
	free(f->names);
	free(f);
}

/* The name of one capability bit ("tools"), or NULL. */
const char *
catalog_cap_name(unsigned cap)
{
	size_t	i;

	for (i = 0; i < NM_NELEM(catalog_caps); i++)
		if (catalog_caps[i].bit == cap)
			return (catalog_caps[i].name);
	return (NULL);
}

/* "global" or "cn". */
const char *
catalog_region_name(enum model_region region)
{
	size_t	i;

	for (i = 0; i < NM_NELEM(catalog_regions); i++)
		if (catalog_regions[i].region == region)
			return (catalog_regions[i].name);
	return ("global");
}
