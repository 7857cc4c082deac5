/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Shared types and macros for every part of NextModel: the gateway, the
 * ledger, the admin tool and the tests.  Keep this small: one module's
 * API belongs in that module's header.
 */
#ifndef NEXTMODEL_H
#define NEXTMODEL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define NM_NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define NM_MIN(a, b)	((a) < (b) ? (a) : (b))
#define NM_MAX(a, b)	((a) > (b) ? (a) : (b))

#define NM_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define NM_NORETURN	__attribute__((noreturn))
#define NM_UNUSED	__attribute__((unused))

/* Cheap invariant checks stay on in release builds. */
#define NM_ASSERT(c) do {						\
	if (!(c))							\
		fatalx("assertion failed: %s (%s:%d)", #c, __FILE__, __LINE__); \
} while (0)

/*
 * nextmodeld's exit codes (nextmodeld(8)).  systemd's unit leaves the
 * first two alone (restarting cannot mend them) and restarts on the last.
 */
#define NM_EXIT_BADCONF	1	/* the configuration is refused (also -t) */
#define NM_EXIT_USAGE	2	/* a bad command line */
/* Exit code of a worker that found its configuration unusable: do not respawn. */
#define NM_EXIT_CONFIG	3
#define NM_EXIT_RUNTIME	4	/* failed while running: bind, fatal() */

/* Money: integer nano-USD (1e-9 USD).  Never a double on the billing path. */
typedef int64_t nm_nano;

/* Monotonic clock, for timeouts and durations (never for dates). */
static inline int64_t
nm_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t
nm_mono_ms(void)
{
	return nm_mono_us() / 1000;
}

void	fatal(const char *, ...) NM_PRINTF(1, 2) NM_NORETURN;
void	fatalx(const char *, ...) NM_PRINTF(1, 2) NM_NORETURN;

#endif
