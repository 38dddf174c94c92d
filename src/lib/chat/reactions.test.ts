import { describe, expect, it, vi } from 'vitest';
import { newConversationKey, toBase64 } from '../crypto/e2ee.ts';
import { reactionKeys, reactionTag } from '../crypto/reactions.ts';
import { checkBytes, signBytes } from '../crypto/signing.ts';
import { Reactions } from './reactions.ts';
import { FakeRpcError, FakeSupabase } from './testing/fake-supabase.ts';
import { testId } from './testing/ids.ts';
import { reactor, sealedReaction, type ReactionTarget, type Reactor } from './testing/reactions.ts';
import type { ReactionRow, ReactionView } from './types.ts';

const C1 = testId('c1');
const [M1, M2] = [testId('m1'), testId('m2')];
const [ME, BOB, CAROL, MALLORY] = [testId('me'), testId('bob'), testId('carol'), testId('mallory')];

type Row = ReactionRow & { conversation_id: string };

async function setup(options: { refuse?: boolean; rows?: (t: Scene) => Promise<Row[]> } = {}) {
	const key = newConversationKey();
	const people = {
		me: await reactor(ME),
		bob: await reactor(BOB),
		carol: await reactor(CAROL),
		mallory: await reactor(MALLORY)
	};
	const at = (messageId: string): ReactionTarget => ({ conversationId: C1, messageId, epoch: 1, key });
	const scene: Scene = { key, people, at };
	const rows = options.rows ? await options.rows(scene) : [];
	const shown = new Map<string, ReactionView[]>();
	const sb = new FakeSupabase(ME);
	const change = () => {
		if (options.refuse) throw new FakeRpcError(400, 'invalid_tag', 'Invalid tag');
		return null;
	};
	sb.rpcHandlers = { get_reactions: () => rows, add_reaction: change, remove_reaction: change };
	const keysOf = new Map<string, string[]>(
		Object.values(people).map((p) => [p.userId, [p.signing.publicKey]])
	);
	let held = true;
	const r = new Reactions({
		client: () => sb.client,
		me: () => ME,
		key: async (conversationId, epoch) => (held && conversationId === C1 && epoch === 1 ? key : null),
		verify: (userId, bytes, signature) => checkBytes(bytes, signature, keysOf.get(userId) ?? []),
		sign: async (bytes) => toBase64(await signBytes(people.me.signing, bytes)),
		message: (id) => (id === M1 || id === M2 ? { conversation_id: C1, epoch: 1 } : undefined),
		show: (id, views) => void shown.set(id, views)
	});
	const summary = (id = M1) => r.of(id).map((v) => [v.emoji, v.count, v.mine, v.users]);
	const tagOf = async (emoji: string, messageId = M1) =>
		reactionTag(await reactionKeys(key), messageId, emoji);
	return {
		...scene,
		r,
		sb,
		shown,
		summary,
		tagOf,
		withoutKey: () => (held = false),
		withKey: () => (held = true)
	};
}

interface Scene {
	key: Uint8Array;
	people: Record<'me' | 'bob' | 'carol' | 'mallory', Reactor>;
	at(messageId: string): ReactionTarget;
}

