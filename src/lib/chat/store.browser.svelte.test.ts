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
import { testId } from './testing/ids.ts';
import { conversationTopic, userTopic } from './live.ts';
import { ChatStore } from './store.svelte.ts';

// Ids are GUIDs, as the database's and as the live payload decoders require.
const [C1, C2, ALICE, BOB] = [testId('c1'), testId('c2'), testId('alice'), testId('bob')];

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
		server.addUser(ALICE, 'alice');
		server.addUser(BOB, 'bob');
		server.addConversation(C1, 'direct', [ALICE, BOB]);
		server.addConversation(C2, 'direct', [ALICE, BOB]);
		const bob = server.client(BOB);
		const bobRing = new Keyring(new IDBFactory());
		await bobRing.ensureIdentity(bob.client, BOB);
		const alice = server.client(ALICE);
		const store = new ChatStore({ indexedDB: new IDBFactory(), receiptDelayMs: 5 });
		cleanups.push(() => store.stop());
		await store.start(alice.client, ALICE);
		await store.open(C1);

		const seen: string[] = [];
		const unread: number[] = [];
		const stopEffects = $effect.root(() => {
			$effect(() => {
				seen.push(
					store
						.messagesOf(C1)
						.map((m) => `${m.text}:${m.status}`)
						.join(',')
				);
			});
			$effect(() => {
				unread.push(store.conversations.find((c) => c.id === C2)?.unread_count ?? -1);
			});
		});
		cleanups.push(stopEffects);
		await settle();

		const sending = store.send(C1, 'hi');
		await settle();
		expect(seen).toContain('hi:pending');
		await sending;
		await vi.waitFor(async () => {
			await settle();
			expect(seen.at(-1)).toBe('hi:sent');
		});

		alice.channelFor(conversationTopic(C1, 1))!.emit('receipt_updated', {
			conversation_id: C1,
			user_id: BOB,
			last_delivered_seq: 1,
			last_read_seq: 1
		});
		await settle();
		expect(seen.at(-1)).toBe('hi:read');

		const key = await bobRing.conversationKey(C2, 1);
		const sealed = sealText(key!, 'psst');
		const row = server.insertMessage(BOB, {
			conversation_id: C2,
			content_encrypted: sealed.ciphertext,
			encryption: { epoch: 1, nonce: sealed.nonce }
		});
		alice
			.channelFor(userTopic(ALICE))!
			.emit('inbox', { conversation_id: C2, seq: row.seq, sender_id: BOB, key_epoch: 1 });
		await vi.waitFor(async () => {
			await settle();
			expect(unread.at(-1)).toBe(1);
		});
		store.markSeen(C2);
		await settle();
		expect(unread.at(-1)).toBe(0);
	});
});
