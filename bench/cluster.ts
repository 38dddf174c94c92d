/**
 * A throwaway embedded PostgreSQL for benchmarks: a temporary folder, a free port, the platform
 * layer, and optionally the app migrations; plus the gateway in front of it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '../stack/postgres.ts';
import { applyPlatform } from '../stack/platform.ts';
import { migrate } from '../stack/migrations.ts';
import { loadConfig, type StackConfig } from '../stack/config.ts';
import { startServices } from '../stack/services.ts';
import { freePort } from '../stack/testing/free-port.ts';

export interface BenchStack {
	dbUrl: string;
	apiUrl: string;
	config: StackConfig;
	stop(): Promise<void>;
}

export async function startBenchStack(options: { migrations?: boolean } = {}): Promise<BenchStack> {
	const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
	const port = await freePort();
	const postgres = await startPostgres({ dataDir: join(dir, 'data'), port, settings: { fsync: 'off' } });
	const dbUrl = postgres.url('postgres');
	await applyPlatform(dbUrl);
	const config = { ...loadConfig(), dbPort: port };
	if (options.migrations) await migrate(dbUrl, { migrationsDir: config.migrationsDir, seed: false });
	const gateway = await startServices({ config, dbUrl }, { port: 0 });
	return {
		dbUrl,
		apiUrl: gateway.url,
		config,
		async stop() {
			await gateway.close();
			await postgres.stop();
			rmSync(dir, { recursive: true, force: true });
		}
	};
}
