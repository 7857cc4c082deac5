/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The model catalog (models.yaml): what clients may ask for, which source
 * serves it, what it costs and what it can do.  Immutable once loaded.
 */
#ifndef CATALOG_H
#define CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include "nextmodel.h"

enum model_cap {
	CAP_TOOLS	= 1 << 0,
	CAP_JSON	= 1 << 1,	/* response_format json_object / json_schema */
	CAP_VISION	= 1 << 2,
	CAP_STREAMING	= 1 << 3,
	CAP_EMBEDDINGS	= 1 << 4,	/* an embeddings model */
	CAP_REASONING	= 1 << 5,
};

enum model_region { REGION_GLOBAL = 0, REGION_CN };

#define CATALOG_DATE_LEN	11	/* "YYYY-MM-DD" and its NUL */
#define CATALOG_STALE_DAYS	90	/* policy check warns past this */

/* One entry of exchange_rates: how many units of a currency buy 1 USD. */
struct catalog_rate {
	char		 currency[4];		/* ISO 4217, "CNY" */
	nm_nano		 per_usd;		/* units per USD, x 1e9 */
	char		 date[CATALOG_DATE_LEN];
	char		*source;		/* URL, may be NULL */
	unsigned	 line;
};

/* The prices of a model set in another currency, before conversion. */
enum model_orig_price {
	ORIG_INPUT = 0, ORIG_OUTPUT, ORIG_CACHED_INPUT, ORIG_CACHE_WRITE,
	ORIG_NPRICES
};

struct model {
	char		*id;
	char		*provider;		/* a key of providers: in the config */
	char		*upstream_model;	/* default: id */
	nm_nano		 input_per_mtok;	/* nano-USD per 1M tokens */
	nm_nano		 output_per_mtok;
	nm_nano		 cached_input_per_mtok;	/* default: input price */
	nm_nano		 cache_write_per_mtok;	/* prompt-cache writes; default: input price */
	int64_t		 context_window;
	int64_t		 max_output;		/* default: context_window */
	unsigned	 caps;			/* enum model_cap bits */
	enum model_region region;
	int		 latency_ms;
	int64_t		 created;		/* unix time shown in /v1/models; default 0 */
	char		*owned_by;		/* default: the provider name */
	char	       **aliases;		/* NULL-terminated, may be NULL */
	char		*price_source;		/* pricing page URL, may be NULL */
	char		 price_checked[CATALOG_DATE_LEN]; /* "" if unknown */
	/* Prices set in another currency: the rate used, NULL for USD. */
	const struct catalog_rate *price_rate;
	nm_nano		 price_original[ORIG_NPRICES];	/* -1: not given */
	unsigned	 line;
};

struct catalog {
	char		*path;
	char		*checked;	/* the date prices were checked, "YYYY-MM-DD", may be NULL */
	struct model	*models;
	size_t		 n;
	struct catalog_rate *rates;	/* exchange_rates:, in file order */
	size_t		 nrates;
};

/*
 * Load and validate models.yaml.  NULL with "FILE:LINE: message" in err
 * (unknown keys, bad prices, duplicate ids or aliases, bad capability).
 * Provider names are checked against the config by config_load().
 */
struct catalog	*catalog_load(const char *path, char *err, size_t errlen);
/* The same from a tree yaml_load_*() returned (FILE is the tree's); not freed. */
struct ynode;
struct catalog	*catalog_load_tree(const struct ynode *root, char *err,
		    size_t errlen);
void		 catalog_free(struct catalog *);	/* NULL does nothing */
/*
 * By id or alias, spelled as users type it; NULL if none.  Both sides are
 * compared after catalog_normalize(); when nothing matches and the name
 * has a "vendor/" prefix (OpenRouter style), the rest is tried alone.
 */
const struct model *catalog_find(const struct catalog *, const char *id);
/*
 * The form names are compared in: ASCII letters in lower case, '_' and
 * ' ' as '-', and a '.' between two digits as '-' ("Gemini 2.5 Flash" =
 * "gemini-2-5-flash").  0, or -1 if it is empty or does not fit out.
 */
int		 catalog_normalize(const char *, char *out, size_t outlen);
/*
 * Up to max catalog names (ids or aliases, one per model) close to name:
 * small edit distance or containing it, once normalised, closest first.
 * Pointers into the catalog.  Returns how many.
 */
size_t		 catalog_suggest(const struct catalog *, const char *name,
		    const char **out, size_t max);
/*
 * " Did you mean 'a', 'b' or 'c'?" with up to CATALOG_HINT_NAMES names
 * from catalog_suggest(), or "" (also when it does not fit len, which
 * CATALOG_HINT_MAX always does).  Returns buf.
 */
#define CATALOG_HINT_NAMES	3
#define CATALOG_HINT_MAX	(32 + CATALOG_HINT_NAMES * (128 + 6))
char		*catalog_hint(const struct catalog *, const char *name,
		    char *buf, size_t len);
/* 1 if text is part of the model's id, an alias or upstream_model (normalised). */
int		 catalog_match(const struct model *, const char *text);
/* The days from 1970-01-01 to a date "YYYY-MM-DD"; -1 if not a real date. */
int		 catalog_date_days(const char *, long *days);
/* How many days before today (days since 1970) prices were checked; -1 if never. */
long		 catalog_price_age(const struct model *, long today);
/* "tools,json,..." parser/printer shared with /v1/models. */
const char	*catalog_cap_name(unsigned cap);	/* one bit -> "tools" */
const char	*catalog_region_name(enum model_region);

#endif
