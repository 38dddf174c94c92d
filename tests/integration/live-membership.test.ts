/**
 * Trust I, tried as an attacker would: the real embedded stack, the app migrations, real
 * supabase-js clients and the real ChatStore. Rob is removed from a group while his channels are
 * open; a member tries to forge the database's events.
 *
 * Two stacks: one as the embedded stack runs (it re-checks open channels after a removal), and
 * one without the `realtime_authorization` publication, which is how hosted Supabase behaves (a
 * channel is authorized at join and on a new token only): there the topic design alone must
 * silence Rob.
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestStack, type TestStack } from '@parley/stack/testing/index.ts';
import { ChatStore } from '#lib/chat/store.svelte.ts';
import { conversationTopic, membersTopic } from '#lib/chat/live.ts';
import { REPLICATION_APPLICATION_NAME } from '@parley/stack/realtime/db-broadcast.ts';

interface User {
	client: SupabaseClient;
	id: string;
	username: string;
}

interface Joined {
	ch: RealtimeChannel;
	events: { event: string; payload: Record<string, unknown>; at: number }[];
	system: { status: string; message: string; at: number }[];
	closedAt: number | null;
}

let n = 0;
async function signUp(stack: TestStack, name: string): Promise<User> {
	const username = `${name}_${Date.now().toString(36)}${++n}`;
	const client = createClient(stack.apiUrl, stack.anonKey, {
		auth: { persistSession: false, autoRefreshToken: false }
	});
	const { data, error } = await client.auth.signUp({
		email: `${username}@example.test`,
		password: 'a-long-test-password-1',
		options: { data: { username } }
	});
	if (error || !data.user) throw error ?? new Error('no user');
	await client.realtime.setAuth();
	return { client, id: data.user.id, username };
}

/** Joins a private topic with supabase-js, recording every broadcast, system message and the close. */
async function join(user: User, topic: string, presence = false): Promise<Joined> {
	const ch = user.client.channel(topic, {
		config: {
			private: true,
			broadcast: { self: false, ack: true },
			...(presence ? { presence: { key: user.id } } : {})
		}
	});
	const joined: Joined = { ch, events: [], system: [], closedAt: null };
	ch.on('broadcast', { event: '*' }, (m) =>
		joined.events.push({ event: m.event, payload: m.payload as Record<string, unknown>, at: Date.now() })
	);
	ch.on('system', {}, (p: { status: string; message: string }) =>
		joined.system.push({ status: p.status, message: p.message, at: Date.now() })
	);
	if (presence) ch.on('presence', { event: 'sync' }, () => undefined);
	await new Promise<void>((resolve, reject) => {
		ch.subscribe((status, err) => {
			if (status === 'SUBSCRIBED') resolve();
			else if (status === 'CLOSED') joined.closedAt ??= Date.now();
			else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') reject(err ?? new Error(status));
		});
	});
	if (presence) await ch.track({ user_id: user.id });
	return joined;
}

/** Whether a join is refused (the policies), without leaving a retrying channel behind. */
async function refused(user: User, topic: string): Promise<boolean> {
	const ch = user.client.channel(topic, { config: { private: true } });
	const outcome = await new Promise<boolean>((resolve) => {
		ch.subscribe((status) => {
			if (status === 'SUBSCRIBED') resolve(false);
			if (status === 'CHANNEL_ERROR') resolve(true);
		});
	});
	await user.client.removeChannel(ch);
	return outcome;
}

async function rpc<T>(user: User, name: string, args: Record<string, unknown>): Promise<T> {
	const { data, error } = await user.client.rpc(name, args);
	if (error) throw new Error(`${name}: ${error.message}`);
	return data as T;
}

async function group(ana: User, members: User[]): Promise<string> {
	const row = await rpc<{ id: string }>(ana, 'create_group_conversation', {
		title: 'Secret plan',
		participant_ids: members.map((m) => m.id)
	});
	return row.id;
}

const say = (user: User, conversationId: string, text: string) =>
	rpc(user, 'send_message', { conversation_id: conversationId, content_encrypted: text });

/**
 * Resolves once the stack's Realtime reads this database's replication stream. It starts with
 * the first socket; what commits before it streams is never delivered (at most once, as on Supabase).
 */
