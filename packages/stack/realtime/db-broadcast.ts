/**
 * Broadcast from the database: rows committed into `realtime.messages` (by `realtime.send()` or
 * `realtime.broadcast_changes()`) go to the sockets joined to their topic.
 *
 * As Supabase's Realtime does, the rows are read from logical replication: a temporary slot with
 * the built-in `pgoutput` plugin on the publication `supabase_realtime_messages_publication`
 * (platform part 11). The walsender sends each transaction whole, after it commits, in commit
 * order, and never a rolled-back one (so authorization probes never leak). Nothing runs inside
 * the writing transaction: an earlier NOTIFY-based design serialized every broadcasting commit on
 * PostgreSQL's global notify lock, which halved send throughput.
 *
 * When the database has a publication named `realtime_authorization`, the same stream carries its
 * tables' changes too: after such a commit is delivered, `onAuthorizationChange` gets the changed
 * rows' values, and the open channels they can concern are authorized again (reauthorize.ts).
 * This is the embedded stack's own strictness; hosted Supabase re-checks only on a new token.
 *
 * The slot is temporary, so no WAL is retained while the stack is down; like Supabase's
 * replication connection, rows committed while the connection is down are not replayed, and the
 * connection is re-opened with backoff.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { Hub } from './hub.ts';
import { topicKey } from './hub.ts';
import {
	parseFrame,
	parseLsn,
	parsePgOutput,
	rowOf,
	standbyStatusUpdate,
	type ColumnValue,
	type Relation
} from './pgoutput.ts';

/** The publication Supabase's Realtime reads broadcast rows from. */
export const PUBLICATION = 'supabase_realtime_messages_publication';
/** Tables whose committed changes make the stack re-check open private channels (optional). */
export const AUTHORIZATION_PUBLICATION = 'realtime_authorization';
/** `application_name` of the replication connection (visible in pg_stat_activity). */
export const REPLICATION_APPLICATION_NAME = 'parley_realtime_replication';

export interface DbBroadcastOptions {
	dbUrl: string;
	hub: Hub;
	reconnectMs: number;
	/** How often the position is confirmed to the server when it does not ask. */
	statusIntervalMs: number;
	retentionMs: number;
	janitorIntervalMs: number;
	log: (message: string) => void;
	/**
	 * A committed transaction changed rows of the authorization publication: their values (old
	 * key and new row), or 'all' after a truncate. Called after the transaction's broadcasts went out.
	 */
	onAuthorizationChange?: (values: AuthorizationChange) => void;
}

/** What changed in the authorization publication's tables in one transaction. */
export type AuthorizationChange = Set<string> | 'all';

/** What the replication stream uses of pg's connection while in CopyBoth mode. */
interface CopyConnection {
	query(text: string): void;
	sendCopyFromChunk(chunk: Buffer): void;
}

/** A row of realtime.messages as replicated: every value as text. */
type MessageRow = Record<string, string | null>;

export interface DbBroadcaster {
	/** Resolves once the replication slot exists (first time): later commits are delivered. */
	ready: Promise<void>;
	/** Deletes rows past the retention window now; returns how many. */
	purge(): Promise<number>;
	close(): Promise<void>;
}

/**
 * The payload as sent to clients: JSON text, with the message id added to an object payload that
 * has none, as Supabase's `realtime.send` does.
 */
export function withId(payload: string | null, id: string): string {
	if (payload === null) return JSON.stringify({ id });
	if (!payload.trimStart().startsWith('{')) return payload;
	const parsed = JSON.parse(payload) as Record<string, unknown>;
	return 'id' in parsed ? payload : JSON.stringify({ ...parsed, id });
}

/** Is this relation realtime.messages (or one of its partitions)? */
function isMessages(relation: Relation): boolean {
	return relation.schema === 'realtime' && relation.name.startsWith('messages');
}

/**
 * The pgoutput stream of one replication connection, as a pg "submittable" query: pg hands it the
 * CopyData frames of START_REPLICATION. Rows are buffered per transaction and delivered at its
 * commit.
 */
