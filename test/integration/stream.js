/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Streaming chat completions: events relayed one by one as they arrive,
 * the usage chunk only for clients that asked for it (the gateway always
 * asks the source), tool-call deltas, keep-alive comments and events cut
 * across TCP writes, and data: [DONE] at the end.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const h = require('./harness.js');

h.requireBuild();

const TOOLS = [{
	type: 'function',
	function: {
		name: 'get_weather',
		description: 'Current weather',
		parameters: { type: 'object', properties: { city: { type: 'string' } },
		    required: ['city'] },
	},
}];

/* Common checks of a stream that finished normally. */
function checkCompleteStream(s, what) {
	assert.equal(s.status, 200, what + ': status ' + s.status + ' ' + s.raw.slice(0, 300));
	assert.match(s.headers['content-type'] || '', /^text\/event-stream/, what);
	assert.equal(s.done, true, what + ': no data: [DONE]; raw tail: ' + s.raw.slice(-300));
	assert.equal(s.error, null, what + ': error event ' + JSON.stringify(s.error));
	const data = s.events.filter((e) => e.data !== null);
	assert.equal(data[data.length - 1].data, '[DONE]', what + ': [DONE] is not last');
	assert.equal(s.afterDone, '', what + ': events after [DONE]');
	for (const ev of data.slice(0, -1)) {
		assert.ok(ev.json !== undefined, what + ': data is not JSON: ' + ev.data);
		assert.equal(ev.json.object, 'chat.completion.chunk', what);
	}
	return data.slice(0, -1);
}

/* The marker-carrying chat requests the mock received. */
async function mockSaw(env, marker) {
	const log = await env.mockRequests();
	return log.filter((r) => r.path.startsWith('/v1/chat/completions') &&
	    r.raw.includes(marker));
}

