/**
 * REST API benchmark: requests/s and p50/p99 latency through `/rest/v1` (keep-alive HTTP, an
 * authenticated JWT, a fresh request per operation) at 1, 8 and 64 concurrent clients, for a
 * primary-key select under an RLS policy and for a small RPC, beside the same SQL over a direct
 * `pg` pool with the same transaction (role switch, claims and request settings). Prints figures
 * and the REST/direct ratios; never asserts.
 *
 * Three processes, as in a real deployment: this one owns PostgreSQL, the gateway with the REST
 * service runs in a child process (`startServerProcess`), and every measurement's clients run in another
 * child (`--load`), so neither the server nor the load generator shares an event loop, a heap or
 * a garbage collector with the other. `BENCH_PROFILE=dir` writes a CPU profile of the server.
 */
import pg from 'pg';
import type { Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inChildProcess, keepAliveClient, load, percentile, report, serveChild } from './support.ts';
import { benchPostgresOptions, startServerProcess } from './cluster.ts';
import { signJwt } from '@parley/stack/jwt.ts';
import { startPostgres } from '@parley/stack/postgres.ts';
import { applyPlatform } from '@parley/stack/platform.ts';
import { loadConfig } from '@parley/stack/config.ts';
import { freePort } from '@parley/stack/testing/free-port.ts';

interface Job {
	kind: 'rest-select' | 'rest-rpc' | 'pg-select' | 'pg-rpc' | 'pipe-select' | 'pipe-rpc';
	concurrency: number;
	durationMs: number;
	apiUrl: string;
	dbUrl: string;
	anonKey: string;
	token: string;
	claims: Record<string, unknown>;
}

type Row = { perSecond: number; p50: number; p99: number };

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 2000);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8,64').split(',').map(Number);
/** Interleaved rounds per figure (the median is reported). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const USER = '33333333-3333-4333-8333-333333333333';
/** Pool size of the direct baseline: the REST service's default pool size. */
const DIRECT_POOL = loadConfig().rest.poolSize;

/** Runs one measurement in the load process. */
async function runJob(job: Job): Promise<{ latencies: number[]; perSecond: number }> {
	// One keep-alive connection per client, as a browser or a server-side client pool would hold.
	const http = keepAliveClient(job.apiUrl, job.concurrency);
	const send = http.send;
	const headers = { apikey: job.anonKey, authorization: `Bearer ${job.token}` };
	// A pseudo-random even id (the user's rows) so requests do not all hit one row.
	let n = 0;
	const nextId = () => 2 * (1 + ((n++ * 7919) % 5000));
	let task: () => Promise<void>;
	let end = async () => {};
	if (job.kind === 'rest-select') {
		task = async () => {
			const res = await send('GET', `/rest/v1/bench_items?select=id,body&id=eq.${nextId()}`, headers);
			if (res.status !== 200) throw new Error(`select ${res.status} ${res.body}`);
			if ((JSON.parse(res.body) as unknown[]).length !== 1) throw new Error('expected one row');
		};
	} else if (job.kind === 'rest-rpc') {
		const rpcHeaders = { ...headers, 'content-type': 'application/json' };
		task = async () => {
			const res = await send('POST', '/rest/v1/rpc/bench_add', rpcHeaders, JSON.stringify({ a: n++, b: 1 }));
			if (res.status !== 200) throw new Error(`rpc ${res.status} ${res.body}`);
			JSON.parse(res.body);
		};
	} else {
		const d = direct(job, job.kind.startsWith('pipe'));
		task = job.kind.endsWith('select') ? () => d.select(nextId()) : () => d.rpc(n++);
		end = d.end;
	}
	await load(task, { concurrency: job.concurrency, durationMs: 300 }); // warm connections and statements
	const result = await load(task, { concurrency: job.concurrency, durationMs: job.durationMs });
	await end();
	http.close();
	return result;
}

/**
 * The direct baseline: the transaction the REST layer runs (role switch, claims and request
 * settings, role timeout, the query), minus HTTP, parsing and JSON shaping; either one round trip
 * per statement or pipelined (and corked) like the REST executor.
 */
function direct(job: Job, pipeline: boolean) {
	const pool = new pg.Pool({ connectionString: job.dbUrl, max: DIRECT_POOL, ...({ pipeline } as object) });
	pool.on('connect', (c) => void c.query('set session authorization authenticator').catch(() => {}));
	const settings = (method: string, path: string) => ({
		name: `bench_settings_${method}`,
		text:
			`select set_config('search_path', '"public", "extensions"', true), set_config('role', $1, true), ` +
			`set_config('request.jwt.claims', $2, true), set_config('request.method', $3, true), ` +
			`set_config('request.path', $4, true), set_config('request.headers', $5, true), ` +
			`set_config('request.cookies', '{}', true), set_config('statement_timeout', '8s', true)`,
		values: [
			'authenticated',
			JSON.stringify(job.claims),
			method,
			path,
			JSON.stringify({ apikey: job.anonKey, authorization: `Bearer ${job.token}` })
		]
	});
	const selectSettings = settings('GET', '/bench_items');
	const rpcSettings = settings('POST', '/rpc/bench_add');
	async function tx(set: pg.QueryConfig, query: pg.QueryConfig): Promise<pg.QueryResult> {
		const client = await pool.connect();
		try {
			if (pipeline) {
				// Corked into one write, as the REST executor sends its transactions.
				const stream = (client as unknown as { connection: { stream: Socket } }).connection.stream;
				stream.cork();
				const ps = [client.query('begin'), client.query(set), client.query(query), client.query('commit')];
				stream.uncork();
				ps.forEach((p) => p.catch(() => {}));
				return (await Promise.all(ps))[2];
			}
			await client.query('begin');
			await client.query(set);
			const r = await client.query(query);
			await client.query('commit');
			return r;
		} finally {
			client.release();
		}
	}
	return {
		async select(id: number) {
			const r = await tx(selectSettings, {
				name: 'bench_select',
				text: 'select id, body from public.bench_items where id = $1',
				values: [id]
			});
			if (r.rows.length !== 1) throw new Error('expected one row');
		},
		async rpc(a: number) {
			await tx(rpcSettings, { name: 'bench_rpc', text: 'select public.bench_add($1, $2)', values: [a, 1] });
		},
		end: () => pool.end()
	};
}

