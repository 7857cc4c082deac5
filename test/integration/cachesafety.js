/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl bench cache-safety, run for real: against the gateway
 * (its exact cache hits exactly the cases made to hit, never a trap), and against
 * a deliberately naive caching proxy written here, whose bad hits on the
 * traps the bench must report exactly.  The expected figures are worked
 * out here, independently of the C scoring, and a few are pinned by hand.
 * The public data (../shared/data/cachesafety, or $NM_CACHESAFETY_DATA)
 * is used when present.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const h = require('./harness.js');

h.requireBuild();

const SRCDIR = process.env.NM_SRCDIR || path.resolve(__dirname, '..', '..');
const DATASET = path.join(SRCDIR, 'test', 'cachesafety', 'pairs.jsonl');
const PUBLIC = process.env.NM_CACHESAFETY_DATA ||
    path.join(SRCDIR, '..', 'shared', 'data', 'cachesafety');
const HAVE_PUBLIC = fs.existsSync(path.join(PUBLIC, 'promptset_v3.json'));

/*
 * What the dataset showed the gateway getting wrong (doc/cachesafety.md,
 * "Findings"), both fixed: a streamed answer was never stored; key order
 * inside a JSON schema's properties was sorted away.  A regression puts
 * case ids back in these lists.
 */
const STREAM_NOT_STORED = [];
const SCHEMA_ORDER_BAD = [];
/* Whitespace inside message text that changes the answer: canonical bad hits. */
const CANONICAL_BAD = ['cs-wsin-01', 'cs-wsin-02', 'cs-wsin-03', 'cs-wsin-04',
    'cs-wsin-05', 'cs-wsin-06'];

/* The text of the last user message of a chat body. */
function lastUser(body) {
	let t = '';
	for (const m of body.messages || [])
		if (m.role === 'user')
			t = typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
	return t;
}

/*
 * A naive cache in front of answer(body) => {status, headers, text}: it
 * keys on keyOf(body) only, and says exact_cache on a hit.  Resolves
 * {url, close, calls()}.
 */
function naiveProxy(keyOf, answer) {
	const cache = new Map();
	let calls = 0;
	const srv = http.createServer((req, res) => {
		const parts = [];
		req.on('data', (d) => parts.push(d));
		req.on('end', async () => {
			let body;
			try {
				body = JSON.parse(Buffer.concat(parts).toString('utf8'));
			} catch (e) {
				res.writeHead(400, { 'content-type': 'application/json' });
				res.end('{"error":{"message":"bad JSON","type":"invalid_request_error","param":null,"code":null}}');
				return;
			}
			const key = keyOf(body);
			let hit = cache.get(key);
			let mode = 'exact_cache';
			if (!hit) {
				calls++;
				mode = 'fresh';
				hit = await answer(body, req.headers.authorization);
				if (hit.status === 200)
					cache.set(key, hit);
			}
			res.writeHead(hit.status, { 'content-type': hit.headers['content-type'] ||
			    'application/json', 'x-nextmodel-serve-mode': mode });
			res.end(hit.text);
		});
	});
	return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
		url: 'http://127.0.0.1:' + srv.address().port,
		calls: () => calls,
		close: () => new Promise((r) => {
			srv.closeAllConnections();
			srv.close(r);
		}),
	})));
}

/* An OpenAI answer whose content is text. */
function oracleAnswer(text) {
	return { status: 200, headers: { 'content-type': 'application/json' },
	    text: JSON.stringify({ id: 'chatcmpl-o', object: 'chat.completion', created: 1,
	    model: 'oracle', choices: [{ index: 0, message: { role: 'assistant', content: text },
	    finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 2,
	    total_tokens: 12, prompt_tokens_details: { cached_tokens: 4 } } }) };
}

/* The lab scorecard of a dataset, given which cases hit (independent of C). */
function labExpect(cases, hitIds) {
	let safe = 0, bad = 0, traps = 0, trapBad = 0, saved = 0n;
	const badIds = [];
	for (const c of cases) {
		const trap = c.expect === 'miss' || (c.expect === undefined &&
		    String(c.category).trim().toLowerCase() === 'semantic_trap');
		if (trap)
			traps++;
		if (!hitIds.has(c.id))
			continue;
		const ok = c.expect === 'hit' || (!trap && c.old_answer.text.trim() ===
		    c.fresh_answer.trim());
		if (ok) {
			safe++;
			/* USD with up to 9 places, as nano-USD, without a float. */
			const [i, f = ''] = String(c.cost_text).split('.');
			saved += BigInt(i) * 1000000000n + BigInt((f + '000000000').slice(0, 9));
		} else {
			bad++;
			badIds.push(c.id);
			if (trap)
				trapBad++;
		}
	}
	return { total: cases.length, safe, bad, traps, trapBad, saved, badIds };
}

/* Rate to 4 places, half to even, as a JSON number would print (or null). */
function rate(num, den) {
	if (den === 0)
		return null;
	const p = BigInt(num) * 10000n, d = BigInt(den);
	let q = p / d;
	const r2 = (p % d) * 2n;
	if (r2 > d || (r2 === d && q % 2n === 1n))
		q++;
	return Number(q) / 10000;
}

/* Nano-USD as the shortest decimal text. */
function usd(n) {
	const s = n.toString().padStart(10, '0');
	const f = s.slice(-9).replace(/0+$/, '');
	return s.slice(0, -9).replace(/^0+(?=\d)/, '') + (f ? '.' + f : '');
}

/* Read a JSONL dataset; each case keeps its cost as written. */
function readDataset(file) {
	return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => {
		const c = JSON.parse(l);
		const m = /"estimated_upstream_cost_usd":\s*([0-9.]+)/.exec(l);
		c.cost_text = m && Number(m[1]) > 0 ? m[1] : '0.002';
		return c;
	});
}

