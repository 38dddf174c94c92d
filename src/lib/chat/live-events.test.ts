import { describe, expect, it } from 'vitest';
import { newConversationKey } from '../crypto/e2ee.ts';
import { checkBytes } from '../crypto/signing.ts';
import type { ConversationChannels } from './conversation-channels.ts';
import { ConversationList } from './conversation-list.svelte.ts';
import { LiveEvents } from './live-events.ts';
import { Reactions } from './reactions.ts';
import type { Receipts } from './receipts.ts';
import type { KeyRequests } from './key-requests.ts';
import { FakeRpcError, FakeSupabase } from './testing/fake-supabase.ts';
import { testId } from './testing/ids.ts';
import { reactor, sealedReaction } from './testing/reactions.ts';
import { Timeline } from './timeline.svelte.ts';
import type { ParticipantView } from './types.ts';

const ME = testId('me');
const BOB = testId('bob');
const MALLORY = testId('mallory');
const C1 = testId('c1');
const C2 = testId('c2');

const member = (user_id: string): ParticipantView =>
	({ user_id, role: 'member', last_delivered_seq: 0, last_read_seq: 0 }) as ParticipantView;

function setup() {
	const conversation = {
		id: C1,
		kind: 'group',
		title: 'T',
		created_at: '2026-01-01',
		key_epoch: 1,
		participants: [member(ME), member(BOB)]
	};
	let gone = false;
	const sb = new FakeSupabase(ME);
	const found = () => {
		if (gone) throw new FakeRpcError(404, 'conversation_not_found', 'Conversation not found');
		return conversation;
	};
	sb.rpcHandlers = {
		list_conversations: () => [found()],
		get_conversation: found,
		get_messages: () => [],
		get_reactions: () => []
	};
	const client = () => sb.client;
	const list = new ConversationList({
		client,
		me: () => ME,
		decrypt: async () => ({ text: null }),
		membersChanged: () => undefined,
		fetched: () => undefined
	});
	const timeline = new Timeline({
		me: () => ME,
		verify: async () => 'verified',
		key: async () => null,
		participants: (id) => list.participants[id] ?? [],
		reactions: () => [],
		applied: () => undefined,
		merged: () => undefined,
		opened: () => undefined
	});
	// Reactions are sealed under this key and signed by whoever `signers` names.
	const key = newConversationKey();
	const signers = new Map<string, string[]>();
	const reactions = new Reactions({
		client,
		me: () => ME,
		key: async () => key,
		verify: (userId, bytes, signature) => checkBytes(bytes, signature, signers.get(userId) ?? []),
		sign: async () => '',
		message: () => undefined,
		show: () => undefined
	});
	const followed: string[] = [];
	const forgotten: string[] = [];
	const queued: string[] = [];
	const live = new LiveEvents({
		me: () => ME,
		list: () => list,
		timeline: () => timeline,
		channels: () => ({ follow: (id: string) => void followed.push(id) }) as unknown as ConversationChannels,
		reactions: () => reactions,
		receipts: () =>
			({
				queue: (id: string, kind: string, seq: number) => void queued.push(`${id}:${kind}:${seq}`)
			}) as unknown as Receipts,
		keyRequests: () => ({ answered: () => undefined }) as unknown as KeyRequests,
		watch: async () => undefined,
		client,
		isOpen: () => true,
		catchUp: async () => undefined,
		forget: (id) => void forgotten.push(id),
		keyRequested: () => undefined,
		typing: () => undefined,
		presence: () => undefined,
		presenceLeft: () => undefined,
		shareKeyWith: async () => undefined
	});
	const table = live.table();
	return {
		conversation,
		key,
		signers,
		list,
		timeline,
		reactions,
		live,
		table,
		user: live.userTable(),
		followed,
		forgotten,
		queued,
		calls: () => sb.rpcCalls.map((c) => c.name),
		lose: () => (gone = true)
	};
}

/** A `messages` row as the trigger broadcasts it (`to_jsonb(new)`). */
const message = (seq: number, sender: string, id = testId(`m${seq}`)) => ({
	id,
	conversation_id: C1,
	sender_id: sender,
	seq,
	content_encrypted: 'x',
	message_type: 'text',
	attachment: null,
	encryption: null,
	reply_to_id: null,
	client_id: null,
	created_at: '2026-01-01T00:00:00+00:00',
	edited_at: null,
	deleted_at: null
});

