/**
 * Test fixtures for the delivery worker: a fresh database with the app migrations (plus the
 * delivery migration while it is still pending), users, conversations, and the chat RPCs called
 * the way a client calls them (as `authenticated` with the user's JWT claims).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@parley/stack/testing/index.ts';

const MIGRATION = '20261124000900_delivery.sql';
const root = join(import.meta.dirname, '../..');

/** A fresh clone of `tpl_app`; applies the delivery migration if the template predates it. */
export async function createDeliveryDatabase(): Promise<TestDatabase & { pool: pg.Pool }> {
	const database = await createTestDatabase('app');
	const pool = new pg.Pool({ connectionString: database.url, max: 10 });
	const { rows } = await pool.query(`select to_regclass('delivery.outbox') is not null as present`);
	if (!rows[0].present) {
		const pending = join(root, 'worker/testing', MIGRATION);
		const file = existsSync(pending) ? pending : join(root, 'supabase/migrations', MIGRATION);
		await pool.query(readFileSync(file, 'utf8'));
	}
	return {
		...database,
		pool,
		async drop() {
			await pool.end();
			await database.drop();
		}
	};
}

/** Runs `fn` in a transaction as `authenticated` user `userId`, as PostgREST does for an RPC. */
export async function asUser<T>(
	pool: pg.Pool,
	userId: string,
	fn: (c: pg.PoolClient) => Promise<T>
): Promise<T> {
	const client = await pool.connect();
	try {
		await client.query('begin');
		await client.query(`select set_config('request.jwt.claims', $1, true)`, [
			JSON.stringify({ sub: userId, role: 'authenticated' })
		]);
		await client.query('set local role authenticated');
		const result = await fn(client);
		await client.query('commit');
		return result;
	} catch (error) {
		await client.query('rollback');
		throw error;
	} finally {
		client.release();
	}
}

/** Creates an auth user (the profile comes from the app's trigger) with a display name. */
export async function createUser(pool: pg.Pool, name: string): Promise<string> {
	const id = randomUUID();
	const username = `${name.toLowerCase().replace(/[^a-z0-9_]/g, '')}_${id.slice(0, 6)}`;
	await pool.query(
		`insert into auth.users (id, aud, role, email, raw_user_meta_data, created_at, updated_at)
		 values ($1, 'authenticated', 'authenticated', $2, $3, now(), now())`,
		[id, `${username}@example.test`, { username }]
	);
	await pool.query('update public.profiles set display_name = $2 where id = $1', [id, name]);
	return id;
}

export async function directConversation(pool: pg.Pool, a: string, b: string): Promise<string> {
	return asUser(pool, a, async (c) => {
		const { rows } = await c.query('select id from public.create_direct_conversation($1)', [b]);
		return rows[0].id as string;
	});
}

export async function groupConversation(pool: pg.Pool, admin: string, title: string, members: string[]) {
	return asUser(pool, admin, async (c) => {
		const { rows } = await c.query('select id from public.create_group_conversation($1, $2)', [
			title,
			members
		]);
		return rows[0].id as string;
	});
}

/** Sends a message through `send_message` (mentioning `mentions`, if any); returns its seq. */
export async function sendMessage(
	pool: pg.Pool,
	sender: string,
	conversationId: string,
	content: string,
	mentions: string[] = []
) {
	return asUser(pool, sender, async (c) => {
		const { rows } = await c.query(
			`select seq from public.send_message($1, $2, 'text', null, null, null, '{"epoch":1,"nonce":"bm9uY2U="}', $3)`,
			[conversationId, content, mentions]
		);
		return Number(rows[0].seq);
	});
}

/** Sets a member's notification level and mute through `set_notification_level`. */
export async function setNotificationLevel(
	pool: pg.Pool,
	userId: string,
	conversationId: string,
	level: 'all' | 'mentions' | 'none',
	mutedUntil: string | null = null
) {
	await asUser(pool, userId, (c) =>
		c.query('select public.set_notification_level($1, $2, $3)', [conversationId, level, mutedUntil])
	);
}

export async function markDelivered(pool: pg.Pool, userId: string, conversationId: string, upTo: number) {
	await asUser(pool, userId, (c) => c.query('select public.mark_delivered($1, $2)', [conversationId, upTo]));
}

/** Stores a browser subscription through the client RPC. */
export async function savePushSubscription(
	pool: pg.Pool,
	userId: string,
	sub: { endpoint: string; keys: { p256dh: string; auth: string } }
): Promise<string> {
	return asUser(pool, userId, async (c) => {
		const { rows } = await c.query('select id from public.save_push_subscription($1, $2, $3, $4)', [
			sub.endpoint,
			sub.keys.p256dh,
			sub.keys.auth,
			'vitest'
		]);
		return rows[0].id as string;
	});
}
