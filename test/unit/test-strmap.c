/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Tests for strmap.c: add, find, replace, keys with NULs and shared
 * prefixes, growth through many keys, and a zeroed or freed map.
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

int
main(void)
{
	test_keys();
	test_many();
	UNIT_DONE();
}
