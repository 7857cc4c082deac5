/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The torture test's allocation shim.  The test binary is linked with
 * -Wl,--wrap=malloc,--wrap=calloc,... so that the calls in our objects
 * (the test's and libnextmodel.a's, libproviders.a's) land here, while
 * the shared libraries keep the real allocator.  __real_malloc is
 * whatever "malloc" resolves to: glibc's, or AddressSanitizer's in the
 * sanitizer build.  strdup, strndup and reallocarray are built on the
 * real malloc and realloc here, so no interceptor is needed for them.
 * Live blocks are kept in a fixed open-addressing table (no allocation).
 */

#include <errno.h>
#include <execinfo.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
void	 __real_free(void *);

void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);
void	*__wrap_reallocarray(void *, size_t, size_t);
char	*__wrap_strdup(const char *);
char	*__wrap_strndup(const char *, size_t);
void	 __wrap_free(void *);

#define SHIM_SLOTS	(1u << 17)	/* a power of two */
#define SHIM_FRAMES	24

struct shim_block {
	void		*p;		/* NULL: free slot */
	size_t		 size;
	void		*site;
	unsigned long	 seq;		/* allocation number in its run */
};

static struct shim_block shim_live[SHIM_SLOTS];
static size_t		 shim_nlive;
static int		 shim_armed;
static int		 shim_paused;
static unsigned long	 shim_count;
static unsigned long	 shim_fail_at;
static int		 shim_sticky;	/* fail every allocation from fail_at on */
static int		 shim_failed;
static void		*shim_fail_site;
static void		*shim_frames[SHIM_FRAMES];
static int		 shim_nframes;

/* Slot index of a pointer's home. */
static size_t
shim_hash(const void *p)
{
	uint64_t	h = (uint64_t)(uintptr_t)p;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (SHIM_SLOTS - 1);
}

/* Slot holding p, or -1. */
static long
shim_find(const void *p)
{
	size_t	i;

	if (p == NULL || shim_nlive == 0)
		return -1;
	for (i = shim_hash(p); shim_live[i].p != NULL;
	    i = (i + 1) & (SHIM_SLOTS - 1))
		if (shim_live[i].p == p)
			return (long)i;
	return -1;
}

/* Remember a live block. */
static void
shim_add(void *p, size_t size, void *site, unsigned long seq)
{
	size_t	i;

	if (shim_nlive >= SHIM_SLOTS / 2) {
		fputs("torture shim: too many live blocks\n", stderr);
		abort();
	}
	for (i = shim_hash(p); shim_live[i].p != NULL;
	    i = (i + 1) & (SHIM_SLOTS - 1))
		;
	shim_live[i].p = p;
	shim_live[i].size = size;
	shim_live[i].site = site;
	shim_live[i].seq = seq;
	shim_nlive++;
}

/* Forget slot i, shifting later members of its cluster back (no tombstones). */
static void
shim_del(size_t i)
{
	size_t	j, home;

	shim_live[i].p = NULL;
	shim_nlive--;
	for (j = (i + 1) & (SHIM_SLOTS - 1); shim_live[j].p != NULL;
	    j = (j + 1) & (SHIM_SLOTS - 1)) {
		home = shim_hash(shim_live[j].p);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		shim_live[i] = shim_live[j];
		shim_live[j].p = NULL;
		i = j;
	}
}

/* 1 if this allocation is to fail; counts it.  *seq gets its number. */
static int
shim_should_fail(void *site, unsigned long *seq)
{
	*seq = 0;
	if (!shim_armed || shim_paused)
		return 0;
	*seq = ++shim_count;
	if (shim_fail_at == 0 || shim_count < shim_fail_at ||
	    (shim_count > shim_fail_at && !shim_sticky))
		return 0;
	errno = ENOMEM;
	if (shim_failed)
		return 1;
	shim_failed = 1;
	shim_fail_site = site;
	shim_nframes = backtrace(shim_frames, SHIM_FRAMES);
	errno = ENOMEM;
	return 1;
}

/* Track a block made while armed. */
static void *
shim_made(void *p, size_t size, void *site, unsigned long seq)
{
	if (p != NULL && seq != 0)
		shim_add(p, size, site, seq);
	return p;
}

/* malloc as our objects see it. */
void *
__wrap_malloc(size_t n)
{
	void		*site = __builtin_return_address(0);
	unsigned long	 seq;

	if (shim_should_fail(site, &seq))
		return NULL;
	return shim_made(__real_malloc(n), n, site, seq);
}

/* calloc as our objects see it. */
void *
__wrap_calloc(size_t n, size_t size)
{
	void		*site = __builtin_return_address(0);
	unsigned long	 seq;

	if (shim_should_fail(site, &seq))
		return NULL;
	return shim_made(__real_calloc(n, size), n * size, site, seq);
}

