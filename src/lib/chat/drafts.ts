/**
 * Drafts: what is typed in a conversation's composer, and the message it replies to, kept on this
 * device across reloads until it is sent or emptied. One IndexedDB database per user (as the
 * outbox), one record per conversation.
 *
 * Sealed like the outbox: a record holds only `secretbox` ciphertext under the conversation's
 * current key (the epoch and nonce beside it), never the text. (If the epoch has no key yet, the
 * first save makes and publishes one, as the first send would.) Why that key and not a device key
 * of its own: a device key would have to be stored in the same browser profile (IndexedDB; even a
 * non-extractable WebCrypto key is written there), so a copied profile folder would carry the key
 * with the ciphertext and protect nothing. Conversation keys are never written to disk (the key ring
 * keeps them in memory and fetches them wrapped for me from `conversation_keys`, behind row-level
 * security), so a copied profile holds drafts exactly as well protected as the outbox and the
 * messages themselves — no more plaintext on disk than before drafts existed. The price: a draft
 * opens once the conversation's key is at hand (after a reload, once the key ring has fetched it),
 * and a draft saved under an epoch this device can no longer open is dropped.
 *
 * The sealed text also names its conversation, so a record moved to another conversation's slot
 * does not open there. Saves and removals of one conversation run in the order they were asked
 * for, so a save still sealing cannot bring back a draft that sending has just removed.
 */
import { openText, sealText } from '../crypto/e2ee.ts';
import { defaultIndexedDB, openDatabase, transaction } from './idb.ts';

export interface Draft {
	text: string;
	/** The message the draft replies to, if any. */
	replyTo: string | null;
}

/** The keys a draft is sealed and opened with (ConversationKeys in parts.ts is one). */
export interface DraftKeys {
	/** The conversation's current key and its epoch (throws when there is none for me). */
	current(conversationId: string): Promise<{ key: Uint8Array; epoch: number }>;
	/** One epoch's key if this device can have it, else null. */
	held(conversationId: string, epoch: number): Promise<Uint8Array | null>;
}

interface StoredDraft {
	conversation_id: string;
	epoch: number;
	nonce: string;
	ciphertext: string;
	updatedAt: number;
}

/** What the ciphertext holds. */
interface DraftPlaintext {
	conversation: string;
	text: string;
	replyTo: string | null;
}

const STORE = 'drafts';
const EMPTY = JSON.stringify({ text: '', replyTo: null });

/** Whether a draft holds nothing worth keeping. */
export function isEmptyDraft(draft: Draft): boolean {
	return draft.text.trim() === '' && !draft.replyTo;
}

export class Drafts {
	readonly name: string;
	#keys: DraftKeys;
	#factory: IDBFactory | undefined;
	#db: Promise<IDBDatabase> | null = null;
	/** The last save or removal asked for, per conversation (they run one after the other). */
	#queue = new Map<string, Promise<void>>();

	/** `factory` defaults to the global `indexedDB` (pass `fake-indexeddb`'s in tests). */
	constructor(userId: string, keys: DraftKeys, factory?: IDBFactory) {
		this.name = `parley-drafts:${userId}`;
		this.#keys = keys;
		this.#factory = factory;
	}

