/**
 * A throwaway embedded PostgreSQL for benchmarks: a temporary folder, a free port, the platform
 * layer, and optionally the app migrations; plus the gateway in front of it, in this process or
 * (`serverProcess`) in a child process of its own, as in a real deployment.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startPostgres } from '@parley/stack/postgres.ts';
import { applyPlatform } from '@parley/stack/platform.ts';
import { migrate } from '@parley/stack/migrations.ts';
import { loadConfig, type StackConfig } from '@parley/stack/config.ts';
import { startServices } from '@parley/stack/services.ts';
import { batchSchedulingWanted, useBatchScheduling } from '@parley/stack/sched.ts';
import { freePort } from '@parley/stack/testing/free-port.ts';

export interface BenchStack {
	dbUrl: string;
	apiUrl: string;
	config: StackConfig;
	stop(): Promise<void>;
}

/**
 * The benches' PostgreSQL: in `dir`, without fsync, and under SCHED_BATCH as the stack's own
 * (stack.ts) unless the config's sched section says not. startPostgres sets the policy only when
 * asked (since the typed config, 615de4a); without it the benches' PostgreSQL ran under the
 * default policy while their gateway kept SCHED_BATCH: ~25% more backend context switches and
 * ~10% more backend CPU per REST request, which read as a regression of the REST service when
 * comparing with benches of earlier commits.
 */
export function benchPostgresOptions(dir: string, config: StackConfig) {
	return {
		dataDir: join(dir, 'data'),
		port: config.dbPort,
		settings: { fsync: 'off' },
		batchScheduling: batchSchedulingWanted(config)
	};
}

export async function startBenchStack(
	options: { migrations?: boolean; serverProcess?: boolean } = {}
): Promise<BenchStack> {
	const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
	const port = await freePort();
	const config = { ...loadConfig(), dbPort: port };
	const postgres = await startPostgres(benchPostgresOptions(dir, config));
	// Every bench client runs on this machine, so all of them take the server's Unix socket.
	const dbUrl = postgres.localUrl('postgres');
	try {
		await applyPlatform(dbUrl);
		if (options.migrations) await migrate(dbUrl, { migrationsDir: config.migrationsDir, seed: false });
		const gateway = options.serverProcess
			? await startServerProcess(config, dbUrl)
			: await startServices({ config, dbUrl }, { port: 0 });
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
	} catch (error) {
		await postgres.stop();
		rmSync(dir, { recursive: true, force: true });
		throw error;
	}
}

/**
 * Starts the gateway (REST, Auth, Realtime) in a child Node process for `dbUrl`; resolves with its
 * URL. `BENCH_PROFILE=dir` writes a CPU profile of the server there when it closes.
 */
export function startServerProcess(
	config: StackConfig,
	dbUrl: string
): Promise<{ url: string; close(): Promise<void> }> {
	const profile = process.env.BENCH_PROFILE;
	const execArgv = profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profile)}`] : [];
	const child = fork(import.meta.filename, ['--server'], { execArgv });
	child.send({ config, dbUrl });
	return new Promise((resolve, reject) => {
		const onExit = (code: number | null) => reject(new Error(`server process exited with ${code}`));
		child.once('error', reject);
		child.once('exit', onExit);
		child.once('message', (m) =>
			resolve({
				url: (m as { url: string }).url,
				async close() {
					child.off('exit', onExit);
					const exited = new Promise((r) => child.once('exit', r));
					child.send('stop');
					await exited;
				}
			})
		);
	});
}

/** The server process: runs the gateway until told to stop, then exits (so --cpu-prof writes). */
async function serve(): Promise<void> {
	const { config, dbUrl } = await new Promise<{ config: StackConfig; dbUrl: string }>((resolve) =>
		process.once('message', (m) => resolve(m as { config: StackConfig; dbUrl: string }))
	);
	// As the stack's own gateway process does (stack.ts), unless the config's sched section says not.
	if (batchSchedulingWanted(config)) useBatchScheduling([process.pid]);
	const gateway = await startServices({ config, dbUrl }, { port: 0 });
	process.on('message', async () => {
		await gateway.close();
		process.exit(0);
	});
	process.send!({ url: gateway.url });
}

if (process.argv[1] === import.meta.filename && process.argv[2] === '--server') await serve();
