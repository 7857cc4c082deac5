/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Slow clients (issue 11, item 8): a request head or body that trickles
 * in is cut off at its deadline however steadily the bytes come
 * (limits.header_timeout_ms, limits.body_timeout_ms), and one client
 * address holds at most limits.max_connections_per_client connections.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const raw = require('./rawhttp.js');

h.requireBuild();

/* Write text one byte every ms milliseconds until the socket closes. */
async function trickle(c, text, ms) {
	await new Promise((r) => c.sock.once('connect', r));
	for (const ch of text) {
		if (c.sock.destroyed || c.sock.writableEnded)
			return;
		c.sock.write(ch);
		await h.sleep(ms);
	}
}

test('a trickling head or body is cut off at its deadline', async (t) => {
	const env = await h.startEnv({ workers: 1, header_timeout_ms: 2000,
	    body_timeout_ms: 2000 });
	t.after(() => env.stop());

	/* One byte every 250 ms: MHD's idle timeout never fires. */
	const c = raw.connect(env.port, { timeout: 8000 });
	trickle(c, 'GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Slow: ' + 'a'.repeat(200) + '\r\n\r\n', 250);
	const r = await c.done;
	assert.ok(r.closed, 'a slow head kept its connection ' + r.ms + ' ms');
	assert.ok(r.ms >= 1800 && r.ms < 4000, 'closed after ' + r.ms + ' ms');
	assert.deepEqual(raw.statuses(r.text), []);

	/* The head in at once, then the body one byte every 250 ms. */
	const body = JSON.stringify(h.chatBody('hello')) + ' '.repeat(200);
	const b = raw.connect(env.port, { timeout: 8000 });
	b.sock.once('connect', () => b.sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n' +
	    'Authorization: Bearer ' + env.key + '\r\nContent-Type: application/json\r\n' +
	    'Content-Length: ' + body.length + '\r\n\r\n'));
	trickle(b, body, 250);
	const rb = await b.done;
	assert.ok(rb.closed, 'a slow body kept its connection ' + rb.ms + ' ms');
	assert.ok(rb.ms >= 1800 && rb.ms < 4000, 'closed after ' + rb.ms + ' ms');
	assert.match(env.log(), /closing a connection: request head not in within 2000 ms/);
	assert.match(env.log(), /closing a connection: request body not in within 2000 ms/);

	/* Quick clients are served, and a keep-alive connection serves several. */
	const two = 'GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n';
	const k = raw.connect(env.port, { timeout: 8000 });
	k.sock.once('connect', async () => {
		k.sock.write(two);
		await h.sleep(1000);
		k.sock.write(two);
		await h.sleep(1000);
		k.sock.write(two);
	});
	const rk = await k.done;
	assert.deepEqual(raw.statuses(rk.text), [200, 200, 200], rk.text);
	/* ... and, idle, is closed at the head deadline too. */
	assert.ok(rk.closed && rk.ms < 6000, 'idle keep-alive open ' + rk.ms + ' ms');
	const ok = await env.chat(h.chatBody('hello'));
	assert.equal(ok.status, 200, ok.text);
});

test('connections per client address', async (t) => {
	const env = await h.startEnv({ workers: 1, max_connections_per_client: 4 });
	t.after(() => env.stop());
	const held = [];
	for (let i = 0; i < 4; i++) {
		const c = raw.connect(env.port, { timeout: 20000 });
		await new Promise((r) => c.sock.once('connect', r));
		held.push(c);
	}
	await h.sleep(300);
	const over = await raw.send(env.port, 'GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n',
	    { timeout: 5000 });
	assert.ok(over.closed, 'a fifth connection was kept');
	assert.deepEqual(raw.statuses(over.text), [], over.text);
	held.pop().sock.destroy();
	await h.sleep(300);
	const r = await raw.send(env.port, 'GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n',
	    { timeout: 5000 });
	assert.deepEqual(raw.statuses(r.text), [200], r.text);
	for (const c of held)
		c.sock.destroy();
});
