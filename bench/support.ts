/** Shared measuring helpers for the benchmarks. */
import { fork, type Serializable } from 'node:child_process';
import { Agent, request } from 'node:http';

/** p-th percentile (0..100) of `samples` (milliseconds). */
export function percentile(samples: number[], p: number): number {
	if (samples.length === 0) return NaN;
	const sorted = [...samples].sort((a, b) => a - b);
	const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
	return sorted[index];
}

/** Formats a row of figures for the console. */
export function report(name: string, figures: Record<string, number | string>): void {
	const parts = Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'number' ? round(v) : v}`);
	console.log(`${name.padEnd(48)} ${parts.join('  ')}`);
}

function round(v: number): string {
	return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
}

/** Runs `task` with `concurrency` workers for `durationMs`; returns latencies (ms) and ops/s. */
export async function load(
	task: () => Promise<unknown>,
	{ concurrency, durationMs }: { concurrency: number; durationMs: number }
): Promise<{ latencies: number[]; perSecond: number }> {
	const latencies: number[] = [];
	const end = performance.now() + durationMs;
	const start = performance.now();
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (performance.now() < end) {
				const t = performance.now();
				await task();
				latencies.push(performance.now() - t);
			}
		})
	);
	return { latencies, perSecond: latencies.length / ((performance.now() - start) / 1000) };
}

/** An HTTP/1.1 client for `baseUrl` holding up to `sockets` keep-alive connections (one per concurrent caller). */
export function keepAliveClient(baseUrl: string, sockets: number) {
	const base = new URL(baseUrl);
	const agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
	return {
		/** Sends one request; resolves with the status and the whole body as text. */
		send(
			method: string,
			path: string,
			headers: Record<string, string>,
			body?: string
		): Promise<{ status: number; body: string }> {
			return new Promise((resolve, reject) => {
				const req = request({ agent, host: base.hostname, port: base.port, method, path, headers }, (res) => {
					let text = '';
					res.setEncoding('utf8');
					res.on('data', (c: string) => (text += c));
					res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
					res.on('error', reject);
				});
				req.on('error', reject);
				req.end(body);
			});
		},
		close: () => agent.destroy()
	};
}

/**
 * Runs `file` with `arg` in a fresh Node process, sends it `message` and resolves with its first
 * reply: load generators run apart from the server (and from the process owning PostgreSQL), so
 * that they share no event loop, heap or garbage collector.
 */
export function inChildProcess<T>(file: string, arg: string, message: unknown): Promise<T> {
	return new Promise((resolve, reject) => {
		const child = fork(file, [arg], { execArgv: [] });
		child.send(message as Serializable);
		child.once('message', (reply) => resolve(reply as T));
		child.once('error', reject);
		child.once('exit', (code) => code !== 0 && reject(new Error(`${arg} process exited with ${code}`)));
	});
}

/** The child side of inChildProcess: waits for the message, replies with `handle`'s result, exits. */
export async function serveChild<T>(handle: (message: T) => Promise<unknown>): Promise<void> {
	const message = await new Promise<T>((resolve) => process.once('message', (m) => resolve(m as T)));
	const reply = await handle(message);
	process.send!(reply as Serializable, () => process.exit(0));
}
