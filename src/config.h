/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The main configuration (nextmodel.yaml).  config_load() reads it, the
 * catalog it names and the policy files, validates all of it, resolves the
 * secrets from the environment, and returns one immutable struct: the
 * master loads a new one on SIGHUP and keeps the old one if it fails.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include "nextmodel.h"
#include "catalog.h"

struct policy_set;

enum provider_kind { PROVIDER_OPENAI = 1, PROVIDER_ANTHROPIC, PROVIDER_GEMINI };

/*
 * Which OpenAI-compatible source a kind: openai provider is: each has its
 * quirks (wire-formats.md section 7).  Default: guessed from base_url.
 */
enum provider_dialect {
	DIALECT_OPENAI = 0,
	DIALECT_DEEPSEEK,
	DIALECT_MOONSHOT,
	DIALECT_DASHSCOPE,
	DIALECT_ARK,
	DIALECT_OPENROUTER,
	DIALECT_MISTRAL,
	DIALECT_GENERIC,
};

/* cache.mode and cache.scope. */
enum { CONFIG_CACHE_OFF = 0, CONFIG_CACHE_EXACT, CONFIG_CACHE_CANONICAL };
enum { CONFIG_SCOPE_PROJECT = 0, CONFIG_SCOPE_TEAM, CONFIG_SCOPE_GLOBAL };

struct provider_conf {
	char		*name;
	enum provider_kind kind;
	char		*base_url;		/* no trailing slash */
	char		*api_key_env;
	char		*api_key;		/* from the environment; NULL if unset */
	long		 connect_timeout_ms;	/* default 10000 */
	long		 timeout_ms;		/* whole non-streaming call; default 600000 */
	long		 idle_timeout_ms;	/* no byte from a stream for this long; default 120000 */
	int		 stream_usage;		/* ask for stream_options.include_usage; default 1 */
	enum provider_dialect dialect;		/* kind openai: the source's quirks */
	unsigned	 line;
};

/*
 * Most worker processes: the master holds room for three generations of
 * them (serving, starting on a reload, still draining from the last one).
 */
#define CONFIG_MAX_WORKERS	256

struct config {
	char		*path;
	char		*dir;			/* folder of path; relative paths start here */
	char		*listen_host;		/* "127.0.0.1", "::", "0.0.0.0" */
	int		 listen_port;
	int		 workers;		/* default: number of CPUs */
	int		 threads;		/* libmicrohttpd threads per worker; default 2 */
	char		*redis_url;
	long		 redis_timeout_ms;	/* default 1000 */
	char		*secret_env;
	char		*secret;		/* from the environment, may be NULL */
	char		*admin_key_env;
	int		 has_admin_key;
	unsigned char	 admin_key_hash[32];	/* SHA-256 of the admin key; the key itself is not kept */
	char		*catalog_path;		/* resolved */
	char		*policies_dir;		/* resolved, may be NULL */
	char		*ledger_dir;
	int		 receipts;		/* sign and keep receipts; default on */
	int		 budgets_fail_open;	/* Redis away: serve without budgets; default 0 */
	int		 circuit_failures;	/* a source failing this often ... */
	long		 circuit_window_s;	/* ... within this many seconds ... */
	long		 circuit_cooldown_s;	/* ... rests this long; defaults 5, 30, 30 */
	long		 receipt_ttl_s;		/* nm:receipt:<id> lifetime; default 7 days */
	char		*spool_dir;		/* receipts wait here while Redis is away */
	int		 cache_mode;		/* CONFIG_CACHE_*; default exact */
	int		 cache_scope;		/* CONFIG_SCOPE_*; default project */
	long		 cache_ttl_s;		/* default 1 day */
	size_t		 cache_max_entry_bytes;	/* default 1 MiB */
	nm_nano		 cache_hit_rate;	/* of the fresh cost, nano units; default 0.1 */
	long		 cache_wait_ms;		/* single flight: wait this long for the first; 0 off */
	size_t		 spool_max_bytes;	/* per worker; default 256 MiB */
	char		*public_url;		/* may be NULL */
	char		*user;			/* drop privileges to this user; may be NULL */
	char		*log_level;		/* may be NULL */
	/* limits on what comes from outside */
	size_t		 max_body_bytes;	/* default 8 MiB */
	size_t		 max_header_bytes;	/* default 32 KiB */
	int		 max_json_depth;	/* default 64 */
	int		 max_json_tokens;	/* default 1000000 */
	size_t		 max_upstream_bytes;	/* default 64 MiB: one answer, one stream event */
	int		 max_connections;	/* per worker; default 4096 */
	size_t		 max_body_memory_bytes;	/* request bodies held by a worker; default 256 MiB */
	long		 header_timeout_ms;	/* a request head must be in within; default 60000 */
	long		 body_timeout_ms;	/* ... and its body; default 300000 */
	int		 max_connections_per_client;	/* per worker and client address; 0 (default) no cap */
	long		 shutdown_timeout_ms;	/* drain on SIGTERM/reload; default 30000 */
	long		 key_cache_ms;		/* per-worker key record cache; default 2000, max 5000 */
	long		 key_cache_max_stale_ms;	/* ... stands in for a failing Redis this long; default 60000 */
	long		 worker_timeout_ms;	/* a worker silent this long is killed; default 30000 */
	int		 metrics_require_admin;	/* GET /metrics only with the admin key; default 0 */
	struct provider_conf *providers;
	size_t		 nproviders;
	struct catalog	*catalog;
	struct policy_set *policies;		/* never NULL once loaded (policy.h) */
	unsigned	 generation;		/* set by the master */
};

/*
 * Load path and everything it names.  NULL with "FILE:LINE: message" in
 * err.  Caller frees with config_free().
 */
struct config	*config_load(const char *path, char *err, size_t errlen);
void		 config_free(struct config *);	/* NULL does nothing */
const struct provider_conf *config_provider(const struct config *, const char *name);
const char	*config_kind_name(enum provider_kind);
/* "openai", "deepseek", ...; "unknown" otherwise. */
const char	*config_dialect_name(enum provider_dialect);
/* The dialect of a base URL by its host (api.deepseek.com...); else openai. */
enum provider_dialect config_dialect_guess(const char *base_url);
/*
 * What nextmodeld needs beyond a valid file: the server secret when
 * receipts are on.  0, or -1 with "FILE: message" in err.
 */
int		 config_check_gateway(const struct config *, char *err, size_t errlen);
/* The default config path: $(sysconfdir)/nextmodel/nextmodel.yaml. */
const char	*config_default_path(void);

#endif
