/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The torture test's scenarios: the parts of a worker's request path
 * that allocate, each driven on a few seeds of the fuzz corpora the way
 * the gateway drives it.  Each builds its state afresh, frees all of it,
 * and records what it produced (torture_record) for the driver to compare.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assemble.h"
#include "buf.h"
#include "cache.h"
#include "canon.h"
#include "catalog.h"
#include "config.h"
#include "facts.h"
#include "json.h"
#include "policy.h"
#include "quote.h"
#include "providers/provider.h"
#include "receipt.h"
#include "sse.h"
#include "shim.h"
#include "torture.h"

static const struct json_limits case_limits = { 64, 100000 };

/* Record a buffer's bytes. */
static void
record_buf(const struct buf *b)
{
	torture_record(b->data != NULL ? b->data : "", b->len);
}

/* --- JSON: the parser, accessors that copy, the writer ------------------ */

/* Parse, copy every string out, write strings and the object back. */
static enum torture_result
case_json(const char *p, size_t n)
{
	static const char *const omit[] = { "model", "stream", NULL };
	enum torture_result	 res = T_OK;
	struct json		 j;
	struct buf		 b;
	char			 err[256], *s;
	size_t			 len;
	int			 i, nw;

	buf_init(&b, 0);
	err[0] = '\0';
	if (json_parse(&j, p, n, &case_limits, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || j.tok != NULL)
			return torture_bad("json_parse failed without a message");
		return T_FAILED;
	}
	torture_record_int(j.ntok);
	for (i = 0; i < j.ntok && res == T_OK; i++) {
		torture_record_int(json_type(&j, i));
		if (json_type(&j, i) != JSON_STRING)
			continue;
		if ((s = json_strdup(&j, i, &len)) == NULL) {
			res = T_FAILED;
			break;
		}
		torture_record(s, len);
		if (json_write_str(&b, s, len) == -1)
			res = T_FAILED;
		free(s);
	}
	if (res == T_OK && json_type(&j, 0) == JSON_OBJECT) {
		if (json_write_object_except(&b, &j, 0, omit, 0, &nw) == -1)
			res = T_FAILED;
		else
			torture_record_int(nw);
	}
	if (res == T_OK)
		record_buf(&b);
	buf_free(&b);
	json_free(&j);
	return res;
}


/* --- canonicalisation: the cache key's input ---------------------------- */

/* canon_text on the bytes, canon_write and both canon_request forms on the document. */
static enum torture_result
case_canon(const char *p, size_t n)
{
	enum torture_result	 res = T_OK;
	struct json		 j;
	struct buf		 b;
	char			 err[256];
	int			 m;

	buf_init(&b, 0);
	if (canon_text(p, n, &b) == -1) {
		buf_free(&b);
		return T_FAILED;
	}
	record_buf(&b);
	buf_reset(&b);
	if (json_parse(&j, p, n, &case_limits, err, sizeof(err)) == -1) {
		buf_free(&b);
		return T_FAILED;
	}
	err[0] = '\0';
	if (canon_write(&j, 0, &b, err, sizeof(err)) == -1)
		res = err[0] == '\0' ? torture_bad("canon_write: no message") :
		    T_FAILED;
	record_buf(&b);
	for (m = CANON_EXACT; m <= CANON_TEXT && res == T_OK &&
	    json_type(&j, 0) == JSON_OBJECT; m++) {
		buf_reset(&b);
		err[0] = '\0';
		if (canon_request(&j, 0, (enum canon_mode)m, &b, err,
		    sizeof(err)) == -1)
			res = err[0] == '\0' ?
			    torture_bad("canon_request: no message") : T_FAILED;
		record_buf(&b);
	}
	buf_free(&b);
	json_free(&j);
	return res;
}


/* --- SSE: the parser in pieces, and the emitter ------------------------- */

