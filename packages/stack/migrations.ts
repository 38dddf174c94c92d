/**
 * Migrations runner: applies `supabase/migrations/*.sql` in version order, each once and each in
 * its own transaction, recording them in `supabase_migrations.schema_migrations` as the Supabase
 * CLI does; then, on a fresh database, the seed files (`[db.seed] sql_paths`, `supabase/seed.sql`
 * by default), recorded in `supabase_migrations.seed_files`.
 */
import { existsSync, globSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative, resolve } from 'node:path';
import pg from 'pg';

const MIGRATION_FILE = /^(\d+)_(.+)\.sql$/;

export class MigrationError extends Error {
	override name = 'MigrationError';
	readonly file: string;
	readonly line: number | undefined;
	readonly pgMessage: string;
	constructor(file: string, line: number | undefined, pgMessage: string) {
		super(`migration ${file}${line ? ` line ${line}` : ''} failed: ${pgMessage}`);
		this.file = file;
		this.line = line;
		this.pgMessage = pgMessage;
	}
}

export interface MigrationFile {
	version: string;
	name: string;
	file: string;
	path: string;
}

/** Migration files of `dir`, ordered by version. */
export function listMigrations(dir: string): MigrationFile[] {
	if (!existsSync(dir)) return [];
	return readdirSync(dir)
		.filter((f) => MIGRATION_FILE.test(f))
		.map((f) => {
			const [, version, name] = MIGRATION_FILE.exec(f)!;
			return { version, name, file: f, path: join(dir, f) };
		})
		.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

/** 1-based line of a 1-based character position in `sql`. */
export function lineOf(sql: string, position: number | undefined): number | undefined {
	if (!position || position < 1) return undefined;
	return sql.slice(0, position - 1).split('\n').length;
}

/**
 * The files of `patterns` (absolute paths or globs), each pattern's matches in name order and
 * each file once, as the Supabase CLI expands `[db.seed] sql_paths`; missing files are skipped.
 */
export function seedFiles(patterns: string[]): string[] {
	const files: string[] = [];
	for (const pattern of patterns) {
		for (const file of globSync(pattern)
			.map((f) => resolve(f))
			.sort())
			if (!files.includes(file)) files.push(file);
	}
	return files;
}

export interface MigrateResult {
	applied: string[];
	/** Seed files applied, by their path from the project root (`supabase/seed.sql`). */
	seeded: string[];
}

export interface MigrateOptions {
	migrationsDir: string;
	/** `false` skips the migrations (`[db.migrations] enabled = false`). */
	migrations?: boolean;
	/** Seed files or globs (see seedFiles). */
	seedPaths?: string[];
	/** `false` skips the seed (`[db.seed] enabled = false`). */
	seed?: boolean;
}

/** Applies pending migrations (and the seed on a fresh database) to the database at `url`. */
export async function migrate(url: string, options: MigrateOptions): Promise<MigrateResult> {
	// Seed files are recorded by their path from the project root, the folder holding
	// `supabase/migrations`, as the Supabase CLI records them.
	const root = resolve(options.migrationsDir, '../..');
	const client = new pg.Client({ connectionString: url });
	await client.connect();
	const result: MigrateResult = { applied: [], seeded: [] };
	try {
		await client.query('select pg_advisory_lock(4242002)');
		const recorded = await client.query<{ version: string }>(
			'select version from supabase_migrations.schema_migrations'
		);
		const fresh = recorded.rowCount === 0;
		const done = new Set(recorded.rows.map((r) => r.version));
		const migrations = options.migrations === false ? [] : listMigrations(options.migrationsDir);
		for (const migration of migrations) {
			if (done.has(migration.version)) continue;
			const sql = readFileSync(migration.path, 'utf8');
			try {
				await client.query('begin');
				await client.query(sql);
				await client.query(
					'insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)',
					[migration.version, migration.name, [sql]]
				);
				await client.query('commit');
				result.applied.push(migration.file);
			} catch (error) {
				await client.query('rollback');
				const e = error as pg.DatabaseError;
				throw new MigrationError(migration.file, lineOf(sql, Number(e.position)), e.message);
			}
		}
		const seeds = fresh && options.seed !== false ? seedFiles(options.seedPaths ?? []) : [];
		for (const seedPath of seeds) {
			const sql = readFileSync(seedPath, 'utf8');
			const name = relative(root, seedPath);
			try {
				await client.query('begin');
				await client.query(sql);
				await client.query(
					`insert into supabase_migrations.seed_files (path, hash) values ($1, $2)
					 on conflict (path) do update set hash = excluded.hash`,
					[name, createHash('sha256').update(sql).digest('hex')]
				);
				await client.query('commit');
				result.seeded.push(name);
			} catch (error) {
				await client.query('rollback');
				const e = error as pg.DatabaseError;
				throw new MigrationError(name, lineOf(sql, Number(e.position)), e.message);
			}
		}
		// Tell the REST API's schema cache (NOTIFY pgrst, as PostgREST listens for).
		await client.query(`notify pgrst, 'reload schema'`);
	} finally {
		await client.query('select pg_advisory_unlock(4242002)').catch(() => {});
		await client.end();
	}
	return result;
}
