/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Builds the small ynode tree from libyaml's event stream, remembering the
 * line of every node so configuration errors can say FILE:LINE.  Only the
 * plain subset of YAML that configuration needs is accepted: no anchors,
 * aliases, custom tags or second documents, and hard limits on size.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>
#include "nextmodel.h"
#include "ytree.h"

#define YAML_MAX_DEPTH		64
#define YAML_MAX_FILE		(4 * 1024 * 1024)
#define YAML_MAX_SCALAR		(64 * 1024)

/* One open collection while building: its node and array capacity. */
struct frame {
	struct ynode	*node;
	size_t		 cap;
	int		 want_value;	/* maps: a key is waiting for its value */
};

struct builder {
	const char	*name;
	const char	*file;		/* the copy stored after the root node */
	const char	*input;
	size_t		 inlen;
	struct ynode	*root;
	struct frame	 stack[YAML_MAX_DEPTH];
	int		 depth;
	int		 documents;
	char		*err;
	size_t		 errlen;
};

/* The explicit tags we accept: the YAML core schema, as libyaml spells it. */
static const struct {
	const char	*tag;
	enum ynode_type	 type;
	int		 is_str;
} yaml_tags[] = {
	{ YAML_STR_TAG,		YNODE_SCALAR,	1 },
	{ YAML_INT_TAG,		YNODE_SCALAR,	0 },
	{ YAML_FLOAT_TAG,	YNODE_SCALAR,	0 },
	{ YAML_BOOL_TAG,	YNODE_SCALAR,	0 },
	{ YAML_NULL_TAG,	YNODE_SCALAR,	0 },
	{ YAML_MAP_TAG,		YNODE_MAP,	0 },
	{ YAML_SEQ_TAG,		YNODE_SEQ,	0 },
};

/* Spellings of booleans, compared without case. */
static const struct {
	const char	*word;
	int		 value;
} yaml_bools[] = {
	{ "true", 1 }, { "yes", 1 }, { "on", 1 },
	{ "false", 0 }, { "no", 0 }, { "off", 0 },
};

/* Write "FILE:LINE: message" (or "FILE: message" when line is 0) into err. */
static int NM_PRINTF(5, 0)
ytree_verror(const char *file, unsigned line, char *err, size_t errlen,
    const char *fmt, va_list ap)
{
	int	n;

	if (err == NULL || errlen == 0)
		return (-1);
	if (file == NULL)
		n = 0;
	else if (line == 0)
		n = snprintf(err, errlen, "%s: ", file);
	else
		n = snprintf(err, errlen, "%s:%u: ", file, line);
	if (n < 0)
		n = 0;
	if ((size_t)n < errlen)
		vsnprintf(err + n, errlen - n, fmt, ap);
	/* Messages echo names from the file: keep them to one log line. */
	for (; *err != '\0'; err++)
		if ((unsigned char)*err < 0x20 || *err == 0x7f)
			*err = '?';
	return (-1);
}

/* printf-style error at a file and line, for this file's own use. */
static int NM_PRINTF(5, 6)
ytree_ferror(const char *file, unsigned line, char *err, size_t errlen,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	ytree_verror(file, line, err, errlen, fmt, ap);
	va_end(ap);
	return (-1);
}

/* "FILE:LINE: " and the message into err; always -1. */
int
ytree_error(const struct ynode *n, char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	ytree_verror(n != NULL ? n->file : NULL, n != NULL ? n->line : 0, err,
	    errlen, fmt, ap);
	va_end(ap);
	return (-1);
}

/* 1-based line of a libyaml mark, clamped to fit. */
static unsigned
mark_line(const yaml_mark_t *m)
{
	if (m->line >= UINT_MAX - 1)
		return (UINT_MAX);
	return ((unsigned)m->line + 1);
}

/* Error at a libyaml mark while building. */
static int NM_PRINTF(3, 4)
build_error(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	ytree_verror(b->name, mark_line(m), b->err, b->errlen, fmt, ap);
	va_end(ap);
	return (-1);
}

