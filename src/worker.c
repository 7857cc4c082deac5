/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A worker process, after fork: drop privileges, start the upstream engine
 * and libmicrohttpd, tell the master it serves, then wait for SIGTERM.  On
 * SIGTERM it stops accepting, lets in-flight requests finish (up to
 * shutdown_timeout_ms), ends what is left with an error, and exits 0.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "nextmodel.h"
#include "auth.h"
#include "crypto.h"
#include "govern.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "upstream.h"
#include "worker.h"

void
worker_track(struct worker *w, struct request *req)
{
	pthread_mutex_lock(&w->reqs_mu);
	req->wprev = NULL;
	req->wnext = w->reqs;
	if (w->reqs != NULL)
		w->reqs->wprev = req;
	w->reqs = req;
	atomic_fetch_add(&w->nrequests, 1);
	pthread_mutex_unlock(&w->reqs_mu);
}

void
worker_untrack(struct worker *w, struct request *req)
{
	pthread_mutex_lock(&w->reqs_mu);
	if (req->wprev != NULL)
		req->wprev->wnext = req->wnext;
	else
		w->reqs = req->wnext;
	if (req->wnext != NULL)
		req->wnext->wprev = req->wprev;
	atomic_fetch_sub(&w->nrequests, 1);
	pthread_mutex_unlock(&w->reqs_mu);
}

/* Become the configured user if started as root.  0 or -1. */
static int
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("user %s does not exist", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		log_warn("cannot become user %s", user);
		return -1;
	}
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The engine thread's sign of life, read by the master. */
static void
engine_beat(void *arg)
{
	struct worker *w = arg;

	metrics_beat(w->metrics, w->beat_slot);
}

/* End every request still live (drain deadline passed). */
static void
force_end_all(struct worker *w)
{
	struct request *req;

	pthread_mutex_lock(&w->reqs_mu);
	for (req = w->reqs; req != NULL; req = req->wnext) {
		pthread_mutex_lock(&req->mu);
		request_force_end(req);
		pthread_mutex_unlock(&req->mu);
	}
	pthread_mutex_unlock(&w->reqs_mu);
}

/* Let in-flight requests finish, up to the configured deadline. */
static void
drain(struct worker *w)
{
	int64_t deadline = nm_mono_ms() + w->cfg->shutdown_timeout_ms;
	int n;

	atomic_store(&w->draining, 1);
	http_quiesce(w);
	/* A pool thread may be inside accept() right now: let it finish. */
	sleep_ms(100);
	while (((n = atomic_load(&w->nrequests)) > 0 ||
	    atomic_load(&w->fresh_conns) > 0) && nm_mono_ms() < deadline)
		sleep_ms(20);
	if (n > 0) {
		log_warnx("drain deadline passed with %d requests in flight; "
		    "ending them", n);
		force_end_all(w);
		deadline = nm_mono_ms() + 2000;
		while (atomic_load(&w->nrequests) > 0 && nm_mono_ms() < deadline)
			sleep_ms(20);
	}
}

/* The worker's life; returns its exit code. */
int
worker_main(const struct config *cfg, int listen_fd, int slot, unsigned gen,
    struct metrics *metrics, int ready_fd)
{
	struct worker w;
	sigset_t set;
	char ident[32], name[32], err[512], sha[41];
	int sig, code = 0;

	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.slot = slot;
	w.gen = gen;
	w.listen_fd = listen_fd;
	w.metrics = metrics;
	w.beat_slot = metrics_beat_claim(metrics, (int)getpid());
	pthread_mutex_init(&w.reqs_mu, NULL);
	pthread_mutex_init(&w.budgeted_mu, NULL);
	snprintf(ident, sizeof(ident), "worker[%u.%d]", gen, slot);
	log_set_ident(ident);

	/* master.c's spawn() tied our life to the master's (PR_SET_PDEATHSIG). */
	if (drop_privileges(cfg->user) != 0)
		return NM_EXIT_CONFIG;

	/* Every thread started from here on inherits this mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_warnx("curl_global_init failed");
		return 1;
	}
	if (cfg->secret != NULL) {
		receipt_key(cfg->secret, strlen(cfg->secret), w.receipt_key);
		if (byok_key_derive(cfg->secret, strlen(cfg->secret),
		    &w.byok) != 0 ||
		    (w.byok_cache = byok_cache_new(cfg->key_cache_ms, 0)) == NULL) {
			log_warnx("cannot set up projects' own provider keys");
			code = 1;
			goto out;
		}
	}
	snprintf(name, sizeof(name), "%d", (int)getpid());
	/* Scripts the Redis thread loads when Redis says NOSCRIPT. */
	if (rthread_script(gov_admit_script(), sha) != 0 ||
	    rthread_script(gov_settle_script(), sha) != 0 ||
	    health_init() != 0) {
		log_warnx("cannot register the Lua scripts");
		code = 1;
		goto out;
	}
	if ((w.rt = rthread_start(cfg, metrics, name, err,
	    sizeof(err))) == NULL) {
		log_warnx("cannot start the Redis thread: %s", err);
		code = 1;
		goto out;
	}
	if ((w.auth = auth_cache_new(cfg->key_cache_ms, 8192)) != NULL)
		auth_cache_max_stale(w.auth, cfg->key_cache_max_stale_ms);
	if (w.auth == NULL ||
	    (w.up = upstream_start(engine_beat, &w)) == NULL) {
		log_warnx("cannot start the upstream engine");
		code = 1;
		goto out;
	}
	if (health_start(&w) != 0) {
		log_warnx("cannot start the latency table");
		code = 1;
		goto out;
	}
	if (http_start(&w) != 0) {
		log_warnx("cannot start the HTTP server on the listen socket");
		code = 1;
		goto out;
	}
	metrics_worker_start(metrics);
	if (ready_fd >= 0) {
		if (write(ready_fd, "R", 1) != 1)
			log_warn("cannot tell the master it serves");
		close(ready_fd);
	}
	log_debug("serving with %d threads", cfg->threads);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	log_debug("draining");
	drain(&w);
	http_stop(&w);
out:
	upstream_stop(w.up);
	/* Last: receipts of the requests just ended are stored or spooled. */
	health_stop(&w);
	rthread_stop(w.rt);
	health_free(&w);
	auth_cache_free(w.auth);
	byok_cache_free(w.byok_cache);
	byok_key_wipe(&w.byok);
	crypto_cleanse(w.receipt_key, sizeof(w.receipt_key));
	curl_global_cleanup();
	pthread_mutex_destroy(&w.reqs_mu);
	admit_forget(&w);
	pthread_mutex_destroy(&w.budgeted_mu);
	log_debug("exiting");
	return code;
}
