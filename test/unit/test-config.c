/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Tests for config.c and catalog.c: every default, every key of a full
 * config, secrets from the environment, catalog lookups, and the exact
 * "FILE:LINE: message" for each bad config and catalog in the tables.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "config.h"
#include "ytree.h"
#include "unit.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif

#define NANO	1000000000LL

static char	datadir[PATH_MAX];	/* $NM_SRCDIR/test/unit/data */
static char	cfgdir[PATH_MAX];	/* realpath of datadir/config */
static char	mindir[PATH_MAX];	/* realpath of datadir/minimal */

/*
 * A bad config and what loading it must say.  errfile names the file the
 * message is about when it is not the config itself (relative to
 * cfgdir); line 0 means "FILE: message".  An '@' in msg stands for cfgdir.
 */
static const struct {
	const char	*file;
	const char	*errfile;
	unsigned	 line;
	const char	*msg;
} bad_configs[] = {
	{ "bad-workers-type.yaml", NULL, 1,
	    "workers: expected an integer from 1 to 256" },
	{ "bad-workers-range.yaml", NULL, 1,
	    "workers: expected an integer from 1 to 256" },
	{ "bad-null-int.yaml", NULL, 1,
	    "workers: expected an integer from 1 to 256" },
	{ "bad-workers-range.yaml", NULL, 1,
	    "workers: expected an integer from 1 to 256" },
	{ "bad-threads-range.yaml", NULL, 2,
	    "threads: expected an integer from 1 to 256" },
	{ "bad-unknown-key.yaml", NULL, 2, "unknown key \"workerz\"" },
	{ "bad-dup-key.yaml", NULL, 3, "duplicated key \"workers\"" },
	{ "bad-listen-noport.yaml", NULL, 1,
	    "listen: expected IPV4:PORT or [IPV6]:PORT" },
	{ "bad-listen-port.yaml", NULL, 1,
	    "listen: port must be from 1 to 65535" },
	{ "bad-listen-v6.yaml", NULL, 1,
	    "listen: expected IPV4:PORT or [IPV6]:PORT" },
	{ "bad-listen-host.yaml", NULL, 1,
	    "listen: expected IPV4:PORT or [IPV6]:PORT" },
	{ "bad-url-scheme.yaml", NULL, 4, "provider x: base_url: expected an "
	    "http:// or https:// URL without query or fragment" },
	{ "bad-url-query.yaml", NULL, 4, "provider x: base_url: expected an "
	    "http:// or https:// URL without query or fragment" },
	{ "bad-url-creds.yaml", NULL, 4,
	    "provider x: base_url: credentials do not belong in a URL" },
	{ "bad-kind.yaml", NULL, 3, "provider x: kind: unknown kind \"cohere\" "
	    "(expected openai, anthropic or gemini)" },
	{ "bad-missing-base-url.yaml", NULL, 3, "provider x: missing base_url" },
	{ "bad-provider-key.yaml", NULL, 5,
	    "provider x: unknown key \"timeout\"" },
	{ "bad-provider-name.yaml", NULL, 2, "providers: \"bad name\" is not a "
	    "provider name (letters, digits, _ . -, at most 64)" },
	{ "bad-provider-not-map.yaml", NULL, 2,
	    "provider x: expected a mapping" },
	{ "bad-providers-list.yaml", NULL, 2,
	    "providers: expected a mapping of provider names" },
	{ "bad-unknown-provider.yaml", "foo-models.yaml", 8,
	    "model gpt-x: unknown provider foo" },
	{ "bad-redis.yaml", NULL, 1,
	    "redis: expected redis://HOST[:PORT][/DB] or unix:///PATH" },
	{ "bad-secret-env.yaml", NULL, 1, "secret_env: expected the name of an "
	    "environment variable (letters, digits, _), not the secret itself" },
	{ "bad-api-key-env.yaml", NULL, 5, "provider x: api_key_env: expected "
	    "the name of an environment variable (letters, digits, _), not the "
	    "secret itself" },
	{ "bad-limits-range.yaml", NULL, 2, "limits.max_body_bytes: expected an "
	    "integer from 1024 to 1073741824" },
	{ "bad-limits-unknown.yaml", NULL, 3,
	    "unknown key \"limits.max_bodies\"" },
	{ "bad-limits-type.yaml", NULL, 1, "limits: expected a mapping" },
	{ "bad-body-memory.yaml", NULL, 3, "limits.max_body_memory_bytes "
	    "(1048576) must be at least limits.max_body_bytes (2097152)" },
	{ "bad-key-cache.yaml", NULL, 1,
	    "key_cache_ms: expected an integer from 0 to 5000" },
	{ "bad-metrics-admin.yaml", NULL, 1,
	    "metrics_require_admin: expected true or false" },
	{ "bad-bool.yaml", NULL, 5,
	    "provider x: stream_usage: expected true or false" },
	{ "bad-dialect.yaml", NULL, 5, "provider x: dialect: unknown dialect "
	    "\"cohere\" (expected openai, deepseek, moonshot, dashscope, ark, "
	    "openrouter, mistral or generic)" },
	{ "bad-dialect-kind.yaml", NULL, 3,
	    "provider x: dialect: only a kind openai provider has one" },
	{ "bad-syntax.yaml", NULL, 3, "did not find expected ',' or ']' "
	    "(while parsing a flow sequence at line 2)" },
	{ "bad-anchor.yaml", NULL, 1, "anchors and aliases are not supported" },
	{ "bad-tag.yaml", NULL, 1,
	    "tags other than the standard ones are not supported" },
	{ "bad-two-docs.yaml", NULL, 2,
	    "only one document per file is supported" },
	{ "bad-top-list.yaml", NULL, 1, "top level must be a mapping" },
	{ "bad-log-level.yaml", NULL, 1,
	    "log_level: expected error, warn, info or debug" },
	{ "bad-public-url.yaml", NULL, 1, "public_url: expected an http:// or "
	    "https:// URL without query or fragment" },
	{ "bad-user.yaml", NULL, 1, "user: expected a user name" },
	{ "bad-string-type.yaml", NULL, 1, "redis: expected a string" },
	{ "bad-policies-missing.yaml", NULL, 2,
	    "policies: @/no-such-folder: No such file or directory" },
	{ "bad-policies-file.yaml", NULL, 2,
	    "policies: @/empty-models.yaml: not a directory" },
	{ "bad-policy-list.yaml", "bad-policies-list/list.yaml", 1,
	    "top level must be a mapping" },
	{ "bad-policy-syntax.yaml", "bad-policies-syntax/b.yaml", 3,
	    "did not find expected ',' or '}' (while parsing a flow mapping "
	    "at line 2)" },
	{ "bad-catalog-missing.yaml", "no-such-models.yaml", 0,
	    "No such file or directory" },
	{ "bad-catalog-dir.yaml", "good-policies", 0, "not a regular file" },
	{ "no-such-config.yaml", NULL, 0, "No such file or directory" },
};