test('stream', async (t) => {
	/* A model whose context window holds the 1 MB slow-reader body. */
	const long = Object.assign(h.defaultModel(), { id: 'mock-long', context_window: 1000000 });
	const env = await h.startEnv({ extraModels: [long] });
	try {
		await t.test('events are relayed as they arrive', async () => {
			const s = await env.stream(h.chatBody('relay timing check ' +
			    '[[mock:chunk_delay=300]] [[mock:chunks=5]]', { stream: true }));
			const chunks = checkCompleteStream(s, 'timed');
			const content = s.events.filter((e) => e.json && e.json.choices &&
			    e.json.choices[0] && typeof e.json.choices[0].delta.content === 'string' &&
			    e.json.choices[0].delta.content.length > 0);
			assert.equal(content.length, 5, 'expected 5 content chunks');
			assert.equal(h.streamText(s), 'Echo: relay timing check');
			const spread = content[4].t - content[0].t;
			t.diagnostic('content chunk arrival (ms): ' + content.map((e) => e.t).join(', '));
			/* The source sends them 300 ms apart: 1200 ms from first to last. */
			assert.ok(spread >= 900, 'chunks arrived bunched (first->last ' + spread +
			    ' ms): the gateway buffers the stream');
			for (let i = 1; i < content.length; i++) {
				assert.ok(content[i].t - content[i - 1].t >= 150,
				    'chunk ' + i + ' arrived ' + (content[i].t - content[i - 1].t) +
				    ' ms after the previous one');
			}
			/* The role chunk came first. */
			assert.equal(chunks[0].json.choices[0].delta.role, 'assistant');
			assert.equal(s.headers['x-nextmodel-serve-mode'], 'fresh');
			assert.equal(s.headers['x-nextmodel-model'], 'mock-gpt');
			assert.equal(s.headers['x-nextmodel-provider'], 'mock');
			assert.ok(s.headers['x-nextmodel-request-id']);
			assert.equal(s.headers['x-request-id'], s.headers['x-nextmodel-request-id']);
		});

		await t.test('no usage for a client that did not ask', async () => {
			const marker = 'nousage-' + Date.now();
			const s = await env.stream(h.chatBody('no usage ' + marker, { stream: true }));
			const chunks = checkCompleteStream(s, 'no usage');
			assert.equal(h.streamText(s), 'Echo: no usage ' + marker);
			for (const ev of chunks) {
				assert.ok(!('usage' in ev.json), 'a chunk carries "usage": ' + ev.data);
				assert.ok(Array.isArray(ev.json.choices) && ev.json.choices.length > 0,
				    'a chunk with empty choices: ' + ev.data);
			}
			const last = chunks[chunks.length - 1].json.choices[0];
			assert.equal(last.finish_reason, 'stop');
			const seen = await mockSaw(env, marker);
			assert.equal(seen.length, 1);
			assert.equal(seen[0].body.stream, true);
			assert.equal(seen[0].body.model, 'mock-gpt-upstream');
			assert.equal(seen[0].body.stream_options && seen[0].body.stream_options.include_usage,
			    true, 'the gateway did not ask the source for usage');
		});

		await t.test('usage chunk for a client that asked', async () => {
			const s = await env.stream(h.chatBody('with usage please', { stream: true,
			    stream_options: { include_usage: true } }));
			const chunks = checkCompleteStream(s, 'usage');
			const last = chunks[chunks.length - 1].json;
			assert.deepEqual(last.choices, [], 'the last chunk before [DONE] is not the usage chunk');
			assert.ok(last.usage && typeof last.usage === 'object');
			/* prompt: "with usage please" = 3 words; answer "Echo: with usage please" = 4. */
			assert.equal(last.usage.prompt_tokens, 3);
			assert.equal(last.usage.completion_tokens, 4);
			assert.equal(last.usage.total_tokens, 7);
			const usageChunks = chunks.filter((c) => c.json.usage);
			assert.equal(usageChunks.length, 1, 'more than one chunk with usage');
			assert.equal(h.streamText(s), 'Echo: with usage please');
			/*
			 * The cost and the receipt's hash, as comments right before
			 * [DONE] (SDKs skip comments).
			 */
			const comment = s.events[s.events.length - 2];
			assert.equal(comment.data, null, 'no comment before [DONE]');
			assert.equal(comment.comments.length, 2, JSON.stringify(comment.comments));
			assert.equal(comment.comments[0], ': x-nextmodel-cost-usd: ' +
			    h.expectedCost(last.usage, h.defaultModel()));
			assert.match(comment.comments[1], /^: x-nextmodel-receipt-hash: sha256:[0-9a-f]{64}$/);
			assert.equal(h.expectedCost(last.usage, h.defaultModel()), '0.00000285');
		});

		await t.test('include_usage false is honoured', async () => {
			const s = await env.stream(h.chatBody('explicit false', { stream: true,
			    stream_options: { include_usage: false } }));
			const chunks = checkCompleteStream(s, 'usage false');
			for (const ev of chunks)
				assert.ok(!ev.json.usage, 'usage present: ' + ev.data);
		});

		await t.test('tool-call deltas relayed', async () => {
			const s = await env.stream(h.chatBody('weather [[mock:tool]] [[mock:chunks=4]]',
			    { stream: true, tools: TOOLS }));
			const chunks = checkCompleteStream(s, 'tools');
			const calls = {};
			let first = null;
			let finish = null;
			for (const ev of chunks) {
				const c = ev.json.choices[0];
				if (!c)
					continue;
				if (c.finish_reason)
					finish = c.finish_reason;
				for (const tc of (c.delta && c.delta.tool_calls) || []) {
					if (first === null)
						first = tc;
					if (!calls[tc.index])
						calls[tc.index] = { id: tc.id, name: tc.function.name, args: '' };
					calls[tc.index].args += (tc.function && tc.function.arguments) || '';
				}
			}
			assert.ok(first, 'no tool_calls delta');
			assert.equal(first.index, 0);
			assert.ok(first.id, 'first fragment has no id');
			assert.equal(first.type, 'function');
			assert.equal(first.function.name, 'get_weather');
			const frags = chunks.filter((e) => e.json.choices[0] && e.json.choices[0].delta &&
			    e.json.choices[0].delta.tool_calls);
			assert.ok(frags.length >= 4, 'argument fragments merged: ' + frags.length);
			assert.deepEqual(JSON.parse(calls[0].args), { city: 'mock' });
			assert.equal(finish, 'tool_calls');
		});

		await t.test('keep-alive comments from the source are handled', async () => {
			const s = await env.stream(h.chatBody('kept alive [[mock:keepalive]] ' +
			    '[[mock:chunk_delay=50]]', { stream: true }));
			checkCompleteStream(s, 'keepalive');
			assert.equal(h.streamText(s), 'Echo: kept alive');
		});

		await t.test('events split across tiny TCP writes', async () => {
			const s = await env.stream(h.chatBody('split into pieces [[mock:split]] ' +
			    '[[mock:chunks=6]]', { stream: true, stream_options: { include_usage: true } }));
			const chunks = checkCompleteStream(s, 'split');
			assert.equal(h.streamText(s), 'Echo: split into pieces');
			assert.ok(chunks[chunks.length - 1].json.usage, 'usage lost in split stream');
		});

		await t.test('n=2 choices interleave', async () => {
			const s = await env.stream(h.chatBody('two choices', { stream: true, n: 2 }));
			const chunks = checkCompleteStream(s, 'n=2');
			const text = ['', ''];
			for (const ev of chunks) {
				for (const c of ev.json.choices) {
					if (c.delta && typeof c.delta.content === 'string')
						text[c.index] += c.delta.content;
				}
			}
			assert.deepEqual(text, ['Echo: two choices', 'Echo: two choices']);
		});

		await t.test('many chunks', async () => {
			const s = await env.stream(h.chatBody('a longer answer with many small pieces ' +
			    '[[mock:chunks=20]]', { stream: true }));
			checkCompleteStream(s, 'chunks=20');
			assert.equal(h.streamText(s), 'Echo: a longer answer with many small pieces');
		});

		await t.test('a source that lingers after [DONE] does not hold the client', async () => {
			const t0 = Date.now();
			const s = await env.stream(h.chatBody('linger [[mock:linger]]', { stream: true }),
			    { timeout: 30000 });
			const took = Date.now() - t0;
			checkCompleteStream(s, 'linger');
			assert.equal(h.streamText(s), 'Echo: linger');
			/* The source holds its connection for 60 s and the idle timeout is
			 * longer than this test: ending at [DONE] is the only way to be quick. */
			assert.ok(took < 10000, 'the stream ended only after ' + took + ' ms');
		});

		await t.test('a slow client: the source is paused, nothing is lost', async () => {
			/* About 13 MB of SSE: more than the sockets between the client,
			 * the gateway and the source can buffer, and far over what the
			 * gateway holds for one client (256 KiB) before it pauses the
			 * source. */
			const text = 'slow reader ' + 'abcdefghij'.repeat(100000);
			const body = JSON.stringify(h.chatBody(text + ' [[mock:chunks=60000]]',
			    { stream: true, model: 'mock-long' }));
			await env.mockStatsReset();
			const got = await new Promise((resolve, reject) => {
				const req = http.request(env.url + '/v1/chat/completions', {
				    method: 'POST', agent: false, headers: Object.assign({
				    'content-type': 'application/json' }, env.auth()) }, (res) => {
					const parts = [];
					let paused = false;
					res.on('data', (d) => {
						parts.push(d);
						if (!paused) {
							/* Stop reading for a while after the first bytes. */
							paused = true;
							res.pause();
							setTimeout(() => res.resume(), 5000);
						}
					});
					res.on('end', () => resolve({ status: res.statusCode,
					    raw: Buffer.concat(parts).toString('utf8') }));
					res.on('error', reject);
				});
				req.on('error', reject);
				req.setTimeout(60000, () => req.destroy(new Error('client timeout')));
				req.end(body);
			});
			assert.equal(got.status, 200);
			assert.ok(got.raw.endsWith('data: [DONE]\n\n'), 'no [DONE]: ' + got.raw.slice(-200));
			let content = '';
			for (const line of got.raw.split('\n')) {
				if (!line.startsWith('data: {'))
					continue;
				const c = JSON.parse(line.slice(6)).choices[0];
				if (c && c.delta && typeof c.delta.content === 'string')
					content += c.delta.content;
			}
			assert.equal(content.length, ('Echo: ' + text).length);
			assert.equal(content, 'Echo: ' + text);
			/* The gateway stopped reading from the source while the client
			 * did not read, instead of buffering the stream in memory. */
			const stats = await env.mockStats();
			assert.ok(stats.max_write_wait_ms >= 1000, 'the source was never held back ' +
			    '(longest write ' + stats.max_write_wait_ms + ' ms)');
		});

		await t.test('a client that leaves mid-stream: the source call is cancelled', async () => {
			const before = (await env.mockStats()).active_streams;
			await new Promise((resolve, reject) => {
				const req = http.request(env.url + '/v1/chat/completions', {
				    method: 'POST', agent: false, headers: Object.assign({
				    'content-type': 'application/json' }, env.auth()) }, (res) => {
					res.once('data', () => {
						req.destroy();	/* gone after the first bytes */
						resolve();
					});
				});
				req.on('error', () => {});
				req.setTimeout(30000, () => reject(new Error('no first bytes')));
				req.end(JSON.stringify(h.chatBody('leaving early [[mock:chunk_delay=500]] ' +
				    '[[mock:chunks=40]]', { stream: true })));
			});
			/* The source would stream for 20 s; the gateway must hang up on it
			 * at its next event, not at the end. */
			const closed = await h.waitFor(async () =>
			    (await env.mockStats()).active_streams <= before, 5000, 100);
			assert.ok(closed, 'the source stream was still open 5 s after the client left');
			const r = await env.chat(h.chatBody('still serving'));
			assert.equal(r.status, 200);
		});

		await t.test('a slow first byte still streams', async () => {
			const s = await env.stream(h.chatBody('late [[mock:delay=500]]', { stream: true }));
			checkCompleteStream(s, 'delay');
			assert.equal(h.streamText(s), 'Echo: late');
		});
	} finally {
		await env.stop();
	}
});
