/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Tests for policy.c against a small catalog with round prices
 * (test/unit/data/policy): the good files compile in order, each match
 * condition, each strategy (cheapest by cost, fastest by a latency table,
 * weighted by fixed draws), the filters and their reasons, the budget
 * steps, the explanation; and a table of bad files, each with its exact
 * "FILE:LINE: message".
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "catalog.h"
#include "config.h"
#include "facts.h"
#include "policy.h"
#include "unit.h"

#define NANO	1000000000LL

static char		 datadir[PATH_MAX];	/* $NM_SRCDIR/test/unit/data/policy */
static struct catalog	*cat;

/* A bad file, the line its error names and the message after "FILE:LINE: ". */
static const struct {
	const char	*text;
	unsigned	 line;
	const char	*msg;		/* '@' stands for the file's path */
} bad_files[] = {
	{ "- a\n", 1, "top level must be a mapping" },
	{ "rulez: []\n", 1, "unknown key \"rulez\" (expected order or rules)" },
	{ "order: first\n", 1, "order: expected a number from 0 to 1000" },
	{ "order: 1001\n", 1, "order: expected a number from 0 to 1000" },
	{ "rules: {a: 1}\n", 1, "rules: expected a list of rules" },
	{ "rules:\n  - x\n", 2,
	    "rule 1: expected a mapping (name:, match:, models: ...)" },
	{ "rules:\n  - name: a\n  - match: {}\n", 3, "rule 2: missing name" },
	{ "rules:\n  - name: a b\n", 2,
	    "rule 1: name: expected letters, digits, _ . - (at most 64)" },
	{ "rules:\n  - name: r\n  - name: r\n", 3,
	    "rule r: already defined at @:2" },
	{ "rules:\n  - name: r\n    modles: [m-cheap]\n", 3,
	    "rule r: unknown key \"modles\" (expected name, description, "
	    "match, models, strategy, weights, sources, timeout, retries, "
	    "deadline, cache or budget)" },
	{ "rules:\n  - name: r\n    description: [a]\n", 3,
	    "rule r: description: expected text" },
	{ "rules:\n  - name: r\n    models: [m-cheap, zzzzzzzzzzzzzz]\n", 3,
	    "rule r: models: unknown model \"zzzzzzzzzzzzzz\"" },
	{ "rules:\n  - name: r\n    models:\n      - m-cheap\n      - cheapo\n",
	    5, "rule r: models: m-cheap listed twice" },
	{ "rules:\n  - name: r\n    models: []\n", 3,
	    "rule r: models: expected a model or a list of models" },
	{ "rules:\n  - name: r\n    strategy: random\n", 3, "rule r: strategy: "
	    "expected ordered, cheapest, fastest or weighted" },
	{ "rules:\n  - name: r\n    strategy: weighted\n    models: [m-cheap]\n",
	    2, "rule r: strategy weighted needs weights: (model: percent)" },
	{ "rules:\n  - name: r\n    strategy: weighted\n"
	    "    weights: {m-cheap: 50, m-mid: 40}\n", 4,
	    "rule r: weights: add up to 90, not 100" },
	{ "rules:\n  - name: r\n    weights: {m-cheap: 100}\n", 2,
	    "rule r: weights: only with strategy: weighted" },
	{ "rules:\n  - name: r\n    strategy: weighted\n"
	    "    weights: {m-cheap: 150}\n", 4,
	    "rule r: weights: m-cheap: expected a percent from 0 to 100" },
	{ "rules:\n  - name: r\n    models: [m-cheap]\n    strategy: weighted\n"
	    "    weights: {m-cheap: 100}\n", 5,
	    "rule r: weights: give models: or weights:, not both" },
	{ "rules:\n  - name: r\n    match: {modle: x}\n", 3, "rule r: match: "
	    "unknown key \"modle\" (expected workload, key, project, team, "
	    "environment, model, needs, min_context, max_context, "
	    "min_budget_used, max_budget_used or region)" },
	{ "rules:\n  - name: r\n    match: [a]\n", 3, "rule r: match: expected "
	    "a mapping (workload:, model:, needs: ...)" },
	{ "rules:\n  - name: r\n    match: {workload: []}\n", 3,
	    "rule r: match: workload: expected a name or a list of names" },
	{ "rules:\n  - name: r\n    match:\n      team: [a, {b: c}]\n", 4,
	    "rule r: match: team: expected a name" },
	{ "rules:\n  - name: r\n    match: {needs: [tools, telepathy]}\n", 3,
	    "rule r: match: needs: unknown capability \"telepathy\" (expected "
	    "tools, json, json_schema, vision, streaming or embeddings)" },
	{ "rules:\n  - name: r\n    match: {min_context: lots}\n", 3,
	    "rule r: match: min_context: expected a number of tokens" },
	{ "rules:\n  - name: r\n    match: {min_context: 9, max_context: 8}\n",
	    2, "rule r: match: min_context is above max_context" },
	{ "rules:\n  - name: r\n    match: {min_budget_used: 2x}\n", 3,
	    "rule r: match: min_budget_used: expected a fraction such as 0.8 "
	    "or 80%" },
	{ "rules:\n  - name: r\n    match: {region: mars}\n", 3,
	    "rule r: match: region: expected cn or global" },
	{ "rules:\n  - name: r\n    sources: {deny: [openai]}\n", 3,
	    "rule r: sources: unknown provider \"openai\" (no model of the "
	    "catalog uses it)" },
	{ "rules:\n  - name: r\n    sources: {only: pa}\n", 3, "rule r: sources: "
	    "unknown key \"only\" (expected allow, deny or region)" },
	{ "rules:\n  - name: r\n    sources: {region: eu}\n", 3,
	    "rule r: sources: region: expected cn or global" },
	{ "rules:\n  - name: r\n    timeout: 30\n", 3, "rule r: timeout: expected "
	    "a duration such as 30s, 500ms or 2m (at most 60m)" },
	{ "rules:\n  - name: r\n    deadline: 2h\n", 3, "rule r: deadline: "
	    "expected a duration such as 30s, 500ms or 2m (at most 60m)" },
	{ "rules:\n  - name: r\n    deadline: 61m\n", 3, "rule r: deadline: "
	    "expected a duration such as 30s, 500ms or 2m (at most 60m)" },
	{ "rules:\n  - name: r\n    retries: -1\n", 3,
	    "rule r: retries: expected a number from 0 to 15" },
	{ "rules:\n  - name: r\n    cache: sometimes\n", 3,
	    "rule r: cache: expected exact, canonical or off" },
	{ "rules:\n  - name: r\n    budget: {at: 1}\n", 3,
	    "rule r: budget: expected a list of steps" },
	{ "rules:\n  - name: r\n    budget:\n      - at: 80%\n", 4,
	    "rule r: budget: the step at 0.8 needs use: or refuse:, one of "
	    "them" },
	{ "rules:\n  - name: r\n    budget:\n      - use: m-cheap\n", 4,
	    "rule r: budget: step without at:" },
	{ "rules:\n  - name: r\n    budget:\n      - at: lots\n"
	    "        use: m-cheap\n", 4, "rule r: budget: at: expected a "
	    "fraction such as 0.8 or 80%" },
	{ "rules:\n  - name: r\n    budget:\n      - {at: 0.9, use: m-cheap}\n"
	    "      - {at: 0.8, refuse: no}\n", 5,
	    "rule r: budget: steps must rise (0.8 after 0.9)" },
	{ "rules:\n  - name: r\n    budget:\n      - {at: 0.9, use: m-nope}\n",
	    4, "rule r: budget: use: unknown model \"m-nope\"" },
	{ "rules:\n  - name: r\n    budget:\n      - {at: 0.9, when: x}\n", 4,
	    "rule r: budget: unknown key \"when\" (expected at, use or "
	    "refuse)" },
};

