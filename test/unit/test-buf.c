/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Unit tests for struct buf: appends of every kind, the ceiling and its
 * toobig flag, consume/reset/steal, and NUL termination throughout.
 */

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "unit.h"

/* Appends grow the buffer and keep it NUL-terminated. */
static void
test_append(void)
{
	struct buf	b;
	char		big[1000];
	size_t		i;

	buf_init(&b, 0);
	CHECK(b.data == NULL && b.len == 0);
	CHECK(buf_append(&b, "", 0) == 0);
	CHECK(b.data != NULL);
	CHECK_STR(b.data, "");
	CHECK(buf_appends(&b, "hello") == 0);
	CHECK(buf_appendc(&b, ' ') == 0);
	CHECK(buf_append(&b, "world!!", 5) == 0);
	CHECK_STR(b.data, "hello world");
	CHECK(b.len == 11);
	CHECK(buf_appendf(&b, " %d-%s", 42, "x") == 0);
	CHECK_STR(b.data, "hello world 42-x");
	CHECK(b.len == strlen(b.data));

	/* Formatted output longer than the free space forces a second pass. */
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_reset(&b);
	CHECK(buf_appendf(&b, "<%s>", big) == 0);
	CHECK(b.len == sizeof(big) + 1);
	CHECK(b.data[0] == '<' && b.data[b.len - 1] == '>' &&
	    b.data[b.len] == '\0');

	/* Binary data, NULs included. */
	buf_reset(&b);
	CHECK(buf_append(&b, "a\0b", 3) == 0);
	CHECK(b.len == 3 && memcmp(b.data, "a\0b", 4) == 0);

	/* Many small appends. */
	buf_reset(&b);
	for (i = 0; i < 10000; i++)
		CHECK(buf_appendc(&b, (char)('a' + i % 26)) == 0);
	CHECK(b.len == 10000 && b.data[9999] == 'a' + 9999 % 26 &&
	    b.data[10000] == '\0');
	buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}

/* The ceiling: refused appends leave the buffer as it was and set toobig. */
static void
test_ceiling(void)
{
	struct buf	b;

	buf_init(&b, 10);
	CHECK(buf_append(&b, "0123456789", 10) == 0);
	CHECK(b.toobig == 0);
	CHECK(b.cap <= 11);
	CHECK(buf_appendc(&b, 'x') == -1);
	CHECK(b.toobig == 1);
	CHECK(b.len == 10);
	CHECK_STR(b.data, "0123456789");
	CHECK(buf_appends(&b, "") == 0);
	buf_reset(&b);
	CHECK(b.toobig == 0);
	CHECK(buf_appendf(&b, "%s", "abcdefghijk") == -1);
	CHECK(b.toobig == 1);
	CHECK(b.len == 0);
	CHECK_STR(b.data, "");
	CHECK(buf_appendf(&b, "%s", "abcdefghij") == 0);
	CHECK_STR(b.data, "abcdefghij");
	CHECK(buf_append(&b, "x", (size_t)-1) == -1);
	CHECK(b.len == 10);
	buf_free(&b);
	/* A freed buffer keeps its ceiling. */
	CHECK(b.max == 10);
	CHECK(buf_append(&b, "0123456789a", 11) == -1);
	buf_free(&b);

	/* A ceiling of one byte. */
	buf_init(&b, 1);
	CHECK(buf_appendc(&b, 'a') == 0);
	CHECK(buf_appendc(&b, 'b') == -1);
	CHECK_STR(b.data, "a");
	buf_free(&b);
}

/* consume, steal, and freeing what was never used. */
static void
test_consume_steal(void)
{
	struct buf	 b, z;
	char		*s;
	size_t		 n = 99;

	buf_init(&b, 0);
	buf_consume(&b, 5);		/* empty: nothing to do */
	CHECK(b.data == NULL);
	CHECK(buf_appends(&b, "abcdef") == 0);
	buf_consume(&b, 2);
	CHECK_STR(b.data, "cdef");
	CHECK(b.len == 4);
	buf_consume(&b, 0);
	CHECK_STR(b.data, "cdef");
	buf_consume(&b, 100);
	CHECK(b.len == 0);
	CHECK_STR(b.data, "");

	CHECK(buf_appends(&b, "mine") == 0);
	s = buf_steal(&b, &n);
	CHECK_STR(s, "mine");
	CHECK(n == 4);
	CHECK(b.data == NULL && b.len == 0);
	free(s);
	s = buf_steal(&b, &n);		/* nothing appended: "" */
	CHECK(s != NULL && n == 0);
	CHECK_STR(s, "");
	free(s);
	s = buf_steal(&b, NULL);
	CHECK(s != NULL);
	free(s);
	CHECK(buf_appends(&b, "again") == 0);
	CHECK_STR(b.data, "again");
	buf_free(&b);

	/* buf_free on a zeroed buf and on NULL does nothing. */
	memset(&z, 0, sizeof(z));
	buf_free(&z);
	buf_free(NULL);
	CHECK(z.data == NULL);
}

int
main(void)
{
	test_append();
	test_ceiling();
	test_consume_steal();
	UNIT_DONE();
}
