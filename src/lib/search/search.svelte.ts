/**
 * Search on the device (`chat.search`): the part of the chat store that keeps the index of
 * decrypted messages (message-index.ts) current and stored sealed (sealed-store.ts), indexes the
 * history not on the device yet in the background (backfill.ts) and opens a conversation at a
 * hit (around.ts).
 *
 * - What the timeline merges and opens is noted here (`note`): new text is indexed, an edit
 *   replaces it, a deletion removes it. So is what the backfill fetches, decrypted the same way.
 * - Changes are saved a moment later, only the chunks that changed, in one transaction with the
 *   backfill's coverage.
 * - Per user: each user's records are their own and sealed under a key from their own identity.
 *   Sign-out (`stop`) saves what is pending and drops the index from memory; the sealed copy
 *   stays for the next sign-in. An index that no longer opens (the identity was reset) is
 *   deleted and built again.
 */
import { attachmentContent } from '../chat/derive.ts';
import type { MessageRow } from '../chat/types.ts';
import { loadAround, type AroundOptions } from './around.ts';
import { Backfill, type PageRequest } from './backfill.ts';
// The index (and MiniSearch) loads on sign-in, not with the first page's JavaScript.
import type { IndexedMessage, MessageIndex, SearchHit } from './message-index.ts';
import { SealedIndexStore, type IndexMeta, type SealedRecord } from './sealed-store.ts';
import { defaultIndexedDB } from '../chat/idb.ts';

export type { SearchHit } from './message-index.ts';

export interface SearchDeps {
	/** The signed-in user, or null. */
	userId(): string | null;
	/** My public key while the key ring holds my identity (the index is sealed with a key from it). */
	identity(): string | null;
	/** The sealing key: derived from the identity (`Keyring.localKey`), null without one. */
	localKey(): Promise<CryptoKey | null>;
	indexedDB?: IDBFactory;
	/** The listed conversations, most recently active first. */
	conversations(): { id: string; last_seq: number }[];
	/** One page of stored rows, not merged into the timeline (the backfill's). */
	fetch(conversationId: string, page: PageRequest): Promise<MessageRow[]>;
	/** A row's text, or null when it does not open here. */
	decrypt(row: MessageRow): Promise<string | null>;
	online(): boolean;
	/** Opens a conversation (resolves once its newest page is in). */
	open(conversationId: string): Promise<void>;
	/** The seq of a loaded message, if the timeline has it. */
	loadedSeq(messageId: string): number | null | undefined;
	/** The conversation's loaded seqs, ascending. */
	seqs(conversationId: string): number[];
	/** Fetches a page and merges it into the timeline. */
	page(conversationId: string, page: PageRequest): Promise<MessageRow[]>;
	/** Pause between backfill pages (default 400 ms). */
	throttleMs?: number;
	/** How long changes wait before they are saved (default 1500 ms). */
	saveDelayMs?: number;
	/** How often an idle backfill looks for conversations with new messages (default 5 s). */
	wakeMs?: number;
	/** The backfill waits this long after sign-in, so the app's own start-up goes first (default 3 s). */
	startDelayMs?: number;
	/**
	 * The stored index opens this long after sign-in (default 1.5 s; at once when someone is about
	 * to search, `prepare`): the first page's scripts and start-up come first.
	 */
	openDelayMs?: number;
	around?: AroundOptions;
}

export type SearchStatus = 'off' | 'loading' | 'ready' | 'unavailable';

/** One signed-in session of the index: dropped whole at sign-out. */
interface Session {
	userId: string;
	index: MessageIndex;
	identity: string;
	store: SealedIndexStore;
	backfill: Backfill;
	loaded: boolean;
	/** Changes noted while the stored index was loading, applied after it. */
	queued: (() => void)[];
	metaDirty: boolean;
	saveTimer: ReturnType<typeof setTimeout> | null;
	saving: Promise<void>;
	wake: ReturnType<typeof setInterval> | null;
	/** No backfill before this time (ms since the epoch). */
	backfillFrom: number;
	delayed: ReturnType<typeof setTimeout> | null;
}

