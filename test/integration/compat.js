/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The OpenAI-compatible sources, one provider per dialect pointing at the
 * mock's /<dialect>/v1 paths, driven by the official OpenAI SDK: plain,
 * streamed, tools both ways, JSON mode and exact usage for each; then each
 * source's quirks (DeepSeek reasoning_content and cache hits, Moonshot usage
 * in the choice and index-less tool deltas, Mistral's strict body and
 * 9-character tool ids, OpenRouter comments and numeric errors, DashScope
 * thinking, Ark endpoint ids), OpenAI's own passthrough, and the capability
 * checks of the gateway.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();
const OpenAI = h.requirePackage('openai');

const DIALECTS = ['deepseek', 'moonshot', 'dashscope', 'ark', 'openrouter', 'mistral', 'generic'];

/* The catalog model of each dialect and what the source calls it. */
const MODELS = {
	deepseek: 'deepseek-reasoner',
	moonshot: 'kimi-k2',
	dashscope: 'qwen3-max',
	ark: 'ep-20250101120000-abcde',
	openrouter: 'anthropic/claude-x',
	mistral: 'mistral-small-latest',
	generic: 'llama-3-8b',
};
/* Dialects whose mock thinks aloud (reasoning_content) for these models. */
const THINKS = { deepseek: true };

const TOOLS = [{
	type: 'function',
	function: {
		name: 'get_weather',
		description: 'Current weather',
		parameters: { type: 'object', properties: { city: { type: 'string' } },
		    required: ['city'], additionalProperties: false },
	},
}];

const CAPS = ['tools', 'json', 'vision', 'streaming'];

/* One user message. */
function user(text) {
	return [{ role: 'user', content: text }];
}

/* Words, as the mock counts tokens. */
function words(s) {
	return s.split(/\s+/).filter((w) => w.length > 0).length;
}

/* The usage the mock reports (in OpenAI's shape once through the gateway). */
function expectedUsage(dialect, prompt, text) {
	const reasoning = THINKS[dialect] ? words('Thinking about: ' + text) : 0;
	const completion = words('Echo: ' + text) + reasoning;
	const cached = ['deepseek', 'moonshot', 'openrouter'].includes(dialect) ?
	    Math.floor(prompt / 2) : 0;
	return { prompt_tokens: prompt, completion_tokens: completion,
	    total_tokens: prompt + completion, cached, reasoning };
}

/* Check a usage object against expectedUsage(). */
function checkUsage(u, want, what) {
	assert.ok(u, what + ': no usage');
	assert.equal(u.prompt_tokens, want.prompt_tokens, what + ': prompt_tokens');
	assert.equal(u.completion_tokens, want.completion_tokens, what + ': completion_tokens');
	assert.equal(u.total_tokens, want.total_tokens, what + ': total_tokens');
	assert.equal((u.prompt_tokens_details || {}).cached_tokens || 0, want.cached,
	    what + ': cached_tokens');
	assert.equal((u.completion_tokens_details || {}).reasoning_tokens || 0, want.reasoning,
	    what + ': reasoning_tokens');
}

/* Read an SDK stream: text, reasoning, tool calls by index, finish, usage, chunks. */
async function drain(stream) {
	const out = { text: '', reasoning: '', calls: [], finish: null, usage: null,
	    chunks: [], usageChunks: 0 };
	for await (const chunk of stream) {
		out.chunks.push(chunk);
		if (chunk.usage) {
			out.usage = chunk.usage;
			out.usageChunks++;
		}
		const c = chunk.choices[0];
		if (!c)
			continue;
		assert.equal(c.usage, undefined, 'usage left inside a choice');
		if (c.finish_reason)
			out.finish = c.finish_reason;
		if (typeof c.delta.content === 'string')
			out.text += c.delta.content;
		if (typeof c.delta.reasoning_content === 'string')
			out.reasoning += c.delta.reasoning_content;
		for (const tc of c.delta.tool_calls || []) {
			assert.ok(Number.isInteger(tc.index), 'tool call delta without index: ' +
			    JSON.stringify(tc));
			if (!out.calls[tc.index])
				out.calls[tc.index] = { id: tc.id, name: tc.function.name, args: '' };
			out.calls[tc.index].args += (tc.function && tc.function.arguments) || '';
		}
	}
	return out;
}

