/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * The integration test harness: startEnv() gives each test file a private
 * redis-server, a mock model source and a nextmodeld on free loopback ports,
 * with a config and catalog written to a temp dir, plus HTTP and SSE client
 * helpers.  Every child is killed when the test process exits, whatever happened.
 */
'use strict';

const assert = require('node:assert/strict');
const child_process = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const SKIP = 77;
const SRCDIR = process.env.NM_SRCDIR || path.resolve(__dirname, '..', '..');
const BUILDDIR = process.env.NM_BUILDDIR || '';
const MOCK_SCRIPT = path.join(SRCDIR, 'test', 'mock-source.js');
const MOCK_KEY = 'mock-key-123';

/* Children to kill at exit, and temp dirs to remove (or keep) at exit. */
const children = new Set();
const tmpdirs = new Set();

/* Resolve after ms milliseconds. */
function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/* Is pid alive (and not a zombie)? */
function alive(pid) {
	try {
		const st = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
		const state = st.slice(st.lastIndexOf(')') + 2).split(' ')[0];
		return state !== 'Z' && state !== 'X';
	} catch (e) {
		return false;
	}
}

/* Is pid (still) a nextmodeld process?  Guards against signalling a reused pid. */
function isGateway(pid) {
	try {
		return fs.readFileSync('/proc/' + pid + '/cmdline', 'latin1').split('\0')[0]
		    .endsWith('nextmodeld');
	} catch (e) {
		return false;
	}
}

/* Send sig to pid, ignoring a process that is already gone. */
function signal(pid, sig) {
	try {
		process.kill(pid, sig);
		return true;
	} catch (e) {
		return false;
	}
}

process.on('exit', (code) => {
	for (const c of children) {
		if (c.exitCode === null && c.signalCode === null)
			signal(c.pid, 'SIGKILL');
		for (const pid of c.nmExtraPids || []) {
			if (isGateway(pid))
				signal(pid, 'SIGKILL');
		}
	}
	for (const dir of tmpdirs) {
		if (code === 0 && !process.env.NM_KEEP_TMP) {
			try {
				fs.rmSync(dir, { recursive: true, force: true });
			} catch (e) {
				/* nothing more to do at exit */
			}
		} else {
			process.stderr.write('harness: kept ' + dir + '\n');
		}
	}
});
/* A test file that hangs fails instead of blocking make check forever. */
setTimeout(() => {
	process.stderr.write('harness: watchdog: the test ran for more than ' +
	    (Number(process.env.NM_TEST_TIMEOUT_S) || 600) + ' s\n');
	process.exit(1);
}, (Number(process.env.NM_TEST_TIMEOUT_S) || 600) * 1000).unref();

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
	process.on(sig, () => process.exit(128 + os.constants.signals[sig]));

/* Print why and exit 77 (automake's "skipped"). */
function skip(why) {
	process.stdout.write('# SKIP ' + why + '\n');
	process.exit(SKIP);
}

/*
 * Check what every integration test needs (the built programs, a
 * redis-server); exit 77 when something is missing.
 */
function requireBuild() {
	if (BUILDDIR === '')
		skip('NM_BUILDDIR is not set');
	for (const prog of ['nextmodeld', 'nextmodelctl']) {
		const p = path.join(BUILDDIR, prog);
		try {
			fs.accessSync(p, fs.constants.X_OK);
		} catch (e) {
			skip(p + ' is not built');
		}
	}
	const rs = process.env.REDIS_SERVER || 'redis-server';
	const r = child_process.spawnSync(rs, ['--version'], { encoding: 'utf8' });
	if (r.error || r.status !== 0)
		skip('no redis-server (' + rs + ')');
}

/* Load an npm package through NODE_PATH (or test/node_modules); exit 77 if absent. */
function requirePackage(name) {
	try {
		return require(name);
	} catch (e) {
		try {
			return require(path.join(SRCDIR, 'test', 'node_modules', name));
		} catch (e2) {
			skip('npm package ' + name + ' is not installed (npm install in test/)');
		}
	}
	return null;
}

