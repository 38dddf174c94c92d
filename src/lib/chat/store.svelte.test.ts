import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sealText } from '../crypto/e2ee.ts';
import { Keyring } from '../crypto/keyring.svelte.ts';
import { FakeChatServer } from './testing/fake-chat-server.ts';
import { FakeRpcError, type FakeSupabase } from './testing/fake-supabase.ts';
import { ChatError } from './errors.ts';
import { Outbox } from './outbox.ts';
import { conversationTopic, membersTopic, userTopic } from './live.ts';
import { ChatStore, MAX_WATCHED_CONVERSATIONS } from './store.svelte.ts';
import { testId } from './testing/ids.ts';
import { reactor, sealedReaction, type ReactionTarget, type Reactor } from './testing/reactions.ts';

// Ids are GUIDs, as the database's and as the live payload decoders require.
const [C1, C2, C3] = [testId('c1'), testId('c2'), testId('c3')];
const [ALICE, BOB, CAROL, MALLORY] = [testId('alice'), testId('bob'), testId('carol'), testId('mallory')];

interface World {
	server: FakeChatServer;
	alice: FakeSupabase;
	store: ChatStore;
	idb: IDBFactory;
	/** Bob's device: sends encrypted messages straight into the fake database. */
	bobSays(
		text: string,
		conversationId?: string,
		extra?: Record<string, unknown>
	): Promise<Record<string, unknown>>;
	/** The joined database channel (`conversation:<id>:<epoch>`) of the conversation's current epoch. */
	channel(conversationId?: string): ReturnType<FakeSupabase['channelFor']> & object;
	/** The joined members channel (`members:<id>:<epoch>`): typing, key requests, presence. */
	members(conversationId?: string): ReturnType<FakeSupabase['channelFor']> & object;
	/** Where a reaction to a message goes: its conversation's current epoch and key (Bob's copy). */
	reactionTarget(messageId: string, conversationId?: string): Promise<ReactionTarget>;
	/** Someone with a fresh identity, published in identity_keys (so their reactions verify). */
	reactor(userId: string): Promise<Reactor>;
}

const stores: ChatStore[] = [];
afterEach(() => {
	vi.useRealTimers();
	for (const s of stores.splice(0)) s.stop();
});

/** Alice (signed in to the store) and Bob, or the users named in `members`, in conversation C1. */
async function world(options: { members?: string[]; kind?: 'direct' | 'group' } = {}): Promise<World> {
	const server = new FakeChatServer();
	const members = options.members ?? ['alice', 'bob'];
	for (const name of members) server.addUser(testId(name), name);
	const ids = members.map(testId);
	server.addConversation(C1, options.kind ?? 'direct', ids, options.kind === 'group' ? 'Team' : null);
	const bob = server.client(BOB);
	const bobRing = new Keyring(new IDBFactory());
	await bobRing.ensureIdentity(bob.client, BOB);
	const alice = server.client(ALICE);
	const idb = new IDBFactory();
	const store = new ChatStore({ indexedDB: idb, receiptDelayMs: 5 });
	stores.push(store);
	await store.start(alice.client, ALICE);
	alice.channelFor(userTopic(ALICE))!.setStatus('SUBSCRIBED');
	return {
		server,
		alice,
		store,
		idb,
		async bobSays(text, conversationId = C1, extra = {}) {
			const epoch = Number(server.conversation(conversationId).key_epoch);
			const key = await bobRing.conversationKey(conversationId, epoch);
			const sealed = sealText(key!, text);
			return server.insertMessage(BOB, {
				conversation_id: conversationId,
				content_encrypted: sealed.ciphertext,
				encryption: { epoch, nonce: sealed.nonce },
				client_id: crypto.randomUUID(),
				...extra
			});
		},
		channel(conversationId = C1) {
			const epoch = Number(server.conversation(conversationId).key_epoch);
			const ch = alice.channelFor(conversationTopic(conversationId, epoch));
			if (!ch) throw new Error(`no channel for ${conversationId}`);
			return ch;
		},
		members(conversationId = C1) {
			const epoch = Number(server.conversation(conversationId).key_epoch);
			const ch = alice.channelFor(membersTopic(conversationId, epoch));
			if (!ch) throw new Error(`no members channel for ${conversationId}`);
			return ch;
		},
		async reactionTarget(messageId, conversationId = C1) {
			const epoch = Number(server.conversation(conversationId).key_epoch);
			const key = await bobRing.conversationKey(conversationId, epoch);
			return { conversationId, messageId, epoch, key: key! };
		},
		async reactor(userId) {
			const r = await reactor(userId);
			server.db.table('identity_keys').push({
				user_id: userId,
				signing_key: r.signing.publicKey,
				public_key: null,
				created_at: server.tick()
			});
			return r;
		}
	};
}

const texts = (store: ChatStore, id = C1) => store.messagesOf(id).map((m) => m.text);

