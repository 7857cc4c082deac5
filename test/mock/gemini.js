/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The Gemini API for the mock source (wire-formats.md section 4):
 * POST /v1beta/models/{model}:generateContent, :streamGenerateContent (SSE
 * only with ?alt=sse, a JSON array otherwise, like the real API),
 * :batchEmbedContents and :embedContent.  It checks what the real API checks
 * and gateways get wrong (the key in x-goog-api-key and never in the URL,
 * unknown fields and schema keywords -> 400 "Unknown name", thought
 * signatures), and obeys the same [[mock:...]] switches as the OpenAI mock,
 * plus Gemini's own: block (a refused prompt), bad_key, thoughts=N, cached=N,
 * finish=REASON, finish_alone (finishReason on a candidate without parts),
 * no_finish (a clean end without finishReason), crlf, tool=N (N calls),
 * require_signature (function calls in history must carry theirs).
 */
'use strict';

const crypto = require('node:crypto');

/* Fields of a GenerateContentRequest and of its parts (camelCase only). */
const REQUEST_KEYS = ['contents', 'systemInstruction', 'tools', 'toolConfig',
    'generationConfig', 'safetySettings', 'cachedContent'];
const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse'];
const PART_KEYS = PART_DATA.concat(['thought', 'thoughtSignature']);
const GEN_KEYS = ['stopSequences', 'temperature', 'topP', 'topK', 'maxOutputTokens',
    'candidateCount', 'presencePenalty', 'frequencyPenalty', 'seed', 'responseMimeType',
    'responseSchema', 'responseJsonSchema', 'thinkingConfig', 'responseLogprobs',
    'logprobs', 'responseModalities'];
const SCHEMA_KEYS = ['type', 'format', 'title', 'description', 'nullable', 'enum',
    'maxItems', 'minItems', 'properties', 'required', 'minProperties', 'maxProperties',
    'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering',
    'default', 'items', 'minimum', 'maximum'];
const EMBED_KEYS = ['model', 'content', 'taskType', 'title', 'outputDimensionality'];
const MOCK_EMBED_DIMS = 16;

/* A request the mock refuses, with Google's status and message. */
class GeminiError extends Error {
	constructor(code, status, message, details) {
		super(message);
		this.code = code;
		this.status = status;
		this.details = details;
	}
}

/* An "Unknown name" error, as the real API words it. */
function unknownName(name, where) {
	return new GeminiError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. ' +
	    'Unknown name "' + name + '"' + (where ? ' at \'' + where + '\'' : '') +
	    ': Cannot find field.', [{ '@type': 'type.googleapis.com/google.rpc.BadRequest',
	    fieldViolations: [{ field: where || name, description: 'Invalid JSON payload ' +
	    'received. Unknown name "' + name + '"' }] }]);
}

/* A plain INVALID_ARGUMENT. */
function invalid(message) {
	return new GeminiError(400, 'INVALID_ARGUMENT', message);
}

