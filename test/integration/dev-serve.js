/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * contrib/dev/serve, the part of contrib/dev/run that starts things (run
 * sets up, builds, then execs it): it starts Redis, the stand-in and the
 * gateway, answers a chat (a tool call when tools are offered), prints a
 * nextmodelctl line that works as pasted, and SIGTERM or SIGINT to the
 * script alone stops every process it started.
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

const SCRIPT = path.join(h.SRCDIR, 'contrib', 'dev', 'serve');

/* Every live descendant of pid (children, their children, ...). */
function descendants(pid) {
	const out = [];
	for (const c of h.childrenOf(pid))
		out.push(c, ...descendants(c));
	return out;
}

/* Start the script on free ports; resolves {c, dir, port, out()}. */
async function startServe() {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nm-dev-serve-'));
	const port = await h.freePort();
	const env = {};
	/* No provider key from the caller's environment: every source is the stand-in. */
	for (const [k, v] of Object.entries(process.env)) {
		if (!/_API_KEY$/.test(k) && k !== 'NEXTMODEL_SECRET')
			env[k] = v;
	}
	Object.assign(env, {
		NEXTMODEL_RUN_DIR: dir, NEXTMODEL_PORT: String(port),
		NEXTMODEL_REDIS_PORT: String(await h.freePort()),
		NEXTMODEL_MOCK_PORT: String(await h.freePort()), NODE: process.execPath,
	});
	const c = h.spawnTracked('/bin/sh', [SCRIPT, h.BUILDDIR], { env,
	    stdio: ['ignore', 'pipe', 'pipe'] });
	let text = '';
	c.stdout.on('data', (d) => { text += d; });
	c.stderr.on('data', (d) => { text += d; });
	const ready = await h.waitFor(() => / master info ready/.test(text) ||
	    c.exitCode !== null, 20000);
	assert.ok(ready && c.exitCode === null, 'serve did not start:\n' + text);
	return { c, dir, port, out: () => text };
}

/* The pids the script started, read while they run. */
function startedPids(s) {
	const listed = fs.readFileSync(path.join(s.dir, 'pids'), 'utf8').trim().split(' ')
	    .map(Number);
	assert.equal(listed[0], s.c.pid);
	/* Redis, the stand-in, the gateway master and its workers. */
	const all = new Set([...listed.slice(1), ...descendants(s.c.pid)]);
	return [...all];
}

/* Signal the script alone and check that nothing it started survives. */
async function stopAndCheck(s, sig) {
	const pids = startedPids(s);
	assert.ok(pids.length >= 5, 'expected redis, stand-in, master and 2 workers: ' + pids);
	for (const p of pids)
		assert.ok(h.alive(p), 'pid ' + p + ' not running before ' + sig);
	process.kill(s.c.pid, sig);
	const ex = await Promise.race([s.c.nmExit, h.sleep(20000).then(() => null)]);
	assert.ok(ex, 'the script did not exit within 20 s of ' + sig);
	const left = await h.waitFor(() => {
		const l = pids.filter(h.alive);
		return l.length === 0 ? true : null;
	}, 5000);
	assert.ok(left, 'still running after ' + sig + ': ' + pids.filter(h.alive).join(' '));
	const r = await h.request('http://127.0.0.1:' + s.port + '/healthz').catch((e) => e);
	assert.equal(r.code, 'ECONNREFUSED', 'the gateway port still answers');
	fs.rmSync(s.dir, { recursive: true, force: true });
}

/* Kill whatever a failed test left behind. */
function reap(s) {
	try {
		for (const p of startedPids(s))
			h.signal(p, 'SIGKILL');
	} catch (e) {
		/* nothing was started */
	}
}

test('contrib/dev/serve', async (t) => {
	await t.test('answers, shows a working nextmodelctl line, SIGTERM stops all', async () => {
		const s = await startServe();
		try {
			const key = (/^Your API key: (\S+)$/m.exec(s.out()) || [])[1];
			assert.ok(key, 'no key in the banner');
			const tools = [{ type: 'function', function: { name: 'get_weather',
			    parameters: { type: 'object', properties: { city: { type: 'string' },
			    unit: { type: 'string', enum: ['c', 'f'] } }, required: ['city'] } } }];
			const r = await h.request('http://127.0.0.1:' + s.port + '/v1/chat/completions', {
				method: 'POST', headers: { authorization: 'Bearer ' + key },
				body: { model: 'gpt-4o-mini', tools,
				    messages: [{ role: 'user', content: 'weather in Paris?' }] },
			});
			assert.equal(r.status, 200, r.text);
			const c = r.json.choices[0];
			assert.equal(c.finish_reason, 'tool_calls');
			assert.deepEqual(JSON.parse(c.message.tool_calls[0].function.arguments),
			    { city: 'mock', unit: 'c' });

			/* The banner's nextmodelctl line, run as printed (no secret in the env). */
			const line = (/^ {2}(\/\S+\/nextmodelctl -c \S+ key list)$/m.exec(s.out()) || [])[1];
			assert.ok(line, 'no nextmodelctl line in the banner:\n' + s.out());
			const env = Object.assign({}, process.env);
			delete env.NEXTMODEL_SECRET;
			const ctl = child_process.spawnSync('/bin/sh', ['-c', line], { env, encoding: 'utf8' });
			assert.equal(ctl.status, 0, ctl.stderr);
			assert.match(ctl.stdout, /contrib-dev-run/);

			await stopAndCheck(s, 'SIGTERM');
		} finally {
			reap(s);
		}
	});

	await t.test('SIGINT to the script stops all', async () => {
		const s = await startServe();
		try {
			await stopAndCheck(s, 'SIGINT');
		} finally {
			reap(s);
		}
	});
});