async function replicating(stack: TestStack): Promise<void> {
	await vi.waitFor(
		async () => {
			const { rowCount } = await stack.db.query(
				`select 1 from pg_stat_replication r join pg_replication_slots s on s.active_pid = r.pid
				 where r.application_name = $1 and r.state = 'streaming' and s.database = current_database()`,
				[REPLICATION_APPLICATION_NAME]
			);
			expect(rowCount).toBe(1);
		},
		{ timeout: 10_000, interval: 20 }
	);
}

const stores: ChatStore[] = [];
async function storeFor(user: User): Promise<ChatStore> {
	const store = new ChatStore({ indexedDB: new IDBFactory(), receiptDelayMs: 20 });
	stores.push(store);
	await store.start(user.client, user.id);
	return store;
}

const stacks: TestStack[] = [];
afterAll(async () => {
	for (const s of stores) s.stop();
	for (const s of stacks) await s.stop();
});

describe('embedded stack: a removed member is cut off at once', () => {
	let stack: TestStack;
	beforeAll(async () => {
		stack = await startTestStack({ template: 'app' });
		stacks.push(stack);
	});

	it('closes his open channels, so he hears and sends nothing, and his presence leaves', async () => {
		const [ana, bob, rob] = [
			await signUp(stack, 'ana'),
			await signUp(stack, 'bob'),
			await signUp(stack, 'rob')
		];
		const c = await group(ana, [bob, rob]);
		const robDb = await join(rob, conversationTopic(c, 1));
		const robMembers = await join(rob, membersTopic(c, 1), true);
		const anaMembers = await join(ana, membersTopic(c, 1), true);
		await vi.waitFor(() => expect(Object.keys(anaMembers.ch.presenceState())).toContain(rob.id), {
			timeout: 5000
		});
		await replicating(stack);

		const removedAt = Date.now();
		await rpc(ana, 'remove_participant', { conversation_id: c, user_id: rob.id });
		await vi.waitFor(() => expect(robDb.closedAt && robMembers.closedAt).toBeTruthy(), { timeout: 1000 });
		const silence = Math.max(robDb.closedAt!, robMembers.closedAt!) - removedAt;
		console.log(`removal to Rob's channels closed: ${silence} ms`);
		expect(robDb.system.at(-1)).toMatchObject({
			status: 'error',
			message: expect.stringContaining('no longer have permission')
		});
		// The old topic told him of his own removal and that the conversation moved on, and nothing after.
		expect(robDb.events.map((e) => e.event)).toEqual(['participants_changed', 'key_epoch_changed']);
		expect(robDb.events[0].payload).toMatchObject({ user_id: rob.id, op: 'removed' });
		// Everyone's old channels close (their epoch is over), so presence is that of the new topic, below.

		// The members' old channels were closed too (their epoch is over); they are on the new ones.
		await vi.waitFor(() => expect(anaMembers.closedAt).not.toBeNull());
		const anaNext = await join(ana, membersTopic(c, 2), true);
		await say(ana, c, 'after rob');
		await rpc(bob, 'mark_read', { conversation_id: c, up_to_seq: 1 });
		// His channel is closed: supabase-js falls back to the HTTP broadcast API, which drops a
		// refused private message silently (as Supabase does). Nobody receives it.
		await robMembers.ch.send({ type: 'broadcast', event: 'typing', payload: { user_id: rob.id } });
		await rob.client.channel(membersTopic(c, 2), { config: { private: true } }).send({
			type: 'broadcast',
			event: 'typing',
			payload: { user_id: rob.id }
		});
		await new Promise((r) => setTimeout(r, 200));
		expect(robDb.events.map((e) => e.event)).toEqual(['participants_changed', 'key_epoch_changed']);
		expect(robMembers.events).toEqual([]);
		expect(anaNext.events).toEqual([]);
		expect(Object.keys(anaNext.ch.presenceState())).toEqual([ana.id]);
		// He cannot join the new topics, nor rejoin the old ones.
		for (const topic of [
			conversationTopic(c, 2),
			membersTopic(c, 2),
			conversationTopic(c, 1),
			membersTopic(c, 1)
		]) {
			expect(await refused(rob, topic), topic).toBe(true);
		}
		expect(anaMembers.events.filter((e) => e.payload.user_id === rob.id)).toEqual([]);
	});

	it('a member cannot put an event on the database topic or a user topic', async () => {
		const [ana, bob] = [await signUp(stack, 'ana'), await signUp(stack, 'bob')];
		const c = await group(ana, [bob]);
		const anaDb = await join(ana, conversationTopic(c, 1));
		const bobDb = await join(bob, conversationTopic(c, 1));
		await replicating(stack);
		const forged = {
			id: crypto.randomUUID(),
			conversation_id: c,
			sender_id: ana.id,
			seq: 1,
			content_encrypted: 'x'
		};
		expect(await bobDb.ch.send({ type: 'broadcast', event: 'message_created', payload: forged })).not.toBe(
			'ok'
		);
		const bobInbox = await join(bob, `user:${bob.id}`);
		expect(await bobInbox.ch.send({ type: 'broadcast', event: 'inbox', payload: {} })).not.toBe('ok');
		await say(ana, c, 'real');
		await vi.waitFor(() => expect(anaDb.events.map((e) => e.event)).toEqual(['message_created']), {
			timeout: 5000
		});
		expect(anaDb.events[0].payload).toMatchObject({ sender_id: ana.id, content_encrypted: 'real' });
	});
});

