/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * libyaml to a small tree of nodes that remember the file and line they
 * came from, so every configuration error can say FILE:LINE.  Anchors,
 * aliases, tags, several documents and duplicated mapping keys are
 * refused.  The tree is immutable once loaded.
 */
/*
 * libyaml's own header is also called yaml.h and also guarded by YAML_H, and
 * -I src puts this file first on the <> search path.  So the guard is
 * NM_YAML_H, and src/yaml.c (only it) defines NM_YAML_LIBYAML to have this
 * file pull in the real libyaml header with #include_next.
 */
#ifndef NM_YAML_H
#define NM_YAML_H

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
 * file loads as an empty mapping.  Caller frees with yaml_free().
 */
struct ynode	*yaml_load_file(const char *path, char *err, size_t errlen);
/* Same from memory; name is used as FILE in messages. */
struct ynode	*yaml_load_string(const char *name, const char *s, size_t len,
		    char *err, size_t errlen);
/*
 * libyaml exports an internal yaml_free(void *) of its own; the macro keeps
 * our symbol apart so neither library calls the other's by mistake.
 */
#define yaml_free	nm_yaml_free
void		 yaml_free(struct ynode *);	/* yaml_free(NULL) does nothing */

/* Value of key in a mapping, or NULL. */
struct ynode	*yaml_get(const struct ynode *map, const char *key);
/* 1 if a plain scalar is YAML null (~, null, empty). */
int		 yaml_is_null(const struct ynode *);

/*
 * Typed scalar readers: 0, or -1 with "FILE:LINE: what" in err.
 * yaml_bool takes true/false/yes/no/on/off; yaml_long rejects junk and
 * overflow and checks [min, max].
 */
int		 yaml_bool(const struct ynode *, int *out, char *err, size_t errlen);
int		 yaml_long(const struct ynode *, long min, long max, long *out,
		    char *err, size_t errlen);
int		 yaml_string(const struct ynode *, const char **out, char *err,
		    size_t errlen);
/* "FILE:LINE: " + printf into err. Returns -1 for "return yaml_error(...)". */
int		 yaml_error(const struct ynode *, char *err, size_t errlen,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#ifdef NM_YAML_LIBYAML
#include_next <yaml.h>
#endif

#endif
