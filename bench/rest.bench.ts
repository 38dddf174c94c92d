/**
 * REST API benchmark: requests/s and p50/p99 latency through `/rest/v1` (keep-alive `fetch`, an
 * authenticated JWT) at 1, 8 and 64 concurrent clients, for a primary-key select under an RLS
 * policy and for a small RPC, beside the same SQL over a direct `pg` pool with the same
 * role switch and request settings. Prints figures and the REST/direct ratios; never asserts.
 *
 * The clients run in a worker thread, as they would run in another process in real use, so that
 * the REST server (in the main thread) does not share its event loop with its own load.
 */
import pg from 'pg';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { startBenchStack } from './cluster.ts';
import { load, percentile, report } from './support.ts';
import { signJwt } from '../stack/jwt.ts';

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

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 3000);
const CONCURRENCY = [1, 8, 64];
const USER = '33333333-3333-4333-8333-333333333333';
/** Pool size of the direct baseline: the REST service's default pool size. */
const DIRECT_POOL = Number(process.env.PARLEY_REST_POOL_SIZE ?? 24);

/** Runs one measurement inside the worker. */
async function runJob(job: Job): Promise<{ latencies: number[]; perSecond: number }> {
	const headers = { apikey: job.anonKey, authorization: `Bearer ${job.token}` };
	const rest = `${job.apiUrl}/rest/v1`;
	// A pseudo-random even id (the user's rows) so requests do not all hit one row.
	let n = 0;
	const nextId = () => 2 * (1 + ((n++ * 7919) % 5000));
	let task: () => Promise<void>;
	let end = async () => {};
	if (job.kind === 'rest-select') {
		task = async () => {
			const res = await fetch(`${rest}/bench_items?select=id,body&id=eq.${nextId()}`, { headers });
			if (res.status !== 200) throw new Error(`select ${res.status} ${await res.text()}`);
			if (((await res.json()) as unknown[]).length !== 1) throw new Error('expected one row');
		};
	} else if (job.kind === 'rest-rpc') {
		task = async () => {
			const res = await fetch(`${rest}/rpc/bench_add`, {
				method: 'POST',
				headers: { ...headers, 'content-type': 'application/json' },
				body: JSON.stringify({ a: n++, b: 1 })
			});
			if (res.status !== 200) throw new Error(`rpc ${res.status} ${await res.text()}`);
			await res.json();
		};
	} else {
		const d = direct(job, job.kind.startsWith('pipe'));
		task = job.kind.endsWith('select') ? () => d.select(nextId()) : () => d.rpc(n++);
		end = d.end;
	}
	await load(task, { concurrency: job.concurrency, durationMs: 300 }); // warm connections and statements
	const result = await load(task, { concurrency: job.concurrency, durationMs: job.durationMs });
	await end();
	return result;
}

/**
 * The direct baseline: the transaction the REST layer runs (role switch, claims, role timeout,
 * the query), minus HTTP, parsing and JSON shaping; either one round trip per statement or
 * pipelined like the REST executor.
 */
function direct(job: Job, pipeline: boolean) {
	const pool = new pg.Pool({ connectionString: job.dbUrl, max: DIRECT_POOL, ...({ pipeline } as object) });
	pool.on('connect', (c) => void c.query('set session authorization authenticator').catch(() => {}));
	const settings = {
		name: 'bench_settings',
		text:
			`select set_config('search_path', '"public", "extensions"', true), set_config('role', $1, true), ` +
			`set_config('request.jwt.claims', $2, true), set_config('request.method', $3, true), ` +
			`set_config('statement_timeout', '8s', true)`,
		values: ['authenticated', JSON.stringify(job.claims), 'GET']
	};
	async function tx(query: pg.QueryConfig): Promise<pg.QueryResult> {
		const client = await pool.connect();
		try {
			if (pipeline) {
				const ps = [
					client.query('begin'),
					client.query(settings),
					client.query(query),
					client.query('commit')
				];
				ps.forEach((p) => p.catch(() => {}));
				return (await Promise.all(ps))[2];
			}
			await client.query('begin');
			await client.query(settings);
			const r = await client.query(query);
			await client.query('commit');
			return r;
		} finally {
			client.release();
		}
	}
	return {
		async select(id: number) {
			const r = await tx({
				name: 'bench_select',
				text: 'select id, body from public.bench_items where id = $1',
				values: [id]
			});
			if (r.rows.length !== 1) throw new Error('expected one row');
		},
		async rpc(a: number) {
			await tx({ name: 'bench_rpc', text: 'select public.bench_add($1, $2)', values: [a, 1] });
		},
		end: () => pool.end()
	};
}

type Row = { perSecond: number; p50: number; p99: number };

function inWorker(job: Job): Promise<Row> {
	return new Promise((resolve, reject) => {
		const worker = new Worker(new URL(import.meta.url), { workerData: job });
		worker.once('message', resolve);
		worker.once('error', reject);
		worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
	});
}

async function main(): Promise<void> {
	const stack = await startBenchStack();
	const admin = new pg.Client({ connectionString: stack.dbUrl });
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
		notify pgrst, 'reload schema';
	`);
	await admin.end();
	const claims = {
		sub: USER,
		role: 'authenticated',
		aud: 'authenticated',
		exp: Math.floor(Date.now() / 1000) + 3600
	};
	const base = {
		durationMs: DURATION_MS,
		apiUrl: stack.apiUrl,
		dbUrl: stack.dbUrl,
		anonKey: stack.config.anonKey,
		token: await signJwt(claims, stack.config.jwtSecret),
		claims
	};
	const results = new Map<string, Row>();
	try {
		for (const [label, what] of [
			['pk select (RLS)', 'select'],
			['rpc bench_add', 'rpc']
		] as const) {
			console.log(`\n-- ${label}`);
			for (const c of CONCURRENCY) {
				for (const [name, kind] of [
					['rest', `rest-${what}`],
					['pg', `pg-${what}`],
					['pg-pipelined', `pipe-${what}`]
				] as const) {
					const row = await inWorker({ ...base, kind, concurrency: c });
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
		await stack.stop();
	}
}

if (!isMainThread) {
	const job = workerData as Job;
	const { latencies, perSecond } = await runJob(job);
	parentPort!.postMessage({ perSecond, p50: percentile(latencies, 50), p99: percentile(latencies, 99) });
} else await main();
