/**
 * Trust II, item 3, on the real embedded stack (Auth, REST/RPC, Realtime, the app migrations)
 * with real ChatStores: a group's history rule holds exactly as it reads. Under `joined`, Cleo,
 * removed and added back, cannot read "Secret plan" sent while she was out, and Dev, added later,
 * sees the earlier messages as sent before he joined (not waiting for a key that will never
 * come); under `shared` both read the history.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestStack, type TestStack } from '@parley/stack/testing/index.ts';
import { ChatStore } from '#lib/chat/store.svelte.ts';

let stack: TestStack;
const stores: ChatStore[] = [];

beforeAll(async () => {
	stack = await startTestStack({ template: 'app' });
});

afterAll(async () => {
	for (const s of stores) s.stop();
	await stack?.stop();
});

let n = 0;
/** A signed-up user whose store is started (so their device has an identity and a public key). */
async function person(name: string): Promise<{ id: string; store: ChatStore }> {
	const username = `${name}_${Date.now().toString(36)}${++n}`;
	const client: SupabaseClient = createClient(stack.apiUrl, stack.anonKey, {
		auth: { persistSession: false, autoRefreshToken: false }
	});
	const { data, error } = await client.auth.signUp({
		email: `${username}@example.test`,
		password: 'a-long-test-password-1',
		options: { data: { username } }
	});
	if (error || !data.user) throw error ?? new Error('no user');
	const store = new ChatStore({ indexedDB: new IDBFactory(), receiptDelayMs: 20 });
	stores.push(store);
	await store.start(client, data.user.id);
	return { id: data.user.id, store };
}

/** What a store shows of a conversation: the text, or why it does not open. */
function shown(store: ChatStore, id: string): string[] {
	return store.messagesOf(id).map((m) => (m.undecryptable ? `🔒 ${store.lockedReason(m)}` : (m.text ?? '')));
}

async function sent(store: ChatStore, id: string, text: string): Promise<void> {
	await store.send(id, text);
	await vi.waitFor(() => expect(store.messagesOf(id).find((m) => m.text === text)?.seq).not.toBeNull(), {
		timeout: 10_000
	});
}

async function keyEpochsOf(conversationId: string, userId: string): Promise<number[]> {
	const { rows } = await stack.db.query(
		'select epoch from public.conversation_keys where conversation_id = $1 and user_id = $2 order by epoch',
		[conversationId, userId]
	);
	return rows.map((r) => r.epoch);
}

/** Ana's group with Bo and Cleo, where Cleo is removed, "Secret plan" is sent, and she is added back. */
async function removedAndBack(rule: 'joined' | 'shared') {
	const [ana, bo, cleo] = [await person('ana'), await person('bo'), await person('cleo')];
	const id = await ana.store.createGroup('Plans', [bo.id, cleo.id]);
	if (rule === 'shared') await ana.store.setHistoryVisibility(id, 'shared');
	await ana.store.open(id);
	await sent(ana.store, id, 'Hello all');
	await ana.store.removeMember(id, cleo.id);
	await sent(ana.store, id, 'Secret plan');
	await ana.store.addMember(id, cleo.id);
	return { ana, bo, cleo, id };
}

describe("the 'joined' rule", () => {
	it('a member removed and added back cannot read what was sent while she was out', async () => {
		const { ana, cleo, id } = await removedAndBack('joined');
		await cleo.store.loadConversations();
		await cleo.store.open(id);
		// Her key of epoch 1 is hers from before; epoch 2 never reaches her; epoch 3 began with her return.
		await vi.waitFor(() => expect(shown(cleo.store, id)).toEqual(['Hello all', '🔒 before_join']), {
			timeout: 10_000
		});
		await sent(ana.store, id, 'Welcome back');
		await vi.waitFor(
			() => expect(shown(cleo.store, id)).toEqual(['Hello all', '🔒 before_join', 'Welcome back']),
			{ timeout: 10_000 }
		);
		expect(await keyEpochsOf(id, cleo.id)).toEqual([1, 3]);
	});

	it('a member added later sees earlier messages as sent before he joined, and reads what follows', async () => {
		const ana = await person('ana');
		const dev = await person('dev');
		const id = await ana.store.createGroup('Team', []);
		await ana.store.open(id);
		await sent(ana.store, id, 'Before Dev');
		await ana.store.addMember(id, dev.id);
		await dev.store.loadConversations();
		await dev.store.open(id);
		expect(shown(dev.store, id)).toEqual(['🔒 before_join']);
		await sent(ana.store, id, 'Hi Dev');
		await vi.waitFor(() => expect(shown(dev.store, id)).toEqual(['🔒 before_join', 'Hi Dev']), {
			timeout: 10_000
		});
		expect(await keyEpochsOf(id, dev.id)).toEqual([2]);
	});
});

describe("the 'shared' rule", () => {
	it('a member removed and added back reads what was sent while she was out', async () => {
		const { cleo, id } = await removedAndBack('shared');
		await cleo.store.loadConversations();
		await cleo.store.open(id);
		await vi.waitFor(() => expect(shown(cleo.store, id)).toEqual(['Hello all', 'Secret plan']), {
			timeout: 10_000
		});
		expect(await keyEpochsOf(id, cleo.id)).toEqual([1, 2]);
	});

	it('a member added later reads the history, and so does one added before the switch', async () => {
		const ana = await person('ana');
		const [dev, eve] = [await person('dev'), await person('eve')];
		const id = await ana.store.createGroup('Team', []);
		await ana.store.open(id);
		await sent(ana.store, id, 'Before everyone');
		// Eve joins under 'joined': the history stays closed to her until the admin switches.
		await ana.store.addMember(id, eve.id);
		await eve.store.loadConversations();
		await eve.store.open(id);
		expect(shown(eve.store, id)).toEqual(['🔒 before_join']);
		await ana.store.setHistoryVisibility(id, 'shared');
		await vi.waitFor(() => expect(shown(eve.store, id)).toEqual(['Before everyone']), { timeout: 10_000 });

		await ana.store.addMember(id, dev.id);
		await dev.store.loadConversations();
		await dev.store.open(id);
		await vi.waitFor(() => expect(shown(dev.store, id)).toEqual(['Before everyone']), { timeout: 10_000 });
	});
});
