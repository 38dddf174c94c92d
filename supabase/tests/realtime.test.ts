import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
	asActor,
	createUser,
	expectDbError,
	openChatDb,
	randomBase64,
	reactionArgs,
	rpc,
	rpcOne,
	type Actor,
	type ChatDb
} from './helpers.ts';

let db: ChatDb;
let n = 0;
const user = () => createUser(db.pool, `rt${++n}@example.com`);

beforeAll(async () => {
	db = await openChatDb();
});
afterAll(async () => {
	await db.close();
});

async function groupOf(admin: string, members: string[]): Promise<string> {
	return (
		await rpcOne<{ id: string }>(db.pool, admin, 'create_group_conversation', { title: 'RT', participant_ids: members })
	).id;
}

/** The realtime rows written by `action` (the table is emptied first). */
async function broadcastsOf(action: () => Promise<unknown>) {
	await db.pool.query('delete from realtime.messages');
	await action();
	const { rows } = await db.pool.query<{ topic: string; event: string; payload: Record<string, unknown>; private: boolean }>(
		'select topic, event, payload, private from realtime.messages order by topic, event'
	);
	return rows;
}

/** Can `actor` receive on `topic` (select sees a probe of `extension`) and send on it (insert passes)? */
async function channelAccess(
	actor: Actor,
	topic: string,
	extension: 'broadcast' | 'presence' = 'broadcast'
): Promise<{ receive: boolean; send: boolean }> {
	await db.pool.query('delete from realtime.messages');
	await db.pool.query(`insert into realtime.messages (topic, extension, event, payload, private) values ($1, $2, 'probe', '{}', true)`, [
		topic,
		extension
	]);
	const receive = await asActor(db.pool, actor, async (c) => (await c.query('select id from realtime.messages')).rowCount! > 0, {
		topic
	});
	let send = true;
	try {
		await asActor(
			db.pool,
			actor,
			(c) =>
				c.query(`insert into realtime.messages (topic, extension, event, payload, private) values ($1, $2, 'typing', '{}', true)`, [
					topic,
					extension
				]),
			{ topic }
		);
	} catch (error) {
		expect((error as { code?: string }).code).toBe('42501');
		send = false;
	}
	return { receive, send };
}

const none = { receive: false, send: false };

describe('realtime channel policies', () => {
	test('conversation:<id>:<epoch> carries the database: participants receive, nobody sends, no presence', async () => {
		const [a, b, outsider, removed] = [await user(), await user(), await user(), await user()];
		const c = await groupOf(a, [b, removed]);
		await rpc(db.pool, a, 'remove_participant', { conversation_id: c, user_id: removed });
		const topic = `conversation:${c}:2`;
		expect(await channelAccess(a, topic)).toEqual({ receive: true, send: false });
		expect(await channelAccess(b, topic)).toEqual({ receive: true, send: false });
		expect(await channelAccess(a, topic, 'presence')).toEqual(none);
		for (const who of [outsider, removed, 'anon']) expect(await channelAccess(who, topic), who).toEqual(none);
	});

	test('members:<id>:<epoch> carries the members: participants receive, send and track; nobody else', async () => {
		const [a, b, outsider, removed] = [await user(), await user(), await user(), await user()];
		const c = await groupOf(a, [b, removed]);
		await rpc(db.pool, a, 'remove_participant', { conversation_id: c, user_id: removed });
		const topic = `members:${c}:2`;
		for (const extension of ['broadcast', 'presence'] as const) {
			expect(await channelAccess(a, topic, extension)).toEqual({ receive: true, send: true });
			expect(await channelAccess(b, topic, extension)).toEqual({ receive: true, send: true });
			for (const who of [outsider, removed, 'anon']) expect(await channelAccess(who, topic, extension), who).toEqual(none);
		}
	});

	test("only the current epoch's topics: an old one, and the next one joined in advance, are refused", async () => {
		const [a, b, leaver] = [await user(), await user(), await user()];
		const c = await groupOf(a, [b, leaver]);
		// Before anyone leaves, a member who expects to be removed cannot pre-join the next epoch.
		expect(await channelAccess(leaver, `conversation:${c}:2`)).toEqual(none);
		expect(await channelAccess(leaver, `members:${c}:2`)).toEqual(none);
		expect(await channelAccess(b, `members:${c}:1`)).toEqual({ receive: true, send: true });
		await rpc(db.pool, leaver, 'leave_conversation', { conversation_id: c });
		for (const topic of [`conversation:${c}:1`, `members:${c}:1`, `conversation:${c}:3`, `members:${c}:3`]) {
			expect(await channelAccess(b, topic), topic).toEqual(none);
		}
		expect(await channelAccess(b, `members:${c}:2`)).toEqual({ receive: true, send: true });
	});

	test('user:<id>: only that user receives, and not even they can send (only the database writes there)', async () => {
		const [a, b] = [await user(), await user()];
		expect(await channelAccess(a, `user:${a}`)).toEqual({ receive: true, send: false });
		expect(await channelAccess(b, `user:${a}`)).toEqual(none);
		expect(await channelAccess('anon', `user:${a}`)).toEqual(none);
	});

	test('malformed, old-style and unknown topics are refused without an error', async () => {
		const a = await user();
		const c = await groupOf(a, []);
		for (const topic of [
			`conversation:${c}`,
			`members:${c}`,
			'conversation:not-a-uuid:1',
			'conversation:',
			`conversation:${c}:`,
			`conversation:${c}:0`,
			`conversation:${c}:01`,
			`conversation:${c}:1x`,
			`conversation:${c}:99999999999999`,
			`conversation:${c}x:1`,
			`conversation: ${c}:1`,
			`members:${c}:1:x`,
			`other:${c}:1`,
			'user:',
			`user:${a.slice(0, 8)}`,
			`room:${c}`,
			'',
			`${c}`
		]) {
			expect(await channelAccess(a, topic), topic).toEqual(none);
		}
	});
});

