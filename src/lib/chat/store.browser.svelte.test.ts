// @vitest-environment happy-dom
/**
 * The store compiled for the browser (real `$state` proxies and effects), checking that what the
 * UI reads actually updates: optimistic messages, their replacement, statuses, inbox counts.
 */
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sealText } from '../crypto/e2ee.ts';
import { Keyring } from '../crypto/keyring.svelte.ts';
import { FakeChatServer } from './testing/fake-chat-server.ts';
import { ChatStore } from './store.svelte.ts';

/**
 * Lets scheduled effects run. (Vitest resolves the `svelte` entry to its server build, whose
 * `flushSync` does nothing, while runes here compile against the client runtime, which flushes
 * effects in a microtask.)
 */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

const cleanups: (() => void)[] = [];
afterEach(() => {
	for (const c of cleanups.splice(0)) c();
});

describe('ChatStore in the browser', () => {
	it('notifies effects of sends, confirmations, receipts and inbox changes', async () => {
		expect(typeof window).toBe('object');
		const server = new FakeChatServer();
		server.addUser('alice');
		server.addUser('bob');
		server.addConversation('c1', 'direct', ['alice', 'bob']);
		server.addConversation('c2', 'direct', ['alice', 'bob']);
		const bob = server.client('bob');
		const bobRing = new Keyring(new IDBFactory());
		await bobRing.ensureIdentity(bob.client, 'bob');
		const alice = server.client('alice');
		const store = new ChatStore({ indexedDB: new IDBFactory(), receiptDelayMs: 5 });
		cleanups.push(() => store.stop());
		await store.start(alice.client, 'alice');
		await store.open('c1');

		const seen: string[] = [];
		const unread: number[] = [];
		const stopEffects = $effect.root(() => {
			$effect(() => {
				seen.push(
					store
						.messagesOf('c1')
						.map((m) => `${m.text}:${m.status}`)
						.join(',')
				);
			});
			$effect(() => {
				unread.push(store.conversations.find((c) => c.id === 'c2')?.unread_count ?? -1);
			});
		});
		cleanups.push(stopEffects);
		await settle();

		const sending = store.send('c1', 'hi');
		await settle();
		expect(seen).toContain('hi:pending');
		await sending;
		await vi.waitFor(async () => {
			await settle();
			expect(seen.at(-1)).toBe('hi:sent');
		});

		alice.channelFor('conversation:c1:0')!.emit('receipt_updated', {
			conversation_id: 'c1',
			user_id: 'bob',
			last_delivered_seq: 1,
			last_read_seq: 1
		});
		await settle();
		expect(seen.at(-1)).toBe('hi:read');

		const key = await bobRing.conversationKey('c2', 0);
		const sealed = sealText(key!, 'psst');
		const row = server.insertMessage('bob', {
			conversation_id: 'c2',
			content_encrypted: sealed.ciphertext,
			encryption: { epoch: 0, nonce: sealed.nonce }
		});
		alice.channelFor('user:alice')!.emit('inbox', { conversation_id: 'c2', seq: row.seq, sender_id: 'bob' });
		await vi.waitFor(async () => {
			await settle();
			expect(unread.at(-1)).toBe(1);
		});
		store.markSeen('c2');
		await settle();
		expect(unread.at(-1)).toBe(0);
	});
});
