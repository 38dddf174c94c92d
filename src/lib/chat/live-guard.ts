/**
 * What a database event must agree with before the store applies it. The database topics refuse
 * client writes (docs/live-channels.md), so these checks are a second line: an event that names
 * another conversation, reuses a seq the device already holds for another message, rewrites who
 * sent a message, or comes from someone who is not a member is dropped, whoever managed to send it.
 */
import type { MessageRow } from './types.ts';

/** What the store already knows of a conversation, as the checks need it. */
export interface KnownConversation {
	conversationId: string;
	/** Current participants' user ids; null while they are not loaded (then membership is not checked). */
	members: ReadonlySet<string> | null;
	/** The stored message with this id, if loaded. */
	byId(id: string): Pick<MessageRow, 'seq' | 'sender_id' | 'conversation_id'> | undefined;
	/** The id of the stored message with this seq, if loaded. */
	idAtSeq(seq: number): string | undefined;
}

/** Why a row contradicts what the device holds (another conversation, another message's seq, another sender), or null. */
function contradiction(row: MessageRow, known: KnownConversation): string | null {
	if (row.conversation_id !== known.conversationId) return 'wrong conversation';
	const holder = known.idAtSeq(row.seq);
	if (holder !== undefined && holder !== row.id) return 'seq already held by another message';
	const same = known.byId(row.id);
	if (same && (same.seq !== row.seq || same.sender_id !== row.sender_id)) return 'rewrites a known message';
	return null;
}

/** Why a `message_created` row is refused, or null when it may be applied. */
export function refuseCreated(row: MessageRow, known: KnownConversation): string | null {
	if (!Number.isSafeInteger(row.seq) || row.seq < 1) return 'bad seq';
	const contradicts = contradiction(row, known);
	if (contradicts) return contradicts;
	if (known.members && !known.members.has(row.sender_id)) return 'sender is not a member';
	return null;
}

/**
 * Why a `message_updated` row is refused, or null. Its author may have left since (a moderator
 * deletes a removed member's message), so membership is not asked; it must match what is known.
 */
export function refuseUpdated(row: MessageRow, known: KnownConversation): string | null {
	return contradiction(row, known);
}

/** Events that name a user (reactions, receipts, typing, key requests): from a current member only. */
export function refuseMember(userId: unknown, known: Pick<KnownConversation, 'members'>): string | null {
	if (typeof userId !== 'string' || !userId) return 'no user';
	if (known.members && !known.members.has(userId)) return 'not a member';
	return null;
}
