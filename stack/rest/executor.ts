/**
 * Executor: runs a request's statements in one transaction on a pipelined connection, so that
 * `begin`, the request settings (role, claims, headers, search_path, role timeouts), the query
 * and `commit` travel together and cost one network round trip. Connections log in as the
 * superuser but immediately become `authenticator` (as PostgREST's connections are), so a role
 * switch can only reach the roles authenticator was granted. Statements are prepared once per
 * connection under a name derived from their text.
 */
import pg from 'pg';
import type { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Statement } from './sql.ts';

/**
 * Connections of the request pool: `PARLEY_REST_POOL_SIZE`, else twice the CPUs (at least 4).
 * Past what the cores can run, more backends only compete: each maps shared memory and warms
 * caches of its own, so on 2 vCPUs a pool of 24 sent 20-30% fewer messages per second than 4.
 * Requests beyond the pool wait in Node, where waiting costs nothing.
 */
export function restPoolSize(): number {
	return Number(process.env.PARLEY_REST_POOL_SIZE ?? Math.max(4, 2 * availableParallelism()));
}

const BEGIN_READ_ONLY = 'begin isolation level read committed read only';

/**
 * `select pg_catalog.set_config($1, $2, true), ...` for `count` settings (name, value pairs): the
 * statement a request runs first to set its role, claims and request details. Its text depends
 * only on the count, so it is prepared once per connection.
 */
const settingsTexts: string[] = [];
export function settingsText(count: number): string {
	let text = settingsTexts[count];
	if (!text) {
		const calls = Array.from(
			{ length: count },
			(_, i) => `pg_catalog.set_config($${2 * i + 1}, $${2 * i + 2}, true)`
		);
		settingsTexts[count] = text = `select ${calls.join(', ')}`;
	}
	return text;
}

/** What a request sets with `set_config(..., true)` before its query. */
export interface RequestSettings {
	role: string;
	searchPath: string;
	claims: string;
	method: string;
	path: string;
	headers: string;
	/** Extra settings such as the role's `statement_timeout` and `Prefer: timezone`. */
	extra: [string, string][];
}

export interface RunOptions {
	readOnly: boolean;
	settings: RequestSettings;
	main: Statement;
	explain?: Statement;
	/**
	 * Decides commit (true) or rollback (false) from the main result. Without it the outcome is
	 * fixed in advance by `rollback` and pipelined with the rest.
	 */
	decide?: (result: pg.QueryResult) => boolean;
	rollback?: boolean;
}

export interface RunResult {
	main: pg.QueryResult;
	explain?: pg.QueryResult;
}

/** The pool of request connections plus the prepared-statement name registry. */
export class Executor {
	readonly pool: pg.Pool;
	#names = new Map<string, string>();
	#generation = 0;

	constructor(connectionString: string, max: number) {
		this.pool = new pg.Pool({
			connectionString,
			max,
			idleTimeoutMillis: 60_000,
			// pg's pipeline mode writes each query without waiting for the previous answer.
			...({ pipeline: true } as object)
		});
		this.pool.on('connect', (client) => {
			client.query('set session authorization authenticator').catch(() => {});
		});
		this.pool.on('error', () => {});
	}

	/** Forgets statement names, so statements prepared before a schema change are not reused. */
	resetStatements(generation: number): void {
		if (generation === this.#generation) return;
		this.#generation = generation;
		this.#names.clear();
	}

	#named(s: Statement): pg.QueryConfig {
		let name = this.#names.get(s.text);
		if (!name) {
			// Bounded: past this many shapes, new ones run unnamed (parsed each time).
			if (this.#names.size >= 2000) return { text: s.text, values: s.values };
			name = `pgrst_${this.#generation}_${this.#names.size}`;
			this.#names.set(s.text, name);
		}
		return { name, text: s.text, values: s.values };
	}

	#settingsStatement(s: RequestSettings): Statement {
		const pairs: [string, string][] = [
			['search_path', s.searchPath],
			['role', s.role],
			['request.jwt.claims', s.claims],
			['request.method', s.method],
			['request.path', s.path],
			['request.headers', s.headers],
			['request.cookies', '{}'],
			...s.extra
		];
		const values: string[] = [];
		for (const [k, v] of pairs) values.push(k, v);
		return { text: settingsText(pairs.length), values };
	}

	/** Runs one request transaction; rejects with the first database error. */
	async run(o: RunOptions): Promise<RunResult> {
		const client = await this.pool.connect();
		let broken: Error | undefined;
		try {
			const pending: Promise<pg.QueryResult>[] = [];
			const send = (q: pg.QueryConfig | string) => {
				const p = client.query(q as pg.QueryConfig);
				p.catch(() => {});
				pending.push(p);
				return p;
			};
			// pg writes every message of a query separately; corking the socket for the whole
			// transaction sends it in one write: system calls, not SQL, dominate a fast request.
			const stream = (client as unknown as { connection: { stream: Socket } }).connection.stream;
			stream.cork();
			let explain: Promise<pg.QueryResult> | undefined;
			let main: Promise<pg.QueryResult>;
			try {
				send(o.readOnly ? BEGIN_READ_ONLY : 'begin');
				send(this.#named(this.#settingsStatement(o.settings)));
				explain = o.explain ? send(this.#named(o.explain)) : undefined;
				main = send(this.#named(o.main));
				if (!o.decide) send(o.rollback ? 'rollback' : 'commit');
			} finally {
				stream.uncork();
			}
			const settled = await Promise.allSettled(pending);
			const failure = settled.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
			if (failure) {
				if (o.decide) await client.query('rollback');
				throw failure.reason;
			}
			const result: RunResult = { main: await main, explain: explain && (await explain) };
			if (o.decide) {
				const commit = o.decide(result.main) && !o.rollback;
				await client.query(commit ? 'commit' : 'rollback');
			}
			return result;
		} catch (e) {
			// Errors without a SQLSTATE come from the connection itself: do not reuse it.
			if (!(e as { code?: string }).code || (e as { code?: string }).code === '57P01') broken = e as Error;
			throw e;
		} finally {
			client.release(broken);
		}
	}

	async close(): Promise<void> {
		await this.pool.end();
	}
}