function isObject(v) {
	return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/* Refuse keys of obj that are not in allowed. */
function checkKeys(obj, allowed, where) {
	for (const k of Object.keys(obj)) {
		if (!allowed.includes(k))
			throw unknownName(k, where);
	}
}

/* Check a Gemini Schema (OpenAPI subset) recursively. */
function checkSchema(s, where, depth) {
	if (depth > 40)
		throw invalid('Schema nested too deeply at \'' + where + '\'');
	if (!isObject(s))
		throw invalid('Invalid value at \'' + where + '\': a schema must be an object');
	checkKeys(s, SCHEMA_KEYS, where);
	if (s.properties !== undefined) {
		if (!isObject(s.properties))
			throw invalid('Invalid value at \'' + where + '.properties\'');
		for (const [name, sub] of Object.entries(s.properties))
			checkSchema(sub, where + '.properties[' + JSON.stringify(name) + '].value', depth + 1);
	}
	if (s.items !== undefined)
		checkSchema(s.items, where + '.items', depth + 1);
	if (s.anyOf !== undefined) {
		if (!Array.isArray(s.anyOf))
			throw invalid('Invalid value at \'' + where + '.any_of\'');
		s.anyOf.forEach((sub, i) => checkSchema(sub, where + '.any_of[' + i + ']', depth + 1));
	}
	if (s.enum !== undefined && (!Array.isArray(s.enum) ||
	    s.enum.some((v) => typeof v !== 'string')))
		throw invalid('Invalid value at \'' + where + '.enum\' (TYPE_STRING)');
	if (s.required !== undefined && s.properties !== undefined) {
		for (const r of s.required) {
			if (!(r in s.properties))
				throw invalid('* ' + where + '.required[' + JSON.stringify(r) +
				    ']: property is not defined');
		}
	}
}

/* The signature the mock gives a function call (has + and / in it). */
function signatureFor(name) {
	const h = crypto.createHash('sha256').update('mock-sig:' + name).digest();
	return Buffer.concat([h.subarray(0, 10), Buffer.from([0xfb, 0xef, 0xff, 0x3e])]).toString('base64');
}

/* Check one part of a Content. */
function checkPart(p, where, role) {
	if (!isObject(p))
		throw invalid('Invalid value at \'' + where + '\'');
	checkKeys(p, PART_KEYS, where);
	const data = PART_DATA.filter((k) => p[k] !== undefined);
	if (data.length !== 1)
		throw invalid('* ' + where + ': a part must hold exactly one kind of data');
	if (p.text !== undefined && (typeof p.text !== 'string' || p.text === ''))
		throw invalid('Unable to submit request because it has an empty text parameter.');
	if (p.inlineData !== undefined) {
		checkKeys(p.inlineData, ['mimeType', 'data'], where + '.inline_data');
		if (typeof p.inlineData.mimeType !== 'string' || !/^[A-Za-z0-9+/=]+$/.test(p.inlineData.data || ''))
			throw invalid('* ' + where + '.inline_data: bad mime type or base64 data');
	}
	if (p.fileData !== undefined) {
		checkKeys(p.fileData, ['mimeType', 'fileUri'], where + '.file_data');
		if (typeof p.fileData.mimeType !== 'string' || typeof p.fileData.fileUri !== 'string')
			throw invalid('* ' + where + '.file_data: mimeType and fileUri are required');
	}
	if (p.functionCall !== undefined) {
		checkKeys(p.functionCall, ['name', 'args', 'id'], where + '.function_call');
		if (role !== 'model')
			throw invalid('* ' + where + ': function calls belong to model turns');
		if (typeof p.functionCall.name !== 'string' ||
		    (p.functionCall.args !== undefined && !isObject(p.functionCall.args)))
			throw invalid('* ' + where + '.function_call: bad name or args');
		if (p.thoughtSignature !== undefined &&
		    p.thoughtSignature !== signatureFor(p.functionCall.name))
			throw invalid('Corrupted thought signature.');
	}
	if (p.functionResponse !== undefined) {
		checkKeys(p.functionResponse, ['name', 'response', 'id'], where + '.function_response');
		if (role !== 'user' || typeof p.functionResponse.name !== 'string' ||
		    !isObject(p.functionResponse.response))
			throw invalid('* ' + where + '.function_response: the response must be an object ' +
			    'in a user turn');
	}
}

/* Check a GenerateContentRequest like the real API's parser does. */
function checkRequest(body, sw) {
	checkKeys(body, REQUEST_KEYS, '');
	if (!Array.isArray(body.contents) || body.contents.length === 0)
		throw invalid('* GenerateContentRequest.contents: contents is not specified');
	body.contents.forEach((c, i) => {
		const where = 'contents[' + i + ']';
		if (!isObject(c))
			throw invalid('Invalid value at \'' + where + '\'');
		checkKeys(c, ['role', 'parts'], where);
		if (c.role !== 'user' && c.role !== 'model')
			throw invalid('Please use a valid role: user, model.');
		if (!Array.isArray(c.parts) || c.parts.length === 0)
			throw invalid('* GenerateContentRequest.' + where + '.parts: contents.parts must not be empty.');
		c.parts.forEach((p, k) => checkPart(p, where + '.parts[' + k + ']', c.role));
		/* A call turn must be answered by the very next turn, one response per call. */
		const calls = c.parts.filter((p) => p.functionCall).length;
		if (calls > 0 && i + 1 < body.contents.length) {
			const next = body.contents[i + 1];
			const resp = next.parts.filter((p) => p.functionResponse).length;
			if (resp !== calls)
				throw invalid('Please ensure that the number of function response parts is ' +
				    'equal to the number of function call parts of the function call turn.');
		}
		if (sw.opts.require_signature && c.role === 'model') {
			for (const p of c.parts) {
				if (p.functionCall && p.thoughtSignature === undefined)
					throw invalid('Function call is missing a thought_signature in ' +
					    'functionCall parts. This is required for tools to work correctly.');
			}
		}
	});
	if (body.systemInstruction !== undefined) {
		if (!isObject(body.systemInstruction))
			throw invalid('Invalid value at \'system_instruction\'');
		checkKeys(body.systemInstruction, ['role', 'parts'], 'system_instruction');
		(body.systemInstruction.parts || []).forEach((p, k) =>
		    checkPart(p, 'system_instruction.parts[' + k + ']', 'user'));
	}
	if (body.tools !== undefined) {
		if (!Array.isArray(body.tools))
			throw invalid('Invalid value at \'tools\'');
		body.tools.forEach((t, i) => {
			checkKeys(t, ['functionDeclarations'], 'tools[' + i + ']');
			(t.functionDeclarations || []).forEach((d, k) => {
				const where = 'tools[' + i + '].function_declarations[' + k + ']';
				checkKeys(d, ['name', 'description', 'parameters', 'parametersJsonSchema'], where);
				if (typeof d.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/.test(d.name))
					throw invalid('* ' + where + '.name: Invalid function name.');
				if (d.parameters !== undefined) {
					checkSchema(d.parameters, where + '.parameters', 0);
					if (d.parameters.type === 'object' && isObject(d.parameters.properties) &&
					    Object.keys(d.parameters.properties).length === 0)
						throw invalid('* ' + where + '.parameters.properties: should be ' +
						    'non-empty for OBJECT type');
				}
			});
		});
	}
	if (body.toolConfig !== undefined) {
		checkKeys(body.toolConfig, ['functionCallingConfig'], 'tool_config');
		const fc = body.toolConfig.functionCallingConfig || {};
		checkKeys(fc, ['mode', 'allowedFunctionNames'], 'tool_config.function_calling_config');
		if (!['AUTO', 'ANY', 'NONE', 'VALIDATED'].includes(fc.mode))
			throw invalid('Invalid value at \'tool_config.function_calling_config.mode\'');
		if (fc.allowedFunctionNames !== undefined && fc.mode !== 'ANY')
			throw invalid('allowed_function_names is only allowed when mode is ANY.');
	}
	const g = body.generationConfig;
	if (g !== undefined) {
		checkKeys(g, GEN_KEYS, 'generation_config');
		if (g.stopSequences !== undefined && (!Array.isArray(g.stopSequences) ||
		    g.stopSequences.length > 5))
			throw invalid('* GenerateContentRequest.generation_config.stop_sequences: ' +
			    'the number of stop sequences must be at most 5');
		if (g.responseSchema !== undefined)
			checkSchema(g.responseSchema, 'generation_config.response_schema', 0);
		if (g.candidateCount !== undefined && !(Number.isInteger(g.candidateCount) &&
		    g.candidateCount >= 1 && g.candidateCount <= 8))
			throw invalid('* GenerateContentRequest.generation_config.candidate_count: ' +
			    'must be between 1 and 8');
	}
}

/* The text parts of a Content, joined. */
function contentText(c) {
	return (c && Array.isArray(c.parts) ? c.parts : []).filter((p) =>
	    typeof p.text === 'string').map((p) => p.text).join(' ');
}

/* The text of the last user turn that has text (switches live there). */
function lastUserText(body) {
	const cs = body.contents;
	for (let i = cs.length - 1; i >= 0; i--) {
		if (cs[i].role === 'user' && contentText(cs[i]) !== '')
			return contentText(cs[i]);
	}
	return '';
}

/* Words of every text the model is given. */
function promptTokens(lib, body) {
	let n = lib.countTokens(contentText(body.systemInstruction));
	for (const c of body.contents)
		n += lib.countTokens(contentText(c));
	return n;
}

/* Gemini types may be upper case; sampleFromSchema wants JSON Schema's. */
function lowerTypes(s) {
	if (!isObject(s))
		return s;
	const o = Object.assign({}, s);
	if (typeof o.type === 'string')
		o.type = o.type.toLowerCase();
	if (isObject(o.properties)) {
		o.properties = Object.fromEntries(Object.entries(o.properties).map(([k, v]) =>
		    [k, lowerTypes(v)]));
	}
	if (o.items)
		o.items = lowerTypes(o.items);
	return o;
}

/*
 * Decide the answer: {kind: 'text', text} or {kind: 'tool', calls: [...]}.
 * After a functionResponse the mock answers in text, echoing the results.
 */
function decideAnswer(lib, body, sw) {
	const decls = [];
	for (const t of body.tools || [])
		decls.push(...(t.functionDeclarations || []));
	const fc = (body.toolConfig && body.toolConfig.functionCallingConfig) || {};
	const responses = [];
	for (let i = body.contents.length - 1; i >= 0 && body.contents[i].role !== 'model'; i--)
		responses.unshift(...body.contents[i].parts.filter((p) => p.functionResponse)
		    .map((p) => p.functionResponse));
	const choice = { ANY: 'any', NONE: 'none', VALIDATED: 'auto' }[fc.mode] || 'auto';
	if (lib.toolDecision(decls.length > 0, choice, responses.length > 0, sw) !== 'none') {
		let decl = decls[0];
		if (Array.isArray(fc.allowedFunctionNames) && fc.allowedFunctionNames.length)
			decl = decls.find((d) => d.name === fc.allowedFunctionNames[0]) || decl;
		const n = Math.max(1, lib.intSwitch(sw.opts, 'tool', 1));
		const calls = [];
		for (let i = 0; i < n; i++) {
			const props = decl.parameters && decl.parameters.properties;
			const args = props && Object.keys(props).length ?
			    lib.sampleFromSchema(lowerTypes(decl.parameters), 0) : { input: sw.text };
			if (n > 1)
				args.call = i;
			calls.push({ name: decl.name, args });
		}
		return { kind: 'tool', calls };
	}
	let text = 'Echo: ' + sw.text;
	if (responses.length)
		text += ' | tool results: ' + JSON.stringify(responses.map((r) =>
		    ({ name: r.name, response: r.response, id: r.id })));
	const g = body.generationConfig || {};
	if (g.responseMimeType === 'application/json') {
		let obj = g.responseSchema ? lib.sampleFromSchema(lowerTypes(g.responseSchema), 0) : null;
		if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
			obj = { answer: text };
		text = JSON.stringify(obj);
	}
	return { kind: 'text', text };
}

/* usageMetadata of a finished answer. */
function usageFor(lib, body, sw, answer) {
	const prompt = promptTokens(lib, body);
	const cand = answer.kind === 'tool' ?
	    answer.calls.reduce((n, c) => n + lib.countTokens(JSON.stringify(c.args)
	    .replace(/[{}":,]/g, ' ')) + 1, 0) : lib.countTokens(answer.text);
	const thoughts = lib.intSwitch(sw.opts, 'thoughts', 0);
	const cached = Math.min(prompt, lib.intSwitch(sw.opts, 'cached', 0));
	const u = { promptTokenCount: prompt, candidatesTokenCount: cand,
	    totalTokenCount: prompt + cand + thoughts };
	if (thoughts > 0)
		u.thoughtsTokenCount = thoughts;
	if (cached > 0)
		u.cachedContentTokenCount = cached;
	u.promptTokensDetails = [{ modality: 'TEXT', tokenCount: prompt }];
	return u;
}

/* The parts of an answer (function calls carry a thought signature). */
function answerParts(answer) {
	if (answer.kind === 'tool') {
		return answer.calls.map((c) => ({ functionCall: { name: c.name, args: c.args },
		    thoughtSignature: signatureFor(c.name) }));
	}
	return [{ text: answer.text }];
}

/* Send a google.rpc.Status error. */
function sendError(lib, res, e) {
	const err = { code: e.code, message: e.message, status: e.status };
	if (e.details)
		err.details = e.details;
	lib.sendJson(res, e.code, { error: err });
}

/* The error a [[mock:status=N]] switch asks for. */
function statusError(status, model) {
	const table = {
		400: ['INVALID_ARGUMENT', 'mock-source: invalid argument (status 400 requested)'],
		401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials.'],
		403: ['PERMISSION_DENIED', 'Permission denied: Consumer \'api_key:mock-key-123\' has been suspended.'],
		404: ['NOT_FOUND', 'models/' + model + ' is not found for API version v1beta, or is not ' +
		    'supported for generateContent.'],
		429: ['RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan ' +
		    'and billing details.'],
		500: ['INTERNAL', 'An internal error has occurred. Please retry or report in ' +
		    'https://developers.generativeai.google/guide/troubleshooting'],
		503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
		504: ['DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'],
	};
	const t = table[status] || [status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT',
	    'mock-source: status ' + status + ' requested'];
	const details = status === 429 ? [
		{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{
		    quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
		    quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
		{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' }] : undefined;
	return new GeminiError(status, t[0], t[1], details);
}

module.exports.routes = function routes(lib) {
	/* One GenerateContentResponse. */
	function response(ctx, candidates, usage) {
		const r = { candidates, modelVersion: ctx.model + '-001', responseId: ctx.id };
		if (usage)
			r.usageMetadata = usage;
		return r;
	}

	/* Answer without streaming. */
	function complete(res, ctx, body, sw, answer) {
		const n = (body.generationConfig && body.generationConfig.candidateCount) || 1;
		const finish = typeof sw.opts.finish === 'string' ? sw.opts.finish : 'STOP';
		const cands = [];
		for (let i = 0; i < n; i++) {
			cands.push({ content: { role: 'model', parts: answerParts(answer) },
			    finishReason: sw.opts.no_finish ? undefined : finish, index: i,
			    safetyRatings: [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' }] });
		}
		const text = JSON.stringify(response(ctx, cands, usageFor(lib, body, sw, answer)));
		res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8',
		    'content-length': Buffer.byteLength(text) });
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

	/* The chunks of a streamed answer: usage on every one, complete on the last. */
	function chunks(ctx, body, sw, answer) {
		const n = (body.generationConfig && body.generationConfig.candidateCount) || 1;
		const finish = typeof sw.opts.finish === 'string' ? sw.opts.finish : 'STOP';
		const usage = usageFor(lib, body, sw, answer);
		const partial = { promptTokenCount: usage.promptTokenCount,
		    totalTokenCount: usage.promptTokenCount };
		const pieces = [];
		if (answer.kind === 'tool') {
			for (const p of answerParts(answer))
				pieces.push([p]);
		} else {
			const k = Math.max(1, Math.min(lib.intSwitch(sw.opts, 'chunks', 4),
			    answer.text.length));
			for (const t of lib.splitEven(answer.text, k))
				pieces.push([{ text: t }]);
		}
		const out = [];
		pieces.forEach((parts, i) => {
			const last = i === pieces.length - 1 && !sw.opts.finish_alone;
			const cands = [];
			for (let c = 0; c < n; c++) {
				const cand = { content: { role: 'model', parts }, index: c };
				if (last && !sw.opts.no_finish)
					cand.finishReason = finish;
				cands.push(cand);
			}
			out.push(response(ctx, cands, last ? usage : partial));
		});
		if (sw.opts.finish_alone) {
			const cands = [];
			for (let c = 0; c < n; c++)
				cands.push({ finishReason: finish, index: c });
			out.push(response(ctx, cands, usage));
		}
		return out;
	}

	/* Stream as SSE (alt=sse), honouring the stream switches. */
	async function stream(res, ctx, body, sw, answer) {
		const events = chunks(ctx, body, sw, answer);
		const nl = sw.opts.crlf ? '\r\n' : '\n';
		const chunkDelay = lib.intSwitch(sw.opts, 'chunk_delay', 0);
		const hangAfter = lib.intSwitch(sw.opts, 'hang_after', -1);
		const breakAfter = lib.intSwitch(sw.opts, 'break_after', -1);
		res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache',
		    'x-content-type-options': 'nosniff' });
		if (res.socket)
			res.socket.setNoDelay(true);
		res.flushHeaders();
		lib.state.active_streams++;
		if (lib.state.active_streams > lib.state.max_active_streams)
			lib.state.max_active_streams = lib.state.active_streams;
		let counted = true;
		const uncount = () => {
			if (counted) {
				counted = false;
				lib.state.active_streams--;
			}
		};
		res.on('close', uncount);
		/* Several tiny writes per event with the split switch. */
		const send = async (text) => {
			if (!sw.opts.split)
				return lib.write(res, text);
			const cuts = [2, 7, Math.floor(text.length / 2), text.length - 1];
			let pos = 0;
			for (const cut of cuts) {
				if (cut <= pos || cut >= text.length)
					continue;
				if (!(await lib.write(res, text.slice(pos, cut))))
					return false;
				pos = cut;
				await lib.sleep(3);
			}
			return lib.write(res, text.slice(pos));
		};
		let sent = 0;
		for (const ev of events) {
			if (sent > 0 && chunkDelay > 0)
				await lib.sleep(chunkDelay);
			if (lib.gone(res))
				return;
			if (sent === hangAfter) {
				lib.state.hanging++;
				return;
			}
			if (sent === breakAfter) {
				res.socket.destroy();
				return;
			}
			if (sw.opts.keepalive && !(await send(':' + nl + nl)))
				return;
			if (!(await send('data: ' + JSON.stringify(ev) + nl + nl)))
				return;
			sent++;
			if (sw.opts.error_event && sent === 1) {
				await send('data: ' + JSON.stringify({ error: { code: 500, message:
				    'mock-source: the model failed in the middle of the answer',
				    status: 'INTERNAL' } }) + nl + nl);
				uncount();
				res.end();
				return;
			}
		}
		/* No end marker: the stream ends when the connection closes cleanly. */
		lib.state.streams_completed++;
		uncount();
		res.end();
	}

	/* POST .../models/{model}:generateContent and :streamGenerateContent */
	async function generate(req, res, ctx, body, streaming, alt) {
		const sw = lib.parseSwitches(lastUserText(body));
		checkRequest(body, sw);
		const delay = lib.intSwitch(sw.opts, 'delay', 0);
		if (delay > 0)
			await lib.sleep(delay);
		if (sw.opts.hang) {
			lib.state.hanging++;
			return;
		}
		const status = lib.intSwitch(sw.opts, 'status', 0);
		if (status >= 400)
			throw statusError(status, ctx.model);
		if (sw.opts.bad_key) {
			throw new GeminiError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a ' +
			    'valid API key.', [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
			    reason: 'API_KEY_INVALID', domain: 'googleapis.com' }]);
		}
		if (sw.opts.block) {
			const p = promptTokens(lib, body);
			lib.sendJson(res, 200, { promptFeedback: { blockReason: 'SAFETY',
			    safetyRatings: [] }, usageMetadata: { promptTokenCount: p, totalTokenCount: p },
			    modelVersion: ctx.model + '-001', responseId: ctx.id });
			return;
		}
		const answer = decideAnswer(lib, body, sw);
		if (!streaming)
			complete(res, ctx, body, sw, answer);
		else if (alt === 'sse')
			await stream(res, ctx, body, sw, answer);
		else		/* the real API's answer without alt=sse: one JSON array */
			lib.sendJson(res, 200, chunks(ctx, body, sw, answer));
	}

	/* Deterministic embedding values of a text. */
	function embedValues(text, dims) {
		const vals = [];
		let block = Buffer.alloc(0);
		for (let i = 0; vals.length < dims; i++) {
			if (block.length < 4)
				block = crypto.createHash('sha256').update(text + ':' + i).digest();
			const u = block.readUInt32LE(0);
			block = block.subarray(4);
			vals.push(Number(((u / 4294967296) * 2 - 1).toFixed(6)));
		}
		return vals;
	}

	/* One EmbedContentRequest's values, checked. */
	function embedOne(r, where, model) {
		if (!isObject(r))
			throw invalid('Invalid value at \'' + where + '\'');
		checkKeys(r, EMBED_KEYS, where);
		if (r.model !== undefined && r.model !== 'models/' + model)
			throw invalid('* BatchEmbedContentsRequest.' + where + '.model: ' +
			    'Model names should start with `models/` and match the parent, got ' + r.model);
		const text = contentText(r.content);
		if (!isObject(r.content) || text === '')
			throw invalid('* ' + where + '.content: must have non-empty text parts');
		const sw = lib.parseSwitches(text);
		const status = lib.intSwitch(sw.opts, 'status', 0);
		if (status >= 400)
			throw statusError(status, model);
		const dims = r.outputDimensionality === undefined ? MOCK_EMBED_DIMS : r.outputDimensionality;
		if (!Number.isInteger(dims) || dims < 1 || dims > 3072)
			throw invalid('* ' + where + '.output_dimensionality: must be between 1 and 3072');
		return { values: embedValues(text, dims) };
	}

	/* The Gemini route: authentication, then the method. */
	async function handler(req, res, raw) {
		const url = new URL(req.url, 'http://mock');
		const m = /^\/v1beta\/models\/([^/:]+):([A-Za-z]+)$/.exec(url.pathname);
		const text = raw.toString('utf8');
		let body = null;
		try {
			body = JSON.parse(text);
		} catch (e) {
			body = null;
		}
		const entry = lib.logRequest(req, text, body);
		const key = req.headers['x-goog-api-key'] || '';
		if (entry.headers['x-goog-api-key'] !== undefined)
			entry.headers['x-goog-api-key'] = lib.maskKey(key);
		entry.gemini = { model: m ? decodeURIComponent(m[1]) : null, method: m ? m[2] : null,
		    alt: url.searchParams.get('alt'), keyInUrl: url.searchParams.has('key') };
		const ctx = { model: entry.gemini.model, id: 'mock-resp-' + String(lib.state.seq) };
		try {
			if (url.searchParams.has('key'))
				throw invalid('mock-source: API keys must travel in x-goog-api-key, not in the URL');
			if (!key.startsWith('mock-')) {
				throw new GeminiError(403, 'PERMISSION_DENIED', key === '' ?
				    'Method doesn\'t allow unregistered callers (callers without established ' +
				    'identity). Please use API Key or other form of API consumer identity to ' +
				    'call this API.' : 'The caller does not have permission');
			}
			if (!isObject(body))
				throw invalid('Invalid JSON payload received. Unexpected token.');
			switch (entry.gemini.method) {
			case 'generateContent':
				await generate(req, res, ctx, body, false, null);
				break;
			case 'streamGenerateContent':
				await generate(req, res, ctx, body, true, entry.gemini.alt);
				break;
			case 'batchEmbedContents':
				checkKeys(body, ['requests'], '');
				if (!Array.isArray(body.requests) || body.requests.length === 0 ||
				    body.requests.length > 100)
					throw invalid('* BatchEmbedContentsRequest.requests: 1 to 100 requests');
				lib.sendJson(res, 200, { embeddings: body.requests.map((r, i) =>
				    embedOne(r, 'requests[' + i + ']', ctx.model)) });
				break;
			case 'embedContent':
				lib.sendJson(res, 200, { embedding: embedOne(body, '', ctx.model) });
				break;
			default:
				throw new GeminiError(404, 'NOT_FOUND', 'Method not found.');
			}
		} catch (e) {
			if (!(e instanceof GeminiError))
				throw e;
			if (!res.headersSent)
				sendError(lib, res, e);
		}
	}

	return [{
		method: 'POST',
		prefix: '/v1beta/models/',
		match: (path) => /^\/v1beta\/models\/[^/:]+:[A-Za-z]+$/.test(path),
		handler,
	}];
};

module.exports.signatureFor = signatureFor;
