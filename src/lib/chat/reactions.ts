/**
 * Reactions per message: loaded with each page, changed live by `reaction_changed`, and mine
 * shown as soon as they are sealed (undone if the server refuses).
 *
 * The server holds reactions sealed (crypto/reactions.ts): a row counts here only once its emoji
 * opens under its epoch's key, its tag is the one that emoji gives on that message, and its
 * signature is its sender's. Anything else is dropped for good, so a member (or the server) cannot
 * make an emoji show as someone else's, nor count one twice under different tags. A row that
 * cannot be opened yet (this device lacks the epoch's key, or the sender's keys could not be
 * fetched) is kept and tried again when the message opens (`retry`). Mine are sealed, tagged and
 * signed here; taking one back names its tag, computed again from the emoji.
 *
 * This module owns the rows; the store shows their aggregate on the message they belong to.
 */
import {
	isReactionEmoji,
	openEmoji,
	reactionKeys,
	reactionSignedBytes,
	reactionTag,
	sealEmoji,
	type ReactionFields
} from '../crypto/reactions.ts';
import type { SignatureCheck } from '../crypto/signing.ts';
import { addReaction, getReactions, removeReaction, type RpcClient } from '../rpc.ts';
import { aggregateReactions } from './derive.ts';
import { ChatError } from './errors.ts';
import type { OpenedReaction, ReactionRow, ReactionView } from './types.ts';

/** A reaction as the database says it changed (`reaction_changed`). */
export interface ReactionChange extends ReactionRow {
	op: 'added' | 'removed';
}

export interface ReactionDeps {
	/** The signed-in client, for `get_reactions`, `add_reaction` and `remove_reaction`. */
	client(): RpcClient;
	me(): string;
	/** A conversation key of one epoch if this device holds it (never makes one). */
	key(conversationId: string, epoch: number): Promise<Uint8Array | null>;
	/** Whether `signature` over `bytes` is by `userId` (their published signing keys). */
	verify(userId: string, bytes: Uint8Array, signature: string): Promise<SignatureCheck>;
	/** Signs `bytes` with my identity. */
	sign(bytes: Uint8Array): Promise<string>;
	/** A loaded message's conversation and the epoch its content was sealed under (null: none). */
	message(messageId: string): { conversation_id: string; epoch: number | null } | undefined;
	/** A message's reactions changed: show them (if the message is loaded). */
	show(messageId: string, reactions: ReactionView[]): void;
}

/** A row as held here: with the conversation it belongs to and what identifies its content. */
type Held = ReactionRow & { conversation_id: string; fingerprint: string };

function held(row: ReactionRow, conversationId: string): Held {
	const { message_id, user_id, tag, emoji_sealed, nonce, epoch, sig, created_at } = row;
	// Every field the checks read: a verdict on one row must never be reused for another.
	const fingerprint = JSON.stringify([
		conversationId,
		message_id,
		user_id,
		tag,
		emoji_sealed,
		nonce,
		epoch,
		sig
	]);
	return {
		message_id,
		user_id,
		tag,
		emoji_sealed,
		nonce,
		epoch,
		sig,
		created_at,
		conversation_id: conversationId,
		fingerprint
	};
}

function signedFieldsOf(row: Held): ReactionFields {
	return {
		conversationId: row.conversation_id,
		epoch: row.epoch,
		messageId: row.message_id,
		senderId: row.user_id,
		tag: row.tag,
		emojiSealed: row.emoji_sealed,
		nonce: row.nonce
	};
}

export class Reactions {
	#deps: ReactionDeps;
	#rows = new Map<string, Held[]>();
	/** The emoji of each row that held up, by fingerprint; null for a row refused for good. */
	#opened = new Map<string, string | null>();
	#opening = new Map<string, Promise<void>>();

	constructor(deps: ReactionDeps) {
		this.#deps = deps;
	}

