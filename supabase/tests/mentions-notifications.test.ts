/**
 * Mentions and notification levels (supabase/migrations/20261202000600_mentions_notifications.sql):
 * `messages.mentions` names current members only, at most 50, is read exactly where the message is
 * and goes with a deletion; the list counts unread mentions of the caller; each member sets their
 * own level and mute, which nobody else (outsiders, removed members, other members, anon) can set
 * or read.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomUUID } from 'node:crypto';
import { asActor, createUser, expectDbError, openChatDb, rpc, rpcOne, rpcSql, snapshot, type ChatDb } from './helpers.ts';

let db: ChatDb;
let n = 0;
const user = () => createUser(db.pool, `mn${++n}@example.com`, { username: `mn_user_${n}` });

beforeAll(async () => {
	db = await openChatDb(20);
});
afterAll(async () => {
	await db.close();
});

async function groupOf(admin: string, members: string[]): Promise<string> {
	return (await rpcOne<{ id: string }>(db.pool, admin, 'create_group_conversation', { title: 'G', participant_ids: members }))
		.id;
}

const send = (actor: string, conversation_id: string, mentions?: unknown, extra: Record<string, unknown> = {}) =>
	rpcOne<{ id: string; seq: string; mentions: string[] }>(db.pool, actor, 'send_message', {
		conversation_id,
		content_encrypted: 'c2VhbGVk',
		...(mentions === undefined ? {} : { mentions }),
		...extra
	});

/** A conversation's notification_settings rows (as superuser). */
async function settingsRows(conversationId: string): Promise<Record<string, unknown>[]> {
	const { rows } = await db.pool.query(
		'select conversation_id, user_id, notify_level, muted_until from public.notification_settings where conversation_id = $1 order by 2',
		[conversationId]
	);
	return rows;
}

/** The caller's list item for a conversation. */
async function listed(actor: string, conversationId: string): Promise<Record<string, unknown> | undefined> {
	const rows = await rpc<{ list_conversations: Record<string, unknown> }>(db.pool, actor, 'list_conversations', {});
	return rows.map((r) => r.list_conversations).find((c) => c.id === conversationId);
}

