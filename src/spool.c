/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The spool file (spool.h): append with fsync, replay oldest first, adopt
 * the files of dead processes.  Runs on a worker's Redis thread only.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nextmodel.h"
#include "spool.h"

struct spool {
	char	*dir;
	char	*path;
	int	 fd;
	size_t	 max;
	size_t	 size;
};

/* mkdir -p for one or two missing levels; 0 or -1. */
static int
make_dir(const char *dir)
{
	char tmp[4096], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -1;
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Open and lock DIR/spool-NAME.jsonl. */
struct spool *
spool_open(const char *dir, const char *name, size_t max_bytes, char *err,
    size_t errlen)
{
	struct spool *sp;
	struct stat st;
	size_t n;

	if (make_dir(dir) != 0) {
		snprintf(err, errlen, "spool folder %s: %s", dir,
		    strerror(errno));
		return NULL;
	}
	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		goto oom;
	n = strlen(dir) + strlen(name) + 16;
	sp->dir = strdup(dir);
	sp->path = malloc(n);
	if (sp->dir == NULL || sp->path == NULL)
		goto oom;
	snprintf(sp->path, n, "%s/spool-%s.jsonl", dir, name);
	sp->max = max_bytes;
	sp->fd = open(sp->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (sp->fd < 0 || flock(sp->fd, LOCK_EX | LOCK_NB) != 0 ||
	    fstat(sp->fd, &st) != 0) {
		snprintf(err, errlen, "spool file %s: %s", sp->path,
		    strerror(errno));
		if (sp->fd >= 0)
			close(sp->fd);
		sp->fd = -1;
		spool_free(sp);
		return NULL;
	}
	sp->size = (size_t)st.st_size;
	return sp;
oom:
	snprintf(err, errlen, "out of memory");
	spool_free(sp);
	return NULL;
}

/* Close and free; the file stays (with its records, if any). */
void
spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp->dir);
	free(sp->path);
	free(sp);
}

