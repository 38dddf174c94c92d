import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomUUID } from 'node:crypto';
import { asActor, createUser, expectDbError, openChatDb, rpc, rpcOne, type ChatDb } from './helpers.ts';

let db: ChatDb;
let n = 0;
const user = () => createUser(db.pool, `m${++n}@example.com`);

beforeAll(async () => {
	db = await openChatDb(60);
});
afterAll(async () => {
	await db.close();
});

interface Message {
	id: string;
	conversation_id: string;
	sender_id: string;
	seq: string;
	content_encrypted: string | null;
	message_type: string;
	attachment: unknown;
	encryption: unknown;
	client_id: string | null;
	edited_at: Date | null;
	deleted_at: Date | null;
}

async function groupOf(admin: string, members: string[]): Promise<string> {
	const g = await rpcOne<{ id: string }>(db.pool, admin, 'create_group_conversation', {
		title: 'Chat',
		participant_ids: members
	});
	return g.id;
}

const send = (actor: string, conversation_id: string, content = 'ciphertext', extra: Record<string, unknown> = {}) =>
	rpcOne<Message>(db.pool, actor, 'send_message', { conversation_id, content_encrypted: content, ...extra });

async function watermarks(conversationId: string, userId: string) {
	const { rows } = await db.pool.query(
		`select last_delivered_seq::int as delivered, last_read_seq::int as read
		 from public.conversation_participants where conversation_id = $1 and user_id = $2`,
		[conversationId, userId]
	);
	return rows[0];
}

