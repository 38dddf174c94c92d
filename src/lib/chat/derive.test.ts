import { describe, expect, it } from 'vitest';
import {
	aggregateReactions,
	attachmentContent,
	attachmentKind,
	attachmentRef,
	conversationName,
	deriveStatus,
	normalizeMessage,
	normalizeParticipant,
	orderIds,
	pendingMessageView,
	previewText
} from './derive.ts';
import { formatBytes } from '../components/format.ts';

const p = (user_id: string, last_delivered_seq: number, last_read_seq: number) => ({
	user_id,
	last_delivered_seq,
	last_read_seq
});

describe('deriveStatus', () => {
	it('follows the recipient watermark in a direct chat', () => {
		expect(deriveStatus(5, 'me', [p('me', 9, 9), p('bob', 4, 3)]).status).toBe('sent');
		expect(deriveStatus(5, 'me', [p('me', 0, 0), p('bob', 5, 3)]).status).toBe('delivered');
		expect(deriveStatus(5, 'me', [p('me', 0, 0), p('bob', 7, 5)])).toEqual({
			status: 'read',
			readBy: 1,
			deliveredTo: 1,
			recipients: 1
		});
	});

	it('counts "read by N of M" in groups and needs everyone for read / delivered', () => {
		const group = [p('me', 0, 0), p('bob', 10, 10), p('carol', 10, 2), p('dave', 1, 1)];
		expect(deriveStatus(5, 'me', group)).toEqual({
			status: 'sent',
			readBy: 1,
			deliveredTo: 2,
			recipients: 3
		});
		group[3] = p('dave', 6, 1);
		expect(deriveStatus(5, 'me', group)).toEqual({
			status: 'delivered',
			readBy: 1,
			deliveredTo: 3,
			recipients: 3
		});
		group[2] = p('carol', 10, 8);
		group[3] = p('dave', 6, 6);
		expect(deriveStatus(5, 'me', group).status).toBe('read');
	});

	it('treats read as delivered even if the delivered watermark lags', () => {
		expect(deriveStatus(5, 'me', [p('bob', 0, 5)]).status).toBe('read');
		expect(deriveStatus(5, 'me', [p('bob', 0, 5), p('carol', 0, 0)])).toMatchObject({
			deliveredTo: 1,
			readBy: 1
		});
	});

	it('stays sent when nobody else is in the conversation', () => {
		expect(deriveStatus(1, 'me', [p('me', 1, 1)])).toEqual({
			status: 'sent',
			readBy: 0,
			deliveredTo: 0,
			recipients: 0
		});
	});
});

describe('aggregateReactions', () => {
	it('groups by tag in first-use order with counts, users and mine', () => {
		const rows = [
			{ message_id: 'm', user_id: 'bob', tag: 't👍', emoji: '👍' },
			{ message_id: 'm', user_id: 'me', tag: 't❤️', emoji: '❤️' },
			{ message_id: 'm', user_id: 'me', tag: 't👍', emoji: '👍' },
			{ message_id: 'm', user_id: 'bob', tag: 't👍', emoji: '👍' }
		];
		expect(aggregateReactions(rows, 'me')).toEqual([
			{ emoji: '👍', tag: 't👍', count: 2, mine: true, users: ['bob', 'me'] },
			{ emoji: '❤️', tag: 't❤️', count: 1, mine: true, users: ['me'] }
		]);
		expect(aggregateReactions(rows, 'carol').every((r) => !r.mine)).toBe(true);
		expect(aggregateReactions([], 'me')).toEqual([]);
	});
});

describe('orderIds', () => {
	it('orders stored ids by seq, keeps optimistic ones last in order, drops duplicates', () => {
		const seqs: Record<string, number | null> = { a: 3, b: 1, p1: null, c: 2, p2: null };
		expect(orderIds(['p1', 'a', 'b', 'p2', 'c', 'a'], (id) => seqs[id])).toEqual(['b', 'c', 'a', 'p1', 'p2']);
	});
});

