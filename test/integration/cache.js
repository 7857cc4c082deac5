/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The verified exact cache, from outside: an identical request (by its
 * canonical form: key order, number spelling, fields that cannot change
 * the answer) is replayed without calling the source, as JSON or as a
 * stream whatever form the first one used, billed at 10% of the fresh cost,
 * with the receipt saying so; a different request never hits; each
 * project has its own entries; a stream replay of an answer first
 * streamed sends the same pieces (content and tool call arguments) it
 * was first cut in, unless they would pass the entry's maximum (then whole);
 * Cache-Control no-store and no-cache are honoured; errors are not
 * stored; an entry changed or moved in Redis is refused and counted;
 * embeddings are cached; the opt-in canonical layer ignores whitespace in
 * message text only.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();
const OpenAI = h.requirePackage('openai');

const { nano, money } = h;

/* Requests the mock source has seen. */
async function sourceCalls(env) {
	return (await env.mockRequests()).length;
}

/* A receipt, parsed. */
async function getReceipt(env, url, key) {
	const r = await h.getReceipt(env, url, key);
	assert.equal(r.status, 200, 'receipt ' + url + ': ' + r.status);
	return JSON.parse(r.text);
}

/* POST a raw body text; the cache must see it exactly as sent. */
function post(env, text, headers, key) {
	return h.request(env.url + '/v1/chat/completions', { method: 'POST', body: text,
	    headers: Object.assign({ 'content-type': 'application/json' }, env.auth(key),
	    headers || {}) });
}

/*
 * Read a stream through the SDK: its serve mode and, per chunk, what a
 * client sees of choice 0 (role, content pieces, tool call pieces, finish)
 * and the usage.
 */
async function sdkStream(client, body) {
	const { data: stream, response } = await client.chat.completions.create(body)
	    .withResponse();
	const r = { mode: response.headers.get('x-nextmodel-serve-mode'), role: null,
	    content: [], tools: [], finish: null, usage: null, ids: new Set() };
	for await (const c of stream) {
		assert.equal(c.object, 'chat.completion.chunk');
		r.ids.add(c.id);
		if (c.usage)
			r.usage = c.usage;
		if (c.choices.length === 0)
			continue;
		const ch = c.choices[0];
		if (ch.delta.role)
			r.role = ch.delta.role;
		if (typeof ch.delta.content === 'string')
			r.content.push(ch.delta.content);
		for (const tc of ch.delta.tool_calls || []) {
			r.tools.push({ index: tc.index, id: tc.id, name: tc.function && tc.function.name,
			    arguments: tc.function && tc.function.arguments });
		}
		if (ch.finish_reason)
			r.finish = ch.finish_reason;
	}
	return r;
}

/* Wait until the settle step stored what a fresh answer left. */
async function settled(env) {
	await h.waitFor(async () => {
		const m = (await h.request(env.url + '/metrics')).text;
		return /nextmodel_cache_stores_total [1-9]/.test(m);
	}, 5000, 50);
	await h.sleep(100);
}

