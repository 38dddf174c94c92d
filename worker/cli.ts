/**
 * `npm run worker [-- <command>]`: the delivery worker.
 *
 *   run       (default) deliver pushes until SIGTERM/SIGINT, then stop gracefully
 *   status    jobs per queue and state (dead letters included), outbox backlog; `--json` for JSON
 *   redrive   move dead-lettered jobs back into the delivery queue (`--limit N`, default 1000)
 *   health    exit 0 when healthy: asks the running worker's /health if PARLEY_WORKER_HEALTH_PORT
 *             is set, else checks that the database and the queues are reachable
 *
 * Configuration comes from the environment (see worker/config.ts); `DATABASE_URL` defaults to the
 * embedded stack's database.
 */
import pg from 'pg';
import { loadWorkerConfig } from './config.ts';
import { createLogger } from './log.ts';
import { formatStatus, getStatus, redrive } from './status.ts';
import { startWorker } from './worker.ts';

const [command = 'run', ...args] = process.argv.slice(2);
const config = loadWorkerConfig();
const log = createLogger({ service: 'delivery-worker', pid: process.pid });

function option(name: string): string | undefined {
	const index = args.indexOf(name);
	return index >= 0 ? args[index + 1] : undefined;
}

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
	const client = new pg.Client({ connectionString: config.databaseUrl });
	await client.connect();
	try {
		return await fn(client);
	} finally {
		await client.end();
	}
}

/** Signals this close together are one request to stop. */
const SAME_STOP_MS = 1000;

async function run(): Promise<void> {
	const worker = await startWorker(config, { log });
	let signalledAt: number | undefined;
	const shutdown = (signal: string) => {
		if (signalledAt !== undefined) {
			// Ctrl-C under `npm run dev` arrives twice at once: from the terminal, and as the
			// SIGTERM dev.ts forwards. Only a signal sent later, once the stop seems stuck, forces.
			if (Date.now() - signalledAt < SAME_STOP_MS) return;
			log('worker.forced_exit', { signal }, 'warn');
			process.exit(1);
		}
		signalledAt = Date.now();
		log('worker.signal', { signal });
		worker.stop().then(
			() => process.exit(0),
			(error) => {
				log('worker.stop_failed', { error: (error as Error).message }, 'error');
				process.exit(1);
			}
		);
	};
	process.on('SIGTERM', () => shutdown('SIGTERM'));
	process.on('SIGINT', () => shutdown('SIGINT'));
}

async function health(): Promise<boolean> {
	if (config.healthPort) {
		try {
			const response = await fetch(`http://127.0.0.1:${config.healthPort}/health`, {
				signal: AbortSignal.timeout(3000)
			});
			console.log(await response.text());
			return response.ok;
		} catch (error) {
			console.log(JSON.stringify({ ok: false, error: (error as Error).message }));
			return false;
		}
	}
	try {
		const status = await withClient(getStatus);
		console.log(JSON.stringify({ ok: true, ...status }));
		return true;
	} catch (error) {
		console.log(JSON.stringify({ ok: false, error: (error as Error).message }));
		return false;
	}
}

switch (command) {
	case 'run':
		await run();
		break;
	case 'status': {
		const status = await withClient(getStatus);
		console.log(args.includes('--json') ? JSON.stringify(status) : formatStatus(status));
		break;
	}
	case 'redrive': {
		const moved = await redrive(config.databaseUrl, Number(option('--limit') ?? 1000));
		console.log(`redrove ${moved} dead-lettered job(s)`);
		break;
	}
	case 'health':
		process.exitCode = (await health()) ? 0 : 1;
		break;
	default:
		console.error(`unknown command "${command}"; use run, status, redrive or health`);
		process.exitCode = 2;
}