describe('messages.mentions', () => {
	test('send_message stores the mentioned members sorted and distinct; none by default', async () => {
		const [ana, bo, cy] = [await user(), await user(), await user()];
		const c = await groupOf(ana, [bo, cy]);
		const m = await send(ana, c, [cy, bo, cy]);
		expect(m.mentions).toEqual([bo, cy].sort());
		expect((await send(ana, c)).mentions).toEqual([]);
		expect((await send(ana, c, [])).mentions).toEqual([]);
		// Mentioning oneself is allowed (and pushes nobody).
		expect((await send(ana, c, [ana])).mentions).toEqual([ana]);
	});

	test('mentions of outsiders, removed members, unknown ids or null are refused, and so are more than 50', async () => {
		const [ana, bo, gone, outsider] = [await user(), await user(), await user(), await user()];
		const c = await groupOf(ana, [bo, gone]);
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: gone });
		const before = await snapshot(db.pool);
		for (const mentions of [[outsider], [bo, gone], [randomUUID()], [bo, null]]) {
			await expectDbError(send(ana, c, mentions), 'PT400', 'invalid_mentions');
		}
		await expectDbError(
			send(ana, c, Array.from({ length: 51 }, () => randomUUID())),
			'PT400',
			'too_many_mentions'
		);
		expect(await snapshot(db.pool)).toEqual(before);
		// Not even a direct write can store more than 50, or a null.
		const { id } = await send(ana, c, [bo]);
		await expectDbError(
			db.pool.query('update public.messages set mentions = array_fill($2::uuid, array[51]) where id = $1', [id, bo]),
			'23514'
		);
		await expectDbError(db.pool.query(`update public.messages set mentions = array[null]::uuid[] where id = $1`, [id]), '23514');
	});

	test('a retry returns the stored row even after a mentioned member left', async () => {
		const [ana, bo, cy] = [await user(), await user(), await user()];
		const c = await groupOf(ana, [bo, cy]);
		const client_id = randomUUID();
		const first = await send(ana, c, [cy], { client_id });
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: cy });
		const retry = await send(ana, c, [cy], { client_id });
		expect(retry.id).toBe(first.id);
		expect(retry.mentions).toEqual([cy]);
	});

	test('edit_message replaces the mentions (members only), null keeps them; deleting erases them', async () => {
		const [ana, bo, cy, outsider] = [await user(), await user(), await user(), await user()];
		const c = await groupOf(ana, [bo, cy]);
		const { id } = await send(ana, c, [bo]);
		const edit = (mentions: unknown) =>
			rpcOne<{ mentions: string[] }>(db.pool, ana, 'edit_message', {
				message_id: id,
				content_encrypted: 'ZWRpdGVk',
				...(mentions === undefined ? {} : { mentions })
			});
		expect((await edit([cy])).mentions).toEqual([cy]);
		expect((await edit(undefined)).mentions).toEqual([cy]);
		expect((await edit([])).mentions).toEqual([]);
		await expectDbError(edit([outsider]), 'PT400', 'invalid_mentions');
		await edit([bo, cy]);
		const tombstone = await rpcOne<{ mentions: string[]; deleted_at: string | null }>(db.pool, ana, 'delete_message', {
			message_id: id
		});
		expect(tombstone).toMatchObject({ mentions: [], deleted_at: expect.any(Date) });
		// Whoever deletes it (here service_role, straight in the table), the mentions go.
		const other = await send(ana, c, [bo]);
		await db.pool.query(
			'update public.messages set content_encrypted = null, encryption = null, deleted_at = now() where id = $1',
			[other.id]
		);
		const { rows } = await db.pool.query('select mentions from public.messages where id = $1', [other.id]);
		expect(rows[0].mentions).toEqual([]);
	});

	test('only participants read mentions: outsiders, removed members and anon see nothing', async () => {
		const [ana, bo, removed, outsider] = [await user(), await user(), await user(), await user()];
		const c = await groupOf(ana, [bo, removed]);
		await send(ana, c, [bo, removed]);
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: removed });
		const read = (actor: string) =>
			asActor(db.pool, actor, async (cl) => (await cl.query('select mentions from public.messages where conversation_id = $1', [c])).rows);
		expect(await read(bo)).toEqual([{ mentions: [bo, removed].sort() }]);
		expect(await read(outsider)).toEqual([]);
		expect(await read(removed)).toEqual([]);
		await expectDbError(read('anon'), '42501');
		for (const actor of [outsider, removed]) {
			await expectDbError(rpc(db.pool, actor, 'get_messages', { conversation_id: c }), 'PT404', 'conversation_not_found');
			expect(await listed(actor, c)).toBeUndefined();
		}
	});

	test('the list counts unread mentions of the caller, from others, until read', async () => {
		const [ana, bo, cy] = [await user(), await user(), await user()];
		const c = await groupOf(ana, [bo, cy]);
		await send(ana, c, [bo]);
		await send(ana, c, [bo, cy]);
		await send(ana, c);
		const last = await send(bo, c, [bo, cy]);
		expect(await listed(bo, c)).toMatchObject({ unread_count: 3, unread_mentions: 2, notify_level: 'all', muted_until: null });
		expect(await listed(cy, c)).toMatchObject({ unread_count: 4, unread_mentions: 2 });
		expect(await listed(ana, c)).toMatchObject({ unread_count: 1, unread_mentions: 0 });
		await rpc(db.pool, bo, 'mark_read', { conversation_id: c, up_to_seq: Number(last.seq) });
		expect(await listed(bo, c)).toMatchObject({ unread_count: 0, unread_mentions: 0 });
	});
});

