#!/bin/sh
#
# Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
#
# The Debian package: build it from a scratch copy of the tree with
# contrib/debian as debian/ (DEB_BUILD_OPTIONS=nocheck), check what it
# holds (programs, man pages, units, conffiles, sysusers, tmpfiles, the
# configured paths), unpack it with dpkg-deb -x into a scratch root, and
# run the unpacked nextmodeld and nextmodelctl with the packaged config
# (paths pointed at the scratch root, every source at the mock source)
# against a private Redis until it answers.  Nothing is installed.
# Skipped (77) without dpkg-buildpackage and debhelper, in the sanitizer
# build (the package builds with its own flags) and inside a package build.

fail() {
	echo "FAIL: $*"
	exit 1
}

[ -z "${NM_PACKAGE_BUILD:-}" ] || { echo "inside a package build: skipped"; exit 77; }
[ "${NM_SANITIZERS:-no}" != yes ] || { echo "sanitizer build: skipped"; exit 77; }
for p in dpkg-buildpackage dpkg-deb dh fakeroot curl; do
	command -v $p >/dev/null 2>&1 || { echo "no $p: skipped"; exit 77; }
done
NODE=${NODE:-$(command -v node)}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server)}
[ -n "$NODE" ] || { echo "no node: skipped"; exit 77; }
[ -n "$REDIS_SERVER" ] && [ "$REDIS_SERVER" != no ] || { echo "no redis-server: skipped"; exit 77; }
src=${NM_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nm-package.XXXXXX") || exit 1
pids=""
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "${NM_KEEP_TMP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# A scratch copy of the tree: git's files when it is a checkout (build
# products left out by .gitignore), else everything but the build folders.
mkdir "$tmp/src"
if [ "$(git -C "$src" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$src" && pwd -P)" ]; then
	(cd "$src" && git ls-files -co --exclude-standard -z | xargs -0 tar cf - --no-recursion) |
	    tar xf - -C "$tmp/src" || fail "copying the tree"
else
	(cd "$src" && tar cf - --exclude='./_build*' --exclude=./.run --exclude=./autom4te.cache \
	    --exclude=./test/node_modules .) | tar xf - -C "$tmp/src" || fail "copying the tree"
fi
cp -R "$src/contrib/debian" "$tmp/src/debian" || fail "no contrib/debian"
chmod -R u+w "$tmp/src"

# NM_PACKAGE_DEB=FILE checks and runs a package already built instead.
deb=${NM_PACKAGE_DEB:-}
if [ -z "$deb" ]; then
	t0=$(date +%s)
	(cd "$tmp/src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=2" \
	    dpkg-buildpackage -b -us -uc >"$tmp/build.log" 2>&1) ||
		{ tail -n 40 "$tmp/build.log"; fail "dpkg-buildpackage failed"; }
	echo "package built in $(($(date +%s) - t0)) s"
	deb=$(ls "$tmp"/nextmodel_*.deb | head -n 1)
fi
[ -f "$deb" ] || fail "no .deb made"

# --- what the package holds -------------------------------------------
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/files"
for f in /usr/sbin/nextmodeld /usr/bin/nextmodelctl /usr/sbin/nextmodel-ledger \
    /usr/share/man/man8/nextmodeld.8.gz /usr/share/man/man1/nextmodelctl.1.gz \
    /usr/share/man/man8/nextmodel-ledger.8.gz \
    /usr/lib/systemd/system/nextmodel-ledger.service \
    /usr/share/man/man5/nextmodel.yaml.5.gz \
    /usr/lib/systemd/system/nextmodeld.service \
    /etc/nextmodel/nextmodel.yaml /etc/nextmodel/models.yaml \
    /etc/nextmodel/policies/default.yaml \
    /usr/lib/sysusers.d/nextmodel.conf /usr/lib/tmpfiles.d/nextmodel.conf \
    /usr/share/doc/nextmodel/copyright; do
	grep -qx "$f" "$tmp/files" || fail "$f is not in the package"
done
! grep -q '^/usr/local' "$tmp/files" || fail "files under /usr/local"
dpkg-deb -e "$deb" "$tmp/control"
for f in /etc/nextmodel/nextmodel.yaml /etc/nextmodel/models.yaml \
    /etc/nextmodel/policies/default.yaml; do
	grep -qx "$f" "$tmp/control/conffiles" || fail "$f is not a conffile"
done
grep -q 'systemd-sysusers' "$tmp/control/postinst" || fail "postinst makes no user"
echo "contents: ok ($(wc -l <"$tmp/files") entries)"
# Lintian: clean but for the tags contrib/debian/nextmodel.lintian-overrides explains.
if command -v lintian >/dev/null 2>&1; then
	lintian --fail-on error,warning "$deb" >"$tmp/lintian.log" 2>&1 ||
		{ cat "$tmp/lintian.log"; fail "lintian"; }
	echo "lintian: clean"
fi

root="$tmp/root"
dpkg-deb -x "$deb" "$root" || fail "dpkg-deb -x"
grep -qx 'ExecStart=/usr/sbin/nextmodeld -c /etc/nextmodel/nextmodel.yaml' \
    "$root/usr/lib/systemd/system/nextmodeld.service" || fail "the unit's ExecStart"
grep -qx 'ExecStart=/usr/sbin/nextmodel-ledger -c /etc/nextmodel/nextmodel.yaml' \
    "$root/usr/lib/systemd/system/nextmodel-ledger.service" || fail "the ledger unit's ExecStart"
grep -q '^u nextmodel .*/var/lib/nextmodel' "$root/usr/lib/sysusers.d/nextmodel.conf" ||
	fail "sysusers.d: no nextmodel user with home /var/lib/nextmodel"
grep -q '^d /var/lib/nextmodel .* nextmodel nextmodel' "$root/usr/lib/tmpfiles.d/nextmodel.conf" ||
	fail "tmpfiles.d: no /var/lib/nextmodel"
zcat "$root/usr/share/man/man8/nextmodeld.8.gz" | grep -q '/etc/nextmodel/nextmodel.yaml' ||
	fail "nextmodeld(8) does not name /etc/nextmodel/nextmodel.yaml"
"$root/usr/bin/nextmodelctl" --help 2>&1 | grep -q 'default /etc/nextmodel/nextmodel.yaml' ||
	fail "nextmodelctl's default config is not /etc/nextmodel/nextmodel.yaml"

# --- run the unpacked programs ----------------------------------------
freeport() {
	"$NODE" -e 'const s = require("net").createServer();
	    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
port=$(freeport)
rport=$(freeport)
mport=$(freeport)
"$REDIS_SERVER" --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids="$pids $!"
"$NODE" "$src/test/mock-source.js" --port "$mport" >"$tmp/mock.log" 2>&1 &
pids="$pids $!"

# The packaged config, pointed at the scratch root and the mock source.
cfg="$root/etc/nextmodel/nextmodel.yaml"
awk -v port="$port" -v rport="$rport" -v mock="http://127.0.0.1:$mport" '
	/^listen:/ { print "listen: 127.0.0.1:" port; next }
	/^redis:/ { print "redis: redis://127.0.0.1:" rport "/0"; next }
	/^    kind:/ { kind = $2 }
	/^    base_url:/ { print "    base_url: " mock (kind == "openai" ? "/v1" : ""); next }
	{ print }
	END { print "ledger_dir: " NM_PKG_ROOT "/var/lib/nextmodel/ledger"
	    print "spool_dir: " NM_PKG_ROOT "/var/lib/nextmodel/spool" }
' NM_PKG_ROOT="$root" "$cfg" >"$cfg.tmp" && mv "$cfg.tmp" "$cfg"
grep -q "127.0.0.1:$mport" "$cfg" || fail "no source pointed at the mock"
! grep -q '^ *base_url: https' "$cfg" || fail "a source still points outside"
for v in $(sed -n 's/^ *api_key_env: *//p' "$cfg"); do
	eval "$v=mock-package-test; export $v"
done
NEXTMODEL_SECRET=package-test-secret
export NEXTMODEL_SECRET

i=0
until grep -q listening "$tmp/mock.log" && grep -q 'Ready to accept' "$tmp/redis.log"; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "redis or the mock did not start"
	sleep 0.1
done
"$root/usr/bin/nextmodelctl" -c "$cfg" policy check || fail "policy check on the packaged config"
key=$("$root/usr/bin/nextmodelctl" -c "$cfg" key create --project pkg --name package-test) ||
	fail "key create"
"$root/usr/sbin/nextmodeld" -c "$cfg" >"$tmp/gateway.log" 2>&1 &
gw=$!
pids="$gw $pids"
i=0
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat "$tmp/gateway.log"; fail "the gateway did not start"; }
	kill -0 "$gw" 2>/dev/null || { cat "$tmp/gateway.log"; fail "the gateway exited"; }
	sleep 0.1
done
# One model of each wire format in the packaged catalog.
for model in gpt-4o-mini claude-opus-5-5 gemini-3.1-pro-preview; do
	out=$(curl -s "http://127.0.0.1:$port/v1/chat/completions" \
	    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
	    -d '{"model":"'"$model"'","messages":[{"role":"user","content":"hello from the package"}]}')
	echo "$out" | grep -q '"content":"Echo: hello from the package"' ||
		fail "$model: no answer: $out"
	echo "$model: answered"
done
kill -TERM "$gw"
wait "$gw" || fail "the gateway did not exit 0 on SIGTERM"
pids=${pids#"$gw"}
# The packaged ledger drains those answers' receipts into its day file.
"$root/usr/sbin/nextmodel-ledger" -c "$cfg" >"$tmp/ledger.log" 2>&1 &
lg=$!
pids="$lg $pids"
i=0
until [ "$(cat "$root"/var/lib/nextmodel/ledger/receipts-*.jsonl 2>/dev/null | wc -l)" -ge 3 ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat "$tmp/ledger.log"; fail "no receipts in the ledger"; }
	sleep 0.1
done
kill -TERM "$lg"
wait "$lg" || fail "the ledger did not exit 0 on SIGTERM"
pids=${pids#"$lg"}
"$root/usr/bin/nextmodelctl" -c "$cfg" receipt verify "$root"/var/lib/nextmodel/ledger/receipts-*.jsonl ||
	fail "the ledger's receipts do not verify"
echo "ledger: receipts filed and verified"
echo "PASS"
