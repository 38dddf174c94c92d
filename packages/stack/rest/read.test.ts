/** REST conformance, reads: select shapes, every filter operator, order, ranges, counts, media types. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { PostgrestFilterBuilder } from '@supabase/postgrest-js';
import { startFixture, type Fixture } from './fixtures.ts';

let f: Fixture;
beforeAll(async () => {
	f = await startFixture();
});
afterAll(async () => {
	await f?.stack.stop();
});

const ids = (rows: { id: number }[] | null) => (rows ?? []).map((r) => Number(r.id));

describe('select', () => {
	test('star, columns, aliases, casts and JSON paths', async () => {
		const { data, error, status } = await f.service
			.from('posts')
			.select('id, heading:title, views::text, lang:meta->>lang, stars:meta->stars, meta->nested->a')
			.eq('id', 1);
		expect(error).toBeNull();
		expect(status).toBe(200);
		expect(data).toEqual([
			{ id: 1, heading: 'Analytical engines', views: '100', lang: 'en', stars: 5, a: 1 }
		]);
		const all = await f.service.from('authors').select().order('id');
		expect(all.data).toEqual([
			{ id: 1, name: 'Ada', born: '1815-12-10' },
			{ id: 2, name: 'Grace', born: '1906-12-09' },
			{ id: 3, name: 'Linus', born: null }
		]);
	});

	test('unknown columns and tables are errors, not ignored', async () => {
		const col = await f.service.from('posts').select('id, nope');
		expect(col.status).toBe(400);
		expect(col.error?.code).toBe('42703');
		const filter = await f.service.from('posts').select('id').eq('nope', 1);
		expect(filter.error?.code).toBe('42703');
		const table = await f.service.from('postz').select();
		expect(table.status).toBe(404);
		expect(table.error?.code).toBe('PGRST205');
		expect(table.error?.hint).toContain('public.posts');
	});
});

describe('filters', () => {
	// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any table's builder
	type Q = PostgrestFilterBuilder<any, any, any, any, any, any, any>;
	const cases: [string, (q: Q) => Q, number[]][] = [
		['eq', (q) => q.eq('title', 'Compilers'), [3]],
		['neq', (q) => q.neq('author_id', 1), [3]],
		['gt', (q) => q.gt('views', 50), [1, 3]],
		['gte', (q) => q.gte('views', 50), [1, 2, 3]],
		['lt', (q) => q.lt('views', 50), [4]],
		['lte', (q) => q.lte('views', 50), [2, 4]],
		['like', (q) => q.like('title', '%engines'), [1]],
		['like with *', (q) => q.filter('title', 'like', '*ompiler*'), [3]],
		['ilike', (q) => q.ilike('title', 'b%'), [2]],
		['likeAnyOf', (q) => q.likeAnyOf('title', ['A%', 'C%']), [1, 3]],
		['ilikeAllOf', (q) => q.ilikeAllOf('title', ['%n%', '%e%']), [1, 2]],
		['match', (q) => q.match({ author_id: 1, published: true }), [1, 2]],
		['regex match', (q) => q.filter('title', 'match', '^[AB]'), [1, 2]],
		['imatch', (q) => q.filter('title', 'imatch', '^c'), [3]],
		['is null', (q) => q.is('author_id', null), [4]],
		['is true', (q) => q.is('published', true), [1, 2]],
		['not is null', (q) => q.not('body', 'is', null), [1, 2, 4]],
		['isdistinct', (q) => q.filter('published', 'isdistinct', 'true'), [3, 4]],
		['in', (q) => q.in('id', [1, 3, 99]), [1, 3]],
		['in with quoted commas', (q) => q.in('title', ['Orphan, with comma', 'Compilers']), [3, 4]],
		['not in', (q) => q.not('id', 'in', '(1,2)'), [3, 4]],
		['cs array', (q) => q.contains('tags', ['math']), [1, 2]],
		['cd array', (q) => q.containedBy('tags', ['math', 'history', 'cs']), [1, 2, 3, 4]],
		['cs jsonb', (q) => q.contains('meta', { lang: 'fr' }), [3]],
		['ov', (q) => q.overlaps('tags', ['cs', 'history']), [1, 3]],
		['sl', (q) => q.rangeLt('during', '[25,26)'), [1, 2]],
		['sr', (q) => q.rangeGt('during', '[0,4)'), [2, 3]],
		['nxl', (q) => q.rangeGte('during', '[3,4)'), [2, 3]],
		['nxr', (q) => q.rangeLte('during', '[0,15)'), [1]],
		['adj', (q) => q.rangeAdjacent('during', '[40,50)'), [3]],
		['fts on tsvector', (q) => q.textSearch('tsv', 'engine'), [1]],
		[
			'plfts with config',
			(q) => q.textSearch('tsv', 'first program', { type: 'plain', config: 'english' }),
			[2]
		],
		['phfts', (q) => q.textSearch('tsv', 'bernoulli numbers', { type: 'phrase' }), [2]],
		['wfts on text', (q) => q.textSearch('title', 'compilers or engines', { type: 'websearch' }), [1, 3]],
		['json path filter', (q) => q.eq('meta->>lang', 'fr'), [3]],
		['json path number', (q) => q.gt('meta->stars', 3), [1, 3]],
		['or', (q) => q.or('id.eq.1,views.lt.10'), [1, 4]],
		['nested and in or', (q) => q.or('id.eq.3,and(author_id.eq.1,views.gt.60)'), [1, 3]],
		['eq(any)', (q) => q.filter('id', 'eq(any)', '{2,4}'), [2, 4]]
	];
	for (const [name, apply, expected] of cases) {
		test(name, async () => {
			const { data, error } = await apply(f.service.from('posts').select('id')).order('id');
			expect(error).toBeNull();
			expect(ids(data)).toEqual(expected);
		});
	}

	test('not.or and not.and through raw parameters', async () => {
		const res = await f.rest('/posts?select=id&not.or=(id.eq.1,id.eq.2)&order=id', { token: await svc() });
		expect(ids(await res.json())).toEqual([3, 4]);
		const res2 = await f.rest('/posts?select=id&and=(id.gt.1,not.and(id.gt.2,id.lt.4))&order=id', {
			token: await svc()
		});
		expect(ids(await res2.json())).toEqual([2, 4]);
	});

	test('malformed filters are PGRST100', async () => {
		for (const q of ['id=eqx.1', 'id=1', 'or=(id.eq.1', 'id=in.1,2', 'id=is.maybe', 'id=eq(some).{1}']) {
			const res = await f.rest(`/posts?${q}`, { token: await svc() });
			expect(res.status, q).toBe(400);
			expect((await res.json()).code, q).toBe('PGRST100');
		}
	});
});

async function svc(): Promise<string> {
	return f.stack.serviceRoleKey;
}

describe('order, limit, range, count', () => {
	test('order with nulls and multiple columns', async () => {
		const { data } = await f.service
			.from('posts')
			.select('id')
			.order('author_id', { ascending: false, nullsFirst: true })
			.order('id', { ascending: false });
		expect(ids(data)).toEqual([4, 3, 2, 1]);
		const asc = await f.service
			.from('posts')
			.select('id')
			.order('author_id', { nullsFirst: false })
			.order('id');
		expect(ids(asc.data)).toEqual([1, 2, 3, 4]);
	});

	test('limit, range and Content-Range with exact count (206 on a partial page)', async () => {
		const { data, count, status } = await f.service
			.from('posts')
			.select('id', { count: 'exact' })
			.order('id')
			.range(1, 2);
		expect(ids(data)).toEqual([2, 3]);
		expect(count).toBe(4);
		expect(status).toBe(206);
		const res = await f.rest('/posts?select=id&order=id&limit=2', { token: await svc() });
		expect(res.headers.get('content-range')).toBe('0-1/*');
		const head = await f.service.from('posts').select('*', { count: 'exact', head: true });
		expect(head.count).toBe(4);
		expect(head.data).toBeNull();
	});

	test('Range header', async () => {
		const res = await f.rest('/posts?select=id&order=id', {
			token: await svc(),
			headers: { range: '2-3', 'range-unit': 'items', prefer: 'count=exact' }
		});
		expect(res.status).toBe(206);
		expect(res.headers.get('content-range')).toBe('2-3/4');
		expect(ids(await res.json())).toEqual([3, 4]);
		const bad = await f.rest('/posts', { token: await svc(), headers: { range: '5-1' } });
		expect(bad.status).toBe(416);
		const past = await f.rest('/posts?offset=10', { token: await svc(), headers: { prefer: 'count=exact' } });
		expect(past.status).toBe(416);
		expect((await past.json()).code).toBe('PGRST103');
	});

	test('planned and estimated counts give a number', async () => {
		await f.stack.db.query('analyze public.posts');
		for (const count of ['planned', 'estimated'] as const) {
			const r = await f.service.from('posts').select('id', { count });
			expect(r.error).toBeNull();
			expect(typeof r.count).toBe('number');
		}
	});
});

describe('media types', () => {
	test('single and maybeSingle', async () => {
		const one = await f.service.from('posts').select('id,title').eq('id', 2).single();
		expect(one.data).toEqual({ id: 2, title: 'Bernoulli numbers' });
		const many = await f.service.from('posts').select('id').single();
		expect(many.status).toBe(406);
		expect(many.error?.code).toBe('PGRST116');
		const none = await f.service.from('posts').select('id').eq('id', 99).single();
		expect(none.error?.code).toBe('PGRST116');
		const maybe = await f.service.from('posts').select('id').eq('id', 99).maybeSingle();
		expect(maybe.error).toBeNull();
		expect(maybe.data).toBeNull();
	});

	test('csv', async () => {
		const { data } = await f.service.from('posts').select('id,title,tags').in('id', [1, 4]).order('id').csv();
		expect(data).toBe(
			'id,title,tags\n1,Analytical engines,"[""math"",""history""]"\n4,"Orphan, with comma",[]'
		);
	});

	test('nulls stripped', async () => {
		const { data } = await f.service.from('authors').select('id,born').eq('id', 3).stripNulls();
		expect(data).toEqual([{ id: 3 }]);
	});

	test('unknown schema is 406 PGRST106; unsupported Accept is 406', async () => {
		const r = await f.service.schema('nope').from('posts').select();
		expect(r.status).toBe(406);
		expect(r.error?.code).toBe('PGRST106');
		const empty = await f.service.schema('graphql_public').from('posts').select();
		expect(empty.error?.code).toBe('PGRST205');
		const res = await f.rest('/posts', { headers: { accept: 'application/xml' } });
		expect(res.status).toBe(406);
	});
});
