/**
 * The logical replication session Realtime reads the database from, as Supabase's Realtime does:
 * a replication connection, a temporary slot with the built-in `pgoutput` plugin, and
 * START_REPLICATION on the publications of the handlers it is given (replication-stream.ts
 * decodes and routes). It owns the session's life: start, re-opening with back-off after a drop,
 * stop. Nothing runs inside the writing transactions: an earlier NOTIFY-based design serialized
 * every broadcasting commit on PostgreSQL's global notify lock, which halved send throughput.
 *
 * The slot is temporary, so no WAL is retained while the stack is down; like Supabase's
 * replication connection, rows committed while the connection is down are not replayed.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { parseLsn } from './pgoutput.ts';
import { ReplicationStream, type ReplicationHandler } from './replication-stream.ts';

/** `application_name` of the replication connection (visible in pg_stat_activity). */
export const REPLICATION_APPLICATION_NAME = 'parley_realtime_replication';

export interface ReplicationOptions {
	dbUrl: string;
	/** Told of every transaction, in this order. */
	handlers: readonly ReplicationHandler[];
	/** Delay before re-opening a dropped connection (doubles up to 5 s). */
	reconnectMs: number;
	/** How often the position is confirmed to the server when it does not ask. */
	statusIntervalMs: number;
	log: (message: string) => void;
}

export interface Replication {
	/** Resolves once the slot exists (first time): later commits are streamed. */
	ready: Promise<void>;
	close(): Promise<void>;
}

/** A literal for the walsender, which takes only the simple query protocol (no parameters). */
function literal(text: string): string {
	return `'${text.replaceAll("'", "''")}'`;
}

/** The handlers' publications that can be streamed: the required ones, the optional ones that exist. */
async function publicationsOf(c: pg.Client, handlers: readonly ReplicationHandler[]): Promise<string[]> {
	const optional = handlers.filter((h) => h.optional).map((h) => h.publication);
	const existing = new Set<string>();
	if (optional.length > 0) {
		const { rows } = await c.query<{ pubname: string }>(
			`select pubname from pg_catalog.pg_publication where pubname in (${optional.map(literal).join(',')})`
		);
		for (const row of rows) existing.add(row.pubname);
	}
	const names = handlers.filter((h) => !h.optional || existing.has(h.publication)).map((h) => h.publication);
	return [...new Set(names)];
}

export function startReplication(options: ReplicationOptions): Replication {
	let client: pg.Client | null = null;
	let stream: ReplicationStream | null = null;
	let closed = false;
	let backoff = options.reconnectMs;
	let reconnectTimer: NodeJS.Timeout | null = null;
	let resolveReady!: () => void;
	const ready = new Promise<void>((resolve) => (resolveReady = resolve));

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
			const publications = (await publicationsOf(c, options.handlers)).join(',');
			const s = new ReplicationStream(
				`START_REPLICATION SLOT ${slot} LOGICAL 0/0 (proto_version '1', publication_names ${literal(publications)})`,
				parseLsn(created.rows[0].consistent_point),
				options.statusIntervalMs,
				options.handlers,
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

	void connect();

	return {
		ready,
		async close() {
			closed = true;
			if (reconnectTimer) clearTimeout(reconnectTimer);
			stream?.stop();
			const c = client;
			client = null;
			resolveReady();
			await c?.end().catch(() => {});
		}
	};
}
