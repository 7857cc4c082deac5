/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A hung worker (here: stopped with SIGSTOP, so it neither dies nor
 * answers) is noticed by the master through its missing heartbeat, killed
 * and replaced within worker_timeout_ms and a second or two; the other
 * worker serves meanwhile.
 */
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();

test('a hung worker is replaced', async (t) => {
	const env = await h.startEnv({ extraConfig: { worker_timeout_ms: 2000 } });
	try {
		const before = env.workers();
		assert.equal(before.length, 2, 'workers: ' + before);
		const victim = before[0];
		process.kill(victim, 'SIGSTOP');
		const t0 = Date.now();
		/*
		 * The other worker keeps serving.  Let the stop take hold first: a
		 * connection the victim accepted in the very instant it stopped is
		 * lost with it, as with any hung process.
		 */
		await h.sleep(300);
		const r = await env.chat(h.chatBody('while one worker hangs'));
		assert.equal(r.status, 200, r.text);
		const gone = await h.waitFor(() => !h.alive(victim), 10000, 100);
		const took = Date.now() - t0;
		assert.ok(gone, 'the stopped worker is still there after 10 s');
		assert.ok(took >= 1500, 'killed after ' + took + ' ms, before its 2 s timeout');
		t.diagnostic('hung worker killed after ' + took + ' ms');
		const fresh = await h.waitFor(() => {
			const now = env.workers();
			return now.length === 2 && !now.includes(victim) ? now : false;
		}, 10000, 100);
		assert.ok(fresh, 'no replacement worker: ' + env.workers());
		assert.match(env.log(), new RegExp('pid ' + victim + ' silent for \\d+ ms; killing it'));
		for (let i = 0; i < 6; i++) {
			const x = await env.chat(h.chatBody('after the replacement ' + i));
			assert.equal(x.status, 200, x.text);
		}
		/* The healthy worker was left alone. */
		assert.ok(h.alive(before[1]), 'the healthy worker was killed too');
	} finally {
		await env.stop();
	}
});