describe('LiveEvents', () => {
	it('applies what the database says, and drops what contradicts what the device knows', async () => {
		const t = setup();
		await t.list.load();
		await t.table.db.message_created.handle(C1, message(1, BOB));
		await t.table.db.message_created.handle(C1, message(1, BOB, testId('other')));
		await t.table.db.message_created.handle(C1, { ...message(2, BOB), conversation_id: C2 });
		await t.table.db.message_created.handle(C1, message(3, MALLORY));
		expect(t.timeline.messagesOf(C1).map((m) => m.id)).toEqual([testId('m1')]);
		const m1 = testId('m1');
		const [bob, mallory] = [await reactor(BOB), await reactor(MALLORY)];
		for (const r of [bob, mallory]) t.signers.set(r.userId, [r.signing.publicKey]);
		const at = { conversationId: C1, messageId: m1, epoch: 1, key: t.key };
		// Mallory is no member: her (well-signed) reaction is dropped before it is opened.
		await t.table.db.reaction_changed.handle(C1, {
			...(await sealedReaction(mallory, at, '💀')),
			op: 'added'
		});
		await t.table.db.reaction_changed.handle(C1, { ...(await sealedReaction(bob, at, '👍')), op: 'added' });
		// The plaintext shape of before is malformed now: dropped.
		await t.table.db.reaction_changed.handle(C1, { message_id: m1, user_id: BOB, emoji: '🎉', op: 'added' });
		expect(t.reactions.of(m1).map((r) => r.emoji)).toEqual(['👍']);
		await t.table.db.receipt_updated.handle(C1, {
			conversation_id: C1,
			user_id: BOB,
			last_delivered_seq: 1,
			last_read_seq: 1
		});
		expect(t.list.participants[C1].find((p) => p.user_id === BOB)!.last_read_seq).toBe(1);
	});

	it('an epoch move follows and re-checks the members; a conversation I lost is forgotten', async () => {
		const t = setup();
		await t.list.load();
		t.conversation.key_epoch = 2;
		await t.table.db.key_epoch_changed.handle(C1, { conversation_id: C1, key_epoch: 2 });
		expect(t.list.get(C1)!.key_epoch).toBe(2);
		expect(t.followed).toContain(C1);
		t.lose();
		await t.live.recheckMembership(C1, true);
		expect(t.forgotten).toEqual([C1]);
		// Not forced: throttled right after the last check.
		const before = t.calls().length;
		await t.live.recheckMembership(C1);
		expect(t.calls().length).toBe(before);
		await t.table.db.participants_changed.handle(C1, {
			conversation_id: C1,
			user_id: ME,
			role: 'member',
			op: 'removed',
			key_epoch: 2
		});
		expect(t.forgotten).toEqual([C1, C1]);
	});

	it('drops a payload that does not decode (live-payloads.ts) instead of reading it or crashing', async () => {
		const t = setup();
		await t.list.load();
		// A seq as a string, a date that is not one, an id that is not a GUID: not rows the database sends.
		await t.table.db.message_created.handle(C1, { ...message(1, BOB), seq: '1' });
		await t.table.db.message_created.handle(C1, { ...message(1, BOB), created_at: 'yesterday' });
		await t.table.db.message_created.handle(C1, { ...message(1, BOB), id: 'm1' });
		await t.table.db.message_created.handle(C1, null);
		expect(t.timeline.messagesOf(C1)).toEqual([]);
		await t.table.db.receipt_updated.handle(C1, {
			conversation_id: C1,
			user_id: BOB,
			last_delivered_seq: '5',
			last_read_seq: 5
		});
		expect(t.list.participants[C1].find((p) => p.user_id === BOB)).toMatchObject({
			last_delivered_seq: 0,
			last_read_seq: 0
		});
		// Without its role and epoch, "I was removed" is not believed.
		await t.table.db.participants_changed.handle(C1, { conversation_id: C1, user_id: ME, op: 'removed' });
		await t.user.conversation_removed({ conversation_id: 'c1' });
		await t.user.conversation_removed(null);
		expect(t.forgotten).toEqual([]);
		await t.user.inbox({ conversation_id: C1, seq: 1, sender_id: BOB });
		expect(t.queued).toEqual([]);
		expect(() => t.table.members.key_request.handle(C1, null)).not.toThrow();
		// What does decode still applies.
		await t.table.db.message_created.handle(C1, message(1, BOB));
		await t.user.inbox({ conversation_id: C1, seq: 1, sender_id: BOB, key_epoch: 1 });
		expect(t.timeline.messagesOf(C1).map((m) => m.seq)).toEqual([1]);
		expect(t.queued).toEqual([`${C1}:delivered:1`]);
	});
});
