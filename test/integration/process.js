/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The master process: READY=1 on $NOTIFY_SOCKET, SIGHUP reload with
 * streams in flight and a request loop running (nothing cut, nothing
 * refused), a bad config refused on reload, a killed worker respawned, and
 * SIGTERM draining a slow stream before a clean exit.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const child_process = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./harness.js');

h.requireBuild();

/* Listener for sd_notify datagrams (node has no unix datagram sockets). */
const NOTIFY_PY = [
	'import socket, sys',
	's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
	's.bind(sys.argv[1])',
	'print("bound", flush=True)',
	'while True:',
	'    d = s.recv(65536)',
	'    print(d.decode("utf-8", "replace").replace("\\n", "|"), flush=True)',
].join('\n');

/* Start the notify listener; resolves {lines, proc} or null when python3 is missing. */
async function startNotifyListener(sockPath) {
	const probe = child_process.spawnSync('python3', ['-c', 'import socket; socket.AF_UNIX'],
	    { encoding: 'utf8' });
	if (probe.error || probe.status !== 0)
		return null;
	const proc = h.spawnTracked('python3', ['-c', NOTIFY_PY, sockPath],
	    { stdio: ['ignore', 'pipe', 'inherit'] });
	const lines = [];
	let buf = '';
	proc.stdout.on('data', (d) => {
		buf += d.toString();
		let i;
		while ((i = buf.indexOf('\n')) >= 0) {
			lines.push(buf.slice(0, i));
			buf = buf.slice(i + 1);
		}
	});
	const ok = await h.waitFor(() => lines.includes('bound'), 5000, 20);
	return ok ? { lines, proc } : null;
}

