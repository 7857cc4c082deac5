/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Every request accounted for, end to end: a mixed run through the
 * official OpenAI SDK (chat and streams on three wire formats, errors)
 * against two gateway workers, with nextmodel-ledger killed -9 and
 * restarted and Redis restarted (saved and reloaded) in the middle.  Then
 * the receipts the clients were given, the ledger files, the usage report
 * (nextmodelctl usage and GET /v1/usage) and usage export agree, each
 * receipt once, to the nano-dollar.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

h.requireBuild();
const OpenAI = h.requirePackage('openai');
const LEDGER = path.join(h.BUILDDIR, 'nextmodel-ledger');

const { nano, money } = h;

function sha(line) {
	return 'sha256:' + crypto.createHash('sha256').update(line).digest('hex');
}

function startLedger(env, n) {
	const log = fs.openSync(path.join(env.tmp, 'ledger-' + n + '.log'), 'a');
	const c = h.spawnTracked(LEDGER, ['-c', env.cfgPath, '--claim-idle', '500'],
	    { env: env.gwEnv, stdio: ['ignore', log, log] });
	fs.closeSync(log);
	return c;
}

function model(id, provider, upstream, inp, out) {
	return { id, provider, upstream_model: upstream, input_per_mtok: inp,
	    output_per_mtok: out, cached_input_per_mtok: inp / 10, context_window: 200000,
	    max_output: 4096, capabilities: ['tools', 'json', 'vision', 'streaming'],
	    region: 'global', latency_ms: 500 };
}