/* A free loopback TCP port (bind 0, read it, close). */
function freePort() {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
			const port = srv.address().port;
			srv.close(() => resolve(port));
		});
	});
}

/* Spawn a child that is killed when the test process exits. */
function spawnTracked(cmd, args, options) {
	const c = child_process.spawn(cmd, args, options);
	children.add(c);
	c.nmExit = new Promise((resolve) => {
		c.on('exit', (code, sig) => resolve({ code, signal: sig }));
	});
	c.on('error', () => {});
	return c;
}

/* Signal a tracked child, then SIGKILL it after ms; resolves with its exit. */
async function killChild(c, ms) {
	if (c.exitCode !== null || c.signalCode !== null)
		return c.nmExit;
	signal(c.pid, 'SIGTERM');
	const t = setTimeout(() => signal(c.pid, 'SIGKILL'), ms);
	const r = await c.nmExit;
	clearTimeout(t);
	return r;
}

/* Connect to a TCP port and see whether redis answers PING. */
function redisPing(port) {
	return new Promise((resolve) => {
		const s = net.connect({ port, host: '127.0.0.1' });
		let buf = '';
		const done = (ok) => {
			s.destroy();
			resolve(ok);
		};
		s.setTimeout(1000, () => done(false));
		s.on('error', () => done(false));
		s.on('connect', () => s.write('PING\r\n'));
		s.on('data', (d) => {
			buf += d.toString();
			if (buf.includes('\r\n'))
				done(buf.startsWith('+PONG'));
		});
	});
}

/* Start a private redis-server on a free port in dir.  Retries on a port race. */
async function startRedis(dir) {
	const rs = process.env.REDIS_SERVER || 'redis-server';
	for (let attempt = 0; attempt < 5; attempt++) {
		const port = await freePort();
		const c = spawnTracked(rs, ['--port', String(port), '--bind', '127.0.0.1',
		    '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no',
		    '--logfile', path.join(dir, 'redis.log')],
		    { stdio: ['ignore', 'ignore', 'ignore'] });
		const deadline = Date.now() + 10000;
		while (Date.now() < deadline) {
			if (c.exitCode !== null || c.signalCode !== null)
				break;
			if (await redisPing(port))
				return { proc: c, port };
			await sleep(50);
		}
		await killChild(c, 1000);
	}
	throw new Error('could not start redis-server (' + rs + ')');
}

/* Start the mock source on a free port; resolves {proc, port, url}. */
function startMock(dir) {
	return new Promise((resolve, reject) => {
		const log = fs.openSync(path.join(dir, 'mock.log'), 'a');
		const c = spawnTracked(process.execPath, [MOCK_SCRIPT, '--port', '0'],
		    { stdio: ['ignore', 'pipe', log] });
		fs.closeSync(log);
		let out = '';
		const timer = setTimeout(() => reject(new Error('mock source did not start')), 10000);
		c.stdout.on('data', (d) => {
			out += d.toString();
			const m = /listening (\d+)/.exec(out);
			if (m) {
				clearTimeout(timer);
				const port = Number(m[1]);
				resolve({ proc: c, port, url: 'http://127.0.0.1:' + port });
			}
		});
		c.on('exit', () => reject(new Error('mock source exited: ' +
		    fs.readFileSync(path.join(dir, 'mock.log'), 'utf8'))));
	});
}

/* YAML scalar: numbers and booleans bare, strings double-quoted (JSON is valid YAML). */
function yamlScalar(v) {
	if (typeof v === 'number' || typeof v === 'boolean')
		return String(v);
	if (Array.isArray(v))
		return '[' + v.map(yamlScalar).join(', ') + ']';
	return JSON.stringify(String(v));
}

