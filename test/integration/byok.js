/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Bring your own key, end to end: a project's own provider key (set with
 * nextmodelctl provider-key set, stored sealed) is what the source sees
 * for that project's requests; other projects use the config's key; the
 * key never shows in the gateway's log; cleared, the config's key is back;
 * a sealed value moved to another project does not open and is refused.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const child_process = require('node:child_process');
const crypto = require('node:crypto');
const path = require('node:path');
const h = require('./harness.js');

h.requireBuild();

const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');

test('bring your own key', async (t) => {
	const env = await h.startEnv({ workers: 2, key_cache_ms: 200 });
	const OWN = 'mock-own-' + crypto.randomBytes(12).toString('hex');
	const setKey = (project, key) => child_process.spawnSync(path.join(h.BUILDDIR,
	    'nextmodelctl'), ['-c', env.cfgPath, 'provider-key', 'set', '--project', project,
	    '--provider', 'mock'], { env: env.gwEnv, input: key + '\n', encoding: 'utf8' });
	/* The key the source saw for the last request with this text. */
	const seenKey = async (text) => {
		const log = await env.mockRequests();
		const e = log.filter((x) => JSON.stringify(x.body || '').includes(text)).pop();
		return e ? e.key_sha256 : null;
	};
	const body = (text) => h.chatBody(text + ' [[mock:text]]', {},
	    { 'cache-control': 'no-store' });
	const chat = (text, key) => env.chat(body(text), { key,
	    headers: { 'cache-control': 'no-store' } });
	try {
		await t.test('the project\'s own key reaches the source', async () => {
			const r = setKey('test-project', OWN);
			assert.equal(r.status, 0, r.stderr);
			const a = await chat('mine one');
			assert.equal(a.status, 200, a.text);
			assert.equal(await seenKey('mine one'), sha(OWN));
		});

		await t.test('another project still uses the config\'s key', async () => {
			const other = env.ctl(['key', 'create', '--project', 'p-other']).stdout.trim();
			const b = await chat('theirs one', other);
			assert.equal(b.status, 200, b.text);
			assert.equal(await seenKey('theirs one'), sha(h.MOCK_KEY));
		});

		await t.test('a key the source refuses is the source refusing', async () => {
			assert.equal(setKey('test-project', 'sk-not-a-mock-key').status, 0);
			await h.sleep(400);
			const c = await chat('refused one');
			assert.equal(c.status, 502, c.text);
			assert.ok(!c.text.includes('sk-not-a-mock-key'), 'the key in an answer');
		});

		await t.test('cleared: the config\'s key again', async () => {
			const r = env.ctl(['provider-key', 'clear', '--project', 'test-project',
			    '--provider', 'mock']);
			assert.equal(r.code, 0, r.stderr);
			await h.sleep(400);
			const d = await chat('cleared one');
			assert.equal(d.status, 200, d.text);
			assert.equal(await seenKey('cleared one'), sha(h.MOCK_KEY));
		});

		await t.test('a sealed key moved to another project does not open', async () => {
			assert.equal(setKey('test-project', OWN).status, 0);
			const v = env.redisCmd(['HGET', 'nm:{p:test-project}:byok:mock', 'v']).trim();
			assert.match(v, /^nmbyok1:/);
			const other = env.ctl(['key', 'create', '--project', 'p-thief']).stdout.trim();
			env.redisCmd(['HSET', 'nm:{p:p-thief}:byok:mock', 'v', v]);
			const e = await chat('stolen one', other);
			assert.equal(e.status, 502, e.text);
			assert.equal(e.json.error.code, 'provider_key_unusable');
			assert.equal(await seenKey('stolen one'), null, 'the source was called');
		});

		await t.test('the key is in no log', () => {
			assert.ok(!env.log().includes(OWN), 'the own key in the gateway log');
			assert.ok(!env.log().includes('sk-not-a-mock-key'));
		});
	} finally {
		await env.stop();
	}
});