describe('set_notification_level', () => {
	test('a member sets their own level and mute; the list shows them; a past mute is no mute', async () => {
		const [ana, bo] = [await user(), await user()];
		const c = await groupOf(ana, [bo]);
		const row = await rpcOne<Record<string, unknown>>(db.pool, bo, 'set_notification_level', {
			conversation_id: c,
			notify_level: 'mentions'
		});
		expect(row).toMatchObject({ conversation_id: c, user_id: bo, notify_level: 'mentions', muted_until: null });
		const hour = new Date(Date.now() + 3600_000);
		await rpc(db.pool, bo, 'set_notification_level', { conversation_id: c, notify_level: 'all', muted_until: hour.toISOString() });
		const item = await listed(bo, c);
		expect(item).toMatchObject({ notify_level: 'all' });
		expect(Date.parse(String(item?.muted_until))).toBe(hour.getTime());
		// Ana's own settings are untouched by Bo's.
		expect(await listed(ana, c)).toMatchObject({ notify_level: 'all', muted_until: null });

		await rpc(db.pool, bo, 'set_notification_level', { conversation_id: c, notify_level: 'none', muted_until: 'infinity' });
		expect(await listed(bo, c)).toMatchObject({ notify_level: 'none', muted_until: 'infinity' });
		const past = new Date(Date.now() - 1000).toISOString();
		expect(
			await rpcOne(db.pool, bo, 'set_notification_level', { conversation_id: c, notify_level: 'none', muted_until: past })
		).toMatchObject({ muted_until: null });
		expect(await settingsRows(c)).toEqual([{ conversation_id: c, user_id: bo, notify_level: 'none', muted_until: null }]);

		for (const notify_level of ['', 'ALL', 'some', null]) {
			await expectDbError(
				rpc(db.pool, bo, 'set_notification_level', { conversation_id: c, notify_level }),
				'PT400',
				'invalid_notify_level'
			);
		}
	});

	test('outsiders, removed members and anon cannot set levels; a member cannot set or read another’s', async () => {
		const [ana, bo, removed, outsider] = [await user(), await user(), await user(), await user()];
		const c = await groupOf(ana, [bo, removed]);
		await rpc(db.pool, bo, 'set_notification_level', { conversation_id: c, notify_level: 'mentions' });
		await rpc(db.pool, removed, 'set_notification_level', { conversation_id: c, notify_level: 'none' });
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: removed });
		const before = await settingsRows(c);
		// The removed member's settings went with the membership.
		expect(before.map((r) => r.user_id)).toEqual([bo]);

		const args = { conversation_id: c, notify_level: 'none', muted_until: 'infinity' };
		for (const actor of [outsider, removed]) {
			await expectDbError(rpc(db.pool, actor, 'set_notification_level', args), 'PT404', 'conversation_not_found');
			// Even an invalid level answers 404 first: nothing is learnt about the conversation.
			await expectDbError(
				rpc(db.pool, actor, 'set_notification_level', { conversation_id: c, notify_level: 'x' }),
				'PT404',
				'conversation_not_found'
			);
		}
		await expectDbError(
			rpc(db.pool, outsider, 'set_notification_level', { ...args, conversation_id: randomUUID() }),
			'PT404',
			'conversation_not_found'
		);
		await expectDbError(rpc(db.pool, 'anon', 'set_notification_level', args), '42501');

		// Ana (a member, an admin even) has no way to name Bo: no such argument, no table writes.
		const forBo = rpcSql('set_notification_level', { ...args, user_id: bo });
		await expectDbError(asActor(db.pool, ana, (cl) => cl.query(forBo.text, forBo.values)), '42883');
		const writes = [
			[`insert into public.notification_settings (conversation_id, user_id, notify_level) values ($1, $2, 'none')`, [c, bo]],
			[`insert into public.notification_settings (conversation_id, user_id, notify_level) values ($1, $2, 'none')`, [c, ana]],
			[`update public.notification_settings set notify_level = 'none'`, []],
			[`delete from public.notification_settings`, []]
		] as const;
		for (const actor of [ana, bo, outsider, 'anon']) {
			for (const [text, values] of writes) {
				await expectDbError(asActor(db.pool, actor, (cl) => cl.query(text, [...values])), '42501');
			}
		}
		// Reading: Bo sees his own row; Ana, the outsider and the removed member see none of it.
		const read = (actor: string) =>
			asActor(db.pool, actor, async (cl) => (await cl.query('select user_id, notify_level from public.notification_settings')).rows);
		expect(await read(bo)).toEqual([{ user_id: bo, notify_level: 'mentions' }]);
		for (const actor of [ana, outsider, removed]) expect(await read(actor)).toEqual([]);
		await expectDbError(read('anon'), '42501');
		expect(await settingsRows(c)).toEqual(before);
	});

	test('a member removed and added back starts again from all', async () => {
		const [ana, bo] = [await user(), await user()];
		const c = await groupOf(ana, [bo]);
		await rpc(db.pool, bo, 'set_notification_level', { conversation_id: c, notify_level: 'none', muted_until: 'infinity' });
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: bo });
		await rpc(db.pool, ana, 'add_participant', { conversation_id: c, user_id: bo });
		expect(await listed(bo, c)).toMatchObject({ notify_level: 'all', muted_until: null });
	});
});
