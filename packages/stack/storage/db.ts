/**
 * Database access of the storage service. Requests run as their caller, as Supabase Storage
 * runs them: connections become `authenticator` (as the REST service's do), and each request's
 * transaction sets the JWT's role and claims (db/caller.ts, shared with REST and Realtime), so
 * row-level security on storage.objects and storage.buckets applies (service_role bypasses it).
 * A small superuser pool serves what Supabase Storage does "as super user": bucket limits and
 * public objects.
 */
import pg from 'pg';
import { actAsCaller, callerTransaction } from '../db/caller.ts';
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
	asCaller<T>(
		who: Identity,
		request: RequestInfo,
		fn: (client: pg.PoolClient) => Promise<T>,
		options: { readOnly?: boolean } = {}
	): Promise<T> {
		return callerTransaction(
			this.#callers,
			async (client) => {
				await actAsCaller(client, {
					role: who.role,
					claims: JSON.stringify(who.claims),
					legacySub: typeof who.claims.sub === 'string' ? who.claims.sub : '',
					token: who.token,
					method: request.method,
					path: request.path,
					headers: request.headers,
					extra: [
						['storage.operation', request.operation],
						['storage.can_delete', request.canDelete ? 'true' : 'false']
					]
				});
				return fn(client);
			},
			options
		);
	}

	async close(): Promise<void> {
		await Promise.all([this.#callers.end(), this.admin.end()]);
	}
}
