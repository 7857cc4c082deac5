/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Gateway-wide Prometheus counters in one anonymous shared mapping made by
 * the master before it forks, so every worker adds to the same numbers and
 * any worker can answer /metrics for the whole gateway.  Labelled series
 * live in a fixed open-addressing table claimed with compare-and-swap.
 */
#include <sys/mman.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nextmodel.h"
#include "buf.h"
#include "metrics.h"

#define SERIES_MAX	1024
#define BEAT_MAX	512
#define LABEL_MAX	96

static const double bucket_le[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 };
#define NBUCKETS	(sizeof(bucket_le) / sizeof(bucket_le[0]))

/*
 * A series slot's state: free, ready, or being claimed (the claimer's pid,
 * negated), so a claim left behind by a process that died mid-claim (the
 * hung-worker check's SIGKILL, the OOM killer) can be recognised and
 * taken over instead of waited on for ever.
 */
enum { SLOT_FREE = 0, SLOT_READY = 1 };
#define CLAIM_WAIT_SPINS	4096	/* yields before asking who is claiming */

struct series {
	atomic_int		state;
	int			status;
	char			model[LABEL_MAX];
	char			provider[LABEL_MAX];
	atomic_ullong		count;
};

struct metrics {
	struct series		series[SERIES_MAX];
	atomic_ullong		overflow;		/* series that did not fit */
	atomic_ullong		buckets[NBUCKETS + 1];	/* last: +Inf */
	atomic_ullong		duration_us_sum;
	atomic_ullong		duration_count;
	atomic_llong		open_connections;
	atomic_ullong		worker_starts;
	atomic_ullong		reloads_ok, reloads_failed;
	atomic_ullong		counters[MC_COUNT];
	struct series		upstream_errors[64];
	struct {
		atomic_int	pid;		/* 0: free */
		atomic_llong	ms;		/* monotonic ms of the last beat */
	}			beats[BEAT_MAX];
};

/* The plain counters: name and help, by enum metrics_counter. */
static const struct {
	const char	*name;
	const char	*help;
} counter_names[MC_COUNT] = {
	[MC_RECEIPTS] = { "nextmodel_receipts_total",
	    "Receipts signed (one per authenticated request)." },
	[MC_RECEIPTS_STORED] = { "nextmodel_receipts_stored_total",
	    "Receipts pushed to the Redis stream nm:receipts." },
	[MC_RECEIPTS_SPOOLED] = { "nextmodel_receipts_spooled_total",
	    "Receipts written to the local spool while Redis was unreachable." },
	[MC_RECEIPTS_REPLAYED] = { "nextmodel_receipts_replayed_total",
	    "Spooled receipts pushed to Redis once it was back." },
	[MC_RECEIPTS_LOST] = { "nextmodel_receipts_lost_total",
	    "Receipts neither stored nor spooled (spool full or failing)." },
	[MC_REDIS_FAILURES] = { "nextmodel_redis_failures_total",
	    "Pipelines a worker's Redis thread could not complete." },
	[MC_CACHE_HITS] = { "nextmodel_cache_hits_total",
	    "Answers replayed from a verified cache entry." },
	[MC_CACHE_MISSES] = { "nextmodel_cache_misses_total",
	    "Cache lookups that found no entry to serve." },
	[MC_CACHE_STORES] = { "nextmodel_cache_stores_total",
	    "Cache entries written after a fresh answer." },
	[MC_CACHE_NOT_STORED] = { "nextmodel_cache_not_stored_total",
	    "Fresh answers not cached: incomplete, filtered or too big." },
	[MC_CACHE_REJECTED] = { "nextmodel_cache_rejected_total",
	    "Entries refused on lookup: forged, or for another request." },
	[MC_ADMIT_UNAVAILABLE] = { "nextmodel_admission_unavailable_total",
	    "Requests whose budgets and rate limits Redis could not check." },
	[MC_ADMIT_FAIL_OPEN] = { "nextmodel_admission_fail_open_total",
	    "Requests served with their budgets unchecked (Redis unreachable, "
	    "on_redis_down open or budgets_fail_open)." },
	[MC_SETTLE_LOST] = { "nextmodel_settlements_lost_total",
	    "Requests whose cost never reached their budgets (Redis "
	    "unreachable past the retries)." },
};

/* Add n to a plain counter. */
void
metrics_count(struct metrics *m, enum metrics_counter c, unsigned long long n)
{
	if (m != NULL && (int)c >= 0 && c < MC_COUNT)
		atomic_fetch_add(&m->counters[c], n);
}

/* Map the region shared by the master and every worker. */
struct metrics *
metrics_new(void)
{
	struct metrics *m;

	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	memset(m, 0, sizeof(*m));
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m != NULL)
		munmap(m, sizeof(*m));
}

/* FNV-1a over the labels. */
static uint32_t
hash_labels(int status, const char *model, const char *provider)
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = model; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (p = provider; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (h ^ (uint32_t)status) * 16777619u;
}

