/*
 * Copyright (c) 2026 NextModel contributors. Licensed under the Apache License 2.0.
 *
 * A small TCP proxy that delays every chunk by a fixed time in each
 * direction: put it between the gateway and Redis to see what Redis
 * latency costs.  Loopback only.
 *
 *   const p = await startDelayProxy(targetPort, delayMs);  p.port; p.close()
 */
'use strict';
const net = require('net');

/* Forward from a to b, each chunk delayed by ms, in order; count bytes. */
function pipeDelayed(a, b, ms, stats) {
	a.on('data', (d) => {
		stats.bytes += d.length;
		setTimeout(() => {
			if (!b.destroyed)
				b.write(d);
		}, ms);
	});
	a.on('end', () => setTimeout(() => b.end(), ms));
	a.on('error', () => b.destroy());
}

function startDelayProxy(targetPort, ms) {
	return new Promise((resolve, reject) => {
		const conns = new Set();
		const stats = { bytes: 0, connections: 0 };
		const srv = net.createServer((c) => {
			const up = net.connect({ port: targetPort, host: '127.0.0.1' });
			c.setNoDelay(true);
			up.setNoDelay(true);
			stats.connections++;
			conns.add(c);
			conns.add(up);
			c.on('close', () => { conns.delete(c); up.destroy(); });
			up.on('close', () => { conns.delete(up); c.destroy(); });
			pipeDelayed(c, up, ms, stats);
			pipeDelayed(up, c, ms, stats);
		});
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => resolve({
			port: srv.address().port,
			stats,
			close: () => {
				for (const c of conns)
					c.destroy();
				srv.close();
			},
		}));
	});
}

module.exports = { startDelayProxy };
