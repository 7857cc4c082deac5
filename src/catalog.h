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
	unsigned	 line;
};

struct catalog {
	char		*path;
	char		*checked;	/* the date prices were checked, "YYYY-MM-DD", may be NULL */
	struct model	*models;
	size_t		 n;
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
/* By id or alias; NULL if none. */
const struct model *catalog_find(const struct catalog *, const char *id);
/* "tools,json,..." parser/printer shared with /v1/models. */
const char	*catalog_cap_name(unsigned cap);	/* one bit -> "tools" */
const char	*catalog_region_name(enum model_region);

#endif
