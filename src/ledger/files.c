/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodel-ledger's day files.  Exactly once per key, even with several
 * ledgers appending to one folder: a writer holds flock(LOCK_EX) on the
 * file while it catches up on what others appended since its last look
 * (keys kept in memory as 128-bit digests), appends only the new lines,
 * and fdatasyncs before it lets go.  A line torn by a writer that died
 * mid-write is cut off by the next writer (it was never acknowledged, so
 * it comes again whole).  A few recent files stay open; a file opened
 * again is read once from the start.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "log.h"
#include "receipt.h"
#include "xmalloc.h"
#include "files.h"

#define FILES_OPEN	4		/* day files kept open */
#define DIGEST_LEN	16
#define SCAN_CHUNK	(256 * 1024)
#define SCAN_LINE_MAX	(64 * 1024)	/* longer: not a line of ours */

/* The keys of one file, as digests; all-zero slots are empty. */
struct idset {
	unsigned char	(*slot)[DIGEST_LEN];
	size_t		 n, cap;
	int		 has_zero;	/* the all-zero digest itself */
};

struct dayfile {
	char		 name[64];	/* "" when the slot is free */
	int		 fd;
	off_t		 scanned;	/* bytes of whole lines read or written */
	struct idset	 ids;
	unsigned long	 used;
};

struct ledger_files {
	char		*dir;
	struct dayfile	 f[FILES_OPEN];
	unsigned long	 tick;
	char		*scanbuf;	/* SCAN_CHUNK + SCAN_LINE_MAX */
};

static const unsigned char zero[DIGEST_LEN];

/* 1 if d is in s. */
static int
idset_has(const struct idset *s, const unsigned char *d)
{
	size_t	 h;
	uint64_t v;

	if (memcmp(d, zero, DIGEST_LEN) == 0)
		return s->has_zero;
	if (s->cap == 0)
		return 0;
	memcpy(&v, d, sizeof(v));
	for (h = (size_t)v & (s->cap - 1); memcmp(s->slot[h], zero,
	    DIGEST_LEN) != 0; h = (h + 1) & (s->cap - 1))
		if (memcmp(s->slot[h], d, DIGEST_LEN) == 0)
			return 1;
	return 0;
}

/* Put d in s (no check for presence); s grows as needed. */
static void
idset_put(struct idset *s, const unsigned char *d)
{
	unsigned char	(*old)[DIGEST_LEN] = s->slot;
	size_t		 oldcap = s->cap, i, h;
	uint64_t	 v;

	if (memcmp(d, zero, DIGEST_LEN) == 0) {
		s->has_zero = 1;
		return;
	}
	if ((s->n + 1) * 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->slot = xcalloc(s->cap, DIGEST_LEN);
		s->n = 0;
		for (i = 0; i < oldcap; i++)
			if (memcmp(old[i], zero, DIGEST_LEN) != 0)
				idset_put(s, old[i]);
		free(old);
	}
	memcpy(&v, d, sizeof(v));
	for (h = (size_t)v & (s->cap - 1); memcmp(s->slot[h], zero,
	    DIGEST_LEN) != 0; h = (h + 1) & (s->cap - 1))
		;
	memcpy(s->slot[h], d, DIGEST_LEN);
	s->n++;
}

/* The digest of a key. */
static void
digest(const char *key, size_t len, unsigned char *d)
{
	unsigned char	 full[CRYPTO_SHA256_LEN];

	crypto_sha256(key, len, full);
	memcpy(d, full, DIGEST_LEN);
}

/* The first member's string value of a line {"name":"value",...}; 0/-1. */
static int
line_key(const char *s, size_t len, const char **key, size_t *klen)
{
	const char	*p, *end = s + len, *q;

	if (len < 2 || s[0] != '{' || s[1] != '"')
		return -1;
	if ((p = memchr(s + 2, '"', len - 2)) == NULL || end - p < 3 ||
	    p[1] != ':' || p[2] != '"')
		return -1;
	p += 3;
	if ((q = memchr(p, '"', (size_t)(end - p))) == NULL)
		return -1;
	*key = p;
	*klen = (size_t)(q - p);
	return 0;
}

/* Close a day file and forget its keys. */
static void
day_close(struct dayfile *df)
{
	if (df->name[0] != '\0')
		close(df->fd);
	free(df->ids.slot);
	memset(df, 0, sizeof(*df));
	df->fd = -1;
}