/* Write text to a fresh file under dir; its path into path. */
static void
write_file(const char *dir, size_t i, const char *text, char *path,
    size_t len)
{
	FILE	*f;

	snprintf(path, len, "%s/bad-%zu.yaml", dir, i);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* Each bad file fails with its FILE:LINE: message. */
static void
test_bad_files(void)
{
	char		 dir[] = "/tmp/nm-test-policy.XXXXXX";
	char		 path[256], err[1024], want[1024], msg[512];
	const char	*paths[1];
	struct policy_set *set;
	const char	*p;
	size_t		 i, o;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	for (i = 0; i < NM_NELEM(bad_files); i++) {
		write_file(dir, i, bad_files[i].text, path, sizeof(path));
		paths[0] = path;
		set = policy_load_files(paths, 1, cat, err, sizeof(err));
		CHECK(set == NULL);
		policy_free(set);
		for (p = bad_files[i].msg, o = 0; *p != '\0' &&
		    o + 1 < sizeof(msg); p++) {
			if (*p == '@')
				o += (size_t)snprintf(msg + o, sizeof(msg) - o,
				    "%s", path);
			else
				msg[o++] = *p;
		}
		msg[o] = '\0';
		snprintf(want, sizeof(want), "%s:%u: %s", path,
		    bad_files[i].line, msg);
		if (strcmp(err, want) != 0)
			fprintf(stderr, "bad file %zu:\n%s", i,
			    bad_files[i].text);
		CHECK_STR(err, want);
		unlink(path);
	}
	rmdir(dir);
}

/* A chat request for model: 1000 input tokens, max_tokens 1000. */
static void
chat(struct facts *f, const char *model)
{
	memset(f, 0, sizeof(*f));
	f->kind = FACTS_CHAT;
	snprintf(f->model, sizeof(f->model), "%s", model);
	f->est.input_tokens = 1000;
	f->est.max_tokens = 1000;
	f->est.n = 1;
}

/* An input with only facts. */
static void
input(struct policy_input *in, const struct facts *f)
{
	memset(in, 0, sizeof(*in));
	in->facts = f;
	in->budget_used = -1;
}

/* The ids of the targets, "a b c". */
static const char *
order(const struct policy_decision *d)
{
	static char	buf[512];
	size_t		i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < d->ntargets && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
		    i > 0 ? " " : "", d->targets[i].model->id);
	return buf;
}