/** A start waiting for its delay: what the timeline merged meanwhile waits with it. */
interface Starting {
	userId: string;
	identity: string;
	timer: ReturnType<typeof setTimeout>;
	begin(): void;
	early: (() => void)[];
	done: Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a row contributes to the index: its text, an attachment's name and caption, or nothing. */
export function indexedMessage(row: MessageRow, text: string): IndexedMessage | null {
	const at = Date.parse(row.created_at);
	const base = {
		id: row.id,
		c: row.conversation_id,
		s: row.seq,
		u: row.sender_id,
		t: Number.isNaN(at) ? 0 : at
	};
	if (row.message_type === 'text') return text.trim() ? { ...base, x: text } : null;
	const content = attachmentContent(row.message_type, text);
	if (!content) return null;
	const x = [row.message_type === 'voice' ? '' : content.name, content.caption].filter(Boolean).join(' — ');
	return x ? { ...base, x, k: row.message_type } : null;
}

export class Search {
	status = $state<SearchStatus>('off');
	/** Backfill progress: messages indexed (or looked at) of those in the listed conversations. */
	indexed = $state(0);
	total = $state(0);
	/** Whether the backfill is fetching history now. */
	backfilling = $state(false);
	/** Bumps when the index changed (at most a few times a second): open result lists ask again. */
	version = $state(0);

	#deps: SearchDeps;
	#session: Session | null = null;
	#starting: Starting | null = null;
	/** Bumps at every stop: a start still on its way from before it gives up. */
	#stops = 0;
	/** The latest start: resolves once the stored index is open. */
	#opened: Promise<void> = Promise.resolve();
	#bump: ReturnType<typeof setTimeout> | null = null;

	constructor(deps: SearchDeps) {
		this.#deps = deps;
	}

	/** Messages in the index. */
	get size(): number {
		return this.#session?.index.size ?? 0;
	}

