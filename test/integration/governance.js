/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Budgets and rate limits, enforced: a project budget that fits about five
 * requests and 100 concurrent requests from four client processes through
 * two gateway instances sharing one Redis: the billed costs never add up
 * past the budget and the spent counter equals their sum; refusals are
 * 402 budget_exceeded (insufficient_quota, x-should-retry: false).  A key's
 * rate limit answers 429 with OpenAI's x-ratelimit-* headers and
 * retry-after, and the official SDK retries into success.  The
 * x-nextmodel-budget-remaining-usd header appears exactly when a budget has
 * used its own warn_at.  With Redis gone a key whose budgets were all
 * on_redis_down open when last admitted is served (counted); one with a
 * closed budget, the default, is refused (503), never served unchecked.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const child_process = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

h.requireBuild();
const OpenAI = h.requirePackage('openai');
const { nano, money } = h;

/* Start a second nextmodeld on the same Redis and mock, another port. */
async function secondGateway(env) {
	const port = await h.freePort();
	const cfg = path.join(env.tmp, 'second.yaml');
	fs.writeFileSync(cfg, env.configText().replace(/^listen: .*$/m,
	    'listen: 127.0.0.1:' + port).replace(/^spool_dir: .*$/m,
	    'spool_dir: ' + path.join(env.tmp, 'spool2')));
	const log = fs.openSync(path.join(env.tmp, 'second.log'), 'a');
	const c = h.spawnTracked(path.join(h.BUILDDIR, 'nextmodeld'), ['-c', cfg],
	    { env: env.gwEnv, stdio: ['ignore', log, log] });
	fs.closeSync(log);
	const url = 'http://127.0.0.1:' + port;
	const up = await h.waitFor(async () => {
		try {
			return (await h.request(url + '/healthz')).status === 200;
		} catch (e) {
			return false;
		}
	}, 15000, 100);
	assert.ok(up, 'the second gateway did not start');
	return { proc: c, url };
}

/* A client process sending n requests at once; resolves their results. */
function clientProcess(urls, key, n, tag) {
	const script = `
		const http = require('http');
		const urls = ${JSON.stringify(urls)};
		const one = (i) => new Promise((resolve) => {
			const body = JSON.stringify({ model: 'mock-gpt', max_tokens: 12,
			    messages: [{ role: 'user', content: 'budget ${tag} ' + i +
			    ' one two three four five six seven eight nine' }] });
			const u = new URL(urls[i % urls.length] + '/v1/chat/completions');
			const req = http.request(u, { method: 'POST', agent: false, headers: {
			    'content-type': 'application/json', 'cache-control': 'no-store',
			    authorization: 'Bearer ${key}' } }, (res) => {
				let text = '';
				res.on('data', (d) => { text += d; });
				res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
			});
			req.on('error', (e) => resolve({ status: 0, text: String(e) }));
			req.end(body);
		});
		Promise.all(Array.from({ length: ${n} }, (_, i) => one(i)))
		    .then((r) => process.stdout.write(JSON.stringify(r)));
	`;
	return new Promise((resolve, reject) => {
		child_process.execFile(process.execPath, ['-e', script],
		    { maxBuffer: 64 * 1024 * 1024, timeout: 60000 }, (err, stdout) =>
		    err ? reject(err) : resolve(JSON.parse(stdout)));
	});
}