/* A model with the required keys, 5 lines. */
#define M(id)	"  - id: " id "\n    provider: p\n    input_per_mtok: 1\n" \
		"    output_per_mtok: 2\n    context_window: 1000\n"
/* Lines 2 to 4 of a model, for cases that change the rest. */
#define MHEAD	"models:\n  - id: m1\n    provider: p\n"

/* A bad catalog (as cat.yaml) and the message about it. */
static const struct {
	const char	*doc;
	unsigned	 line;
	const char	*msg;
} bad_catalogs[] = {
	{ "models:\n" M("m1") "    foo: 1\n", 7,
	    "model m1: unknown key \"foo\"" },
	{ MHEAD "    input_per_mtok: 1\n    context_window: 5\n", 2,
	    "model m1: missing output_per_mtok" },
	{ "models:\n" M("m1") M("m1"), 7,
	    "duplicate model id m1 (first at line 2)" },
	{ "models:\n" M("m1") M("m2") "    aliases: [x, m1]\n", 12,
	    "model m2: alias m1 is already the id of a model (line 2)" },
	{ "models:\n" M("m1") "    aliases: [fast]\n" M("m2")
	    "    aliases: [fast]\n", 13,
	    "model m2: alias fast is already an alias of model m1 (line 7)" },
	{ "models:\n" M("m1") "    aliases: [fast]\n" M("fast"), 8,
	    "model id fast is already an alias of model m1 (line 7)" },
	{ "models:\n" M("m1") "    aliases: [m1]\n", 7,
	    "model m1: alias m1 is already the id of a model (line 2)" },
	{ MHEAD "    input_per_mtok: -0.5\n", 4,
	    "model m1: input_per_mtok: a price cannot be negative" },
	{ MHEAD "    output_per_mtok: 0.1.2\n", 4, "model m1: output_per_mtok: "
	    "expected a price in USD per 1M tokens, like 0.15" },
	{ MHEAD "    input_per_mtok: 1e-3\n", 4, "model m1: input_per_mtok: "
	    "expected a price in USD per 1M tokens, like 0.15" },
	{ MHEAD "    input_per_mtok: 0.0000000001\n", 4, "model m1: "
	    "input_per_mtok: expected a price in USD per 1M tokens, like 0.15" },
	{ MHEAD "    input_per_mtok: 2000000\n", 4,
	    "model m1: input_per_mtok: price too large" },
	{ MHEAD "    input_per_mtok: [1]\n", 4,
	    "model m1: input_per_mtok: expected a single value" },
	{ MHEAD "    cached_input_per_mtok:\n", 4,
	    "model m1: cached_input_per_mtok: expected a single value" },
	{ "models:\n" M("m1") "    capabilities: [tools, telepathy]\n", 7,
	    "model m1: capabilities: unknown capability \"telepathy\" (expected "
	    "tools, json, vision, streaming, embeddings or reasoning)" },
	{ "models:\n" M("m1") "    capabilities: [tools, json, tools]\n", 7,
	    "model m1: capabilities: tools listed twice" },
	{ "models:\n" M("m1") "    capabilities: tools\n", 7,
	    "model m1: capabilities: expected a list" },
	{ "models:\n" M("m1") "    region: eu\n", 7,
	    "model m1: region: expected global or cn" },
	{ "models:\n  - provider: p\n", 2, "model without an id" },
	{ "models: {}\n", 1, "models: expected a list" },
	{ "models:\n  - m1\n", 2, "models: each entry must be a mapping" },
	{ MHEAD "    context_window: big\n", 4, "model m1: context_window: "
	    "expected an integer from 1 to 100000000" },
	{ "models:\n" M("m1") "    max_output: 2000\n", 7,
	    "model m1: max_output is larger than context_window" },
	{ "models:\n" M("m1") "    latency_ms: 700000\n", 7,
	    "model m1: latency_ms: expected an integer from 0 to 600000" },
	{ "checked: 2026-13-01\nmodels: []\n", 1,
	    "checked: expected a date YYYY-MM-DD" },
	{ "model: []\n", 1, "unknown key \"model\"" },
	{ "checked: 2026-01-01\n", 1, "missing models" },
	{ "- a\n", 1, "top level must be a mapping" },
	{ "models:\n  - id: gpt 4\n", 2, "id: expected a name of at most 128 "
	    "letters, digits and ._:/@+-" },
	{ "models:\n  - id: m1\n    provider: \"open ai\"\n", 3, "model m1: provider: expected "
	    "a name of at most 128 letters, digits and ._:/@+-" },
	{ "models:\n" M("m1") "    upstream_model: \"a b\"\n", 7,
	    "model m1: upstream_model: expected printable text without spaces, "
	    "at most 256 bytes" },
	{ "models:\n" M("m1") "    aliases: fast\n", 7,
	    "model m1: aliases: expected a list" },
	{ "models:\n" M("m1") "    aliases: [[a]]\n", 7, "model m1: aliases: "
	    "expected names of at most 128 letters, digits and ._:/@+-" },
};

