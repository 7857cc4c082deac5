/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Source failures as the client sees them: 5xx -> 502, 429 passed with
 * retry-after, 400 with the source's message, a rejected provider key ->
 * 502 that never shows the key, timeouts -> 504, and streams that hang,
 * break or carry an error event ending with an error event, never [DONE].
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();

/* A provider key the mock rejects (it accepts only "mock-..." keys). */
const BAD_KEY = 'sk-abSECRETprovider0KEY9material7wxyz';

/*
 * Assert an upstream_error 502.  code: the expected error code; a source
 * that rejects the gateway's own credentials is "upstream_auth_failed", so
 * operators can tell a misconfigured key from a failing source.
 */
function check502(r, what, code) {
	assert.equal(r.status, 502, what + ': status ' + r.status + ' ' + (r.text || r.raw || ''));
	const err = h.assertErrorShape(r.json, what);
	assert.equal(err.type, 'upstream_error', what);
	assert.equal(err.code, code || 'upstream_error', what);
	return err;
}

/* Assert a stream that ended with an error event and no [DONE]. */
function checkStreamError(s, what) {
	assert.equal(s.status, 200, what + ': status ' + s.status);
	assert.equal(s.done, false, what + ': the stream ended with data: [DONE]');
	const data = s.events.filter((e) => e.data !== null);
	assert.ok(data.length > 0, what + ': no events at all');
	const last = data[data.length - 1];
	assert.ok(last.json && last.json.error, what + ': the last event is not an error: ' +
	    last.data + '\nraw tail: ' + s.raw.slice(-400));
	assert.equal(typeof last.json.error.message, 'string', what);
	assert.ok(last.json.error.message.length > 0, what);
	assert.ok(!s.raw.includes('[DONE]'), what + ': [DONE] appears in the stream');
	return last.json.error;
}

/* Does text contain the provider key or a visible fragment of it? */
function leaks(text, key) {
	const frags = [key, key.slice(0, 5), key.slice(-4), key.slice(5, 15), 'SECRET'];
	return frags.filter((f) => text.includes(f));
}

