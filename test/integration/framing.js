/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Request framing that a load balancer in front may read differently
 * (issue 11, item 9; RFC 9112): two different Content-Length values,
 * Content-Length with Transfer-Encoding, a Transfer-Encoding other than
 * chunked, bare LF line ends and whitespace before a header's colon are
 * answered 400 and the connection closed, so nothing after them is taken
 * as a second request.  Well-framed requests on the same gateway pass.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const raw = require('./rawhttp.js');

h.requireBuild();

/* A smuggled second request: if it is answered, framing was lost. */
const SMUGGLED = 'GET /v1/nowhere-smuggled HTTP/1.1\r\nHost: gw\r\n\r\n';

function cases(key) {
	const auth = 'Authorization: Bearer ' + key + '\r\n';
	const quote = '{"model":"mock-gpt","messages":[{"role":"user","content":"hi"}]}';
	return [
		{ what: 'two Content-Length values', status: 400, text:
		    'POST /v1/quotes HTTP/1.1\r\nHost: gw\r\n' + auth +
		    'Content-Length: ' + quote.length + '\r\nContent-Length: ' + (quote.length + SMUGGLED.length) +
		    '\r\n\r\n' + quote + SMUGGLED, why: /Content-Length given twice/ },
		{ what: 'Content-Length and chunked', status: 400, text:
		    'POST /v1/quotes HTTP/1.1\r\nHost: gw\r\n' + auth + 'Content-Length: 5\r\n' +
		    'Transfer-Encoding: chunked\r\n\r\n' + quote.length.toString(16) + '\r\n' + quote +
		    '\r\n0\r\n\r\n' + SMUGGLED, why: /both Content-Length and Transfer-Encoding/ },
		{ what: 'Transfer-Encoding gzip', status: 400, text:
		    'POST /v1/quotes HTTP/1.1\r\nHost: gw\r\n' + auth + 'Transfer-Encoding: gzip, chunked\r\n\r\n' +
		    '0\r\n\r\n' + SMUGGLED, why: /other than chunked/ },
		{ what: 'Content-Length not a number', status: 400, text:
		    'POST /v1/quotes HTTP/1.1\r\nHost: gw\r\n' + auth + 'Content-Length: +5\r\n\r\n{}   ' + SMUGGLED },
		{ what: 'bare LF everywhere', status: 400, text:
		    'GET /healthz HTTP/1.1\nHost: gw\nX-A: b\n\n' + SMUGGLED, why: /LF alone/ },
		{ what: 'bare LF after the request line', status: 400, text:
		    'GET /healthz HTTP/1.1\nHost: gw\r\n\r\n' + SMUGGLED, why: /LF alone/ },
		{ what: 'bare LF inside the head', status: 400, text:
		    'GET /healthz HTTP/1.1\r\nHost: gw\nX-A: b\r\n\r\n' + SMUGGLED, why: /LF alone/ },
		{ what: 'space before the colon', status: 400, text:
		    'GET /healthz HTTP/1.1\r\nHost : gw\r\n\r\n' + SMUGGLED },
		/* Well framed: answered and kept open for the next request. */
		{ what: 'one Content-Length', status: 200, keep: true, text:
		    'POST /v1/quotes HTTP/1.1\r\nHost: gw\r\n' + auth + 'Content-Type: application/json\r\n' +
		    'Content-Length: ' + quote.length + '\r\n\r\n' + quote },
		{ what: 'chunked', status: 200, keep: true, text:
		    'POST /v1/quotes HTTP/1.1\r\nHost: gw\r\n' + auth + 'Content-Type: application/json\r\n' +
		    'Transfer-Encoding: chunked\r\n\r\n' + quote.length.toString(16) + '\r\n' + quote + '\r\n0\r\n\r\n' },
		{ what: 'trailing spaces in values', status: 200, keep: true, text:
		    'GET /healthz HTTP/1.1\r\nHost: gw  \r\nX-A: b \t\r\nX-E:\r\n\r\n' },
	];
}

test('ambiguous framing is refused and the connection closed', async (t) => {
	const env = await h.startEnv({ workers: 1 });
	t.after(() => env.stop());
	const before = env.workers();
	for (const c of cases(env.key)) {
		const r = await raw.send(env.port, c.text, { timeout: c.keep ? 1000 : 3000 });
		const st = raw.statuses(r.text);
		assert.equal(st[0], c.status, c.what + ': ' + r.text.slice(0, 400));
		if (c.keep) {
			assert.equal(r.closed, false, c.what + ': closed');
			continue;
		}
		assert.ok(r.closed, c.what + ': connection left open');
		assert.ok(!r.text.includes('nowhere-smuggled') && !st.includes(404),
		    c.what + ': the smuggled request was answered: ' + r.text);
		if (c.why) {
			const err = JSON.parse(raw.firstBody(r.text)).error;
			assert.equal(err.type, 'invalid_request_error', c.what);
			assert.match(err.message, c.why, c.what);
		}
	}
	assert.deepEqual(env.workers(), before, 'a worker was replaced');
	assert.doesNotMatch(env.log(), /nowhere-smuggled/);
});
