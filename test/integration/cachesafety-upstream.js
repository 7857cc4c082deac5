/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodelctl bench cache-safety --detect upstream, run for real: the
 * bench's own counting source behind the gateway (the same hits as the
 * x-nextmodel-serve-mode header shows, and none with the cache off),
 * behind caching proxies written here that send no header (a naive one,
 * whose bad hits only the counting source can see; one that calls the
 * source but serves an old answer; one that forges nonces), and the
 * source itself: its routes, limits, SSE chunks, and that it stops with
 * the bench.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const child_process = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const h = require('./harness.js');

h.requireBuild();

const DATASET = path.join(h.SRCDIR, 'test', 'cachesafety', 'pairs.jsonl');
const CTL = path.join(h.BUILDDIR, 'nextmodelctl');
const MODEL2 = { id: 'mock-gpt-2', provider: 'mock', input_per_mtok: 0.15,
    output_per_mtok: 0.6, context_window: 128000, max_output: 16384,
    capabilities: ['tools', 'json', 'vision', 'streaming'] };

/* The text of the last user message of a chat body. */
function lastUser(body) {
	let t = '';
	for (const m of body.messages || [])
		if (m.role === 'user')
			t = typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
	return t;
}

/* Start the bench; resolves {code, stdout, stderr} when it exits; .proc is the child. */
function startBench(args, env) {
	const c = h.spawnTracked(CTL, ['bench', 'cache-safety'].concat(args),
	    { env: Object.assign({}, process.env, env || {}), stdio: ['ignore', 'pipe', 'pipe'] });
	let out = '', err = '';
	c.stdout.on('data', (d) => { out += d; });
	c.stderr.on('data', (d) => { err += d; });
	const timer = setTimeout(() => h.signal(c.pid, 'SIGKILL'), 240000);
	const done = c.nmExit.then((r) => {
		clearTimeout(timer);
		return { code: r.code, signal: r.signal, stdout: out, stderr: err };
	});
	done.proc = c;
	return done;
}

/* Run the bench to the end and parse its JSON report. */
async function benchJson(args, env) {
	const r = await startBench(args.concat(['--format', 'json']), env);
	assert.ok(r.code === 0 || r.code === 1, r.stderr);
	let j;
	try {
		j = JSON.parse(r.stdout);
	} catch (e) {
		assert.fail('no JSON report: ' + r.stderr + r.stdout);
	}
	return Object.assign(j, { code: r.code, stderr: r.stderr });
}

/* POST body (raw text) to url with auth; resolves {status, headers, text}. */
function post(url, text, auth) {
	return new Promise((resolve, reject) => {
		const req = http.request(url, { method: 'POST', headers: {
		    'content-type': 'application/json', authorization: auth || 'Bearer none' } }, (res) => {
			const parts = [];
			res.on('data', (d) => parts.push(d));
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
			    text: Buffer.concat(parts).toString('utf8') }));
		});
		req.on('error', reject);
		req.end(text);
	});
}

/*
 * A caching layer that sends no serve-mode header, in front of target()
 * (a base URL ending in /v1).  kind: 'naive' answers a known key from its
 * store without calling upstream; 'liar' always calls upstream but
 * serves the stored answer of a known key; 'forger' calls upstream and
 * swaps the nonce's run id for zeros.  Resolves {url, close, calls()}.
 */
function layer(kind, keyOf, target, port) {
	const store = new Map();
	let calls = 0;
	const srv = http.createServer((req, res) => {
		const parts = [];
		req.on('data', (d) => parts.push(d));
		req.on('end', async () => {
			const raw = Buffer.concat(parts).toString('utf8');
			let body;
			try {
				body = JSON.parse(raw);
			} catch (e) {
				res.writeHead(400, { 'content-type': 'application/json' });
				res.end('{"error":{"message":"bad JSON","type":"invalid_request_error"}}');
				return;
			}
			const key = keyOf(body);
			let a = kind === 'naive' ? store.get(key) : undefined;
			if (!a) {
				calls++;
				try {
					a = await post(target() + '/chat/completions', raw,
					    req.headers.authorization);
				} catch (e) {
					res.writeHead(502, { 'content-type': 'application/json' });
					res.end('{"error":{"message":"upstream down","type":"server_error"}}');
					return;
				}
				if (kind === 'forger')
					a.text = a.text.replace(/nmbench-[0-9a-f]{16}-/g, 'nmbench-0000000000000000-');
				if (kind === 'liar' && store.has(key))
					a = store.get(key);
				else if (a.status === 200)
					store.set(key, a);
			}
			res.writeHead(a.status, { 'content-type': a.headers['content-type'] });
			res.end(a.text);
		});
	});
	return new Promise((resolve) => srv.listen(port || 0, '127.0.0.1', () => resolve({
		url: 'http://127.0.0.1:' + srv.address().port,
		calls: () => calls,
		close: () => new Promise((r) => {
			srv.closeAllConnections();
			srv.close(r);
		}),
	})));
}

