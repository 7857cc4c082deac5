/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl bench cache-safety: measures any OpenAI-compatible cache
 * layer from outside with the public CacheSafety Bench's inputs (pair
 * datasets, publication promptsets).  It sends each case's requests,
 * sees a hit by x-nextmodel-serve-mode on the answer that counts, or
 * (--detect upstream) by its own counting source not being called, and
 * prints the scorecard of bench-score.c as text or JSON.  No config, no
 * Redis.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "money.h"
#include "bench-http.h"
#include "bench-score.h"
#include "bench-source.h"
#include "bench.h"
#include "ctl.h"

#define MAX_FILE	(64 * 1024 * 1024)
#define MAX_CASES	100000
#define MAX_ANSWER	(8 * 1024 * 1024)
#define MAX_CONC	64
#define DEF_TIMEOUT	60
#define DEF_MODEL	"benchmark-provider-model"	/* the public default */

static const struct json_limits limits = { 64, 1000000 };

static int	bench_cache_safety(struct ctl *, int, char **);

static const struct ctl_cmd bench_cmds[] = {
	{ "cache-safety", "--url URL (--key KEY | --key-env VAR) "
	    "(--dataset FILE.jsonl | --promptset FILE.json) [--model M] "
	    "[--format text|json] [--concurrency N] [--timeout SECONDS] "
	    "[--input-price-per-1m USD] [--detect header|upstream] "
	    "[--upstream-listen HOST:PORT] [--upstream-ready-file FILE] "
	    "[--upstream-wait SECONDS]", bench_cache_safety, 0 },
	{ NULL, NULL, NULL, 0 },
};

const struct ctl_group ctl_group_bench = { "bench", bench_cmds };


/* Read path (at most MAX_FILE bytes) into b, which the caller frees. */
static int
slurp(const char *path, struct buf *b)
{
	char	 chunk[8192];
	size_t	 n;
	FILE	*f;
	int	 r = 0;

	buf_init(b, MAX_FILE);
	if ((f = fopen(path, "rb")) == NULL) {
		ctl_warnx("%s: %s", path, strerror(errno));
		return -1;
	}
	while (r == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, n) != 0) {
			ctl_warnx("%s: larger than %d bytes", path, MAX_FILE);
			r = -1;
		}
	if (r == 0 && ferror(f)) {
		ctl_warnx("%s: %s", path, strerror(errno));
		r = -1;
	}
	fclose(f);
	if (r == 0 && b->data == NULL && buf_append(b, "", 0) != 0)
		r = -1;
	return r;
}

/* Trim ASCII whitespace off both ends of s[0..*len); returns the start. */
static const char *
trim(const char *s, size_t *len)
{
	while (*len > 0 && strchr(" \t\r\n\v\f", s[0]) != NULL) {
		s++;
		(*len)--;
	}
	while (*len > 0 && strchr(" \t\r\n\v\f", s[*len - 1]) != NULL)
		(*len)--;
	return s;
}

/*
 * The chat completions body for request value r: an object as written
 * (its "model" replaced by model when set), or a bare prompt string made
 * into a one-message request.  0, or -1 with err.
 */
