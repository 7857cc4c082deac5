#!/usr/bin/env node
/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A mock model source for the integration tests: one node:http server that
 * speaks provider wire formats: OpenAI Chat Completions and Embeddings, the
 * OpenAI-compatible dialects under /<dialect>/v1/ (DeepSeek, Moonshot,
 * DashScope, Ark, OpenRouter, Mistral, generic) with their quirks, and
 * Anthropic and Gemini from test/mock/.  It answers like a model: "Echo:
 * <the last user message>", or, when tools are offered and tool_choice is
 * not "none", a call to one (the forced one, if named) with arguments made
 * from the tool's JSON schema; after tool results it answers in text.  The
 * "[[mock:...]]" switches in the last user message steer it (README lists
 * them), and it keeps a log of what it received for the tests to inspect
 * through /_mock/*.
 *
 * Usage: node test/mock-source.js --port N [--host 127.0.0.1]
 * Prints "listening <port>" on stdout once it accepts connections.
 */
'use strict';

const http = require('node:http');

const MAX_BODY = 64 * 1024 * 1024;
const MAX_LOG = 20000;

/* ------------------------------------------------------------------ *
 * Shared state and helpers (every wire format uses these)
 * ------------------------------------------------------------------ */

const state = {
	log: [],		/* received requests, oldest first */
	seq: 0,			/* request counter, also used for ids */
	requests_total: 0,
	open_connections: 0,
	max_open_connections: 0,
	active_streams: 0,
	max_active_streams: 0,
	max_write_wait_ms: 0,
	streams_completed: 0,
	hanging: 0,
	by_status: {},
};

/* Resolve after ms milliseconds. */
function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/* True once the client went away or the answer was finished. */
function gone(res) {
	return res.destroyed || res.writableEnded || res.socket === null ||
	    (res.socket && res.socket.destroyed);
}

/* Write text, resolving when it was handed to the socket (or the socket died). */
function write(res, text) {
	return new Promise((resolve) => {
		if (gone(res)) {
			resolve(false);
			return;
		}
		const t0 = Date.now();
		res.write(text, () => {
			/* How long the reader (the gateway) held us back. */
			const waited = Date.now() - t0;
			if (waited > state.max_write_wait_ms)
				state.max_write_wait_ms = waited;
			resolve(true);
		});
	});
}

/*
 * Parse "[[mock:name=value]]" switches out of text.  Returns {opts, text}
 * where text has the switches removed and is trimmed.
 */
function parseSwitches(text) {
	const opts = {};
	const re = /\[\[mock:([a-z_]+)(?:=([^\]]*))?\]\]/g;
	let m;
	while ((m = re.exec(text)) !== null)
		opts[m[1]] = m[2] === undefined ? true : m[2];
	const clean = text.replace(re, ' ').replace(/\s+/g, ' ').trim();
	return { opts, text: clean };
}

/* An integer switch value, or def when absent or malformed. */
function intSwitch(opts, name, def) {
	if (opts[name] === undefined || opts[name] === true)
		return def;
	const n = Number.parseInt(opts[name], 10);
	return Number.isFinite(n) && n >= 0 ? n : def;
}

/* Deterministic token count: whitespace-separated words. */
function countTokens(text) {
	if (typeof text !== 'string')
		return 0;
	return text.split(/\s+/).filter((w) => w.length > 0).length;
}

/* Split s into n pieces of near-equal length (n >= 1, s.length >= n). */
function splitEven(s, n) {
	const out = [];
	const size = Math.floor(s.length / n);
	let rest = s.length % n;
	let pos = 0;
	for (let i = 0; i < n; i++) {
		const len = size + (rest > 0 ? 1 : 0);
		if (rest > 0)
			rest--;
		out.push(s.slice(pos, pos + len));
		pos += len;
	}
	return out;
}

/* Mask a key the way OpenAI does in its 401 message: "sk-ab****wxyz". */
function maskKey(key) {
	if (key.length <= 9)
		return '****';
	return key.slice(0, 5) + '****' + key.slice(-4);
}

/* Send a complete JSON answer. */
function sendJson(res, status, obj, headers) {
	const body = JSON.stringify(obj);
	res.writeHead(status, Object.assign({
		'content-type': 'application/json',
		'content-length': Buffer.byteLength(body),
	}, headers || {}));
	res.end(body);
}

/* Remember a request for GET /_mock/requests. */
function logRequest(req, raw, body) {
	const headers = Object.assign({}, req.headers);
	/* Which key called: its SHA-256 (Bearer, x-api-key or x-goog-api-key). */
	const key = bearerKey(req) || req.headers['x-api-key'] || req.headers['x-goog-api-key'] || '';
	delete headers.authorization;
	const entry = {
		seq: ++state.seq,
		time: Date.now(),
		method: req.method,
		path: req.url,
		key_sha256: key ? require('crypto').createHash('sha256').update(key).digest('hex') : null,
		headers,
		body,
		raw,
	};
	state.log.push(entry);
	if (state.log.length > MAX_LOG)
		state.log.splice(0, state.log.length - MAX_LOG);
	return entry;
}

/* Read the whole request body as a Buffer; null when over MAX_BODY. */
function readBody(req) {
	return new Promise((resolve, reject) => {
		const parts = [];
		let size = 0;
		let over = false;
		req.on('data', (d) => {
			size += d.length;
			if (size > MAX_BODY)
				over = true;
			else
				parts.push(d);
		});
		req.on('end', () => resolve(over ? null : Buffer.concat(parts)));
		req.on('error', reject);
	});
}

/* ------------------------------------------------------------------ *
 * OpenAI wire format (wire-formats.md sections 1, 2 and 7)
 * ------------------------------------------------------------------ */

const OPENAI_MODELS = ['mock-gpt-upstream', 'mock-gpt-mini', 'mock-embed'];

/* An OpenAI error body. */
function openaiError(message, type, param, code) {
	return { error: { message, type, param: param === undefined ? null : param,
	    code: code === undefined ? null : code } };
}

/* The text of one message content (string or array of parts). */
function openaiContentText(content) {
	if (typeof content === 'string')
		return content;
	if (Array.isArray(content))
		return content.filter((p) => p && p.type === 'text' &&
		    typeof p.text === 'string').map((p) => p.text).join(' ');
	return '';
}

/* The text of the last user message, '' when none. */
function openaiLastUserText(body) {
	const msgs = Array.isArray(body.messages) ? body.messages : [];
	for (let i = msgs.length - 1; i >= 0; i--) {
		if (msgs[i] && msgs[i].role === 'user')
			return openaiContentText(msgs[i].content);
	}
	return '';
}

/* Prompt tokens: the words of every message. */
function openaiPromptTokens(body) {
	const msgs = Array.isArray(body.messages) ? body.messages : [];
	let n = 0;
	for (const m of msgs)
		n += countTokens(openaiContentText(m && m.content));
	return n;
}

