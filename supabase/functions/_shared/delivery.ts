/**
 * Push delivery: the job handling shared by the Node worker (`worker/`) and the Edge Function
 * (`supabase/functions/deliver`). Plain TypeScript with no runtime-specific imports: the database,
 * the queue (pg-boss), the Web Push sender and the logger are passed in, so Node and Deno each
 * inject their own.
 *
 * Flow: a trigger on `messages` writes `delivery.outbox` rows in the sender's transaction;
 * `pumpOutbox` turns them into one pg-boss job per recipient and conversation (queue policy `short`:
 * one queued job per key, so a burst coalesces) in one transaction; `processJobs` decides per job
 * (skip if delivered, defer while the newest message is younger than the grace period, else send),
 * sends the pushes the ledger lets it lease, and records the outcome; `settleJobs` completes,
 * retries with exponential backoff (honouring Retry-After) or dead-letters them.
 */

export const QUEUE = 'push-delivery';
export const DEAD_LETTER_QUEUE = 'push-delivery-dead';

/** Tunables; every one is configurable so tests can run with tiny delays. */
export interface DeliverySettings {
	/** How long a recipient has to acknowledge (mark delivered) before a push goes out. */
	graceMs: number;
	/** A burst keeps deferring the push until quiet for `graceMs`, but no longer than this. */
	maxWaitMs: number;
	/** Attempts per job (first try included) before it is dead-lettered. */
	attempts: number;
	/** Delay before the first retry; doubles for each further retry. */
	backoffMs: number;
	/** Timeout of one request to a push service. */
	pushTimeoutMs: number;
	/** How long a job may stay active before pg-boss retries it (a crashed worker's job). */
	expireSeconds: number;
	/** Jobs fetched per batch (and outbox rows taken per pump transaction). */
	batchSize: number;
	/** TTL header of the push: how long the push service keeps it for an offline device. */
	ttlSeconds: number;
}

export const defaultSettings: DeliverySettings = {
	graceMs: 3000,
	maxWaitMs: 15_000,
	attempts: 3,
	backoffMs: 2000,
	pushTimeoutMs: 10_000,
	expireSeconds: 60,
	batchSize: 50,
	ttlSeconds: 24 * 3600
};

