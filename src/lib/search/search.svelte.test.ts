import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../crypto/e2ee.ts';
import { deriveLocalKey } from '../crypto/local-key.ts';
import { Search, type SearchDeps } from './search.svelte.ts';
import { SealedIndexStore } from './sealed-store.ts';
import { FakePages, plainRow } from './testing.ts';

/** A device (one IndexedDB) on which people sign in and out. */
function device() {
	const factory = new IDBFactory();
	const identities = new Map<string, Uint8Array>();
	const identity = (user: string) => {
		if (!identities.has(user)) identities.set(user, generateIdentity().secretKey);
		return identities.get(user)!;
	};
	/** A signed-in page for `user` whose history is `pages`. */
	const session = (user: string, pages = new FakePages(), over: Partial<SearchDeps> = {}) => {
		const deps: SearchDeps = {
			userId: () => user,
			identity: () => `${user}:${identity(user).join(',').slice(0, 12)}`,
			localKey: () => deriveLocalKey(identity(user), `search-index:${user}`),
			indexedDB: factory,
			conversations: () => [...pages.rows.keys()].map((id) => ({ id, last_seq: pages.lastSeq(id) })),
			fetch: pages.fetch,
			decrypt: async (row) => row.content_encrypted,
			online: () => true,
			open: async () => undefined,
			loadedSeq: () => undefined,
			seqs: () => [],
			page: async () => [],
			throttleMs: 0,
			saveDelayMs: 0,
			wakeMs: 60_000,
			startDelayMs: 0,
			openDelayMs: 0,
			...over
		};
		return { search: new Search(deps), pages };
	};
	const reset = (user: string) => identities.set(user, generateIdentity().secretKey);
	return {
		factory,
		session,
		reset,
		key: (user: string) => deriveLocalKey(identity(user), `search-index:${user}`)
	};
}

const texts = (search: Search, query: string, conversationId?: string) =>
	search.query(query, { conversationId }).map((h) => h.message.x);

async function until(check: () => boolean, ms = 3000) {
	const end = Date.now() + ms;
	while (!check()) {
		if (Date.now() > end) throw new Error('timed out');
		await new Promise((r) => setTimeout(r, 5));
	}
}

