#!/usr/bin/env node
/**
 * `npm run stack` (start, foreground), `npm run stack:status`, `npm run db:reset`.
 * Problems a user can fix end with a one-line message and exit code 1.
 */
import { loadConfig } from './config.ts';
import { startStack, resetDatabase } from './stack.ts';
import { StackError } from './postgres.ts';
import { MigrationError } from './migrations.ts';
import { ensureEnvFile, stackEnv } from './env-file.ts';
import { formatStatus } from './status.ts';

const command = process.argv[2] ?? 'start';
const config = loadConfig();

function fail(error: unknown): never {
	if (error instanceof StackError || error instanceof MigrationError) {
		console.error(`error: ${error.message}`);
	} else {
		console.error(error);
	}
	process.exit(1);
}

try {
	if (command === 'start') {
		const stack = await startStack(config);
		ensureEnvFile(config.root, stackEnv(config, stack.apiUrl));
		console.log(`\nParley's embedded Supabase stack is running.\n\n${formatStatus(config, stack.apiUrl)}\n`);
		let stopping = false;
		const stop = async () => {
			if (stopping) return;
			stopping = true;
			console.log('stopping the stack…');
			await stack.stop();
			process.exit(0);
		};
		process.on('SIGINT', stop);
		process.on('SIGTERM', stop);
	} else if (command === 'status') {
		console.log(formatStatus(config, `http://${config.host}:${config.apiPort}`));
	} else if (command === 'db-reset') {
		await resetDatabase(config);
	} else {
		console.error(`unknown command "${command}": use start, status or db-reset`);
		process.exit(2);
	}
} catch (error) {
	fail(error);
}