test('accounting', async (t) => {
	const env = await h.startEnv({ workers: 2,
	    extraProviders: {
		claude: { kind: 'anthropic', api_key_env: 'MOCK_API_KEY', mock_path: '' },
		gem: { kind: 'gemini', api_key_env: 'MOCK_API_KEY', mock_path: '' },
	    },
	    extraModels: [model('acct-claude', 'claude', 'claude-mock-upstream', 3, 15),
		model('acct-gemini', 'gem', 'gemini-mock-flash', 0.112, 0.448)] });
	const ledgers = [];
	try {
		const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0 });
		/* What the clients were told: receipt id -> {hash, cost}. */
		const told = new Map();
		const note = (url, hash, cost) => {
			assert.ok(url && hash, 'an answer without its receipt');
			told.set(url.split('/').pop(), { hash, cost });
		};
		const models = ['mock-gpt', 'acct-claude', 'acct-gemini'];
		let n = 0;
		const one = async () => {
			const i = n++;
			const m = models[i % 3];
			const workload = ['api.web', 'agent.eval'][i % 2];
			const kind = i % 5;
			if (kind === 4) {
				/* An error after the key: a receipt that costs nothing. */
				const r = await env.chat(h.chatBody('oops', { model: 'no-such-' + i }));
				assert.equal(r.status, 404);
				note(r.headers['x-nextmodel-receipt-url'],
				    r.headers['x-nextmodel-receipt-hash'], '0');
			} else if (kind === 3) {
				/* A stream: its cost and hash come as the last comments. */
				const s = await env.stream(h.chatBody('stream ' + i + ' please',
				    { model: m, stream: true }), { headers: { 'x-nextmodel-workload': workload } });
				assert.equal(s.status, 200);
				const c = s.events[s.events.length - 2].comments;
				note(s.headers['x-nextmodel-receipt-url'],
				    c[1].replace(': x-nextmodel-receipt-hash: ', ''),
				    c[0].replace(': x-nextmodel-cost-usd: ', ''));
			} else {
				const { response } = await client.chat.completions.create({ model: m,
				    messages: [{ role: 'user', content: 'question ' + i + ' ' + 'x'.repeat(i) }] },
				    { headers: { 'x-nextmodel-workload': workload } }).withResponse();
				note(response.headers.get('x-nextmodel-receipt-url'),
				    response.headers.get('x-nextmodel-receipt-hash'),
				    response.headers.get('x-nextmodel-cost-usd'));
			}
		};
		const burst = async (count) => {
			const all = [];
			for (let k = 0; k < count; k++)
				all.push(one());
			await Promise.all(all);
		};

		await t.test('mixed traffic across a ledger crash and a Redis restart', async () => {
			ledgers.push(startLedger(env, 0));
			await burst(40);
			/* The ledger dies mid-stream of work, then comes back. */
			const p = burst(40);
			await h.sleep(30);
			ledgers[0].kill('SIGKILL');
			await ledgers[0].nmExit;
			await p;
			ledgers[0] = startLedger(env, 1);
			await burst(30);
			/* Redis saves and goes away; traffic goes on (receipts spool). */
			env.redisCmd(['SHUTDOWN', 'SAVE']);
			await h.waitFor(async () => env.redis.exitCode !== null ||
			    env.redis.signalCode !== null, 5000, 50);
			await burst(20);
			await env.restartRedis();
			await burst(30);
			/* Every receipt in the files, the stream drained. */
			const done = await h.waitFor(() => {
				const lines = fileLines(env);
				return [...told.keys()].every((id) => lines.has(id)) ? lines : false;
			}, 30000, 250);
			assert.ok(done, 'receipts missing from the ledger files');
		});

		await t.test('receipts, files, usage report, export and /v1/usage agree', async () => {
			const lines = fileLines(env);
			let sum = 0n;
			const byModel = new Map();
			for (const [id, want] of told) {
				const got = lines.get(id);
				assert.equal(got.length, 1, id + ' in the files ' + got.length + ' times');
				assert.equal(sha(got[0]), want.hash, id + ': not the receipt the client got');
				const rc = JSON.parse(got[0]);
				assert.equal(rc.cost_usd, want.cost, id + ': cost differs from the header');
				sum += nano(rc.cost_usd);
				const k = rc.model || '(none)';
				byModel.set(k, (byModel.get(k) || 0n) + nano(rc.cost_usd));
			}
			/* Nothing else in the files. */
			assert.equal(lines.size, told.size);
			assert.ok(sum > 0n);
			/* Wait until the aggregates have caught up with the files. */
			const rep = await h.waitFor(() => {
				const r = env.ctl(['usage', '--by', 'model', '--format', 'json']);
				if (r.code !== 0)
					return false;
				const j = JSON.parse(r.stdout);
				return j.total.requests === told.size ? j : false;
			}, 15000, 250);
			assert.ok(rep, 'the usage report never counted every receipt');
			assert.equal(rep.total.cost_usd, money(sum));
			assert.equal(rep.rows.length, byModel.size);
			for (const row of rep.rows)
				assert.equal(row.cost_usd, money(byModel.get(row.model) || 0n), row.model);
			const ex = env.ctl(['usage', 'export', '--format', 'jsonl']);
			assert.equal(ex.code, 0, ex.stderr);
			assert.match(ex.stderr, new RegExp('^' + told.size + ' receipts, cost_usd ' +
			    money(sum).replace('.', '\\.')));
			const api = await env.get('/v1/usage?by=workload');
			assert.equal(api.status, 200, api.text);
			assert.equal(api.json.total.cost_usd, money(sum));
			assert.equal(api.json.total.requests, told.size);
			const names = api.json.rows.map((r) => r.workload).sort();
			assert.deepEqual(names, ['(none)', 'agent.eval', 'api.web']);
			/* Another project's key sees none of it. */
			const other = env.ctl(['key', 'create', '--project', 'p2']).stdout.trim();
			const o = await env.get('/v1/usage', other);
			assert.equal(o.status, 200);
			assert.equal(o.json.total.requests, 0);
			assert.equal((await env.get('/v1/usage?by=colour')).status, 400);
			assert.equal((await env.get('/v1/usage?since=yesterday')).status, 400);
			/* The admin key sees every project. */
			const a = await env.get('/v1/usage?by=project', env.adminKey);
			assert.equal(a.json.total.cost_usd, money(sum));
			/* Each file verifies. */
			for (const f of fs.readdirSync(path.join(env.tmp, 'ledger'))) {
				if (!f.startsWith('receipts-'))
					continue;
				const v = env.ctl(['receipt', 'verify', path.join(env.tmp, 'ledger', f)]);
				assert.equal(v.code, 0, v.stdout + v.stderr);
			}
		});
	} finally {
		for (const l of ledgers)
			await h.killChild(l, 3000);
		await env.stop();
	}
});

/* Receipt lines in the ledger's day files, by id. */
function fileLines(env) {
	const dir = path.join(env.tmp, 'ledger');
	const by = new Map();
	if (!fs.existsSync(dir))
		return by;
	for (const f of fs.readdirSync(dir)) {
		if (!f.startsWith('receipts-'))
			continue;
		for (const l of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
			if (l === '')
				continue;
			const id = JSON.parse(l).id;
			by.set(id, (by.get(id) || []).concat([l]));
		}
	}
	return by;
}
