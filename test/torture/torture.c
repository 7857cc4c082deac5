/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The torture test: "fail the request, not the process", proved.  For
 * each scenario and seed it runs once counting our allocations (K), then
 * K more times with allocation N = 1..K failing, and checks that each run
 * neither crashes nor leaks (every block the run allocated is freed), and
 * either reports failure or succeeds with exactly the baseline's output.
 * NM_TORTURE_ONLY=text limits it to "scenario/seed" names containing text;
 * NM_TORTURE_VERBOSE=1 names each run before it starts and prints each
 * finding's failed-allocation stack (test/torture/symbolize.sh reads it).
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#include "shim.h"
#include "torture.h"

#define TORTURE_MAX_FILE	(1024 * 1024)
#define TORTURE_MAX_REPORTS	10	/* findings printed per seed */

static uint64_t	torture_digest;
static int	torture_last_status;
static char	torture_where[512];	/* the run under way, for a crash */
static int	torture_verbose;
static unsigned long torture_base_ok;	/* seeds whose baseline succeeded */

/* FNV-1a over the bytes, then a separator, so that [ab][c] and [a][bc] differ. */
void
torture_record(const void *p, size_t n)
{
	const unsigned char	*s = p;
	size_t			 i;

	for (i = 0; i < n; i++)
		torture_digest = (torture_digest ^ s[i]) * 0x100000001b3ULL;
	torture_digest = (torture_digest ^ 0xff) * 0x100000001b3ULL;
}

/* A number into the digest. */
void
torture_record_int(long long v)
{
	torture_record(&v, sizeof(v));
}

/* The status a failed run answered with (checked by torture_seed). */
void
torture_status(int status)
{
	torture_last_status = status;
}

/* Say which promise the current run broke; returns T_BAD. */
enum torture_result
torture_bad(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "torture: %s: ", torture_where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return T_BAD;
}

/* Say which run died: from a signal handler or the sanitizers' death callback. */
static void
torture_died(void)
{
	static const char	pre[] = "\ntorture: died in ";

	(void)!write(2, pre, sizeof(pre) - 1);
	(void)!write(2, torture_where, strlen(torture_where));
	(void)!write(2, "\n", 1);
}

#if !defined(__SANITIZE_ADDRESS__)
/* Plain build: name the run, then die of the signal as before. */
static void
torture_signal(int sig)
{
	torture_died();
	signal(sig, SIG_DFL);
	raise(sig);
}
#endif

/* One run with allocation fail_at failing (0: none; sticky: and all after it); the shim's report in r. */
static enum torture_result
torture_run(const struct torture_scenario *s, const char *seed, const char *p,
    size_t n, unsigned long fail_at, int sticky, struct shim_report *r,
    uint64_t *digest)
{
	enum torture_result	res;

	snprintf(torture_where, sizeof(torture_where), "%s/%s N=%lu%s", s->name,
	    seed, fail_at, sticky ? "+" : "");
	/* UBSan dies without the death callback: the last line says where. */
	if (torture_verbose)
		fprintf(stderr, "torture: run %s\n", torture_where);
	torture_digest = 0xcbf29ce484222325ULL;
	torture_last_status = 0;
	shim_arm(fail_at, sticky);
	res = s->run(p, n);
	shim_disarm(r);
	*digest = torture_digest;
	return res;
}

/* A finding: what failed, where the allocation was failed, where a leak was made. */
static void
torture_report(const char *what, const struct shim_report *r)
{
	fprintf(stderr, "torture: %s: %s\n", torture_where, what);
	if (r->failed)
		fprintf(stderr, "  failed allocation called from %s\n",
		    shim_site(r->fail_site));
	if (r->leaks > 0)
		fprintf(stderr, "  %lu block(s) left live; the first (%zu bytes) "
		    "from %s\n", r->leaks, r->leak_size, shim_site(r->leak_site));
	if (torture_verbose && r->failed)
		shim_print_fail_stack();
}

/*
 * Baseline, then every allocation failed in turn, then every one from N
 * on failed (N=5+: memory that stays short, so error paths that allocate
 * fail too); adds to the counts, returns findings.
 */
static int
torture_seed(const struct torture_scenario *s, const char *seed, const char *p,
    size_t n, unsigned long *injected)
{
	struct shim_report	r;
	enum torture_result	base, res;
	uint64_t		base_digest, digest;
	unsigned long		k, fail_at;
	int			found = 0, sticky;
	char			what[128];

	base = torture_run(s, seed, p, n, 0, 0, &r, &base_digest);
	k = r.allocs;
	if (base == T_OK)
		torture_base_ok++;
	if (base == T_BAD || r.leaks > 0) {
		torture_report(base == T_BAD ? "broken without any failure" :
		    "leaks without any failure", &r);
		return 1;
	}
	for (sticky = 0; sticky < 2; sticky++)
	for (fail_at = 1; fail_at <= k; fail_at++) {
		/* Failing the last one and all after it is the same as failing it alone. */
		if (sticky && fail_at == k)
			break;
		res = torture_run(s, seed, p, n, fail_at, sticky, &r, &digest);
		(*injected)++;
		what[0] = '\0';
		if (!r.failed)
			snprintf(what, sizeof(what), "only %lu allocations of %lu "
			    "(not deterministic)", r.allocs, k);
		else if (res == T_BAD)
			snprintf(what, sizeof(what), "broken promise (above)");
		else if (r.leaks > 0)
			snprintf(what, sizeof(what), "leak on the failure path");
		else if (res == T_OK && base != T_OK)
			snprintf(what, sizeof(what), "success where the baseline "
			    "failed");
		else if (res == T_OK && digest != base_digest)
			snprintf(what, sizeof(what), "success with output other "
			    "than the baseline's");
		else if (res == T_FAILED && base == T_OK &&
		    torture_last_status >= 400 && torture_last_status < 500)
			snprintf(what, sizeof(what), "our allocation failure "
			    "answered as the client's fault (%d)",
			    torture_last_status);
		if (what[0] == '\0')
			continue;
		if (found++ < TORTURE_MAX_REPORTS)
			torture_report(what, &r);
	}
	if (found > TORTURE_MAX_REPORTS)
		fprintf(stderr, "torture: %s/%s: %d findings in all\n", s->name,
		    seed, found);
	return found;
}

