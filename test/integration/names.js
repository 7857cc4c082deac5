/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The shipped catalog (etc/models.yaml) answers to the names users type:
 * every name our product pages show, the price comparison's display
 * names and spelling variants (dots or dashes in versions, case, an
 * OpenRouter-style vendor/ prefix), each through the OpenAI SDK with the
 * catalog's providers pointed at the mock; an unknown name gets a 404
 * with close names; /v1/models shows where each price comes from; and
 * nextmodelctl models --search / --stale and policy check on it.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

h.requireBuild();
const OpenAI = h.requirePackage('openai');

const CATALOG = path.join(h.SRCDIR, 'etc', 'models.yaml');

/* The shipped catalog's providers, each pointed at the mock in its wire format. */
const compat = (dialect) => ({ kind: 'openai', api_key_env: 'MOCK_API_KEY', dialect,
    mock_path: '/' + dialect + '/v1' });
const PROVIDERS = {
	openai: { kind: 'openai', api_key_env: 'MOCK_API_KEY', dialect: 'openai',
	    mock_path: '/v1' },
	anthropic: { kind: 'anthropic', api_key_env: 'MOCK_API_KEY', mock_path: '' },
	google: { kind: 'gemini', api_key_env: 'MOCK_API_KEY', mock_path: '' },
	deepseek: compat('deepseek'),
	alibaba: compat('dashscope'),
	volcengine: compat('ark'),
	moonshot: compat('moonshot'),
	openrouter: compat('openrouter'),
};

/* Name as typed -> [catalog id that serves it, what the source is asked for]. */
const NAMES = {
	/* The product page's model names. */
	'claude-sonnet-4-5': ['claude-sonnet-4-5', 'claude-sonnet-4-5'],
	'gpt-4o-mini': ['gpt-4o-mini', 'gpt-4o-mini'],
	'gemini-2-5-flash': ['gemini-2.5-flash', 'gemini-2.5-flash'],
	'deepseek-v3': ['deepseek-flash', 'deepseek-flash'],
	'deepseek-v4-flash': ['deepseek-flash', 'deepseek-flash'],
	'deepseek-r1': ['deepseek-v4-pro', 'deepseek-v4-pro'],
	'mistral-small-3-2': ['mistralai/mistral-small-3.2-24b-instruct',
	    'mistralai/mistral-small-3.2-24b-instruct'],
	'llama-4-maverick': ['meta-llama/llama-4-maverick', 'meta-llama/llama-4-maverick'],
	'doubao-seed-2-0-mini': ['doubao-seed-2-0-mini', 'doubao-seed-2-0-mini-260215'],
	'qwen3-coder-plus': ['qwen3-coder-plus', 'qwen3-coder-plus'],
	'qwen3-max': ['qwen3-max', 'qwen3-max'],
	'kimi-k2-6': ['kimi-k2.6', 'kimi-k2.6'],
	/* The price comparison's display names. */
	'GPT-4o mini': ['gpt-4o-mini', 'gpt-4o-mini'],
	'Doubao Mini': ['doubao-seed-2-0-mini', 'doubao-seed-2-0-mini-260215'],
	'Gemini Flash': ['gemini-2.5-flash', 'gemini-2.5-flash'],
	'DeepSeek R1': ['deepseek-v4-pro', 'deepseek-v4-pro'],
	'Gemini Pro': ['gemini-2.5-pro', 'gemini-2.5-pro'],
	'Claude Sonnet': ['claude-sonnet-4-5', 'claude-sonnet-4-5'],
	/* Spellings: one rule, no alias each. */
	'gemini-2.5-flash': ['gemini-2.5-flash', 'gemini-2.5-flash'],
	'anthropic/claude-sonnet-4-5': ['claude-sonnet-4-5', 'claude-sonnet-4-5'],
	'Claude-Sonnet-4.5': ['claude-sonnet-4-5', 'claude-sonnet-4-5'],
	'google/gemini-2.5-flash': ['gemini-2.5-flash', 'gemini-2.5-flash'],
	'moonshotai/kimi-k2.6': ['kimi-k2.6', 'kimi-k2.6'],
	'doubao-seed-2.0-mini': ['doubao-seed-2-0-mini', 'doubao-seed-2-0-mini-260215'],
	'mistral-small-3.2': ['mistralai/mistral-small-3.2-24b-instruct',
	    'mistralai/mistral-small-3.2-24b-instruct'],
	/* A catalog id with a prefix stays itself (OpenRouter's route). */
	'openai/gpt-5.4-mini': ['openai/gpt-5.4-mini', 'openai/gpt-5.4-mini'],
	'openai/gpt-4o-mini': ['gpt-4o-mini', 'gpt-4o-mini'],
};