/* The dropped candidates: "name:why name:why". */
static const char *
dropped(const struct policy_decision *d)
{
	static char	buf[512];
	size_t		i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < d->ndropped && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s:%s",
		    i > 0 ? " " : "", d->dropped[i].name,
		    policy_drop_name(d->dropped[i].why));
	return buf;
}

/* Plain names, files' order, the catch-all, and a set with no files. */
static void
test_plain(const struct policy_set *set)
{
	struct policy_set *empty;
	struct policy_decision d;
	struct policy_input in;
	struct facts	 f;
	char		 err[256];

	CHECK(policy_nfiles(set) == 2);
	CHECK(policy_nrules(set) == 12);
	chat(&f, "m-dear");
	input(&in, &f);
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK(d.rule == NULL);
	CHECK_STR(order(&d), "m-dear");
	CHECK(d.retries == -1 && d.timeout_ms == 0 && d.deadline_ms == 0);
	CHECK(d.cache_mode == POLICY_CACHE_INHERIT);
	chat(&f, "CheapO");		/* an alias, spelled otherwise */
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(order(&d), "m-cheap");
	chat(&f, "nope");
	CHECK(policy_decide(set, &in, &d) == POLICY_UNKNOWN_MODEL);
	CHECK_STR(d.message, "The model 'nope' does not exist.");
	CHECK(d.ntargets == 0);
	/* a-late.yaml sorts first by name but comes after by order. */
	chat(&f, "m-dear");
	in.workload = "anything";
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "catch-workload");
	CHECK(d.line == 4);
	CHECK(strstr(d.file, "good/a-late.yaml") != NULL);
	CHECK_STR(order(&d), "m-cheap");
	CHECK(d.cache_mode == CONFIG_CACHE_CANONICAL);
	CHECK_STR(d.matched, "workload anything is *");
	/* A region rule: the model asked for is served in cn. */
	in.workload = NULL;
	chat(&f, "m-mid");
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "cn-model");
	CHECK(d.timeout_ms == 7000);
	/* No folder: no rules, plain behaviour. */
	empty = policy_load(NULL, cat, err, sizeof(err));
	CHECK(empty != NULL);
	CHECK(policy_nrules(empty) == 0);
	if (empty != NULL) {
		chat(&f, "cheapo");
		CHECK(policy_decide(empty, &in, &d) == POLICY_OK);
		CHECK_STR(order(&d), "m-cheap");
		chat(&f, "cheap");
		CHECK(policy_decide(empty, &in, &d) == POLICY_UNKNOWN_MODEL);
	}
	policy_free(empty);
	policy_free(NULL);
	CHECK(policy_nrules(NULL) == 0);
}

