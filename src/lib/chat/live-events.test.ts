import { describe, expect, it } from 'vitest';
import type { ConversationChannels } from './conversation-channels.ts';
import { ConversationList } from './conversation-list.svelte.ts';
import { LiveEvents } from './live-events.ts';
import { Reactions } from './reactions.ts';
import type { Receipts } from './receipts.ts';
import type { KeyRequests } from './key-requests.ts';
import { FakeRpcError, FakeSupabase } from './testing/fake-supabase.ts';
import { Timeline } from './timeline.svelte.ts';
import type { ParticipantView } from './types.ts';

const member = (user_id: string): ParticipantView =>
	({ user_id, role: 'member', last_delivered_seq: 0, last_read_seq: 0 }) as ParticipantView;

function setup() {
	const conversation = {
		id: 'c1',
		kind: 'group',
		title: 'T',
		created_at: '2026-01-01',
		key_epoch: 1,
		participants: [member('me'), member('bob')]
	};
	let gone = false;
	const sb = new FakeSupabase('me');
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
		me: () => 'me',
		decrypt: async () => ({ text: null }),
		membersChanged: () => undefined,
		fetched: () => undefined
	});
	const timeline = new Timeline({
		me: () => 'me',
		key: async () => null,
		participants: (id) => list.participants[id] ?? [],
		reactions: () => [],
		applied: () => undefined,
		merged: () => undefined,
		opened: () => undefined
	});
	const reactions = new Reactions({ client, me: () => 'me', show: () => undefined });
	const followed: string[] = [];
	const forgotten: string[] = [];
	const live = new LiveEvents({
		me: () => 'me',
		list: () => list,
		timeline: () => timeline,
		channels: () => ({ follow: (id: string) => void followed.push(id) }) as unknown as ConversationChannels,
		reactions: () => reactions,
		receipts: () => ({ queue: () => undefined }) as unknown as Receipts,
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
		list,
		timeline,
		reactions,
		live,
		table,
		followed,
		forgotten,
		calls: () => sb.rpcCalls.map((c) => c.name),
		lose: () => (gone = true)
	};
}

const message = (seq: number, sender: string, id = `m${seq}`) => ({
	id,
	conversation_id: 'c1',
	sender_id: sender,
	seq,
	content_encrypted: 'x',
	message_type: 'text',
	created_at: '2026-01-01'
});

describe('LiveEvents', () => {
	it('applies what the database says, and drops what contradicts what the device knows', async () => {
		const t = setup();
		await t.list.load();
		await t.table.db.message_created.handle('c1', message(1, 'bob'));
		await t.table.db.message_created.handle('c1', message(1, 'bob', 'other-id'));
		await t.table.db.message_created.handle('c1', { ...message(2, 'bob'), conversation_id: 'c2' });
		await t.table.db.message_created.handle('c1', message(3, 'mallory'));
		expect(t.timeline.messagesOf('c1').map((m) => m.id)).toEqual(['m1']);
		await t.table.db.reaction_changed.handle('c1', {
			message_id: 'm1',
			user_id: 'mallory',
			emoji: '💀',
			op: 'added'
		});
		await t.table.db.reaction_changed.handle('c1', {
			message_id: 'm1',
			user_id: 'bob',
			emoji: '👍',
			op: 'added'
		});
		expect(t.reactions.of('m1').map((r) => r.emoji)).toEqual(['👍']);
		await t.table.db.receipt_updated.handle('c1', {
			conversation_id: 'c1',
			user_id: 'bob',
			last_delivered_seq: 1,
			last_read_seq: 1
		});
		expect(t.list.participants.c1.find((p) => p.user_id === 'bob')!.last_read_seq).toBe(1);
	});

	it('an epoch move follows and re-checks the members; a conversation I lost is forgotten', async () => {
		const t = setup();
		await t.list.load();
		t.conversation.key_epoch = 2;
		await t.table.db.key_epoch_changed.handle('c1', { conversation_id: 'c1', key_epoch: 2 });
		expect(t.list.get('c1')!.key_epoch).toBe(2);
		expect(t.followed).toContain('c1');
		t.lose();
		await t.live.recheckMembership('c1', true);
		expect(t.forgotten).toEqual(['c1']);
		// Not forced: throttled right after the last check.
		const before = t.calls().length;
		await t.live.recheckMembership('c1');
		expect(t.calls().length).toBe(before);
		await t.table.db.participants_changed.handle('c1', {
			conversation_id: 'c1',
			user_id: 'me',
			op: 'removed',
			key_epoch: 2
		});
		expect(t.forgotten).toEqual(['c1', 'c1']);
	});
});
