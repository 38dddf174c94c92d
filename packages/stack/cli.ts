/**
 * `parley-stack start | status | db reset [--workdir DIR]`: runs the Supabase project in DIR
 * (default: the current folder) on the embedded stack. Problems a user can fix end with one
 * line on stderr: exit code 2 for a mistaken command line, 1 for everything else.
 */
import { loadConfig, ConfigError, type StackConfig } from './config.ts';
import { startStack, resetDatabase, stackRunning } from './stack.ts';
import { StackError } from './postgres.ts';
import { MigrationError } from './migrations.ts';
import { ensureEnvFile, stackEnv } from './env-file.ts';
import { formatStatus } from './status.ts';
import { parseArgs, UsageError, USAGE } from './cli-args.ts';
import { assertProject } from './project.ts';

function fail(error: unknown): never {
	if (error instanceof UsageError) {
		console.error(`error: ${error.message} (parley-stack --help)`);
		process.exit(2);
	}
	if (error instanceof StackError || error instanceof MigrationError || error instanceof ConfigError)
		console.error(`error: ${error.message}`);
	else console.error(error);
	process.exit(1);
}

const apiUrl = (config: StackConfig) => `http://${config.host}:${config.apiPort}`;

async function start(config: StackConfig): Promise<void> {
	const stack = await startStack(config);
	const env = ensureEnvFile(config.root, stackEnv(config, stack.apiUrl));
	if (env.added.length) console.log(`wrote ${env.added.join(', ')} to ${env.path}`);
	console.log(
		`\nThe embedded Supabase stack is running (project ${config.projectId}).\n\n${formatStatus(config, stack.apiUrl)}\n`
	);
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
}

async function status(config: StackConfig): Promise<void> {
	if (!(await stackRunning(config)))
		throw new StackError(`no stack is running on ${apiUrl(config)}: start it with \`parley-stack start\`.`);
	console.log(formatStatus(config, apiUrl(config)));
}

try {
	const { command, workdir } = parseArgs(process.argv.slice(2));
	if (command === 'help') {
		console.log(USAGE);
	} else {
		assertProject(workdir);
		const config = loadConfig(workdir);
		if (command === 'start') await start(config);
		else if (command === 'status') await status(config);
		else await resetDatabase(config);
	}
} catch (error) {
	fail(error);
}