/* Free a node and everything below it. */
void
ytree_free(struct ynode *n)
{
	size_t	i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++) {
		if (n->keys != NULL)
			ytree_free(n->keys[i]);
		if (n->vals != NULL)
			ytree_free(n->vals[i]);
	}
	free(n->keys);
	free(n->vals);
	free(n->str);
	free(n);
}

/*
 * A new node.  The first one becomes the root and carries the file name
 * in the same allocation, so freeing the root frees the name too.
 */
static struct ynode *
node_new(struct builder *b, enum ynode_type type, const yaml_mark_t *m)
{
	struct ynode	*n;
	size_t		 namelen;

	if (b->root == NULL) {
		namelen = strlen(b->name);
		n = calloc(1, sizeof(*n) + namelen + 1);
		if (n == NULL)
			return (NULL);
		memcpy((char *)(n + 1), b->name, namelen + 1);
		b->file = (const char *)(n + 1);
		b->root = n;
	} else if ((n = calloc(1, sizeof(*n))) == NULL)
		return (NULL);
	n->type = type;
	n->file = b->file;
	n->line = mark_line(m);
	return (n);
}

/* Room for one more child in an open collection. */
static int
frame_grow(struct frame *f)
{
	struct ynode	**keys, **vals;
	size_t		  cap;

	if (f->node->n < f->cap)
		return (0);
	if (f->cap > SIZE_MAX / 2 / sizeof(*vals))
		return (-1);
	cap = f->cap == 0 ? 4 : f->cap * 2;
	if (f->node->type == YNODE_MAP) {
		keys = realloc(f->node->keys, cap * sizeof(*keys));
		if (keys == NULL)
			return (-1);
		f->node->keys = keys;
	}
	vals = realloc(f->node->vals, cap * sizeof(*vals));
	if (vals == NULL)
		return (-1);
	f->node->vals = vals;
	f->cap = cap;
	return (0);
}

/*
 * Hang a new node under the innermost open collection (or keep it as the
 * root).  On error the node is freed here unless it is already the root.
 */
static int
node_attach(struct builder *b, struct ynode *n, const yaml_mark_t *m)
{
	struct frame	*f;

	if (b->depth == 0)
		return (0);
	f = &b->stack[b->depth - 1];
	if (f->node->type == YNODE_MAP && !f->want_value &&
	    n->type != YNODE_SCALAR) {
		ytree_free(n);
		return (build_error(b, m, "mapping keys must be scalars"));
	}
	if (frame_grow(f) == -1) {
		ytree_free(n);
		return (build_error(b, m, "out of memory"));
	}
	if (f->node->type == YNODE_SEQ)
		f->node->vals[f->node->n++] = n;
	else if (!f->want_value) {
		f->node->keys[f->node->n] = n;
		f->node->vals[f->node->n] = NULL;
		f->node->n++;
		f->want_value = 1;
	} else {
		f->node->vals[f->node->n - 1] = n;
		f->want_value = 0;
	}
	return (0);
}

/* Check an event's anchor and tag against what we accept. */
static int
check_props(struct builder *b, const yaml_mark_t *m, const yaml_char_t *anchor,
    const yaml_char_t *tag, enum ynode_type type, int *is_str)
{
	size_t	i;

	*is_str = 0;
	if (anchor != NULL)
		return (build_error(b, m, "anchors and aliases are not supported"));
	if (tag == NULL)
		return (0);
	for (i = 0; i < NM_NELEM(yaml_tags); i++) {
		if (strcmp((const char *)tag, yaml_tags[i].tag) != 0)
			continue;
		if (yaml_tags[i].type != type)
			break;
		*is_str = yaml_tags[i].is_str;
		return (0);
	}
	return (build_error(b, m, "tags other than the standard ones are "
	    "not supported"));
}