describe('realtime triggers', () => {
	test('nothing a send fires notifies: a NOTIFY would serialize every sending commit on the global notify lock', async () => {
		// The Realtime server reads realtime.messages through logical replication and the delivery
		// worker polls its outbox, so no trigger on the tables a send writes may NOTIFY.
		const { rows } = await db.pool.query<{ table: string; fn: string }>(
			`select t.tgrelid::regclass::text as table, p.oid::regprocedure::text as fn
			 from pg_catalog.pg_trigger t join pg_catalog.pg_proc p on p.oid = t.tgfoid
			 where t.tgrelid in ('public.messages'::regclass, 'public.conversations'::regclass,
			                     'realtime.messages'::regclass, 'delivery.outbox'::regclass)
			   and not t.tgisinternal and p.prosrc ~* 'notify'`
		);
		expect(rows).toEqual([]);
		const publication = await db.pool.query(
			`select 1 from pg_catalog.pg_publication_tables
			 where pubname = 'supabase_realtime_messages_publication' and schemaname = 'realtime' and tablename = 'messages'`
		);
		expect(publication.rowCount).toBe(1);
	});

	test('a new message: message_created to the conversation and inbox to every other participant', async () => {
		const [a, b, c] = [await user(), await user(), await user()];
		const conv = await groupOf(a, [b, c]);
		let message: Record<string, unknown> = {};
		const rows = await broadcastsOf(async () => {
			message = await rpcOne(db.pool, a, 'send_message', { conversation_id: conv, content_encrypted: 'hi' });
		});
		expect(rows.every((r) => r.private)).toBe(true);
		const created = rows.filter((r) => r.event === 'message_created');
		expect(created).toHaveLength(1);
		expect(created[0].topic).toBe(`conversation:${conv}:1`);
		expect(created[0].payload).toMatchObject({ id: message.id, seq: 1, sender_id: a, content_encrypted: 'hi' });
		const inbox = rows.filter((r) => r.event === 'inbox');
		expect(inbox.map((r) => r.topic).sort()).toEqual([`user:${b}`, `user:${c}`].sort());
		expect(inbox[0].payload).toEqual({ conversation_id: conv, seq: 1, sender_id: a, key_epoch: 1 });
		expect(rows).toHaveLength(3);
	});

	test('edit and delete: message_updated with the new row', async () => {
		const a = await user();
		const conv = await groupOf(a, []);
		const m = await rpcOne<{ id: string }>(db.pool, a, 'send_message', { conversation_id: conv, content_encrypted: 'v1' });
		const edited = await broadcastsOf(() =>
			rpc(db.pool, a, 'edit_message', { message_id: m.id, content_encrypted: 'v2' })
		);
		expect(edited).toEqual([
			expect.objectContaining({
				topic: `conversation:${conv}:1`,
				event: 'message_updated',
				payload: expect.objectContaining({ id: m.id, content_encrypted: 'v2' })
			})
		]);
		const deleted = await broadcastsOf(() => rpc(db.pool, a, 'delete_message', { message_id: m.id }));
		expect(deleted).toHaveLength(1);
		expect(deleted[0].payload).toMatchObject({ id: m.id, content_encrypted: null });
		expect(deleted[0].payload.deleted_at).not.toBeNull();
		expect(await broadcastsOf(() => rpc(db.pool, a, 'delete_message', { message_id: m.id }))).toEqual([]);
	});

	test('reactions: reaction_changed added / removed, sealed like the row', async () => {
		const a = await user();
		const conv = await groupOf(a, []);
		const m = await rpcOne<{ id: string }>(db.pool, a, 'send_message', {
			conversation_id: conv,
			content_encrypted: 'x',
			encryption: { epoch: 1, nonce: 'bm9uY2U=' }
		});
		const args = reactionArgs(m.id);
		const { message_id: _id, ...sealed } = args;
		const added = await broadcastsOf(() => rpc(db.pool, a, 'add_reaction', args));
		expect(added).toEqual([
			expect.objectContaining({
				topic: `conversation:${conv}:1`,
				event: 'reaction_changed',
				payload: { message_id: m.id, user_id: a, ...sealed, op: 'added' }
			})
		]);
		expect(await broadcastsOf(() => rpc(db.pool, a, 'add_reaction', { ...args, nonce: randomBase64(24) }))).toEqual([]);
		const removed = await broadcastsOf(() => rpc(db.pool, a, 'remove_reaction', { message_id: m.id, tag: args.tag }));
		expect(removed.map((r) => r.payload)).toEqual([{ message_id: m.id, user_id: a, ...sealed, op: 'removed' }]);
	});

	test('receipts: receipt_updated when a watermark moves, nothing when it does not', async () => {
		const [a, b] = [await user(), await user()];
		const conv = await groupOf(a, [b]);
		await rpc(db.pool, a, 'send_message', { conversation_id: conv, content_encrypted: 'x' });
		const moved = await broadcastsOf(() => rpc(db.pool, b, 'mark_read', { conversation_id: conv, up_to_seq: 1 }));
		expect(moved).toEqual([
			expect.objectContaining({
				topic: `conversation:${conv}:1`,
				event: 'receipt_updated',
				payload: { conversation_id: conv, user_id: b, last_delivered_seq: 1, last_read_seq: 1 }
			})
		]);
		expect(await broadcastsOf(() => rpc(db.pool, b, 'mark_delivered', { conversation_id: conv, up_to_seq: 1 }))).toEqual([]);
	});

	test('membership: participants_changed with key_epoch, conversation_added / conversation_removed', async () => {
		const [a, b] = [await user(), await user()];
		const created = await broadcastsOf(() => groupOf(a, []));
		const conv = (created.find((r) => r.event === 'participants_changed')!.payload.conversation_id as string) ?? '';
		expect(created.map((r) => [r.topic, r.event])).toEqual([
			[`conversation:${conv}:1`, 'participants_changed'],
			[`user:${a}`, 'conversation_added']
		]);
		const added = await broadcastsOf(() => rpc(db.pool, a, 'add_participant', { conversation_id: conv, user_id: b }));
		// Under the default history rule an addition moves the epoch too: told on the old topic, then the move.
		expect(added).toEqual([
			expect.objectContaining({
				topic: `conversation:${conv}:1`,
				event: 'key_epoch_changed',
				payload: { conversation_id: conv, key_epoch: 2 }
			}),
			expect.objectContaining({
				topic: `conversation:${conv}:1`,
				event: 'participants_changed',
				payload: { conversation_id: conv, user_id: b, role: 'member', op: 'added', key_epoch: 1 }
			}),
			expect.objectContaining({ topic: `user:${b}`, event: 'conversation_added', payload: { conversation_id: conv } })
		]);
		const role = await broadcastsOf(() =>
			rpc(db.pool, a, 'set_participant_role', { conversation_id: conv, user_id: b, role: 'moderator' })
		);
		expect(role.map((r) => r.payload)).toEqual([
			{ conversation_id: conv, user_id: b, role: 'moderator', op: 'role', key_epoch: 2 }
		]);
		const removed = await broadcastsOf(() =>
			rpc(db.pool, a, 'remove_participant', { conversation_id: conv, user_id: b })
		);
		// Told on the epoch it ends, where everyone still is; then the move.
		expect(removed).toEqual([
			expect.objectContaining({
				topic: `conversation:${conv}:2`,
				event: 'key_epoch_changed',
				payload: { conversation_id: conv, key_epoch: 3 }
			}),
			expect.objectContaining({
				topic: `conversation:${conv}:2`,
				event: 'participants_changed',
				payload: { conversation_id: conv, user_id: b, role: 'moderator', op: 'removed', key_epoch: 2 }
			}),
			expect.objectContaining({ topic: `user:${b}`, event: 'conversation_removed', payload: { conversation_id: conv } })
		]);
		// The last one out deletes the group, and is told so on their user topic.
		const gone = await broadcastsOf(() => rpc(db.pool, a, 'leave_conversation', { conversation_id: conv }));
		expect(gone.map((r) => [r.topic, r.event])).toEqual([[`user:${a}`, 'conversation_removed']]);
	});

	test('every way out bumps the epoch once: removal, leaving, and an account deleted', async () => {
		const [a, b, c, d] = [await user(), await user(), await user(), await user()];
		const conv = await groupOf(a, [b, c, d]);
		const epoch = async () => (await db.pool.query('select key_epoch from public.conversations where id = $1', [conv])).rows[0].key_epoch;
		await rpc(db.pool, a, 'remove_participant', { conversation_id: conv, user_id: b });
		expect(await epoch()).toBe(2);
		await rpc(db.pool, c, 'leave_conversation', { conversation_id: conv });
		expect(await epoch()).toBe(3);
		const deleted = await broadcastsOf(() => db.pool.query('delete from auth.users where id = $1', [d]));
		expect(await epoch()).toBe(4);
		expect(deleted).toContainEqual(
			expect.objectContaining({ topic: `conversation:${conv}:3`, event: 'key_epoch_changed', payload: { conversation_id: conv, key_epoch: 4 } })
		);
		expect(await channelAccess(d, `members:${conv}:4`)).toEqual(none);
	});

	test('a topic has one spelling: an uppercase id is refused', async () => {
		const a = await user();
		const conv = await groupOf(a, []);
		expect(await channelAccess(a, `members:${conv}:1`)).toEqual({ receive: true, send: true });
		expect(await channelAccess(a, `members:${conv.toUpperCase()}:1`)).toEqual(none);
	});

	test('a direct conversation announces itself to both users', async () => {
		const [a, b] = [await user(), await user()];
		const rows = await broadcastsOf(() => rpc(db.pool, a, 'create_direct_conversation', { other_user_id: b }));
		expect(rows.filter((r) => r.event === 'conversation_added').map((r) => r.topic).sort()).toEqual(
			[`user:${a}`, `user:${b}`].sort()
		);
		expect(await broadcastsOf(() => rpc(db.pool, b, 'create_direct_conversation', { other_user_id: a }))).toEqual([]);
	});

	test('no client can put an event on a database topic, not even a member', async () => {
		const [a, member, outsider] = [await user(), await user(), await user()];
		const conv = await groupOf(a, [member]);
		for (const [who, topic] of [
			[member, `conversation:${conv}:1`],
			[a, `conversation:${conv}:1`],
			[outsider, `conversation:${conv}:1`],
			[member, `user:${member}`],
			[member, `user:${a}`]
		]) {
			await expectDbError(
				asActor(
					db.pool,
					who,
					(c) =>
						c.query(
							`insert into realtime.messages (topic, extension, event, payload, private) values ($1, 'broadcast', 'message_created', '{}', true)`,
							[topic]
						),
					{ topic }
				),
				'42501'
			);
		}
	});

	test('the embedded stack is told which changes can revoke access: participant deletes only', async () => {
		const { rows } = await db.pool.query(
			`select t.schemaname, t.tablename, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate
			 from pg_catalog.pg_publication p join pg_catalog.pg_publication_tables t on t.pubname = p.pubname
			 where p.pubname = 'realtime_authorization'`
		);
		expect(rows).toEqual([
			{
				schemaname: 'public',
				tablename: 'conversation_participants',
				pubinsert: false,
				pubupdate: false,
				pubdelete: true,
				pubtruncate: false
			}
		]);
	});
});