/* sse_cb: record an event and write it back out as the gateway would. */
static int
sse_event_cb(void *arg, const struct sse_event *ev)
{
	struct buf	*out = arg;

	torture_record(ev->event, strlen(ev->event));
	torture_record(ev->id, strlen(ev->id));
	torture_record(ev->data, ev->data_len);
	torture_record_int(ev->ncomments);
	if ((ev->event[0] != '\0' ? sse_write_event(out, ev->event, ev->data,
	    ev->data_len) : sse_write_data(out, ev->data, ev->data_len)) == -1)
		return -1;
	if (ev->ncomments > 0 && sse_write_comment(out, "keep-alive") == -1)
		return -1;
	return 0;
}

/* Parse in 7-byte pieces, emitting each event again. */
static enum torture_result
case_sse(const char *p, size_t n)
{
	enum torture_result	res = T_OK;
	struct sse_parser	sp;
	struct buf		out;
	size_t			off, step;

	buf_init(&out, 0);
	sse_parser_init(&sp, 64 * 1024);
	for (off = 0; off < n && res == T_OK; off += step) {
		step = n - off < 7 ? n - off : 7;
		if (sse_feed(&sp, p + off, step, sse_event_cb, &out) == -1)
			res = T_FAILED;
	}
	if (res == T_OK) {
		torture_record_int(sse_pending(&sp));
		record_buf(&out);
	}
	sse_parser_free(&sp);
	buf_free(&out);
	return res;
}

/* --- the assembler: a stream rebuilt whole for the cache ---------------- */

/* Feed a stream in two halves, then take the whole answer. */
static enum torture_result
case_assemble(const char *p, size_t n)
{
	struct assembler	*a;
	struct usage		 u;
	struct buf		 out;
	int			 complete = -1, r;

	if ((a = assemble_new(64 * 1024)) == NULL)
		return T_FAILED;
	buf_init(&out, 0);
	memset(&u, 0, sizeof(u));
	u.prompt_tokens = 11;
	u.completion_tokens = 7;
	u.total_tokens = 18;
	r = assemble_feed(a, p, n / 2);
	if (r == 0)
		r = assemble_feed(a, p + n / 2, n - n / 2);
	if (r == 0)
		r = assemble_result(a, &u, &out, &complete);
	assemble_free(a);
	if (r == -1) {
		if (out.len != 0)
			return torture_bad("assemble failed with output");
		buf_free(&out);
		return T_FAILED;
	}
	if (complete != 0 && complete != 1)
		return torture_bad("assemble_result: complete %d", complete);
	torture_record_int(complete);
	record_buf(&out);
	buf_free(&out);
	return T_OK;
}

/* --- the cache entry: encode, decode, the SSE replay -------------------- */

