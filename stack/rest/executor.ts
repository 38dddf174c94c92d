/**
 * Executor: runs a request's statements in one transaction and one network round trip. The
 * settings (role, claims, headers, search_path, role timeouts), an optional `explain` and the
 * query go out as one extended-protocol batch closed by a single Sync, so PostgreSQL runs them as
 * one implicit transaction: committed at the Sync, rolled back whole if any statement fails, and
 * answered with one ReadyForQuery. Requests whose outcome depends on their result (`decide`) or is
 * a rollback run the same batch inside `begin` and finish with a second round trip. Connections
 * log in as the superuser but immediately become `authenticator` (as PostgREST's connections are),
 * so a role switch can only reach the roles authenticator was granted. Statements are prepared
 * once per connection under a name derived from their text.
 */
import pg from 'pg';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Statement } from './sql.ts';

/** pg's own conversion of JavaScript parameter values (arrays, dates, buffers) to wire values. */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
	prepareValue(value: unknown): string | Buffer | null;
};

/**
 * Connections of the request pool: `PARLEY_REST_POOL_SIZE`, else twice the CPUs (at least 4).
 * Past what the cores can run, more backends only compete: each maps shared memory and warms
 * caches of its own, so on 2 vCPUs a pool of 24 sent 20-30% fewer messages per second than 4.
 * Requests beyond the pool wait in Node, where waiting costs nothing.
 */
export function restPoolSize(): number {
	return Number(process.env.PARLEY_REST_POOL_SIZE ?? Math.max(4, 2 * availableParallelism()));
}

const BEGIN = 'begin isolation level read committed';
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
	 * fixed in advance by `rollback`.
	 */
	decide?: (result: pg.QueryResult) => boolean;
	rollback?: boolean;
}

export interface RunResult {
	main: pg.QueryResult;
	explain?: pg.QueryResult;
}

/** The part of pg's connection a batch writes to (pg's types describe an older signature). */
interface WireConnection {
	stream: Socket;
	close(m: { type: 'S'; name: string }): void;
	parse(m: { name: string; text: string; types: number[] }): void;
	bind(m: { statement: string; values: (string | Buffer | null)[] }): void;
	describe(m: { type: 'P'; name: string }): void;
	execute(m: { portal: string; rows: number }): void;
	sync(): void;
}

/** pg's result accumulator, with the methods its own Query feeds it through. */
interface WireResult extends pg.QueryResult {
	addFields(fields: pg.FieldDef[]): void;
	parseRow(fields: unknown[]): unknown;
	addRow(row: unknown): void;
	addCommandComplete(msg: unknown): void;
}

/** A statement of a batch: prepared under `name`, or parsed unnamed each time without one. */
interface BatchStatement extends Statement {
	name?: string;
}

/**
 * A pg "submittable" that writes several statements (Parse when not yet prepared on this
 * connection, Bind, Describe, Execute) and one Sync, and collects one result per statement. pg
 * hands it every answer until the ReadyForQuery that the Sync produces, or the first error (after
 * which PostgreSQL skips everything up to the Sync).
 */
class Batch {
	readonly results: WireResult[] = [];
	callback?: (error: Error | null, results?: WireResult[]) => void;
	#statements: BatchStatement[];
	#prepared: Set<string>;
	/** The statement whose answers are arriving. */
	#current = 0;
	/** Names parsed by this batch, by statement index. */
	#parsedHere = new Map<number, string>();

	constructor(statements: BatchStatement[], prepared: Set<string>) {
		this.#statements = statements;
		this.#prepared = prepared;
		for (let i = 0; i < statements.length; i++)
			this.results.push(new pg.Result(undefined as never, pg.types) as unknown as WireResult);
	}

