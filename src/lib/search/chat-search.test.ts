import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sealText } from '../crypto/e2ee.ts';
import { Keyring } from '../crypto/keyring.svelte.ts';
import { ChatStore } from '../chat/store.svelte.ts';
import { FakeChatServer } from '../chat/testing/fake-chat-server.ts';
import { testId } from '../chat/testing/ids.ts';
import { userTopic } from '../chat/live.ts';

const [C1, ALICE, BOB] = [testId('c1'), testId('alice'), testId('bob')];

const stores: ChatStore[] = [];
afterEach(() => {
	for (const s of stores.splice(0)) s.stop();
});

async function world() {
	const server = new FakeChatServer();
	server.addUser(ALICE, 'alice');
	server.addUser(BOB, 'bob');
	server.addConversation(C1, 'direct', [ALICE, BOB]);
	const bob = server.client(BOB);
	const bobRing = new Keyring(new IDBFactory());
	await bobRing.ensureIdentity(bob.client, BOB);
	const idb = new IDBFactory();
	const signIn = async () => {
		const alice = server.client(ALICE);
		const store = new ChatStore({ indexedDB: idb, receiptDelayMs: 5 });
		stores.push(store);
		await store.start(alice.client, ALICE);
		alice.channelFor(userTopic(ALICE))!.setStatus('SUBSCRIBED');
		// The stored index opens a moment after sign-in (the first page comes first).
		await vi.waitFor(() => expect(store.search.status).toBe('ready'), { timeout: 5000 });
		return store;
	};
	const bobSays = async (text: string) => {
		const epoch = Number(server.conversation(C1).key_epoch);
		const sealed = sealText((await bobRing.conversationKey(C1, epoch))!, text);
		return server.insertMessage(BOB, {
			conversation_id: C1,
			content_encrypted: sealed.ciphertext,
			encryption: { epoch, nonce: sealed.nonce },
			client_id: crypto.randomUUID()
		});
	};
	return { signIn, bobSays };
}

const found = (store: ChatStore, query: string) => store.search.query(query).map((h) => h.message.x);

describe('ChatStore search', () => {
	it('indexes what the timeline decrypts, follows edits and deletions, and keeps it over a sign-out', async () => {
		const w = await world();
		const store = await w.signIn();
		await w.bobSays('the quarterly report is ready');
		await w.bobSays('lunch later?');
		await store.open(C1);
		expect(found(store, 'quartrly')).toEqual(['the quarterly report is ready']);
		expect(store.search.query('lunch', { conversationId: C1 })[0].message).toMatchObject({ c: C1, s: 2 });

		await store.send(C1, 'draft agenda');
		await vi.waitFor(() => expect(store.messagesOf(C1).at(-1)!.seq).toBe(3));
		const id = store.messagesOf(C1).at(-1)!.id;
		await store.edit(id, 'final agenda');
		expect(found(store, 'draft')).toEqual([]);
		expect(found(store, 'agenda')).toEqual(['final agenda']);
		await store.remove(id);
		expect(found(store, 'agenda')).toEqual([]);

		// Sign-out saves the sealed index and drops it from memory; the next sign-in opens it.
		store.stop();
		expect(store.search.size).toBe(0);
		const again = await w.signIn();
		expect(found(again, 'report')).toEqual(['the quarterly report is ready']);
		expect(found(again, 'agenda')).toEqual([]);
	});
});