/* Encode an entry of an assembled answer, decode it, render its SSE replay. */
static enum torture_result
case_cache(const char *p, size_t n)
{
	static const unsigned char	 key[CRYPTO_SHA256_LEN] = { 7, 1, 9 };
	enum torture_result		 res = T_OK;
	struct assembler		*a;
	struct cache_entry		 e, d;
	struct buf			 answer, pieces, entry, sse;
	char				 err[256];
	int				 complete = 0;

	/*
	 * The answer and its pieces are made unwatched: the assembler has
	 * its own scenario.
	 */
	buf_init(&answer, 0);
	buf_init(&pieces, 0);
	shim_pause();
	a = assemble_new(64 * 1024);
	if (a == NULL || assemble_feed(a, p, n) == -1 ||
	    assemble_result(a, NULL, &answer, &complete) == -1 || !complete ||
	    assemble_pieces(a, &pieces) == -1) {
		assemble_free(a);
		buf_free(&answer);
		buf_free(&pieces);
		shim_resume();
		return T_OK;		/* nothing to cache */
	}
	assemble_free(a);
	shim_resume();

	memset(&e, 0, sizeof(e));
	e.scope.p = "project:shop";
	e.scope.len = strlen(e.scope.p);
	e.model.p = "gpt-4o-mini";
	e.model.len = strlen(e.model.p);
	e.request.p = "{\"messages\":[]}";
	e.request.len = strlen(e.request.p);
	e.provider.p = "openai";
	e.provider.len = strlen(e.provider.p);
	e.answer.p = answer.data;
	e.answer.len = answer.len;
	e.pieces.p = pieces.data;
	e.pieces.len = pieces.len;
	e.created = 1800000000;
	e.prompt_tokens = 11;
	e.completion_tokens = 7;
	e.total_tokens = 18;
	e.cost = 4800;
	buf_init(&entry, 0);
	buf_init(&sse, 0);
	err[0] = '\0';
	if (cache_entry_encode(&e, key, &entry, err, sizeof(err)) == -1)
		res = err[0] == '\0' ? torture_bad("encode: no message") :
		    T_FAILED;
	else if (cache_entry_decode_verify(entry.data, entry.len, key, &e,
	    &d) != CACHE_ENTRY_OK)
		res = torture_bad("an entry just encoded does not verify");
	else {
		record_buf(&entry);
		torture_record(d.answer.p, d.answer.len);
		err[0] = '\0';
		if (cache_render_sse(d.answer.p, d.answer.len, d.pieces.p,
		    d.pieces.len, 1, &sse, err, sizeof(err)) == -1)
			res = err[0] == '\0' ? torture_bad("replay: no message") :
			    T_FAILED;
		else
			record_buf(&sse);
	}
	buf_free(&sse);
	buf_free(&entry);
	buf_free(&pieces);
	buf_free(&answer);
	return res;
}

/* --- receipts: the signed line, verified and read back ------------------ */

/* Write a receipt (served or refused), verify and parse it back. */
static enum torture_result
case_receipt(const char *variant, size_t n)
{
	static const struct receipt_attempt attempts[] = {
		{ "claude-sonnet", "anthropic", 529, 1200 },
		{ "gpt-4o-mini", "openai", 200, 310 },
	};
	unsigned char		 key[RECEIPT_KEY_LEN];
	enum torture_result	 res = T_OK;
	struct receipt		 r;
	struct receipt_view	 v;
	struct buf		 line;
	char			 err[256];

	receipt_key("s3cret", 6, key);
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "rcpt_0123456789abcdef01234567");
	snprintf(r.request_id, sizeof(r.request_id), "req_0123456789abcdef");
	r.created_ms = 1796317440123LL;
	r.key_id = "key_00112233aabbccdd";
	r.project = "shop";
	r.workload = "api.web \"quoted\"";
	r.endpoint = "/v1/chat/completions";
	r.model_requested = "fast";
	r.serve_mode = "fresh";
	r.ttfb_ms = -1;
	if (strncmp(variant, "served", n) == 0) {
		r.model = "gpt-4o-mini";
		r.provider = "openai";
		r.team = "web";
		r.stream = 1;
		r.status = 200;
		r.prompt_tokens = 12;
		r.completion_tokens = 30;
		r.total_tokens = 42;
		r.usage_source = "upstream";
		r.billing_basis = "list_price";
		r.cost = r.fresh_cost = 19800;
		r.latency_ms = 1530;
		r.ttfb_ms = 1400;
		r.cache_key = "0123abcd";
		r.policy_rule = "support";
		r.attempts = attempts;
		r.nattempts = 2;
	} else {
		r.status = 404;
		r.error_code = "model_not_found";
		r.usage_source = "none";
		r.billing_basis = "none";
	}
	buf_init(&line, RECEIPT_MAX_LINE);
	memset(&v, 0, sizeof(v));	/* recorded whole: no stray bytes */
	err[0] = '\0';
	if (receipt_write(&r, key, &line) == -1)
		res = T_FAILED;
	else if (receipt_verify(line.data, line.len, key, err,
	    sizeof(err)) == -1)
		res = err[0] == '\0' ? torture_bad("verify: no message") :
		    T_FAILED;
	else if (receipt_parse(line.data, line.len, &v, err,
	    sizeof(err)) == -1)
		res = err[0] == '\0' ? torture_bad("parse: no message") :
		    T_FAILED;
	else {
		record_buf(&line);
		torture_record(&v, sizeof(v));
	}
	buf_free(&line);
	return res;
}

