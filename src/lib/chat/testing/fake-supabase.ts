/**
 * A small in-memory stand-in for the parts of supabase-js the core uses (`from` queries, `rpc`,
 * Realtime channels), for unit tests of the key ring and the chat store. Several clients can
 * share one `FakeDatabase` to play different users. RPCs are whatever handlers a test registers.
 */
import type { SupabaseClient } from '@supabase/supabase-js';

type Row = Record<string, unknown>;
type Result = {
	data: unknown;
	error: { message: string; details?: string; code?: string } | null;
	status: number;
};

/** Throw from an RPC handler to make the call fail like PostgREST would. */
export class FakeRpcError extends Error {
	readonly status: number;
	readonly details: string;
	constructor(status: number, details: string, message = details) {
		super(message);
		this.status = status;
		this.details = details;
	}
}

export type RpcHandler = (args: Record<string, unknown>, userId: string) => unknown;

/** Tables shared by every client. */
export class FakeDatabase {
	tables: Record<string, Row[]> = {};
	/** Run after a client inserts or updates rows of a table (as the database's triggers would). */
	afterWrite: Record<string, (row: Row) => void> = {};
	table(name: string): Row[] {
		return (this.tables[name] ??= []);
	}
}

class Query implements PromiseLike<Result> {
	#filters: ((r: Row) => boolean)[] = [];
	#op: 'select' | 'insert' | 'update' | 'upsert' = 'select';
	#values: Row = {};
	#conflict: string[] = [];
	#order: { column: string; ascending: boolean } | null = null;
	#single = false;
	readonly #client: FakeSupabase;
	readonly #table: string;

