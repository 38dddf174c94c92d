/**
 * Executor: runs a request's statements in one transaction and one network round trip. The
 * settings (role, claims, headers, search_path, role timeouts; db/caller.ts), an optional `explain` and the
 * query go out as one extended-protocol batch closed by a single Sync, so PostgreSQL runs them as
 * one implicit transaction: committed at the Sync, rolled back whole if any statement fails, and
 * answered with one ReadyForQuery. Requests whose outcome depends on their result (`decide`) or is
 * a rollback run the same batch inside `begin` and finish with a second round trip. When all
 * connections are busy, batches are pipelined behind others (see Executor). Connections
 * log in as the superuser but immediately become `authenticator` (as PostgREST's connections are),
 * so a role switch can only reach the roles authenticator was granted. Statements are prepared
 * once per connection under a name derived from their text. Pool size and pipeline depth are the
 * caller's (the stack config's `rest` section).
 */
import pg from 'pg';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { callerStatement, type CallerSettings, type Statement } from '../db/caller.ts';

/** pg's own conversion of JavaScript parameter values (arrays, dates, buffers) to wire values. */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
	prepareValue(value: unknown): string | Buffer | null;
};

/** Errors without a SQLSTATE come from the connection itself: it is not reused. */
function brokenConnection(e: unknown): Error | undefined {
	const code = (e as { code?: string }).code;
	return !code || code === '57P01' ? (e as Error) : undefined;
}

const BEGIN = 'begin isolation level read committed';
const BEGIN_READ_ONLY = 'begin isolation level read committed read only';

/** What a request sets before its query: its caller, search_path and request details. */
export type RequestSettings = CallerSettings;

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

/**
 * A statement of a batch: prepared under `name`, or parsed unnamed each time without one; its
 * values already in wire form, so that a value pg cannot send fails the request before any
 * connection (which other pipelined requests may share) is involved.
 */
interface BatchStatement {
	name?: string;
	text: string;
	values: (string | Buffer | null)[];
}

/**
 * A pg "submittable" that writes several statements (Parse when not yet prepared on this
 * connection, Bind, Describe, Execute) and one Sync, and collects one result per statement. pg
 * hands it every answer until the ReadyForQuery that the Sync produces, or the first error (after
 * which PostgreSQL skips everything up to the Sync). It extends pg's Query only because pg's
 * pipeline mode accepts nothing else; it overrides every method pg calls.
 */
class Batch extends (pg.Query as unknown as new (config: object) => object) {
	readonly results: WireResult[] = [];
	callback?: (error: Error | null, results?: WireResult[]) => void;
	#statements: BatchStatement[];
	#prepared: Set<string>;
	/** The statement whose answers are arriving. */
	#current = 0;
	/** Names this batch parses, in order ('' for unnamed); each ParseComplete confirms the next. */
	#parsing: string[] = [];
	/** The first error of a type parser on a row of this batch. */
	#rowError?: Error;

	constructor(statements: BatchStatement[], prepared: Set<string>) {
		super({});
		this.#statements = statements;
		this.#prepared = prepared;
		for (let i = 0; i < statements.length; i++)
			this.results.push(new pg.Result(undefined as never, pg.types) as unknown as WireResult);
	}

	submit(connection: WireConnection): null {
		// One write for the batch, and for every batch written to this connection in the same tick:
		// system calls, not SQL, dominate a fast request.
		connection.stream.cork();
		process.nextTick(() => connection.stream.uncork());
		for (const s of this.#statements) {
			const name = s.name ?? '';
			if (!name || !this.#prepared.has(name)) {
				// Until PostgreSQL confirms a name, every batch that uses it parses it; an earlier
				// batch may have prepared it meanwhile, so close it first (closing nothing is no error).
				if (name) connection.close({ type: 'S', name });
				connection.parse({ name, text: s.text, types: [] });
				this.#parsing.push(name);
			}
			connection.bind({ statement: name, values: s.values });
			connection.describe({ type: 'P', name: '' });
			connection.execute({ portal: '', rows: 0 });
		}
		connection.sync();
		return null;
	}

