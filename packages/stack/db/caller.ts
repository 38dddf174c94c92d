/**
 * Running as the caller: the one place that knows which transaction-local settings make
 * PostgreSQL act for a request's JWT, as PostgREST, Supabase Storage and Supabase Realtime set
 * them (the role, `request.jwt.claims`, the request's method, path and headers, and the legacy
 * per-claim names some policies still read), and the one statement that sets them. REST puts
 * that statement in its pipelined batch (rest/executor.ts); Storage and Realtime run their work
 * in `callerTransaction`, on pools whose connections became `authenticator`.
 */
import type pg from 'pg';
import type { Claims } from '../jwt.ts';

/** A statement and its parameters, as the REST executor and node-postgres take them. */
export interface Statement {
	text: string;
	values: unknown[];
}

/** A setting's name and value. */
export type Setting = readonly [name: string, value: string];

/** Who a transaction acts for, and what it records about the request for policies that look. */
export interface CallerSettings {
	role: string;
	/** The verified claims as JSON text (`request.jwt.claims`). */
	claims: string;
	/**
	 * The `sub` claim for the pre-PostgREST-10 names `request.jwt.claim.sub` and
	 * `request.jwt.claim.role`, which Storage and Realtime still set (auth.uid() falls back to them).
	 */
	legacySub?: string;
	/** The raw token (`request.jwt`), as Storage records it. */
	token?: string;
	searchPath?: string;
	method?: string;
	path?: string;
	/** The request headers as JSON text (`request.headers`). */
	headers?: string;
	/** The request cookies as JSON text (`request.cookies`). */
	cookies?: string;
	/** Service settings: a role's `statement_timeout`, `realtime.topic`, `storage.operation`... */
	extra?: readonly Setting[];
}

/** The role a verified token acts as: its `role` claim, else `anon` (as PostgREST decides). */
export function roleOf(claims: Claims): string {
	return typeof claims.role === 'string' && claims.role !== '' ? claims.role : 'anon';
}

/**
 * `select pg_catalog.set_config($1, $2, true), ...` for `count` (name, value) pairs. Its text
 * depends only on the count, so the REST executor prepares it once per connection.
 */
const settingsTexts: string[] = [];
export function settingsText(count: number): string {
	let text = settingsTexts[count];
	if (!text) {
		const calls = Array.from(
			{ length: count },
			(_, i) => `pg_catalog.set_config($${2 * i + 1}, $${2 * i + 2}, true)`
		);
		settingsTexts[count] = text = `select ${calls.join(', ')}`;
	}
	return text;
}

/**
 * The statement that makes the current transaction act as the caller. `readOnly` also sets
 * `transaction_read_only`: the equivalent of `begin read only` for an implicit transaction.
 */
export function callerStatement(s: CallerSettings, readOnly = false): Statement {
	// Names and values alternate, as settingsText binds them; built without intermediate pairs
	// since REST runs this on every request.
	const values: string[] = [];
	if (s.searchPath !== undefined) values.push('search_path', s.searchPath);
	values.push('role', s.role);
	if (s.legacySub !== undefined) values.push('request.jwt.claim.role', s.role);
	if (s.token !== undefined) values.push('request.jwt', s.token);
	if (s.legacySub !== undefined) values.push('request.jwt.claim.sub', s.legacySub);
	values.push('request.jwt.claims', s.claims);
	if (s.method !== undefined) values.push('request.method', s.method);
	if (s.path !== undefined) values.push('request.path', s.path);
	if (s.headers !== undefined) values.push('request.headers', s.headers);
	if (s.cookies !== undefined) values.push('request.cookies', s.cookies);
	if (s.extra) for (const [k, v] of s.extra) values.push(k, v);
	if (readOnly) values.push('transaction_read_only', 'on');
	return { text: settingsText(values.length / 2), values };
}

/** Sets the caller's settings on `client`, inside the transaction it has open. */
export async function actAsCaller(client: pg.ClientBase, s: CallerSettings): Promise<void> {
	const { text, values } = callerStatement(s);
	await client.query(text, values);
}

/**
 * Runs `fn` in one transaction on a connection of `pool`: committed when `fn` resolves, unless
 * `rollback` (a check that must leave nothing behind), and rolled back when it throws. `fn` calls
 * `actAsCaller` when it is ready to act as the caller (a check may first write as the pool's own
 * role). A connection whose rollback failed, or that failed without a SQLSTATE, is not reused.
 */
export async function callerTransaction<T>(
	pool: pg.Pool,
	fn: (client: pg.PoolClient) => Promise<T>,
	options: { readOnly?: boolean; rollback?: boolean } = {}
): Promise<T> {
	const client = await pool.connect();
	let broken: Error | undefined;
	try {
		await client.query(options.readOnly ? 'begin read only' : 'begin');
		const result = await fn(client);
		// A check's outcome stands even if ending it fails; the connection is just not reused.
		if (options.rollback) await client.query('rollback').catch((e: Error) => (broken = e));
		else await client.query('commit');
		return result;
	} catch (error) {
		await client.query('rollback').catch((e: Error) => (broken = e));
		if (!(error as { code?: unknown }).code) broken ??= error as Error;
		throw error;
	} finally {
		client.release(broken);
	}
}
