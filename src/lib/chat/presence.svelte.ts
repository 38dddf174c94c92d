/**
 * Who is present in each joined conversation (the online dots in the list and the header), read
 * from its members channel's presence state and shown for members only: a presence left behind by
 * someone removed is not shown. The channels (conversation-channels.ts) say when it changes.
 */
/* eslint-disable svelte/prefer-svelte-reactivity -- each Set is built here, then stored whole (replaced, never mutated). */
import type { RealtimeChannel } from '@supabase/supabase-js';

type Meta = Record<string, unknown>;

export class Presence {
	/** User ids present per conversation (me included); a Set is replaced, never mutated. */
	byConversation = $state<Record<string, Set<string>>>({});

	/** The channel's presence state changed; `members` are the conversation's, when known. */
	update(conversationId: string, channel: RealtimeChannel, members: ReadonlySet<string> | null): void {
		const state = channel.presenceState() as Record<string, Meta[]>;
		const users = new Set<string>();
		for (const [key, metas] of Object.entries(state)) {
			users.add(key);
			for (const meta of metas ?? []) if (typeof meta.user_id === 'string') users.add(meta.user_id);
		}
		this.#show(conversationId, users, members);
	}

	/** The members changed: whoever is no longer one stops showing at once. */
	keepMembers(conversationId: string, members: ReadonlySet<string>): void {
		const present = this.byConversation[conversationId];
		if (present && [...present].some((u) => !members.has(u))) this.#show(conversationId, present, members);
	}

	#show(conversationId: string, users: ReadonlySet<string>, members: ReadonlySet<string> | null) {
		this.byConversation[conversationId] = new Set(members ? [...users].filter((u) => members.has(u)) : users);
	}

	/** The conversation's channel was left: nobody shows. */
	left(conversationId: string): void {
		delete this.byConversation[conversationId];
	}

	reset(): void {
		this.byConversation = {};
	}
}