/** A query runner: node-postgres `Pool`/`Client` fit as they are. */
export interface Sql {
	query(text: string, params?: unknown[]): Promise<{ rows: any[] }>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A database handle that can also run a function in a transaction. */
export interface Database extends Sql {
	transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

/** What `pumpOutbox` and the settlement need of pg-boss (the real `PgBoss` satisfies it). */
export interface Boss {
	insert(name: string, jobs: object[], options?: { db?: { executeSql: Sql['query'] } }): Promise<unknown>;
	send(name: string, data: object, options?: object): Promise<string | null>;
	fetch<T>(name: string, options?: { batchSize?: number }): Promise<QueueJob<T>[]>;
	complete(name: string, id: JobRef[], data?: object | null): Promise<unknown>;
	fail(name: string, id: JobRef[], data?: object | null): Promise<unknown>;
	update(name: string, data: object | null | undefined, options: { id: string; startAfter: number }): Promise<unknown>;
	createQueue(name: string, options?: object): Promise<void>;
	updateQueue(name: string, options?: object): Promise<void>;
	getQueue(name: string): Promise<object | null>;
}

export interface JobRef {
	id: string;
	retryCount: number;
}

export interface QueueJob<T> extends JobRef {
	data: T;
}

/** The data of a delivery job: whom to notify about which conversation. */
export interface DeliveryJobData {
	userId: string;
	conversationId: string;
	/** When the oldest message this job covers was sent (bounds the debounce). */
	firstAt: string;
}

export interface PushTarget {
	endpoint: string;
	keys: { p256dh: string; auth: string };
}

/** What a push service answered, or why no answer came. */
export type PushResponse =
	| { status: number; retryAfter?: string | null; body?: string }
	| { error: string; timeout?: boolean };

/** Sends one encrypted Web Push; `topic` lets the push service replace an undelivered older one. */
export type SendPush = (target: PushTarget, payload: string, topic?: string) => Promise<PushResponse>;

/** The worker's VAPID identity. */
export interface Vapid {
	publicKey: string;
	privateKey: string;
	subject: string;
}

/** The parts of the `web-push` package the sender uses (injected: Node and Deno import it differently). */
export interface WebPushLib {
	/** Encrypts the payload (aes128gcm) and builds the request; sends nothing. */
	generateRequestDetails(
		subscription: PushTarget,
		payload: string,
		options: object
	): { method: string; headers: Record<string, string | number>; body: Uint8Array | null; endpoint: string };
	/** Signs a VAPID JWT for `audience` and returns the Authorization header. */
	getVapidHeaders(
		audience: string,
		subject: string,
		publicKey: string,
		privateKey: string,
		contentEncoding: string,
		expiration?: number
	): { Authorization: string };
}

/** VAPID JWTs live 12 h (the maximum is 24 h); one is reused per push service for 11 h. */
const VAPID_JWT_SECONDS = 12 * 3600;
const VAPID_REUSE_MS = 11 * 3600 * 1000;

/**
 * A SendPush on `fetch`: web-push encrypts the payload (aes128gcm) and signs the VAPID JWT, and
 * fetch, available in Node and Deno alike, posts it with a timeout over pooled connections. The
 * signed Authorization header depends only on the push service's origin, so it is cached per
 * origin instead of signing a JWT for every push.
 */
export function webPushSender(
	webpush: WebPushLib,
	vapid: Vapid,
	settings: Pick<DeliverySettings, 'pushTimeoutMs' | 'ttlSeconds'>,
	fetchImpl: typeof fetch = fetch
): SendPush {
	const authorizations = new Map<string, { header: string; until: number }>();
	const authorization = (endpoint: string): string => {
		const audience = new URL(endpoint).origin;
		const cached = authorizations.get(audience);
		if (cached && cached.until > Date.now()) return cached.header;
		const expiration = Math.floor(Date.now() / 1000) + VAPID_JWT_SECONDS;
		const { Authorization } = webpush.getVapidHeaders(
			audience,
			vapid.subject,
			vapid.publicKey,
			vapid.privateKey,
			'aes128gcm',
			expiration
		);
		authorizations.set(audience, { header: Authorization, until: Date.now() + VAPID_REUSE_MS });
		return Authorization;
	};
	return async (target, payload, topic) => {
		const details = webpush.generateRequestDetails(target, payload, {
			headers: { Authorization: authorization(target.endpoint) },
			TTL: settings.ttlSeconds,
			urgency: 'high',
			contentEncoding: 'aes128gcm',
			...(topic ? { topic } : {})
		});
		const headers: Record<string, string> = {};
		for (const [name, value] of Object.entries(details.headers)) headers[name] = String(value);
		try {
			const response = await fetchImpl(details.endpoint, {
				method: details.method,
				headers,
				body: details.body as BodyInit | null,
				signal: AbortSignal.timeout(settings.pushTimeoutMs)
			});
			const body = await response.text();
			return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
		} catch (error) {
			const name = (error as { name?: string })?.name;
			const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
			return {
				error: cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error)),
				timeout: name === 'TimeoutError' || name === 'AbortError'
			};
		}
	};
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
	(event: string, fields?: Record<string, unknown>, level?: LogLevel): void;
}

/** The notification payload. Deliberately carries no message content, not even ciphertext. */
export interface PushPayload {
	v: 1;
	type: 'messages';
	conversation_id: string;
	title: string;
	body: string;
	sender_name: string | null;
	count: number;
	/** One of the messages mentions the recipient (the body says so too). */
	mentioned: boolean;
	seq: number;
	url: string;
	tag: string;
}

/** How one push ended, from the job's point of view. */
export type PushOutcome =
	| { kind: 'sent'; status: number }
	| { kind: 'gone'; status: number }
	| { kind: 'retry'; status?: number; retryAfterMs?: number; error: string }
	| { kind: 'permanent'; status: number; error: string };

/** Sorts a push service answer into sent / gone / retry / permanent (RFC 8030 semantics). */
export function classify(response: PushResponse, now = Date.now()): PushOutcome {
	if ('error' in response) return { kind: 'retry', error: response.timeout ? 'timeout' : response.error };
	const { status } = response;
	if (status >= 200 && status < 300) return { kind: 'sent', status };
	if (status === 404 || status === 410) return { kind: 'gone', status };
	if (status === 429 || status >= 500 || status === 408) {
		return { kind: 'retry', status, error: `push service answered ${status}`, retryAfterMs: retryAfterMs(response.retryAfter, now) };
	}
	return { kind: 'permanent', status, error: `push service refused with ${status}${response.body ? `: ${response.body.slice(0, 200)}` : ''}` };
}

/** A `Retry-After` header (seconds or HTTP date) in milliseconds from `now`, if present and sane. */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
	if (!header) return undefined;
	const trimmed = header.trim();
	if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
	const date = Date.parse(trimmed);
	return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** Delay before the next attempt after `failedAttempt` (1-based) failed: base·2^(n-1), at least Retry-After. */