test('governance', async (t) => {
	const env = await h.startEnv({ workers: 2 });
	let second = null;
	try {
		await t.test('a budget is never overshot: 100 requests, 4 processes, 2 gateways',
		    async () => {
			const key = env.ctl(['key', 'create', '--project', 'budgeted']).stdout.trim();
			/* The worst case of one request: its estimate, 12 output tokens. */
			const q = await h.request(env.url + '/v1/quotes', { method: 'POST',
			    headers: env.auth(), body: { model: 'mock-gpt', max_tokens: 12,
			    messages: [{ role: 'user', content: 'budget p0 0 one two three four ' +
			    'five six seven eight nine' }] } });
			const row = q.json.data.find((m) => m.model === 'mock-gpt');
			const worst = nano(row.worst_case_cost_usd);
			const limit = worst * 5n + worst / 2n;
			const s = env.ctl(['budget', 'set', '--project', 'budgeted', '--limit-usd',
			    money(limit), '--period', 'day']);
			assert.equal(s.code, 0, s.stderr);
			second = await secondGateway(env);
			const urls = [env.url, second.url];
			const all = (await Promise.all([0, 1, 2, 3].map((p) =>
			    clientProcess(urls, key, 25, 'p' + p)))).flat();
			assert.equal(all.length, 100);
			const ok = all.filter((r) => r.status === 200);
			const refused = all.filter((r) => r.status === 402);
			assert.equal(ok.length + refused.length, 100,
			    all.filter((r) => r.status !== 200 && r.status !== 402)
			    .map((r) => r.status + ' ' + r.text.slice(0, 120)).join('\n'));
			assert.ok(ok.length >= 1 && refused.length >= 1, ok.length + ' served');
			for (const r of refused) {
				const e = JSON.parse(r.text).error;
				assert.equal(e.code, 'budget_exceeded');
				assert.equal(e.type, 'insufficient_quota');
				assert.equal(r.headers['x-should-retry'], 'false');
			}
			const billed = ok.reduce((a, r) => a + nano(r.headers['x-nextmodel-cost-usd']), 0n);
			assert.ok(billed <= limit, 'billed ' + money(billed) + ' > budget ' + money(limit));
			/* Settlement follows the answers: wait for it, then compare. */
			const b = await h.waitFor(() => {
				const out = env.redisCmd(['HGETALL', 'nm:{p:budgeted}:budget:project']);
				const f = out.trim().split('\n');
				const m = {};
				for (let i = 0; i + 1 < f.length; i += 2)
					m[f[i]] = f[i + 1];
				return m.reserved_usd === '0' ? m : false;
			}, 10000, 100);
			assert.ok(b, 'reservations never settled');
			assert.equal(b.spent_usd, money(billed));
			assert.equal(b.limit_usd, money(limit));
			t.diagnostic(ok.length + ' served, ' + refused.length + ' refused; billed ' +
			    money(billed) + ' of ' + money(limit));
		});

		await t.test('rate limit: 429 with OpenAI headers, and the SDK retries', async () => {
			const key = env.ctl(['key', 'create', '--project', 'limited', '--rpm', '60'])
			    .stdout.trim();
			let r;
			for (let i = 0; i < 70; i++) {
				r = await env.chat(h.chatBody('rate ' + i), { key,
				    headers: { 'cache-control': 'no-store' } });
				if (r.status === 429)
					break;
			}
			assert.equal(r.status, 429, 'never limited');
			const e = h.assertErrorShape(r.json, '429');
			assert.equal(e.code, 'rate_limit_exceeded');
			assert.equal(r.headers['x-ratelimit-limit-requests'], '60');
			assert.equal(r.headers['x-ratelimit-remaining-requests'], '0');
			assert.match(r.headers['x-ratelimit-reset-requests'], /^[0-9.]+m?s$/);
			assert.ok(Number(r.headers['retry-after']) >= 1);
			assert.ok(Number(r.headers['retry-after-ms']) > 0);
			const client = new OpenAI({ baseURL: env.baseURL, apiKey: key, maxRetries: 3 });
			const t0 = Date.now();
			const c = await client.chat.completions.create({ model: 'mock-gpt',
			    messages: [{ role: 'user', content: 'after the limit' }] },
			    { headers: { 'cache-control': 'no-store' } });
			assert.match(c.choices[0].message.content, /after the limit/);
			assert.ok(Date.now() - t0 >= 300, 'no retry happened');
		});

		await t.test('the remaining-usd header follows each budget\'s warn_at', async () => {
			const key = env.ctl(['key', 'create', '--project', 'warned']).stdout.trim();
			const bkey = 'nm:{p:warned}:budget:project';
			const set = (extra) => {
				const r = env.ctl(['budget', 'set', '--project', 'warned', '--limit-usd',
				    '10', '--period', 'total'].concat(extra));
				assert.equal(r.code, 0, r.stderr);
			};
			/* The header of one request with spent_nano at n (nothing held). */
			let i = 0;
			const at = async (n) => {
				const idle = await h.waitFor(() => env.redisCmd(['HGET', bkey,
				    'reserved_nano']).trim() === '0', 10000, 50);
				assert.ok(idle, 'a reservation was never settled');
				env.redisCmd(['HSET', bkey, 'spent_nano', String(n)]);
				const r = await env.chat(h.chatBody('warn ' + i++), { key,
				    headers: { 'cache-control': 'no-store' } });
				assert.equal(r.status, 200, r.text);
				return r.headers['x-nextmodel-budget-remaining-usd'];
			};
			set(['--warn-at', '0.5']);
			assert.equal(await at(0), undefined);
			assert.equal(await at(4999999999), undefined);
			assert.equal(await at(5000000000), '5');
			assert.equal(await at(6500000000), '3.5');
			/* 0.9: 15 % left (the old fixed 20 %) is no warning yet. */
			set(['--warn-at', '90%']);
			assert.equal(await at(8500000000), undefined);
			assert.equal(await at(8999999999), undefined);
			assert.equal(await at(9000000000), '1');
			/* 0: none, even nearly spent. */
			set(['--warn-at', '0']);
			assert.equal(await at(9500000000), undefined);
			/* No --warn-at: 0.8, as budget show says. */
			set([]);
			assert.match(env.ctl(['budget', 'show', '--project', 'warned']).stdout,
			    /^warn_at: 0\.8$/m);
			assert.equal(await at(7999999999), undefined);
			assert.equal(await at(8000000000), '2');
		});

		await t.test('Redis gone: closed budgets refuse (503), open ones serve',
		    async () => {
			/* One worker: what it has seen is what it remembers. */
			const e1 = await h.startEnv({ workers: 1 });
			try {
				const mk = (args) => e1.ctl(['key', 'create'].concat(args)).stdout.trim();
				const budget = (args) => {
					const r = e1.ctl(['budget', 'set', '--limit-usd', '5', '--period',
					    'month'].concat(args));
					assert.equal(r.code, 0, r.stderr);
					return r;
				};
				const key = mk(['--project', 'b2']);
				const free = mk(['--project', 'u2']);
				const open = mk(['--project', 'o2']);
				const mixed = mk(['--project', 'm2', '--team', 'red']);
				const later = mk(['--project', 'o3']);
				budget(['--project', 'b2']);
				const o = budget(['--project', 'o2', '--on-redis-down', 'open']);
				assert.match(o.stderr, /served unchecked \(open\)/);
				budget(['--project', 'o3', '--on-redis-down', 'open']);
				/* The project's open, its team's closed: closed wins. */
				budget(['--project', 'm2', '--on-redis-down', 'open']);
				budget(['--team', 'red']);
				/* Where an operator sees it: budget show, the hash. */
				assert.match(e1.ctl(['budget', 'show', '--project', 'o2']).stdout,
				    /^on_redis_down: open$/m);
				assert.match(e1.ctl(['budget', 'show', '--project', 'b2']).stdout,
				    /^on_redis_down: closed$/m);
				assert.equal(e1.redisCmd(['HGET', 'nm:{p:o2}:budget:project',
				    'on_redis_down']).trim(), 'open');
				assert.equal(e1.redisCmd(['HGET', 'nm:{p:m2}:budget:team:red',
				    'on_redis_down']).trim(), 'closed');
				/* A change without the option keeps the setting. */
				budget(['--project', 'o2', '--warn-at', '0.9']);
				assert.equal(e1.redisCmd(['HGET', 'nm:{p:o2}:budget:project',
				    'on_redis_down']).trim(), 'open');
				/* Audited with the rest of the budget. */
				const aud = JSON.parse(e1.ctl(['audit', '--format', 'json']).stdout)
				    .filter((x) => x.action === 'budget.set');
				assert.ok(aud.some((x) => x.target === 'project o2' &&
				    x.details.on_redis_down === 'open' &&
				    x.details.warn_at === '0.9'), JSON.stringify(aud));
				assert.ok(aud.some((x) => x.target === 'project b2' &&
				    x.details.on_redis_down === 'closed'), JSON.stringify(aud));
				assert.equal(e1.ctl(['budget', 'set', '--project', 'o2', '--limit-usd', '5',
				    '--period', 'month', '--on-redis-down', 'maybe']).code, 2);
				/* Each seen once while Redis answers; o3's key never. */
				for (const k of [key, free, open, mixed])
					assert.equal((await e1.chat(h.chatBody('seen'), { key: k })).status, 200);
				/* Auth is cached: o3's key known, its budgets never admitted. */
				assert.equal((await e1.get('/v1/models', later)).status, 200);
				/* A snapshot the restart below loads. */
				const spent0 = BigInt(e1.redisCmd(['HGET', 'nm:{p:o2}:budget:project',
				    'spent_nano']).trim() || '0');
				e1.redisCmd(['SAVE']);
				await e1.stopRedis();
				await h.sleep(2500);
				const away = async (k) => e1.chat(h.chatBody('while away'), { key: k });
				const r = await away(key);
				assert.equal(r.status, 503, r.text);
				assert.equal(r.json.error.code, 'budget_unavailable');
				assert.equal((await away(free)).status, 200);
				const op = await away(open);
				assert.equal(op.status, 200, op.text);
				const mx = await away(mixed);
				assert.equal(mx.status, 503, mx.text);
				const lt = await away(later);
				assert.equal(lt.status, 503, lt.text);
				const m = (await h.request(e1.url + '/metrics')).text;
				assert.match(m, /^nextmodel_admission_fail_open_total 1$/m);
				assert.match(e1.log(), /project o2\) unchecked: Redis unreachable, served fail-open \(on_redis_down open\)/);
				/*
				 * What was served unchecked reaches the budget once Redis
				 * is back (restarted from the snapshot taken before it
				 * went away), the settlement retried into it.
				 */
				const cost = h.nano(op.headers['x-nextmodel-cost-usd']);
				assert.ok(cost > 0n, 'the fail-open answer has a cost');
				await e1.restartRedis();
				const spent = () => BigInt(e1.redisCmd(['HGET', 'nm:{p:o2}:budget:project',
				    'spent_nano']).trim() || '0');
				assert.ok(await h.waitFor(() => spent() === spent0 + cost, 30000, 200),
				    'the budget spent ' + spent() + ', expected ' + spent0 + ' + ' + cost);
				/* Retried once more, it is not counted twice. */
				await h.sleep(1500);
				assert.equal(spent(), spent0 + cost);
				assert.match((await h.request(e1.url + '/metrics')).text,
				    /^nextmodel_settlements_lost_total 0$/m);
				/*
				 * A Redis that answers with an error is not away: an
				 * out-of-memory refusal of the admission script gives the
				 * open budget a 503, never a request served unchecked.
				 */
				e1.redisCmd(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
				e1.redisCmd(['CONFIG', 'SET', 'maxmemory', '1']);
				const oom = await away(open);
				e1.redisCmd(['CONFIG', 'SET', 'maxmemory', '0']);
				assert.equal(oom.status, 503, oom.text);
				assert.equal(oom.json.error.code, 'budget_unavailable');
				assert.match((await h.request(e1.url + '/metrics')).text,
				    /^nextmodel_admission_fail_open_total 1$/m);
			} finally {
				await e1.stop();
			}
		});
	} finally {
		if (second)
			await h.killChild(second.proc, 10000);
		await env.stop();
	}
});

