/**
 * A conversation's history as the device loads it: the newest page when it opens, older pages on
 * request (`hasMore` says whether any remain) and the catch-up after a (re)join or a reconnect,
 * which fetches with `get_messages(after_seq)` what the live channel may have missed (Broadcast
 * does not guarantee delivery). Each runs once per conversation at a time; the rows go to the
 * timeline and their reactions are loaded beside them.
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- the Maps hold running loads, not state; `hasMore` is the reactive part. */
import { getMessages, type RpcArgs, type RpcClient } from '../rpc.ts';
import { normalizeMessage } from './derive.ts';
import type { Reactions } from './reactions.ts';
import type { Timeline } from './timeline.svelte.ts';
import type { MessageRow } from './types.ts';

/** Which page of `get_messages`: the newest, before a seq, or after one. */
type Page = Omit<RpcArgs<'get_messages'>, 'conversation_id'>;

/** Rows per catch-up call; it repeats until a page comes back short. */
const CATCH_UP_PAGE = 100;

export interface HistoryDeps {
	/** The signed-in client, for `get_messages`. */
	client(): RpcClient;
	timeline: Timeline;
	reactions: Reactions;
	/** Messages per newest and older page. */
	pageSize: number;
	isOpen(conversationId: string): boolean;
	/** The conversation's running open, if any (a catch-up waits for its first page). */
	opening(conversationId: string): Promise<void> | undefined;
	/** Opens a conversation (loading older before anything is loaded). */
	open(conversationId: string): Promise<void>;
}

export class History {
	/** Whether older messages remain to load, per conversation. */
	hasMore = $state<Record<string, boolean>>({});

	#deps: HistoryDeps;
	#older = new Map<string, Promise<number>>();
	#catchingUp = new Map<string, Promise<void>>();

	constructor(deps: HistoryDeps) {
		this.#deps = deps;
	}

	async #page(conversationId: string, page: Page): Promise<MessageRow[]> {
		const rows = await getMessages(this.#deps.client(), { conversation_id: conversationId, ...page });
		const messages = (rows ?? []).map(normalizeMessage);
		await Promise.all([
			this.#deps.timeline.ingest(messages),
			this.#deps.reactions.load(messages.map((m) => m.id))
		]);
		return messages;
	}

	/** The newest page (opening a conversation). */
	async newest(conversationId: string): Promise<void> {
		const { pageSize } = this.#deps;
		const messages = await this.#page(conversationId, { page_size: pageSize });
		this.hasMore[conversationId] = messages.length >= pageSize;
	}

	/** Loads up to one more page of older messages; resolves with how many arrived. */
	older(conversationId: string): Promise<number> {
		const running = this.#older.get(conversationId);
		if (running) return running;
		const { timeline, pageSize } = this.#deps;
		const work = (async () => {
			const oldest = timeline.seqs(conversationId)[0];
			if (oldest === undefined) {
				await this.#deps.open(conversationId);
				return timeline.seqs(conversationId).length;
			}
			if (oldest <= 1) {
				this.hasMore[conversationId] = false;
				return 0;
			}
			const messages = await this.#page(conversationId, { before_seq: oldest, page_size: pageSize });
			this.hasMore[conversationId] = messages.length >= pageSize;
			return messages.length;
		})().finally(() => this.#older.delete(conversationId));
		this.#older.set(conversationId, work);
		return work;
	}

	/** Fetches what came after the newest contiguous message (after a (re)join or a reconnect). */
	catchUp(conversationId: string): Promise<void> {
		const running = this.#catchingUp.get(conversationId);
		if (running) return running;
		const { timeline, isOpen } = this.#deps;
		const work = (async () => {
			await this.#deps.opening(conversationId);
			// An open conversation with nothing loaded is empty (its first page has come): fetch from the start.
			let after = timeline.contiguousHigh(conversationId) ?? (isOpen(conversationId) ? 0 : undefined);
			if (after === undefined) return;
			for (;;) {
				const messages = await this.#page(conversationId, { after_seq: after, page_size: CATCH_UP_PAGE });
				if (messages.length < CATCH_UP_PAGE) break;
				after = Math.max(after, ...messages.map((m) => m.seq));
			}
		})().finally(() => this.#catchingUp.delete(conversationId));
		this.#catchingUp.set(conversationId, work);
		return work;
	}

	/** Forgets a conversation (I am out of it). */
	forget(conversationId: string): void {
		delete this.hasMore[conversationId];
	}

	/** Forgets everything (sign-out). */
	reset(): void {
		this.#older.clear();
		this.#catchingUp.clear();
		this.hasMore = {};
	}
}
