/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * nextmodel-ledger without the gateway: this test signs receipts itself
 * (the format of src/receipt.c), pushes them as the gateway does (XADD
 * nm:receipts + SET nm:receipt:ID), some before any ledger runs, some
 * twice, some tampered, while ledgers are kill -9'd and restarted, two at
 * a time too.  Then: every good receipt exactly once in the day files,
 * tampered ones set aside and counted, the stream trimmed, the aggregates
 * (nextmodelctl usage) equal to the sums over the files and to usage
 * export, to the nano-dollar; receipt verify passes a good file and names
 * the line and member of a tampered one.  A Redis outage is waited out.
 */
'use strict';

const assert = require('node:assert/strict');
const child_process = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const h = require('./harness');

h.requireBuild();
const LEDGER = path.join(h.BUILDDIR, 'nextmodel-ledger');

/* A minimal RESP client: cmd(...args) resolves the reply; errors as Error. */
function redisClient(port) {
	const s = net.connect({ port, host: '127.0.0.1' });
	const waiting = [];
	let buf = Buffer.alloc(0);
	/* One reply from buf at i: [value, next] or null if incomplete. */
	const parse = (i) => {
		const nl = buf.indexOf('\r\n', i);
		if (nl < 0)
			return null;
		const t = String.fromCharCode(buf[i]);
		const line = buf.toString('utf8', i + 1, nl);
		if (t === '+')
			return [line, nl + 2];
		if (t === '-')
			return [new Error(line), nl + 2];
		if (t === ':')
			return [Number(line), nl + 2];
		if (t === '$') {
			const n = Number(line);
			if (n < 0)
				return [null, nl + 2];
			if (buf.length < nl + 2 + n + 2)
				return null;
			return [buf.toString('utf8', nl + 2, nl + 2 + n), nl + 2 + n + 2];
		}
		if (t === '*') {
			const n = Number(line);
			if (n < 0)
				return [null, nl + 2];
			const out = [];
			let j = nl + 2;
			for (let k = 0; k < n; k++) {
				const r = parse(j);
				if (r === null)
					return null;
				out.push(r[0]);
				j = r[1];
			}
			return [out, j];
		}
		throw new Error('bad RESP type ' + t);
	};
	s.on('data', (d) => {
		buf = Buffer.concat([buf, d]);
		for (;;) {
			const r = parse(0);
			if (r === null)
				break;
			buf = buf.subarray(r[1]);
			waiting.shift()(r[0]);
		}
	});
	const ready = new Promise((resolve, reject) => {
		s.on('connect', resolve);
		s.on('error', reject);
	});
	return {
		ready,
		cmd(...args) {
			let out = '*' + args.length + '\r\n';
			for (const a of args) {
				const b = Buffer.from(String(a));
				out += '$' + b.length + '\r\n' + b.toString('utf8') + '\r\n';
			}
			return new Promise((resolve) => {
				waiting.push(resolve);
				s.write(out);
			});
		},
		close() {
			s.destroy();
		},
	};
}

/* JSON string or null, as receipt.c writes it. */
function js(v) {
	return v === null || v === undefined ? 'null' : JSON.stringify(v);
}

/* Exact decimal text of BigInt nano-USD (money_format). */
function money(n) {
	const frac = (n % 1000000000n).toString().padStart(9, '0').replace(/0+$/, '');
	return (n / 1000000000n).toString() + (frac ? '.' + frac : '');
}

/* Nano-USD BigInt of decimal text. */
function nano(s) {
	const [i, f = ''] = s.split('.');
	return BigInt(i) * 1000000000n + BigInt((f + '000000000').slice(0, 9));
}

