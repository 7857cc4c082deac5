/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The Anthropic Messages API for the mock source (wire-formats.md section 3):
 * POST /v1/messages with x-api-key, the request rules the real API enforces
 * (max_tokens, tool_use/tool_result pairing, no unknown fields), answers and
 * streams with the exact event sequence, and the [[mock:...]] switches of the
 * OpenAI mock.  Loaded by test/mock-source.js through routes(lib).
 */
'use strict';

const TOOL_ID = /^[a-zA-Z0-9_-]+$/;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
const FIELDS = new Set(['model', 'max_tokens', 'messages', 'system', 'stop_sequences',
    'temperature', 'top_p', 'top_k', 'tools', 'tool_choice', 'metadata', 'stream',
    'thinking', 'output_config', 'service_tier', 'container', 'mcp_servers',
    'context_management', 'inference_geo']);

/* Anthropic's statuses and error types for [[mock:status=N]]. */
const STATUS_TYPES = {
	400: ['invalid_request_error', 'mock: invalid request (status 400 requested)'],
	401: ['authentication_error', 'invalid x-api-key'],
	402: ['billing_error', 'Your credit balance is too low to access the Anthropic API.'],
	403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
	404: ['not_found_error', 'model: claude-does-not-exist'],
	413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
	429: ['rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit.'],
	500: ['api_error', 'Internal server error'],
	504: ['timeout_error', 'Request timed out'],
	529: ['overloaded_error', 'Overloaded'],
};

