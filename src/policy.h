/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Routing policies (the *.yaml files of policies/, nextmodel-policy(5)): rules compiled
 * once against the catalog into an immutable set, and the pure decision
 * for one request: which rule matched, the targets to try in order, the
 * candidates dropped and why, timeouts, retries, cache mode and the budget
 * substitution.  No I/O besides policy_load(); callers pass in everything
 * the decision reads (facts, key labels, budget use, latencies, a draw).
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>

#include "buf.h"
#include "estimate.h"

struct catalog;
struct facts;
struct model;
struct policy_set;

#define POLICY_MAX_MODELS	16	/* candidates a rule (or a budget step) lists */
#define POLICY_MAX_TARGETS	POLICY_MAX_MODELS
#define POLICY_MAX_DROPPED	(POLICY_MAX_MODELS + 1)
#define POLICY_LATENCY_SAMPLES	5	/* measured latency used from this many samples */
#define POLICY_CACHE_INHERIT	(-1)	/* cache mode: the config's cache.mode */

enum policy_strategy {
	POLICY_ORDERED = 0, POLICY_CHEAPEST, POLICY_FASTEST, POLICY_WEIGHTED
};

/* Why a candidate was dropped. */
enum policy_drop_why {
	POLICY_DROP_UNKNOWN = 1,	/* the requested name is no catalog model */
	POLICY_DROP_UNFIT,		/* facts_fit(): capability, max_tokens, kind */
	POLICY_DROP_CONTEXT,		/* facts_fit(): context window too small */
	POLICY_DROP_DENIED,		/* sources: allow/deny by provider */
	POLICY_DROP_REGION,		/* sources: region */
	POLICY_DROP_NO_KEY,		/* no API key configured for the source */
	POLICY_DROP_RETRIES,		/* beyond retries: never tried */
	POLICY_DROP_DUPLICATE,		/* already a target (requested twice) */
};

enum policy_outcome {
	POLICY_OK = 0,			/* ntargets >= 1 */
	POLICY_UNKNOWN_MODEL,		/* no rule, or only "requested", and no such model: 404 */
	POLICY_NO_TARGET,		/* every candidate dropped: see dropped[] */
	POLICY_REFUSED,			/* a budget step refuses: see message */
};

/* Measured latency of one target, from the shared decaying averages. */
struct policy_latency {
	const char	*model;		/* catalog id */
	const char	*provider;
	long		 ms;		/* time to first byte */
	unsigned	 samples;	/* used from POLICY_LATENCY_SAMPLES on */
};

/* Everything one decision reads.  NULL or "" strings: not known. */
struct policy_input {
	const struct facts *facts;	/* required */
	const char	*key_id;
	const char	*project;
	const char	*team;
	const char	*environment;
	const char	*workload;
	double		 budget_used;	/* fraction of the applicable budget; < 0 unknown */
	const struct policy_latency *latency;	/* may be NULL */
	size_t		 nlatency;
	double		 draw;		/* weighted: uniform in [0, 1) */
	const char *const *keyed_providers; /* NULL-terminated; NULL: not checked */
};

struct policy_target {
	const struct model *model;
	const char	*provider;	/* model->provider */
	struct estimate_cost cost;	/* estimate_cost() of the request on it */
	int		 cost_ok;	/* 0: the numbers did not fit */
	long		 latency_ms;	/* measured, else the catalog's prior */
	int		 latency_measured;
	int		 weight;	/* weighted: its percent; else 0 */
};

struct policy_drop {
	const struct model *model;	/* NULL with POLICY_DROP_UNKNOWN */
	const char	*name;		/* model id, or the name as requested */
	enum policy_drop_why why;
	char		 reason[192];
};

struct policy_decision {
	enum policy_outcome outcome;
	const char	*rule;		/* NULL: no rule matched */
	const char	*file;		/* where the rule is, when rule != NULL */
	unsigned	 line;
	char		 matched[256];	/* why it matched: "workload support.x is support.*" */
	enum policy_strategy strategy;
	struct policy_target targets[POLICY_MAX_TARGETS];	/* in the order to try */
	size_t		 ntargets;
	struct policy_drop dropped[POLICY_MAX_DROPPED];
	size_t		 ndropped;
	long		 timeout_ms;	/* per attempt; 0: the provider's own */
	int		 retries;	/* further attempts after the first; -1: every target */
	long		 deadline_ms;	/* all attempts together; 0: none */
	int		 cache_mode;	/* POLICY_CACHE_INHERIT or CONFIG_CACHE_* */
	double		 budget_step;	/* the budget: step that applied; < 0 none */
	int		 substituted;	/* that step replaced the candidates */
	char		 message[256];	/* outcome != POLICY_OK: for the client */
};

/*
 * Compile every *.yaml file in dir (NULL: no files, an empty set) against
 * the catalog, which must outlive the set.  NULL with "FILE:LINE: message"
 * in err.  Caller frees with policy_free().
 */
struct policy_set *policy_load(const char *dir, const struct catalog *,
		    char *err, size_t errlen);
/* The same from files already named (tests); paths in the order given. */
struct policy_set *policy_load_files(const char *const *paths, size_t n,
		    const struct catalog *, char *err, size_t errlen);
void		 policy_free(struct policy_set *);	/* NULL does nothing */
size_t		 policy_nrules(const struct policy_set *);
size_t		 policy_nfiles(const struct policy_set *);
/*
 * Decide for one request: fills out (no allocation; nothing to free) and
 * returns out->outcome.  set is the config's (never NULL: with no policy
 * files it is empty, and every request gets the model it names, as before
 * policies existed).  Thread-safe: the set is read only.
 */
enum policy_outcome policy_decide(const struct policy_set *,
		    const struct policy_input *, struct policy_decision *);
/*
 * Append a human-readable account of d to b: the rules passed over and
 * why, the rule that matched and why, each candidate kept (cost, latency)
 * or dropped (reason), the order to try, limits and cache mode.  0 or -1.
 */
int		 policy_explain(const struct policy_set *,
		    const struct policy_input *, const struct policy_decision *,
		    struct buf *);
const char	*policy_strategy_name(enum policy_strategy);
const char	*policy_drop_name(enum policy_drop_why);	/* "context", "no_key"... */

#endif
