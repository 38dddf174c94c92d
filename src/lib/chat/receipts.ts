/**
 * Delivery and read receipts on their way to the database: gathered per conversation for a short
 * while, then one `mark_read` / `mark_delivered` each (reading implies delivery, so one call often
 * covers both). Watermarks only move forward; what the server already has is not sent again; an
 * offline failure keeps the receipts for the reconnect, a refusal drops them.
 */
import { markDelivered, markRead, type RpcClient } from '../rpc.ts';
import { isNetworkError } from './errors.ts';
import type { ConversationView, ParticipantView } from './types.ts';

export type ReceiptKind = 'delivered' | 'read';

export interface ReceiptDeps {
	/** The signed-in client, for `mark_read` and `mark_delivered` (which throw a ChatError). */
	client(): RpcClient;
	/** False while signed out: nothing is sent. */
	started(): boolean;
	/** My participant row in a conversation, whose watermarks the flush advances. */
	mine(conversationId: string): ParticipantView | undefined;
	delayMs: number;
}

export class Receipts {
	#deps: ReceiptDeps;
	#pending = new Map<string, { delivered: number; read: number }>();
	#timer: ReturnType<typeof setTimeout> | null = null;

	constructor(deps: ReceiptDeps) {
		this.#deps = deps;
	}

	/** Notes that messages up to `seq` were delivered to (or read on) this device. */
	queue(conversationId: string, kind: ReceiptKind, seq: number): void {
		const r = this.#pending.get(conversationId) ?? { delivered: 0, read: 0 };
		r[kind] = Math.max(r[kind], seq);
		this.#pending.set(conversationId, r);
		this.schedule();
	}

	/**
	 * A message received on any path advances my delivered watermark: the list tells me about
	 * messages newer than it (mine do not count, so a list whose newest message is my own and has
	 * nothing unread costs no call). Reading stays with `markSeen`.
	 */
	listed(views: readonly ConversationView[], me: string): void {
		for (const v of views) {
			const last = v.last_message;
			if (!last) continue;
			const mine = this.#deps.mine(v.id);
			if (!mine || v.last_seq <= mine.last_delivered_seq) continue;
			if (last.sender_id === me && v.unread_count === 0) continue;
			this.queue(v.id, 'delivered', Math.max(v.last_seq, last.seq));
		}
	}

	/** Starts the gathering timer if anything waits (after a reconnect too). */
	schedule(): void {
		if (this.#timer || this.#pending.size === 0) return;
		this.#timer = setTimeout(() => {
			this.#timer = null;
			void this.flush();
		}, this.#deps.delayMs);
	}

	/** Sends the gathered receipts now (one call per conversation and kind). */
	async flush(): Promise<void> {
		const batch = [...this.#pending];
		this.#pending.clear();
		if (!this.#deps.started()) return;
		for (const [conversationId, r] of batch) {
			const mine = this.#deps.mine(conversationId);
			const read = r.read > (mine?.last_read_seq ?? 0) ? r.read : 0;
			const delivered = r.delivered > Math.max(mine?.last_delivered_seq ?? 0, read) ? r.delivered : 0;
			try {
				if (read) await markRead(this.#deps.client(), { conversation_id: conversationId, up_to_seq: read });
				if (delivered)
					await markDelivered(this.#deps.client(), { conversation_id: conversationId, up_to_seq: delivered });
				if (mine) {
					mine.last_read_seq = Math.max(mine.last_read_seq, read);
					mine.last_delivered_seq = Math.max(mine.last_delivered_seq, read, delivered);
				}
			} catch (err) {
				// Offline: keep them for the reconnect; refused (e.g. removed meanwhile): drop them.
				if (isNetworkError(err)) {
					const again = this.#pending.get(conversationId) ?? { delivered: 0, read: 0 };
					again.read = Math.max(again.read, r.read);
					again.delivered = Math.max(again.delivered, r.delivered);
					this.#pending.set(conversationId, again);
				}
			}
		}
	}

	/** Forgets everything (sign-out). */
	reset(): void {
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = null;
		this.#pending.clear();
	}
}
