#!/bin/sh
#
# Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
#
# nextmodelctl policy check and policy explain on the shipped config,
# catalog and policies/ examples (no Redis: --key is not used): the rule
# that matches each example workload, the candidates kept and dropped with
# their reasons, the order, costs, limits, cache mode and refusals.

CTL=${NM_BUILDDIR:-.}/nextmodelctl
SRC=${NM_SRCDIR:-.}
CONF=$SRC/etc/nextmodel.yaml
REQ=$SRC/test/policy
if [ ! -x "$CTL" ]; then
	echo "$CTL: not built"
	exit 1
fi
passed=0
failed=0
out=$(mktemp "${TMPDIR:-/tmp}/nm-ctl-policy.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT

# expect NAME LINE...: each LINE must be a whole line of the last output.
expect() {
	name=$1
	shift
	for line in "$@"; do
		if ! grep -qxF -- "$line" "$out"; then
			echo "FAIL: $name: missing line: $line"
			sed 's/^/    /' "$out"
			failed=$((failed + 1))
			return
		fi
	done
	passed=$((passed + 1))
}

explain() {
	"$CTL" -c "$CONF" policy explain --ignore-keys "$@" >"$out" 2>&1
}

"$CTL" -c "$CONF" policy check >"$out" 2>&1
expect "check" "ok: 8 providers, 48 models, 6 policy files" \
    "policies: 8 rules in 6 files"

# A plain model name: no rule, that model only (default.yaml is neutral).
explain "$REQ/tools-chat.json"
expect "plain" "no rule matched: the model asked for, as named" \
    "order: gpt-5.5 (openai)" "outcome: ok"

# The support bot: cheapest of three, canonical cache, limits.
explain "$REQ/tools-chat.json" --workload support.chat
expect "support bot" "strategy: cheapest" \
    "order: gemini-2.5-flash-lite (google) -> gpt-5.4-nano (openai) -> claude-haiku-4-5 (anthropic)" \
    "limits: timeout 20s per attempt, retries 2, deadline 45s" \
    "cache: canonical"
grep -q "^rule support-bot (.*/support-bot.yaml:10) matched: workload support.chat is support.\*$" "$out" &&
    passed=$((passed + 1)) || { echo "FAIL: support bot: matched line"; failed=$((failed + 1)); }

# RAG ingestion: embeddings, exact cache.
explain "$REQ/embed.json" --workload rag.ingest.docs
expect "rag" "order: text-embedding-3-small (openai) -> gemini-embedding-001 (google)" \
    "cache: exact" "limits: timeout 30s per attempt, retries every target once, deadline 2m"

# Agent evaluation: the model named, no fallback, no cache.
explain "$REQ/tools-chat.json" --workload eval.run42
expect "eval" "order: gpt-5.5 (openai)" "cache: off" \
    "limits: timeout 5m per attempt, retries 0, deadline none"

# Budget guard: downgrade at 80%, refuse at 100%.
explain "$REQ/tools-chat.json" --project research-nlp --budget-used 0.85
expect "budget 85%" "budget: 85.0% used" \
    "budget step at 80% applies: candidates replaced" \
    "order: gpt-5.4-nano (openai) -> gemini-2.5-flash-lite (google)"
explain "$REQ/tools-chat.json" --project research-nlp --budget-used 100%
expect "budget 100%" "budget step at 100% applies: refused" \
    "outcome: refused: The research project's monthly model budget is spent; ask finance to raise it."
explain "$REQ/tools-chat.json" --project research-nlp --budget-used 0.5
expect "budget 50%" "order: gpt-5.5 (openai)"

# Domestic only: the global model is dropped for its region.
explain "$REQ/tools-chat.json" --team china-ops
expect "domestic" \
    "  - gpt-5.5 (openai): region: source openai is in region global; the rule allows cn only" \
    "order: deepseek-flash (deepseek) -> doubao-seed-2-0-mini (volcengine)"

# Virtual models: cheap by cost, fast by latency (measured beats the prior).
explain "$REQ/cheap.json"
expect "cheap" "order: gemini-2.5-flash-lite (google) -> gpt-4.1-nano (openai) -> gpt-5.4-nano (openai) -> claude-haiku-4-5 (anthropic)"
sed 's/"cheap"/"fast"/' "$REQ/cheap.json" >"$out.json"
"$CTL" -c "$CONF" policy explain --ignore-keys "$out.json" \
    --latency gemini-2.5-flash-lite=2000 >"$out" 2>&1
rm -f "$out.json"
expect "fast" "order: gpt-4.1-nano (openai) -> claude-haiku-4-5 (anthropic) -> gpt-5.4-nano (openai) -> gemini-2.5-flash-lite (google)" \
    "  4. gemini-2.5-flash-lite via google (global): expected \$0.000081, worst \$0.000081; latency 2000 ms (measured)"

# Keys: without --ignore-keys, sources with no key in the environment drop.
env -u OPENAI_API_KEY ANTHROPIC_API_KEY=x GEMINI_API_KEY=x \
    "$CTL" -c "$CONF" policy explain "$REQ/tools-chat.json" \
    --workload support.chat >"$out" 2>&1
expect "keys" "  - gpt-5.4-nano (openai): no_key: no API key configured for openai" \
    "order: gemini-2.5-flash-lite (google) -> claude-haiku-4-5 (anthropic)"

# Usage errors.
"$CTL" -c "$CONF" policy explain >"$out" 2>&1
[ $? -eq 2 ] && passed=$((passed + 1)) || { echo "FAIL: no file: exit code"; failed=$((failed + 1)); }
"$CTL" -c "$CONF" policy explain "$REQ/cheap.json" --budget-used lots >"$out" 2>&1
[ $? -eq 2 ] && grep -q "budget-used: expected a fraction" "$out" &&
    passed=$((passed + 1)) || { echo "FAIL: bad fraction"; failed=$((failed + 1)); }

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
