/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * SIGTERM with requests that outlast shutdown_timeout_ms: once the drain
 * deadline passes, a stream still running ends with an SSE error event
 * (never a clean [DONE]), a request still waiting for its source gets a
 * 503, and the master exits 0 soon after the deadline.
 */
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();

test('shutdown past the drain deadline', async (t) => {
	const env = await h.startEnv({ shutdown_timeout_ms: 1500 });
	try {
		let started = false;
		/* 30 s of stream and a 30 s wait: both far past the 1.5 s deadline. */
		const sp = env.stream(h.chatBody('too long [[mock:chunk_delay=1000]] [[mock:chunks=30]]',
		    { stream: true }), { timeout: 60000, onEvent: () => { started = true; } });
		const wp = env.chat(h.chatBody('slow answer [[mock:delay=30000]]'), { timeout: 60000 });
		assert.ok(await h.waitFor(() => started, 10000, 10), 'the stream did not start');
		await h.sleep(200);		/* let the waiting request reach the source */
		const t0 = Date.now();
		process.kill(env.gatewayPid, 'SIGTERM');
		const ex = await Promise.race([env.gateway.nmExit, h.sleep(20000).then(() => null)]);
		const took = Date.now() - t0;
		assert.ok(ex, 'the master did not exit within 20 s of SIGTERM');
		assert.deepEqual(ex, { code: 0, signal: null }, 'the master exit status');
		assert.ok(took < 10000, 'exit took ' + took + ' ms with a 1.5 s drain deadline');

		const s = await sp;
		assert.equal(s.done, false, 'a cut stream must not end with [DONE]');
		assert.ok(s.error, 'the stream did not end with an error event: ' + s.raw.slice(-300));
		assert.match(s.error.error.message || '', /shutting down/);

		const w = await wp;
		assert.equal(w.status, 503, 'the waiting request: ' + w.status + ' ' + w.text);
		h.assertErrorShape(w.json, 'waiting request at shutdown');
	} finally {
		await env.stop();
	}
});

/*
 * A kept-alive connection that asks again after the drain deadline has
 * passed (issue 11's suspected wake-after-free: a request still waiting
 * for its source when the HTTP server stops would be ended while
 * suspended, and the source call cancelled only afterwards).  The drain
 * closes idle kept-alive connections, so the late request is never
 * started: no answer on that connection after the first, no crash, no
 * sanitizer report, and the worker exits 0.
 */
test('a request that arrives after the drain deadline on a kept-alive connection', async (t) => {
	const raw = require('./rawhttp.js');
	const env = await h.startEnv({ shutdown_timeout_ms: 1000 });
	t.after(() => env.stop());
	const req = (body) => 'POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\n' +
	    'Authorization: Bearer ' + env.key + '\r\nContent-Type: application/json\r\n' +
	    'Content-Length: ' + Buffer.byteLength(body) + '\r\n\r\n' + body;
	let seen = '';
	const c = raw.connect(env.port, { timeout: 30000, onData: (s) => { seen = s; } });
	/* A long request keeps the worker draining past its deadline. */
	const long = env.chat(h.chatBody('slow [[mock:delay=30000]]'), { timeout: 30000 });
	c.sock.write(req(JSON.stringify(h.chatBody('first'))));
	assert.ok(await h.waitFor(() => raw.statuses(seen).length === 1, 10000, 10), 'no first answer');
	assert.equal(raw.statuses(seen)[0], 200, seen.slice(0, 300));
	await h.sleep(300);
	process.kill(env.gatewayPid, 'SIGTERM');
	/* Past the 1 s deadline: force_end_all has run; ask again, slowly answered. */
	await h.sleep(1400);
	c.sock.write(req(JSON.stringify(h.chatBody('late [[mock:delay=20000]]'))));
	const ex = await Promise.race([env.gateway.nmExit, h.sleep(20000).then(() => null)]);
	assert.ok(ex, 'the master did not exit within 20 s of SIGTERM');
	assert.deepEqual(ex, { code: 0, signal: null }, 'the master exit status');
	const cd = await c.done;
	await long;
	assert.deepEqual(raw.statuses(cd.text), [200], 'the connection after the drain: ' + cd.text.slice(-300));
	assert.doesNotMatch(env.log(), /late \[\[mock/, 'the late request was started');
	assert.doesNotMatch(env.log(), /killed by signal|exited with code [1-9]/);
});