/** Per figure, the median of the rounds (of an even count, the lower middle). */
function median(rows: Row[]): Row {
	const mid = (values: number[]) => values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
	return {
		perSecond: mid(rows.map((r) => r.perSecond)),
		p50: mid(rows.map((r) => r.p50)),
		p99: mid(rows.map((r) => r.p99))
	};
}

/** Runs one job in a fresh load process and returns its figures. */
function inLoadProcess(job: Job): Promise<Row> {
	return inChildProcess<Row>(import.meta.filename, '--load', job);
}

async function main(): Promise<void> {
	const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
	const port = await freePort();
	const config = { ...loadConfig(), dbPort: port };
	const postgres = await startPostgres(benchPostgresOptions(dir, config));
	const dbUrl = postgres.localUrl('postgres');
	let server: { close(): Promise<void> } | undefined;
	try {
		await applyPlatform(dbUrl);
		const admin = new pg.Client({ connectionString: dbUrl });
		await admin.connect();
		await admin.query(`
			create table public.bench_items (
				id bigint primary key,
				owner_id uuid not null,
				body text not null
			);
			alter table public.bench_items enable row level security;
			create policy bench_owner on public.bench_items for select to authenticated
				using (owner_id = (select auth.uid()));
			insert into public.bench_items
				select g, case when g % 2 = 0 then '${USER}'::uuid else gen_random_uuid() end, 'item ' || g
				from generate_series(1, 10000) g;
			analyze public.bench_items;
			create function public.bench_add(a int, b int) returns int language sql stable as $$ select a + b $$;
		`);
		await admin.end();
		const started = await startServerProcess(config, dbUrl);
		server = started;
		const claims = {
			sub: USER,
			role: 'authenticated',
			aud: 'authenticated',
			exp: Math.floor(Date.now() / 1000) + 3600
		};
		const base = {
			durationMs: DURATION_MS,
			apiUrl: started.url,
			dbUrl,
			anonKey: config.anonKey,
			token: await signJwt(claims, config.jwtSecret),
			claims
		};
		const results = new Map<string, Row>();
		for (const [label, what] of [
			['pk select (RLS)', 'select'],
			['rpc bench_add', 'rpc']
		] as const) {
			console.log(`\n-- ${label}`);
			for (const c of CONCURRENCY) {
				const kinds = [
					['rest', `rest-${what}`],
					['pg', `pg-${what}`],
					['pg-pipelined', `pipe-${what}`]
				] as const;
				// Rounds interleave REST and the baselines, and the median round is reported, so that a
				// burst of load from elsewhere on the machine skews one round rather than one side.
				const rounds = new Map<string, Row[]>(kinds.map(([name]) => [name, []]));
				for (let i = 0; i < ROUNDS; i++)
					for (const [name, kind] of kinds)
						rounds.get(name)!.push(await inLoadProcess({ ...base, kind, concurrency: c }));
				for (const [name] of kinds) {
					const row = median(rounds.get(name)!);
					results.set(`${name}@${c}`, row);
					report(`${name.padEnd(12)} ${label} c=${c}`, {
						'req/s': row.perSecond,
						'p50 ms': row.p50,
						'p99 ms': row.p99
					});
				}
			}
			for (const c of CONCURRENCY) {
				const r = results.get(`rest@${c}`)!;
				const s = results.get(`pg@${c}`)!;
				const p = results.get(`pg-pipelined@${c}`)!;
				report(`ratio ${label} c=${c}`, {
					'rest/pg req/s': r.perSecond / s.perSecond,
					'rest/pg-pipelined req/s': r.perSecond / p.perSecond,
					'p50 overhead ms vs pg': r.p50 - s.p50,
					'vs pg-pipelined': r.p50 - p.p50
				});
			}
		}
		console.log('\ntargets: rest req/s at c=64 >= 0.5 x direct pg; p50 overhead at c=1 < 1 ms');
	} finally {
		await server?.close();
		await postgres.stop();
		rmSync(dir, { recursive: true, force: true });
	}
}

if (process.argv[2] === '--load')
	await serveChild(async (job: Job) => {
		const { latencies, perSecond } = await runJob(job);
		return { perSecond, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
	});
else await main();
