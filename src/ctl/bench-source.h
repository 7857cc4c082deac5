/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The CacheSafety Bench's counting model source (--detect upstream): an
 * OpenAI-compatible server the layer under test calls upstream.  Every
 * call is counted and answered with a nonce of its own, so the bench
 * sees a hit as an answer the source was not called for.
 */
#ifndef BENCH_SOURCE_H
#define BENCH_SOURCE_H

#include <stddef.h>
#include <stdint.h>

struct bench_source;

/* What a nonce found in an answer is. */
enum bench_nonce {
	BENCH_NONCE_NONE,	/* no nonce in the text */
	BENCH_NONCE_OURS,	/* issued by this source, this run */
	BENCH_NONCE_FOREIGN	/* looks like one, but never issued here */
};

/*
 * Bind listen ("HOST:PORT", port 0 for a free one; NULL: 127.0.0.1:0)
 * and serve from a thread of its own.  oracle_text[i] (a user message
 * text) is answered with oracle_answer[i] before the nonce: the bench
 * plays a model that knows the promptset's answers.  The tables are
 * copied.  NULL with err on failure.
 */
struct bench_source	*bench_source_start(const char *listen,
			    const char *const *oracle_text,
			    const char *const *oracle_answer, size_t noracle,
			    char *err, size_t errlen);
/* Stop serving and free; NULL does nothing. */
void			 bench_source_free(struct bench_source *);
/* "http://HOST:PORT/v1", the base URL the layer under test calls. */
const char		*bench_source_url(const struct bench_source *);
/* Calls answered so far (a void * so bench-http can take it as a hook). */
uint64_t		 bench_source_calls(void *);
/*
 * Look for a nonce in text; for BENCH_NONCE_OURS, *seq is the number of
 * the call that issued it (1 for the first call).
 */
enum bench_nonce	 bench_source_nonce(const struct bench_source *,
			    const char *text, size_t len, uint64_t *seq);

#endif