/* One signed receipt line, member for member as src/receipt.c writes it. */
function receiptLine(key, r) {
	let s = '{"id":' + js(r.id) + ',"request_id":' + js(r.request_id) +
	    ',"created":' + js(r.created) + ',"key_id":' + js(r.key_id) +
	    ',"project":' + js(r.project) + ',"team":' + js(r.team) +
	    ',"workload":' + js(r.workload) + ',"endpoint":' + js(r.endpoint) +
	    ',"model_requested":' + js(r.model) + ',"model":' + js(r.model) +
	    ',"provider":' + js(r.provider) + ',"serve_mode":' + js(r.serve_mode) +
	    ',"stream":' + (r.stream ? 'true' : 'false') + ',"status":' + r.status +
	    ',"error_code":' + js(r.error_code) +
	    ',"usage":{"prompt_tokens":' + r.prompt + ',"completion_tokens":' +
	    r.completion + ',"total_tokens":' + (r.prompt + r.completion) +
	    ',"cached_tokens":' + r.cached + '}' +
	    ',"usage_source":' + js(r.usage_source) + ',"billing_basis":' +
	    js(r.billing_basis) + ',"cost_usd":"' + money(r.cost) +
	    '","fresh_cost_usd":"' + money(r.fresh) + '","saved_usd":"' +
	    money(r.saved) + '","latency_ms":' + r.latency + ',"ttfb_ms":null' +
	    ',"upstream_request_id":null,"cache_key":null,"policy_rule":null}';
	const sig = crypto.createHmac('sha256', key).update(s).digest('hex');
	return s.slice(0, -1) + ',"signature":"hmac-sha256:' + sig + '"}';
}

/* Round half up of v / 1e6 (BigInt). */
function perMtok(v) {
	return v / 1000000n + (v % 1000000n >= 500000n ? 1n : 0n);
}

const PROJECTS = ['shop', 'search', 'api:v2'];
const TEAMS = ['web', null, 'data'];
const WORKLOADS = ['api.web', 'batch', null, 'chat "beta"'];
const MODELS = [
	{ id: 'cheap', provider: 'openai', inP: 112000000n, outP: 448000000n },
	{ id: 'odd', provider: 'anthropic', inP: 37500000n, outP: 150000000n },
	{ id: 'thirds', provider: 'google', inP: 333333333n, outP: 1000000001n },
];
const DAYS = ['2026-12-01', '2026-12-02', '2026-12-03'];

/* The i-th receipt's fields, varied but deterministic. */
function makeReceipt(i) {
	const m = MODELS[i % 3];
	const prompt = (i * 7919) % 4999 + 1;
	const completion = (i * 104729) % 997;
	const fresh = perMtok(BigInt(prompt) * m.inP + BigInt(completion) * m.outP);
	const hit = i % 7 === 3;
	const error = i % 13 === 5;
	const cost = error ? 0n : hit ? fresh / 10n : fresh;
	const ms = Date.UTC(2026, 11, 1 + (i % 3), i % 24, i % 60, i % 60, i % 1000);
	return {
		id: 'rcpt_' + crypto.createHash('sha256').update('r' + i).digest('hex').slice(0, 24),
		request_id: 'req_' + String(i).padStart(24, '0'),
		created: new Date(ms).toISOString(),
		key_id: 'key_' + String(i % 5).padStart(16, '0'),
		project: PROJECTS[i % 3 === 0 ? 0 : i % 5 === 1 ? 2 : 1],
		team: TEAMS[i % 3],
		workload: WORKLOADS[i % 4],
		endpoint: '/v1/chat/completions',
		model: error && i % 2 ? null : m.id,
		provider: m.provider,
		serve_mode: hit ? (i % 2 ? 'exact_cache' : 'canonical_cache') : 'fresh',
		stream: i % 2 === 0,
		status: error ? 502 : 200,
		error_code: error ? 'upstream_error' : null,
		prompt: error ? 0 : prompt,
		completion: error ? 0 : completion,
		cached: hit ? prompt : 0,
		usage_source: error ? 'none' : hit ? 'cache' : 'upstream',
		billing_basis: error ? 'none' : hit ? 'cache_rate' : 'list_price',
		cost,
		fresh: error ? 0n : fresh,
		saved: error ? 0n : fresh - cost,
		latency: i % 500,
	};
}

/* Start one ledger; its stderr goes to a log file of its own. */
function startLedger(e, n) {
	const log = fs.openSync(path.join(e.tmp, 'ledger-' + n + '.log'), 'a');
	const c = h.spawnTracked(LEDGER, ['-c', e.cfgPath, '--claim-idle', '400',
	    '--batch', String(20 + (n % 5) * 20), '-l', 'info'],
	    { env: e.gwEnv, stdio: ['ignore', log, log] });
	fs.closeSync(log);
	return c;
}

