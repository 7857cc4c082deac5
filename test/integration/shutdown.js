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