/* An object of scalars as indented "key: value" lines. */
function yamlMap(obj, indent) {
	let s = '';
	for (const [k, v] of Object.entries(obj)) {
		if (v === undefined || v === null)
			continue;
		if (typeof v === 'object' && !Array.isArray(v))
			s += indent + k + ':\n' + yamlMap(v, indent + '  ');
		else
			s += indent + k + ': ' + yamlScalar(v) + '\n';
	}
	return s;
}

/* The default catalog entry every environment has. */
function defaultModel() {
	return {
		id: 'mock-gpt',
		provider: 'mock',
		upstream_model: 'mock-gpt-upstream',
		input_per_mtok: 0.15,
		output_per_mtok: 0.6,
		cached_input_per_mtok: 0.075,
		context_window: 128000,
		max_output: 16384,
		capabilities: ['tools', 'json', 'vision', 'streaming'],
		region: 'global',
		latency_ms: 600,
	};
}

/* The text of nextmodel.yaml for these ports and options. */
function configText(e, opts) {
	const mockProvider = {
		kind: 'openai',
		base_url: e.mockUrl + '/v1',
		api_key_env: 'MOCK_API_KEY',
		timeout_ms: opts.timeout_ms,
		idle_timeout_ms: opts.idle_timeout_ms,
		connect_timeout_ms: opts.connect_timeout_ms,
	};
	/*
	 * An extra provider points at the mock: at base_url if given, else at
	 * the mock's origin + mock_path (default '/v1'; '' for the Anthropic and
	 * Gemini formats, '/deepseek/v1' for a dialect), known only once the
	 * mock listens.
	 */
	const providers = { mock: mockProvider };
	for (const [name, spec] of Object.entries(opts.extraProviders || {})) {
		const p = Object.assign({}, spec);
		delete p.mock_path;
		if (p.base_url === undefined)
			p.base_url = e.mockUrl + (spec.mock_path === undefined ? '/v1' : spec.mock_path);
		providers[name] = p;
	}
	const top = {
		listen: '127.0.0.1:' + e.port,
		workers: opts.workers === undefined ? 2 : opts.workers,
		threads: opts.threads === undefined ? 2 : opts.threads,
		redis: 'redis://127.0.0.1:' + e.redisPort + '/0',
		secret_env: 'NEXTMODEL_SECRET',
		admin_key_env: 'NEXTMODEL_ADMIN_KEY',
		catalog: 'models.yaml',
		ledger_dir: path.join(e.tmp, 'ledger'),
		spool_dir: path.join(e.tmp, 'spool'),
		shutdown_timeout_ms: opts.shutdown_timeout_ms,
		key_cache_ms: opts.key_cache_ms,
	};
	const limits = {};
	for (const k of ['max_body_bytes', 'max_header_bytes', 'max_json_depth',
	    'max_json_tokens', 'max_upstream_bytes', 'max_connections',
	    'max_body_memory_bytes', 'header_timeout_ms', 'body_timeout_ms',
	    'max_connections_per_client']) {
		if (opts[k] !== undefined)
			limits[k] = opts[k];
	}
	if (Object.keys(limits).length > 0)
		top.limits = limits;
	Object.assign(top, opts.extraConfig || {});
	let s = '# written by test/integration/harness.js\n' + yamlMap(top, '');
	s += 'providers:\n';
	for (const [name, p] of Object.entries(providers))
		s += '  ' + name + ':\n' + yamlMap(p, '    ');
	return s;
}

/* The text of models.yaml. */
function catalogText(opts) {
	const models = [defaultModel()].concat(opts.extraModels || []);
	let s = '# written by test/integration/harness.js\nmodels:\n';
	for (const m of models) {
		const lines = yamlMap(m, '    ').split('\n').filter((l) => l !== '');
		s += '  - ' + lines[0].trimStart() + '\n';
		for (const l of lines.slice(1))
			s += l + '\n';
	}
	return s;
}

