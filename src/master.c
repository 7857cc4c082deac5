/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The master process: binds the listen socket, forks the workers and
 * supervises them.  It never creates a thread and does no request work.
 * Signals arrive through a signalfd and are acted on in the main loop:
 * SIGCHLD respawns (with backoff), SIGHUP starts a new generation from a
 * freshly validated configuration and drains the old one, SIGTERM drains
 * everything and exits 0.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nextmodel.h"
#include "config.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "worker.h"

#define MAX_CHILDREN	(3 * CONFIG_MAX_WORKERS)
#define READY_WAIT_MS	10000
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	30000
#define STABLE_MS	5000	/* a worker alive this long resets the backoff */

struct child {
	pid_t		 pid;		/* 0: slot unused */
	unsigned	 gen;
	int		 slot;
	int		 ready_fd;	/* read end; -1 once ready */
	int		 ready;
	int		 stopping;	/* we sent it SIGTERM */
	int		 hung;		/* we killed it for silence */
	int64_t		 started_ms;
};

struct slot {
	long		 backoff_ms;
	int64_t		 respawn_at;	/* 0: nothing scheduled */
	int		 failed_config;
};

struct master {
	const char	*path;
	struct config	*cfg;
	int		 listen_fd;
	unsigned	 gen;
	struct metrics	*metrics;
	struct child	 children[MAX_CHILDREN];
	struct slot	*slots;
	int		 nslots;
	int		 stopping;
	int64_t		 stop_deadline;
	int		 notified_ready;
	int		 pending_gen;	/* a reload waiting for its workers */
	int64_t		 pending_deadline;
	struct config	*pending_cfg;
};

/* Tell systemd something, if it asked ($NOTIFY_SOCKET).  A datagram, no library. */
static void
notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t plen;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (plen = strlen(path)) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) < 0)
		log_warn("notify %s", path);
	close(fd);
}

/* Bind and listen.  -1 with a message in err. */
static int
bind_listen(const struct config *cfg, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	char port[16];
	int fd = -1, on = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", cfg->listen_port);
	if ((rc = getaddrinfo(cfg->listen_host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen %s:%d: %s", cfg->listen_host,
		    cfg->listen_port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol)) < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 4096) == 0)
			break;
		snprintf(err, errlen, "listen %s:%d: %s", cfg->listen_host,
		    cfg->listen_port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		snprintf(err, errlen, "listen socket: %s", strerror(errno));
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Raise the soft descriptor limit to the hard one: every stream holds two. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("setrlimit NOFILE");
	}
}

static struct child *
child_by_pid(struct master *m, pid_t pid)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (m->children[i].pid == pid)
			return &m->children[i];
	return NULL;
}

static int	children_alive(struct master *);

/* Fork one worker of generation gen for slot, running cfg. */
static int
spawn(struct master *m, const struct config *cfg, unsigned gen, int slot)
{
	struct child *c;
	sigset_t none;
	int p[2], code;
	pid_t pid, self = getpid();

	if ((c = child_by_pid(m, 0)) == NULL) {
		log_warnx("too many worker processes");
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		log_warn("pipe");
		return -1;
	}
	if ((pid = fork()) < 0) {
		log_warn("fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/*
		 * Die with the master; never outlive it as an orphan.  If it
		 * died before the line above took effect, the parent is no
		 * longer the master: compare pids, not with 1 (in a container
		 * the master may well be pid 1).
		 */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != self)
			_exit(0);
		close(p[0]);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		code = worker_main(cfg, m->listen_fd, slot, gen, m->metrics, p[1]);
		_exit(code);
	}
	close(p[1]);
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->gen = gen;
	c->slot = slot;
	c->ready_fd = p[0];
	c->started_ms = nm_mono_ms();
	log_info("worker[%u.%d] started, pid %d", gen, slot, (int)pid);
	return 0;
}

/* Size the slot table for a new worker count. */
static void
slots_resize(struct master *m, int n)
{
	struct slot *s;

	if ((s = calloc((size_t)n, sizeof(*s))) == NULL)
		fatal("calloc");
	free(m->slots);
	m->slots = s;
	m->nslots = n;
}

