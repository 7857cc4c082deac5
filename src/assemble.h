/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The inverse of cache_render_sse(): rebuild the whole chat.completion a
 * client was streamed, from the OpenAI-shaped SSE bytes the gateway sent
 * it, so the exact cache can store a streamed answer and replay it later
 * as JSON or as a stream.  Pure: no I/O, every buffer under one ceiling.
 */
#ifndef ASSEMBLE_H
#define ASSEMBLE_H

#include <stddef.h>

#include "billing.h"
#include "buf.h"
#include "cache.h"

/* Bounds past which a stream is not rebuilt (assemble_feed returns -1). */
#define ASSEMBLE_MAX_CHOICES	128
#define ASSEMBLE_MAX_TOOLS	1024

struct assembler;

/*
 * A new assembler.  max_bytes is the ceiling of the rebuilt answer
 * (beyond it the stream is not cacheable).  NULL on OOM.  Caller frees
 * with assemble_free().
 */
struct assembler *assemble_new(size_t max_bytes);
/* NULL does nothing. */
void	assemble_free(struct assembler *);

/*
 * Feed bytes of the SSE stream as sent to the client, in any split
 * (several events or part of one).  0, or -1 once the stream cannot be
 * rebuilt (an event that is not a chat.completion.chunk, an error event,
 * data after [DONE], a bound or the ceiling passed, OOM); after -1 every
 * later call returns -1.
 */
int	assemble_feed(struct assembler *, const char *bytes, size_t len);

/*
 * Append the chat.completion JSON to out: "id", "object", "created",
 * "model", "choices" ordered by index, each {"index", "message" {"role",
 * "content" (null when none), "refusal" when present, "tool_calls" when
 * present, "function_call" when present}, "logprobs" (null when none),
 * "finish_reason"}, "usage" {prompt_tokens, completion_tokens,
 * total_tokens} from u when u is not NULL, else from the stream's usage
 * chunk if it had one, then "service_tier" and "system_fingerprint" when
 * the stream had them.
 * *complete is 1 only if the stream ended with [DONE] and nothing after
 * it, had choices 0..n-1 each with a finish_reason, none of them
 * "content_filter", no choice with tool calls or a function call ended
 * with "length" (a call the source cut short) and every call has a name;
 * else 0 and the caller does not cache it.
 * 0, or -1 (fed a stream that failed, OOM, out's ceiling or max_bytes):
 * out is then left as it was.
 */
int	assemble_result(struct assembler *, const struct usage *u,
	    struct buf *out, int *complete);

/*
 * Append the stream's chunk boundaries to out as cache pieces (see
 * CACHE_PIECE_LEN): per delta, in order, the bytes of content, refusal,
 * tool call arguments and function_call arguments it carried (empty only
 * for a text's first delta), tool calls by their position in
 * assemble_result()'s tool_calls.  Nothing is appended when they were not
 * kept: more than CACHE_MAX_PIECES, logprobs in the stream (replayed
 * whole), OOM while keeping them.  0, or -1 (fed a stream that failed,
 * out's ceiling): out is then left as it was.
 */
int	assemble_pieces(struct assembler *, struct buf *out);

#endif