/* The pids whose parent is ppid (from /proc/<pid>/stat), sorted. */
function childrenOf(ppid) {
	const out = [];
	for (const ent of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(ent))
			continue;
		let st;
		try {
			st = fs.readFileSync('/proc/' + ent + '/stat', 'utf8');
		} catch (e) {
			continue;
		}
		const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
		/* f[0] state, f[1] ppid */
		if (Number(f[1]) === ppid && f[0] !== 'Z' && f[0] !== 'X')
			out.push(Number(ent));
	}
	return out.sort((a, b) => a - b);
}

/* One field of /proc/<pid>/status as a number (VmRSS in kB, Threads), or null. */
function procStatus(pid, field) {
	try {
		const st = fs.readFileSync('/proc/' + pid + '/status', 'utf8');
		const m = new RegExp('^' + field + ':\\s+(\\d+)', 'm').exec(st);
		return m ? Number(m[1]) : null;
	} catch (e) {
		return null;
	}
}

/* Poll fn until it returns a truthy value or ms pass; returns the last value. */
async function waitFor(fn, ms, step) {
	const deadline = Date.now() + ms;
	let v;
	for (;;) {
		v = await fn();
		if (v || Date.now() >= deadline)
			return v;
		await sleep(step || 50);
	}
}

/*
 * One HTTP request.  opts: method, headers, body (string, Buffer or object
 * -> JSON), agent, timeout (ms, default 30000).  Resolves {status, headers,
 * text, json, t} or rejects with the socket error (err.code).
 */
function request(url, opts) {
	opts = opts || {};
	return new Promise((resolve, reject) => {
		let body = opts.body;
		const headers = Object.assign({}, opts.headers || {});
		if (body !== undefined && !Buffer.isBuffer(body) && typeof body !== 'string') {
			body = JSON.stringify(body);
			if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
				headers['content-type'] = 'application/json';
		}
		const req = http.request(url, { method: opts.method || (body === undefined ? 'GET' : 'POST'),
		    headers, agent: opts.agent === undefined ? false : opts.agent });
		const timer = setTimeout(() => req.destroy(Object.assign(new Error('client timeout'),
		    { code: 'CLIENT_TIMEOUT' })), opts.timeout || 30000);
		req.on('error', (err) => {
			clearTimeout(timer);
			reject(err);
		});
		req.on('response', (res) => {
			const parts = [];
			res.on('data', (d) => parts.push(d));
			res.on('error', (err) => {
				clearTimeout(timer);
				reject(err);
			});
			res.on('end', () => {
				clearTimeout(timer);
				const text = Buffer.concat(parts).toString('utf8');
				let json;
				try {
					json = JSON.parse(text);
				} catch (e) {
					json = undefined;
				}
				resolve({ status: res.statusCode, headers: res.headers, text, json });
			});
		});
		if (body !== undefined)
			req.end(body);
		else
			req.end();
	});
}

/*
 * A streaming request read as SSE.  Resolves {status, headers, events,
 * raw, done, error, ended}: events is a list of {data, json, t, comments}
 * (t: ms since the request was sent), done is true when "data: [DONE]"
 * came, error the parsed JSON of an {"error":...} event, ended 'end' or
 * the socket error code.  onEvent(ev) is called as each event arrives.
 */