class ReplicationStream {
	#relations = new Map<number, Relation>();
	#pending: MessageRow[] = [];
	#changed: AuthorizationChange | null = null;
	#inTransaction = false;
	#lsn: bigint;
	#connection: CopyConnection | null = null;
	#timer: NodeJS.Timeout;
	readonly sql: string;
	readonly deliver: (rows: MessageRow[], changed: AuthorizationChange | null) => void;
	readonly fail: (error: Error) => void;

	constructor(
		sql: string,
		startLsn: bigint,
		statusIntervalMs: number,
		deliver: (rows: MessageRow[], changed: AuthorizationChange | null) => void,
		fail: (error: Error) => void
	) {
		this.sql = sql;
		this.deliver = deliver;
		this.fail = fail;
		this.#lsn = startLsn;
		this.#timer = setInterval(() => this.#confirm(), statusIntervalMs);
		this.#timer.unref();
	}

	submit(connection: CopyConnection): void {
		this.#connection = connection;
		connection.query(this.sql);
	}

	handleCopyData(message: { chunk: Buffer }): void {
		try {
			const frame = parseFrame(message.chunk);
			if (frame.type === 'keepalive') {
				// Between transactions everything up to the server's position is processed: confirming
				// it lets the server recycle WAL written by tables outside the publication.
				if (!this.#inTransaction && frame.walEnd > this.#lsn) this.#lsn = frame.walEnd;
				if (frame.replyRequested) this.#confirm();
			} else if (frame.type === 'xlogdata') {
				this.#onMessage(frame.data);
			}
		} catch (error) {
			this.fail(error as Error);
		}
	}

	#onMessage(data: Buffer): void {
		const message = parsePgOutput(data);
		switch (message.type) {
			case 'relation':
				this.#relations.set(message.relation.id, message.relation);
				break;
			case 'begin':
				this.#pending = [];
				this.#changed = null;
				this.#inTransaction = true;
				break;
			case 'insert': {
				const relation = this.#relation(message.relationId);
				if (isMessages(relation)) this.#pending.push(rowOf(relation, message.values));
				else this.#noteChange(message.values);
				break;
			}
			// realtime.messages' own updates, deletes (the janitor) and truncates are no one's access.
			case 'update':
				if (!isMessages(this.#relation(message.relationId)))
					this.#noteChange(message.values, message.old ?? []);
				break;
			case 'delete':
				if (!isMessages(this.#relation(message.relationId))) this.#noteChange(message.old);
				break;
			case 'truncate':
				if (message.relationIds.some((id) => !isMessages(this.#relation(id)))) this.#changed = 'all';
				break;
			case 'commit': {
				const rows = this.#pending;
				const changed = this.#changed;
				this.#pending = [];
				this.#changed = null;
				this.#inTransaction = false;
				this.#lsn = message.endLsn;
				if (rows.length > 0 || changed) this.deliver(rows, changed);
				break;
			}
		}
	}

	/** A relation the stream has described (pgoutput sends a Relation before its first change). */
	#relation(relationId: number): Relation {
		const relation = this.#relations.get(relationId);
		if (!relation) throw new Error(`change for unknown relation ${relationId}`);
		return relation;
	}

	/** Values of a changed row of the authorization publication's tables. */
	#noteChange(...tuples: ColumnValue[][]): void {
		if (this.#changed === 'all') return;
		this.#changed ??= new Set();
		for (const tuple of tuples) for (const v of tuple) if (typeof v === 'string') this.#changed.add(v);
	}

	#confirm(): void {
		this.#connection?.sendCopyFromChunk(standbyStatusUpdate(this.#lsn));
	}

	handleError(error: Error): void {
		this.stop();
		this.fail(error);
	}
	handleReadyForQuery(): void {
		this.stop();
		this.fail(new Error('replication stream ended'));
	}
	handleRowDescription(): void {}
	handleDataRow(): void {}
	handleCommandComplete(): void {}
	handleEmptyQuery(): void {}
	handleCopyInResponse(): void {}

	stop(): void {
		clearInterval(this.#timer);
	}
}

export function startDbBroadcast(options: DbBroadcastOptions): DbBroadcaster {
	let client: pg.Client | null = null;
	let stream: ReplicationStream | null = null;
	let closed = false;
	let backoff = options.reconnectMs;
	let reconnectTimer: NodeJS.Timeout | null = null;
	let resolveReady!: () => void;
	const ready = new Promise<void>((resolve) => (resolveReady = resolve));

	function deliver(rows: MessageRow[], changed: AuthorizationChange | null): void {
		deliverRows(rows);
		if (changed) options.onAuthorizationChange?.(changed);
	}

	function deliverRows(rows: MessageRow[]): void {
		for (const row of rows) {
			if (row.extension !== 'broadcast' || !row.event || !row.topic || !row.id) continue;
			const key = topicKey(row.topic, row.private === 't');
			// Most rows go to topics nobody has joined (a user's inbox while they are offline):
			// skip them before any payload work.
			if (options.hub.subscribers(key) === 0) continue;
			try {
				options.hub.broadcast(key, {
					kind: 'user',
					broadcast: {
						event: row.event,
						encoding: 'json',
						data: Buffer.from(withId(row.payload, row.id)),
						meta: { id: row.id }
					}
				});
			} catch (error) {
				options.log(`cannot deliver database message ${row.id}: ${(error as Error).message}`);
			}
		}
	}

	function scheduleReconnect(): void {
		if (closed || reconnectTimer) return;
		reconnectTimer = setTimeout(() => {
			reconnectTimer = null;
			void connect();
		}, backoff);
		backoff = Math.min(backoff * 2, 5000);
	}

	async function connect(): Promise<void> {
		const c = new pg.Client({
			connectionString: options.dbUrl,
			application_name: REPLICATION_APPLICATION_NAME,
			replication: 'database'
		} as pg.ClientConfig);
		let dropped = false;
		const onDrop = (error?: Error) => {
			if (dropped) return;
			dropped = true;
			if (client === c) {
				client = null;
				stream?.stop();
				stream = null;
			}
			if (!closed)
				options.log(`replication connection lost${error ? `: ${error.message}` : ''}; reconnecting`);
			c.end().catch(() => {});
			scheduleReconnect();
		};
		c.on('error', onDrop);
		c.on('end', () => onDrop());
		try {
			await c.connect();
			// Temporary: dropped with the session, so a stopped stack retains no WAL.
			const slot = `supabase_realtime_messages_replication_slot_${randomBytes(6).toString('hex')}`;
			const created = await c.query<{ consistent_point: string }>(
				`CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'nothing')`
			);
			if (closed) {
				await c.end();
				return;
			}
			// A missing publication would fail START_REPLICATION: name it only when it exists.
			const authz = await c.query(
				`select 1 from pg_catalog.pg_publication where pubname = '${AUTHORIZATION_PUBLICATION}'`
			);
			const publications = authz.rowCount ? `${PUBLICATION},${AUTHORIZATION_PUBLICATION}` : PUBLICATION;
			const s = new ReplicationStream(
				`START_REPLICATION SLOT ${slot} LOGICAL 0/0 (proto_version '1', publication_names '${publications}')`,
				parseLsn(created.rows[0].consistent_point),
				options.statusIntervalMs,
				deliver,
				(error) => {
					if (!closed) options.log(`replication stream failed: ${error.message}`);
					onDrop(error);
				}
			);
			client = c;
			stream = s;
			// A submittable: pg routes the stream's CopyData frames to it.
			c.query(s as unknown as pg.Submittable);
			backoff = options.reconnectMs;
			// Every transaction committing after the slot's consistent point will be streamed.
			resolveReady();
		} catch (error) {
			onDrop(error as Error);
		}
	}

	async function purge(): Promise<number> {
		const c = new pg.Client({ connectionString: options.dbUrl });
		try {
			await c.connect();
			const { rowCount } = await c.query(
				`delete from realtime.messages where inserted_at < now() - make_interval(secs => $1)`,
				[options.retentionMs / 1000]
			);
			return rowCount ?? 0;
		} finally {
			await c.end().catch(() => {});
		}
	}

	const janitor = setInterval(() => {
		purge().catch((error: Error) => options.log(`purging old messages failed: ${error.message}`));
	}, options.janitorIntervalMs);
	janitor.unref();

	void connect();

	return {
		ready,
		purge,
		async close() {
			closed = true;
			clearInterval(janitor);
			if (reconnectTimer) clearTimeout(reconnectTimer);
			stream?.stop();
			const c = client;
			client = null;
			resolveReady();
			await c?.end().catch(() => {});
		}
	};
}
