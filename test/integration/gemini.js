/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A Gemini source (kind: gemini) behind the gateway, driven end to end by
 * the official OpenAI SDK: plain and streamed chat, tools both ways and a
 * tool-result round trip with thought signatures, JSON modes with schemas
 * Gemini would refuse unchanged, images, usage, unsupported parameters,
 * the source's errors, broken streams, and embeddings.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const mockGemini = require('../mock/gemini.js');

h.requireBuild();
const OpenAI = h.requirePackage('openai');

const UPSTREAM = 'gemini-mock-flash';
const UPSTREAM_EMBED = 'gemini-mock-embedding';

const TOOLS = [{
	type: 'function',
	function: {
		name: 'get_weather',
		description: 'Current weather',
		strict: true,
		parameters: {
			$schema: 'http://json-schema.org/draft-07/schema#',
			type: 'object',
			properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
			required: ['city', 'unit'],
			additionalProperties: false,
		},
	},
}];

/* One user message. */
function user(text) {
	return [{ role: 'user', content: text }];
}

/* The Gemini requests the mock received since mark (a log length). */
async function geminiSince(env, mark) {
	const log = await env.mockRequests();
	return log.slice(mark).filter((r) => r.gemini);
}

/* The number of requests the mock has logged so far. */
async function mark(env) {
	return (await env.mockRequests()).length;
}

/* The last Gemini request since m, which must exist. */
async function lastGemini(env, m) {
	const got = await geminiSince(env, m);
	assert.ok(got.length > 0, 'the mock saw no Gemini request');
	return got[got.length - 1];
}

/* Every key anywhere in a JSON value (for schema checks). */
function allKeys(v, out) {
	out = out || new Set();
	if (Array.isArray(v))
		v.forEach((x) => allKeys(x, out));
	else if (v !== null && typeof v === 'object') {
		for (const [k, x] of Object.entries(v)) {
			out.add(k);
			allKeys(x, out);
		}
	}
	return out;
}

/* Collect a streamed completion: text, tool calls, finish, usage, chunk count. */
async function collect(stream) {
	const out = { text: '', calls: [], finish: null, usage: null, n: 0, ids: new Set() };
	for await (const chunk of stream) {
		out.n++;
		out.ids.add(chunk.id);
		if (chunk.usage)
			out.usage = chunk.usage;
		const c = chunk.choices[0];
		if (!c)
			continue;
		if (c.finish_reason)
			out.finish = c.finish_reason;
		if (c.delta && typeof c.delta.content === 'string')
			out.text += c.delta.content;
		for (const tc of (c.delta && c.delta.tool_calls) || []) {
			if (!out.calls[tc.index])
				out.calls[tc.index] = { id: tc.id, name: tc.function.name, args: '' };
			out.calls[tc.index].args += tc.function.arguments || '';
		}
	}
	return out;
}

/* Expect an APIError with status (and code) from promise p. */
async function expectError(p, status, code, check) {
	await assert.rejects(p, (e) => {
		assert.ok(e instanceof OpenAI.APIError, 'not an APIError: ' + e);
		assert.equal(e.status, status, 'status of ' + e.message);
		if (code !== undefined)
			assert.equal(e.code, code);
		if (check)
			check(e);
		return true;
	});
}

