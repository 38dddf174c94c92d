import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newConversationKey } from '../crypto/e2ee.ts';
import { DraftKeeper, Drafts, type DraftKeys } from './drafts.ts';

/** Conversation keys as the key ring would give them: one per conversation and epoch. */
function fakeKeys(epochs: Record<string, number> = {}) {
	const keys = new Map<string, Uint8Array>();
	const keyOf = (id: string, epoch: number) => {
		const name = `${id}/${epoch}`;
		if (!keys.has(name)) keys.set(name, newConversationKey());
		return keys.get(name)!;
	};
	const held = new Set<string>();
	const fake: DraftKeys & { forget(id: string, epoch: number): void; epochs: Record<string, number> } = {
		epochs,
		async current(id) {
			const epoch = epochs[id] ?? 0;
			held.add(`${id}/${epoch}`);
			return { key: keyOf(id, epoch), epoch };
		},
		async held(id, epoch) {
			return held.has(`${id}/${epoch}`) ? keyOf(id, epoch) : null;
		},
		forget(id, epoch) {
			held.delete(`${id}/${epoch}`);
		}
	};
	return fake;
}

/** Every stored record of a drafts database, raw. */
async function raw(factory: IDBFactory, name: string): Promise<unknown[]> {
	const db = await new Promise<IDBDatabase>((resolve, reject) => {
		const req = factory.open(name);
		req.onsuccess = () => resolve(req.result);
		req.onerror = () => reject(req.error);
	});
	const all = await new Promise<unknown[]>((resolve, reject) => {
		const req = db.transaction('drafts', 'readonly').objectStore('drafts').getAll();
		req.onsuccess = () => resolve(req.result);
		req.onerror = () => reject(req.error);
	});
	db.close();
	return all;
}

describe('Drafts', () => {
	it('keeps a draft sealed across connections and gives it back', async () => {
		const factory = new IDBFactory();
		const keys = fakeKeys();
		const first = new Drafts('u1', keys, factory);
		await first.save('c1', { text: 'half a thought about the secret plan', replyTo: 'm7' });
		await first.close();

		const stored = await raw(factory, 'parley-drafts:u1');
		expect(stored).toHaveLength(1);
		expect(JSON.stringify(stored)).not.toContain('secret plan');
		expect(JSON.stringify(stored)).not.toContain('m7');
		expect(stored[0]).toMatchObject({ conversation_id: 'c1', epoch: 0 });

		const second = new Drafts('u1', keys, factory);
		expect(await second.load('c1')).toEqual({ text: 'half a thought about the secret plan', replyTo: 'm7' });
		expect(await second.load('c2')).toBeNull();
	});

	it('removes the draft when it is emptied or sent', async () => {
		const drafts = new Drafts('u1', fakeKeys(), new IDBFactory());
		await drafts.save('c1', { text: 'hello', replyTo: null });
		await drafts.save('c1', { text: '   ', replyTo: null });
		expect(await drafts.load('c1')).toBeNull();

		await drafts.save('c1', { text: 'again', replyTo: null });
		await drafts.remove('c1');
		expect(await drafts.load('c1')).toBeNull();

		// A reply target alone is worth keeping.
		await drafts.save('c1', { text: '', replyTo: 'm1' });
		expect(await drafts.load('c1')).toEqual({ text: '', replyTo: 'm1' });
	});

	it('keeps each user and each conversation apart', async () => {
		const factory = new IDBFactory();
		const keys = fakeKeys();
		const alice = new Drafts('alice', keys, factory);
		const bob = new Drafts('bob', keys, factory);
		await alice.save('c1', { text: 'from alice', replyTo: null });
		await alice.save('c2', { text: 'elsewhere', replyTo: null });
		expect(await bob.load('c1')).toBeNull();
		expect(await alice.load('c1')).toEqual({ text: 'from alice', replyTo: null });
		expect(await alice.load('c2')).toEqual({ text: 'elsewhere', replyTo: null });
	});

	it("seals under the conversation's current epoch and opens an older epoch's draft", async () => {
		const keys = fakeKeys({ c1: 3 });
		const factory = new IDBFactory();
		const drafts = new Drafts('u1', keys, factory);
		await drafts.save('c1', { text: 'before the rekey', replyTo: null });
		keys.epochs.c1 = 4;
		expect(await raw(factory, 'parley-drafts:u1')).toMatchObject([{ epoch: 3 }]);
		expect(await drafts.load('c1')).toEqual({ text: 'before the rekey', replyTo: null });
	});

	it('does not give back a draft this device has no key for, nor one moved to another conversation', async () => {
		const factory = new IDBFactory();
		const keys = fakeKeys();
		const drafts = new Drafts('u1', keys, factory);
		await drafts.save('c1', { text: 'mine', replyTo: null });
		keys.forget('c1', 0);
		// No key yet (after a reload, before the key ring has it): nothing shown, nothing lost.
		expect(await drafts.load('c1')).toBeNull();
		expect(await raw(factory, 'parley-drafts:u1')).toHaveLength(1);

		// A record copied into another conversation's slot does not open there.
		const [record] = (await raw(factory, 'parley-drafts:u1')) as Record<string, unknown>[];
		const copying = new Drafts('u1', keys, factory);
		await copying.save('c2', { text: 'placeholder', replyTo: null });
		await copying.close();
		await new Promise<void>((resolve, reject) => {
			const req = factory.open('parley-drafts:u1');
			req.onsuccess = () => {
				const tx = req.result.transaction('drafts', 'readwrite');
				tx.objectStore('drafts').put({ ...record, conversation_id: 'c2' });
				tx.oncomplete = () => {
					req.result.close();
					resolve();
				};
				tx.onerror = () => reject(tx.error);
			};
		});
		const reader = new Drafts('u1', keys, factory);
		expect(await reader.load('c2')).toBeNull();
	});

	it('runs saves and removals in order, so a slow save cannot bring back a sent draft', async () => {
		const keys = fakeKeys();
		let release!: () => void;
		const gate = new Promise<void>((resolve) => (release = resolve));
		const slow: DraftKeys = {
			current: async (id) => {
				await gate;
				return keys.current(id);
			},
			held: (id, epoch) => keys.held(id, epoch)
		};
		const drafts = new Drafts('u1', slow, new IDBFactory());
		const saving = drafts.save('c1', { text: 'typed', replyTo: null });
		const removing = drafts.remove('c1');
		release();
		await Promise.all([saving, removing]);
		expect(await drafts.load('c1')).toBeNull();
	});
});