	submit(connection: WireConnection): Error | null {
		let values: (string | Buffer | null)[][];
		try {
			values = this.#statements.map((s) => s.values.map((v) => prepareValue(v)));
		} catch (e) {
			return e as Error;
		}
		// One write for the whole batch: system calls, not SQL, dominate a fast request.
		connection.stream.cork();
		try {
			this.#statements.forEach((s, i) => {
				const name = s.name ?? '';
				if (!name || !this.#prepared.has(name)) {
					// A batch that failed may or may not have prepared it: closing first is harmless.
					if (name) connection.close({ type: 'S', name });
					connection.parse({ name, text: s.text, types: [] });
					if (name) {
						this.#prepared.add(name);
						this.#parsedHere.set(i, name);
					}
				}
				connection.bind({ statement: name, values: values[i] });
				connection.describe({ type: 'P', name: '' });
				connection.execute({ portal: '', rows: 0 });
			});
			connection.sync();
		} finally {
			connection.stream.uncork();
		}
		return null;
	}

	handleRowDescription(msg: { fields: pg.FieldDef[] }): void {
		this.results[this.#current].addFields(msg.fields);
	}

	handleDataRow(msg: { fields: unknown[] }): void {
		const result = this.results[this.#current];
		result.addRow(result.parseRow(msg.fields));
	}

	handleCommandComplete(msg: unknown): void {
		this.results[this.#current++].addCommandComplete(msg);
	}

	handleEmptyQuery(): void {
		this.#current++;
	}

	handleError(error: Error): void {
		// PostgreSQL skipped every message after the failing one, so the statements parsed from the
		// failing one on may not be prepared: the next batch that uses them parses them again.
		for (const [i, name] of this.#parsedHere) if (i >= this.#current) this.#prepared.delete(name);
		this.callback?.(error);
	}

	handleReadyForQuery(): void {
		this.callback?.(null, this.results);
	}

	handlePortalSuspended(): void {}
	handleCopyInResponse(): void {}
	handleCopyData(): void {}
}

/** The pool of request connections plus the prepared-statement name registry. */
export class Executor {
	readonly pool: pg.Pool;
	#names = new Map<string, string>();
	#generation = 0;
	/** Per connection, the statement names prepared on it. */
	#prepared = new WeakMap<pg.PoolClient, Set<string>>();

	constructor(connectionString: string, max: number) {
		this.pool = new pg.Pool({ connectionString, max, idleTimeoutMillis: 60_000 });
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

	#named(s: Statement): BatchStatement {
		let name = this.#names.get(s.text);
		if (!name) {
			// Bounded: past this many shapes, new ones run unnamed (parsed each time).
			if (this.#names.size >= 2000) return s;
			name = `pgrst_${this.#generation}_${this.#names.size}`;
			this.#names.set(s.text, name);
		}
		return { name, text: s.text, values: s.values };
	}

	#settingsStatement(s: RequestSettings, readOnly: boolean): Statement {
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
		// The implicit transaction's equivalent of `begin read only`.
		if (readOnly) pairs.push(['transaction_read_only', 'on']);
		const values: string[] = [];
		for (const [k, v] of pairs) values.push(k, v);
		return { text: settingsText(pairs.length), values };
	}

	#batch(client: pg.PoolClient, statements: BatchStatement[]): Promise<WireResult[]> {
		let prepared = this.#prepared.get(client);
		if (!prepared) this.#prepared.set(client, (prepared = new Set()));
		const batch = new Batch(statements, prepared);
		return new Promise((resolve, reject) => {
			batch.callback = (error, results) => (error ? reject(error) : resolve(results!));
			client.query(batch as unknown as pg.QueryConfig);
		});
	}

	/** Runs one request transaction; rejects with the first database error. */
	async run(o: RunOptions): Promise<RunResult> {
		const client = await this.pool.connect();
		let broken: Error | undefined;
		// Without a decision to take, the batch is the whole transaction; otherwise it opens one.
		const explicit = Boolean(o.decide || o.rollback);
		const statements: BatchStatement[] = [];
		if (explicit) statements.push(this.#named({ text: o.readOnly ? BEGIN_READ_ONLY : BEGIN, values: [] }));
		statements.push(this.#named(this.#settingsStatement(o.settings, o.readOnly && !explicit)));
		if (o.explain) statements.push(this.#named(o.explain));
		statements.push(this.#named(o.main));
		try {
			let results: WireResult[];
			try {
				results = await this.#batch(client, statements);
			} catch (e) {
				if (explicit && (e as { code?: string }).code) await client.query('rollback');
				throw e;
			}
			const result: RunResult = {
				main: results[results.length - 1],
				explain: o.explain ? results[results.length - 2] : undefined
			};
			if (explicit) {
				const commit = !o.rollback && (!o.decide || o.decide(result.main));
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
