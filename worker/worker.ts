/**
 * The delivery worker as a long-running Node process: pg-boss on the app database, a pump that
 * moves the transactional outbox into jobs (polled every `pumpMs`: a job waits out the grace
 * period from its message's time, so a poll well inside the grace period delays no push),
 * `concurrency` loops that fetch and handle job batches with the shared module, timers that wake
 * the loops when deferred or retried jobs come due, an optional HTTP health check, and a graceful
 * stop that finishes the batches in hand.
 */
import { createServer, type Server } from 'node:http';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import webpush from 'web-push';
import {
	QUEUE,
	backoffDelayMs,
	ensureQueues,
	processJobs,
	pumpOutbox,
	settleJobs,
	webPushSender,
	type Boss,
	type Database,
	type DeliveryJobData,
	type Logger,
	type SendPush
} from '../supabase/functions/_shared/delivery.ts';
import type { WorkerConfig } from './config.ts';
import { ensureVapidKeys } from './vapid.ts';

export interface WorkerStats {
	startedAt: number;
	lastLoopAt: number;
	jobs: number;
	pushesSent: number;
	batches: number;
	pumped: number;
	errors: number;
}

export interface RunningWorker {
	stats: WorkerStats;
	vapidPublicKey: string;
	/** Port of the health server, when one runs. */
	healthPort: number | null;
	health(): { ok: boolean; [key: string]: unknown };
	/** Stops taking work, finishes the batches in hand, then closes pg-boss and the pool. */
	stop(): Promise<void>;
}

/** A node-postgres pool as the shared module's Database. */
export function poolDatabase(pool: pg.Pool): Database {
	return {
		query: (text, params) => pool.query(text, params as unknown[]),
		async transaction(fn) {
			const client = await pool.connect();
			// The pool stops listening for a client's errors while it is checked out, and an
			// unheard 'error' (the server stopping mid-transaction) would end the process. The
			// failing query rejects anyway; the dead connection is then discarded, not pooled.
			let lost: Error | undefined;
			const onError = (error: Error) => (lost = error);
			client.on('error', onError);
			try {
				await client.query('begin');
				const result = await fn({ query: (text, params) => client.query(text, params as unknown[]) });
				await client.query('commit');
				return result;
			} catch (error) {
				if (!lost) await client.query('rollback').catch(() => undefined);
				throw error;
			} finally {
				client.off('error', onError);
				client.release(lost);
			}
		}
	};
}

/** Wakes sleeping loops now, or at given times (deferred and retried jobs coming due). */
class Alarm {
	#waiters = new Set<() => void>();
	#due: number[] = [];
	#timer: ReturnType<typeof setTimeout> | undefined;

