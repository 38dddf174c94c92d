/** Shared measuring helpers for the benchmarks. */
import { fork, type Serializable } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * An HTTP/1.1 client for `baseUrl` holding up to `sockets` keep-alive connections (one per
 * concurrent caller). Written on `net` rather than `node:http`: a load generator sharing the
 * machine with the server should spend as little CPU per request as wrk or autocannon would,
 * so what is measured is the server. Understands Content-Length and chunked responses.
 */
export function keepAliveClient(baseUrl: string, sockets: number) {
	const base = new URL(baseUrl);
	const host = `${base.hostname}:${base.port}`;
	const idle: RawConnection[] = [];
	const all = new Set<RawConnection>();
	const waiting: ((c: RawConnection) => void)[] = [];
	const acquire = (): Promise<RawConnection> => {
		const free = idle.pop();
		if (free) return Promise.resolve(free);
		if (all.size < sockets) {
			const c = new RawConnection(base.hostname, Number(base.port), () => all.delete(c));
			all.add(c);
			return Promise.resolve(c);
		}
		return new Promise((resolve) => waiting.push(resolve));
	};
	const release = (c: RawConnection) => {
		const next = waiting.shift();
		if (next) next(c);
		else if (c.usable) idle.push(c);
	};
	return {
		/** Sends one request; resolves with the status and the whole body as text. */
		async send(
			method: string,
			path: string,
			headers: Record<string, string>,
			body?: string
		): Promise<{ status: number; body: string }> {
			let head = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
			for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
			head += `content-length: ${body ? Buffer.byteLength(body) : 0}\r\n\r\n`;
			const c = await acquire();
			try {
				return await c.request(body ? head + body : head);
			} finally {
				release(c);
			}
		},
		close: () => {
			for (const c of all) c.close();
		}
	};
}

/** One keep-alive connection answering one request at a time. */
class RawConnection {
	usable = true;
	#socket: Socket;
	#buffer: Buffer = Buffer.alloc(0);
	#pending: { resolve: (r: { status: number; body: string }) => void; reject: (e: Error) => void } | null =
		null;

	constructor(host: string, port: number, onClose: () => void) {
		this.#socket = connect({ host, port, noDelay: true });
		this.#socket.on('data', (chunk: Buffer) => {
			this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
			this.#parse();
		});
		const fail = (error: Error) => {
			this.usable = false;
			onClose();
			this.#pending?.reject(error);
			this.#pending = null;
		};
		this.#socket.on('error', fail);
		this.#socket.on('close', () => fail(new Error('connection closed')));
	}

	request(text: string): Promise<{ status: number; body: string }> {
		return new Promise((resolve, reject) => {
			this.#pending = { resolve, reject };
			this.#socket.write(text);
		});
	}

	#parse(): void {
		const headEnd = this.#buffer.indexOf('\r\n\r\n');
		if (headEnd < 0 || !this.#pending) return;
		const head = this.#buffer.toString('latin1', 0, headEnd);
		const status = Number(head.slice(9, 12));
		const length = /\r\ncontent-length: *(\d+)/i.exec(head);
		let body: string;
		let consumed: number;
		if (length) {
			consumed = headEnd + 4 + Number(length[1]);
			if (this.#buffer.length < consumed) return;
			body = this.#buffer.toString('utf8', headEnd + 4, consumed);
		} else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
			const parts: Buffer[] = [];
			let at = headEnd + 4;
			for (;;) {
				const lineEnd = this.#buffer.indexOf('\r\n', at);
				if (lineEnd < 0) return;
				const size = parseInt(this.#buffer.toString('latin1', at, lineEnd), 16);
				if (this.#buffer.length < lineEnd + 2 + size + 2) return;
				if (size === 0) {
					consumed = lineEnd + 4;
					break;
				}
				parts.push(this.#buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
				at = lineEnd + 2 + size + 2;
			}
			body = Buffer.concat(parts).toString('utf8');
		} else {
			consumed = headEnd + 4;
			body = '';
		}
		this.#buffer = this.#buffer.subarray(consumed);
		const pending = this.#pending;
		this.#pending = null;
		if (/\r\nconnection: *close/i.test(head)) this.close();
		pending.resolve({ status, body });
	}

	close(): void {
		this.usable = false;
		this.#socket.destroy();
	}
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

/**
 * CPU time (ms, user + system, all threads) used so far by the processes on this machine, summed
 * per role: `roleOf` names a process's role from its command (`comm`) and command line, or returns
 * null to leave it out. Linux only (reads /proc); elsewhere returns {}. Benchmarks diff two
 * readings to say where the CPU of a run went.
 */
export function cpuByRole(roleOf: (comm: string, cmdline: string) => string | null): Record<string, number> {
	const totals: Record<string, number> = {};
	let pids: string[];
	try {
		pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
	} catch {
		return totals;
	}
	for (const pid of pids) {
		try {
			const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
			const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
			const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
			const role = roleOf(comm, cmdline);
			if (!role) continue;
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			// utime and stime, in clock ticks (100 per second on Linux).
			totals[role] = (totals[role] ?? 0) + ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
		} catch {
			// The process ended between listing and reading.
		}
	}
	return totals;
}

/** The difference of two cpuByRole readings, per role. */
export function cpuSpent(
	before: Record<string, number>,
	after: Record<string, number>
): Record<string, number> {
	const spent: Record<string, number> = {};
	for (const role of Object.keys(after)) spent[role] = after[role] - (before[role] ?? 0);
	return spent;
}