/* The model the source was asked for in the mock's last request. */
async function lastUpstreamModel(env) {
	const log = await env.mockRequests();
	assert.ok(log.length > 0, 'the mock got nothing');
	const last = log[log.length - 1];
	if (last.body && typeof last.body.model === 'string')
		return last.body.model;
	/* Gemini: /v1beta/models/{model}:generateContent */
	const m = /\/models\/([^:/?]+):/.exec(last.path);
	return m ? decodeURIComponent(m[1]) : null;
}

test('names', async (t) => {
	const env = await h.startEnv({ catalogFile: CATALOG, extraProviders: PROVIDERS });
	const client = new OpenAI({ baseURL: env.baseURL, apiKey: env.key, maxRetries: 0,
	    timeout: 30000 });
	try {
		await t.test('every listed name and spelling answers', async () => {
			for (const [name, [id, upstream]] of Object.entries(NAMES)) {
				const { data, response } = await client.chat.completions.create({
					model: name, messages: [{ role: 'user', content: 'hello ' + name }],
				}).withResponse();
				assert.equal(data.object, 'chat.completion', name);
				assert.ok(data.choices[0].message.content.length > 0, name);
				assert.equal(response.headers.get('x-nextmodel-model'), id, name);
				assert.equal(await lastUpstreamModel(env), upstream, name);
			}
		});

		await t.test('an unknown name: 404 with close names', async () => {
			const cases = {
				'claude-sonet-4-5': ["'claude-sonnet-4-5'"],
				'qwen-plus': ["'qwen3.5-plus'"],
				'anthropic/claude-sonnet-4-7': ["'claude-sonnet-4-5'"],
				'maverick': ["'llama-4-maverick'"],
			};
			for (const [name, want] of Object.entries(cases)) {
				const err = await client.chat.completions.create({
					model: name, messages: [{ role: 'user', content: 'hi' }],
				}).then(() => null, (e) => e);
				assert.ok(err instanceof OpenAI.NotFoundError, name + ': ' + err);
				assert.equal(err.status, 404);
				assert.equal(err.code, 'model_not_found');
				assert.equal(err.param, 'model');
				assert.match(err.message, /Did you mean '[^']+'(, '[^']+')*( or '[^']+')?\?$/,
				    name);
				for (const w of want)
					assert.ok(err.message.includes(w), name + ': ' + err.message);
				const n = (err.message.match(/'[^']+'/g) || []).length - 1;
				assert.ok(n >= 1 && n <= 3, name + ': ' + n + ' suggestions');
			}
			const err = await client.chat.completions.create({
				model: 'no-such-thing-at-all-xyz', messages: [{ role: 'user', content: 'hi' }],
			}).then(() => null, (e) => e);
			assert.equal(err.status, 404);
			assert.doesNotMatch(err.message, /Did you mean/);
			/* /v1/models/{id} says the same. */
			const r = await env.get('/v1/models/gpt-4o-mnii');
			assert.equal(r.status, 404);
			h.assertErrorShape(r.json, 'unknown model');
			assert.match(r.json.error.message, /Did you mean 'gpt-4o-mini'/);
		});

		await t.test('every price has a source and a date', async () => {
			const list = await client.models.list();
			assert.ok(list.data.length >= 48);
			for (const m of list.data) {
				const x = m.nextmodel;
				assert.match(x.price_source, /^https:\/\/[^/\s]+/, m.id);
				assert.match(x.price_checked, /^\d{4}-\d{2}-\d{2}$/, m.id);
				assert.match(x.price_currency, /^[A-Z]{3}$/, m.id);
			}
		});

		await t.test('/v1/models/{id}: a CNY price and its rate', async () => {
			const m = await client.models.retrieve('doubao-seed-2-0-mini');
			assert.equal(m.id, 'doubao-seed-2-0-mini');
			const x = m.nextmodel;
			assert.equal(x.upstream_model, 'doubao-seed-2-0-mini-260215');
			assert.equal(x.price_currency, 'CNY');
			assert.deepEqual(x.price_original, { input_per_mtok: '0.2', output_per_mtok: '2' });
			assert.equal(x.exchange_rate.currency, 'CNY');
			assert.match(x.exchange_rate.per_usd, /^\d+(\.\d+)?$/);
			assert.match(x.exchange_rate.date, /^\d{4}-\d{2}-\d{2}$/);
			/* The USD price is the original at that rate, rounded up to 1e-6. */
			const rate = Number(x.exchange_rate.per_usd);
			assert.equal(x.input_per_mtok, (Math.ceil(0.2 / rate * 1e6 - 1e-9) / 1e6).toString());
			assert.equal(x.output_per_mtok, (Math.ceil(2 / rate * 1e6 - 1e-9) / 1e6).toString());
			/* Looked up by another spelling: the same model. */
			const again = await client.models.retrieve('Doubao-Seed-2.0-Mini');
			assert.equal(again.id, 'doubao-seed-2-0-mini');
			const usd = await client.models.retrieve('gpt-4o-mini');
			assert.equal(usd.nextmodel.price_currency, 'USD');
			assert.equal(usd.nextmodel.price_original, undefined);
		});

		await t.test('nextmodelctl models --search and --stale', () => {
			let r = env.ctl(['models', '--search', 'Maverick']);
			assert.equal(r.code, 0, r.stderr);
			assert.match(r.stdout, /^MODEL\s+PROVIDER/);
			assert.match(r.stdout, /meta-llama\/llama-4-maverick\s+openrouter/);
			assert.equal(r.stdout.trim().split('\n').length, 2, r.stdout);
			r = env.ctl(['models', '--search', 'seed 2.0', '--format', 'json']);
			assert.equal(r.code, 0, r.stderr);
			const found = JSON.parse(r.stdout).map((m) => m.id);
			assert.deepEqual(found, ['doubao-seed-2-0-mini']);
			r = env.ctl(['models', '--search', 'no-such-model']);
			assert.equal(r.code, 1);
			assert.match(r.stderr, /no model matches "no-such-model"/);
			/* Nothing in the shipped catalog is 100 years old... */
			r = env.ctl(['models', '--stale', '36500', '--format', 'json']);
			assert.equal(r.code, 0, r.stderr);
			assert.deepEqual(JSON.parse(r.stdout), []);
			/* ...and everything was checked before today (or today). */
			r = env.ctl(['models', '--stale', '0', '--format', 'json']);
			assert.equal(r.code, 0, r.stderr);
			const all = JSON.parse(r.stdout);
			for (const m of all)
				assert.ok(m.price_age_days > 0, m.id);
			r = env.ctl(['models', '--stale', 'soon']);
			assert.equal(r.code, 2);
			r = env.ctl(['models', '--stale', '3', '--region', 'cn']);
			assert.equal(r.code, 2);
		});

		await t.test('policy check warns about old prices, and passes', () => {
			const text = fs.readFileSync(CATALOG, 'utf8');
			fs.writeFileSync(env.catalogPath, text.replace(/price_checked: \d{4}-\d{2}-\d{2}/,
			    'price_checked: 2020-01-01'));
			const r = env.ctl(['policy', 'check']);
			assert.equal(r.code, 0, r.stderr);
			assert.match(r.stdout, /^ok: \d+ providers, \d+ models/);
			assert.match(r.stderr, /warning: \S*models\.yaml:\d+: model gpt-5\.5: prices checked 2020-01-01, \d+ days ago \(more than 90\): check https:\/\/developers\.openai\.com\/api\/docs\/pricing again/);
		});
	} finally {
		await env.stop();
	}
});
