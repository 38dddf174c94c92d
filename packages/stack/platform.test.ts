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

	test('API roles inherit, authenticator only switches to them, and postgres can grant them', async () => {
		const roles = await pool.query(
			`select rolname, rolinherit from pg_roles where rolname in ('anon','authenticated','service_role','authenticator') order by rolname`
		);
		expect(roles.rows).toEqual([
			{ rolname: 'anon', rolinherit: true },
			{ rolname: 'authenticated', rolinherit: true },
			{ rolname: 'authenticator', rolinherit: false },
			{ rolname: 'service_role', rolinherit: true }
		]);
		const members = await pool.query(
			`select r.rolname as role, m.rolname as member, a.admin_option from pg_auth_members a
			 join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member
			 where r.rolname in ('anon','authenticated','service_role') and m.rolname in ('authenticator','postgres')
			 order by 1, 2`
		);
		expect(members.rows).toEqual([
			{ role: 'anon', member: 'authenticator', admin_option: false },
			{ role: 'anon', member: 'postgres', admin_option: true },
			{ role: 'authenticated', member: 'authenticator', admin_option: false },
			{ role: 'authenticated', member: 'postgres', admin_option: true },
			{ role: 'service_role', member: 'authenticator', admin_option: false },
			{ role: 'service_role', member: 'postgres', admin_option: true }
		]);
		const settings = await pool.query(
			`select r.rolname, s.setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
			 where s.setdatabase = 0 and r.rolname in ('anon','authenticated','authenticator','supabase_auth_admin') order by 1`
		);
		const byRole = Object.fromEntries(settings.rows.map((r) => [r.rolname, r.setconfig]));
		expect(byRole.anon).toContain('statement_timeout=3s');
		expect(byRole.authenticated).toContain('statement_timeout=8s');
		expect(byRole.authenticator).toEqual(expect.arrayContaining(['statement_timeout=8s', 'lock_timeout=8s']));
		expect(byRole.supabase_auth_admin).toContain('search_path=auth');
		const auth = await pool.query(
			`select rolcreaterole, rolinherit from pg_roles where rolname = 'supabase_auth_admin'`
		);
		expect(auth.rows[0]).toEqual({ rolcreaterole: false, rolinherit: false });
	});

	test('tables, functions and sequences that supabase_admin creates in public get the API grants', async () => {
		const client = await pool.connect();
		try {
			await client.query('begin');
			await client.query('set local role supabase_admin');
			await client.query(`create table public.admin_made (id bigint generated always as identity primary key);
				create sequence public.admin_seq;
				create function public.admin_fn() returns int language sql as 'select 1';`);
			await client.query('reset role');
			const { rows } = await client.query(
				`select r as role,
					has_table_privilege(r, 'public.admin_made', 'select,insert,update,delete') as tbl,
					has_sequence_privilege(r, 'public.admin_seq', 'usage') as seq,
					has_function_privilege(r, 'public.admin_fn()', 'execute') as fn
				 from unnest(array['anon','authenticated','service_role']) as r order by r`
			);
			expect(rows).toEqual([
				{ role: 'anon', tbl: true, seq: true, fn: true },
				{ role: 'authenticated', tbl: true, seq: true, fn: true },
				{ role: 'service_role', tbl: true, seq: true, fn: true }
			]);
		} finally {
			await client.query('rollback');
			client.release();
		}
	});

	test('auth helpers read the legacy per-claim settings first, and return null without claims', async () => {
		const sub = '3b0e8c9e-7f43-4a3e-9d1e-2a6c7f1d5e44';
		const legacy = await asRole('authenticated', null, async (c) => {
			await c.query(
				`select set_config('request.jwt.claim.sub', $1, true), set_config('request.jwt.claim.role', 'authenticated', true)`,
				[sub]
			);
			await c.query(
				`select set_config('request.jwt.claims', '{"sub":"00000000-0000-0000-0000-000000000000"}', true)`
			);
			return c.query('select auth.uid() as uid, auth.role() as role');
		});
		expect(legacy.rows[0]).toEqual({ uid: sub, role: 'authenticated' });
		const empty = await asRole('anon', null, async (c) => {
			await c.query(`select set_config('request.jwt.claims', '', true)`);
			return c.query('select auth.jwt() as jwt, auth.uid() as uid, auth.email() as email');
		});
		expect(empty.rows[0]).toEqual({ jwt: null, uid: null, email: null });
	});

	test('auth tables have row-level security and are closed to the API roles', async () => {
		const { rows } = await pool.query(
			`select relname from pg_class where relnamespace = 'auth'::regnamespace and relkind = 'r' and not relrowsecurity`
		);
		expect(rows).toEqual([]);
		for (const role of ['anon', 'authenticated', 'service_role']) {
			await expect(asRole(role, { role }, (c) => c.query('select id from auth.users'))).rejects.toMatchObject(
				{
					code: '42501'
				}
			);
		}
		const owners = await pool.query(
			`select proname, pg_get_userbyid(proowner) as owner from pg_proc where pronamespace = 'auth'::regnamespace
			 and proname in ('uid','role','email','jwt') order by 1`
		);
		expect(new Set(owners.rows.map((r) => r.owner))).toEqual(new Set(['supabase_auth_admin']));
	});

	test('auth.users leaves token columns null and keeps non-empty tokens unique, as GoTrue does', async () => {
		const client = await pool.connect();
		try {
			await client.query('begin');
			const { rows } = await client.query(
				`insert into auth.users (id, email) values (gen_random_uuid(), 'tokens@example.com')
				 returning confirmation_token, recovery_token, email_change_token_new, email_change`
			);
			expect(rows[0]).toEqual({
				confirmation_token: null,
				recovery_token: null,
				email_change_token_new: null,
				email_change: null
			});
			await client.query(
				`insert into auth.users (id, confirmation_token) values (gen_random_uuid(), ''), (gen_random_uuid(), '')`
			);
			await expect(
				client.query(
					`insert into auth.users (id, confirmation_token) values (gen_random_uuid(), 'abc'), (gen_random_uuid(), 'abc')`
				)
			).rejects.toMatchObject({ code: '23505' });
		} finally {
			await client.query('rollback');
			client.release();
		}
	});

	test('realtime.messages: the API roles may select, insert and update, never delete', async () => {
		const { rows } = await pool.query(
			`select r as role, has_table_privilege(r, 'realtime.messages', 'select,insert,update') as rw,
				has_table_privilege(r, 'realtime.messages', 'delete') as del,
				has_table_privilege(r, 'realtime.messages', 'truncate') as trunc
			 from unnest(array['anon','authenticated','service_role']) as r order by r`
		);
		expect(rows).toEqual([
			{ role: 'anon', rw: true, del: false, trunc: false },
			{ role: 'authenticated', rw: true, del: false, trunc: false },
			{ role: 'service_role', rw: true, del: false, trunc: false }
		]);
		const owner = await pool.query(
			`select pg_get_userbyid(relowner) as owner from pg_class where oid = 'realtime.messages'::regclass`
		);
		expect(owner.rows[0].owner).toBe('supabase_realtime_admin');
		await expect(
			asRole('service_role', { role: 'service_role' }, (c) => c.query('delete from realtime.messages'))
		).rejects.toMatchObject({ code: '42501' });
	});

	test('realtime.send sets realtime.topic for the transaction and turns failures into warnings', async () => {
		const warnings: string[] = [];
		const result = await asRole('authenticated', { role: 'authenticated' }, async (c) => {
			c.on('notice', (n) => warnings.push(n.message ?? ''));
			// No insert policy exists, so RLS refuses the row: a warning, not an error.
			await c.query(`select realtime.send('{"x":1}'::jsonb, 'evt', 'room:refused')`);
			const after = await c.query(
				'select realtime.topic() as topic, count(*)::int as n from realtime.messages'
			);
			c.removeAllListeners('notice');
			return after.rows[0];
		});
		expect(warnings.some((w) => w.startsWith('WarnSendingBroadcastMessage:'))).toBe(true);
		// The topic is set inside the failed block, so it is rolled back with it, as on Supabase.
		expect(result).toEqual({ topic: null, n: 0 });
		const client = await pool.connect();
		try {
			await client.query('begin');
			await client.query(`select realtime.send('{"x":2}'::jsonb, 'evt', 'room:private')`);
			const { rows } = await client.query(
				`select realtime.topic() as topic, (select private from realtime.messages where topic = 'room:private') as private`
			);
			expect(rows[0]).toEqual({ topic: 'room:private', private: true });
		} finally {
			await client.query('rollback');
			client.release();
		}
	});

	test('realtime.broadcast_changes passes records as they are and wraps its errors as Supabase does', async () => {
		const client = await pool.connect();
		try {
			await client.query('begin');
			await client.query(`create table public.nullable_rows (a int, b text);
				create function public.nullable_rows_broadcast() returns trigger language plpgsql as $$
				begin
				  perform realtime.broadcast_changes('nullable', tg_op, tg_op, tg_table_name, tg_table_schema, new, old, tg_level);
				  return null;
				end $$;
				create trigger nullable_rows_broadcast after insert on public.nullable_rows for each row execute function public.nullable_rows_broadcast();
				insert into public.nullable_rows values (null, null);`);
			const { rows } = await client.query(`select payload from realtime.messages where topic = 'nullable'`);
			expect(rows[0].payload).toEqual({
				operation: 'INSERT',
				table: 'nullable_rows',
				schema: 'public',
				record: { a: null, b: null },
				old_record: null
			});
			await client.query(`create trigger nullable_rows_statement after update on public.nullable_rows
				for each statement execute function public.nullable_rows_broadcast()`);
			await expect(client.query('update public.nullable_rows set a = 1')).rejects.toThrow(
				'Failed to process the row: function can only be triggered for each row, not for each statement'
			);
		} finally {
			await client.query('rollback');
			client.release();
		}
	});

	test('applying the platform layer again changes nothing', async () => {
		expect(await applyPlatform(database.url)).toEqual([]);
	});
});
