/**
 * Delivery worker benchmark: one worker process (`node worker/cli.ts run`) against a push endpoint
 * that answers every request after 20 ms (and verifies VAPID and decrypts every payload, as in the
 * tests).
 *
 * 1. Throughput: N messages to N offline recipients are committed while the worker is down; the
 *    worker is started and the figure is notifications received per second from the first to the
 *    last push (the backlog drain, worker start-up excluded).
 * 2. Latency: a worker with a 500 ms grace period and its default outbox poll; messages are sent
 *    one at a time at a steady rate; the figure is the time from `send_message` committing plus
 *    the grace period to the push request arriving at the endpoint (what the target measures).
 *
 * Targets (issue 8): >= 500 notifications/s; p50 < 100 ms after the grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { percentile, report } from './support.ts';
import { startBenchStack } from './cluster.ts';
import { PushService, type BrowserSubscription } from '../worker/testing/push-service.ts';

const N = Number(process.env.BENCH_WORKER_N ?? 3000);
const LATENCY_SAMPLES = Number(process.env.BENCH_WORKER_LATENCY_SAMPLES ?? 200);
const LATENCY_GRACE_MS = 500;
const root = join(import.meta.dirname, '..');

const stack = await startBenchStack({ migrations: true });
const pool = new pg.Pool({ connectionString: stack.dbUrl, max: 8 });
const service = await new PushService().start();
service.setDefault({ delayMs: 20 });
// Every 25th request is fully verified (VAPID + decryption); checking all would put the endpoint's
// crypto on the same two CPU cores as the worker's and measure the endpoint, not the worker.
service.verifyEvery = 25;

interface Pair {
	conversation: string;
	sender: string;
	recipient: string;
	browser: BrowserSubscription;
}

/** N direct conversations, each with a subscribed recipient; set up in bulk with plain SQL. */
async function createPairs(n: number): Promise<Pair[]> {
	const pairs: Pair[] = Array.from({ length: n }, () => ({
		conversation: randomUUID(),
		sender: randomUUID(),
		recipient: randomUUID(),
		browser: service.subscribe()
	}));
	const users = pairs.flatMap((p) => [p.sender, p.recipient]);
	await pool.query(
		`insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at)
		 select id, 'authenticated', 'authenticated', 'u' || replace(id::text, '-', '') || '@bench.test',
		   jsonb_build_object('username', 'u' || left(replace(id::text, '-', ''), 30)), now(), now()
		 from unnest($1::uuid[]) as id`,
		[users]
	);
	await pool.query(`update public.profiles set display_name = 'Sender' where id = any($1)`, [
		pairs.map((p) => p.sender)
	]);
	await pool.query(
		`insert into public.conversations (id, kind, direct_key, created_by)
		 select c, 'direct', least(s, r)::text || ':' || greatest(s, r)::text, s
		 from unnest($1::uuid[], $2::uuid[], $3::uuid[]) as t(c, s, r)`,
		[pairs.map((p) => p.conversation), pairs.map((p) => p.sender), pairs.map((p) => p.recipient)]
	);
	await pool.query(
		`insert into public.conversation_participants (conversation_id, user_id)
		 select c, unnest(array[s, r]) from unnest($1::uuid[], $2::uuid[], $3::uuid[]) as t(c, s, r)`,
		[pairs.map((p) => p.conversation), pairs.map((p) => p.sender), pairs.map((p) => p.recipient)]
	);
	await pool.query(
		`insert into public.push_subscriptions (user_id, endpoint, p256dh, auth)
		 select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[])`,
		[
			pairs.map((p) => p.recipient),
			pairs.map((p) => p.browser.endpoint),
			pairs.map((p) => p.browser.keys.p256dh),
			pairs.map((p) => p.browser.keys.auth)
		]
	);
	return pairs;
}

/** send_message as the sender, the way the app calls it; resolves when the transaction committed. */
async function send(pair: Pair): Promise<void> {
	const client = await pool.connect();
	try {
		await client.query('begin');
		await client.query(`select set_config('request.jwt.claims', $1, true)`, [
			JSON.stringify({ sub: pair.sender, role: 'authenticated' })
		]);
		await client.query('set local role authenticated');
		await client.query(
			`select public.send_message($1, 'Y2lwaGVydGV4dA==', 'text', null, null, null, '{"epoch":1,"nonce":"bg=="}')`,
			[pair.conversation]
		);
		await client.query('commit');
	} finally {
		client.release();
	}
}

