import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { asActor, createUser, expectDbError, openChatDb, rpc, rpcOne, rpcSql, type ChatDb } from './helpers.ts';

let db: ChatDb;
let n = 0;
const user = (meta: Record<string, unknown> = {}) => createUser(db.pool, `c${++n}@example.com`, meta);

beforeAll(async () => {
	db = await openChatDb(20);
});
afterAll(async () => {
	await db.close();
});

interface Conversation {
	id: string;
	kind: string;
	title: string | null;
	key_epoch: number;
	last_seq: string;
}

async function participants(conversationId: string) {
	const { rows } = await db.pool.query(
		'select user_id, role from public.conversation_participants where conversation_id = $1 order by role, user_id',
		[conversationId]
	);
	return rows;
}

async function group(admin: string, members: string[], title = 'Team') {
	return rpcOne<Conversation>(db.pool, admin, 'create_group_conversation', { title, participant_ids: members });
}

async function epoch(conversationId: string): Promise<number> {
	const { rows } = await db.pool.query('select key_epoch from public.conversations where id = $1', [conversationId]);
	return rows[0].key_epoch;
}

describe('create_direct_conversation', () => {
	test('creates one direct conversation per pair, from either side, with both as members', async () => {
		const [a, b] = [await user(), await user()];
		const first = await rpcOne<Conversation>(db.pool, a, 'create_direct_conversation', { other_user_id: b });
		expect(first).toMatchObject({ kind: 'direct', title: null, key_epoch: 1, last_seq: '0', created_by: a });
		const again = await rpcOne<Conversation>(db.pool, b, 'create_direct_conversation', { other_user_id: a });
		expect(again.id).toBe(first.id);
		const sorted = [a, b].sort();
		expect(await participants(first.id)).toEqual(
			sorted.map((user_id) => ({ user_id, role: 'member' }))
		);
	});

	test('two simultaneous calls on separate connections give one conversation', async () => {
		for (let round = 0; round < 5; round++) {
			const [a, b] = [await user(), await user()];
			// Both transactions are open and have called the function before either commits.
			const ca = await db.pool.connect();
			const cb = await db.pool.connect();
			try {
				for (const [c, me] of [
					[ca, a],
					[cb, b]
				] as const) {
					await c.query('begin');
					await c.query(`select set_config('request.jwt.claims', $1, true)`, [
						JSON.stringify({ sub: me, role: 'authenticated' })
					]);
					await c.query('set local role authenticated');
				}
				const first = await ca.query('select id from public.create_direct_conversation($1)', [b]);
				const secondPending = cb.query('select id from public.create_direct_conversation($1)', [a]);
				await new Promise((r) => setTimeout(r, 20));
				await ca.query('commit');
				const second = await secondPending;
				await cb.query('commit');
				expect(second.rows[0].id).toBe(first.rows[0].id);
			} finally {
				ca.release();
				cb.release();
			}
			const { rows } = await db.pool.query(
				`select count(*)::int as n from public.conversations where kind = 'direct' and direct_key = $1`,
				[[a, b].sort().join(':')]
			);
			expect(rows[0].n).toBe(1);
		}
	});

	test('refuses yourself (400), unknown users (404) and anon', async () => {
		const a = await user();
		await expectDbError(
			rpcOne(db.pool, a, 'create_direct_conversation', { other_user_id: a }),
			'PT400',
			'invalid_participant'
		);
		await expectDbError(
			rpcOne(db.pool, a, 'create_direct_conversation', { other_user_id: randomUUID() }),
			'PT404',
			'user_not_found'
		);
		await expectDbError(rpcOne(db.pool, 'anon', 'create_direct_conversation', { other_user_id: a }), '42501');
	});
});

