/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A tiny table-friendly test helper for the unit tests: CHECK records a
 * failure and goes on, so one run shows every broken case; the program
 * exits 1 if anything failed.  Output follows automake's simple protocol.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failures;
static int unit_checks;

#define CHECK(cond) do {						\
	unit_checks++;							\
	if (!(cond)) {							\
		unit_failures++;					\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *unit_a_ = (a), *unit_b_ = (b);			\
	unit_checks++;							\
	if (unit_a_ == NULL || unit_b_ == NULL ||			\
	    strcmp(unit_a_, unit_b_) != 0) {				\
		unit_failures++;					\
		fprintf(stderr, "%s:%d: \"%s\" != \"%s\" (%s vs %s)\n",	\
		    __FILE__, __LINE__, unit_a_ ? unit_a_ : "(null)",	\
		    unit_b_ ? unit_b_ : "(null)", #a, #b);		\
	}								\
} while (0)

#define UNIT_DONE() do {						\
	printf("%d checks, %d failed\n", unit_checks, unit_failures);	\
	return unit_failures ? 1 : 0;					\
} while (0)

#endif
