/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodel-ledger: command line, configuration, signals, then the loop
 * in ledger.c.  Runs in the foreground and logs to stderr; a bad config
 * is refused with FILE:LINE and exit code 1.  SIGTERM or SIGINT finish
 * the batch in hand and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "log.h"
#include "ledger.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

static volatile sig_atomic_t stopping;

/* SIGTERM, SIGINT: the loop stops after its batch. */
static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* The help text into f. */
static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: nextmodel-ledger [-c FILE] [-l LEVEL] [--batch N] "
	    "[--claim-idle MS] [--dedup-ttl S]\n"
	    "                        [--audit-keep-days D]\n"
	    "  -c, --config FILE   main configuration (default %s)\n"
	    "  -l, --log-level L   error, warn, info or debug\n"
	    "  --batch N           entries read at a time (default 256)\n"
	    "  --claim-idle MS     take over entries another consumer left\n"
	    "                      pending this long (default 30000)\n"
	    "  --dedup-ttl S       how long a receipt id is remembered for the\n"
	    "                      usage counters (default 604800, 7 days)\n"
	    "  --audit-keep-days D filed audit events stay in nm:audit this\n"
	    "                      long, for nextmodelctl audit (default 90)\n"
	    "  -h, --help          this help\n"
	    "  -V, --version       print the version\n",
	    config_default_path());
}

/* A decimal number in [min, max] into out: 0 or -1. */
static int
number(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Handle SIGTERM and SIGINT without SA_RESTART; ignore SIGPIPE and SIGHUP. */
static void
signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "log-level",	required_argument,	NULL, 'l' },
		{ "batch",	required_argument,	NULL, 'b' },
		{ "claim-idle",	required_argument,	NULL, 'i' },
		{ "dedup-ttl",	required_argument,	NULL, 't' },
		{ "audit-keep-days", required_argument,	NULL, 'k' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ledger_opts o;
	struct config	*cfg;
	const char	*path = NULL, *level = NULL;
	char		 err[1024], host[64];
	int		 ch, lvl, rc;

	log_init("ledger", LOG_LVL_INFO);
	memset(&o, 0, sizeof(o));
	o.batch = 256;
	o.block_ms = 1000;
	o.claim_idle_ms = 30000;
	o.dedup_ttl_s = 7 * 86400;
	o.audit_keep_days = 90;
	while ((ch = getopt_long(argc, argv, "c:l:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'b':
		case 'i':
		case 't':
			if (number(optarg, ch == 't' ? 60 : ch == 'i' ? 100 : 1,
			    ch == 'b' ? 1000 : 100000000L, ch == 'b' ?
			    &o.batch : ch == 'i' ? &o.claim_idle_ms :
			    &o.dedup_ttl_s) != 0) {
				fprintf(stderr, "nextmodel-ledger: bad number "
				    "for --%s: %s\n", ch == 'b' ? "batch" :
				    ch == 'i' ? "claim-idle" : "dedup-ttl",
				    optarg);
				return 2;
			}
			break;
		case 'k':
			if (number(optarg, 0, 36500, &o.audit_keep_days) != 0) {
				fprintf(stderr, "nextmodel-ledger: bad number "
				    "for --audit-keep-days: %s\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("nextmodel-ledger %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (path == NULL)
		path = config_default_path();
	if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (level == NULL)
		level = cfg->log_level;
	if (level != NULL) {
		if ((lvl = log_level_parse(level)) < 0) {
			fprintf(stderr, "unknown log level %s\n", level);
			config_free(cfg);
			return 2;
		}
		log_set_level((enum log_level)lvl);
	}
	if (cfg->secret == NULL || cfg->secret[0] == '\0') {
		fprintf(stderr, "%s: the server secret (environment variable "
		    "%s) is not set: receipts cannot be checked\n", path,
		    cfg->secret_env);
		config_free(cfg);
		return 1;
	}
	receipt_key(cfg->secret, strlen(cfg->secret), o.key);
	o.redis_url = cfg->redis_url;
	o.redis_timeout_ms = cfg->redis_timeout_ms;
	o.dir = cfg->ledger_dir;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(o.consumer, sizeof(o.consumer), "%s-%ld", host,
	    (long)getpid());
	signals();
	rc = ledger_run(&o, &stopping);
	crypto_cleanse(o.key, sizeof(o.key));
	config_free(cfg);
	return rc == 0 ? 0 : 1;
}
