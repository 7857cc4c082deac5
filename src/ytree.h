/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * libyaml to a small tree of nodes that remember the file and line they
 * came from, so every configuration error can say FILE:LINE.  Anchors,
 * aliases, tags, several documents and duplicated mapping keys are
 * refused.  The tree is immutable once loaded.
 */
#ifndef YTREE_H
#define YTREE_H

#include <stddef.h>

enum ynode_type { YNODE_SCALAR = 1, YNODE_MAP, YNODE_SEQ };

struct ynode {
	enum ynode_type	  type;
	const char	 *file;		/* shared by the whole tree */
	unsigned	  line;		/* 1-based */
	/* YNODE_SCALAR */
	char		 *str;		/* NUL-terminated */
	size_t		  len;
	int		  quoted;	/* written with quotes: never null/bool/number */
	/* YNODE_MAP: n pairs keys[i] -> vals[i] (keys are scalars); YNODE_SEQ: vals[i] */
	size_t		  n;
	struct ynode	**keys;
	struct ynode	**vals;
};

/*
 * Load a file.  NULL on error with "FILE:LINE: message" in err.  An empty
 * file loads as an empty mapping.  Caller frees with ytree_free().
 */
struct ynode	*ytree_load_file(const char *path, char *err, size_t errlen);
/* Same from memory; name is used as FILE in messages. */
struct ynode	*ytree_load_string(const char *name, const char *s, size_t len,
		    char *err, size_t errlen);
void		 ytree_free(struct ynode *);	/* ytree_free(NULL) does nothing */

/* Value of key in a mapping, or NULL. */
struct ynode	*ytree_get(const struct ynode *map, const char *key);
/* 1 if a plain scalar is YAML null (~, null, empty). */
int		 ytree_is_null(const struct ynode *);

/*
 * Typed scalar readers: 0, or -1 with "FILE:LINE: what" in err.
 * ytree_bool takes true/false/yes/no/on/off; ytree_long rejects junk and
 * overflow and checks [min, max].
 */
int		 ytree_bool(const struct ynode *, int *out, char *err, size_t errlen);
int		 ytree_long(const struct ynode *, long min, long max, long *out,
		    char *err, size_t errlen);
int		 ytree_string(const struct ynode *, const char **out, char *err,
		    size_t errlen);
/* "FILE:LINE: " + printf into err. Returns -1 for "return ytree_error(...)". */
int		 ytree_error(const struct ynode *, char *err, size_t errlen,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
