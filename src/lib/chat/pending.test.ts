import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { ChatError } from './errors.ts';
import { Outbox } from './outbox.ts';
import { PendingMessages } from './pending.ts';
import { Sender } from './sender.ts';
import { Timeline } from './timeline.svelte.ts';
import type { ParticipantView } from './types.ts';

/** My pending messages over a real outbox and sender whose `send_message` can be refused. */
function setup() {
	const outbox = new Outbox('me', new IDBFactory());
	const timeline = new Timeline({
		me: () => 'me',
		verify: async () => 'verified',
		key: async () => null,
		participants: () => [{ user_id: 'me' }, { user_id: 'bob' }, { user_id: 'cleo' }] as ParticipantView[],
		reactions: () => [],
		applied: () => undefined,
		merged: () => undefined,
		opened: () => undefined
	});
	let refuse = false;
	const sent: string[] = [];
	const composed: string[] = [];
	const sender: Sender = new Sender({
		outbox: () => outbox,
		online: () => true,
		identity: () => true,
		view: (id) => timeline.messagesById[id],
		seal: async (_c, text) => ({
			content_encrypted: `sealed(${text})`,
			encryption: { epoch: 1, nonce: 'n', sig: 's' }
		}),
		epochOf: () => 1,
		open: async () => null,
		send: async (entry) => {
			if (refuse) throw new ChatError('Conversation not found', 404, 'conversation_not_found');
			sent.push(entry.client_id);
			return null;
		},
		stored: async () => undefined,
		failed: (id, error) => pending.failed(id, error)
	});
	const pending = new PendingMessages({
		me: () => 'me',
		outbox: () => outbox,
		timeline,
		sender,
		open: async (_c, _e, ciphertext) => /^sealed\((.*)\)$/.exec(ciphertext)?.[1] ?? null,
		composed: (id) => void composed.push(id)
	});
	const draft = (text: string) => ({
		conversationId: 'c1',
		text,
		type: 'text' as const,
		attachment: null,
		replyTo: null
	});
	return { outbox, timeline, pending, sent, composed, draft, refuse: (on: boolean) => (refuse = on) };
}

describe('PendingMessages', () => {
	it('shows a composed message at once, counting its recipients, and ends my typing', async () => {
		const t = setup();
		let seenBeforeQueue = false;
		const id = await t.pending.compose({
			...t.draft('hello'),
			beforeQueue: (clientId) => (seenBeforeQueue = t.timeline.messagesById[clientId]?.text === 'hello')
		});
		expect(seenBeforeQueue).toBe(true);
		expect(t.timeline.messagesOf('c1').map((m) => [m.id, m.status, m.recipients])).toEqual([
			[id, 'pending', 2]
		]);
		expect(t.composed).toEqual(['c1']);
		expect(t.sent).toEqual([id]);
	});

	it('marks a refused message failed, sends it again on retry, and discards it with its entry', async () => {
		const t = setup();
		t.refuse(true);
		const id = await t.pending.compose(t.draft('nope'));
		expect(t.timeline.messagesById[id]).toMatchObject({ status: 'failed', error: 'Conversation not found' });
		t.refuse(false);
		await t.pending.retry(id);
		expect(t.sent).toEqual([id]);
		const other = await t.pending.compose(t.draft('drop me'));
		await t.pending.discard(other);
		expect(t.timeline.messagesById[other]).toBeUndefined();
		expect(t.timeline.idsByConversation.c1).toEqual([id]);
		expect(await t.outbox.get(other)).toBeUndefined();
	});

	it('restores what an earlier session left in the outbox, opened and in order, once', async () => {
		const t = setup();
		const entry = (client_id: string, createdAt: number, failed = false) => ({
			client_id,
			conversation_id: 'c1',
			content_encrypted: `sealed(${client_id} text)`,
			encryption: { epoch: 1, nonce: 'n', sig: 's' },
			message_type: 'text' as const,
			reply_to_id: null,
			createdAt,
			attempts: 1,
			lastError: failed ? 'refused' : null,
			failed
		});
		await t.outbox.put(entry('b', 2, true));
		await t.outbox.put(entry('a', 1));
		await t.pending.restore();
		await t.pending.restore();
		expect(t.timeline.messagesOf('c1').map((m) => [m.id, m.text, m.status])).toEqual([
			['a', 'a text', 'pending'],
			['b', 'b text', 'failed']
		]);
	});
});
