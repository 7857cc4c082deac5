/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * metrics_require_admin: by default /metrics answers without a key; with
 * the key set to true only the admin key reads it (none or a wrong key:
 * 401, a client's key: 403), and the rest of the API is unchanged.
 */
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();

/* GET /metrics with the given Authorization header (none when null). */
function metrics(env, auth) {
	return h.request(env.url + '/metrics', { headers: auth === null ? {} :
	    { authorization: auth } });
}

test('metrics_require_admin', async (t) => {
	await t.test('off (the default): /metrics needs no key', async () => {
		const env = await h.startEnv();
		try {
			const r = await metrics(env, null);
			assert.equal(r.status, 200, r.text);
			assert.match(r.text, /^# (HELP|TYPE) /m);
		} finally {
			await env.stop();
		}
	});

	await t.test('on: only the admin key', async () => {
		const env = await h.startEnv({ extraConfig: { metrics_require_admin: true } });
		try {
			let r = await metrics(env, null);
			assert.equal(r.status, 401, r.text);
			h.assertErrorShape(r.json, 'no key');
			r = await metrics(env, 'Bearer nm-wrong');
			assert.equal(r.status, 401, r.text);
			r = await metrics(env, 'Bearer ' + env.key);
			assert.equal(r.status, 403, r.text);
			h.assertErrorShape(r.json, 'a client key');
			assert.equal(r.json.error.code, 'admin_key_required');
			r = await metrics(env, 'Bearer ' + env.adminKey);
			assert.equal(r.status, 200, r.text);
			assert.match(r.text, /^# (HELP|TYPE) /m);
			assert.ok(!r.text.includes(env.adminKey) && !r.text.includes(env.key));
			/* Health and chat do not change. */
			assert.equal((await h.request(env.url + '/healthz')).status, 200);
			assert.equal((await env.chat(h.chatBody('hello'))).status, 200);
		} finally {
			await env.stop();
		}
	});
});
