/** `status` and `redrive`: what the delivery queues hold, and moving dead letters back. */
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { DEAD_LETTER_QUEUE, QUEUE } from '../supabase/functions/_shared/delivery.ts';

export interface DeliveryStatus {
	/** Jobs per queue and state (created, retry, active, completed, cancelled, failed). */
	queues: Record<string, Record<string, number>>;
	outbox: { pending: number; oldest_age_s: number | null };
	subscriptions: number;
}

/**
 * Counts jobs per queue and state. Reads pg-boss's job table directly: its API only reports cached
 * or partial counts, and `status` must be exact (e.g. right after a job is dead-lettered).
 */
export async function getStatus(db: pg.Pool | pg.Client): Promise<DeliveryStatus> {
	const queues: DeliveryStatus['queues'] = { [QUEUE]: {}, [DEAD_LETTER_QUEUE]: {} };
	const installed = await db.query(`select to_regclass('pgboss.job') is not null as present`);
	if (installed.rows[0].present) {
		const { rows } = await db.query(
			`select name, state::text as state, count(*)::int as count from pgboss.job where name = any($1) group by 1, 2`,
			[[QUEUE, DEAD_LETTER_QUEUE]]
		);
		for (const row of rows) queues[row.name][row.state] = row.count;
	}
	const outbox = await db.query(
		`select count(*)::int as pending, extract(epoch from now() - min(created_at))::float8 as age from delivery.outbox`
	);
	const subs = await db.query('select count(*)::int as n from public.push_subscriptions');
	return {
		queues,
		outbox: {
			pending: outbox.rows[0].pending,
			oldest_age_s: outbox.rows[0].age === null ? null : Math.round(outbox.rows[0].age)
		},
		subscriptions: subs.rows[0].n
	};
}

/** Human-readable status: one line per queue and state. */
export function formatStatus(status: DeliveryStatus): string {
	const lines: string[] = [];
	for (const [queue, states] of Object.entries(status.queues)) {
		const entries = Object.entries(states);
		const label = queue === DEAD_LETTER_QUEUE ? `${queue} (dead letters)` : queue;
		lines.push(`${label}: ${entries.length ? entries.map(([s, n]) => `${s}=${n}`).join(' ') : 'empty'}`);
	}
	lines.push(
		`outbox: pending=${status.outbox.pending}${status.outbox.oldest_age_s !== null ? ` oldest=${status.outbox.oldest_age_s}s` : ''}`
	);
	lines.push(`push subscriptions: ${status.subscriptions}`);
	return lines.join('\n');
}

/** Moves dead-lettered jobs back into the delivery queue; returns how many moved. */
export async function redrive(databaseUrl: string, limit = 1000): Promise<number> {
	const boss = new PgBoss({
		connectionString: databaseUrl,
		supervise: false,
		schedule: false,
		registerInstance: false,
		max: 2
	});
	boss.on('error', () => undefined);
	await boss.start();
	try {
		if (!(await boss.getQueue(DEAD_LETTER_QUEUE))) return 0;
		// An explicit destination also covers dead letters the worker filed itself (refused pushes),
		// which carry no source queue.
		return await boss.redrive(DEAD_LETTER_QUEUE, { destination: QUEUE, limit });
	} finally {
		await boss.stop({ graceful: false, close: true });
	}
}
