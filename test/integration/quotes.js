/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * POST /v1/quotes and nextmodelctl models on a catalog of several models:
 * the ranking (expected cost, then latency), exclusions for tools, images,
 * output and context limits and embeddings, the requested model marked,
 * exact decimal money, no source called, and the same answer from the
 * command line as a table and as JSON.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

h.requireBuild();

const ALL = ['tools', 'json', 'vision', 'streaming'];
const MODELS = [
	{ id: 'q-cheap', provider: 'mock', input_per_mtok: 0.05, output_per_mtok: 0.2,
	    context_window: 32000, max_output: 4096, capabilities: ['streaming'],
	    latency_ms: 900, region: 'cn' },
	{ id: 'q-tools', provider: 'mock', input_per_mtok: 0.1, output_per_mtok: 0.4,
	    context_window: 64000, max_output: 8192, capabilities: ['tools', 'json', 'streaming'],
	    latency_ms: 400 },
	{ id: 'q-vision', provider: 'mock', input_per_mtok: 1, output_per_mtok: 2,
	    context_window: 200000, max_output: 32000, capabilities: ALL, latency_ms: 1200 },
	{ id: 'q-small-ctx', provider: 'mock', input_per_mtok: 0.01, output_per_mtok: 0.01,
	    context_window: 600, max_output: 600, capabilities: ALL, latency_ms: 100 },
	{ id: 'q-embed', provider: 'mock', input_per_mtok: 0.02, output_per_mtok: 0,
	    context_window: 8192, capabilities: ['embeddings'] },
];