/* Stop when a test path does not fit its buffer. */
static void
fits(int n, size_t len)
{
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "test path too long\n");
		exit(1);
	}
}

/* "dir/name" into out. */
static void
join(char *out, size_t len, const char *dir, const char *name)
{
	fits(snprintf(out, len, "%s/%s", dir, name), len);
}

/* Expected message: '@' in msg replaced by cfgdir. */
static void
expand(char *out, size_t len, const char *msg)
{
	const char	*at = strchr(msg, '@');

	if (at == NULL)
		fits(snprintf(out, len, "%s", msg), len);
	else
		fits(snprintf(out, len, "%.*s%s%s", (int)(at - msg), msg,
		    cfgdir, at + 1), len);
}

/* Every bad config fails with exactly its message. */
static void
test_bad_configs(void)
{
	struct config	*cfg;
	char		 dir[PATH_MAX], path[PATH_MAX + 64], errpath[PATH_MAX + 64];
	char		 msg[PATH_MAX + 512], want[2 * PATH_MAX + 600];
	char		 err[2 * PATH_MAX + 600];
	size_t		 i;

	join(dir, sizeof(dir), datadir, "config");
	for (i = 0; i < NM_NELEM(bad_configs); i++) {
		join(path, sizeof(path), dir, bad_configs[i].file);
		fits(snprintf(errpath, sizeof(errpath), "%s", path),
		    sizeof(errpath));
		if (bad_configs[i].errfile != NULL)
			join(errpath, sizeof(errpath), cfgdir,
			    bad_configs[i].errfile);
		expand(msg, sizeof(msg), bad_configs[i].msg);
		if (bad_configs[i].line == 0)
			fits(snprintf(want, sizeof(want), "%s: %s", errpath,
			    msg), sizeof(want));
		else
			fits(snprintf(want, sizeof(want), "%s:%u: %s", errpath,
			    bad_configs[i].line, msg), sizeof(want));
		err[0] = '\0';
		cfg = config_load(path, err, sizeof(err));
		CHECK(cfg == NULL);
		CHECK_STR(err, want);
		/* Secrets pasted where a variable name goes are not echoed. */
		CHECK(strstr(err, "DoNotLeak") == NULL);
		CHECK(strstr(err, "hunter2") == NULL);
		config_free(cfg);
	}
}

/* Every bad catalog fails with exactly its message. */
static void
test_bad_catalogs(void)
{
	struct catalog	*cat;
	struct ynode	*root;
	char		 want[600], err[512];
	size_t		 i;

	for (i = 0; i < NM_NELEM(bad_catalogs); i++) {
		root = ytree_load_string("cat.yaml", bad_catalogs[i].doc,
		    strlen(bad_catalogs[i].doc), err, sizeof(err));
		CHECK(root != NULL);
		if (root == NULL) {
			fprintf(stderr, "case %zu: %s\n", i, err);
			continue;
		}
		err[0] = '\0';
		cat = catalog_load_tree(root, err, sizeof(err));
		CHECK(cat == NULL);
		snprintf(want, sizeof(want), "cat.yaml:%u: %s",
		    bad_catalogs[i].line, bad_catalogs[i].msg);
		CHECK_STR(err, want);
		catalog_free(cat);
		ytree_free(root);
	}
}

