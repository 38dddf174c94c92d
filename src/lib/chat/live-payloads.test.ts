import { describe, expect, it } from 'vitest';
import { DB_EVENTS, MEMBER_EVENTS, USER_EVENTS } from './live.ts';
import { LIVE_EVENTS, decodeLivePayload } from './live-payloads.ts';

const C = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const U = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const M = '9e8d7c6b-5a49-4382-9716-a5b4c3d2e1f0';

const message = {
	id: M,
	conversation_id: C,
	sender_id: U,
	seq: 3,
	content_encrypted: 'c2VhbGVk',
	message_type: 'text',
	attachment: null,
	encryption: { v: 1, epoch: 1, nonce: 'bm9uY2U=' },
	reply_to_id: null,
	client_id: null,
	created_at: '2026-12-02T07:59:47.123456+00:00',
	edited_at: null,
	deleted_at: null,
	mentions: [U]
};

const reaction = {
	message_id: M,
	user_id: U,
	tag: 'dGFn'.repeat(10) + 'dGE=',
	emoji_sealed: 'c2VhbGVk',
	nonce: 'bm9uY2U=',
	epoch: 1,
	sig: 'c2ln',
	op: 'added'
};

describe('live payload decoders', () => {
	it('has one decoder for each event the database sends, and none for client events', () => {
		expect(LIVE_EVENTS.toSorted()).toEqual(
			[...Object.values(DB_EVENTS), ...Object.values(USER_EVENTS)].toSorted()
		);
		for (const event of Object.values(MEMBER_EVENTS)) expect(LIVE_EVENTS).not.toContain(event);
	});

	it('answers a well-formed payload typed', () => {
		expect(decodeLivePayload(DB_EVENTS.messageCreated, message)).toEqual(message);
		const receipt = { conversation_id: C, user_id: U, last_delivered_seq: 0, last_read_seq: 0 };
		expect(decodeLivePayload(DB_EVENTS.receiptUpdated, receipt)).toEqual(receipt);
		expect(decodeLivePayload(DB_EVENTS.reactionChanged, reaction, { strict: true })).toEqual(reaction);
		expect(decodeLivePayload(USER_EVENTS.keyAdded, { conversation_id: C, epoch: 2 })).toEqual({
			conversation_id: C,
			epoch: 2
		});
	});

	it('reads a message without mentions (a database from before them) as mentioning nobody', () => {
		const { mentions: _mentions, ...older } = message;
		expect(decodeLivePayload(DB_EVENTS.messageCreated, older)).toEqual({ ...older, mentions: [] });
		expect(decodeLivePayload(DB_EVENTS.messageCreated, { ...message, mentions: ['not-a-uuid'] })).toBeNull();
	});

	it('answers null for a missing key, a wrong type or a value out of range', () => {
		const { seq: _seq, ...noSeq } = message;
		expect(decodeLivePayload(DB_EVENTS.messageCreated, noSeq)).toBeNull();
		expect(decodeLivePayload(DB_EVENTS.messageCreated, { ...message, seq: '3' })).toBeNull();
		expect(decodeLivePayload(DB_EVENTS.messageCreated, { ...message, seq: 0 })).toBeNull();
		expect(decodeLivePayload(DB_EVENTS.messageCreated, { ...message, message_type: 'script' })).toBeNull();
		expect(decodeLivePayload(DB_EVENTS.reactionChanged, { ...reaction, op: 'x' })).toBeNull();
		expect(decodeLivePayload(DB_EVENTS.reactionChanged, { ...reaction, tag: 'not base64!' })).toBeNull();
		// The plaintext shape of before: no tag, no sealed emoji.
		expect(
			decodeLivePayload(DB_EVENTS.reactionChanged, { message_id: M, user_id: U, emoji: '👍', op: 'added' })
		).toBeNull();
		expect(
			decodeLivePayload(DB_EVENTS.reactionChanged, { ...reaction, emoji: '👍' }, { strict: true })
		).toBeNull();
		expect(
			decodeLivePayload(USER_EVENTS.inbox, {
				conversation_id: 'not-a-uuid',
				seq: 1,
				sender_id: U,
				key_epoch: 1
			})
		).toBeNull();
		expect(decodeLivePayload(USER_EVENTS.conversationAdded, null)).toBeNull();
		expect(decodeLivePayload(USER_EVENTS.conversationAdded, 'x')).toBeNull();
	});

	it('drops unknown keys by default and refuses them when strict', () => {
		const extra = { conversation_id: C, key_epoch: 2, later: true };
		expect(decodeLivePayload(DB_EVENTS.keyEpochChanged, extra)).toEqual({ conversation_id: C, key_epoch: 2 });
		expect(decodeLivePayload(DB_EVENTS.keyEpochChanged, extra, { strict: true })).toBeNull();
		expect(
			decodeLivePayload(DB_EVENTS.keyEpochChanged, { conversation_id: C, key_epoch: 2 }, { strict: true })
		).toEqual({
			conversation_id: C,
			key_epoch: 2
		});
	});
});