describe('ChatStore: loading', () => {
	it('starts with a published identity, Realtime auth and the inbox channel', async () => {
		const w = await world();
		expect(w.alice.authSet).toBe(1);
		expect(w.store.keyring.ready).toBe(true);
		expect(w.server.db.table('profiles').find((p) => p.id === ALICE)!.public_key).toBe(
			w.store.keyring.publicKey
		);
		expect(w.store.conversations.map((c) => c.id)).toEqual([C1]);
		expect(w.store.conversations[0].name).toBe('Bob');
		expect(w.store.online).toBe(true);
		w.alice.channelFor(userTopic(ALICE))!.setStatus('CHANNEL_ERROR');
		expect(w.store.online).toBe(false);
	});

	it('opens the newest page decrypted, subscribes privately and pages older history', async () => {
		const w = await world();
		for (let i = 1; i <= 60; i++) await w.bobSays(`m${i}`);
		await w.store.open(C1);
		expect(texts(w.store)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i + 11}`));
		expect(w.store.hasMore[C1]).toBe(true);
		expect(w.channel().options).toEqual({ config: { private: true, broadcast: { self: false } } });
		expect(w.members().options).toEqual({
			config: { private: true, presence: { key: ALICE }, broadcast: { self: false } }
		});
		expect(await w.store.loadOlder(C1)).toBe(10);
		expect(texts(w.store)).toEqual(Array.from({ length: 60 }, (_, i) => `m${i + 1}`));
		expect(w.store.hasMore[C1]).toBe(false);
		expect(w.store.conversations[0].preview).toBe('m60');
	});

	it('opens with independent calls in parallel and shows the newest page before the rest arrive', async () => {
		const w = await world();
		await w.bobSays('hello');
		await w.bobSays('newest');
		const original = w.alice.rpcHandlers.get_conversation;
		let release!: () => void;
		const gate = new Promise<void>((r) => (release = r));
		w.alice.rpcHandlers.get_conversation = async (args, caller) => {
			await gate;
			return original(args, caller);
		};
		let opened = false;
		const opening = w.store.open(C1).then(() => (opened = true));
		// The page decrypts and shows while the conversation fetch is still outstanding.
		await vi.waitFor(() => expect(texts(w.store)).toEqual(['hello', 'newest']));
		expect(opened).toBe(false);
		const names = w.alice.rpcCalls.map((c) => c.name);
		expect(names).toContain('get_reactions');
		release();
		await opening;
		expect(w.alice.callsOf('get_conversation').length).toBeGreaterThan(0);
	});

	it('catches up an empty open conversation from the start when its channel (re)joins', async () => {
		const w = await world();
		await w.store.open(C1);
		// Sent while the channel was not joined yet (or moving to a new epoch).
		await w.bobSays('first ever');
		w.channel().setStatus('SUBSCRIBED');
		await vi.waitFor(() => expect(texts(w.store)).toEqual(['first ever']));
		expect(w.alice.callsOf('get_messages').at(-1)).toMatchObject({ after_seq: 0 });
	});

	it('catches up with get_messages(after_seq) when the channel (re)subscribes', async () => {
		const w = await world();
		await w.bobSays('before');
		await w.store.open(C1);
		// Sent while the broadcast was missed.
		await w.bobSays('missed 1');
		await w.bobSays('missed 2');
		w.channel().setStatus('SUBSCRIBED');
		await vi.waitFor(() => expect(texts(w.store)).toEqual(['before', 'missed 1', 'missed 2']));
		expect(w.alice.callsOf('get_messages').at(-1)).toMatchObject({ after_seq: 1 });
		w.members().setStatus('SUBSCRIBED');
		expect(w.members().tracked[0]).toMatchObject({ user_id: ALICE });
	});
});

describe('ChatStore: sending', () => {
	it('shows a message at once and replaces it with the stored row', async () => {
		const w = await world();
		await w.store.open(C1);
		const sending = w.store.send(C1, 'hello');
		// Optimistic: there before any network round trip.
		const [pending] = w.store.messagesOf(C1);
		expect(pending).toMatchObject({ text: 'hello', status: 'pending', seq: null, sender_id: ALICE });
		const clientId = await sending;
		expect(pending.id).toBe(clientId);
		await vi.waitFor(() => expect(w.store.messagesOf(C1)[0].seq).toBe(1));
		const [stored] = w.store.messagesOf(C1);
		expect(stored).toMatchObject({ text: 'hello', status: 'sent', client_id: clientId });
		expect(stored.id).not.toBe(clientId);
		expect(w.store.messagesById[clientId]).toBeUndefined();
		// The server got ciphertext only.
		const row = w.server.messages(C1)[0];
		expect(String(row.content_encrypted)).not.toContain('hello');
		expect(row.encryption).toMatchObject({ epoch: 1 });
	});

	it('never shows a duplicate when the broadcast arrives before the RPC reply', async () => {
		const w = await world();
		await w.store.open(C1);
		let release!: () => void;
		w.server.sendGate = new Promise((r) => (release = r));
		// With nothing queued ahead, send resolves once its RPC answers: not awaited until released.
		const sending = w.store.send(C1, 'race');
		await vi.waitFor(() => expect(w.server.messages(C1)).toHaveLength(1));
		w.channel().emit('message_created', w.server.messages(C1)[0]);
		await vi.waitFor(() => expect(w.store.messagesOf(C1)[0].seq).toBe(1));
		expect(w.store.idsByConversation[C1]).toHaveLength(1);
		release();
		const clientId = await sending;
		await vi.waitFor(async () => expect(await new Outbox(ALICE, w.idb).all()).toEqual([]));
		expect(w.store.idsByConversation[C1]).toHaveLength(1);
		expect(w.store.messagesOf(C1)[0]).toMatchObject({ text: 'race', client_id: clientId, status: 'sent' });
		// And the reverse order: reply first, broadcast late.
		w.server.sendGate = null;
		await w.store.send(C1, 'second');
		await vi.waitFor(() => expect(w.store.messagesOf(C1)[1].seq).toBe(2));
		w.channel().emit('message_created', w.server.messages(C1)[1]);
		await new Promise((r) => setTimeout(r, 10));
		expect(texts(w.store)).toEqual(['race', 'second']);
	});

	it('marks refused messages failed, and retries or discards them', async () => {
		const w = await world();
		await w.store.open(C1);
		const realSend = w.alice.rpcHandlers.send_message;
		w.alice.rpcHandlers.send_message = () => {
			throw new FakeRpcError(400, 'content_required', 'Say something');
		};
		const a = await w.store.send(C1, 'first');
		const b = await w.store.send(C1, 'second');
		await vi.waitFor(() => expect(w.store.messagesById[b]?.status).toBe('failed'));
		expect(w.store.messagesById[a]).toMatchObject({ status: 'failed', error: 'Say something' });

		w.alice.rpcHandlers.send_message = realSend;
		await w.store.retry(a);
		await vi.waitFor(() => expect(w.store.messagesOf(C1)[0].seq).toBe(1));
		expect(w.store.messagesById[b].status).toBe('failed');
		await w.store.discard(b);
		expect(texts(w.store)).toEqual(['first']);
		expect(await new Outbox(ALICE, w.idb).all()).toEqual([]);
		expect(w.server.messages(C1)).toHaveLength(1);
	});

	it('queues offline sends as pending and drains them in order on reconnect, then catches up', async () => {
		const w = await world();
		await w.bobSays('hi');
		await w.store.open(C1);
		w.store.setBrowserOnline(false);
		w.alice.offline = true;
		expect(w.store.online).toBe(false);
		await w.store.send(C1, 'one');
		await w.store.send(C1, 'two');
		await w.store.send(C1, 'three');
		expect(
			w.store
				.messagesOf(C1)
				.slice(1)
				.map((m) => m.status)
		).toEqual(['pending', 'pending', 'pending']);
		expect((await new Outbox(ALICE, w.idb).all()).length).toBe(3);
		expect(w.alice.callsOf('send_message')).toHaveLength(0);
		await w.bobSays('while you were away');

		w.alice.offline = false;
		w.store.setBrowserOnline(true);
		await vi.waitFor(() => expect(w.server.messages(C1)).toHaveLength(5));
		await vi.waitFor(() => expect(w.store.messagesOf(C1).every((m) => m.seq !== null)).toBe(true));
		// Bob's message got its seq first; mine follow in the order I wrote them.
		expect(w.server.messages(C1).map((m) => m.sender_id)).toEqual([BOB, BOB, ALICE, ALICE, ALICE]);
		expect(texts(w.store)).toEqual(['hi', 'while you were away', 'one', 'two', 'three']);
		expect(await new Outbox(ALICE, w.idb).all()).toEqual([]);
	});

	it('does not duplicate a send accepted just before the connection dropped', async () => {
		const w = await world();
		await w.store.open(C1);
		const realSend = w.alice.rpcHandlers.send_message;
		w.alice.rpcHandlers.send_message = async (args, me) => {
			await realSend(args, me);
			throw new FakeRpcError(0, 'fetch_failed', 'TypeError: fetch failed');
		};
		const clientId = await w.store.send(C1, 'once');
		await vi.waitFor(() => expect(w.alice.callsOf('send_message')).toHaveLength(1));
		await new Promise((r) => setTimeout(r, 10));
		expect(w.store.messagesById[clientId].status).toBe('pending');
		w.alice.rpcHandlers.send_message = realSend;
		w.store.setBrowserOnline(false);
		w.store.setBrowserOnline(true);
		await vi.waitFor(() => expect(w.store.messagesOf(C1)[0].seq).toBe(1));
		expect(w.server.messages(C1)).toHaveLength(1);
		expect(w.alice.callsOf('send_message').map((c) => c.client_id)).toEqual([clientId, clientId]);
		expect(w.store.idsByConversation[C1]).toHaveLength(1);
	});

	it('keeps the outbox across a reload and sends it when back online', async () => {
		const w = await world();
		await w.store.open(C1);
		w.store.setBrowserOnline(false);
		const clientId = await w.store.send(C1, 'survives');
		w.store.stop();

		const again = new ChatStore({ indexedDB: w.idb, receiptDelayMs: 5 });
		stores.push(again);
		// The "page" comes back offline: the entry shows as pending, decrypted from the outbox.
		w.alice.offline = true;
		const started = again.start(w.alice.client, ALICE);
		await vi.waitFor(() => expect(again.messagesById[clientId]).toMatchObject({ status: 'pending' }));
		w.alice.offline = false;
		await started.catch(() => undefined);
		again.setBrowserOnline(false);
		again.setBrowserOnline(true);
		await vi.waitFor(() => expect(w.server.messages(C1)).toHaveLength(1));
		await vi.waitFor(() => expect(again.messagesById[clientId]).toBeUndefined());
		await again.open(C1);
		expect(texts(again)).toEqual(['survives']);
	});
});

describe('ChatStore: a device without the identity key', () => {
	it('refuses to send, keeps what an earlier session queued, and sends it once the backup is restored', async () => {
		const server = new FakeChatServer();
		for (const id of ['alice', 'bob']) server.addUser(id);
		server.addConversation(C1, 'direct', ['alice', 'bob'], null);
		const alice = server.client('alice');
		// Alice's identity lives on her laptop (backed up); this device never had it.
		const laptop = new Keyring(new IDBFactory());
		await laptop.ensureIdentity(alice.client, 'alice');
		await laptop.backup('a long passphrase');
		// An entry an earlier session of this device left in its outbox (sealed, signed, current epoch).
		const idb = new IDBFactory();
		const earlier = new Outbox('alice', idb);
		await earlier.put({
			client_id: 'left-behind',
			conversation_id: C1,
			content_encrypted: 'c2VhbGVk',
			encryption: { epoch: 0, nonce: 'bm9uY2U=', sig: 'c2ln' },
			message_type: 'text',
			reply_to_id: null,
			createdAt: earlier.stamp(),
			attempts: 0,
			lastError: null
		});
		await earlier.close();

		const store = new ChatStore({ indexedDB: idb, receiptDelayMs: 5 });
		stores.push(store);
		await store.start(alice.client, 'alice');
		expect(store.keyring.needsRestore).toBe(true);
		const refused = await store.send(C1, 'from the keyless device').catch((e: unknown) => e);
		expect(refused).toBeInstanceOf(ChatError);
		expect(refused).toMatchObject({ detail: 'no_identity' });
		await expect(store.sendAttachment(C1, new Blob(['x'], { type: 'text/plain' }))).rejects.toMatchObject({
			detail: 'no_identity'
		});
		await expect(store.retry('left-behind')).rejects.toMatchObject({ detail: 'no_identity' });
		// Nothing new shows or queues, and the outbox does not flush.
		expect(store.messagesOf(C1).map((m) => m.id)).toEqual(['left-behind']);
		store.setBrowserOnline(false);
		store.setBrowserOnline(true);
		await new Promise((r) => setTimeout(r, 20));
		expect(alice.callsOf('send_message')).toHaveLength(0);
		expect((await new Outbox('alice', idb).all()).map((e) => e.client_id)).toEqual(['left-behind']);

		expect(await store.keyring.restore('a long passphrase')).toBe(true);
		await vi.waitFor(() => expect(server.messages(C1)).toHaveLength(1));
		expect(server.messages(C1)[0]).toMatchObject({ client_id: 'left-behind', sender_id: 'alice' });
		await store.send(C1, 'sent after the restore');
		await vi.waitFor(() => expect(server.messages(C1)).toHaveLength(2));
		expect(await new Outbox('alice', idb).all()).toEqual([]);
	});
});

describe('ChatStore: receipts and statuses', () => {
	it('derives ✓, ✓✓ and read from receipt events', async () => {
		const w = await world();
		await w.store.open(C1);
		await w.store.send(C1, 'status?');
		await vi.waitFor(() => expect(w.store.messagesOf(C1)[0].status).toBe('sent'));
		w.channel().emit('receipt_updated', {
			conversation_id: C1,
			user_id: BOB,
			last_delivered_seq: 1,
			last_read_seq: 0
		});
		expect(w.store.messagesOf(C1)[0].status).toBe('delivered');
		w.channel().emit('receipt_updated', {
			conversation_id: C1,
			user_id: BOB,
			last_delivered_seq: 1,
			last_read_seq: 1
		});
		expect(w.store.messagesOf(C1)[0]).toMatchObject({ status: 'read', readBy: 1, recipients: 1 });
		// A stale event does not move watermarks back.
		w.channel().emit('receipt_updated', {
			conversation_id: C1,
			user_id: BOB,
			last_delivered_seq: 0,
			last_read_seq: 0
		});
		expect(w.store.messagesOf(C1)[0].status).toBe('read');
	});

	it('shows "read by N of M" in groups', async () => {
		const w = await world({ members: ['alice', 'bob', 'carol'], kind: 'group' });
		await w.store.open(C1);
		await w.store.send(C1, 'team');
		await vi.waitFor(() => expect(w.store.messagesOf(C1)[0].seq).toBe(1));
		w.channel().emit('receipt_updated', {
			conversation_id: C1,
			user_id: BOB,
			last_delivered_seq: 1,
			last_read_seq: 1
		});
		expect(w.store.messagesOf(C1)[0]).toMatchObject({
			status: 'sent',
			readBy: 1,
			deliveredTo: 1,
			recipients: 2
		});
		w.channel().emit('receipt_updated', {
			conversation_id: C1,
			user_id: CAROL,
			last_delivered_seq: 1,
			last_read_seq: 0
		});
		expect(w.store.messagesOf(C1)[0]).toMatchObject({ status: 'delivered', readBy: 1, recipients: 2 });
		w.channel().emit('receipt_updated', {
			conversation_id: C1,
			user_id: CAROL,
			last_delivered_seq: 1,
			last_read_seq: 1
		});
		expect(w.store.messagesOf(C1)[0]).toMatchObject({ status: 'read', readBy: 2 });
	});

	it('batches delivered receipts for received messages and read receipts from markSeen', async () => {
		const w = await world();
		await w.store.open(C1);
		const m1 = await w.bobSays('a');
		const m2 = await w.bobSays('b');
		w.channel().emit('message_created', m1);
		w.channel().emit('message_created', m2);
		await vi.waitFor(() =>
			expect(w.alice.callsOf('mark_delivered')).toEqual([{ conversation_id: C1, up_to_seq: 2 }])
		);
		expect(w.server.participant(C1, ALICE)!.last_delivered_seq).toBe(2);
		w.store.markSeen(C1);
		w.store.markSeen(C1);
		await vi.waitFor(() =>
			expect(w.alice.callsOf('mark_read')).toEqual([{ conversation_id: C1, up_to_seq: 2 }])
		);
		expect(w.store.conversations[0].unread_count).toBe(0);
		// Nothing new: no more calls.
		w.store.markSeen(C1);
		await w.store.flushReceipts();
		expect(w.alice.callsOf('mark_read')).toHaveLength(1);
	});
});

describe('ChatStore: delivery on every path', () => {
	it('marks delivered when the conversation list shows messages newer than my watermark', async () => {
		const w = await world();
		w.server.addUser(CAROL, 'carol');
		w.server.addConversation(C2, 'direct', [ALICE, CAROL]);
		await w.bobSays('while you were away');
		await w.bobSays('still away');
		await w.store.loadConversations();
		await vi.waitFor(() =>
			expect(w.alice.callsOf('mark_delivered')).toEqual([{ conversation_id: C1, up_to_seq: 2 }])
		);
		expect(w.server.participant(C1, ALICE)!.last_delivered_seq).toBe(2);
		// Not read: only a visible conversation sends read receipts.
		expect(w.alice.callsOf('mark_read')).toHaveLength(0);
		// Already delivered: a reload costs no further call.
		await w.store.loadConversations();
		await w.store.flushReceipts();
		expect(w.alice.callsOf('mark_delivered')).toHaveLength(1);
	});
});

describe('ChatStore: live events', () => {
	it('aggregates sealed reactions from history, my own and live changes; the server sees no emoji', async () => {
		const w = await world({ members: ['alice', 'bob', 'carol'], kind: 'group' });
		const m = await w.bobSays('react to me');
		const id = String(m.id);
		const [bob, carol] = [await w.reactor(BOB), await w.reactor(CAROL)];
		const at = await w.reactionTarget(id);
		const carols = await sealedReaction(carol, at, '👍');
		w.server.db.table('message_reactions').push({ ...carols, emoji: null, created_at: w.server.tick() });
		await w.store.open(C1);
		const summary = () => w.store.messagesById[id].reactions.map((r) => [r.emoji, r.count, r.mine, r.users]);
		await vi.waitFor(() => expect(summary()).toEqual([['👍', 1, false, [CAROL]]]));
		await w.store.react(id, '👍');
		expect(w.store.messagesById[id].reactions[0]).toMatchObject({ count: 2, mine: true });
		const mine = w.server.db.table('message_reactions').find((r) => r.user_id === ALICE)!;
		// One tag for one emoji on one message, whoever reacts.
		expect(mine.tag).toBe(carols.tag);
		w.channel().emit('reaction_changed', { ...(await sealedReaction(bob, at, '🎉')), op: 'added' });
		w.channel().emit('reaction_changed', { ...carols, op: 'removed' });
		// My own change echoed back must not count twice.
		w.channel().emit('reaction_changed', { ...mine, op: 'added' });
		await vi.waitFor(() =>
			expect(summary()).toEqual([
				['👍', 1, true, [ALICE]],
				['🎉', 1, false, [BOB]]
			])
		);
		w.alice.rpcHandlers.add_reaction = () => {
			throw new FakeRpcError(400, 'invalid_tag');
		};
		await expect(w.store.react(id, '😂')).rejects.toThrow();
		expect(w.store.messagesById[id].reactions.map((r) => r.emoji)).toEqual(['👍', '🎉']);
		// Toggling mine off names its tag, computed again from the emoji.
		await w.store.unreact(id, '👍');
		expect(w.alice.callsOf('remove_reaction')).toEqual([{ message_id: id, tag: carols.tag }]);
		expect(w.server.db.table('message_reactions').filter((r) => r.user_id === ALICE)).toEqual([]);
		expect(summary()).toEqual([['🎉', 1, false, [BOB]]]);
		for (const call of [...w.alice.callsOf('add_reaction'), ...w.alice.callsOf('remove_reaction')]) {
			expect(JSON.stringify(call)).not.toMatch(/👍|😂/);
		}
	});

	it('shows who types, drops them after silence, and throttles my own typing', async () => {
		const w = await world();
		await w.store.open(C1);
		vi.useFakeTimers();
		const ch = w.members();
		ch.emit('typing', { user_id: BOB, display_name: 'Bob', is_typing: true });
		expect(w.store.typing[C1]).toEqual([{ userId: BOB, name: 'Bob' }]);
		vi.advanceTimersByTime(3000);
		ch.emit('typing', { user_id: BOB, display_name: 'Bob', is_typing: true });
		vi.advanceTimersByTime(3000);
		expect(w.store.typing[C1]).toHaveLength(1);
		vi.advanceTimersByTime(1001);
		expect(w.store.typing[C1]).toEqual([]);
		ch.emit('typing', { user_id: BOB, is_typing: true });
		ch.emit('typing', { user_id: BOB, is_typing: false });
		expect(w.store.typing[C1]).toEqual([]);

		const typingSent = () =>
			ch.sent.filter((s) => s.event === 'typing').map((s) => (s.payload as { is_typing: boolean }).is_typing);
		w.store.setTyping(C1, true);
		vi.advanceTimersByTime(500);
		w.store.setTyping(C1, true);
		vi.advanceTimersByTime(500);
		w.store.setTyping(C1, true);
		expect(typingSent()).toEqual([true]);
		vi.advanceTimersByTime(1100);
		w.store.setTyping(C1, true);
		expect(typingSent()).toEqual([true, true]);
		vi.advanceTimersByTime(4000);
		expect(typingSent()).toEqual([true, true, false]);
		w.store.setTyping(C1, true);
		vi.useRealTimers();
		await w.store.send(C1, 'done typing');
		expect(typingSent()).toEqual([true, true, false, true, false]);
		expect(ch.sent.at(-1)!.payload).toMatchObject({ user_id: ALICE });
	});

	it('tracks presence from the channel state', async () => {
		const w = await world();
		await w.store.open(C1);
		w.members().syncPresence({ [ALICE]: [{ user_id: ALICE }], [BOB]: [{ user_id: BOB }] });
		expect([...w.store.presence[C1]].sort()).toEqual([ALICE, BOB].sort());
		w.members().syncPresence({ [ALICE]: [{ user_id: ALICE }] });
		expect([...w.store.presence[C1]]).toEqual([ALICE]);
	});

	it('watches presence for listed conversations, capped, and keeps it when a conversation closes', async () => {
		const w = await world();
		const listed = w.channel();
		const peers = w.members();
		expect(peers.options).toMatchObject({ config: { private: true, presence: { key: ALICE } } });
		peers.setStatus('SUBSCRIBED');
		expect(peers.tracked[0]).toMatchObject({ user_id: ALICE });
		peers.syncPresence({ [ALICE]: [{ user_id: ALICE }], [BOB]: [{ user_id: BOB }] });
		expect([...w.store.presence[C1]].sort()).toEqual([ALICE, BOB].sort());
		// A listed conversation's messages come through the inbox, not its channel.
		listed.emit('message_created', await w.bobSays('not applied here'));
		expect(w.store.messagesOf(C1)).toEqual([]);
		// Opening reuses the joined channels; closing keeps them for the list.
		await w.store.open(C1);
		expect(w.channel()).toBe(listed);
		w.store.close(C1);
		expect(listed.removed).toBe(false);
		expect(peers.removed).toBe(false);
		expect([...w.store.presence[C1]].sort()).toEqual([ALICE, BOB].sort());

		for (let i = 0; i < MAX_WATCHED_CONVERSATIONS + 5; i++) {
			w.server.addUser(`u${i}`);
			w.server.addConversation(`x${i}`, 'direct', [ALICE, `u${i}`]);
		}
		await w.store.loadConversations();
		await vi.waitFor(() =>
			expect(w.alice.getChannels().filter((c) => c.subTopic.startsWith('conversation:')).length).toBe(
				MAX_WATCHED_CONVERSATIONS
			)
		);
	});

	it('shows a deleted last message in the list of a conversation that is not open', async () => {
		const w = await world();
		const m = await w.bobSays('regret');
		await w.store.loadConversations();
		await vi.waitFor(() => expect(w.store.conversations[0].preview).toBe('regret'));
		const tombstone = { ...m, content_encrypted: null, deleted_at: new Date().toISOString() };
		w.channel().emit('message_updated', tombstone);
		await vi.waitFor(() => expect(w.store.conversations[0].last_message?.deleted_at).not.toBeNull());
		expect(w.store.conversations[0].preview).toBeNull();
	});

	it('keeps the inbox live: unread counts, decrypted previews, order and delivery', async () => {
		const w = await world();
		w.server.addUser(CAROL, 'carol');
		w.server.addConversation(C2, 'direct', [ALICE, CAROL]);
		await w.store.loadConversations();
		const m = await w.bobSays('ping');
		w.alice
			.channelFor(userTopic(ALICE))!
			.emit('inbox', { conversation_id: C1, seq: m.seq, sender_id: BOB, key_epoch: 1 });
		await vi.waitFor(() =>
			expect(w.store.conversations[0]).toMatchObject({ id: C1, unread_count: 1, preview: 'ping' })
		);
		await vi.waitFor(() =>
			expect(w.alice.callsOf('mark_delivered')).toEqual([{ conversation_id: C1, up_to_seq: 1 }])
		);

		// A conversation this page did not know about shows up.
		w.server.addConversation(C3, 'group', [BOB, ALICE], 'New group');
		w.alice.channelFor(userTopic(ALICE))!.emit('conversation_added', { conversation_id: C3 });
		await vi.waitFor(() => expect(w.store.conversations.map((c) => c.name)).toContain('New group'));
		w.alice.channelFor(userTopic(ALICE))!.emit('conversation_removed', { conversation_id: C3 });
		expect(w.store.conversations.map((c) => c.id)).not.toContain(C3);
	});

	it('applies edits and deletions, and uses a fresh key after a member is removed', async () => {
		const w = await world({ members: ['alice', 'bob', 'carol'], kind: 'group' });
		await w.store.open(C1);
		await w.store.send(C1, 'draft');
		await vi.waitFor(() => expect(w.store.messagesOf(C1)[0].seq).toBe(1));
		const id = w.store.messagesOf(C1)[0].id;
		await w.store.edit(id, 'final');
		expect(w.store.messagesById[id]).toMatchObject({ text: 'final' });
		expect(w.store.messagesById[id].edited_at).not.toBeNull();

		await w.store.removeMember(C1, CAROL);
		expect(w.store.conversations[0].key_epoch).toBe(2);
		expect(w.store.participants[C1].map((p) => p.user_id).sort()).toEqual([ALICE, BOB].sort());
		await w.store.send(C1, 'after rotation');
		await vi.waitFor(() => expect(w.server.messages(C1)).toHaveLength(2));
		expect(w.server.messages(C1)[1].encryption).toMatchObject({ epoch: 2 });
		const epoch2 = w.server.db.table('conversation_keys').filter((k) => k.epoch === 2);
		expect(epoch2.map((k) => k.user_id).sort()).toEqual([ALICE, BOB].sort());

		await w.store.remove(id);
		expect(w.store.messagesById[id]).toMatchObject({ text: null, undecryptable: false });
		expect(w.store.messagesById[id].deleted_at).not.toBeNull();
	});
});

describe('ChatStore: live membership', () => {
	it('moves to the new epoch topics when the database says so, leaving the old ones', async () => {
		const w = await world({ members: ['alice', 'bob', 'carol'], kind: 'group' });
		await w.store.open(C1);
		const [oldDb, oldMembers] = [w.channel(), w.members()];
		expect(oldDb.subTopic).toBe(conversationTopic(C1, 1));
		oldMembers.emit('typing', { user_id: CAROL, display_name: 'Carol', is_typing: true });
		expect(w.store.typing[C1]).toEqual([{ userId: CAROL, name: 'Carol' }]);
		// Carol is removed by someone else: the database bumps the epoch and tells the old topic.
		w.server.db.table('conversation_participants').splice(
			w.server.db.table('conversation_participants').findIndex((p) => p.user_id === CAROL),
			1
		);
		w.server.conversation(C1).key_epoch = 2;

		oldDb.emit('key_epoch_changed', { conversation_id: C1, key_epoch: 2 });
		await vi.waitFor(() => expect(w.alice.channelFor(conversationTopic(C1, 2))).toBeDefined());
		expect(w.alice.channelFor(membersTopic(C1, 2))).toBeDefined();
		expect(oldDb.removed).toBe(true);
		expect(oldMembers.removed).toBe(true);
		await vi.waitFor(() =>
			expect(w.store.participants[C1].map((p) => p.user_id).sort()).toEqual([ALICE, BOB].sort())
		);
		// Her typing and presence are gone, and what the old channels still carry is not applied.
		expect(w.store.typing[C1]).toEqual([]);
		w.members().syncPresence({ [ALICE]: [{ user_id: ALICE }], [CAROL]: [{ user_id: CAROL }] });
		expect([...w.store.presence[C1]]).toEqual([ALICE]);
		oldDb.emit('message_created', await w.bobSays('late, on the old topic'));
		expect(w.store.messagesOf(C1)).toEqual([]);
		w.channel().emit('message_created', w.server.messages(C1)[0]);
		await vi.waitFor(() => expect(texts(w.store)).toEqual(['late, on the old topic']));
	});

	it('refuses events that contradict what it knows: wrong conversation, a held seq, a non-member', async () => {
		const w = await world({ members: ['alice', 'bob', 'carol'], kind: 'group' });
		w.server.addUser(MALLORY, 'mallory');
		await w.bobSays('first');
		await w.store.open(C1);
		const first = w.store.messagesOf(C1)[0];
		const forged = (over: Record<string, unknown>) => ({
			...w.server.messages(C1)[0],
			id: crypto.randomUUID(),
			...over
		});
		// Another conversation's id, a seq the device holds for another message, a sender outside.
		w.channel().emit('message_created', forged({ conversation_id: C2, seq: 2 }));
		w.channel().emit('message_created', forged({ seq: 1 }));
		w.channel().emit('message_created', forged({ seq: 2, sender_id: MALLORY }));
		// An "edit" that moves a known message to another author.
		w.channel().emit('message_updated', {
			...w.server.messages(C1)[0],
			sender_id: CAROL,
			content_encrypted: 'x'
		});
		// A reaction by someone outside, well sealed and signed: still not a member's.
		const mallory = await w.reactor(MALLORY);
		w.channel().emit('reaction_changed', {
			...(await sealedReaction(mallory, await w.reactionTarget(first.id), '💀')),
			op: 'added'
		});
		w.members().emit('typing', { user_id: MALLORY, display_name: 'Mallory', is_typing: true });
		await vi.waitFor(() => expect(w.alice.callsOf('get_conversation').length).toBeGreaterThan(1));
		await new Promise((r) => setTimeout(r, 20));
		expect(w.store.messagesOf(C1).map((m) => [m.seq, m.text, m.sender_id])).toEqual([[1, 'first', BOB]]);
		expect(w.store.messagesById[first.id].reactions).toEqual([]);
		expect(w.store.typing[C1] ?? []).toEqual([]);
		// The real next message still arrives.
		w.channel().emit('message_created', await w.bobSays('second'));
		await vi.waitFor(() => expect(texts(w.store)).toEqual(['first', 'second']));
	});

	it('notices from the inbox an epoch move its channels missed, and moves', async () => {
		const w = await world({ members: ['alice', 'bob', 'carol'], kind: 'group' });
		await w.bobSays('before');
		await w.store.open(C1);
		const stale = w.channel();
		w.server.conversation(C1).key_epoch = 2;
		const m = await w.bobSays('on the new epoch');
		w.alice
			.channelFor(userTopic(ALICE))!
			.emit('inbox', { conversation_id: C1, seq: m.seq, sender_id: BOB, key_epoch: 2 });
		await vi.waitFor(() => expect(w.alice.channelFor(conversationTopic(C1, 2))).toBeDefined());
		expect(stale.removed).toBe(true);
		// The catch-up of the (re)join brings what the missed topic carried.
		await vi.waitFor(() => {
			w.channel().setStatus('SUBSCRIBED');
			expect(w.store.messagesOf(C1).map((x) => x.seq)).toEqual([1, m.seq]);
		});
	});

	it('confirms the epoch once joined: a join that raced a move (and missed its event) still moves', async () => {
		const w = await world({ members: ['alice', 'bob', 'carol'], kind: 'group' });
		await w.store.open(C1);
		const raced = w.channel();
		w.members().syncPresence({ [ALICE]: [{ user_id: ALICE }], [CAROL]: [{ user_id: CAROL }] });
		expect([...w.store.presence[C1]].sort()).toEqual([ALICE, CAROL].sort());
		const table = w.server.db.table('conversation_participants');
		table.splice(
			table.findIndex((p) => p.user_id === CAROL),
			1
		);
		w.server.conversation(C1).key_epoch = 2;
		raced.setStatus('SUBSCRIBED');
		await vi.waitFor(() => expect(w.alice.channelFor(conversationTopic(C1, 2))).toBeDefined());
		expect(raced.removed).toBe(true);
		// Her presence is gone with the old channels, before the new ones say anything.
		expect(w.store.presence[C1]).toBeUndefined();
		await vi.waitFor(() =>
			expect(w.store.participants[C1].map((p) => p.user_id).sort()).toEqual([ALICE, BOB].sort())
		);
	});

	it('forgets a conversation whose channel the server closed once I am no longer in it', async () => {
		const w = await world({ members: ['alice', 'bob', 'carol'], kind: 'group' });
		await w.store.open(C1);
		const table = w.server.db.table('conversation_participants');
		table.splice(
			table.findIndex((p) => p.user_id === ALICE && p.conversation_id === C1),
			1
		);
		w.channel().setStatus('CLOSED');
		await vi.waitFor(() => expect(w.store.conversations.map((c) => c.id)).toEqual([]));
	});
});

describe('ChatStore: gaps', () => {
	it('fetches messages a lost broadcast skipped when a later one arrives', async () => {
		const w = await world();
		await w.bobSays('one');
		await w.store.open(C1);
		await w.bobSays('two (broadcast lost)');
		const three = await w.bobSays('three');
		w.channel().emit('message_created', three);
		await vi.waitFor(() => expect(texts(w.store)).toEqual(['one', 'two (broadcast lost)', 'three']));
	});
});

describe('ChatStore: keys that appear later', () => {
	it('decrypts the first message of a conversation opened before any key existed', async () => {
		const w = await world();
		await w.store.open(C1);
		expect(w.server.db.table('conversation_keys')).toHaveLength(0);
		const first = await w.bobSays('first ever');
		w.channel().emit('message_created', first);
		await vi.waitFor(() => expect(texts(w.store)).toEqual(['first ever']));
		expect(w.store.messagesOf(C1)[0].undecryptable).toBe(false);
		const second = await w.bobSays('second');
		w.channel().emit('message_created', second);
		await vi.waitFor(() => expect(texts(w.store)).toEqual(['first ever', 'second']));
	});

	it('decrypts a message that arrived before its key once the key shows up', async () => {
		const w = await world();
		await w.store.open(C1);
		const first = await w.bobSays('early');
		// Alice's key row is not visible yet when the message arrives (e.g. published a moment later).
		const keys = w.server.db.table('conversation_keys');
		const mine = keys.filter((k) => k.user_id === ALICE);
		for (const k of mine) keys.splice(keys.indexOf(k), 1);
		w.channel().emit('message_created', first);
		await vi.waitFor(() => expect(w.store.messagesOf(C1)[0]?.undecryptable).toBe(true));
		keys.push(...mine);
		const second = await w.bobSays('later');
		w.channel().emit('message_created', second);
		await vi.waitFor(() => expect(texts(w.store)).toEqual(['early', 'later']));
		expect(w.store.messagesOf(C1)[0].undecryptable).toBe(false);
	});
});

describe('ChatStore: mentions and notification levels', () => {
	it('tells the server whom a message mentions (members only), and again on edit', async () => {
		const w = await world({ members: ['alice', 'bob', 'carol'], kind: 'group' });
		await w.store.open(C1);
		await w.store.send(C1, 'hi @bob and @Carol, not @mallory or bob@example.com');
		await vi.waitFor(() => expect(w.alice.callsOf('send_message')).toHaveLength(1));
		expect(w.alice.callsOf('send_message')[0].mentions).toEqual([BOB, CAROL]);
		await vi.waitFor(() => expect(w.store.messagesOf(C1)[0].seq).toBe(1));
		const [sent] = w.store.messagesOf(C1);
		expect(sent.mentions).toEqual([BOB, CAROL].sort());

		await w.store.edit(sent.id, 'only @carol now');
		expect(w.alice.callsOf('edit_message')[0].mentions).toEqual([CAROL]);
		expect(w.store.messagesOf(C1)[0].mentions).toEqual([CAROL]);
	});

	it('counts unread mentions of me from the list and the inbox; reading clears them', async () => {
		const w = await world();
		await w.bobSays('hello @alice', C1, { mentions: [ALICE] });
		await w.store.loadConversations();
		expect(w.store.conversations[0]).toMatchObject({
			unread_count: 1,
			unread_mentions: 1,
			notify_level: 'all'
		});

		const plain = await w.bobSays('no mention');
		w.alice
			.channelFor(userTopic(ALICE))!
			.emit('inbox', { conversation_id: C1, seq: plain.seq, sender_id: BOB, key_epoch: 1 });
		await vi.waitFor(() => expect(w.store.conversations[0].preview).toBe('no mention'));
		expect(w.store.conversations[0].unread_mentions).toBe(1);
		const again = await w.bobSays('@alice again', C1, { mentions: [ALICE] });
		w.alice
			.channelFor(userTopic(ALICE))!
			.emit('inbox', { conversation_id: C1, seq: again.seq, sender_id: BOB, key_epoch: 1 });
		await vi.waitFor(() => expect(w.store.conversations[0].unread_mentions).toBe(2));

		await w.store.open(C1);
		w.store.markSeen(C1);
		expect(w.store.conversations[0]).toMatchObject({ unread_count: 0, unread_mentions: 0 });
	});

	it('sets my level and mute (shown at once, kept after a reload) and puts them back when refused', async () => {
		const w = await world();
		await w.store.setNotificationLevel(C1, 'mentions', '1h');
		const c = w.store.conversations[0];
		expect(c.notify_level).toBe('mentions');
		expect(Date.parse(c.muted_until!) - Date.now()).toBeGreaterThan(59 * 60_000);
		expect(w.alice.callsOf('set_notification_level')).toEqual([
			{ conversation_id: C1, notify_level: 'mentions', muted_until: c.muted_until }
		]);
		await w.store.setNotificationLevel(C1, 'none', 'forever');
		await w.store.loadConversations();
		expect(w.store.conversations[0]).toMatchObject({ notify_level: 'none', muted_until: 'infinity' });
		// Changing the level alone keeps the mute; null unmutes.
		await w.store.setNotificationLevel(C1, 'all');
		expect(w.store.conversations[0]).toMatchObject({ notify_level: 'all', muted_until: 'infinity' });
		await w.store.setNotificationLevel(C1, 'all', null);
		expect(w.store.conversations[0].muted_until).toBeNull();

		w.alice.rpcHandlers.set_notification_level = () => {
			throw new FakeRpcError(404, 'conversation_not_found');
		};
		const refused = await w.store.setNotificationLevel(C1, 'none', '8h').catch((e: unknown) => e);
		expect(refused).toBeInstanceOf(ChatError);
		expect(w.store.conversations[0]).toMatchObject({ notify_level: 'all', muted_until: null });
	});
});
