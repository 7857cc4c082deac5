/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A worker's cached key records stand in for a failing Redis only up to
 * key_cache_max_stale_ms (issue 11, item 2): past that a keyed request is
 * answered 503 auth_unavailable, so a key revoked while Redis is away
 * stops working in bounded time.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();

test('cached key records stop standing in for Redis after max stale', async (t) => {
	const env = await h.startEnv({ workers: 1, key_cache_ms: 100,
	    extraConfig: { key_cache_max_stale_ms: 2500 } });
	t.after(() => env.stop());
	const ok = await env.get('/v1/models');
	assert.equal(ok.status, 200, ok.text);
	const t0 = Date.now();
	await env.stopRedis();
	await h.sleep(300);
	/* Older than key_cache_ms, younger than the max: the record stands. */
	const stale = await env.get('/v1/models');
	assert.equal(stale.status, 200, stale.text);
	assert.ok(Date.now() - t0 < 2000, 'too slow to test the stale window');
	await h.sleep(Math.max(0, t0 + 3000 - Date.now()));
	for (let i = 0; i < 3; i++) {
		const r = await env.get('/v1/models');
		assert.equal(r.status, 503, r.text);
		const err = h.assertErrorShape(r.json, 'stale');
		assert.equal(err.code, 'auth_unavailable');
	}
	/* Redis back: the key works again. */
	await env.restartRedis();
	const k = env.ctl(['key', 'create', '--project', 'p2']);
	assert.equal(k.code, 0, k.stderr);
	const back = await h.waitFor(async () => {
		const r = await env.get('/v1/models', k.stdout.trim());
		return r.status === 200 ? r : false;
	}, 10000, 200);
	assert.ok(back, 'a new key never worked after Redis came back');
});
