/**
 * The live (Realtime) contract, named once: topics and event names, as the policies and triggers
 * in `supabase/migrations/20261202000100_live_channels.sql` define them (docs/live-channels.md).
 *
 * A conversation has two private topics per key epoch: the database's (events only triggers
 * write; no client may send there) and the members' (typing, key requests, presence). Both move
 * when the epoch bumps, so a removed member's open channels fall silent on hosted Supabase too.
 */

/** Database events for one conversation at one key epoch: participants receive, nobody sends. */
export function conversationTopic(conversationId: string, epoch: number): string {
	return `conversation:${conversationId}:${epoch}`;
}

/** Client events (typing, key requests) and presence among a conversation's members at one epoch. */
export function membersTopic(conversationId: string, epoch: number): string {
	return `members:${conversationId}:${epoch}`;
}

/** Database events for one user (inbox, membership, keys): only that user receives. */
export function userTopic(userId: string): string {
	return `user:${userId}`;
}

/** Events the database sends on a conversation topic. */
export const DB_EVENTS = {
	messageCreated: 'message_created',
	messageUpdated: 'message_updated',
	reactionChanged: 'reaction_changed',
	receiptUpdated: 'receipt_updated',
	participantsChanged: 'participants_changed',
	/** `{conversation_id, key_epoch}` on the old epoch's topic: move to the new one. */
	keyEpochChanged: 'key_epoch_changed',
	/** `{conversation_id, history_visibility}`: an admin changed the group's history rule. */
	historyVisibilityChanged: 'history_visibility_changed'
} as const;

/** Events the database sends on a user topic. */
export const USER_EVENTS = {
	inbox: 'inbox',
	conversationAdded: 'conversation_added',
	conversationRemoved: 'conversation_removed',
	keyAdded: 'key_added'
} as const;

/** Events members send each other on the members topic. */
export const MEMBER_EVENTS = {
	typing: 'typing',
	keyRequest: 'key_request'
} as const;
