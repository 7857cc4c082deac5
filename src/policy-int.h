/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The compiled form of routing policies, shared by the compiler
 * (policy.c, run when the files are loaded or reloaded) and the decision
 * (policy-decide.c, run for each request on the HTTP threads).  Not for
 * other modules: they use policy.h.
 */
#ifndef NM_POLICY_INT_H
#define NM_POLICY_INT_H

#include <stddef.h>

#include "catalog.h"
#include "policy.h"

#define MAX_STEPS	8

/* What a request may need, as rules name it (needs:). */
enum need {
	NEED_TOOLS = 1 << 0, NEED_JSON = 1 << 1, NEED_JSON_SCHEMA = 1 << 2,
	NEED_VISION = 1 << 3, NEED_STREAMING = 1 << 4, NEED_EMBEDDINGS = 1 << 5,
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

/* The needs: names and the cache: modes, and how many of each. */
struct policy_need_name {
	const char	*name;
	unsigned	 bit;
};

struct policy_cache_name {
	const char	*name;
	int		 mode;
};

extern const struct policy_need_name policy_need_names[];
extern const size_t policy_nneed_names;
extern const struct policy_cache_name policy_cache_names[];
extern const size_t policy_ncache_names;

/* ASCII letters of s in lower case, in place (model names match so). */
void	policy_lower(char *);

#endif
