/**
 * Applies the Supabase platform layer (`stack/platform/*.sql`) to a database: idempotent and
 * versioned, so it runs on every start and only new parts do any work.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

const PLATFORM_DIR = join(import.meta.dirname, 'platform');

/** Platform files in order, as `{ version, name, sql }`. */
export function platformFiles(): { version: string; name: string; sql: string }[] {
	return readdirSync(PLATFORM_DIR)
		.filter((f) => /^\d+_.+\.sql$/.test(f))
		.sort()
		.map((f) => ({
			version: f.split('_')[0],
			name: f,
			sql: readFileSync(join(PLATFORM_DIR, f), 'utf8')
		}));
}

/** Brings the platform layer of the database at `url` up to date. Returns the files applied. */
export async function applyPlatform(url: string): Promise<string[]> {
	const client = new pg.Client({ connectionString: url });
	await client.connect();
	const applied: string[] = [];
	try {
		// Serialize concurrent starters; roles are cluster-wide.
		await client.query('select pg_advisory_lock(4242001)');
		await client.query(`create schema if not exists _stack;
			create table if not exists _stack.platform_versions (
				version text primary key, name text not null, applied_at timestamptz not null default now())`);
		const done = new Set(
			(await client.query<{ version: string }>('select version from _stack.platform_versions')).rows.map(
				(r) => r.version
			)
		);
		for (const file of platformFiles()) {
			if (done.has(file.version)) continue;
			try {
				await client.query('begin');
				await client.query(file.sql);
				await client.query('insert into _stack.platform_versions (version, name) values ($1, $2)', [
					file.version,
					file.name
				]);
				await client.query('commit');
				applied.push(file.name);
			} catch (error) {
				await client.query('rollback');
				throw new Error(`platform layer ${file.name} failed: ${(error as Error).message}`, { cause: error });
			}
		}
		await client.query('revoke all on schema _stack from public');
	} finally {
		await client.query('select pg_advisory_unlock(4242001)').catch(() => {});
		await client.end();
	}
	return applied;
}
