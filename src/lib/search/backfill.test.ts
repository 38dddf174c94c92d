import { describe, expect, it } from 'vitest';
import type { MessageRow } from '../chat/types.ts';
import { Backfill, type BackfillDeps } from './backfill.ts';
import { FakePages } from './testing.ts';

function setup(pages: FakePages, coverage = {}) {
	const indexed = new Set<string>();
	const sleeps: number[] = [];
	let changes = 0;
	let online = true;
	const deps: BackfillDeps = {
		conversations: () => [...pages.rows.keys()].map((id) => ({ id, last_seq: pages.lastSeq(id) })),
		fetch: pages.fetch,
		index: async (rows: MessageRow[]) => {
			for (const r of rows) indexed.add(r.id);
		},
		changed: () => changes++,
		canRun: () => online,
		sleep: async (ms) => {
			sleeps.push(ms);
		},
		pageSize: 10,
		throttleMs: 50
	};
	const backfill = new Backfill(deps, coverage);
	return {
		backfill,
		indexed,
		sleeps,
		changes: () => changes,
		setOnline: (value: boolean) => (online = value)
	};
}

describe('Backfill', () => {
	it('indexes every conversation page by page, newest first, pausing between pages', async () => {
		const pages = new FakePages();
		pages.add('a', 25);
		pages.add('b', 5);
		const { backfill, indexed, sleeps } = setup(pages);
		expect(backfill.progress()).toEqual({ indexed: 0, total: 30 });
		await backfill.run();
		expect(indexed.size).toBe(30);
		expect(backfill.progress()).toEqual({ indexed: 30, total: 30 });
		expect(backfill.coverage).toEqual({ a: { top: 25, bottom: 1 }, b: { top: 5, bottom: 1 } });
		// The newest page of each first, then older pages.
		expect(pages.calls).toEqual(['a -/-:10', 'b -/-:10', 'a -/16:10', 'a -/6:10']);
		expect(sleeps).toEqual([50, 50, 50, 50]);
		expect(backfill.next()).toBeNull();
	});

	it('takes older pages of each conversation in turn', async () => {
		const pages = new FakePages();
		pages.add('a', 30);
		pages.add('b', 30);
		const { backfill } = setup(pages);
		for (let i = 0; i < 4; i++) await backfill.step();
		expect(pages.calls).toEqual(['a -/-:10', 'b -/-:10', 'a -/21:10', 'b -/21:10']);
		expect(backfill.progress()).toEqual({ indexed: 40, total: 60 });
	});

	it('resumes from its coverage after a failure or a restart, and fetches only what is new', async () => {
		const pages = new FakePages();
		pages.add('a', 35);
		const first = setup(pages);
		await first.backfill.step();
		await first.backfill.step();
		pages.failNext = true;
		await expect(first.backfill.run()).rejects.toThrow('offline');
		expect(first.backfill.coverage).toEqual({ a: { top: 35, bottom: 16 } });

		// A new session starts from the stored coverage: no page is fetched twice.
		const second = setup(pages, structuredClone(first.backfill.coverage));
		pages.calls = [];
		await second.backfill.run();
		expect(pages.calls).toEqual(['a -/16:10', 'a -/6:10']);
		expect(second.indexed.size).toBe(15);

		// New messages arrive: only they are fetched, from the top.
		pages.add('a', 12);
		pages.calls = [];
		await second.backfill.run();
		expect(pages.calls).toEqual(['a 35/-:10', 'a 45/-:10']);
		expect(second.backfill.coverage.a).toEqual({ top: 47, bottom: 1 });
	});

	it('stops while it may not run, and a message noted right above the top extends it', async () => {
		const pages = new FakePages();
		pages.add('a', 5);
		const { backfill, setOnline, changes } = setup(pages);
		setOnline(false);
		await backfill.run();
		expect(pages.calls).toEqual([]);
		setOnline(true);
		await backfill.run();
		const before = changes();
		pages.add('a', 1);
		backfill.noteSeq('a', 6);
		expect(backfill.coverage.a).toEqual({ top: 6, bottom: 1 });
		expect(changes()).toBe(before + 1);
		backfill.noteSeq('a', 9); // not contiguous: the backfill fetches 7, 8 later
		expect(backfill.coverage.a.top).toBe(6);
		expect(backfill.next()).toBeNull();
	});

	it('counts an empty conversation as done and forgets one I left', async () => {
		const pages = new FakePages();
		pages.rows.set('empty', []);
		pages.add('a', 3);
		const { backfill } = setup(pages);
		await backfill.run();
		expect(backfill.coverage.empty).toBeUndefined();
		expect(backfill.progress()).toEqual({ indexed: 3, total: 3 });
		backfill.forget('a');
		pages.rows.delete('a');
		expect(backfill.coverage).toEqual({});
	});
});
