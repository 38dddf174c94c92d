import { describe, expect, it } from 'vitest';
import { newConversationKey } from '../crypto/e2ee.ts';
import { sealedRow } from '../chat/test-rows.ts';
import { Timeline } from '../chat/timeline.svelte.ts';
import { gapAbove, loadAround, type AroundDeps } from './around.ts';
import { FakePages } from './testing.ts';

const key = newConversationKey();

/** A conversation of `count` messages, its newest page (`pageSize`) loaded as opening it does. */
async function setup(count: number, pageSize = 20) {
	const pages = new FakePages();
	pages.rows.set(
		'c1',
		Array.from({ length: count }, (_, i) => sealedRow(key, i + 1, `text ${i + 1}`))
	);
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
	await timeline.ingest(await pages.fetch('c1', { page_size: pageSize }));
	pages.calls = [];
	let alive = true;
	const deps: AroundDeps = {
		seqs: (id) => timeline.seqs(id),
		page: async (id, page) => {
			const rows = await pages.fetch(id, page);
			await timeline.ingest(rows);
			return rows;
		},
		sleep: async () => undefined,
		alive: () => alive
	};
	return { pages, timeline, deps, stop: () => (alive = false) };
}

describe('loadAround (open a conversation at a message)', () => {
	it('loads the messages around a hit far back, then fills the gap up to the newest page', async () => {
		const { pages, timeline, deps } = await setup(500);
		const { fetched, filled } = await loadAround(deps, 'c1', 120, { context: 10, gapPageSize: 100 });
		// The hit with 10 before and 10 after, in two calls at once.
		expect(pages.calls.slice(0, 2)).toEqual(['c1 -/121:11', 'c1 120/-:10']);
		expect(fetched).toBe(21);
		const seqs = timeline.seqs('c1');
		for (let s = 110; s <= 130; s++) expect(seqs).toContain(s);
		expect(timeline.messagesById.m120.text).toBe('text 120');
		// Then, in the background, forwards from the window until it meets the loaded newest page.
		await filled;
		expect(pages.calls.slice(2)).toEqual(['c1 130/-:100', 'c1 230/-:100', 'c1 330/-:100', 'c1 430/-:100']);
		expect(timeline.seqs('c1')).toEqual(Array.from({ length: 391 }, (_, i) => 110 + i));
		expect(gapAbove(timeline.seqs('c1'), 120)).toBeNull();
	});

	it('fetches nothing for a hit already loaded with its context', async () => {
		const { pages, deps } = await setup(100, 50);
		const { fetched, filled } = await loadAround(deps, 'c1', 80, { context: 10 });
		await filled;
		expect(fetched).toBe(0);
		expect(pages.calls).toEqual([]);
	});

	it('loads only the missing side near the edge of what is loaded', async () => {
		const { pages, deps } = await setup(100, 20);
		// 81..100 are loaded: seq 83 lacks context below only.
		const { filled } = await loadAround(deps, 'c1', 83, { context: 10 });
		await filled;
		expect(pages.calls).toEqual(['c1 -/84:11']);
	});

	it('stops filling after its page budget or when the window is gone', async () => {
		const capped = await setup(2000);
		await (
			await loadAround(capped.deps, 'c1', 10, { context: 5, maxGapPages: 2 })
		).filled;
		expect(capped.pages.calls).toEqual(['c1 -/11:6', 'c1 10/-:5', 'c1 15/-:100', 'c1 115/-:100']);
		expect(gapAbove(capped.timeline.seqs('c1'), 10)).toEqual({ after: 215, next: 1981 });

		// The conversation closes while the filling waits for its first page.
		const closed = await setup(2000);
		closed.deps.sleep = async () => void closed.stop();
		await (
			await loadAround(closed.deps, 'c1', 10, { context: 5 })
		).filled;
		expect(closed.pages.calls).toHaveLength(2);
	});

	it('knows where the first gap above a seq is', () => {
		expect(gapAbove([1, 2, 3, 7, 8], 2)).toEqual({ after: 3, next: 7 });
		expect(gapAbove([1, 2, 3], 2)).toBeNull();
		expect(gapAbove([5, 9], 5)).toEqual({ after: 5, next: 9 });
	});
});
