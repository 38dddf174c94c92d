import { describe, expect, it } from 'vitest';
import type { Keyring } from '../crypto/keyring.svelte.ts';
import { ChatError } from './errors.ts';
import { Membership } from './membership.ts';
import { FakeSupabase } from './testing/fake-supabase.ts';
import type { ConversationView } from './types.ts';

function setup(history_visibility: 'joined' | 'shared' = 'joined') {
	const sb = new FakeSupabase('u-me');
	const created = () => ({ id: 'c-new' });
	sb.rpcHandlers = {
		find_profile: (args) => ({ id: args.username === 'me' ? 'u-me' : 'u-bob' }),
		create_direct_conversation: created,
		create_group_conversation: created,
		add_participant: () => null,
		remove_participant: () => null,
		set_participant_role: () => null,
		set_history_visibility: () => null,
		leave_conversation: () => null
	};
	const calls = () => sb.rpcCalls.map(({ name, args }) => `${name}(${JSON.stringify(args)})`);
	const shared: string[] = [];
	const forgotten: string[] = [];
	const fetched: string[] = [];
	const m = new Membership({
		client: () => sb.client,
		me: () => 'u-me',
		keyring: {
			shareConversationKey: async (id: string, epoch: number, users: string[]) =>
				void shared.push(`${id}@${epoch}:${users}`),
			shareMissingKeys: async (id: string) => shared.push(`${id}:missing`)
		} as unknown as Keyring,
		fetch: async (id) => {
			fetched.push(id);
			return { id, key_epoch: 3, history_visibility } as ConversationView;
		},
		forget: (id) => void forgotten.push(id)
	});
	return { m, calls, shared, forgotten, fetched };
}

describe('Membership', () => {
	it('starts a direct conversation by username (not with myself) and a group, fetching each', async () => {
		const t = setup();
		expect(await t.m.startDirect('  Bob ')).toBe('c-new');
		expect(t.calls()).toEqual([
			'find_profile({"username":"bob"})',
			'create_direct_conversation({"other_user_id":"u-bob"})'
		]);
		const self = await t.m.startDirect('me').catch((e: unknown) => e);
		expect((self as ChatError).detail).toBe('cannot_message_self');
		expect(await t.m.createGroup('Team', ['u-bob'])).toBe('c-new');
		expect(t.fetched).toEqual(['c-new', 'c-new']);
	});

	it('gives an added member the current key, refreshes after changes, and forgets a left conversation', async () => {
		const t = setup();
		await t.m.add('c1', 'u-bob', 'member');
		expect(t.shared).toEqual(['c1@3:u-bob']);
		await t.m.remove('c1', 'u-bob');
		await t.m.setRole('c1', 'u-cleo', 'moderator');
		expect(t.fetched).toEqual(['c1', 'c1', 'c1']);
		await t.m.leave('c1');
		expect(t.forgotten).toEqual(['c1']);
		expect(t.calls().map((c) => c.split('(')[0])).toEqual([
			'add_participant',
			'remove_participant',
			'set_participant_role',
			'leave_conversation'
		]);
	});

	it("under 'shared' also gives a newcomer every earlier key I hold", async () => {
		const t = setup('shared');
		await t.m.add('c1', 'u-bob', 'member');
		expect(t.shared).toEqual(['c1@3:u-bob', 'c1:missing']);
	});

	it('sets the history rule, refreshes, and shares earlier keys once it is shared', async () => {
		const t = setup();
		await t.m.setHistoryVisibility('c1', 'joined');
		await t.m.setHistoryVisibility('c1', 'shared');
		expect(t.calls()).toEqual([
			'set_history_visibility({"conversation_id":"c1","history_visibility":"joined"})',
			'set_history_visibility({"conversation_id":"c1","history_visibility":"shared"})'
		]);
		expect(t.fetched).toEqual(['c1', 'c1']);
		expect(t.shared).toEqual(['c1:missing']);
	});
});
