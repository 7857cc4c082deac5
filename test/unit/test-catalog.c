/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Tests for the catalog's names and prices: the one normalisation of
 * lookups, vendor prefixes, clashes once normalised, suggestions for
 * unknown names, search, dates, and prices set in another currency with
 * their source, date and exchange rate.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "ytree.h"
#include "unit.h"

#define NANO	1000000000LL

/* A model with the required keys, 5 lines. */
#define M(id)	"  - id: " id "\n    provider: p\n    input_per_mtok: 1\n" \
		"    output_per_mtok: 2\n    context_window: 1000\n"
#define RATES	"exchange_rates:\n  CNY:\n    per_usd: 7.0\n" \
		"    date: 2026-11-28\n"
/* Lines 6 to 10 of a CNY model after RATES. */
#define CNY(id)	"models:\n  - id: " id "\n    provider: p\n" \
		"    context_window: 1000\n    price_currency: CNY\n"

/* A catalog from text; NULL after a failed check. */
static struct catalog *
load(const char *doc, char *err, size_t errlen)
{
	struct catalog	*cat;
	struct ynode	*root;

	err[0] = '\0';
	if ((root = ytree_load_string("cat.yaml", doc, strlen(doc), err,
	    errlen)) == NULL)
		return (NULL);
	cat = catalog_load_tree(root, err, errlen);
	ytree_free(root);
	return (cat);
}

/* The normalised form of what users type. */
static void
test_normalize(void)
{
	static const struct {
		const char	*in;
		const char	*out;	/* NULL: refused */
	} cases[] = {
		{ "gpt-4o-mini",	"gpt-4o-mini" },
		{ "GPT-4o mini",	"gpt-4o-mini" },
		{ "gemini-2.5-flash",	"gemini-2-5-flash" },
		{ "Gemini 2.5 Flash",	"gemini-2-5-flash" },
		{ "qwen3.5-plus",	"qwen3-5-plus" },
		{ "kimi_k2.6",		"kimi-k2-6" },
		{ "gpt-4.1",		"gpt-4-1" },
		{ "v.2",		"v.2" },	/* no digit before */
		{ "2.x",		"2.x" },	/* no digit after */
		{ "3.",			"3." },
		{ ".5",			".5" },
		{ "1.2.3",		"1-2-3" },
		{ "anthropic/Claude-Sonnet-4.5", "anthropic/claude-sonnet-4-5" },
		{ "",			NULL },
	};
	char	out[32], small[4];
	size_t	i;

	for (i = 0; i < NM_NELEM(cases); i++) {
		if (cases[i].out == NULL) {
			CHECK(catalog_normalize(cases[i].in, out,
			    sizeof(out)) == -1);
			continue;
		}
		CHECK(catalog_normalize(cases[i].in, out, sizeof(out)) == 0);
		CHECK_STR(out, cases[i].out);
	}
	CHECK(catalog_normalize(NULL, out, sizeof(out)) == -1);
	CHECK(catalog_normalize("abcd", small, sizeof(small)) == -1);
	CHECK(catalog_normalize("abc", small, sizeof(small)) == 0);
	CHECK_STR(small, "abc");
}

/* Dates: real days only, counted from 1970-01-01. */
static void
test_dates(void)
{
	static const struct {
		const char	*s;
		long		 days;	/* -1: refused */
	} cases[] = {
		{ "1970-01-01", 0 },
		{ "1970-01-02", 1 },
		{ "2000-03-01", 11017 },
		{ "2024-02-29", 19782 },
		{ "2026-11-28", 20785 },
		{ "2026-12-31", 20818 },
		{ "2026-02-29", -1 },
		{ "2100-02-29", -1 },
		{ "2000-02-29", 11016 },
		{ "2026-04-31", -1 },
		{ "2026-13-01", -1 },
		{ "2026-00-10", -1 },
		{ "2026-01-00", -1 },
		{ "1969-12-31", -1 },
		{ "2026-1-01", -1 },
		{ "2026/01/01", -1 },
		{ "2026-01-01T", -1 },
		{ "", -1 },
	};
	long	days;
	size_t	i;

	for (i = 0; i < NM_NELEM(cases); i++) {
		days = -2;
		if (cases[i].days < 0) {
			CHECK(catalog_date_days(cases[i].s, &days) == -1);
			continue;
		}
		CHECK(catalog_date_days(cases[i].s, &days) == 0);
		if (days != cases[i].days)
			fprintf(stderr, "%s: %ld days\n", cases[i].s, days);
		CHECK(days == cases[i].days);
	}
	CHECK(catalog_date_days(NULL, &days) == -1);
}

