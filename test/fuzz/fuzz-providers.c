/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Fuzz target for the wire-format translators: whatever a client or a
 * source sends must be translated or refused, never crash, leak or write
 * out of bounds.  The first two bytes pick the provider (and dialect) and
 * what to run: encode a client request, decode a whole answer, translate
 * a stream, map an error, or the embeddings pair; the rest is the payload.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "config.h"
#include "crypto.h"
#include "json.h"
#include "providers/provider.h"
#include "sse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "fuzz-providers: check failed: %s (line %d)\n", \
		    #c, __LINE__);					\
		abort();						\
	}								\
} while (0)

static const enum provider_kind kinds[] = {
	PROVIDER_OPENAI, PROVIDER_ANTHROPIC, PROVIDER_GEMINI
};

/* The source's key: it must never come back in an error message. */
static char fuzz_key[] = "sk-fuzzSECRETkey0123456789";

/* Free what chat_encode/embed_encode handed over (upstream.c is not linked). */
static void
free_req(struct upstream_req *r)
{
	char **h;

	free(r->url);
	free(r->body);
	for (h = r->headers; h != NULL && *h != NULL; h++)
		free(*h);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

/*
 * An error for the client must be complete and carry no secret.  A
 * client's own request may quote anything back to it (mode 0 and 4 pass
 * secret_ok when the client itself sent the key text); what a source sent
 * must have been scrubbed.
 */
static int secret_ok;

static void
check_err(const struct errinfo *err)
{
	FUZZ_CHECK(err->status >= 400 && err->status <= 599);
	FUZZ_CHECK(err->type[0] != '\0');
	FUZZ_CHECK(secret_ok || strstr(err->message, fuzz_key) == NULL);
}

struct stream {
	struct prov_ctx			*ctx;
	const struct provider_ops	*ops;
	struct buf			 out;
	int				 failed;
};

static int
on_event(void *arg, const struct sse_event *ev)
{
	struct stream *s = arg;
	struct errinfo err;

	memset(&err, 0, sizeof(err));
	if (s->ops->chat_event(s->ctx, ev, &s->out, &err) != 0) {
		check_err(&err);
		s->failed = 1;
		return -1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct provider_conf prov;
	struct model model;
	struct prov_ctx ctx;
	const struct provider_ops *ops;
	struct upstream_req ur;
	struct errinfo err;
	struct json j;
	struct json_limits lim = { 64, 100000 };
	struct sse_parser sp;
	struct stream st;
	struct buf out;
	const char *p;
	char e[128];
	size_t n;
	int pass = 0, mode;

	if (size < 3)
		return 0;
	memset(&prov, 0, sizeof(prov));
	memset(&model, 0, sizeof(model));
	memset(&ctx, 0, sizeof(ctx));
	memset(&ur, 0, sizeof(ur));
	memset(&err, 0, sizeof(err));
	memset(&j, 0, sizeof(j));
	prov.name = (char *)"fuzz";
	prov.kind = kinds[data[0] % 3];
	prov.dialect = (enum provider_dialect)((data[0] / 3) % 8);
	prov.base_url = (char *)"http://127.0.0.1:1/v1";
	prov.api_key = fuzz_key;
	prov.stream_usage = 1;
	model.id = (char *)"fuzz-model";
	model.provider = prov.name;
	model.upstream_model = (char *)"fuzz-upstream";
	model.context_window = 128000;
	model.max_output = 8192;
	model.caps = CAP_TOOLS | CAP_JSON | CAP_VISION | CAP_STREAMING |
	    CAP_EMBEDDINGS | CAP_REASONING;
	if ((ops = provider_ops(prov.kind)) == NULL)
		return 0;
	ctx.prov = &prov;
	ctx.model = &model;
	ctx.lim = lim;
	ctx.created = 1800000000;
	memcpy(ctx.request_id, "req_fuzz", 9);
	mode = data[1] % 6;
	secret_ok = (mode == 0 || mode == 4) &&
	    memmem(data, size, fuzz_key, strlen(fuzz_key)) != NULL;
	ctx.stream = (data[1] / 6) & 1;
	ctx.client_usage = (data[1] / 12) & 1;
	p = (const char *)data + 3;
	n = size - 3;
	buf_init(&out, 16 * 1024 * 1024);

	switch (mode) {
	case 0:		/* a client's chat request */
	case 4:		/* a client's embeddings request */
		if (json_parse(&j, p, n, &lim, e, sizeof(e)) != 0 ||
		    json_type(&j, 0) != JSON_OBJECT)
			break;
		if (mode == 4 && ops->embed_encode == NULL)
			break;
		if ((mode == 0 ? ops->chat_encode(&ctx, &j, &ur, &err) :
		    ops->embed_encode(&ctx, &j, &ur, &err)) != 0)
			check_err(&err);
		else {
			FUZZ_CHECK(ur.url != NULL && ur.body != NULL);
			/* What we send must be JSON the source can read. */
			json_free(&j);
			FUZZ_CHECK(json_parse(&j, ur.body, ur.body_len, NULL, e,
			    sizeof(e)) == 0);
		}
		free_req(&ur);
		break;
	case 1:		/* a source's whole chat answer */
	case 5:		/* a source's embeddings answer */
		if (mode == 5 && ops->embed_decode == NULL)
			break;
		if ((mode == 1 ? ops->chat_decode(&ctx, p, n, &out, &pass, &err) :
		    ops->embed_decode(&ctx, p, n, &out, &pass, &err)) != 0)
			check_err(&err);
		else if (!pass)
			FUZZ_CHECK(json_parse(&j, out.data, out.len, NULL, e,
			    sizeof(e)) == 0);
		break;
	case 2:		/* a source's stream */
		ctx.stream = 1;
		memset(&st, 0, sizeof(st));
		st.ctx = &ctx;
		st.ops = ops;
		buf_init(&st.out, 16 * 1024 * 1024);
		sse_parser_init(&sp, 1024 * 1024);
		(void)sse_feed(&sp, p, n, on_event, &st);
		sse_parser_free(&sp);
		/* Answers are relayed as the source wrote them; only our
		 * error messages are checked for the key (check_err). */
		buf_free(&st.out);
		break;
	case 3:		/* a source's error */
		ops->map_error(&ctx, 400 + data[2] % 200, p, n, "1", &err);
		check_err(&err);
		break;
	}
	json_free(&j);
	buf_free(&out);
	if (ops->ctx_free != NULL)
		ops->ctx_free(&ctx);
	return 0;
}
