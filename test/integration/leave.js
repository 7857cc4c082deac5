/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A client that leaves while its request waits for the source (not a
 * stream: nothing has been sent yet) is noticed within about a second:
 * the source call is cancelled, the request is logged 499, and its
 * receipt bills nothing the source did not report.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const h = require('./harness.js');

h.requireBuild();

test('a client that leaves while the source works', async () => {
	const env = await h.startEnv({ workers: 1 });
	try {
		/* Warm the key so the request goes straight to the source. */
		assert.equal((await env.chat(h.chatBody('warm'))).status, 200);
		const before = (await env.mockStats()).open_connections;
		const t0 = Date.now();
		await new Promise((resolve) => {
			const req = http.request(env.url + '/v1/chat/completions', { method: 'POST',
			    agent: false, headers: Object.assign({ 'content-type': 'application/json',
			    'cache-control': 'no-store' }, env.auth()) });
			req.on('error', () => resolve());
			req.end(JSON.stringify(h.chatBody('slow answer [[mock:delay=8000]]')));
			setTimeout(() => {
				req.destroy();
				resolve();
			}, 500);
		});
		/* The mock saw the call open; it must be closed long before 8 s. */
		await h.waitFor(async () => (await env.mockStats()).open_connections > before, 3000, 50);
		const closed = await h.waitFor(async () =>
		    (await env.mockStats()).open_connections <= before, 4000, 50);
		assert.ok(closed, 'the source call was not cancelled');
		assert.ok(Date.now() - t0 < 4000, 'noticed only after ' + (Date.now() - t0) + ' ms');
		const logged = await h.waitFor(() => / 499 /.test(env.log()), 3000, 50);
		assert.ok(logged, 'no 499 in the log');
		/* Its receipt: status 499, nothing billed. */
		const rc = await h.waitFor(() => {
			const out = env.redisCmd(['XREVRANGE', 'nm:receipts', '+', '-', 'COUNT', '1']);
			const line = out.split('\n').find((l) => l.startsWith('{"id":"rcpt_'));
			return line && JSON.parse(line).status === 499 ? JSON.parse(line) : false;
		}, 3000, 50);
		assert.ok(rc, 'no 499 receipt');
		assert.equal(rc.error_code, 'client_closed');
		assert.equal(rc.cost_usd, '0');
	} finally {
		await env.stop();
	}
});
