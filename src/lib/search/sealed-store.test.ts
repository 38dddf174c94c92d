import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { deriveLocalKey } from '../crypto/local-key.ts';
import { generateIdentity } from '../crypto/e2ee.ts';
import type { IndexedMessage } from './message-index.ts';
import { SealedIndexStore, openJson, sealJson } from './sealed-store.ts';

const identity = () => generateIdentity().secretKey;

const messages: IndexedMessage[] = [
	{ id: 'm1', c: 'c1', s: 1, u: 'ana', t: 1, x: 'the treasure is under the old oak' },
	{ id: 'm2', c: 'c1', s: 2, u: 'ben', t: 2, x: 'pineapple password 12345', k: 'file' }
];

/** Every stored byte of a factory's databases, as text (what a copied profile folder would show). */
async function rawBytes(store: SealedIndexStore): Promise<string> {
	const records = await store.records();
	return records
		.map((r) => `${r.key} ${Buffer.from(r.iv).toString('latin1')} ${Buffer.from(r.data).toString('latin1')}`)
		.join('\n');
}

describe('SealedIndexStore', () => {
	it('stores chunks sealed: no plaintext in the stored bytes, and they open again', async () => {
		const factory = new IDBFactory();
		const key = await deriveLocalKey(identity(), 'search-index:ana');
		const store = new SealedIndexStore('ana', key, factory);
		await store.save(new Map([['c1:0', messages]]), { version: 1, coverage: { c1: { top: 2, bottom: 1 } } });
		const raw = await rawBytes(store);
		for (const word of ['treasure', 'oak', 'pineapple', 'password', '12345', 'ana', 'ben'])
			expect(raw).not.toContain(word);
		const records = await store.records();
		expect(records.map((r) => r.key).sort()).toEqual(['c1:0', '~meta']);
		expect(await store.openMeta(records)).toEqual({ version: 1, coverage: { c1: { top: 2, bottom: 1 } } });
		expect(await store.openChunk(records.find((r) => r.key === 'c1:0')!)).toEqual(messages);
	});

	it('does not open under a wrong key, in another slot or after tampering', async () => {
		const factory = new IDBFactory();
		const secret = identity();
		const key = await deriveLocalKey(secret, 'search-index:ana');
		const store = new SealedIndexStore('ana', key, factory);
		await store.save(new Map([['c1:0', messages]]), { version: 1, coverage: {} });
		const records = await store.records();
		const chunk = records.find((r) => r.key === 'c1:0')!;
		// Another identity (a reset), or the same identity for another purpose.
		const other = new SealedIndexStore('ana', await deriveLocalKey(identity(), 'search-index:ana'), factory);
		expect(await other.openChunk(chunk)).toBeNull();
		expect(await other.openMeta(records)).toBeNull();
		const purpose = new SealedIndexStore('ana', await deriveLocalKey(secret, 'other:ana'), factory);
		expect(await purpose.openChunk(chunk)).toBeNull();
		// A chunk moved to another slot does not open there.
		expect(await store.openChunk({ ...chunk, key: 'c1:1' })).toBeNull();
		const data = new Uint8Array(chunk.data);
		data[3] ^= 1;
		expect(await store.openChunk({ ...chunk, data })).toBeNull();
		expect(await openJson(key, await sealJson(key, { a: 1 }, 'x'), 'y')).toBeNull();
		// The key itself cannot be read out.
		await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow();
	});

	it('keeps users apart on one browser', async () => {
		const factory = new IDBFactory();
		const ana = new SealedIndexStore('ana', await deriveLocalKey(identity(), 'search-index:ana'), factory);
		const benKey = await deriveLocalKey(identity(), 'search-index:ben');
		const ben = new SealedIndexStore('ben', benKey, factory);
		await ana.save(new Map([['c1:0', messages]]), null);
		expect(await ben.records()).toEqual([]);
		expect(await ana.count()).toBe(1);
		// Ana's record copied into Ben's index opens for neither Ben's key nor Ben's slot.
		const [record] = await ana.records();
		expect(await ben.openChunk(record)).toBeNull();
		await ben.clear();
		expect(await ana.count()).toBe(1);
	});

	it('writes only the chunks it is given and deletes emptied ones', async () => {
		const factory = new IDBFactory();
		const store = new SealedIndexStore('ana', await deriveLocalKey(identity(), 'search-index:ana'), factory);
		await store.save(
			new Map([
				['c1:0', [messages[0]]],
				['c1:1', [messages[1]]]
			]),
			null
		);
		const before = await store.records();
		await store.save(new Map([['c1:0', []]]), null);
		const after = await store.records();
		expect(after.map((r) => r.key)).toEqual(['c1:1']);
		// The untouched chunk is the very same record (not sealed again).
		expect(after[0].iv).toEqual(before.find((r) => r.key === 'c1:1')!.iv);
	});
});
