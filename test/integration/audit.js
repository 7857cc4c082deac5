/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * Bring your own keys and the audit trail, without the gateway:
 * nextmodelctl provider-key set reads the key from stdin and refuses bad
 * input; the key is on no output, in no Redis value (every key of the
 * database is read back), in no audit event; list shows its fingerprint;
 * clear removes it.  Every admin action lands in nm:audit, and
 * nextmodel-ledger files each event exactly once into
 * ledger_dir/audit-DAY.jsonl (events from before it ran too, across a
 * kill -9), setting aside an entry that is not an event; nextmodelctl
 * audit shows them.
 */
'use strict';

const assert = require('node:assert/strict');
const child_process = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness');

h.requireBuild();
const CTL = path.join(h.BUILDDIR, 'nextmodelctl');
const LEDGER = path.join(h.BUILDDIR, 'nextmodel-ledger');

/* nextmodelctl with stdin: {code, stdout, stderr}. */
function ctlIn(e, args, input) {
	const r = child_process.spawnSync(CTL, ['-c', e.cfgPath].concat(args),
	    { env: e.gwEnv, input, encoding: 'utf8', timeout: 30000 });
	return { code: r.status, stdout: r.stdout || '', stderr: r.stderr || '' };
}

/* Every key and every value of the Redis database, as one text. */
function redisDump(e) {
	let out = '';
	const keys = e.redisCmd(['--scan']).split('\n').filter((k) => k);
	for (const k of keys) {
		const t = e.redisCmd(['TYPE', k]).trim();
		const cmd = { string: ['GET', k], hash: ['HGETALL', k],
		    set: ['SMEMBERS', k], stream: ['XRANGE', k, '-', '+'],
		    zset: ['ZRANGE', k, '0', '-1'], list: ['LRANGE', k, '0', '-1'] }[t];
		out += k + '\n' + (cmd ? e.redisCmd(cmd) : '') + '\n';
	}
	return out;
}

/* The audit events in the ledger folder: {file: [objects]}. */
function auditFiles(dir) {
	const out = {};
	for (const f of fs.readdirSync(dir).filter((x) => x.startsWith('audit-')))
		out[f] = fs.readFileSync(path.join(dir, f), 'utf8').split('\n')
		    .filter((l) => l).map((l) => JSON.parse(l));
	return out;
}

/* Start one ledger, logging to its own file. */
function startLedger(e, n) {
	const log = fs.openSync(path.join(e.tmp, 'ledger-' + n + '.log'), 'a');
	const c = h.spawnTracked(LEDGER, ['-c', e.cfgPath, '--claim-idle', '300'],
	    { env: e.gwEnv, stdio: ['ignore', log, log] });
	fs.closeSync(log);
	return c;
}

