/**
 * The history rule of a group (supabase/migrations/20261202000300_history_rule.sql): under
 * `joined` an added member (also one removed and added back) can be given no key older than
 * their joining, under `shared` members holding older keys may give them to any current member;
 * only admins choose, and everyone else (members, moderators, outsiders, removed members, anon,
 * either side of a direct conversation) is refused and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
	createUser,
	expectDbError,
	openChatDb,
	realtimeRows,
	rpc,
	rpcOne,
	snapshot,
	type ChatDb
} from './helpers.ts';

let db: ChatDb;
let n = 0;
const user = async () => {
	const id = await createUser(db.pool, `h${++n}@example.com`);
	await db.pool.query(`update public.profiles set public_key = 'pk-' || id where id = $1`, [id]);
	return id;
};

beforeAll(async () => {
	db = await openChatDb(20);
});
afterAll(async () => {
	await db.close();
});

const keyFor = (user_id: string, epoch = 0) => ({ user_id, wrapped_key: `wrapped-${epoch}-${user_id}`, nonce: 'nonce' });

async function groupOf(admin: string, members: string[]): Promise<string> {
	return (await rpcOne<{ id: string }>(db.pool, admin, 'create_group_conversation', { title: 'G', participant_ids: members }))
		.id;
}

async function conversation(id: string): Promise<{ key_epoch: number; history_visibility: string }> {
	return (await db.pool.query('select key_epoch, history_visibility from public.conversations where id = $1', [id])).rows[0];
}

async function joinedEpoch(conversationId: string, userId: string): Promise<number | undefined> {
	const { rows } = await db.pool.query(
		'select joined_epoch from public.conversation_participants where conversation_id = $1 and user_id = $2',
		[conversationId, userId]
	);
	return rows[0]?.joined_epoch;
}

/** The epochs `userId` holds a key row for, ascending. */
async function epochsOf(conversationId: string, userId: string): Promise<number[]> {
	const { rows } = await db.pool.query(
		'select epoch from public.conversation_keys where conversation_id = $1 and user_id = $2 order by epoch',
		[conversationId, userId]
	);
	return rows.map((r) => r.epoch);
}

/** Keys the current epoch for `members`, as the first sender of an epoch does. */
async function keyCurrent(conversationId: string, publisher: string, members: string[]): Promise<number> {
	const { key_epoch } = await conversation(conversationId);
	await rpc(db.pool, publisher, 'publish_conversation_keys', {
		conversation_id: conversationId,
		epoch: key_epoch,
		keys: members.map((m) => keyFor(m, key_epoch))
	});
	return key_epoch;
}

/** What `members_missing_key` tells `actor`, as `user@epoch`, named by `names`. */
async function missing(conversationId: string, actor: string, names: Record<string, string>): Promise<string[]> {
	const rows = await rpc<{ user_id: string; epoch: number }>(db.pool, actor, 'members_missing_key', {
		conversation_id: conversationId
	});
	return rows.map((r) => `${names[r.user_id] ?? '?'}@${r.epoch}`);
}

const publish = (actor: string, conversation_id: string, epoch: number, users: string[]) =>
	rpc(db.pool, actor, 'publish_conversation_keys', { conversation_id, epoch, keys: users.map((u) => keyFor(u, epoch)) });