/* cheapest ranks by estimate_cost(); needs: tools must be needed. */
static void
test_cheapest(const struct policy_set *set)
{
	struct policy_decision d;
	struct policy_input in;
	struct facts	 f;

	chat(&f, "cheap");
	input(&in, &f);
	/* Without tools the rule does not match and "cheap" is no model. */
	CHECK(policy_decide(set, &in, &d) == POLICY_UNKNOWN_MODEL);
	f.tools = 1;
	f.est.caps = CAP_TOOLS;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "cheapest");
	CHECK(d.strategy == POLICY_CHEAPEST);
	CHECK_STR(order(&d), "m-cheap m-mid m-dear");
	/* 1000 in, 500 expected out (EST_TYPICAL_OUTPUT), 1000 worst. */
	CHECK(d.targets[0].cost_ok);
	CHECK(d.targets[0].cost.expected == 2 * NANO / 1000);
	CHECK(d.targets[0].cost.worst == 3 * NANO / 1000);
	CHECK(d.targets[1].cost.expected == 6 * NANO / 1000);
	CHECK(d.targets[2].cost.expected == 25 * NANO / 1000);
	CHECK(d.targets[2].cost.worst == 40 * NANO / 1000);
	CHECK_STR(d.matched, "model cheap is cheap; needs tools");
}

/* fastest: catalog priors, then a measured table with enough samples. */
static void
test_fastest(const struct policy_set *set)
{
	struct policy_latency lat[2] = {
		{ "m-mid", "pb", 5000, POLICY_LATENCY_SAMPLES },
		{ "m-dear", "pc", 50, POLICY_LATENCY_SAMPLES - 1 },
	};
	struct policy_decision d;
	struct policy_input in;
	struct facts	 f;

	chat(&f, "fast");
	input(&in, &f);
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "fastest");
	CHECK_STR(order(&d), "m-mid m-cheap m-dear");
	CHECK(d.targets[0].latency_ms == 100 && !d.targets[0].latency_measured);
	in.latency = lat;
	in.nlatency = 2;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	/* m-mid measured slow; m-dear's 50 ms has too few samples. */
	CHECK_STR(order(&d), "m-cheap m-dear m-mid");
	CHECK(d.targets[2].latency_ms == 5000 && d.targets[2].latency_measured);
	CHECK(d.targets[1].latency_ms == 900 && !d.targets[1].latency_measured);
	/* A capability the request needs: m-cheap takes no images. */
	f.est.caps = CAP_VISION;
	f.est.images = 1;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(order(&d), "m-dear m-mid");
	CHECK_STR(dropped(&d), "m-cheap:unfit");
	CHECK_STR(d.dropped[0].reason, "does not accept images");
	/* Sources without a key are dropped. */
	f.est.caps = 0;
	{
		const char *keyed[] = { "pa", NULL };

		in.keyed_providers = keyed;
		CHECK(policy_decide(set, &in, &d) == POLICY_OK);
		CHECK_STR(order(&d), "m-cheap");
		CHECK_STR(dropped(&d), "m-mid:no_key m-dear:no_key");
		CHECK_STR(d.dropped[0].reason, "no API key configured for pb");
	}
}

