/**
 * Edge Function `deliver`: the delivery worker as a Supabase Edge Function (Deno). Each invocation
 * expires jobs of crashed runs, pumps the outbox into jobs, and processes one batch of due jobs
 * with the same module as the Node worker (`../_shared/delivery.ts`).
 *
 * Deploy: `supabase functions deploy deliver`, then invoke it every few seconds, e.g. from pg_cron
 * with pg_net (`net.http_post` to `/functions/v1/deliver` with the service-role key), or run the
 * Node worker instead. Needs `SUPABASE_DB_URL` (set by the platform) and accepts only callers that
 * present the service-role key (or `DELIVER_FUNCTION_SECRET`) as a Bearer token. Optional tuning:
 * `PARLEY_PUSH_GRACE_MS`, `PARLEY_PUSH_ATTEMPTS`, `PARLEY_PUSH_BACKOFF_MS`, `PARLEY_PUSH_TIMEOUT_MS`,
 * `PARLEY_WORKER_BATCH_SIZE`, `PARLEY_VAPID_SUBJECT`.
 */
import { PgBoss } from 'npm:pg-boss@^12.38.0';
import webpush from 'npm:web-push@^3.6.7';
import pg from 'npm:pg@^8.23.1';
import {
	QUEUE,
	defaultSettings,
	ensureQueues,
	ensureVapidKeys,
	processJobs,
	pumpOutbox,
	settleJobs,
	webPushSender,
	type Boss,
	type Database,
	type DeliveryJobData,
	type DeliverySettings,
	type Logger
} from '../_shared/delivery.ts';

const env = (name: string): string | undefined => Deno.env.get(name) || undefined;
const num = (name: string, fallback: number): number => {
	const value = Number(env(name));
	return Number.isFinite(value) && env(name) !== undefined ? value : fallback;
};

const settings: DeliverySettings = {
	...defaultSettings,
	graceMs: num('PARLEY_PUSH_GRACE_MS', defaultSettings.graceMs),
	attempts: num('PARLEY_PUSH_ATTEMPTS', defaultSettings.attempts),
	backoffMs: num('PARLEY_PUSH_BACKOFF_MS', defaultSettings.backoffMs),
	// Stay well inside the function's wall-clock limit.
	pushTimeoutMs: num('PARLEY_PUSH_TIMEOUT_MS', 8000),
	batchSize: num('PARLEY_WORKER_BATCH_SIZE', defaultSettings.batchSize)
};
const databaseUrl = env('SUPABASE_DB_URL') ?? env('DATABASE_URL');
const secrets = [env('SUPABASE_SERVICE_ROLE_KEY'), env('DELIVER_FUNCTION_SECRET')].filter(Boolean);

const log: Logger = (event, fields = {}, level = 'info') => {
	if (level === 'debug') return;
	console.log(JSON.stringify({ time: new Date().toISOString(), level, event, service: 'deliver', ...fields }));
};

// Module scope survives between invocations of a warm isolate: connect and start pg-boss once.
const pool = new pg.Pool({ connectionString: databaseUrl, max: 3 });
const db: Database = {
	query: (text, params) => pool.query(text, params),
	async transaction(fn) {
		const client = await pool.connect();
		try {
			await client.query('begin');
			const result = await fn({ query: (text, params) => client.query(text, params) });
			await client.query('commit');
			return result;
		} catch (error) {
			await client.query('rollback').catch(() => undefined);
			throw error;
		} finally {
			client.release();
		}
	}
};

let ready: Promise<{ boss: Boss & PgBoss; send: ReturnType<typeof webPushSender> }> | undefined;
function start() {
	ready ??= (async () => {
		// No timers of its own: an isolate may be frozen between invocations, so each invocation
		// supervises explicitly instead.
		const boss = new PgBoss({
			connectionString: databaseUrl,
			max: 3,
			supervise: false,
			schedule: false,
			monitorIntervalSeconds: 5
		});
		boss.on('error', (error: Error) => log('boss.error', { error: error.message }, 'error'));
		await boss.start();
		await ensureQueues(boss as unknown as Boss, settings);
		const vapid = await ensureVapidKeys(db, () => webpush.generateVAPIDKeys());
		const subject = env('PARLEY_VAPID_SUBJECT') ?? 'mailto:push@parley.invalid';
		const send = webPushSender(webpush, { ...vapid, subject }, settings);
		return { boss: boss as unknown as Boss & PgBoss, send };
	})();
	ready.catch(() => (ready = undefined));
	return ready;
}

Deno.serve(async (req: Request) => {
	const token = req.headers.get('authorization')?.replace(/^Bearer\s+/i, '');
	if (!token || !secrets.includes(token)) return new Response('Unauthorized', { status: 401 });
	if (!databaseUrl) return new Response('SUPABASE_DB_URL is not set', { status: 500 });
	const started = Date.now();
	try {
		const { boss, send } = await start();
		await boss.supervise(QUEUE);
		const pumped = await pumpOutbox(db, boss, settings);
		const jobs = await boss.fetch<DeliveryJobData>(QUEUE, { batchSize: settings.batchSize });
		const outcomes = await processJobs(jobs, { db, sendPush: send, settings, log });
		await settleJobs(boss, outcomes, settings, log);
		const summary = {
			pumped: pumped.jobs,
			jobs: jobs.length,
			sent: outcomes.reduce((n, o) => n + ('sent' in o ? o.sent : 0), 0),
			ms: Date.now() - started
		};
		log('batch.done', summary);
		return Response.json(summary);
	} catch (error) {
		log('batch.error', { error: error instanceof Error ? error.message : String(error) }, 'error');
		return Response.json({ error: 'delivery failed' }, { status: 500 });
	}
});