describe('send_message', () => {
	test('assigns seq 1, 2, 3 per conversation and moves last_seq / last_message_at', async () => {
		const [a, b] = [await user(), await user()];
		const c1 = await groupOf(a, [b]);
		const c2 = await groupOf(a, [b]);
		const m1 = await send(a, c1, 'one', { encryption: { epoch: 1, nonce: 'n1' } });
		const m2 = await send(b, c1, 'two');
		const other = await send(a, c2, 'elsewhere');
		expect([m1.seq, m2.seq, other.seq]).toEqual(['1', '2', '1']);
		expect(m1).toMatchObject({ sender_id: a, message_type: 'text', encryption: { epoch: 1, nonce: 'n1' } });
		const { rows } = await db.pool.query('select last_seq, last_message_at from public.conversations where id = $1', [
			c1
		]);
		expect(rows[0].last_seq).toBe('2');
		expect(rows[0].last_message_at).not.toBeNull();
	});

	test('a retried client_id returns the first row and never a duplicate', async () => {
		const a = await user();
		const c = await groupOf(a, []);
		const clientId = randomUUID();
		const first = await send(a, c, 'hello', { client_id: clientId });
		const retry = await send(a, c, 'hello again', { client_id: clientId });
		expect(retry).toEqual(first);
		const next = await send(a, c, 'next');
		expect(next.seq).toBe('2');
		await expectDbError(
			send(a, await groupOf(a, []), 'x', { client_id: clientId }),
			'PT409',
			'duplicate_client_id'
		);
	});

	test('50 parallel sends in one conversation get seq 1..50 without gaps', async () => {
		const members = await Promise.all(Array.from({ length: 5 }, () => user()));
		const c = await groupOf(members[0], members.slice(1));
		const results = await Promise.all(
			Array.from({ length: 50 }, (_, i) => send(members[i % 5], c, `parallel ${i}`))
		);
		expect(results.map((m) => Number(m.seq)).sort((x, y) => x - y)).toEqual(
			Array.from({ length: 50 }, (_, i) => i + 1)
		);
		const { rows } = await db.pool.query(
			'select count(*)::int as n, max(seq)::int as max from public.messages where conversation_id = $1',
			[c]
		);
		expect(rows[0]).toEqual({ n: 50, max: 50 });
	});

	test('a removed member retrying a client_id gets 404, not the old row', async () => {
		const [a, b] = [await user(), await user()];
		const c = await groupOf(a, [b]);
		const clientId = randomUUID();
		await send(b, c, 'before removal', { client_id: clientId });
		await rpc(db.pool, a, 'remove_participant', { conversation_id: c, user_id: b });
		await expectDbError(send(b, c, 'retry', { client_id: clientId }), 'PT404', 'conversation_not_found');
	});

	test('the same client_id sent concurrently gives one row, and the next seq stays gap-free', async () => {
		const [a, b] = [await user(), await user()];
		const c = await groupOf(a, [b]);
		const clientId = randomUUID();
		const results = await Promise.all(
			Array.from({ length: 12 }, (_, i) =>
				i % 3 === 2 ? send(b, c, 'noise') : send(a, c, 'same', { client_id: clientId })
			)
		);
		const mine = results.filter((m) => m.client_id === clientId);
		expect(new Set(mine.map((m) => m.id)).size).toBe(1);
		const { rows } = await db.pool.query(
			'select seq::int from public.messages where conversation_id = $1 order by seq',
			[c]
		);
		expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
	});

	test('validates type, content, attachment and encryption', async () => {
		const a = await user();
		const c = await groupOf(a, []);
		await expectDbError(send(a, c, 'x', { message_type: 'gif' }), 'PT400', 'invalid_message_type');
		await expectDbError(send(a, c, ''), 'PT400', 'content_required');
		await expectDbError(
			rpcOne(db.pool, a, 'send_message', { conversation_id: c, content_encrypted: null }),
			'PT400',
			'content_required'
		);
		await expectDbError(send(a, c, 'x'.repeat(65537)), 'PT400', 'content_too_long');
		await expectDbError(
			rpcOne(db.pool, a, 'send_message', { conversation_id: c, content_encrypted: 'x', attachment: '[1]' }),
			'PT400',
			'invalid_attachment'
		);
		await expectDbError(
			rpcOne(db.pool, a, 'send_message', { conversation_id: c, content_encrypted: 'x', encryption: '"n"' }),
			'PT400',
			'invalid_encryption'
		);
		const image = await rpcOne<Message>(db.pool, a, 'send_message', {
			conversation_id: c,
			content_encrypted: null,
			message_type: 'image',
			attachment: { path: 'a/b.bin', size: 10 }
		});
		expect(image).toMatchObject({ message_type: 'image', content_encrypted: null, seq: '1' });
	});

	test('replies must point at a message of the same conversation', async () => {
		const a = await user();
		const c = await groupOf(a, []);
		const elsewhere = await send(a, await groupOf(a, []), 'other');
		const original = await send(a, c, 'original');
		const reply = await send(a, c, 'reply', { reply_to_id: original.id });
		expect(reply).toMatchObject({ reply_to_id: original.id, seq: '2' });
		await expectDbError(send(a, c, 'bad', { reply_to_id: elsewhere.id }), 'PT404', 'message_not_found');
		await expectDbError(send(a, c, 'bad', { reply_to_id: randomUUID() }), 'PT404', 'message_not_found');
		const { rows } = await db.pool.query('select last_seq from public.conversations where id = $1', [c]);
		expect(rows[0].last_seq).toBe('2');
	});

	test('non-participants get 404 conversation_not_found, and the counter does not move', async () => {
		const [a, outsider] = [await user(), await user()];
		const c = await groupOf(a, []);
		await expectDbError(send(outsider, c), 'PT404', 'conversation_not_found');
		await expectDbError(send(outsider, randomUUID()), 'PT404', 'conversation_not_found');
		const { rows } = await db.pool.query('select last_seq from public.conversations where id = $1', [c]);
		expect(rows[0].last_seq).toBe('0');
	});
});

