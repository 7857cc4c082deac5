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
 *
 * Rows: chat and streams at C connections; then the fresh path at 64
 * connections with receipts off, with receipts on and nextmodel-ledger
 * draining them, and the same with 1 ms added each way between the
 * gateway and Redis (a delaying proxy, bench/redis-delay.js), and with a
 * project budget and key rate limits checked on every request; and
 * exact-cache hits at 64 connections, with and without that delay.  The
 * fresh rows send Cache-Control: no-store, so the cache stays out.
 */
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const h = require(path.join(__dirname, '..', 'test', 'integration', 'harness.js'));
const { startDelayProxy } = require(path.join(__dirname, 'redis-delay.js'));

function arg(name, def) {
	const i = process.argv.indexOf('--' + name);
	return i > 0 ? Number(process.argv[i + 1]) : def;
}
const REQUESTS = arg('requests', 400);
const CONC = arg('concurrency', 16);
const ROUNDS = arg('rounds', 4);

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

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

/*
 * One row set: the same body direct and through the gateway, interleaved
 * in rounds at concurrency c.  Returns the throughput ratio.
 */
async function compare(e, name, body, c, extra) {
	const direct = e.mockUrl + '/v1/chat/completions';
	const via = e.url + '/v1/chat/completions';
	const dh = { authorization: 'Bearer ' + e.mockKey };
	const gh = Object.assign(e.auth(), extra === undefined ? { 'cache-control': 'no-store' } :
	    extra);
	const acc = { d: [], g: [], dw: 0, gw: 0 };
	const dbody = JSON.stringify(Object.assign({}, body, { model: 'mock-gpt-upstream' }));
	const gbody = JSON.stringify(body);
	await batch(direct, dh, dbody, 50, c);	/* warm-up */
	await batch(via, gh, gbody, 50, c);
	for (let r = 0; r < ROUNDS; r++) {
		const order = r % 2 ? ['g', 'd'] : ['d', 'g'];
		for (const w of order) {
			const res = w === 'd' ? await batch(direct, dh, dbody, REQUESTS, c) :
			    await batch(via, gh, gbody, REQUESTS, c);
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
	console.log(name + ` (concurrency ${c}):`);
	row('p50 latency ms', (s) => pct(s.map((x) => x.total), 50));
	row('p99 latency ms', (s) => pct(s.map((x) => x.total), 99));
	row('p50 first byte ms', (s) => pct(s.map((x) => x.ttfb), 50));
	const dr = n / (acc.dw / 1000), gr = n / (acc.gw / 1000);
	console.log(`  ${'throughput req/s'.padEnd(22)} direct ${dr.toFixed(0).padStart(8)}  ` +
	    `gateway ${gr.toFixed(0).padStart(8)}  ratio ${(gr / dr).toFixed(2)}`);
	return { ratio: gr / dr, rps: gr };
}

/* nextmodel-ledger draining the receipts of e while it runs. */
function startLedger(e) {
	const log = fs.openSync(path.join(e.tmp, 'ledger.log'), 'a');
	const c = h.spawnTracked(path.join(h.BUILDDIR, 'nextmodel-ledger'), ['-c', e.cfgPath],
	    { env: e.gwEnv, stdio: ['ignore', log, log] });
	fs.closeSync(log);
	return c;
}

const CHAT = { model: 'mock-gpt', messages: [{ role: 'user', content: 'benchmark me please' }] };
const STREAM = { model: 'mock-gpt', stream: true, messages: [{ role: 'user',
    content: 'benchmark me please [[mock:chunks=20]]' }] };

async function main() {
	h.requireBuild();
	console.log(`bench: ${ROUNDS} rounds x ${REQUESTS} requests; direct = mock source, ` +
	    'gateway = nextmodeld (2 workers) in front of it');
	const ratios = {};
	let e = await h.startEnv({ workers: 2 });
	let ledger = startLedger(e);
	try {
		await compare(e, 'chat (non-stream), receipts + ledger', CHAT, CONC);
		await compare(e, 'chat (stream), receipts + ledger', STREAM, CONC);
		ratios.on = await compare(e, 'fresh path, receipts + ledger', CHAT, 64);
		/* The same with a budget and rate limits to check on every request. */
		const gkey = e.ctl(['key', 'create', '--project', 'bench-governed', '--rpm',
		    '10000000', '--tpm', '1000000000']).stdout.trim();
		const b = e.ctl(['budget', 'set', '--project', 'bench-governed', '--limit-usd',
		    '1000000', '--period', 'month']);
		if (b.code !== 0)
			throw new Error('budget set: ' + b.stderr);
		const saved = e.key;
		e.key = gkey;
		ratios.gov = await compare(e, 'fresh path, with a budget and rate limits', CHAT, 64);
		e.key = saved;
		ratios.hit = await compare(e, 'exact-cache hits, receipts + ledger', CHAT, 64, {});
		/* The same, with Redis 1 ms further away in each direction. */
		const proxy = await startDelayProxy(e.redisPort, 1);
		await e.stopGateway(15000);
		fs.writeFileSync(e.cfgPath, e.configText().replace(
		    'redis://127.0.0.1:' + e.redisPort + '/', 'redis://127.0.0.1:' + proxy.port + '/'));
		await e.startGateway();
		ratios.delay = await compare(e, 'fresh path, receipts + ledger, Redis +1 ms each way',
		    CHAT, 64);
		ratios.hitDelay = await compare(e, 'exact-cache hits, Redis +1 ms each way', CHAT, 64, {});
		await e.stopGateway(15000);
		console.log(`  (through the delaying proxy: ${proxy.stats.connections} Redis ` +
		    `connections, ${proxy.stats.bytes} bytes)`);
		proxy.close();
	} finally {
		await h.killChild(ledger, 5000);
		await e.stop();
	}
	e = await h.startEnv({ workers: 2, extraConfig: { receipts: false } });
	try {
		ratios.off = await compare(e, 'fresh path, receipts off', CHAT, 64);
	} finally {
		await e.stop();
	}
	console.log('summary (throughput at 64 connections):');
	console.log(`  fresh path, gateway / direct: receipts off ${ratios.off.ratio.toFixed(2)}, ` +
	    `receipts + ledger ${ratios.on.ratio.toFixed(2)}, with Redis +1 ms ` +
	    `${ratios.delay.ratio.toFixed(2)} (${(100 * ratios.delay.rps / ratios.on.rps).toFixed(0)}% ` +
	    'of the req/s without the delay)');
	console.log(`  fresh path with a budget and rate limits on the key: ` +
	    `${ratios.gov.ratio.toFixed(2)} of direct`);
	console.log(`  exact-cache hits / fresh path: ${(ratios.hit.rps / ratios.on.rps).toFixed(2)}x; ` +
	    `hits with Redis +1 ms keep ${(100 * ratios.hitDelay.rps / ratios.hit.rps).toFixed(0)}% ` +
	    'of the req/s without the delay');
	agent.destroy();
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
