/** REST conformance, RPC: argument binding, overloads, result shapes, GET rules, errors. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFixture, type Fixture } from './fixtures.ts';

let f: Fixture;
beforeAll(async () => {
	f = await startFixture();
});
afterAll(async () => {
	await f?.stack.stop();
});

describe('rpc', () => {
	test('named args, defaults and overloads chosen by argument names', async () => {
		expect((await f.anon.rpc('add', { a: 1, b: 2 })).data).toBe(3);
		expect((await f.anon.rpc('add', { a: 1 })).data).toBe(11);
		expect((await f.anon.rpc('add', { a: 1, b: 2, c: 3 })).data).toBe(6);
	});

	test('jsonb argument, single unnamed json parameter, params=single-object', async () => {
		const payload = { x: [1, { y: 'z' }], n: null };
		expect((await f.anon.rpc('echo', { payload })).data).toEqual(payload);
		expect((await f.anon.rpc('whole', { any: 'thing', k: [1] })).data).toEqual({ any: 'thing', k: [1] });
		const res = await f.rest('/rpc/echo', {
			method: 'POST',
			headers: { 'content-type': 'application/json', prefer: 'params=single-object' },
			body: JSON.stringify({ free: 'form' })
		});
		expect(await res.json()).toEqual({ free: 'form' });
	});

	test('setof composite is an array that can be filtered, ordered, limited and shaped', async () => {
		const { data, count } = await f.anon
			.rpc('posts_by', { author: 1 }, { count: 'exact' })
			.select('id, title, author:authors!posts_author_id_fkey(name)')
			.gte('id', 1)
			.order('id', { ascending: false })
			.limit(1);
		expect(data).toEqual([{ id: 2, title: 'Bernoulli numbers', author: { name: 'Ada' } }]);
		expect(count).toBe(2);
	});

	test('single composite is an object; scalars and setof scalars; OUT params and returns table', async () => {
		const one = await f.anon.rpc('first_post').select('id, title');
		expect(one.data).toEqual({ id: 1, title: 'Analytical engines' });
		expect((await f.anon.rpc('numbers', { n: 3 })).data).toEqual([1, 2, 3]);
		expect((await f.anon.rpc('out_params', { x: 4 })).data).toEqual({ doubled: 8, label: 'n4' });
		const table = await f.anon.rpc('table_fn', { n: 4 }).gt('sq', 3).order('i', { ascending: false });
		expect(table.data).toEqual([
			{ i: 4, sq: 16 },
			{ i: 3, sq: 9 },
			{ i: 2, sq: 4 }
		]);
	});

	test('void function is 204', async () => {
		const res = await f.anon.rpc('nothing');
		expect(res.error).toBeNull();
		expect(res.status).toBe(204);
	});

	test('GET for stable/immutable functions; volatile through GET is 405', async () => {
		const get = await f.anon.rpc('add', { a: 5, b: 5 }, { get: true });
		expect(get.data).toBe(10);
		const setof = await f.anon.rpc('posts_by', { author: 2 }, { get: true }).select('id');
		expect(setof.data).toEqual([{ id: 3 }]);
		const volatile = await f.service.rpc('bump', { post: 1 }, { get: true });
		expect(volatile.status).toBe(405);
		expect(volatile.error?.code).toBe('25006');
		const post = await f.service.rpc('bump', { post: 1 });
		expect(post.data).toBe(101);
	});

	test('unknown function is 404 PGRST202 with a hint; wrong argument names too', async () => {
		const missing = await f.anon.rpc('ad', { a: 1 });
		expect(missing.status).toBe(404);
		expect(missing.error?.code).toBe('PGRST202');
		expect(missing.error?.hint).toContain('public.add');
		const wrongArgs = await f.anon.rpc('add', { x: 1 });
		expect(wrongArgs.status).toBe(404);
		expect(wrongArgs.error?.code).toBe('PGRST202');
		const put = await f.rest('/rpc/add', { method: 'PATCH' });
		expect(put.status).toBe(405);
	});

	test('raise with PTxyz errcode maps to that status with details and hint', async () => {
		const res = await f.anon.rpc('fail', { code: 'PT403', msg: 'not allowed here' });
		expect(res.status).toBe(403);
		expect(res.error).toEqual({
			code: 'PT403',
			message: 'not allowed here',
			details: 'the_detail',
			hint: 'the hint'
		});
		expect((await f.anon.rpc('fail', { code: 'PT409', msg: 'conflict' })).status).toBe(409);
		expect((await f.anon.rpc('fail', { code: 'P0001', msg: 'raised' })).status).toBe(400);
		expect((await f.anon.rpc('fail', { code: '42501', msg: 'denied' })).status).toBe(401);
		expect((await f.alice.rpc('fail', { code: '42501', msg: 'denied' })).status).toBe(403);
		expect((await f.anon.rpc('fail', { code: '22023', msg: 'bad value' })).status).toBe(400);
	});

	test('requests run as the JWT role with claims, method, path, headers and the role timeout', async () => {
		const { data } = await f.alice.rpc('whoami').setHeader('x-test', 'hello');
		expect(data).toMatchObject({
			uid: '11111111-1111-4111-8111-111111111111',
			role: 'authenticated',
			claims_role: 'authenticated',
			method: 'POST',
			path: '/rpc/whoami',
			agent: 'hello',
			timeout: '8s'
		});
		expect(data.search_path).toContain('public');
		const anon = await f.anon.rpc('whoami');
		expect(anon.data).toMatchObject({ uid: null, role: 'anon', timeout: '3s' });
		const service = await f.service.rpc('whoami');
		expect(service.data.role).toBe('service_role');
	});

	test('statement timeout of the role applies (57014 is 500)', async () => {
		// Per-database role setting: roles are cluster-wide and other test files share the cluster.
		const db = (await f.stack.db.query('select current_database() as d')).rows[0].d;
		await f.stack.db.query(`alter role anon in database "${db}" set statement_timeout = '200ms'`);
		try {
			await f.stack.db.query(`notify pgrst, 'reload schema'`);
			let res = await f.anon.rpc('slow', { seconds: 2 });
			// The reload is asynchronous; retry once if it had not landed yet.
			if (res.status !== 500) res = await f.anon.rpc('slow', { seconds: 2 });
			expect(res.status).toBe(500);
			expect(res.error?.code).toBe('57014');
			expect((await f.alice.rpc('slow', { seconds: 0.3 })).data).toBe(1);
		} finally {
			await f.stack.db.query(`alter role anon in database "${db}" reset statement_timeout`);
			await f.stack.db.query(`notify pgrst, 'reload schema'`);
		}
	});

	test('functions created after startup are found', async () => {
		await f.stack.db.query(`create function public.fresh() returns text language sql as $$ select 'new' $$`);
		expect((await f.anon.rpc('fresh')).data).toBe('new');
	});
});