describe('edit_message and delete_message', () => {
	test('the sender edits; edited_at is set; encryption is replaced when given', async () => {
		const [a, b] = [await user(), await user()];
		const c = await groupOf(a, [b]);
		const m = await send(b, c, 'v1', { encryption: { epoch: 1, nonce: 'a' } });
		const edited = await rpcOne<Message>(db.pool, b, 'edit_message', {
			message_id: m.id,
			content_encrypted: 'v2',
			encryption: { epoch: 1, nonce: 'b' }
		});
		expect(edited).toMatchObject({ id: m.id, seq: m.seq, content_encrypted: 'v2', encryption: { epoch: 1, nonce: 'b' } });
		expect(edited.edited_at).not.toBeNull();
		const kept = await rpcOne<Message>(db.pool, b, 'edit_message', { message_id: m.id, content_encrypted: 'v3' });
		expect(kept.encryption).toEqual({ epoch: 1, nonce: 'b' });
		await expectDbError(
			rpcOne(db.pool, a, 'edit_message', { message_id: m.id, content_encrypted: 'admin edit' }),
			'PT403',
			'not_sender'
		);
		await expectDbError(
			rpcOne(db.pool, b, 'edit_message', { message_id: m.id, content_encrypted: '' }),
			'PT400',
			'content_required'
		);
	});

	test('delete erases content, attachment and encryption and leaves a tombstone; no edits after', async () => {
		const a = await user();
		const c = await groupOf(a, []);
		const m = await send(a, c, 'secret', {
			message_type: 'file',
			attachment: { name: 'x' },
			encryption: { epoch: 1, nonce: 'n' }
		});
		const tomb = await rpcOne<Message>(db.pool, a, 'delete_message', { message_id: m.id });
		expect(tomb).toMatchObject({ id: m.id, seq: m.seq, content_encrypted: null, attachment: null, encryption: null });
		expect(tomb.deleted_at).not.toBeNull();
		const again = await rpcOne<Message>(db.pool, a, 'delete_message', { message_id: m.id });
		expect(again.deleted_at).toEqual(tomb.deleted_at);
		await expectDbError(
			rpcOne(db.pool, a, 'edit_message', { message_id: m.id, content_encrypted: 'back' }),
			'PT409',
			'message_deleted'
		);
		const { rows } = await db.pool.query('select content_encrypted, deleted_at from public.messages where id = $1', [
			m.id
		]);
		expect(rows[0].content_encrypted).toBeNull();
	});

	test('moderators and admins delete other people’s messages; members do not', async () => {
		const [a, mod, b, c] = [await user(), await user(), await user(), await user()];
		const conv = await groupOf(a, [mod, b, c]);
		await rpc(db.pool, a, 'set_participant_role', { conversation_id: conv, user_id: mod, role: 'moderator' });
		const m1 = await send(b, conv, 'spam 1');
		const m2 = await send(b, conv, 'spam 2');
		await expectDbError(rpcOne(db.pool, c, 'delete_message', { message_id: m1.id }), 'PT403', 'not_moderator');
		expect((await rpcOne<Message>(db.pool, mod, 'delete_message', { message_id: m1.id })).deleted_at).not.toBeNull();
		expect((await rpcOne<Message>(db.pool, a, 'delete_message', { message_id: m2.id })).deleted_at).not.toBeNull();
	});

	test('404 message_not_found for outsiders and unknown ids', async () => {
		const [a, outsider] = [await user(), await user()];
		const m = await send(a, await groupOf(a, []), 'hidden');
		for (const [fn, args] of [
			['edit_message', { message_id: m.id, content_encrypted: 'x' }],
			['delete_message', { message_id: m.id }],
			['delete_message', { message_id: randomUUID() }]
		] as const) {
			await expectDbError(rpcOne(db.pool, outsider, fn, args), 'PT404', 'message_not_found');
		}
	});
});

describe('get_messages', () => {
	let owner: string;
	let conv: string;
	beforeAll(async () => {
		owner = await user();
		conv = await groupOf(owner, []);
		for (let i = 1; i <= 120; i++) await send(owner, conv, `m${i}`);
	});

	const page = (args: Record<string, unknown>) =>
		rpc<Message>(db.pool, owner, 'get_messages', { conversation_id: conv, ...args }).then((rows) =>
			rows.map((m) => Number(m.seq))
		);

	test('newest first by default (50), and before_seq pages backwards', async () => {
		const first = await page({});
		expect(first).toEqual(Array.from({ length: 50 }, (_, i) => 120 - i));
		expect(await page({ before_seq: 71, page_size: 3 })).toEqual([70, 69, 68]);
		expect(await page({ before_seq: 3 })).toEqual([2, 1]);
	});

	test('after_seq returns oldest first (catch-up)', async () => {
		expect(await page({ after_seq: 115 })).toEqual([116, 117, 118, 119, 120]);
		expect(await page({ after_seq: 0, page_size: 3 })).toEqual([1, 2, 3]);
		expect(await page({ after_seq: 10, before_seq: 14 })).toEqual([11, 12, 13]);
	});

	test('page_size is capped at 100 and must be positive', async () => {
		expect(await page({ page_size: 1000 })).toHaveLength(100);
		await expectDbError(page({ page_size: 0 }), 'PT400', 'invalid_page_size');
	});

	test('outsiders get 404, not an empty page', async () => {
		const outsider = await user();
		await expectDbError(
			rpc(db.pool, outsider, 'get_messages', { conversation_id: conv }),
			'PT404',
			'conversation_not_found'
		);
	});
});