test('exact cache', async (t) => {
	const embed = Object.assign(h.defaultModel(), { id: 'mock-embed',
	    upstream_model: 'mock-embed-upstream', capabilities: ['embeddings'],
	    output_per_mtok: 0 });
	const env = await h.startEnv({ workers: 2, extraModels: [embed] });
	try {
		const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0 });

		await t.test('an identical request is replayed, billed at 10%, with its receipt', async () => {
			await env.mockClear();
			const body = '{"model":"mock-gpt","temperature":1,"messages":[{"role":"user",' +
			    '"content":"what is the capital of France?"}]}';
			const a = await post(env, body);
			assert.equal(a.status, 200, a.text);
			assert.equal(a.headers['x-nextmodel-serve-mode'], 'fresh');
			await settled(env);
			/* The same request, spelled otherwise: keys reordered, 1.0, spaces. */
			const b = await post(env, '{ "messages": [ { "content": "what is the capital of ' +
			    'France?", "role": "user" } ], "temperature": 1.0, "model": "mock-gpt", ' +
			    '"user": "someone", "stream": false }');
			assert.equal(b.status, 200, b.text);
			assert.equal(b.headers['x-nextmodel-serve-mode'], 'exact_cache');
			assert.equal(b.headers['x-nextmodel-model'], 'mock-gpt');
			assert.equal(b.text, a.text, 'the replay is not the stored answer');
			assert.equal(await sourceCalls(env), 1, 'the source was called for a hit');
			const fresh = nano(a.headers['x-nextmodel-cost-usd']);
			const want = (fresh + 5n) / 10n;	/* 10%, rounded half up */
			assert.equal(b.headers['x-nextmodel-cost-usd'], money(want));
			const ra = await getReceipt(env, a.headers['x-nextmodel-receipt-url']);
			const rb = await getReceipt(env, b.headers['x-nextmodel-receipt-url']);
			assert.equal(ra.serve_mode, 'fresh');
			assert.match(ra.cache_key, /^[0-9a-f]{64}$/);
			assert.equal(rb.serve_mode, 'exact_cache');
			assert.equal(rb.usage_source, 'cache');
			assert.equal(rb.billing_basis, 'cache_rate');
			assert.equal(rb.cost_usd, money(want));
			assert.equal(rb.fresh_cost_usd, ra.cost_usd);
			assert.equal(rb.saved_usd, money(fresh - want));
			assert.equal(rb.cache_key, ra.cache_key);
			assert.deepEqual(rb.usage, ra.usage);
		});

		await t.test('a different request never hits', async () => {
			const base = { model: 'mock-gpt', messages: [{ role: 'user', content: 'seed test' }] };
			const variants = [
				Object.assign({}, base, { seed: 9007199254740992 }),
				/* 2^53 + 1: differs from the one above only beyond double precision. */
				'{"model":"mock-gpt","messages":[{"role":"user","content":"seed test"}],' +
				    '"seed":9007199254740993}',
				Object.assign({}, base, { temperature: 0.5 }),
				Object.assign({}, base, { messages: [{ role: 'user', content: 'seed test.' }] }),
				Object.assign({}, base, { messages: [{ role: 'user', content: 'Seed test' }] }),
				Object.assign({}, base, { messages: [{ role: 'system', content: 'be brief' },
				    { role: 'user', content: 'seed test' }] }),
				Object.assign({}, base, { some_unknown_field: true }),
			];
			for (const v of variants) {
				const r = await post(env, typeof v === 'string' ? v : JSON.stringify(v));
				assert.equal(r.status, 200, r.text);
				assert.equal(r.headers['x-nextmodel-serve-mode'], 'fresh',
				    'hit for ' + (typeof v === 'string' ? v : JSON.stringify(v)));
			}
		});

		await t.test('stored as JSON, replayed as a stream (the SDK reads it)', async () => {
			const body = { model: 'mock-gpt', messages: [{ role: 'user', content: 'stream it later' }] };
			const a = await env.chat(body);
			assert.equal(a.status, 200);
			await settled(env);
			await env.mockClear();
			const { data: stream, response } = await client.chat.completions.create(
			    Object.assign({}, body, { stream: true, stream_options: { include_usage: true } }))
			    .withResponse();
			assert.equal(response.headers.get('x-nextmodel-serve-mode'), 'exact_cache');
			let text = '';
			let usage = null;
			for await (const c of stream) {
				if (c.choices.length > 0)
					text += c.choices[0].delta.content || '';
				if (c.usage)
					usage = c.usage;
			}
			assert.equal(text, a.json.choices[0].message.content);
			assert.deepEqual(usage, a.json.usage);
			assert.equal(await sourceCalls(env), 0);
			/* Over plain HTTP: the stream's last comments, as on a fresh one. */
			const s = await env.stream(Object.assign({}, body, { stream: true }));
			const last = s.events[s.events.length - 2];
			assert.equal(last.comments.length, 2, JSON.stringify(last));
			assert.match(last.comments[1], /^: x-nextmodel-receipt-hash: sha256:/);
			const rc = await getReceipt(env, s.headers['x-nextmodel-receipt-url']);
			assert.equal(rc.serve_mode, 'exact_cache');
			assert.equal(rc.stream, true);
			assert.equal(last.comments[0], ': x-nextmodel-cost-usd: ' + rc.cost_usd);
		});

		await t.test('stored from a stream, replayed as JSON and as a stream', async () => {
			const body = { model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'streamed first [[mock:chunks=7]]' }] };
			const s = await env.stream(Object.assign({}, body, { stream: true }));
			assert.equal(s.status, 200);
			assert.equal(s.headers['x-nextmodel-serve-mode'], 'fresh');
			const text = h.streamText(s);
			await settled(env);
			await env.mockClear();
			const j = await env.chat(body);
			assert.equal(j.status, 200, j.text);
			assert.equal(j.headers['x-nextmodel-serve-mode'], 'exact_cache');
			assert.equal(j.json.object, 'chat.completion');
			assert.equal(j.json.choices[0].message.content, text);
			assert.equal(j.json.choices[0].finish_reason, 'stop');
			assert.ok(j.json.usage && j.json.usage.total_tokens > 0);
			const s2 = await env.stream(Object.assign({}, body, { stream: true }));
			assert.equal(s2.headers['x-nextmodel-serve-mode'], 'exact_cache');
			assert.equal(h.streamText(s2), text);
			assert.equal(await sourceCalls(env), 0);
		});

		await t.test('tool calls from a stream: replayed whole', async () => {
			const body = { model: 'mock-gpt', messages: [{ role: 'user', content: 'weather?' }],
			    tools: [{ type: 'function', function: { name: 'get_weather', parameters: {
			    type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }] };
			const s = await env.stream(Object.assign({}, body, { stream: true }));
			assert.equal(s.status, 200);
			await settled(env);
			const j = await env.chat(body);
			assert.equal(j.headers['x-nextmodel-serve-mode'], 'exact_cache', j.text);
			const call = j.json.choices[0].message.tool_calls[0];
			assert.equal(call.function.name, 'get_weather');
			assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');
			assert.equal(j.json.choices[0].finish_reason, 'tool_calls');
		});

		await t.test('stored from a stream: replayed as a stream in the same pieces', async () => {
			const body = { model: 'mock-gpt', stream: true, stream_options: { include_usage: true },
			    messages: [{ role: 'user', content: 'tell me something in pieces ' +
			    '[[mock:chunks=7]]' }] };
			const a = await sdkStream(client, body);
			assert.equal(a.mode, 'fresh');
			/* The role chunk's "" and seven pieces of text. */
			assert.equal(a.content.filter((p) => p.length > 0).length, 7, JSON.stringify(a.content));
			await settled(env);
			await env.mockClear();
			const b = await sdkStream(client, body);
			assert.equal(b.mode, 'exact_cache');
			assert.deepEqual(b.content, a.content);
			assert.equal(b.role, 'assistant');
			assert.equal(b.finish, 'stop');
			/* The usage whole, its details too, as the stream said it. */
			assert.ok(a.usage && a.usage.prompt_tokens_details, JSON.stringify(a.usage));
			assert.deepEqual(b.usage, a.usage);
			assert.equal(b.ids.size, 1);
			assert.equal(await sourceCalls(env), 0);
			/* Without include_usage: the same pieces, no usage chunk. */
			const c = await sdkStream(client, Object.assign({}, body, { stream_options: undefined }));
			assert.equal(c.mode, 'exact_cache');
			assert.deepEqual(c.content, a.content);
			assert.equal(c.usage, null);
			/* As JSON: the answer whole, as before. */
			const j = await env.chat(Object.assign({}, body, { stream: false,
			    stream_options: undefined }));
			assert.equal(j.headers['x-nextmodel-serve-mode'], 'exact_cache');
			assert.equal(j.json.choices[0].message.content, a.content.join(''));
			assert.deepEqual(j.json.usage, a.usage);
		});

		await t.test('tool calls from a stream: replayed in the same pieces', async () => {
			const body = { model: 'mock-gpt', stream: true, messages: [{ role: 'user',
			    content: 'where is it windy? [[mock:chunks=5]]' }],
			    tools: [{ type: 'function', function: { name: 'get_wind', parameters: {
			    type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } },
			    required: ['city', 'unit'] } } }] };
			const a = await sdkStream(client, body);
			assert.equal(a.mode, 'fresh');
			/* A header with the id and name, then five pieces of arguments. */
			assert.equal(a.tools.length, 6, JSON.stringify(a.tools));
			assert.equal(a.tools[0].name, 'get_wind');
			await settled(env);
			await env.mockClear();
			const b = await sdkStream(client, body);
			assert.equal(b.mode, 'exact_cache');
			assert.deepEqual(b.tools, a.tools);
			assert.equal(b.finish, 'tool_calls');
			assert.equal(await sourceCalls(env), 0);
		});

		await t.test('a stream cut short is not stored', async () => {
			const body = { model: 'mock-gpt', stream: true, messages: [{ role: 'user',
			    content: 'cut me [[mock:chunks=6]] [[mock:break_after=3]]' }] };
			const s = await env.stream(body);
			assert.equal(s.done, false);
			await h.sleep(300);
			await env.mockClear();
			const again = await env.stream(body);
			assert.equal(again.headers['x-nextmodel-serve-mode'], 'fresh');
			assert.equal(await sourceCalls(env), 1);
		});

		await t.test('each project has its own entries', async () => {
			const body = JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'tenant test' }] });
			assert.equal((await post(env, body)).headers['x-nextmodel-serve-mode'], 'fresh');
			await settled(env);
			assert.equal((await post(env, body)).headers['x-nextmodel-serve-mode'], 'exact_cache');
			const other = env.ctl(['key', 'create', '--project', 'other']).stdout.trim();
			const r = await post(env, body, {}, other);
			assert.equal(r.headers['x-nextmodel-serve-mode'], 'fresh');
		});

		await t.test('Cache-Control: no-store bypasses, no-cache refreshes', async () => {
			const body = JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'control test' }] });
			let r = await post(env, body, { 'cache-control': 'no-store' });
			assert.equal(r.headers['x-nextmodel-serve-mode'], 'fresh');
			await h.sleep(300);
			r = await post(env, body);
			assert.equal(r.headers['x-nextmodel-serve-mode'], 'fresh', 'no-store stored');
			await settled(env);
			r = await post(env, body);
			assert.equal(r.headers['x-nextmodel-serve-mode'], 'exact_cache');
			await env.mockClear();
			r = await post(env, body, { 'cache-control': 'no-cache' });
			assert.equal(r.headers['x-nextmodel-serve-mode'], 'fresh');
			assert.equal(await sourceCalls(env), 1);
			r = await post(env, body);
			assert.equal(r.headers['x-nextmodel-serve-mode'], 'exact_cache');
		});

		await t.test('errors are not stored', async () => {
			const body = JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'broken [[mock:status=500]]' }] });
			assert.equal((await post(env, body)).status, 502);
			await h.sleep(300);
			await env.mockClear();
			assert.equal((await post(env, body)).status, 502);
			assert.equal(await sourceCalls(env), 1);
		});

		await t.test('an entry changed or moved in Redis is refused and counted', async () => {
			const body = JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'forge me' }] });
			const other = JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'another question' }] });
			const a = await post(env, body);
			const o = await post(env, other);
			const ka = (await getReceipt(env, a.headers['x-nextmodel-receipt-url'])).cache_key;
			const ko = (await getReceipt(env, o.headers['x-nextmodel-receipt-url'])).cache_key;
			await settled(env);
			await h.waitFor(() => env.redisCmd(['EXISTS', 'nm:cache:' + ka]).trim() === '1' &&
			    env.redisCmd(['EXISTS', 'nm:cache:' + ko]).trim() === '1', 5000, 50);
			const before = (await h.request(env.url + '/metrics')).text;
			const n0 = Number(/nextmodel_cache_rejected_total (\d+)/.exec(before)[1]);
			/* One byte of the answer changed: the HMAC no longer matches. */
			const len = Number(env.redisCmd(['STRLEN', 'nm:cache:' + ka]).trim());
			env.redisCmd(['SETRANGE', 'nm:cache:' + ka, String(len - 40), 'X']);
			/* A genuine entry copied under another request's key. */
			env.redisCmd(['COPY', 'nm:cache:' + ka, 'nm:cache:' + ko, 'REPLACE']);
			const ra = await post(env, body);
			assert.equal(ra.headers['x-nextmodel-serve-mode'], 'fresh');
			assert.equal(ra.text.includes('forge me'), true);
			const ro = await post(env, other);
			assert.equal(ro.headers['x-nextmodel-serve-mode'], 'fresh');
			assert.ok(ro.text.includes('another question'), 'served the wrong answer');
			const after = (await h.request(env.url + '/metrics')).text;
			const n1 = Number(/nextmodel_cache_rejected_total (\d+)/.exec(after)[1]);
			assert.equal(n1 - n0, 2);
		});

		await t.test('single flight: 50 identical requests at once, one source call', async () => {
			await env.mockClear();
			const body = JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'all at once [[mock:delay=400]]' }] });
			const all = await Promise.all(Array.from({ length: 50 }, () => post(env, body)));
			assert.ok(all.every((r) => r.status === 200), all.map((r) => r.status).join(' '));
			assert.equal(await sourceCalls(env), 1, 'the source was called more than once');
			const modes = all.map((r) => r.headers['x-nextmodel-serve-mode']);
			assert.equal(modes.filter((m) => m === 'fresh').length, 1, modes.join(' '));
			assert.equal(modes.filter((m) => m === 'exact_cache').length, 49);
			const content = all[0].json.choices[0].message.content;
			assert.ok(all.every((r) => r.json.choices[0].message.content === content));
			/* Only the first is billed fresh. */
			const fresh = all.find((r) => r.headers['x-nextmodel-serve-mode'] === 'fresh');
			const cost = nano(fresh.headers['x-nextmodel-cost-usd']);
			assert.ok(all.filter((r) => r !== fresh).every((r) =>
			    nano(r.headers['x-nextmodel-cost-usd']) === (cost + 5n) / 10n));
		});

		await t.test('single flight: a failed first answer lets the others call', async () => {
			await env.mockClear();
			const body = JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'fails for all [[mock:delay=200]] [[mock:status=500]]' }] });
			const t0 = Date.now();
			const all = await Promise.all(Array.from({ length: 5 }, () => post(env, body)));
			assert.ok(all.every((r) => r.status === 502));
			/* Nothing to wait for once the first failed: no 30 s wait. */
			assert.ok(Date.now() - t0 < 10000, 'the others waited ' + (Date.now() - t0) + ' ms');
			assert.ok(await sourceCalls(env) >= 2);
		});

		await t.test('embeddings are cached', async () => {
			const body = { model: 'mock-embed', input: ['cache these words'] };
			const a = await h.request(env.url + '/v1/embeddings', { method: 'POST', body,
			    headers: env.auth() });
			assert.equal(a.status, 200, a.text);
			assert.equal(a.headers['x-nextmodel-serve-mode'], 'fresh');
			await settled(env);
			const b = await h.request(env.url + '/v1/embeddings', { method: 'POST', body,
			    headers: env.auth() });
			assert.equal(b.headers['x-nextmodel-serve-mode'], 'exact_cache');
			assert.deepEqual(b.json.data, a.json.data);
		});
	} finally {
		await env.stop();
	}
});

