import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
	MAX_SOCKET_PATH,
	canHoldSocket,
	letOthersTraverse,
	socketDirFor,
	startPostgres,
	type RunningPostgres
} from './postgres.ts';
import { freePort } from './testing/free-port.ts';
import { SCHED_BATCH, chrtAvailable, schedulingPolicyOf } from './sched.ts';

async function serverAddress(url: string): Promise<string | null> {
	const client = new pg.Client({ connectionString: url });
	await client.connect();
	try {
		return (await client.query<{ addr: string | null }>('select inet_server_addr()::text as addr')).rows[0]
			.addr;
	} finally {
		await client.end();
	}
}

describe('embedded PostgreSQL', () => {
	let dir: string;
	let postgres: RunningPostgres;
	beforeAll(async () => {
		dir = mkdtempSync(join(tmpdir(), 'parley-pg-'));
		postgres = await startPostgres({
			dataDir: join(dir, 'data'),
			port: await freePort(),
			batchScheduling: true
		});
	});
	afterAll(async () => {
		await postgres?.stop();
		rmSync(dir, { recursive: true, force: true });
	});

	test('clients anywhere get TCP; services on this machine get the Unix socket in the data folder', async () => {
		expect(postgres.url()).toContain('@127.0.0.1:');
		expect(await serverAddress(postgres.url())).toBe('127.0.0.1/32');
		// PostgreSQL has no server address for a connection through a Unix socket.
		expect(postgres.localUrl()).toContain(encodeURIComponent(join(dir, 'data')));
		expect(await serverAddress(postgres.localUrl())).toBeNull();
		// The probe that checked the folder can hold a socket is gone.
		expect(readdirSync(join(dir, 'data')).filter((f) => f.startsWith('.s.'))).toEqual([
			`.s.PGSQL.${postgres.port}`,
			`.s.PGSQL.${postgres.port}.lock`
		]);
	});

	test.runIf(process.platform === 'linux' && chrtAvailable())(
		'the server and every backend it starts run under SCHED_BATCH (sched.ts)',
		async () => {
			const client = new pg.Client({ connectionString: postgres.url() });
			await client.connect();
			try {
				const { rows } = await client.query<{ pid: number; backend_type: string }>(
					`select pid, backend_type from pg_stat_activity
				 where pid = pg_backend_pid() or backend_type = 'checkpointer'`
				);
				expect(rows.map((r) => r.backend_type).sort()).toEqual(['checkpointer', 'client backend']);
				for (const row of rows) expect(schedulingPolicyOf(row.pid)).toBe(SCHED_BATCH);
			} finally {
				await client.end();
			}
		}
	);

	test('the socket path asks for the same password as TCP', async () => {
		const wrong = postgres.localUrl().replace(/:[^:@/]+@/, ':wrong@');
		await expect(serverAddress(wrong)).rejects.toThrow(/password authentication failed/);
	});
});

// As root the server runs as `postgres`, from this checkout's node_modules: a clone under a
// folder only root may enter (a `mktemp -d` folder, a 0700 home) must be opened for traversal.
describe.runIf(process.getuid?.() === 0)('letOthersTraverse', () => {
	test('lets the postgres user reach a folder below ones only root could enter', () => {
		const top = mkdtempSync(join(tmpdir(), 'parley-rootonly-'));
		try {
			const deep = join(top, 'clone', 'node_modules', 'bin');
			mkdirSync(deep, { recursive: true, mode: 0o700 });
			const reachable = () => {
				try {
					execFileSync('su', ['-s', '/bin/sh', 'postgres', '-c', 'cd "$0"', deep], { stdio: 'ignore' });
					return true;
				} catch {
					return false;
				}
			};
			expect(statSync(top).mode & 0o777).toBe(0o700);
			expect(reachable()).toBe(false);
			letOthersTraverse(deep);
			expect(reachable()).toBe(true);
			// Traversal only: others still cannot list the folders.
			expect(statSync(top).mode & 0o777).toBe(0o701);
		} finally {
			rmSync(top, { recursive: true, force: true });
		}
	});
});

describe('canHoldSocket', () => {
	test('makes and removes a probe socket; says no where none can be made', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'parley-socket-'));
		try {
			expect(await canHoldSocket(dir, 54322)).toBe(true);
			expect(readdirSync(dir)).toEqual([]);
			// A folder in the probe's place: no socket can be bound there.
			mkdirSync(join(dir, '.s.PROBE.54322'));
			expect(await canHoldSocket(dir, 54322)).toBe(false);
			expect(await canHoldSocket(join(dir, 'missing'), 54322)).toBe(false);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe('socketDirFor', () => {
	test('puts the socket in the data folder when the path fits the kernel limit', () => {
		expect(socketDirFor('/tmp/parley/data', 54322)).toBe('/tmp/parley/data');
	});

	test('gives no socket (TCP only) when the socket path would be too long', () => {
		const deep = '/tmp/' + 'x'.repeat(100) + '/data';
		expect(socketDirFor(deep, 54322)).toBeUndefined();
		// The longest path that fits, and one byte more.
		const fits = '/' + 'a'.repeat(MAX_SOCKET_PATH - '/.s.PGSQL.54322'.length - 1);
		expect(socketDirFor(fits, 54322)).toBe(fits);
		expect(socketDirFor(fits + 'a', 54322)).toBeUndefined();
	});

	test('gives no socket for a folder name PostgreSQL would read differently', () => {
		expect(socketDirFor('/tmp/a,b/data', 54322)).toBeUndefined();
		expect(socketDirFor('/tmp/"a"/data', 54322)).toBeUndefined();
		expect(socketDirFor('/tmp/a/data ', 54322)).toBeUndefined();
		expect(socketDirFor('/tmp/a b/data', 54322)).toBe('/tmp/a b/data');
	});
});