describe('as on hosted Supabase (no re-check of open channels): the topics alone silence him', () => {
	let stack: TestStack;
	beforeAll(async () => {
		stack = await startTestStack({ template: 'app' });
		stacks.push(stack);
		// Before Realtime first starts: the stack then has nothing that tells it to re-check.
		await stack.db.query('drop publication realtime_authorization');
	});

	it("the others' stores move to the new epoch within a second; his channel hears nothing new and reaches nobody", async () => {
		const [ana, bob, rob] = [
			await signUp(stack, 'ana'),
			await signUp(stack, 'bob'),
			await signUp(stack, 'rob')
		];
		const c = await group(ana, [bob, rob]);
		const bobStore = await storeFor(bob);
		await bobStore.open(c);
		const topics = () => bob.client.getChannels().map((ch) => ch.subTopic);
		await vi.waitFor(() => expect(topics()).toEqual(expect.arrayContaining([membersTopic(c, 1)])), {
			timeout: 5000
		});
		const robDb = await join(rob, conversationTopic(c, 1));
		const robMembers = await join(rob, membersTopic(c, 1), true);
		await vi.waitFor(() => expect([...(bobStore.presence[c] ?? [])]).toContain(rob.id));
		await robMembers.ch.send({
			type: 'broadcast',
			event: 'typing',
			payload: { user_id: rob.id, is_typing: true }
		});
		await vi.waitFor(() => expect(bobStore.typing[c]?.map((t) => t.userId)).toEqual([rob.id]), {
			timeout: 5000
		});
		await replicating(stack);

		const removedAt = Date.now();
		await rpc(ana, 'remove_participant', { conversation_id: c, user_id: rob.id });
		await vi.waitFor(
			() => {
				expect(topics()).toEqual(expect.arrayContaining([conversationTopic(c, 2), membersTopic(c, 2)]));
				expect(topics()).not.toContain(membersTopic(c, 1));
				expect([...(bobStore.presence[c] ?? [])]).not.toContain(rob.id);
				expect(bobStore.typing[c] ?? []).toEqual([]);
			},
			{ timeout: 1000, interval: 10 }
		);
		console.log(`removal to Bob's store on the new topics, without Rob: ${Date.now() - removedAt} ms`);

		// Rob's channels stay open here (as on hosted Supabase), and fall silent.
		expect(robDb.closedAt).toBeNull();
		await robMembers.ch.send({
			type: 'broadcast',
			event: 'typing',
			payload: { user_id: rob.id, is_typing: true }
		});
		await say(ana, c, 'after rob');
		await vi.waitFor(
			() => expect(bobStore.messagesOf(c).map((m) => m.content_encrypted)).toContain('after rob'),
			{ timeout: 5000 }
		);
		await new Promise((r) => setTimeout(r, 200));
		expect(robDb.events.map((e) => e.event)).toEqual(['participants_changed', 'key_epoch_changed']);
		expect(bobStore.typing[c] ?? []).toEqual([]);
		expect(robDb.events[1].payload).toEqual(expect.objectContaining({ conversation_id: c, key_epoch: 2 }));
		expect(await refused(rob, conversationTopic(c, 2))).toBe(true);
		expect(await refused(rob, membersTopic(c, 2))).toBe(true);
	});
});
