/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Loads the main configuration (nextmodel.yaml) into one immutable struct
 * config: every key is a row of a table with its type, default and range,
 * secrets come from the environment, and the catalog and policy files it
 * names are loaded and cross-checked before anything is returned.
 */

#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "nextmodel.h"
#include "catalog.h"
#include "config.h"
#include "crypto.h"
#include "money.h"
#include "policy.h"
#include "redis.h"
#include "ytree.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif

#define CONFIG_DEFAULT_PATH	SYSCONFDIR "/nextmodel/nextmodel.yaml"
#define CONFIG_LEDGER_DIR	LOCALSTATEDIR "/lib/nextmodel/ledger"
#define CONFIG_SPOOL_DIR	LOCALSTATEDIR "/lib/nextmodel/spool"
#define CONFIG_NAME_MAX		64	/* provider names */
#define CONFIG_ENV_MAX		128	/* environment variable names */
#define CONFIG_URL_MAX		2048
#define CONFIG_MAX_KEYS		32	/* rows in one table */

#define KIB	1024L
#define MIB	(1024L * 1024L)
#define GIB	(1024L * 1024L * 1024L)

/* What a value must look like; each type has one handler below. */
enum ckey_type {
	CK_INT,		/* int in [min, max] */
	CK_LONG,	/* long in [min, max] */
	CK_SIZE,	/* size_t in [min, max] */
	CK_BOOL,
	CK_PATH,	/* relative to the config file's folder */
	CK_ENVNAME,	/* the name of an environment variable */
	CK_LISTEN,	/* host:port or [v6]:port */
	CK_REDIS,	/* redis://... or unix:///... */
	CK_URL,		/* http:// or https://, trailing slash stripped */
	CK_LOGLEVEL,
	CK_USER,
	CK_KIND,	/* provider wire format */
	CK_DIALECT,	/* which OpenAI-compatible source */
	CK_SECTION,	/* a nested table (limits:) */
	CK_PROVIDERS,
	CK_WORD,	/* one of the words in sdef ("a|b|c"), stored as its index */
	CK_FRACTION,	/* decimal text from 0 to 1, stored as nano units */
};

#define CF_REQUIRED	0x1
#define CF_NULLABLE	0x2	/* "key: ~" means unset */
#define CF_NCPU		0x4	/* default: number of online CPUs */

struct ckey {
	const char		*name;
	enum ckey_type		 type;
	size_t			 off;	/* field in struct config or provider_conf */
	long			 def;	/* numbers and booleans */
	const char		*sdef;	/* strings; NULL: no default */
	long			 min, max;
	int			 flags;
	const struct ckey	*sub;	/* CK_SECTION: its keys */
	size_t			 nsub;
};

/* One load in progress. */
struct cfgctx {
	struct config		*cfg;
	const char		*label;		/* "" or "provider x: " */
	const char		*path;		/* "" or "limits." */
	char			*err;
	size_t			 errlen;
};

typedef int (*ckey_fn)(struct cfgctx *, const struct ckey *, void *base,
    const struct ynode *);

