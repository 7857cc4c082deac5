/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The allocation shim of the torture test (curl's idea): linked with
 * -Wl,--wrap for malloc and friends, it sees every allocation our own
 * objects make (not libc's, libcurl's, OpenSSL's or libyaml's), counts
 * them, fails the Nth, and tracks which blocks are still live.
 */
#ifndef TORTURE_SHIM_H
#define TORTURE_SHIM_H

#include <stddef.h>

/* What one armed run saw. */
struct shim_report {
	unsigned long	 allocs;	/* allocation calls while armed */
	int		 failed;	/* the Nth was failed (and maybe more) */
	void		*fail_site;	/* its caller */
	unsigned long	 leaks;		/* blocks of this run still live */
	void		*leak_site;	/* the caller that made the first of them */
	size_t		 leak_size;
};

/*
 * Count from now on and fail allocation number fail_at (0: none); sticky:
 * that one and every later one (memory that stays short).
 */
void	shim_arm(unsigned long fail_at, int sticky);
/* Stop counting; fill r, leaks included. */
void	shim_disarm(struct shim_report *r);
/* Leave the driver's own allocations uncounted (and never failed) for a while. */
void	shim_pause(void);
void	shim_resume(void);
/* "file(+0xoffset)" of a code address, for messages (static buffer). */
const char *shim_site(const void *);
/* Print the call stack of the failed allocation of the last run (stderr). */
void	shim_print_fail_stack(void);

#endif