async function main() {
	const e = await h.startEnv({ startGateway: false,
	    extraProviders: { anthropic: { kind: 'anthropic', mock_path: '' } } });
	const user = require('node:os').userInfo().username;
	/* A key that looks real, and one with every character class allowed. */
	const secretKey = 'sk-ant-api03-' + crypto.randomBytes(30).toString('base64url');
	const inner = secretKey.slice(13);
	const outputs = [];
	const run = (args, input) => {
		const r = ctlIn(e, args, input);
		outputs.push(r.stdout, r.stderr);
		return r;
	};

	/* --- provider-key set: refused input ---------------------------------- */
	let r = run(['provider-key', 'set', '--project', 'shop', '--provider', 'nosuch'],
	    secretKey + '\n');
	assert.equal(r.code, 1, 'unknown provider: ' + r.stderr);
	assert.match(r.stderr, /unknown provider nosuch/);
	for (const bad of [secretKey + '\r\n', 'sk-a\nb\n', 'sk-a\tb', 'sk a', 'sk-\x01x',
	    '', '\n', 'x'.repeat(1025)]) {
		r = run(['provider-key', 'set', '--project', 'shop', '--provider', 'anthropic'], bad);
		assert.equal(r.code, 1, JSON.stringify(bad.slice(0, 20)) + ': ' + r.stderr);
		assert.match(r.stderr, /refused: /);
	}
	r = run(['provider-key', 'set', '--project', 'shop', '--provider', 'anthropic', secretKey], '');
	assert.equal(r.code, 2, 'a key on the command line is a usage error');
	r = run(['provider-key', 'set', '--project', 'with space', '--provider', 'anthropic'], secretKey);
	assert.equal(r.code, 2);
	r = run(['provider-key', 'set', '--provider', 'anthropic'], secretKey);
	assert.equal(r.code, 2);
	assert.equal(e.redisCmd(['EXISTS', 'nm:{p:shop}:byok:anthropic']).trim(), '0',
	    'nothing stored after refusals');

	/* The server secret is what seals it: without it, refused. */
	const noSecret = child_process.spawnSync(CTL, ['-c', e.cfgPath, 'provider-key', 'set',
	    '--project', 'shop', '--provider', 'anthropic'], { input: secretKey,
	    env: Object.assign({}, e.gwEnv, { NEXTMODEL_SECRET: '' }), encoding: 'utf8' });
	assert.equal(noSecret.status, 1);
	assert.match(noSecret.stderr, /server secret/);

	/* --- set, list, set again, clear --------------------------------------- */
	r = run(['provider-key', 'set', '--project', 'shop', '--provider', 'anthropic'],
	    secretKey + '\n');
	assert.equal(r.code, 0, r.stderr);
	assert.equal(r.stdout, '', 'set prints nothing on stdout');
	const fp = 'sha256:' + crypto.createHash('sha256').update(secretKey).digest('hex').slice(0, 8);
	assert.match(r.stderr, new RegExp('set the anthropic key of project shop \\(' + fp + '\\)'));
	r = run(['provider-key', 'set', '--project', 'api:v2', '--provider', 'anthropic'], 'sk-second');
	assert.equal(r.code, 0, r.stderr);
	r = run(['provider-key', 'list']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /^PROJECT +PROVIDER +FINGERPRINT +SET +BY\n/);
	assert.match(r.stdout, new RegExp('\nshop +anthropic +' + fp + ' +\\d{4}-\\d\\d-\\d\\dT[\\d:]{8}Z +' + user + '\n'));
	assert.match(r.stdout, /\napi:v2 +anthropic +sha256:[0-9a-f]{8} /);
	r = run(['provider-key', 'list', '--project', 'shop', '--format', 'json']);
	assert.equal(r.code, 0, r.stderr);
	const listed = JSON.parse(r.stdout);
	assert.equal(listed.length, 1);
	assert.equal(listed[0].project, 'shop');
	assert.equal(listed[0].fingerprint, fp);
	assert.equal(listed[0].set_by, user);

	/* Stored sealed: the version, then no trace of the key. */
	const sealed = e.redisCmd(['HGET', 'nm:{p:shop}:byok:anthropic', 'v']).trim();
	assert.match(sealed, /^nmbyok1:[0-9a-f]{8}:[0-9a-f]{24}:[0-9a-f]+$/);
	assert.equal((sealed.length - 42) / 2, secretKey.length + 16, 'ciphertext + tag length');
	/* Sealed again: a fresh nonce, another ciphertext. */
	r = run(['provider-key', 'set', '--project', 'shop', '--provider', 'anthropic'], secretKey);
	assert.equal(r.code, 0, r.stderr);
	const sealed2 = e.redisCmd(['HGET', 'nm:{p:shop}:byok:anthropic', 'v']).trim();
	assert.notEqual(sealed2, sealed);
	assert.notEqual(sealed2.split(':')[2], sealed.split(':')[2], 'nonce reused');

	r = run(['provider-key', 'clear', '--project', 'api:v2', '--provider', 'anthropic']);
	assert.equal(r.code, 0, r.stderr);
	r = run(['provider-key', 'clear', '--project', 'api:v2', '--provider', 'anthropic']);
	assert.equal(r.code, 1, 'clearing twice');
	r = run(['provider-key', 'list', '--format', 'json']);
	assert.deepEqual(JSON.parse(r.stdout).map((x) => x.project), ['shop']);

	/* Key admin, for the trail. */
	r = run(['key', 'create', '--project', 'shop', '--team', 'web', '--rpm', '7']);
	assert.equal(r.code, 0, r.stderr);
	const newKey = r.stdout.trim();
	const id = /created (key_[0-9a-f]{16})/.exec(r.stderr)[1];
	r = run(['key', 'revoke', id]);
	assert.equal(r.code, 0, r.stderr);

	/* --- the key is nowhere ------------------------------------------------- */
	const dump = redisDump(e);
	for (const needle of [secretKey, inner.slice(0, 16), newKey.slice(3)])
		assert.ok(!dump.includes(needle), 'a secret is in Redis');
	for (const o of outputs)
		assert.ok(!o.includes(inner.slice(0, 16)), 'the provider key is in an output');
	const stream = e.redisCmd(['XRANGE', 'nm:audit', '-', '+']);
	assert.ok(!stream.includes(inner.slice(0, 16)) && !stream.includes(newKey.slice(3)),
	    'a secret is in the audit stream');

	/* --- nextmodelctl audit, from Redis ------------------------------------- */
	r = run(['audit', '--format', 'json']);
	assert.equal(r.code, 0, r.stderr);
	const events = JSON.parse(r.stdout);
	const actions = events.map((x) => x.action);
	/* The harness made one key before this test ran. */
	assert.deepEqual(actions, ['key.create', 'provider_key.set', 'provider_key.set',
	    'provider_key.set', 'provider_key.clear', 'key.create', 'key.revoke']);
	for (const ev of events) {
		assert.match(ev.id, /^aud_[0-9a-f]{24}$/);
		assert.equal(ev.actor, user);
		assert.equal(ev.tool, 'nextmodelctl');
		assert.equal(ev.host, require('node:os').hostname());
		assert.ok(Number.isInteger(ev.pid) && ev.pid > 0);
		assert.ok(Math.abs(Date.parse(ev.time) - Date.now()) < 120000, ev.time);
	}
	assert.equal(events[1].target, 'shop/anthropic');
	assert.deepEqual(events[1].details, { project: 'shop', provider: 'anthropic', fingerprint: fp });
	assert.deepEqual(events[5].details, { project: 'shop', team: 'web', name: null, rpm: 7, tpm: 0,
	    environment: null });
	assert.equal(events[6].target, id);
	r = run(['audit']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /^TIME +ACTOR +ACTION +TARGET +FROM\n/);
	assert.match(r.stdout, new RegExp('\n\\S+Z +' + user + ' +key\\.revoke +' + id + ' +\\S+:\\d+\n'));
	assert.equal(r.stdout.trim().split('\n').length, 8);
	r = run(['audit', '--since', '2999-01-01', '--format', 'json']);
	assert.equal(r.code, 0, r.stderr);
	assert.deepEqual(JSON.parse(r.stdout), []);
	r = run(['audit', '--since', 'yesterday']);
	assert.equal(r.code, 2);

	/* --- the ledger files them ---------------------------------------------- */
	/* An entry that is not an event, and one a ledger must not lose on kill -9. */
	e.redisCmd(['XADD', 'nm:audit', '*', 'e', 'not an audit line']);
	const dir = path.join(e.tmp, 'ledger');
	const day = new Date().toISOString().slice(0, 10);
	let ledger = startLedger(e, 0);
	const filed = await h.waitFor(() => {
		const f = auditFiles(dir);
		return (f['audit-' + day + '.jsonl'] || []).length === 7;
	}, 15000, 100);
	assert.ok(filed, 'the ledger did not file 7 events: ' + JSON.stringify(Object.keys(auditFiles(dir))));
	const lines = fs.readFileSync(path.join(dir, 'audit-' + day + '.jsonl'), 'utf8').trim().split('\n');
	const streamLines = events.map((x) => JSON.stringify(x));
	assert.deepEqual(lines.map((l) => JSON.parse(l).id), events.map((x) => x.id));
	/* Byte for byte as written to the stream. */
	for (let i = 0; i < lines.length; i++)
		assert.deepEqual(JSON.parse(lines[i]), JSON.parse(streamLines[i]));
	const rej = fs.readdirSync(dir).filter((f) => f.startsWith('rejected-'));
	assert.equal(rej.length, 1, 'the bad entry is set aside');
	const rejLine = JSON.parse(fs.readFileSync(path.join(dir, rej[0]), 'utf8').trim());
	assert.match(rejLine.stream_id, /^nm:audit:\d+-\d+$/);
	assert.equal(rejLine.entry, 'not an audit line');
	/* Acknowledged: nothing pending, but the events stay in Redis (keep days). */
	const pending = await h.waitFor(() =>
	    e.redisCmd(['XPENDING', 'nm:audit', 'ledger']).split('\n')[0] === '0', 5000, 100);
	assert.ok(pending, 'entries left pending');
	assert.equal(e.redisCmd(['XLEN', 'nm:audit']).trim(), '8');

	/* kill -9, more events meanwhile, a new ledger: each once. */
	ledger.kill('SIGKILL');
	await ledger.nmExit;
	for (let i = 0; i < 5; i++) {
		r = run(['key', 'create', '--project', 'p' + i]);
		assert.equal(r.code, 0, r.stderr);
	}
	ledger = startLedger(e, 1);
	const refiled = await h.waitFor(() =>
	    (auditFiles(dir)['audit-' + day + '.jsonl'] || []).length === 12, 15000, 100);
	assert.ok(refiled, 'events after the restart not filed');
	const ids = auditFiles(dir)['audit-' + day + '.jsonl'].map((x) => x.id);
	assert.equal(new Set(ids).size, ids.length, 'an event twice in the file');
	/* The same entries delivered again (a crash before XACK): still once. */
	e.redisCmd(['XGROUP', 'SETID', 'nm:audit', 'ledger', '0']);
	await h.sleep(2500);
	assert.equal(auditFiles(dir)['audit-' + day + '.jsonl'].length, 12);
	assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith('rejected-')).length, 1);
	assert.equal(fs.readFileSync(path.join(dir, rej[0]), 'utf8').trim().split('\n').length, 1);
	const x = await h.killChild(ledger, 5000);
	assert.equal(x.code, 0, 'ledger exit ' + JSON.stringify(x));
	const logs = fs.readdirSync(e.tmp).filter((f) => f.startsWith('ledger-'))
	    .map((f) => fs.readFileSync(path.join(e.tmp, f), 'utf8')).join('');
	assert.ok(!/AddressSanitizer|LeakSanitizer|runtime error:/.test(logs), 'sanitizer report');
	assert.ok(!logs.includes(inner.slice(0, 16)), 'a secret in a ledger log');

	await e.stop();
	process.stdout.write('# ' + events.length + ' events through ctl, ' + ids.length +
	    ' filed once each\n');
}

main().then(() => process.exit(0), (err) => {
	console.error(err);
	process.exit(1);
});
