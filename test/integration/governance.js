/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Budgets and rate limits, enforced: a project budget that fits about five
 * requests and 100 concurrent requests from four client processes through
 * two gateway instances sharing one Redis: the billed costs never add up
 * past the budget and the spent counter equals their sum; refusals are
 * 402 budget_exceeded (insufficient_quota, x-should-retry: false).  A key's
 * rate limit answers 429 with OpenAI's x-ratelimit-* headers and
 * retry-after, and the official SDK retries into success.  With Redis gone
 * a budgeted project is refused (503), never served unchecked.
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

		await t.test('Redis gone: a budgeted project is refused, not served unchecked',
		    async () => {
			/* One worker: what it has seen is what it remembers. */
			const e1 = await h.startEnv({ workers: 1 });
			try {
				const key = e1.ctl(['key', 'create', '--project', 'b2']).stdout.trim();
				const free = e1.ctl(['key', 'create', '--project', 'u2']).stdout.trim();
				assert.equal(e1.ctl(['budget', 'set', '--project', 'b2', '--limit-usd', '5',
				    '--period', 'month']).code, 0);
				/* Both seen once while Redis answers. */
				assert.equal((await e1.chat(h.chatBody('seen'), { key })).status, 200);
				assert.equal((await e1.chat(h.chatBody('seen'), { key: free })).status, 200);
				await e1.stopRedis();
				await h.sleep(2500);
				const r = await e1.chat(h.chatBody('while away'), { key });
				assert.equal(r.status, 503, r.text);
				assert.equal(r.json.error.code, 'budget_unavailable');
				const f = await e1.chat(h.chatBody('while away'), { key: free });
				assert.equal(f.status, 200, f.text);
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