/* The schema a local "$ref" (#/$defs/x, #/definitions/x) points to, or s. */
function schemaDeref(s, root) {
	if (!s || typeof s.$ref !== 'string' || !s.$ref.startsWith('#/'))
		return s;
	let node = root;
	for (const part of s.$ref.slice(2).split('/')) {
		node = node && typeof node === 'object' ? node[part] : undefined;
		if (node === undefined)
			return {};
	}
	return node;
}

/* The one type a schema asks for: its type (the first non-null of a list), or a guess. */
function schemaType(s) {
	let t = s.type;
	if (Array.isArray(t))
		t = t.find((x) => x !== 'null') || 'null';
	if (typeof t === 'string')
		return t.toLowerCase();
	if (s.properties)
		return 'object';
	if (s.items)
		return 'array';
	return null;
}

/* A string that meets a schema's format and length bounds. */
function sampleString(s) {
	const formats = {
		'date-time': '2026-01-01T00:00:00Z', date: '2026-01-01', time: '00:00:00Z',
		email: 'mock@example.com', uri: 'https://example.com/mock', uuid:
		    '00000000-0000-4000-8000-000000000000', ipv4: '192.0.2.1', hostname: 'example.com',
	};
	let v = formats[s.format] || 'mock';
	if (Number.isInteger(s.minLength) && v.length < s.minLength)
		v = v.padEnd(s.minLength, 'x');
	if (Number.isInteger(s.maxLength) && v.length > s.maxLength)
		v = v.slice(0, s.maxLength);
	return v;
}

/* A number (42 when allowed) within a schema's bounds. */
function sampleNumber(s, integer) {
	let lo = -Infinity;
	let hi = Infinity;
	const step = integer ? 1 : 0.5;
	if (typeof s.minimum === 'number')
		lo = s.minimum;
	if (typeof s.exclusiveMinimum === 'number')
		lo = s.exclusiveMinimum + step;
	if (typeof s.maximum === 'number')
		hi = s.maximum;
	if (typeof s.exclusiveMaximum === 'number')
		hi = s.exclusiveMaximum - step;
	let v = Math.min(Math.max(42, lo), hi);
	if (integer)
		v = Math.ceil(v) <= hi ? Math.ceil(v) : Math.floor(v);
	return v;
}

/*
 * A value valid for a JSON Schema (tool arguments, json_schema answers):
 * const, then the first enum value, then by type: "mock", 42, true, arrays
 * of minItems (at least one) items, objects with every property (only the
 * required ones deep down).  Follows anyOf/oneOf (first), allOf (merged
 * properties) and local $refs.  Deterministic, so tests can expect it.
 */
function sampleFromSchema(schema, depth, root) {
	let s = schemaDeref(schema, root || schema);
	root = root || schema;
	if (!s || typeof s !== 'object' || depth > 8)
		return null;
	if (s.const !== undefined)
		return s.const;
	if (Array.isArray(s.enum) && s.enum.length)
		return s.enum[0];
	for (const k of ['anyOf', 'oneOf']) {
		if (Array.isArray(s[k]) && s[k].length) {
			const pick = s[k].find((x) => schemaType(schemaDeref(x, root) || {}) !== 'null') || s[k][0];
			return sampleFromSchema(pick, depth + 1, root);
		}
	}
	if (Array.isArray(s.allOf)) {
		const merged = Object.assign({}, s, { allOf: undefined, properties: Object.assign({},
		    s.properties), required: [...(s.required || [])] });
		for (const part of s.allOf.map((x) => schemaDeref(x, root) || {})) {
			Object.assign(merged.properties, part.properties || {});
			merged.required.push(...(part.required || []));
			if (!merged.type && part.type)
				merged.type = part.type;
		}
		s = merged;
	}
	switch (schemaType(s)) {
	case 'string':
		return sampleString(s);
	case 'integer':
		return sampleNumber(s, true);
	case 'number':
		return sampleNumber(s, false);
	case 'boolean':
		return true;
	case 'array': {
		let n = Number.isInteger(s.minItems) ? Math.max(1, s.minItems) : 1;
		if (Number.isInteger(s.maxItems))
			n = Math.min(n, s.maxItems);
		const items = s.items && typeof s.items === 'object' && !Array.isArray(s.items) ?
		    s.items : { type: 'string' };
		return Array.from({ length: n }, () => sampleFromSchema(items, depth + 1, root));
	}
	case 'object': {
		const o = {};
		const required = Array.isArray(s.required) ? s.required : [];
		for (const [k, v] of Object.entries(s.properties || {})) {
			if (depth < 4 || required.includes(k))
				o[k] = sampleFromSchema(v, depth + 1, root);
		}
		return o;
	}
	default:
		return null;
	}
}

/*
 * Whether the model calls a tool now: 'none' (answer in text), 'auto' or
 * 'forced'.  Like a real model: it calls one whenever tools are offered and
 * not refused, except right after tool results (then it answers in text) or
 * when the [[mock:text]] switch asks for text; a forced choice always calls.
 * choice: 'auto', 'none', 'any' (required) or 'named'.
 */
function toolDecision(offered, choice, afterResult, sw) {
	if (!offered || choice === 'none')
		return 'none';
	if (choice === 'any' || choice === 'named')
		return 'forced';
	if (afterResult || sw.opts.text)
		return 'none';
	return 'auto';
}

/*
 * The arguments (JSON text) of the mock tool call for a function tool: a
 * sample of its parameters' schema, or {"input": text} when the schema is
 * open (no properties, other keys allowed).
 */
function openaiToolArguments(fn, text) {
	const params = fn && fn.parameters;
	if (params && ((params.properties && Object.keys(params.properties).length > 0) ||
	    params.additionalProperties === false || params.$ref || params.allOf || params.anyOf))
		return JSON.stringify(sampleFromSchema(params, 0));
	return JSON.stringify({ input: text });
}

/* OpenAI's tool_choice as toolDecision() sees it, and the named function if any. */
function openaiToolChoice(tc) {
	if (tc === 'none' || tc === 'required')
		return { choice: tc === 'none' ? 'none' : 'any', name: null };
	if (tc && typeof tc === 'object' && tc.type === 'function' && tc.function)
		return { choice: 'named', name: tc.function.name };
	return { choice: 'auto', name: null };
}

/* The tool results since the last assistant message (what the model reads now). */
function openaiToolResults(body) {
	const msgs = Array.isArray(body.messages) ? body.messages : [];
	const out = [];
	for (let i = msgs.length - 1; i >= 0 && msgs[i] && msgs[i].role !== 'assistant'; i--) {
		if (msgs[i].role === 'tool')
			out.unshift(openaiContentText(msgs[i].content));
	}
	return out;
}