static const char *const receipt_seeds[] = { "served", "refused", NULL };

/* --- routing: a chat body's facts, the policy decision, the quote ------ */

static enum torture_result check_errinfo(const struct errinfo *, const char *);

static struct catalog	*route_cat;
static struct policy_set *route_set;

/* The unit tests' policy catalog and rules, loaded once and unwatched (startup's work). */
static int
route_load(void)
{
	static int	 tried;
	const char	*src = getenv("NM_SRCDIR"), *paths[2];
	char		 cat[4096], a[4096], b[4096], err[512];

	if (tried)
		return route_cat != NULL && route_set != NULL ? 0 : -1;
	tried = 1;
	if (src == NULL)
		src = ".";
	snprintf(cat, sizeof(cat), "%s/test/unit/data/policy/models.yaml", src);
	snprintf(a, sizeof(a), "%s/test/unit/data/policy/good/a-late.yaml", src);
	snprintf(b, sizeof(b), "%s/test/unit/data/policy/good/b-main.yaml", src);
	paths[0] = a;
	paths[1] = b;
	shim_pause();
	if ((route_cat = catalog_load(cat, err, sizeof(err))) == NULL ||
	    (route_set = policy_load_files(paths, 2, route_cat, err,
	    sizeof(err))) == NULL)
		fprintf(stderr, "torture: route: %s\n", err);
	shim_resume();
	return route_cat != NULL && route_set != NULL ? 0 : -1;
}

/* A chat body's facts, then a decision and a quote for a few model names. */
static enum torture_result
case_route(const char *p, size_t n)
{
	static const char *const models[] = {
		NULL, "cheap", "fast", "canary", "m-mid", "M-big"
	};
	enum torture_result	 res = T_OK;
	struct policy_decision	 d;
	struct policy_input	 in;
	struct quote_opts	 o;
	struct quote		 q;
	struct errinfo		 err;
	struct facts		 f;
	struct json		 j;
	struct buf		 b;
	size_t			 i, k;

	if (route_load() == -1)
		return torture_bad("no catalog or policies");
	memset(&err, 0, sizeof(err));
	if (json_parse(&j, p, n, &case_limits, NULL, 0) == -1)
		return T_FAILED;
	if (json_type(&j, 0) != JSON_OBJECT) {
		json_free(&j);
		return T_FAILED;	/* the gateway refuses it before */
	}
	if (facts_chat(&j, &f, &err) == -1) {
		json_free(&j);
		return check_errinfo(&err, "facts_chat");
	}
	torture_record(&f, sizeof(f));
	buf_init(&b, 0);
	for (i = 0; i < NM_NELEM(models) && res == T_OK; i++) {
		if (models[i] != NULL)
			snprintf(f.model, sizeof(f.model), "%s", models[i]);
		memset(&in, 0, sizeof(in));
		in.facts = &f;
		in.budget_used = -1;
		in.draw = 0.5;
		torture_record_int(policy_decide(route_set, &in, &d));
		for (k = 0; k < d.ntargets; k++)
			torture_record(d.targets[k].model->id,
			    strlen(d.targets[k].model->id));
		torture_record(d.message, strlen(d.message));
		memset(&o, 0, sizeof(o));
		o.region = -1;
		o.model = f.model;
		buf_reset(&b);
		if (quote_build(route_cat, &f.est, &o, &q) != 0 ||
		    quote_write_json(&q, &b) != 0)
			res = T_FAILED;
		else
			record_buf(&b);
		quote_free(&q);
	}
	buf_free(&b);
	json_free(&j);
	return res;
}


/* --- the wire-format translators (test/fuzz/fuzz-providers.c's input) --- */

