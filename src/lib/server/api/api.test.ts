import { describe, expect, test } from 'vitest';
import { ChatError, unwrap } from '#lib/chat/errors.ts';
import { ApiError, errorResponse, fromChatError, fromPostgrest } from './errors.ts';
import {
	conversationsQuery,
	editMessageBody,
	groupBody,
	messagesQuery,
	reactionBody,
	reactionTagBody,
	sendMessageBody,
	statusBody
} from './schemas.ts';
import { bearerToken } from './token.ts';

const ID = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';

describe('fromPostgrest', () => {
	test('PTxyz refusals keep their status, machine code (details) and message', () => {
		const cases: [string, number, string][] = [
			['PT400', 400, 'ValidationError'],
			['PT403', 403, 'ForbiddenError'],
			['PT404', 404, 'NotFoundError'],
			['PT409', 409, 'ConflictError']
		];
		for (const [code, status, kind] of cases) {
			const e = fromPostgrest({ code, details: 'some_code', message: 'Readable.', hint: null }, status);
			expect({ kind: e.kind, status: e.status, code: e.code, message: e.message }).toEqual({
				kind,
				status,
				code: 'some_code',
				message: 'Readable.'
			});
		}
	});

	test('expired and invalid JWTs are 401s', () => {
		expect(fromPostgrest({ code: 'PGRST303', message: 'JWT expired' }, 401)).toMatchObject({
			kind: 'UnauthorizedError',
			code: 'token_expired'
		});
		expect(fromPostgrest({ code: 'PGRST301', message: 'invalid JWT' }, 401)).toMatchObject({
			kind: 'UnauthorizedError',
			code: 'invalid_token'
		});
		expect(fromPostgrest({ message: 'no' }, 401).status).toBe(401);
	});

	test('SQLSTATEs map to the nearest kind; anything unknown is a 500 that reveals nothing', () => {
		expect(fromPostgrest({ code: '42501', message: 'permission denied for table x' }, 403)).toMatchObject({
			kind: 'ForbiddenError',
			code: 'forbidden',
			message: 'You are not allowed to do that.'
		});
		expect(fromPostgrest({ code: '22P02', message: 'invalid input syntax for type uuid' }, 400).kind).toBe(
			'ValidationError'
		);
		expect(fromPostgrest({ code: '23505', message: 'duplicate' }, 409).kind).toBe('ConflictError');
		const unknown = fromPostgrest({ code: 'XX000', message: 'internal detail: table secret_stuff' }, 500);
		expect(unknown).toMatchObject({ kind: 'InternalError', code: 'internal' });
		expect(unknown.message).not.toContain('secret_stuff');
	});

	test('details that are not machine codes are not used as codes', () => {
		const e = fromPostgrest({ code: 'PT404', details: 'Key (id)=(x) is missing', message: 'Missing.' }, 404);
		expect(e.code).toBe('notfound');
	});
});

describe('errorResponse', () => {
	test('writes {error: {kind, code, message}} with the status', async () => {
		const response = errorResponse(new ApiError('ConflictError', 'message_deleted', 'Gone.'));
		expect(response.status).toBe(409);
		expect(await response.json()).toEqual({
			error: { kind: 'ConflictError', code: 'message_deleted', message: 'Gone.' }
		});
	});

	test('a ChatError from the RPC seam answers as the PostgREST response it came from', async () => {
		const responses = [
			{ error: { code: 'PT409', details: 'message_deleted', message: 'Gone.', hint: null }, status: 409 },
			{ error: { code: '42501', message: 'permission denied for function x' }, status: 401 },
			{ error: { code: '23505', details: 'Key (id)=(x) exists', message: 'duplicate' }, status: 409 },
			{ error: { code: '', message: 'TypeError: fetch failed' }, status: 0 }
		];
		for (const { error, status } of responses) {
			let thrown: unknown;
			try {
				unwrap({ data: null, error, status });
			} catch (e) {
				thrown = e;
			}
			expect(thrown).toBeInstanceOf(ChatError);
			expect(fromChatError(thrown as ChatError)).toEqual(fromPostgrest(error, status));
		}
		const response = errorResponse(new ChatError('Gone.', 409, 'message_deleted', 'PT409'));
		expect(response.status).toBe(409);
		expect(await response.json()).toEqual({
			error: { kind: 'ConflictError', code: 'message_deleted', message: 'Gone.' }
		});
	});

	test('401s carry WWW-Authenticate; unexpected errors become an opaque 500', async () => {
		expect(
			errorResponse(new ApiError('UnauthorizedError', 'missing_token', 'x')).headers.get('www-authenticate')
		).toBe('Bearer');
		const original = console.error;
		console.error = () => {};
		try {
			const response = errorResponse(new Error('database password is hunter2'));
			expect(response.status).toBe(500);
			expect(JSON.stringify(await response.json())).not.toContain('hunter2');
		} finally {
			console.error = original;
		}
	});
});