describe('watermarks', () => {
	test('mark_delivered / mark_read only move forward, clamp to last_seq, and read implies delivered', async () => {
		const [a, b] = [await user(), await user()];
		const c = await groupOf(a, [b]);
		for (let i = 0; i < 5; i++) await send(a, c);
		const delivered = await rpcOne(db.pool, b, 'mark_delivered', { conversation_id: c, up_to_seq: 3 });
		expect(delivered).toMatchObject({ user_id: b, last_delivered_seq: '3', last_read_seq: '0' });
		await rpc(db.pool, b, 'mark_delivered', { conversation_id: c, up_to_seq: 1 });
		expect(await watermarks(c, b)).toEqual({ delivered: 3, read: 0 });
		await rpc(db.pool, b, 'mark_read', { conversation_id: c, up_to_seq: 2 });
		expect(await watermarks(c, b)).toEqual({ delivered: 3, read: 2 });
		await rpc(db.pool, b, 'mark_read', { conversation_id: c, up_to_seq: 1000 });
		expect(await watermarks(c, b)).toEqual({ delivered: 5, read: 5 });
		await rpc(db.pool, b, 'mark_read', { conversation_id: c, up_to_seq: 0 });
		await rpc(db.pool, b, 'mark_delivered', { conversation_id: c, up_to_seq: 4 });
		expect(await watermarks(c, b)).toEqual({ delivered: 5, read: 5 });
		await expectDbError(
			rpc(db.pool, b, 'mark_read', { conversation_id: c, up_to_seq: -1 }),
			'PT400',
			'invalid_seq'
		);
	});

	test('concurrent marks in any order end at the maximum', async () => {
		const [a, b] = [await user(), await user()];
		const c = await groupOf(a, [b]);
		for (let i = 0; i < 30; i++) await send(a, c);
		const seqs = Array.from({ length: 30 }, (_, i) => ((i * 7) % 30) + 1);
		await Promise.all(
			seqs.map((s, i) =>
				rpc(db.pool, b, i % 2 ? 'mark_read' : 'mark_delivered', { conversation_id: c, up_to_seq: s })
			)
		);
		const w = await watermarks(c, b);
		expect(w.delivered).toBe(30);
		expect(w.read).toBe(Math.max(...seqs.filter((_, i) => i % 2)));
	});

	test('mark_message_status marks up to that message; validates status; 404 for outsiders', async () => {
		const [a, b, outsider] = [await user(), await user(), await user()];
		const c = await groupOf(a, [b]);
		await send(a, c);
		const m2 = await send(a, c);
		await send(a, c);
		await rpc(db.pool, b, 'mark_message_status', { message_id: m2.id, status: 'delivered' });
		expect(await watermarks(c, b)).toEqual({ delivered: 2, read: 0 });
		await rpc(db.pool, b, 'mark_message_status', { message_id: m2.id, status: 'read' });
		expect(await watermarks(c, b)).toEqual({ delivered: 2, read: 2 });
		await expectDbError(
			rpc(db.pool, b, 'mark_message_status', { message_id: m2.id, status: 'seen' }),
			'PT400',
			'invalid_status'
		);
		await expectDbError(
			rpc(db.pool, outsider, 'mark_message_status', { message_id: m2.id, status: 'read' }),
			'PT404',
			'message_not_found'
		);
		await expectDbError(
			rpc(db.pool, outsider, 'mark_read', { conversation_id: c, up_to_seq: 1 }),
			'PT404',
			'conversation_not_found'
		);
	});

	test('watermarks cannot be written directly', async () => {
		const [a, b] = [await user(), await user()];
		const c = await groupOf(a, [b]);
		await expectDbError(
			asActor(db.pool, b, (cl) =>
				cl.query('update public.conversation_participants set last_read_seq = 0 where conversation_id = $1', [c])
			),
			'42501'
		);
	});
});