/* A scalar event: a new leaf. */
static int
on_scalar(struct builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t	*m = &ev->start_mark;
	struct ynode		*n;
	size_t			 len = ev->data.scalar.length;
	int			 is_str;

	if (check_props(b, m, ev->data.scalar.anchor, ev->data.scalar.tag,
	    YNODE_SCALAR, &is_str) == -1)
		return (-1);
	if (len > YAML_MAX_SCALAR)
		return (build_error(b, m, "scalar longer than %d bytes",
		    YAML_MAX_SCALAR));
	if (memchr(ev->data.scalar.value, '\0', len) != NULL)
		return (build_error(b, m, "NUL character in scalar"));
	/* "---" alone: an empty document, the same as an empty file. */
	if (b->depth == 0 && len == 0 && ev->data.scalar.tag == NULL &&
	    ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (node_new(b, YNODE_MAP, m) == NULL)
			return (build_error(b, m, "out of memory"));
		return (0);
	}
	if ((n = node_new(b, YNODE_SCALAR, m)) == NULL)
		return (build_error(b, m, "out of memory"));
	if ((n->str = malloc(len + 1)) == NULL) {
		if (n != b->root)
			ytree_free(n);
		return (build_error(b, m, "out of memory"));
	}
	memcpy(n->str, ev->data.scalar.value, len);
	n->str[len] = '\0';
	n->len = len;
	n->quoted = is_str ||
	    ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	return (node_attach(b, n, m));
}

/* A mapping or sequence starts: a new node, pushed on the stack. */
static int
on_start(struct builder *b, const yaml_event_t *ev, enum ynode_type type)
{
	const yaml_mark_t	*m = &ev->start_mark;
	const yaml_char_t	*anchor, *tag;
	struct ynode		*n;
	int			 is_str;

	if (type == YNODE_MAP) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	} else {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	}
	if (check_props(b, m, anchor, tag, type, &is_str) == -1)
		return (-1);
	if (b->depth == YAML_MAX_DEPTH)
		return (build_error(b, m, "nesting deeper than %d levels",
		    YAML_MAX_DEPTH));
	if ((n = node_new(b, type, m)) == NULL)
		return (build_error(b, m, "out of memory"));
	if (node_attach(b, n, m) == -1)
		return (-1);
	b->stack[b->depth].node = n;
	b->stack[b->depth].cap = 0;
	b->stack[b->depth].want_value = 0;
	b->depth++;
	return (0);
}

/* A key and its position in its mapping, for the duplicate check. */
struct keyref {
	const struct ynode	*key;
	size_t			 pos;
};

/* Order keys by text, then by position. */
static int
key_cmp(const void *a, const void *b)
{
	const struct keyref	*ra = a, *rb = b;
	size_t			 len = NM_MIN(ra->key->len, rb->key->len);
	int			 c;

	if ((c = memcmp(ra->key->str, rb->key->str, len)) != 0)
		return (c);
	if (ra->key->len != rb->key->len)
		return (ra->key->len < rb->key->len ? -1 : 1);
	return (ra->pos < rb->pos ? -1 : ra->pos > rb->pos);
}

/*
 * Refuse a mapping that names a key twice.  Sorting keeps this
 * O(n log n) for large maps; the error names the first repetition in
 * file order.
 */
static int
check_duplicates(struct builder *b, const struct ynode *map)
{
	struct keyref	*refs;
	const struct ynode *dup = NULL;
	size_t		 i, dpos = 0;

	if (map->n < 2)
		return (0);
	if ((refs = calloc(map->n, sizeof(*refs))) == NULL)
		return (ytree_error(map, b->err, b->errlen, "out of memory"));
	for (i = 0; i < map->n; i++) {
		refs[i].key = map->keys[i];
		refs[i].pos = i;
	}
	qsort(refs, map->n, sizeof(*refs), key_cmp);
	for (i = 1; i < map->n; i++) {
		if (refs[i].key->len != refs[i - 1].key->len ||
		    memcmp(refs[i].key->str, refs[i - 1].key->str,
		    refs[i].key->len) != 0)
			continue;
		if (dup == NULL || refs[i].pos < dpos) {
			dup = refs[i].key;
			dpos = refs[i].pos;
		}
	}
	free(refs);
	if (dup != NULL)
		return (ytree_error(dup, b->err, b->errlen,
		    "duplicated key \"%.64s\"", dup->str));
	return (0);
}

