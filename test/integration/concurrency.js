/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * 1,000 concurrent slow streams through one gateway: every one completes
 * with [DONE], the thread count of the master and each worker stays what it
 * was before the load, and the memory of all of them together stays under
 * 256 MB.  The measured numbers are printed.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const child_process = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const h = require('./harness.js');

h.requireBuild();

const N = Number(process.env.NM_CONCURRENCY || 1000);
/*
 * AddressSanitizer's shadow memory and quarantine multiply a process's
 * RSS; the 256 MB promise is for the plain build, the sanitizer build gets
 * twice that so it still catches a leak that grows with the request count.
 */
const SANITIZED = process.env.NM_SANITIZERS === 'yes';
const RSS_LIMIT_KB = (SANITIZED ? 512 : 256) * 1024;

/* The soft limit on open files of this process. */
function nofile() {
	const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
	return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/* Raise our open-file limit with prlimit(1) if it is too low for N sockets. */
function raiseFdLimit() {
	const need = N * 2 + 512;
	if (nofile() >= need)
		return;
	child_process.spawnSync('prlimit', ['--pid', String(process.pid),
	    '--nofile=' + need * 2 + ':' + need * 2], { stdio: 'ignore' });
	if (nofile() < need)
		h.skip('open-file limit ' + nofile() + ' is below ' + need + ' and prlimit could not raise it');
}

/* Threads and VmRSS (kB) of each pid. */
function sample(pids) {
	const out = {};
	for (const pid of pids)
		out[pid] = { threads: h.procStatus(pid, 'Threads'), rss: h.procStatus(pid, 'VmRSS') };
	return out;
}

test('concurrency', async (t) => {
	raiseFdLimit();
	const env = await h.startEnv({ workers: 2, threads: 2 });
	const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
	try {
		await t.test(N + ' concurrent streams, flat threads, bounded memory', async () => {
			/* Warm up: every worker serves a few plain and streamed requests. */
			for (let i = 0; i < 10; i++) {
				assert.equal((await env.chat(h.chatBody('warm ' + i))).status, 200);
				const s = await env.stream(h.chatBody('warm s ' + i, { stream: true }));
				assert.equal(s.done, true);
			}
			await env.mockStatsReset();
			const pids = [env.gatewayPid].concat(env.workers());
			assert.equal(pids.length, 3, 'expected a master and 2 workers: ' + pids);
			const before = sample(pids);

			let inflight = 0;
			let maxInflight = 0;
			let firstSeen = 0;
			const samples = [];
			const takeSample = () => {
				const s = sample(pids);
				let rss = 0;
				for (const p of pids)
					rss += s[p].rss || 0;
				samples.push({ at: Date.now(), inflight: firstSeen - (N - inflight), firstSeen,
				    rss, per: s });
			};
			const sampler = setInterval(takeSample, 100);
			const t0 = Date.now();
			const streams = [];
			for (let i = 0; i < N; i++) {
				let first = true;
				inflight++;
				if (inflight > maxInflight)
					maxInflight = inflight;
				streams.push(env.stream(h.chatBody('c ' + i +
				    ' [[mock:chunk_delay=200]] [[mock:chunks=20]]', { stream: true }), {
				    agent, timeout: 120000,
				    onEvent: () => {
					if (first) {
						first = false;
						firstSeen++;
						if (firstSeen === N)
							takeSample();
					}
				    } }).then((s) => {
					inflight--;
					return s;
				}, (e) => {
					inflight--;
					return { status: 0, error: e, done: false, events: [], raw: '' };
				}));
			}
			const res = await Promise.all(streams);
			clearInterval(sampler);
			const elapsed = Date.now() - t0;
			const stats = await env.mockStats();

			const failed = [];
			res.forEach((s, i) => {
				if (s.status !== 200 || !s.done || h.streamText(s) !== 'Echo: c ' + i)
					failed.push(i + ': ' + (s.status || (s.error && s.error.code)) + ' done=' +
					    s.done + ' ' + (s.ended || ''));
			});
			const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a), samples[0] ||
			    { rss: 0, per: {} });
			/* inflight in a sample: streams that got their first event and have not ended. */
			const busiest = samples.reduce((a, b) => (b.inflight >= a.inflight ? b : a),
			    samples[0] || { inflight: 0 });
			const threadChanges = [];
			for (const s of samples) {
				for (const p of pids) {
					if (s.per[p].threads !== null && s.per[p].threads !== before[p].threads)
						threadChanges.push(p + ': ' + before[p].threads + ' -> ' +
						    s.per[p].threads + ' (inflight ' + s.inflight + ')');
				}
			}
			const report = [
				N + ' streams in ' + elapsed + ' ms; completed ok: ' + (N - failed.length),
				'source side: max concurrent streams ' + stats.max_active_streams +
				    ', max open connections ' + stats.max_open_connections,
				'client side: ' + maxInflight + ' requests sent at once; at the busiest sample ' +
				    busiest.inflight + ' streams were receiving',
				'threads before: ' + pids.map((p) => p + '=' + before[p].threads).join(' '),
				'threads at busiest: ' + pids.map((p) => p + '=' +
				    (busiest.per ? busiest.per[p].threads : '?')).join(' '),
				'VmRSS before (kB): ' + pids.map((p) => p + '=' + before[p].rss).join(' '),
				'VmRSS total at peak: ' + Math.round(peak.rss / 1024) + ' MB (' +
				    pids.map((p) => p + '=' + (peak.per[p] ? peak.per[p].rss : '?')).join(' ') +
				    ' kB) with ' + peak.inflight + ' in flight',
				'samples taken: ' + samples.length,
			];
			for (const line of report)
				t.diagnostic(line);
			assert.deepEqual(failed.slice(0, 20), [], failed.length + ' streams failed');
			assert.ok(stats.max_active_streams >= Math.floor(N * 0.9),
			    'the source never saw ' + Math.floor(N * 0.9) + ' concurrent streams (max ' +
			    stats.max_active_streams + '): the gateway did not run them concurrently');
			assert.deepEqual(threadChanges.slice(0, 20), [], 'thread counts changed under load');
			assert.ok(peak.rss < RSS_LIMIT_KB, 'total VmRSS ' + peak.rss + ' kB >= ' + RSS_LIMIT_KB / 1024 + ' MB');
			assert.ok(samples.length >= 5, 'too few samples');
		});

		await t.test('still serving after the load', async () => {
			const r = await env.chat(h.chatBody('after load'));
			assert.equal(r.status, 200, r.text);
		});
	} finally {
		agent.destroy();
		await env.stop();
	}
});
