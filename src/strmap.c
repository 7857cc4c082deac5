/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Open addressing with linear probing, at most half full.  The hash is
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input
 * PRF") keyed from the system's random source, so lookups stay O(1)
 * whatever keys a client sends.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "strmap.h"

#define STRMAP_MIN	16

struct strmap_slot {
	char		*key;		/* NULL: empty */
	size_t		 len;
	uint64_t	 hash;
	size_t		 val;
};

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* One SipRound on v[0..3]. */
static void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

/* Little-endian 64-bit word from 8 bytes. */
static uint64_t
le64(const unsigned char *p)
{
	uint64_t w = 0;
	int i;

	for (i = 7; i >= 0; i--)
		w = w << 8 | p[i];
	return w;
}

/* SipHash-2-4 of s[0..len) under key (k0, k1). */
static uint64_t
siphash(uint64_t k0, uint64_t k1, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char last[8];
	uint64_t v[4], m;
	size_t i, left;

	v[0] = k0 ^ 0x736f6d6570736575ULL;
	v[1] = k1 ^ 0x646f72616e646f6dULL;
	v[2] = k0 ^ 0x6c7967656e657261ULL;
	v[3] = k1 ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(p + i);
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	left = len - i;
	memset(last, 0, sizeof(last));
	if (left > 0)
		memcpy(last, p + i, left);
	last[7] = (unsigned char)len;
	m = le64(last);
	v[3] ^= m;
	sipround(v);
	sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* Free the key copies and the slots. */
void
strmap_free(struct strmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->slot[i].key);
	free(m->slot);
	m->slot = NULL;
	m->cap = m->n = 0;
}

/* The slot holding key, or the empty slot where it would go. */
static struct strmap_slot *
find(const struct strmap *m, const char *key, size_t len, uint64_t h)
{
	struct strmap_slot *s;
	size_t i;

	for (i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		s = &m->slot[i];
		if (s->key == NULL || (s->hash == h && s->len == len &&
		    memcmp(s->key, key, len) == 0))
			return s;
	}
}

/*
 * Double the slots, or make the first ones with a fresh random key.
 * Without entropy the map still works; only its flood-proofing goes.
 * 0 or -1.
 */
static int
grow(struct strmap *m)
{
	struct strmap_slot *old = m->slot, *s;
	uint64_t k[2] = { 0, 0 };
	size_t oldcap = m->cap, i, cap;

	if (oldcap == 0) {
		(void)crypto_random(k, sizeof(k));
		m->k0 = k[0];
		m->k1 = k[1];
	}
	cap = oldcap == 0 ? STRMAP_MIN : oldcap * 2;
	if (cap > SIZE_MAX / sizeof(*old) ||
	    (m->slot = calloc(cap, sizeof(*old))) == NULL) {
		m->slot = old;
		return -1;
	}
	m->cap = cap;
	for (i = 0; i < oldcap; i++) {
		if (old[i].key == NULL)
			continue;
		s = find(m, old[i].key, old[i].len, old[i].hash);
		*s = old[i];
	}
	free(old);
	return 0;
}

/* The value of key, or NULL. */
size_t *
strmap_get(const struct strmap *m, const char *key, size_t len)
{
	struct strmap_slot *s;

	if (m->n == 0)
		return NULL;
	s = find(m, key, len, siphash(m->k0, m->k1, key, len));
	return s->key != NULL ? &s->val : NULL;
}

/* Add key (copied) with val, or find it; 1 added, 0 there, -1 OOM. */
int
strmap_put(struct strmap *m, const char *key, size_t len, size_t val,
    int replace)
{
	struct strmap_slot *s;
	uint64_t h;
	char *copy;

	if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
		return -1;
	h = siphash(m->k0, m->k1, key, len);
	s = find(m, key, len, h);
	if (s->key != NULL) {
		if (replace)
			s->val = val;
		return 0;
	}
	if ((copy = malloc(len + 1)) == NULL)
		return -1;
	memcpy(copy, key, len);
	copy[len] = '\0';
	s->key = copy;
	s->len = len;
	s->hash = h;
	s->val = val;
	m->n++;
	return 1;
}

/* Remember key -> val in the newer generation, dropping the older when full. */
int
strmap_memo_put(struct strmap m[2], const char *key, size_t len, size_t val,
    size_t max)
{
	size_t *v;

	if ((v = strmap_get(&m[0], key, len)) != NULL) {
		*v = val;
		return 0;
	}
	if (m[0].n >= max) {
		strmap_free(&m[1]);
		m[1] = m[0];
		memset(&m[0], 0, sizeof(m[0]));
	}
	if (strmap_put(&m[0], key, len, val, 1) != -1)
		return 1;
	/* Out of memory: an older value must not outlive the new one. */
	if ((v = strmap_get(&m[1], key, len)) != NULL)
		*v = 0;
	return -1;
}

/* Look in the newer generation, then the older. */
size_t *
strmap_memo_get(const struct strmap m[2], const char *key, size_t len)
{
	size_t *v;

	if ((v = strmap_get(&m[0], key, len)) == NULL)
		v = strmap_get(&m[1], key, len);
	return v;
}
