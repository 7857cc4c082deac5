/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A small string -> size_t hash map for the translators, so that a
 * request with many tool calls is indexed in linear time.  Keys come
 * from clients, so the hash is SipHash with a random key per map: no
 * client can pick keys that collide.
 */
#ifndef STRMAP_H
#define STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot;

struct strmap {
	struct strmap_slot *slot;	/* NULL until the first key */
	size_t		 cap;		/* a power of two, or 0 */
	size_t		 n;
	uint64_t	 k0, k1;	/* the SipHash key, drawn with the first slots */
};

/* A zeroed struct strmap is an empty map: no init function. */
/* Frees the map's copies of the keys and empties it. */
void	 strmap_free(struct strmap *);
/* The value of key[0..len), or NULL. */
size_t	*strmap_get(const struct strmap *, const char *key, size_t len);
/*
 * Add key[0..len) (copied) with val.  replace: overwrite the value of a
 * key already there.  1 added, 0 already there, -1 out of memory.
 */
int	 strmap_put(struct strmap *, const char *key, size_t len, size_t val,
	    int replace);
/*
 * A bounded memory in two generations, m[0] the newer: key -> val goes
 * into m[0]; when m[0] holds max keys and key is not one of them, m[1] is
 * freed and m[0] becomes it.  So at most 2 x max keys, and a key put
 * again is kept.  1 added, 0 replaced, -1 out of memory (then an older
 * value of key in m[1] reads 0: forgotten, never stale).  Free both maps.
 */
int	 strmap_memo_put(struct strmap m[2], const char *key, size_t len,
	    size_t val, size_t max);
/* The value of key in m[0], else in m[1], or NULL. */
size_t	*strmap_memo_get(const struct strmap m[2], const char *key, size_t len);

#endif