describe('set_history_visibility', () => {
	test('a group starts with joined; an admin switches it, members are told once per change', async () => {
		const [ana, bo] = [await user(), await user()];
		const c = await groupOf(ana, [bo]);
		const seen = await rpcOne<Record<string, unknown>>(db.pool, bo, 'get_conversation', { conversation_id: c });
		expect(seen).toMatchObject({ history_visibility: 'joined', key_epoch: 1 });
		expect((seen.participants as Record<string, unknown>[]).map((p) => p.joined_epoch)).toEqual([1, 1]);

		const before = (await realtimeRows(db.pool)).length;
		const result = await rpcOne(db.pool, ana, 'set_history_visibility', { conversation_id: c, history_visibility: 'shared' });
		expect(result).toMatchObject({ id: c, history_visibility: 'shared', key_epoch: 1 });
		// The same rule again changes nothing and tells nobody.
		await rpc(db.pool, ana, 'set_history_visibility', { conversation_id: c, history_visibility: 'shared' });
		await rpc(db.pool, ana, 'set_history_visibility', { conversation_id: c, history_visibility: 'joined' });
		const sent = (await realtimeRows(db.pool)).slice(before);
		expect(sent).toEqual([
			{
				topic: `conversation:${c}:1`,
				event: 'history_visibility_changed',
				payload: { conversation_id: c, history_visibility: 'shared' },
				private: true
			},
			{
				topic: `conversation:${c}:1`,
				event: 'history_visibility_changed',
				payload: { conversation_id: c, history_visibility: 'joined' },
				private: true
			}
		]);
		for (const history_visibility of ['all', '', 'Shared', null]) {
			await expectDbError(
				rpc(db.pool, ana, 'set_history_visibility', { conversation_id: c, history_visibility }),
				'PT400',
				'invalid_history_visibility'
			);
		}
	});

	test('members, moderators, outsiders, removed members, anon and direct conversations cannot change it', async () => {
		const [admin, moderator, member, removed, outsider] = [await user(), await user(), await user(), await user(), await user()];
		const c = await groupOf(admin, [moderator, member, removed]);
		await rpc(db.pool, admin, 'set_participant_role', { conversation_id: c, user_id: moderator, role: 'moderator' });
		await rpc(db.pool, admin, 'remove_participant', { conversation_id: c, user_id: removed });
		const direct = (await rpcOne<{ id: string }>(db.pool, admin, 'create_direct_conversation', { other_user_id: member }))
			.id;
		const args = { conversation_id: c, history_visibility: 'shared' };
		const before = await snapshot(db.pool);
		const broadcasts = (await realtimeRows(db.pool)).length;

		for (const actor of [member, moderator]) {
			await expectDbError(rpc(db.pool, actor, 'set_history_visibility', args), 'PT403', 'not_admin');
		}
		for (const actor of [outsider, removed]) {
			await expectDbError(rpc(db.pool, actor, 'set_history_visibility', args), 'PT404', 'conversation_not_found');
		}
		await expectDbError(
			rpc(db.pool, outsider, 'set_history_visibility', { conversation_id: randomUUID(), history_visibility: 'shared' }),
			'PT404',
			'conversation_not_found'
		);
		await expectDbError(rpc(db.pool, 'anon', 'set_history_visibility', args), '42501');
		for (const actor of [admin, member]) {
			await expectDbError(
				rpc(db.pool, actor, 'set_history_visibility', { conversation_id: direct, history_visibility: 'shared' }),
				'PT403',
				'direct_conversation'
			);
		}
		expect(await snapshot(db.pool)).toEqual(before);
		expect((await realtimeRows(db.pool)).length).toBe(broadcasts);
		// Not even a direct write can give a direct conversation a rule.
		await expectDbError(
			db.pool.query(`update public.conversations set history_visibility = 'shared' where id = $1`, [direct]),
			'23514'
		);
	});
});

