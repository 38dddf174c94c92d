/**
 * Sealed reactions made the way a member's device makes them (crypto/reactions.ts), for tests that
 * play other people reacting: sealed under an epoch key, tagged, and signed by the reactor's
 * identity (or, to play a forger, by someone else's).
 */
import { generateIdentity, toBase64 } from '#lib/crypto/e2ee.ts';
import { reactionKeys, reactionSignedBytes, reactionTag, sealEmoji } from '#lib/crypto/reactions.ts';
import { signBytes, signingKeyOf, type SigningKey } from '#lib/crypto/signing.ts';
import type { ReactionRow } from '../types.ts';

/** Someone who reacts: a user id and the signing key of an identity. */
export interface Reactor {
	userId: string;
	signing: SigningKey;
}

/** A reactor with a fresh identity. */
export async function reactor(userId: string): Promise<Reactor> {
	return { userId, signing: await signingKeyOf(generateIdentity().secretKey) };
}

/** Where a reaction goes: the message, its conversation and the epoch key it is sealed under. */
export interface ReactionTarget {
	conversationId: string;
	messageId: string;
	epoch: number;
	key: Uint8Array;
}

/**
 * A `message_reactions` row (with its conversation) of `who` reacting `emoji` to `at`, signed by
 * `signer` (default: `who` themselves).
 */
export async function sealedReaction(
	who: Reactor,
	at: ReactionTarget,
	emoji: string,
	signer: Reactor = who
): Promise<ReactionRow & { conversation_id: string }> {
	const keys = await reactionKeys(at.key);
	const tag = await reactionTag(keys, at.messageId, emoji);
	const { emoji_sealed, nonce } = sealEmoji(keys, emoji);
	const bytes = reactionSignedBytes({
		conversationId: at.conversationId,
		epoch: at.epoch,
		messageId: at.messageId,
		senderId: who.userId,
		tag,
		emojiSealed: emoji_sealed,
		nonce
	});
	return {
		message_id: at.messageId,
		user_id: who.userId,
		conversation_id: at.conversationId,
		tag,
		emoji_sealed,
		nonce,
		epoch: at.epoch,
		sig: toBase64(await signBytes(signer.signing, bytes))
	};
}
