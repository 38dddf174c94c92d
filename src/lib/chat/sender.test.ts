import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { ChatError, noIdentityError } from './errors.ts';
import { Outbox, type OutboxEntry } from './outbox.ts';
import { pendingMessageView } from './derive.ts';
import { Sender } from './sender.ts';
import type { SealContext } from './signatures.ts';
import type { MessageView } from './types.ts';

function setup() {
	const outbox = new Outbox('me', new IDBFactory());
	const views = new Map<string, MessageView>();
	const sent: string[] = [];
	const failures = new Map<string, string>();
	let online = true;
	let identity = true;
	let network = false;
	let refuse: string | null = null;
	let epoch = 1;
	const contexts: SealContext[] = [];
	const signed: (string | undefined)[] = [];
	const sender = new Sender({
		outbox: () => outbox,
		online: () => online,
		identity: () => identity,
		view: (id) => views.get(id),
		seal: async (_c, text, context) => (
			contexts.push(context),
			{
				content_encrypted: `sealed(${text})@${epoch}`,
				encryption: { epoch, nonce: 'n', sig: `s@${epoch}` }
			}
		),
		epochOf: () => epoch,
		open: async (_c, _e, ciphertext) => /^sealed\((.*)\)@\d+$/.exec(ciphertext)?.[1] ?? null,
		send: async (entry: OutboxEntry) => {
			if (network) throw new ChatError('fetch failed', 0);
			if (refuse && entry.content_encrypted.includes(refuse))
				throw new ChatError('Conversation not found', 404, 'conversation_not_found');
			sent.push(entry.content_encrypted);
			signed.push(entry.encryption.sig);
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
		signed,
		contexts,
		failures,
		write,
		set: (o: {
			online?: boolean;
			identity?: boolean;
			network?: boolean;
			refuse?: string | null;
			epoch?: number;
		}) => {
			online = o.online ?? online;
			identity = o.identity ?? identity;
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

	it('signs what it seals with the message context, and signs an entry queued before signing', async () => {
		const t = setup();
		const id = await t.write('hello');
		expect(t.contexts).toEqual([
			{ kind: 'message', clientId: id, messageType: 'text', replyToId: null, attachment: null }
		]);
		expect(t.signed).toEqual(['s@1']);
		// An outbox entry from an older version: sealed, but not signed.
		await t.outbox.put({
			client_id: 'old-entry',
			conversation_id: 'c1',
			content_encrypted: 'sealed(from before)@1',
			encryption: { epoch: 1, nonce: 'n' },
			message_type: 'text',
			reply_to_id: null,
			createdAt: t.outbox.stamp(),
			attempts: 0,
			lastError: null
		});
		await t.sender.drain();
		expect(t.sent.at(-1)).toBe('sealed(from before)@1');
		expect(t.signed.at(-1)).toBe('s@1');
		expect(t.contexts.at(-1)).toMatchObject({ kind: 'message', clientId: 'old-entry' });
	});

	it('without the identity key seals and sends nothing: a new message fails as no_identity, the outbox waits', async () => {
		const t = setup();
		t.set({ online: false });
		await t.write('written before the key went');
		// This device lost the identity (another device reset it, or it never had it).
		t.set({ online: true, identity: false });
		await t.sender.drain();
		expect(t.sent).toEqual([]);
		const refused = await t.write('written without the key');
		expect(t.failures.get(refused)).toBe(noIdentityError().message);
		expect(t.contexts).toHaveLength(1); // the refused one was never sealed
		expect((await t.outbox.all()).map((e) => [e.content_encrypted, !!e.failed])).toEqual([
			['sealed(written before the key went)@1', false]
		]);

		// Restored: the entry that waited goes, in order, and new messages go at once.
		t.set({ identity: true });
		await t.sender.drain();
		await t.write('after the restore');
		expect(t.sent).toEqual(['sealed(written before the key went)@1', 'sealed(after the restore)@1']);
		expect(await t.outbox.all()).toEqual([]);
	});
});
