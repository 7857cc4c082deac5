/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The ledger's append-only JSONL files, written exactly once per record
 * even by several ledgers sharing the folder and across crashes.  Each
 * line is a JSON object whose first member is a string key (the receipt
 * id, or the stream entry id of a rejected entry); a line whose key is in
 * the file already is not written again.
 */
#ifndef LEDGER_FILES_H
#define LEDGER_FILES_H

#include <stddef.h>

struct ledger_files;

/* One line to append: its key (first member's value) and text without '\n'. */
struct files_line {
	const char	*key;
	const char	*text;
	size_t		 len;
};

/* Files in dir (made if missing).  NULL with err.  Caller frees. */
struct ledger_files *files_new(const char *dir, char *err, size_t errlen);
void	files_free(struct ledger_files *);	/* NULL does nothing */
/*
 * Append to dir/name, under an exclusive flock, each line whose key the
 * file does not hold yet (other writers' lines included), then fdatasync.
 * *added gets how many were written.  0, or -1 with err (nothing is
 * known to be durable then).
 */
int	files_append(struct ledger_files *, const char *name,
	    const struct files_line *lines, size_t n, size_t *added,
	    char *err, size_t errlen);

#endif