describe('bearerToken', () => {
	const request = (authorization?: string) =>
		new Request('http://x/api', { headers: authorization ? { authorization } : {} });

	const segment = (claims: object) => Buffer.from(JSON.stringify(claims)).toString('base64url');
	const jwt = (claims: object) => `eyJhbGciOiJIUzI1NiJ9.${segment(claims)}.c2ln`;
	const now = Date.UTC(2026, 10, 24);

	test('reads a JWT from Authorization: Bearer', () => {
		const token = jwt({ sub: ID, exp: now / 1000 + 60 });
		expect(bearerToken(request(`Bearer ${token}`), now)).toBe(token);
		expect(bearerToken(request(`bearer ${token}`), now)).toBe(token);
		expect(bearerToken(request(`Bearer ${jwt({ sub: ID })}`), now)).toBe(jwt({ sub: ID }));
	});

	test('an expired token is a 401 token_expired before anything else is looked at', () => {
		try {
			bearerToken(request(`Bearer ${jwt({ sub: ID, exp: now / 1000 - 1 })}`), now);
			expect.unreachable();
		} catch (e) {
			expect(e).toMatchObject({ kind: 'UnauthorizedError', code: 'token_expired' });
		}
	});

	test('missing or malformed headers are 401s', () => {
		for (const [header, code] of [
			[undefined, 'missing_token'],
			['Basic dXNlcjpwYXNz', 'invalid_token'],
			['Bearer', 'invalid_token'],
			['Bearer not-a-jwt', 'invalid_token'],
			['Bearer aaa.bbb.ccc', 'invalid_token'],
			[`Bearer aaa.${Buffer.from('"text"').toString('base64url')}.ccc`, 'invalid_token']
		] as const) {
			try {
				bearerToken(request(header));
				expect.unreachable();
			} catch (e) {
				expect(e).toMatchObject({ kind: 'UnauthorizedError', code });
			}
		}
	});
});

describe('schemas', () => {
	test('group bodies: trimmed title, uuid members, no unknown keys', () => {
		expect(groupBody.parse({ title: '  Trip ', participant_ids: [ID] })).toEqual({
			title: 'Trip',
			participant_ids: [ID]
		});
		expect(groupBody.parse({ title: 'x' }).participant_ids).toEqual([]);
		for (const bad of [
			{ title: '   ' },
			{ title: 'x', participant_ids: ['nope'] },
			{ title: 'x', admin: true },
			null
		]) {
			expect(groupBody.safeParse(bad).success).toBe(false);
		}
	});

	test('message bodies', () => {
		expect(sendMessageBody.safeParse({ conversation_id: ID, content_encrypted: 'c' }).success).toBe(true);
		expect(
			sendMessageBody.safeParse({
				conversation_id: ID,
				content_encrypted: 'c',
				message_type: 'image',
				client_id: ID,
				attachment: { path: 'x' },
				encryption: { epoch: 2, nonce: 'n' },
				mentions: [ID]
			}).success
		).toBe(true);
		for (const bad of [
			{ conversation_id: ID, content_encrypted: 'c', mentions: ['bob'] },
			{ conversation_id: ID, content_encrypted: 'c', mentions: Array.from({ length: 51 }, () => ID) },
			{ content_encrypted: 'c' },
			{ conversation_id: 'x', content_encrypted: 'c' },
			{ conversation_id: ID, content_encrypted: 'c', message_type: 'gif' },
			{ conversation_id: ID, content_encrypted: 'c', encryption: { epoch: 0, nonce: 'n' } },
			{ conversation_id: ID, content_encrypted: 'c', sender_id: ID }
		]) {
			expect(sendMessageBody.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
		}
		expect(editMessageBody.safeParse({ content_encrypted: '' }).success).toBe(false);
		expect(editMessageBody.safeParse({ content_encrypted: 'c', mentions: [ID] }).success).toBe(true);
		expect(editMessageBody.safeParse({ content_encrypted: 'c', mentions: 'everyone' }).success).toBe(false);
		expect(statusBody.safeParse({ status: 'seen' }).success).toBe(false);
		// Reactions are sealed: a plaintext emoji is refused, the sealed fields must be base64.
		expect(reactionBody.safeParse({ emoji: '👍' }).success).toBe(false);
		const sealed = { tag: 'dGFn', emoji_sealed: 'c2VhbGVk', nonce: 'bm9uY2U=', epoch: 1, sig: 'c2ln' };
		expect(reactionBody.safeParse(sealed).success).toBe(true);
		expect(reactionBody.safeParse({ ...sealed, emoji: '👍' }).success).toBe(false);
		expect(reactionBody.safeParse({ ...sealed, tag: '👍' }).success).toBe(false);
		expect(reactionBody.safeParse({ ...sealed, epoch: 0 }).success).toBe(false);
		expect(reactionTagBody.safeParse({ tag: 'dGFn' }).success).toBe(true);
		expect(reactionTagBody.safeParse({ emoji: '👍' }).success).toBe(false);
	});

	test('message queries: limit 1..100 (default 50), offset alone', () => {
		expect(messagesQuery.parse({})).toEqual({ limit: 50 });
		expect(messagesQuery.parse({ limit: '10', before: '71' })).toEqual({ limit: 10, before: 71 });
		expect(messagesQuery.parse({ offset: '20' })).toEqual({ limit: 50, offset: 20 });
		for (const bad of [
			{ limit: '0' },
			{ limit: '101' },
			{ limit: 'ten' },
			{ before: '-1' },
			{ offset: '1', after: '2' }
		]) {
			expect(messagesQuery.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
		}
	});

	test('conversation queries: ISO cursor with an id', () => {
		expect(
			conversationsQuery.parse({ before_activity: '2026-11-24T01:00:00.123456+00:00', before_id: ID })
		).toMatchObject({ limit: 30, before_id: ID });
		expect(conversationsQuery.safeParse({ before_id: ID }).success).toBe(false);
		expect(conversationsQuery.safeParse({ before_activity: 'yesterday' }).success).toBe(false);
	});
});