describe('normalisers', () => {
	it('reads bigint seqs sent as strings, JSON-encoded encryption and {record} wrappers', () => {
		const row = normalizeMessage({
			record: {
				id: 'm1',
				conversation_id: 'c1',
				sender_id: 'u1',
				seq: '42',
				content_encrypted: 'x',
				encryption: '{"epoch":2,"nonce":"n"}',
				client_id: 'k',
				created_at: '2030-01-01T00:00:00Z'
			}
		});
		expect(row).toMatchObject({
			id: 'm1',
			seq: 42,
			encryption: { epoch: 2, nonce: 'n' },
			message_type: 'text',
			deleted_at: null
		});
	});

	it('reads participants with flat or nested profile fields', () => {
		expect(
			normalizeParticipant({ user_id: 'u', role: 'admin', last_read_seq: '3', username: 'ann' })
		).toMatchObject({
			user_id: 'u',
			role: 'admin',
			last_read_seq: 3,
			username: 'ann'
		});
		expect(
			normalizeParticipant({
				user_id: 'u',
				profile: { username: 'bo', display_name: 'Bo', public_key: 'pk' }
			})
		).toMatchObject({ username: 'bo', display_name: 'Bo', public_key: 'pk', role: 'member' });
	});

	it('names direct chats after the other person and groups by title', () => {
		const people = [
			normalizeParticipant({ user_id: 'me', username: 'me' }),
			normalizeParticipant({ user_id: 'b', username: 'bob', display_name: 'Bob' })
		];
		expect(conversationName({ kind: 'direct', title: null }, people, 'me')).toBe('Bob');
		expect(conversationName({ kind: 'group', title: 'Team' }, people, 'me')).toBe('Team');
	});
});

describe('attachments', () => {
	const content = JSON.stringify({
		name: 'plan.pdf',
		mime: 'application/pdf',
		size: 2048,
		caption: 'the plan'
	});

	it('reads the encrypted content of image, file and voice messages, never of text', () => {
		expect(attachmentContent('file', content)).toEqual({
			name: 'plan.pdf',
			mime: 'application/pdf',
			size: 2048,
			caption: 'the plan'
		});
		expect(attachmentContent('text', content)).toBeNull();
		expect(attachmentContent('image', null)).toBeNull();
		expect(attachmentContent('image', 'not json')).toBeNull();
		expect(attachmentContent('voice', '{}')).toEqual({
			name: 'attachment',
			mime: 'application/octet-stream',
			size: 0,
			caption: ''
		});
	});

	it('reads the attachment reference from an object or a JSON string, and refuses partial ones', () => {
		const ref = { path: 'c/1', nonce: 'bm9uY2U=', epoch: 2, size: 2064 };
		expect(attachmentRef(ref)).toEqual(ref);
		expect(attachmentRef(JSON.stringify(ref))).toEqual(ref);
		expect(attachmentRef({ path: 'c/1', nonce: 'n' })).toEqual({
			path: 'c/1',
			nonce: 'n',
			epoch: 1,
			size: 0
		});
		expect(attachmentRef({ path: 'c/1' })).toBeNull();
		expect(attachmentRef(null)).toBeNull();
	});

	it('shows pictures and sound inline and offers the rest as files', () => {
		expect(attachmentKind('image/png')).toBe('image');
		expect(attachmentKind('image/svg+xml')).toBe('file');
		expect(attachmentKind('audio/webm;codecs=opus')).toBe('voice');
		expect(attachmentKind('application/zip')).toBe('file');
	});

	it('previews attachments in one line, with the caption', () => {
		expect(previewText('text', 'hello')).toBe('hello');
		expect(previewText('file', content)).toBe('📎 plan.pdf: the plan');
		expect(previewText('image', JSON.stringify({ name: 'a.png' }))).toBe('📷 Photo');
		expect(previewText('voice', JSON.stringify({ name: 'Voice message' }))).toBe('🎤 Voice message');
		expect(previewText('image', 'garbage')).toBeNull();
		expect(previewText('text', null)).toBeNull();
	});

	it('formats sizes for people', () => {
		expect(formatBytes(12)).toBe('12 B');
		expect(formatBytes(340 * 1024)).toBe('340 KB');
		expect(formatBytes(1.25 * 1024 * 1024)).toBe('1.3 MB');
	});
});

describe('pendingMessageView', () => {
	it('shows a new send at once, and an outbox entry as it was left (failed, with its error)', () => {
		const fresh = pendingMessageView({
			clientId: 'k1',
			conversationId: 'c1',
			senderId: 'me',
			createdAt: Date.UTC(2026, 0, 1),
			type: 'text',
			text: 'hi',
			replyTo: null
		});
		expect(fresh).toMatchObject({
			id: 'k1',
			client_id: 'k1',
			seq: null,
			status: 'pending',
			text: 'hi',
			undecryptable: false
		});
		expect(fresh.created_at).toBe('2026-01-01T00:00:00.000Z');
		expect(fresh).not.toHaveProperty('error');
		const restored = pendingMessageView({
			clientId: 'k2',
			conversationId: 'c1',
			senderId: 'me',
			createdAt: 0,
			type: 'text',
			text: null,
			contentEncrypted: 'sealed',
			encryption: { epoch: 2, nonce: 'n' },
			replyTo: 'm0',
			failed: true,
			error: 'Conversation not found'
		});
		expect(restored).toMatchObject({
			status: 'failed',
			error: 'Conversation not found',
			undecryptable: true,
			content_encrypted: 'sealed',
			reply_to_id: 'm0'
		});
	});
});
