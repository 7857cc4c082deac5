#!/bin/sh
#
# Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
#
# make check: replay each seed corpus, and fixed-seed mutations of it,
# through its fuzz target (built with a plain main, no libFuzzer needed).
# Run from the build directory with NM_SRCDIR and NM_BUILDDIR set.

: "${NM_SRCDIR:?NM_SRCDIR must name the source directory}"
: "${NM_BUILDDIR:=.}"

corpus="$NM_SRCDIR/test/fuzz/corpus"
failed=0

# run TARGET CORPUS-DIR [optional]: an optional target not built yet is skipped.
run() {
	if [ ! -x "$NM_BUILDDIR/$1" ]; then
		if [ "$3" = optional ]; then
			echo "skip: $1 not built"
			return 0
		fi
		echo "FAIL: $1 not built"
		failed=1
		return 1
	fi
	echo "$1 $2"
	if ! "$NM_BUILDDIR/$1" "$2"; then
		echo "FAIL: $1 $2"
		failed=1
	fi
}

run fuzz-json-replay "$corpus/json"
run fuzz-sse-replay "$corpus/sse"
run fuzz-yaml-replay "$corpus/yaml"
run fuzz-providers-replay "$corpus/providers"
run fuzz-canon-replay "$corpus/canon"
run fuzz-assemble-replay "$corpus/assemble"

exit $failed