/* Is v a plain object? */
function isObj(v) {
	return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/* The blocks of a message content (a string is one text block). */
function blocksOf(content) {
	if (typeof content === 'string')
		return [{ type: 'text', text: content }];
	return Array.isArray(content) ? content : [];
}

/* Check one content block of a message; a message for the client, or null. */
function checkBlock(b, role, where, ids) {
	if (!isObj(b) || typeof b.type !== 'string')
		return where + ': Input should be a valid content block';
	switch (b.type) {
	case 'text':
		if (typeof b.text !== 'string' || b.text.trim() === '')
			return where + ': text content blocks must contain non-whitespace text';
		return null;
	case 'image':
		if (role !== 'user')
			return where + ': image blocks are only allowed in user messages';
		if (!isObj(b.source))
			return where + '.source: Field required';
		if (b.source.type === 'base64') {
			if (!MEDIA_TYPES.includes(b.source.media_type))
				return where + '.source.media_type: Input should be ' + MEDIA_TYPES.join(', ');
			if (typeof b.source.data !== 'string' || !/^[A-Za-z0-9+/=]+$/.test(b.source.data))
				return where + '.source.data: invalid base64 data';
			return null;
		}
		if (b.source.type === 'url' && typeof b.source.url === 'string' &&
		    /^https?:\/\//.test(b.source.url))
			return null;
		return where + '.source: Input tag does not match any of the expected tags';
	case 'tool_use':
		if (role !== 'assistant')
			return where + ': tool_use blocks are only allowed in assistant messages';
		if (typeof b.id !== 'string' || !TOOL_ID.test(b.id))
			return where + '.id: String should match pattern \'^[a-zA-Z0-9_-]+$\'';
		if (ids.has(b.id))
			return where + ': `tool_use` ids must be unique';
		ids.add(b.id);
		if (typeof b.name !== 'string' || !isObj(b.input))
			return where + ': tool_use needs a name and an input object';
		return null;
	case 'tool_result':
		if (role !== 'user')
			return where + ': tool_result blocks are only allowed in user messages';
		if (typeof b.tool_use_id !== 'string')
			return where + '.tool_use_id: Field required';
		if (b.content !== undefined && typeof b.content !== 'string' &&
		    !Array.isArray(b.content))
			return where + '.content: Input should be a valid string or list';
		for (const [k, c] of (Array.isArray(b.content) ? b.content : []).entries()) {
			if (!isObj(c) || (c.type !== 'text' && c.type !== 'image'))
				return where + '.content.' + k + ': Input tag does not match';
		}
		return null;
	case 'thinking':
	case 'redacted_thinking':
		return role === 'assistant' ? null : where + ': thinking blocks belong to the assistant';
	default:
		return where + ': Input tag \'' + b.type + '\' does not match any of the expected tags';
	}
}

/*
 * Check a request like the real API; returns an error message or null.
 * turns gets the messages merged by role (the API merges them too).
 */
function validate(body, turns) {
	if (!isObj(body))
		return 'Input should be a valid dictionary';
	for (const k of Object.keys(body)) {
		if (!FIELDS.has(k))
			return k + ': Extra inputs are not permitted';
	}
	if (typeof body.model !== 'string')
		return 'model: Field required';
	if (!Number.isInteger(body.max_tokens))
		return 'max_tokens: Field required';
	if (body.max_tokens < 1)
		return 'max_tokens: Input should be greater than or equal to 1';
	if (!Array.isArray(body.messages) || body.messages.length === 0)
		return 'messages: Field required';
	if (body.system !== undefined && typeof body.system !== 'string') {
		if (!Array.isArray(body.system))
			return 'system: Input should be a valid string or list';
		for (const [k, b] of body.system.entries()) {
			if (!isObj(b) || b.type !== 'text' || typeof b.text !== 'string' ||
			    b.text.trim() === '')
				return 'system.' + k + ': text content blocks must contain non-whitespace text';
		}
	}
	for (const f of ['temperature', 'top_p']) {
		if (body[f] !== undefined && (typeof body[f] !== 'number' || body[f] < 0 || body[f] > 1))
			return f + ': Input should be less than or equal to 1';
	}
	if (body.stop_sequences !== undefined && (!Array.isArray(body.stop_sequences) ||
	    body.stop_sequences.some((s) => typeof s !== 'string')))
		return 'stop_sequences: Input should be a valid list of strings';
	if (body.stream !== undefined && typeof body.stream !== 'boolean')
		return 'stream: Input should be a valid boolean';
	if (body.metadata !== undefined && (!isObj(body.metadata) ||
	    Object.keys(body.metadata).some((k) => k !== 'user_id')))
		return 'metadata: Extra inputs are not permitted';
	const tools = body.tools === undefined ? [] : body.tools;
	if (!Array.isArray(tools))
		return 'tools: Input should be a valid list';
	const names = new Set();
	for (const [k, t] of tools.entries()) {
		if (!isObj(t) || typeof t.name !== 'string' || !TOOL_NAME.test(t.name))
			return 'tools.' + k + '.name: String should match pattern \'^[a-zA-Z0-9_-]{1,64}$\'';
		if (names.has(t.name))
			return 'tools: Tool names must be unique.';
		names.add(t.name);
		if (!isObj(t.input_schema) || t.input_schema.type !== 'object')
			return 'tools.' + k + '.input_schema.type: Input should be \'object\'';
	}
	const tc = body.tool_choice;
	if (tc !== undefined) {
		if (!isObj(tc) || !['auto', 'any', 'tool', 'none'].includes(tc.type))
			return 'tool_choice: Input tag does not match any of the expected tags';
		if (tc.type === 'tool' && !names.has(tc.name))
			return 'tool_choice.name: Tool \'' + tc.name + '\' not found in tools';
		if (tc.type === 'none' && tc.disable_parallel_tool_use !== undefined)
			return 'tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted';
	}
	if (body.thinking !== undefined && isObj(body.thinking) && body.thinking.type === 'enabled') {
		const b = body.thinking.budget_tokens;
		if (!Number.isInteger(b) || b < 1024)
			return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024';
		if (b >= body.max_tokens)
			return '`max_tokens` must be greater than `thinking.budget_tokens`';
		if (tc !== undefined && (tc.type === 'any' || tc.type === 'tool'))
			return 'Thinking may not be enabled when tool_choice forces tool use.';
	}

	const ids = new Set();
	let usesTools = false;
	for (const [i, m] of body.messages.entries()) {
		if (!isObj(m) || (m.role !== 'user' && m.role !== 'assistant'))
			return 'messages.' + i + '.role: Input should be \'user\' or \'assistant\'';
		if (typeof m.content !== 'string' && !Array.isArray(m.content))
			return 'messages.' + i + '.content: Input should be a valid list';
		if (typeof m.content === 'string' && m.content === '' )
			return 'messages.' + i + ': text content blocks must be non-empty';
		const blocks = blocksOf(m.content);
		for (const [k, b] of blocks.entries()) {
			const e = checkBlock(b, m.role, 'messages.' + i + '.content.' + k, ids);
			if (e)
				return e;
			if (b.type === 'tool_use' || b.type === 'tool_result')
				usesTools = true;
		}
		const last = turns[turns.length - 1];
		if (last && last.role === m.role)
			last.blocks.push(...blocks);
		else
			turns.push({ role: m.role, index: i, blocks: blocks.slice() });
	}
	if (usesTools && tools.length === 0)
		return 'Requests which include `tool_use` or `tool_result` blocks must define tools.';
	/* Pairing (3.1): answered in the next turn, results first, nothing orphaned. */
	for (const [t, turn] of turns.entries()) {
		if (turn.role === 'assistant') {
			const uses = turn.blocks.filter((b) => b.type === 'tool_use').map((b) => b.id);
			const next = turns[t + 1];
			const answered = new Set(next && next.role === 'user' ? next.blocks
			    .filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id) : []);
			const missing = uses.filter((id) => !answered.has(id));
			/* A final assistant turn is a prefill: it may not hold tool_use either. */
			if (missing.length > 0)
				return 'messages.' + turn.index + ': `tool_use` ids were found without ' +
				    '`tool_result` blocks immediately after: ' + missing.join(', ') +
				    '. Each `tool_use` block must have a corresponding `tool_result` ' +
				    'block in the next message.';
			continue;
		}
		const prev = turns[t - 1];
		const declared = new Set(prev && prev.role === 'assistant' ? prev.blocks
		    .filter((b) => b.type === 'tool_use').map((b) => b.id) : []);
		let seenOther = false;
		for (const b of turn.blocks) {
			if (b.type !== 'tool_result') {
				seenOther = true;
				continue;
			}
			if (seenOther)
				return 'messages.' + turn.index + ': `tool_result` blocks must come ' +
				    'first in the user message content.';
			if (!declared.has(b.tool_use_id))
				return 'messages.' + turn.index + ': unexpected `tool_use_id` found in ' +
				    '`tool_result` blocks: ' + b.tool_use_id + '. Each `tool_result` ' +
				    'block must have a corresponding `tool_use` block in the previous message.';
		}
	}
	return null;
}

/* The text of the last user turn's text blocks (what the switches are read from). */
function lastUserText(turns) {
	for (let i = turns.length - 1; i >= 0; i--) {
		if (turns[i].role === 'user')
			return turns[i].blocks.filter((b) => b.type === 'text').map((b) => b.text).join(' ');
	}
	return '';
}

/* Every word the model reads (system and all messages, tool results included). */
function inputTokens(body, lib) {
	let n = 0;
	if (typeof body.system === 'string')
		n += lib.countTokens(body.system);
	else if (Array.isArray(body.system))
		for (const b of body.system)
			n += lib.countTokens(b.text);
	for (const m of body.messages) {
		for (const b of blocksOf(m.content)) {
			if (b.type === 'text')
				n += lib.countTokens(b.text);
			else if (b.type === 'tool_result')
				n += typeof b.content === 'string' ? lib.countTokens(b.content) :
				    blocksOf(b.content).reduce((s, c) => s + lib.countTokens(c.text), 0);
			else if (b.type === 'tool_use')
				n += lib.countTokens(JSON.stringify(b.input).replace(/[{}":,]/g, ' '));
		}
	}
	return n;
}

/* A tool's input: a sample of its schema, or the answer when the schema is open. */
function toolInput(tool, echo, lib) {
	const schema = tool && tool.input_schema;
	if (schema && ((schema.properties && Object.keys(schema.properties).length > 0) ||
	    schema.additionalProperties === false))
		return lib.sampleFromSchema(schema, 0);
	return { answer: echo };
}

/*
 * The answer: {content: [blocks], stop_reason, stop_sequence}.  Text
 * answers are "Echo: <last user text>", cut by stop sequences and max_tokens.
 */
function answer(body, sw, lib) {
	const tools = Array.isArray(body.tools) ? body.tools : [];
	const tc = body.tool_choice || { type: 'auto' };
	const echo = 'Echo: ' + sw.text;
	const content = [];
	if (sw.opts.thinking || (isObj(body.thinking) && body.thinking.type === 'enabled'))
		content.push({ type: 'thinking', thinking: 'Thinking about: ' + sw.text,
		    signature: 'EqQBCgIYAhIMmockSignature' });
	let calls = [];
	const last = body.messages[body.messages.length - 1];
	const afterResult = last.role === 'user' &&
	    blocksOf(last.content).some((b) => b.type === 'tool_result');
	const choice = { auto: 'auto', any: 'any', tool: 'named', none: 'none' }[tc.type] || 'auto';
	const decision = lib.toolDecision(tools.length > 0, choice, afterResult, sw);
	if (tc.type === 'tool')
		calls = [tools.find((t) => t.name === tc.name)];
	else if (decision !== 'none') {
		const n = Math.max(1, lib.intSwitch(sw.opts, 'tools', 1));
		for (let i = 0; i < n && !(i > 0 && tc.disable_parallel_tool_use); i++)
			calls.push(tools[i % tools.length]);
	}
	if (calls.length > 0) {
		if (sw.opts.preamble && tc.type === 'auto')
			content.push({ type: 'text', text: 'Let me check.' });
		for (const [i, t] of calls.entries())
			content.push({ type: 'tool_use', id: 'toolu_mock' + String(lib.state.seq) + '_' + i,
			    name: t.name, input: toolInput(t, echo, lib) });
		return { content, stop_reason: 'tool_use', stop_sequence: null };
	}
	const fmt = isObj(body.output_config) && isObj(body.output_config.format) ?
	    body.output_config.format : null;
	let text = echo;
	if (fmt && fmt.type === 'json_schema') {
		let obj = lib.sampleFromSchema(fmt.schema, 0);
		if (!isObj(obj))
			obj = { answer: echo };
		text = JSON.stringify(obj);
	}
	let stop = 'end_turn';
	let seq = null;
	let cut = -1;
	for (const s of Array.isArray(body.stop_sequences) ? body.stop_sequences : []) {
		const at = text.indexOf(s);
		if (s !== '' && at >= 0 && (cut < 0 || at < cut)) {
			cut = at;
			seq = s;
		}
	}
	if (cut >= 0) {
		text = text.slice(0, cut);
		stop = 'stop_sequence';
	}
	const words = text.split(' ');
	if (words.length > body.max_tokens) {
		text = words.slice(0, body.max_tokens).join(' ');
		stop = 'max_tokens';
		seq = null;
	}
	content.push({ type: 'text', text });
	return { content, stop_reason: stop, stop_sequence: seq };
}

/* Usage of an answer, with the cache switches. */
function usageOf(body, ans, sw, lib) {
	let out = 0;
	let thinking = 0;
	for (const b of ans.content) {
		if (b.type === 'text')
			out += lib.countTokens(b.text);
		else if (b.type === 'tool_use')
			out += lib.countTokens(JSON.stringify(b.input).replace(/[{}":,]/g, ' ')) + 1;
		else if (b.type === 'thinking')
			thinking += lib.countTokens(b.thinking);
	}
	const u = {
		input_tokens: inputTokens(body, lib),
		cache_creation_input_tokens: lib.intSwitch(sw.opts, 'cache_write', 0),
		cache_read_input_tokens: lib.intSwitch(sw.opts, 'cache_read', 0),
		output_tokens: out + thinking,
	};
	if (thinking > 0)
		u.output_tokens_details = { thinking_tokens: thinking };
	return u;
}

/* Route rows for mock-source.js. */
function routes(lib) {
	const { state, sleep, gone, write, parseSwitches, intSwitch, splitEven, sendJson,
	    logRequest } = lib;

	/* An Anthropic error body. */
	function errorBody(type, message) {
		return { type: 'error', error: { type, message }, request_id: 'req_mock' + String(state.seq) };
	}

	/* Answer a [[mock:status=N]] request. */
	function statusError(res, status, key) {
		const e = STATUS_TYPES[status] || [status >= 500 ? 'api_error' :
		    'invalid_request_error', 'mock: status ' + status + ' requested'];
		/* The 401 text repeats the key: the gateway must never pass it on. */
		const msg = status === 401 ? e[1] + ': ' + key : e[1];
		const headers = { 'request-id': 'req_mock' + String(state.seq) };
		if (status === 429)
			headers['retry-after'] = '1';
		if (status === 529)
			headers['retry-after'] = '2';
		sendJson(res, status, errorBody(e[0], msg), headers);
	}

	/* Write one SSE event (or comment), in several small writes with [[mock:split]]. */
	async function send(res, split, text) {
		if (!split)
			return write(res, text);
		const cuts = [3, 9, Math.floor(text.length / 2), text.length - 1];
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

	/* The event sequence of section 3.3 for an answer. */
	function streamEvents(body, ans, usage, sw, id) {
		const n = Math.max(1, intSwitch(sw.opts, 'chunks', 3));
		const start = Object.assign({}, usage, { output_tokens: 1 });
		delete start.output_tokens_details;
		const evs = [['message_start', { type: 'message_start', message: { id, type: 'message',
		    role: 'assistant', model: body.model, content: [], stop_reason: null,
		    stop_sequence: null, usage: start } }], ['ping', { type: 'ping' }]];
		for (const [i, b] of ans.content.entries()) {
			let first;
			let deltas;
			if (b.type === 'text') {
				first = { type: 'text', text: '' };
				deltas = splitEven(b.text, Math.max(1, Math.min(n, b.text.length)))
				    .filter((p) => p !== '').map((p) => ({ type: 'text_delta', text: p }));
			} else if (b.type === 'thinking') {
				first = { type: 'thinking', thinking: '' };
				deltas = splitEven(b.thinking, Math.min(n, b.thinking.length))
				    .map((p) => ({ type: 'thinking_delta', thinking: p }));
				deltas.push({ type: 'signature_delta', signature: b.signature });
			} else {
				first = { type: 'tool_use', id: b.id, name: b.name, input: {} };
				const json = JSON.stringify(b.input);
				deltas = [{ type: 'input_json_delta', partial_json: '' }].concat(
				    splitEven(json, Math.min(n, json.length))
				    .map((p) => ({ type: 'input_json_delta', partial_json: p })));
			}
			evs.push(['content_block_start', { type: 'content_block_start', index: i,
			    content_block: first }]);
			for (const d of deltas)
				evs.push(['content_block_delta', { type: 'content_block_delta', index: i,
				    delta: d }]);
			evs.push(['content_block_stop', { type: 'content_block_stop', index: i }]);
		}
		/* Cumulative usage; newer API versions repeat the input side ([[mock:usage_in_delta]]). */
		const du = { output_tokens: usage.output_tokens };
		if (sw.opts.usage_in_delta) {
			du.input_tokens = usage.input_tokens;
			du.cache_creation_input_tokens = usage.cache_creation_input_tokens;
			du.cache_read_input_tokens = usage.cache_read_input_tokens;
		}
		evs.push(['message_delta', { type: 'message_delta', delta: { stop_reason: ans.stop_reason,
		    stop_sequence: ans.stop_sequence }, usage: du }]);
		evs.push(['message_stop', { type: 'message_stop' }]);
		return evs;
	}

	/* Stream an answer as Anthropic server-sent events. */
	async function stream(res, body, ans, usage, sw) {
		const id = 'msg_mock' + String(state.seq);
		const evs = streamEvents(body, ans, usage, sw, id);
		const chunkDelay = intSwitch(sw.opts, 'chunk_delay', 0);
		const hangAfter = intSwitch(sw.opts, 'hang_after', -1);
		const breakAfter = intSwitch(sw.opts, 'break_after', -1);
		const split = !!sw.opts.split;
		res.writeHead(200, {
			'content-type': 'text/event-stream; charset=utf-8',
			'cache-control': 'no-cache',
			'request-id': 'req_mock' + String(state.seq),
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
		let deltas = 0;
		for (const [name, data] of evs) {
			if (sent > 0 && chunkDelay > 0)
				await sleep(chunkDelay);
			if (gone(res))
				return;
			if (sent === hangAfter) {
				state.hanging++;
				return;
			}
			if (sent === breakAfter) {
				res.socket.destroy();
				return;
			}
			if (sw.opts.keepalive && !(await send(res, split,
			    'event: ping\ndata: {"type": "ping"}\n\n')))
				return;
			if (!(await send(res, split, 'event: ' + name + '\ndata: ' +
			    JSON.stringify(data) + '\n\n')))
				return;
			sent++;
			if (name === 'content_block_delta' && ++deltas === 1 && sw.opts.error_event) {
				await send(res, split, 'event: error\ndata: ' +
				    JSON.stringify(errorBody('overloaded_error', 'Overloaded')) + '\n\n');
				uncount();
				res.end();
				return;
			}
		}
		state.streams_completed++;
		uncount();
		res.end();
	}

	/* Answer without streaming (section 3.2). */
	function complete(res, body, ans, usage, sw) {
		const msg = { id: 'msg_mock' + String(state.seq), type: 'message', role: 'assistant',
		    model: body.model, content: ans.content, stop_reason: ans.stop_reason,
		    stop_sequence: ans.stop_sequence,
		    usage: Object.assign({}, usage, { service_tier: 'standard' }) };
		const text = JSON.stringify(msg);
		const headers = { 'content-type': 'application/json',
		    'content-length': Buffer.byteLength(text), 'request-id': 'req_mock' + String(state.seq) };
		res.writeHead(200, headers);
		if (sw.opts.cut_body) {
			res.flushHeaders();
			res.write(text.slice(0, Math.floor(text.length / 2)), () => setTimeout(() => {
				if (res.socket)
					res.socket.destroy();
			}, 50));
			return;
		}
		res.end(text);
	}

	/* POST /v1/messages */
	async function messages(req, res, raw) {
		let body = null;
		try {
			body = JSON.parse(raw.toString('utf8'));
		} catch (e) {
			body = null;
		}
		logRequest(req, raw.toString('utf8'), body);
		const key = req.headers['x-api-key'] || '';
		if (!key.startsWith('mock-')) {
			sendJson(res, 401, errorBody('authentication_error', 'invalid x-api-key: ' + key));
			return;
		}
		if (!req.headers['anthropic-version']) {
			sendJson(res, 400, errorBody('invalid_request_error',
			    'anthropic-version: header is required'));
			return;
		}
		if (body === null) {
			sendJson(res, 400, errorBody('invalid_request_error',
			    'There was an error parsing the body of your request.'));
			return;
		}
		const turns = [];
		const bad = validate(body, turns);
		if (bad !== null) {
			sendJson(res, 400, errorBody('invalid_request_error', bad));
			return;
		}
		const sw = parseSwitches(lastUserText(turns));
		const delay = intSwitch(sw.opts, 'delay', 0);
		if (delay > 0)
			await sleep(delay);
		if (sw.opts.hang) {
			state.hanging++;
			return;
		}
		const status = intSwitch(sw.opts, 'status', 0);
		if (status >= 400) {
			statusError(res, status, key);
			return;
		}
		const ans = answer(body, sw, lib);
		const usage = usageOf(body, ans, sw, lib);
		if (body.stream === true)
			await stream(res, body, ans, usage, sw);
		else
			complete(res, body, ans, usage, sw);
	}

	return [{ method: 'POST', path: '/v1/messages', handler: messages, body: true }];
}

module.exports = { routes, validate };