/* realloc and reallocarray: a tracked block stays tracked under its new address. */
static void *
shim_realloc(void *old, size_t n, void *site)
{
	unsigned long	 seq;
	long		 slot;
	void		*p;

	if (shim_should_fail(site, &seq))
		return NULL;
	slot = shim_find(old);
	if ((p = __real_realloc(old, n)) == NULL)
		return NULL;
	if (slot != -1) {
		if (seq == 0)
			seq = shim_live[slot].seq;
		shim_del((size_t)slot);
	}
	return shim_made(p, n, site, seq);
}

/* realloc as our objects see it. */
void *
__wrap_realloc(void *old, size_t n)
{
	return shim_realloc(old, n, __builtin_return_address(0));
}

/* reallocarray, checked for overflow here and done by the real realloc. */
void *
__wrap_reallocarray(void *old, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return shim_realloc(old, n * size, __builtin_return_address(0));
}

/* strdup and strndup on the real malloc. */
static char *
shim_dup(const char *s, size_t n, void *site)
{
	unsigned long	 seq;
	char		*p;

	if (shim_should_fail(site, &seq))
		return NULL;
	if ((p = shim_made(__real_malloc(n + 1), n + 1, site, seq)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* strdup as our objects see it. */
char *
__wrap_strdup(const char *s)
{
	return shim_dup(s, strlen(s), __builtin_return_address(0));
}

/* strndup as our objects see it. */
char *
__wrap_strndup(const char *s, size_t n)
{
	return shim_dup(s, strnlen(s, n), __builtin_return_address(0));
}

/* free: a tracked block is forgotten, any block freed for real. */
void
__wrap_free(void *p)
{
	long	slot;

	if ((slot = shim_find(p)) != -1)
		shim_del((size_t)slot);
	__real_free(p);
}

/* Count from now on and fail allocation number fail_at (0: none), or every one from it on (sticky). */
void
shim_arm(unsigned long fail_at, int sticky)
{
	static int	warm;

	if (!warm) {
		/* backtrace() loads the unwinder on first use: not mid-run. */
		shim_nframes = backtrace(shim_frames, SHIM_FRAMES);
		warm = 1;
	}
	shim_count = 0;
	shim_fail_at = fail_at;
	shim_sticky = sticky;
	shim_failed = 0;
	shim_fail_site = NULL;
	shim_nframes = 0;
	shim_paused = 0;
	shim_armed = 1;
}

/* Stop counting; report what the run allocated, failed and left live. */
void
shim_disarm(struct shim_report *r)
{
	unsigned long	first = 0;
	size_t		i;

	shim_armed = 0;
	memset(r, 0, sizeof(*r));
	r->allocs = shim_count;
	r->failed = shim_failed;
	r->fail_site = shim_fail_site;
	r->leaks = shim_nlive;
	for (i = 0; i < SHIM_SLOTS && shim_nlive > 0; i++) {
		if (shim_live[i].p == NULL)
			continue;
		if (first == 0 || shim_live[i].seq < first) {
			first = shim_live[i].seq;
			r->leak_site = shim_live[i].site;
			r->leak_size = shim_live[i].size;
		}
	}
	/* Leaked blocks are left to LeakSanitizer; the table starts afresh. */
	if (shim_nlive > 0)
		memset(shim_live, 0, sizeof(shim_live));
	shim_nlive = 0;
}

/* Stop counting the driver's own allocations (nests). */
void
shim_pause(void)
{
	shim_paused++;
}

/* Count again after shim_pause(). */
void
shim_resume(void)
{
	shim_paused--;
}

/* "file(+0xoffset)" of a code address, as addr2line -e file takes it (static buffer). */
const char *
shim_site(const void *addr)
{
	static char	out[512];
	Dl_info		info;

	if (addr != NULL && dladdr(addr, &info) != 0 && info.dli_fname != NULL)
		snprintf(out, sizeof(out), "%s(+0x%lx)%s%s", info.dli_fname,
		    (unsigned long)((const char *)addr -
		    (const char *)info.dli_fbase),
		    info.dli_sname != NULL ? " " : "",
		    info.dli_sname != NULL ? info.dli_sname : "");
	else
		snprintf(out, sizeof(out), "%p", addr);
	return out;
}

/* Print the call stack of the last run's failed allocation (stderr). */
void
shim_print_fail_stack(void)
{
	int	i;

	for (i = 0; i < shim_nframes; i++)
		fprintf(stderr, "    #%d %s\n", i, shim_site(shim_frames[i]));
}
