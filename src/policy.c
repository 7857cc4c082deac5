/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Routing policies: the compiler from the *.yaml files of policies/ (nextmodel-policy(5))
 * to an immutable rule set bound to one catalog, and policy_decide(), the
 * pure function from a request's facts and labels to the ordered targets.
 * Every mistake in a file is a "FILE:LINE: message" from policy_load().
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"
#include "facts.h"
#include "money.h"
#include "policy.h"
#include "ytree.h"

#define RULE_NAME_MAX	64
#define MAX_STEPS	8
#define ORDER_DEFAULT	50

/* What a request may need, as rules name it (needs:). */
enum need {
	NEED_TOOLS = 1 << 0, NEED_JSON = 1 << 1, NEED_JSON_SCHEMA = 1 << 2,
	NEED_VISION = 1 << 3, NEED_STREAMING = 1 << 4, NEED_EMBEDDINGS = 1 << 5,
};

static const struct {
	const char	*name;
	unsigned	 bit;
} needs_table[] = {
	{ "tools", NEED_TOOLS }, { "json", NEED_JSON },
	{ "json_schema", NEED_JSON_SCHEMA }, { "vision", NEED_VISION },
	{ "streaming", NEED_STREAMING }, { "embeddings", NEED_EMBEDDINGS },
};

static const char *const strategy_names[] = {
	"ordered", "cheapest", "fastest", "weighted"
};

static const struct {
	const char	*name;
	int		 mode;
} cache_modes[] = {
	{ "exact", CONFIG_CACHE_EXACT }, { "canonical", CONFIG_CACHE_CANONICAL },
	{ "off", CONFIG_CACHE_OFF },
};

static const char *const drop_names[] = {
	NULL, "unknown", "unfit", "context", "denied", "region", "no_key",
	"retries", "duplicate"
};

/* A list of glob patterns (match: workload, key, ...). */
struct plist {
	char		**v;
	size_t		  n;
};

/* A model pattern of match: model: and the catalog model it names, if any. */
struct pmodel {
	char		 *pat;
	const struct model *m;
};

/* A budget step: from this fraction used on, use other models or refuse. */
struct pstep {
	double		  at;
	unsigned	  line;
	char		 *refusal;		/* refuse: text, or NULL */
	const struct model *use[POLICY_MAX_MODELS];	/* NULL: requested */
	size_t		  nuse;
};

struct prule {
	char		 *name;
	char		 *description;
	const char	 *file;			/* the pfile's path */
	unsigned	  line;
	/* match: */
	struct plist	  workload, key, project, team, environment;
	struct pmodel	 *models;
	size_t		  nmodels;
	unsigned	  needs;
	long		  min_context, max_context;	/* -1: no bound */
	double		  min_budget, max_budget;	/* -1: no bound */
	int		  region;			/* -1: any */
	/* what it decides */
	const struct model *cands[POLICY_MAX_MODELS];	/* NULL: requested */
	int		  weights[POLICY_MAX_MODELS];
	size_t		  ncands;
	int		  has_cands;
	enum policy_strategy strategy;
	int		  has_strategy;
	struct plist	  allow, deny;
	int		  src_region;			/* -1: any */
	long		  timeout_ms, deadline_ms;
	int		  retries;
	int		  cache_mode;
	struct pstep	  steps[MAX_STEPS];
	size_t		  nsteps;
};

struct pfile {
	char		 *path;
	long		  order;
	struct prule	 *rules;
	size_t		  n;
};

struct policy_set {
	const struct catalog *cat;
	struct pfile	 *files;		/* sorted by order, then name */
	size_t		  nfiles;
	struct prule	**rules;		/* every rule, in the order tried */
	size_t		  nrules;
};

/* The compiler's state for one file. */
struct pctx {
	const struct catalog *cat;
	struct policy_set *set;
	struct prule	 *rule;			/* being compiled */
	char		 *err;
	size_t		  errlen;
};

/* "FILE:LINE: rule NAME: " + fmt into err; -1. */
static int NM_PRINTF(3, 4)
rule_error(struct pctx *c, const struct ynode *n, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ytree_error(n, c->err, c->errlen, "rule %s: %s",
	    c->rule->name != NULL ? c->rule->name : "?", msg);
}

