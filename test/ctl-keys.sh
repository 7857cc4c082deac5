#!/bin/sh
#
# Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
#
# nextmodelctl against a private redis-server: key create/list/revoke,
# what Redis stores (only hashes), policy check on good and bad configs,
# --help, --version and exit codes.  Run by make check with NM_BUILDDIR,
# NM_SRCDIR and REDIS_SERVER set; skipped (77) without a redis-server.

CTL=${NM_BUILDDIR:-.}/nextmodelctl
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server)}
if [ -z "$REDIS_SERVER" ] || [ "$REDIS_SERVER" = no ] || [ ! -x "$REDIS_SERVER" ]; then
	echo "no redis-server: skipped"
	exit 77
fi
REDIS_CLI=$(dirname "$REDIS_SERVER")/redis-cli
[ -x "$REDIS_CLI" ] || REDIS_CLI=$(command -v redis-cli)
if [ -z "$REDIS_CLI" ]; then
	echo "no redis-cli: skipped"
	exit 77
fi
if [ ! -x "$CTL" ]; then
	echo "$CTL: not built"
	exit 1
fi

passed=0
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nm-ctl-keys.XXXXXX") || exit 1
redis_pid=
cleanup() {
	if [ -n "$redis_pid" ]; then
		kill "$redis_pid" 2>/dev/null
		wait "$redis_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ok DESCRIPTION CONDITION...: run the condition, count and print the result.
ok() {
	desc=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok - $desc"
	else
		failed=$((failed + 1))
		echo "FAIL - $desc"
	fi
}

# Run nextmodelctl; stdout, stderr and the exit code land in $tmp/out, $tmp/err, $rc.
run() {
	"$CTL" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

rnd() {
	od -An -N4 -tu4 /dev/urandom | tr -d ' \n'
}

sha256() {
	printf '%s' "$1" | sha256sum | cut -d' ' -f1
}

# --- a private redis-server on a free loopback port -------------------------
pw="pw$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
port=
for try in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	p=$((20000 + $(rnd) % 40001))
	: >"$tmp/redis.log"
	"$REDIS_SERVER" --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
	    --dir "$tmp" --requirepass "$pw" --logfile "$tmp/redis.log" \
	    --daemonize no >/dev/null 2>&1 &
	redis_pid=$!
	i=0
	while [ $i -lt 100 ]; do
		if ! kill -0 "$redis_pid" 2>/dev/null; then
			break			# could not bind: next port
		fi
		if grep -q 'Ready to accept connections' "$tmp/redis.log"; then
			port=$p
			break
		fi
		sleep 0.05
		i=$((i + 1))
	done
	[ -n "$port" ] && break
	kill "$redis_pid" 2>/dev/null
	wait "$redis_pid" 2>/dev/null
	redis_pid=
done
if [ -z "$port" ]; then
	echo "could not start redis-server"
	cat "$tmp/redis.log"
	exit 1
fi
rcli() {
	REDISCLI_AUTH=$pw "$REDIS_CLI" -p "$port" "$@"
}

# --- configs --------------------------------------------------------------
mkdir "$tmp/good" "$tmp/good/policies" "$tmp/bad" "$tmp/bad/policies"
cat >"$tmp/good/models.yaml" <<EOF
models:
  - id: test-model
    provider: testsrc
    input_per_mtok: 0.15
    output_per_mtok: 0.60
    context_window: 128000
    capabilities: [tools, streaming]
EOF
echo 'rules: []' >"$tmp/good/policies/default.yaml"
cat >"$tmp/good/nextmodel.yaml" <<EOF
listen: 127.0.0.1:8080
redis: redis://:$pw@127.0.0.1:$port/0
catalog: models.yaml
policies: policies/
providers:
  testsrc: { kind: openai, base_url: http://127.0.0.1:9/v1 }
EOF
conf=$tmp/good/nextmodel.yaml
# A bad catalog: the error must be FILE:LINE.
sed 's/0\.60/sixty cents/' "$tmp/good/models.yaml" >"$tmp/bad/models.yaml"
cp "$tmp/good/nextmodel.yaml" "$tmp/bad/nextmodel.yaml"
# A bad policy file in an otherwise good config.
mkdir "$tmp/badpol" "$tmp/badpol/policies"
cp "$tmp/good/nextmodel.yaml" "$tmp/good/models.yaml" "$tmp/badpol/"
printf 'rules:\n  - [unclosed\n' >"$tmp/badpol/policies/broken.yaml"
# Wrong Redis password, and no Redis at all.
wrongpw="wrong$(rnd)x"
sed "s/:$pw@/:$wrongpw@/" "$conf" >"$tmp/good/wrongpw.yaml"
sed "s/:$port\//:1\//" "$conf" >"$tmp/good/down.yaml"

# --- global options --------------------------------------------------------
run --version
ok "--version exits 0" [ "$rc" -eq 0 ]
ok "--version prints 'nextmodelctl VERSION'" grep -Eq '^nextmodelctl [0-9A-Za-z.]+$' "$tmp/out"
run --help
ok "--help exits 0" [ "$rc" -eq 0 ]
ok "--help lists key create" grep -q 'key create --project' "$tmp/out"
ok "--help lists policy check" grep -q 'policy check' "$tmp/out"
run -c "$conf" frobnicate
ok "unknown command exits 2" [ "$rc" -eq 2 ]
run -c "$conf" key frobnicate
ok "unknown key subcommand exits 2" [ "$rc" -eq 2 ]
run
ok "no command exits 2" [ "$rc" -eq 2 ]
run --bogus-option
ok "unknown global option exits 2" [ "$rc" -eq 2 ]

# --- key create ------------------------------------------------------------
run -c "$conf" key create --project alpha --team red --name "first key" --rpm 60 --tpm 100000
ok "key create exits 0" [ "$rc" -eq 0 ]
ok "key create prints one line" [ "$(wc -l <"$tmp/out")" -eq 1 ]
ok "key create prints only the key" grep -Eqx 'nm-[A-Za-z0-9_-]{43}' "$tmp/out"
key1=$(cat "$tmp/out")
id1=$(sed -n 's/^created \(key_[0-9a-f]*\) .*/\1/p' "$tmp/err")
ok "key create names the id on stderr" expr "$id1" : 'key_[0-9a-f]\{16\}$' >/dev/null
ok "the key is not on stderr" sh -c "[ -n '$key1' ] && ! grep -qF '$key1' '$tmp/err'"

run -c "$conf" key create --project alpha
ok "second key create exits 0" [ "$rc" -eq 0 ]
ok "second key is well-formed" grep -Eqx 'nm-[A-Za-z0-9_-]{43}' "$tmp/out"
key2=$(cat "$tmp/out")
id2=$(sed -n 's/^created \(key_[0-9a-f]*\) .*/\1/p' "$tmp/err")
ok "two keys differ" sh -c "[ -n '$key2' ] && [ '$key1' != '$key2' ] && [ '$id1' != '$id2' ]"

run -c "$conf" key create --project beta --name "third"
ok "third key create exits 0" [ "$rc" -eq 0 ]
key3=$(cat "$tmp/out")

run -c "$conf" key create --team red
ok "key create without --project exits 2" [ "$rc" -eq 2 ]
ok "... and prints nothing on stdout" [ ! -s "$tmp/out" ]
run -c "$conf" key create --project "with space"
ok "key create with a bad project exits 2" [ "$rc" -eq 2 ]
run -c "$conf" key create --project alpha --rpm ten
ok "key create with a bad --rpm exits 2" [ "$rc" -eq 2 ]

# --- key list --------------------------------------------------------------
h1=$(sha256 "$key1")
h2=$(sha256 "$key2")
h3=$(sha256 "$key3")
run -c "$conf" key list
ok "key list exits 0" [ "$rc" -eq 0 ]
ok "key list has a header" grep -q '^ID  *PROJECT  *TEAM  *NAME  *CREATED  *REVOKED  *RPM  *TPM$' "$tmp/out"
ok "key list shows three keys" [ "$(grep -c '^key_' "$tmp/out")" -eq 3 ]
ok "key list shows the first key's record" grep -Eq "^$id1 +alpha +red +first key +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +no +60 +100000\$" "$tmp/out"
ok "key list shows no secret" sh -c "! grep -qF -e '$key1' -e '$key2' -e '$key3' '$tmp/out'"
ok "key list shows no hash" sh -c "! grep -qF -e '$h1' -e '$h2' -e '$h3' '$tmp/out'"
run -c "$conf" key list --format json
ok "key list --format json exits 0" [ "$rc" -eq 0 ]
ok "json has the first key" grep -qF "\"id\": \"$id1\", \"project\": \"alpha\", \"team\": \"red\", \"name\": \"first key\"" "$tmp/out"
ok "json shows no secret or hash" sh -c "! grep -qF -e '$key1' -e '$key2' -e '$key3' -e '$h1' -e '$h2' -e '$h3' '$tmp/out'"
if command -v python3 >/dev/null 2>&1; then
	ok "json parses, three keys" python3 -c "import json,sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(1)
k = [x for x in d if x['id'] == sys.argv[2]]
sys.exit(0 if len(d) == 3 and len(k) == 1 and k[0]['rpm'] == 60 and
    k[0]['tpm'] == 100000 and k[0]['revoked'] is False else 1)" "$tmp/out" "$id1"
fi
run -c "$conf" key list --format yaml
ok "key list --format yaml exits 2" [ "$rc" -eq 2 ]

# --- what Redis holds ------------------------------------------------------
rcli --scan >"$tmp/scan" 2>"$tmp/scan.err"
ok "redis-cli --scan works" [ -s "$tmp/scan" ]
ok "no Redis key contains a secret" sh -c "! grep -qF -e '${key1#nm-}' -e '${key2#nm-}' -e '${key3#nm-}' '$tmp/scan'"
ok "nm:{auth}:key:<sha256> exists" grep -qx "nm:{auth}:key:$h1" "$tmp/scan"
ok "nm:{auth}:id:<id> exists" grep -qx "nm:{auth}:id:$id1" "$tmp/scan"
ok "nm:{auth}:id:<id> holds the hash" [ "$(rcli GET "nm:{auth}:id:$id1")" = "$h1" ]
ok "the record's hash field is the hash" [ "$(rcli HGET "nm:{auth}:key:$h1" hash)" = "$h1" ]
ok "the record's project" [ "$(rcli HGET "nm:{auth}:key:$h1" project)" = alpha ]
ok "nm:{auth}:ids lists the ids" [ "$(rcli SISMEMBER nm:{auth}:ids "$id2")" = 1 ]
rcli HGETALL "nm:{auth}:key:$h1" >"$tmp/rec"
ok "no stored value contains the secret" sh -c "! grep -qF '${key1#nm-}' '$tmp/rec'"

# --- key revoke ------------------------------------------------------------
run -c "$conf" key revoke "$id1"
ok "key revoke exits 0" [ "$rc" -eq 0 ]
ok "key revoke says 'revoked ID' on stderr" grep -qx "revoked $id1" "$tmp/err"
ok "key revoke prints nothing on stdout" [ ! -s "$tmp/out" ]
ok "the record is marked revoked" [ "$(rcli HGET "nm:{auth}:key:$h1" revoked)" = 1 ]
run -c "$conf" key list
ok "key list shows it revoked" grep -Eq "^$id1 .* yes +60 +100000\$" "$tmp/out"
ok "the other keys are not revoked" [ "$(grep -c ' no ' "$tmp/out")" -eq 2 ]
run -c "$conf" key revoke key_0123456789abcdef
ok "revoking an unknown id exits 1" [ "$rc" -eq 1 ]
run -c "$conf" key revoke not-an-id
ok "revoking a malformed id exits 1" [ "$rc" -eq 1 ]
run -c "$conf" key revoke
ok "key revoke without an id exits 2" [ "$rc" -eq 2 ]

# --- budgets and rate limits -----------------------------------------------
run -c "$conf" budget set --project alpha --limit-usd 12.5 --period month
ok "budget set --project exits 0" [ "$rc" -eq 0 ]
ok "... and says what it set" grep -q 'budget of project alpha: 12.5 USD a month' "$tmp/err"
bk='nm:{p:alpha}:budget:project'
rcli HGETALL "$bk" >"$tmp/hgetall"
# field NAME: the value after NAME in an HGETALL listing
field() { awk -v f="$1" 'prev == f { print; exit } { prev = $0 }' "$tmp/hgetall"; }
ok "HGETALL shows limit_usd 12.5" [ "$(field limit_usd)" = 12.5 ]
ok "HGETALL shows spent_usd 0" [ "$(field spent_usd)" = 0 ]
ok "HGETALL shows reserved_usd 0" [ "$(field reserved_usd)" = 0 ]
ok "HGETALL shows remaining_usd 12.5" [ "$(field remaining_usd)" = 12.5 ]
ok "HGETALL shows period month" [ "$(field period)" = month ]
ok "HGETALL shows period_start (UTC first of month)" [ "$(field period_start)" = "$(date -u +%Y-%m-01)" ]
ok "HGETALL shows warn_at 0.8 by default" [ "$(field warn_at)" = 0.8 ]
ok "HGETALL keeps nano-USD for the scripts" [ "$(field limit_nano)" = 12500000000 ]
ok "HGETALL shows on_redis_down closed by default" [ "$(field on_redis_down)" = closed ]
run -c "$conf" budget show --project alpha
ok "budget show exits 0" [ "$rc" -eq 0 ]
ok "budget show: limit" grep -qx 'limit_usd: 12.5' "$tmp/out"
ok "budget show: remaining" grep -qx 'remaining_usd: 12.5' "$tmp/out"
ok "budget show: the Redis key" grep -qxF "redis_key: $bk" "$tmp/out"
ok "budget show: on_redis_down" grep -qx 'on_redis_down: closed' "$tmp/out"
run -c "$conf" budget set --project alpha --limit-usd 0.000000001 --period day --warn-at 90%
ok "budget set to one nano-USD a day" [ "$rc" -eq 0 ]
rcli HGETALL "$bk" >"$tmp/hgetall"
ok "... limit_usd 0.000000001" [ "$(field limit_usd)" = 0.000000001 ]
ok "... period day from today" [ "$(field period_start)" = "$(date -u +%Y-%m-%d)" ]
ok "... warn_at 0.9" [ "$(field warn_at)" = 0.9 ]
run -c "$conf" budget set --project alpha --limit-usd 1.5 --period total
ok "budget set back to total" [ "$rc" -eq 0 ]
run -c "$conf" budget set --project alpha --limit-usd -1 --period day
ok "a negative limit exits 2" [ "$rc" -eq 2 ]
run -c "$conf" budget set --project alpha --limit-usd 0 --period day
ok "a zero limit exits 2" [ "$rc" -eq 2 ]
run -c "$conf" budget set --project alpha --limit-usd 5000000 --period day
ok "a limit above the ceiling exits 2" [ "$rc" -eq 2 ]
run -c "$conf" budget set --project alpha --limit-usd 1e3 --period day
ok "an exponent exits 2" [ "$rc" -eq 2 ]
run -c "$conf" budget set --project alpha --limit-usd 1 --period week
ok "period week exits 2" [ "$rc" -eq 2 ]
run -c "$conf" budget set --project alpha --limit-usd 1 --period day --warn-at 1.5
ok "--warn-at 1.5 exits 2" [ "$rc" -eq 2 ]
run -c "$conf" budget set --project alpha --limit-usd 1.5 --period total --on-redis-down open
ok "--on-redis-down open exits 0" [ "$rc" -eq 0 ]
ok "... and says so" grep -q 'Redis unreachable: served unchecked (open)' "$tmp/err"
ok "... HGET on_redis_down open" [ "$(rcli HGET "$bk" on_redis_down)" = open ]
run -c "$conf" budget set --project alpha --limit-usd 1.5 --period total
ok "... kept by a set without it" [ "$(rcli HGET "$bk" on_redis_down)" = open ]
run -c "$conf" budget show --project alpha
ok "... budget show: on_redis_down open" grep -qx 'on_redis_down: open' "$tmp/out"
run -c "$conf" budget set --project alpha --limit-usd 1.5 --period total --on-redis-down closed
ok "--on-redis-down closed" [ "$(rcli HGET "$bk" on_redis_down)" = closed ]
for bad in Open yes ''; do
	run -c "$conf" budget set --project alpha --limit-usd 1 --period day --on-redis-down "$bad"
	ok "--on-redis-down '$bad' exits 2" [ "$rc" -eq 2 ]
done
run -c "$conf" budget set --project alpha --key "$id2" --limit-usd 1 --period day
ok "--project with --key exits 2" [ "$rc" -eq 2 ]
run -c "$conf" budget set --limit-usd 1 --period day
ok "no scope exits 2" [ "$rc" -eq 2 ]
run -c "$conf" budget set --project 'a{b' --limit-usd 1 --period day
ok "a project with a brace exits 2" [ "$rc" -eq 2 ]

run -c "$conf" budget set --key "$id2" --limit-usd 2 --period day --warn-at 0
ok "budget set --key exits 0" [ "$rc" -eq 0 ]
ok "... the key's budget lives under its project" [ "$(rcli HGET "nm:{p:alpha}:budget:key:$id2" limit_usd)" = 2 ]
run -c "$conf" budget show --key "$id2"
ok "budget show --key" grep -qx 'warn_at: none' "$tmp/out"
run -c "$conf" budget set --key key_0123456789abcdef --limit-usd 2 --period day
ok "budget set for an unknown key exits 1" [ "$rc" -eq 1 ]
run -c "$conf" budget set --team red --limit-usd 3 --period month
ok "budget set --team (one project) exits 0" [ "$rc" -eq 0 ]
ok "... under the team's project" [ "$(rcli HGET 'nm:{p:alpha}:budget:team:red' limit_usd)" = 3 ]
run -c "$conf" budget set --team nosuchteam --limit-usd 3 --period month
ok "budget set --team with no keys exits 1" [ "$rc" -eq 1 ]
run -c "$conf" budget set --team nosuchteam --project beta --limit-usd 3 --period month
ok "... with --project it exits 0" [ "$rc" -eq 0 ]
run -c "$conf" budget clear --team nosuchteam --project beta
ok "budget clear exits 0" [ "$rc" -eq 0 ]
ok "... and the hash is gone" [ "$(rcli EXISTS 'nm:{p:beta}:budget:team:nosuchteam')" = 0 ]
run -c "$conf" budget clear --team nosuchteam --project beta
ok "clearing it again exits 1" [ "$rc" -eq 1 ]
run -c "$conf" budget show --project gamma
ok "budget show of no budget exits 1" [ "$rc" -eq 1 ]

run -c "$conf" key create --project gamma --team blue --budget-usd 0.25 --budget-period day
ok "key create --budget-usd exits 0" [ "$rc" -eq 0 ]
ok "... prints only the key" grep -Eqx 'nm-[A-Za-z0-9_-]{43}' "$tmp/out"
id4=$(sed -n 's/^created \(key_[0-9a-f]*\) .*/\1/p' "$tmp/err")
ok "... and the key has its budget" [ "$(rcli HGET "nm:{p:gamma}:budget:key:$id4" limit_usd)" = 0.25 ]
ok "... per day" [ "$(rcli HGET "nm:{p:gamma}:budget:key:$id4" period)" = day ]
run -c "$conf" key create --project gamma --budget-usd 1
ok "--budget-usd without --budget-period exits 2" [ "$rc" -eq 2 ]
run -c "$conf" key create --project 'g}x'
ok "key create with a brace in the project exits 2" [ "$rc" -eq 2 ]

run -c "$conf" key list --project gamma
ok "key list --project shows that project's keys" sh -c "[ \$(grep -c '^key_' '$tmp/out') -eq 1 ] && grep -q '^$id4 ' '$tmp/out'"
run -c "$conf" key list --team red
ok "key list --team red shows one key" sh -c "[ \$(grep -c '^key_' '$tmp/out') -eq 1 ] && grep -q '^$id1 ' '$tmp/out'"
run -c "$conf" key list --project alpha --format json
ok "key list --project alpha --format json: two keys" [ "$(grep -c '"id"' "$tmp/out")" -eq 2 ]

run -c "$conf" ratelimit set --project alpha --rpm 100 --tpm 50000
ok "ratelimit set --project exits 0" [ "$rc" -eq 0 ]
ok "... readable in Redis" [ "$(rcli HGET 'nm:{p:alpha}:ratelimit' tpm)" = 50000 ]
run -c "$conf" ratelimit set --project alpha --rpm 7
run -c "$conf" ratelimit show --project alpha
ok "ratelimit set --rpm alone keeps tpm" sh -c "grep -qx 'rpm: 7' '$tmp/out' && grep -qx 'tpm: 50000' '$tmp/out'"
run -c "$conf" ratelimit set --key "$id2" --tpm 999
ok "ratelimit set --key exits 0" [ "$rc" -eq 0 ]
ok "... sets the key record's tpm" [ "$(rcli HGET "nm:{auth}:key:$h2" tpm)" = 999 ]
run -c "$conf" ratelimit show --key "$id2"
ok "ratelimit show --key" sh -c "grep -qx 'rpm: 0' '$tmp/out' && grep -qx 'tpm: 999' '$tmp/out'"
nrec=$(rcli --scan --pattern 'nm:{auth}:*' | wc -l)
run -c "$conf" ratelimit set --key key_0123456789abcdef --rpm 1
ok "ratelimit set for an unknown key exits 1" [ "$rc" -eq 1 ]
ok "... and makes no stub record" [ "$(rcli --scan --pattern 'nm:{auth}:*' | wc -l)" -eq "$nrec" ]
run -c "$conf" ratelimit set --project alpha
ok "ratelimit set without a limit exits 2" [ "$rc" -eq 2 ]
run -c "$conf" ratelimit set --project alpha --rpm -3
ok "a negative rpm exits 2" [ "$rc" -eq 2 ]

# --- the governance scripts, on this Redis (database 2) ----------------------
if [ -x "${NM_BUILDDIR:-.}/test-govern-redis" ]; then
	NM_REDIS_URL="redis://:$pw@127.0.0.1:$port/2" \
	    "${NM_BUILDDIR:-.}/test-govern-redis" >"$tmp/govern.out" 2>&1
	rc=$?
	ok "test-govern-redis against this Redis" [ "$rc" -eq 0 ]
	grep '^race:' "$tmp/govern.out"
	[ "$rc" -eq 0 ] || cat "$tmp/govern.out"
fi

# --- policy check ----------------------------------------------------------
run -c "$conf" policy check
ok "policy check on a good config exits 0" [ "$rc" -eq 0 ]
ok "policy check summary" grep -qx 'ok: 1 providers, 1 models, 1 policy files' "$tmp/out"
run -c "$tmp/bad/nextmodel.yaml" policy check
ok "policy check on a bad catalog exits 1" [ "$rc" -eq 1 ]
ok "... with FILE:LINE: on stderr" grep -Eq '^[^:]*models\.yaml:[0-9]+: ' "$tmp/err"
run -c "$tmp/badpol/nextmodel.yaml" policy check
ok "policy check on a bad policy file exits 1" [ "$rc" -eq 1 ]
ok "... with FILE:LINE: on stderr" grep -Eq '^[^:]*broken\.yaml:[0-9]+: ' "$tmp/err"
run -c "$tmp/nonexistent.yaml" policy check
ok "policy check on a missing config exits 1" [ "$rc" -eq 1 ]

# --- Redis trouble ---------------------------------------------------------
run -c "$tmp/good/wrongpw.yaml" key list
ok "wrong Redis password exits 1" [ "$rc" -eq 1 ]
ok "... and the error does not show the password" sh -c "! grep -qF '$wrongpw' '$tmp/err'"
ok "... but says what failed" grep -q 'AUTH' "$tmp/err"
run -c "$tmp/good/down.yaml" key create --project alpha
ok "Redis down: key create exits 1" [ "$rc" -eq 1 ]
ok "... and prints no key" [ ! -s "$tmp/out" ]
ok "... and the error does not show the password" sh -c "! grep -qF '$pw' '$tmp/err'"

# --- the threaded cache test, on this Redis (database 1) ---------------------
if [ -x "${NM_BUILDDIR:-.}/test-authcache" ]; then
	NM_REDIS_URL="redis://:$pw@127.0.0.1:$port/1" \
	    "${NM_BUILDDIR:-.}/test-authcache" >"$tmp/authcache.out" 2>&1
	rc=$?
	ok "test-authcache against this Redis" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || cat "$tmp/authcache.out"
fi

# --- the worker's Redis thread, on this Redis (database 2) -------------------
ok "test-rthread is built" [ -x "${NM_BUILDDIR:-.}/test-rthread" ]
if [ -x "${NM_BUILDDIR:-.}/test-rthread" ]; then
	NM_REDIS_URL="redis://:$pw@127.0.0.1:$port/2" \
	    "${NM_BUILDDIR:-.}/test-rthread" >"$tmp/rthread.out" 2>&1
	rc=$?
	ok "test-rthread against this Redis" [ "$rc" -eq 0 ]
	[ "$rc" -eq 0 ] || cat "$tmp/rthread.out"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