static const enum provider_kind case_kinds[] = {
	PROVIDER_OPENAI, PROVIDER_ANTHROPIC, PROVIDER_GEMINI
};

static char case_key[] = "sk-tortureSECRETkey0123456789";

/* An error for the client: complete, without the source's key. */
static enum torture_result
check_errinfo(const struct errinfo *err, const char *what)
{
	torture_status(err->status);
	if (err->status < 400 || err->status > 599 || err->type[0] == '\0' ||
	    err->message[0] == '\0')
		return torture_bad("%s: incomplete error (%d, \"%s\", \"%s\")",
		    what, err->status, err->type, err->message);
	if (strstr(err->message, case_key) != NULL)
		return torture_bad("%s: error quotes the key", what);
	return T_FAILED;
}

/* Free what chat_encode/embed_encode handed over. */
static void
free_upstream_req(struct upstream_req *r)
{
	char	**h;

	free(r->url);
	free(r->body);
	for (h = r->headers; h != NULL && *h != NULL; h++)
		free(*h);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

struct case_stream {
	struct prov_ctx			*ctx;
	const struct provider_ops	*ops;
	struct buf			 out;
	enum torture_result		 res;
};

/* sse_cb: one source event through the translator, as the relay does. */
static int
case_event(void *arg, const struct sse_event *ev)
{
	struct case_stream	*s = arg;
	struct errinfo		 err;

	memset(&err, 0, sizeof(err));
	if (s->ops->chat_event(s->ctx, ev, &s->out, &err) == -1) {
		s->res = check_errinfo(&err, "chat_event");
		return -1;
	}
	return 0;
}

/*
 * The unit tests' recorded cases (and the seeds made from them) wrap the
 * payload with what it should become: {"openai": request, "anthropic":
 * ...}, {"anthropic": answer, ...}, {"status": 400, "body": error}.  The
 * payload alone, by mode; NULL when not wrapped.  Made unwatched; caller frees.
 */
static char *
unwrap(int mode, const char *p, size_t n, size_t *len)
{
	static const char *const keys[6] = {
		"openai", "anthropic", NULL, "body", NULL, NULL
	};
	struct json	 w;
	const char	*raw;
	char		*out = NULL;
	int		 k;

	if (keys[mode] == NULL)
		return NULL;
	shim_pause();
	if (json_parse(&w, p, n, &case_limits, NULL, 0) == 0 &&
	    json_type(&w, 0) == JSON_OBJECT &&
	    (k = json_get(&w, 0, keys[mode])) >= 0 &&
	    json_type(&w, k) == JSON_OBJECT) {
		raw = json_raw(&w, k, len);
		if ((out = malloc(*len)) != NULL)
			memcpy(out, raw, *len);
	}
	json_free(&w);
	shim_resume();
	return out;
}

/* Bytes per sse_feed call of a source's stream; 0: all at once. */
static size_t case_piece;

/* One input of test/fuzz/fuzz-providers.c's shape: provider and mode, then the payload. */
static enum torture_result
case_providers(const char *data, size_t size)
{
	enum torture_result		 res = T_OK;
	struct provider_conf		 prov;
	struct model			 model;
	struct prov_ctx			 ctx;
	const struct provider_ops	*ops;
	struct upstream_req		 ur;
	struct errinfo			 err;
	struct json			 j;
	struct sse_parser		 sp;
	struct case_stream		 st;
	struct buf			 out;
	const char			*p;
	char				 e[128], **h, *payload;
	size_t				 n, k, piece;
	int				 pass = 0, mode;

	if (size < 3)
		return T_OK;
	memset(&prov, 0, sizeof(prov));
	memset(&model, 0, sizeof(model));
	memset(&ctx, 0, sizeof(ctx));
	memset(&ur, 0, sizeof(ur));
	memset(&err, 0, sizeof(err));
	memset(&j, 0, sizeof(j));
	prov.name = (char *)"torture";
	prov.kind = case_kinds[(unsigned char)data[0] % 3];
	prov.dialect = (enum provider_dialect)(((unsigned char)data[0] / 3) % 8);
	prov.base_url = (char *)"http://127.0.0.1:1/v1";
	prov.api_key = case_key;
	prov.stream_usage = 1;
	model.id = (char *)"torture-model";
	model.provider = prov.name;
	model.upstream_model = (char *)"torture-upstream";
	model.context_window = 128000;
	model.max_output = 8192;
	model.caps = CAP_TOOLS | CAP_JSON | CAP_VISION | CAP_STREAMING |
	    CAP_EMBEDDINGS | CAP_REASONING;
	if ((ops = provider_ops(prov.kind)) == NULL)
		return T_OK;
	ctx.prov = &prov;
	ctx.model = &model;
	ctx.lim = case_limits;
	ctx.created = 1800000000;
	memcpy(ctx.request_id, "req_torture", 12);
	mode = (unsigned char)data[1] % 6;
	ctx.stream = ((unsigned char)data[1] / 6) & 1;
	ctx.client_usage = ((unsigned char)data[1] / 12) & 1;
	p = data + 3;
	n = size - 3;
	if ((payload = unwrap(mode, p, n, &n)) != NULL)
		p = payload;
	buf_init(&out, 16 * 1024 * 1024);

	switch (mode) {
	case 0:		/* a client's chat request */
	case 4:		/* a client's embeddings request */
		if (mode == 4 && ops->embed_encode == NULL)
			break;
		if (json_parse(&j, p, n, &case_limits, e, sizeof(e)) != 0) {
			res = T_FAILED;
			break;
		}
		if (json_type(&j, 0) != JSON_OBJECT)
			break;
		if ((mode == 0 ? ops->chat_encode(&ctx, &j, &ur, &err) :
		    ops->embed_encode(&ctx, &j, &ur, &err)) != 0) {
			res = check_errinfo(&err, "encode");
		} else if (ur.url == NULL || ur.body == NULL)
			res = torture_bad("encode: success without a request");
		else {
			torture_record(ur.url, strlen(ur.url));
			torture_record(ur.body, ur.body_len);
			for (h = ur.headers; h != NULL && *h != NULL; h++)
				torture_record(*h, strlen(*h));
		}
		free_upstream_req(&ur);
		break;
	case 1:		/* a source's whole chat answer */
	case 5:		/* a source's embeddings answer */
		if (mode == 5 && ops->embed_decode == NULL)
			break;
		if ((mode == 1 ? ops->chat_decode(&ctx, p, n, &out, &pass, &err) :
		    ops->embed_decode(&ctx, p, n, &out, &pass, &err)) != 0)
			res = check_errinfo(&err, "decode");
		else {
			torture_record_int(pass);
			record_buf(&out);
		}
		break;
	case 2:		/* a source's stream */
		ctx.stream = 1;
		memset(&st, 0, sizeof(st));
		st.ctx = &ctx;
		st.ops = ops;
		st.res = T_OK;
		buf_init(&st.out, 16 * 1024 * 1024);
		sse_parser_init(&sp, 1024 * 1024);
		for (k = 0; k < n && res == T_OK; k += piece) {
			piece = case_piece == 0 || case_piece > n - k ?
			    n - k : case_piece;
			if (sse_feed(&sp, p + k, piece, case_event, &st) == -1)
				res = st.res != T_OK ? st.res : T_FAILED;
		}
		if (res == T_OK) {
			torture_record_int(ctx.saw_done);
			record_buf(&st.out);
		}
		sse_parser_free(&sp);
		buf_free(&st.out);
		break;
	case 3:		/* a source's error: always an answer, maybe a plainer one */
		ops->map_error(&ctx, 400 + (unsigned char)data[2] % 200, p, n,
		    "1", &err);
		if (check_errinfo(&err, "map_error") == T_BAD)
			res = T_BAD;
		break;
	}
	json_free(&j);
	buf_free(&out);
	if (ops->ctx_free != NULL)
		ops->ctx_free(&ctx);
	free(payload);
	return res;
}

/* The streams only, fed to the parser a few bytes at a time, as a socket may. */
static enum torture_result
case_streams(const char *data, size_t size)
{
	enum torture_result	res;

	if (size < 3 || (unsigned char)data[1] % 6 != 2)
		return T_OK;
	case_piece = 5;
	res = case_providers(data, size);
	case_piece = 0;
	return res;
}

/* The unit tests' recorded cases: payload files without the fuzz input's three bytes. */
static enum torture_result
case_headed(unsigned char kind, unsigned char mode, unsigned char extra,
    const char *p, size_t n)
{
	enum torture_result	 res;
	char			*in;

	shim_pause();
	in = malloc(n + 3);
	shim_resume();
	if (in == NULL)
		return torture_bad("no memory for the input");
	in[0] = (char)kind;
	in[1] = (char)mode;
	in[2] = (char)extra;
	memcpy(in + 3, p, n);
	res = case_providers(in, n + 3);
	free(in);
	return res;
}

/* Anthropic: a client's request, answers, streams (with usage asked), errors (as 429s). */
static enum torture_result
case_anthropic_req(const char *p, size_t n)
{
	return case_headed(1, 0, 0, p, n);
}

static enum torture_result
case_anthropic_ans(const char *p, size_t n)
{
	return case_headed(1, 1, 0, p, n);
}

static enum torture_result
case_anthropic_sse(const char *p, size_t n)
{
	return case_headed(1, 14, 0, p, n);
}

static enum torture_result
case_anthropic_err(const char *p, size_t n)
{
	return case_headed(1, 3, 29, p, n);
}

/* Gemini: the same, by the names of its recorded files. */
static enum torture_result
case_gemini_req(const char *p, size_t n)
{
	return case_headed(2, 0, 0, p, n);
}

static enum torture_result
case_gemini_ans(const char *p, size_t n)
{
	return case_headed(2, 1, 0, p, n);
}

static enum torture_result
case_gemini_sse(const char *p, size_t n)
{
	return case_headed(2, 14, 0, p, n);
}

const struct torture_scenario torture_scenarios[] = {
	{ "json",	"fuzz/corpus/json",	NULL,	NULL,	case_json },
	{ "canon",	"fuzz/corpus/canon",	NULL,	NULL,	case_canon },
	{ "sse",	"fuzz/corpus/sse",	NULL,	NULL,	case_sse },
	{ "assemble",	"fuzz/corpus/assemble",	NULL,	NULL,	case_assemble },
	{ "cache",	"fuzz/corpus/assemble",	NULL,	NULL,	case_cache },
	{ "receipt",	NULL,		receipt_seeds,	NULL,	case_receipt },
	{ "route",	"fuzz/corpus/json",	NULL,	NULL,	case_route },
	{ "providers",	"fuzz/corpus/providers", NULL,	NULL,	case_providers },
	{ "streams",	"fuzz/corpus/providers", NULL,	NULL,	case_streams },
	{ "anth-req",	"unit/data/anthropic/request", NULL, NULL,
	    case_anthropic_req },
	{ "anth-ans",	"unit/data/anthropic/response", NULL, NULL,
	    case_anthropic_ans },
	{ "anth-sse",	"unit/data/anthropic/stream", NULL, "*.sse",
	    case_anthropic_sse },
	{ "anth-err",	"unit/data/anthropic/error", NULL, NULL,
	    case_anthropic_err },
	{ "gem-req",	"unit/data/gemini",	NULL,	"req-*",
	    case_gemini_req },
	{ "gem-ans",	"unit/data/gemini",	NULL,	"ans-*",
	    case_gemini_ans },
	{ "gem-sse",	"unit/data/gemini",	NULL,	"stream-*",
	    case_gemini_sse },
	{ NULL,		NULL,		NULL,		NULL,	NULL }
};