test('canonical layer (opt-in) and cache off', async (t) => {
	await t.test('canonical: whitespace in message text only', async () => {
		const env = await h.startEnv({ workers: 1, extraConfig: { cache: { mode: 'canonical' } } });
		try {
			const msg = (s) => JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: s }] });
			assert.equal((await post(env, msg('tell  me\n a joke'))).headers['x-nextmodel-serve-mode'],
			    'fresh');
			await settled(env);
			const same = await post(env, msg('tell  me\n a joke'));
			assert.equal(same.headers['x-nextmodel-serve-mode'], 'exact_cache');
			const ws = await post(env, msg('  tell me a   joke '));
			assert.equal(ws.headers['x-nextmodel-serve-mode'], 'canonical_cache');
			const rc = await getReceipt(env, ws.headers['x-nextmodel-receipt-url']);
			assert.equal(rc.serve_mode, 'canonical_cache');
			assert.equal(rc.billing_basis, 'cache_rate');
			/* Different words are never one. */
			assert.equal((await post(env, msg('tell me ajoke'))).headers['x-nextmodel-serve-mode'],
			    'fresh');
		} finally {
			await env.stop();
		}
	});

	await t.test('pieces that would pass cache.max_entry_bytes: the entry is kept without them',
	    async () => {
		const env = await h.startEnv({ workers: 1,
		    extraConfig: { cache: { max_entry_bytes: 1024 } } });
		try {
			const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0 });
			const body = { model: 'mock-gpt', stream: true, messages: [{ role: 'user',
			    content: 'word '.repeat(90).trim() + ' [[mock:chunks=60]]' }] };
			const a = await sdkStream(client, body);
			assert.equal(a.mode, 'fresh');
			assert.equal(a.content.filter((p) => p.length > 0).length, 60);
			await settled(env);
			/* The stored answer fits; with 61 pieces of 8 bytes it would not. */
			const j = await env.chat(Object.assign({}, body, { stream: false }));
			assert.equal(j.headers['x-nextmodel-serve-mode'], 'exact_cache');
			assert.ok(j.text.length <= 1024 && j.text.length + 61 * 8 > 1024, String(j.text.length));
			const b = await sdkStream(client, body);
			assert.equal(b.mode, 'exact_cache');
			assert.deepEqual(b.content, ['', a.content.join('')]);
		} finally {
			await env.stop();
		}
	});

	await t.test('exact mode: a whitespace change is another request', async () => {
		const env = await h.startEnv({ workers: 1 });
		try {
			const msg = (s) => JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: s }] });
			await post(env, msg('tell me a joke'));
			await settled(env);
			assert.equal((await post(env, msg('tell me  a joke'))).headers['x-nextmodel-serve-mode'],
			    'fresh');
		} finally {
			await env.stop();
		}
	});

	await t.test('cache: {mode: off}: always fresh', async () => {
		const env = await h.startEnv({ workers: 1, extraConfig: { cache: { mode: 'off' } } });
		try {
			const body = JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'no cache here' }] });
			await post(env, body);
			await h.sleep(300);
			const r = await post(env, body);
			assert.equal(r.headers['x-nextmodel-serve-mode'], 'fresh');
			const rc = await getReceipt(env, r.headers['x-nextmodel-receipt-url']);
			assert.equal(rc.cache_key, null);
		} finally {
			await env.stop();
		}
	});
});