/* Send SIGTERM to every live worker of generation gen (or all: gen 0). */
static void
stop_generation(struct master *m, unsigned gen)
{
	struct child *c;
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		c = &m->children[i];
		if (c->pid == 0 || c->stopping || (gen != 0 && c->gen != gen))
			continue;
		c->stopping = 1;
		kill(c->pid, SIGTERM);
	}
}

/* How many workers of a generation are alive, and how many of them are ready. */
static int
count_gen(struct master *m, unsigned gen, int *nready)
{
	int i, n = 0;

	*nready = 0;
	for (i = 0; i < MAX_CHILDREN; i++)
		if (m->children[i].pid != 0 && m->children[i].gen == gen) {
			n++;
			if (m->children[i].ready)
				(*nready)++;
		}
	return n;
}

/* SIGHUP: validate everything anew, then start a new generation. */
static void
reload(struct master *m)
{
	struct config *cfg;
	char err[1024];
	int i;

	if (m->pending_cfg != NULL) {
		log_warnx("reload: a reload is already in progress");
		return;
	}
	notify("RELOADING=1");
	if ((cfg = config_load(m->path, err, sizeof(err))) == NULL ||
	    config_check_gateway(cfg, err, sizeof(err)) != 0) {
		config_free(cfg);
		log_warnx("reload refused, the running configuration stays: %s",
		    err);
		metrics_reload(m->metrics, 0);
		notify("READY=1");
		return;
	}
	if (strcmp(cfg->listen_host, m->cfg->listen_host) != 0 ||
	    cfg->listen_port != m->cfg->listen_port)
		log_warnx("reload: a new listen address takes effect only "
		    "after a restart; still listening on %s:%d",
		    m->cfg->listen_host, m->cfg->listen_port);
	if (MAX_CHILDREN - children_alive(m) < cfg->workers) {
		log_warnx("reload refused, the running configuration stays: "
		    "%d workers still running, no room for %d more",
		    children_alive(m), cfg->workers);
		config_free(cfg);
		metrics_reload(m->metrics, 0);
		notify("READY=1");
		return;
	}
	cfg->generation = ++m->gen;
	m->pending_cfg = cfg;
	m->pending_gen = (int)cfg->generation;
	m->pending_deadline = nm_mono_ms() + READY_WAIT_MS;
	for (i = 0; i < cfg->workers; i++)
		spawn(m, cfg, cfg->generation, i);
	log_info("reload: generation %u starting", cfg->generation);
}

/*
 * Workers of the new generation that died while the reload was settling
 * were not respawned (their generation was not yet the current one): start
 * their slots again now, or the gateway runs short for good.
 */
static void
respawn_missing(struct master *m)
{
	int64_t now = nm_mono_ms();
	int i, k, live;

	for (i = 0; i < m->nslots; i++) {
		live = 0;
		for (k = 0; k < MAX_CHILDREN && !live; k++)
			live = m->children[k].pid != 0 &&
			    m->children[k].gen == m->cfg->generation &&
			    m->children[k].slot == i;
		if (!live) {
			log_warnx("worker[%u.%d] died while the reload settled; "
			    "starting it again", m->cfg->generation, i);
			m->slots[i].respawn_at = now;
			m->slots[i].backoff_ms = BACKOFF_MIN_MS;
		}
	}
}

/* The new generation is ready (or failed): switch over or roll back. */
static void
reload_settle(struct master *m)
{
	struct config *cfg = m->pending_cfg;
	unsigned old = m->cfg->generation;
	int n, nready;

	if (cfg == NULL)
		return;
	n = count_gen(m, cfg->generation, &nready);
	if (nready < cfg->workers && nm_mono_ms() < m->pending_deadline && n > 0)
		return;		/* still starting */
	m->pending_cfg = NULL;
	if (nready == 0) {
		log_warnx("reload: the new workers did not start; the running "
		    "generation %u stays", old);
		stop_generation(m, cfg->generation);
		config_free(cfg);
		metrics_reload(m->metrics, 0);
		notify("READY=1");
		return;
	}
	log_info("reload: generation %u serving, draining generation %u",
	    cfg->generation, old);
	stop_generation(m, old);
	config_free(m->cfg);
	m->cfg = cfg;
	slots_resize(m, cfg->workers);
	respawn_missing(m);
	metrics_reload(m->metrics, 1);
	notify("READY=1");
}

