/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A request's facts: what a chat or embeddings body asks for and needs,
 * derived once from the parsed body (model named, stream, tools, JSON
 * modes, images, estimated input tokens, output asked for), and whether a
 * catalog model can serve it.  Pure: chat validation, quotes, and later
 * routing policies and budgets all read the same facts.
 */
#ifndef FACTS_H
#define FACTS_H

#include <stddef.h>
#include <stdint.h>

#include "errinfo.h"
#include "estimate.h"

struct json;
struct model;

enum facts_kind { FACTS_CHAT = 1, FACTS_EMBEDDINGS };

#define FACTS_MODEL_MAX		256
#define FACTS_EMBED_MAX_ITEMS	2048

struct facts {
	enum facts_kind	 kind;
	char		 model[FACTS_MODEL_MAX];	/* as the client named it */
	int		 stream;		/* chat: "stream": true */
	int		 client_usage;		/* stream_options.include_usage */
	int		 tools;			/* tool (or function) definitions offered */
	int		 json_schema;		/* response_format json_schema */
	int		 embed_base64;		/* embeddings: encoding_format base64 */
	int		 embed_items;		/* embeddings: inputs */
	struct estimate	 est;			/* tokens, max_tokens, n, caps needed */
};

/*
 * The facts of a /v1/chat/completions body.  0, or -1 with a 400 for the
 * client in err (not an object, no model, bad messages, roles, stream,
 * stream_options, max_tokens, n).
 */
int	facts_chat(const struct json *, struct facts *, struct errinfo *);
/* The facts of a /v1/embeddings body: 0, or -1 with a 400 in err. */
int	facts_embeddings(const struct json *, struct facts *, struct errinfo *);
/*
 * Can m serve a request that needs est (an embeddings request when
 * embeddings)?  0 yes; -1 no, with the 400 for the client in err (may be
 * NULL) and a short reason ("does not support tools") in why (may be NULL).
 */
int	facts_fit(const struct estimate *, int embeddings, const struct model *,
	    struct errinfo *, char *why, size_t whylen);

#endif