test('errors', async (t) => {
	const env = await h.startEnv({
		timeout_ms: 1500,
		idle_timeout_ms: 1500,
		extraProviders: {
			badkey: { kind: 'openai', api_key_env: 'MOCK_BAD_KEY' },
		},
		extraModels: [{
			id: 'badkey-gpt', provider: 'badkey', upstream_model: 'mock-gpt-upstream',
			input_per_mtok: 1, output_per_mtok: 2, context_window: 8192,
			capabilities: ['tools', 'json', 'streaming'], region: 'global', latency_ms: 100,
		}],
		env: { MOCK_BAD_KEY: BAD_KEY },
	});
	try {
		await t.test('source 500 -> 502 upstream_error', async () => {
			check502(await env.chat(h.chatBody('boom [[mock:status=500]]')), '500');
		});

		await t.test('source 503 -> 502 upstream_error', async () => {
			check502(await env.chat(h.chatBody('busy [[mock:status=503]]')), '503');
		});

		await t.test('source 429 -> 429 with retry-after', async () => {
			const r = await env.chat(h.chatBody('slow down [[mock:status=429]]'));
			assert.equal(r.status, 429, r.text);
			h.assertErrorShape(r.json, '429');
			assert.ok(r.headers['retry-after'], 'no retry-after header');
			assert.match(r.headers['retry-after'], /^\d+$/);
			assert.ok(Number(r.headers['retry-after']) >= 1);
		});

		await t.test('source 400 -> 400 carrying the source message', async () => {
			const r = await env.chat(h.chatBody('bad [[mock:status=400]]'));
			assert.equal(r.status, 400, r.text);
			const err = h.assertErrorShape(r.json, '400');
			assert.equal(err.type, 'invalid_request_error');
			assert.ok(err.message.includes('mock-source: invalid parameter \'temperature\''),
			    'source message not carried: ' + err.message);
		});

		await t.test('source 401 (bad provider key) -> 502 without the key', async () => {
			const r = await env.chat({ model: 'badkey-gpt', messages: [{ role: 'user',
			    content: 'hello' }] });
			const all = r.text + JSON.stringify(r.headers);
			assert.deepEqual(leaks(all, BAD_KEY), [], 'the answer shows the provider key: ' + all);
			assert.ok(!all.includes('****'), 'the answer relays the masked key: ' + all);
			check502(r, 'provider 401', 'upstream_auth_failed');
			/* The mock did reject it. */
			const log = await env.mockRequests();
			assert.ok(log.length > 0);
		});

		await t.test('source 401 on a stream -> no key either', async () => {
			const s = await env.stream({ model: 'badkey-gpt', stream: true,
			    messages: [{ role: 'user', content: 'hello' }] });
			const all = s.raw + JSON.stringify(s.headers);
			assert.deepEqual(leaks(all, BAD_KEY), [], 'the stream shows the key: ' + all);
			assert.ok(!all.includes('****'), all);
			assert.ok(s.status === 502 || (s.status === 200 && s.error && !s.done),
			    'unexpected answer ' + s.status + ' ' + s.raw);
		});

		await t.test('source 401 relayed message never shows our mock key', async () => {
			const r = await env.chat(h.chatBody('who am i [[mock:status=401]]'));
			const all = r.text + JSON.stringify(r.headers);
			for (const f of [env.mockKey, 'mock-key', '****-123', '****'])
				assert.ok(!all.includes(f), 'answer contains ' + f + ': ' + all);
			check502(r, 'mock 401', 'upstream_auth_failed');
		});

		await t.test('source timeout -> 504 upstream_timeout', async () => {
			const t0 = Date.now();
			const r = await env.chat(h.chatBody('never [[mock:hang]]'), { timeout: 20000 });
			const dt = Date.now() - t0;
			assert.equal(r.status, 504, r.text);
			const err = h.assertErrorShape(r.json, '504');
			assert.equal(err.code, 'upstream_timeout');
			t.diagnostic('504 after ' + dt + ' ms (timeout_ms 1500)');
			assert.ok(dt >= 1400, '504 came before the timeout: ' + dt + ' ms');
			assert.ok(dt < 8000, '504 came late: ' + dt + ' ms');
		});

		await t.test('stream: source never answers -> 504 before any byte', async () => {
			const t0 = Date.now();
			const s = await env.stream(h.chatBody('never [[mock:hang]]', { stream: true }),
			    { timeout: 20000 });
			const dt = Date.now() - t0;
			t.diagnostic('stream 504 after ' + dt + ' ms');
			assert.equal(s.status, 504, 'status ' + s.status + ' ' + s.raw.slice(0, 300));
			const err = h.assertErrorShape(s.json, 'stream 504');
			assert.equal(err.code, 'upstream_timeout');
			assert.ok(dt >= 1400 && dt < 8000, '504 after ' + dt + ' ms');
		});

		await t.test('stream stall -> error event, no [DONE]', async () => {
			const t0 = Date.now();
			const s = await env.stream(h.chatBody('stall [[mock:hang_after=2]]',
			    { stream: true }), { timeout: 20000 });
			const dt = Date.now() - t0;
			assert.notEqual(s.ended, 'CLIENT_TIMEOUT', 'the gateway never ended the stream');
			checkStreamError(s, 'hang_after');
			t.diagnostic('stalled stream ended after ' + dt + ' ms (idle_timeout_ms 1500)');
			assert.ok(dt >= 1400 && dt < 8000, 'stall ended after ' + dt + ' ms');
			/* The two chunks before the stall reached the client. */
			assert.ok(s.events.filter((e) => e.json && e.json.choices).length >= 2);
		});

		await t.test('stream broken by the source -> error event, no [DONE]', async () => {
			const s = await env.stream(h.chatBody('break [[mock:break_after=2]]',
			    { stream: true }), { timeout: 20000 });
			checkStreamError(s, 'break_after');
		});

		await t.test('error event from the source relayed, no [DONE]', async () => {
			const s = await env.stream(h.chatBody('fail later [[mock:error_event]]',
			    { stream: true }), { timeout: 20000 });
			checkStreamError(s, 'error_event');
			assert.ok(s.events.filter((e) => e.json && e.json.choices).length >= 1,
			    'the chunk before the error was lost');
		});

		await t.test('source 500 on a stream -> 502 before any byte', async () => {
			const s = await env.stream(h.chatBody('boom [[mock:status=500]]',
			    { stream: true }));
			check502(s, 'stream 500');
		});

		await t.test('truncated body -> 502, never a 200', async () => {
			const r = await env.chat(h.chatBody('cut [[mock:cut_body]]'), { timeout: 20000 });
			check502(r, 'cut_body');
		});

		await t.test('unknown model -> 404 model_not_found', async () => {
			const r = await env.chat({ model: 'no-such-model', messages: [{ role: 'user',
			    content: 'hi' }] });
			assert.equal(r.status, 404, r.text);
			const err = h.assertErrorShape(r.json, '404');
			assert.equal(err.code, 'model_not_found');
			const s = await env.stream({ model: 'no-such-model', stream: true,
			    messages: [{ role: 'user', content: 'hi' }] });
			assert.equal(s.status, 404);
		});

		await t.test('still healthy after all of it', async () => {
			const r = await env.chat(h.chatBody('still here'));
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.choices[0].message.content, 'Echo: still here');
		});

		await t.test('no provider key in the log', async () => {
			const log = env.log();
			assert.ok(!log.includes(BAD_KEY), 'the log contains the bad provider key');
			assert.ok(!log.includes(env.mockKey), 'the log contains the mock provider key');
			assert.ok(!log.includes(env.key), 'the log contains a client key');
		});
	} finally {
		await env.stop();
	}
});