describe('list_conversations', () => {
	test('newest activity first, with participants, last message and unread count; keyset pages', async () => {
		const [me, x, y] = [await user(), await user(), await user()];
		const convs: string[] = [];
		for (let i = 0; i < 5; i++) convs.push(await groupOf(me, [x]));
		const direct = await rpcOne<{ id: string }>(db.pool, y, 'create_direct_conversation', { other_user_id: me });
		// Activity order: convs[1] (newest message), direct, convs[3], then the rest by creation.
		await send(x, convs[3], 'x3');
		await send(y, direct.id, 'hi');
		await send(me, convs[1], 'mine');
		await send(x, convs[1], 'x1a');
		const last = await send(x, convs[1], 'x1b');
		await rpc(db.pool, me, 'mark_read', { conversation_id: convs[1], up_to_seq: 2 });
		await rpc(db.pool, x, 'delete_message', { message_id: (await send(x, convs[1], 'gone')).id });

		type Item = Record<string, unknown> & { id: string; activity_at: string };
		const all = await rpc<{ list_conversations: Item }>(db.pool, me, 'list_conversations', {});
		const items = all.map((r) => r.list_conversations);
		expect(items.map((i) => i.id)).toEqual([convs[1], direct.id, convs[3], convs[4], convs[2], convs[0]]);
		const top = items[0];
		expect(top).not.toHaveProperty('direct_key');
		expect(top).toMatchObject({ kind: 'group', title: 'Chat', last_seq: 4, unread_count: 1 });
		expect((top.last_message as Record<string, unknown>).seq).toBe(4);
		expect((top.participants as unknown[]).length).toBe(2);
		expect(items[1]).toMatchObject({ kind: 'direct', unread_count: 1 });
		expect((items[1].last_message as Record<string, unknown>).content_encrypted).toBe('hi');
		expect(items[3]).toMatchObject({ last_message: null, unread_count: 0 });
		expect(last.seq).toBe('3');

		const page1 = (await rpc<{ list_conversations: Item }>(db.pool, me, 'list_conversations', { page_size: 2 })).map(
			(r) => r.list_conversations
		);
		const page2 = (
			await rpc<{ list_conversations: Item }>(db.pool, me, 'list_conversations', {
				page_size: 2,
				before_activity: page1[1].activity_at,
				before_id: page1[1].id
			})
		).map((r) => r.list_conversations);
		expect([...page1, ...page2].map((i) => i.id)).toEqual(items.slice(0, 4).map((i) => i.id));
		await expectDbError(rpc(db.pool, me, 'list_conversations', { page_size: 0 }), 'PT400', 'invalid_page_size');
	});

	test('conversations sharing one activity time are paged by id without loss', async () => {
		const me = await user();
		const ids: string[] = [];
		for (let i = 0; i < 4; i++) ids.push(await groupOf(me, []));
		await db.pool.query(`update public.conversations set created_at = '2030-01-01' where id = any($1)`, [ids]);
		const seen: string[] = [];
		let cursor: Record<string, unknown> = {};
		for (;;) {
			const rows = await rpc<{ list_conversations: { id: string; activity_at: string } }>(
				db.pool,
				me,
				'list_conversations',
				{ page_size: 3, ...cursor }
			);
			if (rows.length === 0) break;
			const items = rows.map((r) => r.list_conversations);
			seen.push(...items.map((i) => i.id));
			const lastItem = items[items.length - 1];
			cursor = { before_activity: lastItem.activity_at, before_id: lastItem.id };
		}
		expect(seen).toEqual([...ids].sort().reverse());
	});

	test('shows only the caller’s conversations', async () => {
		const [me, other] = [await user(), await user()];
		await groupOf(other, []);
		expect(await rpc(db.pool, me, 'list_conversations', {})).toEqual([]);
	});
});
