/**
 * Test fixtures shared by the parts' unit tests: stored message rows sealed under a test key, as
 * `get_messages` returns them after normalizing.
 */
import { sealText } from '../crypto/e2ee.ts';
import type { MessageRow } from './types.ts';

/** A row of conversation `c1` from bob, its text sealed under `key` at epoch 1. */
export function sealedRow(
	key: Uint8Array,
	seq: number,
	text: string,
	over: Partial<MessageRow> = {}
): MessageRow {
	const sealed = sealText(key, text);
	return {
		id: `m${seq}`,
		conversation_id: 'c1',
		sender_id: 'bob',
		seq,
		content_encrypted: sealed.ciphertext,
		message_type: 'text',
		attachment: null,
		encryption: { epoch: 1, nonce: sealed.nonce },
		reply_to_id: null,
		client_id: null,
		created_at: '2026-01-01T00:00:00Z',
		edited_at: null,
		deleted_at: null,
		mentions: [],
		...over
	};
}
