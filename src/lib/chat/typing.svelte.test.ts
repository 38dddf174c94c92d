import { afterEach, describe, expect, it, vi } from 'vitest';
import { Typing } from './typing.svelte.ts';

afterEach(() => vi.useRealTimers());

describe('Typing', () => {
	it('shows others until they stop or go quiet, and drops non-members and closed conversations at once', () => {
		vi.useFakeTimers();
		const t = new Typing({ throttleMs: 2000, timeoutMs: 4000, idleMs: 4000 });
		t.start('c1', 'bob', 'Bob');
		t.start('c1', 'rob', 'Rob');
		t.start('c2', 'bob', 'Bob');
		expect(t.byConversation.c1.map((x) => x.userId)).toEqual(['bob', 'rob']);
		t.keepOnly('c1', new Set(['alice', 'bob']));
		expect(t.byConversation.c1.map((x) => x.userId)).toEqual(['bob']);
		vi.advanceTimersByTime(3000);
		t.start('c1', 'bob', 'Bob');
		vi.advanceTimersByTime(3000);
		expect(t.byConversation.c1).toHaveLength(1);
		vi.advanceTimersByTime(1001);
		expect(t.byConversation.c1).toEqual([]);
		t.clear('c2');
		expect(t.byConversation.c2).toBeUndefined();
		vi.advanceTimersByTime(10_000);
		expect(t.byConversation.c2).toBeUndefined();
	});

	it('tells the others at the start, every throttle interval, and once at the end', () => {
		vi.useFakeTimers();
		const t = new Typing({ throttleMs: 2000, timeoutMs: 4000, idleMs: 4000 });
		const sent: boolean[] = [];
		const send = (v: boolean) => sent.push(v);
		t.mine('c1', true, send);
		vi.advanceTimersByTime(1000);
		t.mine('c1', true, send);
		expect(sent).toEqual([true]);
		vi.advanceTimersByTime(1100);
		t.mine('c1', true, send);
		expect(sent).toEqual([true, true]);
		vi.advanceTimersByTime(4000);
		expect(sent).toEqual([true, true, false]);
		t.mine('c1', false, send);
		expect(sent).toEqual([true, true, false]);
		t.mine('c1', true, send);
		t.reset();
		vi.advanceTimersByTime(10_000);
		expect(sent).toEqual([true, true, false, true]);
	});

	it('hears typing events from other members only, named as the event or the list says', () => {
		vi.useFakeTimers();
		const t = new Typing({ throttleMs: 2000, timeoutMs: 4000, idleMs: 4000 });
		const members: Record<string, { display_name: string; username: string } | null | undefined> = {
			bob: { display_name: '', username: 'bob' },
			ann: null
		};
		const who = (u: string) => members[u] as never;
		t.heard('c1', { user_id: 'me', is_typing: true }, 'me', who);
		t.heard('c1', { user_id: 'mallory', is_typing: true }, 'me', who);
		t.heard('c1', { user_id: 'bob', is_typing: true }, 'me', who);
		t.heard('c1', { user_id: 'ann', display_name: 'Ann', is_typing: true }, 'me', who);
		expect(t.byConversation.c1).toEqual([
			{ userId: 'bob', name: 'bob' },
			{ userId: 'ann', name: 'Ann' }
		]);
		t.heard('c1', { user_id: 'bob', is_typing: false }, 'me', who);
		expect(t.byConversation.c1.map((x) => x.userId)).toEqual(['ann']);
	});
});