	/**
	 * Starts (or wakes) the index for the signed-in user: opens the sealed copy (after
	 * `openDelayMs`), then indexes missing history. Safe to call again; a new identity starts over.
	 * Resolves once the stored index is open.
	 */
	start(): Promise<void> {
		const userId = this.#deps.userId();
		const identity = this.#deps.identity();
		const current = this.#session ?? this.#starting;
		if (current && current.userId === userId && current.identity === identity) {
			this.wake();
			return this.#starting?.done ?? Promise.resolve();
		}
		if (current) void this.stop();
		if (!userId || !identity) return Promise.resolve();
		// Fetch the index code now (the index itself opens later): once loaded it stays in the
		// page's module map, so a search after the connection drops still works.
		void import('./message-index.ts').catch(() => undefined);
		let begin!: () => void;
		const done = new Promise<void>((resolve) => {
			begin = () => {
				if (this.#starting !== starting) return resolve();
				clearTimeout(starting.timer);
				this.#starting = null;
				resolve(this.#begin(userId, identity, starting.early, this.#stops));
			};
		});
		const starting: Starting = {
			userId,
			identity,
			timer: setTimeout(() => begin(), this.#deps.openDelayMs ?? 1500),
			begin: () => begin(),
			early: [],
			done
		};
		this.#starting = starting;
		this.#opened = done;
		return done;
	}

	/** Someone is about to search: the stored index opens now rather than after its delay. */
	prepare(): void {
		this.#starting?.begin();
	}

	async #begin(userId: string, identity: string, early: (() => void)[], stops: number): Promise<void> {
		const [key, { MessageIndex }] = await Promise.all([
			this.#deps.localKey().catch(() => null),
			import('./message-index.ts')
		]);
		if (!key || stops !== this.#stops || this.#deps.userId() !== userId || this.#session) return;
		let factory: IDBFactory;
		try {
			factory = this.#deps.indexedDB ?? defaultIndexedDB();
		} catch {
			this.status = 'unavailable';
			return;
		}
		const session: Session = {
			userId,
			index: new MessageIndex(),
			identity,
			store: new SealedIndexStore(userId, key, factory),
			backfill: null as unknown as Backfill,
			loaded: false,
			queued: [],
			metaDirty: false,
			saveTimer: null,
			saving: Promise.resolve(),
			wake: null,
			backfillFrom: Date.now() + (this.#deps.startDelayMs ?? 3000),
			delayed: null
		};
		session.backfill = this.#backfill(session, {});
		session.queued.push(...early);
		this.#session = session;
		this.status = 'loading';
		try {
			await this.#load(session);
		} catch {
			if (this.#session === session) this.status = 'unavailable';
			return;
		}
		if (this.#session !== session) return;
		session.loaded = true;
		for (const change of session.queued.splice(0)) change();
		this.status = 'ready';
		this.#changed();
		session.wake = setInterval(() => this.wake(), this.#deps.wakeMs ?? 5000);
		this.wake();
	}

	#backfill(session: Session, coverage: IndexMeta['coverage']): Backfill {
		return new Backfill(
			{
				conversations: () => this.#deps.conversations(),
				fetch: (id, page) => this.#deps.fetch(id, page),
				index: async (rows) => {
					const texts = await Promise.all(rows.map((row) => this.#deps.decrypt(row).catch(() => null)));
					if (this.#session !== session) return;
					rows.forEach((row, i) => this.#apply(session, row, texts[i]));
				},
				changed: () => {
					session.metaDirty = true;
					this.#progress();
					this.#scheduleSave(session);
				},
				canRun: () => this.#session === session && this.#deps.online(),
				sleep,
				throttleMs: this.#deps.throttleMs
			},
			coverage
		);
	}

	/** Opens the stored index, newest chunks first, yielding between chunks so the page stays responsive. */
	async #load(session: Session): Promise<void> {
		const { store } = session;
		const records = await store.records();
		const meta = await store.openMeta(records);
		if (meta === null) {
			// Sealed under another identity's key: it can never open again.
			await store.clear();
			return;
		}
		if (meta) session.backfill = this.#backfill(session, meta.coverage);
		const chunks = records.filter((r) => r.key !== '~meta').sort(byNewestChunk);
		const broken: string[] = [];
		let since = performance.now();
		for (const record of chunks) {
			if (this.#session !== session) return;
			const messages = await store.openChunk(record);
			if (this.#session !== session) return;
			if (messages) session.index.load(messages);
			else broken.push(record.key);
			if (performance.now() - since > 12) {
				this.#changed();
				await sleep(0);
				since = performance.now();
			}
		}
		if (!meta && chunks.length) {
			// Chunks without a meta record: keep what opens, the backfill checks everything again.
			session.metaDirty = true;
		}
		await store.delete(broken);
	}

	/** Looks for history to index (the list changed, or new messages may have arrived). */
	wake(): void {
		const session = this.#session;
		if (!session?.loaded) return;
		this.#progress();
		const wait = session.backfillFrom - Date.now();
		if (wait > 0) {
			session.delayed ??= setTimeout(() => {
				session.delayed = null;
				this.wake();
			}, wait);
			return;
		}
		if (session.backfill.running || !session.backfill.next()) return;
		this.backfilling = true;
		void session.backfill
			.run()
			.catch(() => undefined) // offline or refused: the next wake resumes from the coverage
			.finally(() => {
				if (this.#session !== session) return;
				this.backfilling = false;
				this.#progress();
			});
	}

	#progress(): void {
		const progress = this.#session?.backfill.progress() ?? { indexed: 0, total: 0 };
		this.indexed = progress.indexed;
		this.total = progress.total;
	}

	/** A row the timeline merged, with its text (null: deleted, or it does not open here). */
	note(row: MessageRow, text: string | null): void {
		const session = this.#session;
		if (!session) {
			this.#starting?.early.push(() => this.#session && this.#apply(this.#session, row, text));
			return;
		}
		if (!session.loaded) {
			session.queued.push(() => this.#apply(session, row, text));
			return;
		}
		this.#apply(session, row, text);
		session.backfill.noteSeq(row.conversation_id, row.seq);
	}

	#apply(session: Session, row: MessageRow, text: string | null): void {
		let changed: boolean;
		const { index } = session;
		if (row.deleted_at) changed = index.remove(row.id);
		else if (text === null)
			return; // not readable here: whatever was indexed stays
		else {
			const message = indexedMessage(row, text);
			changed = message ? index.put(message) : index.remove(row.id);
		}
		if (!changed) return;
		this.#changed();
		this.#scheduleSave(session);
	}

	/** Forgets a conversation I am no longer in. */
	forget(conversationId: string): void {
		const session = this.#session;
		if (!session) {
			this.#starting?.early.push(() => this.forget(conversationId));
			return;
		}
		const run = () => {
			session.index.removeConversation(conversationId);
			session.backfill.forget(conversationId);
			session.metaDirty = true;
			this.#changed();
			this.#scheduleSave(session);
		};
		if (session.loaded) run();
		else session.queued.push(run);
	}

	/** The messages matching `query`, newest first; in one conversation or in all. */
	query(query: string, options: { conversationId?: string; limit?: number } = {}): SearchHit[] {
		return this.#session?.index.search(query, options) ?? [];
	}

	/**
	 * Opens a conversation at a message: its seq from the timeline or the index, the messages
	 * around it loaded (the gap up to the newer ones fills in the background). Resolves with the
	 * seq to show, or null when this device does not know the message.
	 */
	async openAt(conversationId: string, messageId: string): Promise<number | null> {
		// Opened from an address (a reload of `?m=`): the stored index may still be on its way.
		this.prepare();
		await Promise.all([this.#deps.open(conversationId), this.#opened]);
		const indexed = this.#session?.index.get(messageId);
		const seq = this.#deps.loadedSeq(messageId) ?? (indexed?.c === conversationId ? indexed.s : null);
		if (seq == null) return null;
		const session = this.#session;
		const { filled } = await loadAround(
			{
				seqs: (id) => this.#deps.seqs(id),
				page: (id, page) => this.#deps.page(id, page),
				sleep,
				alive: () => this.#session === session
			},
			conversationId,
			seq,
			this.#deps.around
		);
		void filled.catch(() => undefined);
		return seq;
	}

	#changed(): void {
		if (this.#bump) return;
		this.#bump = setTimeout(() => {
			this.#bump = null;
			this.version++;
		}, 250);
	}

	#scheduleSave(session: Session): void {
		if (session.saveTimer || !session.loaded) return;
		session.saveTimer = setTimeout(() => {
			session.saveTimer = null;
			void this.#save(session);
		}, this.#deps.saveDelayMs ?? 1500);
	}

	/** Saves what changed: taken at once (one consistent moment), then sealed and written. */
	#save(session: Session): Promise<void> {
		if (!session.loaded) return session.saving;
		const chunks = session.index.takeDirty();
		const meta: IndexMeta | null = session.metaDirty
			? { version: 1, coverage: structuredClone(session.backfill.coverage) }
			: null;
		session.metaDirty = false;
		if (chunks.size === 0 && !meta) return session.saving;
		session.saving = session.saving
			.then(() => session.store.save(chunks, meta))
			.catch(() => {
				// Quota, a closing database: try again with the next change (unless signed out).
				if (this.#session !== session) return;
				session.index.markDirty(chunks.keys());
				if (meta) session.metaDirty = true;
			});
		return session.saving;
	}

	/** Saves what is pending now (tests; the page's `pagehide`). */
	flush(): Promise<void> {
		const session = this.#session;
		if (!session) return Promise.resolve();
		if (session.saveTimer) clearTimeout(session.saveTimer);
		session.saveTimer = null;
		return this.#save(session);
	}

	/**
	 * Sign-out: what is pending is saved (sealed), then the index leaves memory. Resolves once
	 * the last save is written.
	 */
	stop(): Promise<void> {
		this.#stops++;
		const starting = this.#starting;
		this.#starting = null;
		if (starting) {
			clearTimeout(starting.timer);
			starting.begin(); // resolves its promise; it is no longer the current start
		}
		const session = this.#session;
		if (!session) return Promise.resolve();
		if (session.saveTimer) clearTimeout(session.saveTimer);
		if (session.wake) clearInterval(session.wake);
		if (session.delayed) clearTimeout(session.delayed);
		const saved = this.#save(session);
		this.#session = null;
		session.index.clear();
		this.status = 'off';
		this.indexed = 0;
		this.total = 0;
		this.backfilling = false;
		this.version++;
		return saved;
	}
}

/** Newest chunks first: the recent past is searchable soonest while the rest loads. */
function byNewestChunk(a: SealedRecord, b: SealedRecord): number {
	const seq = (r: SealedRecord) => Number(r.key.slice(r.key.lastIndexOf(':') + 1));
	return seq(b) - seq(a);
}