test('bench cache-safety', async (t) => {
	const env = await h.startEnv({ extraModels: [{ id: 'mock-gpt-2', provider: 'mock',
	    input_per_mtok: 0.15, output_per_mtok: 0.6, context_window: 128000,
	    max_output: 16384, capabilities: ['tools', 'json', 'vision', 'streaming'] }] });
	const bench = async (args) => {
		const r = await env.ctlAsync(['bench', 'cache-safety', '--key-env', 'BENCH_KEY'].concat(args));
		return r;
	};
	env.gwEnv.BENCH_KEY = env.key;
	const cases = readDataset(DATASET);
	/* The mock source behind the naive proxy, with the mock's key. */
	const toMock = async (body) => {
		const r = await h.request(env.mockUrl + '/v1/chat/completions', { method: 'POST',
		    body, headers: { authorization: 'Bearer ' + env.mockKey } });
		return { status: r.status, headers: r.headers, text: r.text };
	};
	try {
		await t.test('our dataset: 150 cases and more, each documented', () => {
			assert.ok(cases.length >= 150, String(cases.length));
			const ids = new Set();
			for (const c of cases) {
				assert.ok(!ids.has(c.id), 'duplicate id ' + c.id);
				ids.add(c.id);
				assert.ok(typeof c.notes === 'string' && c.notes.length > 5, c.id);
				assert.ok(c.old_request && c.new_request, c.id);
				/* Every request carries its case id: no two cases share one. */
				for (const r of [c.old_request, c.new_request])
					assert.ok(JSON.stringify(r).includes('[' + c.id + ']'), c.id);
			}
			const n = (f) => cases.filter(f).length;
			assert.equal(n((c) => c.expect === 'hit'), 63);
			assert.equal(n((c) => c.expect === 'miss'), 105);
			assert.equal(n((c) => c.category === 'semantic_trap'), 20);
		});

		await t.test('the gateway\'s exact cache: every expected hit but the findings, no trap', async () => {
			const r = await bench(['--url', env.url, '--dataset', DATASET,
			    '--format', 'json', '--concurrency', '4']);
			assert.equal(r.code, 0, r.stderr + r.stdout);
			const j = JSON.parse(r.stdout);
			assert.equal(j.total_pairs, cases.length);
			assert.equal(j.errors, 0, JSON.stringify(j.failures));
			/*
			 * It hits exactly the cases made to hit (same request in canonical
			 * form), but for the findings above; no trap.
			 */
			const want = cases.filter((c) => c.expect === 'hit' &&
			    !STREAM_NOT_STORED.includes(c.id)).map((c) => c.id)
			    .concat(SCHEMA_ORDER_BAD).sort();
			const hit = j.cases.filter((c) => c.layer !== 'miss').map((c) => c.id).sort();
			assert.deepEqual(hit, want);
			assert.equal(j.hits, want.length);
			assert.equal(j.bad_hits, SCHEMA_ORDER_BAD.length);
			assert.equal(j.missed_hits, STREAM_NOT_STORED.length);
			assert.equal(j.semantic_trap_failure_rate, 0);
			assert.deepEqual(j.failures.map((f) => f.id + ' ' + f.outcome).sort(),
			    STREAM_NOT_STORED.map((id) => id + ' missed_hit').concat(
			    SCHEMA_ORDER_BAD.map((id) => id + ' bad_hit')).sort());
			assert.ok(j.cases.every((c) => c.layer === 'miss' ? c.serve_mode === 'fresh' :
			    c.serve_mode === 'exact_cache'), JSON.stringify(j.cases));
			/* The figures doc/cachesafety.md publishes for exact mode. */
			assert.equal(j.hits, 63);
			assert.equal(j.safe_hit_rate, 0.3058);		/* 63/206 */
			assert.equal(j.bad_hit_rate, 0);
			assert.equal(j.cost_saved_per_1k_requests_usd, '0.618932039');
		});

		await t.test('the canonical layer: the figures doc/cachesafety.md publishes', async () => {
			const e2 = await h.startEnv({ workers: 1, extraConfig: { cache: { mode: 'canonical' } },
			    extraModels: [{ id: 'mock-gpt-2', provider: 'mock', input_per_mtok: 0.15,
			    output_per_mtok: 0.6, context_window: 128000, max_output: 16384,
			    capabilities: ['tools', 'json', 'vision', 'streaming'] }] });
			try {
				e2.gwEnv.BENCH_KEY = e2.key;
				const r = await e2.ctlAsync(['bench', 'cache-safety', '--key-env', 'BENCH_KEY',
				    '--url', e2.url, '--dataset', DATASET, '--format', 'json']);
				assert.equal(r.code, 0, r.stderr + r.stdout);
				const j = JSON.parse(r.stdout);
				assert.equal(j.hits, 78);
				assert.equal(j.safe_hit_rate, 0.3495);		/* 72/206 */
				assert.equal(j.bad_hit_rate, 0.0291);		/* 6/206 */
				assert.equal(j.semantic_trap_failure_rate, 0.048);	/* 6/125 */
				assert.equal(j.cost_saved_per_1k_requests_usd, '0.70631068');
				const canon = j.cases.filter((c) => c.serve_mode === 'canonical_cache')
				    .map((c) => c.id).sort();
				assert.deepEqual(canon, ['cs-same-05', 'cs-same-06', 'cs-same-07',
				    'cs-same-08', 'cs-same-09', 'cs-same-10', 'cs-same-11', 'cs-ws-01',
				    'cs-ws-02'].concat(CANONICAL_BAD).sort());
				assert.deepEqual(j.failures.filter((f) => f.outcome === 'bad_hit')
				    .map((f) => f.id).sort(), CANONICAL_BAD.concat(SCHEMA_ORDER_BAD).sort());
				assert.deepEqual(j.trap_failures_by_category, { whitespace: 6 });
			} finally {
				await e2.stop();
			}
		});

		await t.test('a naive cache keyed on the last user message: its bad hits exactly', async () => {
			const proxy = await naiveProxy(lastUser, toMock);
			try {
				const r = await bench(['--url', proxy.url + '/v1', '--dataset', DATASET,
				    '--format', 'json']);
				assert.equal(r.code, 0, r.stderr + r.stdout);
				const j = JSON.parse(r.stdout);
				/* What the proxy must have done, case by case. */
				const hits = new Set(cases.filter((c) => lastUser(c.old_request) ===
				    lastUser(c.new_request)).map((c) => c.id));
				const e = labExpect(cases, hits);
				assert.equal(j.errors, 0, JSON.stringify(j.failures));
				assert.equal(j.hits, hits.size);
				assert.equal(j.safe_hits, e.safe);
				assert.equal(j.bad_hits, e.bad);
				assert.equal(j.safe_hit_rate, rate(e.safe, e.total));
				assert.equal(j.bad_hit_rate, rate(e.bad, e.total));
				assert.equal(j.semantic_traps, e.traps);
				assert.equal(j.semantic_trap_failure_rate, rate(e.trapBad, e.traps));
				assert.equal(j.cost_saved_usd, usd(e.saved));
				assert.equal(j.cost_saved_per_1k_requests_usd,
				    usd((e.saved * 1000n * 2n + BigInt(e.total)) / (2n * BigInt(e.total))));
				assert.deepEqual(j.failures.filter((f) => f.outcome === 'bad_hit')
				    .map((f) => f.id), e.badIds);
				/* Pinned by hand from test/cachesafety/README.md. */
				assert.equal(e.badIds.length, 75);
				assert.deepEqual(e.badIds.slice(0, 17), ['cs-bigint-01', 'cs-seed-01',
				    'cs-temp-01', 'cs-temp-02', 'cs-topp-01', 'cs-pres-01', 'cs-maxtok-01',
				    'cs-stop-01', 'cs-logit-01', 'cs-sys-01', 'cs-sys-02', 'cs-name-01',
				    'cs-tools-01', 'cs-tools-02', 'cs-tools-03', 'cs-rf-01', 'cs-model-01']);
				for (const id of ['cs-seed-02', 'cs-seed-04', 'cs-temp-03', 'cs-topp-02',
				    'cs-n-01', 'cs-reason-01', 'cs-ptc-01', 'cs-rf-order-01'])
					assert.ok(e.badIds.includes(id), id);
				assert.equal(j.safe_hits, 64);
				assert.equal(j.semantic_traps, 125);
				assert.equal(j.semantic_trap_failure_rate, 0.592);	/* 74/125 */
				assert.equal(j.cache_layer_contribution.exact, 139);
				/* One source call per distinct key: 2 per miss, 1 per hit. */
				assert.equal(proxy.calls(), 2 * cases.length - hits.size);
			} finally {
				await proxy.close();
			}
			/* The text form says the same, on a new (empty) proxy. */
			const proxy2 = await naiveProxy(lastUser, toMock);
			try {
				const tx = await bench(['--url', proxy2.url, '--dataset', DATASET]);
				assert.equal(tx.code, 0, tx.stderr);
				assert.match(tx.stdout, /bad hit rate\s+0\.3641 \(75\/206\)/);
				assert.match(tx.stdout, /cs-model-01  model  bad_hit: a trap was served from the exact layer/);
				assert.match(tx.stdout, /failed traps by category\s+number 4, sampling 27, system 7, messages 9, tools 15, format 6, model 2, whitespace 4\n/);
			} finally {
				await proxy2.close();
			}
		});

		await t.test('a failing case is reported, the run goes on, the exit code says so', async () => {
			const file = path.join(env.tmp, 'mixed.jsonl');
			fs.writeFileSync(file, [cases[0], { id: 'unknown-model', category: 'x',
			    old_request: { model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] },
			    new_request: { model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] },
			    expect: 'hit' }].map((c) => JSON.stringify(c)).join('\n') + '\n');
			const r = await bench(['--url', env.url, '--dataset', file, '--format', 'json']);
			assert.equal(r.code, 1, r.stderr);
			const j = JSON.parse(r.stdout);
			assert.equal(j.total_pairs, 2);
			assert.equal(j.errors, 1);
			const f = j.failures.find((x) => x.id === 'unknown-model');
			assert.equal(f.outcome, 'error');
			assert.match(f.message, /^old_request: HTTP 404: /);
			assert.ok(!f.message.includes(env.key), 'the key leaked');
			/* A bad line stops before anything is sent, with FILE:LINE. */
			fs.writeFileSync(file, JSON.stringify(cases[0]) + '\n{"id":"x","old_request":1}\n');
			const b = await bench(['--url', env.url, '--dataset', file]);
			assert.equal(b.code, 1);
			assert.match(b.stderr, /mixed\.jsonl:2: x: old_request: not an object or a string/);
		});

		await t.test('promptset: the publication formulas on a naive prefix cache', async () => {
			const set = {
				version: 3,
				trapPairs: [
					{ pairId: 't1', first: { id: 't1-a', text: 'Who won the cup in 2018? Country only.',
					    expectKeywords: ['France'] }, second: { id: 't1-b', text:
					    'Who won the cup in 2022? Country only.', expectKeywords: ['Argentina'],
					    staleKeywords: ['France'] } },
					{ pairId: 't2', first: { id: 't2-a', text: 'Capital of Australia? City only.',
					    expectKeywords: ['Canberra'] }, second: { id: 't2-b', text:
					    'What is the capital of Austria? City only.', expectKeywords: ['Vienna'],
					    staleKeywords: ['Canberra'] } },
				],
				repeatPairs: [
					{ pairId: 'r1', first: { id: 'r1-a', text: 'Square root of 144? Number only.',
					    expectKeywords: ['12'] }, second: { id: 'r1-b', text:
					    'Square root of 144? Number only.', expectKeywords: ['12'] } },
					{ pairId: 'r2', first: { id: 'r2-a', text: 'Gas plants absorb? Name only.',
					    expectKeywords: ['carbon dioxide', 'CO2'] }, second: { id: 'r2-b', text:
					    'Gas plants absorb? Name only.', expectKeywords: ['carbon dioxide', 'CO2'] } },
				],
				freshQuestions: [
					{ id: 'f1', text: 'Who won the cup in 2006? Country only.', expectKeywords: ['France'] },
					{ id: 'f2', text: 'Smallest prime number? Number only.', expectKeywords: ['2'] },
				],
			};
			const answers = { 'Who won the cup in 2018? Country only.': 'France',
			    'Capital of Australia? City only.': 'Canberra',
			    'Square root of 144? Number only.': '12',
			    'Gas plants absorb? Name only.': 'Carbon dioxide (CO2)' };
			const file = path.join(env.tmp, 'set.json');
			fs.writeFileSync(file, JSON.stringify(set));
			/* Keyed on the first 20 characters: t1-b and f1 hit t1-a. */
			const proxy = await naiveProxy((b) => lastUser(b).slice(0, 20),
			    async (b) => oracleAnswer(answers[lastUser(b)] || 'I do not know'));
			try {
				const r = await bench(['--url', proxy.url, '--promptset', file, '--model', 'any',
				    '--format', 'json', '--input-price-per-1m', '0.15']);
				assert.equal(r.code, 0, r.stderr);
				const j = JSON.parse(r.stdout);
				assert.equal(j.scorecard, 'publication');
				assert.equal(j.sample_size, 10);
				assert.equal(j.safe_hit_rate, 1);		/* 2/2 */
				assert.equal(j.bad_hit_rate, 0.5);		/* t1-b only */
				assert.equal(j.semantic_trap_failure_rate, 0.5);	/* f1 */
				/* 10 calls x 4 cached tokens / 10 with prompt_tokens x 1000 x 0.15 / 1e6. */
				assert.equal(j.cost_saved_per_1k_requests, '0.0006');
				assert.deepEqual(j.failures.map((f) => f.id), ['t1-b', 'f1']);
				assert.equal(j.turns.find((x) => x.id === 't2-b').outcome, 'miss');
			} finally {
				await proxy.close();
			}
			/* An empty cohort is null, "n/a" in text; no price: null cost. */
			set.freshQuestions = [];
			fs.writeFileSync(file, JSON.stringify(set));
			const r = await bench(['--url', env.url, '--promptset', file, '--model', 'mock-gpt',
			    '--format', 'json']);
			assert.equal(r.code, 0, r.stderr);
			const j = JSON.parse(r.stdout);
			assert.equal(j.semantic_trap_failure_rate, null);
			assert.equal(j.cost_saved_per_1k_requests, null);
			assert.equal(j.safe_hit_rate, 0);
			assert.equal(j.bad_hit_rate, 0);
			const tx = await bench(['--url', env.url, '--promptset', file, '--model', 'mock-gpt']);
			assert.match(tx.stdout, /semantic trap failure rate\s+n\/a/);
		});

		await t.test('the public data, when present', { skip: !HAVE_PUBLIC && 'no ' + PUBLIC },
		    async () => {
			const pairs = path.join(PUBLIC, 'support_pairs.jsonl');
			const g = await bench(['--url', env.url, '--dataset', pairs, '--model', 'mock-gpt',
			    '--format', 'json']);
			assert.equal(g.code, 0, g.stderr + g.stdout);
			let j = JSON.parse(g.stdout);
			assert.equal(j.total_pairs, 6);
			/* With --model, 001 and 005 are the same request: exact hits, both safe. */
			assert.equal(j.hits, 2);
			assert.equal(j.safe_hit_rate, 0.3333);
			assert.equal(j.bad_hit_rate, 0);
			const proxy = await naiveProxy(lastUser, toMock);
			try {
				const r = await bench(['--url', proxy.url, '--dataset', pairs, '--model',
				    'mock-gpt', '--format', 'json']);
				assert.equal(r.code, 0, r.stderr);
				j = JSON.parse(r.stdout);
				/* 001 and 005 (same text) hit, both safe: 2/6, 0.0041 saved. */
				const pub = readDataset(pairs);
				const e = labExpect(pub, new Set(['sample_001', 'sample_005']));
				assert.equal(j.safe_hit_rate, rate(e.safe, 6));
				assert.equal(j.safe_hit_rate, 0.3333);
				assert.equal(j.bad_hit_rate, 0);
				assert.equal(j.cost_saved_usd, '0.0041');
				assert.equal(j.cost_saved_per_1k_requests_usd, '0.683333333');
			} finally {
				await proxy.close();
			}
			const p = await bench(['--url', env.url, '--promptset', path.join(PUBLIC,
			    'promptset_v3.json'), '--model', 'mock-gpt', '--format', 'json']);
			assert.equal(p.code, 0, p.stderr);
			j = JSON.parse(p.stdout);
			assert.equal(j.sample_size, 50);
			/* Traps and fresh questions differ from what came before: no hit. */
			assert.equal(j.bad_hit_rate, 0);
			assert.equal(j.semantic_trap_failure_rate, 0);
		});
	} finally {
		await env.stop();
	}
});
