/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The torture test's scenarios and what they share with its driver: a
 * scenario runs one piece of the request path on one input, fresh state
 * each time, and says whether it succeeded; what it produced goes into a
 * running digest, so a success under a failed allocation can be compared
 * with the run that failed nothing.
 */
#ifndef TORTURE_H
#define TORTURE_H

#include <stddef.h>
#include <stdint.h>

/* What a scenario run ended with. */
enum torture_result {
	T_OK = 0,	/* succeeded: its digest must be the baseline's */
	T_FAILED,	/* reported a failure the way its callers expect */
	T_BAD		/* broke a promise (message printed): a defect */
};

struct torture_scenario {
	const char	*name;
	const char	*corpus;	/* a folder under test/; NULL: built in */
	const char *const *seeds;	/* NULL: every file of the corpus */
	const char	*glob;		/* of those, only names matching; NULL: all */
	enum torture_result (*run)(const char *, size_t);
};

extern const struct torture_scenario torture_scenarios[];

/* Add bytes, or a number, to the digest of the current run. */
void	torture_record(const void *, size_t);
void	torture_record_int(long long);
/*
 * The HTTP status a failed run gave its client (errinfo.status).  A run
 * that only failed because an allocation did must not blame the client
 * with a 4xx the baseline did not give.
 */
void	torture_status(int);
/* Report a broken promise of the current run; returns T_BAD. */
enum torture_result torture_bad(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
