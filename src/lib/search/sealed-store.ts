/**
 * The search index at rest: IndexedDB records of sealed chunks (message-index.ts groups messages
 * by conversation and run of seqs) and one sealed meta record (how far the background backfill
 * got), in a database per user (`parley-search:<user id>`). Saving writes only the chunks that changed, all in one transaction with the
 * meta, so a crash never records history as indexed that was not stored.
 *
 * The key: AES-GCM-256, derived with HKDF from the identity secret the key ring holds
 * (`Keyring.localKey('search-index')`, crypto/local-key.ts), non-extractable. Why derived rather
 * than a random key of its own: the index then is exactly as protected as the identity that
 * already opens every message the server stores, so it adds no new secret to keep or back up; it
 * is per user by construction (another user on the browser derives another key, and their records
 * are keyed apart too); and when the identity is reset, the old index stops opening just as the old
 * messages do (it is then dropped and rebuilt). Sealing means the stored bytes hold no plaintext
 * (a copied profile folder, a backup tool or a disk indexer sees only ciphertext), and each record
 * is bound to its user and slot (the AES-GCM additional data), so records cannot be swapped.
 * What stays readable: record keys (conversation ids and seq ranges) and sizes, which the server
 * knows anyway. An attacker who also takes the key ring's IndexedDB holds the identity, and with
 * it every message on the server: the index does not widen that.
 */
import { openDatabase, transaction } from '../chat/idb.ts';
import type { IndexedMessage } from './message-index.ts';

const DB_PREFIX = 'parley-search:';
const STORE = 'sealed';
const META = '~meta';

/** One stored record: a chunk of messages, or the meta, sealed. */
export interface SealedRecord {
	user: string;
	key: string;
	iv: Uint8Array;
	data: Uint8Array;
}

/** How far the backfill got in one conversation: seqs bottom..top are indexed (or were looked at). */
export interface Coverage {
	top: number;
	bottom: number;
}

export interface IndexMeta {
	version: 1;
	coverage: Record<string, Coverage>;
}

/** A chunk as stored: the conversation comes from the key, each message is a tuple. */
type Tuple = [id: string, s: number, u: string, t: number, x: string, k?: IndexedMessage['k']];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Seals `value` (as JSON) under `key`, bound to `aad`. */
export async function sealJson(key: CryptoKey, value: unknown, aad: string) {
	const iv = crypto.getRandomValues(new Uint8Array(12));
	const data = await crypto.subtle.encrypt(
		{ name: 'AES-GCM', iv, additionalData: encoder.encode(aad) },
		key,
		encoder.encode(JSON.stringify(value))
	);
	return { iv, data: new Uint8Array(data) };
}

/** Opens what `sealJson` sealed; null for another key, another slot or tampered bytes. */
export async function openJson<T>(key: CryptoKey, sealed: { iv: Uint8Array; data: Uint8Array }, aad: string) {
	try {
		const plain = await crypto.subtle.decrypt(
			{ name: 'AES-GCM', iv: sealed.iv as Uint8Array<ArrayBuffer>, additionalData: encoder.encode(aad) },
			key,
			sealed.data as Uint8Array<ArrayBuffer>
		);
		return JSON.parse(decoder.decode(plain)) as T;
	} catch {
		return null;
	}
}

/** The conversation a chunk key names. */
function conversationOf(chunkKey: string): string {
	return chunkKey.slice(0, chunkKey.lastIndexOf(':'));
}

export function encodeChunk(messages: IndexedMessage[]): Tuple[] {
	return messages.map((m) => (m.k ? [m.id, m.s, m.u, m.t, m.x, m.k] : [m.id, m.s, m.u, m.t, m.x]));
}

export function decodeChunk(chunkKey: string, tuples: Tuple[]): IndexedMessage[] {
	const c = conversationOf(chunkKey);
	return tuples.map(([id, s, u, t, x, k]) => (k ? { id, c, s, u, t, x, k } : { id, c, s, u, t, x }));
}

