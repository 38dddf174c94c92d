/**
 * The on-device search index of decrypted messages (the server only ever holds ciphertext, so
 * search can only happen here): a MiniSearch full-text index over each message's text, beside the
 * messages themselves grouped in chunks (a conversation's run of `CHUNK_SEQS` seqs) so that saving
 * rewrites only the chunks that changed (sealed-store.ts seals and stores them).
 *
 * Queries match words by prefix (as you type) and, for longer words, fuzzily (one typo in four
 * letters, at most two), every word of the query must match, and the hits come newest first:
 * those where every query word is a word or the start of one before those that only match with a
 * typo. Because of that order, a query of common words ("the", "ok", a two-letter prefix while
 * typing) is answered by reading the newest messages until enough match, which is far cheaper
 * than scoring the tens of thousands of messages the inverted index would hand back; rarer words
 * go to MiniSearch. Pure TypeScript (no runes), so the benchmark runs it in Node.
 */
import MiniSearch, { type SearchResult } from 'minisearch';
import { fold, matches, queryTerms, termOf, words } from './text.ts';

/** A message as the index keeps it (short keys: a device may hold 100,000 of them). */
export interface IndexedMessage {
	id: string;
	/** Conversation id. */
	c: string;
	/** Seq in its conversation. */
	s: number;
	/** Sender's user id. */
	u: string;
	/** Sent at, milliseconds since the epoch. */
	t: number;
	/** The searchable text: the message, or an attachment's name and caption. */
	x: string;
	/** The message type when it is not plain text. */
	k?: 'image' | 'file' | 'voice';
}

export interface SearchHit {
	message: IndexedMessage;
	/** The message's own terms that matched (normalized, see text.ts): what a snippet marks. */
	terms: string[];
	/** Every query word matched as a word or the start of one (no typo needed). */
	exact: boolean;
	score: number;
}

export interface SearchOptions {
	/** Only this conversation's messages. */
	conversationId?: string;
	/** At most this many hits (default 50). */
	limit?: number;
}

/** Seqs per stored chunk: a new message rewrites one chunk of at most this many messages. */
export const CHUNK_SEQS = 256;

/** The chunk a message is stored in: its conversation and its run of seqs. */
export function chunkKeyOf(message: Pick<IndexedMessage, 'c' | 's'>): string {
	return `${message.c}:${Math.floor(message.s / CHUNK_SEQS)}`;
}

/** How many of the newest messages a query reads before it asks the inverted index instead. */
export const SCAN_BUDGET = 3000;

/** The same message, as far as the index is concerned. */
function same(a: IndexedMessage, b: IndexedMessage): boolean {
	return a.x === b.x && a.c === b.c && a.s === b.s && a.u === b.u && a.t === b.t && a.k === b.k;
}

export class MessageIndex {
	#mini = MessageIndex.#engine();
	#docs = new Map<string, IndexedMessage>();
	#chunks = new Map<string, Map<string, IndexedMessage>>();
	#dirty = new Set<string>();
	/** Each conversation's messages by ascending seq: the newest-first reading of common queries. */
	#bySeq = new Map<string, IndexedMessage[]>();