describe('DraftKeeper', () => {
	afterEach(() => vi.useRealTimers());

	function keeper() {
		const drafts = new Drafts('u1', fakeKeys(), new IDBFactory());
		const save = vi.spyOn(drafts, 'save');
		return { drafts, save, keeper: new DraftKeeper(() => drafts, 'c1', 300) };
	}

	it('saves a moment after typing stops, once', async () => {
		// Only the keeper's timer: fake-indexeddb schedules its work with setImmediate.
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		const { drafts, save, keeper: k } = keeper();
		k.change({ text: 'h', replyTo: null });
		k.change({ text: 'he', replyTo: null });
		k.change({ text: 'hey', replyTo: null });
		expect(save).not.toHaveBeenCalled();
		await vi.advanceTimersByTimeAsync(300);
		expect(save).toHaveBeenCalledTimes(1);
		vi.useRealTimers();
		expect(await drafts.load('c1')).toEqual({ text: 'hey', replyTo: null });
	});

	it('does not remove a stored draft for the empty box it starts with, nor seal what it restored again', async () => {
		const { drafts, save, keeper: k } = keeper();
		await drafts.save('c1', { text: 'kept', replyTo: null });
		save.mockClear();
		k.change({ text: '', replyTo: null });
		await k.flush();
		expect(await drafts.load('c1')).toEqual({ text: 'kept', replyTo: null });

		expect(await k.restore()).toEqual({ text: 'kept', replyTo: null });
		k.change({ text: 'kept', replyTo: null });
		await k.flush();
		expect(save).not.toHaveBeenCalled();
	});

	it('flushes at once, and clear forgets what waits and what is stored', async () => {
		const { drafts, keeper: k } = keeper();
		k.change({ text: 'leaving', replyTo: 'm1' });
		await k.flush();
		expect(await drafts.load('c1')).toEqual({ text: 'leaving', replyTo: 'm1' });

		k.change({ text: 'sending this', replyTo: null });
		await k.clear();
		await k.flush();
		expect(await drafts.load('c1')).toBeNull();

		// Emptying the box after some typing removes the draft.
		k.change({ text: 'oops', replyTo: null });
		await k.flush();
		k.change({ text: '', replyTo: null });
		await k.flush();
		expect(await drafts.load('c1')).toBeNull();
	});

	it('keeps the draft in the composer only when it cannot be sealed, and tries again on the next change', async () => {
		const failing: DraftKeys = {
			current: () => Promise.reject(new Error('no key yet')),
			held: async () => null
		};
		const drafts = new Drafts('u1', failing, new IDBFactory());
		const k = new DraftKeeper(() => drafts, 'c1');
		k.change({ text: 'x', replyTo: null });
		await expect(k.flush()).resolves.toBeUndefined();
		const save = vi.spyOn(drafts, 'save');
		k.change({ text: 'x', replyTo: null });
		await k.flush();
		expect(save).toHaveBeenCalledTimes(1);
	});

	it('does nothing while signed out', async () => {
		const k = new DraftKeeper(() => null, 'c1');
		k.change({ text: 'x', replyTo: null });
		await k.flush();
		expect(await k.restore()).toBeNull();
		await k.clear();
	});
});
