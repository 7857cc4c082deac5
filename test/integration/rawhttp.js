/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Raw HTTP/1.1 over a socket, for tests that send what no HTTP client
 * library will: broken framing, slow or flooded headers, bodies the
 * gateway should never read.  Not a test itself.
 */
'use strict';

const net = require('node:net');

/*
 * Connect to port on 127.0.0.1 and collect what comes back.  Returns
 * {sock, done}: done resolves {text, closed, error, ms} when the server
 * closes (closed true) or after opts.timeout ms (default 10000; then the
 * socket is destroyed and closed is false).
 */
function connect(port, opts) {
	opts = opts || {};
	const t0 = Date.now();
	const sock = net.connect(port, '127.0.0.1');
	sock.setNoDelay(true);
	const chunks = [];
	const done = new Promise((resolve) => {
		let error = null;
		let settled = false;
		const finish = (closed) => {
			if (settled)
				return;
			settled = true;
			clearTimeout(timer);
			sock.destroy();
			resolve({ text: Buffer.concat(chunks).toString('latin1'), closed,
			    error, ms: Date.now() - t0 });
		};
		const timer = setTimeout(() => finish(false), opts.timeout || 10000);
		sock.on('data', (d) => {
			chunks.push(d);
			if (opts.onData)
				opts.onData(Buffer.concat(chunks).toString('latin1'));
		});
		sock.on('error', (e) => {
			error = e.code || String(e);
			finish(true);
		});
		sock.on('end', () => finish(true));
		sock.on('close', () => finish(true));
	});
	return { sock, done };
}

/* Send data (string or Buffer) at once and collect the answer. */
async function send(port, data, opts) {
	const c = connect(port, opts);
	c.sock.on('connect', () => c.sock.write(data));
	return c.done;
}

/* The status codes of the HTTP/1.x answers in text, in order. */
function statuses(text) {
	return [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}

/* The body of the first answer in text (after the blank line), or ''. */
function firstBody(text) {
	const i = text.indexOf('\r\n\r\n');
	return i < 0 ? '' : text.slice(i + 4);
}

module.exports = { connect, send, statuses, firstBody };
