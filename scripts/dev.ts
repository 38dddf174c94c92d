/**
 * `npm run dev`: the whole app on the embedded stack. Starts PostgreSQL and the API gateway,
 * writes or reuses `.env`, then runs the SvelteKit dev server (and the delivery worker when
 * present) until Ctrl-C, which stops everything cleanly.
 *
 * `--fresh` wipes the stack's data folder first (used by the end-to-end tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@parley/stack/config.ts';
import { startStack } from '@parley/stack/stack.ts';
import { StackError } from '@parley/stack/postgres.ts';
import { MigrationError } from '@parley/stack/migrations.ts';
import { ensureEnvFile, stackEnv } from '@parley/stack/env-file.ts';
import { formatStatus } from '@parley/stack/status.ts';

const config = loadConfig();
if (process.argv.includes('--fresh')) rmSync(config.dataDir, { recursive: true, force: true });

let stack: Awaited<ReturnType<typeof startStack>> | undefined;
try {
	stack = await startStack(config);
} catch (error) {
	if (error instanceof StackError || error instanceof MigrationError) {
		console.error(`error: ${error.message}`);
		process.exit(1);
	}
	throw error;
}
const env = stackEnv(config, stack.apiUrl);
ensureEnvFile(config.root, env);

const appUrl = `http://127.0.0.1:${process.env.PARLEY_APP_PORT || 5173}`;
const children: ChildProcess[] = [];
const bin = (name: string) => join(config.root, 'node_modules/.bin', name);
// Children get the stack's variables directly, so they work whatever `.env` holds.
const childEnv = { ...process.env, ...env };
// On this process's Node (the project's own), not whatever `node` the bin script's shebang finds.
children.push(spawn(process.execPath, [bin('vite'), 'dev'], { stdio: 'inherit', env: childEnv }));
if (existsSync(join(config.root, 'worker/cli.ts'))) {
	children.push(spawn(process.execPath, ['worker/cli.ts', 'run'], { stdio: 'inherit', env: childEnv }));
}
console.log(
	`\nParley is running.\n\n${formatStatus(config, stack.apiUrl, appUrl)}\n\nPress Ctrl-C to stop.\n`
);

let stopping = false;
async function stop(code = 0) {
	if (stopping) return;
	stopping = true;
	for (const child of children) child.kill('SIGTERM');
	await Promise.all(
		children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined))
	);
	await stack?.stop();
	process.exit(code);
}
process.on('SIGINT', () => stop());
process.on('SIGTERM', () => stop());
for (const child of children) child.on('exit', (code) => !stopping && stop(code ?? 1));
