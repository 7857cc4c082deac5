/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A main() for fuzz targets without libFuzzer: runs the target on every
 * file named (directories are read, sorted), then on a fixed-seed series
 * of mutations of each, so make check is a small, repeatable fuzz run.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REPLAY_MUTATIONS	2000
#define REPLAY_MAX_FILE		(4 * 1024 * 1024)

/* Bytes that matter to the parsers, tried more often than random ones. */
static const unsigned char replay_magic[] = {
	'"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', '\r', '\t', 'u',
	'0', '9', '-', '.', 'e', 'd', 'a', 't', 'n', 'f', '/', 0x00, 0x1f,
	0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xff,
};

static uint64_t	replay_state = 0x9e3779b97f4a7c15ULL;
static long	replay_count;

/* xorshift64*: fixed seed, so every run tries the same inputs. */
static uint32_t
replay_rand(void)
{
	replay_state ^= replay_state >> 12;
	replay_state ^= replay_state << 25;
	replay_state ^= replay_state >> 27;
	return (uint32_t)((replay_state * 2685821657736338717ULL) >> 32);
}

/* Run the target on an exact-size heap copy, so overreads are caught. */
static void
replay_one(const unsigned char *p, size_t n)
{
	unsigned char	*copy;

	if ((copy = malloc(n == 0 ? 1 : n)) == NULL) {
		perror("malloc");
		exit(1);
	}
	if (n > 0)
		memcpy(copy, p, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	replay_count++;
}

/* How many bytes an edit may touch, avail > 0 being left after it. */
static size_t
replay_span(size_t avail)
{
	return avail < 32 ? avail : 32;
}

/* Apply one random edit to buf (len *n, room cap). */
static void
replay_mutate_once(unsigned char *buf, size_t *n, size_t cap)
{
	size_t	len = *n, at, span, to;

	at = len > 0 ? replay_rand() % len : 0;
	switch (replay_rand() % 8) {
	case 0:			/* flip a bit */
		if (len > 0)
			buf[at] ^= (unsigned char)(1u << (replay_rand() % 8));
		break;
	case 1:			/* a meaningful byte */
		if (len > 0)
			buf[at] = replay_magic[replay_rand() %
			    sizeof(replay_magic)];
		break;
	case 2:			/* a random byte */
		if (len > 0)
			buf[at] = (unsigned char)replay_rand();
		break;
	case 3:			/* insert a meaningful byte */
		if (len < cap) {
			memmove(buf + at + 1, buf + at, len - at);
			buf[at] = replay_magic[replay_rand() %
			    sizeof(replay_magic)];
			len++;
		}
		break;
	case 4:			/* delete a run */
		if (len > 0) {
			span = 1 + replay_rand() % replay_span(len - at);
			memmove(buf + at, buf + at + span, len - at - span);
			len -= span;
		}
		break;
	case 5:			/* duplicate a run somewhere */
		if (len > 0) {
			span = 1 + replay_rand() % replay_span(len - at);
			if (span > cap - len)
				break;
			to = replay_rand() % (len + 1);
			memmove(buf + to + span, buf + to, len - to);
			memmove(buf + to, buf + (at >= to ? at + span : at),
			    span);
			len += span;
		}
		break;
	case 6:			/* truncate */
		len = at;
		break;
	default:		/* overwrite a run with one byte */
		if (len > 0) {
			span = 1 + replay_rand() % replay_span(len - at);
			memset(buf + at, replay_magic[replay_rand() %
			    sizeof(replay_magic)], span);
		}
		break;
	}
	*n = len;
}

/* The seed itself, then REPLAY_MUTATIONS mutants of it. */
static void
replay_data(const unsigned char *p, size_t n, long mutations)
{
	unsigned char	*buf;
	size_t		 cap = 2 * n + 64, len;
	long		 i;
	int		 k, edits;

	replay_one(p, n);
	if ((buf = malloc(cap)) == NULL) {
		perror("malloc");
		exit(1);
	}
	for (i = 0; i < mutations; i++) {
		memcpy(buf, p, n);
		len = n;
		edits = 1 + (int)(replay_rand() % 4);
		for (k = 0; k < edits; k++)
			replay_mutate_once(buf, &len, cap);
		replay_one(buf, len);
	}
	free(buf);
}

/* Read a whole file; caller frees.  NULL (with a message) on error. */
static unsigned char *
replay_read(const char *path, size_t *n)
{
	FILE		*f;
	unsigned char	*buf;
	size_t		 len = 0;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(REPLAY_MAX_FILE)) == NULL) {
		fclose(f);
		return NULL;
	}
	len = fread(buf, 1, REPLAY_MAX_FILE, f);
	if (ferror(f) || !feof(f)) {
		fprintf(stderr, "replay: %s: read error or over %d bytes\n",
		    path, REPLAY_MAX_FILE);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	*n = len;
	return buf;
}

/* Replay one file; 0 or -1. */
static int
replay_file(const char *path, long mutations)
{
	unsigned char	*buf;
	size_t		 n;

	if ((buf = replay_read(path, &n)) == NULL)
		return -1;
	replay_data(buf, n, mutations);
	free(buf);
	return 0;
}

/* For scandir: regular-looking names only (no dot files). */
static int
replay_filter(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Replay a file, or every file of a directory in name order; 0 or -1. */
static int
replay_path(const char *path, long mutations)
{
	struct stat	  st;
	struct dirent	**ents;
	char		  sub[4096];
	int		  i, n, ret = 0;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, mutations);
	if ((n = scandir(path, &ents, replay_filter, alphasort)) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (snprintf(sub, sizeof(sub), "%s/%s", path,
		    ents[i]->d_name) >= (int)sizeof(sub))
			ret = -1;
		else if (stat(sub, &st) == 0 && S_ISREG(st.st_mode) &&
		    replay_file(sub, mutations) == -1)
			ret = -1;
		free(ents[i]);
	}
	free(ents);
	return ret;
}

int
main(int argc, char **argv)
{
	const char	*env;
	char		*end;
	long		 mutations = REPLAY_MUTATIONS;
	int		 i, ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file-or-dir ...\n"
		    "  (NM_FUZZ_MUTATIONS sets mutations per file, default %d)\n",
		    argv[0], REPLAY_MUTATIONS);
		return 2;
	}
	if ((env = getenv("NM_FUZZ_MUTATIONS")) != NULL && *env != '\0') {
		errno = 0;
		mutations = strtol(env, &end, 10);
		if (errno != 0 || *end != '\0' || mutations < 0) {
			fprintf(stderr, "replay: bad NM_FUZZ_MUTATIONS\n");
			return 2;
		}
	}
	for (i = 1; i < argc; i++) {
		if (replay_path(argv[i], mutations) == -1)
			ret = 1;
	}
	printf("%ld inputs\n", replay_count);
	return ret;
}