/* A mapping or sequence ends. */
static int
on_end(struct builder *b)
{
	struct ynode	*n;

	if (b->depth == 0)
		return (0);
	n = b->stack[--b->depth].node;
	if (n->type == YNODE_MAP)
		return (check_duplicates(b, n));
	return (0);
}

/* Line of a byte offset, for reader errors that carry no mark. */
static unsigned
offset_line(const char *s, size_t len, size_t off)
{
	unsigned	line = 1;
	size_t		i;

	for (i = 0; i < off && i < len; i++)
		if (s[i] == '\n' && line < UINT_MAX)
			line++;
	return (line);
}

/* Turn libyaml's own error into "FILE:LINE: problem (context)". */
static int
parser_error(struct builder *b, const yaml_parser_t *p)
{
	const char	*problem = p->problem != NULL ? p->problem : "syntax error";
	unsigned	 line;

	if (p->error == YAML_MEMORY_ERROR)
		return (ytree_ferror(b->name, 0, b->err, b->errlen,
		    "out of memory"));
	if (p->error == YAML_READER_ERROR)
		line = offset_line(b->input, b->inlen, p->problem_offset);
	else
		line = mark_line(&p->problem_mark);
	if (p->context != NULL)
		return (ytree_ferror(b->name, line, b->err, b->errlen,
		    "%s (%s at line %u)", problem, p->context,
		    mark_line(&p->context_mark)));
	return (ytree_ferror(b->name, line, b->err, b->errlen, "%s", problem));
}

/* Act on one event: 1 at the end of the stream, 0 to go on, -1 on error. */
static int
on_event(struct builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return (1);
	case YAML_DOCUMENT_START_EVENT:
		if (b->documents++ > 0)
			return (build_error(b, &ev->start_mark,
			    "only one document per file is supported"));
		return (0);
	case YAML_ALIAS_EVENT:
		return (build_error(b, &ev->start_mark,
		    "anchors and aliases are not supported"));
	case YAML_SCALAR_EVENT:
		return (on_scalar(b, ev));
	case YAML_SEQUENCE_START_EVENT:
		return (on_start(b, ev, YNODE_SEQ));
	case YAML_MAPPING_START_EVENT:
		return (on_start(b, ev, YNODE_MAP));
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return (on_end(b));
	default:
		return (0);
	}
}

/* Parse from memory.  Caller frees with ytree_free(). */
struct ynode *
ytree_load_string(const char *name, const char *s, size_t len, char *err,
    size_t errlen)
{
	struct builder	 b;
	yaml_parser_t	 parser;
	yaml_event_t	 ev;
	yaml_mark_t	 start = { 0, 0, 0 };
	int		 rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (name == NULL)
		name = "(string)";
	if (s == NULL) {
		s = "";
		len = 0;
	}
	if (len > YAML_MAX_FILE) {
		ytree_ferror(name, 0, err, errlen, "larger than %d bytes",
		    YAML_MAX_FILE);
		return (NULL);
	}
	memset(&b, 0, sizeof(b));
	b.name = name;
	b.input = s;
	b.inlen = len;
	b.err = err;
	b.errlen = errlen;

	if (!yaml_parser_initialize(&parser)) {
		ytree_ferror(name, 0, err, errlen, "out of memory");
		return (NULL);
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)s, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = parser_error(&b, &parser);
			break;
		}
		rc = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (rc != 0)
			break;
	}
	yaml_parser_delete(&parser);
	if (rc == -1) {
		ytree_free(b.root);
		return (NULL);
	}
	/* No document at all (empty or comments only): an empty mapping. */
	if (b.root == NULL && node_new(&b, YNODE_MAP, &start) == NULL) {
		ytree_ferror(name, 0, err, errlen, "out of memory");
		return (NULL);
	}
	return (b.root);
}

