/**
 * Wiring for the worker tests: a fresh database, the test push service, two users in a direct
 * conversation with the recipient's browser subscribed, and the worker with small delays.
 */
import type pg from 'pg';
import { createLogger } from '../log.ts';
import type { WorkerConfig } from '../config.ts';
import { startWorker, type RunningWorker } from '../worker.ts';
import { getStatus } from '../status.ts';
import { DEAD_LETTER_QUEUE, QUEUE, defaultSettings } from '../../supabase/functions/_shared/delivery.ts';
import { createDeliveryDatabase, createUser, directConversation, savePushSubscription } from './chat.ts';
import { PushService, type BrowserSubscription } from './push-service.ts';

/** Small delays so a test takes a second or two, not minutes. */
export function testConfig(
	databaseUrl: string,
	overrides: Partial<WorkerConfig['settings']> = {}
): WorkerConfig {
	return {
		databaseUrl,
		settings: {
			...defaultSettings,
			graceMs: 300,
			maxWaitMs: 3000,
			attempts: 3,
			backoffMs: 300,
			pushTimeoutMs: 1000,
			expireSeconds: 2,
			batchSize: 20,
			...overrides
		},
		concurrency: 2,
		pumpMs: 20,
		pollMs: 100,
		superviseSeconds: 1,
		healthPort: null,
		vapidSubject: 'mailto:ops@parley.test'
	};
}

/** The same settings as environment variables, for a worker run as a child process. */
export function testEnv(config: WorkerConfig): Record<string, string> {
	const s = config.settings;
	return {
		DATABASE_URL: config.databaseUrl,
		PARLEY_PUSH_GRACE_MS: String(s.graceMs),
		PARLEY_PUSH_MAX_WAIT_MS: String(s.maxWaitMs),
		PARLEY_PUSH_ATTEMPTS: String(s.attempts),
		PARLEY_PUSH_BACKOFF_MS: String(s.backoffMs),
		PARLEY_PUSH_TIMEOUT_MS: String(s.pushTimeoutMs),
		PARLEY_PUSH_EXPIRE_SECONDS: String(s.expireSeconds),
		PARLEY_WORKER_BATCH_SIZE: String(s.batchSize),
		PARLEY_WORKER_CONCURRENCY: String(config.concurrency),
		PARLEY_WORKER_PUMP_MS: String(config.pumpMs),
		PARLEY_WORKER_POLL_MS: String(config.pollMs),
		PARLEY_WORKER_SUPERVISE_SECONDS: String(config.superviseSeconds),
		PARLEY_VAPID_SUBJECT: config.vapidSubject
	};
}

export interface Scene {
	pool: pg.Pool;
	url: string;
	service: PushService;
	alice: string;
	bob: string;
	conversation: string;
	/** Bob's browser. */
	browser: BrowserSubscription;
	subscriptionId: string;
	logs: Record<string, unknown>[];
	worker?: RunningWorker;
	start(
		overrides?: Partial<WorkerConfig['settings']>,
		timing?: Partial<Pick<WorkerConfig, 'pumpMs' | 'pollMs'>>
	): Promise<RunningWorker>;
	/** Waits until the outbox is empty and no delivery job is queued, retrying or active. */
	idle(timeoutMs?: number): Promise<void>;
	dispose(): Promise<void>;
}

export async function createScene(): Promise<Scene> {
	const database = await createDeliveryDatabase();
	const service = await new PushService().start();
	const pool = database.pool;
	const alice = await createUser(pool, 'Alice');
	const bob = await createUser(pool, 'Bob');
	const conversation = await directConversation(pool, alice, bob);
	const browser = service.subscribe();
	const subscriptionId = await savePushSubscription(pool, bob, browser);
	const logs: Record<string, unknown>[] = [];
	const scene: Scene = {
		pool,
		url: database.url,
		service,
		alice,
		bob,
		conversation,
		browser,
		subscriptionId,
		logs,
		async start(overrides = {}, timing = {}) {
			const log = createLogger({}, (line) => logs.push(JSON.parse(line)), 'debug');
			scene.worker = await startWorker({ ...testConfig(database.url, overrides), ...timing }, { log });
			service.expectedKey = scene.worker.vapidPublicKey;
			return scene.worker;
		},
		async idle(timeoutMs = 15_000) {
			const end = Date.now() + timeoutMs;
			for (;;) {
				const status = await getStatus(pool);
				const q = status.queues[QUEUE];
				if (status.outbox.pending === 0 && !q.created && !q.retry && !q.active) return;
				if (Date.now() > end) throw new Error(`not idle: ${JSON.stringify(status)}`);
				await new Promise((r) => setTimeout(r, 50));
			}
		},
		async dispose() {
			await scene.worker?.stop();
			await service.stop();
			await database.drop();
		}
	};
	return scene;
}

export { DEAD_LETTER_QUEUE, QUEUE };
