import { describe, expect, it } from 'vitest';
import { newConversationKey } from '../crypto/e2ee.ts';
import { History } from './history.svelte.ts';
import { Reactions } from './reactions.ts';
import { sealedRow } from './test-rows.ts';
import { FakeSupabase } from './testing/fake-supabase.ts';
import { Timeline } from './timeline.svelte.ts';

const key = newConversationKey();

/** A conversation of `count` stored messages behind a fake `get_messages` that records its calls. */
function setup(count: number, open = true) {
	const stored = Array.from({ length: count }, (_, i) => sealedRow(key, i + 1, `m${i + 1}`));
	const calls: string[] = [];
	const sb = new FakeSupabase('me');
	sb.rpcHandlers.get_reactions = () => [];
	sb.rpcHandlers.get_messages = (args) => {
		const size = Number(args.page_size);
		let rows = stored;
		if (args.after_seq !== undefined)
			rows = rows.filter((r) => r.seq > Number(args.after_seq)).slice(0, size);
		else {
			if (args.before_seq !== undefined) rows = rows.filter((r) => r.seq < Number(args.before_seq));
			rows = rows.slice(-size);
		}
		calls.push(`${args.after_seq ?? '-'}/${args.before_seq ?? '-'}:${rows.length}`);
		return rows;
	};
	const client = () => sb.client;
	const timeline = new Timeline({
		me: () => 'me',
		verify: async () => 'verified',
		key: async () => key,
		participants: () => [],
		reactions: () => [],
		applied: () => undefined,
		merged: () => undefined,
		opened: () => undefined
	});
	const reactions = new Reactions({
		client,
		me: () => 'me',
		key: async () => key,
		verify: async () => 'invalid',
		sign: async () => '',
		message: () => undefined,
		show: () => undefined
	});
	let opened = 0;
	const history = new History({
		client,
		timeline,
		reactions,
		pageSize: 10,
		isOpen: () => open,
		opening: () => undefined,
		open: async () => {
			opened++;
			await history.newest('c1');
		}
	});
	const add = (n: number) => {
		for (let i = 0; i < n; i++) stored.push(sealedRow(key, stored.length + 1, `m${stored.length + 1}`));
	};
	return { history, timeline, calls, add, opened: () => opened };
}

describe('History', () => {
	it('loads the newest page, then older pages once at a time until the first message', async () => {
		const h = setup(25);
		await h.history.newest('c1');
		expect(h.timeline.seqs('c1')).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
		expect(h.history.hasMore.c1).toBe(true);
		const [a, b] = [h.history.older('c1'), h.history.older('c1')];
		expect(a).toBe(b);
		expect(await a).toBe(10);
		expect(await h.history.older('c1')).toBe(5);
		expect(h.history.hasMore.c1).toBe(false);
		expect(h.timeline.seqs('c1')[0]).toBe(1);
		expect(await h.history.older('c1')).toBe(0);
		expect(h.calls).toEqual(['-/-:10', '-/16:10', '-/6:5']);
	});

	it('opens first when asked for older messages of a conversation with nothing loaded', async () => {
		const h = setup(3);
		expect(await h.history.older('c1')).toBe(3);
		expect(h.opened()).toBe(1);
		expect(h.history.hasMore.c1).toBe(false);
	});

	it('catches up past the newest contiguous message in pages until one comes back short', async () => {
		const h = setup(5);
		await h.history.newest('c1');
		h.add(230);
		const [a, b] = [h.history.catchUp('c1'), h.history.catchUp('c1')];
		expect(a).toBe(b);
		await a;
		expect(h.timeline.seqs('c1').length).toBe(235);
		expect(h.timeline.contiguousHigh('c1')).toBe(235);
		expect(h.calls.slice(1)).toEqual(['5/-:100', '105/-:100', '205/-:30']);
	});

	it('catches an open, empty conversation up from the start, and leaves an unopened one alone', async () => {
		const open = setup(0);
		await open.history.newest('c1');
		open.add(2);
		await open.history.catchUp('c1');
		expect(open.timeline.seqs('c1')).toEqual([1, 2]);
		const closed = setup(4, false);
		await closed.history.catchUp('c1');
		expect(closed.calls).toEqual([]);
		closed.history.hasMore.c1 = true;
		closed.history.forget('c1');
		expect(closed.history.hasMore.c1).toBeUndefined();
	});
});
