/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Logging to stderr.  Each line is formatted into one stack buffer and
 * written with a single write(2), so lines from several processes sharing
 * the descriptor never interleave.  Control characters in messages are
 * escaped so that no caller-supplied text can forge a log line.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	8192
#define LOG_IDENT_MAX	64
#define LOG_REQID_MAX	80

struct log_level_name {
	enum log_level	 level;
	const char	*name;
};

static const struct log_level_name log_levels[] = {
	{ LOG_LVL_ERROR,	"error" },
	{ LOG_LVL_WARN,		"warn" },
	{ LOG_LVL_INFO,		"info" },
	{ LOG_LVL_DEBUG,	"debug" },
};

static char		log_ident[LOG_IDENT_MAX] = "nextmodel";
static enum log_level	log_level = LOG_LVL_INFO;
static int		fatal_status = 1;	/* exit status of fatal() */
static __thread char	log_reqid[LOG_REQID_MAX];

/* Copy s into dst (size len), replacing anything unprintable by '?'. */
static void
log_copy_clean(char *dst, size_t len, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

/* Set the process role shown on every line; copied. */
void
log_init(const char *ident, enum log_level level)
{
	log_set_ident(ident);
	log_set_level(level);
}

/* Change the role (after fork, a worker calls this with "worker[N]"). */
void
log_set_ident(const char *ident)
{
	log_copy_clean(log_ident, sizeof(log_ident),
	    ident != NULL ? ident : "nextmodel");
}

/* Lines above this level are dropped. */
void
log_set_level(enum log_level level)
{
	if (level < LOG_LVL_ERROR || level > LOG_LVL_DEBUG)
		level = LOG_LVL_INFO;
	log_level = level;
}

/* Level from its name ("error", "warn", "info", "debug"); -1 if unknown. */
int
log_level_parse(const char *s)
{
	size_t	i;

	if (s == NULL)
		return -1;
	for (i = 0; i < NM_NELEM(log_levels); i++) {
		if (strcmp(s, log_levels[i].name) == 0)
			return (int)log_levels[i].level;
	}
	return -1;
}

/* Remember the request id for this thread's lines; NULL clears it. */
void
log_set_request(const char *request_id)
{
	if (request_id == NULL)
		log_reqid[0] = '\0';
	else
		log_copy_clean(log_reqid, sizeof(log_reqid), request_id);
}

/* Append msg to line at *off, escaping control characters; truncates. */
static void
log_append_clean(char *line, size_t *off, size_t max, const char *msg)
{
	size_t	o = *off;

	for (; *msg != '\0' && o < max; msg++) {
		unsigned char c = (unsigned char)*msg;

		if (c >= 0x20 && c != 0x7f) {
			line[o++] = (char)c;
			continue;
		}
		if (c == '\t') {
			line[o++] = '\t';
			continue;
		}
		if (o + 2 > max)
			break;
		line[o++] = '\\';
		line[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : '?';
	}
	*off = o;
}

/* Format and write one line; errnum >= 0 appends its description. */
static void NM_PRINTF(3, 0)
log_vline(const char *lvl, int errnum, const char *fmt, va_list ap)
{
	char		 line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
	const char	*p;
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 off, max = sizeof(line) - 1;	/* room for '\n' */
	ssize_t		 n;
	int		 r;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (log_reqid[0] != '\0')
		r = snprintf(line, sizeof(line),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s [%s] ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, log_ident, lvl,
		    log_reqid);
	else
		r = snprintf(line, sizeof(line),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, log_ident, lvl);
	if (r < 0)
		return;
	off = NM_MIN((size_t)r, max);

	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	log_append_clean(line, &off, max, msg);
	if (errnum >= 0) {
		errno = errnum;
		if (snprintf(msg, sizeof(msg), ": %m") < 0)
			msg[0] = '\0';
		log_append_clean(line, &off, max, msg);
	}
	line[off++] = '\n';

	/* One write per line; only a signal or a full pipe splits it. */
	p = line;
	while (off > 0) {
		n = write(STDERR_FILENO, p, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		off -= (size_t)n;
	}
}

/* A warning with ": <strerror(errno)>" appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	if (log_level < LOG_LVL_WARN)
		return;
	va_start(ap, fmt);
	log_vline("warn", saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* A warning without errno. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	if (log_level < LOG_LVL_WARN)
		return;
	va_start(ap, fmt);
	log_vline("warn", -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Routine events. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	if (log_level < LOG_LVL_INFO)
		return;
	va_start(ap, fmt);
	log_vline("info", -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Detail for developers; off unless the level is debug. */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	if (log_level < LOG_LVL_DEBUG)
		return;
	va_start(ap, fmt);
	log_vline("debug", -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Set by a program whose callers tell failures apart (nextmodeld). */
void
log_set_fatal_status(int status)
{
	fatal_status = status;
}

/* Log with strerror(errno), then exit with the fatal status. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vline("fatal", saved, fmt, ap);
	va_end(ap);
	exit(fatal_status);
}

/* Log, then exit with the fatal status. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline("fatal", -1, fmt, ap);
	va_end(ap);
	exit(fatal_status);
}
