/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Internals shared by the two files of the Anthropic wire format:
 * anthropic.c (the call, answers, streams, errors and the vtable) and
 * anthropic-request.c (the request body).  Nothing outside
 * providers/anthropic*.c includes it; the gateway sees provider_anthropic.
 */
#ifndef ANTHROPIC_H
#define ANTHROPIC_H

#include <stddef.h>

#include "buf.h"
#include "json.h"
#include "providers/provider.h"

/* The forced tool that carries response_format's JSON answer (5.4). */
#define ANTH_JSON_TOOL		"json_tool_call"

/*
 * anthropic-request.c: the Messages API body for the client's validated
 * OpenAI body into b.  *json_tool tells whether the JSON answer will come
 * as a call of ANTH_JSON_TOOL.  0, or -1 with err (a 400 naming the field).
 */
int	anthropic_request_body(struct prov_ctx *, const struct json *,
	    struct buf *b, int *json_tool, struct errinfo *err);
/* Valid JSON text p without its insignificant whitespace, appended to b. */
int	anthropic_compact(struct buf *b, const char *p, size_t n);

#endif
