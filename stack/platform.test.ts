import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from './testing/index.ts';
import { applyPlatform } from './platform.ts';

let database: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
	database = await createTestDatabase('platform');
	pool = new pg.Pool({ connectionString: database.url, max: 4 });
});
afterAll(async () => {
	await pool.end();
	await database.drop();
});

/** Runs `fn` in a transaction acting as `role` with `claims`, as the REST API does; rolls back. */
async function asRole<T>(
	role: string,
	claims: object | null,
	fn: (c: pg.PoolClient) => Promise<T>
): Promise<T> {
	const client = await pool.connect();
	try {
		await client.query('begin');
		if (claims)
			await client.query(`select set_config('request.jwt.claims', $1, true)`, [JSON.stringify(claims)]);
		await client.query(`set local role ${role}`);
		return await fn(client);
	} finally {
		await client.query('rollback');
		client.release();
	}
}

describe('Supabase platform layer', () => {
	test('auth.uid() returns the sub of the transaction claims, and null without them', async () => {
		const sub = '6f1c1e0a-5b7a-4a53-9b8e-4b7f4a0c9d21';
		const withClaims = await asRole(
			'authenticated',
			{ sub, role: 'authenticated', email: 'a@example.com' },
			(c) =>
				c.query('select auth.uid() as uid, auth.role() as role, auth.email() as email, auth.jwt() as jwt')
		);
		expect(withClaims.rows[0]).toMatchObject({ uid: sub, role: 'authenticated', email: 'a@example.com' });
		expect(withClaims.rows[0].jwt.sub).toBe(sub);
		const without = await asRole('anon', null, (c) =>
			c.query('select auth.uid() as uid, auth.role() as role')
		);
		expect(without.rows[0]).toEqual({ uid: null, role: null });
	});

	test('claims do not leak past their transaction', async () => {
		const client = await pool.connect();
		try {
			await client.query('begin');
			await client.query(
				`select set_config('request.jwt.claims', '{"sub":"6f1c1e0a-5b7a-4a53-9b8e-4b7f4a0c9d21"}', true)`
			);
			await client.query('commit');
			const { rows } = await client.query('select auth.uid() as uid');
			expect(rows[0].uid).toBeNull();
		} finally {
			client.release();
		}
	});

	test('authenticated is subject to RLS; service_role bypasses it', async () => {
		await pool.query(`create table public.notes (id serial primary key, owner uuid not null, body text);
			alter table public.notes enable row level security;
			create policy "owners read their notes" on public.notes for select to authenticated using ((select auth.uid()) = owner);
			insert into public.notes (owner, body) values ('11111111-1111-1111-1111-111111111111', 'mine'), ('22222222-2222-2222-2222-222222222222', 'theirs');`);
		const mine = await asRole(
			'authenticated',
			{ sub: '11111111-1111-1111-1111-111111111111', role: 'authenticated' },
			(c) => c.query('select body from public.notes order by id')
		);
		expect(mine.rows).toEqual([{ body: 'mine' }]);
		const anon = await asRole('anon', { role: 'anon' }, (c) => c.query('select body from public.notes'));
		expect(anon.rows).toEqual([]);
		const service = await asRole('service_role', { role: 'service_role' }, (c) =>
			c.query('select body from public.notes order by id')
		);
		expect(service.rows).toEqual([{ body: 'mine' }, { body: 'theirs' }]);
	});

	test('roles, schemas, extensions and the realtime publication exist', async () => {
		const roles = await pool.query(
			`select rolname, rolbypassrls, rolcanlogin from pg_roles where rolname in ('anon','authenticated','service_role','authenticator') order by rolname`
		);
		expect(roles.rows).toEqual([
			{ rolname: 'anon', rolbypassrls: false, rolcanlogin: false },
			{ rolname: 'authenticated', rolbypassrls: false, rolcanlogin: false },
			{ rolname: 'authenticator', rolbypassrls: false, rolcanlogin: true },
			{ rolname: 'service_role', rolbypassrls: true, rolcanlogin: false }
		]);
		const schemas = await pool.query(
			`select nspname from pg_namespace where nspname in ('auth','extensions','realtime') order by 1`
		);
		expect(schemas.rows.map((r) => r.nspname)).toEqual(['auth', 'extensions', 'realtime']);
		const pgcrypto = await pool.query(
			`select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where extname = 'pgcrypto'`
		);
		expect(pgcrypto.rows[0].nspname).toBe('extensions');
		const publication = await pool.query(
			`select count(*)::int as n from pg_publication where pubname = 'supabase_realtime'`
		);
		expect(publication.rows[0].n).toBe(1);
	});

	test('tables created in public by postgres get Supabase default grants', async () => {
		await pool.query('create table public.granted (id int)');
		const { rows } = await pool.query(
			`select grantee, string_agg(privilege_type, ',' order by privilege_type) as privs from information_schema.role_table_grants
			 where table_name = 'granted' and grantee in ('anon','authenticated','service_role') group by grantee order by grantee`
		);
		expect(rows.map((r) => r.grantee)).toEqual(['anon', 'authenticated', 'service_role']);
		for (const row of rows) expect(row.privs).toContain('SELECT');
	});

	test('realtime.send and realtime.broadcast_changes write realtime.messages with Supabase payloads', async () => {
		await pool.query(`select realtime.send('{"a":1}'::jsonb, 'evt', 'room:1', false)`);
		await pool.query(`create table public.items (id int primary key, name text);
			create function public.items_broadcast() returns trigger language plpgsql as $$
			begin
			  perform realtime.broadcast_changes('items:' || coalesce(new.id, old.id), tg_op, tg_op, tg_table_name, tg_table_schema, new, old);
			  return null;
			end $$;
			create trigger items_broadcast after insert or update or delete on public.items for each row execute function public.items_broadcast();
			insert into public.items values (7, 'seven');`);
		const { rows } = await pool.query(
			`select topic, event, extension, private, payload from realtime.messages order by inserted_at, topic`
		);
		expect(rows).toContainEqual({
			topic: 'room:1',
			event: 'evt',
			extension: 'broadcast',
			private: false,
			payload: { a: 1 }
		});
		const change = rows.find((r) => r.topic === 'items:7');
		expect(change).toMatchObject({ event: 'INSERT', private: true });
		expect(change.payload).toEqual({
			operation: 'INSERT',
			table: 'items',
			schema: 'public',
			record: { id: 7, name: 'seven' },
			old_record: null
		});
	});

	test('realtime.topic() reads the topic set for the transaction', async () => {
		const result = await asRole('authenticated', { role: 'authenticated' }, async (c) => {
			await c.query(`select set_config('realtime.topic', 'conversation:1', true)`);
			return c.query('select realtime.topic() as topic');
		});
		expect(result.rows[0].topic).toBe('conversation:1');
	});

	test('applying the platform layer again changes nothing', async () => {
		expect(await applyPlatform(database.url)).toEqual([]);
	});
});