/* A good catalog from a file: fields, defaults, lookups. */
static void
test_good_catalog(void)
{
	const struct model	*m, *h;
	struct catalog		*cat;
	char			 path[PATH_MAX], err[512] = "";

	join(path, sizeof(path), cfgdir, "good-models.yaml");
	cat = catalog_load(path, err, sizeof(err));
	CHECK(cat != NULL);
	CHECK_STR(err, "");
	if (cat == NULL)
		return;
	CHECK_STR(cat->path, path);
	CHECK_STR(cat->checked, "2026-11-28");
	CHECK(cat->n == 2);

	m = &cat->models[0];
	CHECK_STR(m->id, "gpt-4o-mini");
	CHECK_STR(m->provider, "openai");
	CHECK_STR(m->upstream_model, "gpt-4o-mini");
	CHECK(m->input_per_mtok == 150000000);
	CHECK(m->output_per_mtok == 600000000);
	CHECK(m->cached_input_per_mtok == 75000000);
	CHECK(m->context_window == 128000);
	CHECK(m->max_output == 16384);
	CHECK(m->caps == (CAP_TOOLS | CAP_JSON | CAP_VISION | CAP_STREAMING));
	CHECK(m->region == REGION_GLOBAL);
	CHECK(m->latency_ms == 600);
	CHECK(m->created == 0);
	CHECK_STR(m->owned_by, "openai");
	CHECK(m->aliases != NULL);
	if (m->aliases != NULL) {
		CHECK_STR(m->aliases[0], "cheap-fast");
		CHECK_STR(m->aliases[1], "mini");
		CHECK(m->aliases[2] == NULL);
	}
	CHECK(m->line == 3);

	/* Defaults: cached = input, max_output = context, latency 1000. */
	h = &cat->models[1];
	CHECK_STR(h->id, "claude-haiku");
	CHECK_STR(h->upstream_model, "claude-haiku-4-5");
	CHECK(h->input_per_mtok == 1 * NANO);
	CHECK(h->output_per_mtok == 5 * NANO);
	CHECK(h->cached_input_per_mtok == h->input_per_mtok);
	CHECK(h->context_window == 200000);
	CHECK(h->max_output == 200000);
	CHECK(h->caps == (CAP_REASONING | CAP_EMBEDDINGS));
	CHECK(h->region == REGION_CN);
	CHECK(h->created == 1700000000);
	CHECK_STR(h->owned_by, "someone");
	CHECK(h->latency_ms == 1000);
	CHECK(h->aliases == NULL);

	CHECK(catalog_find(cat, "gpt-4o-mini") == m);
	CHECK(catalog_find(cat, "cheap-fast") == m);
	CHECK(catalog_find(cat, "mini") == m);
	CHECK(catalog_find(cat, "claude-haiku") == h);
	CHECK(catalog_find(cat, "claude-haiku-4-5") == NULL);
	CHECK(catalog_find(cat, "nope") == NULL);
	CHECK(catalog_find(cat, "") == NULL);
	CHECK(catalog_find(NULL, "mini") == NULL);
	CHECK(catalog_find(cat, NULL) == NULL);
	catalog_free(cat);

	err[0] = '\0';
	join(path, sizeof(path), cfgdir, "missing-models.yaml");
	CHECK(catalog_load(path, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "missing-models.yaml: No such file or directory")
	    != NULL);
}

/* Names of capabilities and regions. */
static void
test_names(void)
{
	static const struct {
		unsigned	 cap;
		const char	*name;
	} caps[] = {
		{ CAP_TOOLS, "tools" }, { CAP_JSON, "json" },
		{ CAP_VISION, "vision" }, { CAP_STREAMING, "streaming" },
		{ CAP_EMBEDDINGS, "embeddings" }, { CAP_REASONING, "reasoning" },
	};
	size_t	i;

	for (i = 0; i < NM_NELEM(caps); i++)
		CHECK_STR(catalog_cap_name(caps[i].cap), caps[i].name);
	CHECK(catalog_cap_name(0) == NULL);
	CHECK(catalog_cap_name(CAP_TOOLS | CAP_JSON) == NULL);
	CHECK_STR(catalog_region_name(REGION_GLOBAL), "global");
	CHECK_STR(catalog_region_name(REGION_CN), "cn");
	CHECK_STR(config_kind_name(PROVIDER_OPENAI), "openai");
	CHECK_STR(config_kind_name(PROVIDER_ANTHROPIC), "anthropic");
	CHECK_STR(config_kind_name(PROVIDER_GEMINI), "gemini");
	CHECK_STR(config_kind_name((enum provider_kind)0), "unknown");
	CHECK_STR(config_default_path(), SYSCONFDIR "/nextmodel/nextmodel.yaml");
}