function streamRequest(url, opts) {
	opts = opts || {};
	return new Promise((resolve, reject) => {
		const body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
		const headers = Object.assign({ 'content-type': 'application/json' }, opts.headers || {});
		const t0 = Date.now();
		const req = http.request(url, { method: 'POST', headers,
		    agent: opts.agent === undefined ? false : opts.agent });
		const out = { status: 0, headers: {}, events: [], raw: '', done: false,
		    error: null, ended: null, afterDone: '' };
		let buf = '';
		let finished = false;
		const timer = setTimeout(() => req.destroy(Object.assign(new Error('client timeout'),
		    { code: 'CLIENT_TIMEOUT' })), opts.timeout || 60000);
		const finish = (how) => {
			if (finished)
				return;
			finished = true;
			clearTimeout(timer);
			out.ended = how;
			resolve(out);
		};
		const parse = () => {
			for (;;) {
				const m = /\r\n\r\n|\n\n|\r\r/.exec(buf);
				if (!m)
					break;
				const block = buf.slice(0, m.index);
				buf = buf.slice(m.index + m[0].length);
				const data = [];
				const comments = [];
				for (const line of block.split(/\r\n|\n|\r/)) {
					if (line.startsWith(':'))
						comments.push(line);
					else if (line.startsWith('data:'))
						data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
				}
				if (data.length === 0) {
					if (comments.length)
						out.events.push({ data: null, comments, t: Date.now() - t0 });
					continue;
				}
				if (out.done) {
					out.afterDone += block + '\n\n';
					continue;
				}
				const ev = { data: data.join('\n'), comments, t: Date.now() - t0 };
				if (ev.data === '[DONE]') {
					out.done = true;
				} else {
					try {
						ev.json = JSON.parse(ev.data);
					} catch (e) {
						ev.json = undefined;
					}
					if (ev.json && ev.json.error)
						out.error = ev.json;
				}
				out.events.push(ev);
				if (opts.onEvent)
					opts.onEvent(ev);
			}
		};
		req.on('error', (err) => {
			if (out.status === 0) {
				clearTimeout(timer);
				finished = true;
				reject(err);
			} else {
				finish(err.code || String(err));
			}
		});
		req.on('response', (res) => {
			out.status = res.statusCode;
			out.headers = res.headers;
			out.tHeaders = Date.now() - t0;
			res.setEncoding('utf8');
			res.on('data', (d) => {
				out.raw += d;
				buf += d;
				parse();
			});
			res.on('aborted', () => finish('aborted'));
			res.on('error', (err) => finish(err.code || String(err)));
			res.on('end', () => {
				if (out.status !== 200) {
					try {
						out.json = JSON.parse(out.raw);
					} catch (e) {
						out.json = undefined;
					}
				}
				out.rest = buf;
				finish('end');
			});
			res.on('close', () => finish(res.complete ? 'end' : 'aborted'));
		});
		req.end(body);
	});
}

/* The content deltas of a stream, joined (choice 0). */
function streamText(s) {
	let text = '';
	for (const ev of s.events) {
		const c = ev.json && ev.json.choices && ev.json.choices[0];
		if (c && c.delta && typeof c.delta.content === 'string')
			text += c.delta.content;
	}
	return text;
}

/* Assert body is an OpenAI error object and return its error member. */
function assertErrorShape(json, what) {
	assert.ok(json && typeof json === 'object', (what || '') + ': body is not JSON');
	assert.ok(json.error && typeof json.error === 'object', (what || '') +
	    ': no error object in ' + JSON.stringify(json));
	for (const k of ['message', 'type', 'param', 'code'])
		assert.ok(k in json.error, (what || '') + ': error lacks "' + k + '": ' +
		    JSON.stringify(json));
	assert.equal(typeof json.error.message, 'string');
	assert.ok(json.error.message.length > 0, (what || '') + ': empty error message');
	return json.error;
}

/* A random key of the gateway's shape: "nm-" + 43 base64url characters. */
function randomKey() {
	return 'nm-' + crypto.randomBytes(32).toString('base64url');
}

/*
 * Start redis, the mock source and nextmodeld.  opts: workers, threads,
 * timeout_ms, idle_timeout_ms, connect_timeout_ms, shutdown_timeout_ms,
 * key_cache_ms, the limits: keys (max_body_bytes, max_header_bytes,
 * max_json_depth, max_json_tokens, max_upstream_bytes, max_connections),
 * extraConfig (object of top-level keys), extraProviders (each may give
 * mock_path instead of base_url), extraModels, env
 * (extra gateway env), startGateway (default true).  On failure everything
 * started so far is stopped before the error is thrown.
 */
async function startEnv(opts) {
	const started = [];
	try {
		return await startEnvInner(opts, started);
	} catch (err) {
		for (const c of started.reverse())
			await killChild(c, 2000);
		throw err;
	}
}