/* The last request the mock logged under a path prefix. */
async function lastSent(env, prefix) {
	const log = await env.mockRequests();
	const hits = log.filter((r) => r.path.startsWith(prefix));
	assert.ok(hits.length > 0, 'the mock got nothing under ' + prefix);
	return hits[hits.length - 1];
}

/* A gateway with one provider per dialect (the mock's /<dialect>/v1). */
async function startCompat() {
	const extraProviders = {};
	const extraModels = [];
	for (const d of DIALECTS) {
		extraProviders['p-' + d] = { kind: 'openai', api_key_env: 'MOCK_API_KEY',
		    dialect: d, mock_path: '/' + d + '/v1' };
		extraModels.push({ id: d + '-model', provider: 'p-' + d, upstream_model: MODELS[d],
		    input_per_mtok: 0.5, output_per_mtok: 1.5, context_window: 64000,
		    max_output: 8192, capabilities: CAPS, latency_ms: 700 });
	}
	extraModels.push({ id: 'ark-wrong', provider: 'p-ark', upstream_model: 'nope-model',
	    input_per_mtok: 1, output_per_mtok: 1, context_window: 8000,
	    capabilities: ['streaming'] });
	extraModels.push({ id: 'plain-model', provider: 'p-generic', upstream_model: 'llama',
	    input_per_mtok: 1, output_per_mtok: 1, context_window: 8000, capabilities: [] });
	return h.startEnv({ extraProviders, extraModels });
}

