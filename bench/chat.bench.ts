/**
 * Chat database benchmark: 1,000,000 messages over 10,000 conversations and 1,000 users, then
 * - get_messages: a page of 50 from the middle of a 200,000-message conversation (target p50 < 2 ms),
 * - list_conversations: first page for a user in 1,000 conversations (target p50 < 20 ms),
 * - send_message throughput with 16 concurrent senders through the REST API (target >= 1,000/s),
 *   sustained: measured for 5 s after 3 s of warm-up, whose throughput is reported as warmup_per_s;
 *   over direct pg with the same claims when the REST service does not answer, and says so.
 * Reads run as an authenticated user in a transaction with claims set, exactly as the REST API does.
 *
 * While senders run, the Realtime server is streaming: a Realtime client (service role) is joined
 * to the first sender's conversation and to the shared one, so the server decodes and routes every
 * commit as it does in use, and the report counts the message_created broadcasts that client
 * received (1 in 16 messages of the 16-conversation run, all of the shared one). One subscriber,
 * not one per conversation: subscribers are clients, and this machine's two cores are already
 * shared by the server, the database and the load generator.
 *
 * As in bench/rest.bench.ts, this process owns PostgreSQL, the gateway runs in a child process and
 * the REST senders (16 keep-alive HTTP connections) in another (`--load`), so the server, the load
 * generator and the direct-pg measurements share no event loop.
 */
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { startBenchStack } from './cluster.ts';
import {
	cpuByRole,
	cpuSpent,
	inChildProcess,
	keepAliveClient,
	load,
	percentile,
	report,
	serveChild
} from './support.ts';
import { signJwt } from '@parley/stack/jwt.ts';
import { createClient } from '@supabase/supabase-js';
import { conversationTopic } from '../src/lib/chat/live.ts';

/** A REST send_message measurement, run in the load process. */
interface SendJob {
	apiUrl: string;
	anonKey: string;
	/** Per sender: its JWT and the conversation it sends to. */
	senders: { token: string; conversation: string }[];
	durationMs: number;
	warmupMs: number;
}

/** What the load process reports of a SendJob: the measured run, its own CPU, the warm-up's rate. */
interface SendResult {
	perSecond: number;
	latencies: number[];
	cpuMs: number;
	warmupPerSecond?: number;
}

/** 16 senders, each with its own keep-alive connection, POST /rest/v1/rpc/send_message in a loop. */
async function restSendLoad(job: SendJob): Promise<SendResult> {
	const http = keepAliveClient(job.apiUrl, job.senders.length);
	let next = 0;
	const task = async () => {
		const sender = job.senders[next++ % job.senders.length];
		const res = await http.send(
			'POST',
			'/rest/v1/rpc/send_message',
			{ apikey: job.anonKey, authorization: `Bearer ${sender.token}`, 'content-type': 'application/json' },
			JSON.stringify({
				conversation_id: sender.conversation,
				content_encrypted: 'Y2lwaGVydGV4dGNpcGhlcnRleHRjaXBoZXJ0ZXh0',
				client_id: randomUUID(),
				encryption: { epoch: 1, nonce: 'bm9uY2U=' }
			})
		);
		if (res.status !== 200) throw new Error(`REST ${res.status}: ${res.body}`);
	};
	try {
		// CPU from the warm-up on, as the other processes' figures (per stored message) count it.
		const cpu = process.cpuUsage();
		const warmup =
			job.warmupMs > 0
				? await load(task, { concurrency: job.senders.length, durationMs: job.warmupMs })
				: undefined;
		const result = await load(task, { concurrency: job.senders.length, durationMs: job.durationMs });
		const used = process.cpuUsage(cpu);
		return { ...result, cpuMs: (used.user + used.system) / 1000, warmupPerSecond: warmup?.perSecond };
	} finally {
		http.close();
	}
}

/**
 * Where a process's CPU goes in the send runs: database backends, replication (walsender) and
 * background processes, the gateway, the load generator, this process.
 */
function roleOf(comm: string, cmdline: string): string | null {
	if (comm === 'postgres') {
		// PostgreSQL's process titles: the Realtime server's replication, the background
		// processes (checkpointer, writers, autovacuum), and the backends running the requests.
		if (cmdline.includes('walsender')) return 'walsender';
		if (/postgres: (checkpointer|background writer|walwriter|autovacuum)/.test(cmdline))
			return 'pg_background';
		return 'pg';
	}
	if (cmdline.includes('cluster.ts --server')) return 'gateway';
	if (cmdline.includes('chat.bench.ts --load')) return 'load';
	if (cmdline.includes('chat.bench.ts')) return 'bench';
	return null;
}

