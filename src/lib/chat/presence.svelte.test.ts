import type { RealtimeChannel } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import { Presence } from './presence.svelte.ts';

const channel = (state: Record<string, { user_id?: unknown }[]>) =>
	({ presenceState: () => state }) as unknown as RealtimeChannel;

describe('Presence', () => {
	it('shows who is present, members only, and drops whoever stops being one', () => {
		const p = new Presence();
		p.update('c1', channel({ alice: [{ user_id: 'alice' }], x: [{ user_id: 'bob' }, { user_id: 7 }] }), null);
		expect([...p.byConversation.c1].sort()).toEqual(['alice', 'bob', 'x']);
		p.update('c1', channel({ alice: [{ user_id: 'alice' }], mallory: [] }), new Set(['alice', 'bob']));
		expect([...p.byConversation.c1]).toEqual(['alice']);
		p.update('c2', channel({ alice: [], bob: [] }), null);
		const before = p.byConversation.c2;
		p.keepMembers('c2', new Set(['alice', 'bob']));
		expect(p.byConversation.c2).toBe(before);
		p.keepMembers('c2', new Set(['alice']));
		expect([...p.byConversation.c2]).toEqual(['alice']);
		p.left('c2');
		expect(p.byConversation.c2).toBeUndefined();
		p.reset();
		expect(p.byConversation).toEqual({});
	});
});