/*
 * Kill workers whose engine has stopped beating: a hung worker would
 * otherwise keep taking connections it never answers.  Reaping then
 * respawns it like any crashed worker.
 */
static void
check_hung(struct master *m, int64_t now)
{
	struct child *c;
	int64_t age;
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		c = &m->children[i];
		if (c->pid == 0 || c->hung ||
		    (age = metrics_beat_age(m->metrics, (int)c->pid, now)) < 0 ||
		    age <= m->cfg->worker_timeout_ms)
			continue;
		log_warnx("worker[%u.%d] pid %d silent for %lld ms; killing it",
		    c->gen, c->slot, (int)c->pid, (long long)age);
		c->hung = 1;
		kill(c->pid, SIGKILL);
	}
}

/* Reap children; schedule respawns for current-generation workers that died. */
static void
reap(struct master *m)
{
	struct child *c;
	struct slot *s;
	int status, lived;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		metrics_beat_release(m->metrics, (int)pid);
		if ((c = child_by_pid(m, pid)) == NULL)
			continue;
		if (c->ready_fd >= 0)
			close(c->ready_fd);
		lived = (int)(nm_mono_ms() - c->started_ms);
		if (WIFSIGNALED(status))
			log_warnx("worker[%u.%d] pid %d killed by signal %d",
			    c->gen, c->slot, (int)pid, WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0 || !c->stopping)
			log_warnx("worker[%u.%d] pid %d exited with code %d",
			    c->gen, c->slot, (int)pid, WEXITSTATUS(status));
		else
			log_info("worker[%u.%d] pid %d exited", c->gen, c->slot,
			    (int)pid);
		if (!m->stopping && !c->stopping && c->gen == m->cfg->generation &&
		    c->slot < m->nslots) {
			s = &m->slots[c->slot];
			if (WIFEXITED(status) &&
			    WEXITSTATUS(status) == NM_EXIT_CONFIG) {
				s->failed_config = 1;
				log_warnx("worker[%u.%d] cannot run with this "
				    "configuration; not respawning", c->gen,
				    c->slot);
			} else {
				if (lived >= STABLE_MS)
					s->backoff_ms = 0;
				s->respawn_at = nm_mono_ms() + s->backoff_ms;
				if (s->backoff_ms > 0)
					log_info("respawning worker %d in %ld ms",
					    c->slot, s->backoff_ms);
				s->backoff_ms = s->backoff_ms == 0 ?
				    BACKOFF_MIN_MS : NM_MIN(s->backoff_ms * 2,
				    BACKOFF_MAX_MS);
			}
		}
		memset(c, 0, sizeof(*c));
		c->ready_fd = -1;
	}
}

/* Start the workers whose respawn time has come. */
static void
respawn_due(struct master *m, int64_t now)
{
	int i;

	for (i = 0; i < m->nslots; i++)
		if (m->slots[i].respawn_at != 0 && m->slots[i].respawn_at <= now) {
			m->slots[i].respawn_at = 0;
			if (spawn(m, m->cfg, m->cfg->generation, i) != 0)
				m->slots[i].respawn_at = now + 1000;
		}
}

/* Read the ready bytes of workers that just started. */
static void
check_ready(struct master *m, struct pollfd *pfd, int npfd)
{
	struct child *c;
	char b;
	int i, k;

	for (k = 1; k < npfd; k++) {
		if (pfd[k].revents == 0)
			continue;
		for (i = 0; i < MAX_CHILDREN; i++) {
			c = &m->children[i];
			if (c->pid == 0 || c->ready_fd != pfd[k].fd)
				continue;
			if (read(c->ready_fd, &b, 1) == 1)
				c->ready = 1;
			close(c->ready_fd);
			c->ready_fd = -1;
		}
	}
}

