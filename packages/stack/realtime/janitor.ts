/**
 * The retention janitor of `realtime.messages`: rows older than the retention window are deleted
 * every interval (and on demand, for tests), each time on a short-lived connection of its own. Its
 * deletes reach the replication stream too, where the database-broadcasts handler ignores them.
 */
import pg from 'pg';

export interface JanitorOptions {
	dbUrl: string;
	retentionMs: number;
	intervalMs: number;
	log: (message: string) => void;
}

export interface Janitor {
	/** Deletes rows past the retention window now; returns how many. */
	purge(): Promise<number>;
	stop(): void;
}

export function startJanitor(options: JanitorOptions): Janitor {
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

	const timer = setInterval(() => {
		purge().catch((error: Error) => options.log(`purging old messages failed: ${error.message}`));
	}, options.intervalMs);
	timer.unref();

	return { purge, stop: () => clearInterval(timer) };
}