const opened = new WeakMap<IDBFactory, Map<string, Promise<IDBDatabase>>>();

/** A user's database, opened once per factory (a failed open is not kept: the next use tries again). */
function database(factory: IDBFactory, userId: string): Promise<IDBDatabase> {
	let byName = opened.get(factory);
	if (!byName) opened.set(factory, (byName = new Map()));
	const name = DB_PREFIX + userId;
	let db = byName.get(name);
	if (!db) {
		const opening = openDatabase(factory, name, 1, (d) => {
			d.createObjectStore(STORE, { keyPath: 'key' });
		});
		byName.set(name, (db = opening));
		opening.catch(() => {
			if (byName.get(name) === opening) byName.delete(name);
		});
	}
	return db;
}

/** One user's sealed index in IndexedDB. */
export class SealedIndexStore {
	readonly userId: string;
	#key: CryptoKey;
	#factory: IDBFactory;

	constructor(userId: string, key: CryptoKey, factory: IDBFactory) {
		this.userId = userId;
		this.#key = key;
		this.#factory = factory;
	}

	#aad(key: string): string {
		return `parley-search|${this.userId}|${key}`;
	}

	#db(): Promise<IDBDatabase> {
		return database(this.#factory, this.userId);
	}

	/** This user's stored records, still sealed. */
	async records(): Promise<SealedRecord[]> {
		const db = await this.#db();
		return ((await transaction(db, STORE, 'readonly', (s) => s.getAll())) ?? []) as SealedRecord[];
	}

	/** Opens the meta record: undefined when there is none, null when it does not open (another key). */
	async openMeta(records: SealedRecord[]): Promise<IndexMeta | null | undefined> {
		const record = records.find((r) => r.key === META);
		if (!record) return undefined;
		return openJson<IndexMeta>(this.#key, record, this.#aad(META));
	}

	/** Opens one chunk record; null when it does not open. */
	async openChunk(record: SealedRecord): Promise<IndexedMessage[] | null> {
		const tuples = await openJson<Tuple[]>(this.#key, record, this.#aad(record.key));
		return tuples ? decodeChunk(record.key, tuples) : null;
	}

	/** Seals and writes the changed chunks (an empty one is deleted) and the meta, in one transaction. */
	async save(chunks: Map<string, IndexedMessage[]>, meta: IndexMeta | null): Promise<void> {
		const sealed: SealedRecord[] = [];
		const gone: string[] = [];
		await Promise.all(
			[...chunks].map(async ([key, messages]) => {
				if (messages.length === 0) gone.push(key);
				else
					sealed.push({
						user: this.userId,
						key,
						...(await sealJson(this.#key, encodeChunk(messages), this.#aad(key)))
					});
			})
		);
		if (meta)
			sealed.push({ user: this.userId, key: META, ...(await sealJson(this.#key, meta, this.#aad(META))) });
		if (sealed.length === 0 && gone.length === 0) return;
		const db = await this.#db();
		await transaction(db, STORE, 'readwrite', (s) => {
			for (const record of sealed) s.put(record);
			for (const key of gone) s.delete(key);
		});
	}

	/** Deletes records (chunks that no longer open). */
	async delete(keys: string[]): Promise<void> {
		if (keys.length === 0) return;
		const db = await this.#db();
		await transaction(db, STORE, 'readwrite', (s) => {
			for (const key of keys) s.delete(key);
		});
	}

	/** Deletes this user's whole index (sealed under a key that no longer exists). */
	async clear(): Promise<void> {
		const db = await this.#db();
		await transaction(db, STORE, 'readwrite', (s) => s.clear());
	}

	/** How many records this user has (tests). */
	async count(): Promise<number> {
		const db = await this.#db();
		return (await transaction(db, STORE, 'readonly', (s) => s.count())) ?? 0;
	}
}