/* nextmodelctl with room for a large export: {code, stdout, stderr}. */
function ctlBig(e, args) {
	const r = child_process.spawnSync(path.join(h.BUILDDIR, 'nextmodelctl'),
	    ['-c', e.cfgPath].concat(args), { env: e.gwEnv, encoding: 'utf8',
	    timeout: 30000, maxBuffer: 256 * 1024 * 1024 });
	return { code: r.status, stdout: r.stdout || '', stderr: r.stderr || '' };
}

/* Every log file's text. */
function ledgerLogs(e) {
	return fs.readdirSync(e.tmp).filter((f) => f.startsWith('ledger-'))
	    .map((f) => fs.readFileSync(path.join(e.tmp, f), 'utf8')).join('');
}

/* The fields of one CSV line (RFC 4180 quoting). */
function csvSplit(line) {
	const out = [];
	let i = 0;
	for (;;) {
		let f = '';
		if (line[i] === '"') {
			for (i++; ; i++) {
				if (line[i] === '"' && line[i + 1] === '"') {
					f += '"';
					i++;
				} else if (line[i] === '"') {
					i++;
					break;
				} else
					f += line[i];
			}
		} else {
			while (i < line.length && line[i] !== ',')
				f += line[i++];
		}
		out.push(f);
		if (i >= line.length)
			return out;
		i++;	/* the comma */
	}
}

/* Sums per dimension value over receipt objects (as parsed from lines). */
function sums(receipts, dim) {
	const out = new Map();
	for (const r of receipts) {
		const name = {
			project: r.project, team: r.team || '(none)', key: r.key_id,
			workload: r.workload || '(none)', model: r.model || '(none)',
		}[dim];
		const s = out.get(name) || { requests: 0, errors: 0, cached: 0,
		    prompt: 0, completion: 0, cost: 0n, saved: 0n };
		s.requests++;
		s.errors += r.status >= 400 ? 1 : 0;
		s.cached += r.serve_mode === 'fresh' ? 0 : 1;
		s.prompt += r.usage.prompt_tokens;
		s.completion += r.usage.completion_tokens;
		s.cost += nano(r.cost_usd);
		s.saved += nano(r.saved_usd);
		out.set(name, s);
	}
	return out;
}

