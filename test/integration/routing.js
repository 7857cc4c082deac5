/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Routing policies in the gateway: a virtual model routed by a rule; a
 * source that cannot be reached gives way to the next target, translated
 * to its own wire format, and the receipt lists every attempt and the
 * rule; cheapest picks by estimated cost; a workload rule turns the cache
 * off; a SIGHUP with a changed policy is followed by the traffic, with no
 * failed request during the reload.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');
const { startDelayProxy } = require(path.join(h.SRCDIR, 'bench', 'redis-delay.js'));

h.requireBuild();
const OpenAI = h.requirePackage('openai');

function model(id, provider, upstream, inp, out) {
	return { id, provider, upstream_model: upstream, input_per_mtok: inp,
	    output_per_mtok: out, context_window: 128000, max_output: 4096,
	    capabilities: ['tools', 'json', 'vision', 'streaming'], region: 'global',
	    latency_ms: 500 };
}

/* A source that always answers status (or, with 0, never answers). */
function badSource(status) {
	const srv = require('node:http').createServer((req, res) => {
		req.resume();
		if (status === 0)
			return;		/* hangs: the attempt times out */
		res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '1' });
		res.end(JSON.stringify({ error: { message: 'bad source ' + status,
		    type: status === 429 ? 'rate_limit_exceeded' : 'server_error', param: null,
		    code: null } }));
	});
	return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
		port: srv.address().port,
		close: () => { srv.closeAllConnections(); srv.close(); } })));
}

const POLICY = `
rules:
  - name: chain
    match:
      model: chain
    models: [route-429, route-500, route-hang, mock-gpt]
    strategy: ordered
  - name: keyless
    match:
      model: keyless
    models: [route-nokey, mock-gpt]
    strategy: ordered
  - name: staging-cheap
    match:
      environment: staging
      model: mock-gpt
    models: [route-cheap]
  - name: research-budget
    match:
      project: research*
    models: [requested]
    budget:
      - at: 80%
        use: [route-cheap]
      - at: 100%
        refuse: The research budget is spent.
  - name: auto-fallback
    match:
      model: auto
    models: [route-dead, route-claude, mock-gpt]
    strategy: ordered
  - name: cheap
    match:
      model: cheap
    models: [mock-gpt, route-cheap]
    strategy: cheapest
  - name: fast
    match:
      model: fast
    models: [route-slow, route-quick]
    strategy: fastest
  - name: eval-no-cache
    match:
      workload: agent.*
    cache: off
`;

