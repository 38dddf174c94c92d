/**
 * Private-channel authorization as Supabase Realtime does it: RLS policies on `realtime.messages`
 * decide. Inside a transaction that is always rolled back, the checks act as the JWT's role with
 * `request.jwt.claims` and `realtime.topic` set, so policies can use `auth.uid()` and
 * `realtime.topic()`:
 * - read: probe rows (one per extension) are inserted as the superuser, then selected as the
 *   user; a probe the user can see grants read for its extension;
 * - write: a row per extension is inserted as the user (`insert` policy), each under a savepoint;
 *   an RLS refusal denies write.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { actAsCaller, callerTransaction, type CallerSettings } from '../db/caller.ts';
import type { Claims } from '../jwt.ts';

export type Extension = 'broadcast' | 'presence';

export interface Permissions {
	broadcast: boolean;
	presence: boolean;
}

/** Raised when the check itself failed (bad role, database down): treated as a refusal. */
export class AuthorizationError extends Error {
	override name = 'AuthorizationError';
}

/** The caller's settings for a check on `topic`, with the names Supabase Realtime sets. */
function callerOf(topic: string, claims: Claims): CallerSettings {
	return {
		role: String(claims.role),
		claims: JSON.stringify(claims),
		legacySub: String(claims.sub ?? ''),
		headers: '{}',
		extra: [['realtime.topic', topic]]
	};
}

/** Runs a check in a transaction that is always rolled back; any failure is a refusal. */
async function inRolledBackTransaction<T>(
	pool: pg.Pool,
	fn: (client: pg.PoolClient) => Promise<T>
): Promise<T> {
	try {
		return await callerTransaction(pool, fn, { rollback: true });
	} catch (error) {
		throw error instanceof AuthorizationError ? error : new AuthorizationError((error as Error).message);
	}
}

/** Which extensions `claims` may receive on private `topic`. */
export async function readPermissions(pool: pg.Pool, topic: string, claims: Claims): Promise<Permissions> {
	return inRolledBackTransaction(pool, async (client) => {
		const ids = { broadcast: randomUUID(), presence: randomUUID() };
		await client.query(
			`insert into realtime.messages (id, topic, extension) values ($1, $3, 'broadcast'), ($2, $3, 'presence')`,
			[ids.broadcast, ids.presence, topic]
		);
		await actAsCaller(client, callerOf(topic, claims));
		const { rows } = await client.query<{ id: string }>(
			`select id from realtime.messages where id = any($1::uuid[]) and topic = $2 and extension in ('broadcast', 'presence')`,
			[[ids.broadcast, ids.presence], topic]
		);
		const seen = new Set(rows.map((r) => r.id));
		return { broadcast: seen.has(ids.broadcast), presence: seen.has(ids.presence) };
	});
}

/** Which extensions `claims` may send to private `topic`. */
export async function writePermissions(pool: pg.Pool, topic: string, claims: Claims): Promise<Permissions> {
	return inRolledBackTransaction(pool, async (client) => {
		await actAsCaller(client, callerOf(topic, claims));
		const result: Permissions = { broadcast: false, presence: false };
		for (const extension of ['broadcast', 'presence'] as const) {
			await client.query('savepoint probe');
			try {
				await client.query(`insert into realtime.messages (topic, extension) values ($1, $2)`, [
					topic,
					extension
				]);
				result[extension] = true;
			} catch (error) {
				// 42501: the insert policy (or a missing grant) refused the row.
				if ((error as { code?: string }).code !== '42501') throw error;
			}
			await client.query('rollback to savepoint probe');
		}
		return result;
	});
}