/* weighted: fixed draws give the split, the other follows as fallback. */
static void
test_weighted(const struct policy_set *set)
{
	struct policy_decision d;
	struct policy_input in;
	struct facts	 f;
	int		 first_cheap = 0, first_mid = 0, i;

	chat(&f, "canary");
	input(&in, &f);
	in.draw = 0;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK(d.strategy == POLICY_WEIGHTED);
	CHECK_STR(order(&d), "m-cheap m-mid");
	in.draw = 0.899;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(order(&d), "m-cheap m-mid");
	in.draw = 0.9;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(order(&d), "m-mid m-cheap");
	CHECK(d.targets[0].weight == 10 && d.targets[1].weight == 90);
	in.draw = 0.999;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(order(&d), "m-mid m-cheap");
	for (i = 0; i < 1000; i++) {
		in.draw = i / 1000.0;
		policy_decide(set, &in, &d);
		if (strcmp(d.targets[0].model->id, "m-cheap") == 0)
			first_cheap++;
		else
			first_mid++;
	}
	CHECK(first_cheap == 900 && first_mid == 100);
	/* A weighted target dropped: the rest take all the draws. */
	f.est.caps = CAP_VISION;
	in.draw = 0.1;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(order(&d), "m-mid");
	/* A draw out of range counts as 0. */
	f.est.caps = 0;
	in.draw = 7;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(order(&d), "m-cheap m-mid");
}

/* Filters: context, duplicates, region, allow, deny, retries, everything dropped. */
static void
test_filters(const struct policy_set *set)
{
	struct policy_decision d;
	struct policy_input in;
	struct facts	 f;

	/* big: the model pattern "M-*" matches regardless of case. */
	chat(&f, "m-cheap");
	f.est.input_tokens = 20000;
	input(&in, &f);
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "big");
	CHECK_STR(order(&d), "m-cheap");
	CHECK_STR(dropped(&d), "m-dear:context m-cheap:duplicate");
	CHECK_STR(d.dropped[0].reason, "context window of 8000 tokens is too "
	    "small for about 20000 input + 1000 output tokens");
	CHECK_STR(d.matched, "model m-cheap is m-*; about 20000 input tokens");
	/* cn: a global source is dropped for the region. */
	chat(&f, "m-cheap");
	in.team = "china-north";
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "cn");
	CHECK_STR(order(&d), "m-mid");
	CHECK_STR(dropped(&d), "m-cheap:region");
	CHECK_STR(d.dropped[0].reason, "source pa is in region global; the "
	    "rule allows cn only");
	in.team = "china";
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "cn");
	in.team = "chinatown";
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK(d.rule == NULL);
	/* cn, and nothing left: m-mid has no JSON mode. */
	in.team = "china";
	f.est.caps = CAP_JSON;
	CHECK(policy_decide(set, &in, &d) == POLICY_NO_TARGET);
	CHECK_STR(dropped(&d), "m-cheap:region m-mid:unfit");
	CHECK_STR(d.message, "No model can serve this request under policy "
	    "cn: m-cheap source pa is in region global; the rule allows cn "
	    "only.");
	f.est.caps = 0;
	in.team = NULL;
	/* deny by provider. */
	in.project = "nopc";
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "deny");
	CHECK_STR(order(&d), "m-cheap");
	CHECK_STR(dropped(&d), "m-dear:denied");
	CHECK_STR(d.dropped[0].reason, "source pc is denied");
	in.project = NULL;
	/* allow only pa; limits and cache mode. */
	in.environment = "prod";
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "allow");
	CHECK_STR(order(&d), "m-cheap");
	CHECK_STR(dropped(&d), "m-dear:denied m-mid:denied");
	CHECK_STR(d.dropped[1].reason, "source pb is not allowed");
	CHECK(d.timeout_ms == 1500 && d.deadline_ms == 120000);
	CHECK(d.retries == 1);
	CHECK(d.cache_mode == CONFIG_CACHE_OFF);
	in.environment = NULL;
	/* retries: 1 keeps two targets. */
	in.workload = "agent.eval";
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "retries");
	CHECK_STR(order(&d), "m-dear m-mid");
	CHECK_STR(dropped(&d), "m-cheap:retries");
	CHECK_STR(d.dropped[0].reason, "beyond retries: 1");
	/* Embeddings: the kind must fit. */
	in.workload = NULL;
	chat(&f, "e-emb");
	f.kind = FACTS_EMBEDDINGS;
	f.est.caps = CAP_EMBEDDINGS;
	f.est.max_tokens = 0;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(order(&d), "e-emb");
	chat(&f, "m-dear");
	f.kind = FACTS_EMBEDDINGS;
	f.est.max_tokens = 0;
	CHECK(policy_decide(set, &in, &d) == POLICY_NO_TARGET);
	CHECK_STR(dropped(&d), "m-dear:unfit");
	CHECK_STR(d.dropped[0].reason, "not an embeddings model");
}