/* startEnv's work; every child it starts is pushed to started. */
async function startEnvInner(opts, started) {
	opts = opts || {};
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nm-it-'));
	tmpdirs.add(tmp);
	fs.mkdirSync(path.join(tmp, 'ledger'));
	const e = {
		tmp,
		cfgPath: path.join(tmp, 'nextmodel.yaml'),
		catalogPath: path.join(tmp, 'models.yaml'),
		logPath: path.join(tmp, 'nextmodeld.log'),
		adminKey: randomKey(),
		secret: crypto.randomBytes(32).toString('hex'),
		mockKey: MOCK_KEY,
		opts,
	};
	const redis = await startRedis(tmp);
	started.push(redis.proc);
	e.redis = redis.proc;
	e.redisPort = redis.port;
	const mock = await startMock(tmp);
	started.push(mock.proc);
	e.mock = mock.proc;
	e.mockPort = mock.port;
	e.mockUrl = mock.url;
	e.gwEnv = Object.assign({}, process.env, {
		MOCK_API_KEY: MOCK_KEY,
		NEXTMODEL_SECRET: e.secret,
		NEXTMODEL_ADMIN_KEY: e.adminKey,
	}, opts.env || {});
	delete e.gwEnv.NOTIFY_SOCKET;
	if (opts.env && opts.env.NOTIFY_SOCKET)
		e.gwEnv.NOTIFY_SOCKET = opts.env.NOTIFY_SOCKET;

	/* nextmodelctl, synchronously: {code, stdout, stderr}. */
	e.ctl = (args) => {
		const r = child_process.spawnSync(path.join(BUILDDIR, 'nextmodelctl'),
		    ['-c', e.cfgPath].concat(args), { env: e.gwEnv, encoding: 'utf8',
		    timeout: 30000 });
		return { code: r.status, stdout: r.stdout || '', stderr: r.stderr || '',
		    error: r.error };
	};
	/* nextmodelctl without blocking the event loop. */
	e.ctlAsync = (args) => new Promise((resolve) => {
		child_process.execFile(path.join(BUILDDIR, 'nextmodelctl'),
		    ['-c', e.cfgPath].concat(args), { env: e.gwEnv, timeout: 30000 },
		    (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0,
		    stdout, stderr }));
	});
	e.log = () => {
		try {
			return fs.readFileSync(e.logPath, 'utf8');
		} catch (err) {
			return '';
		}
	};
	e.configText = () => configText(e, opts);
	e.workers = () => (e.gatewayPid ? childrenOf(e.gatewayPid) : []);
	e.reload = (text) => {
		if (text !== undefined)
			fs.writeFileSync(e.cfgPath, text);
		return signal(e.gatewayPid, 'SIGHUP');
	};
	e.mockRequests = async () => (await request(e.mockUrl + '/_mock/requests')).json;
	e.mockClear = async () => request(e.mockUrl + '/_mock/requests', { method: 'DELETE' });
	e.mockStats = async () => (await request(e.mockUrl + '/_mock/stats')).json;
	e.mockStatsReset = async () => request(e.mockUrl + '/_mock/stats', { method: 'DELETE' });
	/* Authenticated helpers against the gateway. */
	e.auth = (key) => ({ authorization: 'Bearer ' + (key || e.key) });
	e.get = (p, key, extra) => request(e.url + p, Object.assign({
	    headers: e.auth(key) }, extra || {}));
	e.chat = (body, extra) => {
		extra = extra || {};
		return request(e.url + '/v1/chat/completions', Object.assign({}, extra, {
		    method: 'POST', body, headers: Object.assign(e.auth(extra.key),
		    extra.headers || {}) }));
	};
	e.stream = (body, extra) => {
		extra = extra || {};
		return streamRequest(e.url + '/v1/chat/completions', Object.assign({}, extra, {
		    body, headers: Object.assign(e.auth(extra.key), extra.headers || {}) }));
	};
	e.stopRedis = async () => killChild(e.redis, 5000);
	/* Start Redis again on the same port (empty: it keeps no data). */
	e.restartRedis = async () => {
		const rs = process.env.REDIS_SERVER || 'redis-server';
		const c = spawnTracked(rs, ['--port', String(e.redisPort), '--bind', '127.0.0.1',
		    '--save', '', '--appendonly', 'no', '--dir', tmp, '--daemonize', 'no',
		    '--logfile', path.join(tmp, 'redis.log')], { stdio: ['ignore', 'ignore', 'ignore'] });
		const deadline = Date.now() + 10000;
		while (Date.now() < deadline) {
			if (await redisPing(e.redisPort)) {
				e.redis = c;
				started.push(c);
				return c;
			}
			await sleep(50);
		}
		throw new Error('could not restart redis-server on port ' + e.redisPort);
	};
	/* One Redis command through redis-cli (raw output lines). */
	e.redisCmd = (args) => {
		const r = child_process.spawnSync(process.env.REDIS_CLI || 'redis-cli',
		    ['-p', String(e.redisPort), '--raw'].concat(args), { encoding: 'utf8', timeout: 10000 });
		if (r.status !== 0)
			throw new Error('redis-cli ' + args.join(' ') + ': ' + (r.stderr || r.error));
		return r.stdout;
	};
	e.startGateway = () => startGateway(e);
	e.stopGateway = (ms) => stopGateway(e, ms);
	e.stop = async () => {
		if (e.gateway)
			await stopGateway(e, 15000);
		await killChild(e.mock, 3000);
		await killChild(e.redis, 5000);
		/* A sanitizer report in the gateway's log fails the test. */
		const m = /(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:)[^\n]*/.exec(e.log());
		if (m)
			throw new Error('sanitizer report in ' + e.logPath + ': ' + m[0]);
	};

	/* opts.catalogFile: a catalog as shipped (e.g. etc/models.yaml), as is. */
	if (opts.catalogFile)
		fs.copyFileSync(opts.catalogFile, e.catalogPath);
	else
		fs.writeFileSync(e.catalogPath, catalogText(opts));
	e.port = await freePort();
	e.url = 'http://127.0.0.1:' + e.port;
	e.baseURL = e.url + '/v1';
	fs.writeFileSync(e.cfgPath, e.configText());

	const k = e.ctl(['key', 'create', '--project', 'test-project', '--team', 't1']);
	if (k.code !== 0)
		throw new Error('nextmodelctl key create failed (' + k.code + '): ' + k.stderr +
		    (k.error ? String(k.error) : ''));
	e.key = k.stdout.trim();
	if (opts.startGateway !== false)
		started.push(await startGateway(e));
	return e;
}

