import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../testing/index.ts';
import { Executor, type RequestSettings, type RunOptions, type RunResult } from './executor.ts';

/**
 * The executor against real PostgreSQL. One connection, so every request reuses the connection
 * (and the prepared statements) that the previous one left behind.
 */
describe('executor', () => {
	let db: TestDatabase;
	let admin: pg.Pool;
	let executor: Executor;
	/** One connection that carries up to three requests at once. */
	let pipelined: Executor;

	const settings = (over: Partial<RequestSettings> = {}): RequestSettings => ({
		role: 'authenticated',
		searchPath: 'public',
		claims: '{"sub":"11111111-1111-4111-8111-111111111111","role":"authenticated"}',
		method: 'POST',
		path: '/rpc/x',
		headers: '{}',
		extra: [],
		...over
	});
	const run = (o: Partial<RunOptions> & Pick<RunOptions, 'main'>) =>
		executor.run({ readOnly: false, settings: settings(), ...o });
	const names = async () =>
		(await admin.query<{ name: string }>('select name from public.executor_log order by id')).rows.map(
			(r) => r.name
		);

	beforeAll(async () => {
		db = await createTestDatabase('platform');
		admin = new pg.Pool({ connectionString: db.url, max: 1 });
		await admin.query(`
			create table public.executor_log (id serial primary key, name text not null);
			grant select, insert on public.executor_log to authenticated;
			grant usage on sequence public.executor_log_id_seq to authenticated;`);
		executor = new Executor(db.url, 1, 1);
		pipelined = new Executor(db.url, 1, 3);
	});
	afterAll(async () => {
		await executor.close();
		await pipelined.close();
		await admin.end();
		await db.drop();
	});

	it('runs the query as the request role with its settings, which end with the request', async () => {
		const select = {
			text: `select current_user::text as role, current_setting('request.jwt.claims', true) as claims,
				current_setting('request.path', true) as path, current_setting('transaction_read_only') as read_only`,
			values: []
		};
		const result = await executor.run({
			readOnly: true,
			settings: settings({ path: '/items' }),
			main: select
		});
		expect(result.main.rows).toEqual([
			{ role: 'authenticated', claims: settings().claims, path: '/items', read_only: 'on' }
		]);
		// The same connection, without settings: nothing of the last request is left on it.
		const client = await executor.pool.connect();
		try {
			const after = await client.query(select.text);
			expect(after.rows).toEqual([{ role: 'authenticator', claims: '', path: '', read_only: 'off' }]);
		} finally {
			client.release();
		}
	});

	it('commits every statement of a request together, or none of them', async () => {
		const insert = (name: string) => ({
			text: 'insert into public.executor_log (name) values ($1) returning id',
			values: [name]
		});
		await run({ explain: insert('first'), main: insert('second') });
		expect(await names()).toEqual(['first', 'second']);

		// The second statement fails: the first, which succeeded, is rolled back with it.
		const failing = run({
			explain: insert('lost'),
			main: { text: 'select 1 / $1::int', values: [0] }
		});
		await expect(failing).rejects.toMatchObject({ code: '22012' });
		expect(await names()).toEqual(['first', 'second']);
	});

	it('refuses writes in a read-only request', async () => {
		const write = run({
			readOnly: true,
			main: { text: 'insert into public.executor_log (name) values ($1)', values: ['read-only'] }
		});
		await expect(write).rejects.toMatchObject({ code: '25006' });
		expect(await names()).not.toContain('read-only');
	});

	it('reuses a prepared statement whose last execution failed', async () => {
		const divide = (by: number) => ({ text: 'select 10 / $1::int as q', values: [by] });
		await expect(run({ main: divide(0) })).rejects.toMatchObject({ code: '22012' });
		expect((await run({ main: divide(5) })).main.rows).toEqual([{ q: 2 }]);
	});

	it('prepares again a statement that a failure earlier in its request skipped', async () => {
		const main = { text: 'select 41 + $1::int as answer', values: [1] };
		// The role switch fails, so PostgreSQL skips the main statement's Parse.
		const refused = executor.run({ readOnly: false, settings: settings({ role: 'no_such_role' }), main });
		await expect(refused).rejects.toMatchObject({ code: '22023' });
		expect((await run({ main })).main.rows).toEqual([{ answer: 42 }]);
	});

	it('commits or rolls back as decided from the result, and recovers from a failure', async () => {
		const insert = (name: string) => ({
			text: 'insert into public.executor_log (name) values ($1) returning name',
			values: [name]
		});
		await run({ main: insert('kept'), decide: (r) => r.rows[0].name === 'kept' });
		await run({ main: insert('dropped'), decide: (r) => r.rows[0].name === 'kept' });
		await run({ main: insert('dry run'), rollback: true });
		const failing = run({ main: { text: 'select 1 / $1::int', values: [0] }, decide: () => true });
		await expect(failing).rejects.toMatchObject({ code: '22012' });
		// The failed transaction was rolled back: the connection takes the next request.
		await run({ main: insert('after'), decide: () => true });
		const logged = await names();
		expect(logged).toEqual(expect.arrayContaining(['kept', 'after']));
		expect(logged).not.toContain('dropped');
		expect(logged).not.toContain('dry run');
	});

	it('pipelines requests on a busy connection, each still its own transaction', async () => {
		const backend = { text: 'select pg_backend_pid() as pid, $1::text as name', values: ['x'] };
		const insert = (name: string) => ({
			text: 'insert into public.executor_log (name) values ($1) returning pg_backend_pid() as pid',
			values: [name]
		});
		// Three at once on one connection: the first is new to it, so the others are written behind
		// it before its statements are confirmed prepared; the failing one in the middle rolls back
		// alone, and the one behind it commits.
		const [first, failing, last] = await Promise.allSettled([
			pipelined.run({ readOnly: false, settings: settings(), main: insert('pipelined 1') }),
			pipelined.run({
				readOnly: false,
				settings: settings(),
				explain: insert('pipelined lost'),
				main: { text: 'select 1 / $1::int', values: [0] }
			}),
			pipelined.run({ readOnly: false, settings: settings(), main: insert('pipelined 2') })
		]);
		expect(failing).toMatchObject({ status: 'rejected', reason: { code: '22012' } });
		expect(first.status).toBe('fulfilled');
		expect(last.status).toBe('fulfilled');
		const logged = await names();
		expect(logged).toEqual(expect.arrayContaining(['pipelined 1', 'pipelined 2']));
		expect(logged).not.toContain('pipelined lost');
		const pid = (await pipelined.run({ readOnly: true, settings: settings(), main: backend })).main.rows[0]
			.pid;
		expect(pid).toBe((first as PromiseFulfilledResult<RunResult>).value.main.rows[0].pid);
	});

	it('pipelined requests behind a failure that skipped a statement prepare it themselves', async () => {
		const main = { text: 'select 2 * $1::int as doubled', values: [21] };
		// The first fails at its role switch, before its Parse of main: the two behind it, written
		// at once, must not count on main being prepared.
		const [refused, ...rest] = await Promise.allSettled([
			pipelined.run({ readOnly: false, settings: settings({ role: 'no_such_role' }), main }),
			pipelined.run({ readOnly: false, settings: settings(), main }),
			pipelined.run({ readOnly: false, settings: settings(), main })
		]);
		expect(refused).toMatchObject({ status: 'rejected', reason: { code: '22023' } });
		for (const r of rest)
			expect(r).toMatchObject({ status: 'fulfilled', value: { main: { rows: [{ doubled: 42 }] } } });
	});

	it('gives a transaction that decides from its result a connection of its own', async () => {
		const insert = (name: string) => ({
			text: 'insert into public.executor_log (name) values ($1) returning name',
			values: [name]
		});
		const runs = await Promise.allSettled([
			pipelined.run({ readOnly: false, settings: settings(), main: insert('around 1') }),
			pipelined.run({ readOnly: false, settings: settings(), main: insert('decided'), decide: () => false }),
			pipelined.run({ readOnly: false, settings: settings(), main: insert('around 2') })
		]);
		for (const r of runs) expect(r.status).toBe('fulfilled');
		const logged = await names();
		// Had 'around 2' been written into the decided transaction, its rollback would have taken it.
		expect(logged).toEqual(expect.arrayContaining(['around 1', 'around 2']));
		expect(logged).not.toContain('decided');
	});

	it('fails a request whose value cannot be sent before it reaches the shared connection', async () => {
		const echo = (value: unknown) => ({
			text: 'select $1::text as value, pg_backend_pid() as pid',
			values: [value]
		});
		const unsendable = {
			toPostgres() {
				throw new Error('unsendable');
			}
		};
		const [first, refused, last] = await Promise.allSettled([
			pipelined.run({ readOnly: true, settings: settings(), main: echo('a') }),
			pipelined.run({ readOnly: true, settings: settings(), main: echo(unsendable) }),
			pipelined.run({ readOnly: true, settings: settings(), main: echo('b') })
		]);
		expect(refused).toMatchObject({ status: 'rejected', reason: { message: 'unsendable' } });
		expect(first).toMatchObject({ status: 'fulfilled', value: { main: { rows: [{ value: 'a' }] } } });
		expect(last).toMatchObject({ status: 'fulfilled', value: { main: { rows: [{ value: 'b' }] } } });
		// Nothing was wrong with the connection, so it was kept.
		const before = (first as PromiseFulfilledResult<RunResult>).value.main.rows[0].pid;
		const after = await pipelined.run({ readOnly: true, settings: settings(), main: echo('c') });
		expect(after.main.rows[0].pid).toBe(before);
	});

	it('reports a row its type parser cannot read as the error of its request only', async () => {
		const MONEY = 790;
		pg.types.setTypeParser(MONEY, () => {
			throw new Error('unreadable');
		});
		try {
			const unreadable = run({ main: { text: 'select 1::money as m', values: [] } });
			await expect(unreadable).rejects.toThrow('unreadable');
		} finally {
			pg.types.setTypeParser(MONEY, (value: string) => value);
		}
		// The connection serves the next request.
		expect((await run({ main: { text: 'select 2 as n', values: [] } })).main.rows).toEqual([{ n: 2 }]);
	});
});
