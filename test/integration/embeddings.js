/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * POST /v1/embeddings through the official OpenAI SDK: floats, base64 (the
 * SDK's default, decoded by it), dimensions, batches and token ids, against
 * the OpenAI mock, a compatible source that only speaks floats (Mistral: the
 * gateway encodes base64 itself) and Gemini when its wire format is built;
 * then the errors: a chat model, bad input, bad options, no key.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const h = require('./harness.js');

h.requireBuild();
const OpenAI = h.requirePackage('openai');
const mock = require(path.join(h.SRCDIR, 'test', 'mock-source.js'));

/* The mock's vector of text (default 8 dimensions), as float32 values. */
function f32(v) {
	return v.map((x) => Math.fround(x));
}

/* Gemini mock's deterministic values (test/mock/gemini.js embedValues). */
function geminiValues(text, dims) {
	const vals = [];
	let block = Buffer.alloc(0);
	for (let i = 0; vals.length < dims; i++) {
		if (block.length < 4)
			block = crypto.createHash('sha256').update(text + ':' + i).digest();
		const u = block.readUInt32LE(0);
		block = block.subarray(4);
		vals.push(Number(((u / 4294967296) * 2 - 1).toFixed(6)));
	}
	return vals;
}

const EMBED = { input_per_mtok: 0.02, output_per_mtok: 0, context_window: 8192,
    capabilities: ['embeddings'] };

test('embeddings', async (t) => {
	const env = await h.startEnv({
		extraProviders: {
			mistral: { kind: 'openai', api_key_env: 'MOCK_API_KEY', dialect: 'mistral',
			    mock_path: '/mistral/v1' },
			google: { kind: 'gemini', api_key_env: 'MOCK_API_KEY', mock_path: '' },
		},
		extraModels: [
			Object.assign({ id: 'mock-embed', provider: 'mock',
			    upstream_model: 'mock-embed-up' }, EMBED),
			Object.assign({ id: 'mistral-embed', provider: 'mistral' }, EMBED),
			Object.assign({ id: 'gemini-embed', provider: 'google',
			    upstream_model: 'gemini-embedding-001' }, EMBED),
		],
	});
	const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0,
	    timeout: 30000 });
	const post = (body, key) => h.request(env.url + '/v1/embeddings', { method: 'POST',
	    body, headers: env.auth(key) });
	try {
		await t.test('float, one string', async () => {
			const { data, response } = await client.embeddings.create({
				model: 'mock-embed', input: 'hello vectors', encoding_format: 'float',
			}).withResponse();
			assert.equal(data.object, 'list');
			assert.equal(data.data.length, 1);
			assert.deepEqual(data.data[0].embedding, mock.mockVector('hello vectors', 8));
			assert.equal(data.usage.prompt_tokens, 2);
			assert.equal(data.usage.total_tokens, 2);
			assert.equal(response.headers.get('x-nextmodel-serve-mode'), 'fresh');
			assert.equal(response.headers.get('x-nextmodel-model'), 'mock-embed');
			assert.equal(response.headers.get('x-nextmodel-provider'), 'mock');
			assert.match(response.headers.get('x-request-id'), /^req_[0-9a-f]{24}$/);
			/* 2 tokens at 0.02 USD per 1M, as the source counted them */
			assert.equal(response.headers.get('x-nextmodel-usage-source'), 'upstream');
			assert.equal(response.headers.get('x-nextmodel-cost-usd'), '0.00000004');
			const sent = (await env.mockRequests()).pop();
			assert.equal(sent.path, '/v1/embeddings');
			assert.equal(sent.body.model, 'mock-embed-up');
		});

		await t.test('the SDK default (base64, decoded by the SDK)', async () => {
			const r = await client.embeddings.create({ model: 'mock-embed', input: 'abc' });
			assert.deepEqual(r.data[0].embedding, f32(mock.mockVector('abc', 8)));
			assert.equal((await env.mockRequests()).pop().body.encoding_format, 'base64');
		});

		await t.test('base64 asked for: the source\'s bytes', async () => {
			const r = await client.embeddings.create({ model: 'mock-embed', input: 'abc',
			    encoding_format: 'base64' });
			assert.equal(r.data[0].embedding, mock.vectorBase64(mock.mockVector('abc', 8)));
		});

		await t.test('dimensions and a batch, in order', async () => {
			const input = ['one', 'two words', 'three more words'];
			const r = await client.embeddings.create({ model: 'mock-embed', input,
			    dimensions: 16, encoding_format: 'float' });
			assert.equal(r.data.length, 3);
			r.data.forEach((d, i) => {
				assert.equal(d.index, i);
				assert.equal(d.embedding.length, 16);
				assert.deepEqual(d.embedding, mock.mockVector(input[i], 16));
			});
			assert.equal(r.usage.prompt_tokens, 6);
		});

		await t.test('token ids and token-id arrays', async () => {
			let r = await client.embeddings.create({ model: 'mock-embed', input: [1, 2, 3],
			    encoding_format: 'float' });
			assert.deepEqual(r.data[0].embedding, mock.mockVector('1 2 3', 8));
			r = await client.embeddings.create({ model: 'mock-embed', input: [[1, 2], [3]],
			    encoding_format: 'float' });
			assert.equal(r.data.length, 2);
			assert.deepEqual(r.data[1].embedding, mock.mockVector('3', 8));
		});

		await t.test('a float-only source: the gateway encodes base64', async () => {
			const r = await client.embeddings.create({ model: 'mistral-embed',
			    input: ['x y', 'z'], dimensions: 4 });
			assert.deepEqual(r.data[0].embedding, f32(mock.mockVector('x y', 4)));
			assert.deepEqual(r.data[1].embedding, f32(mock.mockVector('z', 4)));
			const sent = (await env.mockRequests()).pop();
			assert.equal(sent.path, '/mistral/v1/embeddings');
			assert.deepEqual(sent.body, { model: 'mistral-embed', input: ['x y', 'z'],
			    output_dimension: 4 });
			const f = await client.embeddings.create({ model: 'mistral-embed', input: 'q',
			    encoding_format: 'float', user: 'u-1' });
			assert.deepEqual(f.data[0].embedding, mock.mockVector('q', 8));
		});

		await t.test('gemini embeddings', async () => {
			const probe = await post({ model: 'gemini-embed', input: 'probe' });
			assert.equal(probe.status, 200, probe.text);
			/* Gemini counts no tokens for embeddings: the gateway estimates
			 * them, and says so. */
			assert.equal(probe.headers['x-nextmodel-usage-source'], 'estimated');
			assert.equal(probe.headers['x-nextmodel-cost-usd'],
			    h.expectedCost(probe.json.usage, Object.assign({}, EMBED)));
			const input = ['first text', 'second text'];
			const fl = await client.embeddings.create({ model: 'gemini-embed', input,
			    dimensions: 12, encoding_format: 'float' });
			assert.equal(fl.data.length, 2);
			fl.data.forEach((d, i) => {
				assert.equal(d.index, i);
				assert.deepEqual(d.embedding, geminiValues(input[i], 12));
			});
			const b = await client.embeddings.create({ model: 'gemini-embed', input,
			    dimensions: 12 });
			assert.deepEqual(b.data[1].embedding, f32(geminiValues(input[1], 12)));
		});

		await t.test('a chat model is a 400 naming it', async () => {
			await assert.rejects(client.embeddings.create({ model: 'mock-gpt', input: 'x' }),
			    (e) => {
				assert.equal(e.status, 400);
				assert.equal(e.param, 'model');
				assert.match(e.message, /mock-gpt/);
				return true;
			});
		});

		await t.test('bad bodies are 400s, and no source is called', async () => {
			const before = (await env.mockRequests()).length;
			const big = Array.from({ length: 2049 }, (x, i) => 'w' + i);
			const cases = [
				[{ model: 'mock-embed' }, 'input'],
				[{ model: 'mock-embed', input: '' }, 'input'],
				[{ model: 'mock-embed', input: [] }, 'input'],
				[{ model: 'mock-embed', input: ['a', ''] }, 'input'],
				[{ model: 'mock-embed', input: ['a', 1] }, 'input'],
				[{ model: 'mock-embed', input: [1, -2] }, 'input'],
				[{ model: 'mock-embed', input: [[1], []] }, 'input'],
				[{ model: 'mock-embed', input: [1.5] }, 'input'],
				[{ model: 'mock-embed', input: { text: 'a' } }, 'input'],
				[{ model: 'mock-embed', input: big }, 'input'],
				[{ model: 'mock-embed', input: 'a', encoding_format: 'hex' }, 'encoding_format'],
				[{ model: 'mock-embed', input: 'a', dimensions: 0 }, 'dimensions'],
				[{ model: 'mock-embed', input: 'a', dimensions: '8' }, 'dimensions'],
				[{ input: 'a' }, 'model'],
				[{ model: 42, input: 'a' }, 'model'],
			];
			for (const [body, param] of cases) {
				const r = await post(body);
				assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
				assert.equal(h.assertErrorShape(r.json).param, param,
				    JSON.stringify(body).slice(0, 80));
			}
			const r = await h.request(env.url + '/v1/embeddings', { method: 'POST',
			    body: '{"model":', headers: env.auth() });
			assert.equal(r.status, 400);
			assert.equal((await env.mockRequests()).length, before);
		});

		await t.test('unknown model 404, no key 401, GET 405', async () => {
			let r = await post({ model: 'nope', input: 'a' });
			assert.equal(r.status, 404);
			assert.equal(r.json.error.code, 'model_not_found');
			r = await h.request(env.url + '/v1/embeddings', { method: 'POST',
			    body: { model: 'mock-embed', input: 'a' } });
			assert.equal(r.status, 401);
			r = await h.request(env.url + '/v1/embeddings', { headers: env.auth() });
			assert.equal(r.status, 405);
			assert.equal(r.headers.allow, 'POST');
		});

		await t.test('source errors are mapped', async () => {
			const r = await post({ model: 'mock-embed', input: 'x [[mock:status=429]]' });
			assert.equal(r.status, 429);
			const r2 = await post({ model: 'mock-embed', input: 'x [[mock:status=500]]' });
			assert.equal(r2.status, 502);
			assert.equal(h.assertErrorShape(r2.json).type, 'upstream_error');
		});
	} finally {
		await env.stop();
	}
});
