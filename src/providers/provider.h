/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The provider vtable: one implementation per wire format (openai.c,
 * later anthropic.c and gemini.c).  A provider turns a validated OpenAI
 * request into an upstream call and the source's answers, streams and
 * errors back into OpenAI's shapes.  Nothing here knows HTTP servers.
 */
#ifndef PROVIDER_H
#define PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "billing.h"
#include "buf.h"
#include "catalog.h"
#include "config.h"
#include "errinfo.h"
#include "json.h"
#include "sse.h"
#include "upstream.h"

/* Per-call translation state, owned by the request. */
struct prov_ctx {
	const struct provider_conf *prov;
	const struct model	*model;
	struct json_limits	 lim;		/* for what the source sends */
	int			 stream;	/* the client asked for a stream */
	int			 client_usage;	/* ... with stream_options.include_usage */
	int			 asked_usage;	/* we asked the source for it */
	int			 saw_done;	/* the stream ended properly */
	int			 stream_over;	/* ... and nothing more will come: stop reading */
	int			 embed_base64;	/* embeddings: encoding_format base64 */
	int64_t			 created;	/* unix time of the request (translated answers) */
	char			 request_id[32];	/* the gateway's request id */
	struct usage		 usage;
	void			*state;		/* the provider's own, freed by ctx_free */
	/* Size limits of a request; 0 takes the PROV_MAX_* default. */
	int			 max_messages;
	int			 max_tool_calls;	/* over all messages */
	int			 max_tools;
};

/* Default size limits of one chat request (the translators' work grows with them). */
#define PROV_MAX_MESSAGES	10000
#define PROV_MAX_TOOL_CALLS	10000
#define PROV_MAX_TOOLS		1024

struct provider_ops {
	enum provider_kind kind;
	/* Build the upstream call (url, headers, body) from the client's body. */
	int	(*chat_encode)(struct prov_ctx *, const struct json *body,
		    struct upstream_req *, struct errinfo *);
	/*
	 * A whole 2xx answer.  Either write the OpenAI answer to out, or set
	 * *passthrough to relay the source's bytes unchanged.  -1 with err
	 * when the answer is invalid or incomplete (never a truncated 200).
	 */
	int	(*chat_decode)(struct prov_ctx *, const char *, size_t,
		    struct buf *out, int *passthrough, struct errinfo *);
	/*
	 * One event of a 2xx stream: append OpenAI SSE bytes to out; set
	 * saw_done at the proper end.  -1 with err ends the stream with an
	 * error event.
	 */
	int	(*chat_event)(struct prov_ctx *, const struct sse_event *,
		    struct buf *out, struct errinfo *);
	/* A non-2xx answer (body may be partial or empty). */
	void	(*map_error)(struct prov_ctx *, long status, const char *, size_t,
		    const char *retry_after, struct errinfo *);
	void	(*ctx_free)(struct prov_ctx *);

	/*
	 * Embeddings (NULL when the wire format has none): build the call from
	 * the client's /v1/embeddings body, and turn a whole 2xx answer into
	 * OpenAI's list (or relay it unchanged with *passthrough).
	 */
	int	(*embed_encode)(struct prov_ctx *, const struct json *body,
		    struct upstream_req *, struct errinfo *);
	int	(*embed_decode)(struct prov_ctx *, const char *, size_t,
		    struct buf *out, int *passthrough, struct errinfo *);
};

extern const struct provider_ops provider_openai;
extern const struct provider_ops provider_anthropic;
extern const struct provider_ops provider_gemini;

/* The ops of a wire format, or NULL if not available. */
const struct provider_ops *provider_ops(enum provider_kind);
/* Redact the provider's key and key-like tokens from a message, in place. */
void	provider_scrub(const struct provider_conf *, char *msg);
/* Append "Name: value" to a NULL-terminated header list; 0 or -1 (OOM). */
int	provider_add_header(char ***list, size_t *n, const char *name,
	    const char *value);
/* Fill err; fmt is printf-style. */
void	provider_err(struct errinfo *, int status, const char *type,
	    const char *code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/*
 * 0 if the chat body is within ctx's size limits (messages, tool calls,
 * tools), else -1 with a 400 naming the limit in err.
 */
int	provider_check_sizes(const struct prov_ctx *, const struct json *body,
	    struct errinfo *);
/*
 * A token count above this from a source is nonsense (and sums of such
 * counts could overflow): its usage is ignored and the call estimated.
 */
#define PROV_MAX_USAGE_TOKENS	1000000000000LL
/*
 * 1 if each of the n counts from a source is from 0 to
 * PROV_MAX_USAGE_TOKENS, so that they add up safely; else 0, logged.
 */
int	provider_usage_sane(const int64_t *, size_t n);
/*
 * Parse an OpenAI-shaped usage object at token u into out; usage with an
 * absurd count is left out (out->have 0), to be estimated.
 */
void	provider_usage_openai(const struct json *, int u, struct usage *out);

#endif
