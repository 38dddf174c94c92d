/**
 * The persistent offline outbox: messages already encrypted on the device and waiting for
 * `send_message`. It lives in IndexedDB (one database per user, so a shared browser never sends one
 * user's messages as another) and survives reloads; the chat store drains it in `createdAt` order.
 * Re-sending an entry is safe because `send_message` is idempotent on `client_id`.
 */
import type { MessageEncryption, MessageType } from './types.ts';
import type { AttachmentRef } from './derive.ts';
import { defaultIndexedDB, openDatabase, request, transaction } from './idb.ts';

export interface OutboxEntry {
	client_id: string;
	conversation_id: string;
	content_encrypted: string;
	encryption: MessageEncryption;
	message_type: MessageType;
	/** Where an attachment's encrypted file is (absent for text; entries from before attachments lack it). */
	attachment?: AttachmentRef | null;
	reply_to_id: string | null;
	/** The members it mentions, worked out from the text when sealed (entries from before mentions lack it). */
	mentions?: string[];
	/** Milliseconds since the epoch, strictly increasing per outbox (see `stamp`). */
	createdAt: number;
	attempts: number;
	lastError: string | null;
	/** Set when the server refused the message: it waits for `retry` or `discard` instead of draining. */
	failed?: boolean;
}

const STORE = 'outbox';

export class Outbox {
	readonly name: string;
	#factory: IDBFactory | undefined;
	#db: Promise<IDBDatabase> | null = null;
	#last = 0;

	/** `factory` defaults to the global `indexedDB` (pass `fake-indexeddb`'s in tests). */
	constructor(userId: string, factory?: IDBFactory) {
		this.name = `parley-outbox:${userId}`;
		this.#factory = factory;
	}

	#open(): Promise<IDBDatabase> {
		this.#db ??= openDatabase(this.#factory ?? defaultIndexedDB(), this.name, 1, (db) => {
			const store = db.createObjectStore(STORE, { keyPath: 'client_id' });
			store.createIndex('createdAt', 'createdAt');
		});
		return this.#db;
	}

	/** A creation time later than every entry seen so far, so two sends in one millisecond keep their order. */
	stamp(): number {
		this.#last = Math.max(Date.now(), this.#last + 1);
		return this.#last;
	}

	/** Adds or replaces an entry (keyed by `client_id`). */
	async put(entry: OutboxEntry): Promise<void> {
		this.#last = Math.max(this.#last, entry.createdAt);
		const db = await this.#open();
		await transaction(db, STORE, 'readwrite', (s) => s.put(structuredClone(entry)));
	}

	async get(clientId: string): Promise<OutboxEntry | undefined> {
		const db = await this.#open();
		return (
			(await transaction(db, STORE, 'readonly', (s) => s.get(clientId) as IDBRequest<OutboxEntry>)) ??
			undefined
		);
	}

	/** Every entry, oldest first. */
	async all(): Promise<OutboxEntry[]> {
		const db = await this.#open();
		const tx = db.transaction(STORE, 'readonly');
		const entries = await request(
			tx.objectStore(STORE).index('createdAt').getAll() as IDBRequest<OutboxEntry[]>
		);
		for (const e of entries) this.#last = Math.max(this.#last, e.createdAt);
		return entries;
	}

	async remove(clientId: string): Promise<void> {
		const db = await this.#open();
		await transaction(db, STORE, 'readwrite', (s) => s.delete(clientId));
	}

	/** Closes the connection (a later call reopens it). */
	async close(): Promise<void> {
		const db = this.#db;
		this.#db = null;
		if (db) (await db).close();
	}
}