/* Write the labels into a slot this process holds claimed, then publish it. */
static struct series *
series_fill(struct series *s, int status, const char *model,
    const char *provider)
{
	s->status = status;
	snprintf(s->model, LABEL_MAX, "%s", model);
	snprintf(s->provider, LABEL_MAX, "%s", provider);
	atomic_store(&s->state, SLOT_READY);
	return s;
}

/*
 * A slot another process is claiming (st is minus its pid): 1 once it is
 * ready (look again), 0 when this process took the claim over from a
 * claimer that died, -1 when a live claimer is still writing after the
 * wait (the caller counts the sample as overflow rather than wait more).
 */
static int
claim_wait(struct series *s, int st)
{
	int spins, expect;

	for (spins = 0; spins < CLAIM_WAIT_SPINS; spins++) {
		if (atomic_load(&s->state) != st)
			return 1;
		sched_yield();
	}
	if (kill(-st, 0) == 0 || errno != ESRCH)
		return -1;
	expect = st;
	if (atomic_compare_exchange_strong(&s->state, &expect, -(int)getpid()))
		return 0;
	return 1;		/* another process took it over first */
}

/*
 * Find or claim the series for these labels; NULL when the table is full
 * or a slot on the way stays claimed by a live process.
 */
static struct series *
series_get(struct series *tab, size_t n, int status, const char *model,
    const char *provider)
{
	size_t i, k;
	struct series *s;
	int expect, st, w;

	k = hash_labels(status, model, provider) % n;
	for (i = 0; i < n; i++, k = (k + 1) % n) {
		s = &tab[k];
		for (;;) {
			st = atomic_load(&s->state);
			if (st == SLOT_READY) {
				if (s->status == status &&
				    strncmp(s->model, model, LABEL_MAX - 1) == 0 &&
				    strncmp(s->provider, provider,
				    LABEL_MAX - 1) == 0)
					return s;
				break;
			}
			if (st < 0) {
				if ((w = claim_wait(s, st)) == 0)
					return series_fill(s, status, model,
					    provider);
				if (w < 0)
					return NULL;
				continue;
			}
			expect = SLOT_FREE;
			if (atomic_compare_exchange_strong(&s->state, &expect,
			    -(int)getpid()))
				return series_fill(s, status, model, provider);
		}
	}
	return NULL;
}

/* Count one finished request. */
void
metrics_request(struct metrics *m, int status, const char *model,
    const char *provider, int64_t duration_us)
{
	struct series *s;
	size_t b;
	double secs = (double)duration_us / 1e6;

	if (m == NULL)
		return;
	if ((s = series_get(m->series, SERIES_MAX, status, model, provider)) != NULL)
		atomic_fetch_add(&s->count, 1);
	else
		atomic_fetch_add(&m->overflow, 1);
	for (b = 0; b < NBUCKETS && secs > bucket_le[b]; b++)
		;
	atomic_fetch_add(&m->buckets[b], 1);
	atomic_fetch_add(&m->duration_us_sum, (unsigned long long)duration_us);
	atomic_fetch_add(&m->duration_count, 1);
}

void
metrics_connections(struct metrics *m, int delta)
{
	if (m != NULL)
		atomic_fetch_add(&m->open_connections, delta);
}

void
metrics_upstream_error(struct metrics *m, const char *provider)
{
	struct series *s;

	if (m != NULL && (s = series_get(m->upstream_errors,
	    NM_NELEM(m->upstream_errors), 0, "", provider)) != NULL)
		atomic_fetch_add(&s->count, 1);
}

void
metrics_worker_start(struct metrics *m)
{
	if (m != NULL)
		atomic_fetch_add(&m->worker_starts, 1);
}

void
metrics_reload(struct metrics *m, int ok)
{
	if (m != NULL)
		atomic_fetch_add(ok ? &m->reloads_ok : &m->reloads_failed, 1);
}

/* Take a beat slot for a worker. */
int
metrics_beat_claim(struct metrics *m, int pid)
{
	int i, expect;

	if (m == NULL)
		return -1;
	for (i = 0; i < BEAT_MAX; i++) {
		expect = 0;
		if (atomic_compare_exchange_strong(&m->beats[i].pid, &expect, pid)) {
			atomic_store(&m->beats[i].ms, nm_mono_ms());
			return i;
		}
	}
	return -1;
}

/* The worker is alive. */
void
metrics_beat(struct metrics *m, int slot)
{
	if (m != NULL && slot >= 0 && slot < BEAT_MAX)
		atomic_store(&m->beats[slot].ms, nm_mono_ms());
}

/* How long since pid last beat; -1 when it has no slot (yet). */
int64_t
metrics_beat_age(struct metrics *m, int pid, int64_t now_ms)
{
	int i;

	if (m == NULL || pid <= 0)
		return -1;
	for (i = 0; i < BEAT_MAX; i++)
		if (atomic_load(&m->beats[i].pid) == pid)
			return now_ms - atomic_load(&m->beats[i].ms);
	return -1;
}