	/** Sleeps until `ring()` or `ms` elapsed. */
	sleep(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const done = () => {
				clearTimeout(timer);
				this.#waiters.delete(done);
				resolve();
			};
			const timer = setTimeout(done, ms);
			this.#waiters.add(done);
		});
	}

	ring(): void {
		for (const wake of [...this.#waiters]) wake();
	}

	/**
	 * Rings at each of `times` (epoch ms); a few ms late so the job is surely due by the database
	 * clock. Times already past ring now.
	 */
	ringAt(...times: number[]): void {
		const now = Date.now();
		let pastDue = false;
		for (const at of times) {
			if (!Number.isFinite(at)) continue;
			if (at <= now) pastDue = true;
			else this.#due.push(at + 5);
		}
		if (pastDue) this.ring();
		if (this.#due.length === 0) return;
		this.#due.sort((a, b) => a - b);
		if (this.#due.length > 1000) this.#due.length = 1000;
		this.#arm();
	}

	#arm(): void {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		const next = this.#due[0];
		if (next === undefined) return;
		this.#timer = setTimeout(
			() => {
				const now = Date.now();
				while (this.#due.length > 0 && this.#due[0] <= now) this.#due.shift();
				this.ring();
				this.#arm();
			},
			Math.max(0, next - Date.now())
		);
	}

	close(): void {
		clearTimeout(this.#timer);
		this.#due = [];
		this.ring();
	}
}

export interface StartOptions {
	log: Logger;
	/** Overrides the Web Push sender (benchmarks); defaults to web-push over fetch. */
	sendPush?: SendPush;
}

/** Starts the worker; resolves once it is consuming. */
export async function startWorker(
	config: WorkerConfig,
	{ log, sendPush }: StartOptions
): Promise<RunningWorker> {
	const { settings } = config;
	const pool = new pg.Pool({
		connectionString: config.databaseUrl,
		max: config.concurrency + 3,
		application_name: 'parley-worker'
	});
	pool.on('error', (error) => log('db.pool_error', { error: error.message }, 'error'));
	const db = poolDatabase(pool);

	const boss = new PgBoss({
		connectionString: config.databaseUrl,
		max: config.concurrency + 3,
		application_name: 'parley-worker-boss',
		superviseIntervalSeconds: config.superviseSeconds,
		// Job expiry (a crashed worker's active jobs) runs in the monitor pass, which is gated by this
		// interval (default 60 s), not by the supervise interval alone.
		monitorIntervalSeconds: config.superviseSeconds,
		schedule: false,
		instanceName: 'parley-delivery-worker'
	});
	boss.on('error', (error) => log('boss.error', { error: error.message }, 'error'));
	await boss.start();
	const queue = boss as unknown as Boss;
	await ensureQueues(queue, settings);

	const vapid = await ensureVapidKeys(pool, () => webpush.generateVAPIDKeys());
	if (vapid.created) log('vapid.generated', { public_key: vapid.publicKey });
	const push = sendPush ?? webPushSender(webpush, { ...vapid, subject: config.vapidSubject }, settings);

	const stats: WorkerStats = {
		startedAt: Date.now(),
		lastLoopAt: Date.now(),
		jobs: 0,
		pushesSent: 0,
		batches: 0,
		pumped: 0,
		errors: 0
	};
	let stopping = false;
	const alarm = new Alarm();
	const pumpAlarm = new Alarm();

	const pumpLoop = async () => {
		while (!stopping) {
			stats.lastLoopAt = Date.now();
			try {
				let result;
				do {
					result = await pumpOutbox(db, queue, settings);
					stats.pumped += result.jobs;
					// A pump takes many messages' jobs, each due a grace period after its own message.
					alarm.ringAt(...result.due);
				} while (!stopping && result.jobs > 0);
			} catch (error) {
				stats.errors++;
				log('pump.error', { error: (error as Error).message }, 'error');
			}
			if (!stopping) await pumpAlarm.sleep(config.pumpMs);
		}
	};

	const deps = { db, sendPush: push, settings, log };
	const jobLoop = async () => {
		while (!stopping) {
			stats.lastLoopAt = Date.now();
			let handled = 0;
			try {
				const jobs = await queue.fetch<DeliveryJobData>(QUEUE, { batchSize: settings.batchSize });
				handled = jobs.length;
				if (handled > 0) {
					const outcomes = await processJobs(jobs, deps);
					await settleJobs(queue, outcomes, settings, log);
					stats.jobs += handled;
					stats.batches++;
					log('batch.done', {
						jobs: handled,
						sent: outcomes.reduce((n, o) => n + ('sent' in o ? o.sent : 0), 0),
						deferred: outcomes.filter((o) => o.action === 'defer').length,
						retried: outcomes.filter((o) => o.action === 'retry').length,
						ms: Date.now() - stats.lastLoopAt
					});
					for (const o of outcomes) {
						if (o.action === 'complete' || o.action === 'retry' || o.action === 'dead')
							stats.pushesSent += o.sent;
						if (o.action === 'defer') alarm.ringAt(Date.parse(o.runAt));
						if (o.action === 'retry') {
							alarm.ringAt(Date.now() + backoffDelayMs(settings, o.job.retryCount + 1, o.retryAfterMs));
						}
					}
				}
			} catch (error) {
				stats.errors++;
				log('batch.error', { error: (error as Error).message }, 'error');
			}
			// A full batch means more is probably waiting; otherwise sleep until woken.
			if (!stopping && handled < settings.batchSize) await alarm.sleep(config.pollMs);
		}
	};

	const loops = [pumpLoop(), ...Array.from({ length: config.concurrency }, () => jobLoop())];

	const health = () => {
		const idleMs = Date.now() - stats.lastLoopAt;
		const ok = !stopping && idleMs < Math.max(30_000, config.pollMs * 5);
		return {
			ok,
			status: stopping ? 'stopping' : ok ? 'ok' : 'stalled',
			uptime_s: Math.round((Date.now() - stats.startedAt) / 1000),
			last_loop_ms_ago: idleMs,
			jobs: stats.jobs,
			pushes_sent: stats.pushesSent,
			errors: stats.errors
		};
	};

	let server: Server | undefined;
	let healthPort: number | null = null;
	if (config.healthPort !== null) {
		server = createServer((req, res) => {
			if (req.url !== '/health') return void res.writeHead(404).end();
			const body = health();
			res.writeHead(body.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
		});
		await new Promise<void>((resolve) => server!.listen(config.healthPort!, '127.0.0.1', resolve));
		healthPort = (server.address() as { port: number }).port;
	}

	log('worker.started', {
		queue: QUEUE,
		concurrency: config.concurrency,
		grace_ms: settings.graceMs,
		pump_ms: config.pumpMs,
		attempts: settings.attempts,
		backoff_ms: settings.backoffMs,
		health_port: healthPort
	});

	let stopped: Promise<void> | undefined;
	return {
		stats,
		vapidPublicKey: vapid.publicKey,
		healthPort,
		health,
		stop() {
			stopped ??= (async () => {
				stopping = true;
				log('worker.stopping', {});
				alarm.close();
				pumpAlarm.close();
				await Promise.allSettled(loops);
				await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
				await boss.stop({ graceful: true, close: true, timeout: 10_000 });
				await pool.end();
				log('worker.stopped', { jobs: stats.jobs, pushes_sent: stats.pushesSent });
			})();
			return stopped;
		}
	};
}