describe('create_group_conversation', () => {
	test('caller is admin, the others members; duplicates and the caller in the list are ignored', async () => {
		const [a, b, c] = [await user(), await user(), await user()];
		const g = await group(a, [b, c, b, a], '  Trip  ');
		expect(g).toMatchObject({ kind: 'group', title: 'Trip', created_by: a, key_epoch: 1 });
		const rows = await participants(g.id);
		expect(rows).toHaveLength(3);
		expect(rows.find((r) => r.user_id === a)?.role).toBe('admin');
		expect(rows.filter((r) => r.role === 'member').map((r) => r.user_id).sort()).toEqual([b, c].sort());
	});

	test('a group of one is fine; titles are required (1-100 chars); unknown members 404', async () => {
		const a = await user();
		expect((await group(a, [])).kind).toBe('group');
		await expectDbError(group(a, [], '   '), 'PT400', 'invalid_title');
		await expectDbError(group(a, [], 'x'.repeat(101)), 'PT400', 'invalid_title');
		await expectDbError(
			rpcOne(db.pool, a, 'create_group_conversation', { title: null, participant_ids: [] }),
			'PT400',
			'invalid_title'
		);
		await expectDbError(group(a, [randomUUID()]), 'PT404', 'user_not_found');
	});
});

describe('get_conversation', () => {
	test('returns the conversation with participants, profile fields and watermarks', async () => {
		const name = `alice_${n + 1}`;
		const a = await user({ username: name, display_name: 'Alice' });
		const b = await user();
		const g = await group(a, [b]);
		const conv = await rpcOne<Record<string, unknown>>(db.pool, b, 'get_conversation', { conversation_id: g.id });
		expect(conv).toMatchObject({ id: g.id, kind: 'group', title: 'Team', key_epoch: 1 });
		expect(conv).not.toHaveProperty('direct_key');
		const ps = conv.participants as Record<string, unknown>[];
		expect(ps).toHaveLength(2);
		expect(ps.find((p) => p.user_id === a)).toMatchObject({
			role: 'admin',
			username: name,
			display_name: 'Alice',
			last_delivered_seq: 0,
			last_read_seq: 0,
			public_key: null
		});
	});

	test('404 conversation_not_found for outsiders and for ids that do not exist', async () => {
		const [a, outsider] = [await user(), await user()];
		const g = await group(a, []);
		await expectDbError(
			rpcOne(db.pool, outsider, 'get_conversation', { conversation_id: g.id }),
			'PT404',
			'conversation_not_found'
		);
		await expectDbError(
			rpcOne(db.pool, outsider, 'get_conversation', { conversation_id: randomUUID() }),
			'PT404',
			'conversation_not_found'
		);
	});
});