/* The worker is gone: free its slot (the master, after reaping it). */
void
metrics_beat_release(struct metrics *m, int pid)
{
	int i;

	if (m == NULL || pid <= 0)
		return;
	for (i = 0; i < BEAT_MAX; i++)
		if (atomic_load(&m->beats[i].pid) == pid)
			atomic_store(&m->beats[i].pid, 0);
}

/* A label value with Prometheus escaping (\\, \", \n). */
static int
label(struct buf *b, const char *v)
{
	int r = 0;

	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			r |= buf_appendc(b, '\\');
		if (*v == '\n')
			r |= buf_appends(b, "\\n");
		else
			r |= buf_appendc(b, *v);
	}
	return r;
}

/* Render everything in the text exposition format. */
int
metrics_render(struct metrics *m, struct buf *b)
{
	unsigned long long cum = 0, sum;
	struct series *s;
	size_t i;
	int r = 0;

	r |= buf_appends(b, "# HELP nextmodel_requests_total Requests answered, "
	    "by status, model and provider.\n"
	    "# TYPE nextmodel_requests_total counter\n");
	for (i = 0; i < SERIES_MAX; i++) {
		s = &m->series[i];
		if (atomic_load(&s->state) != SLOT_READY)
			continue;
		r |= buf_appendf(b, "nextmodel_requests_total{status=\"%d\","
		    "model=\"", s->status);
		r |= label(b, s->model);
		r |= buf_appends(b, "\",provider=\"");
		r |= label(b, s->provider);
		r |= buf_appendf(b, "\"} %llu\n", atomic_load(&s->count));
	}
	r |= buf_appendf(b, "# HELP nextmodel_series_overflow_total Requests "
	    "not counted by label because the series table was full.\n"
	    "# TYPE nextmodel_series_overflow_total counter\n"
	    "nextmodel_series_overflow_total %llu\n", atomic_load(&m->overflow));

	r |= buf_appends(b, "# HELP nextmodel_request_duration_seconds Time "
	    "from the request's first byte to its last.\n"
	    "# TYPE nextmodel_request_duration_seconds histogram\n");
	for (i = 0; i < NBUCKETS; i++) {
		cum += atomic_load(&m->buckets[i]);
		r |= buf_appendf(b, "nextmodel_request_duration_seconds_bucket"
		    "{le=\"%g\"} %llu\n", bucket_le[i], cum);
	}
	cum += atomic_load(&m->buckets[NBUCKETS]);
	sum = atomic_load(&m->duration_us_sum);
	r |= buf_appendf(b, "nextmodel_request_duration_seconds_bucket"
	    "{le=\"+Inf\"} %llu\n", cum);
	r |= buf_appendf(b, "nextmodel_request_duration_seconds_sum %llu.%06llu\n",
	    sum / 1000000, sum % 1000000);
	r |= buf_appendf(b, "nextmodel_request_duration_seconds_count %llu\n",
	    atomic_load(&m->duration_count));

	r |= buf_appendf(b, "# HELP nextmodel_open_connections Client "
	    "connections open now.\n# TYPE nextmodel_open_connections gauge\n"
	    "nextmodel_open_connections %lld\n",
	    (long long)atomic_load(&m->open_connections));

	r |= buf_appends(b, "# HELP nextmodel_upstream_errors_total Failed "
	    "calls to sources, by provider.\n"
	    "# TYPE nextmodel_upstream_errors_total counter\n");
	for (i = 0; i < NM_NELEM(m->upstream_errors); i++) {
		s = &m->upstream_errors[i];
		if (atomic_load(&s->state) != SLOT_READY)
			continue;
		r |= buf_appends(b, "nextmodel_upstream_errors_total{provider=\"");
		r |= label(b, s->provider);
		r |= buf_appendf(b, "\"} %llu\n", atomic_load(&s->count));
	}
	r |= buf_appendf(b, "# HELP nextmodel_worker_starts_total Worker "
	    "processes started (respawns and reloads included).\n"
	    "# TYPE nextmodel_worker_starts_total counter\n"
	    "nextmodel_worker_starts_total %llu\n",
	    atomic_load(&m->worker_starts));
	r |= buf_appendf(b, "# HELP nextmodel_reloads_total Configuration "
	    "reloads, by result.\n# TYPE nextmodel_reloads_total counter\n"
	    "nextmodel_reloads_total{result=\"ok\"} %llu\n"
	    "nextmodel_reloads_total{result=\"failed\"} %llu\n",
	    atomic_load(&m->reloads_ok), atomic_load(&m->reloads_failed));
	for (i = 0; i < MC_COUNT; i++)
		r |= buf_appendf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
		    counter_names[i].name, counter_names[i].help,
		    counter_names[i].name, counter_names[i].name,
		    atomic_load(&m->counters[i]));
	return r ? -1 : 0;
}
