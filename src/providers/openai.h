/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Internals shared by the two files of the OpenAI wire format (openai.c,
 * openai-request.c): dialects, the per-call state and the small writers.
 * Nothing outside providers/openai*.c includes it; the rest of the
 * gateway sees only provider_openai.
 */
#ifndef OPENAI_H
#define OPENAI_H

#include "buf.h"
#include "json.h"
#include "providers/provider.h"

/*
 * What sets a dialect apart from OpenAI: D_FAITHFUL, OpenAI itself (the
 * client's body, every field); D_USAGE_ALWAYS, stream usage comes unasked
 * (never send stream_options); D_ALLOWLIST, a body built from an
 * allow-list (Mistral); D_FLAGGED_403, a 403 is moderation of the input,
 * not our key; D_ENDPOINT_IDS, the model may be an endpoint id ("ep-...").
 */
#define D_FAITHFUL	0x01
#define D_USAGE_ALWAYS	0x02
#define D_ALLOWLIST	0x04
#define D_FLAGGED_403	0x08
#define D_ENDPOINT_IDS	0x10

struct dialect {
	enum provider_dialect	 id;
	unsigned		 flags;
};

#define OA_CHOICES	8	/* choices whose tool-call indexes we track */

/* Per-call state (ctx->state). */
struct oa_state {
	const struct dialect	*d;
	int			 b64;		/* embeddings: we encode base64 */
	/* a stream: what the synthesised usage chunk repeats */
	char			 id[160];	/* raw JSON values */
	char			 created[32];
	char			 model[288];
	int			 next_tool[OA_CHOICES];
	int			 last_tool[OA_CHOICES];
};

/* The dialect of a provider (OpenAI's for anything unknown). */
const struct dialect *oa_dialect(const struct provider_conf *);
/* The call's state, made on first use; NULL on OOM. */
struct oa_state	*oa_state(struct prov_ctx *);
/* The model name the source knows. */
const char	*oa_upstream(const struct prov_ctx *);
/* 1 if key token k is one of list. */
int		 oa_key_in(const struct json *, int k, const char *const *list);
/* Write "key": after *n members (with the comma). */
int		 oa_put_key(struct buf *, int *n, const char *key);
/* Write the members of obj not in omit, after *n members. */
int		 oa_put_members(struct buf *, const struct json *, int obj,
		    const char *const *omit, int *n);
/* URL, Authorization, Content-Type, Accept of a call to path. */
int		 oa_put_call(struct prov_ctx *, struct upstream_req *,
		    const char *path, int stream);
/* Build POST {base}/chat/completions in the source's dialect. */
int		 openai_chat_encode(struct prov_ctx *, const struct json *,
		    struct upstream_req *, struct errinfo *);

#endif
