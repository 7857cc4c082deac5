/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl provider-key set | list | clear: a project's own key for a
 * source.  The key comes from stdin only (never argv, where ps would show
 * it), is checked, sealed with the server secret (byok.c) and stored; it
 * is never printed, logged, put in the audit trail or in an error.  list
 * shows a short fingerprint so a person can tell which key is set.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "buf.h"
#include "byok.h"
#include "config.h"
#include "crypto.h"
#include "json.h"
#include "xmalloc.h"
#include "ctl.h"

static int	pk_set(struct ctl *, int, char **);
static int	pk_list(struct ctl *, int, char **);
static int	pk_clear(struct ctl *, int, char **);

static const struct ctl_cmd pk_cmds[] = {
	{ "set", "--project P --provider NAME   (the key on stdin)", pk_set, 0 },
	{ "list", "[--project P] [--format table|json]", pk_list, 0 },
	{ "clear", "--project P --provider NAME", pk_clear, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_provider_key = { "provider-key", pk_cmds };

/* --project and --provider (both required); CTL_OK or CTL_USAGE. */
static int
parse_names(struct ctl *ctl, int argc, char **argv, const char **project,
    const char **provider)
{
	static const struct option opts[] = {
		{ "project",	required_argument, NULL, 'p' },
		{ "provider",	required_argument, NULL, 'P' },
		{ NULL,		0,		   NULL, 0 },
	};
	char	 err[256];
	int	 ch;

	*project = *provider = NULL;
	while ((ch = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			*project = optarg;
			break;
		case 'P':
			*provider = optarg;
			break;
		default:
			return ctl_usage(ctl);
		}
	}
	if (optind != argc) {
		ctl_warnx("unexpected argument (the key is read from stdin, "
		    "never from the command line)");
		return ctl_usage(ctl);
	}
	if (*project == NULL || *provider == NULL) {
		ctl_warnx("--project and --provider are required");
		return ctl_usage(ctl);
	}
	if (byok_check_names(*project, *provider, err, sizeof(err)) != 0) {
		ctl_warnx("%s", err);
		return ctl_usage(ctl);
	}
	return CTL_OK;
}

/* The provider must be one of the config's; NULL conf after a message. */
static const struct config *
known_provider(struct ctl *ctl, const char *provider)
{
	const struct config	*conf;
	size_t			 i;

	if ((conf = ctl_config(ctl)) == NULL)
		return NULL;
	if (config_provider(conf, provider) == NULL) {
		ctl_warnx("unknown provider %s (the config has:%s)", provider,
		    conf->nproviders ? "" : " none");
		for (i = 0; i < conf->nproviders; i++)
			fprintf(stderr, "  %s\n", conf->providers[i].name);
		return NULL;
	}
	return conf;
}

/*
 * Read the key from stdin into out (at most BYOK_PLAIN_MAX bytes, one
 * final newline dropped).  A terminal does not echo it.  Length or -1.
 */
static ssize_t
read_key(char *out, size_t outlen)
{
	struct termios	 old, quiet;
	size_t		 n = 0;
	ssize_t		 r = 0;
	int		 tty = isatty(STDIN_FILENO), restore = 0;

	if (tty) {
		fputs("provider key (not echoed): ", stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		}
	}
	while (n < outlen) {
		r = read(STDIN_FILENO, out + n, outlen - n);
		if (r < 0)
			break;
		if (r == 0)
			break;
		n += (size_t)r;
		/* A terminal gives a line at a time: one is the key. */
		if (tty && memchr(out, '\n', n) != NULL)
			break;
	}
	if (restore) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (r < 0)
		return -1;
	if (n > 0 && out[n - 1] == '\n')
		n--;
	return (ssize_t)n;
}

/* An audit event, or a warning that it could not be written.  CTL_OK/FAIL. */
static int
audit(struct ctl *ctl, const char *action, const char *project,
    const char *provider, const char *fingerprint)
{
	struct buf	 d;
	char		 actor[129], target[160], err[512];
	int		 rc = CTL_OK, e = 0;

	buf_init(&d, 0);
	e |= buf_appends(&d, "{\"project\":");
	e |= json_write_cstr(&d, project);
	e |= buf_appends(&d, ",\"provider\":");
	e |= json_write_cstr(&d, provider);
	if (fingerprint != NULL) {
		e |= buf_appends(&d, ",\"fingerprint\":");
		e |= json_write_cstr(&d, fingerprint);
	}
	e |= buf_appendc(&d, '}');
	audit_actor(actor, sizeof(actor));
	snprintf(target, sizeof(target), "%s/%s", project, provider);
	if (e != 0 || audit_append(ctl_redis(ctl), actor, action, target,
	    d.data, err, sizeof(err)) != 0) {
		ctl_warnx("%s done, but the audit event was not written: %s",
		    action, e ? "out of memory" : err);
		rc = CTL_FAIL;
	}
	buf_free(&d);
	return rc;
}

/* nextmodelctl provider-key set --project P --provider NAME < key */
static int
pk_set(struct ctl *ctl, int argc, char **argv)
{
	const struct config	*conf;
	struct byok_key		 bk;
	struct byok_info	 info;
	struct redis		*r;
	const char		*project, *provider;
	char			 key[BYOK_PLAIN_MAX + 2], err[512], who[129];
	ssize_t			 n;
	int			 rc;

	if ((rc = parse_names(ctl, argc, argv, &project, &provider)) != CTL_OK)
		return rc;
	if ((conf = known_provider(ctl, provider)) == NULL)
		return CTL_FAIL;
	if (conf->secret == NULL || conf->secret[0] == '\0') {
		ctl_warnx("the server secret (environment variable %s) is not "
		    "set: it is what the key is encrypted with", conf->secret_env);
		return CTL_FAIL;
	}
	n = read_key(key, sizeof(key));
	if (n < 0) {
		ctl_warnx("reading the key from stdin failed");
		crypto_cleanse(key, sizeof(key));
		return CTL_FAIL;
	}
	if (byok_check_plain(key, (size_t)n, err, sizeof(err)) != 0) {
		crypto_cleanse(key, sizeof(key));
		ctl_warnx("refused: %s", err);
		return CTL_FAIL;
	}
	if ((r = ctl_redis(ctl)) == NULL) {
		crypto_cleanse(key, sizeof(key));
		return CTL_FAIL;
	}
	if (byok_key_derive(conf->secret, strlen(conf->secret), &bk) != 0) {
		crypto_cleanse(key, sizeof(key));
		ctl_warnx("cannot derive the encryption key");
		return CTL_FAIL;
	}
	audit_actor(who, sizeof(who));
	rc = byok_store(r, &bk, project, provider, key, (size_t)n, who,
	    (int64_t)time(NULL), &info, err, sizeof(err));
	crypto_cleanse(key, sizeof(key));
	byok_key_wipe(&bk);
	if (rc != 0) {
		ctl_warnx("provider-key set: %s", err);
		return CTL_FAIL;
	}
	fprintf(stderr, "set the %s key of project %s (%s)\n", provider,
	    project, info.fingerprint);
	return audit(ctl, "provider_key.set", project, provider,
	    info.fingerprint);
}

/* nextmodelctl provider-key clear --project P --provider NAME */
static int
pk_clear(struct ctl *ctl, int argc, char **argv)
{
	struct redis	*r;
	const char	*project, *provider;
	char		 err[512];
	int		 rc;

	if ((rc = parse_names(ctl, argc, argv, &project, &provider)) != CTL_OK)
		return rc;
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	switch (byok_clear(r, project, provider, err, sizeof(err))) {
	case 0:
		fprintf(stderr, "cleared the %s key of project %s\n", provider,
		    project);
		return audit(ctl, "provider_key.clear", project, provider,
		    NULL);
	case 1:
		ctl_warnx("project %s has no %s key of its own", project,
		    provider);
		return CTL_FAIL;
	default:
		ctl_warnx("provider-key clear: %s", err);
		return CTL_FAIL;
	}
}

/* The rows of list. */
struct pk_set {
	struct byok_info	*v;
	size_t			 n, cap;
};

/* byok_list callback: keep a copy. */
static int
collect(void *arg, const struct byok_info *b)
{
	struct pk_set	*s = arg;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = *b;
	return 0;
}

/* Unix seconds as RFC 3339 UTC. */
static void
utc(int64_t t, char *out, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "-");
}

/* The rows as an aligned table. */
static void
print_table(const struct pk_set *s)
{
	char	 at[32];
	size_t	 i, wp = 7, wv = 8;

	for (i = 0; i < s->n; i++) {
		wp = NM_MAX(wp, strlen(s->v[i].project));
		wv = NM_MAX(wv, strlen(s->v[i].provider));
	}
	printf("%-*s  %-*s  %-15s  %-20s  %s\n", (int)wp, "PROJECT", (int)wv,
	    "PROVIDER", "FINGERPRINT", "SET", "BY");
	for (i = 0; i < s->n; i++) {
		utc(s->v[i].set_at, at, sizeof(at));
		printf("%-*s  %-*s  %-15s  %-20s  %s\n", (int)wp,
		    s->v[i].project, (int)wv, s->v[i].provider,
		    s->v[i].fingerprint[0] ? s->v[i].fingerprint : "-", at,
		    s->v[i].set_by[0] ? s->v[i].set_by : "-");
	}
}

/* The rows as a JSON array. */
static int
print_json(const struct pk_set *s)
{
	struct buf	 b;
	char		 at[32];
	size_t		 i;
	int		 e = 0;

	buf_init(&b, 0);
	e |= buf_appendc(&b, '[');
	for (i = 0; i < s->n; i++) {
		utc(s->v[i].set_at, at, sizeof(at));
		e |= buf_appends(&b, i ? ",\n  {\"project\":" : "\n  {\"project\":");
		e |= json_write_cstr(&b, s->v[i].project);
		e |= buf_appends(&b, ",\"provider\":");
		e |= json_write_cstr(&b, s->v[i].provider);
		e |= buf_appends(&b, ",\"fingerprint\":");
		e |= json_write_cstr(&b, s->v[i].fingerprint);
		e |= buf_appendf(&b, ",\"set\":\"%s\",\"set_unix\":%lld,"
		    "\"set_by\":", at, (long long)s->v[i].set_at);
		e |= json_write_cstr(&b, s->v[i].set_by);
		e |= buf_appendc(&b, '}');
	}
	e |= buf_appends(&b, s->n ? "\n]\n" : "]\n");
	if (e == 0)
		fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	return e == 0 ? 0 : -1;
}

/* nextmodelctl provider-key list [--project P] [--format table|json] */
static int
pk_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "project",	required_argument, NULL, 'p' },
		{ "format",	required_argument, NULL, 'f' },
		{ NULL,		0,		   NULL, 0 },
	};
	struct pk_set	 s = { NULL, 0, 0 };
	struct redis	*r;
	const char	*project = NULL, *format = "table";
	char		 err[512];
	int		 ch, rc = CTL_FAIL;

	while ((ch = getopt_long(argc, argv, "p:f:", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			project = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		default:
			return ctl_usage(ctl);
		}
	}
	if (optind != argc) {
		ctl_warnx("unexpected argument: %s", argv[optind]);
		return ctl_usage(ctl);
	}
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0) {
		ctl_warnx("--format: table or json, not %s", format);
		return ctl_usage(ctl);
	}
	if ((r = ctl_redis(ctl)) == NULL)
		return CTL_FAIL;
	if (byok_list(r, project, collect, &s, err, sizeof(err)) != 0) {
		ctl_warnx("provider-key list: %s", err);
		goto out;
	}
	if (strcmp(format, "json") == 0) {
		if (print_json(&s) != 0) {
			ctl_warnx("out of memory");
			goto out;
		}
	} else
		print_table(&s);
	rc = ctl_flush();
out:
	free(s.v);
	return rc;
}
