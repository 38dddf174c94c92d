/** REST conformance, resource embedding through foreign keys. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startFixture, type Fixture } from './fixtures.ts';

let f: Fixture;
beforeAll(async () => {
	f = await startFixture();
});
afterAll(async () => {
	await f?.stack.stop();
});

describe('embedding', () => {
	test('to-one as an object (hinted by foreign key name and by column), to-many as an array', async () => {
		const { data, error } = await f.service
			.from('posts')
			.select('id, author:authors!posts_author_id_fkey(name), editor:editor_id(name), comments(body)')
			.in('id', [1, 4])
			.order('id')
			.order('id', { referencedTable: 'comments' });
		expect(error).toBeNull();
		expect(data).toEqual([
			{
				id: 1,
				author: { name: 'Ada' },
				editor: { name: 'Grace' },
				comments: [{ body: 'great' }, { body: 'more' }]
			},
			{ id: 4, author: null, editor: null, comments: [] }
		]);
	});

	test('ambiguous embedding is 300 PGRST201 with the candidates', async () => {
		const { error, status } = await f.service.from('posts').select('id, authors(name)');
		expect(status).toBe(300);
		expect(error?.code).toBe('PGRST201');
		expect(error?.hint).toContain('authors!posts_author_id_fkey');
		expect(JSON.stringify(error?.details)).toContain('posts_editor_id_fkey');
	});

	test('unknown relationship is 400 PGRST200', async () => {
		const { error, status } = await f.service.from('authors').select('id, labels(*)');
		expect(status).toBe(400);
		expect(error?.code).toBe('PGRST200');
	});

	test('nested embeds, many-to-many through a junction, one-to-many from the referenced side', async () => {
		const { data } = await f.service
			.from('authors')
			.select('name, posts!posts_author_id_fkey(title, labels(name), comments(count:id))')
			.eq('id', 1)
			.order('id', { referencedTable: 'posts' })
			.order('name', { referencedTable: 'posts.labels' });
		expect(data).toEqual([
			{
				name: 'Ada',
				posts: [
					{
						title: 'Analytical engines',
						labels: [{ name: 'blue' }, { name: 'red' }],
						comments: expect.any(Array)
					},
					{ title: 'Bernoulli numbers', labels: [{ name: 'blue' }], comments: expect.any(Array) }
				]
			}
		]);
		expect(data?.[0].posts[0].comments).toHaveLength(2);
	});

	test('filters, limit and order on embedded resources; !inner filters the parents', async () => {
		const left = await f.service
			.from('posts')
			.select('id, comments(body)')
			.eq('comments.body', 'ok')
			.order('id');
		expect(left.data?.map((p) => p.comments.length)).toEqual([0, 1, 0, 0]);
		const inner = await f.service.from('posts').select('id, comments!inner(body)').eq('comments.body', 'ok');
		expect(inner.data).toEqual([{ id: 2, comments: [{ body: 'ok' }] }]);
		const limited = await f.service
			.from('posts')
			.select('id, comments(body)')
			.eq('id', 1)
			.order('body', { referencedTable: 'comments', ascending: false })
			.limit(1, { referencedTable: 'comments' });
		expect(limited.data).toEqual([{ id: 1, comments: [{ body: 'more' }] }]);
		const orDeep = await f.service
			.from('posts')
			.select('id, comments!inner(body)')
			.or('body.eq.great,body.eq.ok', { referencedTable: 'comments' })
			.order('id');
		expect(orDeep.data?.map((p) => p.id)).toEqual([1, 2]);
	});

	test('order by a to-one embedded column and null filters on an embed', async () => {
		const { data } = await f.service
			.from('posts')
			.select('id, author:authors!posts_author_id_fkey(name)')
			.not('author', 'is', null)
			.order('author(name)', { ascending: false })
			.order('id');
		expect(data?.map((p) => p.id)).toEqual([3, 1, 2]);
		const raw = await f.rest('/posts?select=id,author:authors!posts_author_id_fkey(name)&author=is.null', {
			token: f.stack.serviceRoleKey
		});
		expect(await raw.json()).toEqual([{ id: 4, author: null }]);
	});

	test('filter on a resource not embedded is PGRST108', async () => {
		const res = await f.rest('/posts?select=id&comments.body=eq.x', { token: f.stack.serviceRoleKey });
		expect(res.status).toBe(400);
		expect((await res.json()).code).toBe('PGRST108');
	});

	test('count with !inner counts only matching parents', async () => {
		const { count } = await f.service
			.from('posts')
			.select('id, comments!inner(id)', { count: 'exact' })
			.eq('comments.body', 'great');
		expect(count).toBe(1);
	});
});
