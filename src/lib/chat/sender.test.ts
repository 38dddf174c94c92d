import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { ChatError } from './errors.ts';
import { Outbox, type OutboxEntry } from './outbox.ts';
import { pendingMessageView } from './derive.ts';
import { Sender } from './sender.ts';
import type { MessageView } from './types.ts';

function setup() {
	const outbox = new Outbox('me', new IDBFactory());
	const views = new Map<string, MessageView>();
	const sent: string[] = [];
	const failures = new Map<string, string>();
	let online = true;
	let network = false;
	let refuse: string | null = null;
	let epoch = 1;
	const sender = new Sender({
		outbox: () => outbox,
		online: () => online,
		view: (id) => views.get(id),
		seal: async (_c, text) => ({
			content_encrypted: `sealed(${text})@${epoch}`,
			encryption: { epoch, nonce: 'n' }
		}),
		epochOf: () => epoch,
		open: async (_c, _e, ciphertext) => /^sealed\((.*)\)@\d+$/.exec(ciphertext)?.[1] ?? null,
		send: async (entry: OutboxEntry) => {
			if (network) throw new ChatError('fetch failed', 0);
			if (refuse && entry.content_encrypted.includes(refuse))
				throw new ChatError('Conversation not found', 404, 'conversation_not_found');
			sent.push(entry.content_encrypted);
			return { id: entry.client_id };
		},
		stored: async () => undefined,
		failed: (id, error) => void failures.set(id, error)
	});
	const write = async (text: string) => {
		const id = crypto.randomUUID();
		views.set(
			id,
			pendingMessageView({
				clientId: id,
				conversationId: 'c1',
				senderId: 'me',
				createdAt: Date.now(),
				type: 'text',
				text,
				replyTo: null
			})
		);
		await sender.enqueue(id, outbox.stamp());
		return id;
	};
	return {
		sender,
		outbox,
		sent,
		failures,
		write,
		set: (o: { online?: boolean; network?: boolean; refuse?: string | null; epoch?: number }) => {
			online = o.online ?? online;
			network = o.network ?? network;
			refuse = o.refuse === undefined ? refuse : o.refuse;
			epoch = o.epoch ?? epoch;
		}
	};
}

describe('Sender', () => {
	it('sends in order; offline, messages wait in the outbox and drain in order, sealed again for a new epoch', async () => {
		const t = setup();
		await t.write('one');
		t.set({ online: false });
		await t.write('two');
		await t.write('three');
		expect(t.sent).toEqual(['sealed(one)@1']);
		expect((await t.outbox.all()).length).toBe(2);
		// Someone left while they waited: the new epoch seals them before they go.
		t.set({ online: true, epoch: 2 });
		await t.sender.drain();
		expect(t.sent).toEqual(['sealed(one)@1', 'sealed(two)@2', 'sealed(three)@2']);
		expect(await t.outbox.all()).toEqual([]);
	});

	it('a network failure keeps the entry and what follows it; a refusal marks only that one failed', async () => {
		const t = setup();
		t.set({ network: true });
		await t.write('lost');
		await t.write('behind');
		expect(t.sent).toEqual([]);
		t.set({ network: false, refuse: 'refused' });
		const refused = await t.write('refused');
		await t.sender.drain();
		expect(t.sent).toEqual(['sealed(lost)@1', 'sealed(behind)@1']);
		expect(t.failures.get(refused)).toBe('Conversation not found');
		expect((await t.outbox.all()).map((e) => e.failed)).toEqual([true]);
	});
});
