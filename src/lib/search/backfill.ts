/**
 * Indexing the history that is not on the device yet: page by page in the background (one
 * `get_messages` page at a time, a pause between pages), resumable (how far it got in each
 * conversation is `coverage`, stored sealed with the index), with its progress as counts.
 *
 * Per conversation, the seqs `bottom..top` have been fetched and indexed. The first page is the
 * newest; then new messages above `top` come first (every conversation, most recently active
 * first), then older pages below `bottom`, one page per conversation in turn, until `bottom` is 1.
 * Seqs are gap-free per conversation, so `last_seq` is how many messages there are to index.
 * Pure logic: where pages come from and what indexing them means are the caller's.
 */
import type { MessageRow } from '../chat/types.ts';
import type { Coverage } from './sealed-store.ts';

/** Which page of `get_messages`. */
export interface PageRequest {
	before_seq?: number;
	after_seq?: number;
	page_size: number;
}

export interface BackfillConversation {
	id: string;
	/** The conversation's newest seq (as the list knows it). */
	last_seq: number;
}

export interface BackfillDeps {
	/** The conversations to index, most recently active first. */
	conversations(): BackfillConversation[];
	/** One page of stored rows. */
	fetch(conversationId: string, page: PageRequest): Promise<MessageRow[]>;
	/** Decrypts and indexes rows (resolves once they are in the index). */
	index(rows: MessageRow[]): Promise<void>;
	/** Coverage moved (progress changed; the meta needs saving). */
	changed(): void;
	/** Whether to go on (signed in, online, this session). */
	canRun(): boolean;
	sleep(ms: number): Promise<void>;
	/** Rows per page (default 100, the server's maximum). */
	pageSize?: number;
	/** Pause between pages (default 400 ms): history is indexed without crowding out the app. */
	throttleMs?: number;
}

/** What the next step fetches. */
export interface Step {
	conversationId: string;
	kind: 'first' | 'newer' | 'older';
	page: PageRequest;
}

export interface Progress {
	indexed: number;
	total: number;
}

export class Backfill {
	/** Per conversation, the seqs fetched and indexed. */
	coverage: Record<string, Coverage>;

	#deps: BackfillDeps;
	#turn = 0;
	#running: Promise<void> | null = null;

	constructor(deps: BackfillDeps, coverage: Record<string, Coverage> = {}) {
		this.#deps = deps;
		this.coverage = { ...coverage };
	}

	get #pageSize(): number {
		return this.#deps.pageSize ?? 100;
	}

	/** How many of the listed conversations' messages are indexed (or were looked at), of how many. */
	progress(): Progress {
		let indexed = 0;
		let total = 0;
		for (const c of this.#deps.conversations()) {
			total += c.last_seq;
			const cov = this.coverage[c.id];
			if (cov) indexed += Math.max(0, Math.min(cov.top, c.last_seq) - cov.bottom + 1);
		}
		return { indexed: Math.min(indexed, total), total };
	}

	/** The next page to fetch, or null when every listed conversation is indexed. */
	next(): Step | null {
		const size = this.#pageSize;
		const conversations = this.#deps.conversations();
		for (const c of conversations) {
			const cov = this.coverage[c.id];
			if (!cov) {
				if (c.last_seq > 0) return { conversationId: c.id, kind: 'first', page: { page_size: size } };
				continue;
			}
			if (c.last_seq > cov.top)
				return { conversationId: c.id, kind: 'newer', page: { after_seq: cov.top, page_size: size } };
		}
		// Older history: one page per conversation in turn, so every one gets its recent past first.
		const older = conversations.filter((c) => (this.coverage[c.id]?.bottom ?? 1) > 1);
		if (older.length === 0) return null;
		const c = older[this.#turn++ % older.length];
		return {
			conversationId: c.id,
			kind: 'older',
			page: { before_seq: this.coverage[c.id].bottom, page_size: size }
		};
	}

	/** Fetches and indexes one page; false when there was nothing left to do. */
	async step(): Promise<boolean> {
		const step = this.next();
		if (!step) return false;
		const { conversationId, kind, page } = step;
		const lastSeq = this.#deps.conversations().find((c) => c.id === conversationId)?.last_seq ?? 0;
		const rows = await this.#deps.fetch(conversationId, page);
		await this.#deps.index(rows);
		const seqs = rows.map((r) => r.seq);
		const short = rows.length < page.page_size;
		const high = seqs.length ? Math.max(...seqs) : 0;
		const low = seqs.length ? Math.min(...seqs) : 0;
		const cov = this.coverage[conversationId];
		if (kind === 'first') {
			this.coverage[conversationId] = {
				top: short ? Math.max(high, lastSeq) : high,
				bottom: short || low <= 1 ? 1 : low
			};
		} else if (cov && kind === 'newer') {
			// A short page reached the end: nothing visible lies above it (as of `lastSeq`).
			cov.top = short ? Math.max(high, lastSeq, cov.top) : Math.max(high, cov.top);
		} else if (cov) {
			cov.bottom = short || low <= 1 ? 1 : Math.min(low, cov.bottom);
		}
		this.#deps.changed();
		return true;
	}

	/**
	 * Runs steps with a pause between them until nothing is left, `canRun` says stop or a page
	 * fails (the next `run` resumes from the coverage). One run at a time.
	 */
	run(): Promise<void> {
		if (this.#running) return this.#running;
		const work = (async () => {
			while (this.#deps.canRun()) {
				if (!(await this.step())) break;
				await this.#deps.sleep(this.#deps.throttleMs ?? 400);
			}
		})().finally(() => {
			this.#running = null;
		});
		this.#running = work;
		return work;
	}

	get running(): boolean {
		return this.#running !== null;
	}

	/** A message the timeline indexed right above the covered seqs extends them (no fetch needed). */
	noteSeq(conversationId: string, seq: number): void {
		const cov = this.coverage[conversationId];
		if (cov && seq === cov.top + 1) {
			cov.top = seq;
			this.#deps.changed();
		}
	}

	/** Forgets a conversation (I left it). */
	forget(conversationId: string): void {
		delete this.coverage[conversationId];
	}
}