/* Read and parse a file.  Caller frees with ytree_free(). */
struct ynode *
ytree_load_file(const char *path, char *err, size_t errlen)
{
	struct ynode	*root = NULL;
	struct stat	 st;
	char		*data = NULL;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		ytree_ferror(path, 0, err, errlen, "%s", strerror(errno));
		return (NULL);
	}
	if (fstat(fd, &st) == -1) {
		ytree_ferror(path, 0, err, errlen, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ytree_ferror(path, 0, err, errlen, "not a regular file");
		goto out;
	}
	/* One byte more than the limit, to notice a file that grew. */
	if ((data = malloc(YAML_MAX_FILE + 1)) == NULL) {
		ytree_ferror(path, 0, err, errlen, "out of memory");
		goto out;
	}
	while (len < YAML_MAX_FILE + 1) {
		r = read(fd, data + len, YAML_MAX_FILE + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			ytree_ferror(path, 0, err, errlen, "%s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	root = ytree_load_string(path, data, len, err, errlen);
out:
	free(data);
	close(fd);
	return (root);
}

/* The value of key in a mapping, or NULL.  Owned by the tree. */
struct ynode *
ytree_get(const struct ynode *map, const char *key)
{
	size_t	i;

	if (map == NULL || map->type != YNODE_MAP)
		return (NULL);
	for (i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->str, key) == 0)
			return (map->vals[i]);
	return (NULL);
}

/* 1 if n is a plain scalar that YAML reads as null. */
int
ytree_is_null(const struct ynode *n)
{
	if (n == NULL || n->type != YNODE_SCALAR || n->quoted)
		return (0);
	return (n->len == 0 || strcmp(n->str, "~") == 0 ||
	    strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	    strcmp(n->str, "NULL") == 0);
}

/* A boolean scalar: true/false, yes/no, on/off, in any case. */
int
ytree_bool(const struct ynode *n, int *out, char *err, size_t errlen)
{
	size_t	i;

	if (n != NULL && n->type == YNODE_SCALAR && !n->quoted) {
		for (i = 0; i < NM_NELEM(yaml_bools); i++) {
			if (strcasecmp(n->str, yaml_bools[i].word) == 0) {
				*out = yaml_bools[i].value;
				return (0);
			}
		}
	}
	return (ytree_error(n, err, errlen, "expected true or false"));
}

/* A decimal integer scalar within [min, max]. */
int
ytree_long(const struct ynode *n, long min, long max, long *out, char *err,
    size_t errlen)
{
	char	*end;
	long	 v;

	if (n == NULL || n->type != YNODE_SCALAR || n->quoted || n->len == 0 ||
	    !(n->str[0] == '-' || n->str[0] == '+' ||
	    (n->str[0] >= '0' && n->str[0] <= '9')))
		return (ytree_error(n, err, errlen, "expected an integer"));
	errno = 0;
	v = strtol(n->str, &end, 10);
	if (end == n->str || *end != '\0')
		return (ytree_error(n, err, errlen, "expected an integer"));
	if (errno == ERANGE || v < min || v > max)
		return (ytree_error(n, err, errlen,
		    "integer out of range [%ld, %ld]", min, max));
	*out = v;
	return (0);
}

/* A scalar's text (any scalar but a plain null).  Owned by the tree. */
int
ytree_string(const struct ynode *n, const char **out, char *err, size_t errlen)
{
	if (n == NULL || n->type != YNODE_SCALAR || ytree_is_null(n))
		return (ytree_error(n, err, errlen, "expected a string"));
	*out = n->str;
	return (0);
}
