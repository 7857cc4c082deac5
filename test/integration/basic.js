/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Basic gateway surface: /healthz, /readyz (and 503 once Redis is gone),
 * /v1/models and /v1/models/{id} with the nextmodel facts, and
 * authentication: missing, unknown and revoked keys, revocation within 5 s.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();

/* "0.60" and "0.6" are the same decimal: compare without trailing zeros. */
function decimal(s) {
	assert.equal(typeof s, 'string', 'price is not a decimal string: ' + JSON.stringify(s));
	assert.match(s, /^\d+(\.\d+)?$/, 'not a plain decimal: ' + s);
	let [i, f] = s.split('.');
	i = i.replace(/^0+(?=\d)/, '');
	f = (f || '').replace(/0+$/, '');
	return f === '' ? i : i + '.' + f;
}

/* Check one /v1/models entry for mock-gpt. */
function checkMockModel(m) {
	assert.equal(m.id, 'mock-gpt');
	assert.equal(m.object, 'model');
	assert.equal(typeof m.created, 'number');
	assert.equal(typeof m.owned_by, 'string');
	const n = m.nextmodel;
	assert.ok(n && typeof n === 'object', 'no nextmodel object: ' + JSON.stringify(m));
	assert.equal(n.provider, 'mock');
	assert.equal(n.upstream_model, 'mock-gpt-upstream');
	assert.equal(decimal(n.input_per_mtok), '0.15');
	assert.equal(decimal(n.output_per_mtok), '0.6');
	assert.equal(decimal(n.cached_input_per_mtok), '0.075');
	/* Not in the test catalog: defaults to the input price. */
	assert.equal(decimal(n.cache_write_per_mtok), '0.15');
	assert.equal(n.context_window, 128000);
	assert.equal(n.max_output, 16384);
	assert.ok(Array.isArray(n.capabilities), 'capabilities is not an array');
	assert.deepEqual([...n.capabilities].sort(), ['json', 'streaming', 'tools', 'vision']);
	assert.equal(n.region, 'global');
	assert.equal(n.latency_ms, 600);
}

/* Assert a 401 with OpenAI's invalid_api_key error. */
function check401(r, what) {
	assert.equal(r.status, 401, what + ': status ' + r.status + ' ' + r.text);
	const err = h.assertErrorShape(r.json, what);
	assert.equal(err.type, 'invalid_request_error', what);
	assert.equal(err.code, 'invalid_api_key', what);
}