static int	set_number(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_bool(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_path(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_envname(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_listen(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_redis(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_url(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_loglevel(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_user(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_kind(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_dialect(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_section(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_providers(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_word(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);
static int	set_fraction(struct cfgctx *, const struct ckey *, void *,
		    const struct ynode *);

/* Handlers by type, in enum ckey_type order. */
static const ckey_fn ckey_fns[] = {
	[CK_INT] = set_number,
	[CK_LONG] = set_number,
	[CK_SIZE] = set_number,
	[CK_BOOL] = set_bool,
	[CK_PATH] = set_path,
	[CK_ENVNAME] = set_envname,
	[CK_LISTEN] = set_listen,
	[CK_REDIS] = set_redis,
	[CK_URL] = set_url,
	[CK_LOGLEVEL] = set_loglevel,
	[CK_USER] = set_user,
	[CK_KIND] = set_kind,
	[CK_DIALECT] = set_dialect,
	[CK_SECTION] = set_section,
	[CK_PROVIDERS] = set_providers,
	[CK_WORD] = set_word,
	[CK_FRACTION] = set_fraction,
};

#define COFF(f)	offsetof(struct config, f)
#define POFF(f)	offsetof(struct provider_conf, f)

/* limits: what the gateway accepts from outside. */
static const struct ckey limit_keys[] = {
	{ "max_body_bytes", CK_SIZE, COFF(max_body_bytes), 8 * MIB, NULL,
	    1 * KIB, 1 * GIB, 0, NULL, 0 },
	{ "max_header_bytes", CK_SIZE, COFF(max_header_bytes), 32 * KIB, NULL,
	    1 * KIB, 1 * MIB, 0, NULL, 0 },
	{ "max_json_depth", CK_INT, COFF(max_json_depth), 64, NULL,
	    2, 1024, 0, NULL, 0 },
	{ "max_json_tokens", CK_INT, COFF(max_json_tokens), 1000000, NULL,
	    16, 100000000, 0, NULL, 0 },
	{ "max_upstream_bytes", CK_SIZE, COFF(max_upstream_bytes), 64 * MIB, NULL,
	    64 * KIB, 1 * GIB, 0, NULL, 0 },
	{ "max_connections", CK_INT, COFF(max_connections), 4096, NULL,
	    1, 1000000, 0, NULL, 0 },
	{ "max_body_memory_bytes", CK_SIZE, COFF(max_body_memory_bytes),
	    256 * MIB, NULL, 1 * KIB, 64 * GIB, 0, NULL, 0 },
	{ "header_timeout_ms", CK_LONG, COFF(header_timeout_ms), 60000, NULL,
	    100, 3600000, 0, NULL, 0 },
	{ "body_timeout_ms", CK_LONG, COFF(body_timeout_ms), 300000, NULL,
	    100, 86400000, 0, NULL, 0 },
	{ "max_connections_per_client", CK_INT,
	    COFF(max_connections_per_client), 0, NULL, 0, 1000000, 0, NULL, 0 },
};

_Static_assert(NM_NELEM(limit_keys) <= CONFIG_MAX_KEYS, "seen[] too small");

/* cache: the exact cache. */
static const struct ckey cache_keys[] = {
	{ "mode", CK_WORD, COFF(cache_mode), CONFIG_CACHE_EXACT,
	    "off|exact|canonical", 0, 0, 0, NULL, 0 },
	{ "scope", CK_WORD, COFF(cache_scope), CONFIG_SCOPE_PROJECT,
	    "project|team|global", 0, 0, 0, NULL, 0 },
	{ "ttl_s", CK_LONG, COFF(cache_ttl_s), 86400, NULL,
	    1, 400L * 86400, 0, NULL, 0 },
	{ "max_entry_bytes", CK_SIZE, COFF(cache_max_entry_bytes), 1 * MIB,
	    NULL, 1 * KIB, 64 * MIB, 0, NULL, 0 },
	{ "hit_rate", CK_FRACTION, COFF(cache_hit_rate), 100000000, NULL,
	    0, 0, 0, NULL, 0 },
	{ "wait_ms", CK_LONG, COFF(cache_wait_ms), 30000, NULL,
	    0, 600000, 0, NULL, 0 },
};

/* The top level of nextmodel.yaml. */
static const struct ckey config_keys[] = {
	{ "listen", CK_LISTEN, 0, 0, "127.0.0.1:8080", 0, 0, 0, NULL, 0 },
	{ "workers", CK_INT, COFF(workers), 0, NULL,
	    1, CONFIG_MAX_WORKERS, CF_NCPU, NULL, 0 },
	{ "threads", CK_INT, COFF(threads), 2, NULL, 1, 256, 0, NULL, 0 },
	{ "redis", CK_REDIS, COFF(redis_url), 0, "redis://127.0.0.1:6379/0",
	    0, 0, 0, NULL, 0 },
	{ "redis_timeout_ms", CK_LONG, COFF(redis_timeout_ms), 1000, NULL,
	    1, 60000, 0, NULL, 0 },
	{ "secret_env", CK_ENVNAME, COFF(secret_env), 0, "NEXTMODEL_SECRET",
	    0, 0, CF_NULLABLE, NULL, 0 },
	{ "admin_key_env", CK_ENVNAME, COFF(admin_key_env), 0,
	    "NEXTMODEL_ADMIN_KEY", 0, 0, CF_NULLABLE, NULL, 0 },
	{ "catalog", CK_PATH, COFF(catalog_path), 0, "models.yaml",
	    0, 0, 0, NULL, 0 },
	{ "policies", CK_PATH, COFF(policies_dir), 0, NULL,
	    0, 0, CF_NULLABLE, NULL, 0 },
	{ "ledger_dir", CK_PATH, COFF(ledger_dir), 0, CONFIG_LEDGER_DIR,
	    0, 0, 0, NULL, 0 },
	{ "receipts", CK_BOOL, COFF(receipts), 1, NULL, 0, 0, 0, NULL, 0 },
	{ "budgets_fail_open", CK_BOOL, COFF(budgets_fail_open), 0, NULL,
	    0, 0, 0, NULL, 0 },
	{ "circuit_failures", CK_INT, COFF(circuit_failures), 5, NULL,
	    1, 10000, 0, NULL, 0 },
	{ "circuit_window_s", CK_LONG, COFF(circuit_window_s), 30, NULL,
	    1, 3600, 0, NULL, 0 },
	{ "circuit_cooldown_s", CK_LONG, COFF(circuit_cooldown_s), 30, NULL,
	    1, 3600, 0, NULL, 0 },
	{ "receipt_ttl_s", CK_LONG, COFF(receipt_ttl_s), 7 * 86400, NULL,
	    60, 400L * 86400, 0, NULL, 0 },
	{ "spool_dir", CK_PATH, COFF(spool_dir), 0, CONFIG_SPOOL_DIR,
	    0, 0, 0, NULL, 0 },
	{ "spool_max_bytes", CK_SIZE, COFF(spool_max_bytes), 256 * MIB, NULL,
	    1 * MIB, 64 * GIB, 0, NULL, 0 },
	{ "public_url", CK_URL, COFF(public_url), 0, NULL,
	    0, 0, CF_NULLABLE, NULL, 0 },
	{ "user", CK_USER, COFF(user), 0, NULL, 0, 0, CF_NULLABLE, NULL, 0 },
	{ "log_level", CK_LOGLEVEL, COFF(log_level), 0, NULL,
	    0, 0, CF_NULLABLE, NULL, 0 },
	{ "limits", CK_SECTION, 0, 0, NULL, 0, 0, CF_NULLABLE,
	    limit_keys, NM_NELEM(limit_keys) },
	{ "cache", CK_SECTION, 0, 0, NULL, 0, 0, CF_NULLABLE,
	    cache_keys, NM_NELEM(cache_keys) },
	{ "shutdown_timeout_ms", CK_LONG, COFF(shutdown_timeout_ms), 30000, NULL,
	    0, 3600000, 0, NULL, 0 },
	{ "key_cache_ms", CK_LONG, COFF(key_cache_ms), 2000, NULL,
	    0, 5000, 0, NULL, 0 },
	{ "key_cache_max_stale_ms", CK_LONG, COFF(key_cache_max_stale_ms),
	    60000, NULL, 0, 86400000, 0, NULL, 0 },
	{ "worker_timeout_ms", CK_LONG, COFF(worker_timeout_ms), 30000, NULL,
	    1000, 600000, 0, NULL, 0 },
	{ "metrics_require_admin", CK_BOOL, COFF(metrics_require_admin), 0,
	    NULL, 0, 0, 0, NULL, 0 },
	{ "providers", CK_PROVIDERS, 0, 0, NULL, 0, 0, CF_NULLABLE, NULL, 0 },
};

/* One entry of providers:. */
static const struct ckey provider_keys[] = {
	{ "kind", CK_KIND, POFF(kind), 0, NULL, 0, 0, CF_REQUIRED, NULL, 0 },
	{ "base_url", CK_URL, POFF(base_url), 0, NULL, 0, 0, CF_REQUIRED,
	    NULL, 0 },
	/* After base_url: its default is guessed from the URL. */
	{ "dialect", CK_DIALECT, POFF(dialect), 0, NULL, 0, 0, 0, NULL, 0 },
	{ "api_key_env", CK_ENVNAME, POFF(api_key_env), 0, NULL,
	    0, 0, CF_NULLABLE, NULL, 0 },
	{ "connect_timeout_ms", CK_LONG, POFF(connect_timeout_ms), 10000, NULL,
	    1, 600000, 0, NULL, 0 },
	{ "timeout_ms", CK_LONG, POFF(timeout_ms), 600000, NULL,
	    1, 86400000, 0, NULL, 0 },
	{ "idle_timeout_ms", CK_LONG, POFF(idle_timeout_ms), 120000, NULL,
	    1, 86400000, 0, NULL, 0 },
	{ "stream_usage", CK_BOOL, POFF(stream_usage), 1, NULL, 0, 0, 0,
	    NULL, 0 },
};

static const struct {
	const char		*name;
	enum provider_kind	 kind;
} config_kinds[] = {
	{ "openai",	PROVIDER_OPENAI },
	{ "anthropic",	PROVIDER_ANTHROPIC },
	{ "gemini",	PROVIDER_GEMINI },
};

static const struct {
	const char		*name;
	enum provider_dialect	 dialect;
} config_dialects[] = {
	{ "openai",	DIALECT_OPENAI },
	{ "deepseek",	DIALECT_DEEPSEEK },
	{ "moonshot",	DIALECT_MOONSHOT },
	{ "dashscope",	DIALECT_DASHSCOPE },
	{ "ark",	DIALECT_ARK },
	{ "openrouter",	DIALECT_OPENROUTER },
	{ "mistral",	DIALECT_MISTRAL },
	{ "generic",	DIALECT_GENERIC },
};

/* Hosts (and their subdomains) whose dialect is known. */
static const struct {
	const char		*host;
	enum provider_dialect	 dialect;
} config_dialect_hosts[] = {
	{ "api.openai.com",	DIALECT_OPENAI },
	{ "deepseek.com",	DIALECT_DEEPSEEK },
	{ "moonshot.ai",	DIALECT_MOONSHOT },
	{ "moonshot.cn",	DIALECT_MOONSHOT },
	{ "aliyuncs.com",	DIALECT_DASHSCOPE },
	{ "volces.com",		DIALECT_ARK },
	{ "bytepluses.com",	DIALECT_ARK },
	{ "openrouter.ai",	DIALECT_OPENROUTER },
	{ "mistral.ai",		DIALECT_MISTRAL },
};

_Static_assert(NM_NELEM(config_keys) <= CONFIG_MAX_KEYS, "seen[] too small");
_Static_assert(NM_NELEM(provider_keys) <= CONFIG_MAX_KEYS, "seen[] too small");

static const char *const config_log_levels[] = {
	"error", "warn", "info", "debug",
};

/* "FILE:LINE: <label><path><key>: message"; always -1. */
static int NM_PRINTF(4, 5)
key_error(struct cfgctx *c, const struct ckey *k, const struct ynode *n,
    const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return (ytree_error(n, c->err, c->errlen, "%s%s%s: %s", c->label,
	    c->path, k->name, msg));
}

/* Where a field lives. */
static void *
field(void *base, const struct ckey *k)
{
	return ((char *)base + k->off);
}

/* The text of a value, or the key's default when v is NULL. */
static int
text_of(struct cfgctx *c, const struct ckey *k, const struct ynode *v,
    const char **out)
{
	*out = NULL;
	if (v == NULL) {
		*out = k->sdef;
		return (0);
	}
	if (v->type != YNODE_SCALAR || ytree_is_null(v))
		return (key_error(c, k, v, "expected a string"));
	*out = v->str;
	return (0);
}

/* 1 if a nullable key was given as "~" or left empty. */
static int
is_unset(const struct ckey *k, const struct ynode *v)
{
	return (v != NULL && (k->flags & CF_NULLABLE) && ytree_is_null(v));
}

/* Store a copy of s (or NULL) in a char * field. */
static int
set_text(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v, const char *s, size_t len)
{
	char	**dst = field(base, k);

	free(*dst);
	*dst = NULL;
	if (s == NULL)
		return (0);
	if ((*dst = strndup(s, len)) == NULL)
		return (key_error(c, k, v, "out of memory"));
	return (0);
}

/*
 * The text of a string key: 1 with *out set; 0 when it is unset (a null
 * or absent value without default: the field is cleared); -1 on error.
 */
static int
text_value(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v, const char **out)
{
	if (is_unset(k, v))
		return (set_text(c, k, base, v, NULL, 0));
	if (text_of(c, k, v, out) == -1)
		return (-1);
	if (*out == NULL)
		return (set_text(c, k, base, v, NULL, 0));
	return (1);
}

/* One of the words of k->sdef ("a|b|c"): its index in an int field. */
static int
set_word(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	const char *w, *end;
	size_t len;
	int i;

	*(int *)field(base, k) = (int)k->def;
	if (v == NULL)
		return (0);
	if (v->type != YNODE_SCALAR || ytree_is_null(v))
		return (key_error(c, k, v, "expected one of %s", k->sdef));
	for (i = 0, w = k->sdef; *w != '\0'; i++, w = *end ? end + 1 : end) {
		if ((end = strchr(w, '|')) == NULL)
			end = w + strlen(w);
		len = (size_t)(end - w);
		if (strlen(v->str) == len && strncmp(v->str, w, len) == 0) {
			*(int *)field(base, k) = i;
			return (0);
		}
	}
	return (key_error(c, k, v, "expected one of %s", k->sdef));
}

/* A decimal fraction from 0 to 1 ("0.1"), exact, in nano units. */
static int
set_fraction(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	nm_nano n = k->def;

	if (v != NULL && (v->type != YNODE_SCALAR || ytree_is_null(v) ||
	    money_parse(v->str, strlen(v->str), 0, &n) != 0 ||
	    n > 1000000000)) {
		return (key_error(c, k, v, "expected a decimal from 0 to 1, "
		    "such as 0.1"));
	}
	*(nm_nano *)field(base, k) = n;
	return (0);
}

/* Numbers: int, long or size_t fields, range-checked. */
static int
set_number(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	long	l = k->def;

	if (v == NULL && (k->flags & CF_NCPU)) {
		l = sysconf(_SC_NPROCESSORS_ONLN);
		l = NM_MAX(l, k->min);
		l = NM_MIN(l, k->max);
	} else if (v != NULL &&
	    ytree_long(v, k->min, k->max, &l, NULL, 0) == -1)
		return (key_error(c, k, v, "expected an integer from %ld to %ld",
		    k->min, k->max));
	if (k->type == CK_INT)
		*(int *)field(base, k) = (int)l;
	else if (k->type == CK_LONG)
		*(long *)field(base, k) = l;
	else
		*(size_t *)field(base, k) = (size_t)l;
	return (0);
}

/* Booleans: true/false, yes/no, on/off. */
static int
set_bool(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	int	b = (int)k->def;

	if (v != NULL && ytree_bool(v, &b, NULL, 0) == -1)
		return (key_error(c, k, v, "expected true or false"));
	*(int *)field(base, k) = b;
	return (0);
}

/* "dir/name" in new memory, or NULL.  Caller frees. */
static char *
path_join(const char *dir, const char *name)
{
	size_t	 dlen = strlen(dir), nlen = strlen(name);
	char	*p;

	if ((p = malloc(dlen + 1 + nlen + 1)) == NULL)
		return (NULL);
	memcpy(p, dir, dlen);
	p[dlen] = '/';
	memcpy(p + dlen + 1, name, nlen + 1);
	return (p);
}

/* A path; a relative one is taken from the config file's folder. */
static int
set_path(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	const char	*s;
	char		*full;
	size_t		 len;
	int		 rc;

	if ((rc = text_value(c, k, base, v, &s)) <= 0)
		return (rc);
	if (*s == '\0' || strlen(s) >= PATH_MAX)
		return (key_error(c, k, v, "expected a path"));
	full = s[0] == '/' ? strdup(s) : path_join(c->cfg->dir, s);
	if (full == NULL)
		return (key_error(c, k, v, "out of memory"));
	/* "policies/" and "policies" are the same folder. */
	len = strlen(full);
	while (len > 1 && full[len - 1] == '/')
		len--;
	rc = set_text(c, k, base, v, full, len);
	free(full);
	return (rc);
}

/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int
set_envname(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	const char	*s;
	size_t		 i, len;
	int		 rc;

	if ((rc = text_value(c, k, base, v, &s)) <= 0)
		return (rc);
	/* Never echo the value: it may be a key pasted in by mistake. */
	len = strlen(s);
	if (len == 0 || len > CONFIG_ENV_MAX || (s[0] >= '0' && s[0] <= '9'))
		goto bad;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			goto bad;
	}
	return (set_text(c, k, base, v, s, len));
bad:
	return (key_error(c, k, v, "expected the name of an environment "
	    "variable (letters, digits, _), not the secret itself"));
}

/* listen: IPv4:port or [IPv6]:port. */
static int
set_listen(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	struct config	*cfg = base;
	unsigned char	 addr[16];
	const char	*s, *host, *port, *end;
	char		 hbuf[64];
	size_t		 hlen;
	long		 p;
	int		 af;

	if (text_of(c, k, v, &s) == -1)
		return (-1);
	if (s[0] == '[') {
		host = s + 1;
		if ((end = strchr(host, ']')) == NULL || end[1] != ':')
			goto bad;
		port = end + 2;
		af = AF_INET6;
	} else {
		host = s;
		if ((end = strchr(s, ':')) == NULL || strchr(end + 1, ':') != NULL)
			goto bad;
		port = end + 1;
		af = AF_INET;
	}
	hlen = (size_t)(end - host);
	if (hlen == 0 || hlen >= sizeof(hbuf))
		goto bad;
	memcpy(hbuf, host, hlen);
	hbuf[hlen] = '\0';
	if (inet_pton(af, hbuf, addr) != 1)
		goto bad;
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5)
		goto bad;
	p = strtol(port, NULL, 10);
	if (p < 1 || p > 65535)
		return (key_error(c, k, v, "port must be from 1 to 65535"));
	free(cfg->listen_host);
	if ((cfg->listen_host = strdup(hbuf)) == NULL)
		return (key_error(c, k, v, "out of memory"));
	cfg->listen_port = (int)p;
	return (0);
bad:
	return (key_error(c, k, v, "expected IPV4:PORT or [IPV6]:PORT"));
}

/* 1 if s has a control character, a space or a non-ASCII byte. */
static int
has_bad_char(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return (1);
	return (0);
}

/*
 * redis: redis://[[user]:password@]host[:port][/db] or unix:///path.  The
 * Redis module's own parser has the last word, so that a URL passed here
 * is one the workers can use.
 */
static int
set_redis(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	static const char pfx[] = "redis URL: ";
	const char	*s, *why;
	char		 msg[200];

	if (text_of(c, k, v, &s) == -1)
		return (-1);
	/* The URL may hold a password: describe the problem, never echo it. */
	if (strlen(s) > CONFIG_URL_MAX || has_bad_char(s) ||
	    !((strncmp(s, "redis://", 8) == 0 && s[8] != '\0' && s[8] != '/') ||
	    (strncmp(s, "unix:///", 8) == 0 && s[8] != '\0')))
		return (key_error(c, k, v, "expected redis://HOST[:PORT][/DB] "
		    "or unix:///PATH"));
	if (redis_url_check(s, msg, sizeof(msg)) == -1) {
		why = msg;
		if (strncmp(why, pfx, sizeof(pfx) - 1) == 0)
			why += sizeof(pfx) - 1;
		return (key_error(c, k, v, "%s (expected redis://HOST[:PORT]"
		    "[/DB] or unix:///PATH[?db=N])", why));
	}
	return (set_text(c, k, base, v, s, strlen(s)));
}

/* An http:// or https:// URL without credentials; trailing '/' dropped. */
static int
set_url(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	const char	*s, *host;
	size_t		 len, hlen;
	int		 rc;

	if ((rc = text_value(c, k, base, v, &s)) <= 0)
		return (rc);
	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		goto bad;
	len = strlen(s);
	hlen = strcspn(host, "/");
	if (len > CONFIG_URL_MAX || hlen == 0 || has_bad_char(s) ||
	    strpbrk(s, "?#") != NULL)
		goto bad;
	if (memchr(host, '@', hlen) != NULL)
		return (key_error(c, k, v, "credentials do not belong in a URL"));
	while (len > 0 && s[len - 1] == '/')
		len--;
	return (set_text(c, k, base, v, s, len));
bad:
	return (key_error(c, k, v, "expected an http:// or https:// URL "
	    "without query or fragment"));
}

/* log_level: error, warn, info or debug. */
static int
set_loglevel(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	const char	*s;
	size_t		 i;
	int		 rc;

	if ((rc = text_value(c, k, base, v, &s)) <= 0)
		return (rc);
	for (i = 0; i < NM_NELEM(config_log_levels); i++)
		if (strcmp(s, config_log_levels[i]) == 0)
			return (set_text(c, k, base, v, s, strlen(s)));
	return (key_error(c, k, v, "expected error, warn, info or debug"));
}

/* user: a system user name to run as. */
static int
set_user(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	const char	*s;
	size_t		 len;
	int		 rc;

	if ((rc = text_value(c, k, base, v, &s)) <= 0)
		return (rc);
	len = strlen(s);
	if (len == 0 || len > 32 || s[0] == '-' || strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
	    != len)
		return (key_error(c, k, v, "expected a user name"));
	return (set_text(c, k, base, v, s, len));
}

/* kind: the wire format a provider speaks. */
static int
set_kind(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	const char	*s;
	size_t		 i;

	if (text_of(c, k, v, &s) == -1)
		return (-1);
	for (i = 0; s != NULL && i < NM_NELEM(config_kinds); i++) {
		if (strcmp(s, config_kinds[i].name) == 0) {
			*(enum provider_kind *)field(base, k) =
			    config_kinds[i].kind;
			return (0);
		}
	}
	return (key_error(c, k, v, "unknown kind \"%.32s\" (expected openai, "
	    "anthropic or gemini)", s));
}

/*
 * dialect: which OpenAI-compatible source; by default guessed from the
 * base_url already set (the table lists base_url first).
 */
static int
set_dialect(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	struct provider_conf	*p = base;
	const char		*s;
	size_t			 i;

	if (v == NULL) {
		p->dialect = config_dialect_guess(p->base_url);
		return (0);
	}
	if (text_of(c, k, v, &s) == -1)
		return (-1);
	for (i = 0; i < NM_NELEM(config_dialects); i++) {
		if (strcmp(s, config_dialects[i].name) == 0) {
			p->dialect = config_dialects[i].dialect;
			return (0);
		}
	}
	return (key_error(c, k, v, "unknown dialect \"%.32s\" (expected "
	    "openai, deepseek, moonshot, dashscope, ark, openrouter, mistral "
	    "or generic)", s));
}

/*
 * Apply a table to a mapping (NULL: all defaults): unknown keys are
 * refused, missing required ones reported at the mapping's line.
 */
static int
apply_table(struct cfgctx *c, const struct ckey *tab, size_t n, void *base,
    const struct ynode *map)
{
	unsigned char	 seen[CONFIG_MAX_KEYS];
	size_t		 i, j;

	memset(seen, 0, sizeof(seen));
	for (i = 0; map != NULL && i < map->n; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(map->keys[i]->str, tab[j].name) == 0)
				break;
		if (j == n)
			return (ytree_error(map->keys[i], c->err, c->errlen,
			    "%sunknown key \"%s%.64s\"", c->label, c->path,
			    map->keys[i]->str));
		seen[j] = 1;
		if (ckey_fns[tab[j].type](c, &tab[j], base, map->vals[i]) == -1)
			return (-1);
	}
	for (j = 0; j < n; j++) {
		if (seen[j])
			continue;
		if (tab[j].flags & CF_REQUIRED)
			return (ytree_error(map, c->err, c->errlen,
			    "%smissing %s%s", c->label, c->path, tab[j].name));
		if (ckey_fns[tab[j].type](c, &tab[j], base, NULL) == -1)
			return (-1);
	}
	return (0);
}

/* limits: and any other nested table of plain keys. */
static int
set_section(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	const char	*saved = c->path;
	char		 path[64];
	int		 rc;

	if (v != NULL && ytree_is_null(v))
		v = NULL;
	if (v != NULL && v->type != YNODE_MAP)
		return (key_error(c, k, v, "expected a mapping"));
	snprintf(path, sizeof(path), "%s%s.", c->path, k->name);
	c->path = path;
	rc = apply_table(c, k->sub, k->nsub, base, v);
	c->path = saved;
	return (rc);
}

/* 1 if s can name a provider: letters, digits, _ . - */
static int
provider_name_ok(const char *s)
{
	size_t	len = strlen(s);

	return (len > 0 && len <= CONFIG_NAME_MAX && strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
	    == len);
}

/* providers: name -> { kind, base_url, api_key_env, ... }. */
static int
set_providers(struct cfgctx *c, const struct ckey *k, void *base,
    const struct ynode *v)
{
	struct config		*cfg = base;
	struct provider_conf	*p;
	const struct ynode	*dn;
	const char		*saved = c->label;
	char			 label[CONFIG_NAME_MAX + 16];
	size_t			 i;
	int			 rc;

	if (v == NULL || ytree_is_null(v))
		return (0);
	if (v->type != YNODE_MAP)
		return (key_error(c, k, v, "expected a mapping of provider "
		    "names"));
	if (v->n == 0)
		return (0);
	if ((cfg->providers = calloc(v->n, sizeof(*cfg->providers))) == NULL)
		return (key_error(c, k, v, "out of memory"));
	for (i = 0; i < v->n; i++) {
		p = &cfg->providers[cfg->nproviders++];
		if (!provider_name_ok(v->keys[i]->str))
			return (key_error(c, k, v->keys[i], "\"%.64s\" is not a "
			    "provider name (letters, digits, _ . -, at most %d)",
			    v->keys[i]->str, CONFIG_NAME_MAX));
		if ((p->name = strdup(v->keys[i]->str)) == NULL)
			return (key_error(c, k, v, "out of memory"));
		p->line = v->keys[i]->line;
		if (v->vals[i]->type != YNODE_MAP)
			return (ytree_error(v->vals[i], c->err, c->errlen,
			    "provider %s: expected a mapping", p->name));
		snprintf(label, sizeof(label), "provider %s: ", p->name);
		c->label = label;
		rc = apply_table(c, provider_keys, NM_NELEM(provider_keys), p,
		    v->vals[i]);
		c->label = saved;
		if (rc == -1)
			return (-1);
		if (p->kind != PROVIDER_OPENAI &&
		    (dn = ytree_get(v->vals[i], "dialect")) != NULL)
			return (ytree_error(dn, c->err, c->errlen, "provider %s: "
			    "dialect: only a kind openai provider has one",
			    p->name));
	}
	return (0);
}

/* A copy of the environment variable's value, or NULL if unset or empty. */
static char *
env_copy(const char *name, int *oom)
{
	const char	*val;
	char		*copy;

	if (name == NULL || (val = getenv(name)) == NULL || *val == '\0')
		return (NULL);
	if ((copy = strdup(val)) == NULL)
		*oom = 1;
	return (copy);
}

/* 1 if s holds a control character (CR and LF included). */
static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s == 0x7f)
			return (1);
	return (0);
}

/*
 * A secret goes into HTTP headers, where CR or LF would start a header of
 * its own (a key file with a trailing newline does it by accident).
 * Refuse it, at the key that names the variable (or the top of the file
 * when the default applies), with the name and never the value.
 */
static int
check_env_secret(struct cfgctx *c, const struct ynode *where,
    const char *label, const char *key, const char *name)
{
	const char	*val;

	if (name == NULL || (val = getenv(name)) == NULL ||
	    !has_control(val))
		return (0);
	return (ytree_error(where, c->err, c->errlen, "%s%s: the environment "
	    "variable %s holds a control character (CR, LF or another); a "
	    "secret must be one line of printable text", label, key, name));
}

/* Every secret from the environment is free of control characters. */
static int
check_secrets(struct cfgctx *c, const struct ynode *root)
{
	const struct config	*cfg = c->cfg;
	const struct ynode	*provs, *pn, *where;
	char			 label[CONFIG_NAME_MAX + 16];
	size_t			 i;

	where = ytree_get(root, "secret_env");
	if (check_env_secret(c, where ? where : root, "", "secret_env",
	    cfg->secret_env) == -1)
		return (-1);
	where = ytree_get(root, "admin_key_env");
	if (check_env_secret(c, where ? where : root, "", "admin_key_env",
	    cfg->admin_key_env) == -1)
		return (-1);
	provs = ytree_get(root, "providers");
	for (i = 0; i < cfg->nproviders; i++) {
		pn = ytree_get(provs, cfg->providers[i].name);
		where = ytree_get(pn, "api_key_env");
		snprintf(label, sizeof(label), "provider %s: ",
		    cfg->providers[i].name);
		if (check_env_secret(c, where ? where : (pn ? pn : root), label,
		    "api_key_env", cfg->providers[i].api_key_env) == -1)
			return (-1);
	}
	return (0);
}

/*
 * The secrets, from the environment.  The admin key is kept only as its
 * SHA-256; nothing of it is copied.
 */
static int
load_secrets(struct cfgctx *c, const struct ynode *root)
{
	struct config	*cfg = c->cfg;
	const char	*admin;
	size_t		 i;
	int		 oom = 0;

	if (check_secrets(c, root) == -1)
		return (-1);
	cfg->secret = env_copy(cfg->secret_env, &oom);
	if (cfg->admin_key_env != NULL &&
	    (admin = getenv(cfg->admin_key_env)) != NULL && *admin != '\0') {
		crypto_sha256(admin, strlen(admin), cfg->admin_key_hash);
		cfg->has_admin_key = 1;
	}
	for (i = 0; i < cfg->nproviders; i++)
		cfg->providers[i].api_key =
		    env_copy(cfg->providers[i].api_key_env, &oom);
	if (oom)
		return (ytree_error(root, c->err, c->errlen, "out of memory"));
	return (0);
}

/* Limits that depend on each other. */
static int
check_limits(struct cfgctx *c, const struct ynode *root)
{
	const struct config *cfg = c->cfg;
	const struct ynode *lim, *n;

	lim = ytree_get(root, "limits");
	if (cfg->max_body_memory_bytes < cfg->max_body_bytes) {
		n = lim != NULL ? ytree_get(lim, "max_body_memory_bytes") : NULL;
		return (ytree_error(n != NULL ? n : lim != NULL ? lim : root,
		    c->err, c->errlen, "limits.max_body_memory_bytes (%zu) must "
		    "be at least limits.max_body_bytes (%zu)",
		    cfg->max_body_memory_bytes, cfg->max_body_bytes));
	}
	return (0);
}

/* Every model must be served by a configured provider. */
static int
check_model_providers(struct cfgctx *c)
{
	const struct catalog	*cat = c->cfg->catalog;
	const struct model	*m;
	size_t			 i;

	for (i = 0; i < cat->n; i++) {
		m = &cat->models[i];
		if (config_provider(c->cfg, m->provider) != NULL)
			continue;
		snprintf(c->err, c->errlen, "%s:%u: model %s: unknown provider %s",
		    cat->path, m->line, m->id, m->provider);
		return (-1);
	}
	return (0);
}

/*
 * The policy files: policy_load() compiles each *.yaml in policies_dir, in
 * order, against the catalog (nextmodel-policy(5)); no folder, no rules.
 */
static int
load_policies(struct cfgctx *c, const struct ynode *root)
{
	const char	*dir = c->cfg->policies_dir;
	const struct ynode *where = ytree_get(root, "policies");
	struct stat	 st;

	if (dir != NULL && stat(dir, &st) == -1)
		return (ytree_error(where, c->err, c->errlen, "policies: %s: %s",
		    dir, strerror(errno)));
	if (dir != NULL && !S_ISDIR(st.st_mode))
		return (ytree_error(where, c->err, c->errlen,
		    "policies: %s: not a directory", dir));
	if ((c->cfg->policies = policy_load(dir, c->cfg->catalog, c->err,
	    c->errlen)) == NULL)
		return (-1);
	return (0);
}

/* The absolute folder of path.  Caller frees. */
static char *
folder_of(const char *path)
{
	const char	*slash = strrchr(path, '/');
	char		*dir, *real;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return (NULL);
	real = realpath(dir, NULL);
	free(dir);
	return (real);
}

/* Load path, its catalog and policies.  Caller frees with config_free(). */
struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct cfgctx	 c;
	struct config	*cfg = NULL;
	struct ynode	*root;
	char		 dummy[1];

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if ((root = ytree_load_file(path, err, errlen)) == NULL)
		return (NULL);
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->path = strdup(path)) == NULL) {
		ytree_error(root, err, errlen, "out of memory");
		goto fail;
	}
	if ((cfg->dir = folder_of(path)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	c.cfg = cfg;
	c.label = "";
	c.path = "";
	c.err = err;
	c.errlen = errlen;
	if (root->type != YNODE_MAP) {
		ytree_error(root, err, errlen, "top level must be a mapping");
		goto fail;
	}
	if (apply_table(&c, config_keys, NM_NELEM(config_keys), cfg,
	    root) == -1)
		goto fail;
	if (load_secrets(&c, root) == -1)
		goto fail;
	if (check_limits(&c, root) == -1)
		goto fail;
	if ((cfg->catalog = catalog_load(cfg->catalog_path, err,
	    errlen)) == NULL)
		goto fail;
	if (check_model_providers(&c) == -1)
		goto fail;
	if (load_policies(&c, root) == -1)
		goto fail;
	ytree_free(root);
	return (cfg);
fail:
	ytree_free(root);
	config_free(cfg);
	return (NULL);
}

/* Free a secret string after wiping it. */
static void
free_secret(char *s)
{
	if (s == NULL)
		return;
	crypto_cleanse(s, strlen(s));
	free(s);
}

/* Free a config and all it owns; secrets are wiped first. */
void
config_free(struct config *cfg)
{
	struct provider_conf	*p;
	size_t			 i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nproviders; i++) {
		p = &cfg->providers[i];
		free(p->name);
		free(p->base_url);
		free(p->api_key_env);
		free_secret(p->api_key);
	}
	free(cfg->providers);
	policy_free(cfg->policies);
	catalog_free(cfg->catalog);
	free(cfg->path);
	free(cfg->dir);
	free(cfg->listen_host);
	free(cfg->redis_url);
	free(cfg->secret_env);
	free_secret(cfg->secret);
	free(cfg->admin_key_env);
	crypto_cleanse(cfg->admin_key_hash, sizeof(cfg->admin_key_hash));
	free(cfg->catalog_path);
	free(cfg->policies_dir);
	free(cfg->ledger_dir);
	free(cfg->spool_dir);
	free(cfg->public_url);
	free(cfg->user);
	free(cfg->log_level);
	free(cfg);
}

/* The provider called name, or NULL.  Owned by the config. */
const struct provider_conf *
config_provider(const struct config *cfg, const char *name)
{
	size_t	i;

	if (cfg == NULL || name == NULL)
		return (NULL);
	for (i = 0; i < cfg->nproviders; i++)
		if (strcmp(cfg->providers[i].name, name) == 0)
			return (&cfg->providers[i]);
	return (NULL);
}

/* "openai", "anthropic" or "gemini"; "unknown" otherwise. */
const char *
config_kind_name(enum provider_kind kind)
{
	size_t	i;

	for (i = 0; i < NM_NELEM(config_kinds); i++)
		if (config_kinds[i].kind == kind)
			return (config_kinds[i].name);
	return ("unknown");
}

/* "openai", "deepseek", ...; "unknown" otherwise. */
const char *
config_dialect_name(enum provider_dialect d)
{
	size_t	i;

	for (i = 0; i < NM_NELEM(config_dialects); i++)
		if (config_dialects[i].dialect == d)
			return (config_dialects[i].name);
	return ("unknown");
}

/*
 * The dialect of a source by the host of its URL: a known host or one of
 * its subdomains (dashscope-intl.aliyuncs.com, ark.cn-beijing.volces.com).
 * Any other host is taken for OpenAI itself.
 */
enum provider_dialect
config_dialect_guess(const char *base_url)
{
	const char	*h, *host;
	size_t		 hlen, n, i;

	if (base_url == NULL)
		return (DIALECT_OPENAI);
	if ((host = strstr(base_url, "://")) != NULL)
		host += 3;
	else
		host = base_url;
	hlen = strcspn(host, "/:");
	for (i = 0; i < NM_NELEM(config_dialect_hosts); i++) {
		h = config_dialect_hosts[i].host;
		n = strlen(h);
		if (hlen < n || strncasecmp(host + hlen - n, h, n) != 0)
			continue;
		if (hlen == n || host[hlen - n - 1] == '.')
			return (config_dialect_hosts[i].dialect);
	}
	return (DIALECT_OPENAI);
}

/* $(sysconfdir)/nextmodel/nextmodel.yaml. */
const char *
config_default_path(void)
{
	return (CONFIG_DEFAULT_PATH);
}

/* nextmodeld's own needs: the server secret signs receipts. */
int
config_check_gateway(const struct config *cfg, char *err, size_t errlen)
{
	if (cfg->receipts && (cfg->secret == NULL || cfg->secret[0] == '\0')) {
		snprintf(err, errlen, "%s: receipts are on, and they are signed "
		    "with the server secret, but %s is not set in the "
		    "environment (set it, or `receipts: false`)", cfg->path,
		    cfg->secret_env != NULL ? cfg->secret_env :
		    "the variable named by secret_env");
		return -1;
	}
	return 0;
}