/*
 * A settlement that meets a Redis busy with a long script (-BUSY: the
 * settle script did not run) is tried again, and the cost reaches the
 * budget once Redis answers; before, it was dropped.
 */
test('a settlement refused with -BUSY is retried into the budget', async () => {
	const env = await h.startEnv({ workers: 1 });
	let busy = null;
	try {
		const r = env.ctl(['budget', 'set', '--project', 'test-project', '--limit-usd', '5',
		    '--period', 'month']);
		assert.equal(r.code, 0, r.stderr);
		const spent = () => BigInt(env.redisCmd(['HGET', 'nm:{p:test-project}:budget:project',
		    'spent_nano']).trim() || '0');
		const slow = env.chat(h.chatBody('slow [[mock:delay=1500]]'), { timeout: 20000 });
		await h.sleep(400);		/* admitted: its reservation is held */
		env.redisCmd(['CONFIG', 'SET', 'busy-reply-threshold', '100']);
		busy = child_process.spawn(process.env.REDIS_CLI || 'redis-cli', ['-p',
		    String(env.redisPort), 'EVAL', 'while true do end', '0'], { stdio: 'ignore' });
		const a = await slow;
		assert.equal(a.status, 200, a.text);
		const cost = nano(a.headers['x-nextmodel-cost-usd']);
		assert.ok(cost > 0n);
		await h.sleep(1500);		/* the settlement met -BUSY */
		assert.match(env.redisCmd(['PING']), /BUSY/, 'Redis was not busy');
		env.redisCmd(['SCRIPT', 'KILL']);
		assert.ok(await h.waitFor(() => spent() === cost, 20000, 200),
		    'spent ' + spent() + ', the request cost ' + cost);
		assert.match((await h.request(env.url + '/metrics')).text,
		    /^nextmodel_settlements_lost_total 0$/m);
	} finally {
		if (busy)
			busy.kill();
		await env.stop();
	}
});