/* Read a seed file whole; caller frees; NULL on error (said). */
static char *
torture_read(const char *path, size_t *n)
{
	FILE	*f;
	char	*buf;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "torture: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(TORTURE_MAX_FILE)) == NULL) {
		fclose(f);
		return NULL;
	}
	*n = fread(buf, 1, TORTURE_MAX_FILE, f);
	if (ferror(f) || !feof(f)) {
		fprintf(stderr, "torture: %s: unreadable or too big\n", path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* For scandir: no dot files. */
static int
torture_filter(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* 1 if NM_TORTURE_ONLY leaves scenario/seed out. */
static int
torture_skip(const char *scenario, const char *seed)
{
	const char	*only = getenv("NM_TORTURE_ONLY");
	char		 name[512];

	if (only == NULL || *only == '\0')
		return 0;
	snprintf(name, sizeof(name), "%s/%s", scenario, seed);
	return strstr(name, only) == NULL;
}

/* One seed of s: a built-in one is its own text. */
static int
torture_file(const struct torture_scenario *s, const char *dir,
    const char *seed, unsigned long *nseeds, unsigned long *injected)
{
	char	path[4096], *p;
	size_t	n;
	int	found;

	if (torture_skip(s->name, seed))
		return 0;
	(*nseeds)++;
	if (s->corpus == NULL)
		return torture_seed(s, seed, seed, strlen(seed), injected);
	if (snprintf(path, sizeof(path), "%s/%s", dir, seed) >=
	    (int)sizeof(path) || (p = torture_read(path, &n)) == NULL)
		return 1;
	found = torture_seed(s, seed, p, n, injected);
	free(p);
	return found;
}

/* Every seed of a scenario; returns findings. */
static int
torture_scenario(const struct torture_scenario *s, const char *srcdir,
    unsigned long *nseeds, unsigned long *injected)
{
	struct dirent	**ents;
	char		  dir[4096];
	int		  i, n, found = 0;

	snprintf(dir, sizeof(dir), "%s/test/%s", srcdir,
	    s->corpus != NULL ? s->corpus : "");
	if (s->seeds != NULL) {
		for (i = 0; s->seeds[i] != NULL; i++)
			found += torture_file(s, dir, s->seeds[i], nseeds,
			    injected);
		return found;
	}
	if ((n = scandir(dir, &ents, torture_filter, alphasort)) == -1) {
		fprintf(stderr, "torture: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (s->glob == NULL || fnmatch(s->glob, ents[i]->d_name, 0) == 0)
			found += torture_file(s, dir, ents[i]->d_name, nseeds,
			    injected);
		free(ents[i]);
	}
	free(ents);
	return found;
}

/* Every scenario on its seeds; exit 1 on any finding. */
int
main(void)
{
	const struct torture_scenario	*s;
	const char			*srcdir, *v;
	struct timespec			 t0, t1;
	unsigned long			 nseeds, injected, all_injected = 0;
	int				 found, all_found = 0, nscen = 0;

	if ((srcdir = getenv("NM_SRCDIR")) == NULL)
		srcdir = ".";
	torture_verbose = (v = getenv("NM_TORTURE_VERBOSE")) != NULL &&
	    *v != '\0' && *v != '0';
#if defined(__SANITIZE_ADDRESS__)
	/* The sanitizers report the crash themselves, then call this. */
	__sanitizer_set_death_callback(torture_died);
#else
	signal(SIGSEGV, torture_signal);
	signal(SIGBUS, torture_signal);
	signal(SIGABRT, torture_signal);
	signal(SIGFPE, torture_signal);
#endif
	for (s = torture_scenarios; s->name != NULL; s++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		nseeds = injected = torture_base_ok = 0;
		found = torture_scenario(s, srcdir, &nseeds, &injected);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("%-10s %3lu seeds (%3lu succeed) %6lu runs failing "
		    "allocations %3d findings %5.2fs\n", s->name, nseeds,
		    torture_base_ok,
		    injected, found,
		    (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		nscen++;
		all_injected += injected;
		all_found += found;
	}
	printf("%d scenarios, %lu runs failing allocations, %d findings\n", nscen,
	    all_injected, all_found);
	return all_found > 0 ? 1 : 0;
}
