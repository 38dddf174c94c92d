/**
 * Test helpers for integration tests: a fresh database cloned from the run's templates, and the
 * whole API gateway (Auth, REST, Realtime, Storage) in front of it on a free port.
 */
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, type StackConfig } from '../config.ts';
import { startServices } from '../services.ts';

export interface TestDatabase {
	name: string;
	url: string;
	drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
	const u = new URL(url);
	u.pathname = `/${name}`;
	return u.toString();
}

/** Clones a template (`platform`: platform layer only; `app`: plus the app migrations). */
export async function createTestDatabase(template: 'platform' | 'app' = 'platform'): Promise<TestDatabase> {
	const base = inject('testPostgresUrl');
	const name = `t_${template}_${randomBytes(5).toString('hex')}`;
	const admin = new pg.Client({ connectionString: base });
	await admin.connect();
	try {
		await admin.query(`create database ${name} template tpl_${template}`);
	} finally {
		await admin.end();
	}
	return {
		name,
		url: withDatabase(base, name),
		async drop() {
			const client = new pg.Client({ connectionString: base });
			await client.connect();
			await client.query(`drop database if exists ${name} with (force)`);
			await client.end();
		}
	};
}

export interface TestStack {
	apiUrl: string;
	dbUrl: string;
	config: StackConfig;
	anonKey: string;
	serviceRoleKey: string;
	/** A superuser pool on the test database. */
	db: pg.Pool;
	/** The temporary folder Storage keeps this stack's objects in. */
	storageDir: string;
	stop(): Promise<void>;
}

/** Starts the gateway and its services on a fresh test database. */
export async function startTestStack(
	options: { template?: 'platform' | 'app'; config?: Partial<StackConfig> } = {}
): Promise<TestStack> {
	const database = await createTestDatabase(options.template ?? 'platform');
	const config: StackConfig = { ...loadConfig(), ...options.config };
	const storageDir = mkdtempSync(join(tmpdir(), 'parley-test-storage-'));
	const gateway = await startServices(
		{ config, dbUrl: database.url, storageDir },
		{ port: 0, host: '127.0.0.1' }
	);
	const db = new pg.Pool({ connectionString: database.url, max: 5 });
	// end() resolves before idle sockets close; the forced drop in stop() then terminates them,
	// which pg-pool reports as the pool's 'error': not an uncaught exception of the test run.
	db.on('error', () => {});
	return {
		apiUrl: gateway.url,
		dbUrl: database.url,
		config,
		anonKey: config.anonKey,
		serviceRoleKey: config.serviceRoleKey,
		db,
		storageDir,
		async stop() {
			await gateway.close();
			await db.end();
			await database.drop();
			rmSync(storageDir, { recursive: true, force: true });
		}
	};
}
