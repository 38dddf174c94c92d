/**
 * Database access of the storage service. Requests run as their caller, as Supabase Storage
 * runs them: connections become `authenticator` (as the REST service's do), and each request's
 * transaction sets the JWT's role and claims with `set_config(..., true)`, so row-level security
 * on storage.objects and storage.buckets applies (service_role bypasses it). A small superuser
 * pool serves what Supabase Storage does "as super user": bucket limits and public objects.
 */
import pg from 'pg';
import { settingsText } from '../rest/executor.ts';
import type { Claims } from '../jwt.ts';

/** A verified caller. */
export interface Identity {
	claims: Claims;
	role: string;
	token: string;
}

/** What a request's transaction records about it, for policies that look. */
export interface RequestInfo {
	method: string;
	path: string;
	headers: string;
	/** Supabase's `storage.operation` name, e.g. `object.upload`. */
	operation: string;
	/** Allow deletes from storage tables in this transaction (see storage.protect_delete). */
	canDelete?: boolean;
}

const SETTINGS = [
	'role',
	'request.jwt.claim.role',
	'request.jwt',
	'request.jwt.claim.sub',
	'request.jwt.claims',
	'request.method',
	'request.path',
	'request.headers',
	'storage.operation',
	'storage.can_delete'
];
const SETTINGS_SQL = settingsText(SETTINGS.length);

export class StorageDatabase {
	readonly #callers: pg.Pool;
	/** Superuser connections, for what runs without the caller's policies. */
	readonly admin: pg.Pool;

	constructor(dbUrl: string, max = 10) {
		this.#callers = new pg.Pool({ connectionString: dbUrl, max, idleTimeoutMillis: 60_000 });
		this.#callers.on('connect', (client) => {
			client.query('set session authorization authenticator').catch(() => {});
		});
		this.#callers.on('error', () => {});
		this.admin = new pg.Pool({ connectionString: dbUrl, max: 3, idleTimeoutMillis: 60_000 });
		this.admin.on('error', () => {});
	}

	/** Runs `fn` in one transaction as the caller; commits when it resolves, else rolls back. */
	async asCaller<T>(
		who: Identity,
		request: RequestInfo,
		fn: (client: pg.PoolClient) => Promise<T>,
		options: { readOnly?: boolean } = {}
	): Promise<T> {
		const client = await this.#callers.connect();
		let broken: Error | undefined;
		try {
			await client.query(options.readOnly ? 'begin read only' : 'begin');
			const values = [
				who.role,
				who.role,
				who.token,
				typeof who.claims.sub === 'string' ? who.claims.sub : '',
				JSON.stringify(who.claims),
				request.method,
				request.path,
				request.headers,
				request.operation,
				request.canDelete ? 'true' : 'false'
			];
			await client.query(
				SETTINGS_SQL,
				SETTINGS.flatMap((name, i) => [name, values[i]])
			);
			const result = await fn(client);
			await client.query('commit');
			return result;
		} catch (error) {
			await client.query('rollback').catch((e: Error) => (broken = e));
			// Errors without a SQLSTATE come from the connection itself: do not reuse it.
			if (!(error as { code?: unknown }).code) broken ??= error as Error;
			throw error;
		} finally {
			client.release(broken);
		}
	}

	async close(): Promise<void> {
		await Promise.all([this.#callers.end(), this.admin.end()]);
	}
}
