/**
 * Reactions per message: loaded with each page, changed live by `reaction_changed`, and mine
 * shown at once when I react (undone if the server refuses). This module owns the raw rows; the
 * store shows their aggregate (`aggregateReactions`) on the message it belongs to.
 */
import { addReaction, getReactions, removeReaction, type RpcClient } from '../rpc.ts';
import { aggregateReactions } from './derive.ts';
import type { ReactionRow, ReactionView } from './types.ts';

export interface ReactionChange {
	message_id: string;
	user_id: string;
	emoji: string;
	op: 'added' | 'removed';
}

export interface ReactionDeps {
	/** The signed-in client, for `get_reactions`, `add_reaction` and `remove_reaction`. */
	client(): RpcClient;
	me(): string;
	/** A message's reactions changed: show them (if the message is loaded). */
	show(messageId: string, reactions: ReactionView[]): void;
}

export class Reactions {
	#deps: ReactionDeps;
	#rows = new Map<string, ReactionRow[]>();

	constructor(deps: ReactionDeps) {
		this.#deps = deps;
	}

	/** The aggregate of a message's known reactions, as I see them. */
	of(messageId: string): ReactionView[] {
		return aggregateReactions(this.#rows.get(messageId) ?? [], this.#deps.me());
	}

	/** Loads the reactions of these messages (a page that just arrived). */
	async load(messageIds: string[]): Promise<void> {
		if (messageIds.length === 0) return;
		const rows: ReactionRow[] = (await getReactions(this.#deps.client(), { message_ids: messageIds })) ?? [];
		const byMessage = new Map<string, ReactionRow[]>(messageIds.map((id) => [id, []]));
		for (const r of rows) byMessage.get(r.message_id)?.push(r);
		for (const [id, list] of byMessage) {
			list.sort((a, b) => (a.created_at ?? '').localeCompare(b.created_at ?? ''));
			this.#rows.set(id, list);
			this.#deps.show(id, this.of(id));
		}
	}

	/** Applies one change (live, or my own optimistic one); repeating it changes nothing. */
	apply(change: ReactionChange): void {
		const list = this.#rows.get(change.message_id) ?? [];
		const at = list.findIndex((r) => r.user_id === change.user_id && r.emoji === change.emoji);
		if (change.op === 'added' && at < 0)
			list.push({ message_id: change.message_id, user_id: change.user_id, emoji: change.emoji });
		if (change.op === 'removed' && at >= 0) list.splice(at, 1);
		this.#rows.set(change.message_id, list);
		this.#deps.show(change.message_id, this.of(change.message_id));
	}

	/** Adds (`added`) or takes back (`removed`) my reaction: shown at once, undone if refused. */
	async mine(messageId: string, emoji: string, op: 'added' | 'removed'): Promise<void> {
		const user_id = this.#deps.me();
		this.apply({ message_id: messageId, user_id, emoji, op });
		try {
			const change = op === 'added' ? addReaction : removeReaction;
			await change(this.#deps.client(), { message_id: messageId, emoji });
		} catch (err) {
			this.apply({ message_id: messageId, user_id, emoji, op: op === 'added' ? 'removed' : 'added' });
			throw err;
		}
	}

	reset(): void {
		this.#rows.clear();
	}
}