test('routing policies', async (t) => {
	const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'nm-policies-'));
	fs.writeFileSync(path.join(dir, 'rules.yaml'), POLICY);
	const bad = { s429: await badSource(429), s500: await badSource(500), hang: await badSource(0) };
	const at = (s) => 'http://127.0.0.1:' + s.port + '/v1';
	const env = await h.startEnv({ workers: 2,
	    extraProviders: {
		/* Nothing listens there: the connection is refused. */
		dead: { kind: 'openai', base_url: 'http://127.0.0.1:1/v1', api_key_env: 'MOCK_API_KEY',
		    connect_timeout_ms: 2000 },
		claude: { kind: 'anthropic', api_key_env: 'MOCK_API_KEY', mock_path: '' },
		/* Pointed at a delaying proxy in front of the mock once it runs. */
		slowp: { kind: 'openai', base_url: 'http://127.0.0.1:1/v1', api_key_env: 'MOCK_API_KEY' },
		p429: { kind: 'openai', base_url: at(bad.s429), api_key_env: 'MOCK_API_KEY' },
		p500: { kind: 'openai', base_url: at(bad.s500), api_key_env: 'MOCK_API_KEY' },
		phang: { kind: 'openai', base_url: at(bad.hang), api_key_env: 'MOCK_API_KEY',
		    timeout_ms: 1000 },
		/* Its key variable is not set. */
		nokey: { kind: 'openai', base_url: at(bad.s500), api_key_env: 'NM_TEST_UNSET_KEY' },
	    },
	    extraModels: [model('route-dead', 'dead', 'dead-up', 0.1, 0.1),
		model('route-claude', 'claude', 'claude-mock-upstream', 3, 15),
		model('route-cheap', 'mock', 'mock-cheap-up', 0.01, 0.02),
		/* Priors: the slow one looks faster until measured. */
		Object.assign(model('route-slow', 'slowp', 'slow-up', 0.1, 0.1), { latency_ms: 100 }),
		Object.assign(model('route-quick', 'mock', 'quick-up', 0.1, 0.1), { latency_ms: 200 }),
		model('route-429', 'p429', 'x-up', 0.1, 0.1), model('route-500', 'p500', 'x-up', 0.1, 0.1),
		model('route-hang', 'phang', 'x-up', 0.1, 0.1),
		model('route-nokey', 'nokey', 'x-up', 0.01, 0.01)],
	    extraConfig: { policies: dir, circuit_failures: 3, circuit_window_s: 30,
		circuit_cooldown_s: 3 } });
	let proxy = null;
	try {
		const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0 });

		await t.test('fallback: the next target, in its own wire format', async () => {
			const { data, response } = await client.chat.completions.create({
			    model: 'auto', messages: [{ role: 'user', content: 'route me [[mock:text]]' }] },
			    { headers: { 'cache-control': 'no-store' } }).withResponse();
			assert.match(data.choices[0].message.content, /route me/);
			assert.equal(response.headers.get('x-nextmodel-model'), 'route-claude');
			assert.equal(response.headers.get('x-nextmodel-provider'), 'claude');
			const rc = JSON.parse((await h.getReceipt(env,
			    response.headers.get('x-nextmodel-receipt-url'))).text);
			assert.equal(rc.policy_rule, 'auto-fallback');
			assert.equal(rc.model_requested, 'auto');
			assert.equal(rc.model, 'route-claude');
			assert.deepEqual(rc.attempts.map((a) => [a.model, a.provider, a.status]),
			    [['route-dead', 'dead', 0], ['route-claude', 'claude', 200]]);
		});

		await t.test('fallback order: 429, then 500, then a timeout, then an answer', async () => {
			const r = await env.chat({ model: 'chain', messages: [{ role: 'user',
			    content: 'through the chain [[mock:text]]' }] }, { headers: { 'cache-control': 'no-store' } });
			assert.equal(r.status, 200, r.text);
			assert.equal(r.headers['x-nextmodel-model'], 'mock-gpt');
			const rc = JSON.parse((await h.getReceipt(env, r.headers['x-nextmodel-receipt-url'])).text);
			assert.equal(rc.policy_rule, 'chain');
			assert.deepEqual(rc.attempts.map((a) => [a.model, a.status]),
			    [['route-429', 429], ['route-500', 500], ['route-hang', 0], ['mock-gpt', 200]]);
			assert.ok(rc.attempts[2].latency_ms >= 900, 'the timeout came early');
		});

		await t.test('a source without a key is dropped before any call', async () => {
			const r = await env.chat({ model: 'keyless', messages: [{ role: 'user',
			    content: 'keyless [[mock:text]]' }] }, { headers: { 'cache-control': 'no-store' } });
			assert.equal(r.status, 200, r.text);
			const rc = JSON.parse((await h.getReceipt(env, r.headers['x-nextmodel-receipt-url'])).text);
			assert.deepEqual(rc.attempts.map((a) => a.model), ['mock-gpt']);
			/* Only keyless targets: a clear 502, no call. */
			const e = await env.chat({ model: 'route-nokey', messages: [{ role: 'user',
			    content: 'x' }] });
			assert.equal(e.status, 502);
			assert.match(e.json.error.message, /not configured/);
		});

		await t.test('a stream falls back too, before its first byte', async () => {
			const s = await env.stream({ model: 'auto', stream: true, messages: [{ role: 'user',
			    content: 'stream route [[mock:text]]' }] }, { headers: { 'cache-control': 'no-store' } });
			assert.equal(s.status, 200);
			assert.equal(s.headers['x-nextmodel-model'], 'route-claude');
			assert.match(h.streamText(s), /stream route/);
		});

		await t.test('cheapest: the cheaper model by estimated cost', async () => {
			const r = await env.chat({ model: 'cheap', messages: [{ role: 'user', content: 'x' }] });
			assert.equal(r.status, 200, r.text);
			assert.equal(r.headers['x-nextmodel-model'], 'route-cheap');
		});

		await t.test('fastest: moves to the faster source once measured', async () => {
			proxy = await startDelayProxy(env.mockPort, 150);
			env.opts.extraProviders.slowp.base_url = 'http://127.0.0.1:' + proxy.port + '/v1';
			const served = (env.log().match(/generation \d+ serving/g) || []).length;
			env.reload(env.configText());
			/* Until the new generation serves, the old one's slowp goes nowhere. */
			assert.ok(await h.waitFor(() => (env.log().match(/generation \d+ serving/g) ||
			    []).length > served, 15000, 50), 'the reload never settled');
			await h.sleep(300);
			const seen = [];
			for (let i = 0; i < 20; i++) {
				const r = await env.chat({ model: 'fast', messages: [{ role: 'user',
				    content: 'speed ' + i }] }, { headers: { 'cache-control': 'no-store' } });
				assert.equal(r.status, 200, r.text);
				seen.push(r.headers['x-nextmodel-model']);
				if (seen[seen.length - 1] === 'route-quick')
					break;
				await h.sleep(400);
			}
			assert.equal(seen[0], 'route-slow', 'the prior was not used first: ' + seen);
			assert.equal(seen[seen.length - 1], 'route-quick', 'never moved: ' + seen);
			const lat = env.redisCmd(['HGET', 'nm:{h:slowp}:lat:route-slow', 'ewma_ms']).trim();
			assert.ok(Number(lat) >= 250, 'measured ' + lat + ' ms');
		});

		await t.test('circuit breaker: a failing source rests, then is tried again', async () => {
			/* The dead source failed in the first subtests; fail it 3 times more. */
			for (let i = 0; i < 3; i++)
				await env.chat({ model: 'auto', messages: [{ role: 'user', content: 'cb ' + i +
				    ' [[mock:text]]' }] }, { headers: { 'cache-control': 'no-store' } });
			assert.equal(env.redisCmd(['EXISTS', 'nm:{h:dead}:open']).trim(), '1');
			await h.sleep(1500);	/* every worker's table is refreshed each second */
			const m = (await h.request(env.url + '/metrics')).text;
			assert.match(m, /nextmodel_source_cooling\{provider="dead"\} 1/);
			assert.match(m, /nextmodel_source_cooling\{provider="claude"\} 0/);
			const r = await env.chat({ model: 'auto', messages: [{ role: 'user',
			    content: 'while it rests [[mock:text]]' }] }, { headers: { 'cache-control': 'no-store' } });
			assert.equal(r.status, 200);
			let rc = JSON.parse((await h.getReceipt(env, r.headers['x-nextmodel-receipt-url'])).text);
			assert.deepEqual(rc.attempts.map((a) => a.model), ['route-claude']);
			/* After the cool-down it is tried again (and fails again). */
			await h.sleep(4000);
			const r2 = await env.chat({ model: 'auto', messages: [{ role: 'user',
			    content: 'after the rest [[mock:text]]' }] }, { headers: { 'cache-control': 'no-store' } });
			rc = JSON.parse((await h.getReceipt(env, r2.headers['x-nextmodel-receipt-url'])).text);
			assert.deepEqual(rc.attempts.map((a) => a.model), ['route-dead', 'route-claude']);
		});

		await t.test('budget steps: a cheaper model at 80%, a refusal at 100%', async () => {
			const key = env.ctl(['key', 'create', '--project', 'research-x']).stdout.trim();
			assert.equal(env.ctl(['budget', 'set', '--project', 'research-x', '--limit-usd', '1',
			    '--period', 'month']).code, 0);
			const bkey = 'nm:{p:research-x}:budget:project';
			const ask = () => env.chat({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'research [[mock:text]]' }] }, { key, headers: { 'cache-control': 'no-store' } });
			assert.equal((await ask()).headers['x-nextmodel-model'], 'mock-gpt');
			/* 85% spent: once a worker has seen it, the rule's cheaper model. */
			env.redisCmd(['HSET', bkey, 'spent_nano', '850000000']);
			let seen = [];
			for (let i = 0; i < 8; i++)
				seen.push((await ask()).headers['x-nextmodel-model']);
			assert.ok(seen.slice(-2).every((m) => m === 'route-cheap'), seen.join(' '));
			/* All spent: refused by the budget, then by the rule itself. */
			env.redisCmd(['HSET', bkey, 'spent_nano', '1000000000']);
			seen = [];
			for (let i = 0; i < 6; i++) {
				const r = await ask();
				assert.equal(r.status, 402, r.text);
				seen.push(r.json.error.message);
			}
			assert.ok(seen.some((m) => /research budget is spent/.test(m)), seen.join(' | '));
		});

		await t.test('a key\'s environment label is matched by a rule', async () => {
			const k = env.ctl(['key', 'create', '--project', 'envp', '--environment', 'staging']);
			assert.equal(k.code, 0, k.stderr);
			const key = k.stdout.trim();
			const r = await env.chat({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'env [[mock:text]]' }] }, { key, headers: { 'cache-control': 'no-store' } });
			assert.equal(r.headers['x-nextmodel-model'], 'route-cheap');
			const p = await env.chat({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'env [[mock:text]]' }] }, { headers: { 'cache-control': 'no-store' } });
			assert.equal(p.headers['x-nextmodel-model'], 'mock-gpt');
			const list = JSON.parse(env.ctl(['key', 'list', '--project', 'envp', '--format',
			    'json']).stdout);
			assert.equal(list.length, 1, JSON.stringify(list));
			assert.equal(list[0].environment, 'staging');
			assert.equal(env.ctl(['key', 'create', '--project', 'envp', '--environment',
			    'has space']).code, 1);
		});

		await t.test('keys limited to models and sources, and keys that expire', async () => {
			const mk = (args) => {
				const k = env.ctl(['key', 'create', '--project', 'scoped'].concat(args));
				assert.equal(k.code, 0, k.stderr);
				return k.stdout.trim();
			};
			const ask = (key, model) => env.chat({ model, messages: [{ role: 'user',
			    content: 'scoped [[mock:text]]' }] }, { key, headers: { 'cache-control': 'no-store' } });
			const onlyCheap = mk(['--models', 'route-cheap,route-quick']);
			let r = await ask(onlyCheap, 'mock-gpt');
			assert.equal(r.status, 403, r.text);
			assert.equal(r.json.error.code, 'model_not_allowed');
			assert.equal((await ask(onlyCheap, 'route-cheap')).status, 200);
			/* A source limit narrows a rule's targets before any call. */
			const onlyMock = mk(['--sources', 'mock']);
			r = await ask(onlyMock, 'auto');
			assert.equal(r.status, 200, r.text);
			const rc = JSON.parse((await h.getReceipt(env, r.headers['x-nextmodel-receipt-url'],
			    onlyMock)).text);
			assert.deepEqual(rc.attempts.map((a) => a.model), ['mock-gpt']);
			const expired = mk(['--expires', '2020-01-01']);
			r = await ask(expired, 'mock-gpt');
			assert.equal(r.status, 401);
			assert.match(r.json.error.message, /expired/);
			const later = mk(['--expires', '2999-01-01']);
			assert.equal((await ask(later, 'mock-gpt')).status, 200);
			assert.equal(env.ctl(['key', 'create', '--project', 'scoped', '--models',
			    'a,,b']).code, 1);
		});

		await t.test('nextmodelctl sources shows rests and measured latency', () => {
			const r = env.ctl(['sources']);
			assert.equal(r.code, 0, r.stderr);
			assert.match(r.stdout, /^slowp +openai +serving/m);
			assert.match(r.stdout, /route-slow +\d+ ms to first byte, \d+ ms in all/);
		});

		await t.test('a workload rule turns the cache off', async () => {
			const body = { model: 'mock-gpt', messages: [{ role: 'user', content: 'eval me' }] };
			const hdr = { 'x-nextmodel-workload': 'agent.eval' };
			await env.chat(body, { headers: hdr });
			await h.sleep(300);
			const b = await env.chat(body, { headers: hdr });
			assert.equal(b.headers['x-nextmodel-serve-mode'], 'fresh');
			/* Without the workload the same request is served from the cache. */
			await env.chat(body);
			await h.sleep(300);
			assert.equal((await env.chat(body)).headers['x-nextmodel-serve-mode'], 'exact_cache');
		});

		await t.test('a reload changes the policy under load, no request fails', async () => {
			let stop = false;
			const seen = [];
			const failures = [];
			const load = (async () => {
				for (let i = 0; !stop; i++) {
					const r = await env.chat({ model: 'cheap', messages: [{ role: 'user',
					    content: 'load ' + i }] }, { headers: { 'cache-control': 'no-store' } });
					if (r.status !== 200)
						failures.push(r.status + ' ' + r.text.slice(0, 100));
					else
						seen.push(r.headers['x-nextmodel-model']);
				}
			})();
			await h.sleep(500);
			fs.writeFileSync(path.join(dir, 'rules.yaml'), POLICY.replace(
			    'models: [mock-gpt, route-cheap]\n    strategy: cheapest',
			    'models: [mock-gpt]\n    strategy: ordered'));
			const served = (env.log().match(/generation \d+ serving/g) || []).length;
			env.reload();
			assert.ok(await h.waitFor(() => (env.log().match(/generation \d+ serving/g) ||
			    []).length > served, 15000, 50), 'the reload never settled');
			const moved = await h.waitFor(() => seen.length > 0 &&
			    seen[seen.length - 1] === 'mock-gpt', 15000, 100);
			await h.sleep(500);
			stop = true;
			await load;
			assert.ok(moved, 'the traffic never followed the new policy');
			assert.deepEqual(failures, []);
			assert.ok(seen.includes('route-cheap'), 'the old policy was never seen');
		});
	} finally {
		await env.stop();
		if (proxy)
			proxy.close();
		for (const b of Object.values(bad))
			b.close();
		fs.rmSync(dir, { recursive: true, force: true });
	}
});
