/**
 * Helpers for the database tests: a fresh clone of the app database per test file, users created
 * the way the Auth server creates them, and calls made exactly as the REST API makes them (one
 * transaction per call, claims set with set_config, `set local role`).
 */
import { expect } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@parley/stack/testing/index.ts';

/** Who makes a call: a user id (role authenticated), 'anon', or 'service_role'. */
export type Actor = string | 'anon' | 'service_role';

export interface ChatDb {
	database: TestDatabase;
	/** Superuser pool on the test database (bypasses RLS). */
	pool: pg.Pool;
	close(): Promise<void>;
}

export async function openChatDb(max = 10): Promise<ChatDb> {
	const database = await createTestDatabase('app');
	const pool = new pg.Pool({ connectionString: database.url, max });
	// pool.end() resolves before its idle clients' sockets have closed; the forced drop that
	// follows terminates them, and pg-pool re-emits that FATAL as the pool's 'error', which with no
	// listener is an uncaught exception of the test run.
	pool.on('error', () => {});
	return {
		database,
		pool,
		async close() {
			await pool.end();
			await database.drop();
		}
	};
}

/** Inserts an auth user as the Auth server does; returns its id. */
export async function createUser(
	db: pg.Pool | pg.PoolClient,
	email: string,
	meta: Record<string, unknown> = {}
): Promise<string> {
	const id = randomUUID();
	await db.query(
		`insert into auth.users (id, email, raw_user_meta_data, aud, role, created_at, updated_at)
		 values ($1, $2, $3, 'authenticated', 'authenticated', now(), now())`,
		[id, email, JSON.stringify(meta)]
	);
	return id;
}

/** Runs `fn` in one transaction as `actor` (committed, like a REST request; rolled back on error). */
export async function asActor<T>(
	pool: pg.Pool,
	actor: Actor,
	fn: (client: pg.PoolClient) => Promise<T>,
	options: { topic?: string } = {}
): Promise<T> {
	const client = await pool.connect();
	try {
		await client.query('begin');
		const claims =
			actor === 'anon'
				? { role: 'anon' }
				: actor === 'service_role'
					? { role: 'service_role' }
					: { sub: actor, role: 'authenticated' };
		await client.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims)]);
		if (options.topic !== undefined) {
			await client.query(`select set_config('realtime.topic', $1, true)`, [options.topic]);
		}
		const role = actor === 'anon' || actor === 'service_role' ? actor : 'authenticated';
		await client.query(`set local role ${role}`);
		const result = await fn(client);
		await client.query('commit');
		return result;
	} catch (error) {
		await client.query('rollback').catch(() => {});
		throw error;
	} finally {
		client.release();
	}
}

/** SQL (and its parameters) that calls `public.<fn>` with named arguments. */
export function rpcSql(fn: string, args: Record<string, unknown> = {}): { text: string; values: unknown[] } {
	const names = Object.keys(args);
	const values = names.map((n) => {
		const v = args[n];
		// Objects and arrays of objects are jsonb arguments; arrays of scalars are Postgres arrays.
		const json = Array.isArray(v) ? v.some((e) => e !== null && typeof e === 'object') : v !== null && typeof v === 'object';
		return json ? JSON.stringify(v) : v;
	});
	const list = names.map((n, i) => `${n} => $${i + 1}`).join(', ');
	return { text: `select * from public.${fn}(${list})`, values };
}

/** Calls an RPC as `actor`; returns its rows. */
export async function rpc<T = Record<string, unknown>>(
	pool: pg.Pool,
	actor: Actor,
	fn: string,
	args: Record<string, unknown> = {}
): Promise<T[]> {
	const { text, values } = rpcSql(fn, args);
	return asActor(pool, actor, async (c) => (await c.query(text, values)).rows as T[]);
}

/** Calls an RPC returning one row (or one scalar column named after the function). */
export async function rpcOne<T = Record<string, unknown>>(
	pool: pg.Pool,
	actor: Actor,
	fn: string,
	args: Record<string, unknown> = {}
): Promise<T> {
	const rows = await rpc<Record<string, unknown>>(pool, actor, fn, args);
	expect(rows).toHaveLength(1);
	const row = rows[0];
	const keys = Object.keys(row);
	return (keys.length === 1 && keys[0] === fn ? row[fn] : row) as T;
}

/** Random bytes as base64 (stand-ins for ciphertexts, tags and signatures: the database checks shapes only). */
export const randomBase64 = (bytes: number) => randomBytes(bytes).toString('base64');

/**
 * `add_reaction` arguments for a sealed reaction with well-formed fields, as a device sends them
 * (src/lib/crypto/reactions.ts): a random tag unless `over` names one, epoch 1 unless it names another.
 */
export function reactionArgs(message_id: string, over: Record<string, unknown> = {}): Record<string, unknown> {
	return {
		message_id,
		tag: randomBase64(32),
		emoji_sealed: randomBase64(80),
		nonce: randomBase64(24),
		epoch: 1,
		sig: randomBase64(64),
		...over
	};
}

/** Awaits `promise` and asserts it fails with SQLSTATE `code` (and `detail`, when given). */
export async function expectDbError(promise: Promise<unknown>, code: string, detail?: string): Promise<void> {
	let error: unknown;
	try {
		await promise;
	} catch (e) {
		error = e;
	}
	expect(error, `expected ${code}${detail ? ` (${detail})` : ''}`).toBeInstanceOf(pg.DatabaseError);
	const e = error as pg.DatabaseError;
	expect({ code: e.code, detail: detail === undefined ? undefined : e.detail }).toEqual({ code, detail });
}

/** A fingerprint of every chat table's contents (as superuser), to prove nothing changed. */
export async function snapshot(pool: pg.Pool): Promise<Record<string, string>> {
	const tables = [
		'public.profiles',
		'public.key_backups',
		'public.conversations',
		'public.conversation_participants',
		'public.conversation_keys',
		'public.messages',
		'public.message_reactions',
		'public.notification_settings'
	];
	const result: Record<string, string> = {};
	for (const table of tables) {
		const { rows } = await pool.query(
			`select count(*)::int as n, coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as h from ${table} t`
		);
		result[table] = `${rows[0].n}:${rows[0].h}`;
	}
	return result;
}

/** Realtime rows written so far (superuser view), oldest first. */
export async function realtimeRows(
	pool: pg.Pool
): Promise<{ topic: string; event: string; payload: Record<string, unknown>; private: boolean }[]> {
	const { rows } = await pool.query(
		`select topic, event, payload, private from realtime.messages order by inserted_at, id`
	);
	return rows;
}
