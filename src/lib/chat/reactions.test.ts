import { describe, expect, it } from 'vitest';
import { Reactions } from './reactions.ts';
import { FakeRpcError, FakeSupabase } from './testing/fake-supabase.ts';
import type { ReactionView } from './types.ts';

function setup(refuse = false) {
	const shown = new Map<string, ReactionView[]>();
	const sb = new FakeSupabase('me');
	const change = () => {
		if (refuse) throw new FakeRpcError(400, 'invalid_emoji', 'Invalid emoji');
		return null;
	};
	sb.rpcHandlers = {
		get_reactions: () => [
			{ message_id: 'm1', user_id: 'bob', emoji: '👍', created_at: '2026-01-02' },
			{ message_id: 'm1', user_id: 'me', emoji: '🎉', created_at: '2026-01-01' }
		],
		add_reaction: change,
		remove_reaction: change
	};
	const calls = () => sb.rpcCalls.map(({ name, args }) => `${name}:${String(args.emoji ?? '')}`);
	const r = new Reactions({
		client: () => sb.client,
		me: () => 'me',
		show: (id, views) => void shown.set(id, views)
	});
	return { r, shown, calls };
}

describe('Reactions', () => {
	it('loads a page, applies live changes once, and marks mine', async () => {
		const t = setup();
		await t.r.load(['m1', 'm2']);
		expect(t.shown.get('m1')!.map((v) => [v.emoji, v.count, v.mine])).toEqual([
			['🎉', 1, true],
			['👍', 1, false]
		]);
		expect(t.shown.get('m2')).toEqual([]);
		t.r.apply({ message_id: 'm1', user_id: 'carol', emoji: '👍', op: 'added' });
		t.r.apply({ message_id: 'm1', user_id: 'carol', emoji: '👍', op: 'added' });
		expect(t.r.of('m1').find((v) => v.emoji === '👍')!.count).toBe(2);
		t.r.apply({ message_id: 'm1', user_id: 'bob', emoji: '👍', op: 'removed' });
		expect(t.r.of('m1').find((v) => v.emoji === '👍')!.count).toBe(1);
	});

	it('shows mine at once and undoes it when the server refuses', async () => {
		const t = setup(true);
		const pending = t.r.mine('m1', '🔥', 'added');
		expect(t.r.of('m1').map((v) => v.emoji)).toEqual(['🔥']);
		await expect(pending).rejects.toMatchObject({
			message: 'Invalid emoji',
			status: 400,
			detail: 'invalid_emoji'
		});
		expect(t.r.of('m1')).toEqual([]);
		expect(t.calls()).toEqual(['add_reaction:🔥']);
	});
});
