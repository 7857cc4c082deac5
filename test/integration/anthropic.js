/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * An Anthropic Messages API source behind the gateway, driven end to end
 * by the official OpenAI SDK: plain and streamed chat, tools both ways and
 * the tool-result round trip, JSON modes, images, system prompts, stop
 * sequences, usage with cache reads and writes, parameters that cannot be
 * honoured, and the source's errors.  What the mock received is checked too.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();
const OpenAI = h.requirePackage('openai');

const BAD_KEY = 'sk-ant-api03-leakyLEAKYleaky0123456789';

const TOOLS = [{
	type: 'function',
	function: {
		name: 'get_weather',
		description: 'Current weather',
		parameters: { type: 'object', properties: { city: { type: 'string' },
		    unit: { type: 'string', enum: ['c', 'f'] } }, required: ['city', 'unit'],
		    additionalProperties: false },
	},
}];

/* A catalog entry served by an Anthropic provider. */
function claudeModel(id, provider) {
	return {
		id,
		provider,
		upstream_model: 'claude-mock-upstream',
		input_per_mtok: 3,
		output_per_mtok: 15,
		cached_input_per_mtok: 0.3,
		cache_write_per_mtok: 3.75,
		context_window: 200000,
		max_output: 4096,
		capabilities: ['tools', 'json', 'vision', 'streaming'],
		region: 'global',
		latency_ms: 800,
	};
}

/* One user message. */
function user(text) {
	return [{ role: 'user', content: text }];
}

/* The /v1/messages requests the mock received whose raw body holds marker. */
async function received(env, marker) {
	const log = await env.mockRequests();
	return log.filter((r) => r.path.startsWith('/v1/messages') && r.raw.includes(marker));
}

/* The only /v1/messages request with marker (asserts there is exactly one). */
async function receivedOne(env, marker) {
	const r = await received(env, marker);
	assert.equal(r.length, 1, 'the mock got ' + r.length + ' requests with ' + marker);
	return r[0];
}

/* Run a stream to its end: {text, chunks, usage, calls, finish}. */
async function drain(stream) {
	const out = { text: '', chunks: [], usage: null, calls: [], finish: null };
	for await (const chunk of stream) {
		out.chunks.push(chunk);
		if (chunk.usage)
			out.usage = chunk.usage;
		const c = chunk.choices[0];
		if (!c)
			continue;
		if (c.finish_reason)
			out.finish = c.finish_reason;
		if (typeof c.delta.content === 'string')
			out.text += c.delta.content;
		for (const tc of c.delta.tool_calls || []) {
			if (!out.calls[tc.index])
				out.calls[tc.index] = { id: tc.id, name: tc.function.name, args: '' };
			out.calls[tc.index].args += tc.function.arguments || '';
		}
	}
	return out;
}