/* Start nextmodeld for env e and wait for /healthz; retries once on a port race. */
async function startGateway(e) {
	for (let attempt = 0; attempt < 3; attempt++) {
		const log = fs.openSync(e.logPath, 'a');
		const c = spawnTracked(path.join(BUILDDIR, 'nextmodeld'), ['-c', e.cfgPath],
		    { env: e.gwEnv, stdio: ['ignore', log, log] });
		fs.closeSync(log);
		e.gateway = c;
		e.gatewayPid = c.pid;
		c.nmExtraPids = [];
		const ok = await waitFor(async () => {
			if (c.exitCode !== null || c.signalCode !== null)
				return 'exited';
			try {
				const r = await request(e.url + '/healthz', { timeout: 2000 });
				return r.status === 200 ? 'up' : false;
			} catch (err) {
				return false;
			}
		}, 20000, 50);
		if (ok === 'up') {
			c.nmExtraPids = e.workers();
			/* Remember workers as they come, so exit can kill orphans. */
			e.workerWatch = setInterval(() => {
				for (const pid of e.workers())
					if (!c.nmExtraPids.includes(pid))
						c.nmExtraPids.push(pid);
			}, 500);
			e.workerWatch.unref();
			return c;
		}
		await killChild(c, 2000);
		if (ok === 'exited' && /address already in use|EADDRINUSE/i.test(e.log())) {
			e.port = await freePort();
			e.url = 'http://127.0.0.1:' + e.port;
			e.baseURL = e.url + '/v1';
			fs.writeFileSync(e.cfgPath, e.configText());
			continue;
		}
		throw new Error('nextmodeld did not become healthy (' + ok + '); log:\n' + e.log());
	}
	throw new Error('nextmodeld: no free port after 3 attempts; log:\n' + e.log());
}

