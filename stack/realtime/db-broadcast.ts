/**
 * Broadcast from the database: rows committed into `realtime.messages` (by `realtime.send()` or
 * `realtime.broadcast_changes()`) go to the sockets joined to their topic.
 *
 * Why LISTEN/NOTIFY and not logical replication (which Supabase uses): the platform layer's
 * AFTER INSERT statement trigger notifies `realtime_messages` with the new rows themselves, as
 * JSON arrays in insertion order (platform part 10); PostgreSQL delivers notifications only at
 * commit, in commit order, once per listening session, and drops those of rolled-back
 * transactions (so authorization probes never leak). That gives the ordering and once-only
 * delivery we need without a replication slot or WAL retained while the stack is down. A row too
 * large for a notification comes as its id and is read back (one query per burst), and delivery
 * keeps notification order. Notifications of part 4's older trigger (comma-separated ids) are
 * still understood. Like Supabase's replication connection, messages committed while the
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
	/** The payload as JSON text (read back) or as parsed JSON (carried by the notification). */
	payload: unknown;
	private: boolean | null;
}

/** A notified row: complete, or only its id when it was too large to carry. */
type Notified = MessageRow | { id: string; topic?: undefined };

/** The rows of one notification: part 10's JSON array, or part 4's comma-separated ids. */
export function parseNotification(payload: string): Notified[] {
	if (!payload.startsWith('[')) return payload.split(',').map((id) => ({ id }));
	return JSON.parse(payload) as Notified[];
}

export interface DbBroadcaster {
	/** Resolves once the LISTEN connection is up (first time). */
	ready: Promise<void>;
	/** Deletes rows past the retention window now; returns how many. */
	purge(): Promise<number>;
	close(): Promise<void>;
}

/**
 * The payload as sent to clients: JSON text, with the message id added to an object payload that
 * has none, as Supabase's `realtime.send` does.
 */
function withId(payload: unknown, id: string): string {
	if (payload === null || payload === undefined) return JSON.stringify({ id });
	if (typeof payload === 'string') {
		// JSON text read back from the table.
		if (!payload.trimStart().startsWith('{')) return payload;
		const parsed = JSON.parse(payload) as Record<string, unknown>;
		return 'id' in parsed ? payload : JSON.stringify({ ...parsed, id });
	}
	if (typeof payload === 'object' && !Array.isArray(payload) && !('id' in payload)) {
		return JSON.stringify({ ...payload, id });
	}
	return JSON.stringify(payload);
}

export function startDbBroadcast(options: DbBroadcastOptions): DbBroadcaster {
	let client: pg.Client | null = null;
	let closed = false;
	let backoff = options.reconnectMs;
	let reconnectTimer: NodeJS.Timeout | null = null;
	let queue: Notified[] = [];
	let flushing = false;
	let resolveReady!: () => void;
	const ready = new Promise<void>((resolve) => (resolveReady = resolve));

	async function flush(): Promise<void> {
		if (flushing) return;
		flushing = true;
		try {
			while (queue.length > 0 && client) {
				const batch = queue;
				queue = [];
				const missing = batch.filter((n) => n.topic === undefined).map((n) => n.id);
				const byId = new Map<string, MessageRow>();
				if (missing.length > 0) {
					const { rows } = await client.query<MessageRow>(
						`select id, topic, event, payload::text as payload, private from realtime.messages
						 where id = any($1::uuid[]) and extension = 'broadcast'`,
						[missing]
					);
					for (const r of rows) byId.set(r.id, r);
				}
				for (const notified of batch) {
					const id = notified.id;
					const row = notified.topic === undefined ? byId.get(id) : notified;
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
			try {
				for (const row of parseNotification(msg.payload)) queue.push(row);
			} catch (error) {
				options.log(`unreadable database notification: ${(error as Error).message}`);
				return;
			}
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
