/**
 * ChatStore against the real embedded stack (Auth, REST/RPC, Realtime and the app migrations):
 * two users chat end to end, the database only ever holds ciphertext, and a second device that
 * restores the passphrase backup reads the history.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { IDBFactory } from 'fake-indexeddb';
import { resolveObjectURL } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestStack, type TestStack } from '@parley/stack/testing/index.ts';
import { ChatStore } from './store.svelte.ts';

let stack: TestStack;
const stores: ChatStore[] = [];

beforeAll(async () => {
	stack = await startTestStack({ template: 'app' });
});

afterAll(async () => {
	for (const s of stores) s.stop();
	await stack?.stop();
});

async function signUp(username: string): Promise<{ client: SupabaseClient; id: string }> {
	const client = createClient(stack.apiUrl, stack.anonKey, {
		auth: { persistSession: false, autoRefreshToken: false }
	});
	const { data, error } = await client.auth.signUp({
		email: `${username}@example.test`,
		password: 'a-long-test-password-1',
		options: { data: { username } }
	});
	if (error) throw error;
	if (!data.session || !data.user) throw new Error('sign-up returned no session');
	return { client, id: data.user.id };
}

function newStore(): ChatStore {
	const store = new ChatStore({ indexedDB: new IDBFactory(), receiptDelayMs: 20 });
	stores.push(store);
	return store;
}

const texts = (store: ChatStore, id: string) => store.messagesOf(id).map((m) => m.text);

describe('ChatStore on the embedded stack', () => {
	it('chats end to end with only ciphertext on the server, and restores history on a new device', async () => {
		const suffix = Math.random().toString(36).slice(2, 8);
		const alice = await signUp(`alice_${suffix}`);
		const bob = await signUp(`bob_${suffix}`);
		const a = newStore();
		const b = newStore();
		await a.start(alice.client, alice.id);
		await b.start(bob.client, bob.id);
		expect(a.keyring.ready && b.keyring.ready).toBe(true);

		const conversationId = await a.startDirect(`bob_${suffix}`);
		await a.open(conversationId);
		await a.send(conversationId, 'hello bob, this is secret');
		await vi.waitFor(() => expect(a.messagesOf(conversationId)[0]?.seq).toBe(1), { timeout: 10_000 });

		const { rows } = await stack.db.query('select content_encrypted, encryption from public.messages');
		expect(rows).toHaveLength(1);
		expect(rows[0].content_encrypted).not.toContain('secret');
		expect(rows[0].encryption).toMatchObject({ epoch: expect.any(Number), nonce: expect.any(String) });

		await b.loadConversations();
		expect(b.conversations.map((c) => c.id)).toContain(conversationId);
		await b.open(conversationId);
		expect(texts(b, conversationId)).toEqual(['hello bob, this is secret']);

		// Bob's reply reaches Alice live (Realtime broadcast from the database).
		await vi.waitFor(() => expect(a.online && b.online).toBe(true), { timeout: 10_000 });
		await b.send(conversationId, 'hi alice');
		await vi.waitFor(
			() => expect(texts(a, conversationId)).toEqual(['hello bob, this is secret', 'hi alice']),
			{
				timeout: 10_000
			}
		);
		// Alice's store received it, so her delivered watermark moves; Bob's copy turns ✓✓.
		await vi.waitFor(() => expect(b.messagesOf(conversationId)[1]?.status).toBe('delivered'), {
			timeout: 10_000
		});

		// A second device of Alice's restores the backup and reads the history.
		await a.keyring.backup('correct horse battery staple');
		const phoneClient = createClient(stack.apiUrl, stack.anonKey, {
			auth: { persistSession: false, autoRefreshToken: false }
		});
		const signIn = await phoneClient.auth.signInWithPassword({
			email: `alice_${suffix}@example.test`,
			password: 'a-long-test-password-1'
		});
		expect(signIn.error).toBeNull();
		const phone = newStore();
		await phone.start(phoneClient, alice.id);
		expect(phone.keyring.needsRestore).toBe(true);
		expect(await phone.keyring.restore('wrong passphrase!')).toBe(false);
		expect(await phone.keyring.restore('correct horse battery staple')).toBe(true);
		await phone.open(conversationId);
		expect(texts(phone, conversationId)).toEqual(['hello bob, this is secret', 'hi alice']);
	});

	it('gives the key to a member who had no public key when it was made, once they ask', async () => {
		const suffix = Math.random().toString(36).slice(2, 8);
		const alice = await signUp(`alice_${suffix}`);
		const bob = await signUp(`bob_${suffix}`);
		const a = newStore();
		await a.start(alice.client, alice.id);
		// Bob has an account but has not opened the app: no identity, no public key.
		const conversationId = await a.startDirect(`bob_${suffix}`);
		await a.open(conversationId);
		await a.send(conversationId, 'sent before you had a key');
		await vi.waitFor(() => expect(a.messagesOf(conversationId)[0]?.seq).toBe(1), { timeout: 10_000 });
		const keyRows = async () =>
			(
				await stack.db.query(
					'select user_id, wrapped_by from public.conversation_keys where conversation_id = $1 order by created_at',
					[conversationId]
				)
			).rows;
		expect(await keyRows()).toEqual([{ user_id: alice.id, wrapped_by: alice.id }]);

		const b = newStore();
		await b.start(bob.client, bob.id);
		await b.loadConversations();
		await b.open(conversationId);
		// Bob's device asks, Alice's (online, holding the key) wraps it for him, and his copy opens.
		await vi.waitFor(() => expect(texts(b, conversationId)).toEqual(['sent before you had a key']), {
			timeout: 10_000
		});
		expect(await keyRows()).toContainEqual({ user_id: bob.id, wrapped_by: alice.id });
		await vi.waitFor(() =>
			expect(b.conversations.find((c) => c.id === conversationId)?.preview).toBe('sent before you had a key')
		);
	});

	it('reacts with sealed emoji: counted on both sides, none stored or broadcast in the clear, a relabelled one dropped', async () => {
		const suffix = Math.random().toString(36).slice(2, 8);
		const alice = await signUp(`alice_${suffix}`);
		const bob = await signUp(`bob_${suffix}`);
		const [a, b] = [newStore(), newStore()];
		await a.start(alice.client, alice.id);
		await b.start(bob.client, bob.id);
		const conversationId = await a.startDirect(`bob_${suffix}`);
		await a.open(conversationId);
		await a.send(conversationId, 'react to this');
		await vi.waitFor(() => expect(a.messagesOf(conversationId)[0]?.seq).toBe(1), { timeout: 10_000 });
		await b.loadConversations();
		await b.open(conversationId);
		await vi.waitFor(() => expect(a.online && b.online).toBe(true), { timeout: 10_000 });
		const id = a.messagesOf(conversationId)[0].id;
		const seen = (store: ChatStore) =>
			store.messagesById[id]?.reactions.map((r) => [r.emoji, r.count, [...r.users].sort()]);

		await a.react(id, '🦔');
		await vi.waitFor(() => expect(seen(b)).toEqual([['🦔', 1, [alice.id]]]), { timeout: 10_000 });
		await b.react(id, '🦔');
		await vi.waitFor(() => expect(seen(a)).toEqual([['🦔', 2, [alice.id, bob.id].sort()]]), {
			timeout: 10_000
		});
		const { rows } = await stack.db.query(
			'select user_id, emoji, tag, emoji_sealed, nonce, epoch, sig from public.message_reactions where message_id = $1',
			[id]
		);
		expect(rows).toHaveLength(2);
		expect(rows.every((r) => r.emoji === null)).toBe(true);
		// One emoji on one message: one tag, whoever reacted.
		expect(new Set(rows.map((r) => r.tag)).size).toBe(1);
		const leaks = await stack.db.query(
			`select (select count(*) from public.message_reactions t where t::text like '%🦔%')
			      + (select count(*) from realtime.messages t where t::text like '%🦔%') as n`
		);
		expect(Number(leaks.rows[0].n)).toBe(0);

		await a.unreact(id, '🦔');
		await vi.waitFor(() => expect(seen(b)).toEqual([['🦔', 1, [bob.id]]]), { timeout: 10_000 });
		// The server relabels Bob's reaction as Alice's: her signature is not on it, nobody counts it.
		const bobs = rows.find((r) => r.user_id === bob.id)!;
		await stack.db.query(
			`insert into public.message_reactions (message_id, user_id, conversation_id, tag, emoji_sealed, nonce, epoch, sig)
			 values ($1, $2, $3, $4, $5, $6, $7, $8)`,
			[id, alice.id, conversationId, bobs.tag, bobs.emoji_sealed, bobs.nonce, bobs.epoch, bobs.sig]
		);
		await new Promise((r) => setTimeout(r, 500));
		expect(seen(b)).toEqual([['🦔', 1, [bob.id]]]);
		const fresh = newStore();
		const bobAgain = createClient(stack.apiUrl, stack.anonKey, {
			auth: { persistSession: false, autoRefreshToken: false }
		});
		await bobAgain.auth.signInWithPassword({
			email: `bob_${suffix}@example.test`,
			password: 'a-long-test-password-1'
		});
		await fresh.start(bobAgain, bob.id);
		await b.keyring.backup('correct horse battery staple');
		await fresh.keyring.restore('correct horse battery staple');
		await fresh.open(conversationId);
		await vi.waitFor(() => expect(seen(fresh)).toEqual([['🦔', 1, [bob.id]]]), { timeout: 10_000 });
	});

	it('sends a file sealed on the device; the other side downloads and opens it, and only ciphertext is stored', async () => {
		const suffix = Math.random().toString(36).slice(2, 8);
		const alice = await signUp(`alice_${suffix}`);
		const bob = await signUp(`bob_${suffix}`);
		const [a, b] = [newStore(), newStore()];
		await a.start(alice.client, alice.id);
		await b.start(bob.client, bob.id);
		const conversationId = await a.startDirect(`bob_${suffix}`);
		await a.open(conversationId);
		const bytes = new TextEncoder().encode('the plans, in a file');
		await a.sendAttachment(conversationId, new File([bytes], 'plans.txt', { type: 'text/plain' }), {
			caption: 'see this'
		});
		await vi.waitFor(() => expect(a.messagesOf(conversationId)[0]?.seq).toBe(1), { timeout: 10_000 });
		const { rows } = await stack.db.query<{ name: string }>(
			`select name from storage.objects where bucket_id = 'attachments' and name like $1`,
			[`${conversationId}/%`]
		);
		expect(rows).toHaveLength(1);
		const stored = await readFile(join(stack.storageDir, 'attachments', ...rows[0].name.split('/')));
		expect(stored.length).toBeGreaterThan(bytes.length);
		expect(stored.toString('utf8')).not.toContain('the plans');

		await b.loadConversations();
		await b.open(conversationId);
		const received = b.messagesOf(conversationId)[0];
		expect(received.message_type).toBe('file');
		const url = await b.attachmentUrl(received);
		expect(await b.attachmentUrl(received)).toBe(url);
		const blob = resolveObjectURL(url)!;
		expect(new TextDecoder().decode(await blob.arrayBuffer())).toBe('the plans, in a file');
		expect(blob.type).toBe('text/plain');

		// Deleting it removes the file too (its uploader may).
		await a.remove(a.messagesOf(conversationId)[0].id);
		await vi.waitFor(async () => {
			const left = await stack.db.query(
				`select 1 from storage.objects where bucket_id = 'attachments' and name = $1`,
				[rows[0].name]
			);
			expect(left.rowCount).toBe(0);
		});
	});
});