const HELLO = { messages: [{ role: 'user', content: 'Hello, world!' }] };
const VISION = {
	model: 'q-vision',
	messages: [{ role: 'user', content: [{ type: 'text', text: 'Describe' },
	    { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
	tools: [{ type: 'function', function: { name: 'f' } }],
	max_tokens: 1000,
};

test('quotes', async (t) => {
	const env = await h.startEnv({ extraModels: MODELS });
	const quote = (body, key) => h.request(env.url + '/v1/quotes', { method: 'POST', body,
	    headers: env.auth(key) });
	try {
		await t.test('a plain prompt: every chat model, cheapest first', async () => {
			const before = (await env.mockRequests()).length;
			const r = await quote(HELLO);
			assert.equal(r.status, 200, r.text);
			assert.match(r.headers['content-type'], /^application\/json/);
			const q = r.json;
			assert.equal(q.object, 'list');
			assert.equal(q.estimated_input_tokens, 11);
			assert.equal(q.max_tokens, null);
			assert.deepEqual(q.required_capabilities, []);
			assert.deepEqual(q.data.map((m) => m.model),
			    ['q-small-ctx', 'q-cheap', 'q-tools', 'mock-gpt', 'q-vision']);
			assert.deepEqual(q.data.map((m) => m.expected_cost_usd),
			    ['0.00000511', '0.00010055', '0.0002011', '0.00030165', '0.001011']);
			assert.deepEqual(q.data.map((m) => m.worst_case_cost_usd),
			    ['0.000006', '0.00081975', '0.0032779', '0.00983205', '0.064011']);
			assert.deepEqual(q.data[3], {
				model: 'mock-gpt', provider: 'mock', region: 'global', latency_ms: 600,
				input_per_mtok: '0.15', output_per_mtok: '0.6',
				worst_case_cost_usd: '0.00983205', expected_cost_usd: '0.00030165',
				max_output: 16384, context_window: 128000,
				worst_case_output_tokens: 16384, expected_output_tokens: 500,
			});
			assert.deepEqual(q.excluded, [{ model: 'q-embed', provider: 'mock',
			    reason: 'an embeddings model' }]);
			/* Money is text, never a binary float. */
			assert.match(r.text, /"expected_cost_usd":"0\.00000511"/);
			assert.equal((await env.mockRequests()).length, before, 'a source was called');
		});

		await t.test('tools and an image: only models that can', async () => {
			const q = (await quote(VISION)).json;
			assert.equal(q.estimated_input_tokens, 786);
			assert.equal(q.max_tokens, 1000);
			assert.deepEqual(q.required_capabilities, ['tools', 'vision']);
			assert.deepEqual(q.data.map((m) => [m.model, m.expected_cost_usd,
			    m.worst_case_cost_usd, m.requested === true]), [
				['mock-gpt', '0.0004179', '0.0007179', false],
				['q-vision', '0.001786', '0.002786', true],
			]);
			assert.deepEqual(q.excluded.map((x) => [x.model, x.reason]), [
				['q-cheap', 'does not support tools'],
				['q-tools', 'does not accept images'],
				['q-small-ctx', 'writes at most 600 output tokens, 1000 asked'],
				['q-embed', 'an embeddings model'],
			]);
		});

		await t.test('a long prompt: small context windows drop out', async () => {
			const q = (await quote({ messages: [{ role: 'user', content: 'a'.repeat(2400) }],
			    max_tokens: 100, stream: true })).json;
			assert.equal(q.estimated_input_tokens, 607);
			assert.deepEqual(q.required_capabilities, ['streaming']);
			assert.ok(!q.data.some((m) => m.model === 'q-small-ctx'));
			assert.deepEqual(q.excluded.find((x) => x.model === 'q-small-ctx'),
			    { model: 'q-small-ctx', provider: 'mock', reason: 'context window of 600 ' +
			    'tokens is too small for about 607 input + 100 output tokens' });
		});

		await t.test('a model not in the catalog is listed as such', async () => {
			const q = (await quote(Object.assign({ model: 'gpt-nope' }, HELLO))).json;
			assert.equal(q.data.length, 5);
			assert.deepEqual(q.excluded[q.excluded.length - 1], { model: 'gpt-nope',
			    provider: null, reason: 'not in the catalog', requested: true });
		});

		await t.test('errors: key, body, method', async () => {
			let r = await h.request(env.url + '/v1/quotes', { method: 'POST', body: HELLO });
			assert.equal(r.status, 401);
			for (const [body, msg] of [[{}, /messages/], [{ messages: [] }, /messages/],
			    [Object.assign({ max_tokens: 0 }, HELLO), /max_tokens/],
			    [Object.assign({ n: 0 }, HELLO), /'n'/],
			    [Object.assign({ model: 7 }, HELLO), /model/]]) {
				r = await quote(body);
				assert.equal(r.status, 400, JSON.stringify(body));
				assert.match(h.assertErrorShape(r.json).message, msg);
			}
			r = await h.request(env.url + '/v1/quotes', { method: 'POST', body: '[1,',
			    headers: env.auth() });
			assert.equal(r.status, 400);
			r = await h.request(env.url + '/v1/quotes', { headers: env.auth() });
			assert.equal(r.status, 405);
			assert.equal(r.headers.allow, 'POST');
		});

		await t.test('nextmodelctl models --format json = POST /v1/quotes', async () => {
			const file = path.join(env.tmp, 'vision.json');
			fs.writeFileSync(file, JSON.stringify(VISION));
			const c = env.ctl(['models', '--request', file, '--format', 'json']);
			assert.equal(c.code, 0, c.stderr);
			assert.deepEqual(JSON.parse(c.stdout), (await quote(VISION)).json);
		});

		await t.test('nextmodelctl models: the table', async () => {
			const file = path.join(env.tmp, 'hello.json');
			fs.writeFileSync(file, JSON.stringify(HELLO));
			let c = env.ctl(['models', '--request', file]);
			assert.equal(c.code, 0, c.stderr);
			const lines = c.stdout.split('\n');
			assert.equal(lines[0], 'estimated input tokens: 11; output: up to each ' +
			    'model\'s maximum; needs: nothing special');
			assert.match(lines[1], /^MODEL +PROVIDER +REGION +LATENCY_MS +INPUT\/MTOK +OUTPUT\/MTOK +EXPECTED_USD +WORST_USD +CONTEXT$/);
			const rows = lines.slice(2, 7).map((l) => l.trim().split(/ +/));
			assert.deepEqual(rows.map((r) => r[0]),
			    ['q-small-ctx', 'q-cheap', 'q-tools', 'mock-gpt', 'q-vision']);
			assert.deepEqual(rows[3], ['mock-gpt', 'mock', 'global', '600', '0.15', '0.6',
			    '0.00030165', '0.00983205', '128000']);
			assert.equal(lines[7], 'excluded:');
			assert.equal(lines[8], '  q-embed (mock): an embeddings model');

			c = env.ctl(['models', '--request', file, '--sort', 'latency']);
			assert.deepEqual(c.stdout.split('\n').slice(2, 7).map((l) => l.split(' ')[0]),
			    ['q-small-ctx', 'q-tools', 'mock-gpt', 'q-cheap', 'q-vision']);

			c = env.ctl(['models', '--region', 'cn', '--format', 'json']);
			assert.equal(c.code, 0, c.stderr);
			const q = JSON.parse(c.stdout);
			assert.equal(q.estimated_input_tokens, 1000);
			assert.equal(q.max_tokens, 1000);
			assert.deepEqual(q.data.map((m) => m.model), ['q-cheap']);
			assert.equal(q.data[0].expected_cost_usd, '0.00015');
			assert.equal(q.data[0].worst_case_cost_usd, '0.00025');
			assert.ok(q.excluded.some((x) => x.model === 'mock-gpt' &&
			    x.reason === 'region global, not cn'));

			assert.equal(env.ctl(['models', '--sort', 'cost']).code, 2);
			assert.equal(env.ctl(['models', '--format', 'xml']).code, 2);
			assert.equal(env.ctl(['models', 'extra']).code, 2);
			c = env.ctl(['models', '--request', path.join(env.tmp, 'missing.json')]);
			assert.equal(c.code, 1);
			assert.match(c.stderr, /missing\.json: No such file or directory/);
			fs.writeFileSync(path.join(env.tmp, 'bad.json'), '{"messages":[]}');
			c = env.ctl(['models', '--request', path.join(env.tmp, 'bad.json')]);
			assert.equal(c.code, 1);
			assert.match(c.stderr, /bad\.json: 'messages' must be a non-empty array/);
		});
	} finally {
		await env.stop();
	}
});
