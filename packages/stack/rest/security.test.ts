/** REST conformance, security: RLS per role, JWT checks, privileges, hostile input, limits. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ALICE, BOB, startFixture, type Fixture } from './fixtures.ts';

let f: Fixture;
beforeAll(async () => {
	f = await startFixture();
});
afterAll(async () => {
	await f?.stack.stop();
});

const bodies = (rows: { body: string }[] | null) => (rows ?? []).map((r) => r.body).sort();

describe('row-level security', () => {
	test('anon sees nothing, a user sees own rows, service_role sees all', async () => {
		expect((await f.anon.from('notes').select('body')).data).toEqual([]);
		expect(bodies((await f.alice.from('notes').select('body')).data)).toEqual(['alice 1', 'alice 2']);
		expect(bodies((await f.bob.from('notes').select('body')).data)).toEqual(['bob 1']);
		expect((await f.service.from('notes').select('body')).data).toHaveLength(3);
		const { count } = await f.alice.from('notes').select('*', { count: 'exact', head: true });
		expect(count).toBe(2);
	});

	test('inserts default owner_id from auth.uid(); inserting for someone else is refused', async () => {
		const mine = await f.bob.from('notes').insert({ body: 'bob 2' }).select('owner_id, body').single();
		expect(mine.data).toEqual({ owner_id: BOB, body: 'bob 2' });
		const forged = await f.bob.from('notes').insert({ owner_id: ALICE, body: 'forged' });
		expect(forged.status).toBe(403);
		expect(forged.error?.code).toBe('42501');
		const anon = await f.anon.from('notes').insert({ owner_id: ALICE, body: 'anon' });
		expect(anon.status).toBe(401);
	});

	test('updates and deletes only reach own rows', async () => {
		const upd = await f.bob.from('notes').update({ body: 'hacked' }).eq('owner_id', ALICE).select();
		expect(upd.data).toEqual([]);
		const del = await f.bob.from('notes').delete().eq('body', 'alice 1').select();
		expect(del.data).toEqual([]);
		expect(
			(await f.stack.db.query(`select count(*)::int n from notes where owner_id = $1`, [ALICE])).rows[0].n
		).toBe(2);
	});

	test('insert-only policy works with return=minimal and refuses representation', async () => {
		const minimal = await f.alice.from('drop_box').insert({ body: 'letter' });
		expect(minimal.status).toBe(201);
		const represent = await f.alice.from('drop_box').insert({ body: 'peek' }).select();
		expect(represent.error?.code).toBe('42501');
		expect((await f.stack.db.query(`select body from drop_box`)).rows).toEqual([{ body: 'letter' }]);
	});

	test('tables without grants are 401 for anon and 403 for users', async () => {
		expect((await f.anon.from('secrets').select()).status).toBe(401);
		const user = await f.alice.from('secrets').select();
		expect(user.status).toBe(403);
		expect(user.error?.code).toBe('42501');
	});
});

describe('JWT', () => {
	test('expired token is 401 PGRST303', async () => {
		const t = await f.token({ sub: ALICE, role: 'authenticated', exp: Math.floor(Date.now() / 1000) - 10 });
		const r = await f.withToken(t).from('notes').select();
		expect(r.status).toBe(401);
		expect(r.error?.code).toBe('PGRST303');
		expect(r.error?.message).toBe('JWT expired');
	});

	test('wrong secret, alg none and edited claims are 401 PGRST301', async () => {
		const wrong = await f.token(
			{ sub: ALICE, role: 'service_role' },
			'another-secret-another-secret-another'
		);
		const none =
			Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url') +
			'.' +
			Buffer.from(JSON.stringify({ role: 'service_role', exp: 9999999999 })).toString('base64url') +
			'.';
		const good = await f.token({ sub: ALICE, role: 'authenticated' });
		const [h, , s] = good.split('.');
		const edited = `${h}.${Buffer.from(JSON.stringify({ sub: ALICE, role: 'service_role', exp: 9999999999 })).toString('base64url')}.${s}`;
		for (const t of [wrong, none, edited]) {
			const r = await f.withToken(t).from('notes').select();
			expect(r.status).toBe(401);
			expect(r.error?.code).toBe('PGRST301');
		}
	});

	test('a role claim naming no role is 401; a role authenticator was not granted is refused', async () => {
		const r = await f
			.withToken(await f.token({ role: 'no_such_role' }))
			.from('notes')
			.select();
		expect(r.status).toBe(401);
		expect(r.error?.code).toBe('22023');
		const su = await f
			.withToken(await f.token({ role: 'postgres' }))
			.from('secrets')
			.select();
		expect(su.status).toBe(403);
		expect(su.error?.code).toBe('42501');
		expect(su.data).toBeNull();
	});
});

describe('hostile input', () => {
	const svc = () => f.stack.serviceRoleKey;

	test('SQL in identifiers is rejected, never executed', async () => {
		for (const q of [
			'select=id;drop table posts',
			'select=id,"title;drop table posts"',
			'order=id;--',
			'order=id.desc;drop table posts',
			'id);drop table posts;--=eq.1',
			'select=id::text);drop table posts;--'
		]) {
			const res = await f.rest(`/posts?${q.replaceAll(' ', '%20')}`, { token: svc() });
			expect(res.status, q).toBeGreaterThanOrEqual(400);
			expect(res.status, q).toBeLessThan(500);
		}
		expect((await f.stack.db.query('select count(*)::int n from posts')).rows[0].n).toBe(4);
	});

	test('SQL in filter values is data', async () => {
		const { data, error } = await f.service.from('posts').select('id').eq('title', "x' or '1'='1");
		expect(error).toBeNull();
		expect(data).toEqual([]);
		const inList = await f.service.from('posts').select('id').in('title', ["a')) or true; --"]);
		expect(inList.data).toEqual([]);
		const like = await f.service.from('posts').select('id').like('title', "%'; drop table posts; --");
		expect(like.data).toEqual([]);
	});

	test('malformed JSON, wrong shapes and a huge body', async () => {
		const post = (body: string, path = '/authors') =>
			f.rest(path, { method: 'POST', token: svc(), headers: { 'content-type': 'application/json' }, body });
		for (const body of ['{"name":', '[1,2]', '"text"', 'null']) {
			const res = await post(body);
			expect(res.status, body).toBe(400);
			expect((await res.json()).code, body).toBe('PGRST102');
		}
		const rpc = await post('not json', '/rpc/add');
		expect(rpc.status).toBe(400);
		const huge = await post(JSON.stringify({ name: 'x'.repeat(5 * 1024 * 1024) }));
		expect(huge.status).toBe(413);
	});

	test('unknown paths and methods', async () => {
		expect((await f.rest('/posts/1', { token: svc() })).status).toBe(404);
		expect((await f.rest('/posts', { method: 'PUT', token: svc() })).status).toBe(400);
	});
});

describe('schema cache', () => {
	test('a table created after startup is served at once, and a dropped one disappears', async () => {
		await f.stack.db.query(
			`create table public.late (id int primary key, v text); insert into public.late values (1, 'v')`
		);
		expect((await f.service.from('late').select()).data).toEqual([{ id: 1, v: 'v' }]);
		await f.stack.db.query(`alter table public.late add column w int default 7`);
		expect((await f.service.from('late').select('id, w')).data).toEqual([{ id: 1, w: 7 }]);
		await f.stack.db.query(`drop table public.late`);
		const gone = await f.service.from('late').select();
		expect(gone.status).toBe(404);
	});
});
