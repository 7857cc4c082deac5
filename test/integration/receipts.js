/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Receipts: every authenticated chat and embeddings request gets one,
 * errors included; the headers point at it and carry its hash; a stream
 * ends with its cost and hash as comments; GET /v1/receipts/{id} shows it
 * to its project and to the admin key only; it is in the stream
 * nm:receipts, signed with the server secret, with no prompt or answer
 * text; with Redis gone receipts are spooled and all arrive once it is
 * back.  Driven through the official OpenAI SDK and plain HTTP.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('./harness.js');

h.requireBuild();
const OpenAI = h.requirePackage('openai');

const FIELDS = ['id', 'request_id', 'created', 'key_id', 'project', 'team', 'workload',
	'endpoint', 'model_requested', 'model', 'provider', 'serve_mode', 'stream', 'status',
	'error_code', 'usage', 'usage_source', 'billing_basis', 'cost_usd', 'fresh_cost_usd',
	'saved_usd', 'latency_ms', 'ttfb_ms', 'upstream_request_id', 'cache_key', 'policy_rule',
	'attempts', 'signature'];

/* Check a receipt line's signature the way any holder of the secret can. */
function verify(line, secret) {
	const m = /,"signature":"hmac-sha256:([0-9a-f]{64})"\}$/.exec(line);
	if (!m)
		return false;
	const key = crypto.createHmac('sha256', secret).update('nextmodel receipt v1').digest();
	const body = line.slice(0, m.index) + '}';
	const mac = crypto.createHmac('sha256', key).update(body).digest('hex');
	return crypto.timingSafeEqual(Buffer.from(mac), Buffer.from(m[1]));
}

function sha(line) {
	return 'sha256:' + crypto.createHash('sha256').update(line).digest('hex');
}

/* All receipt lines in nm:receipts, by id. */
function streamReceipts(env) {
	const out = env.redisCmd(['XRANGE', 'nm:receipts', '-', '+']).split('\n');
	const by = new Map();
	for (const l of out) {
		if (l.startsWith('{"id":"rcpt_')) {
			const id = JSON.parse(l).id;
			by.set(id, (by.get(id) || []).concat([l]));
		}
	}
	return by;
}

