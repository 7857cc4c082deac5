/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodeld: command line, configuration check, then the master process.
 * Everything is validated before any worker is forked: a bad file is
 * refused with FILE:LINE and exit code 1 (NM_EXIT_* in nextmodel.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "nextmodel.h"
#include "config.h"
#include "log.h"
#include "master.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: nextmodeld [-t] [-c FILE] [-l LEVEL]\n"
	    "  -c, --config FILE   main configuration (default %s)\n"
	    "  -t, --test          check the configuration and exit\n"
	    "  -l, --log-level L   error, warn, info or debug\n"
	    "  -h, --help          this help\n"
	    "  -V, --version       print the version\n",
	    config_default_path());
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "test",	no_argument,		NULL, 't' },
		{ "log-level",	required_argument,	NULL, 'l' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *level = NULL;
	struct config *cfg;
	char err[1024];
	int ch, test = 0, lvl;

	log_init("nextmodeld", LOG_LVL_INFO);
	/* A fatal() in the master or a worker is a failure systemd may restart. */
	log_set_fatal_status(NM_EXIT_RUNTIME);
	while ((ch = getopt_long(argc, argv, "c:tl:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("nextmodeld %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return NM_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return NM_EXIT_USAGE;
	}
	if (path == NULL)
		path = config_default_path();
	if ((cfg = config_load(path, err, sizeof(err))) == NULL ||
	    config_check_gateway(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		config_free(cfg);
		return NM_EXIT_BADCONF;
	}
	if (level == NULL)
		level = cfg->log_level;
	if (level != NULL) {
		if ((lvl = log_level_parse(level)) < 0) {
			fprintf(stderr, "unknown log level %s\n", level);
			config_free(cfg);
			return NM_EXIT_USAGE;
		}
		log_set_level((enum log_level)lvl);
	}
	if (test) {
		printf("%s: ok: %zu providers, %zu models\n", path,
		    cfg->nproviders, cfg->catalog->n);
		config_free(cfg);
		return 0;
	}
	return master_run(path, cfg);
}
