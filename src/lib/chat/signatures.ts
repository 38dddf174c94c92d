/**
 * Which fields of a message its signature covers, read from the two places a message exists: what
 * the sender seals (the context of a send or an edit) and a stored row a receiver checks. Keeping
 * both here means a sender and a receiver cannot disagree on what was signed.
 */
import type { SignedFields } from '../crypto/signing.ts';
import { attachmentRef } from './derive.ts';
import type { MessageRow } from './types.ts';

/** What a send or an edit tells the sealer about the message, beside its text. */
export interface SealContext {
	kind: SignedFields['kind'];
	clientId: string | null;
	messageType: string;
	replyToId: string | null;
	attachment: SignedFields['attachment'];
}

/** The signed fields of a stored row (an edited row was signed as an edit); null for tombstones. */
export function signedFieldsOfRow(row: MessageRow): SignedFields | null {
	if (!row.encryption || row.content_encrypted == null || row.deleted_at) return null;
	return {
		kind: row.edited_at ? 'edit' : 'message',
		conversationId: row.conversation_id,
		epoch: row.encryption.epoch,
		clientId: row.client_id,
		messageType: row.message_type,
		senderId: row.sender_id,
		replyToId: row.reply_to_id,
		nonce: row.encryption.nonce,
		ciphertext: row.content_encrypted,
		attachment: attachmentRef(row.attachment)
	};
}
