/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Staying up (issue 11): config that the check passes is config the
 * workers can use (a Redis URL with ?db=N, as doc/redis-keys.md shows it,
 * passes nextmodelctl policy check and serves keyed requests without a
 * worker crash); a chat request's size limits; nextmodeld's exit status
 * tells bad config from a failure at run time.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const h = require('./harness.js');

h.requireBuild();

test('redis URL with ?db=N', async (t) => {
	const env = await h.startEnv({ workers: 1, startGateway: false });
	t.after(() => env.stop());
	const text = env.configText();
	const url = 'redis://127.0.0.1:' + env.redisPort + '/0';
	assert.ok(text.includes(url), 'config has no ' + url);
	fs.writeFileSync(env.cfgPath, text.replace(url,
	    'redis://127.0.0.1:' + env.redisPort + '?db=0'));

	const chk = env.ctl(['policy', 'check']);
	assert.equal(chk.code, 0, 'policy check: ' + chk.stderr);
	await env.startGateway();
	const before = env.workers();
	assert.equal(before.length, 1);
	for (let i = 0; i < 3; i++) {
		const r = await env.chat(h.chatBody('hello ' + i));
		assert.equal(r.status, 200, r.text);
	}
	const bad = await env.chat(h.chatBody('x'), { key: h.randomKey() });
	assert.equal(bad.status, 401, bad.text);
	assert.deepEqual(env.workers(), before, 'a worker was replaced');
	assert.doesNotMatch(env.log(), /exited on signal|SIGSEGV|killed by signal/);
});

test('size limits of a chat request', async (t) => {
	/* A context window that holds 10000 messages: the limits answer, not it. */
	const big = Object.assign(h.defaultModel(), { id: 'mock-big', context_window: 100000000 });
	const env = await h.startEnv({ workers: 1, extraModels: [big] });
	t.after(() => env.stop());
	const before = env.workers();
	const cases = [
		{ what: 'messages', param: 'messages', body: {
			model: 'mock-big',
			messages: Array.from({ length: 10001 }, (_, i) => ({ role: 'user', content: 'm' + i })),
		} },
		{ what: 'tool calls', param: 'messages', body: {
			model: 'mock-big',
			messages: [{ role: 'user', content: 'go' }, { role: 'assistant', tool_calls:
			    Array.from({ length: 10001 }, (_, i) => ({ id: 'c' + i, type: 'function',
			    function: { name: 'f', arguments: '{}' } })) }],
		} },
		{ what: 'tools', param: 'tools', body: {
			model: 'mock-big',
			messages: [{ role: 'user', content: 'go' }],
			tools: Array.from({ length: 1025 }, (_, i) => ({ type: 'function',
			    function: { name: 'f' + i } })),
		} },
	];
	for (const c of cases) {
		const r = await env.chat(JSON.stringify(c.body));
		assert.equal(r.status, 400, c.what + ': ' + r.text);
		const err = h.assertErrorShape(r.json, c.what);
		assert.equal(err.type, 'invalid_request_error', c.what);
		assert.equal(err.code, 'array_above_max_length', c.what);
		assert.equal(err.param, c.param, c.what);
		assert.match(err.message, new RegExp('too many ' + c.what), c.what);
	}
	/* At the limit the request goes through. */
	const ok = await env.chat(JSON.stringify({ model: 'mock-big', messages:
	    Array.from({ length: 10000 }, (_, i) => ({ role: 'user', content: 'm' + i })) }));
	assert.equal(ok.status, 200, ok.text);
	assert.deepEqual(env.workers(), before, 'a worker was replaced');
});

/* nextmodeld's exit status, waited for. */
function runGateway(env, args) {
	return new Promise((resolve) => {
		const c = h.spawnTracked(path.join(h.BUILDDIR, 'nextmodeld'), args,
		    { env: env.gwEnv, stdio: ['ignore', 'pipe', 'pipe'] });
		let err = '';
		c.stderr.on('data', (d) => { err += d; });
		c.stdout.on('data', () => {});
		c.on('exit', (code, sig) => resolve({ code, sig, err }));
	});
}