test('receipts', async (t) => {
	const env = await h.startEnv({ workers: 2 });
	try {
		const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0 });

		await t.test('a chat answer: headers, lookup, signature, fields', async () => {
			const { data, response } = await client.chat.completions.create({
			    model: 'mock-gpt', messages: [{ role: 'user', content: 'secret prompt words' }] },
			    { headers: { 'x-nextmodel-workload': 'api.web' } }).withResponse();
			assert.match(data.choices[0].message.content, /secret prompt words/);
			const url = response.headers.get('x-nextmodel-receipt-url');
			const hash = response.headers.get('x-nextmodel-receipt-hash');
			assert.match(url, /^\/v1\/receipts\/rcpt_[0-9a-f]{24}$/);
			assert.match(hash, /^sha256:[0-9a-f]{64}$/);
			const r = await h.getReceipt(env, url);
			assert.equal(r.status, 200, r.text);
			assert.equal(sha(r.text), hash, 'the receipt served is not the one hashed');
			assert.ok(verify(r.text, env.secret), 'bad signature');
			const rc = JSON.parse(r.text);
			assert.deepEqual(Object.keys(rc), FIELDS);
			assert.equal(rc.id, url.split('/').pop());
			assert.equal(rc.request_id, response.headers.get('x-request-id'));
			assert.equal(rc.project, 'test-project');
			assert.equal(rc.team, 't1');
			assert.equal(rc.workload, 'api.web');
			assert.equal(rc.endpoint, '/v1/chat/completions');
			assert.equal(rc.model_requested, 'mock-gpt');
			assert.equal(rc.model, 'mock-gpt');
			assert.equal(rc.provider, 'mock');
			assert.equal(rc.serve_mode, 'fresh');
			assert.equal(rc.stream, false);
			assert.equal(rc.status, 200);
			assert.equal(rc.error_code, null);
			assert.deepEqual(rc.usage, { prompt_tokens: data.usage.prompt_tokens,
			    completion_tokens: data.usage.completion_tokens,
			    total_tokens: data.usage.total_tokens, cached_tokens: 0 });
			assert.equal(rc.usage_source, 'upstream');
			assert.equal(rc.billing_basis, 'list_price');
			assert.equal(rc.cost_usd, response.headers.get('x-nextmodel-cost-usd'));
			assert.equal(rc.cost_usd, h.expectedCost(data.usage, h.defaultModel()));
			assert.equal(rc.fresh_cost_usd, rc.cost_usd);
			assert.equal(rc.saved_usd, '0');
			assert.ok(rc.latency_ms >= 0 && rc.ttfb_ms >= 0 && rc.ttfb_ms <= rc.latency_ms + 1);
			assert.match(rc.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
			assert.ok(Math.abs(Date.parse(rc.created) - Date.now()) < 60000);
			assert.ok(!r.text.includes('secret prompt'), 'prompt text in a receipt');
			assert.ok(!r.text.includes('Echo'), 'answer text in a receipt');
			/* The same line went to the stream. */
			const lines = await h.waitFor(() => streamReceipts(env).get(rc.id), 5000, 50);
			assert.deepEqual(lines, [r.text]);
		});

		await t.test('a stream: cost and hash as the last comments, receipt matches', async () => {
			const { data: stream, response } = await client.chat.completions.create({
			    model: 'mock-gpt', stream: true, stream_options: { include_usage: true },
			    messages: [{ role: 'user', content: 'stream me' }] }).withResponse();
			let text = '';
			let usage = null;
			for await (const c of stream) {
				if (c.choices.length > 0)
					text += c.choices[0].delta.content || '';
				if (c.usage)
					usage = c.usage;
			}
			assert.equal(text, 'Echo: stream me');
			const url = response.headers.get('x-nextmodel-receipt-url');
			assert.match(url, /^\/v1\/receipts\/rcpt_/);
			/* The SDK skips comments: read them over plain HTTP. */
			const s = await env.stream(h.chatBody('stream me', { stream: true }));
			const last = s.events[s.events.length - 2];
			assert.equal(last.comments.length, 2);
			const hash = last.comments[1].replace(': x-nextmodel-receipt-hash: ', '');
			const cost = last.comments[0].replace(': x-nextmodel-cost-usd: ', '');
			const r = await h.getReceipt(env, s.headers['x-nextmodel-receipt-url']);
			assert.equal(r.status, 200);
			assert.equal(sha(r.text), hash);
			const rc = JSON.parse(r.text);
			assert.equal(rc.stream, true);
			assert.equal(rc.status, 200);
			assert.equal(rc.cost_usd, cost);
			assert.equal(rc.usage.total_tokens, usage.total_tokens);
			assert.ok(verify(r.text, env.secret));
		});

		await t.test('errors after the key get receipts; no key, no receipt', async () => {
			let r = await env.chat(h.chatBody('x', { model: 'no-such-model' }));
			assert.equal(r.status, 404);
			let rr = await h.getReceipt(env, r.headers['x-nextmodel-receipt-url']);
			assert.equal(rr.status, 200);
			let rc = JSON.parse(rr.text);
			assert.equal(rc.status, 404);
			assert.equal(rc.error_code, 'model_not_found');
			assert.equal(rc.model_requested, 'no-such-model');
			assert.equal(rc.model, null);
			assert.equal(rc.cost_usd, '0');
			assert.equal(rc.usage_source, 'none');
			assert.equal(rc.billing_basis, 'none');
			assert.equal(sha(rr.text), r.headers['x-nextmodel-receipt-hash']);

			r = await env.chat('{"model": "mock-gpt", "messages": [');
			assert.equal(r.status, 400);
			rr = await h.getReceipt(env, r.headers['x-nextmodel-receipt-url']);
			rc = JSON.parse(rr.text);
			assert.equal(rc.status, 400);
			assert.equal(rc.model_requested, null);

			/* The source's own error. */
			r = await env.chat(h.chatBody('fail please [[mock:status=500]]'));
			assert.equal(r.status, 502);
			rc = JSON.parse((await h.getReceipt(env, r.headers['x-nextmodel-receipt-url'])).text);
			assert.equal(rc.status, 502);
			assert.equal(rc.model, 'mock-gpt');

			r = await h.request(env.url + '/v1/chat/completions', { method: 'POST',
			    body: h.chatBody('hi') });
			assert.equal(r.status, 401);
			assert.equal(r.headers['x-nextmodel-receipt-url'], undefined);
			assert.equal(r.headers['x-nextmodel-receipt-hash'], undefined);
		});

		await t.test('another project sees 404; the admin key sees it', async () => {
			const r = await env.chat(h.chatBody('mine'));
			const url = r.headers['x-nextmodel-receipt-url'];
			assert.equal((await h.getReceipt(env, url)).status, 200);
			const other = env.ctl(['key', 'create', '--project', 'other-project']).stdout.trim();
			const o = await env.get(url, other);
			assert.equal(o.status, 404);
			h.assertErrorShape(o.json, 'other project');
			const a = await env.get(url, env.adminKey);
			assert.equal(a.status, 200);
			assert.equal(sha(a.text), r.headers['x-nextmodel-receipt-hash']);
			assert.equal((await env.get('/v1/receipts/rcpt_' + '0'.repeat(24))).status, 404);
			assert.equal((await env.get('/v1/receipts/../../etc')).status, 404);
			assert.equal((await h.request(env.url + url)).status, 401);
		});

		await t.test('the spend dashboard: one self-contained page over /v1/usage', async () => {
			const r = await h.request(env.url + '/dashboard');
			assert.equal(r.status, 200);
			assert.match(r.headers['content-type'], /^text\/html/);
			assert.match(r.headers['content-security-policy'], /default-src 'self'/);
			assert.match(r.text, /<title>NextModel spend<\/title>/);
			assert.ok(!/(src|href)=["']?(https?:)?\/\//i.test(r.text), 'an outside resource');
			assert.ok(r.text.includes("fetch('/v1/usage?'"), 'it does not read /v1/usage');
			assert.ok(!r.text.includes('nm-') || !/nm-[A-Za-z0-9_-]{43}/.test(r.text),
			    'a key in the page');
		});

		await t.test('Redis gone during traffic: receipts spooled, all arrive after', async () => {
			const ids = [];
			const send = async (n, tag) => {
				for (let i = 0; i < n; i++) {
					const r = await env.chat(h.chatBody(tag + ' ' + i));
					if (r.headers['x-nextmodel-receipt-url'])
						ids.push(r.headers['x-nextmodel-receipt-url'].split('/').pop());
				}
			};
			await send(5, 'before');
			await env.stopRedis();
			/* Keys are cached: requests are still served. */
			const during = ids.length;
			await send(10, 'during');
			assert.ok(ids.length > during, 'nothing was served while Redis was gone');
			await env.restartRedis();
			await send(5, 'after');
			/* Everything not yet in the (new, empty) Redis arrives from the spool. */
			const want = ids.slice(during);
			const got = await h.waitFor(() => {
				const have = streamReceipts(env);
				return want.every((id) => have.has(id)) ? have : false;
			}, 15000, 200);
			assert.ok(got, 'receipts missing after Redis came back: ' +
			    want.filter((id) => !streamReceipts(env).has(id)).join(' '));
			for (const id of want) {
				assert.equal(got.get(id).length, 1, 'receipt ' + id + ' stored twice');
				assert.ok(verify(got.get(id)[0], env.secret));
			}
			const m = (await h.request(env.url + '/metrics')).text;
			assert.match(m, /nextmodel_receipts_spooled_total [1-9]/);
			assert.match(m, /nextmodel_receipts_replayed_total [1-9]/);
			assert.match(m, /nextmodel_receipts_lost_total 0/);
		});
	} finally {
		await env.stop();
	}
});