/* Escape text for a RegExp. */
function reEscape(s) {
	return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/* Run requests in `parallel` loops until stop() is called; returns the results. */
function requestLoop(env, parallel) {
	let running = true;
	const results = { ok: 0, bad: [] };
	const loop = async (n) => {
		let i = 0;
		while (running) {
			const text = 'loop ' + n + ' ' + (i++);
			try {
				const r = await env.chat(h.chatBody(text), { timeout: 20000 });
				if (r.status === 200 && r.json && r.json.choices[0].message.content ===
				    'Echo: ' + text)
					results.ok++;
				else
					results.bad.push('status ' + r.status + ' ' + r.text.slice(0, 200));
			} catch (e) {
				results.bad.push('error ' + (e.code || e.message));
			}
		}
	};
	const loops = [];
	for (let n = 0; n < parallel; n++)
		loops.push(loop(n));
	return {
		results,
		stop: async () => {
			running = false;
			await Promise.all(loops);
			return results;
		},
	};
}

test('process', async (t) => {
	const nsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nm-notify-'));
	const sockPath = path.join(nsDir, 'notify.sock');
	const listener = await startNotifyListener(sockPath);
	const env = await h.startEnv({
		workers: 2,
		shutdown_timeout_ms: 20000,
		env: listener ? { NOTIFY_SOCKET: sockPath } : {},
	});
	try {
		await t.test('READY=1 on NOTIFY_SOCKET', async (tt) => {
			if (!listener) {
				tt.skip('no python3 with AF_UNIX to listen on a datagram socket');
				return;
			}
			const got = await h.waitFor(() => listener.lines.some((l) =>
			    l.split('|').includes('READY=1')), 5000, 50);
			assert.ok(got, 'no READY=1; received: ' + JSON.stringify(listener.lines));
		});

		await t.test('a bad config on reload is refused, old workers keep serving', async () => {
			const good = fs.readFileSync(env.cfgPath, 'utf8');
			const before = env.workers();
			assert.equal(before.length, 2);
			const logLen = env.log().length;
			const lines = good.split('\n');
			/* A YAML syntax error on line 4 (an unclosed flow sequence). */
			lines.splice(3, 0, 'threads: [2, 3');
			env.reload(lines.join('\n'));
			const re = new RegExp(reEscape(env.cfgPath) + ':\\d+');
			const seen = await h.waitFor(() => re.test(env.log().slice(logLen)), 5000, 100);
			fs.writeFileSync(env.cfgPath, good);
			assert.ok(seen, 'no "' + env.cfgPath + ':LINE" in the log after a bad reload:\n' +
			    env.log().slice(logLen));
			await h.sleep(1000);
			assert.deepEqual(env.workers(), before, 'workers changed after a refused reload');
			assert.equal(env.gateway.exitCode, null, 'the master exited');
			for (let i = 0; i < 6; i++) {
				const r = await env.chat(h.chatBody('after bad reload ' + i));
				assert.equal(r.status, 200, r.text);
			}
		});

		await t.test('kill -9 of a worker: respawned, requests keep succeeding', async () => {
			const before = env.workers();
			assert.equal(before.length, 2);
			const victim = before[0];
			process.kill(victim, 'SIGKILL');
			const dead = await h.waitFor(() => !h.alive(victim), 3000, 20);
			assert.ok(dead, 'the worker did not die');
			const t0 = Date.now();
			for (let i = 0; i < 20; i++) {
				const r = await env.chat(h.chatBody('after kill ' + i));
				assert.equal(r.status, 200, r.text);
			}
			const respawned = await h.waitFor(() => {
				const now = env.workers();
				return now.length === 2 && now.some((p) => !before.includes(p)) ? now : false;
			}, 5000, 50);
			assert.ok(respawned, 'no new worker within 5 s; workers: ' + env.workers());
			t.diagnostic('respawned ' + JSON.stringify(respawned) + ' ~' +
			    (Date.now() - t0) + ' ms after the kill');
			assert.ok(respawned.includes(before[1]), 'the other worker was replaced too');
			for (let i = 0; i < 10; i++) {
				const r = await env.chat(h.chatBody('after respawn ' + i));
				assert.equal(r.status, 200, r.text);
			}
		});

		await t.test('SIGHUP reload while 20 streams run: all complete', async () => {
			const old = env.workers();
			assert.equal(old.length, 2);
			let started = 0;
			const streams = [];
			for (let i = 0; i < 20; i++) {
				let first = true;
				streams.push(env.stream(h.chatBody('reload stream ' + i +
				    ' [[mock:chunk_delay=200]] [[mock:chunks=10]]', { stream: true }), {
				    timeout: 60000,
				    onEvent: () => {
					if (first) {
						first = false;
						started++;
					}
				    } }));
			}
			const allStarted = await h.waitFor(() => started === 20, 10000, 20);
			assert.ok(allStarted, 'only ' + started + ' streams started');
			assert.ok(env.reload(), 'SIGHUP failed');
			const res = await Promise.all(streams);
			res.forEach((s, i) => {
				assert.equal(s.status, 200);
				assert.equal(s.done, true, 'stream ' + i + ' cut by the reload: ' +
				    s.ended + ' ' + s.raw.slice(-200));
				assert.equal(s.error, null);
				assert.equal(h.streamText(s), 'Echo: reload stream ' + i);
			});
			const fresh = await h.waitFor(() => {
				const now = env.workers();
				return now.length === 2 && now.every((p) => !old.includes(p)) ? now : false;
			}, 20000, 100);
			assert.ok(fresh, 'the new generation did not replace the old one: ' +
			    JSON.stringify({ old, now: env.workers() }));
			const gone = await h.waitFor(() => old.every((p) => !h.alive(p)), 20000, 100);
			assert.ok(gone, 'old workers still alive: ' + old.filter(h.alive));
			const r = await env.chat(h.chatBody('after reload'));
			assert.equal(r.status, 200, r.text);
		});

		await t.test('no refused or reset connection during a reload', async () => {
			const old = env.workers();
			const loop = requestLoop(env, 4);
			await h.sleep(700);
			assert.ok(env.reload(), 'SIGHUP failed');
			const fresh = await h.waitFor(() => {
				const now = env.workers();
				return now.length === 2 && now.every((p) => !old.includes(p)) ? now : false;
			}, 20000, 50);
			await h.sleep(1000);
			const res = await loop.stop();
			t.diagnostic(res.ok + ' requests during the reload, ' + res.bad.length + ' failed');
			assert.ok(fresh, 'no new generation');
			assert.ok(res.ok > 20, 'too few requests went through: ' + res.ok);
			assert.deepEqual(res.bad, []);
		});

		await t.test('SIGTERM drains a slow stream, then the master exits 0', async () => {
			const workers = env.workers();
			let firstContent = null;
			const sp = env.stream(h.chatBody('draining [[mock:chunk_delay=300]] [[mock:chunks=8]]',
			    { stream: true }), { timeout: 60000, onEvent: (ev) => {
				if (firstContent === null && ev.json && ev.json.choices &&
				    ev.json.choices[0] && ev.json.choices[0].delta.content)
					firstContent = Date.now();
			} });
			const got = await h.waitFor(() => firstContent !== null, 10000, 10);
			assert.ok(got, 'the stream did not start');
			process.kill(env.gatewayPid, 'SIGTERM');
			let exitAt = null;
			const exitP = env.gateway.nmExit.then((r) => {
				exitAt = Date.now();
				return r;
			});
			const s = await sp;
			const streamEnd = Date.now();
			assert.equal(s.done, true, 'the stream was cut by SIGTERM: ' + s.ended + ' ' +
			    s.raw.slice(-200));
			assert.equal(h.streamText(s), 'Echo: draining');
			const ex = await Promise.race([exitP, h.sleep(25000).then(() => null)]);
			assert.ok(ex, 'the master did not exit within 25 s of SIGTERM');
			assert.deepEqual(ex, { code: 0, signal: null }, 'the master exit status');
			assert.ok(exitAt >= streamEnd - 500, 'the master exited before the stream ended');
			const left = await h.waitFor(() => workers.every((p) => !h.alive(p)), 5000, 50);
			assert.ok(left, 'workers outlived the master: ' + workers.filter(h.alive));
		});
	} finally {
		await env.stop();
		if (listener)
			await h.killChild(listener.proc, 1000);
		fs.rmSync(nsDir, { recursive: true, force: true });
	}
});