static int
request_body(const struct json *j, int r, const char *model, struct buf *b,
    char *err, size_t errlen)
{
	static const char *const omit[] = { "model", NULL };
	char	*text;
	const char *t;
	size_t	 len;
	int	 nw, rc;

	buf_init(b, MAX_FILE);
	if (json_type(j, r) == JSON_OBJECT) {
		if (model == NULL)
			rc = json_write_raw(b, j, r);
		else
			rc = json_write_object_except(b, j, r, omit, 1, &nw) ||
			    buf_appends(b, nw > 0 ? ",\"model\":" :
			    "\"model\":") || json_write_cstr(b, model) ||
			    buf_appendc(b, '}');
	} else if (json_type(j, r) == JSON_STRING) {
		if ((text = json_strdup(j, r, &len)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		t = trim(text, &len);
		rc = buf_appends(b, "{\"model\":") ||
		    json_write_cstr(b, model != NULL ? model : DEF_MODEL) ||
		    buf_appends(b, ",\"messages\":[{\"role\":\"user\","
		    "\"content\":") || json_write_str(b, t, len) ||
		    buf_appends(b, "}]}");
		free(text);
	} else {
		snprintf(err, errlen, "not an object or a string");
		return -1;
	}
	if (rc != 0)
		snprintf(err, errlen, "too large");
	return rc != 0 ? -1 : 0;
}

/* The answer text of old_answer (object with text or content, or string). */
static char *
answer_text(const struct json *j, int a)
{
	int	 t = -1;
	size_t	 len;

	if (json_type(j, a) == JSON_STRING)
		t = a;
	else if (json_type(j, a) == JSON_OBJECT &&
	    ((t = json_get(j, a, "text")) < 0 || json_type(j, t) != JSON_STRING ||
	    json_size(j, t) == 0))
		t = json_get(j, a, "content");
	if (t < 0 || json_type(j, t) != JSON_STRING)
		return NULL;
	return json_strdup(j, t, &len);
}

/* 1 if a and b are equal once trimmed. */
static int
same_text(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b);

	a = trim(a, &la);
	b = trim(b, &lb);
	return la == lb && memcmp(a, b, la) == 0;
}

/* A string member of obj, copied, or NULL (absent, not a string, OOM). */
static char *
member_str(const struct json *j, int obj, const char *key)
{
	size_t	 len;
	int	 v;

	if ((v = json_get(j, obj, key)) < 0 || json_type(j, v) != JSON_STRING)
		return NULL;
	return json_strdup(j, v, &len);
}

/* Fill case c and call k from dataset line j; 0 or -1 with err. */
static int
load_case(const struct json *j, const struct bench_opts *o, struct bench_case *c,
    struct bench_call *k, size_t lineno, char *err, size_t errlen)
{
	static const char *const reqs[2] = { "old_request", "new_request" };
	struct buf	 b;
	char		*old = NULL, *fresh = NULL, *expect = NULL, e2[128];
	const char	*p;
	size_t		 len;
	int		 v, i, r = -1;

	if (json_type(j, 0) != JSON_OBJECT) {
		snprintf(err, errlen, "not a JSON object");
		return -1;
	}
	if ((c->id = member_str(j, 0, "id")) == NULL) {
		if ((c->id = malloc(32)) == NULL)
			goto oom;
		snprintf(c->id, 32, "line-%zu", lineno);
	}
	if ((c->category = member_str(j, 0, "category")) == NULL &&
	    (c->category = strdup("support")) == NULL)
		goto oom;
	for (i = 0; i < 2; i++) {
		if ((v = json_get(j, 0, reqs[i])) < 0) {
			snprintf(err, errlen, "%s: %s is missing", c->id,
			    reqs[i]);
			goto out;
		}
		if (request_body(j, v, o->model, &b, e2, sizeof(e2)) != 0) {
			buf_free(&b);
			snprintf(err, errlen, "%s: %s: %s", c->id, reqs[i], e2);
			goto out;
		}
		k->body[i] = buf_steal(&b, &k->len[i]);
		k->name[i] = reqs[i];
	}
	k->nbody = 2;
	c->p.cost = BENCH_DEFAULT_COST;
	if ((v = json_get(j, 0, "estimated_upstream_cost_usd")) >= 0) {
		p = json_ptr(j, v, &len);
		if (json_type(j, v) != JSON_NUMBER ||
		    money_parse(p, len, 1, &c->p.cost) != 0) {
			snprintf(err, errlen, "%s: estimated_upstream_cost_usd: "
			    "not a decimal with at most 9 places", c->id);
			goto out;
		}
		if (c->p.cost <= 0)	/* the public bench's default */
			c->p.cost = BENCH_DEFAULT_COST;
	}
	expect = member_str(j, 0, "expect");
	if (json_get(j, 0, "expect") >= 0 && (expect == NULL ||
	    (strcmp(expect, "hit") != 0 && strcmp(expect, "miss") != 0))) {
		snprintf(err, errlen, "%s: expect: \"hit\" or \"miss\"", c->id);
		goto out;
	}
	len = strlen(c->category);
	p = trim(c->category, &len);
	if (expect != NULL && strcmp(expect, "hit") == 0)
		c->p.kind = BENCH_KIND_HIT;
	else if ((expect != NULL && strcmp(expect, "miss") == 0) ||
	    (len == 13 && strncasecmp(p, "semantic_trap", 13) == 0))
		c->p.kind = BENCH_KIND_TRAP;
	else {
		c->p.kind = BENCH_KIND_ANSWER;
		if ((v = json_get(j, 0, "old_answer")) < 0 ||
		    (old = answer_text(j, v)) == NULL ||
		    (fresh = member_str(j, 0, "fresh_answer")) == NULL) {
			snprintf(err, errlen, "%s: needs old_answer.text and "
			    "fresh_answer (or \"expect\")", c->id);
			goto out;
		}
		c->p.same_answer = same_text(old, fresh);
	}
	r = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free(old);
	free(fresh);
	free(expect);
	return r;
}

/* Every line of a pair dataset into run; 0 or -1 after a message. */
static int
load_dataset(const struct bench_opts *o, struct bench_run *run)
{
	struct json	 j;
	struct buf	 f;
	char		 err[512], *line, *nl;
	size_t		 lineno = 0, len, n = 0;
	int		 r = -1;

	if (slurp(o->dataset, &f) != 0)
		goto out;
	for (line = f.data; *line != '\0'; line = nl != NULL ? nl + 1 : line +
	    strlen(line))
		if ((nl = strchr(line, '\n')) != NULL || *line != '\0')
			n++;
	if (n > MAX_CASES) {
		ctl_warnx("%s: more than %d lines", o->dataset, MAX_CASES);
		goto out;
	}
	if ((run->calls = calloc(n + 1, sizeof(*run->calls))) == NULL ||
	    (run->cases = calloc(n + 1, sizeof(*run->cases))) == NULL) {
		ctl_warnx("out of memory");
		goto out;
	}
	for (line = f.data; *line != '\0'; line = nl != NULL ? nl + 1 :
	    line + len) {
		lineno++;
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		if (trim(line, &len), len == 0)
			continue;
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		if (json_parse(&j, line, len, &limits, err, sizeof(err)) != 0) {
			ctl_warnx("%s:%zu: %s", o->dataset, lineno, err);
			goto out;
		}
		if (load_case(&j, o, &run->cases[run->ncalls],
		    &run->calls[run->ncalls], lineno, err, sizeof(err)) != 0) {
			json_free(&j);
			run->ncalls++;
			ctl_warnx("%s:%zu: %s", o->dataset, lineno, err);
			goto out;
		}
		json_free(&j);
		run->ncalls++;
	}
	if (run->ncalls == 0) {
		ctl_warnx("%s: no cases", o->dataset);
		goto out;
	}
	r = 0;
out:
	buf_free(&f);
	return r;
}

/* Copy the string array at key of obj into *out; 0, or -1 with err. */
static int
keywords(const struct json *j, int obj, const char *key, int need,
    char ***out, size_t *n, char *err, size_t errlen)
{
	size_t	 len;
	int	 a, i, v;

	*out = NULL;
	*n = 0;
	if ((a = json_get(j, obj, key)) < 0 && !need)
		return 0;
	if (a < 0 || json_type(j, a) != JSON_ARRAY ||
	    (need && json_size(j, a) == 0)) {
		snprintf(err, errlen, "%s: a non-empty array of strings", key);
		return -1;
	}
	if ((*out = calloc((size_t)json_size(j, a) + 1, sizeof(**out))) ==
	    NULL)
		return -1;
	for (i = 0; i < json_size(j, a); i++) {
		v = json_at(j, a, i);
		if (json_type(j, v) != JSON_STRING ||
		    ((*out)[i] = json_strdup(j, v, &len)) == NULL ||
		    (trim((*out)[i], &len), len == 0)) {
			snprintf(err, errlen, "%s: non-empty strings", key);
			*n = (size_t)i + ((*out)[i] != NULL);
			return -1;
		}
	}
	*n = (size_t)i;
	return 0;
}

/* Turn value tv as class pc, carried by call k at stage s; 0 or -1. */
static int
load_turn(const struct json *j, int tv, enum bench_pclass pc,
    const struct bench_opts *o, struct bench_run *run, size_t k, int s, char *err,
    size_t errlen)
{
	struct bench_turn		*t = &run->turns[run->nturns++];
	struct bench_call	*c = &run->calls[k];
	struct buf		 b;
	char			 e2[128];
	size_t			 len;
	int			 v;

	t->pclass = pc;
	t->call = k;
	t->stage = s;
	if (json_type(j, tv) != JSON_OBJECT) {
		snprintf(err, errlen, "%s: a turn is not an object",
		    bench_pclass_name(pc));
		return -1;
	}
	if ((t->id = member_str(j, tv, "id")) == NULL &&
	    (t->id = strdup(bench_pclass_name(pc))) == NULL)
		return -1;
	if ((v = json_get(j, tv, "text")) < 0 ||
	    json_type(j, v) != JSON_STRING) {
		snprintf(err, errlen, "%s: text is missing", t->id);
		return -1;
	}
	if (keywords(j, tv, "expectKeywords", 1, &t->kw[0], &t->nkw[0], e2,
	    sizeof(e2)) != 0 || keywords(j, tv, "staleKeywords",
	    pc == BENCH_TRAP_SECOND, &t->kw[1], &t->nkw[1], e2,
	    sizeof(e2)) != 0) {
		snprintf(err, errlen, "%s: %s", t->id, e2);
		return -1;
	}
	if (request_body(j, v, o->model, &b, e2, sizeof(e2)) != 0) {
		buf_free(&b);
		snprintf(err, errlen, "%s: %s", t->id, e2);
		return -1;
	}
	if (json_type(j, v) == JSON_STRING &&
	    (t->text = json_strdup(j, v, &len)) == NULL) {
		buf_free(&b);
		return -1;
	}
	c->body[s] = buf_steal(&b, &c->len[s]);
	c->name[s] = s == 0 && pc != BENCH_FRESH ? "first" : "second";
	c->nbody = s + 1;
	c->keep = 1;		/* the content and usage are scored */
	return 0;
}

/* A promptset's turns, in the public order: traps, repeats, fresh. */
static int
load_promptset(const struct bench_opts *o, struct bench_run *run)
{
	static const struct {
		const char		*key;
		enum bench_pclass	 first;	/* BENCH_FRESH: single turns */
	} cohorts[] = {
		{ "trapPairs", BENCH_TRAP_FIRST },
		{ "repeatPairs", BENCH_REPEAT_FIRST },
		{ "freshQuestions", BENCH_FRESH },
	};
	struct json	 j;
	struct buf	 f;
	char		 err[512];
	size_t		 c, n = 0;
	int		 a, i, e, r = -1;

	memset(&j, 0, sizeof(j));
	if (slurp(o->promptset, &f) != 0)
		goto out;
	if (json_parse(&j, f.data, f.len, &limits, err, sizeof(err)) != 0) {
		ctl_warnx("%s: %s", o->promptset, err);
		goto out;
	}
	for (c = 0; c < NM_NELEM(cohorts); c++) {
		if (json_type(&j, 0) != JSON_OBJECT ||
		    (a = json_get(&j, 0, cohorts[c].key)) < 0 ||
		    json_type(&j, a) != JSON_ARRAY) {
			ctl_warnx("%s: %s: an array is missing", o->promptset,
			    cohorts[c].key);
			goto out;
		}
		n += (size_t)json_size(&j, a);
	}
	if (n > MAX_CASES || (run->calls = calloc(n + 1,
	    sizeof(*run->calls))) == NULL || (run->turns = calloc(2 * n + 1,
	    sizeof(*run->turns))) == NULL) {
		ctl_warnx("%s: too many turns", o->promptset);
		goto out;
	}
	for (c = 0; c < NM_NELEM(cohorts); c++) {
		a = json_get(&j, 0, cohorts[c].key);
		for (i = 0; i < json_size(&j, a); i++) {
			e = json_at(&j, a, i);
			if (cohorts[c].first == BENCH_FRESH) {
				if (load_turn(&j, e, BENCH_FRESH, o, run,
				    run->ncalls, 0, err, sizeof(err)) != 0)
					goto bad;
			} else if (json_type(&j, e) != JSON_OBJECT ||
			    load_turn(&j, json_get(&j, e, "first"),
			    cohorts[c].first, o, run, run->ncalls, 0, err,
			    sizeof(err)) != 0 || load_turn(&j, json_get(&j, e,
			    "second"), cohorts[c].first + 1, o, run,
			    run->ncalls, 1, err, sizeof(err)) != 0)
				goto bad;
			run->ncalls++;
		}
	}
	if (run->ncalls == 0) {
		ctl_warnx("%s: no turns", o->promptset);
		goto out;
	}
	r = 0;
	goto out;
bad:
	run->ncalls++;
	ctl_warnx("%s: %s[%d]: %s", o->promptset, cohorts[c].key, i,
	    err[0] != '\0' ? err : "a pair needs first and second objects");
out:
	json_free(&j);
	buf_free(&f);
	return r;
}

/* Free everything a run holds. */
static void
run_free(struct bench_run *run)
{
	size_t	 i, k, w;

	for (i = 0; run->calls != NULL && i < run->ncalls; i++)
		bench_call_free(&run->calls[i]);
	for (i = 0; run->cases != NULL && i < run->ncalls; i++) {
		free(run->cases[i].id);
		free(run->cases[i].category);
	}
	for (i = 0; run->turns != NULL && i < run->nturns; i++) {
		free(run->turns[i].id);
		free(run->turns[i].content);
		free(run->turns[i].text);
		for (w = 0; w < 2; w++) {
			for (k = 0; run->turns[i].kw[w] != NULL &&
			    run->turns[i].kw[w][k] != NULL; k++)
				free(run->turns[i].kw[w][k]);
			free(run->turns[i].kw[w]);
		}
	}
	free(run->calls);
	free(run->cases);
	free(run->turns);
}

/*
 * The chat completions URL for base (http or https): base + "/v1/chat/
 * completions", or + "/chat/completions" when base already ends in /v1
 * (an SDK's base_url).  Caller frees; NULL after a message.
 */
static char *
chat_url(const char *base)
{
	struct buf	 b;
	size_t		 len = strlen(base);

	if (strncmp(base, "http://", 7) != 0 &&
	    strncmp(base, "https://", 8) != 0) {
		ctl_warnx("--url: an http:// or https:// URL");
		return NULL;
	}
	while (len > 0 && base[len - 1] == '/')
		len--;
	buf_init(&b, 8192);
	if (buf_append(&b, base, len) != 0 || buf_appends(&b, len >= 3 &&
	    strncmp(base + len - 3, "/v1", 3) == 0 ? "/chat/completions" :
	    "/v1/chat/completions") != 0) {
		buf_free(&b);
		ctl_warnx("--url: too long");
		return NULL;
	}
	return buf_steal(&b, &len);
}

/* The bench's options into o; 0, or an exit code after a message. */
static int
parse_opts(struct ctl *ctl, int argc, char **argv, struct bench_opts *o)
{
	static const struct option opts[] = {
		{ "url",		required_argument,	NULL, 'u' },
		{ "key",		required_argument,	NULL, 'k' },
		{ "key-env",		required_argument,	NULL, 'K' },
		{ "dataset",		required_argument,	NULL, 'd' },
		{ "promptset",		required_argument,	NULL, 'p' },
		{ "model",		required_argument,	NULL, 'm' },
		{ "format",		required_argument,	NULL, 'f' },
		{ "concurrency",	required_argument,	NULL, 'n' },
		{ "timeout",		required_argument,	NULL, 't' },
		{ "input-price-per-1m",	required_argument,	NULL, 'P' },
		{ "detect",		required_argument,	NULL, 'D' },
		{ "upstream-listen",	required_argument,	NULL, 'L' },
		{ "upstream-ready-file", required_argument,	NULL, 'R' },
		{ "upstream-wait",	required_argument,	NULL, 'W' },
		{ NULL,			0,			NULL, 0 },
	};
	int64_t	 v;
	int	 ch, conc = 0, upopt = 0;

	memset(o, 0, sizeof(*o));
	o->http.concurrency = 1;
	o->http.timeout_ms = DEF_TIMEOUT * 1000L;
	o->http.max_answer = MAX_ANSWER;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			o->url = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'K':
			if ((o->key = getenv(optarg)) == NULL ||
			    o->key[0] == '\0') {
				ctl_warnx("--key-env: %s is not set", optarg);
				return CTL_USAGE;
			}
			break;
		case 'd':
			o->dataset = optarg;
			break;
		case 'p':
			o->promptset = optarg;
			break;
		case 'm':
			o->model = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "json") != 0 &&
			    strcmp(optarg, "text") != 0) {
				ctl_warnx("--format: expected text or json");
				return ctl_usage(ctl);
			}
			o->json = strcmp(optarg, "json") == 0;
			break;
		case 'n':
			if (ctl_parse_int64(optarg, 1, &v) != 0 ||
			    v > MAX_CONC) {
				ctl_warnx("--concurrency: 1 to %d", MAX_CONC);
				return ctl_usage(ctl);
			}
			o->http.concurrency = (int)v;
			conc = 1;
			break;
		case 't':
			if (ctl_parse_int64(optarg, 1, &v) != 0 || v > 3600) {
				ctl_warnx("--timeout: 1 to 3600 seconds");
				return ctl_usage(ctl);
			}
			o->http.timeout_ms = (long)v * 1000L;
			break;
		case 'P':
			if (money_parse(optarg, strlen(optarg), 0,
			    &o->input_per_mtok) != 0) {
				ctl_warnx("--input-price-per-1m: a decimal USD "
				    "amount");
				return ctl_usage(ctl);
			}
			break;
		case 'D':
			if (strcmp(optarg, "header") != 0 &&
			    strcmp(optarg, "upstream") != 0) {
				ctl_warnx("--detect: expected header or upstream");
				return ctl_usage(ctl);
			}
			o->upstream = strcmp(optarg, "upstream") == 0;
			break;
		case 'L':
			o->upstream_listen = optarg;
			upopt = 1;
			break;
		case 'R':
			o->ready_file = optarg;
			upopt = 1;
			break;
		case 'W':
			if (ctl_parse_int64(optarg, 1, &v) != 0 || v > 3600) {
				ctl_warnx("--upstream-wait: 1 to 3600 seconds");
				return ctl_usage(ctl);
			}
			o->upstream_wait = (long)v;
			upopt = 1;
			break;
		default:
			return ctl_usage(ctl);
		}
	}
	if (upopt && !o->upstream) {
		ctl_warnx("the --upstream-* options need --detect upstream");
		return ctl_usage(ctl);
	}
	if (o->upstream && conc && o->http.concurrency > 1) {
		ctl_warnx("--detect upstream counts the source's calls per "
		    "request: it sends one at a time (--concurrency 1)");
		return ctl_usage(ctl);
	}
	if (optind != argc) {
		ctl_warnx("unexpected argument: %s", argv[optind]);
		return ctl_usage(ctl);
	}
	if (o->url == NULL || o->key == NULL ||
	    (o->dataset == NULL) == (o->promptset == NULL)) {
		ctl_warnx("--url, a key (--key or --key-env) and one of "
		    "--dataset or --promptset are needed");
		return ctl_usage(ctl);
	}
	if (o->promptset != NULL && o->model == NULL) {
		ctl_warnx("--promptset needs --model");
		return ctl_usage(ctl);
	}
	return 0;
}