	/** The aggregate of a message's reactions that held up, as I see them. */
	of(messageId: string): ReactionView[] {
		const opened: OpenedReaction[] = [];
		for (const r of this.#rows.get(messageId) ?? []) {
			const emoji = this.#opened.get(r.fingerprint);
			if (emoji) opened.push({ message_id: r.message_id, user_id: r.user_id, tag: r.tag, emoji });
		}
		return aggregateReactions(opened, this.#deps.me());
	}

	/** Loads the reactions of these messages (a page that just arrived). */
	async load(messageIds: string[]): Promise<void> {
		if (messageIds.length === 0) return;
		const rows = (await getReactions(this.#deps.client(), { message_ids: messageIds })) ?? [];
		const byMessage = new Map<string, Held[]>(messageIds.map((id) => [id, []]));
		for (const r of rows) byMessage.get(r.message_id)?.push(held(r, r.conversation_id));
		for (const [id, list] of byMessage) {
			list.sort((a, b) => (a.created_at ?? '').localeCompare(b.created_at ?? ''));
			this.#rows.set(id, list);
		}
		await Promise.all([...byMessage.values()].flat().map((r) => this.#open(r)));
		for (const id of byMessage.keys()) this.#show(id);
	}

	/** Applies one change told on a conversation's topic; repeating it changes nothing. */
	async apply(conversationId: string, change: ReactionChange): Promise<void> {
		const row = held(change, conversationId);
		const at = this.#find(row.message_id, row.user_id, row.tag);
		if (change.op === 'removed') {
			if (at >= 0) this.#list(row.message_id).splice(at, 1);
			this.#show(row.message_id);
			return;
		}
		// Known already: a repeat, or my own reaction told back to me.
		if (at >= 0) return;
		this.#list(row.message_id).push(row);
		await this.#open(row);
		this.#show(row.message_id);
	}

	/** Tries again the rows of a message that could not be opened yet (its key has turned up). */
	async retry(messageId: string): Promise<void> {
		const waiting = (this.#rows.get(messageId) ?? []).filter((r) => !this.#opened.has(r.fingerprint));
		if (waiting.length === 0) return;
		await Promise.all(waiting.map((r) => this.#open(r)));
		this.#show(messageId);
	}

	/** Adds (`added`) or takes back (`removed`) my reaction: shown at once, undone if refused. */
	async mine(messageId: string, emoji: string, op: 'added' | 'removed'): Promise<void> {
		const me = this.#deps.me();
		if (!isReactionEmoji(emoji))
			throw new ChatError('A reaction is one emoji (up to 16 characters, no spaces).', 400, 'invalid_emoji');
		const target = this.#deps.message(messageId);
		const key =
			target && target.epoch !== null ? await this.#deps.key(target.conversation_id, target.epoch) : null;
		if (!target || target.epoch === null || !key)
			throw new ChatError(
				'This device cannot read that message, so it cannot react to it',
				0,
				'no_conversation_key'
			);
		const { conversation_id: conversationId, epoch } = target;
		const keys = await reactionKeys(key);
		const tag = await reactionTag(keys, messageId, emoji);

		if (op === 'removed') {
			const at = this.#find(messageId, me, tag);
			const [removed] = at >= 0 ? this.#list(messageId).splice(at, 1) : [];
			this.#show(messageId);
			try {
				await removeReaction(this.#deps.client(), { message_id: messageId, tag });
			} catch (err) {
				if (removed && this.#find(messageId, me, tag) < 0) {
					this.#list(messageId).push(removed);
					this.#show(messageId);
				}
				throw err;
			}
			return;
		}

		if (this.#find(messageId, me, tag) >= 0) return;
		const { emoji_sealed, nonce } = sealEmoji(keys, emoji);
		const fields = { conversationId, epoch, messageId, senderId: me, tag, emojiSealed: emoji_sealed, nonce };
		const sig = await this.#deps.sign(reactionSignedBytes(fields));
		const row = held(
			{ message_id: messageId, user_id: me, tag, emoji_sealed, nonce, epoch, sig },
			conversationId
		);
		// Made here: nothing to check.
		this.#opened.set(row.fingerprint, emoji);
		this.#list(messageId).push(row);
		this.#show(messageId);
		try {
			const stored = await addReaction(this.#deps.client(), {
				message_id: messageId,
				tag,
				emoji_sealed,
				nonce,
				epoch,
				sig
			});
			// Another device of mine reacted so first: the row the database kept is the one that counts.
			if (stored && stored.user_id === me && stored.tag === tag) {
				const kept = held(stored, conversationId);
				const list = this.#list(messageId);
				const at = list.indexOf(row);
				if (kept.fingerprint !== row.fingerprint && at >= 0) {
					list[at] = kept;
					await this.#open(kept);
					this.#show(messageId);
				}
			}
		} catch (err) {
			const list = this.#list(messageId);
			const at = list.indexOf(row);
			if (at >= 0) list.splice(at, 1);
			this.#show(messageId);
			throw err;
		}
	}

	reset(): void {
		this.#rows.clear();
		this.#opened.clear();
		this.#opening.clear();
	}

	#list(messageId: string): Held[] {
		let list = this.#rows.get(messageId);
		if (!list) {
			list = [];
			this.#rows.set(messageId, list);
		}
		return list;
	}

	#find(messageId: string, userId: string, tag: string): number {
		return (this.#rows.get(messageId) ?? []).findIndex((r) => r.user_id === userId && r.tag === tag);
	}

	#show(messageId: string): void {
		this.#deps.show(messageId, this.of(messageId));
	}

	/** Opens and checks a row once (concurrent asks share the work). */
	#open(row: Held): Promise<void> {
		if (this.#opened.has(row.fingerprint)) return Promise.resolve();
		let running = this.#opening.get(row.fingerprint);
		if (!running) {
			running = this.#check(row)
				.then(
					(emoji) => {
						if (emoji !== undefined) this.#opened.set(row.fingerprint, emoji);
					},
					// Could not tell (a failed fetch of the sender's keys): tried again on `retry`.
					() => undefined
				)
				.finally(() => this.#opening.delete(row.fingerprint));
			this.#opening.set(row.fingerprint, running);
		}
		return running;
	}

	/**
	 * A row's emoji when it holds up; null when it never will (does not open, is no emoji, a tag that
	 * does not fit, a signature not its sender's); undefined while this device lacks the key.
	 */
	async #check(row: Held): Promise<string | null | undefined> {
		const key = await this.#deps.key(row.conversation_id, row.epoch).catch(() => null);
		if (!key) return undefined;
		const keys = await reactionKeys(key);
		const emoji = openEmoji(keys, row.emoji_sealed, row.nonce);
		if (emoji === null) return null;
		if ((await reactionTag(keys, row.message_id, emoji)) !== row.tag) return null;
		const signed = await this.#deps.verify(row.user_id, reactionSignedBytes(signedFieldsOf(row)), row.sig);
		return signed === 'verified' ? emoji : null;
	}
}