const USERS = 1000;
const CONVERSATIONS = 10_000;
const BIG = 200_000;
const TOTAL = 1_000_000;
const HEAVY_USER_CONVERSATIONS = 1000;

/** User n (1-based) and conversation n as deterministic uuids. */
const userId = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const convId = (n: number) => `00000000-0000-4000-9000-${n.toString(16).padStart(12, '0')}`;

async function main(): Promise<void> {
	const stack = await startBenchStack({ migrations: true, serverProcess: true });
	const pool = new pg.Pool({ connectionString: stack.dbUrl, max: 20 });

	try {
		const t = performance.now();
		const seed = await pool.connect();
		try {
			await seed.query('begin');
			// Bulk seed: triggers (profiles, realtime broadcasts, delivery outbox) are off for this session.
			await seed.query(`set local session_replication_role = replica`);
			await seed.query(`
				insert into auth.users (id, email, raw_user_meta_data, aud, role, created_at, updated_at)
				select ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'user' || n || '@bench.test', '{}', 'authenticated', 'authenticated', now(), now()
				from generate_series(1, ${USERS}) n;
				insert into public.profiles (id, username, display_name)
				select ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, 'user' || n, 'User ' || n
				from generate_series(1, ${USERS}) n;`);
			// Conversation 1 holds 200,000 messages; the other 9,999 share the remaining 800,000.
			// Every conversation n has users n%1000+1 .. +2 (+3 for groups); user 1 is in conversations 1..1000.
			await seed.query(`
				insert into public.conversations (id, kind, title, created_by, last_seq, last_message_at, created_at)
				select ('00000000-0000-4000-9000-' || lpad(to_hex(n), 12, '0'))::uuid, 'group', 'Conversation ' || n,
				       ('00000000-0000-4000-8000-' || lpad(to_hex(n % ${USERS} + 1), 12, '0'))::uuid,
				       case when n = 1 then ${BIG} else ${Math.floor((TOTAL - BIG) / (CONVERSATIONS - 1))} + (case when n - 2 < ${(TOTAL - BIG) % (CONVERSATIONS - 1)} then 1 else 0 end) end,
				       now() - make_interval(secs => n * 37), now() - interval '30 days'
				from generate_series(1, ${CONVERSATIONS}) n;
				insert into public.conversation_participants (conversation_id, user_id, role, last_delivered_seq, last_read_seq)
				select c.id, u.id, case when k = 0 then 'admin' else 'member' end, c.last_seq, greatest(c.last_seq - k * 3, 0)
				from generate_series(1, ${CONVERSATIONS}) n
				cross join generate_series(0, 2) k
				join public.conversations c on c.id = ('00000000-0000-4000-9000-' || lpad(to_hex(n), 12, '0'))::uuid
				join public.profiles u on u.id = ('00000000-0000-4000-8000-' || lpad(to_hex((n + k) % ${USERS} + 1), 12, '0'))::uuid
				on conflict do nothing;
				insert into public.conversation_participants (conversation_id, user_id, role, last_delivered_seq, last_read_seq)
				select ('00000000-0000-4000-9000-' || lpad(to_hex(n), 12, '0'))::uuid, '${userId(1)}', 'member', 0, 0
				from generate_series(1, ${HEAVY_USER_CONVERSATIONS}) n
				on conflict do nothing;`);
			await seed.query(`
				insert into public.messages (conversation_id, sender_id, seq, content_encrypted, encryption, created_at)
				select c.id, c.created_by, s, encode(extensions.gen_random_bytes(48), 'base64'),
				       '{"epoch":1,"nonce":"bm9uY2Vub25jZW5vbmNlbm9uY2Vub25j"}', c.last_message_at - make_interval(secs => c.last_seq - s)
				from public.conversations c cross join lateral generate_series(1, c.last_seq) s;`);
			await seed.query('commit');
		} finally {
			seed.release();
		}
		await pool.query('vacuum analyze');
		// Write the seed's pages out now, so no measurement below pays for flushing the seed.
		await pool.query('checkpoint');
		const counts = await pool.query(
			`select (select count(*) from public.messages)::int as messages, (select count(*) from public.conversations)::int as conversations,
			        (select count(*) from public.profiles)::int as users,
			        (select count(*) from public.conversation_participants where user_id = '${userId(1)}')::int as heavy`
		);
		report('seed', { ...counts.rows[0], seconds: (performance.now() - t) / 1000 });

		/** Runs `sql` as `user` in a REST-like transaction; returns the statement's latency (ms). */
		async function timedAs(
			client: pg.PoolClient,
			user: string,
			sql: string,
			values: unknown[]
		): Promise<number> {
			await client.query('begin');
			await client.query(
				`select set_config('request.jwt.claims', $1, true), set_config('role', 'authenticated', true)`,
				[JSON.stringify({ sub: user, role: 'authenticated', aud: 'authenticated' })]
			);
			const start = performance.now();
			const result = await client.query(sql, values);
			const elapsed = performance.now() - start;
			await client.query('commit');
			if (result.rowCount === 0) throw new Error(`no rows from ${sql}`);
			return elapsed;
		}

		const reader = await pool.connect();
		try {
			// get_messages: user 2 is in conversation 1 (200,000 messages); pages from around the middle.
			const samples: number[] = [];
			for (let i = 0; i < 600; i++) {
				const before = BIG / 2 + ((i * 7919) % 2000) - 1000;
				const ms = await timedAs(
					reader,
					userId(2),
					'select * from public.get_messages($1, before_seq => $2, page_size => 50)',
					[convId(1), before]
				);
				if (i >= 100) samples.push(ms);
			}
			report('get_messages (50 from the middle of 200k)', {
				p50_ms: percentile(samples, 50),
				p95_ms: percentile(samples, 95),
				target_p50_ms: '< 2'
			});

			const list: number[] = [];
			for (let i = 0; i < 120; i++) {
				const ms = await timedAs(reader, userId(1), 'select * from public.list_conversations()', []);
				if (i >= 20) list.push(ms);
			}
			report('list_conversations (user in 1,000 convs)', {
				p50_ms: percentile(list, 50),
				p95_ms: percentile(list, 95),
				target_p50_ms: '< 20'
			});
		} finally {
			reader.release();
		}

		// send_message: 16 senders, each in its own conversation (users 101..116 own conversations 101..116),
		// and a second run with all 16 in one conversation (the per-conversation lock serializes them).
		const senders = Array.from({ length: 16 }, (_, i) => ({
			user: userId(((101 + i) % USERS) + 1),
			conv: convId(101 + i)
		}));
		const shared = convId(2);
		await pool.query(
			`insert into public.conversation_participants (conversation_id, user_id) select $1, unnest($2::uuid[]) on conflict do nothing`,
			[shared, senders.map((s) => s.user)]
		);
		const tokens = await Promise.all(
			senders.map((s) =>
				signJwt(
					{
						sub: s.user,
						role: 'authenticated',
						aud: 'authenticated',
						exp: Math.floor(Date.now() / 1000) + 3600
					},
					stack.config.jwtSecret
				)
			)
		);
		const probe = keepAliveClient(stack.apiUrl, 1);
		let viaRest = true;
		try {
			const res = await probe.send(
				'POST',
				'/rest/v1/rpc/send_message',
				{
					apikey: stack.config.anonKey,
					authorization: `Bearer ${tokens[0]}`,
					'content-type': 'application/json'
				},
				JSON.stringify({
					conversation_id: senders[0].conv,
					content_encrypted: 'cHJvYmU=',
					client_id: randomUUID()
				})
			);
			if (res.status !== 200) throw new Error(`REST ${res.status}: ${res.body}`);
		} catch (error) {
			viaRest = false;
			console.log(
				`REST /rest/v1/rpc/send_message unavailable (${(error as Error).message.slice(0, 120)}); measuring over direct pg with claims set`
			);
		} finally {
			probe.close();
		}
		// A live subscriber (see the header): Realtime's replication runs as in use.
		const watcher = createClient(stack.apiUrl, stack.config.serviceRoleKey, {
			auth: { persistSession: false, autoRefreshToken: false }
		});
		await watcher.realtime.setAuth(stack.config.serviceRoleKey);
		let broadcasts = 0;
		await Promise.all(
			[senders[0].conv, shared].map(
				(conv) =>
					new Promise<void>((resolve, reject) => {
						watcher
							.channel(conversationTopic(conv, 1), { config: { private: true } })
							.on('broadcast', { event: 'message_created' }, () => broadcasts++)
							.subscribe((status, error) => {
								if (status === 'SUBSCRIBED') resolve();
								else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT')
									reject(new Error(`realtime ${status}: ${error?.message ?? ''}`));
							});
					})
			)
		);
		/** Through REST: 16 senders with keep-alive connections, in a separate load process. */
		const restMeasure = (conversationOf: (i: number) => string) =>
			inChildProcess<SendResult>(import.meta.filename, '--load', {
				apiUrl: stack.apiUrl,
				anonKey: stack.config.anonKey,
				senders: senders.map((_, i) => ({ token: tokens[i], conversation: conversationOf(i) })),
				durationMs: 5000,
				// Sustained throughput, as of a server that has been running: the first seconds
				// pay for JIT compilation and for each connection's first touch of shared
				// memory. Their throughput is reported too (warmup_per_s).
				warmupMs: 3000
			} satisfies SendJob);
		const sendPool = new pg.Pool({ connectionString: stack.dbUrl, max: 16 });
		const pgSend = async (i: number, conversation: string) => {
			const client = await sendPool.connect();
			try {
				await timedAs(
					client,
					senders[i].user,
					'select id from public.send_message($1, $2, client_id => $3, encryption => $4)',
					[
						conversation,
						'Y2lwaGVydGV4dGNpcGhlcnRleHRjaXBoZXJ0ZXh0',
						randomUUID(),
						'{"epoch":1,"nonce":"bm9uY2U="}'
					]
				);
			} finally {
				client.release();
			}
		};
		/** Over direct pg from this process: one round trip per statement (begin, claims, call, commit). */
		const pgMeasure = (conversationOf: (i: number) => string) => {
			let next = 0;
			return load(
				async () => {
					const i = next++ % 16;
					await pgSend(i, conversationOf(i));
				},
				{ concurrency: 16, durationMs: 5000 }
			);
		};
		// Through REST when it answers; always also over direct pg (same claims), to separate the
		// database's cost from the HTTP layer's.
		// The target is for the first path (REST, or direct pg when REST does not answer) with
		// 16 senders in 16 conversations; the other runs are there to compare.
		const paths = [
			...(viaRest ? [{ via: 'REST /rest/v1/rpc/send_message', measure: restMeasure }] : []),
			{ via: viaRest ? 'direct pg' : 'direct pg (REST unavailable)', measure: pgMeasure }
		];
		for (const { via, measure } of paths) {
			// Each run: its label, where sender i writes, and the share of its messages the watcher sees.
			for (const [label, conversationOf, watched] of [
				['16 senders, 16 conversations', (i: number) => senders[i].conv, 1 / 16],
				['16 senders, 1 conversation', () => shared, 1]
			] as const) {
				const before = await pool.query('select count(*)::int as n from public.messages');
				const broadcastsBefore = broadcasts;
				const cpuBefore = cpuByRole(roleOf);
				const result = await measure(conversationOf);
				const cpu = cpuSpent(cpuBefore, cpuByRole(roleOf));
				// The load process has exited by now: it reports its own CPU.
				if ('cpuMs' in result && typeof result.cpuMs === 'number') cpu.load = result.cpuMs;
				const after = await pool.query('select count(*)::int as n from public.messages');
				const stored = after.rows[0].n - before.rows[0].n;
				// Broadcasts trail their commits by a few milliseconds.
				const expected = Math.floor(stored * watched);
				const settle = Date.now() + 2000;
				while (broadcasts - broadcastsBefore < expected && Date.now() < settle) {
					await new Promise((r) => setTimeout(r, 20));
				}
				report(`send_message ${label}`, {
					via,
					per_s: result.perSecond,
					...('warmupPerSecond' in result && typeof result.warmupPerSecond === 'number'
						? { warmup_per_s: result.warmupPerSecond }
						: {}),
					p50_ms: percentile(result.latencies, 50),
					p95_ms: percentile(result.latencies, 95),
					stored,
					broadcast: broadcasts - broadcastsBefore,
					// CPU per stored message, in microseconds, by process.
					...Object.fromEntries(
						Object.entries(cpu).map(([role, ms]) => [`${role}_cpu_us`, (ms * 1000) / stored])
					),
					load_1m: loadavg()[0],
					...(via === paths[0].via && label === '16 senders, 16 conversations'
						? { target_per_s: '>= 1000' }
						: {})
				});
			}
		}
		await sendPool.end();
		await watcher.removeAllChannels();
		const gaps = await pool.query(
			`select count(*)::int as n from (select seq - lag(seq) over (order by seq) as d from public.messages where conversation_id = $1) x where d <> 1`,
			[shared]
		);
		report('gap check (shared conversation)', { gaps: gaps.rows[0].n });
	} finally {
		await pool.end();
		await stack.stop();
	}
}

if (process.argv[2] === '--load') await serveChild(restSendLoad);
else await main();