/* Time to wait in poll(): until the next respawn or deadline, at most 1 s. */
static int
poll_timeout(struct master *m, int64_t now)
{
	int64_t t = now + 1000;
	int i;

	for (i = 0; i < m->nslots; i++)
		if (m->slots[i].respawn_at != 0 && m->slots[i].respawn_at < t)
			t = m->slots[i].respawn_at;
	return t <= now ? 0 : (int)(t - now);
}

static int
children_alive(struct master *m)
{
	int i, n = 0;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (m->children[i].pid != 0)
			n++;
	return n;
}

/* Run the gateway.  Takes cfg.  Returns the exit code. */
int
master_run(const char *path, struct config *cfg)
{
	struct master m;
	struct signalfd_siginfo si;
	struct pollfd pfd[MAX_CHILDREN + 1];
	sigset_t set;
	char err[512];
	int sfd, i, npfd, n, ready;
	int64_t now;

	memset(&m, 0, sizeof(m));
	m.path = path;
	m.cfg = cfg;
	for (i = 0; i < MAX_CHILDREN; i++)
		m.children[i].ready_fd = -1;
	log_set_ident("master");
	raise_nofile();
	if ((m.listen_fd = bind_listen(cfg, err, sizeof(err))) < 0) {
		log_warnx("%s", err);
		config_free(cfg);
		return NM_EXIT_RUNTIME;
	}
	if ((m.metrics = metrics_new()) == NULL)
		fatal("mmap");

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		fatal("signalfd");
	signal(SIGPIPE, SIG_IGN);

	cfg->generation = m.gen = 1;
	slots_resize(&m, cfg->workers);
	for (i = 0; i < cfg->workers; i++)
		if (spawn(&m, cfg, 1, i) != 0)
			fatalx("cannot start workers");
	log_info("listening on %s:%d with %d workers (pid %d)", cfg->listen_host,
	    cfg->listen_port, cfg->workers, (int)getpid());

	for (;;) {
		now = nm_mono_ms();
		if (m.stopping) {
			if (children_alive(&m) == 0)
				break;
			if (now >= m.stop_deadline) {
				log_warnx("workers still running after the drain "
				    "deadline; killing them");
				for (i = 0; i < MAX_CHILDREN; i++)
					if (m.children[i].pid != 0)
						kill(m.children[i].pid, SIGKILL);
				m.stop_deadline = now + 5000;
			}
		} else {
			check_hung(&m, now);
			respawn_due(&m, now);
			reload_settle(&m);
			if (!m.notified_ready &&
			    count_gen(&m, m.cfg->generation, &ready) > 0 &&
			    ready == m.cfg->workers) {
				m.notified_ready = 1;
				notify("READY=1");
				log_info("ready");
			}
		}

		npfd = 0;
		pfd[npfd].fd = sfd;
		pfd[npfd++].events = POLLIN;
		for (i = 0; i < MAX_CHILDREN; i++)
			if (m.children[i].pid != 0 && m.children[i].ready_fd >= 0) {
				pfd[npfd].fd = m.children[i].ready_fd;
				pfd[npfd++].events = POLLIN;
			}
		n = poll(pfd, (nfds_t)npfd, m.stopping ? 200 :
		    poll_timeout(&m, now));
		if (n < 0 && errno != EINTR)
			fatal("poll");
		if (n <= 0)
			continue;
		check_ready(&m, pfd, npfd);
		if (!(pfd[0].revents & POLLIN))
			continue;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGCHLD:
				reap(&m);
				break;
			case SIGHUP:
				if (!m.stopping)
					reload(&m);
				break;
			case SIGTERM:
			case SIGINT:
				if (m.stopping)
					break;
				log_info("signal %d: draining and exiting",
				    (int)si.ssi_signo);
				notify("STOPPING=1");
				m.stopping = 1;
				m.stop_deadline = now +
				    m.cfg->shutdown_timeout_ms + 5000;
				stop_generation(&m, 0);
				break;
			}
		}
	}
	close(m.listen_fd);
	close(sfd);
	if (m.pending_cfg != NULL)
		config_free(m.pending_cfg);
	config_free(m.cfg);
	free(m.slots);
	metrics_free(m.metrics);
	log_info("exiting");
	return 0;
}