	#open(): Promise<IDBDatabase> {
		this.#db ??= openDatabase(this.#factory ?? defaultIndexedDB(), this.name, 1, (db) => {
			db.createObjectStore(STORE, { keyPath: 'conversation_id' });
		});
		return this.#db;
	}

	/** Runs `work` after what was asked before for the same conversation. */
	#then(conversationId: string, work: () => Promise<void>): Promise<void> {
		const previous = this.#queue.get(conversationId) ?? Promise.resolve();
		const next = previous.catch(() => undefined).then(work);
		this.#queue.set(conversationId, next);
		const done = () => {
			if (this.#queue.get(conversationId) === next) this.#queue.delete(conversationId);
		};
		next.then(done, done);
		return next;
	}

	/** Keeps a conversation's draft, sealed under its current key; an empty one is removed. */
	save(conversationId: string, draft: Draft): Promise<void> {
		if (isEmptyDraft(draft)) return this.remove(conversationId);
		return this.#then(conversationId, async () => {
			const { key, epoch } = await this.#keys.current(conversationId);
			const plain: DraftPlaintext = {
				conversation: conversationId,
				text: draft.text,
				replyTo: draft.replyTo
			};
			const { ciphertext, nonce } = sealText(key, JSON.stringify(plain));
			const record: StoredDraft = {
				conversation_id: conversationId,
				epoch,
				nonce,
				ciphertext,
				updatedAt: Date.now()
			};
			const db = await this.#open();
			await transaction(db, STORE, 'readwrite', (s) => s.put(record));
		});
	}

	/** The conversation's draft, opened; null when there is none or it does not open here. */
	async load(conversationId: string): Promise<Draft | null> {
		await this.#queue.get(conversationId)?.catch(() => undefined);
		const db = await this.#open();
		const record = await transaction(
			db,
			STORE,
			'readonly',
			(s) => s.get(conversationId) as IDBRequest<StoredDraft | undefined>
		);
		if (!record) return null;
		const key = await this.#keys.held(conversationId, record.epoch);
		const opened = key ? openText(key, record.ciphertext, record.nonce) : null;
		const plain = opened === null ? null : parse(opened);
		if (!plain || plain.conversation !== conversationId) {
			// Sealed under a key this device cannot have (or tampered with): nothing to give back.
			if (key) await this.remove(conversationId);
			return null;
		}
		return { text: plain.text, replyTo: plain.replyTo };
	}

	/** Forgets a conversation's draft (sent, or emptied). */
	remove(conversationId: string): Promise<void> {
		return this.#then(conversationId, async () => {
			const db = await this.#open();
			await transaction(db, STORE, 'readwrite', (s) => s.delete(conversationId));
		});
	}

	/** Closes the connection (a later call reopens it). */
	async close(): Promise<void> {
		const db = this.#db;
		this.#db = null;
		if (db) (await db).close();
	}
}

function parse(json: string): DraftPlaintext | null {
	try {
		const value = JSON.parse(json) as Partial<DraftPlaintext>;
		if (typeof value.conversation !== 'string' || typeof value.text !== 'string') return null;
		return {
			conversation: value.conversation,
			text: value.text,
			replyTo: typeof value.replyTo === 'string' ? value.replyTo : null
		};
	} catch {
		return null;
	}
}

/**
 * One conversation window's draft: changes are saved a moment after typing stops (`delayMs`), at
 * once on `flush` (leaving the chat, the page hiding), and the stored draft is forgotten on `clear`
 * (sent). Failures (no key yet, IndexedDB unavailable) leave the draft in the composer only.
 */
export class DraftKeeper {
	#drafts: () => Drafts | null;
	#conversationId: string;
	#delayMs: number;
	#timer: ReturnType<typeof setTimeout> | null = null;
	#pending: Draft | null = null;
	/**
	 * What was last saved (or found), so an unchanged draft is not sealed again. It starts empty:
	 * an empty composer before `restore` must not remove the stored draft.
	 */
	#saved = EMPTY;

	constructor(drafts: () => Drafts | null, conversationId: string, delayMs = 300) {
		this.#drafts = drafts;
		this.#conversationId = conversationId;
		this.#delayMs = delayMs;
	}

	/** The stored draft, if any (it then counts as saved). */
	async restore(): Promise<Draft | null> {
		const drafts = this.#drafts();
		if (!drafts) return null;
		const draft = await drafts.load(this.#conversationId).catch(() => null);
		if (draft && this.#pending === null) this.#saved = JSON.stringify(draft);
		return draft;
	}

	/** The composer changed: saved after a pause. */
	change(draft: Draft): void {
		const normalized = isEmptyDraft(draft) ? { text: '', replyTo: null } : draft;
		if (this.#pending === null && JSON.stringify(normalized) === this.#saved) return;
		this.#pending = normalized;
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = setTimeout(() => void this.flush(), this.#delayMs);
	}

	/** Saves a change that is waiting, now. */
	async flush(): Promise<void> {
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = null;
		const draft = this.#pending;
		this.#pending = null;
		const drafts = this.#drafts();
		if (!draft || !drafts) return;
		const json = JSON.stringify(draft);
		if (json === this.#saved) return;
		this.#saved = json;
		await drafts.save(this.#conversationId, draft).catch(() => {
			if (this.#saved === json) this.#saved = ''; // unknown: the next change saves again
		});
	}

	/** The draft was sent: nothing waits and nothing stays stored. */
	async clear(): Promise<void> {
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = null;
		this.#pending = null;
		this.#saved = EMPTY;
		await this.#drafts()
			?.remove(this.#conversationId)
			.catch(() => undefined);
	}
}
