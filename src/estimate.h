/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Token estimates for a chat request before any source has counted it,
 * and what the request may cost on a model, in nano-USD.  A documented
 * heuristic, not a tokenizer: it is there to reserve budgets and compare
 * prices, and errs on the high side for images and tools.
 */
#ifndef ESTIMATE_H
#define ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

#include "nextmodel.h"

struct json;
struct model;

/* The heuristic's constants (see estimate.c for where they come from). */
#define EST_BYTES_PER_TOKEN	4	/* text: one token per 4 bytes, rounded up */
#define EST_MSG_TOKENS		4	/* each message's framing (role, separators) */
#define EST_REPLY_TOKENS	3	/* the reply's own priming */
#define EST_IMAGE_LOW		85	/* an image at detail "low" */
#define EST_IMAGE_TILE		170	/* per 512x512 tile at detail high/auto */
#define EST_IMAGE_UNKNOWN	765	/* size unknown: a 1024x1024 image */
#define EST_TYPICAL_OUTPUT	500	/* an answer's usual length, for "expected" */

/* What a chat request needs and how big it is. */
struct estimate {
	int64_t		 input_tokens;	/* estimated prompt tokens */
	int64_t		 max_tokens;	/* per choice, as asked; 0: not given */
	int64_t		 n;		/* choices, >= 1 */
	unsigned	 caps;		/* enum model_cap bits the request needs */
	int		 images;	/* image parts */
};

/* A request's cost on one model. */
struct estimate_cost {
	int64_t		 output_worst;	/* output tokens, all choices */
	int64_t		 output_expected;
	nm_nano		 worst;		/* input + output_worst, rounded once */
	nm_nano		 expected;	/* input + output_expected, rounded once */
};

/*
 * Estimate a /v1/chat/completions body (model optional).  0, or -1 with a
 * message for the client in err (bad messages, max_tokens or n).
 */
int	estimate_chat(const struct json *, struct estimate *, char *err,
	    size_t errlen);
/* Tokens of text of len bytes (UTF-8): ceil(len / 4). */
int64_t	estimate_text(size_t len);
/* Tokens of an image of w x h pixels (0 x 0: unknown); detail may be NULL. */
int64_t	estimate_image(int64_t w, int64_t h, const char *detail);
/*
 * The pixel size of a "data:image/...;base64," URL from its first bytes
 * (PNG, GIF, JPEG, WebP): 0, or -1 when it cannot tell.
 */
int	estimate_image_size(const char *url, size_t len, int64_t *w, int64_t *h);
/*
 * The cost of est on m.  Output per choice: max_tokens when given, else
 * the most the model may write (max_output, bounded by what is left of
 * the context window); expected: that bounded by EST_TYPICAL_OUTPUT.
 * -1 when a number does not fit.
 */
int	estimate_cost(const struct estimate *, const struct model *,
	    struct estimate_cost *);
/* (a x pa + b x pb) / 1e6 nano-USD, rounded half up once: 0 or -1. */
int	estimate_price2(int64_t a, nm_nano pa, int64_t b, nm_nano pb,
	    nm_nano *out);

#endif
