/**
 * Vitest global setup: one real PostgreSQL cluster per test run, on a free port in a temporary
 * folder, with two template databases that each test file clones in milliseconds:
 * `tpl_platform` (the Supabase platform layer only) and `tpl_app` (plus supabase/migrations).
 */
import type { TestProject } from 'vitest/node';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { startPostgres } from '../postgres.ts';
import { applyPlatform } from '../platform.ts';
import { migrate } from '../migrations.ts';
import { freePort } from './free-port.ts';
import { loadConfig } from '../config.ts';
import { batchSchedulingWanted } from '../sched.ts';

declare module 'vitest' {
	export interface ProvidedContext {
		testPostgresUrl: string;
	}
}

export default async function setup(project: TestProject) {
	const dir = mkdtempSync(join(tmpdir(), 'parley-test-pg-'));
	const port = await freePort();
	const postgres = await startPostgres({
		dataDir: join(dir, 'data'),
		port,
		batchScheduling: batchSchedulingWanted(loadConfig(project.config.root)),
		settings: { fsync: 'off', max_connections: 500 }
	});
	const admin = new pg.Client({ connectionString: postgres.url('postgres') });
	await admin.connect();
	await admin.query('create database tpl_platform');
	await applyPlatform(postgres.url('tpl_platform'));
	await admin.query('create database tpl_app template tpl_platform');
	// The project under test (the vitest root) brings the app's migrations; the stack's own
	// suite, run from its package folder, has none and uses only `tpl_platform`.
	const migrationsDir = resolve(project.config.root, 'supabase/migrations');
	if (existsSync(migrationsDir)) await migrate(postgres.url('tpl_app'), { migrationsDir, seed: false });
	await admin.end();
	project.provide('testPostgresUrl', postgres.url('postgres'));
	return async () => {
		await postgres.stop();
		rmSync(dir, { recursive: true, force: true });
	};
}
