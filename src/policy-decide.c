/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Routing policies, the decision: policy_decide(), the pure function from
 * a request's facts and labels to its ordered targets, and
 * policy_explain(), its account in words.  Runs on the HTTP threads for
 * each request, on a rule set policy.c compiled; reads it, never writes.
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
	for (i = 0; i < policy_nneed_names; i++)
		if ((needs & policy_need_names[i].bit) && o < len)
			o += (size_t)snprintf(out + o, len - o, "%s%s",
			    o > 0 ? ", " : "", policy_need_names[i].name);
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
		policy_lower(lname);
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
	for (i = 0; i < policy_ncache_names; i++)
		if (policy_cache_names[i].mode == d->cache_mode)
			break;
	buf_appendf(b, "cache: %s\n", i < policy_ncache_names ?
	    policy_cache_names[i].name : "as configured (cache.mode)");
	buf_appendf(b, "outcome: %s", outcomes[d->outcome]);
	if (d->message[0] != '\0')
		buf_appendf(b, ": %s", d->message);
	return buf_appendc(b, '\n');
}
