/**
 * Typing indicators: who else is typing in each conversation (reactive, shown in the timeline and
 * the list) and my own typing state, throttled and ended by a silence. This module owns the
 * timers and what a `typing` event carries; sending it and deciding who counts as a member is
 * the caller's.
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- the Maps hold timers, not state; `byConversation` is the reactive part. */
import type { ParticipantView, TypingUser } from './types.ts';

type Raw = Record<string, unknown>;

type Timer = ReturnType<typeof setTimeout>;

export interface TypingOptions {
	/** At most one `typing` event per this interval while typing continues. */
	throttleMs: number;
	/** Someone else's indicator disappears after this long without news. */
	timeoutMs: number;
	/** My own typing ends after this long without another keystroke. */
	idleMs: number;
}

export class Typing {
	/** Who else is typing, per conversation. */
	byConversation = $state<Record<string, TypingUser[]>>({});

	#options: TypingOptions;
	#remote = new Map<string, Timer>();
	#mine = new Map<string, { active: boolean; lastSent: number; idle: Timer | null }>();

	constructor(options: TypingOptions) {
		this.#options = options;
	}

	/**
	 * I am (or stopped) typing in a conversation: `send(isTyping)` runs when the others should be
	 * told (at the start, every `throttleMs` while it goes on, and once at the end).
	 */
	mine(conversationId: string, typing: boolean, send: (isTyping: boolean) => void): void {
		const state = this.#mine.get(conversationId) ?? { active: false, lastSent: 0, idle: null };
		this.#mine.set(conversationId, state);
		if (state.idle) clearTimeout(state.idle);
		state.idle = null;
		if (!typing) {
			if (state.active) {
				state.active = false;
				state.lastSent = 0;
				send(false);
			}
			return;
		}
		const now = Date.now();
		if (!state.active || now - state.lastSent >= this.#options.throttleMs) {
			state.active = true;
			state.lastSent = now;
			send(true);
		}
		state.idle = setTimeout(() => this.mine(conversationId, false, send), this.#options.idleMs);
	}

	/**
	 * A `typing` event from the members channel: shown for another member (`participant` finds
	 * them; undefined for someone who is not one), under their name as the list knows it.
	 */
	heard(
		conversationId: string,
		payload: Raw,
		me: string | null,
		participant: (userId: string) => ParticipantView | undefined | null
	): void {
		const userId = String(payload.user_id ?? '');
		if (!userId || userId === me) return;
		const p = participant(userId);
		if (p === undefined) return;
		if (!payload.is_typing) return this.stop(conversationId, userId);
		this.start(
			conversationId,
			userId,
			String(payload.display_name || p?.display_name || p?.username || 'Someone')
		);
	}

	/** Someone else types: shown until they stop, send a message, or go quiet for `timeoutMs`. */
	start(conversationId: string, userId: string, name: string): void {
		const list = this.byConversation[conversationId] ?? [];
		if (!list.some((t) => t.userId === userId))
			this.byConversation[conversationId] = [...list, { userId, name }];
		const key = `${conversationId}:${userId}`;
		const old = this.#remote.get(key);
		if (old) clearTimeout(old);
		this.#remote.set(
			key,
			setTimeout(() => this.stop(conversationId, userId), this.#options.timeoutMs)
		);
	}

	stop(conversationId: string, userId: string): void {
		const key = `${conversationId}:${userId}`;
		const t = this.#remote.get(key);
		if (t) clearTimeout(t);
		this.#remote.delete(key);
		const list = this.byConversation[conversationId];
		if (list?.some((x) => x.userId === userId)) {
			this.byConversation[conversationId] = list.filter((x) => x.userId !== userId);
		}
	}

	/** Drops whoever is not in `members` (removed, left) at once. */
	keepOnly(conversationId: string, members: ReadonlySet<string>): void {
		for (const t of this.byConversation[conversationId] ?? [])
			if (!members.has(t.userId)) this.stop(conversationId, t.userId);
	}

	/** Forgets a conversation's indicators (it was closed). */
	clear(conversationId: string): void {
		delete this.byConversation[conversationId];
		for (const [key, t] of this.#remote) {
			if (key.startsWith(`${conversationId}:`)) {
				clearTimeout(t);
				this.#remote.delete(key);
			}
		}
	}

	/** Stops every timer and forgets everything (sign-out). */
	reset(): void {
		for (const t of this.#remote.values()) clearTimeout(t);
		this.#remote.clear();
		for (const s of this.#mine.values()) if (s.idle) clearTimeout(s.idle);
		this.#mine.clear();
		this.byConversation = {};
	}
}