/* Stop nextmodeld (SIGTERM, SIGKILL after ms) and any worker left behind. */
async function stopGateway(e, ms) {
	const c = e.gateway;
	if (!c)
		return null;
	if (e.workerWatch)
		clearInterval(e.workerWatch);
	const workers = e.workers().concat(c.nmExtraPids || []);
	const r = await killChild(c, ms);
	const deadline = Date.now() + 3000;
	for (const pid of workers) {
		while (alive(pid) && Date.now() < deadline)
			await sleep(50);
		if (alive(pid) && isGateway(pid))
			signal(pid, 'SIGKILL');
	}
	return r;
}

/*
 * The list-price cost of an OpenAI usage object on a catalog model (prices
 * as decimal text or numbers, USD per 1M tokens), as exact decimal text,
 * computed with BigInt in nano-USD and rounded half up once, the way the
 * gateway must.
 */
function expectedCost(usage, model) {
	const nano = (p) => {
		const [i, f = ''] = String(p).split('.');
		return BigInt(i) * 1000000000n + BigInt((f + '000000000').slice(0, 9));
	};
	const cached = BigInt((usage.prompt_tokens_details || {}).cached_tokens || 0);
	const written = BigInt((usage.prompt_tokens_details || {}).cache_write_tokens || 0);
	const prompt = BigInt(usage.prompt_tokens);
	const inP = nano(model.input_per_mtok);
	const cachedP = model.cached_input_per_mtok === undefined ? inP :
	    nano(model.cached_input_per_mtok);
	const writeP = model.cache_write_per_mtok === undefined ? inP :
	    nano(model.cache_write_per_mtok);
	const v = (prompt - cached - written) * inP + cached * cachedP + written * writeP +
	    BigInt(usage.completion_tokens || 0) * nano(model.output_per_mtok);
	let n = v / 1000000n;
	if (v % 1000000n >= 500000n)
		n++;
	const frac = (n % 1000000000n).toString().padStart(9, '0').replace(/0+$/, '');
	return (n / 1000000000n).toString() + (frac ? '.' + frac : '');
}

/* Build an OpenAI chat body for the catalog model with one user message. */
function chatBody(text, extra) {
	return Object.assign({ model: 'mock-gpt', messages: [{ role: 'user', content: text }] },
	    extra || {});
}

/* Nano-USD (BigInt) of exact decimal text, and back. */
function nano(s) {
	const [i, f = ''] = s.split('.');
	return BigInt(i) * 1000000000n + BigInt((f + '000000000').slice(0, 9));
}

function money(n) {
	const frac = (n % 1000000000n).toString().padStart(9, '0').replace(/0+$/, '');
	return (n / 1000000000n).toString() + (frac ? '.' + frac : '');
}

/*
 * GET a receipt.  It is stored right after its answer is sent, so a
 * lookup racing the answer may see 404 for a moment: retry briefly.
 */
async function getReceipt(env, url, key) {
	let r;
	for (let i = 0; i < 40; i++) {
		r = await env.get(url, key);
		if (r.status !== 404)
			return r;
		await sleep(50);
	}
	return r;
}

module.exports = {
	nano, money, getReceipt,
	startEnv, requireBuild, requirePackage, skip, sleep, waitFor, request,
	streamRequest, streamText, assertErrorShape, childrenOf, procStatus, alive,
	freePort, spawnTracked, killChild, chatBody, randomKey, signal, MOCK_KEY,
	expectedCost, defaultModel,
	SRCDIR, BUILDDIR,
};