test('anthropic', async (t) => {
	const opts = {
		extraProviders: {
			/* Anthropic's base_url has no /v1: the format adds /v1/messages. */
			claude: { kind: 'anthropic', api_key_env: 'MOCK_API_KEY', mock_path: '' },
			claude_badkey: { kind: 'anthropic', api_key_env: 'BAD_ANTHROPIC_KEY',
			    mock_path: '' },
		},
		extraModels: [claudeModel('mock-claude', 'claude'),
		    claudeModel('mock-claude-badkey', 'claude_badkey')],
		env: { BAD_ANTHROPIC_KEY: BAD_KEY },
	};
	const env = await h.startEnv(opts);
	const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0,
	    timeout: 30000 });
	try {
		await t.test('chat, not streamed', async () => {
			const { data, response } = await client.chat.completions.create({
				model: 'mock-claude', messages: user('hello claude m01'),
			}).withResponse();
			assert.equal(data.object, 'chat.completion');
			assert.match(data.id, /^chatcmpl-msg_mock/);
			assert.equal(data.model, 'claude-mock-upstream');
			assert.equal(data.choices[0].message.role, 'assistant');
			assert.equal(data.choices[0].message.content, 'Echo: hello claude m01');
			assert.equal(data.choices[0].finish_reason, 'stop');
			assert.equal(data.usage.prompt_tokens, 3);
			assert.equal(data.usage.completion_tokens, 4);
			assert.equal(data.usage.total_tokens, 7);
			assert.equal(response.headers.get('x-nextmodel-provider'), 'claude');
			assert.equal(response.headers.get('x-nextmodel-model'), 'mock-claude');
			const r = await receivedOne(env, 'm01');
			assert.equal(r.method, 'POST');
			assert.equal(r.path, '/v1/messages');
			assert.equal(r.headers['x-api-key'], h.MOCK_KEY);
			assert.equal(r.headers['anthropic-version'], '2023-06-01');
			assert.equal(r.headers.authorization, undefined);
			assert.deepEqual(r.body, { model: 'claude-mock-upstream', max_tokens: 4096,
			    messages: [{ role: 'user', content: [{ type: 'text', text: 'hello claude m01' }] }] });
		});

		await t.test('system and developer prompts reach system', async () => {
			const r = await client.chat.completions.create({
				model: 'mock-claude', messages: [
					{ role: 'system', content: 'You are terse.' },
					{ role: 'user', content: 'first m02' },
					{ role: 'assistant', content: 'ok' },
					{ role: 'developer', content: 'Answer in French.' },
					{ role: 'user', content: 'second m02' }],
				user: 'u-42', max_completion_tokens: 300,
			});
			assert.equal(r.choices[0].message.content, 'Echo: second m02');
			const got = await receivedOne(env, 'second m02');
			assert.deepEqual(got.body.system, [{ type: 'text', text: 'You are terse.' },
			    { type: 'text', text: 'Answer in French.' }]);
			assert.deepEqual(got.body.messages.map((m) => m.role), ['user', 'assistant', 'user']);
			assert.equal(got.body.max_tokens, 300);
			assert.deepEqual(got.body.metadata, { user_id: 'u-42' });
		});

		await t.test('stream with usage, cache reads and writes', async () => {
			const stream = await client.chat.completions.create({
				model: 'mock-claude',
				messages: user('stream to claude [[mock:cache_read=100]] [[mock:cache_write=20]] [[mock:chunks=5]]'),
				stream: true, stream_options: { include_usage: true },
			});
			const s = await drain(stream);
			assert.equal(s.text, 'Echo: stream to claude');
			assert.equal(s.finish, 'stop');
			assert.equal(s.chunks[0].choices[0].delta.role, 'assistant');
			assert.ok(s.chunks.length >= 8, 'only ' + s.chunks.length + ' chunks');
			const ids = new Set(s.chunks.map((c) => c.id));
			assert.equal(ids.size, 1, 'chunk ids differ');
			assert.ok(s.usage, 'no usage chunk');
			/* Input words 6, plus the cache writes and reads: all are prompt tokens. */
			assert.equal(s.usage.prompt_tokens, 126);
			assert.equal(s.usage.prompt_tokens_details.cached_tokens, 100);
			assert.equal(s.usage.completion_tokens, 4);
			assert.equal(s.usage.total_tokens, 130);
			const got = await receivedOne(env, 'stream to claude');
			assert.equal(got.body.stream, true);
			assert.equal(got.body.stream_options, undefined);
		});

		await t.test('usage numbers and cost, not streamed', async () => {
			const { data: r, response } = await client.chat.completions.create({
				model: 'mock-claude', messages: user('count me [[mock:cache_read=1000]] [[mock:cache_write=50]]'),
			}).withResponse();
			assert.equal(r.usage.prompt_tokens, 4 + 1000 + 50);
			assert.equal(r.usage.prompt_tokens_details.cached_tokens, 1000);
			assert.equal(r.usage.completion_tokens, 3);
			/* 4 x 3 + 1000 x 0.30 + 50 x 3.75 + 3 x 15 USD per 1M tokens:
			 * cache reads and writes each at their own price. */
			assert.equal(response.headers.get('x-nextmodel-usage-source'), 'upstream');
			assert.equal(response.headers.get('x-nextmodel-cost-usd'), '0.0005445');
			assert.equal(response.headers.get('x-nextmodel-cost-usd'),
			    h.expectedCost(r.usage, claudeModel('mock-claude', 'claude')));
		});

		await t.test('a stream without include_usage has no usage chunk', async () => {
			const s = await drain(await client.chat.completions.create({
				model: 'mock-claude', messages: user('no usage please m05'), stream: true,
			}));
			assert.equal(s.text, 'Echo: no usage please m05');
			assert.equal(s.usage, null);
			assert.ok(s.chunks.every((c) => c.choices.length === 1));
		});

		await t.test('tools, not streamed', async () => {
			const r = await client.chat.completions.create({
				model: 'mock-claude', messages: user('weather? m06 [[mock:tool]] [[mock:preamble]]'),
				tools: TOOLS,
			});
			const m = r.choices[0].message;
			assert.equal(r.choices[0].finish_reason, 'tool_calls');
			assert.equal(m.content, 'Let me check.');
			assert.equal(m.tool_calls.length, 1);
			assert.equal(m.tool_calls[0].type, 'function');
			assert.match(m.tool_calls[0].id, /^toolu_/);
			assert.equal(m.tool_calls[0].function.name, 'get_weather');
			assert.deepEqual(JSON.parse(m.tool_calls[0].function.arguments), { city: 'mock', unit: 'c' });
			const got = await receivedOne(env, 'm06');
			assert.deepEqual(got.body.tools, [{ name: 'get_weather', description: 'Current weather',
			    input_schema: TOOLS[0].function.parameters }]);
			assert.equal(got.body.tool_choice, undefined);
		});

		await t.test('tools, streamed: two calls, own indexes, arguments parse', async () => {
			const s = await drain(await client.chat.completions.create({
				model: 'mock-claude', stream: true, tools: TOOLS,
				messages: user('weather? m07 [[mock:tool]] [[mock:preamble]] [[mock:tools=2]] [[mock:chunks=4]]'),
			}));
			assert.equal(s.text, 'Let me check.');
			assert.equal(s.calls.length, 2, 'calls: ' + JSON.stringify(s.calls));
			for (const c of s.calls) {
				assert.ok(c && c.id, 'a call without id');
				assert.equal(c.name, 'get_weather');
				assert.deepEqual(JSON.parse(c.args), { city: 'mock', unit: 'c' });
			}
			assert.notEqual(s.calls[0].id, s.calls[1].id);
			assert.equal(s.finish, 'tool_calls');
		});

		await t.test('tools, streamed through the SDK helper', async () => {
			const runner = client.chat.completions.stream({
				model: 'mock-claude', tools: TOOLS, parallel_tool_calls: false,
				messages: user('weather? m08 [[mock:tool]] [[mock:tools=2]]'),
			});
			const final = await runner.finalChatCompletion();
			const calls = final.choices[0].message.tool_calls;
			assert.equal(calls.length, 1);
			assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'mock', unit: 'c' });
			const got = await receivedOne(env, 'm08');
			assert.deepEqual(got.body.tool_choice, { type: 'auto', disable_parallel_tool_use: true });
		});

		await t.test('tool result round trip', async () => {
			const first = await client.chat.completions.create({
				model: 'mock-claude', messages: user('weather in Paris? m09 [[mock:tool]]'),
				tools: TOOLS, tool_choice: 'required',
			});
			const call = first.choices[0].message.tool_calls[0];
			const second = await client.chat.completions.create({
				model: 'mock-claude', tools: TOOLS,
				messages: [
					{ role: 'user', content: 'weather in Paris? m09 [[mock:tool]]' },
					first.choices[0].message,
					{ role: 'tool', tool_call_id: call.id, content: '{"temp_c":18}' },
					{ role: 'user', content: 'thanks m09b' }],
			});
			assert.equal(second.choices[0].message.content, 'Echo: thanks m09b');
			assert.equal(second.choices[0].finish_reason, 'stop');
			const got = await receivedOne(env, 'thanks m09b');
			const msgs = got.body.messages;
			assert.equal(msgs.length, 3);
			assert.deepEqual(msgs[1], { role: 'assistant', content: [{ type: 'tool_use',
			    id: call.id, name: 'get_weather', input: { city: 'mock', unit: 'c' } }] });
			assert.deepEqual(msgs[2], { role: 'user', content: [
				{ type: 'tool_result', tool_use_id: call.id, content: '{"temp_c":18}' },
				{ type: 'text', text: 'thanks m09b' }] });
			const firstGot = (await received(env, 'm09')).filter((x) => x.body.messages.length === 1);
			assert.equal(firstGot.length, 1);
			assert.deepEqual(firstGot[0].body.tool_choice, { type: 'any' });
		});

		await t.test('foreign tool-call ids are rewritten on both sides', async () => {
			const r = await client.chat.completions.create({
				model: 'mock-claude', tools: TOOLS,
				messages: [
					{ role: 'user', content: 'hi m10' },
					{ role: 'assistant', content: null, tool_calls: [{ id: 'functions.get_weather:0',
					    type: 'function', function: { name: 'get_weather',
					    arguments: '{"city":"Oslo","unit":"c"}' } }] },
					{ role: 'tool', tool_call_id: 'functions.get_weather:0', content: '2C' },
					{ role: 'user', content: 'and now m10b' }],
			});
			assert.equal(r.choices[0].message.content, 'Echo: and now m10b');
			const got = await receivedOne(env, 'and now m10b');
			const id = got.body.messages[1].content[0].id;
			assert.match(id, /^[a-zA-Z0-9_-]+$/);
			assert.equal(got.body.messages[2].content[0].tool_use_id, id);
		});

		await t.test('a tool call without its result is a 400 naming it', async () => {
			await assert.rejects(client.chat.completions.create({
				model: 'mock-claude', tools: TOOLS,
				messages: [
					{ role: 'user', content: 'hi m11' },
					{ role: 'assistant', content: null, tool_calls: [{ id: 'call_lonely',
					    type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
					{ role: 'user', content: 'well?' }],
			}), (e) => {
				assert.ok(e instanceof OpenAI.BadRequestError, 'not a 400: ' + e);
				assert.match(e.message, /call_lonely/);
				assert.equal(e.param, 'messages');
				return true;
			});
			assert.equal((await received(env, 'm11')).length, 0);
		});

		await t.test('response_format json_object', async () => {
			const r = await client.chat.completions.create({
				model: 'mock-claude', messages: user('reply in JSON m12'),
				response_format: { type: 'json_object' },
			});
			assert.equal(r.choices[0].finish_reason, 'stop');
			assert.equal(r.choices[0].message.tool_calls, undefined);
			assert.deepEqual(JSON.parse(r.choices[0].message.content), { answer: 'Echo: reply in JSON m12' });
			const got = await receivedOne(env, 'm12');
			assert.equal(got.body.tool_choice.type, 'tool');
			assert.equal(got.body.tool_choice.name, got.body.tools[0].name);
		});

		await t.test('response_format json_schema, streamed and not', async () => {
			const rf = { type: 'json_schema', json_schema: { name: 'person', schema: {
			    type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } },
			    required: ['name', 'age'], additionalProperties: false }, strict: true } };
			const r = await client.chat.completions.create({
				model: 'mock-claude', messages: user('who? m13'), response_format: rf,
			});
			assert.deepEqual(JSON.parse(r.choices[0].message.content), { name: 'mock', age: 42 });
			const s = await drain(await client.chat.completions.create({
				model: 'mock-claude', messages: user('who? m13s [[mock:chunks=3]]'),
				response_format: rf, stream: true,
			}));
			assert.deepEqual(JSON.parse(s.text), { name: 'mock', age: 42 });
			assert.equal(s.finish, 'stop');
			assert.equal(s.calls.length, 0);
			const got = await receivedOne(env, 'm13s');
			assert.deepEqual(got.body.tools[0].input_schema, rf.json_schema.schema);
		});

		await t.test('image input', async () => {
			const r = await client.chat.completions.create({
				model: 'mock-claude', messages: [{ role: 'user', content: [
					{ type: 'text', text: 'what is this m14' },
					{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
					{ type: 'image_url', image_url: { url: 'https://example.com/a.jpg', detail: 'low' } }] }],
			});
			assert.equal(r.choices[0].message.content, 'Echo: what is this m14');
			const got = await receivedOne(env, 'm14');
			assert.deepEqual(got.body.messages[0].content.slice(1), [
				{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
				{ type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } }]);
		});

		await t.test('stop sequences and max_tokens', async () => {
			const r = await client.chat.completions.create({
				model: 'mock-claude', messages: user('hello claude again m15'), stop: ['claude'],
			});
			assert.equal(r.choices[0].message.content, 'Echo: hello ');
			assert.equal(r.choices[0].finish_reason, 'stop');
			assert.deepEqual((await receivedOne(env, 'again m15')).body.stop_sequences, ['claude']);
			const l = await client.chat.completions.create({
				model: 'mock-claude', messages: user('one two three m15b'), max_tokens: 2,
			});
			assert.equal(l.choices[0].message.content, 'Echo: one');
			assert.equal(l.choices[0].finish_reason, 'length');
		});

		await t.test('parameters that cannot be honoured: 400 with param', async () => {
			const cases = [
				[{ n: 2 }, 'n'], [{ logprobs: true }, 'logprobs'], [{ temperature: 1.5 }, 'temperature'],
				[{ seed: 3 }, 'seed'], [{ logit_bias: { 50256: -100 } }, 'logit_bias'],
				[{ presence_penalty: 0.5 }, 'presence_penalty'],
			];
			for (const [extra, param] of cases) {
				await assert.rejects(client.chat.completions.create(Object.assign({
					model: 'mock-claude', messages: user('refuse me m16'),
				}, extra)), (e) => {
					assert.ok(e instanceof OpenAI.BadRequestError, param + ': not a 400: ' + e);
					assert.equal(e.param, param);
					assert.match(e.message, /mock-claude/);
					return true;
				});
			}
			assert.equal((await received(env, 'm16')).length, 0, 'refused requests reached the source');
			/* Neutral values pass. */
			const ok = await client.chat.completions.create({ model: 'mock-claude',
			    messages: user('neutral m16b'), n: 1, logprobs: false, presence_penalty: 0,
			    temperature: 0.5, store: true, metadata: { a: 'b' } });
			assert.equal(ok.choices[0].message.content, 'Echo: neutral m16b');
			const got = await receivedOne(env, 'm16b');
			assert.equal(got.body.temperature, 0.5);
			assert.equal(got.body.metadata, undefined);
		});

		await t.test('the source rejecting a request: 400 with its message', async () => {
			await assert.rejects(client.chat.completions.create({
				model: 'mock-claude', messages: user('bad top_p m17'), top_p: 1.5,
			}), (e) => {
				assert.ok(e instanceof OpenAI.BadRequestError, 'not a 400: ' + e);
				assert.match(e.message, /top_p/);
				return true;
			});
		});

		await t.test('source 529 -> 503 with Retry-After', async () => {
			const res = await env.chat({ model: 'mock-claude', messages: user('busy [[mock:status=529]]') });
			assert.equal(res.status, 503);
			const err = h.assertErrorShape(res.json, '529');
			assert.equal(err.code, 'upstream_overloaded');
			assert.equal(res.headers['retry-after'], '2');
			await assert.rejects(client.chat.completions.create({
				model: 'mock-claude', messages: user('busy [[mock:status=529]]'),
			}), (e) => {
				assert.ok(e instanceof OpenAI.APIError, 'not an APIError: ' + e);
				assert.equal(e.status, 503);
				return true;
			});
		});

		await t.test('source 429 -> 429 RateLimitError', async () => {
			await assert.rejects(client.chat.completions.create({
				model: 'mock-claude', messages: user('slow [[mock:status=429]]'),
			}), (e) => {
				assert.ok(e instanceof OpenAI.RateLimitError, 'not a RateLimitError: ' + e);
				return true;
			});
		});

		await t.test('source 401 -> 502, the key never shown', async () => {
			const res = await env.chat({ model: 'mock-claude-badkey', messages: user('who am i m19') });
			assert.equal(res.status, 502);
			const err = h.assertErrorShape(res.json, '401');
			assert.equal(err.code, 'upstream_auth_failed');
			assert.ok(!res.text.includes(BAD_KEY), 'the key is in the answer: ' + res.text);
			assert.ok(!res.text.includes('leaky'), 'part of the key is in the answer');
			/* The mock did get it (and put it in its 401 body). */
			const got = await receivedOne(env, 'm19');
			assert.equal(got.headers['x-api-key'], BAD_KEY);
			assert.ok(!env.log().includes(BAD_KEY), 'the key reached the gateway log');
		});

		await t.test('a broken stream throws in for await', async () => {
			const stream = await client.chat.completions.create({
				model: 'mock-claude', messages: user('break [[mock:break_after=4]]'), stream: true,
			});
			let got = 0;
			await assert.rejects((async () => {
				for await (const chunk of stream) {
					if (chunk.choices.length)
						got++;
				}
			})(), (e) => e instanceof OpenAI.APIError);
			assert.ok(got >= 1, 'no chunk before the break');
		});

		await t.test('an overloaded error event mid-stream throws', async () => {
			const stream = await client.chat.completions.create({
				model: 'mock-claude', messages: user('fail [[mock:error_event]]'), stream: true,
			});
			await assert.rejects((async () => {
				for await (const chunk of stream)
					void chunk;
			})(), (e) => {
				assert.ok(e instanceof OpenAI.APIError, 'not an APIError: ' + e);
				assert.match(String(e.message), /overloaded/i);
				return true;
			});
		});

		await t.test('raw stream: framing, [DONE], one finish chunk', async () => {
			const s = await env.stream({ model: 'mock-claude', stream: true,
			    messages: user('raw [[mock:split]] [[mock:keepalive]] [[mock:thinking]]') });
			assert.equal(s.status, 200);
			assert.equal(s.done, true, 'no [DONE]: ' + s.raw.slice(-300));
			assert.equal(s.error, null);
			const data = s.events.filter((e) => e.json);
			assert.equal(data.filter((e) => e.json.choices[0].finish_reason).length, 1);
			assert.equal(h.streamText(s), 'Echo: raw');
			const reasoning = data.map((e) => e.json.choices[0].delta.reasoning_content || '').join('');
			assert.equal(reasoning, 'Thinking about: raw');
		});
	} finally {
		await env.stop();
	}
});
