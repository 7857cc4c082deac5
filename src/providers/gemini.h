/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Internals shared by the three files of the Gemini wire format (gemini.c,
 * gemini-request.c, gemini-schema.c): the per-request state, limits, error
 * helpers and the tool-call id codec.  Nothing outside providers/gemini*.c
 * includes it; the rest of the gateway sees only provider_gemini.
 */
#ifndef GEMINI_H
#define GEMINI_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"
#include "providers/provider.h"

#define GEM_MAXCAND	8	/* n / candidateCount ceiling */
#define GEM_MAXSTOP	5	/* stopSequences ceiling */
#define GEM_MAXEMBED	100	/* requests in one batchEmbedContents */
#define GEM_MAXDEPTH	32	/* schema nesting and $ref chains */
#define GEM_HASHLEN	24	/* hex digits of a generated tool-call id */

/* Per-request state: the stream's counters, the embeddings' estimate. */
struct gem_cand {
	int	seen;
	int	ntools;		/* tool calls sent: our index counter */
	int	finished;
	int	saw_tool;
};

struct gem_state {
	int		 ncand;		/* candidates seen in the stream */
	unsigned	 sent_role;	/* bit i: candidate i had its role delta */
	int		 usage_sent;
	int		 nembed;	/* embeddings: inputs sent */
	int64_t		 embed_tokens;	/* embeddings: estimated input tokens */
	char		 id[96];	/* chatcmpl-... of every chunk */
	char		 model[160];	/* JSON text (quoted) of every chunk */
	struct gem_cand	 cand[GEM_MAXCAND];
};

/*
 * What one of our tool-call ids carries back to Gemini (see gemini.c):
 * Gemini's own call id and the thought signature of the call.
 */
struct callid {
	char	 gid[65];	/* Gemini's call id, "" when none */
	char	*sig;		/* thought signature (standard base64), or NULL */
};

/* The state of ctx, made on first use; NULL on OOM. */
struct gem_state *gemini_state(struct prov_ctx *);
/* The name the source knows the model by (without "models/"). */
const char	*gemini_upstream(const struct prov_ctx *);
/* Fill err with a 400 about param; returns -1. */
int		 gemini_bad_request(struct errinfo *, const char *code,
		    const char *param, const char *fmt, ...) NM_PRINTF(4, 5);
/* A 400 unsupported_parameter naming param and the model; returns -1. */
int		 gemini_unsupported(const struct prov_ctx *, struct errinfo *,
		    const char *param, const char *why);
/* A 500 for a failed allocation; returns -1. */
int		 gemini_no_memory(struct errinfo *);
/* URL ({base}/v1beta/models/{model}:{method}) and headers of a call. */
int		 gemini_set_call(const struct prov_ctx *, struct upstream_req *,
		    const char *method, int stream);
/* 1 if [p, p+n) is non-empty base64 (either alphabet, padding). */
int		 gemini_b64_chars(const char *, size_t);
/* Take one of our tool-call ids apart (foreign ids give nothing); -1 on OOM. */
int		 gemini_callid_parse(const char *id, struct callid *);
/* 1 if string token k equals one of the NULL-terminated list. */
int		 gemini_in_list(const struct json *, int k, const char *const *);
/* Append ,"key": (no comma before the first member; counts in *n). */
int		 gemini_member_key(struct buf *, int *n, const char *key);

/* gemini-schema.c: a JSON Schema cleaned for Gemini into b (param for errors). */
int		 gemini_schema_clean(const struct prov_ctx *, const struct json *,
		    int s, int resp, const char *param, struct buf *b,
		    struct errinfo *);
/* 1 if schema s declares at least one property. */
int		 gemini_schema_has_props(const struct prov_ctx *,
		    const struct json *, int s);

/* gemini-request.c: the chat_encode of the vtable. */
int		 gemini_request_encode(struct prov_ctx *, const struct json *,
		    struct upstream_req *, struct errinfo *);

#endif