/* Write all of p, retrying short writes; 0 or -1. */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Append one record and fsync. */
int
spool_append(struct spool *sp, const char *rec, size_t len, char *err,
    size_t errlen)
{
	char *line;

	if (len == 0 || len > SPOOL_MAX_RECORD || memchr(rec, '\n', len)) {
		snprintf(err, errlen, "not a spool record");
		return -1;
	}
	if (sp->size + len + 1 > sp->max) {
		snprintf(err, errlen, "spool file %s is full (%zu bytes)",
		    sp->path, sp->max);
		return -1;
	}
	if ((line = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(line, rec, len);
	line[len] = '\n';
	/* One write: a crash leaves a whole line or a torn last one. */
	if (write_all(sp->fd, line, len + 1) != 0 || fdatasync(sp->fd) != 0) {
		snprintf(err, errlen, "spool file %s: %s", sp->path,
		    strerror(errno));
		free(line);
		return -1;
	}
	free(line);
	sp->size += len + 1;
	return 0;
}

size_t
spool_bytes(const struct spool *sp)
{
	return sp->size;
}

/* The state of one replay: records batched for store(). */
struct batch {
	int		(*store)(void *, const char **, const size_t *, int);
	void		*arg;
	int		 max;
	int		 n;
	const char	**recs;
	size_t		*lens;
	long		 stored;
};

/* Hand the batch over; 0 or -1. */
static int
flush(struct batch *b)
{
	if (b->n == 0)
		return 0;
	if (b->store(b->arg, b->recs, b->lens, b->n) != 0)
		return -1;
	b->stored += b->n;
	b->n = 0;
	return 0;
}

/*
 * Replay the records of fd from its start.  Whole lines only: a torn last
 * line (a crash mid-append) is dropped.  0 or -1.
 */
static int
replay_fd(int fd, struct batch *b)
{
	size_t cap = 1024 * 1024, len = 0, off, i;
	char *buf, *nl, *nbuf;
	ssize_t r;
	int rc = -1, skipping = 0;
	off_t pos = 0;

	if ((buf = malloc(cap)) == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			/* A line longer than any record: skip it whole. */
			if (cap >= 2 * SPOOL_MAX_RECORD + 1024 * 1024) {
				len = 0;
				skipping = 1;
				continue;
			}
			if ((nbuf = realloc(buf, cap * 2)) == NULL)
				goto out;
			buf = nbuf;
			cap *= 2;
		}
		r = pread(fd, buf + len, cap - len, pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		pos += r;
		len += (size_t)r;
		/* The batch points into buf: hand it over before moving buf. */
		for (off = 0; (nl = memchr(buf + off, '\n', len - off)) != NULL;
		    off = (size_t)(nl - buf) + 1) {
			i = (size_t)(nl - (buf + off));
			if (skipping || i == 0 || i > SPOOL_MAX_RECORD) {
				skipping = 0;
				continue;
			}
			b->recs[b->n] = buf + off;
			b->lens[b->n] = i;
			if (++b->n == b->max && flush(b) != 0)
				goto out;
		}
		if (flush(b) != 0)
			goto out;
		memmove(buf, buf + off, len - off);
		len -= off;
	}
	rc = flush(b);
out:
	b->n = 0;
	free(buf);
	return rc;
}

/* A file of a dead process: replay it and remove it.  0, or -1 to stop. */
static int
adopt(struct spool *sp, const char *name, struct batch *b)
{
	char path[4096];
	struct stat st;
	int fd, rc = 0;

	if (snprintf(path, sizeof(path), "%s/%s", sp->dir, name) >=
	    (int)sizeof(path) || strcmp(path, sp->path) == 0)
		return 0;
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return 0;
	/* Locked: its process lives.  Unlinked: someone adopted it. */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 ||
	    st.st_nlink == 0) {
		close(fd);
		return 0;
	}
	if (st.st_size > 0 && replay_fd(fd, b) != 0)
		rc = -1;
	else
		(void)unlink(path);
	close(fd);
	return rc;
}

/* 1 if name is a spool file. */
static int
is_spool_name(const char *name)
{
	size_t n = strlen(name);

	return strncmp(name, "spool-", 6) == 0 && n > 12 &&
	    strcmp(name + n - 6, ".jsonl") == 0;
}

/* 1 if this process's file or a dead process's file has records. */
int
spool_pending(struct spool *sp)
{
	struct dirent *de;
	struct stat st;
	char path[4096];
	DIR *d;
	int fd, found = 0;

	if (sp->size > 0)
		return 1;
	if ((d = opendir(sp->dir)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		if (!is_spool_name(de->d_name) ||
		    snprintf(path, sizeof(path), "%s/%s", sp->dir,
		    de->d_name) >= (int)sizeof(path) ||
		    strcmp(path, sp->path) == 0)
			continue;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (fstat(fd, &st) == 0 && st.st_nlink > 0)
				found = 1;
			(void)flock(fd, LOCK_UN);
		}
		close(fd);
	}
	closedir(d);
	return found;
}

/* Replay this process's records, then those of dead processes. */
long
spool_replay(struct spool *sp, int (*store)(void *, const char **,
    const size_t *, int), void *arg, int batch)
{
	struct batch b;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	memset(&b, 0, sizeof(b));
	b.store = store;
	b.arg = arg;
	b.max = batch > 0 ? batch : 64;
	b.recs = calloc((size_t)b.max, sizeof(*b.recs));
	b.lens = calloc((size_t)b.max, sizeof(*b.lens));
	if (b.recs == NULL || b.lens == NULL) {
		rc = -1;
		goto out;
	}
	if (sp->size > 0) {
		if (replay_fd(sp->fd, &b) != 0) {
			rc = -1;
			goto out;
		}
		if (ftruncate(sp->fd, 0) != 0 || fdatasync(sp->fd) != 0) {
			rc = -1;
			goto out;
		}
		sp->size = 0;
	}
	if ((d = opendir(sp->dir)) == NULL)
		goto out;
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (is_spool_name(de->d_name))
			rc = adopt(sp, de->d_name, &b);
	closedir(d);
out:
	free(b.recs);
	free(b.lens);
	return rc == 0 ? b.stored : -1;
}