describe('Search', () => {
	it('indexes what the timeline merges: new text, edits and deletions', async () => {
		const { session } = device();
		const { search } = session('ana');
		await search.start();
		expect(search.status).toBe('ready');
		search.note(plainRow('c1', 1), 'Dinner at Luigi’s on Friday?');
		search.note(plainRow('c2', 2), 'Friday works for me');
		expect(texts(search, 'friday')).toEqual(['Friday works for me', 'Dinner at Luigi’s on Friday?']);
		expect(texts(search, 'friday', 'c1')).toEqual(['Dinner at Luigi’s on Friday?']);
		// An edit replaces the text; a row that does not open here leaves what was indexed.
		search.note({ ...plainRow('c1', 1), edited_at: '2026-01-02T00:00:00Z' }, 'Dinner at Marco’s on Saturday');
		search.note(plainRow('c1', 1), null);
		expect(texts(search, 'luigi')).toEqual([]);
		expect(texts(search, 'marco')).toEqual(['Dinner at Marco’s on Saturday']);
		// A deletion removes it.
		search.note({ ...plainRow('c1', 1), deleted_at: '2026-01-03T00:00:00Z' }, null);
		expect(texts(search, 'marco')).toEqual([]);
		// An attachment is found by its name and caption.
		const file = { ...plainRow('c1', 3), message_type: 'file' as const };
		search.note(file, JSON.stringify({ name: 'budget-2026.xlsx', mime: 'x', size: 1, caption: 'numbers' }));
		expect(search.query('budget')[0].message).toMatchObject({ k: 'file', x: 'budget-2026.xlsx — numbers' });
		await search.stop();
	});

	it('opens the stored index a moment after sign-in, keeping what the timeline merged meanwhile', async () => {
		const { session } = device();
		const { search } = session('ana', new FakePages(), { openDelayMs: 60_000 });
		const started = search.start();
		search.note(plainRow('c1', 1), 'merged while the index waited');
		expect(search.status).toBe('off');
		// Focusing a search box opens it at once.
		search.prepare();
		await started;
		expect(search.status).toBe('ready');
		expect(texts(search, 'waited')).toEqual(['merged while the index waited']);
		await search.stop();
	});

	it('keeps the sealed index over sign-out, drops it from memory, and opens it again', async () => {
		const { session, factory, key } = device();
		const first = session('ana').search;
		await first.start();
		first.note(plainRow('c1', 1), 'the spare key is under the blue pot');
		await first.stop();
		expect(first.status).toBe('off');
		expect(first.size).toBe(0);
		expect(texts(first, 'spare')).toEqual([]);
		// What is stored holds no plaintext.
		const records = await new SealedIndexStore('ana', await key('ana'), factory).records();
		expect(records.length).toBeGreaterThan(0);
		const raw = records.map((r) => Buffer.from(r.data).toString('latin1')).join('');
		expect(raw).not.toContain('spare');
		// After a reload (a new page, a new store), the index opens again.
		const second = session('ana').search;
		await second.start();
		expect(texts(second, 'spare')).toEqual(['the spare key is under the blue pot']);
		await second.stop();
	});

	it('gives another user on the same browser an index of their own', async () => {
		const { session } = device();
		const ana = session('ana').search;
		await ana.start();
		ana.note(plainRow('c1', 1), 'ana’s secret plans');
		await ana.stop();
		const ben = session('ben').search;
		await ben.start();
		expect(texts(ben, 'secret')).toEqual([]);
		ben.note(plainRow('c9', 1), 'ben’s secret too');
		await ben.stop();
		const again = session('ana').search;
		await again.start();
		expect(texts(again, 'secret')).toEqual(['ana’s secret plans']);
		await again.stop();
	});

	it('drops an index sealed under an identity that was reset, and builds a new one', async () => {
		const { session, reset, factory, key } = device();
		const before = session('ana').search;
		await before.start();
		before.note(plainRow('c1', 1), 'old words');
		await before.flush();
		await before.stop();
		reset('ana');
		const after = session('ana').search;
		await after.start();
		expect(after.status).toBe('ready');
		expect(texts(after, 'old')).toEqual([]);
		expect(await new SealedIndexStore('ana', await key('ana'), factory).count()).toBe(0);
		after.note(plainRow('c1', 2), 'new words');
		await after.stop();
		const reopened = session('ana').search;
		await reopened.start();
		expect(texts(reopened, 'words')).toEqual(['new words']);
		await reopened.stop();
	});

	it('backfills history not on the device, with progress, and resumes after a reload', async () => {
		const { session } = device();
		const pages = new FakePages();
		pages.add('c1', 230, (seq) => (seq === 7 ? 'the invoice from March' : `chatter ${seq}`));
		pages.add('c2', 40);
		const { search } = session('ana', pages);
		await search.start();
		await until(() => !search.backfilling && search.indexed === 270);
		expect(search.total).toBe(270);
		expect(texts(search, 'invoice')).toEqual(['the invoice from March']);
		const calls = pages.calls.length;
		await search.stop();

		// A reload: the coverage was stored, so only the new message is fetched.
		pages.add('c2', 1, () => 'a new invoice');
		const reloaded = session('ana', pages).search;
		await reloaded.start();
		await until(() => !reloaded.backfilling && reloaded.indexed === 271);
		expect(pages.calls.slice(calls)).toEqual(['c2 40/-:100']);
		expect(texts(reloaded, 'invoice')).toEqual(['a new invoice', 'the invoice from March']);
		await reloaded.stop();
	});

	it('opens a conversation at a hit that only the index knows, with its context', async () => {
		const { session } = device();
		const pages = new FakePages();
		pages.add('c1', 300);
		const loaded = new Set<number>();
		const { search } = session('ana', new FakePages(), {
			seqs: () => [...loaded].sort((a, b) => a - b),
			page: async (id, page) => {
				const rows = await pages.fetch(id, page);
				for (const r of rows) loaded.add(r.seq);
				return rows;
			},
			around: { context: 5, maxGapPages: 0 }
		});
		await search.start();
		search.note(plainRow('c1', 42), 'the hit');
		await search.stop();
		// A reload at `?m=`: the stored index opens first, then tells where the message is.
		void search.start();
		expect(await search.openAt('c1', 'c1-m42')).toBe(42);
		expect([...loaded].sort((a, b) => a - b)).toEqual([37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47]);
		// Unknown here, or in another conversation: nothing to open at.
		expect(await search.openAt('c1', 'nope')).toBeNull();
		expect(await search.openAt('c2', 'c1-m42')).toBeNull();
		await search.stop();
	});
});