/*
 * Decide the answer for a chat request: {kind: 'text', content} or
 * {kind: 'tool', call: {id, name, arguments}}.  Deterministic.  Offered
 * tools are called (the forced one when tool_choice names one); right
 * after tool results the answer is text that quotes them.
 */
function openaiAnswer(body, sw) {
	const tools = Array.isArray(body.tools) ? body.tools.filter((t) => t && t.function) : [];
	const tc = openaiToolChoice(body.tool_choice);
	const results = openaiToolResults(body);
	if (toolDecision(tools.length > 0, tc.choice, results.length > 0, sw) !== 'none') {
		const tool = tools.find((t) => t.function.name === tc.name) || tools[0];
		const fn = tool.function;
		return { kind: 'tool', call: { id: 'call_mock' + String(state.seq),
		    name: fn.name || 'tool', arguments: openaiToolArguments(fn, sw.text) } };
	}
	let echo = 'Echo: ' + sw.text;
	if (results.length > 0)
		echo += ' | tool results: ' + results.join(' ; ');
	const rf = body.response_format;
	if (rf && rf.type === 'json_object')
		return { kind: 'text', content: JSON.stringify({ answer: echo }) };
	if (rf && rf.type === 'json_schema') {
		const schema = rf.json_schema && rf.json_schema.schema;
		let obj = schema ? sampleFromSchema(schema, 0) : null;
		if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
			obj = { answer: echo };
		return { kind: 'text', content: JSON.stringify(obj) };
	}
	return { kind: 'text', content: echo };
}

