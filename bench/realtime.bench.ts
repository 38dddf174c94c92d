/**
 * Realtime benchmark. The stack (PostgreSQL + gateway + Realtime) runs in a child process so its
 * memory can be measured alone and clients do not share its event loop; this process drives raw
 * `ws` clients (vsn 2.0.0, as realtime-js). Prints figures beside the targets; never fails on them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import WebSocket from 'ws';
import { startBenchStack } from './cluster.ts';
import { percentile, report } from './support.ts';

type Frame = [string | null, string | null, string, string, Record<string, unknown>];

// ---- child: the server -------------------------------------------------------------------------
if (process.argv.includes('--server')) {
	const stack = await startBenchStack();
	process.on('message', (msg: string) => {
		if (msg === 'mem') {
			globalThis.gc?.();
			process.send!({ mem: process.memoryUsage() });
		} else if (msg === 'stop') {
			void stack.stop().then(() => process.exit(0));
		}
	});
	process.send!({ ready: { apiUrl: stack.apiUrl, dbUrl: stack.dbUrl, anonKey: stack.config.anonKey } });
} else {
	await main();
}

// ---- parent: the driver ------------------------------------------------------------------------
function request<T>(child: ChildProcess, msg: string, key: string): Promise<T> {
	return new Promise((resolve) => {
		const on = (m: Record<string, unknown>) => {
			if (key in m) {
				child.off('message', on);
				resolve(m[key] as T);
			}
		};
		child.on('message', on);
		if (msg) child.send(msg);
	});
}

interface Client {
	ws: WebSocket;
	onFrame: ((f: Frame) => void) | null;
}

async function connect(url: string): Promise<Client> {
	const ws = new WebSocket(url, { perMessageDeflate: false });
	const client: Client = { ws, onFrame: null };
	ws.on('message', (data, isBinary) => {
		if (isBinary || !client.onFrame) return;
		client.onFrame(JSON.parse(String(data)) as Frame);
	});
	await new Promise<void>((resolve, reject) => {
		ws.once('open', () => resolve());
		ws.once('error', reject);
	});
	return client;
}

async function join(client: Client, topic: string): Promise<void> {
	await new Promise<void>((resolve) => {
		client.onFrame = (f) => {
			if (f[3] === 'phx_reply' && f[1] === 'j') resolve();
		};
		client.ws.send(
			JSON.stringify(['j', 'j', `realtime:${topic}`, 'phx_join', { config: { broadcast: { self: false } } }])
		);
	});
	client.onFrame = null;
}

async function connectMany(
	url: string,
	n: number,
	topic: (i: number) => string,
	batch = 200
): Promise<Client[]> {
	const out: Client[] = [];
	for (let i = 0; i < n; i += batch) {
		const group = await Promise.all(
			Array.from({ length: Math.min(batch, n - i) }, async (_, k) => {
				const c = await connect(url);
				await join(c, topic(i + k));
				return c;
			})
		);
		out.push(...group);
	}
	return out;
}

function closeAll(clients: Client[]): void {
	for (const c of clients) c.ws.terminate();
}

function mb(bytes: number): number {
	return bytes / 1024 / 1024;
}

async function main(): Promise<void> {
	const child = fork(import.meta.filename, ['--server'], { execArgv: ['--expose-gc'], stdio: 'inherit' });
	const { apiUrl, dbUrl, anonKey } = await request<{ apiUrl: string; dbUrl: string; anonKey: string }>(
		child,
		'',
		'ready'
	);
	const url = `${apiUrl.replace('http', 'ws')}/realtime/v1/websocket?apikey=${anonKey}&vsn=2.0.0`;
	try {
		await broadcastLatency(url);
		await fanOut(url);
		await dbLatency(url, dbUrl);
		await idleMemory(child, url);
	} finally {
		child.send('stop');
		await new Promise((resolve) => child.once('exit', resolve));
	}
}

/** 1,000 msg/s over 100 channels, 2 subscribers each: one sends, the other receives. */
async function broadcastLatency(url: string): Promise<void> {
	const channels = 100;
	const clients = await connectMany(url, channels * 2, (i) => `lat-${i % channels}`);
	const senders = clients.slice(0, channels);
	const receivers = clients.slice(channels);
	const latencies: number[] = [];
	for (const r of receivers) {
		r.onFrame = (f) => {
			if (f[3] === 'broadcast') latencies.push(performance.now() - (f[4].payload as { t: number }).t);
		};
	}
	const perSecond = 1000;
	const seconds = 5;
	const tickMs = 10;
	const perTick = (perSecond * tickMs) / 1000;
	let sent = 0;
	let next = 0;
	const start = performance.now();
	await new Promise<void>((resolve) => {
		const timer = setInterval(() => {
			// Catch up on ticks a late timer missed, so the offered rate stays 1,000 msg/s.
			const due = Math.min(
				perSecond * seconds,
				Math.floor(((performance.now() - start) / 1000) * perSecond) + perTick
			);
			while (sent < due) {
				const s = senders[next++ % channels];
				s.ws.send(
					JSON.stringify([
						'j',
						null,
						`realtime:lat-${(next - 1) % channels}`,
						'broadcast',
						{ type: 'broadcast', event: 'e', payload: { t: performance.now() } }
					])
				);
				sent++;
			}
			if (sent >= perSecond * seconds) {
				clearInterval(timer);
				resolve();
			}
		}, tickMs);
	});
	const deadline = Date.now() + 5000;
	while (latencies.length < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
	report('broadcast latency, 1,000 msg/s, 100 ch x 2 subs', {
		sent,
		received: latencies.length,
		p50_ms: percentile(latencies, 50),
		p95_ms: percentile(latencies, 95),
		p99_ms: percentile(latencies, 99),
		target: 'p50 < 3 ms, p99 < 20 ms'
	});
	closeAll(clients);
}

/** One message to 1,000 subscribers of one channel: time until the last one has it. */
async function fanOut(url: string): Promise<void> {
	const subscribers = await connectMany(url, 1000, () => 'fan');
	const [sender] = await connectMany(url, 1, () => 'fan');
	const times: number[] = [];
	for (let round = 0; round < 20; round++) {
		let pending = subscribers.length;
		const t0 = performance.now();
		const done = new Promise<void>((resolve) => {
			for (const s of subscribers) {
				s.onFrame = (f) => {
					if (f[3] === 'broadcast' && --pending === 0) resolve();
				};
			}
		});
		sender.ws.send(
			JSON.stringify([
				'j',
				null,
				'realtime:fan',
				'broadcast',
				{ type: 'broadcast', event: 'e', payload: { round } }
			])
		);
		await done;
		times.push(performance.now() - t0);
	}
	report('fan-out of one message to 1,000 subscribers', {
		p50_ms: percentile(times, 50),
		max_ms: Math.max(...times),
		rounds: String(times.length)
	});
	closeAll([...subscribers, sender]);
}

/** From COMMIT of a realtime.send() insert to receipt by a subscriber. */
async function dbLatency(url: string, dbUrl: string): Promise<void> {
	const [sub] = await connectMany(url, 1, () => 'db');
	const db = new pg.Client({ connectionString: dbUrl });
	await db.connect();
	const latencies: number[] = [];
	for (let i = 0; i < 300; i++) {
		const received = new Promise<number>((resolve) => {
			sub.onFrame = () => {};
			sub.ws.once('message', () => resolve(performance.now()));
		});
		await db.query('begin');
		await db.query(`select realtime.send(jsonb_build_object('i', $1::int), 'e', 'db', false)`, [i]);
		const t0 = performance.now();
		await db.query('commit');
		latencies.push((await received) - t0);
	}
	report('database broadcast latency, COMMIT to receipt', {
		p50_ms: percentile(latencies, 50),
		p95_ms: percentile(latencies, 95),
		p99_ms: percentile(latencies, 99),
		target: 'p50 < 15 ms'
	});
	await db.end();
	closeAll([sub]);
}

/** Server memory per idle connection (each joined to one channel), at 5,000 connections. */
async function idleMemory(child: ChildProcess, url: string): Promise<void> {
	await new Promise((r) => setTimeout(r, 500));
	const before = await request<NodeJS.MemoryUsage>(child, 'mem', 'mem');
	const n = 5000;
	const clients = await connectMany(url, n, (i) => `idle-${i % 500}`);
	const after = await request<NodeJS.MemoryUsage>(child, 'mem', 'mem');
	const rss = after.rss - before.rss;
	const heap = after.heapUsed - before.heapUsed;
	report('5,000 idle connections (server process)', {
		rss_delta_mb: mb(rss),
		heap_delta_mb: mb(heap),
		per_conn_kb: rss / n / 1024,
		target: '< 100 MB'
	});
	closeAll(clients);
}