/* An empty config: every default. */
static void
test_defaults(void)
{
	struct config	*cfg;
	char		 path[PATH_MAX], want[PATH_MAX + 32], err[512] = "";
	long		 ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	unsetenv("NEXTMODEL_SECRET");
	unsetenv("NEXTMODEL_ADMIN_KEY");
	join(path, sizeof(path), datadir, "minimal/nextmodel.yaml");
	cfg = config_load(path, err, sizeof(err));
	CHECK(cfg != NULL);
	CHECK_STR(err, "");
	if (cfg == NULL)
		return;
	CHECK_STR(cfg->path, path);
	CHECK_STR(cfg->dir, mindir);
	CHECK_STR(cfg->listen_host, "127.0.0.1");
	CHECK(cfg->listen_port == 8080);
	CHECK(cfg->workers == (ncpu < 1 ? 1 : ncpu > 1024 ? 1024 : ncpu));
	CHECK(cfg->threads == 2);
	CHECK_STR(cfg->redis_url, "redis://127.0.0.1:6379/0");
	CHECK(cfg->redis_timeout_ms == 1000);
	CHECK_STR(cfg->secret_env, "NEXTMODEL_SECRET");
	CHECK(cfg->secret == NULL);
	CHECK_STR(cfg->admin_key_env, "NEXTMODEL_ADMIN_KEY");
	CHECK(cfg->has_admin_key == 0);
	join(want, sizeof(want), mindir, "models.yaml");
	CHECK_STR(cfg->catalog_path, want);
	CHECK(cfg->policies_dir == NULL);
	CHECK_STR(cfg->ledger_dir, LOCALSTATEDIR "/lib/nextmodel/ledger");
	CHECK(cfg->public_url == NULL);
	CHECK(cfg->user == NULL);
	CHECK(cfg->log_level == NULL);
	CHECK(cfg->max_body_bytes == 8 * 1024 * 1024);
	CHECK(cfg->max_header_bytes == 32 * 1024);
	CHECK(cfg->max_json_depth == 64);
	CHECK(cfg->max_json_tokens == 1000000);
	CHECK(cfg->max_upstream_bytes == 64 * 1024 * 1024);
	CHECK(cfg->max_connections == 4096);
	CHECK(cfg->max_body_memory_bytes == 256 * 1024 * 1024);
	CHECK(cfg->header_timeout_ms == 60000);
	CHECK(cfg->body_timeout_ms == 300000);
	CHECK(cfg->max_connections_per_client == 0);
	CHECK(cfg->shutdown_timeout_ms == 30000);
	CHECK(cfg->worker_timeout_ms == 30000);
	CHECK(cfg->key_cache_ms == 2000);
	CHECK(cfg->key_cache_max_stale_ms == 60000);
	CHECK(cfg->metrics_require_admin == 0);
	CHECK(cfg->providers == NULL);
	CHECK(cfg->nproviders == 0);
	CHECK(cfg->catalog != NULL && cfg->catalog->n == 0);
	CHECK(cfg->catalog != NULL && cfg->catalog->checked == NULL);
	CHECK(cfg->generation == 0);
	config_free(cfg);
}

/* A config that sets every key, with secrets in the environment. */
static void
test_good_config(void)
{
	static const unsigned char admin_sha[32] = {
		0x69, 0xa5, 0x26, 0x55, 0x06, 0xc9, 0x4c, 0x77,
		0xb7, 0x87, 0xa7, 0xd7, 0x37, 0x7b, 0x76, 0x85,
		0xa0, 0xef, 0xf8, 0x2e, 0x33, 0x92, 0x0a, 0x71,
		0xe7, 0xee, 0x22, 0xcd, 0x61, 0x54, 0x95, 0x3e,
	};
	const struct provider_conf	*p;
	struct config			*cfg;
	char				 path[PATH_MAX], want[PATH_MAX + 32];
	char				 err[512] = "";

	setenv("NM_TEST_SECRET", "s3cret-value", 1);
	setenv("NM_TEST_ADMIN", "admin-key", 1);
	setenv("NM_TEST_OPENAI_KEY", "sk-test-openai", 1);
	unsetenv("NM_TEST_UNSET_KEY");
	join(path, sizeof(path), datadir, "config/good.yaml");
	cfg = config_load(path, err, sizeof(err));
	CHECK(cfg != NULL);
	CHECK_STR(err, "");
	if (cfg == NULL)
		return;
	CHECK_STR(cfg->dir, cfgdir);
	CHECK_STR(cfg->listen_host, "::1");
	CHECK(cfg->listen_port == 9090);
	CHECK(cfg->workers == 3);
	CHECK(cfg->threads == 4);
	CHECK_STR(cfg->redis_url, "unix:///run/redis/redis.sock");
	CHECK(cfg->redis_timeout_ms == 250);
	CHECK_STR(cfg->secret_env, "NM_TEST_SECRET");
	CHECK_STR(cfg->secret, "s3cret-value");
	CHECK_STR(cfg->admin_key_env, "NM_TEST_ADMIN");
	CHECK(cfg->has_admin_key == 1);
	CHECK(memcmp(cfg->admin_key_hash, admin_sha, 32) == 0);
	join(want, sizeof(want), cfgdir, "good-models.yaml");
	CHECK_STR(cfg->catalog_path, want);
	join(want, sizeof(want), cfgdir, "good-policies");
	CHECK_STR(cfg->policies_dir, want);
	join(want, sizeof(want), cfgdir, "ledger");
	CHECK_STR(cfg->ledger_dir, want);
	CHECK_STR(cfg->public_url, "https://gw.example.com");
	CHECK_STR(cfg->user, "nextmodel");
	CHECK_STR(cfg->log_level, "debug");
	CHECK(cfg->max_body_bytes == 1048576);
	CHECK(cfg->max_header_bytes == 16384);
	CHECK(cfg->max_json_depth == 32);
	CHECK(cfg->max_json_tokens == 50000);
	CHECK(cfg->max_upstream_bytes == 2097152);
	CHECK(cfg->max_connections == 100);
	CHECK(cfg->shutdown_timeout_ms == 5000);
	CHECK(cfg->worker_timeout_ms == 4000);
	CHECK(cfg->key_cache_ms == 5000);
	CHECK(cfg->metrics_require_admin == 1);
	CHECK(cfg->nproviders == 3);
	CHECK(cfg->catalog != NULL && cfg->catalog->n == 2);

	p = config_provider(cfg, "openai");
	CHECK(p != NULL);
	if (p != NULL) {
		CHECK_STR(p->name, "openai");
		CHECK(p->kind == PROVIDER_OPENAI);
		CHECK_STR(p->base_url, "https://api.openai.com/v1");
		CHECK_STR(p->api_key_env, "NM_TEST_OPENAI_KEY");
		CHECK_STR(p->api_key, "sk-test-openai");
		CHECK(p->connect_timeout_ms == 2000);
		CHECK(p->timeout_ms == 30000);
		CHECK(p->idle_timeout_ms == 15000);
		CHECK(p->stream_usage == 0);
		CHECK(p->line == 26);
	}
	p = config_provider(cfg, "anthropic");
	CHECK(p != NULL);
	if (p != NULL) {
		CHECK(p->kind == PROVIDER_ANTHROPIC);
		CHECK_STR(p->base_url, "https://api.anthropic.com");
		CHECK_STR(p->api_key_env, "NM_TEST_UNSET_KEY");
		CHECK(p->api_key == NULL);
		CHECK(p->connect_timeout_ms == 10000);
		CHECK(p->timeout_ms == 600000);
		CHECK(p->idle_timeout_ms == 120000);
		CHECK(p->stream_usage == 1);
	}
	p = config_provider(cfg, "local");
	CHECK(p != NULL);
	if (p != NULL) {
		CHECK(p->kind == PROVIDER_GEMINI);
		CHECK_STR(p->base_url, "http://127.0.0.1:8089");
		CHECK(p->api_key_env == NULL);
		CHECK(p->api_key == NULL);
	}
	CHECK(config_provider(cfg, "nope") == NULL);
	CHECK(config_provider(cfg, NULL) == NULL);
	CHECK(config_provider(NULL, "openai") == NULL);
	config_free(cfg);

	/* An empty variable counts as unset. */
	setenv("NM_TEST_SECRET", "", 1);
	setenv("NM_TEST_ADMIN", "", 1);
	cfg = config_load(path, err, sizeof(err));
	CHECK(cfg != NULL);
	if (cfg != NULL) {
		CHECK(cfg->secret == NULL);
		CHECK(cfg->has_admin_key == 0);
	}
	config_free(cfg);
	unsetenv("NM_TEST_SECRET");
	unsetenv("NM_TEST_ADMIN");
	unsetenv("NM_TEST_OPENAI_KEY");
}

