/**
 * What every message of the open conversation shares, given by ChatWindow to MessageList and each
 * Message through Svelte context rather than props drilled through the list: who I am, the
 * conversation's kind and my role, the senders' names and profiles, and the actions on a message.
 * The getters read ChatWindow's state, so whoever reads them stays reactive.
 */
import { getContext, setContext } from 'svelte';
import type { MessageView, ParticipantView } from '#lib/chat/types.ts';

export interface MessageContext {
	readonly me: string;
	readonly isGroup: boolean;
	readonly myRole: string | null;
	sender(userId: string): ParticipantView | undefined;
	nameOf(userId: string): string;
	reply(message: MessageView): void;
	edit(message: MessageView): void;
	remove(message: MessageView): void;
	toggleReaction(message: MessageView, emoji: string, mine: boolean): void;
	retry(message: MessageView): void;
	discard(message: MessageView): void;
}

const KEY = Symbol('parley.message-context');

export function setMessageContext(context: MessageContext): MessageContext {
	return setContext(KEY, context);
}

export function getMessageContext(): MessageContext {
	const context = getContext<MessageContext | undefined>(KEY);
	if (!context) throw new Error('getMessageContext() needs setMessageContext() in ChatWindow');
	return context;
}

/** My own messages, and anyone's for admins and moderators (the database enforces the same). */
export function canDelete(context: MessageContext, message: MessageView): boolean {
	return message.sender_id === context.me || context.myRole === 'admin' || context.myRole === 'moderator';
}
