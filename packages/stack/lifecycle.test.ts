/**
 * The stack as a user runs it (`parley-stack start` in a project folder): data survives a
 * clean Ctrl-C and a `kill -9` of every process, and fixable problems end in one clear line.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort } from './testing/free-port.ts';
import { exited, runCli, startCli as startStackCli } from './testing/cli.ts';

let project: string;
let env: NodeJS.ProcessEnv;
let dbPort: number;

beforeAll(async () => {
	project = mkdtempSync(join(tmpdir(), 'parley-lifecycle-'));
	mkdirSync(join(project, 'supabase/migrations'), { recursive: true });
	writeFileSync(join(project, 'supabase/config.toml'), 'project_id = "ledger"\n');
	writeFileSync(
		join(project, 'supabase/migrations/20240101000000_ledger.sql'),
		'create table public.ledger (id bigint primary key, note text not null);'
	);
	dbPort = await freePort();
	env = {
		...process.env,
		PARLEY_DB_PORT: String(dbPort),
		PARLEY_API_PORT: String(await freePort()),
		PARLEY_DATA_DIR: join(project, '.stack/data')
	};
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

const startCli = () => startStackCli([], { cwd: project, env });

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
	const client = new pg.Client({
		connectionString: `postgresql://postgres:postgres@127.0.0.1:${dbPort}/postgres`
	});
	await client.connect();
	try {
		return await fn(client);
	} finally {
		await client.end();
	}
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

describe('stack lifecycle', () => {
	test('committed rows survive a clean Ctrl-C and a kill -9 of every process', async () => {
		const first = await startCli();
		expect(first.output()).toContain('migration applied: 20240101000000_ledger.sql');
		expect(readFileSync(join(project, '.env'), 'utf8')).toContain('PUBLIC_SUPABASE_URL=');
		await withClient((c) => c.query(`insert into public.ledger values (1, 'before ctrl-c')`));
		// A REST request opens the schema listener, one more connection open at Ctrl-C.
		const api = `http://127.0.0.1:${env.PARLEY_API_PORT}/rest/v1/ledger`;
		const key = /anon key: (\S+)/.exec(first.output())?.[1];
		expect((await fetch(api, { headers: { apikey: key!, authorization: `Bearer ${key}` } })).status).toBe(
			200
		);

		// Ctrl-C reaches the whole foreground process group.
		process.kill(-first.child.pid!, 'SIGINT');
		expect(await exited(first.child)).toBe(0);
		expect(existsSync(join(project, '.stack/data/postmaster.pid'))).toBe(false);
		// PostgreSQL gets the same Ctrl-C and closes the services' connections as it stops: that
		// is a normal stop, not something to alarm the user with.
		expect(first.output()).toContain('stopping the stack');
		const stopping = first.output().slice(first.output().indexOf('stopping the stack'));
		expect(stopping).not.toMatch(/FATAL|ERROR|error:/);

		const second = await startCli();
		expect(second.output()).not.toContain('migration applied');
		await withClient((c) => c.query(`insert into public.ledger values (2, 'before kill -9')`));
		const postmasterPid = Number(
			readFileSync(join(project, '.stack/data/postmaster.pid'), 'utf8').split('\n')[0]
		);
		process.kill(-second.child.pid!, 'SIGKILL');
		await exited(second.child);
		for (let i = 0; i < 100 && alive(postmasterPid); i++) await new Promise((r) => setTimeout(r, 50));
		expect(alive(postmasterPid)).toBe(false);

		// Postgres runs crash recovery on the next start.
		const third = await startCli();
		const rows = await withClient((c) => c.query('select id, note from public.ledger order by id'));
		expect(rows.rows).toEqual([
			{ id: '1', note: 'before ctrl-c' },
			{ id: '2', note: 'before kill -9' }
		]);
		process.kill(-third.child.pid!, 'SIGINT');
		expect(await exited(third.child)).toBe(0);
	});

	test('db-reset drops and re-creates the database with its migrations, and forgets stored files', async () => {
		const stored = join(project, '.stack/data/storage/bucket/object');
		mkdirSync(dirname(stored), { recursive: true });
		writeFileSync(stored, 'bytes of an object the reset drops');
		const reset = await runCli(['db-reset'], { cwd: project, env });
		expect(reset.code).toBe(0);
		expect(reset.stdout).toContain('database reset: 1 migrations applied');
		expect(existsSync(stored)).toBe(false);
		const started = await startCli();
		const rows = await withClient((c) => c.query('select count(*)::int as n from public.ledger'));
		expect(rows.rows[0].n).toBe(0);
		process.kill(-started.child.pid!, 'SIGINT');
		expect(await exited(started.child)).toBe(0);
	});

	test('a taken database port ends with one line that says what to do', async () => {
		const blocker: Server = createServer();
		const port = await freePort();
		await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
		try {
			const { code, stderr } = await runCli(['start'], {
				cwd: project,
				env: { ...env, PARLEY_DB_PORT: String(port) }
			});
			expect(code).toBe(1);
			const lines = stderr.trim().split('\n');
			expect(lines).toHaveLength(1);
			expect(lines[0]).toMatch(
				new RegExp(`^error: PostgreSQL port ${port} .* already in use: stop whatever holds it`)
			);
		} finally {
			blocker.close();
		}
	});

	test('a data folder that cannot be written ends with one line that says what to do', async () => {
		const notADirectory = join(project, 'plain-file');
		writeFileSync(notADirectory, 'x');
		const { code, stderr } = await runCli(['start'], {
			cwd: project,
			env: { ...env, PARLEY_DATA_DIR: join(notADirectory, 'data') }
		});
		expect(code).toBe(1);
		const lines = stderr.trim().split('\n');
		expect(lines).toHaveLength(1);
		expect(lines[0]).toMatch(/^error: The database folder .* cannot be written .*set PARLEY_DATA_DIR/);
	});

	test('a broken migration stops start-up with the file, the line and the message', async () => {
		const broken = mkdtempSync(join(tmpdir(), 'parley-broken-'));
		mkdirSync(join(broken, 'supabase/migrations'), { recursive: true });
		writeFileSync(join(broken, 'supabase/config.toml'), '');
		writeFileSync(
			join(broken, 'supabase/migrations/20240101000000_oops.sql'),
			'create table t (id int);\nselect nope;'
		);
		const { code, stderr } = await runCli(['start'], {
			cwd: broken,
			env: {
				...env,
				PARLEY_DB_PORT: String(await freePort()),
				PARLEY_API_PORT: String(await freePort()),
				PARLEY_DATA_DIR: join(broken, '.stack/data')
			}
		});
		expect(code).toBe(1);
		expect(stderr.trim()).toBe(
			'error: migration 20240101000000_oops.sql line 2 failed: column "nope" does not exist'
		);
		rmSync(broken, { recursive: true, force: true });
	});
});