	handleRowDescription(msg: { fields: pg.FieldDef[] }): void {
		this.results[this.#current].addFields(msg.fields);
	}

	handleDataRow(msg: { fields: unknown[] }): void {
		if (this.#rowError) return;
		const result = this.results[this.#current];
		// A type parser that throws would otherwise throw out of pg's socket handler: as pg's own
		// Query does, keep the error and report it once the batch is answered.
		try {
			result.addRow(result.parseRow(msg.fields));
		} catch (e) {
			this.#rowError = e as Error;
		}
	}

	handleCommandComplete(msg: unknown): void {
		this.results[this.#current++].addCommandComplete(msg);
	}

	handleEmptyQuery(): void {
		this.#current++;
	}

	/** Called for each ParseComplete of this batch. */
	handleParseComplete(): void {
		const name = this.#parsing.shift();
		if (name) this.#prepared.add(name);
	}

	handleError(error: Error): void {
		this.callback?.(error);
	}

	handleReadyForQuery(): void {
		if (this.#rowError) this.callback?.(this.#rowError);
		else this.callback?.(null, this.results);
	}

	handlePortalSuspended(): void {}
	handleCopyInResponse(): void {}
	handleCopyData(): void {}
}

/** A pooled connection lent to implicit transactions, with how many of their batches it carries. */
interface Lane {
	/** The connection, while the pool is still handing it over too: batches queue behind it at once. */
	client: Promise<pg.PoolClient>;
	inFlight: number;
}

/**
 * The pool of request connections plus the prepared-statement name registry. When every
 * connection is busy, an implicit transaction is written behind those already in flight on the
 * least loaded connection, up to `pipelineDepth` batches per connection, instead of waiting in
 * Node: PostgreSQL finds the next request already read when it finishes one, so neither side
 * sleeps and wakes per request, and requests of one tick share a write. Each batch is still its
 * own transaction (its Sync ends it; an error skips only its own messages). Transactions that take
 * two round trips (`decide`, `rollback`) get a connection to themselves, and while one waits for
 * it no batch joins a busy connection, so they are never starved.
 */
export class Executor {
	readonly pool: pg.Pool;
	#pipelineDepth: number;
	#names = new Map<string, string>();
	#generation = 0;
	/** Per connection, the statement names PostgreSQL confirmed it prepared there. */
	#prepared = new WeakMap<pg.PoolClient, Set<string>>();
	/** Connections carrying implicit transactions. */
	#lanes: Lane[] = [];
	#exclusiveWaiting = 0;

	constructor(connectionString: string, max: number, pipelineDepth: number) {
		// pg's pipeline mode writes each query without waiting for the answers before it.
		this.pool = new pg.Pool({
			connectionString,
			max,
			idleTimeoutMillis: 60_000,
			...({ pipeline: true } as object)
		});
		this.#pipelineDepth = pipelineDepth;
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
		const values = s.values.map((v) => prepareValue(v));
		let name = this.#names.get(s.text);
		if (!name) {
			// Bounded: past this many shapes, new ones run unnamed (parsed each time).
			if (this.#names.size >= 2000) return { text: s.text, values };
			name = `pgrst_${this.#generation}_${this.#names.size}`;
			this.#names.set(s.text, name);
		}
		return { name, text: s.text, values };
	}

	#batch(client: pg.PoolClient, statements: BatchStatement[]): Promise<WireResult[]> {
		let prepared = this.#prepared.get(client);
		if (!prepared) {
			this.#prepared.set(client, (prepared = new Set()));
			// pg tells only its own named queries of a ParseComplete; batches learn of theirs here.
			const wire = client as unknown as { connection: NodeJS.EventEmitter; _getActiveQuery(): unknown };
			wire.connection.on('parseComplete', () => {
				const active = wire._getActiveQuery();
				if (active instanceof Batch) active.handleParseComplete();
			});
		}
		const batch = new Batch(statements, prepared);
		return new Promise((resolve, reject) => {
			batch.callback = (error, results) => (error ? reject(error) : resolve(results!));
			client.query(batch as unknown as pg.QueryConfig);
		});
	}

	/** An idle connection if the pool has one, else the least loaded lane with room, else waits. */
	#lane(): Lane {
		const poolBusy = this.pool.totalCount >= this.pool.options.max! && this.pool.idleCount === 0;
		if (poolBusy && this.#exclusiveWaiting === 0) {
			let least: Lane | undefined;
			for (const lane of this.#lanes) if (!least || lane.inFlight < least.inFlight) least = lane;
			if (least && least.inFlight < this.#pipelineDepth) return least;
		}
		const lane = { client: this.pool.connect(), inFlight: 0 };
		this.#lanes.push(lane);
		return lane;
	}

	/** Runs one request transaction; rejects with the first database error. */
	async run(o: RunOptions): Promise<RunResult> {
		// Without a decision to take, the batch is the whole transaction; otherwise it opens one.
		const explicit = Boolean(o.decide || o.rollback);
		const statements: BatchStatement[] = [];
		if (explicit) statements.push(this.#named({ text: o.readOnly ? BEGIN_READ_ONLY : BEGIN, values: [] }));
		statements.push(this.#named(callerStatement(o.settings, o.readOnly && !explicit)));
		if (o.explain) statements.push(this.#named(o.explain));
		statements.push(this.#named(o.main));
		const outcome = (results: WireResult[]): RunResult => ({
			main: results[results.length - 1],
			explain: o.explain ? results[results.length - 2] : undefined
		});
		return explicit ? this.#runExplicit(o, statements, outcome) : this.#runImplicit(statements, outcome);
	}

	async #runImplicit(
		statements: BatchStatement[],
		outcome: (r: WireResult[]) => RunResult
	): Promise<RunResult> {
		const lane = this.#lane();
		lane.inFlight++;
		let client: pg.PoolClient | undefined;
		let broken: Error | undefined;
		try {
			client = await lane.client;
			return outcome(await this.#batch(client, statements));
		} catch (e) {
			broken = brokenConnection(e);
			throw e;
		} finally {
			lane.inFlight--;
			const i = this.#lanes.indexOf(lane);
			if (i >= 0 && (lane.inFlight === 0 || broken)) {
				this.#lanes.splice(i, 1);
				client?.release(broken);
			}
		}
	}

	async #runExplicit(
		o: RunOptions,
		statements: BatchStatement[],
		outcome: (r: WireResult[]) => RunResult
	): Promise<RunResult> {
		this.#exclusiveWaiting++;
		let client: pg.PoolClient;
		try {
			client = await this.pool.connect();
		} finally {
			this.#exclusiveWaiting--;
		}
		let broken: Error | undefined;
		try {
			let result: RunResult;
			try {
				result = outcome(await this.#batch(client, statements));
			} catch (e) {
				// The failed statement left the transaction it opened aborted; a broken connection
				// has no transaction left to end.
				if (!brokenConnection(e)) await client.query('rollback');
				throw e;
			}
			const commit = !o.rollback && (!o.decide || o.decide(result.main));
			await client.query(commit ? 'commit' : 'rollback');
			return result;
		} catch (e) {
			broken = brokenConnection(e);
			throw e;
		} finally {
			client.release(broken);
		}
	}

	async close(): Promise<void> {
		for (const lane of this.#lanes.splice(0))
			await lane.client.then(
				(c) => c.release(),
				() => {}
			);
		await this.pool.end();
	}
}