/* Budget steps and budget conditions. */
static void
test_budget(const struct policy_set *set)
{
	struct policy_decision d;
	struct policy_input in;
	struct facts	 f;

	chat(&f, "m-dear");
	input(&in, &f);
	in.key_id = "key_budget";
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "budget");
	CHECK_STR(order(&d), "m-dear");
	CHECK(d.budget_step < 0 && !d.substituted);
	in.budget_used = 0.79;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(order(&d), "m-dear");
	in.budget_used = 0.8;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(order(&d), "m-cheap");
	CHECK(d.substituted && d.budget_step == 0.8);
	in.budget_used = 1.0;
	CHECK(policy_decide(set, &in, &d) == POLICY_REFUSED);
	CHECK_STR(d.message, "Budget spent.");
	CHECK(d.ntargets == 0);
	in.budget_used = 1.7;
	CHECK(policy_decide(set, &in, &d) == POLICY_REFUSED);
	/* min/max_budget_used: unknown never matches. */
	in.key_id = NULL;
	in.workload = "win";
	in.budget_used = -1;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "catch-workload");
	in.budget_used = 0.6;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "budget-window");
	CHECK_STR(order(&d), "m-mid");
	in.budget_used = 0.95;
	CHECK(policy_decide(set, &in, &d) == POLICY_OK);
	CHECK_STR(d.rule, "catch-workload");
}

/* The explanation names the rules passed over, the match and the order. */
static void
test_explain(const struct policy_set *set)
{
	struct policy_decision d;
	struct policy_input in;
	struct facts	 f;
	struct buf	 b;

	chat(&f, "cheap");
	f.tools = 1;
	f.est.caps = CAP_TOOLS;
	input(&in, &f);
	in.workload = "w1";
	policy_decide(set, &in, &d);
	buf_init(&b, 0);
	CHECK(policy_explain(set, &in, &d, &b) == 0);
	CHECK(buf_appendc(&b, '\0') == 0);
	CHECK(strstr(b.data, "labels: key -, project -, team -, environment "
	    "-, workload w1\n") != NULL);
	CHECK(strstr(b.data, "rule weighted-canary (") != NULL);
	CHECK(strstr(b.data, "good/b-main.yaml:3) passed over: model cheap is "
	    "not canary\n") != NULL);
	CHECK(strstr(b.data, "good/b-main.yaml:11) matched: model cheap is "
	    "cheap; needs tools\n  (the cheapest tool model)\n") != NULL);
	CHECK(strstr(b.data, "  1. m-cheap via pa (global): expected "
	    "$0.002, worst $0.003; latency 300 ms (catalog prior)\n") != NULL);
	CHECK(strstr(b.data, "order: m-cheap (pa) -> m-mid (pb) -> m-dear "
	    "(pc)\n") != NULL);
	CHECK(strstr(b.data, "cache: as configured (cache.mode)\n") != NULL);
	CHECK(strstr(b.data, "outcome: ok\n") != NULL);
	/* The catch-all rule comes after: never listed as passed over. */
	CHECK(strstr(b.data, "catch-workload") == NULL);
	buf_free(&b);
}

int
main(void)
{
	const char	*srcdir = getenv("NM_SRCDIR");
	char		 path[PATH_MAX + 16], dir[PATH_MAX + 8], err[1024];
	struct policy_set *set;

	snprintf(datadir, sizeof(datadir), "%s/test/unit/data/policy",
	    srcdir != NULL ? srcdir : ".");
	snprintf(path, sizeof(path), "%s/models.yaml", datadir);
	if ((cat = catalog_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/good", datadir);
	if ((set = policy_load(dir, cat, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	test_plain(set);
	test_cheapest(set);
	test_fastest(set);
	test_weighted(set);
	test_filters(set);
	test_budget(set);
	test_explain(set);
	test_bad_files();
	policy_free(set);
	catalog_free(cat);
	UNIT_DONE();
}