/* 1 if s is a rule name: 1..64 of letters, digits, _ . - */
static int
valid_name(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > RULE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

/* A non-empty string scalar's text, or NULL. */
static const char *
scalar_text(const struct ynode *n)
{
	if (n == NULL || n->type != YNODE_SCALAR || n->len == 0 ||
	    (!n->quoted && ytree_is_null(n)))
		return NULL;
	return n->str;
}

/* Append a copy of s to l: 0 or -1 on OOM. */
static int
plist_add(struct plist *l, const char *s)
{
	char	**v;

	if ((v = reallocarray(l->v, l->n + 1, sizeof(*v))) == NULL)
		return -1;
	l->v = v;
	if ((v[l->n] = strdup(s)) == NULL)
		return -1;
	l->n++;
	return 0;
}

static void
plist_free(struct plist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/*
 * Call fn for each text of n: one scalar or a list of them.  what names
 * the key in messages.
 */
static int
each_text(struct pctx *c, const struct ynode *n, const char *what,
    int (*fn)(struct pctx *, const struct ynode *, const char *, void *),
    void *arg)
{
	const char	*s;
	size_t		 i;

	if (n->type == YNODE_SCALAR) {
		if ((s = scalar_text(n)) == NULL)
			return rule_error(c, n, "%s: expected a name or a list "
			    "of names", what);
		return fn(c, n, s, arg);
	}
	if (n->type != YNODE_SEQ || n->n == 0)
		return rule_error(c, n, "%s: expected a name or a list of "
		    "names", what);
	for (i = 0; i < n->n; i++) {
		if ((s = scalar_text(n->vals[i])) == NULL)
			return rule_error(c, n->vals[i], "%s: expected a name",
			    what);
		if (fn(c, n->vals[i], s, arg) == -1)
			return -1;
	}
	return 0;
}

/* each_text() callback: add to a struct plist. */
static int
add_pattern(struct pctx *c, const struct ynode *n, const char *s, void *arg)
{
	if (plist_add(arg, s) == -1)
		return rule_error(c, n, "out of memory");
	return 0;
}

/* A whole number without sign, unit or junk: 0 or -1. */
static int
parse_count(const struct ynode *n, long max, long *out)
{
	char	*end;
	long	 v;

	if (n->type != YNODE_SCALAR || n->quoted || n->len == 0 ||
	    n->str[0] < '0' || n->str[0] > '9')
		return -1;
	errno = 0;
	v = strtol(n->str, &end, 10);
	if (*end != '\0' || errno == ERANGE || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "30s", "500ms", "2m" (at most an hour) to milliseconds: 0 or -1. */
static int
parse_duration(const struct ynode *n, long *ms)
{
	static const struct { const char *unit; long ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 },
	};
	char	*end;
	long	 v;
	size_t	 i;

	if (n->type != YNODE_SCALAR || n->len == 0 || n->str[0] < '0' ||
	    n->str[0] > '9')
		return -1;
	errno = 0;
	v = strtol(n->str, &end, 10);
	if (errno == ERANGE || v <= 0 || v > 3600000)
		return -1;
	for (i = 0; i < NM_NELEM(units); i++)
		if (strcmp(end, units[i].unit) == 0) {
			if (v * units[i].ms > 3600000)
				return -1;
			*ms = v * units[i].ms;
			return 0;
		}
	return -1;
}

/* "0.8" or "80%" to a fraction in [0, 10]: 0 or -1. */
static int
parse_fraction(const struct ynode *n, double *out)
{
	char	*end;
	double	 v;

	if (n->type != YNODE_SCALAR || n->quoted || n->len == 0 ||
	    !((n->str[0] >= '0' && n->str[0] <= '9') || n->str[0] == '.'))
		return -1;
	errno = 0;
	v = strtod(n->str, &end);
	if (errno == ERANGE || end == n->str)
		return -1;
	if (strcmp(end, "%") == 0)
		v /= 100;
	else if (*end != '\0')
		return -1;
	if (!isfinite(v) || v < 0 || v > 10)
		return -1;
	*out = v;
	return 0;
}

/* "cn" or "global" to enum model_region: 0 or -1. */
static int
parse_region(const struct ynode *n, int *out)
{
	const char *s = scalar_text(n);

	if (s != NULL && strcmp(s, "cn") == 0)
		*out = REGION_CN;
	else if (s != NULL && strcmp(s, "global") == 0)
		*out = REGION_GLOBAL;
	else
		return -1;
	return 0;
}

/* A list of models (models:, use:): catalog names or "requested". */
static int
parse_models(struct pctx *c, const struct ynode *n, const char *what,
    const struct model **out, size_t *nout)
{
	const struct ynode *v;
	const struct model *m;
	const char	*s;
	char		 hint[CATALOG_HINT_MAX];
	size_t		 i, j, cnt;

	cnt = n->type == YNODE_SEQ ? n->n : 1;
	if ((n->type != YNODE_SEQ && n->type != YNODE_SCALAR) || cnt == 0)
		return rule_error(c, n, "%s: expected a model or a list of "
		    "models", what);
	if (cnt > POLICY_MAX_MODELS)
		return rule_error(c, n, "%s: at most %d models", what,
		    POLICY_MAX_MODELS);
	for (i = 0; i < cnt; i++) {
		v = n->type == YNODE_SEQ ? n->vals[i] : n;
		if ((s = scalar_text(v)) == NULL)
			return rule_error(c, v, "%s: expected a model name",
			    what);
		if (strcmp(s, "requested") == 0)
			m = NULL;
		else if ((m = catalog_find(c->cat, s)) == NULL)
			return rule_error(c, v, "%s: unknown model \"%s\"%s",
			    what, s, catalog_hint(c->cat, s, hint,
			    sizeof(hint)));
		for (j = 0; j < i; j++)
			if (out[j] == m)
				return rule_error(c, v, "%s: %s listed twice",
				    what, m != NULL ? m->id : "requested");
		out[i] = m;
	}
	*nout = cnt;
	return 0;
}

/* match: workload/key/project/team/environment. */
static int
m_labels(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	static const struct { const char *name; size_t off; } labels[] = {
		{ "workload", offsetof(struct prule, workload) },
		{ "key", offsetof(struct prule, key) },
		{ "project", offsetof(struct prule, project) },
		{ "team", offsetof(struct prule, team) },
		{ "environment", offsetof(struct prule, environment) },
	};
	char	what[32];
	size_t	i;

	for (i = 0; i < NM_NELEM(labels); i++)
		if (strcmp(k->str, labels[i].name) == 0) {
			snprintf(what, sizeof(what), "match: %s",
			    labels[i].name);
			return each_text(c, v, what, add_pattern,
			    (char *)c->rule + labels[i].off);
		}
	return rule_error(c, k, "match: %s: internal error", k->str);
}

/* ASCII letters of s in lower case, in place. */
static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* each_text() callback for match: model: */
static int
add_model_pattern(struct pctx *c, const struct ynode *n, const char *s,
    void *arg)
{
	struct prule	*r = arg;
	struct pmodel	*v;

	if ((v = reallocarray(r->models, r->nmodels + 1, sizeof(*v))) == NULL)
		return rule_error(c, n, "out of memory");
	r->models = v;
	if ((v[r->nmodels].pat = strdup(s)) == NULL)
		return rule_error(c, n, "out of memory");
	lower(v[r->nmodels].pat);
	v[r->nmodels].m = catalog_find(c->cat, s);
	r->nmodels++;
	return 0;
}

/* match: model */
static int
m_model(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	(void)k;
	return each_text(c, v, "match: model", add_model_pattern, c->rule);
}

/* each_text() callback for match: needs: */
static int
add_need(struct pctx *c, const struct ynode *n, const char *s, void *arg)
{
	unsigned	*needs = arg;
	size_t		 i;

	for (i = 0; i < NM_NELEM(needs_table); i++)
		if (strcmp(s, needs_table[i].name) == 0) {
			*needs |= needs_table[i].bit;
			return 0;
		}
	return rule_error(c, n, "match: needs: unknown capability \"%s\" "
	    "(expected tools, json, json_schema, vision, streaming or "
	    "embeddings)", s);
}

/* match: needs */
static int
m_needs(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	(void)k;
	return each_text(c, v, "match: needs", add_need, &c->rule->needs);
}

/* match: min_context / max_context */
static int
m_context(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	long	n;

	if (parse_count(v, 100000000L, &n) == -1)
		return rule_error(c, v, "match: %s: expected a number of "
		    "tokens", k->str);
	if (strcmp(k->str, "min_context") == 0)
		c->rule->min_context = n;
	else
		c->rule->max_context = n;
	return 0;
}

/* match: min_budget_used / max_budget_used */
static int
m_budget(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	double	f;

	if (parse_fraction(v, &f) == -1)
		return rule_error(c, v, "match: %s: expected a fraction such "
		    "as 0.8 or 80%%", k->str);
	if (strcmp(k->str, "min_budget_used") == 0)
		c->rule->min_budget = f;
	else
		c->rule->max_budget = f;
	return 0;
}

/* match: region */
static int
m_region(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	(void)k;
	if (parse_region(v, &c->rule->region) == -1)
		return rule_error(c, v, "match: region: expected cn or global");
	return 0;
}

static const struct {
	const char	*name;
	int		(*fn)(struct pctx *, const struct ynode *,
			    const struct ynode *);
} match_keys[] = {
	{ "workload", m_labels }, { "key", m_labels }, { "project", m_labels },
	{ "team", m_labels }, { "environment", m_labels },
	{ "model", m_model }, { "needs", m_needs },
	{ "min_context", m_context }, { "max_context", m_context },
	{ "min_budget_used", m_budget }, { "max_budget_used", m_budget },
	{ "region", m_region },
};

/* rule: match */
static int
r_match(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	size_t	i, j;

	(void)k;
	if (v->type != YNODE_MAP)
		return rule_error(c, v, "match: expected a mapping (workload:, "
		    "model:, needs: ...)");
	for (i = 0; i < v->n; i++) {
		for (j = 0; j < NM_NELEM(match_keys); j++)
			if (strcmp(v->keys[i]->str, match_keys[j].name) == 0)
				break;
		if (j == NM_NELEM(match_keys))
			return rule_error(c, v->keys[i], "match: unknown key "
			    "\"%s\" (expected workload, key, project, team, "
			    "environment, model, needs, min_context, "
			    "max_context, min_budget_used, max_budget_used or "
			    "region)", v->keys[i]->str);
		if (match_keys[j].fn(c, v->keys[i], v->vals[i]) == -1)
			return -1;
	}
	return 0;
}

/* rule: name (read before the others; here it only needs to be a string) */
static int
r_name(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	(void)c;
	(void)k;
	(void)v;
	return 0;
}

/* rule: description */
static int
r_description(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	const char *s = scalar_text(v);

	(void)k;
	if (s == NULL)
		return rule_error(c, v, "description: expected text");
	if ((c->rule->description = strdup(s)) == NULL)
		return rule_error(c, v, "out of memory");
	return 0;
}

/* rule: models */
static int
r_models(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	(void)k;
	c->rule->has_cands = 1;
	return parse_models(c, v, "models", c->rule->cands, &c->rule->ncands);
}

/* rule: weights (model: percent), for strategy weighted */
static int
r_weights(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	struct prule	*r = c->rule;
	const struct model *m;
	char		 hint[CATALOG_HINT_MAX];
	long		 w, sum = 0;
	size_t		 i, j;

	(void)k;
	if (r->has_cands)
		return rule_error(c, v, "weights: give models: or weights:, "
		    "not both");
	if (v->type != YNODE_MAP || v->n == 0)
		return rule_error(c, v, "weights: expected a mapping of model "
		    "to percent");
	if (v->n > POLICY_MAX_MODELS)
		return rule_error(c, v, "weights: at most %d models",
		    POLICY_MAX_MODELS);
	for (i = 0; i < v->n; i++) {
		if ((m = catalog_find(c->cat, v->keys[i]->str)) == NULL)
			return rule_error(c, v->keys[i], "weights: unknown model "
			    "\"%s\"%s", v->keys[i]->str, catalog_hint(c->cat,
			    v->keys[i]->str, hint, sizeof(hint)));
		for (j = 0; j < i; j++)
			if (r->cands[j] == m)
				return rule_error(c, v->keys[i], "weights: %s "
				    "listed twice", m->id);
		if (parse_count(v->vals[i], 100, &w) == -1)
			return rule_error(c, v->vals[i], "weights: %s: expected "
			    "a percent from 0 to 100", m->id);
		r->cands[i] = m;
		r->weights[i] = (int)w;
		sum += w;
	}
	r->ncands = v->n;
	r->has_cands = 2;
	if (sum != 100)
		return rule_error(c, v, "weights: add up to %ld, not 100", sum);
	return 0;
}

/* rule: strategy */
static int
r_strategy(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	const char	*s = scalar_text(v);
	size_t		 i;

	(void)k;
	for (i = 0; s != NULL && i < NM_NELEM(strategy_names); i++)
		if (strcmp(s, strategy_names[i]) == 0) {
			c->rule->strategy = (enum policy_strategy)i;
			c->rule->has_strategy = 1;
			return 0;
		}
	return rule_error(c, v, "strategy: expected ordered, cheapest, fastest "
	    "or weighted");
}

/* each_text() callback: a provider some catalog model names. */
static int
add_provider(struct pctx *c, const struct ynode *n, const char *s, void *arg)
{
	size_t	i;

	for (i = 0; i < c->cat->n; i++)
		if (strcmp(c->cat->models[i].provider, s) == 0)
			return add_pattern(c, n, s, arg);
	return rule_error(c, n, "sources: unknown provider \"%s\" (no model "
	    "of the catalog uses it)", s);
}

/* rule: sources: {allow, deny, region} */
static int
r_sources(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	const char	*key;
	size_t		 i;

	(void)k;
	if (v->type != YNODE_MAP)
		return rule_error(c, v, "sources: expected a mapping (allow:, "
		    "deny:, region:)");
	for (i = 0; i < v->n; i++) {
		key = v->keys[i]->str;
		if (strcmp(key, "allow") == 0) {
			if (each_text(c, v->vals[i], "sources: allow",
			    add_provider, &c->rule->allow) == -1)
				return -1;
		} else if (strcmp(key, "deny") == 0) {
			if (each_text(c, v->vals[i], "sources: deny",
			    add_provider, &c->rule->deny) == -1)
				return -1;
		} else if (strcmp(key, "region") == 0) {
			if (parse_region(v->vals[i], &c->rule->src_region) == -1)
				return rule_error(c, v->vals[i], "sources: "
				    "region: expected cn or global");
		} else
			return rule_error(c, v->keys[i], "sources: unknown key "
			    "\"%s\" (expected allow, deny or region)", key);
	}
	return 0;
}

/* rule: timeout / deadline */
static int
r_duration(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	long	ms;

	if (parse_duration(v, &ms) == -1)
		return rule_error(c, v, "%s: expected a duration such as 30s, "
		    "500ms or 2m (at most 60m)", k->str);
	if (strcmp(k->str, "timeout") == 0)
		c->rule->timeout_ms = ms;
	else
		c->rule->deadline_ms = ms;
	return 0;
}

/* rule: retries */
static int
r_retries(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	long	n;

	(void)k;
	if (parse_count(v, POLICY_MAX_MODELS - 1, &n) == -1)
		return rule_error(c, v, "retries: expected a number from 0 to "
		    "%d", POLICY_MAX_MODELS - 1);
	c->rule->retries = (int)n;
	return 0;
}

/* rule: cache */
static int
r_cache(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	const char	*s = scalar_text(v);
	size_t		 i;

	(void)k;
	/* YAML reads a plain off as false: take the word as written. */
	for (i = 0; s != NULL && i < NM_NELEM(cache_modes); i++)
		if (strcmp(s, cache_modes[i].name) == 0) {
			c->rule->cache_mode = cache_modes[i].mode;
			return 0;
		}
	return rule_error(c, v, "cache: expected exact, canonical or off");
}

/* One step of budget: {at, use | refuse}. */
static int
parse_step(struct pctx *c, const struct ynode *v, struct pstep *st)
{
	const struct ynode *at = NULL, *use = NULL, *refuse = NULL;
	const char	*s;
	size_t		 i;

	if (v->type != YNODE_MAP)
		return rule_error(c, v, "budget: expected a step such as {at: "
		    "80%%, use: MODEL} or {at: 100%%, refuse: REASON}");
	for (i = 0; i < v->n; i++) {
		s = v->keys[i]->str;
		if (strcmp(s, "at") == 0)
			at = v->vals[i];
		else if (strcmp(s, "use") == 0)
			use = v->vals[i];
		else if (strcmp(s, "refuse") == 0)
			refuse = v->vals[i];
		else
			return rule_error(c, v->keys[i], "budget: unknown key "
			    "\"%s\" (expected at, use or refuse)", s);
	}
	st->line = v->line;
	if (at == NULL)
		return rule_error(c, v, "budget: step without at:");
	if (parse_fraction(at, &st->at) == -1)
		return rule_error(c, at, "budget: at: expected a fraction such "
		    "as 0.8 or 80%%");
	if ((use == NULL) == (refuse == NULL))
		return rule_error(c, v, "budget: the step at %g needs use: or "
		    "refuse:, one of them", st->at);
	if (use != NULL)
		return parse_models(c, use, "budget: use", st->use, &st->nuse);
	if ((s = scalar_text(refuse)) == NULL)
		return rule_error(c, refuse, "budget: refuse: expected the "
		    "reason given to the client");
	if ((st->refusal = strdup(s)) == NULL)
		return rule_error(c, refuse, "out of memory");
	return 0;
}

/* rule: budget: a list of steps, rising */
static int
r_budget(struct pctx *c, const struct ynode *k, const struct ynode *v)
{
	struct prule	*r = c->rule;
	size_t		 i;

	(void)k;
	if (v->type != YNODE_SEQ || v->n == 0)
		return rule_error(c, v, "budget: expected a list of steps");
	if (v->n > MAX_STEPS)
		return rule_error(c, v, "budget: at most %d steps", MAX_STEPS);
	for (i = 0; i < v->n; i++) {
		if (parse_step(c, v->vals[i], &r->steps[i]) == -1)
			return -1;
		r->nsteps = i + 1;
		if (i > 0 && r->steps[i].at <= r->steps[i - 1].at)
			return rule_error(c, v->vals[i], "budget: steps must "
			    "rise (%g after %g)", r->steps[i].at,
			    r->steps[i - 1].at);
	}
	return 0;
}

static const struct {
	const char	*name;
	int		(*fn)(struct pctx *, const struct ynode *,
			    const struct ynode *);
} rule_keys[] = {
	{ "name", r_name }, { "description", r_description },
	{ "match", r_match }, { "models", r_models }, { "weights", r_weights },
	{ "strategy", r_strategy }, { "sources", r_sources },
	{ "timeout", r_duration }, { "deadline", r_duration },
	{ "retries", r_retries }, { "cache", r_cache }, { "budget", r_budget },
};

/* The rule called name among those compiled so far, or NULL. */
static const struct prule *
find_rule(const struct policy_set *set, const struct pfile *cur,
    size_t ncur, const char *name)
{
	size_t	i, j;

	for (i = 0; i < set->nfiles; i++)
		for (j = 0; j < set->files[i].n; j++)
			if (strcmp(set->files[i].rules[j].name, name) == 0)
				return &set->files[i].rules[j];
	for (j = 0; j < ncur; j++)
		if (strcmp(cur->rules[j].name, name) == 0)
			return &cur->rules[j];
	return NULL;
}

/* Compile one rule of f from v into f->rules[f->n]. */
static int
compile_rule(struct pctx *c, struct pfile *f, size_t idx,
    const struct ynode *v)
{
	struct prule	*r = &f->rules[f->n];
	const struct prule *dup;
	const struct ynode *name;
	size_t		 i, j;

	r->file = f->path;
	r->line = v->line;
	r->min_context = r->max_context = -1;
	r->min_budget = r->max_budget = -1;
	r->region = r->src_region = -1;
	r->retries = -1;
	r->cache_mode = POLICY_CACHE_INHERIT;
	c->rule = r;
	if (v->type != YNODE_MAP)
		return ytree_error(v, c->err, c->errlen, "rule %zu: expected a "
		    "mapping (name:, match:, models: ...)", idx + 1);
	if ((name = ytree_get(v, "name")) == NULL)
		return ytree_error(v, c->err, c->errlen, "rule %zu: missing "
		    "name", idx + 1);
	if (scalar_text(name) == NULL || !valid_name(name->str))
		return ytree_error(name, c->err, c->errlen, "rule %zu: name: "
		    "expected letters, digits, _ . - (at most %d)", idx + 1,
		    RULE_NAME_MAX);
	if ((dup = find_rule(c->set, f, f->n, name->str)) != NULL)
		return ytree_error(name, c->err, c->errlen, "rule %s: already "
		    "defined at %s:%u", name->str, dup->file, dup->line);
	if ((r->name = strdup(name->str)) == NULL)
		return ytree_error(v, c->err, c->errlen, "out of memory");
	f->n++;		/* from here policy_free() releases it */
	for (i = 0; i < v->n; i++) {
		for (j = 0; j < NM_NELEM(rule_keys); j++)
			if (strcmp(v->keys[i]->str, rule_keys[j].name) == 0)
				break;
		if (j == NM_NELEM(rule_keys))
			return rule_error(c, v->keys[i], "unknown key \"%s\" "
			    "(expected name, description, match, models, "
			    "strategy, weights, sources, timeout, retries, "
			    "deadline, cache or budget)", v->keys[i]->str);
		if (rule_keys[j].fn(c, v->keys[i], v->vals[i]) == -1)
			return -1;
	}
	if (r->strategy == POLICY_WEIGHTED && r->has_cands != 2)
		return rule_error(c, v, "strategy weighted needs weights: "
		    "(model: percent)");
	if (r->has_cands == 2 && r->strategy != POLICY_WEIGHTED)
		return rule_error(c, v, "weights: only with strategy: weighted");
	if (r->min_context >= 0 && r->max_context >= 0 &&
	    r->min_context > r->max_context)
		return rule_error(c, v, "match: min_context is above "
		    "max_context");
	if (!r->has_cands) {
		r->cands[0] = NULL;	/* the model asked for */
		r->ncands = 1;
	}
	return 0;
}

/* Compile the tree of one file into f.  0 or -1 with err. */
static int
compile_file(struct pctx *c, struct pfile *f, const struct ynode *root)
{
	const struct ynode *rules = NULL, *k;
	long		 order = ORDER_DEFAULT;
	size_t		 i;

	f->order = ORDER_DEFAULT;
	if (root->type != YNODE_MAP)
		return ytree_error(root, c->err, c->errlen,
		    "top level must be a mapping");
	for (i = 0; i < root->n; i++) {
		k = root->keys[i];
		if (strcmp(k->str, "rules") == 0)
			rules = root->vals[i];
		else if (strcmp(k->str, "order") == 0) {
			if (parse_count(root->vals[i], 1000, &order) == -1)
				return ytree_error(root->vals[i], c->err,
				    c->errlen, "order: expected a number from "
				    "0 to 1000");
			f->order = order;
		} else
			return ytree_error(k, c->err, c->errlen, "unknown key "
			    "\"%s\" (expected order or rules)", k->str);
	}
	if (rules == NULL || (rules->type == YNODE_SCALAR &&
	    ytree_is_null(rules)))
		return 0;
	if (rules->type != YNODE_SEQ)
		return ytree_error(rules, c->err, c->errlen,
		    "rules: expected a list of rules");
	if (rules->n == 0)
		return 0;
	if ((f->rules = calloc(rules->n, sizeof(*f->rules))) == NULL)
		return ytree_error(rules, c->err, c->errlen, "out of memory");
	for (i = 0; i < rules->n; i++)
		if (compile_rule(c, f, i, rules->vals[i]) == -1)
			return -1;
	return 0;
}

/* Files by order, then by name (the order given). */
static int
file_cmp(const void *a, const void *b)
{
	const struct pfile *fa = a, *fb = b;

	if (fa->order != fb->order)
		return fa->order < fb->order ? -1 : 1;
	return strcmp(fa->path, fb->path);
}

/* Free one rule's memory. */
static void
rule_free(struct prule *r)
{
	size_t	i;

	free(r->name);
	free(r->description);
	plist_free(&r->workload);
	plist_free(&r->key);
	plist_free(&r->project);
	plist_free(&r->team);
	plist_free(&r->environment);
	for (i = 0; i < r->nmodels; i++)
		free(r->models[i].pat);
	free(r->models);
	plist_free(&r->allow);
	plist_free(&r->deny);
	for (i = 0; i < r->nsteps; i++)
		free(r->steps[i].refusal);
}

/* Free a set and everything it owns. */
void
policy_free(struct policy_set *set)
{
	size_t	i, j;

	if (set == NULL)
		return;
	for (i = 0; i < set->nfiles; i++) {
		for (j = 0; j < set->files[i].n; j++)
			rule_free(&set->files[i].rules[j]);
		free(set->files[i].rules);
		free(set->files[i].path);
	}
	free(set->files);
	free(set->rules);
	free(set);
}

/* Compile the files named, in order.  Caller frees with policy_free(). */
struct policy_set *
policy_load_files(const char *const *paths, size_t n,
    const struct catalog *cat, char *err, size_t errlen)
{
	struct policy_set *set;
	struct pctx	 c;
	struct pfile	*f;
	struct ynode	*root;
	size_t		 i, j, k;
	char		 dummy[1];

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (n > 0 && (set->files = calloc(n, sizeof(*set->files))) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	set->cat = cat;
	c.cat = cat;
	c.set = set;
	c.err = err;
	c.errlen = errlen;
	for (i = 0; i < n; i++) {
		f = &set->files[i];
		if ((f->path = strdup(paths[i])) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if ((root = ytree_load_file(paths[i], err, errlen)) == NULL)
			goto fail;
		/* Count it first, so a failure frees what it compiled. */
		set->nfiles = i + 1;
		if (compile_file(&c, f, root) == -1) {
			ytree_free(root);
			goto fail;
		}
		ytree_free(root);
		set->nrules += f->n;
	}
	if (set->nfiles > 1)
		qsort(set->files, set->nfiles, sizeof(*set->files), file_cmp);
	/* Rules point at their file's path: fix them after the sort. */
	for (i = 0; i < set->nfiles; i++)
		for (j = 0; j < set->files[i].n; j++)
			set->files[i].rules[j].file = set->files[i].path;
	if (set->nrules > 0 &&
	    (set->rules = calloc(set->nrules, sizeof(*set->rules))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0, k = 0; i < set->nfiles; i++)
		for (j = 0; j < set->files[i].n; j++)
			set->rules[k++] = &set->files[i].rules[j];
	return set;
fail:
	if (set != NULL && set->nfiles < n && set->files != NULL &&
	    set->files[set->nfiles].path != NULL)
		set->nfiles++;	/* the file whose path was copied */
	policy_free(set);
	return NULL;
}

/* scandir() filter: *.yaml, not hidden. */
static int
yaml_filter(const struct dirent *d)
{
	size_t	len = strlen(d->d_name);

	return d->d_name[0] != '.' && len > 5 &&
	    strcmp(d->d_name + len - 5, ".yaml") == 0;
}

/* Compile every *.yaml of dir.  Caller frees with policy_free(). */
struct policy_set *
policy_load(const char *dir, const struct catalog *cat, char *err,
    size_t errlen)
{
	struct policy_set *set = NULL;
	struct dirent	**list = NULL;
	char		**paths = NULL;
	size_t		 len;
	int		 i, n = 0;

	if (dir == NULL)
		return policy_load_files(NULL, 0, cat, err, errlen);
	if ((n = scandir(dir, &list, yaml_filter, alphasort)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	if ((paths = calloc((size_t)n + 1, sizeof(*paths))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		len = strlen(dir) + strlen(list[i]->d_name) + 2;
		if ((paths[i] = malloc(len)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		snprintf(paths[i], len, "%s%s%s", dir,
		    dir[0] != '\0' && dir[strlen(dir) - 1] == '/' ? "" : "/",
		    list[i]->d_name);
	}
	set = policy_load_files((const char *const *)paths, (size_t)n, cat,
	    err, errlen);
out:
	for (i = 0; i < n; i++) {
		free(list[i]);
		if (paths != NULL)
			free(paths[i]);
	}
	free(list);
	free(paths);
	return set;
}

/* How many rules. */
size_t
policy_nrules(const struct policy_set *set)
{
	return set != NULL ? set->nrules : 0;
}

/* How many files. */
size_t
policy_nfiles(const struct policy_set *set)
{
	return set != NULL ? set->nfiles : 0;
}

/* "ordered", ... */
const char *
policy_strategy_name(enum policy_strategy s)
{
	if ((size_t)s >= NM_NELEM(strategy_names))
		return "?";
	return strategy_names[s];
}

/* "unknown", "context", ... */
const char *
policy_drop_name(enum policy_drop_why w)
{
	if ((size_t)w == 0 || (size_t)w >= NM_NELEM(drop_names))
		return "?";
	return drop_names[w];
}

/* --- deciding ----------------------------------------------------------- */

/* What matching needs to know of the request, computed once. */
struct mctx {
	const struct policy_input *in;
	const struct catalog *cat;
	const struct model *req;	/* the catalog model asked for, or NULL */
	unsigned	 needs;
};

/* The needs of a request, as rules name them. */
static unsigned
request_needs(const struct facts *f)
{
	unsigned	n = 0;

	if (f->kind == FACTS_EMBEDDINGS)
		return NEED_EMBEDDINGS;
	if (f->tools || (f->est.caps & CAP_TOOLS))
		n |= NEED_TOOLS;
	if (f->est.caps & CAP_JSON)
		n |= NEED_JSON;
	if (f->json_schema)
		n |= NEED_JSON_SCHEMA;
	if (f->est.caps & CAP_VISION)
		n |= NEED_VISION;
	if (f->stream || (f->est.caps & CAP_STREAMING))
		n |= NEED_STREAMING;
	return n;
}

/* "a, b" of the names of need bits into out. */
static char *
needs_text(unsigned needs, char *out, size_t len)
{
	size_t	i, o = 0;

	out[0] = '\0';
	for (i = 0; i < NM_NELEM(needs_table); i++)
		if ((needs & needs_table[i].bit) && o < len)
			o += (size_t)snprintf(out + o, len - o, "%s%s",
			    o > 0 ? ", " : "", needs_table[i].name);
	if (o == 0)
		snprintf(out, len, "nothing special");
	return out;
}

/* Append to a bounded text: "; " between parts. */
static void NM_PRINTF(3, 4)
say(char *buf, size_t len, const char *fmt, ...)
{
	size_t	o = strlen(buf);
	va_list	ap;

	if (o > 0 && o + 2 < len) {
		memcpy(buf + o, "; ", 3);
		o += 2;
	}
	if (o >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
}

/* Pattern index of l matching s (glob), or -1. */
static int
plist_match(const struct plist *l, const char *s, int flags)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (fnmatch(l->v[i], s, flags) == 0)
			return (int)i;
	return -1;
}

/*
 * Does r match?  1 with the reasons in why, 0 with the first condition
 * that failed in why.
 */
static int
rule_match(const struct prule *r, const struct mctx *x, char *why, size_t len)
{
	static const struct { const char *name; size_t loff, ioff; } labels[] = {
		{ "workload", offsetof(struct prule, workload),
		    offsetof(struct policy_input, workload) },
		{ "key", offsetof(struct prule, key),
		    offsetof(struct policy_input, key_id) },
		{ "project", offsetof(struct prule, project),
		    offsetof(struct policy_input, project) },
		{ "team", offsetof(struct prule, team),
		    offsetof(struct policy_input, team) },
		{ "environment", offsetof(struct prule, environment),
		    offsetof(struct policy_input, environment) },
	};
	const struct facts *f = x->in->facts;
	const struct plist *l;
	const char	*s;
	char		 nt[128], lname[FACTS_MODEL_MAX];
	double		 used = x->in->budget_used;
	size_t		 i;
	int		 k;

	why[0] = '\0';
	for (i = 0; i < NM_NELEM(labels); i++) {
		l = (const struct plist *)((const char *)r + labels[i].loff);
		if (l->n == 0)
			continue;
		s = *(const char *const *)((const char *)x->in + labels[i].ioff);
		if (s == NULL || s[0] == '\0') {
			why[0] = '\0';
			say(why, len, "no %s given (the rule wants %s)",
			    labels[i].name, l->v[0]);
			return 0;
		}
		if ((k = plist_match(l, s, 0)) == -1) {
			why[0] = '\0';
			say(why, len, "%s %s is not %s%s", labels[i].name, s,
			    l->v[0], l->n > 1 ? " or the others listed" : "");
			return 0;
		}
		say(why, len, "%s %s is %s", labels[i].name, s, l->v[k]);
	}
	if (r->nmodels > 0) {
		snprintf(lname, sizeof(lname), "%s", f->model);
		lower(lname);
		for (i = 0; i < r->nmodels; i++)
			if ((r->models[i].m != NULL && r->models[i].m == x->req) ||
			    fnmatch(r->models[i].pat, lname, 0) == 0)
				break;
		if (i == r->nmodels) {
			why[0] = '\0';
			say(why, len, "model %s is not %s%s", f->model,
			    r->models[0].pat, r->nmodels > 1 ?
			    " or the others listed" : "");
			return 0;
		}
		say(why, len, "model %s is %s", f->model, r->models[i].pat);
	}
	if (r->needs != 0) {
		if ((x->needs & r->needs) != r->needs) {
			why[0] = '\0';
			say(why, len, "the request does not need %s",
			    needs_text(r->needs & ~x->needs, nt, sizeof(nt)));
			return 0;
		}
		say(why, len, "needs %s", needs_text(r->needs, nt, sizeof(nt)));
	}
	if (r->min_context >= 0 || r->max_context >= 0) {
		if ((r->min_context >= 0 && f->est.input_tokens <
		    r->min_context) || (r->max_context >= 0 &&
		    f->est.input_tokens > r->max_context)) {
			why[0] = '\0';
			say(why, len, "about %lld input tokens, outside %ld..%ld",
			    (long long)f->est.input_tokens, r->min_context < 0 ?
			    0 : r->min_context, r->max_context);
			return 0;
		}
		say(why, len, "about %lld input tokens",
		    (long long)f->est.input_tokens);
	}
	if (r->min_budget >= 0 || r->max_budget >= 0) {
		if (used < 0) {
			why[0] = '\0';
			say(why, len, "budget use not known");
			return 0;
		}
		if ((r->min_budget >= 0 && used < r->min_budget) ||
		    (r->max_budget >= 0 && used > r->max_budget)) {
			why[0] = '\0';
			say(why, len, "budget %.0f%% used, outside %.0f%%..%.0f%%",
			    used * 100, r->min_budget < 0 ? 0 :
			    r->min_budget * 100, r->max_budget < 0 ? 1000 :
			    r->max_budget * 100);
			return 0;
		}
		say(why, len, "budget %.0f%% used", used * 100);
	}
	if (r->region >= 0) {
		if (x->req == NULL || (int)x->req->region != r->region) {
			why[0] = '\0';
			say(why, len, "the model asked for is not served in "
			    "region %s", catalog_region_name(r->region));
			return 0;
		}
		say(why, len, "region %s", catalog_region_name(r->region));
	}
	if (why[0] == '\0')
		say(why, len, "it matches every request");
	return 1;
}

/* Record a dropped candidate. */
static void NM_PRINTF(5, 6)
drop(struct policy_decision *d, const struct model *m, const char *name,
    enum policy_drop_why w, const char *fmt, ...)
{
	struct policy_drop *p;
	va_list		 ap;

	if (d->ndropped == POLICY_MAX_DROPPED)
		return;
	p = &d->dropped[d->ndropped++];
	p->model = m;
	p->name = name;
	p->why = w;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
}

/* The measured or prior latency of m. */
static void
target_latency(const struct policy_input *in, struct policy_target *t)
{
	size_t	i;

	t->latency_ms = t->model->latency_ms;
	t->latency_measured = 0;
	for (i = 0; in->latency != NULL && i < in->nlatency; i++) {
		if (strcmp(in->latency[i].model, t->model->id) != 0 ||
		    strcmp(in->latency[i].provider, t->provider) != 0)
			continue;
		if (in->latency[i].samples >= POLICY_LATENCY_SAMPLES) {
			t->latency_ms = in->latency[i].ms;
			t->latency_measured = 1;
		}
		return;
	}
}

/* 1 if provider has a key (or keys are not checked). */
static int
has_key(const struct policy_input *in, const char *provider)
{
	const char *const *p;

	if (in->keyed_providers == NULL)
		return 1;
	for (p = in->keyed_providers; *p != NULL; p++)
		if (strcmp(*p, provider) == 0)
			return 1;
	return 0;
}

/* Filter one candidate into a target, or drop it with the reason. */
static void
consider(const struct prule *r, const struct mctx *x, const struct model *m,
    int weight, struct policy_decision *d)
{
	const struct facts *f = x->in->facts;
	struct policy_target *t;
	char		 why[192];
	size_t		 i;

	if (m == NULL && (m = x->req) == NULL) {
		drop(d, NULL, f->model, POLICY_DROP_UNKNOWN, "no model called "
		    "'%s' in the catalog", f->model);
		return;
	}
	for (i = 0; i < d->ntargets; i++)
		if (d->targets[i].model == m) {
			drop(d, m, m->id, POLICY_DROP_DUPLICATE, "already a "
			    "candidate");
			return;
		}
	if (facts_fit(&f->est, f->kind == FACTS_EMBEDDINGS, m, NULL, why,
	    sizeof(why)) == -1) {
		drop(d, m, m->id, strncmp(why, "context window", 14) == 0 ?
		    POLICY_DROP_CONTEXT : POLICY_DROP_UNFIT, "%s", why);
		return;
	}
	if (r != NULL && r->src_region >= 0 && (int)m->region != r->src_region) {
		drop(d, m, m->id, POLICY_DROP_REGION, "source %s is in region "
		    "%s; the rule allows %s only", m->provider,
		    catalog_region_name(m->region),
		    catalog_region_name(r->src_region));
		return;
	}
	if (r != NULL && plist_match(&r->deny, m->provider, 0) != -1) {
		drop(d, m, m->id, POLICY_DROP_DENIED, "source %s is denied",
		    m->provider);
		return;
	}
	if (r != NULL && r->allow.n > 0 &&
	    plist_match(&r->allow, m->provider, 0) == -1) {
		drop(d, m, m->id, POLICY_DROP_DENIED, "source %s is not "
		    "allowed", m->provider);
		return;
	}
	if (!has_key(x->in, m->provider)) {
		drop(d, m, m->id, POLICY_DROP_NO_KEY, "no API key configured "
		    "for %s", m->provider);
		return;
	}
	t = &d->targets[d->ntargets++];
	t->model = m;
	t->provider = m->provider;
	t->cost_ok = estimate_cost(&f->est, m, &t->cost) == 0;
	t->weight = weight;
	target_latency(x->in, t);
}

/* Sort key comparison for cheapest/fastest: <0 if a goes first. */
static int
target_cmp(enum policy_strategy s, const struct policy_target *a,
    const struct policy_target *b)
{
	if (s == POLICY_FASTEST)
		return a->latency_ms < b->latency_ms ? -1 :
		    a->latency_ms > b->latency_ms;
	if (s == POLICY_WEIGHTED)
		return b->weight - a->weight;
	if (a->cost_ok != b->cost_ok)
		return a->cost_ok ? -1 : 1;
	if (a->cost.expected != b->cost.expected)
		return a->cost.expected < b->cost.expected ? -1 : 1;
	return a->cost.worst < b->cost.worst ? -1 : a->cost.worst >
	    b->cost.worst;
}

/* Stable insertion sort of t[0..n) (at most POLICY_MAX_TARGETS). */
static void
sort_targets(enum policy_strategy s, struct policy_target *t, size_t n)
{
	struct policy_target tmp;
	size_t		 i, j;

	for (i = 1; i < n; i++) {
		tmp = t[i];
		for (j = i; j > 0 && target_cmp(s, &tmp, &t[j - 1]) < 0; j--)
			t[j] = t[j - 1];
		t[j] = tmp;
	}
}

/*
 * Weighted: the draw picks one target by weight among those kept; it
 * goes first, the others follow by weight as fallbacks.
 */
static void
pick_weighted(struct policy_decision *d, double draw)
{
	struct policy_target tmp;
	double		 point, cum = 0;
	long		 total = 0;
	size_t		 i, pick;

	sort_targets(POLICY_WEIGHTED, d->targets, d->ntargets);
	for (i = 0; i < d->ntargets; i++)
		total += d->targets[i].weight;
	if (total == 0 || d->ntargets == 0)
		return;
	if (!(draw >= 0) || draw >= 1)
		draw = 0;
	point = draw * (double)total;
	pick = d->ntargets - 1;
	for (i = 0; i < d->ntargets; i++) {
		cum += d->targets[i].weight;
		if (point < cum) {
			pick = i;
			break;
		}
	}
	tmp = d->targets[pick];
	memmove(&d->targets[1], &d->targets[0], pick * sizeof(tmp));
	d->targets[0] = tmp;
}

/* Decide for one request.  Fills out; returns out->outcome. */
enum policy_outcome
policy_decide(const struct policy_set *set, const struct policy_input *in,
    struct policy_decision *d)
{
	const struct prule *r = NULL;
	const struct pstep *st = NULL;
	const struct model *const *cands;
	const int	*weights = NULL;
	struct mctx	 x;
	static const struct model *const requested[1] = { NULL };
	size_t		 i, ncands, keep;
	int		 only_requested;

	memset(d, 0, sizeof(*d));
	d->retries = -1;
	d->cache_mode = POLICY_CACHE_INHERIT;
	d->budget_step = -1;
	x.in = in;
	x.cat = set->cat;
	x.req = catalog_find(x.cat, in->facts->model);
	x.needs = request_needs(in->facts);
	for (i = 0; i < set->nrules; i++)
		if (rule_match(set->rules[i], &x, d->matched,
		    sizeof(d->matched))) {
			r = set->rules[i];
			break;
		}
	if (r == NULL) {
		d->matched[0] = '\0';
		cands = requested;
		ncands = 1;
	} else {
		d->rule = r->name;
		d->file = r->file;
		d->line = r->line;
		d->strategy = r->strategy;
		d->timeout_ms = r->timeout_ms;
		d->deadline_ms = r->deadline_ms;
		d->retries = r->retries;
		d->cache_mode = r->cache_mode;
		cands = r->cands;
		ncands = r->ncands;
		if (r->strategy == POLICY_WEIGHTED)
			weights = r->weights;
		for (i = 0; in->budget_used >= 0 && i < r->nsteps; i++)
			if (in->budget_used >= r->steps[i].at)
				st = &r->steps[i];
	}
	if (st != NULL) {
		d->budget_step = st->at;
		if (st->refusal != NULL) {
			d->outcome = POLICY_REFUSED;
			snprintf(d->message, sizeof(d->message), "%s",
			    st->refusal);
			return d->outcome;
		}
		d->substituted = 1;
		cands = st->use;
		ncands = st->nuse;
		weights = NULL;
		if (d->strategy == POLICY_WEIGHTED)
			d->strategy = POLICY_ORDERED;
	}
	only_requested = ncands == 1 && cands[0] == NULL;
	for (i = 0; i < ncands; i++)
		consider(r, &x, cands[i], weights != NULL ? weights[i] : 0, d);
	if (d->strategy == POLICY_WEIGHTED)
		pick_weighted(d, in->draw);
	else if (d->strategy != POLICY_ORDERED)
		sort_targets(d->strategy, d->targets, d->ntargets);
	if (d->retries >= 0 && d->ntargets > (size_t)d->retries + 1) {
		keep = (size_t)d->retries + 1;
		for (i = keep; i < d->ntargets; i++)
			drop(d, d->targets[i].model, d->targets[i].model->id,
			    POLICY_DROP_RETRIES, "beyond retries: %d",
			    d->retries);
		d->ntargets = keep;
	}
	if (d->ntargets > 0)
		d->outcome = POLICY_OK;
	else if (only_requested && d->ndropped == 1 &&
	    d->dropped[0].why == POLICY_DROP_UNKNOWN) {
		d->outcome = POLICY_UNKNOWN_MODEL;
		snprintf(d->message, sizeof(d->message), "The model '%.200s' does "
		    "not exist.", in->facts->model);
	} else {
		d->outcome = POLICY_NO_TARGET;
		snprintf(d->message, sizeof(d->message), "No model can serve "
		    "this request%s%s: %s%s%s.", r != NULL ? " under policy " :
		    "", r != NULL ? r->name : "", d->ndropped > 0 ?
		    d->dropped[0].name : "no candidates", d->ndropped > 0 ?
		    " " : "", d->ndropped > 0 ? d->dropped[0].reason : "");
	}
	return d->outcome;
}

/* --- explaining --------------------------------------------------------- */

/* "30s" or "1500ms" into out. */
static const char *
duration_text(long ms, char *out, size_t len)
{
	if (ms % 60000 == 0)
		snprintf(out, len, "%ldm", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(out, len, "%lds", ms / 1000);
	else
		snprintf(out, len, "%ldms", ms);
	return out;
}

/* The request and its labels, as the decision saw them. */
static int
explain_request(const struct policy_input *in, struct buf *b)
{
	const struct facts *f = in->facts;
	char		 nt[128];

	buf_appendf(b, "request: model %s, %s, about %lld input tokens, "
	    "max_tokens %lld; needs %s\n", f->model, f->kind ==
	    FACTS_EMBEDDINGS ? "embeddings" : f->stream ? "chat, streamed" :
	    "chat", (long long)f->est.input_tokens,
	    (long long)f->est.max_tokens,
	    needs_text(request_needs(f), nt, sizeof(nt)));
	buf_appendf(b, "labels: key %s, project %s, team %s, environment %s, "
	    "workload %s\n",
	    in->key_id != NULL && in->key_id[0] ? in->key_id : "-",
	    in->project != NULL && in->project[0] ? in->project : "-",
	    in->team != NULL && in->team[0] ? in->team : "-",
	    in->environment != NULL && in->environment[0] ?
	    in->environment : "-",
	    in->workload != NULL && in->workload[0] ? in->workload : "-");
	if (in->budget_used >= 0)
		return buf_appendf(b, "budget: %.1f%% used\n",
		    in->budget_used * 100);
	return buf_appends(b, "budget: use not known\n");
}

/* One kept target's line. */
static int
explain_target(const struct policy_decision *d, size_t i, struct buf *b)
{
	const struct policy_target *t = &d->targets[i];
	char		 exp[48], worst[48];

	if (t->cost_ok) {
		money_format(t->cost.expected, exp, sizeof(exp));
		money_format(t->cost.worst, worst, sizeof(worst));
	} else {
		snprintf(exp, sizeof(exp), "?");
		snprintf(worst, sizeof(worst), "?");
	}
	buf_appendf(b, "  %zu. %s via %s (%s): expected $%s, worst $%s; "
	    "latency %ld ms (%s)", i + 1, t->model->id, t->provider,
	    catalog_region_name(t->model->region), exp, worst, t->latency_ms,
	    t->latency_measured ? "measured" : "catalog prior");
	if (d->strategy == POLICY_WEIGHTED)
		buf_appendf(b, "; weight %d%%%s", t->weight,
		    i == 0 ? ", drawn" : "");
	return buf_appendc(b, '\n');
}

/* Append an account of d for in to b: 0 or -1. */
int
policy_explain(const struct policy_set *set, const struct policy_input *in,
    const struct policy_decision *d, struct buf *b)
{
	static const char *const outcomes[] = {
		"ok", "unknown model", "no target", "refused"
	};
	struct mctx	 x;
	char		 why[256], t1[32], t2[32];
	size_t		 i;

	explain_request(in, b);
	x.in = in;
	x.cat = set->cat;
	x.req = catalog_find(x.cat, in->facts->model);
	x.needs = request_needs(in->facts);
	for (i = 0; i < set->nrules; i++) {
		if (d->rule != NULL && strcmp(set->rules[i]->name, d->rule) == 0)
			break;
		rule_match(set->rules[i], &x, why, sizeof(why));
		buf_appendf(b, "rule %s (%s:%u) passed over: %s\n",
		    set->rules[i]->name, set->rules[i]->file,
		    set->rules[i]->line, why);
	}
	if (d->rule != NULL) {
		buf_appendf(b, "rule %s (%s:%u) matched: %s\n", d->rule, d->file,
		    d->line, d->matched);
		if (set->rules[i]->description != NULL)
			buf_appendf(b, "  (%s)\n", set->rules[i]->description);
	} else
		buf_appendf(b, "no rule matched: the model asked for, as "
		    "named\n");
	if (d->budget_step >= 0)
		buf_appendf(b, "budget step at %.0f%% applies: %s\n",
		    d->budget_step * 100, d->outcome == POLICY_REFUSED ?
		    "refused" : "candidates replaced");
	buf_appendf(b, "strategy: %s\n", policy_strategy_name(d->strategy));
	buf_appendf(b, "kept (%zu, in the order tried):\n", d->ntargets);
	for (i = 0; i < d->ntargets; i++)
		explain_target(d, i, b);
	if (d->ntargets == 0)
		buf_appends(b, "  none\n");
	buf_appendf(b, "dropped (%zu):\n", d->ndropped);
	for (i = 0; i < d->ndropped; i++)
		buf_appendf(b, "  - %s%s%s%s: %s: %s\n", d->dropped[i].name,
		    d->dropped[i].model != NULL ? " (" : "",
		    d->dropped[i].model != NULL ?
		    d->dropped[i].model->provider : "",
		    d->dropped[i].model != NULL ? ")" : "",
		    policy_drop_name(d->dropped[i].why), d->dropped[i].reason);
	buf_appends(b, "order: ");
	for (i = 0; i < d->ntargets; i++)
		buf_appendf(b, "%s%s (%s)", i > 0 ? " -> " : "",
		    d->targets[i].model->id, d->targets[i].provider);
	buf_appendf(b, "%s\n", d->ntargets == 0 ? "nothing to try" : "");
	if (d->retries >= 0)
		snprintf(why, sizeof(why), "%d", d->retries);
	else
		snprintf(why, sizeof(why), "every target once");
	buf_appendf(b, "limits: timeout %s per attempt, retries %s, deadline "
	    "%s\n", d->timeout_ms > 0 ? duration_text(d->timeout_ms, t1,
	    sizeof(t1)) : "the provider's", why, d->deadline_ms > 0 ?
	    duration_text(d->deadline_ms, t2, sizeof(t2)) : "none");
	for (i = 0; i < NM_NELEM(cache_modes); i++)
		if (cache_modes[i].mode == d->cache_mode)
			break;
	buf_appendf(b, "cache: %s\n", i < NM_NELEM(cache_modes) ?
	    cache_modes[i].name : "as configured (cache.mode)");
	buf_appendf(b, "outcome: %s", outcomes[d->outcome]);
	if (d->message[0] != '\0')
		buf_appendf(b, ": %s", d->message);
	return buf_appendc(b, '\n');
}
