/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A request whose key is refused is answered when its headers are in,
 * before its body is read (issue 11, item 5): no 100 Continue, 401, the
 * connection closed, and a worker's memory does not grow with the bodies
 * of keyless clients.  The bodies a worker holds at once have a ceiling
 * (limits.max_body_memory_bytes): past it, 503 and retry.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const raw = require('./rawhttp.js');

h.requireBuild();

const MIB = 1024 * 1024;

/* Headers of a chat request with Content-Length len and these extra lines. */
function head(len, extra) {
	return 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n' +
	    'Content-Type: application/json\r\nContent-Length: ' + len + '\r\n' +
	    (extra || []).map((l) => l + '\r\n').join('') + '\r\n';
}

/* Send head then len bytes of body in 64 KiB writes, as fast as taken. */
function pushBody(port, len, extra) {
	const c = raw.connect(port, { timeout: 30000 });
	c.sock.on('connect', async () => {
		c.sock.write(head(len, extra));
		const chunk = Buffer.alloc(64 * 1024, 0x20);
		for (let sent = 0; sent < len && !c.sock.destroyed; sent += chunk.length) {
			if (!c.sock.write(chunk.subarray(0, Math.min(chunk.length, len - sent))))
				await new Promise((r) => { c.sock.once('drain', r); c.sock.once('close', r); });
		}
	});
	return c.done;
}

test('refused keys are answered before the body is read', async (t) => {
	const env = await h.startEnv({ workers: 1, threads: 2 });
	t.after(() => env.stop());
	const [pid] = env.workers();
	/* One unknown well-formed key, refused once: then the cache knows it. */
	const unknown = h.randomKey();
	const first = await env.chat(h.chatBody('x'), { key: unknown });
	assert.equal(first.status, 401, first.text);
	const auths = [[], ['Authorization: Bearer garbage'], ['Authorization: Basic Zm9vOmJhcg=='],
	    ['Authorization: Bearer ' + unknown]];
	const hwm0 = h.procStatus(pid, 'VmHWM');
	const runs = [];
	for (let i = 0; i < 40; i++)
		runs.push(pushBody(env.port, 7 * MIB, auths[i % auths.length]));
	const res = await Promise.all(runs);
	const hwm1 = h.procStatus(pid, 'VmHWM');
	for (const [i, r] of res.entries()) {
		/*
		 * Answered at once and closed with the body unread: the 401,
		 * or a reset that overtook it.  Never a 100 Continue.
		 */
		assert.ok(r.closed, 'connection ' + i + ' left open');
		const st = raw.statuses(r.text);
		if (st.length === 0) {
			assert.match(String(r.error), /ECONNRESET|EPIPE/, 'connection ' + i);
			continue;
		}
		assert.deepEqual(st, [401], 'connection ' + i + ': ' + r.text.slice(0, 300));
		assert.match(r.text, /\r\nConnection: close\r\n/i);
		assert.equal(JSON.parse(raw.firstBody(r.text)).error.code, 'invalid_api_key');
	}
	const n401 = (env.log().match(/POST \/v1\/chat\/completions 401 /g) || []).length;
	assert.equal(n401, 41, 'the log shows ' + n401 + ' answers 401');
	const grew = (hwm1 - hwm0) / 1024;
	t.diagnostic('worker peak RSS grew by ' + grew.toFixed(1) + ' MiB');
	assert.ok(grew < 64, 'worker peak RSS grew by ' + grew.toFixed(0) + ' MiB');

	/* A client that waits for 100 Continue gets the 401 instead. */
	for (const a of auths) {
		const r = await raw.send(env.port, head(7 * MIB, a.concat(['Expect: 100-continue'])),
		    { timeout: 5000 });
		assert.deepEqual(raw.statuses(r.text), [401], r.text);
		assert.ok(r.closed, 'left open: ' + r.text);
	}
	/* A small body sent without waiting is read, dropped, and answered. */
	for (const a of auths) {
		const r = await raw.send(env.port, head(10000, a) + ' '.repeat(10000),
		    { timeout: 5000 });
		assert.deepEqual(raw.statuses(r.text), [401], r.text);
		assert.ok(r.closed, 'left open: ' + r.text);
		assert.equal(r.error, null, 'reset: ' + r.text);
	}
	/* A good key still has its body read. */
	const ok = await env.chat(h.chatBody('hello'));
	assert.equal(ok.status, 200, ok.text);
	assert.deepEqual(env.workers(), [pid]);
});

test('the bodies a worker holds have a ceiling', async (t) => {
	const env = await h.startEnv({ workers: 1, threads: 2, max_body_bytes: MIB,
	    max_body_memory_bytes: 2 * MIB });
	t.after(() => env.stop());
	const json = JSON.stringify(h.chatBody('hello'));
	const len = 900 * 1024;
	const body = Buffer.from(json + ' '.repeat(len - json.length));
	/* Three requests send all but their last byte and wait. */
	const conns = [];
	for (let i = 0; i < 3; i++) {
		const c = raw.connect(env.port, { timeout: 20000 });
		/* Connection: close: the answer ends the connection; the client never
		 * half-closes (a client whose end is closed has left: 499). */
		const hdrs = ['Authorization: Bearer ' + env.key];
		/* The two that are served end with the answer (the third is
		 * refused at once, while still sending: as before). */
		if (i < 2)
			hdrs.push('Connection: close');
		c.sock.on('connect', () => c.sock.write(Buffer.concat([Buffer.from(head(len,
		    hdrs)), body.subarray(0, len - 1)])));
		conns.push(c);
		await h.sleep(400);
	}
	/* The third went past 2 MiB: 503 at once, with Retry-After. */
	const third = await conns[2].done;
	assert.deepEqual(raw.statuses(third.text), [503], third.text);
	assert.match(third.text, /\r\nRetry-After: 1\r\n/i);
	assert.equal(JSON.parse(raw.firstBody(third.text)).error.code, 'server_busy');
	/* The first two finish and are served. */
	for (const c of conns.slice(0, 2))
		c.sock.write(body.subarray(len - 1));
	for (const c of conns.slice(0, 2)) {
		const r = await c.done;
		assert.deepEqual(raw.statuses(r.text), [200], r.text.slice(0, 300));
	}
	/* Their memory is given back: two more fit again. */
	const again = await Promise.all([0, 1].map(() => env.chat(body)));
	for (const r of again)
		assert.equal(r.status, 200, r.text);
});