/* Files in dir. */
struct ledger_files *
files_new(const char *dir, char *err, size_t errlen)
{
	struct ledger_files	*lf;
	size_t			 i;

	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	if (access(dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	lf = xcalloc(1, sizeof(*lf));
	lf->dir = xstrdup(dir);
	lf->scanbuf = xmalloc(SCAN_CHUNK + SCAN_LINE_MAX);
	for (i = 0; i < FILES_OPEN; i++)
		day_close(&lf->f[i]);
	return lf;
}

/* Close every file. */
void
files_free(struct ledger_files *lf)
{
	size_t	 i;

	if (lf == NULL)
		return;
	for (i = 0; i < FILES_OPEN; i++)
		day_close(&lf->f[i]);
	free(lf->scanbuf);
	free(lf->dir);
	free(lf);
}

/* fsync the folder, so a new file's name is as durable as its lines. */
static int
sync_dir(const struct ledger_files *lf)
{
	int	 fd, rc;

	if ((fd = open(lf->dir, O_RDONLY | O_DIRECTORY)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The open day file called name, opened (and made) if need be; NULL + err. */
static struct dayfile *
day_get(struct ledger_files *lf, const char *name, char *err, size_t errlen)
{
	struct dayfile	*df = NULL;
	char		 path[4096];
	size_t		 i;
	int		 fd, made = 1;

	for (i = 0; i < FILES_OPEN; i++) {
		if (strcmp(lf->f[i].name, name) == 0) {
			lf->f[i].used = ++lf->tick;
			return &lf->f[i];
		}
		if (df == NULL || lf->f[i].used < df->used)
			df = &lf->f[i];
	}
	day_close(df);
	snprintf(path, sizeof(path), "%s/%s", lf->dir, name);
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1 && errno == EEXIST) {
		made = 0;
		fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	}
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (made && sync_dir(lf) == -1)
		log_warn("fsync %s", lf->dir);
	snprintf(df->name, sizeof(df->name), "%s", name);
	df->fd = fd;
	df->used = ++lf->tick;
	return df;
}

/*
 * Read what was appended since df->scanned, adding each whole line's key.
 * *size gets the file's length (more than scanned: a torn last line).
 */
static int
day_scan(struct ledger_files *lf, struct dayfile *df, off_t *size,
    char *err, size_t errlen)
{
	unsigned char	 d[DIGEST_LEN];
	char		*buf = lf->scanbuf, *nl;
	const char	*key;
	size_t		 have = 0, start, klen;
	off_t		 pos = df->scanned, base = df->scanned;
	ssize_t		 n;
	int		 skipping = 0;

	for (;;) {
		n = pread(df->fd, buf + have, SCAN_CHUNK, pos);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: read: %s", df->name,
			    strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		pos += n;
		have += (size_t)n;
		start = 0;
		while ((nl = memchr(buf + start, '\n', have - start)) != NULL) {
			size_t len = (size_t)(nl - (buf + start));

			if (!skipping && line_key(buf + start, len, &key,
			    &klen) == 0) {
				digest(key, klen, d);
				if (!idset_has(&df->ids, d))
					idset_put(&df->ids, d);
			}
			skipping = 0;
			start += len + 1;
			df->scanned = base + (off_t)start;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		base += (off_t)start;
		if (have > SCAN_LINE_MAX) {	/* not a line of ours */
			base += (off_t)have;
			have = 0;
			skipping = 1;
		}
	}
	*size = pos;
	return 0;
}

/* write(2) all of b, going on after short writes; 0 or -1. */
static int
write_all(int fd, const char *b, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, b, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Append the lines whose keys name does not hold yet, durably. */
int
files_append(struct ledger_files *lf, const char *name,
    const struct files_line *lines, size_t n, size_t *added, char *err,
    size_t errlen)
{
	struct dayfile	*df;
	struct buf	 out;
	unsigned char	(*ds)[DIGEST_LEN] = NULL;
	off_t		 size;
	size_t		 i, k = 0;
	int		 rc = -1, locked = 0;

	*added = 0;
	if (n == 0)
		return 0;
	if ((df = day_get(lf, name, err, errlen)) == NULL)
		return -1;
	buf_init(&out, 0);
	ds = xcalloc(n, DIGEST_LEN);
	while (flock(df->fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			snprintf(err, errlen, "%s: flock: %s", name,
			    strerror(errno));
			goto out;
		}
	}
	locked = 1;
	if (day_scan(lf, df, &size, err, errlen) != 0)
		goto out;
	if (size > df->scanned) {
		/* Only a dead writer leaves a line unfinished: we hold the lock. */
		log_warnx("%s: cutting off %lld bytes of a line left unfinished",
		    name, (long long)(size - df->scanned));
		if (ftruncate(df->fd, df->scanned) == -1) {
			snprintf(err, errlen, "%s: ftruncate: %s", name,
			    strerror(errno));
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		digest(lines[i].key, strlen(lines[i].key), ds[k]);
		if (idset_has(&df->ids, ds[k]))
			continue;
		if (buf_append(&out, lines[i].text, lines[i].len) != 0 ||
		    buf_appendc(&out, '\n') != 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		idset_put(&df->ids, ds[k]);	/* a key twice in one batch */
		k++;
	}
	if (write_all(df->fd, out.data, out.len) == -1) {
		snprintf(err, errlen, "%s: write: %s", name, strerror(errno));
		goto out;
	}
	/* Even with nothing new: lines a dead writer left may not be on disk. */
	if (fdatasync(df->fd) == -1) {
		snprintf(err, errlen, "%s: fdatasync: %s", name,
		    strerror(errno));
		goto out;
	}
	df->scanned += (off_t)out.len;
	*added = k;
	rc = 0;
out:
	if (locked)
		(void)flock(df->fd, LOCK_UN);
	if (rc != 0)
		day_close(df);	/* read it again from the start next time */
	free(ds);
	buf_free(&out);
	return rc;
}