describe("the 'joined' rule", () => {
	test('adding a member moves the epoch: the newcomer can be given no key from before', async () => {
		const [ana, bo, dev] = [await user(), await user(), await user()];
		const names = { [ana]: 'ana', [bo]: 'bo', [dev]: 'dev' };
		const c = await groupOf(ana, [bo]);
		await keyCurrent(c, ana, [ana, bo]);
		await rpc(db.pool, ana, 'add_participant', { conversation_id: c, user_id: dev });
		expect(await conversation(c)).toEqual({ key_epoch: 2, history_visibility: 'joined' });
		expect(await joinedEpoch(c, dev)).toBe(2);

		// Nobody can wrap epoch 1 for Dev: not Ana who holds it, not Dev himself.
		expect(await missing(c, ana, names)).toEqual([]);
		await expectDbError(publish(ana, c, 1, [dev]), 'PT409', 'stale_epoch');
		await expectDbError(publish(dev, c, 1, [dev]), 'PT409', 'stale_epoch');
		await expectDbError(publish(ana, c, 3, [dev]), 'PT409', 'stale_epoch');
		// The new epoch is keyed for everyone, Dev included.
		await keyCurrent(c, bo, [ana, bo, dev]);
		expect(await epochsOf(c, dev)).toEqual([2]);
	});

	test('a member removed and added back cannot read what was sent while she was out', async () => {
		const [ana, bo, cleo] = [await user(), await user(), await user()];
		const names = { [ana]: 'ana', [bo]: 'bo', [cleo]: 'cleo' };
		const c = await groupOf(ana, [bo, cleo]);
		await keyCurrent(c, ana, [ana, bo, cleo]);
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: cleo });
		// "Secret plan" is sent under epoch 2, keyed for Ana and Bo only.
		const out = await keyCurrent(c, ana, [ana, bo]);
		expect(out).toBe(2);
		await rpc(db.pool, ana, 'send_message', {
			conversation_id: c,
			content_encrypted: 'c2VjcmV0',
			encryption: { epoch: out, nonce: 'bg==' }
		});

		await rpc(db.pool, ana, 'add_participant', { conversation_id: c, user_id: cleo });
		expect(await conversation(c)).toMatchObject({ key_epoch: 3 });
		expect(await joinedEpoch(c, cleo)).toBe(3);
		expect(await missing(c, ana, names)).toEqual([]);
		await expectDbError(publish(ana, c, out, [cleo]), 'PT409', 'stale_epoch');
		await expectDbError(publish(bo, c, out, [ana, cleo]), 'PT409', 'stale_epoch');
		await keyCurrent(c, ana, [ana, bo, cleo]);
		// Her key of epoch 1 is the one she had as a member; nothing of epoch 2 ever reaches her.
		expect(await epochsOf(c, cleo)).toEqual([1, 3]);
	});

	test('switching back from shared stops the sharing of old keys', async () => {
		const [ana, bo, dev] = [await user(), await user(), await user()];
		const names = { [ana]: 'ana', [bo]: 'bo', [dev]: 'dev' };
		const c = await groupOf(ana, [bo]);
		await rpc(db.pool, ana, 'set_history_visibility', { conversation_id: c, history_visibility: 'shared' });
		await keyCurrent(c, ana, [ana, bo]);
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: bo });
		await keyCurrent(c, ana, [ana]);
		await rpc(db.pool, ana, 'add_participant', { conversation_id: c, user_id: dev });
		expect(await missing(c, ana, names)).toEqual(['dev@2', 'dev@1']);

		await rpc(db.pool, ana, 'set_history_visibility', { conversation_id: c, history_visibility: 'joined' });
		expect(await missing(c, ana, names)).toEqual(['dev@2']);
		await expectDbError(publish(ana, c, 1, [dev]), 'PT409', 'stale_epoch');
		await publish(ana, c, 2, [dev]);
		expect(await epochsOf(c, dev)).toEqual([2]);
	});
});