function startWorker(env: Record<string, string>): { child: ChildProcess; started: Promise<void> } {
	const nodeArgs = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
	const child = spawn(process.execPath, [...nodeArgs, join(root, 'worker/cli.ts'), 'run'], {
		cwd: root,
		env: {
			...process.env,
			DATABASE_URL: stack.dbUrl,
			PARLEY_WORKER_CONCURRENCY: '8',
			PARLEY_WORKER_BATCH_SIZE: '100',
			PARLEY_PUSH_TIMEOUT_MS: '5000',
			...env
		},
		stdio: ['ignore', 'pipe', 'inherit']
	});
	const started = new Promise<void>((resolve, reject) => {
		child.stdout!.on('data', (chunk: Buffer) => {
			// Log lines are short; a line split across chunks only delays the match by one chunk.
			if (chunk.toString().includes('"worker.started"')) resolve();
		});
		child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
	});
	return { child, started };
}

async function stopWorker(child: ChildProcess): Promise<void> {
	const exited = new Promise((resolve) => child.once('exit', resolve));
	child.kill('SIGTERM');
	await exited;
}

try {
	const pairs = await createPairs(N + LATENCY_SAMPLES);
	const backlog = pairs.slice(0, N);
	const live = pairs.slice(N);

	// 1. Throughput: a backlog of N notifications, drained by one worker.
	await pool.query(
		`insert into public.messages (conversation_id, sender_id, seq, content_encrypted, encryption)
		 select c, s, 1, 'Y2lwaGVydGV4dA==', '{"epoch":1,"nonce":"bg=="}' from unnest($1::uuid[], $2::uuid[]) as t(c, s)`,
		[backlog.map((p) => p.conversation), backlog.map((p) => p.sender)]
	);
	await pool.query(`update public.conversations set last_seq = 1 where id = any($1)`, [
		backlog.map((p) => p.conversation)
	]);
	const worker = startWorker({ PARLEY_PUSH_GRACE_MS: '0', PARLEY_WORKER_POLL_MS: '200' });
	await worker.started;
	service.expectedKey = (await pool.query('select public_key from delivery.vapid_keys')).rows[0].public_key;
	await service.waitFor(() => service.deliveries.length >= N, 120_000, `${N} pushes`);
	const received = service.deliveries.map((d) => d.receivedAt).sort((a, b) => a - b);
	const drainSeconds = (received[received.length - 1] - received[0]) / 1000;
	const perSecond = (N - 1) / drainSeconds;
	if (service.errors.length > 0) throw new Error(`push endpoint rejected requests: ${service.errors[0]}`);
	const unique = new Set(service.deliveries.map((d) => d.subscriptionId)).size;
	report('worker: backlog drain (grace 0, endpoint 20 ms)', {
		notifications: N,
		duplicates: service.deliveries.length - unique,
		seconds: drainSeconds,
		'notifications/s': perSecond,
		target: '>= 500/s',
		verdict: perSecond >= 500 ? 'met' : 'MISSED'
	});

	await stopWorker(worker.child);

	// 2. Latency: commit + grace -> push arrives at the endpoint, one message at a time.
	const latencyWorker = startWorker({ PARLEY_PUSH_GRACE_MS: String(LATENCY_GRACE_MS) });
	await latencyWorker.started;
	const bySubscription = new Map(live.map((p) => [p.browser.id, p]));
	const committedAt = new Map<string, number>();
	const latencies: number[] = [];
	const before = service.deliveries.length;
	service.on('request', ({ subscriptionId }: { subscriptionId: string }) => {
		const pair = bySubscription.get(subscriptionId);
		const at = pair && committedAt.get(pair.conversation);
		if (at !== undefined) latencies.push(performance.now() - at - LATENCY_GRACE_MS);
	});
	for (const pair of live) {
		await send(pair);
		committedAt.set(pair.conversation, performance.now());
		await new Promise((r) => setTimeout(r, 20)); // ~50 messages/s, steady
	}
	await service.waitFor(() => service.deliveries.length >= before + live.length, 60_000, 'latency pushes');
	report(`worker: commit + grace (${LATENCY_GRACE_MS} ms) -> push received`, {
		samples: latencies.length,
		p50_ms: percentile(latencies, 50),
		p95_ms: percentile(latencies, 95),
		p99_ms: percentile(latencies, 99),
		target: 'p50 < 100 ms after grace',
		verdict: percentile(latencies, 50) < 100 ? 'met' : 'MISSED'
	});
	await stopWorker(latencyWorker.child);
} finally {
	await service.stop();
	await pool.end();
	await stack.stop();
}
