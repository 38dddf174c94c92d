/**
 * The live events the triggers write, held to src/lib/chat/live-payloads.ts: real users act
 * through the RPCs, and every row the triggers add to realtime.messages must name the expected
 * topic and event and pass its event's decoder in strict mode (no key missing, none extra). Every
 * event of DB_EVENTS and USER_EVENTS must be seen at least once.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { conversationTopic as topic, DB_EVENTS as DB, USER_EVENTS as USER, userTopic as inboxOf } from '#lib/chat/live.ts';
import { LIVE_EVENTS, decodeLivePayload, type LiveEvent } from '#lib/chat/live-payloads.ts';
import type { RpcArgs, RpcName, RpcReturns } from '#lib/rpc.ts';
import { createUser, openChatDb, reactionArgs, realtimeRows, rpcOne, type ChatDb } from './helpers.ts';

let db: ChatDb;
beforeAll(async () => {
	db = await openChatDb();
});
afterAll(async () => {
	await db.close();
});

/** An RPC as `actor` with the names, arguments and result of the generated types. */
const call = <N extends RpcName>(actor: string, name: N, args: RpcArgs<N>) =>
	rpcOne<RpcReturns<N>>(db.pool, actor, name, args);

const seen = new Set<string>();

/**
 * Runs `action`, then checks what the triggers wrote meanwhile: exactly the [topic, event] pairs
 * `expected` names for its result (in any order), every payload strict. Resolves with the result.
 */
async function expectEvents<T>(action: () => Promise<T>, expected: (result: T) => [string, LiveEvent][]): Promise<T> {
	const before = (await realtimeRows(db.pool)).length;
	const result = await action();
	const rows = (await realtimeRows(db.pool)).slice(before);
	const sort = (list: [string, string][]) => list.map((e) => e.join(' ')).sort();
	expect(sort(rows.map((r) => [r.topic, r.event]))).toEqual(sort(expected(result)));
	for (const row of rows) {
		expect(row.private, `${row.event} is private`).toBe(true);
		const decoded = decodeLivePayload(row.event as LiveEvent, row.payload, { strict: true });
		expect(decoded, `${row.event} ${JSON.stringify(row.payload)}`).toEqual(row.payload);
		seen.add(row.event);
	}
	return result;
}

test('every trigger sends its event with exactly the payload shape its decoder names', async () => {
	const [a, b, c] = [
		await createUser(db.pool, 'ana@example.com'),
		await createUser(db.pool, 'bob@example.com'),
		await createUser(db.pool, 'cy@example.com')
	];

	const { id: C } = await expectEvents(
		() => call(a, 'create_group_conversation', { title: 'G', participant_ids: [b] }),
		({ id }) => [
			[topic(id, 1), DB.participantsChanged],
			[topic(id, 1), DB.participantsChanged],
			[inboxOf(a), USER.conversationAdded],
			[inboxOf(b), USER.conversationAdded]
		]
	);
	const { id: message } = await expectEvents(
		() => call(a, 'send_message', { conversation_id: C, content_encrypted: 'c2VhbGVk', mentions: [b] }),
		() => [
			[topic(C, 1), DB.messageCreated],
			[inboxOf(b), USER.inbox]
		]
	);
	await expectEvents(
		() => call(a, 'edit_message', { message_id: message, content_encrypted: 'ZWRpdGVk', encryption: { epoch: 1, nonce: 'bg==' } }),
		() => [[topic(C, 1), DB.messageUpdated]]
	);
	const reaction = reactionArgs(message) as RpcArgs<'add_reaction'>;
	await expectEvents(() => call(b, 'add_reaction', reaction), () => [[topic(C, 1), DB.reactionChanged]]);
	await expectEvents(() => call(b, 'remove_reaction', { message_id: message, tag: reaction.tag }), () => [[topic(C, 1), DB.reactionChanged]]);
	await expectEvents(() => call(b, 'mark_delivered', { conversation_id: C, up_to_seq: 1 }), () => [[topic(C, 1), DB.receiptUpdated]]);
	await expectEvents(() => call(b, 'mark_read', { conversation_id: C, up_to_seq: 1 }), () => [[topic(C, 1), DB.receiptUpdated]]);
	const wrapped = (user_id: string) => ({ user_id, wrapped_key: 'd3JhcHBlZA==', nonce: 'bm9uY2U=' });
	await expectEvents(
		() => call(a, 'publish_conversation_keys', { conversation_id: C, epoch: 1, keys: [wrapped(a), wrapped(b)] }),
		() => [[inboxOf(b), USER.keyAdded]]
	);

	// Under the default history rule (joined) an addition moves the epoch, told after the addition.
	await expectEvents(() => call(a, 'add_participant', { conversation_id: C, user_id: c }), () => [
		[topic(C, 1), DB.participantsChanged],
		[inboxOf(c), USER.conversationAdded],
		[topic(C, 1), DB.keyEpochChanged]
	]);
	await expectEvents(() => call(a, 'set_participant_role', { conversation_id: C, user_id: c, role: 'moderator' }), () => [
		[topic(C, 2), DB.participantsChanged]
	]);
	await expectEvents(() => call(a, 'set_history_visibility', { conversation_id: C, history_visibility: 'shared' }), () => [
		[topic(C, 2), DB.historyVisibilityChanged]
	]);
	// A removal is told on the epoch it ends; key_epoch_changed moves everyone left to the next.
	await expectEvents(() => call(a, 'remove_participant', { conversation_id: C, user_id: c }), () => [
		[topic(C, 2), DB.participantsChanged],
		[inboxOf(c), USER.conversationRemoved],
		[topic(C, 2), DB.keyEpochChanged]
	]);
	await expectEvents(() => call(a, 'send_message', { conversation_id: C, content_encrypted: 'c2VhbGVk' }), () => [
		[topic(C, 3), DB.messageCreated],
		[inboxOf(b), USER.inbox]
	]);
	await expectEvents(() => call(a, 'delete_message', { message_id: message }), () => [[topic(C, 3), DB.messageUpdated]]);

	await expectEvents(() => call(b, 'leave_conversation', { conversation_id: C }), () => [
		[topic(C, 3), DB.participantsChanged],
		[inboxOf(b), USER.conversationRemoved],
		[topic(C, 3), DB.keyEpochChanged]
	]);
	// The last one out deletes the conversation: only the leaver is told.
	await expectEvents(() => call(a, 'leave_conversation', { conversation_id: C }), () => [[inboxOf(a), USER.conversationRemoved]]);

	expect([...seen].sort()).toEqual([...LIVE_EVENTS].sort());
});