describe('membership management', () => {
	test('admins add members (with a role); adding bumps key_epoch under the default history rule', async () => {
		const [a, b, c, d] = [await user(), await user(), await user(), await user()];
		const g = await group(a, [b]);
		const added = await rpcOne(db.pool, a, 'add_participant', { conversation_id: g.id, user_id: c });
		expect(added).toMatchObject({ conversation_id: g.id, user_id: c, role: 'member', joined_epoch: 2 });
		expect(await epoch(g.id)).toBe(2);
		const mod = await rpcOne(db.pool, a, 'add_participant', { conversation_id: g.id, user_id: d, role: 'moderator' });
		expect(mod).toMatchObject({ role: 'moderator', joined_epoch: 3 });
		await expectDbError(
			rpcOne(db.pool, a, 'add_participant', { conversation_id: g.id, user_id: d }),
			'PT409',
			'already_participant'
		);
		await expectDbError(
			rpcOne(db.pool, a, 'add_participant', { conversation_id: g.id, user_id: randomUUID() }),
			'PT404',
			'user_not_found'
		);
		await expectDbError(
			rpcOne(db.pool, a, 'add_participant', { conversation_id: g.id, user_id: await user(), role: 'owner' }),
			'PT400',
			'invalid_role'
		);
	});

	test('members and moderators cannot add people (not_admin)', async () => {
		const [a, b, m, x] = [await user(), await user(), await user(), await user()];
		const g = await group(a, [b, m]);
		await rpcOne(db.pool, a, 'set_participant_role', { conversation_id: g.id, user_id: m, role: 'moderator' });
		for (const actor of [b, m]) {
			await expectDbError(
				rpcOne(db.pool, actor, 'add_participant', { conversation_id: g.id, user_id: x }),
				'PT403',
				'not_admin'
			);
		}
	});

	test('a new member starts with watermarks at the current last_seq', async () => {
		const [a, b] = [await user(), await user()];
		const g = await group(a, []);
		for (let i = 0; i < 3; i++)
			await rpc(db.pool, a, 'send_message', { conversation_id: g.id, content_encrypted: `m${i}` });
		const row = await rpcOne(db.pool, a, 'add_participant', { conversation_id: g.id, user_id: b });
		expect(row).toMatchObject({ last_delivered_seq: '3', last_read_seq: '3' });
	});

	test('moderators remove members but not admins or moderators; members remove nobody', async () => {
		const [a, m, m2, b, c] = [await user(), await user(), await user(), await user(), await user()];
		const g = await group(a, [m, m2, b, c]);
		await rpcOne(db.pool, a, 'set_participant_role', { conversation_id: g.id, user_id: m, role: 'moderator' });
		await rpcOne(db.pool, a, 'set_participant_role', { conversation_id: g.id, user_id: m2, role: 'moderator' });
		await expectDbError(
			rpc(db.pool, b, 'remove_participant', { conversation_id: g.id, user_id: c }),
			'PT403',
			'not_moderator'
		);
		await expectDbError(
			rpc(db.pool, m, 'remove_participant', { conversation_id: g.id, user_id: a }),
			'PT403',
			'not_admin'
		);
		await expectDbError(
			rpc(db.pool, m, 'remove_participant', { conversation_id: g.id, user_id: m2 }),
			'PT403',
			'not_admin'
		);
		const before = await epoch(g.id);
		await rpc(db.pool, m, 'remove_participant', { conversation_id: g.id, user_id: c });
		expect((await participants(g.id)).map((p) => p.user_id)).not.toContain(c);
		expect(await epoch(g.id)).toBe(before + 1);
		await expectDbError(
			rpc(db.pool, m, 'remove_participant', { conversation_id: g.id, user_id: c }),
			'PT404',
			'participant_not_found'
		);
		await rpc(db.pool, a, 'remove_participant', { conversation_id: g.id, user_id: m2 });
		expect((await participants(g.id)).map((p) => p.user_id).sort()).toEqual([a, m, b].sort());
	});

	test('set_participant_role: admins only, valid roles, never demoting the last admin', async () => {
		const [a, b] = [await user(), await user()];
		const g = await group(a, [b]);
		await expectDbError(
			rpc(db.pool, b, 'set_participant_role', { conversation_id: g.id, user_id: b, role: 'admin' }),
			'PT403',
			'not_admin'
		);
		await expectDbError(
			rpc(db.pool, a, 'set_participant_role', { conversation_id: g.id, user_id: b, role: 'root' }),
			'PT400',
			'invalid_role'
		);
		await expectDbError(
			rpc(db.pool, a, 'set_participant_role', { conversation_id: g.id, user_id: a, role: 'member' }),
			'PT403',
			'last_admin'
		);
		const promoted = await rpcOne(db.pool, a, 'set_participant_role', {
			conversation_id: g.id,
			user_id: b,
			role: 'admin'
		});
		expect(promoted).toMatchObject({ user_id: b, role: 'admin' });
		const demoted = await rpcOne(db.pool, b, 'set_participant_role', {
			conversation_id: g.id,
			user_id: a,
			role: 'member'
		});
		expect(demoted).toMatchObject({ user_id: a, role: 'member' });
		expect(await epoch(g.id)).toBe(1);
	});

	test('the last admin cannot leave without handing over; members leave freely', async () => {
		const [a, b, c] = [await user(), await user(), await user()];
		const g = await group(a, [b, c]);
		await expectDbError(rpc(db.pool, a, 'leave_conversation', { conversation_id: g.id }), 'PT403', 'last_admin');
		await expectDbError(
			rpc(db.pool, a, 'remove_participant', { conversation_id: g.id, user_id: a }),
			'PT403',
			'last_admin'
		);
		await rpc(db.pool, c, 'leave_conversation', { conversation_id: g.id });
		expect(await epoch(g.id)).toBe(2);
		await rpc(db.pool, a, 'set_participant_role', { conversation_id: g.id, user_id: b, role: 'admin' });
		await rpc(db.pool, a, 'leave_conversation', { conversation_id: g.id });
		expect(await participants(g.id)).toEqual([{ user_id: b, role: 'admin' }]);
		expect(await epoch(g.id)).toBe(3);
		await expectDbError(
			rpc(db.pool, a, 'get_conversation', { conversation_id: g.id }),
			'PT404',
			'conversation_not_found'
		);
	});

	test('the last person to leave deletes the conversation', async () => {
		const a = await user();
		const g = await group(a, []);
		await rpc(db.pool, a, 'send_message', { conversation_id: g.id, content_encrypted: 'bye' });
		await rpc(db.pool, a, 'leave_conversation', { conversation_id: g.id });
		const { rows } = await db.pool.query('select count(*)::int as n from public.conversations where id = $1', [g.id]);
		expect(rows[0].n).toBe(0);
	});

	test('direct conversations never gain or lose members', async () => {
		const [a, b, c] = [await user(), await user(), await user()];
		const d = await rpcOne<Conversation>(db.pool, a, 'create_direct_conversation', { other_user_id: b });
		const calls: [string, Record<string, unknown>][] = [
			['add_participant', { conversation_id: d.id, user_id: c }],
			['remove_participant', { conversation_id: d.id, user_id: b }],
			['leave_conversation', { conversation_id: d.id }],
			['set_participant_role', { conversation_id: d.id, user_id: b, role: 'admin' }]
		];
		for (const [fn, args] of calls) {
			await expectDbError(rpc(db.pool, a, fn, args), 'PT403', 'direct_conversation');
		}
		expect(await participants(d.id)).toHaveLength(2);
		expect(await epoch(d.id)).toBe(1);
	});

	test('concurrent demotions cannot remove the last admin (the conversation row lock serializes them)', async () => {
		const [a, b, c] = [await user(), await user(), await user()];
		const g = await group(a, [b, c]);
		await rpc(db.pool, a, 'set_participant_role', { conversation_id: g.id, user_id: b, role: 'admin' });
		const results = await Promise.allSettled([
			rpc(db.pool, a, 'leave_conversation', { conversation_id: g.id }),
			rpc(db.pool, b, 'leave_conversation', { conversation_id: g.id })
		]);
		expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
		const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
		expect((rejected.reason as pg.DatabaseError).detail).toBe('last_admin');
		expect((await participants(g.id)).map((p) => p.role)).toEqual(['admin', 'member']);
	});
});

describe('direct table access', () => {
	test('participants read their conversations and co-members through RLS; others see nothing', async () => {
		const [a, b, outsider] = [await user(), await user(), await user()];
		const g = await group(a, [b]);
		const seen = await asActor(db.pool, b, async (c) => ({
			conversations: (await c.query('select id from public.conversations where id = $1', [g.id])).rows,
			participants: (
				await c.query('select user_id from public.conversation_participants where conversation_id = $1', [g.id])
			).rows
		}));
		expect(seen.conversations).toHaveLength(1);
		expect(seen.participants).toHaveLength(2);
		const hidden = await asActor(db.pool, outsider, async (c) => ({
			conversations: (await c.query('select id from public.conversations where id = $1', [g.id])).rows,
			participants: (
				await c.query('select user_id from public.conversation_participants where conversation_id = $1', [g.id])
			).rows
		}));
		expect(hidden).toEqual({ conversations: [], participants: [] });
	});

	test('RPC arguments are passed by name as PostgREST does', () => {
		expect(rpcSql('get_conversation', { conversation_id: 'x' })).toEqual({
			text: 'select * from public.get_conversation(conversation_id => $1)',
			values: ['x']
		});
	});
});
