/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The admin HTTP API behind the admin key: keys made (the secret once),
 * listed (never a secret) and revoked; budgets set, read and cleared;
 * rate limits set and enforced; every change in the audit trail as
 * "admin-api"; any other key gets 403.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();

test('admin API', async (t) => {
	const env = await h.startEnv({ workers: 1, key_cache_ms: 200 });
	const admin = (method, p, body) => h.request(env.url + p, { method, body,
	    headers: env.auth(env.adminKey) });
	try {
		let made;
		await t.test('keys: made, listed, used', async () => {
			const r = await admin('POST', '/admin/keys', { project: 'ap', rpm: 0,
			    environment: 'prod', name: 'scripted' });
			assert.equal(r.status, 201, r.text);
			made = r.json;
			assert.match(made.id, /^key_/);
			assert.match(made.key, /^nm-/);
			const c = await env.chat(h.chatBody('from the admin API'), { key: made.key });
			assert.equal(c.status, 200, c.text);
			const l = await admin('GET', '/admin/keys?project=ap');
			assert.equal(l.status, 200, l.text);
			assert.deepEqual(l.json.map((k) => [k.id, k.environment]), [[made.id, 'prod']]);
			assert.ok(!l.text.includes(made.key), 'a secret in the list');
			assert.equal((await admin('POST', '/admin/keys', { team: 'x' })).status, 400);
		});

		await t.test('only the admin key', async () => {
			const r = await h.request(env.url + '/admin/keys', { headers: env.auth() });
			assert.equal(r.status, 403);
			assert.equal(r.json.error.code, 'admin_key_required');
			assert.equal((await h.request(env.url + '/admin/keys')).status, 401);
		});

		await t.test('budgets: set, read, cleared', async () => {
			let r = await admin('PUT', '/admin/budgets', { project: 'ap', limit_usd: '2.5',
			    period: 'month' });
			assert.equal(r.status, 201, r.text);
			assert.equal(r.json.limit_usd, '2.5');
			assert.equal(r.json.period, 'month');
			const raw = env.redisCmd(['HGET', 'nm:{p:ap}:budget:project', 'limit_usd']).trim();
			assert.equal(raw, '2.5');
			r = await admin('PUT', '/admin/budgets', { key: made.id, limit_usd: '1',
			    period: 'day' });
			assert.equal(r.status, 201, r.text);
			assert.equal(r.json.scope, 'key');
			r = await admin('GET', '/admin/budgets?project=ap');
			assert.equal(r.status, 200);
			assert.equal(r.json.remaining_usd, '2.5');
			assert.equal((await admin('DELETE', '/admin/budgets?project=ap')).status, 200);
			assert.equal((await admin('GET', '/admin/budgets?project=ap')).status, 404);
			assert.equal((await admin('PUT', '/admin/budgets', { project: 'ap',
			    limit_usd: 'lots', period: 'month' })).status, 400);
			/* What to do while Redis is away: closed unless asked, kept on a change. */
			r = await admin('PUT', '/admin/budgets', { project: 'aq', limit_usd: '3',
			    period: 'total', warn_at: '0.5' });
			assert.equal(r.status, 201, r.text);
			assert.equal(r.json.on_redis_down, 'closed');
			assert.equal(r.json.warn_at, '0.5');
			r = await admin('PUT', '/admin/budgets', { project: 'aq', limit_usd: '3',
			    period: 'total', on_redis_down: 'open' });
			assert.equal(r.status, 201, r.text);
			assert.equal(r.json.on_redis_down, 'open');
			assert.equal(r.json.warn_at, '0.8');
			r = await admin('PUT', '/admin/budgets', { project: 'aq', limit_usd: '4',
			    period: 'total' });
			assert.equal(r.json.on_redis_down, 'open');
			assert.equal(env.redisCmd(['HGET', 'nm:{p:aq}:budget:project',
			    'on_redis_down']).trim(), 'open');
			r = await admin('GET', '/admin/budgets?project=aq');
			assert.equal(r.json.on_redis_down, 'open');
			for (const bad of ['maybe', 'OPEN', 1]) {
				r = await admin('PUT', '/admin/budgets', { project: 'aq', limit_usd: '3',
				    period: 'total', on_redis_down: bad });
				assert.equal(r.status, 400, String(bad));
				assert.match(r.json.error.message, /on_redis_down/);
			}
			const set = env.redisCmd(['XRANGE', 'nm:audit', '-', '+']).split('\n')
			    .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
			    .filter((e) => e.actor === 'admin-api' && e.action === 'budget.set' &&
			    e.target === 'aq');
			assert.deepEqual(set.map((e) => e.details.on_redis_down),
			    ['closed', 'open', 'open']);
			assert.deepEqual(set[2].details, { limit_usd: '4', period: 'total',
			    warn_at: '0.8', on_redis_down: 'open' });
		});

		await t.test('rate limits: set and enforced', async () => {
			const r = await admin('PUT', '/admin/ratelimits', { key: made.id, rpm: 2 });
			assert.equal(r.status, 200, r.text);
			await h.sleep(400);	/* past key_cache_ms */
			const s = [];
			for (let i = 0; i < 4; i++)
				s.push((await env.chat(h.chatBody('limited ' + i), { key: made.key,
				    headers: { 'cache-control': 'no-store' } })).status);
			assert.ok(s.includes(429), s.join(' '));
		});

		await t.test('a key revoked stops working; the audit trail has it all', async () => {
			const r = await admin('DELETE', '/admin/keys/' + made.id);
			assert.equal(r.status, 200, r.text);
			await h.sleep(400);
			assert.equal((await env.chat(h.chatBody('after'), { key: made.key })).status, 401);
			assert.equal((await admin('DELETE', '/admin/keys/key_0000000000000000')).status, 404);
			const out = env.redisCmd(['XRANGE', 'nm:audit', '-', '+']);
			const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
			const api = events.filter((e) => e.actor === 'admin-api').map((e) => e.action);
			for (const a of ['key.create', 'budget.set', 'budget.clear', 'ratelimit.set',
			    'key.revoke'])
				assert.ok(api.includes(a), a + ' not audited: ' + api.join(' '));
			assert.ok(!out.includes(made.key), 'a secret in the audit trail');
		});
	} finally {
		await env.stop();
	}
});