export function backoffDelayMs(settings: DeliverySettings, failedAttempt: number, retryAfter?: number): number {
	const exponential = settings.backoffMs * 2 ** Math.max(0, failedAttempt - 1);
	return Math.max(exponential, retryAfter ?? 0);
}

/**
 * The VAPID key pair from `delivery.vapid_keys` (service_role only), generated and stored on the
 * first start. Two workers starting at once: the first insert wins and both read the winner back.
 */
export async function ensureVapidKeys(
	db: Sql,
	generate: () => { publicKey: string; privateKey: string }
): Promise<{ publicKey: string; privateKey: string; created: boolean }> {
	const read = () => db.query('select public_key, private_key from delivery.vapid_keys where id');
	let { rows } = await read();
	let created = false;
	if (rows.length === 0) {
		const keys = generate();
		const inserted = await db.query(
			'insert into delivery.vapid_keys (public_key, private_key) values ($1, $2) on conflict (id) do nothing returning id',
			[keys.publicKey, keys.privateKey]
		);
		created = inserted.rows.length > 0;
		({ rows } = await read());
	}
	return { publicKey: rows[0].public_key, privateKey: rows[0].private_key, created };
}

/** The queue options of the delivery queue for `settings`. */
export function queueOptions(settings: DeliverySettings) {
	return {
		retryLimit: Math.max(0, settings.attempts - 1),
		// pg-boss delays in whole seconds; settleJobs sets the exact (ms) retry time right after
		// failing a job, so this only has to keep the job from being refetched before that.
		retryDelay: Math.max(1, Math.ceil(settings.backoffMs / 1000)),
		retryBackoff: false,
		expireInSeconds: Math.max(1, Math.ceil(settings.expireSeconds)),
		deadLetter: DEAD_LETTER_QUEUE
	};
}

/** Creates the dead-letter queue and the delivery queue, or brings their retry options up to date. */
export async function ensureQueues(boss: Boss, settings: DeliverySettings): Promise<void> {
	if (!(await boss.getQueue(DEAD_LETTER_QUEUE))) {
		// Dead letters stay until redriven or 14 days old; nothing works this queue.
		await boss.createQueue(DEAD_LETTER_QUEUE, { policy: 'standard', retentionSeconds: 14 * 24 * 3600 });
	}
	const options = queueOptions(settings);
	if (await boss.getQueue(QUEUE)) await boss.updateQueue(QUEUE, options);
	else await boss.createQueue(QUEUE, { ...options, policy: 'short' });
}

/** The singleton key of a recipient and conversation: at most one queued job per key. */
export function jobKey(userId: string, conversationId: string): string {
	return `${userId}:${conversationId}`;
}

function iso(value: unknown): string {
	return value instanceof Date ? value.toISOString() : String(value);
}

/**
 * Moves up to `batchSize` outbox rows into delivery jobs in one transaction: the rows are deleted
 * exactly when their jobs exist, so a crash at any point loses nothing and duplicates nothing.
 * Each job starts when the newest message it covers is `graceMs` old. Returns how many jobs were
 * offered to the queue (duplicates of an already queued key are dropped by the queue policy) and
 * every job's start time, so a caller can wake up when each comes due.
 */
export async function pumpOutbox(
	db: Database,
	boss: Boss,
	settings: DeliverySettings
): Promise<{ jobs: number; due: number[] }> {
	return db.transaction(async (tx) => {
		const { rows } = await tx.query('select * from delivery.take_outbox($1)', [settings.batchSize]);
		if (rows.length === 0) return { jobs: 0, due: [] };
		const due: number[] = [];
		const jobs = rows.map((row) => {
			const startAt = new Date(new Date(row.last_at).getTime() + settings.graceMs);
			due.push(startAt.getTime());
			const data: DeliveryJobData = {
				userId: row.user_id,
				conversationId: row.conversation_id,
				firstAt: iso(row.first_at)
			};
			return { data, singletonKey: jobKey(row.user_id, row.conversation_id), startAfter: startAt.toISOString() };
		});
		await boss.insert(QUEUE, jobs, { db: { executeSql: (text, params) => tx.query(text, params) } });
		return { jobs: jobs.length, due };
	});
}

/** What to do with a job once processed. */
export type JobOutcome =
	| { job: QueueJob<DeliveryJobData>; action: 'complete'; sent: number; gone: number }
	| { job: QueueJob<DeliveryJobData>; action: 'defer'; runAt: string }
	| { job: QueueJob<DeliveryJobData>; action: 'retry'; error: string; retryAfterMs?: number; sent: number }
	| { job: QueueJob<DeliveryJobData>; action: 'dead'; error: string; sent: number };