/*
 * Write the source's URL to o->ready_file whole: a temp file made with
 * O_EXCL and O_NOFOLLOW (never through a link someone planted), renamed.
 */
static int
write_ready(const struct bench_opts *o)
{
	struct buf	 tmp;
	FILE		*f;
	int		 fd, r = -1;

	buf_init(&tmp, 8192);
	if (buf_appendf(&tmp, "%s.tmp.%ld", o->ready_file, (long)getpid()) !=
	    0) {
		ctl_warnx("--upstream-ready-file: name too long");
		goto out;
	}
	if ((fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		ctl_warnx("%s: %s", tmp.data, strerror(errno));
		if (fd != -1) {
			close(fd);
			(void)unlink(tmp.data);
		}
		goto out;
	}
	fprintf(f, "%s\n", bench_source_url(o->src));
	if (fclose(f) != 0 || rename(tmp.data, o->ready_file) != 0) {
		ctl_warnx("%s: %s", o->ready_file, strerror(errno));
		(void)unlink(tmp.data);
		goto out;
	}
	r = 0;
out:
	buf_free(&tmp);
	return r;
}

/*
 * The oracle of a promptset: each turn's text is answered with its
 * expectKeywords, so the keyword checks of the publication scorecard
 * judge which answer a hit served.  Parallel arrays; caller frees.
 */
static int
oracle_of(const struct bench_run *run, char ***text, char ***answer,
    size_t *n)
{
	struct buf	 b;
	size_t		 i, k, len;

	*n = 0;
	if ((*text = calloc(run->nturns + 1, sizeof(**text))) == NULL ||
	    (*answer = calloc(run->nturns + 1, sizeof(**answer))) == NULL)
		return -1;
	for (i = 0; i < run->nturns; i++) {
		const struct bench_turn *t = &run->turns[i];
		if (t->text == NULL)
			continue;
		buf_init(&b, MAX_FILE);
		for (k = 0; k < t->nkw[0]; k++)
			if (buf_appendf(&b, "%s%s", k > 0 ? ", " : "",
			    t->kw[0][k]) != 0) {
				buf_free(&b);
				return -1;
			}
		if (buf_appendc(&b, '.') != 0) {
			buf_free(&b);
			return -1;
		}
		(*answer)[*n] = buf_steal(&b, &len);
		(*text)[(*n)++] = t->text;	/* borrowed */
	}
	return 0;
}

/* Start the counting source and tell the operator where it is. */
static int
upstream_start(struct bench_opts *o, struct bench_run *run)
{
	char	 err[256], **text = NULL, **answer = NULL;
	size_t	 i, n = 0;
	int	 r = -1;

	if (oracle_of(run, &text, &answer, &n) != 0) {
		ctl_warnx("out of memory");
		goto out;
	}
	if ((o->src = bench_source_start(o->upstream_listen,
	    (const char *const *)text, (const char *const *)answer, n, err,
	    sizeof(err))) == NULL) {
		ctl_warnx("%s", err);
		goto out;
	}
	ctl_warnx("counting source listening at %s (the layer under test's "
	    "upstream base URL)", bench_source_url(o->src));
	if (o->ready_file != NULL && write_ready(o) != 0)
		goto out;
	if (o->upstream_wait > 0 && bench_http_wait(o->http.url,
	    o->upstream_wait, err, sizeof(err)) != 0) {
		ctl_warnx("%s", err);
		goto out;
	}
	o->http.count = bench_source_calls;
	o->http.count_arg = o->src;
	o->http.concurrency = 1;
	for (i = 0; i < run->ncalls; i++)
		run->calls[i].keep = 1;		/* their nonces are read */
	r = 0;
out:
	for (i = 0; answer != NULL && i < n; i++)
		free(answer[i]);
	free(text);
	free(answer);
	return r;
}

/* nextmodelctl bench cache-safety: load, send, score, print. */
static int
bench_cache_safety(struct ctl *ctl, int argc, char **argv)
{
	struct bench_opts	 o;
	struct bench_run	 run;
	char			 err[256], *url = NULL;
	int			 rc;

	if ((rc = parse_opts(ctl, argc, argv, &o)) != 0)
		return rc;
	memset(&run, 0, sizeof(run));
	rc = CTL_FAIL;
	if ((url = chat_url(o.url)) == NULL)
		goto out;
	o.http.url = url;
	o.http.key = o.key;
	if ((o.dataset != NULL ? load_dataset(&o, &run) :
	    load_promptset(&o, &run)) != 0)
		goto out;
	if (o.upstream && upstream_start(&o, &run) != 0)
		goto out;
	if (bench_http_run(run.calls, run.ncalls, &o.http, err,
	    sizeof(err)) != 0) {
		ctl_warnx("%s", err);
		goto out;
	}
	rc = o.dataset != NULL ? bench_report_dataset(&o, &run) :
	    bench_report_promptset(&o, &run);
	if (o.upstream && bench_source_calls(o.src) == 0) {
		/* Every answer a "hit": the figures judge nothing. */
		ctl_warnx("the counting source was never called: is the layer's "
		    "upstream %s, and its cache empty?", bench_source_url(o.src));
		rc = CTL_FAIL;
	}
out:
	bench_source_free(o.src);	/* stops serving */
	if (o.src != NULL && o.ready_file != NULL)
		(void)unlink(o.ready_file);
	free(url);
	run_free(&run);
	return rc;
}
