/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Tests for strmap.c: add, find, replace, keys with NULs and shared
 * prefixes, growth through many keys, and a zeroed or freed map; the
 * two-generation memory stays bounded and keeps the keys in use.
 */
#include <stdio.h>
#include <string.h>

#include "nextmodel.h"
#include "strmap.h"
#include "unit.h"

#define NKEYS	100000

/* Many keys: each is found with its value, absent ones are not. */
static void
test_many(void)
{
	struct strmap m;
	const size_t *v;
	char k[32];
	int i, n, bad = 0;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < NKEYS; i++) {
		n = snprintf(k, sizeof(k), "call_%d", i);
		if (strmap_put(&m, k, (size_t)n, (size_t)i, 0) != 1)
			bad++;
	}
	CHECK(bad == 0);
	CHECK(m.n == NKEYS);
	CHECK(m.cap >= 2 * NKEYS);
	for (i = 0; i < NKEYS; i++) {
		n = snprintf(k, sizeof(k), "call_%d", i);
		if ((v = strmap_get(&m, k, (size_t)n)) == NULL || *v != (size_t)i)
			bad++;
		n = snprintf(k, sizeof(k), "call_%d", i + NKEYS);
		if (strmap_get(&m, k, (size_t)n) != NULL)
			bad++;
	}
	CHECK(bad == 0);
	strmap_free(&m);
	CHECK(m.n == 0 && m.cap == 0 && m.slot == NULL);
	/* A freed map is an empty one, ready for reuse. */
	CHECK(strmap_get(&m, "call_1", 6) == NULL);
	CHECK(strmap_put(&m, "call_1", 6, 7, 0) == 1);
	CHECK(strmap_get(&m, "call_1", 6) != NULL);
	strmap_free(&m);
}

/* Replace or keep, binary keys, the empty key, prefixes. */
static void
test_keys(void)
{
	struct strmap m;
	const size_t *v;

	memset(&m, 0, sizeof(m));
	CHECK(strmap_get(&m, "a", 1) == NULL);
	strmap_free(&m);		/* a zeroed map */
	CHECK(strmap_put(&m, "id", 2, 1, 0) == 1);
	CHECK(strmap_put(&m, "id", 2, 2, 0) == 0);
	CHECK((v = strmap_get(&m, "id", 2)) != NULL && *v == 1);
	CHECK(strmap_put(&m, "id", 2, 3, 1) == 0);
	CHECK((v = strmap_get(&m, "id", 2)) != NULL && *v == 3);
	CHECK(strmap_put(&m, "a\0b", 3, 10, 0) == 1);
	CHECK(strmap_put(&m, "a\0c", 3, 11, 0) == 1);
	CHECK(strmap_put(&m, "a", 1, 12, 0) == 1);
	CHECK(strmap_put(&m, "", 0, 13, 0) == 1);
	CHECK((v = strmap_get(&m, "a\0b", 3)) != NULL && *v == 10);
	CHECK((v = strmap_get(&m, "a\0c", 3)) != NULL && *v == 11);
	CHECK((v = strmap_get(&m, "a", 1)) != NULL && *v == 12);
	CHECK((v = strmap_get(&m, "", 0)) != NULL && *v == 13);
	CHECK(strmap_get(&m, "i", 1) == NULL);
	CHECK(strmap_get(&m, "idx", 3) == NULL);
	CHECK(m.n == 5);
	strmap_free(&m);
}

/* strmap_memo_*: at most 2 x max keys, the oldest unused dropped first. */
static void
test_memo(void)
{
	struct strmap	 m[2];
	char		 k[16];
	size_t		*v;
	int		 i;

	memset(m, 0, sizeof(m));
	CHECK(strmap_memo_get(m, "k0", 2) == NULL);
	for (i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		CHECK(strmap_memo_put(m, k, strlen(k), (size_t)i + 10, 4) == 1);
	}
	CHECK(m[0].n == 4 && m[1].n == 0);
	CHECK(strmap_memo_put(m, "k2", 2, 99, 4) == 0);	/* replaced, no turn */
	CHECK(m[0].n == 4 && m[1].n == 0);
	CHECK(strmap_memo_put(m, "k4", 2, 14, 4) == 1);	/* a new generation */
	CHECK(m[0].n == 1 && m[1].n == 4);
	CHECK((v = strmap_memo_get(m, "k0", 2)) != NULL && *v == 10);
	CHECK((v = strmap_memo_get(m, "k2", 2)) != NULL && *v == 99);
	/* k1, used again, moves to the newer generation with its new value. */
	CHECK(strmap_memo_put(m, "k1", 2, 21, 4) == 1);
	CHECK((v = strmap_memo_get(m, "k1", 2)) != NULL && *v == 21);
	CHECK(strmap_memo_put(m, "k5", 2, 15, 4) == 1);
	CHECK(strmap_memo_put(m, "k6", 2, 16, 4) == 1);
	CHECK(m[0].n == 4 && m[1].n == 4);
	CHECK(strmap_memo_put(m, "k7", 2, 17, 4) == 1);	/* the first dropped */
	CHECK(m[0].n == 1 && m[1].n == 4);
	CHECK(strmap_memo_get(m, "k0", 2) == NULL);
	CHECK(strmap_memo_get(m, "k3", 2) == NULL);
	CHECK((v = strmap_memo_get(m, "k1", 2)) != NULL && *v == 21);
	CHECK((v = strmap_memo_get(m, "k4", 2)) != NULL && *v == 14);
	CHECK((v = strmap_memo_get(m, "k7", 2)) != NULL && *v == 17);
	/* However many keys, never more than 2 x max. */
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "n%d", i);
		CHECK(strmap_memo_put(m, k, strlen(k), 1, 4) == 1);
		CHECK(m[0].n + m[1].n <= 8);
	}
	strmap_free(&m[0]);
	strmap_free(&m[1]);
}

int
main(void)
{
	test_keys();
	test_many();
	test_memo();
	UNIT_DONE();
}
