import { describe, expect, it } from 'vitest';
import { ConversationList } from './conversation-list.svelte.ts';
import { FakeSupabase } from './testing/fake-supabase.ts';
import type { ParticipantView } from './types.ts';

const participant = (user_id: string, delivered = 0, read = 0): ParticipantView => ({
	user_id,
	role: 'member',
	joined_at: null,
	joined_epoch: 1,
	last_delivered_seq: delivered,
	last_read_seq: read,
	username: user_id,
	display_name: user_id.toUpperCase(),
	avatar_url: null,
	public_key: null
});

function setup() {
	const members: Record<string, string[]> = {};
	const fetched: string[] = [];
	const rows: Record<string, Record<string, unknown>> = {
		c1: {
			id: 'c1',
			kind: 'direct',
			created_at: '2026-01-01',
			key_epoch: 1,
			participants: [participant('me'), participant('bob', 3, 2)]
		},
		c2: {
			id: 'c2',
			kind: 'group',
			title: 'Team',
			created_at: '2026-01-02',
			last_message_at: '2026-01-03',
			key_epoch: 2,
			unread_count: 4,
			participants: [participant('me'), participant('ann')],
			last_message: {
				id: 'm9',
				conversation_id: 'c2',
				sender_id: 'ann',
				seq: 9,
				content_encrypted: 'x',
				message_type: 'text',
				created_at: '2026-01-03'
			}
		}
	};
	const sb = new FakeSupabase('me');
	sb.rpcHandlers.list_conversations = () => Object.values(rows);
	sb.rpcHandlers.get_conversation = (args) => rows[String(args.conversation_id)];
	const list = new ConversationList({
		client: () => sb.client,
		me: () => 'me',
		decrypt: async (row) => ({ text: `plain ${row.id}` }),
		membersChanged: (id, set) => void (members[id] = [...set].sort()),
		fetched: (id) => void fetched.push(id)
	});
	return { list, rows, members, fetched };
}

describe('ConversationList', () => {
	it('loads newest activity first, names direct chats after the other person, and decrypts previews', async () => {
		const t = setup();
		const views = await t.list.load();
		expect(views).toHaveLength(2);
		expect(t.list.conversations.map((c) => [c.id, c.name, c.unread_count])).toEqual([
			['c2', 'Team', 4],
			['c1', 'BOB', 0]
		]);
		expect(t.list.loaded).toBe(true);
		await t.list.refreshPreview('c2');
		expect(t.list.get('c2')!.preview).toBe('plain m9');
		expect(t.members).toEqual({ c1: ['bob', 'me'], c2: ['ann', 'me'] });
	});

	it('fetches one again keeping what get_conversation lacks; watermarks never move back; removing forgets it', async () => {
		const t = setup();
		await t.list.load();
		await t.list.refreshPreview('c2');
		t.rows.c2 = {
			...t.rows.c2,
			key_epoch: 3,
			last_message: undefined,
			unread_count: undefined,
			participants: [participant('me')]
		};
		const view = await t.list.fetch('c2');
		expect(view).toMatchObject({ key_epoch: 3, unread_count: 4, preview: 'plain m9' });
		expect(t.fetched).toEqual(['c2']);
		expect(t.members.c2).toEqual(['me']);
		t.list.setParticipants('c1', [participant('me'), participant('bob', 1, 1)]);
		expect(t.list.participants.c1.find((p) => p.user_id === 'bob')).toMatchObject({
			last_delivered_seq: 3,
			last_read_seq: 2
		});
		t.list.remove('c1');
		expect(t.list.conversations.map((c) => c.id)).toEqual(['c2']);
		expect(t.list.participants.c1).toBeUndefined();
		t.list.reset();
		expect([t.list.conversations, t.list.loaded]).toEqual([[], false]);
	});

	it('follows the newest merged message: a newer one moves the conversation up, an older one does not', async () => {
		const t = setup();
		await t.list.load();
		const row = (id: string, conversation_id: string, seq: number) =>
			({ id, conversation_id, seq, sender_id: 'bob', created_at: '2026-02-01' }) as never;
		t.list.noteMessage(row('m1', 'c1', 1), 'hi');
		expect(t.list.conversations.map((c) => c.id)).toEqual(['c1', 'c2']);
		expect(t.list.get('c1')).toMatchObject({ last_seq: 1, preview: 'hi', last_message_at: '2026-02-01' });
		t.list.get('c2')!.last_seq = 9;
		t.list.noteMessage(row('m0', 'c2', 3), 'old');
		expect(t.list.get('c2')).toMatchObject({ last_seq: 9, last_message: { id: 'm9' } });
		t.list.noteMessage(row('m1', 'c1', 1), 'edited');
		expect(t.list.get('c1')!.preview).toBe('edited');
	});
});