	static #engine(): MiniSearch<IndexedMessage> {
		return new MiniSearch<IndexedMessage>({
			fields: ['x'],
			idField: 'id',
			tokenize: words,
			processTerm: termOf,
			searchOptions: {
				combineWith: 'AND',
				// A one-letter prefix would match most of the index while it says nothing yet.
				prefix: (term) => term.length >= 2,
				fuzzy: (term) => (term.length >= 4 ? 0.25 : false),
				maxFuzzy: 2
			}
		});
	}

	/** How many messages are indexed. */
	get size(): number {
		return this.#docs.size;
	}

	get(id: string): IndexedMessage | undefined {
		return this.#docs.get(id);
	}

	has(id: string): boolean {
		return this.#docs.has(id);
	}

	/** Adds a message, or replaces its text (an edit); false when nothing changed. */
	put(message: IndexedMessage): boolean {
		const known = this.#docs.get(message.id);
		if (known && same(known, message)) return false;
		if (known) this.#drop(known);
		this.#mini.add(message);
		this.#docs.set(message.id, message);
		const key = chunkKeyOf(message);
		let chunk = this.#chunks.get(key);
		if (!chunk) this.#chunks.set(key, (chunk = new Map()));
		chunk.set(message.id, message);
		this.#dirty.add(key);
		this.#place(message);
		return true;
	}

	/** Puts a message in its conversation's seq order. */
	#place(message: IndexedMessage): void {
		let list = this.#bySeq.get(message.c);
		if (!list) this.#bySeq.set(message.c, (list = []));
		// New messages come last, backfilled history first: both ends are the cheap cases.
		if (list.length === 0 || list[list.length - 1].s < message.s) list.push(message);
		else list.splice(lowerBound(list, message.s), 0, message);
	}

	#unplace(message: IndexedMessage): void {
		const list = this.#bySeq.get(message.c);
		if (!list) return;
		for (let i = lowerBound(list, message.s); i < list.length && list[i].s === message.s; i++) {
			if (list[i].id !== message.id) continue;
			list.splice(i, 1);
			break;
		}
		if (list.length === 0) this.#bySeq.delete(message.c);
	}

	/** Removes a message (deleted, or no longer mine to read); false when it was not indexed. */
	remove(id: string): boolean {
		const known = this.#docs.get(id);
		if (!known) return false;
		this.#drop(known);
		return true;
	}

	/** Removes every message of a conversation (I left it). */
	removeConversation(conversationId: string): number {
		const prefix = `${conversationId}:`;
		let removed = 0;
		for (const [key, chunk] of [...this.#chunks]) {
			if (!key.startsWith(prefix)) continue;
			removed += chunk.size;
			for (const message of [...chunk.values()]) this.#drop(message);
		}
		return removed;
	}

	#drop(message: IndexedMessage): void {
		// `remove` with the indexed document takes its terms out at once (no vacuuming later).
		this.#mini.remove(message);
		this.#docs.delete(message.id);
		const key = chunkKeyOf(message);
		const chunk = this.#chunks.get(key);
		chunk?.delete(message.id);
		if (chunk && chunk.size === 0) this.#chunks.delete(key);
		this.#dirty.add(key);
		this.#unplace(message);
	}

	/**
	 * Puts in a stored chunk's messages (loading the sealed index): they are not dirty, and a
	 * message already indexed (newer, from this session) is kept.
	 */
	load(messages: IndexedMessage[]): void {
		const fresh = messages.filter((m) => !this.#docs.has(m.id));
		this.#mini.addAll(fresh);
		const touched = new Set<IndexedMessage[]>();
		for (const m of fresh) {
			this.#docs.set(m.id, m);
			const key = chunkKeyOf(m);
			let chunk = this.#chunks.get(key);
			if (!chunk) this.#chunks.set(key, (chunk = new Map()));
			chunk.set(m.id, m);
			let list = this.#bySeq.get(m.c);
			if (!list) this.#bySeq.set(m.c, (list = []));
			list.push(m);
			touched.add(list);
		}
		for (const list of touched) list.sort((a, b) => a.s - b.s);
	}

	/**
	 * The chunks changed since the last call, each with its messages now (an empty list: the
	 * chunk is gone). Taken synchronously, so a save stores one consistent moment.
	 */
	takeDirty(): Map<string, IndexedMessage[]> {
		const out = new Map<string, IndexedMessage[]>();
		for (const key of this.#dirty) out.set(key, [...(this.#chunks.get(key)?.values() ?? [])]);
		this.#dirty.clear();
		return out;
	}

	/** Marks chunks dirty again (their save failed). */
	markDirty(keys: Iterable<string>): void {
		for (const key of keys) this.#dirty.add(key);
	}

	/** Every chunk key (for the benchmark's full save). */
	chunkKeys(): string[] {
		return [...this.#chunks.keys()];
	}

	get dirty(): boolean {
		return this.#dirty.size > 0;
	}

	/** Forgets everything (sign-out drops the index from memory; the sealed copy stays stored). */
	clear(): void {
		this.#mini = MessageIndex.#engine();
		this.#docs.clear();
		this.#chunks.clear();
		this.#dirty.clear();
		this.#bySeq.clear();
	}

	/** The messages matching `query`, newest first (exact and prefix matches before typo matches). */
	search(query: string, options: SearchOptions = {}): SearchHit[] {
		const limit = options.limit ?? 50;
		const terms = queryTerms(query);
		if (terms.length === 0 || limit <= 0) return [];
		return (
			this.#scan(terms, options.conversationId, limit) ?? this.#lookUp(terms, options.conversationId, limit)
		);
	}

	/**
	 * Reads the newest messages (of one conversation, or of all of them merged by time) and keeps
	 * those every query term matches exactly or as a prefix. Once `limit` are found they are the
	 * answer: any other exact match is older, and typo matches rank below exact ones. Null when the
	 * budget ran out first (or everything was read: typo matches may still exist).
	 */
	#scan(terms: string[], conversationId: string | undefined, limit: number): SearchHit[] | null {
		const tests = terms.map(wordTest);
		const hits: SearchHit[] = [];
		let read = 0;
		const lists = conversationId ? [this.#bySeq.get(conversationId) ?? []] : [...this.#bySeq.values()];
		for (const message of newestFirst(lists)) {
			if (++read > SCAN_BUDGET) return null;
			const text = fold(message.x);
			if (!tests.every((test) => test.test(text))) continue;
			const matched = [...new Set(words(message.x).map(termOf))].filter(
				(t): t is string => !!t && terms.some((q) => matches(q, t))
			);
			hits.push({ message, terms: matched, exact: true, score: 0 });
			if (hits.length >= limit) return hits;
		}
		return null;
	}

	/** Asks MiniSearch (prefix and fuzzy), then orders its hits: exact before typo, newest first. */
	#lookUp(terms: string[], conversationId: string | undefined, limit: number): SearchHit[] {
		const docs = this.#docs;
		const results = this.#mini.search(terms.join(' '), {
			// Scoring skips other conversations' messages instead of filtering them afterwards.
			boostDocument: conversationId ? (id: string) => (docs.get(id)?.c === conversationId ? 1 : 0) : undefined
		});
		const hits: SearchHit[] = [];
		for (const result of results) {
			const message = docs.get(result.id as string);
			if (!message) continue;
			hits.push({ message, terms: result.terms, exact: exactMatch(result), score: result.score });
		}
		hits.sort(
			(a, b) =>
				Number(b.exact) - Number(a.exact) ||
				b.message.t - a.message.t ||
				b.message.s - a.message.s ||
				(a.message.id < b.message.id ? -1 : 1)
		);
		return hits.slice(0, limit);
	}
}

