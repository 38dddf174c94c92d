/**
 * Broadcast from the database: rows committed into `realtime.messages` (by `realtime.send()` or
 * `realtime.broadcast_changes()`) go to the sockets joined to their topic.
 *
 * Why LISTEN/NOTIFY and not logical replication (which Supabase uses): the platform layer's
 * AFTER INSERT statement trigger notifies `realtime_messages` with the new rows' ids (comma-separated,
 * in insertion order, up to 200 per notification); PostgreSQL delivers notifications only at
 * commit, in commit order, once per listening session, and drops those of rolled-back transactions (so authorization probes never leak). That gives the ordering and
 * once-only delivery we need without a replication slot, `wal_level=logical`, or WAL retained
 * while the stack is down. Ids are fetched in batches (one query per burst) and delivered in
 * notification order. Like Supabase's replication connection, messages committed while the
 * listener is disconnected are not replayed; the listener reconnects with backoff.
 */
import pg from 'pg';
import type { Hub } from './hub.ts';
import { topicKey } from './hub.ts';

export interface DbBroadcastOptions {
	dbUrl: string;
	hub: Hub;
	reconnectMs: number;
	retentionMs: number;
	janitorIntervalMs: number;
	log: (message: string) => void;
}

interface MessageRow {
	id: string;
	topic: string;
	event: string | null;
	payload: string | null;
	private: boolean | null;
}

export interface DbBroadcaster {
	/** Resolves once the LISTEN connection is up (first time). */
	ready: Promise<void>;
	/** Deletes rows past the retention window now; returns how many. */
	purge(): Promise<number>;
	close(): Promise<void>;
}

/** Adds the message id to an object payload that has none, as Supabase's `realtime.send` does. */
function withId(payload: string | null, id: string): string {
	if (payload === null) return JSON.stringify({ id });
	const trimmed = payload.trimStart();
	if (!trimmed.startsWith('{')) return payload;
	const parsed = JSON.parse(payload) as Record<string, unknown>;
	if ('id' in parsed) return payload;
	return JSON.stringify({ ...parsed, id });
}

export function startDbBroadcast(options: DbBroadcastOptions): DbBroadcaster {
	let client: pg.Client | null = null;
	let closed = false;
	let backoff = options.reconnectMs;
	let reconnectTimer: NodeJS.Timeout | null = null;
	let queue: string[] = [];
	let flushing = false;
	let resolveReady!: () => void;
	const ready = new Promise<void>((resolve) => (resolveReady = resolve));

	async function flush(): Promise<void> {
		if (flushing) return;
		flushing = true;
		try {
			while (queue.length > 0 && client) {
				const ids = queue;
				queue = [];
				const { rows } = await client.query<MessageRow>(
					`select id, topic, event, payload::text as payload, private from realtime.messages
					 where id = any($1::uuid[]) and extension = 'broadcast'`,
					[ids]
				);
				const byId = new Map(rows.map((r) => [r.id, r]));
				for (const id of ids) {
					const row = byId.get(id);
					if (!row || !row.event) continue;
					try {
						options.hub.broadcast(topicKey(row.topic, row.private === true), {
							kind: 'user',
							broadcast: {
								event: row.event,
								encoding: 'json',
								data: Buffer.from(withId(row.payload, row.id)),
								meta: { id: row.id }
							}
						});
					} catch (error) {
						options.log(`cannot deliver database message ${id}: ${(error as Error).message}`);
					}
				}
			}
		} catch (error) {
			options.log(`fetching database messages failed: ${(error as Error).message}`);
		} finally {
			flushing = false;
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
			application_name: 'parley_realtime_listener'
		});
		let dropped = false;
		const onDrop = (error?: Error) => {
			if (dropped) return;
			dropped = true;
			if (client === c) client = null;
			if (!closed) options.log(`LISTEN connection lost${error ? `: ${error.message}` : ''}; reconnecting`);
			c.end().catch(() => {});
			scheduleReconnect();
		};
		c.on('error', onDrop);
		c.on('end', () => onDrop());
		c.on('notification', (msg) => {
			if (msg.channel !== 'realtime_messages' || !msg.payload) return;
			for (const id of msg.payload.split(',')) queue.push(id);
			void flush();
		});
		try {
			await c.connect();
			await c.query('listen realtime_messages');
			if (closed) {
				await c.end();
				return;
			}
			client = c;
			backoff = options.reconnectMs;
			resolveReady();
			void flush();
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
			const c = client;
			client = null;
			resolveReady();
			await c?.end().catch(() => {});
		}
	};
}
