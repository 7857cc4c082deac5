/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Hostile and malformed input: an oversized body (413), malformed JSON of
 * many kinds and invalid request shapes (400 invalid_request_error), an
 * oversized header (a 4xx); afterwards the gateway still answers and no
 * worker died.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const h = require('./harness.js');

h.requireBuild();

const MIB = 1024 * 1024;

/* A valid message list as JSON text. */
const MSGS = '[{"role":"user","content":"hi"}]';

/* Bodies that must each be refused with 400 invalid_request_error. */
const BAD_BODIES = [
	['empty body', ''],
	['not JSON', 'hello'],
	['truncated JSON', '{"model":"mock-gpt","messages":' + MSGS.slice(0, 12)],
	['trailing garbage', '{"model":"mock-gpt","messages":' + MSGS + '} x'],
	['two documents', '{"model":"mock-gpt","messages":' + MSGS + '}{}'],
	['trailing comma', '{"model":"mock-gpt","messages":' + MSGS + ',}'],
	['single quotes', '{\'model\':\'mock-gpt\',"messages":' + MSGS + '}'],
	['comment', '{"model":"mock-gpt", /* c */ "messages":' + MSGS + '}'],
	['duplicated key', '{"model":"mock-gpt","model":"mock-gpt","messages":' + MSGS + '}'],
	['duplicated nested key', '{"model":"mock-gpt","messages":[{"role":"user","role":"user",' +
	    '"content":"hi"}]}'],
	['depth 200', '{"model":"mock-gpt","messages":' + MSGS + ',"metadata":' +
	    '['.repeat(200) + ']'.repeat(200) + '}'],
	['depth 200 objects', '{"model":"mock-gpt","messages":' + MSGS + ',"x":' +
	    '{"a":'.repeat(200) + '1' + '}'.repeat(200) + '}'],
	['bad escape \\x', '{"model":"mock-gpt","messages":[{"role":"user","content":"a\\x41"}]}'],
	['bad escape \\u', '{"model":"mock-gpt","messages":[{"role":"user","content":"a\\u12G4"}]}'],
	['short \\u', '{"model":"mock-gpt","messages":[{"role":"user","content":"a\\u12"}]}'],
	['raw control char', '{"model":"mock-gpt","messages":[{"role":"user","content":"a\u0001b"}]}'],
	['raw newline in string', '{"model":"mock-gpt","messages":[{"role":"user","content":"a\nb"}]}'],
	['bad number 01', '{"model":"mock-gpt","messages":' + MSGS + ',"temperature":01}'],
	['bad number 1.', '{"model":"mock-gpt","messages":' + MSGS + ',"temperature":1.}'],
	['bad number .5', '{"model":"mock-gpt","messages":' + MSGS + ',"temperature":.5}'],
	['bad number +1', '{"model":"mock-gpt","messages":' + MSGS + ',"temperature":+1}'],
	['NaN', '{"model":"mock-gpt","messages":' + MSGS + ',"temperature":NaN}'],
	['bad literal', '{"model":"mock-gpt","messages":' + MSGS + ',"stream":tru}'],
	['top-level array', '[{"model":"mock-gpt","messages":' + MSGS + '}]'],
	['top-level string', '"mock-gpt"'],
	['missing model', '{"messages":' + MSGS + '}'],
	['model not a string', '{"model":42,"messages":' + MSGS + '}'],
	['missing messages', '{"model":"mock-gpt"}'],
	['empty messages', '{"model":"mock-gpt","messages":[]}'],
	['messages not an array', '{"model":"mock-gpt","messages":{"role":"user","content":"hi"}}'],
	['messages null', '{"model":"mock-gpt","messages":null}'],
	['stream is a string', '{"model":"mock-gpt","messages":' + MSGS + ',"stream":"true"}'],
	['stream is a number', '{"model":"mock-gpt","messages":' + MSGS + ',"stream":1}'],
];

