/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The CacheSafety Bench's HTTP client: each call is one or two chat
 * completions sent in order to the layer under test; up to N calls run
 * at once.  Answers are bounded in size and time; a failure is reported
 * per call, never as a crash.
 */
#ifndef BENCH_HTTP_H
#define BENCH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define BENCH_MODE_LEN	64

struct bench_call {
	/* In: the request bodies, sent in order; the last one is observed. */
	char		*body[2];	/* owned */
	size_t		 len[2];
	const char	*name[2];	/* for messages, e.g. "new_request" */
	int		 nbody;
	int		 keep;		/* keep the answer bodies */
	/* Out. */
	int		 error;		/* a request failed; err says why */
	int		 failed;	/* which one */
	char		 err[320];
	char		 mode[2][BENCH_MODE_LEN];	/* x-nextmodel-serve-mode */
	struct buf	 answer[2];	/* the answer bodies, when kept */
	uint64_t	 count[2][2];	/* the count hook before, after each */
};

struct bench_http_opts {
	const char	*url;		/* the full chat completions URL */
	const char	*key;		/* bearer token, or NULL */
	long		 timeout_ms;	/* per request */
	int		 concurrency;
	size_t		 max_answer;	/* bytes */
	/* Read before each request is sent and after its answer, or NULL. */
	uint64_t	(*count)(void *);
	void		*count_arg;
};

/*
 * Send every call (each call's requests in order, calls concurrently);
 * 0, or -1 with err when the client itself could not be set up.
 */
int	bench_http_run(struct bench_call *, size_t n,
	    const struct bench_http_opts *, char *err, size_t errlen);
/*
 * Wait up to seconds for url's host to accept a TCP connection (the
 * layer under test coming up); 0, or -1 with err.
 */
int	bench_http_wait(const char *url, long seconds, char *err,
	    size_t errlen);
/* Free what a call owns (bench_call_free on a zeroed call is fine). */
void	bench_call_free(struct bench_call *);

#endif