	constructor(client: FakeSupabase, table: string) {
		this.#client = client;
		this.#table = table;
	}
	select(_columns?: string) {
		return this;
	}
	eq(column: string, value: unknown) {
		this.#filters.push((r) => r[column] === value);
		return this;
	}
	in(column: string, values: unknown[]) {
		this.#filters.push((r) => values.includes(r[column]));
		return this;
	}
	update(values: Row) {
		this.#op = 'update';
		this.#values = values;
		return this;
	}
	insert(values: Row) {
		this.#op = 'insert';
		this.#values = values;
		return this;
	}
	upsert(values: Row, options: { onConflict?: string } = {}) {
		this.#op = 'upsert';
		this.#values = values;
		this.#conflict = (options.onConflict ?? 'id').split(',');
		return this;
	}
	order(column: string, options: { ascending?: boolean } = {}) {
		this.#order = { column, ascending: options.ascending ?? true };
		return this;
	}
	maybeSingle() {
		this.#single = true;
		return this;
	}
	#run(): Result {
		const fail = this.#client.failNext;
		if (fail) {
			this.#client.failNext = null;
			return { data: null, error: { message: fail.message, details: fail.details }, status: fail.status };
		}
		if (this.#client.offline) return { data: null, error: { message: 'TypeError: fetch failed' }, status: 0 };
		const db = this.#client.db;
		const rows = db.table(this.#table);
		const written = (row: Row) => db.afterWrite[this.#table]?.(row);
		if (this.#op === 'insert') {
			const row = structuredClone(this.#values);
			rows.push(row);
			written(row);
			return { data: null, error: null, status: 201 };
		}
		if (this.#op === 'upsert') {
			let row = rows.find((r) => this.#conflict.every((c) => r[c] === this.#values[c]));
			if (row) Object.assign(row, structuredClone(this.#values));
			else rows.push((row = structuredClone(this.#values)));
			written(row);
			return { data: null, error: null, status: 201 };
		}
		const matching = rows.filter((r) => this.#filters.every((f) => f(r)));
		if (this.#op === 'update') {
			for (const r of matching) {
				Object.assign(r, structuredClone(this.#values));
				written(r);
			}
			return { data: null, error: null, status: 204 };
		}
		const order = this.#order;
		if (order) {
			const sign = order.ascending ? 1 : -1;
			matching.sort(
				(a, b) => sign * String(a[order.column] ?? '').localeCompare(String(b[order.column] ?? ''))
			);
		}
		const data = structuredClone(matching);
		if (this.#single) {
			if (data.length > 1) return { data: null, error: { message: 'multiple rows' }, status: 406 };
			return { data: data[0] ?? null, error: null, status: 200 };
		}
		return { data, error: null, status: 200 };
	}
	then<A = Result, B = never>(
		onfulfilled?: ((value: Result) => A | PromiseLike<A>) | null,
		onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null
	): PromiseLike<A | B> {
		return Promise.resolve()
			.then(() => this.#run())
			.then(onfulfilled, onrejected);
	}
}

type Handler = (payload: unknown) => void;

/** A Realtime channel whose events the test emits by hand. */
export class FakeChannel {
	readonly topic: string;
	readonly subTopic: string;
	readonly options: unknown;
	broadcastHandlers = new Map<string, Handler[]>();
	presenceHandlers = new Map<string, Handler[]>();
	statusCallback: ((status: string, err?: Error) => void) | null = null;
	sent: { type: string; event: string; payload: unknown }[] = [];
	tracked: unknown[] = [];
	presence: Record<string, unknown[]> = {};
	removed = false;

	constructor(topic: string, options: unknown) {
		this.topic = `realtime:${topic}`;
		this.subTopic = topic;
		this.options = options;
	}
	on(type: string, filter: { event: string }, callback: Handler) {
		const map = type === 'presence' ? this.presenceHandlers : this.broadcastHandlers;
		const list = map.get(filter.event) ?? [];
		list.push(callback);
		map.set(filter.event, list);
		return this;
	}
	subscribe(callback?: (status: string, err?: Error) => void) {
		this.statusCallback = callback ?? null;
		return this;
	}
	async send(message: { type: string; event: string; payload: unknown }) {
		this.sent.push(message);
		return 'ok';
	}
	async track(payload: unknown) {
		this.tracked.push(payload);
		return 'ok';
	}
	async untrack() {
		return 'ok';
	}
	presenceState() {
		return this.presence;
	}
	async unsubscribe() {
		this.removed = true;
		return 'ok';
	}

	/** Test side: report a subscription status (`SUBSCRIBED`, `CHANNEL_ERROR`, `CLOSED`, ...). */
	setStatus(status: string) {
		this.statusCallback?.(status);
	}
	/** Test side: deliver a broadcast as supabase-js does (`{type, event, payload}`). */
	emit(event: string, payload: unknown) {
		for (const h of this.broadcastHandlers.get(event) ?? []) h({ type: 'broadcast', event, payload });
	}
	/** Test side: replace the presence state and fire `sync`. */
	syncPresence(state: Record<string, unknown[]>) {
		this.presence = state;
		for (const h of this.presenceHandlers.get('sync') ?? []) h(undefined);
	}
}

/** One user's client. */
export class FakeSupabase {
	readonly db: FakeDatabase;
	readonly userId: string;
	rpcHandlers: Record<string, RpcHandler> = {};
	rpcCalls: { name: string; args: Record<string, unknown> }[] = [];
	channels: FakeChannel[] = [];
	offline = false;
	failNext: { status: number; message: string; details?: string } | null = null;
	authSet = 0;
	realtime = {
		setAuth: async () => {
			this.authSet++;
		}
	};

	constructor(userId: string, db: FakeDatabase = new FakeDatabase()) {
		this.userId = userId;
		this.db = db;
	}

	/** Typed as the real client for the code under test. */
	get client(): SupabaseClient {
		return this as unknown as SupabaseClient;
	}

	from(table: string) {
		return new Query(this, table);
	}

	rpc(name: string, args: Record<string, unknown> = {}): PromiseLike<Result> {
		this.rpcCalls.push({ name, args });
		return Promise.resolve().then(async (): Promise<Result> => {
			if (this.offline) return { data: null, error: { message: 'TypeError: fetch failed' }, status: 0 };
			const handler = this.rpcHandlers[name];
			if (!handler) return { data: null, error: { message: `no fake for ${name}` }, status: 404 };
			try {
				return { data: structuredClone(await handler(args, this.userId)), error: null, status: 200 };
			} catch (err) {
				if (err instanceof FakeRpcError) {
					return {
						data: null,
						error: { message: err.message, details: err.details, code: `PT${err.status}` },
						status: err.status
					};
				}
				throw err;
			}
		});
	}

	channel(topic: string, options?: unknown) {
		const channel = new FakeChannel(topic, options);
		this.channels.push(channel);
		return channel;
	}

	getChannels() {
		return this.channels.filter((c) => !c.removed);
	}

	async removeChannel(channel: FakeChannel) {
		channel.removed = true;
		return 'ok';
	}

	/** The latest live channel with a topic. */
	channelFor(topic: string): FakeChannel | undefined {
		return this.channels.filter((c) => c.subTopic === topic && !c.removed).at(-1);
	}

	callsOf(name: string) {
		return this.rpcCalls.filter((c) => c.name === name).map((c) => c.args);
	}
}
