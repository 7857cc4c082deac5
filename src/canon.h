/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The canonical form of a JSON value, for cache keys: two requests that
 * mean the same get the same bytes, two that differ in anything that can
 * change the answer never do.  Keys are sorted, whitespace between tokens
 * goes, strings get one escape form, numbers become exact decimal text
 * (never a double).  The "canonical" mode also collapses whitespace in
 * chat message text, for the opt-in canonical cache layer.
 */
#ifndef CANON_H
#define CANON_H

#include <stddef.h>

#include "buf.h"
#include "json.h"

/*
 * Numbers whose first significant digit sits beyond 10^+-CANON_MAX_EXP
 * are refused (zero is always fine, whatever its exponent).
 */
#define CANON_MAX_EXP		100000
/* Objects and arrays nested deeper than this are refused. */
#define CANON_MAX_DEPTH		128

enum canon_mode {
	CANON_EXACT = 0,	/* "exact": meaning only */
	CANON_TEXT		/* "canonical": also whitespace runs in message text */
};

/* "exact" or "canonical". */
const char *canon_mode_name(enum canon_mode);

/*
 * Canonical form of the value at token tok, appended to out:
 *  - objects with members sorted by the bytes of their unescaped keys
 *    (shorter first on a tie of the common prefix), arrays in order, no
 *    whitespace;
 *  - strings unescaped, then written back escaping only '"', '\' and the
 *    bytes below 0x20 (\b \f \n \r \t by letter, the rest as \u00xx,
 *    lowercase); everything else, 0x7f and UTF-8 included, as is;
 *  - numbers as exact decimal text: "0" for any zero (-0 too); plain
 *    notation ("12", "0.5", "-1.25", "0.000001") when the first
 *    significant digit's power of ten is in [-6, 20], else "d.ddde-7",
 *    "1e21" (no '+', no leading/trailing zeros);
 *  - true, false, null as themselves.
 * A document must come from json_parse (duplicate keys already refused).
 * 0, or -1 with err set (exponent out of range, too deep, out's ceiling).
 * On -1, out may hold a partial form.
 */
int	canon_write(const struct json *, int tok, struct buf *out, char *err,
	    size_t errlen);

/*
 * Canonical form of a request body (an object) for the cache key, without
 * the top-level members that cannot change the answer: stream,
 * stream_options, user, metadata, store.  Every other member counts,
 * unknown ones included.  In CANON_TEXT mode the text of chat messages
 * (messages[].content when a string, and the "text" of its parts of type
 * "text") also goes through canon_text(), except in messages whose role is
 * "tool" or "function" (their content is data, like tool arguments).
 * 0, or -1 with err set.
 */
int	canon_request(const struct json *, int tok, enum canon_mode,
	    struct buf *out, char *err, size_t errlen);

/*
 * The canonical decimal text of the JSON number text s (already
 * validated by json_parse), appended to out.  0 or -1 with err set.
 */
int	canon_number(const char *s, size_t len, struct buf *out, char *err,
	    size_t errlen);

/*
 * Message text with whitespace runs collapsed, appended to out (raw bytes,
 * not a JSON literal).  Outside code fences each run of ASCII whitespace
 * (space, \t, \n, \v, \f, \r) becomes one space and the text's two ends
 * are trimmed; words are never joined.  A fence starts at any run of three
 * or more backticks and ends after the next run at least as long (or at
 * the end of the text); it is copied byte for byte, fence marks included.
 * Other bytes, non-ASCII spaces too, are kept.  0 or -1 (out's ceiling).
 */
int	canon_text(const char *s, size_t len, struct buf *out);

#endif
