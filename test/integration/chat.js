/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Non-streaming chat completions through the gateway: the answer and the
 * x-nextmodel-* headers, and what the source received: the upstream model
 * name and every other field unchanged, numbers byte for byte.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();

/* The chat requests the mock logged whose last message contains marker. */
async function mockSaw(env, marker) {
	const log = await env.mockRequests();
	return log.filter((r) => r.path.startsWith('/v1/chat/completions') &&
	    r.raw.includes(marker));
}

const TOOLS = [{
	type: 'function',
	function: {
		name: 'get_weather',
		description: 'Current weather',
		parameters: {
			type: 'object',
			properties: { city: { type: 'string' }, days: { type: 'integer' } },
			required: ['city'],
			additionalProperties: false,
		},
		strict: true,
	},
}];

test('chat', async (t) => {
	const env = await h.startEnv();
	try {
		await t.test('non-stream answer and headers', async () => {
			const marker = 'plain-' + Date.now();
			const r = await env.chat(h.chatBody('hello there ' + marker));
			assert.equal(r.status, 200, r.text);
			assert.match(r.headers['content-type'] || '', /^application\/json/);
			assert.equal(r.json.object, 'chat.completion');
			assert.equal(r.json.choices.length, 1);
			assert.equal(r.json.choices[0].message.role, 'assistant');
			assert.equal(r.json.choices[0].message.content, 'Echo: hello there ' + marker);
			assert.equal(r.json.choices[0].finish_reason, 'stop');
			assert.equal(r.json.usage.prompt_tokens, 3);
			assert.equal(r.json.usage.completion_tokens, 4);
			assert.equal(r.json.usage.total_tokens, 7);
			assert.equal(r.headers['x-nextmodel-serve-mode'], 'fresh');
			const rid = r.headers['x-nextmodel-request-id'];
			assert.ok(rid && rid.length > 0, 'no x-nextmodel-request-id');
			assert.equal(r.headers['x-request-id'], rid);
			assert.equal(r.headers['x-nextmodel-model'], 'mock-gpt');
			assert.equal(r.headers['x-nextmodel-provider'], 'mock');
			/* 3 x 0.15 + 4 x 0.60 USD per 1M tokens */
			assert.equal(r.headers['x-nextmodel-usage-source'], 'upstream');
			assert.equal(r.headers['x-nextmodel-cost-usd'], '0.00000285');
			assert.equal(r.headers['x-nextmodel-cost-usd'],
			    h.expectedCost(r.json.usage, h.defaultModel()));
			const seen = await mockSaw(env, marker);
			assert.equal(seen.length, 1, 'the mock saw ' + seen.length + ' requests');
			assert.equal(seen[0].body.model, 'mock-gpt-upstream');
			assert.notEqual(seen[0].body.stream, true);
			assert.deepEqual(seen[0].body.messages, [{ role: 'user',
			    content: 'hello there ' + marker }]);
		});

		await t.test('request ids differ between requests', async () => {
			const a = await env.chat(h.chatBody('one'));
			const b = await env.chat(h.chatBody('two'));
			assert.equal(a.status, 200);
			assert.equal(b.status, 200);
			assert.notEqual(a.headers['x-nextmodel-request-id'],
			    b.headers['x-nextmodel-request-id']);
		});

		await t.test('every field reaches the source unchanged', async () => {
			const marker = 'fields-' + Date.now();
			const messages = [
				{ role: 'system', content: 'Answer in one sentence.' },
				{ role: 'user', content: [
					{ type: 'text', text: 'What is in this picture?' },
					{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=',
					    detail: 'low' } }] },
				{ role: 'assistant', content: null, tool_calls: [{ id: 'call_a1',
				    type: 'function', function: { name: 'get_weather',
				    arguments: '{"city":"Paris"}' } }] },
				{ role: 'tool', tool_call_id: 'call_a1', content: '{"temp_c":18}' },
				{ role: 'user', content: 'Thanks, and caf\u00e9 \u2603 \ud83d\ude00 "quoted" ' + marker },
			];
			const fields = {
				model: 'mock-gpt',
				messages,
				temperature: '__TEMP__',
				top_p: 0.9,
				seed: '__SEED__',
				user: 'u-42',
				metadata: { team: 'alpha', ticket: '1234' },
				tools: TOOLS,
				tool_choice: { type: 'function', function: { name: 'get_weather' } },
				parallel_tool_calls: false,
				response_format: { type: 'json_schema', json_schema: { name: 'answer',
				    strict: true, schema: { type: 'object', properties: {
				    city: { type: 'string' }, ok: { type: 'boolean' } },
				    required: ['city', 'ok'], additionalProperties: false } } },
				logit_bias: { 50256: -100, 1234: 5 },
				stop: ['END', 'STOP'],
				n: 2,
				presence_penalty: 0.5,
				frequency_penalty: -0.25,
				max_completion_tokens: 200,
				logprobs: true,
				top_logprobs: 2,
			};
			const raw = JSON.stringify(fields)
			    .replace('"__TEMP__"', '0.70000000000000001')
			    .replace('"__SEED__"', '9007199254740993');
			const r = await env.chat(raw);
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.choices.length, 2, 'n=2 should give two choices');
			/* tool_choice names get_weather: the source calls it, in both choices. */
			for (const c of r.json.choices) {
				assert.equal(c.finish_reason, 'tool_calls');
				assert.equal(c.message.tool_calls[0].function.name, 'get_weather');
				assert.deepEqual(JSON.parse(c.message.tool_calls[0].function.arguments),
				    { city: 'mock', days: 42 });
			}
			const seen = await mockSaw(env, marker);
			assert.equal(seen.length, 1);
			const b = seen[0].body;
			const sent = JSON.parse(raw);
			assert.equal(b.model, 'mock-gpt-upstream');
			for (const k of Object.keys(sent)) {
				if (k === 'model' || k === 'temperature' || k === 'seed')
					continue;
				assert.deepEqual(b[k], sent[k], 'field ' + k + ' changed on the way');
			}
			/* Numbers byte for byte, never through a double. */
			assert.match(seen[0].raw, /"temperature"\s*:\s*0\.70000000000000001\s*[,}]/,
			    'temperature not passed byte-exact: ' + seen[0].raw.slice(0, 400));
			assert.match(seen[0].raw, /"seed"\s*:\s*9007199254740993\s*[,}]/,
			    'seed not passed byte-exact');
			assert.match(seen[0].raw, /"frequency_penalty"\s*:\s*-0\.25\s*[,}]/);
		});

		await t.test('tool call answer relayed', async () => {
			const r = await env.chat(h.chatBody('weather in Paris [[mock:tool]]',
			    { tools: TOOLS }));
			assert.equal(r.status, 200, r.text);
			const c = r.json.choices[0];
			assert.equal(c.finish_reason, 'tool_calls');
			assert.equal(c.message.tool_calls.length, 1);
			assert.equal(c.message.tool_calls[0].type, 'function');
			assert.equal(c.message.tool_calls[0].function.name, 'get_weather');
			assert.deepEqual(JSON.parse(c.message.tool_calls[0].function.arguments),
			    { city: 'mock', days: 42 });
		});

		await t.test('json_object answer relayed', async () => {
			const r = await env.chat(h.chatBody('answer in JSON please',
			    { response_format: { type: 'json_object' } }));
			assert.equal(r.status, 200, r.text);
			assert.deepEqual(JSON.parse(r.json.choices[0].message.content),
			    { answer: 'Echo: answer in JSON please' });
		});

		await t.test('a slow source within the timeout still answers', async () => {
			const r = await env.chat(h.chatBody('slow [[mock:delay=300]]'));
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.choices[0].message.content, 'Echo: slow');
		});

		await t.test('keep-alive connection serves several requests', async () => {
			const http = require('node:http');
			const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
			try {
				for (let i = 0; i < 5; i++) {
					const r = await env.chat(h.chatBody('ka ' + i), { agent });
					assert.equal(r.status, 200, r.text);
					assert.equal(r.json.choices[0].message.content, 'Echo: ka ' + i);
				}
			} finally {
				agent.destroy();
			}
		});
	} finally {
		await env.stop();
	}
});
