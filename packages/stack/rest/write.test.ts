/** REST conformance, writes: insert, upsert, update, delete and the Prefer variants. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFixture, type Fixture } from './fixtures.ts';

let f: Fixture;
beforeAll(async () => {
	f = await startFixture();
});
afterAll(async () => {
	await f?.stack.stop();
});

const scalar = async (sql: string) => Number((await f.stack.db.query(sql)).rows[0].n);

describe('insert', () => {
	test('object with return=minimal is 201 without a body', async () => {
		const res = await f.service.from('authors').insert({ name: 'Minimal' });
		expect(res.status).toBe(201);
		expect(res.data).toBeNull();
		expect(res.error).toBeNull();
		expect(await scalar(`select count(*) n from authors where name = 'Minimal'`)).toBe(1);
	});

	test('array with representation, select and defaults', async () => {
		const { data, status, error } = await f.service
			.from('posts')
			.insert([
				{ title: 'One', author_id: 1 },
				{ title: 'Two', published: true }
			])
			.select('title, published, views, author:authors!posts_author_id_fkey(name)');
		expect(error).toBeNull();
		expect(status).toBe(201);
		// Without missing=default, a key absent from one row of an array is null, not its default.
		expect(data).toEqual([
			{ title: 'One', published: null, views: 0, author: { name: 'Ada' } },
			{ title: 'Two', published: true, views: 0, author: null }
		]);
	});

	test('Prefer: missing=default fills absent keys with column defaults', async () => {
		const { data, error } = await f.service
			.from('posts')
			.insert(
				[
					{ title: 'D1', views: 7 },
					{ title: 'D2', tags: ['y'] }
				],
				{ defaultToNull: false }
			)
			.select('title, tags, views');
		expect(error).toBeNull();
		expect(data).toEqual([
			{ title: 'D1', tags: [], views: 7 },
			{ title: 'D2', tags: ['y'], views: 0 }
		]);
	});

	test('single object with .single(), jsonb and array values', async () => {
		const { data } = await f.service
			.from('posts')
			.insert({ title: 'Meta', meta: { a: [1, 2], b: null }, tags: ['p', 'q'] })
			.select('title, meta, tags')
			.single();
		expect(data).toEqual({ title: 'Meta', meta: { a: [1, 2], b: null }, tags: ['p', 'q'] });
	});

	test('headers-only gives a Location', async () => {
		const res = await f.rest('/authors', {
			method: 'POST',
			token: f.stack.serviceRoleKey,
			headers: { 'content-type': 'application/json', prefer: 'return=headers-only' },
			body: JSON.stringify({ id: 50, name: 'Located' })
		});
		expect(res.status).toBe(201);
		expect(res.headers.get('location')).toBe('/authors?id=eq.50');
	});

	test('unknown payload column is PGRST204; constraint violations map to 409/400', async () => {
		const bad = await f.service.from('authors').insert({ name: 'x', nope: 1 });
		expect(bad.status).toBe(400);
		expect(bad.error?.code).toBe('PGRST204');
		const dup = await f.service.from('authors').insert({ id: 1, name: 'dup' });
		expect(dup.status).toBe(409);
		expect(dup.error?.code).toBe('23505');
		const fk = await f.service.from('comments').insert({ post_id: 999, body: 'x' });
		expect(fk.status).toBe(409);
		expect(fk.error?.code).toBe('23503');
		const notNull = await f.service.from('authors').insert({ name: null });
		expect(notNull.status).toBe(400);
		expect(notNull.error?.code).toBe('23502');
		const check = await f.service.from('comments').insert({ post_id: 1, body: 'x'.repeat(60) });
		expect(check.status).toBe(400);
		expect(check.error?.code).toBe('23514');
		const badType = await f.service.from('posts').insert({ title: 't', views: 'many' });
		expect(badType.status).toBe(400);
		expect(badType.error?.code).toBe('22P02');
		const mixed = await f.rest('/authors', {
			method: 'POST',
			token: f.stack.serviceRoleKey,
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify([{ name: 'a' }, { name: 'b', born: null }])
		});
		expect(mixed.status).toBe(400);
		expect((await mixed.json()).code).toBe('PGRST102');
	});
});

describe('upsert', () => {
	test('merge-duplicates updates, ignore-duplicates keeps', async () => {
		const merged = await f.service
			.from('labels')
			.upsert([
				{ id: 1, name: 'crimson' },
				{ id: 3, name: 'green' }
			])
			.select()
			.order('id');
		expect(merged.error).toBeNull();
		expect(merged.data).toEqual([
			{ id: 1, name: 'crimson' },
			{ id: 3, name: 'green' }
		]);
		const ignored = await f.service
			.from('labels')
			.upsert({ id: 1, name: 'ignored' }, { ignoreDuplicates: true })
			.select();
		expect(ignored.data).toEqual([]);
		const byName = await f.service
			.from('labels')
			.upsert({ id: 9, name: 'green' }, { onConflict: 'name', ignoreDuplicates: false })
			.select();
		expect(byName.data).toEqual([{ id: 9, name: 'green' }]);
		expect((await f.stack.db.query('select id, name from labels order by id')).rows).toEqual([
			{ id: 1, name: 'crimson' },
			{ id: 2, name: 'blue' },
			{ id: 9, name: 'green' }
		]);
	});
});

describe('update and delete', () => {
	test('PATCH with filters, representation and count', async () => {
		const { data, count, status } = await f.service
			.from('posts')
			.update({ published: false, body: 'patched' }, { count: 'exact' })
			.eq('author_id', 1)
			.lt('id', 10)
			.select('id, published, body')
			.order('id');
		expect(status).toBe(200);
		expect(count).toBe(2);
		expect(data).toEqual([
			{ id: 1, published: false, body: 'patched' },
			{ id: 2, published: false, body: 'patched' }
		]);
		const minimal = await f.service.from('posts').update({ views: 1 }).eq('id', 3);
		expect(minimal.status).toBe(204);
		expect(await scalar(`select views n from posts where id = 3`)).toBe(1);
	});

	test('PATCH with .single() affecting two rows is 406 and rolled back', async () => {
		const res = await f.service.from('posts').update({ views: 999 }).eq('author_id', 1).select().single();
		expect(res.status).toBe(406);
		expect(res.error?.code).toBe('PGRST116');
		expect(await scalar(`select count(*) n from posts where views = 999`)).toBe(0);
	});

	test('PATCH and DELETE with order and limit touch only the first rows', async () => {
		const res = await f.rest('/comments?order=id.desc&limit=1', {
			method: 'DELETE',
			token: f.stack.serviceRoleKey,
			headers: { prefer: 'return=representation' }
		});
		expect(res.status).toBe(200);
		expect((await res.json()).map((r: { body: string }) => r.body)).toEqual(['ok']);
	});

	test('DELETE with filters and Prefer: tx=rollback', async () => {
		const before = await scalar('select count(*) n from post_labels');
		const res = await f.rest('/post_labels?post_id=eq.1', {
			method: 'DELETE',
			token: f.stack.serviceRoleKey,
			headers: { prefer: 'return=representation, tx=rollback' }
		});
		expect(res.status).toBe(200);
		expect(await res.json()).toHaveLength(2);
		expect(res.headers.get('preference-applied')).toContain('tx=rollback');
		expect(await scalar('select count(*) n from post_labels')).toBe(before);
		const del = await f.service.from('post_labels').delete().eq('post_id', 2);
		expect(del.status).toBe(204);
		expect(await scalar('select count(*) n from post_labels')).toBe(before - 1);
	});

	test('max-affected with handling=strict refuses and rolls back', async () => {
		const res = await f.rest('/posts?id=lt.100', {
			method: 'PATCH',
			token: f.stack.serviceRoleKey,
			headers: { 'content-type': 'application/json', prefer: 'handling=strict, max-affected=1' },
			body: JSON.stringify({ views: 12345 })
		});
		expect(res.status).toBe(400);
		expect((await res.json()).code).toBe('PGRST124');
		expect(await scalar(`select count(*) n from posts where views = 12345`)).toBe(0);
		const strict = await f.rest('/posts', {
			token: f.stack.serviceRoleKey,
			headers: { prefer: 'handling=strict, bogus=1' }
		});
		expect(strict.status).toBe(400);
		expect((await strict.json()).code).toBe('PGRST122');
	});
});
