/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for the shared metrics table, white-box (it includes
 * metrics.c to reach the slots): counting, and a series slot left
 * "being claimed" by a process that died mid-claim, which must be taken
 * over, never waited on for ever (issue 11's suspected hang), while a
 * live claimer that does not finish costs one sample, not a hang.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/metrics.c"
#include "unit.h"

/* The pid of a process that has exited and been reaped. */
static pid_t
dead_pid(void)
{
	pid_t p;
	int st;

	if ((p = fork()) == 0)
		_exit(0);
	waitpid(p, &st, 0);
	return p;
}

/*
 * Count one request with these labels (status 0: one upstream error of
 * prov) in a child that an alarm kills after 10 s: 1 if it finished (no
 * hang), 0 if it hung or crashed.
 */
static int
count_in_child(struct metrics *m, int status, const char *model,
    const char *prov)
{
	pid_t p;
	int st;

	if ((p = fork()) == 0) {
		alarm(10);
		if (status == 0)
			metrics_upstream_error(m, prov);
		else
			metrics_request(m, status, model, prov, 1000);
		_exit(0);
	}
	if (waitpid(p, &st, 0) != p)
		return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The slot these labels hash to first. */
static struct series *
home_slot(struct metrics *m, int status, const char *model, const char *prov)
{
	return &m->series[hash_labels(status, model, prov) % SERIES_MAX];
}

int
main(void)
{
	struct metrics *m;
	struct series *s;
	struct buf b;

	CHECK((m = metrics_new()) != NULL);

	/* Plain counting, seen by /metrics. */
	metrics_request(m, 200, "gpt-a", "openai", 1000);
	metrics_request(m, 200, "gpt-a", "openai", 1000);
	buf_init(&b, 1 << 20);
	CHECK(metrics_render(m, &b) == 0);
	CHECK(strstr(b.data, "model=\"gpt-a\",provider=\"openai\"") != NULL);
	buf_free(&b);
	CHECK(atomic_load(&home_slot(m, 200, "gpt-a", "openai")->count) == 2);

	/* A claim left by a dead process: taken over, the sample counted. */
	s = home_slot(m, 200, "gpt-b", "anthropic");
	CHECK(atomic_load(&s->state) == SLOT_FREE);
	atomic_store(&s->state, -(int)dead_pid());
	CHECK(count_in_child(m, 200, "gpt-b", "anthropic"));
	CHECK(atomic_load(&s->state) == SLOT_READY);
	CHECK(s->status == 200 && strcmp(s->model, "gpt-b") == 0 &&
	    strcmp(s->provider, "anthropic") == 0);
	CHECK(atomic_load(&s->count) == 1);
	/* And the slot serves the next request as any other. */
	metrics_request(m, 200, "gpt-b", "anthropic", 1000);
	CHECK(atomic_load(&s->count) == 2);

	/* A live claimer that never finishes: one sample overflows, no hang. */
	s = home_slot(m, 500, "gpt-c", "gemini");
	CHECK(atomic_load(&s->state) == SLOT_FREE);
	atomic_store(&s->state, -(int)getpid());
	CHECK(count_in_child(m, 500, "gpt-c", "gemini"));
	CHECK(atomic_load(&m->overflow) == 1);
	CHECK(atomic_load(&s->state) == -(int)getpid());

	/* The upstream error table uses the same slots. */
	s = &m->upstream_errors[hash_labels(0, "", "qwen") %
	    NM_NELEM(m->upstream_errors)];
	atomic_store(&s->state, -(int)dead_pid());
	CHECK(count_in_child(m, 0, "", "qwen"));
	CHECK(atomic_load(&s->count) == 1);

	metrics_free(m);
	UNIT_DONE();
}
