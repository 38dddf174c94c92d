import { describe, expect, it, vi } from 'vitest';
import { ConversationChannels, type ChannelEvents } from './conversation-channels.ts';
import { FakeSupabase } from './testing/fake-supabase.ts';

function setup(options: { open?: boolean } = {}) {
	const sb = new FakeSupabase('alice');
	const epochs = new Map<string, number>([['c1', 3]]);
	/** What the database says the epochs are (a conversation I can no longer read is absent). */
	const server = new Map<string, number>([['c1', 3]]);
	let generation = 0;
	const seen: string[] = [];
	const events: ChannelEvents = {
		db: {
			message_created: { handle: (id, p) => void seen.push(`${id}:created:${(p as { n: number }).n}`) },
			receipt_updated: { always: true, handle: (id) => void seen.push(`${id}:receipt`) }
		},
		members: { typing: { always: true, handle: (id) => void seen.push(`${id}:typing`) } },
		presence: (id) => void seen.push(`${id}:presence`),
		joined: (id) => void seen.push(`${id}:joined`),
		refused: (id) => void seen.push(`${id}:refused`),
		left: (id) => void seen.push(`${id}:left`),
		moved: (id, epoch) => void seen.push(`${id}:moved:${epoch}`),
		gone: (id) => void seen.push(`${id}:gone`)
	};
	const loads: string[] = [];
	const channels = new ConversationChannels(
		{
			client: () => sb.client,
			me: () => 'alice',
			epochOf: (id) => epochs.get(id),
			load: async (id) => {
				loads.push(id);
				epochs.set(id, 1);
			},
			isOpen: () => options.open ?? true,
			generation: () => generation,
			currentEpochs: async (ids) =>
				new Map(ids.filter((id) => server.has(id)).map((id) => [id, server.get(id)!]))
		},
		events
	);
	return { sb, epochs, server, channels, seen, loads, signOut: () => generation++ };
}

describe('ConversationChannels', () => {
	it('joins the two topics of the current epoch once, however many ask, and loads an unknown conversation first', async () => {
		const t = setup();
		await Promise.all([t.channels.join('c1'), t.channels.join('c1')]);
		expect(t.sb.getChannels().map((c) => c.subTopic)).toEqual(['conversation:c1:3', 'members:c1:3']);
		expect(t.sb.channelFor('members:c1:3')!.options).toMatchObject({
			config: { presence: { key: 'alice' } }
		});
		await t.channels.join('c2');
		expect(t.loads).toEqual(['c2']);
		expect(t.channels.ids()).toEqual(['c1', 'c2']);
	});

	it('routes each event to its handler, the ones not marked always only while open', async () => {
		const t = setup({ open: false });
		await t.channels.join('c1');
		const db = t.sb.channelFor('conversation:c1:3')!;
		db.emit('message_created', { n: 1 });
		db.emit('receipt_updated', {});
		t.sb.channelFor('members:c1:3')!.emit('typing', {});
		db.setStatus('SUBSCRIBED');
		t.sb.channelFor('members:c1:3')!.setStatus('SUBSCRIBED');
		expect(t.seen).toEqual(['c1:receipt', 'c1:typing', 'c1:joined']);
		expect(t.sb.channelFor('members:c1:3')!.tracked[0]).toMatchObject({ user_id: 'alice' });
		t.sb.channelFor('members:c1:3')!.setStatus('CHANNEL_ERROR');
		expect(t.seen.at(-1)).toBe('c1:refused');
	});

	it('follows a newer epoch: the old channels are left and fall silent for the store', async () => {
		const t = setup();
		await t.channels.join('c1');
		const old = t.sb.channelFor('conversation:c1:3')!;
		t.channels.follow('c1');
		expect(old.removed).toBe(false);
		t.epochs.set('c1', 4);
		t.channels.follow('c1');
		await t.channels.join('c1');
		expect(old.removed).toBe(true);
		expect(t.sb.getChannels().map((c) => c.subTopic)).toEqual(['conversation:c1:4', 'members:c1:4']);
		old.emit('message_created', { n: 9 });
		t.sb.channelFor('conversation:c1:4')!.emit('message_created', { n: 10 });
		expect(t.seen).toEqual(['c1:left', 'c1:created:10']);
	});

	it('a join that outlives a sign-out, or whose conversation is forgotten meanwhile, leaves nothing behind', async () => {
		const t = setup();
		const joining = t.channels.join('c1');
		t.signOut();
		await joining;
		expect(t.channels.ids()).toEqual([]);
		expect(t.sb.getChannels()).toEqual([]);
		const forgotten = setup();
		const second = forgotten.channels.join('c1');
		forgotten.epochs.delete('c1');
		await second;
		expect(forgotten.channels.ids()).toEqual([]);
		expect(forgotten.sb.getChannels()).toEqual([]);
	});

	it('a join whose epoch moves while its channels are made joins the new epoch instead', async () => {
		const t = setup();
		const joining = t.channels.join('c1');
		t.epochs.set('c1', 5);
		await joining;
		expect(t.sb.getChannels().map((c) => c.subTopic)).toEqual(['conversation:c1:5', 'members:c1:5']);
		t.sb.channelFor('conversation:c1:5')!.setStatus('CLOSED');
		expect(t.seen).toEqual(['c1:refused']);
		t.channels.leaveAll(t.sb.client);
		expect(t.sb.getChannels()).toEqual([]);
	});

	it('confirms each joined epoch with the database: a missed move is reported, and so is a conversation I lost', async () => {
		const t = setup();
		await t.channels.join('c1');
		t.server.set('c1', 4);
		t.sb.channelFor('conversation:c1:3')!.setStatus('SUBSCRIBED');
		await vi.waitFor(() => expect(t.seen).toEqual(['c1:joined', 'c1:moved:4']));
		t.server.delete('c1');
		t.sb.channelFor('conversation:c1:3')!.setStatus('SUBSCRIBED');
		await vi.waitFor(() => expect(t.seen).toEqual(['c1:joined', 'c1:moved:4', 'c1:joined', 'c1:gone']));
	});
});
