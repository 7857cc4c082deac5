/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Routing policies, the compiler: from the *.yaml files of policies/
 * (nextmodel-policy(5)) to an immutable rule set bound to one catalog.
 * It runs when the files are loaded or reloaded, never for a request;
 * policy-decide.c uses the rule set.  Every mistake in a file is a
 * "FILE:LINE: message" from policy_load().
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
#include "policy-int.h"

#define RULE_NAME_MAX	64
#define ORDER_DEFAULT	50

const struct policy_need_name policy_need_names[] = {
	{ "tools", NEED_TOOLS }, { "json", NEED_JSON },
	{ "json_schema", NEED_JSON_SCHEMA }, { "vision", NEED_VISION },
	{ "streaming", NEED_STREAMING }, { "embeddings", NEED_EMBEDDINGS },
};
const size_t policy_nneed_names = NM_NELEM(policy_need_names);

static const char *const strategy_names[] = {
	"ordered", "cheapest", "fastest", "weighted"
};

const struct policy_cache_name policy_cache_names[] = {
	{ "exact", CONFIG_CACHE_EXACT }, { "canonical", CONFIG_CACHE_CANONICAL },
	{ "off", CONFIG_CACHE_OFF },
};
const size_t policy_ncache_names = NM_NELEM(policy_cache_names);

static const char *const drop_names[] = {
	NULL, "unknown", "unfit", "context", "denied", "region", "no_key",
	"retries", "duplicate"
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
void
policy_lower(char *s)
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
	policy_lower(v[r->nmodels].pat);
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

	for (i = 0; i < policy_nneed_names; i++)
		if (strcmp(s, policy_need_names[i].name) == 0) {
			*needs |= policy_need_names[i].bit;
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
	for (i = 0; s != NULL && i < policy_ncache_names; i++)
		if (strcmp(s, policy_cache_names[i].name) == 0) {
			c->rule->cache_mode = policy_cache_names[i].mode;
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
