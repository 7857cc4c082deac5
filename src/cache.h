/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The exact cache without its I/O: the key of a request, the encoding of
 * an entry with its HMAC, its verification on the way back, and the
 * replay of a stored chat completion as an SSE stream.  The worker's Redis
 * thread moves the bytes; nothing here knows about Redis.
 */
#ifndef CACHE_H
#define CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "canon.h"
#include "crypto.h"
#include "nextmodel.h"

/* Bytes of an entry around its fields: header, numbers, lengths, HMAC. */
#define CACHE_ENTRY_OVERHEAD	(4 + 1 + 5 * 8 + 6 * 4 + CRYPTO_SHA256_LEN)
/* Ceiling of one text field of an entry (scope, model, provider). */
#define CACHE_NAME_MAX		1024

/*
 * The chunk boundaries of an answer first served as a stream: one piece
 * per delta that carried text, in the order the client got them, each
 * CACHE_PIECE_LEN bytes: the kind (1 byte), the choice's position (1
 * byte), the tool call's position in the message's tool_calls (2 bytes,
 * 0 for other kinds), the piece's length in bytes of unescaped text (4
 * bytes), all big-endian.  The first piece of each text may be empty (a
 * role chunk's "content":"", a tool call's header with its id and name);
 * the pieces of one text add up to the whole of it.
 */
#define CACHE_PIECE_LEN		8
/* Most pieces an entry keeps; a stream with more is replayed whole. */
#define CACHE_MAX_PIECES	8192

/* What a piece is a part of. */
enum cache_piece_kind {
	CACHE_PIECE_CONTENT = 1,	/* message.content */
	CACHE_PIECE_REFUSAL,		/* message.refusal */
	CACHE_PIECE_TOOL,		/* a tool call's function.arguments */
	CACHE_PIECE_FUNCTION		/* the legacy function_call.arguments */
};

/* Bytes with a length, not NUL-terminated. */
struct cache_str {
	const char	*p;
	size_t		 len;
};

/*
 * One cache entry.  Decoded entries point into the bytes they came from.
 * The first four fields are what the key was made of: a lookup checks
 * them all, so an entry copied under another key is never served.
 */
struct cache_entry {
	struct cache_str	scope;		/* "project:NAME", "team:NAME", "global" */
	struct cache_str	model;		/* resolved target model id */
	enum canon_mode		mode;
	struct cache_str	request;	/* canon_request() of the body */
	struct cache_str	provider;	/* who answered */
	struct cache_str	answer;		/* the chat.completion JSON */
	struct cache_str	pieces;		/* its stream's pieces, or none */
	int64_t			created;	/* unix seconds of the fresh answer */
	int64_t			prompt_tokens;
	int64_t			completion_tokens;
	int64_t			total_tokens;
	nm_nano			cost;		/* what the fresh answer cost */
};

/* What a lookup found; only CACHE_ENTRY_OK may be served. */
enum cache_verdict {
	CACHE_ENTRY_OK = 0,
	CACHE_ENTRY_BAD,	/* not an entry of this version: short, bad header */
	CACHE_ENTRY_FORGED,	/* the HMAC does not match */
	CACHE_ENTRY_MISMATCH,	/* a true entry, for another request */
	CACHE_ENTRY_OLD		/* an entry in an earlier format: a quiet miss */
};

/*
 * Append one piece (see CACHE_PIECE_LEN) to b.  0, or -1 (a choice over
 * 255, a tool over 65535, a length over 4 GiB, b's ceiling, OOM).
 */
int	cache_piece_append(struct buf *b, enum cache_piece_kind, int choice,
	    int tool, size_t len);

/* "ok", "bad", "forged", "mismatch": for logs and metrics labels. */
const char *cache_verdict_name(enum cache_verdict);

/*
 * The entry key from the server secret: HMAC-SHA256(secret,
 * "nextmodel-cache-v1"), so the secret itself signs nothing else's way.
 * The caller cleanses out when done.
 */
void	cache_hmac_key(const void *secret, size_t len,
	    unsigned char out[CRYPTO_SHA256_LEN]);

/*
 * SHA-256 over a version tag and each input with its length in front
 * (8 bytes, big-endian), so no two different inputs share a key: the
 * scope, the resolved model, the mode's name and the canonical request.
 * 0, or -1 out of memory.
 */
int	cache_key(const char *scope, const char *model, enum canon_mode,
	    const char *request, size_t request_len,
	    unsigned char out[CRYPTO_SHA256_LEN]);
/* cache_key() as 64 lowercase hex digits and a NUL. */
int	cache_key_hex(const char *scope, const char *model, enum canon_mode,
	    const char *request, size_t request_len,
	    char out[CRYPTO_SHA256_HEXLEN + 1]);

/*
 * Append the entry to out, HMAC last:
 *   "NMC2", mode (1 byte), created, prompt, completion and total tokens,
 *   cost (8 bytes each, big-endian two's complement), then scope, model,
 *   provider, request, answer, pieces (each a 4-byte big-endian length
 *   and its bytes; pieces may be empty), then HMAC-SHA256(key, everything
 *   before it).
 * out's ceiling is the maximum entry size.  0, or -1 with err set (a
 * negative count, a name over CACHE_NAME_MAX, a field over 4 GiB, a piece
 * list that is not whole pieces or has more than CACHE_MAX_PIECES, out's
 * ceiling); out is left as it was.
 */
int	cache_entry_encode(const struct cache_entry *,
	    const unsigned char key[CRYPTO_SHA256_LEN], struct buf *out,
	    char *err, size_t errlen);

/*
 * Check an entry read back and decode it into *e (pointing into data).
 * The HMAC is checked before any field is trusted, in constant time; then
 * the key inputs of the entry must equal those of the lookup (want's
 * scope, model, mode and request; its other fields are ignored).  An
 * entry of an older format ("NMC1", no pieces) is CACHE_ENTRY_OLD, told
 * from its first bytes alone (a quiet miss: no stronger than a DEL).
 * Anything but CACHE_ENTRY_OK is a miss; *e is then zeroed.
 */
enum cache_verdict cache_entry_decode_verify(const void *data, size_t len,
	    const unsigned char key[CRYPTO_SHA256_LEN],
	    const struct cache_entry *want, struct cache_entry *e);

/*
 * Render a stored chat.completion (non-stream JSON) as the OpenAI SSE
 * stream a client would have received: for each choice a role chunk, the
 * content in one chunk (with its logprobs), the refusal, each tool call
 * whole in its own chunk (id, type, name, arguments), the legacy
 * function_call, then a chunk with the finish_reason; with include_usage
 * every chunk carries "usage":null and a last chunk with no choices
 * carries the usage; then "data: [DONE]".  id, created, model,
 * system_fingerprint and service_tier are copied as they are.
 * With pieces (pieces_len bytes, see CACHE_PIECE_LEN), a choice whose pieces
 * add up to its texts is rendered with the stream's own boundaries
 * instead: the role chunk (with the first piece when it is content), then
 * one chunk per piece in their order (a tool call's first piece with its
 * id, type and name), then the finish_reason; a choice whose pieces do
 * not fit (or with logprobs) is rendered whole as above.
 * 0, or -1 with err set (not a chat completion, out's ceiling).
 */
int	cache_render_sse(const char *answer, size_t len, const char *pieces,
	    size_t pieces_len, int include_usage, struct buf *out, char *err,
	    size_t errlen);

#endif