test('gemini', async (t) => {
	const opts = {
		/* Gemini's base URL is the mock's root. */
		extraProviders: { gem: { kind: 'gemini', api_key_env: 'MOCK_API_KEY',
		    mock_path: '' } },
		extraModels: [{
			id: 'mock-gemini', provider: 'gem', upstream_model: UPSTREAM,
			input_per_mtok: 0.3, output_per_mtok: 2.5, cached_input_per_mtok: 0.075,
			context_window: 1048576, max_output: 65536,
			capabilities: ['tools', 'json', 'vision', 'streaming'], region: 'global',
			latency_ms: 500,
		}, {
			id: 'mock-gemini-embed', provider: 'gem', upstream_model: UPSTREAM_EMBED,
			input_per_mtok: 0.15, output_per_mtok: 0, context_window: 2048,
			capabilities: ['embeddings'], region: 'global', latency_ms: 200,
		}],
	};
	const env = await h.startEnv(opts);
	const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0,
	    timeout: 30000 });
	const model = 'mock-gemini';
	try {
		await t.test('chat, not streamed, with a system prompt', async () => {
			const m = await mark(env);
			const { data, response } = await client.chat.completions.create({
				model, messages: [{ role: 'system', content: 'Be brief.' },
				    { role: 'user', content: 'hello from the sdk' }],
				temperature: 0.3, max_tokens: 100, stop: ['END'],
			}).withResponse();
			assert.equal(data.object, 'chat.completion');
			assert.equal(data.choices[0].message.content, 'Echo: hello from the sdk');
			assert.equal(data.choices[0].message.role, 'assistant');
			assert.equal(data.choices[0].finish_reason, 'stop');
			assert.equal(data.usage.prompt_tokens, 6);
			assert.equal(data.usage.completion_tokens, 5);
			assert.equal(data.usage.total_tokens, 11);
			assert.equal(response.headers.get('x-nextmodel-provider'), 'gem');
			assert.equal(response.headers.get('x-nextmodel-model'), model);
			const r = await lastGemini(env, m);
			assert.equal(r.path, '/v1beta/models/' + UPSTREAM + ':generateContent');
			assert.equal(r.gemini.keyInUrl, false);
			assert.equal(r.headers['x-goog-api-key'], h.MOCK_KEY.slice(0, 5) + '****' +
			    h.MOCK_KEY.slice(-4));
			assert.equal(r.headers.authorization, undefined);
			assert.deepEqual(r.body.systemInstruction, { parts: [{ text: 'Be brief.' }] });
			assert.deepEqual(r.body.contents, [{ role: 'user', parts: [{ text: 'hello from the sdk' }] }]);
			assert.deepEqual(r.body.generationConfig, { temperature: 0.3, stopSequences: ['END'],
			    maxOutputTokens: 100 });
			assert.equal(r.body.model, undefined);
		});

		await t.test('usage counts thoughts and cached tokens', async () => {
			const r = await client.chat.completions.create({
				model, messages: user('think hard [[mock:thoughts=7]] [[mock:cached=2]]'),
			});
			/* prompt: 4 words with the switches; answer "Echo: think hard": 3. */
			assert.equal(r.usage.prompt_tokens, 4);
			assert.equal(r.usage.completion_tokens, 3 + 7);
			assert.equal(r.usage.total_tokens, 14);
			assert.equal(r.usage.completion_tokens_details.reasoning_tokens, 7);
			assert.equal(r.usage.prompt_tokens_details.cached_tokens, 2);
		});

		await t.test('chat, streamed with the usage chunk', async () => {
			const m = await mark(env);
			const stream = await client.chat.completions.create({
				model, messages: user('stream to the sdk [[mock:chunks=5]]'),
				stream: true, stream_options: { include_usage: true },
			});
			const s = await collect(stream);
			assert.equal(s.text, 'Echo: stream to the sdk');
			assert.equal(s.finish, 'stop');
			assert.ok(s.n >= 7, 'only ' + s.n + ' chunks');
			assert.equal(s.ids.size, 1, 'chunk ids differ');
			assert.ok(s.usage, 'no usage chunk');
			assert.equal(s.usage.prompt_tokens, 5);
			assert.equal(s.usage.completion_tokens, 5);
			assert.equal(s.usage.total_tokens, 10);
			const r = await lastGemini(env, m);
			assert.equal(r.path, '/v1beta/models/' + UPSTREAM + ':streamGenerateContent?alt=sse');
			assert.equal(r.gemini.alt, 'sse');
		});

		await t.test('stream without include_usage has no usage chunk', async () => {
			const s = await env.stream({ model, messages: user('quiet usage'), stream: true });
			assert.equal(s.status, 200);
			assert.equal(s.done, true, 'no [DONE]: ' + s.raw.slice(-300));
			assert.equal(h.streamText(s), 'Echo: quiet usage');
			for (const ev of s.events.filter((e) => e.json))
				assert.ok(!('usage' in ev.json), 'usage in ' + ev.data);
		});

		await t.test('stream: \\r\\n, split writes, finishReason on its own', async () => {
			const runner = client.chat.completions.stream({
				model, messages: user('odd framing [[mock:crlf]] [[mock:split]] ' +
				    '[[mock:finish_alone]] [[mock:chunks=3]]'),
			});
			const final = await runner.finalChatCompletion();
			assert.equal(final.choices[0].message.content, 'Echo: odd framing');
			assert.equal(final.choices[0].finish_reason, 'stop');
		});

		await t.test('tools, not streamed (the schema cleaned for Gemini)', async () => {
			const m = await mark(env);
			const r = await client.chat.completions.create({
				model, messages: user('weather? [[mock:tool]]'), tools: TOOLS,
				tool_choice: 'required',
			});
			const call = r.choices[0].message.tool_calls[0];
			assert.equal(r.choices[0].finish_reason, 'tool_calls');
			assert.match(call.id, /^call_[0-9a-f]{24}_t[A-Za-z0-9_-]+$/);
			assert.equal(call.type, 'function');
			assert.equal(call.function.name, 'get_weather');
			assert.deepEqual(JSON.parse(call.function.arguments), { city: 'mock', unit: 'c' });
			const g = await lastGemini(env, m);
			const decl = g.body.tools[0].functionDeclarations[0];
			assert.equal(decl.name, 'get_weather');
			const keys = allKeys(decl.parameters);
			for (const bad of ['additionalProperties', '$schema', 'strict'])
				assert.ok(!keys.has(bad), bad + ' reached the source');
			assert.deepEqual(g.body.toolConfig, { functionCallingConfig: { mode: 'ANY' } });
		});

		await t.test('tools, streamed: two calls with their own index', async () => {
			const stream = await client.chat.completions.create({
				model, messages: user('weather twice? [[mock:tool=2]]'), tools: TOOLS,
				stream: true, stream_options: { include_usage: true },
			});
			const s = await collect(stream);
			assert.equal(s.finish, 'tool_calls');
			assert.equal(s.calls.length, 2);
			assert.notEqual(s.calls[0].id, s.calls[1].id);
			for (const [i, c] of s.calls.entries()) {
				assert.equal(c.name, 'get_weather');
				assert.deepEqual(JSON.parse(c.args), { city: 'mock', unit: 'c', call: i });
			}
			assert.ok(s.usage && s.usage.completion_tokens > 0);
		});

		await t.test('tool results round trip with the thought signature', async () => {
			const messages = user('weather in Paris? [[mock:tool]] [[mock:require_signature]]');
			const first = await client.chat.completions.create({ model, messages, tools: TOOLS });
			const msg = first.choices[0].message;
			assert.equal(msg.tool_calls.length, 1);
			messages.push(msg);
			messages.push({ role: 'tool', tool_call_id: msg.tool_calls[0].id,
			    content: '{"temp_c": 18}' });
			const m = await mark(env);
			const second = await client.chat.completions.create({ model, messages, tools: TOOLS });
			assert.equal(second.choices[0].finish_reason, 'stop');
			const text = second.choices[0].message.content;
			assert.match(text, /tool results: /);
			const results = JSON.parse(text.slice(text.indexOf('tool results: ') + 14));
			assert.deepEqual(results, [{ name: 'get_weather', response: { temp_c: 18 } }]);
			const g = await lastGemini(env, m);
			const callTurn = g.body.contents[1];
			assert.equal(callTurn.role, 'model');
			assert.equal(callTurn.parts[0].thoughtSignature, mockGemini.signatureFor('get_weather'));
			assert.deepEqual(callTurn.parts[0].functionCall.args, { city: 'mock', unit: 'c' });
			assert.equal(g.body.contents[2].role, 'user');
			assert.equal(g.body.contents[2].parts[0].functionResponse.name, 'get_weather');

			/* Plain text results are wrapped: Gemini wants an object. */
			messages[messages.length - 1] = { role: 'tool', tool_call_id: msg.tool_calls[0].id,
			    content: 'sunny' };
			const third = await client.chat.completions.create({ model, messages, tools: TOOLS });
			assert.match(third.choices[0].message.content,
			    /"response":\{"result":"sunny"\}/);
		});

		await t.test('response_format json_object', async () => {
			const m = await mark(env);
			const r = await client.chat.completions.create({
				model, messages: user('reply in JSON'), response_format: { type: 'json_object' },
			});
			assert.deepEqual(JSON.parse(r.choices[0].message.content), { answer: 'Echo: reply in JSON' });
			const g = await lastGemini(env, m);
			assert.equal(g.body.generationConfig.responseMimeType, 'application/json');
		});

		await t.test('response_format json_schema (additionalProperties stays here)', async () => {
			const m = await mark(env);
			const r = await client.chat.completions.create({
				model, messages: user('a person as JSON'),
				response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true,
				    schema: { type: 'object', additionalProperties: false,
				    $schema: 'https://json-schema.org/draft/2020-12/schema',
				    properties: { name: { type: 'string' }, age: { type: 'integer' },
				    tags: { type: 'array', items: { type: 'string' } } },
				    required: ['name', 'age', 'tags'] } } },
			});
			assert.deepEqual(JSON.parse(r.choices[0].message.content),
			    { name: 'mock', age: 42, tags: ['mock'] });
			const g = await lastGemini(env, m);
			const schema = g.body.generationConfig.responseSchema;
			assert.ok(!allKeys(schema).has('additionalProperties'));
			assert.ok(!allKeys(schema).has('$schema'));
			assert.deepEqual(schema.propertyOrdering, ['name', 'age', 'tags']);
		});

		await t.test('image input: data URL inline, https URL by reference', async () => {
			const m = await mark(env);
			const r = await client.chat.completions.create({
				model, messages: [{ role: 'user', content: [
				    { type: 'text', text: 'what is this' },
				    { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
				    { type: 'image_url', image_url: { url: 'https://example.com/cat.webp' } }] }],
			});
			assert.equal(r.choices[0].message.content, 'Echo: what is this');
			const g = await lastGemini(env, m);
			assert.deepEqual(g.body.contents[0].parts.slice(1), [
			    { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
			    { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp' } }]);
		});

		await t.test('n: several candidates become several choices', async () => {
			const r = await client.chat.completions.create({ model, messages: user('twice'), n: 2 });
			assert.equal(r.choices.length, 2);
			assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
			assert.equal(r.choices[1].message.content, 'Echo: twice');
		});

		await t.test('an unsupported parameter is a 400 naming it, no source call', async () => {
			const m = await mark(env);
			await expectError(client.chat.completions.create({
				model, messages: user('probabilities please'), logprobs: true, top_logprobs: 2,
			}), 400, 'unsupported_parameter', (e) => {
				assert.ok(e.param === 'logprobs' || e.param === 'top_logprobs', 'param ' + e.param);
				assert.match(e.message, /mock-gemini/);
			});
			await expectError(client.chat.completions.create({
				model, messages: user('bias'), logit_bias: { 50256: -100 },
			}), 400, 'unsupported_parameter', (e) => assert.equal(e.param, 'logit_bias'));
			assert.equal((await geminiSince(env, m)).length, 0, 'the source was called');
		});

		await t.test('a blocked prompt is an error, not an empty answer', async () => {
			await expectError(client.chat.completions.create({
				model, messages: user('forbidden [[mock:block]]'),
			}), 400, 'content_filter');
		});

		await t.test('source 403 -> 502 without the source body', async () => {
			await expectError(client.chat.completions.create({
				model, messages: user('denied [[mock:status=403]]'),
			}), 502, 'upstream_auth_failed', (e) => {
				assert.doesNotMatch(e.message, /suspended|mock-key/);
			});
		});

		await t.test('an invalid key (400 API_KEY_INVALID) -> 502', async () => {
			await expectError(client.chat.completions.create({
				model, messages: user('key [[mock:bad_key]]'),
			}), 502, 'upstream_auth_failed');
		});

		await t.test('source 429 -> RateLimitError with Retry-After from RetryInfo', async () => {
			await expectError(client.chat.completions.create({
				model, messages: user('slow down [[mock:status=429]]'),
			}), 429, undefined, (e) => {
				assert.ok(e instanceof OpenAI.RateLimitError);
				assert.equal(e.headers.get('retry-after'), '2');
			});
		});

		await t.test('source 500 -> 502, 504 -> 504, 404 -> 502', async () => {
			await expectError(client.chat.completions.create({
				model, messages: user('boom [[mock:status=500]]'),
			}), 502, 'upstream_error');
			await expectError(client.chat.completions.create({
				model, messages: user('late [[mock:status=504]]'),
			}), 504, 'upstream_timeout');
			await expectError(client.chat.completions.create({
				model, messages: user('where [[mock:status=404]]'),
			}), 502, 'upstream_error');
		});

		await t.test('source 400 -> 400 with its message', async () => {
			await expectError(client.chat.completions.create({
				model, messages: user('bad [[mock:status=400]]'),
			}), 400, undefined, (e) => assert.match(e.message, /invalid argument/));
		});

		await t.test('a broken stream throws in for await', async () => {
			const stream = await client.chat.completions.create({
				model, messages: user('break this stream now [[mock:break_after=2]] [[mock:chunks=6]]'),
				stream: true,
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

		await t.test('a clean end without finishReason is an error too', async () => {
			const s = await env.stream({ model, messages: user('cut short [[mock:no_finish]]'),
			    stream: true });
			assert.equal(s.status, 200);
			assert.equal(s.done, false, 'a truncated stream ended with [DONE]');
			assert.ok(s.error, 'no error event: ' + s.raw.slice(-300));
			const stream = await client.chat.completions.create({
				model, messages: user('cut short [[mock:no_finish]]'), stream: true });
			await assert.rejects((async () => {
				for await (const chunk of stream)
					void chunk;
			})(), (e) => e instanceof OpenAI.APIError);
		});

		await t.test('an error event throws in for await', async () => {
			const stream = await client.chat.completions.create({
				model, messages: user('fail [[mock:error_event]]'), stream: true,
			});
			await assert.rejects((async () => {
				for await (const chunk of stream)
					void chunk;
			})(), (e) => e instanceof OpenAI.APIError);
		});

		/* Embeddings need POST /v1/embeddings in the gateway. */
		const probe = await h.request(env.baseURL + '/embeddings', { method: 'POST',
		    headers: env.auth(), body: { model: 'mock-gemini-embed', input: 'probe' } });
		const haveEmbeddings = probe.status !== 404;
		if (!haveEmbeddings)
			t.diagnostic('POST /v1/embeddings answers 404: embeddings cases skipped');
		const etest = (name, fn) => t.test(name, { skip: haveEmbeddings ? false :
		    'no /v1/embeddings in this gateway' }, fn);

		await etest('embeddings: float, one text', async () => {
			const m = await mark(env);
			const r = await client.embeddings.create({ model: 'mock-gemini-embed',
			    input: 'hello vectors', encoding_format: 'float' });
			assert.equal(r.object, 'list');
			assert.equal(r.data.length, 1);
			assert.equal(r.data[0].object, 'embedding');
			assert.equal(r.data[0].index, 0);
			assert.equal(r.data[0].embedding.length, 16);
			assert.ok(r.usage.prompt_tokens > 0);
			assert.equal(r.usage.total_tokens, r.usage.prompt_tokens);
			const g = await lastGemini(env, m);
			assert.equal(g.path, '/v1beta/models/' + UPSTREAM_EMBED + ':batchEmbedContents');
			assert.deepEqual(g.body.requests, [{ model: 'models/' + UPSTREAM_EMBED,
			    content: { parts: [{ text: 'hello vectors' }] } }]);
		});

		await etest('embeddings: base64 (the SDK default) equals float32 of the floats', async () => {
			const f = await client.embeddings.create({ model: 'mock-gemini-embed',
			    input: ['one', 'two'], encoding_format: 'float' });
			const b = await client.embeddings.create({ model: 'mock-gemini-embed',
			    input: ['one', 'two'] });
			assert.equal(b.data.length, 2);
			for (let i = 0; i < 2; i++) {
				assert.equal(b.data[i].embedding.length, f.data[i].embedding.length);
				b.data[i].embedding.forEach((v, k) =>
				    assert.equal(v, Math.fround(f.data[i].embedding[k])));
			}
			const raw = await client.embeddings.create({ model: 'mock-gemini-embed',
			    input: 'one', encoding_format: 'base64' });
			assert.equal(typeof raw.data[0].embedding, 'string');
			assert.equal(Buffer.from(raw.data[0].embedding, 'base64').length, 16 * 4);
		});

		await etest('embeddings: dimensions and a batch keep their order', async () => {
			const m = await mark(env);
			const input = ['alpha', 'beta', 'gamma'];
			const r = await client.embeddings.create({ model: 'mock-gemini-embed', input,
			    dimensions: 8, encoding_format: 'float' });
			assert.deepEqual(r.data.map((d) => d.index), [0, 1, 2]);
			for (const d of r.data)
				assert.equal(d.embedding.length, 8);
			const g = await lastGemini(env, m);
			assert.deepEqual(g.body.requests.map((q) => q.content.parts[0].text), input);
			assert.ok(g.body.requests.every((q) => q.outputDimensionality === 8));
			const single = await client.embeddings.create({ model: 'mock-gemini-embed',
			    input: 'beta', dimensions: 8, encoding_format: 'float' });
			assert.deepEqual(single.data[0].embedding, r.data[1].embedding);
		});

		await etest('embeddings: token arrays are a 400', async () => {
			await expectError(client.embeddings.create({ model: 'mock-gemini-embed',
			    input: [[1, 2, 3]] }), 400, undefined, (e) => assert.equal(e.param, 'input'));
		});

		await etest('embeddings: source 429 -> 429', async () => {
			await expectError(client.embeddings.create({ model: 'mock-gemini-embed',
			    input: 'x [[mock:status=429]]' }), 429);
		});
	} finally {
		await env.stop();
	}
});
