/**
 * The whole embedded stack: PostgreSQL, the Supabase platform layer, the project's migrations
 * and seed, and the API gateway with Auth, REST, Realtime and Storage.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import pg from 'pg';
import { databaseUrl, type StackConfig } from './config.ts';
import { startPostgres, assertPortFree, StackError } from './postgres.ts';
import { edgeFunctions } from './project.ts';
import { applyPlatform } from './platform.ts';
import { migrate, type MigrateOptions } from './migrations.ts';
import { startServices } from './services.ts';
import { batchSchedulingWanted, useBatchScheduling } from './sched.ts';
import { defaultStorageDir } from './storage/index.ts';

export interface RunningStack {
	apiUrl: string;
	dbUrl: string;
	stop(): Promise<void>;
}

/**
 * Ctrl-C reaches PostgreSQL as well as the stack, so PostgreSQL ends every open connection while
 * the services are still closing theirs. Its FATAL line for each connection, and the services'
 * reports of losing one once PostgreSQL has begun to stop, are the normal course of a stop and
 * are not shown. (The same FATAL line follows pg_terminate_backend; the services reconnect.)
 */
const ADMIN_TERMINATION = 'terminating connection due to administrator command';
const SHUTDOWN_REQUEST = /received (smart|fast|immediate) shutdown request/;

/** Whether a stack answers at the config's API URL (its Auth health check). */
export async function stackRunning(config: StackConfig): Promise<boolean> {
	try {
		const res = await fetch(`http://${config.host}:${config.apiPort}/auth/v1/health`, {
			signal: AbortSignal.timeout(1000)
		});
		return res.ok;
	} catch {
		return false;
	}
}

/**
 * The default data folder, `.stack/` in the project, ignores itself (as a Python venv does), so
 * a project that never heard of this stack need not change its `.gitignore`.
 */
function ignoreDataFolder(config: StackConfig): void {
	const stackDir = join(config.root, '.stack');
	if (!(config.dataDir + sep).startsWith(stackDir + sep)) return;
	mkdirSync(stackDir, { recursive: true });
	const ignore = join(stackDir, '.gitignore');
	if (!existsSync(ignore))
		writeFileSync(ignore, '# Written by the embedded Supabase stack: its data stays out of git.\n*\n');
}

function postgresOptions(config: StackConfig) {
	return {
		dataDir: config.dataDir,
		port: config.dbPort,
		host: config.host,
		user: config.dbUser,
		password: config.dbPassword
	};
}

function migrateOptions(config: StackConfig): MigrateOptions {
	return {
		migrationsDir: config.migrationsDir,
		migrations: config.migrationsEnabled,
		seedPaths: config.seedPaths,
		seed: config.seedEnabled
	};
}

export async function startStack(
	config: StackConfig,
	log: (line: string) => void = console.log
): Promise<RunningStack> {
	await assertPortFree(config.apiPort, config.host, 'The API gateway');
	const functions = edgeFunctions(config);
	if (functions.length)
		log(
			`Edge Functions are not served yet (${functions.join(', ')}): /functions/v1 answers 501 (use \`supabase start\` or a hosted project for them).`
		);
	ignoreDataFolder(config);
	const batch = batchSchedulingWanted(config);
	// This process is the gateway (sched.ts); what it starts later, such as `npm run dev`'s
	// Vite and worker, inherits the policy.
	if (batch && !useBatchScheduling([process.pid]))
		log('could not switch to SCHED_BATCH (is util-linux `chrt` installed?): running with the default policy');
	let databaseStopping = false;
	const postgres = await startPostgres({
		...postgresOptions(config),
		batchScheduling: batch,
		log: (line) => {
			if (SHUTDOWN_REQUEST.test(line)) databaseStopping = true;
			if (/ERROR|FATAL|PANIC|WARNING/.test(line) && !line.includes(ADMIN_TERMINATION))
				log(`[postgres] ${line}`);
		}
	});
	try {
		const dbUrl = databaseUrl(config);
		const localUrl = postgres.localUrl(config.dbName);
		const platform = await applyPlatform(localUrl);
		if (platform.length) log(`platform layer: applied ${platform.join(', ')}`);
		const migrated = await migrate(localUrl, migrateOptions(config));
		for (const file of migrated.applied) log(`migration applied: ${file}`);
		for (const file of migrated.seeded) log(`seed applied: ${file}`);
		const gateway = await startServices({
			config,
			dbUrl: localUrl,
			log: (service, message) => {
				if (!databaseStopping && !message.includes(ADMIN_TERMINATION)) log(`[${service}] ${message}`);
			}
		});
		return {
			apiUrl: gateway.url,
			dbUrl,
			async stop() {
				await gateway.close();
				await postgres.stop();
			}
		};
	} catch (error) {
		await postgres.stop();
		throw error;
	}
}

/**
 * Drops and re-creates the project database, then applies platform, migrations and seed. The
 * stack must be stopped: its services hold the database, and its PostgreSQL would be taken for
 * an orphan and stopped under them.
 */
export async function resetDatabase(config: StackConfig, log: (line: string) => void = console.log) {
	if (await stackRunning(config))
		throw new StackError(
			`the stack is running on port ${config.apiPort}: stop it (Ctrl-C) first, then run db reset again.`
		);
	ignoreDataFolder(config);
	const postgres = await startPostgres(postgresOptions(config));
	try {
		const admin = new pg.Client({ connectionString: databaseUrl(config, 'template1') });
		await admin.connect();
		await admin.query(`drop database if exists ${config.dbName} with (force)`);
		await admin.query(`create database ${config.dbName}`);
		await admin.end();
		// The stored files belonged to the dropped database's objects.
		rmSync(defaultStorageDir(config), { recursive: true, force: true });
		await applyPlatform(databaseUrl(config));
		const migrated = await migrate(databaseUrl(config), migrateOptions(config));
		const seeded = migrated.seeded.length ? `, seed applied (${migrated.seeded.join(', ')})` : '';
		log(`database reset: ${migrated.applied.length} migrations applied${seeded}`);
	} finally {
		await postgres.stop();
	}
}