describe("the 'shared' rule", () => {
	test('adding keeps the epoch; holders list and give the old keys to the newcomer, and key_added tells him', async () => {
		const [ana, bo, cleo, dev] = [await user(), await user(), await user(), await user()];
		const names = { [ana]: 'ana', [bo]: 'bo', [cleo]: 'cleo', [dev]: 'dev' };
		const c = await groupOf(ana, [bo, cleo]);
		await rpc(db.pool, ana, 'set_history_visibility', { conversation_id: c, history_visibility: 'shared' });
		await keyCurrent(c, ana, [ana, bo, cleo]);
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: cleo });
		await keyCurrent(c, bo, [ana, bo]);

		await rpc(db.pool, ana, 'add_participant', { conversation_id: c, user_id: dev });
		expect(await conversation(c)).toEqual({ key_epoch: 2, history_visibility: 'shared' });
		expect(await joinedEpoch(c, dev)).toBe(2);
		// Newest epoch first; Cleo is not a member, so she is listed nowhere.
		expect(await missing(c, ana, names)).toEqual(['dev@2', 'dev@1']);
		// Dev holds nothing yet, so he learns nothing; an outsider neither.
		expect(await missing(c, dev, names)).toEqual([]);
		expect(await missing(c, cleo, names)).toEqual([]);

		const before = (await realtimeRows(db.pool)).length;
		await publish(bo, c, 1, [dev]);
		await publish(ana, c, 2, [dev]);
		expect(await epochsOf(c, dev)).toEqual([1, 2]);
		const told = (await realtimeRows(db.pool)).slice(before);
		expect(told.map((r) => [r.topic, r.event, r.payload.epoch])).toEqual([
			[`user:${dev}`, 'key_added', 1],
			[`user:${dev}`, 'key_added', 2]
		]);
		expect(await missing(c, ana, names)).toEqual([]);
	});

	test('a member removed and added back can be given what was sent while she was out', async () => {
		const [ana, bo, cleo] = [await user(), await user(), await user()];
		const names = { [ana]: 'ana', [bo]: 'bo', [cleo]: 'cleo' };
		const c = await groupOf(ana, [bo, cleo]);
		await rpc(db.pool, ana, 'set_history_visibility', { conversation_id: c, history_visibility: 'shared' });
		await keyCurrent(c, ana, [ana, bo, cleo]);
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: cleo });
		const out = await keyCurrent(c, ana, [ana, bo]);
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: bo });
		await keyCurrent(c, ana, [ana]);

		await rpc(db.pool, ana, 'add_participant', { conversation_id: c, user_id: cleo });
		expect(await missing(c, ana, names)).toEqual(['cleo@3', 'cleo@2']);
		await publish(ana, c, out, [cleo]);
		expect(await epochsOf(c, cleo)).toEqual([1, 2]);
	});

	test('old keys only from a holder, only for current members, only for epochs that exist', async () => {
		const [ana, bo, dev, gone, outsider] = [await user(), await user(), await user(), await user(), await user()];
		const c = await groupOf(ana, [bo, gone]);
		await rpc(db.pool, ana, 'set_history_visibility', { conversation_id: c, history_visibility: 'shared' });
		await keyCurrent(c, ana, [ana, bo, gone]);
		await rpc(db.pool, ana, 'remove_participant', { conversation_id: c, user_id: gone });
		await rpc(db.pool, ana, 'add_participant', { conversation_id: c, user_id: dev });
		expect(await conversation(c)).toMatchObject({ key_epoch: 2 });
		const before = await snapshot(db.pool);

		// Dev holds no key of epoch 1 and may not make one up, for himself or anyone.
		await expectDbError(publish(dev, c, 1, [dev]), 'PT403', 'key_not_held');
		await expectDbError(publish(dev, c, 1, [bo]), 'PT403', 'key_not_held');
		// Holders wrap for current members only: not a removed one, not a stranger, not a made-up id.
		for (const users of [[gone], [outsider], [dev, randomUUID()], [dev, dev]]) {
			await expectDbError(publish(ana, c, 1, users), 'PT400', 'keys_mismatch');
		}
		// Outsiders and removed members are not told the conversation exists.
		for (const actor of [outsider, gone]) {
			await expectDbError(publish(actor, c, 1, [dev]), 'PT404', 'conversation_not_found');
		}
		// Epochs that are not there yet, or never were.
		for (const epoch of [0, -1, 3]) await expectDbError(publish(ana, c, epoch, [dev]), 'PT409', 'stale_epoch');
		await expectDbError(rpc(db.pool, 'anon', 'publish_conversation_keys', { conversation_id: c, epoch: 1, keys: [keyFor(dev)] }), '42501');
		expect(await snapshot(db.pool)).toEqual(before);

		// Existing rows are never replaced, whatever the epoch.
		await publish(ana, c, 1, [dev]);
		await rpc(db.pool, bo, 'publish_conversation_keys', {
			conversation_id: c,
			epoch: 1,
			keys: [{ user_id: dev, wrapped_key: 'other', nonce: 'n' }]
		});
		const { rows } = await db.pool.query(
			'select wrapped_key, wrapped_by from public.conversation_keys where conversation_id = $1 and epoch = 1 and user_id = $2',
			[c, dev]
		);
		expect(rows).toEqual([{ wrapped_key: keyFor(dev, 1).wrapped_key, wrapped_by: ana }]);
	});

	test('switching an existing group to shared lets a late joiner be given what came before him', async () => {
		const [ana, dev] = [await user(), await user()];
		const names = { [ana]: 'ana', [dev]: 'dev' };
		const c = await groupOf(ana, []);
		await keyCurrent(c, ana, [ana]);
		await rpc(db.pool, ana, 'add_participant', { conversation_id: c, user_id: dev });
		await keyCurrent(c, ana, [ana, dev]);
		expect(await missing(c, ana, names)).toEqual([]);
		await rpc(db.pool, ana, 'set_history_visibility', { conversation_id: c, history_visibility: 'shared' });
		expect(await missing(c, ana, names)).toEqual(['dev@1']);
		await publish(ana, c, 1, [dev]);
		expect(await epochsOf(c, dev)).toEqual([1, 2]);
	});
});
