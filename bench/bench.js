#!/usr/bin/env node
/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The gateway's overhead, measured side by side in one run: the same
 * requests sent straight to the mock source and through nextmodeld,
 * interleaved in rounds so that a noisy shared machine slows both alike.
 * It prints ratios (gateway / direct), not absolute claims.
 *
 *   NM_BUILDDIR=_build node bench/bench.js [--requests N] [--concurrency C] [--rounds R]
 */
'use strict';
const http = require('http');
const path = require('path');
const h = require(path.join(__dirname, '..', 'test', 'integration', 'harness.js'));

function arg(name, def) {
	const i = process.argv.indexOf('--' + name);
	return i > 0 ? Number(process.argv[i + 1]) : def;
}
const REQUESTS = arg('requests', 400);
const CONC = arg('concurrency', 16);
const ROUNDS = arg('rounds', 4);

const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });

/* One POST; resolves with {ttfb, total} in ms. */
function one(url, headers, body) {
	return new Promise((resolve, reject) => {
		const t0 = process.hrtime.bigint();
		let ttfb = null;
		const req = http.request(url, { method: 'POST', agent, headers: Object.assign({
		    'content-type': 'application/json' }, headers) }, (res) => {
			res.on('data', () => {
				if (ttfb === null)
					ttfb = Number(process.hrtime.bigint() - t0) / 1e6;
			});
			res.on('end', () => {
				if (res.statusCode !== 200)
					return reject(new Error('status ' + res.statusCode));
				resolve({ ttfb, total: Number(process.hrtime.bigint() - t0) / 1e6 });
			});
		});
		req.on('error', reject);
		req.end(body);
	});
}

/* n requests at concurrency c; returns samples and wall time. */
async function batch(url, headers, body, n, c) {
	const samples = [];
	let next = 0;
	const t0 = Date.now();
	async function lane() {
		while (next < n) {
			next++;
			samples.push(await one(url, headers, body));
		}
	}
	await Promise.all(Array.from({ length: c }, lane));
	return { samples, wall: Date.now() - t0 };
}

function pct(xs, p) {
	const s = xs.slice().sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))];
}

async function main() {
	h.requireBuild();
	const e = await h.startEnv({ workers: 2 });
	try {
		const direct = e.mockUrl + '/v1/chat/completions';
		const via = e.url + '/v1/chat/completions';
		const dh = { authorization: 'Bearer ' + e.mockKey };
		const gh = e.auth();
		const cases = [
			['chat (non-stream)', { model: 'mock-gpt', messages: [{ role: 'user',
			    content: 'benchmark me please' }] }],
			['chat (stream)', { model: 'mock-gpt', stream: true, messages: [{ role:
			    'user', content: 'benchmark me please [[mock:chunks=20]]' }] }],
		];
		console.log(`bench: ${ROUNDS} rounds x ${REQUESTS} requests, concurrency ${CONC}, ` +
		    'direct = mock source, gateway = nextmodeld (2 workers) in front of it');
		for (const [name, body] of cases) {
			const acc = { d: [], g: [], dw: 0, gw: 0 };
			const dbody = JSON.stringify(Object.assign({}, body, { model: 'mock-gpt-upstream' }));
			const gbody = JSON.stringify(body);
			await batch(direct, dh, dbody, 50, CONC);	/* warm-up */
			await batch(via, gh, gbody, 50, CONC);
			for (let r = 0; r < ROUNDS; r++) {
				const order = r % 2 ? ['g', 'd'] : ['d', 'g'];
				for (const w of order) {
					const res = w === 'd' ? await batch(direct, dh, dbody, REQUESTS, CONC) :
					    await batch(via, gh, gbody, REQUESTS, CONC);
					acc[w].push(...res.samples);
					acc[w + 'w'] += res.wall;
				}
			}
			const n = ROUNDS * REQUESTS;
			const row = (label, f) => {
				const d = f(acc.d), g = f(acc.g);
				console.log(`  ${label.padEnd(22)} direct ${d.toFixed(2).padStart(8)}  ` +
				    `gateway ${g.toFixed(2).padStart(8)}  ratio ${(g / d).toFixed(2)}`);
			};
			console.log(name + ':');
			row('p50 latency ms', (s) => pct(s.map((x) => x.total), 50));
			row('p99 latency ms', (s) => pct(s.map((x) => x.total), 99));
			row('p50 first byte ms', (s) => pct(s.map((x) => x.ttfb), 50));
			const dr = n / (acc.dw / 1000), gr = n / (acc.gw / 1000);
			console.log(`  ${'throughput req/s'.padEnd(22)} direct ${dr.toFixed(0).padStart(8)}  ` +
			    `gateway ${gr.toFixed(0).padStart(8)}  ratio ${(gr / dr).toFixed(2)}`);
		}
	} finally {
		agent.destroy();
		await e.stop();
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