interface ClaimRow {
	job_id: string;
	action: 'skip' | 'defer' | 'send';
	run_at: Date | string | null;
	target_seq: string | number | null;
	subscription_id: string | null;
	endpoint: string | null;
	p256dh: string | null;
	auth: string | null;
	conversation_id: string;
	conversation_kind: string | null;
	conversation_title: string | null;
	sender_name: string | null;
	unread: number | null;
	/** Whether one of the messages the push is about mentions the recipient. */
	mentioned: boolean | null;
}

/** The notification for one claimed push: who wrote and where, never what. */
export function buildPayload(row: {
	conversation_id: string;
	conversation_kind: string | null;
	conversation_title: string | null;
	sender_name: string | null;
	unread: number | null;
	target_seq: string | number | null;
	mentioned?: boolean | null;
}): PushPayload {
	const count = Math.max(1, row.unread ?? 1);
	const sender = row.sender_name ?? 'Someone';
	const news = count === 1 ? 'New message' : `${count >= 100 ? '99+' : count} new messages`;
	const group = row.conversation_kind === 'group';
	const mentioned = row.mentioned === true;
	// A mention is what "mentions only" people wait for: say so, as Slack and Element do.
	const body = mentioned
		? count === 1
			? `${sender} mentioned you`
			: `${news}, one mentions you`
		: group
			? `${sender}: ${news}`
			: news;
	return {
		v: 1,
		type: 'messages',
		conversation_id: row.conversation_id,
		title: group ? (row.conversation_title ?? 'Group') : sender,
		body,
		sender_name: row.sender_name,
		count,
		mentioned,
		seq: Number(row.target_seq ?? 0),
		url: `/c/${row.conversation_id}`,
		tag: `conversation:${row.conversation_id}`
	};
}

export interface ProcessDeps {
	db: Sql;
	sendPush: SendPush;
	settings: DeliverySettings;
	log: Logger;
}

/**
 * Handles a batch of delivery jobs: one query decides and leases, the pushes go out concurrently,
 * one query records their outcome. Returns what to do with each job; `settleJobs` does it.
 */
export async function processJobs(jobs: QueueJob<DeliveryJobData>[], deps: ProcessDeps): Promise<JobOutcome[]> {
	const { db, sendPush, settings, log } = deps;
	if (jobs.length === 0) return [];
	const byId = new Map(jobs.map((job) => [job.id, job]));
	const { rows } = (await db.query('select * from delivery.claim_pushes($1, $2, $3, $4)', [
		JSON.stringify(
			jobs.map((job) => ({
				job_id: job.id,
				user_id: job.data.userId,
				conversation_id: job.data.conversationId,
				first_at: job.data.firstAt
			}))
		),
		Math.round(settings.graceMs),
		Math.round(settings.maxWaitMs),
		// The lease outlives any request of this attempt, so only a crashed attempt's lease expires.
		Math.round(settings.pushTimeoutMs + 5000)
	])) as { rows: ClaimRow[] };

	const outcomes: JobOutcome[] = [];
	const sends = new Map<string, ClaimRow[]>();
	for (const row of rows) {
		const job = byId.get(row.job_id);
		if (!job) continue;
		if (row.action === 'send') sends.set(row.job_id, [...(sends.get(row.job_id) ?? []), row]);
		else if (row.action === 'defer' && row.run_at) outcomes.push({ job, action: 'defer', runAt: iso(row.run_at) });
		else outcomes.push({ job, action: 'complete', sent: 0, gone: 0 });
	}

	const settled: { subscription_id: string; conversation_id: string; job_id: string; seq: number; outcome: string }[] = [];
	await Promise.all(
		[...sends].map(async ([jobId, claims]) => {
			const job = byId.get(jobId)!;
			const results = await Promise.all(
				claims.map(async (claim) => {
					const payload = buildPayload(claim);
					const started = Date.now();
					let outcome: PushOutcome;
					try {
						outcome = classify(
							await sendPush(
								{ endpoint: claim.endpoint!, keys: { p256dh: claim.p256dh!, auth: claim.auth! } },
								JSON.stringify(payload),
								claim.conversation_id.replaceAll('-', '')
							)
						);
					} catch (error) {
						outcome = { kind: 'retry', error: error instanceof Error ? error.message : String(error) };
					}
					settled.push({
						subscription_id: claim.subscription_id!,
						conversation_id: claim.conversation_id,
						job_id: jobId,
						seq: payload.seq,
						outcome: outcome.kind === 'sent' ? 'sent' : outcome.kind === 'gone' ? 'gone' : 'failed'
					});
					log(`push.${outcome.kind}`, {
						job_id: jobId,
						attempt: job.retryCount + 1,
						subscription_id: claim.subscription_id,
						user_id: job.data.userId,
						conversation_id: claim.conversation_id,
						seq: payload.seq,
						status: 'status' in outcome ? outcome.status : undefined,
						error: 'error' in outcome ? outcome.error : undefined,
						retry_after_ms: outcome.kind === 'retry' ? outcome.retryAfterMs : undefined,
						ms: Date.now() - started
					}, outcome.kind === 'sent' ? 'debug' : outcome.kind === 'gone' ? 'info' : 'warn');
					return outcome;
				})
			);
			const sent = results.filter((r) => r.kind === 'sent').length;
			const retries = results.filter((r) => r.kind === 'retry');
			const permanent = results.filter((r) => r.kind === 'permanent');
			if (retries.length > 0) {
				const after = Math.max(0, ...retries.map((r) => (r.kind === 'retry' ? (r.retryAfterMs ?? 0) : 0)));
				outcomes.push({
					job,
					action: 'retry',
					error: retries.map((r) => r.kind === 'retry' && r.error).join('; '),
					retryAfterMs: after || undefined,
					sent
				});
			} else if (permanent.length > 0) {
				outcomes.push({ job, action: 'dead', error: permanent.map((r) => r.kind === 'permanent' && r.error).join('; '), sent });
			} else {
				outcomes.push({ job, action: 'complete', sent, gone: results.length - sent });
			}
		})
	);
	if (settled.length > 0) await db.query('select delivery.settle_pushes($1)', [JSON.stringify(settled)]);
	return outcomes;
}

