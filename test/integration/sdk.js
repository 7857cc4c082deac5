/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The official OpenAI SDK (npm "openai", 6.x) pointed at the gateway with
 * only baseURL and the key changed: plain and streamed chat, tools both
 * ways, JSON mode, and the errors an SDK user sees (APIError status,
 * an error thrown in the middle of a stream).
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();
const OpenAI = h.requirePackage('openai');

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

/* One user message. */
function user(text) {
	return [{ role: 'user', content: text }];
}

test('sdk', async (t) => {
	const env = await h.startEnv();
	const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0,
	    timeout: 30000 });
	try {
		await t.test('chat, not streamed', async () => {
			const { data, response } = await client.chat.completions.create({
				model: 'mock-gpt', messages: user('hello from the sdk'),
			}).withResponse();
			assert.equal(data.choices[0].message.content, 'Echo: hello from the sdk');
			assert.equal(data.object, 'chat.completion');
			assert.equal(data.usage.total_tokens, data.usage.prompt_tokens +
			    data.usage.completion_tokens);
			assert.equal(response.headers.get('x-nextmodel-serve-mode'), 'fresh');
			assert.equal(response.headers.get('x-nextmodel-model'), 'mock-gpt');
		});

		await t.test('chat, streamed with for await', async () => {
			const stream = await client.chat.completions.create({
				model: 'mock-gpt', messages: user('stream to the sdk [[mock:chunks=6]]'),
				stream: true, stream_options: { include_usage: true },
			});
			let text = '';
			let usage = null;
			let n = 0;
			for await (const chunk of stream) {
				n++;
				if (chunk.usage)
					usage = chunk.usage;
				const c = chunk.choices[0];
				if (c && c.delta && c.delta.content)
					text += c.delta.content;
			}
			assert.equal(text, 'Echo: stream to the sdk');
			assert.ok(n >= 8, 'only ' + n + ' chunks');
			assert.ok(usage, 'no usage chunk');
			assert.equal(usage.prompt_tokens, 5);	/* the switch counts as a word */
			assert.equal(usage.completion_tokens, 5);
		});

		await t.test('stream helper assembles the message', async () => {
			const runner = client.chat.completions.stream({
				model: 'mock-gpt', messages: user('helper assembled'),
			});
			const final = await runner.finalChatCompletion();
			assert.equal(final.choices[0].message.content, 'Echo: helper assembled');
		});

		await t.test('tools, not streamed', async () => {
			const r = await client.chat.completions.create({
				model: 'mock-gpt', messages: user('weather? [[mock:tool]]'), tools: TOOLS,
			});
			const call = r.choices[0].message.tool_calls[0];
			assert.equal(r.choices[0].finish_reason, 'tool_calls');
			assert.equal(call.function.name, 'get_weather');
			assert.deepEqual(JSON.parse(call.function.arguments), { city: 'mock', unit: 'c' });
		});

		await t.test('tools, streamed: arguments assemble to JSON', async () => {
			const stream = await client.chat.completions.create({
				model: 'mock-gpt', messages: user('weather? [[mock:tool]] [[mock:chunks=5]]'),
				tools: TOOLS, stream: true,
			});
			const calls = [];
			let finish = null;
			for await (const chunk of stream) {
				const c = chunk.choices[0];
				if (!c)
					continue;
				if (c.finish_reason)
					finish = c.finish_reason;
				for (const tc of c.delta.tool_calls || []) {
					if (!calls[tc.index])
						calls[tc.index] = { id: tc.id, name: tc.function.name, args: '' };
					calls[tc.index].args += tc.function.arguments || '';
				}
			}
			assert.equal(calls.length, 1);
			assert.ok(calls[0].id);
			assert.equal(calls[0].name, 'get_weather');
			assert.deepEqual(JSON.parse(calls[0].args), { city: 'mock', unit: 'c' });
			assert.equal(finish, 'tool_calls');
		});

		await t.test('response_format json_object', async () => {
			const r = await client.chat.completions.create({
				model: 'mock-gpt', messages: user('reply in JSON'),
				response_format: { type: 'json_object' },
			});
			const obj = JSON.parse(r.choices[0].message.content);
			assert.equal(typeof obj, 'object');
			assert.equal(obj.answer, 'Echo: reply in JSON');
		});

		await t.test('models.list and retrieve', async () => {
			const ids = [];
			for await (const m of client.models.list())
				ids.push(m.id);
			assert.ok(ids.includes('mock-gpt'));
			const m = await client.models.retrieve('mock-gpt');
			assert.equal(m.id, 'mock-gpt');
		});

		await t.test('unknown model -> APIError 404', async () => {
			await assert.rejects(client.chat.completions.create({
				model: 'no-such-model', messages: user('hi'),
			}), (e) => {
				assert.ok(e instanceof OpenAI.APIError, 'not an APIError: ' + e);
				assert.equal(e.status, 404);
				assert.equal(e.code, 'model_not_found');
				return true;
			});
		});

		await t.test('bad key -> AuthenticationError 401', async () => {
			const bad = new OpenAI({ baseURL: env.baseURL, apiKey: h.randomKey(), maxRetries: 0 });
			await assert.rejects(bad.chat.completions.create({
				model: 'mock-gpt', messages: user('hi'),
			}), (e) => {
				assert.ok(e instanceof OpenAI.AuthenticationError, 'not a 401 error: ' + e);
				assert.equal(e.status, 401);
				return true;
			});
		});

		await t.test('source 500 -> APIError 502', async () => {
			await assert.rejects(client.chat.completions.create({
				model: 'mock-gpt', messages: user('boom [[mock:status=500]]'),
			}), (e) => {
				assert.ok(e instanceof OpenAI.APIError, 'not an APIError: ' + e);
				assert.equal(e.status, 502);
				assert.equal(e.type, 'upstream_error');
				return true;
			});
		});

		await t.test('source 429 -> RateLimitError', async () => {
			await assert.rejects(client.chat.completions.create({
				model: 'mock-gpt', messages: user('slow [[mock:status=429]]'),
			}), (e) => {
				assert.ok(e instanceof OpenAI.RateLimitError, 'not a RateLimitError: ' + e);
				assert.equal(e.status, 429);
				return true;
			});
		});

		await t.test('a broken stream throws in for await', async () => {
			const stream = await client.chat.completions.create({
				model: 'mock-gpt', messages: user('break [[mock:break_after=3]]'), stream: true,
			});
			let got = 0;
			await assert.rejects((async () => {
				for await (const chunk of stream) {
					if (chunk.choices.length)
						got++;
				}
			})(), (e) => {
				assert.ok(e instanceof OpenAI.APIError, 'not an APIError: ' + e);
				return true;
			});
			assert.ok(got >= 1, 'no chunk before the break');
		});

		await t.test('an error event throws in for await', async () => {
			const stream = await client.chat.completions.create({
				model: 'mock-gpt', messages: user('fail [[mock:error_event]]'), stream: true,
			});
			await assert.rejects((async () => {
				for await (const chunk of stream)
					void chunk;
			})(), (e) => e instanceof OpenAI.APIError);
		});
	} finally {
		await env.stop();
	}
});