static const char lookup_doc[] =
    "models:\n"
    M("gemini-2.5-flash")
    M("claude-sonnet-5-5")
    "    aliases: [claude-sonnet-4-5, Claude-Sonnet]\n"
    M("gpt-5.4-mini")
    M("openai/gpt-5.4-mini")
    M("kimi-k2.6")
    M("deepseek-flash")
    "    aliases: [deepseek-v4-flash, deepseek-chat, deepseek-v3]\n";

/* Lookups by every spelling the normalisation allows, and no others. */
static void
test_lookup(void)
{
	static const struct {
		const char	*name;
		const char	*id;	/* NULL: not found */
	} cases[] = {
		{ "gemini-2.5-flash",		"gemini-2.5-flash" },
		{ "gemini-2-5-flash",		"gemini-2.5-flash" },
		{ "Gemini 2.5 Flash",		"gemini-2.5-flash" },
		{ "google/gemini-2.5-flash",	"gemini-2.5-flash" },
		{ "claude-sonnet-4-5",		"claude-sonnet-5-5" },
		{ "claude-sonnet-4.5",		"claude-sonnet-5-5" },
		{ "anthropic/claude-sonnet-4-5", "claude-sonnet-5-5" },
		{ "Claude Sonnet",		"claude-sonnet-5-5" },
		{ "claude-sonnet",		"claude-sonnet-5-5" },
		{ "gpt-5.4-mini",		"gpt-5.4-mini" },
		{ "GPT-5-4-MINI",		"gpt-5.4-mini" },
		/* An id with the prefix is itself, not the stripped name. */
		{ "openai/gpt-5.4-mini",	"openai/gpt-5.4-mini" },
		{ "openai/gpt-5-4-mini",	"openai/gpt-5.4-mini" },
		{ "azure/gpt-5.4-mini",		"gpt-5.4-mini" },
		{ "kimi-k2-6",			"kimi-k2.6" },
		{ "moonshotai/kimi-k2.6",	"kimi-k2.6" },
		{ "deepseek-v3",		"deepseek-flash" },
		{ "DeepSeek V4 Flash",		"deepseek-flash" },
		/* Only one prefix goes; digits must stay apart. */
		{ "a/b/gpt-5.4-mini",		NULL },
		{ "gemini-25-flash",		NULL },
		{ "gemini-2.5.flash",		NULL },
		{ "gemini-2.5-flash/",		NULL },
		{ "/gemini-2.5-flash",		"gemini-2.5-flash" },
		{ "gemini",			NULL },
		{ "",				NULL },
	};
	struct catalog		*cat;
	const struct model	*m;
	char			 err[512], name[200];
	size_t			 i;

	cat = load(lookup_doc, err, sizeof(err));
	CHECK(cat != NULL);
	if (cat == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	for (i = 0; i < NM_NELEM(cases); i++) {
		m = catalog_find(cat, cases[i].name);
		if (cases[i].id == NULL) {
			if (m != NULL)
				fprintf(stderr, "%s found %s\n", cases[i].name,
				    m->id);
			CHECK(m == NULL);
			continue;
		}
		CHECK(m != NULL);
		if (m != NULL)
			CHECK_STR(m->id, cases[i].id);
		else
			fprintf(stderr, "%s not found\n", cases[i].name);
	}
	/* Longer than any name can be. */
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK(catalog_find(cat, name) == NULL);
	CHECK(catalog_find(cat, NULL) == NULL);
	CHECK(catalog_find(NULL, "gpt-5.4-mini") == NULL);
	catalog_free(cat);
}

/* Up to max close names, one per model, closest first. */
static void
test_suggest(void)
{
	static const struct {
		const char	*name;
		size_t		 max;
		const char	*want[4];	/* NULL-terminated */
	} cases[] = {
		/* A typo: the alias it is closest to, not the id. */
		{ "claude-sonet-4-5", 3, { "claude-sonnet-4-5" } },
		{ "claude-sonnet-4-6", 3, { "claude-sonnet-4-5" } },
		{ "gemini-2.5-flsah", 3, { "gemini-2.5-flash" } },
		/* A prefix that hides a typo. */
		{ "google/gemini-2.5-flsh", 3, { "gemini-2.5-flash" } },
		/* Part of names: the shortest first, one per model. */
		{ "gpt", 3, { "gpt-5.4-mini", "openai/gpt-5.4-mini" } },
		{ "gpt", 1, { "gpt-5.4-mini" } },
		/* "gemini" has "mini" in it too. */
		{ "mini", 3, { "gpt-5.4-mini", "gemini-2.5-flash",
		    "openai/gpt-5.4-mini" } },
		{ "deepseek", 3, { "deepseek-v3" } },
		{ "deepseek-v5", 3, { "deepseek-v3" } },
		{ "kimi-k2.7", 2, { "kimi-k2.6" } },
		{ "zzzz", 3, { NULL } },
		{ "gp", 3, { NULL } },	/* too short to be part of a name */
		{ "", 3, { NULL } },
		{ "gpt", 0, { NULL } },
	};
	struct catalog	*cat;
	const char	*out[8];
	char		 err[512];
	size_t		 i, j, n;

	cat = load(lookup_doc, err, sizeof(err));
	CHECK(cat != NULL);
	if (cat == NULL)
		return;
	for (i = 0; i < NM_NELEM(cases); i++) {
		n = catalog_suggest(cat, cases[i].name, out, cases[i].max);
		for (j = 0; cases[i].want[j] != NULL; j++)
			;
		if (n != j) {
			fprintf(stderr, "%s: %zu suggestions:", cases[i].name, n);
			for (j = 0; j < n; j++)
				fprintf(stderr, " %s", out[j]);
			fprintf(stderr, "\n");
		}
		CHECK(n == j);
		for (j = 0; j < n && cases[i].want[j] != NULL; j++)
			CHECK_STR(out[j], cases[i].want[j]);
	}
	CHECK(catalog_suggest(NULL, "gpt", out, 3) == 0);
	CHECK(catalog_suggest(cat, NULL, out, 3) == 0);
	/* Never more than its own ceiling, whatever max says. */
	CHECK(catalog_suggest(cat, "e", out, 100) <= 8);
	catalog_free(cat);
}

/* The hint of a 404: up to three names, or nothing. */
static void
test_hint(void)
{
	struct catalog	*cat;
	char		 err[512], hint[CATALOG_HINT_MAX], tiny[20];

	cat = load(lookup_doc, err, sizeof(err));
	CHECK(cat != NULL);
	if (cat == NULL)
		return;
	CHECK_STR(catalog_hint(cat, "claude-sonet-4-5", hint, sizeof(hint)),
	    " Did you mean 'claude-sonnet-4-5'?");
	CHECK_STR(catalog_hint(cat, "gpt", hint, sizeof(hint)),
	    " Did you mean 'gpt-5.4-mini' or 'openai/gpt-5.4-mini'?");
	CHECK_STR(catalog_hint(cat, "mini", hint, sizeof(hint)),
	    " Did you mean 'gpt-5.4-mini', 'gemini-2.5-flash' or "
	    "'openai/gpt-5.4-mini'?");
	CHECK_STR(catalog_hint(cat, "zzzz", hint, sizeof(hint)), "");
	/* Cut short: nothing rather than half. */
	CHECK_STR(catalog_hint(cat, "mini", tiny, sizeof(tiny)), "");
	CHECK(catalog_hint(cat, "mini", tiny, 0) == tiny);
	catalog_free(cat);
}

/* Search: part of an id, alias or upstream name. */
static void
test_match(void)
{
	static const char doc[] =
	    "models:\n"
	    M("doubao-seed-2-0-mini")
	    "    upstream_model: doubao-seed-2-0-mini-260215\n"
	    "    aliases: [doubao-mini]\n";
	struct catalog	*cat;
	char		 err[512];

	cat = load(doc, err, sizeof(err));
	CHECK(cat != NULL);
	if (cat == NULL)
		return;
	CHECK(catalog_match(&cat->models[0], "seed"));
	CHECK(catalog_match(&cat->models[0], "Seed 2.0"));
	CHECK(catalog_match(&cat->models[0], "260215"));
	CHECK(catalog_match(&cat->models[0], "doubao-mini"));
	CHECK(catalog_match(&cat->models[0], "DOUBAO"));
	CHECK(!catalog_match(&cat->models[0], "qwen"));
	CHECK(!catalog_match(&cat->models[0], ""));
	CHECK(!catalog_match(NULL, "seed"));
	catalog_free(cat);
}

/* Prices with their source, date and original currency. */
static void
test_prices(void)
{
	static const char doc[] =
	    "checked: 2026-11-01\n"
	    RATES
	    "    source: https://www.example.org/rates\n"
	    "models:\n"
	    M("usd-model")
	    "    price_source: https://openai.com/api/pricing/\n"
	    "    price_checked: 2026-11-28\n"
	    "  - id: cny-model\n"
	    "    provider: p\n"
	    "    context_window: 1000\n"
	    "    price_currency: CNY\n"
	    "    price_original_input_per_mtok: 6\n"
	    "    price_original_output_per_mtok: 30\n"
	    "    price_original_cached_input_per_mtok: 1.2\n"
	    "    output_per_mtok: 4.285715\n"
	    "    price_source: https://www.volcengine.com/docs/82379/1544106\n"
	    M("undated")
	    "    price_currency: USD\n";
	struct catalog		*cat;
	const struct model	*m;
	char			 err[512];

	cat = load(doc, err, sizeof(err));
	CHECK(cat != NULL);
	if (cat == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK(cat->nrates == 1);
	CHECK_STR(cat->rates[0].currency, "CNY");
	CHECK(cat->rates[0].per_usd == 7 * NANO);
	CHECK_STR(cat->rates[0].date, "2026-11-28");
	CHECK_STR(cat->rates[0].source, "https://www.example.org/rates");

	m = catalog_find(cat, "usd-model");
	CHECK_STR(m->price_source, "https://openai.com/api/pricing/");
	CHECK_STR(m->price_checked, "2026-11-28");
	CHECK(m->price_rate == NULL);
	CHECK(m->price_original[ORIG_INPUT] == -1);
	CHECK(m->input_per_mtok == NANO);

	/* 6 / 7 = 0.857142857..., rounded up to the micro-dollar. */
	m = catalog_find(cat, "cny-model");
	CHECK(m->price_rate == &cat->rates[0]);
	CHECK(m->price_original[ORIG_INPUT] == 6 * NANO);
	CHECK(m->price_original[ORIG_OUTPUT] == 30 * NANO);
	CHECK(m->price_original[ORIG_CACHED_INPUT] == 12 * NANO / 10);
	CHECK(m->price_original[ORIG_CACHE_WRITE] == -1);
	CHECK(m->input_per_mtok == 857143000LL);
	CHECK(m->output_per_mtok == 4285715000LL);
	CHECK(m->cached_input_per_mtok == 171429000LL);
	CHECK(m->cache_write_per_mtok == m->input_per_mtok);
	/* The file's date when the model has none. */
	CHECK_STR(m->price_checked, "2026-11-01");

	CHECK(catalog_price_age(m, 20785) == 27);	/* 2026-11-28 */
	CHECK(catalog_price_age(m, 20758) == 0);	/* that day */
	CHECK(catalog_price_age(m, 20000) == 0);	/* before: not stale */

	m = catalog_find(cat, "undated");
	CHECK(m->price_source == NULL);
	CHECK_STR(m->price_checked, "2026-11-01");
	CHECK(m->price_rate == NULL);
	catalog_free(cat);

	/* No file date, no model date: unknown. */
	cat = load("models:\n" M("m1"), err, sizeof(err));
	CHECK(cat != NULL);
	if (cat != NULL) {
		CHECK_STR(cat->models[0].price_checked, "");
		CHECK(catalog_price_age(&cat->models[0], 20785) == -1);
		CHECK(cat->nrates == 0);
	}
	catalog_free(cat);
	catalog_free(NULL);
}

/* A bad catalog and the exact message about it. */
static const struct {
	const char	*doc;
	unsigned	 line;
	const char	*msg;
} bad[] = {
	/* Clashes once normalised. */
	{ "models:\n" M("gpt-4.1") M("gpt-4-1"), 7, "model gpt-4-1: id gpt-4-1 "
	    "is the id of model gpt-4.1 once normalised (line 2: gpt-4.1; see "
	    "catalog_normalize)" },
	{ "models:\n" M("m1") "    aliases: [Fast]\n" M("m2")
	    "    aliases: [fast]\n", 13, "model m2: alias fast is an alias of "
	    "model m1 once normalised (line 7: Fast; see catalog_normalize)" },
	{ "models:\n" M("kimi-k2.6") M("m2") "    aliases: [kimi-k2-6]\n", 12,
	    "model m2: alias kimi-k2-6 is the id of model kimi-k2.6 once "
	    "normalised (line 2: kimi-k2.6; see catalog_normalize)" },
	{ "models:\n" M("m1") "    aliases: [M1]\n", 7, "model m1: alias M1 is "
	    "the id of model m1 once normalised (line 2: m1; see "
	    "catalog_normalize)" },
	/* Sources and dates. */
	{ "models:\n" M("m1") "    price_source: ftp://x.org/p\n", 7,
	    "model m1: price_source: expected an http:// or https:// URL "
	    "without spaces, at most 512 bytes" },
	{ "models:\n" M("m1") "    price_source: https://\n", 7,
	    "model m1: price_source: expected an http:// or https:// URL "
	    "without spaces, at most 512 bytes" },
	{ "models:\n" M("m1") "    price_source: \"https://x.org/a b\"\n", 7,
	    "model m1: price_source: expected an http:// or https:// URL "
	    "without spaces, at most 512 bytes" },
	{ "models:\n" M("m1") "    price_checked: 2026-02-30\n", 7,
	    "model m1: price_checked: expected a date YYYY-MM-DD" },
	{ "models:\n" M("m1") "    price_checked: 28.11.2026\n", 7,
	    "model m1: price_checked: expected a date YYYY-MM-DD" },
	{ "checked: 2026-02-29\nmodels: []\n", 1,
	    "checked: expected a date YYYY-MM-DD" },
	/* Currencies and rates. */
	{ "models:\n" M("m1") "    price_currency: cny\n", 7,
	    "model m1: price_currency: expected a currency code of three "
	    "capital letters, like CNY" },
	{ "models:\n" M("m1") "    price_currency: EUR\n", 7,
	    "model m1: price_currency: EUR has no rate in exchange_rates" },
	{ "models:\n" M("m1") "    price_original_input_per_mtok: 1\n", 2,
	    "model m1: price_original_input_per_mtok: only with a "
	    "price_currency other than USD" },
	{ RATES CNY("m1") "    price_original_input_per_mtok: 6\n", 6,
	    "model m1: missing price_original_output_per_mtok (price_currency "
	    "is CNY)" },
	{ RATES CNY("m1") "    price_original_input_per_mtok: 6\n"
	    "    price_original_output_per_mtok: 30\n"
	    "    input_per_mtok: 0.86\n", 12, "model m1: input_per_mtok: 0.86 "
	    "is not price_original_input_per_mtok at the CNY rate of "
	    "exchange_rates (0.857143, rounded up to 0.000001)" },
	{ RATES CNY("m1") "    price_original_input_per_mtok: -6\n", 10,
	    "model m1: price_original_input_per_mtok: a price cannot be "
	    "negative" },
	{ RATES CNY("m1") "    price_original_output_per_mtok: 1e3\n", 10,
	    "model m1: price_original_output_per_mtok: expected a price per "
	    "1M tokens in price_currency, like 0.8" },
	{ "models:\n  - id: m1\n    provider: p\n    context_window: 1000\n"
	    "    output_per_mtok: 1\n", 2, "model m1: missing input_per_mtok" },
	{ "exchange_rates:\n  usd:\n    per_usd: 1\n    date: 2026-11-28\n"
	    "models: []\n", 2, "exchange_rates: expected a currency code of "
	    "three capital letters other than USD, like CNY" },
	{ "exchange_rates:\n  USD:\n    per_usd: 1\n    date: 2026-11-28\n"
	    "models: []\n", 2, "exchange_rates: expected a currency code of "
	    "three capital letters other than USD, like CNY" },
	{ "exchange_rates:\n  CNY:\n    per_usd: 0\n    date: 2026-11-28\n"
	    "models: []\n", 3, "exchange_rates CNY: per_usd: expected the "
	    "units of CNY one USD buys, from 0.0001 to 100000" },
	{ "exchange_rates:\n  CNY:\n    per_usd: 7.1\nmodels: []\n", 3,
	    "exchange_rates CNY: missing date" },
	{ "exchange_rates:\n  CNY:\n    date: 2026-11-28\nmodels: []\n", 3,
	    "exchange_rates CNY: missing per_usd" },
	{ "exchange_rates:\n  CNY:\n    per_usd: 7.1\n    date: 2026-11-28\n"
	    "    source: nowhere\nmodels: []\n", 5, "exchange_rates CNY: "
	    "source: expected an http:// or https:// URL" },
	{ "exchange_rates:\n  CNY:\n    per_usd: 7.1\n    date: 2026-11-28\n"
	    "    when: now\nmodels: []\n", 5, "exchange_rates CNY: unknown "
	    "key \"when\"" },
	{ "exchange_rates:\n  CNY: 7.1\nmodels: []\n", 2, "exchange_rates CNY: "
	    "expected a mapping with per_usd and date" },
	{ "exchange_rates: [CNY]\nmodels: []\n", 1, "exchange_rates: expected "
	    "a mapping of currency codes" },
	/* Rates after the models are still known to them. */
	{ "models:\n" M("m1") "    price_currency: JPY\n" RATES, 7,
	    "model m1: price_currency: JPY has no rate in exchange_rates" },
};

/* Every bad catalog fails with exactly its message. */
static void
test_bad(void)
{
	struct catalog	*cat;
	char		 want[600], err[512];
	size_t		 i;

	for (i = 0; i < NM_NELEM(bad); i++) {
		cat = load(bad[i].doc, err, sizeof(err));
		CHECK(cat == NULL);
		snprintf(want, sizeof(want), "cat.yaml:%u: %s", bad[i].line,
		    bad[i].msg);
		if (strcmp(err, want) != 0)
			fprintf(stderr, "case %zu\n", i);
		CHECK_STR(err, want);
		catalog_free(cat);
	}
}

/* A rate given after the models still converts their prices. */
static void
test_rates_after_models(void)
{
	static const char doc[] =
	    "models:\n  - id: m1\n    provider: p\n    context_window: 1000\n"
	    "    price_currency: CNY\n    price_original_input_per_mtok: 0.8\n"
	    "    price_original_output_per_mtok: 8\n"
	    RATES;
	struct catalog	*cat;
	char		 err[512];

	cat = load(doc, err, sizeof(err));
	CHECK(cat != NULL);
	if (cat == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK(cat->models[0].input_per_mtok == 114286000LL);
	CHECK(cat->models[0].output_per_mtok == 1142858000LL);
	catalog_free(cat);
}

int
main(void)
{
	test_normalize();
	test_dates();
	test_lookup();
	test_suggest();
	test_hint();
	test_match();
	test_prices();
	test_bad();
	test_rates_after_models();
	UNIT_DONE();
}