test('compat', async (t) => {
	const env = await startCompat();
	const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0,
	    timeout: 30000 });
	try {
		for (const d of DIALECTS) {
			const model = d + '-model';

			await t.test(d + ': chat, not streamed', async () => {
				const text = 'hello ' + d + ' source';
				const { data, response } = await client.chat.completions.create({
					model, messages: user(text),
				}).withResponse();
				assert.equal(data.object, 'chat.completion');
				assert.equal(data.choices[0].message.content, 'Echo: ' + text);
				assert.equal(data.choices[0].finish_reason, 'stop');
				checkUsage(data.usage, expectedUsage(d, words(text), text), d);
				assert.equal(response.headers.get('x-nextmodel-provider'), 'p-' + d);
				assert.equal(response.headers.get('x-nextmodel-serve-mode'), 'fresh');
				const sent = await lastSent(env, '/' + d + '/');
				assert.equal(sent.body.model, MODELS[d]);
			});

			await t.test(d + ': chat, streamed with usage', async () => {
				const text = 'stream me ' + d + ' [[mock:chunks=5]]';
				const clean = 'stream me ' + d;
				const out = await drain(await client.chat.completions.create({
					model, messages: user(text), stream: true,
					stream_options: { include_usage: true },
				}));
				assert.equal(out.text, 'Echo: ' + clean);
				assert.equal(out.finish, 'stop');
				assert.equal(out.usageChunks, 1, 'one usage chunk');
				const last = out.chunks[out.chunks.length - 1];
				assert.deepEqual(last.choices, [], 'usage comes in a choices:[] chunk, last');
				checkUsage(out.usage, expectedUsage(d, words(text), clean), d);
				if (THINKS[d])
					assert.equal(out.reasoning, 'Thinking about: ' + clean);
			});

			await t.test(d + ': chat, streamed without usage', async () => {
				const out = await drain(await client.chat.completions.create({
					model, messages: user('quiet ' + d), stream: true,
				}));
				assert.equal(out.text, 'Echo: quiet ' + d);
				assert.equal(out.usageChunks, 0, 'usage the client did not ask for');
				for (const c of out.chunks)
					assert.ok(c.choices.length > 0, 'an empty chunk reached the client');
			});

			await t.test(d + ': tools, not streamed', async () => {
				const r = await client.chat.completions.create({
					model, messages: user('weather? [[mock:tool]]'), tools: TOOLS,
				});
				assert.equal(r.choices[0].finish_reason, 'tool_calls');
				const call = r.choices[0].message.tool_calls[0];
				assert.equal(call.function.name, 'get_weather');
				assert.deepEqual(JSON.parse(call.function.arguments), { city: 'mock' });
				assert.ok(call.id);
				if (d === 'mistral')
					assert.match(call.id, /^[a-zA-Z0-9]{9}$/);
			});

			await t.test(d + ': tools, streamed', async () => {
				const out = await drain(await client.chat.completions.create({
					model, messages: user('weather? [[mock:tool]] [[mock:chunks=4]]'),
					tools: TOOLS, stream: true,
				}));
				assert.equal(out.calls.length, 1);
				assert.ok(out.calls[0].id);
				assert.equal(out.calls[0].name, 'get_weather');
				assert.deepEqual(JSON.parse(out.calls[0].args), { city: 'mock' });
				assert.equal(out.finish, 'tool_calls');
			});

			await t.test(d + ': JSON mode', async () => {
				const r = await client.chat.completions.create({
					model, messages: user('reply in JSON'),
					response_format: { type: 'json_object' },
				});
				assert.deepEqual(JSON.parse(r.choices[0].message.content),
				    { answer: 'Echo: reply in JSON' });
			});

			await t.test(d + ': OpenAI-only fields and developer stay home', async () => {
				const r = await client.chat.completions.create({
					model, messages: [{ role: 'developer', content: 'Be brief.' },
					    { role: 'user', content: 'hi' }],
					max_completion_tokens: 77, store: true, metadata: { a: 'b' },
					service_tier: 'auto', stream: true,
					stream_options: { include_usage: true, include_obfuscation: false },
				});
				await drain(r);
				const sent = (await lastSent(env, '/' + d + '/')).body;
				assert.equal(sent.messages[0].role, 'system');
				assert.equal(sent.max_tokens, 77);
				for (const k of ['max_completion_tokens', 'store', 'metadata', 'service_tier'])
					assert.equal(sent[k], undefined, k + ' sent to ' + d);
				if (d === 'mistral' || d === 'openrouter')
					assert.equal(sent.stream_options, undefined);
				else
					assert.deepEqual(sent.stream_options, { include_usage: true });
			});
		}

		await t.test('deepseek: reasoning_content both ways, cache hits', async () => {
			const r = await client.chat.completions.create({
				model: 'deepseek-model', messages: user('why is the sky blue'),
			});
			assert.equal(r.choices[0].message.reasoning_content,
			    'Thinking about: why is the sky blue');
			assert.equal(r.usage.prompt_tokens_details.cached_tokens, 2);
			/* A thinking tool turn must be replayed with its reasoning. */
			const history = [
				{ role: 'user', content: 'weather in Paris?' },
				{ role: 'assistant', content: null, reasoning_content: 'I need the tool.',
				    tool_calls: [{ id: 'call_00_x', type: 'function',
				    function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
				{ role: 'tool', tool_call_id: 'call_00_x', content: '18C' },
			];
			const r2 = await client.chat.completions.create({
				model: 'deepseek-model', messages: history, tools: TOOLS,
			});
			assert.equal(r2.choices[0].finish_reason, 'stop');
			const sent = (await lastSent(env, '/deepseek/')).body;
			assert.equal(sent.messages[1].reasoning_content, 'I need the tool.');
			/* Without it the source says 400, and so does the gateway. */
			delete history[1].reasoning_content;
			await assert.rejects(client.chat.completions.create({
				model: 'deepseek-model', messages: history, tools: TOOLS,
			}), (e) => {
				assert.equal(e.status, 400);
				assert.match(e.message, /reasoning_content/);
				return true;
			});
		});

		await t.test('deepseek: keep-alive comments and reasoning deltas', async () => {
			const s = await env.stream({ model: 'deepseek-model', messages: user('think'),
			    stream: true });
			assert.equal(s.status, 200);
			assert.ok(s.done);
			assert.ok(!s.raw.includes('keep-alive'), 'a source comment reached the client');
			const reasoning = s.events.map((e) => e.json && e.json.choices &&
			    e.json.choices[0] && e.json.choices[0].delta.reasoning_content)
			    .filter((x) => typeof x === 'string').join('');
			assert.equal(reasoning, 'Thinking about: think');
		});

		await t.test('moonshot: usage inside the choice, index-less tool deltas', async () => {
			const s = await env.stream({ model: 'moonshot-model',
			    messages: user('tools [[mock:tool]] [[mock:chunks=3]]'), tools: TOOLS,
			    stream: true });
			assert.ok(s.done);
			for (const e of s.events) {
				if (!e.json)
					continue;
				assert.equal(e.json.usage, undefined, 'usage not asked for');
				for (const c of e.json.choices) {
					assert.equal(c.usage, undefined);
					for (const tc of (c.delta && c.delta.tool_calls) || [])
						assert.equal(tc.index, 0);
				}
			}
		});

		await t.test('mistral: foreign tool ids rewritten to 9 characters, consistently', async () => {
			const history = [
				{ role: 'user', content: 'weather in Paris and Rome?', name: 'ann' },
				{ role: 'assistant', content: '', tool_calls: [
					{ id: 'call_a1b2c3', type: 'function', function: { name: 'get_weather',
					    arguments: '{"city":"Paris"}' } },
					{ id: 'toolu_01XYZ', type: 'function', function: { name: 'get_weather',
					    arguments: '{"city":"Rome"}' } }] },
				{ role: 'tool', tool_call_id: 'call_a1b2c3', content: '18C' },
				{ role: 'tool', tool_call_id: 'toolu_01XYZ', content: '20C' },
			];
			const r = await client.chat.completions.create({
				model: 'mistral-model', messages: history, tools: TOOLS, seed: 42,
				user: 'u-1', logprobs: false,
			});
			assert.equal(r.choices[0].finish_reason, 'stop');
			const sent = (await lastSent(env, '/mistral/')).body;
			const ids = sent.messages[1].tool_calls.map((c) => c.id);
			for (const id of ids)
				assert.match(id, /^[a-zA-Z0-9]{9}$/);
			assert.notEqual(ids[0], ids[1]);
			assert.equal(sent.messages[2].tool_call_id, ids[0]);
			assert.equal(sent.messages[3].tool_call_id, ids[1]);
			assert.equal(sent.random_seed, 42);
			assert.equal(sent.seed, undefined);
			assert.equal(sent.user, undefined);
			assert.equal(sent.messages[0].name, undefined);
			/* The same history gets the same ids again. */
			await client.chat.completions.create({ model: 'mistral-model', messages: history,
			    tools: TOOLS });
			const again = (await lastSent(env, '/mistral/')).body;
			assert.deepEqual(again.messages[1].tool_calls.map((c) => c.id), ids);
		});

		await t.test('mistral: a parameter it cannot honour is a 400 naming it', async () => {
			for (const [extra, param] of [[{ logit_bias: { 1: 5 } }, 'logit_bias'],
			    [{ logprobs: true, top_logprobs: 2 }, 'logprobs'],
			    [{ reasoning_effort: 'low' }, 'reasoning_effort']]) {
				await assert.rejects(client.chat.completions.create(Object.assign({
					model: 'mistral-model', messages: user('hi'),
				}, extra)), (e) => {
					assert.equal(e.status, 400);
					assert.equal(e.param, param);
					assert.equal(e.code, 'unsupported_parameter');
					assert.match(e.message, /mistral-model/);
					return true;
				});
			}
		});

		await t.test('mistral: flat error body mapped', async () => {
			await assert.rejects(client.chat.completions.create({
				model: 'mistral-model', messages: user('x [[mock:status=400]]'),
			}), (e) => {
				assert.equal(e.status, 400);
				assert.match(e.message, /mock-source\(mistral\): status 400 requested/);
				return true;
			});
			await assert.rejects(client.chat.completions.create({
				model: 'mistral-model', messages: user('x [[mock:status=429]]'),
			}), (e) => e instanceof OpenAI.RateLimitError);
		});

		await t.test('openrouter: comments, numeric error codes, errors mid-stream', async () => {
			const s = await env.stream({ model: 'openrouter-model', messages: user('hi'),
			    stream: true });
			assert.ok(s.done);
			assert.ok(!s.raw.includes('OPENROUTER'), 'a source comment reached the client');
			for (const [status, want, code] of [[402, 502, 'upstream_quota'],
			    [403, 400, 'content_filter'], [429, 429, 'upstream_rate_limited'],
			    [502, 502, 'upstream_error']]) {
				const r = await env.chat({ model: 'openrouter-model',
				    messages: user('x [[mock:status=' + status + ']]') });
				assert.equal(r.status, want, 'source ' + status);
				assert.equal(h.assertErrorShape(r.json).code, code);
			}
			await assert.rejects((async () => {
				for await (const chunk of await client.chat.completions.create({
					model: 'openrouter-model', messages: user('x [[mock:error_event]]'),
					stream: true }))
					void chunk;
			})(), (e) => {
				assert.ok(e instanceof OpenAI.APIError);
				assert.match(e.message, /Provider disconnected/);
				return true;
			});
		});

		await t.test('dashscope: enable_thinking passes through', async () => {
			const out = await drain(await client.chat.completions.create({
				model: 'dashscope-model', messages: user('ponder this'), stream: true,
				enable_thinking: true, thinking_budget: 512,
			}));
			assert.equal(out.reasoning, 'Thinking about: ponder this');
			assert.equal(out.text, 'Echo: ponder this');
			const sent = (await lastSent(env, '/dashscope/')).body;
			assert.equal(sent.enable_thinking, true);
			assert.equal(sent.thinking_budget, 512);
			/* Thinking without a stream: the source's 400, relayed. */
			await assert.rejects(client.chat.completions.create({
				model: 'dashscope-model', messages: user('ponder'), enable_thinking: true,
			}), (e) => {
				assert.equal(e.status, 400);
				assert.match(e.message, /stream/);
				return true;
			});
		});

		await t.test('ark: endpoint ids as they are; a wrong one explained', async () => {
			await client.chat.completions.create({ model: 'ark-model', messages: user('hi') });
			assert.equal((await lastSent(env, '/ark/')).body.model, 'ep-20250101120000-abcde');
			const r = await env.chat({ model: 'ark-wrong', messages: user('hi') });
			assert.equal(r.status, 502);
			assert.match(h.assertErrorShape(r.json).message, /nope-model.*region/);
		});

		await t.test('openai: the body passes through faithfully', async () => {
			await client.chat.completions.create({
				model: 'mock-gpt', messages: [{ role: 'developer', content: 'Be brief.' },
				    { role: 'user', content: 'hi', name: 'ann' }],
				max_tokens: 50, store: true, metadata: { k: 'v' }, logit_bias: { 50256: -100 },
				seed: 3, user: 'u-9',
			});
			const sent = (await lastSent(env, '/v1/chat')).body;
			assert.equal(sent.messages[0].role, 'developer');
			assert.equal(sent.messages[1].name, 'ann');
			assert.equal(sent.max_completion_tokens, 50);
			assert.equal(sent.max_tokens, undefined);
			assert.equal(sent.store, true);
			assert.deepEqual(sent.metadata, { k: 'v' });
			assert.deepEqual(sent.logit_bias, { 50256: -100 });
			assert.equal(sent.seed, 3);
			assert.equal(sent.user, 'u-9');
		});

		await t.test('capabilities the model lacks are 400s naming them', async () => {
			const cases = [
				[{ tools: TOOLS }, 'tools'],
				[{ response_format: { type: 'json_object' } }, 'response_format'],
				[{ response_format: { type: 'json_schema', json_schema: { name: 'a',
				    schema: { type: 'object' } } } }, 'response_format'],
				[{ stream: true }, 'stream'],
				[{ messages: [{ role: 'user', content: [{ type: 'image_url',
				    image_url: { url: 'https://example.com/a.png' } }] }] }, 'messages'],
			];
			const before = (await env.mockRequests()).length;
			for (const [extra, param] of cases) {
				const r = await env.chat(Object.assign({ model: 'plain-model',
				    messages: user('hi') }, extra));
				assert.equal(r.status, 400, JSON.stringify(extra));
				const e = h.assertErrorShape(r.json);
				assert.equal(e.param, param);
				assert.match(e.message, /plain-model/);
			}
			assert.equal((await env.mockRequests()).length, before, 'a source was called');
		});
	} finally {
		await env.stop();
	}
});
