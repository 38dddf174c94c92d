/**
 * Key requests between members (docs/chat-api.md, `key_request`): a device that cannot open
 * messages of the current epoch (or, in a group whose history rule is `shared`, of an earlier
 * one) asks the conversation's members, at most every few seconds; a member who holds the key
 * answers by wrapping it for whoever lacks it, once for several asks that arrive together.
 * Sending the ask and sharing the key are the caller's.
 */
import { keyMayArrive } from './history-rule.ts';
import type { HistoryVisibility, MessageView } from './types.ts';

/** How often a device asks a conversation for a key it lacks, and how long a holder batches asks. */
export const KEY_REQUEST_INTERVAL_MS = 5000;
export const KEY_SHARE_DELAY_MS = 200;

export interface KeyRequestDeps {
	/** Broadcasts `key_request` for `epoch` on the conversation's members topic; false when not joined. */
	ask(conversationId: string, epoch: number): boolean;
	/** Wraps the current key for the members who lack it (`members_missing_key` + publish). */
	share(conversationId: string): Promise<unknown>;
	/** This device holds its identity (it can neither ask nor share without). */
	ready(): boolean;
	/** The conversation's current key epoch, if known. */
	epochOf(conversationId: string): number | undefined;
	/** The conversation's history rule, if known (`joined` when not given: only the current epoch is asked for). */
	rule?(conversationId: string): HistoryVisibility | undefined;
}

export class KeyRequests {
	#deps: KeyRequestDeps;
	#askedAt = new Map<string, number>();
	#sharing = new Map<string, ReturnType<typeof setTimeout>>();

	constructor(deps: KeyRequestDeps) {
		this.#deps = deps;
	}

	/** Asks for the key of `epoch`, unless I asked for this conversation a moment ago. */
	ask(conversationId: string, epoch: number, now = Date.now()): void {
		if (now - (this.#askedAt.get(conversationId) ?? 0) < KEY_REQUEST_INTERVAL_MS) return;
		if (this.#deps.ask(conversationId, epoch)) this.#askedAt.set(conversationId, now);
	}

	/**
	 * Asks for a key of each conversation where one of `messages` does not open and its key can
	 * still come: the current epoch's, and under the `shared` rule an earlier one's too. Never for
	 * a key the history rule keeps from me (history-rule.ts).
	 */
	askFor(messages: readonly (MessageView | undefined)[]): void {
		if (!this.#deps.ready()) return;
		for (const m of messages) {
			if (!m?.undecryptable || !m.encryption) continue;
			const current = this.#deps.epochOf(m.conversation_id);
			if (current === undefined || m.encryption.epoch > current) continue;
			const rule = this.#deps.rule?.(m.conversation_id);
			if (keyMayArrive(m.encryption.epoch, { key_epoch: current, history_visibility: rule }))
				this.ask(m.conversation_id, m.encryption.epoch);
		}
	}

	/** A `key_request` from the members channel: another member's is answered. */
	heard(conversationId: string, userId: unknown, me: string | null): void {
		if (userId !== me && this.#deps.ready()) this.asked(conversationId);
	}

	/** Keys I hold may be given now without an ask (the history rule became `shared`): share, batched as for asks. */
	offer(conversationId: string): void {
		if (this.#deps.ready()) this.asked(conversationId);
	}

	/** The key arrived: a later miss may ask again at once. */
	answered(conversationId: string): void {
		this.#askedAt.delete(conversationId);
	}

	/** Another member asked: share what they lack, once for every ask of the next moment. */
	asked(conversationId: string): void {
		if (this.#sharing.has(conversationId)) return;
		this.#sharing.set(
			conversationId,
			setTimeout(() => {
				this.#sharing.delete(conversationId);
				void this.#deps.share(conversationId).catch(() => undefined);
			}, KEY_SHARE_DELAY_MS)
		);
	}

	/** Forgets everything and cancels pending shares (sign-out). */
	reset(): void {
		for (const t of this.#sharing.values()) clearTimeout(t);
		this.#sharing.clear();
		this.#askedAt.clear();
	}
}