/* Bodies with invalid UTF-8 bytes inside a string (Buffers). */
function badUtf8Bodies() {
	const pre = Buffer.from('{"model":"mock-gpt","messages":[{"role":"user","content":"a');
	const post = Buffer.from('b"}]}');
	const seqs = [
		['invalid UTF-8 0xff', [0xff]],
		['invalid UTF-8 lone continuation', [0x80]],
		['invalid UTF-8 overlong /', [0xc0, 0xaf]],
		['invalid UTF-8 truncated sequence', [0xe2, 0x82]],
		['invalid UTF-8 surrogate', [0xed, 0xa0, 0x80]],
		['invalid UTF-8 above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
	];
	return seqs.map(([name, bytes]) => [name, Buffer.concat([pre, Buffer.from(bytes), post])]);
}

/* POST raw bytes to the chat endpoint with the test key. */
function postRaw(env, body, headers) {
	return h.request(env.url + '/v1/chat/completions', { method: 'POST', body,
	    headers: Object.assign({ 'content-type': 'application/json' }, env.auth(), headers || {}) });
}

/*
 * Send a request with a body larger than the limit through a raw socket and
 * return everything that came back.  With expect, the client sends
 * "Expect: 100-continue" and only writes the body after "100 Continue" (as
 * curl does for large bodies); with 'chunked' it streams a chunked body and
 * stops writing as soon as an answer arrives.
 */
function rawOversized(env, how) {
	return new Promise((resolve) => {
		const s = net.connect({ port: env.port, host: '127.0.0.1' });
		let got = '';
		const size = Math.floor(1.5 * MIB);
		const filler = Buffer.alloc(16 * 1024, 'a');
		let sent = 0;
		const more = () => {
			while (sent < size && !s.destroyed && got === '') {
				const n = Math.min(filler.length, size - sent);
				const piece = filler.subarray(0, n);
				sent += n;
				const ok = how === 'chunked' ? s.write(n.toString(16) + '\r\n' +
				    piece.toString('latin1') + '\r\n', 'latin1') : s.write(piece);
				if (!ok) {
					s.once('drain', more);
					return;
				}
			}
			if (how === 'chunked' && sent >= size && !s.destroyed && got === '')
				s.write('0\r\n\r\n');
		};
		s.on('connect', () => {
			let head = 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n' +
			    'authorization: Bearer ' + env.key + '\r\ncontent-type: application/json\r\n';
			head += how === 'chunked' ? 'transfer-encoding: chunked\r\n' :
			    'content-length: ' + size + '\r\n';
			if (how === 'expect')
				head += 'expect: 100-continue\r\n';
			s.write(head + '\r\n');
			if (how !== 'expect')
				more();
		});
		s.on('data', (d) => {
			got += d.toString('latin1');
			if (how === 'expect' && /^HTTP\/1\.1 100 /.test(got)) {
				got = got.replace(/^HTTP\/1\.1 100 [^\r]*\r\n\r\n/, '');
				more();
			}
		});
		s.on('error', (e) => {
			got += got === '' ? 'socket error ' + e.code : '';
		});
		s.on('close', () => resolve(got));
		setTimeout(() => s.destroy(), 10000);
	});
}

test('limits', async (t) => {
	/* A model whose context window holds a body near the limit. */
	const long = Object.assign(h.defaultModel(), { id: 'mock-long', context_window: 1000000 });
	const env = await h.startEnv({ max_body_bytes: MIB, max_header_bytes: 16384, workers: 2,
	    extraModels: [long] });
	try {
		const workersBefore = env.workers();
		assert.ok(workersBefore.length === 2, 'expected 2 workers: ' + workersBefore);

		await t.test('body over max_body_bytes -> 413 request_too_large', async () => {
			const big = JSON.stringify(h.chatBody('x'.repeat(Math.floor(1.5 * MIB))));
			let r;
			try {
				r = await postRaw(env, big);
			} catch (e) {
				assert.fail('no answer to an oversized body (' + e.code + ')');
			}
			assert.equal(r.status, 413, r.text.slice(0, 300));
			const err = h.assertErrorShape(r.json, '413');
			assert.equal(err.code, 'request_too_large');
		});

		await t.test('body just under the limit is accepted', async () => {
			const body = JSON.stringify(h.chatBody('y'.repeat(MIB - 4096), { model: 'mock-long' }));
			const r = await postRaw(env, body);
			assert.equal(r.status, 200, r.text.slice(0, 300));
		});

		await t.test('the same body is too long for a 128k context window: 400', async () => {
			/* About 262k estimated tokens: refused before any call, as quotes say. */
			const body = JSON.stringify(h.chatBody('y'.repeat(MIB - 4096)));
			const r = await postRaw(env, body);
			assert.equal(r.status, 400, r.text.slice(0, 300));
			const err = h.assertErrorShape(r.json, 'context');
			assert.equal(err.code, 'context_length_exceeded');
			assert.equal(err.param, 'messages');
			assert.match(err.message, /context window of 128000 tokens/);
		});

		await t.test('oversized body with Expect: 100-continue -> 413', async () => {
			const got = await rawOversized(env, 'expect');
			assert.match(got, /^HTTP\/1\.[01] 413 /, 'got: ' + got.slice(0, 200));
		});

		await t.test('oversized body sent by fetch (as the SDK does) -> 413', async () => {
			const r = await fetch(env.url + '/v1/chat/completions', { method: 'POST',
			    headers: Object.assign({ 'content-type': 'application/json' }, env.auth()),
			    body: JSON.stringify(h.chatBody('z'.repeat(Math.floor(1.5 * MIB)))) });
			assert.equal(r.status, 413);
			const err = h.assertErrorShape(await r.json(), '413 fetch');
			assert.equal(err.code, 'request_too_large');
		});

		await t.test('oversized chunked body -> 413', async () => {
			const got = await rawOversized(env, 'chunked');
			assert.match(got, /^HTTP\/1\.[01] 413 /, 'got: ' + got.slice(0, 200));
		});

		for (const [name, body] of BAD_BODIES.concat(badUtf8Bodies())) {
			await t.test('400: ' + name, async () => {
				const r = await postRaw(env, body);
				assert.equal(r.status, 400, name + ': ' + r.status + ' ' + r.text.slice(0, 300));
				const err = h.assertErrorShape(r.json, name);
				assert.equal(err.type, 'invalid_request_error', name);
			});
		}

		await t.test('the mock saw none of the bad bodies', async () => {
			const log = await env.mockRequests();
			const bad = log.filter((r) => r.raw.includes('"role":"user","role"') ||
			    r.raw.includes('[[[['));
			assert.deepEqual(bad, []);
		});

		await t.test('header over max_header_bytes -> 4xx, worker survives', async () => {
			const r = await new Promise((resolve) => {
				const req = http.request(env.url + '/v1/models', { agent: false,
				    headers: Object.assign({ 'x-filler': 'f'.repeat(40000) }, env.auth()) });
				req.on('response', (res) => {
					res.resume();
					res.on('end', () => resolve({ status: res.statusCode }));
				});
				req.on('error', (e) => resolve({ error: e.code }));
				req.end();
			});
			assert.ok(r.status >= 400 && r.status < 500,
			    'oversized header got ' + JSON.stringify(r));
		});

		await t.test('many headers -> handled', async () => {
			const headers = env.auth();
			for (let i = 0; i < 500; i++)
				headers['x-h' + i] = 'v';
			let r;
			try {
				r = await h.request(env.url + '/v1/models', { headers });
			} catch (e) {
				r = { status: 0, error: e.code };
			}
			assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500),
			    'many headers got ' + JSON.stringify(r.status || r.error));
		});

		await t.test('garbage request line -> 400, worker survives', async () => {
			const got = await new Promise((resolve) => {
				const s = net.connect({ port: env.port, host: '127.0.0.1' });
				let buf = '';
				s.on('connect', () => s.write('\x00\x01GARBAGE / HTTP/9.9\r\n\r\n'));
				s.on('data', (d) => {
					buf += d.toString('latin1');
				});
				s.on('error', () => {});
				s.on('close', () => resolve(buf));
				setTimeout(() => s.destroy(), 5000);
			});
			assert.ok(got === '' || /^HTTP\/1\.[01] 4\d\d /.test(got), 'got: ' + got.slice(0, 100));
		});

		await t.test('still serving, no worker died', async () => {
			const r = await env.chat(h.chatBody('after the abuse'));
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.choices[0].message.content, 'Echo: after the abuse');
			const hz = await h.request(env.url + '/healthz');
			assert.equal(hz.status, 200);
			assert.deepEqual(env.workers(), workersBefore, 'worker pids changed: a worker crashed; log:\n' +
			    env.log().slice(-2000));
			assert.ok(env.gateway.exitCode === null, 'the master exited');
		});
	} finally {
		await env.stop();
	}
});