static char	tmpdir[64];		/* scratch folder for written configs */

/*
 * Load a config whose text is doc plus "catalog:" pointing at the minimal
 * catalog; err gets the message.  Caller frees.
 */
static struct config *
load_doc(const char *doc, char *err, size_t errlen)
{
	char	 path[128];
	FILE	*f;

	fits(snprintf(path, sizeof(path), "%s/nextmodel.yaml", tmpdir),
	    sizeof(path));
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(f, "%scatalog: %s/models.yaml\n", doc, mindir);
	if (fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	err[0] = '\0';
	return (config_load(path, err, errlen));
}

/*
 * A secret from the environment with a control character (a key file's
 * trailing newline, a smuggled header) is refused at the key naming its
 * variable, with the name and never the value.
 */
static void
test_env_secret_controls(void)
{
	static const struct {
		const char	*var;
		const char	*value;
		unsigned	 line;
		const char	*msg;
	} cases[] = {
		{ "NM_TEST_SECRET", "s3cret-value\n", 7, "secret_env: the "
		    "environment variable NM_TEST_SECRET holds a control "
		    "character" },
		{ "NM_TEST_ADMIN", "admin-\rkey", 8, "admin_key_env: the "
		    "environment variable NM_TEST_ADMIN holds a control "
		    "character" },
		{ "NM_TEST_OPENAI_KEY", "sk-abc\r\nX-Injected: yes", 29,
		    "provider openai: api_key_env: the environment variable "
		    "NM_TEST_OPENAI_KEY holds a control character" },
		{ "NM_TEST_OPENAI_KEY", "sk-abc\tdef", 29, "provider openai: "
		    "api_key_env: the environment variable NM_TEST_OPENAI_KEY" },
		{ "NM_TEST_OPENAI_KEY", "sk-abc\x7f", 29, "provider openai: "
		    "api_key_env: the environment variable NM_TEST_OPENAI_KEY" },
		{ "NM_TEST_UNSET_KEY", "\nsk-ant", 34, "provider anthropic: "
		    "api_key_env: the environment variable NM_TEST_UNSET_KEY" },
	};
	struct config	*cfg;
	char		 path[PATH_MAX], want[PATH_MAX + 64];
	char		 err[PATH_MAX + 512];
	size_t		 i;

	join(path, sizeof(path), datadir, "config/good.yaml");
	for (i = 0; i < NM_NELEM(cases); i++) {
		setenv("NM_TEST_SECRET", "s3cret-value", 1);
		setenv("NM_TEST_ADMIN", "admin-key", 1);
		setenv("NM_TEST_OPENAI_KEY", "sk-test-openai", 1);
		unsetenv("NM_TEST_UNSET_KEY");
		setenv(cases[i].var, cases[i].value, 1);
		err[0] = '\0';
		cfg = config_load(path, err, sizeof(err));
		CHECK(cfg == NULL);
		fits(snprintf(want, sizeof(want), "%s:%u: %s", path,
		    cases[i].line, cases[i].msg), sizeof(want));
		CHECK(strncmp(err, want, strlen(want)) == 0);
		if (strncmp(err, want, strlen(want)) != 0)
			fprintf(stderr, "got: %s\n", err);
		/* Not a byte of the value. */
		CHECK(strstr(err, "s3cret") == NULL);
		CHECK(strstr(err, "sk-") == NULL);
		CHECK(strstr(err, "Injected") == NULL);
		CHECK(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
		config_free(cfg);
	}

	/* The default variable, not named in the file: the top of the file. */
	setenv("NEXTMODEL_SECRET", "abc\n", 1);
	unsetenv("NEXTMODEL_ADMIN_KEY");
	cfg = load_doc("workers: 1\n", err, sizeof(err));
	CHECK(cfg == NULL);
	CHECK(strstr(err, ".yaml:1: secret_env: the environment variable "
	    "NEXTMODEL_SECRET holds a control character") != NULL);
	config_free(cfg);
	/* Printable text with spaces and non-ASCII is still a secret. */
	setenv("NEXTMODEL_SECRET", "a b \xc3\xa9 ~", 1);
	cfg = load_doc("workers: 1\n", err, sizeof(err));
	CHECK(cfg != NULL);
	config_free(cfg);
	unsetenv("NEXTMODEL_SECRET");
	unsetenv("NM_TEST_SECRET");
	unsetenv("NM_TEST_ADMIN");
	unsetenv("NM_TEST_OPENAI_KEY");
	unsetenv("NM_TEST_UNSET_KEY");
}

/* dialect: given, or guessed from the host of base_url. */
static void
test_dialects(void)
{
	static const struct {
		const char		*provider;
		enum provider_dialect	 dialect;
	} want[] = {
		{ "openai", DIALECT_OPENAI },
		{ "deepseek", DIALECT_DEEPSEEK },
		{ "kimi", DIALECT_MOONSHOT },
		{ "qwen", DIALECT_DASHSCOPE },
		{ "doubao", DIALECT_ARK },
		{ "router", DIALECT_OPENROUTER },
		{ "mistral", DIALECT_MISTRAL },
		{ "local", DIALECT_OPENAI },
		{ "lookalike", DIALECT_OPENAI },
		{ "proxied", DIALECT_DEEPSEEK },
		{ "vllm", DIALECT_GENERIC },
	};
	static const struct {
		const char		*url;
		enum provider_dialect	 dialect;
	} guesses[] = {
		{ "https://api.deepseek.com/v1", DIALECT_DEEPSEEK },
		{ "https://API.DeepSeek.com", DIALECT_DEEPSEEK },
		{ "https://api.moonshot.ai/v1", DIALECT_MOONSHOT },
		{ "https://dashscope.aliyuncs.com/compatible-mode/v1",
		    DIALECT_DASHSCOPE },
		{ "https://ark.ap-southeast.bytepluses.com/api/v3", DIALECT_ARK },
		{ "https://openrouter.ai:443/api/v1", DIALECT_OPENROUTER },
		{ "https://codestral.mistral.ai/v1", DIALECT_MISTRAL },
		{ "https://mistral.ai.example.com/v1", DIALECT_OPENAI },
		{ "https://example.com/api.deepseek.com", DIALECT_OPENAI },
		{ "https://xmistral.ai", DIALECT_OPENAI },
		{ "", DIALECT_OPENAI },
		{ NULL, DIALECT_OPENAI },
	};
	static const struct {
		enum provider_dialect	 dialect;
		const char		*name;
	} names[] = {
		{ DIALECT_OPENAI, "openai" }, { DIALECT_DEEPSEEK, "deepseek" },
		{ DIALECT_MOONSHOT, "moonshot" }, { DIALECT_DASHSCOPE, "dashscope" },
		{ DIALECT_ARK, "ark" }, { DIALECT_OPENROUTER, "openrouter" },
		{ DIALECT_MISTRAL, "mistral" }, { DIALECT_GENERIC, "generic" },
		{ (enum provider_dialect)99, "unknown" },
	};
	const struct provider_conf	*p;
	struct config			*cfg;
	char				 path[PATH_MAX], err[512] = "";
	size_t				 i;

	join(path, sizeof(path), datadir, "config/dialects.yaml");
	cfg = config_load(path, err, sizeof(err));
	CHECK(cfg != NULL);
	CHECK_STR(err, "");
	for (i = 0; cfg != NULL && i < NM_NELEM(want); i++) {
		p = config_provider(cfg, want[i].provider);
		CHECK(p != NULL);
		if (p == NULL)
			continue;
		if (p->dialect != want[i].dialect)
			fprintf(stderr, "provider %s: dialect %s\n", p->name,
			    config_dialect_name(p->dialect));
		CHECK(p->dialect == want[i].dialect);
	}
	config_free(cfg);
	for (i = 0; i < NM_NELEM(guesses); i++)
		CHECK(config_dialect_guess(guesses[i].url) == guesses[i].dialect);
	for (i = 0; i < NM_NELEM(names); i++)
		CHECK_STR(config_dialect_name(names[i].dialect), names[i].name);
}

/*
 * redis: what the check lets through is what the Redis module can use,
 * ?db=N on TCP included (doc/redis-keys.md shows it).
 */
static void
test_redis_urls(void)
{
	static const struct {
		const char	*url;
		const char	*msg;	/* NULL: accepted */
	} cases[] = {
		{ "redis://127.0.0.1:6379?db=0", NULL },
		{ "redis://127.0.0.1:6379/?db=3", NULL },
		{ "redis://127.0.0.1:6379/2", NULL },
		{ "redis://:hunter2@h", NULL },
		{ "unix:///run/redis.sock?db=1", NULL },
		{ "redis://127.0.0.1:6379/0?db=1", "database given twice "
		    "(/N and ?db=N)" },
		{ "redis://h:99999", "bad port" },
		{ "redis://h/x", "bad database number" },
		{ "redis://h?database=1", "bad query (only ?db=N)" },
		{ "unix:///p?db=-1", "bad query (only ?db=N)" },
		{ "redis://:hunter2%zz@h", "bad user or password encoding" },
		{ "redis://[::1", "unterminated [IPv6] host" },
	};
	struct config	*cfg;
	char		 doc[256], want[300], err[PATH_MAX + 512], *colon;
	size_t		 i;

	for (i = 0; i < NM_NELEM(cases); i++) {
		fits(snprintf(doc, sizeof(doc), "redis: \"%s\"\n",
		    cases[i].url), sizeof(doc));
		cfg = load_doc(doc, err, sizeof(err));
		if (cases[i].msg == NULL) {
			CHECK(cfg != NULL);
			CHECK_STR(err, "");
			if (cfg != NULL)
				CHECK_STR(cfg->redis_url, cases[i].url);
		} else {
			CHECK(cfg == NULL);
			fits(snprintf(want, sizeof(want), "1: redis: %s "
			    "(expected redis://HOST[:PORT][/DB] or "
			    "unix:///PATH[?db=N])", cases[i].msg), sizeof(want));
			colon = strstr(err, ".yaml:");
			CHECK(colon != NULL);
			if (colon != NULL)
				CHECK_STR(colon + 6, want);
			CHECK(strstr(err, "hunter2") == NULL);
		}
		config_free(cfg);
	}
}

/* Keys that allow it can be left empty or "~". */
static void
test_null_values(void)
{
	struct config	*cfg;
	char		 path[PATH_MAX], err[512] = "";

	setenv("NEXTMODEL_SECRET", "not-read", 1);
	setenv("NEXTMODEL_ADMIN_KEY", "not-read", 1);
	join(path, sizeof(path), datadir, "config/null-values.yaml");
	cfg = config_load(path, err, sizeof(err));
	CHECK(cfg != NULL);
	CHECK_STR(err, "");
	if (cfg != NULL) {
		CHECK(cfg->secret_env == NULL);
		CHECK(cfg->secret == NULL);
		CHECK(cfg->admin_key_env == NULL);
		CHECK(cfg->has_admin_key == 0);
		CHECK(cfg->policies_dir == NULL);
		CHECK(cfg->public_url == NULL);
		CHECK(cfg->max_body_bytes == 8 * 1024 * 1024);
		CHECK(cfg->max_connections == 4096);
		CHECK(cfg->nproviders == 0);
	}
	config_free(cfg);
	unsetenv("NEXTMODEL_SECRET");
	unsetenv("NEXTMODEL_ADMIN_KEY");
}

int
main(void)
{
	const char	*src = getenv("NM_SRCDIR");
	char		 tmp[PATH_MAX];

	if (src == NULL || *src == '\0')
		src = ".";
	fits(snprintf(datadir, sizeof(datadir), "%s/test/unit/data", src),
	    sizeof(datadir));
	join(tmp, sizeof(tmp), datadir, "config");
	if (realpath(tmp, cfgdir) == NULL) {
		fprintf(stderr, "%s: cannot resolve (set NM_SRCDIR)\n", tmp);
		return (1);
	}
	join(tmp, sizeof(tmp), datadir, "minimal");
	if (realpath(tmp, mindir) == NULL) {
		fprintf(stderr, "%s: cannot resolve\n", tmp);
		return (1);
	}

	fits(snprintf(tmpdir, sizeof(tmpdir), "/tmp/nm-test-config.XXXXXX"),
	    sizeof(tmpdir));
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return (1);
	}

	test_bad_configs();
	test_bad_catalogs();
	test_good_catalog();
	test_names();
	test_defaults();
	test_good_config();
	test_null_values();
	test_dialects();
	test_redis_urls();
	test_env_secret_controls();

	fits(snprintf(tmp, sizeof(tmp), "%s/nextmodel.yaml", tmpdir),
	    sizeof(tmp));
	unlink(tmp);
	rmdir(tmpdir);

	config_free(NULL);
	catalog_free(NULL);
	UNIT_DONE();
}
