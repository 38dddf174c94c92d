/**
 * Configuration of the delivery worker, from the environment. Every delay is configurable so
 * tests and benchmarks can run with small ones; the defaults are the production values.
 */
import { databaseUrl, loadConfig } from '@parley/stack/config.ts';
import { defaultSettings, type DeliverySettings } from '../supabase/functions/_shared/delivery.ts';

export interface WorkerConfig {
	databaseUrl: string;
	settings: DeliverySettings;
	/** Batches processed at once (each a fetch of up to `settings.batchSize` jobs). */
	concurrency: number;
	/**
	 * How often the outbox is moved into jobs. A job starts a grace period after its message, not
	 * after the pump, so an interval well below the grace period delays no push.
	 */
	pumpMs: number;
	/** Poll of the job queue when no timer (a job coming due) wakes a loop earlier. */
	pollMs: number;
	/** How often pg-boss checks for expired jobs (those of a crashed worker) and refreshes queue stats. */
	superviseSeconds: number;
	/** Port of the HTTP health check (`/health`), or null for none. */
	healthPort: number | null;
	/** VAPID `sub` claim: how a push service can reach the operator. */
	vapidSubject: string;
}

function num(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
	const raw = env[name];
	if (raw === undefined || raw === '') return fallback;
	const value = Number(raw);
	if (!Number.isFinite(value) || value < min)
		throw new Error(`${name} must be a number >= ${min} (got "${raw}")`);
	return value;
}

/** Reads the worker configuration; `DATABASE_URL` defaults to the embedded stack's database. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
	const d = defaultSettings;
	const health = env.PARLEY_WORKER_HEALTH_PORT;
	return {
		databaseUrl: env.DATABASE_URL || databaseUrl(loadConfig(process.cwd(), env)),
		settings: {
			graceMs: num(env, 'PARLEY_PUSH_GRACE_MS', d.graceMs),
			maxWaitMs: num(env, 'PARLEY_PUSH_MAX_WAIT_MS', d.maxWaitMs),
			attempts: num(env, 'PARLEY_PUSH_ATTEMPTS', d.attempts, 1),
			backoffMs: num(env, 'PARLEY_PUSH_BACKOFF_MS', d.backoffMs),
			pushTimeoutMs: num(env, 'PARLEY_PUSH_TIMEOUT_MS', d.pushTimeoutMs, 1),
			expireSeconds: num(env, 'PARLEY_PUSH_EXPIRE_SECONDS', d.expireSeconds, 1),
			batchSize: num(env, 'PARLEY_WORKER_BATCH_SIZE', d.batchSize, 1),
			ttlSeconds: num(env, 'PARLEY_PUSH_TTL_SECONDS', d.ttlSeconds)
		},
		concurrency: num(env, 'PARLEY_WORKER_CONCURRENCY', 4, 1),
		pumpMs: num(env, 'PARLEY_WORKER_PUMP_MS', 200, 10),
		pollMs: num(env, 'PARLEY_WORKER_POLL_MS', 1000, 10),
		superviseSeconds: num(env, 'PARLEY_WORKER_SUPERVISE_SECONDS', 10, 1),
		healthPort:
			health === undefined || health === '' || health === 'off'
				? null
				: num(env, 'PARLEY_WORKER_HEALTH_PORT', 0),
		vapidSubject: env.PARLEY_VAPID_SUBJECT || 'mailto:push@parley.invalid'
	};
}