/** Whether every query word matched a word of the message, or the start of one. */
function exactMatch(result: SearchResult): boolean {
	return result.queryTerms.every((q) => result.terms.some((t) => matches(q, t)));
}

const WORD_CHAR = '[\\p{L}\\p{M}\\p{N}]';

/** A test for a query term at the start of a word of folded text (the whole word for one letter). */
function wordTest(term: string): RegExp {
	const escaped = term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
	return new RegExp(`(?<!${WORD_CHAR})${escaped}${term.length < 2 ? `(?!${WORD_CHAR})` : ''}`, 'u');
}

/** The first index whose seq is not below `seq`. */
function lowerBound(list: IndexedMessage[], seq: number): number {
	let lo = 0;
	let hi = list.length;
	while (lo < hi) {
		const mid = (lo + hi) >> 1;
		if (list[mid].s < seq) lo = mid + 1;
		else hi = mid;
	}
	return lo;
}

/** Newer first: by time, then seq. */
function newer(a: IndexedMessage, b: IndexedMessage): boolean {
	return a.t > b.t || (a.t === b.t && a.s > b.s);
}

/** Merges conversations' seq-ordered lists into one newest-first reading (a heap of cursors). */
function* newestFirst(lists: IndexedMessage[][]): Generator<IndexedMessage> {
	if (lists.length === 1) {
		const list = lists[0];
		for (let i = list.length - 1; i >= 0; i--) yield list[i];
		return;
	}
	// Cursors: each list's next (newest unread) index; the heap's top holds the newest message.
	const heap: { list: IndexedMessage[]; at: number }[] = [];
	const top = (i: number) => heap[i].list[heap[i].at];
	const up = (i: number) => {
		while (i > 0) {
			const parent = (i - 1) >> 1;
			if (!newer(top(i), top(parent))) break;
			[heap[i], heap[parent]] = [heap[parent], heap[i]];
			i = parent;
		}
	};
	const down = (i: number) => {
		for (;;) {
			const l = 2 * i + 1;
			const r = l + 1;
			let best = i;
			if (l < heap.length && newer(top(l), top(best))) best = l;
			if (r < heap.length && newer(top(r), top(best))) best = r;
			if (best === i) return;
			[heap[i], heap[best]] = [heap[best], heap[i]];
			i = best;
		}
	};
	for (const list of lists) {
		if (list.length === 0) continue;
		heap.push({ list, at: list.length - 1 });
		up(heap.length - 1);
	}
	while (heap.length) {
		const cursor = heap[0];
		yield cursor.list[cursor.at];
		cursor.at--;
		if (cursor.at < 0) {
			const last = heap.pop()!;
			if (heap.length === 0) return;
			heap[0] = last;
		}
		down(0);
	}
}
