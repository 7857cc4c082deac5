/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A reload that loses a worker (issue 11, item 7): a worker of the new
 * generation that dies before the reload settles is started again once it
 * does, so the gateway runs with all its workers, not one short for good.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();

test('a new worker that dies during a reload is replaced', async (t) => {
	const env = await h.startEnv({ workers: 2, shutdown_timeout_ms: 2000 });
	t.after(() => env.stop());
	const before = env.workers();
	assert.equal(before.length, 2);
	assert.ok(env.reload(), 'SIGHUP');
	/* Kill the first new worker as soon as it shows, before it is ready. */
	const victim = await h.waitFor(() => env.workers().find((p) => !before.includes(p)), 5000, 2);
	assert.ok(victim, 'no new worker appeared');
	h.signal(victim, 'SIGKILL');
	const settled = await h.waitFor(() => /reload: generation 2 serving/.test(env.log()), 20000, 100);
	assert.ok(settled, 'the reload did not settle:\n' + env.log());
	const full = await h.waitFor(() => {
		const w = env.workers();
		return w.length === 2 && w.every((p) => !before.includes(p) && p !== victim) ? w : false;
	}, 10000, 100);
	assert.ok(full, 'workers after the reload: ' + env.workers().join(' ') + '\n' + env.log());
	const r = await env.chat(h.chatBody('hello'));
	assert.equal(r.status, 200, r.text);
});