describe('Reactions', () => {
	it('loads a page, groups by tag, applies live changes once, and marks mine', async () => {
		const t = await setup({
			rows: async ({ people, at }) => [
				{ ...(await sealedReaction(people.bob, at(M1), '👍')), created_at: '2026-01-02' },
				{ ...(await sealedReaction(people.me, at(M1), '🎉')), created_at: '2026-01-01' }
			]
		});
		await t.r.load([M1, M2]);
		expect(t.shown.get(M1)!.map((v) => [v.emoji, v.count, v.mine])).toEqual([
			['🎉', 1, true],
			['👍', 1, false]
		]);
		expect(t.shown.get(M2)).toEqual([]);
		const carol = await sealedReaction(t.people.carol, t.at(M1), '👍');
		await t.r.apply(C1, { ...carol, op: 'added' });
		await t.r.apply(C1, { ...carol, op: 'added' });
		// Carol's 👍 and Bob's have one tag (one emoji on one message): counted together.
		expect(t.r.of(M1).find((v) => v.emoji === '👍')).toMatchObject({ count: 2, users: [BOB, CAROL] });
		expect(t.r.of(M1).find((v) => v.emoji === '👍')!.tag).toBe(await t.tagOf('👍'));
		// A removal names the tag: the sealed fields of the removed row do not matter.
		const bob = await sealedReaction(t.people.bob, t.at(M1), '👍');
		await t.r.apply(C1, { ...bob, op: 'removed' });
		expect(t.summary()).toEqual([
			['🎉', 1, true, [ME]],
			['👍', 1, false, [CAROL]]
		]);
	});

	it('counts no reaction that fails to open, has a tag that does not fit, or is not its sender’s', async () => {
		const t = await setup({
			rows: async ({ people, at }) => {
				const good = await sealedReaction(people.bob, at(M1), '👍');
				const other = await sealedReaction(people.carol, at(M1), '🎉');
				const elsewhere = await sealedReaction(people.carol, at(M2), '😂');
				const foreign = await sealedReaction(people.carol, { ...at(M1), key: newConversationKey() }, '😮');
				return [
					good,
					// Mallory signs a reaction in Carol's name.
					await sealedReaction(people.carol, at(M1), '💀', people.mallory),
					// The server relabels Bob's reaction as Carol's, or moves Carol's to another message.
					{ ...good, user_id: CAROL },
					{ ...elsewhere, message_id: M1 },
					// 🎉 sealed under 👍's tag: it would count with the 👍s (and dodge one-per-tag).
					{ ...other, tag: good.tag },
					// Sealed under a key that is not the epoch's.
					foreign,
					// Unsigned, or signed over other fields.
					{ ...other, sig: '' },
					{ ...other, nonce: good.nonce }
				];
			}
		});
		await t.r.load([M1]);
		expect(t.summary()).toEqual([['👍', 1, false, [BOB]]]);
	});

	it('keeps what it cannot open yet and counts it once the key turns up', async () => {
		const t = await setup({
			rows: async ({ people, at }) => [await sealedReaction(people.bob, at(M1), '👍')]
		});
		t.withoutKey();
		await t.r.load([M1]);
		expect(t.summary()).toEqual([]);
		t.withKey();
		await t.r.retry(M1);
		expect(t.summary()).toEqual([['👍', 1, false, [BOB]]]);
	});

	it('seals, tags and signs mine: the server sees no emoji, and taking it back sends its tag', async () => {
		const t = await setup();
		await t.r.mine(M1, '🔥', 'added');
		expect(t.summary()).toEqual([['🔥', 1, true, [ME]]]);
		const [added] = t.sb.callsOf('add_reaction');
		expect(Object.keys(added).sort()).toEqual(['emoji_sealed', 'epoch', 'message_id', 'nonce', 'sig', 'tag']);
		expect(JSON.stringify(added)).not.toContain('🔥');
		expect(added).toMatchObject({ message_id: M1, epoch: 1, tag: await t.tagOf('🔥') });
		// What I sent is what another member's device counts.
		const other = new Reactions({
			client: () => t.sb.client,
			me: () => BOB,
			key: async () => t.key,
			verify: (_userId, bytes, signature) => checkBytes(bytes, signature, [t.people.me.signing.publicKey]),
			sign: async () => '',
			message: () => undefined,
			show: () => undefined
		});
		await other.apply(C1, { ...(added as unknown as ReactionRow), user_id: ME, op: 'added' });
		expect(other.of(M1).map((v) => [v.emoji, v.users])).toEqual([['🔥', [ME]]]);
		// My own reaction told back to me counts once.
		await t.r.apply(C1, { ...(added as unknown as ReactionRow), user_id: ME, op: 'added' });
		expect(t.summary()).toEqual([['🔥', 1, true, [ME]]]);

		await t.r.mine(M1, '🔥', 'removed');
		expect(t.summary()).toEqual([]);
		expect(t.sb.callsOf('remove_reaction')).toEqual([{ message_id: M1, tag: await t.tagOf('🔥') }]);
	});

	it('shows mine at once and undoes it when the server refuses', async () => {
		const t = await setup({ refuse: true });
		const gate = Promise.withResolvers<void>();
		t.sb.rpcHandlers.add_reaction = async () => {
			await gate.promise;
			throw new FakeRpcError(400, 'invalid_tag', 'Invalid tag');
		};
		const pending = t.r.mine(M1, '🔥', 'added');
		await vi.waitFor(() => expect(t.r.of(M1).map((v) => v.emoji)).toEqual(['🔥']));
		gate.resolve();
		await expect(pending).rejects.toMatchObject({
			message: 'Invalid tag',
			status: 400,
			detail: 'invalid_tag'
		});
		expect(t.r.of(M1)).toEqual([]);
		// Not an emoji, or a message this device cannot read: refused here, before the server.
		await expect(t.r.mine(M1, 'a b', 'added')).rejects.toMatchObject({ detail: 'invalid_emoji' });
		await expect(t.r.mine(testId('unknown'), '👍', 'added')).rejects.toMatchObject({
			detail: 'no_conversation_key'
		});
		t.withoutKey();
		await expect(t.r.mine(M1, '👍', 'added')).rejects.toMatchObject({ detail: 'no_conversation_key' });
		expect(t.sb.callsOf('add_reaction')).toHaveLength(1);
	});

	it('restores mine when taking it back is refused', async () => {
		const t = await setup({
			rows: async ({ people, at }) => [await sealedReaction(people.me, at(M1), '👍')]
		});
		await t.r.load([M1]);
		t.sb.rpcHandlers.remove_reaction = () => {
			throw new FakeRpcError(404, 'message_not_found');
		};
		await expect(t.r.mine(M1, '👍', 'removed')).rejects.toMatchObject({ detail: 'message_not_found' });
		expect(t.summary()).toEqual([['👍', 1, true, [ME]]]);
	});
});
