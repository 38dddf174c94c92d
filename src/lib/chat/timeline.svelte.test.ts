import { describe, expect, it } from 'vitest';
import { generateIdentity, newConversationKey } from '../crypto/e2ee.ts';
import { checkSignature, signFields, signingKeyOf } from '../crypto/signing.ts';
import { signedFieldsOfRow } from './signatures.ts';
import { sealedRow } from './test-rows.ts';
import { pendingMessageView } from './derive.ts';
import { Timeline } from './timeline.svelte.ts';
import type { MessageRow, ParticipantView } from './types.ts';

const key = newConversationKey();

function row(seq: number, text: string, over: Partial<MessageRow> = {}): MessageRow {
	return sealedRow(key, seq, text, over);
}

const bob = await signingKeyOf(generateIdentity().secretKey);
const cleo = await signingKeyOf(generateIdentity().secretKey);
const signingKeys: Record<string, string[]> = { bob: [bob.publicKey], cleo: [cleo.publicKey] };

/** A row as Bob's device sends it: sealed, then signed over its fields. */
async function signedRow(seq: number, text: string, over: Partial<MessageRow> = {}): Promise<MessageRow> {
	const r = row(seq, text, { sender_id: 'bob', client_id: `k${seq}`, ...over });
	const sig = await signFields(bob, signedFieldsOfRow(r)!);
	return { ...r, encryption: { ...r.encryption!, sig } };
}

function setup() {
	let haveKey = true;
	let decrypts = 0;
	const merged: string[][] = [];
	const opened: string[] = [];
	const participants: ParticipantView[] = [
		{ user_id: 'me', last_delivered_seq: 9, last_read_seq: 9 } as ParticipantView,
		{ user_id: 'bob', last_delivered_seq: 2, last_read_seq: 1 } as ParticipantView
	];
	const timeline = new Timeline({
		me: () => 'me',
		verify: async (r) => {
			const fields = signedFieldsOfRow(r);
			return fields ? checkSignature(fields, r.encryption?.sig, signingKeys[r.sender_id] ?? []) : 'unsigned';
		},
		key: async () => {
			decrypts++;
			return haveKey ? key : null;
		},
		participants: () => participants,
		reactions: () => [],
		applied: () => undefined,
		merged: (rows) => void merged.push(rows.map((r) => r.id)),
		opened: (m) => void opened.push(m.id)
	});
	return {
		timeline,
		merged,
		opened,
		decrypts: () => decrypts,
		loseKey: () => (haveKey = false),
		findKey: () => (haveKey = true)
	};
}

describe('Timeline', () => {
	it("checks each message's signature: Bob's verifies; unsigned, relabelled or altered ones do not", async () => {
		const t = setup();
		const good = await signedRow(1, 'from Bob');
		const relabelled = { ...(await signedRow(2, 'also from Bob')), sender_id: 'cleo' };
		const replyMoved = { ...(await signedRow(3, 'a reply')), reply_to_id: 'm1' };
		await t.timeline.ingest([good, relabelled, replyMoved, row(4, 'unsigned', { sender_id: 'bob' })]);
		expect(t.timeline.messagesOf('c1').map((m) => [m.text, m.signature])).toEqual([
			['from Bob', 'verified'],
			['also from Bob', 'invalid'],
			['a reply', 'invalid'],
			['unsigned', 'unsigned']
		]);
		// The server relabels a message it already delivered: the known view is checked again.
		await t.timeline.ingest([{ ...good, sender_id: 'cleo' }]);
		expect(t.timeline.messagesById.m1.signature).toBe('invalid');
	});

	it('orders by seq, replaces my pending copy by its row, and decrypts only what changed', async () => {
		const t = setup();
		const pending = pendingMessageView({
			clientId: 'k1',
			conversationId: 'c1',
			senderId: 'me',
			createdAt: 0,
			type: 'text',
			text: 'mine',
			replyTo: null
		});
		t.timeline.messagesById.k1 = pending;
		t.timeline.ids('c1').push('k1');
		await t.timeline.ingest([row(2, 'two'), row(1, 'one')]);
		expect(t.timeline.messagesOf('c1').map((m) => m.text)).toEqual(['one', 'two', 'mine']);
		await t.timeline.ingest([row(3, 'mine', { id: 'm3', sender_id: 'me', client_id: 'k1' })]);
		expect(t.timeline.messagesOf('c1').map((m) => [m.seq, m.text])).toEqual([
			[1, 'one'],
			[2, 'two'],
			[3, 'mine']
		]);
		const before = t.decrypts();
		await t.timeline.ingest([t.timeline.messagesById.m1 as MessageRow]);
		expect(t.decrypts()).toBe(before);
		expect(t.merged).toEqual([['m2', 'm1'], ['m3'], ['m1']]);
		// My message's status comes from Bob's watermarks: delivered up to 2, read up to 1.
		expect(t.timeline.messagesById.m3.status).toBe('sent');
		expect(t.timeline.contiguousHigh('c1')).toBe(3);
	});

	it('keeps a message it cannot open, and opens it (and its epoch-mates) once a key arrives', async () => {
		const t = setup();
		t.loseKey();
		await t.timeline.ingest([row(1, 'early'), row(2, 'also early')]);
		expect(t.timeline.messagesOf('c1').map((m) => m.undecryptable)).toEqual([true, true]);
		t.findKey();
		await t.timeline.ingest([row(3, 'the key is here')]);
		expect(t.timeline.messagesOf('c1').map((m) => m.text)).toEqual([
			'early',
			'also early',
			'the key is here'
		]);
		expect(t.opened.sort()).toEqual(['m1', 'm2']);
		await t.timeline.ingest([row(5, 'after a gap')]);
		expect(t.timeline.contiguousHigh('c1')).toBe(3);
		t.timeline.reset();
		expect(t.timeline.messagesOf('c1')).toEqual([]);
	});
});