/* The usage object for an answer. */
function openaiUsage(body, answer) {
	const prompt = openaiPromptTokens(body);
	const completion = answer.kind === 'tool' ?
	    countTokens(answer.call.arguments.replace(/[{}":,]/g, ' ')) + 1 :
	    countTokens(answer.content);
	return {
		prompt_tokens: prompt,
		completion_tokens: completion,
		total_tokens: prompt + completion,
		prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
		completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0,
		    accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
	};
}

/* Answer a switch-requested error status.  Returns true when it did. */
function openaiStatusError(res, status, key) {
	const table = {
		400: ['mock-source: invalid parameter \'temperature\' (status 400 requested)',
		    'invalid_request_error', 'temperature', 'invalid_value'],
		401: ['Incorrect API key provided: ' + maskKey(key) +
		    '. You can find your API key at https://platform.openai.com/account/api-keys.',
		    'invalid_request_error', null, 'invalid_api_key'],
		403: ['mock-source: forbidden', 'invalid_request_error', null, null],
		404: ['The model does not exist or you do not have access to it.',
		    'invalid_request_error', null, 'model_not_found'],
		429: ['Rate limit reached for mock-gpt-upstream. Please try again in 1s.',
		    'requests', null, 'rate_limit_exceeded'],
		500: ['The server had an error while processing your request.',
		    'server_error', null, null],
		503: ['The engine is currently overloaded, please try again later.',
		    'server_error', null, null],
	};
	const e = table[status] || ['mock-source: status ' + status + ' requested',
	    status >= 500 ? 'server_error' : 'invalid_request_error', null, null];
	const headers = { 'x-request-id': 'req_mock' + String(state.seq) };
	if (status === 429) {
		headers['retry-after'] = '1';
		headers['x-ratelimit-remaining-requests'] = '0';
		headers['x-ratelimit-reset-requests'] = '1s';
	}
	sendJson(res, status, openaiError(e[0], e[1], e[2], e[3]), headers);
}

/* A chunk object with the fields every chunk of one stream repeats. */
function openaiChunk(ctx, choices, usage) {
	const c = { id: ctx.id, object: 'chat.completion.chunk', created: ctx.created,
	    model: ctx.model, choices };
	if (ctx.includeUsage)
		c.usage = usage === undefined ? null : usage;
	return c;
}

/* Write one SSE event (or comment), honouring the split switch. */
async function sseSend(res, ctx, text) {
	if (!ctx.split)
		return write(res, text);
	/* Several tiny writes: inside "data:", inside the JSON, between the newlines. */
	const cuts = [2, 7, Math.floor(text.length / 2), text.length - 1];
	let pos = 0;
	for (const cut of cuts) {
		if (cut <= pos || cut >= text.length)
			continue;
		if (!(await write(res, text.slice(pos, cut))))
			return false;
		pos = cut;
		await sleep(3);
	}
	return write(res, text.slice(pos));
}

/* Stream an answer as OpenAI chat.completion.chunk events (section 2.5). */
async function openaiStream(req, res, body, sw, answer) {
	const sopt = body.stream_options;
	const ctx = {
		id: 'chatcmpl-mock' + String(state.seq),
		created: Math.floor(Date.now() / 1000),
		model: typeof body.model === 'string' ? body.model : 'mock',
		includeUsage: !!(sopt && sopt.include_usage === true),
		split: !!sw.opts.split,
	};
	const nchoices = Number.isInteger(body.n) && body.n > 1 && body.n <= 8 ? body.n : 1;
	const chunkDelay = intSwitch(sw.opts, 'chunk_delay', 0);
	const nchunks = Math.max(1, intSwitch(sw.opts, 'chunks', 4));
	const hangAfter = intSwitch(sw.opts, 'hang_after', -1);
	const breakAfter = intSwitch(sw.opts, 'break_after', -1);
	const events = [];
	const choiceIdx = [...Array(nchoices).keys()];

	if (answer.kind === 'tool') {
		const call = answer.call;
		const args = call.arguments;
		for (const i of choiceIdx) {
			events.push(openaiChunk(ctx, [{ index: i, delta: { role: 'assistant',
			    content: null, tool_calls: [{ index: 0, id: call.id, type: 'function',
			    function: { name: call.name, arguments: '' } }] }, logprobs: null,
			    finish_reason: null }]));
		}
		for (const piece of splitEven(args, Math.min(nchunks, args.length))) {
			for (const i of choiceIdx) {
				events.push(openaiChunk(ctx, [{ index: i, delta: { tool_calls: [{
				    index: 0, function: { arguments: piece } }] }, logprobs: null,
				    finish_reason: null }]));
			}
		}
	} else {
		const text = answer.content;
		for (const i of choiceIdx) {
			events.push(openaiChunk(ctx, [{ index: i, delta: { role: 'assistant',
			    content: '', refusal: null }, logprobs: null, finish_reason: null }]));
		}
		/* Never more pieces than characters: the text stays what a non-stream answer says. */
		for (const piece of splitEven(text, Math.max(1, Math.min(nchunks, text.length)))) {
			for (const i of choiceIdx) {
				events.push(openaiChunk(ctx, [{ index: i, delta: { content: piece },
				    logprobs: null, finish_reason: null }]));
			}
		}
	}
	for (const i of choiceIdx) {
		events.push(openaiChunk(ctx, [{ index: i, delta: {}, logprobs: null,
		    finish_reason: answer.kind === 'tool' ? 'tool_calls' : 'stop' }]));
	}
	if (ctx.includeUsage)
		events.push(openaiChunk(ctx, [], openaiUsage(body, answer)));

	res.writeHead(200, {
		'content-type': 'text/event-stream; charset=utf-8',
		'cache-control': 'no-cache',
		'x-request-id': 'req_mock' + String(state.seq),
		'openai-processing-ms': '1',
	});
	if (res.socket)
		res.socket.setNoDelay(true);
	res.flushHeaders();

	state.active_streams++;
	if (state.active_streams > state.max_active_streams)
		state.max_active_streams = state.active_streams;
	let counted = true;
	const uncount = () => {
		if (counted) {
			counted = false;
			state.active_streams--;
		}
	};
	res.on('close', uncount);

	let sent = 0;
	for (const ev of events) {
		if (sent > 0 && chunkDelay > 0)
			await sleep(chunkDelay);
		if (gone(res))
			return;
		if (sent === hangAfter) {
			state.hanging++;
			return;			/* stall forever: no more bytes, no end */
		}
		if (sent === breakAfter) {
			res.socket.destroy();
			return;
		}
		if (sw.opts.keepalive && !(await sseSend(res, ctx, ': keep-alive\n\n')))
			return;
		if (!(await sseSend(res, ctx, 'data: ' + JSON.stringify(ev) + '\n\n')))
			return;
		sent++;
		if (sw.opts.error_event && sent === nchoices + 1) {
			await sseSend(res, ctx, 'data: ' + JSON.stringify(openaiError(
			    'mock-source: the model failed in the middle of the answer',
			    'server_error', null, 'mock_stream_error')) + '\n\n');
			uncount();
			res.end();
			return;
		}
	}
	if (sw.opts.keepalive)
		await sseSend(res, ctx, ': keep-alive\n\n');
	if (chunkDelay > 0)
		await sleep(chunkDelay);
	await sseSend(res, ctx, 'data: [DONE]\n\n');
	state.streams_completed++;
	uncount();
	if (sw.opts.linger) {
		/* Some servers keep the connection open after [DONE]. */
		const t = setTimeout(() => res.end(), 60000);
		res.on('close', () => clearTimeout(t));
		return;
	}
	res.end();
}

/* Answer without streaming (section 2.4). */
function openaiComplete(req, res, body, sw, answer) {
	const nchoices = Number.isInteger(body.n) && body.n > 1 && body.n <= 8 ? body.n : 1;
	const choices = [];
	for (let i = 0; i < nchoices; i++) {
		const message = { role: 'assistant', content: null, refusal: null, annotations: [] };
		if (answer.kind === 'tool') {
			message.tool_calls = [{ id: answer.call.id, type: 'function',
			    function: { name: answer.call.name, arguments: answer.call.arguments } }];
		} else {
			message.content = answer.content;
		}
		choices.push({ index: i, message, logprobs: null,
		    finish_reason: answer.kind === 'tool' ? 'tool_calls' : 'stop' });
	}
	const obj = {
		id: 'chatcmpl-mock' + String(state.seq),
		object: 'chat.completion',
		created: Math.floor(Date.now() / 1000),
		model: typeof body.model === 'string' ? body.model : 'mock',
		system_fingerprint: 'fp_mock',
		service_tier: 'default',
		choices,
		usage: openaiUsage(body, answer),
	};
	const text = JSON.stringify(obj);
	const headers = {
		'content-type': 'application/json',
		'content-length': Buffer.byteLength(text),
		'x-request-id': 'req_mock' + String(state.seq),
		'openai-processing-ms': '1',
	};
	if (sw.opts.cut_body) {
		res.writeHead(200, headers);
		res.flushHeaders();
		const half = Buffer.from(text).subarray(0, Math.floor(Buffer.byteLength(text) / 2));
		res.write(half, () => setTimeout(() => {
			if (res.socket)
				res.socket.destroy();
		}, 50));
		return;
	}
	res.writeHead(200, headers);
	res.end(text);
}

/* The Bearer key of a request, '' when none. */
function bearerKey(req) {
	const h = req.headers.authorization || '';
	const m = /^Bearer\s+(.+)$/i.exec(h);
	return m ? m[1].trim() : '';
}

/* Check the key; answers 401 and returns false when it is not a mock key. */
function openaiAuth(req, res) {
	const key = bearerKey(req);
	if (key.startsWith('mock-'))
		return true;
	const msg = key === '' ?
	    'You didn\'t provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).' :
	    'Incorrect API key provided: ' + maskKey(key) +
	    '. You can find your API key at https://platform.openai.com/account/api-keys.';
	sendJson(res, 401, openaiError(msg, 'invalid_request_error', null,
	    key === '' ? null : 'invalid_api_key'));
	return false;
}

/* POST /v1/chat/completions */
async function openaiChat(req, res, raw) {
	let body = null;
	try {
		body = JSON.parse(raw.toString('utf8'));
	} catch (e) {
		body = null;
	}
	logRequest(req, raw.toString('utf8'), body);
	if (!openaiAuth(req, res))
		return;
	if (body === null || typeof body !== 'object' || Array.isArray(body)) {
		sendJson(res, 400, openaiError('We could not parse the JSON body of your request.',
		    'invalid_request_error', null, null));
		return;
	}
	if (typeof body.model !== 'string' || !Array.isArray(body.messages) ||
	    body.messages.length === 0) {
		sendJson(res, 400, openaiError('mock-source: model and messages are required',
		    'invalid_request_error', typeof body.model !== 'string' ? 'model' : 'messages',
		    null));
		return;
	}
	const sw = parseSwitches(openaiLastUserText(body));
	const delay = intSwitch(sw.opts, 'delay', 0);
	if (delay > 0)
		await sleep(delay);
	if (sw.opts.hang) {
		state.hanging++;
		return;				/* never answer */
	}
	const status = intSwitch(sw.opts, 'status', 0);
	if (status >= 400) {
		openaiStatusError(res, status, bearerKey(req));
		return;
	}
	const answer = openaiAnswer(body, sw);
	if (body.stream === true)
		await openaiStream(req, res, body, sw, answer);
	else
		openaiComplete(req, res, body, sw, answer);
}

/* A model object for /v1/models. */
function openaiModelObject(id) {
	return { id, object: 'model', created: 1700000000, owned_by: 'mock-source' };
}

/* GET /v1/models */
function openaiModels(req, res) {
	logRequest(req, '', null);
	if (!openaiAuth(req, res))
		return;
	sendJson(res, 200, { object: 'list', data: OPENAI_MODELS.map(openaiModelObject) });
}

/* GET /v1/models/{id} */
function openaiModel(req, res) {
	logRequest(req, '', null);
	if (!openaiAuth(req, res))
		return;
	const id = decodeURIComponent(req.url.split('?')[0].slice('/v1/models/'.length));
	if (!OPENAI_MODELS.includes(id)) {
		sendJson(res, 404, openaiError('The model \'' + id + '\' does not exist',
		    'invalid_request_error', 'model', 'model_not_found'));
		return;
	}
	sendJson(res, 200, openaiModelObject(id));
}

/* ------------------------------------------------------------------ *
 * Embeddings (wire-formats.md section 2.6)
 * ------------------------------------------------------------------ */

/* FNV-1a of a string, 32 bits. */
function fnv1a(s) {
	let h = 0x811c9dc5;
	for (let i = 0; i < s.length; i++) {
		h ^= s.charCodeAt(i);
		h = Math.imul(h, 0x01000193) >>> 0;
	}
	return h >>> 0;
}

/*
 * The mock's embedding of a text: dims numbers in [-1, 1] with three
 * decimals, each from a hash of the text and its position, so the same
 * text always gets the same vector (and tests can compute it).
 */
function mockVector(text, dims) {
	const v = [];
	for (let i = 0; i < dims; i++)
		v.push(((fnv1a(text + '#' + String(i)) % 2001) - 1000) / 1000);
	return v;
}

/* Little-endian float32 bytes of v, base64 (OpenAI's encoding_format base64). */
function vectorBase64(v) {
	const f = new Float32Array(v);
	return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

/*
 * The texts of an embeddings input: string, strings, token ids or
 * token-id arrays (each as its ids joined by spaces).  null when invalid.
 */
function embeddingTexts(input) {
	const isTok = (x) => Number.isInteger(x) && x >= 0;
	if (typeof input === 'string')
		return input.length > 0 ? [input] : null;
	if (!Array.isArray(input) || input.length === 0 || input.length > 2048)
		return null;
	if (input.every((x) => typeof x === 'string' && x.length > 0))
		return input;
	if (input.every(isTok))
		return [input.join(' ')];
	if (input.every((a) => Array.isArray(a) && a.length > 0 && a.every(isTok)))
		return input.map((a) => a.join(' '));
	return null;
}

/* POST /v1/embeddings and /<dialect>/v1/embeddings */
async function embeddingsHandler(req, res, raw, dialect) {
	let body = null;
	try {
		body = JSON.parse(raw.toString('utf8'));
	} catch (e) {
		body = null;
	}
	logRequest(req, raw.toString('utf8'), body);
	if (!openaiAuth(req, res))
		return;
	const d = dialect ? DIALECTS[dialect] : null;
	const fail = (status, msg, param) => compatError(res, dialect, status, msg, param);
	if (body === null || typeof body !== 'object' || Array.isArray(body))
		return fail(400, 'We could not parse the JSON body of your request.');
	if (d && d.embedFields) {
		for (const k of Object.keys(body)) {
			if (!d.embedFields.includes(k))
				return mistralExtra(res, ['body', k], body[k]);
		}
	}
	const texts = embeddingTexts(body.input);
	if (texts === null)
		return fail(400, '\'$.input\' is invalid. Please check the API reference.', 'input');
	const sw = parseSwitches(texts.join(' '));
	const status = intSwitch(sw.opts, 'status', 0);
	if (status >= 400)
		return fail(status, 'mock-source: status ' + status + ' requested');
	const dimsKey = d && d.embedFields ? 'output_dimension' : 'dimensions';
	let dims = 8;
	if (body[dimsKey] !== undefined && body[dimsKey] !== null) {
		if (!Number.isInteger(body[dimsKey]) || body[dimsKey] < 1 || body[dimsKey] > 4096)
			return fail(400, 'mock-source: bad ' + dimsKey, dimsKey);
		dims = body[dimsKey];
	}
	const fmt = body.encoding_format;
	if (fmt !== undefined && fmt !== 'float' && fmt !== 'base64')
		return fail(400, 'mock-source: bad encoding_format', 'encoding_format');
	/* Only OpenAI itself is trusted with base64 here: the gateway encodes for the others. */
	if (fmt === 'base64' && dialect)
		return fail(400, 'mock-source(' + dialect + '): encoding_format base64 is not supported',
		    'encoding_format');
	const data = texts.map((t, i) => {
		const v = mockVector(t, dims);
		return { object: 'embedding', index: i, embedding: fmt === 'base64' ? vectorBase64(v) : v };
	});
	const n = texts.reduce((a, t) => a + Math.max(1, countTokens(t)), 0);
	sendJson(res, 200, { object: 'list', data, model: typeof body.model === 'string' ?
	    body.model : 'mock-embed', usage: { prompt_tokens: n, total_tokens: n } });
}

/* ------------------------------------------------------------------ *
 * OpenAI-compatible dialects (wire-formats.md section 7): the same chat
 * mock at /<dialect>/v1/..., with each source's quirks.
 * ------------------------------------------------------------------ */

const MISTRAL_FIELDS = ['model', 'messages', 'temperature', 'top_p', 'max_tokens', 'stream',
    'stop', 'random_seed', 'response_format', 'tools', 'tool_choice', 'presence_penalty',
    'frequency_penalty', 'n', 'parallel_tool_calls', 'safe_prompt', 'prompt_mode', 'prediction'];
const MISTRAL_MSG_FIELDS = {
	system: ['role', 'content'],
	user: ['role', 'content'],
	assistant: ['role', 'content', 'tool_calls', 'prefix'],
	tool: ['role', 'content', 'tool_call_id', 'name'],
};
/* Fields of OpenAI's that no compatible source here accepts. */
const OPENAI_ONLY = ['store', 'metadata', 'service_tier', 'prediction', 'max_completion_tokens'];

/*
 * Per dialect: thinking(body) -> emit reasoning_content; the shape of its
 * usage; its stream quirks; how its errors look.
 */
const DIALECTS = {
	deepseek: {
		thinking: (b) => /reasoner/.test(b.model) || (b.thinking && b.thinking.type === 'enabled'),
		keepalive: ': keep-alive', usage: 'deepseek', strictOpenAI: true,
	},
	moonshot: {
		thinking: (b) => /thinking/.test(b.model), usage: 'moonshot', choiceUsage: true,
		indexless: true, strictOpenAI: true, toolId: (n) => 'functions.' + n + ':0',
	},
	dashscope: {
		thinking: (b) => b.enable_thinking === true, streamOnlyThinking: true,
		strictOpenAI: true,
	},
	ark: {
		thinking: (b) => b.thinking && b.thinking.type === 'enabled', usage: 'ark',
		endpoint: true, strictOpenAI: true,
	},
	openrouter: {
		thinking: () => false, comment: ': OPENROUTER PROCESSING', usage: 'openrouter',
		usageAlways: true, numericErrors: true, strictOpenAI: true,
	},
	mistral: {
		thinking: () => false, usageAlways: true, usageOnFinish: true, flatErrors: true,
		allow: MISTRAL_FIELDS, embedFields: ['model', 'input', 'output_dimension', 'output_dtype'],
		toolId: (n) => mistralId(n),
	},
	generic: {
		thinking: () => false, usageNoChoices: true, strictOpenAI: true,
	},
};

/* A 9-character [a-zA-Z0-9] id, the only kind Mistral accepts. */
function mistralId(n) {
	const abc = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
	let h = fnv1a('tool' + String(n));
	let s = '';
	for (let i = 0; i < 9; i++) {
		s += abc[h % 62];
		h = Math.imul(h ^ (h >>> 7), 0x9e3779b1) >>> 0;
	}
	return s;
}

/* Send an error in the dialect's own shape; true (it answered). */
function compatError(res, dialect, status, message, param) {
	const d = dialect ? DIALECTS[dialect] : null;
	if (d && d.flatErrors) {
		sendJson(res, status, { object: 'error', message, type: status >= 500 ?
		    'internal_error' : 'invalid_request_error', param: param || null,
		    code: status === 400 ? '3280' : null });
	} else if (d && d.numericErrors) {
		sendJson(res, status, { error: { code: status, message, metadata: {} } });
	} else {
		sendJson(res, status, openaiError(message, status >= 500 ? 'server_error' :
		    'invalid_request_error', param === undefined ? null : param, null),
		    status === 429 ? { 'retry-after': '1' } : undefined);
	}
	return true;
}

/* Send Mistral's 422 for a field it does not know; true. */
function mistralExtra(res, loc, input) {
	sendJson(res, 422, { object: 'error', message: { detail: [{ type: 'extra_forbidden',
	    loc, msg: 'Extra inputs are not permitted', input }] },
	    type: 'invalid_request_error', param: null, code: null });
	return true;
}

/* Answer what a dialect refuses in a chat body: true if it did, else null. */
function compatReject(res, dialect, body) {
	const d = DIALECTS[dialect];
	const msgs = body.messages;
	if (d.allow) {
		for (const k of Object.keys(body)) {
			if (!d.allow.includes(k))
				return mistralExtra(res, ['body', k], body[k]);
		}
		const ids = new Set();
		for (let i = 0; i < msgs.length; i++) {
			const m = msgs[i] || {};
			const allowed = MISTRAL_MSG_FIELDS[m.role];
			if (!allowed)
				return mistralExtra(res, ['body', 'messages', i, 'role'], m.role);
			for (const k of Object.keys(m)) {
				if (!allowed.includes(k))
					return mistralExtra(res, ['body', 'messages', i, k], m[k]);
			}
			for (const tc of m.tool_calls || []) {
				if (!/^[a-zA-Z0-9]{9}$/.test(tc.id || ''))
					return compatError(res, dialect, 400, 'Tool call id was ' + tc.id +
					    ' but must be a-z, A-Z, 0-9, with a length of 9.');
				ids.add(tc.id);
			}
			if (m.role === 'tool') {
				if (!/^[a-zA-Z0-9]{9}$/.test(m.tool_call_id || ''))
					return compatError(res, dialect, 400, 'Tool call id was ' +
					    m.tool_call_id + ' but must be a-z, A-Z, 0-9, with a length of 9.');
				if (!ids.has(m.tool_call_id))
					return compatError(res, dialect, 400,
					    'Not the same number of function calls and responses');
			}
		}
		return null;
	}
	if (d.strictOpenAI) {
		for (const k of OPENAI_ONLY) {
			if (body[k] !== undefined)
				return compatError(res, dialect, 400, 'mock-source(' + dialect +
				    '): unsupported parameter ' + k, k);
		}
		if (body.stream_options && body.stream_options.include_obfuscation !== undefined)
			return compatError(res, dialect, 400, 'mock-source(' + dialect +
			    '): unsupported parameter stream_options.include_obfuscation',
			    'stream_options');
		for (let i = 0; i < msgs.length; i++) {
			if (msgs[i] && msgs[i].role === 'developer')
				return compatError(res, dialect, 400, 'mock-source(' + dialect +
				    '): unknown role developer in messages[' + i + ']', 'messages');
		}
	}
	if (dialect === 'deepseek' && d.thinking(body) && Array.isArray(body.tools)) {
		for (const m of msgs) {
			if (m && m.role === 'assistant' && Array.isArray(m.tool_calls) &&
			    typeof m.reasoning_content !== 'string')
				return compatError(res, dialect, 400, 'The `reasoning_content` in the ' +
				    'thinking mode must be passed back to the API.', 'messages');
		}
	}
	if (d.endpoint && !/^ep-[0-9]{14}-[a-z0-9]{5}$/.test(body.model) &&
	    !/^doubao-/.test(body.model)) {
		sendJson(res, 404, { error: { code: 'InvalidEndpointOrModel.NotFound',
		    message: 'The model or endpoint ' + body.model + ' does not exist or you do ' +
		    'not have access to it.', param: '', type: 'NotFound' } });
		return true;
	}
	if (d.streamOnlyThinking && d.thinking(body) && body.stream !== true)
		return compatError(res, dialect, 400, 'This model only support stream mode, ' +
		    'please enable the stream parameter to access the model.', 'stream');
	return null;
}

/* The dialect's usage object for an answer with reasoning text. */
function compatUsage(dialect, body, answer, reasoning) {
	const u = openaiUsage(body, answer);
	const r = countTokens(reasoning);
	const p = u.prompt_tokens;
	const c = u.completion_tokens + r;
	const base = { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
	const hit = Math.floor(p / 2);
	switch (DIALECTS[dialect].usage) {
	case 'deepseek':
		return Object.assign(base, { prompt_cache_hit_tokens: hit,
		    prompt_cache_miss_tokens: p - hit,
		    completion_tokens_details: { reasoning_tokens: r } });
	case 'moonshot':
		return Object.assign(base, { cached_tokens: hit });
	case 'ark':
		return Object.assign(base, { prompt_tokens_details: { cached_tokens: 0 },
		    completion_tokens_details: { reasoning_tokens: r } });
	case 'openrouter':
		return Object.assign(base, { cost: 0.0000123, is_byok: false,
		    prompt_tokens_details: { cached_tokens: hit },
		    completion_tokens_details: { reasoning_tokens: r } });
	default:
		return base;
	}
}

/* A whole compatible answer. */
function compatComplete(res, dialect, body, answer, reasoning) {
	const d = DIALECTS[dialect];
	const message = { role: 'assistant', content: null };
	if (reasoning)
		message.reasoning_content = reasoning;
	if (answer.kind === 'tool') {
		message.tool_calls = [{ id: answer.call.id, type: 'function',
		    function: { name: answer.call.name, arguments: answer.call.arguments } }];
	} else {
		message.content = answer.content;
	}
	const usage = compatUsage(dialect, body, answer, reasoning);
	const choice = { index: 0, message, finish_reason: answer.kind === 'tool' ? 'tool_calls' : 'stop' };
	const obj = { id: dialect + '-mock' + String(state.seq), object: 'chat.completion',
	    created: Math.floor(Date.now() / 1000), model: body.model, choices: [choice], usage };
	/* DeepSeek may answer after blank keep-alive lines. */
	const text = (d.keepalive ? '\n\n' : '') + JSON.stringify(obj);
	res.writeHead(200, { 'content-type': 'application/json',
	    'content-length': Buffer.byteLength(text) });
	res.end(text);
}

/* The events of a compatible stream, as SSE text blocks. */
function compatEvents(dialect, body, sw, answer, reasoning) {
	const d = DIALECTS[dialect];
	const base = { id: dialect + '-mock' + String(state.seq), object: 'chat.completion.chunk',
	    created: Math.floor(Date.now() / 1000), model: body.model };
	const chunk = (choice, extra) => 'data: ' + JSON.stringify(Object.assign({}, base,
	    { choices: choice === null ? [] : [Object.assign({ index: 0 }, choice)] },
	    extra || {})) + '\n\n';
	const nchunks = Math.max(1, intSwitch(sw.opts, 'chunks', 4));
	const wantUsage = d.usageAlways || (body.stream_options && body.stream_options.include_usage === true);
	const usage = compatUsage(dialect, body, answer, reasoning);
	const ev = [];
	if (d.keepalive)
		ev.push(d.keepalive + '\n\n');
	if (d.comment)
		ev.push(d.comment + '\n\n');
	ev.push(chunk({ delta: { role: 'assistant', content: '' }, finish_reason: null }));
	if (reasoning) {
		for (const piece of splitEven(reasoning, Math.min(nchunks, reasoning.length)))
			ev.push(chunk({ delta: { content: null, reasoning_content: piece }, finish_reason: null }));
	}
	if (answer.kind === 'tool') {
		const call = answer.call;
		if (dialect === 'mistral') {
			ev.push(chunk({ delta: { tool_calls: [{ id: call.id, type: 'function', index: 0,
			    function: { name: call.name, arguments: call.arguments } }] }, finish_reason: null }));
		} else {
			const first = { id: call.id, type: 'function', function: { name: call.name, arguments: '' } };
			if (!d.indexless)
				first.index = 0;
			ev.push(chunk({ delta: { tool_calls: [first] }, finish_reason: null }));
			for (const piece of splitEven(call.arguments, Math.min(nchunks, call.arguments.length))) {
				const frag = { function: { arguments: piece } };
				if (!d.indexless)
					frag.index = 0;
				ev.push(chunk({ delta: { tool_calls: [frag] }, finish_reason: null }));
			}
		}
	} else {
		for (const piece of splitEven(answer.content, Math.max(1, Math.min(nchunks, answer.content.length))))
			ev.push(chunk({ delta: { content: piece }, finish_reason: null }));
	}
	if (sw.opts.error_event) {
		const err = d.numericErrors ? { code: 502, message: 'Provider disconnected' } :
		    { message: 'mock-source: the model failed in the middle of the answer',
		    type: 'server_error', param: null, code: 'mock_stream_error' };
		ev.push(chunk({ delta: { content: '' }, finish_reason: d.numericErrors ? 'error' : null },
		    { error: err }));
		return ev;
	}
	const fin = { delta: {}, finish_reason: answer.kind === 'tool' ? 'tool_calls' : 'stop' };
	if (d.choiceUsage)
		fin.usage = usage;
	ev.push(chunk(fin, d.usageOnFinish && wantUsage ? { usage } : undefined));
	if (d.comment)
		ev.push(d.comment + '\n\n');
	if (wantUsage && !d.usageOnFinish && !d.choiceUsage) {
		if (d.usageAlways)		/* OpenRouter: an empty delta carrying usage */
			ev.push(chunk({ delta: { role: 'assistant', content: '' }, finish_reason: null },
			    { usage }));
		else if (d.usageNoChoices)	/* vLLM-style: no choices at all */
			ev.push('data: ' + JSON.stringify(Object.assign({}, base, { usage })) + '\n\n');
		else
			ev.push(chunk(null, { usage }));
	}
	ev.push('data: [DONE]\n\n');
	return ev;
}

/* POST /<dialect>/v1/chat/completions */
async function compatChat(req, res, raw, dialect) {
	let body = null;
	try {
		body = JSON.parse(raw.toString('utf8'));
	} catch (e) {
		body = null;
	}
	logRequest(req, raw.toString('utf8'), body);
	if (!openaiAuth(req, res))
		return;
	if (body === null || typeof body !== 'object' || Array.isArray(body) ||
	    typeof body.model !== 'string' || !Array.isArray(body.messages) ||
	    body.messages.length === 0)
		return compatError(res, dialect, 400, 'mock-source: model and messages are required');
	if (compatReject(res, dialect, body) !== null)
		return;
	const d = DIALECTS[dialect];
	const sw = parseSwitches(openaiLastUserText(body));
	const delay = intSwitch(sw.opts, 'delay', 0);
	if (delay > 0)
		await sleep(delay);
	const status = intSwitch(sw.opts, 'status', 0);
	if (status >= 400)
		return compatError(res, dialect, status, 'mock-source(' + dialect + '): status ' +
		    String(status) + ' requested');
	const answer = openaiAnswer(body, sw);
	if (answer.kind === 'tool' && d.toolId)
		answer.call.id = d.toolId(state.seq);
	const reasoning = d.thinking(body) ? 'Thinking about: ' + sw.text : '';
	if (body.stream !== true) {
		compatComplete(res, dialect, body, answer, reasoning);
		return;
	}
	const events = compatEvents(dialect, body, sw, answer, reasoning);
	res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8',
	    'cache-control': 'no-cache' });
	if (res.socket)
		res.socket.setNoDelay(true);
	res.flushHeaders();
	const chunkDelay = intSwitch(sw.opts, 'chunk_delay', 0);
	for (const e of events) {
		if (gone(res))
			return;
		if (!(await write(res, e)))
			return;
		if (chunkDelay > 0)
			await sleep(chunkDelay);
	}
	state.streams_completed++;
	res.end();
}

/* The dialect of a path /<dialect>/v1/<rest>, or null. */
function pathDialect(path, rest) {
	const m = /^\/([a-z]+)\/v1\/(.+)$/.exec(path);
	return m && DIALECTS[m[1]] !== undefined && m[2] === rest ? m[1] : null;
}

/* ------------------------------------------------------------------ *
 * Control endpoints
 * ------------------------------------------------------------------ */

/* GET /_mock/requests */
function controlRequests(req, res) {
	sendJson(res, 200, state.log);
}

/* DELETE /_mock/requests */
function controlClear(req, res) {
	state.log = [];
	sendJson(res, 200, { cleared: true });
}

/* GET /_mock/stats */
function controlStats(req, res) {
	sendJson(res, 200, {
		requests_total: state.requests_total,
		logged: state.log.length,
		open_connections: state.open_connections,
		max_open_connections: state.max_open_connections,
		active_streams: state.active_streams,
		max_active_streams: state.max_active_streams,
		streams_completed: state.streams_completed,
		hanging: state.hanging,
		max_write_wait_ms: state.max_write_wait_ms,
		by_status: state.by_status,
	});
}

/* DELETE /_mock/stats: reset the maxima and counters (not the open counts). */
function controlStatsReset(req, res) {
	state.max_open_connections = state.open_connections;
	state.max_active_streams = state.active_streams;
	state.max_write_wait_ms = 0;
	state.streams_completed = 0;
	state.requests_total = 0;
	state.by_status = {};
	sendJson(res, 200, { reset: true });
}

/* ------------------------------------------------------------------ *
 * Routing
 * ------------------------------------------------------------------ */

/*
 * The route table: method, exact path or prefix, handler, and whether the
 * handler wants the body.  A later wire format adds its rows here.
 */
const ROUTES = [
	{ method: 'POST', path: '/v1/chat/completions', handler: openaiChat, body: true },
	{ method: 'GET', path: '/v1/models', handler: openaiModels },
	{ method: 'GET', prefix: '/v1/models/', handler: openaiModel },
	{ method: 'POST', path: '/v1/embeddings', handler: (q, r, raw) =>
	    embeddingsHandler(q, r, raw, null) },
	{ method: 'POST', prefix: '/', match: (p) => pathDialect(p, 'chat/completions') !== null,
	    handler: (q, r, raw) => compatChat(q, r, raw, pathDialect(q.url.split('?')[0],
	    'chat/completions')) },
	{ method: 'POST', prefix: '/', match: (p) => pathDialect(p, 'embeddings') !== null,
	    handler: (q, r, raw) => embeddingsHandler(q, r, raw, pathDialect(q.url.split('?')[0],
	    'embeddings')) },
	{ method: 'GET', path: '/_mock/requests', handler: controlRequests },
	{ method: 'DELETE', path: '/_mock/requests', handler: controlClear },
	{ method: 'GET', path: '/_mock/stats', handler: controlStats },
	{ method: 'DELETE', path: '/_mock/stats', handler: controlStatsReset },
];

/*
 * Other wire formats live in test/mock/<name>.js, each exporting
 * routes(lib) -> rows for the table above (prefix rows may add
 * match(path) -> bool).  They get the shared helpers through lib.
 */
const LIB = {
	state, sleep, gone, write, parseSwitches, intSwitch, countTokens, splitEven,
	maskKey, sendJson, logRequest, bearerKey, sampleFromSchema, toolDecision,
};
for (const name of ['anthropic', 'gemini']) {
	let mod = null;
	try {
		mod = require('./mock/' + name + '.js');
	} catch (e) {
		if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes('mock/' + name))
			throw e;
	}
	if (mod !== null)
		ROUTES.unshift(...mod.routes(LIB));
}

/* Find the route for a request; null when none. */
function route(method, url) {
	const path = url.split('?')[0];
	for (const r of ROUTES) {
		if (r.method !== method)
			continue;
		if (r.path !== undefined && r.path === path)
			return r;
		if (r.prefix !== undefined && path.startsWith(r.prefix) &&
		    path.length > r.prefix.length && (!r.match || r.match(path)))
			return r;
	}
	return null;
}

/* The request listener. */
async function onRequest(req, res) {
	state.requests_total++;
	res.on('finish', () => {
		state.by_status[res.statusCode] = (state.by_status[res.statusCode] || 0) + 1;
	});
	const r = route(req.method, req.url);
	try {
		if (r === null) {
			await readBody(req);
			sendJson(res, 404, openaiError('mock-source: no route for ' + req.method +
			    ' ' + req.url.split('?')[0], 'invalid_request_error', null, 'unknown_url'));
			return;
		}
		const raw = await readBody(req);
		if (raw === null) {
			sendJson(res, 413, openaiError('mock-source: body too large',
			    'invalid_request_error', null, null));
			return;
		}
		await r.handler(req, res, raw);
	} catch (e) {
		if (!res.headersSent)
			sendJson(res, 500, openaiError('mock-source: ' + e.message, 'server_error'));
		else if (res.socket)
			res.socket.destroy();
	}
}

/* Make the server (not yet listening). */
function createMockSource() {
	const server = http.createServer({ keepAliveTimeout: 30000, requestTimeout: 0,
	    headersTimeout: 60000 }, onRequest);
	server.maxConnections = Infinity;
	server.maxHeadersCount = 0;
	server.on('connection', (sock) => {
		state.open_connections++;
		if (state.open_connections > state.max_open_connections)
			state.max_open_connections = state.open_connections;
		sock.on('close', () => state.open_connections--);
		sock.on('error', () => {});
	});
	server.on('clientError', (err, sock) => {
		if (sock.writable)
			sock.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
		else
			sock.destroy();
	});
	return server;
}

/* Parse --port and --host. */
function parseArgs(argv) {
	const a = { port: 0, host: '127.0.0.1' };
	for (let i = 0; i < argv.length; i++) {
		if (argv[i] === '--port' && i + 1 < argv.length)
			a.port = Number.parseInt(argv[++i], 10);
		else if (argv[i] === '--host' && i + 1 < argv.length)
			a.host = argv[++i];
		else {
			process.stderr.write('usage: mock-source.js --port N [--host ADDR]\n');
			process.exit(2);
		}
	}
	if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) {
		process.stderr.write('mock-source: bad port\n');
		process.exit(2);
	}
	return a;
}

if (require.main === module) {
	const args = parseArgs(process.argv.slice(2));
	const server = createMockSource();
	server.on('error', (e) => {
		process.stderr.write('mock-source: ' + e.message + '\n');
		process.exit(1);
	});
	server.listen({ port: args.port, host: args.host, backlog: 4096 }, () => {
		process.stdout.write('listening ' + String(server.address().port) + '\n');
	});
	process.on('SIGTERM', () => process.exit(0));
	process.on('SIGINT', () => process.exit(0));
}

module.exports = { createMockSource, parseSwitches, sampleFromSchema, toolDecision, countTokens, splitEven, mockVector,
    vectorBase64, mistralId,
    openaiLastUserText, openaiPromptTokens, openaiAnswer, openaiUsage, maskKey };
