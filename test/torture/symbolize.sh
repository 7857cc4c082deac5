#!/bin/sh
#
# Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
#
# Turn test-torture's "file(+0xoffset)" call sites into function, file and
# line with addr2line (the address before each return address): NM_TORTURE_VERBOSE=1 ./test-torture 2>&1 | symbolize.sh
sed -n 's/.*[ #0-9]\([^ (]*\)(+\(0x[0-9a-f]*\)).*/\1 \2/p' |
while read -r file off; do
	printf '%s %s: ' "$file" "$off"
	addr2line -f -i -p -e "$file" "$(printf %#x $((off - 1)))" 2>/dev/null | tr '\n' ' '
	echo
done
