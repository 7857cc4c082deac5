/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * /metrics: Prometheus text format 0.0.4 with the request counter (by
 * status, model and provider), the request duration histogram and the open
 * connections gauge; counters move by exactly what was sent.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

h.requireBuild();

/* Parse exposition text: {types: {name: type}, samples: [{name, labels, value}]}. */
function parseMetrics(text) {
	const types = {};
	const samples = [];
	const lineRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
	const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/g;
	for (const line of text.split('\n')) {
		if (line === '')
			continue;
		if (line.startsWith('#')) {
			const m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
			if (m)
				types[m[1]] = m[2];
			else
				assert.match(line, /^# (HELP \S+ .*|TYPE .*|.*)$/);
			continue;
		}
		const m = lineRe.exec(line);
		assert.ok(m, 'not an exposition line: ' + JSON.stringify(line));
		const labels = {};
		if (m[3] !== undefined && m[3] !== '') {
			let lm;
			let consumed = 0;
			labelRe.lastIndex = 0;
			while ((lm = labelRe.exec(m[3])) !== null) {
				labels[lm[1]] = lm[2];
				consumed = labelRe.lastIndex;
			}
			assert.equal(consumed, m[3].length, 'bad label set: ' + line);
		}
		const v = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
		assert.ok(!Number.isNaN(v) || m[4] === 'NaN', 'bad value: ' + line);
		samples.push({ name: m[1], labels, value: v });
	}
	return { types, samples };
}

/* Sum of the samples named name whose labels include all of want. */
function sum(parsed, name, want) {
	let s = 0;
	for (const x of parsed.samples) {
		if (x.name !== name)
			continue;
		if (Object.entries(want || {}).every(([k, v]) => x.labels[k] === v))
			s += x.value;
	}
	return s;
}

/* Scrape /metrics and parse it. */
async function scrape(env) {
	const r = await h.request(env.url + '/metrics');
	assert.equal(r.status, 200, r.text);
	assert.match(r.headers['content-type'] || '', /^text\/plain/);
	assert.match(r.headers['content-type'] || '', /version=0\.0\.4/);
	return parseMetrics(r.text);
}

/* Check the histogram family name: cumulative buckets, +Inf == count. */
function checkHistogram(parsed, name) {
	assert.equal(parsed.types[name], 'histogram', name + ' is not typed histogram');
	const buckets = parsed.samples.filter((s) => s.name === name + '_bucket');
	assert.ok(buckets.length >= 2, 'no buckets for ' + name);
	const series = {};
	for (const b of buckets) {
		assert.ok('le' in b.labels, 'bucket without le');
		const rest = Object.entries(b.labels).filter(([k]) => k !== 'le').sort();
		const key = JSON.stringify(rest);
		(series[key] = series[key] || []).push(b);
	}
	for (const [key, bs] of Object.entries(series)) {
		const les = bs.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
		assert.ok(les.includes(Infinity), 'no le="+Inf" bucket for ' + key);
		const sorted = bs.slice().sort((a, b) => (a.labels.le === '+Inf' ? Infinity :
		    Number(a.labels.le)) - (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
		for (let i = 1; i < sorted.length; i++)
			assert.ok(sorted[i].value >= sorted[i - 1].value, 'buckets not cumulative: ' + key);
		const want = Object.fromEntries(JSON.parse(key));
		const count = parsed.samples.filter((s) => s.name === name + '_count' &&
		    JSON.stringify(Object.entries(s.labels).sort()) === key);
		assert.equal(count.length, 1, 'no _count for ' + key);
		assert.equal(sorted[sorted.length - 1].value, count[0].value, '+Inf != _count for ' + key);
		assert.ok(sum(parsed, name + '_sum', want) >= 0);
	}
}

test('metrics', async (t) => {
	/* One worker: every scrape sees every request. */
	const env = await h.startEnv({ workers: 1 });
	try {
		await t.test('format and families', async () => {
			const p = await scrape(env);
			assert.equal(p.types.nextmodel_requests_total, 'counter');
			assert.equal(p.types.nextmodel_open_connections, 'gauge');
			assert.equal(p.types.nextmodel_request_duration_seconds, 'histogram');
			assert.ok(p.samples.some((s) => s.name === 'nextmodel_open_connections'));
		});

		await t.test('counters move with requests', async () => {
			const before = await scrape(env);
			const ok = { status: '200', model: 'mock-gpt', provider: 'mock' };
			for (let i = 0; i < 3; i++)
				assert.equal((await env.chat(h.chatBody('count ' + i))).status, 200);
			const s = await env.stream(h.chatBody('count stream', { stream: true }));
			assert.equal(s.done, true);
			assert.equal((await env.chat({ model: 'no-such-model',
			    messages: [{ role: 'user', content: 'x' }] })).status, 404);
			assert.equal((await env.chat(h.chatBody('boom [[mock:status=500]]'))).status, 502);
			/*
			 * A request is counted when its connection is done with it, which
			 * can be a moment after the client has read the answer: wait for
			 * the counters to settle (at most 2 s), then check them exactly.
			 */
			let after = null;
			const d = (want) => sum(after, 'nextmodel_requests_total', want) -
			    sum(before, 'nextmodel_requests_total', want);
			await h.waitFor(async () => {
				after = await scrape(env);
				return d(ok) >= 4 && d({ status: '404' }) >= 1 &&
				    d({ status: '502', model: 'mock-gpt', provider: 'mock' }) >= 1;
			}, 2000, 50);
			assert.equal(d(ok), 4, 'requests_total{status="200",model="mock-gpt",' +
			    'provider="mock"} moved by ' + d(ok));
			assert.equal(d({ status: '404' }), 1, '404 counted ' + d({ status: '404' }));
			assert.equal(d({ status: '502', model: 'mock-gpt', provider: 'mock' }), 1);
			for (const x of after.samples.filter((y) => y.name === 'nextmodel_requests_total')) {
				for (const k of ['status', 'model', 'provider'])
					assert.ok(k in x.labels, 'requests_total without ' + k + ': ' +
					    JSON.stringify(x.labels));
			}
			checkHistogram(after, 'nextmodel_request_duration_seconds');
			const dc = sum(after, 'nextmodel_request_duration_seconds_count') -
			    sum(before, 'nextmodel_request_duration_seconds_count');
			assert.ok(dc >= 4, 'duration histogram count moved by ' + dc);
			const ds = sum(after, 'nextmodel_request_duration_seconds_sum') -
			    sum(before, 'nextmodel_request_duration_seconds_sum');
			assert.ok(ds > 0, 'duration sum did not grow');
		});

		await t.test('a slow request lands in a high bucket', async () => {
			const before = await scrape(env);
			assert.equal((await env.chat(h.chatBody('slow [[mock:delay=600]]'))).status, 200);
			const b = (p, le) => sum(p, 'nextmodel_request_duration_seconds_bucket', { le });
			const les = [...new Set(before.samples.filter((s) =>
			    s.name === 'nextmodel_request_duration_seconds_bucket').map((s) => s.labels.le))];
			/*
			 * The histogram may count every HTTP request (scrapes too), but
			 * only this one took more than 0.5 s: exactly one more
			 * observation above the highest bucket bound <= 0.5.
			 */
			const low = les.filter((le) => le !== '+Inf' && Number(le) <= 0.5)
			    .map(Number).sort((x, y) => y - x);
			assert.ok(low.length > 0, 'no bucket bound at or below 0.5 s: ' + les);
			const le = les.find((x) => x !== '+Inf' && Number(x) === low[0]);
			const above = (p) => b(p, '+Inf') - b(p, le);
			/* Counted when the connection is done with it: let it settle. */
			let after = null;
			await h.waitFor(async () => {
				after = await scrape(env);
				return above(after) - above(before) >= 1;
			}, 2000, 50);
			assert.equal(above(after) - above(before), 1,
			    'observations above le=' + le + ' moved by ' + (above(after) - above(before)));
		});

		await t.test('open connections gauge sees an open stream', async () => {
			let started = false;
			const sp = env.stream(h.chatBody('hold [[mock:chunk_delay=300]] [[mock:chunks=5]]',
			    { stream: true }), { onEvent: () => {
				started = true;
			} });
			await h.waitFor(() => started, 5000, 10);
			const p = await scrape(env);
			const open = sum(p, 'nextmodel_open_connections');
			assert.ok(open >= 1, 'open_connections is ' + open + ' with a stream open');
			assert.equal((await sp).done, true);
		});
	} finally {
		await env.stop();
	}

	await t.test('two workers: what a scrape sees (informational)', async () => {
		const env2 = await h.startEnv({ workers: 2 });
		try {
			for (let i = 0; i < 10; i++)
				assert.equal((await env2.chat(h.chatBody('w ' + i))).status, 200);
			const seen = [];
			for (let i = 0; i < 6; i++) {
				const p = await scrape(env2);
				seen.push(sum(p, 'nextmodel_requests_total', { status: '200',
				    model: 'mock-gpt' }));
			}
			t.diagnostic('10 requests over 2 workers; six scrapes saw ' + seen.join(', ') +
			    (seen.every((x) => x === 10) ? ' (aggregated)' : ' (per worker, not aggregated)'));
		} finally {
			await env2.stop();
		}
	});
});