async function main() {
	const e = await h.startEnv({ startGateway: false });
	const key = crypto.createHmac('sha256', e.secret).update('nextmodel receipt v1').digest();
	const r = redisClient(e.redisPort);
	await r.ready;
	const good = new Map();		/* id -> line */
	let bad = 0;
	let next = 0;

	/* Push n receipts (every 50th twice, every 97th tampered) in one pipeline. */
	const push = async (n) => {
		const ps = [];
		for (let k = 0; k < n; k++, next++) {
			const rc = makeReceipt(next);
			let line = receiptLine(key, rc);
			if (next % 97 === 11) {
				/* Changed after signing. */
				line = line.replace('"latency_ms":' + rc.latency + ',',
				    '"latency_ms":' + (rc.latency + 1) + ',');
				bad++;
			} else
				good.set(rc.id, line);
			ps.push(r.cmd('XADD', 'nm:receipts', '*', 'r', line));
			ps.push(r.cmd('SET', 'nm:receipt:' + rc.id, line, 'EX', 3600));
			if (next % 50 === 7) {
				ps.push(r.cmd('XADD', 'nm:receipts', '*', 'r', line));
				if (!good.has(rc.id))
					bad++;	/* a second stream entry to set aside */
			}
		}
		for (const x of await Promise.all(ps))
			assert.ok(!(x instanceof Error), String(x));
	};

	/* Receipts pushed before any ledger ran must not be lost. */
	await push(400);
	await r.cmd('XADD', 'nm:receipts', '*', 'x', 'no receipt here');
	bad++;

	const ledgers = [];
	let started = 0;
	ledgers.push(startLedger(e, started++));
	const t0 = Date.now();
	let kills = 0;
	/* Load for ~12 s: pushes every 20 ms, kill -9 at random points. */
	while (Date.now() - t0 < 12000) {
		await push(25);
		if (Math.random() < 0.08) {
			const victim = ledgers.splice(Math.floor(Math.random() * ledgers.length), 1)[0];
			victim.kill('SIGKILL');
			await victim.nmExit;
			kills++;
		}
		while (ledgers.length < 1 || (ledgers.length < 2 && Math.random() < 0.05))
			ledgers.push(startLedger(e, started++));
		await h.sleep(20);
	}
	while (ledgers.length < 2)
		ledgers.push(startLedger(e, started++));
	const total = good.size;
	process.stdout.write('# pushed ' + next + ' receipts (' + bad + ' bad), ' +
	    kills + ' kill -9, ' + started + ' ledger starts\n');
	assert.ok(kills >= 3, 'too few kills: ' + kills);

	/* Wait until every entry is read and acknowledged, and trimmed. */
	const drained = await h.waitFor(async () => {
		const g = await r.cmd('XINFO', 'GROUPS', 'nm:receipts');
		const f = {};
		for (let k = 0; k < g[0].length; k += 2)
			f[g[0][k]] = g[0][k + 1];
		const len = await r.cmd('XLEN', 'nm:receipts');
		return f.pending === 0 && f.lag === 0 && len === 0;
	}, 30000, 200);
	assert.ok(drained, 'the stream was not drained and trimmed: XLEN ' +
	    await r.cmd('XLEN', 'nm:receipts'));

	/* SIGTERM: both finish and exit 0. */
	for (const c of ledgers) {
		const x = await h.killChild(c, 5000);
		assert.equal(x.code, 0, 'ledger exit ' + JSON.stringify(x));
	}
	assert.ok(!/AddressSanitizer|LeakSanitizer|runtime error:/.test(ledgerLogs(e)),
	    'sanitizer report in a ledger log');

	/* The files: every good receipt once, byte for byte, on its day. */
	const dir = path.join(e.tmp, 'ledger');
	const seen = new Map();
	const receipts = [];
	for (const f of fs.readdirSync(dir).filter((x) => x.startsWith('receipts-')).sort()) {
		const text = fs.readFileSync(path.join(dir, f), 'utf8');
		assert.ok(text.endsWith('\n'), f + ' does not end with a newline');
		for (const line of text.slice(0, -1).split('\n')) {
			const o = JSON.parse(line);
			assert.ok(!seen.has(o.id), 'receipt ' + o.id + ' twice in the files');
			seen.set(o.id, line);
			assert.equal(line, good.get(o.id), 'line of ' + o.id + ' changed');
			assert.equal(f, 'receipts-' + o.created.slice(0, 10) + '.jsonl');
			receipts.push(o);
		}
	}
	assert.equal(seen.size, total, 'receipts in the files');
	/* The tampered ones are set aside, and counted once each. */
	let rejectedLines = 0;
	for (const f of fs.readdirSync(dir).filter((x) => x.startsWith('rejected-'))) {
		const lines = fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n');
		const ids = new Set(lines.map((l) => JSON.parse(l).stream_id));
		assert.equal(ids.size, lines.length, 'a rejected entry twice in ' + f);
		rejectedLines += lines.length;
	}
	assert.equal(rejectedLines, bad);
	assert.equal(Number(await r.cmd('GET', 'nm:{ledger}:rejected')), bad);

	/* The aggregates equal the sums over the files, for every dimension. */
	for (const dim of ['project', 'team', 'key', 'workload', 'model']) {
		const u = e.ctl(['usage', '--by', dim, '--format', 'json']);
		assert.equal(u.code, 0, u.stderr);
		const rep = JSON.parse(u.stdout);
		const want = sums(receipts, dim);
		assert.equal(rep.rows.length, want.size, dim + ': rows');
		let totalCost = 0n;
		for (const row of rep.rows) {
			const w = want.get(row[dim]);
			assert.ok(w, dim + ': unexpected row ' + row[dim]);
			assert.equal(row.requests, w.requests, dim + ' ' + row[dim]);
			assert.equal(row.errors, w.errors, dim + ' ' + row[dim]);
			assert.equal(row.cached, w.cached, dim + ' ' + row[dim]);
			assert.equal(row.prompt_tokens, w.prompt, dim + ' ' + row[dim]);
			assert.equal(row.completion_tokens, w.completion, dim + ' ' + row[dim]);
			assert.equal(row.cost_usd, money(w.cost), dim + ' ' + row[dim]);
			assert.equal(row.saved_usd, money(w.saved), dim + ' ' + row[dim]);
			totalCost += w.cost;
		}
		assert.equal(rep.total.cost_usd, money(totalCost));
		assert.equal(rep.total.requests, total);
	}
	/* One project alone, and one day. */
	const p = e.ctl(['usage', '--by', 'model', '--project', 'api:v2', '--since',
	    '2026-12-02', '--until', '2026-12-02', '--format', 'json']);
	assert.equal(p.code, 0, p.stderr);
	const pw = sums(receipts.filter((x) => x.project === 'api:v2' &&
	    x.created.startsWith('2026-12-02')), 'model');
	const pr = JSON.parse(p.stdout);
	assert.equal(pr.total.cost_usd, money([...pw.values()].reduce((a, s) => a + s.cost, 0n)));
	assert.equal(pr.rows.length, pw.size);
	const table = e.ctl(['usage', '--by', 'project']);
	assert.equal(table.code, 0, table.stderr);
	assert.match(table.stdout, /^PROJECT +REQUESTS/);
	assert.match(table.stdout, /\nshop +\d+ .*\$[0-9.]+ · \d+%/);

	/* usage export: the same totals from the files, as CSV and JSONL. */
	const all = JSON.parse(e.ctl(['usage', '--format', 'json']).stdout);
	const csv = ctlBig(e, ['usage', 'export', '--format', 'csv']);
	assert.equal(csv.code, 0, csv.stderr);
	const rows = csv.stdout.trim().split('\r\n');
	const head = rows[0].split(',');
	const ci = head.indexOf('cost_usd');
	let csvCost = 0n;
	for (const line of rows.slice(1))
		csvCost += nano(csvSplit(line)[ci]);
	assert.equal(rows.length - 1, total);
	assert.equal(money(csvCost), all.total.cost_usd);
	assert.match(csv.stderr, new RegExp('^' + total + ' receipts, cost_usd ' +
	    all.total.cost_usd.replace('.', '\\.') + ','));
	const jl = ctlBig(e, ['usage', 'export', '--format', 'jsonl', '--since', '2026-12-03']);
	assert.equal(jl.code, 0, jl.stderr);
	const jlines = jl.stdout.trim().split('\n');
	assert.equal(jlines.length, receipts.filter((x) => x.created.startsWith('2026-12-03')).length);

	/* receipt show / verify by id, with the hash a client kept. */
	const [id0, line0] = good.entries().next().value;
	const show = e.ctl(['receipt', 'show', id0, '--raw']);
	assert.equal(show.code, 0, show.stderr);
	assert.equal(show.stdout, line0 + '\n');
	assert.match(e.ctl(['receipt', 'show', id0]).stdout, /^\{\n {2}"id": "rcpt_/);
	const hash = 'sha256:' + crypto.createHash('sha256').update(line0).digest('hex');
	let v = e.ctl(['receipt', 'verify', id0, '--hash', hash]);
	assert.equal(v.code, 0, v.stdout + v.stderr);
	assert.match(v.stdout, /hash matches/);
	v = e.ctl(['receipt', 'verify', id0, '--hash', 'sha256:' + '0'.repeat(64)]);
	assert.equal(v.code, 1);
	assert.match(v.stdout, /is not the one given/);
	assert.equal(e.ctl(['receipt', 'verify', 'rcpt_ffffffffffffffffffffffff']).code, 1);

	/* receipt verify on a good day file, then on a tampered copy. */
	const day = path.join(dir, 'receipts-2026-12-02.jsonl');
	v = e.ctl(['receipt', 'verify', day]);
	assert.equal(v.code, 0, v.stdout + v.stderr);
	assert.match(v.stdout, /all verified/);
	const lines = fs.readFileSync(day, 'utf8').trim().split('\n');
	const o = JSON.parse(lines[4]);
	lines[4] = lines[4].replace('"cost_usd":"' + o.cost_usd + '"', '"cost_usd":"' +
	    money(nano(o.cost_usd) + 1n) + '"');
	lines.push(lines[1]);
	lines.push('not json');
	const bad1 = path.join(e.tmp, 'tampered.jsonl');
	fs.writeFileSync(bad1, lines.join('\n') + '\n');
	v = e.ctl(['receipt', 'verify', bad1]);
	assert.equal(v.code, 1, v.stdout);
	assert.match(v.stdout, /tampered\.jsonl:5: signature does not match.*differs from the copy in Redis in: cost_usd\n/);
	assert.match(v.stdout, new RegExp(':' + (lines.length - 1) + ': duplicate id ' +
	    JSON.parse(lines[1]).id + ' \\(first on line 2\\)'));
	assert.match(v.stdout, new RegExp(':' + lines.length + ': not JSON'));
	assert.match(v.stdout, /3 of \d+ lines did not verify/);
	/* Fields that do not add up, with a good signature. */
	const wrong = makeReceipt(3);		/* a cache hit */
	wrong.saved += 1n;
	const wline = receiptLine(key, wrong);
	const bad2 = path.join(e.tmp, 'wrong.jsonl');
	fs.writeFileSync(bad2, wline + '\n');
	v = e.ctl(['receipt', 'verify', bad2]);
	assert.equal(v.code, 1, v.stdout);
	assert.match(v.stdout, /wrong\.jsonl:1: .*cost_usd \+ saved_usd \(\S+\) is not fresh_cost_usd/);

	/*
	 * Redis goes away under a running ledger: it says so once, keeps
	 * trying, and carries on when Redis is back (empty: a new group).
	 */
	r.close();
	const lone = startLedger(e, started++);
	await h.waitFor(() => /reading nm:receipts/.test(ledgerLogs(e)), 5000);
	const logName = path.join(e.tmp, 'ledger-' + (started - 1) + '.log');
	await e.stopRedis();
	await h.sleep(2500);
	assert.equal(lone.exitCode, null, 'the ledger exited without Redis');
	const warned = fs.readFileSync(logName, 'utf8').match(/retrying until it answers/g) || [];
	assert.equal(warned.length, 1, 'outage logged ' + warned.length + ' times');
	const rs = h.spawnTracked(process.env.REDIS_SERVER || 'redis-server', ['--port',
	    String(e.redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
	    '--dir', e.tmp], { stdio: 'ignore' });
	const r2 = await h.waitFor(async () => {
		const c = redisClient(e.redisPort);
		try {
			await c.ready;
			return c;
		} catch (err) {
			return null;
		}
	}, 10000, 100);
	assert.ok(r2, 'redis did not come back');
	const after = [];
	for (let k = 0; k < 30; k++, next++) {
		const rc = makeReceipt(next);
		after.push(rc.id);
		await r2.cmd('XADD', 'nm:receipts', '*', 'r', receiptLine(key, rc));
	}
	const back = await h.waitFor(() => {
		let text = '';
		for (const f of fs.readdirSync(dir).filter((x) => x.startsWith('receipts-')))
			text += fs.readFileSync(path.join(dir, f), 'utf8');
		return after.every((id) => text.includes('"id":"' + id + '"'));
	}, 15000, 100);
	assert.ok(back, 'receipts pushed after the outage did not reach the files');
	assert.match(fs.readFileSync(logName, 'utf8'), /answers again/);
	assert.equal((await h.killChild(lone, 5000)).code, 0);
	r2.close();
	await h.killChild(rs, 3000);
	await e.stop();
	process.stdout.write('# ok: ' + total + ' receipts once each, ' + bad +
	    ' set aside, aggregates = files = export\n');
}

main().then(() => process.exit(0), (err) => {
	process.stderr.write((err && err.stack) || String(err));
	process.stderr.write('\n');
	process.exit(1);
});