/**
 * Applies the outcomes to the queue: complete; defer (a follow-up job at `runAt`, then complete);
 * retry (fail, which pg-boss turns into a retry or, after the last attempt, a dead letter; then
 * set the exact backoff); dead (a non-retryable refusal: straight to the dead-letter queue).
 * Every call names the attempt it settles, so a job that meanwhile expired and was retried by
 * someone else is left alone.
 */
export async function settleJobs(boss: Boss, outcomes: JobOutcome[], settings: DeliverySettings, log: Logger) {
	const ref = (o: JobOutcome): JobRef => ({ id: o.job.id, retryCount: o.job.retryCount });
	const complete = outcomes.filter((o) => o.action === 'complete');
	const defer = outcomes.filter((o) => o.action === 'defer');
	const retry = outcomes.filter((o) => o.action === 'retry');
	const dead = outcomes.filter((o) => o.action === 'dead');

	if (defer.length > 0) {
		await boss.insert(
			QUEUE,
			defer.map((o) => ({
				data: o.job.data,
				singletonKey: jobKey(o.job.data.userId, o.job.data.conversationId),
				startAfter: o.runAt
			}))
		);
	}
	for (const o of dead) {
		await boss.send(DEAD_LETTER_QUEUE, { ...o.job.data, error: o.error, sourceId: o.job.id });
		log('job.dead_lettered', { job_id: o.job.id, error: o.error, attempt: o.job.retryCount + 1 }, 'error');
	}
	const done = [...complete, ...defer, ...dead];
	if (done.length > 0) await boss.complete(QUEUE, done.map(ref));
	for (const o of retry) {
		const attempt = o.job.retryCount + 1;
		await boss.fail(QUEUE, [ref(o)], { error: o.error, attempt });
		if (attempt >= settings.attempts) {
			log('job.dead_lettered', { job_id: o.job.id, error: o.error, attempt }, 'error');
			continue;
		}
		const delay = backoffDelayMs(settings, attempt, o.retryAfterMs);
		await boss.update(QUEUE, undefined, { id: o.job.id, startAfter: delay / 1000 });
		log('job.retry_scheduled', { job_id: o.job.id, attempt, delay_ms: delay, error: o.error }, 'warn');
	}
}

/** Fetches one batch, processes and settles it. Returns the number of jobs handled. */
export async function runBatch(boss: Boss, deps: ProcessDeps): Promise<number> {
	const jobs = await boss.fetch<DeliveryJobData>(QUEUE, { batchSize: deps.settings.batchSize });
	if (jobs.length === 0) return 0;
	const outcomes = await processJobs(jobs, deps);
	await settleJobs(boss, outcomes, deps.settings, deps.log);
	return jobs.length;
}