test('exit status: bad config 1, bad command line 2, runtime failure 4', async (t) => {
	const env = await h.startEnv({ workers: 1, startGateway: false });
	t.after(() => env.stop());
	const bad = path.join(env.tmp, 'bad.yaml');
	fs.writeFileSync(bad, 'workers: many\n');
	let r = await runGateway(env, ['-c', bad]);
	assert.equal(r.code, 1, 'bad config: ' + r.err);
	r = await runGateway(env, ['-t', '-c', bad]);
	assert.equal(r.code, 1, 'bad config, -t: ' + r.err);
	r = await runGateway(env, ['--no-such-option']);
	assert.equal(r.code, 2, 'bad option: ' + r.err);
	r = await runGateway(env, ['-t', '-c', env.cfgPath]);
	assert.equal(r.code, 0, '-t: ' + r.err);

	/* The port is taken: a runtime failure, which a restart may mend. */
	const blocker = net.createServer();
	await new Promise((resolve) => blocker.listen(env.port, '127.0.0.1', resolve));
	t.after(() => blocker.close());
	r = await runGateway(env, ['-c', env.cfgPath]);
	assert.equal(r.code, 4, 'address in use: ' + r.err);
	assert.match(r.err, /in use/i);

	/* The systemd unit restarts on 4 and not on 1 or 2. */
	const unit = fs.readFileSync(path.join(h.SRCDIR, 'contrib/systemd/nextmodeld.service.in'), 'utf8');
	const prevent = /^RestartPreventExitStatus=(.*)$/m.exec(unit);
	assert.ok(prevent, 'no RestartPreventExitStatus');
	assert.deepEqual(prevent[1].trim().split(/\s+/).sort(), ['1', '2']);
	assert.match(unit, /^Restart=on-failure$/m);
});

/* The path of a program on $PATH, or null. */
function which(name) {
	for (const d of (process.env.PATH || '').split(':')) {
		const p = path.join(d || '.', name);
		try {
			fs.accessSync(p, fs.constants.X_OK);
			return p;
		} catch (err) {
			/* next */
		}
	}
	return null;
}

test('master as pid 1 (a container): workers serve', async (t) => {
	const unshare = which('unshare');
	if (unshare === null || process.getuid() !== 0) {
		t.skip('needs root and unshare(1) for a pid namespace');
		return;
	}
	const env = await h.startEnv({ workers: 2, startGateway: false });
	t.after(() => env.stop());
	const log = fs.openSync(env.logPath, 'a');
	/* unshare forks nextmodeld as pid 1 of a new pid namespace. */
	const c = h.spawnTracked(unshare, ['--pid', '--fork', '--kill-child=SIGTERM', '--',
	    path.join(h.BUILDDIR, 'nextmodeld'), '-c', env.cfgPath],
	    { env: env.gwEnv, stdio: ['ignore', log, log] });
	fs.closeSync(log);
	t.after(() => h.killChild(c, 10000));
	const up = await h.waitFor(async () => {
		try {
			const r = await h.request(env.url + '/healthz', { timeout: 1000 });
			return r.status === 200;
		} catch (err) {
			return false;
		}
	}, 15000, 100);
	assert.ok(up, 'never healthy; log:\n' + env.log());
	assert.match(env.log(), /\(pid 1\)/, 'the master is not pid 1:\n' + env.log());
	for (let i = 0; i < 4; i++) {
		const r = await env.chat(h.chatBody('in a container ' + i));
		assert.equal(r.status, 200, r.text);
	}
	assert.doesNotMatch(env.log(), /worker\[[^\]]*\] pid \d+ (exited|killed)/,
	    'a worker died:\n' + env.log());
});