/* 1 if something accepts a TCP connection on port. */
function listening(port) {
	return new Promise((resolve) => {
		const s = net.connect({ port, host: '127.0.0.1' });
		s.on('connect', () => { s.destroy(); resolve(true); });
		s.on('error', () => resolve(false));
	});
}

/* A scratch folder for this file's tests, removed at the end. */
const TMP = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'nm-csu-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));

const cases = fs.readFileSync(DATASET, 'utf8').split('\n').filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
const expectHit = cases.filter((c) => c.expect === 'hit').map((c) => c.id).sort();

/* A gateway whose provider of mock-gpt and mock-gpt-2 is the bench's source on port. */
function gatewayOnSource(port, cacheMode) {
	return h.startEnv({ workers: 1, extraModels: [MODEL2],
	    extraConfig: cacheMode ? { cache: { mode: cacheMode } } : undefined,
	    extraProviders: { mock: { kind: 'openai', base_url: 'http://127.0.0.1:' + port + '/v1',
	    api_key_env: 'MOCK_API_KEY' } } });
}

test('bench cache-safety --detect upstream', async (t) => {
	await t.test('usage: upstream options need --detect upstream, one request at a time', async () => {
		let r = await startBench(['--url', 'http://127.0.0.1:9', '--key', 'k', '--dataset', DATASET,
		    '--upstream-listen', '127.0.0.1:0']);
		assert.equal(r.code, 2);
		assert.match(r.stderr, /need --detect upstream/);
		r = await startBench(['--url', 'http://127.0.0.1:9', '--key', 'k', '--dataset', DATASET,
		    '--detect', 'upstream', '--concurrency', '4']);
		assert.equal(r.code, 2);
		assert.match(r.stderr, /one at a time/);
		r = await startBench(['--url', 'http://127.0.0.1:9', '--key', 'k', '--dataset', DATASET,
		    '--detect', 'sideways']);
		assert.equal(r.code, 2);
		r = await startBench(['--url', 'http://127.0.0.1:9', '--key', 'k', '--dataset', DATASET,
		    '--detect', 'upstream', '--upstream-listen', 'nonsense']);
		assert.equal(r.code, 1);
		assert.match(r.stderr, /--upstream-listen: HOST:PORT/);
	});

	await t.test('the gateway: the same hits as the header says, all safe, no inconsistency', async () => {
		/* Header mode first, on a gateway in front of the mock source. */
		const e1 = await h.startEnv({ workers: 1, extraModels: [MODEL2] });
		let hdr;
		try {
			hdr = await benchJson(['--url', e1.url, '--key-env', 'BENCH_KEY', '--dataset', DATASET],
			    { BENCH_KEY: e1.key });
		} finally {
			await e1.stop();
		}
		assert.equal(hdr.detect, 'header');
		assert.equal(hdr.upstream, undefined);
		const port = await h.freePort();
		const e2 = await gatewayOnSource(port);
		try {
			const j = await benchJson(['--url', e2.url, '--key-env', 'BENCH_KEY', '--dataset',
			    DATASET, '--detect', 'upstream', '--upstream-listen', '127.0.0.1:' + port],
			    { BENCH_KEY: e2.key });
			assert.equal(j.code, 0, j.stderr + JSON.stringify(j.failures));
			assert.equal(j.detect, 'upstream');
			assert.match(j.stderr, new RegExp('counting source listening at http://127\\.0\\.0\\.1:' +
			    port + '/v1 '));
			assert.equal(j.upstream.url, 'http://127.0.0.1:' + port + '/v1');
			assert.deepEqual(j.inconsistencies, []);
			assert.equal(j.upstream.inconsistencies, 0);
			assert.equal(j.errors, 0);
			const hits = j.cases.filter((c) => c.layer !== 'miss').map((c) => c.id).sort();
			assert.deepEqual(hits, expectHit);
			assert.deepEqual(hits, hdr.cases.filter((c) => c.layer !== 'miss').map((c) => c.id).sort());
			/* Case by case, the same layer and outcome as the header showed. */
			for (let i = 0; i < cases.length; i++) {
				assert.equal(j.cases[i].id, hdr.cases[i].id);
				assert.equal(j.cases[i].layer, hdr.cases[i].layer, j.cases[i].id);
				assert.equal(j.cases[i].outcome, hdr.cases[i].outcome, j.cases[i].id);
				assert.equal(j.cases[i].source_calls, j.cases[i].layer === 'miss' ? 1 : 0,
				    j.cases[i].id);
			}
			for (const k of ['hits', 'safe_hits', 'bad_hits', 'missed_hits', 'safe_hit_rate',
			    'bad_hit_rate', 'semantic_trap_failure_rate', 'cost_saved_usd',
			    'cost_saved_per_1k_requests_usd'])
				assert.deepEqual(j[k], hdr[k], k);
			assert.equal(j.bad_hits, 0);
			assert.equal(j.safe_hit_rate, 0.3058);		/* 63/206 */
			assert.equal(j.cache_layer_contribution.exact, 63);
			assert.equal(j.cache_layer_contribution.unlabeled, 0);
			/* One call per first request and per second that missed. */
			assert.equal(j.upstream.source_calls, 2 * cases.length - 63);
		} finally {
			await e2.stop();
		}
		/* The source stopped with the bench. */
		assert.equal(await listening(port), false);
	});

	await t.test('negative control: the gateway with its cache off hits nothing', async () => {
		const port = await h.freePort();
		const e = await gatewayOnSource(port, 'off');
		try {
			const j = await benchJson(['--url', e.url, '--key-env', 'BENCH_KEY', '--dataset',
			    DATASET, '--detect', 'upstream', '--upstream-listen', '127.0.0.1:' + port],
			    { BENCH_KEY: e.key });
			assert.equal(j.errors, 0, JSON.stringify(j.failures.slice(0, 3)));
			assert.equal(j.hits, 0);
			assert.equal(j.safe_hits, 0);
			assert.equal(j.safe_hit_rate, 0);
			assert.equal(j.bad_hit_rate, 0);
			assert.equal(j.missed_hits, 63);
			assert.deepEqual(j.inconsistencies, []);
			assert.equal(j.upstream.source_calls, 2 * cases.length);
			assert.ok(j.cases.every((c) => c.source_calls === 1));
		} finally {
			await e.stop();
		}
	});

	await t.test('a naive cache with no header: the header sees nothing, the source sees its bad hits',
	    async () => {
		const e = await h.startEnv({ workers: 1, extraModels: [MODEL2] });
		try {
			/* Header mode in front of the mock: no header, so no hit at all. */
			const toMock = await layer('naive', lastUser, () => e.mockUrl + '/v1');
			let j;
			try {
				j = await benchJson(['--url', toMock.url, '--key', e.mockKey, '--dataset', DATASET]);
			} finally {
				await toMock.close();
			}
			assert.equal(j.errors, 0, JSON.stringify(j.failures.slice(0, 3)));
			assert.equal(j.hits, 0);
			assert.equal(j.bad_hits, 0);
		} finally {
			await e.stop();
		}
		const port = await h.freePort();
		const naive = await layer('naive', lastUser, () => 'http://127.0.0.1:' + port + '/v1');
		try {
			const j = await benchJson(['--url', naive.url, '--key', 'any', '--dataset', DATASET,
			    '--detect', 'upstream', '--upstream-listen', '127.0.0.1:' + port]);
			const hits = new Set(cases.filter((c) => lastUser(c.old_request) ===
			    lastUser(c.new_request)).map((c) => c.id));
			assert.equal(j.errors, 0, JSON.stringify(j.failures.slice(0, 3)));
			assert.deepEqual(j.cases.filter((c) => c.layer !== 'miss').map((c) => c.id).sort(),
			    [...hits].sort());
			assert.ok(j.cases.every((c) => c.layer === 'miss' || c.layer === 'unlabeled'));
			/* The figures test/cachesafety/README.md gives for this cache. */
			assert.equal(j.hits, 139);
			assert.equal(j.safe_hits, 64);
			assert.equal(j.bad_hits, 75);
			assert.equal(j.bad_hit_rate, 0.3641);
			assert.equal(j.semantic_trap_failure_rate, 0.592);	/* 74/125 */
			assert.equal(j.cache_layer_contribution.unlabeled, 139);
			assert.deepEqual(j.inconsistencies, []);
			assert.equal(j.upstream.source_calls, naive.calls());
			assert.equal(naive.calls(), 2 * cases.length - hits.size);
			/* The text report names the detection and the bad hits. */
			const tx = await startBench(['--url', naive.url, '--key', 'any', '--dataset', DATASET,
			    '--detect', 'upstream', '--upstream-listen', '127.0.0.1:' + port]);
			/* Its store is full now: every request hits, the source is never called. */
			assert.equal(tx.code, 1, tx.stderr);
			assert.match(tx.stderr, /the counting source was never called: is the layer's upstream http:\/\/127\.0\.0\.1:\d+\/v1, and its cache empty\?/);
			assert.match(tx.stdout, /\(detect: upstream\)/);
			assert.match(tx.stdout, /cs-model-01  model  bad_hit: a trap was served from a cache \(the source was not called\)/);
			assert.match(tx.stdout, /counting source calls\s+0 /);
			/* Old answers from the first run: nonces this run never issued. */
			assert.match(tx.stdout, /inconsistencies\s+206\n/);
			assert.match(tx.stdout, /cs-exact-01  old_request: a nonce the counting source never issued/);
		} finally {
			await naive.close();
		}
	});

	await t.test('a layer that calls the source but serves an old answer, and one that forges nonces',
	    async () => {
		const port = await h.freePort();
		const src = () => 'http://127.0.0.1:' + port + '/v1';
		const liar = await layer('liar', lastUser, src);
		try {
			const j = await benchJson(['--url', liar.url, '--key', 'any', '--dataset', DATASET,
			    '--detect', 'upstream', '--upstream-listen', '127.0.0.1:' + port]);
			/* The same hits as the naive cache, each with a call the answer ignored. */
			assert.equal(j.hits, 139);
			assert.equal(j.bad_hits, 75);
			assert.equal(j.inconsistencies.length, 139);
			assert.match(j.inconsistencies[0].message, /^new_request: the source was called 1 time\(s\) for it, yet the answer of an older call \(#1\) was served$/);
			assert.equal(j.upstream.source_calls, 2 * cases.length);
		} finally {
			await liar.close();
		}
		const forger = await layer('forger', lastUser, src);
		try {
			const j = await benchJson(['--url', forger.url, '--key', 'any', '--dataset', DATASET,
			    '--detect', 'upstream', '--upstream-listen', '127.0.0.1:' + port]);
			assert.equal(j.hits, 0);
			assert.equal(j.inconsistencies.length, cases.length);
			assert.match(j.inconsistencies[0].message, /^old_request: a nonce the counting source never issued .*; new_request: a nonce the counting source never issued/);
		} finally {
			await forger.close();
		}
	});

	await t.test('a promptset: the source answers each turn with its keywords', async () => {
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
		const file = path.join(TMP, 'set.json');
		fs.writeFileSync(file, JSON.stringify(set));
		const port = await h.freePort();
		/* Keyed on the first 20 characters: t1-b and f1 hit t1-a. */
		const proxy = await layer('naive', (b) => lastUser(b).slice(0, 20),
		    () => 'http://127.0.0.1:' + port + '/v1');
		try {
			const j = await benchJson(['--url', proxy.url, '--key', 'any', '--promptset', file,
			    '--model', 'any', '--detect', 'upstream', '--upstream-listen', '127.0.0.1:' + port]);
			assert.equal(j.code, 0, j.stderr);
			assert.equal(j.detect, 'upstream');
			assert.equal(j.sample_size, 10);
			assert.equal(j.safe_hit_rate, 1);		/* r1-b, r2-b: the first's keywords */
			assert.equal(j.bad_hit_rate, 0.5);		/* t1-b, served t1-a's France */
			assert.equal(j.semantic_trap_failure_rate, 0.5);	/* f1 */
			assert.deepEqual(j.failures.map((f) => f.id), ['t1-b', 'f1']);
			const turn = (id) => j.turns.find((x) => x.id === id);
			assert.equal(turn('t1-b').outcome, 'bad_hit');
			assert.equal(turn('t1-b').layer, 'unlabeled');
			assert.equal(turn('t2-b').outcome, 'miss');
			assert.equal(turn('r1-b').outcome, 'safe_hit');
			assert.equal(turn('r2-b').source_calls, 0);
			assert.equal(turn('t2-b').source_calls, 1);
			/* f1 is a first request served another's answer: noted, not inconsistent. */
			assert.deepEqual(j.inconsistencies, []);
			assert.equal(j.cost_saved_per_1k_requests, null);
		} finally {
			await proxy.close();
		}
	});

	await t.test('scripting: a ready file, the source itself, then a layer started late', async () => {
		const dir = TMP;
		const ready = path.join(dir, 'source.url');
		const lport = await h.freePort();
		const small = path.join(dir, 'small.jsonl');
		fs.writeFileSync(small, fs.readFileSync(DATASET, 'utf8').split('\n').slice(0, 3).join('\n') + '\n');
		const run = startBench(['--url', 'http://127.0.0.1:' + lport, '--key', 'any', '--dataset', small,
		    '--detect', 'upstream', '--upstream-ready-file', ready, '--upstream-wait', '60',
		    '--format', 'json']);
		await h.waitFor(() => fs.existsSync(ready), 20000);
		const url = fs.readFileSync(ready, 'utf8').trim();
		assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
		/* The source: any key, any model; JSON and SSE with usage; bounded. */
		const models = await h.request(url + '/models');
		assert.equal(models.status, 200);
		assert.equal(models.json.object, 'list');
		const a = await h.request(url + '/chat/completions', { method: 'POST', body: {
		    model: 'whatever-model', n: 2, messages: [{ role: 'user', content: 'hi' }] } });
		assert.equal(a.status, 200);
		assert.equal(a.json.model, 'whatever-model');
		assert.equal(a.json.choices.length, 2);
		assert.match(a.json.choices[0].message.content, /^Counted answer nmbench-[0-9a-f]{16}-1\.$/);
		assert.ok(a.json.usage.prompt_tokens > 0 && a.json.usage.total_tokens > 0);
		const OpenAI = h.requirePackage('openai');
		const client = new OpenAI({ apiKey: 'not-checked', baseURL: url });
		const s = await client.chat.completions.create({ model: 'm', stream: true,
		    stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'yo' }] });
		let text = '', usage = null;
		for await (const ch of s) {
			if (ch.choices.length > 0 && ch.choices[0].delta.content)
				text += ch.choices[0].delta.content;
			if (ch.usage)
				usage = ch.usage;
		}
		assert.match(text, /^Counted answer nmbench-[0-9a-f]{16}-2\.$/);
		assert.ok(usage && usage.completion_tokens > 0);
		const bad = await h.request(url + '/chat/completions', { method: 'POST', body: '{"x":' });
		assert.equal(bad.status, 400);
		h.assertErrorShape(bad.json, 'bad JSON');
		const big = await h.request(url + '/chat/completions', { method: 'POST',
		    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content:
		    'x'.repeat(5 * 1024 * 1024) }] }) });
		assert.equal(big.status, 413);
		assert.equal((await h.request(url.replace('/v1', '/nothing'))).status, 404);
		/* Now the layer comes up where --url points; the bench goes on. */
		const naive = await layer('naive', lastUser, () => url, lport);
		try {
			const r = await run;
			assert.equal(r.code, 0, r.stderr);
			const j = JSON.parse(r.stdout);
			assert.equal(j.total_pairs, 3);
			assert.equal(j.hits, 3);
			assert.deepEqual(j.inconsistencies, []);
			assert.equal(j.upstream.source_calls, 2 + 3);	/* the 2 above, 3 firsts */
		} finally {
			await naive.close();
		}
		assert.equal(fs.existsSync(ready), false, 'the ready file is removed at the end');
	});
});