test('basic', async (t) => {
	const env = await h.startEnv({
		extraModels: [{
			id: 'mock-cheap', provider: 'mock', upstream_model: 'mock-gpt-mini',
			input_per_mtok: 2.5, output_per_mtok: 10, cached_input_per_mtok: 1.25,
			cache_write_per_mtok: 3.125,
			context_window: 32000, max_output: 4096, capabilities: ['streaming'],
			region: 'cn', latency_ms: 250,
		}],
	});
	try {
		await t.test('healthz', async () => {
			const r = await h.request(env.url + '/healthz');
			assert.equal(r.status, 200);
			assert.deepEqual(r.json, { status: 'ok' });
		});

		await t.test('readyz while redis is up', async () => {
			const r = await h.request(env.url + '/readyz');
			assert.equal(r.status, 200, r.text);
			assert.deepEqual(r.json, { status: 'ready' });
		});

		await t.test('/v1/models list format and nextmodel facts', async () => {
			const r = await env.get('/v1/models');
			assert.equal(r.status, 200, r.text);
			assert.match(r.headers['content-type'] || '', /^application\/json/);
			assert.equal(r.json.object, 'list');
			assert.ok(Array.isArray(r.json.data));
			const ids = r.json.data.map((m) => m.id).sort();
			assert.deepEqual(ids, ['mock-cheap', 'mock-gpt']);
			checkMockModel(r.json.data.find((m) => m.id === 'mock-gpt'));
			const c = r.json.data.find((m) => m.id === 'mock-cheap').nextmodel;
			assert.equal(c.upstream_model, 'mock-gpt-mini');
			assert.equal(decimal(c.input_per_mtok), '2.5');
			assert.equal(decimal(c.output_per_mtok), '10');
			assert.equal(decimal(c.cached_input_per_mtok), '1.25');
			assert.equal(decimal(c.cache_write_per_mtok), '3.125');
			assert.equal(c.region, 'cn');
			assert.deepEqual(c.capabilities, ['streaming']);
			for (const m of r.json.data) {
				for (const k of ['id', 'object', 'created', 'owned_by'])
					assert.ok(k in m, 'model lacks ' + k);
			}
		});

		await t.test('/v1/models/{id}', async () => {
			const r = await env.get('/v1/models/mock-gpt');
			assert.equal(r.status, 200, r.text);
			checkMockModel(r.json);
		});

		await t.test('/v1/models/{unknown} is 404 model_not_found', async () => {
			const r = await env.get('/v1/models/no-such-model');
			assert.equal(r.status, 404, r.text);
			const err = h.assertErrorShape(r.json, '404');
			assert.equal(err.code, 'model_not_found');
			assert.equal(err.type, 'invalid_request_error');
		});

		await t.test('no key, bad keys, wrong scheme -> 401', async () => {
			check401(await h.request(env.url + '/v1/models'), 'no header');
			check401(await env.get('/v1/models', h.randomKey()), 'unknown well-formed key');
			check401(await env.get('/v1/models', 'garbage'), 'malformed key');
			check401(await env.get('/v1/models', env.key + 'x'), 'key with a suffix');
			check401(await h.request(env.url + '/v1/models', {
			    headers: { authorization: 'Basic ' + Buffer.from('u:' + env.key).toString('base64') } }),
			    'Basic scheme');
			check401(await h.request(env.url + '/v1/models/mock-gpt'), '/v1/models/{id}');
			check401(await h.request(env.url + '/v1/chat/completions', {
			    body: h.chatBody('hi') }), 'chat without key');
			check401(await env.chat(h.chatBody('hi'), { key: h.randomKey() }), 'chat, bad key');
			const r = await env.get('/v1/models', h.randomKey());
			assert.ok(!r.text.includes(env.key), 'error text leaks a key');
		});

		await t.test('admin key works', async () => {
			const r = await env.get('/v1/models', env.adminKey);
			assert.equal(r.status, 200, r.text);
		});

		await t.test('revocation bites within 5 s', async () => {
			const name = 'revoke-me-' + process.pid;
			const k = env.ctl(['key', 'create', '--project', 'test-project', '--name', name]);
			assert.equal(k.code, 0, k.stderr);
			const key = k.stdout.trim();
			assert.match(key, /^nm-[A-Za-z0-9_-]{43}$/, 'key create printed ' + JSON.stringify(k.stdout));
			/* Warm every worker's cache with the live key. */
			for (let i = 0; i < 8; i++) {
				const r = await env.get('/v1/models', key);
				assert.equal(r.status, 200, r.text);
			}
			const list = env.ctl(['key', 'list']);
			assert.equal(list.code, 0, list.stderr);
			const line = list.stdout.split('\n').find((l) => l.includes(name));
			assert.ok(line, 'key list does not show ' + name + ':\n' + list.stdout);
			const id = /key_[0-9a-f]{16}/.exec(line);
			assert.ok(id, 'no key id in: ' + line);
			const rv = env.ctl(['key', 'revoke', id[0]]);
			assert.equal(rv.code, 0, rv.stderr);
			const t0 = Date.now();
			let lastOk = -1;
			let after = 0;
			let afterBad = [];
			while (Date.now() - t0 < 7000) {
				const r = await env.get('/v1/models', key);
				const dt = Date.now() - t0;
				if (r.status === 200)
					lastOk = dt;
				else
					assert.equal(r.status, 401, r.text);
				if (dt > 5500) {
					after++;
					if (r.status !== 401)
						afterBad.push(dt);
				}
				await h.sleep(100);
			}
			t.diagnostic('revoked key last accepted at ' + lastOk + ' ms after revoke');
			assert.ok(lastOk < 5500, 'revoked key still accepted ' + lastOk + ' ms after revoke');
			assert.ok(after >= 5, 'too few requests after 5.5 s: ' + after);
			assert.deepEqual(afterBad, []);
			check401(await env.get('/v1/models', key), 'revoked key');
			check401(await env.chat(h.chatBody('hi'), { key }), 'revoked key, chat');
			/* The other key is untouched. */
			assert.equal((await env.get('/v1/models')).status, 200);
		});

		await t.test('readyz is 503 once redis is gone, healthz stays 200', async () => {
			await env.stopRedis();
			const r = await h.waitFor(async () => {
				const x = await h.request(env.url + '/readyz', { timeout: 10000 });
				return x.status === 503 ? x : false;
			}, 10000, 200);
			assert.ok(r, 'readyz never became 503 after redis stopped');
			assert.notEqual(r.json && r.json.status, 'ready');
			const hz = await h.request(env.url + '/healthz');
			assert.equal(hz.status, 200);
		});

		await t.test('with redis gone: known keys still served, unknown keys 503', async () => {
			/* One worker, so the key it has seen is the key it has cached. */
			const e1 = await h.startEnv({ workers: 1 });
			try {
				assert.equal((await e1.chat(h.chatBody('warm up'))).status, 200);
				await e1.stopRedis();
				await h.sleep(2500);	/* past key_cache_ms: the entry is stale */
				for (let i = 0; i < 4; i++) {
					const r = await e1.chat(h.chatBody('redis is down ' + i));
					assert.equal(r.status, 200, 'cached key with redis down: ' + r.text);
				}
				const t0 = Date.now();
				const r = await e1.chat(h.chatBody('who am I'), { key: h.randomKey() });
				assert.equal(r.status, 503, 'unknown key with redis down: ' + r.text);
				assert.equal(h.assertErrorShape(r.json, 'auth down').code, 'auth_unavailable');
				assert.ok(Date.now() - t0 < 5000, 'the answer took ' + (Date.now() - t0) + ' ms');
			} finally {
				await e1.stop();
			}
		});
	} finally {
		await env.stop();
	}
});
