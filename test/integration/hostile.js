/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Hostile requests, one table (issue 11, "Beyond the list"): each is
 * answered with the right 4xx in OpenAI's error shape, the worker stays
 * (same pid), and under the sanitizer build the log holds no report
 * (the harness fails the test on one).  Add rows as new paths land.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const raw = require('./rawhttp.js');

h.requireBuild();

const LIMIT = 65536;

/* A chat body with these fields over a valid one. */
function chat(extra) {
	return JSON.stringify(h.chatBody('hello', extra));
}

/* Pad a JSON text with spaces to exactly n bytes. */
function padTo(text, n) {
	return text + ' '.repeat(n - Buffer.byteLength(text));
}

const bodies = [
	{ what: 'huge number', status: 400, body: chat().replace('{', '{"max_tokens":1e400,') },
	{ what: 'huge integer', status: 400, body: chat().replace('{', '{"max_tokens":123456789012345678901234567890,') },
	{ what: 'negative max_tokens', status: 400, body: chat({ max_tokens: -1 }) },
	{ what: 'deep nesting', status: 400, body: '['.repeat(20000) + ']'.repeat(20000) },
	{ what: 'deep nesting in a field', status: 400,
	    body: chat().replace('{', '{"metadata":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5000) + ',') },
	{ what: 'invalid UTF-8', status: 400, body: Buffer.concat([Buffer.from(chat().slice(0, -4)),
	    Buffer.from([0xff, 0xfe, 0xc0, 0x80]), Buffer.from('"}]}')]) },
	{ what: 'raw NUL byte', status: 400, body: Buffer.from(chat().replace('hello', 'he\u0000llo'), 'latin1') },
	{ what: 'duplicated key', status: 400, body: chat().replace('{', '{"model":"mock-gpt",') },
	{ what: 'messages a string', status: 400, body: JSON.stringify({ model: 'mock-gpt', messages: 'hi' }) },
	{ what: 'model a number', status: 400, body: JSON.stringify({ model: 5, messages: [{ role: 'user', content: 'x' }] }) },
	{ what: 'stream a string', status: 400, body: chat({ stream: 'yes' }) },
	{ what: 'a role that does not exist', status: 400,
	    body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'wizard', content: 'x' }] }) },
	{ what: 'temperature a word', status: 400, param: 'temperature', body: chat({ temperature: 'hot' }) },
	{ what: 'temperature out of range', status: 400, param: 'temperature', body: chat({ temperature: 9 }) },
	{ what: 'top_p a string', status: 400, param: 'top_p', body: chat({ top_p: '0.5' }) },
	{ what: 'a seed with a fraction', status: 400, param: 'seed', body: chat({ seed: 1.5 }) },
	{ what: 'logit_bias out of range', status: 400, param: 'logit_bias', body: chat({ logit_bias: { 13: 1000 } }) },
	{ what: 'stop a number', status: 400, param: 'stop', body: chat({ stop: 4 }) },
	{ what: 'top level an array', status: 400, body: '[]' },
	{ what: 'not JSON', status: 400, body: 'model=mock-gpt' },
	{ what: 'empty body', status: 400, body: '' },
	{ what: 'trailing garbage', status: 400, body: chat() + '}' },
	{ what: 'lone surrogate escape', status: 400, body: chat().replace('hello', '\\ud800') },
	{ what: 'one byte over the limit', status: 413, body: padTo(chat(), LIMIT + 1) },
	{ what: 'at the limit', status: 200, body: padTo(chat(), LIMIT) },
];

/* Raw requests: framing and header floods. */
function raws(key) {
	const auth = 'Authorization: Bearer ' + key + '\r\n';
	const flood = Array.from({ length: 400 }, (_, i) => 'X-Flood-' + i + ': ' + 'v'.repeat(100) + '\r\n').join('');
	return [
		{ what: 'header flood', status: 431, text: 'GET /v1/models HTTP/1.1\r\nHost: gw\r\n' + auth + flood + '\r\n' },
		{ what: 'one huge header', status: 431, text: 'GET /v1/models HTTP/1.1\r\nHost: gw\r\n' + auth +
		    'X-Big: ' + 'v'.repeat(40000) + '\r\n\r\n' },
		{ what: 'two Content-Length values', status: 400, text: 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n' +
		    auth + 'Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}' },
		{ what: 'Content-Length and chunked', status: 400, text: 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n' +
		    auth + 'Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' },
		{ what: 'bare LF', status: 400, text: 'GET /v1/models HTTP/1.1\n' + auth.replace('\r', '') + 'Host: gw\r\n\r\n' },
		{ what: 'space before the colon', status: 400, text: 'GET /v1/models HTTP/1.1\r\nHost : gw\r\n' + auth + '\r\n' },
		{ what: 'a Content-Length past 2^64', status: 400, text: 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n' +
		    auth + 'Content-Length: 99999999999999999999999\r\n\r\n{}', allow: [400, 413] },
		{ what: 'a very long URL', status: 414, text: 'GET /v1/models/' + 'm'.repeat(70000) + ' HTTP/1.1\r\nHost: gw\r\n' +
		    auth + '\r\n', allow: [400, 404, 414, 431] },
	];
}

test('hostile requests get the right 4xx and no crash', async (t) => {
	const env = await h.startEnv({ workers: 1, max_body_bytes: LIMIT });
	t.after(() => env.stop());
	const before = env.workers();
	const wrong = [];
	for (const c of bodies) {
		const r = await env.chat(c.body, { headers: { 'content-type': 'application/json' } });
		if (r.status !== c.status)
			wrong.push(c.what + ': ' + r.status + ' ' + r.text.slice(0, 200));
		else if (c.status >= 400)
			h.assertErrorShape(r.json, c.what);
		if (c.param && r.json && r.json.error && r.json.error.param !== c.param)
			wrong.push(c.what + ': param ' + r.json.error.param);
	}
	for (const c of raws(env.key)) {
		const r = await raw.send(env.port, c.text, { timeout: 5000 });
		const st = raw.statuses(r.text)[0];
		if (c.allow ? !c.allow.includes(st) : st !== c.status)
			wrong.push(c.what + ': ' + st + ' ' + r.text.slice(0, 200));
	}
	assert.deepEqual(wrong, []);
	/* Still the same worker, still serving. */
	assert.deepEqual(env.workers(), before, 'a worker was replaced');
	const ok = await env.chat(chat());
	assert.equal(ok.status, 200, ok.text);
	assert.doesNotMatch(env.log(), /killed by signal|exited with code/);
});
